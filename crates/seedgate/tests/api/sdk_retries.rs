//! Stock SDKs retry a create by themselves when its answer is lost. A proxy in front of seedgate
//! forwards the first create (seedgate makes the task) and answers the SDK 502; the SDK retries.
//! The openai SDKs mark the retry (`x-stainless-retry-count: 1`), so seedgate answers it with
//! the task the first try made: one task, one charge. The Ark SDKs send nothing that tells a
//! retry apart, so an `Idempotency-Key` is the way, and the README says how to send one.
//!
//! Needs the SDKs (`.ci/run` installs them): `pip install "openai>=2.2,<4"
//! "volcengine-ark-runtime>=5.0.54,<6" "byteplus-python-sdk-v2[ark]>=3.0.63,<4"` and
//! `npm install --prefix /tmp/seedgate-sdknode "openai@>=6.49 <7"` (or `SEEDGATE_SDK_NODE_MODULES`
//! naming another `node_modules`). Without them these tests fail; they never skip.

use crate::helpers::{isolate_from_environment, spawn_app, TestApp};
use crate::upstreams::{Fault, FaultProxy};
use axum::http::Method;
use serde_json::Value;
use std::path::PathBuf;

const OPENAI_CREATE: &str = "/v1/videos";
const ARK_CREATE: &str = "/api/v3/contents/generations/tasks";

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/sdk_retries/{name}"))
}

fn node_modules() -> String {
    std::env::var("SEEDGATE_SDK_NODE_MODULES")
        .unwrap_or_else(|_| "/tmp/seedgate-sdknode/node_modules".into())
}

/// Runs one SDK script against `base` (through the proxy); returns the task id it printed.
async fn run_sdk(
    program: &str,
    args: Vec<String>,
    base: &str,
    key: &str,
    idem: Option<&str>,
) -> String {
    let mut command = std::process::Command::new(program);
    command
        .args(&args)
        .env("SDK_BASE_URL", base)
        .env("SDK_API_KEY", key)
        .env("SDK_NODE_MODULES", node_modules())
        .env("PYTHONUNBUFFERED", "1");
    match idem {
        Some(k) => command.env("SDK_IDEMPOTENCY_KEY", k),
        None => command.env_remove("SDK_IDEMPOTENCY_KEY"),
    };
    isolate_from_environment(&mut command);
    let what = format!("{program} {}", args.join(" "));
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "{what} failed ({}); the SDKs are installed by .ci/run (see this file's header)\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let line: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    line["id"].as_str().expect("id").to_string()
}

/// The ids of every task of `key`, and its balance.
async fn tasks_and_balance(app: &TestApp, key: &str) -> (Vec<String>, i64) {
    let tasks = crate::upstreams::tasks_of(app, key).await;
    (
        tasks.iter().map(|t| t.id.to_string()).collect(),
        app.balance_of(key).await,
    )
}

/// One create through an SDK whose first answer is lost; returns (the id the SDK got, every
/// task seedgate holds, credits spent, creates that reached seedgate).
async fn create_losing_the_first_answer(
    path: &str,
    program: &str,
    args: Vec<String>,
    idem: Option<&str>,
) -> (String, Vec<String>, i64, usize) {
    let app = spawn_app().await;
    let key = app.create_key("sdk", 10_000).await;
    let proxy = FaultProxy::start(&app.base).await;
    proxy.rule(Method::POST, path, 1, Fault::LoseAnswer(502));
    let id = run_sdk(program, args, &proxy.base, &key, idem).await;
    let (tasks, balance) = tasks_and_balance(&app, &key).await;
    (id, tasks, 10_000 - balance, proxy.count(Method::POST, path))
}

async fn openai_sdk_retry_is_answered_with_the_first_task(program: &str, file: &str) {
    let (id, tasks, spent, sent) = create_losing_the_first_answer(
        OPENAI_CREATE,
        program,
        vec![script(file).display().to_string()],
        None,
    )
    .await;
    assert!(sent >= 2, "the SDK retried ({sent} creates)");
    assert_eq!(tasks, [id], "one task, and it is the one the SDK got");
    // 720p × 4 s at $0.1025/s.
    assert_eq!(spent, 410, "charged once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_python_sdk_retry_makes_no_second_task() {
    openai_sdk_retry_is_answered_with_the_first_task("python3", "openai_retry.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_node_sdk_retry_makes_no_second_task() {
    openai_sdk_retry_is_answered_with_the_first_task("node", "openai_retry.mjs").await;
}

/// The Ark SDKs mark nothing: with an Idempotency-Key (the README's one line) a retry is one
/// task; without one, the retry is a second task, which nothing in the request tells apart.
async fn ark_sdk(sdk: &str) {
    let args = |sdk: &str| {
        vec![
            script("ark_retry.py").display().to_string(),
            "--sdk".to_string(),
            sdk.to_string(),
        ]
    };
    let (id, tasks, spent, sent) =
        create_losing_the_first_answer(ARK_CREATE, "python3", args(sdk), Some("ark-sdk-retry-1"))
            .await;
    assert!(sent >= 2, "{sdk}: the SDK retried ({sent} creates)");
    assert_eq!(tasks, [id], "{sdk}: one task with an Idempotency-Key");
    // Ark's defaults: 720p, 5 s.
    assert_eq!(spent, 513, "{sdk}: charged once");

    let (_, tasks, _, sent) =
        create_losing_the_first_answer(ARK_CREATE, "python3", args(sdk), None).await;
    assert_eq!(
        tasks.len(),
        sent,
        "{sdk}: without a key every try is a new task (this is why the README asks for one)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_volcengine_ark_sdk_needs_an_idempotency_key_and_then_makes_one_task() {
    ark_sdk("volcengine").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_byteplus_ark_sdk_needs_an_idempotency_key_and_then_makes_one_task() {
    ark_sdk("byteplus").await;
}

//! `seedgate generate`, the command-line client: the real binary against a served app, over
//! HTTP only, and its exit codes.

use crate::helpers::{isolate_from_environment, spawn_app, TestApp};
use crate::upstreams::{tasks_of, Fault, FaultProxy};
use axum::http::Method;
use seedgate_service::auth;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// Runs `seedgate generate <args> --url <base> --key <key>` without blocking the app's runtime.
async fn generate(app: &TestApp, args: &[&str]) -> Output {
    generate_with_key(app, &app.key, args).await
}

async fn generate_with_key(app: &TestApp, key: &str, args: &[&str]) -> Output {
    generate_at(&app.base, key, args).await
}

async fn generate_at(base: &str, key: &str, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_seedgate"));
    isolate_from_environment(&mut command);
    command
        .arg("generate")
        .args(args)
        .args(["--url", base, "--key", key])
        .env_remove("SEEDGATE_URL")
        .env_remove("SEEDGATE_KEY")
        .env("SEEDGATE_LOG__FILTER", "warn")
        .stdin(std::process::Stdio::null());
    tokio::process::Command::from(command)
        .output()
        .await
        .expect("run seedgate generate")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The single JSON object `--json` prints.
fn report(o: &Output) -> Value {
    let out = stdout(o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON object on stdout: {out:?}");
    serde_json::from_str(lines[0]).expect("--json prints JSON")
}

fn ffprobe_available() -> bool {
    std::process::Command::new("ffprobe")
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The container duration ffprobe reads, or None where ffprobe is not installed (CI sets
/// SEEDGATE_REQUIRE_FFPROBE=1, so there it must be).
fn ffprobe_duration(path: &Path) -> Option<f64> {
    if !ffprobe_available() {
        assert!(
            std::env::var("SEEDGATE_REQUIRE_FFPROBE").ok().as_deref() != Some("1"),
            "ffprobe is required (SEEDGATE_REQUIRE_FFPROBE=1) but not installed"
        );
        eprintln!("ffprobe not installed: the duration is not checked");
        return None;
    }
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    Some(
        v["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .expect("a duration"),
    )
}

/// A `width`×`height` RGB PNG (first frames need 300 px edges at least).
fn write_png(path: &Path, width: u32, height: u32) {
    let file = std::fs::File::create(path).expect("create png");
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("png header");
    let mut data = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            data.extend_from_slice(&[(x % 256) as u8, (y % 256) as u8, 128]);
        }
    }
    writer.write_image_data(&data).expect("png data");
}

async fn account_of(app: &TestApp, key: &str) -> seedgate_core::AccountId {
    app.store
        .find_credential(&auth::hash_key(key))
        .await
        .expect("lookup")
        .expect("key exists")
        .account
        .id
}

#[tokio::test]
async fn wait_downloads_the_video() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("out.mp4");
    let out_arg = out_path.to_str().expect("utf-8 path");
    let out = generate(
        &app,
        &[
            "a red fox",
            "--duration",
            "4",
            "--resolution",
            "480p",
            "--wait",
            "-o",
            out_arg,
        ],
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), out_arg, "the path written on stdout");
    let bytes = std::fs::read(&out_path).expect("the video was written");
    assert_eq!(bytes.get(4..8), Some(&b"ftyp"[..]), "an MP4");
    assert!(
        !dir.path().join("out.mp4.part").exists(),
        "the partial file is renamed"
    );
    if let Some(duration) = ffprobe_duration(&out_path) {
        assert!((duration - 4.0).abs() <= 0.1, "duration {duration}");
    }
}

#[tokio::test]
async fn json_reports_the_finished_task() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("fox.mp4");
    let out = generate(
        &app,
        &[
            "a red fox",
            "--duration",
            "4",
            "--resolution",
            "480p",
            "--json",
            "-o",
            out_path.to_str().expect("utf-8"),
        ],
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = report(&out);
    let id = r["id"].as_str().expect("id");
    assert!(id.starts_with("task_"), "{r}");
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["exit_code"], 0);
    assert!(r["error"].is_null(), "{r}");
    assert_eq!(r["output"].as_str(), out_path.to_str());
    assert!(
        r["video_url"]
            .as_str()
            .is_some_and(|u| u.contains("/media/")),
        "{r}"
    );
    let estimate: Value = app
        .client
        .post(app.url("/api/v1/videos/estimate"))
        .bearer_auth(&app.key)
        .json(&json!({"model":"seedance-2.0-mini","prompt":"a red fox","duration":4,"resolution":"480p"}))
        .send()
        .await
        .expect("estimate")
        .json()
        .await
        .expect("json");
    assert_eq!(r["cost"], estimate["credits"], "{r}");
    assert_eq!(r["charged"], estimate["credits"], "{r}");
    let task = app.wait_for_task(id).await;
    assert_eq!(task["status"], "completed");
    assert!(out_path.is_file());

    // Without --wait: the id, and the task goes on.
    let out = generate(&app, &["a red fox", "--duration", "4", "--json"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = report(&out);
    assert_eq!(r["status"], "processing", "{r}");
    assert!(r["cost"].as_u64().is_some_and(|c| c > 0), "{r}");
    let id = r["id"].as_str().expect("id");
    assert_eq!(app.wait_for_task(id).await["status"], "completed");

    let out = generate(&app, &["a red fox", "--duration", "4"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    assert!(id.starts_with("task_"), "the id alone on stdout: {id:?}");
}

#[tokio::test]
async fn local_first_frame_is_uploaded_and_referenced() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let frame = dir.path().join("frame.png");
    write_png(&frame, 640, 360);
    let out = generate(
        &app,
        &[
            "the scene comes alive",
            "--first-frame",
            frame.to_str().expect("utf-8"),
            "--duration",
            "4",
            "--resolution",
            "480p",
            "--json",
        ],
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = report(&out);
    let id = r["id"].as_str().expect("id").to_string();
    let account = account_of(&app, &app.key).await;
    let task = app
        .store
        .get_task(&seedgate_core::TaskId::from_string(id.clone()), &account)
        .await
        .expect("get")
        .expect("task");
    let request = serde_json::to_value(&task.request).expect("request as JSON");
    let first = request["first_frame_url"].as_str().expect("a first frame");
    assert!(
        first.contains("/media/assets/asset_"),
        "the uploaded asset is the first frame: {first}"
    );
    let finished = app.wait_for_task(&id).await;
    assert_eq!(finished["status"], "completed", "{finished}");

    // A missing local file is refused before anything is sent.
    let balance = app.balance_of(&app.key).await;
    let out = generate(
        &app,
        &[
            "x",
            "--reference-image",
            dir.path().join("nope.png").to_str().expect("utf-8"),
        ],
    )
    .await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("nope.png"), "{}", stderr(&out));
    assert_eq!(app.balance_of(&app.key).await, balance, "nothing submitted");

    // So is an output file in a directory that does not exist (exit 7).
    let out = generate(
        &app,
        &[
            "x",
            "-o",
            dir.path()
                .join("no/such/dir/out.mp4")
                .to_str()
                .expect("utf-8"),
        ],
    )
    .await;
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert_eq!(app.balance_of(&app.key).await, balance, "nothing submitted");
}

#[tokio::test]
async fn estimate_prints_the_cost_and_submits_nothing() {
    let app = spawn_app().await;
    let body = json!({"model":"seedance-2.0-mini","prompt":"a lighthouse","duration":8,"resolution":"720p","aspect_ratio":"9:16"});
    let estimate: Value = app
        .client
        .post(app.url("/api/v1/videos/estimate"))
        .bearer_auth(&app.key)
        .json(&body)
        .send()
        .await
        .expect("estimate")
        .json()
        .await
        .expect("json");
    let credits = estimate["credits"].as_u64().expect("credits");
    let balance = app.balance_of(&app.key).await;
    let args = [
        "a lighthouse",
        "--duration",
        "8",
        "--resolution",
        "720p",
        "--ratio",
        "9:16",
        "--estimate",
    ];
    let out = generate(&app, &args).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), credits.to_string());

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = generate(&app, &json_args).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = report(&out);
    assert_eq!(r["status"], "estimated");
    assert_eq!(r["cost"], credits);
    assert!(r["id"].is_null(), "{r}");
    assert_eq!(
        r["estimate"]["billable_seconds"],
        estimate["billable_seconds"]
    );

    assert_eq!(app.balance_of(&app.key).await, balance, "no hold: no task");
    let account = account_of(&app, &app.key).await;
    let page = app
        .client
        .get(app.url("/api/v1/account"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("account");
    assert!(page.status().is_success());
    let view: Value = page.json().await.expect("json");
    assert_eq!(view["account"]["in_flight"], 0, "{view}");
    assert_eq!(view["account_id"], account.as_str());
}

#[tokio::test]
async fn refusals_exit_3_with_the_servers_message() {
    let app = spawn_app().await;
    let balance = app.balance_of(&app.key).await;
    let direct: Value = app
        .submit(&json!({"model":"seedance-2.0-mini","prompt":"a red fox","duration":99}))
        .await
        .json()
        .await
        .expect("json");
    let message = direct["error"]["message"].as_str().expect("message");

    let out = generate(&app, &["a red fox", "--duration", "99", "--wait"]).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(message),
        "the server's message {message:?} in {}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));

    let out = generate(&app, &["a red fox", "--duration", "99", "--json"]).await;
    assert_eq!(code(&out), 3);
    let r = report(&out);
    assert_eq!(r["status"], "refused");
    assert_eq!(r["error"]["message"], message);
    assert_eq!(r["error"]["code"], direct["error"]["code"]);
    assert_eq!(r["error"]["http_status"], 400);
    assert!(r["id"].is_null());

    let out = generate_with_key(&app, "sg_live_not_a_key", &["a red fox", "--wait"]).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("code 1000"), "{}", stderr(&out));

    // Insufficient credits is a refusal too.
    let poor = app.create_key("poor", 1).await;
    let out = generate_with_key(&app, &poor, &["a red fox", "--duration", "4", "--json"]).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(report(&out)["error"]["code"], 30001);

    assert_eq!(app.balance_of(&app.key).await, balance);
}

#[tokio::test]
async fn a_failed_task_exits_4_and_a_slow_one_5() {
    let app = spawn_app().await;
    let balance = app.balance_of(&app.key).await;
    let out = generate(
        &app,
        &["a red fox [[seedgate:fail]]", "--duration", "4", "--wait"],
    )
    .await;
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("failed"), "{}", stderr(&out));

    let out = generate(
        &app,
        &[
            "a red fox [[seedgate:fail]]",
            "--duration",
            "4",
            "--wait",
            "--json",
        ],
    )
    .await;
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let r = report(&out);
    assert_eq!(r["status"], "failed", "{r}");
    assert!(
        r["error"]["code"].as_u64().is_some_and(|c| c >= 80000),
        "{r}"
    );
    assert_eq!(r["charged"], 0, "refunded: {r}");
    assert_eq!(app.balance_of(&app.key).await, balance, "both refunded");

    let started = Instant::now();
    let out = generate(
        &app,
        &[
            "a red fox [[seedgate:delay:8000]]",
            "--duration",
            "4",
            "--timeout",
            "1",
            "--json",
            "--wait",
        ],
    )
    .await;
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "gave up after about 1 s: {:?}",
        started.elapsed()
    );
    let r = report(&out);
    assert_eq!(r["status"], "timed_out", "{r}");
    let id = r["id"].as_str().expect("id");
    assert_eq!(
        app.wait_for_task(id).await["status"],
        "completed",
        "the task goes on on the server"
    );
}

#[tokio::test]
async fn an_unreachable_server_exits_6() {
    // A port nothing listens on: bind one, then let it go.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_seedgate"));
    isolate_from_environment(&mut command);
    let out = tokio::process::Command::from(command)
        .args(["generate", "x", "--json"])
        .env("SEEDGATE_URL", format!("http://127.0.0.1:{port}"))
        .env("SEEDGATE_KEY", "sg_live_x")
        .env("SEEDGATE_LOG__FILTER", "warn")
        .output()
        .await
        .expect("run");
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert_eq!(report(&out)["status"], "error");
}

#[tokio::test]
async fn a_lost_submit_answer_is_retried_without_a_second_task() {
    let app = spawn_app().await;
    let key = app.create_key("cli", 10_000).await;
    let proxy = FaultProxy::start(&app.base).await;
    let submit = "/api/v1/videos/generations";
    // The first submit reaches seedgate (the task is made) but its answer is lost: a 502.
    proxy.rule(Method::POST, submit, 1, Fault::LoseAnswer(502));
    let out = generate_at(
        &proxy.base,
        &key,
        &[
            "a red fox",
            "--duration",
            "4",
            "--resolution",
            "480p",
            "--json",
        ],
    )
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = report(&out);
    let id = r["id"].as_str().expect("id").to_string();
    assert!(proxy.count(Method::POST, submit) >= 2, "the client retried");
    let tasks: Vec<String> = tasks_of(&app, &key)
        .await
        .iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(
        tasks,
        [id],
        "one task, the one the client was answered with"
    );
    assert_eq!(
        10_000 - app.balance_of(&key).await,
        r["cost"].as_i64().expect("cost"),
        "held once"
    );
}

//! The operator's task actions over `/admin/v1/tasks`: search across accounts (each filter
//! narrows), cancel of a queued task, of a running local render and of a running upstream job
//! (cancelled upstream too), manual refund exactly once, callback redelivery; every write in
//! the audit log, and `ledger verify` clean after all of it.

use crate::callbacks::{quick_callbacks, submit_with_callback, Receiver};
use crate::crash_recovery::free_port;
use crate::helpers::{spawn_app_with, TestApp};
use crate::upstreams::FaultProxy;
use axum::http::Method as HttpMethod;
use reqwest::{Method, StatusCode};
use seedgate_core::clock::SystemClock;
use seedgate_core::ledger::EntryKind;
use seedgate_service::admin::AdminService;
use seedgate_service::auth;
use seedgate_store::{Actor, AdminRole};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MODEL: &str = "seedance-2.0-mini";

async fn admin_token(app: &TestApp, role: AdminRole) -> String {
    AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .create_admin_token(role.as_str(), role, &Actor("cli".into()))
        .await
        .expect("admin token")
        .token
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.expect("request");
    let status = r.status();
    let text = r.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, json)
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    call(app, Method::GET, path, Some(token), None).await
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    call(app, Method::POST, path, Some(token), Some(body)).await
}

/// The ids a search answers, asserting a 200.
async fn search(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let (status, page) = get(app, &format!("/admin/v1/tasks?{query}"), token).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_string())
        .collect()
}

fn assert_admin_error(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], code, "{}", answer.1);
}

/// Polls the admin view of a task until `done` holds.
async fn wait_admin(app: &TestApp, token: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (status, task) = get(app, &format!("/admin/v1/tasks/{id}"), token).await;
        assert_eq!(status, StatusCode::OK, "{task}");
        if done(&task) {
            return task;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{task}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ledger_amounts(app: &TestApp, id: &str, kind: EntryKind) -> Vec<i64> {
    app.store
        .ledger_dump()
        .await
        .expect("dump")
        .entries
        .into_iter()
        .filter(|e| e.task_id.as_deref() == Some(id) && e.kind == kind)
        .map(|e| e.amount)
        .collect()
}

async fn audit_actions(app: &TestApp, token: &str, id: &str) -> Vec<String> {
    let (status, audit) = get(app, &format!("/admin/v1/audit?target={id}"), token).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    audit["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect()
}

fn submit_body(model: &str, prompt: &str) -> Value {
    json!({"model": model, "prompt": prompt, "resolution": "480p", "aspect_ratio": "16:9",
           "duration": 4})
}

async fn submit(app: &TestApp, key: &str, model: &str, prompt: &str) -> String {
    let r = app.submit_as(key, &submit_body(model, prompt)).await;
    let status = r.status();
    let json: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{json}");
    json["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn operators_search_cancel_and_refund_tasks_of_any_account() {
    // One worker slot, held by an hour-long render: later tasks stay queued.
    let app = spawn_app_with(|s| {
        s.worker.concurrency = 1;
        s.worker.lease_seconds = 1.5;
        s.local.instant = true;
    })
    .await;
    let admin = admin_token(&app, AdminRole::Admin).await;
    let viewer = admin_token(&app, AdminRole::Viewer).await;
    let second = app.create_key("second", 10_000).await;
    let second_cred = app
        .store
        .find_credential(&auth::hash_key(&second))
        .await
        .expect("lookup")
        .expect("key");
    let first_before = app.balance_of(&app.key).await;

    let blocker = submit(&app, &app.key, MODEL, "held [[seedgate:delay:3600000]]").await;
    wait_admin(&app, &admin, &blocker, |t| t["status"] == "running").await;
    let old = submit(&app, &app.key, MODEL, "an old queued task").await;
    // Another account submits, naming the model by an alias.
    let other = submit(&app, &second, "seedance-2-mini", "a queued task").await;
    // Thirty-one minutes later (on the app's clock: a task made now is due only in 31 real
    // minutes, so it stays queued throughout), one more.
    app.clock.advance_ms(31 * 60_000);
    let fresh = submit(&app, &app.key, MODEL, "a fresh queued task").await;

    // Each filter narrows; newest first.
    assert_eq!(
        search(&app, &viewer, "").await,
        [
            fresh.as_str(),
            other.as_str(),
            old.as_str(),
            blocker.as_str()
        ]
    );
    assert_eq!(
        search(&app, &admin, "status=queued").await,
        [fresh.as_str(), other.as_str(), old.as_str()]
    );
    assert_eq!(
        search(&app, &admin, "status=running,succeeded").await,
        [blocker.as_str()]
    );
    let account = second_cred.account.id.to_string();
    assert_eq!(
        search(&app, &admin, &format!("account={account}")).await,
        [other.as_str()]
    );
    assert_eq!(
        search(&app, &admin, "account=second").await,
        [other.as_str()]
    );
    let key_id = second_cred.key.id.to_string();
    assert_eq!(
        search(&app, &admin, &format!("key={key_id}")).await,
        [other.as_str()]
    );
    assert_eq!(
        search(&app, &admin, "model=seedance-2-mini").await,
        [other.as_str()]
    );
    assert_eq!(
        search(&app, &admin, "queued_for_min=30").await,
        [other.as_str(), old.as_str()]
    );
    assert!(search(&app, &admin, "queued_for_min=32").await.is_empty());
    let created = |id: &str| {
        let id = id.to_string();
        let app = &app;
        let admin = admin.clone();
        async move {
            get(app, &format!("/admin/v1/tasks/{id}"), &admin).await.1["created_at_ms"]
                .as_i64()
                .expect("created_at_ms")
        }
    };
    let old_at = created(&old).await;
    let fresh_at = created(&fresh).await;
    assert_eq!(
        search(&app, &admin, &format!("created_from_ms={fresh_at}")).await,
        [fresh.as_str()]
    );
    assert_eq!(
        search(&app, &admin, &format!("created_before_ms={old_at}")).await,
        [blocker.as_str()]
    );
    assert_eq!(
        search(
            &app,
            &admin,
            &format!("created_from_ms={old_at}&created_before_ms={fresh_at}")
        )
        .await,
        [other.as_str(), old.as_str()]
    );
    assert!(search(&app, &admin, "status=running&account=second")
        .await
        .is_empty());
    // Pages of one follow the cursor.
    let (_, first) = get(&app, "/admin/v1/tasks?limit=1", &admin).await;
    assert_eq!(first["data"][0]["id"], fresh.as_str());
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let (_, next) = get(
        &app,
        &format!("/admin/v1/tasks?limit=1&cursor={cursor}"),
        &admin,
    )
    .await;
    assert_eq!(next["data"][0]["id"], other.as_str());
    // Rows carry the money and the request's shape.
    let (_, page) = get(&app, "/admin/v1/tasks?status=queued", &admin).await;
    let row = &page["data"][2];
    assert_eq!(row["id"], old.as_str());
    assert_eq!(row["resolution"], "480p");
    assert_eq!(row["duration_seconds"], 4);
    let price = row["cost"]["price"].as_i64().expect("price");
    assert!(price > 0);
    assert_eq!(row["cost"]["held"], price);
    assert_eq!(
        row["key_id"],
        app.store
            .find_credential(&auth::hash_key(&app.key))
            .await
            .expect("lookup")
            .expect("key")
            .key
            .id
            .as_str()
    );

    // Bad filters: a clear 400 (or 404 for an unknown account), never a 5xx.
    for (query, status, code) in [
        ("status=lost", StatusCode::BAD_REQUEST, "invalid_request"),
        ("limit=0", StatusCode::BAD_REQUEST, "invalid_request"),
        ("limit=501", StatusCode::BAD_REQUEST, "invalid_request"),
        ("limit=-1", StatusCode::BAD_REQUEST, "invalid_request"),
        ("cursor=nope", StatusCode::BAD_REQUEST, "invalid_request"),
        (
            "queued_for_min=x",
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        ("account=", StatusCode::BAD_REQUEST, "invalid_request"),
        ("colour=blue", StatusCode::BAD_REQUEST, "invalid_request"),
        ("account=nobody", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let answer = get(&app, &format!("/admin/v1/tasks?{query}"), &admin).await;
        assert_admin_error(&answer, status, code);
    }
    assert_admin_error(
        &call(&app, Method::GET, "/admin/v1/tasks", None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_admin_error(
        &call(&app, Method::GET, "/admin/v1/tasks", Some(&app.key), None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_admin_error(
        &get(
            &app,
            "/admin/v1/tasks/task_01kzzzzzzzzzzzzzzzzzzzzzzz",
            &admin,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_admin_error(
        &get(&app, "/admin/v1/tasks/..%2F..%2Fetc", &admin).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );

    // Cancel: a viewer may not; the queued task is cancelled and refunded once.
    let cancel = |id: &str| format!("/admin/v1/tasks/{id}/cancel");
    assert_admin_error(
        &post(&app, &cancel(&old), &viewer, json!({})).await,
        StatusCode::FORBIDDEN,
        "read_only",
    );
    let (status, cancelled) = post(&app, &cancel(&old), &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cost"]["refunded"], price);
    assert_admin_error(
        &post(&app, &cancel(&old), &admin, json!({})).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    // The running render too: its worker lets go and the queued task behind it runs.
    let (status, stopped) = post(&app, &cancel(&blocker), &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["status"], "cancelled");
    let done = wait_admin(&app, &admin, &other, |t| t["status"] == "succeeded").await;
    assert_eq!(done["cost"]["charged"], done["cost"]["price"]);
    let (status, _) = post(&app, &cancel(&fresh), &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.balance_of(&app.key).await,
        first_before,
        "all three refunded"
    );
    for id in [old.as_str(), blocker.as_str(), fresh.as_str()] {
        assert_eq!(ledger_amounts(&app, id, EntryKind::Release).await.len(), 1);
        assert!(ledger_amounts(&app, id, EntryKind::Settle).await.is_empty());
        assert_eq!(audit_actions(&app, &admin, id).await, ["task.cancel"]);
    }
    let blocker_now = get(&app, &format!("/admin/v1/tasks/{blocker}"), &admin)
        .await
        .1;
    assert_eq!(
        blocker_now["status"], "cancelled",
        "never settled afterwards"
    );

    // Refund by hand: checked, then exactly once.
    let refund = format!("/admin/v1/tasks/{other}/refund");
    let charged = done["cost"]["charged"].as_i64().expect("charged");
    assert_admin_error(
        &post(&app, &refund, &viewer, json!({"note": "x"})).await,
        StatusCode::FORBIDDEN,
        "read_only",
    );
    for bad in [
        json!({}),
        json!({"note": "  "}),
        json!({"note": "x", "credits": 0}),
        json!({"note": "x", "credits": charged + 1}),
        json!({"note": "x", "credits": "all"}),
        json!({"note": "x", "extra": 1}),
    ] {
        assert_admin_error(
            &post(&app, &refund, &admin, bad.clone()).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        );
    }
    assert_admin_error(
        &post(
            &app,
            &format!("/admin/v1/tasks/{old}/refund"),
            &admin,
            json!({"note": "x"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let second_before = app.balance_of(&second).await;
    let (status, refunded) = post(&app, &refund, &admin, json!({"note": "blurry result"})).await;
    assert_eq!(status, StatusCode::OK, "{refunded}");
    assert_eq!(refunded["credits"], charged);
    assert_eq!(refunded["balance"], second_before + charged);
    assert_eq!(app.balance_of(&second).await, second_before + charged);
    let (status, again) = post(&app, &refund, &admin, json!({"note": "again"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(
        ledger_amounts(&app, &other, EntryKind::Refund).await,
        [charged]
    );
    assert_eq!(
        app.balance_of(&second).await,
        10_000,
        "the whole price came back"
    );
    let seen = get(&app, &format!("/admin/v1/tasks/{other}"), &admin)
        .await
        .1;
    assert_eq!(seen["cost"]["charged"], 0);
    assert_eq!(seen["cost"]["refunded"], charged);
    assert_eq!(seen["manual_refund"]["note"], "blurry result");
    let (_, audit) = get(&app, &format!("/admin/v1/audit?target={other}"), &admin).await;
    let entries = audit["data"].as_array().expect("data");
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["action"], "task.refund");
    assert!(entries[0]["actor"]
        .as_str()
        .expect("actor")
        .starts_with("token:"));
    assert_eq!(entries[0]["after"]["refund"]["note"], "blurry result");

    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn a_final_callback_is_redelivered_by_an_operator() {
    let app = spawn_app_with(|s| {
        quick_callbacks(s);
        s.local.instant = true;
    })
    .await;
    let admin = admin_token(&app, AdminRole::Admin).await;
    let receiver = Receiver::start(vec![]).await;
    let id = submit_with_callback(&app, &receiver.url("/hook"), "a cat").await;
    receiver.wait_for(1, Duration::from_secs(30)).await;
    let path = format!("/admin/v1/tasks/{id}/callbacks/redeliver");
    let (status, answer) = post(&app, &path, &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["state"], "pending");
    let got = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(
        got[0].headers.get("webhook-id"),
        got[1].headers.get("webhook-id"),
        "the same callback again"
    );
    assert_eq!(
        audit_actions(&app, &admin, &id).await,
        ["task.callback_redeliver"]
    );
    // A task without a callback: 404, nothing audited.
    let silent = submit(&app, &app.key, MODEL, "no hook").await;
    let answer = post(
        &app,
        &format!("/admin/v1/tasks/{silent}/callbacks/redeliver"),
        &admin,
        json!({}),
    )
    .await;
    assert_admin_error(&answer, StatusCode::NOT_FOUND, "not_found");
    assert!(audit_actions(&app, &admin, &silent).await.is_empty());
}

/// A front seedgate whose one account (`ark-main`) is an upstream seedgate behind a proxy
/// that records every request: the upstream, the proxy, the front and the front's client key.
async fn front_and_upstream() -> (TestApp, FaultProxy, TestApp, String) {
    let port = free_port();
    let proxy = FaultProxy::start(&format!("http://127.0.0.1:{port}")).await;
    let public = proxy.base.clone();
    let upstream = spawn_app_with(move |s| {
        s.listen = format!("127.0.0.1:{port}");
        s.public_base_url = Some(public);
        s.local.instant = true;
    })
    .await;
    let upstream_key = upstream.create_key("front service", 10_000).await;
    let account = crate::helpers::ark_account("ark-main", &proxy.base, &upstream_key);
    let front = spawn_app_with(move |s| {
        crate::helpers::route_only_through(s, MODEL, vec![account]);
        s.upstream.poll_min_ms = 100;
        s.upstream.poll_max_ms = 500;
        s.upstream.callbacks = Some(false);
        s.worker.lease_seconds = 1.5;
    })
    .await;
    let client = front.create_key("client", 10_000).await;
    (upstream, proxy, front, client)
}

#[tokio::test]
async fn a_running_upstream_task_is_cancelled_there_and_refunded_once() {
    let (_upstream, proxy, front, client) = front_and_upstream().await;
    let admin = admin_token(&front, AdminRole::Admin).await;
    let id = submit(&front, &client, MODEL, "slow [[seedgate:delay:8000]]").await;
    let running = wait_admin(&front, &admin, &id, |t| t["upstream_task_id"].is_string()).await;
    assert_eq!(running["status"], "running");
    assert_eq!(running["upstream_account"], "ark-main");
    let job = running["upstream_task_id"]
        .as_str()
        .expect("job")
        .to_string();

    assert_eq!(
        search(&front, &admin, "upstream_account=ark-main").await,
        [id.as_str()]
    );
    assert_eq!(
        search(&front, &admin, &format!("upstream_task_id={job}")).await,
        [id.as_str()]
    );
    assert!(search(&front, &admin, "upstream_account=ark-spare")
        .await
        .is_empty());
    assert!(search(&front, &admin, "upstream_task_id=cgt-unknown")
        .await
        .is_empty());

    let (status, cancelled) = post(
        &front,
        &format!("/admin/v1/tasks/{id}/cancel"),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(front.balance_of(&client).await, 10_000, "refunded at once");

    // The worker following it notices at its next heartbeat and cancels the upstream job.
    let start = Instant::now();
    while proxy.count(HttpMethod::DELETE, &format!("/tasks/{job}")) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the upstream job was never cancelled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(proxy.count(HttpMethod::DELETE, &format!("/tasks/{job}")), 1);
    // Past the upstream's own finish: the task stays cancelled, refunded once, never settled.
    tokio::time::sleep(Duration::from_secs(9).saturating_sub(start.elapsed())).await;
    let task = get(&front, &format!("/admin/v1/tasks/{id}"), &admin)
        .await
        .1;
    assert_eq!(task["status"], "cancelled", "{task}");
    assert_eq!(
        ledger_amounts(&front, &id, EntryKind::Release).await.len(),
        1
    );
    assert!(ledger_amounts(&front, &id, EntryKind::Settle)
        .await
        .is_empty());
    assert_eq!(front.balance_of(&client).await, 10_000);
    assert_eq!(audit_actions(&front, &admin, &id).await, ["task.cancel"]);
    let (code, out) = front.ledger_verify();
    assert_eq!(code, 0, "{out}");
}

/// `seedgate tasks …` on the app's database; (exit code, stdout, stderr).
fn cli(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_seedgate"));
    command
        .args(args)
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .env_remove("SEEDGATE_CONFIG")
        .env_remove("SEEDGATE_DATABASE_URL")
        .env("SEEDGATE_LOG__FILTER", "warn");
    if let Some(url) = &app.database_url {
        command.env("SEEDGATE_DATABASE_URL", url);
    }
    let out = command.output().expect("run seedgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_command_line_searches_and_refunds_once_through_the_same_service() {
    let app = spawn_app_with(|s| s.local.instant = true).await;
    let admin = admin_token(&app, AdminRole::Admin).await;
    let id = submit(&app, &app.key, MODEL, "a cat").await;
    let done = wait_admin(&app, &admin, &id, |t| t["status"] == "succeeded").await;
    let price = done["cost"]["price"].as_i64().expect("price");
    let before = app.balance_of(&app.key).await;

    let (code, out, err) = cli(
        &app,
        &["tasks", "search", "--status", "succeeded", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let page: Value = serde_json::from_str(&out).expect("JSON page");
    assert_eq!(page["tasks"][0]["task"]["id"], id.as_str(), "{out}");
    let (code, out, _) = cli(&app, &["tasks", "search", "--status", "queued", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("JSON")["tasks"],
        json!([])
    );
    let (code, _, err) = cli(&app, &["tasks", "search", "--status", "lost"]);
    assert_ne!(code, 0);
    assert!(err.contains("status"), "{err}");

    let (code, _, err) = cli(&app, &["tasks", "refund", &id, "--note", "from the shell"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(app.balance_of(&app.key).await, before + price);
    let (code, _, err) = cli(&app, &["tasks", "refund", &id, "--note", "twice"]);
    assert_ne!(code, 0, "a second refund is refused");
    assert!(err.contains("refunded by hand already"), "{err}");
    let (code, _, err) = cli(&app, &["tasks", "cancel", &id]);
    assert_ne!(code, 0, "a finished task is not cancelled");
    assert!(err.contains("succeeded"), "{err}");
    assert_eq!(ledger_amounts(&app, &id, EntryKind::Refund).await, [price]);
    assert_eq!(app.balance_of(&app.key).await, before + price);
    let (_, audit) = get(&app, &format!("/admin/v1/audit?target={id}"), &admin).await;
    let entries = audit["data"].as_array().expect("data");
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["actor"], "cli");
    assert_eq!(entries[0]["action"], "task.refund");
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");
}

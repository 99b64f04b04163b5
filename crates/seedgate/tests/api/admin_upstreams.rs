//! The upstream accounts view of the admin API: after a failing account opens its breaker, the
//! view shows it open, with its last error and a lower success rate than the live account; a
//! check on demand answers each account's report.

use crate::helpers::{spawn_app_with, TestApp};
use axum::http::StatusCode as AxumStatus;
use axum::response::IntoResponse;
use reqwest::StatusCode;
use seedgate::config::ProviderSettings;
use seedgate_core::clock::SystemClock;
use seedgate_service::admin::AdminService;
use seedgate_store::{Actor, AdminRole};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const MODEL: &str = "seedance-2.0-mini";

/// An Ark-style upstream that answers every request 500, counting them.
async fn dead_upstream() -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (
                AxumStatus::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": {"code": "InternalServiceError", "message": "boom"}})),
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}"), calls)
}

async fn admin_token(app: &TestApp) -> String {
    AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .create_admin_token("ops", AdminRole::Viewer, &Actor("cli".into()))
        .await
        .expect("admin token")
        .token
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let r = request.send().await.expect("request");
    let status = r.status();
    (status, r.json().await.expect("json"))
}

/// Submits a 480p, 4 s task and waits until it is finished; its final reAPI object.
async fn run_task(app: &TestApp, prompt: &str) -> Value {
    let id = app
        .submit_ok(&json!({"model": MODEL, "prompt": prompt, "resolution": "480p", "duration": 4}))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let task = app.wait_for_task(&id).await;
        if task["status"] == "completed" || task["status"] == "failed" {
            return task;
        }
        assert!(std::time::Instant::now() < deadline, "{task}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn account<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {view}"))
}

#[tokio::test]
async fn a_failing_account_shows_its_open_breaker_last_error_and_lower_success_rate() {
    let (dead_base, dead_calls) = dead_upstream().await;
    let app = spawn_app_with(|s| {
        s.local.instant = true;
        s.upstream.breaker_failures = 2;
        s.upstream.breaker_open_seconds = 600.0;
        s.providers = vec![
            crate::helpers::ark_account("dead", &dead_base, "ark-key"),
            ProviderSettings {
                name: "live".into(),
                kind: "local".into(),
                ..Default::default()
            },
        ];
    })
    .await;
    let token = admin_token(&app).await;

    // Without a token: nothing.
    let (status, body) = call(&app, reqwest::Method::GET, "/admin/v1/upstreams", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");

    // Before any traffic: both closed, no calls, no rate.
    let (status, view) = call(
        &app,
        reqwest::Method::GET,
        "/admin/v1/upstreams",
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let dead = account(&view, "dead");
    assert_eq!(dead["kind"], "ark");
    assert_eq!(dead["models"], json!([MODEL]));
    assert_eq!(dead["breaker"]["state"], "closed");
    assert_eq!(dead["recent"]["calls"], 0);
    assert_eq!(dead["recent"]["success_rate"], Value::Null);
    assert_eq!(account(&view, "live")["kind"], "local");

    // Two tasks: each is refused by `dead` (a 500), fails over to `live` and completes; the
    // second refusal opens `dead`'s breaker.
    for prompt in ["first", "second"] {
        let task = run_task(&app, prompt).await;
        assert_eq!(task["status"], "completed", "{task}");
    }
    assert_eq!(dead_calls.load(Ordering::SeqCst), 2);

    let (_, view) = call(
        &app,
        reqwest::Method::GET,
        "/admin/v1/upstreams",
        Some(&token),
    )
    .await;
    let dead = account(&view, "dead");
    let live = account(&view, "live");
    assert_eq!(dead["breaker"]["state"], "open", "{dead}");
    let now_ms = seedgate_core::clock::now_ms();
    let until = dead["breaker"]["open_until_ms"]
        .as_i64()
        .expect("open until");
    assert!(
        until > now_ms + 500_000 && until <= now_ms + 600_000,
        "open for ten minutes from the second failure: {until} vs now {now_ms}"
    );
    assert!(dead["breaker"]["opened_at_ms"].as_i64().expect("opened") <= now_ms);
    assert_eq!(dead["breaker"]["consecutive_failures"], 2);
    assert_eq!(dead["recent"]["calls"], 2);
    assert_eq!(dead["recent"]["success_rate"], 0.0);
    assert_eq!(dead["recent"]["submit_latency"]["samples"], 2);
    let error = &dead["last_errors"][0];
    assert_eq!(error["operation"], "create");
    assert_eq!(error["class"], "transient");
    assert!(
        error["message"].as_str().expect("message").contains("boom")
            || error["message"].as_str().expect("message").contains("500"),
        "{error}"
    );
    assert!(error["at_ms"].as_i64().expect("at") <= now_ms);
    assert_eq!(dead["last_errors"].as_array().expect("errors").len(), 2);
    assert_eq!(dead["in_flight"], 0);

    assert_eq!(live["breaker"]["state"], "closed");
    assert_eq!(live["recent"]["success_rate"], 1.0);
    assert_eq!(live["recent"]["calls"], 2);
    assert_eq!(live["recent"]["time_to_result"]["samples"], 2);
    assert_eq!(live["last_errors"], json!([]));

    // With the breaker open, a third task goes straight to `live`.
    assert_eq!(run_task(&app, "third").await["status"], "completed");
    assert_eq!(dead_calls.load(Ordering::SeqCst), 2, "dead is kept out");

    // Checks on demand: every account's report, and one account's.
    let (status, checks) = call(
        &app,
        reqwest::Method::POST,
        "/admin/v1/upstreams/check",
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{checks}");
    let reports = checks["data"].as_array().expect("data");
    // The built-in renderer is always an account too (`local`).
    assert_eq!(reports.len(), 3, "{checks}");
    let report = |name: &str| {
        reports
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {checks}"))
            .clone()
    };
    assert_eq!(report("live")["ok"], true);
    assert_eq!(report("live")["kind"], "local");
    assert_eq!(report("dead")["ok"], false, "{checks}");
    assert_eq!(report("dead")["kind"], "ark");
    assert!(
        dead_calls.load(Ordering::SeqCst) > 2,
        "the check asked the upstream"
    );

    let (status, one) = call(
        &app,
        reqwest::Method::POST,
        "/admin/v1/upstreams/dead/check",
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["name"], "dead");
    assert_eq!(one["ok"], false);
    let (status, missing) = call(
        &app,
        reqwest::Method::POST,
        "/admin/v1/upstreams/nobody/check",
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    assert_eq!(missing["error"]["code"], "not_found");
    let (status, _) = call(
        &app,
        reqwest::Method::POST,
        "/admin/v1/upstreams/check",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A failed check is among the last errors, newest first; it is not traffic.
    let (_, view) = call(
        &app,
        reqwest::Method::GET,
        "/admin/v1/upstreams",
        Some(&token),
    )
    .await;
    let dead = account(&view, "dead");
    assert_eq!(dead["last_errors"][0]["operation"], "check", "{dead}");
    assert_eq!(dead["recent"]["calls"], 2);
}

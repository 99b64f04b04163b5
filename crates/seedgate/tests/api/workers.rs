//! The worker's failure paths, end to end: retries with backoff then a single refund, the
//! attempt timeout, and production mode ignoring prompt directives.

use crate::helpers::{assert_error, spawn_app_with};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use seedgate::config::RunMode;
use seedgate_service::auth;
use serde_json::json;

async fn attempts(app: &crate::helpers::TestApp, id: &str) -> u32 {
    let key = app
        .store
        .find_credential(&auth::hash_key(&app.key))
        .await
        .expect("lookup")
        .expect("key");
    app.store
        .get_task(&seedgate_core::TaskId::from_string(id), &key.account.id)
        .await
        .expect("get")
        .expect("task")
        .attempt
}

#[tokio::test]
async fn retryable_failures_are_retried_then_failed_and_refunded_once() {
    let app = spawn_app_with(|s| {
        s.worker.max_attempts = 3;
        s.worker.retry_base_ms = 50;
    })
    .await;
    let before = app.balance_of(&app.key).await;
    let id = app
        .submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "flaky [[seedgate:fail:upstream_error:retry]]", "resolution": "480p", "duration": 4}))
        .await;
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(task["error"]["code"], 80001);
    assert_eq!(attempts(&app, &id).await, 3, "tried max_attempts times");
    assert_eq!(app.balance_of(&app.key).await, before, "refunded");
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn an_attempt_past_its_timeout_fails_as_timed_out_and_is_refunded() {
    let app = spawn_app_with(|s| s.worker.attempt_timeout_seconds = 1).await;
    let before = app.balance_of(&app.key).await;
    let id = app
        .submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "slow [[seedgate:delay:30000]]", "resolution": "480p", "duration": 4}))
        .await;
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(task["error"]["code"], 80004, "timeout");
    assert_eq!(app.balance_of(&app.key).await, before);
}

#[tokio::test]
async fn production_ignores_directives_and_refuses_loopback_media_by_default() {
    let app = spawn_app_with(|s| s.mode = RunMode::Production).await;
    let media = MediaServer::start().await;
    // Directives would let any client fail tasks or hold workers: production ignores them.
    let id = app
        .submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "[[seedgate:fail]] [[seedgate:delay:60000]]", "resolution": "480p", "duration": 4}))
        .await;
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    // With no `fetch.allow_private`, loopback is as forbidden as any private range.
    let body = json!({"model": "seedance-2.0-mini", "first_frame_url": media.image("640x640.png")});
    let message = assert_error(app.submit(&body).await, StatusCode::BAD_REQUEST, 20003).await;
    assert!(
        message.contains("first_frame_url") && message.contains("loopback"),
        "{message}"
    );
}

//! Idempotency-Key: replay, 422 on a different body, 409 while in flight, scoped per API key.

use crate::helpers::{assert_error, spawn_app};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn same_key_same_body_replays_the_first_response() {
    let app = spawn_app().await;
    let body = json!({"model": "seedance-2.0-mini", "prompt": "replay me", "resolution": "480p", "duration": 4});
    let send = |b: &Value, key: &str| {
        app.client
            .post(app.url("/api/v1/videos/generations"))
            .bearer_auth(&app.key)
            .header("idempotency-key", key.to_string())
            .json(b)
            .send()
    };
    let first = send(&body, "key-1").await.expect("req");
    assert_eq!(first.status(), StatusCode::OK);
    let first_bytes = first.bytes().await.expect("bytes");
    let balance = app.balance_of(&app.key).await;

    // The same body with other formatting and key order is the same request.
    let reordered = json!({"duration": 4, "resolution": "480p", "prompt": "replay me", "model": "seedance-2.0-mini"});
    let second = send(&reordered, "key-1").await.expect("req");
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(
        second.bytes().await.expect("bytes"),
        first_bytes,
        "replayed byte for byte"
    );
    assert_eq!(app.balance_of(&app.key).await, balance, "charged once");
    assert_eq!(app.store.ledger_dump().await.expect("dump").tasks.len(), 1);

    // Quoted sf-string form of the same key.
    let third = send(&body, "\"key-1\"").await.expect("req");
    assert_eq!(third.bytes().await.expect("bytes"), first_bytes);

    // Same key, different body: 422, nothing created.
    let other = json!({"model": "seedance-2.0-mini", "prompt": "something else", "resolution": "480p", "duration": 4});
    assert_error(
        send(&other, "key-1").await.expect("req"),
        StatusCode::UNPROCESSABLE_ENTITY,
        20009,
    )
    .await;
    assert_eq!(app.store.ledger_dump().await.expect("dump").tasks.len(), 1);

    // Keys are scoped per API key: another key may reuse the string.
    let other_key = app.create_key("other", 10_000).await;
    let r = app
        .client
        .post(app.url("/api/v1/videos/generations"))
        .bearer_auth(&other_key)
        .header("idempotency-key", "key-1")
        .json(&other)
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_still_in_flight_is_409() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    // The slow reference video keeps the first request busy pricing for 1.5 s.
    let body = json!({
        "model": "seedance-2.0-mini",
        "prompt": "x",
        "reference_image_urls": [media.image("640x640.png")],
        "reference_video_urls": [media.slow_video(2)],
        "resolution": "480p",
        "duration": 4
    });
    let send = || {
        app.client
            .post(app.url("/api/v1/videos/generations"))
            .bearer_auth(&app.key)
            .header("idempotency-key", "busy")
            .json(&body)
            .send()
    };
    let first = tokio::spawn(send());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_error(send().await.expect("req"), StatusCode::CONFLICT, 20008).await;
    let first = first.await.expect("join").expect("req");
    assert_eq!(first.status(), StatusCode::OK);
    // Once finished, the key replays.
    let again = send().await.expect("req");
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(app.store.ledger_dump().await.expect("dump").tasks.len(), 1);
}

#[tokio::test]
async fn failed_requests_are_not_remembered() {
    let app = spawn_app().await;
    let send = |b: Value| {
        app.client
            .post(app.url("/api/v1/videos/generations"))
            .bearer_auth(&app.key)
            .header("idempotency-key", "fix-and-retry")
            .json(&b)
            .send()
    };
    let bad = json!({"model": "seedance-2.0-mini", "prompt": "x", "duration": 99});
    assert_error(
        send(bad).await.expect("req"),
        StatusCode::BAD_REQUEST,
        20003,
    )
    .await;
    let good = json!({"model": "seedance-2.0-mini", "prompt": "x", "duration": 5});
    assert_eq!(send(good).await.expect("req").status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_keys_are_rejected() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/api/v1/videos/generations"))
        .bearer_auth(&app.key)
        .header("idempotency-key", "k".repeat(300))
        .json(&json!({"model": "seedance-2.0-mini", "prompt": "x"}))
        .send()
        .await
        .expect("req");
    assert_error(r, StatusCode::BAD_REQUEST, 20003).await;
}

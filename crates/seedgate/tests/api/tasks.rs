//! Reading tasks: tenant isolation and unknown ids.

use crate::helpers::{assert_error, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn another_keys_task_is_404_and_leaks_nothing() {
    let app = spawn_app().await;
    let id = app.submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "private", "resolution": "480p", "duration": 4})).await;
    let intruder = app.create_key("intruder", 1000).await;

    let theirs = app.get_task_as(&intruder, &id).await;
    let status = theirs.status();
    let body = theirs.text().await.expect("text");
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let unknown = app
        .get_task_as(&intruder, "task_01k9s419324drezfbwnsvxyr6h")
        .await;
    let unknown_body = unknown.text().await.expect("text");
    let strip = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).expect("json");
        v["error"]["request_id"] = json!(null);
        v
    };
    assert_eq!(
        strip(&body),
        strip(&unknown_body),
        "another key's task looks exactly like a missing one"
    );
    assert!(!body.contains("private") && !body.contains(&id));

    assert_error(
        app.get_task_as(&intruder, &id).await,
        StatusCode::NOT_FOUND,
        40001,
    )
    .await;
    assert_eq!(
        app.get_task_as(&app.key, &id).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn odd_ids_are_simply_not_found() {
    let app = spawn_app().await;
    for id in ["x", "task_", "'%20OR%201=1", "..%2F..%2Fetc"] {
        assert_error(
            app.get_task_as(&app.key, id).await,
            StatusCode::NOT_FOUND,
            40001,
        )
        .await;
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/api/v1/nope"))
        .send()
        .await
        .expect("req");
    assert_error(r, StatusCode::NOT_FOUND, 40004).await;
    let r = app
        .client
        .get(app.url("/api/v1/videos/generations"))
        .send()
        .await
        .expect("req");
    assert_error(r, StatusCode::METHOD_NOT_ALLOWED, 40005).await;
}

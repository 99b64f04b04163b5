//! reAPI's authentication errors: 10001–10004, HTTP 401.

use crate::helpers::{assert_error, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn auth_errors_have_their_codes() {
    let app = spawn_app().await;
    let body = json!({"model": "seedance-2.0-mini", "prompt": "x"});
    let post = || {
        app.client
            .post(app.url("/api/v1/videos/generations"))
            .json(&body)
    };

    assert_error(
        post().send().await.expect("req"),
        StatusCode::UNAUTHORIZED,
        10001,
    )
    .await;
    let r = post()
        .header("authorization", "Basic dXNlcjpwdw==")
        .send()
        .await
        .expect("req");
    assert_error(r, StatusCode::UNAUTHORIZED, 10002).await;
    let r = post()
        .header("authorization", app.key.clone())
        .send()
        .await
        .expect("req");
    assert_error(r, StatusCode::UNAUTHORIZED, 10002).await;
    let r = post()
        .bearer_auth("sg_live_not_a_real_key")
        .send()
        .await
        .expect("req");
    assert_error(r, StatusCode::UNAUTHORIZED, 10003).await;

    let revoked = app.create_key("soon-revoked", 1000).await;
    let record = app
        .store
        .find_api_key("soon-revoked")
        .await
        .expect("lookup")
        .expect("exists");
    app.store
        .revoke_api_key(&record.id, &seedgate_store::Actor("test".into()))
        .await
        .expect("revoke");
    let r = post().bearer_auth(&revoked).send().await.expect("req");
    assert_error(r, StatusCode::UNAUTHORIZED, 10004).await;

    // Polling needs a key too.
    let r = app
        .client
        .get(app.url("/api/v1/tasks/task_x"))
        .send()
        .await
        .expect("req");
    assert_error(r, StatusCode::UNAUTHORIZED, 10001).await;
}

#[tokio::test]
async fn a_bad_key_is_reported_before_a_bad_body() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/api/v1/videos/generations"))
        .bearer_auth("sg_live_wrong")
        .body("not json")
        .send()
        .await
        .expect("req");
    assert_error(r, StatusCode::UNAUTHORIZED, 10003).await;
}

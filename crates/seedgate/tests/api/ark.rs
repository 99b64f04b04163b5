//! The Ark / ModelArk dialect (upstream-contracts §1): create, query, list, cancel/delete, the
//! error envelope with Ark's codes and statuses, and tasks shared with reAPI.

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const MODEL: &str = "dreamina-seedance-2-0-mini-260615";
const VOLC_MODEL: &str = "doubao-seedance-2-0-mini-260615";
const TASKS: &str = "/api/v3/contents/generations/tasks";

async fn create_as(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(TASKS))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request")
}

/// Creates a task and returns its id, asserting Ark's create answer: exactly `{"id": …}`.
async fn create_ok(app: &TestApp, body: &Value) -> String {
    let r = create_as(app, &app.key, body).await;
    let status = r.status();
    let json: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{json}");
    let object = json.as_object().expect("object");
    assert_eq!(object.len(), 1, "create answers only the id: {json}");
    let id = json["id"].as_str().expect("id");
    assert!(id.starts_with("task_"), "{id}");
    id.to_string()
}

async fn get_as(app: &TestApp, key: &str, id: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("{TASKS}/{id}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
}

async fn get_json(app: &TestApp, id: &str) -> Value {
    let r = get_as(app, &app.key, id).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("json")
}

async fn delete(app: &TestApp, id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("{TASKS}/{id}")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request")
}

async fn list_as(app: &TestApp, key: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("{TASKS}?{query}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
}

async fn list(app: &TestApp, query: &str) -> Value {
    let r = list_as(app, &app.key, query).await;
    let status = r.status();
    let json: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{json}");
    json
}

fn ids_of(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_string())
        .collect()
}

/// Polls the Ark GET until the task is in `wanted` (or terminal when `wanted` is empty).
async fn wait_until(app: &TestApp, id: &str, wanted: &[&str]) -> Value {
    let start = Instant::now();
    loop {
        let task = get_json(app, id).await;
        let status = task["status"].as_str().expect("status").to_string();
        let done = if wanted.is_empty() {
            !matches!(status.as_str(), "queued" | "running")
        } else {
            wanted.contains(&status.as_str())
        };
        if done {
            return task;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "task {id} stuck at {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_terminal(app: &TestApp, id: &str) -> Value {
    wait_until(app, id, &[]).await
}

/// Asserts Ark's error envelope; returns the error object.
async fn assert_ark_error(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let actual = response.status();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("x-request-id header");
    let json: Value = response.json().await.expect("error body is JSON");
    assert_eq!(actual, status, "{json}");
    let error = &json["error"];
    assert_eq!(error["code"], code, "{json}");
    let message = error["message"].as_str().expect("message");
    assert!(
        message.ends_with(&format!("Request ID: {request_id}")),
        "{message}"
    );
    assert!(error["type"].is_string(), "{json}");
    assert_eq!(json.as_object().map(|o| o.len()), Some(1), "{json}");
    error.clone()
}

/// A small text-to-video request: 480p 16:9, 4 s, no audio.
fn t2v(prompt: &str) -> Value {
    json!({
        "model": MODEL,
        "content": [{"type": "text", "text": prompt}],
        "resolution": "480p",
        "ratio": "16:9",
        "duration": 4,
        "generate_audio": false
    })
}

fn image(url: &str, role: Option<&str>) -> Value {
    let mut item = json!({"type": "image_url", "image_url": {"url": url}});
    if let Some(role) = role {
        item["role"] = json!(role);
    }
    item
}

async fn instant_app() -> TestApp {
    spawn_app_with(|s| s.local.instant = true).await
}

#[tokio::test]
async fn multimodal_reference_example_from_the_contract() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let before = app.balance_of(&app.key).await;
    // §1.5's example, with a mini model id and local media.
    let body = json!({
        "model": MODEL,
        "content": [
            {"type": "text", "text": "[Image 1] girl walks through [Video 1] street, keeps rhythm of [Audio 1]"},
            {"type": "image_url", "image_url": {"url": media.image("640x480.png")}, "role": "reference_image"},
            {"type": "video_url", "video_url": {"url": media.video(3)}, "role": "reference_video"},
            {"type": "audio_url", "audio_url": {"url": media.wav(3.0)}, "role": "reference_audio"}
        ],
        "resolution": "720p", "ratio": "adaptive", "duration": 6, "generate_audio": true,
        "tools": [{"type": "web_search"}], "watermark": false
    });
    let id = create_ok(&app, &body).await;
    // (6 s + 3 s of reference video) × $0.0625/s = 562.5 → 563 credits.
    assert_eq!(app.balance_of(&app.key).await, before - 563);

    let task = get_json(&app, &id).await;
    assert_eq!(task["model"], MODEL);
    assert!(matches!(
        task["status"].as_str(),
        Some("queued" | "running" | "succeeded")
    ));
    assert_eq!(task["tools"], json!([{"type": "web_search"}]));
    assert_eq!(task["generate_audio"], true);
    assert_eq!(task["duration"], 6);
    assert_eq!(task["resolution"], "720p");

    let done = wait_terminal(&app, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    // `adaptive` follows the first reference image (640×480): 4:3, 1112×834 at 720p.
    assert_eq!(done["ratio"], "4:3");
    // Tokens count the 3 s of input video too: 1112 × 834 × (24 × 9 + 1) / 1024 = 196530.8.
    assert_eq!(
        done["usage"],
        json!({"completion_tokens": 196530, "total_tokens": 196530})
    );
}

#[tokio::test]
async fn succeeded_task_reads_back_field_by_field() {
    let app = spawn_app().await;
    let mut body = t2v("A lighthouse at dusk");
    body["seed"] = json!(42);
    body["return_last_frame"] = json!(true);
    let id = create_ok(&app, &body).await;
    let task = wait_terminal(&app, &id).await;

    let mut keys: Vec<&str> = task
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "content",
            "created_at",
            "draft",
            "duration",
            "error",
            "execution_expires_after",
            "framespersecond",
            "generate_audio",
            "id",
            "model",
            "output_format",
            "priority",
            "ratio",
            "resolution",
            "seed",
            "service_tier",
            "status",
            "updated_at",
            "usage",
        ]
    );
    assert_eq!(task["id"], id.as_str());
    assert_eq!(task["model"], MODEL, "the model id the client sent");
    assert_eq!(task["status"], "succeeded", "{task}");
    assert!(task["error"].is_null());
    // 864 × 496 × (24 × 4 + 1) / 1024 = 40594.5, rounded down.
    assert_eq!(
        task["usage"],
        json!({"completion_tokens": 40594, "total_tokens": 40594})
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let created = task["created_at"].as_i64().expect("unix seconds");
    let updated = task["updated_at"].as_i64().expect("unix seconds");
    assert!(
        (now - 120..=now + 1).contains(&created),
        "{created} vs {now}"
    );
    assert!(created <= updated && updated <= now + 1);
    assert_eq!(task["seed"], 42);
    assert_eq!(task["resolution"], "480p");
    assert_eq!(task["ratio"], "16:9");
    assert_eq!(task["duration"], 4);
    assert_eq!(task["framespersecond"], 24);
    assert_eq!(task["generate_audio"], false);
    assert_eq!(task["draft"], false);
    assert_eq!(task["service_tier"], "default");
    assert_eq!(task["execution_expires_after"], 172800);
    assert_eq!(task["priority"], 0);
    assert_eq!(task["output_format"], "mp4");

    let content = task["content"].as_object().expect("content");
    assert_eq!(content.len(), 2);
    let video_url = content["video_url"].as_str().expect("video_url");
    assert!(video_url.starts_with(&app.base), "{video_url}");
    let r = app.client.get(video_url).send().await.expect("download");
    assert_eq!(r.headers()["content-type"], "video/mp4");
    let video = r.bytes().await.expect("bytes");
    let v = seedgate_local_renderer::inspect(&video)
        .expect("mp4")
        .video
        .expect("video");
    assert_eq!((v.width, v.height), (864, 496));
    let frame_url = content["last_frame_url"].as_str().expect("last_frame_url");
    let r = app.client.get(frame_url).send().await.expect("download");
    assert_eq!(r.headers()["content-type"], "image/png");
}

#[tokio::test]
async fn ark_defaults_seed_and_adaptive_ratio() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    // Only the model and a portrait first frame (no role): ratio defaults to adaptive and
    // follows the image; generate_audio defaults to true; no seed reads back as -1.
    let id = create_ok(
        &app,
        &json!({
            "model": VOLC_MODEL,
            "content": [image(&media.image("480x640.png"), None)],
            "resolution": "480p",
            "duration": 4
        }),
    )
    .await;
    let queued = get_json(&app, &id).await;
    if queued["status"] != "succeeded" {
        assert_eq!(
            queued["ratio"], "adaptive",
            "unknown until the video exists"
        );
        assert!(queued.get("usage").is_none() && queued.get("content").is_none());
    }
    let task = wait_terminal(&app, &id).await;
    assert_eq!(task["status"], "succeeded", "{task}");
    assert_eq!(task["model"], VOLC_MODEL);
    assert_eq!(task["ratio"], "3:4");
    assert_eq!(task["generate_audio"], true);
    assert_eq!(task["seed"], -1);
    assert_eq!(task["duration"], 4);
    assert!(task.get("tools").is_none());
    // 560 × 752 × 97 / 1024 = 39891.25, rounded down.
    assert_eq!(task["usage"]["completion_tokens"], 39891);
    let video_url = task["content"]["video_url"].as_str().expect("url");
    let video = app
        .client
        .get(video_url)
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    let info = seedgate_local_renderer::inspect(&video).expect("mp4");
    let v = info.video.as_ref().expect("video");
    assert_eq!((v.width, v.height), (560, 752));
    assert!(
        info.audio.is_some(),
        "Ark's generate_audio defaults to true"
    );
    assert!(task["content"].get("last_frame_url").is_none());
}

#[tokio::test]
async fn a_single_unroled_image_is_the_first_frame() {
    let app = instant_app().await;
    let media = MediaServer::start().await;
    let before = app.balance_of(&app.key).await;
    let text = json!({"type": "text", "text": "the subject walks"});
    let video = json!({"type": "video_url", "video_url": {"url": media.video(3)}, "role": "reference_video"});
    let img = media.image("640x640.png");

    // As a first frame it cannot be mixed with references (§1.5: modes are exclusive).
    let r = create_as(
        &app,
        &app.key,
        &json!({"model": MODEL, "content": [text, image(&img, None), video], "resolution": "480p", "duration": 4}),
    )
    .await;
    let error = assert_ark_error(r, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    assert_eq!(error["param"], "content[1].image_url");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("`content[1].image_url`")
                && m.contains("combined")
                && !m.contains("_urls")),
        "{error}"
    );
    assert_eq!(app.balance_of(&app.key).await, before, "nothing charged");

    // The same image as a reference image is fine with the video.
    let id = create_ok(
        &app,
        &json!({"model": MODEL, "content": [text, image(&img, Some("reference_image")), video], "resolution": "480p", "duration": 4, "generate_audio": false}),
    )
    .await;
    assert_eq!(wait_terminal(&app, &id).await["status"], "succeeded");

    // Unroled with an explicit last frame: first + last frame, no prompt needed.
    let id = create_ok(
        &app,
        &json!({"model": MODEL, "content": [image(&img, None), image(&img, Some("last_frame"))], "resolution": "480p", "duration": 4, "generate_audio": false}),
    )
    .await;
    assert_eq!(wait_terminal(&app, &id).await["status"], "succeeded");

    // A last frame alone has no first frame.
    let r = create_as(
        &app,
        &app.key,
        &json!({"model": MODEL, "content": [text, image(&img, Some("last_frame"))], "resolution": "480p", "duration": 4}),
    )
    .await;
    let error = assert_ark_error(r, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    assert_eq!(error["param"], "content[1].image_url");
}

#[tokio::test]
async fn cancelling_a_queued_task_refunds_it() {
    let app = spawn_app_with(|s| s.worker.concurrency = 1).await;
    let blocker = create_ok(&app, &t2v("hold the worker [[seedgate:delay:4000]]")).await;
    wait_until(&app, &blocker, &["running"]).await;
    let before = app.balance_of(&app.key).await;
    let id = create_ok(&app, &t2v("waits in the queue")).await;
    // 4 s × $0.0475/s = 190 credits.
    assert_eq!(app.balance_of(&app.key).await, before - 190);
    let queued = get_json(&app, &id).await;
    assert_eq!(queued["status"], "queued");
    assert!(queued["error"].is_null());
    assert!(queued.get("content").is_none() && queued.get("usage").is_none());

    let running = list(&app, "filter.status=running").await;
    assert_eq!(ids_of(&running), std::slice::from_ref(&blocker));
    assert_eq!(running["total"], 1);

    let r = delete(&app, &id).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.expect("json"), json!({}));
    let cancelled = get_json(&app, &id).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["error"].is_null());
    assert!(cancelled.get("content").is_none());
    assert_eq!(app.balance_of(&app.key).await, before, "refunded");
    assert_eq!(
        ids_of(&list(&app, "filter.status=cancelled").await),
        std::slice::from_ref(&id)
    );

    // A cancelled task cannot be cancelled or deleted again; a running one cannot be deleted.
    let e = assert_ark_error(
        delete(&app, &id).await,
        StatusCode::FORBIDDEN,
        "OperationDenied.UnsupportedPhase",
    )
    .await;
    assert_eq!(e["type"], "Forbidden");
    assert_ark_error(
        delete(&app, &blocker).await,
        StatusCode::FORBIDDEN,
        "OperationDenied.UnsupportedPhase",
    )
    .await;
    assert_eq!(get_json(&app, &id).await["status"], "cancelled");
    assert_eq!(app.balance_of(&app.key).await, before, "refunded once");
    assert_eq!(wait_terminal(&app, &blocker).await["status"], "succeeded");
}

#[tokio::test]
async fn failed_and_expired_tasks_carry_ark_codes_and_are_refunded() {
    let app = spawn_app().await;
    let before = app.balance_of(&app.key).await;
    let cases = [
        ("expired", "expired", "TaskExpired"),
        (
            "moderation",
            "failed",
            "OutputVideoSensitiveContentDetected",
        ),
        ("invalid_input", "failed", "InvalidParameter"),
        ("upstream_error", "failed", "InternalServiceError"),
        ("timeout", "failed", "ExecutionTimeout"),
    ];
    for (kind, status, code) in cases {
        let id = create_ok(&app, &t2v(&format!("doomed [[seedgate:fail:{kind}]]"))).await;
        let task = wait_terminal(&app, &id).await;
        assert_eq!(task["status"], status, "{kind}: {task}");
        assert_eq!(task["error"]["code"], code, "{kind}: {task}");
        assert!(task["error"]["message"].is_string());
        assert!(task.get("content").is_none() && task.get("usage").is_none());
    }
    assert_eq!(
        app.balance_of(&app.key).await,
        before,
        "every failure refunded"
    );
}

#[tokio::test]
async fn list_filters_pages_and_totals() {
    let app = instant_app().await;
    let mut succeeded = Vec::new();
    for i in 0..3 {
        succeeded.push(create_ok(&app, &t2v(&format!("clip {i}"))).await);
    }
    let mut failed = Vec::new();
    for i in 0..2 {
        failed.push(
            create_ok(
                &app,
                &t2v(&format!("bad {i} [[seedgate:fail:upstream_error]]")),
            )
            .await,
        );
    }
    for id in succeeded.iter().chain(&failed) {
        wait_terminal(&app, id).await;
    }
    // Another key's tasks never show.
    let other = app.create_key("other", 10_000).await;
    let r = create_as(&app, &other, &t2v("someone else")).await;
    assert_eq!(r.status(), StatusCode::OK);

    // Newest first, 10 per page by default.
    let all = list(&app, "").await;
    assert_eq!(all["total"], 5);
    let newest_first: Vec<String> = failed
        .iter()
        .rev()
        .chain(succeeded.iter().rev())
        .cloned()
        .collect();
    assert_eq!(ids_of(&all), newest_first);
    assert_eq!(all["items"][0]["status"], "failed");
    assert_eq!(all["items"][4]["status"], "succeeded");
    assert!(all["items"][4]["content"]["video_url"].is_string());

    let page1 = list(&app, "page_num=1&page_size=2").await;
    let page3 = list(&app, "page_num=3&page_size=2").await;
    assert_eq!(page1["total"], 5);
    assert_eq!(ids_of(&page1), newest_first[..2]);
    assert_eq!(ids_of(&page3), newest_first[4..]);
    assert_eq!(
        list(&app, "page_num=4&page_size=2").await["items"],
        json!([])
    );

    let ok = list(&app, "filter.status=succeeded").await;
    assert_eq!(ok["total"], 3);
    assert!(ok["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|t| t["status"] == "succeeded"));
    assert_eq!(list(&app, "filter.status=failed").await["total"], 2);
    assert_eq!(list(&app, "filter.status=queued").await["total"], 0);

    let q = format!(
        "filter.task_ids={}&filter.task_ids={}&filter.task_ids=task_unknown",
        succeeded[0], failed[1]
    );
    let picked = list(&app, &q).await;
    assert_eq!(picked["total"], 2);
    assert_eq!(ids_of(&picked), [failed[1].clone(), succeeded[0].clone()]);

    assert_eq!(
        list(&app, &format!("filter.model={VOLC_MODEL}")).await["total"],
        5
    );
    assert_eq!(
        list(&app, "filter.model=seedance-2.0-mini").await["total"],
        5
    );
    assert_eq!(
        list(&app, "filter.model=seedance-1-0-pro-250528").await["total"],
        0
    );
    assert_eq!(list(&app, "filter.service_tier=default").await["total"], 5);
    let flex = list(&app, "filter.service_tier=flex").await;
    assert_eq!(flex, json!({"total": 0, "items": []}));
    let combined = list(&app, "filter.status=failed&page_size=1&page_num=2").await;
    assert_eq!(
        (combined["total"].as_u64(), ids_of(&combined)),
        (Some(2), vec![failed[0].clone()])
    );

    for (query, param) in [
        ("page_num=0", "page_num"),
        ("page_num=501", "page_num"),
        ("page_size=0", "page_size"),
        ("page_size=501", "page_size"),
        ("page_size=ten", "page_size"),
        ("filter.status=expired", "filter.status"),
        ("filter.status=done", "filter.status"),
        ("filter.service_tier=cheap", "filter.service_tier"),
        ("filter.sort=asc", "filter.sort"),
    ] {
        let e = assert_ark_error(
            list_as(&app, &app.key, query).await,
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
        )
        .await;
        assert_eq!(e["param"], param, "{query}");
    }
    assert_ark_error(
        list_as(&app, "sg_live_nope", "").await,
        StatusCode::UNAUTHORIZED,
        "AuthenticationError",
    )
    .await;
}

#[tokio::test]
async fn deleting_finished_tasks_removes_them() {
    let app = instant_app().await;
    let done = create_ok(&app, &t2v("finished")).await;
    let failed = create_ok(&app, &t2v("broken [[seedgate:fail:moderation]]")).await;
    let expired = create_ok(&app, &t2v("late [[seedgate:fail:expired]]")).await;
    assert_eq!(wait_terminal(&app, &done).await["status"], "succeeded");
    assert_eq!(wait_terminal(&app, &failed).await["status"], "failed");
    assert_eq!(wait_terminal(&app, &expired).await["status"], "expired");
    let balance = app.balance_of(&app.key).await;
    assert_eq!(list(&app, "").await["total"], 3);

    for id in [&done, &failed, &expired] {
        let r = delete(&app, id).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.expect("json"), json!({}));
        let e = assert_ark_error(
            get_as(&app, &app.key, id).await,
            StatusCode::NOT_FOUND,
            "NotFound.TaskId",
        )
        .await;
        assert_eq!(e["type"], "NotFound");
        assert_ark_error(
            delete(&app, id).await,
            StatusCode::NOT_FOUND,
            "NotFound.TaskId",
        )
        .await;
    }
    assert_eq!(list(&app, "").await["total"], 0);
    assert_eq!(
        app.balance_of(&app.key).await,
        balance,
        "deleting moves no money"
    );
}

/// Every synchronous error, with Ark's code, HTTP status and parameter path; none creates a task
/// or moves a credit.
#[tokio::test]
async fn every_error_has_its_ark_code_and_charges_nothing() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let before = app.balance_of(&app.key).await;
    let text = json!({"type": "text", "text": "a red fox"});
    let with = |field: &str, value: Value| {
        let mut b = t2v("a red fox");
        b[field] = value;
        b
    };
    let content = |items: Vec<Value>| {
        let mut b = t2v("unused");
        b["content"] = json!(items);
        b
    };
    let u32_max_plus_one = 4_294_967_296i64;
    let cases: Vec<(&str, Value, StatusCode, &str, Option<&str>)> = vec![
        (
            "no model",
            json!({"content": [text]}),
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            Some("model"),
        ),
        (
            "no content",
            json!({"model": MODEL}),
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            Some("content"),
        ),
        (
            "empty content",
            with("content", json!([])),
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            Some("content"),
        ),
        (
            "only a video, no text",
            content(vec![
                json!({"type": "video_url", "video_url": {"url": media.video(3)}, "role": "reference_video"}),
            ]),
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            Some("content"),
        ),
        (
            "unknown model",
            with("model", json!("seedance-1-0-pro-250528")),
            StatusCode::NOT_FOUND,
            "InvalidEndpointOrModel.NotFound",
            Some("model"),
        ),
        (
            "known, not served",
            with("model", json!("dreamina-seedance-2-5-260628")),
            StatusCode::NOT_FOUND,
            "ModelNotOpen",
            Some("model"),
        ),
        (
            "model before wire checks",
            json!({"model": "seedance-1-0-pro-250528", "content": [text], "frames": 57}),
            StatusCode::NOT_FOUND,
            "InvalidEndpointOrModel.NotFound",
            Some("model"),
        ),
        (
            "model before content",
            json!({"model": "seedance-1-0-pro-250528", "content": []}),
            StatusCode::NOT_FOUND,
            "InvalidEndpointOrModel.NotFound",
            Some("model"),
        ),
        (
            "missing model before content",
            json!({"content": [{"type": "gif_url"}]}),
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            Some("model"),
        ),
        (
            "base64 image",
            content(vec![
                text.clone(),
                image(
                    "data:image/png;base64,iVBORw0KGgo=",
                    Some("reference_image"),
                ),
            ]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[1].image_url.url"),
        ),
        (
            "ftp image",
            content(vec![
                text.clone(),
                image("ftp://example.com/a.png", Some("reference_image")),
            ]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[1].image_url.url"),
        ),
        (
            "relative video",
            content(vec![
                text.clone(),
                json!({"type": "video_url", "video_url": {"url": "/b.mp4"}, "role": "reference_video"}),
            ]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[1].video_url.url"),
        ),
        (
            "unknown asset",
            content(vec![
                text.clone(),
                image("asset://asset_nope", Some("reference_image")),
            ]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[1].image_url"),
        ),
        (
            "first frame + reference",
            content(vec![
                text.clone(),
                image(&media.image("640x640.png"), Some("first_frame")),
                image(&media.image("640x640.png"), Some("reference_image")),
            ]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[1].image_url"),
        ),
        (
            "image too small",
            content(vec![
                text.clone(),
                image(&media.image("100x100.png"), Some("reference_image")),
            ]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[1].image_url"),
        ),
        (
            "audio only",
            content(vec![
                text.clone(),
                json!({"type": "audio_url", "audio_url": {"url": media.wav(3.0)}, "role": "reference_audio"}),
            ]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content"),
        ),
        (
            "two texts",
            content(vec![text.clone(), text.clone()]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[1]"),
        ),
        (
            "two unroled images",
            content(vec![
                text.clone(),
                image(&media.image("640x640.png"), None),
                image(&media.image("640x640.png"), None),
            ]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[2].role"),
        ),
        (
            "bad role",
            content(vec![
                text.clone(),
                image(&media.image("640x640.png"), Some("style")),
            ]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[1].role"),
        ),
        (
            "draft_task",
            content(vec![
                json!({"type": "draft_task", "draft_task": {"id": "cgt-1"}}),
            ]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[0].type"),
        ),
        (
            "unknown content type",
            content(vec![json!({"type": "gif_url"})]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[0].type"),
        ),
        (
            "text without text",
            content(vec![json!({"type": "text"})]),
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            Some("content[0].text"),
        ),
        (
            "blank prompt",
            content(vec![json!({"type": "text", "text": "  "})]),
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            Some("content[0].text"),
        ),
        (
            "unknown item field",
            content(vec![json!({"type": "text", "text": "x", "lang": "en"})]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("content[0].lang"),
        ),
        (
            "unknown field",
            with("fps", json!(24)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("fps"),
        ),
        (
            "flex",
            with("service_tier", json!("flex")),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("service_tier"),
        ),
        (
            "frames",
            with("frames", json!(57)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("frames"),
        ),
        (
            "draft",
            with("draft", json!(true)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("draft"),
        ),
        (
            "camera_fixed",
            with("camera_fixed", json!(true)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("camera_fixed"),
        ),
        (
            "duration -1",
            with("duration", json!(-1)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("duration"),
        ),
        (
            "duration 16",
            with("duration", json!(16)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("duration"),
        ),
        (
            "duration 4.5",
            with("duration", json!(4.5)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("duration"),
        ),
        (
            "expires too soon",
            with("execution_expires_after", json!(3599)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("execution_expires_after"),
        ),
        (
            "expires too late",
            with("execution_expires_after", json!(259201)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("execution_expires_after"),
        ),
        (
            "seed too big",
            with("seed", json!(u32_max_plus_one)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("seed"),
        ),
        (
            "seed -2",
            with("seed", json!(-2)),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("seed"),
        ),
        (
            "long safety_identifier",
            with("safety_identifier", json!("x".repeat(65))),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("safety_identifier"),
        ),
        (
            "non-ASCII safety_identifier",
            with("safety_identifier", json!("ユーザー")),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("safety_identifier"),
        ),
        (
            "ratio",
            with("ratio", json!("5:4")),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("ratio"),
        ),
        (
            "1080p on mini",
            with("resolution", json!("1080p")),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("resolution"),
        ),
        (
            "tool",
            with("tools", json!([{"type": "code_interpreter"}])),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("tools[0].type"),
        ),
        (
            "callback",
            with("callback_url", json!("ftp://example.com/hook")),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("callback_url"),
        ),
        (
            "mov",
            with("output_format", json!("mov")),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("output_format"),
        ),
        (
            "omni",
            with("omni_reference_task_type", json!("edit")),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            Some("omni_reference_task_type"),
        ),
        (
            "body not an object",
            json!([1, 2]),
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            None,
        ),
    ];
    for (name, body, status, code, param) in cases {
        let r = create_as(&app, &app.key, &body).await;
        let error = assert_ark_error(r, status, code).await;
        match param {
            Some(p) => {
                assert_eq!(error["param"], p, "{name}: {error}");
                let message = error["message"].as_str().unwrap_or_default();
                assert!(
                    message.contains(p),
                    "{name}: the message names the parameter: {message}"
                );
            }
            None => assert!(error.get("param").is_none(), "{name}: {error}"),
        }
    }

    // Unreachable media: the price cannot be known, reported on the item.
    let r = create_as(
        &app,
        &app.key,
        &content(vec![
            text.clone(),
            image(
                &format!("{}/img/missing", media.base),
                Some("reference_image"),
            ),
        ]),
    )
    .await;
    let error = assert_ark_error(r, StatusCode::BAD_REQUEST, "InvalidParameter").await;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("content[1].image_url")),
        "{error}"
    );

    // Malformed JSON.
    let r = app
        .client
        .post(app.url(TASKS))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{\"model\":")
        .send()
        .await
        .expect("request");
    assert_ark_error(r, StatusCode::BAD_REQUEST, "InvalidParameter").await;

    // Auth comes first, whatever the body.
    let r = app
        .client
        .post(app.url(TASKS))
        .json(&t2v("x"))
        .send()
        .await
        .expect("request");
    let e = assert_ark_error(r, StatusCode::UNAUTHORIZED, "AuthenticationError").await;
    assert_eq!(e["type"], "Unauthorized");
    let r = create_as(&app, "sg_live_not_a_key", &json!({"bogus": true})).await;
    assert_ark_error(r, StatusCode::UNAUTHORIZED, "AuthenticationError").await;
    let r = app
        .client
        .post(app.url(TASKS))
        .header("authorization", format!("Basic {}", app.key))
        .json(&t2v("x"))
        .send()
        .await
        .expect("request");
    assert_ark_error(r, StatusCode::UNAUTHORIZED, "AuthenticationError").await;

    // Not enough credits: Ark's arrears code.
    let poor = app.create_key("poor", 10).await;
    let e = assert_ark_error(
        create_as(&app, &poor, &t2v("too dear")).await,
        StatusCode::FORBIDDEN,
        "AccountOverdueError",
    )
    .await;
    assert_eq!(e["type"], "Forbidden");
    assert_eq!(app.balance_of(&poor).await, 10);

    // Unknown task, unknown path, wrong method.
    assert_ark_error(
        get_as(&app, &app.key, "task_01k9s419324drezfbwnsvxyr6h").await,
        StatusCode::NOT_FOUND,
        "NotFound.TaskId",
    )
    .await;
    assert_ark_error(
        delete(&app, "task_01k9s419324drezfbwnsvxyr6h").await,
        StatusCode::NOT_FOUND,
        "NotFound.TaskId",
    )
    .await;
    let r = app
        .client
        .get(app.url("/api/v3/contents/nope"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    assert_ark_error(r, StatusCode::NOT_FOUND, "NotFound").await;
    let r = app
        .client
        .put(app.url(TASKS))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    assert_ark_error(r, StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed").await;

    assert_eq!(app.balance_of(&app.key).await, before, "nothing charged");
    assert!(
        app.store
            .ledger_dump()
            .await
            .expect("dump")
            .tasks
            .is_empty(),
        "no task created"
    );
}

#[tokio::test]
async fn another_keys_task_is_not_found() {
    let app = instant_app().await;
    let id = create_ok(&app, &t2v("private")).await;
    let intruder = app.create_key("intruder", 1000).await;
    assert_ark_error(
        get_as(&app, &intruder, &id).await,
        StatusCode::NOT_FOUND,
        "NotFound.TaskId",
    )
    .await;
    let r = app
        .client
        .delete(app.url(&format!("{TASKS}/{id}")))
        .bearer_auth(&intruder)
        .send()
        .await
        .expect("request");
    assert_ark_error(r, StatusCode::NOT_FOUND, "NotFound.TaskId").await;
    assert_eq!(list(&app, "").await["total"], 1);
    let theirs = list_as(&app, &intruder, &format!("filter.task_ids={id}")).await;
    assert_eq!(theirs.json::<Value>().await.expect("json")["total"], 0);
}

#[tokio::test]
async fn idempotency_key_replays_the_create_answer() {
    let app = instant_app().await;
    let send = |body: Value| {
        app.client
            .post(app.url(TASKS))
            .bearer_auth(&app.key)
            .header("idempotency-key", "ark-retry-1")
            .json(&body)
    };
    let first: Value = send(t2v("once"))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    let r = send(t2v("once")).send().await.expect("req");
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(r.json::<Value>().await.expect("json"), first);
    let r = send(t2v("different")).send().await.expect("req");
    assert_ark_error(r, StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused").await;
    assert_eq!(list(&app, "").await["total"], 1);
}

#[tokio::test]
async fn tasks_are_shared_with_reapi() {
    // The real renderer: the token count follows the size actually produced.
    let app = spawn_app().await;
    // reAPI → Ark.
    let reapi_id = app
        .submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "from reAPI", "resolution": "480p", "aspect_ratio": "9:16", "duration": 4}))
        .await;
    let task = wait_terminal(&app, &reapi_id).await;
    assert_eq!(task["id"], reapi_id.as_str());
    assert_eq!(
        task["model"], MODEL,
        "Ark reads back its name-version model id"
    );
    assert_eq!(task["status"], "succeeded");
    assert_eq!(task["ratio"], "9:16");
    assert_eq!(task["generate_audio"], false, "reAPI's default");
    // 496 × 864 × 97 / 1024 = 40594.
    assert_eq!(task["usage"]["total_tokens"], 40594);

    // Ark → reAPI.
    let ark_id = create_ok(&app, &t2v("from Ark")).await;
    let reapi_view = app.wait_for_task(&ark_id).await;
    assert_eq!(reapi_view["status"], "completed");
    assert_eq!(reapi_view["model"], MODEL);
    let reapi_url = reapi_view["output"]["video_urls"][0].as_str().expect("url");
    let ark_view = get_json(&app, &ark_id).await;
    assert_eq!(ark_view["content"]["video_url"], reapi_url);

    // Both show in the Ark list.
    let all = list(&app, "").await;
    assert_eq!(ids_of(&all), [ark_id, reapi_id]);
}

#[tokio::test]
async fn execution_expires_after_expires_the_task_and_refunds_it() {
    let app = spawn_app_with(|s| s.worker.concurrency = 1).await;
    let blocker = create_ok(&app, &t2v("hold the worker [[seedgate:delay:3000]]")).await;
    wait_until(&app, &blocker, &["running"]).await;
    let before = app.balance_of(&app.key).await;
    let mut body = t2v("must finish within the hour");
    body["execution_expires_after"] = json!(3600);
    let id = create_ok(&app, &body).await;
    assert_eq!(get_json(&app, &id).await["execution_expires_after"], 3600);
    // Without the field, the operator's deadline (2 h by default) holds: an hour is fine.
    let plain = create_ok(&app, &t2v("no expiry of its own")).await;
    // An hour passes while both wait in the queue.
    app.clock.advance_ms(3_601_000);
    let task = wait_terminal(&app, &id).await;
    assert_eq!(task["status"], "expired", "{task}");
    assert_eq!(task["error"]["code"], "TaskExpired", "{task}");
    assert_eq!(wait_terminal(&app, &plain).await["status"], "succeeded");
    assert_eq!(wait_terminal(&app, &blocker).await["status"], "succeeded");
    assert_eq!(
        app.balance_of(&app.key).await,
        before - 190,
        "the expired task refunded, the other charged"
    );
}

#[tokio::test]
async fn priority_and_safety_identifier_read_back_as_sent() {
    let app = instant_app().await;
    let mut body = t2v("echo");
    body["priority"] = json!(7);
    body["safety_identifier"] = json!("user-hash-42");
    let id = create_ok(&app, &body).await;
    let task = get_json(&app, &id).await;
    assert_eq!(task["priority"], 7, "{task}");
    assert_eq!(task["safety_identifier"], "user-hash-42", "{task}");
    assert_eq!(task["model"], MODEL);
    // Sent with the Volcengine id, read back with it; sent with a seedgate alias, read back
    // with Ark's own name-version id.
    let mut volc = t2v("volc");
    volc["model"] = json!(VOLC_MODEL);
    let id = create_ok(&app, &volc).await;
    assert_eq!(get_json(&app, &id).await["model"], VOLC_MODEL);
    let mut alias = t2v("alias");
    alias["model"] = json!("seedance-2.0-mini");
    let id = create_ok(&app, &alias).await;
    assert_eq!(get_json(&app, &id).await["model"], MODEL);
    let plain = create_ok(&app, &t2v("defaults")).await;
    let plain = get_json(&app, &plain).await;
    assert_eq!(plain["priority"], 0);
    assert!(plain.get("safety_identifier").is_none(), "{plain}");
}

#[tokio::test]
async fn a_callback_is_sent_on_each_status_change() {
    let app = spawn_app().await;
    let (hooks, received) = crate::apixo::hook_server().await;
    // The render takes a moment so that the queued and running callbacks are due before the
    // task finishes: one still pending then is superseded by the final one, by design.
    let mut body = t2v("tell me everything [[seedgate:delay:1500]]");
    body["callback_url"] = json!(format!("{hooks}/ark"));
    let id = create_ok(&app, &body).await;
    wait_terminal(&app, &id).await;
    let start = std::time::Instant::now();
    let statuses = loop {
        let statuses: Vec<String> = received
            .lock()
            .expect("lock")
            .iter()
            .filter(|b| b["id"] == id.as_str())
            .map(|b| b["status"].as_str().unwrap_or_default().to_string())
            .collect();
        if statuses.len() >= 3 || start.elapsed() > std::time::Duration::from_secs(20) {
            break statuses;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["queued", "running", "succeeded"],
        "one callback per status, each the GET body at that status: {statuses:?}"
    );
    let bodies = received.lock().expect("lock").clone();
    let done = bodies
        .iter()
        .find(|b| b["status"] == "succeeded")
        .expect("final");
    assert!(done["content"]["video_url"].is_string(), "{done}");
    let queued = bodies
        .iter()
        .find(|b| b["status"] == "queued")
        .expect("queued");
    assert!(queued.get("content").is_none(), "{queued}");

    // Other dialects still post only the result.
    let (hooks, received) = crate::apixo::hook_server().await;
    let r = app
        .client
        .post(app.url("/v1/tasks"))
        .bearer_auth(&app.key)
        .json(
            &json!({"model": "seedance-2.0-mini", "input": {"prompt": "only the end",
            "resolution": "480p", "duration": 4}, "callback": {"url": format!("{hooks}/hi")}}),
        )
        .send()
        .await
        .expect("hiapi");
    assert_eq!(r.status(), StatusCode::OK);
    let hi: Value = r.json().await.expect("json");
    let hi_id = hi["data"]["taskId"].as_str().expect("taskId").to_string();
    app.wait_for_task(&hi_id).await;
    // Wait for the final callback (a loaded machine may take a while), then
    // long enough that any extra one for an earlier status would have come.
    let start = std::time::Instant::now();
    while received.lock().expect("lock").is_empty()
        && start.elapsed() < std::time::Duration::from_secs(20)
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let bodies = received.lock().expect("lock").clone();
    assert_eq!(
        bodies.len(),
        1,
        "HiAPI: the final callback only: {bodies:?}"
    );
}

//! The HiAPI dialect: `POST /v1/tasks`, `GET /v1/tasks/{id}`, `GET /v1/tasks?page=&size=`, with
//! HiAPI's envelope `{code, message, data}`, its error envelope with `error_code`, Unix-second
//! times and its status vocabulary.

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const DAY: i64 = 24 * 3600;

async fn create_as(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/v1/tasks"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request")
}

/// Creates a task, checking the whole create envelope; returns the task id.
async fn create_ok_as(app: &TestApp, key: &str, body: &Value) -> String {
    let r = create_as(app, key, body).await;
    let status = r.status();
    let json: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{json}");
    let id = json["data"]["taskId"].as_str().expect("taskId").to_string();
    assert!(id.starts_with("task_"), "{json}");
    assert_eq!(
        json,
        json!({"code": 200, "message": "success", "data": {"taskId": id}})
    );
    id
}

async fn create_ok(app: &TestApp, body: &Value) -> String {
    create_ok_as(app, &app.key, body).await
}

async fn get_as(app: &TestApp, key: &str, id: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/v1/tasks/{id}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
}

/// `data` of a task read through HiAPI, checking the envelope.
async fn task(app: &TestApp, id: &str) -> Value {
    task_as(app, &app.key, id).await
}

async fn task_as(app: &TestApp, key: &str, id: &str) -> Value {
    let r = get_as(app, key, id).await;
    assert_eq!(r.status(), StatusCode::OK);
    let json: Value = r.json().await.expect("json");
    assert_eq!(json["code"], 200, "{json}");
    assert_eq!(json["message"], "success", "{json}");
    json["data"].clone()
}

/// Polls HiAPI until the task is `success` or `fail`.
async fn wait(app: &TestApp, id: &str) -> Value {
    wait_as(app, &app.key, id).await
}

async fn wait_as(app: &TestApp, key: &str, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let data = task_as(app, key, id).await;
        match data["status"].as_str() {
            Some("success" | "fail") => return data,
            Some("queued" | "handling" | "archiving") => {}
            other => panic!("unexpected status {other:?}: {data}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "task {id} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn list(app: &TestApp, key: &str, query: &str) -> Value {
    let r = app
        .client
        .get(app.url(&format!("/v1/tasks{query}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let json: Value = r.json().await.expect("json");
    assert_eq!(
        (&json["code"], &json["message"]),
        (&json!(200), &json!("success"))
    );
    json["data"].clone()
}

/// Asserts HiAPI's error envelope: HTTP status = `code`, `data` null, `error_code`; returns the
/// message.
async fn assert_error(r: reqwest::Response, status: StatusCode, error_code: &str) -> String {
    let actual = r.status();
    let json: Value = r.json().await.expect("error body is JSON");
    assert_eq!(actual, status, "{json}");
    assert_eq!(json["code"], status.as_u16(), "{json}");
    assert_eq!(json["error_code"], error_code, "{json}");
    assert!(
        json["data"].is_null() && json.get("data").is_some(),
        "{json}"
    );
    let keys: Vec<&str> = json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{json}");
    json["message"].as_str().expect("message").to_string()
}

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Checks a `success` task: Unix-second times, one video output expiring 24 h after completion,
/// no `error`; downloads and inspects the video.
async fn assert_success(app: &TestApp, data: &Value, id: &str) -> seedgate_local_renderer::Mp4Info {
    assert_eq!(data["taskId"], id);
    assert_eq!(data["status"], "success", "{data}");
    assert!(data.get("error").is_none(), "{data}");
    let created = data["created"].as_i64().expect("created");
    let completed = data["completed"].as_i64().expect("completed");
    assert!(
        (now_s() - 120..=now_s()).contains(&created),
        "seconds: {data}"
    );
    assert!(completed >= created && completed <= now_s(), "{data}");
    let output = data["output"].as_array().expect("output");
    assert_eq!(output.len(), 1, "{data}");
    assert_eq!(output[0]["type"], "video");
    assert_eq!(output[0]["expireAt"], completed + DAY, "{data}");
    let url = output[0]["url"].as_str().expect("url");
    assert!(
        url.starts_with(&app.base) && crate::helpers::media_path(url).ends_with(".mp4"),
        "{url}"
    );
    let r = app.client.get(url).send().await.expect("download");
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.expect("bytes");
    seedgate_local_renderer::inspect(&bytes).expect("mp4")
}

#[tokio::test]
async fn example_text_to_video_with_audio() {
    let app = spawn_app().await;
    let body = json!({
      "model": "seedance-2.0-mini",
      "input": {
        "prompt": "Neon-lit cyberpunk street on a rainy night, slow camera push-in, vivid reflections on wet pavement, cinematic",
        "resolution": "720p",
        "duration": 5,
        "aspect_ratio": "16:9",
        "generate_audio": true
      }
    });
    let id = create_ok(&app, &body).await;
    // 720p, $0.1025/s × 5 s = 512.5 → 513 credits, held at submit.
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 513);
    let data = wait(&app, &id).await;
    assert_eq!(data["model"], "seedance-2.0-mini");
    let info = assert_success(&app, &data, &id).await;
    let v = info.video.expect("video track");
    assert_eq!((v.width, v.height), (1280, 720));
    assert!((info.duration_seconds - 5.0).abs() < 0.05);
    assert!(info.audio.is_some(), "generate_audio: true");
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 513);
}

#[tokio::test]
async fn example_image_to_video_first_frame() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let body = json!({
      "model": "seedance-2.0-mini",
      "input": {
        "prompt": "Camera slowly pulls back, clouds drifting between mountain peaks, golden morning light",
        "first_frame_url": media.image("800x600.jpg"),
        "resolution": "720p",
        "duration": 5,
        "generate_audio": false
      }
    });
    let id = create_ok(&app, &body).await;
    let data = wait(&app, &id).await;
    let info = assert_success(&app, &data, &id).await;
    let v = info.video.expect("video track");
    // aspect_ratio defaults to 16:9.
    assert_eq!((v.width, v.height), (1280, 720));
    assert!((info.duration_seconds - 5.0).abs() < 0.05);
    assert!(info.audio.is_none(), "generate_audio: false");
}

#[tokio::test]
async fn defaults_are_hiapis_audio_on_720p_16_9_5s() {
    let app = spawn_app().await;
    let id = create_ok(
        &app,
        &json!({"model": "seedance-2.0-mini", "input": {"prompt": "a lighthouse at dusk"}}),
    )
    .await;
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 513, "720p × 5 s");
    let data = wait(&app, &id).await;
    let info = assert_success(&app, &data, &id).await;
    let v = info.video.expect("video");
    assert_eq!((v.width, v.height), (1280, 720));
    assert!((info.duration_seconds - 5.0).abs() < 0.05);
    assert!(
        info.audio.is_some(),
        "HiAPI defaults generate_audio to true (reAPI to false)"
    );
}

#[tokio::test]
async fn every_error_has_its_code_status_and_hiapi_field_names_and_charges_nothing() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let img = "https://example.com/a.jpg";
    let m = "seedance-2.0-mini";
    let input = |extra: Value| {
        let mut i = json!({"prompt": "a red fox in snow"});
        for (k, v) in extra.as_object().expect("object") {
            i[k] = v.clone();
        }
        json!({"model": m, "input": i})
    };
    let cases: Vec<(&str, Value, StatusCode, &str, &str)> = vec![
        (
            "missing model",
            json!({"input": {"prompt": "x"}}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "model",
        ),
        (
            "unknown model",
            json!({"model": "gpt-image-1", "input": {"prompt": "x"}}),
            StatusCode::BAD_REQUEST,
            "MODEL_NOT_SUPPORTED",
            "gpt-image-1",
        ),
        (
            "2.5 not served",
            json!({"model": "seedance-2.5", "input": {"prompt": "x"}}),
            StatusCode::BAD_REQUEST,
            "MODEL_NOT_SUPPORTED",
            "not yet available",
        ),
        (
            "missing input",
            json!({"model": m}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "`input`",
        ),
        (
            "missing prompt",
            json!({"model": m, "input": {"first_frame_url": img}}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.prompt",
        ),
        (
            "unknown top-level field",
            json!({"model": m, "input": {"prompt": "x"}, "prompt": "x"}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "`prompt`",
        ),
        (
            "unknown input field",
            input(json!({"negative_prompt": "blur"})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.negative_prompt",
        ),
        (
            "reAPI-only field",
            input(json!({"web_search": true})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.web_search",
        ),
        (
            "resolution 1080p",
            input(json!({"resolution": "1080p"})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.resolution",
        ),
        (
            "aspect ratio",
            input(json!({"aspect_ratio": "5:4"})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.aspect_ratio",
        ),
        (
            "duration 3",
            input(json!({"duration": 3})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.duration",
        ),
        (
            "duration 16",
            input(json!({"duration": 16})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.duration",
        ),
        (
            "duration string",
            input(json!({"duration": "5"})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.duration",
        ),
        (
            "generate_audio not bool",
            input(json!({"generate_audio": "yes"})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.generate_audio",
        ),
        (
            "prompt too long",
            input(json!({"prompt": "x".repeat(20_001)})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "20000",
        ),
        (
            "data URI frame",
            input(json!({"first_frame_url": "data:image/png;base64,AAAA"})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.first_frame_url",
        ),
        (
            "data URI reference",
            input(json!({"reference_image_urls": [img, "data:image/png;base64,AAAA"]})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.reference_image_urls[1]",
        ),
        (
            "last frame alone",
            input(json!({"last_frame_url": img})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.last_frame_url",
        ),
        (
            "frame with references",
            input(json!({"first_frame_url": img, "reference_image_urls": [img]})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.first_frame_url",
        ),
        (
            "ten reference images",
            input(json!({"reference_image_urls": vec![img; 10]})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.reference_image_urls",
        ),
        (
            "audio-only reference",
            input(json!({"reference_audio_urls": ["https://e.com/a.mp3"]})),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "input.reference_audio_urls",
        ),
        (
            "callback.when not final",
            json!({"model": m, "input": {"prompt": "x"}, "callback": {"url": "https://e.com/cb", "when": "progress"}}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "callback.when",
        ),
        (
            "callback without url",
            json!({"model": m, "input": {"prompt": "x"}, "callback": {"when": "final"}}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "callback.url",
        ),
        (
            "callback url not http",
            json!({"model": m, "input": {"prompt": "x"}, "callback": {"url": "ftp://e.com/cb"}}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "callback.url",
        ),
        (
            "unknown callback field",
            json!({"model": m, "input": {"prompt": "x"}, "callback": {"url": "https://e.com/cb", "secret": "s"}}),
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "callback.secret",
        ),
        (
            "unreadable reference video",
            input(
                json!({"reference_image_urls": [media.image("640x640.png")], "reference_video_urls": [format!("{}/garbage.mp4", media.base)]}),
            ),
            StatusCode::BAD_REQUEST,
            "MEDIA_UNREADABLE",
            "input.reference_video_urls[0]",
        ),
    ];
    let balance = app.balance_of(&app.key).await;
    for (name, body, status, code, mention) in cases {
        let message = assert_error(create_as(&app, &app.key, &body).await, status, code).await;
        assert!(
            message.contains(mention),
            "{name}: `{message}` should mention `{mention}`"
        );
    }
    for raw in ["not json", "[1]", "", "{\"model\":"] {
        let r = app
            .client
            .post(app.url("/v1/tasks"))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .expect("request");
        assert_error(r, StatusCode::BAD_REQUEST, "INVALID_REQUEST").await;
    }
    assert_eq!(app.balance_of(&app.key).await, balance);
    let tasks = app.store.ledger_dump().await.expect("dump").tasks;
    assert!(tasks.is_empty(), "no task was created: {tasks:?}");
}

#[tokio::test]
async fn callback_url_is_taken_with_when_final_or_absent() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    // A callback URL the SSRF-safe fetcher may call in tests (the loopback media server).
    let url = format!("{}/hiapi/callback", media.base);
    for callback in [json!({"url": url, "when": "final"}), json!({"url": url})] {
        let id = create_ok(
            &app,
            &json!({"model": "seedance-2.0-mini", "input": {"prompt": "x [[seedgate:fail]]", "resolution": "480p", "duration": 4}, "callback": callback}),
        )
        .await;
        let r = app
            .client
            .get(app.url(&format!("/api/v1/tasks/{id}/callbacks")))
            .bearer_auth(&app.key)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.json::<Value>().await.expect("json")["callback_url"],
            url.as_str()
        );
    }
}

#[tokio::test]
async fn auth_credit_and_lookup_errors() {
    let app = spawn_app().await;
    let ok = json!({"model": "seedance-2.0-mini", "input": {"prompt": "x", "resolution": "480p", "duration": 4}});
    // Auth comes first, whatever the body.
    let r = app
        .client
        .post(app.url("/v1/tasks"))
        .body("not json")
        .send()
        .await
        .expect("request");
    assert_error(r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let r = create_as(&app, "sg_live_wrong", &json!({"bogus": 1})).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let r = app
        .client
        .get(app.url("/v1/tasks"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .expect("request");
    assert_error(r, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;

    // 480p × 4 s costs 190 credits.
    let poor = app.create_key("poor", 189).await;
    let message = assert_error(
        create_as(&app, &poor, &ok).await,
        StatusCode::PAYMENT_REQUIRED,
        "INSUFFICIENT_CREDITS",
    )
    .await;
    assert!(message.contains("190"), "{message}");
    assert_eq!(app.balance_of(&poor).await, 189);

    let id = create_ok(&app, &ok).await;
    let intruder = app.create_key("intruder", 1000).await;
    assert_error(
        get_as(&app, &intruder, &id).await,
        StatusCode::NOT_FOUND,
        "TASK_NOT_FOUND",
    )
    .await;
    assert_error(
        get_as(&app, &app.key, "task_01k9s419324drezfbwnsvxyr6h").await,
        StatusCode::NOT_FOUND,
        "TASK_NOT_FOUND",
    )
    .await;
    assert_eq!(list(&app, &intruder, "").await["total"], 0);

    let r = app
        .client
        .get(app.url("/v1/nope"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    assert_error(r, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let r = app
        .client
        .delete(app.url(&format!("/v1/tasks/{id}")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    assert_error(r, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn idempotency_key_replays_and_conflicts_in_hiapi_envelope() {
    let app = spawn_app().await;
    let body = json!({"model": "seedance-2.0-mini", "input": {"prompt": "once", "resolution": "480p", "duration": 4}});
    let send = |body: Value| {
        app.client
            .post(app.url("/v1/tasks"))
            .bearer_auth(&app.key)
            .header("idempotency-key", "hiapi-1")
            .json(&body)
            .send()
    };
    let first: Value = send(body.clone())
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    let r = send(body.clone()).await.expect("req");
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let second: Value = r.json().await.expect("json");
    assert_eq!(first, second);
    assert_eq!(
        app.balance_of(&app.key).await,
        100_000 - 190,
        "charged once"
    );
    let mut other = body;
    other["input"]["prompt"] = json!("twice");
    assert_error(
        send(other).await.expect("req"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 190);
}

#[tokio::test]
async fn failed_task_shows_fail_with_error_and_is_refunded() {
    let app = spawn_app().await;
    let id = create_ok(
        &app,
        &json!({"model": "seedance-2.0-mini", "input": {"prompt": "flagged [[seedgate:fail:moderation]]", "resolution": "480p", "duration": 4}}),
    )
    .await;
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 190);
    let data = wait(&app, &id).await;
    assert_eq!(data["status"], "fail", "{data}");
    assert!(
        data.get("output").is_none(),
        "output only on success: {data}"
    );
    assert_eq!(data["error"]["code"], "CONTENT_MODERATION", "{data}");
    assert!(
        !data["error"]["message"]
            .as_str()
            .expect("message")
            .is_empty(),
        "{data}"
    );
    let created = data["created"].as_i64().expect("created");
    assert!(data["completed"].as_i64().expect("completed") >= created);
    assert_eq!(app.balance_of(&app.key).await, 100_000, "refunded");
}

#[tokio::test]
async fn queued_and_running_tasks_have_no_completion_output_or_error() {
    let app = spawn_app_with(|s| s.worker.concurrency = 1).await;
    let slow = create_ok(
        &app,
        &json!({"model": "seedance-2.0-mini", "input": {"prompt": "slow [[seedgate:delay:4000]]", "resolution": "480p", "duration": 4}}),
    )
    .await;
    let start = Instant::now();
    let running = loop {
        let data = task(&app, &slow).await;
        if data["status"] != "queued" {
            break data;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(running["status"], "handling", "{running}");
    let queued_id = create_ok(
        &app,
        &json!({"model": "seedance-2.0-mini", "input": {"prompt": "waits", "resolution": "480p", "duration": 4}}),
    )
    .await;
    let queued = task(&app, &queued_id).await;
    for data in [&running, &queued] {
        assert_eq!(data["completed"], 0, "{data}");
        assert!(
            data.get("output").is_none() && data.get("error").is_none(),
            "{data}"
        );
    }
    assert_eq!(queued["status"], "queued", "{queued}");
    assert_eq!(queued["model"], "seedance-2.0-mini");
}

#[tokio::test]
async fn list_pages_newest_first_with_total_and_fallbacks() {
    let app = spawn_app().await;
    let key = app.create_key("lister", 10_000).await;
    let mut ids = Vec::new();
    for prompt in [
        "first [[seedgate:fail:invalid_input]]",
        "second [[seedgate:fail:upstream_error]]",
        "third",
    ] {
        let body = json!({"model": "seedance-2.0-mini", "input": {"prompt": prompt, "resolution": "480p", "duration": 4}});
        ids.push(create_ok_as(&app, &key, &body).await);
    }
    // Someone else's task never shows up.
    create_ok(&app, &json!({"model": "seedance-2.0-mini", "input": {"prompt": "other [[seedgate:fail]]", "resolution": "480p", "duration": 4}})).await;
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    let task_ids = |data: &Value| -> Vec<String> {
        data["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| t["taskId"].as_str().expect("taskId").to_string())
            .collect()
    };

    let all = list(&app, &key, "").await;
    assert_eq!(
        (&all["page"], &all["size"], &all["total"]),
        (&json!(1), &json!(20), &json!(3))
    );
    assert_eq!(task_ids(&all), newest_first);

    let p1 = list(&app, &key, "?page=1&size=2").await;
    assert_eq!(
        (&p1["page"], &p1["size"], &p1["total"]),
        (&json!(1), &json!(2), &json!(3))
    );
    assert_eq!(task_ids(&p1), newest_first[..2]);
    let p2 = list(&app, &key, "?page=2&size=2").await;
    assert_eq!((&p2["page"], &p2["total"]), (&json!(2), &json!(3)));
    assert_eq!(task_ids(&p2), newest_first[2..]);
    let p3 = list(&app, &key, "?page=3&size=2").await;
    assert_eq!(p3["total"], 3);
    assert!(task_ids(&p3).is_empty());

    for (query, page, size) in [
        ("?size=0", 1, 20),
        ("?size=101", 1, 20),
        ("?size=-5&page=0", 1, 20),
        ("?page=abc&size=x", 1, 20),
        ("?size=100", 1, 100),
        ("?size=1&page=3", 3, 1),
    ] {
        let data = list(&app, &key, query).await;
        assert_eq!(
            (&data["page"], &data["size"]),
            (&json!(page), &json!(size)),
            "{query}"
        );
        assert_eq!(data["total"], 3, "{query}");
    }
    assert_eq!(
        task_ids(&list(&app, &key, "?size=1&page=3").await),
        [ids[0].clone()]
    );

    // Items carry exactly the listed fields; output only on success, never an error.
    for id in &ids {
        wait_as(&app, &key, id).await;
    }
    let all = list(&app, &key, "?size=100").await;
    for item in all["tasks"].as_array().expect("tasks") {
        let mut keys: Vec<&str> = item
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let expected: &[&str] = if item["status"] == "success" {
            &[
                "completed",
                "created",
                "model",
                "output",
                "status",
                "taskId",
            ]
        } else {
            &["completed", "created", "model", "status", "taskId"]
        };
        assert_eq!(keys, expected, "{item}");
        assert!(item["completed"].as_i64().expect("completed") > 0);
    }
    let statuses: Vec<&Value> = all["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| &t["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!("success"), &json!("fail"), &json!("fail")]
    );
}

#[tokio::test]
async fn tasks_cross_between_reapi_and_hiapi() {
    let app = spawn_app().await;
    // reAPI → HiAPI, with an alias echoed as sent.
    let from_reapi = app
        .submit_ok(&json!({"model": "seedance-2-0-mini", "prompt": "a paper boat", "resolution": "480p", "duration": 4}))
        .await;
    // HiAPI → reAPI.
    let from_hiapi = create_ok(
        &app,
        &json!({"model": "seedance-2.0-mini", "input": {"prompt": "a kite", "resolution": "480p", "duration": 4, "generate_audio": false}}),
    )
    .await;

    let data = wait(&app, &from_reapi).await;
    assert_eq!(data["model"], "seedance-2-0-mini");
    let info = assert_success(&app, &data, &from_reapi).await;
    let v = info.video.expect("video");
    assert_eq!((v.width, v.height), (864, 496));
    assert!(info.audio.is_none(), "reAPI's default: no audio");

    let reapi_view = app.wait_for_task(&from_hiapi).await;
    assert_eq!(reapi_view["id"], from_hiapi.as_str());
    assert_eq!(reapi_view["status"], "completed", "{reapi_view}");
    assert_eq!(reapi_view["model"], "seedance-2.0-mini");
    let hiapi_view = wait(&app, &from_hiapi).await;
    assert_eq!(
        reapi_view["output"]["video_urls"][0],
        hiapi_view["output"][0]["url"]
    );
    assert_eq!(reapi_view["created_at"], hiapi_view["created"]);

    let listed = list(&app, &app.key, "").await;
    assert_eq!(listed["total"], 2);
}

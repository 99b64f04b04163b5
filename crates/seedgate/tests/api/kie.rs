//! The Kie dialect: `POST /api/v1/jobs/createTask` (`{code, msg, data}`) and
//! `GET /api/v1/jobs/recordInfo?taskId=` (`{code, message, data}`), with Unix-millisecond times,
//! JSON strings for `param` and `resultJson`, and `{code, msg, data:null}` errors whose HTTP
//! status equals `code` (422 for invalid requests).

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MODEL: &str = "bytedance/seedance-2-mini";

async fn create_as(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/jobs/createTask"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request")
}

/// Creates a task, checking the whole create envelope (`msg`, not `message`); returns its id.
async fn create_ok(app: &TestApp, body: &Value) -> String {
    let r = create_as(app, &app.key, body).await;
    let status = r.status();
    let json: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{json}");
    let id = json["data"]["taskId"].as_str().expect("taskId").to_string();
    assert!(id.starts_with("task_"), "{json}");
    assert_eq!(
        json,
        json!({"code": 200, "msg": "success", "data": {"taskId": id}})
    );
    id
}

async fn record_as(app: &TestApp, key: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/jobs/recordInfo{query}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
}

/// `data` of recordInfo, checking the envelope (`message` here).
async fn record(app: &TestApp, id: &str) -> Value {
    let r = record_as(app, &app.key, &format!("?taskId={id}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let json: Value = r.json().await.expect("json");
    assert_eq!(json["code"], 200, "{json}");
    assert_eq!(json["message"], "success", "{json}");
    assert!(json.get("msg").is_none(), "{json}");
    json["data"].clone()
}

/// Polls recordInfo until the task is `success` or `fail`.
async fn wait(app: &TestApp, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let data = record(app, id).await;
        match data["state"].as_str() {
            Some("success" | "fail") => return data,
            Some("waiting" | "queuing" | "generating") => {}
            other => panic!("unexpected state {other:?}: {data}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "task {id} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts Kie's error envelope `{code, msg, data:null}` with HTTP status = `code`; returns
/// `msg`.
async fn assert_error(r: reqwest::Response, status: StatusCode) -> String {
    let actual = r.status();
    let json: Value = r.json().await.expect("error body is JSON");
    assert_eq!(actual, status, "{json}");
    assert_eq!(json["code"], status.as_u16(), "{json}");
    assert!(json.get("data").is_some_and(Value::is_null), "{json}");
    assert_eq!(json.as_object().expect("object").len(), 3, "{json}");
    json["msg"].as_str().expect("msg").to_string()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn parse_string(data: &Value, field: &str) -> Value {
    let s = data[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string: {data}"));
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{field} is JSON ({e}): {s}"))
}

#[tokio::test]
async fn create_and_record_info_have_kies_shapes() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let frame = media.image("800x600.jpg");
    // A callback URL the SSRF-safe fetcher may call in tests (the loopback media server).
    let callback = format!("{}/kie/callback", media.base);
    let body = json!({
        "model": MODEL,
        "callBackUrl": callback,
        "input": {
            "prompt": "a paper boat drifting down a gutter stream",
            "first_frame_url": frame,
            "resolution": "480p",
            "aspect_ratio": "9:16",
            "duration": 4,
            "generate_audio": false
        }
    });
    let before = now_ms();
    let id = create_ok(&app, &body).await;
    // 480p × 4 s = 190 credits held.
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 190);
    let data = wait(&app, &id).await;

    assert_eq!(data["taskId"], id.as_str());
    assert_eq!(data["model"], MODEL, "echoed as sent");
    assert_eq!(data["state"], "success", "{data}");
    assert_eq!(
        (&data["failCode"], &data["failMsg"]),
        (&json!(""), &json!(""))
    );
    let created = data["createTime"].as_i64().expect("createTime");
    let updated = data["updateTime"].as_i64().expect("updateTime");
    let completed = data["completeTime"].as_i64().expect("completeTime");
    assert!(
        created >= before - 1000 && created <= now_ms(),
        "ms: {data}"
    );
    assert!(
        completed >= created && updated >= created && completed <= now_ms(),
        "{data}"
    );
    assert_eq!(data["costTime"], completed - created, "{data}");

    let result = parse_string(&data, "resultJson");
    let urls = result["resultUrls"].as_array().expect("resultUrls");
    assert_eq!(urls.len(), 1, "{result}");
    assert_eq!(result.as_object().expect("object").len(), 1, "{result}");
    let url = urls[0].as_str().expect("url");
    assert!(
        url.starts_with(&app.base) && crate::helpers::media_path(url).ends_with(".mp4"),
        "{url}"
    );
    let bytes = app
        .client
        .get(url)
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    let info = seedgate_local_renderer::inspect(&bytes).expect("mp4");
    assert_eq!(
        info.video.map(|v| (v.width, v.height)),
        Some((496, 864)),
        "480p 9:16"
    );
    assert!(info.audio.is_none(), "generate_audio: false");

    // param: the create body, reconstructed with every value the task ran with.
    let param = parse_string(&data, "param");
    assert_eq!(
        param,
        json!({
            "model": MODEL,
            "callBackUrl": callback,
            "input": {
                "prompt": "a paper boat drifting down a gutter stream",
                "first_frame_url": frame,
                "generate_audio": false,
                "resolution": "480p",
                "aspect_ratio": "9:16",
                "duration": 4,
                "web_search": false,
                "nsfw_checker": false
            }
        })
    );
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 190);
    // callBackUrl is the task's callback URL.
    let r = app
        .client
        .get(app.url(&format!("/api/v1/tasks/{id}/callbacks")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.json::<Value>().await.expect("json")["callback_url"],
        callback.as_str()
    );
}

#[tokio::test]
async fn defaults_are_kies_audio_on_16_9_720p_5s() {
    let app = spawn_app().await;
    let id = create_ok(
        &app,
        &json!({"model": MODEL, "input": {"prompt": "a lighthouse at dusk"}}),
    )
    .await;
    // Right after submit the task waits (or already generates), with no completion yet.
    let early = record(&app, &id).await;
    if early["state"] == "waiting" || early["state"] == "generating" {
        assert!(
            early["completeTime"].is_null() && early["costTime"].is_null(),
            "{early}"
        );
        assert_eq!(early["resultJson"], "");
    }
    // 720p × 5 s = 513 credits.
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 513);
    let data = wait(&app, &id).await;
    assert_eq!(data["state"], "success", "{data}");
    let param = parse_string(&data, "param");
    assert_eq!(
        param,
        json!({"model": MODEL, "input": {"prompt": "a lighthouse at dusk", "generate_audio": true,
            "resolution": "720p", "aspect_ratio": "16:9", "duration": 5, "web_search": false,
            "nsfw_checker": false}}),
        "no callBackUrl when none was given"
    );
    let result = parse_string(&data, "resultJson");
    let url = result["resultUrls"][0].as_str().expect("url");
    let bytes = app
        .client
        .get(url)
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    let info = seedgate_local_renderer::inspect(&bytes).expect("mp4");
    let v = info.video.expect("video");
    assert_eq!((v.width, v.height), (1280, 720));
    assert!((info.duration_seconds - 5.0).abs() < 0.05);
    assert!(info.audio.is_some(), "Kie defaults generate_audio to true");
}

#[tokio::test]
async fn waiting_and_generating_tasks_have_null_completion() {
    let app = spawn_app_with(|s| s.worker.concurrency = 1).await;
    let body = |prompt: &str| json!({"model": MODEL, "input": {"prompt": prompt, "resolution": "480p", "duration": 4}});
    let slow = create_ok(&app, &body("slow [[seedgate:delay:4000]]")).await;
    let start = Instant::now();
    let generating = loop {
        let data = record(&app, &slow).await;
        if data["state"] != "waiting" {
            break data;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(generating["state"], "generating", "{generating}");
    let queued = create_ok(&app, &body("waits")).await;
    let waiting = record(&app, &queued).await;
    assert_eq!(waiting["state"], "waiting", "{waiting}");
    for data in [&generating, &waiting] {
        // completeTime and costTime are present and null until the task is terminal.
        assert!(
            data.get("completeTime").is_some_and(Value::is_null),
            "{data}"
        );
        assert!(data.get("costTime").is_some_and(Value::is_null), "{data}");
        assert_eq!(
            (&data["resultJson"], &data["failCode"], &data["failMsg"]),
            (&json!(""), &json!(""), &json!(""))
        );
        assert!(data["createTime"].as_i64().expect("ms") > 1_700_000_000_000);
    }
}

#[tokio::test]
async fn failed_task_has_fail_code_and_message_and_is_refunded() {
    let app = spawn_app().await;
    let id = create_ok(
        &app,
        &json!({"model": MODEL, "input": {"prompt": "flagged [[seedgate:fail:moderation]]", "resolution": "480p", "duration": 4}}),
    )
    .await;
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 190);
    let data = wait(&app, &id).await;
    assert_eq!(data["state"], "fail", "{data}");
    assert_eq!(data["failCode"], "400", "moderation: {data}");
    assert!(
        !data["failMsg"].as_str().expect("failMsg").is_empty(),
        "{data}"
    );
    assert_eq!(data["resultJson"], "", "{data}");
    let completed = data["completeTime"].as_i64().expect("completeTime");
    assert!(completed >= data["createTime"].as_i64().expect("createTime"));
    assert_eq!(app.balance_of(&app.key).await, 100_000, "refunded");

    let id = create_ok(
        &app,
        &json!({"model": MODEL, "input": {"prompt": "bad [[seedgate:fail:invalid_input]]", "resolution": "480p", "duration": 4}}),
    )
    .await;
    assert_eq!(wait(&app, &id).await["failCode"], "422");
}

#[tokio::test]
async fn invalid_requests_are_422_with_kie_field_names_and_charge_nothing() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let img = "https://example.com/a.jpg";
    let input = |extra: Value| {
        let mut i = json!({"prompt": "a red fox in snow"});
        for (k, v) in extra.as_object().expect("object") {
            i[k] = v.clone();
        }
        json!({"model": MODEL, "input": i})
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing model", json!({"input": {"prompt": "x"}}), "model"),
        (
            "unknown model",
            json!({"model": "bytedance/seedance-2", "input": {"prompt": "x"}}),
            "bytedance/seedance-2",
        ),
        (
            "2.5 not served",
            json!({"model": "bytedance/seedance-2-5", "input": {"prompt": "x"}}),
            "not yet available",
        ),
        ("missing input", json!({"model": MODEL}), "`input`"),
        (
            "missing prompt",
            json!({"model": MODEL, "input": {}}),
            "prompt",
        ),
        (
            "snake_case callback",
            json!({"model": MODEL, "callback_url": "https://e.com", "input": {"prompt": "x"}}),
            "callback_url",
        ),
        (
            "bad callBackUrl",
            json!({"model": MODEL, "callBackUrl": "not a url", "input": {"prompt": "x"}}),
            "callBackUrl",
        ),
        (
            "unknown input field",
            input(json!({"seed": 3})),
            "input.seed",
        ),
        (
            "resolution 1080p",
            input(json!({"resolution": "1080p"})),
            "input.resolution",
        ),
        (
            "aspect ratio",
            input(json!({"aspect_ratio": "auto"})),
            "input.aspect_ratio",
        ),
        (
            "duration 3",
            input(json!({"duration": 3})),
            "input.duration",
        ),
        (
            "duration fractional",
            input(json!({"duration": 5.5})),
            "input.duration",
        ),
        (
            "web_search not bool",
            input(json!({"web_search": "yes"})),
            "input.web_search",
        ),
        (
            "nsfw_checker not bool",
            input(json!({"nsfw_checker": 0})),
            "input.nsfw_checker",
        ),
        (
            "prompt too long",
            input(json!({"prompt": "x".repeat(20_001)})),
            "20000",
        ),
        (
            "ftp frame",
            input(json!({"first_frame_url": "ftp://e.com/a.jpg"})),
            "input.first_frame_url",
        ),
        (
            "last frame alone",
            input(json!({"last_frame_url": img})),
            "input.last_frame_url",
        ),
        (
            "unknown asset",
            input(json!({"first_frame_url": "asset://asset_nope"})),
            "input.first_frame_url",
        ),
        (
            "frame with reference video",
            input(json!({"first_frame_url": img, "reference_video_urls": ["https://e.com/v.mp4"]})),
            "input.first_frame_url",
        ),
        (
            "four reference videos",
            input(
                json!({"reference_image_urls": [img], "reference_video_urls": vec!["https://e.com/v.mp4"; 4]}),
            ),
            "input.reference_video_urls",
        ),
        (
            "data URI reference",
            input(json!({"reference_image_urls": [img, "data:image/png;base64,AAAA"]})),
            "input.reference_image_urls[1]",
        ),
        (
            "unreadable reference video",
            input(
                json!({"reference_image_urls": [media.image("640x640.png")], "reference_video_urls": [format!("{}/missing.mp4", media.base)]}),
            ),
            "input.reference_video_urls[0]",
        ),
    ];
    let balance = app.balance_of(&app.key).await;
    for (name, body, mention) in cases {
        let message = assert_error(
            create_as(&app, &app.key, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(
            message.contains(mention),
            "{name}: `{message}` should mention `{mention}`"
        );
    }
    // A body that is not a JSON object is 400.
    for raw in ["not json", "[1,2]", "", "{\"model\":"] {
        let r = app
            .client
            .post(app.url("/api/v1/jobs/createTask"))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .expect("request");
        assert_error(r, StatusCode::BAD_REQUEST).await;
    }
    assert_eq!(app.balance_of(&app.key).await, balance);
    let tasks = app.store.ledger_dump().await.expect("dump").tasks;
    assert!(tasks.is_empty(), "no task was created: {tasks:?}");
}

#[tokio::test]
async fn auth_credits_lookup_and_idempotency_errors() {
    let app = spawn_app().await;
    let ok = json!({"model": MODEL, "input": {"prompt": "x", "resolution": "480p", "duration": 4}});
    // 401 before the body is read.
    let r = app
        .client
        .post(app.url("/api/v1/jobs/createTask"))
        .body("not json")
        .send()
        .await
        .expect("request");
    assert_error(r, StatusCode::UNAUTHORIZED).await;
    assert_error(
        create_as(&app, "sg_live_wrong", &ok).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_error(
        record_as(&app, "sg_live_wrong", "?taskId=x").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // 402: 480p × 4 s costs 190 credits.
    let poor = app.create_key("poor", 189).await;
    let msg = assert_error(
        create_as(&app, &poor, &ok).await,
        StatusCode::PAYMENT_REQUIRED,
    )
    .await;
    assert!(msg.contains("insufficient credits"), "{msg}");
    assert_eq!(app.balance_of(&poor).await, 189);

    // 404 for an unknown task and for another key's; 422 without a taskId.
    let id = create_ok(&app, &ok).await;
    let intruder = app.create_key("intruder", 1000).await;
    assert_error(
        record_as(&app, &intruder, &format!("?taskId={id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(
        record_as(&app, &app.key, "?taskId=task_01k9s419324drezfbwnsvxyr6h").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let msg = assert_error(
        record_as(&app, &app.key, "").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(msg.contains("taskId"), "{msg}");
    assert_error(
        record_as(&app, &app.key, "?taskId=").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Unknown endpoints and methods under /api/v1/jobs/ answer in Kie's envelope.
    let r = app
        .client
        .get(app.url("/api/v1/jobs/nope"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    assert_error(r, StatusCode::NOT_FOUND).await;
    let r = app
        .client
        .get(app.url("/api/v1/jobs/createTask"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    assert_error(r, StatusCode::METHOD_NOT_ALLOWED).await;

    // Idempotency-Key: a replay returns the same task, another body under the key is 422.
    let send = |body: &Value| {
        app.client
            .post(app.url("/api/v1/jobs/createTask"))
            .bearer_auth(&app.key)
            .header("idempotency-key", "kie-1")
            .json(body)
            .send()
    };
    let first: Value = send(&ok).await.expect("req").json().await.expect("json");
    let r = send(&ok).await.expect("req");
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(first, r.json::<Value>().await.expect("json"));
    let mut other = ok.clone();
    other["input"]["prompt"] = json!("y");
    assert_error(
        send(&other).await.expect("req"),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Two tasks of 190 credits: `id` and the idempotent one.
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 2 * 190);
}

#[tokio::test]
async fn tasks_cross_between_reapi_and_kie() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    // reAPI → Kie: the reconstructed param carries reAPI's defaults and the model as sent.
    let reference = media.image("640x640.png");
    let from_reapi = app
        .submit_ok(
            &json!({"model": "seedance-2.0-mini", "prompt": "the cube spins",
            "reference_image_urls": [reference], "resolution": "480p", "duration": 4}),
        )
        .await;
    // Kie → reAPI, with an alias.
    let from_kie = create_ok(
        &app,
        &json!({"model": "seedance-2-mini", "input": {"prompt": "a kite", "resolution": "480p", "duration": 4}}),
    )
    .await;

    let data = wait(&app, &from_reapi).await;
    assert_eq!(data["state"], "success", "{data}");
    assert_eq!(data["model"], "seedance-2.0-mini");
    assert_eq!(
        parse_string(&data, "param"),
        json!({"model": "seedance-2.0-mini", "input": {"prompt": "the cube spins",
            "reference_image_urls": [reference], "generate_audio": false, "resolution": "480p",
            "aspect_ratio": "16:9", "duration": 4, "web_search": false, "nsfw_checker": true}})
    );
    let reapi_view = app.wait_for_task(&from_reapi).await;
    assert_eq!(
        parse_string(&data, "resultJson")["resultUrls"],
        reapi_view["output"]["video_urls"]
    );

    let reapi_view = app.wait_for_task(&from_kie).await;
    assert_eq!(reapi_view["status"], "completed", "{reapi_view}");
    assert_eq!(reapi_view["model"], "seedance-2-mini");
    let kie_view = wait(&app, &from_kie).await;
    assert_eq!(
        reapi_view["created_at"].as_i64().expect("s"),
        kie_view["createTime"].as_i64().expect("ms") / 1000
    );
}

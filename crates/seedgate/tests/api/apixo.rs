//! APIXO (`/api/v1/generateTask/{model}`, `/api/v1/statusTask/{model}`): every example of the
//! seed answered as the seed shows it, every row of its validation table, its failure codes, and
//! tasks of other dialects read back.

use crate::helpers::{spawn_app, TestApp};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MODEL: &str = "seedance-2-0-mini";

/// A local webhook receiver answering 200 (the seed's `your-server.com` does not resolve here,
/// and callback URLs are checked when a task is submitted). Returns its base URL and the bodies
/// it received.
pub(crate) async fn hook_server() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = received.clone();
    let router = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let sink = sink.clone();
        async move {
            if let (Ok(v), Ok(mut all)) = (serde_json::from_slice::<Value>(&body), sink.lock()) {
                all.push(v);
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, received)
}

async fn generate_as(app: &TestApp, key: &str, model: &str, body: &Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/generateTask/{model}")))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.expect("json body"))
}

async fn generate(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    generate_as(app, &app.key, MODEL, body).await
}

/// Submits, asserts the seed's acceptance envelope, returns the taskId.
async fn generate_ok(app: &TestApp, body: &Value) -> String {
    let (status, v) = generate(app, body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["code"], 200, "{v}");
    assert_eq!(v["message"], "success");
    assert_eq!(keys(&v["data"]), ["taskId"], "{v}");
    let id = v["data"]["taskId"].as_str().expect("taskId");
    assert!(id.starts_with("task_"), "{id}");
    id.to_string()
}

async fn status_of(app: &TestApp, model: &str, id: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/statusTask/{model}")))
        .query(&[("taskId", id)])
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.expect("json body"))
}

/// Polls `statusTask` until `state` satisfies `done`; returns `data`.
async fn wait_for(app: &TestApp, id: &str, done: impl Fn(&str) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (status, v) = status_of(app, MODEL, id).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(
            (v["code"].as_i64(), v["message"].as_str()),
            (Some(200), Some("success"))
        );
        if done(v["data"]["state"].as_str().expect("state")) {
            return v["data"].clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "task {id} stuck: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_terminal(app: &TestApp, id: &str) -> Value {
    wait_for(app, id, |s| s == "success" || s == "failed").await
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    k.sort();
    k
}

/// The CRUN view of a task, to check what seedgate understood of an APIXO request.
async fn crun_param(app: &TestApp, id: &str) -> Value {
    let r = app
        .client
        .get(app.url("/api/v1/client/job/TaskInfo"))
        .query(&[("task_id", id)])
        .header("x-api-key", &app.key)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    v["data"]["param"].clone()
}

/// Asserts an APIXO error: HTTP status = body `code`, `data.error` mentions `mention`.
async fn assert_apixo_error(r: reqwest::Response, status: StatusCode, mention: &str) -> Value {
    let actual = r.status();
    let v: Value = r.json().await.expect("error body is JSON");
    assert_eq!(actual, status, "{v}");
    assert_eq!(v["code"], status.as_u16(), "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(keys(&v["data"]), ["error"], "{v}");
    let detail = v["data"]["error"].as_str().expect("data.error");
    assert!(
        detail.contains(mention),
        "`{detail}` should mention `{mention}`"
    );
    v
}

fn quickstart() -> Value {
    json!({
        "request_type": "async",
        "input": {
            "mode": "text-to-video",
            "prompt": "a cinematic drone shot above a rainy city at night",
            "resolution": "720p",
            "duration": 5,
            "aspect_ratio": "16:9",
            "sound": true,
            "web_search": false
        }
    })
}

#[tokio::test]
async fn quickstart_submits_and_polls_to_the_seeds_success_response() {
    let app = spawn_app().await;
    let id = generate_ok(&app, &quickstart()).await;
    // $0.1025/s × 5 s = 512.5 → 513 credits.
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 513);

    let data = wait_terminal(&app, &id).await;
    assert_eq!(
        keys(&data),
        sorted(&[
            "taskId",
            "state",
            "resultJson",
            "createTime",
            "completeTime",
            "costTime"
        ]),
        "{data}"
    );
    assert_eq!(data["taskId"], id.as_str());
    assert_eq!(data["state"], "success");
    let create = data["createTime"].as_i64().expect("createTime");
    let complete = data["completeTime"].as_i64().expect("completeTime");
    assert!(create > 1_700_000_000_000, "Unix ms: {create}");
    assert!(complete >= create);
    assert_eq!(data["costTime"].as_i64(), Some(complete - create), "ms");
    // resultJson is a JSON string holding `{"resultUrls":[…]}`.
    let raw = data["resultJson"].as_str().expect("resultJson is a string");
    let payload: Value = serde_json::from_str(raw).expect("resultJson parses");
    assert_eq!(keys(&payload), ["resultUrls"]);
    let urls = payload["resultUrls"].as_array().expect("resultUrls");
    assert_eq!(urls.len(), 1);
    let url = urls[0].as_str().expect("url");
    assert!(
        url.starts_with(&app.base) && crate::helpers::media_path(url).ends_with(".mp4"),
        "{url}"
    );
    let video = app
        .client
        .get(url)
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    let info = seedgate_local_renderer::inspect(&video).expect("mp4");
    let v = info.video.expect("video track");
    assert_eq!((v.width, v.height), (1280, 720));
    assert!((info.duration_seconds - 5.0).abs() < 0.05);
    assert!(info.audio.is_some(), "sound: true makes an audio track");
}

#[tokio::test]
async fn request_body_examples_are_understood_and_priced() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let mut balance = app.balance_of(&app.key).await;

    // Text-to-video: 720p, 10 s → $1.025.
    let t2v = json!({
        "request_type": "async",
        "input": {
            "mode": "text-to-video",
            "prompt": "a slow tracking shot through a foggy pine forest at dawn",
            "resolution": "720p",
            "duration": 10,
            "aspect_ratio": "16:9",
            "sound": true,
            "web_search": false
        }
    });
    let id = generate_ok(&app, &t2v).await;
    assert_eq!(app.balance_of(&app.key).await, balance - 1025);
    balance -= 1025;
    let p = crun_param(&app, &id).await;
    assert_eq!(p["model"], "bytedance/seedance2-0-mini-t2v");
    assert_eq!(
        (
            &p["input"]["resolution"],
            &p["input"]["duration"],
            &p["input"]["aspect_ratio"],
            &p["input"]["audio"]
        ),
        (&json!("720p"), &json!(10), &json!("16:9"), &json!(true))
    );

    // First-and-last-frames (the seed's example.com frames are served locally): 720p, 5 s.
    let (start, end) = (media.image("720x1280.png"), media.image("720x1280.jpg"));
    let frames = json!({
        "request_type": "async",
        "input": {
            "mode": "first_and_last_frames",
            "prompt": "turn the still frames into a smooth cinematic camera move",
            "image_urls": [start, end],
            "resolution": "720p",
            "duration": 5,
            "aspect_ratio": "9:16",
            "sound": true,
            "web_search": false
        }
    });
    let id = generate_ok(&app, &frames).await;
    assert_eq!(app.balance_of(&app.key).await, balance - 513);
    balance -= 513;
    let p = crun_param(&app, &id).await;
    assert_eq!(p["model"], "bytedance/seedance2-0-mini-i2v");
    assert_eq!(p["input"]["img_urls"], json!([start, end]));
    assert_eq!(p["input"]["aspect_ratio"], "9:16");
    assert_eq!(p["callback_url"], Value::Null, "async mode has no callback");

    // Omni-reference: 480p, 6 s plus a 3 s reference video at the reference rate:
    // (6 + 3) × $0.03 = $0.27.
    let omni = json!({
        "request_type": "async",
        "input": {
            "mode": "omni_reference",
            "prompt": "create a stylish product ad using the visual references and voice rhythm",
            "image_urls": [media.image("640x640.png")],
            "video_urls": [media.video(3)],
            "audio_urls": [media.wav(3.0)],
            "resolution": "480p",
            "duration": 6,
            "aspect_ratio": "auto",
            "sound": true,
            "web_search": false
        }
    });
    let id = generate_ok(&app, &omni).await;
    assert_eq!(app.balance_of(&app.key).await, balance - 270);
    balance -= 270;
    let p = crun_param(&app, &id).await;
    assert_eq!(p["model"], "bytedance/seedance2-0-mini-r2v");
    assert_eq!(p["input"]["aspect_ratio"], "auto");
    assert_eq!(p["input"]["reference_videos"], json!([media.video(3)]));
    assert_eq!(p["input"]["reference_audios"], json!([media.wav(3.0)]));

    // Webhook callback mode: the same frames request, with its callback_url kept (a local
    // receiver stands in for your-server.com).
    let (hooks, _) = hook_server().await;
    let hook = format!("{hooks}/webhooks/apixo");
    let mut callback = frames.clone();
    callback["request_type"] = json!("callback");
    callback["callback_url"] = json!(hook);
    let id = generate_ok(&app, &callback).await;
    assert_eq!(app.balance_of(&app.key).await, balance - 513);
    let p = crun_param(&app, &id).await;
    assert_eq!(p["callback_url"], hook.as_str());
    // In async mode a callback_url is ignored.
    let mut ignored = t2v.clone();
    ignored["callback_url"] = json!(hook);
    ignored["input"]["resolution"] = json!("480p");
    ignored["input"]["duration"] = json!(4);
    let id = generate_ok(&app, &ignored).await;
    assert_eq!(crun_param(&app, &id).await["callback_url"], Value::Null);
}

#[tokio::test]
async fn defaults_and_lenient_values_are_the_seeds() {
    let app = spawn_app().await;
    // Only mode and prompt: 720p, 5 s, auto (16:9 without images), sound on, no web search.
    let id = generate_ok(
        &app,
        &json!({"input": {"mode": "text-to-video", "prompt": "  a lighthouse  "}}),
    )
    .await;
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 513);
    let p = crun_param(&app, &id).await;
    assert_eq!(p["input"]["prompt"], "a lighthouse", "trimmed");
    assert_eq!(p["input"]["resolution"], "720p");
    assert_eq!(p["input"]["duration"], 5);
    assert_eq!(p["input"]["aspect_ratio"], "auto");
    assert_eq!(p["input"]["audio"], true);

    // A numeric-string duration, a padded upper-case resolution, `{url}` image items.
    let media = MediaServer::start().await;
    let id = generate_ok(
        &app,
        &json!({"provider": "value", "input": {"mode": "omni_reference", "prompt": "p",
            "duration": "10", "resolution": " 480P ", "sound": false,
            "image_urls": [{"url": media.image("640x480.png")}]}}),
    )
    .await;
    // $0.0475/s × 10 s.
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 513 - 475);
    let p = crun_param(&app, &id).await;
    assert_eq!(p["input"]["resolution"], "480p");
    assert_eq!(p["input"]["duration"], 10);
    assert_eq!(p["input"]["audio"], false);
    assert_eq!(
        p["input"]["reference_images"],
        json!([media.image("640x480.png")])
    );

    // omni_reference with no media at all is a text-to-video request.
    let id = generate_ok(
        &app,
        &json!({"input": {"mode": "omni_reference", "prompt": "p", "resolution": "480p", "duration": 4}}),
    )
    .await;
    assert_eq!(
        crun_param(&app, &id).await["model"],
        "bytedance/seedance2-0-mini-t2v"
    );
}

#[tokio::test]
async fn status_shapes_processing_and_failed_are_the_seeds() {
    let app = spawn_app().await;
    let id = generate_ok(
        &app,
        &json!({"input": {"mode": "text-to-video", "prompt": "slow [[seedgate:delay:2500]]",
            "resolution": "480p", "duration": 4}}),
    )
    .await;
    let data = wait_for(&app, &id, |s| s != "pending").await;
    assert_eq!(data["state"], "processing", "{data}");
    assert_eq!(
        keys(&data),
        sorted(&["taskId", "state", "createTime"]),
        "{data}"
    );
    assert_eq!(data["taskId"], id.as_str());
    assert!(data["createTime"].as_i64().expect("ms") > 1_700_000_000_000);

    let before = app.balance_of(&app.key).await;
    let id = generate_ok(
        &app,
        &json!({"input": {"mode": "text-to-video", "prompt": "x [[seedgate:fail:upstream_error]]",
            "resolution": "480p", "duration": 4}}),
    )
    .await;
    assert_eq!(app.balance_of(&app.key).await, before - 190);
    let data = wait_terminal(&app, &id).await;
    assert_eq!(
        keys(&data),
        sorted(&[
            "taskId",
            "state",
            "failCode",
            "failMsg",
            "createTime",
            "completeTime"
        ]),
        "the seed's failed response has no costTime and no resultJson: {data}"
    );
    assert_eq!(data["state"], "failed");
    assert_eq!(data["failCode"], "StreamError");
    assert!(data["failMsg"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(data["completeTime"].as_i64() >= data["createTime"].as_i64());
    assert_eq!(app.balance_of(&app.key).await, before, "refunded");
}

#[tokio::test]
async fn every_failure_kind_has_its_fail_code_and_is_refunded() {
    let app = spawn_app().await;
    let before = app.balance_of(&app.key).await;
    let cases = [
        ("moderation", "SensitiveContent"),
        ("invalid_input", "PromptInvalid"),
        ("rate_limited", "RateLimited"),
        ("timeout", "Timeout"),
        ("expired", "Timeout"),
        ("upstream_error", "StreamError"),
        ("internal", "Unknown error"),
    ];
    let mut ids = Vec::new();
    for (kind, _) in cases {
        let prompt = format!("x [[seedgate:fail:{kind}]]");
        ids.push(
            generate_ok(
                &app,
                &json!({"input": {"mode": "text-to-video", "prompt": prompt, "resolution": "480p", "duration": 4}}),
            )
            .await,
        );
    }
    for ((kind, code), id) in cases.iter().zip(&ids) {
        let data = wait_terminal(&app, id).await;
        assert_eq!(data["state"], "failed", "{kind}: {data}");
        assert_eq!(data["failCode"], *code, "{kind}");
    }
    assert_eq!(app.balance_of(&app.key).await, before);
}

#[tokio::test]
async fn every_validation_row_fails_before_task_creation() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let img = media.image("640x640.png");
    let t2v = |extra: Value| {
        let mut input = json!({"mode": "text-to-video", "prompt": "a red fox in snow"});
        for (k, v) in extra.as_object().expect("object") {
            input[k] = v.clone();
        }
        json!({"input": input})
    };
    let omni = |extra: Value| {
        let mut input = json!({"mode": "omni_reference", "prompt": "match the references"});
        for (k, v) in extra.as_object().expect("object") {
            input[k] = v.clone();
        }
        json!({"input": input})
    };
    let frames = |images: Value| json!({"input": {"mode": "first_and_last_frames", "prompt": "animate", "image_urls": images}});
    let bad = StatusCode::BAD_REQUEST;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "missing input",
            json!({"request_type": "async"}),
            "Missing required field: input",
        ),
        (
            "missing prompt",
            json!({"input": {"mode": "text-to-video"}}),
            "Missing required field: input.prompt",
        ),
        (
            "non-string prompt",
            t2v(json!({"prompt": 42})),
            "input.prompt",
        ),
        (
            "empty prompt",
            t2v(json!({"prompt": "   "})),
            "input.prompt",
        ),
        (
            "missing mode",
            json!({"input": {"prompt": "x"}}),
            "Missing required field: input.mode",
        ),
        (
            "unsupported mode",
            t2v(json!({"mode": "image-to-video"})),
            "input.mode",
        ),
        (
            "unsupported resolution",
            t2v(json!({"resolution": "1080p"})),
            "input.resolution",
        ),
        (
            "resolution not a string",
            t2v(json!({"resolution": 720})),
            "input.resolution",
        ),
        (
            "duration below 4",
            t2v(json!({"duration": 3})),
            "input.duration",
        ),
        (
            "duration above 15",
            t2v(json!({"duration": "16"})),
            "input.duration",
        ),
        (
            "duration not numeric",
            t2v(json!({"duration": "ten"})),
            "input.duration",
        ),
        (
            "duration fractional",
            t2v(json!({"duration": 5.5})),
            "input.duration",
        ),
        (
            "unsupported aspect_ratio",
            t2v(json!({"aspect_ratio": "5:4"})),
            "input.aspect_ratio",
        ),
        (
            "canonical adaptive is not APIXO's",
            t2v(json!({"aspect_ratio": "adaptive"})),
            "input.aspect_ratio",
        ),
        (
            "sound not a boolean",
            t2v(json!({"sound": "yes"})),
            "input.sound",
        ),
        (
            "web_search not a boolean",
            t2v(json!({"web_search": 1})),
            "input.web_search",
        ),
        (
            "first_and_last_frames without image_urls",
            json!({"input": {"mode": "first_and_last_frames", "prompt": "x"}}),
            "Missing required field: input.image_urls",
        ),
        (
            "first_and_last_frames with an empty list",
            frames(json!([])),
            "input.image_urls",
        ),
        (
            "first_and_last_frames with 3 images",
            frames(json!([img, img, img])),
            "input.image_urls",
        ),
        (
            "first_and_last_frames with a video",
            json!({"input": {"mode": "first_and_last_frames", "prompt": "x", "image_urls": [img], "video_urls": [media.video(3)]}}),
            "input.video_urls",
        ),
        (
            "text-to-video with images",
            t2v(json!({"image_urls": [img]})),
            "input.image_urls",
        ),
        (
            "text-to-video with audio",
            t2v(json!({"audio_urls": [media.wav(3.0)]})),
            "input.audio_urls",
        ),
        (
            "omni_reference with 10 images",
            omni(json!({"image_urls": vec![img.clone(); 10]})),
            "at most 9",
        ),
        (
            "omni_reference with 4 videos",
            omni(json!({"video_urls": vec![media.video(3); 4]})),
            "at most 3",
        ),
        (
            "omni_reference with 4 audio files",
            omni(json!({"image_urls": [img], "audio_urls": vec![media.wav(3.0); 4]})),
            "at most 3",
        ),
        (
            "omni_reference with only audio",
            omni(json!({"audio_urls": [media.wav(3.0)]})),
            "input.audio_urls",
        ),
        (
            "media item not a URL",
            omni(json!({"image_urls": [{"uri": img}]})),
            "input.image_urls[0]",
        ),
        (
            "media list not an array",
            omni(json!({"image_urls": img})),
            "input.image_urls",
        ),
        (
            "reference video shorter than 2 s",
            omni(json!({"video_urls": [media.video(1)]})),
            "input.video_urls[0]",
        ),
        (
            "reference video longer than 15 s",
            omni(json!({"video_urls": [media.video(16)]})),
            "input.video_urls[0]",
        ),
        (
            "reference audio shorter than 2 s",
            omni(json!({"image_urls": [img], "audio_urls": [media.wav(1.5)]})),
            "input.audio_urls[0]",
        ),
        (
            "reference audio longer than 15 s",
            omni(json!({"image_urls": [img], "audio_urls": [media.wav(16.0)]})),
            "input.audio_urls[0]",
        ),
        (
            "reference videos over 15 s in all",
            omni(json!({"video_urls": [media.video(8), media.video(8)]})),
            "input.video_urls",
        ),
        (
            "reference audio over 15 s in all",
            omni(json!({"image_urls": [img], "audio_urls": [media.wav(8.0), media.wav(8.0)]})),
            "input.audio_urls",
        ),
        (
            "unreadable reference video",
            omni(json!({"video_urls": [format!("{}/garbage.mp4", media.base)]})),
            "input.video_urls[0]",
        ),
        (
            "callback without callback_url",
            json!({"request_type": "callback", "input": {"mode": "text-to-video", "prompt": "x"}}),
            "Missing required field: callback_url",
        ),
        (
            "callback_url not a URL",
            json!({"request_type": "callback", "callback_url": "not a url", "input": {"mode": "text-to-video", "prompt": "x"}}),
            "callback_url",
        ),
        (
            "unknown request_type",
            json!({"request_type": "sync", "input": {"mode": "text-to-video", "prompt": "x"}}),
            "request_type",
        ),
        (
            "unknown provider",
            json!({"provider": "cheapest", "input": {"mode": "text-to-video", "prompt": "x"}}),
            "provider",
        ),
        (
            "unknown field",
            t2v(json!({"negative_prompt": "blur"})),
            "input.negative_prompt",
        ),
        (
            "1.5 pro field",
            t2v(json!({"fixed_lens": true})),
            "input.fixed_lens",
        ),
    ];
    let balance = app.balance_of(&app.key).await;
    for (name, body, mention) in cases {
        eprintln!("case: {name}");
        let (status, v) = generate(&app, &body).await;
        assert_eq!(status, bad, "{name}: {v}");
        assert_eq!(v["code"], 400, "{name}: {v}");
        assert_eq!(v["message"], "Invalid request", "{name}");
        let detail = v["data"]["error"].as_str().expect("data.error");
        assert!(
            detail.contains(mention),
            "{name}: `{detail}` should mention `{mention}`"
        );
    }
    // Not a JSON object at all.
    let r = app
        .client
        .post(app.url("/api/v1/generateTask/seedance-2-0-mini"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .expect("request");
    assert_apixo_error(r, bad, "JSON object").await;

    assert_eq!(app.balance_of(&app.key).await, balance);
    let tasks = app.store.ledger_dump().await.expect("dump").tasks;
    assert!(tasks.is_empty(), "no task was created: {tasks:?}");
}

#[tokio::test]
async fn http_errors_have_the_seeds_statuses_and_charge_nothing() {
    let app = spawn_app().await;
    let body = quickstart();
    let url = app.url("/api/v1/generateTask/seedance-2-0-mini");

    // 401: no key, a malformed header, an unknown key (whatever the body).
    let r = app.client.post(&url).json(&body).send().await.expect("req");
    let v = assert_apixo_error(r, StatusCode::UNAUTHORIZED, "Authorization").await;
    assert_eq!(v["message"], "Unauthorized");
    let r = app
        .client
        .post(&url)
        .header("authorization", "Token abc")
        .body("not json")
        .send()
        .await
        .expect("req");
    assert_apixo_error(r, StatusCode::UNAUTHORIZED, "Bearer").await;
    let r = app
        .client
        .post(&url)
        .bearer_auth("sg_live_nope")
        .json(&body)
        .send()
        .await
        .expect("req");
    assert_apixo_error(r, StatusCode::UNAUTHORIZED, "invalid").await;

    // 402: not enough credits.
    let poor = app.create_key("poor", 100).await;
    let (status, v) = generate_as(&app, &poor, MODEL, &body).await;
    assert_eq!(
        (status, &v["code"]),
        (StatusCode::PAYMENT_REQUIRED, &json!(402)),
        "{v}"
    );
    assert!(
        v["data"]["error"].as_str().expect("error").contains("513"),
        "{v}"
    );
    assert_eq!(app.balance_of(&poor).await, 100);

    // 403: a model this gateway does not serve.
    for model in ["seedance-2-0", "seedance-2.5", "seedance-1-5-pro"] {
        let (status, v) = generate_as(&app, &app.key, model, &body).await;
        assert_eq!(
            (status, &v["code"]),
            (StatusCode::FORBIDDEN, &json!(403)),
            "{model}: {v}"
        );
        assert!(
            v["data"]["error"].as_str().expect("error").contains(model),
            "{v}"
        );
    }
    // Aliases of the served model are accepted.
    let (status, v) = generate_as(
        &app,
        &app.key,
        "seedance-2.0-mini",
        &json!({"input": {"mode": "text-to-video", "prompt": "x", "resolution": "480p", "duration": 4}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["data"]["taskId"].as_str().expect("taskId").to_string();

    // 404: an unknown task, a task polled under another model, an unknown route.
    let (status, v) = status_of(&app, MODEL, "task_01k9s419324drezfbwnsvxyr6h").await;
    assert_eq!(
        (status, &v["code"]),
        (StatusCode::NOT_FOUND, &json!(404)),
        "{v}"
    );
    assert_eq!(v["data"]["error"], "task not found");
    let (status, other_model) = status_of(&app, "seedance-2.5", &id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(other_model, v, "indistinguishable from an unknown task");
    let (status, _) = status_of(&app, "dreamina-seedance-2-0-mini-260615", &id).await;
    assert_eq!(status, StatusCode::OK, "any name of the task's model");
    let intruder = app.create_key("intruder", 1000).await;
    let r = app
        .client
        .get(app.url("/api/v1/statusTask/seedance-2-0-mini"))
        .query(&[("taskId", id.as_str())])
        .bearer_auth(&intruder)
        .send()
        .await
        .expect("req");
    assert_apixo_error(r, StatusCode::NOT_FOUND, "task not found").await;
    let r = app
        .client
        .get(app.url("/api/v1/statusTask/seedance-2-0-mini"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("req");
    assert_apixo_error(r, StatusCode::BAD_REQUEST, "Missing required field: taskId").await;
    let r = app
        .client
        .get(app.url("/api/v1/generateTask/seedance-2-0-mini/extra"))
        .send()
        .await
        .expect("req");
    assert_apixo_error(r, StatusCode::NOT_FOUND, "no such endpoint").await;

    assert_eq!(
        app.balance_of(&app.key).await,
        100_000 - 190,
        "only the accepted task"
    );
}

#[tokio::test]
async fn tasks_of_other_dialects_read_back() {
    let app = spawn_app().await;
    // reAPI.
    let id = app
        .submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "a lighthouse", "resolution": "480p", "duration": 4}))
        .await;
    let data = wait_terminal(&app, &id).await;
    assert_eq!(data["state"], "success", "{data}");
    assert_eq!(data["taskId"], id.as_str());
    let reapi = app.wait_for_task(&id).await;
    let urls: Value =
        serde_json::from_str(data["resultJson"].as_str().expect("string")).expect("json");
    assert_eq!(urls["resultUrls"], reapi["output"]["video_urls"]);

    // CRUN.
    let r = app
        .client
        .post(app.url("/api/v1/client/job/CreateTask"))
        .header("x-api-key", &app.key)
        .json(&json!({"model": "bytedance/seedance2-0-mini-t2v",
            "input": {"prompt": "x [[seedgate:fail:moderation]]", "resolution": "480p", "duration": 4}}))
        .send()
        .await
        .expect("req");
    let v: Value = r.json().await.expect("json");
    let id = v["data"]["task_id"].as_str().expect("task_id");
    let data = wait_terminal(&app, id).await;
    assert_eq!(
        (&data["state"], &data["failCode"]),
        (&json!("failed"), &json!("SensitiveContent"))
    );
}

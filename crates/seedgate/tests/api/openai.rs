//! The OpenAI-style videos API (`/v1/videos`): the video object field by field, multipart and
//! JSON create, size mapping, input references, list pagination, delete, content download,
//! errors in OpenAI's envelope, and the official `openai` Python SDK end to end.

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::media_server::{make_image, MediaServer};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use seedgate_core::TaskId;
use seedgate_service::auth;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const MODEL: &str = "seedance-2.0-mini";
/// Fails at once, without rendering: for tests about the request, not the video.
const FAIL_FAST: &str = "[[seedgate:fail:invalid_input]]";

async fn create_json_as(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/v1/videos"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn create_json(app: &TestApp, body: &Value) -> reqwest::Response {
    create_json_as(app, &app.key, body).await
}

async fn create_form(app: &TestApp, form: Form) -> reqwest::Response {
    app.client
        .post(app.url("/v1/videos"))
        .bearer_auth(&app.key)
        .multipart(form)
        .send()
        .await
        .expect("request")
}

/// Asserts a 200 and returns the video object.
async fn ok_video(r: reqwest::Response) -> Value {
    let status = r.status();
    let json: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{json}");
    json
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request")
}

async fn get_video(app: &TestApp, id: &str) -> reqwest::Response {
    get(app, &format!("/v1/videos/{id}")).await
}

async fn delete_video(app: &TestApp, id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!("/v1/videos/{id}")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request")
}

/// Polls `GET /v1/videos/{id}` until `done` holds for the video object.
async fn wait_until(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let video = ok_video(get_video(app, id).await).await;
        if done(&video) {
            return video;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "video {id} stuck: {video}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_finished(app: &TestApp, id: &str) -> Value {
    wait_until(app, id, |v| {
        v["status"] == "completed" || v["status"] == "failed"
    })
    .await
}

/// Asserts an OpenAI error envelope; returns the error object.
async fn assert_openai_error(
    r: reqwest::Response,
    status: StatusCode,
    kind: &str,
    code: &str,
    param: Option<&str>,
) -> Value {
    let actual = r.status();
    let request_id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let json: Value = r.json().await.expect("error body is JSON");
    assert_eq!(actual, status, "{json}");
    let error = &json["error"];
    let keys: Vec<&str> = error
        .as_object()
        .expect("error object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{json}");
    for k in ["message", "type", "param", "code"] {
        assert!(keys.contains(&k), "{k} in {json}");
    }
    assert_eq!(error["type"], kind, "{json}");
    assert_eq!(error["code"], code, "{json}");
    assert_eq!(
        error["param"],
        param.map_or(Value::Null, Value::from),
        "{json}"
    );
    assert!(!error["message"].as_str().expect("message").is_empty());
    assert!(request_id.starts_with("req_"), "x-request-id {request_id}");
    error.clone()
}

fn poll_header(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("openai-poll-after-ms")
        .map(|v| v.to_str().expect("ascii").to_string())
}

fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The stored task, to see what a request became.
async fn stored_task(app: &TestApp, id: &str) -> seedgate_core::Task {
    let key = app
        .store
        .find_credential(&auth::hash_key(&app.key))
        .await
        .expect("lookup")
        .expect("key");
    app.store
        .get_task(&TaskId::from_string(id), &key.account.id)
        .await
        .expect("get")
        .expect("task exists")
}

fn text_form(fields: &[(&str, &str)]) -> Form {
    fields.iter().fold(Form::new(), |form, (k, v)| {
        form.text(k.to_string(), v.to_string())
    })
}

#[tokio::test]
async fn multipart_create_golden_video_object_and_content() {
    let app = spawn_app().await;
    let start = app.balance_of(&app.key).await;
    let before = chrono_now();
    let r = create_form(
        &app,
        text_form(&[
            ("prompt", "A lighthouse at dusk"),
            ("model", MODEL),
            ("seconds", "4"),
            ("size", "864x496"),
        ]),
    )
    .await;
    assert_eq!(poll_header(&r).as_deref(), Some("1000"));
    let created = ok_video(r).await;
    let mut keys: Vec<&str> = created
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = [
        "id",
        "object",
        "model",
        "status",
        "progress",
        "created_at",
        "completed_at",
        "expires_at",
        "error",
        "prompt",
        "seconds",
        "size",
        "remixed_from_video_id",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("task_"), "{id}");
    assert_eq!(created["object"], "video");
    assert_eq!(created["model"], MODEL);
    assert_eq!(created["status"], "queued");
    assert_eq!(created["progress"], 0);
    let created_at = created["created_at"].as_i64().expect("unix seconds");
    assert!(
        (before - 1..=before + 5).contains(&created_at),
        "{created_at}"
    );
    assert!(created["completed_at"].is_null() && created["expires_at"].is_null());
    assert!(created["error"].is_null() && created["remixed_from_video_id"].is_null());
    assert_eq!(created["prompt"], "A lighthouse at dusk");
    assert_eq!(created["seconds"], "4", "seconds is a string");
    assert_eq!(created["size"], "864x496");
    // 480p × 4 s × $0.0475 = 190 credits held.
    assert_eq!(app.balance_of(&app.key).await, start - 190);

    let done = wait_finished(&app, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    let completed_at = done["completed_at"].as_i64().expect("completed_at");
    assert!(completed_at >= created_at);
    assert_eq!(done["expires_at"], completed_at + 24 * 3600);
    assert_eq!(done["size"], "864x496");
    assert_eq!(done["seconds"], "4");
    assert!(done["error"].is_null());
    let r = get_video(&app, &id).await;
    assert_eq!(
        poll_header(&r),
        None,
        "finished videos carry no poll header"
    );
    assert_eq!(app.balance_of(&app.key).await, start - 190);

    let r = get(&app, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    let mp4 = r.bytes().await.expect("bytes");
    assert_eq!(&mp4[4..8], b"ftyp");
    let info = seedgate_local_renderer::inspect(&mp4).expect("mp4");
    let v = info.video.expect("video track");
    assert_eq!((v.width, v.height), (864, 496));
    assert!((info.duration_seconds - 4.0).abs() < 0.05);
    let same = get(&app, &format!("/v1/videos/{id}/content?variant=video")).await;
    assert_eq!(same.bytes().await.expect("bytes"), mp4);

    let r = get(&app, &format!("/v1/videos/{id}/content?variant=thumbnail")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = r.bytes().await.expect("bytes");
    assert_eq!(
        png_size(&png),
        (864, 496),
        "the thumbnail is the last frame"
    );

    let r = get(
        &app,
        &format!("/v1/videos/{id}/content?variant=spritesheet"),
    )
    .await;
    assert_openai_error(
        r,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "unsupported_value",
        Some("variant"),
    )
    .await;
    let r = get(&app, &format!("/v1/videos/{id}/content?variant=gif")).await;
    assert_openai_error(
        r,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_value",
        Some("variant"),
    )
    .await;
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

#[tokio::test]
async fn json_create_defaults_and_values() {
    let app = spawn_app().await;
    let start = app.balance_of(&app.key).await;
    // Only the prompt: seedance-2.0-mini, 4 s (OpenAI's default), the model's 720p 16:9.
    let v = ok_video(create_json(&app, &json!({"prompt": "a calm lake"})).await).await;
    assert_eq!(
        (&v["model"], &v["seconds"], &v["size"], &v["status"]),
        (
            &json!(MODEL),
            &json!("4"),
            &json!("1280x720"),
            &json!("queued")
        )
    );
    // 720p × 4 s × $0.1025 = 410 credits.
    assert_eq!(app.balance_of(&app.key).await, start - 410);
    let task = stored_task(&app, v["id"].as_str().expect("id")).await;
    assert_eq!(
        (
            task.request.duration_seconds,
            task.request.resolution.as_str(),
            task.request.aspect_ratio.as_str()
        ),
        (4, "720p", "16:9")
    );
    assert!(task.request.return_last_frame, "asked for the thumbnail");

    // seconds as an integer or a string, an alias as the model, OpenAI's portrait size.
    for (seconds, alias) in [
        (json!(5), "seedance-2-0-mini"),
        (json!("6"), "bytedance/seedance-2-mini"),
    ] {
        let v = ok_video(
            create_json(
                &app,
                &json!({"prompt": format!("a kite {FAIL_FAST}"), "model": alias, "seconds": seconds, "size": "720x1280"}),
            )
            .await,
        )
        .await;
        assert_eq!(v["model"], alias, "the name sent is echoed");
        assert_eq!(v["seconds"], seconds.to_string().trim_matches('"'));
        assert_eq!(v["size"], "720x1280");
        let task = stored_task(&app, v["id"].as_str().expect("id")).await;
        assert_eq!(task.request.model, MODEL);
        assert_eq!(task.request.aspect_ratio.as_str(), "9:16");
    }
}

#[tokio::test]
async fn every_output_size_maps_and_others_are_refused() {
    let app = spawn_app().await;
    let sizes = [
        ("864x496", "480p", "16:9"),
        ("752x560", "480p", "4:3"),
        ("640x640", "480p", "1:1"),
        ("560x752", "480p", "3:4"),
        ("496x864", "480p", "9:16"),
        ("992x432", "480p", "21:9"),
        ("1280x720", "720p", "16:9"),
        ("1112x834", "720p", "4:3"),
        ("960x960", "720p", "1:1"),
        ("834x1112", "720p", "3:4"),
        ("720x1280", "720p", "9:16"),
        ("1470x630", "720p", "21:9"),
    ];
    for (size, resolution, ratio) in sizes {
        let v = ok_video(
            create_json(
                &app,
                &json!({"prompt": format!("x {FAIL_FAST}"), "size": size, "seconds": 4}),
            )
            .await,
        )
        .await;
        assert_eq!(v["size"], size);
        let task = stored_task(&app, v["id"].as_str().expect("id")).await;
        assert_eq!(
            (
                task.request.resolution.as_str(),
                task.request.aspect_ratio.as_str()
            ),
            (resolution, ratio),
            "{size}"
        );
    }
    // Wait for the refunds, then check that refusals charge nothing and create nothing.
    let dump = app.store.ledger_dump().await.expect("dump");
    for t in &dump.tasks {
        wait_finished(&app, &t.task_id).await;
    }
    let balance = app.balance_of(&app.key).await;
    assert_eq!(balance, 100_000, "failed tasks are refunded");
    let tasks_before = dump.tasks.len();
    for bad in [
        "1920x1080",
        "1792x1024",
        "1024x1792",
        "1280*720",
        "720p",
        "16:9",
        "0x0",
    ] {
        let e = assert_openai_error(
            create_json(&app, &json!({"prompt": "x", "size": bad})).await,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_value",
            Some("size"),
        )
        .await;
        let message = e["message"].as_str().expect("message");
        for (size, _, _) in sizes {
            assert!(message.contains(size), "{message} lists {size}");
        }
    }
    assert_openai_error(
        create_form(&app, text_form(&[("prompt", "x"), ("size", "1024x1792")])).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_value",
        Some("size"),
    )
    .await;
    assert_eq!(app.balance_of(&app.key).await, balance);
    assert_eq!(
        app.store.ledger_dump().await.expect("dump").tasks.len(),
        tasks_before
    );
}

#[tokio::test]
async fn input_reference_in_every_form_is_the_first_frame() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let png = make_image(800, 600, image::ImageFormat::Png);

    // A file part, as the SDK sends it: stored as an asset of the key.
    let form = text_form(&[("prompt", &format!("x {FAIL_FAST}")), ("size", "1112x834")]).part(
        "input_reference",
        Part::bytes(png.clone())
            .file_name("frame.png")
            .mime_str("image/png")
            .expect("mime"),
    );
    let v = ok_video(create_form(&app, form).await).await;
    let task = stored_task(&app, v["id"].as_str().expect("id")).await;
    let first = task
        .request
        .first_frame_url
        .expect("first frame")
        .to_string();
    assert!(
        first.starts_with(&format!("{}/media/assets/asset_", app.base))
            && crate::helpers::media_path(&first).ends_with(".png"),
        "{first}"
    );
    assert_eq!(task.request.mode.as_str(), "i2v");

    // An asset uploaded earlier, by file_id.
    let r = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&app.key)
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .expect("upload");
    let asset: Value = r.json().await.expect("json");
    let asset_id = asset["id"].as_str().expect("id");
    let url = media.image("640x640.png");
    let data_url = format!("data:image/png;base64,{}", base64(&png));
    let forms = [
        json!({"file_id": asset_id}),
        json!({"image_url": url}),
        json!(url),
        json!({"image_url": data_url}),
    ];
    let mut created = Vec::new();
    for reference in forms {
        let v = ok_video(
            create_json(
                &app,
                &json!({"prompt": format!("x {FAIL_FAST}"), "input_reference": reference}),
            )
            .await,
        )
        .await;
        created.push(v["id"].as_str().expect("id").to_string());
        let task = stored_task(&app, v["id"].as_str().expect("id")).await;
        let first = task
            .request
            .first_frame_url
            .expect("first frame")
            .to_string();
        assert_eq!(task.request.mode.as_str(), "i2v", "{reference}");
        if reference.get("file_id").is_some() {
            assert_eq!(first, asset["url"].as_str().expect("url"));
        } else if first.starts_with(&media.base) {
            assert_eq!(first, url);
        } else {
            assert!(
                first.contains("/media/assets/asset_"),
                "data URL stored: {first}"
            );
        }
    }
    // The SDK's encoding of the object form in multipart.
    let form = text_form(&[
        ("prompt", &format!("x {FAIL_FAST}")),
        ("input_reference[image_url]", &url),
    ]);
    let v = ok_video(create_form(&app, form).await).await;
    created.push(v["id"].as_str().expect("id").to_string());
    let task = stored_task(&app, v["id"].as_str().expect("id")).await;
    assert_eq!(
        task.request.first_frame_url.expect("first").to_string(),
        url
    );
    // Let those tasks finish (and be refunded) so the balance below stands still.
    for id in &created {
        app.wait_for_task(id).await;
    }

    // Refusals name input_reference and charge nothing.
    let balance = app.balance_of(&app.key).await;
    let tasks = app.store.ledger_dump().await.expect("dump").tasks.len();
    let refusals = [
        (
            json!({"file_id": "asset_nope"}),
            "input_reference",
            "invalid_value",
        ),
        (
            json!({"image_url": media.image("missing.png")}),
            "input_reference",
            "media_unavailable",
        ),
        (
            json!({"image_url": format!("{}/garbage.png", media.base)}),
            "input_reference",
            "media_unavailable",
        ),
        (
            json!({"image_url": "ftp://example.com/a.png"}),
            "input_reference",
            "invalid_value",
        ),
        (
            json!({"image_url": "data:image/png;base64,!!!"}),
            "input_reference.image_url",
            "invalid_value",
        ),
        (
            json!({"url": url}),
            "input_reference.url",
            "unknown_parameter",
        ),
        (json!({}), "input_reference", "invalid_value"),
        (json!(5), "input_reference", "invalid_value"),
    ];
    for (reference, param, code) in refusals {
        assert_openai_error(
            create_json(&app, &json!({"prompt": "x", "input_reference": reference})).await,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            Some(param),
        )
        .await;
    }
    let form = text_form(&[("prompt", "x")]).part(
        "input_reference",
        Part::bytes(b"not an image at all".to_vec())
            .file_name("frame.png")
            .mime_str("image/png")
            .expect("mime"),
    );
    assert_openai_error(
        create_form(&app, form).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_value",
        Some("input_reference"),
    )
    .await;
    assert_eq!(app.balance_of(&app.key).await, balance);
    assert_eq!(
        app.store.ledger_dump().await.expect("dump").tasks.len(),
        tasks
    );
}

#[tokio::test]
async fn errors_have_openai_types_params_and_codes_and_charge_nothing() {
    let app = spawn_app().await;
    let start = app.balance_of(&app.key).await;
    // Auth comes first, whatever the body.
    for key in [None, Some("sg_live_wrong")] {
        let mut req = app.client.post(app.url("/v1/videos")).body("not json");
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        assert_openai_error(
            req.send().await.expect("req"),
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            None,
        )
        .await;
    }
    let r = app
        .client
        .get(app.url("/v1/videos"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .expect("req");
    assert_openai_error(
        r,
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "invalid_api_key",
        None,
    )
    .await;

    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({"model": MODEL}),
            "missing_required_parameter",
            Some("prompt"),
        ),
        (
            json!({"prompt": "   "}),
            "missing_required_parameter",
            Some("prompt"),
        ),
        (
            json!({"prompt": "x", "quality": "hd"}),
            "unknown_parameter",
            Some("quality"),
        ),
        (
            json!({"prompt": "x", "model": "sora-2"}),
            "model_not_found",
            Some("model"),
        ),
        (
            json!({"prompt": "x", "model": "seedance-2.5"}),
            "model_not_found",
            Some("model"),
        ),
        (
            json!({"prompt": "x", "seconds": "3"}),
            "invalid_value",
            Some("seconds"),
        ),
        (
            json!({"prompt": "x", "seconds": 16}),
            "invalid_value",
            Some("seconds"),
        ),
        (
            json!({"prompt": "x", "seconds": "four"}),
            "invalid_value",
            Some("seconds"),
        ),
        (
            json!({"prompt": "x", "seconds": 4.5}),
            "invalid_value",
            Some("seconds"),
        ),
        (json!({"prompt": 5}), "invalid_value", Some("prompt")),
        (
            json!({"prompt": "x".repeat(20_001)}),
            "string_above_max_length",
            Some("prompt"),
        ),
    ];
    for (body, code, param) in cases {
        assert_openai_error(
            create_json(&app, &body).await,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            param,
        )
        .await;
    }
    let r = app
        .client
        .post(app.url("/v1/videos"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("[1,2]")
        .send()
        .await
        .expect("req");
    assert_openai_error(
        r,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_json",
        None,
    )
    .await;
    // Multipart: the same names, and unknown parts are refused too.
    assert_openai_error(
        create_form(&app, text_form(&[("model", MODEL)])).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "missing_required_parameter",
        Some("prompt"),
    )
    .await;
    assert_openai_error(
        create_form(&app, text_form(&[("prompt", "x"), ("style", "noir")])).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "unknown_parameter",
        Some("style"),
    )
    .await;
    assert_openai_error(
        create_form(&app, text_form(&[("prompt", "x"), ("seconds", "30")])).await,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_value",
        Some("seconds"),
    )
    .await;

    // Not enough credits: OpenAI's insufficient_quota, which the SDK must not retry.
    let poor = app.create_key("poor", 100).await;
    let r = create_json_as(&app, &poor, &json!({"prompt": "x", "size": "864x496"})).await;
    assert_eq!(r.headers()["x-should-retry"], "false");
    let e = assert_openai_error(
        r,
        StatusCode::TOO_MANY_REQUESTS,
        "insufficient_quota",
        "insufficient_quota",
        None,
    )
    .await;
    assert!(e["message"].as_str().expect("m").contains("190"), "{e}");
    assert_eq!(app.balance_of(&poor).await, 100);

    // Not found, unknown routes and methods, in the same envelope.
    assert_openai_error(
        get_video(&app, "task_01k9s419324drezfbwnsvxyr6h").await,
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "not_found",
        None,
    )
    .await;
    assert_openai_error(
        get(&app, "/v1/videos/task_01k9s419324drezfbwnsvxyr6h/content").await,
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "not_found",
        None,
    )
    .await;
    assert_openai_error(
        get(&app, "/v1/videos/x/remix/y").await,
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "unknown_url",
        None,
    )
    .await;
    let r = app
        .client
        .put(app.url("/v1/videos"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("req");
    assert_openai_error(
        r,
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_allowed",
        None,
    )
    .await;

    // Another key's video looks exactly like a missing one.
    let id = ok_video(create_json(&app, &json!({"prompt": format!("mine {FAIL_FAST}")})).await)
        .await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let intruder = app.create_key("intruder", 1000).await;
    for r in [
        app.client.get(app.url(&format!("/v1/videos/{id}"))),
        app.client.delete(app.url(&format!("/v1/videos/{id}"))),
        app.client.get(app.url(&format!("/v1/videos/{id}/content"))),
    ] {
        let r = r.bearer_auth(&intruder).send().await.expect("req");
        assert_openai_error(
            r,
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found",
            None,
        )
        .await;
    }
    let theirs: Value = get(&app, "/v1/videos").await.json().await.expect("json");
    assert_eq!(theirs["data"].as_array().expect("data").len(), 1);
    let listed: Value = app
        .client
        .get(app.url("/v1/videos"))
        .bearer_auth(&intruder)
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["data"], json!([]));

    // Of all these requests only the one accepted task was ever charged (and it is refunded).
    wait_finished(&app, &id).await;
    assert_eq!(app.balance_of(&app.key).await, start);
    assert_eq!(app.store.ledger_dump().await.expect("dump").tasks.len(), 1);
}

#[tokio::test]
async fn failed_videos_carry_their_failure_code_and_are_refunded() {
    let app = spawn_app().await;
    let start = app.balance_of(&app.key).await;
    let v = ok_video(
        create_json(
            &app,
            &json!({"prompt": "[[seedgate:fail:moderation]]", "size": "864x496"}),
        )
        .await,
    )
    .await;
    let id = v["id"].as_str().expect("id");
    let done = wait_finished(&app, id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "moderation_blocked");
    assert!(done["error"]["message"].as_str().expect("message").len() > 3);
    assert_eq!(done["error"].as_object().expect("error").len(), 2);
    assert_eq!(done["progress"], 0);
    assert!(done["completed_at"].as_i64().is_some());
    assert!(done["expires_at"].is_null(), "nothing to download");
    assert_eq!(poll_header(&get_video(&app, id).await), None);
    assert_eq!(app.balance_of(&app.key).await, start, "refunded");
    assert_openai_error(
        get(&app, &format!("/v1/videos/{id}/content")).await,
        StatusCode::CONFLICT,
        "invalid_request_error",
        "video_failed",
        None,
    )
    .await;

    for (directive, code) in [
        ("invalid_input", "invalid_input"),
        ("upstream_error", "upstream_error"),
        ("timeout", "timeout"),
        ("expired", "expired"),
    ] {
        let v = ok_video(
            create_json(
                &app,
                &json!({"prompt": format!("[[seedgate:fail:{directive}]]")}),
            )
            .await,
        )
        .await;
        let done = wait_finished(&app, v["id"].as_str().expect("id")).await;
        assert_eq!(done["error"]["code"], code, "{done}");
    }
}

#[tokio::test]
async fn delete_finished_queued_and_running_videos() {
    let app = spawn_app_with(|s| s.worker.concurrency = 1).await;
    let start = app.balance_of(&app.key).await;

    // A running video: progress is an estimate, the poll header is present, it cannot be
    // deleted, and its content is not ready.
    let blocker = ok_video(
        create_json(
            &app,
            &json!({"prompt": "hold the worker [[seedgate:delay:4000]]", "size": "864x496"}),
        )
        .await,
    )
    .await;
    let blocker_id = blocker["id"].as_str().expect("id").to_string();
    wait_until(&app, &blocker_id, |v| v["status"] == "in_progress").await;
    let r = get_video(&app, &blocker_id).await;
    assert_eq!(poll_header(&r).as_deref(), Some("1000"));
    let running = ok_video(r).await;
    let progress = running["progress"].as_i64().expect("progress");
    assert!((5..=95).contains(&progress), "{running}");
    assert!(running["completed_at"].is_null());
    let r = delete_video(&app, &blocker_id).await;
    assert_eq!(r.headers()["x-should-retry"], "false");
    assert_openai_error(
        r,
        StatusCode::CONFLICT,
        "invalid_request_error",
        "video_in_progress",
        None,
    )
    .await;
    assert_openai_error(
        get(&app, &format!("/v1/videos/{blocker_id}/content")).await,
        StatusCode::CONFLICT,
        "invalid_request_error",
        "video_not_ready",
        None,
    )
    .await;

    // A queued video: cancelled (refunded), then deleted.
    let before_queued = app.balance_of(&app.key).await;
    let queued = ok_video(
        create_json(
            &app,
            &json!({"prompt": "waits", "size": "960x960", "seconds": "10"}),
        )
        .await,
    )
    .await;
    let queued_id = queued["id"].as_str().expect("id").to_string();
    // 720p × 10 s × $0.1025 = 1025 credits held.
    assert_eq!(app.balance_of(&app.key).await, before_queued - 1025);
    let r = get_video(&app, &queued_id).await;
    assert_eq!(poll_header(&r).as_deref(), Some("1000"));
    assert_eq!(ok_video(r).await["status"], "queued");
    let r = delete_video(&app, &queued_id).await;
    let deleted = ok_video(r).await;
    assert_eq!(
        deleted,
        json!({"id": queued_id, "object": "video.deleted", "deleted": true})
    );
    assert_eq!(app.balance_of(&app.key).await, before_queued, "refunded");
    assert_openai_error(
        get_video(&app, &queued_id).await,
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "not_found",
        None,
    )
    .await;
    assert_openai_error(
        delete_video(&app, &queued_id).await,
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "not_found",
        None,
    )
    .await;

    // A video cancelled while queued (as another dialect's cancel does) reads as failed with
    // the code `cancelled`, and as a finished video it can be deleted.
    let cancelled = ok_video(create_json(&app, &json!({"prompt": "cancel me"})).await).await;
    let cancelled_id = cancelled["id"].as_str().expect("id").to_string();
    let key = app
        .store
        .find_credential(&auth::hash_key(&app.key))
        .await
        .expect("lookup")
        .expect("key");
    app.store
        .cancel_task(&TaskId::from_string(cancelled_id.as_str()), &key.account.id)
        .await
        .expect("cancel");
    let r = get_video(&app, &cancelled_id).await;
    assert_eq!(poll_header(&r), None);
    let v = ok_video(r).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(v["error"]["code"], "cancelled");
    assert_eq!(v["progress"], 0);
    assert!(v["completed_at"].as_i64().is_some() && v["expires_at"].is_null());
    assert_eq!(app.balance_of(&app.key).await, before_queued, "refunded");
    assert_eq!(
        ok_video(delete_video(&app, &cancelled_id).await).await["deleted"],
        true
    );

    // A finished video: deleted with its files.
    let done = wait_finished(&app, &blocker_id).await;
    assert_eq!(done["status"], "completed");
    let reapi: Value = app
        .get_task_as(&app.key, &blocker_id)
        .await
        .json()
        .await
        .expect("json");
    let file = reapi["output"]["video_urls"][0]
        .as_str()
        .expect("url")
        .to_string();
    assert_eq!(
        app.client.get(&file).send().await.expect("get").status(),
        StatusCode::OK
    );
    let deleted = ok_video(delete_video(&app, &blocker_id).await).await;
    assert_eq!(deleted["deleted"], true);
    assert_eq!(
        get_video(&app, &blocker_id).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.client.get(&file).send().await.expect("get").status(),
        StatusCode::NOT_FOUND,
        "the video file is gone too"
    );
    let list: Value = get(&app, "/v1/videos").await.json().await.expect("json");
    assert_eq!(list["data"], json!([]));
    // Only the completed video was paid for.
    assert_eq!(app.balance_of(&app.key).await, start - 190);
}

#[tokio::test]
async fn list_pages_with_a_cursor_in_both_orders() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let v =
            ok_video(create_json(&app, &json!({"prompt": format!("{i} {FAIL_FAST}")})).await).await;
        ids.push(v["id"].as_str().expect("id").to_string());
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let page: Value = get(&app, "/v1/videos?limit=2")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["object"], "list");
    let ids_of = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|v| v["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(ids_of(&page), newest_first[..2]);
    assert_eq!(page["first_id"], newest_first[0]);
    assert_eq!(page["last_id"], newest_first[1]);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["data"][0]["object"], "video");

    // Follow the cursor to the end.
    let mut seen = ids_of(&page);
    let mut after = page["last_id"].as_str().expect("last").to_string();
    loop {
        let page: Value = get(&app, &format!("/v1/videos?limit=2&after={after}"))
            .await
            .json()
            .await
            .expect("json");
        seen.extend(ids_of(&page));
        if page["has_more"] == false {
            break;
        }
        after = page["last_id"].as_str().expect("last").to_string();
    }
    assert_eq!(seen, newest_first);

    let asc: Value = get(&app, &format!("/v1/videos?order=asc&after={}", ids[1]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ids_of(&asc), ids[2..]);
    assert_eq!(asc["has_more"], false);
    let all: Value = get(&app, "/v1/videos").await.json().await.expect("json");
    assert_eq!(ids_of(&all), newest_first, "default: 20, newest first");

    let empty: Value = get(&app, &format!("/v1/videos?after={}", ids[0]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        empty,
        json!({"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": false})
    );

    for (query, code, param) in [
        ("limit=0", "invalid_value", "limit"),
        ("limit=101", "invalid_value", "limit"),
        ("limit=ten", "invalid_value", "limit"),
        ("order=sideways", "invalid_value", "order"),
        ("page=2", "unknown_parameter", "page"),
        ("limit=1&limit=2", "invalid_value", "limit"),
    ] {
        assert_openai_error(
            get(&app, &format!("/v1/videos?{query}")).await,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            Some(param),
        )
        .await;
    }
    let page: Value = get(&app, "/v1/videos?limit=100")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ids_of(&page).len(), 5);
}

#[tokio::test]
async fn a_reapi_task_reads_back_as_a_video() {
    let app = spawn_app().await;
    let id = app
        .submit_ok(&json!({"model": "seedance-2-0-mini", "prompt": "from reAPI", "resolution": "480p", "aspect_ratio": "9:16", "duration": 4}))
        .await;
    let v = ok_video(get_video(&app, &id).await).await;
    assert_eq!(v["id"], id);
    assert_eq!(v["model"], "seedance-2-0-mini");
    assert_eq!(v["seconds"], "4");
    assert_eq!(v["size"], "496x864");
    assert_eq!(v["prompt"], "from reAPI");
    let done = wait_finished(&app, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let r = get(&app, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mp4 = r.bytes().await.expect("bytes");
    let v = seedgate_local_renderer::inspect(&mp4)
        .expect("mp4")
        .video
        .expect("video");
    assert_eq!((v.width, v.height), (496, 864));
    // reAPI did not ask for the last frame, so there is no thumbnail.
    assert_openai_error(
        get(&app, &format!("/v1/videos/{id}/content?variant=thumbnail")).await,
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "thumbnail_not_available",
        Some("variant"),
    )
    .await;
    // And the other way round: a video reads back through reAPI.
    let v = ok_video(create_json(&app, &json!({"prompt": format!("x {FAIL_FAST}")})).await).await;
    let vid = v["id"].as_str().expect("id");
    let reapi: Value = app
        .get_task_as(&app.key, vid)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(reapi["id"], vid);
}

#[tokio::test]
async fn idempotency_key_replays_a_multipart_create() {
    let app = spawn_app().await;
    let png = make_image(800, 600, image::ImageFormat::Png);
    let form = |bytes: Vec<u8>| {
        text_form(&[("prompt", &format!("x {FAIL_FAST}")), ("size", "1112x834")]).part(
            "input_reference",
            Part::bytes(bytes)
                .file_name("f.png")
                .mime_str("image/png")
                .expect("mime"),
        )
    };
    let send = |form: Form| {
        app.client
            .post(app.url("/v1/videos"))
            .bearer_auth(&app.key)
            .header("idempotency-key", "openai-1")
            .multipart(form)
            .send()
    };
    let first = ok_video(send(form(png.clone())).await.expect("req")).await;
    let r = send(form(png.clone())).await.expect("req");
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert_eq!(poll_header(&r).as_deref(), Some("1000"));
    let again = ok_video(r).await;
    assert_eq!(again["id"], first["id"]);
    let other = make_image(640, 640, image::ImageFormat::Png);
    assert_openai_error(
        send(form(other)).await.expect("req"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request_error",
        "idempotency_key_mismatch",
        None,
    )
    .await;
    assert_eq!(app.store.ledger_dump().await.expect("dump").tasks.len(), 1);
}

/// A PNG of noise, which does not compress.
fn noise_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let img = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let b = state.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

#[tokio::test]
async fn a_file_part_may_be_as_large_as_an_upload_and_no_larger() {
    let app = spawn_app_with(|s| s.assets.max_upload_bytes = 3 * 1024 * 1024).await;
    // Larger than the 2 MiB limit of other routes, within the upload limit: accepted.
    let big = noise_png(950, 950);
    assert!(
        big.len() > 2 * 1024 * 1024 && big.len() < 3 * 1024 * 1024,
        "{}",
        big.len()
    );
    let part = |bytes: Vec<u8>| {
        text_form(&[("prompt", &format!("x {FAIL_FAST}")), ("size", "960x960")]).part(
            "input_reference",
            Part::bytes(bytes)
                .file_name("big.png")
                .mime_str("image/png")
                .expect("mime"),
        )
    };
    let v = ok_video(create_form(&app, part(big)).await).await;
    assert_eq!(v["size"], "960x960");
    // Past it: 413 naming input_reference, nothing stored or charged.
    let r = create_form(&app, part(vec![0u8; 4 * 1024 * 1024])).await;
    assert_openai_error(
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        "request_too_large",
        Some("input_reference"),
    )
    .await;
    assert_eq!(app.store.ledger_dump().await.expect("dump").tasks.len(), 1);
}

#[tokio::test]
async fn the_openapi_document_describes_the_videos_api() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    let paths = &doc["paths"];
    let create = &paths["/v1/videos"]["post"];
    assert_eq!(create["tags"], json!(["OpenAI videos"]));
    assert!(create["requestBody"]["content"]["multipart/form-data"].is_object());
    assert!(create["requestBody"]["content"]["application/json"].is_object());
    assert!(paths["/v1/videos"]["get"].is_object());
    assert!(paths["/v1/videos/{video_id}"]["get"].is_object());
    assert!(paths["/v1/videos/{video_id}"]["delete"].is_object());
    assert!(paths["/v1/videos/{video_id}/content"]["get"].is_object());
    assert!(
        doc["components"]["schemas"]["OpenAiVideo"]["properties"]["remixed_from_video_id"]
            .is_object()
    );
}

/// The official `openai` Python package, unmodified, against seedgate: create_and_poll,
/// download_content, list (auto-pagination), retrieve, delete, a file as input_reference, and
/// its error classes. Needs `pip install openai`; without it this test fails, it does not skip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_python_sdk_works_unchanged() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openai_sdk/videos.py");
    let probe = std::process::Command::new("python3")
        .args(["-c", "import openai; print(openai.__version__)"])
        .output();
    match &probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "the official `openai` Python package is needed by this test: run `pip install openai`\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("python3 is needed by this test (then `pip install openai`): {e}"),
    }

    let app = spawn_app().await;
    let start = app.balance_of(&app.key).await;
    let (base, key) = (format!("{}/v1", app.base), app.key.clone());
    let out = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new("python3");
        command
            .arg(&script)
            .env("OPENAI_BASE_URL", base)
            .env("OPENAI_API_KEY", key)
            .env("PYTHONUNBUFFERED", "1");
        crate::helpers::isolate_from_environment(&mut command);
        command.output()
    })
    .await
    .expect("join")
    .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the openai SDK script failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(stdout.trim_end().ends_with("ok"), "{stdout}");
    // Two 480p × 4 s videos were paid for (190 credits each); the refused requests cost nothing.
    assert_eq!(app.balance_of(&app.key).await, start - 380);
}

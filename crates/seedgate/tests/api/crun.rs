//! CRUN (`/api/v1/client/job/*`, `x-api-key`): the CreateTask example, TaskInfo in every state,
//! estimate-credits, assets end to end, and the response codes in both the HTTP status and the
//! body.

use crate::helpers::{spawn_app, TestApp};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn post_as(app: &TestApp, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/client/job/{path}")))
        .header("x-api-key", key)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.expect("json body"))
}

async fn post(app: &TestApp, path: &str, body: &Value) -> (StatusCode, Value) {
    post_as(app, &app.key, path, body).await
}

async fn get_as(
    app: &TestApp,
    key: &str,
    path: &str,
    query: &[(&str, &str)],
) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/client/job/{path}")))
        .query(query)
        .header("x-api-key", key)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.expect("json body"))
}

/// `data` of a 200 envelope.
fn ok_data(status: StatusCode, v: &Value) -> Value {
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["code"], 200, "{v}");
    assert_eq!(v["message"], "success", "{v}");
    v["data"].clone()
}

async fn create_ok(app: &TestApp, body: &Value) -> String {
    let (status, v) = post(app, "CreateTask", body).await;
    let data = ok_data(status, &v);
    assert_eq!(keys(&data), ["task_id"], "snake_case task_id only: {v}");
    let id = data["task_id"].as_str().expect("task_id");
    assert!(id.starts_with("task_"), "{id}");
    id.to_string()
}

async fn task_info(app: &TestApp, id: &str) -> Value {
    let (status, v) = get_as(app, &app.key, "TaskInfo", &[("task_id", id)]).await;
    ok_data(status, &v)
}

async fn wait_terminal(app: &TestApp, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let data = task_info(app, id).await;
        if data["status"] == "success" || data["status"] == "failed" {
            return data;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "task {id} stuck: {data}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

const TASK_INFO_KEYS: [&str; 11] = [
    "complete_at",
    "create_at",
    "credits",
    "duration_s",
    "model_version",
    "param",
    "provider",
    "result",
    "source",
    "status",
    "task_id",
];

/// Asserts a CRUN error: the same code in the HTTP status and the body, `data` null.
fn assert_code(name: &str, status: StatusCode, v: &Value, code: u16, mention: &str) {
    assert_eq!(status.as_u16(), code, "{name}: {v}");
    assert_eq!(v["code"], code, "{name}: {v}");
    assert_eq!(v["data"], Value::Null, "{name}: {v}");
    let message = v["message"].as_str().expect("message");
    assert!(
        message.contains(mention),
        "{name}: `{message}` should mention `{mention}`"
    );
}

async fn upload_asset(app: &TestApp, name: &str, kind: &str, url: &str) -> String {
    let (status, v) = post(
        app,
        "asset-upload",
        &json!({"name": name, "asset_type": kind, "asset_url": url}),
    )
    .await;
    let data = ok_data(status, &v);
    assert_eq!(keys(&data), ["AssetId"], "{v}");
    data["AssetId"].as_str().expect("AssetId").to_string()
}

#[tokio::test]
async fn create_task_example_estimates_runs_and_reads_back() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let asset = upload_asset(
        &app,
        "fashion-model-front",
        "Image",
        &media.image("480x640.jpg"),
    )
    .await;
    let (hooks, _) = crate::apixo::hook_server().await;
    let callback_url = format!("{hooks}/api/callback");
    // The documented body, its media served locally, its asset uploaded first and a local
    // receiver for your-domain.com (callback URLs must resolve).
    let body = json!({
        "model": "bytedance/seedance2-0-mini-r2v",
        "callback_url": callback_url,
        "input": {
            "prompt": "[Image1] walks through [Video1] to the beat of [Audio1]",
            "reference_images": [media.image("640x640.png"), format!("asset://{asset}")],
            "reference_videos": [media.video(3)],
            "reference_audios": [media.wav(3.0)],
            "resolution": "720p",
            "aspect_ratio": "16:9",
            "duration": 8,
            "audio": true,
            "return_last_frame": false
        }
    });
    let before = app.balance_of(&app.key).await;
    let (status, v) = post(&app, "estimate-credits", &body).await;
    let estimate = ok_data(status, &v);
    assert_eq!(keys(&estimate), ["credits", "estimated"]);
    assert_eq!(estimate["estimated"], true);
    // (8 s + 3 s of reference video) × $0.0625 = $0.6875 → 688 credits.
    assert_eq!(estimate["credits"], 688);
    assert_eq!(
        app.balance_of(&app.key).await,
        before,
        "an estimate is free"
    );

    let id = create_ok(&app, &body).await;
    assert_eq!(
        app.balance_of(&app.key).await,
        before - 688,
        "charged the estimate"
    );

    let info = task_info(&app, &id).await;
    assert_eq!(keys(&info), TASK_INFO_KEYS, "{info}");
    assert!(["pending", "running"].contains(&info["status"].as_str().expect("status")));
    assert_eq!(info["task_id"], id.as_str());
    assert_eq!(info["provider"], "seedgate");
    assert_eq!(info["model_version"], "seedance-2.0-mini");
    assert_eq!(info["source"], "api");
    for field in ["complete_at", "duration_s", "credits", "result"] {
        assert_eq!(info[field], Value::Null, "{field} before the end: {info}");
    }
    let created = info["create_at"].as_i64().expect("create_at");
    assert!(
        (1_700_000_000..10_000_000_000).contains(&created),
        "Unix seconds: {created}"
    );
    let param = &info["param"];
    assert_eq!(param["model"], "bytedance/seedance2-0-mini-r2v");
    assert_eq!(param["callback_url"], callback_url.as_str());
    let input = &param["input"];
    assert_eq!(
        input["prompt"],
        "[Image1] walks through [Video1] to the beat of [Audio1]"
    );
    assert_eq!(
        (
            &input["resolution"],
            &input["aspect_ratio"],
            &input["duration"],
            &input["audio"],
            &input["return_last_frame"]
        ),
        (
            &json!("720p"),
            &json!("16:9"),
            &json!(8),
            &json!(true),
            &json!(false)
        )
    );
    let images = input["reference_images"]
        .as_array()
        .expect("reference_images");
    assert_eq!(images[0], media.image("640x640.png"));
    let resolved = images[1].as_str().expect("asset url");
    assert!(
        resolved.contains(&format!("/media/assets/{asset}")),
        "asset:// resolved: {resolved}"
    );
    assert_eq!(input["reference_videos"], json!([media.video(3)]));
    assert_eq!(input["reference_audios"], json!([media.wav(3.0)]));
    assert!(input.get("img_urls").is_none());

    let done = wait_terminal(&app, &id).await;
    assert_eq!(keys(&done), TASK_INFO_KEYS);
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(done["credits"], 688);
    let complete = done["complete_at"].as_i64().expect("complete_at");
    assert!(complete >= created);
    assert!(done["duration_s"].as_i64().expect("duration_s") >= 0);
    assert_eq!(keys(&done["result"]), ["media_urls"], "{done}");
    let url = done["result"]["media_urls"][0].as_str().expect("media url");
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
    assert!((info.duration_seconds - 8.0).abs() < 0.05);
    assert!(info.audio.is_some(), "audio: true");
}

#[tokio::test]
async fn assets_upload_info_and_use_in_a_reference_task() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let image = upload_asset(&app, "front", "Image", &media.image("640x640.png")).await;
    let audio = upload_asset(&app, "voice", "audio", &media.wav(3.0)).await;

    let (status, v) = get_as(&app, &app.key, "asset-info", &[("asset_id", &image)]).await;
    let data = ok_data(status, &v);
    assert_eq!(
        keys(&data),
        [
            "AssetId",
            "AssetType",
            "CreateTime",
            "Name",
            "Status",
            "UpdateTime",
            "Url"
        ],
        "{data}"
    );
    assert_eq!(data["AssetId"], image.as_str());
    assert_eq!(data["Name"], "front", "the uploaded name comes back");
    assert_eq!(data["AssetType"], "Image");
    assert_eq!(data["Status"], "Active");
    let created = data["CreateTime"].as_i64().expect("CreateTime");
    assert!(
        (1_700_000_000..10_000_000_000).contains(&created),
        "Unix seconds"
    );
    assert_eq!(data["UpdateTime"], created);
    let url = data["Url"].as_str().expect("Url");
    let r = app.client.get(url).send().await.expect("download");
    assert_eq!(r.headers()["content-type"], "image/png");
    let (status, v) = get_as(&app, &app.key, "asset-info", &[("asset_id", &audio)]).await;
    assert_eq!(ok_data(status, &v)["AssetType"], "Audio");
    assert_eq!(ok_data(status, &v)["Name"], "voice");

    // Refusals.
    let cases = [
        (
            "type does not match the file",
            json!({"name": "x", "asset_type": "Video", "asset_url": media.image("640x640.png")}),
            422,
            "asset_url",
        ),
        (
            "unknown type",
            json!({"name": "x", "asset_type": "Document", "asset_url": media.image("640x640.png")}),
            422,
            "asset_type",
        ),
        (
            "missing url",
            json!({"name": "x", "asset_type": "Image"}),
            422,
            "asset_url",
        ),
        (
            "unreadable file",
            json!({"asset_type": "Image", "asset_url": format!("{}/garbage.png", media.base)}),
            422,
            "asset_url",
        ),
        (
            "unknown field",
            json!({"asset_type": "Image", "asset_url": media.image("640x640.png"), "tags": []}),
            422,
            "tags",
        ),
    ];
    for (name, body, code, mention) in cases {
        let (status, v) = post(&app, "asset-upload", &body).await;
        assert_code(name, status, &v, code, mention);
    }
    let (status, v) = get_as(
        &app,
        &app.key,
        "asset-info",
        &[("asset_id", "asset_01k9s419324drezfbwnsvxyr6h")],
    )
    .await;
    assert_code("unknown asset", status, &v, 404, "asset not found");
    let (status, v) = get_as(&app, &app.key, "asset-info", &[]).await;
    assert_code("no asset_id", status, &v, 422, "asset_id");
    // Another key sees neither the asset nor can use it.
    let other = app.create_key("other", 10_000).await;
    let (status, v) = get_as(&app, &other, "asset-info", &[("asset_id", &image)]).await;
    assert_code("another key's asset", status, &v, 404, "asset not found");
    let body = json!({"model": "bytedance/seedance2-0-mini-r2v",
        "input": {"prompt": "p", "reference_images": [format!("asset://{image}")], "resolution": "480p", "duration": 4}});
    let (status, v) = post_as(&app, &other, "CreateTask", &body).await;
    assert_code(
        "another key's asset in a task",
        status,
        &v,
        422,
        "input.reference_images[0]",
    );
    assert_eq!(app.balance_of(&other).await, 10_000);

    // The owner's r2v task with asset:// references runs to completion.
    let before = app.balance_of(&app.key).await;
    let body = json!({"model": "bytedance/seedance2-0-mini-r2v",
        "input": {"prompt": "[Image1] sings [Audio1]",
            "reference_images": [format!("asset://{image}")],
            "reference_audios": [format!("ASSET://{audio}")],
            "resolution": "480p", "duration": 4, "return_last_frame": true}});
    let id = create_ok(&app, &body).await;
    let done = wait_terminal(&app, &id).await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(done["credits"], 190);
    assert_eq!(app.balance_of(&app.key).await, before - 190);
    assert_eq!(done["param"]["model"], "bytedance/seedance2-0-mini-r2v");
    assert_eq!(
        done["result"]["media_urls"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(done["param"]["input"]["return_last_frame"], true);
    let frame = done["result"]["last_frame_url"]
        .as_str()
        .expect("last_frame_url");
    let r = app.client.get(frame).send().await.expect("download");
    assert_eq!(r.headers()["content-type"], "image/png");
}

#[tokio::test]
async fn every_code_is_in_the_status_and_the_body_and_refusals_charge_nothing() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let img = media.image("640x640.png");
    let t2v = |input: Value| json!({"model": "bytedance/seedance2-0-mini-t2v", "input": input});
    let ok_input = json!({"prompt": "a fox", "resolution": "480p", "duration": 4});
    let balance = app.balance_of(&app.key).await;

    // 401, whatever the body.
    let url = app.url("/api/v1/client/job/CreateTask");
    let r = app
        .client
        .post(&url)
        .json(&t2v(ok_input.clone()))
        .send()
        .await
        .expect("req");
    let status = r.status();
    assert_code(
        "no key",
        status,
        &r.json().await.expect("json"),
        401,
        "x-api-key",
    );
    let r = app
        .client
        .post(&url)
        .bearer_auth(&app.key)
        .body("nonsense")
        .send()
        .await
        .expect("req");
    let status = r.status();
    assert_code(
        "Bearer is not CRUN's scheme",
        status,
        &r.json().await.expect("json"),
        401,
        "x-api-key",
    );
    let (status, v) = post_as(&app, "sg_live_nope", "CreateTask", &t2v(ok_input.clone())).await;
    assert_code("unknown key", status, &v, 401, "invalid");
    let r = app
        .client
        .get(app.url("/api/v1/client/job/TaskInfo?task_id=task_x"))
        .header("X-API-KEY", "sg_live_nope")
        .send()
        .await
        .expect("req");
    let status = r.status();
    assert_code(
        "unknown key on TaskInfo",
        status,
        &r.json().await.expect("json"),
        401,
        "invalid",
    );

    // 422.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing model", json!({"input": ok_input}), "model"),
        (
            "canonical name is not CRUN's",
            json!({"model": "seedance-2.0-mini", "input": ok_input}),
            "unknown model",
        ),
        (
            "no mode suffix",
            json!({"model": "bytedance/seedance2-0-mini", "input": ok_input}),
            "unknown model",
        ),
        (
            "mode CRUN lacks",
            json!({"model": "bytedance/seedance1-0-pro-r2v", "input": ok_input}),
            "unknown model",
        ),
        (
            "missing input",
            json!({"model": "bytedance/seedance2-0-mini-t2v"}),
            "input",
        ),
        (
            "t2v without prompt",
            t2v(json!({"duration": 4})),
            "input.prompt",
        ),
        (
            "duration below 4",
            t2v(json!({"prompt": "x", "duration": 3})),
            "input.duration",
        ),
        (
            "duration as a string",
            t2v(json!({"prompt": "x", "duration": "5"})),
            "input.duration",
        ),
        (
            "resolution 1080p",
            t2v(json!({"prompt": "x", "resolution": "1080p"})),
            "input.resolution",
        ),
        (
            "aspect ratio bogus",
            t2v(json!({"prompt": "x", "aspect_ratio": "5:4"})),
            "input.aspect_ratio",
        ),
        (
            "audio not a boolean",
            t2v(json!({"prompt": "x", "audio": "yes"})),
            "input.audio",
        ),
        (
            "unknown input field",
            t2v(json!({"prompt": "x", "negative_prompt": "blur"})),
            "input.negative_prompt",
        ),
        (
            "unknown top-level field",
            json!({"model": "bytedance/seedance2-0-mini-t2v", "input": ok_input, "webhook": "x"}),
            "webhook",
        ),
        (
            "1.x-only field",
            t2v(json!({"prompt": "x", "camera_fixed": true})),
            "input.camera_fixed",
        ),
        (
            "t2v with a frame",
            t2v(json!({"prompt": "x", "img_urls": [img]})),
            "input.img_urls",
        ),
        (
            "t2v with references",
            t2v(json!({"prompt": "x", "reference_images": [img]})),
            "input.reference_images",
        ),
        (
            "i2v without img_urls",
            json!({"model": "bytedance/seedance2-0-mini-i2v", "input": {"prompt": "x"}}),
            "input.img_urls",
        ),
        (
            "i2v with three images",
            json!({"model": "bytedance/seedance2-0-mini-i2v", "input": {"img_urls": [img, img, img]}}),
            "input.img_urls",
        ),
        (
            "i2v with references",
            json!({"model": "bytedance/seedance2-0-mini-i2v", "input": {"img_urls": [img], "reference_videos": [media.video(3)]}}),
            "input.reference_videos",
        ),
        (
            "r2v with img_urls",
            json!({"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": "x", "img_urls": [img]}}),
            "input.img_urls",
        ),
        (
            "r2v with nothing",
            json!({"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": "x"}}),
            "At least one of reference_images or reference_videos must be provided",
        ),
        (
            "r2v with audio alone",
            json!({"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": "x", "reference_audios": [media.wav(3.0)]}}),
            "At least one of reference_images or reference_videos must be provided",
        ),
        (
            "r2v with ten images",
            json!({"model": "bytedance/seedance2-0-mini-r2v", "input": {"reference_images": vec![img.clone(); 10]}}),
            "at most 9",
        ),
        (
            "r2v with a short video",
            json!({"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": "x", "reference_videos": [media.video(1)]}}),
            "input.reference_videos[0]",
        ),
        (
            "unreadable reference",
            json!({"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": "x", "reference_videos": [format!("{}/garbage.mp4", media.base)]}}),
            "input.reference_videos[0]",
        ),
        (
            "unknown asset",
            json!({"model": "bytedance/seedance2-0-mini-i2v", "input": {"img_urls": ["asset://asset_nope"]}}),
            "input.img_urls[0]",
        ),
        (
            "bad callback_url",
            json!({"model": "bytedance/seedance2-0-mini-t2v", "callback_url": "ftp://x", "input": ok_input}),
            "callback_url",
        ),
    ];
    for (name, body, mention) in &cases {
        let (status, v) = post(&app, "CreateTask", body).await;
        assert_code(name, status, &v, 422, mention);
        let (status, v) = post(&app, "estimate-credits", body).await;
        assert_code(name, status, &v, 422, mention);
    }
    let r = app
        .client
        .post(&url)
        .header("x-api-key", &app.key)
        .body("[1]")
        .send()
        .await
        .expect("req");
    let status = r.status();
    assert_code(
        "not an object",
        status,
        &r.json().await.expect("json"),
        422,
        "JSON object",
    );

    // 505: models CRUN has and this gateway does not serve.
    for model in [
        "bytedance/seedance2-5-t2v",
        "bytedance/seedance2-5-r2v",
        "bytedance/seedance2-0-i2v",
        "bytedance/seedance2-0-fast-t2v",
        "bytedance/seedance1-5-pro-i2v",
    ] {
        let (status, v) = post(
            &app,
            "CreateTask",
            &json!({"model": model, "input": ok_input}),
        )
        .await;
        assert_code(model, status, &v, 505, model);
        assert!(v["message"]
            .as_str()
            .expect("message")
            .starts_with("Feature Disabled"));
    }

    // 402.
    let poor = app.create_key("poor", 50).await;
    let (status, v) = post_as(&app, &poor, "CreateTask", &t2v(ok_input.clone())).await;
    assert_code("insufficient credits", status, &v, 402, "190");
    assert_eq!(app.balance_of(&poor).await, 50);

    // 404.
    let (status, v) = get_as(
        &app,
        &app.key,
        "TaskInfo",
        &[("task_id", "task_01k9s419324drezfbwnsvxyr6h")],
    )
    .await;
    assert_code("unknown task", status, &v, 404, "task not found");
    let (status, v) = get_as(&app, &app.key, "NoSuchThing", &[]).await;
    assert_code("unknown endpoint", status, &v, 404, "no such endpoint");
    let (status, v) = get_as(&app, &app.key, "TaskInfo", &[]).await;
    assert_code("no task_id", status, &v, 422, "task_id");

    assert_eq!(app.balance_of(&app.key).await, balance, "nothing charged");
    let tasks = app.store.ledger_dump().await.expect("dump").tasks;
    assert!(tasks.is_empty(), "no task was created: {tasks:?}");
}

#[tokio::test]
async fn a_failed_task_is_501_with_zero_credits_and_refunded() {
    let app = spawn_app().await;
    let before = app.balance_of(&app.key).await;
    let id = create_ok(
        &app,
        &json!({"model": "bytedance/seedance2-0-mini-t2v",
            "input": {"prompt": "x [[seedgate:fail:moderation]]", "resolution": "480p", "duration": 4}}),
    )
    .await;
    assert_eq!(app.balance_of(&app.key).await, before - 190);
    let done = wait_terminal(&app, &id).await;
    assert_eq!(keys(&done), TASK_INFO_KEYS);
    assert_eq!(done["status"], "failed");
    assert_eq!(done["result"]["code"], 501, "Generation Failed: {done}");
    assert!(done["result"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert_eq!(done["result"]["media_urls"], json!([]));
    assert_eq!(done["credits"], 0, "refunded");
    assert!(done["complete_at"].as_i64().is_some());
    assert_eq!(app.balance_of(&app.key).await, before);
}

#[tokio::test]
async fn estimate_equals_the_charge_for_every_mode() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let bodies = [
        json!({"model": "bytedance/seedance2-0-mini-t2v", "input": {"prompt": "x", "resolution": "480p", "duration": 7}}),
        json!({"model": "bytedance/seedance2-0-mini-i2v", "input": {"img_urls": [media.image("800x600.jpg")], "duration": 4}}),
        json!({"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": "x", "reference_videos": [media.video(2), media.video(3)], "resolution": "480p", "duration": 4}}),
    ];
    for body in bodies {
        let (status, v) = post(&app, "estimate-credits", &body).await;
        let credits = ok_data(status, &v)["credits"].as_i64().expect("credits");
        assert!(credits > 0);
        let before = app.balance_of(&app.key).await;
        create_ok(&app, &body).await;
        assert_eq!(app.balance_of(&app.key).await, before - credits, "{body}");
    }
}

#[tokio::test]
async fn tasks_of_other_dialects_read_back() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let (first, last) = (media.image("800x600.jpg"), media.image("800x600.png"));
    let before = app.balance_of(&app.key).await;
    let id = app
        .submit_ok(
            &json!({"model": "seedance-2.0-mini", "first_frame_url": first, "last_frame_url": last,
            "resolution": "480p", "duration": 4}),
        )
        .await;
    let done = wait_terminal(&app, &id).await;
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(done["param"]["model"], "bytedance/seedance2-0-mini-i2v");
    assert_eq!(done["param"]["input"]["img_urls"], json!([first, last]));
    assert_eq!(
        done["param"]["input"]["aspect_ratio"], "16:9",
        "reAPI's default"
    );
    assert_eq!(done["param"]["input"]["return_last_frame"], false);
    assert_eq!(done["param"]["callback_url"], Value::Null);
    assert_eq!(
        done["credits"].as_i64(),
        Some(before - app.balance_of(&app.key).await)
    );
    let reapi = app.wait_for_task(&id).await;
    assert_eq!(done["result"]["media_urls"], reapi["output"]["video_urls"]);
    assert!(done["result"].get("last_frame_url").is_none(), "{done}");

    // An APIXO task reads back too.
    let r = app
        .client
        .post(app.url("/api/v1/generateTask/seedance-2-0-mini"))
        .bearer_auth(&app.key)
        .json(&json!({"input": {"mode": "text-to-video", "prompt": "x [[seedgate:delay:3000]]", "resolution": "480p", "duration": 4}}))
        .send()
        .await
        .expect("req");
    let v: Value = r.json().await.expect("json");
    let id = v["data"]["taskId"].as_str().expect("taskId");
    let info = task_info(&app, id).await;
    assert_eq!(info["param"]["model"], "bytedance/seedance2-0-mini-t2v");
    assert_eq!(
        info["param"]["input"]["audio"], true,
        "APIXO's sound default"
    );
    assert_eq!(
        info["param"]["input"]["aspect_ratio"], "auto",
        "APIXO's aspect default"
    );
}

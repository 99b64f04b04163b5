//! reAPI's Seedance 2.5 request shape (seed 001): served as soon as the catalog's availability
//! flag is switched on in config, and refused (20004) while it is off.

use crate::helpers::{assert_error, spawn_app, spawn_app_with};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use seedgate_core::catalog::ModelOverride;
use serde_json::{json, Value};

fn with_2_5_enabled(s: &mut seedgate::config::Settings) {
    s.models.insert(
        "seedance-2.5".into(),
        ModelOverride {
            available: Some(true),
            ..Default::default()
        },
    );
}

#[tokio::test]
async fn the_preview_example_is_refused_while_2_5_is_unavailable() {
    let app = spawn_app().await;
    let body = json!({
        "model": "seedance-2.5",
        "prompt": "A kitten yawning at the camera, cinematic warm tones",
        "resolution": "720p",
        "size": "16:9",
        "duration": 5
    });
    let message = assert_error(app.submit(&body).await, StatusCode::BAD_REQUEST, 20004).await;
    assert!(message.contains("not yet available"), "{message}");
}

#[tokio::test]
async fn enabling_2_5_in_config_serves_the_preview_example() {
    let app = spawn_app_with(with_2_5_enabled).await;
    let body = json!({
        "model": "seedance-2.5",
        "prompt": "A kitten yawning at the camera, cinematic warm tones",
        "resolution": "480p",
        "size": "9:16",
        "duration": 4
    });
    let id = app.submit_ok(&body).await;
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["model"], "seedance-2.5");
    // No last frame unless asked.
    assert!(task["output"].get("last_frame_url").is_none(), "{task}");
    let url = task["output"]["video_urls"][0].as_str().expect("video url");
    let video = app.client.get(url).send().await.expect("download");
    let info = seedgate_local_renderer::inspect(&video.bytes().await.expect("bytes")).expect("mp4");
    let v = info.video.expect("video track");
    // `size` is the aspect ratio: 480p 9:16.
    assert_eq!((v.width, v.height), (496, 864));
}

#[tokio::test]
async fn image_with_roles_seed_and_return_last_frame() {
    let app = spawn_app_with(with_2_5_enabled).await;
    let media = MediaServer::start().await;
    let body = json!({
        "model": "seedance-2.5",
        "prompt": "the first frame turns into the last",
        "image_with_roles": [
            {"url": media.image("800x600.png"), "role": "first_frame"},
            {"url": media.image("800x600.jpg"), "role": "last_frame"}
        ],
        "size": "adaptive",
        "resolution": "480p",
        "duration": 4,
        "seed": 42,
        "return_last_frame": true,
        "tools": [{"type": "web_search"}]
    });
    let id = app.submit_ok(&body).await;
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let last = task["output"]["last_frame_url"]
        .as_str()
        .expect("last_frame_url when return_last_frame is set");
    let r = app.client.get(last).send().await.expect("download");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    let png = r.bytes().await.expect("bytes");
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let reader = decoder.read_info().expect("a PNG");
    // `adaptive` follows the 4:3 first frame: 480p 4:3 is 752×560, the video's own size.
    assert_eq!((reader.info().width, reader.info().height), (752, 560));
}

#[tokio::test]
async fn references_in_the_2_5_shape_are_priced_like_the_canonical_fields() {
    let app = spawn_app_with(with_2_5_enabled).await;
    let media = MediaServer::start().await;
    let estimate = |body: Value| {
        let app = &app;
        async move {
            let r = app
                .client
                .post(app.url("/api/v1/videos/estimate"))
                .bearer_auth(&app.key)
                .json(&body)
                .send()
                .await
                .expect("estimate");
            let status = r.status();
            let json: Value = r.json().await.expect("json");
            assert_eq!(status, StatusCode::OK, "{json}");
            json
        }
    };
    let shaped = estimate(json!({
        "model": "seedance-2.5", "prompt": "dance", "resolution": "480p", "duration": 4,
        "image_urls": [media.image("640x640.png")],
        "video_urls": [media.video(3)],
        "audio_urls": [format!("{}/audio/3.wav", media.base)]
    }))
    .await;
    let canonical = estimate(json!({
        "model": "seedance-2.5", "prompt": "dance", "resolution": "480p", "duration": 4,
        "reference_image_urls": [media.image("640x640.png")],
        "reference_video_urls": [media.video(3)],
        "reference_audio_urls": [format!("{}/audio/3.wav", media.base)]
    }))
    .await;
    assert_eq!(shaped["credits"], canonical["credits"]);
    assert_eq!(shaped["mode"], "r2v");
    // 4 s out + 3 s of reference video at the 2.5 480p reference rate ($0.072/s).
    assert_eq!(shaped["billable_seconds"], 7);
    assert_eq!(shaped["credits"], 504);
}

#[tokio::test]
async fn the_2_5_shape_is_checked_in_reapi_codes() {
    let app = spawn_app_with(with_2_5_enabled).await;
    let cases = [
        (
            json!({"model": "seedance-2.5", "prompt": "p", "size": "16:9", "aspect_ratio": "1:1"}),
            "size",
        ),
        (
            json!({"model": "seedance-2.5", "prompt": "p", "image_with_roles": [{"url": "https://e.com/a.png", "role": "hero"}]}),
            "image_with_roles[0].role",
        ),
        (
            json!({"model": "seedance-2.5", "prompt": "p", "tools": [{"type": "code_interpreter"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "seedance-2.5", "prompt": "p", "seed": -2}),
            "seed",
        ),
        (
            json!({"model": "seedance-2.5", "prompt": "p", "seed": 4_294_967_296_i64}),
            "seed",
        ),
    ];
    for (body, field) in cases {
        let message = assert_error(app.submit(&body).await, StatusCode::BAD_REQUEST, 20003).await;
        assert!(message.contains(field), "`{message}` should name `{field}`");
    }
    // The mini model does not take 2.5 fields.
    let body = json!({"model": "seedance-2.0-mini", "prompt": "p", "return_last_frame": true});
    let message = assert_error(app.submit(&body).await, StatusCode::BAD_REQUEST, 20003).await;
    assert!(message.contains("return_last_frame"), "{message}");
}

//! Every example in the reAPI seed, answered as the seed says.

use crate::helpers::{spawn_app, TestApp};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Checks a completed task object against the seed's "Output" section and downloads its video.
async fn assert_completed(app: &TestApp, task: &Value, id: &str) -> Vec<u8> {
    assert_eq!(task["id"], id);
    assert_eq!(task["model"], "seedance-2.0-mini");
    assert_eq!(task["status"], "completed", "{task}");
    assert!(task["error"].is_null(), "{task}");
    assert!(
        task["created_at"]
            .as_i64()
            .expect("created_at is unix seconds")
            > 1_700_000_000
    );
    let urls = task["output"]["video_urls"].as_array().expect("video_urls");
    assert_eq!(urls.len(), 1);
    let url = urls[0].as_str().expect("url");
    assert!(
        url.starts_with(&app.base) && crate::helpers::media_path(url).ends_with("/0.mp4"),
        "{url}"
    );
    let r = app.client.get(url).send().await.expect("download");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    r.bytes().await.expect("bytes").to_vec()
}

#[tokio::test]
async fn quick_example_text_to_video() {
    let app = spawn_app().await;
    let body = json!({
        "model": "seedance-2.0-mini",
        "prompt": "A kitten yawning at the camera, soft morning light",
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "duration": 5
    });
    let r = app.submit(&body).await;
    assert_eq!(r.status(), StatusCode::OK);
    let created: Value = r.json().await.expect("json");
    let id = created["id"].as_str().expect("id");
    assert!(id.starts_with("task_"), "{created}");
    assert_eq!(created["status"], "processing");
    assert_eq!(created["model"], "seedance-2.0-mini");
    assert!(created["output"].is_null() && created["error"].is_null());

    let task = app.wait_for_task(id).await;
    let video = assert_completed(&app, &task, id).await;
    let info = seedgate_local_renderer::inspect(&video).expect("mp4");
    let v = info.video.expect("video track");
    assert_eq!((v.width, v.height), (1280, 720));
    assert!((info.duration_seconds - 5.0).abs() < 0.05);
    // $0.1025/s × 5 s = 512.5 → 513 credits.
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 513);
}

#[tokio::test]
async fn image_to_video_example() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let body = json!({
        "model": "seedance-2.0-mini",
        "first_frame_url": media.image("800x600.jpg"),
        "resolution": "720p",
        "duration": 5
    });
    let id = app.submit_ok(&body).await;
    let task = app.wait_for_task(&id).await;
    let video = assert_completed(&app, &task, &id).await;
    let v = seedgate_local_renderer::inspect(&video)
        .expect("mp4")
        .video
        .expect("video");
    // aspect_ratio defaults to 16:9.
    assert_eq!((v.width, v.height), (1280, 720));
}

#[tokio::test]
async fn reference_to_video_examples() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    for prompt in [
        "the woman walks through the plaza",
        "the subject walks through a neon-lit street at night",
    ] {
        let body = json!({
            "model": "seedance-2.0-mini",
            "prompt": prompt,
            "reference_image_urls": [media.image("640x480.png"), media.image("480x640.jpg")],
            "resolution": "720p",
            "duration": 5
        });
        let id = app.submit_ok(&body).await;
        let task = app.wait_for_task(&id).await;
        assert_completed(&app, &task, &id).await;
    }
}

#[tokio::test]
async fn defaults_are_the_seeds() {
    let app = spawn_app().await;
    // Only a prompt: 720p, 16:9, 5 s, no audio.
    let id = app
        .submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "a lighthouse"}))
        .await;
    let task = app.wait_for_task(&id).await;
    let video = assert_completed(&app, &task, &id).await;
    let info = seedgate_local_renderer::inspect(&video).expect("mp4");
    let v = info.video.expect("video");
    assert_eq!((v.width, v.height), (1280, 720));
    assert!((info.duration_seconds - 5.0).abs() < 0.05);
    assert!(info.audio.is_none(), "generate_audio defaults to false");
}

#[tokio::test]
async fn reference_videos_are_billed_by_their_probed_length() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let before = app.balance_of(&app.key).await;
    let body = json!({
        "model": "seedance-2.0-mini",
        "prompt": "match the motion",
        "reference_image_urls": [media.image("640x640.png")],
        "reference_video_urls": [media.video(3)],
        "resolution": "720p",
        "duration": 5
    });
    let id = app.submit_ok(&body).await;
    // (5 + ceil(3)) s at the reference tier, $0.0625/s → 500 credits.
    assert_eq!(app.balance_of(&app.key).await, before - 500);
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "completed");
}

#[tokio::test]
async fn failed_tasks_surface_under_error_and_are_refunded() {
    let app = spawn_app().await;
    let before = app.balance_of(&app.key).await;
    let id = app
        .submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "flagged [[seedgate:fail:moderation]]", "resolution": "480p"}))
        .await;
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "failed");
    assert!(task["output"].is_null());
    assert_eq!(
        task["error"]["code"], 80007,
        "moderation is reAPI's upstream content rejection"
    );
    assert_eq!(
        app.balance_of(&app.key).await,
        before,
        "refunded automatically"
    );
}

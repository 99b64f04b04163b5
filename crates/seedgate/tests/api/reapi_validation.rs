//! Every validation rule, with reAPI's code and HTTP status; none of them creates a task or
//! moves a credit.

use crate::helpers::{assert_error, spawn_app};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn base() -> Value {
    json!({"model": "seedance-2.0-mini", "prompt": "a red fox in snow"})
}

fn with(field: &str, value: Value) -> Value {
    let mut b = base();
    b[field] = value;
    b
}

fn without_prompt(field: &str, value: Value) -> Value {
    json!({"model": "seedance-2.0-mini", field: value})
}

#[tokio::test]
async fn every_rule_answers_with_its_code_and_charges_nothing() {
    let app = spawn_app().await;
    let img = "https://example.com/a.jpg";
    let long_prompt = "x".repeat(20_001);
    let cases: Vec<(&str, Value, u64, &str)> = vec![
        ("missing model", json!({"prompt": "a fox"}), 20002, "model"),
        (
            "empty model",
            json!({"model": " ", "prompt": "a fox"}),
            20002,
            "model",
        ),
        (
            "unknown model",
            with("model", json!("sora-2")),
            20004,
            "sora-2",
        ),
        (
            "seedance-2.5 not yet available",
            with("model", json!("seedance-2.5")),
            20004,
            "not yet available",
        ),
        (
            "seedance-2.5-fast",
            with("model", json!("seedance-2.5-fast")),
            20004,
            "not yet available",
        ),
        (
            "seedance-2.5-face",
            with("model", json!("seedance-2.5-face")),
            20004,
            "not yet available",
        ),
        (
            "seedance-2.5-fast-face",
            with("model", json!("seedance-2.5-fast-face")),
            20004,
            "not yet available",
        ),
        (
            "model not a string",
            with("model", json!(7)),
            20003,
            "model",
        ),
        (
            "T2V without prompt",
            json!({"model": "seedance-2.0-mini"}),
            20002,
            "prompt",
        ),
        (
            "T2V with blank prompt",
            with("prompt", json!("   ")),
            20002,
            "prompt",
        ),
        (
            "prompt too long",
            with("prompt", json!(long_prompt)),
            20007,
            "20000",
        ),
        (
            "unknown field",
            with("negative_prompt", json!("blur")),
            20003,
            "negative_prompt",
        ),
        (
            "2.5-only field",
            with("image_urls", json!([img])),
            20003,
            "image_urls",
        ),
        (
            "resolution 1080p",
            with("resolution", json!("1080p")),
            20003,
            "resolution",
        ),
        (
            "resolution bogus",
            with("resolution", json!("HD")),
            20003,
            "resolution",
        ),
        (
            "aspect ratio bogus",
            with("aspect_ratio", json!("5:4")),
            20003,
            "aspect_ratio",
        ),
        (
            "duration too short",
            with("duration", json!(3)),
            20003,
            "duration",
        ),
        (
            "duration too long",
            with("duration", json!(16)),
            20003,
            "duration",
        ),
        (
            "duration as string",
            with("duration", json!("5")),
            20003,
            "duration",
        ),
        (
            "duration fractional",
            with("duration", json!(5.5)),
            20003,
            "duration",
        ),
        (
            "generate_audio not bool",
            with("generate_audio", json!("yes")),
            20003,
            "generate_audio",
        ),
        (
            "web_search not bool",
            with("web_search", json!(1)),
            20003,
            "web_search",
        ),
        (
            "nsfw_checker not bool",
            with("nsfw_checker", json!("false")),
            20003,
            "nsfw_checker",
        ),
        (
            "data URI frame",
            without_prompt(
                "first_frame_url",
                json!("data:image/png;base64,iVBORw0KGgo="),
            ),
            20003,
            "data:",
        ),
        (
            "ftp frame",
            without_prompt("first_frame_url", json!("ftp://example.com/a.jpg")),
            20003,
            "first_frame_url",
        ),
        (
            "relative frame",
            without_prompt("first_frame_url", json!("/a.jpg")),
            20003,
            "first_frame_url",
        ),
        (
            "data URI reference",
            without_prompt(
                "reference_image_urls",
                json!([img, "data:image/png;base64,AAAA"]),
            ),
            20003,
            "reference_image_urls[1]",
        ),
        (
            "reference list not array",
            without_prompt("reference_image_urls", json!(img)),
            20003,
            "reference_image_urls",
        ),
        (
            "ten reference images",
            without_prompt("reference_image_urls", json!(vec![img; 10])),
            20003,
            "at most 9",
        ),
        (
            "four reference videos",
            with(
                "reference_video_urls",
                json!(vec!["https://e.com/v.mp4"; 4]),
            ),
            20003,
            "at most 3",
        ),
        (
            "four reference audios",
            json!({"model": "seedance-2.0-mini", "reference_image_urls": [img], "reference_audio_urls": vec!["https://e.com/a.mp3"; 4]}),
            20003,
            "at most 3",
        ),
        (
            "last frame alone",
            without_prompt("last_frame_url", json!(img)),
            20003,
            "first_frame_url",
        ),
        (
            "first frame with references",
            json!({"model": "seedance-2.0-mini", "first_frame_url": img, "reference_image_urls": [img]}),
            20003,
            "cannot be combined",
        ),
        (
            "first frame with reference video",
            json!({"model": "seedance-2.0-mini", "first_frame_url": img, "reference_video_urls": ["https://e.com/v.mp4"]}),
            20003,
            "cannot be combined",
        ),
        (
            "reference video without prompt or images",
            without_prompt("reference_video_urls", json!(["https://e.com/v.mp4"])),
            20002,
            "prompt",
        ),
        (
            "audio-only reference",
            with("reference_audio_urls", json!(["https://e.com/a.mp3"])),
            20003,
            "only reference",
        ),
    ];
    let balance = app.balance_of(&app.key).await;
    for (name, body, code, mention) in cases {
        eprintln!("case: {name}");
        let r = app.submit(&body).await;
        let message = assert_error(r, StatusCode::BAD_REQUEST, code).await;
        assert!(
            message.contains(mention),
            "{name}: message `{message}` should mention `{mention}`"
        );
    }
    assert_eq!(app.balance_of(&app.key).await, balance);
    let tasks = app.store.ledger_dump().await.expect("dump").tasks;
    assert!(tasks.is_empty(), "no task was created: {tasks:?}");
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_20001() {
    let app = spawn_app().await;
    for raw in ["not json", "[1,2]", "\"text\"", "", "{\"model\": "] {
        let r = app
            .client
            .post(app.url("/api/v1/videos/generations"))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(raw.to_string())
            .send()
            .await
            .expect("request");
        assert_error(r, StatusCode::BAD_REQUEST, 20001).await;
    }
}

#[tokio::test]
async fn reference_video_that_cannot_be_probed_is_30002_with_no_charge() {
    let app = spawn_app().await;
    let media = crate::media_server::MediaServer::start().await;
    let balance = app.balance_of(&app.key).await;
    for url in [
        format!("{}/garbage.mp4", media.base),
        format!("{}/missing.mp4", media.base),
    ] {
        let body = json!({
            "model": "seedance-2.0-mini",
            "prompt": "x",
            "reference_image_urls": [media.image("640x640.png")],
            "reference_video_urls": [url],
        });
        let message = assert_error(app.submit(&body).await, StatusCode::BAD_REQUEST, 30002).await;
        assert!(message.contains("reference_video_urls[0]"), "{message}");
    }
    assert_eq!(app.balance_of(&app.key).await, balance);
}

#[tokio::test]
async fn aliases_resolve_to_the_canonical_model_and_are_echoed() {
    let app = spawn_app().await;
    let r = app
        .submit(&json!({"model": "dreamina-seedance-2-0-mini-260615", "prompt": "x", "resolution": "480p", "duration": 4}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["model"], "dreamina-seedance-2-0-mini-260615");
    // 480p, $0.0475/s × 4 s = $0.19 → 190 credits.
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 190);
}

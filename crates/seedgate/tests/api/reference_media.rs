//! Reference media through the reAPI dialect: every media limit with its code, SSRF refusals,
//! estimate equal to the charge, the probe cache, and uploaded assets.

use crate::helpers::{assert_error, spawn_app, spawn_app_with};
use crate::media_server::{make_image, make_wav, MediaServer};
use reqwest::StatusCode;
use seedgate::config::RunMode;
use serde_json::{json, Value};

fn r2v(images: Vec<String>, videos: Vec<String>, audios: Vec<String>) -> Value {
    json!({
        "model": "seedance-2.0-mini",
        "prompt": "x",
        "reference_image_urls": images,
        "reference_video_urls": videos,
        "reference_audio_urls": audios,
        "resolution": "480p",
        "duration": 4
    })
}

#[tokio::test]
async fn every_media_limit_answers_with_its_code_and_charges_nothing() {
    let app = spawn_app().await;
    let m = MediaServer::start().await;
    let ok_img = m.image("640x640.png");
    let i2v = |url: String| json!({"model": "seedance-2.0-mini", "first_frame_url": url, "resolution": "480p", "duration": 4});
    let cases: Vec<(&str, Value, u64, &str)> = vec![
        (
            "image edge too small",
            i2v(m.image("299x400.png")),
            20003,
            "`first_frame_url`: is 299×400",
        ),
        (
            "image edge too large",
            i2v(m.image("6001x3000.png")),
            20003,
            "300–6000",
        ),
        (
            "image too wide",
            i2v(m.image("1000x399.jpg")),
            20003,
            "aspect ratio",
        ),
        (
            "image too tall",
            json!({"model": "seedance-2.0-mini", "first_frame_url": ok_img, "last_frame_url": m.image("399x1000.png")}),
            20003,
            "last_frame_url",
        ),
        (
            "second reference image too small",
            r2v(vec![ok_img.clone(), m.image("200x200.png")], vec![], vec![]),
            20003,
            "reference_image_urls[1]",
        ),
        (
            "video too short",
            r2v(vec![ok_img.clone()], vec![m.video(1)], vec![]),
            20003,
            "2–15 s",
        ),
        (
            "video too long",
            r2v(vec![ok_img.clone()], vec![m.video(16)], vec![]),
            20003,
            "2–15 s",
        ),
        (
            "videos too long together",
            r2v(vec![ok_img.clone()], vec![m.video(8), m.video(8)], vec![]),
            20003,
            "total",
        ),
        (
            "video fps too low",
            r2v(
                vec![ok_img.clone()],
                vec![m.video_of(640, 640, 12, 3)],
                vec![],
            ),
            20003,
            "fps",
        ),
        (
            "video too few pixels",
            r2v(
                vec![ok_img.clone()],
                vec![m.video_of(600, 600, 24, 3)],
                vec![],
            ),
            20003,
            "pixels",
        ),
        (
            "video too many pixels",
            r2v(
                vec![ok_img.clone()],
                vec![m.video_of(1000, 1000, 24, 3)],
                vec![],
            ),
            20003,
            "pixels",
        ),
        (
            "audio too short",
            r2v(vec![ok_img.clone()], vec![], vec![m.wav(1.5)]),
            20003,
            "reference_audio_urls[0]",
        ),
        (
            "audio too long",
            r2v(vec![ok_img.clone()], vec![], vec![m.wav(16.0)]),
            20003,
            "2–15 s",
        ),
        (
            "audio too long together",
            r2v(vec![ok_img.clone()], vec![], vec![m.wav(8.0), m.wav(8.0)]),
            20003,
            "total",
        ),
        (
            "image where a video belongs",
            r2v(vec![ok_img.clone()], vec![m.image("640x640.png")], vec![]),
            30002,
            "expected a video",
        ),
        (
            "video where an image belongs",
            i2v(m.video(3)),
            30002,
            "expected an image",
        ),
        (
            "unreadable image",
            i2v(format!("{}/garbage.png", m.base)),
            30002,
            "first_frame_url",
        ),
        (
            "missing image",
            i2v(format!("{}/nothing.png", m.base)),
            30002,
            "404",
        ),
    ];
    let balance = app.balance_of(&app.key).await;
    for (name, body, code, mention) in cases {
        let message = assert_error(app.submit(&body).await, StatusCode::BAD_REQUEST, code).await;
        assert!(
            message.contains(mention),
            "{name}: `{message}` should mention `{mention}`"
        );
    }
    assert_eq!(app.balance_of(&app.key).await, balance);
    assert!(app
        .store
        .ledger_dump()
        .await
        .expect("dump")
        .tasks
        .is_empty());

    // The boundaries themselves are accepted: 300 px edges, a 2 s and a 15 s video, 2 s audio.
    let body = r2v(
        vec![m.image("300x300.png")],
        vec![m.video(2)],
        vec![m.wav(2.0)],
    );
    assert_eq!(app.submit(&body).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn production_refuses_private_and_metadata_urls_before_any_hold() {
    // Loopback is allowed only so that the local media server can answer with a redirect.
    let app = spawn_app_with(|s| {
        s.mode = RunMode::Development;
        s.fetch.allow_private = Some(vec!["127.0.0.1/32".into()]);
    })
    .await;
    let m = MediaServer::start().await;
    let i2v = |url: &str| json!({"model": "seedance-2.0-mini", "first_frame_url": url});
    for url in [
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.8/a.png".to_string(),
        "http://[::ffff:a9fe:a9fe]/a.png".to_string(),
        "http://0xa9.0xfe.0xa9.0xfe/a.png".to_string(),
        format!("{}/to-metadata.png", m.base),
    ] {
        let message =
            assert_error(app.submit(&i2v(&url)).await, StatusCode::BAD_REQUEST, 20003).await;
        assert!(message.contains("first_frame_url"), "{url}: {message}");
    }

    let strict = spawn_app_with(|s| s.fetch.allow_private = Some(vec![])).await;
    let message = assert_error(
        strict.submit(&i2v(&m.image("640x640.png"))).await,
        StatusCode::BAD_REQUEST,
        20003,
    )
    .await;
    assert!(message.contains("loopback"), "{message}");
    assert!(strict
        .store
        .ledger_dump()
        .await
        .expect("dump")
        .tasks
        .is_empty());
}

#[tokio::test]
async fn estimate_equals_the_charge_of_the_submit_that_follows() {
    let app = spawn_app().await;
    let m = MediaServer::start().await;
    let body = json!({
        "model": "seedance-2.0-mini",
        "prompt": "follow the dancer",
        "reference_image_urls": [m.image("1200x900.jpg")],
        "reference_video_urls": [m.video(3), m.video_of(720, 1280, 30, 2)],
        "reference_audio_urls": [m.wav(2.5)],
        "resolution": "720p",
        "aspect_ratio": "adaptive",
        "duration": 6
    });
    let before = app.balance_of(&app.key).await;
    let r = app
        .client
        .post(app.url("/api/v1/videos/estimate"))
        .bearer_auth(&app.key)
        .json(&body)
        .send()
        .await
        .expect("estimate");
    assert_eq!(r.status(), StatusCode::OK);
    let estimate: Value = r.json().await.expect("json");
    assert_eq!(
        app.balance_of(&app.key).await,
        before,
        "an estimate charges nothing"
    );
    // 6 s + ceil(3 + 2) s = 11 s at the 720p reference tier, $0.0625/s → 687.5 → 688 credits.
    assert_eq!(estimate["billable_seconds"], 11, "{estimate}");
    assert_eq!(estimate["credits"], 688, "{estimate}");
    assert_eq!(estimate["mode"], "r2v");
    // adaptive follows the first reference image (4:3).
    assert_eq!(
        estimate["output"],
        json!({"width": 1112, "height": 834, "fps": 24})
    );
    let media = estimate["media"].as_array().expect("media");
    assert_eq!(media.len(), 4);
    assert_eq!(media[0]["field"], "reference_image_urls[0]");
    assert_eq!(media[0]["probe"]["width"], 1200);
    assert_eq!(media[0]["probe"]["format"], "jpeg");
    assert_eq!(media[2]["field"], "reference_video_urls[1]");
    assert_eq!(media[2]["probe"]["width"], 720);
    assert!((media[2]["probe"]["fps"].as_f64().expect("fps") - 30.0).abs() < 0.01);
    assert!((media[2]["probe"]["duration_seconds"].as_f64().expect("s") - 2.0).abs() < 0.05);
    assert_eq!(media[3]["probe"]["format"], "wav");
    assert!((media[3]["probe"]["duration_seconds"].as_f64().expect("s") - 2.5).abs() < 0.01);

    let r = app.submit(&body).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.balance_of(&app.key).await,
        before - 688,
        "the submit charged exactly the estimate"
    );

    // Estimates go through the same validation.
    let bad = json!({"model": "seedance-2.0-mini", "prompt": "x", "duration": 40});
    let r = app
        .client
        .post(app.url("/api/v1/videos/estimate"))
        .bearer_auth(&app.key)
        .json(&bad)
        .send()
        .await
        .expect("req");
    assert_error(r, StatusCode::BAD_REQUEST, 20003).await;
    let r = app
        .client
        .post(app.url("/api/v1/videos/estimate"))
        .json(&body)
        .send()
        .await
        .expect("req");
    assert_error(r, StatusCode::UNAUTHORIZED, 10001).await;
}

#[tokio::test]
async fn a_resubmit_does_not_refetch_and_the_renderer_reuses_the_bytes() {
    let app = spawn_app().await;
    let m = MediaServer::start().await;
    let path = "/img/800x600.png";
    let body = json!({"model": "seedance-2.0-mini", "first_frame_url": m.image("800x600.png"), "resolution": "480p", "duration": 4});
    let id = app.submit_ok(&body).await;
    assert_eq!(app.wait_for_task(&id).await["status"], "completed");
    assert_eq!(
        m.hits(path),
        1,
        "probed once; the renderer used the cached bytes"
    );
    let id = app.submit_ok(&body).await;
    assert_eq!(app.wait_for_task(&id).await["status"], "completed");
    assert_eq!(
        m.hits(path),
        1,
        "the resubmit revalidated with HEAD and did not fetch again"
    );
}

#[tokio::test]
async fn assets_upload_probe_and_serve_as_reference_media() {
    // A public base URL nobody can resolve here: our own asset URLs are read from storage,
    // never fetched (so neither DNS nor the SSRF guard stands in the way).
    let app = spawn_app_with(|s| {
        s.assets.quota_bytes_per_key = 4_000_000;
        s.public_base_url = Some("https://videos.example.invalid".into());
    })
    .await;
    let png = make_image(800, 600, image::ImageFormat::Png);
    let r = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&app.key)
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::OK);
    let asset: Value = r.json().await.expect("json");
    let id = asset["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("asset_"));
    let url = asset["url"].as_str().expect("url").to_string();
    assert!(
        url.starts_with("https://videos.example.invalid/media/assets/")
            && crate::helpers::media_path(&url).ends_with(".png"),
        "{url}"
    );
    assert_eq!(asset["probe"]["width"], 800);
    assert_eq!(asset["probe"]["kind"], "image");
    assert_eq!(asset["probe"]["size_bytes"], png.len());

    let got: Value = app
        .client
        .get(app.url(&format!("/api/v1/assets/{id}")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(got, asset);
    let path = url.trim_start_matches("https://videos.example.invalid");
    let served = app.client.get(app.url(path)).send().await.expect("get");
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.expect("bytes").to_vec(), png);

    // Multipart, a WAV.
    let wav = make_wav(3.0);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(wav).file_name("a.wav"),
    );
    let r = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&app.key)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::OK);
    let audio: Value = r.json().await.expect("json");
    assert_eq!(audio["probe"]["format"], "wav");

    // The uploaded image works as a first frame.
    let id_task = app.submit_ok(&json!({"model": "seedance-2.0-mini", "first_frame_url": url, "resolution": "480p", "aspect_ratio": "adaptive", "duration": 4})).await;
    let task = app.wait_for_task(&id_task).await;
    assert_eq!(task["status"], "completed", "{task}");

    // Same limits and probes as submit.
    let small = make_image(200, 200, image::ImageFormat::Png);
    let r = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&app.key)
        .body(small)
        .send()
        .await
        .expect("upload");
    assert_error(r, StatusCode::BAD_REQUEST, 20003).await;
    let r = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&app.key)
        .body(vec![1u8; 1000])
        .send()
        .await
        .expect("upload");
    let message = assert_error(r, StatusCode::BAD_REQUEST, 20003).await;
    assert!(message.contains("not a supported"), "{message}");
    let r = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&app.key)
        .body(Vec::new())
        .send()
        .await
        .expect("upload");
    assert_error(r, StatusCode::BAD_REQUEST, 20003).await;

    // Another key sees nothing.
    let other = app.create_key("other", 0).await;
    let r = app
        .client
        .get(app.url(&format!("/api/v1/assets/{id}")))
        .bearer_auth(&other)
        .send()
        .await
        .expect("get");
    assert_error(r, StatusCode::NOT_FOUND, 40002).await;

    // A large upload (above the 2 MB JSON limit) is fine, until the key's quota is used up.
    let noise = noisy_png(1000, 1000);
    assert!(noise.len() > 2_100_000, "{}", noise.len());
    let r = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&app.key)
        .body(noise.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let r = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&app.key)
        .body(noise)
        .send()
        .await
        .expect("upload");
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, 20010).await;
}

/// A PNG that does not compress: random pixels.
fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545F4914F6CDD1Du64;
    let img = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

#[tokio::test]
async fn a_changed_file_is_fetched_again_and_priced_by_its_new_length() {
    let app = spawn_app().await;
    let m = MediaServer::start().await;
    m.set_mutable(crate::media_server::make_video_of(640, 640, 24, 3));
    let body = json!({
        "model": "seedance-2.0-mini",
        "prompt": "x",
        "reference_image_urls": [m.image("640x640.png")],
        "reference_video_urls": [m.mutable_url()],
        "resolution": "480p",
        "duration": 4
    });
    let estimate = |app: &crate::helpers::TestApp| {
        app.client
            .post(app.url("/api/v1/videos/estimate"))
            .bearer_auth(&app.key)
            .json(&body)
            .send()
    };
    let first: Value = estimate(&app)
        .await
        .expect("estimate")
        .json()
        .await
        .expect("json");
    assert_eq!(first["billable_seconds"], 7, "{first}");
    let again: Value = estimate(&app)
        .await
        .expect("estimate")
        .json()
        .await
        .expect("json");
    assert_eq!(again["billable_seconds"], 7);
    assert_eq!(
        m.hits("/mutable.mp4"),
        1,
        "unchanged: served from the cache"
    );

    m.set_mutable(crate::media_server::make_video_of(640, 640, 24, 6));
    let changed: Value = estimate(&app)
        .await
        .expect("estimate")
        .json()
        .await
        .expect("json");
    assert_eq!(m.hits("/mutable.mp4"), 2, "a new ETag means a new fetch");
    assert_eq!(
        changed["billable_seconds"], 10,
        "priced by the new length: {changed}"
    );
}

//! The local renderer's output, read back from the served file: codec, exact pixel size for the
//! resolution and aspect ratio, 24 fps, exact duration, audio when asked; checked again with
//! ffprobe where it is installed.

use crate::helpers::spawn_app;
use crate::media_server::MediaServer;
use serde_json::{json, Value};
use std::process::Command;

fn ffprobe_available() -> bool {
    Command::new("ffprobe")
        .arg("-version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// ffprobe's view of a file: (codec, width, height, r_frame_rate, nb_frames) of the video
/// stream, the audio codec if any, and the container duration.
fn ffprobe(bytes: &[u8]) -> (String, u64, u64, String, u64, Option<String>, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out.mp4");
    std::fs::write(&path, bytes).expect("write");
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let streams = v["streams"].as_array().expect("streams");
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("video stream");
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    let n = |s: &Value| {
        s.as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| s.as_u64())
            .unwrap_or(0)
    };
    // Decoding the whole file must raise no error either.
    let decode = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        decode.stderr.is_empty(),
        "ffmpeg decode errors: {}",
        String::from_utf8_lossy(&decode.stderr)
    );
    (
        video["codec_name"].as_str().unwrap_or_default().to_string(),
        video["width"].as_u64().unwrap_or(0),
        video["height"].as_u64().unwrap_or(0),
        video["r_frame_rate"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        n(&video["nb_frames"]),
        audio.map(|a| a["codec_name"].as_str().unwrap_or_default().to_string()),
        v["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0.0),
    )
}

#[tokio::test]
async fn output_matches_the_seedance_pixel_table() {
    let app = spawn_app().await;
    let media = MediaServer::start().await;
    let has_ffprobe = ffprobe_available();
    if !has_ffprobe {
        // CI installs ffmpeg and sets this, so a missing ffprobe there fails instead of skipping.
        assert!(
            std::env::var_os("SEEDGATE_REQUIRE_FFPROBE").is_none(),
            "ffprobe is required but not installed"
        );
        eprintln!("ffprobe not installed: checking with the built-in MP4 reader only");
    }
    // (body, expected width, height, duration, audio)
    let cases: Vec<(Value, u32, u32, u32, bool)> = vec![
        (
            json!({"prompt": "tall", "resolution": "480p", "aspect_ratio": "9:16", "duration": 4}),
            496,
            864,
            4,
            false,
        ),
        (
            json!({"prompt": "wide", "resolution": "720p", "aspect_ratio": "21:9", "duration": 4}),
            1470,
            630,
            4,
            false,
        ),
        (
            json!({"prompt": "square with sound", "resolution": "480p", "aspect_ratio": "1:1", "duration": 6, "generate_audio": true}),
            640,
            640,
            6,
            true,
        ),
        (
            json!({"prompt": "portrait card", "resolution": "720p", "aspect_ratio": "3:4", "duration": 4}),
            834,
            1112,
            4,
            false,
        ),
        // adaptive follows the first image's shape: 600×800 is 3:4.
        (
            json!({"first_frame_url": media.image("600x800.png"), "last_frame_url": media.image("600x800.jpg"), "resolution": "480p", "aspect_ratio": "adaptive", "duration": 4}),
            560,
            752,
            4,
            false,
        ),
        // adaptive on text: 16:9.
        (
            json!({"prompt": "adaptive text", "resolution": "480p", "aspect_ratio": "adaptive", "duration": 4}),
            864,
            496,
            4,
            false,
        ),
        // R2V with adaptive follows the first reference image: 1200×900 is 4:3.
        (
            json!({"prompt": "refs", "reference_image_urls": [media.image("1200x900.jpg"), media.image("500x500.png")], "resolution": "480p", "aspect_ratio": "adaptive", "duration": 4}),
            752,
            560,
            4,
            false,
        ),
    ];
    let mut ids = Vec::new();
    for (mut body, ..) in cases.clone() {
        body["model"] = json!("seedance-2.0-mini");
        ids.push(app.submit_ok(&body).await);
    }
    for ((body, w, h, secs, audio), id) in cases.into_iter().zip(ids) {
        let task = app.wait_for_task(&id).await;
        assert_eq!(task["status"], "completed", "{body}: {task}");
        let url = task["output"]["video_urls"][0].as_str().expect("url");
        let bytes = app
            .client
            .get(url)
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");

        let info = seedgate_local_renderer::inspect(&bytes).expect("our reader parses it");
        let v = info.video.as_ref().expect("video track");
        assert_eq!(v.codec, "h264", "{body}");
        assert_eq!((v.width, v.height), (w, h), "{body}");
        assert!((v.fps - 24.0).abs() < 0.01, "{body}: fps {}", v.fps);
        assert_eq!(v.frame_count, u64::from(secs) * 24, "{body}");
        assert!(
            (info.duration_seconds - f64::from(secs)).abs() < 1.0 / 24.0,
            "{body}: {}",
            info.duration_seconds
        );
        assert_eq!(info.audio.is_some(), audio, "{body}");
        if let Some(a) = &info.audio {
            assert_eq!(a.codec, "aac");
            assert!(
                (a.duration_seconds - f64::from(secs)).abs() < 0.1,
                "{}",
                a.duration_seconds
            );
        }

        if has_ffprobe {
            let (codec, fw, fh, rate, frames, acodec, duration) = ffprobe(&bytes);
            assert_eq!(codec, "h264");
            assert_eq!((fw, fh), (u64::from(w), u64::from(h)), "{body}");
            assert_eq!(rate, "24/1");
            assert_eq!(frames, u64::from(secs) * 24);
            assert_eq!(acodec.as_deref(), if audio { Some("aac") } else { None });
            assert!((duration - f64::from(secs)).abs() < 0.1, "{duration}");
        }
    }
}

#[tokio::test]
async fn media_links_are_signed_expire_and_cannot_be_altered() {
    let app = spawn_app().await;
    let id = app.submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "links", "resolution": "480p", "duration": 4})).await;
    let task = app.wait_for_task(&id).await;
    let url = task["output"]["video_urls"][0]
        .as_str()
        .expect("url")
        .to_string();
    let path = crate::helpers::media_path(&url).to_string();
    let get = |u: String| {
        let client = app.client.clone();
        async move { client.get(u).send().await.expect("get").status().as_u16() }
    };
    assert_eq!(get(url.clone()).await, 200);
    assert_eq!(get(path.clone()).await, 403, "no signature");
    let (_, query) = url.split_once('?').expect("query");
    let expires: i64 = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("expires="))
        .expect("expires")
        .parse()
        .expect("number");
    let now = seedgate_core::clock::now_ms() / 1000;
    assert!(
        expires >= now + 7 * 24 * 3600 - 5,
        "lives at least the configured week"
    );
    let longer = url.replace(
        &format!("expires={expires}"),
        &format!("expires={}", expires + 3600),
    );
    assert_eq!(get(longer).await, 403, "a longer life cannot be bought");
    let other = url.replace("/0.mp4", "/0_last_frame.png");
    assert_eq!(get(other).await, 403, "a signature is for one file");
    // A genuine link whose time is up (signed with the app's own key, an hour ago).
    let secret = app
        .store
        .server_secret("media_links", "unused")
        .await
        .expect("secret");
    let key = path.split("/media/").nth(1).expect("key");
    let stale = seedgate_core::media_links::query(secret.as_bytes(), key, now - 3600);
    let r = app
        .client
        .get(format!("{path}?{stale}"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 403);
    assert!(r.text().await.expect("text").contains("expired"));
    // A signed link to a file that is not there is a plain 404.
    let missing =
        seedgate_core::media_links::query(secret.as_bytes(), "tasks/nope/0.mp4", now + 60);
    assert_eq!(
        get(app.url(&format!("/media/tasks/nope/0.mp4?{missing}"))).await,
        404
    );
}

#[tokio::test]
async fn media_supports_range_requests() {
    let app = spawn_app().await;
    let id = app.submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "ranges", "resolution": "480p", "duration": 4})).await;
    let task = app.wait_for_task(&id).await;
    let url = task["output"]["video_urls"][0]
        .as_str()
        .expect("url")
        .to_string();
    let full = app
        .client
        .get(&url)
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");

    let r = app
        .client
        .get(&url)
        .header("range", "bytes=10-109")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), reqwest::StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 10-109/{}", full.len()).as_str()
    );
    assert_eq!(r.bytes().await.expect("bytes"), full.slice(10..110));

    let r = app
        .client
        .get(&url)
        .header("range", "bytes=-16")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), reqwest::StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.bytes().await.expect("bytes"),
        full.slice(full.len() - 16..)
    );

    let r = app
        .client
        .get(&url)
        .header("range", format!("bytes={}-", full.len() + 10))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), reqwest::StatusCode::RANGE_NOT_SATISFIABLE);

    // The database is one level above the media directory. Unsigned paths are refused before
    // storage is touched.
    for path in [
        "/media/tasks/nope/0.mp4",
        "/media/..%2Fseedgate.db",
        "/media/%2e%2e/seedgate.db",
        "/media/tasks/..%2F..%2Fseedgate.db",
    ] {
        let r = app.client.get(app.url(path)).send().await.expect("get");
        let status = r.status();
        let body = r.bytes().await.expect("bytes");
        // Refused for want of a signature, or not even routed: either way nothing is read.
        assert!(
            [
                reqwest::StatusCode::FORBIDDEN,
                reqwest::StatusCode::NOT_FOUND
            ]
            .contains(&status),
            "{path}: {status}"
        );
        assert!(
            !body.starts_with(b"SQLite format"),
            "{path} leaked the database"
        );
    }
}

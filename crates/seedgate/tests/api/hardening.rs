//! What an attacker or a careless client sends: strings that break byte-offset slicing, other
//! keys' files, oversized bodies, connections that trickle, delays without end. Each is answered
//! in the route's own dialect, loses nothing and costs nothing.

use crate::helpers::{bearer_or_x_api_key, error_code, spawn_app, spawn_app_with, Call, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A create in every dialect carrying `url` where a medium goes.
fn creates_with_media(url: &str) -> Vec<Call> {
    vec![
        Call {
            dialect: "reapi",
            path: "/api/v1/videos/generations",
            body: json!({"model": "seedance-2.0-mini", "prompt": "x", "first_frame_url": url}),
        },
        Call {
            dialect: "reapi",
            path: "/api/v1/videos/estimate",
            body: json!({"model": "seedance-2.0-mini", "prompt": "x", "reference_image_urls": [url]}),
        },
        Call {
            dialect: "hiapi",
            path: "/v1/tasks",
            body: json!({"model": "seedance-2.0-mini", "input": {"prompt": "x", "first_frame_url": url}}),
        },
        Call {
            dialect: "apixo",
            path: "/api/v1/generateTask/seedance-2-0-mini",
            body: json!({"request_type": "async", "input": {"mode": "first_and_last_frames",
                "prompt": "x", "image_urls": [url]}}),
        },
        Call {
            dialect: "crun",
            path: "/api/v1/client/job/CreateTask",
            body: json!({"model": "bytedance/seedance2-0-mini-i2v",
                "input": {"prompt": "x", "img_urls": [url]}}),
        },
        Call {
            dialect: "crun",
            path: "/api/v1/client/job/asset-upload",
            body: json!({"name": "x", "asset_type": "Image", "asset_url": url}),
        },
        Call {
            dialect: "kie",
            path: "/api/v1/jobs/createTask",
            body: json!({"model": "bytedance/seedance-2-mini", "input": {"prompt": "x", "first_frame_url": url}}),
        },
        Call {
            dialect: "ark",
            path: "/api/v3/contents/generations/tasks",
            body: json!({"model": "dreamina-seedance-2-0-mini-260615", "content": [
                {"type": "text", "text": "x"},
                {"type": "image_url", "image_url": {"url": url}, "role": "first_frame"}]}),
        },
        Call {
            dialect: "openai",
            path: "/v1/videos",
            body: json!({"model": "seedance-2.0-mini", "prompt": "x", "input_reference": url}),
        },
        Call {
            dialect: "openai",
            path: "/v1/videos",
            body: json!({"model": "seedance-2.0-mini", "prompt": "x",
                "input_reference": {"image_url": url}}),
        },
    ]
}

/// Sends every call and returns (dialect, status, body) for each; any dropped connection or
/// non-JSON answer fails the test.
async fn send_all(app: &TestApp, calls: Vec<Call>, key: &str) -> Vec<(String, StatusCode, Value)> {
    let mut answers = Vec::new();
    for call in calls {
        let r = bearer_or_x_api_key(app, &call, key)
            .json(&call.body)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{} {}: the connection dropped: {e}",
                    call.dialect, call.path
                )
            });
        let status = r.status();
        let body: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{} {}: not JSON: {e}", call.dialect, call.path));
        answers.push((format!("{} {}", call.dialect, call.path), status, body));
    }
    answers
}

#[tokio::test]
async fn multibyte_characters_where_offsets_were_sliced_get_a_clean_refusal() {
    let app = spawn_app().await;
    // `é` straddles byte 5 (`data:`) and byte 8 (`asset://`): both were sliced at a byte offset.
    for url in [
        "abcdé.png",
        "abcdefgé.png",
        "ééééééééé",
        "asset://é",
        "dAtA:é,",
    ] {
        for (what, status, body) in send_all(&app, creates_with_media(url), &app.key).await {
            assert!(
                status.is_client_error(),
                "{what} with {url:?}: {status} {body}"
            );
            let dialect = what.split(' ').next().unwrap_or_default();
            assert!(
                !error_code(dialect, &body).is_null(),
                "{what}: the dialect's own envelope: {body}"
            );
        }
    }
    assert_eq!(app.balance_of(&app.key).await, 100_000, "nothing charged");
}

#[tokio::test]
async fn another_keys_file_cannot_be_used_as_reference_media() {
    let app = spawn_app_with(|s| s.mode = seedgate::config::RunMode::Production).await;
    let owner = app.key.clone();
    let stranger = app.create_key("stranger", 10_000).await;
    // The owner's private upload, and its signed link.
    let png = crate::media_server::make_image(640, 640, image::ImageFormat::Png);
    let asset: Value = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&owner)
        .body(png)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let signed = asset["url"].as_str().expect("url").to_string();
    let unsigned = signed.split('?').next().expect("path").to_string();
    let forged = format!("{unsigned}?expires=1&signature=00");
    let other_expiry = signed.replace("expires=", "expires=1");

    for url in [&unsigned, &forged, &other_expiry] {
        for (what, status, body) in send_all(&app, creates_with_media(url), &stranger).await {
            if what.contains("asset-upload") || what.starts_with("openai") {
                // Refused too, but their field names differ; the status says enough.
                assert!(status.is_client_error(), "{what} {url}: {status} {body}");
                continue;
            }
            assert!(
                status.is_client_error(),
                "{what} with another key's file {url}: {status} {body}"
            );
        }
        // The estimate reveals nothing of the file.
        let r = app
            .client
            .post(app.url("/api/v1/videos/estimate"))
            .bearer_auth(&stranger)
            .json(&json!({"model": "seedance-2.0-mini", "prompt": "x", "first_frame_url": url}))
            .send()
            .await
            .expect("estimate");
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_eq!(body["error"]["code"], 20003, "{body}");
        assert!(body.get("media").is_none(), "no file facts: {body}");
    }
    assert_eq!(app.balance_of(&stranger).await, 10_000, "nothing charged");

    // A link the server really handed out is what a GET accepts, so it is accepted here too.
    let r = app
        .client
        .post(app.url("/api/v1/videos/estimate"))
        .bearer_auth(&owner)
        .json(&json!({"model": "seedance-2.0-mini", "prompt": "x", "first_frame_url": signed}))
        .send()
        .await
        .expect("estimate");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
}

/// Each dialect's create, with a body over the 2 MiB limit.
#[tokio::test]
async fn an_oversized_body_is_413_in_every_dialect() {
    // Routes that take uploads (the videos API's create) accept up to the upload limit.
    let app = spawn_app_with(|s| s.assets.max_upload_bytes = 2 * 1024 * 1024).await;
    let big = "x".repeat(3 * 1024 * 1024);
    let calls = [
        ("reapi", "/api/v1/videos/generations", json!(20011)),
        ("hiapi", "/v1/tasks", json!("PAYLOAD_TOO_LARGE")),
        (
            "apixo",
            "/api/v1/generateTask/seedance-2-0-mini",
            json!(413),
        ),
        ("crun", "/api/v1/client/job/CreateTask", json!(413)),
        ("kie", "/api/v1/jobs/createTask", json!(413)),
        (
            "ark",
            "/api/v3/contents/generations/tasks",
            json!("InvalidParameter.RequestTooLarge"),
        ),
        ("openai", "/v1/videos", json!("request_too_large")),
    ];
    for (dialect, path, code) in calls {
        let call = Call {
            dialect,
            path,
            body: json!({"model": "seedance-2.0-mini", "prompt": big}),
        };
        let r = bearer_or_x_api_key(&app, &call, &app.key)
            .json(&call.body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{dialect}: {e}"));
        let status = r.status();
        let body: Value = r.json().await.unwrap_or_else(|e| panic!("{dialect}: {e}"));
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{dialect}: {body}");
        assert_eq!(error_code(dialect, &body), code, "{dialect}: {body}");
    }
}

/// Connections that send their headers (or bodies) a byte at a time are cut off after the read
/// deadline, and 2,000 of them do not slow a normal client down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_do_not_stop_others() {
    let app = spawn_app_with(|s| {
        s.http.header_read_timeout_seconds = 2;
        s.http.body_idle_timeout_seconds = 2;
        s.http.request_timeout_seconds = 4;
    })
    .await;
    let addr = app.base.trim_start_matches("http://").to_string();

    // 2,000 connections, each having sent half a request line.
    let mut slow = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        stream.write_all(b"GET /api/v1/tas").await.expect("write");
        slow.push(stream);
    }
    // Meanwhile, a normal client is served promptly, again and again.
    for _ in 0..20 {
        let started = Instant::now();
        let r = app
            .client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("a normal request is served");
        assert!(r.status().is_success(), "{}", r.status());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a normal request waited {:?}",
            started.elapsed()
        );
    }
    // And connections that send nothing at all.
    let mut silent = Vec::with_capacity(100);
    for _ in 0..100 {
        silent.push(
            tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect"),
        );
    }
    // Past the header deadline the server has closed them: a read sees the end (or a reset).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut closed = 0;
    for stream in slow.iter_mut().take(200) {
        let _ = stream.write_all(b"k").await;
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => closed += 1,
            Err(_) => {}
        }
    }
    assert_eq!(closed, 200, "every trickling connection was closed");
    drop(slow);
    let mut closed = 0;
    for stream in silent.iter_mut() {
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => closed += 1,
            Err(_) => {}
        }
    }
    assert_eq!(closed, 100, "every silent connection was closed");
    drop(silent);

    // A body that trickles: the request is answered (an error) within the deadlines, not held.
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/videos/generations HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"model\":",
        app.key
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let mut answer = Vec::new();
    loop {
        // One byte a second: never idle long, never done.
        let _ = stream.write_all(b" ").await;
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        if !answer.is_empty() && answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "a trickling body was held for {:?}",
            started.elapsed()
        );
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 4") || text.starts_with("HTTP/1.1 5"),
        "{text}"
    );
    assert_eq!(app.balance_of(&app.key).await, 100_000);
}

#[tokio::test]
async fn a_delay_directive_is_bounded() {
    let app = spawn_app_with(|s| s.local.max_directive_delay_ms = 300).await;
    let started = Instant::now();
    let id = app
        .submit_ok(
            &json!({"model": "seedance-2.0-mini", "resolution": "480p", "duration": 4,
            "prompt": "[[seedgate:delay:18446744073709551615]] [[seedgate:delay:99999999999]]"}),
        )
        .await;
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the delay was not bounded: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_finished_task_polled_a_week_later_hands_out_live_links() {
    let app = spawn_app().await;
    let id = app
        .submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4}))
        .await;
    let first = app.wait_for_task(&id).await;
    let first_url = first["output"]["video_urls"][0]
        .as_str()
        .expect("url")
        .to_string();
    // Polled again (now from the finished-task cache), eight days on.
    app.clock.advance_ms(8 * 24 * 3600 * 1000);
    let r = app.get_task_as(&app.key, &id).await;
    let later: Value = r.json().await.expect("json");
    let later_url = later["output"]["video_urls"][0]
        .as_str()
        .expect("url")
        .to_string();
    let old = app.client.get(&first_url).send().await.expect("get");
    assert_eq!(
        old.status(),
        StatusCode::FORBIDDEN,
        "the week-old link expired"
    );
    let fresh = app.client.get(&later_url).send().await.expect("get");
    assert_eq!(
        fresh.status(),
        StatusCode::OK,
        "the link handed out now works: {later_url}"
    );
}

#[tokio::test]
async fn instant_mode_reports_the_size_it_serves() {
    let app = spawn_app_with(|s| s.local.instant = true).await;
    let r = app
        .client
        .post(app.url("/v1/videos"))
        .bearer_auth(&app.key)
        .json(&json!({"model": "seedance-2.0-mini", "prompt": "x", "seconds": "4", "size": "1280x720"}))
        .send()
        .await
        .expect("create");
    let video: Value = r.json().await.expect("json");
    let id = video["id"].as_str().expect("id").to_string();
    app.wait_for_task(&id).await;
    let video = app.get_json(&format!("/v1/videos/{id}")).await;
    let bytes = app
        .client
        .get(app.url(&format!("/v1/videos/{id}/content")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("content")
        .bytes()
        .await
        .expect("bytes");
    let info = seedgate_local_renderer::inspect(&bytes).expect("an MP4");
    let track = info.video.expect("video track");
    assert_eq!(
        video["size"],
        format!("{}x{}", track.width, track.height),
        "the reported size is the served clip's"
    );
}

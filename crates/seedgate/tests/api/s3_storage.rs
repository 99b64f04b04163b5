//! Results and uploads in an S3-compatible bucket (`[storage] kind = "s3"`), against a real
//! S3-compatible server: CI starts `moto_server` from PyPI and sets SEEDGATE_TEST_S3_ENDPOINT.
//! Without the variable these tests fail rather than pass unseen.

use crate::helpers::{spawn_app_with, Call, TestApp};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use seedgate::config::{Settings, StorageKind};
use serde_json::{json, Value};
use std::time::Duration;

fn endpoint() -> String {
    std::env::var("SEEDGATE_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "SEEDGATE_TEST_S3_ENDPOINT is not set: start an S3-compatible server \
             (`pip install 'moto[server]'; moto_server -p 5077`) and set it to its URL"
        )
    })
}

/// A fresh bucket on the test server (moto accepts unsigned bucket creation).
async fn new_bucket() -> String {
    let bucket = format!(
        "seedgate-{}",
        seedgate_core::TaskId::generate().as_str().replace('_', "-")
    );
    let r = reqwest::Client::new()
        .put(format!("{}/{bucket}", endpoint()))
        .send()
        .await
        .expect("create bucket");
    assert!(
        r.status().is_success(),
        "creating the bucket: {}",
        r.status()
    );
    bucket
}

fn s3(bucket: &str) -> impl FnOnce(&mut Settings) + '_ {
    s3_through(bucket, endpoint())
}

/// The bucket, reached through `endpoint` (a fault-injecting proxy in front of the server).
fn s3_through(bucket: &str, endpoint: String) -> impl FnOnce(&mut Settings) + '_ {
    move |s: &mut Settings| {
        s.storage.kind = StorageKind::S3;
        s.storage.s3 = seedgate_blobs::S3Config {
            bucket: bucket.to_string(),
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            path_style: true,
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
            allow_http: true,
        };
    }
}

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    (r.status(), r.json().await.expect("json"))
}

#[tokio::test]
async fn results_and_assets_live_in_the_bucket() {
    let bucket = new_bucket().await;
    let app = spawn_app_with(s3(&bucket)).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // An uploaded asset goes to the bucket and serves as reference media.
    let media = MediaServer::start().await;
    let png = reqwest::get(media.image("800x600.png"))
        .await
        .expect("image")
        .bytes()
        .await
        .expect("bytes");
    let asset: Value = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&app.key)
        .body(png.clone())
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let asset_url = asset["url"].as_str().expect("asset url");
    let id = app
        .submit_ok(&json!({
            "model": "seedance-2.0-mini", "prompt": "from the bucket",
            "first_frame_url": asset_url, "resolution": "480p", "duration": 4
        }))
        .await;
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let url = task["output"]["video_urls"][0].as_str().expect("url");
    let video = app.client.get(url).send().await.expect("download");
    assert_eq!(video.status(), StatusCode::OK);
    let video = video.bytes().await.expect("bytes");
    let info = seedgate_local_renderer::inspect(&video).expect("an mp4");
    assert!((info.duration_seconds - 4.0).abs() < 0.05);

    // The objects really are in the bucket: listed by the S3 API itself.
    let listing = reqwest::get(format!("{}/{bucket}?list-type=2", endpoint()))
        .await
        .expect("list")
        .text()
        .await
        .expect("xml");
    let key = crate::helpers::media_path(url)
        .split("/media/")
        .nth(1)
        .expect("key");
    assert!(listing.contains(key), "{key} not in the bucket: {listing}");
    assert!(listing.contains("assets/"), "{listing}");

    // Range requests are served from the bucket too.
    let part = app
        .client
        .get(url)
        .header("range", "bytes=0-99")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.expect("bytes"), video.slice(0..100));
}

#[tokio::test]
async fn a_missing_bucket_makes_the_replica_unready() {
    let app = spawn_app_with(s3("no-such-bucket-here")).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["database"], "ok");
    assert!(
        body["storage"]
            .as_str()
            .expect("storage")
            .starts_with("error"),
        "{body}"
    );
    // Alive all the same.
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), StatusCode::OK);
}

/// A reference-to-video create in three dialects (the reference is copied into the bucket
/// before anything is charged).
fn reference_creates(image: &str) -> Vec<Call> {
    vec![
        Call {
            dialect: "reapi",
            path: "/api/v1/videos/generations",
            body: json!({"model": "seedance-2.0-mini", "prompt": "needs room", "resolution": "480p",
                "duration": 4, "first_frame_url": image}),
        },
        Call {
            dialect: "hiapi",
            path: "/v1/tasks",
            body: json!({"model": "seedance-2.0-mini", "input": {"prompt": "needs room",
                "resolution": "480p", "duration": 4, "first_frame_url": image}}),
        },
        Call {
            dialect: "ark",
            path: "/api/v3/contents/generations/tasks",
            body: json!({"model": "dreamina-seedance-2-0-mini-260615", "resolution": "480p",
                "duration": 4, "content": [{"type": "text", "text": "needs room"},
                {"type": "image_url", "image_url": {"url": image}, "role": "first_frame"}]}),
        },
    ]
}

/// A full bucket: MinIO answers every write `507 Insufficient Storage` (`XMinioStorageFull`)
/// once its drives are full, Ceph's RGW `403 QuotaExceeded` past a quota. While the proxy in
/// front of the server answers so, what needs room is refused in each dialect's own retryable
/// terms ("storage is full; retry later", `Retry-After`) with nothing charged: reference
/// submits, whose copy goes to the bucket first, and uploads. Text-only submits are still
/// taken (the database has room). Nothing acknowledged fails: a result that cannot be stored
/// is retried. Once there is room again everything finishes, and the ledger is clean.
#[tokio::test]
async fn a_full_bucket_refuses_what_needs_room_retryably_and_loses_nothing() {
    use crate::upstreams::{Fault, FaultProxy};
    use axum::http::Method;
    let bucket = new_bucket().await;
    let proxy = FaultProxy::start(&endpoint()).await;
    let app = spawn_app_with(|s| {
        s3_through(&bucket, proxy.base.clone())(s);
        // A result that cannot be stored is retried, often enough to outlast the full bucket.
        s.worker.retry_base_ms = 200;
        s.worker.max_attempts = 12;
    })
    .await;
    let media = MediaServer::start().await;
    let image = media.image("800x600.png");
    let png = reqwest::get(&image)
        .await
        .expect("image")
        .bytes()
        .await
        .expect("bytes");

    let finished = app
        .submit_ok(
            &json!({"model": "seedance-2.0-mini", "prompt": "before it filled",
            "resolution": "480p", "duration": 4}),
        )
        .await;
    let task = app.wait_for_task(&finished).await;
    assert_eq!(task["status"], "completed", "{task}");
    let video_url = task["output"]["video_urls"][0]
        .as_str()
        .expect("url")
        .to_string();
    let video = app.client.get(&video_url).send().await.expect("video");
    let size = video.bytes().await.expect("bytes").len();
    // Acknowledged before the bucket fills, still rendering when it does.
    let mut acknowledged = vec![
        app.submit_ok(&json!({"model": "seedance-2.0-mini", "resolution": "480p",
            "duration": 4, "prompt": "rendering while it fills [[seedgate:delay:1500]]"}))
            .await,
    ];

    let full = || Fault::Answer {
        status: 507,
        retry_after: None,
        body: json!("<Error><Code>XMinioStorageFull</Code></Error>"),
    };
    let bucket_path = format!("/{bucket}/");
    proxy.rule(Method::PUT, &bucket_path, usize::MAX, full());
    proxy.rule(Method::POST, &bucket_path, usize::MAX, full());
    let balance = app.balance_of(&app.key).await;
    for call in reference_creates(&image) {
        let dialect = call.dialect;
        let (status, code) = crate::full_disk::unavailable(dialect);
        let request = crate::helpers::bearer_or_x_api_key(&app, &call, &app.key);
        let r = request.json(&call.body).send().await.expect("create");
        assert_eq!(r.status().as_u16(), status, "{dialect}");
        let retry_after = r.headers().get("retry-after").cloned();
        let answer: Value = r.json().await.expect("json");
        assert_eq!(
            crate::helpers::error_code(dialect, &answer),
            code,
            "{dialect}: {answer}"
        );
        assert!(
            answer.to_string().contains("storage is full; retry later"),
            "{dialect}: {answer}"
        );
        assert!(retry_after.is_some(), "{dialect}: no Retry-After");
    }
    // An upload, refused by a quota this time (a client error, not retried by the S3 client).
    proxy.clear();
    proxy.rule(
        Method::PUT,
        &bucket_path,
        usize::MAX,
        Fault::Answer {
            status: 403,
            retry_after: None,
            body: json!("<Error><Code>QuotaExceeded</Code></Error>"),
        },
    );
    let r = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&app.key)
        .body(png)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    let answer = r.text().await.expect("body");
    assert!(answer.contains("storage is full; retry later"), "{answer}");
    assert_eq!(
        app.balance_of(&app.key).await,
        balance,
        "nothing refused was charged"
    );
    proxy.clear();
    proxy.rule(Method::PUT, &bucket_path, usize::MAX, full());
    proxy.rule(Method::POST, &bucket_path, usize::MAX, full());

    // Text-only submits need no room now: taken, in every dialect.
    for call in crate::full_disk::creates("while the bucket is full") {
        let request = crate::helpers::bearer_or_x_api_key(&app, &call, &app.key);
        let r = request.json(&call.body).send().await.expect("create");
        assert!(r.status().is_success(), "{}: {}", call.dialect, r.status());
        let body: Value = r.json().await.expect("json");
        acknowledged.push(crate::full_disk::created_id(&body).expect("id"));
    }
    // Full long enough for the results to meet it; what was stored still serves.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = app.client.get(&video_url).send().await.expect("video");
    assert_eq!(again.bytes().await.expect("bytes").len(), size);
    for id in &acknowledged {
        let task = app.get_json(&format!("/api/v1/tasks/{id}")).await;
        assert_ne!(
            task["status"], "failed",
            "{id} failed for want of room: {task}"
        );
    }

    // Room again: the reference submits work, and everything acknowledged completes.
    proxy.clear();
    for call in reference_creates(&image) {
        let request = crate::helpers::bearer_or_x_api_key(&app, &call, &app.key);
        let r = request.json(&call.body).send().await.expect("create");
        assert!(r.status().is_success(), "{}: {}", call.dialect, r.status());
        let body: Value = r.json().await.expect("json");
        acknowledged.push(crate::full_disk::created_id(&body).expect("id"));
    }
    for id in &acknowledged {
        let task = app.wait_for_task(id).await;
        assert_eq!(task["status"], "completed", "{id}: {task}");
    }
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");
}

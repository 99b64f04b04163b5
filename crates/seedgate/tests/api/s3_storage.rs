//! Results and uploads in an S3-compatible bucket (`[storage] kind = "s3"`), against a real
//! S3-compatible server: CI starts `moto_server` from PyPI and sets SEEDGATE_TEST_S3_ENDPOINT.
//! Without the variable these tests fail rather than pass unseen.

use crate::helpers::{spawn_app_with, TestApp};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use seedgate::config::{Settings, StorageKind};
use serde_json::{json, Value};

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
    move |s: &mut Settings| {
        s.storage.kind = StorageKind::S3;
        s.storage.s3 = seedgate_blobs::S3Config {
            bucket: bucket.to_string(),
            endpoint: Some(endpoint()),
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

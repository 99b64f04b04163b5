//! Retention end to end: a task finished longer ago than `retention.media_days` has its media
//! marked expired by a janitor pass (it reads back without a video URL at once, even on the
//! replica that had it cached), its files are deleted only once every link handed out has
//! expired, and its old link answers 410 Gone; Idempotency-Key records go by their own
//! lifetime; no ledger entry is touched; the disk by category is in the admin API and the
//! metrics.

use crate::helpers::{spawn_app_with, TestApp};
use reqwest::StatusCode;
use seedgate_core::clock::SystemClock;
use seedgate_service::admin::AdminService;
use seedgate_store::{Actor, AdminRole};
use serde_json::{json, Value};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

async fn admin_token(app: &TestApp) -> String {
    AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .create_admin_token("retention", AdminRole::Admin, &Actor("cli".into()))
        .await
        .expect("admin token")
        .token
}

async fn run_pass(app: &TestApp, token: &str) -> Value {
    let r = app
        .client
        .post(app.url("/admin/v1/retention/run"))
        .bearer_auth(token)
        .send()
        .await
        .expect("run");
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("json")
}

async fn ledger_entries(app: &TestApp) -> usize {
    app.store.ledger_dump().await.expect("dump").entries.len()
}

#[tokio::test]
async fn expired_media_read_back_without_urls_and_their_files_go_after_the_links() {
    // Links live an hour; media 30 days (the default).
    let app = spawn_app_with(|s| {
        s.storage.url_ttl_seconds = 3600;
        s.retention.interval_seconds = 24 * 3600;
    })
    .await;
    let token = admin_token(&app).await;
    let body = json!({"model": "seedance-2.0-mini", "prompt": "a red fox", "duration": 4,
        "resolution": "480p", "aspect_ratio": "16:9"});
    let r = app
        .client
        .post(app.url("/api/v1/videos/generations"))
        .bearer_auth(&app.key)
        .header("Idempotency-Key", "retention-1")
        .json(&body)
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    // Read (and so cached) while its media are kept.
    let task = app.wait_for_task(&id).await;
    let url = task["output"]["video_urls"][0]
        .as_str()
        .expect("a video URL")
        .to_string();
    assert_eq!(
        app.client.get(&url).send().await.expect("media").status(),
        StatusCode::OK
    );
    let entries = ledger_entries(&app).await;

    // A pass now changes nothing of it.
    let pass = run_pass(&app, &token).await;
    assert_eq!(pass["media_expired"], 0, "{pass}");

    // 31 days on: marked expired, read back without media in the task's own dialect and in
    // Ark's; the files stay for the links handed out in the last hour.
    app.clock.advance_ms(31 * DAY_MS);
    let pass = run_pass(&app, &token).await;
    assert_eq!(pass["skipped"], false, "{pass}");
    assert_eq!(pass["media_expired"], 1, "{pass}");
    assert_eq!(pass["media_purged"], 0, "{pass}");
    assert!(
        pass["idempotency_keys_deleted"].as_u64().unwrap_or(0) >= 1,
        "{pass}"
    );
    let again = app.get_json(&format!("/api/v1/tasks/{id}")).await;
    let urls = again["output"]["video_urls"].as_array().cloned();
    assert!(urls.is_none_or(|u| u.is_empty()), "{again}");
    // In every dialect: read back fine, and no link to the file any more.
    for path in [
        format!("/api/v1/tasks/{id}"),
        format!("/v1/tasks/{id}"),
        format!("/api/v1/statusTask/seedance-2-0-mini?taskId={id}"),
        format!("/api/v1/client/job/TaskInfo?task_id={id}"),
        format!("/api/v1/jobs/recordInfo?taskId={id}"),
        format!("/api/v3/contents/generations/tasks/{id}"),
        format!("/v1/videos/{id}"),
    ] {
        let r = app
            .client
            .get(app.url(&path))
            .bearer_auth(&app.key)
            .header("x-api-key", &app.key)
            .send()
            .await
            .expect("read");
        let status = r.status();
        let text = r.text().await.expect("text");
        assert_eq!(status, StatusCode::OK, "{path}: {text}");
        assert!(!text.contains("/media/tasks/"), "{path}: {text}");
    }
    // The old link has expired by now: the file is gone for good, and says so.
    assert_eq!(
        app.client.get(&url).send().await.expect("media").status(),
        StatusCode::GONE
    );

    // Past every link's life (an hour, and ten minutes of other replicas' memory): deleted.
    app.clock.advance_ms(2 * 3_600_000);
    let pass = run_pass(&app, &token).await;
    assert_eq!(pass["media_purged"], 1, "{pass}");
    assert!(pass["files_deleted"].as_u64().unwrap_or(0) >= 1, "{pass}");
    let path = crate::helpers::media_path(&url);
    let key = path.trim_start_matches(&format!("{}/media/", app.base));
    let file = app.data_dir.path().join("media").join(key);
    assert!(!file.exists(), "{} is still there", file.display());
    assert_eq!(
        app.client.get(&url).send().await.expect("media").status(),
        StatusCode::GONE
    );
    // Another pass finds nothing more to do.
    let pass = run_pass(&app, &token).await;
    assert_eq!(pass["media_expired"], 0, "{pass}");
    assert_eq!(pass["media_purged"], 0, "{pass}");

    // Not one ledger entry went, and `seedgate ledger verify` is clean.
    assert_eq!(ledger_entries(&app).await, entries);
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");

    // The disk by category, in the admin API and the metrics.
    let disk = app
        .client
        .get(app.url("/admin/v1/disk"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("disk");
    assert_eq!(disk.status(), StatusCode::OK);
    let disk: Value = disk.json().await.expect("json");
    let categories: Vec<&str> = disk["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .filter_map(|c| c["category"].as_str())
        .collect();
    assert_eq!(
        categories,
        ["task_media", "reference_copies", "assets", "database"],
        "{disk}"
    );
    assert!(disk["total_bytes"].as_u64().unwrap_or(0) > 0, "{disk}");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for category in ["task_media", "reference_copies", "assets", "database"] {
        assert!(
            metrics.contains(&format!("seedgate_disk_bytes{{category=\"{category}\"}}")),
            "{category} missing"
        );
    }
    // Without a token, no disk figures.
    let r = app
        .client
        .get(app.url("/admin/v1/disk"))
        .send()
        .await
        .expect("disk");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn media_kept_forever_when_the_lifetime_is_zero() {
    let app = spawn_app_with(|s| {
        s.retention.media_days = 0;
        s.retention.interval_seconds = 24 * 3600;
    })
    .await;
    let token = admin_token(&app).await;
    let id = app
        .submit_ok(
            &json!({"model": "seedance-2.0-mini", "prompt": "a red fox", "duration": 4,
            "resolution": "480p", "aspect_ratio": "16:9"}),
        )
        .await;
    app.wait_for_task(&id).await;
    app.clock.advance_ms(400 * DAY_MS);
    let pass = run_pass(&app, &token).await;
    assert_eq!(pass["media_expired"], 0, "{pass}");
    let again = app.get_json(&format!("/api/v1/tasks/{id}")).await;
    assert!(
        again["output"]["video_urls"][0].as_str().is_some(),
        "{again}"
    );
}

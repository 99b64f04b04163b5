//! Retention end to end: a task finished longer ago than `retention.media_days` has its media
//! marked expired by a janitor pass (it reads back without a video URL at once, even on the
//! replica that had it cached), its files are deleted only once every link handed out has
//! expired, and its old link answers 410 Gone; Idempotency-Key records go by their own
//! lifetime; no ledger entry is touched; the disk by category is in the admin API and the
//! metrics. A task whose media expired reads back as expired in each dialect's own terms.

use crate::helpers::{spawn_app_with, TestApp};
use reqwest::StatusCode;
use seedgate_core::clock::{Clock, SystemClock};
use seedgate_core::TaskId;
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

/// GET `path` with the key in both places a dialect reads it; the status and the JSON body.
async fn read(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(&app.key)
        .header("x-api-key", &app.key)
        .send()
        .await
        .expect("read");
    let status = r.status();
    let text = r.text().await.expect("text");
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
    (status, json)
}

#[tokio::test]
async fn a_task_whose_media_expired_reads_back_as_expired_in_every_dialect() {
    let app = spawn_app_with(|s| {
        s.storage.url_ttl_seconds = 3600;
        s.retention.interval_seconds = 24 * 3600;
    })
    .await;
    let token = admin_token(&app).await;
    // Created through the videos API, which always asks for the last frame.
    let r = app
        .client
        .post(app.url("/v1/videos"))
        .bearer_auth(&app.key)
        .json(
            &json!({"model": "seedance-2.0-mini", "prompt": "a red fox", "seconds": "4",
            "size": "864x496"}),
        )
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.wait_for_task(&id).await;

    // While kept: the expiry fields are today's promises, finish + 24 h, and the content is
    // served.
    let (_, video) = read(&app, &format!("/v1/videos/{id}")).await;
    let completed_at = video["completed_at"].as_i64().expect("completed_at");
    assert_eq!(video["expires_at"], completed_at + 86_400, "{video}");
    let (_, hiapi) = read(&app, &format!("/v1/tasks/{id}")).await;
    let items = hiapi["data"]["output"].as_array().expect("output").clone();
    assert_eq!(items.len(), 2, "{hiapi}");
    for item in &items {
        assert!(
            item["url"]
                .as_str()
                .is_some_and(|u| u.contains("/media/tasks/")),
            "{hiapi}"
        );
        assert_eq!(item["expireAt"], completed_at + 86_400, "{hiapi}");
    }
    let content = app
        .client
        .get(app.url(&format!("/v1/videos/{id}/content")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("content");
    assert_eq!(content.status(), StatusCode::OK);

    // 31 days on, a retention pass expires the media.
    app.clock.advance_ms(31 * DAY_MS);
    let pass = run_pass(&app, &token).await;
    assert_eq!(pass["media_expired"], 1, "{pass}");
    let at_ms = app
        .store
        .media_expired_at(&TaskId::from_string(id.clone()))
        .await
        .expect("read")
        .expect("marked expired");
    assert!(at_ms <= app.clock.now_ms());
    let at_s = at_ms.div_euclid(1000);
    assert!(at_s > completed_at + 30 * 86_400);
    let when = seedgate_core::usage::rfc3339(at_ms);
    let says_expired = |message: &Value| {
        message
            .as_str()
            .is_some_and(|m| m.contains(&format!("expired at {when}")))
    };

    // reAPI: still completed, no URL, `error` says the media expired (seedgate's 80008).
    let (status, t) = read(&app, &format!("/api/v1/tasks/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(t["output"], json!({"video_urls": []}), "{t}");
    assert_eq!(t["error"]["code"], 80008, "{t}");
    assert!(says_expired(&t["error"]["message"]), "{t}");

    // Ark: still succeeded (with its usage), no `content`, `error` MediaExpired.
    let (status, t) = read(&app, &format!("/api/v3/contents/generations/tasks/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["status"], "succeeded", "{t}");
    assert!(t.get("content").is_none(), "{t}");
    assert!(
        t["usage"]["completion_tokens"].as_u64().unwrap_or(0) > 0,
        "{t}"
    );
    assert_eq!(t["error"]["code"], "MediaExpired", "{t}");
    assert!(says_expired(&t["error"]["message"]), "{t}");

    // HiAPI: still success, the same items without URLs, `expireAt` when they expired.
    let (status, t) = read(&app, &format!("/v1/tasks/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        (&t["code"], &t["message"]),
        (&json!(200), &json!("success")),
        "{t}"
    );
    assert_eq!(t["data"]["status"], "success", "{t}");
    assert_eq!(
        t["data"]["output"],
        json!([{"url": "", "type": "video", "expireAt": at_s},
               {"url": "", "type": "last_frame", "expireAt": at_s}]),
        "{t}"
    );
    assert!(t["data"].get("error").is_none(), "{t}");

    // APIXO: still success, no result URLs, no failCode, failMsg says why.
    let (status, t) = read(
        &app,
        &format!("/api/v1/statusTask/seedance-2-0-mini?taskId={id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["data"]["state"], "success", "{t}");
    assert_eq!(t["data"]["resultJson"], r#"{"resultUrls":[]}"#, "{t}");
    assert!(t["data"].get("failCode").is_none(), "{t}");
    assert!(says_expired(&t["data"]["failMsg"]), "{t}");

    // CRUN: still success, `result` with no media and a message (no failure code).
    let (status, t) = read(&app, &format!("/api/v1/client/job/TaskInfo?task_id={id}")).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["data"]["status"], "success", "{t}");
    let result = t["data"]["result"].as_object().expect("result");
    assert_eq!(result["media_urls"], json!([]), "{t}");
    assert!(says_expired(&result["message"]), "{t}");
    assert!(
        !result.contains_key("code") && !result.contains_key("last_frame_url"),
        "{t}"
    );

    // Kie: still success, no result URLs, failCode empty, failMsg says why.
    let (status, t) = read(&app, &format!("/api/v1/jobs/recordInfo?taskId={id}")).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["data"]["state"], "success", "{t}");
    assert_eq!(t["data"]["resultJson"], r#"{"resultUrls":[]}"#, "{t}");
    assert_eq!(t["data"]["failCode"], "", "{t}");
    assert!(says_expired(&t["data"]["failMsg"]), "{t}");

    // OpenAI-style: still completed, `expires_at` when the files expired (in the past), no error.
    let (status, t) = read(&app, &format!("/v1/videos/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["status"], "completed", "{t}");
    assert_eq!(t["progress"], 100, "{t}");
    assert_eq!(t["completed_at"], completed_at, "{t}");
    assert_eq!(t["expires_at"], at_s, "{t}");
    assert!(at_s <= app.clock.now_ms() / 1000);
    assert!(t["error"].is_null(), "{t}");
    // …and its content answers 404 `video_expired` in OpenAI's error shape, both variants.
    for variant in ["", "?variant=thumbnail"] {
        let r = app
            .client
            .get(app.url(&format!("/v1/videos/{id}/content{variant}")))
            .bearer_auth(&app.key)
            .send()
            .await
            .expect("content");
        let status = r.status();
        let body: Value = r.json().await.expect("an error body");
        assert_eq!(status, StatusCode::NOT_FOUND, "{variant}: {body}");
        assert_eq!(body["error"]["code"], "video_expired", "{body}");
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(
            message.starts_with("the video's content has expired"),
            "{body}"
        );
        assert!(message.contains(&when), "{body}");
    }
    // No file link in any of them.
    for path in [
        format!("/api/v1/tasks/{id}"),
        format!("/v1/tasks/{id}"),
        format!("/api/v1/statusTask/seedance-2-0-mini?taskId={id}"),
        format!("/api/v1/client/job/TaskInfo?task_id={id}"),
        format!("/api/v1/jobs/recordInfo?taskId={id}"),
        format!("/api/v3/contents/generations/tasks/{id}"),
        format!("/v1/videos/{id}"),
    ] {
        let (_, t) = read(&app, &path).await;
        assert!(!t.to_string().contains("/media/"), "{path}: {t}");
    }
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

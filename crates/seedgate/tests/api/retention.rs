//! Retention end to end: a task finished longer ago than `retention.media_days` has its media
//! marked expired by a janitor pass (it reads back without a video URL at once, even on the
//! replica that had it cached), its files are deleted only once every link handed out has
//! expired, and its old link answers 410 Gone; Idempotency-Key records go by their own
//! lifetime; no ledger entry is touched; the disk by category is in the admin API and the
//! metrics. A task whose media expired reads back as expired in each dialect's own terms.
//! A reference copy an unfinished task (and its upstream) still needs outlives its lifetime
//! until the task ends; budgets (daily, monthly and total) and usage reports are the same after
//! old daily spend is pruned; a pruned timeline still reads, with acceptance, end and money.

use crate::helpers::{error_code, spawn_app_with, TestApp};
use crate::media_server::MediaServer;
use reqwest::StatusCode;
use seedgate::config::ProviderSettings;
use seedgate_core::accounts::{day_start_ms, utc_day, BudgetPeriod, Policy};
use seedgate_core::clock::{Clock, SystemClock};
use seedgate_core::records::TaskQuery;
use seedgate_core::task::TaskStatus;
use seedgate_core::usage::UsageFigures;
use seedgate_core::{AccountId, TaskId};
use seedgate_service::admin::AdminService;
use seedgate_store::{Actor, AdminRole};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

// ---------------------------------------------------------------------------------------------
// Reference copies an unfinished task still needs.

const MODEL: &str = "seedance-2.0-mini";

/// An Ark-style upstream: a job whose prompt says "hold" runs until `release`d, any other fails
/// at its first poll. It keeps every create body (the links to the copies it was sent).
struct HeldUpstream {
    base: String,
    released: Arc<AtomicBool>,
    creates: Arc<Mutex<Vec<Value>>>,
}

impl HeldUpstream {
    async fn start() -> Self {
        use axum::extract::{Path, State};
        use axum::routing::{get, post};
        #[derive(Clone)]
        struct Jobs {
            released: Arc<AtomicBool>,
            creates: Arc<Mutex<Vec<Value>>>,
        }
        let jobs = Jobs {
            released: Arc::default(),
            creates: Arc::default(),
        };
        let router = axum::Router::new()
            .route(
                "/api/v3/contents/generations/tasks",
                post(
                    |State(jobs): State<Jobs>, axum::Json(body): axum::Json<Value>| async move {
                        let held = body.to_string().contains("hold");
                        let mut creates = jobs.creates.lock().expect("lock");
                        creates.push(body);
                        let id = format!("cgt-{}-{}", creates.len(), if held { "held" } else { "done" });
                        axum::Json(json!({ "id": id }))
                    },
                ),
            )
            .route(
                "/api/v3/contents/generations/tasks/{id}",
                get(|State(jobs): State<Jobs>, Path(id): Path<String>| async move {
                    if id.ends_with("held") && !jobs.released.load(Ordering::SeqCst) {
                        axum::Json(json!({"id": id, "status": "running"}))
                    } else {
                        axum::Json(json!({"id": id, "status": "failed", "error":
                            {"code": "InvalidParameter", "message": "the test's upstream gave up"}}))
                    }
                }),
            )
            .with_state(jobs.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            base,
            released: jobs.released,
            creates: jobs.creates,
        }
    }

    fn account(&self) -> ProviderSettings {
        crate::helpers::ark_account("held", &self.base, "ark-key")
    }

    /// The reference-copy links in the create bodies whose prompt contains `prompt`.
    fn copy_links(&self, prompt: &str) -> Vec<String> {
        fn links(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::String(s) if s.contains("/media/refs/") => out.push(s.clone()),
                Value::Array(items) => items.iter().for_each(|v| links(v, out)),
                Value::Object(map) => map.values().for_each(|v| links(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for body in self.creates.lock().expect("lock").iter() {
            if body.to_string().contains(prompt) {
                links(body, &mut out);
            }
        }
        out
    }
}

/// Where a reference copy's link points on this app's disk.
fn copy_file(app: &TestApp, link: &str) -> std::path::PathBuf {
    let path = crate::helpers::media_path(link);
    let key = path
        .strip_prefix(&format!("{}/media/", app.base))
        .unwrap_or_else(|| panic!("a link of this app: {link}"));
    app.data_dir.path().join("media").join(key)
}

fn category<'a>(pass: &'a Value, name: &str) -> &'a Value {
    pass["disk"]["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .find(|c| c["category"] == name)
        .unwrap_or_else(|| panic!("{name} in {pass}"))
}

/// Submits a reference-to-video task through reAPI; its id.
async fn submit_with_reference(app: &TestApp, prompt: &str, image: String) -> String {
    app.submit_ok(
        &json!({"model": MODEL, "prompt": prompt, "resolution": "480p", "duration": 4,
        "reference_image_urls": [image]}),
    )
    .await
}

/// An app whose every task of [`MODEL`] goes to a [`HeldUpstream`] (one attempt, quick polls,
/// no upstream callbacks, hour-long links, the janitor run by hand only).
async fn app_behind_held_upstream() -> (HeldUpstream, TestApp) {
    let upstream = HeldUpstream::start().await;
    let account = upstream.account();
    let app = spawn_app_with(move |s| {
        crate::helpers::route_only_through(s, MODEL, vec![account]);
        s.upstream.poll_min_ms = 50;
        s.upstream.poll_max_ms = 200;
        s.upstream.callbacks = Some(false);
        s.worker.max_attempts = 1;
        s.storage.url_ttl_seconds = 3600;
        s.retention.interval_seconds = 24 * 3600;
    })
    .await;
    (upstream, app)
}

#[tokio::test]
async fn a_reference_copy_an_unfinished_task_needs_outlives_its_lifetime_until_the_task_ends() {
    let (upstream, app) = app_behind_held_upstream().await;
    let token = admin_token(&app).await;
    let media = MediaServer::start().await;

    // One task the upstream keeps running, one it fails at once; each has its own copy.
    let held = submit_with_reference(&app, "hold this one", media.image("640x640.png")).await;
    let done = submit_with_reference(&app, "finish this one", media.image("800x600.png")).await;
    let finished = app.wait_for_task(&done).await;
    assert_eq!(finished["status"], "failed", "{finished}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while upstream.copy_links("hold this one").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the held task never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let held_links = upstream.copy_links("hold this one");
    let done_links = upstream.copy_links("finish this one");
    assert_eq!((held_links.len(), done_links.len()), (1, 1));
    // The upstream may still fetch the copy it was sent: the link works.
    let r = app.client.get(&held_links[0]).send().await.expect("fetch");
    assert_eq!(r.status(), StatusCode::OK);
    let (held_file, done_file) = (
        copy_file(&app, &held_links[0]),
        copy_file(&app, &done_links[0]),
    );
    assert_ne!(held_file, done_file);
    assert!(held_file.exists() && done_file.exists());
    let running = app.get_json(&format!("/api/v1/tasks/{held}")).await;
    assert_eq!(running["status"], "processing", "{running}");

    // Past every lifetime of a copy (30 days of media, a day past the upstream deadline):
    // the finished task's copy goes, the running task's stays.
    app.clock.advance_ms(31 * DAY_MS);
    let pass = run_pass(&app, &token).await;
    assert_eq!(pass["reference_copies_deleted"], 1, "{pass}");
    assert!(!done_file.exists(), "the finished task's copy was deleted");
    assert!(
        held_file.exists(),
        "the copy a running task's upstream may still fetch is kept"
    );
    assert_eq!(category(&pass, "reference_copies")["files"], 1, "{pass}");
    let still = app.get_json(&format!("/api/v1/tasks/{held}")).await;
    assert_eq!(still["status"], "processing", "{still}");

    // Once the task ends, the lifetime having passed, the next pass deletes it.
    upstream.released.store(true, Ordering::SeqCst);
    let ended = app.wait_for_task(&held).await;
    assert_eq!(ended["status"], "failed", "{ended}");
    let pass = run_pass(&app, &token).await;
    assert_eq!(pass["reference_copies_deleted"], 1, "{pass}");
    assert!(!held_file.exists(), "the ended task's copy was deleted");
    assert_eq!(category(&pass, "reference_copies")["files"], 0, "{pass}");
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");
}

/// A submit that took up a copy stored long ago could lose it to a janitor pass that read the
/// tasks in use just before that submit's task was stored. So submits share a copy only within
/// half a copy's lifetime (`copy_period` in `service/src/submit.rs`): two submits now share one,
/// and a submit a lifetime later, when the janitor may delete that one, gets a fresh copy of
/// its own, which the pass keeps.
#[tokio::test]
async fn a_submit_never_takes_up_a_copy_old_enough_for_the_janitor_to_delete() {
    let (upstream, app) = app_behind_held_upstream().await;
    let token = admin_token(&app).await;
    let media = MediaServer::start().await;
    let image = media.image("640x640.png");
    let mut links = Vec::new();
    for prompt in ["the first now", "the second now"] {
        let id = submit_with_reference(&app, prompt, image.clone()).await;
        let done = app.wait_for_task(&id).await;
        assert_eq!(done["status"], "failed", "{done}");
        links.extend(upstream.copy_links(prompt));
    }
    assert_eq!(links.len(), 2, "{links:?}");
    assert_eq!(links[0], links[1], "submits of one period share a copy");
    let old_copy = copy_file(&app, &links[0]);
    assert!(old_copy.exists());

    // Past every lifetime of that copy: a new submit of the same image does not take it up.
    app.clock.advance_ms(31 * DAY_MS);
    // (The store schedules claims by the system clock, which did not move, so this task stays
    // queued: its copy was made at submit, and a queued task's copies are in use.)
    let id = submit_with_reference(&app, "a lifetime later", image).await;
    let task = app
        .store
        .load_task(&TaskId::from_string(&id))
        .await
        .expect("load")
        .expect("the task");
    let fresh: Vec<String> = task
        .request
        .media_copies
        .values()
        .map(|c| c.url.to_string())
        .collect();
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_ne!(
        copy_file(&app, &fresh[0]),
        old_copy,
        "a fresh copy, not the old one"
    );
    let fresh_copy = copy_file(&app, &fresh[0]);
    let pass = run_pass(&app, &token).await;
    assert_eq!(pass["reference_copies_deleted"], 1, "{pass}");
    assert!(!old_copy.exists(), "the old copy aged out");
    assert!(fresh_copy.exists(), "the new task's copy is kept");
    let r = app.client.get(&fresh[0]).send().await.expect("fetch");
    assert_eq!(r.status(), StatusCode::OK, "the new task's link works");
}

// ---------------------------------------------------------------------------------------------
// Budgets and usage after old daily spend is pruned.

fn admin(app: &TestApp) -> AdminService {
    AdminService::new(app.store.clone(), Arc::new(SystemClock))
}

/// A new account with `limits` and `credits`, and a key of it.
async fn account_with_limits(app: &TestApp, name: &str, limits: Value) -> (String, String) {
    let actor = Actor("retention-test".into());
    let policy: Policy = serde_json::from_value(json!({ "limits": limits })).expect("policy");
    let account = admin(app)
        .create_account(name, &policy, 1_000_000, &actor)
        .await
        .expect("account");
    let key = admin(app)
        .create_key(account.id.as_str(), name, &Policy::default(), &actor)
        .await
        .expect("key");
    (account.id.to_string(), key.key)
}

fn plain() -> Value {
    json!({"model": MODEL, "prompt": "a red fox", "resolution": "480p", "duration": 4})
}

/// Submits through reAPI with `key` (the budgets count the price from then on); with `finish`,
/// waits until the task is done. (The queue runs on the system's time: a task submitted after
/// the app's clock was moved on waits in the queue.)
async fn spend(app: &TestApp, key: &str, finish: bool) {
    let r = app.submit_as(key, &plain()).await;
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{body}");
    if !finish {
        return;
    }
    let id = body["id"].as_str().expect("id");
    let task =
        crate::helpers::wait_for_task(&app.client, &app.base, key, id, Duration::from_secs(60))
            .await;
    assert_eq!(task["status"], "completed", "{task}");
}

/// The member's view of their account (`GET /api/v1/account`): balance, budgets, spend.
async fn account_view(app: &TestApp, key: &str) -> Value {
    let r = app
        .client
        .get(app.url("/api/v1/account"))
        .bearer_auth(key)
        .send()
        .await
        .expect("account");
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("json")
}

/// A submit the budget named `budget` refuses, in reAPI's form; nothing is created.
async fn refused(app: &TestApp, key: &str, account: &str, budget: &str) {
    let tasks = tasks_of(app, account).await.len();
    let r = app.submit_as(key, &plain()).await;
    let status = r.status();
    let retry_after = r.headers().get("retry-after").cloned();
    let body: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{budget}: {body}");
    assert_eq!(error_code("reapi", &body), json!(50001), "{budget}: {body}");
    assert!(
        body.to_string().contains(budget),
        "names the {budget} budget: {body}"
    );
    assert!(retry_after.is_some(), "{budget}: Retry-After");
    assert_eq!(tasks_of(app, account).await.len(), tasks, "nothing created");
}

async fn tasks_of(app: &TestApp, account: &str) -> Vec<seedgate_core::task::Task> {
    app.store
        .list_tasks(
            &AccountId::from_string(account.to_string()),
            &TaskQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("list")
        .tasks
}

/// The usage report's totals for `key`'s account over `[from, to)`, and the ledger's own.
async fn usage_and_ledger(
    app: &TestApp,
    key: &str,
    account: &str,
    from: i64,
    to: i64,
) -> (UsageFigures, UsageFigures) {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/usage?from={from}&to={to}")))
        .bearer_auth(key)
        .send()
        .await
        .expect("usage");
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.expect("json");
    let reported = crate::helpers::figures_of(&report["totals"]);
    let facts: HashMap<String, (TaskStatus, i64)> = tasks_of(app, account)
        .await
        .into_iter()
        .map(|t| {
            (
                t.id.to_string(),
                (t.status, i64::from(t.price.billable_seconds)),
            )
        })
        .collect();
    let entries: Vec<_> = app
        .store
        .ledger_dump()
        .await
        .expect("dump")
        .entries
        .into_iter()
        .filter(|e| e.account_id == account)
        .collect();
    (
        reported,
        UsageFigures::from_ledger(&entries, &facts, from, to),
    )
}

#[tokio::test]
async fn budgets_and_usage_reports_are_unchanged_by_pruning_old_daily_spend() {
    let app = spawn_app_with(|s| {
        s.local.instant = true;
        s.retention.interval_seconds = 24 * 3600;
    })
    .await;
    let token = admin_token(&app).await;
    let price = {
        let r = app
            .client
            .post(app.url("/api/v1/videos/estimate"))
            .bearer_auth(&app.key)
            .json(&plain())
            .send()
            .await
            .expect("estimate");
        r.json::<Value>().await.expect("json")["credits"]
            .as_i64()
            .expect("credits")
    };
    // The total budget never resets; the monthly one counts the current UTC month, the daily
    // one today. Each account's last submit below is refused by exactly one of them.
    let (total_account, total_key) = account_with_limits(
        &app,
        "total",
        json!({"total_budget": 4 * price, "daily_budget": 100 * price}),
    )
    .await;
    let (month_account, month_key) = account_with_limits(
        &app,
        "monthly",
        json!({"monthly_budget": 3 * price, "daily_budget": 100 * price}),
    )
    .await;
    let (day_account, day_key) = account_with_limits(
        &app,
        "daily",
        json!({"daily_budget": 2 * price, "monthly_budget": 100 * price}),
    )
    .await;

    // Day 0: spend that the pass will prune later.
    let day0 = utc_day(app.clock.now_ms());
    for key in [&total_key, &total_key, &month_key, &day_key] {
        spend(&app, key, true).await;
    }
    // The first day of a month that begins more than 40 days after day 0 (so day 0's rows
    // are old enough to go), then the day after.
    let (first, _) = BudgetPeriod::Month.span(day0 + 75);
    assert!(first - day0 > 41);
    app.clock
        .advance_ms(day_start_ms(first) + 3_600_000 - app.clock.now_ms());
    for key in [&total_key, &month_key] {
        spend(&app, key, false).await;
    }
    app.clock.advance_ms(DAY_MS);
    for key in [&month_key, &day_key] {
        spend(&app, key, false).await;
    }
    // Now: total 3 of 4 spent; monthly 2 of 3 (day 1 and 2 of the month); daily 1 of 2.

    let keys = [
        (&total_account, &total_key),
        (&month_account, &month_key),
        (&day_account, &day_key),
    ];
    let (from, to) = (day_start_ms(day0), day_start_ms(day0 + 1));
    let mut views = Vec::new();
    for (account, key) in keys {
        views.push(account_view(&app, key).await);
        let (reported, ledger) = usage_and_ledger(&app, key, account, from, to).await;
        assert_eq!(reported, ledger, "day 0's report for {account}");
        assert!(reported.tasks > 0);
    }

    let pass = run_pass(&app, &token).await;
    assert!(
        pass["spend_days_deleted"].as_u64().unwrap_or(0) >= 1,
        "day 0's spend was pruned: {pass}"
    );
    for ((account, key), before) in keys.into_iter().zip(&views) {
        // The budgets in effect, as the member sees them, did not move.
        assert_eq!(
            &account_view(&app, key).await,
            before,
            "the account view of {account}"
        );
        // The report over the pruned day still equals the ledger.
        let (reported, ledger) = usage_and_ledger(&app, key, account, from, to).await;
        assert_eq!(
            reported, ledger,
            "day 0's report for {account} after the pass"
        );
        assert!(reported.tasks > 0);
    }

    // Within each budget: accepted; the next one over it: refused, in reAPI's form.
    for (account, key, budget) in [
        (&total_account, &total_key, "total"),
        (&month_account, &month_key, "monthly"),
        (&day_account, &day_key, "daily"),
    ] {
        spend(&app, key, false).await;
        refused(&app, key, account, budget).await;
    }
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");
}

// ---------------------------------------------------------------------------------------------
// Timelines after their lifetime.

#[tokio::test]
async fn a_pruned_timeline_still_reads_with_acceptance_end_and_money_and_the_task_is_untouched() {
    let app = spawn_app_with(|s| {
        s.local.instant = true;
        // Media kept, so the task reads back exactly as before.
        s.retention.media_days = 0;
        s.retention.timeline_days = 90;
        s.retention.interval_seconds = 24 * 3600;
    })
    .await;
    let token = admin_token(&app).await;
    let id = app.submit_ok(&plain()).await;
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let timeline = |app: &TestApp, id: &str| {
        let (client, url, key) = (
            app.client.clone(),
            app.url(&format!("/api/v1/tasks/{id}/timeline")),
            app.key.clone(),
        );
        async move {
            let r = client
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .expect("timeline");
            let status = r.status();
            let body: Value = r.json().await.expect("json");
            assert_eq!(status, StatusCode::OK, "{body}");
            body["data"].as_array().expect("data").clone()
        }
    };
    let before = timeline(&app, &id).await;
    // The task's own events (claimed, result copied, …) beside what its row and the ledger say.
    let is_event =
        |e: &Value| e["source"] == "task" && e["seq"] != 0 && e["seq"].as_i64() != Some(i64::MAX);
    assert!(before.iter().any(is_event), "{before:#?}");
    let ledger_of = |app: &TestApp| {
        let store = app.store.clone();
        let id = id.clone();
        async move {
            store
                .ledger_dump()
                .await
                .expect("dump")
                .entries
                .into_iter()
                .filter(|e| e.task_id.as_deref() == Some(id.as_str()))
                .map(|e| (e.seq, e.kind, e.amount, e.created_at_ms))
                .collect::<Vec<_>>()
        }
    };
    let entries = ledger_of(&app).await;
    assert_eq!(entries.len(), 2, "hold and settle: {entries:?}");
    let balance = app.balance_of(&app.key).await;

    // Within its lifetime a pass keeps it.
    app.clock.advance_ms(89 * DAY_MS);
    let pass = run_pass(&app, &token).await;
    assert_eq!(pass["timeline_events_deleted"], 0, "{pass}");
    assert_eq!(timeline(&app, &id).await, before);

    // Past it: the events go; the timeline still reads, with its acceptance and end (from the
    // task's row) and its money (from the ledger), exactly as they were.
    app.clock.advance_ms(2 * DAY_MS);
    let pass = run_pass(&app, &token).await;
    let events = before.iter().filter(|e| is_event(e)).count() as u64;
    assert_eq!(pass["timeline_events_deleted"], events, "{pass}");
    let after = timeline(&app, &id).await;
    let kept: Vec<Value> = before.iter().filter(|e| !is_event(e)).cloned().collect();
    assert_eq!(after, kept, "{after:#?}");
    let kinds: Vec<&str> = after.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["accepted", "hold_placed", "succeeded", "settled"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // The operator's timeline reads the same.
    let r = app
        .client
        .get(app.url(&format!("/admin/v1/tasks/{id}/timeline")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("admin timeline");
    assert_eq!(r.status(), StatusCode::OK);

    // The task, its ledger entries and its balance effect are untouched.
    // (Its links are signed afresh at each read: compared by the file they point at.)
    let without_links = |task: &Value| {
        let mut task = task.clone();
        let links: Vec<String> = task["output"]["video_urls"]
            .as_array()
            .expect("video URLs")
            .iter()
            .map(|u| crate::helpers::media_path(u.as_str().expect("URL")).to_string())
            .collect();
        task["output"]["video_urls"] = json!(links);
        task
    };
    let again = app.get_json(&format!("/api/v1/tasks/{id}")).await;
    assert_eq!(without_links(&again), without_links(&task));
    assert_eq!(ledger_of(&app).await, entries);
    assert_eq!(app.balance_of(&app.key).await, balance);
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");
}

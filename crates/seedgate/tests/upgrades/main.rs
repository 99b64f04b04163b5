//! Upgrades keep everything (issue 19, part 2).
//!
//! `tests/fixtures/schema-0012/` holds a database made by seedgate at schema 0012 (migrations
//! 0001–0012, the first released schema), once per backend, with the media its tasks point at
//! and what every task read back as, in every dialect, when the fixture was made:
//!
//! - `sqlite/seedgate.db`: the SQLite file itself (`VACUUM INTO` of the live database, so
//!   one consistent file with `_sqlx_migrations` exactly as a 0012 install leaves it; a
//!   hand-written text dump could differ from the real thing in column affinities and types);
//!   `postgres/dump.sql`: `pg_dump --format=plain --no-owner --no-privileges` of the PostgreSQL
//!   database, reviewable as text;
//! - `<backend>/media/`: the data dir's `media/` (the instant renderer's small clips);
//! - `<backend>/fixture.json`: the keys, the admin token and which task is in which state;
//! - `<backend>/goldens.json`: every task's answer in all seven dialects, and the callback
//!   logs, timelines, asset, accounts and operator views, taken when the fixture was made.
//!
//! Each test loads a fixture into a fresh data dir (and a fresh PostgreSQL database), starts
//! the current application on it (its migrations run), runs `seedgate ledger verify`, and
//! compares what it reads with the goldens, signed links' query strings and the server's
//! address aside. Tasks that were still queued or running in the fixture are checked to read
//! back, then to finish and settle once under the new schema.
//!
//! A fixture is made from a tree whose newest migration is the schema it is named after, by
//! `cargo test -p seedgate --test upgrades -- --ignored generate_fixture` (PostgreSQL from
//! `SEEDGATE_TEST_DATABASE_URL`, `pg_dump` on the path); a released schema's fixture is never
//! regenerated afterwards: later schemas get a folder of their own.
//!
//! How `schema-0012` was made, honestly: by the code of a working tree that already carried
//! migration 0013 (retention, not yet released). The generator took 0013 out of the copies again
//! (`STRIP_0013`: it only adds two nullable columns, four indexes and a table) and checked that
//! their schema is exactly what 0001–0012 alone make, migration checksums included;
//! `the_fixture_is_exactly_schema_0012` keeps checking it. The rows were written by that code:
//! nothing in them uses what 0013 added (the columns were still NULL, the janitor had not run).

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod old_release;

use axum::http::StatusCode as AxumStatus;
use axum::routing::post;
use axum::Router;
use reqwest::StatusCode;
use seedgate::config::Settings;
use seedgate::startup::Application;
use seedgate_core::accounts::Policy;
use seedgate_core::clock::{ManualClock, SystemClock};
use seedgate_service::admin::AdminService;
use seedgate_store::{Actor, AdminRole, Store};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The released schema the fixture was taken at.
const SCHEMA: &str = "schema-0012";

fn fixture_dir(backend: Backend) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(SCHEMA)
        .join(backend.name())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

const DIALECTS: [&str; 7] = ["reapi", "hiapi", "apixo", "crun", "kie", "ark", "openai"];

/// Where each dialect reads one task.
fn read_path(dialect: &str, id: &str) -> String {
    match dialect {
        "reapi" => format!("/api/v1/tasks/{id}"),
        "hiapi" => format!("/v1/tasks/{id}"),
        "apixo" => format!("/api/v1/statusTask/seedance-2-0-mini?taskId={id}"),
        "crun" => format!("/api/v1/client/job/TaskInfo?task_id={id}"),
        "kie" => format!("/api/v1/jobs/recordInfo?taskId={id}"),
        "ark" => format!("/api/v3/contents/generations/tasks/{id}"),
        _ => format!("/v1/videos/{id}"),
    }
}

/// A seedgate answering over HTTP: the current code in this process, or a previous release's
/// binary in a process of its own (`old_release`).
#[derive(Clone)]
struct Server {
    base: String,
    client: reqwest::Client,
}

/// One running copy of the current application on a data dir (and a PostgreSQL database).
struct Replica {
    server: Server,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
    /// The development key the app made, when it started on an empty database.
    bootstrap_key: Option<String>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl std::ops::Deref for Replica {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

fn settings(data_dir: &Path, database_url: Option<&str>) -> Settings {
    let mut s = helpers::test_settings(data_dir);
    s.database_url = database_url.map(str::to_string);
    // Small clips, made at once: the fixture's media stay a few kilobytes.
    s.local.instant = true;
    s.callbacks.idle_poll_ms = 20;
    s.callbacks.jitter_percent = 0;
    s.callbacks.attempt_timeout_seconds = 2.0;
    s
}

async fn start(settings: Settings) -> anyhow::Result<Replica> {
    start_at(settings, None).await
}

/// Starts the app with its clock at `at_ms` (and running on from there), when given.
async fn start_at(settings: Settings, at_ms: Option<i64>) -> anyhow::Result<Replica> {
    let clock = Arc::new(ManualClock::default());
    if let Some(at) = at_ms {
        clock.advance_ms(at - seedgate_core::clock::now_ms());
    }
    let app = Application::build_with_clock(settings, clock).await?;
    let replica = Replica {
        server: Server {
            base: app.local_url(),
            client: reqwest::Client::new(),
        },
        store: app.store(),
        shutdown: app.shutdown_token(),
        bootstrap_key: app.bootstrap_key().map(str::to_string),
    };
    tokio::spawn(app.run_until_stopped());
    Ok(replica)
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path` as `key` (`x-api-key` for CRUN): the status and the JSON answer.
    async fn get(&self, dialect: &str, path: &str, key: &str) -> (u16, Value) {
        let request = self.client.get(self.url(path));
        let request = if dialect == "crun" {
            request.header("x-api-key", key)
        } else {
            request.bearer_auth(key)
        };
        let r = request.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    async fn post(&self, dialect: &str, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let request = self.client.post(self.url(path)).json(body);
        let request = if dialect == "crun" {
            request.header("x-api-key", key)
        } else {
            request.bearer_auth(key)
        };
        let r = request.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Every dialect's answer for one task, normalised.
    async fn read_everywhere(&self, id: &str, key: &str) -> Value {
        let mut out = Map::new();
        for dialect in DIALECTS {
            let (status, body) = self.get(dialect, &read_path(dialect, id), key).await;
            out.insert(
                dialect.into(),
                json!({"status": status, "body": normalise(&body, &self.base)}),
            );
        }
        Value::Object(out)
    }

    /// The reAPI status, once the task has left `processing`.
    async fn wait_finished(&self, id: &str, key: &str, timeout: Duration) -> Value {
        helpers::wait_for_task(&self.client, &self.base, key, id, timeout).await
    }

    /// The operator's view of a task's status (`queued`, `running`, …).
    async fn operator_status(&self, id: &str, token: &str) -> String {
        let (_, task) = self.get("", &format!("/admin/v1/tasks/{id}"), token).await;
        task["status"].as_str().unwrap_or_default().to_string()
    }
}

/// What may differ between two reads of the same record on two servers: the server's own
/// address, the signature and expiry of a signed media link (freshly signed at each read) and
/// an error envelope's request id.
fn normalise(value: &Value, base: &str) -> Value {
    match value {
        Value::String(s) => Value::String(scrub(s, base)),
        Value::Array(items) => Value::Array(items.iter().map(|v| normalise(v, base)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let v = if matches!(k.as_str(), "request_id" | "requestId") {
                        Value::String("<request id>".into())
                    } else {
                        normalise(v, base)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `base` → `http://server`, and every query string carrying a link signature (also inside
/// JSON held in a string, as Kie's `resultJson`) → `?<signed>`.
fn scrub(s: &str, base: &str) -> String {
    let s = s.replace(base, "http://server");
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(q) = rest.find('?') {
        let (before, after) = rest.split_at(q);
        out.push_str(before);
        let end = after
            .char_indices()
            .skip(1)
            .find(|(_, c)| c.is_whitespace() || matches!(c, '"' | '\\' | '\'' | ',' | ']'))
            .map(|(i, _)| i)
            .unwrap_or(after.len());
        let (query, tail) = after.split_at(end);
        if query.contains("signature=") || query.contains("expires=") {
            out.push_str("?<signed>");
        } else {
            out.push_str(query);
        }
        rest = tail;
    }
    out.push_str(rest);
    // A request id quoted in an error message.
    let mut scrubbed = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.find("req_") {
        let (before, after) = rest.split_at(at);
        scrubbed.push_str(before);
        scrubbed.push_str("req_<id>");
        let end = after
            .char_indices()
            .skip(4)
            .find(|(_, c)| !c.is_ascii_alphanumeric())
            .map(|(i, _)| i)
            .unwrap_or(after.len());
        rest = after.split_at(end).1;
    }
    scrubbed.push_str(rest);
    scrubbed
}

/// A callback receiver: `/ok` answers 200, anything else 500.
struct Receiver {
    base: String,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

async fn receiver() -> Receiver {
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let (o, f) = (ok.clone(), failed.clone());
    let app = Router::new()
        .route(
            "/ok",
            post(move || {
                let o = o.clone();
                async move {
                    o.fetch_add(1, Ordering::SeqCst);
                    AxumStatus::OK
                }
            }),
        )
        .route(
            "/fail",
            post(move || {
                let f = f.clone();
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    AxumStatus::INTERNAL_SERVER_ERROR
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        base: format!("http://127.0.0.1:{port}"),
        ok,
        failed,
    }
}

async fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "{what} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn prompt(text: &str) -> String {
    format!("fixture: {text}")
}

/// A create in `dialect` for a 4 s, 480p clip of the mini model; `extra` is merged in (a
/// callback URL).
fn create_call(dialect: &str, text: &str, extra: Value) -> (&'static str, Value) {
    let p = prompt(text);
    let (path, mut body) = match dialect {
        "reapi" => (
            "/api/v1/videos/generations",
            json!({"model": "seedance-2.0-mini", "prompt": p, "resolution": "480p", "duration": 4}),
        ),
        "hiapi" => (
            "/v1/tasks",
            json!({"model": "seedance-2.0-mini", "input": {"prompt": p, "resolution": "480p", "duration": 4}}),
        ),
        "apixo" => (
            "/api/v1/generateTask/seedance-2-0-mini",
            json!({"request_type": "async", "input": {"mode": "text-to-video", "prompt": p, "resolution": "480p", "duration": 4}}),
        ),
        "crun" => (
            "/api/v1/client/job/CreateTask",
            json!({"model": "bytedance/seedance2-0-mini-t2v", "input": {"prompt": p, "resolution": "480p", "duration": 4}}),
        ),
        "kie" => (
            "/api/v1/jobs/createTask",
            json!({"model": "bytedance/seedance-2-mini", "input": {"prompt": p, "resolution": "480p", "duration": 4}}),
        ),
        "ark" => (
            "/api/v3/contents/generations/tasks",
            json!({"model": "dreamina-seedance-2-0-mini-260615", "content": [{"type": "text", "text": p}], "resolution": "480p", "duration": 4}),
        ),
        _ => (
            "/v1/videos",
            json!({"model": "seedance-2.0-mini", "prompt": p, "seconds": "4", "size": "864x496"}),
        ),
    };
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    (path, body)
}

fn created_id(dialect: &str, json: &Value) -> String {
    let id = match dialect {
        "reapi" | "ark" | "openai" => &json["id"],
        "crun" => &json["data"]["task_id"],
        _ => &json["data"]["taskId"],
    };
    id.as_str()
        .unwrap_or_else(|| panic!("{dialect} create gave no id: {json}"))
        .to_string()
}

async fn create(replica: &Server, dialect: &str, key: &str, text: &str, extra: Value) -> String {
    let (path, body) = create_call(dialect, text, extra);
    let (status, json) = replica.post(dialect, path, key, &body).await;
    assert_eq!(status, 200, "{dialect} create: {json}");
    created_id(dialect, &json)
}

fn policy(json: Value) -> Policy {
    serde_json::from_value(json).expect("policy")
}

/// The tasks whose every answer is compared with the goldens (finished before the fixture
/// was taken), and the ones still in flight then.
const FINISHED: &[&str] = &[
    "succeeded_reapi",
    "succeeded_hiapi",
    "succeeded_apixo",
    "succeeded_crun",
    "succeeded_kie",
    "succeeded_ark",
    "succeeded_openai",
    "failed",
    "callback_delivered",
    "callback_pending",
    "idempotent",
    "team_refunded",
    "deleted",
    "cancelled",
];
const IN_FLIGHT: &[&str] = &["running", "queued"];

/// Makes the fixture of schema 0012 on one backend.
///
/// It is made by the code of the tree it runs in. When that tree already carries migration
/// 0013 (retention: two nullable columns on `tasks`, four indexes and the `janitor_leases`
/// table, nothing else), 0013 is taken out of the copy again (`STRIP_0013`) before it is
/// saved, and the copy's schema is then checked to be exactly what migrations 0001–0012 alone
/// make (`same_schema_as_0012`: every table, column, index, constraint and `_sqlx_migrations`
/// checksum), so the fixture is a 0012 database whatever tree made it. No later migration may
/// be present.
async fn generate(backend: Backend) {
    let dir = fixture_dir(backend);
    let later: Vec<i64> = migration_versions(backend)
        .into_iter()
        .filter(|v| *v > 12)
        .collect();
    assert!(
        later.is_empty() || later == [13],
        "{SCHEMA}'s fixture can be made at schema 0012 or 0013 only, this tree has {later:?}"
    );
    let data = tempfile::tempdir().expect("tempdir");
    let database = match backend {
        Backend::Postgres => Some(helpers::fresh_postgres_database().await),
        Backend::Sqlite => None,
    };
    let database_url = database.as_ref().map(|d| d.url.clone());
    let mut s = settings(data.path(), database_url.as_deref());
    // One worker with a short lease: a slow task holds it while others wait in the queue, and
    // its lease has long run out when the fixture is loaded again.
    s.worker.concurrency = 1;
    s.worker.lease_seconds = 2.0;
    // A failing callback is tried twice, then waits an hour: still pending in the fixture.
    s.callbacks.retry_schedule_seconds = vec![0.1, 3600.0];
    let app = start(s).await.expect("app starts");
    let member = app.bootstrap_key.clone().expect("development key");
    let hooks = receiver().await;
    let clock = Arc::new(SystemClock);
    let admin = AdminService::new(app.store.clone(), clock);
    let actor = Actor("fixture".into());
    let admin_token = admin
        .create_admin_token("fixture-ops", AdminRole::Admin, &actor)
        .await
        .expect("admin token")
        .token;
    let _viewer = admin
        .create_admin_token("fixture-viewer", AdminRole::Viewer, &actor)
        .await
        .expect("viewer token");

    // An account with a policy and limits, a key of its own, a grant.
    let team = admin
        .create_account(
            "team-a",
            &policy(json!({
                "allowed_models": ["seedance-2.0-mini"],
                "labels": {"cost_center": "42"},
                "limits": {"max_in_flight": 5, "max_queued": 10, "daily_budget": 50000,
                           "submit_rate": {"limit": 100, "window_seconds": 60}}
            })),
            5_000,
            &actor,
        )
        .await
        .expect("account");
    let team_key = admin
        .create_key(
            team.id.as_str(),
            "team-a-ci",
            &policy(json!({"labels": {"pipeline": "ci"}, "limits": {"max_in_flight": 2}})),
            &actor,
        )
        .await
        .expect("key")
        .key;
    admin
        .grant_credits(team.id.as_str(), 2_500, "fixture top-up", &actor)
        .await
        .expect("grant");

    // An uploaded asset.
    let png = {
        let mut bytes = Vec::new();
        let image = image::RgbImage::from_pixel(800, 600, image::Rgb([200, 60, 20]));
        image
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .expect("png");
        bytes
    };
    let r = app
        .client
        .post(app.url("/api/v1/assets"))
        .bearer_auth(&member)
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .expect("upload");
    let status = r.status();
    let asset: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{asset}");
    let asset_id = asset["id"].as_str().expect("asset id").to_string();

    let mut tasks: Map<String, Value> = Map::new();
    fn note(tasks: &mut Map<String, Value>, label: &str, id: &str, key: &str) {
        tasks.insert(label.into(), json!({"id": id, "key": key}));
    }
    for dialect in DIALECTS {
        let id = create(&app, dialect, &member, &format!("{dialect} fox"), json!({})).await;
        note(&mut tasks, &format!("succeeded_{dialect}"), &id, "member");
    }
    let failed = create(
        &app,
        "reapi",
        &member,
        "[[seedgate:fail]] a storm",
        json!({}),
    )
    .await;
    note(&mut tasks, "failed", &failed, "member");
    let delivered = create(
        &app,
        "ark",
        &member,
        "a heron, with callbacks",
        json!({"callback_url": format!("{}/ok", hooks.base)}),
    )
    .await;
    note(&mut tasks, "callback_delivered", &delivered, "member");
    let pending = create(
        &app,
        "kie",
        &member,
        "an owl, callback refused",
        json!({"callBackUrl": format!("{}/fail", hooks.base)}),
    )
    .await;
    note(&mut tasks, "callback_pending", &pending, "member");
    let idempotent_body = create_call("reapi", "a lighthouse, once", json!({})).1;
    let r = app
        .client
        .post(app.url("/api/v1/videos/generations"))
        .bearer_auth(&member)
        .header("idempotency-key", "fixture-idempotency-1")
        .json(&idempotent_body)
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), StatusCode::OK);
    let idempotent = created_id("reapi", &r.json().await.expect("json"));
    note(&mut tasks, "idempotent", &idempotent, "member");
    let refunded = create(&app, "reapi", &team_key, "a team's kite", json!({})).await;
    note(&mut tasks, "team_refunded", &refunded, "team");
    let deleted = create(&app, "openai", &member, "a sandcastle, deleted", json!({})).await;
    note(&mut tasks, "deleted", &deleted, "member");

    for label in FINISHED {
        if matches!(*label, "cancelled") {
            continue;
        }
        let task = &tasks[*label];
        let key = if task["key"] == "team" {
            &team_key
        } else {
            &member
        };
        let id = task["id"].as_str().expect("id");
        app.wait_finished(id, key, Duration::from_secs(60)).await;
    }
    admin
        .refund_task(&refunded, None, "fixture: refunded by hand", &actor)
        .await
        .expect("refund");
    let r = app
        .client
        .delete(app.url(&format!("/v1/videos/{deleted}")))
        .bearer_auth(&member)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    wait_until(
        "the failing callback tried twice",
        Duration::from_secs(20),
        || hooks.failed.load(Ordering::SeqCst) >= 2,
    )
    .await;
    // Ark posts queued, running and succeeded.
    wait_until(
        "the Ark callbacks delivered",
        Duration::from_secs(20),
        || hooks.ok.load(Ordering::SeqCst) >= 3,
    )
    .await;

    // A slow task holds the only worker; two more wait behind it, one is cancelled.
    let running = create(
        &app,
        "reapi",
        &member,
        "[[seedgate:delay:8000]] a slow tide",
        json!({}),
    )
    .await;
    let start = Instant::now();
    while app.operator_status(&running, &admin_token).await != "running" {
        assert!(start.elapsed() < Duration::from_secs(20), "never running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queued = create(&app, "hiapi", &member, "a queued moon", json!({})).await;
    let cancelled = create(&app, "ark", &member, "a cancelled comet", json!({})).await;
    admin.cancel_task(&cancelled, &actor).await.expect("cancel");
    note(&mut tasks, "running", &running, "member");
    note(&mut tasks, "queued", &queued, "member");
    note(&mut tasks, "cancelled", &cancelled, "member");

    // The answers to compare after an upgrade.
    let key_of = |task: &Value| -> String {
        if task["key"] == "team" {
            team_key.clone()
        } else {
            member.clone()
        }
    };
    let mut goldens = Map::new();
    for label in FINISHED.iter().chain(IN_FLIGHT) {
        let task = &tasks[*label];
        let id = task["id"].as_str().expect("id");
        goldens.insert(
            (*label).into(),
            app.read_everywhere(id, &key_of(task)).await,
        );
    }
    let extras = extra_reads(
        &app,
        &tasks,
        &member,
        &team_key,
        &admin_token,
        &asset_id,
        team.id.as_str(),
    )
    .await;
    assert_eq!(
        app.operator_status(&running, &admin_token).await,
        "running",
        "the fixture is taken while the slow task runs"
    );
    assert_eq!(app.operator_status(&queued, &admin_token).await, "queued");

    // Take it.
    let taken_at_ms = seedgate_core::clock::now_ms();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("fixture dir");
    match backend {
        Backend::Sqlite => {
            let path = dir.join("seedgate.db");
            let pool = sqlite_pool(&data.path().join("seedgate.db")).await;
            sqlx::query("VACUUM INTO ?")
                .bind(path.display().to_string())
                .execute(&pool)
                .await
                .expect("VACUUM INTO");
            pool.close().await;
            let pool = sqlite_pool(&path).await;
            if !later.is_empty() {
                for statement in STRIP_0013 {
                    sqlx::query(statement)
                        .execute(&pool)
                        .await
                        .expect(statement);
                }
                sqlx::query("VACUUM").execute(&pool).await.expect("VACUUM");
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let live = tempfile::NamedTempFile::new().expect("temp file");
            pg_dump(database_url.as_deref().expect("url"), live.path());
            // Loaded into a database of its own, taken back to 0012 there, dumped again.
            let copy = helpers::fresh_postgres_database().await;
            psql_file(&copy.url, live.path());
            if !later.is_empty() {
                let pool = sqlx::PgPool::connect(&copy.url).await.expect("connect");
                for statement in STRIP_0013 {
                    sqlx::query(statement)
                        .execute(&pool)
                        .await
                        .expect(statement);
                }
                pool.close().await;
            }
            pg_dump(&copy.url, &dir.join("dump.sql"));
        }
    }
    copy_dir(&data.path().join("media"), &dir.join("media"));
    let fixture = json!({
        "schema": SCHEMA,
        "backend": backend.name(),
        "taken_at_ms": taken_at_ms,
        "keys": {"member": member, "team": team_key},
        "admin_token": admin_token,
        "account": team.id.as_str(),
        "asset": asset_id,
        "idempotent": {"key": "fixture-idempotency-1", "body": idempotent_body, "task": idempotent},
        "tasks": tasks,
    });
    let goldens = json!({"tasks": goldens, "extras": extras});
    for (name, value) in [("fixture.json", fixture), ("goldens.json", goldens)] {
        std::fs::write(
            dir.join(name),
            serde_json::to_string_pretty(&value).expect("json") + "\n",
        )
        .expect("write");
    }
    drop(app);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let loaded = load(backend).await;
    let differences = same_schema_as_0012(&loaded).await;
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// Takes migration 0013 (retention) out of a database again: it only added these.
const STRIP_0013: &[&str] = &[
    "DROP INDEX tasks_media_kept",
    "DROP INDEX tasks_media_to_purge",
    "DROP INDEX task_events_by_age",
    "DROP INDEX spend_daily_by_day",
    "DROP TABLE janitor_leases",
    "ALTER TABLE tasks DROP COLUMN media_expired_at_ms",
    "ALTER TABLE tasks DROP COLUMN media_purged_at_ms",
    "DELETE FROM _sqlx_migrations WHERE version = 13",
];

async fn sqlite_pool(path: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("open SQLite")
}

fn pg_dump(url: &str, to: &Path) {
    let out = std::process::Command::new("pg_dump")
        .args(["--format=plain", "--no-owner", "--no-privileges", "--file"])
        .arg(to)
        .arg(url)
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn psql_file(url: &str, file: &Path) {
    let out = std::process::Command::new("psql")
        .args(["--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--file"])
        .arg(file)
        .arg(url)
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "loading {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn migration_versions(backend: Backend) -> Vec<i64> {
    std::fs::read_dir(migrations_dir(backend))
        .expect("migrations")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .split('_')
                .next()
                .and_then(|v| v.parse().ok())
        })
        .collect()
}

/// A description of a database's schema, one line per table column, index, constraint and
/// applied migration (with its checksum), sorted.
async fn describe_schema(backend: Backend, target: &str) -> Vec<String> {
    let mut lines: Vec<String> = match backend {
        Backend::Sqlite => {
            let pool = sqlite_pool(Path::new(target)).await;
            let mut lines: Vec<String> = sqlx::query_scalar(
                "SELECT m.type || ' ' || m.name || ' ' || COALESCE(m.sql, '') FROM sqlite_master m \
                 WHERE m.type = 'index' AND m.name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(&pool)
            .await
            .expect("indexes");
            lines.extend(
                sqlx::query_scalar::<_, String>(
                    "SELECT m.name || '.' || p.name || ' ' || p.type || ' notnull=' || p.\"notnull\" \
                     || ' default=' || COALESCE(p.dflt_value, '') || ' pk=' || p.pk \
                     FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'",
                )
                .fetch_all(&pool)
                .await
                .expect("columns"),
            );
            lines.extend(
                sqlx::query_scalar::<_, String>(
                    "SELECT 'migration ' || version || ' ' || hex(checksum) FROM _sqlx_migrations WHERE success",
                )
                .fetch_all(&pool)
                .await
                .expect("migrations"),
            );
            pool.close().await;
            lines
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(target).await.expect("connect");
            let mut lines: Vec<String> = sqlx::query_scalar(
                "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
                 || ' ' || COALESCE(column_default, '') FROM information_schema.columns \
                 WHERE table_schema = 'public'",
            )
            .fetch_all(&pool)
            .await
            .expect("columns");
            lines.extend(
                sqlx::query_scalar::<_, String>(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'",
                )
                .fetch_all(&pool)
                .await
                .expect("indexes"),
            );
            lines.extend(
                sqlx::query_scalar::<_, String>(
                    "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
                     FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
                )
                .fetch_all(&pool)
                .await
                .expect("constraints"),
            );
            lines.extend(
                sqlx::query_scalar::<_, String>(
                    "SELECT 'migration ' || version || ' ' || encode(checksum, 'hex') FROM _sqlx_migrations WHERE success",
                )
                .fetch_all(&pool)
                .await
                .expect("migrations"),
            );
            pool.close().await;
            lines
        }
    };
    for line in &mut lines {
        *line = line
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
    }
    lines.sort();
    lines
}

/// What differs between the loaded fixture's schema and the one migrations 0001–0012 make on
/// an empty database: nothing, for a true 0012 fixture.
async fn same_schema_as_0012(loaded: &Loaded) -> Vec<String> {
    let backend = loaded.backend;
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(migrations_dir(backend)).expect("migrations") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let version: i64 = name
            .split('_')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(i64::MAX);
        if version <= 12 {
            std::fs::copy(entry.path(), dir.path().join(&name)).expect("copy");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path())
        .await
        .expect("migrator");
    let reference_dir = tempfile::tempdir().expect("tempdir");
    let reference_db;
    let (fixture, reference) = match backend {
        Backend::Sqlite => {
            let path = reference_dir.path().join("reference.db");
            let pool = sqlite_pool(&path).await;
            migrator.run(&pool).await.expect("migrate 0001-0012");
            pool.close().await;
            let fixture = loaded.data.path().join("seedgate.db");
            (
                describe_schema(backend, &fixture.display().to_string()).await,
                describe_schema(backend, &path.display().to_string()).await,
            )
        }
        Backend::Postgres => {
            reference_db = helpers::fresh_postgres_database().await;
            let pool = sqlx::PgPool::connect(&reference_db.url)
                .await
                .expect("connect");
            migrator.run(&pool).await.expect("migrate 0001-0012");
            pool.close().await;
            (
                describe_schema(backend, loaded.database_url().expect("url")).await,
                describe_schema(backend, &reference_db.url).await,
            )
        }
    };
    let mut differences: Vec<String> = fixture
        .iter()
        .filter(|l| !reference.contains(l))
        .map(|l| format!("only in the fixture: {l}"))
        .collect();
    differences.extend(
        reference
            .iter()
            .filter(|l| !fixture.contains(l))
            .map(|l| format!("only in schema 0012: {l}")),
    );
    differences
}

/// The fixture is a database of schema 0012 exactly, on both backends.
#[tokio::test]
async fn the_fixture_is_exactly_schema_0012() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let loaded = load(backend).await;
        let differences = same_schema_as_0012(&loaded).await;
        assert!(
            differences.is_empty(),
            "{}: {}",
            backend.name(),
            differences.join("\n")
        );
    }
}

/// Records beyond the tasks' own answers: callback logs, timelines, the asset, both keys'
/// account views, the operator's account and task views, the audit log.
async fn extra_reads(
    app: &Replica,
    tasks: &Map<String, Value>,
    member: &str,
    team_key: &str,
    admin_token: &str,
    asset: &str,
    account: &str,
) -> Value {
    let mut out = Map::new();
    let mut read = |path: String, value: Value| {
        out.insert(path, value);
    };
    for label in FINISHED {
        let task = &tasks[*label];
        let id = task["id"].as_str().expect("id");
        let key = if task["key"] == "team" {
            team_key
        } else {
            member
        };
        for path in [
            format!("/api/v1/tasks/{id}/callbacks"),
            format!("/api/v1/tasks/{id}/timeline"),
        ] {
            let (status, body) = app.get("reapi", &path, key).await;
            read(
                path,
                json!({"status": status, "body": normalise(&body, &app.base)}),
            );
        }
        let path = format!("/admin/v1/tasks/{id}");
        let (status, body) = app.get("", &path, admin_token).await;
        read(
            path,
            json!({"status": status, "body": normalise(&body, &app.base)}),
        );
    }
    for (name, key) in [("member", member), ("team", team_key)] {
        let path = "/api/v1/account".to_string();
        let (status, body) = app.get("reapi", &path, key).await;
        read(
            format!("{path}#{name}"),
            json!({"status": status, "body": normalise(&body, &app.base)}),
        );
    }
    let path = format!("/api/v1/assets/{asset}");
    let (status, body) = app.get("reapi", &path, member).await;
    read(
        path,
        json!({"status": status, "body": normalise(&body, &app.base)}),
    );
    for path in [
        format!("/admin/v1/accounts/{account}"),
        "/admin/v1/accounts".to_string(),
        "/admin/v1/keys".to_string(),
        "/admin/v1/tokens".to_string(),
        "/admin/v1/audit".to_string(),
    ] {
        let (status, body) = app.get("", &path, admin_token).await;
        read(
            path,
            json!({"status": status, "body": normalise(&body, &app.base)}),
        );
    }
    Value::Object(out)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

/// A fixture loaded into a fresh data dir (and a fresh PostgreSQL database), not yet opened.
struct Loaded {
    backend: Backend,
    data: tempfile::TempDir,
    database: Option<helpers::ScratchDatabase>,
    fixture: Value,
    goldens: Value,
    /// How long ago the fixture was taken, by which its pending callbacks were moved on.
    age_ms: i64,
}

impl Loaded {
    fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|d| d.url.as_str())
    }

    fn settings(&self) -> Settings {
        settings(self.data.path(), self.database_url())
    }

    /// The current app on the fixture, its clock set to a few seconds after the fixture was
    /// taken: retention and idempotency lifetimes run from there, so what the goldens show has
    /// not legitimately expired, however long ago the fixture was made.
    async fn start(&self) -> anyhow::Result<Replica> {
        let taken_at = self.fixture["taken_at_ms"].as_i64().expect("taken_at_ms");
        start_at(self.settings(), Some(taken_at + 5_000)).await
    }

    fn key(&self, task: &Value) -> String {
        let name = task["key"].as_str().expect("key name");
        self.fixture["keys"][name]
            .as_str()
            .expect("key")
            .to_string()
    }

    fn task(&self, label: &str) -> (String, String) {
        let task = &self.fixture["tasks"][label];
        (task["id"].as_str().expect("id").to_string(), self.key(task))
    }

    fn ledger_verify(&self) {
        let (code, out) = helpers::ledger_verify_on(self.data.path(), self.database_url());
        assert_eq!(code, 0, "ledger verify after the upgrade: {out}");
    }
}

async fn load(backend: Backend) -> Loaded {
    let dir = fixture_dir(backend);
    let data = tempfile::tempdir().expect("tempdir");
    copy_dir(&dir.join("media"), &data.path().join("media"));
    let database = match backend {
        Backend::Sqlite => {
            std::fs::copy(dir.join("seedgate.db"), data.path().join("seedgate.db"))
                .expect("copy the SQLite fixture");
            None
        }
        Backend::Postgres => {
            let database = helpers::fresh_postgres_database().await;
            psql_file(&database.url, &dir.join("dump.sql"));
            Some(database)
        }
    };
    let fixture = read_json(&dir.join("fixture.json"));
    // The app's clock is set to just after the fixture was taken, but the store schedules
    // callbacks by the system clock: the fixture's pending callback (its next try an hour
    // after the fixture was taken) is moved on by the fixture's age, so the upgraded app finds
    // it still waiting, as it would have right after the fixture was taken. The comparison
    // expects its next try that much later (`upgrade_keeps_everything`).
    let taken_at = fixture["taken_at_ms"].as_i64().expect("taken_at_ms");
    let age_ms = seedgate_core::clock::now_ms() - taken_at;
    let shift = "UPDATE callbacks SET next_attempt_at_ms = next_attempt_at_ms + $1 \
                 WHERE state = 'pending'";
    match &database {
        None => {
            let pool = sqlite_pool(&data.path().join("seedgate.db")).await;
            sqlx::query(shift)
                .bind(age_ms)
                .execute(&pool)
                .await
                .expect("move the pending callbacks on");
            pool.close().await;
        }
        Some(database) => {
            let pool = sqlx::PgPool::connect(&database.url).await.expect("connect");
            sqlx::query(shift)
                .bind(age_ms)
                .execute(&pool)
                .await
                .expect("move the pending callbacks on");
            pool.close().await;
        }
    }
    Loaded {
        backend,
        data,
        database,
        fixture,
        goldens: read_json(&dir.join("goldens.json")),
        age_ms,
    }
}

/// An account view's counts of work in flight and of the rates' remaining room.
fn is_moving_count(key: &str) -> bool {
    matches!(key, "in_flight" | "queued") || key.ends_with("_remaining")
}

/// The first difference between two JSON values, as a path and both sides.
fn difference(path: &str, golden: &Value, now: &Value) -> Option<String> {
    match (golden, now) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()) {
                let (x, y) = (
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                );
                if let Some(d) = difference(&format!("{path}.{key}"), x, y) {
                    return Some(d);
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| difference(&format!("{path}[{i}]"), x, y)),
        _ if golden == now => None,
        _ => Some(format!("{path}: was {golden}, now {now}")),
    }
}

/// Loads the fixture, starts the current app on it and checks that nothing was lost.
async fn upgrade_keeps_everything(backend: Backend) {
    let loaded = load(backend).await;
    let app = loaded
        .start()
        .await
        .expect("the current app starts on the fixture");
    assert!(
        app.bootstrap_key.is_none(),
        "the fixture's database is not empty"
    );
    loaded.ledger_verify();

    // Every finished task, in every dialect, as it read when the fixture was taken.
    let mut differences = Vec::new();
    for label in FINISHED {
        let (id, key) = loaded.task(label);
        let now = app.read_everywhere(&id, &key).await;
        let golden = normalise(&loaded.goldens["tasks"][*label], "http://server");
        if let Some(d) = difference(label, &golden, &now) {
            differences.push(d);
        }
    }
    // Callback logs, timelines, the asset, accounts, keys, tokens, the audit log.
    let token = loaded.fixture["admin_token"].as_str().expect("token");
    let extras = loaded.goldens["extras"].as_object().expect("extras");
    for (path, golden) in extras {
        let (path, key) = match path.split_once('#') {
            Some((path, name)) => (path, loaded.fixture["keys"][name].as_str().expect("key")),
            None if path.starts_with("/admin/") => (path.as_str(), token),
            None => {
                let member = loaded.fixture["keys"]["member"].as_str().expect("key");
                // A task's records are read with its owner's key.
                let owner = loaded.fixture["tasks"]
                    .as_object()
                    .expect("tasks")
                    .values()
                    .find(|t| path.contains(t["id"].as_str().unwrap_or("-")))
                    .map(|t| {
                        loaded.fixture["keys"][t["key"].as_str().unwrap_or("member")]
                            .as_str()
                            .unwrap_or(member)
                    })
                    .unwrap_or(member);
                (path.as_str(), owner)
            }
        };
        let (status, body) = app.get("reapi", path, key).await;
        let mut now = json!({"status": status, "body": normalise(&body, &app.base)});
        let mut golden = normalise(golden, "http://server");
        if golden["body"]["callback"]["state"] == "pending" {
            // Moved on by the fixture's age when it was loaded.
            if let Some(at) = golden["body"]["callback"]["next_attempt_at_ms"].as_i64() {
                golden["body"]["callback"]["next_attempt_at_ms"] = json!(at + loaded.age_ms);
            }
        }
        if path == "/api/v1/account" {
            // What is in flight and the rates' room move on with the clock and the queue.
            for value in [&mut now, &mut golden] {
                for part in ["account", "key"] {
                    if let Some(view) = value["body"][part].as_object_mut() {
                        view.retain(|k, _| !is_moving_count(k));
                    }
                }
            }
        }
        if let Some(d) = difference(path, &golden, &now) {
            differences.push(d);
        }
    }
    assert!(
        differences.is_empty(),
        "{} read back differently after the upgrade:\n{}",
        backend.name(),
        differences.join("\n")
    );

    // The media the succeeded tasks point at are served.
    for dialect in DIALECTS {
        let (id, key) = loaded.task(&format!("succeeded_{dialect}"));
        let (_, task) = app.get("reapi", &format!("/api/v1/tasks/{id}"), &key).await;
        let url = task["output"]["video_urls"][0].as_str().expect("video url");
        let r = app.client.get(url).send().await.expect("download");
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert!(!r.bytes().await.expect("bytes").is_empty());
    }

    // The Idempotency-Key still answers with its task, charging nothing.
    let idem = &loaded.fixture["idempotent"];
    let member = loaded.fixture["keys"]["member"].as_str().expect("key");
    let (_, before) = app.get("reapi", "/api/v1/account", member).await;
    let r = app
        .client
        .post(app.url("/api/v1/videos/generations"))
        .bearer_auth(member)
        .header("idempotency-key", idem["key"].as_str().expect("key"))
        .json(&idem["body"])
        .send()
        .await
        .expect("replay");
    assert_eq!(r.status(), StatusCode::OK);
    let replay: Value = r.json().await.expect("json");
    assert_eq!(replay["id"], idem["task"], "{replay}");
    let (_, after) = app.get("reapi", "/api/v1/account", member).await;
    assert_eq!(before, after, "a replay charges nothing");

    // The tasks in flight when the fixture was taken read back, then finish once.
    for label in IN_FLIGHT {
        let (id, key) = loaded.task(label);
        let now = app.read_everywhere(&id, &key).await;
        for dialect in DIALECTS {
            assert_eq!(now[dialect]["status"], 200, "{label} via {dialect}: {now}");
        }
        let done = app.wait_finished(&id, &key, Duration::from_secs(60)).await;
        assert_eq!(done["status"], "completed", "{label}: {done}");
    }
    // And the new schema takes new work.
    let id = create(&app, "ark", member, "after the upgrade", json!({})).await;
    let done = app
        .wait_finished(&id, member, Duration::from_secs(60))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    loaded.ledger_verify();
}

#[tokio::test]
#[ignore = "makes a fixture: run once, from the tree of the release whose schema it keeps"]
async fn generate_fixture() {
    generate(Backend::Sqlite).await;
    generate(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_0012_fixture_upgrades_on_sqlite_and_keeps_everything() {
    upgrade_keeps_everything(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_0012_fixture_upgrades_on_postgres_and_keeps_everything() {
    upgrade_keeps_everything(Backend::Postgres).await;
}

/// The migrations the current code carries, for one backend.
fn migrations_dir(backend: Backend) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../store/migrations")
        .join(backend.name())
}

fn migration_count(backend: Backend) -> i64 {
    std::fs::read_dir(migrations_dir(backend))
        .expect("migrations")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".sql"))
        .count() as i64
}

/// How many times each version is recorded in `_sqlx_migrations`, and whether all succeeded.
async fn applied_versions(loaded: &Loaded) -> Vec<(i64, i64)> {
    let query = "SELECT version, COUNT(*) FROM _sqlx_migrations WHERE success GROUP BY version ORDER BY version";
    match loaded.database_url() {
        Some(url) => {
            let pool = sqlx::PgPool::connect(url).await.expect("connect");
            let rows: Vec<(i64, i64)> = sqlx::query_as(query).fetch_all(&pool).await.expect("read");
            pool.close().await;
            rows
        }
        None => {
            let url = format!(
                "sqlite://{}",
                loaded.data.path().join("seedgate.db").display()
            );
            let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
            let rows: Vec<(i64, i64)> = sqlx::query_as(query).fetch_all(&pool).await.expect("read");
            pool.close().await;
            rows
        }
    }
}

/// Three replicas of the current code start at once on the old database (a rolling upgrade's
/// first moments): every one starts, each pending migration is applied once, and the ledger
/// is whole. PostgreSQL serialises them with sqlx's advisory lock around the whole run;
/// SQLite with its one writer (see `SqliteStore::migrate`).
async fn replicas_starting_together_migrate_once(backend: Backend) {
    let loaded = load(backend).await;
    let (a, b, c) = tokio::join!(loaded.start(), loaded.start(), loaded.start());
    let replicas = [
        a.expect("replica 1 starts"),
        b.expect("replica 2 starts"),
        c.expect("replica 3 starts"),
    ];
    let applied = applied_versions(&loaded).await;
    assert_eq!(
        applied.len() as i64,
        migration_count(backend),
        "{applied:?}"
    );
    assert!(
        applied.iter().all(|(_, n)| *n == 1),
        "applied more than once: {applied:?}"
    );
    loaded.ledger_verify();
    let (id, key) = loaded.task("succeeded_reapi");
    for replica in &replicas {
        let (status, task) = replica
            .get("reapi", &format!("/api/v1/tasks/{id}"), &key)
            .await;
        assert_eq!(
            (status, &task["status"]),
            (200, &json!("completed")),
            "{task}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_on_postgres_migrate_once() {
    replicas_starting_together_migrate_once(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_on_sqlite_migrate_once() {
    replicas_starting_together_migrate_once(Backend::Sqlite).await;
}

/// A create as a client with retries makes it: a retryable refusal (a 5xx, or CRUN's 455) is
/// tried again a little later, as every dialect's "service unavailable" asks. During a rolling
/// upgrade a migration's locks can make PostgreSQL abort a replica's transaction (a deadlock
/// between its lock order and the migration's), which that replica answers so.
async fn create_retrying(server: &Server, dialect: &str, key: &str, text: &str) -> String {
    let (path, body) = create_call(dialect, text, json!({}));
    for _ in 0..50 {
        let (status, json) = server.post(dialect, path, key, &body).await;
        match status {
            200 => return created_id(dialect, &json),
            455 | 500..=599 => {
                eprintln!("{dialect} create refused for now ({status}): {json}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => panic!("{dialect} create: {status} {json}"),
        }
    }
    panic!("{dialect} create was refused fifty times running");
}

/// A steady stream of submits (every dialect in turn, one every 20 ms or so) and polls of
/// earlier ones against `server` until `stop`: the ids it was given, every one acknowledged.
fn steady_load(
    server: Server,
    key: String,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        let mut i = 0;
        while !stop.is_cancelled() {
            let dialect = DIALECTS[i % DIALECTS.len()];
            let text = format!("during the roll {i}");
            acknowledged.push(create_retrying(&server, dialect, &key, &text).await);
            // A poll of an earlier one.
            let path = format!("/api/v1/tasks/{}", acknowledged[i / 2]);
            let (status, body) = server.get("reapi", &path, &key).await;
            assert_eq!(status, 200, "{body}");
            i += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        acknowledged
    })
}

/// A rolling upgrade on PostgreSQL, with one replica serving while another starts beside it.
///
/// Replica A is the current code too: it starts on the 0012 fixture (and so applies the
/// pending migrations itself), takes a steady stream of submits, polls and completions, and
/// keeps serving while replica B starts on the same database, runs its migrator (finding the
/// schema current, under the same advisory lock) and joins in. What this proves is that a
/// replica starting and migrating beside a busy one does not disturb it: nothing A
/// acknowledged is lost, no hold is settled twice (`ledger verify`), every task reads the same
/// from both. The previous release's own binary running beside the new code is
/// `old_release::the_previous_release_running_beside_the_new_one_corrupts_nothing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_starting_beside_a_busy_one_corrupts_nothing() {
    let loaded = load(Backend::Postgres).await;
    let a = Arc::new(loaded.start().await.expect("replica A starts"));
    let member = loaded.fixture["keys"]["member"]
        .as_str()
        .expect("key")
        .to_string();
    let stop = CancellationToken::new();
    let load_task = steady_load(a.server.clone(), member.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = loaded.start().await.expect("replica B starts beside A");
    // Both take work for a while.
    let mut through_b = Vec::new();
    for (i, dialect) in DIALECTS.iter().enumerate().take(5) {
        through_b.push(create(&b, dialect, &member, &format!("through B {i}"), json!({})).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let acknowledged = load_task.await.expect("load");
    assert!(acknowledged.len() >= 5, "{}", acknowledged.len());
    for id in acknowledged.iter().chain(&through_b) {
        let from_a = a.wait_finished(id, &member, Duration::from_secs(60)).await;
        let (status, from_b) = b
            .get("reapi", &format!("/api/v1/tasks/{id}"), &member)
            .await;
        assert_eq!(status, 200, "{id} via B: {from_b}");
        assert_eq!(from_a["status"], "completed", "{from_a}");
        assert_eq!(
            normalise(&from_a, &a.base),
            normalise(&from_b, &b.base),
            "{id} reads the same from both replicas"
        );
    }
    let applied = applied_versions(&loaded).await;
    assert!(applied.iter().all(|(_, n)| *n == 1), "{applied:?}");
    loaded.ledger_verify();
}

/// A migration that fails half-way leaves nothing of itself: each migration runs in its own
/// transaction (none of ours opts out with `-- no-transaction`), so the schema stays at the
/// previous version, and the next start applies it whole.
async fn a_migration_failing_half_way_leaves_the_previous_schema(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut newest = 0i64;
    for entry in std::fs::read_dir(migrations_dir(backend)).expect("migrations") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path()).expect("read");
        assert!(
            !text.contains("no-transaction"),
            "{name} opts out of its transaction"
        );
        let version: i64 = name
            .split('_')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a numbered migration");
        newest = newest.max(version);
        std::fs::copy(entry.path(), dir.path().join(&name)).expect("copy");
    }
    let half = dir.path().join("9999_half_done.sql");
    std::fs::write(
        &half,
        "CREATE TABLE half_done (id BIGINT PRIMARY KEY);\n\
         INSERT INTO half_done (id) VALUES (1);\n\
         SELECT no_such_column FROM half_done;\n",
    )
    .expect("write");
    let migrator = sqlx::migrate::Migrator::new(dir.path())
        .await
        .expect("migrator");
    let data = tempfile::tempdir().expect("tempdir");
    let mut scratch = None;
    let (failed, version, half_table) = match backend {
        Backend::Postgres => {
            let database = scratch.insert(helpers::fresh_postgres_database().await);
            let pool = sqlx::PgPool::connect(&database.url).await.expect("connect");
            let failed = migrator.run(&pool).await.is_err();
            let version: i64 =
                sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&pool)
                    .await
                    .expect("version");
            let half: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'half_done'",
            )
            .fetch_one(&pool)
            .await
            .expect("tables");
            pool.close().await;
            (failed, version, half)
        }
        Backend::Sqlite => {
            let url = format!("sqlite://{}?mode=rwc", data.path().join("db").display());
            let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
            let failed = migrator.run(&pool).await.is_err();
            let version: i64 =
                sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&pool)
                    .await
                    .expect("version");
            let half: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half_done'")
                    .fetch_one(&pool)
                    .await
                    .expect("tables");
            pool.close().await;
            (failed, version, half)
        }
    };
    assert!(failed, "the broken migration fails");
    assert_eq!(
        version, newest,
        "the schema stays at the last whole migration"
    );
    assert_eq!(half_table, 0, "nothing of the failed migration remains");

    // Fixed, it is applied whole at the next start.
    std::fs::write(
        &half,
        "CREATE TABLE half_done (id BIGINT PRIMARY KEY);\n\
         INSERT INTO half_done (id) VALUES (1);\n",
    )
    .expect("write");
    let migrator = sqlx::migrate::Migrator::new(dir.path())
        .await
        .expect("migrator");
    let rows: i64 = match backend {
        Backend::Postgres => {
            let url = &scratch.as_ref().expect("the database").url;
            let pool = sqlx::PgPool::connect(url).await.expect("connect");
            migrator
                .run(&pool)
                .await
                .expect("the fixed migration applies");
            let rows = sqlx::query_scalar("SELECT COUNT(*) FROM half_done")
                .fetch_one(&pool)
                .await
                .expect("rows");
            pool.close().await;
            rows
        }
        Backend::Sqlite => {
            let url = format!("sqlite://{}", data.path().join("db").display());
            let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
            migrator
                .run(&pool)
                .await
                .expect("the fixed migration applies");
            let rows = sqlx::query_scalar("SELECT COUNT(*) FROM half_done")
                .fetch_one(&pool)
                .await
                .expect("rows");
            pool.close().await;
            rows
        }
    };
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn a_migration_failing_half_way_on_postgres_leaves_the_previous_schema() {
    a_migration_failing_half_way_leaves_the_previous_schema(Backend::Postgres).await;
}

#[tokio::test]
async fn a_migration_failing_half_way_on_sqlite_leaves_the_previous_schema() {
    a_migration_failing_half_way_leaves_the_previous_schema(Backend::Sqlite).await;
}

//! Spawning the app and talking to it.

use reqwest::StatusCode;
use seedgate::config::Settings;
use seedgate::startup::Application;
use seedgate_core::clock::ManualClock;
use seedgate_service::auth;
use seedgate_store::Store;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub base: String,
    /// The development key the app created on its empty database (100000 credits).
    pub key: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    /// The PostgreSQL database this app runs on, when not SQLite.
    pub database_url: Option<String>,
    pub data_dir: tempfile::TempDir,
    /// The app's clock: the system's until a test moves it forward.
    pub clock: Arc<ManualClock>,
    shutdown: CancellationToken,
    _scratch: Option<ScratchDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Settings every test starts from: development mode, a fresh data dir, a random port, fast
/// worker polling.
pub fn test_settings(data_dir: &std::path::Path) -> Settings {
    let mut s = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.to_path_buf(),
        ..Settings::default()
    };
    s.worker.idle_poll_ms = 50;
    s.worker.retry_base_ms = 100;
    s.log.filter = "warn".into();
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `SEEDGATE_TEST_API_BACKEND=postgres` runs every in-process app on its own fresh PostgreSQL
/// database on the server `SEEDGATE_TEST_DATABASE_URL` names; otherwise on SQLite.
async fn test_database() -> Option<ScratchDatabase> {
    if std::env::var("SEEDGATE_TEST_API_BACKEND").ok().as_deref() != Some("postgres") {
        return None;
    }
    Some(fresh_postgres_database().await)
}

/// A new, empty database on the PostgreSQL server `SEEDGATE_TEST_DATABASE_URL` names (tests
/// that need PostgreSQL whatever the backend fail without it). It is dropped with the value, so
/// a suite run leaves nothing behind on the server (hundreds of databases filled CI's disk).
pub async fn fresh_postgres_database() -> ScratchDatabase {
    let server = std::env::var("SEEDGATE_TEST_DATABASE_URL").expect(
        "SEEDGATE_TEST_DATABASE_URL must name a PostgreSQL server (postgres://user:pass@host/db)",
    );
    let name = format!(
        "sg_api_{}",
        seedgate_core::TaskId::generate()
            .as_str()
            .trim_start_matches("task_")
    );
    let admin = sqlx::PgPool::connect(&server)
        .await
        .expect("PostgreSQL server");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create test database");
    admin.close().await;
    let (base, _) = server
        .rsplit_once('/')
        .expect("a database URL ends with /<name>");
    ScratchDatabase {
        url: format!("{base}/{name}"),
        server,
        name,
    }
}

/// A test's own PostgreSQL database, dropped (with any connections still open) when this is.
pub struct ScratchDatabase {
    pub url: String,
    server: String,
    name: String,
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop cannot await, and must not block the test's runtime either: the app on it may be
        // half-way through opening a connection, and PostgreSQL's DROP DATABASE waits for every
        // backend, one still authenticating included (up to a minute). So a thread of its own
        // drops the database while the app shuts down; one still running when the test binary
        // exits leaves its database behind.
        std::thread::spawn(move || {
            let dropped = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|runtime| {
                    runtime.block_on(async {
                        let admin = sqlx::PgPool::connect(&server)
                            .await
                            .map_err(|e| e.to_string())?;
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&admin)
                            .await
                            .map_err(|e| e.to_string())?;
                        admin.close().await;
                        Ok(())
                    })
                });
            if let Err(e) = dropped {
                eprintln!("could not drop test database {name}: {e}");
            }
        });
    }
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut settings = test_settings(data_dir.path());
    let scratch = test_database().await;
    settings.database_url = scratch.as_ref().map(|db| db.url.clone());
    configure(&mut settings);
    let database_url = settings.database_url.clone();
    let clock = Arc::new(ManualClock::default());
    let app = Application::build_with_clock(settings, clock.clone())
        .await
        .expect("app builds");
    let base = app.local_url();
    // Development mode creates a key on the empty database; production does not, so the
    // test makes one the same way an operator would.
    let key = match app.bootstrap_key() {
        Some(key) => key.to_string(),
        None => {
            let key = auth::generate_key();
            app.store()
                .create_api_key("operator", &key.hash, &key.display_prefix, 100_000)
                .await
                .expect("create key");
            key.plaintext
        }
    };

    let store = app.store();
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        key,
        client: reqwest::Client::new(),
        store,
        database_url,
        data_dir,
        clock,
        shutdown,
        _scratch: scratch,
    }
}

impl TestApp {
    /// `seedgate ledger verify` against this app's database; returns (exit code, stdout).
    pub fn ledger_verify(&self) -> (i32, String) {
        ledger_verify_on(self.data_dir.path(), self.database_url.as_deref())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A new API key with `credits`.
    pub async fn create_key(&self, name: &str, credits: i64) -> String {
        let key = auth::generate_key();
        self.store
            .create_api_key(name, &key.hash, &key.display_prefix, credits)
            .await
            .expect("create key");
        key.plaintext
    }

    /// `GET path` with this app's key; the JSON answer, whatever the status.
    pub async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    pub async fn balance_of(&self, key: &str) -> i64 {
        self.store
            .find_credential(&auth::hash_key(key))
            .await
            .expect("lookup")
            .expect("key exists")
            .account
            .balance
    }

    pub async fn submit_as(&self, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/videos/generations"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn submit(&self, body: &Value) -> reqwest::Response {
        self.submit_as(&self.key, body).await
    }

    /// Submits and returns the task id, asserting acceptance.
    pub async fn submit_ok(&self, body: &Value) -> String {
        let r = self.submit(body).await;
        let status = r.status();
        let json: Value = r.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "{json}");
        json["id"].as_str().expect("id").to_string()
    }

    pub async fn get_task_as(&self, key: &str, id: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/api/v1/tasks/{id}")))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
    }

    /// Polls until the task is no longer processing.
    pub async fn wait_for_task(&self, id: &str) -> Value {
        wait_for_task(
            &self.client,
            &self.base,
            &self.key,
            id,
            Duration::from_secs(90),
        )
        .await
    }
}

pub async fn wait_for_task(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    id: &str,
    timeout: Duration,
) -> Value {
    let start = Instant::now();
    loop {
        let r = client
            .get(format!("{base}/api/v1/tasks/{id}"))
            .bearer_auth(key)
            .send()
            .await;
        if let Ok(r) = r {
            if r.status() == StatusCode::OK {
                let json: Value = r.json().await.expect("json");
                if json["status"] != "processing" {
                    return json;
                }
            }
        }
        assert!(
            start.elapsed() < timeout,
            "task {id} did not finish in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts a reAPI error envelope with `code` and HTTP `status`; returns the message.
pub async fn assert_error(response: reqwest::Response, status: StatusCode, code: u64) -> String {
    let actual = response.status();
    let json: Value = response.json().await.expect("error body is JSON");
    assert_eq!(actual, status, "{json}");
    assert_eq!(json["error"]["code"], code, "{json}");
    let rid = json["error"]["request_id"].as_str().expect("request_id");
    assert!(rid.starts_with("req_"), "{rid}");
    json["error"]["message"]
        .as_str()
        .expect("message")
        .to_string()
}

/// Runs `seedgate ledger verify` against a data dir; returns (exit code, stdout).
pub fn ledger_verify(data_dir: &std::path::Path) -> (i32, String) {
    ledger_verify_on(data_dir, None)
}

/// `seedgate ledger verify` on a data dir's SQLite database, or on a PostgreSQL database.
pub fn ledger_verify_on(data_dir: &std::path::Path, database_url: Option<&str>) -> (i32, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_seedgate"));
    command
        .args(["ledger", "verify", "--data-dir"])
        .arg(data_dir)
        .env_remove("SEEDGATE_CONFIG")
        .env_remove("SEEDGATE_DATABASE_URL");
    if let Some(url) = database_url {
        command.env("SEEDGATE_DATABASE_URL", url);
    }
    let out = command.output().expect("run seedgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A media URL without its query: the signed link's `expires` and `signature` stripped, after
/// checking they are there.
pub fn media_path(url: &str) -> &str {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    assert!(
        query.contains("expires=") && query.contains("signature="),
        "media URLs are signed: {url}"
    );
    path
}

/// Keeps a child process (an SDK script) from reading the caller's proxies or SDK account
/// settings (its base URL and key come from the test).
pub fn isolate_from_environment(command: &mut std::process::Command) {
    for var in [
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(var);
    }
}

/// A request in one dialect: method, path, body, and whether the key goes in `x-api-key`.
pub struct Call {
    pub dialect: &'static str,
    pub path: &'static str,
    pub body: Value,
}

pub fn bearer_or_x_api_key(app: &TestApp, call: &Call, key: &str) -> reqwest::RequestBuilder {
    let request = app.client.post(app.url(call.path));
    if call.dialect == "crun" {
        request.header("x-api-key", key)
    } else {
        request.bearer_auth(key)
    }
}

/// The error code a dialect's envelope carries (HiAPI and Ark: a string, the rest numbers).
pub fn error_code(dialect: &str, body: &Value) -> Value {
    match dialect {
        "reapi" | "ark" | "openai" => body["error"]["code"].clone(),
        "hiapi" => body["error_code"].clone(),
        _ => body["code"].clone(),
    }
}

/// Makes `accounts` the app's only upstreams and routes `model` to them, tried in their order.
pub fn route_only_through(
    s: &mut Settings,
    model: &str,
    accounts: Vec<seedgate::config::ProviderSettings>,
) {
    let names = accounts.iter().map(|a| a.name.clone()).collect();
    s.providers = accounts;
    s.routing = std::collections::BTreeMap::from([(
        model.to_string(),
        seedgate_providers::Route {
            strategy: seedgate_providers::RoutingStrategy::Priority,
            providers: names,
        },
    )]);
}

/// An Ark upstream account `name` at `base_url` with `key`, carrying `seedance-2.0-mini` as
/// Ark's Seedance 2.0 Mini, with short timeouts.
pub fn ark_account(name: &str, base_url: &str, key: &str) -> seedgate::config::ProviderSettings {
    seedgate::config::ProviderSettings {
        name: name.into(),
        kind: "ark".into(),
        base_url: Some(base_url.into()),
        api_key: Some(key.into()),
        models: std::collections::BTreeMap::from([(
            "seedance-2.0-mini".to_string(),
            "dreamina-seedance-2-0-mini-260615".to_string(),
        )]),
        timeout_seconds: 5.0,
        connect_timeout_seconds: 2.0,
        ..Default::default()
    }
}

/// A report's figures (its `totals`, or one of its rows) as `UsageFigures`.
pub fn figures_of(json: &Value) -> seedgate_core::usage::UsageFigures {
    let n = |name: &str| {
        json[name]
            .as_i64()
            .unwrap_or_else(|| panic!("{name} in {json}"))
    };
    seedgate_core::usage::UsageFigures {
        tasks: n("tasks"),
        succeeded: n("succeeded"),
        failed: n("failed"),
        cancelled: n("cancelled"),
        refunded: n("refunded"),
        refunds: n("refunds"),
        credits_held: n("credits_held"),
        credits_returned: n("credits_returned"),
        credits_refunded: n("credits_refunded"),
        credits_charged: n("credits_charged"),
        billable_seconds: n("billable_seconds"),
    }
}

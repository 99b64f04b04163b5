//! The two backends a contract test runs on, each a fresh store of its own: SQLite in a
//! temporary directory, PostgreSQL in a new database on the server named by
//! `SEEDGATE_TEST_DATABASE_URL` (the PostgreSQL tests fail, never skip, without it).

use seedgate_store::{PgStore, SqliteStore, Store};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

const URL_VAR: &str = "SEEDGATE_TEST_DATABASE_URL";

/// Connections per replica pool in the concurrency tests (tests run in parallel against one
/// server, whose default limit is 100 connections).
const REPLICA_CONNECTIONS: u32 = 4;

/// A fresh store for one test, and where it lives: the directory or database is removed when
/// this is dropped, passed or failed.
pub struct Backend {
    store: Arc<dyn Store>,
    _home: Home,
}

impl Backend {
    /// Runs one contract test on this store; its directory or database outlives the test.
    pub async fn run<F>(self, test: impl FnOnce(Arc<dyn Store>) -> F)
    where
        F: Future<Output = ()>,
    {
        let Self { store, _home: home } = self;
        test(store).await;
        drop(home);
    }
}

enum Home {
    Dir { _dir: tempfile::TempDir },
    Database { _db: Box<TestDb> },
}

/// A `SqliteStore` on a new file in a temporary directory.
pub async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("seedgate.db"))
        .await
        .expect("open");
    Backend {
        store: Arc::new(store),
        _home: Home::Dir { _dir: dir },
    }
}

/// A `PgStore` on a new database, opened as production opens it.
pub async fn postgres() -> Backend {
    let db = TestDb::create().await;
    let store = db.store().await;
    Backend {
        store: Arc::new(store),
        _home: Home::Database { _db: Box::new(db) },
    }
}

fn server_url() -> String {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{URL_VAR} is not set: the PostgreSQL store tests need a server, e.g. \
             {URL_VAR}=postgres://postgres:postgres@127.0.0.1:5432/postgres"
        ),
    }
}

/// `url` with its database replaced by `database`.
fn url_with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// A PostgreSQL database of its own for one test, dropped when the test ends, passed or failed.
pub struct TestDb {
    /// The server, connected as the URL's user to its database.
    pub admin: PgConnectOptions,
    pub name: String,
    url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        let server = server_url();
        let admin = PgConnectOptions::from_str(&server)
            .unwrap_or_else(|e| panic!("{URL_VAR} is not a PostgreSQL URL: {e}"));
        let name = format!(
            "seedgate_test_{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        );
        let mut conn = admin
            .connect()
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {URL_VAR}: {e}"));
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        conn.close().await.expect("close");
        let url = url_with_database(&server, &name);
        Self { admin, name, url }
    }

    /// The database's URL, for tests that connect without the store.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The test's main store, opened as production opens it.
    pub async fn store(&self) -> PgStore {
        PgStore::connect(&self.url).await.expect("connect")
    }

    /// Another replica: a pool of its own on the same database.
    pub async fn replica(&self) -> PgStore {
        PgStore::connect_with(self.admin.clone().database(&self.name), REPLICA_CONNECTIONS)
            .await
            .expect("connect a replica")
    }

    pub async fn replicas(&self, n: usize) -> Vec<PgStore> {
        let mut replicas = Vec::with_capacity(n);
        for _ in 0..n {
            replicas.push(self.replica().await);
        }
        replicas
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop cannot await, and may run inside the test's runtime: drop from a thread of our own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let mut conn = admin.connect().await.map_err(|e| e.to_string())?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.close().await.map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test database {}", self.name),
        }
    }
}

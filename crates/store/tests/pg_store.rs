//! PgStore's guarantees, checked directly against a real PostgreSQL server: every guarantee of
//! `sqlite_store.rs` (holds and their single resolution, fencing of lost leases, rescue of
//! expired leases, the balance guard, Idempotency-Key claims, listing and deletion), the rest of
//! the `Store` surface (keys, callbacks, webhook secrets, assets), and the races that only exist
//! when several replicas share one database: each replica is a separate `PgStore` pool.
//!
//! The server comes from `SEEDGATE_TEST_DATABASE_URL`, e.g.
//! `postgres://postgres:postgres@127.0.0.1:5432/postgres` (PostgreSQL 13 or newer). Without it
//! every test fails. Each test creates its own database with a random name and drops it at the
//! end (even when it fails), so tests run in parallel. Every test ends with the ledger verifier.

use seedgate_core::ledger::verify;
use seedgate_core::media::{MediaFacts, MediaKind};
use seedgate_core::pricing::Price;
use seedgate_core::task::{FailureKind, Task, TaskError, TaskOutput, TaskStatus};
use seedgate_core::{ApiKeyId, Catalog, GenerationRequest, RequestDraft, TaskId};
use seedgate_store::{
    AssetRecord, CallbackAttempt, CallbackResolution, CallbackState, IdempotencyClaim,
    IdempotencyCompletion, PgStore, SqliteStore, Store, StoreError, StoredResponse, TaskPage,
    TaskQuery,
};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

const URL_VAR: &str = "SEEDGATE_TEST_DATABASE_URL";

/// Connections per replica pool in the concurrency tests (tests run in parallel against one
/// server, whose default limit is 100 connections).
const REPLICA_CONNECTIONS: u32 = 4;

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

/// A database of its own for one test, dropped when the test ends, passed or failed.
struct TestDb {
    admin: PgConnectOptions,
    name: String,
    url: String,
}

impl TestDb {
    async fn create() -> Self {
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

    /// The test's main store, opened as production opens it.
    async fn store(&self) -> PgStore {
        PgStore::connect(&self.url).await.expect("connect")
    }

    /// Another replica: a pool of its own on the same database.
    async fn replica(&self) -> PgStore {
        PgStore::connect_with(self.admin.clone().database(&self.name), REPLICA_CONNECTIONS)
            .await
            .expect("connect a replica")
    }

    async fn replicas(&self, n: usize) -> Vec<PgStore> {
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

fn task(key: &ApiKeyId, credits: u64) -> Task {
    task_with_callback(key, credits, None)
}

fn task_with_callback(key: &ApiKeyId, credits: u64, callback_url: Option<&str>) -> Task {
    let draft = RequestDraft {
        model: Some("seedance-2.0-mini".into()),
        prompt: Some("a cat".into()),
        callback_url: callback_url.map(str::to_string),
        ..Default::default()
    };
    let request = GenerationRequest::from_draft(draft, &Catalog::builtin()).expect("valid");
    Task {
        id: TaskId::generate(),
        api_key_id: key.clone(),
        request,
        requested_model: "seedance-2.0-mini".into(),
        origin_dialect: "reapi".into(),
        status: TaskStatus::Queued,
        price: Price {
            billable_seconds: 5,
            credits,
            micro_usd_per_second: 102_500,
        },
        attempt: 0,
        created_at_ms: seedgate_store::now_ms(),
        updated_at_ms: seedgate_store::now_ms(),
        started_at_ms: None,
        finished_at_ms: None,
        output: None,
        error: None,
        provider: None,
    }
}

/// A new API key with `credits`; `hash` stands in for the key's SHA-256.
async fn new_key(store: &PgStore, name: &str, hash: &str, credits: i64) -> ApiKeyId {
    store
        .create_api_key(name, hash, "sg_", credits)
        .await
        .expect("key")
        .id
}

async fn balance(store: &PgStore, key: &ApiKeyId) -> i64 {
    store
        .find_api_key(key.as_str())
        .await
        .expect("find")
        .expect("key")
        .balance
}

async fn assert_ledger_clean(store: &PgStore) {
    let dump = store.ledger_dump().await.expect("dump");
    let violations = verify(&dump.entries, &dump.tasks, &dump.balances);
    assert!(violations.is_empty(), "{violations:?}");
}

fn failure() -> TaskError {
    TaskError {
        kind: FailureKind::UpstreamError,
        message: "boom".into(),
    }
}

fn attempt(status: Option<u16>) -> CallbackAttempt {
    CallbackAttempt {
        attempt: 0,
        started_at_ms: seedgate_store::now_ms(),
        status,
        latency_ms: 12,
        error: status.is_none().then(|| "connection refused".to_string()),
    }
}

const HOOK: &str = "https://example.com/hook";

// ---------------------------------------------------------------------------------------------
// The guarantees of sqlite_store.rs, one for one.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn hold_then_settle_and_hold_then_release() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;

    let ok = task(&key, 300);
    store.create_task(&ok, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert_eq!(claimed.task.id, ok.id);
    assert_eq!(claimed.task.attempt, 1);
    assert!(store
        .complete_task(&ok.id, &claimed.lease_token, &TaskOutput::default())
        .await
        .expect("complete"));

    let bad = task(&key, 200);
    store.create_task(&bad, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert!(store
        .fail_task(&bad.id, &claimed.lease_token, &failure())
        .await
        .expect("fail"));
    // A second resolution is fenced out: the lease is gone.
    assert!(!store
        .fail_task(&bad.id, &claimed.lease_token, &failure())
        .await
        .expect("fail twice"));
    assert!(!store
        .complete_task(&bad.id, &claimed.lease_token, &TaskOutput::default())
        .await
        .expect("complete after fail"));

    assert_eq!(
        balance(&store, &key).await,
        700,
        "300 charged, 200 refunded"
    );
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn balance_guard_refuses_overdraft_and_creates_nothing() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 500).await;
    store
        .create_task(&task(&key, 400), None)
        .await
        .expect("first fits");
    let second = task(&key, 400);
    match store.create_task(&second, None).await {
        Err(StoreError::InsufficientCredits { available }) => assert_eq!(available, 100),
        other => panic!("expected insufficient credits, got {other:?}"),
    }
    assert!(store
        .get_task(&second.id, &key)
        .await
        .expect("get")
        .is_none());
    assert!(store.load_task(&second.id).await.expect("load").is_none());
    assert_eq!(
        store.ledger_dump().await.expect("dump").entries.len(),
        2,
        "the grant and one hold"
    );
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn expired_lease_is_rescued_and_the_stale_worker_is_fenced() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    let first = store
        .claim_task("dead-worker", Duration::from_millis(1), 3)
        .await
        .expect("claim")
        .expect("task");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = store
        .claim_task("new-worker", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("rescued");
    assert_eq!(second.task.id, t.id);
    assert_eq!(second.task.attempt, 2);
    assert!(!store
        .renew_lease(&t.id, &first.lease_token, Duration::from_secs(30))
        .await
        .expect("renew"));
    assert!(!store
        .record_provider_job(&t.id, &first.lease_token, "p", "job-stale")
        .await
        .expect("record"));
    assert!(!store
        .release_lease(&t.id, &first.lease_token)
        .await
        .expect("release"));
    assert!(!store
        .retry_task(&t.id, &first.lease_token, Duration::ZERO, &failure())
        .await
        .expect("retry"));
    assert!(!store
        .complete_task(&t.id, &first.lease_token, &TaskOutput::default())
        .await
        .expect("stale"));
    assert!(store
        .renew_lease(&t.id, &second.lease_token, Duration::from_secs(30))
        .await
        .expect("renew"));
    assert!(store
        .complete_task(&t.id, &second.lease_token, &TaskOutput::default())
        .await
        .expect("fresh"));
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn a_task_out_of_attempts_is_failed_and_refunded_by_the_rescuer() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    store
        .claim_task("w1", Duration::from_millis(1), 1)
        .await
        .expect("claim")
        .expect("task");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(store
        .claim_task("w2", Duration::from_secs(30), 1)
        .await
        .expect("claim")
        .is_none());
    let after = store
        .get_task(&t.id, &key)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(after.status, TaskStatus::Failed);
    assert_eq!(
        after.error.as_ref().map(|e| e.kind),
        Some(FailureKind::Internal)
    );
    assert_eq!(balance(&store, &key).await, 1000);
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn cancel_releases_a_queued_task_once() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let other = new_key(&store, "o", "h2", 0).await;
    let t = task(&key, 250);
    store.create_task(&t, None).await.expect("create");
    assert!(matches!(
        store.cancel_task(&t.id, &other).await,
        Err(StoreError::NotFound)
    ));
    let cancelled = store.cancel_task(&t.id, &key).await.expect("cancel");
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert!(cancelled.finished_at_ms.is_some());
    assert!(matches!(
        store.cancel_task(&t.id, &key).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(balance(&store, &key).await, 1000);
    assert!(store
        .claim_task("w", Duration::from_secs(5), 3)
        .await
        .expect("claim")
        .is_none());
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn idempotency_claims_replay_conflict_and_mismatch() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let stale = Duration::from_secs(60);
    assert_eq!(
        store
            .claim_idempotency_key(&key, "abc", "fp1", stale)
            .await
            .expect("c"),
        IdempotencyClaim::Claimed
    );
    assert_eq!(
        store
            .claim_idempotency_key(&key, "abc", "fp1", stale)
            .await
            .expect("c"),
        IdempotencyClaim::InFlight
    );
    assert_eq!(
        store
            .claim_idempotency_key(&key, "abc", "fp2", stale)
            .await
            .expect("c"),
        IdempotencyClaim::Mismatch
    );
    let response = StoredResponse {
        status: 200,
        body: b"{\"id\":1}".to_vec(),
    };
    store
        .create_task(
            &task(&key, 10),
            Some(IdempotencyCompletion {
                key: "abc".into(),
                response: response.clone(),
            }),
        )
        .await
        .expect("create");
    assert_eq!(
        store
            .claim_idempotency_key(&key, "abc", "fp1", stale)
            .await
            .expect("c"),
        IdempotencyClaim::Replay(response)
    );
    // Scoped per API key: another key may use the same string.
    let other = new_key(&store, "o", "h2", 0).await;
    assert_eq!(
        store
            .claim_idempotency_key(&other, "abc", "fp9", stale)
            .await
            .expect("c"),
        IdempotencyClaim::Claimed
    );
    // A released claim can be taken again.
    store
        .release_idempotency_key(&other, "abc")
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_idempotency_key(&other, "abc", "fp8", stale)
            .await
            .expect("c"),
        IdempotencyClaim::Claimed
    );
    // A stale in-progress claim is taken over.
    assert_eq!(
        store
            .claim_idempotency_key(&other, "abc", "fp8", Duration::ZERO)
            .await
            .expect("c"),
        IdempotencyClaim::Claimed
    );
    // A completion for a key that is not held creates nothing.
    let orphan = task(&key, 10);
    assert!(matches!(
        store
            .create_task(
                &orphan,
                Some(IdempotencyCompletion {
                    key: "never-claimed".into(),
                    response: StoredResponse {
                        status: 200,
                        body: Vec::new(),
                    },
                }),
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.load_task(&orphan.id).await.expect("load").is_none());
    assert_eq!(balance(&store, &key).await, 990);
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submits_never_overdraw() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let mut handles = Vec::new();
    for _ in 0..40 {
        let store = store.clone();
        let key = key.clone();
        handles.push(tokio::spawn(async move {
            store.create_task(&task(&key, 100), None).await.is_ok()
        }));
    }
    let mut accepted = 0;
    for h in handles {
        if h.await.expect("join") {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 10, "exactly balance / price submits fit");
    assert_eq!(balance(&store, &key).await, 0);
    assert_ledger_clean(&store).await;
}

/// SQLite folds concurrent submits into one group transaction; PostgreSQL commits each on its
/// own. The guarantee is the same: a refused submit leaves no trace and undoes nobody else's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_submit_among_concurrent_ones_leaves_the_others_whole() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let rich = new_key(&store, "rich", "h1", 10_000).await;
    let poor = new_key(&store, "poor", "h2", 50).await;
    let mut handles = Vec::new();
    for i in 0..60 {
        let store = store.clone();
        let key = if i % 2 == 0 {
            rich.clone()
        } else {
            poor.clone()
        };
        handles.push(tokio::spawn(async move {
            let t = task(&key, 100);
            let result = store.create_task(&t, None).await;
            (key, t.id, result.is_ok())
        }));
    }
    let mut created = 0;
    for h in handles {
        let (key, id, ok) = h.await.expect("join");
        assert_eq!(ok, key == rich, "only the rich key's submits fit");
        assert_eq!(
            store.get_task(&id, &key).await.expect("get").is_some(),
            ok,
            "refused submits leave no task"
        );
        created += usize::from(ok);
    }
    assert_eq!(created, 30);
    assert_eq!(balance(&store, &rich).await, 10_000 - 30 * 100);
    assert_eq!(balance(&store, &poor).await, 50);
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn listing_filters_orders_pages_and_counts() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 10_000).await;
    let other = new_key(&store, "o", "h2", 10_000).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let t = task(&key, 10);
        store.create_task(&t, None).await.expect("create");
        ids.push(t.id);
        // ULIDs made in the same millisecond are still ordered, but spread them anyway.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    store
        .create_task(&task(&other, 10), None)
        .await
        .expect("other key's task");
    store.cancel_task(&ids[1], &key).await.expect("cancel");

    let list = |query: TaskQuery| {
        let store = &store;
        let key = &key;
        async move { store.list_tasks(key, &query).await.expect("list") }
    };
    let ids_of = |page: &TaskPage| page.tasks.iter().map(|t| t.id.clone()).collect::<Vec<_>>();

    let all = list(TaskQuery::default()).await;
    assert_eq!(all.total, 5, "another key's task is not counted");
    let newest_first: Vec<TaskId> = ids.iter().rev().cloned().collect();
    assert_eq!(ids_of(&all), newest_first);

    let oldest = list(TaskQuery {
        oldest_first: true,
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&oldest), ids[..2].to_vec());
    assert!(oldest.has_more);
    let next = list(TaskQuery {
        oldest_first: true,
        limit: 2,
        after: Some(ids[1].clone()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&next), ids[2..4].to_vec());
    let newer = list(TaskQuery {
        limit: 2,
        after: Some(ids[3].clone()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&newer), vec![ids[2].clone(), ids[1].clone()]);

    let paged = list(TaskQuery {
        offset: 4,
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&paged), vec![ids[0].clone()]);
    assert!(!paged.has_more);
    assert_eq!(paged.total, 5);

    let cancelled = list(TaskQuery {
        statuses: vec![TaskStatus::Cancelled],
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&cancelled), vec![ids[1].clone()]);
    assert_eq!(cancelled.total, 1);

    let picked = list(TaskQuery {
        ids: vec![ids[0].clone(), ids[3].clone()],
        statuses: vec![TaskStatus::Queued],
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&picked), vec![ids[3].clone(), ids[0].clone()]);
    let none = list(TaskQuery {
        model: Some("seedance-2.5".into()),
        ..Default::default()
    })
    .await;
    assert_eq!((none.total, none.tasks.len()), (0, 0));
    let by_model = list(TaskQuery {
        model: Some(all.tasks[0].request.model.clone()),
        ..Default::default()
    })
    .await;
    assert_eq!(by_model.total, 5);
}

#[tokio::test]
async fn only_finished_tasks_can_be_deleted_and_then_they_are_gone() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let other = new_key(&store, "o", "h2", 0).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    assert!(matches!(
        store.delete_task(&t.id, &key).await,
        Err(StoreError::Conflict(_))
    ));
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert!(matches!(
        store.delete_task(&t.id, &key).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store
        .complete_task(&t.id, &claimed.lease_token, &TaskOutput::default())
        .await
        .expect("complete"));
    assert!(matches!(
        store.delete_task(&t.id, &other).await,
        Err(StoreError::NotFound)
    ));
    store.delete_task(&t.id, &key).await.expect("delete");
    assert!(store.get_task(&t.id, &key).await.expect("get").is_none());
    assert!(
        store.load_task(&t.id).await.expect("load").is_some(),
        "callback delivery still reads it"
    );
    assert_eq!(
        store
            .list_tasks(&key, &TaskQuery::default())
            .await
            .expect("list")
            .total,
        0
    );
    assert!(matches!(
        store.delete_task(&t.id, &key).await,
        Err(StoreError::NotFound)
    ));
    // The money stays accounted for: the settled hold is still in the ledger.
    assert_ledger_clean(&store).await;
    assert_eq!(balance(&store, &key).await, 900);
}

// ---------------------------------------------------------------------------------------------
// The rest of the Store surface.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn migrations_mirror_sqlite_step_for_step_and_rerun_cleanly() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let pg = sqlx::migrate!("./migrations/postgres");
    let lite = sqlx::migrate!("./migrations/sqlite");
    let steps = |m: &sqlx::migrate::Migrator| {
        m.iter()
            .map(|s| (s.version, s.description.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(steps(&pg), steps(&lite));
    assert_eq!(steps(&pg).len(), 4);
    let applied: Vec<(i64, String, bool)> = sqlx::query_as(
        "SELECT version, description, success FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(store.pool())
    .await
    .expect("applied");
    assert_eq!(
        applied,
        steps(&pg)
            .into_iter()
            .map(|(v, d)| (v, d, true))
            .collect::<Vec<_>>()
    );
    // Replicas starting later (or together) find the schema current.
    let again = db.replica().await;
    again.migrate().await.expect("rerun");
    assert_eq!(again.count_api_keys().await.expect("count"), 0);
    // The SQLite store is untouched by all this: it still opens with its own migrator.
    let dir = tempfile::tempdir().expect("tempdir");
    SqliteStore::open(&dir.path().join("seedgate.db"))
        .await
        .expect("sqlite opens");
}

#[tokio::test]
async fn the_store_pins_read_committed_whatever_the_database_default() {
    let db = TestDb::create().await;
    let mut conn = db.admin.connect().await.expect("admin");
    sqlx::query(&format!(
        "ALTER DATABASE \"{}\" SET default_transaction_isolation = 'serializable'",
        db.name
    ))
    .execute(&mut conn)
    .await
    .expect("alter");
    conn.close().await.expect("close");
    let store = db.store().await;
    let level: String = sqlx::query_scalar("SHOW transaction_isolation")
        .fetch_one(store.pool())
        .await
        .expect("show");
    assert_eq!(level, "read committed");
}

#[tokio::test]
async fn api_keys_grants_and_revocation() {
    let db = TestDb::create().await;
    let store = db.store().await;
    assert!(matches!(
        store.create_api_key("neg", "h0", "sg_", -1).await,
        Err(StoreError::Conflict(_))
    ));
    let a = store
        .create_api_key("alice", "ha", "sg_a", 100)
        .await
        .expect("a");
    assert_eq!(a.balance, 100);
    // Keys list in creation order, by the millisecond.
    tokio::time::sleep(Duration::from_millis(3)).await;
    let b = new_key(&store, "bob", "hb", 0).await;
    assert!(
        store.create_api_key("dup", "ha", "sg_", 0).await.is_err(),
        "key hashes are unique"
    );
    assert_eq!(store.count_api_keys().await.expect("count"), 2);
    assert_eq!(
        store
            .list_api_keys()
            .await
            .expect("list")
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        vec!["alice", "bob"]
    );
    assert_eq!(
        store
            .find_api_key_by_hash("ha")
            .await
            .expect("by hash")
            .expect("found"),
        a
    );
    assert!(store
        .find_api_key_by_hash("nope")
        .await
        .expect("by hash")
        .is_none());
    assert_eq!(
        store
            .find_api_key("bob")
            .await
            .expect("by name")
            .expect("found")
            .id,
        b
    );
    new_key(&store, "bob", "hb2", 0).await;
    assert!(matches!(
        store.find_api_key("bob").await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(
        store.grant_credits(&b, 500, "top up").await.expect("grant"),
        500
    );
    assert_eq!(
        store
            .grant_credits(&b, -200, "claw back")
            .await
            .expect("take"),
        300
    );
    assert!(matches!(
        store.grant_credits(&b, -301, "too much").await,
        Err(StoreError::InsufficientCredits { available: 300 })
    ));
    assert!(matches!(
        store
            .grant_credits(&ApiKeyId::from_string("key_missing"), 1, "x")
            .await,
        Err(StoreError::NotFound)
    ));

    store.revoke_api_key(&b).await.expect("revoke");
    let revoked_at = store
        .find_api_key(b.as_str())
        .await
        .expect("find")
        .expect("key")
        .revoked_at_ms;
    assert!(revoked_at.is_some());
    store.revoke_api_key(&b).await.expect("revoke again");
    assert_eq!(
        store
            .find_api_key(b.as_str())
            .await
            .expect("find")
            .expect("key")
            .revoked_at_ms,
        revoked_at,
        "the first revocation time stays"
    );
    assert!(matches!(
        store.create_task(&task(&b, 10), None).await,
        Err(StoreError::Revoked)
    ));
    assert!(matches!(
        store
            .create_task(&task(&ApiKeyId::from_string("key_missing"), 10), None)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .revoke_api_key(&ApiKeyId::from_string("key_missing"))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn retries_releases_and_provider_jobs_survive_a_reclaim() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    let first = store
        .claim_task("w", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .expect("task");
    assert!(first.provider_job_id.is_none());
    assert!(store
        .record_provider_job(&t.id, &first.lease_token, "ark", "job-1")
        .await
        .expect("record"));
    // Graceful shutdown: back in the queue, the interrupted attempt not counted.
    assert!(store
        .release_lease(&t.id, &first.lease_token)
        .await
        .expect("release"));
    let second = store
        .claim_task("w", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .expect("task");
    assert_eq!(second.task.attempt, 1);
    assert_eq!(second.provider_job_id.as_deref(), Some("job-1"));
    assert_eq!(second.task.provider.as_deref(), Some("ark"));
    // A retry waits out its delay, keeping the error for the record.
    assert!(store
        .retry_task(
            &t.id,
            &second.lease_token,
            Duration::from_millis(300),
            &failure()
        )
        .await
        .expect("retry"));
    let waiting = store.get_task(&t.id, &key).await.expect("get").expect("t");
    assert_eq!(waiting.status, TaskStatus::Queued);
    assert_eq!(waiting.error, Some(failure()));
    assert!(store
        .claim_task("w", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .is_none());
    tokio::time::sleep(Duration::from_millis(350)).await;
    let third = store
        .claim_task("w", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .expect("due again");
    assert_eq!(third.task.attempt, 2);
    let output = TaskOutput::default();
    assert!(store
        .complete_task(&t.id, &third.lease_token, &output)
        .await
        .expect("complete"));
    let done = store.get_task(&t.id, &key).await.expect("get").expect("t");
    assert_eq!(done.status, TaskStatus::Succeeded);
    assert_eq!(done.output, Some(output));
    assert!(done.started_at_ms.is_some() && done.finished_at_ms.is_some());
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn a_queued_task_out_of_attempts_is_failed_not_claimed() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 1)
        .await
        .expect("claim")
        .expect("task");
    assert!(store
        .retry_task(&t.id, &claimed.lease_token, Duration::ZERO, &failure())
        .await
        .expect("retry"));
    assert!(store
        .claim_task("w", Duration::from_secs(30), 1)
        .await
        .expect("claim")
        .is_none());
    let after = store.get_task(&t.id, &key).await.expect("get").expect("t");
    assert_eq!(after.status, TaskStatus::Failed);
    assert_eq!(balance(&store, &key).await, 1000);
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn callbacks_are_written_with_the_terminal_state_and_fenced_by_lease() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let other = new_key(&store, "o", "h2", 0).await;

    let silent = task(&key, 10);
    store.create_task(&silent, None).await.expect("create");
    let hooked = task_with_callback(&key, 10, Some(HOOK));
    store.create_task(&hooked, None).await.expect("create");
    let cancelled = task_with_callback(&key, 10, Some(HOOK));
    store.create_task(&cancelled, None).await.expect("create");

    // Nothing is due while the tasks run.
    assert!(store
        .claim_callbacks("d", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .is_empty());
    for _ in 0..2 {
        let c = store
            .claim_task("w", Duration::from_secs(30), 3)
            .await
            .expect("claim")
            .expect("task");
        assert!(c.task.id != cancelled.id);
        assert!(store
            .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
            .await
            .expect("complete"));
    }
    store
        .cancel_task(&cancelled.id, &key)
        .await
        .expect("cancel");
    assert!(store
        .callback_record(&silent.id, &key)
        .await
        .expect("record")
        .is_none());
    assert!(store
        .callback_record(&hooked.id, &other)
        .await
        .expect("record")
        .is_none());
    let record = store
        .callback_record(&hooked.id, &key)
        .await
        .expect("record")
        .expect("written");
    assert_eq!(record.state, CallbackState::Pending);
    assert_eq!(record.url, HOOK);
    assert_eq!(record.dialect, "reapi");
    assert!(record.next_attempt_at_ms.is_some());
    assert!(record.attempts.is_empty());
    assert!(store
        .callback_record(&cancelled.id, &key)
        .await
        .expect("record")
        .is_some());

    let jobs = store
        .claim_callbacks("d1", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 2);
    assert!(store
        .claim_callbacks("d2", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .is_empty());
    let job = jobs
        .iter()
        .find(|j| j.task_id == hooked.id)
        .expect("the hooked task's callback")
        .clone();
    assert_eq!(job.id, record.id);
    assert_eq!(job.attempts, 0);
    assert!(job.lease_token.starts_with("d1:"));

    // A failed attempt, retried at once.
    assert!(store
        .record_callback_attempt(
            &job,
            &attempt(None),
            CallbackResolution::RetryAt(seedgate_store::now_ms())
        )
        .await
        .expect("attempt"));
    assert!(
        !store
            .record_callback_attempt(&job, &attempt(Some(200)), CallbackResolution::Delivered)
            .await
            .expect("stale"),
        "the lease ended with the attempt"
    );
    let again = store
        .claim_callbacks("d2", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    let job = again
        .into_iter()
        .find(|j| j.task_id == hooked.id)
        .expect("due again");
    assert_eq!(job.attempts, 1);
    // A manual redelivery fences the attempt in flight.
    store
        .redeliver_callback(&hooked.id, &key)
        .await
        .expect("redeliver");
    assert!(!store
        .record_callback_attempt(&job, &attempt(Some(200)), CallbackResolution::Delivered)
        .await
        .expect("fenced"));
    assert!(!store.defer_callback(&job, 0).await.expect("fenced"));
    let job = store
        .claim_callbacks("d3", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .into_iter()
        .find(|j| j.task_id == hooked.id)
        .expect("due after redelivery");
    // Deferred without an attempt: not due until then.
    let later = seedgate_store::now_ms() + 60_000;
    assert!(store.defer_callback(&job, later).await.expect("defer"));
    assert!(store
        .claim_callbacks("d4", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .iter()
        .all(|j| j.task_id != hooked.id));
    assert_eq!(
        store
            .callback_record(&hooked.id, &key)
            .await
            .expect("record")
            .expect("r")
            .next_attempt_at_ms,
        Some(later)
    );
    store
        .redeliver_callback(&hooked.id, &key)
        .await
        .expect("redeliver");
    let job = store
        .claim_callbacks("d5", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .into_iter()
        .find(|j| j.task_id == hooked.id)
        .expect("due");
    assert!(store
        .record_callback_attempt(&job, &attempt(Some(204)), CallbackResolution::Delivered)
        .await
        .expect("delivered"));
    let record = store
        .callback_record(&hooked.id, &key)
        .await
        .expect("record")
        .expect("r");
    assert_eq!(record.state, CallbackState::Delivered);
    assert!(record.delivered_at_ms.is_some());
    assert_eq!(record.next_attempt_at_ms, None);
    assert_eq!(
        record
            .attempts
            .iter()
            .map(|a| (a.attempt, a.status))
            .collect::<Vec<_>>(),
        vec![(1, None), (2, Some(204))]
    );
    assert_eq!(
        record.attempts[0].error.as_deref(),
        Some("connection refused")
    );
    assert_eq!(record.attempts[1].latency_ms, 12);

    // The cancelled task's receiver is gone (its job still leased from the first claim).
    let job = jobs
        .iter()
        .find(|j| j.task_id == cancelled.id)
        .expect("the cancelled task's callback");
    assert!(store
        .record_callback_attempt(job, &attempt(Some(410)), CallbackResolution::Gone)
        .await
        .expect("gone"));
    assert_eq!(
        store
            .callback_record(&cancelled.id, &key)
            .await
            .expect("record")
            .expect("r")
            .state,
        CallbackState::Gone
    );
    assert!(matches!(
        store.redeliver_callback(&silent.id, &key).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.redeliver_callback(&hooked.id, &other).await,
        Err(StoreError::NotFound)
    ));
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn an_expired_callback_lease_is_reclaimed_and_the_old_one_fenced() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let t = task_with_callback(&key, 10, Some(HOOK));
    store.create_task(&t, None).await.expect("create");
    let c = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    assert!(store
        .fail_task(&t.id, &c.lease_token, &failure())
        .await
        .expect("fail"));
    let old = store
        .claim_callbacks("dead", Duration::from_millis(1), 1)
        .await
        .expect("claim");
    assert_eq!(old.len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let new = store
        .claim_callbacks("alive", Duration::from_secs(30), 1)
        .await
        .expect("claim");
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].id, old[0].id);
    assert!(!store
        .record_callback_attempt(&old[0], &attempt(Some(200)), CallbackResolution::Delivered)
        .await
        .expect("fenced"));
    assert!(store
        .record_callback_attempt(&new[0], &attempt(Some(500)), CallbackResolution::Exhausted)
        .await
        .expect("recorded"));
    let record = store
        .callback_record(&t.id, &key)
        .await
        .expect("record")
        .expect("r");
    assert_eq!(record.state, CallbackState::Failed);
    assert_eq!(record.attempts.len(), 1);
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn webhook_secrets_are_ensured_once_and_rotated_with_overlap() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 0).await;
    assert!(store.webhook_secrets(&key).await.expect("s").is_empty());
    assert_eq!(
        store
            .ensure_webhook_secret(&key, "whsec_a")
            .await
            .expect("ensure"),
        "whsec_a"
    );
    assert_eq!(
        store
            .ensure_webhook_secret(&key, "whsec_b")
            .await
            .expect("ensure"),
        "whsec_a",
        "an existing secret stays"
    );
    store
        .rotate_webhook_secret(&key, "whsec_c", Duration::from_secs(3600))
        .await
        .expect("rotate");
    assert_eq!(
        store.webhook_secrets(&key).await.expect("s"),
        vec!["whsec_c".to_string(), "whsec_a".to_string()],
        "newest first, the old one during its overlap"
    );
    assert_eq!(
        store
            .ensure_webhook_secret(&key, "whsec_x")
            .await
            .expect("ensure"),
        "whsec_c"
    );
    // Two rotations in one millisecond, without overlap.
    store
        .rotate_webhook_secret(&key, "whsec_d", Duration::ZERO)
        .await
        .expect("rotate");
    store
        .rotate_webhook_secret(&key, "whsec_e", Duration::ZERO)
        .await
        .expect("rotate");
    assert_eq!(
        store.webhook_secrets(&key).await.expect("s")[0],
        "whsec_e".to_string()
    );
    assert!(!store
        .webhook_secrets(&key)
        .await
        .expect("s")
        .contains(&"whsec_d".to_string()));
}

#[tokio::test]
async fn assets_respect_the_per_key_quota() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 0).await;
    let other = new_key(&store, "o", "h2", 0).await;
    let a = asset(&key, 600);
    store.create_asset(&a, 1000).await.expect("fits");
    match store.create_asset(&asset(&key, 500), 1000).await {
        Err(StoreError::QuotaExceeded { used, quota }) => assert_eq!((used, quota), (600, 1000)),
        other => panic!("expected quota exceeded, got {other:?}"),
    }
    store
        .create_asset(&asset(&key, 400), 1000)
        .await
        .expect("exactly fills the quota");
    store
        .create_asset(&asset(&other, 1000), 1000)
        .await
        .expect("quotas are per key");
    assert_eq!(
        store.get_asset(&a.id, &key).await.expect("get"),
        Some(a.clone())
    );
    assert!(store.get_asset(&a.id, &other).await.expect("get").is_none());
    assert!(store.get_asset("nope", &key).await.expect("get").is_none());
}

fn asset(key: &ApiKeyId, size_bytes: u64) -> AssetRecord {
    let id = format!(
        "asset_{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    AssetRecord {
        object_key: format!("assets/{id}.png"),
        id,
        api_key_id: key.clone(),
        content_type: "image/png".into(),
        facts: MediaFacts {
            kind: MediaKind::Image,
            format: "png".into(),
            size_bytes,
            width: Some(640),
            height: Some(480),
            duration_seconds: None,
            fps: None,
            codec: None,
        },
        created_at_ms: seedgate_store::now_ms(),
    }
}

#[tokio::test]
async fn old_idempotency_records_are_pruned() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let key = new_key(&store, "k", "h1", 0).await;
    let stale = Duration::from_secs(60);
    for k in ["a", "b", "c"] {
        store
            .claim_idempotency_key(&key, k, "fp", stale)
            .await
            .expect("claim");
    }
    assert_eq!(
        store
            .prune_idempotency_keys(Duration::from_secs(3600))
            .await
            .expect("prune"),
        0
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        store
            .prune_idempotency_keys(Duration::ZERO)
            .await
            .expect("prune"),
        3
    );
    assert_eq!(
        store
            .claim_idempotency_key(&key, "a", "other", stale)
            .await
            .expect("claim"),
        IdempotencyClaim::Claimed,
        "a pruned key is free again"
    );
}

// ---------------------------------------------------------------------------------------------
// Races between replicas: each replica is a pool of its own on the shared database.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_racing_for_the_last_credits_accept_exactly_what_the_balance_allows() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 1050).await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(48));
    let mut handles = Vec::new();
    for i in 0..48 {
        let replica = replicas[i % replicas.len()].clone();
        let key = key.clone();
        let start = start.clone();
        handles.push(tokio::spawn(async move {
            let t = task(&key, 100);
            start.wait().await;
            (t.id.clone(), replica.create_task(&t, None).await)
        }));
    }
    let mut accepted = Vec::new();
    for h in handles {
        let (id, result) = h.await.expect("join");
        match result {
            Ok(()) => accepted.push(id),
            Err(StoreError::InsufficientCredits { available }) => {
                assert!(
                    (0..100).contains(&available),
                    "refused with {available} left"
                )
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(accepted.len(), 10, "exactly balance / price submits fit");
    assert_eq!(balance(&store, &key).await, 50);
    let listed = store
        .list_tasks(
            &key,
            &TaskQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(listed.total, 10, "refused submits left no task");
    // The verifier also replays each key's entries in ledger order: never below zero.
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claimers_on_separate_replicas_never_share_a_task() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 100_000).await;
    let mut created = HashSet::new();
    for _ in 0..60 {
        let t = task(&key, 10);
        store.create_task(&t, None).await.expect("create");
        created.insert(t.id);
    }
    let mut handles = Vec::new();
    for (r, replica) in replicas.iter().enumerate() {
        for w in 0..3 {
            let replica = replica.clone();
            handles.push(tokio::spawn(async move {
                let worker = format!("r{r}w{w}");
                let mut claimed = Vec::new();
                while let Some(c) = replica
                    .claim_task(&worker, Duration::from_secs(60), 3)
                    .await
                    .expect("claim")
                {
                    assert!(replica
                        .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
                        .await
                        .expect("complete"));
                    claimed.push((c.task.id, c.task.attempt));
                }
                claimed
            }));
        }
    }
    let mut seen: HashMap<TaskId, u32> = HashMap::new();
    for h in handles {
        for (id, attempt) in h.await.expect("join") {
            assert_eq!(attempt, 1);
            *seen.entry(id).or_default() += 1;
        }
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "a task was claimed twice: {:?}",
        seen.iter().filter(|(_, &n)| n > 1).collect::<Vec<_>>()
    );
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), created);
    assert_eq!(balance(&store, &key).await, 100_000 - 60 * 10);
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rescues_under_contention_hand_each_attempt_to_one_worker() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(3).await;
    let key = new_key(&store, "k", "h1", 10_000).await;
    let mut created = HashSet::new();
    for _ in 0..12 {
        let t = task(&key, 100);
        store.create_task(&t, None).await.expect("create");
        created.insert(t.id);
    }
    // Workers that die at once: every lease expires, every task is rescued until it runs out
    // of attempts, and then failed and refunded by whoever finds it.
    let mut handles = Vec::new();
    for (r, replica) in replicas.iter().enumerate() {
        for w in 0..2 {
            let replica = replica.clone();
            let key = key.clone();
            handles.push(tokio::spawn(async move {
                let worker = format!("r{r}w{w}");
                let mut claimed = Vec::new();
                loop {
                    match replica
                        .claim_task(&worker, Duration::from_millis(30), 3)
                        .await
                        .expect("claim")
                    {
                        Some(c) => claimed.push((c.task.id, c.task.attempt, c.lease_token)),
                        None => {
                            let live = replica
                                .list_tasks(
                                    &key,
                                    &TaskQuery {
                                        statuses: vec![TaskStatus::Queued, TaskStatus::Running],
                                        ..Default::default()
                                    },
                                )
                                .await
                                .expect("list")
                                .total;
                            if live == 0 {
                                return claimed;
                            }
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
            }));
        }
    }
    let mut attempts: HashMap<TaskId, Vec<u32>> = HashMap::new();
    let mut tokens = HashSet::new();
    let mut stale = Vec::new();
    for h in handles {
        for (id, attempt, token) in h.await.expect("join") {
            assert!(
                tokens.insert(token.clone()),
                "a lease token was issued twice"
            );
            attempts.entry(id.clone()).or_default().push(attempt);
            stale.push((id, token));
        }
    }
    assert_eq!(attempts.keys().cloned().collect::<HashSet<_>>(), created);
    for (id, mut list) in attempts {
        list.sort_unstable();
        assert_eq!(
            list,
            vec![1, 2, 3],
            "task {id}: each attempt claimed exactly once"
        );
    }
    // Every dead worker's later write is fenced.
    for (id, token) in stale {
        assert!(!store
            .complete_task(&id, &token, &TaskOutput::default())
            .await
            .expect("complete"));
    }
    for id in &created {
        let t = store.get_task(id, &key).await.expect("get").expect("t");
        assert_eq!(t.status, TaskStatus::Failed);
    }
    assert_eq!(
        balance(&store, &key).await,
        10_000,
        "every abandoned task refunded"
    );
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancels_racing_claims_resolve_each_task_once() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(2).await;
    let key = new_key(&store, "k", "h1", 10_000).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        let t = task(&key, 100);
        store.create_task(&t, None).await.expect("create");
        ids.push(t.id);
    }
    let canceller = {
        let replica = replicas[0].clone();
        let key = key.clone();
        let ids = ids.clone();
        tokio::spawn(async move {
            let mut cancelled = HashSet::new();
            for id in ids {
                match replica.cancel_task(&id, &key).await {
                    Ok(t) => {
                        assert_eq!(t.status, TaskStatus::Cancelled);
                        cancelled.insert(id);
                    }
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
            cancelled
        })
    };
    let claimer = {
        let replica = replicas[1].clone();
        tokio::spawn(async move {
            let mut claimed = HashSet::new();
            while let Some(c) = replica
                .claim_task("w", Duration::from_secs(60), 3)
                .await
                .expect("claim")
            {
                assert!(replica
                    .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
                    .await
                    .expect("complete"));
                claimed.insert(c.task.id);
            }
            claimed
        })
    };
    let cancelled = canceller.await.expect("join");
    let claimed = claimer.await.expect("join");
    assert!(cancelled.is_disjoint(&claimed));
    assert_eq!(cancelled.len() + claimed.len(), ids.len());
    assert_eq!(
        balance(&store, &key).await,
        10_000 - 100 * i64::try_from(claimed.len()).expect("small")
    );
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callback_claims_never_hand_out_a_callback_twice() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 10_000).await;
    let mut tasks = HashSet::new();
    for _ in 0..40 {
        let t = task_with_callback(&key, 10, Some(HOOK));
        store.create_task(&t, None).await.expect("create");
        let c = store
            .claim_task("w", Duration::from_secs(60), 3)
            .await
            .expect("claim")
            .expect("task");
        assert!(store
            .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
            .await
            .expect("complete"));
        tasks.insert(t.id);
    }
    let mut handles = Vec::new();
    for (r, replica) in replicas.iter().enumerate() {
        for d in 0..2 {
            let replica = replica.clone();
            handles.push(tokio::spawn(async move {
                let owner = format!("r{r}d{d}");
                let mut jobs = Vec::new();
                loop {
                    let batch = replica
                        .claim_callbacks(&owner, Duration::from_secs(60), 3)
                        .await
                        .expect("claim");
                    if batch.is_empty() {
                        return jobs;
                    }
                    jobs.extend(batch);
                }
            }));
        }
    }
    let mut jobs = Vec::new();
    for h in handles {
        jobs.extend(h.await.expect("join"));
    }
    let ids: HashSet<_> = jobs.iter().map(|j| j.id.clone()).collect();
    assert_eq!(ids.len(), jobs.len(), "a callback was handed out twice");
    assert_eq!(
        jobs.iter()
            .map(|j| j.task_id.clone())
            .collect::<HashSet<_>>(),
        tasks
    );
    // Two replicas racing to record the same job: one wins, the other is fenced.
    let mut races = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let a = replicas[i % 4].clone();
        let b = replicas[(i + 1) % 4].clone();
        races.push(tokio::spawn(async move {
            let ok = attempt(Some(200));
            let (x, y) = tokio::join!(
                a.record_callback_attempt(&job, &ok, CallbackResolution::Delivered),
                b.record_callback_attempt(&job, &ok, CallbackResolution::Delivered),
            );
            u8::from(x.expect("record")) + u8::from(y.expect("record"))
        }));
    }
    for race in races {
        assert_eq!(race.await.expect("join"), 1, "exactly one record per lease");
    }
    for id in &tasks {
        let record = store
            .callback_record(id, &key)
            .await
            .expect("record")
            .expect("r");
        assert_eq!(record.state, CallbackState::Delivered);
        assert_eq!(record.attempts.len(), 1);
    }
    assert!(store
        .claim_callbacks("late", Duration::from_secs(60), 100)
        .await
        .expect("claim")
        .is_empty());
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_idempotency_claims_and_completions_have_one_winner() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let stale = Duration::from_millis(500);

    let race = |idem: &'static str, stale: Duration| {
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let replica = replicas[i % replicas.len()].clone();
                let key = key.clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    replica
                        .claim_idempotency_key(&key, idem, "fp", stale)
                        .await
                        .expect("claim")
                })
            })
            .collect();
        async move {
            let mut claims = Vec::new();
            for h in handles {
                claims.push(h.await.expect("join"));
            }
            claims
        }
    };
    // A first claim.
    let claims = race("first", stale).await;
    assert_eq!(
        claims
            .iter()
            .filter(|c| **c == IdempotencyClaim::Claimed)
            .count(),
        1,
        "{claims:?}"
    );
    assert!(claims
        .iter()
        .all(|c| matches!(c, IdempotencyClaim::Claimed | IdempotencyClaim::InFlight)));
    // A stale takeover.
    tokio::time::sleep(stale + Duration::from_millis(100)).await;
    let claims = race("first", stale).await;
    assert_eq!(
        claims
            .iter()
            .filter(|c| **c == IdempotencyClaim::Claimed)
            .count(),
        1,
        "{claims:?}"
    );

    // Two requests believing they hold the key complete it at once: one task is created.
    let completion = IdempotencyCompletion {
        key: "first".into(),
        response: StoredResponse {
            status: 202,
            body: b"{}".to_vec(),
        },
    };
    let (t1, t2) = (task(&key, 100), task(&key, 100));
    let (a, b) = tokio::join!(
        replicas[0].create_task(&t1, Some(completion.clone())),
        replicas[1].create_task(&t2, Some(completion.clone())),
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
    assert!(matches!(a.err().or(b.err()), Some(StoreError::Conflict(_))));
    assert_eq!(balance(&store, &key).await, 900);
    assert_eq!(
        store
            .list_tasks(&key, &TaskQuery::default())
            .await
            .expect("list")
            .total,
        1
    );
    assert_eq!(
        store
            .claim_idempotency_key(&key, "first", "fp", stale)
            .await
            .expect("claim"),
        IdempotencyClaim::Replay(completion.response)
    );
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_and_secrets_keep_their_per_key_invariants() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 0).await;

    let mut uploads = Vec::new();
    for i in 0..20 {
        let replica = replicas[i % replicas.len()].clone();
        let key = key.clone();
        uploads.push(tokio::spawn(async move {
            match replica.create_asset(&asset(&key, 100), 1000).await {
                Ok(()) => true,
                Err(StoreError::QuotaExceeded { .. }) => false,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }));
    }
    let mut stored = 0;
    for h in uploads {
        stored += usize::from(h.await.expect("join"));
    }
    assert_eq!(stored, 10, "exactly the quota's worth of uploads fit");

    let mut ensures = Vec::new();
    for i in 0..8 {
        let replica = replicas[i % replicas.len()].clone();
        let key = key.clone();
        ensures.push(tokio::spawn(async move {
            replica
                .ensure_webhook_secret(&key, &format!("whsec_{i}"))
                .await
                .expect("ensure")
        }));
    }
    let mut secrets = HashSet::new();
    for h in ensures {
        secrets.insert(h.await.expect("join"));
    }
    assert_eq!(secrets.len(), 1, "one secret for everyone: {secrets:?}");
    assert_eq!(store.webhook_secrets(&key).await.expect("s").len(), 1);

    let mut rotations = Vec::new();
    for i in 0..6 {
        let replica = replicas[i % replicas.len()].clone();
        let key = key.clone();
        rotations.push(tokio::spawn(async move {
            replica
                .rotate_webhook_secret(&key, &format!("whsec_rot{i}"), Duration::ZERO)
                .await
                .expect("rotate")
        }));
    }
    for h in rotations {
        h.await.expect("join");
    }
    let current = store.webhook_secrets(&key).await.expect("s");
    assert_eq!(
        current.len(),
        1,
        "one current secret after racing rotations"
    );
    assert!(current[0].starts_with("whsec_rot"));
}

//! The shared store: PostgreSQL, for several gateway replicas over one database. It behaves
//! exactly as [`SqliteStore`](crate::SqliteStore) does (same schema, step for step, in
//! `migrations/postgres`; same states, fences and ledger rules), but where SQLite serialises
//! every writer with `BEGIN IMMEDIATE`, here transactions from many replicas run at once.
//!
//! # Concurrency
//!
//! Transactions run at `READ COMMITTED` (pinned on every connection, whatever the server's
//! default), and every read-modify-write is made safe by row locks rather than by
//! `SERIALIZABLE` with retries: each race below has one natural row to lock, so nothing ever
//! has to be retried, and a loser gets the same answer SQLite would give it after waiting for
//! the writer lock.
//!
//! - **Conditional updates, judged by their row count.** `UPDATE … WHERE <guard>` locks the row,
//!   and under `READ COMMITTED` a statement that waited for a concurrent writer re-evaluates its
//!   `WHERE` against the committed row before it applies. So the balance guard
//!   (`balance >= price`), every lease fence (`lease_token = $n AND status = 'running'`) and the
//!   state machine's guards (`status = 'queued'`) hold however many replicas race: one wins, the
//!   others update nothing and report it, exactly as in SQLite.
//! - **`SELECT … FOR UPDATE`** where a decision needs a read first: an Idempotency-Key record
//!   (claim, replay, in-flight, stale takeover) and a task being deleted.
//! - **`FOR UPDATE SKIP LOCKED`** for the two queues, tasks and callbacks: a claimer locks the
//!   rows it picks and others pass over them instead of waiting; a row another claimer changed
//!   meanwhile is re-checked against the claim's filter, so no row is handed out twice.
//! - **Transaction-scoped advisory locks** per API key for the two invariants that span rows
//!   which may not exist yet: at most one current webhook secret (also backed by a partial
//!   unique index) and the per-key asset quota (a sum over rows).
//! - **Unique indexes as the last word on money**: one hold per task and one resolution per hold
//!   (partial unique indexes), and `CHECK (balance >= 0)`. A second resolution is a
//!   [`StoreError::Conflict`], as in SQLite.
//!
//! Locks are always taken in the same order (a task row, then its key's balance row), so the
//! store's own transactions cannot deadlock one another. A balance changes only under its row
//! lock and each balance-moving ledger entry is appended while that lock is held, so a key's
//! entries replay in ledger order to its cached balance without ever going negative.
//!
//! Every `create_task` is one plain transaction: the balance guard and hold, the task row and
//! the Idempotency-Key completion commit together or not at all (no group commit: PostgreSQL
//! commits concurrently on its own).

use crate::*;
use shared::KeyLock;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};
use std::str::FromStr;
use std::sync::Arc;

// Compiled once per backend on purpose: the same queries, each against its own `Db`.
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

type Db = sqlx::Postgres;
type This = PgStore;
type Tx = sqlx::Transaction<'static, Db>;

/// What a `SELECT` that decides a write locks: the rows it read, until the transaction ends.
const ROW_LOCK: &str = " FOR UPDATE";
/// What a queue's claim locks: the rows it picks, passing over rows another claimer holds.
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// Usage reports: JSON fields with `->>`, UTC days and months with `to_char`.
const USAGE_SQL: crate::usage::UsageSql = crate::usage::UsageSql {
    resolution: "(CAST(t.request_json AS json) ->> 'resolution')",
    mode: "(CAST(t.request_json AS json) ->> 'mode')",
    day: "to_char(to_timestamp(e.created_at_ms / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    month: "to_char(to_timestamp(e.created_at_ms / 1000) AT TIME ZONE 'UTC', 'YYYY-MM')",
    rollup_day: "to_char(to_timestamp(r.day * 86400) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    rollup_month: "to_char(to_timestamp(r.day * 86400) AT TIME ZONE 'UTC', 'YYYY-MM')",
};

/// The database's size on disk.
const DATABASE_BYTES: &str = "SELECT CAST(pg_database_size(current_database()) AS BIGINT)";

/// A connection pool over one PostgreSQL database, which other replicas may share.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Every replica's commits, heard through `LISTEN` (see [`crate::changes`]).
    feed: crate::changes::ChangeFeed,
    /// Stops the listener when the last clone of this store is dropped.
    _listening: Arc<ListenerGuard>,
}

impl crate::changes::ChangeSource for PgStore {
    fn changes(&self) -> &crate::changes::ChangeFeed {
        &self.feed
    }
}

/// The channel migration 0015's triggers notify on.
const CHANGES_CHANNEL: &str = "seedgate_changes";

/// Dropped with the last clone of a [`PgStore`]: its listener then lets go of its connection.
struct ListenerGuard {
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Hears every replica's commits on one dedicated connection and publishes them to `feed`.
/// While the connection is down the feed is not live; once it is back, `Resync` tells
/// subscribers that changes made meanwhile went unheard.
async fn listen_for_changes(
    pool: PgPool,
    feed: crate::changes::ChangeFeed,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    use crate::changes::{Change, ChangeFeed};
    let mut backoff = Duration::from_millis(100);
    loop {
        let connected = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(CHANGES_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            _ = &mut stop => return,
            connected = connected => match connected {
                Ok(listener) => listener,
                Err(e) if pool.is_closed() => {
                    tracing::debug!(error = %e, "the pool closed: no more changes to hear");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for other replicas' changes failed; retrying");
                    feed.set_live(false);
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            },
        };
        backoff = Duration::from_millis(100);
        // Listening again: whatever was committed while nobody listened is unknown.
        feed.set_live(true);
        feed.publish([Change::Resync]);
        // Without eager reconnection a lost connection returns at once, and the next pass
        // builds a fresh listener (and resyncs) only once it is really listening again.
        listener.eager_reconnect(false);
        loop {
            let received = tokio::select! {
                _ = &mut stop => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => {
                    if let Some(change) = ChangeFeed::parse_notification(notification.payload()) {
                        feed.publish([change]);
                    }
                }
                Ok(None) => {
                    tracing::warn!("lost the connection that hears other replicas' changes");
                    break;
                }
                Err(e) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %e, "hearing other replicas' changes failed");
                    break;
                }
            }
        }
        feed.set_live(false);
        feed.publish([Change::Resync]);
    }
}

/// Connections per pool, per replica, unless told otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// Advisory lock classes (the first half of `pg_advisory_xact_lock(int, int)`; the second is a
/// hash of the API key id). A hash collision only serialises two keys for a moment.
const LOCK_WEBHOOK_SECRETS: i32 = 0x5347_0001;
const LOCK_ASSET_QUOTA: i32 = 0x5347_0002;
const LOCK_ALERT_CROSSING: i32 = 0x5347_0003;

/// How many times a migration run is tried when it loses a lock (see [`PgStore::migrate`]).
const MIGRATE_TRIES: u64 = 5;

/// Whether `error` is PostgreSQL aborting a transaction for a lock: a deadlock (`40P01`) or a
/// lock it could not have (`55P03`), anywhere in the error's chain.
fn lost_to_another_lock(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(sqlx::Error::Database(db)) = e.downcast_ref::<sqlx::Error>() {
            if matches!(db.code().as_deref(), Some("40P01" | "55P03")) {
                return true;
            }
        }
        next = e.source();
    }
    false
}

impl PgStore {
    /// Connects to `database_url` (`postgres://user:password@host:port/database`) and brings the
    /// schema up to date.
    pub async fn connect(database_url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(database_url)?;
        Self::connect_with(options, DEFAULT_MAX_CONNECTIONS).await
    }

    /// Connects with explicit options and pool size, and brings the schema up to date.
    pub async fn connect_with(
        options: PgConnectOptions,
        max_connections: u32,
    ) -> StoreResult<Self> {
        // The locking scheme above is designed for READ COMMITTED: pin it, whatever the
        // server's or the role's default (under SERIALIZABLE the same statements could fail
        // with serialization errors instead of waiting).
        let pool = PgPoolOptions::new()
            // The change listener keeps one connection for itself: one more than asked for.
            .max_connections(max_connections.max(1).saturating_add(1))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let feed = crate::changes::ChangeFeed::new(false);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let store = Self {
            pool,
            feed,
            _listening: Arc::new(ListenerGuard { _stop: stop }),
        };
        store.migrate().await?;
        tokio::spawn(listen_for_changes(
            store.pool.clone(),
            store.feed.clone(),
            stopped,
        ));
        Ok(store)
    }

    /// Applies the PostgreSQL migrations. Replicas starting together are serialised by the
    /// migrator's own advisory lock.
    /// Applies the pending migrations, forward only, each in its own transaction. sqlx's
    /// migrator holds a PostgreSQL advisory lock (keyed by the database's name) for the whole
    /// run, so replicas starting together migrate once: the others wait, then find nothing
    /// pending (`tests/upgrades` starts three at once).
    ///
    /// A migration that locks two tables can deadlock with a transaction of a replica still
    /// serving (of an earlier release, during a rolling upgrade) that locks them in the other
    /// order; PostgreSQL then aborts one of the two. Aborted, the migration is undone whole (its
    /// own transaction), and the run is tried again a few times before the start fails.
    pub async fn migrate(&self) -> StoreResult<()> {
        let migrator = sqlx::migrate!("./migrations/postgres");
        let mut tries = 1u64;
        loop {
            match migrator.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(e) if tries < MIGRATE_TRIES && lost_to_another_lock(&e) => {
                    tracing::warn!(error = %e, tries, "a migration lost a lock to a running replica's transaction; trying again");
                    tokio::time::sleep(Duration::from_millis(250 * tries)).await;
                    tries += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn write_tx(&self) -> StoreResult<Tx> {
        Ok(self.pool.begin().await?)
    }

    /// One write statement: on its own, as PostgreSQL commits concurrently by itself.
    async fn write_one<'q>(
        &self,
        query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
    ) -> StoreResult<sqlx::postgres::PgQueryResult> {
        Ok(query.execute(&self.pool).await?)
    }

    /// A read-only snapshot: several reads that must agree with each other (a page and its
    /// total, the ledger audit) while other replicas keep writing.
    async fn read_tx(&self) -> StoreResult<Tx> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?)
    }
}

/// Serialises, until `tx` ends, every transaction taking the same `class` of lock on `key`.
async fn lock_key(tx: &mut Tx, lock: KeyLock, key: &str) -> StoreResult<()> {
    let class = match lock {
        KeyLock::WebhookSecrets => LOCK_WEBHOOK_SECRETS,
        KeyLock::AssetQuota => LOCK_ASSET_QUOTA,
        KeyLock::AlertCrossing => LOCK_ALERT_CROSSING,
    };
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(class)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

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
use seedgate_core::ledger::EntryKind;
use seedgate_core::pricing::Price;
use seedgate_core::task::{FailureKind, HoldResolution, TaskStatus};
use seedgate_core::webhook::{wants_status_callbacks, CallbackEvent};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Executor, PgPool, Postgres, Row, Transaction};
use std::str::FromStr;

/// A connection pool over one PostgreSQL database, which other replicas may share.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

/// Connections per pool, per replica, unless told otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

const TASK_COLUMNS: &str =
    "id, api_key_id, model, requested_model, origin_dialect, request_json, status, \
     price_credits, billable_seconds, micro_usd_per_second, attempt, provider, provider_job_id, \
     output_json, error_kind, error_message, created_at_ms, updated_at_ms, started_at_ms, \
     finished_at_ms, lease_token, submit_key";

const KEY_COLUMNS: &str = "id, name, key_prefix, balance, created_at_ms, revoked_at_ms";

/// Advisory lock classes (the first half of `pg_advisory_xact_lock(int, int)`; the second is a
/// hash of the API key id). A hash collision only serialises two keys for a moment.
const LOCK_WEBHOOK_SECRETS: i32 = 0x5347_0001;
const LOCK_ASSET_QUOTA: i32 = 0x5347_0002;

type Tx = Transaction<'static, Postgres>;

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
            .max_connections(max_connections.max(1))
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
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the PostgreSQL migrations. Replicas starting together are serialised by the
    /// migrator's own advisory lock.
    pub async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
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

    /// Ends a running task held under `lease_token`, resolving its hold, in one transaction.
    async fn finish_fenced(
        &self,
        id: &TaskId,
        lease_token: &str,
        status: TaskStatus,
        output: Option<&TaskOutput>,
        error: Option<&TaskError>,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = finish(
            &mut tx,
            id.as_str(),
            Some(lease_token),
            status,
            output,
            error,
            now_ms(),
        )
        .await?;
        tx.commit().await?;
        Ok(done)
    }
}

/// Serialises, until `tx` ends, every transaction taking the same `class` of lock on `key`.
async fn advisory_lock(tx: &mut Tx, class: i32, key: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(class)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn key_from_row(row: &PgRow) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_string(row.try_get::<String, _>("id")?),
        name: row.try_get("name")?,
        key_prefix: row.try_get("key_prefix")?,
        balance: row.try_get("balance")?,
        created_at_ms: row.try_get("created_at_ms")?,
        revoked_at_ms: row.try_get("revoked_at_ms")?,
    })
}

fn task_from_row(row: &PgRow) -> StoreResult<Task> {
    let id: String = row.try_get("id")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("task {id}: {what}"));
    let request_json: String = row.try_get("request_json")?;
    let request =
        serde_json::from_str(&request_json).map_err(|e| corrupt(&format!("request: {e}")))?;
    let status: String = row.try_get("status")?;
    let status = TaskStatus::parse(&status).ok_or_else(|| corrupt("status"))?;
    let output = row
        .try_get::<Option<String>, _>("output_json")?
        .map(|o| serde_json::from_str::<TaskOutput>(&o))
        .transpose()
        .map_err(|e| corrupt(&format!("output: {e}")))?;
    let error = match row.try_get::<Option<String>, _>("error_kind")? {
        Some(kind) => Some(TaskError {
            kind: FailureKind::parse(&kind).ok_or_else(|| corrupt("error kind"))?,
            message: row
                .try_get::<Option<String>, _>("error_message")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let price_credits: i64 = row.try_get("price_credits")?;
    let billable: i64 = row.try_get("billable_seconds")?;
    let micro: i64 = row.try_get("micro_usd_per_second")?;
    let attempt: i64 = row.try_get("attempt")?;
    Ok(Task {
        id: TaskId::from_string(id.clone()),
        api_key_id: ApiKeyId::from_string(row.try_get::<String, _>("api_key_id")?),
        request,
        requested_model: row.try_get("requested_model")?,
        origin_dialect: row.try_get("origin_dialect")?,
        status,
        price: Price {
            billable_seconds: u32::try_from(billable).map_err(|_| corrupt("billable seconds"))?,
            credits: u64::try_from(price_credits).map_err(|_| corrupt("price"))?,
            micro_usd_per_second: u64::try_from(micro).map_err(|_| corrupt("unit price"))?,
        },
        attempt: u32::try_from(attempt).map_err(|_| corrupt("attempt"))?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        started_at_ms: row.try_get("started_at_ms")?,
        finished_at_ms: row.try_get("finished_at_ms")?,
        output,
        error,
        provider: row.try_get("provider")?,
    })
}

fn to_i64(v: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range")))
}

/// Resolves a task's hold inside `tx`. The unique index on resolutions makes a second
/// resolution fail, so a race can never refund (or settle) twice.
async fn resolve_hold(
    tx: &mut Tx,
    task_id: &str,
    resolution: HoldResolution,
    now: i64,
) -> StoreResult<()> {
    let row = sqlx::query(
        "SELECT api_key_id, amount FROM ledger_entries WHERE task_id = $1 AND kind = 'hold'",
    )
    .bind(task_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::Corrupt(format!("task {task_id} has no hold")))?;
    let key: String = row.try_get("api_key_id")?;
    let held: i64 = -row.try_get::<i64, _>("amount")?;
    let kind = EntryKind::from(resolution);
    // A settle charges the whole hold (prices are exact up front); a release returns all of it.
    let amount = match resolution {
        HoldResolution::Settle => 0,
        HoldResolution::Release => held,
    };
    // The balance row is locked before the entry is appended, so that the key's entries are
    // numbered in the order its balance moved.
    if amount != 0 {
        sqlx::query("UPDATE api_keys SET balance = balance + $1 WHERE id = $2")
            .bind(amount)
            .bind(&key)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO ledger_entries (api_key_id, task_id, kind, amount, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key)
    .bind(task_id)
    .bind(kind.as_str())
    .bind(amount)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("task {task_id} hold already resolved"))
        }
        _ => StoreError::Database(e),
    })?;
    Ok(())
}

/// Moves a task to a terminal state and resolves its hold in one statement pair. `fence` is the
/// lease token the caller must still hold (None: only a queued task may move, as in cancel).
async fn finish(
    tx: &mut Tx,
    id: &str,
    fence: Option<&str>,
    status: TaskStatus,
    output: Option<&TaskOutput>,
    error: Option<&TaskError>,
    now: i64,
) -> StoreResult<bool> {
    let output_json = output
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let from = if fence.is_some() { "running" } else { "queued" };
    // The guarded update locks the row; a racing transition re-reads it and updates nothing.
    let result = sqlx::query(
        "UPDATE tasks SET status = $1, output_json = COALESCE($2, output_json), error_kind = $3, \
         error_message = $4, finished_at_ms = $5, updated_at_ms = $5, lease_token = NULL, \
         lease_owner = NULL, lease_expires_at_ms = NULL \
         WHERE id = $6 AND status = $7 AND ($8::TEXT IS NULL OR lease_token = $8)",
    )
    .bind(status.as_str())
    .bind(output_json)
    .bind(error.map(|e| e.kind.as_str()))
    .bind(error.map(|e| e.message.as_str()))
    .bind(now)
    .bind(id)
    .bind(from)
    .bind(fence)
    .execute(&mut **tx)
    .await?;
    if result.rows_affected() != 1 {
        return Ok(false);
    }
    if let Some(resolution) = status.hold_resolution() {
        resolve_hold(tx, id, resolution, now).await?;
    }
    if status.is_terminal() {
        // The outbox: the callback is written with the state it reports, or not at all.
        queue_callback(tx, id, CallbackEvent::Final, now).await?;
        // Status callbacks still waiting would reach the receiver after the result: dropped.
        sqlx::query(
            "UPDATE callbacks SET state = 'superseded', lease_token = NULL, lease_expires_at_ms = NULL \
             WHERE task_id = $1 AND event <> 'final' AND state = 'pending'",
        )
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(true)
}

/// Writes a task's callback for `event` to the outbox (once: a second write of the same event
/// does nothing), when the task has a callback URL.
async fn queue_callback(
    tx: &mut Tx,
    task_id: &str,
    event: CallbackEvent,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO callbacks (id, task_id, event, api_key_id, url, dialect, state, attempts, \
         next_attempt_at_ms, created_at_ms) \
         SELECT $1, id, $2, api_key_id, callback_url, origin_dialect, 'pending', 0, $3, $3 \
         FROM tasks WHERE id = $4 AND callback_url IS NOT NULL \
         ON CONFLICT (task_id, event) DO NOTHING",
    )
    .bind(event.callback_id(task_id))
    .bind(event.as_str())
    .bind(now)
    .bind(task_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts a queued task, takes its hold from the balance and completes its Idempotency-Key,
/// inside `tx`.
async fn insert_task(
    tx: &mut Tx,
    task: &Task,
    idempotency: Option<IdempotencyCompletion>,
) -> StoreResult<()> {
    let price = to_i64(task.price.credits, "price")?;
    let request_json =
        serde_json::to_string(&task.request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // The guard: the balance must cover the hold, checked and taken in one statement. Racing
    // submits queue on the key's row and each re-checks the guard against the balance the
    // previous one left.
    let r = sqlx::query(
        "UPDATE api_keys SET balance = balance - $1 \
         WHERE id = $2 AND balance >= $1 AND revoked_at_ms IS NULL",
    )
    .bind(price)
    .bind(task.api_key_id.as_str())
    .execute(&mut **tx)
    .await?;
    if r.rows_affected() != 1 {
        let row = sqlx::query("SELECT balance, revoked_at_ms FROM api_keys WHERE id = $1")
            .bind(task.api_key_id.as_str())
            .fetch_optional(&mut **tx)
            .await?;
        return Err(match row {
            None => StoreError::NotFound,
            Some(row) if row.try_get::<Option<i64>, _>("revoked_at_ms")?.is_some() => {
                StoreError::Revoked
            }
            Some(row) => StoreError::InsufficientCredits {
                available: row.try_get("balance")?,
            },
        });
    }
    sqlx::query(
        "INSERT INTO tasks (id, api_key_id, model, requested_model, origin_dialect, request_json, \
         status, price_credits, billable_seconds, micro_usd_per_second, attempt, next_run_at_ms, \
         created_at_ms, updated_at_ms, callback_url) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, 0, $10, $10, $10, $11)",
    )
    .bind(task.id.as_str())
    .bind(task.api_key_id.as_str())
    .bind(&task.request.model)
    .bind(&task.requested_model)
    .bind(&task.origin_dialect)
    .bind(request_json)
    .bind(price)
    .bind(i64::from(task.price.billable_seconds))
    .bind(to_i64(task.price.micro_usd_per_second, "unit price")?)
    .bind(task.created_at_ms)
    .bind(task.request.callback_url.as_deref())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO ledger_entries (api_key_id, task_id, kind, amount, created_at_ms) \
         VALUES ($1, $2, 'hold', $3, $4)",
    )
    .bind(task.api_key_id.as_str())
    .bind(task.id.as_str())
    .bind(-price)
    .bind(task.created_at_ms)
    .execute(&mut **tx)
    .await?;
    if let Some(idem) = idempotency {
        let r = sqlx::query(
            "UPDATE idempotency_keys SET state = 'completed', task_id = $1, response_status = $2, \
             response_body = $3 \
             WHERE api_key_id = $4 AND idem_key = $5 AND state = 'in_progress'",
        )
        .bind(task.id.as_str())
        .bind(i64::from(idem.response.status))
        .bind(idem.response.body)
        .bind(task.api_key_id.as_str())
        .bind(&idem.key)
        .execute(&mut **tx)
        .await?;
        if r.rows_affected() != 1 {
            // Someone else completed or pruned this key meanwhile: create nothing.
            return Err(StoreError::Conflict(
                "idempotency key is no longer held".into(),
            ));
        }
    }
    // A dialect told of every status change hears of the task being queued, in the same
    // transaction that accepts it.
    if wants_status_callbacks(&task.origin_dialect) {
        queue_callback(
            tx,
            task.id.as_str(),
            CallbackEvent::Queued,
            task.created_at_ms,
        )
        .await?;
    }
    Ok(())
}

fn callback_attempt_from_row(a: &PgRow) -> StoreResult<CallbackAttempt> {
    Ok(CallbackAttempt {
        attempt: u32::try_from(a.try_get::<i64, _>("attempt")?).unwrap_or(0),
        started_at_ms: a.try_get("started_at_ms")?,
        status: a
            .try_get::<Option<i64>, _>("status")?
            .and_then(|s| u16::try_from(s).ok()),
        latency_ms: u64::try_from(a.try_get::<i64, _>("latency_ms")?).unwrap_or(0),
        error: a.try_get("error")?,
    })
}

#[async_trait]
impl Store for PgStore {
    async fn create_api_key(
        &self,
        name: &str,
        key_hash: &str,
        key_prefix: &str,
        credits: i64,
    ) -> StoreResult<ApiKeyRecord> {
        if credits < 0 {
            return Err(StoreError::Conflict(
                "initial credits cannot be negative".into(),
            ));
        }
        let id = ApiKeyId::generate();
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, key_prefix, balance, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(key_hash)
        .bind(key_prefix)
        .bind(credits)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if credits > 0 {
            sqlx::query(
                "INSERT INTO ledger_entries (api_key_id, kind, amount, note, created_at_ms) \
                 VALUES ($1, 'grant', $2, 'initial credits', $3)",
            )
            .bind(id.as_str())
            .bind(credits)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ApiKeyRecord {
            id,
            name: name.to_string(),
            key_prefix: key_prefix.to_string(),
            balance: credits,
            created_at_ms: now,
            revoked_at_ms: None,
        })
    }

    async fn find_api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn find_api_key(&self, id_or_name: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1 OR name = $1 ORDER BY created_at_ms"
        ))
        .bind(id_or_name)
        .fetch_all(&self.pool)
        .await?;
        match rows.len() {
            0 => Ok(None),
            1 => Ok(Some(key_from_row(&rows[0])?)),
            n => Err(StoreError::Conflict(format!(
                "{n} keys are named `{id_or_name}`; use the key id"
            ))),
        }
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at_ms"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn count_api_keys(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn revoke_api_key(&self, id: &ApiKeyId) -> StoreResult<()> {
        let r = sqlx::query(
            "UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE id = $2",
        )
        .bind(now_ms())
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn grant_credits(&self, id: &ApiKeyId, amount: i64, note: &str) -> StoreResult<i64> {
        let mut tx = self.write_tx().await?;
        // Guarded like a hold: the row lock orders racing grants, each re-checking the guard.
        let balance: Option<i64> = sqlx::query_scalar(
            "UPDATE api_keys SET balance = balance + $1 WHERE id = $2 AND balance + $1 >= 0 \
             RETURNING balance",
        )
        .bind(amount)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(balance) = balance else {
            let available: Option<i64> =
                sqlx::query_scalar("SELECT balance FROM api_keys WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match available {
                None => StoreError::NotFound,
                Some(available) => StoreError::InsufficientCredits { available },
            });
        };
        sqlx::query(
            "INSERT INTO ledger_entries (api_key_id, kind, amount, note, created_at_ms) \
             VALUES ($1, 'grant', $2, $3, $4)",
        )
        .bind(id.as_str())
        .bind(amount)
        .bind(note)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(balance)
    }

    async fn claim_idempotency_key(
        &self,
        api_key: &ApiKeyId,
        key: &str,
        fingerprint: &str,
        stale_after: Duration,
    ) -> StoreResult<IdempotencyClaim> {
        loop {
            let now = now_ms();
            let mut tx = self.write_tx().await?;
            // A first claim inserts; a racing first claim waits on the new row and then finds
            // it taken.
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (api_key_id, idem_key, fingerprint, state, \
                 locked_at_ms, created_at_ms) VALUES ($1, $2, $3, 'in_progress', $4, $4) \
                 ON CONFLICT (api_key_id, idem_key) DO NOTHING",
            )
            .bind(api_key.as_str())
            .bind(key)
            .bind(fingerprint)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 1 {
                tx.commit().await?;
                return Ok(IdempotencyClaim::Claimed);
            }
            // The record exists: lock it, so that two stale takeovers cannot both win.
            let existing = sqlx::query(
                "SELECT fingerprint, state, response_status, response_body, locked_at_ms \
                 FROM idempotency_keys WHERE api_key_id = $1 AND idem_key = $2 FOR UPDATE",
            )
            .bind(api_key.as_str())
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = existing else {
                // Released or pruned since the insert found it: claim afresh.
                tx.rollback().await?;
                continue;
            };
            let stored_fingerprint: String = row.try_get("fingerprint")?;
            let state: String = row.try_get("state")?;
            let locked_at: i64 = row.try_get("locked_at_ms")?;
            let claim = if stored_fingerprint != fingerprint {
                IdempotencyClaim::Mismatch
            } else if state == "completed" {
                let status: i64 = row
                    .try_get::<Option<i64>, _>("response_status")?
                    .unwrap_or(200);
                IdempotencyClaim::Replay(StoredResponse {
                    status: u16::try_from(status).unwrap_or(200),
                    body: row
                        .try_get::<Option<Vec<u8>>, _>("response_body")?
                        .unwrap_or_default(),
                })
            } else if now - locked_at >= millis(stale_after) {
                // The request holding it died before finishing; nothing was created.
                sqlx::query(
                    "UPDATE idempotency_keys SET locked_at_ms = $1 \
                     WHERE api_key_id = $2 AND idem_key = $3",
                )
                .bind(now)
                .bind(api_key.as_str())
                .bind(key)
                .execute(&mut *tx)
                .await?;
                IdempotencyClaim::Claimed
            } else {
                IdempotencyClaim::InFlight
            };
            tx.commit().await?;
            return Ok(claim);
        }
    }

    async fn release_idempotency_key(&self, api_key: &ApiKeyId, key: &str) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys \
             WHERE api_key_id = $1 AND idem_key = $2 AND state = 'in_progress'",
        )
        .bind(api_key.as_str())
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune_idempotency_keys(&self, retention: Duration) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM idempotency_keys WHERE created_at_ms < $1")
            .bind(now_ms() - millis(retention))
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn create_task(
        &self,
        task: &Task,
        idempotency: Option<IdempotencyCompletion>,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // On error the transaction is dropped, and rolled back: nothing of the submit remains.
        insert_task(&mut tx, task, idempotency).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_task(&self, id: &TaskId, api_key: &ApiKeyId) -> StoreResult<Option<Task>> {
        let row = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks \
             WHERE id = $1 AND api_key_id = $2 AND deleted_at_ms IS NULL"
        ))
        .bind(id.as_str())
        .bind(api_key.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn list_tasks(&self, api_key: &ApiKeyId, query: &TaskQuery) -> StoreResult<TaskPage> {
        let limit = query.limit.clamp(1, 1000);
        // Task ids are ULIDs, so id order is creation order (ids sort bytewise: COLLATE "C").
        let filters = |q: &mut sqlx::QueryBuilder<'_, Postgres>| {
            q.push(" FROM tasks WHERE deleted_at_ms IS NULL AND api_key_id = ")
                .push_bind(api_key.as_str().to_string());
            if !query.statuses.is_empty() {
                q.push(" AND status IN (");
                let mut list = q.separated(", ");
                for status in &query.statuses {
                    list.push_bind(status.as_str());
                }
                q.push(")");
            }
            if !query.ids.is_empty() {
                q.push(" AND id IN (");
                let mut list = q.separated(", ");
                for id in &query.ids {
                    list.push_bind(id.as_str().to_string());
                }
                q.push(")");
            }
            if let Some(model) = &query.model {
                q.push(" AND model = ").push_bind(model.clone());
            }
        };
        // The count and the page read one snapshot, so that `total` agrees with the page.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let mut count = sqlx::QueryBuilder::new("SELECT COUNT(*)");
        filters(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;

        let mut select = sqlx::QueryBuilder::new(format!("SELECT {TASK_COLUMNS}"));
        filters(&mut select);
        if let Some(after) = &query.after {
            select
                .push(if query.oldest_first {
                    " AND id > "
                } else {
                    " AND id < "
                })
                .push_bind(after.as_str().to_string());
        }
        select
            .push(if query.oldest_first {
                " ORDER BY id ASC"
            } else {
                " ORDER BY id DESC"
            })
            .push(" LIMIT ")
            .push_bind(i64::from(limit) + 1)
            .push(" OFFSET ")
            .push_bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
        let rows = select.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let has_more = rows.len() > limit as usize;
        let tasks = rows
            .iter()
            .take(limit as usize)
            .map(task_from_row)
            .collect::<StoreResult<_>>()?;
        Ok(TaskPage {
            tasks,
            has_more,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn delete_task(&self, id: &TaskId, api_key: &ApiKeyId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Locked, so that of two racing deletes the second finds the task gone.
        let status: Option<String> = sqlx::query_scalar(
            "SELECT status FROM tasks WHERE id = $1 AND api_key_id = $2 AND deleted_at_ms IS NULL \
             FOR NO KEY UPDATE",
        )
        .bind(id.as_str())
        .bind(api_key.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(status) = status else {
            return Err(StoreError::NotFound);
        };
        if !TaskStatus::parse(&status).is_some_and(TaskStatus::is_terminal) {
            return Err(StoreError::Conflict(format!(
                "task is {status}; only finished tasks can be deleted"
            )));
        }
        sqlx::query("UPDATE tasks SET deleted_at_ms = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn cancel_task(&self, id: &TaskId, api_key: &ApiKeyId) -> StoreResult<Task> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let owned: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, submit_key FROM tasks WHERE id = $1 AND api_key_id = $2 AND deleted_at_ms IS NULL",
        )
        .bind(id.as_str())
        .bind(api_key.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((status, submit_key)) = owned else {
            return Err(StoreError::NotFound);
        };
        // A create was sent upstream and its answer lost: the upstream job may be alive, and
        // only reconciliation can tell. The task is in flight, not cancellable, and its hold
        // stays until the upstream job is known.
        if submit_key.is_some() {
            return Err(StoreError::Conflict(
                "task was sent to an upstream whose answer is not known yet; it cannot be cancelled"
                    .into(),
            ));
        }
        // The guarded update decides: a claim or cancel that got there first leaves it nothing.
        if !finish(
            &mut tx,
            id.as_str(),
            None,
            TaskStatus::Cancelled,
            None,
            None,
            now,
        )
        .await?
        {
            let current: Option<String> =
                sqlx::query_scalar("SELECT status FROM tasks WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            let status = current.unwrap_or(status);
            return Err(StoreError::Conflict(format!(
                "task is {status}, only queued tasks can be cancelled"
            )));
        }
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let task = task_from_row(&row)?;
        tx.commit().await?;
        Ok(task)
    }

    async fn load_task(&self, id: &TaskId) -> StoreResult<Option<Task>> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn webhook_secrets(&self, api_key: &ApiKeyId) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT secret FROM webhook_secrets WHERE api_key_id = $1 \
             AND (expires_at_ms IS NULL OR expires_at_ms > $2) ORDER BY created_at_ms DESC",
        )
        .bind(api_key.as_str())
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?)
    }

    async fn ensure_webhook_secret(
        &self,
        api_key: &ApiKeyId,
        candidate: &str,
    ) -> StoreResult<String> {
        let mut tx = self.write_tx().await?;
        advisory_lock(&mut tx, LOCK_WEBHOOK_SECRETS, api_key.as_str()).await?;
        let current: Option<String> = sqlx::query_scalar(
            "SELECT secret FROM webhook_secrets WHERE api_key_id = $1 AND expires_at_ms IS NULL",
        )
        .bind(api_key.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let secret = match current {
            Some(secret) => secret,
            None => {
                sqlx::query(
                    "INSERT INTO webhook_secrets (api_key_id, secret, created_at_ms) \
                     VALUES ($1, $2, $3)",
                )
                .bind(api_key.as_str())
                .bind(candidate)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
                candidate.to_string()
            }
        };
        tx.commit().await?;
        Ok(secret)
    }

    async fn rotate_webhook_secret(
        &self,
        api_key: &ApiKeyId,
        secret: &str,
        overlap: Duration,
    ) -> StoreResult<()> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        advisory_lock(&mut tx, LOCK_WEBHOOK_SECRETS, api_key.as_str()).await?;
        sqlx::query(
            "UPDATE webhook_secrets SET expires_at_ms = $1 \
             WHERE api_key_id = $2 AND expires_at_ms IS NULL",
        )
        .bind(now + millis(overlap))
        .bind(api_key.as_str())
        .execute(&mut *tx)
        .await?;
        // Two rotations in one millisecond must not collide on the key.
        let created: i64 = sqlx::query_scalar(
            "SELECT GREATEST($1, COALESCE(MAX(created_at_ms) + 1, 0)) \
             FROM webhook_secrets WHERE api_key_id = $2",
        )
        .bind(now)
        .bind(api_key.as_str())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO webhook_secrets (api_key_id, secret, created_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(api_key.as_str())
        .bind(secret)
        .bind(created)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim_callbacks(
        &self,
        owner: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<CallbackJob>> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        // Rows another dispatcher is claiming are skipped, not waited for; a row it claimed
        // meanwhile is re-checked against the filter (its lease is live now) and dropped.
        let rows = sqlx::query(
            "SELECT id, task_id, event, api_key_id, url, dialect, attempts FROM callbacks \
             WHERE state = 'pending' AND next_attempt_at_ms <= $1 \
             AND NOT (event = 'running' AND EXISTS (SELECT 1 FROM callbacks q \
                 WHERE q.task_id = callbacks.task_id AND q.event = 'queued' AND q.state = 'pending')) \
             AND (lease_expires_at_ms IS NULL OR lease_expires_at_ms < $1) \
             ORDER BY next_attempt_at_ms LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            jobs.push(CallbackJob {
                id: row.try_get("id")?,
                task_id: TaskId::from_string(row.try_get::<String, _>("task_id")?),
                api_key_id: ApiKeyId::from_string(row.try_get::<String, _>("api_key_id")?),
                url: row.try_get("url")?,
                dialect: row.try_get("dialect")?,
                event: {
                    let event: String = row.try_get("event")?;
                    CallbackEvent::parse(&event)
                        .ok_or_else(|| StoreError::Corrupt(format!("callback event {event}")))?
                },
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
                lease_token: format!("{owner}:{}", ulid::Ulid::new()),
            });
        }
        let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
        let tokens: Vec<&str> = jobs.iter().map(|j| j.lease_token.as_str()).collect();
        sqlx::query(
            "UPDATE callbacks SET lease_token = leased.token, lease_expires_at_ms = $3 \
             FROM UNNEST($1::TEXT[], $2::TEXT[]) AS leased(id, token) \
             WHERE callbacks.id = leased.id",
        )
        .bind(&ids)
        .bind(&tokens)
        .bind(now + millis(lease))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(jobs)
    }

    async fn record_callback_attempt(
        &self,
        job: &CallbackJob,
        attempt: &CallbackAttempt,
        resolution: CallbackResolution,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let (state, next, delivered) = match resolution {
            CallbackResolution::Delivered => (CallbackState::Delivered, now, Some(now)),
            CallbackResolution::RetryAt(at) => (CallbackState::Pending, at, None),
            CallbackResolution::Exhausted => (CallbackState::Failed, now, None),
            CallbackResolution::Gone => (CallbackState::Gone, now, None),
        };
        let mut tx = self.write_tx().await?;
        // Fenced by the lease; the row stays locked until the attempt is logged, so attempt
        // numbers cannot collide.
        let updated = sqlx::query(
            "UPDATE callbacks SET state = $1, attempts = attempts + 1, next_attempt_at_ms = $2, \
             delivered_at_ms = COALESCE($3, delivered_at_ms), lease_token = NULL, \
             lease_expires_at_ms = NULL \
             WHERE id = $4 AND lease_token = $5 AND state = 'pending'",
        )
        .bind(state.as_str())
        .bind(next)
        .bind(delivered)
        .bind(&job.id)
        .bind(&job.lease_token)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        let number: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(attempt), 0) + 1 FROM callback_attempts WHERE callback_id = $1",
        )
        .bind(&job.id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO callback_attempts (callback_id, attempt, started_at_ms, status, \
             latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&job.id)
        .bind(number)
        .bind(attempt.started_at_ms)
        .bind(attempt.status.map(i64::from))
        .bind(i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX))
        .bind(attempt.error.as_deref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn defer_callback(&self, job: &CallbackJob, at_ms: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE callbacks SET next_attempt_at_ms = $1, lease_token = NULL, \
             lease_expires_at_ms = NULL WHERE id = $2 AND lease_token = $3 AND state = 'pending'",
        )
        .bind(at_ms)
        .bind(&job.id)
        .bind(&job.lease_token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn callback_record(
        &self,
        task_id: &TaskId,
        api_key: &ApiKeyId,
    ) -> StoreResult<Option<CallbackRecord>> {
        let Some(row) = sqlx::query(
            "SELECT id, url, dialect, state, next_attempt_at_ms, created_at_ms, delivered_at_ms \
             FROM callbacks WHERE task_id = $1 AND api_key_id = $2 AND event = 'final'",
        )
        .bind(task_id.as_str())
        .bind(api_key.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let id: String = row.try_get("id")?;
        let state: String = row.try_get("state")?;
        let state = CallbackState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("callback {id}: state {state}")))?;
        let attempts = sqlx::query(
            "SELECT attempt, started_at_ms, status, latency_ms, error FROM callback_attempts \
             WHERE callback_id = $1 ORDER BY attempt",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(callback_attempt_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(CallbackRecord {
            task_id: task_id.clone(),
            url: row.try_get("url")?,
            dialect: row.try_get("dialect")?,
            next_attempt_at_ms: (state == CallbackState::Pending)
                .then(|| row.try_get("next_attempt_at_ms"))
                .transpose()?,
            created_at_ms: row.try_get("created_at_ms")?,
            delivered_at_ms: row.try_get("delivered_at_ms")?,
            state,
            attempts,
            id,
        }))
    }

    async fn redeliver_callback(&self, task_id: &TaskId, api_key: &ApiKeyId) -> StoreResult<()> {
        // An attempt in flight loses its lease: its result is not recorded (it would mark the
        // callback delivered and swallow this request), and the callback is due now.
        let r = sqlx::query(
            "UPDATE callbacks SET state = 'pending', next_attempt_at_ms = $1, lease_token = NULL, \
             lease_expires_at_ms = NULL WHERE task_id = $2 AND api_key_id = $3 AND event = 'final'",
        )
        .bind(now_ms())
        .bind(task_id.as_str())
        .bind(api_key.as_str())
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn claim_task(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: u32,
    ) -> StoreResult<Option<ClaimedTask>> {
        // Idle workers poll often; a plain read first keeps them from opening transactions.
        let due: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM tasks WHERE (status = 'queued' AND next_run_at_ms <= $1) \
             OR (status = 'running' AND lease_expires_at_ms <= $1) LIMIT 1",
        )
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        if due.is_none() {
            return Ok(None);
        }
        loop {
            let now = now_ms();
            let mut tx = self.write_tx().await?;
            // Expired leases first: their clients have waited longest. A row another worker is
            // claiming is skipped; one it claimed meanwhile no longer matches and is dropped.
            let mut candidate = sqlx::query(
                "SELECT id, attempt, lease_token, submit_key FROM tasks \
                 WHERE status = 'running' AND lease_expires_at_ms <= $1 \
                 ORDER BY lease_expires_at_ms LIMIT 1 FOR UPDATE SKIP LOCKED",
            )
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if candidate.is_none() {
                candidate = sqlx::query(
                    "SELECT id, attempt, lease_token, submit_key FROM tasks \
                     WHERE status = 'queued' AND next_run_at_ms <= $1 \
                     ORDER BY next_run_at_ms, id LIMIT 1 FOR UPDATE SKIP LOCKED",
                )
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            }
            let Some(row) = candidate else {
                tx.commit().await?;
                return Ok(None);
            };
            let id: String = row.try_get("id")?;
            let attempt: i64 = row.try_get("attempt")?;
            // A task whose submit is in doubt is never given up for its attempts: an upstream
            // job may live, so it stays in flight (hold kept) until reconciled.
            let in_doubt = row.try_get::<Option<String>, _>("submit_key")?.is_some();
            if attempt >= i64::from(max_attempts) && !in_doubt {
                // Rescue with no attempts left: fail it and refund, then look for another task.
                // A queued row has no lease token, so it is finished through the queued path.
                let token: Option<String> = row.try_get("lease_token")?;
                let error = TaskError {
                    kind: FailureKind::Internal,
                    message: format!("task abandoned after {attempt} attempts"),
                };
                if !finish(
                    &mut tx,
                    &id,
                    token.as_deref(),
                    TaskStatus::Failed,
                    None,
                    Some(&error),
                    now,
                )
                .await?
                {
                    return Err(StoreError::Conflict(format!(
                        "task {id} changed while being rescued"
                    )));
                }
                tx.commit().await?;
                continue;
            }
            let token = ulid::Ulid::new().to_string();
            let row = sqlx::query(&format!(
                "UPDATE tasks SET status = 'running', attempt = attempt + 1, lease_token = $1, \
                 lease_owner = $2, lease_expires_at_ms = $3, \
                 started_at_ms = COALESCE(started_at_ms, $4), updated_at_ms = $4 \
                 WHERE id = $5 RETURNING {TASK_COLUMNS}, provider_job_id"
            ))
            .bind(&token)
            .bind(worker)
            .bind(now + millis(lease))
            .bind(now)
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
            let task = match task_from_row(&row) {
                Ok(task) => task,
                Err(e) => {
                    // A row that no longer reads must not block the queue: fail and refund it.
                    tracing::error!(task = %id, error = %e, "unreadable task failed");
                    let error = TaskError {
                        kind: FailureKind::Internal,
                        message: "the stored task could not be read".into(),
                    };
                    finish(
                        &mut tx,
                        &id,
                        Some(&token),
                        TaskStatus::Failed,
                        None,
                        Some(&error),
                        now,
                    )
                    .await?;
                    tx.commit().await?;
                    continue;
                }
            };
            let provider_job_id: Option<String> = row.try_get("provider_job_id")?;
            let submit_key: Option<String> = row.try_get("submit_key")?;
            // Its first claim is when the task starts running (later claims send nothing).
            if wants_status_callbacks(&task.origin_dialect) {
                queue_callback(&mut tx, &id, CallbackEvent::Running, now).await?;
            }
            tx.commit().await?;
            return Ok(Some(ClaimedTask {
                task,
                lease_token: token,
                provider_job_id,
                submit_key,
            }));
        }
    }

    async fn renew_lease(
        &self,
        id: &TaskId,
        lease_token: &str,
        lease: Duration,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE tasks SET lease_expires_at_ms = $1, updated_at_ms = $2 \
             WHERE id = $3 AND lease_token = $4 AND status = 'running'",
        )
        .bind(now + millis(lease))
        .bind(now)
        .bind(id.as_str())
        .bind(lease_token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn record_provider_job(
        &self,
        id: &TaskId,
        lease_token: &str,
        provider: &str,
        job_id: &str,
    ) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE tasks SET provider = $1, provider_job_id = $2, submit_key = NULL, updated_at_ms = $3 \
             WHERE id = $4 AND lease_token = $5 AND status = 'running'",
        )
        .bind(provider)
        .bind(job_id)
        .bind(now_ms())
        .bind(id.as_str())
        .bind(lease_token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn record_submit_intent(
        &self,
        id: &TaskId,
        lease_token: &str,
        intent: Option<(&str, &str)>,
    ) -> StoreResult<bool> {
        let (provider, key) = match intent {
            Some((provider, key)) => (Some(provider), Some(key)),
            None => (None, None),
        };
        let r = sqlx::query(
            "UPDATE tasks SET provider = $1, submit_key = $2, provider_job_id = NULL, updated_at_ms = $3 WHERE id = $4 AND lease_token = $5 AND status = 'running'",
        )
        .bind(provider)
        .bind(key)
        .bind(now_ms())
        .bind(id.as_str())
        .bind(lease_token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn running_tasks_by_provider(&self) -> StoreResult<HashMap<String, u64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT provider, COUNT(*) FROM tasks WHERE status = 'running' AND provider IS NOT NULL GROUP BY provider",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(provider, n)| (provider, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    async fn defer_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        delay: Duration,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE tasks SET status = 'queued', attempt = attempt - 1, next_run_at_ms = $1, updated_at_ms = $2, lease_token = NULL, lease_owner = NULL, lease_expires_at_ms = NULL WHERE id = $3 AND lease_token = $4 AND status = 'running' AND provider_job_id IS NULL AND submit_key IS NULL",
        )
        .bind(now + millis(delay))
        .bind(now)
        .bind(id.as_str())
        .bind(lease_token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn server_secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO server_secrets (name, value, created_at_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    async fn complete_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        output: &TaskOutput,
    ) -> StoreResult<bool> {
        self.finish_fenced(id, lease_token, TaskStatus::Succeeded, Some(output), None)
            .await
    }

    async fn fail_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        error: &TaskError,
    ) -> StoreResult<bool> {
        self.finish_fenced(id, lease_token, TaskStatus::Failed, None, Some(error))
            .await
    }

    async fn release_lease(&self, id: &TaskId, lease_token: &str) -> StoreResult<bool> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE tasks SET status = 'queued', attempt = GREATEST(attempt - 1, 0), \
             next_run_at_ms = $1, updated_at_ms = $1, \
             lease_token = NULL, lease_owner = NULL, lease_expires_at_ms = NULL \
             WHERE id = $2 AND lease_token = $3 AND status = 'running'",
        )
        .bind(now)
        .bind(id.as_str())
        .bind(lease_token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn retry_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        delay: Duration,
        error: &TaskError,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE tasks SET status = 'queued', next_run_at_ms = $1, error_kind = $2, \
             error_message = $3, updated_at_ms = $4, \
             lease_token = NULL, lease_owner = NULL, lease_expires_at_ms = NULL \
             WHERE id = $5 AND lease_token = $6 AND status = 'running'",
        )
        .bind(now + millis(delay))
        .bind(error.kind.as_str())
        .bind(&error.message)
        .bind(now)
        .bind(id.as_str())
        .bind(lease_token)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn create_asset(&self, asset: &AssetRecord, quota_bytes: u64) -> StoreResult<()> {
        let facts =
            serde_json::to_string(&asset.facts).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let size = to_i64(asset.facts.size_bytes, "asset size")?;
        let mut tx = self.write_tx().await?;
        // The quota is a sum over rows: uploads of one key take turns, so two cannot both fit
        // in the same remaining space.
        advisory_lock(&mut tx, LOCK_ASSET_QUOTA, asset.api_key_id.as_str()).await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(size_bytes), 0)::BIGINT FROM assets WHERE api_key_id = $1",
        )
        .bind(asset.api_key_id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let used = u64::try_from(used).unwrap_or(0);
        if used.saturating_add(asset.facts.size_bytes) > quota_bytes {
            return Err(StoreError::QuotaExceeded {
                used,
                quota: quota_bytes,
            });
        }
        sqlx::query(
            "INSERT INTO assets (id, api_key_id, object_key, content_type, size_bytes, facts_json, \
             created_at_ms, name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&asset.id)
        .bind(asset.api_key_id.as_str())
        .bind(&asset.object_key)
        .bind(&asset.content_type)
        .bind(size)
        .bind(facts)
        .bind(asset.created_at_ms)
        .bind(asset.name.as_deref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_asset(&self, id: &str, api_key: &ApiKeyId) -> StoreResult<Option<AssetRecord>> {
        let row = sqlx::query(
            "SELECT id, api_key_id, object_key, content_type, facts_json, created_at_ms, name \
             FROM assets WHERE id = $1 AND api_key_id = $2",
        )
        .bind(id)
        .bind(api_key.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let facts: String = row.try_get("facts_json")?;
        Ok(Some(AssetRecord {
            id: row.try_get("id")?,
            api_key_id: ApiKeyId::from_string(row.try_get::<String, _>("api_key_id")?),
            object_key: row.try_get("object_key")?,
            content_type: row.try_get("content_type")?,
            facts: serde_json::from_str(&facts)
                .map_err(|e| StoreError::Corrupt(format!("asset {id}: {e}")))?,
            created_at_ms: row.try_get("created_at_ms")?,
            name: row.try_get("name")?,
        }))
    }

    async fn ledger_dump(&self) -> StoreResult<LedgerDump> {
        // One snapshot (REPEATABLE READ), so entries, tasks and balances agree with each other
        // while other replicas keep writing.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let entries = sqlx::query(
            "SELECT seq, api_key_id, task_id, kind, amount, created_at_ms FROM ledger_entries \
             ORDER BY seq",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            Ok(LedgerEntry {
                seq: r.try_get("seq")?,
                api_key_id: r.try_get("api_key_id")?,
                task_id: r.try_get("task_id")?,
                kind: EntryKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("ledger kind {kind}")))?,
                amount: r.try_get("amount")?,
                created_at_ms: r.try_get("created_at_ms")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let tasks = sqlx::query("SELECT id, api_key_id, status, price_credits FROM tasks")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                Ok(TaskFacts {
                    task_id: r.try_get("id")?,
                    api_key_id: r.try_get("api_key_id")?,
                    status: TaskStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
                    price_credits: r.try_get("price_credits")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let balances = sqlx::query("SELECT id, balance FROM api_keys")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                Ok(CachedBalance {
                    api_key_id: r.try_get("id")?,
                    balance: r.try_get("balance")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        tx.commit().await?;
        Ok(LedgerDump {
            entries,
            tasks,
            balances,
        })
    }
}

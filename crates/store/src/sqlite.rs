//! The embedded store: one SQLite file in WAL mode with `synchronous = FULL` (a commit survives
//! power loss; this is money), `busy_timeout` on every connection, and every write transaction
//! opened with `BEGIN IMMEDIATE` so that a read-then-write never fails on lock upgrade.

use crate::*;
use seedgate_core::ledger::EntryKind;
use seedgate_core::pricing::Price;
use seedgate_core::task::{FailureKind, HoldResolution, TaskStatus};
use seedgate_core::webhook::{wants_status_callbacks, CallbackEvent};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::str::FromStr;

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// New tasks go through the group writer.
    creates: tokio::sync::mpsc::Sender<CreateJob>,
}

const TASK_COLUMNS: &str =
    "id, api_key_id, model, requested_model, origin_dialect, request_json, status, \
     price_credits, billable_seconds, micro_usd_per_second, attempt, provider, provider_job_id, \
     output_json, error_kind, error_message, created_at_ms, updated_at_ms, started_at_ms, \
     finished_at_ms, lease_token, submit_key";

const KEY_COLUMNS: &str = "id, name, key_prefix, balance, created_at_ms, revoked_at_ms";

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await?;
        let (creates, jobs) = tokio::sync::mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(group_writer(pool.clone(), jobs));
        let store = Self { pool, creates };
        store.migrate().await?;
        store.check_settings().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// Asserts the durability settings took effect, so a misconfigured pool fails loudly.
    async fn check_settings(&self) -> StoreResult<()> {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await?;
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&self.pool)
            .await?;
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&self.pool)
            .await?;
        if !mode.eq_ignore_ascii_case("wal") || sync != 2 || busy <= 0 {
            return Err(StoreError::Corrupt(format!(
                "unexpected SQLite settings: journal_mode={mode} synchronous={sync} busy_timeout={busy}"
            )));
        }
        Ok(())
    }

    async fn write_tx(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
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

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn key_from_row(row: &SqliteRow) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: ApiKeyId::from_string(row.try_get::<String, _>("id")?),
        name: row.try_get("name")?,
        key_prefix: row.try_get("key_prefix")?,
        balance: row.try_get("balance")?,
        created_at_ms: row.try_get("created_at_ms")?,
        revoked_at_ms: row.try_get("revoked_at_ms")?,
    })
}

fn task_from_row(row: &SqliteRow) -> StoreResult<Task> {
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
    tx: &mut Transaction<'static, Sqlite>,
    task_id: &str,
    resolution: HoldResolution,
    now: i64,
) -> StoreResult<()> {
    let row = sqlx::query(
        "SELECT api_key_id, amount FROM ledger_entries WHERE task_id = ? AND kind = 'hold'",
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
    sqlx::query("INSERT INTO ledger_entries (api_key_id, task_id, kind, amount, created_at_ms) VALUES (?, ?, ?, ?, ?)")
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
    if amount != 0 {
        sqlx::query("UPDATE api_keys SET balance = balance + ? WHERE id = ?")
            .bind(amount)
            .bind(&key)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Moves a task to a terminal state and resolves its hold in one statement pair. `fence` is the
/// lease token the caller must still hold (None: only a queued task may move, as in cancel).
async fn finish(
    tx: &mut Transaction<'static, Sqlite>,
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
    let result = sqlx::query(
        "UPDATE tasks SET status = ?, output_json = COALESCE(?, output_json), error_kind = ?, error_message = ?, \
         finished_at_ms = ?, updated_at_ms = ?, lease_token = NULL, lease_owner = NULL, lease_expires_at_ms = NULL \
         WHERE id = ? AND status = ? AND (? IS NULL OR lease_token = ?)",
    )
    .bind(status.as_str())
    .bind(output_json)
    .bind(error.map(|e| e.kind.as_str()))
    .bind(error.map(|e| e.message.as_str()))
    .bind(now)
    .bind(now)
    .bind(id)
    .bind(from)
    .bind(fence)
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
             WHERE task_id = ? AND event <> 'final' AND state = 'pending'",
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
    tx: &mut Transaction<'static, Sqlite>,
    task_id: &str,
    event: CallbackEvent,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO callbacks (id, task_id, event, api_key_id, url, dialect, state, attempts, next_attempt_at_ms, created_at_ms) \
         SELECT ?, id, ?, api_key_id, callback_url, origin_dialect, 'pending', 0, ?, ? \
         FROM tasks WHERE id = ? AND callback_url IS NOT NULL \
         ON CONFLICT(task_id, event) DO NOTHING",
    )
    .bind(event.callback_id(task_id))
    .bind(event.as_str())
    .bind(now)
    .bind(now)
    .bind(task_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A task to insert, waiting for the group writer.
struct CreateJob {
    task: Task,
    idempotency: Option<IdempotencyCompletion>,
    reply: tokio::sync::oneshot::Sender<StoreResult<()>>,
}

/// Most submits folded into one transaction: one fsync then covers all of them.
const MAX_GROUP: usize = 128;

/// Group commit for new tasks. With `synchronous = FULL` every commit waits for the disk, so
/// submits arriving together are written in one transaction, each inside its own savepoint: a
/// submit that fails (insufficient credits) is rolled back alone, and every reply is sent only
/// after the commit, so nothing is acknowledged before it is durable.
async fn group_writer(pool: SqlitePool, mut jobs: tokio::sync::mpsc::Receiver<CreateJob>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match write_group(&pool, &batch).await {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, tasks = batch.len(), "committing new tasks failed");
                for job in batch {
                    let _ = job.reply.send(Err(StoreError::Conflict(format!(
                        "could not store the task: {e}"
                    ))));
                }
            }
        }
    }
}

async fn write_group(pool: &SqlitePool, batch: &[CreateJob]) -> StoreResult<Vec<StoreResult<()>>> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        sqlx::query("SAVEPOINT new_task").execute(&mut *tx).await?;
        let result = insert_task(&mut tx, &job.task, job.idempotency.clone()).await;
        if result.is_err() {
            sqlx::query("ROLLBACK TO SAVEPOINT new_task")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("RELEASE SAVEPOINT new_task")
            .execute(&mut *tx)
            .await?;
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}

/// Inserts a queued task, takes its hold from the balance and completes its Idempotency-Key,
/// inside `tx`.
async fn insert_task(
    tx: &mut Transaction<'static, Sqlite>,
    task: &Task,
    idempotency: Option<IdempotencyCompletion>,
) -> StoreResult<()> {
    let price = to_i64(task.price.credits, "price")?;
    let request_json =
        serde_json::to_string(&task.request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // The guard: the balance must cover the hold, checked and taken in one statement.
    let r = sqlx::query("UPDATE api_keys SET balance = balance - ? WHERE id = ? AND balance >= ? AND revoked_at_ms IS NULL")
            .bind(price)
            .bind(task.api_key_id.as_str())
            .bind(price)
            .execute(&mut **tx)
            .await?;
    if r.rows_affected() != 1 {
        let row = sqlx::query("SELECT balance, revoked_at_ms FROM api_keys WHERE id = ?")
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
            "INSERT INTO tasks (id, api_key_id, model, requested_model, origin_dialect, request_json, status, price_credits, \
             billable_seconds, micro_usd_per_second, attempt, next_run_at_ms, created_at_ms, updated_at_ms, callback_url) \
             VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, 0, ?, ?, ?, ?)",
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
        .bind(task.created_at_ms)
        .bind(task.created_at_ms)
        .bind(task.request.callback_url.as_deref())
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO ledger_entries (api_key_id, task_id, kind, amount, created_at_ms) VALUES (?, ?, 'hold', ?, ?)")
            .bind(task.api_key_id.as_str())
            .bind(task.id.as_str())
            .bind(-price)
            .bind(task.created_at_ms)
            .execute(&mut **tx)
            .await?;
    if let Some(idem) = idempotency {
        let r = sqlx::query(
                "UPDATE idempotency_keys SET state = 'completed', task_id = ?, response_status = ?, response_body = ? \
                 WHERE api_key_id = ? AND idem_key = ? AND state = 'in_progress'",
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

#[async_trait]
impl Store for SqliteStore {
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
        sqlx::query("INSERT INTO api_keys (id, name, key_hash, key_prefix, balance, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(id.as_str())
            .bind(name)
            .bind(key_hash)
            .bind(key_prefix)
            .bind(credits)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if credits > 0 {
            sqlx::query("INSERT INTO ledger_entries (api_key_id, kind, amount, note, created_at_ms) VALUES (?, 'grant', ?, 'initial credits', ?)")
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
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn find_api_key(&self, id_or_name: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ? OR name = ? ORDER BY created_at_ms"
        ))
        .bind(id_or_name)
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
            "UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, ?) WHERE id = ?",
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
        let r = sqlx::query(
            "UPDATE api_keys SET balance = balance + ? WHERE id = ? AND balance + ? >= 0",
        )
        .bind(amount)
        .bind(id.as_str())
        .bind(amount)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            let available: Option<i64> =
                sqlx::query_scalar("SELECT balance FROM api_keys WHERE id = ?")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match available {
                None => StoreError::NotFound,
                Some(available) => StoreError::InsufficientCredits { available },
            });
        }
        sqlx::query("INSERT INTO ledger_entries (api_key_id, kind, amount, note, created_at_ms) VALUES (?, 'grant', ?, ?, ?)")
            .bind(id.as_str())
            .bind(amount)
            .bind(note)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let balance: i64 = sqlx::query_scalar("SELECT balance FROM api_keys WHERE id = ?")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
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
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let existing = sqlx::query(
            "SELECT fingerprint, state, response_status, response_body, locked_at_ms FROM idempotency_keys WHERE api_key_id = ? AND idem_key = ?",
        )
        .bind(api_key.as_str())
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let claim = match existing {
            None => {
                sqlx::query(
                    "INSERT INTO idempotency_keys (api_key_id, idem_key, fingerprint, state, locked_at_ms, created_at_ms) VALUES (?, ?, ?, 'in_progress', ?, ?)",
                )
                .bind(api_key.as_str())
                .bind(key)
                .bind(fingerprint)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                IdempotencyClaim::Claimed
            }
            Some(row) => {
                let stored_fingerprint: String = row.try_get("fingerprint")?;
                let state: String = row.try_get("state")?;
                let locked_at: i64 = row.try_get("locked_at_ms")?;
                if stored_fingerprint != fingerprint {
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
                    sqlx::query("UPDATE idempotency_keys SET locked_at_ms = ? WHERE api_key_id = ? AND idem_key = ?")
                        .bind(now)
                        .bind(api_key.as_str())
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                    IdempotencyClaim::Claimed
                } else {
                    IdempotencyClaim::InFlight
                }
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    async fn release_idempotency_key(&self, api_key: &ApiKeyId, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE api_key_id = ? AND idem_key = ? AND state = 'in_progress'")
            .bind(api_key.as_str())
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_idempotency_keys(&self, retention: Duration) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM idempotency_keys WHERE created_at_ms < ?")
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
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = CreateJob {
            task: task.clone(),
            idempotency,
            reply,
        };
        self.creates
            .send(job)
            .await
            .map_err(|_| StoreError::Conflict("the store is shutting down".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Conflict("the store is shutting down".into()))?
    }

    async fn get_task(&self, id: &TaskId, api_key: &ApiKeyId) -> StoreResult<Option<Task>> {
        let row = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id = ? AND api_key_id = ? AND deleted_at_ms IS NULL"
        ))
        .bind(id.as_str())
        .bind(api_key.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn list_tasks(&self, api_key: &ApiKeyId, query: &TaskQuery) -> StoreResult<TaskPage> {
        let limit = query.limit.clamp(1, 1000);
        // Task ids are ULIDs, so id order is creation order.
        let filters = |q: &mut sqlx::QueryBuilder<'_, Sqlite>| {
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
        let mut count = sqlx::QueryBuilder::new("SELECT COUNT(*)");
        filters(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;

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
        let rows = select.build().fetch_all(&self.pool).await?;
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
        let status: Option<String> = sqlx::query_scalar(
            "SELECT status FROM tasks WHERE id = ? AND api_key_id = ? AND deleted_at_ms IS NULL",
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
        sqlx::query("UPDATE tasks SET deleted_at_ms = ? WHERE id = ?")
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
            "SELECT status, submit_key FROM tasks WHERE id = ? AND api_key_id = ? AND deleted_at_ms IS NULL",
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
            return Err(StoreError::Conflict(format!(
                "task is {status}, only queued tasks can be cancelled"
            )));
        }
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?"))
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let task = task_from_row(&row)?;
        tx.commit().await?;
        Ok(task)
    }

    async fn load_task(&self, id: &TaskId) -> StoreResult<Option<Task>> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    async fn webhook_secrets(&self, api_key: &ApiKeyId) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT secret FROM webhook_secrets WHERE api_key_id = ? \
             AND (expires_at_ms IS NULL OR expires_at_ms > ?) ORDER BY created_at_ms DESC",
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
        let current: Option<String> = sqlx::query_scalar(
            "SELECT secret FROM webhook_secrets WHERE api_key_id = ? AND expires_at_ms IS NULL",
        )
        .bind(api_key.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let secret = match current {
            Some(secret) => secret,
            None => {
                sqlx::query(
                    "INSERT INTO webhook_secrets (api_key_id, secret, created_at_ms) VALUES (?, ?, ?)",
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
        sqlx::query(
            "UPDATE webhook_secrets SET expires_at_ms = ? WHERE api_key_id = ? AND expires_at_ms IS NULL",
        )
        .bind(now + millis(overlap))
        .bind(api_key.as_str())
        .execute(&mut *tx)
        .await?;
        // Two rotations in one millisecond must not collide on the key.
        let created: i64 = sqlx::query_scalar(
            "SELECT MAX(?, COALESCE(MAX(created_at_ms) + 1, 0)) FROM webhook_secrets WHERE api_key_id = ?",
        )
        .bind(now)
        .bind(api_key.as_str())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO webhook_secrets (api_key_id, secret, created_at_ms) VALUES (?, ?, ?)",
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
        let rows = sqlx::query(
            "SELECT id, task_id, event, api_key_id, url, dialect, attempts FROM callbacks \
             WHERE state = 'pending' AND next_attempt_at_ms <= ? \
             AND NOT (event = 'running' AND EXISTS (SELECT 1 FROM callbacks q \
                 WHERE q.task_id = callbacks.task_id AND q.event = 'queued' AND q.state = 'pending')) \
             AND (lease_expires_at_ms IS NULL OR lease_expires_at_ms < ?) \
             ORDER BY next_attempt_at_ms LIMIT ?",
        )
        .bind(now)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            let token = format!("{owner}:{}", ulid::Ulid::new());
            sqlx::query(
                "UPDATE callbacks SET lease_token = ?, lease_expires_at_ms = ? WHERE id = ?",
            )
            .bind(&token)
            .bind(now + millis(lease))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            jobs.push(CallbackJob {
                id,
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
                lease_token: token,
            });
        }
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
        let updated = sqlx::query(
            "UPDATE callbacks SET state = ?, attempts = attempts + 1, next_attempt_at_ms = ?, \
             delivered_at_ms = COALESCE(?, delivered_at_ms), lease_token = NULL, lease_expires_at_ms = NULL \
             WHERE id = ? AND lease_token = ? AND state = 'pending'",
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
            "SELECT COALESCE(MAX(attempt), 0) + 1 FROM callback_attempts WHERE callback_id = ?",
        )
        .bind(&job.id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO callback_attempts (callback_id, attempt, started_at_ms, status, latency_ms, error) \
             VALUES (?, ?, ?, ?, ?, ?)",
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
            "UPDATE callbacks SET next_attempt_at_ms = ?, lease_token = NULL, lease_expires_at_ms = NULL \
             WHERE id = ? AND lease_token = ? AND state = 'pending'",
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
             FROM callbacks WHERE task_id = ? AND api_key_id = ? AND event = 'final'",
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
             WHERE callback_id = ? ORDER BY attempt",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|a| {
            Ok(CallbackAttempt {
                attempt: u32::try_from(a.try_get::<i64, _>("attempt")?).unwrap_or(0),
                started_at_ms: a.try_get("started_at_ms")?,
                status: a
                    .try_get::<Option<i64>, _>("status")?
                    .and_then(|s| u16::try_from(s).ok()),
                latency_ms: u64::try_from(a.try_get::<i64, _>("latency_ms")?).unwrap_or(0),
                error: a.try_get("error")?,
            })
        })
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
            "UPDATE callbacks SET state = 'pending', next_attempt_at_ms = ?, lease_token = NULL, \
             lease_expires_at_ms = NULL WHERE task_id = ? AND api_key_id = ? AND event = 'final'",
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
        // Idle workers poll often; a plain read first keeps them off the write lock.
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM tasks WHERE (status = 'queued' AND next_run_at_ms <= ?1) \
             OR (status = 'running' AND lease_expires_at_ms <= ?1) LIMIT 1",
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
            // Expired leases first: their clients have waited longest.
            let mut candidate = sqlx::query(
                "SELECT id, attempt, lease_token, submit_key FROM tasks WHERE status = 'running' AND lease_expires_at_ms <= ? ORDER BY lease_expires_at_ms LIMIT 1",
            )
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if candidate.is_none() {
                candidate = sqlx::query(
                    "SELECT id, attempt, lease_token, submit_key FROM tasks WHERE status = 'queued' AND next_run_at_ms <= ? ORDER BY next_run_at_ms, id LIMIT 1",
                )
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            }
            let Some(row) = candidate else {
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
            sqlx::query(
                "UPDATE tasks SET status = 'running', attempt = attempt + 1, lease_token = ?, lease_owner = ?, \
                 lease_expires_at_ms = ?, started_at_ms = COALESCE(started_at_ms, ?), updated_at_ms = ? WHERE id = ?",
            )
            .bind(&token)
            .bind(worker)
            .bind(now + millis(lease))
            .bind(now)
            .bind(now)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?"))
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
            "UPDATE tasks SET lease_expires_at_ms = ?, updated_at_ms = ? WHERE id = ? AND lease_token = ? AND status = 'running'",
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
            "UPDATE tasks SET provider = ?, provider_job_id = ?, submit_key = NULL, updated_at_ms = ? WHERE id = ? AND lease_token = ? AND status = 'running'",
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
            "UPDATE tasks SET provider = ?, submit_key = ?, provider_job_id = NULL, updated_at_ms = ? WHERE id = ? AND lease_token = ? AND status = 'running'",
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
            "UPDATE tasks SET status = 'queued', attempt = attempt - 1, next_run_at_ms = ?, updated_at_ms = ?, lease_token = NULL, lease_owner = NULL, lease_expires_at_ms = NULL WHERE id = ? AND lease_token = ? AND status = 'running' AND provider_job_id IS NULL AND submit_key IS NULL",
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
            "INSERT INTO server_secrets (name, value, created_at_ms) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = ?")
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
            "UPDATE tasks SET status = 'queued', attempt = MAX(attempt - 1, 0), next_run_at_ms = ?, updated_at_ms = ?, \
             lease_token = NULL, lease_owner = NULL, lease_expires_at_ms = NULL \
             WHERE id = ? AND lease_token = ? AND status = 'running'",
        )
        .bind(now)
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
            "UPDATE tasks SET status = 'queued', next_run_at_ms = ?, error_kind = ?, error_message = ?, updated_at_ms = ?, \
             lease_token = NULL, lease_owner = NULL, lease_expires_at_ms = NULL \
             WHERE id = ? AND lease_token = ? AND status = 'running'",
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
        let used: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(size_bytes), 0) FROM assets WHERE api_key_id = ?",
        )
        .bind(asset.api_key_id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let used = u64::try_from(used).unwrap_or(0);
        if used + asset.facts.size_bytes > quota_bytes {
            return Err(StoreError::QuotaExceeded {
                used,
                quota: quota_bytes,
            });
        }
        sqlx::query(
            "INSERT INTO assets (id, api_key_id, object_key, content_type, size_bytes, facts_json, created_at_ms, name) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
            "SELECT id, api_key_id, object_key, content_type, facts_json, created_at_ms, name FROM assets WHERE id = ? AND api_key_id = ?",
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
        // One read transaction, so entries, tasks and balances are one consistent snapshot.
        let mut tx = self.pool.begin().await?;
        let entries = sqlx::query("SELECT seq, api_key_id, task_id, kind, amount, created_at_ms FROM ledger_entries ORDER BY seq")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                Ok(LedgerEntry {
                    seq: r.try_get("seq")?,
                    api_key_id: r.try_get("api_key_id")?,
                    task_id: r.try_get("task_id")?,
                    kind: EntryKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("ledger kind {kind}")))?,
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

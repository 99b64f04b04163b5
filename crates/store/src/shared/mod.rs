//! Every query the two backends share, written once. This folder is compiled twice, as a module
//! of `sqlite.rs` and of `postgres.rs` (`#[path = "shared/mod.rs"] mod shared;`): there, `super`
//! names the backend, which provides
//!
//! - `Db` (the sqlx database) and `This` (the store type), with `pool()`, `write_tx()`,
//!   `read_tx()` (each giving a `Tx`) and `write_one()` (SQLite groups commits, PostgreSQL
//!   does not);
//! - `lock_key()`, serialising a key's transactions that must not interleave (an advisory lock
//!   on PostgreSQL; nothing on SQLite, whose writers are already serial);
//! - `ROW_LOCK` and `SKIP_LOCKED`, the row-locking suffixes a `SELECT` takes before it decides
//!   (empty on SQLite).
//!
//! Placeholders are `$n` throughout: PostgreSQL's own, and SQLite reads `$n` as parameter `n`.
//! How the statements stay safe when many replicas race is explained in `postgres.rs`; on
//! SQLite, `BEGIN IMMEDIATE` makes every write transaction run alone.

use super::{lock_key, Db, This, Tx, ROW_LOCK, SKIP_LOCKED};
use crate::changes::Change;
use crate::rows::{
    AssetRow, AttemptRow, BalanceRow, CallbackJobRow, CallbackRow, IdempotencyRow, KeyRow,
    LedgerRow, TaskFactsRow, TaskRow, ASSET_COLUMNS, KEY_COLUMNS, TASK_COLUMNS,
};
use crate::transitions::{self, END_LEASE};
use crate::*;
use seedgate_core::ledger::EntryKind;
use seedgate_core::task::{FailureKind, HoldResolution, TaskStatus, Transition};
use seedgate_core::webhook::{wants_status_callbacks, CallbackEvent};
use std::sync::LazyLock;

mod accounts;
mod alerts;
mod assets;
mod callbacks;
mod gauges;
mod idempotency;
mod ledger;
mod queue;
mod retention;
mod task_admin;
mod tasks;
mod timeline;
mod usage;

/// Locks a key's transactions of one kind take, so that they run one at a time.
#[derive(Debug, Clone, Copy)]
pub(super) enum KeyLock {
    /// At most one current webhook secret per key.
    WebhookSecrets,
    /// The asset quota, a sum over rows that may not exist yet.
    AssetQuota,
    /// The open alert of one kind and subject: its crossing number is read, then written.
    AlertCrossing,
}

fn to_i64(v: u64, what: &str) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range")))
}

fn task_from(row: TaskRow) -> StoreResult<Task> {
    Task::try_from(row)
}

/// The statements a fenced end of a task runs, one per transition that ends a task.
struct Endings {
    complete: String,
    fail: String,
    cancel: String,
    abandon: String,
    /// An operator's cancel of a running task, fenced by the lease token it read.
    stop: String,
}

static ENDINGS: LazyLock<Endings> = LazyLock::new(|| {
    // `$6` is the lease token a worker must still hold (NULL for a queued task, which has none).
    let end = |t: Transition| {
        transitions::update(
            t,
            &format!(
                "output_json = COALESCE($1, output_json), error_kind = $2, error_message = $3, \
                 finished_at_ms = $4, updated_at_ms = $4, {END_LEASE}"
            ),
            "id = $5 AND (CAST($6 AS TEXT) IS NULL OR lease_token = $6)",
            "",
        )
    };
    Endings {
        complete: end(Transition::Complete),
        fail: end(Transition::Fail),
        cancel: end(Transition::Cancel),
        abandon: end(Transition::Abandon),
        stop: end(Transition::Stop),
    }
});

/// Resolves a task's hold inside `tx`. The unique index on resolutions makes a second
/// resolution fail, so a race can never refund (or settle) twice.
async fn resolve_hold(
    tx: &mut Tx,
    task_id: &str,
    resolution: HoldResolution,
    now: i64,
) -> StoreResult<u64> {
    let (account, key, hold, held_at): (String, Option<String>, i64, i64) = sqlx::query_as(
        "SELECT account_id, api_key_id, amount, created_at_ms FROM ledger_entries \
         WHERE task_id = $1 AND kind = 'hold'",
    )
    .bind(task_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::Corrupt(format!("task {task_id} has no hold")))?;
    let held = -hold;
    let kind = EntryKind::from(resolution);
    // A settle charges the whole hold (prices are exact up front); a release returns all of it.
    let amount = match resolution {
        HoldResolution::Settle => 0,
        HoldResolution::Release => held,
    };
    // The balance row is locked before the entry is appended, so that the account's entries
    // are numbered in the order its balance moved.
    if amount != 0 {
        sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2")
            .bind(amount)
            .bind(&account)
            .execute(&mut **tx)
            .await?;
        // What comes back was not spent: the budgets of the day the task was created get it back.
        add_spend(
            tx,
            &account,
            key.as_deref().unwrap_or_default(),
            seedgate_core::accounts::utc_day(held_at),
            -amount,
        )
        .await?;
    }
    sqlx::query(
        "INSERT INTO ledger_entries (account_id, api_key_id, task_id, kind, amount, \
         created_at_ms) VALUES ($6, $1, $2, $3, $4, $5)",
    )
    .bind(&key)
    .bind(task_id)
    .bind(kind.as_str())
    .bind(amount)
    .bind(now)
    .bind(&account)
    .execute(&mut **tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("task {task_id} hold already resolved"))
        }
        _ => StoreError::Database(e),
    })?;
    Ok(u64::try_from(held).unwrap_or(0))
}

/// Ends a task in `status` and resolves its hold, inside `tx`. `fence` is the lease token a
/// worker must still hold; without one only a queued task may end (cancel, abandon). `None`
/// when the task was not where the transition starts (another writer got there first); else
/// what ended, to be counted ([`crate::observability::Ended::count`]) once the transaction
/// commits.
pub(super) async fn end_task(
    tx: &mut Tx,
    id: &str,
    fence: Option<&str>,
    status: TaskStatus,
    output: Option<&TaskOutput>,
    error: Option<&TaskError>,
    now: i64,
) -> StoreResult<Option<crate::observability::Ended>> {
    let sql = match Transition::ending_in(status, fence.is_some()) {
        Some(Transition::Complete) => &ENDINGS.complete,
        Some(Transition::Fail) => &ENDINGS.fail,
        Some(Transition::Cancel) => &ENDINGS.cancel,
        Some(Transition::Abandon) => &ENDINGS.abandon,
        Some(Transition::Stop) => &ENDINGS.stop,
        _ => {
            return Err(StoreError::Conflict(format!(
                "no transition ends a task in {}",
                status.as_str()
            )))
        }
    };
    let output_json = output
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // The guarded update locks the row; a racing transition re-reads it and updates nothing.
    let result = sqlx::query(sql)
        .bind(output_json)
        .bind(error.map(|e| e.kind.as_str()))
        .bind(error.map(|e| e.message.as_str()))
        .bind(now)
        .bind(id)
        .bind(fence)
        .execute(&mut **tx)
        .await?;
    if result.rows_affected() != 1 {
        return Ok(None);
    }
    let credits = match status.hold_resolution() {
        Some(resolution) => resolve_hold(tx, id, resolution, now).await?,
        None => 0,
    };
    // Ended: its entries and the values they are reported under are final.
    usage::roll_up(tx, id).await?;
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
    Ok(Some(crate::observability::Ended { status, credits }))
}

/// Writes a task's callback for `event` to the outbox (once: a second write of the same event
/// does nothing), when the task has a callback URL.
async fn queue_callback(
    tx: &mut Tx,
    task_id: &str,
    event: CallbackEvent,
    now: i64,
) -> StoreResult<()> {
    // The receiving host is kept apart so the dispatcher can share its attention fairly.
    let url: Option<Option<String>> =
        sqlx::query_scalar("SELECT callback_url FROM tasks WHERE id = $1")
            .bind(task_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(Some(url)) = url else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO callbacks (id, task_id, event, account_id, api_key_id, url, host, dialect, \
         state, attempts, next_attempt_at_ms, created_at_ms) \
         SELECT $1, id, $2, account_id, api_key_id, callback_url, $5, origin_dialect, 'pending', \
         0, $3, $3 FROM tasks WHERE id = $4 \
         ON CONFLICT (task_id, event) DO NOTHING",
    )
    .bind(event.callback_id(task_id))
    .bind(event.as_str())
    .bind(now)
    .bind(task_id)
    .bind(seedgate_core::webhook::receiver_host(&url))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Checks a new task of `task.api_key_id` against its key's and its account's limits and
/// budgets and takes its hold from the account's balance, inside `tx`. The first statement
/// locks the account's row, so racing submits of one account (on any replica) run this one at
/// a time, each counting what the previous ones left.
async fn admit(tx: &mut Tx, task: &Task, price: i64) -> StoreResult<Admission> {
    use seedgate_core::accounts::{check_counted, utc_day, Gcra, Policy, Scope};
    // The guard: the balance must cover the hold and the key must be live, checked and taken in
    // one statement, which also reads both policies (the diagnosis below runs only on refusal).
    let policies: Option<(String, String)> = sqlx::query_as(
        "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1 \
         AND EXISTS (SELECT 1 FROM api_keys WHERE id = $3 AND revoked_at_ms IS NULL) \
         RETURNING policy_json, (SELECT policy_json FROM api_keys WHERE id = $3)",
    )
    .bind(price)
    .bind(task.account_id.as_str())
    .bind(task.api_key_id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((account_policy, key_policy)) = policies else {
        let key: Option<Option<i64>> =
            sqlx::query_scalar("SELECT revoked_at_ms FROM api_keys WHERE id = $1")
                .bind(task.api_key_id.as_str())
                .fetch_optional(&mut **tx)
                .await?;
        let available: Option<i64> =
            sqlx::query_scalar("SELECT balance FROM accounts WHERE id = $1")
                .bind(task.account_id.as_str())
                .fetch_optional(&mut **tx)
                .await?;
        return Err(match (key, available) {
            (None, _) | (_, None) => StoreError::NotFound,
            (Some(Some(_revoked)), _) => StoreError::Revoked,
            (Some(None), Some(available)) => StoreError::InsufficientCredits { available },
        });
    };
    let parse = |json: &str, whose: &str| {
        serde_json::from_str::<Policy>(json)
            .map_err(|e| StoreError::Corrupt(format!("{whose} policy: {e}")))
    };
    let scopes = [
        (
            Scope::Key,
            task.api_key_id.as_str(),
            parse(&key_policy, "key")?,
        ),
        (
            Scope::Account,
            task.account_id.as_str(),
            parse(&account_policy, "account")?,
        ),
    ];
    let now = task.created_at_ms;
    let day = utc_day(now);
    let cost = u64::try_from(price).unwrap_or(0);
    let mut admission = Admission::default();
    for (scope, owner, policy) in &scopes {
        let limits = &policy.limits;
        if !limits.guards_submits() {
            continue;
        }
        let usage = accounts::usage_in(tx, owner, *scope == Scope::Key, day).await?;
        check_counted(*scope, limits, &usage, cost, day).map_err(StoreError::Limited)?;
        if let Some(rate) = limits.submit_rate {
            let tat: Option<i64> = sqlx::query_scalar(
                "SELECT tat_ms FROM rate_limits WHERE owner_id = $1 AND name = 'submit'",
            )
            .bind(owner)
            .fetch_optional(&mut **tx)
            .await?;
            let (tat, state) = Gcra::new(rate).check(tat, now).map_err(|wait| {
                StoreError::Limited(seedgate_core::accounts::LimitRefusal::SubmitRate {
                    scope: *scope,
                    rate,
                    retry_after_ms: wait,
                })
            })?;
            sqlx::query(
                "INSERT INTO rate_limits (owner_id, name, tat_ms) VALUES ($1, 'submit', $2) \
                 ON CONFLICT (owner_id, name) DO UPDATE SET tat_ms = excluded.tat_ms",
            )
            .bind(owner)
            .bind(tat)
            .execute(&mut **tx)
            .await?;
            admission.submit_rates.push((*scope, rate, state));
        }
    }
    // What budgets count: the price, on the day the task was created, for the key and the
    // account (a refund takes it back from that day).
    add_spend(
        tx,
        task.account_id.as_str(),
        task.api_key_id.as_str(),
        day,
        price,
    )
    .await?;
    Ok(admission)
}

/// Adds `credits` (negative: takes them back) to two owners' spend on `day`.
async fn add_spend(
    tx: &mut Tx,
    account: &str,
    key: &str,
    day: i64,
    credits: i64,
) -> StoreResult<()> {
    if credits == 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO spend_daily (owner_id, day, credits) VALUES ($1, $3, $4), ($2, $3, $4) \
         ON CONFLICT (owner_id, day) DO UPDATE SET credits = spend_daily.credits + excluded.credits",
    )
    .bind(account)
    .bind(key)
    .bind(day)
    .bind(credits)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts a queued task once [`admit`] lets it through, takes its hold and completes its
/// Idempotency-Key, inside `tx`.
pub(super) async fn insert_task(
    tx: &mut Tx,
    task: &Task,
    idempotency: Option<IdempotencyCompletion>,
) -> StoreResult<Admission> {
    let price = to_i64(task.price.credits, "price")?;
    let request_json =
        serde_json::to_string(&task.request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let admission = admit(tx, task, price).await?;
    sqlx::query(
        "INSERT INTO tasks (id, api_key_id, model, requested_model, origin_dialect, request_json, \
         status, price_credits, billable_seconds, micro_usd_per_second, attempt, next_run_at_ms, \
         created_at_ms, updated_at_ms, callback_url, account_id) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, 0, $10, $10, $10, $11, $12)",
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
    .bind(task.account_id.as_str())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO ledger_entries (account_id, api_key_id, task_id, kind, amount, \
         created_at_ms) VALUES ($5, $1, $2, 'hold', $3, $4)",
    )
    .bind(task.api_key_id.as_str())
    .bind(task.id.as_str())
    .bind(-price)
    .bind(task.created_at_ms)
    .bind(task.account_id.as_str())
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
    Ok(admission)
}

impl This {
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
        let ended = end_task(
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
        let Some(ended) = ended else {
            return Ok(false);
        };
        self.task_ended(id.as_str(), ended);
        Ok(true)
    }

    /// A task's ending committed: counted in the metrics, and published, since copies of the
    /// task are stale and its final callback is due.
    fn task_ended(&self, id: &str, ended: crate::observability::Ended) {
        ended.count();
        self.feed.task_str(id);
        self.feed.publish([Change::CallbacksDue]);
    }

    /// A fenced statement on task `id` and, if it applied, `event` on its timeline, in one
    /// transaction; whether it applied. The task's change is published.
    async fn fenced_noting<'q>(
        &self,
        id: &TaskId,
        query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
        event: Option<&seedgate_core::timeline::TaskEvent>,
    ) -> StoreResult<bool> {
        let applied = match event {
            None => self.fenced(query).await?,
            Some(event) => {
                let mut tx = self.write_tx().await?;
                let applied = query.execute(&mut *tx).await?.rows_affected() == 1;
                if applied {
                    timeline::append(&mut tx, id.as_str(), now_ms(), event).await?;
                }
                tx.commit().await?;
                applied
            }
        };
        if applied {
            self.feed.task(id);
        }
        Ok(applied)
    }

    /// A fenced statement (`… WHERE id = $n AND lease_token = $m`) ran: whether it applied.
    async fn fenced<'q>(
        &self,
        query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
    ) -> StoreResult<bool> {
        Ok(self.write_one(query).await?.rows_affected() == 1)
    }
}

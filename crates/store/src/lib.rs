//! Persistence, in two SQL backends behind a few capability traits ([`KeyStore`],
//! [`TaskStore`], [`TaskQueue`], [`CallbackOutbox`], [`IdempotencyStore`], [`AssetStore`],
//! [`LedgerStore`], [`ServerSecrets`]; [`Store`] is all of them). The tasks table doubles as
//! the work queue (claimed with leases and fenced by lease token); the ledger is append-only and
//! guarded by unique indexes so that money cannot move twice. SQLite is the embedded default.
//!
//! Both backends run the same queries: `rows.rs` maps rows to records once, `shared/` holds
//! every statement and is compiled once per backend, and `sqlite.rs` / `postgres.rs` hold only
//! what truly differs (connections, transactions and locks, group commit, migrations).

pub mod postgres;
mod rows;
pub mod sqlite;
mod transitions;

use async_trait::async_trait;
use seedgate_core::ids::{ApiKeyId, TaskId};
use seedgate_core::ledger::{CachedBalance, LedgerEntry, TaskFacts};
use seedgate_core::task::{Task, TaskError, TaskOutput};
use std::collections::HashMap;
use std::time::Duration;

/// Every capability trait, for code that uses the whole store (tests, tools).
pub mod prelude {
    pub use crate::{
        AssetStore, CallbackOutbox, IdempotencyStore, KeyStore, LedgerStore, ServerSecrets, Store,
        TaskQueue, TaskStore,
    };
}

pub use seedgate_core::records::{
    AssetRecord, CallbackAttempt, CallbackRecord, CallbackState, StoredResponse, TaskPage,
    TaskQuery,
};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("insufficient credits: {available} available")]
    InsufficientCredits { available: i64 },
    #[error("not found")]
    NotFound,
    #[error("the API key has been revoked")]
    Revoked,
    #[error("storage quota exceeded: {used} of {quota} bytes used")]
    QuotaExceeded { used: u64, quota: u64 },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub name: String,
    pub key_prefix: String,
    pub balance: i64,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// What claiming an Idempotency-Key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is ours now; finish with `create_task` (or `release_idempotency` on failure).
    Claimed,
    /// The same request completed before: replay this.
    Replay(StoredResponse),
    /// The same key is held by a request still in progress.
    InFlight,
    /// The key was used with a different request.
    Mismatch,
}

/// An Idempotency-Key to complete inside the task's own transaction.
#[derive(Debug, Clone)]
pub struct IdempotencyCompletion {
    pub key: String,
    pub response: StoredResponse,
}

/// A task a worker holds. `lease_token` fences every later write: a worker that lost its lease
/// cannot complete or fail the task.
#[derive(Debug, Clone)]
pub struct ClaimedTask {
    pub task: Task,
    pub lease_token: String,
    pub provider_job_id: Option<String>,
    /// Set when a submit to `task.provider` may have been sent but its answer was never
    /// recorded: the Idempotency-Key it carried. Such a task is reconciled, not resubmitted.
    pub submit_key: Option<String>,
}

/// A callback due for delivery, leased to one dispatcher. `lease_token` fences the result.
#[derive(Debug, Clone)]
pub struct CallbackJob {
    /// The `webhook-id`, constant across attempts.
    pub id: String,
    pub task_id: TaskId,
    pub api_key_id: ApiKeyId,
    pub url: String,
    /// The dialect the task was created in: the callback's body is that dialect's.
    pub dialect: String,
    /// What it reports: the body is the task as it stood then.
    pub event: seedgate_core::webhook::CallbackEvent,
    /// Attempts made before this one.
    pub attempts: u32,
    pub lease_token: String,
}

/// What an attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackResolution {
    Delivered,
    /// Try again at this time (Unix ms).
    RetryAt(i64),
    Exhausted,
    Gone,
}

#[derive(Debug, Clone, Default)]
pub struct LedgerDump {
    pub entries: Vec<LedgerEntry>,
    pub tasks: Vec<TaskFacts>,
    pub balances: Vec<CachedBalance>,
}

/// API keys and their balances.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    async fn create_api_key(
        &self,
        name: &str,
        key_hash: &str,
        key_prefix: &str,
        credits: i64,
    ) -> StoreResult<ApiKeyRecord>;
    async fn find_api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// By id or by name.
    async fn find_api_key(&self, id_or_name: &str) -> StoreResult<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    async fn count_api_keys(&self) -> StoreResult<u64>;
    async fn revoke_api_key(&self, id: &ApiKeyId) -> StoreResult<()>;
    /// Adds (or, negative, removes) credits. Fails rather than drive the balance below zero.
    async fn grant_credits(&self, id: &ApiKeyId, amount: i64, note: &str) -> StoreResult<i64>;
}

/// Idempotency-Key records: a retried submit replays the first answer.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `(api_key, key)` for a request with `fingerprint`. An in-progress claim older than
    /// `stale_after` (its request died) is taken over.
    async fn claim_idempotency_key(
        &self,
        api_key: &ApiKeyId,
        key: &str,
        fingerprint: &str,
        stale_after: Duration,
    ) -> StoreResult<IdempotencyClaim>;
    /// Drops an in-progress claim whose request ended without creating anything.
    async fn release_idempotency_key(&self, api_key: &ApiKeyId, key: &str) -> StoreResult<()>;
    /// Deletes records older than `retention`; returns how many.
    async fn prune_idempotency_keys(&self, retention: Duration) -> StoreResult<u64>;
}

/// Tasks as their owners see them: created, read, listed, cancelled, deleted.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Inserts a queued task, places its hold and completes its Idempotency-Key, atomically.
    async fn create_task(
        &self,
        task: &Task,
        idempotency: Option<IdempotencyCompletion>,
    ) -> StoreResult<()>;
    /// A task of this key (another key's task is `None`).
    async fn get_task(&self, id: &TaskId, api_key: &ApiKeyId) -> StoreResult<Option<Task>>;
    async fn list_tasks(&self, api_key: &ApiKeyId, query: &TaskQuery) -> StoreResult<TaskPage>;
    /// Cancels a queued task of this key and releases its hold.
    async fn cancel_task(&self, id: &TaskId, api_key: &ApiKeyId) -> StoreResult<Task>;
    /// Deletes the record of a finished task: it is no longer read or listed. Its ledger
    /// entries stay. A task that is not finished is a `Conflict`.
    async fn delete_task(&self, id: &TaskId, api_key: &ApiKeyId) -> StoreResult<()>;
    /// A task by id whoever owns it, deleted or not: for callback delivery only.
    async fn load_task(&self, id: &TaskId) -> StoreResult<Option<Task>>;
}

/// The work queue: tasks claimed under leases, every later write fenced by the lease token.
#[async_trait]
pub trait TaskQueue: Send + Sync + 'static {
    /// Claims the next runnable task: a queued one that is due, or a running one whose lease
    /// expired (its worker died). A rescued task that used up `max_attempts` fails and is
    /// refunded instead of being returned.
    async fn claim_task(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: u32,
    ) -> StoreResult<Option<ClaimedTask>>;
    /// Extends a lease; `false` when the lease was lost (fenced).
    async fn renew_lease(
        &self,
        id: &TaskId,
        lease_token: &str,
        lease: Duration,
    ) -> StoreResult<bool>;
    /// Remembers the provider's job id so a re-claimed task resumes instead of resubmitting.
    async fn record_provider_job(
        &self,
        id: &TaskId,
        lease_token: &str,
        provider: &str,
        job_id: &str,
    ) -> StoreResult<bool>;
    /// Write-ahead record of an upstream submit: `Some((account, idempotency_key))` before the
    /// request is sent; `None` once the account is known not to have taken it (and after a
    /// failover). `false` when fenced out.
    async fn record_submit_intent(
        &self,
        id: &TaskId,
        lease_token: &str,
        intent: Option<(&str, &str)>,
    ) -> StoreResult<bool>;
    /// Running tasks per provider account, across every replica.
    async fn running_tasks_by_provider(&self) -> StoreResult<HashMap<String, u64>>;
    /// Puts a claimed task back in the queue for `delay` without using up an attempt (no
    /// account could take it yet). `false` when fenced out.
    async fn defer_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        delay: Duration,
    ) -> StoreResult<bool>;
    /// Succeeds a running task and settles its hold; `false` when fenced out.
    async fn complete_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        output: &TaskOutput,
    ) -> StoreResult<bool>;
    /// Fails a running task and releases its hold; `false` when fenced out.
    async fn fail_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        error: &TaskError,
    ) -> StoreResult<bool>;
    /// Hands a running task back to the queue at once, not counting the interrupted attempt
    /// (graceful shutdown); `false` when fenced out.
    async fn release_lease(&self, id: &TaskId, lease_token: &str) -> StoreResult<bool>;
    /// Puts a running task back in the queue to retry after `delay`; `false` when fenced out.
    async fn retry_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        delay: Duration,
        error: &TaskError,
    ) -> StoreResult<bool>;
}

/// The callback outbox (written in the transaction of the state it reports), its signing
/// secrets, and its delivery log.
#[async_trait]
pub trait CallbackOutbox: Send + Sync + 'static {
    /// The key's active signing secrets, newest first (two during a rotation).
    async fn webhook_secrets(&self, api_key: &ApiKeyId) -> StoreResult<Vec<String>>;
    /// The key's current secret; `candidate` becomes it if the key has none yet.
    async fn ensure_webhook_secret(
        &self,
        api_key: &ApiKeyId,
        candidate: &str,
    ) -> StoreResult<String>;
    /// Makes `secret` current; the previous one keeps signing for `overlap`.
    async fn rotate_webhook_secret(
        &self,
        api_key: &ApiKeyId,
        secret: &str,
        overlap: Duration,
    ) -> StoreResult<()>;
    /// Leases up to `limit` callbacks that are due.
    async fn claim_callbacks(
        &self,
        owner: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<CallbackJob>>;
    /// Logs an attempt and applies its resolution; `false` when the lease was lost (another
    /// dispatcher owns the callback now, and this result is dropped).
    async fn record_callback_attempt(
        &self,
        job: &CallbackJob,
        attempt: &CallbackAttempt,
        resolution: CallbackResolution,
    ) -> StoreResult<bool>;
    /// Hands a leased callback back without an attempt, due again at `at_ms`.
    async fn defer_callback(&self, job: &CallbackJob, at_ms: i64) -> StoreResult<bool>;
    async fn callback_record(
        &self,
        task_id: &TaskId,
        api_key: &ApiKeyId,
    ) -> StoreResult<Option<CallbackRecord>>;
    /// Makes a task's callback due now, whatever its state (a manual redelivery).
    async fn redeliver_callback(&self, task_id: &TaskId, api_key: &ApiKeyId) -> StoreResult<()>;
}

/// Files clients uploaded (their records; the bytes are in the blob store).
#[async_trait]
pub trait AssetStore: Send + Sync + 'static {
    /// Records an uploaded file, refusing it when the key's assets would exceed `quota_bytes`.
    async fn create_asset(&self, asset: &AssetRecord, quota_bytes: u64) -> StoreResult<()>;
    /// An asset of this key (another key's asset is `None`).
    async fn get_asset(&self, id: &str, api_key: &ApiKeyId) -> StoreResult<Option<AssetRecord>>;
}

/// The credit ledger, read whole for an audit.
#[async_trait]
pub trait LedgerStore: Send + Sync + 'static {
    async fn ledger_dump(&self) -> StoreResult<LedgerDump>;
}

/// Process-wide secrets every replica shares.
#[async_trait]
pub trait ServerSecrets: Send + Sync + 'static {
    /// The process-wide secret `name`, created from `candidate` by whichever replica asks
    /// first; every replica gets the same value.
    async fn server_secret(&self, name: &str, candidate: &str) -> StoreResult<String>;
}

/// Everything a backend provides. Callers that need one capability take that trait (an
/// `Arc<dyn Store>` coerces to any of them).
pub trait Store:
    KeyStore
    + IdempotencyStore
    + TaskStore
    + TaskQueue
    + CallbackOutbox
    + AssetStore
    + LedgerStore
    + ServerSecrets
{
}

impl<T> Store for T where
    T: KeyStore
        + IdempotencyStore
        + TaskStore
        + TaskQueue
        + CallbackOutbox
        + AssetStore
        + LedgerStore
        + ServerSecrets
{
}

use seedgate_core::clock::now_ms;

pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

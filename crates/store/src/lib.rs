//! Persistence, in two SQL backends behind a few capability traits ([`AccountStore`],
//! [`AdminStore`],
//! [`TaskStore`], [`TaskQueue`], [`CallbackOutbox`], [`IdempotencyStore`], [`AssetStore`],
//! [`LedgerStore`], [`ServerSecrets`]; [`Store`] is all of them). The tasks table doubles as
//! the work queue (claimed with leases and fenced by lease token); the ledger is append-only and
//! guarded by unique indexes so that money cannot move twice. SQLite is the embedded default.
//!
//! Both backends run the same queries: `rows.rs` maps rows to records once, `shared/` holds
//! every statement and is compiled once per backend, and `sqlite.rs` / `postgres.rs` hold only
//! what truly differs (connections, transactions and locks, group commit, migrations).

pub mod alerts;
pub mod changes;
mod group_commit;
pub mod observability;
pub mod postgres;
pub mod retention;
mod rows;
pub mod sqlite;
pub mod task_admin;
pub mod timeline;
mod transitions;
pub mod usage;

use async_trait::async_trait;
use seedgate_core::accounts::{LimitRefusal, Policy, RateState, Usage};
use seedgate_core::ids::{AccountId, AdminTokenId, ApiKeyId, TaskId};
use seedgate_core::ledger::{CachedBalance, LedgerEntry, TaskFacts};
use seedgate_core::task::{Task, TaskError, TaskOutput};
use std::collections::HashMap;
use std::time::Duration;

/// Every capability trait, for code that uses the whole store (tests, tools).
pub mod prelude {
    pub use crate::alerts::AlertStore;
    pub use crate::changes::ChangeSource;
    pub use crate::retention::RetentionStore;
    pub use crate::task_admin::TaskAdminStore;
    pub use crate::timeline::TaskTimelines;
    pub use crate::usage::UsageStore;
    pub use crate::{
        AccountStore, AdminStore, AssetStore, CallbackOutbox, IdempotencyStore, LedgerStore,
        ServerSecrets, Store, TaskQueue, TaskStore,
    };
}

pub use seedgate_core::records::{
    AssetRecord, CallbackAttempt, CallbackRecord, CallbackState, StoredResponse, TaskPage,
    TaskQuery,
};

pub use group_commit::urgent;
pub use observability::QueueGauges;
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
    /// A limit or budget of the key or its account refused a new task; nothing was written.
    #[error("{0}")]
    Limited(LimitRefusal),
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
    /// The disk holding the database is full: nothing was written, and the same write
    /// succeeds once space is freed.
    #[error("storage is full")]
    StorageFull,
}

impl StoreError {
    /// A full disk: SQLite's `SQLITE_FULL` (13, what it answers when a write meets `ENOSPC`)
    /// or PostgreSQL's `disk_full` (53100), or [`StoreError::StorageFull`] itself.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::StorageFull => true,
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("13" | "53100"))
            }
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An account: it holds the balance, the budgets, the limits and the tasks of its keys.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AccountRecord {
    pub id: AccountId,
    pub name: String,
    pub balance: i64,
    pub policy: Policy,
    pub created_at_ms: i64,
}

/// An API key of an account (never the key itself: only its hash is stored).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub account_id: AccountId,
    pub name: String,
    pub key_prefix: String,
    pub policy: Policy,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// A key presented by a client, with its account: what authentication needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub key: ApiKeyRecord,
    pub account: AccountRecord,
}

/// Who made an admin write, for the audit log: `token:adm_… (name)`, or `cli`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

/// What an operator may do with a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    Admin,
    /// Reads only.
    Viewer,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Admin => "admin",
            AdminRole::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AdminRole::Admin, AdminRole::Viewer]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AdminTokenRecord {
    pub id: AdminTokenId,
    pub name: String,
    pub token_prefix: String,
    pub role: AdminRole,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// One admin write: who, when, what, and the record before and after.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// An owner's current use of what its limits count, with its submit rate's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnerUsage {
    pub usage: Usage,
    /// The submit rate's stored theoretical arrival time, if a submit was ever counted.
    pub submit_tat_ms: Option<i64>,
}

/// What a key or an account changes to: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub name: Option<String>,
    pub policy: Option<Policy>,
}

/// A submit the limits let through: the submit rates' states after it, for the `RateLimit`
/// headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    pub submit_rates: Vec<(
        seedgate_core::accounts::Scope,
        seedgate_core::accounts::Rate,
        RateState,
    )>,
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
    pub account_id: AccountId,
    pub api_key_id: ApiKeyId,
    pub url: String,
    /// The receiver's host (and port): dispatch is fair across hosts as across accounts.
    pub host: String,
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

/// Accounts, their keys, and the credits they hold.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// A key in a new account of its own (named like the key) holding `credits`: the one-step
    /// setup of a single-key tenant.
    async fn create_api_key(
        &self,
        name: &str,
        key_hash: &str,
        key_prefix: &str,
        credits: i64,
    ) -> StoreResult<ApiKeyRecord>;
    async fn create_account(
        &self,
        name: &str,
        policy: &Policy,
        credits: i64,
        actor: &Actor,
    ) -> StoreResult<AccountRecord>;
    /// A new key of an existing account.
    async fn add_api_key(
        &self,
        account: &AccountId,
        name: &str,
        key_hash: &str,
        key_prefix: &str,
        policy: &Policy,
        actor: &Actor,
    ) -> StoreResult<ApiKeyRecord>;
    async fn find_credential(&self, key_hash: &str) -> StoreResult<Option<Credential>>;
    /// By id or by name.
    async fn find_api_key(&self, id_or_name: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// By id or by name.
    async fn find_account(&self, id_or_name: &str) -> StoreResult<Option<AccountRecord>>;
    /// Every key, or an account's.
    async fn list_api_keys(&self, account: Option<&AccountId>) -> StoreResult<Vec<ApiKeyRecord>>;
    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>>;
    async fn count_api_keys(&self) -> StoreResult<u64>;
    async fn revoke_api_key(&self, id: &ApiKeyId, actor: &Actor) -> StoreResult<ApiKeyRecord>;
    async fn update_api_key(
        &self,
        id: &ApiKeyId,
        changes: &Changes,
        actor: &Actor,
    ) -> StoreResult<ApiKeyRecord>;
    /// Replaces a key's secret: the old one stops working, the id and policy stay.
    async fn rotate_api_key(
        &self,
        id: &ApiKeyId,
        key_hash: &str,
        key_prefix: &str,
        actor: &Actor,
    ) -> StoreResult<ApiKeyRecord>;
    async fn update_account(
        &self,
        id: &AccountId,
        changes: &Changes,
        actor: &Actor,
    ) -> StoreResult<AccountRecord>;
    /// Adds (or, negative, removes) credits with one ledger entry. Fails rather than drive
    /// the balance below zero.
    async fn grant_credits(
        &self,
        account: &AccountId,
        amount: i64,
        note: &str,
        actor: &Actor,
    ) -> StoreResult<i64>;
    /// What an account's (or, with `key`, a key's) limits count right now.
    async fn owner_usage(&self, owner: &str, is_key: bool, now_ms: i64) -> StoreResult<OwnerUsage>;
}

/// Admin tokens (which are not API keys) and the audit log of admin writes.
#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    async fn create_admin_token(
        &self,
        name: &str,
        token_hash: &str,
        token_prefix: &str,
        role: AdminRole,
        actor: &Actor,
    ) -> StoreResult<AdminTokenRecord>;
    async fn find_admin_token(&self, token_hash: &str) -> StoreResult<Option<AdminTokenRecord>>;
    async fn list_admin_tokens(&self) -> StoreResult<Vec<AdminTokenRecord>>;
    async fn revoke_admin_token(
        &self,
        id_or_name: &str,
        actor: &Actor,
    ) -> StoreResult<AdminTokenRecord>;
    /// Audit entries after `after_seq`, oldest first; only `target`'s when given.
    async fn admin_audit(
        &self,
        after_seq: i64,
        limit: u32,
        target: Option<&str>,
    ) -> StoreResult<Vec<AuditEntry>>;
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
}

/// Tasks as their owners see them: created, read, listed, cancelled, deleted.
#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Inserts a queued task, places its hold and completes its Idempotency-Key, atomically,
    /// once the key's and the account's limits and budgets (read in the same transaction,
    /// under the account's lock) let it through; refused with [`StoreError::Limited`], it
    /// writes nothing.
    async fn create_task(
        &self,
        task: &Task,
        idempotency: Option<IdempotencyCompletion>,
    ) -> StoreResult<Admission>;
    /// A task of this account (another account's task is `None`).
    async fn get_task(&self, id: &TaskId, account: &AccountId) -> StoreResult<Option<Task>>;
    async fn list_tasks(&self, account: &AccountId, query: &TaskQuery) -> StoreResult<TaskPage>;
    /// Cancels a queued task of this account and releases its hold.
    async fn cancel_task(&self, id: &TaskId, account: &AccountId) -> StoreResult<Task>;
    /// Deletes the record of a finished task: it is no longer read or listed. Its ledger
    /// entries stay. A task that is not finished is a `Conflict`.
    async fn delete_task(&self, id: &TaskId, account: &AccountId) -> StoreResult<()>;
    /// A task by id whoever owns it, deleted or not: for callback delivery only.
    async fn load_task(&self, id: &TaskId) -> StoreResult<Option<Task>>;
    /// The tasks of these ids that exist, in no particular order, in one read: for a batch of
    /// callbacks.
    async fn load_tasks(&self, ids: &[TaskId]) -> StoreResult<Vec<Task>>;
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
    ) -> StoreResult<Option<ClaimedTask>> {
        Ok(self
            .claim_tasks(worker, lease, max_attempts, 1)
            .await?
            .pop())
    }
    /// Claims up to `limit` runnable tasks in one transaction, in the order `claim_task` would
    /// take them one by one (rescues first, then the accounts in turn); fewer when fewer are due.
    async fn claim_tasks(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: u32,
        limit: usize,
    ) -> StoreResult<Vec<ClaimedTask>>;
    /// Extends a lease; `false` when the lease was lost (fenced).
    async fn renew_lease(
        &self,
        id: &TaskId,
        lease_token: &str,
        lease: Duration,
    ) -> StoreResult<bool>;
    /// Remembers the provider's job id so a re-claimed task resumes instead of resubmitting;
    /// `event`, if any, joins the task's timeline in the same transaction.
    async fn record_provider_job(
        &self,
        id: &TaskId,
        lease_token: &str,
        provider: &str,
        job_id: &str,
        event: Option<&seedgate_core::timeline::TaskEvent>,
    ) -> StoreResult<bool>;
    /// Write-ahead record of an upstream submit: `Some((account, idempotency_key))` before the
    /// request is sent; `None` once the account is known not to have taken it (and after a
    /// failover). `false` when fenced out. `event`, if any, joins the task's timeline in the
    /// same transaction.
    async fn record_submit_intent(
        &self,
        id: &TaskId,
        lease_token: &str,
        intent: Option<(&str, &str)>,
        event: Option<&seedgate_core::timeline::TaskEvent>,
    ) -> StoreResult<bool>;
    /// Running tasks per provider account, across every replica.
    async fn running_tasks_by_provider(&self) -> StoreResult<HashMap<String, u64>>;
    /// The queue's gauges for the metrics, across every replica, as of `now_ms`.
    async fn queue_gauges(&self, now_ms: i64) -> StoreResult<QueueGauges>;
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
    ) -> StoreResult<bool> {
        let recorded = self
            .record_callback_attempts(&[(job, attempt, resolution)])
            .await?;
        Ok(recorded.first().copied().unwrap_or(false))
    }
    /// Logs several attempts in one transaction (one commit, one sync to disk, however many),
    /// each fenced by its own lease as [`Self::record_callback_attempt`] fences one; for each,
    /// whether it was recorded.
    async fn record_callback_attempts(
        &self,
        attempts: &[(&CallbackJob, &CallbackAttempt, CallbackResolution)],
    ) -> StoreResult<Vec<bool>>;
    /// Hands a leased callback back without an attempt, due again at `at_ms`.
    async fn defer_callback(&self, job: &CallbackJob, at_ms: i64) -> StoreResult<bool>;
    async fn callback_record(
        &self,
        task_id: &TaskId,
        account: &AccountId,
    ) -> StoreResult<Option<CallbackRecord>>;
    /// Makes a task's callback due now, whatever its state (a manual redelivery).
    async fn redeliver_callback(&self, task_id: &TaskId, account: &AccountId) -> StoreResult<()>;
}

/// Files clients uploaded (their records; the bytes are in the blob store).
#[async_trait]
pub trait AssetStore: Send + Sync + 'static {
    /// Records an uploaded file, refusing it when the account's assets would exceed
    /// `quota_bytes`.
    async fn create_asset(&self, asset: &AssetRecord, quota_bytes: u64) -> StoreResult<()>;
    /// An asset of this account (another account's asset is `None`).
    async fn get_asset(&self, id: &str, account: &AccountId) -> StoreResult<Option<AssetRecord>>;
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
    AccountStore
    + alerts::AlertStore
    + changes::ChangeSource
    + retention::RetentionStore
    + task_admin::TaskAdminStore
    + timeline::TaskTimelines
    + usage::UsageStore
    + AdminStore
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
    T: AccountStore
        + alerts::AlertStore
        + changes::ChangeSource
        + retention::RetentionStore
        + task_admin::TaskAdminStore
        + timeline::TaskTimelines
        + usage::UsageStore
        + AdminStore
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

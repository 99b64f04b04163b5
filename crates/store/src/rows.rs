//! The row model, shared by both backends: one struct per row shape a query reads, decoded by
//! `sqlx::FromRow` (generic over the row type, so the same derive serves SQLite and
//! PostgreSQL), and one conversion from each into the record the store's callers see. A value
//! that does not convert (an unknown status, a negative price) is [`StoreError::Corrupt`],
//! naming the row.

use crate::{
    AccountRecord, AdminRole, AdminTokenRecord, ApiKeyRecord, AssetRecord, AuditEntry,
    CallbackAttempt, CallbackJob, CallbackRecord, CallbackState, IdempotencyClaim, StoreError,
    StoreResult, StoredResponse,
};
use seedgate_core::accounts::Policy;
use seedgate_core::ids::{AccountId, AdminTokenId, ApiKeyId, TaskId};
use seedgate_core::ledger::{CachedBalance, EntryKind, LedgerEntry, TaskFacts};
use seedgate_core::pricing::Price;
use seedgate_core::task::{FailureKind, Task, TaskError, TaskOutput, TaskStatus};
use seedgate_core::webhook::CallbackEvent;

/// The columns [`TaskRow`] reads, in every query that reads a task.
pub(crate) const TASK_COLUMNS: &str =
    "id, account_id, api_key_id, requested_model, origin_dialect, request_json, status, \
     price_credits, billable_seconds, micro_usd_per_second, attempt, provider, provider_job_id, \
     output_json, error_kind, error_message, created_at_ms, updated_at_ms, started_at_ms, \
     finished_at_ms, submit_key, media_expired_at_ms";

/// The columns [`KeyRow`] reads.
pub(crate) const KEY_COLUMNS: &str =
    "id, account_id, name, key_prefix, policy_json, created_at_ms, revoked_at_ms";

/// The columns [`AccountRow`] reads.
pub(crate) const ACCOUNT_COLUMNS: &str = "id, name, balance, policy_json, created_at_ms";

/// The columns [`AdminTokenRow`] reads.
pub(crate) const ADMIN_TOKEN_COLUMNS: &str =
    "id, name, token_prefix, role, created_at_ms, revoked_at_ms";

/// The columns [`AssetRow`] reads.
pub(crate) const ASSET_COLUMNS: &str =
    "id, account_id, api_key_id, object_key, content_type, facts_json, created_at_ms, name";

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn unsigned<T: TryFrom<i64>>(value: i64, what: &str, row: &str) -> StoreResult<T> {
    T::try_from(value).map_err(|_| corrupt(format!("{row}: {what} {value} out of range")))
}

/// A `tasks` row ([`TASK_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    id: String,
    account_id: Option<String>,
    api_key_id: String,
    requested_model: String,
    origin_dialect: String,
    request_json: String,
    status: String,
    price_credits: i64,
    billable_seconds: i64,
    micro_usd_per_second: i64,
    attempt: i64,
    provider: Option<String>,
    pub provider_job_id: Option<String>,
    output_json: Option<String>,
    error_kind: Option<String>,
    error_message: Option<String>,
    created_at_ms: i64,
    updated_at_ms: i64,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
    pub submit_key: Option<String>,
    /// Set once retention expired the task's media: it then reads back without them.
    pub media_expired_at_ms: Option<i64>,
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;

    fn try_from(row: TaskRow) -> StoreResult<Task> {
        let name = format!("task {}", row.id);
        let json = |what: &str, e: serde_json::Error| corrupt(format!("{name}: {what}: {e}"));
        let request = serde_json::from_str(&row.request_json).map_err(|e| json("request", e))?;
        let status = TaskStatus::parse(&row.status)
            .ok_or_else(|| corrupt(format!("{name}: status {}", row.status)))?;
        let output = row
            .output_json
            .as_deref()
            .map(serde_json::from_str::<TaskOutput>)
            .transpose()
            .map_err(|e| json("output", e))?;
        // Media past retention are not handed out any more (their files are deleted once
        // every link to them has expired): the task keeps its sizes, not its files, and says
        // when they expired (each dialect renders that in its own terms).
        let output = match (output, row.media_expired_at_ms) {
            (Some(mut output), Some(expired_at_ms)) => {
                output.video_keys.clear();
                output.last_frame_key = None;
                output.media_expired_at_ms = Some(expired_at_ms);
                Some(output)
            }
            (output, _) => output,
        };
        let error = match row.error_kind {
            Some(kind) => Some(TaskError {
                kind: FailureKind::parse(&kind)
                    .ok_or_else(|| corrupt(format!("{name}: error kind {kind}")))?,
                message: row.error_message.unwrap_or_default(),
            }),
            None => None,
        };
        Ok(Task {
            price: Price {
                billable_seconds: unsigned(row.billable_seconds, "billable seconds", &name)?,
                credits: unsigned(row.price_credits, "price", &name)?,
                micro_usd_per_second: unsigned(row.micro_usd_per_second, "unit price", &name)?,
            },
            attempt: unsigned(row.attempt, "attempt", &name)?,
            account_id: AccountId::from_string(
                row.account_id
                    .ok_or_else(|| corrupt(format!("{name}: no account")))?,
            ),
            id: TaskId::from_string(row.id),
            api_key_id: ApiKeyId::from_string(row.api_key_id),
            request,
            requested_model: row.requested_model,
            origin_dialect: row.origin_dialect,
            status,
            created_at_ms: row.created_at_ms,
            updated_at_ms: row.updated_at_ms,
            started_at_ms: row.started_at_ms,
            finished_at_ms: row.finished_at_ms,
            output,
            error,
            provider: row.provider,
        })
    }
}

fn policy(json: &str, row: &str) -> StoreResult<Policy> {
    serde_json::from_str(json).map_err(|e| corrupt(format!("{row}: policy: {e}")))
}

/// An `api_keys` row ([`KEY_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    id: String,
    account_id: Option<String>,
    name: String,
    key_prefix: String,
    policy_json: String,
    created_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

impl TryFrom<KeyRow> for ApiKeyRecord {
    type Error = StoreError;

    fn try_from(row: KeyRow) -> StoreResult<ApiKeyRecord> {
        let name = format!("key {}", row.id);
        Ok(ApiKeyRecord {
            policy: policy(&row.policy_json, &name)?,
            account_id: AccountId::from_string(
                row.account_id
                    .ok_or_else(|| corrupt(format!("{name}: no account")))?,
            ),
            id: ApiKeyId::from_string(row.id),
            name: row.name,
            key_prefix: row.key_prefix,
            created_at_ms: row.created_at_ms,
            revoked_at_ms: row.revoked_at_ms,
        })
    }
}

/// An `accounts` row ([`ACCOUNT_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: String,
    name: String,
    balance: i64,
    policy_json: String,
    created_at_ms: i64,
}

impl TryFrom<AccountRow> for AccountRecord {
    type Error = StoreError;

    fn try_from(row: AccountRow) -> StoreResult<AccountRecord> {
        Ok(AccountRecord {
            policy: policy(&row.policy_json, &format!("account {}", row.id))?,
            id: AccountId::from_string(row.id),
            name: row.name,
            balance: row.balance,
            created_at_ms: row.created_at_ms,
        })
    }
}

/// An `admin_tokens` row ([`ADMIN_TOKEN_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(crate) struct AdminTokenRow {
    id: String,
    name: String,
    token_prefix: String,
    role: String,
    created_at_ms: i64,
    revoked_at_ms: Option<i64>,
}

impl TryFrom<AdminTokenRow> for AdminTokenRecord {
    type Error = StoreError;

    fn try_from(row: AdminTokenRow) -> StoreResult<AdminTokenRecord> {
        Ok(AdminTokenRecord {
            role: AdminRole::parse(&row.role)
                .ok_or_else(|| corrupt(format!("admin token {}: role {}", row.id, row.role)))?,
            id: AdminTokenId::from_string(row.id),
            name: row.name,
            token_prefix: row.token_prefix,
            created_at_ms: row.created_at_ms,
            revoked_at_ms: row.revoked_at_ms,
        })
    }
}

/// An `admin_audit` row.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    seq: i64,
    at_ms: i64,
    actor: String,
    action: String,
    target: String,
    before_json: Option<String>,
    after_json: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        // Written by this store from records; an unreadable one is shown as text, not lost.
        let value = |json: Option<String>| {
            json.map(|j| serde_json::from_str(&j).unwrap_or(serde_json::Value::String(j)))
        };
        AuditEntry {
            seq: row.seq,
            at_ms: row.at_ms,
            actor: row.actor,
            action: row.action,
            target: row.target,
            before: value(row.before_json),
            after: value(row.after_json),
        }
    }
}

/// An `assets` row ([`ASSET_COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(crate) struct AssetRow {
    id: String,
    account_id: Option<String>,
    api_key_id: String,
    object_key: String,
    content_type: String,
    facts_json: String,
    created_at_ms: i64,
    name: Option<String>,
}

impl TryFrom<AssetRow> for AssetRecord {
    type Error = StoreError;

    fn try_from(row: AssetRow) -> StoreResult<AssetRecord> {
        Ok(AssetRecord {
            facts: serde_json::from_str(&row.facts_json)
                .map_err(|e| corrupt(format!("asset {}: {e}", row.id)))?,
            account_id: AccountId::from_string(
                row.account_id
                    .ok_or_else(|| corrupt(format!("asset {}: no account", row.id)))?,
            ),
            id: row.id,
            api_key_id: ApiKeyId::from_string(row.api_key_id),
            object_key: row.object_key,
            content_type: row.content_type,
            created_at_ms: row.created_at_ms,
            name: row.name,
        })
    }
}

/// An `idempotency_keys` row, as a claim reads it.
#[derive(sqlx::FromRow)]
pub(crate) struct IdempotencyRow {
    fingerprint: String,
    state: String,
    response_status: Option<i64>,
    response_body: Option<Vec<u8>>,
    pub locked_at_ms: i64,
}

impl IdempotencyRow {
    /// What a claim with `fingerprint` finds in this record, if it is not stale.
    pub fn claim_for(self, fingerprint: &str) -> Option<IdempotencyClaim> {
        if self.fingerprint != fingerprint {
            Some(IdempotencyClaim::Mismatch)
        } else if self.state == "completed" {
            Some(IdempotencyClaim::Replay(StoredResponse {
                status: self
                    .response_status
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(200),
                body: self.response_body.unwrap_or_default(),
            }))
        } else {
            None
        }
    }
}

/// A due `callbacks` row, as a dispatcher claims it.
#[derive(sqlx::FromRow)]
pub(crate) struct CallbackJobRow {
    id: String,
    task_id: String,
    event: String,
    account_id: Option<String>,
    api_key_id: String,
    url: String,
    host: String,
    dialect: String,
    attempts: i64,
}

impl CallbackJobRow {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn into_job(self, lease_token: &str) -> StoreResult<CallbackJob> {
        Ok(CallbackJob {
            event: CallbackEvent::parse(&self.event)
                .ok_or_else(|| corrupt(format!("callback {}: event {}", self.id, self.event)))?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            id: self.id,
            task_id: TaskId::from_string(self.task_id),
            account_id: AccountId::from_string(self.account_id.unwrap_or_default()),
            api_key_id: ApiKeyId::from_string(self.api_key_id),
            url: self.url,
            host: self.host,
            dialect: self.dialect,
            lease_token: lease_token.to_string(),
        })
    }
}

/// A task's final `callbacks` row, as its record reads it.
#[derive(sqlx::FromRow)]
pub(crate) struct CallbackRow {
    pub id: String,
    url: String,
    dialect: String,
    state: String,
    next_attempt_at_ms: i64,
    created_at_ms: i64,
    delivered_at_ms: Option<i64>,
}

impl CallbackRow {
    pub fn into_record(
        self,
        task_id: TaskId,
        attempts: Vec<CallbackAttempt>,
    ) -> StoreResult<CallbackRecord> {
        let state = CallbackState::parse(&self.state)
            .ok_or_else(|| corrupt(format!("callback {}: state {}", self.id, self.state)))?;
        Ok(CallbackRecord {
            next_attempt_at_ms: (state == CallbackState::Pending)
                .then_some(self.next_attempt_at_ms),
            id: self.id,
            task_id,
            url: self.url,
            dialect: self.dialect,
            state,
            created_at_ms: self.created_at_ms,
            delivered_at_ms: self.delivered_at_ms,
            attempts,
        })
    }
}

/// A `callback_attempts` row.
#[derive(sqlx::FromRow)]
pub(crate) struct AttemptRow {
    attempt: i64,
    started_at_ms: i64,
    status: Option<i64>,
    latency_ms: i64,
    error: Option<String>,
}

impl From<AttemptRow> for CallbackAttempt {
    fn from(row: AttemptRow) -> Self {
        CallbackAttempt {
            attempt: u32::try_from(row.attempt).unwrap_or(0),
            started_at_ms: row.started_at_ms,
            status: row.status.and_then(|s| u16::try_from(s).ok()),
            latency_ms: u64::try_from(row.latency_ms).unwrap_or(0),
            error: row.error,
        }
    }
}

/// A `ledger_entries` row.
#[derive(sqlx::FromRow)]
pub(crate) struct LedgerRow {
    seq: i64,
    account_id: String,
    task_id: Option<String>,
    kind: String,
    amount: i64,
    created_at_ms: i64,
}

impl TryFrom<LedgerRow> for LedgerEntry {
    type Error = StoreError;

    fn try_from(row: LedgerRow) -> StoreResult<LedgerEntry> {
        Ok(LedgerEntry {
            kind: EntryKind::parse(&row.kind)
                .ok_or_else(|| corrupt(format!("ledger entry {}: kind {}", row.seq, row.kind)))?,
            seq: row.seq,
            account_id: row.account_id,
            task_id: row.task_id,
            amount: row.amount,
            created_at_ms: row.created_at_ms,
        })
    }
}

/// The facts of a task the ledger audit checks.
#[derive(sqlx::FromRow)]
pub(crate) struct TaskFactsRow {
    id: String,
    account_id: Option<String>,
    status: String,
    price_credits: i64,
}

impl TryFrom<TaskFactsRow> for TaskFacts {
    type Error = StoreError;

    fn try_from(row: TaskFactsRow) -> StoreResult<TaskFacts> {
        Ok(TaskFacts {
            status: TaskStatus::parse(&row.status)
                .ok_or_else(|| corrupt(format!("task {}: status {}", row.id, row.status)))?,
            account_id: row.account_id.unwrap_or_default(),
            task_id: row.id,
            price_credits: row.price_credits,
        })
    }
}

/// An account's cached balance.
#[derive(sqlx::FromRow)]
pub(crate) struct BalanceRow {
    id: String,
    balance: i64,
}

impl From<BalanceRow> for CachedBalance {
    fn from(row: BalanceRow) -> Self {
        CachedBalance {
            account_id: row.id,
            balance: row.balance,
        }
    }
}

/// A `task_events` row.
#[derive(sqlx::FromRow)]
pub(crate) struct TaskEventRow {
    pub seq: i64,
    pub at_ms: i64,
    pub kind: String,
    pub detail_json: String,
}

impl From<TaskEventRow> for seedgate_core::timeline::TimelineEntry {
    fn from(row: TaskEventRow) -> Self {
        use seedgate_core::timeline::{Source, TaskEvent, TimelineEntry};
        TimelineEntry {
            at_ms: row.at_ms,
            source: Source::Task,
            seq: row.seq,
            event: TaskEvent::from_stored(&row.kind, &row.detail_json),
        }
    }
}

/// A task's `ledger_entries` row, as its timeline shows it.
#[derive(sqlx::FromRow)]
pub(crate) struct TaskLedgerRow {
    seq: i64,
    kind: String,
    amount: i64,
    note: Option<String>,
    created_at_ms: i64,
}

impl From<TaskLedgerRow> for seedgate_core::timeline::TimelineEntry {
    fn from(row: TaskLedgerRow) -> Self {
        use seedgate_core::timeline::{Source, TaskEvent, TimelineEntry};
        TimelineEntry {
            at_ms: row.created_at_ms,
            source: Source::Ledger,
            seq: row.seq,
            event: TaskEvent::from_ledger(row.seq, &row.kind, row.amount, row.note),
        }
    }
}

/// A `callback_attempts` row with its callback's id and event, as a timeline shows it.
#[derive(sqlx::FromRow)]
pub(crate) struct TaskCallbackAttemptRow {
    callback_id: String,
    event: String,
    attempt: i64,
    started_at_ms: i64,
    status: Option<i64>,
    latency_ms: i64,
    error: Option<String>,
}

impl From<TaskCallbackAttemptRow> for seedgate_core::timeline::TimelineEntry {
    fn from(row: TaskCallbackAttemptRow) -> Self {
        use seedgate_core::timeline::{Source, TaskEvent, TimelineEntry};
        TimelineEntry {
            at_ms: row.started_at_ms,
            source: Source::Callback,
            seq: row.attempt,
            event: TaskEvent::CallbackAttempt {
                callback_id: row.callback_id,
                event: row.event,
                attempt: u32::try_from(row.attempt).unwrap_or(0),
                status: row.status.and_then(|s| u16::try_from(s).ok()),
                latency_ms: u64::try_from(row.latency_ms).unwrap_or(0),
                error: row.error,
            },
        }
    }
}

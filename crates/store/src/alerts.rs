//! Operator alerts: what the alerts worker raised, and their delivery to the operator's webhook.
//!
//! An alert is raised once per crossing of its condition, whichever replica notices it first:
//! each row has a unique `dedupe_key`. A condition that can clear and come back (a balance, a
//! breaker, a queue) keeps one open alert until it is resolved; a budget fraction names its
//! period in the key. Delivery is an outbox like the callbacks': leased to one sender, retried
//! until the receiver answers 2xx.

use crate::StoreResult;
use async_trait::async_trait;
use std::time::Duration;

/// How an alert is told apart from the ones before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertDedupe {
    /// At most one open (unresolved) alert of this kind and subject: a new one only after
    /// [`AlertStore::resolve_alerts`].
    WhileOpen,
    /// Exactly one alert ever under this key (a budget fraction of one period).
    Once(String),
}

/// An alert to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// `balance_below`, `budget_crossed`, `breaker_open`, `tasks_queued_too_long`,
    /// `tasks_running_too_long`.
    pub kind: String,
    /// What it is about: an account id, an upstream account's name, `queue`.
    pub subject: String,
    pub message: String,
    /// The numbers behind it (balance and threshold, spent and budget, …).
    pub figures: serde_json::Value,
    pub dedupe: AlertDedupe,
    /// Whether a webhook will deliver it (`false`: it is only listed).
    pub deliver: bool,
}

/// Where an alert's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Waiting for (another) delivery attempt.
    Pending,
    Delivered,
    /// No webhook was configured when it was raised.
    Unsent,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Pending => "pending",
            AlertState::Delivered => "delivered",
            AlertState::Unsent => "unsent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            AlertState::Pending,
            AlertState::Delivered,
            AlertState::Unsent,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

/// A raised alert, as listed and as delivered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlertRecord {
    /// `alrt_…`; the `webhook-id` of every delivery attempt.
    pub id: String,
    pub kind: String,
    pub subject: String,
    pub message: String,
    pub figures: serde_json::Value,
    pub created_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    pub state: AlertState,
    pub attempts: u32,
    pub next_attempt_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// An alert leased to one sender; `lease_token` fences the attempt's result.
#[derive(Debug, Clone)]
pub struct AlertJob {
    pub alert: AlertRecord,
    pub lease_token: String,
}

/// What one delivery attempt decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertDelivery {
    Delivered,
    /// Try again at this time (Unix ms); why this attempt failed.
    RetryAt {
        at_ms: i64,
        error: String,
    },
}

/// Tasks in one status for longer than asked: how many, and the oldest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingTasks {
    pub count: u64,
    pub oldest_task_id: String,
    /// When the oldest one was created (queued) or started (running), Unix ms.
    pub oldest_since_ms: i64,
}

#[async_trait]
pub trait AlertStore: Send + Sync + 'static {
    /// Raises `alert` unless its dedupe rule says it was raised already: the new record, or
    /// `None`. Racing replicas raise it once.
    async fn raise_alert(&self, alert: &NewAlert) -> StoreResult<Option<AlertRecord>>;
    /// Marks the open alert of this kind and subject resolved (the condition cleared); how
    /// many were.
    async fn resolve_alerts(&self, kind: &str, subject: &str) -> StoreResult<u64>;
    /// The kinds and subjects of every open alert of `kinds` (what may need resolving).
    async fn open_alerts(&self, kinds: &[&str]) -> StoreResult<Vec<(String, String)>>;
    /// Leases up to `limit` alerts due for delivery.
    async fn claim_alerts(
        &self,
        owner: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<AlertJob>>;
    /// Applies an attempt's outcome; `false` when the lease was lost (the result is dropped).
    async fn record_alert_attempt(
        &self,
        job: &AlertJob,
        outcome: &AlertDelivery,
    ) -> StoreResult<bool>;
    /// Alerts newest first, created before `before_ms` when given.
    async fn list_alerts(
        &self,
        before_ms: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AlertRecord>>;
    /// Tasks `queued` since before `since_ms` (by creation) or `running` since before it (by
    /// first start): `None` when there are none.
    async fn waiting_tasks(&self, status: &str, since_ms: i64)
        -> StoreResult<Option<WaitingTasks>>;
}

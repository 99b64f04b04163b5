//! What operators do to tasks, across accounts: search them, read one whole, cancel a queued
//! or running one, refund a settled one by hand (once), and redeliver its callback. Every
//! write records its `admin_audit` entry (target: the task id) in its own transaction.

use crate::{Actor, StoreResult};
use async_trait::async_trait;
use seedgate_core::ids::{AccountId, ApiKeyId, TaskId};
use seedgate_core::task::{Task, TaskStatus};

/// Which tasks an operator looks for. Every filter given narrows the search; the answer is
/// newest first, paged by `before` (the last id of the previous page).
#[derive(Debug, Clone, Default)]
pub struct TaskSearch {
    /// Any of these statuses (all when empty).
    pub statuses: Vec<TaskStatus>,
    pub account: Option<AccountId>,
    pub api_key: Option<ApiKeyId>,
    /// The canonical model id, or the name the client sent (an alias).
    pub model: Option<String>,
    /// The upstream (provider) account the task was sent to.
    pub upstream_account: Option<String>,
    /// The upstream's own id of the task's job.
    pub upstream_task_id: Option<String>,
    /// Created at or after this time (Unix ms).
    pub created_from_ms: Option<i64>,
    /// Created before this time (Unix ms).
    pub created_before_ms: Option<i64>,
    /// Only tasks still queued that were created at or before this time (Unix ms): those
    /// waiting longer than some age.
    pub queued_since_ms: Option<i64>,
    /// The page after this task id.
    pub before: Option<TaskId>,
    /// Tasks per page (the caller bounds it).
    pub limit: u32,
}

/// Where a task's credits went. `price = held + charged + refunded` at every moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TaskCost {
    /// What the task costs (the hold placed at submit).
    pub price: i64,
    /// Reserved and not resolved yet: the price while the task is queued or running.
    pub held: i64,
    /// What the account paid in the end: the settle's charge less any manual refund.
    pub charged: i64,
    /// What came back: the release of a failed or cancelled task, or a manual refund.
    pub refunded: i64,
}

/// A manual refund, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefundRecord {
    pub credits: i64,
    pub note: String,
    pub at_ms: i64,
}

/// A task as an operator sees it: the task, where it runs, and its money.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OperatorTask {
    pub task: Task,
    /// The upstream's id of the task's job, once the upstream accepted it.
    pub provider_job_id: Option<String>,
    /// Whether a submit was sent upstream and its answer is not known yet (the task is then
    /// reconciled, and cannot be cancelled until it is).
    pub submit_in_doubt: bool,
    /// The worker holding a running task.
    pub lease_owner: Option<String>,
    /// When its owner deleted the task's record (operators still see it).
    pub deleted_at_ms: Option<i64>,
    pub cost: TaskCost,
    pub manual_refund: Option<RefundRecord>,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaskSearchPage {
    pub tasks: Vec<OperatorTask>,
    /// Pass as `before` for the next page; `None` on the last one.
    pub next_before: Option<TaskId>,
}

/// A manual refund just written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManualRefund {
    pub task_id: TaskId,
    pub account_id: AccountId,
    pub credits: i64,
    pub note: String,
    /// The account's balance after the refund.
    pub balance: i64,
}

/// Operators' reads and writes of tasks, whoever owns them.
#[async_trait]
pub trait TaskAdminStore: Send + Sync + 'static {
    async fn search_tasks(&self, search: &TaskSearch) -> StoreResult<TaskSearchPage>;
    /// Any task, deleted or not.
    async fn operator_task(&self, id: &TaskId) -> StoreResult<Option<OperatorTask>>;
    /// Cancels a queued or a running task and releases its hold (one ledger entry), audited
    /// as `task.cancel`. A running task's worker finds its lease gone and cancels the upstream
    /// job. A terminal task, or one whose submit is in doubt, is a `Conflict`.
    async fn operator_cancel_task(&self, id: &TaskId, actor: &Actor) -> StoreResult<OperatorTask>;
    /// Gives back `credits` (all it was charged when `None`) of a succeeded task, once: one
    /// `refund` entry, the balance and the budgets' spend of the task's day moved in the same
    /// transaction, audited as `task.refund`. A second refund (from any replica), a task not
    /// succeeded, or more than was charged is a `Conflict`, and nothing moves.
    async fn refund_task(
        &self,
        id: &TaskId,
        credits: Option<i64>,
        note: &str,
        actor: &Actor,
    ) -> StoreResult<ManualRefund>;
    /// Makes a task's final callback due now, whoever owns the task, audited as
    /// `task.callback_redeliver`. `NotFound` when the task has no callback.
    async fn operator_redeliver_callback(&self, id: &TaskId, actor: &Actor) -> StoreResult<()>;
}

//! Task timelines: the events a task's life writes (see `seedgate_core::timeline`), and the
//! read that merges them with the task's ledger entries, callback attempts and the admin audit
//! entries naming it.
//!
//! Events tied to a status change are written by the store itself, in the transaction of that
//! change (`create_task` writes `accepted`, a claim `claimed`, a requeue `requeued`, an end
//! `succeeded`/`failed`/`cancelled`), so no change is ever committed without its event. What
//! only a worker sees (the upstream it sent to, the job id, status changes, errors, failover,
//! the result's copy) is recorded through [`TaskTimelines::record_task_event`].

use crate::StoreResult;
use async_trait::async_trait;
use seedgate_core::ids::{AccountId, TaskId};
use seedgate_core::timeline::{TaskEvent, TimelineEntry};

#[async_trait]
pub trait TaskTimelines: Send + Sync + 'static {
    /// Appends an event a worker observed. Not fenced by a lease: what a worker saw happened,
    /// even if it has lost the task since.
    async fn record_task_event(&self, task: &TaskId, event: &TaskEvent) -> StoreResult<()>;
    /// The task's timeline, in order; `None` when there is no such task. With `account`, only
    /// a task of that account that was not deleted (another account's task is `None`, exactly
    /// like an unknown one); without, any task (operators).
    async fn task_timeline(
        &self,
        task: &TaskId,
        account: Option<&AccountId>,
    ) -> StoreResult<Option<Vec<TimelineEntry>>>;
}

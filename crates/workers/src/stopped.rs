//! A running task an operator cancelled. The store ends it at once (its hold released, its
//! lease cleared); the worker driving it learns of it at its next heartbeat, as a lost lease,
//! and is the one that knows the upstream job: it cancels that job, best effort. The store's
//! lease fence keeps the worker from settling the task afterwards.

use super::*;
use seedgate_core::task::TaskStatus;

impl TaskWorkers {
    /// After a lost lease: when the task was cancelled (rather than taken over by another
    /// worker), cancels the upstream `job` it was following, if any. Whether it was cancelled.
    pub(crate) async fn cancel_if_stopped(
        &self,
        claimed: &ClaimedTask,
        job: Option<(Arc<Account>, String)>,
    ) -> bool {
        match self.store.load_task(&claimed.task.id).await {
            Ok(Some(task)) if task.status == TaskStatus::Cancelled => {}
            Ok(_) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the task after losing its lease");
                return false;
            }
        }
        let Some((account, job_id)) = job else {
            tracing::info!("task cancelled by an operator before any upstream job was known");
            return true;
        };
        match account.provider.cancel(&self.job(claimed), &job_id).await {
            Ok(()) => tracing::info!(
                account = account.name(),
                job_id,
                "task cancelled by an operator; upstream job cancelled"
            ),
            Err(e) => tracing::warn!(
                account = account.name(),
                job_id,
                error = %e,
                "task cancelled by an operator; cancelling the upstream job failed"
            ),
        }
        true
    }
}

//! Any task's timeline, for operators: everything, the admin audit's actors included.

use super::*;
use seedgate_core::timeline::TimelineEntry;
use seedgate_core::TaskId;

impl AdminService {
    /// The timeline of any task, whoever owns it, deleted or not.
    pub async fn task_timeline(&self, task_id: &str) -> AdminResult<Vec<TimelineEntry>> {
        self.store
            .task_timeline(&TaskId::from_string(task_id), None)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("task {task_id}")))
    }
}

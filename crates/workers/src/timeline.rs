//! What a worker sees of a task, written to its timeline: the upstream account it was sent to,
//! the job id it got, status changes, errors with their class, failovers and the result's copy.
//! (Changes of the task's own status are written by the store with the change itself.)
//!
//! A timeline write that fails is logged and the task carries on: the record of the work must
//! never stop the work.

use super::TaskWorkers;
use seedgate_core::timeline::{ErrorClass as Class, TaskEvent, UpstreamOperation};
use seedgate_core::TaskId;
use seedgate_providers::{ErrorClass, ProviderError};

impl TaskWorkers {
    /// Appends `event` to the task's timeline.
    pub(crate) async fn note(&self, task: &TaskId, event: TaskEvent) {
        if let Err(e) = self.store.record_task_event(task, &event).await {
            tracing::warn!(error = %e, kind = event.kind(), "recording a timeline event failed");
        }
    }
}

/// A failed call to an upstream account, as its timeline shows it.
pub(crate) fn upstream_error(
    account: &str,
    operation: UpstreamOperation,
    e: &ProviderError,
) -> TaskEvent {
    TaskEvent::UpstreamError {
        upstream_account: account.to_string(),
        operation,
        class: match e.class {
            ErrorClass::Permanent => Class::Permanent,
            ErrorClass::Transient => Class::Transient,
            ErrorClass::Ambiguous => Class::Ambiguous,
        },
        failure: e.kind.as_str().to_string(),
        message: e.message.clone(),
        retry_after_ms: e
            .retry_after
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    }
}

/// What a poll said, reduced to what is worth a line when it changes: the job not finished
/// (with the upstream's word for it, `queued` or `running`, when it gives one), or an error and
/// its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    Pending(Option<&'static str>),
    Error(String),
}

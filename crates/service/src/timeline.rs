//! A task's timeline as its owner reads it (see `seedgate_core::timeline`), and the probed
//! facts of a medium that go into its `accepted` event.

use super::*;
use seedgate_core::timeline::{ProbedMedium, TaskEvent, TimelineEntry};

/// What the probe measured of a medium, as the task's timeline keeps it.
pub(crate) fn probed(medium: &InspectedMedium) -> ProbedMedium {
    ProbedMedium {
        field: medium.field.to_string(),
        kind: medium.kind.as_str().to_string(),
        format: medium.facts.format.clone(),
        size_bytes: medium.facts.size_bytes,
        width: medium.facts.width,
        height: medium.facts.height,
        duration_ms: medium
            .facts
            .duration_seconds
            .filter(|s| s.is_finite() && *s >= 0.0)
            // Whole milliseconds of a probed duration: far within u64, never negative.
            .map(|s| (s * 1000.0).round() as u64),
    }
}

/// What a member is not shown of an operator's action: who (the admin token) and the records
/// before and after, which are the operator's. The action itself is theirs to see.
fn for_member(entry: TimelineEntry) -> TimelineEntry {
    match entry.event {
        TaskEvent::OperatorAction {
            audit_seq, action, ..
        } => TimelineEntry {
            event: TaskEvent::OperatorAction {
                audit_seq,
                actor: "operator".into(),
                action,
                before: None,
                after: None,
            },
            ..entry
        },
        _ => entry,
    }
}

impl GenerationService {
    /// The timeline of a task of the caller's account. Another account's task, or a deleted
    /// one, is not found, exactly like a task that does not exist.
    pub async fn task_timeline(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Vec<TimelineEntry>, GatewayError> {
        let entries = self
            .store
            .task_timeline(&TaskId::from_string(id), Some(&principal.account_id))
            .await
            .map_err(store_error)?
            .ok_or(GatewayError::NotFound)?;
        Ok(entries.into_iter().map(for_member).collect())
    }
}

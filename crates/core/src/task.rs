//! A task and its state machine. Every dialect's status vocabulary is a view of [`TaskStatus`].
//!
//! ```text
//! queued ──claim──▶ running ──▶ succeeded
//!   │                 │  ╰────▶ failed
//!   │                 ╰──lease expired──▶ running (next attempt) / failed (attempts used up)
//!   ╰──cancel──▶ cancelled        ╰──retryable error──▶ queued
//!                                 ╰──stop (an operator)──▶ cancelled
//! ```
//! Every terminal state resolves the task's credit hold exactly once: `succeeded` settles it,
//! `failed` and `cancelled` release it (the automatic refund).

use crate::ids::{AccountId, ApiKeyId, TaskId};
use crate::pricing::Price;
use crate::request::GenerationRequest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// What a terminal state does to the task's hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldResolution {
    Settle,
    Release,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            TaskStatus::Queued,
            TaskStatus::Running,
            TaskStatus::Succeeded,
            TaskStatus::Failed,
            TaskStatus::Cancelled,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }

    /// Whether the state machine allows `self → next`: whether some [`Transition`] does it.
    pub fn can_become(self, next: TaskStatus) -> bool {
        Transition::ALL
            .iter()
            .any(|t| t.from() == self && t.to() == next)
    }

    pub fn hold_resolution(self) -> Option<HoldResolution> {
        match self {
            TaskStatus::Succeeded => Some(HoldResolution::Settle),
            TaskStatus::Failed | TaskStatus::Cancelled => Some(HoldResolution::Release),
            TaskStatus::Queued | TaskStatus::Running => None,
        }
    }
}

/// Every move a task can make: the single statement of the state machine. The stores build
/// each status-changing statement from one of these (its `WHERE status = from` guard and its
/// `SET status = to`), so a transition cannot exist in SQL alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// A worker takes a queued task.
    Claim,
    /// A worker takes over a running task whose lease expired (its worker died).
    Rescue,
    /// A running task goes back to the queue: a retryable error, no account free yet, or a
    /// graceful shutdown.
    Requeue,
    /// A running task's result is in: its hold is settled.
    Complete,
    /// A running task failed: its hold is released.
    Fail,
    /// A queued task is cancelled by its owner: its hold is released.
    Cancel,
    /// A queued task that used up its attempts is given up: its hold is released.
    Abandon,
    /// A running task is cancelled by an operator: its hold is released. The worker driving
    /// it finds its lease gone at its next heartbeat, cancels the upstream job (best effort)
    /// and never settles the task.
    Stop,
}

impl Transition {
    pub const ALL: [Transition; 8] = [
        Transition::Claim,
        Transition::Rescue,
        Transition::Requeue,
        Transition::Complete,
        Transition::Fail,
        Transition::Cancel,
        Transition::Abandon,
        Transition::Stop,
    ];

    pub fn from(self) -> TaskStatus {
        match self {
            Transition::Claim | Transition::Cancel | Transition::Abandon => TaskStatus::Queued,
            Transition::Rescue
            | Transition::Requeue
            | Transition::Complete
            | Transition::Fail
            | Transition::Stop => TaskStatus::Running,
        }
    }

    pub fn to(self) -> TaskStatus {
        match self {
            Transition::Claim | Transition::Rescue => TaskStatus::Running,
            Transition::Requeue => TaskStatus::Queued,
            Transition::Complete => TaskStatus::Succeeded,
            Transition::Fail | Transition::Abandon => TaskStatus::Failed,
            Transition::Cancel | Transition::Stop => TaskStatus::Cancelled,
        }
    }

    /// The transition that ends a task in `status`: from `running` when a worker holds it
    /// (`leased`), else from `queued`. `None` when no transition does that.
    pub fn ending_in(status: TaskStatus, leased: bool) -> Option<Transition> {
        Transition::ALL
            .into_iter()
            .find(|t| t.to() == status && (t.from() == TaskStatus::Running) == leased)
            .filter(|t| t.to().is_terminal())
    }
}

/// Why a task failed, independent of provider and dialect. Dialects map these to their codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The content was refused by a moderation check.
    Moderation,
    /// The provider refused the input (bad media, unsupported combination).
    InvalidInput,
    /// The provider kept rate-limiting us until we gave up.
    RateLimited,
    /// The provider failed.
    UpstreamError,
    /// The task ran past its deadline.
    Timeout,
    /// The task expired upstream before finishing.
    Expired,
    /// seedgate itself failed (storage, rendering).
    Internal,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Moderation => "moderation",
            FailureKind::InvalidInput => "invalid_input",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::UpstreamError => "upstream_error",
            FailureKind::Timeout => "timeout",
            FailureKind::Expired => "expired",
            FailureKind::Internal => "internal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            FailureKind::Moderation,
            FailureKind::InvalidInput,
            FailureKind::RateLimited,
            FailureKind::UpstreamError,
            FailureKind::Timeout,
            FailureKind::Expired,
            FailureKind::Internal,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskError {
    pub kind: FailureKind,
    pub message: String,
}

/// Where a finished task's files live. Keys are object-store paths; `video_urls` are filled in
/// by the gateway from its public base URL when a task is read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskOutput {
    pub video_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub video_urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame_url: Option<String>,
    /// When the provider handed the result over (Unix ms), before it was stored: the start of
    /// the completion-to-visible latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_finished_at_ms: Option<i64>,
    /// Output size actually produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// When retention expired the task's media (Unix ms): from then on the task reads back
    /// without its files (no keys, so no URLs), and each dialect says they expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_expired_at_ms: Option<i64>,
}

/// A task as dialects see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    /// The account that owns the task (and pays for it), and the key that submitted it.
    pub account_id: AccountId,
    pub api_key_id: ApiKeyId,
    pub request: GenerationRequest,
    /// The model name the client sent (an alias, possibly), echoed back by dialects.
    pub requested_model: String,
    /// The dialect the task was created through.
    pub origin_dialect: String,
    pub status: TaskStatus,
    pub price: Price,
    pub attempt: u32,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    pub output: Option<TaskOutput>,
    pub error: Option<TaskError>,
    pub provider: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    #[test]
    fn terminal_states_have_no_way_out() {
        for from in [Succeeded, Failed, Cancelled] {
            for to in [Queued, Running, Succeeded, Failed, Cancelled] {
                assert!(!from.can_become(to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn every_terminal_state_resolves_the_hold() {
        assert_eq!(Succeeded.hold_resolution(), Some(HoldResolution::Settle));
        assert_eq!(Failed.hold_resolution(), Some(HoldResolution::Release));
        assert_eq!(Cancelled.hold_resolution(), Some(HoldResolution::Release));
        assert_eq!(Queued.hold_resolution(), None);
        assert_eq!(Running.hold_resolution(), None);
    }

    #[test]
    fn every_ending_has_one_transition() {
        assert_eq!(
            Transition::ending_in(Succeeded, true),
            Some(Transition::Complete)
        );
        assert_eq!(Transition::ending_in(Failed, true), Some(Transition::Fail));
        assert_eq!(
            Transition::ending_in(Failed, false),
            Some(Transition::Abandon)
        );
        assert_eq!(
            Transition::ending_in(Cancelled, false),
            Some(Transition::Cancel)
        );
        assert_eq!(Transition::ending_in(Succeeded, false), None);
        assert_eq!(
            Transition::ending_in(Cancelled, true),
            Some(Transition::Stop)
        );
        assert_eq!(Transition::ending_in(Running, true), None);
    }

    #[test]
    fn running_tasks_are_cancelled_only_by_an_operators_stop() {
        assert!(Queued.can_become(Cancelled));
        assert!(Running.can_become(Cancelled));
        let into_cancelled: Vec<_> = Transition::ALL
            .into_iter()
            .filter(|t| t.to() == Cancelled)
            .collect();
        assert_eq!(into_cancelled, [Transition::Cancel, Transition::Stop]);
    }

    #[test]
    fn names_round_trip() {
        for s in [Queued, Running, Succeeded, Failed, Cancelled] {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            FailureKind::parse("moderation"),
            Some(FailureKind::Moderation)
        );
    }
}

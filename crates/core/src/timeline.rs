//! A task's timeline: the ordered record of what happened to it, from its acceptance to its
//! last callback attempt. The store writes [`TaskEvent`]s as they happen (those tied to a
//! status change in the transaction of that change) and merges in, when the timeline is read,
//! what other tables already hold: the task's ledger entries, its callback attempts and the
//! admin audit entries naming it. [`order`] puts the whole in one order. Nothing here does I/O.
//!
//! Events are serde-tagged (`{"kind": "claimed", …}`): the stored detail and the API's body
//! are the same JSON, and a kind this build does not know (written by a newer replica) is not
//! an error where it is read (see [`TaskEvent::Unknown`]).

use crate::task::TaskError;
use serde::{Deserialize, Serialize};

/// One medium as it was probed when the task was accepted (what it was priced on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = TimelineProbedMedium)]
pub struct ProbedMedium {
    /// The request field it came from, `reference_video_urls[0]`.
    pub field: String,
    /// image, video or audio.
    pub kind: String,
    /// `jpeg`, `mp4`, `wav`, …
    pub format: String,
    pub size_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Milliseconds, for a video or an audio track.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// Why a running task went back to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TimelineRequeueReason)]
pub enum RequeueReason {
    /// A retryable error (or a submit whose answer is still unknown, to be reconciled); the
    /// task is tried again after the delay.
    Retry,
    /// Its worker was stopping and handed it back.
    HandedBack,
}

/// The class of a provider error: what it says about trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TimelineErrorClass)]
pub enum ErrorClass {
    /// Refused: trying again, here or elsewhere, would fail the same way.
    Permanent,
    /// Not taken (429, 5xx, no connection): another account, or later, may take it.
    Transient,
    /// Sent, but no answer came back: the upstream may have taken it.
    Ambiguous,
}

/// What an upstream was asked when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = TimelineUpstreamOperation)]
pub enum UpstreamOperation {
    Submit,
    Poll,
}

/// What happened to a task. Each variant is one `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[schema(as = TimelineEvent)]
pub enum TaskEvent {
    /// The task was accepted, with its quote.
    Accepted {
        /// The dialect the request came through.
        dialect: String,
        /// The API key that submitted it.
        api_key_id: String,
        /// The catalog model, and the name the client sent.
        model: String,
        requested_model: String,
        billable_seconds: u32,
        /// Credits held for it (1 credit = $0.001).
        credits: u64,
        micro_usd_per_second: u64,
        /// The reference media as probed.
        media: Vec<ProbedMedium>,
    },
    /// A worker took the task under a lease; `rescued` when the previous worker's lease ran
    /// out (it died or hung) and this one took over.
    Claimed {
        /// The worker's id (`<pid>-<random>#w`, one per process: the replica).
        worker: String,
        attempt: u32,
        rescued: bool,
    },
    /// No upstream account could take the task (all at their caps or cooling off): it waits
    /// in the queue without using up an attempt. Repeats are counted, not recorded again.
    WaitingForAccount { times: u32, retry_at_ms: i64 },
    /// A submit was sent to an upstream account (`reconcile`: sent again with the same
    /// Idempotency-Key because the first answer was lost).
    SubmitSent {
        upstream_account: String,
        reconcile: bool,
    },
    /// The upstream took the job and named it.
    UpstreamAccepted {
        upstream_account: String,
        upstream_task_id: String,
    },
    /// A re-claimed task carries on following the job its upstream already has.
    Resumed {
        upstream_account: String,
        upstream_task_id: String,
    },
    /// The upstream's status of the job changed (recorded on a change, not on every poll).
    UpstreamStatus {
        upstream_account: String,
        upstream_task_id: String,
        status: String,
    },
    /// An upstream call failed.
    UpstreamError {
        upstream_account: String,
        operation: UpstreamOperation,
        class: ErrorClass,
        /// The failure kind a client would see (`upstream_error`, `rate_limited`, …).
        failure: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// The task moved on from an account that did not take it to the next candidate.
    FailedOver {
        from_account: String,
        to_account: String,
    },
    /// A result file was copied into seedgate's storage.
    ResultCopied {
        /// The object key it is stored under.
        key: String,
        bytes: u64,
    },
    /// Copying a result file failed (after its retries).
    ResultCopyFailed { key: String, error: String },
    /// The task went back to the queue.
    Requeued {
        reason: RequeueReason,
        retry_at_ms: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        error: Option<TaskError>,
    },
    /// The task succeeded; its hold is settled.
    Succeeded {},
    /// The task failed; its hold is released.
    Failed {
        /// `{kind, message}`: the failure kind clients see and what happened.
        #[schema(value_type = Object)]
        error: TaskError,
    },
    /// Its owner (or an operator) cancelled the queued task; its hold is released.
    Cancelled {},
    /// Placed with the task: its credit hold (`amount` is negative).
    HoldPlaced { ledger_seq: i64, amount: i64 },
    /// The hold was charged (`amount`: what came back, normally 0).
    Settled { ledger_seq: i64, amount: i64 },
    /// The hold came back: the automatic refund of a failed or cancelled task.
    Refunded { ledger_seq: i64, amount: i64 },
    /// Any other ledger entry naming the task (an operator's refund of a settled task, …).
    LedgerEntry {
        ledger_seq: i64,
        ledger_kind: String,
        amount: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// One attempt to deliver one of the task's callbacks.
    CallbackAttempt {
        /// The `webhook-id`.
        callback_id: String,
        /// What it reported: queued, running or final.
        event: String,
        attempt: u32,
        /// The receiver's HTTP status; absent when it never answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        latency_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An operator acted on the task (from the admin audit log).
    OperatorAction {
        audit_seq: i64,
        actor: String,
        action: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        before: Option<serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        after: Option<serde_json::Value>,
    },
    /// A stored event this build cannot read (a newer replica wrote it); its kind is kept.
    Unknown { stored_kind: String },
}

impl TaskEvent {
    /// The stored `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskEvent::Accepted { .. } => "accepted",
            TaskEvent::Claimed { .. } => "claimed",
            TaskEvent::WaitingForAccount { .. } => "waiting_for_account",
            TaskEvent::SubmitSent { .. } => "submit_sent",
            TaskEvent::UpstreamAccepted { .. } => "upstream_accepted",
            TaskEvent::Resumed { .. } => "resumed",
            TaskEvent::UpstreamStatus { .. } => "upstream_status",
            TaskEvent::UpstreamError { .. } => "upstream_error",
            TaskEvent::FailedOver { .. } => "failed_over",
            TaskEvent::ResultCopied { .. } => "result_copied",
            TaskEvent::ResultCopyFailed { .. } => "result_copy_failed",
            TaskEvent::Requeued { .. } => "requeued",
            TaskEvent::Succeeded {} => "succeeded",
            TaskEvent::Failed { .. } => "failed",
            TaskEvent::Cancelled {} => "cancelled",
            TaskEvent::HoldPlaced { .. } => "hold_placed",
            TaskEvent::Settled { .. } => "settled",
            TaskEvent::Refunded { .. } => "refunded",
            TaskEvent::LedgerEntry { .. } => "ledger_entry",
            TaskEvent::CallbackAttempt { .. } => "callback_attempt",
            TaskEvent::OperatorAction { .. } => "operator_action",
            TaskEvent::Unknown { .. } => "unknown",
        }
    }

    /// The upstream account the event is about, if any: stored beside the event, so an
    /// account's recent events can be found without reading every detail.
    pub fn upstream_account(&self) -> Option<&str> {
        match self {
            TaskEvent::SubmitSent {
                upstream_account, ..
            }
            | TaskEvent::UpstreamAccepted {
                upstream_account, ..
            }
            | TaskEvent::Resumed {
                upstream_account, ..
            }
            | TaskEvent::UpstreamStatus {
                upstream_account, ..
            }
            | TaskEvent::UpstreamError {
                upstream_account, ..
            } => Some(upstream_account),
            TaskEvent::FailedOver { to_account, .. } => Some(to_account),
            _ => None,
        }
    }

    /// The detail as stored: the event's JSON.
    pub fn to_json(&self) -> String {
        // Every field is a plain value: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| format!("{{\"kind\":\"{}\"}}", self.kind()))
    }

    /// A stored detail read back; one this build does not know is [`TaskEvent::Unknown`].
    pub fn from_stored(kind: &str, detail_json: &str) -> TaskEvent {
        serde_json::from_str(detail_json).unwrap_or_else(|_| TaskEvent::Unknown {
            stored_kind: kind.to_string(),
        })
    }

    /// The event a ledger entry of the task shows as.
    pub fn from_ledger(seq: i64, kind: &str, amount: i64, note: Option<String>) -> TaskEvent {
        match kind {
            "hold" => TaskEvent::HoldPlaced {
                ledger_seq: seq,
                amount,
            },
            "settle" => TaskEvent::Settled {
                ledger_seq: seq,
                amount,
            },
            "release" => TaskEvent::Refunded {
                ledger_seq: seq,
                amount,
            },
            other => TaskEvent::LedgerEntry {
                ledger_seq: seq,
                ledger_kind: other.to_string(),
                amount,
                note,
            },
        }
    }
}

/// Where an entry of the timeline comes from; at the same millisecond, entries are shown in
/// this order (a task's own event first, then the money it moved, then what followed).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = TimelineSource)]
pub enum Source {
    /// The task's own events.
    Task,
    /// Its ledger entries.
    Ledger,
    /// Its callback attempts.
    Callback,
    /// Admin audit entries naming it.
    Audit,
}

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    /// Unix ms.
    pub at_ms: i64,
    pub source: Source,
    /// The entry's number within its source (event, ledger, attempt or audit sequence):
    /// with `at_ms` and `source`, a stable order.
    pub seq: i64,
    #[serde(flatten)]
    pub event: TaskEvent,
}

/// Puts entries from every source in one order: by time; within a millisecond, acceptance and
/// its hold before anything else (a worker may claim the task the same millisecond), then by
/// source (a task's own event before the ledger entry of the same transaction), then by each
/// source's own sequence.
pub fn order(entries: &mut [TimelineEntry]) {
    let opening = |e: &TimelineEntry| match e.event {
        TaskEvent::Accepted { .. } => 0,
        TaskEvent::HoldPlaced { .. } => 1,
        _ => 2,
    };
    entries.sort_by_key(|e| (e.at_ms, opening(e), e.source, e.seq));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::FailureKind;

    #[test]
    fn events_round_trip_through_their_stored_form() {
        let events = [
            TaskEvent::Claimed {
                worker: "42-abc#w".into(),
                attempt: 2,
                rescued: true,
            },
            TaskEvent::UpstreamError {
                upstream_account: "ark-a".into(),
                operation: UpstreamOperation::Submit,
                class: ErrorClass::Transient,
                failure: "upstream_error".into(),
                message: "503".into(),
                retry_after_ms: Some(5000),
            },
            TaskEvent::Failed {
                error: TaskError {
                    kind: FailureKind::UpstreamError,
                    message: "could not copy the result".into(),
                },
            },
            TaskEvent::Cancelled {},
        ];
        for event in events {
            let json = event.to_json();
            let value: serde_json::Value = serde_json::from_str(&json).expect("json");
            assert_eq!(value["kind"], event.kind(), "{json}");
            assert_eq!(TaskEvent::from_stored(event.kind(), &json), event);
        }
    }

    #[test]
    fn an_unreadable_stored_event_keeps_its_kind() {
        assert_eq!(
            TaskEvent::from_stored("teleported", r#"{"kind":"teleported","to":"mars"}"#),
            TaskEvent::Unknown {
                stored_kind: "teleported".into()
            }
        );
    }

    #[test]
    fn ledger_kinds_show_as_their_events() {
        assert_eq!(
            TaskEvent::from_ledger(7, "release", 300, None).kind(),
            "refunded"
        );
        assert_eq!(
            TaskEvent::from_ledger(6, "hold", -300, None).kind(),
            "hold_placed"
        );
        assert_eq!(
            TaskEvent::from_ledger(9, "refund", 300, Some("goodwill".into())),
            TaskEvent::LedgerEntry {
                ledger_seq: 9,
                ledger_kind: "refund".into(),
                amount: 300,
                note: Some("goodwill".into())
            }
        );
    }

    #[test]
    fn order_is_time_then_source_then_sequence() {
        let entry = |at_ms, source, seq| TimelineEntry {
            at_ms,
            source,
            seq,
            event: TaskEvent::Cancelled {},
        };
        let mut entries = vec![
            entry(20, Source::Callback, 1),
            entry(10, Source::Ledger, 5),
            entry(10, Source::Task, 9),
            entry(10, Source::Task, 3),
            entry(5, Source::Audit, 1),
        ];
        order(&mut entries);
        let got: Vec<(i64, Source, i64)> =
            entries.iter().map(|e| (e.at_ms, e.source, e.seq)).collect();
        // A claim in the millisecond of the acceptance still follows the hold.
        let mut opening = vec![
            TimelineEntry {
                event: TaskEvent::Claimed {
                    worker: "w".into(),
                    attempt: 1,
                    rescued: false,
                },
                ..entry(7, Source::Task, 5)
            },
            TimelineEntry {
                event: TaskEvent::HoldPlaced {
                    ledger_seq: 3,
                    amount: -1,
                },
                ..entry(7, Source::Ledger, 3)
            },
            TimelineEntry {
                event: TaskEvent::Accepted {
                    dialect: "ark".into(),
                    api_key_id: "key_1".into(),
                    model: "m".into(),
                    requested_model: "m".into(),
                    billable_seconds: 5,
                    credits: 1,
                    micro_usd_per_second: 1,
                    media: vec![],
                },
                ..entry(7, Source::Task, 0)
            },
        ];
        order(&mut opening);
        let kinds: Vec<&str> = opening.iter().map(|e| e.event.kind()).collect();
        assert_eq!(kinds, ["accepted", "hold_placed", "claimed"]);
        assert_eq!(
            got,
            [
                (5, Source::Audit, 1),
                (10, Source::Task, 3),
                (10, Source::Task, 9),
                (10, Source::Ledger, 5),
                (20, Source::Callback, 1),
            ]
        );
    }

    #[test]
    fn an_entry_is_flat_json_with_its_kind() {
        let entry = TimelineEntry {
            at_ms: 1,
            source: Source::Ledger,
            seq: 4,
            event: TaskEvent::HoldPlaced {
                ledger_seq: 4,
                amount: -100,
            },
        };
        let value = serde_json::to_value(&entry).expect("json");
        assert_eq!(
            value,
            serde_json::json!({"at_ms": 1, "source": "ledger", "seq": 4,
                "kind": "hold_placed", "ledger_seq": 4, "amount": -100})
        );
    }
}

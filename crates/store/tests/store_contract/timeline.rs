//! Task timelines on both backends: the events a status change writes are there as soon as
//! the change is (in its transaction), a fenced-out or refused write leaves none, waiting for
//! an account is one line however long it lasts, worker observations are appended, and a
//! timeline read merges the task's ledger entries (with their sequence numbers) and callback
//! attempts, scoped to the task's account.

use crate::support::*;
use seedgate_core::media::MediaUrl;
use seedgate_core::request::MediaCopy;
use seedgate_core::timeline::{
    ProbedMedium, RequeueReason, Source, TaskEvent, TimelineEntry, UpstreamOperation,
};
use seedgate_core::{AccountId, TaskId};
use seedgate_store::{CallbackResolution, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

on_both_backends! {
    #[tokio::test] each_status_change_writes_its_event_with_it,
    #[tokio::test] waiting_for_an_account_is_one_line_and_a_rescue_is_marked,
    #[tokio::test] a_timeline_is_its_accounts_alone_and_merges_callbacks,
    #[tokio::test] a_worker_record_and_its_line_are_written_together_or_not_at_all,
}

async fn timeline(store: &dyn Store, id: &TaskId) -> Vec<TimelineEntry> {
    store
        .task_timeline(id, None)
        .await
        .expect("timeline")
        .expect("the task exists")
}

fn kinds(entries: &[TimelineEntry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.event.kind()).collect()
}

/// The ledger entries of `task`, as the ledger itself numbers them: `(seq, kind, amount)`.
async fn ledger_of(store: &dyn Store, task: &TaskId) -> Vec<(i64, String, i64)> {
    let dump = store.ledger_dump().await.expect("dump");
    dump.entries
        .into_iter()
        .filter(|e| e.task_id.as_deref() == Some(task.as_str()))
        .map(|e| (e.seq, e.kind.as_str().to_string(), e.amount))
        .collect()
}

fn probed_video() -> ProbedMedium {
    ProbedMedium {
        field: "reference_video_urls[0]".into(),
        kind: "video".into(),
        format: "mp4".into(),
        size_bytes: 123_456,
        width: Some(640),
        height: Some(360),
        duration_ms: Some(4_200),
    }
}

pub async fn each_status_change_writes_its_event_with_it(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let mut t = task(&key, 300);
    t.request.media_copies.insert(
        "reference_video_urls[0]".into(),
        MediaCopy {
            key: "refs/abc.mp4".into(),
            url: MediaUrl::parse("https://media.example/refs/abc.mp4").expect("url"),
            probed: Some(probed_video()),
        },
    );
    store.create_task(&t, None).await.expect("create");

    // Accepted and its hold, with nothing else done: both came with the task's transaction.
    let entries = timeline(&*store, &t.id).await;
    assert_eq!(kinds(&entries), ["accepted", "hold_placed"], "{entries:?}");
    let TaskEvent::Accepted {
        dialect,
        api_key_id,
        billable_seconds,
        credits,
        media,
        ..
    } = &entries[0].event
    else {
        panic!("{entries:?}")
    };
    assert_eq!(
        (dialect.as_str(), api_key_id.as_str()),
        ("reapi", key.as_str())
    );
    assert_eq!((*billable_seconds, *credits), (5, 300));
    assert_eq!(media, &[probed_video()]);
    let ledger = ledger_of(&*store, &t.id).await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        entries[1].event,
        TaskEvent::HoldPlaced {
            ledger_seq: ledger[0].0,
            amount: -300
        }
    );
    assert_eq!(entries[1].source, Source::Ledger);

    // A claim, a retry (with its error) and a second claim.
    let first = store
        .claim_task("replica-a#w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    store
        .record_task_event(
            &t.id,
            &TaskEvent::SubmitSent {
                upstream_account: "ark-dead".into(),
                reconcile: false,
            },
        )
        .await
        .expect("record");
    assert!(store
        .retry_task(&t.id, &first.lease_token, Duration::ZERO, &failure())
        .await
        .expect("retry"));
    let second = store
        .claim_task("replica-b#w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    // The first worker, fenced out, changes nothing and so writes no event.
    assert!(!store
        .fail_task(&t.id, &first.lease_token, &failure())
        .await
        .expect("stale fail"));
    let entries = timeline(&*store, &t.id).await;
    assert_eq!(
        kinds(&entries),
        [
            "accepted",
            "hold_placed",
            "claimed",
            "submit_sent",
            "requeued",
            "claimed"
        ],
        "{entries:?}"
    );
    assert_eq!(
        entries[2].event,
        TaskEvent::Claimed {
            worker: "replica-a#w".into(),
            attempt: 1,
            rescued: false
        }
    );
    assert_eq!(entries[3].event.upstream_account(), Some("ark-dead"));
    let TaskEvent::Requeued {
        reason,
        error: Some(error),
        ..
    } = &entries[4].event
    else {
        panic!("{entries:?}")
    };
    assert_eq!(*reason, RequeueReason::Retry);
    assert_eq!(error, &failure());
    assert_eq!(
        entries[5].event,
        TaskEvent::Claimed {
            worker: "replica-b#w".into(),
            attempt: 2,
            rescued: false
        }
    );

    // The end: failed, then the refund, with the ledger's own number.
    assert!(store
        .fail_task(&t.id, &second.lease_token, &failure())
        .await
        .expect("fail"));
    let entries = timeline(&*store, &t.id).await;
    let ledger = ledger_of(&*store, &t.id).await;
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    let tail: Vec<_> = entries[entries.len() - 2..]
        .iter()
        .map(|e| e.event.clone())
        .collect();
    assert_eq!(
        tail,
        [
            TaskEvent::Failed { error: failure() },
            TaskEvent::Refunded {
                ledger_seq: ledger[1].0,
                amount: 300
            }
        ]
    );
    assert_eq!(entries.len(), 8, "{entries:?}");
    // Times never go backwards along the timeline.
    assert!(entries.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert_ledger_clean(&*store).await;

    // A submit refused for want of credits writes no task, and so no timeline.
    let poor = task(&key, 100_000);
    let refused = store.create_task(&poor, None).await;
    assert!(
        matches!(refused, Err(StoreError::InsufficientCredits { .. })),
        "{refused:?}"
    );
    assert!(store
        .task_timeline(&poor.id, None)
        .await
        .expect("read")
        .is_none());
}

pub async fn waiting_for_an_account_is_one_line_and_a_rescue_is_marked(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    for round in 0..3 {
        let claimed = store
            .claim_task("w", Duration::from_secs(30), 3)
            .await
            .expect("claim")
            .unwrap_or_else(|| panic!("round {round}: the deferred task is due"));
        assert!(store
            .defer_task(&t.id, &claimed.lease_token, Duration::ZERO)
            .await
            .expect("defer"));
    }
    let entries = timeline(&*store, &t.id).await;
    assert_eq!(
        kinds(&entries),
        ["accepted", "hold_placed", "waiting_for_account"],
        "{entries:?}"
    );
    let TaskEvent::WaitingForAccount { times, .. } = entries[2].event else {
        panic!("{entries:?}")
    };
    assert_eq!(times, 3);

    // Its worker dies (the lease runs out); the next claim is a rescue.
    store
        .claim_task("dead#w", Duration::from_millis(1), 3)
        .await
        .expect("claim")
        .expect("task");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let rescuer = store
        .claim_task("alive#w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("rescued");
    store
        .record_task_event(
            &t.id,
            &TaskEvent::UpstreamError {
                upstream_account: "ark-a".into(),
                operation: UpstreamOperation::Poll,
                class: seedgate_core::timeline::ErrorClass::Transient,
                failure: "upstream_error".into(),
                message: "502".into(),
                retry_after_ms: None,
            },
        )
        .await
        .expect("record");
    assert!(store
        .release_lease(&t.id, &rescuer.lease_token)
        .await
        .expect("hand back"));
    let entries = timeline(&*store, &t.id).await;
    let events: Vec<_> = entries[3..].iter().map(|e| e.event.clone()).collect();
    assert_eq!(events.len(), 4, "{entries:?}");
    assert_eq!(
        events[0],
        TaskEvent::Claimed {
            worker: "dead#w".into(),
            attempt: 1,
            rescued: false
        }
    );
    assert_eq!(
        events[1],
        TaskEvent::Claimed {
            worker: "alive#w".into(),
            attempt: 2,
            rescued: true
        }
    );
    assert_eq!(events[2].kind(), "upstream_error");
    assert!(
        matches!(
            events[3],
            TaskEvent::Requeued {
                reason: RequeueReason::HandedBack,
                error: None,
                ..
            }
        ),
        "{events:?}"
    );
}

pub async fn a_timeline_is_its_accounts_alone_and_merges_callbacks(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let other = new_key(&*store, "other", "h2", 1000).await;
    let t = task_with_callback(&key, 100, Some(HOOK));
    store.create_task(&t, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    assert!(store
        .complete_task(
            &t.id,
            &claimed.lease_token,
            &seedgate_core::task::TaskOutput::default()
        )
        .await
        .expect("complete"));
    // The final callback: refused once, then delivered.
    for (status, resolution) in [
        (Some(503), CallbackResolution::RetryAt(0)),
        (Some(200), CallbackResolution::Delivered),
    ] {
        let jobs = store
            .claim_callbacks("d", Duration::from_secs(30), 10)
            .await
            .expect("claim callbacks");
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert!(store
            .record_callback_attempt(&jobs[0], &attempt(status), resolution)
            .await
            .expect("attempt"));
    }

    let mine = AccountId::for_key(&key);
    let entries = store
        .task_timeline(&t.id, Some(&mine))
        .await
        .expect("read")
        .expect("the owner's");
    assert_eq!(
        kinds(&entries),
        [
            "accepted",
            "hold_placed",
            "claimed",
            "succeeded",
            "settled",
            "callback_attempt",
            "callback_attempt"
        ],
        "{entries:?}"
    );
    let statuses: Vec<_> = entries
        .iter()
        .filter_map(|e| match &e.event {
            TaskEvent::CallbackAttempt {
                status,
                event,
                attempt,
                ..
            } => Some((*status, event.clone(), *attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (Some(503), "final".to_string(), 1),
            (Some(200), "final".to_string(), 2)
        ]
    );
    // Another account sees nothing, exactly as for a task that does not exist.
    let theirs = AccountId::for_key(&other);
    assert!(store
        .task_timeline(&t.id, Some(&theirs))
        .await
        .expect("read")
        .is_none());
    assert!(store
        .task_timeline(&TaskId::from_string("task_none"), None)
        .await
        .expect("read")
        .is_none());
    // A deleted task is gone for its owner, not for operators.
    store.delete_task(&t.id, &mine).await.expect("delete");
    assert!(store
        .task_timeline(&t.id, Some(&mine))
        .await
        .expect("read")
        .is_none());
    assert_eq!(timeline(&*store, &t.id).await.len(), entries.len());
}

/// The submit's write-ahead record and the upstream job's id carry their timeline lines in the
/// same write: both land, or (the lease lost) neither.
pub async fn a_worker_record_and_its_line_are_written_together_or_not_at_all(
    store: Arc<dyn Store>,
) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task(&key, 300);
    store.create_task(&t, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    let sent = TaskEvent::SubmitSent {
        upstream_account: "ark-main".into(),
        reconcile: false,
    };
    let accepted = TaskEvent::UpstreamAccepted {
        upstream_account: "ark-main".into(),
        upstream_task_id: "job-1".into(),
    };
    // Fenced out (a stale lease): nothing is recorded, no line is written.
    assert!(!store
        .record_submit_intent(&t.id, "stale", Some(("ark-main", "key-1")), Some(&sent))
        .await
        .expect("fenced"));
    assert!(!store
        .record_provider_job(&t.id, "stale", "ark-main", "job-1", Some(&accepted))
        .await
        .expect("fenced"));
    let before = kinds(&timeline(&*store, &t.id).await);
    assert_eq!(before, vec!["accepted", "hold_placed", "claimed"]);

    assert!(store
        .record_submit_intent(
            &t.id,
            &claimed.lease_token,
            Some(("ark-main", "key-1")),
            Some(&sent)
        )
        .await
        .expect("intent"));
    assert!(store
        .record_provider_job(
            &t.id,
            &claimed.lease_token,
            "ark-main",
            "job-1",
            Some(&accepted)
        )
        .await
        .expect("job"));
    let entries = timeline(&*store, &t.id).await;
    assert_eq!(
        kinds(&entries),
        [before, vec!["submit_sent", "upstream_accepted"]].concat()
    );
    let last = entries.last().expect("a line");
    assert_eq!(last.event, accepted);
    let stored = store.load_task(&t.id).await.expect("read").expect("task");
    assert_eq!(stored.provider.as_deref(), Some("ark-main"));
    assert_ledger_clean(&*store).await;
}

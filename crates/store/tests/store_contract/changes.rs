//! The change feed and grouped attempt records, on both backends: every commit that changes a
//! task publishes it (before the call returns, so a reader after its own write never meets an
//! old copy), commits that make work due say so, and attempts written down together are each
//! fenced by their own lease.

use crate::support::*;
use seedgate_core::task::TaskOutput;
use seedgate_core::TaskId;
use seedgate_store::changes::Change;
use seedgate_store::{CallbackResolution, CallbackState, Store};
use std::sync::{Arc, Mutex};
use std::time::Duration;

on_both_backends! {
    #[tokio::test] commits_publish_what_they_changed_before_returning,
    #[tokio::test] attempts_recorded_together_are_each_fenced_by_their_lease,
}

/// Everything the feed publishes from now on.
fn listen(store: &dyn Store) -> Arc<Mutex<Vec<Change>>> {
    let heard: Arc<Mutex<Vec<Change>>> = Arc::default();
    let sink = heard.clone();
    store.changes().subscribe(Box::new(move |change| {
        if let Ok(mut heard) = sink.lock() {
            heard.push(change.clone());
        }
    }));
    heard
}

/// Takes what was heard so far.
fn take(heard: &Mutex<Vec<Change>>) -> Vec<Change> {
    std::mem::take(&mut *heard.lock().expect("lock"))
}

fn about(id: &TaskId) -> Change {
    Change::Task(id.clone())
}

pub async fn commits_publish_what_they_changed_before_returning(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h", 10_000).await;
    let heard = listen(&*store);
    let t = task_with_callback(&key, 10, Some(HOOK));
    store.create_task(&t, None).await.expect("create");
    let now = take(&heard);
    assert!(now.contains(&about(&t.id)), "{now:?}");
    assert!(now.contains(&Change::TasksDue), "{now:?}");
    assert!(now.contains(&Change::CallbacksDue), "{now:?}");

    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    assert!(take(&heard).contains(&about(&t.id)), "claimed");
    assert!(store
        .renew_lease(&t.id, &claimed.lease_token, Duration::from_secs(30))
        .await
        .expect("renew"));
    assert!(take(&heard).contains(&about(&t.id)), "renewed");
    assert!(store
        .complete_task(&t.id, &claimed.lease_token, &TaskOutput::default())
        .await
        .expect("complete"));
    let now = take(&heard);
    assert!(now.contains(&about(&t.id)), "{now:?}");
    assert!(now.contains(&Change::CallbacksDue), "{now:?}");
    store.delete_task(&t.id, &acct(&key)).await.expect("delete");
    assert!(take(&heard).contains(&about(&t.id)), "deleted");

    // A cancel, and a retry handing a task back to the queue.
    let queued = task(&key, 10);
    store.create_task(&queued, None).await.expect("create");
    store
        .cancel_task(&queued.id, &acct(&key))
        .await
        .expect("cancel");
    assert!(take(&heard).contains(&about(&queued.id)), "cancelled");
    let retried = task(&key, 10);
    store.create_task(&retried, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    take(&heard);
    assert!(store
        .release_lease(&retried.id, &claimed.lease_token)
        .await
        .expect("release"));
    let now = take(&heard);
    assert!(now.contains(&about(&retried.id)), "{now:?}");
    assert!(now.contains(&Change::TasksDue), "{now:?}");
    assert!(store.changes().is_live(), "the feed hears every commit");
}

pub async fn attempts_recorded_together_are_each_fenced_by_their_lease(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h", 10_000).await;
    for _ in 0..3 {
        let t = task_with_callback(&key, 10, Some(HOOK));
        store.create_task(&t, None).await.expect("create");
    }
    for _ in 0..3 {
        let c = store
            .claim_task("w", Duration::from_secs(30), 3)
            .await
            .expect("claim")
            .expect("task");
        assert!(store
            .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
            .await
            .expect("complete"));
    }
    let mut jobs = store
        .claim_callbacks("d", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 3);
    jobs.sort_by(|a, b| a.task_id.as_str().cmp(b.task_id.as_str()));
    // The second loses its lease to a redelivery while it is in flight.
    store
        .redeliver_callback(&jobs[1].task_id, &acct(&key))
        .await
        .expect("redeliver");
    let (ok, failed) = (attempt(Some(200)), attempt(Some(500)));
    let recorded = store
        .record_callback_attempts(&[
            (&jobs[0], &ok, CallbackResolution::Delivered),
            (&jobs[1], &ok, CallbackResolution::Delivered),
            (&jobs[2], &failed, CallbackResolution::RetryAt(0)),
        ])
        .await
        .expect("record");
    assert_eq!(recorded, vec![true, false, true]);
    let record = |id: TaskId| {
        let store = store.clone();
        let account = acct(&key);
        async move {
            store
                .callback_record(&id, &account)
                .await
                .expect("read")
                .expect("record")
        }
    };
    let first = record(jobs[0].task_id.clone()).await;
    assert_eq!(first.state, CallbackState::Delivered);
    assert_eq!(first.attempts.len(), 1);
    let fenced = record(jobs[1].task_id.clone()).await;
    assert_eq!(
        fenced.state,
        CallbackState::Pending,
        "due again, nothing logged"
    );
    assert!(fenced.attempts.is_empty());
    let retried = record(jobs[2].task_id.clone()).await;
    assert_eq!(retried.state, CallbackState::Pending);
    assert_eq!(retried.attempts.len(), 1);
    assert_eq!(retried.attempts[0].status, Some(500));
    // Recorded once: the same leases cannot be written again.
    let again = store
        .record_callback_attempts(&[(&jobs[0], &ok, CallbackResolution::Delivered)])
        .await
        .expect("record");
    assert_eq!(again, vec![false]);
    assert!(store
        .record_callback_attempts(&[])
        .await
        .expect("empty")
        .is_empty());
}

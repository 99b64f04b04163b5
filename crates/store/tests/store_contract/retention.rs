//! Retention's queries on both backends: only succeeded tasks' media expire (marked once, read
//! back without media, handed to the janitor once and recorded purged), unfinished tasks and
//! their reference copies are untouched, timeline events go only for finished tasks,
//! Idempotency-Key records and daily-spend rows in bounded batches, one janitor lease at a
//! time; and no ledger entry is ever deleted.

use crate::support::*;
use seedgate_core::media::MediaUrl;
use seedgate_core::request::MediaCopy;
use seedgate_core::task::TaskOutput;
use seedgate_core::timeline::TaskEvent;
use seedgate_core::TaskId;
use seedgate_store::Store;
use std::sync::Arc;
use std::time::Duration;

on_both_backends! {
    #[tokio::test] retention_expires_finished_media_only_and_keeps_the_ledger,
    #[tokio::test] retention_prunes_events_keys_and_spend_in_batches,
    #[tokio::test] retention_lease_is_held_by_one_janitor_at_a_time,
}

const DAY: i64 = 86_400_000;

fn output(id: &TaskId) -> TaskOutput {
    TaskOutput {
        video_keys: vec![format!("tasks/{}/1/0.mp4", id.as_str())],
        last_frame_key: Some(format!("tasks/{}/1/0_last_frame.png", id.as_str())),
        width: Some(640),
        ..Default::default()
    }
}

/// Queues a task pointing at reference copy `copy`; its id.
async fn with_copy(store: &dyn Store, key: &seedgate_core::ApiKeyId, copy: &str) -> TaskId {
    let mut t = task(key, 100);
    t.request.media_copies.insert(
        "first_frame_url".into(),
        MediaCopy {
            key: copy.into(),
            url: MediaUrl::parse(&format!("https://media.example/{copy}")).expect("url"),
            probed: None,
        },
    );
    store.create_task(&t, None).await.expect("create");
    t.id
}

pub async fn retention_expires_finished_media_only_and_keeps_the_ledger(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 10_000).await;
    // Done: claimed and completed with files. Queued and running: untouched whatever their age.
    let done = with_copy(&*store, &key, "refs/done.png").await;
    let claimed = store
        .claim_task("w", Duration::from_secs(60), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert_eq!(claimed.task.id, done);
    assert!(store
        .complete_task(&done, &claimed.lease_token, &output(&done))
        .await
        .expect("complete"));
    let running = with_copy(&*store, &key, "refs/running.png").await;
    let lease = store
        .claim_task("w", Duration::from_secs(60), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert_eq!(lease.task.id, running);
    let queued = with_copy(&*store, &key, "refs/queued.png").await;
    let entries = store.ledger_dump().await.expect("dump").entries.len();

    let now = seedgate_core::clock::now_ms();
    // Finished less than the lifetime ago: kept.
    assert!(store
        .expire_task_media(now - DAY, now, 500)
        .await
        .expect("expire")
        .is_empty());
    // A day later everything finished is past it: only the succeeded task is marked, once.
    let later = now + 2 * DAY;
    let marked = store
        .expire_task_media(later - DAY, later, 500)
        .await
        .expect("expire");
    assert_eq!(marked, vec![done.clone()]);
    assert!(store
        .expire_task_media(later - DAY, later, 500)
        .await
        .expect("again")
        .is_empty());
    assert_eq!(
        store.media_expired_at(&done).await.expect("read"),
        Some(later)
    );
    assert_eq!(store.media_expired_at(&queued).await.expect("read"), None);
    assert_eq!(store.media_expired_at(&running).await.expect("read"), None);

    // It reads back without media (its sizes stay); the others as they were.
    let read = store
        .get_task(&done, &acct(&key))
        .await
        .expect("get")
        .expect("task");
    let out = read.output.expect("output");
    assert!(out.video_keys.is_empty() && out.last_frame_key.is_none());
    assert_eq!(out.width, Some(640));

    // Its files are handed over only once the links' life since the mark has passed.
    assert!(store
        .media_to_purge(later, 500)
        .await
        .expect("purge list")
        .is_empty());
    let due = store
        .media_to_purge(later + 1, 500)
        .await
        .expect("purge list");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].task_id, done);
    assert_eq!(due[0].keys, {
        let o = output(&done);
        vec![o.video_keys[0].clone(), o.last_frame_key.expect("frame")]
    });
    store
        .media_purged(std::slice::from_ref(&done), later + 1)
        .await
        .expect("purged");
    assert!(store
        .media_to_purge(later + DAY, 500)
        .await
        .expect("purge list")
        .is_empty());

    // Copies of unfinished tasks stay in use whatever their age; a finished task's only while
    // it is recent.
    let in_use = store
        .media_copies_in_use(later)
        .await
        .expect("copies in use");
    assert!(in_use.contains("refs/queued.png") && in_use.contains("refs/running.png"));
    assert!(!in_use.contains("refs/done.png"), "{in_use:?}");
    let recent = store.media_copies_in_use(now - DAY).await.expect("in use");
    assert!(recent.contains("refs/done.png"));

    // Not one ledger entry went, and the books still balance.
    assert_eq!(
        store.ledger_dump().await.expect("dump").entries.len(),
        entries
    );
    assert_ledger_clean(&*store).await;
    assert!(store.database_bytes().await.expect("size").unwrap_or(0) > 0);
}

pub async fn retention_prunes_events_keys_and_spend_in_batches(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 10_000).await;
    let ids: Vec<TaskId> = queue_tasks(&*store, &key, 2, 100).await;
    // The first finishes (claimed, then failed); the second runs.
    let mut leases = Vec::new();
    for _ in 0..2 {
        leases.push(
            store
                .claim_task("w", Duration::from_secs(60), 3)
                .await
                .expect("claim")
                .expect("a task"),
        );
    }
    for id in &ids {
        store
            .record_task_event(
                id,
                &TaskEvent::UpstreamAccepted {
                    upstream_account: "acct".into(),
                    upstream_task_id: "job".into(),
                },
            )
            .await
            .expect("event");
    }
    let first = leases
        .iter()
        .find(|c| c.task.id == ids[0])
        .expect("the first task was claimed");
    let entries = store.ledger_dump().await.expect("dump").entries.len();
    assert!(store
        .fail_task(&ids[0], &first.lease_token, &failure())
        .await
        .expect("fail"));

    let now = seedgate_core::clock::now_ms();
    let later = now + DAY;
    // Batches of one: the finished task's events go one at a time; the running task's stay.
    let mut pruned = 0;
    loop {
        let n = store.prune_task_events(later, 1).await.expect("prune");
        assert!(n <= 1);
        if n == 0 {
            break;
        }
        pruned += n;
    }
    assert!(
        pruned >= 2,
        "claimed and upstream_accepted of the finished task"
    );
    let kept = store
        .task_timeline(&ids[1], None)
        .await
        .expect("timeline")
        .expect("task");
    assert!(kept.iter().any(|e| e.event.kind() == "upstream_accepted"));
    let gone = store
        .task_timeline(&ids[0], None)
        .await
        .expect("timeline")
        .expect("task");
    assert!(!gone.iter().any(|e| e.event.kind() == "upstream_accepted"));

    // Idempotency-Key records, oldest first, a batch at a time.
    for k in ["a", "b", "c"] {
        store
            .claim_idempotency_key(&key, k, "fp", Duration::from_secs(60))
            .await
            .expect("claim");
    }
    assert_eq!(
        store
            .prune_idempotency_batch(now - DAY, 2)
            .await
            .expect("none"),
        0
    );
    assert_eq!(store.prune_idempotency_batch(later, 2).await.expect("2"), 2);
    assert_eq!(store.prune_idempotency_batch(later, 2).await.expect("1"), 1);

    // Daily spend: today's row is what the budgets count; only days before the cut go.
    let today = seedgate_core::accounts::utc_day(now);
    let before = store
        .owner_usage(acct(&key).as_str(), false, now)
        .await
        .expect("usage");
    assert_eq!(store.prune_spend_days(today - 40, 500).await.expect("0"), 0);
    assert_eq!(
        store
            .owner_usage(acct(&key).as_str(), false, now)
            .await
            .expect("usage"),
        before
    );
    assert!(store.prune_spend_days(today + 1, 500).await.expect("today") > 0);

    assert_eq!(
        store.ledger_dump().await.expect("dump").entries.len(),
        entries + 1,
        "the failure's release only"
    );
    assert_ledger_clean(&*store).await;
}

pub async fn retention_lease_is_held_by_one_janitor_at_a_time(store: Arc<dyn Store>) {
    let now = seedgate_core::clock::now_ms();
    assert!(store.claim_janitor("a", now, now + 1000).await.expect("a"));
    assert!(!store.claim_janitor("b", now, now + 1000).await.expect("b"));
    // The holder renews; another takes over once it lapsed.
    assert!(store
        .claim_janitor("a", now + 10, now + 2000)
        .await
        .expect("a"));
    assert!(!store
        .claim_janitor("b", now + 1999, now + 3000)
        .await
        .expect("b"));
    assert!(store
        .claim_janitor("b", now + 2000, now + 3000)
        .await
        .expect("b"));
    // Released, it is free at once; a release by a non-holder does nothing.
    store.release_janitor("a").await.expect("release");
    assert!(!store
        .claim_janitor("a", now + 2001, now + 3000)
        .await
        .expect("a"));
    store.release_janitor("b").await.expect("release");
    assert!(store
        .claim_janitor("a", now + 2001, now + 3000)
        .await
        .expect("a"));
}

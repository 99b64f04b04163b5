//! The operator's task actions on both backends: the manual refund (once, even when raced),
//! the cancel of a queued and of a running task (one release, the worker fenced out), the
//! search filters and paging, the callback redelivery, and the audit entry of every write.

use crate::support::*;
use seedgate_core::ledger::EntryKind;
use seedgate_core::task::{TaskOutput, TaskStatus};
use seedgate_core::{ApiKeyId, TaskId};
use seedgate_store::task_admin::{TaskSearch, TaskSearchPage};
use seedgate_store::{Actor, CallbackResolution, CallbackState, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

on_both_backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    a_manual_refund_is_written_once_even_when_raced,
    #[tokio::test] a_refund_is_partial_bounded_and_only_for_settled_tasks,
    #[tokio::test] an_operator_cancels_queued_and_running_tasks_once,
    #[tokio::test] a_task_whose_submit_is_in_doubt_is_not_cancelled,
    #[tokio::test] search_filters_each_narrow_and_pages_newest_first,
    #[tokio::test] an_operator_redelivers_any_accounts_final_callback,
}

fn operator() -> Actor {
    Actor("operator-test".into())
}

/// Queues a task of `credits` for `key`, claims it and completes it (settled).
async fn settled_task(store: &dyn Store, key: &ApiKeyId, credits: u64) -> TaskId {
    let t = task(key, credits);
    store.create_task(&t, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert_eq!(claimed.task.id, t.id);
    assert!(store
        .complete_task(&t.id, &claimed.lease_token, &TaskOutput::default())
        .await
        .expect("complete"));
    t.id
}

async fn entries_of(store: &dyn Store, id: &TaskId, kind: EntryKind) -> Vec<i64> {
    store
        .ledger_dump()
        .await
        .expect("dump")
        .entries
        .into_iter()
        .filter(|e| e.task_id.as_deref() == Some(id.as_str()) && e.kind == kind)
        .map(|e| e.amount)
        .collect()
}

async fn audit_actions(store: &dyn Store, id: &TaskId) -> Vec<String> {
    store
        .admin_audit(0, 100, Some(id.as_str()))
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect()
}

pub async fn a_manual_refund_is_written_once_even_when_raced(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let id = settled_task(&*store, &key, 300).await;
    assert_eq!(balance(&*store, &key).await, 700);
    let day = seedgate_core::clock::now_ms();
    let spent_before = store
        .owner_usage(acct(&key).as_str(), false, day)
        .await
        .expect("usage")
        .usage
        .spent_today;
    assert_eq!(spent_before, 300);

    // Eight refunds of the same task at once: exactly one goes through.
    let racers = (0..8).map(|n| {
        let store = store.clone();
        let id = id.clone();
        tokio::spawn(async move {
            store
                .refund_task(&id, None, &format!("racer {n}"), &operator())
                .await
        })
    });
    let results: Vec<_> = futures::future::join_all(racers)
        .await
        .into_iter()
        .map(|r| r.expect("join"))
        .collect();
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert_eq!(won[0].credits, 300);
    assert_eq!(won[0].balance, 1000);
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
        }
    }
    // And once more, later: still refused, nothing moves.
    assert!(matches!(
        store.refund_task(&id, None, "again", &operator()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(entries_of(&*store, &id, EntryKind::Refund).await, vec![300]);
    assert_eq!(balance(&*store, &key).await, 1000);
    // The budgets get it back, on the day it was spent.
    let spent_after = store
        .owner_usage(acct(&key).as_str(), false, day)
        .await
        .expect("usage")
        .usage
        .spent_today;
    assert_eq!(spent_after, 0);
    let key_spent = store
        .owner_usage(key.as_str(), true, day)
        .await
        .expect("usage")
        .usage
        .spent_today;
    assert_eq!(key_spent, 0);
    assert_eq!(audit_actions(&*store, &id).await, vec!["task.refund"]);
    let seen = store.operator_task(&id).await.expect("read").expect("task");
    assert_eq!(seen.cost.charged, 0);
    assert_eq!(seen.cost.refunded, 300);
    assert_eq!(seen.manual_refund.expect("refund").credits, 300);
    assert_ledger_clean(&*store).await;
}

pub async fn a_refund_is_partial_bounded_and_only_for_settled_tasks(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let id = settled_task(&*store, &key, 250).await;
    // More than was charged, or nothing: refused, and nothing moves.
    for credits in [251, 0, -5] {
        assert!(
            matches!(
                store
                    .refund_task(&id, Some(credits), "too much", &operator())
                    .await,
                Err(StoreError::Conflict(_))
            ),
            "{credits}"
        );
    }
    assert_eq!(balance(&*store, &key).await, 750);
    let refund = store
        .refund_task(&id, Some(100), "partly unusable", &operator())
        .await
        .expect("refund");
    assert_eq!((refund.credits, refund.balance), (100, 850));
    let seen = store.operator_task(&id).await.expect("read").expect("task");
    assert_eq!(
        (
            seen.cost.price,
            seen.cost.held,
            seen.cost.charged,
            seen.cost.refunded
        ),
        (250, 0, 150, 100)
    );
    let manual = seen.manual_refund.expect("refund");
    assert_eq!(manual.note, "partly unusable");
    // The rest cannot be refunded in a second go: once per task.
    assert!(matches!(
        store
            .refund_task(&id, Some(150), "the rest", &operator())
            .await,
        Err(StoreError::Conflict(_))
    ));

    // A queued task, a failed one: refused (the failed one was released in full already).
    let queued = task(&key, 10);
    store.create_task(&queued, None).await.expect("create");
    assert!(matches!(
        store.refund_task(&queued.id, None, "no", &operator()).await,
        Err(StoreError::Conflict(_))
    ));
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    assert!(store
        .fail_task(&claimed.task.id, &claimed.lease_token, &failure())
        .await
        .expect("fail"));
    assert!(matches!(
        store.refund_task(&queued.id, None, "no", &operator()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .refund_task(&TaskId::generate(), None, "no", &operator())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(entries_of(&*store, &queued.id, EntryKind::Refund)
        .await
        .is_empty());
    assert_eq!(balance(&*store, &key).await, 850);
    assert_ledger_clean(&*store).await;
}

pub async fn an_operator_cancels_queued_and_running_tasks_once(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let running = task(&key, 300);
    store.create_task(&running, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    assert_eq!(claimed.task.id, running.id);
    assert!(store
        .record_provider_job(&running.id, &claimed.lease_token, "ark-main", "job-1", None)
        .await
        .expect("job"));
    let queued = task(&key, 200);
    store.create_task(&queued, None).await.expect("create");
    assert_eq!(balance(&*store, &key).await, 500);

    let cancelled = store
        .operator_cancel_task(&queued.id, &operator())
        .await
        .expect("cancel queued");
    assert_eq!(cancelled.task.status, TaskStatus::Cancelled);
    assert_eq!((cancelled.cost.held, cancelled.cost.refunded), (0, 200));

    let stopped = store
        .operator_cancel_task(&running.id, &operator())
        .await
        .expect("cancel running");
    assert_eq!(stopped.task.status, TaskStatus::Cancelled);
    assert!(stopped.task.finished_at_ms.is_some());
    assert_eq!(stopped.provider_job_id.as_deref(), Some("job-1"));
    assert_eq!(balance(&*store, &key).await, 1000);

    // The worker finds its lease gone and can settle nothing.
    assert!(!store
        .renew_lease(&running.id, &claimed.lease_token, Duration::from_secs(30))
        .await
        .expect("renew"));
    assert!(!store
        .complete_task(&running.id, &claimed.lease_token, &TaskOutput::default())
        .await
        .expect("complete"));
    assert!(!store
        .fail_task(&running.id, &claimed.lease_token, &failure())
        .await
        .expect("fail"));
    // A second cancel of either: refused, nothing moves.
    for id in [&queued.id, &running.id] {
        assert!(matches!(
            store.operator_cancel_task(id, &operator()).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(entries_of(&*store, id, EntryKind::Release).await.len(), 1);
        assert_eq!(audit_actions(&*store, id).await, vec!["task.cancel"]);
    }
    assert!(matches!(
        store
            .operator_cancel_task(&TaskId::generate(), &operator())
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(balance(&*store, &key).await, 1000);
    assert!(store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .is_none());
    let audit = store
        .admin_audit(0, 100, Some(running.id.as_str()))
        .await
        .expect("audit");
    assert_eq!(audit[0].actor, "operator-test");
    assert_eq!(
        audit[0].before.as_ref().expect("before")["status"],
        "running"
    );
    assert_eq!(
        audit[0].after.as_ref().expect("after")["status"],
        "cancelled"
    );
    assert_ledger_clean(&*store).await;
}

pub async fn a_task_whose_submit_is_in_doubt_is_not_cancelled(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task(&key, 300);
    store.create_task(&t, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    assert!(store
        .record_submit_intent(
            &t.id,
            &claimed.lease_token,
            Some(("ark-main", "key-1")),
            None
        )
        .await
        .expect("intent"));
    let refused = store.operator_cancel_task(&t.id, &operator()).await;
    assert!(
        matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("ark-main")),
        "{refused:?}"
    );
    let seen = store
        .operator_task(&t.id)
        .await
        .expect("read")
        .expect("task");
    assert_eq!(seen.task.status, TaskStatus::Running);
    assert!(seen.submit_in_doubt);
    assert_eq!(seen.cost.held, 300);
    // Once the upstream's answer is known, it can be.
    assert!(store
        .record_provider_job(&t.id, &claimed.lease_token, "ark-main", "job-9", None)
        .await
        .expect("job"));
    store
        .operator_cancel_task(&t.id, &operator())
        .await
        .expect("cancel");
    assert_eq!(balance(&*store, &key).await, 1000);
    assert_ledger_clean(&*store).await;
}

fn ids(page: &TaskSearchPage) -> Vec<TaskId> {
    page.tasks.iter().map(|t| t.task.id.clone()).collect()
}

async fn search(store: &dyn Store, search: TaskSearch) -> Vec<TaskId> {
    let page = store
        .search_tasks(&TaskSearch {
            limit: 100,
            ..search
        })
        .await
        .expect("search");
    ids(&page)
}

pub async fn search_filters_each_narrow_and_pages_newest_first(store: Arc<dyn Store>) {
    let a = new_key(&*store, "a", "h1", 10_000).await;
    let b = new_key(&*store, "b", "h2", 10_000).await;
    let hour = 3_600_000;
    let now = seedgate_core::clock::now_ms();

    // a1: an hour old, still queued. a2: queued now. b1: another model, succeeded at
    // `up-1` as job-1. b2: failed at `up-2` as job-2.
    let mut a1 = task(&a, 10);
    a1.created_at_ms = now - hour;
    store.create_task(&a1, None).await.expect("create");
    let a2 = task(&a, 10);
    store.create_task(&a2, None).await.expect("create");
    let mut b1 = task(&b, 10);
    b1.request.model = "seedance-2.0".into();
    b1.requested_model = "seedance-2.0".into();
    store.create_task(&b1, None).await.expect("create");
    let b2 = task(&b, 10);
    store.create_task(&b2, None).await.expect("create");
    for (job, provider, job_id) in [(&b1, "up-1", "job-1"), (&b2, "up-2", "job-2")] {
        // Claims go round the accounts; take b's tasks by claiming until each is ours.
        loop {
            let c = store
                .claim_task("w", Duration::from_secs(30), 3)
                .await
                .expect("claim")
                .expect("task");
            if c.task.id != job.id {
                assert!(store
                    .release_lease(&c.task.id, &c.lease_token)
                    .await
                    .expect("release"));
                continue;
            }
            assert!(store
                .record_provider_job(&c.task.id, &c.lease_token, provider, job_id, None)
                .await
                .expect("job"));
            if job.id == b1.id {
                assert!(store
                    .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
                    .await
                    .expect("complete"));
            } else {
                assert!(store
                    .fail_task(&c.task.id, &c.lease_token, &failure())
                    .await
                    .expect("fail"));
            }
            break;
        }
    }
    let all = vec![b2.id.clone(), b1.id.clone(), a2.id.clone(), a1.id.clone()];
    assert_eq!(
        search(&*store, TaskSearch::default()).await,
        all,
        "newest first"
    );

    let by_status = |s: &[TaskStatus]| TaskSearch {
        statuses: s.to_vec(),
        ..Default::default()
    };
    assert_eq!(
        search(&*store, by_status(&[TaskStatus::Queued])).await,
        vec![a2.id.clone(), a1.id.clone()]
    );
    assert_eq!(
        search(
            &*store,
            by_status(&[TaskStatus::Succeeded, TaskStatus::Failed])
        )
        .await,
        vec![b2.id.clone(), b1.id.clone()]
    );
    assert_eq!(
        search(
            &*store,
            TaskSearch {
                account: Some(acct(&b)),
                ..Default::default()
            }
        )
        .await,
        vec![b2.id.clone(), b1.id.clone()]
    );
    assert_eq!(
        search(
            &*store,
            TaskSearch {
                api_key: Some(a.clone()),
                ..Default::default()
            }
        )
        .await,
        vec![a2.id.clone(), a1.id.clone()]
    );
    assert_eq!(
        search(
            &*store,
            TaskSearch {
                model: Some("seedance-2.0".into()),
                ..Default::default()
            }
        )
        .await,
        vec![b1.id.clone()]
    );
    assert_eq!(
        search(
            &*store,
            TaskSearch {
                upstream_account: Some("up-2".into()),
                ..Default::default()
            }
        )
        .await,
        vec![b2.id.clone()]
    );
    assert_eq!(
        search(
            &*store,
            TaskSearch {
                upstream_task_id: Some("job-1".into()),
                ..Default::default()
            }
        )
        .await,
        vec![b1.id.clone()]
    );
    assert_eq!(
        search(
            &*store,
            TaskSearch {
                created_before_ms: Some(now - hour + 1),
                ..Default::default()
            }
        )
        .await,
        vec![a1.id.clone()]
    );
    assert_eq!(
        search(
            &*store,
            TaskSearch {
                created_from_ms: Some(now - 1000),
                ..Default::default()
            }
        )
        .await,
        vec![b2.id.clone(), b1.id.clone(), a2.id.clone()]
    );
    // Queued longer than 30 minutes: only the hour-old one.
    assert_eq!(
        search(
            &*store,
            TaskSearch {
                queued_since_ms: Some(now - hour / 2),
                ..Default::default()
            }
        )
        .await,
        vec![a1.id.clone()]
    );
    // Filters combine: b's failed tasks at up-1 are none.
    assert!(search(
        &*store,
        TaskSearch {
            account: Some(acct(&b)),
            upstream_account: Some("up-1".into()),
            statuses: vec![TaskStatus::Failed],
            ..Default::default()
        }
    )
    .await
    .is_empty());

    // Pages of one, following the cursor: every task once, newest first.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .search_tasks(&TaskSearch {
                limit: 1,
                before: before.clone(),
                ..Default::default()
            })
            .await
            .expect("page");
        seen.extend(ids(&page));
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, all);

    // Each row carries its money: b1 settled, b2 released, a2 held.
    let page = store
        .search_tasks(&TaskSearch {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("search");
    let cost = |id: &TaskId| {
        let t = page
            .tasks
            .iter()
            .find(|t| &t.task.id == id)
            .expect("listed");
        (t.cost.held, t.cost.charged, t.cost.refunded)
    };
    assert_eq!(cost(&b1.id), (0, 10, 0));
    assert_eq!(cost(&b2.id), (0, 0, 10));
    assert_eq!(cost(&a2.id), (10, 0, 0));
    assert_ledger_clean(&*store).await;
}

pub async fn an_operator_redelivers_any_accounts_final_callback(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let hooked = task_with_callback(&key, 10, Some(HOOK));
    store.create_task(&hooked, None).await.expect("create");
    let c = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    assert!(store
        .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
        .await
        .expect("complete"));
    let jobs = store
        .claim_callbacks("d", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 1);
    assert!(store
        .record_callback_attempt(&jobs[0], &attempt(Some(500)), CallbackResolution::Exhausted)
        .await
        .expect("attempt"));
    let record = |store: Arc<dyn Store>| {
        let id = hooked.id.clone();
        let account = acct(&key);
        async move {
            store
                .callback_record(&id, &account)
                .await
                .expect("record")
                .expect("callback")
        }
    };
    assert_eq!(record(store.clone()).await.state, CallbackState::Failed);

    store
        .operator_redeliver_callback(&hooked.id, &operator())
        .await
        .expect("redeliver");
    assert_eq!(record(store.clone()).await.state, CallbackState::Pending);
    assert_eq!(
        store
            .claim_callbacks("d", Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .len(),
        1,
        "due again"
    );
    assert_eq!(
        audit_actions(&*store, &hooked.id).await,
        vec!["task.callback_redeliver"]
    );

    // A task without a callback: nothing to redeliver, and nothing audited.
    let silent = task(&key, 10);
    store.create_task(&silent, None).await.expect("create");
    assert!(matches!(
        store
            .operator_redeliver_callback(&silent.id, &operator())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(audit_actions(&*store, &silent.id).await.is_empty());
}

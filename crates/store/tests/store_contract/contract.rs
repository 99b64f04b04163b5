//! The `Store` contract: one body per guarantee, written against `Arc<dyn Store>`. `main.rs`
//! runs each of them on every backend. Every test that moves money ends with the ledger
//! verifier.

use crate::support::*;
use seedgate_core::task::{FailureKind, TaskError, TaskOutput, TaskStatus};
use seedgate_core::{AccountId, ApiKeyId, TaskId};
use seedgate_store::{
    CallbackResolution, CallbackState, IdempotencyClaim, IdempotencyCompletion, Store, StoreError,
    StoredResponse, TaskPage, TaskQuery,
};
use std::sync::Arc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Holds and their single resolution, fencing, rescue, the balance guard, Idempotency-Keys,
// listing and deletion.
// ---------------------------------------------------------------------------------------------

pub async fn hold_then_settle_and_hold_then_release(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;

    let ok = task(&key, 300);
    store.create_task(&ok, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert_eq!(claimed.task.id, ok.id);
    assert_eq!(claimed.task.attempt, 1);
    assert!(store
        .complete_task(&ok.id, &claimed.lease_token, &TaskOutput::default())
        .await
        .expect("complete"));

    let bad = task(&key, 200);
    store.create_task(&bad, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert!(store
        .fail_task(&bad.id, &claimed.lease_token, &failure())
        .await
        .expect("fail"));
    // A second resolution is fenced out: the lease is gone.
    assert!(!store
        .fail_task(&bad.id, &claimed.lease_token, &failure())
        .await
        .expect("fail twice"));
    assert!(!store
        .complete_task(&bad.id, &claimed.lease_token, &TaskOutput::default())
        .await
        .expect("complete after fail"));

    assert_eq!(
        balance(&*store, &key).await,
        700,
        "300 charged, 200 refunded"
    );
    assert_ledger_clean(&*store).await;
}

pub async fn balance_guard_refuses_overdraft_and_creates_nothing(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 500).await;
    store
        .create_task(&task(&key, 400), None)
        .await
        .expect("first fits");
    let second = task(&key, 400);
    match store.create_task(&second, None).await {
        Err(StoreError::InsufficientCredits { available }) => assert_eq!(available, 100),
        other => panic!("expected insufficient credits, got {other:?}"),
    }
    assert!(store
        .get_task(&second.id, &acct(&key))
        .await
        .expect("get")
        .is_none());
    assert!(store.load_task(&second.id).await.expect("load").is_none());
    assert_eq!(
        store.ledger_dump().await.expect("dump").entries.len(),
        2,
        "the grant and one hold"
    );
    assert_ledger_clean(&*store).await;
}

pub async fn expired_lease_is_rescued_and_the_stale_worker_is_fenced(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    let first = store
        .claim_task("dead-worker", Duration::from_millis(1), 3)
        .await
        .expect("claim")
        .expect("task");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = store
        .claim_task("new-worker", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("rescued");
    assert_eq!(second.task.id, t.id);
    assert_eq!(second.task.attempt, 2);
    assert!(!store
        .renew_lease(&t.id, &first.lease_token, Duration::from_secs(30))
        .await
        .expect("renew"));
    assert!(!store
        .record_provider_job(&t.id, &first.lease_token, "p", "job-stale", None)
        .await
        .expect("record"));
    assert!(!store
        .release_lease(&t.id, &first.lease_token)
        .await
        .expect("release"));
    assert!(!store
        .retry_task(&t.id, &first.lease_token, Duration::ZERO, &failure())
        .await
        .expect("retry"));
    assert!(!store
        .complete_task(&t.id, &first.lease_token, &TaskOutput::default())
        .await
        .expect("stale"));
    assert!(store
        .renew_lease(&t.id, &second.lease_token, Duration::from_secs(30))
        .await
        .expect("renew"));
    assert!(store
        .complete_task(&t.id, &second.lease_token, &TaskOutput::default())
        .await
        .expect("fresh"));
    assert_ledger_clean(&*store).await;
}

pub async fn a_task_out_of_attempts_is_failed_and_refunded_by_the_rescuer(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    store
        .claim_task("w1", Duration::from_millis(1), 1)
        .await
        .expect("claim")
        .expect("task");
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(store
        .claim_task("w2", Duration::from_secs(30), 1)
        .await
        .expect("claim")
        .is_none());
    let after = store
        .get_task(&t.id, &acct(&key))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(after.status, TaskStatus::Failed);
    assert_eq!(
        after.error.as_ref().map(|e| e.kind),
        Some(FailureKind::Internal)
    );
    assert_eq!(balance(&*store, &key).await, 1000);
    assert_ledger_clean(&*store).await;
}

pub async fn cancel_releases_a_queued_task_once(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let other = new_key(&*store, "o", "h2", 0).await;
    let t = task(&key, 250);
    store.create_task(&t, None).await.expect("create");
    assert!(matches!(
        store.cancel_task(&t.id, &acct(&other)).await,
        Err(StoreError::NotFound)
    ));
    let cancelled = store.cancel_task(&t.id, &acct(&key)).await.expect("cancel");
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert!(cancelled.finished_at_ms.is_some());
    assert!(matches!(
        store.cancel_task(&t.id, &acct(&key)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(balance(&*store, &key).await, 1000);
    assert!(store
        .claim_task("w", Duration::from_secs(5), 3)
        .await
        .expect("claim")
        .is_none());
    assert_ledger_clean(&*store).await;
}

pub async fn idempotency_claims_replay_conflict_and_mismatch(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let stale = Duration::from_secs(60);
    assert_eq!(
        store
            .claim_idempotency_key(&key, "abc", "fp1", stale)
            .await
            .expect("c"),
        IdempotencyClaim::Claimed
    );
    assert_eq!(
        store
            .claim_idempotency_key(&key, "abc", "fp1", stale)
            .await
            .expect("c"),
        IdempotencyClaim::InFlight
    );
    assert_eq!(
        store
            .claim_idempotency_key(&key, "abc", "fp2", stale)
            .await
            .expect("c"),
        IdempotencyClaim::Mismatch
    );
    let response = StoredResponse {
        status: 200,
        body: b"{\"id\":1}".to_vec(),
    };
    store
        .create_task(
            &task(&key, 10),
            Some(IdempotencyCompletion {
                key: "abc".into(),
                response: response.clone(),
            }),
        )
        .await
        .expect("create");
    assert_eq!(
        store
            .claim_idempotency_key(&key, "abc", "fp1", stale)
            .await
            .expect("c"),
        IdempotencyClaim::Replay(response)
    );
    // Scoped per API key: another key may use the same string.
    let other = new_key(&*store, "o", "h2", 0).await;
    assert_eq!(
        store
            .claim_idempotency_key(&other, "abc", "fp9", stale)
            .await
            .expect("c"),
        IdempotencyClaim::Claimed
    );
    // A released claim can be taken again.
    store
        .release_idempotency_key(&other, "abc")
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_idempotency_key(&other, "abc", "fp8", stale)
            .await
            .expect("c"),
        IdempotencyClaim::Claimed
    );
    // A stale in-progress claim is taken over.
    assert_eq!(
        store
            .claim_idempotency_key(&other, "abc", "fp8", Duration::ZERO)
            .await
            .expect("c"),
        IdempotencyClaim::Claimed
    );
    // A completion for a key that is not held creates nothing.
    let orphan = task(&key, 10);
    assert!(matches!(
        store
            .create_task(
                &orphan,
                Some(IdempotencyCompletion {
                    key: "never-claimed".into(),
                    response: StoredResponse {
                        status: 200,
                        body: Vec::new(),
                    },
                }),
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.load_task(&orphan.id).await.expect("load").is_none());
    assert_eq!(balance(&*store, &key).await, 990);
    assert_ledger_clean(&*store).await;
}

pub async fn concurrent_submits_never_overdraw(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let mut handles = Vec::new();
    for _ in 0..40 {
        let store = store.clone();
        let key = key.clone();
        handles.push(tokio::spawn(async move {
            store.create_task(&task(&key, 100), None).await.is_ok()
        }));
    }
    let mut accepted = 0;
    for h in handles {
        if h.await.expect("join") {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 10, "exactly balance / price submits fit");
    assert_eq!(balance(&*store, &key).await, 0);
    assert_ledger_clean(&*store).await;
}

/// SQLite folds concurrent submits into one group transaction, each inside a savepoint of its
/// own; PostgreSQL commits each on its own. The guarantee is the same: a refused submit leaves no
/// trace and undoes nobody else's.
pub async fn a_refused_submit_among_concurrent_ones_leaves_the_others_whole(store: Arc<dyn Store>) {
    let rich = new_key(&*store, "rich", "h1", 10_000).await;
    let poor = new_key(&*store, "poor", "h2", 50).await;
    let mut handles = Vec::new();
    for i in 0..60 {
        let store = store.clone();
        let key = if i % 2 == 0 {
            rich.clone()
        } else {
            poor.clone()
        };
        handles.push(tokio::spawn(async move {
            let t = task(&key, 100);
            let result = store.create_task(&t, None).await;
            (key, t.id, result.is_ok())
        }));
    }
    let mut created = 0;
    for h in handles {
        let (key, id, ok) = h.await.expect("join");
        assert_eq!(ok, key == rich, "only the rich key's submits fit");
        assert_eq!(
            store
                .get_task(&id, &acct(&key))
                .await
                .expect("get")
                .is_some(),
            ok,
            "refused submits leave no task"
        );
        created += usize::from(ok);
    }
    assert_eq!(created, 30);
    assert_eq!(balance(&*store, &rich).await, 10_000 - 30 * 100);
    assert_eq!(balance(&*store, &poor).await, 50);
    assert_ledger_clean(&*store).await;
}

pub async fn listing_filters_orders_pages_and_counts(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 10_000).await;
    let other = new_key(&*store, "o", "h2", 10_000).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let t = task(&key, 10);
        store.create_task(&t, None).await.expect("create");
        ids.push(t.id);
        // ULIDs made in the same millisecond are still ordered, but spread them anyway.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    store
        .create_task(&task(&other, 10), None)
        .await
        .expect("other key's task");
    store
        .cancel_task(&ids[1], &acct(&key))
        .await
        .expect("cancel");

    let list = |query: TaskQuery| {
        let store = &store;
        let key = &key;
        async move { store.list_tasks(&acct(key), &query).await.expect("list") }
    };
    let ids_of = |page: &TaskPage| page.tasks.iter().map(|t| t.id.clone()).collect::<Vec<_>>();

    let all = list(TaskQuery::default()).await;
    assert_eq!(all.total, 5, "another key's task is not counted");
    let newest_first: Vec<TaskId> = ids.iter().rev().cloned().collect();
    assert_eq!(ids_of(&all), newest_first);

    let oldest = list(TaskQuery {
        oldest_first: true,
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&oldest), ids[..2].to_vec());
    assert!(oldest.has_more);
    let next = list(TaskQuery {
        oldest_first: true,
        limit: 2,
        after: Some(ids[1].clone()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&next), ids[2..4].to_vec());
    let newer = list(TaskQuery {
        limit: 2,
        after: Some(ids[3].clone()),
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&newer), vec![ids[2].clone(), ids[1].clone()]);

    let paged = list(TaskQuery {
        offset: 4,
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&paged), vec![ids[0].clone()]);
    assert!(!paged.has_more);
    assert_eq!(paged.total, 5);

    let cancelled = list(TaskQuery {
        statuses: vec![TaskStatus::Cancelled],
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&cancelled), vec![ids[1].clone()]);
    assert_eq!(cancelled.total, 1);

    let picked = list(TaskQuery {
        ids: vec![ids[0].clone(), ids[3].clone()],
        statuses: vec![TaskStatus::Queued],
        ..Default::default()
    })
    .await;
    assert_eq!(ids_of(&picked), vec![ids[3].clone(), ids[0].clone()]);
    let none = list(TaskQuery {
        model: Some("seedance-2.5".into()),
        ..Default::default()
    })
    .await;
    assert_eq!((none.total, none.tasks.len()), (0, 0));
    let by_model = list(TaskQuery {
        model: Some(all.tasks[0].request.model.clone()),
        ..Default::default()
    })
    .await;
    assert_eq!(by_model.total, 5);
}

pub async fn only_finished_tasks_can_be_deleted_and_then_they_are_gone(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let other = new_key(&*store, "o", "h2", 0).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    assert!(matches!(
        store.delete_task(&t.id, &acct(&key)).await,
        Err(StoreError::Conflict(_))
    ));
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert!(matches!(
        store.delete_task(&t.id, &acct(&key)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store
        .complete_task(&t.id, &claimed.lease_token, &TaskOutput::default())
        .await
        .expect("complete"));
    assert!(matches!(
        store.delete_task(&t.id, &acct(&other)).await,
        Err(StoreError::NotFound)
    ));
    store.delete_task(&t.id, &acct(&key)).await.expect("delete");
    assert!(store
        .get_task(&t.id, &acct(&key))
        .await
        .expect("get")
        .is_none());
    assert!(
        store.load_task(&t.id).await.expect("load").is_some(),
        "callback delivery still reads it"
    );
    assert_eq!(
        store
            .list_tasks(&acct(&key), &TaskQuery::default())
            .await
            .expect("list")
            .total,
        0
    );
    assert!(matches!(
        store.delete_task(&t.id, &acct(&key)).await,
        Err(StoreError::NotFound)
    ));
    // The money stays accounted for: the settled hold is still in the ledger.
    assert_ledger_clean(&*store).await;
    assert_eq!(balance(&*store, &key).await, 900);
}

// ---------------------------------------------------------------------------------------------
// The rest of the Store surface: keys, retries, callbacks, webhook secrets, assets, pruning.
// ---------------------------------------------------------------------------------------------

pub async fn api_keys_grants_and_revocation(store: Arc<dyn Store>) {
    assert!(matches!(
        store.create_api_key("neg", "h0", "sg_", -1).await,
        Err(StoreError::Conflict(_))
    ));
    let a = store
        .create_api_key("alice", "ha", "sg_a", 100)
        .await
        .expect("a");
    assert_eq!(balance(&*store, &a.id).await, 100);
    assert_eq!(
        a.account_id,
        acct(&a.id),
        "a key made alone gets an account of its own"
    );
    // Keys list in creation order, by the millisecond.
    tokio::time::sleep(Duration::from_millis(3)).await;
    let b = new_key(&*store, "bob", "hb", 0).await;
    assert!(
        store.create_api_key("dup", "ha", "sg_", 0).await.is_err(),
        "key hashes are unique"
    );
    assert_eq!(store.count_api_keys().await.expect("count"), 2);
    assert_eq!(
        store
            .list_api_keys(None)
            .await
            .expect("list")
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        vec!["alice", "bob"]
    );
    assert_eq!(
        store
            .find_credential("ha")
            .await
            .expect("by hash")
            .expect("found")
            .key,
        a
    );
    assert!(store
        .find_credential("nope")
        .await
        .expect("by hash")
        .is_none());
    assert_eq!(
        store
            .find_api_key("bob")
            .await
            .expect("by name")
            .expect("found")
            .id,
        b
    );
    new_key(&*store, "bob", "hb2", 0).await;
    assert!(matches!(
        store.find_api_key("bob").await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(
        store
            .grant_credits(&acct(&b), 500, "top up", &actor())
            .await
            .expect("grant"),
        500
    );
    assert_eq!(
        store
            .grant_credits(&acct(&b), -200, "claw back", &actor())
            .await
            .expect("take"),
        300
    );
    assert!(matches!(
        store
            .grant_credits(&acct(&b), -301, "too much", &actor())
            .await,
        Err(StoreError::InsufficientCredits { available: 300 })
    ));
    assert!(matches!(
        store
            .grant_credits(&AccountId::from_string("acct_missing"), 1, "x", &actor())
            .await,
        Err(StoreError::NotFound)
    ));

    store.revoke_api_key(&b, &actor()).await.expect("revoke");
    let revoked_at = store
        .find_api_key(b.as_str())
        .await
        .expect("find")
        .expect("key")
        .revoked_at_ms;
    assert!(revoked_at.is_some());
    store
        .revoke_api_key(&b, &actor())
        .await
        .expect("revoke again");
    assert_eq!(
        store
            .find_api_key(b.as_str())
            .await
            .expect("find")
            .expect("key")
            .revoked_at_ms,
        revoked_at,
        "the first revocation time stays"
    );
    assert!(matches!(
        store.create_task(&task(&b, 10), None).await,
        Err(StoreError::Revoked)
    ));
    assert!(matches!(
        store
            .create_task(&task(&ApiKeyId::from_string("key_missing"), 10), None)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .revoke_api_key(&ApiKeyId::from_string("key_missing"), &actor())
            .await,
        Err(StoreError::NotFound)
    ));
    assert_ledger_clean(&*store).await;
}

pub async fn retries_releases_and_provider_jobs_survive_a_reclaim(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    let first = store
        .claim_task("w", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .expect("task");
    assert!(first.provider_job_id.is_none());
    assert!(store
        .record_provider_job(&t.id, &first.lease_token, "ark", "job-1", None)
        .await
        .expect("record"));
    // Graceful shutdown: back in the queue, the interrupted attempt not counted.
    assert!(store
        .release_lease(&t.id, &first.lease_token)
        .await
        .expect("release"));
    let second = store
        .claim_task("w", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .expect("task");
    assert_eq!(second.task.attempt, 1);
    assert_eq!(second.provider_job_id.as_deref(), Some("job-1"));
    assert_eq!(second.task.provider.as_deref(), Some("ark"));
    // A retry waits out its delay, keeping the error for the record.
    assert!(store
        .retry_task(
            &t.id,
            &second.lease_token,
            Duration::from_millis(300),
            &failure()
        )
        .await
        .expect("retry"));
    let waiting = store
        .get_task(&t.id, &acct(&key))
        .await
        .expect("get")
        .expect("t");
    assert_eq!(waiting.status, TaskStatus::Queued);
    assert_eq!(waiting.error, Some(failure()));
    assert!(store
        .claim_task("w", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .is_none());
    tokio::time::sleep(Duration::from_millis(350)).await;
    let third = store
        .claim_task("w", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .expect("due again");
    assert_eq!(third.task.attempt, 2);
    let output = TaskOutput::default();
    assert!(store
        .complete_task(&t.id, &third.lease_token, &output)
        .await
        .expect("complete"));
    let done = store
        .get_task(&t.id, &acct(&key))
        .await
        .expect("get")
        .expect("t");
    assert_eq!(done.status, TaskStatus::Succeeded);
    assert_eq!(done.output, Some(output));
    assert!(done.started_at_ms.is_some() && done.finished_at_ms.is_some());
    assert_ledger_clean(&*store).await;
}

pub async fn a_queued_task_out_of_attempts_is_failed_not_claimed(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 1)
        .await
        .expect("claim")
        .expect("task");
    assert!(store
        .retry_task(&t.id, &claimed.lease_token, Duration::ZERO, &failure())
        .await
        .expect("retry"));
    assert!(store
        .claim_task("w", Duration::from_secs(30), 1)
        .await
        .expect("claim")
        .is_none());
    let after = store
        .get_task(&t.id, &acct(&key))
        .await
        .expect("get")
        .expect("t");
    assert_eq!(after.status, TaskStatus::Failed);
    assert_eq!(balance(&*store, &key).await, 1000);
    assert_ledger_clean(&*store).await;
}

pub async fn callbacks_are_written_with_the_terminal_state_and_fenced_by_lease(
    store: Arc<dyn Store>,
) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let other = new_key(&*store, "o", "h2", 0).await;

    let silent = task(&key, 10);
    store.create_task(&silent, None).await.expect("create");
    let hooked = task_with_callback(&key, 10, Some(HOOK));
    store.create_task(&hooked, None).await.expect("create");
    let cancelled = task_with_callback(&key, 10, Some(HOOK));
    store.create_task(&cancelled, None).await.expect("create");

    // Nothing is due while the tasks run.
    assert!(store
        .claim_callbacks("d", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .is_empty());
    for _ in 0..2 {
        let c = store
            .claim_task("w", Duration::from_secs(30), 3)
            .await
            .expect("claim")
            .expect("task");
        assert!(c.task.id != cancelled.id);
        assert!(store
            .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
            .await
            .expect("complete"));
    }
    store
        .cancel_task(&cancelled.id, &acct(&key))
        .await
        .expect("cancel");
    assert!(store
        .callback_record(&silent.id, &acct(&key))
        .await
        .expect("record")
        .is_none());
    assert!(store
        .callback_record(&hooked.id, &acct(&other))
        .await
        .expect("record")
        .is_none());
    let record = store
        .callback_record(&hooked.id, &acct(&key))
        .await
        .expect("record")
        .expect("written");
    assert_eq!(record.state, CallbackState::Pending);
    assert_eq!(record.url, HOOK);
    assert_eq!(record.dialect, "reapi");
    assert!(record.next_attempt_at_ms.is_some());
    assert!(record.attempts.is_empty());
    assert!(store
        .callback_record(&cancelled.id, &acct(&key))
        .await
        .expect("record")
        .is_some());

    let jobs = store
        .claim_callbacks("d1", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 2);
    assert!(store
        .claim_callbacks("d2", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .is_empty());
    let job = jobs
        .iter()
        .find(|j| j.task_id == hooked.id)
        .expect("the hooked task's callback")
        .clone();
    assert_eq!(job.id, record.id);
    assert_eq!(job.attempts, 0);
    assert!(job.lease_token.starts_with("d1:"));

    // A failed attempt, retried at once.
    assert!(store
        .record_callback_attempt(
            &job,
            &attempt(None),
            CallbackResolution::RetryAt(seedgate_core::clock::now_ms())
        )
        .await
        .expect("attempt"));
    assert!(
        !store
            .record_callback_attempt(&job, &attempt(Some(200)), CallbackResolution::Delivered)
            .await
            .expect("stale"),
        "the lease ended with the attempt"
    );
    let again = store
        .claim_callbacks("d2", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    let job = again
        .into_iter()
        .find(|j| j.task_id == hooked.id)
        .expect("due again");
    assert_eq!(job.attempts, 1);
    // A manual redelivery fences the attempt in flight.
    store
        .redeliver_callback(&hooked.id, &acct(&key))
        .await
        .expect("redeliver");
    assert!(!store
        .record_callback_attempt(&job, &attempt(Some(200)), CallbackResolution::Delivered)
        .await
        .expect("fenced"));
    assert!(!store.defer_callback(&job, 0).await.expect("fenced"));
    let job = store
        .claim_callbacks("d3", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .into_iter()
        .find(|j| j.task_id == hooked.id)
        .expect("due after redelivery");
    // Deferred without an attempt: not due until then.
    let later = seedgate_core::clock::now_ms() + 60_000;
    assert!(store.defer_callback(&job, later).await.expect("defer"));
    assert!(store
        .claim_callbacks("d4", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .iter()
        .all(|j| j.task_id != hooked.id));
    assert_eq!(
        store
            .callback_record(&hooked.id, &acct(&key))
            .await
            .expect("record")
            .expect("r")
            .next_attempt_at_ms,
        Some(later)
    );
    store
        .redeliver_callback(&hooked.id, &acct(&key))
        .await
        .expect("redeliver");
    let job = store
        .claim_callbacks("d5", Duration::from_secs(30), 10)
        .await
        .expect("claim")
        .into_iter()
        .find(|j| j.task_id == hooked.id)
        .expect("due");
    assert!(store
        .record_callback_attempt(&job, &attempt(Some(204)), CallbackResolution::Delivered)
        .await
        .expect("delivered"));
    let record = store
        .callback_record(&hooked.id, &acct(&key))
        .await
        .expect("record")
        .expect("r");
    assert_eq!(record.state, CallbackState::Delivered);
    assert!(record.delivered_at_ms.is_some());
    assert_eq!(record.next_attempt_at_ms, None);
    assert_eq!(
        record
            .attempts
            .iter()
            .map(|a| (a.attempt, a.status))
            .collect::<Vec<_>>(),
        vec![(1, None), (2, Some(204))]
    );
    assert_eq!(
        record.attempts[0].error.as_deref(),
        Some("connection refused")
    );
    assert_eq!(record.attempts[1].latency_ms, 12);

    // The cancelled task's receiver is gone (its job still leased from the first claim).
    let job = jobs
        .iter()
        .find(|j| j.task_id == cancelled.id)
        .expect("the cancelled task's callback");
    assert!(store
        .record_callback_attempt(job, &attempt(Some(410)), CallbackResolution::Gone)
        .await
        .expect("gone"));
    assert_eq!(
        store
            .callback_record(&cancelled.id, &acct(&key))
            .await
            .expect("record")
            .expect("r")
            .state,
        CallbackState::Gone
    );
    assert!(matches!(
        store.redeliver_callback(&silent.id, &acct(&key)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.redeliver_callback(&hooked.id, &acct(&other)).await,
        Err(StoreError::NotFound)
    ));
    assert_ledger_clean(&*store).await;
}

pub async fn an_expired_callback_lease_is_reclaimed_and_the_old_one_fenced(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task_with_callback(&key, 10, Some(HOOK));
    store.create_task(&t, None).await.expect("create");
    let c = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    assert!(store
        .fail_task(&t.id, &c.lease_token, &failure())
        .await
        .expect("fail"));
    let old = store
        .claim_callbacks("dead", Duration::from_millis(1), 1)
        .await
        .expect("claim");
    assert_eq!(old.len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let new = store
        .claim_callbacks("alive", Duration::from_secs(30), 1)
        .await
        .expect("claim");
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].id, old[0].id);
    assert!(!store
        .record_callback_attempt(&old[0], &attempt(Some(200)), CallbackResolution::Delivered)
        .await
        .expect("fenced"));
    assert!(store
        .record_callback_attempt(&new[0], &attempt(Some(500)), CallbackResolution::Exhausted)
        .await
        .expect("recorded"));
    let record = store
        .callback_record(&t.id, &acct(&key))
        .await
        .expect("record")
        .expect("r");
    assert_eq!(record.state, CallbackState::Failed);
    assert_eq!(record.attempts.len(), 1);
    assert_ledger_clean(&*store).await;
}

pub async fn webhook_secrets_are_ensured_once_and_rotated_with_overlap(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 0).await;
    assert!(store.webhook_secrets(&key).await.expect("s").is_empty());
    assert_eq!(
        store
            .ensure_webhook_secret(&key, "whsec_a")
            .await
            .expect("ensure"),
        "whsec_a"
    );
    assert_eq!(
        store
            .ensure_webhook_secret(&key, "whsec_b")
            .await
            .expect("ensure"),
        "whsec_a",
        "an existing secret stays"
    );
    store
        .rotate_webhook_secret(&key, "whsec_c", Duration::from_secs(3600))
        .await
        .expect("rotate");
    assert_eq!(
        store.webhook_secrets(&key).await.expect("s"),
        vec!["whsec_c".to_string(), "whsec_a".to_string()],
        "newest first, the old one during its overlap"
    );
    assert_eq!(
        store
            .ensure_webhook_secret(&key, "whsec_x")
            .await
            .expect("ensure"),
        "whsec_c"
    );
    // Two rotations in one millisecond, without overlap.
    store
        .rotate_webhook_secret(&key, "whsec_d", Duration::ZERO)
        .await
        .expect("rotate");
    store
        .rotate_webhook_secret(&key, "whsec_e", Duration::ZERO)
        .await
        .expect("rotate");
    assert_eq!(
        store.webhook_secrets(&key).await.expect("s")[0],
        "whsec_e".to_string()
    );
    assert!(!store
        .webhook_secrets(&key)
        .await
        .expect("s")
        .contains(&"whsec_d".to_string()));
}

pub async fn assets_respect_the_per_key_quota(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 0).await;
    let other = new_key(&*store, "o", "h2", 0).await;
    let a = asset(&key, 600);
    store.create_asset(&a, 1000).await.expect("fits");
    match store.create_asset(&asset(&key, 500), 1000).await {
        Err(StoreError::QuotaExceeded { used, quota }) => assert_eq!((used, quota), (600, 1000)),
        other => panic!("expected quota exceeded, got {other:?}"),
    }
    store
        .create_asset(&asset(&key, 400), 1000)
        .await
        .expect("exactly fills the quota");
    store
        .create_asset(&asset(&other, 1000), 1000)
        .await
        .expect("quotas are per key");
    assert_eq!(
        store.get_asset(&a.id, &acct(&key)).await.expect("get"),
        Some(a.clone())
    );
    assert!(store
        .get_asset(&a.id, &acct(&other))
        .await
        .expect("get")
        .is_none());
    assert!(store
        .get_asset("nope", &acct(&key))
        .await
        .expect("get")
        .is_none());
}

pub async fn old_idempotency_records_are_pruned(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 0).await;
    let stale = Duration::from_secs(60);
    for k in ["a", "b", "c"] {
        store
            .claim_idempotency_key(&key, k, "fp", stale)
            .await
            .expect("claim");
    }
    // The janitor's batched prune (retention's only way to remove them).
    let now = seedgate_core::clock::now_ms();
    assert_eq!(
        store
            .prune_idempotency_batch(now - 3_600_000, 500)
            .await
            .expect("prune"),
        0
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        store
            .prune_idempotency_batch(seedgate_core::clock::now_ms(), 500)
            .await
            .expect("prune"),
        3
    );
    assert_eq!(
        store
            .claim_idempotency_key(&key, "a", "other", stale)
            .await
            .expect("claim"),
        IdempotencyClaim::Claimed,
        "a pruned key is free again"
    );
}

pub async fn a_submit_intent_survives_a_crash_until_the_upstream_job_is_recorded(
    store: Arc<dyn Store>,
) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    let first = store
        .claim_task("w1", Duration::from_millis(1), 5)
        .await
        .expect("claim")
        .expect("task");
    assert_eq!(
        first.submit_key, None,
        "a fresh task has no submit on record"
    );
    assert!(store
        .record_submit_intent(&t.id, &first.lease_token, Some(("acct-a", "key-1")), None)
        .await
        .expect("intent"));
    assert_eq!(
        store
            .running_tasks_by_provider()
            .await
            .expect("count")
            .get("acct-a"),
        Some(&1),
        "a task with a submit on record counts against its account"
    );
    // The worker dies before the answer is recorded: the next claim sees the submit.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = store
        .claim_task("w2", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .expect("rescued");
    assert_eq!(second.task.provider.as_deref(), Some("acct-a"));
    assert_eq!(second.submit_key.as_deref(), Some("key-1"));
    assert_eq!(second.provider_job_id, None);
    // The stale worker can no longer write an intent.
    assert!(!store
        .record_submit_intent(&t.id, &first.lease_token, None, None)
        .await
        .expect("fenced"));
    // A task with a submit on record is never deferred (it must be reconciled).
    assert!(!store
        .defer_task(&t.id, &second.lease_token, Duration::ZERO)
        .await
        .expect("defer"));
    // Recording the upstream job clears the submit key.
    assert!(store
        .record_provider_job(&t.id, &second.lease_token, "acct-a", "job-1", None)
        .await
        .expect("job"));
    assert!(store
        .release_lease(&t.id, &second.lease_token)
        .await
        .expect("release"));
    let third = store
        .claim_task("w3", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .expect("task");
    assert_eq!(third.provider_job_id.as_deref(), Some("job-1"));
    assert_eq!(third.submit_key, None);
    // Clearing the intent forgets the account (a failover in progress).
    assert!(store
        .record_submit_intent(&t.id, &third.lease_token, None, None)
        .await
        .expect("clear"));
    assert!(store
        .running_tasks_by_provider()
        .await
        .expect("count")
        .is_empty());
    assert_ledger_clean(&*store).await;
}

pub async fn a_deferred_task_keeps_its_attempt_and_waits(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    let first = store
        .claim_task("w", Duration::from_secs(30), 1)
        .await
        .expect("claim")
        .expect("task");
    assert_eq!(first.task.attempt, 1);
    assert!(store
        .defer_task(&t.id, &first.lease_token, Duration::from_millis(300))
        .await
        .expect("defer"));
    assert!(
        store
            .claim_task("w", Duration::from_secs(30), 1)
            .await
            .expect("claim")
            .is_none(),
        "not due yet"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let again = store
        .claim_task("w", Duration::from_secs(30), 1)
        .await
        .expect("claim")
        .expect("due again");
    assert_eq!(
        again.task.attempt, 1,
        "a deferral uses no attempt, even with max_attempts = 1"
    );
    assert!(!store
        .defer_task(&t.id, &first.lease_token, Duration::ZERO)
        .await
        .expect("fenced"));
    assert_ledger_clean(&*store).await;
}

pub async fn a_server_secret_is_created_once_and_shared(store: Arc<dyn Store>) {
    let first = store
        .server_secret("upstream_callbacks", "aaaa")
        .await
        .expect("secret");
    assert_eq!(first, "aaaa");
    let second = store
        .server_secret("upstream_callbacks", "bbbb")
        .await
        .expect("secret");
    assert_eq!(second, "aaaa", "the first value wins for everyone");
    let racers = (0..8).map(|i| {
        let store = store.clone();
        async move {
            store
                .server_secret("raced", &format!("candidate-{i}"))
                .await
                .expect("secret")
        }
    });
    let values = futures::future::join_all(racers).await;
    assert!(
        values.iter().all(|v| v == &values[0]),
        "every racer got the same secret: {values:?}"
    );
}

pub async fn a_task_whose_submit_is_unknown_cannot_be_cancelled(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    let claimed = store
        .claim_task("w1", Duration::from_secs(30), 5)
        .await
        .expect("claim")
        .expect("task");
    assert!(store
        .record_submit_intent(&t.id, &claimed.lease_token, Some(("acct-a", "key-1")), None)
        .await
        .expect("intent"));
    // The answer was lost and reconciling failed: back in the queue, the submit still unknown.
    assert!(store
        .retry_task(
            &t.id,
            &claimed.lease_token,
            Duration::from_secs(60),
            &TaskError {
                kind: FailureKind::UpstreamError,
                message: "the submit could not be reconciled".into(),
            },
        )
        .await
        .expect("retry"));
    let stored = store.load_task(&t.id).await.expect("load").expect("task");
    assert_eq!(stored.status, TaskStatus::Queued);
    assert!(matches!(
        store.cancel_task(&t.id, &acct(&key)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(balance(&*store, &key).await, 900, "the hold stays");
    assert_ledger_clean(&*store).await;
}

pub async fn ark_tasks_queue_a_callback_per_status_change_once(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 1000).await;
    let mut t = task_with_callback(&key, 100, Some("http://127.0.0.1:9/hook"));
    t.origin_dialect = "ark".into();
    let mut plain = task_with_callback(&key, 100, Some("http://127.0.0.1:9/hook"));
    plain.origin_dialect = "kie".into();
    store.create_task(&t, None).await.expect("create");
    store.create_task(&plain, None).await.expect("create");
    let due = || async {
        let jobs = store
            .claim_callbacks("d1", Duration::from_secs(30), 100)
            .await
            .expect("claim callbacks");
        let mut events: Vec<(String, &'static str)> = jobs
            .iter()
            .map(|j| (j.task_id.to_string(), j.event.as_str()))
            .collect();
        events.sort();
        (jobs, events)
    };
    let (queued, events) = due().await;
    assert_eq!(
        events,
        [(t.id.to_string(), "queued")],
        "Kie has no status callbacks"
    );
    assert_eq!(queued[0].id, format!("evt_{}_queued", t.id));
    // Claimed twice (the first worker died): one `running` callback, which waits while the
    // `queued` one is undelivered, so the receiver hears them in order.
    let mut lease = String::new();
    for worker in ["w1", "w2"] {
        let claimed = store
            .claim_task(worker, Duration::from_millis(1), 5)
            .await
            .expect("claim")
            .expect("task");
        lease = claimed.lease_token;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let renewed = store
        .renew_lease(&t.id, &lease, Duration::from_secs(30))
        .await
        .expect("renew");
    assert!(renewed);
    assert_eq!(due().await.1, [], "running waits for queued");
    assert!(store
        .record_callback_attempt(
            &queued[0],
            &attempt(Some(200)),
            CallbackResolution::Delivered
        )
        .await
        .expect("delivered"));
    let (running, events) = due().await;
    assert_eq!(events, [(t.id.to_string(), "running")]);
    assert_eq!(
        store
            .callback_record(&t.id, &acct(&key))
            .await
            .expect("record"),
        None,
        "the task's callback record is its final one, not there before it finishes"
    );
    // The task finishes while `running` is still in flight: the final callback supersedes it.
    assert!(store
        .complete_task(&t.id, &lease, &TaskOutput::default())
        .await
        .expect("complete"));
    let (_, events) = due().await;
    assert_eq!(events, [(t.id.to_string(), "final")]);
    assert!(
        !store
            .record_callback_attempt(
                &running[0],
                &attempt(Some(200)),
                CallbackResolution::Delivered
            )
            .await
            .expect("superseded"),
        "a status callback overtaken by the result is not recorded as delivered"
    );
    assert_eq!(
        store
            .callback_record(&t.id, &acct(&key))
            .await
            .expect("record")
            .map(|r| r.id),
        Some(format!("evt_{}", t.id))
    );
}

// ---------------------------------------------------------------------------------------------
// Accounts: limits and budgets checked where the task is written, fair claims.
// ---------------------------------------------------------------------------------------------

fn policy(json: serde_json::Value) -> seedgate_core::accounts::Policy {
    serde_json::from_value(json).expect("policy")
}

async fn set_account_policy(store: &dyn Store, key: &ApiKeyId, json: serde_json::Value) {
    let changes = seedgate_store::Changes {
        name: None,
        policy: Some(policy(json)),
    };
    store
        .update_account(&acct(key), &changes, &actor())
        .await
        .expect("policy");
}

pub async fn budgets_count_holds_and_give_back_refunds(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 10_000).await;
    set_account_policy(
        &*store,
        &key,
        serde_json::json!({"limits": {"daily_budget": 250}}),
    )
    .await;
    store
        .create_task(&task(&key, 100), None)
        .await
        .expect("first");
    store
        .create_task(&task(&key, 100), None)
        .await
        .expect("second");
    let third = task(&key, 100);
    match store.create_task(&third, None).await {
        Err(StoreError::Limited(seedgate_core::accounts::LimitRefusal::Budget {
            spent,
            limit,
            cost,
            resets_at_ms,
            ..
        })) => {
            assert_eq!((spent, limit, cost), (200, 250, 100));
            assert!(resets_at_ms.expect("a day resets") > seedgate_core::clock::now_ms());
        }
        other => panic!("expected the daily budget to refuse, got {other:?}"),
    }
    assert!(
        store.load_task(&third.id).await.expect("load").is_none(),
        "nothing written"
    );
    assert_eq!(
        balance(&*store, &key).await,
        10_000 - 200,
        "no hold for the refused task"
    );
    // A failed task is refunded, and its price is no longer spent: the third fits now.
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert!(store
        .fail_task(&claimed.task.id, &claimed.lease_token, &failure())
        .await
        .expect("fail"));
    let now = seedgate_core::clock::now_ms();
    let usage = store
        .owner_usage(acct(&key).as_str(), false, now)
        .await
        .expect("usage");
    assert_eq!(usage.usage.spent_today, 100);
    let by_key = store
        .owner_usage(key.as_str(), true, now)
        .await
        .expect("usage");
    assert_eq!(
        by_key.usage.spent_today, 100,
        "the key's spend moves with the account's"
    );
    store
        .create_task(&task(&key, 100), None)
        .await
        .expect("fits after the refund");
    assert_ledger_clean(&*store).await;
}

pub async fn in_flight_queued_and_submit_rate_limits_refuse_without_writing(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 10_000).await;
    let changes = seedgate_store::Changes {
        name: None,
        policy: Some(policy(serde_json::json!({"limits": {"max_in_flight": 2}}))),
    };
    store
        .update_api_key(&key, &changes, &actor())
        .await
        .expect("key policy");
    store.create_task(&task(&key, 10), None).await.expect("1");
    store.create_task(&task(&key, 10), None).await.expect("2");
    assert!(matches!(
        store.create_task(&task(&key, 10), None).await,
        Err(StoreError::Limited(
            seedgate_core::accounts::LimitRefusal::InFlight {
                scope: seedgate_core::accounts::Scope::Key,
                limit: 2
            }
        ))
    ));
    // A finished task leaves room.
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert!(store
        .complete_task(
            &claimed.task.id,
            &claimed.lease_token,
            &TaskOutput::default()
        )
        .await
        .expect("complete"));
    store
        .create_task(&task(&key, 10), None)
        .await
        .expect("room again");

    // A submit rate: two per hour, the third refused with the wait, and a refusal does not
    // move the rate's state.
    let other = new_key(&*store, "o", "h2", 10_000).await;
    set_account_policy(
        &*store,
        &other,
        serde_json::json!({"limits": {"submit_rate": {"limit": 2, "window_seconds": 3600}}}),
    )
    .await;
    let first = store.create_task(&task(&other, 10), None).await.expect("1");
    assert_eq!(first.submit_rates.len(), 1);
    assert_eq!(first.submit_rates[0].2.remaining, 1);
    store.create_task(&task(&other, 10), None).await.expect("2");
    let now = seedgate_core::clock::now_ms();
    let before = store
        .owner_usage(acct(&other).as_str(), false, now)
        .await
        .expect("usage");
    match store.create_task(&task(&other, 10), None).await {
        Err(StoreError::Limited(seedgate_core::accounts::LimitRefusal::SubmitRate {
            retry_after_ms,
            ..
        })) => assert!(
            (1_790_000..=1_800_000).contains(&retry_after_ms),
            "{retry_after_ms}"
        ),
        other => panic!("expected the submit rate to refuse, got {other:?}"),
    }
    let after = store
        .owner_usage(acct(&other).as_str(), false, now)
        .await
        .expect("usage");
    assert_eq!(before.submit_tat_ms, after.submit_tat_ms);
    assert_ledger_clean(&*store).await;
}

pub async fn queued_work_is_claimed_round_the_accounts(store: Arc<dyn Store>) {
    let busy = new_key(&*store, "busy", "h1", 100_000).await;
    let quiet = new_key(&*store, "quiet", "h2", 100_000).await;
    for _ in 0..50 {
        store
            .create_task(&task(&busy, 10), None)
            .await
            .expect("backlog");
    }
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("one");
    assert_eq!(claimed.task.account_id, acct(&busy));
    // The quiet account's task, submitted after fifty others, is the very next claim.
    let late = task(&quiet, 10);
    store.create_task(&late, None).await.expect("late");
    let next = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("one");
    assert_eq!(next.task.id, late.id);
    assert_ledger_clean(&*store).await;
}

// ---------------------------------------------------------------------------------------------
// The metrics' gauges.
// ---------------------------------------------------------------------------------------------

pub async fn queue_gauges_count_queued_due_running_and_pending_callbacks(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "h1", 10_000).await;
    let now = seedgate_core::clock::now_ms();
    let empty = store.queue_gauges(now).await.expect("gauges");
    assert_eq!(empty, seedgate_store::QueueGauges::default());

    let mut oldest = task_with_callback(&key, 100, Some(HOOK));
    oldest.created_at_ms = now - 60_000;
    store.create_task(&oldest, None).await.expect("create");
    for _ in 0..2 {
        store
            .create_task(&task_with_callback(&key, 100, Some(HOOK)), None)
            .await
            .expect("create");
    }
    let queued = store.queue_gauges(now + 1_000).await.expect("gauges");
    assert_eq!(
        (queued.queued, queued.due, queued.running),
        (3, 3, 0),
        "{queued:?}"
    );
    assert_eq!(queued.oldest_queued_created_at_ms, Some(now - 60_000));
    assert_eq!(
        queued.callbacks_pending, 0,
        "reAPI tasks call back only at the end"
    );
    // Seen from before they were due, none is.
    let early = store.queue_gauges(now - 3_600_000).await.expect("gauges");
    assert_eq!((early.queued, early.due), (3, 0));

    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    let running = store.queue_gauges(now + 1_000).await.expect("gauges");
    assert_eq!((running.queued, running.due, running.running), (2, 2, 1));
    assert!(store
        .complete_task(
            &claimed.task.id,
            &claimed.lease_token,
            &TaskOutput::default()
        )
        .await
        .expect("complete"));
    let done = store.queue_gauges(now + 1_000).await.expect("gauges");
    assert_eq!((done.queued, done.running), (2, 0));
    assert_eq!(
        done.callbacks_pending, 1,
        "the finished task's callback waits"
    );
    if claimed.task.id != oldest.id {
        assert_eq!(done.oldest_queued_created_at_ms, Some(now - 60_000));
    }
    assert_ledger_clean(&*store).await;
}

/// `load_tasks` reads every existing task of a batch, whoever owns it, and leaves out ids
/// that match nothing; each task reads as `load_task` reads it.
pub async fn tasks_are_loaded_in_one_batch_and_unknown_ids_are_left_out(store: Arc<dyn Store>) {
    let key = new_key(&*store, "k", "batch-a", 10_000).await;
    let other = new_key(&*store, "k2", "batch-b", 10_000).await;
    let mut created = Vec::new();
    for owner in [&key, &other, &key] {
        let t = task(owner, 100);
        store.create_task(&t, None).await.expect("create");
        created.push(t.id.clone());
    }
    let missing = TaskId::generate();
    let mut asked = created.clone();
    asked.push(missing.clone());
    let loaded = store.load_tasks(&asked).await.expect("load a batch");
    let mut ids: Vec<_> = loaded.iter().map(|t| t.id.as_str().to_owned()).collect();
    ids.sort();
    let mut expected: Vec<_> = created.iter().map(|id| id.as_str().to_owned()).collect();
    expected.sort();
    assert_eq!(
        ids, expected,
        "the missing id is left out, the others all read"
    );
    for t in &loaded {
        let one = store.load_task(&t.id).await.expect("load").expect("task");
        assert_eq!(&one, t, "a batch reads each task as a single read does");
    }
    assert!(store.load_tasks(&[]).await.expect("empty batch").is_empty());
}

pub async fn a_batch_claim_takes_in_one_go_what_single_claims_would(store: Arc<dyn Store>) {
    let busy = new_key(&*store, "busy", "h1", 100_000).await;
    let quiet = new_key(&*store, "quiet", "h2", 100_000).await;
    // A running task whose worker died: its lease has run out.
    let orphan = task(&busy, 10);
    store.create_task(&orphan, None).await.expect("orphan");
    let first = store
        .claim_task("dead", Duration::from_millis(1), 3)
        .await
        .expect("claim")
        .expect("the orphan");
    assert_eq!(first.task.id, orphan.id);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut busy_tasks = Vec::new();
    for _ in 0..4 {
        let t = task(&busy, 10);
        store.create_task(&t, None).await.expect("busy");
        busy_tasks.push(t.id);
    }
    let mut quiet_tasks = Vec::new();
    for _ in 0..2 {
        let t = task(&quiet, 10);
        store.create_task(&t, None).await.expect("quiet");
        quiet_tasks.push(t.id);
    }
    assert!(store
        .claim_tasks("w", Duration::from_secs(30), 3, 0)
        .await
        .expect("claim none")
        .is_empty());

    let batch = store
        .claim_tasks("w", Duration::from_secs(30), 3, 4)
        .await
        .expect("claim four");
    let ids: Vec<_> = batch.iter().map(|c| c.task.id.clone()).collect();
    // The rescue first, then the accounts in turn: the quiet one (never claimed) before the
    // busy one (claimed last by the orphan's first claim).
    assert_eq!(
        ids,
        vec![
            orphan.id.clone(),
            quiet_tasks[0].clone(),
            busy_tasks[0].clone(),
            quiet_tasks[1].clone()
        ]
    );
    assert_eq!(batch[0].task.attempt, 2, "the orphan's second attempt");
    assert_ne!(batch[0].lease_token, first.lease_token);
    let tokens: std::collections::HashSet<_> = batch.iter().map(|c| &c.lease_token).collect();
    assert_eq!(tokens.len(), 4, "each claim has a lease of its own");
    for claimed in &batch {
        let stored = store
            .load_task(&claimed.task.id)
            .await
            .expect("read")
            .expect("task");
        assert_eq!(stored.status, TaskStatus::Running);
    }
    // The old lease is fenced out.
    assert!(!store
        .renew_lease(&orphan.id, &first.lease_token, Duration::from_secs(30))
        .await
        .expect("renew"));

    // Fewer due than asked for: what is due, and then nothing.
    let rest = store
        .claim_tasks("w", Duration::from_secs(30), 3, 10)
        .await
        .expect("claim the rest");
    let rest_ids: Vec<_> = rest.iter().map(|c| c.task.id.clone()).collect();
    assert_eq!(rest_ids, busy_tasks[1..].to_vec());
    assert!(store
        .claim_tasks("w", Duration::from_secs(30), 3, 10)
        .await
        .expect("claim again")
        .is_empty());
    assert_ledger_clean(&*store).await;
}

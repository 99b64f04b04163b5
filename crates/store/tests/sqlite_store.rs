//! The store's guarantees, checked directly: holds and their single resolution, fencing of lost
//! leases, rescue of expired leases, the balance guard, and Idempotency-Key claims. Every test
//! ends with the ledger verifier.

use seedgate_core::ledger::verify;
use seedgate_core::pricing::Price;
use seedgate_core::task::{FailureKind, Task, TaskError, TaskOutput, TaskStatus};
use seedgate_core::{ApiKeyId, Catalog, GenerationRequest, RequestDraft, TaskId};
use seedgate_store::{
    IdempotencyClaim, IdempotencyCompletion, SqliteStore, Store, StoreError, StoredResponse,
    TaskPage, TaskQuery,
};
use std::time::Duration;

async fn store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("seedgate.db"))
        .await
        .expect("open");
    (store, dir)
}

fn task(key: &ApiKeyId, credits: u64) -> Task {
    let draft = RequestDraft {
        model: Some("seedance-2.0-mini".into()),
        prompt: Some("a cat".into()),
        ..Default::default()
    };
    let request = GenerationRequest::from_draft(draft, &Catalog::builtin()).expect("valid");
    Task {
        id: TaskId::generate(),
        api_key_id: key.clone(),
        request,
        requested_model: "seedance-2.0-mini".into(),
        origin_dialect: "reapi".into(),
        status: TaskStatus::Queued,
        price: Price {
            billable_seconds: 5,
            credits,
            micro_usd_per_second: 102_500,
        },
        attempt: 0,
        created_at_ms: seedgate_store::now_ms(),
        updated_at_ms: seedgate_store::now_ms(),
        started_at_ms: None,
        finished_at_ms: None,
        output: None,
        error: None,
        provider: None,
    }
}

/// A new API key with `credits`; `hash` stands in for the key's SHA-256.
async fn new_key(store: &SqliteStore, name: &str, hash: &str, credits: i64) -> ApiKeyId {
    store
        .create_api_key(name, hash, "sg_", credits)
        .await
        .expect("key")
        .id
}

async fn assert_ledger_clean(store: &SqliteStore) {
    let dump = store.ledger_dump().await.expect("dump");
    let violations = verify(&dump.entries, &dump.tasks, &dump.balances);
    assert!(violations.is_empty(), "{violations:?}");
}

fn failure() -> TaskError {
    TaskError {
        kind: FailureKind::UpstreamError,
        message: "boom".into(),
    }
}

#[tokio::test]
async fn hold_then_settle_and_hold_then_release() {
    let (store, _dir) = store().await;
    let key = new_key(&store, "k", "h1", 1000).await;

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

    let k = store
        .find_api_key(key.as_str())
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(k.balance, 700, "300 charged, 200 refunded");
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn balance_guard_refuses_overdraft_and_creates_nothing() {
    let (store, _dir) = store().await;
    let key = new_key(&store, "k", "h1", 500).await;
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
        .get_task(&second.id, &key)
        .await
        .expect("get")
        .is_none());
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn expired_lease_is_rescued_and_the_stale_worker_is_fenced() {
    let (store, _dir) = store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
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
        .complete_task(&t.id, &first.lease_token, &TaskOutput::default())
        .await
        .expect("stale"));
    assert!(store
        .complete_task(&t.id, &second.lease_token, &TaskOutput::default())
        .await
        .expect("fresh"));
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn a_task_out_of_attempts_is_failed_and_refunded_by_the_rescuer() {
    let (store, _dir) = store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
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
        .get_task(&t.id, &key)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(after.status, TaskStatus::Failed);
    assert_eq!(
        store
            .find_api_key(key.as_str())
            .await
            .expect("f")
            .expect("k")
            .balance,
        1000
    );
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn cancel_releases_a_queued_task_once() {
    let (store, _dir) = store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let other = new_key(&store, "o", "h2", 0).await;
    let t = task(&key, 250);
    store.create_task(&t, None).await.expect("create");
    assert!(matches!(
        store.cancel_task(&t.id, &other).await,
        Err(StoreError::NotFound)
    ));
    let cancelled = store.cancel_task(&t.id, &key).await.expect("cancel");
    assert_eq!(cancelled.status, TaskStatus::Cancelled);
    assert!(matches!(
        store.cancel_task(&t.id, &key).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .find_api_key(key.as_str())
            .await
            .expect("f")
            .expect("k")
            .balance,
        1000
    );
    assert!(store
        .claim_task("w", Duration::from_secs(5), 3)
        .await
        .expect("claim")
        .is_none());
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn idempotency_claims_replay_conflict_and_mismatch() {
    let (store, _dir) = store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
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
    let other = new_key(&store, "o", "h2", 0).await;
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
}

#[tokio::test]
async fn concurrent_submits_never_overdraw() {
    let (store, _dir) = store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
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
    assert_eq!(
        store
            .find_api_key(key.as_str())
            .await
            .expect("f")
            .expect("k")
            .balance,
        0
    );
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn a_refused_submit_in_a_group_commit_leaves_the_others_whole() {
    let (store, _dir) = store().await;
    let rich = new_key(&store, "rich", "h1", 10_000).await;
    let poor = new_key(&store, "poor", "h2", 50).await;
    // Submitted together, these land in the same group transaction; the poor key's submits
    // fail inside their savepoints without undoing the rich key's.
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
            store.get_task(&id, &key).await.expect("get").is_some(),
            ok,
            "refused submits leave no task"
        );
        created += usize::from(ok);
    }
    assert_eq!(created, 30);
    let balance = |k: &ApiKeyId| {
        let store = store.clone();
        let k = k.clone();
        async move {
            store
                .find_api_key(k.as_str())
                .await
                .expect("find")
                .expect("key")
                .balance
        }
    };
    assert_eq!(balance(&rich).await, 10_000 - 30 * 100);
    assert_eq!(balance(&poor).await, 50);
    assert_ledger_clean(&store).await;
}

#[tokio::test]
async fn listing_filters_orders_pages_and_counts() {
    let (store, _dir) = store().await;
    let key = new_key(&store, "k", "h1", 10_000).await;
    let other = new_key(&store, "o", "h2", 10_000).await;
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
    store.cancel_task(&ids[1], &key).await.expect("cancel");

    let list = |query: TaskQuery| {
        let store = &store;
        let key = &key;
        async move { store.list_tasks(key, &query).await.expect("list") }
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
}

#[tokio::test]
async fn only_finished_tasks_can_be_deleted_and_then_they_are_gone() {
    let (store, _dir) = store().await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let other = new_key(&store, "o", "h2", 0).await;
    let t = task(&key, 100);
    store.create_task(&t, None).await.expect("create");
    assert!(matches!(
        store.delete_task(&t.id, &key).await,
        Err(StoreError::Conflict(_))
    ));
    let claimed = store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("a task");
    assert!(matches!(
        store.delete_task(&t.id, &key).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store
        .complete_task(&t.id, &claimed.lease_token, &TaskOutput::default())
        .await
        .expect("complete"));
    assert!(matches!(
        store.delete_task(&t.id, &other).await,
        Err(StoreError::NotFound)
    ));
    store.delete_task(&t.id, &key).await.expect("delete");
    assert!(store.get_task(&t.id, &key).await.expect("get").is_none());
    assert_eq!(
        store
            .list_tasks(&key, &TaskQuery::default())
            .await
            .expect("list")
            .total,
        0
    );
    assert!(matches!(
        store.delete_task(&t.id, &key).await,
        Err(StoreError::NotFound)
    ));
    // The money stays accounted for: the settled hold is still in the ledger.
    assert_ledger_clean(&store).await;
    assert_eq!(
        store
            .find_api_key(key.as_str())
            .await
            .expect("f")
            .expect("k")
            .balance,
        900
    );
}

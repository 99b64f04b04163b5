//! What only PostgreSQL has: its migrations kept in step with SQLite's, its pinned isolation
//! level, and the races that only exist when several replicas share one database: each replica
//! is a separate `PgStore` pool on the test's database.

use crate::backend::TestDb;
use crate::support::*;
use seedgate_core::task::{TaskOutput, TaskStatus};
use seedgate_core::TaskId;
use seedgate_store::prelude::*;
use seedgate_store::{
    CallbackResolution, CallbackState, IdempotencyClaim, IdempotencyCompletion, SqliteStore,
    StoreError, StoredResponse, TaskQuery,
};
use sqlx::{ConnectOptions, Connection};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// The schema and the session.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn migrations_mirror_sqlite_step_for_step_and_rerun_cleanly() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let pg = sqlx::migrate!("./migrations/postgres");
    let lite = sqlx::migrate!("./migrations/sqlite");
    let steps = |m: &sqlx::migrate::Migrator| {
        m.iter()
            .map(|s| (s.version, s.description.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(steps(&pg), steps(&lite));
    // Every file in the folder is a step (a migration the macro skipped would not be).
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations folder")
        .filter(|f| {
            f.as_ref()
                .is_ok_and(|f| f.file_name().to_string_lossy().ends_with(".sql"))
        })
        .count();
    assert_eq!(steps(&pg).len(), files);
    let applied: Vec<(i64, String, bool)> = sqlx::query_as(
        "SELECT version, description, success FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(store.pool())
    .await
    .expect("applied");
    assert_eq!(
        applied,
        steps(&pg)
            .into_iter()
            .map(|(v, d)| (v, d, true))
            .collect::<Vec<_>>()
    );
    // Replicas starting later (or together) find the schema current.
    let again = db.replica().await;
    again.migrate().await.expect("rerun");
    assert_eq!(again.count_api_keys().await.expect("count"), 0);
    // The SQLite store is untouched by all this: it still opens with its own migrator.
    let dir = tempfile::tempdir().expect("tempdir");
    SqliteStore::open(&dir.path().join("seedgate.db"))
        .await
        .expect("sqlite opens");
}

#[tokio::test]
async fn the_store_pins_read_committed_whatever_the_database_default() {
    let db = TestDb::create().await;
    let mut conn = db.admin.connect().await.expect("admin");
    sqlx::query(&format!(
        "ALTER DATABASE \"{}\" SET default_transaction_isolation = 'serializable'",
        db.name
    ))
    .execute(&mut conn)
    .await
    .expect("alter");
    conn.close().await.expect("close");
    let store = db.store().await;
    let level: String = sqlx::query_scalar("SHOW transaction_isolation")
        .fetch_one(store.pool())
        .await
        .expect("show");
    assert_eq!(level, "read committed");
}

// ---------------------------------------------------------------------------------------------
// Races between replicas: each replica is a pool of its own on the shared database.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_racing_for_the_last_credits_accept_exactly_what_the_balance_allows() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 1050).await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(48));
    let mut handles = Vec::new();
    for i in 0..48 {
        let replica = replicas[i % replicas.len()].clone();
        let key = key.clone();
        let start = start.clone();
        handles.push(tokio::spawn(async move {
            let t = task(&key, 100);
            start.wait().await;
            (t.id.clone(), replica.create_task(&t, None).await)
        }));
    }
    let mut accepted = Vec::new();
    for h in handles {
        let (id, result) = h.await.expect("join");
        match result {
            Ok(_) => accepted.push(id),
            Err(StoreError::InsufficientCredits { available }) => {
                assert!(
                    (0..100).contains(&available),
                    "refused with {available} left"
                )
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(accepted.len(), 10, "exactly balance / price submits fit");
    assert_eq!(balance(&store, &key).await, 50);
    let listed = store
        .list_tasks(
            &acct(&key),
            &TaskQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(listed.total, 10, "refused submits left no task");
    // The verifier also replays each key's entries in ledger order: never below zero.
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claimers_on_separate_replicas_never_share_a_task() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 100_000).await;
    let created: HashSet<_> = queue_tasks(&store, &key, 60, 10).await;
    let mut handles = Vec::new();
    for (r, replica) in replicas.iter().enumerate() {
        for w in 0..3 {
            let replica = replica.clone();
            handles.push(tokio::spawn(async move {
                let worker = format!("r{r}w{w}");
                let mut claimed = Vec::new();
                while let Some(c) = replica
                    .claim_task(&worker, Duration::from_secs(60), 3)
                    .await
                    .expect("claim")
                {
                    assert!(replica
                        .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
                        .await
                        .expect("complete"));
                    claimed.push((c.task.id, c.task.attempt));
                }
                claimed
            }));
        }
    }
    let mut seen: HashMap<TaskId, u32> = HashMap::new();
    for h in handles {
        for (id, attempt) in h.await.expect("join") {
            assert_eq!(attempt, 1);
            *seen.entry(id).or_default() += 1;
        }
    }
    assert!(
        seen.values().all(|&n| n == 1),
        "a task was claimed twice: {:?}",
        seen.iter().filter(|(_, &n)| n > 1).collect::<Vec<_>>()
    );
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), created);
    assert_eq!(balance(&store, &key).await, 100_000 - 60 * 10);
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rescues_under_contention_hand_each_attempt_to_one_worker() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(3).await;
    let key = new_key(&store, "k", "h1", 10_000).await;
    let created: HashSet<_> = queue_tasks(&store, &key, 12, 100).await;
    // Workers that die at once: every lease expires, every task is rescued until it runs out
    // of attempts, and then failed and refunded by whoever finds it.
    let mut handles = Vec::new();
    for (r, replica) in replicas.iter().enumerate() {
        for w in 0..2 {
            let replica = replica.clone();
            let key = key.clone();
            handles.push(tokio::spawn(async move {
                let worker = format!("r{r}w{w}");
                let mut claimed = Vec::new();
                loop {
                    match replica
                        .claim_task(&worker, Duration::from_millis(30), 3)
                        .await
                        .expect("claim")
                    {
                        Some(c) => claimed.push((c.task.id, c.task.attempt, c.lease_token)),
                        None => {
                            let live = replica
                                .list_tasks(
                                    &acct(&key),
                                    &TaskQuery {
                                        statuses: vec![TaskStatus::Queued, TaskStatus::Running],
                                        ..Default::default()
                                    },
                                )
                                .await
                                .expect("list")
                                .total;
                            if live == 0 {
                                return claimed;
                            }
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                }
            }));
        }
    }
    let mut attempts: HashMap<TaskId, Vec<u32>> = HashMap::new();
    let mut tokens = HashSet::new();
    let mut stale = Vec::new();
    for h in handles {
        for (id, attempt, token) in h.await.expect("join") {
            assert!(
                tokens.insert(token.clone()),
                "a lease token was issued twice"
            );
            attempts.entry(id.clone()).or_default().push(attempt);
            stale.push((id, token));
        }
    }
    assert_eq!(attempts.keys().cloned().collect::<HashSet<_>>(), created);
    for (id, mut list) in attempts {
        list.sort_unstable();
        assert_eq!(
            list,
            vec![1, 2, 3],
            "task {id}: each attempt claimed exactly once"
        );
    }
    // Every dead worker's later write is fenced.
    for (id, token) in stale {
        assert!(!store
            .complete_task(&id, &token, &TaskOutput::default())
            .await
            .expect("complete"));
    }
    for id in &created {
        let t = store
            .get_task(id, &acct(&key))
            .await
            .expect("get")
            .expect("t");
        assert_eq!(t.status, TaskStatus::Failed);
    }
    assert_eq!(
        balance(&store, &key).await,
        10_000,
        "every abandoned task refunded"
    );
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancels_racing_claims_resolve_each_task_once() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(2).await;
    let key = new_key(&store, "k", "h1", 10_000).await;
    let ids: Vec<_> = queue_tasks(&store, &key, 20, 100).await;
    let canceller = {
        let replica = replicas[0].clone();
        let key = key.clone();
        let ids = ids.clone();
        tokio::spawn(async move {
            let mut cancelled = HashSet::new();
            for id in ids {
                match replica.cancel_task(&id, &acct(&key)).await {
                    Ok(t) => {
                        assert_eq!(t.status, TaskStatus::Cancelled);
                        cancelled.insert(id);
                    }
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
            cancelled
        })
    };
    let claimer = {
        let replica = replicas[1].clone();
        tokio::spawn(async move {
            let mut claimed = HashSet::new();
            while let Some(c) = replica
                .claim_task("w", Duration::from_secs(60), 3)
                .await
                .expect("claim")
            {
                assert!(replica
                    .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
                    .await
                    .expect("complete"));
                claimed.insert(c.task.id);
            }
            claimed
        })
    };
    let cancelled = canceller.await.expect("join");
    let claimed = claimer.await.expect("join");
    assert!(cancelled.is_disjoint(&claimed));
    assert_eq!(cancelled.len() + claimed.len(), ids.len());
    assert_eq!(
        balance(&store, &key).await,
        10_000 - 100 * i64::try_from(claimed.len()).expect("small")
    );
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callback_claims_never_hand_out_a_callback_twice() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 10_000).await;
    let mut tasks = HashSet::new();
    for _ in 0..40 {
        let t = task_with_callback(&key, 10, Some(HOOK));
        store.create_task(&t, None).await.expect("create");
        let c = store
            .claim_task("w", Duration::from_secs(60), 3)
            .await
            .expect("claim")
            .expect("task");
        assert!(store
            .complete_task(&c.task.id, &c.lease_token, &TaskOutput::default())
            .await
            .expect("complete"));
        tasks.insert(t.id);
    }
    let mut handles = Vec::new();
    for (r, replica) in replicas.iter().enumerate() {
        for d in 0..2 {
            let replica = replica.clone();
            handles.push(tokio::spawn(async move {
                let owner = format!("r{r}d{d}");
                let mut jobs = Vec::new();
                loop {
                    let batch = replica
                        .claim_callbacks(&owner, Duration::from_secs(60), 3)
                        .await
                        .expect("claim");
                    if batch.is_empty() {
                        return jobs;
                    }
                    jobs.extend(batch);
                }
            }));
        }
    }
    let mut jobs = Vec::new();
    for h in handles {
        jobs.extend(h.await.expect("join"));
    }
    let ids: HashSet<_> = jobs.iter().map(|j| j.id.clone()).collect();
    assert_eq!(ids.len(), jobs.len(), "a callback was handed out twice");
    assert_eq!(
        jobs.iter()
            .map(|j| j.task_id.clone())
            .collect::<HashSet<_>>(),
        tasks
    );
    // Two replicas racing to record the same job: one wins, the other is fenced.
    let mut races = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let a = replicas[i % 4].clone();
        let b = replicas[(i + 1) % 4].clone();
        races.push(tokio::spawn(async move {
            let ok = attempt(Some(200));
            let (x, y) = tokio::join!(
                a.record_callback_attempt(&job, &ok, CallbackResolution::Delivered),
                b.record_callback_attempt(&job, &ok, CallbackResolution::Delivered),
            );
            u8::from(x.expect("record")) + u8::from(y.expect("record"))
        }));
    }
    for race in races {
        assert_eq!(race.await.expect("join"), 1, "exactly one record per lease");
    }
    for id in &tasks {
        let record = store
            .callback_record(id, &acct(&key))
            .await
            .expect("record")
            .expect("r");
        assert_eq!(record.state, CallbackState::Delivered);
        assert_eq!(record.attempts.len(), 1);
    }
    assert!(store
        .claim_callbacks("late", Duration::from_secs(60), 100)
        .await
        .expect("claim")
        .is_empty());
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_idempotency_claims_and_completions_have_one_winner() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 1000).await;
    let stale = Duration::from_millis(500);

    let race = |idem: &'static str, stale: Duration| {
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let replica = replicas[i % replicas.len()].clone();
                let key = key.clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    replica
                        .claim_idempotency_key(&key, idem, "fp", stale)
                        .await
                        .expect("claim")
                })
            })
            .collect();
        async move {
            let mut claims = Vec::new();
            for h in handles {
                claims.push(h.await.expect("join"));
            }
            claims
        }
    };
    // A first claim.
    let claims = race("first", stale).await;
    assert_eq!(
        claims
            .iter()
            .filter(|c| **c == IdempotencyClaim::Claimed)
            .count(),
        1,
        "{claims:?}"
    );
    assert!(claims
        .iter()
        .all(|c| matches!(c, IdempotencyClaim::Claimed | IdempotencyClaim::InFlight)));
    // A stale takeover.
    tokio::time::sleep(stale + Duration::from_millis(100)).await;
    let claims = race("first", stale).await;
    assert_eq!(
        claims
            .iter()
            .filter(|c| **c == IdempotencyClaim::Claimed)
            .count(),
        1,
        "{claims:?}"
    );

    // Two requests believing they hold the key complete it at once: one task is created.
    let completion = IdempotencyCompletion {
        key: "first".into(),
        response: StoredResponse {
            status: 202,
            body: b"{}".to_vec(),
        },
    };
    let (t1, t2) = (task(&key, 100), task(&key, 100));
    let (a, b) = tokio::join!(
        replicas[0].create_task(&t1, Some(completion.clone())),
        replicas[1].create_task(&t2, Some(completion.clone())),
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
    assert!(matches!(a.err().or(b.err()), Some(StoreError::Conflict(_))));
    assert_eq!(balance(&store, &key).await, 900);
    assert_eq!(
        store
            .list_tasks(&acct(&key), &TaskQuery::default())
            .await
            .expect("list")
            .total,
        1
    );
    assert_eq!(
        store
            .claim_idempotency_key(&key, "first", "fp", stale)
            .await
            .expect("claim"),
        IdempotencyClaim::Replay(completion.response)
    );
    assert_ledger_clean(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_uploads_and_secrets_keep_their_per_key_invariants() {
    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 0).await;

    let mut uploads = Vec::new();
    for i in 0..20 {
        let replica = replicas[i % replicas.len()].clone();
        let key = key.clone();
        uploads.push(tokio::spawn(async move {
            match replica.create_asset(&asset(&key, 100), 1000).await {
                Ok(()) => true,
                Err(StoreError::QuotaExceeded { .. }) => false,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }));
    }
    let mut stored = 0;
    for h in uploads {
        stored += usize::from(h.await.expect("join"));
    }
    assert_eq!(stored, 10, "exactly the quota's worth of uploads fit");

    let mut ensures = Vec::new();
    for i in 0..8 {
        let replica = replicas[i % replicas.len()].clone();
        let key = key.clone();
        ensures.push(tokio::spawn(async move {
            replica
                .ensure_webhook_secret(&key, &format!("whsec_{i}"))
                .await
                .expect("ensure")
        }));
    }
    let mut secrets = HashSet::new();
    for h in ensures {
        secrets.insert(h.await.expect("join"));
    }
    assert_eq!(secrets.len(), 1, "one secret for everyone: {secrets:?}");
    assert_eq!(store.webhook_secrets(&key).await.expect("s").len(), 1);

    let mut rotations = Vec::new();
    for i in 0..6 {
        let replica = replicas[i % replicas.len()].clone();
        let key = key.clone();
        rotations.push(tokio::spawn(async move {
            replica
                .rotate_webhook_secret(&key, &format!("whsec_rot{i}"), Duration::ZERO)
                .await
                .expect("rotate")
        }));
    }
    for h in rotations {
        h.await.expect("join");
    }
    let current = store.webhook_secrets(&key).await.expect("s");
    assert_eq!(
        current.len(),
        1,
        "one current secret after racing rotations"
    );
    assert!(current[0].starts_with("whsec_rot"));
}

// ---------------------------------------------------------------------------------------------
// The change feed across replicas.
// ---------------------------------------------------------------------------------------------

/// A replica hears another's commits through `LISTEN/NOTIFY` (migration 0015's triggers): a
/// task created, claimed and finished on A reaches B's feed, with the work it made due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_hears_another_replicas_commits() {
    use seedgate_store::changes::Change;
    use seedgate_store::prelude::*;
    let db = TestDb::create().await;
    let a = db.store().await;
    let b = db.replica().await;
    let heard: std::sync::Arc<std::sync::Mutex<Vec<Change>>> = Default::default();
    let sink = heard.clone();
    b.changes().subscribe(Box::new(move |change| {
        if let Ok(mut heard) = sink.lock() {
            heard.push(change.clone());
        }
    }));
    // B is listening once its feed is live.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !b.changes().is_live() {
        assert!(
            std::time::Instant::now() < deadline,
            "B never started listening"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let key = new_key(&a, "k", "h", 10_000).await;
    let t = task_with_callback(&key, 10, Some(HOOK));
    a.create_task(&t, None).await.expect("create");
    let claimed = a
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .expect("task");
    assert!(a
        .complete_task(
            &t.id,
            &claimed.lease_token,
            &seedgate_core::task::TaskOutput::default()
        )
        .await
        .expect("complete"));
    let wanted = [
        Change::Task(t.id.clone()),
        Change::TasksDue,
        Change::CallbacksDue,
    ];
    loop {
        let now = heard.lock().expect("lock").clone();
        if wanted.iter().all(|w| now.contains(w)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "B heard only {now:?} of A's commits"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Tasks a replica of an earlier release ended during a rolling upgrade have their ledger
/// entries unsummed (that release knew nothing of `usage_daily`). Reports read those entries
/// from the ledger, and replicas' janitors summing them at once count each entry once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_summing_an_earlier_release_s_tasks_count_each_entry_once() {
    use seedgate_core::usage::{UsageFigures, UsageQuery};
    use std::str::FromStr;

    let db = TestDb::create().await;
    let store = db.store().await;
    let replicas = db.replicas(4).await;
    let key = new_key(&store, "k", "h1", 100_000).await;
    let ids: Vec<TaskId> = queue_tasks(&store, &key, 40, 100).await;
    let mut ended = 0;
    while let Some(claimed) = store
        .claim_task("w", Duration::from_secs(3600), 3)
        .await
        .expect("claim")
    {
        // One task stays running: its hold is never summed.
        if claimed.task.id == ids[0] {
            continue;
        }
        let (id, token) = (&claimed.task.id, &claimed.lease_token);
        let done = if ended % 3 == 0 {
            store.fail_task(id, token, &failure()).await
        } else {
            store.complete_task(id, token, &TaskOutput::default()).await
        };
        assert!(done.expect("end"));
        ended += 1;
    }
    store
        .refund_task(&ids[2], Some(10), "blank", &actor())
        .await
        .expect("refund");

    let total = |store: seedgate_store::PgStore| async move {
        let query = UsageQuery {
            from_ms: 0,
            to_ms: 4_102_444_800_000,
            group_by: Vec::new(),
            account: None,
            key: None,
            model: None,
        };
        let rows: Vec<_> =
            futures::TryStreamExt::try_collect(store.usage_report(&query).await.expect("report"))
                .await
                .expect("rows");
        rows.into_iter()
            .map(|r| r.figures)
            .fold(UsageFigures::default(), |mut sum, f| {
                sum.add(&f);
                sum
            })
    };
    let before = total(store.clone()).await;
    assert_eq!(before.tasks, 40);

    // As if an earlier release had written all of it: no entry summed, no daily sums.
    let mut conn = sqlx::postgres::PgConnectOptions::from_str(db.url())
        .expect("url")
        .connect()
        .await
        .expect("connect");
    sqlx::query("UPDATE ledger_entries SET summed = 0")
        .execute(&mut conn)
        .await
        .expect("unmark");
    sqlx::query("DELETE FROM usage_daily")
        .execute(&mut conn)
        .await
        .expect("forget the sums");
    assert_eq!(total(store.clone()).await, before, "read from the ledger");

    // Four replicas sum at once, in batches, until there is nothing left.
    let mut handles = Vec::new();
    for replica in replicas {
        handles.push(tokio::spawn(async move {
            let mut summed = 0;
            loop {
                let n = replica.sum_ended_tasks_usage(7).await.expect("sum");
                summed += n;
                if n == 0 {
                    return summed;
                }
            }
        }));
    }
    let mut summed = 0;
    for h in handles {
        summed += h.await.expect("join");
    }
    assert_eq!(summed, 39, "every ended task summed, by one replica each");
    assert_eq!(
        total(store.clone()).await,
        before,
        "each entry counted once"
    );
    let (in_sums, unsummed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT CAST(COALESCE(SUM(tasks), 0) AS BIGINT) FROM usage_daily), \
         (SELECT COUNT(*) FROM ledger_entries WHERE summed <> 1 AND task_id IS NOT NULL)",
    )
    .fetch_one(&mut conn)
    .await
    .expect("sums");
    assert_eq!(
        (in_sums, unsummed),
        (39, 1),
        "only the running task's hold is left"
    );
    assert_ledger_clean(&store).await;
}

//! Upgrading a store that holds data from the schema before accounts (migrations 0001–0007) to
//! accounts (0008), on both backends: every key becomes an account of its own that takes over
//! its balance, tasks, ledger entries, assets and callbacks; the ledger verifies clean per
//! account; budgets count what was spent before; and the store goes on working.

use crate::backend::TestDb;
use crate::support::{acct, actor, assert_ledger_clean, asset, task_with_callback, HOOK};
use seedgate_core::accounts::utc_day;
use seedgate_core::ApiKeyId;
use seedgate_store::{PgStore, SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The migrations of `backend` before accounts, copied to a directory of their own.
fn migrations_before_accounts(backend: &str, into: &Path) -> PathBuf {
    let dir = into.join(format!("{backend}-0007"));
    std::fs::create_dir_all(&dir).expect("dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.as_str() < "0008" {
            std::fs::copy(&path, dir.join(&name)).expect("copy");
        }
    }
    dir
}

/// Two keys with the books of a running gateway, written in the old schema: alice was granted
/// 1,000 and has a settled task (100), a refunded one (50) and a queued one (70), so her balance
/// is 830; bob was granted 500.
struct OldData {
    alice: ApiKeyId,
    bob: ApiKeyId,
    done: String,
    failed: String,
    queued: String,
}

macro_rules! seed_old_schema {
    ($pool:expr) => {{
        let pool = $pool;
        let alice = ApiKeyId::generate();
        let bob = ApiKeyId::generate();
        let now = seedgate_core::clock::now_ms();
        for (key, name, balance) in [(&alice, "alice", 830_i64), (&bob, "bob", 500)] {
            sqlx::query(
                "INSERT INTO api_keys (id, name, key_hash, key_prefix, balance, created_at_ms) \
                 VALUES ($1, $2, $3, 'sg_', $4, $5)",
            )
            .bind(key.as_str())
            .bind(name)
            .bind(format!("hash-{name}"))
            .bind(balance)
            .bind(now)
            .execute(pool)
            .await
            .expect("key");
        }
        for (key, amount) in [(&alice, 1000_i64), (&bob, 500)] {
            sqlx::query(
                "INSERT INTO ledger_entries (api_key_id, kind, amount, note, created_at_ms) \
                 VALUES ($1, 'grant', $2, 'initial credits', $3)",
            )
            .bind(key.as_str())
            .bind(amount)
            .bind(now)
            .execute(pool)
            .await
            .expect("grant");
        }
        let mut ids = Vec::new();
        for (status, price, resolution) in [
            ("succeeded", 100_i64, Some(("settle", 0_i64))),
            ("failed", 50, Some(("release", 50))),
            ("queued", 70, None),
        ] {
            let t = task_with_callback(&alice, price as u64, Some("https://Hooks.Example.com:8443/x"));
            let request = serde_json::to_string(&t.request).expect("request");
            sqlx::query(
                "INSERT INTO tasks (id, api_key_id, model, requested_model, origin_dialect, \
                 request_json, status, price_credits, billable_seconds, micro_usd_per_second, \
                 attempt, next_run_at_ms, created_at_ms, updated_at_ms, callback_url) \
                 VALUES ($1, $2, 'seedance-2.0-mini', 'seedance-2.0-mini', 'reapi', $3, $4, $5, \
                 5, 102500, 0, $6, $6, $6, $7)",
            )
            .bind(t.id.as_str())
            .bind(alice.as_str())
            .bind(request)
            .bind(status)
            .bind(price)
            .bind(now)
            .bind(HOOK)
            .execute(pool)
            .await
            .expect("task");
            sqlx::query(
                "INSERT INTO ledger_entries (api_key_id, task_id, kind, amount, created_at_ms) \
                 VALUES ($1, $2, 'hold', $3, $4)",
            )
            .bind(alice.as_str())
            .bind(t.id.as_str())
            .bind(-price)
            .bind(now)
            .execute(pool)
            .await
            .expect("hold");
            if let Some((kind, amount)) = resolution {
                sqlx::query(
                    "INSERT INTO ledger_entries (api_key_id, task_id, kind, amount, created_at_ms) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(alice.as_str())
                .bind(t.id.as_str())
                .bind(kind)
                .bind(amount)
                .bind(now)
                .execute(pool)
                .await
                .expect("resolution");
            }
            ids.push(t.id.to_string());
        }
        // The finished task's callback, still pending, to a host with a port.
        sqlx::query(
            "INSERT INTO callbacks (id, task_id, event, api_key_id, url, dialect, state, attempts, \
             next_attempt_at_ms, created_at_ms) \
             VALUES ('cb_old', $1, 'final', $2, 'https://Hooks.Example.com:8443/x', 'reapi', \
             'pending', 0, $3, $3)",
        )
        .bind(&ids[0])
        .bind(alice.as_str())
        .bind(now)
        .execute(pool)
        .await
        .expect("callback");
        let a = asset(&alice, 10);
        sqlx::query(
            "INSERT INTO assets (id, api_key_id, object_key, content_type, size_bytes, \
             facts_json, created_at_ms) VALUES ('asset_old', $1, 'assets/old.png', 'image/png', \
             10, $2, $3)",
        )
        .bind(alice.as_str())
        .bind(serde_json::to_string(&a.facts).expect("facts"))
        .bind(now)
        .execute(pool)
        .await
        .expect("asset");
        let mut ids = ids.into_iter();
        OldData {
            alice,
            bob,
            done: ids.next().expect("done"),
            failed: ids.next().expect("failed"),
            queued: ids.next().expect("queued"),
        }
    }};
}

/// What must hold once the old data went through migration 0008.
async fn check_upgraded(store: &dyn Store, old: &OldData) {
    assert_ledger_clean(store).await;
    // The daily usage sums were filled from the history (migration 0016): a report whose whole
    // days include today reads the ended tasks from them, and agrees with the ledger.
    {
        use futures::TryStreamExt;
        let day = 86_400_000;
        let today = seedgate_core::clock::now_ms().div_euclid(day) * day;
        let rows: Vec<seedgate_core::usage::UsageRow> = store
            .usage_report(&seedgate_core::usage::UsageQuery {
                from_ms: 0,
                to_ms: today + 2 * day,
                group_by: vec![],
                account: None,
                key: None,
                model: None,
            })
            .await
            .expect("report")
            .try_collect()
            .await
            .expect("rows");
        let dump = store.ledger_dump().await.expect("dump");
        let task_entries = dump.entries.iter().filter(|e| e.task_id.is_some());
        let holds = task_entries
            .clone()
            .filter(|e| e.kind == seedgate_core::ledger::EntryKind::Hold)
            .count();
        let charged: i64 = -task_entries.map(|e| e.amount).sum::<i64>();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].figures.tasks, i64::try_from(holds).expect("n"));
        assert_eq!(rows[0].figures.credits_charged, charged);
    }
    let alice = acct(&old.alice);
    let account = store
        .find_account(alice.as_str())
        .await
        .expect("find")
        .expect("alice's account");
    assert_eq!((account.name.as_str(), account.balance), ("alice", 830));
    let bob = store
        .find_account(acct(&old.bob).as_str())
        .await
        .expect("find")
        .expect("bob's");
    assert_eq!(bob.balance, 500);
    let credential = store
        .find_credential("hash-alice")
        .await
        .expect("find")
        .expect("key");
    assert_eq!(
        credential.key.account_id, alice,
        "the key belongs to its new account"
    );

    let tasks = store
        .list_tasks(
            &alice,
            &seedgate_core::records::TaskQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    let mut listed: Vec<String> = tasks.tasks.iter().map(|t| t.id.to_string()).collect();
    listed.sort();
    let mut expected = vec![old.done.clone(), old.failed.clone(), old.queued.clone()];
    expected.sort();
    assert_eq!(listed, expected, "the key's tasks are its account's");
    assert!(store
        .get_asset("asset_old", &alice)
        .await
        .expect("asset")
        .is_some());

    // Budgets count what was spent before the upgrade: the settled and the queued task, not
    // the refunded one.
    let now = seedgate_core::clock::now_ms();
    for (owner, is_key) in [(alice.as_str(), false), (old.alice.as_str(), true)] {
        let usage = store.owner_usage(owner, is_key, now).await.expect("usage");
        assert_eq!(usage.usage.spent_today, 170, "{owner}");
        assert_eq!(usage.usage.spent_total, 170, "{owner}");
        assert_eq!(
            (usage.usage.in_flight, usage.usage.queued),
            (1, 1),
            "{owner}"
        );
    }
    assert_eq!(utc_day(now), utc_day(seedgate_core::clock::now_ms()));

    // The pending callback is dispatched under its account and host.
    let jobs = store
        .claim_callbacks("upgrade-test", Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].account_id, alice);
    assert_eq!(jobs[0].host, "hooks.example.com:8443");

    // And the store goes on: a new task holds from the account, a grant lands on it, the queued
    // one is still claimable.
    let t = crate::support::task(&old.alice, 30);
    store
        .create_task(&t, None)
        .await
        .expect("a new task after the upgrade");
    store
        .grant_credits(&alice, 5, "after the upgrade", &actor())
        .await
        .expect("grant");
    assert_eq!(
        store
            .find_account(alice.as_str())
            .await
            .expect("find")
            .expect("a")
            .balance,
        830 - 30 + 5
    );
    assert!(store
        .claim_task("w", Duration::from_secs(30), 3)
        .await
        .expect("claim")
        .is_some());
    assert_ledger_clean(store).await;
}

#[tokio::test]
async fn sqlite_upgrade_to_accounts_keeps_balances_tasks_and_ledgers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    let old = {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true);
        let pool = sqlx::SqlitePool::connect_with(options)
            .await
            .expect("connect");
        sqlx::migrate::Migrator::new(migrations_before_accounts("sqlite", dir.path()))
            .await
            .expect("migrator")
            .run(&pool)
            .await
            .expect("old schema");
        let old = seed_old_schema!(&pool);
        pool.close().await;
        old
    };
    let store = SqliteStore::open(&path).await.expect("upgrade");
    check_upgraded(&store, &old).await;
}

#[tokio::test]
async fn postgres_upgrade_to_accounts_keeps_balances_tasks_and_ledgers() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let old = {
        let pool = sqlx::PgPool::connect(db.url()).await.expect("connect");
        sqlx::migrate::Migrator::new(migrations_before_accounts("postgres", dir.path()))
            .await
            .expect("migrator")
            .run(&pool)
            .await
            .expect("old schema");
        let old = seed_old_schema!(&pool);
        pool.close().await;
        old
    };
    let store: PgStore = db.store().await;
    check_upgraded(&store, &old).await;
}

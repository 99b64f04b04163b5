//! Several replicas of the real binary on one PostgreSQL database, one of them killed with
//! SIGKILL mid-run: every task completes exactly once, every callback arrives (a second
//! delivery only for one that was in flight when its replica died), the ledger verifies, and
//! a race for the last credits across replicas accepts exactly what the balance allows.
//! These need PostgreSQL whatever `SEEDGATE_TEST_API_BACKEND` says.

use crate::callbacks::Receiver;
use crate::crash_recovery::{free_port, Server};
use crate::helpers::{fresh_postgres_database, ledger_verify_on, ScratchDatabase};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TASKS: &str = "/api/v3/contents/generations/tasks";
/// The price of a 4 s 480p task without audio or video input (credits).
const PRICE: i64 = 190;

struct Cluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
    database_url: String,
    _database: ScratchDatabase,
}

impl Cluster {
    /// A config shared by every replica: one database, one storage directory, short leases so
    /// a dead replica's tasks move on quickly, and the instant renderer (a benchmark mode that
    /// production refuses, so development mode; keys are made before any replica starts, so
    /// none makes a development key).
    async fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let config = dir.path().join("seedgate.toml");
        let database = fresh_postgres_database().await;
        let database_url = database.url.clone();
        std::fs::write(
            &config,
            format!(
                "mode = \"development\"\ndatabase_url = \"{database_url}\"\n\
                 [worker]\nlease_seconds = 2.0\nidle_poll_ms = 50\nconcurrency = 4\n\
                 [callbacks]\nidle_poll_ms = 50\nretry_schedule_seconds = [0.2, 0.5, 1.0]\njitter_percent = 0\n\
                 [fetch]\nallow_private = [\"127.0.0.0/8\"]\n\
                 {extra}"
            ),
        )
        .expect("config");
        Self {
            _dir: dir,
            data,
            config,
            database_url,
            _database: database,
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_seedgate"));
        command
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&self.data)
            .env_remove("SEEDGATE_CONFIG")
            .env_remove("SEEDGATE_DATABASE_URL")
            .env("SEEDGATE_LOG__FILTER", "warn");
        command
    }

    /// `seedgate keys create` on the shared database: the key, alone on stdout.
    fn create_key(&self, name: &str, credits: i64) -> String {
        let out = self
            .command()
            .args(["keys", "create", "--name", name, "--credits"])
            .arg(credits.to_string())
            .output()
            .expect("seedgate keys create");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Starts one replica and waits until it answers.
    fn start(&self) -> (Server, String) {
        let port = free_port();
        let mut command = self.command();
        command
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("start seedgate");
        // Keep its stdout drained so it can never block on a full pipe.
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || for _ in BufReader::new(stdout).lines() {});
        }
        let server = Server(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "replica did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        (server, format!("http://127.0.0.1:{port}"))
    }

    fn ledger_verify(&self) -> (i32, String) {
        ledger_verify_on(&self.data, Some(&self.database_url))
    }
}

fn task_body(n: usize, callback: Option<&str>) -> Value {
    let mut body = json!({
        "model": "seedance-2.0-mini",
        "content": [{"type": "text", "text": format!("replica task {n}")}],
        "resolution": "480p",
        "duration": 4,
        "generate_audio": false,
    });
    if let Some(url) = callback {
        body["callback_url"] = json!(url);
    }
    body
}

/// The balance of a key's own account (named like the key), read from the database.
async fn balance(database_url: &str, key_name: &str) -> i64 {
    let pool = sqlx::PgPool::connect(database_url).await.expect("connect");
    let balance: i64 = sqlx::query_scalar("SELECT balance FROM accounts WHERE name = $1")
        .bind(key_name)
        .fetch_one(&pool)
        .await
        .expect("balance");
    pool.close().await;
    balance
}

/// Reads every task's status from the database itself (no replica needed).
async fn statuses(database_url: &str) -> HashMap<String, (String, i64)> {
    let pool = sqlx::PgPool::connect(database_url).await.expect("connect");
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT id, status, attempt::BIGINT FROM tasks")
            .fetch_all(&pool)
            .await
            .expect("tasks");
    pool.close().await;
    rows.into_iter()
        .map(|(id, status, attempt)| (id, (status, attempt)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_one_killed_every_task_and_callback_exactly_once() {
    const TOTAL: usize = 1000;
    let receiver = Receiver::start(Vec::new()).await;
    let cluster = Cluster::new("[local]\ninstant = true\n").await;
    let key = cluster.create_key("replicas", 1_000_000);
    let mut replicas: Vec<Option<(Server, String)>> =
        (0..3).map(|_| Some(cluster.start())).collect();
    let client = reqwest::Client::new();
    let hook = receiver.url("/hook");

    // Submit across the replicas, 32 at a time; replica 1 dies a third of the way through.
    let mut ids = Vec::with_capacity(TOTAL);
    let mut killed_at = None;
    let mut n = 0;
    while n < TOTAL {
        if n >= TOTAL / 3 && killed_at.is_none() {
            let (server, _) = replicas[1].take().expect("replica 1");
            drop(server); // SIGKILL, then reaped
            killed_at = Some(Instant::now());
        }
        let live: Vec<String> = replicas
            .iter()
            .flatten()
            .map(|(_, base)| base.clone())
            .collect();
        let batch: Vec<_> = (n..(n + 32).min(TOTAL))
            .map(|i| {
                let client = client.clone();
                let base = live[i % live.len()].clone();
                let (key, body) = (key.clone(), task_body(i, Some(&hook)));
                async move {
                    let r = client
                        .post(format!("{base}{TASKS}"))
                        .bearer_auth(&key)
                        .json(&body)
                        .send()
                        .await
                        .expect("submit");
                    assert_eq!(r.status(), 200, "submit {i} to {base}");
                    let body: Value = r.json().await.expect("json");
                    body["id"].as_str().expect("id").to_string()
                }
            })
            .collect();
        ids.extend(futures::future::join_all(batch).await);
        n += 32;
    }
    let killed_at = killed_at.expect("a replica was killed");
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), TOTAL, "every submit made its own task");

    // Every task reaches a final state, on the replicas that are left.
    let deadline = Instant::now() + Duration::from_secs(120);
    let final_states = loop {
        let all = statuses(&cluster.database_url).await;
        let done = all
            .values()
            .filter(|(s, _)| s == "succeeded" || s == "failed")
            .count();
        if done == TOTAL {
            break all;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {TOTAL} tasks finished in time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(final_states.len(), TOTAL);
    let failed: Vec<_> = final_states
        .iter()
        .filter(|(_, (s, _))| s != "succeeded")
        .collect();
    assert!(failed.is_empty(), "tasks that did not succeed: {failed:?}");
    let retried = final_states.values().filter(|(_, a)| *a > 1).count();

    // Charged exactly once each: the balance, and the ledger's own audit.
    assert_eq!(
        balance(&cluster.database_url, "replicas").await,
        1_000_000 - PRICE * TOTAL as i64,
        "each task settled once"
    );
    let (code, out) = cluster.ledger_verify();
    assert_eq!(code, 0, "ledger verify: {out}");

    // Every task's result callback arrives; Ark also posts `queued` and `running`, unless the
    // result overtook them (they are then superseded, never sent after it). Only one in flight
    // on the killed replica may arrive twice.
    let is_status = |id: &str| id.ends_with("_queued") || id.ends_with("_running");
    let finals_at = Instant::now();
    loop {
        let finals: HashSet<String> = receiver
            .received()
            .iter()
            .filter_map(|r| {
                r.headers
                    .get("webhook-id")?
                    .to_str()
                    .ok()
                    .map(str::to_owned)
            })
            .filter(|id| !is_status(id))
            .collect();
        if finals.len() >= TOTAL {
            break;
        }
        assert!(
            finals_at.elapsed() < Duration::from_secs(90),
            "{} of {TOTAL} result callbacks in 90 s",
            finals.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Give a late duplicate the chance to show itself.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received();
    let mut by_task: HashMap<String, Vec<Instant>> = HashMap::new();
    for r in &received {
        let id = r
            .headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .expect("webhook-id")
            .to_string();
        by_task.entry(id).or_default().push(r.at);
    }
    let delivered: HashSet<&String> = by_task.keys().collect();
    let expected: HashSet<String> = unique
        .iter()
        .flat_map(|task| {
            [
                format!("evt_{task}"),
                format!("evt_{task}_queued"),
                format!("evt_{task}_running"),
            ]
        })
        .collect();
    assert!(
        delivered.iter().all(|id| expected.contains(*id)),
        "callbacks only for these tasks' statuses: {:?}",
        delivered
            .iter()
            .filter(|id| !expected.contains(**id))
            .take(5)
            .collect::<Vec<_>>()
    );
    for task in &unique {
        assert!(
            delivered.contains(&format!("evt_{task}")),
            "the result callback of {task}"
        );
    }
    assert!(
        delivered.iter().any(|id| is_status(id)),
        "status callbacks were sent too"
    );
    for (task, times) in &by_task {
        if times.len() > 1 {
            assert!(
                times
                    .iter()
                    .min()
                    .is_some_and(|first| *first <= killed_at + Duration::from_secs(1)),
                "task {task} was delivered {} times, the first after the kill",
                times.len()
            );
        }
    }
    let twice = by_task.values().filter(|t| t.len() > 1).count();
    assert!(twice <= 64, "{twice} callbacks were delivered twice");
    eprintln!(
        "{TOTAL} tasks: {retried} ran again after the kill; {twice} callbacks delivered twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_racing_for_the_last_credits_accept_exactly_what_the_balance_allows() {
    let cluster = Cluster::new("[local]\ninstant = true\n").await;
    let key = cluster.create_key("last-credits", PRICE * 10);
    let replicas: Vec<(Server, String)> = (0..3).map(|_| cluster.start()).collect();
    let client = reqwest::Client::new();
    let attempts = (0..45).map(|i| {
        let client = client.clone();
        let base = replicas[i % 3].1.clone();
        let (key, body) = (key.clone(), task_body(i, None));
        async move {
            client
                .post(format!("{base}{TASKS}"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .expect("submit")
                .status()
                .as_u16()
        }
    });
    let codes = futures::future::join_all(attempts).await;
    let accepted = codes.iter().filter(|c| **c == 200).count();
    // Ark's answer to an empty balance: 403 AccountOverdueError.
    let refused = codes.iter().filter(|c| **c == 403).count();
    assert_eq!(
        (accepted, refused),
        (10, 35),
        "exactly the affordable ten accepted, the rest refused for credits: {codes:?}"
    );
    assert_eq!(balance(&cluster.database_url, "last-credits").await, 0);
    assert_eq!(statuses(&cluster.database_url).await.len(), 10);
    let (code, out) = cluster.ledger_verify();
    assert_eq!(code, 0, "ledger verify: {out}");
}

#[tokio::test]
async fn sigterm_on_postgres_releases_the_lease_so_another_replica_finishes_the_task() {
    // A long lease: without the hand-back the task would sit for a minute.
    let cluster = Cluster::new("[local]\ndelay_ms = 3000\n").await;
    std::fs::write(
        &cluster.config,
        std::fs::read_to_string(&cluster.config)
            .expect("config")
            .replace("lease_seconds = 2.0", "lease_seconds = 60.0"),
    )
    .expect("config");
    let key = cluster.create_key("sigterm", 10_000);
    let (mut first, first_base) = cluster.start();
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{first_base}{TASKS}"))
        .bearer_auth(&key)
        .json(&task_body(0, None))
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    // Let the first replica claim it, then ask it to stop.
    wait_until(&cluster.database_url, &id, |(s, _)| s == "running").await;
    let pid = first.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = first.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "no exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit: {status:?}");
    assert_eq!(
        statuses(&cluster.database_url).await[&id].0,
        "queued",
        "the lease was released, not left to expire"
    );

    let (_second, _) = cluster.start();
    let finished = Instant::now();
    wait_until(&cluster.database_url, &id, |(s, _)| s == "succeeded").await;
    assert!(
        finished.elapsed() < Duration::from_secs(30),
        "finished by the second replica well inside the 60 s lease"
    );
    let (code, out) = cluster.ledger_verify();
    assert_eq!(code, 0, "ledger verify: {out}");
}

async fn wait_until(database_url: &str, id: &str, done: impl Fn(&(String, i64)) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(state) = statuses(database_url).await.get(id) {
            if done(state) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "task {id} never reached the state"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Cluster {
    /// `seedgate accounts update NAME --policy JSON` on the shared database.
    fn set_account_policy(&self, account: &str, policy: &Value) {
        let out = self
            .command()
            .args(["accounts", "update", account, "--policy"])
            .arg(policy.to_string())
            .output()
            .expect("seedgate accounts update");
        assert!(out.status.success(), "{out:?}");
    }
}

/// Tasks of the account named `name` queued or running now, read from the database.
async fn in_flight(pool: &sqlx::PgPool, name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM tasks t JOIN accounts a ON a.id = t.account_id \
         WHERE a.name = $1 AND t.status IN ('queued', 'running')",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_in_flight_limit_holds_across_replicas_under_64_concurrent_clients() {
    // Each task takes a while, so the limit is what keeps the account at ten.
    let cluster = Cluster::new("[local]\ninstant = true\ndelay_ms = 500\n").await;
    let key = cluster.create_key("busy", PRICE * 10_000);
    cluster.set_account_policy("busy", &json!({"limits": {"max_in_flight": 10}}));
    let replicas: Vec<(Server, String)> = (0..3).map(|_| cluster.start()).collect();
    let pool = sqlx::PgPool::connect(&cluster.database_url)
        .await
        .expect("connect");

    // The measurement: the account's tasks in flight, sampled from the database throughout.
    let stop = tokio_util::sync::CancellationToken::new();
    let sampler = {
        let (pool, stop) = (pool.clone(), stop.clone());
        tokio::spawn(async move {
            let mut peak = 0;
            let mut samples = 0;
            while !stop.is_cancelled() {
                peak = peak.max(in_flight(&pool, "busy").await);
                samples += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (peak, samples)
        })
    };
    let client = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(4);
    let clients = (0..64).map(|i| {
        let client = client.clone();
        let base = replicas[i % 3].1.clone();
        let key = key.clone();
        async move {
            let (mut accepted, mut refused) = (0, 0);
            let mut n = 0;
            while Instant::now() < until {
                let r = client
                    .post(format!("{base}{TASKS}"))
                    .bearer_auth(&key)
                    .json(&task_body(i * 1000 + n, None))
                    .send()
                    .await
                    .expect("submit");
                n += 1;
                match r.status().as_u16() {
                    200 => accepted += 1,
                    429 => {
                        assert!(r.headers().get("retry-after").is_some());
                        let body: Value = r.json().await.expect("json");
                        assert_eq!(
                            body["error"]["code"],
                            "RateLimitExceeded.ConcurrencyExceeded"
                        );
                        refused += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => panic!("unexpected {other}"),
                }
            }
            (accepted, refused)
        }
    });
    let results = futures::future::join_all(clients).await;
    stop.cancel();
    let (peak, samples) = sampler.await.expect("sampler");
    let accepted: usize = results.iter().map(|r| r.0).sum();
    let refused: usize = results.iter().map(|r| r.1).sum();
    let left = in_flight(&pool, "busy").await;
    let statuses = statuses(&cluster.database_url).await;
    eprintln!(
        "{accepted} accepted, {refused} refused, {left} in flight at the end, {} tasks",
        statuses.len()
    );
    assert!(samples > 50, "measured throughout: {samples} samples");
    assert!(peak <= 10, "never more than ten in flight: peak {peak}");
    assert_eq!(peak, 10, "the limit was reached");
    assert!(
        accepted > 10 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
    // Every task finishes; the books balance.
    let deadline = Instant::now() + Duration::from_secs(60);
    while in_flight(&pool, "busy").await > 0 {
        assert!(Instant::now() < deadline, "tasks did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (code, out) = cluster.ledger_verify();
    assert_eq!(code, 0, "ledger verify: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_raced_across_replicas_is_never_exceeded() {
    let cluster = Cluster::new("[local]\ninstant = true\n").await;
    let key = cluster.create_key("budgeted", PRICE * 1000);
    // Room for seven tasks and half of an eighth.
    let budget = PRICE * 7 + PRICE / 2;
    cluster.set_account_policy("budgeted", &json!({"limits": {"daily_budget": budget}}));
    let replicas: Vec<(Server, String)> = (0..3).map(|_| cluster.start()).collect();
    let client = reqwest::Client::new();
    let attempts = (0..45).map(|i| {
        let client = client.clone();
        let base = replicas[i % 3].1.clone();
        let (key, body) = (key.clone(), task_body(i, None));
        async move {
            let r = client
                .post(format!("{base}{TASKS}"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .expect("submit");
            let status = r.status().as_u16();
            let body: Value = r.json().await.expect("json");
            (status, body)
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let accepted = answers.iter().filter(|(s, _)| *s == 200).count();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 429)
        .map(|(_, b)| b)
        .collect();
    assert_eq!((accepted, refused.len()), (7, 38), "{answers:?}");
    assert!(refused
        .iter()
        .all(|b| b["error"]["code"] == "QuotaExceeded"));
    assert_eq!(
        balance(&cluster.database_url, "budgeted").await,
        PRICE * 1000 - PRICE * 7,
        "spent exactly seven tasks, within the budget"
    );
    let (code, out) = cluster.ledger_verify();
    assert_eq!(code, 0, "ledger verify: {out}");
}

/// Replica B answers polls of a task from memory; replica A cancels it. B hears of the write
/// through PostgreSQL's `LISTEN/NOTIFY` and its next poll says so: no replica serves a status
/// another has overwritten. (`seedgate bench` measures how soon; this checks that it does.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_written_by_another_replica_is_what_the_next_poll_sees() {
    use crate::helpers::spawn_app_with;
    use seedgate_store::{Actor, AdminRole};
    let database = fresh_postgres_database().await;
    let url = database.url.clone();
    let a = spawn_app_with(|s| s.database_url = Some(url.clone())).await;
    let b = spawn_app_with(|s| s.database_url = Some(url.clone())).await;
    let admin = seedgate_service::admin::AdminService::new(
        a.store.clone(),
        std::sync::Arc::new(seedgate_core::clock::SystemClock),
    )
    .create_admin_token("ops", AdminRole::Admin, &Actor("cli".into()))
    .await
    .expect("admin token")
    .token;
    let poll_b = |id: String| {
        let b = &b;
        let key = a.key.clone();
        async move {
            let r = b.get_task_as(&key, &id).await;
            assert_eq!(r.status(), reqwest::StatusCode::OK);
            r.json::<Value>().await.expect("json")["status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    // Long enough to still be running whoever's worker took it.
    let id = a
        .submit_ok(
            &json!({"model": "seedance-2.0-mini", "prompt": "held [[seedgate:delay:20000]]",
            "duration": 4, "resolution": "480p", "aspect_ratio": "16:9"}),
        )
        .await;
    // B reads it (and keeps it) a few times.
    for _ in 0..5 {
        assert_eq!(poll_b(id.clone()).await, "processing");
    }
    let r = a
        .client
        .post(a.url(&format!("/admin/v1/tasks/{id}/cancel")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("cancel");
    assert_eq!(
        r.status(),
        reqwest::StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let cancelled_at = Instant::now();
    let status = loop {
        let status = poll_b(id.clone()).await;
        if status != "processing" || cancelled_at.elapsed() > Duration::from_secs(5) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_ne!(
        status, "processing",
        "replica B still served the old status 5 s after replica A's write"
    );
    // Both replicas say the same.
    assert_eq!(
        a.get_task_as(&a.key, &id)
            .await
            .json::<Value>()
            .await
            .expect("json")["status"],
        json!(status)
    );
}

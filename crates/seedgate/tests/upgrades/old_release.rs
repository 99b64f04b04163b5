//! A rolling upgrade with the previous release's own binary: the seedgate of schema 0012
//! (`.ci/old-release.sh` builds it from git history, commit 2cd6d04) serves the 0012 fixture
//! on PostgreSQL under a steady load while the current code starts beside it and migrates the
//! database to today's schema. The old replica goes on serving, running its workers and taking
//! an operator's manual refund on the new schema, knowing nothing of what the migrations added.
//! Afterwards nothing either acknowledged is lost, every task reads the same from both, `ledger
//! verify` is clean, and the new code's usage report still adds up to the ledger's own sums:
//! the report's daily sums (migration 0016) are written by the new code only, so the tasks the
//! old release ended or refunded must be read from the ledger instead.

use super::*;
use seedgate_core::task::TaskStatus;
use seedgate_core::usage::UsageFigures;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

/// The release `.ci/old-release.sh` builds.
const OLD_RELEASE: &str = "2cd6d04";

/// The old release's binary: `SEEDGATE_TEST_OLD_RELEASE` when set (CI builds it before its
/// first build, sharing the dependencies), otherwise built now by `.ci/old-release.sh` into
/// `target/old-release` (a few minutes the first time, kept afterwards).
fn old_release_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SEEDGATE_TEST_OLD_RELEASE") {
        return PathBuf::from(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/old-release.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} could not build release {OLD_RELEASE}",
        script.display()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
}

/// The old release serving in a process of its own; killed when dropped.
struct OldReplica {
    server: Server,
    child: Child,
    log: PathBuf,
}

impl Drop for OldReplica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl std::ops::Deref for OldReplica {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

impl OldReplica {
    /// `seedgate serve` of the old release on the fixture's data dir and database, configured
    /// as the in-process replicas are (through its environment: the old settings knew these).
    async fn start(loaded: &Loaded) -> OldReplica {
        let binary = old_release_binary();
        assert!(binary.is_file(), "no binary at {}", binary.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = loaded.data.path().join("old-release.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(&binary);
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(loaded.data.path());
        // The tests' own SEEDGATE_TEST_* variables are not settings.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SEEDGATE_") {
                command.env_remove(name);
            }
        }
        let child = command
            .env("SEEDGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "SEEDGATE_DATABASE_URL",
                loaded.database_url().expect("PostgreSQL"),
            )
            .env("SEEDGATE_MODE", "development")
            .env("SEEDGATE_LOCAL__INSTANT", "true")
            .env("SEEDGATE_WORKER__IDLE_POLL_MS", "20")
            .env("SEEDGATE_WORKER__RETRY_BASE_MS", "100")
            .env("SEEDGATE_CALLBACKS__IDLE_POLL_MS", "20")
            .env("SEEDGATE_LOG__FILTER", "warn")
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        let mut old = OldReplica {
            server: Server {
                base: format!("http://127.0.0.1:{port}"),
                client: reqwest::Client::new(),
            },
            child,
            log,
        };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = old.child.try_wait() {
                panic!(
                    "release {OLD_RELEASE} exited ({status}): {}",
                    old.log_text()
                );
            }
            let health = old.server.client.get(old.server.url("/healthz")).send();
            if matches!(health.await, Ok(r) if r.status().is_success()) {
                return old;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "release {OLD_RELEASE} did not come up: {}",
                old.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// How many tasks a worker of the process `pid` claimed at or after `since_ms`.
async fn claims_by(pool: &sqlx::PgPool, pid: u32, since_ms: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM task_events WHERE kind = 'claimed' AND at_ms >= $1 \
         AND detail_json LIKE $2",
    )
    .bind(since_ms)
    .bind(format!("%\"worker\":\"{pid}-%"))
    .fetch_one(pool)
    .await
    .expect("claims")
}

/// Ended tasks with ledger entries the usage reports' daily sums do not hold yet.
async fn ended_tasks_unsummed(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(DISTINCT e.task_id) FROM ledger_entries e JOIN tasks t ON t.id = e.task_id \
         WHERE e.summed = 0 AND t.status IN ('succeeded', 'failed', 'cancelled')",
    )
    .fetch_one(pool)
    .await
    .expect("unsummed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_release_running_beside_the_new_one_corrupts_nothing() {
    let loaded = load(Backend::Postgres).await;
    let pool = sqlx::PgPool::connect(loaded.database_url().expect("PostgreSQL"))
        .await
        .expect("connect");
    let old = OldReplica::start(&loaded).await;
    let member = loaded.fixture["keys"]["member"]
        .as_str()
        .expect("key")
        .to_string();
    let admin = loaded.fixture["admin_token"]
        .as_str()
        .expect("admin token")
        .to_string();

    // The old release alone, busy.
    let stop = CancellationToken::new();
    let on_old = steady_load(old.server.clone(), member.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The new code starts beside it and migrates the database under its feet.
    let new = start(loaded.settings()).await.expect("the new code starts");
    let migrated_at = seedgate_core::clock::now_ms();
    let applied = applied_versions(&loaded).await;
    assert_eq!(
        applied.last().map(|(version, _)| *version),
        Some(migration_count(Backend::Postgres)),
        "the new code migrated to today's schema: {applied:?}"
    );
    let mut through_new = Vec::new();
    for (i, dialect) in DIALECTS.iter().enumerate() {
        through_new.push(
            create(
                &new,
                dialect,
                &member,
                &format!("through new {i}"),
                json!({}),
            )
            .await,
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The new replica goes away again (a roll can be paused or undone); the old one keeps
    // working on the new schema alone: every task from here on is claimed, ended and settled
    // by the old release's code.
    drop(new);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    stop.cancel();
    let acknowledged = on_old.await.expect("the load on the old release");
    assert!(acknowledged.len() >= 20, "{}", acknowledged.len());
    assert!(
        claims_by(&pool, old.pid(), migrated_at).await > 0,
        "the old release claimed nothing on the new schema"
    );
    for id in acknowledged.iter().chain(&through_new) {
        let done = old
            .wait_finished(id, &member, Duration::from_secs(60))
            .await;
        assert_eq!(
            done["status"], "completed",
            "{id} via the old release: {done}"
        );
    }

    // An operator refunds a task by hand through the old release, on the new schema.
    let refunded = &acknowledged[acknowledged.len() - 1];
    let r = old
        .client
        .post(old.url(&format!("/admin/v1/tasks/{refunded}/refund")))
        .bearer_auth(&admin)
        .json(&json!({"note": "refunded by the old release during the roll"}))
        .send()
        .await
        .expect("refund");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());

    let left_unsummed = ended_tasks_unsummed(&pool).await;
    assert!(
        left_unsummed > 0,
        "the old release summed its tasks itself?"
    );

    // The new code back: every task reads the same from both, in every dialect.
    let new = start(loaded.settings())
        .await
        .expect("the new code starts again");
    for id in acknowledged.iter().chain(&through_new) {
        let from_new = new.read_everywhere(id, &member).await;
        let from_old = old.read_everywhere(id, &member).await;
        assert_eq!(from_old, from_new, "{id} reads the same from both");
        assert_eq!(from_new["reapi"]["status"], 200, "{id}: {from_new}");
    }
    let applied = applied_versions(&loaded).await;
    assert!(applied.iter().all(|(_, n)| *n == 1), "{applied:?}");
    loaded.ledger_verify();

    // The usage report of the new code adds up to the ledger, the old release's work included.
    let dump = new.store.ledger_dump().await.expect("ledger dump");
    let seconds: Vec<(String, i64)> = sqlx::query_as("SELECT id, billable_seconds FROM tasks")
        .fetch_all(&pool)
        .await
        .expect("billable seconds");
    let seconds: HashMap<String, i64> = seconds.into_iter().collect();
    let facts: HashMap<String, (TaskStatus, i64)> = dump
        .tasks
        .iter()
        .map(|t| {
            let billable = seconds.get(&t.task_id).copied().unwrap_or(0);
            (t.task_id.clone(), (t.status, billable))
        })
        .collect();
    const FAR_FUTURE_MS: i64 = 4_102_444_800_000;
    let expected = UsageFigures::from_ledger(&dump.entries, &facts, 0, FAR_FUTURE_MS);
    let (status, report) = new
        .get(
            "",
            &format!("/admin/v1/usage?from=0&to={FAR_FUTURE_MS}"),
            &admin,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let reported = helpers::figures_of(&report["totals"]);
    assert_eq!(
        reported, expected,
        "the report against the ledger: {report}"
    );

    // The janitor (a pass run by hand here) sums what the old release left: the report stays
    // the same, now read from the daily sums.
    let r = new
        .client
        .post(new.url("/admin/v1/retention/run"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("retention pass");
    assert_eq!(r.status(), 200);
    let pass: Value = r.json().await.expect("pass");
    assert_eq!(ended_tasks_unsummed(&pool).await, 0, "{pass}");
    let (_, again) = new
        .get(
            "",
            &format!("/admin/v1/usage?from=0&to={FAR_FUTURE_MS}"),
            &admin,
        )
        .await;
    assert_eq!(again["totals"], report["totals"]);
    pool.close().await;
}

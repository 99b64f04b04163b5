//! History at scale: the same server measured on a nearly empty database and again after a
//! long history is written into it (by default a million finished tasks of ten accounts over
//! 90 days, with their ledger entries and daily usage sums): submits and polls against the
//! empty run, a filtered task list, a month's usage report by account and model, the console's
//! pages, and the bytes each task takes.
//!
//! The history is written with SQL straight into the server's SQLite file (a million tasks
//! through the API would take the bench an hour): each row is a copy of a real task the server
//! finished, with its id, times, owner, model and outcome varied, the ledger entries each
//! outcome writes, the accounts' balances moved to match, and the usage sums rebuilt.

use super::report::{Figure, Target};
use super::server::Seedgate;
use seedgate_store::{AccountStore, SqliteStore};
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;
/// How far back the history goes.
const HISTORY_DAYS: i64 = 90;
/// The default media lifetime (`retention.media_days`), which the history is written as having
/// already gone through.
const MEDIA_DAYS: i64 = 30;
/// Accounts the history is spread over (the development key's and nine more).
const ACCOUNTS: usize = 10;
/// Requests timed per list or report.
const SAMPLES: usize = 200;
const REPORT_SAMPLES: usize = 20;

/// The load scenarios' figures renamed for one side of the comparison.
fn relabel(figures: Vec<Figure>, side: &str, label: &str) -> Vec<Figure> {
    figures
        .into_iter()
        .filter(|f| !f.key.starts_with("errors"))
        .map(|mut f| {
            let key = f.key.clone();
            f.key = format!("history.{side}.{key}");
            f.scenario = format!("{} {label}", f.scenario);
            f.target = None;
            f.baseline_key = None;
            f
        })
        .collect()
}

pub async fn history(tasks: usize, connections: usize) -> anyhow::Result<Vec<Figure>> {
    let server = Seedgate::start("history", &[("SEEDGATE_WORKER__CONCURRENCY", "4")]).await?;
    let warmup = Duration::from_secs(1);
    let duration = Duration::from_secs(3);
    eprintln!("bench: history: submits and polls on an empty database");
    let (empty, _) = super::scenarios::api_load(&server, connections, warmup, duration).await?;
    let empty = relabel(empty, "empty", "(empty database)");

    let store = SqliteStore::open(&server.data_dir.join("seedgate.db")).await?;
    let bytes_before = database_bytes(&store).await?;
    let written = Instant::now();
    write_history(&store, tasks).await?;
    let bytes_after = database_bytes(&store).await?;
    eprintln!(
        "bench: history: {tasks} tasks written in {:.0} s",
        written.elapsed().as_secs_f64()
    );

    eprintln!("bench: history: submits and polls with the history stored");
    let (full, _) = super::scenarios::api_load(&server, connections, warmup, duration).await?;
    let label = format!("({tasks} tasks stored)");
    let mut full = relabel(full, "full", &label);
    for f in &mut full {
        let empty_key = f.key.replacen("history.full.", "history.empty.", 1);
        f.baseline_key = Some(empty_key);
        f.target = match f.metric.as_str() {
            "throughput" => Some(Target::FractionOfBaseline(0.9)),
            "latency p50" | "latency p99" => Some(Target::MultipleOfBaseline(1.1)),
            _ => None,
        };
        if let Some(baseline) = empty
            .iter()
            .find(|e| Some(&e.key) == f.baseline_key.as_ref())
        {
            f.baseline_value = Some(baseline.value);
        }
    }
    let mut figures = empty;
    figures.extend(full);

    let client = reqwest::Client::new();
    let base = format!("http://{}", server.addr);
    let admin = admin_token(&server)?;
    // A member's list filtered by status (a tenth of the history failed), Ark's shape with its
    // total, and the operator's search by status.
    for (name, path, secret) in [
        (
            "list_failed",
            "/api/v3/contents/generations/tasks?filter.status=failed&page_size=20".to_string(),
            server.key.clone(),
        ),
        (
            "admin_search_failed",
            "/admin/v1/tasks?status=failed&limit=20".to_string(),
            admin.clone(),
        ),
    ] {
        let (p50, p99) = time_get(&client, &format!("{base}{path}"), &secret, SAMPLES).await?;
        figures.push(Figure::new(
            &format!("history.{name}.p50"),
            "history",
            &format!("GET {path} ({tasks} tasks), p50"),
            p50,
            "ms",
        ));
        figures.push(
            Figure::new(
                &format!("history.{name}.p99"),
                "history",
                &format!("GET {path} ({tasks} tasks), p99"),
                p99,
                "ms",
            )
            .target(Target::Max(20.0)),
        );
    }
    // A month's usage report grouped by account and model: the last 30 whole days.
    let today = seedgate_core::clock::now_ms().div_euclid(DAY_MS) * DAY_MS;
    let month = format!(
        "/admin/v1/usage?from={}&to={today}&group_by=account,model",
        today - 30 * DAY_MS
    );
    let (p50, p99) = time_get(&client, &format!("{base}{month}"), &admin, REPORT_SAMPLES).await?;
    figures.push(Figure::new(
        "history.usage_month.p50",
        "history",
        &format!("a month's usage report by account and model ({tasks} tasks), p50"),
        p50,
        "ms",
    ));
    figures.push(
        Figure::new(
            "history.usage_month.p99",
            "history",
            &format!("a month's usage report by account and model ({tasks} tasks), p99"),
            p99,
            "ms",
        )
        .target(Target::Max(500.0)),
    );
    figures.push(Figure::new(
        "history.bytes_per_task",
        "history",
        "database bytes per task (with its ledger entries and indexes)",
        (bytes_after.saturating_sub(bytes_before)) as f64 / tasks.max(1) as f64,
        "B",
    ));

    eprintln!("bench: history: console pages");
    figures.extend(
        super::console::measure_pages(&server, &admin, &format!("{tasks} tasks"), "history.")
            .await?,
    );
    Ok(figures)
}

/// `seedgate admin-tokens create` on the server's database: the token.
pub fn admin_token(server: &Seedgate) -> anyhow::Result<String> {
    let token = std::process::Command::new(std::env::current_exe()?)
        .args(["admin-tokens", "create", "--name", "bench", "--data-dir"])
        .arg(&server.data_dir)
        .stderr(std::process::Stdio::null())
        .output()?;
    anyhow::ensure!(token.status.success(), "creating an admin token failed");
    Ok(String::from_utf8(token.stdout)?.trim().to_string())
}

/// p50 and p99 (ms) of `samples` GETs of `url` with `secret`.
async fn time_get(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    samples: usize,
) -> anyhow::Result<(f64, f64)> {
    super::console::time_requests(url, samples, || client.get(url).bearer_auth(secret)).await
}

/// The database's size on disk, as retention's disk figures measure it.
async fn database_bytes(store: &SqliteStore) -> anyhow::Result<u64> {
    use seedgate_store::retention::RetentionStore;
    Ok(store.database_bytes().await?.unwrap_or(0))
}

/// Writes `count` finished tasks, copies of the newest succeeded task, over [`HISTORY_DAYS`]
/// before now, spread over [`ACCOUNTS`] accounts and two models; every tenth failed (its hold
/// released), the rest succeeded (settled). Then the accounts' balances take the charges and
/// the daily usage sums are rebuilt.
async fn write_history(store: &SqliteStore, count: usize) -> anyhow::Result<()> {
    let template: String = sqlx::query_scalar(
        "SELECT id FROM tasks WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(store.pool())
    .await?
    .ok_or_else(|| anyhow::anyhow!("no finished task to copy"))?;
    // Keys of their own accounts; the development key's is the first.
    let mut keys = vec![store
        .find_api_key("development")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no development key"))?];
    for n in 1..ACCOUNTS {
        keys.push(
            store
                .create_api_key(
                    &format!("history-{n}"),
                    &format!("history-hash-{n}"),
                    "sg_",
                    1_000_000_000_000,
                )
                .await?,
        );
    }
    let owners: Vec<String> = keys
        .iter()
        .map(|k| format!("('{}', '{}')", k.id.as_str(), k.account_id.as_str()))
        .collect();
    // Every column of the template is copied but those the history varies.
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('tasks')")
        .fetch_all(store.pool())
        .await?;
    let now = seedgate_core::clock::now_ms();
    let start = now - HISTORY_DAYS * DAY_MS;
    let step = (HISTORY_DAYS * DAY_MS) / i64::try_from(count.max(1)).unwrap_or(1);
    let kept = MEDIA_DAYS * DAY_MS;
    let kept_since = now - kept - DAY_MS;
    let values: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            // Ids sort before every real (ULID) id: the history is older than anything else.
            "id" => "'task_00' || printf('%024d', n.i)".to_string(),
            "api_key_id" => "o.key_id".to_string(),
            "account_id" => "o.account_id".to_string(),
            "model" => "CASE WHEN n.i % 3 = 0 THEN 'seedance-2.5' ELSE src.model END".to_string(),
            "status" => "CASE WHEN n.i % 10 = 0 THEN 'failed' ELSE 'succeeded' END".to_string(),
            "error_kind" => {
                "CASE WHEN n.i % 10 = 0 THEN 'upstream_error' ELSE NULL END".to_string()
            }
            "error_message" => {
                "CASE WHEN n.i % 10 = 0 THEN 'the upstream failed' ELSE NULL END".to_string()
            }
            "output_json" => {
                "CASE WHEN n.i % 10 = 0 THEN NULL ELSE src.output_json END".to_string()
            }
            "created_at_ms" | "next_run_at_ms" => format!("{start} + n.i * {step}"),
            "started_at_ms" => format!("{start} + n.i * {step} + 1000"),
            "updated_at_ms" | "finished_at_ms" => format!("{start} + n.i * {step} + 30000"),
            // As retention (30 days by default) would have left them: the media of tasks that
            // succeeded longer ago expired and their files went; the janitor has nothing to do.
            "media_expired_at_ms" => format!(
                "CASE WHEN n.i % 10 <> 0 AND {start} + n.i * {step} + 30000 < {kept_since} \
                 THEN {start} + n.i * {step} + 30000 + {kept} END"
            ),
            "media_purged_at_ms" => format!(
                "CASE WHEN n.i % 10 <> 0 AND {start} + n.i * {step} + 30000 < {kept_since} \
                 THEN {start} + n.i * {step} + 30000 + {kept} + {DAY_MS} END"
            ),
            "callback_url"
            | "deleted_at_ms"
            | "lease_token"
            | "lease_owner"
            | "lease_expires_at_ms"
            | "submit_key" => "NULL".to_string(),
            other => format!("src.{other}"),
        })
        .collect();
    let mut tx = store.pool().begin().await?;
    sqlx::query(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}), \
         o(key_id, account_id) AS (VALUES {owners}), \
         owners AS (SELECT key_id, account_id, ROW_NUMBER() OVER () - 1 AS slot FROM o) \
         INSERT INTO tasks ({columns}) \
         SELECT {values} FROM n JOIN owners o ON o.slot = n.i % {accounts} \
         JOIN tasks src ON src.id = '{template}'",
        owners = owners.join(", "),
        columns = columns.join(", "),
        values = values.join(", "),
        accounts = ACCOUNTS,
    ))
    .execute(&mut *tx)
    .await?;
    // Each task's hold, and its settlement (nothing returned) or release (everything).
    sqlx::query(
        "INSERT INTO ledger_entries (account_id, api_key_id, task_id, kind, amount, created_at_ms) \
         SELECT account_id, api_key_id, id, 'hold', -price_credits, created_at_ms \
         FROM tasks WHERE id < 'task_01'",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO ledger_entries (account_id, api_key_id, task_id, kind, amount, created_at_ms) \
         SELECT account_id, api_key_id, id, \
         CASE WHEN status = 'failed' THEN 'release' ELSE 'settle' END, \
         CASE WHEN status = 'failed' THEN price_credits ELSE 0 END, finished_at_ms \
         FROM tasks WHERE id < 'task_01'",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE accounts SET balance = balance - COALESCE((SELECT SUM(t.price_credits) \
         FROM tasks t WHERE t.account_id = accounts.id AND t.id < 'task_01' \
         AND t.status = 'succeeded'), 0)",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    store.rebuild_usage_sums().await?;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE id < 'task_01'")
        .fetch_one(store.pool())
        .await?;
    anyhow::ensure!(
        usize::try_from(stored).unwrap_or(0) == count,
        "{stored} of {count} history tasks were written"
    );
    Ok(())
}

//! Draining a backlog: a front seedgate whose only account is an instant upstream speaking Ark
//! (`instant_ark`, in this process: every job has succeeded when its create is answered, and it
//! calls the front back at once). The upstream is held shut while the front is given `TASKS`
//! tasks, then opened; the time until the front holds every task as succeeded is the end-to-end
//! rate: claim, upstream create, the callback, the front's poll, the result copy, the
//! settlement.
//!
//! Settings for the front can be added from the environment for experiments:
//! `SEEDGATE_BENCH_FRONT_WORKER__CONCURRENCY=32` gives the front
//! `SEEDGATE_WORKER__CONCURRENCY=32`; the report names every setting used.

use super::instant_ark::InstantArk;
use super::report::{Figure, Target};
use super::server::{free_addr, Seedgate};
use seedgate_store::SqliteStore;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Tasks in the backlog (the 10,000).
pub const TASKS: usize = 10_000;
/// The longest the drain may take before the scenario fails.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(240);

/// The front's settings unless the environment says otherwise: submits to the upstream in
/// flight at once, and the polling of running upstream jobs (a callback makes a poll due at
/// once; the schedule is the fallback).
const FRONT_DEFAULTS: &[(&str, &str)] = &[
    ("SEEDGATE_WORKER__CONCURRENCY", "32"),
    ("SEEDGATE_UPSTREAM__POLL_MIN_MS", "2000"),
    ("SEEDGATE_UPSTREAM__POLL_MAX_MS", "15000"),
    ("SEEDGATE_UPSTREAM__POLL_CONCURRENCY", "16"),
];

/// Defaults, then `SEEDGATE_BENCH_<who>_<SETTING>` from this process's environment.
fn settings(defaults: &[(&str, &str)], who: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = defaults
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let prefix = format!("SEEDGATE_BENCH_{who}_");
    for (k, v) in std::env::vars() {
        if let Some(setting) = k.strip_prefix(&prefix) {
            out.insert(format!("SEEDGATE_{setting}"), v);
        }
    }
    out
}

fn describe(settings: &BTreeMap<String, String>) -> String {
    settings
        .iter()
        .map(|(k, v)| {
            let key = k
                .trim_start_matches("SEEDGATE_")
                .to_lowercase()
                .replace("__", ".");
            format!("{key} {v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A config file removed when dropped.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn write(name: &str, text: &str) -> anyhow::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("seedgate-bench-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, text)?;
        Ok(Self(path))
    }

    fn path(&self) -> anyhow::Result<&str> {
        self.0
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("the temp dir's path is not UTF-8"))
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn start(
    name: &str,
    addr: std::net::SocketAddr,
    config: &ConfigFile,
    settings: &BTreeMap<String, String>,
) -> anyhow::Result<Seedgate> {
    let mut env: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("SEEDGATE_CONFIG", config.path()?));
    Seedgate::start_at(name, addr, &env).await
}

/// CPU seconds (user and system, all threads) a process has used, from /proc.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("unreadable /proc/{pid}/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i - 3)
            .ok_or_else(|| anyhow::anyhow!("short /proc/{pid}/stat"))?
            .parse::<f64>()?)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok((ticks(14)? + ticks(15)?) / hz)
}

/// Tasks by status.
async fn counts(store: &SqliteStore) -> anyhow::Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM tasks GROUP BY status")
            .fetch_all(store.pool())
            .await?;
    Ok(rows.into_iter().collect())
}

fn count(c: &BTreeMap<String, i64>, status: &str) -> i64 {
    c.get(status).copied().unwrap_or(0)
}

/// Seconds from `from` to when a condition first held, if it did.
fn since(from: Instant, at: Option<Instant>) -> f64 {
    at.map(|t| t.duration_since(from).as_secs_f64())
        .unwrap_or(f64::NAN)
}

pub async fn drain_backlog() -> anyhow::Result<Vec<Figure>> {
    let front_settings = settings(FRONT_DEFAULTS, "FRONT");
    // What the instant upstream hands back: a real clip of the size and length asked for.
    let video = tokio::task::spawn_blocking(|| {
        seedgate_local_renderer::render(&seedgate_local_renderer::RenderSpec {
            width: 864,
            height: 496,
            fps: 24,
            duration_seconds: 4,
            scene: seedgate_local_renderer::Scene::Card {
                prompt: "a backlog".into(),
            },
            audio: false,
        })
    })
    .await??;
    let upstream = InstantArk::start(video.into(), false).await?;
    let front_addr = free_addr()?;
    // The front's only account is the upstream, in Ark's dialect (which calls back); its own
    // URL is where the upstream's callbacks go.
    let front_config = ConfigFile::write(
        "drain-front",
        &format!(
            "mode = \"development\"\n\
             public_base_url = \"http://{front_addr}\"\n\
             [fetch]\n\
             allow_private = [\"127.0.0.0/8\"]\n\
             [[providers]]\n\
             name = \"upstream\"\n\
             kind = \"ark\"\n\
             base_url = \"http://{upstream}\"\n\
             api_key = \"bench\"\n\
             models = {{ \"seedance-2.0-mini\" = \"dreamina-seedance-2-0-mini-260615\" }}\n\
             max_concurrent = 1000000\n\
             # The submits claimed while the upstream is shut wait for it.\n\
             timeout_seconds = 120\n",
            upstream = upstream.addr,
        ),
    )?;
    let front = start("drain-front", front_addr, &front_config, &front_settings).await?;
    let front_db = SqliteStore::open(&front.data_dir.join("seedgate.db")).await?;

    // The backlog: the upstream shut, every task accepted by the front.
    let submitting = Instant::now();
    let body = json!({"model": "seedance-2.0-mini", "prompt": "a backlog", "resolution": "480p",
                      "duration": 4});
    let submitted = super::scenarios::submit_many(&front, &body, TASKS).await;
    let submit_seconds = submitting.elapsed().as_secs_f64();
    submitted?;
    let before = counts(&front_db).await?;
    anyhow::ensure!(
        count(&before, "succeeded") == 0,
        "tasks succeeded while the upstream was shut: {before:?}"
    );

    let cpu_before = cpu_seconds(front.pid())?;
    upstream.open();
    let started = Instant::now();
    let (mut all_created, mut all_fetched) = (None, None);
    let tasks = i64::try_from(TASKS)?;
    let last = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = Instant::now();
        if all_created.is_none() && upstream.created() >= TASKS as u64 {
            all_created = Some(now);
        }
        if all_fetched.is_none() && upstream.downloads() >= TASKS as u64 {
            all_fetched = Some(now);
        }
        let c = counts(&front_db).await?;
        let ended = count(&c, "succeeded") + count(&c, "failed") + count(&c, "cancelled");
        if ended >= tasks {
            break (c, now);
        }
        anyhow::ensure!(
            started.elapsed() < DRAIN_TIMEOUT,
            "the front did not drain {TASKS} tasks in {} s: {c:?} (upstream: {} created, {} \
             results fetched)",
            DRAIN_TIMEOUT.as_secs(),
            upstream.created(),
            upstream.downloads()
        );
    };
    let (end, finished) = last;
    let elapsed = finished.duration_since(started).as_secs_f64();
    let front_cpu = cpu_seconds(front.pid())? - cpu_before;
    let succeeded = count(&end, "succeeded");
    let not_succeeded = tasks - succeeded;
    if not_succeeded > 0 {
        let reasons: Vec<(Option<String>, Option<String>, i64)> = sqlx::query_as(
            "SELECT error_kind, error_message, COUNT(*) FROM tasks WHERE status != 'succeeded' \
             GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5",
        )
        .fetch_all(front_db.pool())
        .await?;
        anyhow::bail!(
            "{not_succeeded} of {TASKS} tasks did not succeed on the front ({end:?}); \
             the commonest reasons: {reasons:?}"
        );
    }
    let scenario = format!("drain {TASKS} queued tasks → instant upstream (ark)");
    let configured = format!("{scenario}; front: {}", describe(&front_settings));
    Ok(vec![
        Figure::new(
            "drain.rate",
            &configured,
            "tasks per second, upstream opened → all succeeded on the front",
            succeeded as f64 / elapsed,
            "tasks/s",
        )
        .target(Target::Min(500.0)),
        Figure::new("drain.seconds", &scenario, "drain time", elapsed, "s"),
        Figure::new(
            "drain.failed",
            &scenario,
            "tasks not succeeded",
            not_succeeded as f64,
            "",
        )
        .target(Target::Max(0.0)),
        Figure::new(
            "drain.upstream_created",
            &scenario,
            "upstream holds every job after",
            since(started, all_created),
            "s",
        ),
        Figure::new(
            "drain.upstream_fetched",
            &scenario,
            "every result fetched from the upstream after",
            since(started, all_fetched),
            "s",
        ),
        Figure::new(
            "drain.front_cpu",
            &scenario,
            "front's CPU time per task (user + system)",
            front_cpu * 1000.0 / TASKS as f64,
            "ms",
        ),
        Figure::new(
            "drain.submit",
            &scenario,
            "backlog: submits to the front (32 at once)",
            TASKS as f64 / submit_seconds,
            "req/s",
        ),
    ])
}

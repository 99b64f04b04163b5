//! Submits and polls on PostgreSQL: the same load as `--only api`, against a server whose store
//! is a fresh database on the server `SEEDGATE_BENCH_DATABASE_URL` names (the bench fails
//! without it), beside the bare baseline measured in the same run; and three replicas sharing
//! one database, the load spread over them.

use super::load::{self, LoadResult, RequestTemplate};
use super::report::{Figure, Target};
use super::scenarios::{load_figures, poll_status, submit_once, t2v, SUBMIT};
use super::server::Seedgate;
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// The PostgreSQL server to create the benchmark's databases on.
const DATABASE_URL: &str = "SEEDGATE_BENCH_DATABASE_URL";

/// A fresh database on the benchmark's server, dropped (whatever happens) by [`Scratch::drop_now`].
struct Scratch {
    admin: sqlx::PgPool,
    name: String,
    url: url::Url,
}

impl Scratch {
    async fn create(purpose: &str) -> anyhow::Result<Self> {
        let server_url = std::env::var(DATABASE_URL).map_err(|_| {
            anyhow::anyhow!(
                "{DATABASE_URL} must name a PostgreSQL server, e.g. \
                 postgres://postgres:postgres@127.0.0.1:5432/postgres"
            )
        })?;
        let name = format!("seedgate_bench_{purpose}_{}", std::process::id());
        let admin = sqlx::PgPool::connect(&server_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await?;
        let mut url = url::Url::parse(&server_url)?;
        url.set_path(&name);
        Ok(Self { admin, name, url })
    }

    async fn drop_now(self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = sqlx::query(&sql).execute(&self.admin).await;
    }
}

pub async fn postgres_load(
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Vec<Figure>> {
    let scratch = Scratch::create("one").await?;
    let url = scratch.url.clone();
    let measured = async {
        let server = Seedgate::start(
            "postgres",
            &[
                ("SEEDGATE_DATABASE_URL", url.as_str()),
                ("SEEDGATE_WORKER__CONCURRENCY", "4"),
            ],
        )
        .await?;
        let (figures, bodies) =
            super::scenarios::api_load(&server, connections, warmup, duration).await?;
        drop(server);
        let baseline =
            super::scenarios::baseline_load(&bodies, connections, warmup, duration).await?;
        anyhow::Ok((figures, baseline))
    }
    .await;
    scratch.drop_now().await;
    let (figures, baseline) = measured?;
    let mut out: Vec<Figure> = figures
        .into_iter()
        .map(|mut f| {
            f.key = format!("postgres.{}", f.key);
            f.scenario = format!("{} on PostgreSQL", f.scenario);
            f.baseline_value = f
                .baseline_key
                .as_ref()
                .and_then(|k| baseline.iter().find(|b| &b.key == k))
                .map(|b| b.value);
            f
        })
        .collect();
    out.extend(baseline.into_iter().map(|mut b| {
        b.key = format!("postgres.{}", b.key);
        b.scenario = format!("{} (beside the PostgreSQL run)", b.scenario);
        b
    }));
    Ok(out)
}

/// Three replicas on one database, the connections split evenly between them: polls of a
/// running task made on the first, submits to all three, and how soon a task that one replica
/// completed reads as completed on another (the change feed: `LISTEN/NOTIFY`). On two cores the
/// three share the machine with PostgreSQL and the load, so the sums say what a scaled-out
/// deployment costs here, not what more machines would give.
pub async fn three_replicas_load(
    connections: usize,
    warmup: Duration,
    duration: Duration,
    samples: usize,
) -> anyhow::Result<Vec<Figure>> {
    let scratch = Scratch::create("three").await?;
    let url = scratch.url.to_string();
    let measured = async {
        let env = [
            ("SEEDGATE_DATABASE_URL", url.as_str()),
            ("SEEDGATE_WORKER__CONCURRENCY", "4"),
        ];
        let first = Seedgate::start("pg-replica-1", &env).await?;
        let second = Seedgate::start_replica("pg-replica-2", &env, &first.key).await?;
        let third = Seedgate::start_replica("pg-replica-3", &env, &first.key).await?;
        let replicas = [&first, &second, &third];
        let per_replica = (connections / replicas.len()).max(1);
        let scenario =
            |what: &str| format!("{what}, 3 replicas on PostgreSQL ({per_replica} conns each)");
        let client = reqwest::Client::new();

        let running = submit_once(
            &client,
            &first,
            &t2v("a running task [[seedgate:delay:3600000]]"),
        )
        .await?;
        let poll = spread(&replicas, per_replica, warmup, duration, |r| {
            RequestTemplate::get(&format!("/api/v1/tasks/{running}")).bearer(&r.key)
        })
        .await?;
        let mut figures = load_figures(
            "postgres.replicas.poll",
            &scenario("poll, running task"),
            &poll,
            None,
        );
        let submit = spread(&replicas, per_replica, warmup, duration, |r| {
            RequestTemplate::post_json(SUBMIT, &t2v("a kitten yawning at the camera"))
                .bearer(&r.key)
        })
        .await?;
        figures.extend(load_figures(
            "postgres.replicas.submit",
            &scenario("submit, T2V"),
            &submit,
            None,
        ));

        // Made on the first replica, watched on the third: the time from submit to the third
        // reading it completed, beside the same on the first.
        let mut elsewhere = Histogram::<u64>::new(3)?;
        let mut same = Histogram::<u64>::new(3)?;
        for i in 0..samples {
            let submitted = Instant::now();
            let id = submit_once(&client, &first, &t2v(&format!("seen elsewhere {i}"))).await?;
            let (mut on_first, mut on_third) = (None, None);
            while on_first.is_none() || on_third.is_none() {
                anyhow::ensure!(
                    submitted.elapsed() < Duration::from_secs(30),
                    "task {id} never read completed on both replicas"
                );
                for (seen, replica) in [(&mut on_first, &first), (&mut on_third, &third)] {
                    if seen.is_none() && poll_status(&client, replica, &id).await?.0 == "completed"
                    {
                        *seen = Some(submitted.elapsed());
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis() as u64);
            same.record(ms(on_first))?;
            elsewhere.record(ms(on_third))?;
        }
        let q = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64;
        figures.push(Figure::new(
            "postgres.replicas.visible_same.p99",
            "submit on replica 1 → completed on replica 1",
            "p99",
            q(&same, 0.99),
            "ms",
        ));
        figures.push(Figure::new(
            "postgres.replicas.visible_elsewhere.p50",
            "submit on replica 1 → completed on replica 3",
            "p50",
            q(&elsewhere, 0.5),
            "ms",
        ));
        // Issue 18: a status another replica wrote is visible within 100 ms.
        figures.push(
            Figure::new(
                "postgres.replicas.visible_elsewhere.p99",
                "submit on replica 1 → completed on replica 3",
                "p99",
                q(&elsewhere, 0.99),
                "ms",
            )
            .target(Target::Max(100.0)),
        );
        anyhow::Ok(figures)
    }
    .await;
    scratch.drop_now().await;
    measured
}

/// The same load on every replica at once (`per_replica` connections each), as one result: the
/// requests summed, the latencies of all of them.
async fn spread(
    replicas: &[&Seedgate],
    per_replica: usize,
    warmup: Duration,
    duration: Duration,
    template: impl Fn(&Seedgate) -> RequestTemplate,
) -> anyhow::Result<LoadResult> {
    let runs = futures::future::try_join_all(
        replicas
            .iter()
            .map(|r| load::run(r.addr, per_replica, warmup, duration, template(r))),
    )
    .await?;
    let mut merged = LoadResult {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        histogram: Histogram::new(3)?,
    };
    for run in runs {
        merged.requests += run.requests;
        merged.errors += run.errors;
        merged.elapsed = merged.elapsed.max(run.elapsed);
        merged.histogram.add(&run.histogram)?;
    }
    Ok(merged)
}

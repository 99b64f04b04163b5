//! Submits and polls on PostgreSQL: the same load as `--only api`, against a server whose store
//! is a fresh database on the server `SEEDGATE_BENCH_DATABASE_URL` names (the bench fails
//! without it), beside the bare baseline measured in the same run.

use super::report::Figure;
use super::server::Seedgate;
use std::time::Duration;

/// The PostgreSQL server to create the benchmark's database on.
const DATABASE_URL: &str = "SEEDGATE_BENCH_DATABASE_URL";

pub async fn postgres_load(
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Vec<Figure>> {
    let server_url = std::env::var(DATABASE_URL).map_err(|_| {
        anyhow::anyhow!(
            "{DATABASE_URL} must name a PostgreSQL server, e.g. \
             postgres://postgres:postgres@127.0.0.1:5432/postgres"
        )
    })?;
    let name = format!("seedgate_bench_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&server_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let mut url = url::Url::parse(&server_url)?;
    url.set_path(&name);
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
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await;
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

//! `seedgate bench`: how fast seedgate is, side by side with a bare axum baseline measured in
//! the same run on the same machine. Each scenario is one function returning figures; adding a
//! scenario (probing, webhook deliveries, PostgreSQL) means adding a function, not a tool.
//!
//! seedgate runs as a child process (`seedgate serve`, instant local renderer) so that its
//! memory is measured alone; the baseline runs as another child of the same binary with the
//! same runtime; the load generator runs here.

mod baseline;
mod console;
mod drain;
mod history;
mod instant_ark;
mod load;
mod media;
mod postgres;
mod report;
mod scenarios;
mod server;
mod wake;

pub use baseline::serve as serve_baseline;

use report::Report;
use std::path::PathBuf;
use std::time::Duration;

/// Tasks stored before the console's pages are timed (the "100,000 tasks stored").
const CONSOLE_TASKS: usize = 100_000;

#[derive(Debug, Clone)]
pub struct BenchArgs {
    /// Measured seconds per load scenario (after a 1 s warm-up).
    pub seconds: u64,
    pub connections: usize,
    /// Tasks kept in flight for the memory scenario.
    pub in_flight: usize,
    /// Samples of completion-to-visible latency.
    pub visible_samples: usize,
    pub out: PathBuf,
    pub only: Option<Only>,
}

/// A scenario `--only` can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// The console's pages with 100,000 tasks stored.
    Console,
    /// Callback deliveries per second and commit → callback latency.
    Callbacks,
    /// Completion → visible, and poll and submit load beside the bare baseline.
    Api,
    /// A 50 MB MP4 downloaded whole and by Range, beside nginx serving the same file.
    Media,
    /// 10,000 queued tasks drained through a front to an instant upstream.
    Drain,
    /// Submits, polls, lists, a month's usage report and the console, on an empty database
    /// and again with 1,000,000 finished tasks stored.
    History,
    /// Submits and polls on PostgreSQL (`SEEDGATE_BENCH_DATABASE_URL`) beside the baseline.
    Postgres,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let mut report = Report::new(&args);
    match args.only {
        Some(Only::Console) => {
            eprintln!("bench: console pages with {CONSOLE_TASKS} tasks stored");
            report.add_all(console::console_pages(CONSOLE_TASKS).await?);
            return write(&args, &report);
        }
        Some(Only::Callbacks) => {
            callbacks(&mut report).await?;
            return write(&args, &report);
        }
        Some(Only::Api) => {
            api(&args, &mut report).await?;
            return write(&args, &report);
        }
        Some(Only::Media) => {
            media(&args, &mut report).await?;
            return write(&args, &report);
        }
        Some(Only::Drain) => {
            drain(&mut report).await?;
            return write(&args, &report);
        }
        Some(Only::History) => {
            history(&args, &mut report).await?;
            return write(&args, &report);
        }
        Some(Only::Postgres) => {
            postgres(&args, &mut report).await?;
            return write(&args, &report);
        }
        None => {}
    }

    api(&args, &mut report).await?;
    eprintln!("bench: memory with {} tasks in flight", args.in_flight);
    report.add_all(scenarios::in_flight_memory(args.in_flight).await?);
    callbacks(&mut report).await?;
    eprintln!("bench: console pages with {CONSOLE_TASKS} tasks stored");
    report.add_all(console::console_pages(CONSOLE_TASKS).await?);
    eprintln!("bench: local renderer and probes");
    report.add_all(scenarios::renderer_speed().await?);
    report.add_all(scenarios::probe_speed().await?);
    media(&args, &mut report).await?;
    drain(&mut report).await?;
    history(&args, &mut report).await?;
    if std::env::var_os("SEEDGATE_BENCH_DATABASE_URL").is_some() {
        postgres(&args, &mut report).await?;
    } else {
        eprintln!("bench: PostgreSQL not measured: SEEDGATE_BENCH_DATABASE_URL is not set");
    }

    write(&args, &report)
}

/// Submits and polls with the store on PostgreSQL.
async fn postgres(args: &BenchArgs, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("bench: submits and polls on PostgreSQL");
    report.add_all(
        postgres::postgres_load(
            args.connections,
            Duration::from_secs(1),
            Duration::from_secs(args.seconds),
        )
        .await?,
    );
    eprintln!("bench: three replicas on one PostgreSQL database");
    report.add_all(
        postgres::three_replicas_load(
            args.connections,
            Duration::from_secs(1),
            Duration::from_secs(args.seconds),
            args.visible_samples,
        )
        .await?,
    );
    Ok(())
}

/// Tasks written for the history scenario (issue 18's "1,000,000 tasks").
const HISTORY_TASKS: usize = 1_000_000;

/// The same server on an empty database and with a long history.
async fn history(args: &BenchArgs, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("bench: history of {HISTORY_TASKS} tasks");
    let figures = history::history(HISTORY_TASKS, args.connections).await?;
    report.add_all(figures);
    Ok(())
}

/// Whole-file and Range downloads of a 50 MB MP4, seedgate beside nginx.
async fn media(args: &BenchArgs, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("bench: media downloads beside nginx");
    report.add_all(
        media::media_downloads(Duration::from_secs(1), Duration::from_secs(args.seconds)).await?,
    );
    Ok(())
}

/// A front draining a backlog of queued tasks to an instant upstream.
async fn drain(report: &mut Report) -> anyhow::Result<()> {
    eprintln!("bench: draining {} queued tasks", drain::TASKS);
    report.add_all(drain::drain_backlog().await?);
    Ok(())
}

/// Callback deliveries per second, and how soon a commit's callback is sent.
async fn callbacks(report: &mut Report) -> anyhow::Result<()> {
    eprintln!("bench: callback deliveries");
    report.add_all(scenarios::callback_deliveries(2000).await?);
    eprintln!("bench: commit → callback latency");
    report.add_all(wake::callback_wake(200).await?);
    Ok(())
}

/// Idle memory, completion → visible, and the load scenarios beside the baseline.
async fn api(args: &BenchArgs, report: &mut Report) -> anyhow::Result<()> {
    let duration = Duration::from_secs(args.seconds);
    let warmup = Duration::from_secs(1);
    eprintln!("bench: starting seedgate (instant renderer)");
    let main = server::Seedgate::start("main", &[("SEEDGATE_WORKER__CONCURRENCY", "4")]).await?;
    report.add_all(scenarios::idle_memory(&main).await?);
    eprintln!("bench: completion-to-visible latency");
    report.add_all(scenarios::completion_to_visible(&main, args.visible_samples).await?);
    eprintln!("bench: poll and submit load");
    let (seedgate_figures, bodies) =
        scenarios::api_load(&main, args.connections, warmup, duration).await?;
    eprintln!("bench: baseline");
    let baseline_figures =
        scenarios::baseline_load(&bodies, args.connections, warmup, duration).await?;
    report.add_compared(seedgate_figures, &baseline_figures);
    report.add_all(baseline_figures);
    Ok(())
}

fn write(args: &BenchArgs, report: &Report) -> anyhow::Result<()> {
    let markdown = report.markdown();
    std::fs::write(&args.out, &markdown)?;
    println!("{}", report.summary());
    eprintln!("bench: wrote {}", args.out.display());
    Ok(())
}

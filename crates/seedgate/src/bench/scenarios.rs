//! The scenarios. Each returns its figures; seedgate's load figures name the baseline figure
//! they are compared with.

use super::load::{self, RequestTemplate};
use super::report::{Figure, Target};
use super::server::{Baseline, Seedgate};
use hdrhistogram::Histogram;
use seedgate_store::{AccountStore, SqliteStore, TaskStore};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const MB: f64 = 1024.0 * 1024.0;
pub(super) const SUBMIT: &str = "/api/v1/videos/generations";

pub(super) fn t2v(prompt: &str) -> Value {
    json!({"model": "seedance-2.0-mini", "prompt": prompt, "resolution": "480p", "duration": 4})
}

pub async fn idle_memory(server: &Seedgate) -> anyhow::Result<Vec<Figure>> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = server.rss_bytes()? as f64 / MB;
    Ok(vec![Figure::new(
        "memory.idle",
        "memory",
        "RSS, idle",
        rss,
        "MB",
    )
    .target(Target::Max(60.0))])
}

pub(super) async fn submit_once(
    client: &reqwest::Client,
    server: &Seedgate,
    body: &Value,
) -> anyhow::Result<String> {
    let r = client
        .post(format!("http://{}{SUBMIT}", server.addr))
        .bearer_auth(&server.key)
        .json(body)
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "submit failed: {}", r.status());
    let v: Value = r.json().await?;
    v["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no id"))
}

pub(super) async fn poll_status(
    client: &reqwest::Client,
    server: &Seedgate,
    id: &str,
) -> anyhow::Result<(String, bytes::Bytes)> {
    let r = client
        .get(format!("http://{}/api/v1/tasks/{id}", server.addr))
        .bearer_auth(&server.key)
        .send()
        .await?;
    let body = r.bytes().await?;
    let v: Value = serde_json::from_slice(&body)?;
    Ok((v["status"].as_str().unwrap_or_default().to_string(), body))
}

/// Time from the renderer handing over a finished video to a poll seeing `completed`.
pub async fn completion_to_visible(
    server: &Seedgate,
    samples: usize,
) -> anyhow::Result<Vec<Figure>> {
    let client = reqwest::Client::new();
    let store = SqliteStore::open(&server.data_dir.join("seedgate.db")).await?;
    let key = store
        .find_api_key("development")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no development key"))?;
    let mut visible = Histogram::<u64>::new(3)?;
    let mut end_to_end = Histogram::<u64>::new(3)?;
    for i in 0..samples {
        let submitted = Instant::now();
        let id = submit_once(&client, server, &t2v(&format!("visible {i}"))).await?;
        let seen_ms = loop {
            let (status, _) = poll_status(&client, server, &id).await?;
            if status == "completed" {
                break seedgate_core::clock::now_ms();
            }
            anyhow::ensure!(
                submitted.elapsed() < Duration::from_secs(30),
                "task {id} never completed"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        end_to_end.record(submitted.elapsed().as_millis() as u64)?;
        let task = store
            .get_task(&seedgate_core::TaskId::from_string(id), &key.account_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("task vanished"))?;
        let finished = task
            .output
            .and_then(|o| o.provider_finished_at_ms)
            .ok_or_else(|| anyhow::anyhow!("no provider finish time"))?;
        visible.record(u64::try_from(seen_ms - finished).unwrap_or(0))?;
    }
    let q = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64;
    Ok(vec![
        Figure::new(
            "visible.p50",
            "completion → visible",
            "p50",
            q(&visible, 0.5),
            "ms",
        ),
        Figure::new(
            "visible.p99",
            "completion → visible",
            "p99",
            q(&visible, 0.99),
            "ms",
        )
        .target(Target::Max(100.0)),
        Figure::new(
            "submit_to_visible.p50",
            "submit → completed (instant renderer)",
            "p50",
            q(&end_to_end, 0.5),
            "ms",
        ),
        Figure::new(
            "submit_to_visible.p99",
            "submit → completed (instant renderer)",
            "p99",
            q(&end_to_end, 0.99),
            "ms",
        ),
    ])
}

/// The bytes seedgate answered with, which the baseline serves back.
pub struct Bodies {
    pub poll: bytes::Bytes,
    pub submit: bytes::Bytes,
}

/// Issue 18's targets for a poll, running or completed: at least 85% of the bare handler's
/// throughput, and a p99 at most 1.25 times its p99.
fn poll_targets(figures: &mut [Figure]) {
    for f in figures {
        match f.metric.as_str() {
            "throughput" => f.target = Some(Target::FractionOfBaseline(0.85)),
            "latency p99" => f.target = Some(Target::MultipleOfBaseline(1.25)),
            _ => {}
        }
    }
}

pub(super) fn load_figures(
    prefix: &str,
    scenario: &str,
    result: &load::LoadResult,
    baseline_prefix: Option<&str>,
) -> Vec<Figure> {
    let mut figures = vec![
        Figure::new(
            &format!("{prefix}.throughput"),
            scenario,
            "throughput",
            result.throughput(),
            "req/s",
        ),
        Figure::new(
            &format!("{prefix}.p50"),
            scenario,
            "latency p50",
            result.quantile_ms(0.5),
            "ms",
        ),
        Figure::new(
            &format!("{prefix}.p99"),
            scenario,
            "latency p99",
            result.quantile_ms(0.99),
            "ms",
        ),
    ];
    if result.errors > 0 {
        figures.push(
            Figure::new(
                &format!("{prefix}.errors"),
                scenario,
                "non-2xx answers",
                result.errors as f64,
                "",
            )
            .target(Target::Max(0.0)),
        );
    }
    if let Some(b) = baseline_prefix {
        for f in &mut figures {
            let metric = f.key.rsplit('.').next().unwrap_or_default().to_string();
            *f = f.clone().against(&format!("{b}.{metric}"));
        }
    }
    figures
}

/// Poll (completed and running task) and submit under load.
pub async fn api_load(
    server: &Seedgate,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<(Vec<Figure>, Bodies)> {
    let client = reqwest::Client::new();
    let done = submit_once(&client, server, &t2v("a completed task")).await?;
    let poll_body = loop {
        let (status, body) = poll_status(&client, server, &done).await?;
        if status == "completed" {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let running = submit_once(
        &client,
        server,
        &t2v("a running task [[seedgate:delay:3600000]]"),
    )
    .await?;

    let poll_done = RequestTemplate::get(&format!("/api/v1/tasks/{done}")).bearer(&server.key);
    let result = load::run(server.addr, connections, warmup, duration, poll_done).await?;
    let mut figures = load_figures(
        "poll.completed",
        &format!("poll, completed task ({connections} conns)"),
        &result,
        Some("baseline.poll"),
    );
    poll_targets(&mut figures);

    let poll_running =
        RequestTemplate::get(&format!("/api/v1/tasks/{running}")).bearer(&server.key);
    let result = load::run(server.addr, connections, warmup, duration, poll_running).await?;
    let mut running_figures = load_figures(
        "poll.running",
        &format!("poll, running task ({connections} conns)"),
        &result,
        Some("baseline.poll"),
    );
    poll_targets(&mut running_figures);
    figures.extend(running_figures);

    let (_, submit_body) = load::once(
        server.addr,
        &RequestTemplate::post_json(SUBMIT, &t2v("sample")).bearer(&server.key),
    )
    .await?;
    let submit = RequestTemplate::post_json(SUBMIT, &t2v("a kitten yawning at the camera"))
        .bearer(&server.key);
    let result = load::run(server.addr, connections, warmup, duration, submit).await?;
    let mut submit_figures = load_figures(
        "submit",
        &format!("submit, T2V ({connections} conns)"),
        &result,
        Some("baseline.submit"),
    );
    for f in &mut submit_figures {
        if f.metric == "throughput" {
            f.target = Some(Target::Min(3000.0));
        }
    }
    figures.extend(submit_figures);
    Ok((
        figures,
        Bodies {
            poll: poll_body,
            submit: submit_body,
        },
    ))
}

/// The same loads against the bare handler.
pub async fn baseline_load(
    bodies: &Bodies,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Vec<Figure>> {
    let baseline = Baseline::start(&bodies.poll, &bodies.submit).await?;
    let poll = load::run(
        baseline.addr,
        connections,
        warmup,
        duration,
        RequestTemplate::get("/api/v1/tasks/x").bearer("k"),
    )
    .await?;
    let mut figures = load_figures(
        "baseline.poll",
        &format!("baseline, GET ({connections} conns)"),
        &poll,
        None,
    );
    let submit = load::run(
        baseline.addr,
        connections,
        warmup,
        duration,
        RequestTemplate::post_json(SUBMIT, &t2v("a kitten yawning at the camera")).bearer("k"),
    )
    .await?;
    figures.extend(load_figures(
        "baseline.submit",
        &format!("baseline, POST ({connections} conns)"),
        &submit,
        None,
    ));
    figures.push(Figure::new(
        "baseline.memory",
        "memory",
        "RSS, baseline server after load",
        baseline.rss_bytes()? as f64 / MB,
        "MB",
    ));
    Ok(figures)
}

/// Memory of a fresh server holding `count` accepted, unfinished tasks.
/// Submits `count` copies of `body` (reAPI) with 32 submitters at once; every one must be
/// accepted.
pub async fn submit_many(server: &Seedgate, body: &Value, count: usize) -> anyhow::Result<()> {
    let template = RequestTemplate::post_json(SUBMIT, body).bearer(&server.key);
    let submitters = 32;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..submitters {
        let template = template.clone();
        let addr = server.addr;
        let share = count / submitters + usize::from(i < count % submitters);
        tasks.spawn(async move {
            let mut accepted = 0usize;
            for _ in 0..share {
                if load::once(addr, &template)
                    .await
                    .map(|(s, _)| s == 200)
                    .unwrap_or(false)
                {
                    accepted += 1;
                }
            }
            accepted
        });
    }
    let mut accepted = 0;
    while let Some(n) = tasks.join_next().await {
        accepted += n?;
    }
    anyhow::ensure!(
        accepted == count,
        "only {accepted} of {count} tasks were accepted"
    );
    Ok(())
}

pub async fn in_flight_memory(count: usize) -> anyhow::Result<Vec<Figure>> {
    let server = Seedgate::start("in-flight", &[("SEEDGATE_WORKER__CONCURRENCY", "2")]).await?;
    submit_many(&server, &t2v("held [[seedgate:delay:3600000]]"), count).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = server.rss_bytes()? as f64 / MB;
    Ok(vec![Figure::new(
        "memory.in_flight",
        "memory",
        &format!("RSS, {count} tasks in flight"),
        rss,
        "MB",
    )
    .target(Target::Max(250.0))])
}

fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn test_image(width: u32, height: u32, format: image::ImageFormat) -> anyhow::Result<Vec<u8>> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 255 / width) as u8,
            (y * 255 / height) as u8,
            ((x ^ y) & 0xff) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format)?;
    Ok(out.into_inner())
}

/// Seconds of 720p video the local renderer makes per second of CPU.
pub async fn renderer_speed() -> anyhow::Result<Vec<Figure>> {
    use seedgate_local_renderer::{render, RenderSpec, Scene};
    let first = test_image(1600, 900, image::ImageFormat::Png)?;
    let last = test_image(1600, 900, image::ImageFormat::Jpeg)?;
    let scenes = [
        (
            "card",
            "text card",
            Scene::Card {
                prompt: "A kitten yawning at the camera, soft morning light".into(),
            },
        ),
        (
            "frames",
            "first → last frame",
            Scene::Frames {
                first,
                last: Some(last),
                prompt: None,
            },
        ),
    ];
    let mut figures = Vec::new();
    for (key, label, scene) in scenes {
        let spec = RenderSpec {
            width: 1280,
            height: 720,
            fps: 24,
            duration_seconds: 5,
            scene,
            audio: true,
        };
        let cpu = tokio::task::spawn_blocking(move || -> anyhow::Result<f64> {
            let start = thread_cpu_seconds();
            render(&spec)?;
            Ok(thread_cpu_seconds() - start)
        })
        .await??;
        figures.push(
            Figure::new(
                &format!("renderer.{key}.cpu"),
                &format!("local renderer, 5 s 720p {label} with audio"),
                "CPU time",
                cpu,
                "s",
            )
            .target(Target::Max(2.0)),
        );
        figures.push(Figure::new(
            &format!("renderer.{key}.speed"),
            &format!("local renderer, 5 s 720p {label} with audio"),
            "video seconds per CPU second",
            5.0 / cpu.max(1e-9),
            "x",
        ));
    }
    Ok(figures)
}

/// Mean seconds per call of `f`, over at least `min_time`.
fn time_per_call(min_time: Duration, mut f: impl FnMut() -> bool) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < min_time || calls < 10 {
        anyhow::ensure!(f(), "probe failed");
        calls += 1;
    }
    Ok(start.elapsed().as_secs_f64() / calls as f64)
}

/// Probing a 15 s 720p MP4 and a 6000×4000 JPEG, beside reading the same bytes once.
pub async fn probe_speed() -> anyhow::Result<Vec<Figure>> {
    tokio::task::spawn_blocking(|| -> anyhow::Result<Vec<Figure>> {
        use seedgate_local_renderer::{render, RenderSpec, Scene};
        let video = render(&RenderSpec {
            width: 1280,
            height: 720,
            fps: 24,
            duration_seconds: 15,
            scene: Scene::Card {
                prompt: "probe me".into(),
            },
            audio: true,
        })?;
        let jpeg = test_image(6000, 4000, image::ImageFormat::Jpeg)?;
        let read_all = |bytes: &[u8]| {
            bytes
                .iter()
                .fold(0u64, |a, b| a.wrapping_add(u64::from(*b)))
        };
        let window = Duration::from_millis(500);
        let mut figures = Vec::new();
        for (key, label, bytes, is_video) in [
            ("mp4", "15 s 720p MP4", &video, true),
            ("jpeg", "6000×4000 JPEG", &jpeg, false),
        ] {
            let scenario = format!("probe, {label} ({:.1} MB)", bytes.len() as f64 / MB);
            let probe = time_per_call(window, || {
                if is_video {
                    seedgate_probe::probe_video(bytes).is_ok()
                } else {
                    seedgate_probe::probe_image(bytes).is_ok()
                }
            })?;
            let read = time_per_call(window, || std::hint::black_box(read_all(bytes)) != u64::MAX)?;
            let mut f = Figure::new(
                &format!("probe.{key}"),
                &scenario,
                "time per probe",
                probe * 1000.0,
                "ms",
            );
            f.baseline_key = Some(format!("probe.{key}.read"));
            f.baseline_value = Some(read * 1000.0);
            figures.push(f);
        }
        Ok(figures)
    })
    .await?
}

/// A callback receiver in this process: counts requests and remembers their bodies' sizes.
struct Receiver {
    url: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicU64>,
    body_bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Receiver {
    async fn start() -> anyhow::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        let hits = Arc::new(AtomicU64::new(0));
        let body_bytes = Arc::new(AtomicU64::new(0));
        let (h, b) = (hits.clone(), body_bytes.clone());
        let app = axum::Router::new().fallback(move |body: bytes::Bytes| {
            let (h, b) = (h.clone(), b.clone());
            async move {
                b.store(body.len() as u64, Ordering::Relaxed);
                h.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            url,
            hits,
            body_bytes,
        })
    }

    fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn wait_for(&self, n: u64, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while self.hits() < n {
            anyhow::ensure!(
                Instant::now() < deadline,
                "only {} of {n} callbacks arrived",
                self.hits()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }
}

/// Waits until `count` final callbacks are delivered and none is pending or leased (Ark also
/// reports `queued` and `running`; those the result overtook stay `superseded`, which is
/// settled too).
async fn wait_until_settled(
    store: &SqliteStore,
    count: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let (delivered, open): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(event = 'final' AND state = 'delivered'), 0), \
             COALESCE(SUM(state = 'pending' OR lease_token IS NOT NULL), 0) FROM callbacks",
        )
        .fetch_one(store.pool())
        .await?;
        if delivered as usize >= count && open == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{delivered} of {count} final callbacks delivered, {open} still open"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Callback deliveries per second. `count` tasks with a callback are run and delivered once
/// (timed apart: the renderer's pace); then every final callback is made due again at once in
/// the database, a few rounds over, and the time until the receiver has each round is the
/// dispatcher's own throughput (leasing, reading the tasks, rendering the dialect body,
/// signing, POSTing, recording the attempt durably). The baseline POSTs as many bodies of the
/// same size from a bare client with the same concurrency.
pub async fn callback_deliveries(count: usize) -> anyhow::Result<Vec<Figure>> {
    let receiver = Receiver::start().await?;
    let concurrency = "64";
    let server = Seedgate::start(
        "callbacks",
        &[
            ("SEEDGATE_WORKER__CONCURRENCY", "4"),
            ("SEEDGATE_CALLBACKS__IDLE_POLL_MS", "10"),
            ("SEEDGATE_CALLBACKS__CONCURRENCY", concurrency),
            // One receiver host and one account: their bounds (a quarter of the slots, for
            // an account) would otherwise be the figure.
            ("SEEDGATE_CALLBACKS__PER_HOST_CONCURRENCY", concurrency),
            ("SEEDGATE_CALLBACKS__PER_ACCOUNT_CONCURRENCY", concurrency),
        ],
    )
    .await?;
    let create = RequestTemplate::post_json(
        "/api/v3/contents/generations/tasks",
        &json!({
            "model": "dreamina-seedance-2-0-mini-260615",
            "content": [{"type": "text", "text": "a callback"}],
            "resolution": "480p", "duration": 4,
            "callback_url": receiver.url,
        }),
    )
    .bearer(&server.key);
    let store = SqliteStore::open(&server.data_dir.join("seedgate.db")).await?;
    let submitters = 16;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..submitters {
        let (template, addr) = (create.clone(), server.addr);
        let share = count / submitters + usize::from(i < count % submitters);
        tasks.spawn(async move {
            for _ in 0..share {
                let (status, _) = load::once(addr, &template).await?;
                anyhow::ensure!(status == 200, "submit answered {status}");
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    // The first round ends when every task's final callback is delivered and nothing else
    // is open. Counting receiver hits would end it early: the status callbacks arrive long
    // before the last task finishes.
    let first_round = Instant::now();
    wait_until_settled(&store, count, Duration::from_secs(300)).await?;
    let first_round = first_round.elapsed();

    // Every final callback due again at once, ROUNDS times: now the dispatcher alone is
    // measured. Between rounds (not timed) every attempt is written down, so each round starts
    // from settled rows.
    const ROUNDS: usize = 5;
    let mut elapsed = 0.0;
    for _ in 0..ROUNDS {
        let before = receiver.hits();
        let started = Instant::now();
        sqlx::query(
            "UPDATE callbacks SET state = 'pending', next_attempt_at_ms = 0, lease_token = NULL, \
             lease_expires_at_ms = NULL WHERE event = 'final'",
        )
        .execute(store.pool())
        .await?;
        receiver
            .wait_for(before + count as u64, Duration::from_secs(120))
            .await?;
        elapsed += started.elapsed().as_secs_f64();
        wait_until_settled(&store, count, Duration::from_secs(60)).await?;
    }
    let per_round = count;
    let count = count * ROUNDS;
    let rate = count as f64 / elapsed;
    drop(server);

    // Baseline: the same bodies POSTed by a bare client, 64 at a time.
    let body = vec![
        b'x';
        receiver
            .body_bytes
            .load(std::sync::atomic::Ordering::Relaxed) as usize
    ];
    let client = reqwest::Client::new();
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let base_started = Instant::now();
    let mut posts = tokio::task::JoinSet::new();
    for _ in 0..count {
        let permit = permits.clone().acquire_owned().await?;
        let (client, url, body) = (client.clone(), receiver.url.clone(), body.clone());
        posts.spawn(async move {
            let _permit = permit;
            client.post(url).body(body).send().await.map(drop)
        });
    }
    while let Some(done) = posts.join_next().await {
        done??;
    }
    let base_rate = count as f64 / base_started.elapsed().as_secs_f64();

    Ok(vec![
        Figure::new(
            "callbacks.deliveries",
            "callbacks",
            &format!(
                "deliveries per second ({per_round} due at once, {ROUNDS} rounds, 64 in flight)"
            ),
            rate,
            "/s",
        )
        .target(Target::Min(5000.0))
        .against("callbacks.baseline"),
        Figure::new(
            "callbacks.baseline",
            "callbacks",
            "baseline: bare client POSTing the same bodies",
            base_rate,
            "/s",
        ),
        Figure::new(
            "callbacks.end_to_end",
            "callbacks",
            &format!("{per_round} tasks submitted → every final callback delivered"),
            first_round.as_secs_f64(),
            "s",
        ),
    ])
}

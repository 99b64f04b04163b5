//! Commit → callback: how soon the dispatcher sends a callback once the commit that made it due
//! lands. The dispatcher keeps its default idle tick (250 ms); it must be woken by the commit
//! (the store's change feed) rather than find the callback on its next look.

use super::report::{Figure, Target};
use super::server::Seedgate;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A receiver noting when each task's callback arrived (Unix ms), by task id.
struct ArrivalLog {
    url: String,
    arrivals: Arc<Mutex<HashMap<String, i64>>>,
}

impl ArrivalLog {
    async fn start() -> anyhow::Result<Self> {
        let arrivals: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
        let log = arrivals.clone();
        let app = axum::Router::new().fallback(move |body: bytes::Bytes| {
            let log = log.clone();
            async move {
                let at = seedgate_core::clock::now_ms();
                // Ark also reports `queued` and `running`: the result's callback is the one
                // the commit that finished the task made due.
                let id = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .filter(|v| v["status"] == "succeeded")
                    .and_then(|v| v["id"].as_str().map(str::to_owned));
                if let (Some(id), Ok(mut log)) = (id, log.lock()) {
                    log.entry(id).or_insert(at);
                }
                axum::http::StatusCode::NO_CONTENT
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, arrivals })
    }

    fn arrived(&self, id: &str) -> Option<i64> {
        self.arrivals.lock().ok().and_then(|a| a.get(id).copied())
    }
}

/// `samples` tasks, one at a time, each with a callback: for each, the time from the commit
/// that finished it (its `finished_at_ms`, written in that transaction) to its callback
/// reaching the receiver.
pub async fn callback_wake(samples: usize) -> anyhow::Result<Vec<Figure>> {
    let receiver = ArrivalLog::start().await?;
    // Default callback settings: a 250 ms idle tick.
    let server = Seedgate::start("callback-wake", &[]).await?;
    let client = reqwest::Client::new();
    let mut ids = Vec::with_capacity(samples);
    for i in 0..samples {
        let r = client
            .post(format!(
                "http://{}/api/v3/contents/generations/tasks",
                server.addr
            ))
            .bearer_auth(&server.key)
            .json(&json!({"model": "dreamina-seedance-2-0-mini-260615",
                "content": [{"type": "text", "text": format!("wake {i}")}],
                "resolution": "480p", "duration": 4, "callback_url": receiver.url}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "submit answered {}", r.status());
        let id = r.json::<Value>().await?["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no id"))?;
        let started = Instant::now();
        while receiver.arrived(&id).is_none() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "the callback of {id} never arrived"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        ids.push(id);
    }
    let store = seedgate_store::SqliteStore::open(&server.data_dir.join("seedgate.db")).await?;
    let mut latency = Histogram::<u64>::new(3)?;
    for id in &ids {
        let finished: Option<i64> =
            sqlx::query_scalar("SELECT finished_at_ms FROM tasks WHERE id = $1")
                .bind(id)
                .fetch_one(store.pool())
                .await?;
        let finished = finished.ok_or_else(|| anyhow::anyhow!("{id} has no finish time"))?;
        let arrived = receiver
            .arrived(id)
            .ok_or_else(|| anyhow::anyhow!("{id} never arrived"))?;
        latency.record(u64::try_from(arrived - finished).unwrap_or(0))?;
    }
    drop(server);
    let q = |q: f64| latency.value_at_quantile(q) as f64;
    Ok(vec![
        Figure::new(
            "callback_wake.p50",
            "commit → callback received (dispatcher tick 250 ms)",
            "p50",
            q(0.5),
            "ms",
        ),
        Figure::new(
            "callback_wake.p99",
            "commit → callback received (dispatcher tick 250 ms)",
            "p99",
            q(0.99),
            "ms",
        )
        .target(Target::Max(20.0)),
    ])
}

//! The load generator: N keep-alive HTTP/1.1 connections, each sending requests back to back
//! for a fixed time, latencies into an HDR histogram. Written on hyper's connection API so the
//! client costs as little CPU as possible (it shares the machine with the server).

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request to send, again and again.
#[derive(Clone)]
pub struct RequestTemplate {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RequestTemplate {
    pub fn get(path: &str) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn post_json(path: &str, body: &serde_json::Value) -> Self {
        Self {
            method: Method::POST,
            path: path.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(body.to_string()),
        }
    }

    pub fn bearer(mut self, key: &str) -> Self {
        self.headers
            .push(("authorization".into(), format!("Bearer {key}")));
        self
    }

    fn build(&self, host: &str) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .header("host", host);
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        Ok(builder.body(Full::new(self.body.clone()))?)
    }
}

#[derive(Debug, Clone)]
pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub histogram: Histogram<u64>,
}

impl LoadResult {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency quantile in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.histogram.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Runs `connections` connections against `addr` for `warmup + duration`, counting only what
/// completes after the warm-up.
pub async fn run(
    addr: SocketAddr,
    connections: usize,
    warmup: Duration,
    duration: Duration,
    template: RequestTemplate,
) -> anyhow::Result<LoadResult> {
    let template = Arc::new(template);
    let start = Instant::now();
    let measure_from = start + warmup;
    let stop_at = measure_from + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let template = template.clone();
        tasks.spawn(async move { connection(addr, template, measure_from, stop_at).await });
    }
    let mut total = LoadResult {
        requests: 0,
        errors: 0,
        elapsed: duration,
        histogram: Histogram::new(3)?,
    };
    while let Some(result) = tasks.join_next().await {
        let (requests, errors, histogram) = result??;
        total.requests += requests;
        total.errors += errors;
        total.histogram.add(histogram)?;
    }
    Ok(total)
}

async fn connection(
    addr: SocketAddr,
    template: Arc<RequestTemplate>,
    measure_from: Instant,
    stop_at: Instant,
) -> anyhow::Result<(u64, u64, Histogram<u64>)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let host = addr.to_string();
    let mut histogram = Histogram::<u64>::new(3)?;
    let (mut requests, mut errors) = (0u64, 0u64);
    loop {
        let sent = Instant::now();
        if sent >= stop_at {
            break;
        }
        sender.ready().await?;
        let response = sender.send_request(template.build(&host)?).await?;
        let ok = response.status().is_success();
        response.into_body().collect().await?;
        let done = Instant::now();
        if sent >= measure_from {
            requests += 1;
            if !ok {
                errors += 1;
            }
            histogram
                .record(u64::try_from(done.duration_since(sent).as_micros()).unwrap_or(u64::MAX))?;
        }
    }
    Ok((requests, errors, histogram))
}

/// A single request on a fresh connection; for set-up steps.
pub async fn once(addr: SocketAddr, template: &RequestTemplate) -> anyhow::Result<(u16, Bytes)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let response = sender
        .send_request(template.build(&addr.to_string())?)
        .await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

//! An instant upstream speaking Ark, in the bench's own process: every job it is given has
//! succeeded by the time its create is answered. As Ark does when a job ends, it then POSTs the
//! task object to the create's `callback_url`; `GET …/tasks/{id}` answers the same object, and
//! the video it names is a real MP4 served from memory.
//!
//! It stands for the "instant upstream" of the drain scenario: what is timed is the front's own
//! work (claim, upstream create, result, copy, settle), not a second seedgate rendering and
//! signing callbacks on the same two cores. It can be held shut ([`InstantArk::open`]): until
//! then every request waits, as a stopped process's would, so a backlog can build up first.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TASKS: &str = "/api/v3/contents/generations/tasks";

/// What a job echoes back from its create, as Ark's task object does.
#[derive(Clone)]
struct Job {
    model: String,
    resolution: String,
    ratio: String,
    duration: u64,
    created_at: i64,
}

struct Shared {
    addr: SocketAddr,
    video: Bytes,
    jobs: Mutex<HashMap<String, Job>>,
    created: AtomicU64,
    downloads: AtomicU64,
    open: tokio::sync::watch::Receiver<bool>,
    callbacks: reqwest::Client,
}

pub struct InstantArk {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    open: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for InstantArk {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl InstantArk {
    /// Starts shut when `open` is false; `video` is the file every job's result points at.
    pub async fn start(clip: Bytes, open: bool) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (open_tx, open_rx) = tokio::sync::watch::channel(open);
        let shared = Arc::new(Shared {
            addr,
            video: clip,
            jobs: Mutex::new(HashMap::new()),
            created: AtomicU64::new(0),
            downloads: AtomicU64::new(0),
            open: open_rx,
            callbacks: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
        });
        let app = Router::new()
            .route(TASKS, post(create))
            .route(&format!("{TASKS}/{{id}}"), get(task))
            .route("/videos/{id}", get(video))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the instant Ark upstream stopped");
            }
        });
        Ok(Self {
            addr,
            shared,
            open: open_tx,
            server,
        })
    }

    /// Lets every waiting and later request through.
    pub fn open(&self) {
        let _ = self.open.send(true);
    }

    /// Jobs created so far.
    pub fn created(&self) -> u64 {
        self.shared.created.load(Ordering::Relaxed)
    }

    /// Result files downloaded so far.
    pub fn downloads(&self) -> u64 {
        self.shared.downloads.load(Ordering::Relaxed)
    }
}

async fn wait_open(shared: &Shared) {
    let mut open = shared.open.clone();
    let _ = open.wait_for(|open| *open).await;
}

fn task_object(shared: &Shared, id: &str, job: &Job) -> Value {
    json!({
        "id": id,
        "model": job.model,
        "status": "succeeded",
        "content": {"video_url": format!("http://{}/videos/{id}.mp4", shared.addr)},
        "error": null,
        "usage": {"completion_tokens": 10000, "total_tokens": 10000},
        "created_at": job.created_at,
        "updated_at": job.created_at,
        "seed": 1,
        "resolution": job.resolution,
        "ratio": job.ratio,
        "duration": job.duration,
        "framespersecond": 24,
        "generate_audio": false,
        "draft": false,
        "service_tier": "default",
        "execution_expires_after": 172800,
        "priority": 0,
        "output_format": "mp4",
    })
}

async fn create(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    wait_open(&shared).await;
    let n = shared.created.fetch_add(1, Ordering::Relaxed);
    let id = format!("cgt-bench-{n}");
    let text = |field: &str, default: &str| {
        body.get(field)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_string()
    };
    let job = Job {
        model: text("model", "dreamina-seedance-2-0-mini-260615"),
        resolution: text("resolution", "720p"),
        ratio: text("ratio", "16:9"),
        duration: body.get("duration").and_then(Value::as_u64).unwrap_or(5),
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    if let Ok(mut jobs) = shared.jobs.lock() {
        jobs.insert(id.clone(), job.clone());
    }
    if let Some(url) = body.get("callback_url").and_then(Value::as_str) {
        // The job has ended: Ark POSTs its task object to the callback URL. Sent a moment after
        // the create's answer, which the front records first.
        let (shared, url, id) = (shared.clone(), url.to_string(), id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let object = task_object(&shared, &id, &job);
            if let Err(e) = shared.callbacks.post(&url).json(&object).send().await {
                tracing::warn!(error = %e, "the instant upstream's callback failed");
            }
        });
    }
    Json(json!({"id": id})).into_response()
}

async fn task(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    wait_open(&shared).await;
    let job = shared
        .jobs
        .lock()
        .ok()
        .and_then(|jobs| jobs.get(&id).cloned());
    match job {
        Some(job) => Json(task_object(&shared, &id, &job)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "ResourceNotFound", "message": "no such task"}})),
        )
            .into_response(),
    }
}

async fn video(State(shared): State<Arc<Shared>>) -> Response {
    wait_open(&shared).await;
    shared.downloads.fetch_add(1, Ordering::Relaxed);
    Response::builder()
        .header(header::CONTENT_TYPE, "video/mp4")
        .body(Body::from(shared.video.clone()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

//! Gateway in front of gateway: a FRONT seedgate whose `[[providers]]` are accounts at an
//! UPSTREAM seedgate (the local renderer behind every dialect), sometimes through a
//! fault-injecting proxy. Clients talk reAPI (or Ark) to the front; the tests then check what
//! the front answered, what the upstream holds, and where the money went.

use crate::crash_recovery::{free_port, setup, start, Setup};
use crate::helpers::{assert_error, spawn_app_with, wait_for_task, TestApp};
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use seedgate::config::{ProviderSettings, RunMode, Settings};
use seedgate_core::task::{Task, TaskStatus};
use seedgate_core::TaskId;
use seedgate_providers::RoutingStrategy;
use seedgate_service::auth;
use seedgate_store::prelude::*;
use seedgate_store::{SqliteStore, TaskQuery};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MODEL: &str = "seedance-2.0-mini";
/// 480p × 4 s at $0.0475/s.
const PRICE: i64 = 190;
const CLIENT_CREDITS: i64 = 10_000;
const UPSTREAM_CREDITS: i64 = 10_000;
const KINDS: [&str; 7] = ["ark", "reapi", "hiapi", "apixo", "crun", "kie", "openai"];

/// The upstream's own id for the canonical model, in each dialect seedgate serves.
fn model_id(kind: &str) -> &'static str {
    match kind {
        "ark" => "dreamina-seedance-2-0-mini-260615",
        "reapi" | "hiapi" | "openai" => "seedance-2.0-mini",
        // In the path: /api/v1/generateTask/seedance-2-0-mini.
        "apixo" => "seedance-2-0-mini",
        // CRUN's names carry the mode; the provider swaps the suffix for the request's mode, so
        // an r2v name must still send a text-only request as t2v.
        "crun" => "bytedance/seedance2-0-mini-r2v",
        "kie" => "bytedance/seedance-2-mini",
        other => panic!("unknown kind {other}"),
    }
}

/// Where each dialect creates a task (fault rules match on it).
fn create_path(kind: &str) -> &'static str {
    match kind {
        "ark" => "/api/v3/contents/generations/tasks",
        "reapi" => "/api/v1/videos/generations",
        "hiapi" => "/v1/tasks",
        "apixo" => "/api/v1/generateTask/",
        "crun" => "/api/v1/client/job/CreateTask",
        "kie" => "/api/v1/jobs/createTask",
        "openai" => "/v1/videos",
        other => panic!("unknown kind {other}"),
    }
}

fn account(name: &str, kind: &str, base_url: &str, key: &str) -> ProviderSettings {
    ProviderSettings {
        name: name.into(),
        kind: kind.into(),
        base_url: Some(base_url.into()),
        api_key: Some(key.into()),
        models: BTreeMap::from([(MODEL.to_string(), model_id(kind).to_string())]),
        timeout_seconds: 5.0,
        connect_timeout_seconds: 2.0,
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The two gateways.

/// A seedgate serving every dialect with the local renderer, and a key on it for the front.
struct Upstream {
    app: TestApp,
    key: String,
}

async fn upstream(instant: bool) -> Upstream {
    let app = spawn_app_with(|s| s.local.instant = instant).await;
    let key = app.create_key("front service", UPSTREAM_CREDITS).await;
    Upstream { app, key }
}

impl Upstream {
    /// A second key on the same upstream (a second account).
    async fn another_key(&self, name: &str) -> String {
        self.app.create_key(name, UPSTREAM_CREDITS).await
    }

    async fn tasks(&self) -> Vec<Task> {
        tasks_of(&self.app, &self.key).await
    }

    async fn balance(&self) -> i64 {
        self.app.balance_of(&self.key).await
    }

    /// The upstream's only task as its own clients see it (reAPI), with its result URLs.
    async fn task_json(&self) -> Value {
        let tasks = self.tasks().await;
        assert_eq!(tasks.len(), 1, "exactly one task upstream");
        let r = self.app.get_task_as(&self.key, tasks[0].id.as_str()).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.expect("json")
    }

    /// The bytes of the upstream's video (or last frame), fetched as its clients fetch them.
    async fn result(&self, field: &str) -> Vec<u8> {
        let task = self.task_json().await;
        let url = match field {
            "video" => task["output"]["video_urls"][0].as_str(),
            _ => task["output"]["last_frame_url"].as_str(),
        }
        .unwrap_or_else(|| panic!("upstream {field}: {task}"))
        .to_string();
        download(&self.app.client, &url).await
    }
}

pub(crate) async fn tasks_of(app: &TestApp, key: &str) -> Vec<Task> {
    let record = app
        .store
        .find_credential(&auth::hash_key(key))
        .await
        .expect("lookup")
        .expect("key");
    app.store
        .list_tasks(
            &record.account.id,
            &TaskQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("list")
        .tasks
}

/// A seedgate whose accounts are `accounts`, tried in that order, polling fast and not asking
/// for callbacks unless `configure` says otherwise.
struct Front {
    app: TestApp,
    key: String,
}

async fn front(accounts: Vec<ProviderSettings>, configure: impl FnOnce(&mut Settings)) -> Front {
    let app = spawn_app_with(move |s| {
        crate::helpers::route_only_through(s, MODEL, accounts);
        s.upstream.poll_min_ms = 100;
        s.upstream.poll_max_ms = 500;
        s.upstream.callbacks = Some(false);
        s.upstream.rehost_backoff_ms = 100;
        configure(s);
    })
    .await;
    let key = app.create_key("client", CLIENT_CREDITS).await;
    Front { app, key }
}

impl Front {
    /// Submits a 480p, 4 s, 16:9 task through reAPI; returns its id.
    async fn submit(&self, prompt: &str) -> String {
        let before = self.balance().await;
        let body = json!({"model": MODEL, "prompt": prompt, "resolution": "480p",
                          "aspect_ratio": "16:9", "duration": 4});
        let r = self.app.submit_as(&self.key, &body).await;
        let status = r.status();
        let json: Value = r.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(self.balance().await, before - PRICE, "held at submit");
        json["id"].as_str().expect("id").to_string()
    }

    async fn wait(&self, id: &str) -> Value {
        wait_for_task(
            &self.app.client,
            &self.app.base,
            &self.key,
            id,
            Duration::from_secs(40),
        )
        .await
    }

    async fn balance(&self) -> i64 {
        self.app.balance_of(&self.key).await
    }

    async fn stored(&self, id: &str) -> Task {
        self.app
            .store
            .load_task(&TaskId::from_string(id))
            .await
            .expect("load")
            .expect("task")
    }

    /// The task's upstream callback URL, as the front hands it to upstreams.
    async fn callback_url(&self, id: &str) -> String {
        let secret = self
            .app
            .store
            .server_secret("upstream_callbacks", "x")
            .await
            .expect("secret");
        let token =
            seedgate_core::upstream::callback_token(secret.as_bytes(), &TaskId::from_string(id));
        self.app.url(&format!("/upstream/callbacks/{id}/{token}"))
    }

    /// Waits for `id` and checks it failed on its first attempt (a final failure: not retried,
    /// not resubmitted) with the client's hold refunded; returns the task as the client sees it.
    async fn assert_failed_for_good(&self, id: &str, why: &str) -> Value {
        let task = self.wait(id).await;
        assert_eq!(task["status"], "failed", "{why}: {task}");
        assert_eq!(
            self.stored(id).await.attempt,
            1,
            "{why}: final, not retried"
        );
        assert_eq!(self.balance().await, CLIENT_CREDITS, "{why}: refunded");
        self.assert_ledger_clean();
        task
    }

    fn assert_ledger_clean(&self) {
        let (code, out) = self.app.ledger_verify();
        assert_eq!(code, 0, "front ledger: {out}");
    }
}

/// Every file below `dir`, at any depth (none when it does not exist).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|entry| match entry.path() {
            path if path.is_dir() => files_under(&path),
            path => vec![path],
        })
        .collect()
}

async fn download(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let r = client.get(url).send().await.expect("download");
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    r.bytes().await.expect("bytes").to_vec()
}

/// Polls `condition` until it holds, failing after `within`.
async fn eventually<F, Fut>(what: &str, within: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// The upstream holds exactly one task, succeeded, charged once to the front's key; the front's
/// task completed with copies of the upstream's files at front URLs, charged once.
async fn assert_round_trip(
    front: &Front,
    upstream: &Upstream,
    video_url: &str,
    last_frame_url: Option<&str>,
) {
    let ups = upstream.tasks().await;
    assert_eq!(ups.len(), 1, "exactly one task upstream");
    let up = &ups[0];
    assert_eq!(up.status, TaskStatus::Succeeded);

    assert!(
        video_url.starts_with(&format!("{}/media/", front.app.base)),
        "a front URL, not the upstream's ({}): {video_url}",
        upstream.app.base
    );
    let video = download(&front.app.client, video_url).await;
    let info = seedgate_local_renderer::inspect(&video).expect("a valid MP4");
    let v = info.video.expect("video track");
    assert_eq!(
        (v.width, v.height),
        (864, 496),
        "480p 16:9 reached the upstream"
    );
    assert!(
        (info.duration_seconds - 4.0).abs() < 0.05,
        "4 s reached the upstream: {}",
        info.duration_seconds
    );
    assert!(
        video == upstream.result("video").await,
        "the front's copy is the upstream's file"
    );

    if let Some(url) = last_frame_url {
        assert!(
            url.starts_with(&format!("{}/media/", front.app.base)),
            "{url}"
        );
        let png = download(&front.app.client, url).await;
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
        assert!(
            png == upstream.result("last_frame").await,
            "the upstream's frame"
        );
    }

    assert_eq!(
        front.balance().await,
        CLIENT_CREDITS - PRICE,
        "front charged once"
    );
    assert_eq!(
        upstream.balance().await,
        UPSTREAM_CREDITS - PRICE,
        "the upstream charged the front's key once"
    );
    front.assert_ledger_clean();
    let (code, out) = upstream.app.ledger_verify();
    assert_eq!(code, 0, "upstream ledger: {out}");
}

// ---------------------------------------------------------------------------------------------
// A fault-injecting proxy.

#[derive(Clone)]
pub(crate) enum Fault {
    /// Answer this without asking the upstream.
    Answer {
        status: u16,
        retry_after: Option<u64>,
        body: Value,
    },
    /// Forward the request, then hold the upstream's answer this long (long enough, and the
    /// answer is lost: the caller times out).
    Delay(Duration),
    /// Forward the request, then answer the caller with this status instead of the upstream's
    /// answer: the work was done, the caller is told it failed (and retries).
    LoseAnswer(u16),
}

struct Rule {
    method: Method,
    path: String,
    left: usize,
    fault: Fault,
}

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    at: Instant,
    /// Answered by a rule without reaching the upstream.
    injected: Option<u16>,
}

struct ProxyState {
    target: String,
    http: reqwest::Client,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<Seen>>,
}

/// Forwards everything to `target`, except what its rules say; remembers every request.
pub(crate) struct FaultProxy {
    pub(crate) base: String,
    state: Arc<ProxyState>,
}

impl FaultProxy {
    pub(crate) async fn start(target: &str) -> Self {
        let state = Arc::new(ProxyState {
            target: target.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            rules: Mutex::default(),
            seen: Mutex::default(),
        });
        let router = axum::Router::new()
            .fallback(proxy)
            .with_state(state.clone());
        FaultProxy {
            base: serve(router).await,
            state,
        }
    }

    /// The next `times` requests of `method` whose path contains `path` meet `fault`.
    pub(crate) fn rule(&self, method: Method, path: &str, times: usize, fault: Fault) {
        self.state.rules.lock().expect("lock").push(Rule {
            method,
            path: path.to_string(),
            left: times,
            fault,
        });
    }

    /// Every rule dropped: from now on everything is forwarded.
    pub(crate) fn clear(&self) {
        self.state.rules.lock().expect("lock").clear();
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("lock").clone()
    }

    pub(crate) fn count(&self, method: Method, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.path.contains(path))
            .count()
    }
}

async fn proxy(
    axum::extract::State(state): axum::extract::State<Arc<ProxyState>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let fault = {
        let mut rules = state.rules.lock().expect("lock");
        rules
            .iter_mut()
            .find(|r| r.left > 0 && r.method == parts.method && path.contains(&r.path))
            .map(|r| {
                r.left -= 1;
                r.fault.clone()
            })
    };
    state.seen.lock().expect("lock").push(Seen {
        method: parts.method.clone(),
        path: path.clone(),
        at: Instant::now(),
        injected: match &fault {
            Some(Fault::Answer { status, .. }) => Some(*status),
            _ => None,
        },
    });
    if let Some(Fault::Answer {
        status,
        retry_after,
        body,
    }) = fault
    {
        let mut response = (
            StatusCode::from_u16(status).expect("status"),
            axum::Json(body),
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        return response;
    }
    let target = format!(
        "{}{}",
        state.target,
        parts
            .uri
            .path_and_query()
            .map_or(path.as_str(), |p| p.as_str())
    );
    let mut forward = state.http.request(parts.method.clone(), target).body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            forward = forward.header(name, value);
        }
    }
    // On its own task, so a caller that gives up cannot cancel the forward half-way: the
    // upstream always sees the whole request.
    let answer = tokio::spawn(async move {
        let r = forward.send().await?;
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await?;
        Ok::<_, reqwest::Error>((status, headers, bytes))
    })
    .await;
    if let Some(Fault::Delay(delay)) = fault {
        tokio::time::sleep(delay).await;
    }
    if let Some(Fault::LoseAnswer(status)) = fault {
        // The upstream has answered (the work is done); the caller hears only a failure.
        let _ = answer;
        return StatusCode::from_u16(status)
            .unwrap_or(StatusCode::BAD_GATEWAY)
            .into_response();
    }
    match answer {
        Ok(Ok((status, headers, bytes))) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            for (name, value) in &headers {
                if name != header::TRANSFER_ENCODING
                    && name != header::CONTENT_LENGTH
                    && name != header::CONNECTION
                {
                    response.headers_mut().append(name, value.clone());
                }
            }
            response
        }
        _ => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// Ark's error body.
fn ark_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// The OpenAI-style error envelope.
fn openai_error(kind: &str, code: &str, message: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

// ---------------------------------------------------------------------------------------------
// 1. Every dialect, round trip.

/// A front whose only account is `kind` at a fresh upstream.
async fn front_of(kind: &str) -> (Upstream, Front) {
    let upstream = upstream(false).await;
    let front = front(
        vec![account(
            &format!("{kind}-main"),
            kind,
            &upstream.app.base,
            &upstream.key,
        )],
        |_| {},
    )
    .await;
    (upstream, front)
}

async fn round_trip(kind: &str) {
    let (upstream, front) = front_of(kind).await;
    let id = front.submit(&format!("a lighthouse, via {kind}")).await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let url = task["output"]["video_urls"][0].as_str().expect("video url");
    assert_round_trip(&front, &upstream, url, None).await;
    assert_eq!(
        front.stored(&id).await.provider.as_deref(),
        Some(format!("{kind}-main").as_str())
    );
}

#[tokio::test]
async fn ark_round_trip() {
    round_trip("ark").await;
}

#[tokio::test]
async fn reapi_round_trip() {
    round_trip("reapi").await;
}

#[tokio::test]
async fn hiapi_round_trip() {
    round_trip("hiapi").await;
}

#[tokio::test]
async fn apixo_round_trip() {
    round_trip("apixo").await;
}

#[tokio::test]
async fn crun_round_trip() {
    round_trip("crun").await;
}

#[tokio::test]
async fn kie_round_trip() {
    round_trip("kie").await;
}

/// The last frame, asked for through the front's Ark API (reAPI's Mini shape has no such
/// field), made upstream and copied like the video.
async fn last_frame_round_trip(kind: &str) {
    let (upstream, front) = front_of(kind).await;
    last_frame_round_trip_at(kind, &upstream, &front).await;
}

/// A 480p 16:9 4 s task with its last frame, submitted to `front` through Ark, checked to have
/// made one task `upstream` whose files the front copied.
async fn last_frame_round_trip_at(kind: &str, upstream: &Upstream, front: &Front) {
    let tasks = front.app.url(create_path("ark"));
    let r = front
        .app
        .client
        .post(&tasks)
        .bearer_auth(&front.key)
        .json(&json!({"model": model_id("ark"),
                      "content": [{"type": "text", "text": format!("the last frame, via {kind}")}],
                      "resolution": "480p", "ratio": "16:9", "duration": 4,
                      "generate_audio": false, "return_last_frame": true}))
        .send()
        .await
        .expect("create");
    let status = r.status();
    let created: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let started = Instant::now();
    let task = loop {
        let task: Value = front
            .app
            .client
            .get(format!("{tasks}/{id}"))
            .bearer_auth(&front.key)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if task["status"] != "queued" && task["status"] != "running" {
            break task;
        }
        assert!(started.elapsed() < Duration::from_secs(40), "{task}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(task["status"], "succeeded", "{task}");
    let video = task["content"]["video_url"].as_str().expect("video_url");
    let frame = task["content"]["last_frame_url"]
        .as_str()
        .unwrap_or_else(|| panic!("last_frame_url: {task}"));
    assert_round_trip(front, upstream, video, Some(frame)).await;
    assert!(
        upstream.tasks().await[0].request.return_last_frame,
        "the upstream was asked for it"
    );
}

#[tokio::test]
async fn ark_round_trip_with_the_last_frame() {
    last_frame_round_trip("ark").await;
}

#[tokio::test]
async fn crun_round_trip_with_the_last_frame() {
    last_frame_round_trip("crun").await;
}

/// An OpenAI-style account (the upstream's `/v1/videos`) behind the fault proxy: the job is
/// created there, polled there, and its MP4 and thumbnail are downloaded from the account's own
/// `/v1/videos/{id}/content`, which answers only with the account's key.
#[tokio::test]
async fn openai_round_trip() {
    let (upstream, proxy, front) = through_a_proxy("openai", None, false).await;
    last_frame_round_trip_at("openai", &upstream, &front).await;
    let job = upstream.tasks().await[0].id.to_string();
    assert_eq!(proxy.count(Method::POST, "/v1/videos"), 1, "one create");
    assert!(proxy.count(Method::GET, &format!("/v1/videos/{job}")) >= 3);
    assert_eq!(
        proxy.count(Method::GET, &format!("/v1/videos/{job}/content")),
        2,
        "the video and its thumbnail, each copied once"
    );
    let id = tasks_of(&front.app, &front.key).await[0].id.to_string();
    let stored = front.stored(&id).await;
    assert_eq!(stored.provider.as_deref(), Some("openai-main"));
    assert_eq!(stored.attempt, 1);
    // What reached the upstream through its OpenAI-style create.
    let request = &upstream.tasks().await[0].request;
    assert_eq!(
        (
            request.resolution.as_str(),
            request.aspect_ratio.as_str(),
            request.duration_seconds,
            request.generate_audio
        ),
        ("480p", "16:9", 4, false)
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Faults.

/// Two accounts on one upstream, each behind its own proxy, tried in order.
struct TwoAccounts {
    upstream: Upstream,
    first: FaultProxy,
    first_key: String,
    second: FaultProxy,
    front: Front,
}

async fn two_accounts(kind: &str, first_base: Option<&str>) -> TwoAccounts {
    let upstream = upstream(true).await;
    let first_key = upstream.another_key("first account").await;
    let first = FaultProxy::start(&upstream.app.base).await;
    let second = FaultProxy::start(&upstream.app.base).await;
    let front = front(
        vec![
            account("first", kind, first_base.unwrap_or(&first.base), &first_key),
            account("second", kind, &second.base, &upstream.key),
        ],
        |_| {},
    )
    .await;
    TwoAccounts {
        upstream,
        first,
        first_key,
        second,
        front,
    }
}

/// Two accounts whose first answers every create with `status` (and `Retry-After`) and `body`.
async fn two_accounts_first_answering(
    kind: &str,
    status: u16,
    retry_after: Option<u64>,
    body: Value,
) -> TwoAccounts {
    let t = two_accounts(kind, None).await;
    t.first.rule(
        Method::POST,
        create_path(kind),
        usize::MAX,
        Fault::Answer {
            status,
            retry_after,
            body,
        },
    );
    t
}

impl TwoAccounts {
    /// Waits for `id` and checks it failed over: completed on `second`, nothing created
    /// through `first`, one upstream task, the client charged once.
    async fn assert_failed_over(&self, id: &str) {
        let task = self.front.wait(id).await;
        assert_eq!(task["status"], "completed", "{task}");
        assert_eq!(
            self.front.stored(id).await.provider.as_deref(),
            Some("second")
        );
        assert!(tasks_of(&self.upstream.app, &self.first_key)
            .await
            .is_empty());
        assert_eq!(self.upstream.tasks().await.len(), 1);
        assert_eq!(self.front.balance().await, CLIENT_CREDITS - PRICE);
        self.front.assert_ledger_clean();
    }
}

#[tokio::test]
async fn a_5xx_on_submit_fails_over_to_the_next_account() {
    let t =
        two_accounts_first_answering("ark", 500, None, ark_error("InternalServiceError", "boom"))
            .await;
    let id = t.front.submit("fail over").await;
    t.assert_failed_over(&id).await;
    assert_eq!(t.first.count(Method::POST, create_path("ark")), 1);
    assert!(
        t.first.seen().iter().all(|s| s.injected.is_some()),
        "nothing reached the upstream through the failing account"
    );
    assert_eq!(
        t.upstream.app.balance_of(&t.first_key).await,
        UPSTREAM_CREDITS
    );
    assert_eq!(t.upstream.balance().await, UPSTREAM_CREDITS - PRICE);
    assert_eq!(t.second.count(Method::POST, create_path("ark")), 1);
}

#[tokio::test]
async fn openai_a_5xx_on_submit_fails_over_to_the_next_account() {
    let t = two_accounts_first_answering(
        "openai",
        500,
        None,
        openai_error("server_error", "internal_error", "boom"),
    )
    .await;
    let id = t.front.submit("fail over, OpenAI-style").await;
    t.assert_failed_over(&id).await;
    assert_eq!(t.first.count(Method::POST, "/v1/videos"), 1);
    assert!(
        t.first.seen().iter().all(|s| s.injected.is_some()),
        "nothing reached the upstream through the failing account"
    );
    assert_eq!(
        t.upstream.app.balance_of(&t.first_key).await,
        UPSTREAM_CREDITS
    );
    assert_eq!(t.second.count(Method::POST, "/v1/videos"), 1);
    assert!(
        t.second.count(Method::GET, "/content") >= 1,
        "copied from the second"
    );
}

#[tokio::test]
async fn a_maintenance_envelope_under_http_200_fails_over_too() {
    // CRUN (like Kie) can answer HTTP 200 with an error code in the body: 455 is maintenance.
    let t = two_accounts_first_answering(
        "crun",
        200,
        None,
        json!({"code": 455, "message": "System maintenance", "data": null}),
    )
    .await;
    let id = t.front.submit("maintenance").await;
    t.assert_failed_over(&id).await;
    assert_eq!(t.first.count(Method::POST, create_path("crun")), 1);
}

#[tokio::test]
async fn an_account_whose_breaker_opened_is_passed_over() {
    let t = {
        let upstream = upstream(true).await;
        let first_key = upstream.another_key("first account").await;
        let first = FaultProxy::start(&upstream.app.base).await;
        let second = FaultProxy::start(&upstream.app.base).await;
        let front = front(
            vec![
                account("first", "ark", &first.base, &first_key),
                account("second", "ark", &second.base, &upstream.key),
            ],
            |s| {
                s.upstream.breaker_failures = 2;
                s.upstream.breaker_open_seconds = 60.0;
            },
        )
        .await;
        TwoAccounts {
            upstream,
            first,
            first_key,
            second,
            front,
        }
    };
    t.first.rule(
        Method::POST,
        create_path("ark"),
        usize::MAX,
        Fault::Answer {
            status: 503,
            retry_after: None,
            body: ark_error("ServiceUnavailable", "down for a while"),
        },
    );
    for n in 0..3 {
        let id = t.front.submit(&format!("task {n}")).await;
        let task = t.front.wait(&id).await;
        assert_eq!(task["status"], "completed", "{task}");
        assert_eq!(
            t.front.stored(&id).await.provider.as_deref(),
            Some("second")
        );
    }
    assert_eq!(
        t.first.count(Method::POST, create_path("ark")),
        2,
        "two failures in a row open the breaker: the third task does not try the account"
    );
    assert!(tasks_of(&t.upstream.app, &t.first_key).await.is_empty());
    assert_eq!(t.upstream.tasks().await.len(), 3);
    assert_eq!(t.front.balance().await, CLIENT_CREDITS - 3 * PRICE);
    assert_eq!(t.second.count(Method::POST, create_path("ark")), 3);
}

#[tokio::test]
async fn an_account_at_its_concurrency_cap_is_passed_over() {
    let upstream = upstream(true).await;
    let first_key = upstream.another_key("first account").await;
    let first = FaultProxy::start(&upstream.app.base).await;
    let mut capped = account("first", "ark", &first.base, &first_key);
    capped.max_concurrent = Some(1);
    let front = front(
        vec![
            capped,
            account("second", "ark", &upstream.app.base, &upstream.key),
        ],
        |_| {},
    )
    .await;
    let slow = front.submit("takes a while [[seedgate:delay:2000]]").await;
    eventually(
        "the first task at the capped account",
        Duration::from_secs(10),
        || async { first.count(Method::POST, create_path("ark")) == 1 },
    )
    .await;
    let quick = front.submit("while the first runs").await;
    let quick_task = front.wait(&quick).await;
    assert_eq!(quick_task["status"], "completed", "{quick_task}");
    let slow_task = front.wait(&slow).await;
    assert_eq!(slow_task["status"], "completed", "{slow_task}");
    assert_eq!(front.stored(&slow).await.provider.as_deref(), Some("first"));
    assert_eq!(
        front.stored(&quick).await.provider.as_deref(),
        Some("second"),
        "the first account was full"
    );
    assert_eq!(first.count(Method::POST, create_path("ark")), 1);
    assert_eq!(tasks_of(&upstream.app, &first_key).await.len(), 1);
    assert_eq!(upstream.tasks().await.len(), 1);
}

#[tokio::test]
async fn a_4xx_refusal_is_not_failed_over_and_the_client_is_refunded() {
    let t = two_accounts_first_answering(
        "ark",
        400,
        None,
        ark_error("InvalidParameter", "the prompt is refused here"),
    )
    .await;
    let id = t.front.submit("refused").await;
    let task = t.front.wait(&id).await;
    assert_eq!(task["status"], "failed", "{task}");
    assert!(task["output"].is_null(), "{task}");
    assert_eq!(
        t.first.count(Method::POST, create_path("ark")),
        1,
        "a refusal is final: not sent again"
    );
    assert!(
        t.second.seen().is_empty(),
        "the second account saw nothing: {:?}",
        t.second.seen()
    );
    assert!(t.upstream.tasks().await.is_empty());
    assert_eq!(t.front.balance().await, CLIENT_CREDITS, "refunded");
    t.front.assert_ledger_clean();
}

#[tokio::test]
async fn an_account_that_is_down_fails_over_to_the_next() {
    let down = format!("http://127.0.0.1:{}", free_port());
    let t = two_accounts("ark", Some(&down)).await;
    let id = t.front.submit("the first account is down").await;
    t.assert_failed_over(&id).await;
}

/// A front whose one Ark account reaches the upstream through a fault proxy, with the
/// account's request timeout set when given.
async fn ark_through_a_proxy(timeout_seconds: Option<f64>) -> (Upstream, FaultProxy, Front) {
    through_a_proxy("ark", timeout_seconds, true).await
}

/// A front whose one `kind` account (`<kind>-main`) reaches an upstream (rendering instantly
/// or for real) through a fault proxy, with the account's request timeout set when given.
async fn through_a_proxy(
    kind: &str,
    timeout_seconds: Option<f64>,
    instant: bool,
) -> (Upstream, FaultProxy, Front) {
    let upstream = upstream(instant).await;
    let proxy = FaultProxy::start(&upstream.app.base).await;
    let mut main = account(&format!("{kind}-main"), kind, &proxy.base, &upstream.key);
    if let Some(timeout) = timeout_seconds {
        main.timeout_seconds = timeout;
    }
    let front = front(vec![main], |_| {}).await;
    (upstream, proxy, front)
}

#[tokio::test]
async fn polls_answered_429_honour_retry_after_and_the_task_completes() {
    let (upstream, proxy, front) = ark_through_a_proxy(None).await;
    let status_path = format!("{}/", create_path("ark"));
    proxy.rule(
        Method::GET,
        &status_path,
        2,
        Fault::Answer {
            status: 429,
            retry_after: Some(1),
            body: ark_error("RateLimitExceeded.EndpointRPMExceeded", "slow down"),
        },
    );
    let id = front.submit("rate limited polls").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");

    let polls: Vec<Seen> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.method == Method::GET && s.path.contains(&status_path))
        .collect();
    assert!(polls.len() >= 3, "{polls:?}");
    assert_eq!(polls[0].injected, Some(429));
    assert_eq!(polls[1].injected, Some(429));
    assert_eq!(polls[2].injected, None);
    for pair in polls[..3].windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        // Without Retry-After the next poll would come after 100–150 ms.
        assert!(
            gap >= Duration::from_millis(950),
            "a poll came {gap:?} after a 429 with Retry-After: 1"
        );
    }
    assert_eq!(upstream.tasks().await.len(), 1);
    assert_eq!(front.balance().await, CLIENT_CREDITS - PRICE);
    front.assert_ledger_clean();
}

#[tokio::test]
async fn a_submit_whose_answer_is_lost_is_reconciled_not_duplicated() {
    let (upstream, proxy, front) = ark_through_a_proxy(Some(1.0)).await;
    // The create reaches the upstream, which makes the task; its answer never comes back in
    // time.
    proxy.rule(
        Method::POST,
        create_path("ark"),
        1,
        Fault::Delay(Duration::from_secs(4)),
    );
    let id = front.submit("the answer is lost").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert!(
        proxy.count(Method::POST, create_path("ark")) >= 2,
        "the submit was sent again to the same account"
    );
    let ups = upstream.tasks().await;
    assert_eq!(
        ups.len(),
        1,
        "the resend carried the same Idempotency-Key: no second task"
    );
    assert_eq!(upstream.balance().await, UPSTREAM_CREDITS - PRICE);
    assert_eq!(front.balance().await, CLIENT_CREDITS - PRICE);
    front.assert_ledger_clean();
}

/// A gateway's 502 to a create whose job was made: the front resends the same create with the
/// same Idempotency-Key to the same account, and seedgate's `/v1/videos` answers the replay
/// with the video it already has; no second job, no failover, one charge each side.
#[tokio::test]
async fn openai_a_create_whose_answer_is_lost_is_reconciled_not_duplicated() {
    let (upstream, proxy, front) = through_a_proxy("openai", None, true).await;
    proxy.rule(Method::POST, "/v1/videos", 1, Fault::LoseAnswer(502));
    let id = front.submit("the answer is lost, OpenAI-style").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(
        proxy.count(Method::POST, "/v1/videos"),
        2,
        "the create was sent once more, to the same account"
    );
    let ups = upstream.tasks().await;
    assert_eq!(ups.len(), 1, "the replay found the first job: no second");
    assert!(
        proxy.count(Method::GET, &format!("/v1/videos/{}", ups[0].id)) >= 1,
        "the front follows that job"
    );
    let stored = front.stored(&id).await;
    assert_eq!(stored.provider.as_deref(), Some("openai-main"));
    assert_eq!(stored.attempt, 1, "reconciled within the first attempt");
    assert_round_trip_files(&front, &upstream, &task).await;
    assert_eq!(upstream.balance().await, UPSTREAM_CREDITS - PRICE);
    assert_eq!(front.balance().await, CLIENT_CREDITS - PRICE);
    front.assert_ledger_clean();
}

/// What the OpenAI-style create body has no place for is refused at submit, in the client's
/// dialect, when that account is the route's only one.
#[tokio::test]
async fn openai_refuses_at_submit_what_its_create_cannot_carry() {
    let upstream = upstream(true).await;
    let front = front(
        vec![account(
            "openai-main",
            "openai",
            &upstream.app.base,
            &upstream.key,
        )],
        |_| {},
    )
    .await;
    for (body, word) in [
        (
            json!({"model": MODEL, "prompt": "with sound", "generate_audio": true}),
            "audio",
        ),
        (
            json!({"model": MODEL, "prompt": "today's news", "web_search": true}),
            "web search",
        ),
        (
            json!({"model": MODEL, "prompt": "from here to there",
                   "first_frame_url": "https://example.com/first.png",
                   "last_frame_url": "https://example.com/last.png"}),
            "last frame",
        ),
    ] {
        let message = assert_error(
            front.app.submit_as(&front.key, &body).await,
            StatusCode::BAD_REQUEST,
            20003,
        )
        .await;
        assert!(message.contains(word), "{word}: {message}");
    }
    assert_eq!(front.balance().await, CLIENT_CREDITS, "nothing held");
    assert!(tasks_of(&front.app, &front.key).await.is_empty());
    assert!(upstream.tasks().await.is_empty());
}

#[tokio::test]
async fn slow_answers_are_waited_for_and_a_poll_that_times_out_is_asked_again() {
    let (upstream, proxy, front) = ark_through_a_proxy(Some(1.0)).await;
    // A slow create, answered within the 1 s timeout: no reason to send it again.
    proxy.rule(
        Method::POST,
        create_path("ark"),
        1,
        Fault::Delay(Duration::from_millis(500)),
    );
    // The first poll's answer is swallowed past the timeout.
    let status_path = format!("{}/", create_path("ark"));
    proxy.rule(
        Method::GET,
        &status_path,
        1,
        Fault::Delay(Duration::from_secs(4)),
    );
    let id = front.submit("slow answers [[seedgate:delay:300]]").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(
        proxy.count(Method::POST, create_path("ark")),
        1,
        "a slow answer is not a lost one"
    );
    assert!(
        proxy.count(Method::GET, &status_path) >= 2,
        "the timed-out poll was asked again"
    );
    assert_eq!(upstream.tasks().await.len(), 1);
    assert_eq!(
        front.stored(&id).await.attempt,
        1,
        "a poll timeout costs no attempt"
    );
    assert_eq!(front.balance().await, CLIENT_CREDITS - PRICE);
    front.assert_ledger_clean();
}

/// An upstream whose result URLs (its `public_base_url`) go through a proxy, and a front
/// that copies results up to three times, 100 ms apart.
async fn upstream_behind_a_proxy() -> (Upstream, FaultProxy, Front) {
    upstream_behind_a_proxy_with(|_| {}).await
}

/// An upstream behind a fault proxy, and a front (configured further by `configure`) whose one
/// account reaches it through the proxy.
async fn upstream_behind_a_proxy_with(
    configure: impl FnOnce(&mut Settings),
) -> (Upstream, FaultProxy, Front) {
    let port = free_port();
    let proxy = FaultProxy::start(&format!("http://127.0.0.1:{port}")).await;
    let public = proxy.base.clone();
    let app = spawn_app_with(move |s| {
        s.listen = format!("127.0.0.1:{port}");
        s.public_base_url = Some(public);
        s.local.instant = true;
    })
    .await;
    let key = app.create_key("front service", UPSTREAM_CREDITS).await;
    let upstream = Upstream { app, key };
    let front = front(
        vec![account("ark-main", "ark", &proxy.base, &upstream.key)],
        |s| {
            s.upstream.rehost_attempts = 3;
            s.upstream.rehost_backoff_ms = 100;
            configure(s);
        },
    )
    .await;
    (upstream, proxy, front)
}

#[tokio::test]
async fn a_failed_result_copy_is_retried() {
    let (upstream, proxy, front) = upstream_behind_a_proxy().await;
    proxy.rule(
        Method::GET,
        "/media/",
        2,
        Fault::Answer {
            status: 502,
            retry_after: None,
            body: json!({}),
        },
    );
    let id = front.submit("copied on the third try").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(proxy.count(Method::GET, "/media/"), 3);
    let url = task["output"]["video_urls"][0].as_str().expect("url");
    assert!(
        url.starts_with(&format!("{}/media/", front.app.base)),
        "{url}"
    );
    let video = download(&front.app.client, url).await;
    assert!(video == upstream.result("video").await);
    assert_eq!(front.balance().await, CLIENT_CREDITS - PRICE);
    front.assert_ledger_clean();
}

#[tokio::test]
async fn a_result_url_that_goes_silent_is_given_up_on_and_asked_again() {
    let (upstream, proxy, front) =
        upstream_behind_a_proxy_with(|s| s.fetch.stall_timeout_seconds = 1).await;
    proxy.rule(
        Method::GET,
        "/media/",
        1,
        Fault::Delay(Duration::from_secs(4)),
    );
    let started = Instant::now();
    let id = front.submit("a slow CDN").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(proxy.count(Method::GET, "/media/"), 2, "asked again");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the silent try was given up after the 1 s stall timeout: {:?}",
        started.elapsed()
    );
    let url = task["output"]["video_urls"][0].as_str().expect("url");
    assert!(download(&front.app.client, url).await == upstream.result("video").await);
}

#[tokio::test]
async fn a_result_that_cannot_be_copied_fails_the_task_with_a_refund() {
    let (upstream, proxy, front) = upstream_behind_a_proxy().await;
    proxy.rule(
        Method::GET,
        "/media/",
        usize::MAX,
        Fault::Answer {
            status: 404,
            retry_after: None,
            body: json!({}),
        },
    );
    let id = front.submit("the result is gone").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(proxy.count(Method::GET, "/media/"), 3, "three tries");
    assert_eq!(front.balance().await, CLIENT_CREDITS, "refunded");
    assert_eq!(
        upstream.tasks().await.len(),
        1,
        "not resubmitted to make another copy"
    );
    front.assert_ledger_clean();
}

#[tokio::test]
async fn production_copies_results_from_private_addresses_only_where_allowed() {
    // Production with upstream accounts needs a public base URL: here, the port it listens on.
    fn reachable_at_a_free_port(s: &mut Settings) {
        let port = free_port();
        s.listen = format!("127.0.0.1:{port}");
        s.public_base_url = Some(format!("http://127.0.0.1:{port}"));
    }
    // The upstream serves its results from loopback, as an internal reseller would from a
    // private network: production fetches nothing private unless `fetch.allow_private` says so.
    let (_upstream, proxy, front) = upstream_behind_a_proxy_with(|s| {
        s.mode = RunMode::Production;
        reachable_at_a_free_port(s);
    })
    .await;
    let id = front.submit("served from a private address").await;
    front.assert_failed_for_good(&id, "a refused URL").await;
    assert_eq!(
        proxy.count(Method::GET, "/media/"),
        0,
        "the private address was never asked"
    );

    let (upstream, proxy, front) = upstream_behind_a_proxy_with(|s| {
        s.mode = RunMode::Production;
        reachable_at_a_free_port(s);
        s.fetch.allow_private = Some(vec!["127.0.0.0/8".into()]);
    })
    .await;
    let id = front.submit("allowed by the operator").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(proxy.count(Method::GET, "/media/"), 1);
    let url = task["output"]["video_urls"][0].as_str().expect("url");
    assert!(download(&front.app.client, url).await == upstream.result("video").await);
}

#[tokio::test]
async fn a_result_over_the_size_limit_fails_at_once_with_a_refund() {
    let (upstream, proxy, front) =
        upstream_behind_a_proxy_with(|s| s.upstream.rehost_max_bytes = 1_000).await;
    let id = front.submit("too large to keep").await;
    front
        .assert_failed_for_good(&id, "a result over the limit")
        .await;
    assert_eq!(
        proxy.count(Method::GET, "/media/"),
        1,
        "a file over the limit is not asked for again"
    );
    assert_eq!(upstream.tasks().await.len(), 1);
    let kept = files_under(&front.app.data_dir.path().join("media/tasks").join(&id));
    assert!(kept.is_empty(), "no partial copy is kept: {kept:?}");
}

#[tokio::test]
async fn an_upstream_task_that_expires_fails_the_front_task_and_refunds_once() {
    let upstream = upstream(true).await;
    let front = front(
        vec![account(
            "ark-main",
            "ark",
            &upstream.app.base,
            &upstream.key,
        )],
        |_| {},
    )
    .await;
    let id = front.submit("too late [[seedgate:fail:expired]]").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(task["error"]["code"], 80005, "reAPI's expired code: {task}");
    let stored = front.stored(&id).await;
    assert_eq!(
        stored.error.as_ref().map(|e| e.kind),
        Some(seedgate_core::task::FailureKind::Expired)
    );
    assert_eq!(
        stored.attempt, 1,
        "expired is terminal: not retried, not resubmitted"
    );
    let ups = upstream.tasks().await;
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].status, TaskStatus::Failed);
    assert_eq!(front.balance().await, CLIENT_CREDITS, "refunded");
    assert_eq!(
        upstream.balance().await,
        UPSTREAM_CREDITS,
        "refunded upstream too"
    );
    front.assert_ledger_clean();
}

#[tokio::test]
async fn a_task_past_its_deadline_fails_is_refunded_and_cancelled_upstream() {
    let (upstream, proxy, front) =
        upstream_behind_a_proxy_with(|s| s.upstream.deadline_seconds = 2).await;
    let started = Instant::now();
    let id = front.submit("slow [[seedgate:delay:8000]]").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(task["error"]["code"], 80004, "reAPI's timeout code: {task}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "failed at the 2 s deadline, not when the upstream finished: {:?}",
        started.elapsed()
    );
    let upstream_tasks = upstream.tasks().await;
    assert_eq!(upstream_tasks.len(), 1);
    let job = upstream_tasks[0].id.as_str();
    assert_eq!(
        proxy.count(Method::DELETE, &format!("/tasks/{job}")),
        1,
        "the upstream job is cancelled at the deadline (best effort): {:?}",
        proxy.seen()
    );
    assert_eq!(front.balance().await, CLIENT_CREDITS, "refunded");
    front.assert_ledger_clean();
}

#[tokio::test]
async fn an_upstream_task_cancelled_upstream_fails_the_front_task_with_a_refund() {
    let (upstream, proxy, front) = upstream_behind_a_proxy().await;
    // Someone with the upstream account's key cancels the job there.
    proxy.rule(
        Method::GET,
        "/contents/generations/tasks/",
        usize::MAX,
        Fault::Answer {
            status: 200,
            retry_after: None,
            body: json!({"id": "cgt-cancelled", "model": model_id("ark"), "status": "cancelled"}),
        },
    );
    let id = front.submit("cancelled behind our back").await;
    front
        .assert_failed_for_good(&id, "cancelled is terminal")
        .await;
    assert_eq!(upstream.tasks().await.len(), 1);
}

#[tokio::test]
async fn a_429_on_submit_fails_over_to_the_next_account() {
    let t = two_accounts_first_answering(
        "ark",
        429,
        Some(30),
        ark_error("RateLimitExceeded.EndpointRPMExceeded", "slow down"),
    )
    .await;
    let started = Instant::now();
    let id = t.front.submit("the first account is rate limited").await;
    t.assert_failed_over(&id).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "failed over at once, not after the first account's Retry-After"
    );
    assert_eq!(t.first.count(Method::POST, create_path("ark")), 1);
}

#[tokio::test]
async fn what_no_account_can_carry_is_refused_at_submit_and_the_rest_routes_around_it() {
    // HiAPI has no web search and needs a prompt; Ark has web search.
    let (upstream, ark_key, front) =
        accounts_on_one_upstream(("hiapi-main", "hiapi"), ("ark-main", "ark"), |_| {}).await;
    let searching = json!({"model": MODEL, "prompt": "today's weather", "resolution": "480p",
                           "aspect_ratio": "16:9", "duration": 4, "web_search": true});
    // Both accounts serve the model: the task goes to the one that can search.
    let id = front
        .app
        .submit_as(&front.key, &searching)
        .await
        .json::<Value>()
        .await
        .expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(front.wait(&id).await["status"], "completed");
    assert_eq!(
        front.stored(&id).await.provider.as_deref(),
        Some("ark-main"),
        "passed over hiapi-main, which cannot search"
    );

    // Only HiAPI on the route: refused in reAPI's own code before anything is held or sent.
    let front = front_with_only_hiapi(&upstream).await;
    let before = front.balance().await;
    let message = assert_error(
        front.app.submit_as(&front.key, &searching).await,
        StatusCode::BAD_REQUEST,
        20003,
    )
    .await;
    assert!(message.contains("web search"), "{message}");
    let no_prompt = json!({"model": MODEL, "first_frame_url": "https://example.com/first.png"});
    let message = assert_error(
        front.app.submit_as(&front.key, &no_prompt).await,
        StatusCode::BAD_REQUEST,
        20003,
    )
    .await;
    assert!(message.contains("prompt"), "{message}");
    assert_eq!(front.balance().await, before, "nothing held");
    assert!(
        tasks_of(&front.app, &front.key).await.is_empty(),
        "no task stored"
    );
    assert_eq!(
        tasks_of(&upstream.app, &ark_key).await.len() + upstream.tasks().await.len(),
        1,
        "only the first task reached the upstream"
    );
}

/// Two accounts, each `(name, kind)`, straight on one upstream: the first with the upstream's
/// main key, the second with a key of its own (returned).
async fn accounts_on_one_upstream(
    first: (&str, &str),
    second: (&str, &str),
    configure: impl FnOnce(&mut Settings),
) -> (Upstream, String, Front) {
    let upstream = upstream(true).await;
    let second_key = upstream.another_key("second account").await;
    let front = front(
        vec![
            account(first.0, first.1, &upstream.app.base, &upstream.key),
            account(second.0, second.1, &upstream.app.base, &second_key),
        ],
        configure,
    )
    .await;
    (upstream, second_key, front)
}

/// A front whose only account for the model is HiAPI.
async fn front_with_only_hiapi(upstream: &Upstream) -> Front {
    let key = upstream.another_key("hiapi only").await;
    front(
        vec![account("hiapi-main", "hiapi", &upstream.app.base, &key)],
        |_| {},
    )
    .await
}

#[tokio::test]
async fn the_weighted_strategy_spreads_tasks_over_its_accounts() {
    let (upstream, second_key, front) =
        accounts_on_one_upstream(("first", "ark"), ("second", "ark"), |s| {
            if let Some(route) = s.routing.get_mut(MODEL) {
                route.strategy = RoutingStrategy::Weighted;
            }
        })
        .await;
    // Equal weights: priority order would send all 24 to `first`; weighted leaves `second`
    // none with odds of 2 in 2^24.
    const TASKS: usize = 24;
    let mut ids = Vec::with_capacity(TASKS);
    for n in 0..TASKS {
        ids.push(front.submit(&format!("spread {n}")).await);
    }
    for id in &ids {
        assert_eq!(front.wait(id).await["status"], "completed");
    }
    let first = upstream.tasks().await.len();
    let second = tasks_of(&upstream.app, &second_key).await.len();
    assert_eq!(first + second, TASKS, "each task created upstream once");
    assert!(first > 0 && second > 0, "first {first}, second {second}");
    assert_eq!(front.balance().await, CLIENT_CREDITS - PRICE * TASKS as i64);
    front.assert_ledger_clean();
}

// ---------------------------------------------------------------------------------------------
// Upstream callbacks.

/// Callbacks on, polling so slow (20 s) that only a callback can finish the task in time.
async fn callback_front(kind: &str, base_url: &str, upstream: &Upstream) -> Front {
    front(vec![account("main", kind, base_url, &upstream.key)], |s| {
        s.upstream.callbacks = Some(true);
        s.upstream.poll_min_ms = 20_000;
        s.upstream.poll_max_ms = 20_000;
    })
    .await
}

async fn callbacks_nudge_the_front(kind: &str) {
    let upstream = upstream(true).await;
    let front = callback_front(kind, &upstream.app.base, &upstream).await;
    let started = Instant::now();
    let id = front.submit("called back [[seedgate:delay:1000]]").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "finished by the callback, not the 20 s poll: {:?}",
        started.elapsed()
    );
    let up = &upstream.tasks().await[0];
    let front_done = front.stored(&id).await.finished_at_ms.expect("finished");
    let up_done = up.finished_at_ms.expect("finished upstream");
    assert!(
        front_done - up_done < 2000,
        "completed {} ms after the upstream finished",
        front_done - up_done
    );
    assert_eq!(front.balance().await, CLIENT_CREDITS - PRICE);
}

#[tokio::test]
async fn ark_callbacks_nudge_the_front() {
    callbacks_nudge_the_front("ark").await;
}

#[tokio::test]
async fn hiapi_callbacks_nudge_the_front() {
    callbacks_nudge_the_front("hiapi").await;
}

#[tokio::test]
async fn apixo_callbacks_nudge_the_front() {
    callbacks_nudge_the_front("apixo").await;
}

#[tokio::test]
async fn crun_callbacks_nudge_the_front() {
    callbacks_nudge_the_front("crun").await;
}

#[tokio::test]
async fn kie_callbacks_nudge_the_front() {
    callbacks_nudge_the_front("kie").await;
}

/// An upstream that finishes, and calls back, before its answer to the create has reached the
/// front (an instant one, or a slow network): the callback is kept, and the front polls the job
/// as soon as it knows its id instead of 20 s later.
#[tokio::test]
async fn a_callback_that_comes_before_the_create_answer_is_not_lost() {
    let upstream = upstream(true).await;
    let proxy = FaultProxy::start(&upstream.app.base).await;
    let held = Duration::from_millis(1500);
    proxy.rule(Method::POST, create_path("ark"), 1, Fault::Delay(held));
    let front = callback_front("ark", &proxy.base, &upstream).await;
    let started = Instant::now();
    let submitted_ms = seedgate_core::clock::now_ms();
    let id = front.submit("early news").await;
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let up = &upstream.tasks().await[0];
    let up_done = up.finished_at_ms.expect("finished upstream");
    assert!(
        up_done - submitted_ms < held.as_millis() as i64,
        "the upstream finished {} ms after the submit, not while its answer was held",
        up_done - submitted_ms
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "finished by the early callback, not the 20 s poll: {:?}",
        started.elapsed()
    );
    assert_eq!(front.balance().await, CLIENT_CREDITS - PRICE);
    front.assert_ledger_clean();
}

#[tokio::test]
async fn forged_and_duplicate_callbacks_change_nothing_and_money_moves_once() {
    // A server a forger would like the front to fetch "the result" from.
    let evil_hits = Arc::new(AtomicUsize::new(0));
    let evil = {
        let hits = evil_hits.clone();
        serve(axum::Router::new().fallback(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async { "not the video" }
        }))
        .await
    };
    let upstream = upstream(true).await;
    let proxy = FaultProxy::start(&upstream.app.base).await;
    let front = callback_front("ark", &proxy.base, &upstream).await;
    let id = front.submit("forge me [[seedgate:delay:3000]]").await;
    // Wait until the upstream runs it and the front follows it.
    eventually("the upstream job", Duration::from_secs(10), || async {
        upstream.tasks().await.len() == 1
    })
    .await;
    let job_id = upstream.tasks().await[0].id.as_str().to_string();
    let url = front.callback_url(&id).await;
    let client = &front.app.client;
    let post = |url: String, body: Value| async move {
        client
            .post(url)
            .json(&body)
            .send()
            .await
            .expect("callback")
            .status()
    };
    let forged = json!({"id": job_id, "model": model_id("ark"), "status": "succeeded",
                        "content": {"video_url": format!("{evil}/video.mp4")}});
    let status_path = format!("{}/", create_path("ark"));
    // The upstream's own status callbacks (queued, running) reach the front at once and each
    // makes it re-read the task: let those settle before counting.
    let reads = || proxy.count(Method::GET, &status_path);
    let mut settled = reads();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if reads() == settled {
            break;
        }
        settled = reads();
    }

    // Wrong tokens: another task's, a made-up one, a malformed one.
    let other = front.callback_url("task_01J00000000000000000000000").await;
    let other_token = other.rsplit('/').next().expect("token");
    for wrong in [
        other_token.to_string(),
        "0".repeat(32),
        "not-a-token".to_string(),
    ] {
        let status = post(
            front.app.url(&format!("/upstream/callbacks/{id}/{wrong}")),
            forged.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "token {wrong}");
    }
    assert_eq!(
        post(other.clone(), forged.clone()).await,
        StatusCode::NOT_FOUND,
        "an unknown task"
    );
    assert_eq!(
        reads(),
        settled,
        "a wrong URL does not even make the front ask the upstream"
    );

    // The right URL with a forged body: accepted (an upstream must see 2xx), but all it does
    // is make the front re-read the task upstream (polls are 20 s apart, so any poll now is
    // that re-read), where the task is still running.
    for _ in 0..3 {
        assert_eq!(post(url.clone(), forged.clone()).await, StatusCode::OK);
    }
    eventually("the re-read", Duration::from_secs(5), || async {
        reads() > settled
    })
    .await;
    let r = front.app.get_task_as(&front.key, &id).await;
    let now: Value = r.json().await.expect("json");
    assert_eq!(
        now["status"], "processing",
        "a forged success changes nothing: {now}"
    );
    assert_eq!(evil_hits.load(Ordering::SeqCst), 0);

    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let url_before = task["output"]["video_urls"][0].clone();

    // Duplicates after the fact: the real body (Ark's callback is the task object) replayed,
    // and the forged one again.
    let real: Value = front
        .app
        .client
        .get(
            upstream
                .app
                .url(&format!("{}/{job_id}", create_path("ark"))),
        )
        .bearer_auth(&upstream.key)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(real["status"], "succeeded", "{real}");
    for body in [real.clone(), real, forged.clone(), forged] {
        let status = post(url.clone(), body).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::NOT_FOUND,
            "{status}"
        );
    }
    let after = front.wait(&id).await;
    assert_eq!(after["status"], "completed");
    assert_eq!(after["output"]["video_urls"][0], url_before);
    assert_eq!(
        evil_hits.load(Ordering::SeqCst),
        0,
        "nobody fetched the forged URL"
    );
    assert_round_trip_files(&front, &upstream, &after).await;
    assert_eq!(
        front.balance().await,
        CLIENT_CREDITS - PRICE,
        "money moved once"
    );
    assert_eq!(upstream.balance().await, UPSTREAM_CREDITS - PRICE);
    front.assert_ledger_clean();
}

/// The front's video is the upstream's.
async fn assert_round_trip_files(front: &Front, upstream: &Upstream, task: &Value) {
    let url = task["output"]["video_urls"][0].as_str().expect("url");
    assert!(url.starts_with(&front.app.base), "{url}");
    let video = download(&front.app.client, url).await;
    seedgate_local_renderer::inspect(&video).expect("a valid MP4");
    assert!(
        video == upstream.result("video").await,
        "the upstream's video"
    );
}

// ---------------------------------------------------------------------------------------------
// The real binary: SIGKILL mid-task, and `providers check`.

fn provider_toml(name: &str, kind: &str, base: &str, key: &str, model: &str) -> String {
    format!(
        "[[providers]]\nname = \"{name}\"\nkind = \"{kind}\"\nbase_url = \"{base}\"\n\
         api_key = \"{key}\"\nmodels = {{ \"{MODEL}\" = \"{model}\" }}\ntimeout_seconds = 5.0\n\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_killed_mid_task_resumes_the_upstream_job_after_restart() {
    let upstream = upstream(true).await;
    let proxy = FaultProxy::start(&upstream.app.base).await;
    let Setup {
        _dir,
        data,
        config,
        port,
        base,
        client,
    } = setup(&format!(
        "[worker]\nlease_seconds = 2.0\nidle_poll_ms = 100\n\n\
         [upstream]\npoll_min_ms = 200\npoll_max_ms = 400\ncallbacks = false\n\n{}\
         [routing.\"{MODEL}\"]\nstrategy = \"priority\"\nproviders = [\"ark-main\"]\n",
        provider_toml(
            "ark-main",
            "ark",
            &proxy.base,
            &upstream.key,
            model_id("ark")
        )
    ));
    let (server, key) = start(&config, &data, port);
    let key = key.expect("development key");
    let r = client
        .post(format!("{base}/api/v1/videos/generations"))
        .bearer_auth(&key)
        .json(
            &json!({"model": MODEL, "prompt": "survive [[seedgate:delay:3000]]",
                      "resolution": "480p", "duration": 4}),
        )
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Once the front polls, it has recorded the upstream job: kill it there.
    let status_path = format!("{}/", create_path("ark"));
    eventually("the first poll", Duration::from_secs(15), || async {
        proxy.count(Method::GET, &status_path) >= 1
    })
    .await;
    drop(server);
    let polls_before = proxy.count(Method::GET, &status_path);
    assert_eq!(upstream.tasks().await.len(), 1);

    let (_server, _) = start(&config, &data, port);
    let task = wait_for_task(&client, &base, &key, &id, Duration::from_secs(30)).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(
        upstream.tasks().await.len(),
        1,
        "resumed, not resubmitted: one task upstream"
    );
    assert_eq!(
        proxy.count(Method::POST, create_path("ark")),
        1,
        "one create, ever"
    );
    assert!(
        proxy.count(Method::GET, &status_path) > polls_before,
        "the restarted front polled the same job"
    );
    assert_eq!(upstream.balance().await, UPSTREAM_CREDITS - PRICE);

    let store = SqliteStore::open(&data.join("seedgate.db"))
        .await
        .expect("open db");
    let record = store
        .find_account("development")
        .await
        .expect("lookup")
        .expect("key");
    let stored = store
        .load_task(&TaskId::from_string(id.clone()))
        .await
        .expect("load")
        .expect("task");
    assert_eq!(stored.attempt, 2, "claimed again after the restart");
    assert_eq!(stored.provider.as_deref(), Some("ark-main"));
    assert_eq!(record.balance, 100_000 - PRICE, "charged once");
    let url = task["output"]["video_urls"][0].as_str().expect("url");
    assert!(url.starts_with(&format!("{base}/media/")), "{url}");
    let video = download(&client, url).await;
    assert!(
        video == upstream.result("video").await,
        "the upstream's video"
    );
    assert_eq!(crate::helpers::ledger_verify(&data).0, 0);
}

/// Runs `seedgate providers check` with `config_toml`; returns (exit code, stdout).
async fn providers_check(config_toml: &str) -> (i32, String) {
    let s = setup(config_toml);
    let config = s.config.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_seedgate"))
            .args(["providers", "check", "--config"])
            .arg(&config)
            .env_remove("SEEDGATE_CONFIG")
            .env_remove("SEEDGATE_DATABASE_URL")
            .output()
            .expect("run seedgate")
    })
    .await
    .expect("join");
    drop(s);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_check_reports_each_account() {
    let upstream = upstream(true).await;
    let base = &upstream.app.base;
    let all = |key: &str, model: &dyn Fn(&str) -> String| {
        KINDS
            .iter()
            .map(|kind| provider_toml(kind, kind, base, key, &model(kind)))
            .collect::<String>()
    };

    let (code, out) = providers_check(&all(&upstream.key, &|k| model_id(k).into())).await;
    assert_eq!(code, 0, "{out}");
    for kind in KINDS {
        assert!(
            out.contains(&format!("{kind} ({kind}, {base}): ok")),
            "{kind}: {out}"
        );
        assert!(out.contains(&format!("  {MODEL}: ok")), "{out}");
    }

    let (code, out) =
        providers_check(&all("sg_live_not_a_real_key", &|k| model_id(k).into())).await;
    assert_eq!(code, 1, "{out}");
    for kind in KINDS {
        assert!(
            out.contains(&format!(
                "{kind} ({kind}, {base}): FAILED: credentials refused"
            )),
            "{kind}: {out}"
        );
    }

    let unknown = |kind: &str| match kind {
        "crun" => "bytedance/seedance9-9-nothing-t2v".to_string(),
        "kie" => "bytedance/seedance-9-nothing".to_string(),
        _ => "seedance-9-9-nothing".to_string(),
    };
    let (code, out) = providers_check(&all(&upstream.key, &unknown)).await;
    assert_eq!(code, 1, "{out}");
    for kind in KINDS {
        let section = out
            .split(&format!("{kind} ({kind}, "))
            .nth(1)
            .unwrap_or_else(|| panic!("{kind} reported: {out}"));
        let line = section.lines().nth(1).expect("model line");
        assert!(
            line.contains("model not available"),
            "{kind}: {line}\n{out}"
        );
    }

    // Nothing was created or charged by any check.
    assert!(upstream.tasks().await.is_empty());
    assert_eq!(upstream.balance().await, UPSTREAM_CREDITS);
}

// ---------------------------------------------------------------------------------------------
// What the upstream is sent, and when a task may be cancelled.

#[tokio::test]
async fn the_upstream_gets_the_bytes_that_were_priced_not_the_clients_url() {
    let upstream = upstream(true).await;
    let front = front(
        vec![account(
            "reapi-main",
            "reapi",
            &upstream.app.base,
            &upstream.key,
        )],
        |_| {},
    )
    .await;
    let media = crate::media_server::MediaServer::start().await;
    // The client's server hands the probe a 2 s clip...
    media.set_mutable(crate::media_server::make_video_of(640, 640, 24, 2));
    let body = json!({"model": MODEL, "prompt": "a dancer", "resolution": "480p", "duration": 4,
                      "reference_video_urls": [media.mutable_url()]});
    let r = front.app.submit_as(&front.key, &body).await;
    let status = r.status();
    let created: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let charged = CLIENT_CREDITS - front.balance().await;
    // ...and anyone who fetches it later a 15 s one.
    media.set_mutable(crate::media_server::make_video_of(640, 640, 24, 15));

    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(
        media.hits("/mutable.mp4"),
        1,
        "the client's URL was fetched once, by the front's probe; never by the upstream"
    );
    let ups = upstream.tasks().await;
    assert_eq!(ups.len(), 1);
    let sent = ups[0].request.reference_video_urls[0].as_str().to_string();
    assert!(
        sent.starts_with(&format!("{}/media/refs/", front.app.base)),
        "the upstream was sent the front's copy: {sent}"
    );
    assert_eq!(
        UPSTREAM_CREDITS - upstream.balance().await,
        charged,
        "the upstream priced the same 2 s clip the front charged for"
    );
    front.assert_ledger_clean();
}

#[tokio::test]
async fn a_task_whose_upstream_submit_is_unknown_is_not_cancelled_or_refunded() {
    let upstream = upstream(true).await;
    let proxy = FaultProxy::start(&upstream.app.base).await;
    let mut ark = account("ark-main", "ark", &proxy.base, &upstream.key);
    ark.timeout_seconds = 1.0;
    let front = front(vec![ark], |s| {
        s.worker.max_attempts = 20;
        s.upstream.reconcile_tries = 2;
        s.upstream.reconcile_backoff_ms = 200;
        // Long enough between reconciliations to see the task back in the queue.
        s.worker.retry_base_ms = 3_000;
    })
    .await;
    // Every create reaches the upstream, which makes the task; no answer comes back in time.
    proxy.rule(
        Method::POST,
        create_path("ark"),
        1_000,
        Fault::Delay(Duration::from_secs(3)),
    );
    let id = front.submit("the answer is lost, again and again").await;
    let cancel = || async {
        front
            .app
            .client
            .delete(
                front
                    .app
                    .url(&format!("/api/v3/contents/generations/tasks/{id}")),
            )
            .bearer_auth(&front.key)
            .send()
            .await
            .expect("delete")
    };
    // A task no worker has claimed yet is still cancellable, rightly: wait for the first claim
    // (its create is then sent, and its answer lost).
    let claimed_by = Instant::now() + Duration::from_secs(10);
    while front.stored(&id).await.attempt == 0 {
        assert!(Instant::now() < claimed_by, "the task was never claimed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Until the upstream answers, the task is in flight whatever its state: running, or back in
    // the queue between reconciliations. Cancelling is refused and the hold stays.
    let mut saw_requeued = false;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(40) && !saw_requeued {
        let stored = front.stored(&id).await;
        saw_requeued = stored.status == TaskStatus::Queued && stored.attempt >= 1;
        let r = cancel().await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "cancel while the upstream job is unknown ({:?})",
            stored.status
        );
        assert_eq!(
            front.balance().await,
            CLIENT_CREDITS - PRICE,
            "the hold stays"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        saw_requeued,
        "the task went back to the queue with its submit unknown"
    );
    // The upstream answers again: the same job is found, and charged once on both sides.
    proxy.state.rules.lock().expect("lock").clear();
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(upstream.tasks().await.len(), 1, "one job upstream");
    assert_eq!(front.balance().await, CLIENT_CREDITS - PRICE);
    assert_eq!(upstream.balance().await, UPSTREAM_CREDITS - PRICE);
    front.assert_ledger_clean();
}

#[tokio::test]
async fn ark_task_options_reach_an_ark_upstream() {
    let (upstream, front) = front_of("ark").await;
    let r = front
        .app
        .client
        .post(front.app.url("/api/v3/contents/generations/tasks"))
        .bearer_auth(&front.key)
        .json(&json!({"model": "dreamina-seedance-2-0-mini-260615",
            "content": [{"type": "text", "text": "options travel"}],
            "resolution": "480p", "ratio": "16:9", "duration": 4, "generate_audio": false,
            "execution_expires_after": 7200, "priority": 3, "safety_identifier": "end-user-9"}))
        .send()
        .await
        .expect("create");
    let created: Value = r.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_string();
    let task = front.wait(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let ups = upstream.tasks().await;
    assert_eq!(ups.len(), 1);
    let sent = &ups[0].request;
    assert_eq!(sent.expires_after_seconds, Some(7200));
    assert_eq!(sent.priority, Some(3));
    assert_eq!(sent.safety_identifier.as_deref(), Some("end-user-9"));
}

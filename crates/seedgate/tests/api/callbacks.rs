//! Callbacks: written to an outbox with the task's terminal state, signed per Standard Webhooks
//! (checked with the independent `standardwebhooks` crate and the spec's test vector), retried
//! on the schedule, stopped by 410, never following a redirect, surviving a SIGKILL, and shown
//! by `GET /api/v1/tasks/{id}/callbacks`.

use crate::helpers::{spawn_app_with, TestApp};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use reqwest::StatusCode;
use seedgate::config::Settings;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// 301 to another path of the same receiver (which would answer 200).
    Redirect,
    /// Waits, then answers.
    Slow(Duration, u16),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

#[derive(Default)]
struct ReceiverState {
    plan: VecDeque<Reply>,
    default: Option<Reply>,
    received: Vec<Received>,
}

/// A local callback receiver that answers from a script (then 200, or its default).
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    pub async fn start(plan: Vec<Reply>) -> Self {
        Self::start_on("127.0.0.1:0", plan).await
    }

    pub async fn start_on(addr: &str, plan: Vec<Reply>) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            plan: plan.into(),
            ..Default::default()
        }));
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn set_default(&self, reply: Reply) {
        self.state.lock().expect("lock").default = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("lock").received.clone()
    }

    /// Waits until `n` requests have arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < timeout,
                "receiver got {} of {n} requests in {timeout:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let reply = {
        let mut s = state.lock().expect("lock");
        s.received.push(Received {
            path: uri.path().to_string(),
            headers,
            body: body.to_vec(),
            at: Instant::now(),
        });
        if uri.path() == "/redirected" {
            Reply::Status(200)
        } else {
            s.plan
                .pop_front()
                .or_else(|| s.default.clone())
                .unwrap_or(Reply::Status(200))
        }
    };
    let status = |code: u16| AxumStatus::from_u16(code).unwrap_or(AxumStatus::OK);
    match reply {
        Reply::Status(code) => status(code).into_response(),
        Reply::RetryAfter(code, secs) => {
            (status(code), [("retry-after", secs.to_string())]).into_response()
        }
        Reply::Redirect => {
            (AxumStatus::MOVED_PERMANENTLY, [("location", "/redirected")]).into_response()
        }
        Reply::Slow(wait, code) => {
            tokio::time::sleep(wait).await;
            status(code).into_response()
        }
    }
}

/// Fast polling and a short retry schedule without jitter, so retries happen within a test.
pub fn quick_callbacks(s: &mut Settings) {
    s.callbacks.idle_poll_ms = 20;
    s.callbacks.retry_schedule_seconds = vec![0.1, 0.1, 0.1, 0.1, 0.1];
    s.callbacks.jitter_percent = 0;
}

/// Creates a 480p, 4 s task through the Kie dialect (which posts only the final callback; Ark
/// also posts one per status change) with a callback URL; returns its id.
pub async fn submit_with_callback(app: &TestApp, callback_url: &str, prompt: &str) -> String {
    let r = app
        .client
        .post(app.url("/api/v1/jobs/createTask"))
        .bearer_auth(&app.key)
        .json(&json!({
            "model": "bytedance/seedance-2-mini",
            "callBackUrl": callback_url,
            "input": {"prompt": prompt, "resolution": "480p", "duration": 4}
        }))
        .send()
        .await
        .expect("create");
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["taskId"].as_str().expect("taskId").to_string()
}

/// `GET /api/v1/tasks/{id}/callbacks`.
pub async fn callbacks_of(app: &TestApp, id: &str) -> Value {
    let r = app
        .client
        .get(app.url(&format!("/api/v1/tasks/{id}/callbacks")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("callbacks");
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Waits until the task's callback leaves `pending`.
pub async fn wait_settled(app: &TestApp, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let body = callbacks_of(app, id).await;
        let state = body["callback"]["state"]
            .as_str()
            .unwrap_or("none")
            .to_string();
        if state != "pending" && state != "none" {
            return body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "callback never settled: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The key's signing secret, through the CLI an operator would use.
pub fn webhook_secret(app: &TestApp, rotate: bool) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_seedgate"));
    cmd.args(["keys", "webhook-secret", "--key", &app.key, "--data-dir"])
        .arg(app.data_dir.path())
        .env_remove("SEEDGATE_CONFIG")
        .env_remove("SEEDGATE_DATABASE_URL");
    if let Some(url) = &app.database_url {
        cmd.env("SEEDGATE_DATABASE_URL", url);
    }
    if rotate {
        cmd.arg("--rotate");
    }
    let out = cmd.output().expect("run seedgate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the secret alone on stdout: {stdout:?}");
    assert!(lines[0].starts_with("whsec_"), "{stdout}");
    lines[0].to_string()
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("ascii")
}

fn verifies(secret: &str, r: &Received) -> bool {
    let hook = standardwebhooks::Webhook::new(secret).expect("secret");
    hook.verify(&r.body, &r.headers).is_ok()
}

#[tokio::test]
async fn a_callback_is_signed_verifiable_and_carries_the_status_body() {
    let app = spawn_app_with(quick_callbacks).await;
    let receiver = Receiver::start(vec![]).await;
    let secret = webhook_secret(&app, false);
    assert_eq!(
        webhook_secret(&app, false),
        secret,
        "asking again shows the same secret"
    );

    let id = submit_with_callback(&app, &receiver.url("/hook"), "a lighthouse at dusk").await;
    let got = receiver.wait_for(1, Duration::from_secs(60)).await;
    let r = &got[0];
    assert_eq!(r.path, "/hook");
    assert_eq!(header(r, "content-type"), "application/json");
    assert_eq!(header(r, "webhook-id"), format!("evt_{id}"));
    let ts: i64 = header(r, "webhook-timestamp")
        .parse()
        .expect("unix seconds");
    let now = seedgate_core::clock::now_ms() / 1000;
    assert!((now - ts).abs() < 60, "{ts} vs {now}");
    assert!(header(r, "webhook-signature").starts_with("v1,"));
    // An independent implementation accepts it; a wrong secret or a changed body does not.
    assert!(
        verifies(&secret, r),
        "standardwebhooks rejected our signature"
    );
    let other = seedgate_workers::callbacks::generate_secret().expose();
    assert!(!verifies(&other, r));
    let mut tampered = r.clone();
    tampered.body.push(b' ');
    assert!(!verifies(&secret, &tampered));

    // The body is exactly what the task's dialect (Kie) answers to GET.
    let get = app
        .get_json(&format!("/api/v1/jobs/recordInfo?taskId={id}"))
        .await;
    let body: Value = serde_json::from_slice(&r.body).expect("json body");
    assert_eq!(body, get);
    assert_eq!(body["data"]["state"], "success", "{body}");

    let log = wait_settled(&app, &id).await;
    assert_eq!(log["callback"]["state"], "delivered", "{log}");
    assert_eq!(log["callback"]["id"], format!("evt_{id}"));
    assert_eq!(log["callback"]["dialect"], "kie");
    let attempts = log["callback"]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status"], 200);
    assert!(attempts[0]["latency_ms"].is_u64());
}

#[tokio::test]
async fn a_receiver_failing_three_times_then_succeeding_gets_one_success() {
    let app = spawn_app_with(quick_callbacks).await;
    let receiver = Receiver::start(vec![
        Reply::Status(500),
        Reply::Status(503),
        Reply::Status(502),
    ])
    .await;
    let id = submit_with_callback(&app, &receiver.url("/hook"), "retry me").await;
    let log = wait_settled(&app, &id).await;
    assert_eq!(log["callback"]["state"], "delivered", "{log}");
    let statuses: Vec<u64> = log["callback"]["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| a["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(statuses, vec![500, 503, 502, 200]);
    // Nothing more is sent once delivered; every attempt had the same webhook-id.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    assert!(got
        .iter()
        .all(|r| header(r, "webhook-id") == format!("evt_{id}")));
}

#[tokio::test]
async fn gone_stops_retries_and_redirects_are_failures_never_followed() {
    let app = spawn_app_with(|s| {
        quick_callbacks(s);
        s.callbacks.retry_schedule_seconds = vec![0.1, 0.1];
    })
    .await;
    let gone = Receiver::start(vec![Reply::Status(410)]).await;
    let moved = Receiver::start(vec![]).await;
    moved.set_default(Reply::Redirect);
    let a = submit_with_callback(&app, &gone.url("/hook"), "gone").await;
    let b = submit_with_callback(&app, &moved.url("/hook"), "moved").await;

    let log = wait_settled(&app, &a).await;
    assert_eq!(log["callback"]["state"], "gone", "{log}");
    assert_eq!(log["callback"]["attempts"].as_array().expect("a").len(), 1);

    // Three attempts (the first and two retries), all 301, none followed.
    let log = wait_settled(&app, &b).await;
    assert_eq!(log["callback"]["state"], "failed", "{log}");
    let attempts = log["callback"]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 3);
    for attempt in attempts {
        assert_eq!(attempt["status"], 301);
        assert!(attempt["error"]
            .as_str()
            .expect("error")
            .contains("redirect"));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(gone.received().len(), 1);
    let paths: Vec<String> = moved.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        vec!["/hook"; 3],
        "the redirect target was never called"
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let app = spawn_app_with(quick_callbacks).await;
    let receiver = Receiver::start(vec![Reply::RetryAfter(503, 2)]).await;
    submit_with_callback(&app, &receiver.url("/hook"), "wait for me").await;
    let got = receiver.wait_for(2, Duration::from_secs(60)).await;
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(1900),
        "retried after {gap:?}, Retry-After said 2 s"
    );
}

#[tokio::test]
async fn redelivery_sends_the_same_callback_again() {
    let app = spawn_app_with(quick_callbacks).await;
    let receiver = Receiver::start(vec![]).await;
    let id = submit_with_callback(&app, &receiver.url("/hook"), "again").await;
    wait_settled(&app, &id).await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/tasks/{id}/callbacks/redeliver")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("redeliver");
    assert_eq!(r.status(), StatusCode::OK);
    let got = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(header(&got[0], "webhook-id"), header(&got[1], "webhook-id"));
    assert_eq!(got[0].body, got[1].body);
    let log = wait_settled(&app, &id).await;
    assert_eq!(log["callback"]["attempts"].as_array().expect("a").len(), 2);

    // A task without a callback URL has nothing to redeliver.
    let plain = app
        .submit_ok(&json!({"model": "seedance-2.0-mini", "prompt": "no hook", "resolution": "480p", "duration": 4}))
        .await;
    app.wait_for_task(&plain).await;
    let log = callbacks_of(&app, &plain).await;
    assert!(
        log["callback"].is_null() && log["callback_url"].is_null(),
        "{log}"
    );
    let r = app
        .client
        .post(app.url(&format!("/api/v1/tasks/{plain}/callbacks/redeliver")))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("redeliver");
    crate::helpers::assert_error(r, StatusCode::BAD_REQUEST, 20003).await;
    // Another key sees neither.
    let stranger = app.create_key("stranger", 0).await;
    let r = app
        .client
        .get(app.url(&format!("/api/v1/tasks/{id}/callbacks")))
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("callbacks");
    crate::helpers::assert_error(r, StatusCode::NOT_FOUND, 40001).await;
}

#[tokio::test]
async fn during_a_rotation_both_secrets_sign() {
    let app = spawn_app_with(quick_callbacks).await;
    let receiver = Receiver::start(vec![]).await;
    let old = webhook_secret(&app, false);
    let new = webhook_secret(&app, true);
    assert_ne!(old, new);
    submit_with_callback(&app, &receiver.url("/hook"), "rotating").await;
    let got = receiver.wait_for(1, Duration::from_secs(60)).await;
    let signatures: Vec<&str> = header(&got[0], "webhook-signature").split(' ').collect();
    assert_eq!(signatures.len(), 2, "{signatures:?}");
    assert!(verifies(&old, &got[0]) && verifies(&new, &got[0]));
    // Each secret's own signature is present (not two copies of one).
    let id = header(&got[0], "webhook-id");
    let ts: i64 = header(&got[0], "webhook-timestamp").parse().expect("ts");
    for secret in [&old, &new] {
        let s = seedgate_core::webhook::WebhookSecret::parse(secret).expect("secret");
        assert!(signatures.contains(&s.sign(id, ts, &got[0].body).as_str()));
    }
}

#[tokio::test]
async fn a_slow_receiver_holds_up_neither_tasks_nor_other_receivers() {
    let app = spawn_app_with(|s| {
        quick_callbacks(s);
        s.callbacks.per_host_concurrency = 1;
    })
    .await;
    let slow = Receiver::start(vec![]).await;
    slow.set_default(Reply::Slow(Duration::from_secs(3), 200));
    // Another host (`localhost` rather than 127.0.0.1): per-host bounds are separate.
    let fast = Receiver::start(vec![]).await;
    let fast_url = fast.url("/hook").replace("127.0.0.1", "localhost");
    for n in 0..3 {
        submit_with_callback(&app, &slow.url("/hook"), &format!("slow {n}")).await;
    }
    let quick = submit_with_callback(&app, &fast_url, "fast").await;
    let task = crate::helpers::wait_for_task(
        &app.client,
        &app.base,
        &app.key,
        &quick,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(task["status"], "completed");
    let finished = Instant::now();
    fast.wait_for(1, Duration::from_secs(2)).await;
    assert!(finished.elapsed() < Duration::from_secs(2));
    // The slow host gets one delivery at a time.
    assert!(slow.received().len() <= 1, "{}", slow.received().len());
}

#[tokio::test]
async fn private_and_malformed_callback_urls_are_refused_before_any_hold() {
    let app = spawn_app_with(|s| s.mode = seedgate::config::RunMode::Production).await;
    let balance = app.balance_of(&app.key).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "ftp://example.com/hook",
        "not a url",
        "http://user:pass@example.com/hook",
    ] {
        let r = app
            .client
            .post(app.url("/api/v3/contents/generations/tasks"))
            .bearer_auth(&app.key)
            .json(&json!({
                "model": "dreamina-seedance-2-0-mini-260615",
                "content": [{"type": "text", "text": "hook"}],
                "callback_url": url
            }))
            .send()
            .await
            .expect("create");
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {body}");
        assert_eq!(body["error"]["code"], "InvalidParameter", "{url}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains("callback_url"),
            "{url}: {body}"
        );
    }
    assert_eq!(app.balance_of(&app.key).await, balance);
    assert!(app
        .store
        .ledger_dump()
        .await
        .expect("dump")
        .tasks
        .is_empty());
}

#[tokio::test]
async fn a_callback_survives_a_receiver_outage_across_a_sigkill() {
    use crate::crash_recovery::{free_port, setup, start, Setup};
    let Setup {
        _dir,
        data,
        config,
        port,
        base,
        client,
    } = setup("[callbacks]\nidle_poll_ms = 50\nattempt_timeout_seconds = 2.0\nretry_schedule_seconds = [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]\njitter_percent = 0\n");
    let receiver_port = free_port();
    let hook = format!("http://127.0.0.1:{receiver_port}/hook");

    let (server, key) = start(&config, &data, port);
    let key = key.expect("development key");
    let r = client
        .post(format!("{base}/api/v1/jobs/createTask"))
        .bearer_auth(&key)
        .json(&json!({
            "model": "bytedance/seedance-2-mini",
            "callBackUrl": hook,
            "input": {"prompt": "outage", "resolution": "480p", "duration": 4}
        }))
        .send()
        .await
        .expect("create");
    let id = r.json::<Value>().await.expect("json")["data"]["taskId"]
        .as_str()
        .expect("taskId")
        .to_string();
    let log = |client: reqwest::Client, base: String, key: String, id: String| async move {
        client
            .get(format!("{base}/api/v1/tasks/{id}/callbacks"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("log")
            .json::<Value>()
            .await
            .expect("json")
    };
    // The receiver is down: wait for failed attempts, then kill seedgate mid-schedule.
    let start_wait = Instant::now();
    loop {
        let body = log(client.clone(), base.clone(), key.clone(), id.clone()).await;
        if body["callback"]["attempts"]
            .as_array()
            .is_some_and(|a| a.len() >= 2)
        {
            break;
        }
        assert!(start_wait.elapsed() < Duration::from_secs(60), "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server);
    let receiver = Receiver::start_on(&format!("127.0.0.1:{receiver_port}"), vec![]).await;
    let (_server, _) = start(&config, &data, port);
    receiver.wait_for(1, Duration::from_secs(60)).await;
    let start_wait = Instant::now();
    let body = loop {
        let body = log(client.clone(), base.clone(), key.clone(), id.clone()).await;
        if body["callback"]["state"] == "delivered" {
            break body;
        }
        assert!(start_wait.elapsed() < Duration::from_secs(30), "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), 1, "delivered exactly once");
    let attempts = body["callback"]["attempts"].as_array().expect("attempts");
    let successes = attempts.iter().filter(|a| a["status"] == 200).count();
    assert_eq!(successes, 1, "{body}");
    assert!(
        attempts.len() >= 3,
        "failures before the kill are kept: {body}"
    );
    assert!(attempts[0]["status"].is_null() && attempts[0]["error"].is_string());
}

/// Creates a 480p, 4 s task with a callback in `dialect`; returns (id, GET path, auth header).
async fn create_in(app: &TestApp, dialect: &str, hook: &str) -> (String, String, (String, String)) {
    let bearer = ("authorization".to_string(), format!("Bearer {}", app.key));
    let input =
        json!({"prompt": format!("{dialect} callback"), "resolution": "480p", "duration": 4});
    let (path, body) = match dialect {
        "hiapi" => (
            "/v1/tasks",
            json!({"model": "seedance-2.0-mini", "input": input, "callback": {"url": hook, "when": "final"}}),
        ),
        "apixo" => {
            let mut input = input.clone();
            input["mode"] = json!("text-to-video");
            (
                "/api/v1/generateTask/seedance-2-0-mini",
                json!({"request_type": "callback", "callback_url": hook, "input": input}),
            )
        }
        "crun" => (
            "/api/v1/client/job/CreateTask",
            json!({"model": "bytedance/seedance2-0-mini-t2v", "callback_url": hook, "input": input}),
        ),
        "kie" => (
            "/api/v1/jobs/createTask",
            json!({"model": "bytedance/seedance-2-mini", "callBackUrl": hook, "input": input}),
        ),
        other => panic!("no callbacks in {other}"),
    };
    let auth = if dialect == "crun" {
        ("x-api-key".to_string(), app.key.clone())
    } else {
        bearer
    };
    let r = app
        .client
        .post(app.url(path))
        .header(&auth.0, &auth.1)
        .json(&body)
        .send()
        .await
        .expect("create");
    let status = r.status();
    let created: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{dialect}: {created}");
    let id = created["data"]["taskId"]
        .as_str()
        .or(created["data"]["task_id"].as_str())
        .expect("task id")
        .to_string();
    let get = match dialect {
        "hiapi" => format!("/v1/tasks/{id}"),
        "apixo" => format!("/api/v1/statusTask/seedance-2-0-mini?taskId={id}"),
        "crun" => format!("/api/v1/client/job/TaskInfo?task_id={id}"),
        _ => format!("/api/v1/jobs/recordInfo?taskId={id}"),
    };
    (id, get, auth)
}

#[tokio::test]
async fn every_dialects_callback_is_its_status_body() {
    let app = spawn_app_with(quick_callbacks).await;
    let receiver = Receiver::start(vec![]).await;
    let secret = webhook_secret(&app, false);
    for (n, dialect) in ["hiapi", "apixo", "crun", "kie"].into_iter().enumerate() {
        let (id, get_path, auth) =
            create_in(&app, dialect, &receiver.url(&format!("/{dialect}"))).await;
        let got = receiver.wait_for(n + 1, Duration::from_secs(60)).await;
        let r = got
            .iter()
            .find(|r| r.path == format!("/{dialect}"))
            .expect("this dialect's callback");
        assert_eq!(header(r, "webhook-id"), format!("evt_{id}"));
        assert!(verifies(&secret, r), "{dialect}: signature");
        let get: Value = app
            .client
            .get(app.url(&get_path))
            .header(&auth.0, &auth.1)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        let body: Value = serde_json::from_slice(&r.body).expect("json body");
        // HiAPI and CRUN post the `data` object of their status answer; APIXO and Kie the
        // whole answer.
        let expected = match dialect {
            "hiapi" | "crun" => &get["data"],
            _ => &get,
        };
        assert_eq!(&body, expected, "{dialect}");
        if dialect == "hiapi" {
            assert_eq!(body["status"], "success");
            let ts: i64 = header(r, "x-hiapi-timestamp").parse().expect("ts");
            // What an unchanged HiAPI receiver does: HMAC-SHA256 keyed with the secret string
            // it was configured with, over `timestamp.body`, compared in hex.
            let mut mac =
                <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.as_bytes())
                    .expect("any key length");
            hmac::Mac::update(&mut mac, format!("{ts}.").as_bytes());
            hmac::Mac::update(&mut mac, &r.body);
            let expected = hex::encode(hmac::Mac::finalize(mac).into_bytes());
            assert_eq!(header(r, "x-hiapi-signature"), expected);
        } else {
            assert!(r.headers.get("x-hiapi-signature").is_none());
        }
    }
}

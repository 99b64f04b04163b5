//! Traces: the real binary, given an OTLP/HTTP collector (in its config or in
//! `OTEL_EXPORTER_OTLP_ENDPOINT`), exports the spans of a task's life with its id and of the
//! request with its id, flushing them when it is stopped; given none, it starts no exporter
//! thread and sends nothing.

use crate::crash_recovery::{setup, Server, Setup};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A collector that takes `POST /v1/traces` and keeps every export request.
#[derive(Clone, Default)]
struct Collector {
    requests: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    base: String,
}

impl Collector {
    async fn start() -> Self {
        let requests: Arc<Mutex<Vec<ExportTraceServiceRequest>>> = Arc::default();
        let kept = requests.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            post(move |body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body)
                        .expect("the exporter sends an OTLP protobuf body");
                    kept.lock().expect("lock").push(request);
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            requests,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Every span received, with its resource's `service.name`.
    fn spans(&self) -> Vec<(String, Span)> {
        let requests = self.requests.lock().expect("lock");
        let mut spans = Vec::new();
        for request in requests.iter() {
            for resource_spans in &request.resource_spans {
                let service = resource_spans
                    .resource
                    .as_ref()
                    .and_then(|r| attribute(&r.attributes, "service.name"))
                    .unwrap_or_default();
                for scope in &resource_spans.scope_spans {
                    for span in &scope.spans {
                        spans.push((service.clone(), span.clone()));
                    }
                }
            }
        }
        spans
    }
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(AnyValue::StringValue(s)) => Some(s.clone()),
            Some(AnyValue::IntValue(i)) => Some(i.to_string()),
            _ => None,
        })
}

/// Starts `seedgate serve` with the OTLP variables as given (and no others); returns the
/// server and the development key it printed.
fn serve(s: &Setup, env: &[(&str, &str)]) -> (Server, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seedgate"));
    command
        .arg("serve")
        .arg("--config")
        .arg(&s.config)
        .arg("--data-dir")
        .arg(&s.data)
        .args(["--listen", &format!("127.0.0.1:{}", s.port)])
        .env("SEEDGATE_LOG__FILTER", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SERVICE_NAME",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start seedgate");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .take(2)
            .map_while(Result::ok)
            .collect();
        let _ = tx.send(lines.get(1).cloned());
    });
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err() {
        assert!(Instant::now() < deadline, "seedgate did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let key = rx
        .recv_timeout(Duration::from_secs(5))
        .ok()
        .flatten()
        .expect("the development key");
    (server, key)
}

/// The names of the process's threads (Linux).
fn thread_names(server: &Server) -> Vec<String> {
    let dir = format!("/proc/{}/task", server.0.id());
    std::fs::read_dir(dir)
        .expect("/proc")
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect()
}

fn exporter_thread_running(server: &Server) -> bool {
    thread_names(server)
        .iter()
        .any(|n| n.starts_with("OpenTelemetry"))
}

/// SIGTERM, then waits for the graceful exit (which flushes the exporter). Async: the
/// collector runs on this test's runtime and must answer meanwhile (the tests run on a
/// multi-threaded runtime for the same reason).
async fn stop(mut server: Server) {
    let pid = i32::try_from(server.0.id()).expect("pid");
    // SAFETY: signals our own child process.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if server.0.try_wait().expect("wait").is_some() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "seedgate did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Submits and waits for the task; returns its id and the request id of the submit.
async fn run_a_task(s: &Setup, key: &str) -> (String, String) {
    let r = s
        .client
        .post(format!("{}/api/v1/videos/generations", s.base))
        .bearer_auth(key)
        .json(
            &json!({"model": "seedance-2.0-mini", "prompt": "a traced task",
                      "resolution": "480p", "duration": 4}),
        )
        .send()
        .await
        .expect("submit");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let request_id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_string();
    let body: Value = r.json().await.expect("json");
    let id = body["id"].as_str().expect("id").to_string();
    let task =
        crate::helpers::wait_for_task(&s.client, &s.base, key, &id, Duration::from_secs(60)).await;
    assert_eq!(task["status"], "completed", "{task}");
    (id, request_id)
}

/// Asserts the spans of one task's life reached the collector, with its id and the request's.
fn assert_task_traced(collector: &Collector, task_id: &str, request_id: &str, service: &str) {
    let spans = collector.spans();
    assert!(
        spans.iter().all(|(s, _)| s == service),
        "service.name is {service}"
    );
    let of_task: Vec<&Span> = spans
        .iter()
        .map(|(_, span)| span)
        .filter(|span| attribute(&span.attributes, "task_id").as_deref() == Some(task_id))
        .collect();
    let names: Vec<&str> = of_task.iter().map(|s| s.name.as_str()).collect();
    for expected in ["submit", "task", "task.settle"] {
        assert!(
            names.contains(&expected),
            "a {expected} span with the task id; got {names:?} among {:?}",
            spans
                .iter()
                .map(|(_, s)| s.name.as_str())
                .collect::<Vec<_>>()
        );
    }
    // The submit ran inside the HTTP request's span, which carries the request id.
    let submit = of_task
        .iter()
        .find(|s| s.name == "submit")
        .expect("submit span");
    let request = spans
        .iter()
        .map(|(_, span)| span)
        .find(|span| attribute(&span.attributes, "request_id").as_deref() == Some(request_id))
        .expect("a request span with the submit's request id");
    assert_eq!(request.name, "request");
    assert_eq!(
        submit.trace_id, request.trace_id,
        "one trace for the request"
    );
    assert_eq!(
        submit.parent_span_id, request.span_id,
        "submit is a child of request"
    );
    // The worker's spans nest under the attempt's `task` span.
    let task = of_task
        .iter()
        .find(|s| s.name == "task")
        .expect("task span");
    let settle = of_task
        .iter()
        .find(|s| s.name == "task.settle")
        .expect("settle span");
    assert_eq!(settle.trace_id, task.trace_id);
    assert_eq!(settle.parent_span_id, task.span_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_collector_receives_the_spans_of_a_task_with_its_id() {
    let collector = Collector::start().await;
    let s = setup(&format!(
        "[local]\ninstant = true\n\n[telemetry]\notlp_endpoint = \"{}\"\nservice_name = \"seedgate-test\"\n",
        collector.base
    ));
    let (server, key) = serve(&s, &[]);
    assert!(
        exporter_thread_running(&server),
        "{:?}",
        thread_names(&server)
    );
    let (task_id, request_id) = run_a_task(&s, &key).await;
    // Exported in batches; what is still buffered is flushed on a graceful stop.
    stop(server).await;
    assert_task_traced(&collector, &task_id, &request_id, "seedgate-test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_endpoint_variable_is_honoured() {
    let collector = Collector::start().await;
    let s = setup("[local]\ninstant = true\n");
    let (server, key) = serve(&s, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.base)]);
    let (task_id, request_id) = run_a_task(&s, &key).await;
    stop(server).await;
    assert_task_traced(&collector, &task_id, &request_id, "seedgate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_collector_no_exporter_runs_and_nothing_is_sent() {
    let collector = Collector::start().await;
    let s = setup("[local]\ninstant = true\n");
    // Only the signal-specific variable, which seedgate does not read: still off.
    let traces = format!("{}/v1/traces", collector.base);
    let (server, key) = serve(&s, &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces)]);
    assert!(
        !exporter_thread_running(&server),
        "{:?}",
        thread_names(&server)
    );
    run_a_task(&s, &key).await;
    assert!(!exporter_thread_running(&server));
    stop(server).await;
    assert!(collector.spans().is_empty(), "nothing was exported");
    assert!(collector.requests.lock().expect("lock").is_empty());
}

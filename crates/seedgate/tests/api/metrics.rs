//! `/metrics`: scraped before and after a known workload, every counter moves by exactly what
//! the workload did; the output passes `promtool check metrics`; the main listener wants an
//! admin token, the separate `metrics.listen` listener does not.
//!
//! The server runs as its own process (the real binary): metrics are per process, and the
//! other tests of this binary run apps in this process at the same time, which would move the
//! same counters.

use crate::crash_recovery::{free_port, setup, start, Setup};
use crate::helpers::wait_for_task;
use crate::media_server::MediaServer;
use axum::routing::post;
use reqwest::StatusCode;
use seedgate_core::task::TaskStatus;
use seedgate_store::prelude::*;
use seedgate_store::{SqliteStore, TaskQuery};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One sample of the text format: its metric name, labels and value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Reads Prometheus' text format (the subset any exporter writes: `# ` comments, then
/// `name{label="value",…} value` lines; label values may hold braces, commas and escapes).
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value on line {line:?}"));
        let name = line[..name_end].to_string();
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            let mut key = String::new();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '}' => {
                        end = Some(i + 1);
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                        let mut value = String::new();
                        loop {
                            match chars.next() {
                                Some((_, '\\')) => match chars.next() {
                                    Some((_, 'n')) => value.push('\n'),
                                    Some((_, c)) => value.push(c),
                                    None => panic!("{line}"),
                                },
                                Some((_, '"')) => break,
                                Some((_, c)) => value.push(c),
                                None => panic!("unterminated label value: {line}"),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            }
            let end = end.unwrap_or_else(|| panic!("unterminated labels: {line}"));
            rest = &inner[end..];
        }
        let value = rest
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value {v:?}: {line}")),
        };
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// The sum of the samples named `name` whose labels include `labels` (0 when none).
fn total(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's `prometheus` package) must be installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scrape(client: &reqwest::Client, url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("scrape")
}

async fn scrape_text(client: &reqwest::Client, url: &str, token: Option<&str>) -> String {
    let r = scrape(client, url, token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("text/plain"),
        "Prometheus' text format: {content_type}"
    );
    r.text().await.expect("text")
}

/// A callback receiver that answers 200 and counts what it got.
async fn receiver() -> (String, Arc<AtomicUsize>) {
    let got = Arc::new(AtomicUsize::new(0));
    let counter = got.clone();
    let router = axum::Router::new().route(
        "/hook",
        post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/hook"), got)
}

async fn submit(client: &reqwest::Client, base: &str, key: &str, body: Value) -> reqwest::Response {
    client
        .post(format!("{base}/api/v1/videos/generations"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("submit")
}

#[tokio::test]
async fn counters_move_by_exactly_the_workload_and_the_output_passes_promtool() {
    let metrics_port = free_port();
    let Setup {
        _dir,
        data,
        config,
        port,
        base,
        client,
    } = setup(&format!(
        "[local]\ninstant = true\n\n[worker]\nidle_poll_ms = 50\n\n\
         [metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n"
    ));
    // Admin tokens, made the way an operator makes them, before the server starts: a viewer
    // for the scraper, an admin for a manual refund.
    let admin_token = |name: &str, role: &str| {
        let made = Command::new(env!("CARGO_BIN_EXE_seedgate"))
            .args(["admin-tokens", "create", "--name", name, "--role", role])
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .env("SEEDGATE_LOG__FILTER", "warn")
            .output()
            .expect("admin-tokens create");
        assert!(made.status.success(), "{made:?}");
        String::from_utf8(made.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    };
    let token = admin_token("scraper", "viewer");
    let operator = admin_token("ops", "admin");
    let (_server, key) = start(&config, &data, port);
    let key = key.expect("the development key");
    let main_metrics = format!("{base}/metrics");
    let open_metrics = format!("http://127.0.0.1:{metrics_port}/metrics");

    // The main listener wants an admin token; an API key is not one.
    let anonymous = scrape(&client, &main_metrics, None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.expect("admin envelope");
    assert_eq!(body["error"]["code"], "unauthenticated", "{body}");
    let with_key = scrape(&client, &main_metrics, Some(&key)).await;
    assert_eq!(with_key.status(), StatusCode::UNAUTHORIZED);

    let before = parse(&scrape_text(&client, &open_metrics, None).await);

    // The workload: 3 tasks that succeed (one with a reference image, one through Kie with a
    // callback), 2 that the renderer fails, 2 refused by validation.
    let media = MediaServer::start().await;
    let (hook, delivered) = receiver().await;
    let task = |prompt: &str| json!({"model": "seedance-2.0-mini", "prompt": prompt, "resolution": "480p", "duration": 4});
    let mut with_image = task("a dancer");
    with_image["reference_image_urls"] = json!([media.image("640x640.png")]);
    let mut ids = Vec::new();
    for body in [
        task("a cat"),
        with_image,
        task("[[seedgate:fail]] a storm"),
        task("[[seedgate:fail]] a flood"),
    ] {
        let r = submit(&client, &base, &key, body).await;
        let status = r.status();
        let created: Value = r.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "{created}");
        ids.push(created["id"].as_str().expect("id").to_string());
    }
    // Kie posts only the final callback (Ark posts one per status change, some superseded).
    let r = client
        .post(format!("{base}/api/v1/jobs/createTask"))
        .bearer_auth(&key)
        .json(&json!({
            "model": "bytedance/seedance-2-mini",
            "callBackUrl": hook,
            "input": {"prompt": "a kite", "resolution": "480p", "duration": 4}
        }))
        .send()
        .await
        .expect("kie submit");
    let created: Value = r.json().await.expect("json");
    ids.push(
        created["data"]["taskId"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_string(),
    );
    for _ in 0..2 {
        let mut bad = task("too long");
        bad["duration"] = json!(99);
        let r = submit(&client, &base, &key, bad).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
    for id in &ids {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let task = wait_for_task(&client, &base, &key, id, Duration::from_secs(60)).await;
            if task["status"] == "completed" || task["status"] == "failed" {
                break;
            }
            assert!(Instant::now() < deadline, "{task}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while delivered.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the callback never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // An operator gives 50 credits of the first task's charge back by hand.
    const MANUAL_REFUND: f64 = 50.0;
    let r = client
        .post(format!("{base}/admin/v1/tasks/{}/refund", ids[0]))
        .bearer_auth(&operator)
        .json(&json!({"note": "goodwill", "credits": MANUAL_REFUND as i64}))
        .send()
        .await
        .expect("refund");
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);

    // What the database says happened, to compare the money with.
    let store = SqliteStore::open(&data.join("seedgate.db"))
        .await
        .expect("open db");
    let account = store
        .find_account("development")
        .await
        .expect("lookup")
        .expect("account");
    let tasks = store
        .list_tasks(
            &account.id,
            &TaskQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .expect("list")
        .tasks;
    assert_eq!(tasks.len(), 5);
    let credits = |status: Option<TaskStatus>| -> f64 {
        tasks
            .iter()
            .filter(|t| status.is_none_or(|s| t.status == s))
            .map(|t| t.price.credits as f64)
            .sum()
    };
    assert_eq!(
        tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Succeeded)
            .count(),
        3
    );

    // The callback's attempt is counted once its result is recorded: wait for that too.
    let callback = [("dialect", "kie"), ("outcome", "delivered")];
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let after = parse(&scrape_text(&client, &open_metrics, None).await);
        if total(&after, "seedgate_callback_deliveries_total", &callback) > 0.0
            || Instant::now() > deadline
        {
            break after;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let delta = |name: &str, labels: &[(&str, &str)]| {
        total(&after, name, labels) - total(&before, name, labels)
    };
    let reapi = [("dialect", "reapi")];
    assert_eq!(delta("seedgate_submits_accepted_total", &reapi), 4.0);
    assert_eq!(
        delta("seedgate_submits_accepted_total", &[("dialect", "kie")]),
        1.0
    );
    assert_eq!(delta("seedgate_submits_accepted_total", &[]), 5.0);
    assert_eq!(
        delta(
            "seedgate_submits_refused_total",
            &[("dialect", "reapi"), ("reason", "validation")]
        ),
        2.0
    );
    assert_eq!(delta("seedgate_submits_refused_total", &[]), 2.0);
    let submits = [
        ("dialect", "reapi"),
        ("method", "POST"),
        ("route", "/api/v1/videos/generations"),
    ];
    let status = |s| [submits[0], submits[1], submits[2], ("status", s)];
    assert_eq!(delta("seedgate_http_requests_total", &status("200")), 4.0);
    assert_eq!(delta("seedgate_http_requests_total", &status("400")), 2.0);
    assert_eq!(
        delta(
            "seedgate_http_request_duration_seconds_count",
            &status("200")
        ),
        4.0
    );
    // Polling routes are labelled by their template, never by a task's id.
    assert!(
        total(
            &after,
            "seedgate_http_requests_total",
            &[("route", "/api/v1/tasks/{id}")]
        ) >= 5.0,
        "every task was polled through its route template"
    );
    assert!(
        after.iter().all(|s| s
            .labels
            .values()
            .all(|v| !ids.iter().any(|id| v.contains(id)))),
        "no label holds a task id"
    );
    assert_eq!(
        delta("seedgate_tasks_finished_total", &[("state", "succeeded")]),
        3.0
    );
    assert_eq!(
        delta("seedgate_tasks_finished_total", &[("state", "failed")]),
        2.0
    );
    assert_eq!(delta("seedgate_credits_held_total", &[]), credits(None));
    assert_eq!(
        delta("seedgate_credits_settled_total", &[]),
        credits(Some(TaskStatus::Succeeded))
    );
    assert_eq!(
        delta("seedgate_credits_refunded_total", &[]),
        credits(Some(TaskStatus::Failed)) + MANUAL_REFUND,
        "released holds and the manual refund"
    );
    assert!(credits(Some(TaskStatus::Failed)) > 0.0);
    let local_create = |outcome| {
        delta(
            "seedgate_upstream_requests_total",
            &[
                ("upstream", "local"),
                ("operation", "create"),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(local_create("ok"), 3.0);
    assert_eq!(local_create("permanent"), 2.0);
    assert_eq!(
        delta(
            "seedgate_upstream_time_to_result_seconds_count",
            &[("upstream", "local")]
        ),
        3.0
    );
    assert_eq!(
        total(
            &after,
            "seedgate_upstream_breaker_state",
            &[("upstream", "local"), ("state", "closed")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "seedgate_media_fetches_total",
            &[("kind", "image"), ("source", "remote"), ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "seedgate_media_probes_total",
            &[("kind", "image"), ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(delta("seedgate_callback_deliveries_total", &callback), 1.0);
    assert_eq!(
        delta("seedgate_callback_deliveries_total", &[]),
        1.0,
        "one task asked for a callback"
    );
    // Gauges read from the database: nothing is left queued or running.
    assert_eq!(total(&after, "seedgate_tasks", &[("state", "queued")]), 0.0);
    assert_eq!(
        total(&after, "seedgate_tasks", &[("state", "running")]),
        0.0
    );
    assert_eq!(total(&after, "seedgate_queue_depth", &[]), 0.0);
    assert_eq!(total(&after, "seedgate_queue_oldest_age_seconds", &[]), 0.0);
    assert_eq!(total(&after, "seedgate_callback_backlog", &[]), 0.0);

    // The same registry is served to an admin token on the main listener, and both pass
    // promtool's checks.
    let guarded = scrape_text(&client, &main_metrics, Some(&token)).await;
    assert!(guarded.contains("seedgate_submits_accepted_total"));
    promtool_check(&guarded);
    promtool_check(&scrape_text(&client, &open_metrics, None).await);
    // The separate listener serves metrics only.
    let other = scrape(
        &client,
        &format!("http://127.0.0.1:{metrics_port}/api/v1/videos/generations"),
        None,
    )
    .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[test]
fn the_parser_reads_labels_with_braces_commas_and_escapes() {
    let samples = parse(
        "# HELP x_total a counter\n# TYPE x_total counter\n\
         x_total{route=\"/api/v1/tasks/{id}\",note=\"a, \\\"b\\\"\"} 3\nplain 1.5\n",
    );
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0].labels["route"], "/api/v1/tasks/{id}");
    assert_eq!(samples[0].labels["note"], "a, \"b\"");
    assert_eq!(
        total(&samples, "x_total", &[("route", "/api/v1/tasks/{id}")]),
        3.0
    );
    assert_eq!(total(&samples, "plain", &[]), 1.5);
    assert_eq!(total(&samples, "missing", &[]), 0.0);
}

//! Operator alerts: posted to the operator's webhook, signed like task callbacks (checked with
//! the independent `standardwebhooks` crate), once per crossing however many checks and
//! submits follow, retried until the receiver takes them, and listed at `GET /admin/v1/alerts`.

use crate::callbacks::{Received, Receiver, Reply};
use crate::helpers::{spawn_app_with, TestApp};
use axum::http::StatusCode as AxumStatus;
use reqwest::StatusCode;
use seedgate::config::Settings;
use seedgate_core::clock::SystemClock;
use seedgate_service::admin::AdminService;
use seedgate_service::auth;
use seedgate_store::{Actor, AdminRole};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MODEL: &str = "seedance-2.0-mini";
/// A 480p, 4 s task of `MODEL` (what `submit` asks for).
const PRICE: i64 = 190;

/// The alerts of `app` go to `receiver`, signed with `secret`, checked every 100 ms.
fn alerts_to(s: &mut Settings, receiver: &Receiver, secret: &str) {
    s.alerts.webhook_url = Some(receiver.url("/alerts"));
    s.alerts.secret = Some(secret.to_string());
    s.alerts.check_interval_seconds = 0.1;
    s.alerts.jitter_percent = 0;
}

fn new_secret() -> String {
    seedgate_workers::callbacks::generate_secret().expose()
}

fn verifies(secret: &str, r: &Received) -> bool {
    standardwebhooks::Webhook::new(secret)
        .expect("secret")
        .verify(&r.body, &r.headers)
        .is_ok()
}

fn body(r: &Received) -> Value {
    serde_json::from_slice(&r.body).expect("alert body is JSON")
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("ascii")
}

/// The alerts received of `kind`.
fn of_kind(receiver: &Receiver, kind: &str) -> Vec<Received> {
    receiver
        .received()
        .into_iter()
        .filter(|r| body(r)["type"] == kind)
        .collect()
}

async fn wait_for_kind(
    receiver: &Receiver,
    kind: &str,
    n: usize,
    timeout: Duration,
) -> Vec<Received> {
    let start = Instant::now();
    loop {
        let got = of_kind(receiver, kind);
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < timeout,
            "{} of {n} {kind} alerts in {timeout:?}; received: {:?}",
            got.len(),
            receiver
                .received()
                .iter()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn submit(app: &TestApp, prompt: &str) -> String {
    let r = app
        .submit(
            &json!({"model": MODEL, "prompt": prompt, "resolution": "480p",
                        "aspect_ratio": "16:9", "duration": 4}),
        )
        .await;
    let status = r.status();
    let json: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{json}");
    json["id"].as_str().expect("id").to_string()
}

async fn account_id(app: &TestApp) -> String {
    app.store
        .find_credential(&auth::hash_key(&app.key))
        .await
        .expect("lookup")
        .expect("key")
        .account
        .id
        .as_str()
        .to_string()
}

async fn admin_alerts(app: &TestApp) -> Value {
    let token = AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .create_admin_token("alerts reader", AdminRole::Viewer, &Actor("cli".into()))
        .await
        .expect("admin token")
        .token;
    let r = app
        .client
        .get(app.url("/admin/v1/alerts"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("json")
}

/// An upstream account every request to which is answered 503, and the settings that send
/// every task to it (the breaker opens at its first failure, for a minute).
fn dead_upstream(s: &mut Settings, base: &str) {
    s.providers = vec![crate::helpers::ark_account("dead", base, "upstream-key")];
    s.upstream.breaker_failures = 1;
    s.upstream.breaker_open_seconds = 60.0;
    s.upstream.callbacks = Some(false);
}

async fn start_dead_upstream() -> String {
    let app = axum::Router::new().fallback(|| async {
        (
            AxumStatus::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": {"code": "ServiceUnavailable", "message": "down"}})),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_balance_below_the_threshold_alerts_once_signed_despite_more_submits() {
    let receiver = Receiver::start(vec![]).await;
    let secret = new_secret();
    let app = spawn_app_with(|s| {
        alerts_to(s, &receiver, &secret);
        s.local.instant = true;
        // The development key holds 100,000 credits: the first task takes it below.
        s.alerts.balance_below = Some(100_000 - PRICE / 2);
    })
    .await;
    let account = account_id(&app).await;
    // Above the threshold nothing is sent, however many checks run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        receiver.received().is_empty(),
        "no alert above the threshold"
    );

    submit(&app, "the first task").await;
    let got = wait_for_kind(&receiver, "balance_below", 1, Duration::from_secs(30)).await;
    let alert = &got[0];
    assert!(
        verifies(&secret, alert),
        "standardwebhooks rejected the signature"
    );
    assert!(
        !verifies(&new_secret(), alert),
        "another secret does not verify it"
    );
    let mut tampered = alert.clone();
    tampered.body.push(b' ');
    assert!(
        !verifies(&secret, &tampered),
        "a changed body does not verify"
    );
    let b = body(alert);
    assert_eq!(b["subject"], account.as_str(), "{b}");
    assert_eq!(b["figures"]["threshold"], 100_000 - PRICE / 2, "{b}");
    assert_eq!(b["figures"]["balance"], 100_000 - PRICE, "{b}");
    assert!(
        b["message"].as_str().expect("message").contains("below"),
        "{b}"
    );
    assert!(b["at"].as_str().expect("at").ends_with('Z'), "{b}");
    assert_eq!(header(alert, "webhook-id"), b["id"].as_str().expect("id"));
    assert_eq!(alert.path, "/alerts");

    // Still below after two more tasks and many more checks: no second alert.
    submit(&app, "the second task").await;
    submit(&app, "the third task").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        of_kind(&receiver, "balance_below").len(),
        1,
        "one alert per crossing"
    );

    let listed = admin_alerts(&app).await;
    let balance: Vec<&Value> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|a| a["type"] == "balance_below")
        .collect();
    assert_eq!(balance.len(), 1, "{listed}");
    assert_eq!(balance[0]["id"], b["id"]);
    assert_eq!(balance[0]["delivery"], "delivered", "{listed}");
    assert_eq!(balance[0]["attempts"], 1, "{listed}");
    assert_eq!(balance[0]["subject"], account.as_str());
    assert!(balance[0]["resolved_at_ms"].is_null());
}

#[tokio::test]
async fn credits_back_above_the_threshold_resolve_it_and_the_next_fall_alerts_again() {
    let receiver = Receiver::start(vec![]).await;
    let secret = new_secret();
    let app = spawn_app_with(|s| {
        alerts_to(s, &receiver, &secret);
        s.local.instant = true;
        s.alerts.balance_below = Some(100_000 - PRICE / 2);
    })
    .await;
    submit(&app, "below").await;
    wait_for_kind(&receiver, "balance_below", 1, Duration::from_secs(30)).await;
    let account = account_id(&app).await;
    let admin = AdminService::new(app.store.clone(), Arc::new(SystemClock));
    admin
        .grant_credits(&account, 1_000, "top-up", &Actor("cli".into()))
        .await
        .expect("grant");
    // Resolved once the worker sees the balance back above; then the next fall is new.
    let start = Instant::now();
    loop {
        let listed = admin_alerts(&app).await;
        if !listed["data"][0]["resolved_at_ms"].is_null() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for n in 0..6 {
        submit(&app, &format!("spend {n}")).await;
    }
    let got = wait_for_kind(&receiver, "balance_below", 2, Duration::from_secs(30)).await;
    assert_ne!(body(&got[0])["id"], body(&got[1])["id"]);
}

#[tokio::test]
async fn a_breaker_opening_on_a_failing_upstream_alerts() {
    let receiver = Receiver::start(vec![]).await;
    let secret = new_secret();
    let dead = start_dead_upstream().await;
    let app = spawn_app_with(|s| {
        alerts_to(s, &receiver, &secret);
        dead_upstream(s, &dead);
    })
    .await;
    submit(&app, "to a dead upstream").await;
    let got = wait_for_kind(&receiver, "breaker_open", 1, Duration::from_secs(30)).await;
    let b = body(&got[0]);
    assert_eq!(b["subject"], "dead", "{b}");
    assert_eq!(b["figures"]["upstream_account"], "dead", "{b}");
    assert!(verifies(&secret, &got[0]));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        of_kind(&receiver, "breaker_open").len(),
        1,
        "once while it stays open"
    );
}

#[tokio::test]
async fn a_task_queued_longer_than_configured_alerts() {
    let receiver = Receiver::start(vec![]).await;
    let secret = new_secret();
    let dead = start_dead_upstream().await;
    let app = spawn_app_with(|s| {
        alerts_to(s, &receiver, &secret);
        // The only account fails and its breaker stays open: the task waits in the queue.
        dead_upstream(s, &dead);
        s.alerts.queued_longer_than_seconds = Some(1.0);
    })
    .await;
    let submitted = Instant::now();
    let id = submit(&app, "waits in the queue").await;
    let got = wait_for_kind(
        &receiver,
        "tasks_queued_too_long",
        1,
        Duration::from_secs(30),
    )
    .await;
    assert!(
        submitted.elapsed() >= Duration::from_secs(1),
        "not before the task has waited a second"
    );
    let b = body(&got[0]);
    assert_eq!(b["subject"], "queue", "{b}");
    assert_eq!(b["figures"]["count"], 1, "{b}");
    assert_eq!(b["figures"]["oldest_task_id"], id.as_str(), "{b}");
    assert_eq!(b["figures"]["threshold_seconds"], 1, "{b}");
    assert!(verifies(&secret, &got[0]));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(of_kind(&receiver, "tasks_queued_too_long").len(), 1);
}

#[tokio::test]
async fn a_receiver_that_fails_first_gets_the_alert_again_later() {
    let receiver = Receiver::start(vec![Reply::Status(500), Reply::Status(503)]).await;
    let secret = new_secret();
    let app = spawn_app_with(|s| {
        alerts_to(s, &receiver, &secret);
        s.local.instant = true;
        s.alerts.balance_below = Some(100_000 - PRICE / 2);
        s.alerts.retry_schedule_seconds = vec![0.3];
    })
    .await;
    submit(&app, "below").await;
    let got = wait_for_kind(&receiver, "balance_below", 3, Duration::from_secs(30)).await;
    let ids: Vec<&str> = got.iter().map(|r| header(r, "webhook-id")).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one alert, sent again: {ids:?}"
    );
    assert!(got.iter().all(|r| verifies(&secret, r)));
    // The schedule's last delay repeats: each retry waits for it.
    for pair in got.windows(2) {
        assert!(
            pair[1].at.duration_since(pair[0].at) >= Duration::from_millis(250),
            "retried after the delay"
        );
    }
    // Delivered by the third attempt: nothing more comes.
    let start = Instant::now();
    loop {
        let listed = admin_alerts(&app).await;
        let alert = &listed["data"][0];
        if alert["delivery"] == "delivered" {
            assert_eq!(alert["attempts"], 3, "{listed}");
            assert!(alert["last_error"].is_null(), "{listed}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(of_kind(&receiver, "balance_below").len(), 3);
}

#[tokio::test]
async fn without_a_webhook_alerts_are_listed_unsent_and_bad_queries_are_refused() {
    let app = spawn_app_with(|s| {
        s.local.instant = true;
        s.alerts.check_interval_seconds = 0.1;
        s.alerts.balance_below = Some(100_000 - PRICE / 2);
    })
    .await;
    submit(&app, "below").await;
    let start = Instant::now();
    let alert = loop {
        let listed = admin_alerts(&app).await;
        if let Some(alert) = listed["data"].as_array().and_then(|d| d.first()) {
            break alert.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(alert["type"], "balance_below");
    assert_eq!(alert["delivery"], "unsent");
    assert_eq!(alert["attempts"], 0);

    let token = AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .create_admin_token("reader", AdminRole::Viewer, &Actor("cli".into()))
        .await
        .expect("token")
        .token;
    for query in ["limit=0", "limit=501", "limit=x", "before=soon"] {
        let r = app
            .client
            .get(app.url(&format!("/admin/v1/alerts?{query}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query}");
        let json: Value = r.json().await.expect("json");
        assert_eq!(json["error"]["code"], "invalid_request", "{query}: {json}");
    }
    let r = app
        .client
        .get(app.url("/admin/v1/alerts"))
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "an API key is no admin token"
    );
}

/// `seedgate alerts <args>` against the app's database: its stdout.
fn alerts_cli(app: &TestApp, args: &[&str]) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_seedgate"));
    cmd.arg("alerts")
        .args(args)
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .env_remove("SEEDGATE_CONFIG")
        .env_remove("SEEDGATE_DATABASE_URL")
        .env_remove("SEEDGATE_ALERTS__SECRET");
    if let Some(url) = &app.database_url {
        cmd.env("SEEDGATE_DATABASE_URL", url);
    }
    let out = cmd.output().expect("run seedgate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test]
async fn without_a_configured_secret_one_is_generated_and_shown_by_the_cli() {
    let receiver = Receiver::start(vec![]).await;
    let app = spawn_app_with(|s| {
        s.alerts.webhook_url = Some(receiver.url("/alerts"));
        s.alerts.check_interval_seconds = 0.1;
        s.local.instant = true;
        s.alerts.balance_below = Some(100_000 - PRICE / 2);
    })
    .await;
    submit(&app, "below").await;
    let got = wait_for_kind(&receiver, "balance_below", 1, Duration::from_secs(30)).await;
    let stdout = alerts_cli(&app, &["secret"]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the secret alone on stdout: {stdout:?}");
    assert!(lines[0].starts_with("whsec_"), "{stdout}");
    assert!(
        verifies(lines[0], &got[0]),
        "signed with the generated secret"
    );
    assert_eq!(
        alerts_cli(&app, &["secret"]),
        stdout,
        "the same secret each time"
    );
    let listed = alerts_cli(&app, &["list"]);
    let first: Value =
        serde_json::from_str(listed.lines().next().expect("one alert")).expect("json");
    assert_eq!(first["kind"], "balance_below", "{listed}");
}

#[tokio::test]
async fn an_account_crossing_fractions_of_its_daily_budget_alerts_once_per_fraction() {
    let receiver = Receiver::start(vec![]).await;
    let secret = new_secret();
    let app = spawn_app_with(|s| {
        alerts_to(s, &receiver, &secret);
        s.local.instant = true;
    })
    .await;
    let account = account_id(&app).await;
    let policy = seedgate_core::accounts::Policy {
        limits: seedgate_core::accounts::Limits {
            daily_budget: Some(2 * PRICE as u64),
            ..Default::default()
        },
        ..Default::default()
    };
    AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .update_account(
            &account,
            &seedgate_store::Changes {
                name: None,
                policy: Some(policy),
            },
            &Actor("cli".into()),
        )
        .await
        .expect("budget");
    // Half the budget: below 80 %.
    submit(&app, "half").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(of_kind(&receiver, "budget_crossed").is_empty());
    // The whole budget: 80 % and 100 % crossed, one alert each.
    submit(&app, "all of it").await;
    let got = wait_for_kind(&receiver, "budget_crossed", 2, Duration::from_secs(30)).await;
    let mut fractions: Vec<f64> = got
        .iter()
        .map(|r| body(r)["figures"]["fraction"].as_f64().expect("fraction"))
        .collect();
    fractions.sort_by(f64::total_cmp);
    assert_eq!(fractions, vec![0.8, 1.0]);
    for r in &got {
        let b = body(r);
        assert_eq!(b["subject"], account.as_str(), "{b}");
        assert_eq!(b["figures"]["period"], "daily", "{b}");
        assert_eq!(b["figures"]["budget"], 2 * PRICE, "{b}");
        assert_eq!(b["figures"]["spent"], 2 * PRICE, "{b}");
        assert!(verifies(&secret, r));
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        of_kind(&receiver, "budget_crossed").len(),
        2,
        "once per fraction"
    );
}

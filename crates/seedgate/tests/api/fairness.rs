//! Fairness across accounts: one account's backlog of queued tasks, its slow reference URLs or
//! its dead callback receivers delay another account's work by one round at most.

use crate::callbacks::{submit_with_callback, Receiver};
use crate::helpers::{spawn_app_with, TestApp};
use crate::media_server::MediaServer;
use futures::StreamExt;
use reqwest::StatusCode;
use seedgate_core::pricing::Price;
use seedgate_core::records::TaskQuery;
use seedgate_core::task::{Task, TaskStatus};
use seedgate_core::{AccountId, ApiKeyId, Catalog, GenerationRequest, RequestDraft, TaskId};
use seedgate_service::auth;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The account and key behind a key's plaintext.
async fn owner_of(app: &TestApp, key: &str) -> (AccountId, ApiKeyId) {
    let credential = app
        .store
        .find_credential(&auth::hash_key(key))
        .await
        .expect("lookup")
        .expect("key exists");
    (credential.account.id, credential.key.id)
}

/// A queued reAPI task of that account, as a submit would store it.
fn queued_task(account: &AccountId, key: &ApiKeyId, callback_url: Option<&str>) -> Task {
    let draft = RequestDraft {
        model: Some("seedance-2.0-mini".into()),
        prompt: Some("backlog".into()),
        callback_url: callback_url.map(str::to_string),
        ..Default::default()
    };
    let request = GenerationRequest::from_draft(draft, &Catalog::builtin()).expect("valid");
    let now = seedgate_core::clock::now_ms();
    Task {
        id: TaskId::generate(),
        account_id: account.clone(),
        api_key_id: key.clone(),
        request,
        requested_model: "seedance-2.0-mini".into(),
        origin_dialect: "reapi".into(),
        status: TaskStatus::Queued,
        price: Price {
            billable_seconds: 5,
            credits: 1,
            micro_usd_per_second: 102_500,
        },
        attempt: 0,
        created_at_ms: now,
        updated_at_ms: now,
        started_at_ms: None,
        finished_at_ms: None,
        output: None,
        error: None,
        provider: None,
    }
}

/// A server that accepts connections and reads nothing, answers nothing, closes nothing.
async fn dead_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    base
}

#[tokio::test]
async fn a_backlog_of_5000_tasks_delays_another_accounts_task_by_one_claim_round() {
    let app = spawn_app_with(|s| {
        s.worker.concurrency = 2;
        s.local.instant = true;
        s.local.delay_ms = 100;
    })
    .await;
    let busy = app.create_key("backlog", 1_000_000).await;
    let (account, key) = owner_of(&app, &busy).await;
    // Account A's backlog, written straight to the store (as 5,000 submits would leave it).
    let inserted = Instant::now();
    let store = &app.store;
    futures::stream::iter(0..5_000)
        .for_each_concurrent(16, |_| {
            let task = queued_task(&account, &key, None);
            async move {
                store.create_task(&task, None).await.expect("create task");
            }
        })
        .await;
    eprintln!("5,000 tasks queued in {:?}", inserted.elapsed());

    // Account B (the development key's) submits one task.
    let submitted = Instant::now();
    let id = app
        .submit_ok(&json!({
            "model": "seedance-2.0-mini",
            "prompt": "my first task",
            "resolution": "480p",
            "duration": 4
        }))
        .await;
    let task_id = TaskId::from_string(id.clone());
    let started_at = loop {
        let task = app
            .store
            .load_task(&task_id)
            .await
            .expect("load")
            .expect("exists");
        if let Some(started) = task.started_at_ms {
            break (task.created_at_ms, started);
        }
        assert!(
            submitted.elapsed() < Duration::from_secs(10),
            "B's task did not start within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let (created_ms, started_ms) = started_at;
    // A's tasks claimed between B's submit and B's claim: one claim round (a worker slot
    // coming free) at most, one per worker.
    let page = app
        .store
        .list_tasks(
            &account,
            &TaskQuery {
                statuses: vec![
                    TaskStatus::Running,
                    TaskStatus::Succeeded,
                    TaskStatus::Failed,
                ],
                limit: 1_000,
                ..Default::default()
            },
        )
        .await
        .expect("list");
    let cut_in = page
        .tasks
        .iter()
        .filter_map(|t| t.started_at_ms)
        .filter(|&s| s >= created_ms && s <= started_ms)
        .count();
    assert!(
        cut_in <= 2,
        "{cut_in} of A's tasks started between B's submit and B's start ({} ms)",
        started_ms - created_ms
    );
    assert!(
        started_ms - created_ms < 2_000,
        "B's task waited {} ms",
        started_ms - created_ms
    );
    let done = app.wait_for_task(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
}

/// `POST /api/v1/videos/estimate` with one reference image.
async fn estimate(app: &TestApp, key: &str, image_url: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url("/api/v1/videos/estimate"))
        .bearer_auth(key)
        .json(&json!({
            "model": "seedance-2.0-mini",
            "prompt": "x",
            "reference_image_urls": [image_url],
            "resolution": "480p",
            "duration": 4
        }))
        .send()
        .await
        .expect("estimate");
    let status = r.status();
    (status, r.json().await.expect("json"))
}

#[tokio::test]
async fn slow_reference_urls_of_one_account_do_not_delay_another_accounts_estimate() {
    let app = spawn_app_with(|s| {
        // 8 fetches at once, 2 of them per account; a wait over a second is refused.
        s.probe_cache.max_concurrent_fetches = 8;
        s.fetch.per_account_concurrency = Some(2);
        s.fetch.queue_timeout_seconds = 1;
        s.fetch.timeout_seconds = 6;
    })
    .await;
    let dead = dead_server().await;
    let media = MediaServer::start().await;
    let slow_key = app.create_key("slow urls", 100_000).await;

    // Account A: ten estimates whose image never arrives.
    let mut slow = Vec::new();
    for n in 0..10 {
        let app_client = app.client.clone();
        let url = app.url("/api/v1/videos/estimate");
        let key = slow_key.clone();
        let image = format!("{dead}/stall/{n}.png");
        slow.push(tokio::spawn(async move {
            let r = app_client
                .post(url)
                .bearer_auth(key)
                .json(&json!({
                    "model": "seedance-2.0-mini",
                    "prompt": "x",
                    "reference_image_urls": [image],
                    "resolution": "480p",
                    "duration": 4
                }))
                .send()
                .await
                .expect("estimate");
            let status = r.status();
            let retry_after = r.headers().get("retry-after").cloned();
            let mut body: Value = r.json().await.expect("json");
            body["retry-after"] =
                json!(retry_after.and_then(|v| v.to_str().ok().map(str::to_string)));
            (status, body)
        }));
    }
    // Let A's requests take their slots and queue.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Account B's estimate with a fast image is answered at once.
    let start = Instant::now();
    let (status, body) = estimate(&app, &app.key, &media.image("640x480.png")).await;
    let took = start.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(took < Duration::from_secs(2), "B's estimate took {took:?}");

    // A's excess requests were refused as busy (retryable) once the queue timeout passed;
    // the two holding A's share ran into the fetch timeout.
    let mut busy = 0;
    for handle in slow {
        let (status, body) = handle.await.expect("join");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(
                message.contains("this account's media fetches are busy"),
                "{body}"
            );
            assert_eq!(
                body["retry-after"],
                json!("5"),
                "a busy refusal says when to retry"
            );
            busy += 1;
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        }
    }
    assert_eq!(busy, 8, "all but A's share of 2 were refused as busy");
}

#[tokio::test]
async fn dead_receivers_of_one_account_do_not_delay_another_accounts_callback() {
    let app = spawn_app_with(|s| {
        s.local.instant = true;
        s.callbacks.idle_poll_ms = 20;
        s.callbacks.jitter_percent = 0;
        s.callbacks.attempt_timeout_seconds = 20.0;
        s.callbacks.concurrency = 8;
        s.callbacks.per_host_concurrency = 8;
        s.callbacks.per_account_concurrency = Some(2);
    })
    .await;
    // Account A: 120 tasks, cancelled at once, calling back to 12 receivers (hosts) that
    // accept and never answer.
    let mut dead = Vec::new();
    for _ in 0..12 {
        dead.push(dead_server().await);
    }
    let stuck_key = app.create_key("dead receivers", 1_000_000).await;
    let (account, key) = owner_of(&app, &stuck_key).await;
    for n in 0..120 {
        let hook = format!("{}/hook/{n}", dead[n % dead.len()]);
        let task = queued_task(&account, &key, Some(&hook));
        app.store.create_task(&task, None).await.expect("create");
        // A task a worker already took finishes (instantly) and calls back all the same.
        let _ = app.store.cancel_task(&task.id, &account).await;
    }
    // A's deliveries are in flight now, each to wait out its 20 s timeout.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Account B (the development key's) calls back to a live receiver on another host.
    let live = Receiver::start(vec![]).await;
    let hook = live.url("/hook").replace("127.0.0.1", "localhost");
    let id = submit_with_callback(&app, &hook, "b").await;
    let task = crate::helpers::wait_for_task(
        &app.client,
        &app.base,
        &app.key,
        &id,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(task["status"], "completed", "{task}");
    let finished = Instant::now();
    live.wait_for(1, Duration::from_secs(3)).await;
    assert!(
        finished.elapsed() < Duration::from_secs(3),
        "B's callback took {:?}",
        finished.elapsed()
    );
}

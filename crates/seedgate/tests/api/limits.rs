//! Accounts, key policies and limits, from outside: every limit refused in every dialect's own
//! form (status, code, `Retry-After`, the IETF `RateLimit-Policy` / `RateLimit` headers), with
//! nothing created; denials (expired, revoked, model, address) in every dialect; a member's
//! view of their own account; an account's price plan.

use crate::helpers::{bearer_or_x_api_key, error_code, spawn_app, spawn_app_with, Call, TestApp};
use reqwest::StatusCode;
use seedgate::config::ProviderSettings;
use seedgate_core::accounts::Policy;
use seedgate_core::clock::SystemClock;
use seedgate_core::records::TaskQuery;
use seedgate_service::admin::AdminService;
use seedgate_store::{Actor, Changes};
use serde_json::{json, Value};
use std::sync::Arc;

/// A 4 s 480p text-only create in each dialect.
fn plain_creates() -> Vec<Call> {
    vec![
        Call {
            dialect: "reapi",
            path: "/api/v1/videos/generations",
            body: json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4}),
        },
        Call {
            dialect: "hiapi",
            path: "/v1/tasks",
            body: json!({"model": "seedance-2.0-mini",
                "input": {"prompt": "x", "resolution": "480p", "duration": 4}}),
        },
        Call {
            dialect: "apixo",
            path: "/api/v1/generateTask/seedance-2-0-mini",
            body: json!({"request_type": "async", "input": {"mode": "text-to-video",
                "prompt": "x", "resolution": "480p", "duration": 4}}),
        },
        Call {
            dialect: "crun",
            path: "/api/v1/client/job/CreateTask",
            body: json!({"model": "bytedance/seedance2-0-mini-t2v",
                "input": {"prompt": "x", "resolution": "480p", "duration": 4}}),
        },
        Call {
            dialect: "kie",
            path: "/api/v1/jobs/createTask",
            body: json!({"model": "bytedance/seedance-2-mini",
                "input": {"prompt": "x", "resolution": "480p", "duration": 4}}),
        },
        Call {
            dialect: "ark",
            path: "/api/v3/contents/generations/tasks",
            body: json!({"model": "dreamina-seedance-2-0-mini-260615", "resolution": "480p",
                "duration": 4, "content": [{"type": "text", "text": "x"}]}),
        },
        Call {
            dialect: "openai",
            path: "/v1/videos",
            body: json!({"model": "seedance-2.0-mini", "prompt": "x", "size": "864x496", "seconds": "4"}),
        },
    ]
}

/// What each dialect answers a refusal by a rate or concurrency limit, and by a budget.
fn limited_code(dialect: &str, limit: &str) -> Value {
    let budget = limit.ends_with("_budget");
    match dialect {
        "reapi" => json!(50001),
        "hiapi" if budget => json!("BUDGET_EXCEEDED"),
        "hiapi" => json!("RATE_LIMITED"),
        "apixo" | "crun" | "kie" => json!(429),
        "ark" if budget => json!("QuotaExceeded"),
        "ark" if limit == "in_flight" || limit == "queued" => {
            json!("RateLimitExceeded.ConcurrencyExceeded")
        }
        "ark" => json!("RateLimitExceeded.EndpointRPMExceeded"),
        "openai" if budget => json!("insufficient_quota"),
        "openai" => json!("rate_limit_exceeded"),
        other => panic!("unknown dialect {other}"),
    }
}

/// Submits through reAPI with `key`; the new task's id.
async fn submit_ok_as(app: &TestApp, key: &str, body: &Value) -> String {
    let r = app.submit_as(key, body).await;
    let status = r.status();
    let body: Value = r.json().await.expect("json");
    assert!(status.is_success(), "{status}: {body}");
    body["data"]["id"]
        .as_str()
        .or_else(|| body["id"].as_str())
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_string()
}

fn admin(app: &TestApp) -> AdminService {
    AdminService::new(app.store.clone(), Arc::new(SystemClock))
}

fn actor() -> Actor {
    Actor("limits-test".into())
}

fn policy(json: Value) -> Policy {
    serde_json::from_value(json).expect("policy")
}

/// A new account holding `credits` with `account_policy`, and a key in it with `key_policy`;
/// returns (account id, key).
async fn account_with_key(
    app: &TestApp,
    name: &str,
    credits: i64,
    account_policy: Value,
    key_policy: Value,
) -> (String, String) {
    let admin = admin(app);
    let account = admin
        .create_account(name, &policy(account_policy), credits, &actor())
        .await
        .expect("account");
    let key = admin
        .create_key(account.id.as_str(), name, &policy(key_policy), &actor())
        .await
        .expect("key");
    (account.id.to_string(), key.key)
}

async fn tasks_of_account(app: &TestApp, account: &str) -> usize {
    app.store
        .list_tasks(
            &seedgate_core::AccountId::from_string(account.to_string()),
            &TaskQuery {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .expect("list")
        .tasks
        .len()
}

/// A provider account whose upstream accepts connections and never answers: tasks sent to it
/// stay running for the whole test, so they count as in flight.
async fn hanging_upstream() -> ProviderSettings {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    ProviderSettings {
        timeout_seconds: 120.0,
        ..crate::helpers::ark_account("hanging", &format!("http://{addr}"), "k")
    }
}

async fn app_whose_tasks_stay_in_flight() -> TestApp {
    let upstream = hanging_upstream().await;
    spawn_app_with(move |s| {
        // Two workers, each soon stuck on a hanging task: later tasks stay queued.
        s.worker.concurrency = 2;
        crate::helpers::route_only_through(s, "seedance-2.0-mini", vec![upstream]);
        s.upstream.callbacks = Some(false);
    })
    .await
}

/// The price of one plain create (4 s at 480p), read from the estimate.
async fn price_of_a_plain_create(app: &TestApp) -> i64 {
    let r = app
        .client
        .post(app.url("/api/v1/videos/estimate"))
        .bearer_auth(&app.key)
        .json(&json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4}))
        .send()
        .await
        .expect("estimate");
    let body: Value = r.json().await.expect("json");
    body["credits"]
        .as_i64()
        .unwrap_or_else(|| panic!("no credits in {body}"))
}

/// Sends `call` with `key` and returns (status, headers, body).
async fn send(
    app: &TestApp,
    call: &Call,
    key: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = bearer_or_x_api_key(app, call, key)
        .json(&call.body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", call.dialect));
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers.get("retry-after")?.to_str().ok()?.parse().ok()
}

fn header(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// For each limit and each dialect: a fresh account whose one limit lets exactly one create
/// through; the second create is refused in the dialect's own form, says when to retry, and
/// creates nothing (no task, no money moved).
#[tokio::test]
async fn every_limit_is_refused_in_every_dialects_own_form_and_creates_nothing() {
    let app = app_whose_tasks_stay_in_flight().await;
    let price = price_of_a_plain_create(&app).await;
    let limits: Vec<(&str, Value)> = vec![
        (
            "submit_rate",
            json!({"submit_rate": {"limit": 1, "window_seconds": 3600}}),
        ),
        ("in_flight", json!({"max_in_flight": 1})),
        ("queued", json!({"max_queued": 1})),
        ("daily_budget", json!({"daily_budget": price})),
        ("monthly_budget", json!({"monthly_budget": price})),
        ("total_budget", json!({"total_budget": price})),
        // Two requests: the first create and the refused one.
        (
            "request_rate",
            json!({"request_rate": {"limit": 1, "window_seconds": 3600}}),
        ),
    ];
    for (limit, limits_json) in &limits {
        for (i, call) in plain_creates().into_iter().enumerate() {
            // Half the time the limit is the account's, half the time the key's.
            let on_key = i % 2 == 1;
            let (account_policy, key_policy) = if on_key {
                (json!({}), json!({"limits": limits_json}))
            } else {
                (json!({"limits": limits_json}), json!({}))
            };
            let name = format!("{limit}-{}-{i}", call.dialect);
            let (account, key) =
                account_with_key(&app, &name, 1_000_000, account_policy, key_policy).await;
            let what = format!(
                "{limit} on the {} in {}",
                if on_key { "key" } else { "account" },
                call.dialect
            );
            let (status, headers, body) = send(&app, &call, &key).await;
            assert!(
                status.is_success(),
                "{what}: the first create passes: {status} {body}"
            );
            if limit.ends_with("_rate") {
                assert!(
                    !header(&headers, "ratelimit-policy").is_empty(),
                    "{what}: a limited key's answers carry RateLimit-Policy"
                );
                assert!(
                    !header(&headers, "ratelimit").is_empty(),
                    "{what}: and RateLimit: {headers:?}"
                );
            }
            let balance = app
                .store
                .find_account(&account)
                .await
                .expect("find")
                .expect("a")
                .balance;
            let tasks = tasks_of_account(&app, &account).await;
            // (By the queued limit's turn both workers hang on earlier tasks: the first
            // create stays queued.)
            let (status, headers, body) = send(&app, &call, &key).await;
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{what}: {body}");
            assert_eq!(
                error_code(call.dialect, &body),
                limited_code(call.dialect, limit),
                "{what}: {body}"
            );
            let wait =
                retry_after(&headers).unwrap_or_else(|| panic!("{what}: Retry-After: {headers:?}"));
            assert!(wait >= 1, "{what}");
            match *limit {
                "submit_rate" | "request_rate" => {
                    assert!(wait > 3000 && wait <= 3600, "{what}: one per hour: {wait}");
                    let policy = header(&headers, "ratelimit-policy");
                    let kind = if *limit == "submit_rate" {
                        "submits"
                    } else {
                        "requests"
                    };
                    let scope = if on_key { "key" } else { "account" };
                    assert!(
                        policy.contains(&format!("\"{scope}-{kind}\";q=1;w=3600")),
                        "{what}: {policy}"
                    );
                    let state = header(&headers, "ratelimit");
                    assert!(
                        state.contains(&format!("\"{scope}-{kind}\";r=0;t=")),
                        "{what}: {state}"
                    );
                }
                "daily_budget" | "monthly_budget" => {
                    let text = body.to_string();
                    assert!(
                        text.contains(&limit.replace("_budget", "")),
                        "{what}: names the budget: {text}"
                    );
                    assert!(
                        text.contains("resets at"),
                        "{what}: says when it resets: {text}"
                    );
                    assert!(wait <= 31 * 86_400, "{what}: {wait}");
                }
                "total_budget" => {
                    let text = body.to_string();
                    assert!(
                        text.contains("total budget") && text.contains("does not reset"),
                        "{what}: {text}"
                    );
                }
                _ => {}
            }
            assert_eq!(
                tasks_of_account(&app, &account).await,
                tasks,
                "{what}: nothing created"
            );
            assert_eq!(
                app.store
                    .find_account(&account)
                    .await
                    .expect("find")
                    .expect("a")
                    .balance,
                balance,
                "{what}: no money moved"
            );
        }
    }
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");
}

/// What each dialect answers a key that expired or was revoked, a model the key may not use,
/// and a client address the key does not allow.
fn denial(dialect: &str, what: &str) -> (StatusCode, Value) {
    use StatusCode as S;
    match (what, dialect) {
        ("expired" | "revoked", "reapi") => (S::UNAUTHORIZED, json!(10004)),
        ("expired" | "revoked", "hiapi") => (S::UNAUTHORIZED, json!("UNAUTHORIZED")),
        ("expired" | "revoked", "apixo" | "crun" | "kie") => (S::UNAUTHORIZED, json!(401)),
        ("expired" | "revoked", "ark") => (S::UNAUTHORIZED, json!("AuthenticationError")),
        ("expired" | "revoked", "openai") => (S::UNAUTHORIZED, json!("invalid_api_key")),
        ("model", "reapi") => (S::BAD_REQUEST, json!(20004)),
        ("model", "hiapi") => (S::FORBIDDEN, json!("MODEL_NOT_ALLOWED")),
        ("model", "apixo") => (S::FORBIDDEN, json!(403)),
        ("model", "crun") => (StatusCode::from_u16(505).expect("505"), json!(505)),
        ("model", "kie") => (S::UNPROCESSABLE_ENTITY, json!(422)),
        ("model", "ark") => (S::FORBIDDEN, json!("AccessDenied")),
        ("model", "openai") => (S::FORBIDDEN, json!("model_not_allowed")),
        ("ip", "reapi") => (S::FORBIDDEN, json!(10006)),
        ("ip", "hiapi") => (S::FORBIDDEN, json!("FORBIDDEN")),
        ("ip", "apixo") => (S::FORBIDDEN, json!(403)),
        ("ip", "crun" | "kie") => (S::UNAUTHORIZED, json!(401)),
        ("ip", "ark") => (S::FORBIDDEN, json!("AccessDenied")),
        ("ip", "openai") => (S::FORBIDDEN, json!("ip_not_allowed")),
        other => panic!("no expectation for {other:?}"),
    }
}

#[tokio::test]
async fn expired_revoked_model_and_address_denials_in_every_dialects_own_form() {
    // Keys are re-read every request (no cache), so a revocation shows at once.
    let app = spawn_app_with(|s| {
        s.auth.key_cache_seconds = 0;
        // The test client is 127.0.0.1: trusted as a proxy, so `X-Forwarded-For` names the
        // client for the allow-list.
        s.auth.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    })
    .await;
    let past = seedgate_core::clock::now_ms() - 1000;
    let (_, expired) = account_with_key(
        &app,
        "expired",
        100_000,
        json!({}),
        json!({"expires_at_ms": past}),
    )
    .await;
    let (_, account_expired) = account_with_key(
        &app,
        "account-expired",
        100_000,
        json!({"expires_at_ms": past}),
        json!({}),
    )
    .await;
    let (_, revoked) = account_with_key(&app, "revoked", 100_000, json!({}), json!({})).await;
    admin(&app)
        .revoke_key(&revoked, &actor())
        .await
        .expect("revoke");
    let (_, other_model) = account_with_key(
        &app,
        "other-model",
        100_000,
        json!({}),
        json!({"allowed_models": ["seedance-2.5"]}),
    )
    .await;
    let (_, office) = account_with_key(
        &app,
        "office",
        100_000,
        json!({"ip_allow": ["10.0.0.0/8"]}),
        json!({}),
    )
    .await;

    for call in plain_creates() {
        for (what, key, forwarded) in [
            ("expired", &expired, None),
            ("expired", &account_expired, None),
            ("revoked", &revoked, None),
            ("model", &other_model, None),
            ("ip", &office, None),
            ("ip", &office, Some("192.0.2.7")),
        ] {
            let mut request = bearer_or_x_api_key(&app, &call, key).json(&call.body);
            if let Some(ip) = forwarded {
                request = request.header("x-forwarded-for", ip);
            }
            let r = request.send().await.expect("send");
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let (want_status, want_code) = denial(call.dialect, what);
            assert_eq!(status, want_status, "{what} in {}: {body}", call.dialect);
            assert_eq!(
                error_code(call.dialect, &body),
                want_code,
                "{what} in {}: {body}",
                call.dialect
            );
        }
        // From an allowed address, through the trusted proxy, the same key works.
        let r = bearer_or_x_api_key(&app, &call, &office)
            .header("x-forwarded-for", "203.0.113.1, 10.1.2.3")
            .json(&call.body)
            .send()
            .await
            .expect("send");
        assert!(
            r.status().is_success(),
            "{}: {}",
            call.dialect,
            r.text().await.unwrap_or_default()
        );
    }
    // A key allowed the model it asks for is accepted (by alias too).
    let (_, mini_only) = account_with_key(
        &app,
        "mini-only",
        100_000,
        json!({}),
        json!({"allowed_models": ["seedance-2.0-mini"]}),
    )
    .await;
    let r = app
        .submit_as(&mini_only, &json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4}))
        .await;
    assert!(
        r.status().is_success(),
        "{}",
        r.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn an_untrusted_peer_cannot_claim_an_allowed_address() {
    let app = spawn_app().await;
    let (_, office) = account_with_key(
        &app,
        "office",
        100_000,
        json!({}),
        json!({"ip_allow": ["10.0.0.0/8"]}),
    )
    .await;
    let r = app
        .client
        .post(app.url("/api/v1/videos/generations"))
        .bearer_auth(&office)
        .header("x-forwarded-for", "10.1.2.3")
        .json(&json!({"model": "seedance-2.0-mini", "prompt": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "X-Forwarded-For from a peer that is no trusted proxy is ignored"
    );
}

/// Every key of an account sees the account's tasks and balance; the member route shows the
/// limits with their use and what is left of each budget.
#[tokio::test]
async fn a_members_account_view_and_shared_tasks() {
    let app = spawn_app().await;
    let admin = admin(&app);
    let (account, first) = account_with_key(
        &app,
        "team",
        50_000,
        json!({"limits": {"daily_budget": 10_000, "max_in_flight": 5,
            "submit_rate": {"limit": 10, "window_seconds": 60}}}),
        json!({"labels": {"owner": "ana"}}),
    )
    .await;
    let second = admin
        .create_key(&account, "second", &Policy::default(), &actor())
        .await
        .expect("second key")
        .key;
    let id = submit_ok_as(
        &app,
        &first,
        &json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4}),
    )
    .await;
    let r = app.get_task_as(&second, &id).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "another key of the account reads the task"
    );
    let stranger = app.create_key("stranger", 1000).await;
    assert_eq!(
        app.get_task_as(&stranger, &id).await.status(),
        StatusCode::NOT_FOUND
    );

    let r = app
        .client
        .get(app.url("/api/v1/account"))
        .bearer_auth(&second)
        .send()
        .await
        .expect("account");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers().get("ratelimit-policy").is_some(),
        "the account's submit rate is announced on every answer"
    );
    let view: Value = r.json().await.expect("json");
    let spent = view["account"]["spent_today"].as_u64().expect("spent");
    assert!(spent > 0, "{view}");
    assert_eq!(view["account_id"], json!(account));
    assert_eq!(view["key_name"], json!("second"));
    assert_eq!(
        view["balance"].as_i64(),
        Some(50_000 - spent as i64),
        "{view}"
    );
    let daily = &view["account"]["budgets"][0];
    assert_eq!(daily["period"], json!("daily"));
    assert_eq!(daily["remaining"].as_u64(), Some(10_000 - spent), "{view}");
    assert!(daily["resets_at_ms"].as_i64().expect("reset") > seedgate_core::clock::now_ms());
    assert_eq!(view["account"]["limits"]["max_in_flight"], json!(5));
    assert_eq!(view["account"]["submits_remaining"], json!(9), "{view}");
    assert!(view["account"]["in_flight"].as_u64().is_some());
}

/// An account's price plan prices at quote time: the estimate shows it, the hold is that price.
#[tokio::test]
async fn a_price_plan_is_applied_at_quote_time_and_shown_by_the_estimate() {
    let app = spawn_app().await;
    let list_price = price_of_a_plain_create(&app).await;
    let (account, key) = account_with_key(
        &app,
        "discounted",
        100_000,
        json!({"price_plan": {"multiplier": 0.5}}),
        json!({}),
    )
    .await;
    let r = app
        .client
        .post(app.url("/api/v1/videos/estimate"))
        .bearer_auth(&key)
        .json(&json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4}))
        .send()
        .await
        .expect("estimate");
    let body: Value = r.json().await.expect("json");
    let text = body.to_string();
    assert!(
        text.contains("catalog prices × 0.5"),
        "the estimate names the plan: {text}"
    );
    let credits = body["credits"].as_i64().expect("credits");
    assert!(
        credits < list_price && credits >= list_price / 2,
        "{credits} vs {list_price}"
    );
    submit_ok_as(
        &app,
        &key,
        &json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4}),
    )
    .await;
    let balance = app
        .store
        .find_account(&account)
        .await
        .expect("find")
        .expect("a")
        .balance;
    assert_eq!(balance, 100_000 - credits, "the hold is the plan's price");
    // Changing the plan changes the next quote.
    admin(&app)
        .update_account(
            &account,
            &Changes {
                name: None,
                policy: Some(Policy::default()),
            },
            &actor(),
        )
        .await
        .expect("update");
}

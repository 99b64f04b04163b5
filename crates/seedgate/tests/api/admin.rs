//! The admin API under `/admin/v1`, over HTTP: admin tokens (never API keys), read-only
//! viewers, accounts, keys, credits, limits, the audit log, its error envelope and its place
//! in `/openapi.json`.

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use reqwest::StatusCode;
use seedgate_core::clock::SystemClock;
use seedgate_core::ledger::EntryKind;
use seedgate_service::admin::AdminService;
use seedgate_store::{Actor, AdminRole};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A new admin token with `role`, made as the command line makes one.
async fn admin_token(app: &TestApp, name: &str, role: AdminRole) -> String {
    AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .create_admin_token(name, role, &Actor("cli".into()))
        .await
        .expect("admin token")
        .token
}

/// `method path` with `token` (and a JSON body when given): the status and the JSON answer.
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.expect("request");
    let status = r.status();
    let text = r.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, json)
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    call(app, reqwest::Method::GET, path, Some(token), None).await
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    call(app, reqwest::Method::POST, path, Some(token), Some(body)).await
}

async fn patch(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    call(app, reqwest::Method::PATCH, path, Some(token), Some(body)).await
}

/// Asserts the admin error envelope with `code`; returns the message.
fn assert_admin_error(answer: &(StatusCode, Value), status: StatusCode, code: &str) -> String {
    let (actual, json) = answer;
    assert_eq!(*actual, status, "{json}");
    assert_eq!(json["error"]["code"], code, "{json}");
    let rid = json["error"]["request_id"].as_str().expect("request_id");
    assert!(rid.starts_with("req_"), "{json}");
    json["error"]["message"]
        .as_str()
        .expect("message")
        .to_string()
}

/// No secret and no hash in a record the admin API answers (bar an issued key's `key`).
fn assert_no_secrets(json: &Value) {
    let text = json.to_string();
    assert!(!text.contains("hash"), "{text}");
    assert!(!text.contains("\"token\":"), "{text}");
}

async fn create_account(app: &TestApp, token: &str, name: &str, credits: i64) -> Value {
    let (status, account) = post(
        app,
        "/admin/v1/accounts",
        token,
        json!({"name": name, "credits": credits}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    account
}

async fn create_key(app: &TestApp, token: &str, account: &str, name: &str) -> Value {
    let (status, key) = post(
        app,
        &format!("/admin/v1/accounts/{account}/keys"),
        token,
        json!({"name": name}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    key
}

/// The status `GET /api/v1/account` answers an API key.
async fn key_status(app: &TestApp, key: &str) -> StatusCode {
    app.client
        .get(app.url("/api/v1/account"))
        .bearer_auth(key)
        .send()
        .await
        .expect("request")
        .status()
}

#[tokio::test]
async fn the_admin_api_refuses_callers_without_an_admin_token() {
    let app = spawn_app().await;
    let revoked = admin_token(&app, "gone", AdminRole::Admin).await;
    AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .revoke_admin_token("gone", &Actor("cli".into()))
        .await
        .expect("revoke");
    for path in ["/admin/v1/accounts", "/admin/v1/keys", "/admin/v1/tokens"] {
        let none = call(&app, reqwest::Method::GET, path, None, None).await;
        assert_admin_error(&none, StatusCode::UNAUTHORIZED, "unauthenticated");
        // An API key is not an admin token, whatever its credits.
        let key = get(&app, path, &app.key).await;
        assert_admin_error(&key, StatusCode::UNAUTHORIZED, "unauthenticated");
        let unknown = get(&app, path, "sg_admin_not_a_token").await;
        assert_admin_error(&unknown, StatusCode::UNAUTHORIZED, "unauthenticated");
        let revoked = get(&app, path, &revoked).await;
        assert_admin_error(&revoked, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    // A write with an API key and a body it could not even read: still 401, and nothing made.
    let write = call(
        &app,
        reqwest::Method::POST,
        "/admin/v1/accounts",
        Some(&app.key),
        Some(json!({"name": "sneaky"})),
    )
    .await;
    assert_admin_error(&write, StatusCode::UNAUTHORIZED, "unauthenticated");
    let token = admin_token(&app, "ops", AdminRole::Admin).await;
    let (_, accounts) = get(&app, "/admin/v1/accounts", &token).await;
    assert!(!accounts.to_string().contains("sneaky"), "{accounts}");
    // An admin token is not an API key either.
    assert_eq!(key_status(&app, &token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_viewer_reads_everything_but_every_write_is_refused() {
    let app = spawn_app().await;
    let admin = admin_token(&app, "ops", AdminRole::Admin).await;
    let viewer = admin_token(&app, "auditor", AdminRole::Viewer).await;
    let account = create_account(&app, &admin, "team-a", 1000).await;
    let id = account["id"].as_str().expect("id").to_string();
    let key = create_key(&app, &admin, "team-a", "ci").await;
    let key_id = key["id"].as_str().expect("id").to_string();

    for path in [
        "/admin/v1/accounts".to_string(),
        format!("/admin/v1/accounts/{id}"),
        "/admin/v1/accounts/team-a/limits".to_string(),
        "/admin/v1/accounts/team-a/keys".to_string(),
        "/admin/v1/keys".to_string(),
        format!("/admin/v1/keys/{key_id}"),
        "/admin/v1/audit".to_string(),
        "/admin/v1/tokens".to_string(),
    ] {
        let (status, body) = get(&app, &path, &viewer).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_no_secrets(&body);
    }
    let audit_before = get(&app, "/admin/v1/audit", &admin).await.1["data"]
        .as_array()
        .expect("data")
        .len();
    let writes: Vec<(reqwest::Method, String, Value)> = vec![
        (
            reqwest::Method::POST,
            "/admin/v1/accounts".into(),
            json!({"name": "x"}),
        ),
        (
            reqwest::Method::PATCH,
            format!("/admin/v1/accounts/{id}"),
            json!({"name": "y"}),
        ),
        (
            reqwest::Method::POST,
            "/admin/v1/accounts/team-a/keys".into(),
            json!({"name": "k"}),
        ),
        (
            reqwest::Method::POST,
            "/admin/v1/accounts/team-a/credits".into(),
            json!({"amount": 5, "note": "gift"}),
        ),
        (
            reqwest::Method::PATCH,
            format!("/admin/v1/keys/{key_id}"),
            json!({"name": "z"}),
        ),
        (
            reqwest::Method::POST,
            format!("/admin/v1/keys/{key_id}/rotate"),
            json!({}),
        ),
        (
            reqwest::Method::POST,
            format!("/admin/v1/keys/{key_id}/revoke"),
            json!({}),
        ),
    ];
    for (method, path, body) in writes {
        let answer = call(&app, method.clone(), &path, Some(&viewer), Some(body)).await;
        assert_admin_error(&answer, StatusCode::FORBIDDEN, "read_only");
    }
    // Nothing moved.
    let (_, after) = get(&app, &format!("/admin/v1/accounts/{id}"), &viewer).await;
    assert_eq!(after["name"], "team-a");
    assert_eq!(after["balance"], 1000);
    let audit_after = get(&app, "/admin/v1/audit", &admin).await.1["data"]
        .as_array()
        .expect("data")
        .len();
    assert_eq!(audit_before, audit_after);
    assert_eq!(
        key_status(&app, key["key"].as_str().expect("key")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_account_is_created_shown_patched_and_every_write_is_audited() {
    let app = spawn_app().await;
    let token = admin_token(&app, "ops", AdminRole::Admin).await;
    let (status, account) = post(
        &app,
        "/admin/v1/accounts",
        &token,
        json!({"name": "team-b", "credits": 2500,
               "policy": {"labels": {"team": "b"}, "limits": {"max_in_flight": 3}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let id = account["id"].as_str().expect("id").to_string();
    assert_eq!(account["balance"], 2500);
    assert_eq!(account["policy"]["limits"]["max_in_flight"], 3);
    assert_no_secrets(&account);

    // By name and by id, and in the list.
    for path in [
        "/admin/v1/accounts/team-b".to_string(),
        format!("/admin/v1/accounts/{id}"),
    ] {
        let (status, shown) = get(&app, &path, &token).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert_eq!(shown, account);
    }
    let (_, list) = get(&app, "/admin/v1/accounts", &token).await;
    assert!(list["data"]
        .as_array()
        .expect("data")
        .iter()
        .any(|a| a["id"] == id.as_str()));

    // A second account of the same name is a conflict.
    let duplicate = post(
        &app,
        "/admin/v1/accounts",
        &token,
        json!({"name": "team-b"}),
    )
    .await;
    assert_admin_error(&duplicate, StatusCode::CONFLICT, "conflict");
    // Nor may another account be renamed to it.
    create_account(&app, &token, "team-other", 0).await;
    let clash = patch(
        &app,
        "/admin/v1/accounts/team-other",
        &token,
        json!({"name": "team-b"}),
    )
    .await;
    assert_admin_error(&clash, StatusCode::CONFLICT, "conflict");
    // An unknown account is 404.
    let missing = get(&app, "/admin/v1/accounts/nobody", &token).await;
    assert_admin_error(&missing, StatusCode::NOT_FOUND, "not_found");

    let (status, patched) = patch(
        &app,
        "/admin/v1/accounts/team-b",
        &token,
        json!({"policy": {"limits": {"max_in_flight": 7, "daily_budget": 900}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["policy"]["limits"]["max_in_flight"], 7);
    assert_eq!(patched["policy"]["limits"]["daily_budget"], 900);
    assert_eq!(patched["name"], "team-b");
    let (status, renamed) = patch(
        &app,
        &format!("/admin/v1/accounts/{id}"),
        &token,
        json!({"name": "team-b2"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "team-b2");
    assert_eq!(
        renamed["policy"], patched["policy"],
        "a rename keeps the policy"
    );

    let (status, audit) = get(&app, &format!("/admin/v1/audit?target={id}"), &token).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit["data"].as_array().expect("data");
    assert!(entries.len() >= 3, "{audit}");
    for e in entries {
        let actor = e["actor"].as_str().expect("actor");
        assert!(
            actor.starts_with("token:") && actor.ends_with(" (ops)"),
            "{actor}"
        );
        assert_eq!(e["target"], id.as_str(), "{e}");
        assert!(e["action"].is_string() && e["at_ms"].is_i64(), "{e}");
    }
    let creation = &entries[0];
    assert!(creation["before"].is_null(), "{creation}");
    assert_eq!(creation["after"]["name"], "team-b", "{creation}");
    let policy_change = entries
        .iter()
        .find(|e| {
            e["after"]["policy"]["limits"]["max_in_flight"] == 7
                && e["before"]["policy"]["limits"]["max_in_flight"] == 3
        })
        .unwrap_or_else(|| panic!("no entry for the policy change: {audit}"));
    assert_ne!(policy_change["action"], creation["action"]);
    assert_eq!(audit["next_after"], entries.last().expect("last")["seq"]);
    // Paging: after the first entry comes the second.
    let first_seq = entries[0]["seq"].as_i64().expect("seq");
    let (_, page) = get(
        &app,
        &format!("/admin/v1/audit?target={id}&after={first_seq}&limit=1"),
        &token,
    )
    .await;
    assert_eq!(page["data"].as_array().expect("data").len(), 1, "{page}");
    assert_eq!(page["data"][0]["seq"], entries[1]["seq"]);
    let bad = get(&app, "/admin/v1/audit?after=soon", &token).await;
    assert_admin_error(&bad, StatusCode::BAD_REQUEST, "invalid_request");

    // The token that made them is listed, never its secret.
    let (_, tokens) = get(&app, "/admin/v1/tokens", &token).await;
    let listed = &tokens["data"][0];
    assert_eq!(listed["name"], "ops");
    assert_eq!(listed["role"], "admin");
    assert!(listed.get("token").is_none() && !tokens.to_string().contains(&token));
    assert!(!tokens.to_string().contains("hash"));
}

#[tokio::test]
async fn a_key_made_through_the_admin_api_works_and_sees_its_accounts_tasks() {
    let app = spawn_app().await;
    let token = admin_token(&app, "ops", AdminRole::Admin).await;
    let account = create_account(&app, &token, "team-c", 100_000).await;
    let first = create_key(&app, &token, "team-c", "one").await;
    let secret = first["key"].as_str().expect("key").to_string();
    assert!(secret.starts_with("sg_live_"), "{first}");
    assert_eq!(first["account_id"], account["id"]);
    assert!(secret.starts_with(first["key_prefix"].as_str().expect("prefix")));

    let me: Value = app
        .client
        .get(app.url("/api/v1/account"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(me["account_id"], account["id"], "{me}");
    assert_eq!(me["balance"], 100_000, "{me}");

    let r = app
        .submit_as(
            &secret,
            &json!({"model": "seedance-2.0-mini", "prompt": "x", "resolution": "480p", "duration": 4}),
        )
        .await;
    let status = r.status();
    let task: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{task}");
    let task_id = task["id"].as_str().expect("id");

    // Another key of the same account sees the task; the development key's account does not.
    let second = create_key(&app, &token, account["id"].as_str().expect("id"), "two").await;
    let second = second["key"].as_str().expect("key");
    assert_eq!(
        app.get_task_as(second, task_id).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_task_as(&secret, task_id).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_task_as(&app.key, task_id).await.status(),
        StatusCode::NOT_FOUND
    );

    // The account's keys, by name, never with a secret; a key is found by the key itself.
    let (_, keys) = get(&app, "/admin/v1/accounts/team-c/keys", &token).await;
    let keys = keys["data"].as_array().expect("data");
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.get("key").is_none()));
    assert!(!Value::Array(keys.clone()).to_string().contains(&secret));
    let (status, found) = get(&app, &format!("/admin/v1/keys/{secret}"), &token).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["id"], first["id"]);
    assert!(found.get("key").is_none());
    let (_, all) = get(&app, "/admin/v1/keys", &token).await;
    assert!(all["data"].as_array().expect("data").len() >= 3, "{all}");
    let unknown = post(
        &app,
        "/admin/v1/accounts/nobody/keys",
        &token,
        json!({"name": "k"}),
    )
    .await;
    assert_admin_error(&unknown, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_rotated_key_stops_working_and_a_revoked_one_too() {
    let app = spawn_app_with(|s| s.auth.key_cache_seconds = 1).await;
    let token = admin_token(&app, "ops", AdminRole::Admin).await;
    create_account(&app, &token, "team-d", 1000).await;
    let key = create_key(&app, &token, "team-d", "rotating").await;
    let old = key["key"].as_str().expect("key").to_string();
    assert_eq!(key_status(&app, &old).await, StatusCode::OK);

    let (status, rotated) = post(
        &app,
        &format!("/admin/v1/keys/{}/rotate", key["id"].as_str().expect("id")),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["id"], key["id"]);
    let new = rotated["key"].as_str().expect("key").to_string();
    assert_ne!(new, old);
    assert_eq!(key_status(&app, &new).await, StatusCode::OK);
    // The old secret may be remembered for the key cache's lifetime (1 s here), no longer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(key_status(&app, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(key_status(&app, &new).await, StatusCode::OK);

    let (status, revoked) = post(&app, "/admin/v1/keys/rotating/revoke", &token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at_ms"].is_i64(), "{revoked}");
    assert!(revoked.get("key").is_none());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(key_status(&app, &new).await, StatusCode::UNAUTHORIZED);
    let (_, shown) = get(&app, "/admin/v1/keys/rotating", &token).await;
    assert!(shown["revoked_at_ms"].is_i64(), "{shown}");
}

#[tokio::test]
async fn credits_move_by_one_ledger_entry_and_never_below_zero() {
    let app = spawn_app().await;
    let token = admin_token(&app, "ops", AdminRole::Admin).await;
    let account = create_account(&app, &token, "team-e", 1000).await;
    let id = account["id"].as_str().expect("id").to_string();
    let grants_of = |dump: &seedgate_store::LedgerDump| {
        dump.entries
            .iter()
            .filter(|e| e.account_id == id && e.kind == EntryKind::Grant)
            .map(|e| e.amount)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        grants_of(&app.store.ledger_dump().await.expect("dump")),
        vec![1000]
    );

    let (status, granted) = post(
        &app,
        "/admin/v1/accounts/team-e/credits",
        &token,
        json!({"amount": 500, "note": "top-up"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{granted}");
    assert_eq!(granted["balance"], 1500);
    let (status, debited) = post(
        &app,
        &format!("/admin/v1/accounts/{id}/credits"),
        &token,
        json!({"amount": -300, "note": "correction"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{debited}");
    assert_eq!(debited["balance"], 1200);

    // A debit beyond the balance: 402, and nothing moves.
    let too_much = post(
        &app,
        "/admin/v1/accounts/team-e/credits",
        &token,
        json!({"amount": -5000, "note": "oops"}),
    )
    .await;
    let message = assert_admin_error(
        &too_much,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_credits",
    );
    assert!(message.contains("1200"), "{message}");
    // Neither 0 nor a missing note moves anything.
    let zero = post(
        &app,
        "/admin/v1/accounts/team-e/credits",
        &token,
        json!({"amount": 0, "note": "n"}),
    )
    .await;
    assert_admin_error(&zero, StatusCode::BAD_REQUEST, "invalid_request");
    let no_note = post(
        &app,
        "/admin/v1/accounts/team-e/credits",
        &token,
        json!({"amount": 5}),
    )
    .await;
    assert_admin_error(&no_note, StatusCode::BAD_REQUEST, "invalid_request");
    let blank_note = post(
        &app,
        "/admin/v1/accounts/team-e/credits",
        &token,
        json!({"amount": 5, "note": " "}),
    )
    .await;
    assert_admin_error(&blank_note, StatusCode::BAD_REQUEST, "invalid_request");
    let nobody = post(
        &app,
        "/admin/v1/accounts/nobody/credits",
        &token,
        json!({"amount": 5, "note": "n"}),
    )
    .await;
    assert_admin_error(&nobody, StatusCode::NOT_FOUND, "not_found");
    // No balance can grow past what a 64-bit sum holds in both databases (schemathesis once
    // found SQLite turning an overflowing balance into a float): one huge grant is 400, and
    // grants that would add up past the cap are 409; nothing moves.
    let max = seedgate_core::ledger::MAX_BALANCE;
    let huge = post(
        &app,
        "/admin/v1/accounts/team-e/credits",
        &token,
        json!({"amount": max + 1, "note": "n"}),
    )
    .await;
    assert_admin_error(&huge, StatusCode::BAD_REQUEST, "invalid_request");
    let past_cap = post(
        &app,
        "/admin/v1/accounts/team-e/credits",
        &token,
        json!({"amount": max, "note": "n"}),
    )
    .await;
    let message = assert_admin_error(&past_cap, StatusCode::CONFLICT, "conflict");
    assert!(message.contains("1200"), "{message}");

    let dump = app.store.ledger_dump().await.expect("dump");
    assert_eq!(
        grants_of(&dump),
        vec![1000, 500, -300],
        "one entry per grant"
    );
    let (_, shown) = get(&app, "/admin/v1/accounts/team-e", &token).await;
    assert_eq!(shown["balance"], 1200);
    let violations = seedgate_core::ledger::verify(&dump.entries, &dump.tasks, &dump.balances);
    assert!(violations.is_empty(), "{violations:?}");
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");

    // Each grant is audited with its note.
    let (_, audit) = get(&app, &format!("/admin/v1/audit?target={id}"), &token).await;
    assert!(
        audit.to_string().contains("top-up") || audit["data"].as_array().expect("data").len() >= 3,
        "{audit}"
    );
}

#[tokio::test]
async fn unreadable_requests_and_invalid_policies_are_400_and_change_nothing() {
    let app = spawn_app().await;
    let token = admin_token(&app, "ops", AdminRole::Admin).await;
    create_account(&app, &token, "team-f", 0).await;
    let cases: Vec<(&str, Value)> = vec![
        (
            "/admin/v1/accounts",
            json!({"name": "p1", "policy": {"limitz": {}}}),
        ),
        (
            "/admin/v1/accounts",
            json!({"name": "p2", "policy": {"limits": {"submit_rate": {"limit": 0, "window_seconds": 60}}}}),
        ),
        (
            "/admin/v1/accounts",
            json!({"name": "p3", "policy": {"limits": {"max_in_flight": "many"}}}),
        ),
        (
            "/admin/v1/accounts",
            json!({"name": "p4", "colour": "blue"}),
        ),
        ("/admin/v1/accounts", json!({"name": ""})),
        ("/admin/v1/accounts", json!({"name": "p5", "credits": -1})),
        ("/admin/v1/accounts", json!({})),
        ("/admin/v1/accounts", json!([1, 2])),
        (
            "/admin/v1/accounts/team-f/keys",
            json!({"name": "k", "policy": {"limits": {"request_rate": {"limit": 5, "window_seconds": 0}}}}),
        ),
        // Only accounts carry a price plan.
        (
            "/admin/v1/accounts/team-f/keys",
            json!({"name": "k", "policy": {"price_plan": {"multiplier": 0.5}}}),
        ),
        (
            "/admin/v1/accounts/team-f/credits",
            json!({"amount": "lots", "note": "n"}),
        ),
    ];
    for (path, body) in cases {
        let answer = post(&app, path, &token, body.clone()).await;
        let message = assert_admin_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
        assert!(!message.is_empty(), "{path} {body}");
    }
    let patches: Vec<Value> = vec![
        json!({"policy": {"unknown": true}}),
        json!({"policy": {"limits": {"submit_rate": {"limit": 10, "window_seconds": 0}}}}),
        json!({"name": "   "}),
        json!({"nickname": "x"}),
    ];
    for body in patches {
        let answer = patch(&app, "/admin/v1/accounts/team-f", &token, body).await;
        assert_admin_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    }
    // Not JSON at all, or no JSON content type.
    for (content_type, body) in [("application/json", "{not json"), ("text/plain", "{}")] {
        let r = app
            .client
            .post(app.url("/admin/v1/accounts"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = r.status();
        let json: Value = r.json().await.expect("json");
        assert_admin_error(&(status, json), StatusCode::BAD_REQUEST, "invalid_request");
    }
    // A method a path does not serve: 405 in the same envelope.
    let wrong = call(
        &app,
        reqwest::Method::DELETE,
        "/admin/v1/accounts",
        Some(&token),
        None,
    )
    .await;
    assert_admin_error(&wrong, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");

    let (_, accounts) = get(&app, "/admin/v1/accounts", &token).await;
    let names: Vec<&str> = accounts["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with('p')), "{names:?}");
    let (_, account) = get(&app, "/admin/v1/accounts/team-f", &token).await;
    assert_eq!(account["policy"], json!({}));
    let (_, keys) = get(&app, "/admin/v1/accounts/team-f/keys", &token).await;
    assert_eq!(keys["data"], json!([]));
}

#[tokio::test]
async fn limits_report_what_an_accounts_tasks_use() {
    let app = spawn_app().await;
    let token = admin_token(&app, "ops", AdminRole::Admin).await;
    let (status, _) = post(
        &app,
        "/admin/v1/accounts",
        &token,
        json!({"name": "team-g", "credits": 100_000, "policy": {"limits": {"max_in_flight": 4, "daily_budget": 50_000}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = create_key(&app, &token, "team-g", "busy").await;
    let secret = key["key"].as_str().expect("key");

    let (status, idle) = get(&app, "/admin/v1/accounts/team-g/limits", &token).await;
    assert_eq!(status, StatusCode::OK, "{idle}");
    assert_eq!(idle["usage"]["in_flight"], 0, "{idle}");
    assert_eq!(idle["usage"]["spent_today"], 0, "{idle}");

    // A task the local renderer holds for a while: in flight when the limits are read.
    let r = app
        .submit_as(
            secret,
            &json!({"model": "seedance-2.0-mini", "prompt": "x [[seedgate:delay:20000]]", "resolution": "480p", "duration": 4}),
        )
        .await;
    let status = r.status();
    let task: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{task}");

    let (status, busy) = get(&app, "/admin/v1/accounts/team-g/limits", &token).await;
    assert_eq!(status, StatusCode::OK, "{busy}");
    let usage = &busy["usage"];
    assert_eq!(usage["in_flight"], 1, "{busy}");
    assert!(usage["queued"].as_u64().expect("queued") <= 1, "{busy}");
    assert!(usage["spent_today"].as_u64().expect("spent") > 0, "{busy}");
    assert_eq!(usage["limits"]["max_in_flight"], 4, "{busy}");
    let daily = &usage["budgets"][0];
    assert_eq!(daily["period"], "daily", "{busy}");
    assert_eq!(daily["limit"], 50_000, "{busy}");
    assert_eq!(daily["spent"], usage["spent_today"], "{busy}");
    assert_eq!(busy["account"]["name"], "team-g");
    let keys = busy["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{busy}");
    assert_eq!(keys[0]["key"]["id"], key["id"]);
    assert_eq!(keys[0]["usage"]["in_flight"], 1, "{busy}");
    assert!(keys[0]["key"].get("key").is_none());
    assert_no_secrets(&busy);
}

/// Every admin operation, as (method, OpenAPI path).
const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("get", "/admin/v1/accounts"),
    ("post", "/admin/v1/accounts"),
    ("get", "/admin/v1/accounts/{account}"),
    ("patch", "/admin/v1/accounts/{account}"),
    ("get", "/admin/v1/accounts/{account}/limits"),
    ("get", "/admin/v1/accounts/{account}/keys"),
    ("post", "/admin/v1/accounts/{account}/keys"),
    ("post", "/admin/v1/accounts/{account}/credits"),
    ("get", "/admin/v1/keys"),
    ("get", "/admin/v1/keys/{key}"),
    ("patch", "/admin/v1/keys/{key}"),
    ("post", "/admin/v1/keys/{key}/rotate"),
    ("post", "/admin/v1/keys/{key}/revoke"),
    ("get", "/admin/v1/audit"),
    ("get", "/admin/v1/tokens"),
    ("get", "/admin/v1/tasks"),
    ("get", "/admin/v1/tasks/{id}"),
    ("post", "/admin/v1/tasks/{id}/cancel"),
    ("post", "/admin/v1/tasks/{id}/refund"),
    ("post", "/admin/v1/tasks/{id}/callbacks/redeliver"),
    ("get", "/admin/v1/usage"),
    ("get", "/admin/v1/tasks/{id}/timeline"),
    ("get", "/admin/v1/alerts"),
    ("get", "/admin/v1/upstreams"),
    ("post", "/admin/v1/upstreams/check"),
    ("post", "/admin/v1/upstreams/{name}/check"),
    ("get", "/admin/v1/disk"),
    ("post", "/admin/v1/retention/run"),
];

#[tokio::test]
async fn every_admin_route_is_in_openapi_json_with_its_errors() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    let documented: usize = paths
        .iter()
        .filter(|(p, _)| p.starts_with("/admin/"))
        .map(|(_, item)| item.as_object().map_or(0, |i| i.len()))
        .sum();
    assert_eq!(
        documented,
        ADMIN_ROUTES.len(),
        "an admin route is not listed here"
    );
    for (method, path) in ADMIN_ROUTES {
        let op = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from openapi.json"))[*method];
        assert!(op.is_object(), "{method} {path} missing");
        assert_eq!(op["tags"][0], "Admin", "{method} {path}");
        assert_eq!(
            op["security"][0]["admin_token"],
            json!([]),
            "{method} {path}"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.contains_key("200") || responses.contains_key("201"),
            "{method} {path}"
        );
        assert!(responses.contains_key("401"), "{method} {path}");
        // Writes can be refused (a viewer token, bad input, a conflict); an upstream check
        // writes nothing and any admin token may run it.
        if *method != "get" && !path.ends_with("/check") {
            for status in ["400", "403", "409"] {
                // A retention pass takes no input.
                if status == "400" && path.ends_with("/retention/run") {
                    continue;
                }
                assert!(responses.contains_key(status), "{method} {path} {status}");
            }
        }
        if path.contains('{') {
            assert!(responses.contains_key("404"), "{method} {path}");
        }
        // Every documented error is in the admin envelope.
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/AdminErrorEnvelope",
                    "{method} {path} {status}"
                );
            }
        }
    }
    assert!(doc["components"]["securitySchemes"]["admin_token"].is_object());
    assert!(doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .any(|t| t["name"] == "Admin"));
    // The schemas the admin paths refer to are all present.
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "AdminAccount",
        "AdminIssuedKey",
        "AdminLimits",
        "AdminAuditList",
        "AdminErrorEnvelope",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    // Every documented admin operation exists: without a token, each answers 401 (never 404).
    for (method, path) in ADMIN_ROUTES {
        let url = app.url(&path.replace("{account}", "a").replace("{key}", "k"));
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let r = app
            .client
            .request(method.clone(), url)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

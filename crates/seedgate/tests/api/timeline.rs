//! Task timelines, black-box: what a task went through, read by its owner at
//! `GET /api/v1/tasks/{id}/timeline` and by operators at `GET /admin/v1/tasks/{id}/timeline`.
//! A task that fails over from a dead upstream account to a live one and is refunded when its
//! result cannot be copied shows each step in order, with the accounts and ledger entries; a
//! successful one ends settled, with its callback attempts; another account reads nothing.

use crate::callbacks::{quick_callbacks, submit_with_callback, wait_settled, Receiver, Reply};
use crate::crash_recovery::free_port;
use crate::helpers::{ark_account, spawn_app, spawn_app_with, wait_for_task, TestApp};
use crate::upstreams::tasks_of;
use reqwest::StatusCode;
use seedgate_core::clock::SystemClock;
use seedgate_service::admin::AdminService;
use seedgate_store::{Actor, AdminRole};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const MODEL: &str = "seedance-2.0-mini";
/// 480p × 4 s at $0.0475/s.
const PRICE: i64 = 190;
const CLIENT_CREDITS: i64 = 10_000;

/// `GET path` with `token`: the status and the JSON answer.
async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.expect("json"))
}

/// The member's timeline of `id`, which must be readable.
async fn timeline_of(app: &TestApp, key: &str, id: &str) -> Vec<Value> {
    let (status, body) = get(app, &format!("/api/v1/tasks/{id}/timeline"), key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["task_id"], id);
    body["data"].as_array().expect("data").clone()
}

fn kinds(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect()
}

fn the<'a>(entries: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = entries.iter().filter(|e| e["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}: {entries:#?}");
    found[0]
}

/// The ledger entries naming `task`, as the ledger numbers them: `(seq, kind, amount)`.
async fn ledger_of(app: &TestApp, task: &str) -> Vec<(i64, &'static str, i64)> {
    let dump = app.store.ledger_dump().await.expect("dump");
    dump.entries
        .into_iter()
        .filter(|e| e.task_id.as_deref() == Some(task))
        .map(|e| (e.seq, e.kind.as_str(), e.amount))
        .collect()
}

async fn admin_token(app: &TestApp) -> String {
    AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .create_admin_token("ops", AdminRole::Viewer, &Actor("cli".into()))
        .await
        .expect("admin token")
        .token
}

#[tokio::test]
async fn a_failed_over_task_whose_result_cannot_be_copied_shows_every_step_in_order() {
    // The upstream renders at once, but the links it hands out point at a port where nothing
    // listens: its result cannot be copied.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let upstream = spawn_app_with({
        let nowhere = nowhere.clone();
        move |s| {
            s.local.instant = true;
            s.public_base_url = Some(nowhere);
        }
    })
    .await;
    let upstream_key = upstream.create_key("front service", 10_000).await;
    // The front tries a dead account first, then the live one.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let front = spawn_app_with({
        let live = upstream.base.clone();
        let upstream_key = upstream_key.clone();
        move |s| {
            crate::helpers::route_only_through(
                s,
                MODEL,
                vec![
                    ark_account("ark-dead", &dead, "sk-dead"),
                    ark_account("ark-live", &live, &upstream_key),
                ],
            );
            s.upstream.poll_min_ms = 100;
            s.upstream.poll_max_ms = 500;
            s.upstream.callbacks = Some(false);
            s.upstream.rehost_attempts = 2;
            s.upstream.rehost_backoff_ms = 100;
        }
    })
    .await;
    let client = front.create_key("client", CLIENT_CREDITS).await;
    let body = json!({"model": MODEL, "prompt": "a lost result", "resolution": "480p",
                      "aspect_ratio": "16:9", "duration": 4});
    let r = front.submit_as(&client, &body).await;
    let created: Value = r.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_string();
    let task = wait_for_task(
        &front.client,
        &front.base,
        &client,
        &id,
        Duration::from_secs(40),
    )
    .await;
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(front.balance_of(&client).await, CLIENT_CREDITS, "refunded");

    let entries = timeline_of(&front, &client, &id).await;
    assert_eq!(
        kinds(&entries),
        [
            "accepted",
            "hold_placed",
            "claimed",
            "submit_sent",
            "upstream_error",
            "failed_over",
            "submit_sent",
            "upstream_accepted",
            "upstream_status",
            "result_copy_failed",
            "failed",
            "refunded",
        ],
        "{entries:#?}"
    );
    let at: Vec<i64> = entries
        .iter()
        .map(|e| e["at_ms"].as_i64().expect("at_ms"))
        .collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "in time order: {at:?}");

    // Accepted with its quote, through reAPI with the client's key.
    let accepted = &entries[0];
    assert_eq!(accepted["dialect"], "reapi");
    assert_eq!(accepted["credits"], PRICE);
    assert_eq!(accepted["billable_seconds"], 4);
    assert_eq!(accepted["model"], MODEL);
    // The money, with the ledger's own entries.
    let ledger = ledger_of(&front, &id).await;
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!(
        (&entries[1]["ledger_seq"], &entries[1]["amount"]),
        (&json!(ledger[0].0), &json!(-PRICE))
    );
    assert_eq!(ledger[0].1, "hold");
    assert_eq!(
        (&entries[11]["ledger_seq"], &entries[11]["amount"]),
        (&json!(ledger[1].0), &json!(PRICE))
    );
    assert_eq!(ledger[1].1, "release");
    // The attempt: a worker of this process, the dead account refusing to connect (a
    // transient error, so the next account is tried), then the live one.
    assert_eq!(entries[2]["attempt"], 1);
    assert_eq!(entries[2]["rescued"], false);
    assert!(
        entries[2]["worker"].as_str().is_some_and(|w| !w.is_empty()),
        "{}",
        entries[2]
    );
    assert_eq!(entries[3]["upstream_account"], "ark-dead");
    assert_eq!(entries[4]["upstream_account"], "ark-dead");
    assert_eq!(entries[4]["operation"], "submit");
    assert_eq!(entries[4]["class"], "transient");
    assert_eq!(
        (&entries[5]["from_account"], &entries[5]["to_account"]),
        (&json!("ark-dead"), &json!("ark-live"))
    );
    assert_eq!(entries[6]["upstream_account"], "ark-live");
    // The upstream's own id of the job, as the upstream itself knows its only task.
    let upstream_tasks = tasks_of(&upstream, &upstream_key).await;
    assert_eq!(upstream_tasks.len(), 1);
    assert_eq!(entries[7]["upstream_account"], "ark-live");
    assert_eq!(
        entries[7]["upstream_task_id"],
        upstream_tasks[0].id.as_str()
    );
    assert_eq!(entries[8]["status"], "succeeded");
    assert_eq!(
        entries[8]["upstream_task_id"],
        entries[7]["upstream_task_id"]
    );
    // The copy failed, which failed the task.
    assert!(
        entries[9]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with(&format!("tasks/{id}/"))),
        "{}",
        entries[9]
    );
    assert_eq!(entries[10]["error"]["kind"], "upstream_error");
    assert!(
        entries[10]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("could not copy the result")),
        "{}",
        entries[10]
    );

    // Operators read the same timeline, whoever owns the task.
    let token = admin_token(&front).await;
    let (status, admin) = get(&front, &format!("/admin/v1/tasks/{id}/timeline"), &token).await;
    assert_eq!(status, StatusCode::OK, "{admin}");
    assert_eq!(admin["data"].as_array().expect("data"), &entries);
    let (status, _) = get(&front, &format!("/admin/v1/tasks/{id}/timeline"), &client).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an API key is no admin token"
    );
    let (status, missing) = get(&front, "/admin/v1/tasks/task_nothing/timeline", &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    assert_eq!(missing["error"]["code"], "not_found");
    let (code, out) = front.ledger_verify();
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn a_member_cannot_read_another_accounts_timeline() {
    let app = spawn_app_with(|s| s.local.instant = true).await;
    let id = app
        .submit_ok(&json!({"model": MODEL, "prompt": "mine", "duration": 4,
                           "resolution": "480p"}))
        .await;
    app.wait_for_task(&id).await;
    let stranger = app.create_key("stranger", 1_000).await;
    let (status, theirs) = get(&app, &format!("/api/v1/tasks/{id}/timeline"), &stranger).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{theirs}");
    let (status, unknown) = get(&app, "/api/v1/tasks/task_nothing/timeline", &stranger).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    // Told apart from a task that does not exist by nothing but the request id.
    assert_eq!(theirs["code"], unknown["code"]);
    assert_eq!(theirs["message"], unknown["message"]);
    // Without a key, nothing at all.
    let r = app
        .client
        .get(app.url(&format!("/api/v1/tasks/{id}/timeline")))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The owner reads it.
    assert!(!timeline_of(&app, &app.key, &id).await.is_empty());
}

#[tokio::test]
async fn a_successful_task_ends_settled_and_shows_its_callback_attempts() {
    let receiver = Receiver::start(vec![Reply::Status(500), Reply::Status(200)]).await;
    let app = spawn_app_with(|s| {
        quick_callbacks(s);
        s.local.instant = true;
    })
    .await;
    let id = submit_with_callback(&app, &receiver.url("/hook"), "called back").await;
    let record = wait_settled(&app, &id).await;
    assert_eq!(record["callback"]["state"], "delivered", "{record}");

    let entries = timeline_of(&app, &app.key, &id).await;
    let ledger = ledger_of(&app, &id).await;
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!(ledger[1].1, "settle");
    // Whatever the attempt went through, the task's own story ends succeeded, then settled
    // with the ledger's entry; the callback attempts follow.
    let story: Vec<&Value> = entries
        .iter()
        .filter(|e| e["kind"] != "callback_attempt")
        .collect();
    let last_two: Vec<&str> = story[story.len() - 2..]
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(last_two, ["succeeded", "settled"], "{entries:#?}");
    let settled = the(&entries, "settled");
    assert_eq!(settled["ledger_seq"], ledger[1].0);
    assert_eq!(settled["amount"], 0);
    assert_eq!(the(&entries, "hold_placed")["ledger_seq"], ledger[0].0);
    let copied = the(&entries, "result_copied");
    assert!(copied["bytes"].as_u64().is_some_and(|b| b > 0), "{copied}");
    assert_eq!(the(&entries, "accepted")["dialect"], "kie");

    let attempts: Vec<&Value> = entries
        .iter()
        .filter(|e| e["kind"] == "callback_attempt")
        .collect();
    let seen: Vec<(u64, u64, &str)> = attempts
        .iter()
        .map(|a| {
            (
                a["attempt"].as_u64().expect("attempt"),
                a["status"].as_u64().expect("status"),
                a["event"].as_str().expect("event"),
            )
        })
        .collect();
    assert_eq!(seen, [(1, 500, "final"), (2, 200, "final")], "{entries:#?}");
    let settled_at = settled["at_ms"].as_i64().expect("at");
    assert!(attempts
        .iter()
        .all(|a| a["at_ms"].as_i64().expect("at") >= settled_at));
}

#[tokio::test]
async fn the_timeline_routes_are_documented() {
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
    for path in [
        "/api/v1/tasks/{id}/timeline",
        "/admin/v1/tasks/{id}/timeline",
    ] {
        let op = &doc["paths"][path]["get"];
        assert!(op.is_object(), "{path} is documented");
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/TimelineObject",
            "{path}"
        );
    }
    // Each event is its own schema, told apart by `kind`.
    let event = doc["components"]["schemas"]["TimelineEvent"].to_string();
    for kind in ["accepted", "failed_over", "refunded", "callback_attempt"] {
        assert!(event.contains(&format!("\"{kind}\"")), "{kind}: {event}");
    }
}

#[tokio::test]
async fn an_operators_refund_is_merged_in_and_its_operator_hidden_from_the_member() {
    let app = spawn_app_with(|s| s.local.instant = true).await;
    let id = app
        .submit_ok(
            &json!({"model": MODEL, "prompt": "refunded later", "duration": 4,
                           "resolution": "480p"}),
        )
        .await;
    let task = app.wait_for_task(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let token = AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .create_admin_token("ops", AdminRole::Admin, &Actor("cli".into()))
        .await
        .expect("admin token")
        .token;
    let r = app
        .client
        .post(app.url(&format!("/admin/v1/tasks/{id}/refund")))
        .bearer_auth(&token)
        .json(&json!({"note": "the video was black", "credits": 50}))
        .send()
        .await
        .expect("refund");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );

    let ledger = ledger_of(&app, &id).await;
    let refund = ledger
        .iter()
        .find(|(_, kind, _)| *kind == "refund")
        .copied()
        .expect("a refund entry");
    // The operator's view: the refund entry and who gave it, after the settle.
    let (status, admin) = get(&app, &format!("/admin/v1/tasks/{id}/timeline"), &token).await;
    assert_eq!(status, StatusCode::OK, "{admin}");
    let admin = admin["data"].as_array().expect("data").clone();
    let order = kinds(&admin);
    let settled = order.iter().position(|k| *k == "settled").expect("settled");
    let entry = order
        .iter()
        .position(|k| *k == "ledger_entry")
        .expect("refund");
    assert!(settled < entry, "{order:?}");
    let refunded = &admin[entry];
    assert_eq!(
        (
            &refunded["ledger_seq"],
            &refunded["ledger_kind"],
            &refunded["amount"]
        ),
        (&json!(refund.0), &json!("refund"), &json!(50))
    );
    assert_eq!(refunded["note"], "the video was black");
    let action = the(&admin, "operator_action");
    assert_eq!(action["action"], "task.refund");
    assert!(
        action["actor"].as_str().is_some_and(|a| a.contains("ops")),
        "{action}"
    );
    // The member sees that an operator refunded, not which token did it.
    let member = timeline_of(&app, &app.key, &id).await;
    assert_eq!(kinds(&member), order);
    let action = the(&member, "operator_action");
    assert_eq!(action["action"], "task.refund");
    assert_eq!(action["actor"], "operator");
    assert!(action.get("before").is_none() && action.get("after").is_none());
}

#[tokio::test]
async fn each_upstream_status_change_is_one_line_however_many_polls() {
    let upstream = spawn_app_with(|s| s.local.instant = true).await;
    let upstream_key = upstream.create_key("front service", 10_000).await;
    let front = spawn_app_with({
        let base = upstream.base.clone();
        let key = upstream_key.clone();
        move |s| {
            crate::helpers::route_only_through(
                s,
                MODEL,
                vec![ark_account("ark-main", &base, &key)],
            );
            s.upstream.poll_min_ms = 100;
            s.upstream.poll_max_ms = 200;
            s.upstream.callbacks = Some(false);
        }
    })
    .await;
    // Two seconds upstream: a dozen polls or so.
    let id = front
        .submit_ok(
            &json!({"model": MODEL, "prompt": "slow [[seedgate:delay:2000]]",
                           "resolution": "480p", "duration": 4}),
        )
        .await;
    let task = front.wait_for_task(&id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let entries = timeline_of(&front, &front.key, &id).await;
    let statuses: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "upstream_status")
        .map(|e| e["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "running").count(),
        1,
        "running once, not once per poll: {statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&"succeeded"), "{statuses:?}");
    assert!(
        statuses.windows(2).all(|w| w[0] != w[1]),
        "only changes: {statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| ["queued", "running", "succeeded"].contains(s)),
        "{statuses:?}"
    );
    let accepted = the(&entries, "upstream_accepted");
    assert_eq!(accepted["upstream_account"], "ark-main");
    assert_eq!(
        the(&entries, "result_copied")["key"],
        format!("tasks/{id}/1/0.mp4")
    );
}

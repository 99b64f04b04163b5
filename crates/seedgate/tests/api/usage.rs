//! Usage reports over HTTP: after a mixed run (successes, failures, a cancel and a manual
//! refund, across two accounts) the operator's report (`GET /admin/v1/usage`) adds up to the
//! ledger's own sums over the same range, its CSV reads back with a stock CSV reader, a
//! member's report (`GET /api/v1/usage`) holds their account only, and bad parameters are a
//! 400 in each route's envelope.

use crate::helpers::{assert_error, figures_of, spawn_app, TestApp};
use reqwest::StatusCode;
use seedgate_core::clock::SystemClock;
use seedgate_core::ledger::EntryKind;
use seedgate_core::task::TaskStatus;
use seedgate_core::usage::{bucket_label, Dimension, UsageFigures};
use seedgate_service::admin::AdminService;
use seedgate_store::{Actor, AdminRole};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The end of every range below: 2100-01-01, well after anything the run writes.
const FAR_FUTURE_MS: i64 = 4_102_444_800_000;

async fn admin_token(app: &TestApp, role: AdminRole) -> String {
    AdminService::new(app.store.clone(), Arc::new(SystemClock))
        .create_admin_token("usage-test", role, &Actor("cli".into()))
        .await
        .expect("admin token")
        .token
}

/// `GET path` with `token`: the status, the content type and the body.
async fn get(
    app: &TestApp,
    path: &str,
    token: &str,
    accept: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let r = request.send().await.expect("request");
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, r.text().await.expect("body"))
}

async fn get_json(app: &TestApp, path: &str, token: &str) -> Value {
    let (status, content_type, body) = get(app, path, token, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The ledger's own figures over `[0, FAR_FUTURE_MS)`, only `account`'s entries when given.
async fn ledger_figures(
    app: &TestApp,
    seconds: &HashMap<String, i64>,
    account: Option<&str>,
) -> UsageFigures {
    let dump = app.store.ledger_dump().await.expect("dump");
    let facts: HashMap<String, (TaskStatus, i64)> = dump
        .tasks
        .iter()
        .map(|t| {
            (
                t.task_id.clone(),
                (t.status, seconds.get(&t.task_id).copied().unwrap_or(0)),
            )
        })
        .collect();
    let entries: Vec<_> = dump
        .entries
        .into_iter()
        .filter(|e| account.is_none_or(|a| e.account_id == a))
        .collect();
    UsageFigures::from_ledger(&entries, &facts, 0, FAR_FUTURE_MS)
}

/// Waits (a while) for a worker to take the task, so the operator cancels a running task.
async fn wait_until_running(app: &TestApp, id: &str) {
    let id = seedgate_core::TaskId::from_string(id);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let task = app.store.load_task(&id).await.expect("load").expect("task");
        if task.status == TaskStatus::Running {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} was never claimed");
}

#[tokio::test]
async fn usage_reports_add_up_to_the_ledger_in_json_and_csv() {
    let app = spawn_app().await;
    let admin = admin_token(&app, AdminRole::Admin).await;
    let viewer = admin_token(&app, AdminRole::Viewer).await;
    let other = app.create_key("other-team", 5_000).await;

    // (key, body, billable seconds): 480p × 4 s costs 190, 720p × 5 s 513.
    let small = |prompt: &str| json!({"model": "seedance-2.0-mini", "prompt": prompt, "resolution": "480p", "duration": 4});
    let plan = [
        (app.key.clone(), small("one"), 4),
        (app.key.clone(), small("two"), 4),
        (
            app.key.clone(),
            json!({"model": "seedance-2.0-mini", "prompt": "wide"}),
            5,
        ),
        (app.key.clone(), small("bad [[seedgate:fail]]"), 4),
        (other.clone(), small("theirs"), 4),
        (other.clone(), small("theirs too [[seedgate:fail]]"), 4),
    ];
    let mut seconds = HashMap::new();
    let mut ids = Vec::new();
    for (key, body, secs) in &plan {
        let r = app.submit_as(key, body).await;
        let status = r.status();
        let json: Value = r.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "{json}");
        let id = json["id"].as_str().expect("id").to_string();
        seconds.insert(id.clone(), *secs);
        ids.push(id);
    }
    // One more, slow, cancelled by the operator while it runs.
    let slow = app.submit_ok(&small("slow [[seedgate:delay:30000]]")).await;
    seconds.insert(slow.clone(), 4);
    wait_until_running(&app, &slow).await;
    let r = app
        .client
        .post(app.url(&format!("/admin/v1/tasks/{slow}/cancel")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("cancel");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    for (id, (key, _, _)) in ids.iter().zip(&plan) {
        crate::helpers::wait_for_task(&app.client, &app.base, key, id, Duration::from_secs(90))
            .await;
    }
    // A manual refund of part of the first success.
    let r = app
        .client
        .post(app.url(&format!("/admin/v1/tasks/{}/refund", ids[0])))
        .bearer_auth(&admin)
        .json(&json!({"note": "the video was blank", "credits": 100}))
        .send()
        .await
        .expect("refund");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let (code, out) = app.ledger_verify();
    assert_eq!(code, 0, "{out}");

    // The operator's report, grouped three ways, over everything.
    let path =
        format!("/admin/v1/usage?from=0&to={FAR_FUTURE_MS}&group_by=account,model,resolution");
    let report = get_json(&app, &path, &viewer).await;
    assert_eq!(report["object"], "usage_report");
    assert_eq!(
        report["group_by"],
        json!(["account", "model", "resolution"])
    );
    let totals = figures_of(&report["totals"]);
    assert_eq!(totals, ledger_figures(&app, &seconds, None).await);
    // What was done: seven tasks, four settled, two failed, one cancelled, one refund of 100.
    assert_eq!(
        (
            totals.tasks,
            totals.succeeded,
            totals.failed,
            totals.cancelled,
            totals.refunds,
            totals.refunded
        ),
        (7, 4, 2, 1, 1, 4)
    );
    assert_eq!(totals.credits_refunded, 100);
    assert_eq!(totals.credits_charged, 190 + 190 + 513 + 190 - 100);
    assert_eq!(totals.billable_seconds, 4 + 4 + 5 + 4);
    // The ledger's raw sums: every task-bound entry, and the holds alone.
    let dump = app.store.ledger_dump().await.expect("dump");
    let task_sum: i64 = dump
        .entries
        .iter()
        .filter(|e| e.task_id.is_some())
        .map(|e| e.amount)
        .sum();
    let holds: i64 = dump
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Hold)
        .map(|e| e.amount)
        .sum();
    assert_eq!(totals.credits_charged, -task_sum);
    assert_eq!(totals.credits_held, -holds);
    // The rows add up to the totals.
    let rows = report["data"].as_array().expect("data");
    let mut sum = UsageFigures::default();
    for row in rows {
        sum.add(&figures_of(row));
        for column in ["account", "account_name", "model", "resolution"] {
            assert!(row[column].is_string(), "{column} in {row}");
        }
        assert!(row.get("upstream_account").is_none(), "{row}");
    }
    assert_eq!(sum, totals);
    let resolutions: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["resolution"].as_str())
        .collect();
    assert!(
        resolutions.contains(&"480p") && resolutions.contains(&"720p"),
        "{resolutions:?}"
    );

    // The same report as CSV, read back with a stock CSV reader.
    let (status, content_type, csv_body) =
        get(&app, &format!("{path}&format=csv"), &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{csv_body}");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let mut reader = csv::Reader::from_reader(csv_body.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .expect("headers")
        .iter()
        .map(str::to_owned)
        .collect();
    let mut expected_headers = vec!["account", "account_name", "model", "resolution"];
    expected_headers.extend(UsageFigures::COLUMNS.iter().map(|(name, _)| *name));
    assert_eq!(headers, expected_headers);
    let records: Vec<HashMap<String, String>> = reader
        .deserialize()
        .collect::<Result<_, _>>()
        .expect("CSV rows");
    assert_eq!(records.len(), rows.len());
    for (name, _) in UsageFigures::COLUMNS {
        let column: i64 = records
            .iter()
            .map(|r| r[name].parse::<i64>().expect("a number"))
            .sum();
        assert_eq!(json!(column), report["totals"][name], "{name}");
    }
    // Asked for by Accept alone.
    let (status, content_type, _) = get(&app, &path, &admin, Some("text/csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"), "{content_type}");

    // `seedgate usage` on the same database writes the same figures.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_seedgate"));
    command
        .args(["usage", "--from", "0", "--to", &FAR_FUTURE_MS.to_string()])
        .args([
            "--group-by",
            "account,model,resolution",
            "--csv",
            "--data-dir",
        ])
        .arg(app.data_dir.path())
        .env_remove("SEEDGATE_CONFIG")
        .env_remove("SEEDGATE_DATABASE_URL");
    if let Some(url) = &app.database_url {
        command.env("SEEDGATE_DATABASE_URL", url);
    }
    let out = command.output().expect("run seedgate usage");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), csv_body);

    // Filtered to one account, by name, grouped by day: today's UTC day.
    let other_account = app
        .store
        .find_credential(&seedgate_service::auth::hash_key(&other))
        .await
        .expect("lookup")
        .expect("key")
        .account;
    let one = get_json(
        &app,
        &format!(
            "/admin/v1/usage?from=0&to={FAR_FUTURE_MS}&account={}&group_by=day,upstream_account",
            other_account.name
        ),
        &admin,
    )
    .await;
    assert_eq!(one["filters"]["account"], other_account.id.to_string());
    assert_eq!(
        figures_of(&one["totals"]),
        ledger_figures(&app, &seconds, Some(other_account.id.as_str())).await
    );
    let today = bucket_label(Dimension::Day, seedgate_core::clock::now_ms()).expect("day");
    for row in one["data"].as_array().expect("data") {
        assert_eq!(row["day"], today.as_str(), "{row}");
        // The built-in renderer is no upstream account: the column is there, and empty.
        assert!(row["upstream_account"].is_null(), "{row}");
    }

    // A member sees their own account only, whatever they group by.
    let mine = get_json(
        &app,
        &format!("/api/v1/usage?from=0&to={FAR_FUTURE_MS}&group_by=account,key"),
        &other,
    )
    .await;
    let rows = mine["data"].as_array().expect("data");
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(row["account"], other_account.id.to_string(), "{row}");
    }
    assert_eq!(
        figures_of(&mine["totals"]),
        ledger_figures(&app, &seconds, Some(other_account.id.as_str())).await
    );
    assert_eq!(figures_of(&mine["totals"]).tasks, 2);
    let (status, content_type, body) = get(
        &app,
        &format!("/api/v1/usage?from=0&to={FAR_FUTURE_MS}&format=csv"),
        &other,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let totals_row: Vec<HashMap<String, String>> =
        reader.deserialize().collect::<Result<_, _>>().expect("CSV");
    assert_eq!(totals_row.len(), 1);
    assert_eq!(totals_row[0]["tasks"], "2");
}

#[tokio::test]
async fn bad_usage_parameters_are_a_400_in_each_routes_envelope() {
    let app = spawn_app().await;
    let admin = admin_token(&app, AdminRole::Viewer).await;
    for query in [
        "from=yesterday",
        "to=-3",
        "from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z",
        "group_by=colour",
        "group_by=model,model",
        "format=xml",
        "groupby=model",
        "model=",
    ] {
        let (status, _, body) = get(&app, &format!("/admin/v1/usage?{query}"), &admin, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let json: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(json["error"]["code"], "invalid_request", "{query}: {json}");
    }
    let (status, _, body) = get(&app, "/admin/v1/usage?account=nobody", &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // No token, or an API key instead of one.
    let r = app
        .client
        .get(app.url("/admin/v1/usage"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let (status, _, _) = get(&app, "/admin/v1/usage", &app.key, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    for query in [
        "from=yesterday",
        "group_by=upstream_account",
        "account=acct_someone_else",
        "key=not-mine",
        "format=pdf",
    ] {
        let r = app
            .client
            .get(app.url(&format!("/api/v1/usage?{query}")))
            .bearer_auth(&app.key)
            .send()
            .await
            .expect("request");
        assert_error(r, StatusCode::BAD_REQUEST, 20003).await;
    }
    let r = app
        .client
        .get(app.url("/api/v1/usage"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

//! The operators' pages in Chromium: credits granted through a form reach the member's
//! balance, a task refunded by hand shows it in its timeline and the audit log, the usage CSV
//! downloads and parses, keys are made, rotated and revoked through forms, and a viewer token
//! reads every page without a form to change anything.

use crate::browser::{Browser, ConsoleApp};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn task_body() -> Value {
    json!({"model": "seedance-2.0-mini", "prompt": "a red fox", "duration": 4,
           "resolution": "480p", "aspect_ratio": "16:9"})
}

/// `GET /api/v1/account` with `key`: its status and body.
async fn account_of(console: &ConsoleApp, key: &str) -> (u16, Value) {
    let r = console
        .app
        .client
        .get(console.url("/api/v1/account"))
        .bearer_auth(key)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Submits the form at `form` (a CSS selector), saying yes to its confirmation, and waits for
/// the next page.
async fn submit(browser: &Browser, form: &str) {
    browser
        .eval("window.confirm = () => true; document.body.dataset.leaving = '1'; return true")
        .await;
    browser.click(&format!("{form} button[type=submit]")).await;
    browser
        .wait_until(
            "the form's answer",
            "return document.readyState === 'complete' && document.body && !document.body.dataset.leaving",
            WAIT,
        )
        .await;
}

async fn body_text(browser: &Browser) -> String {
    browser
        .eval("return document.body.innerText")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Reads the `#new-secret` a created or rotated key's page shows.
async fn shown_secret(browser: &Browser) -> String {
    let secret = browser.text("#new-secret").await.trim().to_string();
    assert!(secret.starts_with("sg_live_"), "{secret}");
    assert_eq!(
        browser
            .eval("return document.querySelector('[data-copy=\"new-secret\"]') !== null")
            .await,
        Value::Bool(true)
    );
    secret
}

/// Credits as the pages write them (the formatting has its own unit test in the console).
use seedgate_console::layout::grouped;

#[tokio::test]
async fn an_operator_grants_credits_and_the_members_balance_page_shows_them() {
    let console = ConsoleApp::spawn().await;
    let (_, before) = account_of(&console, &console.app.key).await;
    let account_id = before["account_id"]
        .as_str()
        .expect("account id")
        .to_string();
    let balance_before = before["balance"].as_i64().expect("balance");

    let browser = Browser::start().await;
    browser
        .sign_in(&console.app.base, &console.operator_token)
        .await;
    assert_eq!(browser.path().await, "/console/admin/accounts");
    let list = browser.text("#accounts").await;
    assert!(list.contains(&account_id), "{list}");
    browser.screenshots("operator-accounts").await;
    browser
        .click(&format!(
            "#accounts a[href='/console/admin/accounts/{account_id}']"
        ))
        .await;
    browser
        .wait_until(
            "the account's page",
            "return !!document.querySelector('#grant')",
            WAIT,
        )
        .await;

    // A debit beyond the balance is refused next to the form, and nothing moves.
    browser.fill("#grant-amount", "-999999999").await;
    browser.fill("#grant-note", "too much").await;
    submit(&browser, "#grant").await;
    let refused = browser.text("#grant-error").await;
    assert!(refused.contains("insufficient credits"), "{refused}");
    assert_eq!(
        account_of(&console, &console.app.key).await.1["balance"],
        json!(balance_before)
    );

    browser.fill("#grant-amount", "2500").await;
    browser.fill("#grant-note", "goodwill for the outage").await;
    submit(&browser, "#grant").await;
    let notice = browser.text(".notice").await;
    assert!(notice.contains("Granted 2,500 credits"), "{notice}");
    let shown = browser.text("#account-balance").await;
    assert!(
        shown.contains(&grouped(balance_before + 2500)),
        "{shown} after {balance_before} + 2500"
    );
    browser.screenshots("operator-account").await;

    // The member signs in and their account page shows the new balance.
    browser.click("form.signout button").await;
    browser
        .wait_until(
            "signed out",
            "return location.pathname === '/console/sign-in'",
            WAIT,
        )
        .await;
    browser.sign_in(&console.app.base, &console.app.key).await;
    browser.goto(&console.url("/console/account")).await;
    let credits = browser
        .eval("const e = document.querySelector('#balance-credits'); return e ? Number(e.dataset.credits) : null")
        .await;
    assert_eq!(credits, json!(balance_before + 2500));
    let (_, after) = account_of(&console, &console.app.key).await;
    assert_eq!(after["balance"], json!(balance_before + 2500));
}

#[tokio::test]
async fn an_operator_refunds_a_task_by_hand_its_timeline_shows_it_and_the_usage_csv_adds_up() {
    let console = ConsoleApp::spawn().await;
    let (_, account) = account_of(&console, &console.app.key).await;
    let account_id = account["account_id"]
        .as_str()
        .expect("account id")
        .to_string();
    let before = account["balance"].as_i64().expect("balance");
    let task_id = console.app.submit_ok(&task_body()).await;
    let done = console.app.wait_for_task(&task_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let charged = before
        - account_of(&console, &console.app.key).await.1["balance"]
            .as_i64()
            .expect("balance");
    assert!(charged > 0);

    let browser = Browser::start().await;
    browser
        .sign_in(&console.app.base, &console.operator_token)
        .await;
    browser.goto(&console.url("/console/admin/tasks")).await;
    let found = browser.text("#task-search").await;
    assert!(found.contains(&task_id), "{found}");
    browser.screenshots("operator-tasks").await;
    // Filtered by account and status, the task is still found.
    browser.fill("#account", &account_id).await;
    browser
        .eval("document.querySelector('#status').value = 'succeeded'; return true")
        .await;
    submit(&browser, "form.task-filters").await;
    assert!(browser.path().await.ends_with("/console/admin/tasks"));
    assert!(browser.text("#task-search").await.contains(&task_id));
    browser
        .click(&format!(
            "#task-search a[href='/console/admin/tasks/{task_id}']"
        ))
        .await;
    browser
        .wait_until(
            "the task's page",
            "return !!document.querySelector('#refund-task')",
            WAIT,
        )
        .await;
    assert!(browser.text("#op-task-facts").await.contains("succeeded"));

    // More than was charged is refused next to the form.
    browser
        .fill("#refund-credits", &(charged + 1).to_string())
        .await;
    browser.fill("#refund-note", "too much").await;
    submit(&browser, "#refund-task").await;
    let refused = browser.text("#refund-error").await;
    assert!(refused.contains("at most"), "{refused}");

    browser.fill("#refund-credits", "").await;
    browser.fill("#refund-note", "the fox came out blue").await;
    submit(&browser, "#refund-task").await;
    let notice = browser.text(".notice").await;
    assert!(
        notice.contains(&format!("Refunded {} credits", grouped(charged))),
        "{notice}"
    );
    let timeline = browser.text("#op-timeline").await;
    assert!(
        timeline.contains("refund") && timeline.contains("the fox came out blue"),
        "{timeline}"
    );
    assert!(
        browser
            .text("#op-task-cost")
            .await
            .contains("Refunded by hand"),
        "the cost panel names the manual refund"
    );
    // Refunded once: the form is gone.
    assert_eq!(
        browser
            .eval("return document.querySelector('#refund-task') === null")
            .await,
        Value::Bool(true)
    );
    browser.screenshots("operator-task").await;
    assert_eq!(
        account_of(&console, &console.app.key).await.1["balance"],
        json!(before)
    );

    browser.goto(&console.url("/console/admin/audit")).await;
    let audit = browser.text("#audit").await;
    assert!(
        audit.contains("task.refund") && audit.contains(&task_id),
        "{audit}"
    );
    browser.screenshots("operator-audit-log").await;

    // Usage: the charts and table, and the CSV the page links to.
    browser.goto(&console.url("/console/admin/usage")).await;
    let table = browser.text("#usage-table").await;
    assert!(table.contains(&account_id), "{table}");
    assert_eq!(
        browser
            .eval("return document.querySelectorAll('figure.chart svg').length")
            .await,
        json!(2)
    );
    browser.screenshots("operator-usage").await;
    let download = browser
        .eval_async(
            "const link = document.querySelector('#download-csv');
             const answer = await fetch(link.href, {credentials: 'same-origin'});
             return {status: answer.status,
                     type: answer.headers.get('content-type'),
                     disposition: answer.headers.get('content-disposition'),
                     body: await answer.text()};",
        )
        .await;
    assert_eq!(download["status"], 200, "{download}");
    assert!(
        download["type"]
            .as_str()
            .unwrap_or_default()
            .starts_with("text/csv"),
        "{download}"
    );
    assert!(
        download["disposition"]
            .as_str()
            .unwrap_or_default()
            .starts_with("attachment"),
        "{download}"
    );
    let text = download["body"].as_str().expect("CSV text");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("a header row").clone();
    let rows: Vec<HashMap<String, String>> = reader
        .records()
        .map(|r| {
            let r = r.expect("a CSV record");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    let ours: Vec<&HashMap<String, String>> = rows
        .iter()
        .filter(|r| r.get("account").map(String::as_str) == Some(account_id.as_str()))
        .collect();
    assert_eq!(ours.len(), 1, "{text}");
    let row = ours[0];
    let figure = |name: &str| -> i64 {
        row.get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    assert_eq!(
        row.get("model").map(String::as_str),
        Some("seedance-2.0-mini")
    );
    assert_eq!(figure("tasks"), 1);
    assert_eq!(figure("succeeded"), 1);
    assert_eq!(figure("refunds"), 1);
    assert_eq!(figure("credits_refunded"), charged);
    assert_eq!(figure("credits_charged"), 0);
    assert_eq!(
        figure("credits_held") - figure("credits_returned") - figure("credits_refunded"),
        figure("credits_charged")
    );
    // The page's total is the CSV's.
    let total: i64 = rows
        .iter()
        .filter_map(|r| r.get("credits_charged").and_then(|v| v.parse::<i64>().ok()))
        .sum();
    let shown = browser.text("#total-charged").await;
    assert!(shown.starts_with(&grouped(total)), "{shown} vs {total}");

    browser.goto(&console.url("/console/admin/upstreams")).await;
    let upstreams = browser.text("#upstreams").await;
    assert!(upstreams.contains("local"), "{upstreams}");
    browser.screenshots("operator-upstreams").await;
}

#[tokio::test]
async fn keys_are_created_rotated_and_revoked_through_the_forms_and_a_limit_is_edited() {
    // Keys are not remembered, so a rotation or revocation takes effect at once.
    let console = ConsoleApp::spawn_with(|s| s.auth.key_cache_seconds = 0).await;
    let browser = Browser::start().await;
    browser
        .sign_in(&console.app.base, &console.operator_token)
        .await;

    // A new account, with starting credits.
    browser.fill("#new-name", "acme studio").await;
    browser.fill("#new-credits", "5000").await;
    submit(&browser, "#create-account").await;
    assert!(browser
        .text(".notice")
        .await
        .contains("Account acme studio created"));
    let account_path = browser.path().await;
    assert!(account_path.starts_with("/console/admin/accounts/"));
    // The same name again is refused next to the form.
    browser.goto(&console.url("/console/admin/accounts")).await;
    browser.fill("#new-name", "acme studio").await;
    submit(&browser, "#create-account").await;
    assert!(browser
        .text("#create-account-error")
        .await
        .contains("exists already"));
    browser.goto(&console.url(&account_path)).await;

    // A key: its secret is shown once and works.
    browser.fill("#new-key-name", "render farm").await;
    submit(&browser, "#create-key").await;
    let first = shown_secret(&browser).await;
    browser.screenshots("operator-key-created").await;
    let (status, me) = account_of(&console, &first).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["account_name"], "acme studio");
    assert_eq!(me["balance"], 5000);

    // A limit edited; a wrong address refused next to its form, nothing saved.
    browser.goto(&console.url(&account_path)).await;
    browser.fill("#account-inflight", "2").await;
    browser.fill("#account-daily", "1,500").await;
    submit(&browser, "#account-policy").await;
    assert!(browser.text(".notice").await.contains("Account saved"));
    let (_, me) = account_of(&console, &first).await;
    assert_eq!(me["account"]["limits"]["max_in_flight"], 2, "{me}");
    let limits = body_text(&browser).await;
    assert!(limits.contains("1,500"), "{limits}");
    browser.fill("#account-ip", "not-an-address").await;
    submit(&browser, "#account-policy").await;
    let refused = browser.text("#account-policy-error").await;
    assert!(refused.contains("IP allow-list"), "{refused}");
    // The refused form keeps what was typed.
    assert_eq!(
        browser
            .eval("return document.querySelector('#account-ip').value")
            .await,
        json!("not-an-address")
    );
    browser.screenshots("operator-account-refused").await;

    // The key's own limit.
    browser.goto(&console.url(&account_path)).await;
    browser
        .eval("document.querySelectorAll('details.key-actions').forEach(d => d.open = true); return true")
        .await;
    browser
        .fill("form.key-policy input[name=max_queued]", "7")
        .await;
    submit(&browser, "form.key-policy").await;
    assert!(browser
        .text(".notice")
        .await
        .contains("Key render farm saved"));
    let (_, me) = account_of(&console, &first).await;
    assert_eq!(me["key"]["limits"]["max_queued"], 7, "{me}");

    // Rotated: the old secret is refused, the new one works.
    browser
        .eval("document.querySelectorAll('details.key-actions').forEach(d => d.open = true); return true")
        .await;
    submit(&browser, "form[action$='/rotate']").await;
    let second = shown_secret(&browser).await;
    assert_ne!(first, second);
    assert_eq!(account_of(&console, &first).await.0, 401);
    assert_eq!(account_of(&console, &second).await.0, 200);

    // Revoked: refused too.
    browser.click("a.button.secondary").await;
    browser
        .wait_until(
            "the account again",
            "return !!document.querySelector('#keys')",
            WAIT,
        )
        .await;
    browser
        .eval("document.querySelectorAll('details.key-actions').forEach(d => d.open = true); return true")
        .await;
    submit(&browser, "form[action$='/revoke']").await;
    assert!(browser.text(".notice").await.contains("revoked"));
    assert!(browser.text("#keys").await.contains("revoked"));
    assert_eq!(account_of(&console, &second).await.0, 401);
}

#[tokio::test]
async fn a_viewer_reads_every_operator_page_without_forms_and_a_forced_post_is_refused() {
    let console = ConsoleApp::spawn().await;
    let (_, account) = account_of(&console, &console.app.key).await;
    let account_id = account["account_id"]
        .as_str()
        .expect("account id")
        .to_string();
    let task_id = console.app.submit_ok(&task_body()).await;
    console.app.wait_for_task(&task_id).await;
    let balance = account_of(&console, &console.app.key).await.1["balance"]
        .as_i64()
        .expect("balance");

    let browser = Browser::start().await;
    browser
        .sign_in(&console.app.base, &console.viewer_token)
        .await;
    for (path, name) in [
        ("/console/admin/accounts".to_string(), "viewer-accounts"),
        (
            format!("/console/admin/accounts/{account_id}"),
            "viewer-account",
        ),
        ("/console/admin/usage".to_string(), "viewer-usage"),
        ("/console/admin/tasks".to_string(), "viewer-tasks"),
        (format!("/console/admin/tasks/{task_id}"), "viewer-task"),
        ("/console/admin/upstreams".to_string(), "viewer-upstreams"),
        ("/console/admin/audit".to_string(), "viewer-audit"),
    ] {
        browser.goto(&console.url(&path)).await;
        let forms = browser
            .eval("return document.querySelectorAll('main form[method=post]').length")
            .await;
        assert_eq!(forms, json!(0), "{path} shows a form to a viewer");
        let text = body_text(&browser).await;
        assert!(!text.contains("Something went wrong"), "{path}: {text}");
        if name == "viewer-account" {
            assert!(text.contains(&grouped(balance)), "{text}");
        }
        if name == "viewer-task" {
            assert!(browser.text("#op-timeline").await.contains("settled"));
        }
        browser.screenshots(name).await;
    }

    // The grant form, posted by script with the session's own token: refused, nothing moves.
    let answer = browser
        .eval_async(&format!(
            "const data = new URLSearchParams({{csrf: document.body.dataset.csrf,
                 amount: '5000', note: 'forced'}});
             const answer = await fetch('/console/admin/accounts/{account_id}/credits',
                 {{method: 'POST', body: data, credentials: 'same-origin'}});
             return {{status: answer.status, body: await answer.text()}};"
        ))
        .await;
    assert_eq!(answer["status"], 403, "{answer}");
    assert!(answer["body"]
        .as_str()
        .unwrap_or_default()
        .contains("may only read"));
    let refund = browser
        .eval_async(&format!(
            "const data = new URLSearchParams({{csrf: document.body.dataset.csrf, note: 'forced'}});
             const answer = await fetch('/console/admin/tasks/{task_id}/refund',
                 {{method: 'POST', body: data, credentials: 'same-origin'}});
             return answer.status;"
        ))
        .await;
    assert_eq!(refund, 403);
    let (_, after) = account_of(&console, &console.app.key).await;
    assert_eq!(
        after["balance"].as_i64(),
        Some(balance),
        "nothing moved: {after}"
    );
}

#[tokio::test]
async fn an_operator_cancels_a_running_task_from_its_page_and_the_hold_comes_back() {
    let console = ConsoleApp::spawn().await;
    let before = account_of(&console, &console.app.key).await.1["balance"]
        .as_i64()
        .expect("balance");
    // An hour-long render: the task stays running until it is cancelled.
    let mut body = task_body();
    body["prompt"] = json!("a slow fox [[seedgate:delay:3600000]]");
    let task_id = console.app.submit_ok(&body).await;

    let browser = Browser::start().await;
    browser
        .sign_in(&console.app.base, &console.operator_token)
        .await;
    // Found by status, then by its id.
    browser
        .goto(&console.url("/console/admin/tasks?status=running"))
        .await;
    browser
        .wait_until(
            "the task to run",
            &format!(
                "if (!document.body.innerText.includes('{task_id}')) {{ location.reload(); return false; }} return true;"
            ),
            Duration::from_secs(30),
        )
        .await;
    browser.fill("#id", &task_id).await;
    submit(&browser, "form.task-filters").await;
    assert_eq!(
        browser.path().await,
        format!("/console/admin/tasks/{task_id}")
    );
    assert!(browser.text("#op-task-facts").await.contains("running"));
    assert_eq!(
        browser
            .eval("return document.querySelector('#refund-task') === null")
            .await,
        Value::Bool(true),
        "a running task cannot be refunded"
    );
    submit(&browser, "#cancel-task").await;
    assert!(browser.text(".notice").await.contains("Task cancelled"));
    assert!(browser.text("#op-task-facts").await.contains("cancelled"));
    let timeline = browser.text("#op-timeline").await;
    assert!(timeline.contains("task.cancel"), "{timeline}");
    assert_eq!(
        account_of(&console, &console.app.key).await.1["balance"],
        json!(before)
    );
}

//! The member's Tasks and Account pages: the list with its filters and pages, one task with
//! its parameters, video, cost, timeline and callback attempts, another account's task never
//! shown, and the account's balance, usage chart and CSV export.

use crate::browser::{Browser, ConsoleApp};
use crate::helpers::wait_for_task;
use axum::routing::post;
use axum::Router;
use seedgate_core::accounts::Policy;
use seedgate_core::clock::SystemClock;
use seedgate_service::admin::AdminService;
use seedgate_store::Actor;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

fn body(prompt: &str) -> Value {
    json!({
        "model": "seedance-2.0-mini",
        "prompt": prompt,
        "duration": 4,
        "resolution": "480p",
        "aspect_ratio": "16:9"
    })
}

/// A callback receiver that answers every POST with 200.
async fn receiver() -> String {
    let app = Router::new().route("/{*path}", post(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://127.0.0.1:{port}/hook")
}

/// A task with a callback URL, through the Kie dialect (reAPI has none); returns its id.
async fn submit_with_callback(console: &ConsoleApp, url: &str) -> String {
    let app = &console.app;
    let r = app
        .client
        .post(app.url("/api/v1/jobs/createTask"))
        .bearer_auth(&app.key)
        .json(&json!({
            "model": "bytedance/seedance-2-mini",
            "callBackUrl": url,
            "input": {"prompt": "a kite over the dunes", "resolution": "480p", "duration": 4}
        }))
        .send()
        .await
        .expect("create");
    let body: Value = r.json().await.expect("json");
    body["data"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("taskId in {body}"))
        .to_string()
}

/// A key on another account, made as an operator would.
async fn other_account_key(console: &ConsoleApp) -> String {
    let admin = AdminService::new(console.app.store.clone(), Arc::new(SystemClock));
    let actor = Actor("test".into());
    let account = admin
        .create_account("someone-else", &Policy::default(), 50_000, &actor)
        .await
        .expect("account");
    admin
        .create_key(account.id.as_str(), "their-key", &Policy::default(), &actor)
        .await
        .expect("key")
        .key
}

/// The ids in the tasks table, in order.
async fn listed(browser: &Browser) -> Vec<String> {
    let ids = browser
        .eval("return [...document.querySelectorAll('#tasks tbody tr a.mono')].map(a => a.textContent)")
        .await;
    ids.as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

async fn status_of(browser: &Browser, path: &str) -> u64 {
    browser
        .eval_async(&format!(
            "const r = await fetch('{path}', {{credentials: 'same-origin'}}); return r.status;"
        ))
        .await
        .as_u64()
        .expect("status")
}

/// The credits held for a task, from its timeline.
async fn quoted_credits(console: &ConsoleApp, id: &str) -> i64 {
    let timeline = console
        .app
        .get_json(&format!("/api/v1/tasks/{id}/timeline"))
        .await;
    timeline["data"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["kind"] == "accepted")
        .and_then(|e| e["credits"].as_i64())
        .unwrap_or_else(|| panic!("accepted entry in {timeline}"))
}

#[tokio::test]
async fn a_member_lists_filters_pages_and_opens_their_tasks_and_never_another_accounts() {
    let console = ConsoleApp::spawn_with(|s| {
        s.callbacks.idle_poll_ms = 20;
    })
    .await;
    let app = &console.app;
    let hook = receiver().await;
    let mut mine = Vec::new();
    for prompt in [
        "a red fox in the snow",
        "a lighthouse at dusk",
        "rain on a tin roof",
    ] {
        mine.push(app.submit_ok(&body(prompt)).await);
    }
    let failing = app.submit_ok(&body("a storm [[seedgate:fail]]")).await;
    let called_back = submit_with_callback(&console, &hook).await;
    mine.push(failing.clone());
    mine.push(called_back.clone());
    for id in &mine {
        app.wait_for_task(id).await;
    }
    let theirs_key = other_account_key(&console).await;
    let r = app
        .submit_as(&theirs_key, &body("a secret garden of someone else"))
        .await;
    let theirs: Value = r.json().await.expect("json");
    let theirs = theirs["id"].as_str().expect("their id").to_string();
    wait_for_task(
        &app.client,
        &app.base,
        &theirs_key,
        &theirs,
        Duration::from_secs(90),
    )
    .await;

    let browser = Browser::start().await;
    browser.sign_in(&app.base, &app.key).await;
    browser.goto(&console.url("/console/tasks")).await;
    let all = listed(&browser).await;
    assert_eq!(
        all.iter().cloned().collect::<BTreeSet<_>>(),
        mine.iter().cloned().collect::<BTreeSet<_>>(),
        "the list holds exactly the member's tasks"
    );
    // Newest first.
    assert_eq!(all.first(), Some(&called_back));
    let page = browser.eval("return document.body.innerText").await;
    assert!(!page.as_str().unwrap_or_default().contains(&theirs));
    browser.screenshots("member-tasks").await;

    // The status filter, through the form.
    browser
        .eval("document.querySelector('#status').value = 'failed'; return true")
        .await;
    browser.click("#task-filters button[type=submit]").await;
    browser
        .wait_until(
            "the filtered list",
            "return location.search.includes('status=failed')",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(listed(&browser).await, vec![failing.clone()]);
    let statuses = browser
        .eval("return [...document.querySelectorAll('#tasks tbody tr')].map(r => r.dataset.status)")
        .await;
    assert_eq!(statuses, json!(["failed"]));
    browser
        .goto(&console.url("/console/tasks?status=succeeded"))
        .await;
    assert_eq!(listed(&browser).await.len(), 4);

    // Pages of two: 2, 2, 1, and together every task once, in the same order.
    browser.goto(&console.url("/console/tasks?size=2")).await;
    let mut paged = Vec::new();
    for expected in [2, 2, 1] {
        let ids = listed(&browser).await;
        assert_eq!(ids.len(), expected, "{ids:?}");
        paged.extend(ids);
        let older = browser
            .eval("return !!document.querySelector('#older')")
            .await;
        if expected == 1 {
            assert_eq!(older, json!(false), "no older page after the last");
        } else {
            let before = browser.eval("return location.href").await;
            browser.click("#older").await;
            browser
                .wait_until(
                    "the older page",
                    &format!("return location.href !== {before}"),
                    Duration::from_secs(10),
                )
                .await;
            assert!(
                browser
                    .eval("return !!document.querySelector('#newest')")
                    .await
                    == json!(true)
            );
        }
    }
    assert_eq!(paged, all);
    // And back towards the newest: the same pages in reverse.
    for expected in [&paged[2..4], &paged[0..2]] {
        let before = browser.eval("return location.href").await;
        browser.click("#newer").await;
        browser
            .wait_until(
                "the newer page",
                &format!("return location.href !== {before}"),
                Duration::from_secs(10),
            )
            .await;
        assert_eq!(listed(&browser).await, expected.to_vec());
    }
    let ends = browser
        .eval("return [!!document.querySelector('#newer'), !!document.querySelector('#newest'), !!document.querySelector('#older')]")
        .await;
    assert_eq!(ends, json!([false, false, true]), "the newest page again");

    // A succeeded task: parameters, a playable video, the cost, the timeline.
    let done = &mine[0];
    browser
        .goto(&console.url(&format!("/console/tasks/{done}")))
        .await;
    assert!(browser
        .text("#task-parameters")
        .await
        .contains("a red fox in the snow"));
    assert!(browser.text("#task-parameters").await.contains("480p"));
    browser
        .wait_until(
            "the video to load",
            "const v = document.querySelector('#task-result video'); return !!v && v.readyState >= 2",
            Duration::from_secs(20),
        )
        .await;
    let credits = quoted_credits(&console, done).await;
    let charged = browser.text("#cost-charged").await;
    assert!(
        charged
            .replace(',', "")
            .contains(&format!("{credits} credits")),
        "{charged} vs {credits}"
    );
    let kinds = browser
        .eval("return [...document.querySelectorAll('#task-timeline li')].map(l => l.dataset.kind)")
        .await;
    let kinds: Vec<String> = serde_json::from_value(kinds).expect("kinds");
    for kind in ["accepted", "hold_placed", "claimed", "succeeded", "settled"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert!(browser
        .eval("return !!document.querySelector('#no-callback')")
        .await
        .as_bool()
        .unwrap_or(false));
    browser.screenshots("member-task").await;

    // The failed task: its error, and its hold refunded.
    browser
        .goto(&console.url(&format!("/console/tasks/{failing}")))
        .await;
    assert!(browser.text("#task-error").await.contains("fail"));
    assert!(browser.text("#cost-charged").await.starts_with("0 credits"));
    browser.screenshots("member-task-failed").await;

    // The task with a callback: its delivery attempt is listed.
    let mut attempts = String::new();
    for _ in 0..100 {
        browser
            .goto(&console.url(&format!("/console/tasks/{called_back}")))
            .await;
        let has = browser
            .eval("return !!document.querySelector('#callback-attempts tbody td code')")
            .await;
        if has == json!(true) {
            attempts = browser.text("#callback-attempts").await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(attempts.contains("200"), "attempts: {attempts:?}");
    assert!(browser.text("#task-callbacks").await.contains(&hook));
    browser.screenshots("member-task-callback").await;

    // Cancelling: refused without the session's CSRF token; a finished task is not
    // cancellable (said on its page); another account's task is not found.
    let cancel = |id: &str, token: &str| {
        format!(
            "const r = await fetch('/console/tasks/{id}/cancel', {{method: 'POST', credentials: 'same-origin',
               headers: {{'content-type': 'application/x-www-form-urlencoded'}}, body: 'csrf=' + {token}}});
             return [r.status, r.url];"
        )
    };
    let refused = browser.eval_async(&cancel(done, "'forged'")).await;
    assert_eq!(refused[0], json!(403), "{refused}");
    let finished = browser
        .eval_async(&cancel(done, "document.body.dataset.csrf"))
        .await;
    assert_eq!(finished[0], json!(200), "{finished}");
    assert!(
        finished[1]
            .as_str()
            .unwrap_or_default()
            .ends_with("notice=not_cancellable"),
        "{finished}"
    );
    let foreign = browser
        .eval_async(&cancel(&theirs, "document.body.dataset.csrf"))
        .await;
    assert_eq!(foreign[0], json!(404), "{foreign}");

    // Another account's task, and one that does not exist: the console's 404 page.
    for id in [theirs.as_str(), "task_does_not_exist"] {
        browser
            .goto(&console.url(&format!("/console/tasks/{id}")))
            .await;
        assert_eq!(browser.text("h1").await, "Not found");
        let page = browser.eval("return document.body.innerText").await;
        assert!(!page.as_str().unwrap_or_default().contains("secret garden"));
        assert_eq!(
            status_of(&browser, &format!("/console/tasks/{id}")).await,
            404
        );
    }
}

#[tokio::test]
async fn the_account_page_shows_the_balance_the_usage_chart_and_exports_csv() {
    let console = ConsoleApp::spawn().await;
    let app = &console.app;
    let ok = [
        app.submit_ok(&body("a paper boat")).await,
        app.submit_ok(&body("a city at night")).await,
    ];
    let failing = app.submit_ok(&body("[[seedgate:fail]] nope")).await;
    for id in ok.iter().chain([&failing]) {
        app.wait_for_task(id).await;
    }
    let mut charged = 0;
    for id in &ok {
        charged += quoted_credits(&console, id).await;
    }
    let account = app.get_json("/api/v1/account").await;
    let balance = account["balance"].as_i64().expect("balance");
    assert_eq!(balance, 100_000 - charged);

    let browser = Browser::start().await;
    browser.sign_in(&app.base, &app.key).await;
    browser.goto(&console.url("/console/account")).await;
    let shown = browser
        .eval("return Number(document.querySelector('#balance-credits').dataset.credits)")
        .await;
    assert_eq!(shown.as_i64(), Some(balance));
    assert!(browser
        .text("#balance-usd")
        .await
        .contains(&format!("${:.3}", balance as f64 / 1000.0)));
    assert!(browser
        .text("#account-limits")
        .await
        .contains("Tasks in flight"));
    assert!(browser.text("#key-limits").await.contains("Spent today"));

    // Thirty days of bars; today's, the last, is drawn and carries today's charge.
    // The range's end defaults to the server's today (UTC).
    let today = browser
        .eval("return document.querySelector('#to').value")
        .await
        .as_str()
        .expect("today")
        .to_string();
    assert_eq!(today.len(), 10, "{today}");
    let bars = browser
        .eval(
            "const bars = [...document.querySelectorAll('.chart rect.bar')];
             const last = bars[bars.length - 1];
             return [bars.length, Number(last.getAttribute('height')), last.textContent]",
        )
        .await;
    assert_eq!(bars[0], json!(30));
    assert!(bars[1].as_f64().unwrap_or(0.0) > 0.0, "{bars}");
    let label = format!(
        "{}: ",
        today
            .split_once('-')
            .map(|(_, month_day)| month_day)
            .unwrap_or_default()
    );
    let title = bars[2].as_str().unwrap_or_default().replace(',', "");
    assert!(
        title.starts_with(&label) && title.contains(&format!(": {charged} credits")),
        "{title} vs {charged}"
    );
    let row = browser
        .text(&format!("#usage-days tr[data-day='{today}'] td.charged"))
        .await;
    assert_eq!(row.replace(',', ""), charged.to_string());
    browser.screenshots("member-account").await;

    // The CSV, fetched as the link would with the session cookie, read with a CSV reader.
    let fetched = browser
        .eval_async(
            "const r = await fetch(document.querySelector('#usage-csv').href, {credentials: 'same-origin'});
             return [r.status, r.headers.get('content-type'), r.headers.get('content-disposition'), await r.text()];",
        )
        .await;
    assert_eq!(fetched[0], json!(200), "{fetched}");
    assert!(fetched[1]
        .as_str()
        .unwrap_or_default()
        .starts_with("text/csv"));
    let disposition = fetched[2].as_str().unwrap_or_default();
    assert!(
        disposition.starts_with("attachment") && disposition.contains(&format!("{today}.csv")),
        "{disposition}"
    );
    let text = fetched[3].as_str().expect("csv text");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("headers").clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {headers:?}"))
    };
    let (day, charged_col, tasks_col) = (column("day"), column("credits_charged"), column("tasks"));
    let records: Vec<csv::StringRecord> =
        reader.records().collect::<Result<_, _>>().expect("records");
    let todays = records
        .iter()
        .find(|r| &r[day] == today.as_str())
        .unwrap_or_else(|| panic!("today's row in {text}"));
    assert_eq!(todays[charged_col].parse::<i64>().ok(), Some(charged));
    assert_eq!(&todays[tasks_col], "3");

    // A range the page cannot draw is said so, and the CSV refuses it.
    assert_eq!(
        status_of(
            &browser,
            "/console/account/usage.csv?from=2026-12-09&to=2026-12-01"
        )
        .await,
        400
    );
}

#[tokio::test]
async fn a_queued_task_is_cancelled_from_its_page_and_refunded() {
    let console = ConsoleApp::spawn_with(|s| s.worker.concurrency = 1).await;
    let app = &console.app;
    // One worker, held by a slow task: the next one waits in the queue.
    let blocker = app
        .submit_ok(&body("hold the worker [[seedgate:delay:15000]]"))
        .await;
    let browser = Browser::start().await;
    browser.sign_in(&app.base, &app.key).await;
    // The running task's page: running, its hold not yet charged, nothing to cancel.
    let mut running = false;
    for _ in 0..100 {
        browser
            .goto(&console.url(&format!("/console/tasks/{blocker}")))
            .await;
        if browser.text(".task-head").await.contains("running") {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(running, "the blocker never ran");
    assert!(browser
        .eval("return !document.querySelector('#cancel-task')")
        .await
        .as_bool()
        .unwrap_or(false));
    assert!(browser.text("#task-result").await.contains("Rendering"));
    assert!(browser
        .text("#cost-charged")
        .await
        .contains("when the task ends"));
    let queued = app.submit_ok(&body("waits in the queue")).await;
    let credits = quoted_credits(&console, &queued).await;
    let before = app.get_json("/api/v1/account").await["balance"]
        .as_i64()
        .expect("balance");
    browser
        .goto(&console.url(&format!("/console/tasks/{queued}")))
        .await;
    assert!(browser.text(".task-head").await.contains("queued"));
    assert!(browser
        .text("#cost-charged")
        .await
        .contains("when the task ends"));
    browser.screenshots("member-task-queued").await;
    // The page asks first; the test says yes.
    browser
        .eval("window.confirm = () => true; return true")
        .await;
    browser.click("#cancel-task button").await;
    browser
        .wait_until(
            "the cancelled task",
            "return location.search.includes('notice=cancelled')",
            Duration::from_secs(10),
        )
        .await;
    assert!(browser.text(".notice").await.contains("cancelled"));
    assert!(browser.text(".task-head").await.contains("cancelled"));
    assert!(browser
        .eval("return !document.querySelector('#cancel-task')")
        .await
        .as_bool()
        .unwrap_or(false));
    assert!(browser.text("#cost-charged").await.starts_with("0 credits"));
    let kinds = browser
        .eval("return [...document.querySelectorAll('#task-timeline li')].map(l => l.dataset.kind)")
        .await;
    assert!(
        kinds
            .as_array()
            .is_some_and(|k| k.contains(&json!("cancelled")) && k.contains(&json!("refunded"))),
        "{kinds}"
    );
    let after = app.get_json("/api/v1/account").await["balance"]
        .as_i64()
        .expect("balance");
    assert_eq!(after, before + credits);
    // The list shows it cancelled, and the running one as running.
    browser
        .goto(&console.url("/console/tasks?status=cancelled"))
        .await;
    assert_eq!(listed(&browser).await, vec![queued]);
}

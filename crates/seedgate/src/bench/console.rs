//! The web console's pages with a long history: a member's and an operator's pages, each
//! fetched whole (the HTML a browser paints first; its stylesheet and script are cached for a
//! year after the first page) on the embedded default with many tasks stored.

use super::report::{Figure, Target};
use super::server::Seedgate;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Ark's task list, which filters by status and counts.
const ARK_LIST: &str = "/api/v3/contents/generations/tasks";

/// Requests per page measured (after one warm-up request).
const SAMPLES: usize = 40;

/// Signs in on the console with `secret` and returns the session cookie (`name=value`).
async fn sign_in(client: &reqwest::Client, base: &str, secret: &str) -> anyhow::Result<String> {
    let answer = client
        .post(format!("{base}/console/sign-in"))
        .form(&[("secret", secret), ("next", "/console")])
        .send()
        .await?;
    anyhow::ensure!(
        answer.status().is_redirection(),
        "console sign-in answered {}",
        answer.status()
    );
    answer
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("seedgate_console="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("console sign-in set no session cookie"))
}

async fn get_json(client: &reqwest::Client, url: &str, key: &str) -> anyhow::Result<Value> {
    Ok(client
        .get(url)
        .bearer_auth(key)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// p50 and p99 (ms) of fetching `path` whole with `cookie`.
async fn time_page(
    client: &reqwest::Client,
    base: &str,
    cookie: &str,
    path: &str,
) -> anyhow::Result<(f64, f64)> {
    time_requests(path, SAMPLES, || {
        client
            .get(format!("{base}{path}"))
            .header(reqwest::header::COOKIE, cookie)
    })
    .await
}

/// p50 and p99 (ms) of `samples` requests made by `request` (after one warm-up), each read
/// whole and answered 2xx.
pub async fn time_requests(
    what: &str,
    samples: usize,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> anyhow::Result<(f64, f64)> {
    let mut histogram = Histogram::<u64>::new(3)?;
    for i in 0..=samples {
        let started = Instant::now();
        let answer = request().send().await?;
        let status = answer.status();
        let body = answer.bytes().await?;
        anyhow::ensure!(
            status.is_success(),
            "{what} answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        if i > 0 {
            histogram.record(started.elapsed().as_micros() as u64)?;
        }
    }
    Ok((
        histogram.value_at_quantile(0.5) as f64 / 1000.0,
        histogram.value_at_quantile(0.99) as f64 / 1000.0,
    ))
}

pub async fn console_pages(tasks: usize) -> anyhow::Result<Vec<Figure>> {
    let server = Seedgate::start("console", &[("SEEDGATE_WORKER__CONCURRENCY", "4")]).await?;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let filling = Instant::now();
    let history = json!({"model": "seedance-2.0-mini", "prompt": "history", "resolution": "480p",
        "duration": 4});
    super::scenarios::submit_many(&server, &history, tasks).await?;
    // Wait for the instant renderer to finish them, so the history is finished tasks.
    let deadline = Instant::now() + Duration::from_secs(1800);
    let unfinished = |status: &'static str| {
        let (client, base, key) = (client.clone(), base.clone(), server.key.clone());
        async move {
            let url = format!("{base}{ARK_LIST}?filter.status={status}&page_size=1");
            get_json(&client, &url, &key)
                .await
                .ok()
                .and_then(|page| page["total"].as_u64())
                .unwrap_or(u64::MAX)
        }
    };
    loop {
        if unfinished("queued").await == 0 && unfinished("running").await == 0 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the history did not finish");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    eprintln!(
        "bench: {tasks} tasks stored in {:.0} s",
        filling.elapsed().as_secs_f64()
    );
    let token = super::history::admin_token(&server)?;
    measure_pages(&server, &token, &format!("{tasks} tasks"), "").await
}

/// Times every console page (and the reports two of them load after painting) on `server`,
/// signed in with its development key and the admin token `token`; `history` names what is
/// stored, `prefix` starts the figures' keys.
pub async fn measure_pages(
    server: &Seedgate,
    token: &str,
    history: &str,
    prefix: &str,
) -> anyhow::Result<Vec<Figure>> {
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let member = sign_in(&client, &base, &server.key).await?;
    let operator = sign_in(&client, &base, token).await?;

    let account = get_json(&client, &format!("{base}/api/v1/account"), &server.key).await?;
    let account_id = account["account_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let newest = get_json(
        &client,
        &format!("{base}{ARK_LIST}?page_size=1"),
        &server.key,
    )
    .await?;
    let task_id = newest["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    anyhow::ensure!(!task_id.is_empty(), "no task to show");

    let pages: Vec<(&str, &str, String)> = vec![
        ("playground", &member, "/console/playground".into()),
        ("tasks", &member, "/console/tasks".into()),
        (
            "tasks_filtered",
            &member,
            "/console/tasks?status=failed".into(),
        ),
        ("task", &member, format!("/console/tasks/{task_id}")),
        ("account", &member, "/console/account".into()),
        (
            "admin_accounts",
            &operator,
            "/console/admin/accounts".into(),
        ),
        (
            "admin_account",
            &operator,
            format!("/console/admin/accounts/{account_id}"),
        ),
        ("admin_usage", &operator, "/console/admin/usage".into()),
        ("admin_tasks", &operator, "/console/admin/tasks".into()),
        (
            "admin_task",
            &operator,
            format!("/console/admin/tasks/{task_id}"),
        ),
        (
            "admin_upstreams",
            &operator,
            "/console/admin/upstreams".into(),
        ),
        ("admin_audit", &operator, "/console/admin/audit".into()),
    ];
    // The usage reports that the account and usage pages load after they paint: timed, with
    // no page target (a report over a long history is the usage report's own figure).
    let reports: Vec<(&str, &str, String)> = vec![
        (
            "account_usage_report",
            &member,
            "/console/account/usage".into(),
        ),
        (
            "admin_usage_report",
            &operator,
            "/console/admin/usage/report".into(),
        ),
    ];
    let mut figures = Vec::new();
    for (name, cookie, path) in &pages {
        let (p50, p99) = time_page(&client, &base, cookie, path).await?;
        figures.push(Figure::new(
            &format!("{prefix}console.{name}.p50"),
            "console",
            &format!("{path} with {history}, p50"),
            p50,
            "ms",
        ));
        figures.push(
            Figure::new(
                &format!("{prefix}console.{name}.p99"),
                "console",
                &format!("{path} with {history}, p99"),
                p99,
                "ms",
            )
            .target(Target::Max(200.0)),
        );
    }
    for (name, cookie, path) in &reports {
        let (p50, p99) = time_page(&client, &base, cookie, path).await?;
        for (quantile, value) in [("p50", p50), ("p99", p99)] {
            figures.push(Figure::new(
                &format!("{prefix}console.{name}.{quantile}"),
                "console",
                &format!("{path} (loaded after the page) with {history}, {quantile}"),
                value,
                "ms",
            ));
        }
    }
    Ok(figures)
}

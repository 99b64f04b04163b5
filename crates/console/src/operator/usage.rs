//! `/console/admin/usage`: usage across accounts over a range (the last 30 days unless asked):
//! credits charged per day and by account as charts, a table grouped by account and model (or
//! another grouping), and the same report as CSV at `/console/admin/usage.csv`, streamed from
//! the database by the code the admin API's `/admin/v1/usage` uses.

use super::accounts::op_page;
use super::chrome;
use crate::charts::{bar_chart, Bar};
use crate::error::ConsoleError;
use crate::layout::{credits, day_start_ms, given, grouped, query_escape};
use crate::session::Operator;
use crate::Console;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use maud::{html, Markup};
use seedgate_core::usage::{UsageFigures, UsageRow};
use seedgate_service::admin::AdminError;
use seedgate_service::usage::{UsageParams, UsageQuery};
use serde::Deserialize;

/// The most rows a page reads of one report (a CSV has them all).
const MAX_ROWS: usize = 2000;
/// Accounts drawn in the chart by account (the rest are summed as "others").
const CHART_ACCOUNTS: usize = 15;
/// The most days the daily chart draws.
const MAX_DAYS: i64 = 400;
const DAY_MS: i64 = 86_400_000;

/// The groupings offered for the table and the CSV.
const GROUPINGS: &[(&str, &str)] = &[
    ("account,model", "account and model"),
    ("account", "account"),
    ("model", "model"),
    ("account,key", "account and key"),
    ("day", "day"),
    ("account,day", "account and day"),
    ("upstream_account", "upstream account"),
    ("model,resolution", "model and resolution"),
];

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/console/admin/usage", get(usage_page))
        .route("/console/admin/usage/report", get(usage_report))
        .route("/console/admin/usage.csv", get(usage_csv))
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct UsageForm {
    /// First day (UTC), inclusive.
    from: String,
    /// Last day (UTC), inclusive.
    to: String,
    account: String,
    model: String,
    group_by: String,
}

fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn day_start(text: &str, field: &str) -> Result<i64, ConsoleError> {
    day_start_ms(text).ok_or_else(|| {
        ConsoleError::BadRequest(format!("{field}: `{text}` is not a date (2026-12-01)"))
    })
}

/// The range and filters asked, with defaults filled in (the last 30 days).
struct Asked {
    form: UsageForm,
    from_ms: i64,
    /// Exclusive: the start of the day after the last one.
    to_ms: i64,
    group_by: String,
}

fn asked(form: UsageForm, now_ms: i64) -> Result<Asked, ConsoleError> {
    let today = now_ms - now_ms.rem_euclid(DAY_MS);
    let to_ms = match given(&form.to) {
        Some(t) => day_start(&t, "to")?.saturating_add(DAY_MS),
        None => today + DAY_MS,
    };
    let from_ms = match given(&form.from) {
        Some(f) => day_start(&f, "from")?,
        None => to_ms - 30 * DAY_MS,
    };
    if from_ms >= to_ms {
        return Err(ConsoleError::BadRequest(
            "from: the first day must not be after the last".into(),
        ));
    }
    let group_by = given(&form.group_by)
        .filter(|g| GROUPINGS.iter().any(|(value, _)| value == g))
        .unwrap_or_else(|| GROUPINGS[0].0.to_string());
    let form = UsageForm {
        from: day(from_ms),
        to: day(to_ms - DAY_MS),
        group_by: group_by.clone(),
        ..form
    };
    Ok(Asked {
        form,
        from_ms,
        to_ms,
        group_by,
    })
}

impl Asked {
    fn params(&self, group_by: &str, format: Option<&str>) -> UsageParams {
        UsageParams {
            from: Some(self.from_ms.to_string()),
            to: Some(self.to_ms.to_string()),
            group_by: Some(group_by.to_string()),
            format: format.map(str::to_string),
            account: given(&self.form.account),
            key: None,
            model: given(&self.form.model),
        }
    }

    /// The query string that asks for this again.
    fn query(&self) -> String {
        let f = &self.form;
        format!(
            "from={}&to={}&account={}&model={}&group_by={}",
            query_escape(&f.from),
            query_escape(&f.to),
            query_escape(f.account.trim()),
            query_escape(f.model.trim()),
            query_escape(&self.group_by)
        )
    }
}

/// A report's rows, at most [`MAX_ROWS`] (and whether there were more).
async fn rows(
    console: &Console,
    params: &UsageParams,
) -> Result<(UsageQuery, Vec<UsageRow>, bool), ConsoleError> {
    let (report, _) = console.admin.usage_report(params).await?;
    let mut stream = report.rows;
    let mut out = Vec::new();
    let mut more = false;
    while let Some(row) = stream.next().await {
        let row = row.map_err(AdminError::from)?;
        if out.len() == MAX_ROWS {
            more = true;
            break;
        }
        out.push(row);
    }
    Ok((report.query, out, more))
}

fn charged(row: &UsageRow) -> i64 {
    row.figures.credits_charged
}

async fn usage_page(
    State(console): State<Console>,
    operator: Operator,
    query: Result<Query<UsageForm>, QueryRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ConsoleError> {
    let form = query
        .map_err(|e| ConsoleError::BadRequest(e.body_text()))?
        .0;
    let asked = asked(form, console.clock.now_ms())?;
    // The report reads the ledger over the whole range: the page paints first and the report
    // follows (console.js loads `data-fragment`), so a long history never holds the page back.
    let report_href = format!("/console/admin/usage/report?{}", raw.unwrap_or_default());
    let body = html! {
        (filters(&asked))
        div #usage-report data-fragment=(report_href) aria-live="polite" {
            p.muted { "Loading the usage report… " a href=(report_href) { "open it on its own" } }
        }
    };
    Ok(op_page(&chrome(&operator, "/console/admin/usage"), "Usage", body).into_response())
}

/// The report part of the usage page (an HTML fragment the page loads after it paints): totals,
/// the charts, the table. A range or filter the service refuses is a 400 with its message.
async fn usage_report(
    State(console): State<Console>,
    _operator: Operator,
    query: Result<Query<UsageForm>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let form = query
        .map_err(|e| ConsoleError::BadRequest(e.body_text()))?
        .0;
    let asked = asked(form, console.clock.now_ms())?;
    match report_markup(&console, &asked).await {
        Ok(report) => Ok(report.into_response()),
        Err(ConsoleError::Admin(e))
            if matches!(e, AdminError::Invalid(_) | AdminError::NotFound(_)) =>
        {
            let status = ConsoleError::Admin(AdminError::Invalid(String::new())).status();
            Ok((
                status,
                html! { p.error #usage-error role="alert" { (e.to_string()) } },
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

fn filters(asked: &Asked) -> Markup {
    let f = &asked.form;
    html! {
        form.filters.usage-filters method="get" action="/console/admin/usage" {
            div {
                label for="from" { "First day (UTC)" }
                input #from type="date" name="from" value=(f.from);
            }
            div {
                label for="to" { "Last day (UTC)" }
                input #to type="date" name="to" value=(f.to);
            }
            div {
                label for="account" { "Account" }
                input #account type="search" name="account" value=(f.account) placeholder="every account";
            }
            div {
                label for="model" { "Model" }
                input #model type="search" name="model" value=(f.model) placeholder="every model";
            }
            div {
                label for="group_by" { "Group the table by" }
                select #group_by name="group_by" {
                    @for (value, label) in GROUPINGS {
                        option value=(value) selected[*value == asked.group_by] { (label) }
                    }
                }
            }
            div { button type="submit" { "Show" } }
        }
    }
}

async fn report_markup(console: &Console, asked: &Asked) -> Result<Markup, ConsoleError> {
    // Credits by day: every day of the range drawn, days without usage at 0.
    let (_, by_day, _) = rows(console, &asked.params("day", None)).await?;
    let days = ((asked.to_ms - asked.from_ms) / DAY_MS).clamp(1, MAX_DAYS);
    let first_day = asked.to_ms - days * DAY_MS;
    let day_bars: Vec<Bar> = (0..days)
        .map(|i| {
            let label = day(first_day + i * DAY_MS);
            let value = by_day
                .iter()
                .filter(|r| r.group.first().and_then(|g| g.as_deref()) == Some(label.as_str()))
                .map(charged)
                .sum();
            Bar {
                label: label.chars().skip(5).collect(),
                value,
            }
        })
        .collect();

    // Credits by account, the largest first.
    let (_, mut by_account, _) = rows(console, &asked.params("account", None)).await?;
    by_account.sort_by_key(|r| std::cmp::Reverse(charged(r)));
    let mut account_bars: Vec<Bar> = by_account
        .iter()
        .take(CHART_ACCOUNTS)
        .map(|r| Bar {
            label: r
                .group
                .get(1)
                .cloned()
                .flatten()
                .or_else(|| r.group.first().cloned().flatten())
                .unwrap_or_default(),
            value: charged(r),
        })
        .collect();
    let others: i64 = by_account.iter().skip(CHART_ACCOUNTS).map(charged).sum();
    if by_account.len() > CHART_ACCOUNTS {
        account_bars.push(Bar {
            label: "others".into(),
            value: others,
        });
    }
    let mut totals = UsageFigures::default();
    for row in &by_account {
        totals.add(&row.figures);
    }

    // The table, as grouped.
    let (query, table, more) = rows(console, &asked.params(&asked.group_by, None)).await?;
    let columns = query.group_columns();
    let figure_columns = [
        ("tasks", "Tasks"),
        ("succeeded", "Succeeded"),
        ("failed", "Failed"),
        ("cancelled", "Cancelled"),
        ("refunds", "Refunds"),
        ("credits_held", "Held"),
        ("credits_returned", "Returned"),
        ("credits_refunded", "Refunded"),
        ("credits_charged", "Charged"),
        ("billable_seconds", "Seconds"),
    ];
    let figure = |f: &UsageFigures, name: &str| -> i64 {
        UsageFigures::COLUMNS
            .iter()
            .zip(f.values())
            .find(|((n, _), _)| *n == name)
            .map(|(_, v)| v)
            .unwrap_or(0)
    };
    let csv_href = format!("/console/admin/usage.csv?{}", asked.query());
    Ok(html! {
        div.op-stats {
            div.panel { h2 { "Charged" } p.stat #total-charged { (credits(totals.credits_charged)) } }
            div.panel { h2 { "Tasks" } p.stat #total-tasks { (grouped(totals.tasks)) } p.hint { (grouped(totals.succeeded)) " succeeded · " (grouped(totals.failed)) " failed · " (grouped(totals.cancelled)) " cancelled" } }
            div.panel { h2 { "Refunded by hand" } p.stat { (credits(totals.credits_refunded)) } p.hint { (grouped(totals.refunds)) " refunds" } }
        }
        div.grid.two {
            div.panel { (bar_chart("Credits charged per day (UTC)", "credits", &day_bars)) }
            div.panel { (bar_chart("Credits charged by account", "credits", &account_bars)) }
        }
        div.actions {
            a.button #download-csv href=(csv_href) download { "Download CSV" }
            span.hint { "Every row of the report, grouped as the table is." }
        }
        div.table-wrap {
            table #usage-table {
                caption.muted { "Figures count the ledger entries written from " (asked.form.from) " to " (asked.form.to) " (UTC)." }
                thead { tr {
                    @for c in &columns { th { (c.replace('_', " ")) } }
                    @for (_, label) in &figure_columns { th.num { (label) } }
                } }
                tbody {
                    @for row in &table {
                        tr {
                            @for (c, value) in columns.iter().zip(&row.group) {
                                td {
                                    @match (c, value) {
                                        (&"account", Some(id)) => a href=(format!("/console/admin/accounts/{id}")) { code { (id) } },
                                        (_, Some(v)) => (v),
                                        (_, None) => span.muted { "—" },
                                    }
                                }
                            }
                            @for (name, _) in &figure_columns { td.num { (grouped(figure(&row.figures, name))) } }
                        }
                    }
                    @if table.is_empty() {
                        tr { td colspan=(columns.len() + figure_columns.len()) .muted { "No usage in this range." } }
                    }
                }
            }
        }
        @if more {
            p.hint { "The first " (MAX_ROWS) " rows are shown; the CSV has them all." }
        }
    })
}

async fn usage_csv(
    State(console): State<Console>,
    _operator: Operator,
    query: Result<Query<UsageForm>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let form = query
        .map_err(|e| ConsoleError::BadRequest(e.body_text()))?
        .0;
    let asked = asked(form, console.clock.now_ms())?;
    let (report, _) = console
        .admin
        .usage_report(&asked.params(&asked.group_by, Some("csv")))
        .await?;
    let filename = format!(
        "seedgate-usage-{}-to-{}.csv",
        asked.form.from, asked.form.to
    );
    Ok(crate::download::usage_csv(report, &filename))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_defaults_to_the_last_thirty_days_and_reads_dates() {
        let now = 1_765_000_000_000; // 2025-12-06
        let a = asked(UsageForm::default(), now).expect("defaults");
        assert_eq!((a.to_ms - a.from_ms) / DAY_MS, 30);
        assert_eq!(a.form.to, day(now));
        assert_eq!(a.group_by, "account,model");
        let b = asked(
            UsageForm {
                from: "2026-12-01".into(),
                to: "2026-12-01".into(),
                group_by: "nonsense".into(),
                ..Default::default()
            },
            now,
        )
        .expect("one day");
        assert_eq!(b.to_ms - b.from_ms, DAY_MS);
        assert_eq!(b.group_by, "account,model");
        assert!(asked(
            UsageForm {
                from: "2026-12-02".into(),
                to: "2026-12-01".into(),
                ..Default::default()
            },
            now
        )
        .is_err());
        assert!(asked(
            UsageForm {
                from: "yesterday".into(),
                ..Default::default()
            },
            now
        )
        .is_err());
    }
}

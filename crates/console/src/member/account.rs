//! The member's account: `GET /console/account`, the balance, the account's and the key's
//! limits and budgets with their current use, and the credits charged per UTC day over a range
//! as a chart and a table; `GET /console/account/usage.csv`, the same range's report as CSV,
//! streamed as the member API's `GET /api/v1/usage?format=csv` writes it.

use super::chrome;
use crate::error::ConsoleError;
use crate::layout::{credits, grouped, page, time_el};
use crate::session::Member;
use crate::Console;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{Duration, NaiveDate};
use futures::StreamExt;
use maud::{html, Markup};
use seedgate_core::usage::UsageFigures;
use seedgate_core::GatewayError;
use seedgate_service::accounts::LimitsView;
use seedgate_service::usage::UsageParams;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The range shown unless the member picks another: the last 30 days, today included.
const DEFAULT_DAYS: i64 = 30;
/// The longest range the page draws (a year and a day), so a page stays small.
const MAX_DAYS: i64 = 366;

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/console/account", get(account_page))
        .route("/console/account/usage", get(usage_report))
        .route("/console/account/usage.csv", get(usage_csv))
}

/// The range as the form sends it: UTC days, both included.
#[derive(Deserialize, Default)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A range of whole UTC days, `from` to `to` included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Days {
    from: NaiveDate,
    to: NaiveDate,
}

/// The earliest and latest days a range may name (what a usage report accepts).
fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 30).unwrap_or_default()
}

/// The first day of the default range ending on `day` (never before 1970).
fn back(day: NaiveDate) -> NaiveDate {
    day.checked_sub_signed(Duration::days(DEFAULT_DAYS - 1))
        .unwrap_or(first_day())
        .max(first_day())
}

impl Days {
    fn default_for(today: NaiveDate) -> Self {
        Days {
            from: back(today),
            to: today,
        }
    }

    /// The range asked for; a missing end is the default's. Refuses dates that do not parse,
    /// an end before the start, and more than [`MAX_DAYS`] days.
    fn parse(query: &RangeQuery, today: NaiveDate) -> Result<Self, String> {
        let default = Days::default_for(today);
        let day = |name: &str, value: &Option<String>, fallback: NaiveDate| match value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => Ok(fallback),
            Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .filter(|d| (first_day()..=last_day()).contains(d))
                .ok_or_else(|| {
                    format!("`{text}` is not a date like 2026-12-01 between 1970 and 9999 ({name})")
                }),
        };
        let to = day("to", &query.to, default.to)?;
        let from = day("from", &query.from, back(to))?;
        if from > to {
            return Err("the start of the range is after its end".into());
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(format!("a range spans at most {MAX_DAYS} days"));
        }
        Ok(Days { from, to })
    }

    fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(|d| d <= &self.to)
    }

    /// The report's parameters for this range, grouped by day.
    fn params(&self, format: Option<&str>) -> UsageParams {
        let start = |d: NaiveDate| format!("{}T00:00:00Z", d.format("%Y-%m-%d"));
        UsageParams {
            from: Some(start(self.from)),
            to: Some(start(
                self.to
                    .checked_add_signed(Duration::days(1))
                    .unwrap_or(self.to),
            )),
            group_by: Some("day".into()),
            format: format.map(str::to_string),
            ..UsageParams::default()
        }
    }

    fn query_string(&self) -> String {
        format!(
            "from={}&to={}",
            self.from.format("%Y-%m-%d"),
            self.to.format("%Y-%m-%d")
        )
    }
}

fn today(console: &Console) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(console.clock.now_ms())
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

fn store_failed(e: impl std::fmt::Display) -> ConsoleError {
    tracing::error!(error = %e, "console: reading a usage report failed");
    ConsoleError::Gateway(GatewayError::Unavailable(
        "reading your usage failed; try again shortly".into(),
    ))
}

/// Each day's figures over the range, every day present (a day without activity is zeros).
async fn usage_by_day(
    console: &Console,
    member: &Member,
    range: Days,
) -> Result<Vec<(NaiveDate, UsageFigures)>, ConsoleError> {
    let (report, _) = console
        .service
        .usage_report(&member.principal, &range.params(None))
        .await?;
    let mut found: BTreeMap<String, UsageFigures> = BTreeMap::new();
    let mut rows = report.rows;
    while let Some(row) = rows.next().await {
        let row = row.map_err(store_failed)?;
        if let Some(Some(day)) = row.group.first() {
            found.entry(day.clone()).or_default().add(&row.figures);
        }
    }
    Ok(range
        .days()
        .map(|d| {
            let key = d.format("%Y-%m-%d").to_string();
            (d, found.get(&key).copied().unwrap_or_default())
        })
        .collect())
}

fn limit_row(label: &str, used: Markup, limit: Option<String>) -> Markup {
    html! {
        tr {
            th scope="row" { (label) }
            td.num { (used) }
            td.num { @match limit { Some(l) => (l), None => span.muted { "no limit" } } }
        }
    }
}

fn limits(title: &str, id: &str, view: &LimitsView) -> Markup {
    let l = &view.limits;
    let count = |n: u64| html! { (grouped(i64::try_from(n).unwrap_or(i64::MAX))) };
    let spend = |n: u64| html! { (credits(i64::try_from(n).unwrap_or(i64::MAX))) };
    html! {
        section.panel id=(id) aria-labelledby=(format!("{id}-h")) {
            h2 id=(format!("{id}-h")) { (title) }
            div.table-wrap {
                table.limits {
                    thead { tr { th scope="col" { "" } th.num scope="col" { "In use" } th.num scope="col" { "Limit" } } }
                    tbody {
                        (limit_row("Tasks in flight", count(view.in_flight), l.max_in_flight.map(|m| m.to_string())))
                        (limit_row("Tasks queued", count(view.queued), l.max_queued.map(|m| m.to_string())))
                        (limit_row("Spent today", spend(view.spent_today), l.daily_budget.map(|b| format!("{} credits", grouped(i64::try_from(b).unwrap_or(i64::MAX))))))
                        (limit_row("Spent this month", spend(view.spent_this_month), l.monthly_budget.map(|b| format!("{} credits", grouped(i64::try_from(b).unwrap_or(i64::MAX))))))
                        (limit_row("Spent in total", spend(view.spent_total), l.total_budget.map(|b| format!("{} credits", grouped(i64::try_from(b).unwrap_or(i64::MAX))))))
                        @if let Some(rate) = l.submit_rate {
                            (limit_row("Submits available now", html! { (view.submits_remaining.unwrap_or(rate.limit)) }, Some(format!("{} per {} s", rate.limit, rate.window_seconds))))
                        }
                        @if let Some(rate) = l.request_rate {
                            (limit_row("Requests", html! { span.muted { "—" } }, Some(format!("{} per {} s", rate.limit, rate.window_seconds))))
                        }
                    }
                }
            }
            @if !view.budgets.is_empty() {
                h3 { "Budgets" }
                div.table-wrap {
                    table.budgets {
                        thead { tr { th scope="col" { "Period" } th.num scope="col" { "Spent" } th.num scope="col" { "Limit" } th.num scope="col" { "Remaining" } th scope="col" { "Resets" } } }
                        tbody {
                            @for b in &view.budgets {
                                tr {
                                    th scope="row" { (b.period) }
                                    td.num { (spend(b.spent)) }
                                    td.num { (spend(b.limit)) }
                                    td.num { (spend(b.remaining)) }
                                    td { @match b.resets_at_ms { Some(at) => (time_el(at)), None => span.muted { "never" } } }
                                }
                            }
                        }
                    }
                }
            }
            p.muted {
                "Expires: "
                @match view.expires_at_ms { Some(at) => (time_el(at)), None => "never" }
            }
        }
    }
}

async fn account_page(
    State(console): State<Console>,
    member: Member,
    Query(query): Query<RangeQuery>,
) -> Result<Markup, ConsoleError> {
    let today = today(&console);
    let (range, range_error) = match Days::parse(&query, today) {
        Ok(range) => (range, None),
        Err(e) => (Days::default_for(today), Some(e)),
    };
    let view = console.service.account_view(&member.principal).await?;
    let report_href = format!("/console/account/usage?{}", range.query_string());
    let csv_href = format!("/console/account/usage.csv?{}", range.query_string());
    let body = html! {
        div.grid.three {
            section.panel #balance aria-labelledby="balance-h" {
                h2 #balance-h { "Balance" }
                p.stat #balance-credits data-credits=(view.balance) { (grouped(view.balance)) " credits" }
                p.muted #balance-usd { (format!("${:.3}", view.balance as f64 / 1000.0)) " · 1 credit = $0.001" }
            }
            section.panel #account-who aria-labelledby="who-h" {
                h2 #who-h { "Account" }
                dl.facts {
                    dt { "Account" } dd { (view.account_name) }
                    dt { "Account id" } dd { code { (view.account_id.as_str()) } }
                    dt { "Key" } dd { (view.key_name) }
                    dt { "Key id" } dd { code { (view.api_key_id.as_str()) } }
                }
            }
            section.panel #account-plan aria-labelledby="plan-h" {
                h2 #plan-h { "Prices" }
                @match &view.price_plan {
                    Some(plan) => p { (plan) },
                    None => p.muted { "The list prices." },
                }
            }
        }
        div.grid.two {
            (limits("The account's limits", "account-limits", &view.account))
            (limits("This key's limits", "key-limits", &view.key))
        }
        section.panel #usage aria-labelledby="usage-h" {
            h2 #usage-h { "Usage by day" }
            @if let Some(e) = &range_error {
                p.error role="alert" { (e) "; showing the last " (DEFAULT_DAYS) " days." }
            }
            form.filters #usage-range method="get" action="/console/account" {
                div {
                    label for="from" { "From" }
                    input #from type="date" name="from" value=(range.from.format("%Y-%m-%d").to_string());
                }
                div {
                    label for="to" { "To" }
                    input #to type="date" name="to" value=(range.to.format("%Y-%m-%d").to_string());
                }
                div { button type="submit" { "Show" } }
                div { a.button.secondary #usage-csv href=(csv_href) download { "Download CSV" } }
            }
            // The report reads the ledger over the whole range: the page paints first, and
            // the report follows (console.js loads `data-fragment`), so a long history never
            // holds the page back.
            div #usage-report data-fragment=(report_href) aria-live="polite" {
                p.muted { "Loading the usage report… " a href=(report_href) { "open it on its own" } }
            }
            p.hint { "Figures are credits (1 credit = $0.001). The CSV has the same rows and every figure of the API's usage report." }
        }
    };
    Ok(page(&chrome(&member, "/console/account"), "Account", body))
}

/// The usage section of the account page: credits charged per day as a chart and a table
/// (an HTML fragment the page loads after it paints).
async fn usage_report(
    State(console): State<Console>,
    member: Member,
    Query(query): Query<RangeQuery>,
) -> Result<Markup, ConsoleError> {
    let range = Days::parse(&query, today(&console)).map_err(ConsoleError::BadRequest)?;
    let days = usage_by_day(&console, &member, range).await?;
    let bars: Vec<crate::charts::Bar> = days
        .iter()
        .map(|(d, f)| crate::charts::Bar {
            label: d.format("%m-%d").to_string(),
            value: f.credits_charged,
        })
        .collect();
    let mut totals = UsageFigures::default();
    for (_, f) in &days {
        totals.add(f);
    }
    Ok(html! {
        (crate::charts::bar_chart("Credits charged per day (UTC)", "credits", &bars))
        p.muted #usage-days-note { "Each day's ledger entries, newest first (days without any are left out): a hold counts on the day its task was created, a refund on the day its task ended." }
        div.table-wrap {
            table #usage-days aria-describedby="usage-days-note" {
                thead {
                    tr {
                        th scope="col" { "Day (UTC)" }
                        th.num scope="col" { "Tasks" }
                        th.num scope="col" { "Succeeded" }
                        th.num scope="col" { "Failed" }
                        th.num scope="col" { "Cancelled" }
                        th.num scope="col" { "Held" }
                        th.num scope="col" { "Returned" }
                        th.num scope="col" { "Charged" }
                        th.num scope="col" { "Billable s" }
                    }
                }
                tbody {
                    @for (day, f) in days.iter().rev().filter(|(_, f)| *f != UsageFigures::default()) {
                        @let label = day.format("%Y-%m-%d").to_string();
                        tr data-day=(label) {
                            th scope="row" { (label) }
                            td.num { (grouped(f.tasks)) }
                            td.num { (grouped(f.succeeded)) }
                            td.num { (grouped(f.failed)) }
                            td.num { (grouped(f.cancelled)) }
                            td.num { (grouped(f.credits_held)) }
                            td.num { (grouped(f.credits_returned.saturating_add(f.credits_refunded))) }
                            td.num.charged { (grouped(f.credits_charged)) }
                            td.num { (grouped(f.billable_seconds)) }
                        }
                    }
                }
                @if totals == UsageFigures::default() {
                    tbody { tr { td colspan="9" .muted { "No usage in this range." } } }
                }
                tfoot {
                    tr {
                        th scope="row" { "Total" }
                        td.num { (grouped(totals.tasks)) }
                        td.num { (grouped(totals.succeeded)) }
                        td.num { (grouped(totals.failed)) }
                        td.num { (grouped(totals.cancelled)) }
                        td.num { (grouped(totals.credits_held)) }
                        td.num { (grouped(totals.credits_returned.saturating_add(totals.credits_refunded))) }
                        td.num #usage-total-charged { (grouped(totals.credits_charged)) }
                        td.num { (grouped(totals.billable_seconds)) }
                    }
                }
            }
        }
    })
}

/// The range's report as CSV, one row per day with activity, streamed from the database.
async fn usage_csv(
    State(console): State<Console>,
    member: Member,
    Query(query): Query<RangeQuery>,
) -> Result<Response, ConsoleError> {
    let range = Days::parse(&query, today(&console)).map_err(ConsoleError::BadRequest)?;
    let (report, _) = console
        .service
        .usage_report(&member.principal, &range.params(Some("csv")))
        .await?;
    let filename = format!(
        "usage-{}-to-{}.csv",
        range.from.format("%Y-%m-%d"),
        range.to.format("%Y-%m-%d")
    );
    Ok(crate::download::usage_csv(report, &filename))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn query(from: Option<&str>, to: Option<&str>) -> RangeQuery {
        RangeQuery {
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        }
    }

    #[test]
    fn the_default_range_is_the_last_thirty_days_and_the_end_is_included() {
        let today = date("2026-12-07");
        let range = Days::parse(&query(None, None), today).expect("range");
        assert_eq!(range.from, date("2026-11-08"));
        assert_eq!(range.to, today);
        assert_eq!(range.days().count(), 30);
        let params = range.params(Some("csv"));
        assert_eq!(params.from.as_deref(), Some("2026-11-08T00:00:00Z"));
        assert_eq!(params.to.as_deref(), Some("2026-12-08T00:00:00Z"));
        assert_eq!(params.group_by.as_deref(), Some("day"));
        assert_eq!(range.query_string(), "from=2026-11-08&to=2026-12-07");
    }

    #[test]
    fn bad_ranges_are_refused_with_a_reason() {
        let today = date("2026-12-07");
        assert!(Days::parse(&query(Some("yesterday"), None), today).is_err());
        assert!(Days::parse(&query(Some("2026-12-05"), Some("2026-12-01")), today).is_err());
        assert!(Days::parse(&query(Some("2020-01-01"), Some("2026-12-01")), today).is_err());
        // Dates chrono reads but no report can hold are refused, not overflowed.
        for extreme in ["-262143-01-01", "+262143-12-31", "0001-01-01", "9999-12-31"] {
            assert!(
                Days::parse(&query(None, Some(extreme)), today).is_err(),
                "{extreme}"
            );
            assert!(
                Days::parse(&query(Some(extreme), None), today).is_err(),
                "{extreme}"
            );
        }
        let early = Days::parse(&query(None, Some("1970-01-05")), today).expect("early");
        assert_eq!(early.from, date("1970-01-01"));
        let one =
            Days::parse(&query(Some("2026-12-01"), Some("2026-12-01")), today).expect("one day");
        assert_eq!(one.days().count(), 1);
        // Empty fields (a cleared date input) mean the default.
        assert_eq!(
            Days::parse(&query(Some(""), Some(" ")), today).expect("range"),
            Days::default_for(today)
        );
    }
}

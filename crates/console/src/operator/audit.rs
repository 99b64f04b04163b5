//! `GET /console/admin/audit`: the admin audit log, oldest first from a sequence number, with
//! a filter by target (an account, a key, a task).

use super::chrome;
use crate::error::ConsoleError;
use crate::layout::{page, query_escape, time_el};
use crate::session::Operator;
use crate::Console;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

const PAGE: u32 = 50;

pub fn routes() -> Router<Console> {
    Router::new().route("/console/admin/audit", get(audit_page))
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    /// Entries after this sequence number.
    after: Option<i64>,
    target: Option<String>,
}

fn changes(value: &Option<serde_json::Value>) -> Markup {
    html! {
        @match value {
            Some(v) => code { (v.to_string()) },
            None => span.muted { "—" },
        }
    }
}

async fn audit_page(
    State(console): State<Console>,
    operator: Operator,
    Query(query): Query<AuditQuery>,
) -> Result<Markup, ConsoleError> {
    let target = query
        .target
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let after = query.after.unwrap_or(0).max(0);
    let entries = console.admin.audit(after, PAGE, target).await?;
    let next = (entries.len() == PAGE as usize)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    let target_param = target
        .map(|t| format!("&target={}", query_escape(t)))
        .unwrap_or_default();
    let body = html! {
        form.filters method="get" action="/console/admin/audit" {
            div {
                label for="target" { "Target" }
                input #target type="search" name="target" value=(target.unwrap_or_default())
                    placeholder="account, key or task id";
            }
            div { button type="submit" { "Filter" } }
        }
        div.table-wrap {
            table #audit {
                caption.muted { "Every change an operator made, oldest first." }
                thead { tr { th { "#" } th { "When" } th { "Who" } th { "Action" } th { "Target" } th { "Before" } th { "After" } } }
                tbody {
                    @for entry in &entries {
                        tr {
                            td.num { (entry.seq) }
                            td { (time_el(entry.at_ms)) }
                            td { (entry.actor) }
                            td { code { (entry.action) } }
                            td { a href=(format!("/console/admin/audit?target={}", query_escape(&entry.target))) { (entry.target) } }
                            td { (changes(&entry.before)) }
                            td { (changes(&entry.after)) }
                        }
                    }
                    @if entries.is_empty() {
                        tr { td colspan="7" .muted { "No entries." } }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if after > 0 {
                a href=(format!("/console/admin/audit?after=0{target_param}")) { "From the start" }
            }
            @if let Some(next) = next {
                a href=(format!("/console/admin/audit?after={next}{target_param}")) { "Later entries →" }
            }
        }
    };
    Ok(page(
        &chrome(&operator, "/console/admin/audit"),
        "Audit log",
        body,
    ))
}

//! `/console/admin/upstreams`: each configured upstream account's health, as the providers'
//! router sees it (the same view as the admin API's `GET /admin/v1/upstreams`): kind, models,
//! weight, tasks in flight, breaker, recent success rate and submit latency, last errors.

use super::accounts::op_page;
use super::chrome;
use crate::error::ConsoleError;
use crate::layout::time_el;
use crate::session::Operator;
use crate::{Console, UpstreamHealth};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

/// Errors listed per account.
const ERRORS_SHOWN: usize = 5;

pub fn routes() -> Router<Console> {
    Router::new().route("/console/admin/upstreams", get(upstreams_page))
}

/// The success rate of the recent calls, as a percentage with one decimal.
fn success_rate(u: &UpstreamHealth) -> Option<String> {
    (u.recent_calls > 0).then(|| {
        format!(
            "{:.1}%",
            u.recent_successes as f64 * 100.0 / u.recent_calls as f64
        )
    })
}

fn ms(value: Option<u64>) -> Markup {
    html! {
        @match value {
            Some(v) if v >= 10_000 => { (format!("{:.1}", v as f64 / 1000.0)) " s" },
            Some(v) => { (v) " ms" },
            None => span.muted { "—" },
        }
    }
}

fn breaker(state: &str) -> Markup {
    let (class, label) = match state {
        "closed" => ("closed", "closed"),
        "open" => ("open", "open"),
        "half_open" => ("half_open", "half open"),
        _ => ("", state),
    };
    html! { span class=(format!("badge {class}")) { (label) } }
}

async fn upstreams_page(
    State(console): State<Console>,
    operator: Operator,
) -> Result<Markup, ConsoleError> {
    let mut upstreams = console.upstreams.upstreams().await;
    upstreams.sort_by(|a, b| a.name.cmp(&b.name));
    let open = upstreams.iter().filter(|u| u.breaker != "closed").count();
    let body = html! {
        p.hint {
            (upstreams.len()) " upstream accounts"
            @if open > 0 { " · " strong { (open) " not closed" } }
            ". Recent figures are this replica's window; tasks in flight count every replica."
        }
        div.table-wrap {
            table.cards #upstreams {
                thead { tr {
                    th { "Account" } th { "Kind" } th { "Models" } th.num { "Weight" }
                    th.num { "In flight" } th { "Breaker" } th.num { "Success" } th.num { "Calls" }
                    th.num { "p50 submit" } th.num { "p95 submit" }
                } }
                tbody {
                    @for u in &upstreams {
                        tr {
                            th scope="row" { (u.name) }
                            td data-label="Kind" { (u.kind) }
                            td.models data-label="Models" { (u.models.join(", ")) }
                            td.num data-label="Weight" { (u.weight) }
                            td.num data-label="In flight" {
                                @match u.in_flight { Some(n) => (n), None => span.muted { "?" } }
                                " / "
                                @match u.max_concurrent { Some(n) => (n), None => "∞" }
                            }
                            td data-label="Breaker" { (breaker(&u.breaker)) }
                            td.num data-label="Success" { @match success_rate(u) { Some(r) => (r), None => span.muted { "—" } } }
                            td.num data-label="Calls" { (u.recent_calls) }
                            td.num data-label="p50 submit" { (ms(u.p50_ms)) }
                            td.num data-label="p95 submit" { (ms(u.p95_ms)) }
                        }
                    }
                    @if upstreams.is_empty() {
                        tr { td colspan="10" .muted { "No upstream accounts are configured." } }
                    }
                }
            }
        }
        h2 { "Last errors" }
        @let failing: Vec<&UpstreamHealth> = upstreams.iter().filter(|u| !u.last_errors.is_empty()).collect();
        @if failing.is_empty() {
            p.muted #no-errors { "No recent errors." }
        }
        @for u in failing {
            section.panel.upstream-errors aria-label=(format!("Errors of {}", u.name)) {
                h3 { (u.name) " " (breaker(&u.breaker)) }
                ul.errors {
                    @for (at, message) in u.last_errors.iter().take(ERRORS_SHOWN) {
                        li { (time_el(*at)) " — " (message) }
                    }
                }
            }
        }
    };
    Ok(op_page(
        &chrome(&operator, "/console/admin/upstreams"),
        "Upstreams",
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_latencies_read_well() {
        let u = UpstreamHealth {
            name: "a".into(),
            kind: "local".into(),
            models: vec![],
            weight: 1,
            max_concurrent: None,
            in_flight: None,
            breaker: "half_open".into(),
            recent_calls: 8,
            recent_successes: 7,
            p50_ms: None,
            p95_ms: None,
            last_errors: vec![],
        };
        assert_eq!(success_rate(&u).as_deref(), Some("87.5%"));
        assert_eq!(ms(Some(12_345)).into_string(), "12.3 s");
        assert_eq!(ms(Some(250)).into_string(), "250 ms");
        assert!(breaker("half_open").into_string().contains("half open"));
    }
}

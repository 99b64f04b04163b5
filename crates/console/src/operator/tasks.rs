//! `/console/admin/tasks`: tasks across every account, searched by the filters the admin
//! service's [`TaskSearchRequest`] takes, newest first, a page at a time; and
//! `/console/admin/tasks/{id}`: one task (parameters, status, where its credits went), its
//! timeline, and what an operator does to it: cancel, refund by hand, redeliver its callback.

use super::accounts::{
    form, form_error, is_form_error, notice_of, op_page, path, see_other, writable, NoticeQuery,
};
use super::chrome;
use crate::error::ConsoleError;
use crate::layout::{
    credits, csrf_field, day_start_ms, given, grouped, notice, query_escape, status_badge, time_el,
};
use crate::session::Operator;
use crate::Console;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use seedgate_core::task::TaskStatus;
use seedgate_service::admin::{AdminError, TaskSearchRequest};
use seedgate_store::task_admin::OperatorTask;
use serde::Deserialize;

const PAGE: u32 = 50;
const DAY_MS: i64 = 86_400_000;
const STATUSES: [&str; 5] = ["queued", "running", "succeeded", "failed", "cancelled"];

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/console/admin/tasks", get(search_page))
        .route("/console/admin/tasks/{id}", get(task_page))
        .route("/console/admin/tasks/{id}/cancel", post(cancel))
        .route("/console/admin/tasks/{id}/refund", post(refund))
        .route("/console/admin/tasks/{id}/redeliver", post(redeliver))
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct SearchForm {
    id: String,
    account: String,
    key: String,
    status: String,
    model: String,
    upstream_account: String,
    upstream_task_id: String,
    /// First day (UTC), inclusive.
    from: String,
    /// Last day (UTC), inclusive.
    to: String,
    queued_for_min: String,
    cursor: String,
}

fn day_start(text: &str, field: &str) -> Result<Option<i64>, String> {
    let Some(text) = given(text) else {
        return Ok(None);
    };
    day_start_ms(&text)
        .map(Some)
        .ok_or_else(|| format!("{field}: `{text}` is not a date (2026-12-01)"))
}

impl SearchForm {
    fn request(&self) -> Result<TaskSearchRequest, String> {
        let queued_for_min = match given(&self.queued_for_min) {
            Some(m) => Some(
                m.parse::<u32>()
                    .map_err(|_| format!("queued for: `{m}` is not a whole number of minutes"))?,
            ),
            None => None,
        };
        let status = given(&self.status).filter(|s| STATUSES.contains(&s.as_str()));
        Ok(TaskSearchRequest {
            status,
            account: given(&self.account),
            key: given(&self.key),
            model: given(&self.model),
            upstream_account: given(&self.upstream_account),
            upstream_task_id: given(&self.upstream_task_id),
            created_from_ms: day_start(&self.from, "from")?,
            created_before_ms: day_start(&self.to, "to")?.map(|t| t.saturating_add(DAY_MS)),
            queued_for_min,
            cursor: given(&self.cursor),
            limit: Some(PAGE),
        })
    }

    /// The query string of this search (without its cursor).
    fn query(&self) -> String {
        [
            ("account", &self.account),
            ("key", &self.key),
            ("status", &self.status),
            ("model", &self.model),
            ("upstream_account", &self.upstream_account),
            ("upstream_task_id", &self.upstream_task_id),
            ("from", &self.from),
            ("to", &self.to),
            ("queued_for_min", &self.queued_for_min),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", query_escape(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

fn search_form(f: &SearchForm) -> Markup {
    let text = |id: &str, label: &str, value: &str, placeholder: &str| {
        html! {
            div {
                label for=(id) { (label) }
                input id=(id) type="search" name=(id) value=(value) placeholder=(placeholder);
            }
        }
    };
    html! {
        form.filters.task-filters method="get" action="/console/admin/tasks" {
            (text("id", "Task id", &f.id, "task_…"))
            (text("account", "Account", &f.account, "id or name"))
            (text("key", "Key", &f.key, "id, name or the key"))
            div {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="" { "any" }
                    @for s in STATUSES {
                        option value=(s) selected[f.status == s] { (s) }
                    }
                }
            }
            (text("model", "Model", &f.model, "model id"))
            (text("upstream_account", "Upstream account", &f.upstream_account, "name"))
            (text("upstream_task_id", "Upstream job id", &f.upstream_task_id, "the upstream's id"))
            div {
                label for="from" { "Created from (UTC)" }
                input #from type="date" name="from" value=(f.from);
            }
            div {
                label for="to" { "Created through (UTC)" }
                input #to type="date" name="to" value=(f.to);
            }
            div {
                label for="queued_for_min" { "Queued for over (min)" }
                input #queued_for_min type="text" inputmode="numeric" name="queued_for_min" value=(f.queued_for_min);
            }
            div { button type="submit" { "Search" } }
        }
    }
}

async fn search_page(
    State(console): State<Console>,
    operator: Operator,
    query: Result<Query<SearchForm>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let f = query
        .map_err(|e| ConsoleError::BadRequest(e.body_text()))?
        .0;
    // A task id goes straight to its page.
    if let Some(id) = given(&f.id) {
        return Ok(axum::response::Redirect::to(&format!(
            "/console/admin/tasks/{}",
            query_escape(&id)
        ))
        .into_response());
    }
    let chrome = chrome(&operator, "/console/admin/tasks");
    let found = match f.request() {
        Ok(request) => console
            .admin
            .search_tasks(request)
            .await
            .map_err(|e| match e {
                AdminError::Invalid(_) | AdminError::NotFound(_) => Err(e.to_string()),
                other => Ok(other),
            }),
        Err(message) => Err(Err(message)),
    };
    let found = match found {
        Ok(found) => found,
        Err(Err(message)) => {
            let body = html! {
                (search_form(&f))
                p.error #search-error role="alert" { (message) }
            };
            return Ok((StatusCode::BAD_REQUEST, op_page(&chrome, "Tasks", body)).into_response());
        }
        Err(Ok(e)) => return Err(e.into()),
    };
    let q = f.query();
    let body = html! {
        (search_form(&f))
        div.table-wrap {
            table.cards #task-search {
                caption.muted { "Every account's tasks, newest first." }
                thead { tr { th { "Task" } th { "Status" } th { "Account" } th { "Model" } th { "Created" } th.num { "Price" } th.num { "Charged" } th.num { "Refunded" } } }
                tbody {
                    @for t in &found.tasks {
                        tr {
                            td data-label="Task" { a href=(format!("/console/admin/tasks/{}", t.task.id)) { code { (t.task.id) } }
                                @if t.deleted_at_ms.is_some() { " " span.muted { "(deleted)" } } }
                            td data-label="Status" { (status_badge(t.task.status)) }
                            td data-label="Account" { a href=(format!("/console/admin/accounts/{}", t.task.account_id)) { code { (t.task.account_id) } } }
                            td data-label="Model" { (t.task.request.model) }
                            td data-label="Created" { (time_el(t.task.created_at_ms)) }
                            td.num data-label="Price" { (grouped(t.cost.price)) }
                            td.num data-label="Charged" { (grouped(t.cost.charged)) }
                            td.num data-label="Refunded" { (grouped(t.cost.refunded)) }
                        }
                    }
                    @if found.tasks.is_empty() {
                        tr { td colspan="8" .muted { "No tasks match." } }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if given(&f.cursor).is_some() {
                a href=(format!("/console/admin/tasks?{q}")) { "Newest" }
            }
            @if let Some(next) = &found.next_before {
                a href=(format!("/console/admin/tasks?{q}{}cursor={}", if q.is_empty() { "" } else { "&" }, query_escape(next.as_str()))) { "Older →" }
            }
        }
    };
    Ok(op_page(&chrome, "Tasks", body).into_response())
}

/// Which action's form a failure belongs to.
#[derive(PartialEq)]
enum Action {
    Cancel,
    Refund,
    Redeliver,
}

struct Failure {
    action: Action,
    message: String,
    refund: RefundForm,
}

async fn task_page(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<NoticeQuery>, QueryRejection>,
) -> Result<Markup, ConsoleError> {
    let id = path(id)?;
    task_markup(&console, &operator, &id, notice_of(query).as_deref(), None).await
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A timeline event's details: its JSON without the kind.
fn details(event: &seedgate_core::timeline::TaskEvent) -> String {
    match serde_json::to_value(event) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.remove("kind");
            map.iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                })
                .collect::<Vec<_>>()
                .join(" · ")
        }
        _ => String::new(),
    }
}

async fn task_markup(
    console: &Console,
    operator: &Operator,
    id: &str,
    notice_text: Option<&str>,
    failure: Option<Failure>,
) -> Result<Markup, ConsoleError> {
    let t: OperatorTask = console.admin.task(id).await?;
    let timeline = console.admin.task_timeline(t.task.id.as_str()).await?;
    let task = &t.task;
    let base = format!("/console/admin/tasks/{}", task.id);
    let write = operator.can_write();
    let cancellable = matches!(task.status, TaskStatus::Queued | TaskStatus::Running);
    let refundable = task.status == TaskStatus::Succeeded && t.manual_refund.is_none();
    let redeliverable = task.status.is_terminal() && task.request.callback_url.is_some();
    let error_for = |action: Action| -> Option<&str> {
        failure
            .as_ref()
            .filter(|f| f.action == action)
            .map(|f| f.message.as_str())
    };
    let refund_input = failure
        .as_ref()
        .map(|f| f.refund.clone())
        .unwrap_or_default();
    let body = html! {
        (notice(notice_text))
        div.grid.side {
            div.panel {
                dl.facts #op-task-facts {
                    dt { "Status" } dd { (status_badge(task.status)) }
                    dt { "Account" } dd { a href=(format!("/console/admin/accounts/{}", task.account_id)) { code { (task.account_id) } } }
                    dt { "Key" } dd { code { (task.api_key_id) } }
                    dt { "Model" } dd { (task.request.model) @if task.requested_model != task.request.model { " (asked as " (task.requested_model) ")" } }
                    dt { "Dialect" } dd { (task.origin_dialect) }
                    dt { "Created" } dd { (time_el(task.created_at_ms)) }
                    @if let Some(at) = task.started_at_ms { dt { "Started" } dd { (time_el(at)) } }
                    @if let Some(at) = task.finished_at_ms { dt { "Finished" } dd { (time_el(at)) } }
                    dt { "Attempt" } dd { (task.attempt) }
                    @if let Some(p) = &task.provider { dt { "Upstream" } dd { (p) } }
                    @if let Some(j) = &t.provider_job_id { dt { "Upstream job" } dd { code { (j) } } }
                    @if let Some(w) = &t.lease_owner { dt { "Worker" } dd { code { (w) } } }
                    @if t.submit_in_doubt { dt { "Submit" } dd { span.badge.cancelled { "in doubt" } " (being reconciled)" } }
                    @if let Some(at) = t.deleted_at_ms { dt { "Deleted" } dd { (time_el(at)) " by its owner" } }
                    @if let Some(e) = &task.error { dt { "Error" } dd { (e.message) } }
                    @if let Some(url) = &task.request.callback_url { dt { "Callback" } dd { code { (url) } } }
                }
            }
            div.panel {
                h2 { "Credits" }
                dl.facts #op-task-cost {
                    dt { "Price" } dd { (credits(t.cost.price)) }
                    dt { "Held" } dd { (credits(t.cost.held)) }
                    dt { "Charged" } dd { (credits(t.cost.charged)) }
                    dt { "Refunded" } dd { (credits(t.cost.refunded)) }
                    @if let Some(r) = &t.manual_refund {
                        dt { "Refunded by hand" } dd { (credits(r.credits)) " · " (time_el(r.at_ms)) br; span.muted { (r.note) } }
                    }
                }
                p.hint { (task.price.billable_seconds) " billable seconds" }
            }
        }
        @if write && (cancellable || refundable || redeliverable) {
            section.panel aria-labelledby="actions-h" {
                h2 #actions-h { "Actions" }
                @if cancellable {
                    form #cancel-task method="post" action=(format!("{base}/cancel"))
                        data-confirm="Cancel this task? Its hold is released." {
                        (csrf_field(&operator.session))
                        (form_error("cancel-error", error_for(Action::Cancel)))
                        button.danger type="submit" { "Cancel task" }
                    }
                }
                @if refundable {
                    form #refund-task method="post" action=(format!("{base}/refund"))
                        data-confirm="Refund this task? Credits go back to its account, once." {
                        (csrf_field(&operator.session))
                        (form_error("refund-error", error_for(Action::Refund)))
                        div.grid.two {
                            div {
                                label for="refund-credits" { "Credits" }
                                input #refund-credits type="text" inputmode="numeric" name="credits"
                                    value=(refund_input.credits) placeholder=(format!("all {}", grouped(t.cost.charged)));
                                span.hint { "Empty gives back everything charged." }
                            }
                            div {
                                label for="refund-note" { "Reason" }
                                input #refund-note type="text" name="note" required maxlength="1000" value=(refund_input.note);
                            }
                        }
                        div.actions { button type="submit" { "Refund" } }
                    }
                }
                @if redeliverable {
                    form #redeliver method="post" action=(format!("{base}/redeliver"))
                        data-confirm="Send the final callback again?" {
                        (csrf_field(&operator.session))
                        (form_error("redeliver-error", error_for(Action::Redeliver)))
                        div.actions { button.secondary type="submit" { "Redeliver callback" } }
                    }
                }
            }
        }
        section aria-labelledby="timeline-h" {
            h2 #timeline-h { "Timeline" }
            div.table-wrap {
                table.cards #op-timeline {
                    thead { tr { th { "When" } th { "Source" } th { "Event" } th { "Details" } } }
                    tbody {
                        @for e in &timeline {
                            tr {
                                td data-label="When" { (time_el(e.at_ms)) }
                                td data-label="Source" { (format!("{:?}", e.source).to_lowercase()) }
                                td data-label="Event" { code { (e.event.kind()) } }
                                td.details data-label="Details" { (details(&e.event)) }
                            }
                        }
                        @if timeline.is_empty() {
                            tr { td colspan="4" .muted { "Nothing recorded." } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="params-h" {
            h2 #params-h { "Parameters" }
            pre #op-task-request { (pretty(&task.request)) }
            @if let Some(output) = &task.output {
                h2 { "Output" }
                pre { (pretty(output)) }
            }
            p { a href=(format!("/console/admin/audit?target={}", task.id)) { "This task in the audit log" } }
        }
    };
    Ok(op_page(
        &chrome(operator, "/console/admin/tasks"),
        &format!("Task {}", task.id),
        body,
    ))
}

async fn refused(
    console: &Console,
    operator: &Operator,
    id: &str,
    e: AdminError,
    action: Action,
    refund: RefundForm,
) -> Result<Response, ConsoleError> {
    let message = e.to_string();
    let status = ConsoleError::Admin(e).status();
    let failure = Failure {
        action,
        message,
        refund,
    };
    let markup = task_markup(console, operator, id, None, Some(failure)).await?;
    Ok((status, markup).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfOnly {
    csrf: String,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct RefundForm {
    csrf: String,
    credits: String,
    note: String,
}

async fn cancel(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    input: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let id = path(id)?;
    let input = form(input)?;
    writable(&operator, &input.csrf)?;
    match console.admin.cancel_task(&id, &operator.actor).await {
        Ok(t) => Ok(see_other(
            &format!("/console/admin/tasks/{}", t.task.id),
            "Task cancelled; its hold is released.",
        )),
        Err(e) if is_form_error(&e) => {
            refused(
                &console,
                &operator,
                &id,
                e,
                Action::Cancel,
                RefundForm::default(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn refund(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    input: Result<Form<RefundForm>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let id = path(id)?;
    let input = form(input)?;
    writable(&operator, &input.csrf)?;
    let amount = input.credits.trim().replace([',', '_'], "");
    let outcome = if amount.is_empty() {
        Ok(None)
    } else {
        amount
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AdminError::Invalid(format!("credits: `{amount}` is not a whole number")))
    };
    let outcome = match outcome {
        Ok(credits) => {
            console
                .admin
                .refund_task(&id, credits, &input.note, &operator.actor)
                .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(r) => Ok(see_other(
            &format!("/console/admin/tasks/{}", r.task_id),
            &format!(
                "Refunded {} credits; the account's balance is {} credits.",
                grouped(r.credits),
                grouped(r.balance)
            ),
        )),
        Err(e) if is_form_error(&e) => {
            refused(&console, &operator, &id, e, Action::Refund, input).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn redeliver(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    input: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let id = path(id)?;
    let input = form(input)?;
    writable(&operator, &input.csrf)?;
    match console.admin.redeliver_callback(&id, &operator.actor).await {
        Ok(()) => Ok(see_other(
            &format!("/console/admin/tasks/{id}"),
            "The final callback is due again now.",
        )),
        Err(e) if is_form_error(&e) || matches!(e, AdminError::NotFound(_)) => {
            refused(
                &console,
                &operator,
                &id,
                e,
                Action::Redeliver,
                RefundForm::default(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_form_becomes_the_services_request() {
        let f = SearchForm {
            account: " acme ".into(),
            status: "failed".into(),
            from: "2026-12-01".into(),
            to: "2026-12-01".into(),
            queued_for_min: "15".into(),
            ..Default::default()
        };
        let r = f.request().expect("a request");
        assert_eq!(r.account.as_deref(), Some("acme"));
        assert_eq!(r.status.as_deref(), Some("failed"));
        assert_eq!(
            r.created_before_ms
                .zip(r.created_from_ms)
                .map(|(b, a)| b - a),
            Some(DAY_MS)
        );
        assert_eq!(r.queued_for_min, Some(15));
        assert_eq!(r.key, None);
        assert!(f.query().contains("account=acme"));
        let bad = SearchForm {
            queued_for_min: "long".into(),
            ..Default::default()
        };
        assert!(bad.request().is_err());
        let bad = SearchForm {
            from: "12/01/2026".into(),
            ..Default::default()
        };
        assert!(bad.request().is_err());
    }
}

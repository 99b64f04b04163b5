//! The member's tasks: `GET /console/tasks`, a page of the account's tasks (newest first, a
//! keyset cursor, filters by status and model), and `GET /console/tasks/{id}`, one task with
//! its parameters, result, cost, timeline and callback attempts; `POST
//! /console/tasks/{id}/cancel` cancels a queued one. Everything is read through the member
//! service, scoped to the signed-in key's account: another account's task is not found.

use super::chrome;
use crate::error::ConsoleError;
use crate::layout::{
    credits, csrf_field, grouped, notice, page, query_escape, status_badge, time_el,
};
use crate::session::Member;
use crate::Console;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use seedgate_core::ids::TaskId;
use seedgate_core::records::{CallbackRecord, TaskQuery};
use seedgate_core::request::GenerationRequest;
use seedgate_core::task::{Task, TaskStatus};
use seedgate_core::timeline::{ErrorClass, RequeueReason, TaskEvent, TimelineEntry};
use seedgate_core::GatewayError;
use serde::Deserialize;

/// Rows per page unless the member picks another size.
const DEFAULT_PAGE: u32 = 20;
/// The page sizes offered.
const PAGE_SIZES: [u32; 4] = [10, 20, 50, 100];

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/console/tasks", get(tasks_page))
        .route("/console/tasks/{id}", get(task_page))
        .route("/console/tasks/{id}/cancel", post(cancel))
}

/// The list's filters as the GET form sends them; anything unreadable is ignored rather than
/// refused, so a hand-edited address still shows a page.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
    model: Option<String>,
    size: Option<String>,
    /// Keyset cursor: tasks older than this one.
    after: Option<String>,
    /// Keyset cursor the other way: the tasks just newer than this one.
    before: Option<String>,
}

/// The filters read from a [`ListQuery`].
struct Filters {
    status: Option<TaskStatus>,
    model: Option<String>,
    size: u32,
    after: Option<String>,
    before: Option<String>,
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_string)
}

impl Filters {
    fn of(query: &ListQuery) -> Self {
        Filters {
            status: non_empty(&query.status).and_then(|s| TaskStatus::parse(&s)),
            model: non_empty(&query.model),
            size: non_empty(&query.size)
                .and_then(|s| s.parse::<u32>().ok())
                .map_or(DEFAULT_PAGE, |s| s.clamp(1, 100)),
            after: non_empty(&query.after),
            // One cursor at a time: `after` wins.
            before: non_empty(&query.before).filter(|_| non_empty(&query.after).is_none()),
        }
    }

    /// The query string of these filters (without the cursor), for links.
    fn params(&self) -> String {
        let mut parts = Vec::new();
        if let Some(status) = self.status {
            parts.push(format!("status={}", status.as_str()));
        }
        if let Some(model) = &self.model {
            parts.push(format!("model={}", query_escape(model)));
        }
        if self.size != DEFAULT_PAGE {
            parts.push(format!("size={}", self.size));
        }
        parts.join("&")
    }

    /// The list with these filters; `cursor` is `("after", id)` or `("before", id)`.
    fn link(&self, cursor: Option<(&str, &str)>) -> String {
        let mut params = self.params();
        if let Some((name, id)) = cursor {
            if !params.is_empty() {
                params.push('&');
            }
            params.push_str(&format!("{name}={}", query_escape(id)));
        }
        if params.is_empty() {
            "/console/tasks".to_string()
        } else {
            format!("/console/tasks?{params}")
        }
    }
}

const STATUSES: [TaskStatus; 5] = [
    TaskStatus::Queued,
    TaskStatus::Running,
    TaskStatus::Succeeded,
    TaskStatus::Failed,
    TaskStatus::Cancelled,
];

fn shape(request: &GenerationRequest) -> String {
    format!(
        "{} s · {} · {}",
        request.duration_seconds,
        request.resolution.as_str(),
        request.aspect_ratio.as_str()
    )
}

async fn tasks_page(
    State(console): State<Console>,
    member: Member,
    Query(query): Query<ListQuery>,
) -> Result<Markup, ConsoleError> {
    let filters = Filters::of(&query);
    // Going back towards the newest, the store lists oldest first from the cursor; the page
    // is turned round to read newest first like every other.
    let backwards = filters.before.is_some();
    let task_query = TaskQuery {
        statuses: filters.status.into_iter().collect(),
        model: filters.model.clone(),
        oldest_first: backwards,
        after: filters
            .after
            .as_deref()
            .or(filters.before.as_deref())
            .map(TaskId::from_string),
        limit: filters.size,
        ..TaskQuery::default()
    };
    let mut listing = console
        .service
        .list_tasks(&member.principal, task_query)
        .await?;
    if backwards {
        listing.tasks.reverse();
    }
    let first = listing.tasks.first().map(|t| t.id.as_str());
    let last = listing.tasks.last().map(|t| t.id.as_str());
    // Older tasks: beyond this page going forwards; the ones we came from going back.
    let older = if backwards || listing.has_more {
        last.map(|id| filters.link(Some(("after", id))))
    } else {
        None
    };
    // Newer tasks: the ones we came from going forwards; beyond this page going back.
    let newer = if (!backwards && filters.after.is_some()) || (backwards && listing.has_more) {
        first.map(|id| filters.link(Some(("before", id))))
    } else {
        None
    };
    // Not the newest page (a page reached going back may be it).
    let paged = filters.after.is_some() || (backwards && listing.has_more);
    let models: Vec<String> = console
        .service
        .catalog()
        .models()
        .iter()
        .map(|m| m.id.clone())
        .collect();
    let body = html! {
        form.filters #task-filters method="get" action="/console/tasks" {
            div {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="" selected[filters.status.is_none()] { "Any" }
                    @for status in STATUSES {
                        option value=(status.as_str()) selected[filters.status == Some(status)] { (status.as_str()) }
                    }
                }
            }
            div {
                label for="model" { "Model" }
                select #model name="model" {
                    option value="" selected[filters.model.is_none()] { "Any" }
                    @for model in &models {
                        option value=(model) selected[filters.model.as_deref() == Some(model.as_str())] { (model) }
                    }
                    @if let Some(model) = &filters.model {
                        @if !models.contains(model) {
                            option value=(model) selected { (model) }
                        }
                    }
                }
            }
            div {
                label for="size" { "Per page" }
                select #size name="size" {
                    @for size in PAGE_SIZES {
                        option value=(size) selected[filters.size == size] { (size) }
                    }
                    @if !PAGE_SIZES.contains(&filters.size) {
                        option value=(filters.size) selected { (filters.size) }
                    }
                }
            }
            div.filter-buttons {
                button type="submit" { "Filter" }
                " "
                a.button.secondary href="/console/tasks" { "Reset" }
            }
        }
        p.muted #task-count {
            (grouped(i64::try_from(listing.total).unwrap_or(i64::MAX)))
            @if listing.total == 1 { " task" } @else { " tasks" }
            @if filters.status.is_some() || filters.model.is_some() { " match these filters" }
            @if paged { " (an older page)" }
        }
        div.table-wrap {
            table #tasks {
                caption.muted { "Your account's tasks, newest first." }
                thead {
                    tr {
                        th scope="col" { "Task" }
                        th scope="col" { "Created" }
                        th scope="col" { "Model" }
                        th scope="col" { "Mode" }
                        th scope="col" { "Status" }
                        th scope="col" { "Shape" }
                        th.num scope="col" { "Cost" }
                    }
                }
                tbody {
                    @for task in &listing.tasks {
                        tr data-status=(task.status.as_str()) {
                            td { a.mono href=(format!("/console/tasks/{}", query_escape(task.id.as_str()))) { (task.id.as_str()) } }
                            td { (time_el(task.created_at_ms)) }
                            td { (task.request.model) }
                            td { (task.request.mode.as_str()) }
                            td { (status_badge(task.status)) }
                            td { (shape(&task.request)) }
                            td.num { (cost_cell(task)) }
                        }
                    }
                    @if listing.tasks.is_empty() {
                        tr { td colspan="7" .muted { "No tasks here. Create one in the " a href="/console/playground" { "playground" } "." } }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if paged {
                a #newest href=(filters.link(None)) { "« Newest" }
            }
            @if let Some(newer) = &newer {
                a #newer href=(newer) rel="prev" { "← Newer" }
            }
            @if let Some(older) = &older {
                a #older href=(older) rel="next" { "Older →" }
            }
        }
    };
    Ok(page(&chrome(&member, "/console/tasks"), "Tasks", body))
}

/// A list row's cost: what was charged, nothing for a released task, the hold while it runs.
fn cost_cell(task: &Task) -> Markup {
    let held = i64::try_from(task.price.credits).unwrap_or(i64::MAX);
    html! {
        @match task.status {
            TaskStatus::Succeeded => (credits(held)),
            TaskStatus::Failed | TaskStatus::Cancelled => span.muted title=(format!("{} credits held, then refunded", grouped(held))) { "refunded" },
            TaskStatus::Queued | TaskStatus::Running => span title="held until the task ends" { (credits(held)) " held" },
        }
    }
}

#[derive(Deserialize, Default)]
pub struct TaskPageQuery {
    notice: Option<String>,
}

fn not_found(e: GatewayError) -> ConsoleError {
    match e {
        GatewayError::NotFound => ConsoleError::NotFound("This task".into()),
        other => ConsoleError::Gateway(other),
    }
}

async fn task_page(
    State(console): State<Console>,
    member: Member,
    Path(id): Path<String>,
    Query(query): Query<TaskPageQuery>,
) -> Result<Markup, ConsoleError> {
    let (task, callback) = console
        .service
        .callbacks(&member.principal, &id)
        .await
        .map_err(not_found)?;
    let timeline = console
        .service
        .task_timeline(&member.principal, &id)
        .await
        .map_err(not_found)?;
    let message = match query.notice.as_deref() {
        Some("cancelled") => Some("The task was cancelled and its credits refunded."),
        Some("not_cancellable") => Some("The task could not be cancelled: it is no longer queued."),
        _ => None,
    };
    let body = html! {
        (notice(message))
        p.task-head {
            code #task-id { (task.id.as_str()) } " " (status_badge(task.status))
            " · created " (time_el(task.created_at_ms))
            @if let Some(finished) = task.finished_at_ms { " · finished " (time_el(finished)) }
        }
        @if task.status == TaskStatus::Queued {
            form #cancel-task method="post" action=(format!("/console/tasks/{}/cancel", query_escape(task.id.as_str())))
                data-confirm="Cancel this task? Its credits are refunded." {
                (csrf_field(&member.session))
                button.danger type="submit" { "Cancel task" }
            }
        }
        div.grid.side {
            section.panel #task-result aria-labelledby="result-h" {
                h2 #result-h { "Result" }
                (result(&task))
            }
            section.panel #task-cost aria-labelledby="cost-h" {
                h2 #cost-h { "Cost" }
                (cost(&task, &timeline))
            }
        }
        section.panel #task-parameters aria-labelledby="parameters-h" {
            h2 #parameters-h { "Parameters" }
            (parameters(&task))
        }
        section.panel #task-timeline aria-labelledby="timeline-h" {
            h2 #timeline-h { "Timeline" }
            (timeline_table(&timeline))
        }
        section.panel #task-callbacks aria-labelledby="callbacks-h" {
            h2 #callbacks-h { "Callback" }
            (callbacks(&task, callback.as_ref()))
        }
        p { a href="/console/tasks" { "← All tasks" } }
    };
    Ok(page(&chrome(&member, "/console/tasks"), "Task", body))
}

fn result(task: &Task) -> Markup {
    let output = task.output.as_ref();
    let videos = output.map(|o| o.video_urls.as_slice()).unwrap_or_default();
    html! {
        @if !videos.is_empty() {
            @for (i, url) in videos.iter().enumerate() {
                video.result-video controls preload="metadata" src=(url) {}
                p.actions {
                    a.button.secondary href=(url) download=(format!("{}-{}.mp4", task.id.as_str(), i + 1)) { "Download video" }
                    @if let Some(frame) = output.and_then(|o| o.last_frame_url.as_ref()) {
                        a.button.secondary href=(frame) download=(format!("{}-last-frame.png", task.id.as_str())) { "Download last frame" }
                    }
                }
            }
            @if let Some(o) = output {
                @if let (Some(w), Some(h)) = (o.width, o.height) { p.muted { (w) " × " (h) " px" } }
                @if let Some(frame) = &o.last_frame_url {
                    figure.last-frame {
                        img.frame src=(frame) alt="The video's last frame";
                        figcaption.muted { "Last frame" }
                    }
                }
            }
        } @else if let Some(error) = &task.error {
            p.error #task-error role="alert" { strong { (error.kind.as_str()) } ": " (error.message) }
        } @else {
            @match task.status {
                TaskStatus::Queued => p.muted { "Queued: waiting for a worker." },
                TaskStatus::Running => p.muted { "Rendering… reload the page to see the result." },
                TaskStatus::Cancelled => p.muted { "Cancelled before it ran." },
                _ => p.muted { "No result." },
            }
        }
    }
}

/// Held, charged and given back, from the task's ledger entries as its timeline shows them
/// (the quote's credits while none are there yet).
fn cost(task: &Task, timeline: &[TimelineEntry]) -> Markup {
    let mut held: Option<i64> = None;
    let mut returned = 0i64;
    let mut refunded = 0i64;
    let mut resolved = false;
    for entry in timeline {
        match &entry.event {
            TaskEvent::HoldPlaced { amount, .. } => {
                held = Some(held.unwrap_or(0).saturating_add(amount.saturating_neg()))
            }
            TaskEvent::Settled { amount, .. } => {
                returned = returned.saturating_add(*amount);
                resolved = true;
            }
            TaskEvent::Refunded { amount, .. } => {
                returned = returned.saturating_add(*amount);
                resolved = true;
            }
            TaskEvent::LedgerEntry { amount, .. } => refunded = refunded.saturating_add(*amount),
            _ => {}
        }
    }
    let held = held.unwrap_or_else(|| i64::try_from(task.price.credits).unwrap_or(i64::MAX));
    let charged = held.saturating_sub(returned).saturating_sub(refunded);
    html! {
        dl.facts {
            dt { "Billable seconds" } dd { (task.price.billable_seconds) }
            dt { "Price" } dd { (format!("${:.4}", task.price.micro_usd_per_second as f64 / 1_000_000.0)) " per second" }
            dt { "Held" } dd #cost-held { (credits(held)) }
            @if resolved {
                dt { "Charged" } dd #cost-charged { (credits(charged)) }
                dt { "Refunded" } dd #cost-refunded { (credits(returned.saturating_add(refunded))) }
            } @else {
                dt { "Charged" } dd #cost-charged.muted { "when the task ends" }
            }
        }
        p.hint { "1 credit = $0.001. A failed or cancelled task's hold is refunded in full." }
    }
}

fn media_list(label: &str, urls: &[seedgate_core::media::MediaUrl]) -> Markup {
    html! {
        @if !urls.is_empty() {
            dt { (label) }
            dd {
                ul.media-urls {
                    @for url in urls { li { a href=(url.as_str()) rel="noreferrer" { (url.as_str()) } } }
                }
            }
        }
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

fn parameters(task: &Task) -> Markup {
    let r = &task.request;
    html! {
        dl.facts {
            dt { "Prompt" } dd #param-prompt { @match &r.prompt { Some(p) => span.prompt { (p) }, None => span.muted { "none" } } }
            dt { "Model" } dd { (r.model)
                @if task.requested_model != r.model { span.muted { " (asked for " (task.requested_model) ")" } } }
            dt { "Mode" } dd { (r.mode.as_str()) }
            dt { "Resolution" } dd { (r.resolution.as_str()) }
            dt { "Aspect ratio" } dd { (r.aspect_ratio.as_str()) }
            dt { "Duration" } dd { (r.duration_seconds) " s" }
            dt { "Audio" } dd { (yes_no(r.generate_audio)) }
            dt { "Seed" } dd { @match r.seed { Some(s) => (s), None => span.muted { "model's choice" } } }
            dt { "Last frame" } dd { (yes_no(r.return_last_frame)) }
            dt { "Web search" } dd { (yes_no(r.web_search)) }
            dt { "Safety checker" } dd { (yes_no(r.nsfw_checker)) }
            @if let Some(url) = &r.first_frame_url {
                dt { "First frame" } dd { a href=(url.as_str()) rel="noreferrer" { (url.as_str()) } }
            }
            @if let Some(url) = &r.last_frame_url {
                dt { "Last frame image" } dd { a href=(url.as_str()) rel="noreferrer" { (url.as_str()) } }
            }
            (media_list("Reference images", &r.reference_image_urls))
            (media_list("Reference videos", &r.reference_video_urls))
            (media_list("Reference audio", &r.reference_audio_urls))
            @if let Some(url) = &r.callback_url { dt { "Callback URL" } dd { code { (url) } } }
            @if let Some(s) = r.expires_after_seconds { dt { "Expires after" } dd { (s) " s" } }
            @if let Some(p) = r.priority { dt { "Priority" } dd { (p) } }
            @if let Some(s) = &r.safety_identifier { dt { "Safety identifier" } dd { code { (s) } } }
            dt { "Submitted through" } dd { (task.origin_dialect) }
            dt { "Attempts" } dd { (task.attempt) }
        }
    }
}

fn amount_text(amount: i64) -> String {
    format!("{} credits", grouped(amount))
}

/// One timeline entry in words.
fn describe(event: &TaskEvent) -> String {
    match event {
        TaskEvent::Accepted {
            dialect,
            model,
            billable_seconds,
            credits,
            media,
            ..
        } => {
            let mut text = format!(
                "Accepted through {dialect} for {model}: {billable_seconds} billable s, {} credits",
                grouped(i64::try_from(*credits).unwrap_or(i64::MAX))
            );
            for m in media {
                text.push_str(&format!(
                    "; {} ({} {}, {} bytes",
                    m.field,
                    m.kind,
                    m.format,
                    grouped(i64::try_from(m.size_bytes).unwrap_or(i64::MAX))
                ));
                if let (Some(w), Some(h)) = (m.width, m.height) {
                    text.push_str(&format!(", {w}×{h}"));
                }
                if let Some(ms) = m.duration_ms {
                    text.push_str(&format!(", {:.1} s", ms as f64 / 1000.0));
                }
                text.push(')');
            }
            text
        }
        TaskEvent::Claimed {
            attempt, rescued, ..
        } => {
            if *rescued {
                format!("Taken over by a worker (attempt {attempt}) after the previous one stopped answering")
            } else {
                format!("Claimed by a worker (attempt {attempt})")
            }
        }
        TaskEvent::WaitingForAccount { times, .. } => {
            format!("Waiting for a free upstream account ({times} times)")
        }
        TaskEvent::SubmitSent {
            upstream_account,
            reconcile,
        } => {
            if *reconcile {
                format!("Submitted again to {upstream_account} (the first answer was lost)")
            } else {
                format!("Submitted to {upstream_account}")
            }
        }
        TaskEvent::UpstreamAccepted {
            upstream_account,
            upstream_task_id,
        } => format!("{upstream_account} accepted it as {upstream_task_id}"),
        TaskEvent::Resumed {
            upstream_account,
            upstream_task_id,
        } => format!("Resumed following {upstream_task_id} on {upstream_account}"),
        TaskEvent::UpstreamStatus {
            upstream_account,
            status,
            ..
        } => format!("{upstream_account} reports: {status}"),
        TaskEvent::UpstreamError {
            upstream_account,
            class,
            failure,
            message,
            ..
        } => {
            let class = match class {
                ErrorClass::Permanent => "permanent",
                ErrorClass::Transient => "transient",
                ErrorClass::Ambiguous => "ambiguous",
            };
            format!("{upstream_account} failed ({class}, {failure}): {message}")
        }
        TaskEvent::FailedOver {
            from_account,
            to_account,
        } => format!("Moved on from {from_account} to {to_account}"),
        TaskEvent::ResultCopied { bytes, .. } => format!(
            "Result stored ({} bytes)",
            grouped(i64::try_from(*bytes).unwrap_or(i64::MAX))
        ),
        TaskEvent::ResultCopyFailed { error, .. } => format!("Storing the result failed: {error}"),
        TaskEvent::Requeued { reason, error, .. } => {
            let why = match reason {
                RequeueReason::Retry => "to be tried again",
                RequeueReason::HandedBack => "handed back by a stopping worker",
            };
            match error {
                Some(e) => format!("Back in the queue, {why}: {}", e.message),
                None => format!("Back in the queue, {why}"),
            }
        }
        TaskEvent::Succeeded {} => "Completed".to_string(),
        TaskEvent::Failed { error } => {
            format!("Failed ({}): {}", error.kind.as_str(), error.message)
        }
        TaskEvent::Cancelled {} => "Cancelled".to_string(),
        TaskEvent::HoldPlaced { amount, .. } => {
            format!("Credits held: {}", amount_text(amount.saturating_neg()))
        }
        TaskEvent::Settled { amount, .. } => {
            if *amount == 0 {
                "Hold charged".to_string()
            } else {
                format!("Hold charged, {} returned", amount_text(*amount))
            }
        }
        TaskEvent::Refunded { amount, .. } => format!("Refunded {}", amount_text(*amount)),
        TaskEvent::LedgerEntry {
            ledger_kind,
            amount,
            note,
            ..
        } => match note {
            Some(note) => format!("{ledger_kind}: {} ({note})", amount_text(*amount)),
            None => format!("{ledger_kind}: {}", amount_text(*amount)),
        },
        TaskEvent::CallbackAttempt {
            event,
            attempt,
            status,
            latency_ms,
            error,
            ..
        } => {
            let answer = match (status, error) {
                (Some(s), _) => format!("answered {s}"),
                (None, Some(e)) => format!("no answer: {e}"),
                (None, None) => "no answer".to_string(),
            };
            format!("Callback ({event}) attempt {attempt}: {answer} in {latency_ms} ms")
        }
        TaskEvent::OperatorAction { action, .. } => format!("An operator acted: {action}"),
        TaskEvent::Unknown { stored_kind } => format!("({stored_kind})"),
    }
}

fn timeline_table(entries: &[TimelineEntry]) -> Markup {
    html! {
        @if entries.is_empty() {
            p.muted { "Nothing recorded yet." }
        } @else {
            ol.task-events {
                @for entry in entries {
                    li data-kind=(entry.event.kind()) {
                        (time_el(entry.at_ms))
                        " "
                        span class=(format!("kind {}", entry.event.kind())) { (entry.event.kind().replace('_', " ")) }
                        span.what { (describe(&entry.event)) }
                    }
                }
            }
        }
    }
}

fn callbacks(task: &Task, record: Option<&CallbackRecord>) -> Markup {
    html! {
        @match record {
            None => {
                @match &task.request.callback_url {
                    Some(url) => p.muted #no-callback-yet { "Sent to " code { (url) } " when the task ends." },
                    None => p.muted #no-callback { "No callback URL: this task was created without one." },
                }
            }
            Some(record) => {
                dl.facts {
                    dt { "URL" } dd { code { (record.url) } }
                    dt { "State" } dd { span class=(format!("badge {}", record.state.as_str())) { (record.state.as_str()) } }
                    @if let Some(at) = record.delivered_at_ms { dt { "Delivered" } dd { (time_el(at)) } }
                    @if let Some(at) = record.next_attempt_at_ms { dt { "Next attempt" } dd { (time_el(at)) } }
                }
                div.table-wrap {
                    table #callback-attempts {
                        thead { tr { th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Status" } th.num scope="col" { "Latency" } th scope="col" { "Error" } } }
                        tbody {
                            @for a in &record.attempts {
                                tr {
                                    td.num { (a.attempt) }
                                    td { (time_el(a.started_at_ms)) }
                                    td { @match a.status { Some(s) => code { (s) }, None => span.muted { "no answer" } } }
                                    td.num { (a.latency_ms) " ms" }
                                    td { @match &a.error { Some(e) => (e), None => span.muted { "—" } } }
                                }
                            }
                            @if record.attempts.is_empty() {
                                tr { td colspan="5" .muted { "No attempts yet." } }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
}

async fn cancel(
    State(console): State<Console>,
    member: Member,
    Path(id): Path<String>,
    Form(form): Form<CancelForm>,
) -> Result<Response, ConsoleError> {
    member.session.check_csrf(&form.csrf)?;
    let target = format!("/console/tasks/{}", query_escape(&id));
    match console.service.cancel_task(&member.principal, &id).await {
        Ok(_) => Ok(Redirect::to(&format!("{target}?notice=cancelled")).into_response()),
        Err(GatewayError::NotCancellable) => {
            // Still the member's task? Then say why; otherwise it is not found.
            console
                .service
                .get_task(&member.principal, &id)
                .await
                .map_err(not_found)?;
            Ok(Redirect::to(&format!("{target}?notice=not_cancellable")).into_response())
        }
        Err(e) => Err(not_found(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_leniently_and_links_keep_them() {
        let query = ListQuery {
            status: Some("failed".into()),
            model: Some("seedance 2".into()),
            size: Some("5".into()),
            after: None,
            before: Some("task_9".into()),
        };
        let filters = Filters::of(&query);
        assert_eq!(filters.status, Some(TaskStatus::Failed));
        assert_eq!(filters.size, 5);
        assert_eq!(filters.before.as_deref(), Some("task_9"));
        assert_eq!(
            filters.link(Some(("after", "task_1"))),
            "/console/tasks?status=failed&model=seedance+2&size=5&after=task_1"
        );
        let junk = Filters::of(&ListQuery {
            status: Some("nonsense".into()),
            model: Some("  ".into()),
            size: Some("99999999999".into()),
            after: Some(String::new()),
            before: None,
        });
        assert_eq!(junk.status, None);
        assert_eq!(junk.model, None);
        assert_eq!(junk.size, DEFAULT_PAGE);
        assert_eq!(junk.after, None);
        assert_eq!(junk.link(None), "/console/tasks");
    }

    #[test]
    fn every_event_reads_as_a_sentence() {
        let text = describe(&TaskEvent::HoldPlaced {
            ledger_seq: 1,
            amount: -1200,
        });
        assert_eq!(text, "Credits held: 1,200 credits");
        let text = describe(&TaskEvent::CallbackAttempt {
            callback_id: "cb".into(),
            event: "final".into(),
            attempt: 2,
            status: None,
            latency_ms: 5,
            error: Some("connection refused".into()),
        });
        assert!(text.contains("no answer: connection refused"), "{text}");
    }
}

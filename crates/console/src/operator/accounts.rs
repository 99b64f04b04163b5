//! `/console/admin/accounts`: every account, a new one; `/console/admin/accounts/{id}`: an
//! account's balance, limits in use, policy (editable), credits granted by hand, and its keys
//! (new, rotated, revoked, their own policy). Every write goes through [`AdminService`], the
//! same calls the admin API makes, so it is checked and audited the same way.
//!
//! [`AdminService`]: seedgate_service::admin::AdminService

use super::chrome;
use crate::error::ConsoleError;
use crate::layout::{credits, csrf_field, grouped, notice, page, query_escape, time_el, Chrome};
use crate::session::Operator;
use crate::Console;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use seedgate_core::accounts::Policy;
use seedgate_service::accounts::LimitsView;
use seedgate_service::admin::{AdminError, IssuedKey};
use seedgate_store::{AccountRecord, ApiKeyRecord, Changes};
use serde::Deserialize;
use std::collections::HashMap;

/// Accounts listed per page.
const PAGE: usize = 100;

pub fn routes() -> Router<Console> {
    Router::new()
        .route(
            "/console/admin/accounts",
            get(accounts_page).post(create_account),
        )
        .route("/console/admin/accounts/{id}", get(account_page))
        .route("/console/admin/accounts/{id}/policy", post(update_account))
        .route("/console/admin/accounts/{id}/credits", post(grant_credits))
        .route("/console/admin/accounts/{id}/keys", post(create_key))
        .route("/console/admin/keys/{id}/policy", post(update_key))
        .route("/console/admin/keys/{id}/rotate", post(rotate_key))
        .route("/console/admin/keys/{id}/revoke", post(revoke_key))
}

// ---------------------------------------------------------------------------------------------
// Shared by the operators' forms.

/// A form's CSRF token is this session's, and the operator may write: checked before anything
/// else a form asks.
pub(super) fn writable(operator: &Operator, csrf: &str) -> Result<(), ConsoleError> {
    operator.session.check_csrf(csrf)?;
    if !operator.can_write() {
        return Err(ConsoleError::Forbidden(
            "This admin token may only read (the viewer role): nothing was changed.".into(),
        ));
    }
    Ok(())
}

/// A form that could not be read at all (a 400 page, never a panic).
pub(super) fn form<T>(form: Result<Form<T>, FormRejection>) -> Result<T, ConsoleError> {
    form.map(|Form(f)| f)
        .map_err(|e| ConsoleError::BadRequest(e.body_text()))
}

pub(super) fn path(p: Result<Path<String>, PathRejection>) -> Result<String, ConsoleError> {
    p.map(|Path(p)| p)
        .map_err(|e| ConsoleError::BadRequest(e.body_text()))
}

/// An operator's page: the shell, with the operator pages' own styles scoped to the body.
pub(super) fn op_page(chrome: &Chrome<'_>, title: &str, body: Markup) -> Markup {
    page(chrome, title, html! { div.op-page { (body) } })
}

/// Post/Redirect/Get: back to `to`, with a notice to show there.
pub(super) fn see_other(to: &str, message: &str) -> Response {
    let joiner = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{joiner}notice={}", query_escape(message))).into_response()
}

/// Whether an admin error is about what the form said (shown next to the form) rather than a
/// failure of the page.
pub(super) fn is_form_error(e: &AdminError) -> bool {
    matches!(
        e,
        AdminError::Invalid(_) | AdminError::Conflict(_) | AdminError::InsufficientCredits { .. }
    )
}

/// A form's error, next to it.
pub(super) fn form_error(id: &str, message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.error.form-error id=(id) role="alert" { (message) }
        }
    }
}

#[derive(Deserialize, Default)]
pub(super) struct NoticeQuery {
    pub notice: Option<String>,
}

pub(super) fn notice_of(query: Result<Query<NoticeQuery>, QueryRejection>) -> Option<String> {
    query.ok().and_then(|Query(q)| q.notice)
}

// ---------------------------------------------------------------------------------------------
// A policy as a form: every field a string, read back into a [`Policy`] (its JSON form, so
// addresses and price plans are read by the same code as the admin API's bodies).

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct PolicyInput {
    csrf: String,
    name: String,
    /// Starting credits (a new account only).
    credits: String,
    models: String,
    ip_allow: String,
    expires_at: String,
    labels: String,
    max_in_flight: String,
    max_queued: String,
    submit_rate: String,
    submit_window: String,
    request_rate: String,
    request_window: String,
    daily_budget: String,
    monthly_budget: String,
    total_budget: String,
    /// JSON, accounts only.
    price_plan: String,
}

fn opt_number<T: std::str::FromStr>(field: &str, text: &str) -> Result<Option<T>, String> {
    let text = text.trim().replace([',', '_'], "");
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<T>()
        .map(Some)
        .map_err(|_| format!("{field}: `{text}` is not a whole number in range"))
}

fn rate(field: &str, limit: &str, window: &str) -> Result<Option<serde_json::Value>, String> {
    let limit: Option<u32> = opt_number(field, limit)?;
    let window: Option<u32> = opt_number(&format!("{field} window"), window)?;
    match (limit, window) {
        (None, None) => Ok(None),
        (Some(limit), Some(window)) => Ok(Some(
            serde_json::json!({"limit": limit, "window_seconds": window}),
        )),
        _ => Err(format!(
            "{field}: give both the number of events and the window in seconds, or neither"
        )),
    }
}

fn list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// An expiry as RFC 3339 or a bare UTC date.
fn expiry(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.timestamp_millis()));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(Some(t.and_utc().timestamp_millis()));
        }
    }
    Err(format!(
        "expires: `{text}` is neither a date (2027-01-31) nor RFC 3339 (2027-01-31T12:00:00Z)"
    ))
}

impl PolicyInput {
    fn of(name: &str, policy: &Policy) -> PolicyInput {
        let l = &policy.limits;
        let n = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        PolicyInput {
            csrf: String::new(),
            name: name.to_string(),
            credits: String::new(),
            models: policy
                .allowed_models
                .as_ref()
                .map(|m| m.join(", "))
                .unwrap_or_default(),
            ip_allow: policy
                .ip_allow
                .as_ref()
                .map(|nets| {
                    nets.iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            expires_at: policy
                .expires_at_ms
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
            labels: policy
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            max_in_flight: n(l.max_in_flight.map(u64::from)),
            max_queued: n(l.max_queued.map(u64::from)),
            submit_rate: n(l.submit_rate.map(|r| u64::from(r.limit))),
            submit_window: n(l.submit_rate.map(|r| u64::from(r.window_seconds))),
            request_rate: n(l.request_rate.map(|r| u64::from(r.limit))),
            request_window: n(l.request_rate.map(|r| u64::from(r.window_seconds))),
            daily_budget: n(l.daily_budget),
            monthly_budget: n(l.monthly_budget),
            total_budget: n(l.total_budget),
            price_plan: policy
                .price_plan
                .as_ref()
                .and_then(|p| serde_json::to_string(p).ok())
                .unwrap_or_default(),
        }
    }

    /// The policy the form describes, or what is wrong with it.
    fn policy(&self, for_account: bool) -> Result<Policy, String> {
        let mut limits = serde_json::Map::new();
        let mut put = |name: &str, value: Option<serde_json::Value>| {
            if let Some(value) = value {
                limits.insert(name.to_string(), value);
            }
        };
        put(
            "max_in_flight",
            opt_number::<u32>("in flight", &self.max_in_flight)?.map(Into::into),
        );
        put(
            "max_queued",
            opt_number::<u32>("queued", &self.max_queued)?.map(Into::into),
        );
        put(
            "submit_rate",
            rate("submit rate", &self.submit_rate, &self.submit_window)?,
        );
        put(
            "request_rate",
            rate("request rate", &self.request_rate, &self.request_window)?,
        );
        put(
            "daily_budget",
            opt_number::<u64>("daily budget", &self.daily_budget)?.map(Into::into),
        );
        put(
            "monthly_budget",
            opt_number::<u64>("monthly budget", &self.monthly_budget)?.map(Into::into),
        );
        put(
            "total_budget",
            opt_number::<u64>("total budget", &self.total_budget)?.map(Into::into),
        );
        let mut labels = serde_json::Map::new();
        for line in self.labels.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!("labels: `{line}` is not name=value"));
            };
            if k.trim().is_empty() {
                return Err(format!("labels: `{line}` has no name"));
            }
            labels.insert(k.trim().to_string(), v.trim().into());
        }
        let mut policy = serde_json::Map::new();
        let models = list(&self.models);
        if !models.is_empty() {
            policy.insert("allowed_models".into(), models.into());
        }
        let nets = list(&self.ip_allow);
        if !nets.is_empty() {
            policy.insert("ip_allow".into(), nets.into());
        }
        if let Some(ms) = expiry(&self.expires_at)? {
            policy.insert("expires_at_ms".into(), ms.into());
        }
        policy.insert("labels".into(), labels.into());
        policy.insert("limits".into(), limits.into());
        let plan = self.price_plan.trim();
        if !plan.is_empty() {
            if !for_account {
                return Err("price plan: only an account carries a price plan".into());
            }
            let plan: serde_json::Value =
                serde_json::from_str(plan).map_err(|e| format!("price plan: not JSON ({e})"))?;
            policy.insert("price_plan".into(), plan);
        }
        serde_json::from_value::<Policy>(policy.into()).map_err(|e| {
            let e = e.to_string();
            if e.contains("IP") || e.contains("address") || e.contains("CIDR") {
                format!("IP allow-list: {e}")
            } else {
                format!("policy: {e}")
            }
        })
    }
}

/// The policy's fields, their ids prefixed by `form` (several forms share a page).
fn policy_fields(form: &str, input: &PolicyInput, for_account: bool) -> Markup {
    let id = |field: &str| format!("{form}-{field}");
    let number = |field: &str, label: &str, name: &str, value: &str, hint: &str| {
        html! {
            div {
                label for=(id(field)) { (label) }
                input id=(id(field)) type="text" inputmode="numeric" name=(name) value=(value)
                    placeholder="no limit" aria-describedby=(id(&format!("{field}-hint")));
                span.hint id=(id(&format!("{field}-hint"))) { (hint) }
            }
        }
    };
    html! {
        fieldset.fields {
            legend { "Access" }
            div {
                label for=(id("models")) { "Models allowed" }
                input id=(id("models")) type="text" name="models" value=(input.models)
                    placeholder="every model";
                span.hint { "Model ids, comma-separated; empty allows every model." }
            }
            div {
                label for=(id("ip")) { "IP allow-list" }
                input id=(id("ip")) type="text" name="ip_allow" value=(input.ip_allow)
                    placeholder="any address";
                span.hint { "CIDRs, comma-separated (203.0.113.0/24, 2001:db8::/32)." }
            }
            div {
                label for=(id("expires")) { "Expires" }
                input id=(id("expires")) type="text" name="expires_at" value=(input.expires_at)
                    placeholder="never";
                span.hint { "A UTC date (2027-01-31) or RFC 3339 time." }
            }
            div {
                label for=(id("labels")) { "Labels" }
                textarea id=(id("labels")) name="labels" rows="2" { (input.labels) }
                span.hint { "One name=value per line." }
            }
        }
        fieldset.fields {
            legend { "Limits" }
            (number("inflight", "Tasks in flight", "max_in_flight", &input.max_in_flight, "Queued or running at once."))
            (number("queued", "Tasks queued", "max_queued", &input.max_queued, "Waiting at once."))
            div {
                label for=(id("submit")) { "Submit rate" }
                div.pair {
                    input id=(id("submit")) type="text" inputmode="numeric" name="submit_rate"
                        value=(input.submit_rate) placeholder="no limit" aria-label="Submits";
                    span { "per" }
                    input id=(id("submit-window")) type="text" inputmode="numeric" name="submit_window"
                        value=(input.submit_window) placeholder="seconds" aria-label="Submit window in seconds";
                    span { "s" }
                }
            }
            div {
                label for=(id("request")) { "Request rate" }
                div.pair {
                    input id=(id("request")) type="text" inputmode="numeric" name="request_rate"
                        value=(input.request_rate) placeholder="no limit" aria-label="Requests";
                    span { "per" }
                    input id=(id("request-window")) type="text" inputmode="numeric" name="request_window"
                        value=(input.request_window) placeholder="seconds" aria-label="Request window in seconds";
                    span { "s" }
                }
            }
            (number("daily", "Daily budget", "daily_budget", &input.daily_budget, "Credits per UTC day."))
            (number("monthly", "Monthly budget", "monthly_budget", &input.monthly_budget, "Credits per UTC month."))
            (number("total", "Total budget", "total_budget", &input.total_budget, "Credits ever."))
        }
        @if for_account {
            fieldset.fields {
                legend { "Pricing" }
                div.wide {
                    label for=(id("plan")) { "Price plan" }
                    textarea id=(id("plan")) name="price_plan" rows="2" class="mono"
                        placeholder="the catalog's prices" { (input.price_plan) }
                    span.hint { "JSON: {\"multiplier\": 0.8}, or {\"table\": {model: {resolution: {\"standard\": …, \"with_reference_video\": …}}}}." }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The list of accounts.

#[derive(Deserialize, Default)]
pub struct ListQuery {
    notice: Option<String>,
    q: Option<String>,
    page: Option<usize>,
}

async fn accounts_page(
    State(console): State<Console>,
    operator: Operator,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let markup = list_markup(&console, &operator, &query, None, None).await?;
    Ok(markup.into_response())
}

async fn list_markup(
    console: &Console,
    operator: &Operator,
    query: &ListQuery,
    failure: Option<&str>,
    input: Option<&PolicyInput>,
) -> Result<Markup, ConsoleError> {
    let filter = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let mut accounts: Vec<AccountRecord> = console
        .admin
        .accounts()
        .await?
        .into_iter()
        .filter(|a| {
            filter.as_deref().is_none_or(|f| {
                a.name.to_lowercase().contains(f) || a.id.as_str().to_lowercase().contains(f)
            })
        })
        .collect();
    accounts.sort_by_key(|a| std::cmp::Reverse(a.created_at_ms));
    let mut key_counts: HashMap<String, (usize, usize)> = HashMap::new();
    for key in console.admin.keys(None).await? {
        let entry = key_counts.entry(key.account_id.to_string()).or_default();
        entry.0 += 1;
        if key.revoked_at_ms.is_none() {
            entry.1 += 1;
        }
    }
    let total = accounts.len();
    let page_no = query.page.unwrap_or(0).min(total / PAGE);
    let shown: Vec<&AccountRecord> = accounts.iter().skip(page_no * PAGE).take(PAGE).collect();
    let q_param = filter
        .as_deref()
        .map(|f| format!("&q={}", query_escape(f)))
        .unwrap_or_default();
    let blank = PolicyInput::default();
    let input = input.unwrap_or(&blank);
    let body = html! {
        (notice(query.notice.as_deref()))
        form.filters method="get" action="/console/admin/accounts" {
            div {
                label for="q" { "Find" }
                input #q type="search" name="q" value=(filter.as_deref().unwrap_or_default())
                    placeholder="name or id";
            }
            div { button type="submit" { "Filter" } }
        }
        div.table-wrap {
            table.cards #accounts {
                caption.muted { (total) " accounts, newest first." }
                thead { tr { th { "Name" } th { "Id" } th.num { "Balance" } th.num { "Keys" } th { "Created" } } }
                tbody {
                    @for a in &shown {
                        @let (keys, live) = key_counts.get(a.id.as_str()).copied().unwrap_or_default();
                        tr {
                            td data-label="Name" { a href=(format!("/console/admin/accounts/{}", a.id)) { (a.name) } }
                            td data-label="Id" { code { (a.id) } }
                            td.num data-label="Balance" { (credits(a.balance)) }
                            td.num data-label="Keys" { (live) @if keys > live { span.muted { " (+" (keys - live) " revoked)" } } }
                            td data-label="Created" { (time_el(a.created_at_ms)) }
                        }
                    }
                    @if shown.is_empty() {
                        tr { td colspan="5" .muted { "No accounts." } }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if page_no > 0 {
                a href=(format!("/console/admin/accounts?page={}{q_param}", page_no - 1)) { "← Previous" }
            }
            @if (page_no + 1) * PAGE < total {
                a href=(format!("/console/admin/accounts?page={}{q_param}", page_no + 1)) { "Next →" }
            }
        }
        @if operator.can_write() {
            section.panel aria-labelledby="new-account" {
                h2 #new-account { "New account" }
                form #create-account method="post" action="/console/admin/accounts" {
                    (csrf_field(&operator.session))
                    (form_error("create-account-error", failure))
                    div.grid.two {
                        div {
                            label for="new-name" { "Name" }
                            input #new-name type="text" name="name" required maxlength="200" value=(input.name);
                        }
                        div {
                            label for="new-credits" { "Starting credits" }
                            input #new-credits type="text" inputmode="numeric" name="credits"
                                value=(input.credits) placeholder="0";
                            span.hint { "1 credit = $0.001; recorded as one grant." }
                        }
                    }
                    details open[failure.is_some()] {
                        summary { "Policy and limits (optional)" }
                        (policy_fields("new", input, true))
                    }
                    div.actions { button type="submit" { "Create account" } }
                }
            }
        }
    };
    Ok(op_page(
        &chrome(operator, "/console/admin/accounts"),
        "Accounts",
        body,
    ))
}

async fn create_account(
    State(console): State<Console>,
    operator: Operator,
    input: Result<Form<PolicyInput>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let input = form(input)?;
    writable(&operator, &input.csrf)?;
    let outcome = async {
        let credits = opt_number::<i64>("starting credits", &input.credits)
            .map_err(AdminError::Invalid)?
            .unwrap_or(0);
        let policy = input.policy(true).map_err(AdminError::Invalid)?;
        let name = input.name.trim();
        if name.len() > 200 {
            return Err(AdminError::Invalid("name: at most 200 bytes".into()));
        }
        console
            .admin
            .create_account(name, &policy, credits, &operator.actor)
            .await
    }
    .await;
    match outcome {
        Ok(account) => Ok(see_other(
            &format!("/console/admin/accounts/{}", account.id),
            &format!("Account {} created.", account.name),
        )),
        Err(e) if is_form_error(&e) => {
            let message = e.to_string();
            let markup = list_markup(
                &console,
                &operator,
                &ListQuery::default(),
                Some(&message),
                Some(&input),
            )
            .await?;
            Ok((status_of(e), markup).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// One account.

/// Which form on the account page a failure belongs to, with what was sent.
enum Failure {
    Policy(PolicyInput, String),
    Credits(CreditsInput, String),
    NewKey(PolicyInput, String),
    Key(String, PolicyInput, String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Failure::Policy(_, m)
            | Failure::Credits(_, m)
            | Failure::NewKey(_, m)
            | Failure::Key(_, _, m) => m,
        }
    }
}

async fn account_page(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<NoticeQuery>, QueryRejection>,
) -> Result<Markup, ConsoleError> {
    let id = path(id)?;
    account_markup(&console, &operator, &id, notice_of(query).as_deref(), None).await
}

fn limits_table(view: &LimitsView) -> Markup {
    let l = &view.limits;
    let of = |limit: Option<u64>| -> Markup {
        html! { @match limit { Some(v) => (grouped(v as i64)), None => span.muted { "no limit" } } }
    };
    html! {
        div.table-wrap {
            table.limits {
                thead { tr { th { "Limit" } th.num { "In use" } th.num { "Allowed" } } }
                tbody {
                    tr { td { "Tasks in flight" } td.num { (view.in_flight) } td.num { (of(l.max_in_flight.map(u64::from))) } }
                    tr { td { "Tasks queued" } td.num { (view.queued) } td.num { (of(l.max_queued.map(u64::from))) } }
                    tr {
                        td { "Submit rate" }
                        td.num { @match view.submits_remaining { Some(r) => { (r) " left now" }, None => "—" } }
                        td.num { @match l.submit_rate { Some(r) => { (r.limit) " per " (r.window_seconds) " s" }, None => span.muted { "no limit" } } }
                    }
                    tr {
                        td { "Request rate" }
                        td.num { "—" }
                        td.num { @match l.request_rate { Some(r) => { (r.limit) " per " (r.window_seconds) " s" }, None => span.muted { "no limit" } } }
                    }
                    tr { td { "Spent today" } td.num { (grouped(view.spent_today as i64)) } td.num { (of(l.daily_budget)) } }
                    tr { td { "Spent this month" } td.num { (grouped(view.spent_this_month as i64)) } td.num { (of(l.monthly_budget)) } }
                    tr { td { "Spent in total" } td.num { (grouped(view.spent_total as i64)) } td.num { (of(l.total_budget)) } }
                }
            }
        }
        @if let Some(expires) = view.expires_at_ms {
            p.hint { "Expires " (time_el(expires)) "." }
        }
    }
}

/// A policy in a few words: what it allows and limits.
fn policy_summary(policy: &Policy) -> Markup {
    let l = &policy.limits;
    let mut items: Vec<String> = Vec::new();
    if let Some(models) = &policy.allowed_models {
        items.push(format!("models: {}", models.join(", ")));
    }
    if let Some(nets) = &policy.ip_allow {
        let nets: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
        items.push(format!("from {}", nets.join(", ")));
    }
    if let Some(at) = policy.expires_at_ms {
        items.push(format!("expires {}", crate::layout::time(at)));
    }
    for (k, v) in &policy.labels {
        items.push(format!("{k}={v}"));
    }
    if let Some(n) = l.max_in_flight {
        items.push(format!("≤ {n} in flight"));
    }
    if let Some(n) = l.max_queued {
        items.push(format!("≤ {n} queued"));
    }
    if let Some(r) = l.submit_rate {
        items.push(format!("{} submits / {} s", r.limit, r.window_seconds));
    }
    if let Some(r) = l.request_rate {
        items.push(format!("{} requests / {} s", r.limit, r.window_seconds));
    }
    for (label, budget) in [
        ("daily", l.daily_budget),
        ("monthly", l.monthly_budget),
        ("total", l.total_budget),
    ] {
        if let Some(b) = budget {
            items.push(format!(
                "{label} budget {}",
                grouped(i64::try_from(b).unwrap_or(i64::MAX))
            ));
        }
    }
    if let Some(plan) = &policy.price_plan {
        items.push(format!(
            "price plan {}",
            serde_json::to_string(plan).unwrap_or_default()
        ));
    }
    html! {
        @if items.is_empty() {
            span.muted { "none" }
        } @else {
            ul.policy {
                @for item in &items { li { (item) } }
            }
        }
    }
}

async fn account_markup(
    console: &Console,
    operator: &Operator,
    id: &str,
    notice_text: Option<&str>,
    failure: Option<Failure>,
) -> Result<Markup, ConsoleError> {
    let limits = console.admin.limits(id).await?;
    let account = &limits.account;
    let write = operator.can_write();
    let base = format!("/console/admin/accounts/{}", account.id);
    let policy_input = match &failure {
        Some(Failure::Policy(input, _)) => input.clone(),
        _ => PolicyInput::of(&account.name, &account.policy),
    };
    let message_for = |which: &str| -> Option<&str> {
        match (&failure, which) {
            (Some(f @ Failure::Policy(..)), "policy")
            | (Some(f @ Failure::Credits(..)), "credits")
            | (Some(f @ Failure::NewKey(..)), "new-key") => Some(f.message()),
            (Some(f @ Failure::Key(key, ..)), which) if which == key => Some(f.message()),
            _ => None,
        }
    };
    let credits_input = match &failure {
        Some(Failure::Credits(input, _)) => input.clone(),
        _ => CreditsInput::default(),
    };
    let new_key_input = match &failure {
        Some(Failure::NewKey(input, _)) => input.clone(),
        _ => PolicyInput::default(),
    };
    let body = html! {
        (notice(notice_text))
        div.op-stats {
            div.panel {
                h2 { "Balance" }
                p.stat #account-balance { (credits(account.balance)) }
                p.hint { "Id " code { (account.id) } " · created " (time_el(account.created_at_ms)) }
            }
            div.panel {
                h2 { "Keys" }
                p.stat { (limits.keys.iter().filter(|k| k.key.revoked_at_ms.is_none()).count()) " live" }
                p.hint { (limits.keys.len()) " in all · "
                    a href=(format!("/console/admin/tasks?account={}", account.id)) { "tasks" } " · "
                    a href=(format!("/console/admin/usage?account={}", account.id)) { "usage" } " · "
                    a href=(format!("/console/admin/audit?target={}", account.id)) { "audit" } }
            }
            div.panel {
                h2 { "Policy" }
                p { (policy_summary(&account.policy)) }
            }
        }
        section aria-labelledby="limits-h" {
            h2 #limits-h { "Limits and current use" }
            (limits_table(&limits.usage))
        }
        @if write {
            section.panel aria-labelledby="credits-h" {
                h2 #credits-h { "Grant credits" }
                form #grant method="post" action=(format!("{base}/credits"))
                    data-confirm="Move these credits? This writes a ledger entry." {
                    (csrf_field(&operator.session))
                    (form_error("grant-error", message_for("credits")))
                    div.grid.two {
                        div {
                            label for="grant-amount" { "Amount" }
                            input #grant-amount type="text" inputmode="numeric" name="amount" required
                                value=(credits_input.amount);
                            span.hint { "Credits; negative takes them away (never below 0)." }
                        }
                        div {
                            label for="grant-note" { "Reason" }
                            input #grant-note type="text" name="note" required maxlength="1000"
                                value=(credits_input.note) placeholder="invoice 2026-12, goodwill…";
                        }
                    }
                    div.actions { button type="submit" { "Grant" } }
                }
            }
            section.panel aria-labelledby="policy-h" {
                h2 #policy-h { "Edit account" }
                form #account-policy method="post" action=(format!("{base}/policy")) {
                    (csrf_field(&operator.session))
                    (form_error("account-policy-error", message_for("policy")))
                    div {
                        label for="account-name" { "Name" }
                        input #account-name type="text" name="name" required maxlength="200" value=(policy_input.name);
                    }
                    (policy_fields("account", &policy_input, true))
                    div.actions { button type="submit" { "Save account" } }
                }
            }
        }
        section aria-labelledby="keys-h" {
            h2 #keys-h { "Keys" }
            div.table-wrap {
                table.cards #keys {
                    thead { tr { th { "Name" } th { "Prefix" } th { "Created" } th { "State" } th { "Policy" } th.num { "In flight" } th.num { "Spent today" } } }
                    tbody {
                        @for k in &limits.keys {
                            tr {
                                td data-label="Name" { (k.key.name) br; code.muted { (k.key.id) } }
                                td data-label="Prefix" { code { (k.key.key_prefix) "…" } }
                                td data-label="Created" { (time_el(k.key.created_at_ms)) }
                                td data-label="State" { @match k.key.revoked_at_ms {
                                    Some(at) => { span.badge.revoked { "revoked" } " " (time_el(at)) },
                                    None => span.badge.ok { "live" },
                                } }
                                td data-label="Policy" { (policy_summary(&k.key.policy)) }
                                td.num data-label="In flight" { (k.usage.in_flight) }
                                td.num data-label="Spent today" { (grouped(k.usage.spent_today as i64)) }
                            }
                        }
                        @if limits.keys.is_empty() {
                            tr { td colspan="7" .muted { "No keys yet." } }
                        }
                    }
                }
            }
            @if write {
                @for k in limits.keys.iter().filter(|k| k.key.revoked_at_ms.is_none()) {
                    @let key_id = k.key.id.to_string();
                    @let failed = message_for(&key_id);
                    @let input = match &failure {
                        Some(Failure::Key(id, input, _)) if *id == key_id => input.clone(),
                        _ => PolicyInput::of(&k.key.name, &k.key.policy),
                    };
                    details.panel.key-actions open[failed.is_some()] {
                        summary { "Key " strong { (k.key.name) } " " code { (k.key.key_prefix) "…" } }
                        div.actions {
                            form method="post" action=(format!("/console/admin/keys/{key_id}/rotate"))
                                data-confirm=(format!("Rotate key {}? Its current secret stops working.", k.key.name)) {
                                (csrf_field(&operator.session))
                                button.secondary type="submit" { "Rotate secret" }
                            }
                            form method="post" action=(format!("/console/admin/keys/{key_id}/revoke"))
                                data-confirm=(format!("Revoke key {}? It is refused from then on.", k.key.name)) {
                                (csrf_field(&operator.session))
                                button.danger type="submit" { "Revoke" }
                            }
                        }
                        form.key-policy method="post" action=(format!("/console/admin/keys/{key_id}/policy")) {
                            (csrf_field(&operator.session))
                            (form_error(&format!("key-{key_id}-error"), failed))
                            div {
                                label for=(format!("key-{key_id}-name")) { "Name" }
                                input id=(format!("key-{key_id}-name")) type="text" name="name" required maxlength="200" value=(input.name);
                            }
                            (policy_fields(&format!("key-{key_id}"), &input, false))
                            div.actions { button type="submit" { "Save key" } }
                        }
                    }
                }
                section.panel aria-labelledby="new-key-h" {
                    h2 #new-key-h { "New key" }
                    form #create-key method="post" action=(format!("{base}/keys")) {
                        (csrf_field(&operator.session))
                        (form_error("create-key-error", message_for("new-key")))
                        div {
                            label for="new-key-name" { "Name" }
                            input #new-key-name type="text" name="name" required maxlength="200" value=(new_key_input.name);
                        }
                        details open[message_for("new-key").is_some()] {
                            summary { "The key's own policy and limits (optional)" }
                            (policy_fields("new-key", &new_key_input, false))
                        }
                        div.actions { button type="submit" { "Create key" } }
                    }
                }
            }
        }
    };
    Ok(op_page(
        &chrome(operator, "/console/admin/accounts"),
        &format!("Account {}", account.name),
        body,
    ))
}

/// The account page again, with a form's error next to it (400, or the service's status).
async fn refused(
    console: &Console,
    operator: &Operator,
    account: &str,
    status: StatusCode,
    failure: Failure,
) -> Result<Response, ConsoleError> {
    let markup = account_markup(console, operator, account, None, Some(failure)).await?;
    Ok((status, markup).into_response())
}

fn status_of(e: AdminError) -> StatusCode {
    ConsoleError::Admin(e).status()
}

async fn update_account(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    input: Result<Form<PolicyInput>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let id = path(id)?;
    let input = form(input)?;
    writable(&operator, &input.csrf)?;
    let outcome = match input.policy(true) {
        Err(m) => Err(AdminError::Invalid(m)),
        Ok(_) if input.name.trim().is_empty() => {
            Err(AdminError::Invalid("name: must not be empty".into()))
        }
        Ok(_) if input.name.trim().len() > 200 => {
            Err(AdminError::Invalid("name: at most 200 bytes".into()))
        }
        Ok(policy) => {
            let changes = Changes {
                name: Some(input.name.trim().to_string()),
                policy: Some(policy),
            };
            console
                .admin
                .update_account(&id, &changes, &operator.actor)
                .await
        }
    };
    match outcome {
        Ok(account) => Ok(see_other(
            &format!("/console/admin/accounts/{}", account.id),
            "Account saved.",
        )),
        Err(e) if is_form_error(&e) => {
            let message = e.to_string();
            refused(
                &console,
                &operator,
                &id,
                status_of(e),
                Failure::Policy(input, message),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct CreditsInput {
    csrf: String,
    amount: String,
    note: String,
}

async fn grant_credits(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    input: Result<Form<CreditsInput>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let id = path(id)?;
    let input = form(input)?;
    writable(&operator, &input.csrf)?;
    let outcome = match opt_number::<i64>("amount", &input.amount) {
        Err(m) => Err(AdminError::Invalid(m)),
        Ok(None) => Err(AdminError::Invalid("amount: how many credits?".into())),
        Ok(Some(amount)) => console
            .admin
            .grant_credits(&id, amount, &input.note, &operator.actor)
            .await
            .map(|balance| (amount, balance)),
    };
    match outcome {
        Ok((amount, balance)) => Ok(see_other(
            &format!("/console/admin/accounts/{id}"),
            &format!(
                "{} {} credits; the balance is {} credits.",
                if amount > 0 { "Granted" } else { "Took" },
                grouped(amount.abs()),
                grouped(balance)
            ),
        )),
        Err(e) if is_form_error(&e) => {
            let message = e.to_string();
            refused(
                &console,
                &operator,
                &id,
                status_of(e),
                Failure::Credits(input, message),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// A key's secret, shown this once.
fn secret_page(operator: &Operator, title: &str, issued: &IssuedKey) -> Markup {
    let record = &issued.record;
    let body = html! {
        div.panel {
            p { "Copy the key now: it is shown this once and cannot be read again." }
            p.secret #new-secret { (issued.key) }
            div.actions {
                button type="button" data-copy="new-secret" { "Copy" }
                a.button.secondary href=(format!("/console/admin/accounts/{}", record.account_id)) { "Back to the account" }
            }
        }
        dl.facts {
            dt { "Name" } dd { (record.name) }
            dt { "Id" } dd { code { (record.id) } }
            dt { "Prefix" } dd { code { (record.key_prefix) "…" } }
            dt { "Account" } dd { code { (record.account_id) } }
            dt { "Policy" } dd { (policy_summary(&record.policy)) }
        }
    };
    op_page(&chrome(operator, "/console/admin/accounts"), title, body)
}

async fn create_key(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    input: Result<Form<PolicyInput>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let id = path(id)?;
    let input = form(input)?;
    writable(&operator, &input.csrf)?;
    let name = input.name.trim();
    let outcome = match input.policy(false) {
        Err(m) => Err(AdminError::Invalid(m)),
        Ok(_) if name.is_empty() => Err(AdminError::Invalid("name: must not be empty".into())),
        Ok(_) if name.len() > 200 => Err(AdminError::Invalid("name: at most 200 bytes".into())),
        Ok(policy) => {
            console
                .admin
                .create_key(&id, name, &policy, &operator.actor)
                .await
        }
    };
    match outcome {
        Ok(issued) => Ok((
            StatusCode::CREATED,
            secret_page(
                &operator,
                &format!("Key {} created", issued.record.name),
                &issued,
            ),
        )
            .into_response()),
        Err(e) if is_form_error(&e) => {
            let message = e.to_string();
            refused(
                &console,
                &operator,
                &id,
                status_of(e),
                Failure::NewKey(input, message),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfOnly {
    csrf: String,
}

async fn key_of(console: &Console, id: &str) -> Result<ApiKeyRecord, ConsoleError> {
    Ok(console.admin.key(id).await?)
}

async fn update_key(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    input: Result<Form<PolicyInput>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let id = path(id)?;
    let input = form(input)?;
    writable(&operator, &input.csrf)?;
    let key = key_of(&console, &id).await?;
    let name = input.name.trim();
    let outcome = match input.policy(false) {
        Err(m) => Err(AdminError::Invalid(m)),
        Ok(_) if name.is_empty() => Err(AdminError::Invalid("name: must not be empty".into())),
        Ok(_) if name.len() > 200 => Err(AdminError::Invalid("name: at most 200 bytes".into())),
        Ok(policy) => {
            let changes = Changes {
                name: Some(name.to_string()),
                policy: Some(policy),
            };
            console
                .admin
                .update_key(key.id.as_str(), &changes, &operator.actor)
                .await
        }
    };
    match outcome {
        Ok(saved) => Ok(see_other(
            &format!("/console/admin/accounts/{}", saved.account_id),
            &format!("Key {} saved.", saved.name),
        )),
        Err(e) if is_form_error(&e) => {
            let message = e.to_string();
            refused(
                &console,
                &operator,
                key.account_id.as_str(),
                status_of(e),
                Failure::Key(key.id.to_string(), input, message),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn rotate_key(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    input: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let id = path(id)?;
    let input = form(input)?;
    writable(&operator, &input.csrf)?;
    let key = key_of(&console, &id).await?;
    let issued = console
        .admin
        .rotate_key(key.id.as_str(), &operator.actor)
        .await?;
    Ok(secret_page(
        &operator,
        &format!("Key {} rotated", issued.record.name),
        &issued,
    )
    .into_response())
}

async fn revoke_key(
    State(console): State<Console>,
    operator: Operator,
    id: Result<Path<String>, PathRejection>,
    input: Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response, ConsoleError> {
    let id = path(id)?;
    let input = form(input)?;
    writable(&operator, &input.csrf)?;
    let key = key_of(&console, &id).await?;
    let revoked = console
        .admin
        .revoke_key(key.id.as_str(), &operator.actor)
        .await?;
    Ok(see_other(
        &format!("/console/admin/accounts/{}", revoked.account_id),
        &format!("Key {} revoked.", revoked.name),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Role, Session};
    use seedgate_store::{Actor, AdminRole};

    fn operator(role: AdminRole) -> Operator {
        Operator {
            actor: Actor("token:adm_1 (t)".into()),
            role,
            session: Session {
                role: Role::Operator,
                digest: "d".into(),
                expires_ms: i64::MAX,
                csrf: "the-token".into(),
            },
        }
    }

    #[test]
    fn a_form_needs_the_sessions_token_and_a_token_that_may_write() {
        assert!(writable(&operator(AdminRole::Admin), "the-token").is_ok());
        assert!(matches!(
            writable(&operator(AdminRole::Admin), "another"),
            Err(ConsoleError::Csrf)
        ));
        let refused = writable(&operator(AdminRole::Viewer), "the-token");
        assert!(matches!(&refused, Err(ConsoleError::Forbidden(_))));
        assert_eq!(
            refused.err().map(|e| e.status()),
            Some(StatusCode::FORBIDDEN)
        );
        // The token is checked first: a viewer's forged form is a CSRF failure.
        assert!(matches!(
            writable(&operator(AdminRole::Viewer), ""),
            Err(ConsoleError::Csrf)
        ));
    }

    #[test]
    fn a_policy_form_reads_back_into_the_policy_it_shows() {
        let input = PolicyInput {
            models: "seedance-2.0, seedance-2.0-mini".into(),
            ip_allow: "203.0.113.0/24".into(),
            expires_at: "2027-01-31".into(),
            labels: "team=video\ncost_centre = 42".into(),
            max_in_flight: "3".into(),
            submit_rate: "10".into(),
            submit_window: "60".into(),
            daily_budget: "1,000".into(),
            price_plan: "{\"multiplier\": 0.8}".into(),
            ..PolicyInput::default()
        };
        let policy = input.policy(true).expect("a valid policy");
        assert_eq!(policy.limits.max_in_flight, Some(3));
        assert_eq!(policy.limits.daily_budget, Some(1000));
        assert_eq!(
            policy.labels.get("cost_centre").map(String::as_str),
            Some("42")
        );
        let again = PolicyInput::of("x", &policy).policy(true).expect("again");
        assert_eq!(again, policy);
    }

    #[test]
    fn a_wrong_field_is_named() {
        let bad = |input: PolicyInput, word: &str| {
            let e = input.policy(false).expect_err("refused");
            assert!(e.contains(word), "{e}");
        };
        bad(
            PolicyInput {
                max_queued: "lots".into(),
                ..Default::default()
            },
            "queued",
        );
        bad(
            PolicyInput {
                submit_rate: "5".into(),
                ..Default::default()
            },
            "submit rate",
        );
        bad(
            PolicyInput {
                ip_allow: "not-an-address".into(),
                ..Default::default()
            },
            "IP",
        );
        bad(
            PolicyInput {
                price_plan: "{\"multiplier\": 2}".into(),
                ..Default::default()
            },
            "price plan",
        );
        bad(
            PolicyInput {
                labels: "novalue".into(),
                ..Default::default()
            },
            "labels",
        );
        assert_eq!(PolicyInput::default().policy(false), Ok(Policy::default()));
    }
}

//! `GET /api/v1/usage`: the caller's own account's usage over a time range, grouped, as JSON or
//! CSV, streamed as the rows leave the database. seedgate's own route, dialect-neutral (any
//! dialect's key works), answered in reAPI's envelope like `GET /api/v1/account`.
//!
//! The report's shapes ([`UsageReportObject`] and its parts) are shared with the admin API's
//! `GET /admin/v1/usage`, which writes the same body for any account.

use crate::common::{Auth, Fail, Reply};
use crate::reapi::{ErrorEnvelope, ReApi};
use crate::AppState;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use seedgate_core::error::{FieldPath, ValidationError};
use seedgate_service::usage::{UsageFormat, UsageParams, UsageReport};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage))
}

/// A member's report parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberUsageQuery {
    /// Start of the range, inclusive: RFC 3339 (`2026-03-01T00:00:00Z`) or Unix ms. Default:
    /// the start of the current UTC month.
    pub from: Option<String>,
    /// End of the range, exclusive: RFC 3339 or Unix ms. Default: now.
    pub to: Option<String>,
    /// Comma-separated, any of `account`, `key`, `model`, `resolution`, `mode`, `day`,
    /// `month` (days and months in UTC). Empty: one row of totals.
    pub group_by: Option<String>,
    /// `json` (the default) or `csv`; without it, `Accept: text/csv` asks for CSV.
    pub format: Option<String>,
    /// Only this key of the caller's account (id or name).
    pub key: Option<String>,
    /// Only this model (canonical id).
    pub model: Option<String>,
}

impl From<MemberUsageQuery> for UsageParams {
    fn from(q: MemberUsageQuery) -> Self {
        UsageParams {
            from: q.from,
            to: q.to,
            group_by: q.group_by,
            format: q.format,
            account: None,
            key: q.key,
            model: q.model,
        }
    }
}

/// A usage report. Every figure counts the ledger entries written in `[from, to)`, each at its
/// own time (a hold when its task was created, a settle or release when it ended, a refund
/// when it was made), so the totals reconcile exactly with the ledger.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UsageReport)]
pub struct UsageReportObject {
    /// `usage_report`.
    pub object: String,
    /// The range, RFC 3339 in UTC (`to` excluded), and the same in Unix ms.
    pub from: String,
    pub to: String,
    pub from_ms: i64,
    pub to_ms: i64,
    /// The dimensions rows are grouped by, in order.
    pub group_by: Vec<String>,
    pub filters: UsageFiltersObject,
    /// One row per group, ordered by the grouping values.
    pub data: Vec<UsageRowObject>,
    /// The sums of every row.
    pub totals: UsageFiguresObject,
}

/// The filters applied (ids), null where none.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UsageFilters)]
pub struct UsageFiltersObject {
    pub account: Option<String>,
    pub key: Option<String>,
    pub model: Option<String>,
}

/// One group: its grouping values (present for the dimensions grouped by; null where a task
/// has none, e.g. the upstream account of a task no worker took), then its figures.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UsageRow)]
pub struct UsageRowObject {
    /// Account id, and its name.
    pub account: Option<String>,
    pub account_name: Option<String>,
    /// API key id, and its name.
    pub key: Option<String>,
    pub key_name: Option<String>,
    pub model: Option<String>,
    /// `480p`, `720p`, `1080p`.
    pub resolution: Option<String>,
    /// `t2v`, `i2v`, `r2v`.
    pub mode: Option<String>,
    /// The upstream account that ran the task last (operators only; null for a task no
    /// upstream took: never claimed, or made by the built-in local renderer).
    pub upstream_account: Option<String>,
    /// UTC day of the ledger entries, `YYYY-MM-DD`.
    pub day: Option<String>,
    /// UTC month of the ledger entries, `YYYY-MM`.
    pub month: Option<String>,
    #[serde(flatten)]
    pub figures: UsageFiguresObject,
}

/// What a group (or the whole report) adds up to.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UsageFigures)]
pub struct UsageFiguresObject {
    /// Tasks created (their hold placed) in the range.
    pub tasks: i64,
    /// Tasks settled (succeeded) in the range.
    pub succeeded: i64,
    /// Tasks released because they failed, in the range.
    pub failed: i64,
    /// Tasks released because they were cancelled, in the range.
    pub cancelled: i64,
    /// Distinct tasks given credits back in the range: released (failed or cancelled) or
    /// refunded by hand.
    pub refunded: i64,
    /// Manual refunds made in the range.
    pub refunds: i64,
    /// Credits held by the holds placed in the range.
    pub credits_held: i64,
    /// Credits returned automatically in the range: releases of failed and cancelled tasks.
    pub credits_returned: i64,
    /// Credits given back by manual refunds in the range.
    pub credits_refunded: i64,
    /// `credits_held − credits_returned − credits_refunded`: minus the sum of every
    /// task-bound ledger entry in the range (1 credit = $0.001).
    pub credits_charged: i64,
    /// Billable seconds of the tasks settled in the range.
    pub billable_seconds: i64,
}

/// The format asked for: `format` if given, else CSV when the client accepts `text/csv`.
pub fn negotiated_format(asked: Option<UsageFormat>, headers: &HeaderMap) -> UsageFormat {
    asked.unwrap_or_else(|| {
        let accepts_csv = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("text/csv"));
        if accepts_csv {
            UsageFormat::Csv
        } else {
            UsageFormat::Json
        }
    })
}

/// A report's streamed answer. A database error after the first rows cuts the body short (the
/// status is sent by then); it is logged.
pub fn streamed(report: UsageReport, format: UsageFormat) -> Response {
    let body = report.into_body(format).map(|chunk| {
        chunk.map_err(|e| {
            tracing::error!(error = %e, "usage report: reading the ledger failed mid-stream");
            std::io::Error::other(e.to_string())
        })
    });
    let (content_type, disposition) = match format {
        UsageFormat::Json => ("application/json", None),
        UsageFormat::Csv => (
            "text/csv; charset=utf-8",
            Some("attachment; filename=\"usage.csv\""),
        ),
    };
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(disposition) = disposition {
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static(disposition),
        );
    }
    response
}

/// The caller's account's usage: credits held, charged and given back, billable seconds and
/// task counts over a time range, grouped by any of account, key, model, resolution, mode, day
/// or month. JSON, or CSV with `format=csv` or `Accept: text/csv`.
#[utoipa::path(get, path = "/api/v1/usage", tag = "Usage", params(MemberUsageQuery),
    responses(
        (status = 200, description = "The report, streamed",
            content((UsageReportObject = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope),
        (status = 503, body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn usage(
    State(service): State<AppState>,
    Auth(principal, _): Auth<ReApi>,
    headers: HeaderMap,
    query: Result<Query<MemberUsageQuery>, QueryRejection>,
) -> Reply<ReApi> {
    let Query(query) = query.map_err(|e| {
        Fail::<ReApi>::from(ValidationError::invalid(
            FieldPath::new("query"),
            &e.body_text(),
        ))
    })?;
    let (report, asked) = service
        .usage_report(&principal, &UsageParams::from(query))
        .await?;
    Ok(streamed(report, negotiated_format(asked, &headers)))
}

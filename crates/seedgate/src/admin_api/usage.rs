//! `GET /admin/v1/usage`: usage reports over every account (or the ones filtered), as JSON or
//! CSV, streamed. The body is the member route's (`seedgate_dialects::usage`), written by the
//! same code from the same query (`AdminService::usage_report`, which `seedgate usage` calls
//! too).

use super::wire::AdminErrorEnvelope;
use super::{authorize, AdminState, ApiError};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use seedgate_dialects::usage::{negotiated_format, streamed, UsageReportObject};
use seedgate_service::usage::UsageParams;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new().routes(routes!(usage))
}

/// An operator's report parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AdminUsageQuery {
    /// Start of the range, inclusive: RFC 3339 (`2026-03-01T00:00:00Z`) or Unix ms. Default:
    /// the start of the current UTC month.
    pub from: Option<String>,
    /// End of the range, exclusive: RFC 3339 or Unix ms. Default: now.
    pub to: Option<String>,
    /// Comma-separated, any of `account`, `key`, `model`, `resolution`, `mode`,
    /// `upstream_account`, `day`, `month` (days and months in UTC). Empty: one row of totals.
    pub group_by: Option<String>,
    /// `json` (the default) or `csv`; without it, `Accept: text/csv` asks for CSV.
    pub format: Option<String>,
    /// Only this account (id or name).
    pub account: Option<String>,
    /// Only this key (id or name, or the key itself).
    pub key: Option<String>,
    /// Only this model (canonical id).
    pub model: Option<String>,
}

impl From<AdminUsageQuery> for UsageParams {
    fn from(q: AdminUsageQuery) -> Self {
        UsageParams {
            from: q.from,
            to: q.to,
            group_by: q.group_by,
            format: q.format,
            account: q.account,
            key: q.key,
            model: q.model,
        }
    }
}

/// Usage across accounts: credits held, charged and given back (automatically and by manual
/// refunds), billable seconds and task counts over a time range, grouped by any of account,
/// key, model, resolution, mode, upstream account, day or month. Every figure counts the
/// ledger entries written in the range, so totals reconcile with `seedgate ledger verify`'s
/// ledger. JSON, or CSV with `format=csv` or `Accept: text/csv`.
#[utoipa::path(get, path = "/admin/v1/usage", tag = "Admin", params(AdminUsageQuery),
    responses(
        (status = 200, description = "The report, streamed",
            content((UsageReportObject = "application/json"), (String = "text/csv"))),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 404, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn usage(
    State(s): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<AdminUsageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&s, &headers, false).await?;
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let (report, asked) = s.usage_report(&UsageParams::from(query)).await?;
    Ok(streamed(report, negotiated_format(asked, &headers)))
}

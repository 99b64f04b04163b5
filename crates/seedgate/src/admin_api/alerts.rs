//! `GET /admin/v1/alerts`: the operator alerts raised (balance, budgets, breakers, waiting
//! tasks), newest first, with where each one's webhook delivery stands.

use super::wire::AdminErrorEnvelope;
use super::{authorize, AdminState, ApiError};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use seedgate_store::alerts::AlertRecord;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new().routes(routes!(list_alerts))
}

/// Which alerts to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Only alerts raised before this time (Unix ms): the previous page's `next_before`.
    pub before: Option<i64>,
    /// At most this many (1 to 500; 100 when absent).
    pub limit: Option<u32>,
}

/// One alert, as raised, and its delivery to the operator webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAlert {
    /// `alrt_…`; also the `webhook-id` of its deliveries.
    pub id: String,
    /// `balance_below`, `budget_crossed`, `breaker_open`, `tasks_queued_too_long` or
    /// `tasks_running_too_long`.
    #[serde(rename = "type")]
    pub kind: String,
    /// An account id, an upstream account's name, or `queue`.
    pub subject: String,
    pub message: String,
    /// The figures behind the alert (balance and threshold, spent and budget, counts…).
    #[schema(value_type = Object)]
    pub figures: serde_json::Value,
    /// When it was raised (Unix ms).
    pub created_at_ms: i64,
    /// When its condition cleared (Unix ms); null while it holds (budget alerts stay null).
    pub resolved_at_ms: Option<i64>,
    /// `pending` (to be delivered), `delivered`, or `unsent` (no webhook was configured).
    pub delivery: String,
    pub attempts: u32,
    /// When the next attempt is due (Unix ms), while pending.
    pub next_attempt_at_ms: Option<i64>,
    pub delivered_at_ms: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl From<AlertRecord> for AdminAlert {
    fn from(a: AlertRecord) -> Self {
        let pending = a.state == seedgate_store::alerts::AlertState::Pending;
        Self {
            id: a.id,
            kind: a.kind,
            subject: a.subject,
            message: a.message,
            figures: a.figures,
            created_at_ms: a.created_at_ms,
            resolved_at_ms: a.resolved_at_ms,
            delivery: a.state.as_str().to_string(),
            attempts: a.attempts,
            next_attempt_at_ms: pending.then_some(a.next_attempt_at_ms),
            delivered_at_ms: a.delivered_at_ms,
            last_error: a.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAlertList {
    /// Newest first.
    pub data: Vec<AdminAlert>,
    /// The `created_at_ms` of the last alert: pass it as `before` for the next page (null
    /// when the page is empty).
    pub next_before: Option<i64>,
}

/// The operator alerts, newest first.
#[utoipa::path(get, path = "/admin/v1/alerts", tag = "Admin", params(AlertsQuery),
    responses((status = 200, body = AdminAlertList),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn list_alerts(
    State(s): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<AlertsQuery>, QueryRejection>,
) -> Result<(StatusCode, Json<AdminAlertList>), ApiError> {
    authorize(&s, &headers, false).await?;
    let Query(query) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=seedgate_service::admin::MAX_ALERTS_PAGE).contains(&limit) {
        return Err(ApiError::invalid("limit: 1 to 500"));
    }
    let alerts = s.alerts(query.before, limit).await?;
    let next_before = alerts.last().map(|a| a.created_at_ms);
    let data = alerts.into_iter().map(Into::into).collect();
    Ok((StatusCode::OK, Json(AdminAlertList { data, next_before })))
}

//! `GET /api/v1/account`: the caller's own account, for clients and the console. seedgate's
//! own route, dialect-neutral (any dialect's key works), answered in reAPI's envelope like the
//! other routes of its kind.

use crate::common::{self, Auth, Reply};
use crate::reapi::{ErrorEnvelope, ReApi};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use seedgate_service::accounts::{BudgetView, LimitsView};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(account))
}

/// The caller's account: balance, limits with their current use, and budgets left.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountObject {
    pub account_id: String,
    pub account_name: String,
    /// The key that asked.
    pub api_key_id: String,
    pub key_name: String,
    /// Credits (1 credit = $0.001).
    pub balance: i64,
    /// The account's price plan, when it has one instead of the catalog's prices.
    pub price_plan: Option<String>,
    /// The account's limits (shared by all its keys) and their use.
    pub account: LimitsObject,
    /// This key's own limits and their use.
    pub key: LimitsObject,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AccountLimits)]
pub struct LimitsObject {
    /// The limits set: `submit_rate` and `request_rate` (`{limit, window_seconds}`),
    /// `max_in_flight`, `max_queued`, `daily_budget`, `monthly_budget`, `total_budget`
    /// (credits). Absent ones are not limited.
    #[schema(value_type = Object)]
    pub limits: serde_json::Value,
    /// Tasks queued or running.
    pub in_flight: u64,
    pub queued: u64,
    /// Credits spent today, this month (UTC) and ever; refunds are not spent.
    pub spent_today: u64,
    pub spent_this_month: u64,
    pub spent_total: u64,
    pub budgets: Vec<BudgetObject>,
    /// Submits still allowed at once, when a submit rate is set.
    pub submits_remaining: Option<u32>,
    /// Unix ms when the key (or account) expires.
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AccountBudget)]
pub struct BudgetObject {
    /// daily, monthly or total.
    pub period: String,
    pub limit: u64,
    pub spent: u64,
    pub remaining: u64,
    /// Unix ms when the period ends (UTC); null for the total budget, which does not reset.
    pub resets_at_ms: Option<i64>,
}

impl From<LimitsView> for LimitsObject {
    fn from(view: LimitsView) -> Self {
        LimitsObject {
            limits: serde_json::to_value(&view.limits).unwrap_or_default(),
            in_flight: view.in_flight,
            queued: view.queued,
            spent_today: view.spent_today,
            spent_this_month: view.spent_this_month,
            spent_total: view.spent_total,
            budgets: view.budgets.into_iter().map(BudgetObject::from).collect(),
            submits_remaining: view.submits_remaining,
            expires_at_ms: view.expires_at_ms,
        }
    }
}

impl From<BudgetView> for BudgetObject {
    fn from(b: BudgetView) -> Self {
        BudgetObject {
            period: b.period.to_string(),
            limit: b.limit,
            spent: b.spent,
            remaining: b.remaining,
            resets_at_ms: b.resets_at_ms,
        }
    }
}

/// The caller's account: balance, limits and their current use, budgets left.
#[utoipa::path(get, path = "/api/v1/account", tag = "Account",
    responses((status = 200, body = AccountObject), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn account(State(service): State<AppState>, Auth(principal, _): Auth<ReApi>) -> Reply<ReApi> {
    let view = service.account_view(&principal).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &AccountObject {
            account_id: view.account_id.to_string(),
            account_name: view.account_name,
            api_key_id: view.api_key_id.to_string(),
            key_name: view.key_name,
            balance: view.balance,
            price_plan: view.price_plan,
            account: view.account.into(),
            key: view.key.into(),
        },
    ))
}

//! The upstream accounts view of the admin API: `GET /admin/v1/upstreams` (each configured
//! account's kind and models, tasks in flight there across every replica, this replica's
//! recent success rate and latencies, its breaker and its last errors) and
//! `POST /admin/v1/upstreams/check` / `POST /admin/v1/upstreams/{name}/check`, which run the
//! same check as `seedgate providers check` ([`seedgate_providers::Provider::check`]) now.
//!
//! Accounts are the providers' world, which [`seedgate_service::admin::AdminService`] does not
//! reach: these handlers read the providers' router (built at startup) directly, and the store
//! for tasks in flight. They write nothing, so nothing goes to the audit log; any valid admin
//! token may call them.

use super::wire::AdminErrorEnvelope;
use super::ApiError;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use seedgate_providers::observed::{LatencySummary, RecentError, StatsSnapshot};
use seedgate_providers::routing::{BreakerState, BreakerView};
use seedgate_providers::{Account, Router as ProviderRouter};
use seedgate_service::admin::{AdminError, AdminService};
use seedgate_store::Store;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What the handlers read.
#[derive(Clone)]
pub struct UpstreamsState {
    pub admin: Arc<AdminService>,
    pub router: Arc<ProviderRouter>,
    pub store: Arc<dyn Store>,
    /// Each account's kind as configured (`local`, `ark`, `reapi`, …), by name.
    pub kinds: Arc<HashMap<String, String>>,
    /// Each account's canonical models, by name.
    pub models: Arc<HashMap<String, Vec<String>>>,
}

fn unix_ms(at: SystemTime) -> i64 {
    match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Every configured upstream account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamList {
    pub data: Vec<UpstreamAccount>,
}

/// One configured account, as this replica sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamAccount {
    pub name: String,
    /// `local` (the built-in renderer) or the upstream API's kind (`ark`, `reapi`, `hiapi`,
    /// `apixo`, `crun`, `kie`, `openai`).
    pub kind: String,
    /// The canonical models it serves.
    pub models: Vec<String>,
    pub weight: u32,
    /// Tasks it may have in flight at once across every replica; absent when uncapped.
    pub max_concurrent: Option<u64>,
    /// Tasks running there now, across every replica; absent when the database could not be
    /// read.
    pub in_flight: Option<u64>,
    pub breaker: UpstreamBreaker,
    pub recent: UpstreamRecent,
    /// Its last failed calls on this replica, newest first (at most 10).
    pub last_errors: Vec<UpstreamError>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerStateName {
    /// Tasks go there.
    Closed,
    /// Kept out until `open_until_ms`.
    Open,
    /// The open time is over: the next submit is a trial that closes or reopens it.
    HalfOpen,
}

/// The account's circuit breaker on this replica.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamBreaker {
    pub state: BreakerStateName,
    /// While open: until when (Unix ms).
    pub open_until_ms: Option<i64>,
    /// While open or half-open: when it opened (Unix ms).
    pub opened_at_ms: Option<i64>,
    /// Transient failures in a row (five, by default, open it).
    pub consecutive_failures: u32,
}

impl From<BreakerView> for UpstreamBreaker {
    fn from(view: BreakerView) -> Self {
        let (state, open_until_ms) = match view.state {
            BreakerState::Closed => (BreakerStateName::Closed, None),
            BreakerState::Open { until } => (BreakerStateName::Open, Some(unix_ms(until))),
            BreakerState::HalfOpen => (BreakerStateName::HalfOpen, None),
        };
        Self {
            state,
            open_until_ms,
            opened_at_ms: view.opened_at.map(unix_ms),
            consecutive_failures: view.consecutive_failures,
        }
    }
}

/// Latencies over the window, in seconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamLatency {
    pub samples: u64,
    pub mean_seconds: f64,
    pub p50_seconds: f64,
    pub p95_seconds: f64,
    pub max_seconds: f64,
}

impl From<LatencySummary> for UpstreamLatency {
    fn from(l: LatencySummary) -> Self {
        Self {
            samples: u64::try_from(l.samples).unwrap_or(u64::MAX),
            mean_seconds: l.mean_seconds,
            p50_seconds: l.p50_seconds,
            p95_seconds: l.p95_seconds,
            max_seconds: l.max_seconds,
        }
    }
}

/// This replica's recent calls to the account: the last 100 creates, polls and cancels, none
/// older than 15 minutes.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamRecent {
    pub calls: u64,
    pub successes: u64,
    /// `successes / calls`; absent before any call.
    pub success_rate: Option<f64>,
    /// How long creates took to be answered.
    pub submit_latency: Option<UpstreamLatency>,
    /// From an accepted create to the poll that saw the result.
    pub time_to_result: Option<UpstreamLatency>,
}

impl From<&StatsSnapshot> for UpstreamRecent {
    fn from(s: &StatsSnapshot) -> Self {
        Self {
            calls: u64::try_from(s.calls).unwrap_or(u64::MAX),
            successes: u64::try_from(s.successes).unwrap_or(u64::MAX),
            success_rate: s.success_rate,
            submit_latency: s.submit_latency.map(Into::into),
            time_to_result: s.time_to_result.map(Into::into),
        }
    }
}

/// A failed call.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamError {
    pub at_ms: i64,
    /// `create`, `poll`, `cancel` or `check`.
    pub operation: String,
    /// `transient` (not taken: 429, 5xx, no connection), `permanent` (refused), `ambiguous`
    /// (sent, answer lost) or `failed` (a check).
    pub class: String,
    pub message: String,
}

impl From<&RecentError> for UpstreamError {
    fn from(e: &RecentError) -> Self {
        Self {
            at_ms: unix_ms(e.at),
            operation: e.operation.as_str().to_string(),
            class: e.class.to_string(),
            message: e.message.clone(),
        }
    }
}

/// What checking accounts found.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamCheckList {
    pub data: Vec<UpstreamCheck>,
}

/// One account's check: its credentials and each configured model.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamCheck {
    pub name: String,
    pub kind: String,
    /// Credentials accepted and every model usable.
    pub ok: bool,
    pub authenticated: bool,
    pub models: Vec<UpstreamModelCheck>,
    /// Anything else the check found (latency, the upstream's own words).
    pub detail: String,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamModelCheck {
    pub model: String,
    pub ok: bool,
    /// Why the account may not use it.
    pub error: Option<String>,
}

impl UpstreamsState {
    fn kind(&self, name: &str) -> String {
        self.kinds
            .get(name)
            .cloned()
            .unwrap_or_else(|| "local".into())
    }

    fn view(&self, account: &Account, in_flight: Option<&HashMap<String, u64>>) -> UpstreamAccount {
        let stats = account.stats.snapshot();
        UpstreamAccount {
            name: account.name().to_string(),
            kind: self.kind(account.name()),
            models: self.models.get(account.name()).cloned().unwrap_or_default(),
            weight: account.weight,
            max_concurrent: account.max_concurrent,
            in_flight: in_flight.map(|counts| counts.get(account.name()).copied().unwrap_or(0)),
            breaker: account.health.state().into(),
            recent: (&stats).into(),
            last_errors: stats.last_errors.iter().map(Into::into).collect(),
        }
    }

    /// Every configured account as this replica sees it.
    pub async fn accounts(&self) -> Vec<UpstreamAccount> {
        // The view still helps when the database does not answer: tasks in flight are left out.
        let in_flight = match self.store.running_tasks_by_provider().await {
            Ok(counts) => Some(counts),
            Err(e) => {
                tracing::warn!(error = %e, "counting tasks per upstream account failed");
                None
            }
        };
        self.router
            .accounts()
            .map(|account| self.view(account, in_flight.as_ref()))
            .collect()
    }

    async fn check(&self, account: &Account) -> UpstreamCheck {
        let started = Instant::now();
        let report = account.provider.check().await;
        let models: Vec<UpstreamModelCheck> = report
            .models
            .iter()
            .map(|(model, result)| UpstreamModelCheck {
                model: model.clone(),
                ok: result.is_ok(),
                error: result.as_ref().err().cloned(),
            })
            .collect();
        UpstreamCheck {
            name: account.name().to_string(),
            kind: self.kind(account.name()),
            ok: report.authenticated && models.iter().all(|m| m.ok),
            authenticated: report.authenticated,
            models,
            detail: report.detail.trim_end_matches("; ").to_string(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Every configured upstream account: tasks in flight (every replica), and this replica's
/// recent success rate, latencies, breaker and last errors.
#[utoipa::path(get, path = "/admin/v1/upstreams", tag = "Admin",
    responses((status = 200, body = UpstreamList),
        (status = 401, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn list_upstreams(
    State(state): State<UpstreamsState>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<UpstreamList>), ApiError> {
    super::authorize(&state.admin, &headers, false).await?;
    let data = state.accounts().await;
    Ok((StatusCode::OK, Json(UpstreamList { data })))
}

/// Checks every configured account now (credentials, each model), as `seedgate providers
/// check` does, all at once.
#[utoipa::path(post, path = "/admin/v1/upstreams/check", tag = "Admin",
    responses((status = 200, body = UpstreamCheckList),
        (status = 401, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn check_upstreams(
    State(state): State<UpstreamsState>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<UpstreamCheckList>), ApiError> {
    super::authorize(&state.admin, &headers, false).await?;
    let checks = state.router.accounts().map(|account| state.check(account));
    let data = futures::future::join_all(checks).await;
    Ok((StatusCode::OK, Json(UpstreamCheckList { data })))
}

/// Checks one configured account now.
#[utoipa::path(post, path = "/admin/v1/upstreams/{name}/check", tag = "Admin",
    params(("name" = String, Path, description = "The account's configured name")),
    responses((status = 200, body = UpstreamCheck),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 404, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn check_upstream(
    State(state): State<UpstreamsState>,
    headers: HeaderMap,
    name: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<UpstreamCheck>), ApiError> {
    super::authorize(&state.admin, &headers, false).await?;
    let Path(name) = name.map_err(|e| ApiError::invalid(e.body_text()))?;
    let account = state.router.account(&name).ok_or_else(|| {
        ApiError::from(AdminError::NotFound(format!("upstream account `{name}`")))
    })?;
    Ok((StatusCode::OK, Json(state.check(account).await)))
}

/// The routes, their state given, and their OpenAPI description (merged into the admin API's).
pub fn routes(state: UpstreamsState) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::new()
        .routes(routes!(list_upstreams))
        .routes(routes!(check_upstreams))
        .routes(routes!(check_upstream))
        .split_for_parts();
    (router.with_state(state), api)
}

impl UpstreamsState {
    /// Each account's kind from the configuration and its models from the catalog (the
    /// canonical models its provider serves).
    pub fn new(
        admin: Arc<AdminService>,
        router: Arc<ProviderRouter>,
        store: Arc<dyn Store>,
        settings: &crate::config::Settings,
        catalog: &seedgate_core::Catalog,
    ) -> anyhow::Result<Self> {
        let kinds = settings
            .provider_accounts()?
            .into_iter()
            .map(|account| match account {
                crate::config::UpstreamOrLocal::Local { name, .. } => (name, "local".to_string()),
                crate::config::UpstreamOrLocal::Upstream { config, .. } => {
                    (config.name, config.kind.as_str().to_string())
                }
            })
            .collect();
        let models = router
            .accounts()
            .map(|account| {
                let served = catalog
                    .models()
                    .iter()
                    .filter(|m| account.provider.serves(&m.id))
                    .map(|m| m.id.clone())
                    .collect();
                (account.name().to_string(), served)
            })
            .collect();
        Ok(Self {
            admin,
            router,
            store,
            kinds: Arc::new(kinds),
            models: Arc::new(models),
        })
    }
}

/// The console's upstream page reads the same view.
#[async_trait::async_trait]
impl seedgate_console::UpstreamsSource for UpstreamsState {
    async fn upstreams(&self) -> Vec<seedgate_console::UpstreamHealth> {
        self.accounts()
            .await
            .into_iter()
            .map(|a| seedgate_console::UpstreamHealth {
                breaker: match a.breaker.state {
                    BreakerStateName::Closed => "closed",
                    BreakerStateName::Open => "open",
                    BreakerStateName::HalfOpen => "half_open",
                }
                .to_string(),
                p50_ms: a
                    .recent
                    .submit_latency
                    .as_ref()
                    .map(|l| (l.p50_seconds * 1000.0).round() as u64),
                p95_ms: a
                    .recent
                    .submit_latency
                    .as_ref()
                    .map(|l| (l.p95_seconds * 1000.0).round() as u64),
                recent_calls: a.recent.calls,
                recent_successes: a.recent.successes,
                last_errors: a
                    .last_errors
                    .into_iter()
                    .map(|e| {
                        (
                            e.at_ms,
                            format!("{} ({}): {}", e.operation, e.class, e.message),
                        )
                    })
                    .collect(),
                name: a.name,
                kind: a.kind,
                models: a.models,
                weight: a.weight,
                max_concurrent: a.max_concurrent,
                in_flight: a.in_flight,
            })
            .collect()
    }
}

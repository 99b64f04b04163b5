//! Prometheus metrics. The crates where things happen count them through the `metrics` facade
//! (submits in the service, upstream calls in the providers, money and task endings in the
//! store once they commit, callbacks in the workers, reference media in `media`); this module
//! installs the process's recorder, counts HTTP requests ([`track_http`], a layer on the
//! router), refreshes the gauges that are read rather than counted (the queue, callbacks,
//! tasks in flight per upstream account, breakers) at each scrape, and serves the text format:
//! on the main listener at `/metrics` to an admin token, and on `metrics.listen` to anyone who
//! can reach that address.
//!
//! Metrics are per process (one replica): counters start at zero when it starts. Gauges read
//! from the store are the same on every replica.

use crate::admin_api::wire::AdminErrorEnvelope;
use crate::admin_api::ApiError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{describe_counter, describe_gauge, describe_histogram, gauge, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use seedgate_core::clock::Clock;
use seedgate_providers::routing::BreakerState;
use seedgate_providers::Router as ProviderRouter;
use seedgate_service::admin::AdminService;
use seedgate_store::Store;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// `[metrics]` in the configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// A second listener serving only `GET /metrics`, without a token (e.g.
    /// `127.0.0.1:9464`): keep it on an address only the scraper reaches. Unset, metrics are
    /// served on the main listener only, to admin tokens.
    pub listen: Option<String>,
}

/// The Prometheus text format's content type.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request latencies: a few ms (a cached read) to the request deadline.
const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// From an accepted upstream submit to its result: seconds to an hour or more.
const RESULT_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
];
/// Fetches and probes of reference media, callback deliveries and upstream calls.
const CALL_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use; `None` when another recorder was installed
/// first (then nothing is counted here).
pub fn recorder() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(CALL_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("seedgate_http_request_duration_seconds".into()),
                        HTTP_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("seedgate_upstream_time_to_result_seconds".into()),
                        RESULT_BUCKETS,
                    )
                })
                .and_then(|b| b.install_recorder());
            match handle {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                    None
                }
            }
        })
        .clone()
}

/// Every metric's help text and unit (rendered as `# HELP`; the README's table says the same).
fn describe() {
    describe_gauge!(
        "seedgate_disk_bytes",
        Unit::Bytes,
        "Storage used, by category (task_media, reference_copies, assets, database), as the last retention pass measured it"
    );
    describe_counter!(
        "seedgate_retention_deleted_total",
        "What retention removed, by kind (idempotency_key, timeline_event, spend_day, media_expired, media_file, reference_copy)"
    );
    describe_counter!(
        "seedgate_retention_errors_total",
        "Retention steps that failed (retried at the next pass), by step"
    );
    describe_counter!(
        "seedgate_http_requests_total",
        "HTTP requests answered, by dialect, method, route template and status"
    );
    describe_histogram!(
        "seedgate_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its response headers, by dialect, method, route template and status"
    );
    describe_counter!(
        "seedgate_submits_accepted_total",
        "New tasks accepted (stored with their hold), by dialect"
    );
    describe_counter!(
        "seedgate_submits_replayed_total",
        "Submits answered with a task created earlier (Idempotency-Key or SDK retry), by dialect"
    );
    describe_counter!(
        "seedgate_submits_refused_total",
        "Submits refused, by dialect and reason (validation, pricing, insufficient_credits, limit_*, ...)"
    );
    describe_counter!(
        "seedgate_tasks_finished_total",
        "Tasks that reached a final state on this replica, by state"
    );
    describe_gauge!(
        "seedgate_tasks",
        "Tasks queued or running now, across every replica, by state"
    );
    describe_gauge!(
        "seedgate_queue_depth",
        "Queued tasks due to run now (not waiting for a retry), across every replica"
    );
    describe_gauge!(
        "seedgate_queue_oldest_age_seconds",
        Unit::Seconds,
        "Age of the oldest queued task (0 when none is queued)"
    );
    describe_counter!(
        "seedgate_credits_held_total",
        "Credits held for new tasks (counted after the commit)"
    );
    describe_counter!(
        "seedgate_credits_settled_total",
        "Credits charged for succeeded tasks (counted after the commit)"
    );
    describe_counter!(
        "seedgate_credits_refunded_total",
        "Credits given back for failed or cancelled tasks (counted after the commit)"
    );
    describe_counter!(
        "seedgate_upstream_requests_total",
        "Calls to upstream accounts, by account, operation (create, poll, cancel, check) and outcome"
    );
    describe_histogram!(
        "seedgate_upstream_request_duration_seconds",
        Unit::Seconds,
        "Duration of calls to upstream accounts, by account and operation"
    );
    describe_histogram!(
        "seedgate_upstream_time_to_result_seconds",
        Unit::Seconds,
        "From a submit an upstream account accepted to the poll that saw its result, by account"
    );
    describe_gauge!(
        "seedgate_upstream_in_flight",
        "Tasks running at each upstream account, across every replica"
    );
    describe_gauge!(
        "seedgate_upstream_breaker_state",
        "1 for the state each upstream account's circuit breaker is in on this replica, 0 for the others"
    );
    describe_counter!(
        "seedgate_callback_deliveries_total",
        "Callback delivery attempts, by dialect and outcome (delivered, retry, exhausted, gone)"
    );
    describe_histogram!(
        "seedgate_callback_delivery_duration_seconds",
        Unit::Seconds,
        "Duration of callback delivery attempts, by dialect"
    );
    describe_gauge!(
        "seedgate_callback_backlog",
        "Callbacks waiting to be delivered, across every replica"
    );
    describe_counter!(
        "seedgate_media_fetches_total",
        "Reference-media fetches, by kind, source (remote, own) and outcome (ok, refused, failed, busy)"
    );
    describe_histogram!(
        "seedgate_media_fetch_duration_seconds",
        Unit::Seconds,
        "Duration of reference-media fetches, by kind and source"
    );
    describe_counter!(
        "seedgate_media_cache_hits_total",
        "Reference media answered from the probe cache, by kind"
    );
    describe_counter!(
        "seedgate_media_probes_total",
        "Reference-media probes, by kind and outcome (ok, unreadable)"
    );
    describe_histogram!(
        "seedgate_media_probe_duration_seconds",
        Unit::Seconds,
        "Duration of reference-media probes, by kind"
    );
}

// ---------------------------------------------------------------------------------------------
// HTTP requests.

/// The `method` label: the methods routes serve, anything else `other` (a client may send any
/// token as a method; a label must not take unbounded values).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The `dialect` label of a path: a dialect's name for its paths, `admin`, or `seedgate` for
/// the rest (media, health, docs, metrics, upstream callbacks).
pub fn dialect_label(path: &str) -> &'static str {
    const OWN: &[&str] = &[
        "/media/",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/upstream/",
    ];
    if path.starts_with("/admin/") {
        return "admin";
    }
    if OWN.iter().any(|p| path.starts_with(p)) {
        return "seedgate";
    }
    seedgate_dialects::DIALECTS
        .iter()
        .filter_map(|d| {
            let longest = d
                .path_prefixes
                .iter()
                .filter(|p| path.starts_with(*p))
                .map(|p| p.len())
                .max()?;
            Some((d.name, longest))
        })
        .max_by_key(|(_, longest)| *longest)
        .map_or("seedgate", |(name, _)| name)
}

/// Counts and times every request by its route template (`/api/v1/tasks/{id}`, never the raw
/// path; `unmatched` for a path no route serves). A layer on the router: it runs after routing,
/// so the matched template is known.
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let (route, dialect) = match request.extensions().get::<MatchedPath>() {
        Some(matched) => (
            matched.as_str().to_string(),
            dialect_label(matched.as_str()),
        ),
        None => ("unmatched".to_string(), dialect_label(request.uri().path())),
    };
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("seedgate_http_requests_total",
        "dialect" => dialect, "method" => method, "route" => route.clone(), "status" => status.clone())
    .increment(1);
    metrics::histogram!("seedgate_http_request_duration_seconds",
        "dialect" => dialect, "method" => method, "route" => route, "status" => status)
    .record(started.elapsed().as_secs_f64());
    response
}

// ---------------------------------------------------------------------------------------------
// Scrapes.

/// What a scrape reads.
#[derive(Clone)]
pub struct Scrape {
    pub handle: Option<PrometheusHandle>,
    pub store: Arc<dyn Store>,
    pub router: Arc<ProviderRouter>,
    pub clock: Arc<dyn Clock>,
}

impl Scrape {
    /// Sets the gauges read from the store and the router, then renders every metric.
    pub async fn render(&self) -> String {
        let now = self.clock.now_ms();
        match self.store.queue_gauges(now).await {
            Ok(q) => {
                gauge!("seedgate_tasks", "state" => "queued").set(q.queued as f64);
                gauge!("seedgate_tasks", "state" => "running").set(q.running as f64);
                gauge!("seedgate_queue_depth").set(q.due as f64);
                let oldest = q
                    .oldest_queued_created_at_ms
                    .map_or(0.0, |at| (now - at).max(0) as f64 / 1000.0);
                gauge!("seedgate_queue_oldest_age_seconds").set(oldest);
                gauge!("seedgate_callback_backlog").set(q.callbacks_pending as f64);
            }
            // The gauges keep their last values; the failure is in the log.
            Err(e) => tracing::warn!(error = %e, "reading the queue's gauges failed"),
        }
        let in_flight = match self.store.running_tasks_by_provider().await {
            Ok(counts) => Some(counts),
            Err(e) => {
                tracing::warn!(error = %e, "counting tasks per upstream account failed");
                None
            }
        };
        for account in self.router.accounts() {
            let name = account.name().to_string();
            if let Some(counts) = &in_flight {
                let n = counts.get(&name).copied().unwrap_or(0);
                gauge!("seedgate_upstream_in_flight", "upstream" => name.clone()).set(n as f64);
            }
            let current = account.health.state().state;
            for state in [
                BreakerState::Closed,
                BreakerState::Open {
                    until: std::time::UNIX_EPOCH,
                },
                BreakerState::HalfOpen,
            ] {
                let on = state.as_str() == current.as_str();
                gauge!("seedgate_upstream_breaker_state",
                    "upstream" => name.clone(), "state" => state.as_str())
                .set(if on { 1.0 } else { 0.0 });
            }
        }
        self.handle
            .as_ref()
            .map(PrometheusHandle::render)
            .unwrap_or_default()
    }

    /// Drains histogram samples into their buckets every few seconds (the exporter's upkeep),
    /// until `stop`.
    pub async fn upkeep(handle: PrometheusHandle, stop: tokio_util::sync::CancellationToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => handle.run_upkeep(),
                _ = stop.cancelled() => return,
            }
        }
    }
}

fn text(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    response
}

/// The state of the main listener's `/metrics`.
#[derive(Clone)]
pub struct GuardedScrape {
    pub scrape: Scrape,
    pub admin: Arc<AdminService>,
}

/// Every metric of this replica in Prometheus' text format. Needs an admin token (a `viewer`
/// token will do); on the separate `metrics.listen` address no token is asked.
#[utoipa::path(get, path = "/metrics", tag = "Admin",
    responses(
        (status = 200, description = "Prometheus text format (version 0.0.4)",
            content_type = "text/plain", body = String),
        (status = 401, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn guarded_metrics(
    State(state): State<GuardedScrape>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    crate::admin_api::authorize(&state.admin, &headers, false).await?;
    Ok(text(state.scrape.render().await))
}

/// `/metrics` on the main listener, behind an admin token, and its OpenAPI description.
pub fn guarded_routes(state: GuardedScrape) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::new()
        .routes(routes!(guarded_metrics))
        .split_for_parts();
    (router.with_state(state), api)
}

/// Runs the exporter's upkeep and, when `metrics.listen` is set, serves its listener (with
/// the main listener's read deadlines), until `stop`.
pub async fn run(
    scrape: Scrape,
    listener: Option<tokio::net::TcpListener>,
    http: crate::http_server::HttpSettings,
    stop: tokio_util::sync::CancellationToken,
) {
    let upkeep = async {
        if let Some(handle) = scrape.handle.clone() {
            Scrape::upkeep(handle, stop.clone()).await;
        }
    };
    let serve = async {
        if let Some(listener) = listener {
            let router = open_routes(scrape.clone());
            if let Err(e) = crate::http_server::serve(
                listener,
                router,
                &http,
                stop.clone(),
                Duration::from_secs(5),
            )
            .await
            {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        }
    };
    tokio::join!(upkeep, serve);
}

/// The separate listener's routes: `GET /metrics` without a token, nothing else.
pub fn open_routes(scrape: Scrape) -> axum::Router {
    axum::Router::new()
        .route(
            "/metrics",
            get(|State(scrape): State<Scrape>| async move { text(scrape.render().await) }),
        )
        .with_state(scrape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_labelled_by_their_dialect_or_as_seedgate_or_admin() {
        assert_eq!(
            dialect_label("/api/v3/contents/generations/tasks/{id}"),
            "ark"
        );
        assert_eq!(dialect_label("/v1/videos"), "openai");
        assert_eq!(dialect_label("/admin/v1/accounts"), "admin");
        assert_eq!(dialect_label("/metrics"), "seedgate");
        assert_eq!(dialect_label("/media/{*key}"), "seedgate");
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let odd = Method::from_bytes(b"BREW").expect("a token");
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
    }
}

//! The web console, served by seedgate itself at `/console`: server-rendered pages (maud) with a
//! little hand-written JavaScript, on the same services the APIs use. It adds no logic of its
//! own: what a member sees comes from [`GenerationService`] (their key's account only), what an
//! operator sees from [`AdminService`], upstream health from whatever [`UpstreamsSource`] the
//! binary gives it.
//!
//! - `session`: sign-in exchanges a key or admin token for a signed, expiring cookie; CSRF.
//! - `signin`: the sign-in and sign-out pages.
//! - `member/`: the playground, the member's tasks, their account.
//! - `operator/`: accounts and keys, usage, task search, upstreams, the audit log.
//! - `layout`, `charts`, `assets`: the page shell, SVG charts, the stylesheet and scripts.

pub mod assets;
pub mod charts;
pub mod download;
pub mod error;
pub mod layout;
pub mod member;
pub mod operator;
pub mod session;
pub mod signin;

use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use seedgate_core::clock::Clock;
use seedgate_service::admin::AdminService;
use seedgate_service::GenerationService;
use std::sync::Arc;

pub use error::{ApiFailure, ConsoleError};
pub use session::SessionKeys;

/// One configured upstream account's health, as the operators' page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpstreamHealth {
    pub name: String,
    /// `local` or the upstream API's kind.
    pub kind: String,
    pub models: Vec<String>,
    pub weight: u32,
    pub max_concurrent: Option<u64>,
    pub in_flight: Option<u64>,
    /// `closed`, `open` or `half_open`.
    pub breaker: String,
    /// Calls in this replica's recent window and how many succeeded.
    pub recent_calls: u64,
    pub recent_successes: u64,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    /// The newest failed calls, newest first: when (Unix ms) and what.
    pub last_errors: Vec<(i64, String)>,
}

/// Where the operators' upstream page reads account health (the providers' router, which this
/// crate does not know).
#[async_trait::async_trait]
pub trait UpstreamsSource: Send + Sync {
    async fn upstreams(&self) -> Vec<UpstreamHealth>;
}

/// What every console handler reads.
#[derive(Clone)]
pub struct Console {
    pub service: Arc<GenerationService>,
    pub admin: Arc<AdminService>,
    pub upstreams: Arc<dyn UpstreamsSource>,
    pub sessions: Arc<SessionKeys>,
    pub clock: Arc<dyn Clock>,
    /// The server's public base URL (for "copy as code" and links).
    pub public_base_url: String,
}

/// The console's routes, all under `/console`.
pub fn router(console: Console) -> Router {
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/static/{name}", get(assets::serve))
        .merge(signin::routes())
        .merge(member::routes())
        .merge(operator::routes())
        // Anything else under /console is a page that does not exist, answered as a page.
        .route("/console/{*rest}", get(not_found))
        .layer(axum::middleware::from_fn(same_origin_writes))
        .layer(axum::middleware::from_fn(page_headers))
        .with_state(console)
}

/// `/console`: a member's playground, an operator's accounts, or the sign-in page.
async fn home(signed: Result<session::Signed, ConsoleError>) -> Response {
    match signed {
        Ok(session::Signed::Member(_)) => Redirect::to("/console/playground").into_response(),
        Ok(session::Signed::Operator(_)) => Redirect::to("/console/admin/accounts").into_response(),
        Err(_) => Redirect::to("/console/sign-in").into_response(),
    }
}

async fn not_found() -> ConsoleError {
    ConsoleError::NotFound("This page".into())
}

/// Refuses a state change sent from another site, before any handler runs: a browser names the
/// page a request came from in `Origin` (and `Sec-Fetch-Site`). This guards the sign-in form,
/// which has no session to carry a CSRF token yet; every other form also checks its token.
async fn same_origin_writes(request: Request, next: Next) -> Response {
    if request.method() == Method::GET || request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let headers = request.headers();
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let foreign_origin = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // Browsers send `null` from sandboxed frames and some redirects: not ours.
        Some("null") => true,
        Some(origin) => {
            let origin_host = origin.split_once("://").map(|(_, rest)| rest);
            match (origin_host, host) {
                (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
                _ => true,
            }
        }
        None => false,
    };
    if cross_site || foreign_origin {
        return ConsoleError::Csrf.into_response();
    }
    next.run(request).await
}

/// Every console answer: never cached when it is a page (they hold a member's data), never
/// framed, and only this server's scripts and styles.
async fn page_headers(request: Request, next: Next) -> Response {
    let is_static = request.uri().path().starts_with("/console/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !is_static {
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; \
             style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
    response
}

//! The admin HTTP API, under `/admin/v1`: accounts and their keys, policies, credits, limits,
//! the audit log and the admin tokens. Every handler goes through
//! [`seedgate_service::admin::AdminService`], as the command line does, so a change made
//! either way is checked and recorded (in `admin_audit`) the same way.
//!
//! Callers present an admin token (`Authorization: Bearer sg_admin_…`, made with
//! `seedgate admin-tokens create`); API keys are not admin tokens and are refused. Reads need
//! any valid token, writes the `admin` role. Every error has one envelope,
//! `{"error":{"code","message","request_id"}}` ([`wire::AdminErrorEnvelope`]).

mod alerts;
mod handlers;
pub mod retention;
mod tasks;
mod timeline;
pub mod upstreams;
mod usage;
pub mod wire;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use seedgate_service::admin::{AdminError, AdminService};
use seedgate_store::Actor;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use wire::{AdminErrorBody, AdminErrorEnvelope};

/// The state of every admin handler.
pub type AdminState = Arc<AdminService>;

/// The OpenAPI tag of every admin route.
pub const TAG: &str = "Admin";

/// The name of the admin token's security scheme in the document.
pub const SECURITY_SCHEME: &str = "admin_token";

#[derive(OpenApi)]
#[openapi(
    modifiers(&AdminSecurity),
    tags((name = "Admin", description = "seedgate's admin API: accounts, keys, policies, \
credits, limits, the audit log. Authenticated with an admin token (`seedgate admin-tokens create`), \
never with an API key; a `viewer` token may only read.")),
)]
struct AdminDoc;

struct AdminSecurity;

impl utoipa::Modify for AdminSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                SECURITY_SCHEME,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("An admin token, `sg_admin_…`"))
                        .build(),
                ),
            );
    }
}

/// The admin routes (their state given) and their OpenAPI description, to be merged into the
/// document served at `/openapi.json`.
pub fn routes(service: AdminState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, api) = all_routes().split_for_parts();
    let router = router
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(service);
    (router, api)
}

/// The admin API's OpenAPI description alone.
pub fn openapi() -> utoipa::openapi::OpenApi {
    all_routes().split_for_parts().1
}

/// Every admin route: accounts, keys, credits, tokens and the audit log (`handlers`), and the
/// operator's task actions (`tasks`), the operator alerts (`alerts`).
fn all_routes() -> utoipa_axum::router::OpenApiRouter<AdminState> {
    handlers::routes()
        .merge(tasks::routes())
        .merge(alerts::routes())
        .merge(timeline::routes())
        .merge(usage::routes())
}

fn base_document() -> utoipa::openapi::OpenApi {
    AdminDoc::openapi()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not serve that method".into(),
    )
    .into_response()
}

/// An admin error, answered in the admin envelope.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: String) -> Self {
        Self {
            status,
            code,
            message,
        }
    }

    /// A request that cannot be read (bad JSON, unknown fields, bad query or path).
    pub fn invalid(message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            message.to_string(),
        )
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        let (status, code) = match &e {
            AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AdminError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            AdminError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AdminError::InsufficientCredits { .. } => {
                (StatusCode::PAYMENT_REQUIRED, "insufficient_credits")
            }
            AdminError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            AdminError::ReadOnly => (StatusCode::FORBIDDEN, "read_only"),
            AdminError::Store(store) => {
                tracing::error!(error = %store, "admin API: storage failed");
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage",
                    "the database failed or is unavailable; retry later".into(),
                );
            }
        };
        Self::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = AdminErrorEnvelope {
            error: AdminErrorBody {
                code: self.code.to_string(),
                message: self.message,
                request_id: seedgate_dialects::common::request_id().to_string(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The caller's admin token, checked; `write` requires the `admin` role.
pub(crate) async fn authorize(
    service: &AdminService,
    headers: &HeaderMap,
    write: bool,
) -> Result<Actor, ApiError> {
    let token = seedgate_dialects::common::bearer_credential(headers)
        .map_err(|_| ApiError::from(AdminError::Unauthenticated))?;
    Ok(service.authenticate(&token, write).await?)
}

//! The console's one error type: a page for people (`ConsoleError`), or, under
//! `/console/api/`, the same error as JSON for the console's scripts ([`ApiFailure`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use seedgate_core::GatewayError;
use seedgate_service::admin::AdminError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No live session: sign in, then come back to `next`.
    #[error("sign in to continue")]
    SignIn { next: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// A state change without this session's CSRF token, or from another site.
    #[error(
        "this form has expired or did not come from this console; reload the page and try again"
    )]
    Csrf,
    #[error("{0}")]
    Gateway(GatewayError),
    #[error("{0}")]
    Admin(AdminError),
}

impl From<GatewayError> for ConsoleError {
    fn from(e: GatewayError) -> Self {
        ConsoleError::Gateway(e)
    }
}

impl From<AdminError> for ConsoleError {
    fn from(e: AdminError) -> Self {
        ConsoleError::Admin(e)
    }
}

impl ConsoleError {
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn { .. } => StatusCode::UNAUTHORIZED,
            ConsoleError::Forbidden(_) | ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Gateway(e) => gateway_status(e),
            ConsoleError::Admin(e) => match e {
                AdminError::NotFound(_) => StatusCode::NOT_FOUND,
                AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
                AdminError::Conflict(_) => StatusCode::CONFLICT,
                AdminError::InsufficientCredits { .. } => StatusCode::PAYMENT_REQUIRED,
                AdminError::Unauthenticated => StatusCode::UNAUTHORIZED,
                AdminError::ReadOnly => StatusCode::FORBIDDEN,
                AdminError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
        }
    }

    /// A short machine-readable name for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            ConsoleError::SignIn { .. } => "unauthenticated",
            ConsoleError::Forbidden(_) => "forbidden",
            ConsoleError::Csrf => "csrf",
            ConsoleError::NotFound(_) => "not_found",
            ConsoleError::BadRequest(_) => "invalid_request",
            ConsoleError::Gateway(GatewayError::Validation(_)) => "invalid_request",
            ConsoleError::Gateway(GatewayError::InsufficientCredits { .. }) => {
                "insufficient_credits"
            }
            ConsoleError::Gateway(GatewayError::Limited { .. })
            | ConsoleError::Gateway(GatewayError::RateLimited { .. }) => "rate_limited",
            ConsoleError::Gateway(_) | ConsoleError::Admin(_) => match self.status().as_u16() {
                400 => "invalid_request",
                401 => "unauthenticated",
                402 => "insufficient_credits",
                403 => "forbidden",
                404 => "not_found",
                409 => "conflict",
                429 => "rate_limited",
                _ => "unavailable",
            },
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ConsoleError::Gateway(e) => e.retry_after().map(|d| d.as_secs().max(1)),
            _ => None,
        }
    }
}

/// The HTTP status the APIs answer a canonical error with.
pub fn gateway_status(e: &GatewayError) -> StatusCode {
    match e {
        GatewayError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        GatewayError::Validation(_)
        | GatewayError::PricingUnavailable { .. }
        | GatewayError::IdempotencyKeyInvalid(_) => StatusCode::BAD_REQUEST,
        GatewayError::InsufficientCredits { .. } => StatusCode::PAYMENT_REQUIRED,
        GatewayError::NotFound | GatewayError::AssetNotFound | GatewayError::RouteNotFound => {
            StatusCode::NOT_FOUND
        }
        GatewayError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        GatewayError::QuotaExceeded { .. } => StatusCode::INSUFFICIENT_STORAGE,
        GatewayError::IdempotencyInFlight
        | GatewayError::IdempotencyMismatch
        | GatewayError::NotCancellable
        | GatewayError::NotDeletable => StatusCode::CONFLICT,
        GatewayError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        GatewayError::RateLimited { .. } | GatewayError::Limited { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
        GatewayError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn with_retry_after(mut response: Response, seconds: Option<u64>) -> Response {
    if let Some(seconds) = seconds {
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if let ConsoleError::SignIn { next } = &self {
            let target = format!(
                "/console/sign-in?next={}",
                crate::layout::query_escape(next)
            );
            return Redirect::to(&target).into_response();
        }
        let status = self.status();
        let retry = self.retry_after();
        let page = crate::layout::error_page(status, &self.to_string());
        with_retry_after((status, page).into_response(), retry)
    }
}

/// An error answered to the console's own scripts, as `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct ApiFailure(pub ConsoleError);

impl<E: Into<ConsoleError>> From<E> for ApiFailure {
    fn from(e: E) -> Self {
        ApiFailure(e.into())
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let error = self.0;
        let status = error.status();
        let body = serde_json::json!({
            "error": {
                "code": error.code(),
                "message": error.to_string(),
                "field": match &error {
                    ConsoleError::Gateway(GatewayError::Validation(v)) => v.field().map(|f| f.to_string()),
                    _ => None,
                },
            }
        });
        with_retry_after(
            (status, axum::Json(body)).into_response(),
            error.retry_after(),
        )
    }
}

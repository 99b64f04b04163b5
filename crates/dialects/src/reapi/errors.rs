//! reAPI's error codes (the envelope is the wire crate's, in [`super::wire`]).

use crate::common;
use axum::http::StatusCode;
use axum::response::Response;
use seedgate_core::error::{AuthFailure, Denial, GatewayError, ValidationError};
use seedgate_core::RequestId;

use super::wire::{ErrorBody, ErrorEnvelope};

/// The code and HTTP status of a gateway error.
pub fn error_code(error: &GatewayError) -> (u32, StatusCode) {
    use StatusCode as S;
    match error {
        GatewayError::Unauthenticated(AuthFailure::Missing) => (10001, S::UNAUTHORIZED),
        GatewayError::Unauthenticated(AuthFailure::NotBearer) => (10002, S::UNAUTHORIZED),
        GatewayError::Unauthenticated(AuthFailure::Invalid) => (10003, S::UNAUTHORIZED),
        GatewayError::Unauthenticated(AuthFailure::Revoked | AuthFailure::Expired) => {
            (10004, S::UNAUTHORIZED)
        }
        GatewayError::Validation(v) => match v {
            ValidationError::NotAnObject => (20001, S::BAD_REQUEST),
            ValidationError::Missing { .. } => (20002, S::BAD_REQUEST),
            ValidationError::Invalid { .. } | ValidationError::UnknownField { .. } => {
                (20003, S::BAD_REQUEST)
            }
            ValidationError::ModelNotSupported { .. } => (20004, S::BAD_REQUEST),
            ValidationError::PromptTooLong { .. } => (20007, S::BAD_REQUEST),
        },
        GatewayError::IdempotencyKeyInvalid(_)
        | GatewayError::NotCancellable
        | GatewayError::NotDeletable => (20003, S::BAD_REQUEST),
        GatewayError::IdempotencyInFlight => (20008, S::CONFLICT),
        GatewayError::IdempotencyMismatch => (20009, S::UNPROCESSABLE_ENTITY),
        GatewayError::InsufficientCredits { .. } => (30001, S::PAYMENT_REQUIRED),
        GatewayError::PricingUnavailable { .. } => (30002, S::BAD_REQUEST),
        GatewayError::NotFound => (40001, S::NOT_FOUND),
        GatewayError::AssetNotFound => (40002, S::NOT_FOUND),
        GatewayError::RouteNotFound => (40004, S::NOT_FOUND),
        GatewayError::MethodNotAllowed => (40005, S::METHOD_NOT_ALLOWED),
        GatewayError::QuotaExceeded { .. } => (20010, S::PAYLOAD_TOO_LARGE),
        GatewayError::PayloadTooLarge => (20011, S::PAYLOAD_TOO_LARGE),
        GatewayError::RateLimited { .. } | GatewayError::Limited { .. } => {
            (50001, S::TOO_MANY_REQUESTS)
        }
        GatewayError::Forbidden(Denial::IpNotAllowed(_)) => (10006, S::FORBIDDEN),
        GatewayError::Forbidden(Denial::ModelNotAllowed(_)) => (20004, S::BAD_REQUEST),
        GatewayError::Internal(_) => (60099, S::INTERNAL_SERVER_ERROR),
        GatewayError::Unavailable(_) => (70002, S::SERVICE_UNAVAILABLE),
    }
}

/// [`Dialect::error_response`] of [`ReApi`].
pub(crate) fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
    let (code, status) = error_code(error);
    let envelope = ErrorEnvelope {
        error: ErrorBody {
            code,
            message: error.to_string(),
            request_id: request_id.as_str().to_string(),
        },
    };
    let mut response = common::json_response(status, &envelope);
    common::with_retry_after(&mut response, error);
    response
}

//! Kie's error envelope and statuses, and Kie's names for canonical fields.

use crate::common;
use axum::http::StatusCode;
use axum::response::Response;
use seedgate_core::error::{Denial, FieldPath, GatewayError, ValidationError};
use seedgate_core::RequestId;

pub use seedgate_wire::kie::ErrorEnvelope;

/// The Kie name of a canonical field (`first_frame_url` → `input.first_frame_url`,
/// `callback_url` → `callBackUrl`).
pub fn wire_name(field: &FieldPath) -> String {
    match field.name.as_str() {
        "model" => "model".into(),
        "callback_url" => "callBackUrl".into(),
        _ => format!("input.{field}"),
    }
}

/// A gateway error with canonical field names replaced by this dialect's.
pub(super) fn renamed(error: GatewayError) -> GatewayError {
    error.renamed(wire_name)
}

/// The HTTP status (and `code`) of a gateway error.
pub fn error_status(error: &GatewayError) -> StatusCode {
    use StatusCode as S;
    match error {
        GatewayError::Unauthenticated(_) => S::UNAUTHORIZED,
        GatewayError::Validation(ValidationError::NotAnObject) => S::BAD_REQUEST,
        GatewayError::Validation(_)
        | GatewayError::IdempotencyKeyInvalid(_)
        | GatewayError::PricingUnavailable { .. }
        | GatewayError::IdempotencyMismatch => S::UNPROCESSABLE_ENTITY,
        GatewayError::InsufficientCredits { .. } => S::PAYMENT_REQUIRED,
        GatewayError::NotFound | GatewayError::AssetNotFound | GatewayError::RouteNotFound => {
            S::NOT_FOUND
        }
        GatewayError::MethodNotAllowed => S::METHOD_NOT_ALLOWED,
        GatewayError::IdempotencyInFlight
        | GatewayError::NotCancellable
        | GatewayError::NotDeletable => S::CONFLICT,
        GatewayError::QuotaExceeded { .. } | GatewayError::PayloadTooLarge => S::PAYLOAD_TOO_LARGE,
        GatewayError::RateLimited { .. } | GatewayError::Limited { .. } => S::TOO_MANY_REQUESTS,
        // Kie's codes have no 403: an address not allowed fails authorisation, a model not
        // allowed is a request Kie cannot process.
        GatewayError::Forbidden(Denial::IpNotAllowed(_)) => S::UNAUTHORIZED,
        GatewayError::Forbidden(Denial::ModelNotAllowed(_)) => S::UNPROCESSABLE_ENTITY,
        GatewayError::Internal(_) => S::INTERNAL_SERVER_ERROR,
        GatewayError::Unavailable(_) => S::SERVICE_UNAVAILABLE,
    }
}

/// [`Dialect::error_response`](crate::common::Dialect::error_response) of [`Kie`](super::Kie).
pub(crate) fn error_response(error: &GatewayError, _request_id: &RequestId) -> Response {
    let status = error_status(error);
    let envelope = ErrorEnvelope {
        code: status.as_u16(),
        msg: error.to_string(),
        data: None,
    };
    let mut response = common::json_response(status, &envelope);
    common::with_retry_after(&mut response, error);
    response
}

#[cfg(test)]
mod tests {
    use super::super::Kie;
    use super::*;
    use crate::common::Dialect;
    use seedgate_core::error::AuthFailure;
    use std::time::Duration;

    #[test]
    fn statuses_follow_the_kie_family() {
        let cases = [
            (GatewayError::Unauthenticated(AuthFailure::Invalid), 401),
            (GatewayError::Validation(ValidationError::NotAnObject), 400),
            (
                GatewayError::Validation(ValidationError::Missing {
                    field: "model".into(),
                }),
                422,
            ),
            (GatewayError::pricing_unavailable("x"), 422),
            (
                GatewayError::InsufficientCredits {
                    needed: 2,
                    available: 1,
                },
                402,
            ),
            (GatewayError::NotFound, 404),
            (GatewayError::RouteNotFound, 404),
            (GatewayError::MethodNotAllowed, 405),
            (GatewayError::IdempotencyInFlight, 409),
            (GatewayError::IdempotencyMismatch, 422),
            (
                GatewayError::RateLimited {
                    retry_after: Duration::from_millis(10),
                },
                429,
            ),
            (GatewayError::Internal("x".into()), 500),
            (GatewayError::Unavailable("db".into()), 503),
        ];
        for (error, status) in cases {
            assert_eq!(error_status(&error).as_u16(), status, "{error:?}");
            let r = Kie::error_response(&error, &RequestId::generate());
            assert_eq!(r.status().as_u16(), status);
        }
        let r = Kie::error_response(
            &GatewayError::RateLimited {
                retry_after: Duration::from_millis(10),
            },
            &RequestId::generate(),
        );
        assert_eq!(r.headers()["retry-after"], "1");
    }
}

//! HiAPI's `error_code`s (the envelope is the wire crate's, in [`super::wire`]), and HiAPI's
//! names for canonical fields in error messages.

use crate::common;
use axum::http::StatusCode;
use axum::response::Response;
use seedgate_core::error::{Denial, FieldPath, GatewayError, ValidationError};
use seedgate_core::RequestId;

use super::wire::ErrorEnvelope;

/// The HiAPI name of a canonical field (`first_frame_url` → `input.first_frame_url`,
/// `callback_url` → `callback.url`).
pub fn wire_name(field: &FieldPath) -> String {
    match field.name.as_str() {
        "model" => "model".into(),
        "callback_url" => "callback.url".into(),
        _ => format!("input.{field}"),
    }
}

/// A gateway error with canonical field names replaced by this dialect's.
pub(super) fn renamed(error: GatewayError) -> GatewayError {
    error.renamed(wire_name)
}

/// The `error_code` and HTTP status of a gateway error.
pub fn error_code(error: &GatewayError) -> (&'static str, StatusCode) {
    use StatusCode as S;
    match error {
        GatewayError::Unauthenticated(_) => ("UNAUTHORIZED", S::UNAUTHORIZED),
        GatewayError::Validation(ValidationError::ModelNotSupported { .. }) => {
            ("MODEL_NOT_SUPPORTED", S::BAD_REQUEST)
        }
        GatewayError::Validation(_) | GatewayError::IdempotencyKeyInvalid(_) => {
            ("INVALID_REQUEST", S::BAD_REQUEST)
        }
        GatewayError::PricingUnavailable { .. } => ("MEDIA_UNREADABLE", S::BAD_REQUEST),
        GatewayError::InsufficientCredits { .. } => ("INSUFFICIENT_CREDITS", S::PAYMENT_REQUIRED),
        GatewayError::NotFound => ("TASK_NOT_FOUND", S::NOT_FOUND),
        GatewayError::AssetNotFound => ("ASSET_NOT_FOUND", S::NOT_FOUND),
        GatewayError::RouteNotFound => ("NOT_FOUND", S::NOT_FOUND),
        GatewayError::MethodNotAllowed => ("METHOD_NOT_ALLOWED", S::METHOD_NOT_ALLOWED),
        GatewayError::NotCancellable | GatewayError::NotDeletable => {
            ("TASK_STATE_CONFLICT", S::CONFLICT)
        }
        GatewayError::IdempotencyInFlight => ("IDEMPOTENCY_IN_PROGRESS", S::CONFLICT),
        GatewayError::QuotaExceeded { .. } => ("QUOTA_EXCEEDED", S::PAYLOAD_TOO_LARGE),
        GatewayError::PayloadTooLarge => ("PAYLOAD_TOO_LARGE", S::PAYLOAD_TOO_LARGE),
        GatewayError::IdempotencyMismatch => ("IDEMPOTENCY_CONFLICT", S::UNPROCESSABLE_ENTITY),
        GatewayError::RateLimited { .. } => ("RATE_LIMITED", S::TOO_MANY_REQUESTS),
        GatewayError::Limited { refusal, .. } if refusal.is_budget() => {
            ("BUDGET_EXCEEDED", S::TOO_MANY_REQUESTS)
        }
        GatewayError::Limited { .. } => ("RATE_LIMITED", S::TOO_MANY_REQUESTS),
        GatewayError::Forbidden(Denial::ModelNotAllowed(_)) => ("MODEL_NOT_ALLOWED", S::FORBIDDEN),
        GatewayError::Forbidden(_) => ("FORBIDDEN", S::FORBIDDEN),
        GatewayError::Internal(_) => ("INTERNAL_ERROR", S::INTERNAL_SERVER_ERROR),
        GatewayError::Unavailable(_) => ("SERVICE_UNAVAILABLE", S::SERVICE_UNAVAILABLE),
    }
}

/// [`Dialect::error_response`](crate::common::Dialect::error_response) of [`HiApi`](super::HiApi).
pub(crate) fn error_response(error: &GatewayError, _request_id: &RequestId) -> Response {
    let (error_code, status) = error_code(error);
    let envelope = ErrorEnvelope {
        code: status.as_u16(),
        message: error.to_string(),
        data: None,
        error_code: error_code.into(),
    };
    let mut response = common::json_response(status, &envelope);
    common::with_retry_after(&mut response, error);
    response
}

#[cfg(test)]
mod tests {
    use super::super::HiApi;
    use super::*;
    use crate::common::Dialect;
    use seedgate_core::error::AuthFailure;
    use std::time::Duration;

    #[test]
    fn canonical_names_are_renamed() {
        assert_eq!(
            wire_name(&FieldPath::new("first_frame_url")),
            "input.first_frame_url"
        );
        assert_eq!(
            wire_name(&FieldPath::at("reference_image_urls", 2)),
            "input.reference_image_urls[2]"
        );
        assert_eq!(wire_name(&FieldPath::new("callback_url")), "callback.url");
        assert_eq!(wire_name(&FieldPath::new("model")), "model");
        let e = renamed(GatewayError::PricingUnavailable {
            field: Some(FieldPath::at("reference_video_urls", 0)),
            reason: "fetch failed".into(),
        });
        assert_eq!(
            e.to_string(),
            "cannot determine pricing: input.reference_video_urls[0]: fetch failed"
        );
    }

    #[test]
    fn every_error_has_a_code_and_matching_status() {
        let cases = [
            (
                GatewayError::Unauthenticated(AuthFailure::Missing),
                "UNAUTHORIZED",
                401,
            ),
            (
                GatewayError::Validation(ValidationError::NotAnObject),
                "INVALID_REQUEST",
                400,
            ),
            (
                GatewayError::Validation(ValidationError::ModelNotSupported {
                    model: "x".into(),
                    reason: "unknown model".into(),
                }),
                "MODEL_NOT_SUPPORTED",
                400,
            ),
            (
                GatewayError::InsufficientCredits {
                    needed: 2,
                    available: 1,
                },
                "INSUFFICIENT_CREDITS",
                402,
            ),
            (GatewayError::NotFound, "TASK_NOT_FOUND", 404),
            (GatewayError::RouteNotFound, "NOT_FOUND", 404),
            (GatewayError::MethodNotAllowed, "METHOD_NOT_ALLOWED", 405),
            (
                GatewayError::IdempotencyInFlight,
                "IDEMPOTENCY_IN_PROGRESS",
                409,
            ),
            (
                GatewayError::IdempotencyMismatch,
                "IDEMPOTENCY_CONFLICT",
                422,
            ),
            (
                GatewayError::RateLimited {
                    retry_after: Duration::from_secs(3),
                },
                "RATE_LIMITED",
                429,
            ),
            (GatewayError::Internal("x".into()), "INTERNAL_ERROR", 500),
            (
                GatewayError::Unavailable("db".into()),
                "SERVICE_UNAVAILABLE",
                503,
            ),
        ];
        for (error, code, status) in cases {
            assert_eq!(
                error_code(&error),
                (code, StatusCode::from_u16(status).expect("status"))
            );
            let r = HiApi::error_response(&error, &RequestId::generate());
            assert_eq!(r.status().as_u16(), status);
        }
        let r = HiApi::error_response(
            &GatewayError::RateLimited {
                retry_after: Duration::from_secs(3),
            },
            &RequestId::generate(),
        );
        assert_eq!(r.headers()["retry-after"], "3");
    }
}

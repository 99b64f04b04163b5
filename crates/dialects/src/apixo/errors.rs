//! APIXO's error envelope and statuses, and APIXO's names for canonical fields.

use crate::common;
use axum::http::StatusCode;
use axum::response::Response;
use seedgate_core::error::{Denial, FieldPath, GatewayError, ValidationError};
use seedgate_core::RequestId;

use super::wire::{ErrorData, ErrorEnvelope};

/// APIXO's name for a canonical field (possibly indexed: `reference_image_urls[2]`).
pub fn wire_field(field: &FieldPath) -> String {
    let index = field.index.map(|i| format!("[{i}]")).unwrap_or_default();
    match field.name.as_str() {
        "first_frame_url" => "input.image_urls[0]".to_string(),
        "last_frame_url" => "input.image_urls[1]".to_string(),
        "reference_image_urls" => format!("input.image_urls{index}"),
        "reference_video_urls" => format!("input.video_urls{index}"),
        "reference_audio_urls" => format!("input.audio_urls{index}"),
        "generate_audio" => format!("input.sound{index}"),
        "prompt" | "resolution" | "aspect_ratio" | "duration" | "web_search" | "mode" => {
            format!("input.{field}")
        }
        _ => field.to_string(),
    }
}

/// A gateway error with canonical field names replaced by APIXO's (also in a pricing error's
/// `field: reason` text).
pub(super) fn wire_error(error: GatewayError) -> GatewayError {
    error.renamed(wire_field)
}

/// HTTP status and category message of a gateway error.
pub fn error_status(error: &GatewayError) -> (StatusCode, &'static str) {
    use StatusCode as S;
    match error {
        GatewayError::Unauthenticated(_) => (S::UNAUTHORIZED, "Unauthorized"),
        GatewayError::Validation(ValidationError::ModelNotSupported { .. }) => {
            (S::FORBIDDEN, "Model not accessible")
        }
        GatewayError::Validation(_)
        | GatewayError::PricingUnavailable { .. }
        | GatewayError::IdempotencyKeyInvalid(_)
        | GatewayError::NotCancellable
        | GatewayError::NotDeletable => (S::BAD_REQUEST, "Invalid request"),
        GatewayError::InsufficientCredits { .. } => (S::PAYMENT_REQUIRED, "Insufficient balance"),
        GatewayError::QuotaExceeded { .. } => (S::PAYMENT_REQUIRED, "Quota exceeded"),
        GatewayError::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "Payload too large"),
        GatewayError::NotFound => (S::NOT_FOUND, "Task not found"),
        GatewayError::AssetNotFound | GatewayError::RouteNotFound => (S::NOT_FOUND, "Not found"),
        GatewayError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "Method not allowed"),
        GatewayError::IdempotencyInFlight => (S::CONFLICT, "Conflict"),
        GatewayError::IdempotencyMismatch => (S::UNPROCESSABLE_ENTITY, "Idempotency key reused"),
        GatewayError::RateLimited { .. } => (S::TOO_MANY_REQUESTS, "Rate limit exceeded"),
        GatewayError::Limited { refusal, .. } if refusal.is_budget() => {
            (S::TOO_MANY_REQUESTS, "Budget exceeded")
        }
        GatewayError::Limited { .. } => (S::TOO_MANY_REQUESTS, "Rate limit exceeded"),
        GatewayError::Forbidden(Denial::ModelNotAllowed(_)) => {
            (S::FORBIDDEN, "Model not accessible")
        }
        GatewayError::Forbidden(_) => (S::FORBIDDEN, "Forbidden"),
        GatewayError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "Internal server error"),
        GatewayError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "Service unavailable"),
    }
}

/// The `data.error` detail: APIXO's wording for a missing field, the gateway's otherwise.
fn error_detail(error: &GatewayError) -> String {
    match error {
        GatewayError::Validation(ValidationError::Missing { field }) => {
            format!("Missing required field: {field}")
        }
        other => other.to_string(),
    }
}

/// [`Dialect::error_response`](crate::common::Dialect::error_response) of [`Apixo`](super::Apixo).
pub(crate) fn error_response(error: &GatewayError, _request_id: &RequestId) -> Response {
    let (status, message) = error_status(error);
    let envelope = ErrorEnvelope {
        code: status.as_u16(),
        message: message.to_string(),
        data: ErrorData {
            error: error_detail(error),
        },
    };
    let mut response = common::json_response(status, &envelope);
    common::with_retry_after(&mut response, error);
    response
}

#[cfg(test)]
mod tests {
    use super::super::Apixo;
    use super::*;
    use crate::common::Dialect;
    use seedgate_core::error::AuthFailure;

    #[test]
    fn errors_use_the_http_status_as_code() {
        use std::time::Duration;
        let cases = [
            (GatewayError::Unauthenticated(AuthFailure::Missing), 401),
            (ValidationError::invalid("input.mode", "bad").into(), 400),
            (GatewayError::pricing_unavailable("x"), 400),
            (
                GatewayError::InsufficientCredits {
                    needed: 5,
                    available: 1,
                },
                402,
            ),
            (
                ValidationError::ModelNotSupported {
                    model: "seedance-2-0".into(),
                    reason: "unknown model".into(),
                }
                .into(),
                403,
            ),
            (GatewayError::NotFound, 404),
            (
                GatewayError::RateLimited {
                    retry_after: Duration::from_secs(2),
                },
                429,
            ),
            (GatewayError::Internal("x".into()), 500),
            (GatewayError::Unavailable("db".into()), 503),
        ];
        for (error, code) in cases {
            let response = Apixo::error_response(&error, &RequestId::generate());
            assert_eq!(response.status().as_u16(), code, "{error:?}");
        }
        assert_eq!(
            error_detail(
                &ValidationError::Missing {
                    field: "input.prompt".into()
                }
                .into()
            ),
            "Missing required field: input.prompt"
        );
        let priced = wire_error(GatewayError::PricingUnavailable {
            field: Some(FieldPath::at("reference_video_urls", 1)),
            reason: "could not fetch".into(),
        });
        assert_eq!(
            priced.to_string(),
            "cannot determine pricing: input.video_urls[1]: could not fetch"
        );
    }
}

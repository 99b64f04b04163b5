//! CRUN's error envelope and codes, and CRUN's names for canonical fields.

use crate::common;
use axum::http::StatusCode;
use axum::response::Response;
use seedgate_core::error::{AuthFailure, Denial, FieldPath, GatewayError, ValidationError};
use seedgate_core::RequestId;
use serde_json::Value;

use super::wire::ErrorEnvelope;

/// CRUN's name for a canonical field (possibly indexed: `reference_image_urls[2]`).
pub fn wire_field(field: &FieldPath) -> String {
    let index = field.index.map(|i| format!("[{i}]")).unwrap_or_default();
    match field.name.as_str() {
        "first_frame_url" => "input.img_urls[0]".to_string(),
        "last_frame_url" => "input.img_urls[1]".to_string(),
        "reference_image_urls" => format!("input.reference_images{index}"),
        "reference_video_urls" => format!("input.reference_videos{index}"),
        "reference_audio_urls" => format!("input.reference_audios{index}"),
        "generate_audio" => "input.audio".to_string(),
        "prompt" | "resolution" | "aspect_ratio" | "duration" | "return_last_frame" => {
            format!("input.{field}")
        }
        "mode" => "model".to_string(),
        _ => field.to_string(),
    }
}

/// A gateway error in CRUN's terms: field names renamed (also in a pricing error's
/// `field: reason` text), and an unavailable model named as the client named it.
pub(super) fn wire_error(error: GatewayError, requested: &str) -> GatewayError {
    match error {
        GatewayError::Validation(ValidationError::ModelNotSupported { reason, .. }) => {
            GatewayError::Validation(ValidationError::ModelNotSupported {
                model: requested.to_string(),
                reason,
            })
        }
        other => other.renamed(wire_field),
    }
}

/// The code (HTTP status and body `code`) of a gateway error.
pub fn error_code(error: &GatewayError) -> u16 {
    match error {
        GatewayError::Unauthenticated(_) => 401,
        GatewayError::Validation(ValidationError::ModelNotSupported { .. }) => 505,
        GatewayError::Validation(_)
        | GatewayError::PricingUnavailable { .. }
        | GatewayError::IdempotencyKeyInvalid(_)
        | GatewayError::IdempotencyMismatch
        | GatewayError::QuotaExceeded { .. }
        | GatewayError::NotCancellable
        | GatewayError::NotDeletable => 422,
        GatewayError::InsufficientCredits { .. } => 402,
        GatewayError::PayloadTooLarge => 413,
        GatewayError::NotFound
        | GatewayError::AssetNotFound
        | GatewayError::RouteNotFound
        | GatewayError::MethodNotAllowed => 404,
        GatewayError::RateLimited { .. }
        | GatewayError::Limited { .. }
        | GatewayError::IdempotencyInFlight => 429,
        // CRUN has no 403: an address not allowed is an authorisation failure, a model not
        // allowed is its "model not supported".
        GatewayError::Forbidden(Denial::IpNotAllowed(_)) => 401,
        GatewayError::Forbidden(Denial::ModelNotAllowed(_)) => 505,
        GatewayError::Unavailable(_) => 455,
        GatewayError::Internal(_) => 500,
    }
}

fn error_message(error: &GatewayError) -> String {
    match error {
        GatewayError::Unauthenticated(AuthFailure::Missing | AuthFailure::NotBearer) => {
            "Unauthorized: missing x-api-key header".into()
        }
        GatewayError::Unauthenticated(_) => format!("Unauthorized: {error}"),
        GatewayError::Validation(ValidationError::ModelNotSupported { model, .. }) => {
            format!("Feature Disabled: model `{model}` is not served by this service")
        }
        other => other.to_string(),
    }
}

/// [`Dialect::error_response`](crate::common::Dialect::error_response) of [`Crun`](super::Crun).
pub(crate) fn error_response(error: &GatewayError, _request_id: &RequestId) -> Response {
    let code = error_code(error);
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let envelope = ErrorEnvelope {
        code,
        message: error_message(error),
        data: Value::Null,
    };
    let mut response = common::json_response(status, &envelope);
    common::with_retry_after(&mut response, error);
    response
}

#[cfg(test)]
mod tests {
    use super::super::Crun;
    use super::*;
    use crate::common::Dialect;

    /// Codes no black-box test can provoke (no rate limiter, a healthy store) still come out in
    /// both the HTTP status and the body.
    #[test]
    fn every_error_has_its_code_in_status_and_body() {
        use std::time::Duration;
        let rid = RequestId::generate();
        let cases = [
            (GatewayError::Unauthenticated(AuthFailure::Revoked), 401),
            (
                GatewayError::InsufficientCredits {
                    needed: 5,
                    available: 1,
                },
                402,
            ),
            (GatewayError::NotFound, 404),
            (GatewayError::AssetNotFound, 404),
            (GatewayError::MethodNotAllowed, 404),
            (
                ValidationError::invalid("input.duration", "bad").into(),
                422,
            ),
            (GatewayError::IdempotencyMismatch, 422),
            (
                GatewayError::RateLimited {
                    retry_after: Duration::from_secs(3),
                },
                429,
            ),
            (GatewayError::IdempotencyInFlight, 429),
            (GatewayError::Unavailable("db".into()), 455),
            (GatewayError::Internal("x".into()), 500),
            (
                ValidationError::ModelNotSupported {
                    model: "bytedance/seedance2-5-t2v".into(),
                    reason: "off".into(),
                }
                .into(),
                505,
            ),
        ];
        for (error, code) in cases {
            let response = Crun::error_response(&error, &rid);
            assert_eq!(response.status().as_u16(), code, "{error:?}");
            assert_eq!(error_code(&error), code);
            if code == 429 && matches!(error, GatewayError::RateLimited { .. }) {
                assert_eq!(response.headers()["retry-after"], "3");
            }
        }
    }

    #[test]
    fn field_names() {
        assert_eq!(
            wire_field(&FieldPath::at("reference_video_urls", 1)),
            "input.reference_videos[1]"
        );
        assert_eq!(
            wire_field(&FieldPath::new("first_frame_url")),
            "input.img_urls[0]"
        );
        assert_eq!(wire_field(&FieldPath::new("generate_audio")), "input.audio");
        assert_eq!(wire_field(&FieldPath::new("mode")), "model");
    }
}

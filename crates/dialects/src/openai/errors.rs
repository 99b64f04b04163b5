//! The videos API's errors: OpenAI's envelope, types and codes, `x-should-retry`, and the
//! errors only this dialect has ([`Failure::Own`]).

use crate::common;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use seedgate_core::error::{Denial, FieldPath, GatewayError, ValidationError};
use seedgate_core::RequestId;

use super::OpenAi;

pub use seedgate_wire::openai::{OpenAiErrorBody, OpenAiErrorEnvelope};

/// An error of this dialect: the gateway's, or one only the videos API has.
#[derive(Debug)]
pub enum Failure {
    GenerationService(GatewayError),
    Own(ErrorParts),
}

impl From<GatewayError> for Failure {
    fn from(e: GatewayError) -> Self {
        Failure::GenerationService(e)
    }
}

impl From<ValidationError> for Failure {
    fn from(e: ValidationError) -> Self {
        Failure::GenerationService(e.into())
    }
}

/// Everything an error response is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorParts {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<String>,
    pub message: String,
    /// `x-should-retry`, for the SDK.
    pub retry: Option<bool>,
    pub retry_after_ms: Option<u128>,
}

impl ErrorParts {
    pub(super) fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: String,
    ) -> Self {
        Self {
            status,
            kind,
            code: Some(code),
            param: None,
            message,
            retry: None,
            retry_after_ms: None,
        }
    }

    pub(super) fn request(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(status, "invalid_request_error", code, message.into())
    }

    pub(super) fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }

    pub(super) fn no_retry(mut self) -> Self {
        self.retry = Some(false);
        self
    }
}

/// The type, code, HTTP status and parameter of a gateway error.
pub fn error_parts(error: &GatewayError) -> ErrorParts {
    use StatusCode as S;
    let message = error.to_string();
    match error {
        GatewayError::Unauthenticated(_) => {
            ErrorParts::request(S::UNAUTHORIZED, "invalid_api_key", message)
        }
        GatewayError::Validation(v) => {
            let code = match v {
                ValidationError::NotAnObject => "invalid_json",
                ValidationError::Missing { .. } => "missing_required_parameter",
                ValidationError::Invalid { .. } => "invalid_value",
                ValidationError::UnknownField { .. } => "unknown_parameter",
                ValidationError::ModelNotSupported { .. } => "model_not_found",
                ValidationError::PromptTooLong { .. } => "string_above_max_length",
            };
            ErrorParts {
                param: v.field().map(|f| f.to_string()),
                ..ErrorParts::request(S::BAD_REQUEST, code, message)
            }
        }
        GatewayError::PricingUnavailable { field, .. } => {
            // The medium that could not be read, named already in this dialect's terms.
            ErrorParts {
                param: field.as_ref().map(FieldPath::to_string),
                ..ErrorParts::request(S::BAD_REQUEST, "media_unavailable", message)
            }
        }
        GatewayError::IdempotencyKeyInvalid(_) => {
            ErrorParts::request(S::BAD_REQUEST, "invalid_idempotency_key", message)
                .param("Idempotency-Key")
        }
        GatewayError::IdempotencyInFlight => {
            ErrorParts::request(S::CONFLICT, "idempotency_key_in_use", message)
        }
        GatewayError::IdempotencyMismatch => {
            ErrorParts::request(S::UNPROCESSABLE_ENTITY, "idempotency_key_mismatch", message)
                .no_retry()
        }
        GatewayError::NotCancellable | GatewayError::NotDeletable => ErrorParts::request(
            S::CONFLICT,
            "video_in_progress",
            "the video is being generated and cannot be stopped; delete it once it has \
             completed or failed",
        )
        .no_retry(),
        GatewayError::InsufficientCredits { .. } => ErrorParts::new(
            S::TOO_MANY_REQUESTS,
            "insufficient_quota",
            "insufficient_quota",
            message,
        )
        .no_retry(),
        GatewayError::NotFound => ErrorParts::request(S::NOT_FOUND, "not_found", "video not found"),
        GatewayError::AssetNotFound => {
            ErrorParts::request(S::NOT_FOUND, "not_found", message).param("input_reference")
        }
        GatewayError::RouteNotFound => ErrorParts::request(S::NOT_FOUND, "unknown_url", message),
        GatewayError::MethodNotAllowed => {
            ErrorParts::request(S::METHOD_NOT_ALLOWED, "method_not_allowed", message)
        }
        GatewayError::PayloadTooLarge => {
            ErrorParts::request(S::PAYLOAD_TOO_LARGE, "request_too_large", message)
        }
        GatewayError::QuotaExceeded { .. } => {
            ErrorParts::request(S::PAYLOAD_TOO_LARGE, "upload_quota_exceeded", message)
                .param("input_reference")
        }
        GatewayError::Limited {
            refusal,
            retry_after,
        } => ErrorParts {
            retry: Some(true),
            retry_after_ms: Some(retry_after.as_millis().max(1)),
            // OpenAI answers a spending limit with `insufficient_quota`, a rate with
            // `rate_limit_exceeded`; both are 429.
            ..if refusal.is_budget() {
                ErrorParts::new(
                    S::TOO_MANY_REQUESTS,
                    "insufficient_quota",
                    "insufficient_quota",
                    message,
                )
            } else {
                ErrorParts::new(
                    S::TOO_MANY_REQUESTS,
                    "requests",
                    "rate_limit_exceeded",
                    message,
                )
            }
        },
        GatewayError::Forbidden(Denial::ModelNotAllowed(_)) => {
            ErrorParts::request(S::FORBIDDEN, "model_not_allowed", message).param("model")
        }
        GatewayError::Forbidden(_) => ErrorParts::new(
            S::FORBIDDEN,
            "invalid_request_error",
            "ip_not_allowed",
            message,
        )
        .no_retry(),
        GatewayError::RateLimited { retry_after } => ErrorParts {
            retry: Some(true),
            retry_after_ms: Some(retry_after.as_millis().max(1)),
            ..ErrorParts::new(
                S::TOO_MANY_REQUESTS,
                "requests",
                "rate_limit_exceeded",
                message,
            )
        },
        GatewayError::Internal(_) => ErrorParts::new(
            S::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            message,
        ),
        GatewayError::Unavailable(_) => ErrorParts {
            retry: Some(true),
            retry_after_ms: error.retry_after().map(|d| d.as_millis()),
            ..ErrorParts::new(
                S::SERVICE_UNAVAILABLE,
                "server_error",
                "service_unavailable",
                message,
            )
        },
    }
}

fn render_error(parts: ErrorParts) -> Response {
    let envelope = OpenAiErrorEnvelope {
        error: OpenAiErrorBody {
            message: parts.message,
            kind: parts.kind.into(),
            param: parts.param,
            code: parts.code.map(Into::into),
        },
    };
    let mut response = common::json_response(parts.status, &envelope);
    let h = response.headers_mut();
    if let Some(retry) = parts.retry {
        h.insert(
            "x-should-retry",
            HeaderValue::from_static(if retry { "true" } else { "false" }),
        );
    }
    if let Some(ms) = parts.retry_after_ms {
        if let Ok(v) = HeaderValue::from_str(&ms.to_string()) {
            h.insert("retry-after-ms", v);
        }
        if let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).max(1).to_string()) {
            h.insert(header::RETRY_AFTER, v);
        }
    }
    response
}

/// A gateway error in the dialect's envelope (as every dialect's [`common::Fail`]), or one of the
/// videos API's own.
impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::GenerationService(e) => common::Fail::<OpenAi>::from(e).into_response(),
            Failure::Own(parts) => render_error(parts),
        }
    }
}

/// The wire name of a canonical field.
pub fn wire_name(field: &FieldPath) -> String {
    match field.name.as_str() {
        "duration" => "seconds".to_string(),
        "resolution" | "aspect_ratio" => "size".to_string(),
        "first_frame_url" | "file" => "input_reference".to_string(),
        _ => field.to_string(),
    }
}

/// A gateway error with canonical field names replaced by this dialect's.
pub(super) fn renamed(error: GatewayError) -> GatewayError {
    error.renamed(wire_name)
}

/// [`Dialect::error_response`](crate::common::Dialect::error_response) of [`OpenAi`](super::OpenAi).
pub(crate) fn error_response(error: &GatewayError, _request_id: &RequestId) -> Response {
    render_error(error_parts(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_openai_types_and_codes() {
        let p = error_parts(&GatewayError::InsufficientCredits {
            needed: 5,
            available: 1,
        });
        assert_eq!(
            (p.status, p.kind, p.code, p.retry),
            (
                StatusCode::TOO_MANY_REQUESTS,
                "insufficient_quota",
                Some("insufficient_quota"),
                Some(false)
            )
        );
        let p = error_parts(&renamed(GatewayError::Validation(
            ValidationError::invalid("duration", "x"),
        )));
        assert_eq!(p.param.as_deref(), Some("seconds"));
        let p = error_parts(&renamed(GatewayError::PricingUnavailable {
            field: Some(FieldPath::new("first_frame_url")),
            reason: "could not fetch".into(),
        }));
        assert_eq!(p.param.as_deref(), Some("input_reference"));
        assert!(
            p.message.contains("input_reference: could not fetch"),
            "{}",
            p.message
        );
    }
}

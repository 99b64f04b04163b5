//! Ark's error envelope, codes and messages, and Ark's names for canonical fields
//! ([`ContentPaths`]: where each medium came from in `content[]`).

use crate::common;
use axum::http::StatusCode;
use axum::response::Response;
use seedgate_core::accounts::LimitRefusal;
use seedgate_core::error::{AuthFailure, FieldPath, GatewayError, Rule, ValidationError};
use seedgate_core::RequestId;

use super::wire::{ErrorBody, ErrorEnvelope};

/// Where each canonical media field came from in `content[]`, to name errors Ark's way.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ContentPaths {
    pub(super) text: Option<usize>,
    pub(super) first_frame: Option<usize>,
    pub(super) last_frame: Option<usize>,
    pub(super) images: Vec<usize>,
    pub(super) videos: Vec<usize>,
    pub(super) audios: Vec<usize>,
}

impl ContentPaths {
    /// Ark's name for a canonical field (`reference_image_urls[1]` → `content[3].image_url`).
    pub fn wire_name(&self, field: &FieldPath) -> String {
        let index = field.index;
        let item = |i: Option<usize>, kind: &str| match i {
            Some(i) => format!("content[{i}].{kind}"),
            None => "content".to_string(),
        };
        let listed =
            |list: &[usize], kind: &str| item(index.and_then(|k| list.get(k).copied()), kind);
        match field.name.as_str() {
            "first_frame_url" => item(self.first_frame, "image_url"),
            "last_frame_url" => item(self.last_frame, "image_url"),
            "reference_image_urls" => listed(&self.images, "image_url"),
            "reference_video_urls" => listed(&self.videos, "video_url"),
            "reference_audio_urls" => listed(&self.audios, "audio_url"),
            "prompt" => item(self.text, "text"),
            "aspect_ratio" => "ratio".into(),
            "web_search" => "tools".into(),
            _ => field.to_string(),
        }
    }

    /// A gateway error with canonical field names replaced by Ark's (a pricing error's medium
    /// and an over-long prompt included), and rules that name other fields worded Ark's way.
    pub fn rename(&self, error: GatewayError) -> GatewayError {
        match error {
            GatewayError::Validation(ValidationError::PromptTooLong { max, actual }) => {
                ValidationError::invalid(
                    self.wire_name(&FieldPath::new("prompt")),
                    &format!("exceeds the maximum length of {max} characters (got {actual})"),
                )
                .into()
            }
            GatewayError::Validation(ValidationError::Invalid { field, rule }) => {
                ValidationError::invalid(self.wire_name(&field), &ark_rule(&rule)).into()
            }
            other => other.renamed(|f| self.wire_name(f)),
        }
    }
}

/// The role a canonical media field has in Ark's `content[]` (`reference_image_urls` →
/// `reference_image`).
fn role(field: &FieldPath) -> String {
    match field.name.as_str() {
        "first_frame_url" => "first_frame".into(),
        "last_frame_url" => "last_frame".into(),
        "reference_image_urls" => "reference_image".into(),
        "reference_video_urls" => "reference_video".into(),
        "reference_audio_urls" => "reference_audio".into(),
        _ => field.to_string(),
    }
}

/// A rule in Ark's words: other media are named by their role in `content[]` (a frame is "a
/// first_frame image", references are "reference_video items").
fn ark_rule(rule: &Rule) -> String {
    let is_frame = |f: &FieldPath| f.is("first_frame_url") || f.is("last_frame_url");
    match rule {
        Rule::Text(text) => text.clone(),
        Rule::Requires(other) if is_frame(other) => format!("requires a {} image", role(other)),
        Rule::Requires(_) | Rule::ConflictsWith(_) => format!("{} items", rule.words(role)),
    }
}

/// Code, HTTP status and error type of a gateway error.
pub fn error_code(error: &GatewayError) -> (&'static str, StatusCode, &'static str) {
    use StatusCode as S;
    const BAD: &str = "BadRequest";
    match error {
        GatewayError::Unauthenticated(_) => {
            ("AuthenticationError", S::UNAUTHORIZED, "Unauthorized")
        }
        GatewayError::Validation(v) => match v {
            ValidationError::Missing { .. } => ("MissingParameter", S::BAD_REQUEST, BAD),
            v @ ValidationError::ModelNotSupported { .. } if v.is_unknown_model() => {
                ("InvalidEndpointOrModel.NotFound", S::NOT_FOUND, "NotFound")
            }
            ValidationError::ModelNotSupported { .. } => ("ModelNotOpen", S::NOT_FOUND, "NotFound"),
            ValidationError::NotAnObject
            | ValidationError::Invalid { .. }
            | ValidationError::UnknownField { .. }
            | ValidationError::PromptTooLong { .. } => ("InvalidParameter", S::BAD_REQUEST, BAD),
        },
        GatewayError::PricingUnavailable { .. } | GatewayError::IdempotencyKeyInvalid(_) => {
            ("InvalidParameter", S::BAD_REQUEST, BAD)
        }
        GatewayError::InsufficientCredits { .. } => {
            ("AccountOverdueError", S::FORBIDDEN, "Forbidden")
        }
        GatewayError::NotCancellable | GatewayError::NotDeletable => (
            "OperationDenied.UnsupportedPhase",
            S::FORBIDDEN,
            "Forbidden",
        ),
        GatewayError::QuotaExceeded { .. } => (
            "OperationDenied.FileQuotaExceeded",
            S::FORBIDDEN,
            "Forbidden",
        ),
        GatewayError::PayloadTooLarge => (
            "InvalidParameter.RequestTooLarge",
            S::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
        ),
        GatewayError::NotFound => ("NotFound.TaskId", S::NOT_FOUND, "NotFound"),
        GatewayError::AssetNotFound => ("NotFound.AssetId", S::NOT_FOUND, "NotFound"),
        GatewayError::RouteNotFound => ("NotFound", S::NOT_FOUND, "NotFound"),
        GatewayError::MethodNotAllowed => (
            "MethodNotAllowed",
            S::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
        ),
        GatewayError::IdempotencyInFlight => ("IdempotencyKeyInUse", S::CONFLICT, "Conflict"),
        GatewayError::IdempotencyMismatch => (
            "IdempotencyKeyReused",
            S::UNPROCESSABLE_ENTITY,
            "UnprocessableEntity",
        ),
        GatewayError::RateLimited { .. } => {
            ("RateLimitExceeded", S::TOO_MANY_REQUESTS, "TooManyRequests")
        }
        GatewayError::Limited { refusal, .. } => (
            match refusal {
                LimitRefusal::RequestRate { .. } | LimitRefusal::SubmitRate { .. } => {
                    "RateLimitExceeded.EndpointRPMExceeded"
                }
                LimitRefusal::InFlight { .. } | LimitRefusal::Queued { .. } => {
                    "RateLimitExceeded.ConcurrencyExceeded"
                }
                LimitRefusal::Budget { .. } => "QuotaExceeded",
            },
            S::TOO_MANY_REQUESTS,
            "TooManyRequests",
        ),
        GatewayError::Forbidden(_) => ("AccessDenied", S::FORBIDDEN, "Forbidden"),
        GatewayError::Internal(_) => (
            "InternalServiceError",
            S::INTERNAL_SERVER_ERROR,
            "InternalServerError",
        ),
        GatewayError::Unavailable(_) => (
            "ServiceUnavailable",
            S::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
        ),
    }
}

/// Ark's wording of an error (without the trailing `Request ID`).
fn error_message(error: &GatewayError) -> String {
    let trim = |s: &str| s.trim_end_matches('.').to_string();
    match error {
        GatewayError::Validation(ValidationError::Missing { field }) => format!(
            "The request failed because it is missing one or multiple required parameters: \
             `{field}`."
        ),
        GatewayError::Validation(ValidationError::Invalid { field, rule }) => format!(
            "The parameter `{field}` specified in the request is not valid: {}.",
            trim(&rule.to_string())
        ),
        GatewayError::Validation(ValidationError::UnknownField { field }) => format!(
            "The parameter `{field}` specified in the request is not valid: unknown parameter."
        ),
        GatewayError::Validation(ValidationError::NotAnObject) => {
            "The request body is not valid: it must be a JSON object.".into()
        }
        GatewayError::Validation(v @ ValidationError::ModelNotSupported { model, .. })
            if v.is_unknown_model() =>
        {
            format!("The model or endpoint {model} does not exist or you do not have access to it.")
        }
        GatewayError::Validation(ValidationError::ModelNotSupported { model, reason }) => {
            format!(
                "Your account has not activated the model {model}: {}.",
                trim(reason)
            )
        }
        GatewayError::Unauthenticated(f) => format!(
            "The API key in the request is missing or invalid ({}).",
            match f {
                AuthFailure::Missing => "missing Authorization header",
                AuthFailure::NotBearer => "the Authorization header must be `Bearer <key>`",
                AuthFailure::Invalid => "the API key is invalid",
                AuthFailure::Revoked => "the API key has been revoked",
                AuthFailure::Expired => "the API key has expired",
            }
        ),
        GatewayError::InsufficientCredits { needed, available } => format!(
            "The request failed because your account has an overdue balance: this request costs \
             {needed} credits, {available} available."
        ),
        GatewayError::NotFound => "The specified task is not found.".into(),
        GatewayError::NotCancellable | GatewayError::NotDeletable => {
            "Operation is denied because operation is not supported while the task is in its \
             current phase: only queued tasks can be cancelled, and only succeeded, failed or \
             expired tasks deleted."
                .into()
        }
        GatewayError::PricingUnavailable { field, reason } => format!(
            "One or more parameters specified in the request are not valid: {}{}.",
            field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default(),
            trim(reason)
        ),
        other => {
            let text = other.to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => format!("{}{}.", c.to_uppercase(), trim(chars.as_str())),
                None => String::new(),
            }
        }
    }
}

/// [`Dialect::error_response`](crate::common::Dialect::error_response) of [`Ark`](super::Ark).
pub(crate) fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
    let (code, status, kind) = error_code(error);
    let param = match error {
        GatewayError::Validation(v) => v.field().map(|f| f.to_string()),
        GatewayError::IdempotencyKeyInvalid(_) => Some("Idempotency-Key".into()),
        _ => None,
    };
    let envelope = ErrorEnvelope {
        error: ErrorBody {
            code: code.into(),
            message: format!(
                "{} Request ID: {}",
                error_message(error),
                request_id.as_str()
            ),
            param,
            kind: kind.into(),
        },
    };
    let mut response = common::json_response(status, &envelope);
    common::with_retry_after(&mut response, error);
    response
}

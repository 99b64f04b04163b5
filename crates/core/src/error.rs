//! The one error type every dialect maps to its own wire format.

use std::time::Duration;

/// Why a request's content was refused. Field names are canonical; dialects rename them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("request body must be a JSON object")]
    NotAnObject,
    #[error("missing required parameter `{field}`")]
    Missing { field: String },
    #[error("invalid parameter `{field}`: {reason}")]
    Invalid { field: String, reason: String },
    #[error("unknown parameter `{field}`")]
    UnknownField { field: String },
    #[error("model `{model}` is not supported: {reason}")]
    ModelNotSupported { model: String, reason: String },
    #[error("prompt exceeds the maximum length of {max} characters (got {actual})")]
    PromptTooLong { max: usize, actual: usize },
}

/// The reason of a [`ValidationError::ModelNotSupported`] for a name no catalog entry has (as
/// opposed to a known model that is not served).
pub const UNKNOWN_MODEL: &str = "unknown model";

impl ValidationError {
    pub fn unknown_model(model: &str) -> Self {
        ValidationError::ModelNotSupported {
            model: model.to_string(),
            reason: UNKNOWN_MODEL.into(),
        }
    }

    /// Whether this is a model name no catalog entry has.
    pub fn is_unknown_model(&self) -> bool {
        matches!(self, ValidationError::ModelNotSupported { reason, .. } if reason == UNKNOWN_MODEL)
    }

    pub fn invalid(field: &str, reason: &str) -> Self {
        ValidationError::Invalid {
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }

    /// The same error with its parameter renamed (dialects name fields their own way, e.g.
    /// `input.first_frame_url`). `rename` gets the canonical name, possibly indexed
    /// (`reference_image_urls[2]`).
    pub fn renamed(self, rename: impl Fn(&str) -> String) -> Self {
        match self {
            ValidationError::Missing { field } => ValidationError::Missing {
                field: rename(&field),
            },
            ValidationError::Invalid { field, reason } => ValidationError::Invalid {
                field: rename(&field),
                reason,
            },
            ValidationError::UnknownField { field } => ValidationError::UnknownField {
                field: rename(&field),
            },
            other => other,
        }
    }

    /// The parameter the error is about, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ValidationError::Missing { field }
            | ValidationError::Invalid { field, .. }
            | ValidationError::UnknownField { field } => Some(field),
            ValidationError::ModelNotSupported { .. } => Some("model"),
            ValidationError::PromptTooLong { .. } => Some("prompt"),
            ValidationError::NotAnObject => None,
        }
    }
}

/// How an `Authorization` header failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    NotBearer,
    Invalid,
    Revoked,
}

impl GatewayError {
    /// The same error with a validation error's parameter renamed; see
    /// [`ValidationError::renamed`].
    /// A pricing failure about one medium reads `field: reason`; its field is renamed too.
    pub fn renamed(self, rename: impl Fn(&str) -> String) -> Self {
        match self {
            GatewayError::Validation(v) => GatewayError::Validation(v.renamed(rename)),
            GatewayError::PricingUnavailable { reason } => GatewayError::PricingUnavailable {
                reason: match reason.split_once(": ") {
                    Some((field, rest)) if !field.is_empty() && !field.contains(' ') => {
                        format!("{}: {rest}", rename(field))
                    }
                    _ => reason,
                },
            },
            other => other,
        }
    }
}

/// Every way a gateway call can fail, independent of the dialect it arrived in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("{}", auth_message(*.0))]
    Unauthenticated(AuthFailure),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("insufficient credits: this request costs {needed} credits, {available} available")]
    InsufficientCredits { needed: u64, available: i64 },
    #[error("cannot determine pricing: {reason}")]
    PricingUnavailable { reason: String },
    #[error("task not found")]
    NotFound,
    #[error("asset not found")]
    AssetNotFound,
    #[error("no such endpoint")]
    RouteNotFound,
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    #[error("asset storage quota exceeded: {used} of {quota} bytes already used")]
    QuotaExceeded { used: u64, quota: u64 },
    #[error("a request with this Idempotency-Key is still in progress; retry later")]
    IdempotencyInFlight,
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    #[error("invalid Idempotency-Key: {0}")]
    IdempotencyKeyInvalid(String),
    #[error("the request body is larger than this endpoint accepts")]
    PayloadTooLarge,
    #[error("rate limit exceeded")]
    RateLimited { retry_after: Duration },
    #[error("task cannot be cancelled in its current state")]
    NotCancellable,
    #[error("task cannot be deleted while it is running; only finished tasks can be deleted")]
    NotDeletable,
    #[error("service temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

fn auth_message(f: AuthFailure) -> &'static str {
    match f {
        AuthFailure::Missing => "missing Authorization header",
        AuthFailure::NotBearer => "Authorization header must be `Bearer <key>`",
        AuthFailure::Invalid => "API key is invalid",
        AuthFailure::Revoked => "API key has been revoked",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renaming_reaches_validation_fields_and_a_pricing_failures_medium() {
        let wire = |f: &str| format!("input.{f}");
        let e = GatewayError::from(ValidationError::invalid("duration", "too long")).renamed(wire);
        assert_eq!(
            e,
            ValidationError::invalid("input.duration", "too long").into()
        );
        let e = GatewayError::PricingUnavailable {
            reason: "reference_video_urls[1]: could not fetch: 404".into(),
        }
        .renamed(wire);
        assert_eq!(
            e.to_string(),
            "cannot determine pricing: input.reference_video_urls[1]: could not fetch: 404"
        );
        let e = GatewayError::PricingUnavailable {
            reason: "the duration of every reference video must be known".into(),
        }
        .renamed(wire);
        assert!(e
            .to_string()
            .ends_with(": the duration of every reference video must be known"));
        assert!(ValidationError::unknown_model("x").is_unknown_model());
    }
}

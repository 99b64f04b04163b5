//! The one error type every dialect maps to its own wire format.

use std::time::Duration;

/// A request field: its name and, in a list, the item's index. Core validation names fields
/// canonically (`reference_image_urls`, index 2); a dialect maps that to its own path
/// (`content[4].image_url`) with [`GatewayError::renamed`], and errors its own parser raises
/// carry its own paths already.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath {
    pub name: String,
    pub index: Option<usize>,
}

impl FieldPath {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            index: None,
        }
    }

    /// Item `index` of the list field `name`.
    pub fn at(name: impl Into<String>, index: usize) -> Self {
        Self {
            name: name.into(),
            index: Some(index),
        }
    }

    /// Whether this is the field `name` (any item of it, for a list).
    pub fn is(&self, name: &str) -> bool {
        self.name == name
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}[{i}]", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Written as its text (`reference_image_urls[0]`), as the estimate shows each medium.
impl serde::Serialize for FieldPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl From<&str> for FieldPath {
    fn from(name: &str) -> Self {
        FieldPath::new(name)
    }
}

impl From<&String> for FieldPath {
    fn from(name: &String) -> Self {
        FieldPath::new(name.as_str())
    }
}

impl From<String> for FieldPath {
    fn from(name: String) -> Self {
        FieldPath::new(name)
    }
}

/// What a field broke. Rules that name other fields name them as [`FieldPath`]s, so a dialect
/// words them in its own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A check's own words (a range, a format, a parser's message).
    Text(String),
    /// Needs this other field as well.
    Requires(FieldPath),
    /// Cannot be given together with any of these.
    ConflictsWith(Vec<FieldPath>),
}

impl Rule {
    /// Each field a rule mentions, mapped by `name`, in the rule's canonical words.
    pub fn words(&self, name: impl Fn(&FieldPath) -> String) -> String {
        match self {
            Rule::Text(text) => text.clone(),
            Rule::Requires(other) => format!("requires {}", name(other)),
            Rule::ConflictsWith(others) => {
                format!("cannot be combined with {}", either(others, name))
            }
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
fn either(fields: &[FieldPath], name: impl Fn(&FieldPath) -> String) -> String {
    let names: Vec<String> = fields.iter().map(name).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.words(FieldPath::to_string))
    }
}

/// Why a request's content was refused. Field names are canonical; dialects rename them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("request body must be a JSON object")]
    NotAnObject,
    #[error("missing required parameter `{field}`")]
    Missing { field: FieldPath },
    #[error("invalid parameter `{field}`: {rule}")]
    Invalid { field: FieldPath, rule: Rule },
    #[error("unknown parameter `{field}`")]
    UnknownField { field: FieldPath },
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

    /// `field` breaks a rule told in words.
    pub fn invalid(field: impl Into<FieldPath>, reason: &str) -> Self {
        ValidationError::Invalid {
            field: field.into(),
            rule: Rule::Text(reason.to_string()),
        }
    }

    pub fn missing(field: impl Into<FieldPath>) -> Self {
        ValidationError::Missing {
            field: field.into(),
        }
    }

    /// The same error with its fields renamed by `rename` (dialects name fields their own way,
    /// e.g. `input.first_frame_url`), those a rule mentions included. `rename` gets the
    /// canonical path, its index apart.
    pub fn renamed(self, rename: impl Fn(&FieldPath) -> String) -> Self {
        let path = |field: &FieldPath| FieldPath::new(rename(field));
        match self {
            ValidationError::Missing { field } => ValidationError::Missing {
                field: path(&field),
            },
            ValidationError::Invalid { field, rule } => ValidationError::Invalid {
                field: path(&field),
                rule: match rule {
                    Rule::Text(text) => Rule::Text(text),
                    Rule::Requires(other) => Rule::Requires(path(&other)),
                    Rule::ConflictsWith(others) => {
                        Rule::ConflictsWith(others.iter().map(path).collect())
                    }
                },
            },
            ValidationError::UnknownField { field } => ValidationError::UnknownField {
                field: path(&field),
            },
            other => other,
        }
    }

    /// The parameter the error is about, when there is one.
    pub fn field(&self) -> Option<FieldPath> {
        match self {
            ValidationError::Missing { field }
            | ValidationError::Invalid { field, .. }
            | ValidationError::UnknownField { field } => Some(field.clone()),
            ValidationError::ModelNotSupported { .. } => Some(FieldPath::new("model")),
            ValidationError::PromptTooLong { .. } => Some(FieldPath::new("prompt")),
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
    /// The key, or its account, is past its expiry.
    Expired,
}

/// Why an authenticated caller may not do what it asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("requests from {0} are not allowed for this API key")]
    IpNotAllowed(String),
    #[error("model `{0}` is not allowed for this API key")]
    ModelNotAllowed(String),
}

impl GatewayError {
    /// The same error with its fields renamed; see [`ValidationError::renamed`]. A pricing
    /// failure about one medium names that medium's field, renamed too.
    pub fn renamed(self, rename: impl Fn(&FieldPath) -> String) -> Self {
        match self {
            GatewayError::Validation(v) => GatewayError::Validation(v.renamed(rename)),
            GatewayError::PricingUnavailable {
                field: Some(field),
                reason,
            } => GatewayError::PricingUnavailable {
                field: Some(FieldPath::new(rename(&field))),
                reason,
            },
            other => other,
        }
    }

    /// A refusal by a limit, telling the client to wait as long as the refusal says.
    pub fn limited(refusal: crate::accounts::LimitRefusal, now_ms: i64) -> Self {
        let wait = u64::try_from(refusal.retry_after_ms(now_ms).max(1)).unwrap_or(1);
        GatewayError::Limited {
            refusal,
            retry_after: Duration::from_millis(wait),
        }
    }

    /// How long the client should wait before retrying, for the `Retry-After` header. Something
    /// briefly unavailable (the database, or this account's share of media fetches) is worth
    /// retrying after a few seconds.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GatewayError::RateLimited { retry_after }
            | GatewayError::Limited { retry_after, .. } => Some(*retry_after),
            GatewayError::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER),
            _ => None,
        }
    }

    /// A price that cannot be known, not about one medium.
    pub fn pricing_unavailable(reason: impl Into<String>) -> Self {
        GatewayError::PricingUnavailable {
            field: None,
            reason: reason.into(),
        }
    }
}

/// The `Retry-After` of an [`GatewayError::Unavailable`] answer.
pub const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Every way a gateway call can fail, independent of the dialect it arrived in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    #[error("{}", auth_message(*.0))]
    Unauthenticated(AuthFailure),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("insufficient credits: this request costs {needed} credits, {available} available")]
    InsufficientCredits { needed: u64, available: i64 },
    #[error("cannot determine pricing: {}{reason}", field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
    PricingUnavailable {
        /// The medium whose facts are missing, when it is one medium's.
        field: Option<FieldPath>,
        reason: String,
    },
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
    /// A key's or an account's limit or budget refused the request; nothing was created.
    #[error("{refusal}")]
    Limited {
        refusal: crate::accounts::LimitRefusal,
        retry_after: Duration,
    },
    #[error(transparent)]
    Forbidden(#[from] Denial),
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
        AuthFailure::Expired => "API key has expired",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renaming_reaches_validation_fields_rules_and_a_pricing_failures_medium() {
        let wire = |f: &FieldPath| {
            format!("input.{}s", f.name) + &f.index.map(|i| format!("#{i}")).unwrap_or_default()
        };
        let e = GatewayError::from(ValidationError::invalid("duration", "too long")).renamed(wire);
        assert_eq!(
            e,
            ValidationError::invalid("input.durations", "too long").into()
        );
        let e = GatewayError::PricingUnavailable {
            field: Some(FieldPath::at("reference_video_url", 1)),
            reason: "could not fetch: 404".into(),
        }
        .renamed(wire);
        assert_eq!(
            e.to_string(),
            "cannot determine pricing: input.reference_video_urls#1: could not fetch: 404"
        );
        let e = GatewayError::pricing_unavailable(
            "the duration of every reference video must be known",
        )
        .renamed(wire);
        assert_eq!(
            e.to_string(),
            "cannot determine pricing: the duration of every reference video must be known"
        );
        let e = ValidationError::Invalid {
            field: FieldPath::new("first_frame_url"),
            rule: Rule::ConflictsWith(vec![
                FieldPath::new("reference_image_urls"),
                FieldPath::new("reference_video_urls"),
                FieldPath::new("reference_audio_urls"),
            ]),
        };
        assert_eq!(
            e.to_string(),
            "invalid parameter `first_frame_url`: cannot be combined with reference_image_urls, \
             reference_video_urls or reference_audio_urls"
        );
        assert_eq!(
            e.renamed(|f| f.name.to_uppercase()).to_string(),
            "invalid parameter `FIRST_FRAME_URL`: cannot be combined with REFERENCE_IMAGE_URLS, \
             REFERENCE_VIDEO_URLS or REFERENCE_AUDIO_URLS"
        );
        assert!(ValidationError::unknown_model("x").is_unknown_model());
    }
}

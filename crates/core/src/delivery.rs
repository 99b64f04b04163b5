//! Whether a request can be delivered as asked. Some upstream APIs lack a feature the canonical
//! request has (HiAPI has no web search, APIXO needs a prompt): the gateway asks before any
//! money moves, and routing asks again when it picks an account, so a task only ever goes to an
//! account that can carry it.

use crate::{GenerationRequest, ValidationError};

/// A feature of a request that an API cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inexpressible {
    /// The canonical field that asks for it.
    pub field: &'static str,
    pub reason: String,
}

impl Inexpressible {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl From<Inexpressible> for ValidationError {
    fn from(value: Inexpressible) -> Self {
        ValidationError::invalid(value.field, &value.reason)
    }
}

/// Answers whether some account that serves the request's model can carry it.
pub trait DeliveryCheck: Send + Sync {
    /// `Err` names why none can (one account's reason, when several refuse).
    fn check(&self, request: &GenerationRequest) -> Result<(), Inexpressible>;
}

//! seedgate's canonical core.
//!
//! Every dialect turns its wire format into a [`request::RequestDraft`]; the core validates it
//! against the [`catalog::Catalog`] into a [`request::GenerationRequest`], prices it
//! ([`pricing`]), and tracks the resulting [`task::Task`] through its state machine. The
//! [`ledger`] module holds the money rules and the invariant checker. Nothing here does I/O.

pub mod accounts;
pub mod catalog;
pub mod clock;
pub mod delivery;
pub mod error;
pub mod ids;
pub mod ledger;
pub mod media;
pub mod media_links;
pub mod output_size;
pub mod pricing;
pub mod records;
pub mod request;
pub mod task;
pub mod text;
pub mod timeline;
pub mod upstream;
pub mod usage;
pub mod webhook;

pub use catalog::{Catalog, ModelSpec};
pub use delivery::{DeliveryCheck, Inexpressible};
pub use error::{Denial, FieldPath, GatewayError, Rule, ValidationError};
pub use ids::{AccountId, ApiKeyId, RequestId, TaskId};
pub use request::{AspectRatio, GenerationRequest, Mode, RequestDraft, Resolution};
pub use task::{FailureKind, Task, TaskError, TaskOutput, TaskStatus};

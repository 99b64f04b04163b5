//! Client dialects. Each module is one wire format: its wire structs, their conversion to a
//! canonical [`seedgate_core::RequestDraft`] and from a canonical [`seedgate_core::Task`], its
//! error mapping and its routes. Everything else is shared through [`common`], so a new dialect
//! is a new file in the same shape as [`reapi`].

pub mod common;
pub mod reapi;

use axum::Router;
use seedgate_gateway::Gateway;
use std::sync::Arc;

/// Shared state of every dialect's handlers.
pub type AppState = Arc<Gateway>;

/// Limits the HTTP layer applies per route.
#[derive(Debug, Clone, Copy)]
pub struct RouteLimits {
    /// Largest asset upload, in bytes.
    pub max_upload_bytes: usize,
}

/// Every dialect's routes, merged.
pub fn routes(limits: RouteLimits) -> Router<AppState> {
    Router::new().merge(reapi::routes(limits))
}

//! reAPI (reapi.ai): `POST /api/v1/videos/generations`, `GET /api/v1/tasks/{id}`.
//!
//! Envelope: the task object; errors `{"error":{"code":N,"message":…,"request_id":"req_…"}}` with a
//! five-digit code whose first digit is its category, and the HTTP status of that category.
//! Codes seedgate adds (reAPI does not enforce Idempotency-Key): 20008 (409, key in use by a
//! request still in flight) and 20009 (422, key reused with a different body).
//!
//! Expired media (retention): reAPI has no expiry field and surfaces what went wrong with a task
//! under `error` (seed 000, "Output"/"Errors"), so such a task stays `completed` with
//! `output.video_urls: []` and `error: {code: 80008, message: "… media expired at <time> …"}`.

mod convert;
mod errors;
#[cfg(test)]
mod round_trip;
mod routes;
mod wire;

// One public surface per dialect (`seedgate_dialects::reapi::…`), whichever file defines
// the item.
pub use convert::*;
pub use errors::*;
pub use routes::*;
pub use wire::*;

use crate::common::{self, Dialect};
use axum::http::HeaderMap;
use axum::response::Response;
use seedgate_core::error::{AuthFailure, GatewayError};
use seedgate_core::RequestId;

pub struct ReApi;

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: ReApi::NAME,
    path_prefixes: &["/"],
    tag: "reAPI",
    tag_description: "reapi.ai: `/api/v1/videos/generations`, `/api/v1/tasks/{id}`",
    routes,
    error_response: <ReApi as Dialect>::error_response,
    error_schema: "ReApiErrorEnvelope",
    callback_body: Some(|task, _| crate::callbacks::json(&task_object(task))),
    hiapi_signature: false,
};

impl Dialect for ReApi {
    const NAME: &'static str = "reapi";

    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
        errors::error_response(error, request_id)
    }
}

//! HiAPI (hiapi.ai): the unified async task API. `POST /v1/tasks` creates, `GET /v1/tasks/{id}`
//! reads one task, `GET /v1/tasks?page=&size=` lists the key's tasks, newest first.
//!
//! Create: `{"model":"seedance-2.0-mini","input":{…},"callback":{"url":"https://…","when":"final"}}`
//! (the model name resolves through the catalog, so its aliases work too). `input` and
//! `input.prompt` are required (HiAPI marks the prompt required even with a first frame).
//! HiAPI's defaults: `generate_audio` true (the canonical default is false, so this dialect sets it
//! when absent), `aspect_ratio` 16:9, `resolution` 720p, `duration` 5 (the catalog's own).
//! `callback.url` is required when `callback` is given; `callback.when` accepts only `final` (the
//! default). Answer: `{"code":200,"message":"success","data":{"taskId":"task_…"}}`; task ids are
//! seedgate's (`task_<ulid>`), shared by every dialect, not HiAPI's `tk-hiapi-…`.
//!
//! Task (`data` of `GET /v1/tasks/{id}`): `taskId`, `model` (as requested), `status`, `created`
//! and `completed` (Unix seconds; `completed` is 0 until the task is terminal), `output` (only on
//! `success`: `[{url, type, expireAt}]`, `type` `video`, plus `last_frame` when the task asked
//! for one) and `error` (only on `fail`: `{code, message}`).
//!
//! Callback body: exactly the `data` object of `GET /v1/tasks/{id}` ([`task_data`]), signed with
//! HiAPI's `X-HiAPI-Timestamp` / `X-HiAPI-Signature` headers when a signing key is set.
//!
//! Statuses: queued → `queued`, running → `handling`, succeeded → `success`, failed and cancelled
//! → `fail`. `archiving` is never reported: seedgate stores the result before a task counts as
//! succeeded, so there is no visible "done, output being prepared" phase.
//!
//! `expireAt`: while the media are kept, the promise HiAPI's clients plan around: the task's
//! finish time + 24 h, in Unix seconds. Once retention expired them (`output[]` items
//! `{url, type, expireAt}`, upstream-contracts §3.2), the task stays `success` and keeps its items
//! (`video`, and `last_frame` when asked for) with `url: ""` and `expireAt` the moment they
//! expired, in the past; no `error` (HiAPI's is only on `fail`).
//!
//! A failed task's `error.code`, by failure kind: moderation `CONTENT_MODERATION`, invalid input
//! `INVALID_INPUT`, upstream rate limiting `UPSTREAM_RATE_LIMITED`, upstream failure
//! `UPSTREAM_ERROR`, timeout `TIMEOUT`, expiry `EXPIRED`, seedgate's own failure
//! `INTERNAL_ERROR`; a task cancelled in another dialect shows as `fail` with `CANCELLED`.
//!
//! Errors: `{"code":<HTTP status>,"message":…,"data":null,"error_code":"<ENUM>"}`, the HTTP
//! status equal to `code`. The `error_code` enum:
//!
//! | error_code | HTTP | when |
//! |---|---|---|
//! | `UNAUTHORIZED` | 401 | no, malformed, unknown or revoked API key |
//! | `INVALID_REQUEST` | 400 | body not a JSON object, a missing, unknown or invalid field, prompt too long, a bad `Idempotency-Key` header |
//! | `MODEL_NOT_SUPPORTED` | 400 | unknown model, or one this gateway does not serve yet |
//! | `MEDIA_UNREADABLE` | 400 | a referenced medium could not be fetched or read, so it cannot be priced |
//! | `INSUFFICIENT_CREDITS` | 402 | the balance does not cover the request |
//! | `TASK_NOT_FOUND` | 404 | unknown task, or another key's |
//! | `ASSET_NOT_FOUND` | 404 | unknown asset |
//! | `NOT_FOUND` | 404 | no such endpoint |
//! | `METHOD_NOT_ALLOWED` | 405 | the endpoint does not take this method |
//! | `TASK_STATE_CONFLICT` | 409 | the task cannot be cancelled or deleted in its state |
//! | `IDEMPOTENCY_IN_PROGRESS` | 409 | a request with the same `Idempotency-Key` is still running |
//! | `QUOTA_EXCEEDED` | 413 | asset storage quota used up |
//! | `IDEMPOTENCY_CONFLICT` | 422 | the `Idempotency-Key` was used with a different body |
//! | `RATE_LIMITED` | 429 | too many requests (`Retry-After` header) |
//! | `INTERNAL_ERROR` | 500 | seedgate failed |
//! | `SERVICE_UNAVAILABLE` | 503 | a dependency is down; retry with backoff |
//!
//! Messages name fields as HiAPI does: `input.first_frame_url`, `input.reference_image_urls[1]`,
//! `callback.url`.

mod convert;
mod errors;
#[cfg(test)]
mod round_trip;
mod routes;
mod wire;

// One public surface per dialect (`seedgate_dialects::hiapi::…`), whichever file defines
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

pub struct HiApi;

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: HiApi::NAME,
    path_prefixes: &["/v1/"],
    tag: "HiAPI",
    tag_description: "hiapi.ai: `/v1/tasks`",
    routes,
    error_response: <HiApi as Dialect>::error_response,
    error_schema: "HiApiErrorEnvelope",
    callback_body: Some(|task, _| crate::callbacks::json(&task_data(task))),
    hiapi_signature: true,
};

impl Dialect for HiApi {
    const NAME: &'static str = "hiapi";

    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
        errors::error_response(error, request_id)
    }
}

//! APIXO (apixo.ai): `POST /api/v1/generateTask/{model}`, `GET /api/v1/statusTask/{model}?taskId=`.
//!
//! Envelope: `{"code":200,"message":"success","data":{…}}`; errors
//! `{"code":<HTTP status>,"message":"<category>","data":{"error":"<detail>"}}` with the same HTTP
//! status, e.g. `{"code":400,"message":"Invalid request","data":{"error":"Missing required field:
//! input.prompt"}}`.
//!
//! The request names its mode explicitly (`input.mode`):
//!
//! | `input.mode` | media | canonical request |
//! |---|---|---|
//! | `text-to-video` | none (any media is refused) | t2v |
//! | `first_and_last_frames` | `image_urls`, 1–2 (no video or audio) | i2v: `first_frame_url` (+ `last_frame_url`) |
//! | `omni_reference` | `image_urls` ≤ 9, `video_urls` ≤ 3, `audio_urls` ≤ 3, not audio alone | r2v; with no media at all, t2v (the seed requires no media for this mode) |
//!
//! Defaults are APIXO's, not the catalog's: `resolution` 720p, `duration` 5, `aspect_ratio`
//! `auto` (canonical `adaptive`: the first image's shape, 16:9 without images), `sound` true,
//! `web_search` false. `resolution` is trimmed and lower-cased; `duration` may be a numeric
//! string (`"10"`); `image_urls` (and, leniently, `video_urls`/`audio_urls`) items may be
//! `{"url":"…"}` objects, normalised to their URL.
//!
//! `request_type` is `async` (the default) or `callback`; `callback` requires `callback_url`
//! (an absolute http(s) URL), which is ignored for `async` requests (APIXO delivers callbacks
//! only in callback mode). `provider` (`auto`, `value`, `official`) is accepted and ignored:
//! seedgate has one route.
//!
//! HTTP statuses: 400 invalid request (including media that cannot be fetched or measured),
//! 401 missing or invalid key, 402 insufficient credits, 403 a model this gateway does not serve
//! (unknown, or known but not available: "key or route cannot access the model"), 404 task not
//! found, 409/422 Idempotency-Key in use / reused with another body (seedgate additions), 429 rate
//! limit, 500 internal error, 503 service unavailable (storage or database down). 502 and 504
//! are never answered synchronously: seedgate talks to the upstream after the submit answer, so
//! upstream errors and timeouts show in the task's `failCode` (see [`fail_code`]).
//!
//! Expired media (retention): "Result URLs are temporary" (seed 004) and APIXO has no expiry
//! field, so such a task stays `success` with `resultJson` `{"resultUrls":[]}`, no `failCode`,
//! and `failMsg` saying when its result expired.
//!
//! `statusTask/{model}` answers only for tasks of that model (aliases resolved): a task polled
//! under another model's path is 404 "task not found", exactly like an unknown `taskId`.

mod convert;
mod errors;
mod routes;
mod wire;

#[cfg(test)]
mod round_trip;

// One public surface per dialect (`seedgate_dialects::apixo::…`), whichever file defines
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

pub struct Apixo;

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: Apixo::NAME,
    path_prefixes: &["/api/v1/generateTask", "/api/v1/statusTask"],
    tag: "APIXO",
    tag_description: "apixo.ai: `/api/v1/generateTask/{model}`, `/api/v1/statusTask/{model}`",
    routes,
    error_response: <Apixo as Dialect>::error_response,
    error_schema: "ApixoErrorEnvelope",
    callback_body: Some(|task, _| crate::callbacks::json(&status_response(task))),
    hiapi_signature: false,
};

impl Dialect for Apixo {
    const NAME: &'static str = "apixo";

    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
        errors::error_response(error, request_id)
    }
}

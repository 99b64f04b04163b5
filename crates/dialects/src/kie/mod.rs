//! Kie (kie.ai) market jobs: `POST /api/v1/jobs/createTask`,
//! `GET /api/v1/jobs/recordInfo?taskId=`.
//!
//! Create: `{"model":"bytedance/seedance-2-mini","callBackUrl":"https://…","input":{…}}` (the
//! model name resolves through the catalog, so `seedance-2.0-mini` and the other aliases work
//! too; note the camelCase top-level `callBackUrl`). `input` is required. Kie's defaults:
//! `generate_audio` true and `nsfw_checker` false (both differ from the canonical defaults, so
//! this dialect sets them when absent), `aspect_ratio` 16:9, `resolution` 720p, `duration` 5,
//! `web_search` false. Media fields take URLs or `asset://{assetId}`. Answer:
//! `{"code":200,"msg":"success","data":{"taskId":"task_…"}}` (`msg`, not `message`, on create).
//!
//! recordInfo: `{"code":200,"message":"success","data":{…}}` with `taskId`, `model` (as
//! requested), `state`, `param`, `resultJson`, `failCode`, `failMsg`, `createTime`,
//! `updateTime`, `completeTime` and `costTime`. Times are Unix **milliseconds**. `completeTime`
//! and `costTime` are `null` until the task is terminal; `costTime` is then the time from
//! creation to completion. `resultJson` is a JSON **string**: `{"resultUrls":[…]}` on success,
//! `""` otherwise. `failCode` and `failMsg` are `""` unless the task failed, or (`failMsg` only)
//! its media expired.
//!
//! Expired media (retention): Kie's result URLs "typically expire after 24 hours"
//! (upstream-contracts §3.5) and Kie has no expiry field, so such a task stays `success` with
//! `resultJson` `{"resultUrls":[]}`, `failCode` `""` and `failMsg` saying when its result expired.
//!
//! `param` is a JSON **string** of the create body. seedgate does not keep request bodies, so it
//! is a reconstruction from the validated request: `model` as the client sent it, `callBackUrl`
//! when one was given, and `input` with every value the task runs with (defaults filled in,
//! `asset://` references replaced by the asset's URL, URLs in normalised form). A task created
//! in another dialect gets the same Kie-shaped reconstruction.
//!
//! States: queued → `waiting` (`queuing` is not used: seedgate has one queue), running →
//! `generating`, succeeded → `success`, failed and cancelled → `fail`.
//!
//! `failCode`, by failure kind, in the style of Kie's numeric task codes: moderation `"400"`
//! (content flagged by the safety checks), invalid input `"422"`, upstream rate limiting `"429"`,
//! seedgate's own failure `"500"`, upstream generation failure `"501"`, timeout `"504"`, expiry
//! `"410"`; a task cancelled in another dialect fails with `"499"`.
//!
//! Callback body ([`record_info_response`]): exactly the recordInfo answer a poll gets.
//!
//! Errors: `{"code":<HTTP status>,"msg":…,"data":null}`, the HTTP status equal to `code`. As in
//! the Kie family (CRUN's documented 422), a request that is JSON but invalid is **422**
//! (missing, unknown or invalid field, unknown model, unreadable media, a bad `Idempotency-Key`
//! header, reuse of a key with another body); a body that is not a JSON object is 400. 401 bad or
//! missing key, 402 insufficient credits, 404 unknown task (or another key's) or endpoint, 405
//! wrong method, 409 an `Idempotency-Key` still in flight (or a task in the wrong state), 413
//! asset quota, 429 rate limited (`Retry-After`), 500 internal, 503 unavailable. Messages name
//! fields as Kie does: `input.first_frame_url`, `callBackUrl`.

mod convert;
mod errors;
#[cfg(test)]
mod round_trip;
mod routes;
mod wire;

// One public surface per dialect (`seedgate_dialects::kie::…`), whichever file defines
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

pub struct Kie;

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: Kie::NAME,
    path_prefixes: &["/api/v1/jobs/"],
    tag: "Kie",
    tag_description: "kie.ai: `/api/v1/jobs/*`",
    routes,
    error_response: <Kie as Dialect>::error_response,
    error_schema: "KieErrorEnvelope",
    callback_body: Some(|task, _| crate::callbacks::json(&record_info_response(task))),
    hiapi_signature: false,
};

impl Dialect for Kie {
    const NAME: &'static str = "kie";

    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
        errors::error_response(error, request_id)
    }
}

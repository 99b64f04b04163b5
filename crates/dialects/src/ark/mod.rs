//! BytePlus ModelArk / Volcengine Ark, the official content-generation task API
//! (upstream-contracts.md §1): `POST /api/v3/contents/generations/tasks`,
//! `GET /api/v3/contents/generations/tasks/{id}`, `GET /api/v3/contents/generations/tasks`
//! (list) and `DELETE /api/v3/contents/generations/tasks/{id}` (cancel a queued task, or delete
//! a finished one). Bearer auth. Ark SDK clients work unchanged by pointing their base URL at
//! seedgate's `/api/v3`.
//!
//! Envelope: bare objects; create answers only `{"id": …}`. Errors are
//! `{"error":{"code":"<string>","message":"… Request ID: req_…","param"?,"type"}}` with Ark's
//! HTTP statuses (§1.6):
//!
//! | HTTP | type | code | when |
//! |---|---|---|---|
//! | 400 | BadRequest | `MissingParameter` | a required field is missing (`param` names it) |
//! | 400 | BadRequest | `InvalidParameter` | a bad value, unknown field, body not a JSON object, media that cannot be fetched, a bad Idempotency-Key (`param` names the field, in Ark's paths: `content[1].image_url`) |
//! | 401 | Unauthorized | `AuthenticationError` | missing, malformed, unknown or revoked key |
//! | 403 | Forbidden | `AccountOverdueError` | not enough credits (Ark's "account in arrears") |
//! | 403 | Forbidden | `OperationDenied.UnsupportedPhase` | DELETE of a running or cancelled task |
//! | 403 | Forbidden | `OperationDenied.FileQuotaExceeded` | asset storage quota (not reachable from Ark routes) |
//! | 404 | NotFound | `InvalidEndpointOrModel.NotFound` | unknown model |
//! | 404 | NotFound | `ModelNotOpen` | a model seedgate knows but does not serve (yet) |
//! | 404 | NotFound | `NotFound.TaskId` | unknown task, another key's task, a deleted task |
//! | 404 | NotFound | `NotFound` | unknown path; 405 `MethodNotAllowed` for a wrong method |
//! | 409 | Conflict | `IdempotencyKeyInUse` | seedgate extension: the same Idempotency-Key is still in flight |
//! | 422 | UnprocessableEntity | `IdempotencyKeyReused` | seedgate extension: the key was used with another body |
//! | 429 | TooManyRequests | `RateLimitExceeded` | rate limited (with `Retry-After`) |
//! | 500 | InternalServerError | `InternalServiceError` | seedgate failed |
//! | 503 | ServiceUnavailable | `ServiceUnavailable` | storage or database unavailable |
//!
//! A failed task's `error.code` by [`FailureKind`] (seedgate's choice; Ark publishes no table for
//! asynchronous failures): moderation → `OutputVideoSensitiveContentDetected`, invalid input →
//! `InvalidParameter`, rate limited upstream → `ServerOverloaded`, upstream error and internal
//! error → `InternalServiceError`, timeout → `ExecutionTimeout`. A task that expired
//! ([`FailureKind::Expired`]) has status `expired` and `error.code` `TaskExpired`. A cancelled
//! task has `error: null`.
//!
//! Expired media (retention): Ark's `content.video_url` "expires 24 h after generation" and Ark
//! keeps records 7 days (§1.7), with no expiry field; a task whose media seedgate's retention
//! expired stays `succeeded` (with `usage`), has no `content`, and `error` says so:
//! `{"code":"MediaExpired","message":"… expired at <time> …"}`.
//!
//! Decisions where Ark and seedgate differ (all refused with `InvalidParameter` naming the
//! field, before anything is charged):
//! - Several `text` items are refused (`content[i]`), not joined: Ark documents one prompt.
//! - Inline media (`data:` URIs) are refused (`content[i].image_url.url`): seedgate fetches
//!   media by URL only. `asset://<id>` of the caller's uploads works. A malformed URL is named
//!   `content[i].<kind>.url`; everything else about a medium (mode mixing, size, length, an
//!   unknown asset) names the item, `content[i].<kind>`, and whole-request limits `content`.
//! - The model is checked first (missing → `MissingParameter`, then unknown or unserved), then
//!   the Ark-only fields, then `content[]`, then the values (by the core).
//! - A single image without `role` is the first frame (Ark's rule); several images without a
//!   role are refused (`content[i].role`).
//! - `duration: -1` (the model chooses) is refused: seedgate prices a task before running it.
//! - `frames` (1.0 models only), `draft: true` and `draft_task` items (1.5 pro only),
//!   `camera_fixed: true` (not 2.x), `service_tier: "flex"` (not 2.x),
//!   `output_format` other than `mp4` and `omni_reference_task_type` (2.5 only) are refused.
//! - Defaults follow Ark, not the catalog: `ratio` defaults to `adaptive` and `generate_audio`
//!   to `true` (§1.4).
//!
//! Honoured: `execution_expires_after` ([3600, 259200]; a task not finished that long after its
//! creation expires: status `expired`, `TaskExpired`, refunded; without it the operator's
//! `upstream.deadline_seconds` applies and GET shows Ark's default 172800), `priority` and
//! `safety_identifier` (at most 64 ASCII characters): kept, read back by GET and passed on to
//! Ark upstreams (priority does not reorder seedgate's own queue), `callback_url` (a callback on
//! each status change: queued, running, and the final one, each the GET body at that status).
//! `model` reads back as Ark's name-version id: the one sent, or the catalog's Ark id when the
//! task was created under another name. Accepted but not acted on: `watermark` (seedgate never
//! watermarks), `service_tier: "default"`, `draft: false`, `camera_fixed: false`; GET shows
//! `service_tier` `default`, `draft` false and `output_format` `mp4`.
//!
//! Retries: the Ark SDKs (`volcenginesdkarkruntime`, `byteplussdkarkruntime`) retry a create
//! whose answer was lost, twice by default, with nothing that tells a retry apart (a fresh
//! `X-Client-Request-Id` each try), so each try would be a new task. Send an `Idempotency-Key`
//! made once per task: `client.content_generation.tasks.create(..., extra_headers={
//! "Idempotency-Key": key})`; the retry then replays the first answer.
//!
//! GET: `seed` is the requested seed, or `-1` when the model chose (the renderer does not report
//! the seed it derived). `ratio` is the actual ratio: `adaptive` is resolved from the output's
//! size once the task succeeded. `usage.completion_tokens` = `total_tokens` =
//! ⌊W × H × (24 × (duration + input video seconds) + 1) / 1024⌋ for succeeded tasks, where
//! input video seconds is the billed (rounded-up) reference-video length: the documented token
//! formula with the observed `+1` frame term (upstream-contracts §1.12; observed, not
//! documented), rounded down.
//!
//! List: `page_num` and `page_size` in [1, 500] (defaults 1 and 10), newest first;
//! `filter.status` is one of queued, running, cancelled, succeeded, failed (`expired` cannot be
//! filtered, as on Ark; `failed` also matches expired tasks, which seedgate stores as failed);
//! `filter.task_ids` may repeat; `filter.model` takes any catalog name; `filter.service_tier`
//! `default` matches every task and `flex` none.

mod convert;
mod errors;
mod list;
#[cfg(test)]
mod round_trip;
mod routes;
mod task;
mod wire;

// One public surface per dialect (`seedgate_dialects::ark::…`), whichever file defines
// the item.
pub use convert::*;
pub use errors::*;
pub use list::*;
pub use routes::*;
pub use task::*;
pub use wire::*;

use crate::common::{self, Dialect};
use axum::http::HeaderMap;
use axum::response::Response;
use seedgate_core::error::{AuthFailure, GatewayError};
use seedgate_core::RequestId;

pub struct Ark;

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: Ark::NAME,
    path_prefixes: &["/api/v3/"],
    tag: "Ark",
    tag_description: "BytePlus ModelArk / Volcengine Ark: `/api/v3/contents/generations/tasks`",
    routes,
    error_response: <Ark as Dialect>::error_response,
    error_schema: "ArkErrorEnvelope",
    callback_body: Some(|task, catalog| crate::callbacks::json(&task_object(task, catalog))),
    hiapi_signature: false,
};

impl Dialect for Ark {
    const NAME: &'static str = "ark";

    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
        errors::error_response(error, request_id)
    }
}

//! The OpenAI-style videos API (`/v1/videos`), the shape new-api, LiteLLM, OpenRouter and the
//! stock `openai` SDK speak (upstream-contracts §3.6). Bearer auth.
//!
//! | Route | |
//! |---|---|
//! | `POST /v1/videos` | multipart/form-data (what the SDK sends) or JSON; answers the video object |
//! | `GET /v1/videos/{id}` | the video object; `openai-poll-after-ms` while not finished |
//! | `GET /v1/videos` | `after`, `limit` (1–100, default 20), `order` (`asc`/`desc`, default `desc`) |
//! | `DELETE /v1/videos/{id}` | `{id, object:"video.deleted", deleted:true}` |
//! | `GET /v1/videos/{id}/content` | `variant=video` (MP4) or `thumbnail` (PNG of the last frame) |
//!
//! Request values:
//! - `model`: any seedgate model name or alias; absent → `seedance-2.0-mini`. OpenAI's own
//!   names (`sora-2`…) are not served and answer `model_not_found`.
//! - `seconds`: `"4"`…`"15"` as a string or an integer; absent → 4 (OpenAI's default, not the
//!   model's 5).
//! - `size`: `WxH`, exactly one of the output sizes of the model (for seedance-2.0-mini: 864x496,
//!   752x560, 640x640, 560x752, 496x864, 992x432 at 480p and 1280x720, 1112x834, 960x960,
//!   834x1112, 720x1280, 1470x630 at 720p); it picks the resolution and aspect ratio. OpenAI's
//!   1280x720 and 720x1280 are among them. Absent → the model's default (1280x720 for
//!   seedance-2.0-mini, not OpenAI's portrait default).
//! - `input_reference`: the first frame. A file part (stored as an asset of the key), or a URL
//!   string, or `{"image_url": "<http(s) or base64 data URL>"}`, or `{"file_id": "asset_…"}` (an
//!   asset uploaded earlier through `POST /api/v1/assets`). In multipart, the object form is
//!   `input_reference[image_url]` / `input_reference[file_id]` (the SDK's encoding).
//!
//! Every task created here asks the renderer for its last frame, which is what the `thumbnail`
//! variant serves; a task created through another dialect without `return_last_frame` has no
//! thumbnail (404 `thumbnail_not_available`). `spritesheet` is not produced (400).
//!
//! The video object: status `queued` | `in_progress` | `completed` | `failed` (a cancelled task
//! reads as `failed` with error code `cancelled`). `progress`: 0 while queued, 100 when
//! completed, 0 when failed; while running an estimate from the elapsed time against
//! [`expected_render_ms`], from 5 up to at most 95. `completed_at`: when the task finished
//! (completed or failed). `expires_at`: `completed_at` + 24 h for a completed video
//! ([`CONTENT_RETENTION_SECONDS`]; seedgate keeps the files until retention expires them, later,
//! so this is a promise, not a deletion schedule), else null. `size` is the size actually
//! produced once known, else the planned one. Task failure codes: see [`failure_code`].
//!
//! Expired media (retention): OpenAI's `expires_at` is "when the downloadable assets expire"
//! (upstream-contracts §3.6), so such a video stays `completed` (`error: null`) with `expires_at`
//! the (past) moment its files expired, and `GET /v1/videos/{id}/content` answers 404
//! `video_expired` ("the video's content has expired…") for either variant instead of bytes.
//!
//! Polling: every non-terminal video object (on create and on retrieve) comes with
//! `openai-poll-after-ms: 1000` ([`POLL_AFTER_MS`], the SDK's own default: seedgate has no better
//! estimate of when a task ends); finished ones carry no such header.
//!
//! DELETE: a finished (completed or failed) video is deleted with its files; a queued one is
//! cancelled (its credits refunded) and then deleted; a running one cannot be stopped: 409
//! `video_in_progress`.
//!
//! Errors: `{"error":{"message","type","param","code"}}` as OpenAI answers them (the request id
//! is in the `x-request-id` header, where the SDK reads it):
//!
//! | HTTP | type | code | when |
//! |---|---|---|---|
//! | 400 | invalid_request_error | `missing_required_parameter`, `invalid_value`, `unknown_parameter`, `invalid_json`, `model_not_found`, `string_above_max_length`, `media_unavailable`, `invalid_idempotency_key`, `unsupported_value` | the request; `param` names the field |
//! | 401 | invalid_request_error | `invalid_api_key` | missing, malformed, unknown or revoked key |
//! | 404 | invalid_request_error | `not_found`, `thumbnail_not_available`, `content_not_found`, `video_expired`, `unknown_url` | |
//! | 405 | invalid_request_error | `method_not_allowed` | |
//! | 409 | invalid_request_error | `video_in_progress`, `video_not_ready`, `video_failed`, `idempotency_key_in_use` | |
//! | 413 | invalid_request_error | `request_too_large`, `upload_quota_exceeded` | |
//! | 422 | invalid_request_error | `idempotency_key_mismatch` | |
//! | 429 | insufficient_quota | `insufficient_quota` | not enough credits (as OpenAI bills); `x-should-retry: false` |
//! | 429 | requests | `rate_limit_exceeded` | with `retry-after` / `retry-after-ms` |
//! | 500 / 503 | server_error | `internal_error` / `service_unavailable` | |
//!
//! Errors the stock SDK would otherwise retry in vain (409s, insufficient_quota) carry
//! `x-should-retry: false`, which the SDK obeys.

mod convert;
mod errors;
mod multipart;
mod routes;
mod wire;

// One public surface per dialect (`seedgate_dialects::openai::…`), whichever file defines
// the item.
pub use convert::*;
pub use errors::*;
pub use multipart::*;
pub use routes::*;
pub use wire::*;

use crate::common::{self, Dialect};
use axum::http::HeaderMap;
use axum::response::Response;
use seedgate_core::error::GatewayError;
use seedgate_core::RequestId;

pub struct OpenAi;

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: OpenAi::NAME,
    path_prefixes: &["/v1/videos"],
    tag: "OpenAI videos",
    tag_description: "The OpenAI-style videos API: `/v1/videos`",
    routes,
    error_response: <OpenAi as Dialect>::error_response,
    error_schema: "OpenAiErrorEnvelope",
    callback_body: None,
    hiapi_signature: false,
};

impl Dialect for OpenAi {
    const NAME: &'static str = "openai";

    fn credential(headers: &HeaderMap) -> Result<String, seedgate_core::error::AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
        errors::error_response(error, request_id)
    }
}

/// The videos API's one wire model, checked from both ends: what the `openai` upstream sends,
/// this dialect accepts as the same request; what this dialect answers, the upstream reads as
/// the same task.
#[cfg(test)]
mod round_trip {
    use super::*;
    use crate::common;
    use seedgate_core::task::{FailureKind, Task, TaskError, TaskOutput, TaskStatus};
    use seedgate_core::{ApiKeyId, Catalog, GenerationRequest, RequestDraft, TaskId};
    use seedgate_providers::upstream::openai::OpenAi as Upstream;
    use seedgate_providers::upstream::{CreateContext, UpstreamApi, UpstreamState};

    fn request(catalog: &Catalog) -> GenerationRequest {
        GenerationRequest::from_draft(
            RequestDraft {
                model: Some("seedance-2.0-mini".into()),
                prompt: Some("a lighthouse at dusk".into()),
                first_frame_url: Some("https://example.com/first.png".into()),
                resolution: Some("720p".into()),
                aspect_ratio: Some("9:16".into()),
                duration: Some(7),
                ..RequestDraft::default()
            },
            catalog,
        )
        .expect("a valid request")
    }

    #[test]
    fn a_request_the_upstream_sends_is_the_same_request_here() {
        let catalog = Catalog::builtin();
        let sent = request(&catalog);
        let call = Upstream
            .create(&CreateContext {
                request: &sent,
                model_id: "seedance-2.0-mini",
                callback_url: None,
            })
            .expect("the API carries this request");
        let body = serde_json::to_vec(&call.body.expect("a JSON body")).expect("JSON");
        let wire: OpenAiCreateVideo = common::parse_json(&body).expect("this dialect accepts it");
        assert_eq!(Some(wire.prompt.as_str()), sent.prompt.as_deref());
        assert_eq!(wire.seconds, Some(i64::from(sent.duration_seconds)));
        let spec = catalog.lookup(&sent.model).expect("in the catalog");
        let (resolution, ratio) =
            map_size(wire.size.as_deref().expect("a size"), spec).expect("one of its sizes");
        assert_eq!(resolution, sent.resolution);
        assert_eq!(ratio.as_str(), sent.aspect_ratio.as_str());
        let reference = parse_reference(wire.input_reference.map(InputReference::into_value))
            .expect("a first frame this dialect reads");
        assert_eq!(
            reference,
            Some(Reference::Url("https://example.com/first.png".into()))
        );
    }

    fn task(status: TaskStatus, error: Option<FailureKind>) -> Task {
        let catalog = Catalog::builtin();
        Task {
            id: TaskId::generate(),
            account_id: seedgate_core::AccountId::generate(),
            api_key_id: ApiKeyId::generate(),
            request: request(&catalog),
            requested_model: "seedance-2.0-mini".into(),
            origin_dialect: "openai".into(),
            status,
            price: seedgate_core::pricing::Price {
                billable_seconds: 7,
                credits: 70,
                micro_usd_per_second: 10_000,
            },
            attempt: 1,
            created_at_ms: 1_700_000_000_000,
            updated_at_ms: 1_700_000_060_000,
            started_at_ms: Some(1_700_000_001_000),
            finished_at_ms: status.is_terminal().then_some(1_700_000_060_000),
            output: (status == TaskStatus::Succeeded).then(|| TaskOutput {
                video_keys: vec!["tasks/t/0.mp4".into()],
                last_frame_key: Some("tasks/t/0.png".into()),
                ..TaskOutput::default()
            }),
            error: error.map(|kind| TaskError {
                kind,
                message: "it went wrong".into(),
            }),
            provider: None,
        }
    }

    /// What the upstream reads from this dialect's view of `task`.
    fn read_back(task: &Task) -> UpstreamState {
        let body = serde_json::to_value(video_object(task, 1_700_000_030_000)).expect("JSON");
        Upstream
            .state(&body)
            .expect("the upstream reads this dialect's answer")
    }

    #[test]
    fn a_task_answered_here_is_the_same_task_upstream() {
        assert_eq!(
            read_back(&task(TaskStatus::Queued, None)),
            UpstreamState::Queued
        );
        assert_eq!(
            read_back(&task(TaskStatus::Running, None)),
            UpstreamState::Running
        );
        let done = task(TaskStatus::Succeeded, None);
        let content = format!("/v1/videos/{}/content", done.id);
        assert_eq!(
            read_back(&done),
            UpstreamState::Succeeded {
                last_frame_url: Some(format!("{content}?variant=thumbnail")),
                video_url: content,
            }
        );
        assert_eq!(
            read_back(&task(TaskStatus::Cancelled, None)),
            UpstreamState::Cancelled
        );
        // Every failure keeps its kind, but seedgate's own internal error, which is an upstream
        // error to whoever fronts it.
        for kind in [
            FailureKind::Moderation,
            FailureKind::InvalidInput,
            FailureKind::RateLimited,
            FailureKind::UpstreamError,
            FailureKind::Timeout,
            FailureKind::Expired,
            FailureKind::Internal,
        ] {
            let expected = match kind {
                FailureKind::Internal => FailureKind::UpstreamError,
                other => other,
            };
            match read_back(&task(TaskStatus::Failed, Some(kind))) {
                UpstreamState::Failed { kind: read, .. } => assert_eq!(read, expected, "{kind:?}"),
                other => panic!("{kind:?} read back as {other:?}"),
            }
        }
        let created = serde_json::to_value(video_object(&done, 0)).expect("JSON");
        assert_eq!(Upstream.created(&created), Ok(done.id.to_string()));
    }
}

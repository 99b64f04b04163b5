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
//! `statusTask/{model}` answers only for tasks of that model (aliases resolved): a task polled
//! under another model's path is 404 "task not found", exactly like an unknown `taskId`.

use crate::common::{self, Auth, Dialect, Reply};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use seedgate_core::error::{AuthFailure, GatewayError, ValidationError};
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{RequestDraft, RequestId, Task};
use seedgate_gateway::StoredResponse;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub struct Apixo;

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate_task))
        .routes(routes!(status_task))
}

/// `POST /api/v1/generateTask/{model}` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ApixoGenerateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct GenerateTaskRequest {
    /// `async` (default: poll `statusTask`) or `callback` (needs `callback_url`).
    pub request_type: Option<String>,
    /// Required when `request_type` is `callback`; ignored otherwise.
    pub callback_url: Option<String>,
    /// Routing strategy: `auto`, `value` or `official` (accepted; seedgate has one route).
    pub provider: Option<String>,
    /// The generation parameters (required).
    pub input: Option<GenerateInput>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ApixoGenerateInput)]
#[serde(deny_unknown_fields)]
pub struct GenerateInput {
    /// `text-to-video`, `first_and_last_frames` or `omni_reference` (required).
    pub mode: Option<String>,
    /// Required, non-empty after trimming.
    pub prompt: Option<String>,
    /// `480p` or `720p` (default 720p); trimmed and lower-cased.
    pub resolution: Option<String>,
    /// Seconds, 4 to 15 (default 5); an integer or a numeric string such as `"10"`.
    #[serde(default, deserialize_with = "common::de::int_or_string")]
    pub duration: Option<i64>,
    /// `auto` (default), `16:9`, `4:3`, `1:1`, `3:4`, `9:16`, `21:9`.
    pub aspect_ratio: Option<String>,
    /// Generate an audio track (default true).
    pub sound: Option<bool>,
    /// Let the model search the web (default false).
    pub web_search: Option<bool>,
    /// `first_and_last_frames`: 1–2 frames; `omni_reference`: up to 9 reference images. Items
    /// are URL strings or `{"url":"…"}` objects.
    #[schema(value_type = Option<Vec<String>>)]
    pub image_urls: Option<Vec<MediaItem>>,
    /// `omni_reference`: up to 3 reference videos, 2–15 s each, 15 s in all.
    #[schema(value_type = Option<Vec<String>>)]
    pub video_urls: Option<Vec<MediaItem>>,
    /// `omni_reference`: up to 3 reference audio files, 2–15 s each, 15 s in all; not alone.
    #[schema(value_type = Option<Vec<String>>)]
    pub audio_urls: Option<Vec<MediaItem>>,
    /// Seedance 1.5 pro only; refused for the models seedgate serves.
    pub fixed_lens: Option<bool>,
}

/// A media URL given as a string or as an object with a non-empty `url` (other keys ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaItem(pub String);

impl<'de> Deserialize<'de> for MediaItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        const EXPECTED: &str = "must be a URL string or an object with a non-empty `url`";
        match Value::deserialize(d)? {
            Value::String(s) => Ok(MediaItem(s)),
            Value::Object(map) => match map.get("url") {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(MediaItem(s.clone())),
                _ => Err(D::Error::custom(EXPECTED)),
            },
            _ => Err(D::Error::custom(EXPECTED)),
        }
    }
}

/// `input.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApixoMode {
    TextToVideo,
    FirstAndLastFrames,
    OmniReference,
}

impl ApixoMode {
    pub const ALL: [ApixoMode; 3] = [
        ApixoMode::TextToVideo,
        ApixoMode::FirstAndLastFrames,
        ApixoMode::OmniReference,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApixoMode::TextToVideo => "text-to-video",
            ApixoMode::FirstAndLastFrames => "first_and_last_frames",
            ApixoMode::OmniReference => "omni_reference",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// APIXO's aspect ratios; `auto` is canonical `adaptive`.
const ASPECT_RATIOS: [&str; 7] = ["auto", "16:9", "4:3", "1:1", "3:4", "9:16", "21:9"];

fn urls(items: Option<Vec<MediaItem>>) -> Option<Vec<String>> {
    items
        .map(|v| v.into_iter().map(|MediaItem(u)| u).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
}

fn not_in_mode(field: &str, mode: ApixoMode, hint: &str) -> ValidationError {
    ValidationError::invalid(
        field,
        &format!("is not accepted in {} mode; {hint}", mode.as_str()),
    )
}

impl GenerateTaskRequest {
    /// The canonical draft for `model` (the path's model). Checks what only APIXO's wire has:
    /// the required `input`, `mode` and `prompt`, `request_type`/`callback_url`, `provider`,
    /// the APIXO aspect-ratio enum and the media each mode takes. Error fields are APIXO's.
    pub fn into_draft(self, model: &str) -> Result<RequestDraft, ValidationError> {
        let input = self.input.ok_or_else(|| ValidationError::Missing {
            field: "input".into(),
        })?;
        let prompt = match input.prompt {
            None => {
                return Err(ValidationError::Missing {
                    field: "input.prompt".into(),
                })
            }
            Some(p) if p.trim().is_empty() => {
                return Err(ValidationError::invalid(
                    "input.prompt",
                    "must be a non-empty string",
                ))
            }
            Some(p) => p.trim().to_string(),
        };
        let mode = match input.mode.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(ValidationError::Missing {
                    field: "input.mode".into(),
                })
            }
            Some(m) => ApixoMode::parse(m).ok_or_else(|| {
                ValidationError::invalid(
                    "input.mode",
                    "must be one of text-to-video, first_and_last_frames, omni_reference",
                )
            })?,
        };
        let callback_url = match self.request_type.as_deref().map(str::trim) {
            None | Some("") | Some("async") => None,
            Some("callback") => match self.callback_url.as_deref().map(str::trim) {
                Some(url) if !url.is_empty() => Some(url.to_string()),
                _ => {
                    return Err(ValidationError::Missing {
                        field: "callback_url".into(),
                    })
                }
            },
            Some(_) => {
                return Err(ValidationError::invalid(
                    "request_type",
                    "must be async or callback",
                ))
            }
        };
        match self.provider.as_deref().map(str::trim) {
            None | Some("auto") | Some("value") | Some("official") => {}
            Some(_) => {
                return Err(ValidationError::invalid(
                    "provider",
                    "must be one of auto, value, official",
                ))
            }
        }
        if input.fixed_lens.is_some() {
            return Err(ValidationError::invalid(
                "input.fixed_lens",
                &format!("applies only to seedance-1-5-pro, not {model}"),
            ));
        }
        let aspect_ratio = match input.aspect_ratio.as_deref().map(str::trim) {
            None | Some("") | Some("auto") => "adaptive".to_string(),
            Some(r) if ASPECT_RATIOS.contains(&r) => r.to_string(),
            Some(_) => {
                return Err(ValidationError::invalid(
                    "input.aspect_ratio",
                    &format!("must be one of {}", ASPECT_RATIOS.join(", ")),
                ))
            }
        };
        let resolution = input
            .resolution
            .map(|r| r.trim().to_ascii_lowercase())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "720p".to_string());

        let images = urls(input.image_urls);
        let videos = urls(input.video_urls);
        let audios = urls(input.audio_urls);
        let mut draft = RequestDraft {
            model: Some(model.to_string()),
            prompt: Some(prompt),
            generate_audio: Some(input.sound.unwrap_or(true)),
            resolution: Some(resolution),
            aspect_ratio: Some(aspect_ratio),
            duration: Some(input.duration.unwrap_or(5)),
            web_search: Some(input.web_search.unwrap_or(false)),
            callback_url,
            ..RequestDraft::default()
        };
        match mode {
            ApixoMode::TextToVideo => {
                let hint = "use first_and_last_frames or omni_reference";
                if images.is_some() {
                    return Err(not_in_mode("input.image_urls", mode, hint));
                }
                if videos.is_some() {
                    return Err(not_in_mode("input.video_urls", mode, "use omni_reference"));
                }
                if audios.is_some() {
                    return Err(not_in_mode("input.audio_urls", mode, "use omni_reference"));
                }
                draft.explicit_mode = Some(seedgate_core::Mode::T2v);
            }
            ApixoMode::FirstAndLastFrames => {
                if videos.is_some() {
                    return Err(not_in_mode("input.video_urls", mode, "use omni_reference"));
                }
                if audios.is_some() {
                    return Err(not_in_mode("input.audio_urls", mode, "use omni_reference"));
                }
                let images = match images {
                    None => {
                        return Err(ValidationError::Missing {
                            field: "input.image_urls".into(),
                        })
                    }
                    Some(i) if i.len() > 2 => {
                        return Err(ValidationError::invalid(
                            "input.image_urls",
                            &format!(
                                "takes 1 or 2 images in first_and_last_frames mode, got {}",
                                i.len()
                            ),
                        ))
                    }
                    Some(i) => i,
                };
                let mut frames = images.into_iter();
                draft.first_frame_url = frames.next();
                draft.last_frame_url = frames.next();
                draft.explicit_mode = Some(seedgate_core::Mode::I2v);
            }
            ApixoMode::OmniReference => {
                // With no media at all the request is a plain text-to-video one (the seed
                // requires no media for this mode).
                if images.is_some() || videos.is_some() || audios.is_some() {
                    draft.explicit_mode = Some(seedgate_core::Mode::R2v);
                }
                draft.reference_image_urls = images;
                draft.reference_video_urls = videos;
                draft.reference_audio_urls = audios;
            }
        }
        Ok(draft)
    }
}

/// APIXO's name for a canonical field (possibly indexed: `reference_image_urls[2]`).
pub fn wire_field(canonical: &str) -> String {
    let (base, index) = match canonical.find('[') {
        Some(i) => canonical.split_at(i),
        None => (canonical, ""),
    };
    match base {
        "first_frame_url" => "input.image_urls[0]".to_string(),
        "last_frame_url" => "input.image_urls[1]".to_string(),
        "reference_image_urls" => format!("input.image_urls{index}"),
        "reference_video_urls" => format!("input.video_urls{index}"),
        "reference_audio_urls" => format!("input.audio_urls{index}"),
        "generate_audio" => format!("input.sound{index}"),
        "prompt" | "resolution" | "aspect_ratio" | "duration" | "web_search" | "mode" => {
            format!("input.{canonical}")
        }
        _ => canonical.to_string(),
    }
}

/// A gateway error with canonical field names replaced by APIXO's (also in a pricing error's
/// `field: reason` text).
fn wire_error(error: GatewayError) -> GatewayError {
    error.renamed(wire_field)
}

/// Parses a `generateTask` body for `model`; also returns the parsed JSON for fingerprinting.
pub fn parse_generate(body: &[u8], model: &str) -> Result<(RequestDraft, Value), ValidationError> {
    let (wire, json): (GenerateTaskRequest, Value) = common::parse_json_keeping(body)?;
    Ok((wire.into_draft(model)?, json))
}

/// `{code, message, data}` with `data.taskId`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApixoGenerateTaskResponse)]
pub struct GenerateTaskResponse {
    /// 200.
    pub code: u16,
    /// `success`.
    pub message: String,
    pub data: TaskIdData,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApixoTaskIdData)]
#[serde(rename_all = "camelCase")]
pub struct TaskIdData {
    pub task_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApixoStatusTaskResponse)]
pub struct StatusTaskResponse {
    /// 200.
    pub code: u16,
    /// `success`.
    pub message: String,
    pub data: StatusData,
}

/// A task as APIXO reports it. Which fields appear depends on `state`: `pending` and
/// `processing` carry `taskId`, `state`, `createTime`; `success` adds `resultJson`,
/// `completeTime` and `costTime`; `failed` adds `failCode`, `failMsg` and `completeTime`.
#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ApixoStatusData)]
#[serde(rename_all = "camelCase")]
pub struct StatusData {
    pub task_id: String,
    /// `pending`, `processing`, `success` or `failed`.
    #[schema(value_type = String)]
    pub state: &'static str,
    /// A JSON string: `{"resultUrls":["https://…mp4"]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_json: Option<String>,
    /// See [`fail_code`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_msg: Option<String>,
    /// Unix milliseconds.
    pub create_time: i64,
    /// Unix milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete_time: Option<i64>,
    /// `completeTime − createTime`, milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_time: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultJson<'a> {
    result_urls: &'a [String],
}

/// Every APIXO error: `code` is the HTTP status.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApixoErrorEnvelope)]
pub struct ErrorEnvelope {
    pub code: u16,
    /// The category: `Invalid request`, `Unauthorized`, …
    pub message: String,
    pub data: ErrorData,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApixoErrorData)]
pub struct ErrorData {
    /// What exactly was wrong, e.g. `Missing required field: input.prompt`.
    pub error: String,
}

/// The `failCode` of a failed task:
///
/// | failure | `failCode` |
/// |---|---|
/// | moderation | `SensitiveContent` |
/// | invalid input, about an image | `ImageFormatIncorrect` |
/// | invalid input, otherwise | `PromptInvalid` |
/// | rate limited | `RateLimited` |
/// | timeout, expired | `Timeout` |
/// | upstream error | `StreamError` |
/// | seedgate's own failure | `Unknown error` |
/// | cancelled (another dialect's cancel) | `Cancelled` |
pub fn fail_code(kind: FailureKind, message: &str) -> &'static str {
    match kind {
        FailureKind::Moderation => "SensitiveContent",
        FailureKind::InvalidInput if message.to_ascii_lowercase().contains("image") => {
            "ImageFormatIncorrect"
        }
        FailureKind::InvalidInput => "PromptInvalid",
        FailureKind::RateLimited => "RateLimited",
        FailureKind::Timeout | FailureKind::Expired => "Timeout",
        FailureKind::UpstreamError => "StreamError",
        FailureKind::Internal => "Unknown error",
    }
}

/// The APIXO view of a task.
pub fn status_data(task: &Task) -> StatusData {
    let terminal = task.status.is_terminal();
    let complete_time = if terminal {
        Some(task.finished_at_ms.unwrap_or(task.updated_at_ms))
    } else {
        None
    };
    let mut data = StatusData {
        task_id: task.id.to_string(),
        state: match task.status {
            TaskStatus::Queued => "pending",
            TaskStatus::Running => "processing",
            TaskStatus::Succeeded => "success",
            TaskStatus::Failed | TaskStatus::Cancelled => "failed",
        },
        result_json: None,
        fail_code: None,
        fail_msg: None,
        create_time: task.created_at_ms,
        complete_time,
        cost_time: None,
    };
    match task.status {
        TaskStatus::Succeeded => {
            let urls = task
                .output
                .as_ref()
                .map(|o| o.video_urls.as_slice())
                .unwrap_or_default();
            data.result_json = serde_json::to_string(&ResultJson { result_urls: urls }).ok();
            data.cost_time = complete_time.map(|c| (c - task.created_at_ms).max(0));
        }
        TaskStatus::Failed => {
            let (code, message) = match &task.error {
                Some(e) => (fail_code(e.kind, &e.message), e.message.clone()),
                None => ("Unknown error", "task failed".to_string()),
            };
            data.fail_code = Some(code.to_string());
            data.fail_msg = Some(message);
        }
        TaskStatus::Cancelled => {
            data.fail_code = Some("Cancelled".into());
            data.fail_msg = Some("task was cancelled; credits refunded".into());
        }
        TaskStatus::Queued | TaskStatus::Running => {}
    }
    data
}

/// The whole `statusTask` answer for a task; also the body of an APIXO callback, which the seed
/// says has "the same top-level shape as status polling".
pub fn status_response(task: &Task) -> StatusTaskResponse {
    StatusTaskResponse {
        code: 200,
        message: "success".into(),
        data: status_data(task),
    }
}

/// HTTP status and category message of a gateway error.
pub fn error_status(error: &GatewayError) -> (StatusCode, &'static str) {
    use StatusCode as S;
    match error {
        GatewayError::Unauthenticated(_) => (S::UNAUTHORIZED, "Unauthorized"),
        GatewayError::Validation(ValidationError::ModelNotSupported { .. }) => {
            (S::FORBIDDEN, "Model not accessible")
        }
        GatewayError::Validation(_)
        | GatewayError::PricingUnavailable { .. }
        | GatewayError::IdempotencyKeyInvalid(_)
        | GatewayError::NotCancellable
        | GatewayError::NotDeletable => (S::BAD_REQUEST, "Invalid request"),
        GatewayError::InsufficientCredits { .. } => (S::PAYMENT_REQUIRED, "Insufficient balance"),
        GatewayError::QuotaExceeded { .. } => (S::PAYMENT_REQUIRED, "Quota exceeded"),
        GatewayError::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "Payload too large"),
        GatewayError::NotFound => (S::NOT_FOUND, "Task not found"),
        GatewayError::AssetNotFound | GatewayError::RouteNotFound => (S::NOT_FOUND, "Not found"),
        GatewayError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "Method not allowed"),
        GatewayError::IdempotencyInFlight => (S::CONFLICT, "Conflict"),
        GatewayError::IdempotencyMismatch => (S::UNPROCESSABLE_ENTITY, "Idempotency key reused"),
        GatewayError::RateLimited { .. } => (S::TOO_MANY_REQUESTS, "Rate limit exceeded"),
        GatewayError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "Internal server error"),
        GatewayError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "Service unavailable"),
    }
}

/// The `data.error` detail: APIXO's wording for a missing field, the gateway's otherwise.
fn error_detail(error: &GatewayError) -> String {
    match error {
        GatewayError::Validation(ValidationError::Missing { field }) => {
            format!("Missing required field: {field}")
        }
        other => other.to_string(),
    }
}

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: Apixo::NAME,
    path_prefixes: &["/api/v1/generateTask", "/api/v1/statusTask"],
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

    fn error_response(error: &GatewayError, _request_id: &RequestId) -> Response {
        let (status, message) = error_status(error);
        let envelope = ErrorEnvelope {
            code: status.as_u16(),
            message: message.to_string(),
            data: ErrorData {
                error: error_detail(error),
            },
        };
        let mut response = common::json_response(status, &envelope);
        common::with_retry_after(&mut response, error);
        response
    }
}

fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(
        200,
        &GenerateTaskResponse {
            code: 200,
            message: "success".into(),
            data: TaskIdData {
                task_id: task.id.to_string(),
            },
        },
    )
}

/// Submit a generation task.
#[utoipa::path(post, path = "/api/v1/generateTask/{model}", tag = "APIXO",
    request_body = GenerateTaskRequest,
    params(
        ("model" = String, Path, description = "`seedance-2-0-mini` (or another name of it)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses((status = 200, description = "The task was accepted", body = GenerateTaskResponse),
        (status = "4XX", body = ErrorEnvelope), (status = "5XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn generate_task(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Apixo>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Apixo> {
    gateway.catalog().resolve_available(&model)?;
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    let (draft, json) = parse_generate(&body, &model)?;
    Ok(common::submit::<Apixo>(
        &gateway,
        &principal,
        &headers,
        &format!("/api/v1/generateTask/{model}"),
        &json,
        draft,
        &render_created,
    )
    .await
    .map_err(wire_error)?)
}

/// Poll a task (any dialect's task of the same key and model).
#[utoipa::path(get, path = "/api/v1/statusTask/{model}", tag = "APIXO",
    params(
        ("model" = String, Path, description = "The task's model (or another name of it)"),
        ("taskId" = String, Query, description = "The `taskId` `generateTask` returned")),
    responses((status = 200, body = StatusTaskResponse),
        (status = 404, description = "Unknown task, or a task of another model", body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn status_task(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Apixo>,
    Path(model): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<Apixo> {
    let id = query
        .get("taskId")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ValidationError::Missing {
            field: "taskId".into(),
        })?;
    let task = gateway.get_task(&principal, id).await?;
    let same_model = gateway
        .catalog()
        .lookup(&model)
        .is_some_and(|spec| spec.id == task.request.model);
    if !same_model {
        return Err(GatewayError::NotFound.into());
    }
    Ok(common::json_response(
        StatusCode::OK,
        &status_response(&task),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(body: &str) -> Result<RequestDraft, ValidationError> {
        parse_generate(body.as_bytes(), "seedance-2-0-mini").map(|(d, _)| d)
    }

    #[test]
    fn defaults_are_apixos() {
        let d = draft(r#"{"input":{"mode":"text-to-video","prompt":"  a fox  "}}"#).expect("ok");
        assert_eq!(d.prompt.as_deref(), Some("a fox"));
        assert_eq!(d.resolution.as_deref(), Some("720p"));
        assert_eq!(d.aspect_ratio.as_deref(), Some("adaptive"));
        assert_eq!(d.duration, Some(5));
        assert_eq!(d.generate_audio, Some(true));
        assert_eq!(d.web_search, Some(false));
        assert_eq!(d.explicit_mode, Some(seedgate_core::Mode::T2v));
        assert_eq!(d.callback_url, None);
    }

    #[test]
    fn modes_map_media() {
        let d = draft(
            r#"{"input":{"mode":"first_and_last_frames","prompt":"p","duration":"10","resolution":" 480P ",
                "image_urls":["https://e.com/a.png",{"url":"https://e.com/b.png"}]}}"#,
        )
        .expect("ok");
        assert_eq!(d.first_frame_url.as_deref(), Some("https://e.com/a.png"));
        assert_eq!(d.last_frame_url.as_deref(), Some("https://e.com/b.png"));
        assert_eq!(d.duration, Some(10));
        assert_eq!(d.resolution.as_deref(), Some("480p"));
        let d = draft(
            r#"{"input":{"mode":"omni_reference","prompt":"p","aspect_ratio":"9:16","video_urls":["https://e.com/v.mp4"]}}"#,
        )
        .expect("ok");
        assert_eq!(d.reference_video_urls.map(|v| v.len()), Some(1));
        assert_eq!(d.explicit_mode, Some(seedgate_core::Mode::R2v));
        let d = draft(r#"{"input":{"mode":"omni_reference","prompt":"p"}}"#).expect("ok");
        assert_eq!(d.explicit_mode, None);
    }

    #[test]
    fn wire_errors_name_apixo_fields() {
        let e = draft(r#"{"input":{"mode":"text-to-video","prompt":"p","sound":"yes"}}"#)
            .expect_err("not a bool");
        assert_eq!(e.field(), Some("input.sound"));
        let e =
            draft(r#"{"input":{"mode":"omni_reference","prompt":"p","image_urls":[{"uri":"x"}]}}"#)
                .expect_err("bad item");
        assert_eq!(e.field(), Some("input.image_urls[0]"));
        let e =
            draft(r#"{"request_type":"callback","input":{"mode":"text-to-video","prompt":"p"}}"#)
                .expect_err("no callback_url");
        assert_eq!(e.field(), Some("callback_url"));
        assert_eq!(wire_field("reference_image_urls[3]"), "input.image_urls[3]");
        assert_eq!(wire_field("last_frame_url"), "input.image_urls[1]");
        assert_eq!(wire_field("generate_audio"), "input.sound");
    }

    #[test]
    fn errors_use_the_http_status_as_code() {
        use std::time::Duration;
        let cases = [
            (GatewayError::Unauthenticated(AuthFailure::Missing), 401),
            (ValidationError::invalid("input.mode", "bad").into(), 400),
            (GatewayError::PricingUnavailable { reason: "x".into() }, 400),
            (
                GatewayError::InsufficientCredits {
                    needed: 5,
                    available: 1,
                },
                402,
            ),
            (
                ValidationError::ModelNotSupported {
                    model: "seedance-2-0".into(),
                    reason: "unknown model".into(),
                }
                .into(),
                403,
            ),
            (GatewayError::NotFound, 404),
            (
                GatewayError::RateLimited {
                    retry_after: Duration::from_secs(2),
                },
                429,
            ),
            (GatewayError::Internal("x".into()), 500),
            (GatewayError::Unavailable("db".into()), 503),
        ];
        for (error, code) in cases {
            let response = Apixo::error_response(&error, &RequestId::generate());
            assert_eq!(response.status().as_u16(), code, "{error:?}");
        }
        assert_eq!(
            error_detail(
                &ValidationError::Missing {
                    field: "input.prompt".into()
                }
                .into()
            ),
            "Missing required field: input.prompt"
        );
        let priced = wire_error(GatewayError::PricingUnavailable {
            reason: "reference_video_urls[1]: could not fetch".into(),
        });
        assert_eq!(
            priced.to_string(),
            "cannot determine pricing: input.video_urls[1]: could not fetch"
        );
    }

    #[test]
    fn fail_codes() {
        assert_eq!(fail_code(FailureKind::Moderation, ""), "SensitiveContent");
        assert_eq!(
            fail_code(FailureKind::InvalidInput, "Image format not supported"),
            "ImageFormatIncorrect"
        );
        assert_eq!(
            fail_code(FailureKind::InvalidInput, "bad prompt"),
            "PromptInvalid"
        );
        assert_eq!(fail_code(FailureKind::Expired, ""), "Timeout");
        assert_eq!(fail_code(FailureKind::UpstreamError, ""), "StreamError");
        assert_eq!(fail_code(FailureKind::Internal, ""), "Unknown error");
    }
}

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
//! ([`CONTENT_RETENTION_SECONDS`]; seedgate keeps the files until the video is deleted, so this is
//! a promise, not a deletion schedule), else null. `size` is the size actually produced once
//! known, else the planned one. Task failure codes: see [`failure_code`].
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
//! | 404 | invalid_request_error | `not_found`, `thumbnail_not_available`, `content_not_found`, `unknown_url` | |
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

use crate::common::{self, Auth, Dialect};
use crate::{AppState, RouteLimits};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use seedgate_core::error::{GatewayError, ValidationError};
use seedgate_core::output_size::{pixel_size, ConcreteRatio};
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{ModelSpec, RequestDraft, RequestId, Resolution, Task, TaskId};
use seedgate_gateway::{Gateway, Principal, StoredResponse, TaskQuery};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub struct OpenAi;

pub const CREATE_ROUTE: &str = "/v1/videos";

/// The model used when a request names none.
pub const DEFAULT_MODEL: &str = "seedance-2.0-mini";

/// Seconds when a request gives none (OpenAI's default).
pub const DEFAULT_SECONDS: i64 = 4;

/// The `openai-poll-after-ms` value sent with every unfinished video.
pub const POLL_AFTER_MS: u64 = 1000;

/// How long after completion a video's content is promised to stay downloadable.
pub const CONTENT_RETENTION_SECONDS: i64 = 24 * 3600;

/// List page size: default and maximum.
pub const LIST_DEFAULT_LIMIT: i64 = 20;
pub const LIST_MAX_LIMIT: i64 = 100;

pub fn routes(limits: RouteLimits) -> OpenApiRouter<AppState> {
    // A file part may be as large as an asset upload; multipart framing adds a little.
    let upload_limit = limits.max_upload_bytes.saturating_add(64 * 1024);
    OpenApiRouter::new()
        .routes(routes!(create_video, list_videos).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(retrieve_video, delete_video))
        .routes(routes!(download_content))
}

// ---------------------------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------------------------

/// `POST /v1/videos` as JSON. The multipart form has the same fields (see
/// [`OpenAiCreateVideoForm`]).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAiCreateVideo {
    /// What the video shows. Required.
    pub prompt: String,
    /// A seedgate model name or alias; default `seedance-2.0-mini`.
    pub model: Option<String>,
    /// Clip length in seconds, `"4"` to `"15"` (a string, or an integer); default 4.
    #[serde(default, deserialize_with = "common::de::int_or_string")]
    #[schema(value_type = Option<String>, example = "4")]
    pub seconds: Option<i64>,
    /// `WxH`: one of the model's output sizes, e.g. `1280x720`, `720x1280`, `864x496`.
    #[schema(example = "1280x720")]
    pub size: Option<String>,
    /// The first frame: an image URL, `{"image_url": "…"}` (http(s) or base64 data URL) or
    /// `{"file_id": "asset_…"}`.
    #[schema(value_type = Option<Object>)]
    pub input_reference: Option<Value>,
}

/// `POST /v1/videos` as multipart/form-data (what the `openai` SDK sends).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OpenAiCreateVideoForm {
    pub prompt: String,
    pub model: Option<String>,
    #[schema(example = "4")]
    pub seconds: Option<String>,
    #[schema(example = "1280x720")]
    pub size: Option<String>,
    /// The first frame as an image file (or a URL as text; or the parts
    /// `input_reference[image_url]` / `input_reference[file_id]`).
    #[schema(value_type = Option<String>, format = Binary)]
    pub input_reference: Option<Vec<u8>>,
}

/// A video job.
#[derive(Debug, Serialize, PartialEq, ToSchema)]
pub struct OpenAiVideo {
    pub id: String,
    /// Always `video`.
    #[schema(value_type = String)]
    pub object: &'static str,
    pub model: String,
    /// `queued`, `in_progress`, `completed` or `failed`.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// 0–100; an estimate while in progress.
    pub progress: u8,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; set once the video is completed or failed.
    pub completed_at: Option<i64>,
    /// Unix seconds until which the content is promised to be downloadable.
    pub expires_at: Option<i64>,
    pub error: Option<OpenAiVideoError>,
    pub prompt: Option<String>,
    /// Clip length in seconds, as a string.
    pub seconds: String,
    /// `WxH`.
    pub size: String,
    /// Always null: seedgate has no remix.
    pub remixed_from_video_id: Option<String>,
}

/// Why a video failed.
#[derive(Debug, Serialize, PartialEq, ToSchema)]
pub struct OpenAiVideoError {
    /// `moderation_blocked`, `invalid_input`, `rate_limit_exceeded`, `upstream_error`,
    /// `timeout`, `expired`, `internal_error` or `cancelled`.
    #[schema(value_type = String)]
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiVideoList {
    /// Always `list`.
    #[schema(value_type = String)]
    pub object: &'static str,
    pub data: Vec<OpenAiVideo>,
    pub first_id: Option<String>,
    /// Pass as `after` for the next page.
    pub last_id: Option<String>,
    pub has_more: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiVideoDeleted {
    pub id: String,
    /// Always `video.deleted`.
    #[schema(value_type = String)]
    pub object: &'static str,
    pub deleted: bool,
}

/// Every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorEnvelope {
    pub error: OpenAiErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    pub message: String,
    /// `invalid_request_error`, `insufficient_quota`, `requests` or `server_error`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// The request field the error is about.
    pub param: Option<String>,
    #[schema(value_type = Option<String>)]
    pub code: Option<&'static str>,
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// An error of this dialect: the gateway's, or one only the videos API has.
#[derive(Debug)]
pub enum Failure {
    Gateway(GatewayError),
    Own(ErrorParts),
}

impl From<GatewayError> for Failure {
    fn from(e: GatewayError) -> Self {
        Failure::Gateway(e)
    }
}

impl From<ValidationError> for Failure {
    fn from(e: ValidationError) -> Self {
        Failure::Gateway(e.into())
    }
}

/// Everything an error response is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorParts {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<String>,
    pub message: String,
    /// `x-should-retry`, for the SDK.
    pub retry: Option<bool>,
    pub retry_after_ms: Option<u128>,
}

impl ErrorParts {
    fn new(status: StatusCode, kind: &'static str, code: &'static str, message: String) -> Self {
        Self {
            status,
            kind,
            code: Some(code),
            param: None,
            message,
            retry: None,
            retry_after_ms: None,
        }
    }

    fn request(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(status, "invalid_request_error", code, message.into())
    }

    fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }

    fn no_retry(mut self) -> Self {
        self.retry = Some(false);
        self
    }
}

/// The type, code, HTTP status and parameter of a gateway error.
pub fn error_parts(error: &GatewayError) -> ErrorParts {
    use StatusCode as S;
    let message = error.to_string();
    match error {
        GatewayError::Unauthenticated(_) => {
            ErrorParts::request(S::UNAUTHORIZED, "invalid_api_key", message)
        }
        GatewayError::Validation(v) => {
            let code = match v {
                ValidationError::NotAnObject => "invalid_json",
                ValidationError::Missing { .. } => "missing_required_parameter",
                ValidationError::Invalid { .. } => "invalid_value",
                ValidationError::UnknownField { .. } => "unknown_parameter",
                ValidationError::ModelNotSupported { .. } => "model_not_found",
                ValidationError::PromptTooLong { .. } => "string_above_max_length",
            };
            ErrorParts {
                param: v.field().map(str::to_string),
                ..ErrorParts::request(S::BAD_REQUEST, code, message)
            }
        }
        GatewayError::PricingUnavailable { reason } => {
            // The reason starts with the field whose medium could not be read.
            let param = reason.split_once(':').map(|(field, _)| wire_name(field));
            ErrorParts {
                param,
                ..ErrorParts::request(S::BAD_REQUEST, "media_unavailable", message)
            }
        }
        GatewayError::IdempotencyKeyInvalid(_) => {
            ErrorParts::request(S::BAD_REQUEST, "invalid_idempotency_key", message)
                .param("Idempotency-Key")
        }
        GatewayError::IdempotencyInFlight => {
            ErrorParts::request(S::CONFLICT, "idempotency_key_in_use", message)
        }
        GatewayError::IdempotencyMismatch => {
            ErrorParts::request(S::UNPROCESSABLE_ENTITY, "idempotency_key_mismatch", message)
                .no_retry()
        }
        GatewayError::NotCancellable | GatewayError::NotDeletable => ErrorParts::request(
            S::CONFLICT,
            "video_in_progress",
            "the video is being generated and cannot be stopped; delete it once it has \
             completed or failed",
        )
        .no_retry(),
        GatewayError::InsufficientCredits { .. } => ErrorParts::new(
            S::TOO_MANY_REQUESTS,
            "insufficient_quota",
            "insufficient_quota",
            message,
        )
        .no_retry(),
        GatewayError::NotFound => ErrorParts::request(S::NOT_FOUND, "not_found", "video not found"),
        GatewayError::AssetNotFound => {
            ErrorParts::request(S::NOT_FOUND, "not_found", message).param("input_reference")
        }
        GatewayError::RouteNotFound => ErrorParts::request(S::NOT_FOUND, "unknown_url", message),
        GatewayError::MethodNotAllowed => {
            ErrorParts::request(S::METHOD_NOT_ALLOWED, "method_not_allowed", message)
        }
        GatewayError::PayloadTooLarge => {
            ErrorParts::request(S::PAYLOAD_TOO_LARGE, "request_too_large", message)
        }
        GatewayError::QuotaExceeded { .. } => {
            ErrorParts::request(S::PAYLOAD_TOO_LARGE, "upload_quota_exceeded", message)
                .param("input_reference")
        }
        GatewayError::RateLimited { retry_after } => ErrorParts {
            retry: Some(true),
            retry_after_ms: Some(retry_after.as_millis().max(1)),
            ..ErrorParts::new(
                S::TOO_MANY_REQUESTS,
                "requests",
                "rate_limit_exceeded",
                message,
            )
        },
        GatewayError::Internal(_) => ErrorParts::new(
            S::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            message,
        ),
        GatewayError::Unavailable(_) => ErrorParts::new(
            S::SERVICE_UNAVAILABLE,
            "server_error",
            "service_unavailable",
            message,
        ),
    }
}

fn render_error(parts: ErrorParts) -> Response {
    let envelope = OpenAiErrorEnvelope {
        error: OpenAiErrorBody {
            message: parts.message,
            kind: parts.kind,
            param: parts.param,
            code: parts.code,
        },
    };
    let mut response = common::json_response(parts.status, &envelope);
    let h = response.headers_mut();
    if let Some(retry) = parts.retry {
        h.insert(
            "x-should-retry",
            HeaderValue::from_static(if retry { "true" } else { "false" }),
        );
    }
    if let Some(ms) = parts.retry_after_ms {
        if let Ok(v) = HeaderValue::from_str(&ms.to_string()) {
            h.insert("retry-after-ms", v);
        }
        if let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).max(1).to_string()) {
            h.insert(header::RETRY_AFTER, v);
        }
    }
    response
}

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: OpenAi::NAME,
    path_prefixes: &["/v1/videos"],
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

    fn error_response(error: &GatewayError, _request_id: &RequestId) -> Response {
        render_error(error_parts(error))
    }
}

/// A gateway error in the dialect's envelope (as every dialect's [`common::Fail`]), or one of the
/// videos API's own.
impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Gateway(e) => common::Fail::<OpenAi>::from(e).into_response(),
            Failure::Own(parts) => render_error(parts),
        }
    }
}

/// The wire name of a canonical field.
pub fn wire_name(field: &str) -> String {
    match field {
        "duration" => "seconds",
        "resolution" | "aspect_ratio" => "size",
        "first_frame_url" | "file" => "input_reference",
        other => other,
    }
    .to_string()
}

/// A gateway error with canonical field names replaced by this dialect's.
fn renamed(error: GatewayError) -> GatewayError {
    error.renamed(wire_name)
}

// ---------------------------------------------------------------------------------------------
// Requests → draft
// ---------------------------------------------------------------------------------------------

/// Every output size of a model, with the resolution and ratio that produce it, in the model's
/// resolution order.
pub fn output_sizes(spec: &ModelSpec) -> Vec<((u32, u32), Resolution, ConcreteRatio)> {
    spec.resolutions
        .iter()
        .flat_map(|&res| {
            ConcreteRatio::ALL
                .into_iter()
                .filter(|ratio| {
                    spec.aspect_ratios
                        .iter()
                        .any(|a| ConcreteRatio::from_aspect(*a) == Some(*ratio))
                })
                .map(move |ratio| (pixel_size(res, ratio), res, ratio))
        })
        .collect()
}

/// Maps a `WxH` size to the model's resolution and aspect ratio.
pub fn map_size(
    raw: &str,
    spec: &ModelSpec,
) -> Result<(Resolution, ConcreteRatio), ValidationError> {
    let sizes = output_sizes(spec);
    let parsed = raw
        .trim()
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    parsed
        .and_then(|wh| sizes.iter().find(|(size, _, _)| *size == wh))
        .map(|(_, res, ratio)| (*res, *ratio))
        .ok_or_else(|| {
            let accepted: Vec<String> = sizes
                .iter()
                .map(|((w, h), _, _)| format!("{w}x{h}"))
                .collect();
            ValidationError::invalid(
                "size",
                &format!(
                    "must be one of {} (the output sizes of {})",
                    accepted.join(", "),
                    spec.id
                ),
            )
        })
}

/// Where the first frame comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// An http(s) URL (or an `asset://` reference).
    Url(String),
    /// Bytes to store as an asset first (a file part or a base64 data URL).
    File(Bytes),
}

/// A create request, whichever encoding it came in.
#[derive(Debug)]
pub struct CreateInput {
    pub wire: OpenAiCreateVideo,
    pub file: Option<Bytes>,
    /// What the Idempotency-Key fingerprint is computed over.
    pub fingerprint: Value,
}

/// Parses `input_reference` given as JSON (or as multipart text parts).
pub fn parse_reference(value: Option<Value>) -> Result<Option<Reference>, ValidationError> {
    const FIELD: &str = "input_reference";
    let url = |field: &str, s: String| -> Result<Reference, ValidationError> {
        match decode_data_url(&s) {
            None => Ok(Reference::Url(s)),
            Some(Ok(bytes)) => Ok(Reference::File(bytes)),
            Some(Err(reason)) => Err(ValidationError::invalid(field, reason)),
        }
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => url(FIELD, s).map(Some),
        Some(Value::Object(map)) => {
            if let Some(k) = map.keys().find(|k| *k != "file_id" && *k != "image_url") {
                return Err(ValidationError::UnknownField {
                    field: format!("{FIELD}.{k}"),
                });
            }
            let text = |key: &str| -> Result<Option<String>, ValidationError> {
                match map.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(ValidationError::invalid(
                        &format!("{FIELD}.{key}"),
                        "must be a string",
                    )),
                }
            };
            match (text("file_id")?, text("image_url")?) {
                (Some(_), Some(_)) => Err(ValidationError::invalid(
                    FIELD,
                    "give either `file_id` or `image_url`, not both",
                )),
                (Some(id), None) => {
                    let id = id.trim();
                    if id.is_empty() {
                        return Err(ValidationError::invalid(
                            "input_reference.file_id",
                            "must not be empty",
                        ));
                    }
                    Ok(Some(Reference::Url(format!("asset://{id}"))))
                }
                (None, Some(u)) => url("input_reference.image_url", u).map(Some),
                (None, None) => Err(ValidationError::invalid(
                    FIELD,
                    "must have `file_id` or `image_url`",
                )),
            }
        }
        Some(_) => Err(ValidationError::invalid(
            FIELD,
            "must be an image file, an image URL, or an object with `file_id` or `image_url`",
        )),
    }
}

/// A `data:` URL's bytes: `None` when `s` is not a data URL.
fn decode_data_url(s: &str) -> Option<Result<Bytes, &'static str>> {
    let rest = seedgate_core::text::strip_prefix_ignore_ascii_case(s.trim(), "data:")?;
    let Some((meta, data)) = rest.split_once(',') else {
        return Some(Err("is a data URL without a `,`"));
    };
    if !meta.to_ascii_lowercase().ends_with(";base64") {
        return Some(Err("must be a base64 data URL (`data:image/png;base64,…`)"));
    }
    Some(
        base64_decode(data)
            .map(Bytes::from)
            .ok_or("is not valid base64"),
    )
}

/// Standard or URL-safe base64, padding optional, whitespace ignored.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::Engine;
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);
    let compact: String = text.split_ascii_whitespace().collect();
    // One alphabet per string: `+`/`/` and `-`/`_` together are not base64.
    let engine = if compact.contains(['-', '_']) {
        URL_SAFE
    } else {
        STANDARD
    };
    engine
        .decode(compact)
        .ok()
        .filter(|bytes| !bytes.is_empty())
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn too_large(param: &str) -> Failure {
    Failure::Own(
        ErrorParts::request(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            "the request body is larger than this endpoint accepts",
        )
        .param(param),
    )
}

/// Reads a create request, multipart or JSON.
pub async fn read_create(request: Request) -> Result<CreateInput, Failure> {
    if is_multipart(request.headers()) {
        return read_multipart(request).await;
    }
    let body = Bytes::from_request(request, &()).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large("body")
        } else {
            ValidationError::invalid("body", &e.body_text()).into()
        }
    })?;
    let (wire, json): (OpenAiCreateVideo, Value) = common::parse_json_keeping(&body)?;
    Ok(CreateInput {
        wire,
        file: None,
        fingerprint: json,
    })
}

async fn read_multipart(request: Request) -> Result<CreateInput, Failure> {
    let bad = |field: &str, reason: String| -> Failure {
        ValidationError::invalid(field, &reason).into()
    };
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| bad("body", e.body_text()))?;
    let mut fields = Map::new();
    let mut nested = Map::new();
    let mut file: Option<Bytes> = None;
    let duplicate = |name: &str| -> Failure {
        ValidationError::invalid(name, "is given more than once").into()
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large("input_reference"))
            }
            Err(e) => return Err(bad("body", e.body_text())),
        };
        let name = field.name().unwrap_or_default().to_string();
        let is_file = field.file_name().is_some()
            || field
                .content_type()
                .is_some_and(|ct| !ct.to_ascii_lowercase().starts_with("text/"));
        let read_error = |e: axum::extract::multipart::MultipartError| -> Failure {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large("input_reference")
            } else {
                ValidationError::invalid("input_reference", &e.body_text()).into()
            }
        };
        let nested_key = name
            .strip_prefix("input_reference[")
            .and_then(|k| k.strip_suffix(']'))
            .or_else(|| name.strip_prefix("input_reference."));
        if name == "input_reference" && is_file {
            let bytes = field.bytes().await.map_err(read_error)?;
            if file.replace(bytes).is_some() || fields.contains_key(&name) {
                return Err(duplicate(&name));
            }
        } else if let Some(key) = nested_key {
            let key = key.to_string();
            let text = field.text().await.map_err(read_error)?;
            if nested.insert(key, Value::String(text)).is_some() {
                return Err(duplicate(&name));
            }
        } else if ["prompt", "model", "seconds", "size", "input_reference"].contains(&name.as_str())
        {
            let text = field.text().await.map_err(|e| bad(&name, e.body_text()))?;
            if fields.insert(name.clone(), Value::String(text)).is_some()
                || (name == "input_reference" && file.is_some())
            {
                return Err(duplicate(&name));
            }
        } else {
            return Err(ValidationError::UnknownField { field: name }.into());
        }
    }
    if !nested.is_empty() {
        if fields.contains_key("input_reference") || file.is_some() {
            return Err(duplicate("input_reference"));
        }
        fields.insert("input_reference".into(), Value::Object(nested));
    }
    let wire: OpenAiCreateVideo = common::parse_value(Value::Object(fields.clone()))?;
    let mut fingerprint = fields;
    if let Some(bytes) = &file {
        fingerprint.insert(
            "input_reference".into(),
            serde_json::json!({ "sha256": hex::encode(Sha256::digest(bytes)) }),
        );
    }
    Ok(CreateInput {
        wire,
        file,
        fingerprint: Value::Object(fingerprint),
    })
}

/// The draft of a create request. Dialect-only checks (the prompt is required, `size` is a
/// pixel size) come first; a file is stored as an asset of the caller only once they pass.
pub async fn build_draft(
    gateway: &Gateway,
    principal: &Principal,
    input: CreateInput,
) -> Result<RequestDraft, GatewayError> {
    let wire = input.wire;
    if wire.prompt.trim().is_empty() {
        return Err(ValidationError::Missing {
            field: "prompt".into(),
        }
        .into());
    }
    let model = wire
        .model
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_MODEL.to_string());
    let reference = match (input.file, parse_reference(wire.input_reference)?) {
        (Some(bytes), _) => Some(Reference::File(bytes)),
        (None, other) => other,
    };
    // An unknown model is reported by validation, before any size.
    let (resolution, aspect_ratio) = match (
        wire.size.as_deref().filter(|s| !s.trim().is_empty()),
        gateway.catalog().lookup(&model).filter(|s| s.available),
    ) {
        (Some(size), Some(spec)) => {
            let (res, ratio) = map_size(size, spec)?;
            (
                Some(res.as_str().to_string()),
                Some(ratio.as_str().to_string()),
            )
        }
        _ => (None, None),
    };
    let first_frame_url = match reference {
        None => None,
        Some(Reference::Url(url)) => Some(url),
        Some(Reference::File(bytes)) => {
            let asset = gateway
                .upload_asset(principal, bytes, None)
                .await
                .map_err(renamed)?;
            Some(gateway.media_url(&asset.object_key))
        }
    };
    Ok(RequestDraft {
        model: Some(model),
        prompt: Some(wire.prompt),
        first_frame_url,
        resolution,
        aspect_ratio,
        duration: Some(wire.seconds.unwrap_or(DEFAULT_SECONDS)),
        // The thumbnail variant serves the last frame.
        return_last_frame: Some(true),
        ..RequestDraft::default()
    })
}

// ---------------------------------------------------------------------------------------------
// Task → video object
// ---------------------------------------------------------------------------------------------

/// How long a render is expected to take, for the progress estimate: 30 s plus 10 s per second
/// of video (Seedance takes one to three minutes for a typical clip).
pub fn expected_render_ms(task: &Task) -> i64 {
    30_000 + 10_000 * i64::from(task.request.duration_seconds)
}

/// Progress 0–100 at `now_ms`.
pub fn progress(task: &Task, now_ms: i64) -> u8 {
    match task.status {
        TaskStatus::Queued | TaskStatus::Failed | TaskStatus::Cancelled => 0,
        TaskStatus::Succeeded => 100,
        TaskStatus::Running => {
            let started = task.started_at_ms.unwrap_or(task.created_at_ms);
            let elapsed = (now_ms - started).max(0);
            let estimate = 5 + elapsed.saturating_mul(90) / expected_render_ms(task).max(1);
            estimate.clamp(5, 95) as u8
        }
    }
}

/// The `error.code` of a failed video.
pub fn failure_code(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Moderation => "moderation_blocked",
        FailureKind::InvalidInput => "invalid_input",
        FailureKind::RateLimited => "rate_limit_exceeded",
        FailureKind::UpstreamError => "upstream_error",
        FailureKind::Timeout => "timeout",
        FailureKind::Expired => "expired",
        FailureKind::Internal => "internal_error",
    }
}

fn status_name(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Queued => "queued",
        TaskStatus::Running => "in_progress",
        TaskStatus::Succeeded => "completed",
        TaskStatus::Failed | TaskStatus::Cancelled => "failed",
    }
}

/// The size of a task's video: the one produced once known, else the planned one (for an
/// `adaptive` ratio before the video exists, 16:9).
pub fn video_size(task: &Task) -> (u32, u32) {
    match task
        .output
        .as_ref()
        .and_then(|o| Some((o.width?, o.height?)))
    {
        Some(size) => size,
        None => task.request.output_size(None),
    }
}

/// The videos-API view of a task at `now_ms`.
pub fn video_object(task: &Task, now_ms: i64) -> OpenAiVideo {
    let error = match task.status {
        TaskStatus::Failed => Some(match &task.error {
            Some(e) => OpenAiVideoError {
                code: failure_code(e.kind),
                message: e.message.clone(),
            },
            None => OpenAiVideoError {
                code: failure_code(FailureKind::Internal),
                message: "video generation failed".into(),
            },
        }),
        TaskStatus::Cancelled => Some(OpenAiVideoError {
            code: "cancelled",
            message: "the video was cancelled before it started; its credits were refunded".into(),
        }),
        _ => None,
    };
    let completed_at = task
        .status
        .is_terminal()
        .then(|| task.finished_at_ms.unwrap_or(task.updated_at_ms))
        .map(common::unix_seconds);
    let expires_at = match task.status {
        TaskStatus::Succeeded => completed_at.map(|t| t + CONTENT_RETENTION_SECONDS),
        _ => None,
    };
    let (width, height) = video_size(task);
    OpenAiVideo {
        id: task.id.to_string(),
        object: "video",
        model: if task.requested_model.is_empty() {
            task.request.model.clone()
        } else {
            task.requested_model.clone()
        },
        status: status_name(task.status),
        progress: progress(task, now_ms),
        created_at: common::unix_seconds(task.created_at_ms),
        completed_at,
        expires_at,
        error,
        prompt: task.request.prompt.clone(),
        seconds: task.request.duration_seconds.to_string(),
        size: format!("{width}x{height}"),
        remixed_from_video_id: None,
    }
}

use seedgate_core::clock::now_ms;

fn with_poll_header(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("openai-poll-after-ms", HeaderValue::from(POLL_AFTER_MS));
    response
}

fn video_response(task: &Task) -> Response {
    let response = common::json_response(StatusCode::OK, &video_object(task, now_ms()));
    if task.status.is_terminal() {
        response
    } else {
        with_poll_header(response)
    }
}

fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(200, &video_object(task, task.created_at_ms))
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// Create a video. The SDK sends multipart/form-data; JSON works too.
#[utoipa::path(post, path = "/v1/videos", tag = "OpenAI videos",
    request_body(content(
        (OpenAiCreateVideoForm = "multipart/form-data"),
        (OpenAiCreateVideo = "application/json"),
    )),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 200, description = "The new video (queued); header `openai-poll-after-ms`", body = OpenAiVideo),
        (status = "4XX", body = OpenAiErrorEnvelope), (status = "5XX", body = OpenAiErrorEnvelope)),
    security(("bearer" = [])))]
async fn create_video(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<OpenAi>,
    request: Request,
) -> Result<Response, Failure> {
    let headers = request.headers().clone();
    let input = read_create(request).await?;
    let fingerprint = input.fingerprint.clone();
    let draft = build_draft(&gateway, &principal, input).await?;
    let response = common::submit::<OpenAi>(
        &gateway,
        &principal,
        &headers,
        CREATE_ROUTE,
        &fingerprint,
        draft,
        &render_created,
    )
    .await
    .map_err(renamed)?;
    // A created video is always queued.
    Ok(if response.status() == StatusCode::OK {
        with_poll_header(response)
    } else {
        response
    })
}

/// Retrieve a video (any dialect's task of the same key).
#[utoipa::path(get, path = "/v1/videos/{video_id}", tag = "OpenAI videos",
    params(("video_id" = String, Path, description = "Video (task) id")),
    responses(
        (status = 200, description = "The video; header `openai-poll-after-ms` while queued or in progress", body = OpenAiVideo),
        (status = 404, body = OpenAiErrorEnvelope), (status = "4XX", body = OpenAiErrorEnvelope)),
    security(("bearer" = [])))]
async fn retrieve_video(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<OpenAi>,
    Path(video_id): Path<String>,
) -> Result<Response, Failure> {
    let task = gateway.get_task(&principal, &video_id).await?;
    Ok(video_response(&task))
}

/// The query parameters of a list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub after: Option<String>,
    #[serde(default, deserialize_with = "common::de::int_or_string")]
    pub limit: Option<i64>,
    pub order: Option<String>,
}

/// A query string as a JSON object of strings (for [`common::parse_value`]); a parameter given
/// twice is refused.
fn query_object(uri: &Uri) -> Result<Value, ValidationError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ValidationError::invalid("query", &e.body_text()))?;
    let mut object = Map::new();
    for (k, v) in pairs {
        if object.insert(k.clone(), Value::String(v)).is_some() {
            return Err(ValidationError::invalid(&k, "is given more than once"));
        }
    }
    Ok(Value::Object(object))
}

/// The task query of a list request.
pub fn list_query(params: ListParams) -> Result<TaskQuery, ValidationError> {
    let limit = match params.limit {
        None => LIST_DEFAULT_LIMIT,
        Some(l) if (1..=LIST_MAX_LIMIT).contains(&l) => l,
        Some(_) => {
            return Err(ValidationError::invalid(
                "limit",
                &format!("must be an integer from 1 to {LIST_MAX_LIMIT}"),
            ))
        }
    };
    let oldest_first = match params.order.as_deref().map(str::trim) {
        None | Some("") | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(ValidationError::invalid("order", "must be asc or desc")),
    };
    let after = params
        .after
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .map(TaskId::from_string);
    Ok(TaskQuery {
        oldest_first,
        after,
        // In range, so it fits.
        limit: limit as u32,
        ..TaskQuery::default()
    })
}

/// List the key's videos, newest first by default; page with `after` = the previous page's
/// `last_id`.
#[utoipa::path(get, path = "/v1/videos", tag = "OpenAI videos",
    params(
        ("after" = Option<String>, Query, description = "The `last_id` of the previous page"),
        ("limit" = Option<i64>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (default) by creation time"),
    ),
    responses((status = 200, body = OpenAiVideoList), (status = "4XX", body = OpenAiErrorEnvelope)),
    security(("bearer" = [])))]
async fn list_videos(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<OpenAi>,
    uri: Uri,
) -> Result<Response, Failure> {
    let params: ListParams = common::parse_value(query_object(&uri)?)?;
    let page = gateway.list_tasks(&principal, list_query(params)?).await?;
    let now = now_ms();
    let data: Vec<OpenAiVideo> = page.tasks.iter().map(|t| video_object(t, now)).collect();
    let list = OpenAiVideoList {
        object: "list",
        first_id: data.first().map(|v| v.id.clone()),
        last_id: data.last().map(|v| v.id.clone()),
        has_more: page.has_more,
        data,
    };
    Ok(common::json_response(StatusCode::OK, &list))
}

/// Delete a video: a finished one with its files; a queued one is cancelled (refunded) first; a
/// running one cannot be deleted (409 `video_in_progress`).
#[utoipa::path(delete, path = "/v1/videos/{video_id}", tag = "OpenAI videos",
    params(("video_id" = String, Path, description = "Video (task) id")),
    responses((status = 200, body = OpenAiVideoDeleted),
        (status = 404, body = OpenAiErrorEnvelope), (status = 409, body = OpenAiErrorEnvelope)),
    security(("bearer" = [])))]
async fn delete_video(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<OpenAi>,
    Path(video_id): Path<String>,
) -> Result<Response, Failure> {
    let task = gateway.get_task(&principal, &video_id).await?;
    if task.status == TaskStatus::Queued {
        // A task that started meanwhile is refused by the delete below.
        match gateway.cancel_task(&principal, &video_id).await {
            Ok(_) | Err(GatewayError::NotCancellable) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The gateway removes the record and its files.
    gateway.delete_task(&principal, &video_id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &OpenAiVideoDeleted {
            id: task.id.to_string(),
            object: "video.deleted",
            deleted: true,
        },
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContentParams {
    variant: Option<String>,
}

/// Download a completed video's MP4 (`variant=video`, the default) or its thumbnail
/// (`variant=thumbnail`: a PNG of the last frame).
#[utoipa::path(get, path = "/v1/videos/{video_id}/content", tag = "OpenAI videos",
    params(("video_id" = String, Path, description = "Video (task) id"),
        ("variant" = Option<String>, Query, description = "`video` (default) or `thumbnail`; `spritesheet` is not produced")),
    responses(
        (status = 200, description = "The MP4 (`variant=video`) or the PNG of its last frame (`variant=thumbnail`)"),
        (status = 404, body = OpenAiErrorEnvelope), (status = 409, description = "Not completed", body = OpenAiErrorEnvelope),
        (status = "4XX", body = OpenAiErrorEnvelope)),
    security(("bearer" = [])))]
async fn download_content(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<OpenAi>,
    Path(video_id): Path<String>,
    uri: Uri,
) -> Result<Response, Failure> {
    let params: ContentParams = common::parse_value(query_object(&uri)?)?;
    let thumbnail =
        match params.variant.as_deref().map(str::trim) {
            None | Some("") | Some("video") => false,
            Some("thumbnail") => true,
            Some("spritesheet") => return Err(Failure::Own(
                ErrorParts::request(
                    StatusCode::BAD_REQUEST,
                    "unsupported_value",
                    "seedgate does not produce spritesheets; variant must be video or thumbnail",
                )
                .param("variant"),
            )),
            Some(_) => {
                return Err(ValidationError::invalid(
                    "variant",
                    "must be video, thumbnail or spritesheet",
                )
                .into())
            }
        };
    let task = gateway.get_task(&principal, &video_id).await?;
    match task.status {
        TaskStatus::Succeeded => {}
        TaskStatus::Queued | TaskStatus::Running => {
            return Err(Failure::Own(
                ErrorParts::request(
                    StatusCode::CONFLICT,
                    "video_not_ready",
                    format!(
                        "video {video_id} is still {}; download it once it has completed",
                        status_name(task.status)
                    ),
                )
                .no_retry(),
            ))
        }
        TaskStatus::Failed | TaskStatus::Cancelled => {
            return Err(Failure::Own(
                ErrorParts::request(
                    StatusCode::CONFLICT,
                    "video_failed",
                    format!("video {video_id} failed and has no content"),
                )
                .no_retry(),
            ))
        }
    }
    let output = task.output.as_ref();
    let key = if thumbnail {
        output
            .and_then(|o| o.last_frame_key.clone())
            .ok_or_else(|| {
                Failure::Own(
                    ErrorParts::request(
                        StatusCode::NOT_FOUND,
                        "thumbnail_not_available",
                        format!(
                            "video {video_id} has no thumbnail: it was created without its last \
                         frame (videos created through /v1/videos always have one)"
                        ),
                    )
                    .param("variant"),
                )
            })?
    } else {
        output
            .and_then(|o| o.video_keys.first().cloned())
            .ok_or(GatewayError::Internal(
                "completed task without a video".into(),
            ))?
    };
    let not_found = || {
        Failure::Own(ErrorParts::request(
            StatusCode::NOT_FOUND,
            "content_not_found",
            format!("the content of video {video_id} is no longer stored"),
        ))
    };
    let read = match gateway.media().blobs().get(&key, None).await {
        Ok(Some(read)) => read,
        Ok(None) => return Err(not_found()),
        Err(e) => {
            tracing::error!(error = %e, key, "reading video content failed");
            return Err(GatewayError::Unavailable("storage unavailable".into()).into());
        }
    };
    let (content_type, extension) = if thumbnail {
        ("image/png", "png")
    } else {
        ("video/mp4", "mp4")
    };
    let mut response = Response::new(Body::from_stream(read.stream));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(read.total_size));
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}.{extension}\"", task.id))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_core::Catalog;

    fn mini() -> ModelSpec {
        Catalog::builtin()
            .lookup("seedance-2.0-mini")
            .expect("mini")
            .clone()
    }

    #[test]
    fn sizes_map_to_resolution_and_ratio() {
        let spec = mini();
        assert_eq!(
            map_size("864x496", &spec),
            Ok((Resolution::P480, ConcreteRatio::R16x9))
        );
        assert_eq!(
            map_size("720x1280", &spec),
            Ok((Resolution::P720, ConcreteRatio::R9x16))
        );
        assert_eq!(
            map_size("1470X630", &spec),
            Ok((Resolution::P720, ConcreteRatio::R21x9))
        );
        assert_eq!(output_sizes(&spec).len(), 12);
        for bad in ["1920x1080", "1024x1792", "720p", "16:9", "x", ""] {
            let e = map_size(bad, &spec).expect_err(bad);
            assert_eq!(e.field(), Some("size"));
            assert!(e.to_string().contains("864x496") && e.to_string().contains("1280x720"));
        }
    }

    #[test]
    fn references_parse_every_form() {
        assert_eq!(parse_reference(None), Ok(None));
        assert_eq!(
            parse_reference(Some(Value::String("https://e.com/a.png".into()))),
            Ok(Some(Reference::Url("https://e.com/a.png".into())))
        );
        assert_eq!(
            parse_reference(Some(serde_json::json!({"file_id": "asset_1"}))),
            Ok(Some(Reference::Url("asset://asset_1".into())))
        );
        assert_eq!(
            parse_reference(Some(
                serde_json::json!({"image_url": "data:image/png;base64,aGVsbG8="})
            )),
            Ok(Some(Reference::File(Bytes::from_static(b"hello"))))
        );
        let e = parse_reference(Some(serde_json::json!({"url": "x"}))).expect_err("unknown");
        assert_eq!(e.field(), Some("input_reference.url"));
        let e = parse_reference(Some(serde_json::json!({}))).expect_err("empty");
        assert_eq!(e.field(), Some("input_reference"));
        let e = parse_reference(Some(serde_json::json!({"image_url": "data:image/png,abc"})))
            .expect_err("not base64");
        assert_eq!(e.field(), Some("input_reference.image_url"));
        assert!(parse_reference(Some(serde_json::json!(5))).is_err());
    }

    #[test]
    fn base64_decodes_standard_and_url_safe() {
        assert_eq!(
            base64_decode("aGVsbG8gd29ybGQ="),
            Some(b"hello world".to_vec())
        );
        assert_eq!(
            base64_decode("aGVsbG8gd29ybGQ"),
            Some(b"hello world".to_vec())
        );
        assert_eq!(base64_decode("-_8="), Some(vec![0xfb, 0xff]));
        assert_eq!(base64_decode("+/8="), Some(vec![0xfb, 0xff]));
        assert_eq!(base64_decode("a*b"), None);
        assert_eq!(base64_decode("aGk=aGk="), None);
        assert_eq!(base64_decode(""), None);
    }

    #[test]
    fn list_params_are_checked() {
        let q = list_query(ListParams {
            after: Some("task_1".into()),
            limit: None,
            order: Some("asc".into()),
        })
        .expect("ok");
        assert_eq!((q.limit, q.oldest_first), (20, true));
        assert_eq!(q.after.as_ref().map(|a| a.as_str()), Some("task_1"));
        for (limit, order, field) in [
            (Some(0), None, "limit"),
            (Some(101), None, "limit"),
            (None, Some("up"), "order"),
        ] {
            let e = list_query(ListParams {
                after: None,
                limit,
                order: order.map(str::to_string),
            })
            .expect_err("refused");
            assert_eq!(e.field(), Some(field));
        }
    }

    #[test]
    fn errors_have_openai_types_and_codes() {
        let p = error_parts(&GatewayError::InsufficientCredits {
            needed: 5,
            available: 1,
        });
        assert_eq!(
            (p.status, p.kind, p.code, p.retry),
            (
                StatusCode::TOO_MANY_REQUESTS,
                "insufficient_quota",
                Some("insufficient_quota"),
                Some(false)
            )
        );
        let p = error_parts(&renamed(GatewayError::Validation(
            ValidationError::invalid("duration", "x"),
        )));
        assert_eq!(p.param.as_deref(), Some("seconds"));
        let p = error_parts(&renamed(GatewayError::PricingUnavailable {
            reason: "first_frame_url: could not fetch".into(),
        }));
        assert_eq!(p.param.as_deref(), Some("input_reference"));
        assert!(
            p.message.contains("input_reference: could not fetch"),
            "{}",
            p.message
        );
    }
}

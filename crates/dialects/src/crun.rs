//! CRUN (crun.ai): `POST /api/v1/client/job/CreateTask`, `GET /api/v1/client/job/TaskInfo?task_id=`,
//! `POST /api/v1/client/job/estimate-credits`, `POST /api/v1/client/job/asset-upload`,
//! `GET /api/v1/client/job/asset-info?asset_id=`. Auth: the `x-api-key` header (any case).
//!
//! Envelope: `{"code":200,"message":"success","data":{…}}` (snake_case `task_id`). Errors carry
//! the same code in the HTTP status and in the body, `{"code":N,"message":"…","data":null}`:
//!
//! | code | when |
//! |---|---|
//! | 401 | `x-api-key` missing, unknown or revoked |
//! | 402 | not enough credits |
//! | 404 | unknown task or asset, unknown endpoint (also a wrong method: CRUN has no 405) |
//! | 422 | validation: the body, a field, a reference medium, an unknown model name, an Idempotency-Key reused with another body, the asset storage quota |
//! | 429 | rate limited; also an Idempotency-Key still in use by a request in flight |
//! | 455 | service unavailable (database or storage down) |
//! | 500 | internal error |
//! | 501 | "Generation Failed": only as `result.code` of a failed task in TaskInfo |
//! | 505 | "Feature Disabled": a model CRUN names that this gateway does not serve (2.0, 2.0 fast, 1.5 pro, 1.0 pro, and 2.5 while it is not available) |
//!
//! The model name fixes the mode: `bytedance/seedance2-0-mini-t2v` (prompt only),
//! `…-i2v` (`img_urls`: first frame, optional last frame; `aspect_ratio` defaults to `auto`, the
//! frame's shape), `…-r2v` (`reference_images`, `reference_videos`, `reference_audios`; at least
//! one image or video). `aspect_ratio: "auto"` is canonical `adaptive` in every mode. Other
//! defaults are the catalog's (720p, 16:9, 5 s, no audio). `asset://<AssetId>` references are
//! resolved by the gateway to the caller's own assets.
//!
//! Credits are seedgate credits (1 credit = $0.001), both in `estimate-credits` and in a task's
//! `credits`, not CRUN's own unit.

use crate::common::{self, Auth, Dialect, Reply};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use seedgate_core::error::{AuthFailure, GatewayError, ValidationError};
use seedgate_core::media::MediaKind;
use seedgate_core::task::TaskStatus;
use seedgate_core::{AspectRatio, Catalog, Mode, RequestDraft, RequestId, Task};
use seedgate_gateway::{AssetRecord, Gateway, StoredResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub struct Crun;

pub const CREATE_ROUTE: &str = "/api/v1/client/job/CreateTask";

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task))
        .routes(routes!(task_info_handler))
        .routes(routes!(estimate_credits))
        .routes(routes!(asset_upload))
        .routes(routes!(asset_info_handler))
}

/// `POST /api/v1/client/job/CreateTask` (and `estimate-credits`) body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = CrunCreateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// `bytedance/seedance2-0-mini-t2v`, `bytedance/seedance2-0-mini-i2v` or
    /// `bytedance/seedance2-0-mini-r2v`: the suffix is the mode.
    pub model: Option<String>,
    /// Where the result is sent when the task finishes (absolute http(s) URL).
    pub callback_url: Option<String>,
    pub input: Option<CrunInput>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrunInput {
    /// Required for t2v; optional when images carry the content.
    pub prompt: Option<String>,
    /// `480p` or `720p` (default 720p).
    pub resolution: Option<String>,
    /// `16:9` (default; `auto` for i2v), `9:16`, `1:1`, `4:3`, `3:4`, `21:9`, `auto`.
    pub aspect_ratio: Option<String>,
    /// Seconds, 4 to 15 (default 5).
    #[serde(default, deserialize_with = "common::de::int")]
    pub duration: Option<i64>,
    /// Generate an audio track (default false).
    pub audio: Option<bool>,
    /// Also return the last frame as a PNG (`result.last_frame_url`).
    pub return_last_frame: Option<bool>,
    /// i2v only: the first frame and optionally the last frame (URLs or `asset://<AssetId>`).
    pub img_urls: Option<Vec<String>>,
    /// r2v only: up to 9 reference images (URLs or `asset://<AssetId>`).
    pub reference_images: Option<Vec<String>>,
    /// r2v only: up to 3 reference videos.
    pub reference_videos: Option<Vec<String>>,
    /// r2v only: up to 3 reference audio files (not alone).
    pub reference_audios: Option<Vec<String>>,
    /// Seedance 1.0 / 1.5 pro only; refused for the models seedgate serves.
    pub camera_fixed: Option<bool>,
}

/// CRUN's models (family, modes): the ones seedgate does not serve answer 505.
const CRUN_MODELS: [(&str, &[Mode]); 6] = [
    ("seedance2-0", &[Mode::T2v, Mode::I2v, Mode::R2v]),
    ("seedance2-0-mini", &[Mode::T2v, Mode::I2v, Mode::R2v]),
    ("seedance2-0-fast", &[Mode::T2v, Mode::I2v, Mode::R2v]),
    ("seedance2-5", &[Mode::T2v, Mode::I2v, Mode::R2v]),
    ("seedance1-5-pro", &[Mode::T2v, Mode::I2v]),
    ("seedance1-0-pro", &[Mode::T2v]),
];

/// CRUN's family name of a canonical model: `seedance-2.0-mini` → `seedance2-0-mini`.
pub fn crun_family(canonical: &str) -> String {
    canonical
        .replacen("seedance-", "seedance", 1)
        .replace('.', "-")
}

/// CRUN's full model name of a canonical model and mode: `bytedance/seedance2-0-mini-r2v`.
pub fn crun_model(canonical: &str, mode: Mode) -> String {
    format!("bytedance/{}-{}", crun_family(canonical), mode.as_str())
}

/// A CRUN model name resolved: the canonical model (available or not) and the mode.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    pub canonical: String,
    pub mode: Mode,
}

/// Resolves a CRUN model name. A name CRUN has but seedgate does not serve is
/// `ModelNotSupported` (505); a name CRUN does not have is an invalid `model` (422).
pub fn resolve_model(name: &str, catalog: &Catalog) -> Result<ResolvedModel, ValidationError> {
    let unknown = || {
        ValidationError::invalid(
            "model",
            &format!(
                "unknown model `{name}`; use bytedance/seedance2-0-mini-t2v, \
                 bytedance/seedance2-0-mini-i2v or bytedance/seedance2-0-mini-r2v"
            ),
        )
    };
    let lower = name.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("bytedance/").ok_or_else(unknown)?;
    let (family, mode) = [Mode::T2v, Mode::I2v, Mode::R2v]
        .into_iter()
        .find_map(|m| {
            rest.strip_suffix(&format!("-{}", m.as_str()))
                .map(|f| (f, m))
        })
        .ok_or_else(unknown)?;
    if let Some(spec) = catalog
        .models()
        .iter()
        .find(|s| crun_family(&s.id) == family)
    {
        return Ok(ResolvedModel {
            canonical: spec.id.clone(),
            mode,
        });
    }
    match CRUN_MODELS.iter().find(|(f, _)| *f == family) {
        Some((_, modes)) if modes.contains(&mode) => Err(ValidationError::ModelNotSupported {
            model: name.trim().to_string(),
            reason: "this feature is disabled: the gateway does not serve this model".into(),
        }),
        _ => Err(unknown()),
    }
}

fn non_empty(list: Option<Vec<String>>) -> Option<Vec<String>> {
    list.filter(|l| !l.is_empty())
}

impl CreateTaskRequest {
    /// The canonical draft. Checks what only CRUN's wire has: the model names and the fields
    /// each mode takes. Error fields are CRUN's.
    pub fn into_draft(self, catalog: &Catalog) -> Result<(RequestDraft, String), ValidationError> {
        let name = self
            .model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| ValidationError::Missing {
                field: "model".into(),
            })?
            .to_string();
        let ResolvedModel { canonical, mode } = resolve_model(&name, catalog)?;
        // A model CRUN names but this gateway does not serve now is refused before its fields.
        catalog.resolve_available(&canonical).map_err(|e| match e {
            ValidationError::ModelNotSupported { reason, .. } => {
                ValidationError::ModelNotSupported {
                    model: name.clone(),
                    reason,
                }
            }
            other => other,
        })?;
        let input = self.input.ok_or_else(|| ValidationError::Missing {
            field: "input".into(),
        })?;
        if input.camera_fixed.is_some() {
            return Err(ValidationError::invalid(
                "input.camera_fixed",
                &format!("applies only to Seedance 1.0 and 1.5 pro, not {name}"),
            ));
        }
        let images = non_empty(input.img_urls);
        let ref_images = non_empty(input.reference_images);
        let ref_videos = non_empty(input.reference_videos);
        let ref_audios = non_empty(input.reference_audios);
        let not_for = |field: &str, hint: Mode| {
            ValidationError::invalid(
                field,
                &format!(
                    "is not accepted by {name}; use {}",
                    crun_model(&canonical, hint)
                ),
            )
        };
        let mut draft = RequestDraft {
            model: Some(canonical.clone()),
            prompt: input.prompt,
            generate_audio: input.audio,
            resolution: input.resolution,
            aspect_ratio: input.aspect_ratio.map(|r| {
                if r.trim().eq_ignore_ascii_case("auto") {
                    AspectRatio::Adaptive.as_str().to_string()
                } else {
                    r
                }
            }),
            duration: input.duration,
            return_last_frame: input.return_last_frame,
            callback_url: self.callback_url,
            explicit_mode: Some(mode),
            ..RequestDraft::default()
        };
        if mode != Mode::R2v {
            for (field, list) in [
                ("input.reference_images", &ref_images),
                ("input.reference_videos", &ref_videos),
                ("input.reference_audios", &ref_audios),
            ] {
                if list.is_some() {
                    return Err(not_for(field, Mode::R2v));
                }
            }
        }
        match mode {
            Mode::T2v => {
                if images.is_some() {
                    return Err(not_for("input.img_urls", Mode::I2v));
                }
            }
            Mode::I2v => {
                let images = images.ok_or_else(|| ValidationError::Missing {
                    field: "input.img_urls".into(),
                })?;
                if images.len() > 2 {
                    return Err(ValidationError::invalid(
                        "input.img_urls",
                        &format!(
                            "takes at most 2 images (first frame, optional last frame), got {}",
                            images.len()
                        ),
                    ));
                }
                let mut frames = images.into_iter();
                draft.first_frame_url = frames.next();
                draft.last_frame_url = frames.next();
                if draft
                    .aspect_ratio
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
                {
                    draft.aspect_ratio = Some(AspectRatio::Adaptive.as_str().to_string());
                }
            }
            Mode::R2v => {
                if images.is_some() {
                    return Err(not_for("input.img_urls", Mode::I2v));
                }
                if ref_images.is_none() && ref_videos.is_none() {
                    return Err(ValidationError::invalid(
                        "input",
                        "At least one of reference_images or reference_videos must be provided",
                    ));
                }
                draft.reference_image_urls = ref_images;
                draft.reference_video_urls = ref_videos;
                draft.reference_audio_urls = ref_audios;
            }
        }
        Ok((draft, name))
    }
}

/// CRUN's name for a canonical field (possibly indexed: `reference_image_urls[2]`).
pub fn wire_field(canonical: &str) -> String {
    let (base, index) = match canonical.find('[') {
        Some(i) => canonical.split_at(i),
        None => (canonical, ""),
    };
    match base {
        "first_frame_url" => "input.img_urls[0]".to_string(),
        "last_frame_url" => "input.img_urls[1]".to_string(),
        "reference_image_urls" => format!("input.reference_images{index}"),
        "reference_video_urls" => format!("input.reference_videos{index}"),
        "reference_audio_urls" => format!("input.reference_audios{index}"),
        "generate_audio" => "input.audio".to_string(),
        "prompt" | "resolution" | "aspect_ratio" | "duration" | "return_last_frame" => {
            format!("input.{canonical}")
        }
        "mode" => "model".to_string(),
        _ => canonical.to_string(),
    }
}

/// A gateway error in CRUN's terms: field names renamed (also in a pricing error's
/// `field: reason` text), and an unavailable model named as the client named it.
fn wire_error(error: GatewayError, requested: &str) -> GatewayError {
    match error {
        GatewayError::Validation(ValidationError::ModelNotSupported { reason, .. }) => {
            GatewayError::Validation(ValidationError::ModelNotSupported {
                model: requested.to_string(),
                reason,
            })
        }
        other => other.renamed(wire_field),
    }
}

/// Parses a CreateTask body; returns the draft, the model name as sent, and the parsed JSON
/// for fingerprinting.
pub fn parse_create(
    body: &[u8],
    catalog: &Catalog,
) -> Result<(RequestDraft, String, Value), ValidationError> {
    let (wire, json): (CreateTaskRequest, Value) = common::parse_json_keeping(body)?;
    let (draft, name) = wire.into_draft(catalog)?;
    Ok((draft, name, json))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrunCreateTaskResponse)]
pub struct CreateTaskResponse {
    /// 200.
    pub code: u16,
    /// `success`.
    pub message: String,
    pub data: TaskIdData,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrunTaskIdData)]
pub struct TaskIdData {
    pub task_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrunTaskInfoResponse)]
pub struct TaskInfoResponse {
    pub code: u16,
    pub message: String,
    pub data: TaskInfo,
}

/// A task as CRUN reports it (any dialect's task of the same key).
#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = CrunTaskInfo)]
pub struct TaskInfo {
    pub task_id: String,
    /// `seedgate`.
    #[schema(value_type = String)]
    pub provider: &'static str,
    /// The canonical seedgate model, e.g. `seedance-2.0-mini`.
    pub model_version: String,
    /// `pending`, `running`, `success` or `failed`.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// The request, in CRUN's shape, as seedgate understood it.
    pub param: TaskParam,
    /// Unix seconds.
    pub create_at: i64,
    /// Unix seconds; null until the task finishes.
    pub complete_at: Option<i64>,
    /// Seconds from creation to completion; null until the task finishes.
    pub duration_s: Option<i64>,
    /// Credits charged (seedgate credits), on terminal states; 0 when refunded.
    pub credits: Option<u64>,
    /// `{media_urls}` on success, `{code: 501, message, media_urls: []}` on failure, else null.
    pub result: Option<TaskResult>,
    /// `api`.
    #[schema(value_type = String)]
    pub source: &'static str,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = CrunTaskParam)]
pub struct TaskParam {
    pub model: String,
    pub callback_url: Option<String>,
    pub input: ParamInput,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = CrunParamInput)]
pub struct ParamInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    pub resolution: String,
    /// `auto` for canonical `adaptive`.
    pub aspect_ratio: String,
    pub duration: u32,
    pub audio: bool,
    pub return_last_frame: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub img_urls: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_images: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_videos: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_audios: Option<Vec<String>>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = CrunTaskResult)]
pub struct TaskResult {
    /// 501 ("Generation Failed") on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub media_urls: Vec<String>,
    /// With `return_last_frame`: a PNG of the last frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_frame_url: Option<String>,
}

/// The `result.code` of a failed task.
pub const GENERATION_FAILED: u16 = 501;

fn list(urls: &[seedgate_core::media::MediaUrl]) -> Option<Vec<String>> {
    (!urls.is_empty()).then(|| urls.iter().map(|u| u.as_str().to_string()).collect())
}

/// The CRUN view of a task.
pub fn task_info(task: &Task) -> TaskInfo {
    let r = &task.request;
    let terminal = task.status.is_terminal();
    let finished = terminal.then(|| task.finished_at_ms.unwrap_or(task.updated_at_ms));
    let mut input = ParamInput {
        prompt: r.prompt.clone(),
        resolution: r.resolution.as_str().to_string(),
        aspect_ratio: match r.aspect_ratio {
            AspectRatio::Adaptive => "auto".to_string(),
            other => other.as_str().to_string(),
        },
        duration: r.duration_seconds,
        audio: r.generate_audio,
        return_last_frame: r.return_last_frame,
        img_urls: None,
        reference_images: None,
        reference_videos: None,
        reference_audios: None,
    };
    match r.mode {
        Mode::T2v => {}
        Mode::I2v => {
            input.img_urls = Some(
                r.first_frame_url
                    .iter()
                    .chain(&r.last_frame_url)
                    .map(|u| u.as_str().to_string())
                    .collect(),
            );
        }
        Mode::R2v => {
            input.reference_images = list(&r.reference_image_urls);
            input.reference_videos = list(&r.reference_video_urls);
            input.reference_audios = list(&r.reference_audio_urls);
        }
    }
    let result = match task.status {
        TaskStatus::Succeeded => Some(TaskResult {
            code: None,
            message: None,
            media_urls: task
                .output
                .as_ref()
                .map(|o| o.video_urls.clone())
                .unwrap_or_default(),
            last_frame_url: task.output.as_ref().and_then(|o| o.last_frame_url.clone()),
        }),
        TaskStatus::Failed => Some(TaskResult {
            code: Some(GENERATION_FAILED),
            message: Some(
                task.error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_else(|| "task failed".into()),
            ),
            media_urls: Vec::new(),
            last_frame_url: None,
        }),
        TaskStatus::Cancelled => Some(TaskResult {
            code: Some(GENERATION_FAILED),
            message: Some("task was cancelled; credits refunded".into()),
            media_urls: Vec::new(),
            last_frame_url: None,
        }),
        TaskStatus::Queued | TaskStatus::Running => None,
    };
    TaskInfo {
        task_id: task.id.to_string(),
        provider: "seedgate",
        model_version: r.model.clone(),
        status: match task.status {
            TaskStatus::Queued => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "success",
            TaskStatus::Failed | TaskStatus::Cancelled => "failed",
        },
        param: TaskParam {
            model: crun_model(&r.model, r.mode),
            callback_url: r.callback_url.clone(),
            input,
        },
        create_at: common::unix_seconds(task.created_at_ms),
        complete_at: finished.map(common::unix_seconds),
        duration_s: finished.map(|f| ((f - task.created_at_ms).max(0) + 500) / 1000),
        credits: terminal.then(|| {
            if task.status == TaskStatus::Succeeded {
                task.price.credits
            } else {
                0
            }
        }),
        result,
        source: "api",
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrunEstimateResponse)]
pub struct EstimateResponse {
    pub code: u16,
    pub message: String,
    pub data: EstimateData,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrunEstimateData)]
pub struct EstimateData {
    /// What CreateTask with the same body would charge (seedgate credits).
    pub credits: u64,
    /// Always true.
    pub estimated: bool,
}

/// The longest `name` an asset may be given.
const MAX_ASSET_NAME_CHARS: usize = 255;

/// `POST /api/v1/client/job/asset-upload` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = CrunAssetUploadRequest)]
#[serde(deny_unknown_fields)]
pub struct AssetUploadRequest {
    /// A label for the asset (at most 255 characters), returned by `asset-info` as `Name`.
    pub name: Option<String>,
    /// `Image`, `Video` or `Audio` (any case).
    pub asset_type: Option<String>,
    /// A public http(s) URL of the file.
    pub asset_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrunAssetUploadResponse)]
pub struct AssetUploadResponse {
    pub code: u16,
    pub message: String,
    pub data: AssetIdData,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrunAssetIdData)]
#[serde(rename_all = "PascalCase")]
pub struct AssetIdData {
    /// Use as `asset://<AssetId>` in `img_urls` or `reference_*`.
    pub asset_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrunAssetInfoResponse)]
pub struct AssetInfoResponse {
    pub code: u16,
    pub message: String,
    pub data: AssetInfo,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrunAssetInfo)]
#[serde(rename_all = "PascalCase")]
pub struct AssetInfo {
    pub asset_id: String,
    /// The `name` given at upload; the AssetId when none was given.
    pub name: String,
    /// `Image`, `Video` or `Audio`, as probed.
    #[schema(value_type = String)]
    pub asset_type: &'static str,
    /// Always `Active`: an asset is probed and checked before it is stored.
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Unix seconds.
    pub create_time: i64,
    /// Unix seconds.
    pub update_time: i64,
    /// The asset's URL.
    pub url: String,
}

fn asset_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "Image",
        MediaKind::Video => "Video",
        MediaKind::Audio => "Audio",
    }
}

pub fn asset_info(gateway: &Gateway, asset: &AssetRecord) -> AssetInfo {
    let at = common::unix_seconds(asset.created_at_ms);
    AssetInfo {
        asset_id: asset.id.clone(),
        name: asset.name.clone().unwrap_or_else(|| asset.id.clone()),
        asset_type: asset_type(asset.facts.kind),
        status: "Active",
        create_time: at,
        update_time: at,
        url: gateway.media_url(&asset.object_key),
    }
}

/// Every CRUN error: `code` equals the HTTP status; `data` is null.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CrunErrorEnvelope)]
pub struct ErrorEnvelope {
    pub code: u16,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub data: Value,
}

/// The code (HTTP status and body `code`) of a gateway error.
pub fn error_code(error: &GatewayError) -> u16 {
    match error {
        GatewayError::Unauthenticated(_) => 401,
        GatewayError::Validation(ValidationError::ModelNotSupported { .. }) => 505,
        GatewayError::Validation(_)
        | GatewayError::PricingUnavailable { .. }
        | GatewayError::IdempotencyKeyInvalid(_)
        | GatewayError::IdempotencyMismatch
        | GatewayError::QuotaExceeded { .. }
        | GatewayError::NotCancellable
        | GatewayError::NotDeletable => 422,
        GatewayError::InsufficientCredits { .. } => 402,
        GatewayError::PayloadTooLarge => 413,
        GatewayError::NotFound
        | GatewayError::AssetNotFound
        | GatewayError::RouteNotFound
        | GatewayError::MethodNotAllowed => 404,
        GatewayError::RateLimited { .. } | GatewayError::IdempotencyInFlight => 429,
        GatewayError::Unavailable(_) => 455,
        GatewayError::Internal(_) => 500,
    }
}

fn error_message(error: &GatewayError) -> String {
    match error {
        GatewayError::Unauthenticated(AuthFailure::Missing | AuthFailure::NotBearer) => {
            "Unauthorized: missing x-api-key header".into()
        }
        GatewayError::Unauthenticated(_) => format!("Unauthorized: {error}"),
        GatewayError::Validation(ValidationError::ModelNotSupported { model, .. }) => {
            format!("Feature Disabled: model `{model}` is not served by this gateway")
        }
        other => other.to_string(),
    }
}

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: Crun::NAME,
    path_prefixes: &["/api/v1/client/"],
    routes,
    error_response: <Crun as Dialect>::error_response,
    error_schema: "CrunErrorEnvelope",
    callback_body: Some(|task, _| crate::callbacks::json(&task_info(task))),
    hiapi_signature: false,
};

impl Dialect for Crun {
    const NAME: &'static str = "crun";

    /// `x-api-key: <key>` (header names are case-insensitive).
    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        let value = headers.get("x-api-key").ok_or(AuthFailure::Missing)?;
        let key = value.to_str().map_err(|_| AuthFailure::Invalid)?.trim();
        if key.is_empty() {
            return Err(AuthFailure::Missing);
        }
        Ok(key.to_string())
    }

    fn error_response(error: &GatewayError, _request_id: &RequestId) -> Response {
        let code = error_code(error);
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let envelope = ErrorEnvelope {
            code,
            message: error_message(error),
            data: Value::Null,
        };
        let mut response = common::json_response(status, &envelope);
        common::with_retry_after(&mut response, error);
        response
    }
}

fn ok<T: Serialize>(data: T) -> Response {
    common::json_response(
        StatusCode::OK,
        &serde_json::json!({"code": 200, "message": "success", "data": data}),
    )
}

fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(
        200,
        &CreateTaskResponse {
            code: 200,
            message: "success".into(),
            data: TaskIdData {
                task_id: task.id.to_string(),
            },
        },
    )
}

/// A CreateTask body as a draft and the model name it gave: shared by CreateTask and
/// estimate-credits.
fn parse_body(
    gateway: &Gateway,
    body: Result<Bytes, BytesRejection>,
) -> Result<(RequestDraft, String, Value), GatewayError> {
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    Ok(parse_create(&body, gateway.catalog())?)
}

fn query_param<'a>(
    query: &'a HashMap<String, String>,
    name: &str,
) -> Result<&'a str, GatewayError> {
    query
        .get(name)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ValidationError::Missing {
                field: name.to_string(),
            }
            .into()
        })
}

/// Create a video task; the model's suffix (`-t2v`, `-i2v`, `-r2v`) is the mode.
#[utoipa::path(post, path = "/api/v1/client/job/CreateTask", tag = "CRUN",
    request_body = CreateTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses((status = 200, description = "The task was accepted", body = CreateTaskResponse),
        (status = "4XX", body = ErrorEnvelope), (status = "5XX", body = ErrorEnvelope)),
    security(("x-api-key" = [])))]
async fn create_task(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Crun>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Crun> {
    let (draft, name, json) = parse_body(&gateway, body)?;
    Ok(common::submit::<Crun>(
        &gateway,
        &principal,
        &headers,
        CREATE_ROUTE,
        &json,
        draft,
        &render_created,
    )
    .await
    .map_err(|e| wire_error(e, &name))?)
}

/// A task of any dialect, by `task_id`.
#[utoipa::path(get, path = "/api/v1/client/job/TaskInfo", tag = "CRUN",
    params(("task_id" = String, Query, description = "The `task_id` CreateTask returned")),
    responses((status = 200, body = TaskInfoResponse), (status = 404, body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope)),
    security(("x-api-key" = [])))]
async fn task_info_handler(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Crun>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<Crun> {
    let id = query_param(&query, "task_id")?;
    let task = gateway.get_task(&principal, id).await?;
    Ok(ok(task_info(&task)))
}

/// What CreateTask with the same body would charge; nothing is charged.
#[utoipa::path(post, path = "/api/v1/client/job/estimate-credits", tag = "CRUN",
    request_body = CreateTaskRequest,
    responses((status = 200, body = EstimateResponse), (status = "4XX", body = ErrorEnvelope)),
    security(("x-api-key" = [])))]
async fn estimate_credits(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Crun>,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Crun> {
    let (draft, name, _) = parse_body(&gateway, body)?;
    let quote = gateway
        .quote(&principal, draft)
        .await
        .map_err(|e| wire_error(e, &name))?;
    Ok(ok(EstimateData {
        credits: quote.price.credits,
        estimated: true,
    }))
}

/// Register a reference asset from a URL; use it as `asset://<AssetId>`.
#[utoipa::path(post, path = "/api/v1/client/job/asset-upload", tag = "CRUN",
    request_body = AssetUploadRequest,
    responses((status = 200, body = AssetUploadResponse), (status = "4XX", body = ErrorEnvelope)),
    security(("x-api-key" = [])))]
async fn asset_upload(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Crun>,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Crun> {
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    let wire: AssetUploadRequest = common::parse_json(&body)?;
    let kind = match wire.asset_type.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(ValidationError::Missing {
                field: "asset_type".into(),
            }
            .into())
        }
        Some(t) if t.eq_ignore_ascii_case("image") => MediaKind::Image,
        Some(t) if t.eq_ignore_ascii_case("video") => MediaKind::Video,
        Some(t) if t.eq_ignore_ascii_case("audio") => MediaKind::Audio,
        Some(_) => {
            return Err(
                ValidationError::invalid("asset_type", "must be Image, Video or Audio").into(),
            )
        }
    };
    let url = wire
        .asset_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ValidationError::Missing {
            field: "asset_url".into(),
        })?;
    let name = wire
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if name
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_ASSET_NAME_CHARS)
    {
        return Err(ValidationError::invalid(
            "name",
            &format!("must be at most {MAX_ASSET_NAME_CHARS} characters"),
        )
        .into());
    }
    let asset = gateway
        .upload_asset_from_url(&principal, url, kind, name)
        .await
        .map_err(|e| {
            e.renamed(|f| {
                if f == "file" {
                    "asset_url".into()
                } else {
                    f.into()
                }
            })
        })?;
    Ok(ok(AssetIdData { asset_id: asset.id }))
}

/// An uploaded asset.
#[utoipa::path(get, path = "/api/v1/client/job/asset-info", tag = "CRUN",
    params(("asset_id" = String, Query, description = "The AssetId asset-upload returned")),
    responses((status = 200, body = AssetInfoResponse), (status = 404, body = ErrorEnvelope)),
    security(("x-api-key" = [])))]
async fn asset_info_handler(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Crun>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<Crun> {
    let id = query_param(&query, "asset_id")?;
    let asset = gateway.get_asset(&principal, id).await?;
    Ok(ok(asset_info(&gateway, &asset)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<RequestDraft, ValidationError> {
        parse_create(body.as_bytes(), &Catalog::builtin()).map(|(d, _, _)| d)
    }

    #[test]
    fn model_names() {
        let c = Catalog::builtin();
        assert_eq!(
            resolve_model("bytedance/seedance2-0-mini-r2v", &c),
            Ok(ResolvedModel {
                canonical: "seedance-2.0-mini".into(),
                mode: Mode::R2v
            })
        );
        assert_eq!(
            resolve_model("bytedance/seedance2-5-t2v", &c).map(|m| m.canonical),
            Ok("seedance-2.5".into())
        );
        assert!(matches!(
            resolve_model("bytedance/seedance2-0-fast-i2v", &c),
            Err(ValidationError::ModelNotSupported { .. })
        ));
        assert!(matches!(
            resolve_model("bytedance/seedance1-0-pro-r2v", &c),
            Err(ValidationError::Invalid { .. })
        ));
        assert!(matches!(
            resolve_model("seedance-2.0-mini", &c),
            Err(ValidationError::Invalid { .. })
        ));
        assert_eq!(
            crun_model("seedance-2.0-mini", Mode::I2v),
            "bytedance/seedance2-0-mini-i2v"
        );
    }

    #[test]
    fn modes_take_their_fields() {
        let d = parse(
            r#"{"model":"bytedance/seedance2-0-mini-i2v","input":{"img_urls":["https://e.com/a.png","asset://asset_1"]}}"#,
        )
        .expect("i2v");
        assert_eq!(d.first_frame_url.as_deref(), Some("https://e.com/a.png"));
        assert_eq!(d.last_frame_url.as_deref(), Some("asset://asset_1"));
        assert_eq!(d.aspect_ratio.as_deref(), Some("adaptive"));
        assert_eq!(d.explicit_mode, Some(Mode::I2v));
        let e = parse(r#"{"model":"bytedance/seedance2-0-mini-r2v","input":{"prompt":"p","reference_audios":["https://e.com/a.wav"]}}"#)
            .expect_err("audio only");
        assert!(
            e.to_string().contains("At least one of reference_images"),
            "{e}"
        );
        let e = parse(r#"{"model":"bytedance/seedance2-0-mini-t2v","input":{"prompt":"p","img_urls":["https://e.com/a.png"]}}"#)
            .expect_err("t2v with image");
        assert_eq!(e.field(), Some("input.img_urls"));
        let d = parse(r#"{"model":"bytedance/seedance2-0-mini-t2v","input":{"prompt":"p","audio":true,"aspect_ratio":"auto"}}"#)
            .expect("t2v");
        assert_eq!(d.generate_audio, Some(true));
        assert_eq!(d.aspect_ratio.as_deref(), Some("adaptive"));
    }

    /// Codes no black-box test can provoke (no rate limiter, a healthy store) still come out in
    /// both the HTTP status and the body.
    #[test]
    fn every_error_has_its_code_in_status_and_body() {
        use std::time::Duration;
        let rid = RequestId::generate();
        let cases = [
            (GatewayError::Unauthenticated(AuthFailure::Revoked), 401),
            (
                GatewayError::InsufficientCredits {
                    needed: 5,
                    available: 1,
                },
                402,
            ),
            (GatewayError::NotFound, 404),
            (GatewayError::AssetNotFound, 404),
            (GatewayError::MethodNotAllowed, 404),
            (
                ValidationError::invalid("input.duration", "bad").into(),
                422,
            ),
            (GatewayError::IdempotencyMismatch, 422),
            (
                GatewayError::RateLimited {
                    retry_after: Duration::from_secs(3),
                },
                429,
            ),
            (GatewayError::IdempotencyInFlight, 429),
            (GatewayError::Unavailable("db".into()), 455),
            (GatewayError::Internal("x".into()), 500),
            (
                ValidationError::ModelNotSupported {
                    model: "bytedance/seedance2-5-t2v".into(),
                    reason: "off".into(),
                }
                .into(),
                505,
            ),
        ];
        for (error, code) in cases {
            let response = Crun::error_response(&error, &rid);
            assert_eq!(response.status().as_u16(), code, "{error:?}");
            assert_eq!(error_code(&error), code);
            if code == 429 && matches!(error, GatewayError::RateLimited { .. }) {
                assert_eq!(response.headers()["retry-after"], "3");
            }
        }
    }

    #[test]
    fn credential_is_the_x_api_key_header() {
        let mut h = HeaderMap::new();
        assert_eq!(Crun::credential(&h), Err(AuthFailure::Missing));
        h.insert(
            "authorization",
            axum::http::HeaderValue::from_static("Bearer sg_live_a"),
        );
        assert_eq!(Crun::credential(&h), Err(AuthFailure::Missing));
        h.insert(
            "X-API-KEY",
            axum::http::HeaderValue::from_static(" sg_live_a "),
        );
        assert_eq!(Crun::credential(&h), Ok("sg_live_a".into()));
    }

    #[test]
    fn field_names() {
        assert_eq!(
            wire_field("reference_video_urls[1]"),
            "input.reference_videos[1]"
        );
        assert_eq!(wire_field("first_frame_url"), "input.img_urls[0]");
        assert_eq!(wire_field("generate_audio"), "input.audio");
        assert_eq!(wire_field("mode"), "model");
    }
}

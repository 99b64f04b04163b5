//! CRUN's wire types: the CreateTask and asset-upload bodies and every answer's `data`.

use crate::common;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

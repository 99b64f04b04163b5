//! The videos API's wire types: the create request (JSON and multipart form), the video
//! object, the list, and the query parameters.

use crate::common;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

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

/// The query parameters of a list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub after: Option<String>,
    #[serde(default, deserialize_with = "common::de::int_or_string")]
    pub limit: Option<i64>,
    pub order: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContentParams {
    pub(super) variant: Option<String>,
}

//! reAPI's wire types: the submit body, the task, estimate and asset objects.

use crate::common;
use seedgate_core::media::MediaFacts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/videos/generations`: the 12 input fields of seedance-2.0-mini, plus the
/// Seedance 2.5 request shape (`size`, `image_urls`, `image_with_roles`, `video_urls`,
/// `audio_urls`, `seed`, `return_last_frame`, `tools`), which every model accepts.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ReApiSubmitRequest)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// `seedance-2.0-mini` (or an alias such as `seedance-2-0-mini`).
    pub model: Option<String>,
    /// Optional when a first frame or reference images carry the content.
    pub prompt: Option<String>,
    /// Image-to-video: the first frame.
    pub first_frame_url: Option<String>,
    /// Image-to-video: the last frame (needs `first_frame_url`).
    pub last_frame_url: Option<String>,
    pub reference_image_urls: Option<Vec<String>>,
    pub reference_video_urls: Option<Vec<String>>,
    pub reference_audio_urls: Option<Vec<String>>,
    pub generate_audio: Option<bool>,
    /// `480p` or `720p` (default 720p).
    pub resolution: Option<String>,
    /// `16:9` (default), `9:16`, `1:1`, `4:3`, `3:4`, `21:9`, `adaptive`.
    pub aspect_ratio: Option<String>,
    /// Seconds, 4 to 15 (default 5).
    #[serde(default, deserialize_with = "common::de::int")]
    pub duration: Option<i64>,
    pub web_search: Option<bool>,
    pub nsfw_checker: Option<bool>,
    /// 2.5 shape: the aspect ratio (same values as `aspect_ratio`).
    pub size: Option<String>,
    /// 2.5 shape: reference images.
    pub image_urls: Option<Vec<String>>,
    /// 2.5 shape: images with an explicit role.
    pub image_with_roles: Option<Vec<ImageWithRole>>,
    /// 2.5 shape: reference videos.
    pub video_urls: Option<Vec<String>>,
    /// 2.5 shape: reference audio.
    pub audio_urls: Option<Vec<String>>,
    /// `-1` (random) or 0 to 4294967295.
    #[serde(default, deserialize_with = "common::de::int")]
    pub seed: Option<i64>,
    /// Also return `output.last_frame_url`, a PNG of the last frame.
    pub return_last_frame: Option<bool>,
    /// `[{"type":"web_search"}]` lets the model search the web.
    pub tools: Option<Vec<Tool>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ReApiImageWithRole)]
#[serde(deny_unknown_fields)]
pub struct ImageWithRole {
    pub url: String,
    /// `first_frame`, `last_frame` or `reference_image`.
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ReApiTool)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `web_search`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ReApiTaskObject)]
pub struct TaskObject {
    pub id: String,
    pub model: String,
    /// processing | completed | failed
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    pub output: Option<Output>,
    pub error: Option<TaskFailure>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ReApiOutput)]
pub struct Output {
    pub video_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_frame_url: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ReApiTaskFailure)]
pub struct TaskFailure {
    pub code: u32,
    pub message: String,
}

/// The estimate of a request: what submitting it would charge, and what was measured of its
/// media. Nothing is charged for an estimate.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiEstimateObject)]
pub struct EstimateObject {
    pub model: String,
    #[schema(value_type = String)]
    pub mode: &'static str,
    #[schema(value_type = String)]
    pub resolution: &'static str,
    #[schema(value_type = String)]
    pub aspect_ratio: &'static str,
    pub duration: u32,
    pub output: OutputSize,
    pub billable_seconds: u32,
    pub credits: u64,
    pub usd_per_second: f64,
    pub media: Vec<MediumObject>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiOutputSize)]
pub struct OutputSize {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiMediumObject)]
pub struct MediumObject {
    pub field: String,
    pub url: String,
    /// What the probe measured: kind, format, width, height, duration, fps, bytes.
    #[schema(value_type = Object)]
    pub probe: MediaFacts,
}

/// An uploaded asset.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiAssetObject)]
pub struct AssetObject {
    pub id: String,
    /// Use this URL as reference media in a request.
    pub url: String,
    pub content_type: String,
    pub created_at: i64,
    #[schema(value_type = Object)]
    pub probe: MediaFacts,
}

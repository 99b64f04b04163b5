//! Ark's wire types: the create body and its `content[]`, the task object and the list.

use crate::common;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v3/contents/generations/tasks` (upstream-contracts §1.4). Every field Ark
/// documents is accepted by the parser; see the module documentation for the ones seedgate
/// refuses or ignores.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ArkCreateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// Model ID, e.g. `dreamina-seedance-2-0-mini-260615` or `doubao-seedance-2-0-mini-260615`
    /// (any name the catalog knows).
    pub model: Option<String>,
    /// The prompt and media, a union by `type`: `text`, `image_url`, `video_url`, `audio_url`
    /// (`draft_task` is refused: Seedance 1.5 pro only).
    pub content: Option<Vec<ContentItem>>,
    /// Where the result is sent when the task finishes.
    pub callback_url: Option<String>,
    /// Also return `content.last_frame_url`, a PNG of the last frame.
    pub return_last_frame: Option<bool>,
    /// `default` (`flex` is not supported by the 2.x models).
    pub service_tier: Option<String>,
    /// Seconds, 3600 to 259200 (default 172800): a task not finished this long after it was
    /// created expires (status `expired`, refunded).
    #[serde(default, deserialize_with = "common::de::int")]
    pub execution_expires_after: Option<i64>,
    /// Default `true`.
    pub generate_audio: Option<bool>,
    /// Seedance 1.5 pro only: `true` is refused.
    pub draft: Option<bool>,
    /// `[{"type":"web_search"}]`.
    pub tools: Option<Vec<Tool>>,
    /// At most 64 ASCII characters: kept, echoed by GET and passed on to Ark upstreams.
    pub safety_identifier: Option<String>,
    /// `480p` or `720p` (default 720p).
    pub resolution: Option<String>,
    /// `16:9`, `4:3`, `1:1`, `3:4`, `9:16`, `21:9` or `adaptive` (default).
    pub ratio: Option<String>,
    /// Seconds, 4 to 15 (default 5). `-1` (model chooses) is refused.
    #[serde(default, deserialize_with = "common::de::int")]
    pub duration: Option<i64>,
    /// Seedance 1.0 only: refused.
    #[serde(default, deserialize_with = "common::de::int")]
    pub frames: Option<i64>,
    /// `-1` (random, default) or 0 to 4294967295.
    #[serde(default, deserialize_with = "common::de::int")]
    pub seed: Option<i64>,
    /// Seedance 1.0 and 1.5 only: `true` is refused.
    pub camera_fixed: Option<bool>,
    /// Accepted, not acted on (seedgate never watermarks).
    pub watermark: Option<bool>,
    /// Kept, echoed by GET and passed on to Ark upstreams (it does not reorder seedgate's own
    /// queue).
    #[serde(default, deserialize_with = "common::de::int")]
    pub priority: Option<i64>,
    /// Seedance 2.5 only: refused.
    pub omni_reference_task_type: Option<String>,
    /// `mp4` (default); `mov` is Seedance 2.5 only.
    pub output_format: Option<String>,
}

/// One `content[]` item: `{"type":"text","text":…}`,
/// `{"type":"image_url","image_url":{"url":…},"role":…}`, `{"type":"video_url",…}`,
/// `{"type":"audio_url",…}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ArkContentItem)]
#[serde(deny_unknown_fields)]
pub struct ContentItem {
    /// `text`, `image_url`, `video_url`, `audio_url` (or `draft_task`, refused).
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
    pub image_url: Option<MediaRef>,
    pub video_url: Option<MediaRef>,
    pub audio_url: Option<MediaRef>,
    pub draft_task: Option<DraftTaskRef>,
    /// Images: `first_frame`, `last_frame`, `reference_image` (a single image without a role is
    /// the first frame); videos: `reference_video`; audio: `reference_audio`.
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ArkMediaRef)]
#[serde(deny_unknown_fields)]
pub struct MediaRef {
    /// An http(s) URL or `asset://<id>`; `data:` URIs are refused.
    pub url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ArkDraftTaskRef)]
#[serde(deny_unknown_fields)]
pub struct DraftTaskRef {
    pub id: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkTool)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `web_search`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `{"id": "task_…"}`: all Ark's create answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ArkCreateTaskResponse)]
pub struct CreateTaskResponse {
    pub id: String,
}

/// The task object of GET (upstream-contracts §1.7); also each item of the list.
#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ArkTaskObject)]
pub struct TaskObject {
    pub id: String,
    /// The model's name-version id: the one the client sent, else the catalog's Ark id.
    pub model: String,
    /// queued | running | succeeded | failed | cancelled | expired
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Only when `succeeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<TaskContent>,
    /// `null`, or `{code, message}` when failed or expired.
    pub error: Option<TaskFailure>,
    /// Only when `succeeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// The requested seed; `-1` when the model chose.
    pub seed: i64,
    #[schema(value_type = String)]
    pub resolution: &'static str,
    /// The actual ratio (`adaptive` resolved once the video exists).
    #[schema(value_type = String)]
    pub ratio: &'static str,
    /// Seconds.
    pub duration: u32,
    pub framespersecond: u32,
    pub generate_audio: bool,
    pub draft: bool,
    #[schema(value_type = String)]
    pub service_tier: &'static str,
    /// Seconds from creation: the task expires (refunded) if not finished by then.
    pub execution_expires_after: u32,
    pub priority: i64,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    #[schema(value_type = String)]
    pub output_format: &'static str,
    /// `[{"type":"web_search"}]` when web search was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ArkTaskContent)]
pub struct TaskContent {
    pub video_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_frame_url: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ArkTaskFailure)]
pub struct TaskFailure {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ArkUsage)]
pub struct Usage {
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// `{"total": N, "items": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ArkTaskList)]
pub struct TaskList {
    pub total: u64,
    pub items: Vec<TaskObject>,
}

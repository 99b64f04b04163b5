//! HiAPI's wire types: the create body, the task, its list and the answers around them.

use crate::common;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/tasks`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = HiApiCreateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// `seedance-2.0-mini` (or an alias such as `seedance-2-0-mini`).
    pub model: Option<String>,
    /// The model's parameters.
    pub input: Option<Input>,
    /// Notify a URL when the task reaches a terminal state.
    pub callback: Option<Callback>,
}

/// `input` of seedance-2.0-mini.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = HiApiInput)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Required.
    pub prompt: Option<String>,
    /// `480p` or `720p` (default 720p).
    pub resolution: Option<String>,
    /// Seconds, 4 to 15 (default 5).
    #[serde(default, deserialize_with = "common::de::int")]
    pub duration: Option<i64>,
    /// `16:9` (default), `9:16`, `1:1`, `4:3`, `3:4`, `21:9`, `adaptive`.
    pub aspect_ratio: Option<String>,
    /// Default true.
    pub generate_audio: Option<bool>,
    /// Image-to-video: the first frame (excludes reference media).
    pub first_frame_url: Option<String>,
    /// Image-to-video: the last frame (needs `first_frame_url`).
    pub last_frame_url: Option<String>,
    /// At most 9, counted together with the frames.
    pub reference_image_urls: Option<Vec<String>>,
    /// At most 3, 15 s in all.
    pub reference_video_urls: Option<Vec<String>>,
    /// At most 3, 15 s in all; not the only reference.
    pub reference_audio_urls: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = HiApiCallback)]
#[serde(deny_unknown_fields)]
pub struct Callback {
    /// Required when `callback` is set: an http(s) URL.
    pub url: Option<String>,
    /// `final` (the default and only value): fires on success and on failure.
    pub when: Option<String>,
}

/// `{"code":200,"message":"success","data":{"taskId":…}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiCreateResponse)]
pub struct CreateResponse {
    pub code: u16,
    pub message: String,
    pub data: CreatedTask,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiCreatedTask)]
pub struct CreatedTask {
    #[serde(rename = "taskId")]
    pub task_id: String,
}

/// `GET /v1/tasks/{id}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiTaskResponse)]
pub struct TaskResponse {
    pub code: u16,
    pub message: String,
    pub data: TaskData,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = HiApiTaskData)]
pub struct TaskData {
    #[serde(rename = "taskId")]
    pub task_id: String,
    pub model: String,
    /// queued | handling | archiving | success | fail
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds; 0 until the task is terminal.
    pub completed: i64,
    /// Only on `success`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Vec<OutputItem>>,
    /// Only on `fail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskFailure>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = HiApiOutputItem)]
pub struct OutputItem {
    pub url: String,
    /// `video` or `last_frame`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// Unix seconds.
    #[serde(rename = "expireAt")]
    pub expire_at: i64,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = HiApiTaskFailure)]
pub struct TaskFailure {
    /// `CONTENT_MODERATION`, `INVALID_INPUT`, `UPSTREAM_RATE_LIMITED`, `UPSTREAM_ERROR`,
    /// `TIMEOUT`, `EXPIRED`, `INTERNAL_ERROR` or `CANCELLED`.
    #[schema(value_type = String)]
    pub code: &'static str,
    pub message: String,
}

/// `GET /v1/tasks?page=&size=`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiListResponse)]
pub struct ListResponse {
    pub code: u16,
    pub message: String,
    pub data: TaskList,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiTaskList)]
pub struct TaskList {
    pub page: u64,
    pub size: u32,
    /// Tasks of the key, over all pages.
    pub total: u64,
    /// Newest first.
    pub tasks: Vec<ListedTask>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = HiApiListedTask)]
pub struct ListedTask {
    #[serde(rename = "taskId")]
    pub task_id: String,
    pub model: String,
    #[schema(value_type = String)]
    pub status: &'static str,
    pub created: i64,
    pub completed: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Vec<OutputItem>>,
}

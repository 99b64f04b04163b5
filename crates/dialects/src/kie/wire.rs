//! Kie's wire types: the createTask body, the record and the answers around them.

use crate::common;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/jobs/createTask`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = KieCreateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// `bytedance/seedance-2-mini` (or an alias such as `seedance-2.0-mini`).
    pub model: Option<String>,
    /// Where the result is posted when the task finishes.
    #[serde(rename = "callBackUrl")]
    pub call_back_url: Option<String>,
    /// The model's parameters.
    pub input: Option<Input>,
}

/// `input` of bytedance/seedance-2-mini.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = KieInput)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Optional when a first frame or reference images carry the content.
    pub prompt: Option<String>,
    /// Image-to-video: the first frame (a URL or `asset://{assetId}`).
    pub first_frame_url: Option<String>,
    /// Image-to-video: the last frame (needs `first_frame_url`).
    pub last_frame_url: Option<String>,
    /// At most 9.
    pub reference_image_urls: Option<Vec<String>>,
    /// At most 3; 2–15 s each, 15 s in all; mp4/mov.
    pub reference_video_urls: Option<Vec<String>>,
    /// At most 3; 15 s in all; wav/mp3.
    pub reference_audio_urls: Option<Vec<String>>,
    /// Default true.
    pub generate_audio: Option<bool>,
    /// `480p` or `720p` (default 720p).
    pub resolution: Option<String>,
    /// `16:9` (default), `9:16`, `1:1`, `4:3`, `3:4`, `21:9`, `adaptive`.
    pub aspect_ratio: Option<String>,
    /// Seconds, 4 to 15 (default 5).
    #[serde(default, deserialize_with = "common::de::int")]
    pub duration: Option<i64>,
    /// Default false.
    pub web_search: Option<bool>,
    /// Default false.
    pub nsfw_checker: Option<bool>,
}

/// `{"code":200,"msg":"success","data":{"taskId":…}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KieCreateResponse)]
pub struct CreateResponse {
    pub code: u16,
    pub msg: String,
    pub data: CreatedTask,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KieCreatedTask)]
pub struct CreatedTask {
    #[serde(rename = "taskId")]
    pub task_id: String,
}

/// `GET /api/v1/jobs/recordInfo`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KieRecordInfoResponse)]
pub struct RecordInfoResponse {
    pub code: u16,
    pub message: String,
    pub data: Record,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = KieRecord)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub task_id: String,
    pub model: String,
    /// waiting | queuing | generating | success | fail
    #[schema(value_type = String)]
    pub state: &'static str,
    /// The create body, as a JSON string (reconstructed from the validated request).
    pub param: String,
    /// `{"resultUrls":[…]}` as a JSON string on success, `""` otherwise.
    pub result_json: String,
    /// `""` unless the task failed.
    pub fail_code: String,
    /// `""` unless the task failed.
    pub fail_msg: String,
    /// Unix ms; null until the task is terminal.
    pub complete_time: Option<i64>,
    /// Unix ms.
    pub create_time: i64,
    /// Unix ms.
    pub update_time: i64,
    /// Milliseconds from creation to completion; null until the task is terminal.
    pub cost_time: Option<i64>,
}

/// The create body `param` reports.
#[derive(Debug, Serialize, PartialEq)]
pub(super) struct ParamBody<'a> {
    pub(super) model: &'a str,
    #[serde(rename = "callBackUrl", skip_serializing_if = "Option::is_none")]
    pub(super) call_back_url: Option<&'a str>,
    pub(super) input: ParamInput<'a>,
}

#[derive(Debug, Serialize, PartialEq)]
pub(super) struct ParamInput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) first_frame_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) last_frame_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) reference_image_urls: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) reference_video_urls: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) reference_audio_urls: Vec<&'a str>,
    pub(super) generate_audio: bool,
    pub(super) resolution: &'static str,
    pub(super) aspect_ratio: &'static str,
    pub(super) duration: u32,
    pub(super) web_search: bool,
    pub(super) nsfw_checker: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct ResultJson<'a> {
    #[serde(rename = "resultUrls")]
    pub(super) result_urls: &'a [String],
}

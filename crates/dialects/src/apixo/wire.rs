//! APIXO's wire types: the generateTask body and the answers of generateTask and statusTask.

use crate::common;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

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
pub(super) struct ResultJson<'a> {
    pub(super) result_urls: &'a [String],
}

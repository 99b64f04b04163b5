//! APIXO's API (apixo.ai; upstream-contracts §3.3): seedgate serves it (the `apixo` dialect)
//! and forwards to it (the `apixo` upstream kind).
//!
//! | Route | Body |
//! |---|---|
//! | `POST /api/v1/generateTask/{model}` | [`GenerateTaskRequest`] → [`GenerateTaskResponse`] |
//! | `GET /api/v1/statusTask/{model}?taskId=` | [`StatusTaskResponse`] (also a callback's body) |
//! | any error | [`ErrorEnvelope`], `code` being the HTTP status |
//!
//! The type docs are the ones seedgate's OpenAPI document shows (schema names `Apixo…`).
//!
//! Leniency: the request body refuses unknown fields, as seedgate's dialect does, and reads
//! `duration` from a numeric string and media items from `{"url": …}` objects. Answers ignore
//! fields they do not know, and a field of an odd shape reads as its default rather than making
//! the whole answer unreadable (`code` from a string, an id or `failCode` from a number,
//! `resultJson` as an object), so that the upstream side keeps classifying what servers send.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use utoipa::ToSchema;

/// `POST /api/v1/generateTask/{model}` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ApixoGenerateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct GenerateTaskRequest {
    /// `async` (default: poll `statusTask`) or `callback` (needs `callback_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    /// Required when `request_type` is `callback`; ignored otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Routing strategy: `auto`, `value` or `official` (accepted; seedgate has one route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The generation parameters (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<GenerateInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ApixoGenerateInput)]
#[serde(deny_unknown_fields)]
pub struct GenerateInput {
    /// `text-to-video`, `first_and_last_frames` or `omni_reference` (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Required, non-empty after trimming.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `480p` or `720p` (default 720p); trimmed and lower-cased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// Seconds, 4 to 15 (default 5); an integer or a numeric string such as `"10"`.
    #[serde(
        default,
        deserialize_with = "crate::de::int_or_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<i64>,
    /// `auto` (default), `16:9`, `4:3`, `1:1`, `3:4`, `9:16`, `21:9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<String>,
    /// Generate an audio track (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sound: Option<bool>,
    /// Let the model search the web (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<bool>,
    /// `first_and_last_frames`: 1–2 frames; `omni_reference`: up to 9 reference images. Items
    /// are URL strings or `{"url":"…"}` objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub image_urls: Option<Vec<MediaItem>>,
    /// `omni_reference`: up to 3 reference videos, 2–15 s each, 15 s in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub video_urls: Option<Vec<MediaItem>>,
    /// `omni_reference`: up to 3 reference audio files, 2–15 s each, 15 s in all; not alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub audio_urls: Option<Vec<MediaItem>>,
    /// Seedance 1.5 pro only; refused for the models seedgate serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_lens: Option<bool>,
}

/// A media URL given as a string or as an object with a non-empty `url` (other keys ignored);
/// always written as the string.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ApixoGenerateTaskResponse)]
pub struct GenerateTaskResponse {
    /// 200.
    #[serde(default, deserialize_with = "lenient::code")]
    #[schema(required = true)]
    pub code: u16,
    /// `success`.
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub message: String,
    pub data: TaskIdData,
}

/// Written as `taskId`; read from `taskId`, else `task_id` (as some servers spell it), a
/// number as its text. Missing or empty reads as an empty id, for the reader to refuse.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = ApixoTaskIdData)]
#[serde(rename_all = "camelCase")]
pub struct TaskIdData {
    pub task_id: String,
}

impl<'de> Deserialize<'de> for TaskIdData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // By hand rather than with a serde alias: an answer carrying both spellings is read
        // (the first wins) instead of refused as a duplicate field.
        let data = lenient::object(d)?;
        Ok(TaskIdData {
            task_id: lenient::first_text(&data, &["taskId", "task_id"]).unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ApixoStatusTaskResponse)]
pub struct StatusTaskResponse {
    /// 200.
    #[serde(default, deserialize_with = "lenient::code")]
    #[schema(required = true)]
    pub code: u16,
    /// `success`.
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub message: String,
    pub data: StatusData,
}

/// A task as APIXO reports it. Which fields appear depends on `state`: `pending` and
/// `processing` carry `taskId`, `state`, `createTime`; `success` adds `resultJson`,
/// `completeTime` and `costTime`; `failed` adds `failCode`, `failMsg` and `completeTime`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[schema(as = ApixoStatusData)]
#[serde(rename_all = "camelCase")]
pub struct StatusData {
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub task_id: String,
    /// `pending`, `processing`, `success` or `failed`.
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(value_type = String, required = true)]
    pub state: Cow<'static, str>,
    /// A JSON string: `{"resultUrls":["https://…mp4"]}`.
    #[serde(
        default,
        deserialize_with = "lenient::json_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub result_json: Option<String>,
    /// See [`fail_code`].
    #[serde(
        default,
        deserialize_with = "lenient::optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub fail_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub fail_msg: Option<String>,
    /// Unix milliseconds.
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(required = true)]
    pub create_time: i64,
    /// Unix milliseconds.
    #[serde(
        default,
        deserialize_with = "lenient::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub complete_time: Option<i64>,
    /// `completeTime − createTime`, milliseconds.
    #[serde(
        default,
        deserialize_with = "lenient::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub cost_time: Option<i64>,
}

/// Every APIXO error: `code` is the HTTP status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ApixoErrorEnvelope)]
pub struct ErrorEnvelope {
    #[serde(default, deserialize_with = "lenient::code")]
    #[schema(required = true)]
    pub code: u16,
    /// The category: `Invalid request`, `Unauthorized`, …
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub message: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(required = true)]
    pub data: ErrorData,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ApixoErrorData)]
pub struct ErrorData {
    /// What exactly was wrong, e.g. `Missing required field: input.prompt`.
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub error: String,
}

/// Lenient readers for answers (also used by [`crate::crun`], whose envelope is the same
/// family): a field of an odd shape reads as its default, so one bad field does not make a
/// whole answer unreadable.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::{Map, Value};

    pub use crate::de::{optional_text, or_default, text, text_of};

    /// An envelope code: a number or a numeric string; 0 (not said) otherwise.
    pub fn code<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        Ok(optional_code(d)?.unwrap_or_default())
    }

    pub fn optional_code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        Ok(text_of(&Value::deserialize(d)?).and_then(|t| t.trim().parse().ok()))
    }

    /// A JSON document carried as text: a string as it is; any other value (an object, as
    /// some servers send it) as its JSON text; null is none.
    pub fn json_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        })
    }

    /// A list of URLs: the non-empty strings (and numbers) of an array, or a single string.
    pub fn urls<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Array(items) => items.iter().filter_map(text_of).collect(),
            other => text_of(&other).into_iter().collect(),
        })
    }

    /// An object; anything else is an error (the one shape an answer's `data` must have).
    pub fn object<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::Object(map) => Ok(map),
            _ => Err(D::Error::custom("must be an object")),
        }
    }

    /// The text under the first of `keys` present (as [`text_of`] reads it).
    pub fn first_text(map: &Map<String, Value>, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| map.get(*k).and_then(text_of))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::test_support::round_trip;

    #[test]
    fn the_request_writes_only_what_is_set_and_refuses_unknown_fields() {
        let body = GenerateTaskRequest {
            request_type: Some("callback".into()),
            callback_url: Some("https://e.com/cb".into()),
            provider: None,
            input: Some(GenerateInput {
                mode: Some("first_and_last_frames".into()),
                prompt: Some("p".into()),
                duration: Some(10),
                image_urls: Some(vec![MediaItem("https://e.com/a.png".into())]),
                ..GenerateInput::default()
            }),
        };
        assert_eq!(
            round_trip(&body),
            json!({"request_type": "callback", "callback_url": "https://e.com/cb",
                   "input": {"mode": "first_and_last_frames", "prompt": "p", "duration": 10,
                             "image_urls": ["https://e.com/a.png"]}})
        );
        let read: GenerateTaskRequest = serde_json::from_value(json!({"input": {
            "duration": "10", "image_urls": [{"url": "https://e.com/a.png", "x": 1}]}}))
        .expect("lenient where the dialect is");
        let input = read.input.expect("input");
        assert_eq!(input.duration, Some(10));
        assert_eq!(
            input.image_urls,
            Some(vec![MediaItem("https://e.com/a.png".into())])
        );
        let err = serde_json::from_value::<GenerateTaskRequest>(json!({"model": "x"}))
            .expect_err("unknown field");
        assert!(err.to_string().contains("model"), "{err}");
        assert!(
            serde_json::from_value::<GenerateInput>(json!({"image_urls": [{"uri": "x"}]})).is_err()
        );
    }

    #[test]
    fn answers_round_trip() {
        round_trip(&GenerateTaskResponse {
            code: 200,
            message: "success".into(),
            data: TaskIdData {
                task_id: "task_1".into(),
            },
        });
        let failed = StatusTaskResponse {
            code: 200,
            message: "success".into(),
            data: StatusData {
                task_id: "task_1".into(),
                state: Cow::Borrowed("failed"),
                fail_code: Some("SensitiveContent".into()),
                fail_msg: Some("no".into()),
                create_time: 1_767_965_610_929,
                complete_time: Some(1_767_965_620_132),
                ..StatusData::default()
            },
        };
        let json = round_trip(&failed);
        assert!(json["data"].get("resultJson").is_none(), "{json}");
        round_trip(&ErrorEnvelope {
            code: 400,
            message: "Invalid request".into(),
            data: ErrorData {
                error: "Missing required field: input.prompt".into(),
            },
        });
    }

    #[test]
    fn answers_are_read_leniently() {
        let created: GenerateTaskResponse =
            serde_json::from_value(json!({"code": "200", "data": {"task_id": 42, "extra": 1}}))
                .expect("snake_case id");
        assert_eq!((created.code, created.data.task_id.as_str()), (200, "42"));
        let both: GenerateTaskResponse =
            serde_json::from_value(json!({"data": {"taskId": "a", "task_id": "b"}}))
                .expect("both spellings");
        assert_eq!(both.data.task_id, "a");
        assert!(serde_json::from_value::<GenerateTaskResponse>(json!({"code": 200})).is_err());
        let status: StatusTaskResponse = serde_json::from_value(json!({"data": {
            "state": 7, "failCode": 501, "failMsg": "", "createTime": "soon",
            "resultJson": {"resultUrls": ["https://e.com/v.mp4"]}, "other": true}}))
        .expect("odd fields");
        let data = status.data;
        assert_eq!(data.state, "", "a state that is not a string is no state");
        assert_eq!(data.fail_code.as_deref(), Some("501"));
        assert_eq!(data.fail_msg, None);
        assert_eq!(data.create_time, 0);
        assert_eq!(
            data.result_json.as_deref(),
            Some(r#"{"resultUrls":["https://e.com/v.mp4"]}"#)
        );
        let error: ErrorEnvelope =
            serde_json::from_value(json!({"code": "429", "message": "slow"})).expect("no data");
        assert_eq!((error.code, error.data.error.as_str()), (429, ""));
    }

    #[test]
    fn schema_names_are_the_dialects() {
        use utoipa::ToSchema as _;
        assert_eq!(GenerateTaskRequest::name(), "ApixoGenerateTaskRequest");
        assert_eq!(GenerateInput::name(), "ApixoGenerateInput");
        assert_eq!(GenerateTaskResponse::name(), "ApixoGenerateTaskResponse");
        assert_eq!(TaskIdData::name(), "ApixoTaskIdData");
        assert_eq!(StatusTaskResponse::name(), "ApixoStatusTaskResponse");
        assert_eq!(StatusData::name(), "ApixoStatusData");
        assert_eq!(ErrorEnvelope::name(), "ApixoErrorEnvelope");
        assert_eq!(ErrorData::name(), "ApixoErrorData");
    }
}

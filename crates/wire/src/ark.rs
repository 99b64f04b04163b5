//! The BytePlus ModelArk / Volcengine Ark content-generation task API
//! (upstream-contracts §1): seedgate serves it (the `ark` dialect) and forwards to it (the `ark`
//! upstream kind).
//!
//! | Route | Body |
//! |---|---|
//! | `POST /api/v3/contents/generations/tasks` | [`CreateTaskRequest`] → [`CreateTaskResponse`] |
//! | `GET /api/v3/contents/generations/tasks/{id}` (and a callback) | [`TaskObject`] |
//! | `GET /api/v3/contents/generations/tasks` | [`TaskList`] |
//! | any error | [`ErrorEnvelope`] (read as an [`ErrorAnswer`]) |
//!
//! The schema names (`Ark…`), doc comments and examples are the ones seedgate's OpenAPI
//! document shows, so the dialect renders these very types without its document changing.
//!
//! The create body refuses unknown fields (as seedgate's dialect does) and leaves out, when
//! written, every field it does not carry. Responses are read leniently: unknown fields are
//! ignored, and a field that is missing or of an odd type reads as empty (the upstream only
//! relies on `id`, `status`, `content` and `error`, and must not lose a task's status because
//! a server sent, say, `seed` as a string). Empty strings stand for "absent" when read.

use crate::de;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use utoipa::ToSchema;

/// `POST /api/v3/contents/generations/tasks` (upstream-contracts §1.4). Every field Ark
/// documents is accepted by the parser; see the module documentation for the ones seedgate
/// refuses or ignores.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkCreateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// Model ID, e.g. `dreamina-seedance-2-0-mini-260615` or `doubao-seedance-2-0-mini-260615`
    /// (any name the catalog knows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The prompt and media, a union by `type`: `text`, `image_url`, `video_url`, `audio_url`
    /// (`draft_task` is refused: Seedance 1.5 pro only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<ContentItem>>,
    /// Where the result is sent when the task finishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Also return `content.last_frame_url`, a PNG of the last frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_last_frame: Option<bool>,
    /// `default` (`flex` is not supported by the 2.x models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Seconds, 3600 to 259200 (default 172800): a task not finished this long after it was
    /// created expires (status `expired`, refunded).
    #[serde(
        default,
        deserialize_with = "de::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub execution_expires_after: Option<i64>,
    /// Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_audio: Option<bool>,
    /// Seedance 1.5 pro only: `true` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<bool>,
    /// `[{"type":"web_search"}]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// At most 64 ASCII characters: kept, echoed by GET and passed on to Ark upstreams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    /// `480p` or `720p` (default 720p).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// `16:9`, `4:3`, `1:1`, `3:4`, `9:16`, `21:9` or `adaptive` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
    /// Seconds, 4 to 15 (default 5). `-1` (model chooses) is refused.
    #[serde(
        default,
        deserialize_with = "de::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<i64>,
    /// Seedance 1.0 only: refused.
    #[serde(
        default,
        deserialize_with = "de::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub frames: Option<i64>,
    /// `-1` (random, default) or 0 to 4294967295.
    #[serde(
        default,
        deserialize_with = "de::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub seed: Option<i64>,
    /// Seedance 1.0 and 1.5 only: `true` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_fixed: Option<bool>,
    /// Accepted, not acted on (seedgate never watermarks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<bool>,
    /// Kept, echoed by GET and passed on to Ark upstreams (it does not reorder seedgate's own
    /// queue).
    #[serde(
        default,
        deserialize_with = "de::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub priority: Option<i64>,
    /// Seedance 2.5 only: refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omni_reference_task_type: Option<String>,
    /// `mp4` (default); `mov` is Seedance 2.5 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
}

/// One `content[]` item: `{"type":"text","text":…}`,
/// `{"type":"image_url","image_url":{"url":…},"role":…}`, `{"type":"video_url",…}`,
/// `{"type":"audio_url",…}`.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkContentItem)]
#[serde(deny_unknown_fields)]
pub struct ContentItem {
    /// `text`, `image_url`, `video_url`, `audio_url` (or `draft_task`, refused).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<MediaRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_url: Option<MediaRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_url: Option<MediaRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_task: Option<DraftTaskRef>,
    /// Images: `first_frame`, `last_frame`, `reference_image` (a single image without a role is
    /// the first frame); videos: `reference_video`; audio: `reference_audio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// The media kinds of a `content[]` item, each named as its `type` and its payload field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
}

impl ContentItem {
    /// `{"type":"text","text":…}`.
    pub fn text(text: impl Into<String>) -> Self {
        ContentItem {
            kind: "text".into(),
            text: Some(text.into()),
            ..Default::default()
        }
    }

    /// `{"type":"<kind>_url","<kind>_url":{"url":…},"role":…}`.
    pub fn media(kind: MediaKind, url: impl Into<String>, role: impl Into<String>) -> Self {
        let media = Some(MediaRef { url: url.into() });
        let (name, image_url, video_url, audio_url) = match kind {
            MediaKind::Image => ("image_url", media, None, None),
            MediaKind::Video => ("video_url", None, media, None),
            MediaKind::Audio => ("audio_url", None, None, media),
        };
        ContentItem {
            kind: name.into(),
            image_url,
            video_url,
            audio_url,
            role: Some(role.into()),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkMediaRef)]
#[serde(deny_unknown_fields)]
pub struct MediaRef {
    /// An http(s) URL or `asset://<id>`; `data:` URIs are refused.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkDraftTaskRef)]
#[serde(deny_unknown_fields)]
pub struct DraftTaskRef {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkTool)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `web_search`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Tool {
    /// `{"type":"web_search"}`.
    pub fn web_search() -> Self {
        Tool {
            kind: "web_search".into(),
        }
    }
}

/// `{"id": "task_…"}`: all Ark's create answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkCreateTaskResponse)]
pub struct CreateTaskResponse {
    // Read from a string or a number; empty when missing.
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub id: String,
}

/// The task object of GET (upstream-contracts §1.7); also each item of the list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[schema(as = ArkTaskObject)]
pub struct TaskObject {
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub id: String,
    /// The model's name-version id: the one the client sent, else the catalog's Ark id.
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub model: String,
    /// queued | running | succeeded | failed | cancelled | expired
    // Only a string counts as a status; anything else reads as empty (no status).
    #[serde(default, deserialize_with = "read::string")]
    #[schema(value_type = String, required = true)]
    pub status: Cow<'static, str>,
    /// Only when `succeeded`.
    #[serde(
        default,
        deserialize_with = "read::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<TaskContent>,
    /// `null`, or `{code, message}` when failed or expired.
    #[serde(default, deserialize_with = "read::failure")]
    pub error: Option<TaskFailure>,
    /// Only when `succeeded`.
    #[serde(
        default,
        deserialize_with = "read::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub usage: Option<Usage>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "read::or_default")]
    #[schema(required = true)]
    pub created_at: i64,
    /// Unix seconds.
    #[serde(default, deserialize_with = "read::or_default")]
    #[schema(required = true)]
    pub updated_at: i64,
    /// The requested seed; `-1` when the model chose.
    #[serde(default, deserialize_with = "read::or_default")]
    #[schema(required = true)]
    pub seed: i64,
    #[serde(default, deserialize_with = "read::string")]
    #[schema(value_type = String, required = true)]
    pub resolution: Cow<'static, str>,
    /// The actual ratio (`adaptive` resolved once the video exists).
    #[serde(default, deserialize_with = "read::string")]
    #[schema(value_type = String, required = true)]
    pub ratio: Cow<'static, str>,
    /// Seconds.
    #[serde(default, deserialize_with = "read::or_default")]
    #[schema(required = true)]
    pub duration: u32,
    #[serde(default, deserialize_with = "read::or_default")]
    #[schema(required = true)]
    pub framespersecond: u32,
    #[serde(default, deserialize_with = "read::or_default")]
    #[schema(required = true)]
    pub generate_audio: bool,
    #[serde(default, deserialize_with = "read::or_default")]
    #[schema(required = true)]
    pub draft: bool,
    #[serde(default, deserialize_with = "read::string")]
    #[schema(value_type = String, required = true)]
    pub service_tier: Cow<'static, str>,
    /// Seconds from creation: the task expires (refunded) if not finished by then.
    #[serde(default, deserialize_with = "read::or_default")]
    #[schema(required = true)]
    pub execution_expires_after: u32,
    #[serde(default, deserialize_with = "read::or_default")]
    #[schema(required = true)]
    pub priority: i64,
    /// As sent.
    #[serde(
        default,
        deserialize_with = "read::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub safety_identifier: Option<String>,
    #[serde(default, deserialize_with = "read::string")]
    #[schema(value_type = String, required = true)]
    pub output_format: Cow<'static, str>,
    /// `[{"type":"web_search"}]` when web search was asked for.
    #[serde(
        default,
        deserialize_with = "read::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub tools: Option<Vec<Tool>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[schema(as = ArkTaskContent)]
pub struct TaskContent {
    // Read from a string or a number; empty when missing.
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub video_url: String,
    #[serde(
        default,
        deserialize_with = "read::optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_frame_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[schema(as = ArkTaskFailure)]
pub struct TaskFailure {
    // Read from a string or a number; empty when missing.
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub code: String,
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[schema(as = ArkUsage)]
pub struct Usage {
    #[serde(default)]
    #[schema(required = true)]
    pub completion_tokens: u64,
    #[serde(default)]
    #[schema(required = true)]
    pub total_tokens: u64,
}

/// `{"total": N, "items": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkTaskList)]
pub struct TaskList {
    #[serde(default)]
    #[schema(required = true)]
    pub total: u64,
    #[serde(default)]
    #[schema(required = true)]
    pub items: Vec<TaskObject>,
}

/// Every Ark error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkErrorEnvelope)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkErrorBody)]
pub struct ErrorBody {
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub code: String,
    /// Ends with `Request ID: req_…`.
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub message: String,
    /// The parameter at fault, in Ark's paths (`content[1].image_url`).
    #[serde(
        default,
        deserialize_with = "read::optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub param: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub kind: String,
}

/// An error answer as Ark-family servers send it, for a reader: Ark's [`ErrorEnvelope`], a
/// top-level `{"code", "message"}` (some resellers), or `{"error": "text"}`. Codes may be
/// numbers; empty strings count as absent. Not part of the OpenAPI document: seedgate only
/// writes the envelope.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ErrorAnswer {
    /// `error`, whatever its shape; `None` when missing or null.
    #[serde(default, deserialize_with = "read::error_value")]
    pub error: Option<ErrorValue>,
    #[serde(default, deserialize_with = "read::optional_text")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "read::optional_text")]
    pub message: Option<String>,
}

/// The `error` member of an [`ErrorAnswer`].
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorValue {
    /// `{"code", "message"}`, each `None` when missing or empty.
    Object {
        code: Option<String>,
        message: Option<String>,
    },
    /// A string or number: the message alone (`None` when empty).
    Text(Option<String>),
    /// Anything else (an array, a boolean).
    Other,
}

impl ErrorAnswer {
    /// Reads any JSON body; one that is not an object has no members.
    pub fn read(body: &Value) -> Self {
        Self::deserialize(body).unwrap_or_default()
    }

    /// The code: `error.code`, else the top-level `code`.
    pub fn code(&self) -> Option<String> {
        match &self.error {
            Some(ErrorValue::Object { code: Some(c), .. }) => Some(c.clone()),
            _ => self.code.clone(),
        }
    }

    /// The message: `error.message`, else the top-level `message`, else `error` itself when it
    /// is text.
    pub fn message(&self) -> Option<String> {
        match &self.error {
            Some(ErrorValue::Object {
                message: Some(m), ..
            }) => Some(m.clone()),
            Some(ErrorValue::Text(text)) => self.message.clone().or_else(|| text.clone()),
            _ => self.message.clone(),
        }
    }
}

impl TaskFailure {
    /// The code, `None` when empty.
    pub fn code(&self) -> Option<&str> {
        Some(self.code.as_str()).filter(|c| !c.is_empty())
    }

    /// The message, `None` when empty.
    pub fn message(&self) -> Option<&str> {
        Some(self.message.as_str()).filter(|m| !m.is_empty())
    }
}

/// Lenient readers for response fields: none of them fails on an odd value.
mod read {
    use super::*;

    pub use crate::de::{optional_text, or_default, string, text};

    fn text_of(value: Value) -> Option<String> {
        crate::de::text_of(&value)
    }

    /// A task's `error`: null is none; an object gives its code and message; text is the
    /// message alone; anything else is a failure with neither.
    pub fn failure<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TaskFailure>, D::Error> {
        Ok(match error_value(d)? {
            None => None,
            Some(ErrorValue::Object { code, message }) => Some(TaskFailure {
                code: code.unwrap_or_default(),
                message: message.unwrap_or_default(),
            }),
            Some(ErrorValue::Text(message)) => Some(TaskFailure {
                code: String::new(),
                message: message.unwrap_or_default(),
            }),
            Some(ErrorValue::Other) => Some(TaskFailure {
                code: String::new(),
                message: String::new(),
            }),
        })
    }

    pub fn error_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ErrorValue>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => None,
            Value::Object(mut map) => Some(ErrorValue::Object {
                code: map.remove("code").and_then(text_of),
                message: map.remove("message").and_then(text_of),
            }),
            text @ (Value::String(_) | Value::Number(_)) => Some(ErrorValue::Text(text_of(text))),
            _ => Some(ErrorValue::Other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_create_body_writes_only_what_it_carries_and_reads_it_back() {
        let body = CreateTaskRequest {
            model: Some("m".into()),
            content: Some(vec![
                ContentItem::text("a fox"),
                ContentItem::media(MediaKind::Video, "https://e.com/v.mp4", "reference_video"),
            ]),
            duration: Some(5),
            tools: Some(vec![Tool::web_search()]),
            ..Default::default()
        };
        let json = serde_json::to_value(&body).expect("json");
        assert_eq!(
            json,
            json!({"model": "m", "duration": 5, "tools": [{"type": "web_search"}], "content": [
                {"type": "text", "text": "a fox"},
                {"type": "video_url", "video_url": {"url": "https://e.com/v.mp4"},
                 "role": "reference_video"}]})
        );
        let back: CreateTaskRequest = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, body);
        let err = serde_json::from_value::<CreateTaskRequest>(json!({"modle": "m"}))
            .expect_err("unknown field");
        assert!(err.to_string().contains("modle"), "{err}");
    }

    #[test]
    fn task_objects_read_leniently() {
        let task: TaskObject = serde_json::from_value(json!({
            "id": 12, "status": "failed", "seed": "odd", "usage": "odd",
            "content": {"video_url": 5}, "error": {"code": 500, "message": ""},
            "extra": true
        }))
        .expect("lenient");
        assert_eq!(task.id, "12");
        assert_eq!(task.seed, 0);
        assert_eq!(task.usage, None);
        assert_eq!(task.content.map(|c| c.video_url).as_deref(), Some("5"));
        let failure = task.error.expect("error");
        assert_eq!((failure.code(), failure.message()), (Some("500"), None));
        let task: TaskObject =
            serde_json::from_value(json!({"status": 3, "error": "boom"})).expect("lenient");
        assert_eq!(task.status, "");
        assert_eq!(task.error.map(|e| e.message), Some("boom".into()));
    }

    #[test]
    fn error_answers_of_every_shape() {
        let read = |v: Value| {
            let a = ErrorAnswer::read(&v);
            (a.code(), a.message())
        };
        assert_eq!(
            read(json!({"error": {"code": "X", "message": "m", "type": "BadRequest"}})),
            (Some("X".into()), Some("m".into()))
        );
        assert_eq!(
            read(json!({"code": 5, "message": "top"})),
            (Some("5".into()), Some("top".into()))
        );
        assert_eq!(read(json!({"error": "text"})), (None, Some("text".into())));
        assert_eq!(read(json!("text")), (None, None));
        assert_eq!(ErrorAnswer::read(&json!({"error": null})).error, None);
    }

    #[test]
    fn schema_names_are_the_dialects() {
        use utoipa::ToSchema as _;
        assert_eq!(CreateTaskRequest::name(), "ArkCreateTaskRequest");
        assert_eq!(TaskObject::name(), "ArkTaskObject");
        assert_eq!(ErrorEnvelope::name(), "ArkErrorEnvelope");
    }
}

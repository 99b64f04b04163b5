//! The OpenAI-style videos API (`/v1/videos`), the shape new-api, LiteLLM, OpenRouter and the
//! stock `openai` SDK speak (upstream-contracts §3.6): seedgate serves it (the `openai`
//! dialect) and forwards to it (the `openai` upstream kind).
//!
//! | Route | Body |
//! |---|---|
//! | `POST /v1/videos` | [`OpenAiCreateVideo`] (JSON; the SDK sends the same fields as multipart) → [`OpenAiVideo`] |
//! | `GET /v1/videos/{id}` | [`OpenAiVideo`] |
//! | `GET /v1/videos` | [`OpenAiVideoList`] |
//! | `DELETE /v1/videos/{id}` | [`OpenAiVideoDeleted`] |
//! | `GET /v1/videos/{id}/content[?variant=thumbnail]` | the MP4 (or a PNG), not JSON |
//! | any error | [`OpenAiErrorEnvelope`] |
//! | a webhook | [`OpenAiWebhookEvent`] |
//!
//! The type names and doc comments are the ones seedgate's OpenAPI document shows, so the
//! dialect renders these very types without its document changing.
//!
//! Leniency, where servers differ from OpenAI: `seconds` is a string on the wire (`"4"`) and is
//! written as one, but read from an integer too; responses ignore fields they do not know
//! (gateways add `usage`, `metadata`, `task_id`…), and their scalar fields are read from the
//! near spellings servers use (a number for a string, a float for an integer), missing ones
//! defaulting. The create body refuses unknown fields, as seedgate's dialect does.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::borrow::Cow;
use utoipa::ToSchema;

/// `POST /v1/videos` as JSON. The multipart form has the same fields (see
/// [`OpenAiCreateVideoForm`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAiCreateVideo {
    /// What the video shows. Required.
    pub prompt: String,
    /// A seedgate model name or alias; default `seedance-2.0-mini`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Clip length in seconds, `"4"` to `"15"` (a string, or an integer); default 4.
    #[serde(
        default,
        with = "seconds_text",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "4")]
    pub seconds: Option<i64>,
    /// `WxH`: one of the model's output sizes, e.g. `1280x720`, `720x1280`, `864x496`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "1280x720")]
    pub size: Option<String>,
    /// The first frame: an image URL, `{"image_url": "…"}` (http(s) or base64 data URL) or
    /// `{"file_id": "asset_…"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub input_reference: Option<InputReference>,
}

/// `POST /v1/videos` as multipart/form-data (what the `openai` SDK sends).
// Only a schema: a reader takes the form's parts one by one.
#[derive(Debug, Clone, PartialEq, ToSchema)]
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

/// `input_reference` in a JSON create: one of the forms OpenAI documents, or anything else,
/// kept as sent so that the reader can refuse it in its own words (naming the unknown key,
/// say) rather than in serde's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputReference {
    /// `{"image_url": "…"}` or `{"file_id": "…"}`.
    Object(ImageReference),
    /// An image URL as a bare string.
    Url(String),
    /// Any other JSON value.
    Other(Value),
}

impl InputReference {
    /// `{"image_url": url}`: an http(s) URL or a base64 data URL.
    pub fn image_url(url: impl Into<String>) -> Self {
        InputReference::Object(ImageReference {
            image_url: Some(url.into()),
            file_id: None,
        })
    }

    /// The value as JSON, for a reader that checks the forms itself.
    pub fn into_value(self) -> Value {
        match self {
            InputReference::Object(object) => {
                let mut map = serde_json::Map::new();
                for (key, value) in [("image_url", object.image_url), ("file_id", object.file_id)] {
                    if let Some(value) = value {
                        map.insert(key.into(), Value::String(value));
                    }
                }
                Value::Object(map)
            }
            InputReference::Url(url) => Value::String(url),
            InputReference::Other(value) => value,
        }
    }
}

/// The object form of `input_reference`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageReference {
    /// An http(s) URL or a base64 data URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// A file uploaded earlier (seedgate: an asset id, `asset_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
}

/// A video job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenAiVideo {
    #[serde(deserialize_with = "de::text")]
    pub id: String,
    /// Always `video`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub object: Cow<'static, str>,
    #[serde(default, deserialize_with = "de::text")]
    #[schema(required = true)]
    pub model: String,
    /// `queued`, `in_progress`, `completed` or `failed`.
    #[schema(value_type = String)]
    pub status: Cow<'static, str>,
    /// 0–100; an estimate while in progress.
    #[serde(default, deserialize_with = "de::progress")]
    #[schema(required = true)]
    pub progress: u8,
    /// Unix seconds.
    #[serde(default, deserialize_with = "de::time")]
    #[schema(required = true)]
    pub created_at: i64,
    /// Unix seconds; set once the video is completed or failed.
    #[serde(default, deserialize_with = "de::optional_time")]
    pub completed_at: Option<i64>,
    /// Unix seconds until which the content is promised to be downloadable.
    #[serde(default, deserialize_with = "de::optional_time")]
    pub expires_at: Option<i64>,
    pub error: Option<OpenAiVideoError>,
    pub prompt: Option<String>,
    /// Clip length in seconds, as a string.
    #[serde(default, deserialize_with = "de::text")]
    #[schema(required = true)]
    pub seconds: String,
    /// `WxH`.
    #[serde(default, deserialize_with = "de::text")]
    #[schema(required = true)]
    pub size: String,
    /// Always null: seedgate has no remix.
    pub remixed_from_video_id: Option<String>,
}

/// Why a video failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenAiVideoError {
    /// `moderation_blocked`, `invalid_input`, `rate_limit_exceeded`, `upstream_error`,
    /// `timeout`, `expired`, `internal_error` or `cancelled`.
    #[serde(default, deserialize_with = "de::text_cow")]
    #[schema(value_type = String, required = true)]
    pub code: Cow<'static, str>,
    #[serde(default, deserialize_with = "de::text")]
    #[schema(required = true)]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenAiVideoList {
    /// Always `list`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub object: Cow<'static, str>,
    pub data: Vec<OpenAiVideo>,
    pub first_id: Option<String>,
    /// Pass as `after` for the next page.
    pub last_id: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    pub has_more: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenAiVideoDeleted {
    pub id: String,
    /// Always `video.deleted`.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub object: Cow<'static, str>,
    pub deleted: bool,
}

/// Every error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenAiErrorEnvelope {
    pub error: OpenAiErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenAiErrorBody {
    #[serde(default, deserialize_with = "de::text")]
    #[schema(required = true)]
    pub message: String,
    /// `invalid_request_error`, `insufficient_quota`, `requests` or `server_error`.
    #[serde(rename = "type", default, deserialize_with = "de::text_cow")]
    #[schema(value_type = String, required = true)]
    pub kind: Cow<'static, str>,
    /// The request field the error is about.
    pub param: Option<String>,
    #[serde(default, deserialize_with = "de::optional_text")]
    #[schema(value_type = Option<String>)]
    pub code: Option<Cow<'static, str>>,
}

/// A webhook event about a video, `{"id": "evt_…", "object": "event", "type":
/// "video.completed", "data": {"id": "video_…"}}` (Standard Webhooks; the event names are those
/// third-party gateways use, OpenAI's SDK has no typed video events). Only `data.id` is needed:
/// a receiver re-reads the video rather than trust the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenAiWebhookEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Unix seconds.
    #[serde(
        default,
        deserialize_with = "de::optional_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<i64>,
    /// `video.completed`, `video.failed`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub data: OpenAiWebhookData,
}

/// What a webhook event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenAiWebhookData {
    /// The video's id.
    #[serde(deserialize_with = "de::text")]
    pub id: String,
}

/// `seconds` of a create: written as a string (`"4"`), read from a string or an integer
/// (`5.0` counts as 5; `5.5` does not), as seedgate's dialect always has.
mod seconds_text {
    use super::*;

    pub fn serialize<S: Serializer>(seconds: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match seconds {
            Some(n) => s.serialize_str(&n.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        crate::de::int_or_string(d)
    }
}

/// Lenient readers for response fields.
mod de {
    use super::*;

    /// A string, or a number as its text (`4` → `"4"`); null is empty.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(optional_text(d)?.map(Cow::into_owned).unwrap_or_default())
    }

    pub fn text_cow<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'static, str>, D::Error> {
        Ok(optional_text(d)?.unwrap_or_default())
    }

    pub fn optional_text<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Cow<'static, str>>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(Cow::Owned(s))),
            Value::Number(n) => Ok(Some(Cow::Owned(n.to_string()))),
            Value::Bool(b) => Ok(Some(Cow::Owned(b.to_string()))),
            _ => Err(D::Error::custom("must be a string")),
        }
    }

    /// A percentage: an integer or a float (rounded), clamped to 0–100; null is 0.
    pub fn progress<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        let value = match Value::deserialize(d)? {
            Value::Null => return Ok(0),
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().trim_end_matches('%').trim().parse::<f64>().ok(),
            _ => None,
        };
        let value = value
            .filter(|v| v.is_finite())
            .ok_or_else(|| D::Error::custom("must be a number from 0 to 100"))?;
        // Clamped into range first, so the cast cannot truncate.
        Ok(value.round().clamp(0.0, 100.0) as u8)
    }

    /// Unix seconds: an integer, or a float (its fraction dropped); null is 0.
    pub fn time<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Ok(optional_time(d)?.unwrap_or_default())
    }

    pub fn optional_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite() && f.abs() < 1e15)
                        .map(|f| f.trunc() as i64)
                })
                .map(Some)
                .ok_or_else(|| D::Error::custom("must be Unix seconds")),
            _ => Err(D::Error::custom("must be Unix seconds")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::test_support::round_trip;

    fn video() -> OpenAiVideo {
        OpenAiVideo {
            id: "task_01k9".into(),
            object: Cow::Borrowed("video"),
            model: "seedance-2.0-mini".into(),
            status: Cow::Borrowed("failed"),
            progress: 0,
            created_at: 1_762_853_430,
            completed_at: Some(1_762_853_490),
            expires_at: None,
            error: Some(OpenAiVideoError {
                code: Cow::Borrowed("moderation_blocked"),
                message: "the prompt was refused".into(),
            }),
            prompt: Some("a red kite".into()),
            seconds: "4".into(),
            size: "864x496".into(),
            remixed_from_video_id: None,
        }
    }

    #[test]
    fn create_bodies_round_trip_with_seconds_as_a_string() {
        let full = OpenAiCreateVideo {
            prompt: "a red kite".into(),
            model: Some("seedance-2.0-mini".into()),
            seconds: Some(4),
            size: Some("864x496".into()),
            input_reference: Some(InputReference::image_url("https://e.com/first.png")),
        };
        assert_eq!(
            round_trip(&full),
            json!({"prompt": "a red kite", "model": "seedance-2.0-mini", "seconds": "4",
                   "size": "864x496", "input_reference": {"image_url": "https://e.com/first.png"}})
        );
        let bare = OpenAiCreateVideo {
            prompt: "p".into(),
            model: None,
            seconds: None,
            size: None,
            input_reference: None,
        };
        assert_eq!(round_trip(&bare), json!({"prompt": "p"}));
        for reference in [
            InputReference::Url("https://e.com/a.png".into()),
            InputReference::Object(ImageReference {
                image_url: None,
                file_id: Some("asset_1".into()),
            }),
            InputReference::Other(json!({"url": "x"})),
            InputReference::Other(json!(5)),
        ] {
            let body = OpenAiCreateVideo {
                input_reference: Some(reference),
                ..bare.clone()
            };
            round_trip(&body);
        }
    }

    #[test]
    fn a_reader_takes_seconds_as_an_integer_too() {
        let read = |body: Value| serde_json::from_value::<OpenAiCreateVideo>(body);
        for seconds in [json!("4"), json!(4), json!(" 4 "), json!(4.0)] {
            let body = read(json!({"prompt": "p", "seconds": seconds})).expect("read");
            assert_eq!(body.seconds, Some(4), "{seconds}");
            assert_eq!(
                serde_json::to_value(&body).expect("json")["seconds"],
                json!("4"),
                "written back as a string"
            );
        }
        assert_eq!(
            read(json!({"prompt": "p", "seconds": null}))
                .expect("null")
                .seconds,
            None
        );
        for bad in [json!(4.5), json!("four"), json!([4]), json!(true)] {
            assert!(
                read(json!({"prompt": "p", "seconds": bad})).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_create_body_refuses_unknown_fields_and_keeps_odd_references() {
        let err = serde_json::from_value::<OpenAiCreateVideo>(
            json!({"prompt": "p", "callback_url": "https://e.com"}),
        )
        .expect_err("unknown field");
        assert!(err.to_string().contains("callback_url"), "{err}");
        let odd = serde_json::from_value::<OpenAiCreateVideo>(
            json!({"prompt": "p", "input_reference": {"url": "x", "image_url": "y"}}),
        )
        .expect("kept for the reader");
        assert_eq!(
            odd.input_reference.map(InputReference::into_value),
            Some(json!({"url": "x", "image_url": "y"}))
        );
        assert_eq!(
            InputReference::image_url("u").into_value(),
            json!({"image_url": "u"})
        );
    }

    #[test]
    fn responses_round_trip() {
        let failed = video();
        let json = round_trip(&failed);
        assert_eq!(json["completed_at"], json!(1_762_853_490));
        assert_eq!(json["expires_at"], Value::Null, "nulls are written");
        let queued = OpenAiVideo {
            status: Cow::Borrowed("queued"),
            completed_at: None,
            error: None,
            prompt: None,
            ..video()
        };
        round_trip(&queued);
        round_trip(&OpenAiVideoList {
            object: Cow::Borrowed("list"),
            first_id: Some(failed.id.clone()),
            last_id: Some(queued.id.clone()),
            data: vec![failed, queued],
            has_more: true,
        });
        round_trip(&OpenAiVideoList {
            object: Cow::Borrowed("list"),
            data: Vec::new(),
            first_id: None,
            last_id: None,
            has_more: false,
        });
        round_trip(&OpenAiVideoDeleted {
            id: "task_1".into(),
            object: Cow::Borrowed("video.deleted"),
            deleted: true,
        });
        let envelope = OpenAiErrorEnvelope {
            error: OpenAiErrorBody {
                message: "slow down".into(),
                kind: Cow::Borrowed("requests"),
                param: None,
                code: Some(Cow::Borrowed("rate_limit_exceeded")),
            },
        };
        assert_eq!(
            round_trip(&envelope),
            json!({"error": {"message": "slow down", "type": "requests", "param": null,
                             "code": "rate_limit_exceeded"}})
        );
        round_trip(&OpenAiErrorEnvelope {
            error: OpenAiErrorBody {
                message: "bad".into(),
                kind: Cow::Borrowed("invalid_request_error"),
                param: Some("seconds".into()),
                code: None,
            },
        });
        round_trip(&OpenAiWebhookEvent {
            id: Some("evt_1".into()),
            object: Some("event".into()),
            created_at: Some(1_762_853_490),
            kind: Some("video.completed".into()),
            data: OpenAiWebhookData {
                id: "video_1".into(),
            },
        });
    }

    #[test]
    fn readers_ignore_what_servers_add_and_take_near_spellings() {
        let video: OpenAiVideo = serde_json::from_value(json!({
            "id": "video_68fa", "object": "video", "status": "in_progress",
            "progress": 42.6, "created_at": 1762853430.5, "seconds": 8, "size": "1280x720",
            "model": "sora-2", "usage": {"duration_seconds": 8}, "metadata": {"url": "x"},
            "task_id": "t"
        }))
        .expect("a gateway's video object");
        assert_eq!(
            (video.progress, video.created_at, video.seconds.as_str()),
            (43, 1_762_853_430, "8")
        );
        let minimal: OpenAiVideo =
            serde_json::from_value(json!({"id": "v", "status": "queued"})).expect("minimal");
        assert_eq!((minimal.progress, minimal.seconds.as_str()), (0, ""));
        assert!(serde_json::from_value::<OpenAiVideo>(json!({"status": "queued"})).is_err());
        assert!(serde_json::from_value::<OpenAiVideo>(json!({"id": "v"})).is_err());
        let envelope: OpenAiErrorEnvelope =
            serde_json::from_value(json!({"error": {"message": "m", "code": 429}}))
                .expect("numeric code");
        assert_eq!(envelope.error.code.as_deref(), Some("429"));
        assert_eq!(envelope.error.kind, "");
        let event: OpenAiWebhookEvent =
            serde_json::from_value(json!({"data": {"id": "video_1", "status": "completed"}}))
                .expect("a bare event");
        assert_eq!(event.data.id, "video_1");
    }

    #[test]
    fn schema_names_are_the_dialects() {
        use utoipa::ToSchema as _;
        assert_eq!(OpenAiCreateVideo::name(), "OpenAiCreateVideo");
        assert_eq!(OpenAiCreateVideoForm::name(), "OpenAiCreateVideoForm");
        assert_eq!(OpenAiVideo::name(), "OpenAiVideo");
        assert_eq!(OpenAiVideoError::name(), "OpenAiVideoError");
        assert_eq!(OpenAiVideoList::name(), "OpenAiVideoList");
        assert_eq!(OpenAiVideoDeleted::name(), "OpenAiVideoDeleted");
        assert_eq!(OpenAiErrorEnvelope::name(), "OpenAiErrorEnvelope");
        assert_eq!(OpenAiErrorBody::name(), "OpenAiErrorBody");
    }
}

//! reAPI (reapi.ai): seedgate serves it (the `reapi` dialect) and forwards to it (the `reapi`
//! upstream kind).
//!
//! | Route | Body |
//! |---|---|
//! | `POST /api/v1/videos/generations` | [`SubmitRequest`] → [`TaskObject`] |
//! | `GET /api/v1/tasks/{id}` | [`TaskObject`] |
//! | any error | [`ErrorEnvelope`] |
//!
//! The schema names (`ReApi…`) and doc comments are the ones seedgate's OpenAPI document shows.
//!
//! The submit body refuses unknown fields, as seedgate's dialect does, and writes only the
//! fields that are set. Responses are read leniently, as the upstream side always has: unknown
//! fields are ignored, a field of an unexpected type reads as absent (an id may be a number),
//! so that the reader, not serde, decides what an odd answer means.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::ToSchema;

/// `POST /api/v1/videos/generations`: the 12 input fields of seedance-2.0-mini, plus the
/// Seedance 2.5 request shape (`size`, `image_urls`, `image_with_roles`, `video_urls`,
/// `audio_urls`, `seed`, `return_last_frame`, `tools`), which every model accepts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReApiSubmitRequest)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// `seedance-2.0-mini` (or an alias such as `seedance-2-0-mini`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Optional when a first frame or reference images carry the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Image-to-video: the first frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_frame_url: Option<String>,
    /// Image-to-video: the last frame (needs `first_frame_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_image_urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_video_urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_audio_urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_audio: Option<bool>,
    /// `480p` or `720p` (default 720p).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// `16:9` (default), `9:16`, `1:1`, `4:3`, `3:4`, `21:9`, `adaptive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<String>,
    /// Seconds, 4 to 15 (default 5).
    #[serde(
        default,
        deserialize_with = "crate::de::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsfw_checker: Option<bool>,
    /// 2.5 shape: the aspect ratio (same values as `aspect_ratio`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// 2.5 shape: reference images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_urls: Option<Vec<String>>,
    /// 2.5 shape: images with an explicit role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_with_roles: Option<Vec<ImageWithRole>>,
    /// 2.5 shape: reference videos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_urls: Option<Vec<String>>,
    /// 2.5 shape: reference audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_urls: Option<Vec<String>>,
    /// `-1` (random) or 0 to 4294967295.
    #[serde(
        default,
        deserialize_with = "crate::de::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub seed: Option<i64>,
    /// Also return `output.last_frame_url`, a PNG of the last frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_last_frame: Option<bool>,
    /// `[{"type":"web_search"}]` lets the model search the web.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
}

impl SubmitRequest {
    /// The Seedance 2.5 fields this request uses; they apply only to models whose catalog
    /// entry has `seedance_2_5_fields`.
    pub fn seedance_2_5_fields(&self) -> Vec<&'static str> {
        [
            ("size", self.size.is_some()),
            ("image_urls", self.image_urls.is_some()),
            ("image_with_roles", self.image_with_roles.is_some()),
            ("video_urls", self.video_urls.is_some()),
            ("audio_urls", self.audio_urls.is_some()),
            ("seed", self.seed.is_some()),
            ("return_last_frame", self.return_last_frame.is_some()),
            ("tools", self.tools.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, used)| used.then_some(name))
        .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReApiImageWithRole)]
#[serde(deny_unknown_fields)]
pub struct ImageWithRole {
    pub url: String,
    /// `first_frame`, `last_frame` or `reference_image`.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReApiTool)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `web_search`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Tool {
    /// `{"type": "web_search"}`.
    pub fn web_search() -> Self {
        Tool {
            kind: "web_search".into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReApiTaskObject)]
pub struct TaskObject {
    // Empty when absent; a reader then looks at `task_id`.
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub id: String,
    // Read, never written: the name some proxies use for `id`. Not in the schema.
    #[serde(default, skip_serializing, deserialize_with = "read::optional_text")]
    #[schema(ignore)]
    pub task_id: Option<String>,
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub model: String,
    /// processing | completed | failed
    #[serde(default, deserialize_with = "read::string")]
    #[schema(value_type = String, required = true)]
    pub status: Cow<'static, str>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "read::time")]
    #[schema(required = true)]
    pub created_at: i64,
    #[serde(default, deserialize_with = "read::object")]
    pub output: Option<Output>,
    #[serde(default, deserialize_with = "read::object")]
    pub error: Option<TaskFailure>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReApiOutput)]
pub struct Output {
    // Entries that are not text or numbers are skipped when read.
    #[serde(default, deserialize_with = "read::texts")]
    #[schema(required = true)]
    pub video_urls: Vec<String>,
    // Read, never written: a single URL, as some proxies answer. Not in the schema.
    #[serde(default, skip_serializing, deserialize_with = "read::optional_text")]
    #[schema(ignore)]
    pub video_url: Option<String>,
    #[serde(
        default,
        deserialize_with = "read::optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_frame_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReApiTaskFailure)]
pub struct TaskFailure {
    // Read from a number or a numeric string; 0 when absent or not a code.
    #[serde(default, deserialize_with = "read::code")]
    #[schema(required = true)]
    pub code: u32,
    #[serde(default, deserialize_with = "read::string")]
    #[schema(required = true)]
    pub message: String,
}

/// Every reAPI error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReApiErrorEnvelope)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

// Read strictly where it matters: a code that is neither a number nor a numeric string, or a
// message that is not a string, fails the read, so that a reader falls back to the shapes of
// other servers rather than lose them. (Plain comments: doc comments would show in the OpenAPI
// document.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ReApiErrorBody)]
pub struct ErrorBody {
    /// Five digits; the first is the category (1 auth, 2 request, 3 billing, 4 not found,
    /// 5 rate limit, 6 internal, 7 unavailable).
    #[serde(default, deserialize_with = "read::strict_code")]
    #[schema(required = true)]
    pub code: u32,
    #[serde(default)]
    #[schema(required = true)]
    pub message: String,
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub request_id: String,
}

/// Lenient readers for response fields, shared with the other reseller modules: each reads a
/// JSON value and turns what it cannot use into "absent" instead of failing the whole answer.
pub(crate) mod read {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    pub use crate::de::{optional_text, string, text};

    pub(crate) fn as_text(value: Value) -> Option<String> {
        crate::de::text_of(&value)
    }

    /// The texts of an array, skipping entries that are not text; anything else is empty.
    pub fn texts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Array(items) => items.into_iter().filter_map(as_text).collect(),
            _ => Vec::new(),
        })
    }

    /// The object entries of an array that read as `T`, the others skipped; `None` when not an
    /// array.
    pub fn items<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        Ok(match Value::deserialize(d)? {
            Value::Array(items) => Some(items.into_iter().filter_map(as_object).collect()),
            _ => None,
        })
    }

    /// A JSON object that reads as `T`, or `None` (an array is not taken as a struct's fields
    /// in order, as serde would).
    pub fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        Ok(as_object(Value::deserialize(d)?))
    }

    pub(crate) fn as_object<T: DeserializeOwned>(value: Value) -> Option<T> {
        value
            .is_object()
            .then(|| T::deserialize(value).ok())
            .flatten()
    }

    /// Unix seconds from an integer or a float (its fraction dropped); anything else is 0.
    pub fn time<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite() && f.abs() < 1e15)
                        .map(|f| f.trunc() as i64)
                })
                .unwrap_or_default(),
            _ => 0,
        })
    }

    fn numeric<T: TryFrom<u64>>(value: &Value) -> Option<T> {
        let n = match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        n.and_then(|n| T::try_from(n).ok())
    }

    /// A numeric code from a number or a numeric string; anything else (or one out of the
    /// type's range) is 0, no code.
    pub fn code<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<u64> + Default,
    {
        Ok(numeric(&Value::deserialize(d)?).unwrap_or_default())
    }

    /// A JSON object that reads as `T`, else `T`'s default.
    pub fn object_or_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned + Default,
    {
        Ok(as_object(Value::deserialize(d)?).unwrap_or_default())
    }

    /// Whatever is there, read as nothing (a field that is always null when written).
    pub fn nothing<'de, D: Deserializer<'de>>(d: D) -> Result<Option<()>, D::Error> {
        Value::deserialize(d).map(|_| None)
    }

    /// A numeric code from a number or a numeric string; anything else fails the read.
    pub fn strict_code<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        numeric::<u32>(&Value::deserialize(d)?)
            .ok_or_else(|| D::Error::custom("must be a numeric code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    use crate::test_support::round_trip;

    #[test]
    fn submit_bodies_write_only_what_is_set_and_refuse_unknown_fields() {
        let body = SubmitRequest {
            model: Some("seedance-2.5".into()),
            duration: Some(5),
            image_with_roles: Some(vec![ImageWithRole {
                url: "https://e.com/f.png".into(),
                role: "first_frame".into(),
            }]),
            tools: Some(vec![Tool::web_search()]),
            ..SubmitRequest::default()
        };
        assert_eq!(
            round_trip(&body),
            json!({"model": "seedance-2.5", "duration": 5, "tools": [{"type": "web_search"}],
                "image_with_roles": [{"url": "https://e.com/f.png", "role": "first_frame"}]})
        );
        round_trip(&SubmitRequest::default());
        let err =
            serde_json::from_value::<SubmitRequest>(json!({"bogus": 1})).expect_err("unknown");
        assert!(err.to_string().contains("bogus"), "{err}");
        let read: SubmitRequest =
            serde_json::from_value(json!({"duration": 5.0})).expect("5.0 is 5");
        assert_eq!(read.duration, Some(5));
        assert!(serde_json::from_value::<SubmitRequest>(json!({"duration": 5.5})).is_err());
    }

    #[test]
    fn task_objects_round_trip_and_read_leniently() {
        let task = TaskObject {
            id: "task_1".into(),
            task_id: None,
            model: "seedance-2.0-mini".into(),
            status: Cow::Borrowed("completed"),
            created_at: 1_762_853_430,
            output: Some(Output {
                video_urls: vec!["https://cdn/0.mp4".into()],
                video_url: None,
                last_frame_url: Some("https://cdn/0.png".into()),
            }),
            error: None,
        };
        assert_eq!(round_trip(&task)["error"], Value::Null, "nulls are written");
        round_trip(&TaskObject {
            status: Cow::Borrowed("failed"),
            output: None,
            error: Some(TaskFailure {
                code: 80007,
                message: "Upstream content rejection".into(),
            }),
            ..task
        });
        let odd: TaskObject = serde_json::from_value(json!({"id": 7, "status": 3,
            "created_at": 1.5, "output": "x", "error": {"code": "80002", "message": 1},
            "usage": {}}))
        .expect("odd but an object");
        assert_eq!((odd.id.as_str(), odd.status.as_ref()), ("7", ""));
        assert_eq!((odd.created_at, odd.output), (1, None));
        assert_eq!(
            odd.error,
            Some(TaskFailure {
                code: 80002,
                message: String::new()
            })
        );
        let output: Output =
            serde_json::from_value(json!({"video_urls": [null, "u", 5]})).expect("mixed entries");
        assert_eq!(output.video_urls, vec!["u".to_string(), "5".to_string()]);
        let aliases: TaskObject =
            serde_json::from_value(json!({"task_id": "t", "output": {"video_url": "u"}}))
                .expect("aliases");
        assert_eq!(aliases.task_id.as_deref(), Some("t"));
        assert_eq!(
            aliases.output.and_then(|o| o.video_url).as_deref(),
            Some("u")
        );
        let not_objects: TaskObject =
            serde_json::from_value(json!({"output": ["u"], "error": [80001, "m"]}))
                .expect("arrays");
        assert_eq!((not_objects.output, not_objects.error), (None, None));
    }

    #[test]
    fn error_envelopes_round_trip_and_read_codes_as_text_or_numbers() {
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code: 20002,
                message: "Missing required parameter".into(),
                request_id: "req_1".into(),
            },
        };
        round_trip(&envelope);
        let read: ErrorEnvelope =
            serde_json::from_value(json!({"error": {"code": "50001", "message": "slow"}}))
                .expect("a string code");
        assert_eq!(
            (read.error.code, read.error.request_id.as_str()),
            (50001, "")
        );
        for foreign in [
            json!({"error": {"code": "InvalidParameter", "message": "bad"}}),
            json!({"error": "oops"}),
            json!({"code": 400, "msg": "bad"}),
        ] {
            assert!(
                serde_json::from_value::<ErrorEnvelope>(foreign.clone()).is_err(),
                "{foreign}"
            );
        }
    }

    #[test]
    fn schema_names_are_the_dialects() {
        use utoipa::ToSchema as _;
        assert_eq!(SubmitRequest::name(), "ReApiSubmitRequest");
        assert_eq!(ImageWithRole::name(), "ReApiImageWithRole");
        assert_eq!(Tool::name(), "ReApiTool");
        assert_eq!(TaskObject::name(), "ReApiTaskObject");
        assert_eq!(Output::name(), "ReApiOutput");
        assert_eq!(TaskFailure::name(), "ReApiTaskFailure");
        assert_eq!(ErrorEnvelope::name(), "ReApiErrorEnvelope");
        assert_eq!(ErrorBody::name(), "ReApiErrorBody");
    }
}

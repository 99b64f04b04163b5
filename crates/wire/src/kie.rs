//! Kie's market-jobs API (kie.ai; upstream-contracts §3.5): seedgate serves it (the `kie`
//! dialect) and forwards to it (the `kie` upstream kind). Bearer auth.
//!
//! | Route | Body |
//! |---|---|
//! | `POST /api/v1/jobs/createTask` | [`CreateTaskRequest`] → [`CreateResponse`] |
//! | `GET /api/v1/jobs/recordInfo?taskId=` | [`RecordInfoResponse`] (also a callback's body) |
//! | any error | `{code, msg, data: null}`, `code` being the HTTP status (or 455, 501, 505) |
//!
//! Leniency: the create body refuses unknown fields, as seedgate's dialect does, and reads
//! `duration` from `5.0` too. Answers ignore fields they do not know, and a field of an odd
//! shape reads as its default (a `failCode` sent as a number reads as its text, a `resultJson`
//! sent as an object as its JSON text), so the upstream side keeps classifying what servers
//! send.

use crate::apixo::lenient;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use utoipa::ToSchema;

/// `POST /api/v1/jobs/createTask`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = KieCreateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// `bytedance/seedance-2-mini` (or an alias such as `seedance-2.0-mini`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Where the result is posted when the task finishes.
    #[serde(
        rename = "callBackUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub call_back_url: Option<String>,
    /// The model's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
}

/// `input` of bytedance/seedance-2-mini.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = KieInput)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Optional when a first frame or reference images carry the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// Image-to-video: the first frame (a URL or `asset://{assetId}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_frame_url: Option<String>,
    /// Image-to-video: the last frame (needs `first_frame_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame_url: Option<String>,
    /// At most 9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_image_urls: Option<Vec<String>>,
    /// At most 3; 2–15 s each, 15 s in all; mp4/mov.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_video_urls: Option<Vec<String>>,
    /// At most 3; 15 s in all; wav/mp3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_audio_urls: Option<Vec<String>>,
    /// Default true.
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
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<bool>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsfw_checker: Option<bool>,
    // Only Kie's Seedance 2.5 input has it; seedgate's Kie dialect serves no 2.5 model and
    // refuses it, so it is not in the documented schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub return_last_frame: Option<bool>,
}

/// `{"code":200,"msg":"success","data":{"taskId":…}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = KieCreateResponse)]
pub struct CreateResponse {
    #[serde(default, deserialize_with = "lenient::code")]
    pub code: u16,
    #[serde(default, deserialize_with = "lenient::text")]
    pub msg: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub data: CreatedTask,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = KieCreatedTask)]
pub struct CreatedTask {
    #[serde(rename = "taskId", default, deserialize_with = "lenient::text")]
    pub task_id: String,
}

/// `GET /api/v1/jobs/recordInfo`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = KieRecordInfoResponse)]
pub struct RecordInfoResponse {
    #[serde(default, deserialize_with = "lenient::code")]
    pub code: u16,
    #[serde(default, deserialize_with = "lenient::text")]
    pub message: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub data: Record,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = KieRecord)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    #[serde(default, deserialize_with = "lenient::text")]
    pub task_id: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub model: String,
    /// waiting | queuing | generating | success | fail
    #[serde(default, deserialize_with = "cow_text")]
    #[schema(value_type = String)]
    pub state: Cow<'static, str>,
    /// The create body, as a JSON string (reconstructed from the validated request).
    #[serde(default, deserialize_with = "json_text")]
    pub param: String,
    /// `{"resultUrls":[…]}` as a JSON string on success, `""` otherwise.
    #[serde(default, deserialize_with = "json_text")]
    pub result_json: String,
    /// `""` unless the task failed.
    #[serde(default, deserialize_with = "lenient::text")]
    pub fail_code: String,
    /// `""` unless the task failed.
    #[serde(default, deserialize_with = "lenient::text")]
    pub fail_msg: String,
    /// Unix ms; null until the task is terminal.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub complete_time: Option<i64>,
    /// Unix ms.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub create_time: i64,
    /// Unix ms.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub update_time: i64,
    /// Milliseconds from creation to completion; null until the task is terminal.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub cost_time: Option<i64>,
}

/// `resultJson`'s content: `{"resultUrls":[…]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultJson {
    #[serde(
        rename = "resultUrls",
        default,
        deserialize_with = "lenient::or_default"
    )]
    pub result_urls: Vec<String>,
}

/// Every Kie error: `code` is the HTTP status; `data` is always null.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = KieErrorEnvelope)]
pub struct ErrorEnvelope {
    /// The HTTP status.
    #[serde(default, deserialize_with = "lenient::code")]
    pub code: u16,
    #[serde(default, deserialize_with = "lenient::text")]
    pub msg: String,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub data: Option<()>,
}

fn cow_text<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'static, str>, D::Error> {
    lenient::text(d).map(Cow::Owned)
}

/// A string as it is; any other JSON (an object sent unquoted) as its JSON text; null as "".
fn json_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => String::new(),
        Value::String(s) => s,
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_what_it_wrote_and_odd_shapes_leniently() {
        let record = Record {
            task_id: "t1".into(),
            model: "bytedance/seedance-2-mini".into(),
            state: "success".into(),
            param: "{}".into(),
            result_json: r#"{"resultUrls":["https://e.com/v.mp4"]}"#.into(),
            fail_code: String::new(),
            fail_msg: String::new(),
            complete_time: Some(2),
            create_time: 1,
            update_time: 2,
            cost_time: Some(1),
        };
        let json = serde_json::to_value(&record).expect("JSON");
        assert_eq!(serde_json::from_value::<Record>(json).ok(), Some(record));
        let odd: Record = serde_json::from_value(serde_json::json!({
            "taskId": 12, "state": "fail", "failCode": 422, "resultJson": {"resultUrls": ["u"]},
            "createTime": "soon", "extra": true
        }))
        .expect("lenient");
        assert_eq!(odd.task_id, "12");
        assert_eq!(odd.fail_code, "422");
        assert_eq!(odd.result_json, r#"{"resultUrls":["u"]}"#);
        assert_eq!(odd.create_time, 0);
    }

    #[test]
    fn the_create_body_is_strict_and_round_trips() {
        let body = CreateTaskRequest {
            model: Some("bytedance/seedance-2-mini".into()),
            call_back_url: Some("https://e.com/cb".into()),
            input: Some(Input {
                prompt: Some("p".into()),
                duration: Some(5),
                ..Input::default()
            }),
        };
        let json = serde_json::to_value(&body).expect("JSON");
        assert_eq!(json["callBackUrl"], "https://e.com/cb");
        assert!(json["input"].get("resolution").is_none());
        assert_eq!(
            serde_json::from_value::<CreateTaskRequest>(json).ok(),
            Some(body)
        );
        assert!(serde_json::from_value::<CreateTaskRequest>(
            serde_json::json!({"input": {"bogus": 1}})
        )
        .is_err());
    }
}

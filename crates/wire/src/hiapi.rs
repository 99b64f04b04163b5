//! HiAPI (hiapi.ai), the unified async task API: seedgate serves it (the `hiapi` dialect) and
//! forwards to it (the `hiapi` upstream kind).
//!
//! | Route | Body |
//! |---|---|
//! | `POST /v1/tasks` | [`CreateTaskRequest`] → [`CreateResponse`] |
//! | `GET /v1/tasks/{id}` | [`TaskResponse`] (its `data`, [`TaskData`], is also the callback body) |
//! | `GET /v1/tasks?page=&size=` | [`ListResponse`] |
//! | any error | [`ErrorEnvelope`] |
//!
//! The schema names (`HiApi…`) and doc comments are the ones seedgate's OpenAPI document shows.
//!
//! The create body refuses unknown fields, as seedgate's dialect does, and writes only the
//! fields that are set. Responses are read leniently, as the upstream side always has: unknown
//! fields are ignored and a field of an unexpected type reads as absent, so that the reader, not
//! serde, decides what an odd answer means.

use crate::reapi::read;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use utoipa::ToSchema;

/// `POST /v1/tasks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiCreateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// `seedance-2.0-mini` (or an alias such as `seedance-2-0-mini`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The model's parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    /// Notify a URL when the task reaches a terminal state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<Callback>,
}

/// `input` of seedance-2.0-mini.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiInput)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `480p` or `720p` (default 720p).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// Seconds, 4 to 15 (default 5).
    #[serde(
        default,
        deserialize_with = "crate::de::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<i64>,
    /// `16:9` (default), `9:16`, `1:1`, `4:3`, `3:4`, `21:9`, `adaptive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<String>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_audio: Option<bool>,
    /// Image-to-video: the first frame (excludes reference media).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_frame_url: Option<String>,
    /// Image-to-video: the last frame (needs `first_frame_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame_url: Option<String>,
    /// At most 9, counted together with the frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_image_urls: Option<Vec<String>>,
    /// At most 3, 15 s in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_video_urls: Option<Vec<String>>,
    /// At most 3, 15 s in all; not the only reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_audio_urls: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiCallback)]
#[serde(deny_unknown_fields)]
pub struct Callback {
    /// Required when `callback` is set: an http(s) URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `final` (the default and only value): fires on success and on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

/// `{"code":200,"message":"success","data":{"taskId":…}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiCreateResponse)]
pub struct CreateResponse {
    // 0 when absent or not a number.
    #[serde(default, deserialize_with = "read::code")]
    #[schema(required = true)]
    pub code: u16,
    #[serde(default, deserialize_with = "read::string")]
    #[schema(required = true)]
    pub message: String,
    #[serde(default, deserialize_with = "read::object_or_default")]
    #[schema(required = true)]
    pub data: CreatedTask,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiCreatedTask)]
pub struct CreatedTask {
    // Empty when absent.
    #[serde(rename = "taskId", default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub task_id: String,
}

/// `GET /v1/tasks/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiTaskResponse)]
pub struct TaskResponse {
    // 0 when absent or not a number.
    #[serde(default, deserialize_with = "read::code")]
    #[schema(required = true)]
    pub code: u16,
    #[serde(default, deserialize_with = "read::string")]
    #[schema(required = true)]
    pub message: String,
    #[serde(default, deserialize_with = "read::object_or_default")]
    #[schema(required = true)]
    pub data: TaskData,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiTaskData)]
pub struct TaskData {
    // Empty when absent.
    #[serde(rename = "taskId", default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub task_id: String,
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub model: String,
    /// queued | handling | archiving | success | fail
    #[serde(default, deserialize_with = "read::string")]
    #[schema(value_type = String, required = true)]
    pub status: Cow<'static, str>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "read::time")]
    #[schema(required = true)]
    pub created: i64,
    /// Unix seconds; 0 until the task is terminal.
    #[serde(default, deserialize_with = "read::time")]
    #[schema(required = true)]
    pub completed: i64,
    /// Only on `success`.
    // Entries that are not objects are skipped when read.
    #[serde(
        default,
        deserialize_with = "read::items",
        skip_serializing_if = "Option::is_none"
    )]
    pub output: Option<Vec<OutputItem>>,
    /// Only on `fail`.
    #[serde(
        default,
        deserialize_with = "read::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub error: Option<TaskFailure>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiOutputItem)]
pub struct OutputItem {
    // Empty when absent.
    #[serde(default, deserialize_with = "read::text")]
    #[schema(required = true)]
    pub url: String,
    /// `video` or `last_frame`.
    // Empty when absent or not a string.
    #[serde(rename = "type", default, deserialize_with = "read::string")]
    #[schema(value_type = String, required = true)]
    pub kind: Cow<'static, str>,
    /// Unix seconds.
    #[serde(rename = "expireAt", default, deserialize_with = "read::time")]
    #[schema(required = true)]
    pub expire_at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiTaskFailure)]
pub struct TaskFailure {
    /// `CONTENT_MODERATION`, `INVALID_INPUT`, `UPSTREAM_RATE_LIMITED`, `UPSTREAM_ERROR`,
    /// `TIMEOUT`, `EXPIRED`, `INTERNAL_ERROR` or `CANCELLED`.
    // Read from a number too; empty when absent.
    #[serde(default, deserialize_with = "read::text")]
    #[schema(value_type = String, required = true)]
    pub code: Cow<'static, str>,
    #[serde(default, deserialize_with = "read::string")]
    #[schema(required = true)]
    pub message: String,
    // Read, never written: the name some servers use for `message`. Not in the schema.
    #[serde(default, skip_serializing, deserialize_with = "read::string")]
    #[schema(ignore)]
    pub msg: String,
}

/// `GET /v1/tasks?page=&size=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiListResponse)]
pub struct ListResponse {
    pub code: u16,
    pub message: String,
    pub data: TaskList,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiTaskList)]
pub struct TaskList {
    pub page: u64,
    pub size: u32,
    /// Tasks of the key, over all pages.
    pub total: u64,
    /// Newest first.
    pub tasks: Vec<ListedTask>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiListedTask)]
pub struct ListedTask {
    #[serde(rename = "taskId")]
    pub task_id: String,
    pub model: String,
    #[schema(value_type = String)]
    pub status: Cow<'static, str>,
    pub created: i64,
    pub completed: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Vec<OutputItem>>,
}

/// Every HiAPI error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = HiApiErrorEnvelope)]
pub struct ErrorEnvelope {
    /// The HTTP status.
    // 0 when absent or not a number.
    #[serde(default, deserialize_with = "read::code")]
    #[schema(required = true)]
    pub code: u16,
    #[serde(default, deserialize_with = "read::string")]
    #[schema(required = true)]
    pub message: String,
    /// Always null.
    // Whatever a server puts there is ignored.
    #[serde(default, deserialize_with = "read::nothing")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<()>,
    // Read from a number too; empty when absent.
    #[serde(default, deserialize_with = "read::text")]
    #[schema(value_type = String, required = true)]
    pub error_code: Cow<'static, str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    use crate::test_support::round_trip;

    fn data() -> TaskData {
        TaskData {
            task_id: "task_1".into(),
            model: "seedance-2.0-mini".into(),
            status: Cow::Borrowed("success"),
            created: 1_700_000_000,
            completed: 1_700_000_009,
            output: Some(vec![OutputItem {
                url: "https://cdn/0.mp4".into(),
                kind: Cow::Borrowed("video"),
                expire_at: 1_700_086_409,
            }]),
            error: None,
        }
    }

    #[test]
    fn create_bodies_write_only_what_is_set_and_refuse_unknown_fields() {
        let body = CreateTaskRequest {
            model: Some("seedance-2.0-mini".into()),
            input: Some(Input {
                prompt: Some("p".into()),
                duration: Some(5),
                ..Input::default()
            }),
            callback: Some(Callback {
                url: Some("https://e.com/cb".into()),
                when: Some("final".into()),
            }),
        };
        assert_eq!(
            round_trip(&body),
            json!({"model": "seedance-2.0-mini", "input": {"prompt": "p", "duration": 5},
                "callback": {"url": "https://e.com/cb", "when": "final"}})
        );
        for unknown in [
            json!({"seed": 1}),
            json!({"input": {"negative_prompt": "x"}}),
            json!({"callback": {"events": []}}),
        ] {
            assert!(
                serde_json::from_value::<CreateTaskRequest>(unknown.clone()).is_err(),
                "{unknown}"
            );
        }
    }

    #[test]
    fn responses_round_trip_and_read_leniently() {
        let task = round_trip(&TaskResponse {
            code: 200,
            message: "success".into(),
            data: data(),
        });
        assert!(task["data"].get("error").is_none(), "absent, not null");
        round_trip(&TaskData {
            status: Cow::Borrowed("fail"),
            output: None,
            error: Some(TaskFailure {
                code: Cow::Borrowed("EXPIRED"),
                message: "expired upstream".into(),
                msg: String::new(),
            }),
            ..data()
        });
        round_trip(&CreateResponse {
            code: 200,
            message: "success".into(),
            data: CreatedTask {
                task_id: "task_1".into(),
            },
        });
        round_trip(&ListResponse {
            code: 200,
            message: "success".into(),
            data: TaskList {
                page: 1,
                size: 20,
                total: 1,
                tasks: vec![ListedTask {
                    task_id: "task_1".into(),
                    model: "m".into(),
                    status: Cow::Borrowed("queued"),
                    created: 1,
                    completed: 0,
                    output: None,
                }],
            },
        });
        let envelope = ErrorEnvelope {
            code: 404,
            message: "task not found".into(),
            data: None,
            error_code: Cow::Borrowed("TASK_NOT_FOUND"),
        };
        assert_eq!(round_trip(&envelope)["data"], Value::Null);
        let odd: TaskResponse = serde_json::from_value(json!({"code": "200", "data": {
            "taskId": 9, "status": 1, "output": [5, {"url": "u"}, {"url": "v", "type": "video"}],
            "error": {"code": 500, "msg": "boom"}}}))
        .expect("odd but objects");
        assert_eq!(
            (
                odd.code,
                odd.data.task_id.as_str(),
                odd.data.status.as_ref()
            ),
            (200, "9", "")
        );
        let output = odd.data.output.expect("object entries");
        assert_eq!(output.len(), 2);
        assert_eq!((output[0].url.as_str(), output[0].kind.as_ref()), ("u", ""));
        let error = odd.data.error.expect("an error object");
        assert_eq!(
            (
                error.code.as_ref(),
                error.message.as_str(),
                error.msg.as_str()
            ),
            ("500", "", "boom")
        );
        let null_data: TaskResponse =
            serde_json::from_value(json!({"code": 404, "data": null})).expect("null data");
        assert_eq!(null_data.data, TaskData::default());
        let error: ErrorEnvelope =
            serde_json::from_value(json!({"code": 400, "data": {"x": 1}, "error_code": "X"}))
                .expect("data ignored");
        assert_eq!((error.code, error.error_code.as_ref()), (400, "X"));
    }

    #[test]
    fn schema_names_are_the_dialects() {
        use utoipa::ToSchema as _;
        assert_eq!(CreateTaskRequest::name(), "HiApiCreateTaskRequest");
        assert_eq!(Input::name(), "HiApiInput");
        assert_eq!(Callback::name(), "HiApiCallback");
        assert_eq!(CreateResponse::name(), "HiApiCreateResponse");
        assert_eq!(CreatedTask::name(), "HiApiCreatedTask");
        assert_eq!(TaskResponse::name(), "HiApiTaskResponse");
        assert_eq!(TaskData::name(), "HiApiTaskData");
        assert_eq!(OutputItem::name(), "HiApiOutputItem");
        assert_eq!(TaskFailure::name(), "HiApiTaskFailure");
        assert_eq!(ListResponse::name(), "HiApiListResponse");
        assert_eq!(TaskList::name(), "HiApiTaskList");
        assert_eq!(ListedTask::name(), "HiApiListedTask");
        assert_eq!(ErrorEnvelope::name(), "HiApiErrorEnvelope");
    }
}

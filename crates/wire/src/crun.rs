//! CRUN's API (crun.ai; upstream-contracts §3.4): seedgate serves it (the `crun` dialect) and
//! forwards to it (the `crun` upstream kind). Auth is the `x-api-key` header.
//!
//! | Route | Body |
//! |---|---|
//! | `POST /api/v1/client/job/CreateTask` | [`CreateTaskRequest`] → [`CreateTaskResponse`] |
//! | `GET /api/v1/client/job/TaskInfo?task_id=` | [`TaskInfoResponse`] (its `data` is also a callback's body) |
//! | `POST /api/v1/client/job/estimate-credits` | [`CreateTaskRequest`] → [`EstimateResponse`] |
//! | `POST /api/v1/client/job/asset-upload` | [`AssetUploadRequest`] → [`AssetUploadResponse`] |
//! | `GET /api/v1/client/job/asset-info?asset_id=` | [`AssetInfoResponse`] |
//! | any error | [`ErrorEnvelope`], `code` being the HTTP status (or CRUN's own: 455, 501, 505) |
//!
//! The type docs are the ones seedgate's OpenAPI document shows (schema names `Crun…`).
//!
//! Leniency: request bodies refuse unknown fields, as seedgate's dialect does, and read
//! `duration` from `5.0` too. Answers ignore fields they do not know, and a field of an odd
//! shape reads as its default rather than making the whole answer unreadable (CRUN's own
//! TaskInfo, for one, sends `param.input` as `{}`), so the upstream side keeps classifying what
//! servers send.

use crate::apixo::lenient;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use utoipa::ToSchema;

/// `POST /api/v1/client/job/CreateTask` (and `estimate-credits`) body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunCreateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// `bytedance/seedance2-0-mini-t2v`, `bytedance/seedance2-0-mini-i2v` or
    /// `bytedance/seedance2-0-mini-r2v`: the suffix is the mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Where the result is sent when the task finishes (absolute http(s) URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<CrunInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrunInput {
    /// Required for t2v; optional when images carry the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `480p` or `720p` (default 720p).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// `16:9` (default; `auto` for i2v), `9:16`, `1:1`, `4:3`, `3:4`, `21:9`, `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<String>,
    /// Seconds, 4 to 15 (default 5).
    #[serde(
        default,
        deserialize_with = "crate::de::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<i64>,
    /// Generate an audio track (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<bool>,
    /// Also return the last frame as a PNG (`result.last_frame_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_last_frame: Option<bool>,
    /// i2v only: the first frame and optionally the last frame (URLs or `asset://<AssetId>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub img_urls: Option<Vec<String>>,
    /// r2v only: up to 9 reference images (URLs or `asset://<AssetId>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_images: Option<Vec<String>>,
    /// r2v only: up to 3 reference videos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_videos: Option<Vec<String>>,
    /// r2v only: up to 3 reference audio files (not alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_audios: Option<Vec<String>>,
    /// Seedance 1.0 / 1.5 pro only; refused for the models seedgate serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_fixed: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunCreateTaskResponse)]
pub struct CreateTaskResponse {
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

/// Written as `task_id`; read from `task_id`, else `taskId` (the Kie family's spelling), a
/// number as its text. Missing or empty reads as an empty id, for the reader to refuse.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = CrunTaskIdData)]
pub struct TaskIdData {
    pub task_id: String,
}

impl<'de> Deserialize<'de> for TaskIdData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // By hand rather than with a serde alias: an answer carrying both spellings is read
        // (the first wins) instead of refused as a duplicate field.
        let data = lenient::object(d)?;
        Ok(TaskIdData {
            task_id: lenient::first_text(&data, &["task_id", "taskId"]).unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunTaskInfoResponse)]
pub struct TaskInfoResponse {
    #[serde(default, deserialize_with = "lenient::code")]
    #[schema(required = true)]
    pub code: u16,
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub message: String,
    pub data: TaskInfo,
}

/// A task as CRUN reports it (any dialect's task of the same key).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[schema(as = CrunTaskInfo)]
pub struct TaskInfo {
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub task_id: String,
    /// `seedgate`.
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(value_type = String, required = true)]
    pub provider: Cow<'static, str>,
    /// The canonical seedgate model, e.g. `seedance-2.0-mini`.
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub model_version: String,
    /// `pending`, `running`, `success` or `failed`.
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(value_type = String, required = true)]
    pub status: Cow<'static, str>,
    /// The request, in CRUN's shape, as seedgate understood it.
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(required = true)]
    pub param: TaskParam,
    /// Unix seconds.
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(required = true)]
    pub create_at: i64,
    /// Unix seconds; null until the task finishes.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub complete_at: Option<i64>,
    /// Seconds from creation to completion; null until the task finishes.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub duration_s: Option<i64>,
    /// Credits charged (seedgate credits), on terminal states; 0 when refunded.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub credits: Option<u64>,
    /// `{media_urls}` on success, `{code: 501, message, media_urls: []}` on failure, else null.
    #[serde(default, deserialize_with = "lenient::or_default")]
    pub result: Option<TaskResult>,
    /// `api`.
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(value_type = String, required = true)]
    pub source: Cow<'static, str>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[schema(as = CrunTaskParam)]
pub struct TaskParam {
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub model: String,
    #[serde(default, deserialize_with = "lenient::optional_text")]
    pub callback_url: Option<String>,
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(required = true)]
    pub input: ParamInput,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[schema(as = CrunParamInput)]
pub struct ParamInput {
    #[serde(
        default,
        deserialize_with = "lenient::optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub prompt: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub resolution: String,
    /// `auto` for canonical `adaptive`.
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub aspect_ratio: String,
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(required = true)]
    pub duration: u32,
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(required = true)]
    pub audio: bool,
    #[serde(default, deserialize_with = "lenient::or_default")]
    #[schema(required = true)]
    pub return_last_frame: bool,
    #[serde(
        default,
        deserialize_with = "lenient::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub img_urls: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "lenient::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub reference_images: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "lenient::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub reference_videos: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "lenient::or_default",
        skip_serializing_if = "Option::is_none"
    )]
    pub reference_audios: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, ToSchema)]
#[schema(as = CrunTaskResult)]
pub struct TaskResult {
    /// 501 ("Generation Failed") on failure.
    #[serde(
        default,
        deserialize_with = "lenient::optional_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<u16>,
    #[serde(
        default,
        deserialize_with = "lenient::optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "lenient::urls")]
    #[schema(required = true)]
    pub media_urls: Vec<String>,
    /// With `return_last_frame`: a PNG of the last frame.
    #[serde(
        default,
        deserialize_with = "lenient::optional_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_frame_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunEstimateResponse)]
pub struct EstimateResponse {
    pub code: u16,
    pub message: String,
    pub data: EstimateData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunEstimateData)]
pub struct EstimateData {
    /// What CreateTask with the same body would charge (seedgate credits).
    pub credits: u64,
    /// Always true.
    pub estimated: bool,
}

/// `POST /api/v1/client/job/asset-upload` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunAssetUploadRequest)]
#[serde(deny_unknown_fields)]
pub struct AssetUploadRequest {
    /// A label for the asset (at most 255 characters), returned by `asset-info` as `Name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Image`, `Video` or `Audio` (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_type: Option<String>,
    /// A public http(s) URL of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunAssetUploadResponse)]
pub struct AssetUploadResponse {
    pub code: u16,
    pub message: String,
    pub data: AssetIdData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunAssetIdData)]
#[serde(rename_all = "PascalCase")]
pub struct AssetIdData {
    /// Use as `asset://<AssetId>` in `img_urls` or `reference_*`.
    pub asset_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunAssetInfoResponse)]
pub struct AssetInfoResponse {
    pub code: u16,
    pub message: String,
    pub data: AssetInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunAssetInfo)]
#[serde(rename_all = "PascalCase")]
pub struct AssetInfo {
    pub asset_id: String,
    /// The `name` given at upload; the AssetId when none was given.
    pub name: String,
    /// `Image`, `Video` or `Audio`, as probed.
    #[schema(value_type = String)]
    pub asset_type: Cow<'static, str>,
    /// Always `Active`: an asset is probed and checked before it is stored.
    #[schema(value_type = String)]
    pub status: Cow<'static, str>,
    /// Unix seconds.
    pub create_time: i64,
    /// Unix seconds.
    pub update_time: i64,
    /// The asset's URL.
    pub url: String,
}

/// Every CRUN error: `code` equals the HTTP status; `data` is null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = CrunErrorEnvelope)]
pub struct ErrorEnvelope {
    #[serde(default, deserialize_with = "lenient::code")]
    #[schema(required = true)]
    pub code: u16,
    #[serde(default, deserialize_with = "lenient::text")]
    #[schema(required = true)]
    pub message: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::test_support::round_trip;

    #[test]
    fn requests_write_only_what_is_set_and_refuse_unknown_fields() {
        let body = CreateTaskRequest {
            model: Some("bytedance/seedance2-0-mini-i2v".into()),
            callback_url: None,
            input: Some(CrunInput {
                duration: Some(5),
                img_urls: Some(vec!["https://e.com/a.png".into()]),
                ..CrunInput::default()
            }),
        };
        assert_eq!(
            round_trip(&body),
            json!({"model": "bytedance/seedance2-0-mini-i2v",
                   "input": {"duration": 5, "img_urls": ["https://e.com/a.png"]}})
        );
        let read: CreateTaskRequest =
            serde_json::from_value(json!({"input": {"duration": 5.0}})).expect("5.0");
        assert_eq!(read.input.and_then(|i| i.duration), Some(5));
        for bad in [json!({"modle": "x"}), json!({"input": {"seed": 1}})] {
            let err = serde_json::from_value::<CreateTaskRequest>(bad).expect_err("unknown");
            assert!(err.to_string().contains("unknown field"), "{err}");
        }
        round_trip(&AssetUploadRequest {
            name: Some("n".into()),
            asset_type: Some("Image".into()),
            asset_url: Some("https://e.com/a.png".into()),
        });
    }

    fn info() -> TaskInfo {
        TaskInfo {
            task_id: "task_1".into(),
            provider: Cow::Borrowed("seedgate"),
            model_version: "seedance-2.0-mini".into(),
            status: Cow::Borrowed("success"),
            param: TaskParam {
                model: "bytedance/seedance2-0-mini-t2v".into(),
                callback_url: None,
                input: ParamInput {
                    prompt: Some("p".into()),
                    resolution: "720p".into(),
                    aspect_ratio: "16:9".into(),
                    duration: 5,
                    audio: true,
                    ..ParamInput::default()
                },
            },
            create_at: 1_700_000_000,
            complete_at: Some(1_700_000_010),
            duration_s: Some(10),
            credits: Some(513),
            result: Some(TaskResult {
                media_urls: vec!["https://e.com/v.mp4".into()],
                last_frame_url: Some("https://e.com/l.png".into()),
                ..TaskResult::default()
            }),
            source: Cow::Borrowed("api"),
        }
    }

    #[test]
    fn answers_round_trip() {
        let json = round_trip(&TaskInfoResponse {
            code: 200,
            message: "success".into(),
            data: info(),
        });
        assert_eq!(json["data"]["param"]["callback_url"], Value::Null);
        assert!(json["data"]["result"].get("code").is_none(), "{json}");
        round_trip(&CreateTaskResponse {
            code: 200,
            message: "success".into(),
            data: TaskIdData {
                task_id: "task_1".into(),
            },
        });
        round_trip(&ErrorEnvelope {
            code: 422,
            message: "input.duration: bad".into(),
            data: Value::Null,
        });
        round_trip(&AssetInfoResponse {
            code: 200,
            message: "success".into(),
            data: AssetInfo {
                asset_id: "asset_1".into(),
                name: "n".into(),
                asset_type: Cow::Borrowed("Image"),
                status: Cow::Borrowed("Active"),
                create_time: 1,
                update_time: 1,
                url: "https://e.com/a.png".into(),
            },
        });
        round_trip(&EstimateResponse {
            code: 200,
            message: "success".into(),
            data: EstimateData {
                credits: 513,
                estimated: true,
            },
        });
        round_trip(&AssetUploadResponse {
            code: 200,
            message: "success".into(),
            data: AssetIdData {
                asset_id: "asset_1".into(),
            },
        });
    }

    #[test]
    fn answers_are_read_leniently() {
        // CRUN's own TaskInfo, as documented.
        let read: TaskInfoResponse = serde_json::from_value(json!({"code":200,"message":"success","data":{
            "task_id":"d6956973","provider":"Google","model_version":"nano-banana","status":"failed",
            "param":{"model":"google/nano-banana","callback_url":null,"input":{}},
            "create_at":1768900378,"result":{"code":"501","message":"Generation Failed","media_urls":"x"},
            "duration_s":null,"complete_at":null,"source":"api"}}))
        .expect("CRUN's answer");
        let result = read.data.result.expect("result");
        assert_eq!(result.code, Some(501));
        assert_eq!(result.media_urls, vec!["x".to_string()]);
        assert_eq!(read.data.param.input, ParamInput::default());
        let odd: TaskInfo = serde_json::from_value(json!({"status": 3, "result": "none",
            "param": [1], "credits": -1}))
        .expect("odd shapes");
        assert_eq!(
            (odd.status.as_ref(), odd.result, odd.credits),
            ("", None, None)
        );
        let created: CreateTaskResponse =
            serde_json::from_value(json!({"code":"200","data":{"taskId":7}})).expect("camelCase");
        assert_eq!(created.data.task_id, "7");
        assert!(serde_json::from_value::<CreateTaskResponse>(json!({"data": null})).is_err());
    }

    #[test]
    fn schema_names_are_the_dialects() {
        use utoipa::ToSchema as _;
        assert_eq!(CreateTaskRequest::name(), "CrunCreateTaskRequest");
        assert_eq!(CrunInput::name(), "CrunInput");
        assert_eq!(CreateTaskResponse::name(), "CrunCreateTaskResponse");
        assert_eq!(TaskIdData::name(), "CrunTaskIdData");
        assert_eq!(TaskInfoResponse::name(), "CrunTaskInfoResponse");
        assert_eq!(TaskInfo::name(), "CrunTaskInfo");
        assert_eq!(TaskParam::name(), "CrunTaskParam");
        assert_eq!(ParamInput::name(), "CrunParamInput");
        assert_eq!(TaskResult::name(), "CrunTaskResult");
        assert_eq!(EstimateResponse::name(), "CrunEstimateResponse");
        assert_eq!(AssetUploadRequest::name(), "CrunAssetUploadRequest");
        assert_eq!(AssetInfo::name(), "CrunAssetInfo");
        assert_eq!(ErrorEnvelope::name(), "CrunErrorEnvelope");
    }
}

//! Kie (kie.ai) market jobs: `POST /api/v1/jobs/createTask`,
//! `GET /api/v1/jobs/recordInfo?taskId=`.
//!
//! Create: `{"model":"bytedance/seedance-2-mini","callBackUrl":"https://…","input":{…}}` (the
//! model name resolves through the catalog, so `seedance-2.0-mini` and the other aliases work
//! too; note the camelCase top-level `callBackUrl`). `input` is required. Kie's defaults:
//! `generate_audio` true and `nsfw_checker` false (both differ from the canonical defaults, so
//! this dialect sets them when absent), `aspect_ratio` 16:9, `resolution` 720p, `duration` 5,
//! `web_search` false. Media fields take URLs or `asset://{assetId}`. Answer:
//! `{"code":200,"msg":"success","data":{"taskId":"task_…"}}` (`msg`, not `message`, on create).
//!
//! recordInfo: `{"code":200,"message":"success","data":{…}}` with `taskId`, `model` (as
//! requested), `state`, `param`, `resultJson`, `failCode`, `failMsg`, `createTime`,
//! `updateTime`, `completeTime` and `costTime`. Times are Unix **milliseconds**. `completeTime`
//! and `costTime` are `null` until the task is terminal; `costTime` is then the time from
//! creation to completion. `resultJson` is a JSON **string**: `{"resultUrls":[…]}` on success,
//! `""` otherwise. `failCode` and `failMsg` are `""` unless the task failed.
//!
//! `param` is a JSON **string** of the create body. seedgate does not keep request bodies, so it
//! is a reconstruction from the validated request: `model` as the client sent it, `callBackUrl`
//! when one was given, and `input` with every value the task runs with (defaults filled in,
//! `asset://` references replaced by the asset's URL, URLs in normalised form). A task created
//! in another dialect gets the same Kie-shaped reconstruction.
//!
//! States: queued → `waiting` (`queuing` is not used: seedgate has one queue), running →
//! `generating`, succeeded → `success`, failed and cancelled → `fail`.
//!
//! `failCode`, by failure kind, in the style of Kie's numeric task codes: moderation `"400"`
//! (content flagged by the safety checks), invalid input `"422"`, upstream rate limiting `"429"`,
//! seedgate's own failure `"500"`, upstream generation failure `"501"`, timeout `"504"`, expiry
//! `"410"`; a task cancelled in another dialect fails with `"499"`.
//!
//! Callback body ([`record_info_response`]): exactly the recordInfo answer a poll gets.
//!
//! Errors: `{"code":<HTTP status>,"msg":…,"data":null}`, the HTTP status equal to `code`. As in
//! the Kie family (CRUN's documented 422), a request that is JSON but invalid is **422**
//! (missing, unknown or invalid field, unknown model, unreadable media, a bad `Idempotency-Key`
//! header, reuse of a key with another body); a body that is not a JSON object is 400. 401 bad or
//! missing key, 402 insufficient credits, 404 unknown task (or another key's) or endpoint, 405
//! wrong method, 409 an `Idempotency-Key` still in flight (or a task in the wrong state), 413
//! asset quota, 429 rate limited (`Retry-After`), 500 internal, 503 unavailable. Messages name
//! fields as Kie does: `input.first_frame_url`, `callBackUrl`.

use crate::common::{self, Auth, Dialect, Reply};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use seedgate_core::error::{AuthFailure, GatewayError, ValidationError};
use seedgate_core::media::MediaUrl;
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{RequestDraft, RequestId, Task};
use seedgate_gateway::StoredResponse;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub struct Kie;

pub const CREATE_ROUTE: &str = "/api/v1/jobs/createTask";

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task))
        .routes(routes!(record_info))
}

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

/// Every Kie error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = KieErrorEnvelope)]
pub struct ErrorEnvelope {
    /// The HTTP status.
    pub code: u16,
    pub msg: String,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub data: Option<()>,
}

/// The create body `param` reports.
#[derive(Debug, Serialize, PartialEq)]
struct ParamBody<'a> {
    model: &'a str,
    #[serde(rename = "callBackUrl", skip_serializing_if = "Option::is_none")]
    call_back_url: Option<&'a str>,
    input: ParamInput<'a>,
}

#[derive(Debug, Serialize, PartialEq)]
struct ParamInput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_frame_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_frame_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reference_image_urls: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reference_video_urls: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reference_audio_urls: Vec<&'a str>,
    generate_audio: bool,
    resolution: &'static str,
    aspect_ratio: &'static str,
    duration: u32,
    web_search: bool,
    nsfw_checker: bool,
}

#[derive(Debug, Serialize)]
struct ResultJson<'a> {
    #[serde(rename = "resultUrls")]
    result_urls: &'a [String],
}

/// The Kie name of a canonical field (`first_frame_url` → `input.first_frame_url`,
/// `callback_url` → `callBackUrl`).
pub fn wire_name(field: &str) -> String {
    match field {
        "model" => "model".into(),
        "callback_url" => "callBackUrl".into(),
        f => format!("input.{f}"),
    }
}

/// A gateway error with canonical field names replaced by this dialect's.
fn renamed(error: GatewayError) -> GatewayError {
    error.renamed(wire_name)
}

/// Parses a create body into a draft; also returns the parsed JSON for fingerprinting. Errors
/// name Kie's fields; the values are validated canonically by the gateway.
pub fn parse_create(body: &[u8]) -> Result<(RequestDraft, serde_json::Value), ValidationError> {
    let (wire, json): (CreateTaskRequest, serde_json::Value) = common::parse_json_keeping(body)?;
    let Some(input) = wire.input else {
        return Err(ValidationError::Missing {
            field: "input".into(),
        });
    };
    let draft = RequestDraft {
        model: wire.model,
        prompt: input.prompt,
        first_frame_url: input.first_frame_url,
        last_frame_url: input.last_frame_url,
        reference_image_urls: input.reference_image_urls,
        reference_video_urls: input.reference_video_urls,
        reference_audio_urls: input.reference_audio_urls,
        // Kie's defaults, unlike the canonical ones.
        generate_audio: Some(input.generate_audio.unwrap_or(true)),
        nsfw_checker: Some(input.nsfw_checker.unwrap_or(false)),
        resolution: input.resolution,
        aspect_ratio: input.aspect_ratio,
        duration: input.duration,
        web_search: input.web_search,
        callback_url: wire.call_back_url,
        ..RequestDraft::default()
    };
    Ok((draft, json))
}

fn state(task: &Task) -> &'static str {
    match task.status {
        TaskStatus::Queued => "waiting",
        TaskStatus::Running => "generating",
        TaskStatus::Succeeded => "success",
        TaskStatus::Failed | TaskStatus::Cancelled => "fail",
    }
}

/// Kie's `failCode` of a failed task.
pub fn failure_code(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Moderation => "400",
        FailureKind::InvalidInput => "422",
        FailureKind::RateLimited => "429",
        FailureKind::Internal => "500",
        FailureKind::UpstreamError => "501",
        FailureKind::Timeout => "504",
        FailureKind::Expired => "410",
    }
}

/// `failCode` of a task cancelled in another dialect.
pub const CANCELLED_FAIL_CODE: &str = "499";

/// The create body of a task, reconstructed from its validated request (see the module doc).
pub fn param(task: &Task) -> String {
    serde_json::to_string(&param_body(task)).unwrap_or_default()
}

fn urls(list: &[MediaUrl]) -> Vec<&str> {
    list.iter().map(MediaUrl::as_str).collect()
}

fn param_body(task: &Task) -> ParamBody<'_> {
    let r = &task.request;
    ParamBody {
        model: if task.requested_model.is_empty() {
            &r.model
        } else {
            &task.requested_model
        },
        call_back_url: r.callback_url.as_deref(),
        input: ParamInput {
            prompt: r.prompt.as_deref(),
            first_frame_url: r.first_frame_url.as_ref().map(|u| u.as_str()),
            last_frame_url: r.last_frame_url.as_ref().map(|u| u.as_str()),
            reference_image_urls: urls(&r.reference_image_urls),
            reference_video_urls: urls(&r.reference_video_urls),
            reference_audio_urls: urls(&r.reference_audio_urls),
            generate_audio: r.generate_audio,
            resolution: r.resolution.as_str(),
            aspect_ratio: r.aspect_ratio.as_str(),
            duration: r.duration_seconds,
            web_search: r.web_search,
            nsfw_checker: r.nsfw_checker,
        },
    }
}

/// The Kie view of a task (`data` of recordInfo).
pub fn record(task: &Task) -> Record {
    let result_json = match (task.status, &task.output) {
        (TaskStatus::Succeeded, Some(o)) => serde_json::to_string(&ResultJson {
            result_urls: &o.video_urls,
        })
        .unwrap_or_default(),
        _ => String::new(),
    };
    let (fail_code, fail_msg) = match task.status {
        TaskStatus::Failed => match &task.error {
            Some(e) => (failure_code(e.kind), e.message.clone()),
            None => (failure_code(FailureKind::Internal), "task failed".into()),
        },
        TaskStatus::Cancelled => (
            CANCELLED_FAIL_CODE,
            "task was cancelled; credits refunded".into(),
        ),
        _ => ("", String::new()),
    };
    let complete_time = task
        .status
        .is_terminal()
        .then(|| task.finished_at_ms.unwrap_or(task.updated_at_ms));
    Record {
        task_id: task.id.to_string(),
        model: if task.requested_model.is_empty() {
            task.request.model.clone()
        } else {
            task.requested_model.clone()
        },
        state: state(task),
        param: param(task),
        result_json,
        fail_code: fail_code.to_string(),
        fail_msg,
        complete_time,
        create_time: task.created_at_ms,
        update_time: task.updated_at_ms,
        cost_time: complete_time.map(|done| (done - task.created_at_ms).max(0)),
    }
}

/// The recordInfo answer. It is also the body posted to `callBackUrl` when the task finishes:
/// exactly what a poll returns (third-party handlers describe the callback with `msg` in place
/// of `message`; they read `data`, which is the same either way).
pub fn record_info_response(task: &Task) -> RecordInfoResponse {
    RecordInfoResponse {
        code: 200,
        message: "success".into(),
        data: record(task),
    }
}

/// The HTTP status (and `code`) of a gateway error.
pub fn error_status(error: &GatewayError) -> StatusCode {
    use StatusCode as S;
    match error {
        GatewayError::Unauthenticated(_) => S::UNAUTHORIZED,
        GatewayError::Validation(ValidationError::NotAnObject) => S::BAD_REQUEST,
        GatewayError::Validation(_)
        | GatewayError::IdempotencyKeyInvalid(_)
        | GatewayError::PricingUnavailable { .. }
        | GatewayError::IdempotencyMismatch => S::UNPROCESSABLE_ENTITY,
        GatewayError::InsufficientCredits { .. } => S::PAYMENT_REQUIRED,
        GatewayError::NotFound | GatewayError::AssetNotFound | GatewayError::RouteNotFound => {
            S::NOT_FOUND
        }
        GatewayError::MethodNotAllowed => S::METHOD_NOT_ALLOWED,
        GatewayError::IdempotencyInFlight
        | GatewayError::NotCancellable
        | GatewayError::NotDeletable => S::CONFLICT,
        GatewayError::QuotaExceeded { .. } | GatewayError::PayloadTooLarge => S::PAYLOAD_TOO_LARGE,
        GatewayError::RateLimited { .. } => S::TOO_MANY_REQUESTS,
        GatewayError::Internal(_) => S::INTERNAL_SERVER_ERROR,
        GatewayError::Unavailable(_) => S::SERVICE_UNAVAILABLE,
    }
}

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: Kie::NAME,
    path_prefixes: &["/api/v1/jobs/"],
    routes,
    error_response: <Kie as Dialect>::error_response,
    error_schema: "KieErrorEnvelope",
    callback_body: Some(|task, _| crate::callbacks::json(&record_info_response(task))),
    hiapi_signature: false,
};

impl Dialect for Kie {
    const NAME: &'static str = "kie";

    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, _request_id: &RequestId) -> Response {
        let status = error_status(error);
        let envelope = ErrorEnvelope {
            code: status.as_u16(),
            msg: error.to_string(),
            data: None,
        };
        let mut response = common::json_response(status, &envelope);
        common::with_retry_after(&mut response, error);
        response
    }
}

fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(
        200,
        &CreateResponse {
            code: 200,
            msg: "success".into(),
            data: CreatedTask {
                task_id: task.id.to_string(),
            },
        },
    )
}

/// Create a task.
#[utoipa::path(post, path = "/api/v1/jobs/createTask", tag = "Kie",
    request_body = CreateTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses((status = 200, description = "The new task's id", body = CreateResponse),
        (status = 400, description = "Body is not a JSON object", body = ErrorEnvelope),
        (status = 422, description = "Invalid request", body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope), (status = "5XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn create_task(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Kie>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Kie> {
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    let (draft, json) = parse_create(&body)?;
    Ok(common::submit::<Kie>(
        &gateway,
        &principal,
        &headers,
        CREATE_ROUTE,
        &json,
        draft,
        &render_created,
    )
    .await
    .map_err(renamed)?)
}

/// Read a task (any dialect's task of the same key).
#[utoipa::path(get, path = "/api/v1/jobs/recordInfo", tag = "Kie",
    params(("taskId" = String, Query, description = "Task id")),
    responses((status = 200, body = RecordInfoResponse), (status = 404, body = ErrorEnvelope),
        (status = 422, description = "No taskId", body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn record_info(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Kie>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Reply<Kie> {
    let Query(query) = query.map_err(|e| ValidationError::invalid("taskId", &e.body_text()))?;
    let id = query
        .get("taskId")
        .map(|id| id.trim())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ValidationError::Missing {
            field: "taskId".into(),
        })?;
    let task = gateway.get_task(&principal, id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &record_info_response(&task),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(body: &str) -> Result<RequestDraft, ValidationError> {
        parse_create(body.as_bytes()).map(|(d, _)| d)
    }

    #[test]
    fn create_bodies_parse_with_kie_defaults() {
        let d = parse(
            r#"{"model":"bytedance/seedance-2-mini","callBackUrl":"https://e.com/cb",
                "input":{"prompt":"p","first_frame_url":"asset://asset_1","duration":4.0,
                "web_search":true}}"#,
        )
        .expect("ok");
        assert_eq!(d.callback_url.as_deref(), Some("https://e.com/cb"));
        assert_eq!(d.first_frame_url.as_deref(), Some("asset://asset_1"));
        assert_eq!(
            (d.generate_audio, d.nsfw_checker, d.web_search, d.duration),
            (Some(true), Some(false), Some(true), Some(4))
        );
        let d = parse(
            r#"{"model":"m","input":{"prompt":"p","generate_audio":false,"nsfw_checker":true}}"#,
        )
        .expect("ok");
        assert_eq!(
            (d.generate_audio, d.nsfw_checker),
            (Some(false), Some(true))
        );
    }

    #[test]
    fn wire_errors_use_kie_names() {
        let field = |body: &str| parse(body).expect_err(body).field().map(str::to_string);
        assert_eq!(field(r#"{"model":"m"}"#), Some("input".into()));
        assert_eq!(
            field(r#"{"model":"m","callbackUrl":"https://e.com","input":{}}"#),
            Some("callbackUrl".into())
        );
        assert_eq!(
            field(r#"{"model":"m","input":{"reference_image_urls":"https://e.com/a.png"}}"#),
            Some("input.reference_image_urls".into())
        );
        assert_eq!(parse("nope"), Err(ValidationError::NotAnObject));
        assert_eq!(wire_name("callback_url"), "callBackUrl");
        assert_eq!(wire_name("last_frame_url"), "input.last_frame_url");
    }

    #[test]
    fn statuses_follow_the_kie_family() {
        let cases = [
            (GatewayError::Unauthenticated(AuthFailure::Invalid), 401),
            (GatewayError::Validation(ValidationError::NotAnObject), 400),
            (
                GatewayError::Validation(ValidationError::Missing {
                    field: "model".into(),
                }),
                422,
            ),
            (GatewayError::PricingUnavailable { reason: "x".into() }, 422),
            (
                GatewayError::InsufficientCredits {
                    needed: 2,
                    available: 1,
                },
                402,
            ),
            (GatewayError::NotFound, 404),
            (GatewayError::RouteNotFound, 404),
            (GatewayError::MethodNotAllowed, 405),
            (GatewayError::IdempotencyInFlight, 409),
            (GatewayError::IdempotencyMismatch, 422),
            (
                GatewayError::RateLimited {
                    retry_after: Duration::from_millis(10),
                },
                429,
            ),
            (GatewayError::Internal("x".into()), 500),
            (GatewayError::Unavailable("db".into()), 503),
        ];
        for (error, status) in cases {
            assert_eq!(error_status(&error).as_u16(), status, "{error:?}");
            let r = Kie::error_response(&error, &RequestId::generate());
            assert_eq!(r.status().as_u16(), status);
        }
        let r = Kie::error_response(
            &GatewayError::RateLimited {
                retry_after: Duration::from_millis(10),
            },
            &RequestId::generate(),
        );
        assert_eq!(r.headers()["retry-after"], "1");
    }

    fn sample_task(status: TaskStatus) -> Task {
        let draft = RequestDraft {
            model: Some("bytedance/seedance-2-mini".into()),
            prompt: Some("p".into()),
            reference_image_urls: Some(vec!["https://e.com/a.png".into()]),
            callback_url: Some("https://e.com/cb".into()),
            ..RequestDraft::default()
        };
        let request =
            seedgate_core::GenerationRequest::from_draft(draft, &seedgate_core::Catalog::builtin())
                .expect("valid");
        Task {
            id: seedgate_core::TaskId::generate(),
            api_key_id: seedgate_core::ApiKeyId::generate(),
            request,
            requested_model: "bytedance/seedance-2-mini".into(),
            origin_dialect: "kie".into(),
            status,
            price: seedgate_core::pricing::Price {
                billable_seconds: 5,
                credits: 513,
                micro_usd_per_second: 102_500,
            },
            attempt: 1,
            created_at_ms: 1_700_000_000_500,
            updated_at_ms: 1_700_000_009_900,
            started_at_ms: Some(1_700_000_001_000),
            finished_at_ms: status.is_terminal().then_some(1_700_000_009_900),
            output: None,
            error: None,
            provider: None,
        }
    }

    #[test]
    fn record_views() {
        let mut t = sample_task(TaskStatus::Succeeded);
        t.output = Some(seedgate_core::TaskOutput {
            video_urls: vec!["http://h/media/0.mp4".into()],
            ..Default::default()
        });
        let v = serde_json::to_value(record(&t)).expect("json");
        assert_eq!(v["state"], "success");
        assert_eq!(
            v["resultJson"],
            r#"{"resultUrls":["http://h/media/0.mp4"]}"#
        );
        assert_eq!(
            (&v["createTime"], &v["completeTime"], &v["costTime"]),
            (
                &1_700_000_000_500_i64.into(),
                &1_700_000_009_900_i64.into(),
                &9_400.into()
            )
        );
        let param: serde_json::Value =
            serde_json::from_str(v["param"].as_str().expect("string")).expect("json");
        assert_eq!(
            param,
            serde_json::json!({"model": "bytedance/seedance-2-mini",
                "callBackUrl": "https://e.com/cb",
                "input": {"prompt": "p", "reference_image_urls": ["https://e.com/a.png"],
                    "generate_audio": false, "resolution": "720p", "aspect_ratio": "16:9",
                    "duration": 5, "web_search": false, "nsfw_checker": true}})
        );
        let v = serde_json::to_value(record(&sample_task(TaskStatus::Cancelled))).expect("json");
        assert_eq!(
            (&v["state"], &v["failCode"]),
            (&"fail".into(), &"499".into())
        );
        assert_eq!(v["resultJson"], "");
        let v = serde_json::to_value(record(&sample_task(TaskStatus::Queued))).expect("json");
        assert_eq!(v["state"], "waiting");
        assert!(v["completeTime"].is_null() && v["costTime"].is_null());
        assert_eq!((&v["failCode"], &v["failMsg"]), (&"".into(), &"".into()));
        let body = serde_json::to_value(record_info_response(&sample_task(TaskStatus::Running)))
            .expect("json");
        assert_eq!(
            (&body["code"], &body["message"]),
            (&200.into(), &"success".into())
        );
        assert_eq!(body["data"]["state"], "generating");
    }

    #[test]
    fn fail_codes_are_distinct() {
        let kinds = [
            FailureKind::Moderation,
            FailureKind::InvalidInput,
            FailureKind::RateLimited,
            FailureKind::UpstreamError,
            FailureKind::Timeout,
            FailureKind::Expired,
            FailureKind::Internal,
        ];
        let mut codes: Vec<&str> = kinds.iter().map(|k| failure_code(*k)).collect();
        codes.push(CANCELLED_FAIL_CODE);
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }

    #[test]
    fn openapi_schemas_carry_the_dialect_prefix() {
        let doc = crate::openapi(RouteLimits {
            max_upload_bytes: 1,
        });
        let json = serde_json::to_value(&doc).expect("json");
        let schemas = json["components"]["schemas"].as_object().expect("schemas");
        for name in ["KieCreateTaskRequest", "KieInput", "KieErrorEnvelope"] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
        let body = json["paths"]["/api/v1/jobs/createTask"]["post"]["requestBody"].to_string();
        assert!(
            body.contains("#/components/schemas/KieCreateTaskRequest"),
            "{body}"
        );
    }
}

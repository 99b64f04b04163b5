//! HiAPI (hiapi.ai): the unified async task API. `POST /v1/tasks` creates, `GET /v1/tasks/{id}`
//! reads one task, `GET /v1/tasks?page=&size=` lists the key's tasks, newest first.
//!
//! Create: `{"model":"seedance-2.0-mini","input":{…},"callback":{"url":"https://…","when":"final"}}`
//! (the model name resolves through the catalog, so its aliases work too). `input` and
//! `input.prompt` are required (HiAPI marks the prompt required even with a first frame).
//! HiAPI's defaults: `generate_audio` true (the canonical default is false, so this dialect sets it
//! when absent), `aspect_ratio` 16:9, `resolution` 720p, `duration` 5 (the catalog's own).
//! `callback.url` is required when `callback` is given; `callback.when` accepts only `final` (the
//! default). Answer: `{"code":200,"message":"success","data":{"taskId":"task_…"}}`; task ids are
//! seedgate's (`task_<ulid>`), shared by every dialect, not HiAPI's `tk-hiapi-…`.
//!
//! Task (`data` of `GET /v1/tasks/{id}`): `taskId`, `model` (as requested), `status`, `created`
//! and `completed` (Unix seconds; `completed` is 0 until the task is terminal), `output` (only on
//! `success`: `[{url, type, expireAt}]`, `type` `video`, plus `last_frame` when the task asked
//! for one) and `error` (only on `fail`: `{code, message}`).
//!
//! Callback body: exactly the `data` object of `GET /v1/tasks/{id}` ([`task_data`]), signed with
//! HiAPI's `X-HiAPI-Timestamp` / `X-HiAPI-Signature` headers when a signing key is set.
//!
//! Statuses: queued → `queued`, running → `handling`, succeeded → `success`, failed and cancelled
//! → `fail`. `archiving` is never reported: seedgate stores the result before a task counts as
//! succeeded, so there is no visible "done, output being prepared" phase.
//!
//! `expireAt`: seedgate keeps results (it has no result-retention setting), so the value is the
//! promise HiAPI's clients plan around: the task's finish time + 24 h, in Unix seconds.
//!
//! A failed task's `error.code`, by failure kind: moderation `CONTENT_MODERATION`, invalid input
//! `INVALID_INPUT`, upstream rate limiting `UPSTREAM_RATE_LIMITED`, upstream failure
//! `UPSTREAM_ERROR`, timeout `TIMEOUT`, expiry `EXPIRED`, seedgate's own failure
//! `INTERNAL_ERROR`; a task cancelled in another dialect shows as `fail` with `CANCELLED`.
//!
//! Errors: `{"code":<HTTP status>,"message":…,"data":null,"error_code":"<ENUM>"}`, the HTTP
//! status equal to `code`. The `error_code` enum:
//!
//! | error_code | HTTP | when |
//! |---|---|---|
//! | `UNAUTHORIZED` | 401 | no, malformed, unknown or revoked API key |
//! | `INVALID_REQUEST` | 400 | body not a JSON object, a missing, unknown or invalid field, prompt too long, a bad `Idempotency-Key` header |
//! | `MODEL_NOT_SUPPORTED` | 400 | unknown model, or one this gateway does not serve yet |
//! | `MEDIA_UNREADABLE` | 400 | a referenced medium could not be fetched or read, so it cannot be priced |
//! | `INSUFFICIENT_CREDITS` | 402 | the balance does not cover the request |
//! | `TASK_NOT_FOUND` | 404 | unknown task, or another key's |
//! | `ASSET_NOT_FOUND` | 404 | unknown asset |
//! | `NOT_FOUND` | 404 | no such endpoint |
//! | `METHOD_NOT_ALLOWED` | 405 | the endpoint does not take this method |
//! | `TASK_STATE_CONFLICT` | 409 | the task cannot be cancelled or deleted in its state |
//! | `IDEMPOTENCY_IN_PROGRESS` | 409 | a request with the same `Idempotency-Key` is still running |
//! | `QUOTA_EXCEEDED` | 413 | asset storage quota used up |
//! | `IDEMPOTENCY_CONFLICT` | 422 | the `Idempotency-Key` was used with a different body |
//! | `RATE_LIMITED` | 429 | too many requests (`Retry-After` header) |
//! | `INTERNAL_ERROR` | 500 | seedgate failed |
//! | `SERVICE_UNAVAILABLE` | 503 | a dependency is down; retry with backoff |
//!
//! Messages name fields as HiAPI does: `input.first_frame_url`, `input.reference_image_urls[1]`,
//! `callback.url`.

use crate::common::{self, Dialect};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use seedgate_core::error::{AuthFailure, GatewayError, ValidationError};
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{Catalog, RequestDraft, RequestId, Task};
use seedgate_gateway::{StoredResponse, TaskQuery};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub struct HiApi;

pub const CREATE_ROUTE: &str = "/v1/tasks";

/// How long after a task finishes its `output[].expireAt` lies.
pub const RESULT_TTL_SECONDS: i64 = 24 * 3600;

/// List paging defaults and bounds.
pub const DEFAULT_PAGE: u64 = 1;
pub const DEFAULT_SIZE: u32 = 20;
pub const MAX_SIZE: u32 = 100;

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task, list_tasks))
        .routes(routes!(get_task))
}

/// `POST /v1/tasks`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = HiApiCreateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// `seedance-2.0-mini` (or an alias such as `seedance-2-0-mini`).
    pub model: Option<String>,
    /// The model's parameters.
    pub input: Option<Input>,
    /// Notify a URL when the task reaches a terminal state.
    pub callback: Option<Callback>,
}

/// `input` of seedance-2.0-mini.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = HiApiInput)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Required.
    pub prompt: Option<String>,
    /// `480p` or `720p` (default 720p).
    pub resolution: Option<String>,
    /// Seconds, 4 to 15 (default 5).
    #[serde(default, deserialize_with = "common::de::int")]
    pub duration: Option<i64>,
    /// `16:9` (default), `9:16`, `1:1`, `4:3`, `3:4`, `21:9`, `adaptive`.
    pub aspect_ratio: Option<String>,
    /// Default true.
    pub generate_audio: Option<bool>,
    /// Image-to-video: the first frame (excludes reference media).
    pub first_frame_url: Option<String>,
    /// Image-to-video: the last frame (needs `first_frame_url`).
    pub last_frame_url: Option<String>,
    /// At most 9, counted together with the frames.
    pub reference_image_urls: Option<Vec<String>>,
    /// At most 3, 15 s in all.
    pub reference_video_urls: Option<Vec<String>>,
    /// At most 3, 15 s in all; not the only reference.
    pub reference_audio_urls: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = HiApiCallback)]
#[serde(deny_unknown_fields)]
pub struct Callback {
    /// Required when `callback` is set: an http(s) URL.
    pub url: Option<String>,
    /// `final` (the default and only value): fires on success and on failure.
    pub when: Option<String>,
}

/// `{"code":200,"message":"success","data":{"taskId":…}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiCreateResponse)]
pub struct CreateResponse {
    pub code: u16,
    pub message: String,
    pub data: CreatedTask,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiCreatedTask)]
pub struct CreatedTask {
    #[serde(rename = "taskId")]
    pub task_id: String,
}

/// `GET /v1/tasks/{id}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiTaskResponse)]
pub struct TaskResponse {
    pub code: u16,
    pub message: String,
    pub data: TaskData,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = HiApiTaskData)]
pub struct TaskData {
    #[serde(rename = "taskId")]
    pub task_id: String,
    pub model: String,
    /// queued | handling | archiving | success | fail
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds; 0 until the task is terminal.
    pub completed: i64,
    /// Only on `success`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Vec<OutputItem>>,
    /// Only on `fail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskFailure>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = HiApiOutputItem)]
pub struct OutputItem {
    pub url: String,
    /// `video` or `last_frame`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// Unix seconds.
    #[serde(rename = "expireAt")]
    pub expire_at: i64,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = HiApiTaskFailure)]
pub struct TaskFailure {
    /// `CONTENT_MODERATION`, `INVALID_INPUT`, `UPSTREAM_RATE_LIMITED`, `UPSTREAM_ERROR`,
    /// `TIMEOUT`, `EXPIRED`, `INTERNAL_ERROR` or `CANCELLED`.
    #[schema(value_type = String)]
    pub code: &'static str,
    pub message: String,
}

/// `GET /v1/tasks?page=&size=`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiListResponse)]
pub struct ListResponse {
    pub code: u16,
    pub message: String,
    pub data: TaskList,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiTaskList)]
pub struct TaskList {
    pub page: u64,
    pub size: u32,
    /// Tasks of the key, over all pages.
    pub total: u64,
    /// Newest first.
    pub tasks: Vec<ListedTask>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = HiApiListedTask)]
pub struct ListedTask {
    #[serde(rename = "taskId")]
    pub task_id: String,
    pub model: String,
    #[schema(value_type = String)]
    pub status: &'static str,
    pub created: i64,
    pub completed: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Vec<OutputItem>>,
}

/// Every HiAPI error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HiApiErrorEnvelope)]
pub struct ErrorEnvelope {
    /// The HTTP status.
    pub code: u16,
    pub message: String,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub data: Option<()>,
    #[schema(value_type = String)]
    pub error_code: &'static str,
}

/// The HiAPI name of a canonical field (`first_frame_url` → `input.first_frame_url`,
/// `callback_url` → `callback.url`).
pub fn wire_name(field: &str) -> String {
    match field {
        "model" => "model".into(),
        "callback_url" => "callback.url".into(),
        f => format!("input.{f}"),
    }
}

/// A gateway error with canonical field names replaced by this dialect's.
fn renamed(error: GatewayError) -> GatewayError {
    error.renamed(wire_name)
}

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

/// Parses a create body into a draft; also returns the parsed JSON for fingerprinting. Errors
/// name HiAPI's fields. Checks only what is HiAPI's own (the `callback` object, the required
/// `input` and prompt); the values are validated canonically by the gateway.
pub fn parse_create(
    body: &[u8],
    catalog: &Catalog,
) -> Result<(RequestDraft, serde_json::Value), ValidationError> {
    let (wire, json): (CreateTaskRequest, serde_json::Value) = common::parse_json_keeping(body)?;
    let callback_url = match wire.callback {
        None => None,
        Some(callback) => {
            if let Some(when) = callback.when.as_deref() {
                if when != "final" {
                    return Err(ValidationError::invalid(
                        "callback.when",
                        "must be `final` (the only supported value)",
                    ));
                }
            }
            if blank(callback.url.as_deref()) {
                return Err(ValidationError::Missing {
                    field: "callback.url".into(),
                });
            }
            callback.url
        }
    };
    // A missing or unknown model is reported as such by validation, before anything else.
    let model_served = wire
        .model
        .as_deref()
        .is_some_and(|m| catalog.resolve_available(m).is_ok());
    let Some(input) = wire.input else {
        if model_served {
            return Err(ValidationError::Missing {
                field: "input".into(),
            });
        }
        return Ok((
            RequestDraft {
                model: wire.model,
                ..RequestDraft::default()
            },
            json,
        ));
    };
    if model_served && blank(input.prompt.as_deref()) {
        return Err(ValidationError::Missing {
            field: "input.prompt".into(),
        });
    }
    let draft = RequestDraft {
        model: wire.model,
        prompt: input.prompt,
        first_frame_url: input.first_frame_url,
        last_frame_url: input.last_frame_url,
        reference_image_urls: input.reference_image_urls,
        reference_video_urls: input.reference_video_urls,
        reference_audio_urls: input.reference_audio_urls,
        // HiAPI's default, unlike the canonical one.
        generate_audio: Some(input.generate_audio.unwrap_or(true)),
        resolution: input.resolution,
        aspect_ratio: input.aspect_ratio,
        duration: input.duration,
        callback_url,
        ..RequestDraft::default()
    };
    Ok((draft, json))
}

fn status(task: &Task) -> &'static str {
    match task.status {
        TaskStatus::Queued => "queued",
        TaskStatus::Running => "handling",
        TaskStatus::Succeeded => "success",
        TaskStatus::Failed | TaskStatus::Cancelled => "fail",
    }
}

/// HiAPI's `error.code` of a failed task.
pub fn failure_code(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Moderation => "CONTENT_MODERATION",
        FailureKind::InvalidInput => "INVALID_INPUT",
        FailureKind::RateLimited => "UPSTREAM_RATE_LIMITED",
        FailureKind::UpstreamError => "UPSTREAM_ERROR",
        FailureKind::Timeout => "TIMEOUT",
        FailureKind::Expired => "EXPIRED",
        FailureKind::Internal => "INTERNAL_ERROR",
    }
}

fn output(task: &Task) -> Option<Vec<OutputItem>> {
    let (TaskStatus::Succeeded, Some(o)) = (task.status, &task.output) else {
        return None;
    };
    let finished_ms = task.finished_at_ms.unwrap_or(task.updated_at_ms);
    let expire_at = common::unix_seconds(finished_ms) + RESULT_TTL_SECONDS;
    let videos = o.video_urls.iter().map(|url| OutputItem {
        url: url.clone(),
        kind: "video",
        expire_at,
    });
    let last_frame = o.last_frame_url.iter().map(|url| OutputItem {
        url: url.clone(),
        kind: "last_frame",
        expire_at,
    });
    Some(videos.chain(last_frame).collect())
}

fn failure(task: &Task) -> Option<TaskFailure> {
    match task.status {
        TaskStatus::Failed => Some(match &task.error {
            Some(e) => TaskFailure {
                code: failure_code(e.kind),
                message: e.message.clone(),
            },
            None => TaskFailure {
                code: failure_code(FailureKind::Internal),
                message: "task failed".into(),
            },
        }),
        TaskStatus::Cancelled => Some(TaskFailure {
            code: "CANCELLED",
            message: "task was cancelled; credits refunded".into(),
        }),
        _ => None,
    }
}

fn model(task: &Task) -> String {
    if task.requested_model.is_empty() {
        task.request.model.clone()
    } else {
        task.requested_model.clone()
    }
}

fn completed(task: &Task) -> i64 {
    match (task.status.is_terminal(), task.finished_at_ms) {
        (true, Some(ms)) => common::unix_seconds(ms),
        (true, None) => common::unix_seconds(task.updated_at_ms),
        (false, _) => 0,
    }
}

/// The HiAPI view of a task (`data` of `GET /v1/tasks/{id}`).
pub fn task_data(task: &Task) -> TaskData {
    TaskData {
        task_id: task.id.to_string(),
        model: model(task),
        status: status(task),
        created: common::unix_seconds(task.created_at_ms),
        completed: completed(task),
        output: output(task),
        error: failure(task),
    }
}

/// A task as a list item.
pub fn listed_task(task: &Task) -> ListedTask {
    ListedTask {
        task_id: task.id.to_string(),
        model: model(task),
        status: status(task),
        created: common::unix_seconds(task.created_at_ms),
        completed: completed(task),
        output: output(task),
    }
}

/// The `error_code` and HTTP status of a gateway error.
pub fn error_code(error: &GatewayError) -> (&'static str, StatusCode) {
    use StatusCode as S;
    match error {
        GatewayError::Unauthenticated(_) => ("UNAUTHORIZED", S::UNAUTHORIZED),
        GatewayError::Validation(ValidationError::ModelNotSupported { .. }) => {
            ("MODEL_NOT_SUPPORTED", S::BAD_REQUEST)
        }
        GatewayError::Validation(_) | GatewayError::IdempotencyKeyInvalid(_) => {
            ("INVALID_REQUEST", S::BAD_REQUEST)
        }
        GatewayError::PricingUnavailable { .. } => ("MEDIA_UNREADABLE", S::BAD_REQUEST),
        GatewayError::InsufficientCredits { .. } => ("INSUFFICIENT_CREDITS", S::PAYMENT_REQUIRED),
        GatewayError::NotFound => ("TASK_NOT_FOUND", S::NOT_FOUND),
        GatewayError::AssetNotFound => ("ASSET_NOT_FOUND", S::NOT_FOUND),
        GatewayError::RouteNotFound => ("NOT_FOUND", S::NOT_FOUND),
        GatewayError::MethodNotAllowed => ("METHOD_NOT_ALLOWED", S::METHOD_NOT_ALLOWED),
        GatewayError::NotCancellable | GatewayError::NotDeletable => {
            ("TASK_STATE_CONFLICT", S::CONFLICT)
        }
        GatewayError::IdempotencyInFlight => ("IDEMPOTENCY_IN_PROGRESS", S::CONFLICT),
        GatewayError::QuotaExceeded { .. } => ("QUOTA_EXCEEDED", S::PAYLOAD_TOO_LARGE),
        GatewayError::PayloadTooLarge => ("PAYLOAD_TOO_LARGE", S::PAYLOAD_TOO_LARGE),
        GatewayError::IdempotencyMismatch => ("IDEMPOTENCY_CONFLICT", S::UNPROCESSABLE_ENTITY),
        GatewayError::RateLimited { .. } => ("RATE_LIMITED", S::TOO_MANY_REQUESTS),
        GatewayError::Internal(_) => ("INTERNAL_ERROR", S::INTERNAL_SERVER_ERROR),
        GatewayError::Unavailable(_) => ("SERVICE_UNAVAILABLE", S::SERVICE_UNAVAILABLE),
    }
}

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: HiApi::NAME,
    path_prefixes: &["/v1/"],
    routes,
    error_response: <HiApi as Dialect>::error_response,
    error_schema: "HiApiErrorEnvelope",
    callback_body: Some(|task, _| crate::callbacks::json(&task_data(task))),
    hiapi_signature: true,
};

impl Dialect for HiApi {
    const NAME: &'static str = "hiapi";

    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, _request_id: &RequestId) -> Response {
        let (error_code, status) = error_code(error);
        let envelope = ErrorEnvelope {
            code: status.as_u16(),
            message: error.to_string(),
            data: None,
            error_code,
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
            message: "success".into(),
            data: CreatedTask {
                task_id: task.id.to_string(),
            },
        },
    )
}

/// Create a task.
#[utoipa::path(post, path = "/v1/tasks", tag = "HiAPI",
    request_body = CreateTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses((status = 200, description = "The new task's id", body = CreateResponse),
        (status = "4XX", body = ErrorEnvelope), (status = "5XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn create_task(
    State(gateway): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let principal = common::authenticate::<HiApi>(&gateway, &headers).await?;
        let body = body.map_err(|e| common::unreadable_body("body", e))?;
        let (draft, json) = parse_create(&body, gateway.catalog())?;
        common::submit::<HiApi>(
            &gateway,
            &principal,
            &headers,
            CREATE_ROUTE,
            &json,
            draft,
            &render_created,
        )
        .await
        .map_err(renamed)
    }
    .await;
    common::respond::<HiApi>(result, &request_id)
}

/// Read a task (any dialect's task of the same key).
#[utoipa::path(get, path = "/v1/tasks/{id}", tag = "HiAPI",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TaskResponse), (status = 404, body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn get_task(
    State(gateway): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let principal = common::authenticate::<HiApi>(&gateway, &headers).await?;
        let task = gateway.get_task(&principal, &id).await?;
        Ok(common::json_response(
            StatusCode::OK,
            &TaskResponse {
                code: 200,
                message: "success".into(),
                data: task_data(&task),
            },
        ))
    }
    .await;
    common::respond::<HiApi>(result, &request_id)
}

/// The page and size a list asks for; missing, unreadable or out-of-range values fall back to
/// the defaults (page 1, size 20).
pub fn paging(query: &HashMap<String, String>) -> (u64, u32) {
    let page = query
        .get("page")
        .and_then(|p| p.trim().parse::<u64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(DEFAULT_PAGE);
    let size = query
        .get("size")
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|s| (1..=MAX_SIZE).contains(s))
        .unwrap_or(DEFAULT_SIZE);
    (page, size)
}

/// List the key's tasks, newest first.
#[utoipa::path(get, path = "/v1/tasks", tag = "HiAPI",
    params(
        ("page" = Option<u64>, Query, description = "From 1 (default 1)"),
        ("size" = Option<u32>, Query, description = "1 to 100 (default 20); out-of-range values fall back to the default")),
    responses((status = 200, body = ListResponse), (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn list_tasks(
    State(gateway): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let result = async {
        let principal = common::authenticate::<HiApi>(&gateway, &headers).await?;
        // An unreadable query string counts as absent values, which fall back to defaults.
        let query = query.map(|Query(q)| q).unwrap_or_default();
        let (page, size) = paging(&query);
        let listing = gateway
            .list_tasks(
                &principal,
                TaskQuery {
                    offset: (page - 1).saturating_mul(u64::from(size)),
                    limit: size,
                    ..TaskQuery::default()
                },
            )
            .await?;
        Ok(common::json_response(
            StatusCode::OK,
            &ListResponse {
                code: 200,
                message: "success".into(),
                data: TaskList {
                    page,
                    size,
                    total: listing.total,
                    tasks: listing.tasks.iter().map(listed_task).collect(),
                },
            },
        ))
    }
    .await;
    common::respond::<HiApi>(result, &request_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse(body: &str) -> Result<RequestDraft, ValidationError> {
        parse_create(body.as_bytes(), &Catalog::builtin()).map(|(d, _)| d)
    }

    #[test]
    fn the_seed_examples_parse_with_hiapi_defaults() {
        let d = parse(
            r#"{"model":"seedance-2.0-mini","input":{"prompt":"p","resolution":"720p",
                "duration":5,"aspect_ratio":"16:9","generate_audio":true}}"#,
        )
        .expect("t2v");
        assert_eq!(d.generate_audio, Some(true));
        assert_eq!(d.duration, Some(5));
        let d = parse(
            r#"{"model":"seedance-2.0-mini","input":{"prompt":"p",
                "first_frame_url":"https://e.com/f.jpg","resolution":"720p","duration":5,
                "generate_audio":false}}"#,
        )
        .expect("i2v");
        assert_eq!(d.generate_audio, Some(false));
        assert_eq!(d.first_frame_url.as_deref(), Some("https://e.com/f.jpg"));
        let d = parse(r#"{"model":"seedance-2.0-mini","input":{"prompt":"p"}}"#).expect("bare");
        assert_eq!(d.generate_audio, Some(true), "HiAPI defaults audio on");
        assert_eq!(d.callback_url, None);
        let d = parse(
            r#"{"model":"seedance-2.0-mini","input":{"prompt":"p"},"callback":{"url":"https://e.com/cb"}}"#,
        )
        .expect("callback, when defaulted");
        assert_eq!(d.callback_url.as_deref(), Some("https://e.com/cb"));
    }

    #[test]
    fn wire_errors_use_hiapi_names() {
        let field = |body: &str| parse(body).expect_err(body).field().map(str::to_string);
        let m = r#""model":"seedance-2.0-mini""#;
        assert_eq!(
            field(&format!(
                r#"{{{m},"input":{{"prompt":"p"}},"callback":{{"url":"https://e.com","when":"progress"}}}}"#
            )),
            Some("callback.when".into())
        );
        assert_eq!(
            field(&format!(
                r#"{{{m},"input":{{"prompt":"p"}},"callback":{{"when":"final"}}}}"#
            )),
            Some("callback.url".into())
        );
        assert_eq!(field(&format!("{{{m}}}")), Some("input".into()));
        assert_eq!(
            field(&format!(r#"{{{m},"input":{{"prompt":"  "}}}}"#)),
            Some("input.prompt".into())
        );
        assert_eq!(
            field(&format!(
                r#"{{{m},"input":{{"prompt":"p","negative_prompt":"x"}}}}"#
            )),
            Some("input.negative_prompt".into())
        );
        assert_eq!(
            field(&format!(
                r#"{{{m},"input":{{"prompt":"p","duration":5.5}}}}"#
            )),
            Some("input.duration".into())
        );
        assert_eq!(
            field(&format!(r#"{{{m},"input":{{"prompt":"p"}},"seed":1}}"#)),
            Some("seed".into())
        );
        assert_eq!(parse("[1]"), Err(ValidationError::NotAnObject));
        // An unknown model is left to validation, which reports the model first.
        let d = parse(r#"{"model":"sora-2"}"#).expect("left to the gateway");
        assert_eq!(d.model.as_deref(), Some("sora-2"));
    }

    #[test]
    fn canonical_names_are_renamed() {
        assert_eq!(wire_name("first_frame_url"), "input.first_frame_url");
        assert_eq!(
            wire_name("reference_image_urls[2]"),
            "input.reference_image_urls[2]"
        );
        assert_eq!(wire_name("callback_url"), "callback.url");
        assert_eq!(wire_name("model"), "model");
        let e = renamed(GatewayError::PricingUnavailable {
            reason: "reference_video_urls[0]: fetch failed".into(),
        });
        assert_eq!(
            e.to_string(),
            "cannot determine pricing: input.reference_video_urls[0]: fetch failed"
        );
    }

    #[test]
    fn every_error_has_a_code_and_matching_status() {
        let cases = [
            (
                GatewayError::Unauthenticated(AuthFailure::Missing),
                "UNAUTHORIZED",
                401,
            ),
            (
                GatewayError::Validation(ValidationError::NotAnObject),
                "INVALID_REQUEST",
                400,
            ),
            (
                GatewayError::Validation(ValidationError::ModelNotSupported {
                    model: "x".into(),
                    reason: "unknown model".into(),
                }),
                "MODEL_NOT_SUPPORTED",
                400,
            ),
            (
                GatewayError::InsufficientCredits {
                    needed: 2,
                    available: 1,
                },
                "INSUFFICIENT_CREDITS",
                402,
            ),
            (GatewayError::NotFound, "TASK_NOT_FOUND", 404),
            (GatewayError::RouteNotFound, "NOT_FOUND", 404),
            (GatewayError::MethodNotAllowed, "METHOD_NOT_ALLOWED", 405),
            (
                GatewayError::IdempotencyInFlight,
                "IDEMPOTENCY_IN_PROGRESS",
                409,
            ),
            (
                GatewayError::IdempotencyMismatch,
                "IDEMPOTENCY_CONFLICT",
                422,
            ),
            (
                GatewayError::RateLimited {
                    retry_after: Duration::from_secs(3),
                },
                "RATE_LIMITED",
                429,
            ),
            (GatewayError::Internal("x".into()), "INTERNAL_ERROR", 500),
            (
                GatewayError::Unavailable("db".into()),
                "SERVICE_UNAVAILABLE",
                503,
            ),
        ];
        for (error, code, status) in cases {
            assert_eq!(
                error_code(&error),
                (code, StatusCode::from_u16(status).expect("status"))
            );
            let r = HiApi::error_response(&error, &RequestId::generate());
            assert_eq!(r.status().as_u16(), status);
        }
        let r = HiApi::error_response(
            &GatewayError::RateLimited {
                retry_after: Duration::from_secs(3),
            },
            &RequestId::generate(),
        );
        assert_eq!(r.headers()["retry-after"], "3");
    }

    fn sample_task(status: TaskStatus) -> Task {
        let draft = RequestDraft {
            model: Some("seedance-2-0-mini".into()),
            prompt: Some("p".into()),
            ..RequestDraft::default()
        };
        let request = seedgate_core::GenerationRequest::from_draft(draft, &Catalog::builtin())
            .expect("valid");
        Task {
            id: seedgate_core::TaskId::generate(),
            api_key_id: seedgate_core::ApiKeyId::generate(),
            request,
            requested_model: "seedance-2-0-mini".into(),
            origin_dialect: "reapi".into(),
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
    fn task_views() {
        let mut t = sample_task(TaskStatus::Succeeded);
        t.output = Some(seedgate_core::TaskOutput {
            video_urls: vec!["http://h/media/0.mp4".into()],
            last_frame_url: Some("http://h/media/last.png".into()),
            ..Default::default()
        });
        let v = serde_json::to_value(task_data(&t)).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"taskId": t.id.to_string(), "model": "seedance-2-0-mini",
                "status": "success", "created": 1_700_000_000, "completed": 1_700_000_009,
                "output": [
                    {"url": "http://h/media/0.mp4", "type": "video", "expireAt": 1_700_086_409},
                    {"url": "http://h/media/last.png", "type": "last_frame", "expireAt": 1_700_086_409}]})
        );
        let v = serde_json::to_value(task_data(&sample_task(TaskStatus::Cancelled))).expect("json");
        assert_eq!(v["status"], "fail");
        assert_eq!(v["error"]["code"], "CANCELLED");
        assert!(v.get("output").is_none());
        let mut t = sample_task(TaskStatus::Failed);
        t.error = Some(seedgate_core::TaskError {
            kind: FailureKind::Expired,
            message: "expired upstream".into(),
        });
        let v = serde_json::to_value(task_data(&t)).expect("json");
        assert_eq!(
            v["error"],
            serde_json::json!({"code": "EXPIRED", "message": "expired upstream"})
        );
        let v = serde_json::to_value(task_data(&sample_task(TaskStatus::Running))).expect("json");
        assert_eq!(
            (&v["status"], &v["completed"]),
            (&"handling".into(), &0.into())
        );
        assert!(v.get("error").is_none() && v.get("output").is_none());
    }

    #[test]
    fn paging_falls_back_to_defaults() {
        let q = |pairs: &[(&str, &str)]| {
            paging(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        assert_eq!(q(&[]), (1, 20));
        assert_eq!(q(&[("page", "3"), ("size", "100")]), (3, 100));
        assert_eq!(q(&[("page", "0"), ("size", "0")]), (1, 20));
        assert_eq!(q(&[("page", "-2"), ("size", "101")]), (1, 20));
        assert_eq!(q(&[("page", "x"), ("size", "1")]), (1, 1));
    }

    #[test]
    fn openapi_schemas_carry_the_dialect_prefix() {
        let doc = crate::openapi(RouteLimits {
            max_upload_bytes: 1,
        });
        let json = serde_json::to_value(&doc).expect("json");
        let schemas = json["components"]["schemas"].as_object().expect("schemas");
        for name in ["HiApiCreateTaskRequest", "HiApiInput", "HiApiErrorEnvelope"] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
        let body = json["paths"]["/v1/tasks"]["post"]["requestBody"].to_string();
        assert!(
            body.contains("#/components/schemas/HiApiCreateTaskRequest"),
            "{body}"
        );
    }
}

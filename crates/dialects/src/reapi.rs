//! reAPI (reapi.ai): `POST /api/v1/videos/generations`, `GET /api/v1/tasks/{id}`.
//!
//! Envelope: the task object; errors `{"error":{"code":N,"message":…,"request_id":"req_…"}}` with a
//! five-digit code whose first digit is its category, and the HTTP status of that category.
//! Codes seedgate adds (reAPI does not enforce Idempotency-Key): 20008 (409, key in use by a
//! request still in flight) and 20009 (422, key reused with a different body).

use crate::common::{self, Dialect, Fields};
use crate::AppState;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use seedgate_core::error::{AuthFailure, GatewayError, ValidationError};
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{RequestDraft, RequestId, Task};
use seedgate_gateway::StoredResponse;
use serde::Serialize;

pub struct ReApi;

pub const SUBMIT_ROUTE: &str = "/api/v1/videos/generations";

/// The 12 input fields of seedance-2.0-mini, plus `model`.
const FIELDS: [&str; 13] = [
    "model",
    "prompt",
    "first_frame_url",
    "last_frame_url",
    "reference_image_urls",
    "reference_video_urls",
    "reference_audio_urls",
    "generate_audio",
    "resolution",
    "aspect_ratio",
    "duration",
    "web_search",
    "nsfw_checker",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(SUBMIT_ROUTE, post(submit))
        .route("/api/v1/tasks/{id}", get(get_task))
}

#[derive(Debug, Serialize, PartialEq)]
pub struct TaskObject {
    pub id: String,
    pub model: String,
    /// processing | completed | failed
    pub status: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    pub output: Option<Output>,
    pub error: Option<TaskFailure>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Output {
    pub video_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_frame_url: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct TaskFailure {
    pub code: u32,
    pub message: String,
}

#[derive(Debug, Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    code: u32,
    message: String,
    request_id: &'a str,
}

/// Parses a submit body into a draft; also returns the parsed JSON for fingerprinting.
pub fn parse_submit(body: &[u8]) -> Result<(RequestDraft, serde_json::Value), ValidationError> {
    let object = common::json_object(body)?;
    common::reject_unknown_fields(&object, &FIELDS)?;
    let f = Fields::new(&object);
    let draft = RequestDraft {
        model: f.string("model")?,
        prompt: f.string("prompt")?,
        first_frame_url: f.string("first_frame_url")?,
        last_frame_url: f.string("last_frame_url")?,
        reference_image_urls: f.string_list("reference_image_urls")?,
        reference_video_urls: f.string_list("reference_video_urls")?,
        reference_audio_urls: f.string_list("reference_audio_urls")?,
        generate_audio: f.boolean("generate_audio")?,
        resolution: f.string("resolution")?,
        aspect_ratio: f.string("aspect_ratio")?,
        duration: f.integer("duration")?,
        web_search: f.boolean("web_search")?,
        nsfw_checker: f.boolean("nsfw_checker")?,
        explicit_mode: None,
    };
    Ok((draft, serde_json::Value::Object(object)))
}

/// The reAPI view of a task.
pub fn task_object(task: &Task) -> TaskObject {
    let status = match task.status {
        TaskStatus::Queued | TaskStatus::Running => "processing",
        TaskStatus::Succeeded => "completed",
        TaskStatus::Failed | TaskStatus::Cancelled => "failed",
    };
    let output = match (task.status, &task.output) {
        (TaskStatus::Succeeded, Some(o)) => Some(Output {
            video_urls: o.video_urls.clone(),
            last_frame_url: o.last_frame_url.clone(),
        }),
        _ => None,
    };
    let error = match task.status {
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
            code: 80006,
            message: "task was cancelled; credits refunded".into(),
        }),
        _ => None,
    };
    TaskObject {
        id: task.id.to_string(),
        model: if task.requested_model.is_empty() {
            task.request.model.clone()
        } else {
            task.requested_model.clone()
        },
        status,
        created_at: common::unix_seconds(task.created_at_ms),
        output,
        error,
    }
}

/// Task-failure codes (8xxxx), reported only inside a failed task's `error.code`. 80007 is
/// reAPI's documented content rejection; the others are seedgate's.
pub fn failure_code(kind: FailureKind) -> u32 {
    match kind {
        FailureKind::UpstreamError => 80001,
        FailureKind::InvalidInput => 80002,
        FailureKind::RateLimited => 80003,
        FailureKind::Timeout => 80004,
        FailureKind::Expired => 80005,
        FailureKind::Moderation => 80007,
        FailureKind::Internal => 80099,
    }
}

/// The code and HTTP status of a gateway error.
pub fn error_code(error: &GatewayError) -> (u32, StatusCode) {
    use StatusCode as S;
    match error {
        GatewayError::Unauthenticated(AuthFailure::Missing) => (10001, S::UNAUTHORIZED),
        GatewayError::Unauthenticated(AuthFailure::NotBearer) => (10002, S::UNAUTHORIZED),
        GatewayError::Unauthenticated(AuthFailure::Invalid) => (10003, S::UNAUTHORIZED),
        GatewayError::Unauthenticated(AuthFailure::Revoked) => (10004, S::UNAUTHORIZED),
        GatewayError::Validation(v) => match v {
            ValidationError::NotAnObject => (20001, S::BAD_REQUEST),
            ValidationError::Missing { .. } => (20002, S::BAD_REQUEST),
            ValidationError::Invalid { .. } | ValidationError::UnknownField { .. } => {
                (20003, S::BAD_REQUEST)
            }
            ValidationError::ModelNotSupported { .. } => (20004, S::BAD_REQUEST),
            ValidationError::PromptTooLong { .. } => (20007, S::BAD_REQUEST),
        },
        GatewayError::IdempotencyKeyInvalid(_) | GatewayError::NotCancellable => {
            (20003, S::BAD_REQUEST)
        }
        GatewayError::IdempotencyInFlight => (20008, S::CONFLICT),
        GatewayError::IdempotencyMismatch => (20009, S::UNPROCESSABLE_ENTITY),
        GatewayError::InsufficientCredits { .. } => (30001, S::PAYMENT_REQUIRED),
        GatewayError::PricingUnavailable { .. } => (30002, S::BAD_REQUEST),
        GatewayError::NotFound => (40001, S::NOT_FOUND),
        GatewayError::RateLimited { .. } => (50001, S::TOO_MANY_REQUESTS),
        GatewayError::Internal(_) => (60099, S::INTERNAL_SERVER_ERROR),
        GatewayError::Unavailable(_) => (70002, S::SERVICE_UNAVAILABLE),
    }
}

impl Dialect for ReApi {
    const NAME: &'static str = "reapi";

    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
        let (code, status) = error_code(error);
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code,
                message: error.to_string(),
                request_id: request_id.as_str(),
            },
        };
        let mut response = common::json_response(status, &envelope);
        if let GatewayError::RateLimited { retry_after } = error {
            if let Ok(v) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
        }
        response
    }
}

fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(200, &task_object(task))
}

async fn submit(
    State(gateway): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        // Authenticate before reading the body, so a bad key is reported as such.
        common::authenticate::<ReApi>(&gateway, &headers).await?;
        let body = body.map_err(|e| ValidationError::invalid("body", &e.body_text()))?;
        let (draft, json) = parse_submit(&body)?;
        common::submit::<ReApi>(
            &gateway,
            &headers,
            SUBMIT_ROUTE,
            &json,
            draft,
            &render_created,
        )
        .await
    }
    .await;
    common::respond::<ReApi>(result, &request_id)
}

async fn get_task(
    State(gateway): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let principal = common::authenticate::<ReApi>(&gateway, &headers).await?;
        let task = gateway.get_task(&principal, &id).await?;
        Ok(common::json_response(StatusCode::OK, &task_object(&task)))
    }
    .await;
    common::respond::<ReApi>(result, &request_id)
}

//! reAPI (reapi.ai): `POST /api/v1/videos/generations`, `GET /api/v1/tasks/{id}`.
//!
//! Envelope: the task object; errors `{"error":{"code":N,"message":…,"request_id":"req_…"}}` with a
//! five-digit code whose first digit is its category, and the HTTP status of that category.
//! Codes seedgate adds (reAPI does not enforce Idempotency-Key): 20008 (409, key in use by a
//! request still in flight) and 20009 (422, key reused with a different body).

use crate::common::{self, Dialect, Fields};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use seedgate_core::error::{AuthFailure, GatewayError, ValidationError};
use seedgate_core::media::MediaFacts;
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{RequestDraft, RequestId, Task};
use seedgate_gateway::{AssetRecord, Gateway, Principal, Quote, StoredResponse};
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

pub const ESTIMATE_ROUTE: &str = "/api/v1/videos/estimate";

pub fn routes(limits: RouteLimits) -> Router<AppState> {
    // Multipart framing adds a little to the file itself.
    let upload_limit = limits.max_upload_bytes.saturating_add(64 * 1024);
    Router::new()
        .route(SUBMIT_ROUTE, post(submit))
        .route(ESTIMATE_ROUTE, post(estimate))
        .route("/api/v1/tasks/{id}", get(get_task))
        .route(
            "/api/v1/assets",
            post(upload_asset).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/v1/assets/{id}", get(get_asset))
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
        GatewayError::AssetNotFound => (40002, S::NOT_FOUND),
        GatewayError::RouteNotFound => (40004, S::NOT_FOUND),
        GatewayError::MethodNotAllowed => (40005, S::METHOD_NOT_ALLOWED),
        GatewayError::QuotaExceeded { .. } => (20010, S::PAYLOAD_TOO_LARGE),
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

/// Authenticates first (so a bad key is reported as such, whatever the body), then parses a
/// submit body: shared by submit and estimate.
async fn authenticated_draft(
    gateway: &Gateway,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Principal, RequestDraft, serde_json::Value), GatewayError> {
    let principal = common::authenticate::<ReApi>(gateway, headers).await?;
    let body = body.map_err(|e| ValidationError::invalid("body", &e.body_text()))?;
    let (draft, json) = parse_submit(&body)?;
    Ok((principal, draft, json))
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
        let (principal, draft, json) = authenticated_draft(&gateway, &headers, body).await?;
        common::submit::<ReApi>(
            &gateway,
            &principal,
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

/// The estimate of a request: what submitting it would charge, and what was measured of its
/// media. Nothing is charged for an estimate.
#[derive(Debug, Serialize)]
pub struct EstimateObject {
    pub model: String,
    pub mode: &'static str,
    pub resolution: &'static str,
    pub aspect_ratio: &'static str,
    pub duration: u32,
    pub output: OutputSize,
    pub billable_seconds: u32,
    pub credits: u64,
    pub usd_per_second: f64,
    pub media: Vec<MediumObject>,
}

#[derive(Debug, Serialize)]
pub struct OutputSize {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

#[derive(Debug, Serialize)]
pub struct MediumObject {
    pub field: String,
    pub url: String,
    pub probe: MediaFacts,
}

pub fn estimate_object(quote: &Quote) -> EstimateObject {
    let r = &quote.request;
    EstimateObject {
        model: r.model.clone(),
        mode: r.mode.as_str(),
        resolution: r.resolution.as_str(),
        aspect_ratio: r.aspect_ratio.as_str(),
        duration: r.duration_seconds,
        output: OutputSize {
            width: quote.output_size.0,
            height: quote.output_size.1,
            fps: seedgate_core::output_size::OUTPUT_FPS,
        },
        billable_seconds: quote.price.billable_seconds,
        credits: quote.price.credits,
        usd_per_second: quote.price.micro_usd_per_second as f64 / 1_000_000.0,
        media: quote
            .media
            .iter()
            .map(|m| MediumObject {
                field: m.field.clone(),
                url: m.url.clone(),
                probe: m.facts.clone(),
            })
            .collect(),
    }
}

/// An uploaded asset.
#[derive(Debug, Serialize)]
pub struct AssetObject {
    pub id: String,
    /// Use this URL as reference media in a request.
    pub url: String,
    pub content_type: String,
    pub created_at: i64,
    pub probe: MediaFacts,
}

pub fn asset_object(gateway: &Gateway, asset: &AssetRecord) -> AssetObject {
    AssetObject {
        id: asset.id.clone(),
        url: gateway.media_url(&asset.object_key),
        content_type: asset.content_type.clone(),
        created_at: common::unix_seconds(asset.created_at_ms),
        probe: asset.facts.clone(),
    }
}

async fn estimate(
    State(gateway): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let (_, draft, _) = authenticated_draft(&gateway, &headers, body).await?;
        let quote = gateway.quote(draft).await?;
        Ok(common::json_response(
            StatusCode::OK,
            &estimate_object(&quote),
        ))
    }
    .await;
    common::respond::<ReApi>(result, &request_id)
}

/// `POST /api/v1/assets`: the file as a multipart field (`file`, or the first field) or as the
/// raw body.
async fn upload_asset(
    State(gateway): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    request: Request,
) -> Response {
    let result = async {
        let principal = common::authenticate::<ReApi>(&gateway, request.headers()).await?;
        let is_multipart = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        let bytes = if is_multipart {
            multipart_file(request).await?
        } else {
            Bytes::from_request(request, &())
                .await
                .map_err(|e| ValidationError::invalid("file", &e.body_text()))?
        };
        let asset = gateway.upload_asset(&principal, bytes).await?;
        Ok(common::json_response(
            StatusCode::OK,
            &asset_object(&gateway, &asset),
        ))
    }
    .await;
    common::respond::<ReApi>(result, &request_id)
}

async fn multipart_file(request: Request) -> Result<Bytes, GatewayError> {
    let bad = |reason: String| GatewayError::Validation(ValidationError::invalid("file", &reason));
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| bad(e.body_text()))?;
    let mut first = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| bad(e.body_text()))?
    {
        let is_file = field.name() == Some("file");
        let bytes = field.bytes().await.map_err(|e| bad(e.body_text()))?;
        if is_file {
            return Ok(bytes);
        }
        first.get_or_insert(bytes);
    }
    first.ok_or_else(|| bad("the multipart body has no file".into()))
}

async fn get_asset(
    State(gateway): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let principal = common::authenticate::<ReApi>(&gateway, &headers).await?;
        let asset = gateway.get_asset(&principal, &id).await?;
        Ok(common::json_response(
            StatusCode::OK,
            &asset_object(&gateway, &asset),
        ))
    }
    .await;
    common::respond::<ReApi>(result, &request_id)
}

/// Unknown paths, in reAPI's envelope (every seedgate route answers JSON, even a typo).
pub async fn route_not_found(Extension(request_id): Extension<RequestId>) -> Response {
    ReApi::error_response(&GatewayError::RouteNotFound, &request_id)
}

/// A known path with the wrong method, in reAPI's envelope.
pub async fn method_not_allowed(Extension(request_id): Extension<RequestId>) -> Response {
    ReApi::error_response(&GatewayError::MethodNotAllowed, &request_id)
}

//! reAPI (reapi.ai): `POST /api/v1/videos/generations`, `GET /api/v1/tasks/{id}`.
//!
//! Envelope: the task object; errors `{"error":{"code":N,"message":…,"request_id":"req_…"}}` with a
//! five-digit code whose first digit is its category, and the HTTP status of that category.
//! Codes seedgate adds (reAPI does not enforce Idempotency-Key): 20008 (409, key in use by a
//! request still in flight) and 20009 (422, key reused with a different body).

use crate::common::{self, Dialect};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use seedgate_core::error::{AuthFailure, GatewayError, ValidationError};
use seedgate_core::media::MediaFacts;
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{Catalog, RequestDraft, RequestId, Task};
use seedgate_gateway::{AssetRecord, Gateway, Principal, Quote, StoredResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub struct ReApi;

pub const SUBMIT_ROUTE: &str = "/api/v1/videos/generations";

pub const ESTIMATE_ROUTE: &str = "/api/v1/videos/estimate";

pub fn routes(limits: RouteLimits) -> OpenApiRouter<AppState> {
    // Multipart framing adds a little to the file itself.
    let upload_limit = limits.max_upload_bytes.saturating_add(64 * 1024);
    OpenApiRouter::new()
        .routes(routes!(submit))
        .routes(routes!(estimate))
        .routes(routes!(get_task))
        .routes(routes!(upload_asset).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(get_asset))
}

/// `POST /api/v1/videos/generations`: the 12 input fields of seedance-2.0-mini, plus the
/// Seedance 2.5 request shape (`size`, `image_urls`, `image_with_roles`, `video_urls`,
/// `audio_urls`, `seed`, `return_last_frame`, `tools`), which every model accepts.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ReApiSubmitRequest)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// `seedance-2.0-mini` (or an alias such as `seedance-2-0-mini`).
    pub model: Option<String>,
    /// Optional when a first frame or reference images carry the content.
    pub prompt: Option<String>,
    /// Image-to-video: the first frame.
    pub first_frame_url: Option<String>,
    /// Image-to-video: the last frame (needs `first_frame_url`).
    pub last_frame_url: Option<String>,
    pub reference_image_urls: Option<Vec<String>>,
    pub reference_video_urls: Option<Vec<String>>,
    pub reference_audio_urls: Option<Vec<String>>,
    pub generate_audio: Option<bool>,
    /// `480p` or `720p` (default 720p).
    pub resolution: Option<String>,
    /// `16:9` (default), `9:16`, `1:1`, `4:3`, `3:4`, `21:9`, `adaptive`.
    pub aspect_ratio: Option<String>,
    /// Seconds, 4 to 15 (default 5).
    #[serde(default, deserialize_with = "common::de::int")]
    pub duration: Option<i64>,
    pub web_search: Option<bool>,
    pub nsfw_checker: Option<bool>,
    /// 2.5 shape: the aspect ratio (same values as `aspect_ratio`).
    pub size: Option<String>,
    /// 2.5 shape: reference images.
    pub image_urls: Option<Vec<String>>,
    /// 2.5 shape: images with an explicit role.
    pub image_with_roles: Option<Vec<ImageWithRole>>,
    /// 2.5 shape: reference videos.
    pub video_urls: Option<Vec<String>>,
    /// 2.5 shape: reference audio.
    pub audio_urls: Option<Vec<String>>,
    /// `-1` (random) or 0 to 4294967295.
    #[serde(default, deserialize_with = "common::de::int")]
    pub seed: Option<i64>,
    /// Also return `output.last_frame_url`, a PNG of the last frame.
    pub return_last_frame: Option<bool>,
    /// `[{"type":"web_search"}]` lets the model search the web.
    pub tools: Option<Vec<Tool>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ReApiImageWithRole)]
#[serde(deny_unknown_fields)]
pub struct ImageWithRole {
    pub url: String,
    /// `first_frame`, `last_frame` or `reference_image`.
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ReApiTool)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `web_search`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// One value given under two names (the 2.0 and the 2.5 shape) must agree.
fn either<T: PartialEq>(
    canonical: Option<T>,
    canonical_name: &str,
    alias: Option<T>,
    alias_name: &str,
) -> Result<Option<T>, ValidationError> {
    match (canonical, alias) {
        (Some(a), Some(b)) if a != b => Err(ValidationError::invalid(
            alias_name,
            &format!("conflicts with `{canonical_name}`; send one of them"),
        )),
        (a, b) => Ok(a.or(b)),
    }
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

    pub fn into_draft(self) -> Result<RequestDraft, ValidationError> {
        let mut first_frame = None;
        let mut last_frame = None;
        let mut role_references = Vec::new();
        for (i, item) in self
            .image_with_roles
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let slot = match item.role.as_str() {
                "first_frame" => &mut first_frame,
                "last_frame" => &mut last_frame,
                "reference_image" => {
                    role_references.push(item.url);
                    continue;
                }
                _ => {
                    return Err(ValidationError::invalid(
                        &format!("image_with_roles[{i}].role"),
                        "must be first_frame, last_frame or reference_image",
                    ))
                }
            };
            if slot.replace(item.url).is_some() {
                return Err(ValidationError::invalid(
                    &format!("image_with_roles[{i}].role"),
                    "each frame role may appear once",
                ));
            }
        }
        let mut images = self.image_urls.unwrap_or_default();
        images.extend(role_references);
        let images = (!images.is_empty()).then_some(images);
        let mut web_search = self.web_search;
        for (i, tool) in self.tools.unwrap_or_default().iter().enumerate() {
            if tool.kind != "web_search" {
                return Err(ValidationError::invalid(
                    &format!("tools[{i}].type"),
                    "must be web_search",
                ));
            }
            web_search = Some(true);
        }
        Ok(RequestDraft {
            model: self.model,
            prompt: self.prompt,
            first_frame_url: either(
                self.first_frame_url,
                "first_frame_url",
                first_frame,
                "image_with_roles",
            )?,
            last_frame_url: either(
                self.last_frame_url,
                "last_frame_url",
                last_frame,
                "image_with_roles",
            )?,
            reference_image_urls: either(
                self.reference_image_urls,
                "reference_image_urls",
                images,
                "image_urls",
            )?,
            reference_video_urls: either(
                self.reference_video_urls,
                "reference_video_urls",
                self.video_urls,
                "video_urls",
            )?,
            reference_audio_urls: either(
                self.reference_audio_urls,
                "reference_audio_urls",
                self.audio_urls,
                "audio_urls",
            )?,
            generate_audio: self.generate_audio,
            resolution: self.resolution,
            aspect_ratio: either(self.aspect_ratio, "aspect_ratio", self.size, "size")?,
            duration: self.duration,
            web_search,
            nsfw_checker: self.nsfw_checker,
            seed: self.seed,
            return_last_frame: self.return_last_frame,
            callback_url: None,
            expires_after_seconds: None,
            priority: None,
            safety_identifier: None,
            explicit_mode: None,
        })
    }
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ReApiTaskObject)]
pub struct TaskObject {
    pub id: String,
    pub model: String,
    /// processing | completed | failed
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    pub output: Option<Output>,
    pub error: Option<TaskFailure>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ReApiOutput)]
pub struct Output {
    pub video_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_frame_url: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ReApiTaskFailure)]
pub struct TaskFailure {
    pub code: u32,
    pub message: String,
}

/// Every reAPI error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiErrorEnvelope)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiErrorBody)]
pub struct ErrorBody {
    /// Five digits; the first is the category (1 auth, 2 request, 3 billing, 4 not found,
    /// 5 rate limit, 6 internal, 7 unavailable).
    pub code: u32,
    pub message: String,
    pub request_id: String,
}

/// Parses a submit body into a draft; also returns the parsed JSON for fingerprinting.
pub fn parse_submit(
    body: &[u8],
    catalog: &Catalog,
) -> Result<(RequestDraft, serde_json::Value), ValidationError> {
    let (wire, json): (SubmitRequest, serde_json::Value) = common::parse_json_keeping(body)?;
    // An unknown model is reported as such by validation; the 2.5 fields of a known model
    // that does not take them are refused here, as unknown fields would be.
    let spec = wire.model.as_deref().and_then(|m| catalog.lookup(m));
    if let Some(spec) = spec.filter(|s| !s.seedance_2_5_fields) {
        if let Some(field) = wire.seedance_2_5_fields().first() {
            return Err(ValidationError::invalid(
                field,
                &format!(
                    "is a Seedance 2.5 request field; {} does not take it",
                    spec.id
                ),
            ));
        }
    }
    Ok((wire.into_draft()?, json))
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
        GatewayError::IdempotencyKeyInvalid(_)
        | GatewayError::NotCancellable
        | GatewayError::NotDeletable => (20003, S::BAD_REQUEST),
        GatewayError::IdempotencyInFlight => (20008, S::CONFLICT),
        GatewayError::IdempotencyMismatch => (20009, S::UNPROCESSABLE_ENTITY),
        GatewayError::InsufficientCredits { .. } => (30001, S::PAYMENT_REQUIRED),
        GatewayError::PricingUnavailable { .. } => (30002, S::BAD_REQUEST),
        GatewayError::NotFound => (40001, S::NOT_FOUND),
        GatewayError::AssetNotFound => (40002, S::NOT_FOUND),
        GatewayError::RouteNotFound => (40004, S::NOT_FOUND),
        GatewayError::MethodNotAllowed => (40005, S::METHOD_NOT_ALLOWED),
        GatewayError::QuotaExceeded { .. } => (20010, S::PAYLOAD_TOO_LARGE),
        GatewayError::PayloadTooLarge => (20011, S::PAYLOAD_TOO_LARGE),
        GatewayError::RateLimited { .. } => (50001, S::TOO_MANY_REQUESTS),
        GatewayError::Internal(_) => (60099, S::INTERNAL_SERVER_ERROR),
        GatewayError::Unavailable(_) => (70002, S::SERVICE_UNAVAILABLE),
    }
}

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: ReApi::NAME,
    path_prefixes: &["/"],
    routes,
    error_response: <ReApi as Dialect>::error_response,
    error_schema: "ReApiErrorEnvelope",
    callback_body: Some(|task, _| crate::callbacks::json(&task_object(task))),
    hiapi_signature: false,
};

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
                request_id: request_id.as_str().to_string(),
            },
        };
        let mut response = common::json_response(status, &envelope);
        common::with_retry_after(&mut response, error);
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
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    let (draft, json) = parse_submit(&body, gateway.catalog())?;
    Ok((principal, draft, json))
}

fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(200, &task_object(task))
}

/// Create a video task.
#[utoipa::path(post, path = "/api/v1/videos/generations", tag = "reAPI",
    request_body = SubmitRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses((status = 200, description = "The new task", body = TaskObject),
        (status = "4XX", body = ErrorEnvelope), (status = "5XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
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

/// Poll a task (any dialect's task of the same key).
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "reAPI",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TaskObject), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiEstimateObject)]
pub struct EstimateObject {
    pub model: String,
    #[schema(value_type = String)]
    pub mode: &'static str,
    #[schema(value_type = String)]
    pub resolution: &'static str,
    #[schema(value_type = String)]
    pub aspect_ratio: &'static str,
    pub duration: u32,
    pub output: OutputSize,
    pub billable_seconds: u32,
    pub credits: u64,
    pub usd_per_second: f64,
    pub media: Vec<MediumObject>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiOutputSize)]
pub struct OutputSize {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiMediumObject)]
pub struct MediumObject {
    pub field: String,
    pub url: String,
    /// What the probe measured: kind, format, width, height, duration, fps, bytes.
    #[schema(value_type = Object)]
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
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReApiAssetObject)]
pub struct AssetObject {
    pub id: String,
    /// Use this URL as reference media in a request.
    pub url: String,
    pub content_type: String,
    pub created_at: i64,
    #[schema(value_type = Object)]
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

/// Price a request without submitting it (seedgate extension): validates it and probes its media.
#[utoipa::path(post, path = "/api/v1/videos/estimate", tag = "reAPI",
    request_body = SubmitRequest,
    responses((status = 200, body = EstimateObject), (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn estimate(
    State(gateway): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let (principal, draft, _) = authenticated_draft(&gateway, &headers, body).await?;
        let quote = gateway.quote(&principal, draft).await?;
        Ok(common::json_response(
            StatusCode::OK,
            &estimate_object(&quote),
        ))
    }
    .await;
    common::respond::<ReApi>(result, &request_id)
}

#[utoipa::path(post, path = "/api/v1/assets", tag = "reAPI",
    request_body(content = Vec<u8>, description = "The file, raw or as multipart field `file`", content_type = "application/octet-stream"),
    responses((status = 200, body = AssetObject), (status = 413, body = ErrorEnvelope), (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
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
                .map_err(|e| common::unreadable_body("file", e))?
        };
        let asset = gateway.upload_asset(&principal, bytes, None).await?;
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
        .map_err(|e| common::unreadable_body("file", e))?;
    let mut first = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| common::unreadable_body("file", e))?
    {
        let is_file = field.name() == Some("file");
        let bytes = field
            .bytes()
            .await
            .map_err(|e| common::unreadable_body("file", e))?;
        if is_file {
            return Ok(bytes);
        }
        first.get_or_insert(bytes);
    }
    first.ok_or_else(|| bad("the multipart body has no file".into()))
}

/// An uploaded asset.
#[utoipa::path(get, path = "/api/v1/assets/{id}", tag = "reAPI",
    params(("id" = String, Path, description = "Asset id")),
    responses((status = 200, body = AssetObject), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_submit(body: &[u8]) -> Result<(RequestDraft, serde_json::Value), ValidationError> {
        super::parse_submit(body, &Catalog::builtin())
    }

    #[test]
    fn wire_errors_name_the_field() {
        let e = parse_submit(br#"{"model":"m","reference_image_urls":"https://e.com/a.jpg"}"#)
            .expect_err("not a list");
        assert!(
            matches!(&e, ValidationError::Invalid { field, .. } if field == "reference_image_urls"),
            "{e:?}"
        );
        let e = parse_submit(br#"{"model":"m","bogus":1}"#).expect_err("unknown");
        assert_eq!(
            e,
            ValidationError::UnknownField {
                field: "bogus".into()
            }
        );
        let e = parse_submit(br#"{"model":"m","image_with_roles":[{"url":"u"}]}"#)
            .expect_err("missing role");
        assert_eq!(
            e,
            ValidationError::Missing {
                field: "image_with_roles[0].role".into()
            }
        );
        let e = parse_submit(br#"{"model":"m","duration":5.5}"#).expect_err("fraction");
        assert!(
            matches!(&e, ValidationError::Invalid { field, .. } if field == "duration"),
            "{e:?}"
        );
        assert!(parse_submit(b"[1]").is_err());
        let (d, _) = parse_submit(br#"{"model":"m","duration":5.0,"size":"9:16"}"#).expect("ok");
        assert_eq!(
            (d.duration, d.aspect_ratio.as_deref()),
            (Some(5), Some("9:16"))
        );
    }

    #[test]
    fn the_2_5_shape_maps_to_canonical_fields_for_2_5_models_only() {
        let body = br#"{"model":"seedance-2.5","size":"adaptive","seed":7,"return_last_frame":true,
            "image_with_roles":[{"url":"https://e.com/f.png","role":"first_frame"},
                                {"url":"https://e.com/l.png","role":"last_frame"}],
            "tools":[{"type":"web_search"}]}"#;
        let (d, _) = parse_submit(body).expect("2.5 shape");
        assert_eq!(d.first_frame_url.as_deref(), Some("https://e.com/f.png"));
        assert_eq!(d.last_frame_url.as_deref(), Some("https://e.com/l.png"));
        assert_eq!(d.aspect_ratio.as_deref(), Some("adaptive"));
        assert_eq!(
            (d.seed, d.return_last_frame, d.web_search),
            (Some(7), Some(true), Some(true))
        );
        let (d, _) = parse_submit(
            br#"{"model":"seedance-2.5","image_urls":["https://e.com/a.png"],"video_urls":["https://e.com/v.mp4"],"audio_urls":["https://e.com/a.mp3"]}"#,
        )
        .expect("references");
        assert_eq!(d.reference_image_urls.map(|v| v.len()), Some(1));
        assert_eq!(d.reference_video_urls.map(|v| v.len()), Some(1));
        assert_eq!(d.reference_audio_urls.map(|v| v.len()), Some(1));
        let e = parse_submit(br#"{"model":"seedance-2.5","size":"16:9","aspect_ratio":"9:16"}"#)
            .expect_err("conflict");
        assert_eq!(e.field(), Some("size"));
        let e = parse_submit(br#"{"model":"seedance-2.0-mini","seed":3}"#).expect_err("mini");
        assert_eq!(e.field(), Some("seed"));
    }
}

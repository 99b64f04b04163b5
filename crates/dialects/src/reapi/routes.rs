//! reAPI's routes and handlers.

use crate::common::{self, Auth, Reply};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use seedgate_core::error::{GatewayError, ValidationError};
use seedgate_core::records::StoredResponse;
use seedgate_core::{RequestDraft, Task};
use seedgate_service::GenerationService;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::convert::{asset_object, estimate_object, parse_submit, task_object};
use super::wire::{AssetObject, ErrorEnvelope, EstimateObject, SubmitRequest, TaskObject};
use super::ReApi;

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

/// A submit body as a draft: shared by submit and estimate.
fn parse_body(
    service: &GenerationService,
    body: Result<Bytes, BytesRejection>,
) -> Result<(RequestDraft, serde_json::Value), GatewayError> {
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    Ok(parse_submit(&body, service.catalog())?)
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
    State(service): State<AppState>,
    Auth(principal, _): Auth<ReApi>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply<ReApi> {
    let (draft, json) = parse_body(&service, body)?;
    Ok(common::submit::<ReApi>(
        &service,
        &principal,
        &headers,
        SUBMIT_ROUTE,
        &json,
        draft,
        &render_created,
    )
    .await?)
}

/// Poll a task (any dialect's task of the same key).
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "reAPI",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TaskObject), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn get_task(
    State(service): State<AppState>,
    Auth(principal, _): Auth<ReApi>,
    Path(id): Path<String>,
) -> Reply<ReApi> {
    let task = service.get_task(&principal, &id).await?;
    Ok(common::json_response(StatusCode::OK, &task_object(&task)))
}

/// Price a request without submitting it (seedgate extension): validates it and probes its media.
#[utoipa::path(post, path = "/api/v1/videos/estimate", tag = "reAPI",
    request_body = SubmitRequest,
    responses((status = 200, body = EstimateObject), (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn estimate(
    State(service): State<AppState>,
    Auth(principal, _): Auth<ReApi>,
    body: Result<Bytes, BytesRejection>,
) -> Reply<ReApi> {
    let (draft, _) = parse_body(&service, body)?;
    let quote = service.quote(&principal, draft).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &estimate_object(&quote),
    ))
}

#[utoipa::path(post, path = "/api/v1/assets", tag = "reAPI",
    request_body(content = Vec<u8>, description = "The file, raw or as multipart field `file`", content_type = "application/octet-stream"),
    responses((status = 200, body = AssetObject), (status = 413, body = ErrorEnvelope), (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
/// `POST /api/v1/assets`: the file as a multipart field (`file`, or the first field) or as the
/// raw body.
async fn upload_asset(
    State(service): State<AppState>,
    Auth(principal, _): Auth<ReApi>,
    request: Request,
) -> Reply<ReApi> {
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
    let asset = service.upload_asset(&principal, bytes, None).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &asset_object(&service, &asset),
    ))
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
    State(service): State<AppState>,
    Auth(principal, _): Auth<ReApi>,
    Path(id): Path<String>,
) -> Reply<ReApi> {
    let asset = service.get_asset(&principal, &id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &asset_object(&service, &asset),
    ))
}

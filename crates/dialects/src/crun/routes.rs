//! CRUN's routes and handlers.

use crate::common::{self, Auth, Reply};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use seedgate_core::error::{GatewayError, ValidationError};
use seedgate_core::media::MediaKind;
use seedgate_core::records::StoredResponse;
use seedgate_core::{RequestDraft, Task};
use seedgate_service::GenerationService;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::convert::{asset_info, parse_create, task_info};
use super::errors::wire_error;
use super::wire::{
    AssetIdData, AssetInfoResponse, AssetUploadRequest, AssetUploadResponse, CreateTaskRequest,
    CreateTaskResponse, ErrorEnvelope, EstimateData, EstimateResponse, TaskIdData,
    TaskInfoResponse,
};
use super::Crun;

pub const CREATE_ROUTE: &str = "/api/v1/client/job/CreateTask";

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task))
        .routes(routes!(task_info_handler))
        .routes(routes!(estimate_credits))
        .routes(routes!(asset_upload))
        .routes(routes!(asset_info_handler))
}

/// The longest `name` an asset may be given.
const MAX_ASSET_NAME_CHARS: usize = 255;

fn ok<T: Serialize>(data: T) -> Response {
    common::json_response(
        StatusCode::OK,
        &serde_json::json!({"code": 200, "message": "success", "data": data}),
    )
}

pub(super) fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(
        200,
        &CreateTaskResponse {
            code: 200,
            message: "success".into(),
            data: TaskIdData {
                task_id: task.id.to_string(),
            },
        },
    )
}

/// A CreateTask body as a draft and the model name it gave: shared by CreateTask and
/// estimate-credits.
fn parse_body(
    service: &GenerationService,
    body: Result<Bytes, BytesRejection>,
) -> Result<(RequestDraft, String, Value), GatewayError> {
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    Ok(parse_create(&body, service.catalog())?)
}

fn query_param<'a>(
    query: &'a HashMap<String, String>,
    name: &str,
) -> Result<&'a str, GatewayError> {
    query
        .get(name)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ValidationError::missing(name).into())
}

/// Create a video task; the model's suffix (`-t2v`, `-i2v`, `-r2v`) is the mode.
#[utoipa::path(post, path = "/api/v1/client/job/CreateTask", tag = "CRUN",
    request_body = CreateTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses((status = 200, description = "The task was accepted", body = CreateTaskResponse),
        (status = "4XX", body = ErrorEnvelope), (status = "5XX", body = ErrorEnvelope)),
    security(("x-api-key" = [])))]
async fn create_task(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Crun>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Crun> {
    let (draft, name, json) = parse_body(&service, body)?;
    Ok(common::submit::<Crun>(
        &service,
        &principal,
        &headers,
        CREATE_ROUTE,
        &json,
        draft,
        &render_created,
    )
    .await
    .map_err(|e| wire_error(e, &name))?)
}

/// A task of any dialect, by `task_id`.
#[utoipa::path(get, path = "/api/v1/client/job/TaskInfo", tag = "CRUN",
    params(("task_id" = String, Query, description = "The `task_id` CreateTask returned")),
    responses((status = 200, body = TaskInfoResponse), (status = 404, body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope)),
    security(("x-api-key" = [])))]
async fn task_info_handler(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Crun>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<Crun> {
    let id = query_param(&query, "task_id")?;
    let task = service.get_task(&principal, id).await?;
    Ok(ok(task_info(&task)))
}

/// What CreateTask with the same body would charge; nothing is charged.
#[utoipa::path(post, path = "/api/v1/client/job/estimate-credits", tag = "CRUN",
    request_body = CreateTaskRequest,
    responses((status = 200, body = EstimateResponse), (status = "4XX", body = ErrorEnvelope)),
    security(("x-api-key" = [])))]
async fn estimate_credits(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Crun>,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Crun> {
    let (draft, name, _) = parse_body(&service, body)?;
    let quote = service
        .quote(&principal, draft)
        .await
        .map_err(|e| wire_error(e, &name))?;
    Ok(ok(EstimateData {
        credits: quote.price.credits,
        estimated: true,
    }))
}

/// Register a reference asset from a URL; use it as `asset://<AssetId>`.
#[utoipa::path(post, path = "/api/v1/client/job/asset-upload", tag = "CRUN",
    request_body = AssetUploadRequest,
    responses((status = 200, body = AssetUploadResponse), (status = "4XX", body = ErrorEnvelope)),
    security(("x-api-key" = [])))]
async fn asset_upload(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Crun>,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Crun> {
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    let wire: AssetUploadRequest = common::parse_json(&body)?;
    let kind = match wire.asset_type.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(ValidationError::Missing {
                field: "asset_type".into(),
            }
            .into())
        }
        Some(t) if t.eq_ignore_ascii_case("image") => MediaKind::Image,
        Some(t) if t.eq_ignore_ascii_case("video") => MediaKind::Video,
        Some(t) if t.eq_ignore_ascii_case("audio") => MediaKind::Audio,
        Some(_) => {
            return Err(
                ValidationError::invalid("asset_type", "must be Image, Video or Audio").into(),
            )
        }
    };
    let url = wire
        .asset_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ValidationError::Missing {
            field: "asset_url".into(),
        })?;
    let name = wire
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if name
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_ASSET_NAME_CHARS)
    {
        return Err(ValidationError::invalid(
            "name",
            &format!("must be at most {MAX_ASSET_NAME_CHARS} characters"),
        )
        .into());
    }
    let asset = service
        .upload_asset_from_url(&principal, url, kind, name)
        .await
        .map_err(|e| {
            e.renamed(|f| {
                if f.is("file") {
                    "asset_url".into()
                } else {
                    f.to_string()
                }
            })
        })?;
    Ok(ok(AssetIdData { asset_id: asset.id }))
}

/// An uploaded asset.
#[utoipa::path(get, path = "/api/v1/client/job/asset-info", tag = "CRUN",
    params(("asset_id" = String, Query, description = "The AssetId asset-upload returned")),
    responses((status = 200, body = AssetInfoResponse), (status = 404, body = ErrorEnvelope)),
    security(("x-api-key" = [])))]
async fn asset_info_handler(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Crun>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<Crun> {
    let id = query_param(&query, "asset_id")?;
    let asset = service.get_asset(&principal, id).await?;
    Ok(ok(asset_info(&service, &asset)))
}

//! APIXO's routes and handlers.

use crate::common::{self, Auth, Reply};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use seedgate_core::error::{GatewayError, ValidationError};
use seedgate_core::records::StoredResponse;
use seedgate_core::Task;
use std::collections::HashMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::convert::{parse_generate, status_response};
use super::errors::wire_error;
use super::wire::{
    ErrorEnvelope, GenerateTaskRequest, GenerateTaskResponse, StatusTaskResponse, TaskIdData,
};
use super::Apixo;

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate_task))
        .routes(routes!(status_task))
}

pub(super) fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(
        200,
        &GenerateTaskResponse {
            code: 200,
            message: "success".into(),
            data: TaskIdData {
                task_id: task.id.to_string(),
            },
        },
    )
}

/// Submit a generation task.
#[utoipa::path(post, path = "/api/v1/generateTask/{model}", tag = "APIXO",
    request_body = GenerateTaskRequest,
    params(
        ("model" = String, Path, description = "`seedance-2-0-mini` (or another name of it)"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses((status = 200, description = "The task was accepted", body = GenerateTaskResponse),
        (status = "4XX", body = ErrorEnvelope), (status = "5XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn generate_task(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Apixo>,
    Path(model): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Apixo> {
    service.catalog().resolve_available(&model)?;
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    let (draft, json) = parse_generate(&body, &model)?;
    Ok(common::submit::<Apixo>(
        &service,
        &principal,
        &headers,
        &format!("/api/v1/generateTask/{model}"),
        &json,
        draft,
        &render_created,
    )
    .await
    .map_err(wire_error)?)
}

/// Poll a task (any dialect's task of the same key and model).
#[utoipa::path(get, path = "/api/v1/statusTask/{model}", tag = "APIXO",
    params(
        ("model" = String, Path, description = "The task's model (or another name of it)"),
        ("taskId" = String, Query, description = "The `taskId` `generateTask` returned")),
    responses((status = 200, body = StatusTaskResponse),
        (status = 404, description = "Unknown task, or a task of another model", body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn status_task(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Apixo>,
    Path(model): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<Apixo> {
    let id = query
        .get("taskId")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ValidationError::Missing {
            field: "taskId".into(),
        })?;
    let task = service.get_task(&principal, id).await?;
    let same_model = service
        .catalog()
        .lookup(&model)
        .is_some_and(|spec| spec.id == task.request.model);
    if !same_model {
        return Err(GatewayError::NotFound.into());
    }
    Ok(common::json_response(
        StatusCode::OK,
        &status_response(&task),
    ))
}

//! Ark's routes and handlers.

use crate::common::{self, Auth, Reply};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use seedgate_core::error::GatewayError;
use seedgate_core::records::StoredResponse;
use seedgate_core::task::TaskStatus;
use seedgate_core::Task;
use seedgate_service::{GenerationService, Principal};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::convert::parse_create;
use super::list::parse_list_query;
use super::task::task_object;
use super::wire::ErrorEnvelope;
use super::wire::{CreateTaskRequest, CreateTaskResponse, TaskList, TaskObject};
use super::Ark;

pub const TASKS_ROUTE: &str = "/api/v3/contents/generations/tasks";

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task, list_tasks))
        .routes(routes!(get_task, delete_task))
}

fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(
        200,
        &CreateTaskResponse {
            id: task.id.to_string(),
        },
    )
}

/// Create a video-generation task.
#[utoipa::path(post, path = "/api/v3/contents/generations/tasks", tag = "Ark",
    request_body = CreateTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h (seedgate extension)")),
    responses((status = 200, description = "The new task's id", body = CreateTaskResponse),
        (status = "4XX", body = ErrorEnvelope), (status = "5XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn create_task(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Ark>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Ark> {
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    let parsed = parse_create(&body, service.catalog())?;
    let paths = parsed.paths;
    Ok(common::submit::<Ark>(
        &service,
        &principal,
        &headers,
        TASKS_ROUTE,
        &parsed.json,
        parsed.draft,
        &render_created,
    )
    .await
    .map_err(|e| paths.rename(e))?)
}

/// Query one task (any dialect's task of the same key).
#[utoipa::path(get, path = "/api/v3/contents/generations/tasks/{id}", tag = "Ark",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TaskObject), (status = 404, body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn get_task(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Ark>,
    Path(id): Path<String>,
) -> Reply<Ark> {
    let task = service.get_task(&principal, &id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &task_object(&task, service.catalog()),
    ))
}

/// Cancel a queued task (refunded; it becomes `cancelled`), or delete the record of a
/// succeeded, failed or expired one (it is no longer queryable). Running and cancelled tasks
/// are refused.
#[utoipa::path(delete, path = "/api/v3/contents/generations/tasks/{id}", tag = "Ark",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, description = "`{}`", body = Object),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn delete_task(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Ark>,
    Path(id): Path<String>,
) -> Reply<Ark> {
    cancel_or_delete(&service, &principal, &id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &serde_json::json!({}),
    ))
}

async fn cancel_or_delete(
    service: &GenerationService,
    principal: &Principal,
    id: &str,
) -> Result<(), GatewayError> {
    let task = service.get_task(principal, id).await?;
    match task.status {
        TaskStatus::Queued => service.cancel_task(principal, id).await.map(|_| ()),
        TaskStatus::Succeeded | TaskStatus::Failed => service.delete_task(principal, id).await,
        TaskStatus::Running => Err(GatewayError::NotCancellable),
        TaskStatus::Cancelled => Err(GatewayError::NotDeletable),
    }
}

/// List the caller's tasks, newest first.
#[utoipa::path(get, path = "/api/v3/contents/generations/tasks", tag = "Ark",
    params(
        ("page_num" = Option<u32>, Query, description = "1 to 500 (default 1)"),
        ("page_size" = Option<u32>, Query, description = "1 to 500 (default 10)"),
        ("filter.status" = Option<String>, Query, description = "queued, running, cancelled, succeeded or failed (`expired` cannot be filtered)"),
        ("filter.task_ids" = Option<Vec<String>>, Query, description = "Repeat for several ids"),
        ("filter.model" = Option<String>, Query, description = "Model id"),
        ("filter.service_tier" = Option<String>, Query, description = "default or flex"),
    ),
    responses((status = 200, body = TaskList), (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn list_tasks(
    State(service): State<AppState>,
    Auth(principal, _): Auth<Ark>,
    RawQuery(query): RawQuery,
) -> Reply<Ark> {
    let Some(query) = parse_list_query(query.as_deref().unwrap_or_default())? else {
        return Ok(common::json_response(
            StatusCode::OK,
            &TaskList {
                total: 0,
                items: Vec::new(),
            },
        ));
    };
    let page = service.list_tasks(&principal, query).await?;
    let list = TaskList {
        total: page.total,
        items: page
            .tasks
            .iter()
            .map(|t| task_object(t, service.catalog()))
            .collect(),
    };
    Ok(common::json_response(StatusCode::OK, &list))
}

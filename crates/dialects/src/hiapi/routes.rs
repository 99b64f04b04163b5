//! HiAPI's routes and handlers.

use crate::common::{self, Auth, Reply};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use seedgate_core::records::{StoredResponse, TaskQuery};
use seedgate_core::Task;
use std::collections::HashMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::convert::{listed_task, paging, parse_create, task_data};
use super::errors::renamed;
use super::wire::{
    CreateResponse, CreateTaskRequest, CreatedTask, ErrorEnvelope, ListResponse, TaskList,
    TaskResponse,
};
use super::HiApi;

pub const CREATE_ROUTE: &str = "/v1/tasks";

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task, list_tasks))
        .routes(routes!(get_task))
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
    State(service): State<AppState>,
    Auth(principal, _): Auth<HiApi>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply<HiApi> {
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    let (draft, json) = parse_create(&body, service.catalog())?;
    Ok(common::submit::<HiApi>(
        &service,
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
#[utoipa::path(get, path = "/v1/tasks/{id}", tag = "HiAPI",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TaskResponse), (status = 404, body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn get_task(
    State(service): State<AppState>,
    Auth(principal, _): Auth<HiApi>,
    Path(id): Path<String>,
) -> Reply<HiApi> {
    let task = service.get_task(&principal, &id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &TaskResponse {
            code: 200,
            message: "success".into(),
            data: task_data(&task),
        },
    ))
}

/// List the key's tasks, newest first.
#[utoipa::path(get, path = "/v1/tasks", tag = "HiAPI",
    params(
        ("page" = Option<u64>, Query, description = "From 1 (default 1)"),
        ("size" = Option<u32>, Query, description = "1 to 100 (default 20); out-of-range values fall back to the default")),
    responses((status = 200, body = ListResponse), (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn list_tasks(
    State(service): State<AppState>,
    Auth(principal, _): Auth<HiApi>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Reply<HiApi> {
    // An unreadable query string counts as absent values, which fall back to defaults.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let (page, size) = paging(&query);
    let listing = service
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! Kie's routes and handlers.

use crate::common::{self, Auth, Reply};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use seedgate_core::error::ValidationError;
use seedgate_core::records::StoredResponse;
use seedgate_core::Task;
use std::collections::HashMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::convert::{parse_create, record_info_response};
use super::errors::{renamed, ErrorEnvelope};
use super::wire::{CreateResponse, CreateTaskRequest, CreatedTask, RecordInfoResponse};
use super::Kie;

pub const CREATE_ROUTE: &str = "/api/v1/jobs/createTask";

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task))
        .routes(routes!(record_info))
}

pub(super) fn render_created(task: &Task) -> StoredResponse {
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
    State(service): State<AppState>,
    Auth(principal, _): Auth<Kie>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Kie> {
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    let (draft, json) = parse_create(&body)?;
    Ok(common::submit::<Kie>(
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
#[utoipa::path(get, path = "/api/v1/jobs/recordInfo", tag = "Kie",
    params(("taskId" = String, Query, description = "Task id")),
    responses((status = 200, body = RecordInfoResponse), (status = 404, body = ErrorEnvelope),
        (status = 422, description = "No taskId", body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn record_info(
    State(service): State<AppState>,
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
    let task = service.get_task(&principal, id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &record_info_response(&task),
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

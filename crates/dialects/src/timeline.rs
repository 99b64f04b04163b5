//! `GET /api/v1/tasks/{id}/timeline`: what happened to one of the caller's tasks, in order
//! (accepted with its quote, the hold, each attempt and the upstream accounts it went to,
//! status changes, errors, the result's copy, the settle or refund, callback attempts). The
//! entries are `seedgate_core::timeline`'s as they are. seedgate's own route, dialect-neutral
//! (any dialect's key works), answered in reAPI's envelope like the other routes of its kind.

use crate::common::{self, Auth, Reply};
use crate::reapi::{ErrorEnvelope, ReApi};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use seedgate_core::timeline::TimelineEntry;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(timeline))
}

/// A task's timeline, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineObject {
    pub task_id: String,
    /// In order: by time, then by source (the task's own event before the ledger entry it
    /// wrote, then callbacks, then operator actions), then by each source's sequence.
    pub data: Vec<TimelineEntry>,
}

/// Everything that happened to a task, in order: acceptance and its quote, the credit hold,
/// each attempt (worker, upstream account, upstream task id, status changes, errors with
/// their class, failovers), the result's copy, the settle or refund with its ledger entry,
/// every callback attempt and operator actions.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/timeline", tag = "Timeline",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TimelineObject), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn timeline(
    State(service): State<AppState>,
    Auth(principal, _): Auth<ReApi>,
    Path(id): Path<String>,
) -> Reply<ReApi> {
    let data = service.task_timeline(&principal, &id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &TimelineObject { task_id: id, data },
    ))
}

//! `GET /admin/v1/tasks/{id}/timeline`: any task's timeline, for operators, with everything
//! (who acted on it, the records before and after). The member route,
//! `GET /api/v1/tasks/{id}/timeline`, shows the same entries of the caller's own tasks.

use super::wire::AdminErrorEnvelope;
use super::{authorize, AdminState, ApiError};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use seedgate_dialects::timeline::TimelineObject;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new().routes(routes!(task_timeline))
}

/// Everything that happened to a task, whoever owns it, in order: acceptance and its quote,
/// the credit hold, each attempt (the worker that claimed it, the upstream account it was sent
/// to, the upstream task id, status changes, errors with their class, failovers, requeues and
/// rescues), the result's copy, the settle or refund with its ledger entry, every callback
/// attempt and every operator action on it.
#[utoipa::path(get, path = "/admin/v1/tasks/{id}/timeline", tag = "Admin",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TimelineObject),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 404, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn task_timeline(
    State(s): State<AdminState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<TimelineObject>), ApiError> {
    authorize(&s, &headers, false).await?;
    let Path(id) = id.map_err(|e| ApiError::invalid(e.body_text()))?;
    let data = s.task_timeline(&id).await?;
    Ok((StatusCode::OK, Json(TimelineObject { task_id: id, data })))
}

//! `POST /upstream/callbacks/{task}/{token}`: where upstreams report progress. The URL is the
//! only credential (an HMAC of the task id, see `seedgate_core::upstream`); the body is never
//! trusted, only used to make the task's next poll, which re-reads it upstream, due now.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use seedgate_core::TaskId;
use seedgate_workers::{CallbackVerdict, TaskWorkers};
use std::sync::Arc;

pub fn routes(workers: Arc<TaskWorkers>) -> Router {
    Router::new()
        .route("/upstream/callbacks/{task}/{token}", post(receive))
        .with_state(workers)
}

async fn receive(
    State(workers): State<Arc<TaskWorkers>>,
    Path((task, token)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let task = TaskId::from_string(task);
    match workers.upstream_callback(&task, &token, &body).await {
        // Upstreams retry until they see a 2xx; an empty JSON object satisfies every dialect.
        CallbackVerdict::Accepted => Json(serde_json::json!({})).into_response(),
        // The same answer for a wrong token and an unknown task: the URL reveals nothing.
        CallbackVerdict::Unknown => StatusCode::NOT_FOUND.into_response(),
    }
}

//! The client side of callbacks: each dialect's callback body (exactly what that dialect's
//! status call returns for the task), and the endpoints that show and replay a task's
//! deliveries, `GET /api/v1/tasks/{id}/callbacks` and `POST /api/v1/tasks/{id}/callbacks/redeliver`
//! (seedgate's own, in reAPI's envelope; any dialect's key works, as for every task read).

use crate::common::{self, Auth, Reply};
use crate::reapi::{ErrorEnvelope, ReApi};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use seedgate_core::records::CallbackRecord;
use seedgate_core::task::Task;
use seedgate_core::webhook::{CallbackRenderer, RenderedCallback};
use seedgate_service::GenerationService;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Renders a finished task's callback in the dialect it was created in.
pub struct DialectCallbacks {
    service: Arc<GenerationService>,
}

impl DialectCallbacks {
    pub fn new(service: Arc<GenerationService>) -> Self {
        Self { service }
    }
}

impl CallbackRenderer for DialectCallbacks {
    fn render(&self, dialect: &str, task: &Task) -> Option<RenderedCallback> {
        let entry = crate::dialect_named(dialect)?;
        let body = (entry.callback_body?)(
            &self.service.with_urls(task.clone()),
            self.service.catalog(),
        )?;
        Some(RenderedCallback {
            body,
            hiapi_signature: entry.hiapi_signature,
        })
    }
}

/// A wire value as a callback body. Serialising our own wire structs cannot fail; if it ever
/// did, there is no callback rather than a panic.
pub(crate) fn json<T: Serialize>(value: &T) -> Option<Vec<u8>> {
    serde_json::to_vec(value).ok()
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_callbacks))
        .routes(routes!(redeliver))
}

/// A task's callback and every attempt to deliver it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbacksObject {
    pub task_id: String,
    /// Where the callback goes; null when the task was created without one.
    pub callback_url: Option<String>,
    /// Null until the task finishes (or when it has no callback URL).
    pub callback: Option<CallbackObject>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CallbacksDelivery)]
pub struct CallbackObject {
    /// The `webhook-id` header of every attempt.
    pub id: String,
    pub url: String,
    /// The dialect whose body it carries.
    pub dialect: String,
    /// pending | delivered | failed (retries used up) | gone (the receiver answered 410)
    #[schema(value_type = String)]
    pub state: &'static str,
    /// Unix ms of the next attempt while pending.
    pub next_attempt_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
    pub attempts: Vec<AttemptObject>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CallbacksAttempt)]
pub struct AttemptObject {
    pub attempt: u32,
    /// Unix ms.
    pub started_at_ms: i64,
    /// The receiver's HTTP status; null when it never answered.
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
}

fn callbacks_object(task: &Task, record: Option<CallbackRecord>) -> CallbacksObject {
    CallbacksObject {
        task_id: task.id.to_string(),
        callback_url: task.request.callback_url.clone(),
        callback: record.map(|r| CallbackObject {
            id: r.id,
            url: r.url,
            dialect: r.dialect,
            state: r.state.as_str(),
            next_attempt_at_ms: r.next_attempt_at_ms,
            created_at_ms: r.created_at_ms,
            delivered_at_ms: r.delivered_at_ms,
            attempts: r
                .attempts
                .into_iter()
                .map(|a| AttemptObject {
                    attempt: a.attempt,
                    started_at_ms: a.started_at_ms,
                    status: a.status,
                    latency_ms: a.latency_ms,
                    error: a.error,
                })
                .collect(),
        }),
    }
}

/// A task's callback deliveries: time, status, latency and error of every attempt.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/callbacks", tag = "Callbacks",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = CallbacksObject), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn list_callbacks(
    State(service): State<AppState>,
    Auth(principal, _): Auth<ReApi>,
    Path(id): Path<String>,
) -> Reply<ReApi> {
    let (task, record) = service.callbacks(&principal, &id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &callbacks_object(&task, record),
    ))
}

/// Sends a finished task's callback again now, with the same `webhook-id`.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/callbacks/redeliver", tag = "Callbacks",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = CallbacksObject), (status = 400, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn redeliver(
    State(service): State<AppState>,
    Auth(principal, _): Auth<ReApi>,
    Path(id): Path<String>,
) -> Reply<ReApi> {
    let (task, record) = service.redeliver_callback(&principal, &id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &callbacks_object(&task, record),
    ))
}

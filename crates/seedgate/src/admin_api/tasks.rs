//! The operator's task routes under `/admin/v1/tasks`: search across accounts, one task whole,
//! cancel, refund by hand, redeliver the callback. Like every admin handler, each checks the
//! admin token before it reads its path, query or body; every write is audited (target: the
//! task id) by the store in the transaction that makes it.

use super::wire::AdminErrorEnvelope;
use super::{authorize, AdminState, ApiError};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use seedgate_service::admin::TaskSearchRequest;
use seedgate_store::task_admin::{ManualRefund, OperatorTask, RefundRecord, TaskCost};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Answer<T> = Result<(StatusCode, Json<T>), ApiError>;

pub(super) fn routes() -> OpenApiRouter<AdminState> {
    OpenApiRouter::new()
        .routes(routes!(search_tasks))
        .routes(routes!(get_task))
        .routes(routes!(cancel_task))
        .routes(routes!(refund_task))
        .routes(routes!(redeliver_callback))
}

fn task_path(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(p)| p)
        .map_err(|e| ApiError::invalid(e.body_text()))
}

// ---------------------------------------------------------------------------------------------
// What the routes read and answer.

/// Which tasks to list; every filter given narrows the list. Newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TaskSearchQuery {
    /// One status or several, comma-separated: `queued`, `running`, `succeeded`, `failed`,
    /// `cancelled`.
    pub status: Option<String>,
    /// The account's id or name.
    pub account: Option<String>,
    /// The key's id or name.
    pub key: Option<String>,
    /// The canonical model id, or the name the client sent.
    pub model: Option<String>,
    /// The upstream (provider) account the task was sent to, as configured.
    pub upstream_account: Option<String>,
    /// The upstream's own id of the task's job.
    pub upstream_task_id: Option<String>,
    /// Created at or after this time (Unix ms).
    pub created_from_ms: Option<i64>,
    /// Created before this time (Unix ms).
    pub created_before_ms: Option<i64>,
    /// Only tasks still queued that were created more than this many minutes ago.
    pub queued_for_min: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Tasks per page, 1 to 500 (50 when absent).
    pub limit: Option<u32>,
}

/// Where a task's credits went: `price = held + charged + refunded`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTaskCost {
    /// What the task costs, in credits (1 credit = $0.001).
    pub price: i64,
    /// Reserved and not resolved yet (while the task is queued or running).
    pub held: i64,
    /// What the account paid in the end: the settled charge less any manual refund.
    pub charged: i64,
    /// What came back: the automatic refund of a failed or cancelled task, or a manual one.
    pub refunded: i64,
}

impl From<TaskCost> for AdminTaskCost {
    fn from(c: TaskCost) -> Self {
        Self {
            price: c.price,
            held: c.held,
            charged: c.charged,
            refunded: c.refunded,
        }
    }
}

/// A manual refund.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminManualRefund {
    pub credits: i64,
    pub note: String,
    pub at_ms: i64,
}

impl From<RefundRecord> for AdminManualRefund {
    fn from(r: RefundRecord) -> Self {
        Self {
            credits: r.credits,
            note: r.note,
            at_ms: r.at_ms,
        }
    }
}

/// Why a task failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTaskError {
    /// `moderation`, `invalid_input`, `rate_limited`, `upstream_error`, `timeout`, `expired`
    /// or `internal`.
    pub kind: String,
    pub message: String,
}

/// A task as an operator sees it in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTask {
    pub id: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    pub account_id: String,
    pub key_id: String,
    /// The canonical model id.
    pub model: String,
    /// The model name the client sent.
    pub requested_model: String,
    /// `480p`, `720p` or `1080p`.
    pub resolution: String,
    /// The video's length, in seconds.
    pub duration_seconds: u32,
    /// The seconds billed.
    pub billable_seconds: u32,
    pub cost: AdminTaskCost,
    /// The upstream (provider) account it was sent to, if any.
    pub upstream_account: Option<String>,
    /// The upstream's own id of its job, once accepted there.
    pub upstream_task_id: Option<String>,
    /// A submit was sent upstream and its answer is not known yet (it is being reconciled).
    pub submit_in_doubt: bool,
    /// Claims so far.
    pub attempt: u32,
    pub error: Option<AdminTaskError>,
    pub manual_refund: Option<AdminManualRefund>,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// From creation to its end (null while it is not finished).
    pub elapsed_ms: Option<i64>,
    /// When its owner deleted it (operators still see it).
    pub deleted_at_ms: Option<i64>,
}

impl From<&OperatorTask> for AdminTask {
    fn from(o: &OperatorTask) -> Self {
        let t = &o.task;
        Self {
            id: t.id.to_string(),
            status: t.status.as_str().to_string(),
            account_id: t.account_id.to_string(),
            key_id: t.api_key_id.to_string(),
            model: t.request.model.clone(),
            requested_model: t.requested_model.clone(),
            resolution: t.request.resolution.as_str().to_string(),
            duration_seconds: t.request.duration_seconds,
            billable_seconds: t.price.billable_seconds,
            cost: o.cost.into(),
            upstream_account: t.provider.clone(),
            upstream_task_id: o.provider_job_id.clone(),
            submit_in_doubt: o.submit_in_doubt,
            attempt: t.attempt,
            error: t.error.as_ref().map(|e| AdminTaskError {
                kind: e.kind.as_str().to_string(),
                message: e.message.clone(),
            }),
            manual_refund: o.manual_refund.clone().map(Into::into),
            created_at_ms: t.created_at_ms,
            started_at_ms: t.started_at_ms,
            finished_at_ms: t.finished_at_ms,
            elapsed_ms: t.finished_at_ms.map(|f| f - t.created_at_ms),
            deleted_at_ms: o.deleted_at_ms,
        }
    }
}

/// A task whole, for an operator: its list entry, the canonical request and the result.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTaskDetail {
    #[serde(flatten)]
    pub summary: AdminTask,
    /// The dialect it was submitted in.
    pub origin_dialect: String,
    /// The worker holding it while it runs.
    pub lease_owner: Option<String>,
    /// The canonical request (what providers were given).
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// Where its files are stored, once it succeeded.
    #[schema(value_type = Option<Object>)]
    pub output: Option<serde_json::Value>,
}

impl From<OperatorTask> for AdminTaskDetail {
    fn from(o: OperatorTask) -> Self {
        Self {
            summary: AdminTask::from(&o),
            origin_dialect: o.task.origin_dialect.clone(),
            lease_owner: o.lease_owner.clone(),
            request: serde_json::to_value(&o.task.request).unwrap_or_default(),
            output: o
                .task
                .output
                .as_ref()
                .and_then(|out| serde_json::to_value(out).ok()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTaskPage {
    /// Newest first.
    pub data: Vec<AdminTask>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A settled task's charge given back by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Why (required; kept in the ledger and the audit log).
    pub note: String,
    /// How many credits to give back, at most what was charged; everything charged when
    /// absent.
    #[serde(default)]
    pub credits: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminRefund {
    pub task_id: String,
    pub account_id: String,
    /// Credits given back (one `refund` entry in the ledger).
    pub credits: i64,
    pub note: String,
    /// The account's balance after the refund.
    pub balance: i64,
}

impl From<ManualRefund> for AdminRefund {
    fn from(r: ManualRefund) -> Self {
        Self {
            task_id: r.task_id.to_string(),
            account_id: r.account_id.to_string(),
            credits: r.credits,
            note: r.note,
            balance: r.balance,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminRedelivery {
    pub task_id: String,
    /// `pending`: the final callback is due now, whatever became of earlier attempts.
    pub state: String,
}

// ---------------------------------------------------------------------------------------------
// The handlers.

/// Tasks across every account, newest first, with their cost, status, account, key, model,
/// resolution, duration, upstream account and error.
#[utoipa::path(get, path = "/admin/v1/tasks", tag = "Admin", params(TaskSearchQuery),
    responses((status = 200, body = AdminTaskPage),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 404, body = AdminErrorEnvelope), (status = 409, body = AdminErrorEnvelope),
        (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn search_tasks(
    State(s): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<TaskSearchQuery>, QueryRejection>,
) -> Answer<AdminTaskPage> {
    authorize(&s, &headers, false).await?;
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let page = s
        .search_tasks(TaskSearchRequest {
            status: q.status,
            account: q.account,
            key: q.key,
            model: q.model,
            upstream_account: q.upstream_account,
            upstream_task_id: q.upstream_task_id,
            created_from_ms: q.created_from_ms,
            created_before_ms: q.created_before_ms,
            queued_for_min: q.queued_for_min,
            cursor: q.cursor,
            limit: q.limit,
        })
        .await?;
    Ok((
        StatusCode::OK,
        Json(AdminTaskPage {
            data: page.tasks.iter().map(AdminTask::from).collect(),
            next_cursor: page.next_before.map(|id| id.to_string()),
        }),
    ))
}

/// One task, whoever owns it (deleted ones too).
#[utoipa::path(get, path = "/admin/v1/tasks/{id}", tag = "Admin",
    params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = AdminTaskDetail),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 404, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn get_task(
    State(s): State<AdminState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer<AdminTaskDetail> {
    authorize(&s, &headers, false).await?;
    Ok((StatusCode::OK, Json(s.task(&task_path(id)?).await?.into())))
}

/// Cancels a queued or running task and releases its hold (the automatic refund: one ledger
/// entry). A running task's worker cancels its upstream job at its next heartbeat (best
/// effort). Refused (409) for a finished task, and for one whose submit to an upstream is
/// unanswered (it could be running there; retry once it is reconciled).
#[utoipa::path(post, path = "/admin/v1/tasks/{id}/cancel", tag = "Admin",
    params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = AdminTaskDetail),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 403, body = AdminErrorEnvelope), (status = 404, body = AdminErrorEnvelope),
        (status = 409, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn cancel_task(
    State(s): State<AdminState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer<AdminTaskDetail> {
    let actor = authorize(&s, &headers, true).await?;
    let task = s.cancel_task(&task_path(id)?, &actor).await?;
    Ok((StatusCode::OK, Json(task.into())))
}

/// Gives a succeeded task's charge back by hand (all of it, or `credits`), with a note: one
/// `refund` ledger entry, exactly once per task. A second refund, or a task that did not
/// succeed, is refused (409) and nothing moves.
#[utoipa::path(post, path = "/admin/v1/tasks/{id}/refund", tag = "Admin",
    request_body = RefundRequest,
    params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = AdminRefund),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 403, body = AdminErrorEnvelope), (status = 404, body = AdminErrorEnvelope),
        (status = 409, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn refund_task(
    State(s): State<AdminState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    request: Result<Json<RefundRequest>, JsonRejection>,
) -> Answer<AdminRefund> {
    let actor = authorize(&s, &headers, true).await?;
    let id = task_path(id)?;
    let Json(request) = request.map_err(|e| ApiError::invalid(e.body_text()))?;
    let refund = s
        .refund_task(&id, request.credits, &request.note, &actor)
        .await?;
    Ok((StatusCode::OK, Json(refund.into())))
}

/// Makes the task's final callback due now, whoever owns the task: it is delivered again
/// (signed as before), whatever became of the earlier attempts.
#[utoipa::path(post, path = "/admin/v1/tasks/{id}/callbacks/redeliver", tag = "Admin",
    params(("id" = String, Path, description = "The task's id")),
    responses((status = 200, body = AdminRedelivery),
        (status = 400, body = AdminErrorEnvelope), (status = 401, body = AdminErrorEnvelope),
        (status = 403, body = AdminErrorEnvelope), (status = 404, body = AdminErrorEnvelope),
        (status = 409, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn redeliver_callback(
    State(s): State<AdminState>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Answer<AdminRedelivery> {
    let actor = authorize(&s, &headers, true).await?;
    let id = task_path(id)?;
    s.redeliver_callback(&id, &actor).await?;
    Ok((
        StatusCode::OK,
        Json(AdminRedelivery {
            task_id: id,
            state: "pending".into(),
        }),
    ))
}

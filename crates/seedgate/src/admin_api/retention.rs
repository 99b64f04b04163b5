//! Retention in the admin API: `GET /admin/v1/disk` (storage by category, as the janitor's last
//! pass measured it: measuring means listing every file, so it is never done per request) and
//! `POST /admin/v1/retention/run` (a janitor pass now, on this replica; it does nothing but
//! measure while another replica's pass holds the lease). Neither changes an account, so
//! nothing goes to the audit log; a pass deletes only what the `[retention]` settings say has
//! expired, so any valid admin token may read and the `admin` role may run a pass.

use super::wire::AdminErrorEnvelope;
use super::ApiError;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use seedgate_service::admin::{AdminError, AdminService};
use seedgate_workers::janitor::{DiskUsage, Janitor, PassReport};
use serde::Serialize;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What the handlers use.
#[derive(Clone)]
pub struct RetentionState {
    pub admin: Arc<AdminService>,
    pub janitor: Arc<Janitor>,
    /// The server's shutdown: a pass asked for here stops between batches too.
    pub shutdown: CancellationToken,
}

/// Storage by category.
#[derive(Debug, Serialize, ToSchema)]
pub struct Disk {
    /// When the janitor measured it (Unix ms); absent before its first pass.
    pub measured_at_ms: Option<i64>,
    /// One entry per category: `task_media` (tasks' result files), `reference_copies`
    /// (reference media kept for providers), `assets` (clients' uploads), `database`.
    pub categories: Vec<DiskCategory>,
    /// The sum of the categories measured.
    pub total_bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiskCategory {
    pub category: String,
    pub bytes: u64,
    /// Files in it (absent for the database).
    pub files: Option<u64>,
}

/// What a pass did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionPass {
    /// Always false here (a pass another replica holds is answered 409).
    pub skipped: bool,
    /// Shutdown came before the pass was over; the next pass carries on.
    pub interrupted: bool,
    pub idempotency_keys_deleted: u64,
    pub timeline_events_deleted: u64,
    pub spend_days_deleted: u64,
    /// Ended tasks whose ledger entries were added to the usage reports' daily sums (tasks a
    /// replica of an earlier release ended during a rolling upgrade).
    pub usage_tasks_summed: u64,
    /// Tasks whose media were marked expired (they read back without media from now on).
    pub media_expired: u64,
    /// Tasks whose files were deleted (marked at least one link lifetime ago), and the files.
    pub media_purged: u64,
    pub files_deleted: u64,
    pub reference_copies_deleted: u64,
    pub disk: Disk,
}

fn disk(usage: Option<DiskUsage>) -> Disk {
    let Some(u) = usage else {
        return Disk {
            measured_at_ms: None,
            categories: Vec::new(),
            total_bytes: 0,
        };
    };
    let mut categories = vec![
        DiskCategory {
            category: "task_media".into(),
            bytes: u.task_media_bytes,
            files: Some(u.task_media_files),
        },
        DiskCategory {
            category: "reference_copies".into(),
            bytes: u.reference_copies_bytes,
            files: Some(u.reference_copies_files),
        },
        DiskCategory {
            category: "assets".into(),
            bytes: u.assets_bytes,
            files: Some(u.assets_files),
        },
    ];
    if let Some(bytes) = u.database_bytes {
        categories.push(DiskCategory {
            category: "database".into(),
            bytes,
            files: None,
        });
    }
    Disk {
        measured_at_ms: Some(u.measured_at_ms),
        total_bytes: categories
            .iter()
            .map(|c| c.bytes)
            .fold(0, u64::saturating_add),
        categories,
    }
}

/// Storage by category, as the janitor's last pass measured it.
#[utoipa::path(get, path = "/admin/v1/disk", tag = "Admin",
    responses((status = 200, body = Disk),
        (status = 401, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn get_disk(
    State(state): State<RetentionState>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Disk>), ApiError> {
    super::authorize(&state.admin, &headers, false).await?;
    Ok((StatusCode::OK, Json(disk(state.janitor.disk_usage()))))
}

/// Runs a janitor pass now: deletes what the `[retention]` settings say has expired (never a
/// ledger entry, never a file a live link or an unfinished task needs) and measures the disk.
/// 409 while another replica's pass holds the lease.
#[utoipa::path(post, path = "/admin/v1/retention/run", tag = "Admin",
    responses((status = 200, body = RetentionPass),
        (status = 401, body = AdminErrorEnvelope), (status = 403, body = AdminErrorEnvelope),
        (status = 409, body = AdminErrorEnvelope), (status = 503, body = AdminErrorEnvelope)),
    security(("admin_token" = [])))]
async fn run_pass(
    State(state): State<RetentionState>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<RetentionPass>), ApiError> {
    super::authorize(&state.admin, &headers, true).await?;
    let report: PassReport = state.janitor.pass(&state.shutdown).await;
    if report.skipped {
        return Err(ApiError::from(AdminError::Conflict(
            "another replica's retention pass is running; try again when it is over".into(),
        )));
    }
    let usage = report.disk.clone().or_else(|| state.janitor.disk_usage());
    Ok((
        StatusCode::OK,
        Json(RetentionPass {
            skipped: report.skipped,
            interrupted: report.interrupted,
            idempotency_keys_deleted: report.idempotency_keys,
            timeline_events_deleted: report.timeline_events,
            spend_days_deleted: report.spend_days,
            usage_tasks_summed: report.usage_tasks_summed,
            media_expired: report.media_expired,
            media_purged: report.media_purged,
            files_deleted: report.files_deleted,
            reference_copies_deleted: report.reference_copies_deleted,
            disk: disk(usage),
        }),
    ))
}

/// The retention routes (their state given) and their OpenAPI description.
pub fn routes(state: RetentionState) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::new()
        .routes(routes!(get_disk))
        .routes(routes!(run_pass))
        .split_for_parts();
    (router.with_state(state), api)
}

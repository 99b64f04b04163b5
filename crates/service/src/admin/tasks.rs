//! What operators do to tasks, whoever owns them: search, read, cancel, refund by hand,
//! redeliver the callback. The admin API and the command line both call these; each write is
//! recorded in the audit log by the store, in the transaction that makes it.

use super::{AdminError, AdminResult, AdminService};
use seedgate_core::task::TaskStatus;
use seedgate_core::TaskId;
use seedgate_store::task_admin::{ManualRefund, OperatorTask, TaskSearch, TaskSearchPage};
use seedgate_store::{Actor, StoreError};

/// Tasks per page of a search when the caller does not say.
pub const DEFAULT_SEARCH_LIMIT: u32 = 50;
/// The most tasks one page of a search holds.
pub const MAX_SEARCH_LIMIT: u32 = 500;
/// The longest note a manual refund keeps.
pub const MAX_NOTE_BYTES: usize = 1000;
/// `queued_for_min` beyond a year says nothing more.
const MAX_QUEUED_MINUTES: u32 = 366 * 24 * 60;

/// A search as callers give it: accounts and keys by id or name, statuses by name.
#[derive(Debug, Clone, Default)]
pub struct TaskSearchRequest {
    /// One status or several, comma-separated (`failed,cancelled`).
    pub status: Option<String>,
    /// An account's id or name.
    pub account: Option<String>,
    /// A key's id or name, or the key itself.
    pub key: Option<String>,
    /// The canonical model id, or the name a client sent.
    pub model: Option<String>,
    /// The upstream (provider) account's name.
    pub upstream_account: Option<String>,
    /// The upstream's own id of the job.
    pub upstream_task_id: Option<String>,
    /// Created at or after (Unix ms).
    pub created_from_ms: Option<i64>,
    /// Created before (Unix ms).
    pub created_before_ms: Option<i64>,
    /// Still queued, created more than this many minutes ago.
    pub queued_for_min: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// A filter given must say something.
fn given(value: Option<String>, what: &str) -> AdminResult<Option<String>> {
    match value {
        Some(v) if v.trim().is_empty() => {
            Err(AdminError::Invalid(format!("{what}: must not be empty")))
        }
        Some(v) if v.len() > 200 => Err(AdminError::Invalid(format!("{what}: at most 200 bytes"))),
        other => Ok(other.map(|v| v.trim().to_string())),
    }
}

fn statuses(list: Option<String>) -> AdminResult<Vec<TaskStatus>> {
    let Some(list) = given(list, "status")? else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(|s| {
            TaskStatus::parse(s.trim()).ok_or_else(|| {
                AdminError::Invalid(format!(
                    "status: `{}` is not one of queued, running, succeeded, failed, cancelled",
                    s.trim()
                ))
            })
        })
        .collect()
}

/// A task id as seedgate makes them (`task_` and a ULID), or an invalid request.
fn task_id(id: &str, what: &str) -> AdminResult<TaskId> {
    let ulid = id.strip_prefix("task_").unwrap_or_default();
    if ulid.len() != 26 || !ulid.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(AdminError::Invalid(format!(
            "{what}: `{id}` is not a task id (task_ and 26 letters or digits)"
        )));
    }
    Ok(TaskId::from_string(id.to_string()))
}

fn task_not_found(id: &TaskId) -> impl Fn(StoreError) -> AdminError + '_ {
    move |e| match e {
        StoreError::NotFound => AdminError::NotFound(format!("task `{id}`")),
        other => other.into(),
    }
}

impl AdminService {
    /// Tasks across accounts, newest first, a page at a time.
    pub async fn search_tasks(&self, request: TaskSearchRequest) -> AdminResult<TaskSearchPage> {
        let limit = request.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
        if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
            return Err(AdminError::Invalid(format!(
                "limit: between 1 and {MAX_SEARCH_LIMIT}"
            )));
        }
        if let (Some(from), Some(before)) = (request.created_from_ms, request.created_before_ms) {
            if from >= before {
                return Err(AdminError::Invalid(
                    "created_from_ms: must be before created_before_ms".into(),
                ));
            }
        }
        let queued_since_ms = match request.queued_for_min {
            Some(minutes) if minutes > MAX_QUEUED_MINUTES => {
                return Err(AdminError::Invalid(format!(
                    "queued_for_min: at most {MAX_QUEUED_MINUTES}"
                )))
            }
            Some(minutes) => Some(
                self.clock
                    .now_ms()
                    .saturating_sub(i64::from(minutes) * 60_000),
            ),
            None => None,
        };
        let account = match given(request.account, "account")? {
            Some(a) => Some(self.account(&a).await?.id),
            None => None,
        };
        let api_key = match given(request.key, "key")? {
            Some(k) => Some(self.key(&k).await?.id),
            None => None,
        };
        let search = TaskSearch {
            statuses: statuses(request.status)?,
            account,
            api_key,
            model: given(request.model, "model")?,
            upstream_account: given(request.upstream_account, "upstream_account")?,
            upstream_task_id: given(request.upstream_task_id, "upstream_task_id")?,
            created_from_ms: request.created_from_ms,
            created_before_ms: request.created_before_ms,
            queued_since_ms,
            before: request
                .cursor
                .as_deref()
                .map(|c| task_id(c, "cursor"))
                .transpose()?,
            limit,
        };
        Ok(self.store.search_tasks(&search).await?)
    }

    /// Any task, whoever owns it, deleted or not.
    pub async fn task(&self, id: &str) -> AdminResult<OperatorTask> {
        let id = task_id(id, "task")?;
        self.store
            .operator_task(&id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("task `{id}`")))
    }

    /// Cancels a queued or running task and releases its hold. A running task's worker
    /// cancels the upstream job when it notices (at its next heartbeat). A task whose submit
    /// is in doubt is refused until it is reconciled; a finished one is refused.
    pub async fn cancel_task(&self, id: &str, actor: &Actor) -> AdminResult<OperatorTask> {
        let id = task_id(id, "task")?;
        self.store
            .operator_cancel_task(&id, actor)
            .await
            .map_err(task_not_found(&id))
    }

    /// Gives back `credits` (everything charged when `None`) of a succeeded task, with a
    /// note: one ledger entry, at most once per task.
    pub async fn refund_task(
        &self,
        id: &str,
        credits: Option<i64>,
        note: &str,
        actor: &Actor,
    ) -> AdminResult<ManualRefund> {
        let note = note.trim();
        if note.is_empty() {
            return Err(AdminError::Invalid(
                "note: say why the task is refunded".into(),
            ));
        }
        if note.len() > MAX_NOTE_BYTES {
            return Err(AdminError::Invalid(format!(
                "note: at most {MAX_NOTE_BYTES} bytes"
            )));
        }
        let task = self.task(id).await?;
        if let Some(credits) = credits {
            // The store checks again under its lock; this is the clear answer for a caller.
            if credits <= 0 {
                return Err(AdminError::Invalid("credits: must be positive".into()));
            }
            if task.task.status == TaskStatus::Succeeded && credits > task.cost.charged {
                return Err(AdminError::Invalid(format!(
                    "credits: at most the {} charged for this task",
                    task.cost.charged
                )));
            }
        }
        self.store
            .refund_task(&task.task.id, credits, note, actor)
            .await
            .map_err(task_not_found(&task.task.id))
    }

    /// Makes the task's final callback due now (a delivery that failed or was lost).
    pub async fn redeliver_callback(&self, id: &str, actor: &Actor) -> AdminResult<()> {
        let task = self.task(id).await?;
        self.store
            .operator_redeliver_callback(&task.task.id, actor)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AdminError::NotFound(format!(
                    "a final callback of task `{}` (it has no callback URL, or has not \
                     finished)",
                    task.task.id
                )),
                other => other.into(),
            })
    }
}

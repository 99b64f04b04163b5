//! Task timelines: appending a task's events, and reading its timeline merged with its ledger
//! entries, callback attempts and the admin audit entries naming it.

use super::*;
use crate::rows::{AuditRow, TaskCallbackAttemptRow, TaskEventRow, TaskLedgerRow};
use crate::timeline::TaskTimelines;
use seedgate_core::timeline::{self, Source, TaskEvent, TimelineEntry};

const INSERT_EVENT: &str = "INSERT INTO task_events (task_id, at_ms, kind, detail_json, \
     upstream_account) VALUES ($1, $2, $3, $4, $5)";

/// Appends `event` to the task's timeline inside `tx`: one more statement in a transaction
/// that is open anyway.
pub(super) async fn append(
    tx: &mut Tx,
    task_id: &str,
    at_ms: i64,
    event: &TaskEvent,
) -> StoreResult<()> {
    sqlx::query(INSERT_EVENT)
        .bind(task_id)
        .bind(at_ms)
        .bind(event.kind())
        .bind(event.to_json())
        .bind(event.upstream_account())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The `accepted` event of a task: its quote, the probed media, where it came from.
fn accepted(task: &Task) -> TaskEvent {
    TaskEvent::Accepted {
        dialect: task.origin_dialect.clone(),
        api_key_id: task.api_key_id.to_string(),
        model: task.request.model.clone(),
        requested_model: task.requested_model.clone(),
        billable_seconds: task.price.billable_seconds,
        credits: task.price.credits,
        micro_usd_per_second: task.price.micro_usd_per_second,
        media: task
            .request
            .media_copies
            .values()
            .filter_map(|copy| copy.probed.clone())
            .collect(),
    }
}

/// The event that ends a task in `status`.
fn ended(status: TaskStatus, error: Option<&TaskError>) -> TaskEvent {
    match (status, error) {
        (TaskStatus::Succeeded, _) => TaskEvent::Succeeded {},
        (TaskStatus::Cancelled, _) => TaskEvent::Cancelled {},
        (_, error) => TaskEvent::Failed {
            error: error.cloned().unwrap_or(TaskError {
                kind: FailureKind::Internal,
                message: String::new(),
            }),
        },
    }
}

/// The task's last event: its sequence number, kind and detail.
async fn last_event(tx: &mut Tx, task_id: &str) -> StoreResult<Option<(i64, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT seq, kind, detail_json FROM task_events WHERE task_id = $1 \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(task_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// A claimed task went back to the queue because no account could take it. Waiting is not
/// news on every round: the claim that led nowhere is taken back out, and the task's last
/// `waiting_for_account` event, if it is the last event, counts one more round instead of a
/// new event being added. So a task that waits an hour shows one event, not a thousand.
pub(super) async fn note_waiting(
    tx: &mut Tx,
    task_id: &str,
    retry_at_ms: i64,
    now: i64,
) -> StoreResult<()> {
    if let Some((seq, kind, _)) = last_event(tx, task_id).await? {
        if kind == "claimed" {
            sqlx::query("DELETE FROM task_events WHERE seq = $1")
                .bind(seq)
                .execute(&mut **tx)
                .await?;
        }
    }
    if let Some((seq, kind, detail)) = last_event(tx, task_id).await? {
        if let TaskEvent::WaitingForAccount { times, .. } = TaskEvent::from_stored(&kind, &detail) {
            let event = TaskEvent::WaitingForAccount {
                times: times.saturating_add(1),
                retry_at_ms,
            };
            // Its time stays when the waiting began.
            sqlx::query("UPDATE task_events SET detail_json = $1 WHERE seq = $2")
                .bind(event.to_json())
                .bind(seq)
                .execute(&mut **tx)
                .await?;
            return Ok(());
        }
    }
    append(
        tx,
        task_id,
        now,
        &TaskEvent::WaitingForAccount {
            times: 1,
            retry_at_ms,
        },
    )
    .await
}

/// A task of the member's account, not deleted.
static OWNED: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TASK_COLUMNS} FROM tasks \
         WHERE id = $1 AND account_id = $2 AND deleted_at_ms IS NULL"
    )
});
/// Any task (operators).
static ANY: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"));

/// The first and last lines of a task's timeline, read from its own row: it was accepted
/// (with its quote) when the row was inserted, and ended (with its error) when its status
/// became terminal, each in the transaction of the change, so they are never missing or
/// stray. Not copied into `task_events`: the two hottest writes (submit, end) stay one
/// statement shorter.
fn from_task_row(task: &Task) -> Vec<TimelineEntry> {
    let mut entries = vec![TimelineEntry {
        at_ms: task.created_at_ms,
        source: Source::Task,
        // Before any event of the same millisecond.
        seq: 0,
        event: accepted(task),
    }];
    if task.status.is_terminal() {
        entries.push(TimelineEntry {
            at_ms: task.finished_at_ms.unwrap_or(task.updated_at_ms),
            source: Source::Task,
            // After every event of the same millisecond (a copy that failed it, say).
            seq: i64::MAX,
            event: ended(task.status, task.error.as_ref()),
        });
    }
    entries
}

#[async_trait::async_trait]
impl TaskTimelines for This {
    async fn record_task_event(&self, task: &TaskId, event: &TaskEvent) -> StoreResult<()> {
        self.write_one(
            sqlx::query(INSERT_EVENT)
                .bind(task.as_str())
                .bind(now_ms())
                .bind(event.kind())
                .bind(event.to_json())
                .bind(event.upstream_account()),
        )
        .await?;
        Ok(())
    }

    async fn task_timeline(
        &self,
        task: &TaskId,
        account: Option<&AccountId>,
    ) -> StoreResult<Option<Vec<TimelineEntry>>> {
        let id = task.as_str();
        // One snapshot: the events, the money and the deliveries agree with each other.
        let mut tx = self.read_tx().await?;
        let found: Option<TaskRow> = match account {
            Some(account) => {
                sqlx::query_as(&OWNED)
                    .bind(id)
                    .bind(account.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => {
                sqlx::query_as(&ANY)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
            }
        };
        let Some(row) = found else {
            tx.commit().await?;
            return Ok(None);
        };
        let mut entries = from_task_row(&task_from(row)?);
        let events: Vec<TaskEventRow> = sqlx::query_as(
            "SELECT seq, at_ms, kind, detail_json FROM task_events WHERE task_id = $1 \
             ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        entries.extend(events.into_iter().map(TimelineEntry::from));
        // By kind, so each part is found through the ledger's per-task unique indexes (which
        // are partial: a plain `task_id = $1` would read the whole ledger). Grants name no
        // task; these are every kind that does.
        let ledger: Vec<TaskLedgerRow> = sqlx::query_as(
            "SELECT seq, kind, amount, note, created_at_ms FROM ledger_entries \
             WHERE task_id = $1 AND kind = 'hold' \
             UNION ALL SELECT seq, kind, amount, note, created_at_ms FROM ledger_entries \
             WHERE task_id = $1 AND kind IN ('settle', 'release') \
             UNION ALL SELECT seq, kind, amount, note, created_at_ms FROM ledger_entries \
             WHERE task_id = $1 AND kind = 'refund'",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        entries.extend(ledger.into_iter().map(TimelineEntry::from));
        let attempts: Vec<TaskCallbackAttemptRow> = sqlx::query_as(
            "SELECT c.id AS callback_id, c.event, a.attempt, a.started_at_ms, a.status, \
             a.latency_ms, a.error FROM callbacks c \
             JOIN callback_attempts a ON a.callback_id = c.id WHERE c.task_id = $1",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        entries.extend(attempts.into_iter().map(TimelineEntry::from));
        let audit: Vec<AuditRow> = sqlx::query_as(
            "SELECT seq, at_ms, actor, action, target, before_json, after_json FROM admin_audit \
             WHERE target = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        entries.extend(audit.into_iter().map(|row| {
            let entry = AuditEntry::from(row);
            TimelineEntry {
                at_ms: entry.at_ms,
                source: Source::Audit,
                seq: entry.seq,
                event: TaskEvent::OperatorAction {
                    audit_seq: entry.seq,
                    actor: entry.actor,
                    action: entry.action,
                    before: entry.before,
                    after: entry.after,
                },
            }
        }));
        tx.commit().await?;
        timeline::order(&mut entries);
        Ok(Some(entries))
    }
}

//! Operators' task search and actions, across accounts. Each write runs in one transaction
//! with its ledger entry and its audit entry.

use super::accounts::{audit, NONE};
use super::callbacks::redeliver_final_callback;
use super::*;
use crate::task_admin::{
    ManualRefund, OperatorTask, RefundRecord, TaskAdminStore, TaskCost, TaskSearch, TaskSearchPage,
};

/// A task with what an operator sees besides: each column of [`TASK_COLUMNS`] qualified (the
/// ledger joined in has columns of the same names), its resolution and its manual refund. The
/// joins match the partial unique indexes on `ledger_entries(task_id)`.
static OPERATOR_SELECT: LazyLock<String> = LazyLock::new(|| {
    let columns = TASK_COLUMNS
        .split(',')
        .map(|c| format!("tasks.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns}, tasks.deleted_at_ms, tasks.lease_owner, \
         s.kind AS resolution_kind, s.amount AS resolution_amount, \
         r.amount AS refund_amount, r.note AS refund_note, r.created_at_ms AS refund_at_ms \
         FROM tasks \
         LEFT JOIN ledger_entries s ON s.task_id = tasks.id AND s.kind IN ('settle', 'release') \
         LEFT JOIN ledger_entries r ON r.task_id = tasks.id AND r.kind = 'refund'"
    )
});

#[derive(sqlx::FromRow)]
struct OperatorRow {
    #[sqlx(flatten)]
    task: TaskRow,
    deleted_at_ms: Option<i64>,
    lease_owner: Option<String>,
    resolution_kind: Option<String>,
    resolution_amount: Option<i64>,
    refund_amount: Option<i64>,
    refund_note: Option<String>,
    refund_at_ms: Option<i64>,
}

impl TryFrom<OperatorRow> for OperatorTask {
    type Error = StoreError;

    fn try_from(row: OperatorRow) -> StoreResult<OperatorTask> {
        let provider_job_id = row.task.provider_job_id.clone();
        let submit_in_doubt = row.task.submit_key.is_some();
        let task = task_from(row.task)?;
        let price = to_i64(task.price.credits, "price")?;
        let refund = row.refund_amount.unwrap_or(0);
        let back = row.resolution_amount.unwrap_or(0);
        let cost = match row.resolution_kind.as_deref() {
            None => TaskCost {
                price,
                held: price,
                ..TaskCost::default()
            },
            Some("release") => TaskCost {
                price,
                refunded: back,
                ..TaskCost::default()
            },
            Some(_settle) => TaskCost {
                price,
                held: 0,
                // A settle returns its unused part (`back`); a manual refund gives more back.
                charged: price - back - refund,
                refunded: back + refund,
            },
        };
        let manual_refund = row.refund_amount.map(|credits| RefundRecord {
            credits,
            note: row.refund_note.unwrap_or_default(),
            at_ms: row.refund_at_ms.unwrap_or(0),
        });
        Ok(OperatorTask {
            task,
            provider_job_id,
            submit_in_doubt,
            lease_owner: row.lease_owner,
            deleted_at_ms: row.deleted_at_ms,
            cost,
            manual_refund,
        })
    }
}

/// A task for an operator, read inside `tx`.
async fn operator_task_in(tx: &mut Tx, id: &str) -> StoreResult<Option<OperatorTask>> {
    static SQL: LazyLock<String> =
        LazyLock::new(|| format!("{} WHERE tasks.id = $1", *OPERATOR_SELECT));
    let row: Option<OperatorRow> = sqlx::query_as(&SQL)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(OperatorTask::try_from).transpose()
}

/// The audit entry's record of a task: what an operator changed about it.
fn audited(t: &OperatorTask) -> serde_json::Value {
    serde_json::json!({
        "status": t.task.status.as_str(),
        "account_id": t.task.account_id.as_str(),
        "cost": t.cost,
    })
}

#[async_trait::async_trait]
impl TaskAdminStore for This {
    async fn search_tasks(&self, search: &TaskSearch) -> StoreResult<TaskSearchPage> {
        let limit = search.limit.clamp(1, 1000);
        let mut q = sqlx::QueryBuilder::<Db>::new(format!("{} WHERE 1 = 1", *OPERATOR_SELECT));
        if !search.statuses.is_empty() {
            q.push(" AND tasks.status IN (");
            let mut list = q.separated(", ");
            for status in &search.statuses {
                list.push_bind(status.as_str());
            }
            q.push(")");
        }
        if let Some(account) = &search.account {
            q.push(" AND tasks.account_id = ")
                .push_bind(account.as_str().to_string());
        }
        if let Some(key) = &search.api_key {
            q.push(" AND tasks.api_key_id = ")
                .push_bind(key.as_str().to_string());
        }
        if let Some(model) = &search.model {
            q.push(" AND (tasks.model = ")
                .push_bind(model.clone())
                .push(" OR tasks.requested_model = ")
                .push_bind(model.clone())
                .push(")");
        }
        if let Some(upstream) = &search.upstream_account {
            q.push(" AND tasks.provider = ").push_bind(upstream.clone());
        }
        if let Some(job) = &search.upstream_task_id {
            q.push(" AND tasks.provider_job_id = ")
                .push_bind(job.clone());
        }
        if let Some(from) = search.created_from_ms {
            q.push(" AND tasks.created_at_ms >= ").push_bind(from);
        }
        if let Some(before) = search.created_before_ms {
            q.push(" AND tasks.created_at_ms < ").push_bind(before);
        }
        if let Some(since) = search.queued_since_ms {
            q.push(" AND tasks.status = 'queued' AND tasks.created_at_ms <= ")
                .push_bind(since);
        }
        // Task ids are ULIDs: id order is creation order (PostgreSQL compares them bytewise,
        // the column is COLLATE "C"), so the last id of a page is the next page's bound.
        if let Some(before) = &search.before {
            q.push(" AND tasks.id < ")
                .push_bind(before.as_str().to_string());
        }
        q.push(" ORDER BY tasks.id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows: Vec<OperatorRow> = q.build_query_as().fetch_all(self.pool()).await?;
        let has_more = rows.len() > limit as usize;
        let tasks = rows
            .into_iter()
            .take(limit as usize)
            .map(OperatorTask::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let next_before = if has_more {
            tasks.last().map(|t| t.task.id.clone())
        } else {
            None
        };
        Ok(TaskSearchPage { tasks, next_before })
    }

    async fn operator_task(&self, id: &TaskId) -> StoreResult<Option<OperatorTask>> {
        let mut tx = self.read_tx().await?;
        let task = operator_task_in(&mut tx, id.as_str()).await?;
        tx.commit().await?;
        Ok(task)
    }

    async fn operator_cancel_task(&self, id: &TaskId, actor: &Actor) -> StoreResult<OperatorTask> {
        static CURRENT: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT status, submit_key, lease_token, provider FROM tasks WHERE id = $1{ROW_LOCK}")
        });
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        // Locked: a worker's write-ahead submit record waits for this transaction, then finds
        // the task no longer running.
        let current: Option<(String, Option<String>, Option<String>, Option<String>)> =
            sqlx::query_as(&CURRENT)
                .bind(id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let Some((status, submit_key, lease_token, provider)) = current else {
            return Err(StoreError::NotFound);
        };
        let before = operator_task_in(&mut tx, id.as_str())
            .await?
            .ok_or(StoreError::NotFound)?;
        let status = TaskStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("task {id}: status {status}")))?;
        if status.is_terminal() {
            return Err(StoreError::Conflict(format!(
                "task is {}; only a queued or running task can be cancelled",
                status.as_str()
            )));
        }
        // Sent upstream with the answer lost: a job may be running (and billed) there, and
        // only the worker's reconciliation can find it. Cancelling now would release the hold
        // while that job lives on, so it waits until the job is known.
        if submit_key.is_some() {
            return Err(StoreError::Conflict(format!(
                "task was sent to upstream account {} and its answer is not known yet; it \
                 cannot be cancelled until the worker has reconciled it (retry in a minute)",
                provider.as_deref().unwrap_or("(unknown)")
            )));
        }
        // A running task is fenced by the lease its worker holds, read under the row lock.
        let fence = match status {
            TaskStatus::Running => Some(lease_token.ok_or_else(|| {
                StoreError::Corrupt(format!("task {id}: running without a lease"))
            })?),
            _ => None,
        };
        let Some(ended) = end_task(
            &mut tx,
            id.as_str(),
            fence.as_deref(),
            TaskStatus::Cancelled,
            None,
            None,
            now,
        )
        .await?
        else {
            return Err(StoreError::Conflict(
                "the task changed while it was being cancelled; read it again".into(),
            ));
        };
        let after = operator_task_in(&mut tx, id.as_str())
            .await?
            .ok_or(StoreError::NotFound)?;
        audit(
            &mut tx,
            actor,
            "task.cancel",
            id.as_str(),
            Some(&audited(&before)),
            Some(&audited(&after)),
        )
        .await?;
        tx.commit().await?;
        // Committed: the released hold is counted in the metrics.
        self.task_ended(id.as_str(), ended);
        Ok(after)
    }

    async fn refund_task(
        &self,
        id: &TaskId,
        credits: Option<i64>,
        note: &str,
        actor: &Actor,
    ) -> StoreResult<ManualRefund> {
        static STATUS: LazyLock<String> = LazyLock::new(|| {
            format!("SELECT status, account_id FROM tasks WHERE id = $1{ROW_LOCK}")
        });
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        // The task's row is locked first, so racing refunds of one task (on any replica) queue
        // here and the second finds the first's entry; the unique index backs this up.
        let task: Option<(String, Option<String>)> = sqlx::query_as(&STATUS)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some((status, account)) = task else {
            return Err(StoreError::NotFound);
        };
        if status != TaskStatus::Succeeded.as_str() {
            return Err(StoreError::Conflict(format!(
                "task is {status}; only a succeeded (settled) task is refunded by hand (a \
                 failed or cancelled task's hold was released in full already)"
            )));
        }
        let account =
            account.ok_or_else(|| StoreError::Corrupt(format!("task {id}: no account")))?;
        let before = operator_task_in(&mut tx, id.as_str())
            .await?
            .ok_or(StoreError::NotFound)?;
        if let Some(refund) = &before.manual_refund {
            return Err(StoreError::Conflict(format!(
                "task was refunded by hand already ({} credits: {})",
                refund.credits, refund.note
            )));
        }
        let charged = before.cost.charged;
        let credits = credits.unwrap_or(charged);
        if charged <= 0 {
            return Err(StoreError::Conflict(
                "nothing was charged for this task".into(),
            ));
        }
        if credits <= 0 || credits > charged {
            return Err(StoreError::Conflict(format!(
                "credits: between 1 and the {charged} charged"
            )));
        }
        let (key, held_at): (Option<String>, i64) = sqlx::query_as(
            "SELECT api_key_id, created_at_ms FROM ledger_entries \
             WHERE task_id = $1 AND kind = 'hold'",
        )
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("task {id} has no hold")))?;
        // The balance row is locked before the entry is appended, so that the account's
        // entries are numbered in the order its balance moved.
        let balance: i64 = sqlx::query_scalar(
            "UPDATE accounts SET balance = balance + $1 WHERE id = $2 RETURNING balance",
        )
        .bind(credits)
        .bind(&account)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ledger_entries (account_id, api_key_id, task_id, kind, amount, note, \
             created_at_ms) VALUES ($1, $2, $3, 'refund', $4, $5, $6)",
        )
        .bind(&account)
        .bind(&key)
        .bind(id.as_str())
        .bind(credits)
        .bind(note)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("task {id} was refunded by hand already"))
            }
            _ => StoreError::Database(e),
        })?;
        super::usage::roll_up(&mut tx, id.as_str()).await?;
        // Not spent after all: the budgets of the day the task was created get it back, as
        // they do a release.
        add_spend(
            &mut tx,
            &account,
            key.as_deref().unwrap_or_default(),
            seedgate_core::accounts::utc_day(held_at),
            -credits,
        )
        .await?;
        let after = operator_task_in(&mut tx, id.as_str())
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut record = audited(&after);
        record["refund"] = serde_json::json!({ "credits": credits, "note": note });
        record["balance"] = serde_json::json!(balance);
        audit(
            &mut tx,
            actor,
            "task.refund",
            id.as_str(),
            Some(&audited(&before)),
            Some(&record),
        )
        .await?;
        tx.commit().await?;
        crate::observability::refunded(u64::try_from(credits).unwrap_or(0));
        Ok(ManualRefund {
            task_id: id.clone(),
            account_id: AccountId::from_string(account),
            credits,
            note: note.to_string(),
            balance,
        })
    }

    async fn operator_redeliver_callback(&self, id: &TaskId, actor: &Actor) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        redeliver_final_callback(&mut *tx, id.as_str(), None).await?;
        audit(
            &mut tx,
            actor,
            "task.callback_redeliver",
            id.as_str(),
            NONE,
            Some(&serde_json::json!({ "callback": "final", "state": "pending" })),
        )
        .await?;
        tx.commit().await?;
        self.feed.publish([Change::CallbacksDue]);
        Ok(())
    }
}

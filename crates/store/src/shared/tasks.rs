//! Tasks as their owners see them.

use super::*;

static TASK_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"));
static OWN_TASK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {TASK_COLUMNS} FROM tasks \
         WHERE id = $1 AND account_id = $2 AND deleted_at_ms IS NULL"
    )
});

#[async_trait::async_trait]
impl TaskStore for This {
    async fn create_task(
        &self,
        task: &Task,
        idempotency: Option<IdempotencyCompletion>,
    ) -> StoreResult<Admission> {
        // The balance guard and hold, the task row and the Idempotency-Key completion commit
        // together or not at all; on error the transaction is dropped and nothing remains.
        let mut tx = self.write_tx().await?;
        let admission = insert_task(&mut tx, task, idempotency).await?;
        tx.commit().await?;
        // Committed (on SQLite, with its group): the hold is placed.
        crate::observability::hold_placed(task.price.credits);
        self.feed.task(&task.id);
        self.feed.publish([Change::TasksDue]);
        if task.request.callback_url.is_some() {
            self.feed.publish([Change::CallbacksDue]);
        }
        Ok(admission)
    }

    async fn get_task(&self, id: &TaskId, account: &AccountId) -> StoreResult<Option<Task>> {
        let row: Option<TaskRow> = sqlx::query_as(&OWN_TASK)
            .bind(id.as_str())
            .bind(account.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.map(task_from).transpose()
    }

    async fn list_tasks(&self, account: &AccountId, query: &TaskQuery) -> StoreResult<TaskPage> {
        let limit = query.limit.clamp(1, 1000);
        // Task ids are ULIDs, so id order is creation order (PostgreSQL compares them
        // bytewise: the column is COLLATE "C").
        let filters = |q: &mut sqlx::QueryBuilder<'_, Db>| {
            q.push(" FROM tasks WHERE deleted_at_ms IS NULL AND account_id = ")
                .push_bind(account.as_str().to_string());
            if !query.statuses.is_empty() {
                q.push(" AND status IN (");
                let mut list = q.separated(", ");
                for status in &query.statuses {
                    list.push_bind(status.as_str());
                }
                q.push(")");
            }
            if !query.ids.is_empty() {
                q.push(" AND id IN (");
                let mut list = q.separated(", ");
                for id in &query.ids {
                    list.push_bind(id.as_str().to_string());
                }
                q.push(")");
            }
            if let Some(model) = &query.model {
                q.push(" AND model = ").push_bind(model.clone());
            }
        };
        // The count and the page read one snapshot, so that `total` agrees with the page.
        let mut tx = self.read_tx().await?;
        let mut count = sqlx::QueryBuilder::new("SELECT COUNT(*)");
        filters(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;

        let mut select = sqlx::QueryBuilder::new(format!("SELECT {TASK_COLUMNS}"));
        filters(&mut select);
        if let Some(after) = &query.after {
            select
                .push(if query.oldest_first {
                    " AND id > "
                } else {
                    " AND id < "
                })
                .push_bind(after.as_str().to_string());
        }
        select
            .push(if query.oldest_first {
                " ORDER BY id ASC"
            } else {
                " ORDER BY id DESC"
            })
            .push(" LIMIT ")
            .push_bind(i64::from(limit) + 1)
            .push(" OFFSET ")
            .push_bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
        let rows: Vec<TaskRow> = select.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let has_more = rows.len() > limit as usize;
        let tasks = rows
            .into_iter()
            .take(limit as usize)
            .map(task_from)
            .collect::<StoreResult<_>>()?;
        Ok(TaskPage {
            tasks,
            has_more,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn delete_task(&self, id: &TaskId, account: &AccountId) -> StoreResult<()> {
        static STATUS: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT status FROM tasks \
                 WHERE id = $1 AND account_id = $2 AND deleted_at_ms IS NULL{ROW_LOCK}"
            )
        });
        let mut tx = self.write_tx().await?;
        // Locked, so that of two racing deletes the second finds the task gone.
        let status: Option<String> = sqlx::query_scalar(&STATUS)
            .bind(id.as_str())
            .bind(account.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(status) = status else {
            return Err(StoreError::NotFound);
        };
        if !TaskStatus::parse(&status).is_some_and(TaskStatus::is_terminal) {
            return Err(StoreError::Conflict(format!(
                "task is {status}; only finished tasks can be deleted"
            )));
        }
        sqlx::query("UPDATE tasks SET deleted_at_ms = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.feed.task(id);
        Ok(())
    }

    async fn cancel_task(&self, id: &TaskId, account: &AccountId) -> StoreResult<Task> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let owned: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, submit_key FROM tasks \
             WHERE id = $1 AND account_id = $2 AND deleted_at_ms IS NULL",
        )
        .bind(id.as_str())
        .bind(account.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((status, submit_key)) = owned else {
            return Err(StoreError::NotFound);
        };
        // A create was sent upstream and its answer lost: the upstream job may be alive, and
        // only reconciliation can tell. The task is in flight, not cancellable, and its hold
        // stays until the upstream job is known.
        if submit_key.is_some() {
            return Err(StoreError::Conflict(
                "task was sent to an upstream whose answer is not known yet; it cannot be cancelled"
                    .into(),
            ));
        }
        // The guarded update decides: a claim or cancel that got there first leaves it nothing.
        let Some(ended) = end_task(
            &mut tx,
            id.as_str(),
            None,
            TaskStatus::Cancelled,
            None,
            None,
            now,
        )
        .await?
        else {
            let current: Option<String> =
                sqlx::query_scalar("SELECT status FROM tasks WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            let status = current.unwrap_or(status);
            return Err(StoreError::Conflict(format!(
                "task is {status}, only queued tasks can be cancelled"
            )));
        };
        let row: TaskRow = sqlx::query_as(&TASK_BY_ID)
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let task = task_from(row)?;
        tx.commit().await?;
        self.task_ended(id.as_str(), ended);
        Ok(task)
    }

    async fn load_task(&self, id: &TaskId) -> StoreResult<Option<Task>> {
        let row: Option<TaskRow> = sqlx::query_as(&TASK_BY_ID)
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.map(task_from).transpose()
    }

    async fn load_tasks(&self, ids: &[TaskId]) -> StoreResult<Vec<Task>> {
        // Well under SQLite's and PostgreSQL's limits on bound parameters per statement.
        const CHUNK: usize = 500;
        let mut tasks = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let placeholders = (1..=chunk.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id IN ({placeholders})");
            let mut query = sqlx::query_as::<_, TaskRow>(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(self.pool()).await? {
                tasks.push(task_from(row)?);
            }
        }
        Ok(tasks)
    }
}

//! Retention's batches (see `crate::retention`): each statement is one bounded batch and its
//! own transaction. The partial indexes of migration 0013 keep every batch an index range scan.

use super::*;
use crate::retention::{ExpiredMedia, RetentionStore};
use std::collections::HashSet;

/// The one lease every replica's janitor competes for.
const JANITOR_LEASE: &str = "retention";

/// The `spend_daily` day an owner's pruned days are carried into: before every real day, so
/// only the total budget (the sum of all of an owner's rows) counts it.
const CARRIED_DAY: i64 = i64::MIN;

fn limit(n: u32) -> i64 {
    i64::from(n.max(1))
}

/// The result files an `output_json` names (read raw: a task read through [`TaskRow`] has
/// its keys cleared once its media expired).
fn output_keys(task: &str, output_json: Option<&str>) -> StoreResult<Vec<String>> {
    let Some(json) = output_json else {
        return Ok(Vec::new());
    };
    let output: TaskOutput = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("task {task}: output: {e}")))?;
    Ok(output
        .video_keys
        .into_iter()
        .chain(output.last_frame_key)
        .collect())
}

/// The copies a request points at: only their keys are read.
#[derive(serde::Deserialize)]
struct CopiesOnly {
    #[serde(default)]
    media_copies: std::collections::BTreeMap<String, CopyKey>,
}

#[derive(serde::Deserialize)]
struct CopyKey {
    key: String,
}

#[async_trait::async_trait]
impl RetentionStore for This {
    async fn claim_janitor(&self, holder: &str, now_ms: i64, until_ms: i64) -> StoreResult<bool> {
        let r = self
            .write_one(
                sqlx::query(
                    "INSERT INTO janitor_leases (name, holder, expires_at_ms) VALUES ($1, $2, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at_ms = excluded.expires_at_ms \
             WHERE janitor_leases.holder = excluded.holder \
             OR janitor_leases.expires_at_ms <= $3",
                )
                .bind(JANITOR_LEASE)
                .bind(holder)
                .bind(now_ms)
                .bind(until_ms),
            )
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_janitor(&self, holder: &str) -> StoreResult<()> {
        self.write_one(
            sqlx::query("DELETE FROM janitor_leases WHERE name = $1 AND holder = $2")
                .bind(JANITOR_LEASE)
                .bind(holder),
        )
        .await?;
        Ok(())
    }

    async fn expire_task_media(
        &self,
        finished_before_ms: i64,
        now_ms: i64,
        limit_rows: u32,
    ) -> StoreResult<Vec<TaskId>> {
        // Only succeeded tasks have media; a task not finished is never touched.
        static EXPIRE: LazyLock<String> = LazyLock::new(|| {
            format!(
                "UPDATE tasks SET media_expired_at_ms = $1 WHERE id IN (\
                 SELECT id FROM tasks WHERE status = 'succeeded' \
                 AND media_expired_at_ms IS NULL AND finished_at_ms < $2 \
                 ORDER BY finished_at_ms LIMIT $3{SKIP_LOCKED}) \
                 AND status = 'succeeded' AND media_expired_at_ms IS NULL RETURNING id"
            )
        });
        let mut tx = self.write_tx().await?;
        let ids: Vec<String> = sqlx::query_scalar(&EXPIRE)
            .bind(now_ms)
            .bind(finished_before_ms)
            .bind(limit(limit_rows))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let ids: Vec<TaskId> = ids.into_iter().map(TaskId::from_string).collect();
        self.feed
            .publish(ids.iter().map(|id| Change::Task(id.clone())));
        Ok(ids)
    }

    async fn media_to_purge(
        &self,
        marked_before_ms: i64,
        limit_rows: u32,
    ) -> StoreResult<Vec<ExpiredMedia>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, output_json FROM tasks \
             WHERE media_expired_at_ms IS NOT NULL AND media_purged_at_ms IS NULL \
             AND media_expired_at_ms < $1 ORDER BY media_expired_at_ms LIMIT $2",
        )
        .bind(marked_before_ms)
        .bind(limit(limit_rows))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(id, output)| {
                Ok(ExpiredMedia {
                    keys: output_keys(&id, output.as_deref())?,
                    task_id: TaskId::from_string(id),
                })
            })
            .collect()
    }

    async fn media_purged(&self, tasks: &[TaskId], now_ms: i64) -> StoreResult<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let mut q = sqlx::QueryBuilder::<Db>::new("UPDATE tasks SET media_purged_at_ms = ");
        q.push_bind(now_ms).push(
            " WHERE media_expired_at_ms IS NOT NULL AND media_purged_at_ms IS NULL AND id IN (",
        );
        let mut ids = q.separated(", ");
        for id in tasks {
            ids.push_bind(id.as_str().to_string());
        }
        q.push(")");
        self.write_one(q.build()).await?;
        self.feed
            .publish(tasks.iter().map(|id| Change::Task(id.clone())));
        Ok(())
    }

    async fn media_expired_at(&self, task: &TaskId) -> StoreResult<Option<i64>> {
        let at: Option<Option<i64>> =
            sqlx::query_scalar("SELECT media_expired_at_ms FROM tasks WHERE id = $1")
                .bind(task.as_str())
                .fetch_optional(self.pool())
                .await?;
        Ok(at.flatten())
    }

    async fn prune_task_events(&self, before_ms: i64, limit_rows: u32) -> StoreResult<u64> {
        // Events of a task still under way are its live timeline: only finished tasks'.
        let r = self
            .write_one(
                sqlx::query(
                    "DELETE FROM task_events WHERE seq IN (\
             SELECT e.seq FROM task_events e JOIN tasks t ON t.id = e.task_id \
             WHERE e.at_ms < $1 AND t.status IN ('succeeded', 'failed', 'cancelled') \
             AND t.finished_at_ms < $1 ORDER BY e.at_ms LIMIT $2)",
                )
                .bind(before_ms)
                .bind(limit(limit_rows)),
            )
            .await?;
        Ok(r.rows_affected())
    }

    async fn prune_idempotency_batch(&self, before_ms: i64, limit_rows: u32) -> StoreResult<u64> {
        let r = self
            .write_one(
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE (api_key_id, idem_key) IN (\
             SELECT api_key_id, idem_key FROM idempotency_keys WHERE created_at_ms < $1 \
             ORDER BY created_at_ms LIMIT $2)",
                )
                .bind(before_ms)
                .bind(limit(limit_rows)),
            )
            .await?;
        Ok(r.rows_affected())
    }

    async fn prune_spend_days(&self, before_day: i64, limit_rows: u32) -> StoreResult<u64> {
        // The total budget sums every row an owner has: the old days' credits are carried into
        // the owner's one `CARRIED_DAY` row, in the transaction that deletes them (the values
        // deleted, as `RETURNING` gives them, are the ones carried).
        let mut tx = self.write_tx().await?;
        let folded: Vec<(String, i64)> = sqlx::query_as(
            "DELETE FROM spend_daily WHERE (owner_id, day) IN (\
             SELECT owner_id, day FROM spend_daily WHERE day < $1 AND day <> $2 \
             ORDER BY day LIMIT $3) RETURNING owner_id, credits",
        )
        .bind(before_day)
        .bind(CARRIED_DAY)
        .bind(limit(limit_rows))
        .fetch_all(&mut *tx)
        .await?;
        let mut carried = std::collections::BTreeMap::<&str, i64>::new();
        for (owner, credits) in &folded {
            *carried.entry(owner.as_str()).or_default() += credits;
        }
        for (owner, credits) in carried {
            sqlx::query(
                "INSERT INTO spend_daily (owner_id, day, credits) VALUES ($1, $2, $3) \
                 ON CONFLICT (owner_id, day) \
                 DO UPDATE SET credits = spend_daily.credits + excluded.credits",
            )
            .bind(owner)
            .bind(CARRIED_DAY)
            .bind(credits)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(folded.len() as u64)
    }

    async fn media_copies_in_use(&self, created_since_ms: i64) -> StoreResult<HashSet<String>> {
        // Unfinished tasks are few (the queue and the work in flight); recent ones are those
        // whose copies' links may still be fetched. Rows are read one at a time.
        use futures::TryStreamExt;
        let mut rows = sqlx::query_as::<_, (String,)>(
            "SELECT request_json FROM tasks WHERE status IN ('queued', 'running') \
             UNION ALL SELECT request_json FROM tasks WHERE created_at_ms >= $1 \
             AND status NOT IN ('queued', 'running')",
        )
        .bind(created_since_ms)
        .fetch(self.pool());
        let mut keys = HashSet::new();
        while let Some((json,)) = rows.try_next().await? {
            // A request this code cannot read keeps nothing alive by itself; it is corrupt,
            // and said so, rather than silently skipped.
            let copies: CopiesOnly = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("a task's request: {e}")))?;
            keys.extend(copies.media_copies.into_values().map(|c| c.key));
        }
        Ok(keys)
    }

    async fn database_bytes(&self) -> StoreResult<Option<u64>> {
        let bytes: Option<i64> = sqlx::query_scalar(super::super::DATABASE_BYTES)
            .fetch_one(self.pool())
            .await?;
        Ok(bytes.and_then(|b| u64::try_from(b).ok()))
    }
}

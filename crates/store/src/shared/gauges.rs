//! The queue's gauges for the metrics: one statement of indexed counts (`tasks_claimable` is
//! on `(status, next_run_at_ms)`, `callbacks_due` on `(state, next_attempt_at_ms)`), so a
//! scrape costs a few index range scans, not a table scan.

use super::*;

static GAUGES: &str = "SELECT \
     (SELECT COUNT(*) FROM tasks WHERE status = 'queued'), \
     (SELECT COUNT(*) FROM tasks WHERE status = 'queued' AND next_run_at_ms <= $1), \
     (SELECT COUNT(*) FROM tasks WHERE status = 'running'), \
     (SELECT MIN(created_at_ms) FROM tasks WHERE status = 'queued'), \
     (SELECT COUNT(*) FROM callbacks WHERE state = 'pending')";

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl This {
    pub(super) async fn read_queue_gauges(&self, now_ms: i64) -> StoreResult<QueueGauges> {
        let (queued, due, running, oldest, callbacks): (i64, i64, i64, Option<i64>, i64) =
            sqlx::query_as(GAUGES)
                .bind(now_ms)
                .fetch_one(self.pool())
                .await?;
        Ok(QueueGauges {
            queued: count(queued),
            due: count(due),
            running: count(running),
            oldest_queued_created_at_ms: oldest,
            callbacks_pending: count(callbacks),
        })
    }
}

//! Operator alerts: raised once per crossing, delivered from an outbox under leases.

use super::*;
use crate::alerts::{
    AlertDedupe, AlertDelivery, AlertJob, AlertRecord, AlertState, AlertStore, NewAlert,
    WaitingTasks,
};

const ALERT_COLUMNS: &str = "id, kind, subject, message, figures_json, created_at_ms, \
     resolved_at_ms, state, attempts, next_attempt_at_ms, delivered_at_ms, last_error";

#[derive(sqlx::FromRow)]
struct AlertRow {
    id: String,
    kind: String,
    subject: String,
    message: String,
    figures_json: String,
    created_at_ms: i64,
    resolved_at_ms: Option<i64>,
    state: String,
    attempts: i64,
    next_attempt_at_ms: i64,
    delivered_at_ms: Option<i64>,
    last_error: Option<String>,
}

impl TryFrom<AlertRow> for AlertRecord {
    type Error = StoreError;

    fn try_from(row: AlertRow) -> StoreResult<Self> {
        Ok(AlertRecord {
            figures: serde_json::from_str(&row.figures_json)
                .map_err(|e| StoreError::Corrupt(format!("alert {} figures: {e}", row.id)))?,
            state: AlertState::parse(&row.state).ok_or_else(|| {
                StoreError::Corrupt(format!("alert {} state {}", row.id, row.state))
            })?,
            attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
            id: row.id,
            kind: row.kind,
            subject: row.subject,
            message: row.message,
            created_at_ms: row.created_at_ms,
            resolved_at_ms: row.resolved_at_ms,
            next_attempt_at_ms: row.next_attempt_at_ms,
            delivered_at_ms: row.delivered_at_ms,
            last_error: row.last_error,
        })
    }
}

static DUE_ALERTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ALERT_COLUMNS} FROM alerts \
         WHERE state = 'pending' AND next_attempt_at_ms <= $1 \
         AND (lease_expires_at_ms IS NULL OR lease_expires_at_ms < $1) \
         ORDER BY next_attempt_at_ms LIMIT $2{SKIP_LOCKED}"
    )
});

#[async_trait::async_trait]
impl AlertStore for This {
    async fn raise_alert(&self, alert: &NewAlert) -> StoreResult<Option<AlertRecord>> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let dedupe_key = match &alert.dedupe {
            AlertDedupe::Once(key) => format!("{}:{}:{key}", alert.kind, alert.subject),
            AlertDedupe::WhileOpen => {
                // Raisers of one kind and subject take turns: under READ COMMITTED a raiser
                // could see no open alert, then count the one a racer just committed, and
                // number a second crossing.
                let subject_key = format!("{}:{}", alert.kind, alert.subject);
                lock_key(&mut tx, KeyLock::AlertCrossing, &subject_key).await?;
                let open: Option<String> = sqlx::query_scalar(
                    "SELECT id FROM alerts WHERE kind = $1 AND subject = $2 \
                     AND resolved_at_ms IS NULL",
                )
                .bind(&alert.kind)
                .bind(&alert.subject)
                .fetch_optional(&mut *tx)
                .await?;
                if open.is_some() {
                    tx.commit().await?;
                    return Ok(None);
                }
                // The n-th crossing: replicas that race on the same one collide on the key.
                let crossings: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM alerts WHERE kind = $1 AND subject = $2",
                )
                .bind(&alert.kind)
                .bind(&alert.subject)
                .fetch_one(&mut *tx)
                .await?;
                format!("{}:{}:#{}", alert.kind, alert.subject, crossings + 1)
            }
        };
        let record = AlertRecord {
            id: format!("alrt_{}", ulid::Ulid::new()),
            kind: alert.kind.clone(),
            subject: alert.subject.clone(),
            message: alert.message.clone(),
            figures: alert.figures.clone(),
            created_at_ms: now,
            resolved_at_ms: None,
            state: if alert.deliver {
                AlertState::Pending
            } else {
                AlertState::Unsent
            },
            attempts: 0,
            next_attempt_at_ms: now,
            delivered_at_ms: None,
            last_error: None,
        };
        let inserted = sqlx::query(
            "INSERT INTO alerts (id, dedupe_key, kind, subject, message, figures_json, \
             created_at_ms, state, next_attempt_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7) \
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(&record.id)
        .bind(&dedupe_key)
        .bind(&record.kind)
        .bind(&record.subject)
        .bind(&record.message)
        .bind(record.figures.to_string())
        .bind(now)
        .bind(record.state.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((inserted.rows_affected() == 1).then_some(record))
    }

    async fn resolve_alerts(&self, kind: &str, subject: &str) -> StoreResult<u64> {
        let r = self
            .write_one(
                sqlx::query(
                    "UPDATE alerts SET resolved_at_ms = $1 \
             WHERE kind = $2 AND subject = $3 AND resolved_at_ms IS NULL",
                )
                .bind(now_ms())
                .bind(kind)
                .bind(subject),
            )
            .await?;
        Ok(r.rows_affected())
    }

    async fn open_alerts(&self, kinds: &[&str]) -> StoreResult<Vec<(String, String)>> {
        let mut open = Vec::new();
        for kind in kinds {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT kind, subject FROM alerts WHERE kind = $1 AND resolved_at_ms IS NULL",
            )
            .bind(*kind)
            .fetch_all(self.pool())
            .await?;
            open.extend(rows);
        }
        Ok(open)
    }

    async fn claim_alerts(
        &self,
        owner: &str,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<AlertJob>> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let rows: Vec<AlertRow> = sqlx::query_as(&DUE_ALERTS)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        let token = format!("{owner}:{}", ulid::Ulid::new());
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            sqlx::query(
                "UPDATE alerts SET lease_token = $1, lease_expires_at_ms = $2 WHERE id = $3",
            )
            .bind(&token)
            .bind(now + millis(lease))
            .bind(&row.id)
            .execute(&mut *tx)
            .await?;
            jobs.push(AlertJob {
                alert: AlertRecord::try_from(row)?,
                lease_token: token.clone(),
            });
        }
        tx.commit().await?;
        Ok(jobs)
    }

    async fn record_alert_attempt(
        &self,
        job: &AlertJob,
        outcome: &AlertDelivery,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let (state, next, delivered, error) = match outcome {
            AlertDelivery::Delivered => (AlertState::Delivered, now, Some(now), None),
            AlertDelivery::RetryAt { at_ms, error } => {
                (AlertState::Pending, *at_ms, None, Some(error.as_str()))
            }
        };
        self.fenced(
            sqlx::query(
                "UPDATE alerts SET state = $1, attempts = attempts + 1, next_attempt_at_ms = $2, \
                 delivered_at_ms = $3, last_error = $4, lease_token = NULL, \
                 lease_expires_at_ms = NULL \
                 WHERE id = $5 AND lease_token = $6 AND state = 'pending'",
            )
            .bind(state.as_str())
            .bind(next)
            .bind(delivered)
            .bind(error)
            .bind(&job.alert.id)
            .bind(&job.lease_token),
        )
        .await
    }

    async fn list_alerts(
        &self,
        before_ms: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AlertRecord>> {
        let rows: Vec<AlertRow> = sqlx::query_as(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE created_at_ms < $1 \
             ORDER BY created_at_ms DESC, id DESC LIMIT $2"
        ))
        .bind(before_ms.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(AlertRecord::try_from).collect()
    }

    async fn waiting_tasks(
        &self,
        status: &str,
        since_ms: i64,
    ) -> StoreResult<Option<WaitingTasks>> {
        // The live-task indexes keep both cheap: only queued and running rows are looked at.
        let since_column = match status {
            "queued" => "created_at_ms",
            "running" => "COALESCE(started_at_ms, created_at_ms)",
            other => {
                return Err(StoreError::Conflict(format!(
                    "no waiting tasks in status {other}"
                )))
            }
        };
        let row: Option<(String, i64)> = sqlx::query_as(&format!(
            "SELECT id, {since_column} FROM tasks WHERE status = $1 AND {since_column} < $2 \
             ORDER BY {since_column}, id LIMIT 1"
        ))
        .bind(status)
        .bind(since_ms)
        .fetch_optional(self.pool())
        .await?;
        let Some((oldest_task_id, oldest_since_ms)) = row else {
            return Ok(None);
        };
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM tasks WHERE status = $1 AND {since_column} < $2"
        ))
        .bind(status)
        .bind(since_ms)
        .fetch_one(self.pool())
        .await?;
        Ok(Some(WaitingTasks {
            count: u64::try_from(count).unwrap_or(0),
            oldest_task_id,
            oldest_since_ms,
        }))
    }
}

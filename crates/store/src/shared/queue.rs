//! The work queue: claims under leases, and every fenced write of the worker holding one.

use super::*;
use seedgate_core::timeline::{RequeueReason, TaskEvent};

/// A claim, and the rescue of a task whose lease expired: `$1` token, `$2` owner, `$3` lease
/// end, `$4` now, `$5` id.
fn claim_sql(t: Transition) -> String {
    transitions::update(
        t,
        "attempt = attempt + 1, lease_token = $1, lease_owner = $2, lease_expires_at_ms = $3, \
         started_at_ms = COALESCE(started_at_ms, $4), updated_at_ms = $4",
        "id = $5",
        &format!("RETURNING {TASK_COLUMNS}"),
    )
}
static CLAIM: LazyLock<String> = LazyLock::new(|| claim_sql(Transition::Claim));
static RESCUE: LazyLock<String> = LazyLock::new(|| claim_sql(Transition::Rescue));

/// Back to the queue without using up an attempt (no account free): `$1` due, `$2` now, `$3`
/// id, `$4` token.
static DEFER: LazyLock<String> = LazyLock::new(|| {
    transitions::update(
        Transition::Requeue,
        &format!("attempt = attempt - 1, next_run_at_ms = $1, updated_at_ms = $2, {END_LEASE}"),
        "id = $3 AND lease_token = $4 AND provider_job_id IS NULL AND submit_key IS NULL",
        "",
    )
});

/// Back to the queue at once, the interrupted attempt not counted: `$1` now, `$2` id, `$3`
/// token.
static RELEASE: LazyLock<String> = LazyLock::new(|| {
    transitions::update(
        Transition::Requeue,
        &format!(
            "attempt = CASE WHEN attempt > 0 THEN attempt - 1 ELSE 0 END, next_run_at_ms = $1, \
             updated_at_ms = $1, {END_LEASE}"
        ),
        "id = $2 AND lease_token = $3",
        "",
    )
});

/// Back to the queue after a retryable error: `$1` due, `$2` kind, `$3` message, `$4` now,
/// `$5` id, `$6` token.
static RETRY: LazyLock<String> = LazyLock::new(|| {
    transitions::update(
        Transition::Requeue,
        &format!(
            "next_run_at_ms = $1, error_kind = $2, error_message = $3, updated_at_ms = $4, \
             {END_LEASE}"
        ),
        "id = $5 AND lease_token = $6",
        "",
    )
});

/// The task a claim takes: a running one whose lease expired first (its client has waited
/// longest), else the queued one due first. Rows another claimer holds are skipped.
static RESCUE_CANDIDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, attempt, lease_token, submit_key FROM tasks \
         WHERE status = 'running' AND lease_expires_at_ms <= $1 \
         ORDER BY lease_expires_at_ms LIMIT 1{SKIP_LOCKED}"
    )
});
static QUEUED_CANDIDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, attempt, lease_token, submit_key FROM tasks \
         WHERE status = 'queued' AND next_run_at_ms <= $1 \
         ORDER BY next_run_at_ms, id LIMIT 1{SKIP_LOCKED}"
    )
});

/// Queued work is shared round the accounts: the next claim serves the account with a due
/// task whose last claim is oldest (an account new to the queue first), and that account's task
/// due first. One account's backlog thus delays another's first task by one claim at most.
/// (`last_claim_ms`, despite its name, orders the claims: each claim gives its account the
/// highest value so far.)
///
/// `status IN ('queued', 'running')` repeats the partial index `tasks_live_by_account`'s own
/// condition: SQLite uses a partial index only when the query states its condition, and
/// without it each claim scanned every queued task once per account (50 ms a claim with ten
/// accounts and 9,000 queued tasks, against 0.2 ms with it).
static ROUND_ROBIN_CANDIDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT id, attempt, lease_token, submit_key, account_id FROM tasks \
         WHERE account_id = (SELECT a.id FROM accounts a WHERE EXISTS (SELECT 1 FROM tasks t \
             WHERE t.account_id = a.id AND t.status = 'queued' \
             AND t.status IN ('queued', 'running') AND t.next_run_at_ms <= $1) \
             ORDER BY a.last_claim_ms, a.id LIMIT 1) \
         AND status = 'queued' AND status IN ('queued', 'running') AND next_run_at_ms <= $1 \
         ORDER BY next_run_at_ms, id LIMIT 1{SKIP_LOCKED}"
    )
});

/// A task a claim may take: `(id, attempt, lease token, submit key)`.
type CandidateRow = (String, i64, Option<String>, Option<String>);
/// The same and the account it belongs to.
type RoundRobinRow = (String, i64, Option<String>, Option<String>, Option<String>);

/// The task a claim takes next, and whether it is rescued from an expired lease.
struct Candidate {
    id: String,
    attempt: i64,
    lease_token: Option<String>,
    submit_key: Option<String>,
    rescue: bool,
}

impl Candidate {
    fn new((id, attempt, lease_token, submit_key): CandidateRow, rescue: bool) -> Self {
        Self {
            id,
            attempt,
            lease_token,
            submit_key,
            rescue,
        }
    }
}

/// The next task a claim takes, in `tx`.
async fn next_candidate(tx: &mut Tx, now: i64) -> StoreResult<Option<Candidate>> {
    let rescue: Option<CandidateRow> = sqlx::query_as(&RESCUE_CANDIDATE)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(row) = rescue {
        return Ok(Some(Candidate::new(row, true)));
    }
    let found: Option<RoundRobinRow> = sqlx::query_as(&ROUND_ROBIN_CANDIDATE)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some((id, attempt, token, submit_key, account)) = found {
        // Its turn is now the latest of all. A count, not the clock: the claims of one batch
        // share one `now`, and equal turns would hand the same account every claim of it.
        sqlx::query(
            "UPDATE accounts SET last_claim_ms = \
             (SELECT COALESCE(MAX(last_claim_ms), 0) + 1 FROM accounts) WHERE id = $1",
        )
        .bind(account)
        .execute(&mut **tx)
        .await?;
        return Ok(Some(Candidate::new(
            (id, attempt, token, submit_key),
            false,
        )));
    }
    // Every due task of that account is held by other claimers: any other will do.
    let queued: Option<CandidateRow> = sqlx::query_as(&QUEUED_CANDIDATE)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(queued.map(|row| Candidate::new(row, false)))
}

#[async_trait::async_trait]
impl TaskQueue for This {
    async fn claim_tasks(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: u32,
        limit: usize,
    ) -> StoreResult<Vec<ClaimedTask>> {
        // Idle workers poll often; a plain read first keeps them from opening write
        // transactions.
        let due: Option<String> = sqlx::query_scalar(
            "SELECT id FROM tasks WHERE (status = 'queued' AND next_run_at_ms <= $1) \
             OR (status = 'running' AND lease_expires_at_ms <= $1) LIMIT 1",
        )
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        if due.is_none() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let mut claimed = Vec::new();
        // Tasks failed on the way (out of attempts, unreadable): told to the feed after commit.
        let mut ended = Vec::new();
        while claimed.len() < limit {
            let Some(candidate) = next_candidate(&mut tx, now).await? else {
                break;
            };
            let Candidate {
                id,
                attempt,
                lease_token: old_token,
                submit_key,
                rescue,
            } = candidate;
            // A task whose submit is in doubt is never given up for its attempts: an upstream
            // job may live, so it stays in flight (hold kept) until reconciled.
            if attempt >= i64::from(max_attempts) && submit_key.is_none() {
                // Rescue with no attempts left: fail it and refund, then look for another task.
                // A queued row has no lease token, so it is finished through the queued path.
                let error = TaskError {
                    kind: FailureKind::Internal,
                    message: format!("task abandoned after {attempt} attempts"),
                };
                let Some(end) = end_task(
                    &mut tx,
                    &id,
                    old_token.as_deref(),
                    TaskStatus::Failed,
                    None,
                    Some(&error),
                    now,
                )
                .await?
                else {
                    return Err(StoreError::Conflict(format!(
                        "task {id} changed while being rescued"
                    )));
                };
                ended.push((id, end));
                continue;
            }
            let token = ulid::Ulid::new().to_string();
            let row: TaskRow = sqlx::query_as(if rescue { &RESCUE } else { &CLAIM })
                .bind(&token)
                .bind(worker)
                .bind(now + millis(lease))
                .bind(now)
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
            let provider_job_id = row.provider_job_id.clone();
            let submit_key = row.submit_key.clone();
            let task = match task_from(row) {
                Ok(task) => task,
                Err(e) => {
                    // A row that no longer reads must not block the queue: fail and refund it.
                    tracing::error!(task = %id, error = %e, "unreadable task failed");
                    let error = TaskError {
                        kind: FailureKind::Internal,
                        message: "the stored task could not be read".into(),
                    };
                    if let Some(end) = end_task(
                        &mut tx,
                        &id,
                        Some(&token),
                        TaskStatus::Failed,
                        None,
                        Some(&error),
                        now,
                    )
                    .await?
                    {
                        ended.push((id, end));
                    }
                    continue;
                }
            };
            // Who took it, in the claim's own transaction.
            timeline::append(
                &mut tx,
                &id,
                now,
                &TaskEvent::Claimed {
                    worker: worker.to_string(),
                    attempt: task.attempt,
                    rescued: rescue,
                },
            )
            .await?;
            // Its first claim is when the task starts running (later claims send nothing).
            if wants_status_callbacks(&task.origin_dialect) {
                queue_callback(&mut tx, &id, CallbackEvent::Running, now).await?;
            }
            claimed.push(ClaimedTask {
                task,
                lease_token: token,
                provider_job_id,
                submit_key,
            });
        }
        tx.commit().await?;
        for (id, end) in ended {
            self.task_ended(&id, end);
        }
        for task in &claimed {
            self.feed.task(&task.task.id);
        }
        if !claimed.is_empty() {
            self.feed.publish([Change::CallbacksDue]);
        }
        Ok(claimed)
    }

    async fn renew_lease(
        &self,
        id: &TaskId,
        lease_token: &str,
        lease: Duration,
    ) -> StoreResult<bool> {
        let now = now_ms();
        self.fenced(
            sqlx::query(
                "UPDATE tasks SET lease_expires_at_ms = $1, updated_at_ms = $2 \
                 WHERE id = $3 AND lease_token = $4 AND status = 'running'",
            )
            .bind(now + millis(lease))
            .bind(now)
            .bind(id.as_str())
            .bind(lease_token),
        )
        .await
        .inspect(|applied| {
            if *applied {
                self.feed.task(id);
            }
        })
    }

    async fn record_provider_job(
        &self,
        id: &TaskId,
        lease_token: &str,
        provider: &str,
        job_id: &str,
        event: Option<&seedgate_core::timeline::TaskEvent>,
    ) -> StoreResult<bool> {
        self.fenced_noting(
            id,
            sqlx::query(
                "UPDATE tasks SET provider = $1, provider_job_id = $2, submit_key = NULL, \
                 updated_at_ms = $3 WHERE id = $4 AND lease_token = $5 AND status = 'running'",
            )
            .bind(provider)
            .bind(job_id)
            .bind(now_ms())
            .bind(id.as_str())
            .bind(lease_token),
            event,
        )
        .await
    }

    async fn record_submit_intent(
        &self,
        id: &TaskId,
        lease_token: &str,
        intent: Option<(&str, &str)>,
        event: Option<&seedgate_core::timeline::TaskEvent>,
    ) -> StoreResult<bool> {
        let (provider, key) = match intent {
            Some((provider, key)) => (Some(provider), Some(key)),
            None => (None, None),
        };
        self.fenced_noting(
            id,
            sqlx::query(
                "UPDATE tasks SET provider = $1, submit_key = $2, provider_job_id = NULL, \
                 updated_at_ms = $3 WHERE id = $4 AND lease_token = $5 AND status = 'running'",
            )
            .bind(provider)
            .bind(key)
            .bind(now_ms())
            .bind(id.as_str())
            .bind(lease_token),
            event,
        )
        .await
    }

    async fn running_tasks_by_provider(&self) -> StoreResult<HashMap<String, u64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT provider, COUNT(*) FROM tasks \
             WHERE status = 'running' AND provider IS NOT NULL GROUP BY provider",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(provider, n)| (provider, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    async fn queue_gauges(&self, now_ms: i64) -> StoreResult<QueueGauges> {
        self.read_queue_gauges(now_ms).await
    }

    async fn defer_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        delay: Duration,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let due = now + millis(delay);
        let mut tx = self.write_tx().await?;
        let deferred = sqlx::query(&DEFER)
            .bind(due)
            .bind(now)
            .bind(id.as_str())
            .bind(lease_token)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if deferred {
            timeline::note_waiting(&mut tx, id.as_str(), due, now).await?;
        }
        tx.commit().await?;
        if deferred {
            self.feed.task(id);
            self.feed.publish([Change::TasksDue]);
        }
        Ok(deferred)
    }

    async fn complete_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        output: &TaskOutput,
    ) -> StoreResult<bool> {
        self.finish_fenced(id, lease_token, TaskStatus::Succeeded, Some(output), None)
            .await
    }

    async fn fail_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        error: &TaskError,
    ) -> StoreResult<bool> {
        self.finish_fenced(id, lease_token, TaskStatus::Failed, None, Some(error))
            .await
    }

    async fn release_lease(&self, id: &TaskId, lease_token: &str) -> StoreResult<bool> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        let released = sqlx::query(&RELEASE)
            .bind(now)
            .bind(id.as_str())
            .bind(lease_token)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if released {
            let event = TaskEvent::Requeued {
                reason: RequeueReason::HandedBack,
                retry_at_ms: now,
                error: None,
            };
            timeline::append(&mut tx, id.as_str(), now, &event).await?;
        }
        tx.commit().await?;
        if released {
            self.feed.task(id);
            self.feed.publish([Change::TasksDue]);
        }
        Ok(released)
    }

    async fn retry_task(
        &self,
        id: &TaskId,
        lease_token: &str,
        delay: Duration,
        error: &TaskError,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let due = now + millis(delay);
        let mut tx = self.write_tx().await?;
        let retried = sqlx::query(&RETRY)
            .bind(due)
            .bind(error.kind.as_str())
            .bind(&error.message)
            .bind(now)
            .bind(id.as_str())
            .bind(lease_token)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if retried {
            let event = TaskEvent::Requeued {
                reason: RequeueReason::Retry,
                retry_at_ms: due,
                error: Some(error.clone()),
            };
            timeline::append(&mut tx, id.as_str(), now, &event).await?;
        }
        tx.commit().await?;
        if retried {
            self.feed.task(id);
            self.feed.publish([Change::TasksDue]);
        }
        Ok(retried)
    }
}

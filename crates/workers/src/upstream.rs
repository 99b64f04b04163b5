//! A claimed task on its way through a provider: routing to an account, the write-ahead submit,
//! reconciliation of a submit whose answer was lost, and following the job to its result.

use super::*;
use crate::timeline::{upstream_error, Seen};
use seedgate_core::timeline::{TaskEvent, UpstreamOperation};

impl TaskWorkers {
    /// Submits (reconciles, or resumes) the job, then follows it until it is done.
    pub(crate) async fn drive(
        &self,
        claimed: &ClaimedTask,
        slot: OwnedSemaphorePermit,
        upstream_job: &Mutex<Option<(Arc<Account>, String)>>,
        in_doubt: &AtomicBool,
    ) -> Outcome {
        let job = self.job(claimed);
        let token = &claimed.lease_token;
        let stuck_to = claimed.task.provider.as_deref().map(|name| {
            self.router.account(name).cloned().ok_or_else(|| {
                ProviderError::permanent(
                    FailureKind::UpstreamError,
                    format!("provider account {name} is no longer configured"),
                )
            })
        });
        // Whether the job was taken just now (its id is news) or is being resumed.
        let mut fresh = true;
        let (account, job_id, poll_after) = match (stuck_to, &claimed.provider_job_id) {
            (Some(Err(e)), _) => return Outcome::Failed(e),
            // Accepted before a restart: resume, never resubmit.
            (Some(Ok(account)), Some(job_id)) => {
                tracing::info!(
                    account = account.name(),
                    job_id,
                    "resuming the upstream job"
                );
                fresh = false;
                self.note(
                    &job.task_id,
                    TaskEvent::Resumed {
                        upstream_account: account.name().to_string(),
                        upstream_task_id: job_id.clone(),
                    },
                )
                .await;
                (account, job_id.clone(), Duration::ZERO)
            }
            (stuck_to, _) => {
                let submitted = match stuck_to {
                    // Sent, answer never recorded: reconcile with that account only.
                    Some(Ok(account)) if claimed.submit_key.is_some() => {
                        self.reconcile(&job, token, account, in_doubt).await
                    }
                    _ => self.submit(&job, token, in_doubt).await,
                };
                match submitted {
                    Submitted::Accepted {
                        account,
                        job_id,
                        poll_after,
                    } => (account, job_id, poll_after),
                    Submitted::Finished(outcome) => return outcome,
                }
            }
        };
        // A job taken just now goes on the timeline with its id, in the same write.
        let accepted = fresh.then(|| TaskEvent::UpstreamAccepted {
            upstream_account: account.name().to_string(),
            upstream_task_id: job_id.clone(),
        });
        match self
            .store
            .record_provider_job(
                &job.task_id,
                token,
                account.name(),
                &job_id,
                accepted.as_ref(),
            )
            .await
        {
            Ok(true) => {}
            Ok(false) => return Outcome::LostLease,
            Err(e) => tracing::error!(error = %e, "recording the upstream job failed"),
        }
        *upstream_job.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((account.clone(), job_id.clone()));
        in_doubt.store(false, Ordering::SeqCst);
        // Waiting at an upstream holds a tracking permit, not a worker slot.
        let _tracking = match self.tracked_slots.clone().try_acquire_owned() {
            Ok(permit) => {
                drop(slot);
                Some(permit)
            }
            Err(_) => None,
        };
        self.follow(&job, account, &job_id, poll_after, fresh).await
    }

    /// Routes a new submit: tries each candidate account in turn, moving on only when an
    /// account did not take the job (429, 5xx, no connection).
    async fn submit(&self, job: &Job, token: &str, in_doubt: &AtomicBool) -> Submitted {
        // Counting is a query over every running task: only routes with a cap need it.
        let active = if self.router.route_has_caps(&job.request.model) {
            match self.store.running_tasks_by_provider().await {
                Ok(active) => active,
                Err(e) => {
                    tracing::warn!(error = %e, "counting running tasks failed; caps not applied");
                    HashMap::new()
                }
            }
        } else {
            HashMap::new()
        };
        let candidates = match self.router.candidates(&job.request, &active) {
            Ok(candidates) => candidates,
            Err(NoAccount::Busy) => return Submitted::Finished(Outcome::Busy),
            Err(NoAccount::Unserved) => {
                return Submitted::Finished(Outcome::Failed(ProviderError::permanent(
                    FailureKind::UpstreamError,
                    format!("no provider account serves {}", job.request.model),
                )))
            }
            // Submit refuses these; a task queued before the configuration changed ends here.
            Err(NoAccount::Inexpressible(why)) => {
                return Submitted::Finished(Outcome::Failed(ProviderError::permanent(
                    FailureKind::InvalidInput,
                    why.reason,
                )))
            }
        };
        let mut last_error = None;
        // The account the previous candidate was, when it did not take the job.
        let mut failed_at: Option<String> = None;
        for account in candidates {
            if let Some(from) = failed_at.take() {
                self.note(
                    &job.task_id,
                    TaskEvent::FailedOver {
                        from_account: from,
                        to_account: account.name().to_string(),
                    },
                )
                .await;
            }
            // A local render needs no write-ahead record: cut off, it leaves nothing running.
            let remote = account.provider.remote();
            let sent = TaskEvent::SubmitSent {
                upstream_account: account.name().to_string(),
                reconcile: false,
            };
            if remote {
                // The record and the timeline's line go in one write.
                match self
                    .store
                    .record_submit_intent(
                        &job.task_id,
                        token,
                        Some((account.name(), &job.submit_key)),
                        Some(&sent),
                    )
                    .await
                {
                    Ok(true) => in_doubt.store(true, Ordering::SeqCst),
                    Ok(false) => return Submitted::Finished(Outcome::LostLease),
                    Err(e) => {
                        // Without the write-ahead record a crash could not be reconciled: do
                        // not send.
                        tracing::error!(error = %e, "recording the submit failed");
                        return Submitted::Finished(Outcome::Failed(ProviderError::retryable(
                            FailureKind::Internal,
                            "could not record the submit",
                        )));
                    }
                }
            } else {
                self.note(&job.task_id, sent).await;
            }
            let result = self.submit_to(job, &account).await;
            if let Err(e) = &result {
                self.note(
                    &job.task_id,
                    upstream_error(account.name(), UpstreamOperation::Submit, e),
                )
                .await;
            }
            match result {
                Err(e) if e.class == ErrorClass::Transient => {
                    tracing::warn!(account = account.name(), error = %e, "account did not take the task; trying the next");
                    if remote {
                        match self
                            .store
                            .record_submit_intent(&job.task_id, token, None, None)
                            .await
                        {
                            Ok(_) => in_doubt.store(false, Ordering::SeqCst),
                            Err(e) => {
                                tracing::warn!(error = %e, "clearing the submit record failed")
                            }
                        }
                    }
                    failed_at = Some(account.name().to_string());
                    last_error = Some(e);
                }
                Err(e) if e.class == ErrorClass::Ambiguous => {
                    tracing::warn!(account = account.name(), error = %e, "submit answer lost; reconciling");
                    return self.reconcile(job, token, account, in_doubt).await;
                }
                other => {
                    // Taken (the job id is recorded next) or refused outright: not in doubt.
                    in_doubt.store(false, Ordering::SeqCst);
                    return self.submitted(account, other);
                }
            }
        }
        Submitted::Finished(Outcome::Failed(last_error.unwrap_or_else(|| {
            ProviderError::retryable(FailureKind::UpstreamError, "no account took the task")
        })))
    }

    /// Sends the job to one account, feeding its breaker.
    async fn submit_to(
        &self,
        job: &Job,
        account: &Arc<Account>,
    ) -> Result<Progress, ProviderError> {
        // The outbound create, as a span of its own (the task's span is its parent).
        let span = tracing::info_span!("upstream.create", task_id = %job.task_id, account = account.name());
        let result = account.provider.submit(job).instrument(span).await;
        match &result {
            Err(e) if e.class != ErrorClass::Permanent => {
                self.router.record_failure(account.name())
            }
            _ => self.router.record_success(account.name()),
        }
        result
    }

    fn submitted(
        &self,
        account: Arc<Account>,
        result: Result<Progress, ProviderError>,
    ) -> Submitted {
        match result {
            Ok(Progress::Done(artifacts)) => Submitted::Finished(Outcome::Done(artifacts)),
            Ok(Progress::Pending {
                provider_job_id,
                poll_after,
                ..
            }) => Submitted::Accepted {
                account,
                job_id: provider_job_id,
                poll_after,
            },
            Err(e) => Submitted::Finished(Outcome::Failed(e)),
        }
    }

    /// A submit to `account` may have been accepted but its answer was lost: send it again to
    /// the same account with the same Idempotency-Key, which an upstream that honours the
    /// header answers with the job it already has. Never another account.
    async fn reconcile(
        &self,
        job: &Job,
        token: &str,
        account: Arc<Account>,
        in_doubt: &AtomicBool,
    ) -> Submitted {
        let mut delay = self.config.upstream.reconcile_backoff;
        let mut last = None;
        for _ in 0..self.config.upstream.reconcile_tries.max(1) {
            self.note(
                &job.task_id,
                TaskEvent::SubmitSent {
                    upstream_account: account.name().to_string(),
                    reconcile: true,
                },
            )
            .await;
            let result = self.submit_to(job, &account).await;
            if let Err(e) = &result {
                self.note(
                    &job.task_id,
                    upstream_error(account.name(), UpstreamOperation::Submit, e),
                )
                .await;
            }
            match result {
                Err(e) if e.is_retryable() => {
                    tracing::info!(account = account.name(), error = %e, ?delay, "reconciling: asking again");
                    last = Some(e);
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
                other => {
                    if other.is_err() {
                        // Refused outright: nothing is pending there.
                        let _ = self
                            .store
                            .record_submit_intent(&job.task_id, token, None, None)
                            .await;
                    }
                    in_doubt.store(false, Ordering::SeqCst);
                    return self.submitted(account, other);
                }
            }
        }
        // Still unknown: the submit record stays, so the next attempt reconciles again.
        Submitted::Finished(Outcome::InDoubt(last.unwrap_or_else(|| {
            ProviderError::retryable(
                FailureKind::UpstreamError,
                "the submit could not be reconciled",
            )
        })))
    }

    fn poller(&self, account: &Arc<Account>) -> Poller {
        let mut pollers = self.pollers.lock().unwrap_or_else(|e| e.into_inner());
        pollers
            .entry(account.name().to_string())
            .or_insert_with(|| {
                Poller::start(
                    account.provider.clone(),
                    self.config.upstream.poller,
                    self.stopping.clone(),
                )
            })
            .clone()
    }

    /// Polls the job through the account's poller until it finishes. Transient errors only
    /// slow the polling down; the deadline bounds the whole.
    async fn follow(
        &self,
        job: &Job,
        account: Arc<Account>,
        job_id: &str,
        first: Duration,
        fresh: bool,
    ) -> Outcome {
        let upstream = &self.config.upstream;
        let poller = self.poller(&account);
        self.tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                job.task_id.clone(),
                (account.name().to_string(), job_id.to_string()),
            );
        // The upstream called back before the job was followed: it has news now.
        let called_back = self.take_early_callback(&job.task_id);
        let first = if called_back { Duration::ZERO } else { first };
        let mut interval = first.clamp(Duration::ZERO, upstream.poll_max);
        // What the polls said last: the timeline gets a line when it changes, not per poll.
        // A job taken just now is known to be pending (its first status, when the upstream
        // names one, is still news).
        let mut seen = fresh.then_some(Seen::Pending(None));
        let status = |status: &str| TaskEvent::UpstreamStatus {
            upstream_account: account.name().to_string(),
            upstream_task_id: job_id.to_string(),
            status: status.to_string(),
        };
        loop {
            let at = tokio::time::Instant::now() + interval;
            let Some(result) = poller.poll(job, job_id, at).await else {
                // The poller stopped: the process is shutting down, which hands the task back.
                std::future::pending::<()>().await;
                return Outcome::LostLease;
            };
            interval = polling::next_interval(interval, upstream.poll_min, upstream.poll_max);
            let now_seen = match &result {
                Ok(Progress::Done(_)) => None,
                Ok(Progress::Pending {
                    upstream_status, ..
                }) => Some(Seen::Pending(*upstream_status)),
                Err(e) => Some(Seen::Error(e.message.clone())),
            };
            if now_seen.is_none() || now_seen != seen {
                let event = match &result {
                    Ok(Progress::Done(_)) => status("succeeded"),
                    Ok(Progress::Pending {
                        upstream_status, ..
                    }) => status(upstream_status.unwrap_or("pending")),
                    Err(e) => upstream_error(account.name(), UpstreamOperation::Poll, e),
                };
                self.note(&job.task_id, event).await;
                seen = now_seen;
            }
            match result {
                Ok(Progress::Done(artifacts)) => {
                    self.router.record_success(account.name());
                    return Outcome::Done(artifacts);
                }
                Ok(Progress::Pending { .. }) => self.router.record_success(account.name()),
                Err(e) if e.is_retryable() => {
                    self.router.record_failure(account.name());
                    tracing::warn!(error = %e, "polling failed; will ask again");
                    if let Some(after) = e.retry_after {
                        interval = interval.max(after);
                    }
                }
                Err(e) => return Outcome::Failed(e),
            }
        }
    }

    /// Keeps a callback for a task not followed yet, for `follow` to find. Bounded: entries
    /// older than a minute (a task another replica follows) make room for new ones.
    fn remember_early_callback(&self, task: &TaskId) {
        const KEPT: Duration = Duration::from_secs(60);
        const MOST: usize = 10_000;
        let now = std::time::Instant::now();
        {
            let mut early = self
                .early_callbacks
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if early.len() >= MOST {
                early.retain(|_, at| now.duration_since(*at) < KEPT);
            }
            if early.len() < MOST {
                early.insert(task.clone(), now);
            }
        }
        // `follow` may have started between the look at `tracked` and now: nudge it instead.
        let tracked = self.tracked_job(task);
        if let Some((account_name, _)) = tracked {
            let taken = self.take_early_callback(task);
            if let (true, Some(account)) = (taken, self.router.account(&account_name)) {
                self.poller(account).nudge(task);
            }
        }
    }

    /// The account and upstream job of a task this process follows.
    fn tracked_job(&self, task: &TaskId) -> Option<(String, String)> {
        self.tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(task)
            .cloned()
    }

    /// Whether a callback came for `task` before it was followed (forgetting it).
    fn take_early_callback(&self, task: &TaskId) -> bool {
        self.early_callbacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(task)
            .is_some()
    }

    pub(crate) fn untrack(&self, task: &TaskId) {
        self.tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(task);
    }

    /// An upstream called back about a task. The body is not trusted: a right URL only makes
    /// the task's next poll, which re-reads it from the upstream, due now. A body that names a
    /// different upstream job than the one this task runs is ignored.
    pub async fn upstream_callback(
        &self,
        task: &TaskId,
        token: &str,
        body: &[u8],
    ) -> CallbackVerdict {
        if !seedgate_core::upstream::verify_callback_token(
            &self.config.upstream.callback_secret,
            task,
            token,
        ) {
            return CallbackVerdict::Unknown;
        }
        let tracked = self.tracked_job(task);
        let Some((account_name, job_id)) = tracked else {
            // Not followed here (yet): its job id may not be recorded yet, or another replica
            // follows it (and polls it on its own schedule), or it has finished.
            return match self.store.load_task(task).await {
                Ok(Some(t)) if t.provider.is_some() => {
                    if t.status == seedgate_core::task::TaskStatus::Running {
                        self.remember_early_callback(task);
                    }
                    CallbackVerdict::Accepted
                }
                _ => CallbackVerdict::Unknown,
            };
        };
        let Some(account) = self.router.account(&account_name) else {
            return CallbackVerdict::Unknown;
        };
        if let Some(named) = account.provider.callback_job_id(body) {
            if named != job_id {
                tracing::warn!(task = %task, named, job_id, "callback names another upstream job; ignored");
                return CallbackVerdict::Accepted;
            }
        }
        self.poller(account).nudge(task);
        CallbackVerdict::Accepted
    }
}

//! Background work. [`TaskWorkers`] claim tasks from the store with a lease, route each to a
//! provider account, follow it there, copy the result into object storage and settle or
//! refund; a heartbeat keeps the lease while a task runs, and a worker that loses its lease
//! stops touching the task (the store fences it anyway).
//!
//! A task's life at an upstream: the account is chosen ([`seedgate_providers::Router`]); the
//! submit is recorded *before* it is sent (so a crash mid-submit is reconciled, not resubmitted
//! elsewhere); the upstream's job id is recorded once it answers (so a re-claimed task resumes
//! polling the same account); polls go through the account's [`polling::Poller`]; an upstream
//! callback only makes the next poll due now. Worker slots bound submits and local renders;
//! tasks waiting at an upstream hold no slot.
//! [`housekeeping`] prunes expired idempotency keys.

pub mod callbacks;
pub mod polling;
pub mod rehost;

use polling::{Poller, PollerConfig};
use rehost::Rehoster;
use seedgate_core::task::{FailureKind, TaskError, TaskOutput};
use seedgate_core::TaskId;
use seedgate_providers::routing::NoAccount;
use seedgate_providers::{Account, Artifacts, ErrorClass, Job, Progress, ProviderError, Router};
use seedgate_store::{ClaimedTask, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Tasks submitted or rendered at once by this process.
    pub concurrency: usize,
    /// How long a claim lasts without a heartbeat. A crashed worker's task is picked up again
    /// this long after its last heartbeat.
    pub lease: Duration,
    /// Claims per task before it is failed and refunded.
    pub max_attempts: u32,
    /// How often an idle worker looks for due tasks it was not woken for (retries, rescues).
    pub idle_poll: Duration,
    /// First retry delay; doubles per attempt.
    pub retry_base: Duration,
    /// How long one attempt may run before the task fails (and is refunded) as timed out.
    pub attempt_timeout: Duration,
    /// Upstream tasks: deadline, polling, callbacks.
    pub upstream: UpstreamWork,
    /// What "now" is when a task's age is measured against its deadline.
    pub clock: Arc<dyn seedgate_core::clock::Clock>,
}

/// How tasks at upstreams are followed.
#[derive(Debug, Clone)]
pub struct UpstreamWork {
    /// A task not finished this long after it was created fails and is refunded.
    pub deadline: Duration,
    /// Poll intervals: the first poll after `poll_min`, backing off to `poll_max`.
    pub poll_min: Duration,
    pub poll_max: Duration,
    pub poller: PollerConfig,
    /// Tasks this process follows at upstreams at once (beyond `concurrency`).
    pub max_tracked: usize,
    /// When every account is at its cap or cooling off, look again after this.
    pub busy_retry: Duration,
    /// Sends of a submit whose answer was lost, with its original Idempotency-Key, before the
    /// attempt gives up (the next attempt reconciles again).
    pub reconcile_tries: u32,
    pub reconcile_backoff: Duration,
    /// `<base>/upstream/callbacks/<task>/<token>` is given to upstreams when set.
    pub callback_base_url: Option<String>,
    /// The key of callback tokens; shared by every replica.
    pub callback_secret: Vec<u8>,
}

impl Default for UpstreamWork {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(2 * 3600),
            poll_min: Duration::from_secs(2),
            poll_max: Duration::from_secs(15),
            poller: PollerConfig::default(),
            max_tracked: 10_000,
            busy_retry: Duration::from_secs(2),
            reconcile_tries: 5,
            reconcile_backoff: Duration::from_secs(2),
            callback_base_url: None,
            callback_secret: Vec::new(),
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 2,
            lease: Duration::from_secs(30),
            max_attempts: 3,
            idle_poll: Duration::from_millis(500),
            retry_base: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(2 * 3600),
            upstream: UpstreamWork::default(),
            clock: Arc::new(seedgate_core::clock::SystemClock),
        }
    }
}

pub struct TaskWorkers {
    store: Arc<dyn Store>,
    router: Arc<Router>,
    rehoster: Rehoster,
    config: WorkerConfig,
    wake: Arc<Notify>,
    id: String,
    tracked_slots: Arc<Semaphore>,
    pollers: Mutex<HashMap<String, Poller>>,
    /// Tasks this process follows at an upstream: account and upstream job id.
    tracked: Mutex<HashMap<TaskId, (String, String)>>,
    /// Stops the pollers when the workers stop.
    stopping: CancellationToken,
}

/// The object key of a task's video. Each attempt writes its own key, so a worker that lost its
/// lease can never overwrite the file of the attempt that completed.
pub fn video_key(task_id: &TaskId, attempt: u32) -> String {
    format!("tasks/{}/{attempt}/0.mp4", task_id.as_str())
}

/// Where an attempt's last frame (asked for with `return_last_frame`) is stored.
pub fn last_frame_key(task_id: &TaskId, attempt: u32) -> String {
    format!("tasks/{}/{attempt}/0_last_frame.png", task_id.as_str())
}

enum Outcome {
    Done(Artifacts),
    Failed(ProviderError),
    /// No account can take the task now; it goes back to the queue without using an attempt.
    Busy,
    /// The lease was lost; another worker owns the task now.
    LostLease,
    /// A create was sent and whether the upstream took it is still unknown: the task stays in
    /// flight (back in the queue, its hold kept) to be reconciled again, whatever its attempts
    /// or deadline, until the upstream job is known.
    InDoubt(ProviderError),
}

/// How long a task past its deadline, whose submit is in doubt, is given to find its upstream
/// job (and cancel it) before it goes back to the queue, still in flight.
const RECONCILE_PAST_DEADLINE: Duration = Duration::from_secs(300);

/// What an upstream callback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackVerdict {
    /// The URL is right: the task's next poll (which re-reads the task upstream) is due now.
    Accepted,
    /// Wrong token, unknown task, or a task no upstream runs: nothing changes.
    Unknown,
}

/// Where a submit left the task.
enum Submitted {
    Accepted {
        account: Arc<Account>,
        job_id: String,
        poll_after: Duration,
    },
    Finished(Outcome),
}

impl TaskWorkers {
    pub fn new(
        store: Arc<dyn Store>,
        router: Arc<Router>,
        rehoster: Rehoster,
        config: WorkerConfig,
        wake: Arc<Notify>,
    ) -> Arc<Self> {
        let id = format!(
            "{}-{}",
            std::process::id(),
            seedgate_core::RequestId::generate().as_str()
        );
        Arc::new(Self {
            store,
            router,
            rehoster,
            tracked_slots: Arc::new(Semaphore::new(config.upstream.max_tracked.max(1))),
            config,
            wake,
            id,
            pollers: Mutex::default(),
            tracked: Mutex::default(),
            stopping: CancellationToken::new(),
        })
    }

    /// Claims and runs tasks until `shutdown` fires; running tasks are then handed back (their
    /// leases released) so another replica resumes them at once.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut running = tokio::task::JoinSet::new();
        let worker = format!("{}#w", self.id);
        loop {
            while let Some(done) = running.try_join_next() {
                // A task that panicked loses its slot permit with it; its lease runs out and
                // the task is retried.
                if let Err(e) = done {
                    if e.is_panic() {
                        tracing::error!("a task worker panicked; its task will be retried");
                    }
                }
            }
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                _ = shutdown.cancelled() => break,
            };
            match self
                .store
                .claim_task(&worker, self.config.lease, self.config.max_attempts)
                .await
            {
                Ok(Some(claimed)) => {
                    let me = self.clone();
                    let shutdown = shutdown.clone();
                    running.spawn(async move { me.process(claimed, permit, shutdown).await });
                    continue;
                }
                Ok(None) => drop(permit),
                Err(e) => {
                    drop(permit);
                    tracing::error!(error = %e, "claiming a task failed");
                }
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.idle_poll) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        // Every running task sees the same token and hands itself back.
        while running.join_next().await.is_some() {}
        self.stopping.cancel();
    }

    async fn process(
        self: Arc<Self>,
        claimed: ClaimedTask,
        slot: OwnedSemaphorePermit,
        shutdown: CancellationToken,
    ) {
        let span =
            tracing::info_span!("task", id = %claimed.task.id, attempt = claimed.task.attempt);
        let (id, token) = (claimed.task.id.clone(), claimed.lease_token.clone());
        tokio::select! {
            _ = self.process_in_span(claimed, slot).instrument(span) => {}
            _ = shutdown.cancelled() => {
                // Hand the task back so the next worker starts (or resumes) it at once instead
                // of waiting for the lease to run out.
                match self.store.release_lease(&id, &token).await {
                    Ok(_) => tracing::info!(task = %id, "task handed back on shutdown"),
                    Err(e) => tracing::warn!(task = %id, error = %e, "could not hand the task back; its lease will expire"),
                }
            }
        }
        self.untrack(&id);
    }

    async fn process_in_span(&self, claimed: ClaimedTask, slot: OwnedSemaphorePermit) {
        let task_id = claimed.task.id.clone();
        let token = claimed.lease_token.clone();
        let attempt = claimed.task.attempt;

        // The task's own deadline (from creation) and the attempt's, whichever comes first. A
        // deadline the client set (Ark's `execution_expires_after`) expires the task; the
        // operator's `upstream.deadline_seconds` times it out.
        let age = Duration::from_millis(
            u64::try_from(self.config.clock.now_ms() - claimed.task.created_at_ms).unwrap_or(0),
        );
        let (lifetime, past_deadline) = match claimed.task.request.expires_after_seconds {
            Some(seconds) => (
                Duration::from_secs(u64::from(seconds)),
                FailureKind::Expired,
            ),
            None => (self.config.upstream.deadline, FailureKind::Timeout),
        };
        let deadline = lifetime.saturating_sub(age);
        // Past its deadline with a submit in doubt, the task still gets a reconciling window:
        // an upstream job found then is cancelled; one still unknown keeps the task in flight.
        let timeout = if deadline.is_zero() && claimed.submit_key.is_some() {
            RECONCILE_PAST_DEADLINE.min(self.config.attempt_timeout)
        } else {
            deadline.min(self.config.attempt_timeout)
        };
        let upstream_job: Mutex<Option<(Arc<Account>, String)>> = Mutex::new(None);
        let stuck_remote = claimed
            .task
            .provider
            .as_deref()
            .and_then(|name| self.router.account(name))
            .is_none_or(|account| account.provider.remote());
        let in_doubt = AtomicBool::new(claimed.submit_key.is_some() && stuck_remote);
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(timeout, self.drive(&claimed, slot, &upstream_job, &in_doubt)) => match outcome {
                Ok(outcome) => outcome,
                Err(_) => {
                    let job = upstream_job.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let doubt = in_doubt.load(Ordering::SeqCst);
                    if let Some((account, job_id)) = job {
                        // Best effort: stop paying for a job nobody will collect.
                        if let Err(e) = account.provider.cancel(&self.job(&claimed), &job_id).await {
                            tracing::warn!(error = %e, "cancelling the upstream job after the deadline failed");
                        }
                    }
                    if doubt {
                        Outcome::InDoubt(ProviderError::retryable(
                            FailureKind::UpstreamError,
                            "the time ran out with the upstream's answer to the submit unknown",
                        ))
                    } else {
                        Outcome::Failed(if timeout == deadline || deadline.is_zero() {
                        ProviderError::permanent(
                            past_deadline,
                            format!("the task did not finish within {} s of its creation", lifetime.as_secs()),
                        )
                    } else {
                        ProviderError::permanent(
                            FailureKind::Timeout,
                            format!("the attempt did not finish within the attempt timeout ({} s)", timeout.as_secs()),
                        )
                    })
                    }
                }
            },
            _ = self.heartbeat(&task_id, &token) => Outcome::LostLease,
        };
        let result = match outcome {
            Outcome::LostLease => {
                tracing::warn!("lease lost; leaving the task to its new owner");
                return;
            }
            Outcome::Busy => {
                tracing::info!("no account can take the task yet; back to the queue");
                self.store
                    .defer_task(&task_id, &token, self.config.upstream.busy_retry)
                    .await
                    .map(|_| ())
            }
            Outcome::InDoubt(e) => {
                let delay =
                    self.config.retry_base * 2u32.saturating_pow(attempt.saturating_sub(1).min(6));
                tracing::warn!(error = %e, ?delay, "submit still in doubt; the task stays in flight");
                self.store
                    .retry_task(&task_id, &token, delay, &task_error(&e))
                    .await
                    .map(|_| ())
            }
            Outcome::Done(artifacts) => self.finish(&task_id, &token, attempt, artifacts).await,
            Outcome::Failed(e) if e.is_retryable() && attempt < self.config.max_attempts => {
                let backoff =
                    self.config.retry_base * 2u32.saturating_pow(attempt.saturating_sub(1));
                let delay = e.retry_after.map_or(backoff, |after| after.max(backoff));
                tracing::warn!(error = %e, ?delay, "provider failed; retrying");
                self.store
                    .retry_task(&task_id, &token, delay, &task_error(&e))
                    .await
                    .map(|_| ())
            }
            Outcome::Failed(e) => {
                tracing::info!(error = %e, "task failed; refunding");
                self.store
                    .fail_task(&task_id, &token, &task_error(&e))
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = result {
            // The lease runs out and the task is retried; nothing is lost.
            tracing::error!(error = %e, "recording the task's outcome failed");
        }
    }

    fn job(&self, claimed: &ClaimedTask) -> Job {
        let task_id = claimed.task.id.clone();
        let upstream_callback_url = self.config.upstream.callback_base_url.as_ref().map(|base| {
            let token = seedgate_core::upstream::callback_token(
                &self.config.upstream.callback_secret,
                &task_id,
            );
            format!(
                "{}/upstream/callbacks/{}/{token}",
                base.trim_end_matches('/'),
                task_id.as_str()
            )
        });
        Job {
            submit_key: claimed
                .submit_key
                .clone()
                .unwrap_or_else(|| Job::fresh_submit_key(&task_id, claimed.task.attempt)),
            task_id,
            // Pointing at the stored copies of its media, the bytes it was priced on.
            request: claimed.task.request.with_media_copies(),
            attempt: claimed.task.attempt,
            upstream_callback_url,
        }
    }

    /// Submits (reconciles, or resumes) the job, then follows it until it is done.
    async fn drive(
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
        let (account, job_id, poll_after) = match (stuck_to, &claimed.provider_job_id) {
            (Some(Err(e)), _) => return Outcome::Failed(e),
            // Accepted before a restart: resume, never resubmit.
            (Some(Ok(account)), Some(job_id)) => {
                tracing::info!(
                    account = account.name(),
                    job_id,
                    "resuming the upstream job"
                );
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
        match self
            .store
            .record_provider_job(&job.task_id, token, account.name(), &job_id)
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
        self.follow(&job, account, &job_id, poll_after).await
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
        for account in candidates {
            // A local render needs no write-ahead record: cut off, it leaves nothing running.
            let remote = account.provider.remote();
            if remote {
                match self
                    .store
                    .record_submit_intent(
                        &job.task_id,
                        token,
                        Some((account.name(), &job.submit_key)),
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
            }
            match self.submit_to(job, &account).await {
                Err(e) if e.class == ErrorClass::Transient => {
                    tracing::warn!(account = account.name(), error = %e, "account did not take the task; trying the next");
                    if remote {
                        match self
                            .store
                            .record_submit_intent(&job.task_id, token, None)
                            .await
                        {
                            Ok(_) => in_doubt.store(false, Ordering::SeqCst),
                            Err(e) => {
                                tracing::warn!(error = %e, "clearing the submit record failed")
                            }
                        }
                    }
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
        let result = account.provider.submit(job).await;
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
            match self.submit_to(job, &account).await {
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
                            .record_submit_intent(&job.task_id, token, None)
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
        let mut interval = first.clamp(Duration::ZERO, upstream.poll_max);
        loop {
            let at = tokio::time::Instant::now() + interval;
            let Some(result) = poller.poll(job, job_id, at).await else {
                // The poller stopped: the process is shutting down, which hands the task back.
                std::future::pending::<()>().await;
                return Outcome::LostLease;
            };
            interval = polling::next_interval(interval, upstream.poll_min, upstream.poll_max);
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

    fn untrack(&self, task: &TaskId) {
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
        let tracked = self
            .tracked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(task)
            .cloned();
        let Some((account_name, job_id)) = tracked else {
            // Followed by another replica (which polls it on its own schedule) or finished.
            return match self.store.load_task(task).await {
                Ok(Some(t)) if t.provider.is_some() => CallbackVerdict::Accepted,
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

    /// Renews the lease every third of its length; returns only when the lease is lost.
    async fn heartbeat(&self, task_id: &TaskId, token: &str) {
        let every = self.config.lease / 3;
        loop {
            tokio::time::sleep(every).await;
            match self
                .store
                .renew_lease(task_id, token, self.config.lease)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                // A failed renewal is not a lost lease; try again at the next beat.
                Err(e) => tracing::warn!(error = %e, "lease renewal failed"),
            }
        }
    }

    /// Copies the result files into object storage, then completes the task. A copy that
    /// keeps failing fails the task (refunded): a result nobody can fetch is not a success.
    async fn finish(
        &self,
        task_id: &TaskId,
        token: &str,
        attempt: u32,
        artifacts: Artifacts,
    ) -> Result<(), seedgate_store::StoreError> {
        let provider_finished_at_ms = seedgate_core::clock::now_ms();
        let key = video_key(task_id, attempt);
        let mut files = vec![(key.clone(), &artifacts.video)];
        let last_frame_key = artifacts.last_frame.as_ref().map(|frame| {
            let key = last_frame_key(task_id, attempt);
            files.push((key.clone(), frame));
            key
        });
        for (key, artifact) in files {
            if let Err(e) = self.rehoster.store(artifact, &key).await {
                tracing::error!(error = %e, key, "storing a result file failed");
                let error = TaskError {
                    kind: FailureKind::UpstreamError,
                    message: format!("could not copy the result: {e}"),
                };
                return self
                    .store
                    .fail_task(task_id, token, &error)
                    .await
                    .map(|_| ());
            }
        }
        let output = TaskOutput {
            video_keys: vec![key],
            last_frame_key,
            provider_finished_at_ms: Some(provider_finished_at_ms),
            width: artifacts.width,
            height: artifacts.height,
            ..Default::default()
        };
        if self.store.complete_task(task_id, token, &output).await? {
            tracing::info!("task succeeded");
        } else {
            tracing::warn!("task was fenced out before completion");
        }
        Ok(())
    }
}

fn task_error(e: &ProviderError) -> TaskError {
    TaskError {
        kind: e.kind,
        message: e.message.clone(),
    }
}

/// Prunes idempotency keys past their retention, every `every`, until shutdown.
pub async fn housekeeping(
    store: Arc<dyn Store>,
    retention: Duration,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        match store.prune_idempotency_keys(retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "expired idempotency keys removed"),
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

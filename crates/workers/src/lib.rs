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
//! [`janitor`] applies the retention lifetimes (media, timelines, idempotency keys, daily spend).

pub mod alerts;
pub mod callbacks;
pub mod janitor;
pub mod observability;
pub mod polling;
pub mod rehost;
mod stopped;
mod timeline;
mod upstream;

use polling::{Poller, PollerConfig};
use rehost::Rehoster;
use seedgate_core::task::{FailureKind, TaskError, TaskOutput};
use seedgate_core::timeline::TaskEvent;
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
    /// Callbacks that came before their task was followed (an upstream that finishes at once
    /// can call back before the job's id is recorded here), and when: following the task then
    /// polls it at once instead of on the schedule.
    early_callbacks: Mutex<HashMap<TaskId, std::time::Instant>>,
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

/// Most tasks one claim takes (at most the free worker slots).
const MAX_CLAIM_BATCH: usize = 64;

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
            early_callbacks: Mutex::default(),
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
            // Every free slot is filled in one claim: one transaction takes them all.
            let mut permits = vec![permit];
            while permits.len() < MAX_CLAIM_BATCH {
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => permits.push(permit),
                    Err(_) => break,
                }
            }
            let wanted = permits.len();
            match self
                .store
                .claim_tasks(&worker, self.config.lease, self.config.max_attempts, wanted)
                .await
            {
                Ok(claimed) => {
                    let all = claimed.len() == wanted;
                    for (claimed, permit) in claimed.into_iter().zip(permits) {
                        let me = self.clone();
                        let shutdown = shutdown.clone();
                        running.spawn(async move { me.process(claimed, permit, shutdown).await });
                    }
                    // Fewer than asked for: the queue is empty for now.
                    if all {
                        continue;
                    }
                }
                Err(e) => {
                    drop(permits);
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
            tracing::info_span!("task", task_id = %claimed.task.id, attempt = claimed.task.attempt);
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
                let job = upstream_job
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                if !self.cancel_if_stopped(&claimed, job).await {
                    tracing::warn!("lease lost; leaving the task to its new owner");
                }
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
            let copied = self
                .rehoster
                .store(artifact, &key)
                .instrument(tracing::info_span!("result.copy", task_id = %task_id, key))
                .await;
            let event = match &copied {
                Ok(bytes) => TaskEvent::ResultCopied {
                    key: key.clone(),
                    bytes: *bytes,
                },
                Err(e) => TaskEvent::ResultCopyFailed {
                    key: key.clone(),
                    error: e.clone(),
                },
            };
            self.note(task_id, event).await;
            if let Err(e) = copied {
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
        let settled = self
            .store
            .complete_task(task_id, token, &output)
            .instrument(tracing::info_span!("task.settle", task_id = %task_id))
            .await?;
        if settled {
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

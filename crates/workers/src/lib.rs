//! Background work. [`TaskWorkers`] claim tasks from the store with a lease, drive a provider,
//! store the result and settle or refund; a heartbeat keeps the lease while a task runs, and a
//! worker that loses its lease stops touching the task (the store fences it anyway).
//! [`housekeeping`] prunes expired idempotency keys.

pub mod callbacks;

use seedgate_core::task::{FailureKind, TaskError, TaskOutput};
use seedgate_core::TaskId;
use seedgate_providers::{Artifacts, Job, Progress, Provider, ProviderError};
use seedgate_store::{BlobStore, ClaimedTask, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Tasks processed at once by this process.
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
        }
    }
}

pub struct TaskWorkers {
    store: Arc<dyn Store>,
    provider: Arc<dyn Provider>,
    blobs: BlobStore,
    config: WorkerConfig,
    wake: Arc<Notify>,
    id: String,
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
    /// The lease was lost; another worker owns the task now.
    LostLease,
}

impl TaskWorkers {
    pub fn new(
        store: Arc<dyn Store>,
        provider: Arc<dyn Provider>,
        blobs: BlobStore,
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
            provider,
            blobs,
            config,
            wake,
            id,
        })
    }

    /// Runs `concurrency` worker loops until `shutdown` fires; tasks in flight then keep their
    /// lease until it expires, and another worker resumes them.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut loops = tokio::task::JoinSet::new();
        let spawn = |loops: &mut tokio::task::JoinSet<()>, n: usize| {
            let me = self.clone();
            let shutdown = shutdown.clone();
            loops.spawn(async move { me.worker_loop(n, shutdown).await });
        };
        for n in 0..self.config.concurrency.max(1) {
            spawn(&mut loops, n);
        }
        let mut next = self.config.concurrency.max(1);
        while let Some(result) = loops.join_next().await {
            // A loop that panicked is replaced, so a bug in one task cannot stop the queue; its
            // task's lease runs out and the task is retried.
            if let Err(e) = result {
                if e.is_panic() && !shutdown.is_cancelled() {
                    tracing::error!("a worker loop panicked; starting another");
                    spawn(&mut loops, next);
                    next += 1;
                }
            }
        }
    }

    async fn worker_loop(&self, n: usize, shutdown: CancellationToken) {
        let worker = format!("{}#{n}", self.id);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self
                .store
                .claim_task(&worker, self.config.lease, self.config.max_attempts)
                .await
            {
                Ok(Some(claimed)) => {
                    let (id, token) = (claimed.task.id.clone(), claimed.lease_token.clone());
                    tokio::select! {
                        _ = self.process(claimed) => {}
                        _ = shutdown.cancelled() => {
                            // Hand the task back so the next worker starts it at once instead
                            // of waiting for the lease to run out.
                            match self.store.release_lease(&id, &token).await {
                                Ok(_) => tracing::info!(task = %id, "task handed back on shutdown"),
                                Err(e) => tracing::warn!(task = %id, error = %e, "could not hand the task back; its lease will expire"),
                            }
                            return;
                        }
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "claiming a task failed"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.idle_poll) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    async fn process(&self, claimed: ClaimedTask) {
        let span =
            tracing::info_span!("task", id = %claimed.task.id, attempt = claimed.task.attempt);
        self.process_in_span(claimed).instrument(span).await
    }

    async fn process_in_span(&self, claimed: ClaimedTask) {
        let task_id = claimed.task.id.clone();
        let token = claimed.lease_token.clone();
        let attempt = claimed.task.attempt;
        tracing::info!(provider = self.provider.name(), "task claimed");

        let timeout = self.config.attempt_timeout;
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(timeout, self.drive(&claimed)) => outcome.unwrap_or_else(|_| {
                Outcome::Failed(ProviderError::permanent(
                    FailureKind::Timeout,
                    format!("the task did not finish within {} s", timeout.as_secs()),
                ))
            }),
            _ = self.heartbeat(&task_id, &token) => Outcome::LostLease,
        };
        let result = match outcome {
            Outcome::LostLease => {
                tracing::warn!("lease lost; leaving the task to its new owner");
                return;
            }
            Outcome::Done(artifacts) => self.finish(&task_id, &token, attempt, artifacts).await,
            Outcome::Failed(e) if e.retryable && attempt < self.config.max_attempts => {
                let delay = self.config.retry_base * 2u32.saturating_pow(attempt.saturating_sub(1));
                tracing::warn!(error = %e, ?delay, "provider failed; retrying");
                let error = TaskError {
                    kind: e.kind,
                    message: e.message,
                };
                self.store
                    .retry_task(&task_id, &token, delay, &error)
                    .await
                    .map(|_| ())
            }
            Outcome::Failed(e) => {
                tracing::info!(error = %e, "task failed; refunding");
                let error = TaskError {
                    kind: e.kind,
                    message: e.message,
                };
                self.store
                    .fail_task(&task_id, &token, &error)
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = result {
            // The lease runs out and the task is retried; nothing is lost.
            tracing::error!(error = %e, "recording the task's outcome failed");
        }
    }

    /// Submits (or, after a restart, resumes) the job and polls until it is done.
    async fn drive(&self, claimed: &ClaimedTask) -> Outcome {
        let job = Job {
            task_id: claimed.task.id.clone(),
            request: claimed.task.request.clone(),
        };
        let mut progress = match &claimed.provider_job_id {
            Some(job_id) => self.provider.poll(&job, job_id).await,
            None => self.provider.submit(&job).await,
        };
        loop {
            match progress {
                Ok(Progress::Done(artifacts)) => return Outcome::Done(artifacts),
                Err(e) => return Outcome::Failed(e),
                Ok(Progress::Pending {
                    provider_job_id,
                    poll_after,
                }) => {
                    match self
                        .store
                        .record_provider_job(
                            &job.task_id,
                            &claimed.lease_token,
                            self.provider.name(),
                            &provider_job_id,
                        )
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => return Outcome::LostLease,
                        Err(e) => tracing::error!(error = %e, "recording the provider job failed"),
                    }
                    tokio::time::sleep(poll_after).await;
                    progress = self.provider.poll(&job, &provider_job_id).await;
                }
            }
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

    async fn finish(
        &self,
        task_id: &TaskId,
        token: &str,
        attempt: u32,
        artifacts: Artifacts,
    ) -> Result<(), seedgate_store::StoreError> {
        let provider_finished_at_ms = seedgate_store::now_ms();
        let key = video_key(task_id, attempt);
        let mut files = vec![(key.clone(), artifacts.video.bytes)];
        let last_frame_key = artifacts.last_frame.map(|frame| {
            let key = last_frame_key(task_id, attempt);
            files.push((key.clone(), frame.bytes));
            key
        });
        for (key, bytes) in files {
            if let Err(e) = self.blobs.put(&key, bytes).await {
                tracing::error!(error = %e, key, "storing a result file failed");
                let error = TaskError {
                    kind: FailureKind::Internal,
                    message: "could not store the result".into(),
                };
                return self
                    .store
                    .retry_task(task_id, token, self.config.retry_base, &error)
                    .await
                    .map(|_| ());
            }
        }
        let output = TaskOutput {
            video_keys: vec![key],
            last_frame_key,
            provider_finished_at_ms: Some(provider_finished_at_ms),
            width: Some(artifacts.width),
            height: Some(artifacts.height),
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

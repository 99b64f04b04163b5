//! Status polling for tasks running at an upstream. One [`Poller`] per account collects the
//! polls its tasks ask for and sends every poll that is due at once, concurrently (up to a
//! per-account limit), so a thousand tasks never wait on each other. A `Retry-After` from the
//! account holds all of its polls back for that long; a nudge (an upstream callback for the
//! task) makes a task's poll due now.

use seedgate_core::TaskId;
use seedgate_providers::{Job, Progress, Provider, ProviderError};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub type PollResult = Result<Progress, ProviderError>;

enum Command {
    Poll {
        job: Box<Job>,
        provider_job_id: String,
        at: Instant,
        reply: oneshot::Sender<PollResult>,
    },
    Nudge(TaskId),
    Hold(Instant),
}

struct Waiting {
    job: Box<Job>,
    provider_job_id: String,
    at: Instant,
    reply: oneshot::Sender<PollResult>,
}

/// Polls one account's tasks in batches.
#[derive(Clone)]
pub struct Poller {
    commands: mpsc::UnboundedSender<Command>,
}

/// How many polls one batch may have in flight for one account.
#[derive(Debug, Clone, Copy)]
pub struct PollerConfig {
    pub concurrency: usize,
    /// Polls due within this much of each other go out together.
    pub batch_window: Duration,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            batch_window: Duration::from_millis(20),
        }
    }
}

impl Poller {
    /// Starts the account's poll loop; it stops with `shutdown`.
    pub fn start(
        provider: Arc<dyn Provider>,
        config: PollerConfig,
        shutdown: CancellationToken,
    ) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        let poller = Self { commands };
        tokio::spawn(run(provider, config, rx, poller.commands.clone(), shutdown));
        poller
    }

    /// Polls the job at `at` (or sooner, if nudged) and returns what the upstream said. `None`
    /// when the poller has stopped.
    pub async fn poll(&self, job: &Job, provider_job_id: &str, at: Instant) -> Option<PollResult> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Poll {
                job: Box::new(job.clone()),
                provider_job_id: provider_job_id.to_string(),
                at,
                reply,
            })
            .ok()?;
        answer.await.ok()
    }

    /// Makes the task's next poll due now (its current one, if it is waiting; else the next
    /// one it asks for).
    pub fn nudge(&self, task: &TaskId) {
        let _ = self.commands.send(Command::Nudge(task.clone()));
    }
}

async fn run(
    provider: Arc<dyn Provider>,
    config: PollerConfig,
    mut commands: mpsc::UnboundedReceiver<Command>,
    feedback: mpsc::UnboundedSender<Command>,
    shutdown: CancellationToken,
) {
    let mut waiting: HashMap<TaskId, Waiting> = HashMap::new();
    // Nudges for tasks whose poll is not waiting right now (in flight, or being stored).
    let mut nudged: HashSet<TaskId> = HashSet::new();
    let mut hold_until: Option<Instant> = None;
    let limit = Arc::new(Semaphore::new(config.concurrency.max(1)));
    loop {
        let next_due = waiting.values().map(|w| w.at).min();
        let wake_at = match (next_due, hold_until) {
            (Some(due), Some(hold)) => Some(due.max(hold)),
            (due, _) => due,
        };
        let sleep = async {
            match wake_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            command = commands.recv() => match command {
                None => return,
                Some(Command::Poll { job, provider_job_id, at, reply }) => {
                    let at = if nudged.remove(&job.task_id) { Instant::now() } else { at };
                    waiting.insert(job.task_id.clone(), Waiting { job, provider_job_id, at, reply });
                }
                Some(Command::Nudge(task)) => match waiting.get_mut(&task) {
                    Some(w) => w.at = Instant::now(),
                    None => {
                        nudged.insert(task);
                    }
                },
                Some(Command::Hold(until)) => {
                    hold_until = Some(hold_until.map_or(until, |h| h.max(until)));
                }
            },
            _ = sleep => {
                let now = Instant::now();
                if hold_until.is_some_and(|h| h > now) {
                    continue;
                }
                hold_until = None;
                let horizon = now + config.batch_window;
                let due: Vec<TaskId> = waiting
                    .iter()
                    .filter(|(_, w)| w.at <= horizon)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in due {
                    let Some(w) = waiting.remove(&id) else { continue };
                    nudged.remove(&id);
                    let provider = provider.clone();
                    let limit = limit.clone();
                    let feedback = feedback.clone();
                    tokio::spawn(async move {
                        let Ok(_permit) = limit.acquire_owned().await else { return };
                        let span = tracing::info_span!("upstream.poll", task_id = %w.job.task_id, account = provider.name());
                        let result = tracing::Instrument::instrument(provider.poll(&w.job, &w.provider_job_id), span).await;
                        if let Err(e) = &result {
                            if let Some(after) = e.retry_after {
                                let _ = feedback.send(Command::Hold(Instant::now() + after));
                            }
                        }
                        let _ = w.reply.send(result);
                    });
                }
            }
        }
    }
}

/// The wait before the next poll of a task that is still running: quick at first (most of a
/// short task's life), then backing off towards `max`.
pub fn next_interval(previous: Duration, min: Duration, max: Duration) -> Duration {
    if previous.is_zero() {
        min
    } else {
        (previous.mul_f64(1.5)).clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use seedgate_core::task::FailureKind;
    use seedgate_providers::CheckReport;
    use std::sync::Mutex;

    /// Records when each poll arrived; answers "still running", or a 429 with Retry-After for
    /// job ids starting with `limited`.
    struct Recorder {
        calls: Mutex<Vec<(String, Instant)>>,
        in_flight: std::sync::atomic::AtomicUsize,
        peak: std::sync::atomic::AtomicUsize,
        latency: Duration,
    }

    #[async_trait]
    impl Provider for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }
        fn serves(&self, _model: &str) -> bool {
            true
        }
        async fn submit(&self, _job: &Job) -> PollResult {
            unreachable!()
        }
        async fn poll(&self, _job: &Job, id: &str) -> PollResult {
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.in_flight.fetch_add(1, SeqCst) + 1;
            self.peak.fetch_max(now, SeqCst);
            self.calls
                .lock()
                .expect("lock")
                .push((id.to_string(), Instant::now()));
            tokio::time::sleep(self.latency).await;
            self.in_flight.fetch_sub(1, SeqCst);
            if id.starts_with("limited") {
                return Err(ProviderError::retryable(FailureKind::RateLimited, "429")
                    .with_retry_after(Some(Duration::from_secs(3))));
            }
            Ok(Progress::Pending {
                provider_job_id: id.to_string(),
                poll_after: Duration::from_secs(1),
                upstream_status: None,
            })
        }
        async fn check(&self) -> CheckReport {
            unreachable!()
        }
    }

    fn recorder(latency: Duration) -> Arc<Recorder> {
        Arc::new(Recorder {
            calls: Mutex::default(),
            in_flight: Default::default(),
            peak: Default::default(),
            latency,
        })
    }

    fn job(n: usize) -> Job {
        let catalog = seedgate_core::Catalog::builtin();
        let draft = seedgate_core::RequestDraft {
            model: Some("seedance-2.0-mini".into()),
            prompt: Some("a poll".into()),
            ..Default::default()
        };
        Job {
            task_id: TaskId::from_string(format!("task_{n}")),
            request: seedgate_core::GenerationRequest::from_draft(draft, &catalog).expect("valid"),
            attempt: 1,
            submit_key: format!("task_{n}-1"),
            upstream_callback_url: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn due_polls_go_out_together_and_concurrently_not_one_after_another() {
        let provider = recorder(Duration::from_secs(1));
        let poller = Poller::start(
            provider.clone(),
            PollerConfig {
                concurrency: 50,
                batch_window: Duration::from_millis(20),
            },
            CancellationToken::new(),
        );
        let start = Instant::now();
        let at = start + Duration::from_secs(2);
        let polls = (0..40).map(|n| {
            let poller = poller.clone();
            async move { poller.poll(&job(n), &format!("up-{n}"), at).await }
        });
        let results = futures::future::join_all(polls).await;
        assert!(results
            .iter()
            .all(|r| matches!(r, Some(Ok(Progress::Pending { .. })))));
        // Forty polls of one second each, all due at t=2 s: together they take one second,
        // not forty.
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        let calls = provider.calls.lock().expect("lock");
        assert_eq!(calls.len(), 40);
        assert!(
            calls.iter().all(|(_, t)| *t == at),
            "none polled early or late"
        );
        assert_eq!(provider.peak.load(std::sync::atomic::Ordering::SeqCst), 40);
    }

    #[tokio::test(start_paused = true)]
    async fn the_per_account_limit_bounds_polls_in_flight() {
        let provider = recorder(Duration::from_secs(1));
        let poller = Poller::start(
            provider.clone(),
            PollerConfig {
                concurrency: 4,
                batch_window: Duration::from_millis(20),
            },
            CancellationToken::new(),
        );
        let start = Instant::now();
        let polls = (0..10).map(|n| {
            let poller = poller.clone();
            async move { poller.poll(&job(n), &format!("up-{n}"), start).await }
        });
        futures::future::join_all(polls).await;
        assert_eq!(provider.peak.load(std::sync::atomic::Ordering::SeqCst), 4);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(3),
            "ceil(10 / 4) rounds"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_nudge_brings_a_waiting_poll_forward() {
        let provider = recorder(Duration::ZERO);
        let poller = Poller::start(
            provider.clone(),
            PollerConfig::default(),
            CancellationToken::new(),
        );
        let start = Instant::now();
        let j = job(1);
        let waiting = {
            let poller = poller.clone();
            let j = j.clone();
            tokio::spawn(async move {
                poller
                    .poll(&j, "up-1", start + Duration::from_secs(60))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        poller.nudge(&j.task_id);
        let result = waiting.await.expect("join");
        assert!(matches!(result, Some(Ok(_))));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "polled at once, not after 60 s"
        );

        // A nudge that arrives while no poll is waiting applies to the next one.
        poller.nudge(&j.task_id);
        let before = Instant::now();
        poller
            .poll(&j, "up-1", before + Duration::from_secs(60))
            .await
            .expect("answer")
            .expect("ok");
        assert!(before.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_holds_back_every_poll_of_the_account() {
        let provider = recorder(Duration::ZERO);
        let poller = Poller::start(
            provider.clone(),
            PollerConfig::default(),
            CancellationToken::new(),
        );
        let start = Instant::now();
        let limited = poller
            .poll(&job(1), "limited-1", start)
            .await
            .expect("answer");
        assert_eq!(
            limited.err().and_then(|e| e.retry_after),
            Some(Duration::from_secs(3))
        );
        // Due at once, but the account asked for three seconds of quiet.
        poller
            .poll(&job(2), "up-2", Instant::now())
            .await
            .expect("answer")
            .expect("ok");
        let calls = provider.calls.lock().expect("lock");
        let (_, second) = calls.iter().find(|(id, _)| id == "up-2").expect("polled");
        assert!(
            second.duration_since(start) >= Duration::from_secs(3),
            "polled after {:?}",
            second.duration_since(start)
        );
    }

    #[test]
    fn intervals_back_off_within_bounds() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(10));
        let mut d = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..10 {
            d = next_interval(d, min, max);
            seen.push(d.as_millis());
        }
        assert_eq!(seen[..4], [1000, 1500, 2250, 3375]);
        assert_eq!(*seen.last().expect("last"), 10_000);
    }
}

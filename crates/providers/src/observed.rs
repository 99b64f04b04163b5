//! Every call to an account, seen from outside its provider. [`Observed`] wraps each configured
//! account's provider (see [`crate::Account::new`]) and, per call, counts it in Prometheus
//! (`seedgate_upstream_requests_total`, `seedgate_upstream_request_duration_seconds`,
//! `seedgate_upstream_time_to_result_seconds`) and keeps a bounded recent window in
//! [`UpstreamStats`] for the admin API's upstream view: success rate, submit latency, time to
//! result and the last errors.
//!
//! The window is per replica and bounded both ways (the last [`RECENT_OUTCOMES`] calls, none
//! older than [`RECENT_WINDOW`]), so a busy account costs no more memory than a quiet one and
//! an old outage does not linger in the rate. Labels name the configured account only (a
//! bounded set); never a task or an upstream job.

use crate::{CheckReport, ErrorClass, Job, Progress, Provider, ProviderError};
use async_trait::async_trait;
use seedgate_core::{GenerationRequest, Inexpressible, TaskId};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Calls kept for the success rate and latencies.
pub const RECENT_OUTCOMES: usize = 100;
/// Calls older than this leave the window however few there were.
pub const RECENT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Errors kept for the operator, newest first.
pub const LAST_ERRORS: usize = 10;
/// Accepted submits remembered until their result, to time it. Past this many (tasks this
/// replica follows at once), new ones are not timed rather than memory growing.
const TIMED_SUBMITS: usize = 10_000;
/// A remembered submit older than this is forgotten (its task ended elsewhere, or never).
const TIMED_SUBMIT_MAX_AGE: Duration = Duration::from_secs(48 * 3600);
/// An error message longer than this is cut (on a character boundary) in the window.
const ERROR_MESSAGE_CHARS: usize = 500;

/// What a call to an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Poll,
    Cancel,
    Check,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Poll => "poll",
            Operation::Cancel => "cancel",
            Operation::Check => "check",
        }
    }
}

/// The `outcome` label of a call that failed.
pub fn class_name(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::Transient => "transient",
        ErrorClass::Permanent => "permanent",
        ErrorClass::Ambiguous => "ambiguous",
    }
}

/// One failed call, as the upstream view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentError {
    pub at: SystemTime,
    pub operation: Operation,
    /// `transient`, `permanent` or `ambiguous` (see [`ErrorClass`]); `failed` for a check.
    pub class: &'static str,
    pub message: String,
}

/// Latencies over the window, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    pub samples: usize,
    pub mean_seconds: f64,
    pub p50_seconds: f64,
    pub p95_seconds: f64,
    pub max_seconds: f64,
}

/// What [`UpstreamStats::snapshot`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSnapshot {
    /// Creates, polls and cancels in the window (checks are the operator's, not traffic).
    pub calls: usize,
    pub successes: usize,
    /// `successes / calls`; `None` before any call.
    pub success_rate: Option<f64>,
    /// How long creates took to be answered (accepted or refused).
    pub submit_latency: Option<LatencySummary>,
    /// From an accepted create to the poll that saw the result.
    pub time_to_result: Option<LatencySummary>,
    /// Newest first, at most [`LAST_ERRORS`].
    pub last_errors: Vec<RecentError>,
}

#[derive(Debug, Default)]
struct Window {
    /// (when, succeeded) per create/poll/cancel.
    outcomes: VecDeque<(Instant, bool)>,
    submit_latencies: VecDeque<(Instant, Duration)>,
    results: VecDeque<(Instant, Duration)>,
    errors: VecDeque<RecentError>,
    /// Accepted submits waiting for their result, by task.
    submitted: HashMap<TaskId, Instant>,
}

fn push_bounded<T>(queue: &mut VecDeque<(Instant, T)>, now: Instant, value: T) {
    queue.push_back((now, value));
    while queue.len() > RECENT_OUTCOMES {
        queue.pop_front();
    }
}

fn expire<T>(queue: &mut VecDeque<(Instant, T)>, now: Instant) {
    while queue
        .front()
        .is_some_and(|(at, _)| now.saturating_duration_since(*at) > RECENT_WINDOW)
    {
        queue.pop_front();
    }
}

fn summary(samples: &VecDeque<(Instant, Duration)>) -> Option<LatencySummary> {
    if samples.is_empty() {
        return None;
    }
    let mut seconds: Vec<f64> = samples.iter().map(|(_, d)| d.as_secs_f64()).collect();
    seconds.sort_by(f64::total_cmp);
    // Nearest rank: the smallest sample at or above the quantile.
    let rank = |q: f64| {
        let index = (q * seconds.len() as f64).ceil() as usize;
        seconds[index.clamp(1, seconds.len()) - 1]
    };
    Some(LatencySummary {
        samples: seconds.len(),
        mean_seconds: seconds.iter().sum::<f64>() / seconds.len() as f64,
        p50_seconds: rank(0.5),
        p95_seconds: rank(0.95),
        max_seconds: seconds[seconds.len() - 1],
    })
}

fn shortened(message: &str) -> String {
    match message.char_indices().nth(ERROR_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_string(),
    }
}

/// An account's recent calls on this replica.
#[derive(Debug, Default)]
pub struct UpstreamStats {
    window: Mutex<Window>,
}

impl UpstreamStats {
    fn with<R>(&self, f: impl FnOnce(&mut Window) -> R) -> R {
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut window)
    }

    fn record_call(&self, now: Instant, operation: Operation, error: Option<(&'static str, &str)>) {
        self.with(|w| {
            if operation != Operation::Check {
                push_bounded(&mut w.outcomes, now, error.is_none());
            }
            if let Some((class, message)) = error {
                w.errors.push_front(RecentError {
                    at: SystemTime::now(),
                    operation,
                    class,
                    message: shortened(message),
                });
                w.errors.truncate(LAST_ERRORS);
            }
        });
    }

    fn record_submit(&self, now: Instant, took: Duration, task: &TaskId, accepted: bool) {
        self.with(|w| {
            push_bounded(&mut w.submit_latencies, now, took);
            if !accepted {
                return;
            }
            if w.submitted.len() >= TIMED_SUBMITS {
                w.submitted
                    .retain(|_, at| now.saturating_duration_since(*at) < TIMED_SUBMIT_MAX_AGE);
            }
            if w.submitted.len() < TIMED_SUBMITS {
                w.submitted.insert(task.clone(), now - took);
            }
        });
    }

    /// A task's result was seen (or it ended) at the account: how long since its submit was
    /// sent, when this replica sent it.
    fn result_seen(&self, now: Instant, task: &TaskId, done: bool) -> Option<Duration> {
        self.with(|w| {
            let sent = w.submitted.remove(task)?;
            let took = now.saturating_duration_since(sent);
            if done {
                push_bounded(&mut w.results, now, took);
            }
            done.then_some(took)
        })
    }

    fn record_immediate_result(&self, now: Instant, took: Duration) {
        self.with(|w| push_bounded(&mut w.results, now, took));
    }

    /// The window as it stands now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let now = Instant::now();
        self.with(|w| {
            expire(&mut w.outcomes, now);
            expire(&mut w.submit_latencies, now);
            expire(&mut w.results, now);
            let calls = w.outcomes.len();
            let successes = w.outcomes.iter().filter(|(_, ok)| *ok).count();
            StatsSnapshot {
                calls,
                successes,
                success_rate: (calls > 0).then(|| successes as f64 / calls as f64),
                submit_latency: summary(&w.submit_latencies),
                time_to_result: summary(&w.results),
                last_errors: w.errors.iter().cloned().collect(),
            }
        })
    }
}

/// A provider whose every call is counted and timed. Every method of [`Provider`] is passed
/// through, those with default bodies too: a new method must be added here, or the wrapped
/// account would answer with the default instead of its own.
pub struct Observed {
    inner: Arc<dyn Provider>,
    stats: Arc<UpstreamStats>,
}

impl Observed {
    pub fn new(inner: Arc<dyn Provider>, stats: Arc<UpstreamStats>) -> Self {
        Self { inner, stats }
    }

    fn count(&self, operation: Operation, outcome: &'static str, took: Duration) {
        let upstream = self.inner.name().to_string();
        metrics::counter!("seedgate_upstream_requests_total",
            "upstream" => upstream.clone(), "operation" => operation.as_str(), "outcome" => outcome)
        .increment(1);
        metrics::histogram!("seedgate_upstream_request_duration_seconds",
            "upstream" => upstream, "operation" => operation.as_str())
        .record(took.as_secs_f64());
    }

    fn result_time(&self, took: Duration) {
        metrics::histogram!("seedgate_upstream_time_to_result_seconds",
            "upstream" => self.inner.name().to_string())
        .record(took.as_secs_f64());
    }

    /// Counts a create, poll or cancel and feeds the window.
    fn observe<T>(
        &self,
        operation: Operation,
        started: Instant,
        result: &Result<T, ProviderError>,
    ) -> (Instant, Duration) {
        let now = Instant::now();
        let took = now.saturating_duration_since(started);
        match result {
            Ok(_) => {
                self.count(operation, "ok", took);
                self.stats.record_call(now, operation, None);
            }
            Err(e) => {
                let class = class_name(e.class);
                self.count(operation, class, took);
                self.stats
                    .record_call(now, operation, Some((class, &e.message)));
            }
        }
        (now, took)
    }
}

#[async_trait]
impl Provider for Observed {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn serves(&self, model: &str) -> bool {
        self.inner.serves(model)
    }

    fn inexpressible(&self, request: &GenerationRequest) -> Option<Inexpressible> {
        self.inner.inexpressible(request)
    }

    fn remote(&self) -> bool {
        self.inner.remote()
    }

    async fn submit(&self, job: &Job) -> Result<Progress, ProviderError> {
        let started = Instant::now();
        let result = self.inner.submit(job).await;
        let (now, took) = self.observe(Operation::Create, started, &result);
        let accepted = matches!(result, Ok(Progress::Pending { .. }));
        self.stats.record_submit(now, took, &job.task_id, accepted);
        if let Ok(Progress::Done(_)) = result {
            // Finished within the submit (the local renderer): the submit was the whole wait.
            self.stats.record_immediate_result(now, took);
            self.result_time(took);
        }
        result
    }

    async fn poll(&self, job: &Job, provider_job_id: &str) -> Result<Progress, ProviderError> {
        let started = Instant::now();
        let result = self.inner.poll(job, provider_job_id).await;
        let (now, _) = self.observe(Operation::Poll, started, &result);
        let ended = match &result {
            Ok(Progress::Done(_)) => Some(true),
            Err(e) if e.class == ErrorClass::Permanent => Some(false),
            _ => None,
        };
        if let Some(done) = ended {
            if let Some(took) = self.stats.result_seen(now, &job.task_id, done) {
                self.result_time(took);
            }
        }
        result
    }

    async fn cancel(&self, job: &Job, provider_job_id: &str) -> Result<(), ProviderError> {
        let started = Instant::now();
        let result = self.inner.cancel(job, provider_job_id).await;
        self.observe(Operation::Cancel, started, &result);
        let _ = self.stats.result_seen(Instant::now(), &job.task_id, false);
        result
    }

    fn callback_job_id(&self, body: &[u8]) -> Option<String> {
        self.inner.callback_job_id(body)
    }

    async fn check(&self) -> CheckReport {
        let started = Instant::now();
        let report = self.inner.check().await;
        let now = Instant::now();
        let took = now.saturating_duration_since(started);
        let ok = report.authenticated && report.models.iter().all(|(_, r)| r.is_ok());
        self.count(Operation::Check, if ok { "ok" } else { "failed" }, took);
        if !ok {
            let mut message = if report.authenticated {
                String::new()
            } else {
                "credentials refused; ".to_string()
            };
            for (model, result) in &report.models {
                if let Err(why) = result {
                    message.push_str(&format!("{model}: {why}; "));
                }
            }
            message.push_str(&report.detail);
            self.stats
                .record_call(now, Operation::Check, Some(("failed", message.trim_end())));
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Artifact, ArtifactBody, Artifacts};
    use seedgate_core::task::FailureKind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers each call from a script: `p` pending, `d` done, `t` transient, `x` permanent.
    struct Scripted {
        script: Vec<char>,
        next: AtomicUsize,
    }

    impl Scripted {
        fn answer(&self) -> Result<Progress, ProviderError> {
            let i = self.next.fetch_add(1, Ordering::SeqCst);
            match self.script.get(i).copied().unwrap_or('p') {
                'd' => Ok(Progress::Done(Artifacts {
                    video: Artifact {
                        body: ArtifactBody::remote("https://cdn.example/v.mp4"),
                        content_type: "video/mp4".into(),
                    },
                    width: None,
                    height: None,
                    last_frame: None,
                })),
                't' => Err(ProviderError::retryable(
                    FailureKind::UpstreamError,
                    "503 busy",
                )),
                'x' => Err(ProviderError::permanent(
                    FailureKind::InvalidInput,
                    "refused",
                )),
                _ => Ok(Progress::Pending {
                    provider_job_id: "job-1".into(),
                    poll_after: Duration::ZERO,
                    upstream_status: None,
                }),
            }
        }
    }

    #[async_trait]
    impl Provider for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        fn serves(&self, _model: &str) -> bool {
            true
        }
        async fn submit(&self, _job: &Job) -> Result<Progress, ProviderError> {
            self.answer()
        }
        async fn poll(&self, _job: &Job, _id: &str) -> Result<Progress, ProviderError> {
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.answer()
        }
        async fn check(&self) -> CheckReport {
            CheckReport {
                authenticated: false,
                models: vec![("m".into(), Err("no access".into()))],
                detail: "401".into(),
            }
        }
    }

    fn job(task: &str) -> Job {
        Job {
            task_id: TaskId::from_string(task.to_string()),
            request: crate::upstream::apixo::tests::request(seedgate_core::Mode::T2v),
            attempt: 1,
            submit_key: format!("{task}-1"),
            upstream_callback_url: None,
        }
    }

    fn observed(script: &str) -> (Observed, Arc<UpstreamStats>) {
        let stats = Arc::new(UpstreamStats::default());
        let provider = Arc::new(Scripted {
            script: script.chars().collect(),
            next: AtomicUsize::new(0),
        });
        (Observed::new(provider, stats.clone()), stats)
    }

    #[tokio::test]
    async fn the_window_counts_successes_times_results_and_keeps_the_last_errors() {
        // Task a: accepted, polled pending, then done. Task b: refused on a transient error.
        let (provider, stats) = observed("ppdt");
        let empty = stats.snapshot();
        assert_eq!((empty.calls, empty.success_rate), (0, None));
        provider.submit(&job("task_a")).await.expect("accepted");
        provider
            .poll(&job("task_a"), "job-1")
            .await
            .expect("pending");
        provider.poll(&job("task_a"), "job-1").await.expect("done");
        provider
            .submit(&job("task_b"))
            .await
            .expect_err("transient");
        let snapshot = stats.snapshot();
        assert_eq!((snapshot.calls, snapshot.successes), (4, 3));
        assert_eq!(snapshot.success_rate, Some(0.75));
        assert_eq!(snapshot.submit_latency.map(|l| l.samples), Some(2));
        let result = snapshot.time_to_result.expect("a result was timed");
        assert_eq!(result.samples, 1);
        assert!(
            result.max_seconds >= 0.04,
            "two polls of 20 ms lie between submit and result: {result:?}"
        );
        assert_eq!(snapshot.last_errors.len(), 1);
        assert_eq!(snapshot.last_errors[0].operation, Operation::Create);
        assert_eq!(snapshot.last_errors[0].class, "transient");
        assert!(snapshot.last_errors[0].message.contains("503 busy"));
    }

    #[tokio::test]
    async fn the_window_is_bounded() {
        let (provider, stats) = observed(&"t".repeat(RECENT_OUTCOMES + 30));
        for i in 0..RECENT_OUTCOMES + 30 {
            let _ = provider.submit(&job(&format!("task_{i}"))).await;
        }
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.calls, RECENT_OUTCOMES);
        assert_eq!(snapshot.success_rate, Some(0.0));
        assert_eq!(snapshot.last_errors.len(), LAST_ERRORS);
    }

    #[tokio::test]
    async fn a_failed_check_is_an_error_but_not_traffic() {
        let (provider, stats) = observed("");
        let report = provider.check().await;
        assert!(!report.authenticated, "the report is the provider's own");
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.calls, 0);
        assert_eq!(snapshot.last_errors[0].operation, Operation::Check);
        assert!(
            snapshot.last_errors[0].message.contains("m: no access"),
            "{:?}",
            snapshot.last_errors[0]
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let message = "é".repeat(ERROR_MESSAGE_CHARS + 5);
        let cut = shortened(&message);
        assert_eq!(cut.chars().count(), ERROR_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let now = Instant::now();
        let samples: VecDeque<(Instant, Duration)> =
            (1..=20).map(|s| (now, Duration::from_secs(s))).collect();
        let s = summary(&samples).expect("samples");
        assert_eq!(
            (s.p50_seconds, s.p95_seconds, s.max_seconds),
            (10.0, 19.0, 20.0)
        );
        assert_eq!(s.mean_seconds, 10.5);
    }
}

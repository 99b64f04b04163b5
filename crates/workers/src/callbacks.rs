//! The callback dispatcher: delivers the outbox the store fills when a task finishes.
//!
//! Each callback is leased (so several dispatchers, on several replicas, never send the same
//! attempt), rendered in the dialect its task was created in, signed with the Standard Webhooks
//! headers (and HiAPI's own for HiAPI tasks), and sent through the SSRF-safe fetcher without
//! following redirects. Any 2xx delivers it; 410 stops it; anything else (a 3xx included) is
//! retried on the schedule, honouring `Retry-After`, until the schedule is used up. Deliveries
//! run concurrently under a global bound, a per-host bound and a per-account bound, so a slow or
//! dead receiver holds up only its own callbacks, and one account's dead receivers (on any
//! number of hosts) only that account's. A callback whose host or account is at its share is
//! deferred a little, behind the other due callbacks, instead of waiting for a slot.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use seedgate_core::webhook::{self, AttemptOutcome, WebhookSecret};
pub use seedgate_core::webhook::{CallbackRenderer, RenderedCallback};
use seedgate_fetch::{Fetcher, OutboundRequest};
use seedgate_store::{CallbackAttempt, CallbackJob, CallbackResolution, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// How far a callback whose host or account is at its share is pushed back, per step.
const DEFER_STEP_MS: i64 = 250;
/// The most steps a deferral takes (10 s).
const MAX_DEFER_STEPS: u64 = 40;

/// The longest a busy dispatcher waits for a batch's worth of free slots before it claims
/// for whatever is free.
const REFILL_WAIT: Duration = Duration::from_millis(20);

/// The most attempts written down in one transaction.
const MAX_RECORD_BATCH: usize = 256;

/// One finished attempt waiting to be written down, and who waits for the answer.
struct PendingRecord {
    job: CallbackJob,
    attempt: CallbackAttempt,
    resolution: CallbackResolution,
    reply: tokio::sync::oneshot::Sender<Result<bool, seedgate_store::StoreError>>,
}

/// Writes attempts down in groups: whatever deliveries finished while the previous group was
/// being committed go in the next one, in one transaction. Each delivery still waits for its
/// own record to commit before it gives up its slot, so nothing is acknowledged early, and
/// each record is still fenced by its own lease; only the sync to disk is shared, which is
/// what bounded deliveries per second when every attempt had a transaction of its own.
async fn record_attempts(
    store: Arc<dyn Store>,
    mut pending: tokio::sync::mpsc::Receiver<PendingRecord>,
) {
    let mut group = Vec::with_capacity(MAX_RECORD_BATCH);
    while pending.recv_many(&mut group, MAX_RECORD_BATCH).await > 0 {
        let attempts: Vec<_> = group
            .iter()
            .map(|p| (&p.job, &p.attempt, p.resolution))
            .collect();
        let result = store.record_callback_attempts(&attempts).await;
        drop(attempts);
        match result {
            Ok(recorded) => {
                for (p, recorded) in group.drain(..).zip(recorded) {
                    let _ = p.reply.send(Ok(recorded));
                }
            }
            Err(e) => {
                // Nothing of the group was written: each delivery's lease expires and it is
                // sent again (the receiver may hear it twice, never not at all).
                let message = e.to_string();
                for p in group.drain(..) {
                    let _ = p
                        .reply
                        .send(Err(seedgate_store::StoreError::Conflict(format!(
                            "recording the attempt failed: {message}"
                        ))));
                }
            }
        }
    }
}

/// What one delivery needs besides its job, read for its whole batch: its task (`None` if
/// it no longer exists) and its key's signing secrets, or why either could not be read.
struct DeliveryInput {
    task: Result<Option<Arc<seedgate_core::task::Task>>, String>,
    secrets: Result<Arc<Vec<WebhookSecret>>, String>,
}

/// The inputs of a batch of claimed callbacks, by task id and by key id.
struct BatchInputs {
    tasks: Result<HashMap<String, Arc<seedgate_core::task::Task>>, String>,
    secrets: HashMap<String, Result<Arc<Vec<WebhookSecret>>, String>>,
}

impl BatchInputs {
    fn for_job(&self, job: &CallbackJob) -> DeliveryInput {
        DeliveryInput {
            task: self
                .tasks
                .as_ref()
                .map(|tasks| tasks.get(job.task_id.as_str()).cloned())
                .map_err(Clone::clone),
            secrets: self
                .secrets
                .get(job.api_key_id.as_str())
                .cloned()
                .unwrap_or_else(|| Err("the key's signing secrets were not read".into())),
        }
    }
}

/// In-flight bounds keyed by a name (a host, an account), each `limit` deliveries.
struct Shares {
    limit: usize,
    by_name: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Shares {
    fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            by_name: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for `name` if it is below its share.
    fn try_acquire(&self, name: &str) -> Option<OwnedSemaphorePermit> {
        let mut by_name = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        // Forget idle names now and then so the map does not grow without bound.
        if by_name.len() > 10_000 {
            by_name.retain(|_, s| s.available_permits() < self.limit);
        }
        by_name
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
            .clone()
            .try_acquire_owned()
            .ok()
    }
}

#[derive(Debug, Clone)]
pub struct CallbackConfig {
    /// Delay before each retry: the n-th entry follows the n-th failed attempt.
    pub retry_schedule: Vec<Duration>,
    /// ± this percentage of each delay, at random.
    pub jitter_percent: u32,
    /// One attempt's deadline (connect, send, answer).
    pub attempt_timeout: Duration,
    /// Deliveries in flight in this process.
    pub concurrency: usize,
    /// Deliveries in flight to one host.
    pub per_host: usize,
    /// Deliveries in flight for one account.
    pub per_account: usize,
    /// How often an idle dispatcher looks for due callbacks.
    pub idle_poll: Duration,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        let s = Duration::from_secs;
        Self {
            // Standard Webhooks' example schedule: 10 attempts over about 75 hours.
            retry_schedule: vec![
                s(5),
                s(300),
                s(1800),
                s(7200),
                s(18_000),
                s(36_000),
                s(50_400),
                s(72_000),
                s(86_400),
            ],
            jitter_percent: 15,
            attempt_timeout: s(15),
            concurrency: 64,
            per_host: 8,
            // A quarter of `concurrency`.
            per_account: 16,
            idle_poll: Duration::from_millis(250),
        }
    }
}

/// A new random signing secret (32 bytes).
pub fn generate_secret() -> WebhookSecret {
    use rand::RngCore;
    let mut bytes = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    match WebhookSecret::from_bytes(bytes) {
        Ok(secret) => secret,
        Err(_) => unreachable!("32 bytes is a valid secret length"),
    }
}

/// The key's signing secrets, creating its first one if it has none.
pub async fn signing_secrets(
    store: &dyn Store,
    api_key: &seedgate_core::ApiKeyId,
) -> Result<Vec<WebhookSecret>, seedgate_store::StoreError> {
    let mut texts = store.webhook_secrets(api_key).await?;
    if texts.is_empty() {
        texts.push(
            store
                .ensure_webhook_secret(api_key, &generate_secret().expose())
                .await?,
        );
    }
    Ok(texts
        .iter()
        .filter_map(|t| WebhookSecret::parse(t).ok())
        .collect())
}

pub struct CallbackDispatcher {
    store: Arc<dyn Store>,
    fetcher: Fetcher,
    renderer: Arc<dyn CallbackRenderer>,
    config: CallbackConfig,
    id: String,
    slots: Arc<Semaphore>,
    hosts: Shares,
    accounts: Shares,
    wake: Arc<Notify>,
    records: tokio::sync::mpsc::Sender<PendingRecord>,
}

impl CallbackDispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        fetcher: Fetcher,
        renderer: Arc<dyn CallbackRenderer>,
        config: CallbackConfig,
        wake: Arc<Notify>,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let hosts = Shares::new(config.per_host);
        let accounts = Shares::new(config.per_account);
        let (records, pending) = tokio::sync::mpsc::channel(config.concurrency.max(1) * 2);
        tokio::spawn(record_attempts(store.clone(), pending));
        Self {
            store,
            fetcher,
            renderer,
            config,
            id: format!("cb-{}", ulid::Ulid::new()),
            slots,
            hosts,
            accounts,
            wake,
            records,
        }
    }

    /// Delivers due callbacks until `shutdown`; deliveries in flight then finish (each within
    /// its attempt timeout) or, if the process dies first, their leases expire and another
    /// dispatcher sends them again.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let lease = self.config.attempt_timeout * 2 + Duration::from_secs(5);
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            self.await_refill(&shutdown).await;
            let free = self.slots.available_permits();
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                self.store
                    .claim_callbacks(&self.id, lease, u32::try_from(free).unwrap_or(u32::MAX))
                    .await
            };
            let jobs = match claimed {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming callbacks failed");
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.config.idle_poll) => {}
                }
                continue;
            }
            let inputs = self.read_inputs(&jobs).await;
            // Deferred callbacks of one host or account are spread out, a share's worth per
            // step, so a large backlog of them does not come due again all at once.
            let mut deferred: HashMap<(bool, String), u64> = HashMap::new();
            for job in jobs {
                let input = inputs.for_job(&job);
                self.clone().start(job, input, &mut deferred).await;
            }
        }
        // Wait for the deliveries in flight.
        let all = u32::try_from(self.config.concurrency.max(1)).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(
            self.config.attempt_timeout + Duration::from_secs(1),
            self.slots.acquire_many(all),
        )
        .await;
    }

    /// While deliveries are in flight, waits (briefly) until a batch's worth of slots is free
    /// before the next claim. Claiming whenever one slot freed made every delivery cost a claim
    /// transaction of its own beside its record, and those commits, not the receivers, bounded
    /// deliveries per second. An idle dispatcher has every slot free and claims at once.
    async fn await_refill(&self, shutdown: &CancellationToken) {
        let all = self.config.concurrency.max(1);
        let batch = (all / 4).max(1);
        if self.slots.available_permits() >= batch {
            return;
        }
        let batch = u32::try_from(batch).unwrap_or(u32::MAX);
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(REFILL_WAIT) => {}
            // The permits are only counted, not kept: `start` takes its own per delivery.
            _ = self.slots.acquire_many(batch) => {}
        }
    }

    /// Reads what a batch of claimed callbacks needs, once for the batch: their tasks (one
    /// statement) and each key's signing secrets. Reading them per delivery made each one
    /// two round trips to the database beside its record, which bounded deliveries per second.
    async fn read_inputs(&self, jobs: &[CallbackJob]) -> BatchInputs {
        let mut ids: Vec<_> = jobs.iter().map(|j| j.task_id.clone()).collect();
        ids.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
        ids.dedup();
        let tasks = match self.store.load_tasks(&ids).await {
            Ok(tasks) => Ok(tasks
                .into_iter()
                .map(|t| (t.id.as_str().to_owned(), Arc::new(t)))
                .collect()),
            Err(e) => Err(format!("reading the task failed: {e}")),
        };
        let mut secrets = HashMap::new();
        for job in jobs {
            let key = job.api_key_id.as_str();
            if !secrets.contains_key(key) {
                let read = signing_secrets(&*self.store, &job.api_key_id)
                    .await
                    .map(Arc::new)
                    .map_err(|e| format!("reading the signing secret failed: {e}"));
                secrets.insert(key.to_owned(), read);
            }
        }
        BatchInputs { tasks, secrets }
    }

    async fn start(
        self: Arc<Self>,
        job: CallbackJob,
        input: DeliveryInput,
        deferred: &mut HashMap<(bool, String), u64>,
    ) {
        // The account's share first, then the host's: both are taken or neither is.
        let (saturated, share) = match self.accounts.try_acquire(job.account_id.as_str()) {
            None => (
                (false, job.account_id.as_str().to_owned()),
                self.config.per_account,
            ),
            Some(account_permit) => match self.hosts.try_acquire(&job.host) {
                None => ((true, job.host.clone()), self.config.per_host),
                Some(host_permit) => {
                    let Ok(slot) = self.slots.clone().acquire_owned().await else {
                        return;
                    };
                    tokio::spawn(async move {
                        let _permits = (slot, account_permit, host_permit);
                        if let Err(e) = self.deliver(&job, input).await {
                            tracing::warn!(error = %e, callback = job.id, "recording a callback attempt failed");
                        }
                    });
                    return;
                }
            },
        };
        // That account or host already has its share in flight: let the other due callbacks
        // (ordered by their due time) go first. The n-th deferred in this batch waits a step
        // per share's worth ahead of it.
        let ahead = deferred.entry(saturated).or_default();
        let steps = 1 + *ahead / u64::try_from(share.max(1)).unwrap_or(1);
        *ahead += 1;
        let delay =
            DEFER_STEP_MS.saturating_mul(i64::try_from(steps.min(MAX_DEFER_STEPS)).unwrap_or(1));
        let later = seedgate_core::clock::now_ms() + delay;
        if let Err(e) = self.store.defer_callback(&job, later).await {
            tracing::warn!(error = %e, "deferring a callback failed; its lease will expire");
        }
    }

    async fn deliver(
        &self,
        job: &CallbackJob,
        input: DeliveryInput,
    ) -> Result<(), seedgate_store::StoreError> {
        let started_at_ms = seedgate_core::clock::now_ms();
        let clock = Instant::now();
        let span = tracing::info_span!("callback.deliver", task_id = %job.task_id, callback = job.id, attempt = job.attempts + 1);
        let (status, retry_after, error) =
            match tracing::Instrument::instrument(self.attempt(job, input), span).await {
                Ok((status, retry_after)) => (Some(status), retry_after, None),
                Err(e) => (None, None, Some(e)),
            };
        let attempt = CallbackAttempt {
            attempt: job.attempts + 1,
            started_at_ms,
            status,
            latency_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            error: error.or_else(|| match status {
                Some(s) if (300..400).contains(&s) => {
                    Some("redirects are not followed; update the callback URL".into())
                }
                Some(s) if !(200..300).contains(&s) => Some(format!("receiver answered {s}")),
                _ => None,
            }),
        };
        let resolution = match webhook::classify(status) {
            AttemptOutcome::Delivered => CallbackResolution::Delivered,
            AttemptOutcome::Gone => CallbackResolution::Gone,
            AttemptOutcome::Failed => match webhook::next_delay(
                &self.config.retry_schedule,
                job.attempts + 1,
                self.config.jitter_percent,
                rand::random::<f64>(),
                retry_after,
            ) {
                Some(delay) => CallbackResolution::RetryAt(
                    seedgate_core::clock::now_ms()
                        + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2),
                ),
                None => CallbackResolution::Exhausted,
            },
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let pending = PendingRecord {
            job: job.clone(),
            attempt,
            resolution,
            reply,
        };
        let closed = || seedgate_store::StoreError::Conflict("the dispatcher is stopping".into());
        self.records.send(pending).await.map_err(|_| closed())?;
        let recorded = answer.await.map_err(|_| closed())??;
        if !recorded {
            tracing::warn!(
                callback = job.id,
                "callback lease lost; this attempt is not counted"
            );
        } else {
            crate::observability::callback_attempt(&job.dialect, &resolution, clock.elapsed());
        }
        Ok(())
    }

    /// One HTTP attempt: the receiver's status and `Retry-After`, or why there was no answer.
    async fn attempt(
        &self,
        job: &CallbackJob,
        input: DeliveryInput,
    ) -> Result<(u16, Option<Duration>), String> {
        let task = input.task?.ok_or("the task no longer exists")?;
        let rendered = self
            .renderer
            .render(&job.dialect, &job.event.view(&task))
            .ok_or_else(|| format!("the {} dialect has no callbacks", job.dialect))?;
        let secrets = input.secrets?;
        let timestamp = seedgate_core::clock::now_ms() / 1000;
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        };
        put("content-type", "application/json".into());
        put(
            "user-agent",
            concat!("seedgate/", env!("CARGO_PKG_VERSION")).into(),
        );
        put("webhook-id", job.id.clone());
        put("webhook-timestamp", timestamp.to_string());
        put(
            "webhook-signature",
            webhook::signature_header(&secrets, &job.id, timestamp, &rendered.body),
        );
        if rendered.hiapi_signature {
            if let Some(current) = secrets.first() {
                put("x-hiapi-timestamp", timestamp.to_string());
                put(
                    "x-hiapi-signature",
                    current.sign_hiapi(timestamp, &rendered.body),
                );
            }
        }
        let url = url::Url::parse(&job.url).map_err(|e| format!("bad callback URL: {e}"))?;
        let response = self
            .fetcher
            .send(OutboundRequest {
                method: Method::POST,
                url,
                headers,
                body: Some(rendered.body.into()),
                max_body_bytes: 64 * 1024,
                follow_redirects: false,
                timeout: Some(self.config.attempt_timeout),
            })
            .await
            .map_err(|e| e.to_string())?;
        let retry_after = response
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Ok((response.status.as_u16(), retry_after))
    }
}

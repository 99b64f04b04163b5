//! Retention's janitor: every replica runs one; a pass runs on one replica at a time (a lease in
//! the database, renewed between batches, see `seedgate_store::retention`). A pass
//!
//! 1. prunes Idempotency-Key records past their lifetime, timeline events of tasks finished
//!    longer ago than theirs, and daily-spend rows of days the daily and monthly budgets no
//!    longer count (the daily budget counts today, the monthly one the current UTC month: at
//!    least [`MIN_SPEND_DAYS`] are kept); their credits are carried into one row per owner,
//!    which the total budget (every day's spend) still counts;
//! 2. marks the media of tasks finished longer ago than the media lifetime expired (from then
//!    on they read back without media, and no new link to them is signed), and deletes the
//!    files of tasks marked at least one link lifetime ago (so no link handed out before the
//!    mark still works: a file a live link needs is never deleted), then records them gone;
//! 3. deletes reference copies (`refs/…`) older than both the media lifetime and the life of
//!    their links, unless a task not finished yet, or one recent enough that an upstream may
//!    still fetch for it, points at them (a submit takes up only a copy stored within half a
//!    lifetime, so none is deleted under a submit that is just storing its task: `copy_period`
//!    in `service/src/submit.rs`);
//! 4. measures the storage by category, for `GET /admin/v1/disk` and `seedgate_disk_bytes`.
//!
//! Before all that it adds to the usage reports' daily sums the ledger entries of ended tasks
//! that are not summed yet: the tasks a replica of an earlier release, running beside an
//! upgraded one during a rolling upgrade, ended without knowing of the sums (reports read those
//! entries from the ledger until then, so they are right either way; summed, they are fast).
//!
//! Every batch is its own transaction (at most [`JanitorConfig::batch`] rows), and shutdown is
//! checked between batches: a SIGTERM leaves nothing half done (a file deleted whose task is
//! not yet recorded purged is deleted again, harmlessly, by the next pass). Ledger entries are
//! never deleted; clients' uploaded assets keep their own life (they count against the
//! uploader's quota and are left alone here), and are only measured.

use futures::StreamExt;
use seedgate_blobs::BlobStore;
use seedgate_core::clock::Clock;
use seedgate_store::Store;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Days of daily spend always kept, whatever is configured: the monthly budget counts the
/// current UTC month (at most 31 days) and a day more covers any clock skew.
pub const MIN_SPEND_DAYS: i64 = 40;

/// How long a pass's lease lasts without a renewal (it is renewed between batches).
const LEASE: Duration = Duration::from_secs(300);

/// The storage prefixes measured, with their category.
const CATEGORIES: [(&str, &str); 3] = [
    ("tasks", "task_media"),
    ("refs", "reference_copies"),
    ("assets", "assets"),
];

#[derive(Debug, Clone)]
pub struct JanitorConfig {
    /// How long a finished task's media are kept; `None`: forever.
    pub media: Option<Duration>,
    /// How long a finished task's timeline events are kept; `None`: forever.
    pub timelines: Option<Duration>,
    /// How long Idempotency-Key records are kept.
    pub idempotency: Duration,
    /// Days of daily spend kept (at least [`MIN_SPEND_DAYS`]).
    pub spend_days: i64,
    /// The longest life of a media link handed out to clients (`storage.url_ttl_seconds`),
    /// plus how long a replica may serve a finished task from memory.
    pub link_ttl: Duration,
    /// The life of the links providers are sent to reference copies (and the upstream
    /// deadline they cover).
    pub copy_ttl: Duration,
    /// Time between passes.
    pub every: Duration,
    /// Rows per batch (each batch is one transaction).
    pub batch: u32,
    pub clock: Arc<dyn Clock>,
}

/// What one pass did, and the storage it measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Another replica held the pass: nothing was deleted by this one.
    pub skipped: bool,
    pub idempotency_keys: u64,
    pub timeline_events: u64,
    pub spend_days: u64,
    /// Ended tasks whose ledger entries were added to the usage reports' daily sums.
    pub usage_tasks_summed: u64,
    /// Tasks whose media were marked expired.
    pub media_expired: u64,
    /// Tasks whose files were deleted, and the files.
    pub media_purged: u64,
    pub files_deleted: u64,
    pub reference_copies_deleted: u64,
    /// Shutdown came before the pass was over (it carries on at the next one).
    pub interrupted: bool,
    pub disk: Option<DiskUsage>,
}

/// Storage by category, as measured by the last pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// When it was measured (Unix ms).
    pub measured_at_ms: i64,
    /// Result files of tasks (`tasks/…`).
    pub task_media_bytes: u64,
    pub task_media_files: u64,
    /// Reference media kept for providers (`refs/…`).
    pub reference_copies_bytes: u64,
    pub reference_copies_files: u64,
    /// Files clients uploaded (`assets/…`).
    pub assets_bytes: u64,
    pub assets_files: u64,
    /// The database, when the backend tells its size.
    pub database_bytes: Option<u64>,
}

impl DiskUsage {
    fn add(&mut self, category: &str, bytes: u64) {
        let (total, files) = match category {
            "task_media" => (&mut self.task_media_bytes, &mut self.task_media_files),
            "reference_copies" => (
                &mut self.reference_copies_bytes,
                &mut self.reference_copies_files,
            ),
            _ => (&mut self.assets_bytes, &mut self.assets_files),
        };
        *total = total.saturating_add(bytes);
        *files = files.saturating_add(1);
    }
}

pub struct Janitor {
    store: Arc<dyn Store>,
    blobs: BlobStore,
    config: JanitorConfig,
    /// This replica's name in the lease.
    holder: String,
    last_disk: Mutex<Option<DiskUsage>>,
    /// One pass at a time in this process (a pass asked for by an operator waits).
    running: tokio::sync::Mutex<()>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A failed step: logged and counted, the pass goes on with the next one.
fn failed(step: &str, e: &dyn std::fmt::Display) {
    tracing::warn!(error = %e, step, "a retention step failed; the next pass retries it");
    metrics::counter!("seedgate_retention_errors_total", "step" => step.to_string()).increment(1);
}

fn deleted(kind: &'static str, n: u64) {
    if n > 0 {
        metrics::counter!("seedgate_retention_deleted_total", "kind" => kind).increment(n);
    }
}

impl Janitor {
    pub fn new(store: Arc<dyn Store>, blobs: BlobStore, config: JanitorConfig) -> Self {
        Self {
            store,
            blobs,
            config,
            holder: format!("janitor-{}", ulid::Ulid::new()),
            last_disk: Mutex::new(None),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// The storage as the last pass measured it.
    pub fn disk_usage(&self) -> Option<DiskUsage> {
        self.last_disk.lock().ok().and_then(|d| d.clone())
    }

    /// Runs a pass every `every` until shutdown (the first one at once).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let report = self.pass(&shutdown).await;
            if !report.skipped
                && (report.media_expired
                    + report.media_purged
                    + report.timeline_events
                    + report.idempotency_keys
                    + report.spend_days
                    + report.reference_copies_deleted)
                    > 0
            {
                tracing::info!(?report, "retention pass");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.every) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Renews this replica's lease; `false` when it is lost (or the database failed).
    async fn hold(&self) -> bool {
        let now = self.config.clock.now_ms();
        match self
            .store
            .claim_janitor(&self.holder, now, now.saturating_add(ms(LEASE)))
            .await
        {
            Ok(held) => held,
            Err(e) => {
                failed("lease", &e);
                false
            }
        }
    }

    /// One pass now. Stops between batches when `shutdown` is cancelled.
    pub async fn pass(&self, shutdown: &CancellationToken) -> PassReport {
        let _one = self.running.lock().await;
        let mut report = PassReport::default();
        if self.hold().await {
            self.prune(&mut report, shutdown).await;
            if let Err(e) = self.store.release_janitor(&self.holder).await {
                failed("lease", &e);
            }
        } else {
            report.skipped = true;
        }
        // Every replica measures (reads only), so that each one's gauges are current.
        if !report.interrupted {
            let disk = self.measure().await;
            if let Ok(mut last) = self.last_disk.lock() {
                *last = Some(disk.clone());
            }
            report.disk = Some(disk);
        }
        report
    }

    /// Runs `batch` until it returns fewer rows than a batch (or fails, or shutdown, or the
    /// lease is lost); the rows it handled.
    async fn batches<F, Fut>(
        &self,
        step: &str,
        shutdown: &CancellationToken,
        report: &mut PassReport,
        mut batch: F,
    ) -> u64
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = seedgate_store::StoreResult<u64>>,
    {
        let mut total = 0;
        loop {
            if shutdown.is_cancelled() {
                report.interrupted = true;
                return total;
            }
            match batch().await {
                Ok(n) => {
                    total += n;
                    if n < u64::from(self.config.batch.max(1)) || !self.hold().await {
                        return total;
                    }
                }
                Err(e) => {
                    failed(step, &e);
                    return total;
                }
            }
        }
    }

    async fn prune(&self, report: &mut PassReport, shutdown: &CancellationToken) {
        let c = &self.config;
        let batch = c.batch.max(1);
        let now = c.clock.now_ms();
        let store = &self.store;

        report.usage_tasks_summed = self
            .batches("usage", shutdown, report, || {
                store.sum_ended_tasks_usage(batch)
            })
            .await;

        let before = now.saturating_sub(ms(c.idempotency));
        report.idempotency_keys = self
            .batches("idempotency", shutdown, report, || {
                store.prune_idempotency_batch(before, batch)
            })
            .await;
        deleted("idempotency_key", report.idempotency_keys);

        if let Some(life) = c.timelines {
            let before = now.saturating_sub(ms(life));
            report.timeline_events = self
                .batches("timelines", shutdown, report, || {
                    store.prune_task_events(before, batch)
                })
                .await;
            deleted("timeline_event", report.timeline_events);
        }

        let day = seedgate_core::accounts::utc_day(now) - c.spend_days.max(MIN_SPEND_DAYS);
        report.spend_days = self
            .batches("spend_daily", shutdown, report, || {
                store.prune_spend_days(day, batch)
            })
            .await;
        deleted("spend_day", report.spend_days);

        let Some(media) = c.media else {
            return;
        };
        // Mark, in batches: each batch's tasks read back without media once it commits.
        let finished_before = now.saturating_sub(ms(media));
        loop {
            if shutdown.is_cancelled() {
                report.interrupted = true;
                return;
            }
            match store.expire_task_media(finished_before, now, batch).await {
                Ok(ids) => {
                    let n = ids.len() as u64;
                    report.media_expired += n;
                    // Every replica's cached copy of them is dropped through the store's
                    // change feed; one that missed the change drops it within the cache's
                    // lifetime, which the file deletion waits for.
                    if n < u64::from(batch) || !self.hold().await {
                        break;
                    }
                }
                Err(e) => {
                    failed("media_expire", &e);
                    break;
                }
            }
        }
        deleted("media_expired", report.media_expired);
        self.purge(now, report, shutdown).await;
        self.purge_copies(now, media, report, shutdown).await;
    }

    /// Deletes the files of tasks marked at least one link lifetime ago, then records them.
    async fn purge(&self, now: i64, report: &mut PassReport, shutdown: &CancellationToken) {
        let c = &self.config;
        let marked_before = now.saturating_sub(ms(c.link_ttl));
        loop {
            if shutdown.is_cancelled() {
                report.interrupted = true;
                return;
            }
            let tasks = match self.store.media_to_purge(marked_before, c.batch).await {
                Ok(tasks) => tasks,
                Err(e) => return failed("media_purge", &e),
            };
            let full = tasks.len() >= usize::try_from(c.batch.max(1)).unwrap_or(usize::MAX);
            let mut done = Vec::with_capacity(tasks.len());
            let mut files = 0;
            for task in tasks {
                let mut ok = true;
                for key in &task.keys {
                    match self.blobs.delete(key).await {
                        Ok(()) => files += 1,
                        Err(e) => {
                            failed("media_purge", &e);
                            ok = false;
                        }
                    }
                }
                // A task whose files could not all be deleted is tried again next pass.
                if ok {
                    done.push(task.task_id);
                }
            }
            let stuck = done.is_empty() && full;
            if let Err(e) = self.store.media_purged(&done, now).await {
                return failed("media_purge", &e);
            }
            report.media_purged += done.len() as u64;
            report.files_deleted += files;
            deleted("media_file", files);
            if !full || stuck || !self.hold().await {
                return;
            }
        }
    }

    /// Deletes reference copies nobody may fetch any more.
    async fn purge_copies(
        &self,
        now: i64,
        media: Duration,
        report: &mut PassReport,
        shutdown: &CancellationToken,
    ) {
        let c = &self.config;
        let life = ms(media.max(c.copy_ttl));
        let older_than = now.saturating_sub(life);
        // Listed first, the copies in use read second: a task created meanwhile is seen.
        let mut candidates = Vec::new();
        let mut listing = self.blobs.list("refs");
        while let Some(meta) = listing.next().await {
            match meta {
                Ok(meta) if meta.modified_ms < older_than => candidates.push(meta.key),
                Ok(_) => {}
                Err(e) => return failed("reference_copies", &e),
            }
        }
        if candidates.is_empty() {
            return;
        }
        let in_use = match self.store.media_copies_in_use(older_than).await {
            Ok(keys) => keys,
            Err(e) => return failed("reference_copies", &e),
        };
        for key in candidates.into_iter().filter(|k| !in_use.contains(k)) {
            if shutdown.is_cancelled() {
                report.interrupted = true;
                return;
            }
            match self.blobs.delete(&key).await {
                Ok(()) => report.reference_copies_deleted += 1,
                Err(e) => failed("reference_copies", &e),
            }
        }
        deleted("reference_copy", report.reference_copies_deleted);
    }

    /// Storage by category: the files under each prefix and the database.
    async fn measure(&self) -> DiskUsage {
        let mut disk = DiskUsage {
            measured_at_ms: self.config.clock.now_ms(),
            ..Default::default()
        };
        for (prefix, category) in CATEGORIES {
            let mut listing = self.blobs.list(prefix);
            let mut bytes = 0u64;
            while let Some(meta) = listing.next().await {
                match meta {
                    Ok(meta) => {
                        disk.add(category, meta.size);
                        bytes = bytes.saturating_add(meta.size);
                    }
                    Err(e) => {
                        failed("disk", &e);
                        break;
                    }
                }
            }
            metrics::gauge!("seedgate_disk_bytes", "category" => category).set(bytes as f64);
        }
        match self.store.database_bytes().await {
            Ok(bytes) => {
                disk.database_bytes = bytes;
                if let Some(b) = bytes {
                    metrics::gauge!("seedgate_disk_bytes", "category" => "database").set(b as f64);
                }
            }
            Err(e) => failed("disk", &e),
        }
        disk
    }
}

//! The application service. Dialects call it with canonical values ([`RequestDraft`], task ids)
//! and render what it returns; it is the only thing that talks to the store on their behalf.
//!
//! Submit: authenticate → claim the Idempotency-Key → validate → price (probing reference videos)
//! → one transaction that inserts the task, places its hold and completes the key → wake a
//! worker.

pub mod accounts;
pub mod admin;
mod assets;
pub mod auth;
mod links;
pub mod observability;
mod submit;
mod task_cache;
mod tasks;
mod timeline;
pub mod usage;

pub use accounts::{client_address, AccountView, Principal, RateReport};
pub use submit::{MEDIA_COPY_PREFIX, RETRY_WINDOW};

use seedgate_core::records::{AssetRecord, CallbackRecord, StoredResponse, TaskPage, TaskQuery};

use seedgate_core::clock::Clock;
use seedgate_core::error::{AuthFailure, FieldPath, GatewayError, ValidationError};
use seedgate_core::media::{content_type, extension, MediaFacts, MediaKind, MediaUrl};
use seedgate_core::media_links::MediaLinkMaker;
use seedgate_core::pricing;
use seedgate_core::pricing::Price;
use seedgate_core::request::MediaCopy;
use seedgate_core::task::Task;
use seedgate_core::text::strip_prefix_ignore_ascii_case;
use seedgate_core::ModelSpec;
use seedgate_core::{
    ApiKeyId, Catalog, DeliveryCheck, GenerationRequest, RequestDraft, TaskId, TaskStatus,
};
use seedgate_media::{MediaError, MediaService};
use seedgate_store::{IdempotencyClaim, IdempotencyCompletion, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// A priced request and what was measured of its media.
#[derive(Debug, Clone)]
pub struct Quote {
    pub request: GenerationRequest,
    pub price: Price,
    pub media: Vec<InspectedMedium>,
    /// Output width × height.
    pub output_size: (u32, u32),
    /// The account's price plan, when one priced the request instead of the catalog.
    pub price_plan: Option<String>,
}

/// One referenced medium: the field it came from (`reference_video_urls[1]`), its URL and
/// what its probe measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InspectedMedium {
    pub field: FieldPath,
    pub kind: MediaKind,
    pub url: String,
    pub facts: MediaFacts,
    /// The bytes that were measured: what the task is priced on and generated from.
    #[serde(skip)]
    pub bytes: bytes::Bytes,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Absolute base for result URLs, without a trailing slash.
    pub public_base_url: String,
    /// An in-progress Idempotency-Key older than this belongs to a request that died.
    pub idempotency_stale_after: Duration,
    /// Bytes of uploaded assets each API key may keep.
    pub asset_quota_bytes: u64,
    /// How long a valid API key is remembered; a revocation takes effect within this time.
    pub key_cache_ttl: Duration,
    /// Signs the media URLs handed out so they expire; `None` hands out plain, lasting URLs.
    pub media_links: Option<MediaLinks>,
    /// How long the links to a task's stored reference media live, from its creation (at
    /// least as long as a deadline the client sets, plus a day).
    pub media_copy_ttl: Duration,
    /// What "now" is: tasks' times and media links' expiries.
    pub clock: Arc<dyn Clock>,
    /// Proxies whose `X-Forwarded-For` is believed when they are the peer (for IP allow-lists).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// The key and lifetime of signed media URLs (see `seedgate_core::media_links`).
#[derive(Debug, Clone)]
pub struct MediaLinks {
    pub secret: Vec<u8>,
    /// Each URL lives at least this long from when it was handed out (a fresh one comes with
    /// every read of the task).
    pub ttl: Duration,
}

/// An Idempotency-Key sent with a submit, and the fingerprint of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyRequest {
    pub key: String,
    pub fingerprint: String,
}

/// What a submit produced: a new task, or the stored response of an earlier identical request.
#[derive(Debug)]
pub enum SubmitOutcome {
    Created {
        task: Box<Task>,
        response: StoredResponse,
        /// The submit rates' states after this task, for the `RateLimit` header.
        admission: seedgate_store::Admission,
    },
    Replayed(StoredResponse),
}

/// Everything a submit needs besides the draft.
pub struct SubmitContext<'a> {
    pub principal: &'a Principal,
    /// The dialect the request arrived in (tasks remember it for callbacks and replays).
    pub dialect: &'static str,
    pub idempotency: Option<IdempotencyRequest>,
    /// The client marks this request as its automatic retry of one it may have sent moments
    /// ago (a Stainless-generated SDK's `x-stainless-retry-count` ≥ 1) and sent no
    /// Idempotency-Key: a task of the same caller and dialect doing the same work, created
    /// within [`RETRY_WINDOW`], is answered instead of creating another.
    pub marked_retry: bool,
    /// Renders the dialect's response to a created task; stored for idempotent replays.
    pub render: &'a (dyn Fn(&Task) -> StoredResponse + Sync),
}

/// Read caches in front of the store. Valid API keys are remembered for `key_ttl` (so a
/// revocation takes effect within that time on every replica); tasks that were read are
/// remembered until the store's change feed says they changed (see [`task_cache`]).
struct Caches {
    keys: moka::sync::Cache<String, Principal>,
    tasks: task_cache::TaskCache<Task>,
}

impl Caches {
    fn new(key_ttl: Duration) -> Self {
        Self {
            keys: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(key_ttl)
                .build(),
            tasks: task_cache::TaskCache::new(),
        }
    }
}

impl GenerationService {
    /// A change committed to the store (heard through its change feed): copies of the tasks
    /// it touched are dropped. The binary's change follower calls this for every change.
    pub fn task_changed(&self, change: &seedgate_store::changes::Change) {
        use seedgate_store::changes::Change;
        match change {
            Change::Task(id) => self.caches.tasks.forget(id.as_str()),
            Change::Resync => self.caches.tasks.forget_all(),
            Change::TasksDue | Change::CallbacksDue => {}
        }
    }
}

/// The longest a replica answers a task from memory, whatever the change feed says: after
/// retention marks a task's media expired, a replica that missed the change may sign links to
/// them this much longer (the janitor waits this much more than the links' life before
/// deleting the files).
pub const FINISHED_CACHE_TTL: Duration = Duration::from_secs(600);

pub struct GenerationService {
    links: links::SignedLinks,
    caches: Caches,
    request_limiters: accounts::RequestLimiters,
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    media: MediaService,
    config: ServiceConfig,
    /// Whether some account can carry a request as asked; `None` accepts everything.
    delivery: Option<Arc<dyn DeliveryCheck>>,
}

/// What a write refused by a full disk (the database's or the media's) answers, as a retryable
/// "unavailable" in each dialect.
pub const STORAGE_FULL: &str = "storage is full; retry later";

/// A media write that failed: a full disk says so; anything else is the storage unavailable.
fn blob_write_error(e: &seedgate_blobs::BlobError) -> GatewayError {
    GatewayError::Unavailable(if e.is_storage_full() {
        STORAGE_FULL.into()
    } else {
        "storage unavailable".into()
    })
}

fn store_error(e: StoreError) -> GatewayError {
    match e {
        StoreError::NotFound => GatewayError::NotFound,
        StoreError::InsufficientCredits { available } => GatewayError::InsufficientCredits {
            needed: 0,
            available,
        },
        StoreError::Limited(refusal) => {
            GatewayError::limited(refusal, seedgate_core::clock::now_ms())
        }
        full if full.is_storage_full() => {
            tracing::error!(error = %full, "the database's disk is full");
            GatewayError::Unavailable(STORAGE_FULL.into())
        }
        other => {
            tracing::error!(error = %other, "store error");
            GatewayError::Unavailable("database unavailable".into())
        }
    }
}

impl GenerationService {
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        media: MediaService,
        config: ServiceConfig,
    ) -> Self {
        let links = MediaLinkMaker::new(
            &config.public_base_url,
            config.media_links.as_ref().map(|l| l.secret.clone()),
        );
        Self {
            links: links::SignedLinks::new(links),
            caches: Caches::new(config.key_cache_ttl),
            request_limiters: accounts::RequestLimiters::new(),
            store,
            catalog,
            media,
            config,
            delivery: None,
        }
    }

    /// Refuse, at submit and estimate, what no account on the request's route can carry (a
    /// feature its API lacks), before any media is fetched or money moves.
    pub fn with_delivery_check(mut self, check: Arc<dyn DeliveryCheck>) -> Self {
        self.delivery = Some(check);
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// A stored result file (a task's video or last frame), to stream to its owner; `None`
    /// when it is no longer stored. The caller has checked that the task is the caller's.
    pub async fn read_result_file(
        &self,
        key: &str,
    ) -> Result<Option<seedgate_blobs::BlobRead>, GatewayError> {
        self.media.blobs().get(key, None).await.map_err(|e| {
            tracing::error!(error = %e, key, "reading a result file failed");
            GatewayError::Unavailable("storage unavailable".into())
        })
    }

    /// Proxies whose `X-Forwarded-For` is believed.
    pub fn trusted_proxies(&self) -> &[ipnet::IpNet] {
        &self.config.trusted_proxies
    }

    /// The public URL of a stored object, signed to live `storage.url_ttl_seconds` from now.
    pub fn media_url(&self, key: &str) -> String {
        let now = self.config.clock.now_ms().div_euclid(1000);
        let ttl = self
            .config
            .media_links
            .as_ref()
            .map_or(0, |l| i64::try_from(l.ttl.as_secs()).unwrap_or(i64::MAX));
        self.links.url(key, now, ttl)
    }

    /// A task as clients see it: result URLs filled in from the stored object keys.
    pub fn with_urls(&self, mut task: Task) -> Task {
        if let Some(output) = &mut task.output {
            output.video_urls = output
                .video_keys
                .iter()
                .map(|k| self.media_url(k))
                .collect();
            output.last_frame_url = output.last_frame_key.as_deref().map(|k| self.media_url(k));
        }
        task
    }
}

//! The application service. Dialects call it with canonical values ([`RequestDraft`], task ids)
//! and render what it returns; it is the only thing that talks to the store on their behalf.
//!
//! Submit: authenticate → claim the Idempotency-Key → validate → price (probing reference videos)
//! → one transaction that inserts the task, places its hold and completes the key → wake a
//! worker.

pub mod auth;

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
use tokio::sync::Notify;

/// An Idempotency-Key claimed by a request in progress. If the request ends without creating a
/// task (an error, or the client hanging up and the handler being dropped), the claim is
/// released so that a retry is not refused with 409 until the claim goes stale.
struct ClaimGuard {
    store: Arc<dyn Store>,
    api_key: ApiKeyId,
    key: String,
    armed: bool,
}

impl ClaimGuard {
    fn disarm(mut self) {
        self.armed = false;
    }

    /// Releases the claim now (so that an immediate retry finds the key free).
    async fn release(mut self) {
        self.armed = false;
        release_claim(&*self.store, &self.api_key, &self.key).await;
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (store, api_key, key) = (
            self.store.clone(),
            self.api_key.clone(),
            std::mem::take(&mut self.key),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { release_claim(&*store, &api_key, &key).await });
        }
    }
}

async fn release_claim(store: &dyn Store, api_key: &ApiKeyId, key: &str) {
    if let Err(e) = store.release_idempotency_key(api_key, key).await {
        tracing::warn!(error = %e, "releasing an idempotency key failed; it expires on its own");
    }
}

/// How far back a marked retry looks for the task its first try created.
pub const RETRY_WINDOW: Duration = Duration::from_secs(600);

/// Where the reference media a task was priced on are kept (`refs/<sha256>.<ext>`).
pub const MEDIA_COPY_PREFIX: &str = "refs/";

/// A priced request and what was measured of its media.
#[derive(Debug, Clone)]
pub struct Quote {
    pub request: GenerationRequest,
    pub price: Price,
    pub media: Vec<InspectedMedium>,
    /// Output width × height.
    pub output_size: (u32, u32),
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

fn durations(media: &[InspectedMedium], kind: MediaKind) -> Vec<f64> {
    media
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| m.facts.duration_seconds.unwrap_or(0.0))
        .collect()
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub api_key_id: ApiKeyId,
    pub name: String,
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
/// revocation takes effect within that time on every replica); finished tasks, which never
/// change, are remembered until evicted.
struct Caches {
    keys: moka::sync::Cache<String, Principal>,
    finished: moka::sync::Cache<String, Arc<Task>>,
}

impl Caches {
    fn new(key_ttl: Duration) -> Self {
        Self {
            keys: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(key_ttl)
                .build(),
            finished: moka::sync::Cache::builder().max_capacity(100_000).build(),
        }
    }
}

pub struct GenerationService {
    links: MediaLinkMaker,
    caches: Caches,
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    media: MediaService,
    config: ServiceConfig,
    wake: Arc<Notify>,
    callback_wake: Arc<Notify>,
    /// Whether some account can carry a request as asked; `None` accepts everything.
    delivery: Option<Arc<dyn DeliveryCheck>>,
}

fn store_error(e: StoreError) -> GatewayError {
    match e {
        StoreError::NotFound => GatewayError::NotFound,
        StoreError::InsufficientCredits { available } => GatewayError::InsufficientCredits {
            needed: 0,
            available,
        },
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
        wake: Arc<Notify>,
        callback_wake: Arc<Notify>,
    ) -> Self {
        let links = MediaLinkMaker::new(
            &config.public_base_url,
            config.media_links.as_ref().map(|l| l.secret.clone()),
        );
        Self {
            links,
            caches: Caches::new(config.key_cache_ttl),
            store,
            catalog,
            media,
            config,
            wake,
            callback_wake,
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

    /// Resolves an API key presented by a client.
    pub async fn authenticate(&self, presented: &str) -> Result<Principal, GatewayError> {
        let hash = auth::hash_key(presented);
        if let Some(principal) = self.caches.keys.get(&hash) {
            return Ok(principal);
        }
        let record = self
            .store
            .find_api_key_by_hash(&hash)
            .await
            .map_err(store_error)?
            .ok_or(GatewayError::Unauthenticated(AuthFailure::Invalid))?;
        if record.revoked_at_ms.is_some() {
            return Err(GatewayError::Unauthenticated(AuthFailure::Revoked));
        }
        let principal = Principal {
            api_key_id: record.id,
            name: record.name,
        };
        // Only valid keys are remembered, so junk keys cannot fill the cache.
        self.caches.keys.insert(hash, principal.clone());
        Ok(principal)
    }

    /// Validates, prices and stores a new task with its credit hold.
    pub async fn submit(
        &self,
        ctx: SubmitContext<'_>,
        draft: RequestDraft,
    ) -> Result<SubmitOutcome, GatewayError> {
        let key_id = &ctx.principal.api_key_id;
        let mut claim = None;
        if let Some(idem) = &ctx.idempotency {
            match self
                .store
                .claim_idempotency_key(
                    key_id,
                    &idem.key,
                    &idem.fingerprint,
                    self.config.idempotency_stale_after,
                )
                .await
                .map_err(store_error)?
            {
                IdempotencyClaim::Claimed => {
                    claim = Some(ClaimGuard {
                        store: self.store.clone(),
                        api_key: key_id.clone(),
                        key: idem.key.clone(),
                        armed: true,
                    })
                }
                IdempotencyClaim::Replay(response) => return Ok(SubmitOutcome::Replayed(response)),
                IdempotencyClaim::InFlight => return Err(GatewayError::IdempotencyInFlight),
                IdempotencyClaim::Mismatch => return Err(GatewayError::IdempotencyMismatch),
            }
        }
        let result = self.create(&ctx, draft).await;
        if let Some(claim) = claim {
            match &result {
                // The key was completed in the task's own transaction.
                Ok(_) => claim.disarm(),
                // Failed requests are not remembered (as at Stripe): fixing and resending is
                // safe.
                Err(_) => claim.release().await,
            }
        }
        result
    }

    async fn create(
        &self,
        ctx: &SubmitContext<'_>,
        draft: RequestDraft,
    ) -> Result<SubmitOutcome, GatewayError> {
        let requested_model = draft
            .model
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        let Quote {
            mut request,
            price,
            media,
            ..
        } = self.quote(ctx.principal, draft).await?;
        if !media.is_empty() {
            // The copies are stored before the hold is placed: a caller who cannot pay is
            // refused first, so no file is kept for a request that creates nothing. (The hold
            // itself is still checked, atomically, when the task is stored.)
            let account = self
                .store
                .find_api_key(ctx.principal.api_key_id.as_str())
                .await
                .map_err(store_error)?;
            if let Some(account) = account {
                if u64::try_from(account.balance).unwrap_or(0) < price.credits {
                    return Err(GatewayError::InsufficientCredits {
                        needed: price.credits,
                        available: account.balance,
                    });
                }
            }
        }
        request.media_copies = self.keep_media_copies(&request, media).await?;
        if ctx.marked_retry && ctx.idempotency.is_none() {
            if let Some(first) = self.first_try_of(ctx, &request, &requested_model).await? {
                tracing::info!(task = %first.id, "an SDK retry answered with the task its first try created");
                return Ok(SubmitOutcome::Replayed((ctx.render)(
                    &self.with_urls(first),
                )));
            }
        }

        let now = self.config.clock.now_ms();
        let task = Task {
            id: TaskId::generate(),
            api_key_id: ctx.principal.api_key_id.clone(),
            request,
            requested_model,
            origin_dialect: ctx.dialect.to_string(),
            status: TaskStatus::Queued,
            price,
            attempt: 0,
            created_at_ms: now,
            updated_at_ms: now,
            started_at_ms: None,
            finished_at_ms: None,
            output: None,
            error: None,
            provider: None,
        };
        let response = (ctx.render)(&task);
        let completion = ctx.idempotency.as_ref().map(|i| IdempotencyCompletion {
            key: i.key.clone(),
            response: response.clone(),
        });
        self.store
            .create_task(&task, completion)
            .await
            .map_err(|e| match e {
                StoreError::InsufficientCredits { available } => {
                    GatewayError::InsufficientCredits {
                        needed: price.credits,
                        available,
                    }
                }
                // The Idempotency-Key went stale and was taken over while this request ran.
                StoreError::Conflict(_) => GatewayError::IdempotencyInFlight,
                StoreError::Revoked => GatewayError::Unauthenticated(AuthFailure::Revoked),
                other => store_error(other),
            })?;
        self.wake.notify_one();
        tracing::info!(task = %task.id, credits = price.credits, billable_seconds = price.billable_seconds, "task accepted");
        Ok(SubmitOutcome::Created {
            task: Box::new(task),
            response,
        })
    }

    /// The task a retried request's first try created: the caller's newest task of the same
    /// dialect and model name doing the same work, created within [`RETRY_WINDOW`].
    async fn first_try_of(
        &self,
        ctx: &SubmitContext<'_>,
        request: &GenerationRequest,
        requested_model: &str,
    ) -> Result<Option<Task>, GatewayError> {
        let since = self.config.clock.now_ms()
            - i64::try_from(RETRY_WINDOW.as_millis()).unwrap_or(i64::MAX);
        let query = TaskQuery {
            model: Some(request.model.clone()),
            limit: 100,
            ..TaskQuery::default()
        };
        let page = self
            .store
            .list_tasks(&ctx.principal.api_key_id, &query)
            .await
            .map_err(store_error)?;
        Ok(page.tasks.into_iter().find(|t| {
            t.created_at_ms >= since
                && t.origin_dialect == ctx.dialect
                && t.requested_model == requested_model
                && t.request.same_work_as(request)
        }))
    }

    /// Stores the bytes each medium was priced on, content-addressed (a file used by many
    /// tasks, or uploaded twice, is kept once), and returns each field's copy: its object key
    /// and the signed link providers are sent. Our own files are copied too: what a task was
    /// priced on stays what it is generated from.
    async fn keep_media_copies(
        &self,
        request: &GenerationRequest,
        media: Vec<InspectedMedium>,
    ) -> Result<std::collections::BTreeMap<String, MediaCopy>, GatewayError> {
        if media.is_empty() {
            return Ok(Default::default());
        }
        // One expiry for every link of the task, fixed now: every submit of the task, a
        // reconciled one included, carries the same body whatever the configuration becomes.
        let client_deadline = request
            .expires_after_seconds
            .map_or(0, |s| u64::from(s).saturating_add(24 * 3600));
        let ttl = self.config.media_copy_ttl.as_secs().max(client_deadline);
        let expires = seedgate_core::media_links::expiry(
            self.config.clock.now_ms().div_euclid(1000),
            i64::try_from(ttl).unwrap_or(i64::MAX),
        );
        let unavailable = |e: seedgate_blobs::BlobError| {
            tracing::error!(error = %e, "storing a reference medium failed");
            GatewayError::Unavailable("storage unavailable".into())
        };
        let mut copies = std::collections::BTreeMap::new();
        for medium in media {
            let bytes = medium.bytes.clone();
            let digest = tokio::task::spawn_blocking(move || {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(&bytes))
            })
            .await
            .map_err(|e| GatewayError::Internal(format!("hashing a medium: {e}")))?;
            let key = format!(
                "{MEDIA_COPY_PREFIX}{digest}.{}",
                extension(&medium.facts.format)
            );
            let blobs = self.media.blobs();
            if blobs.size(&key).await.map_err(unavailable)?.is_none() {
                blobs.put(&key, medium.bytes).await.map_err(unavailable)?;
            }
            let url = MediaUrl::parse(&self.links.url_until(&key, expires)).map_err(|e| {
                GatewayError::Internal(format!("a link to a stored medium is not a URL: {e}"))
            })?;
            copies.insert(medium.field.to_string(), MediaCopy { key, url });
        }
        Ok(copies)
    }

    /// Validates a request, inspects every medium it references and prices it, moving no money:
    /// the estimate endpoint answers with this, and submit charges exactly this.
    pub async fn quote(
        &self,
        principal: &Principal,
        draft: RequestDraft,
    ) -> Result<Quote, GatewayError> {
        let draft = self.resolve_asset_refs(principal, draft).await?;
        let request = GenerationRequest::from_draft(draft, &self.catalog)?;
        if let Some(delivery) = &self.delivery {
            delivery.check(&request).map_err(ValidationError::from)?;
        }
        if let Some(url) = &request.callback_url {
            self.check_callback_url(url).await?;
        }
        let spec = request
            .spec(&self.catalog)
            .ok_or_else(|| GatewayError::Internal("validated model missing from catalog".into()))?;
        let media = self.inspect_media(&request, spec).await?;
        let price = pricing::price(&request, spec, &durations(&media, MediaKind::Video))?;
        // `adaptive` follows the first image: the first frame, else the first reference image.
        let first_image = media
            .iter()
            .find(|m| {
                m.field == FieldPath::new("first_frame_url")
                    || m.field == FieldPath::at("reference_image_urls", 0)
            })
            .and_then(|m| Some((m.facts.width?, m.facts.height?)));
        let output_size = request.output_size(first_image);
        Ok(Quote {
            request,
            price,
            media,
            output_size,
        })
    }

    /// A callback URL must be one the SSRF-safe fetcher may call: public, http(s), resolvable.
    async fn check_callback_url(&self, raw: &str) -> Result<(), GatewayError> {
        let invalid = |reason: String| {
            GatewayError::Validation(ValidationError::invalid("callback_url", &reason))
        };
        let url = url::Url::parse(raw).map_err(|e| invalid(e.to_string()))?;
        self.media
            .fetcher()
            .check_url(&url)
            .await
            .map_err(|e| invalid(e.to_string()))
    }

    /// Replaces `asset://<id>` references (CRUN, Kie and Ark accept them) with the URL of the
    /// caller's own uploaded asset. Another key's asset, or an unknown one, is not found.
    async fn resolve_asset_refs(
        &self,
        principal: &Principal,
        mut draft: RequestDraft,
    ) -> Result<RequestDraft, GatewayError> {
        const SCHEME: &str = "asset://";
        let mut refs: Vec<(FieldPath, &mut String)> = Vec::new();
        for (field, url) in [
            ("first_frame_url", draft.first_frame_url.as_mut()),
            ("last_frame_url", draft.last_frame_url.as_mut()),
        ] {
            if let Some(url) = url {
                refs.push((FieldPath::new(field), url));
            }
        }
        for (field, list) in [
            ("reference_image_urls", draft.reference_image_urls.as_mut()),
            ("reference_video_urls", draft.reference_video_urls.as_mut()),
            ("reference_audio_urls", draft.reference_audio_urls.as_mut()),
        ] {
            for (i, url) in list.into_iter().flatten().enumerate() {
                refs.push((FieldPath::at(field, i), url));
            }
        }
        for (field, url) in refs {
            let Some(id) = strip_prefix_ignore_ascii_case(url.trim(), SCHEME) else {
                continue;
            };
            let asset = self
                .store
                .get_asset(id, &principal.api_key_id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| {
                    ValidationError::invalid(field, &format!("asset `{id}` does not exist"))
                })?;
            *url = self.media_url(&asset.object_key);
        }
        Ok(draft)
    }

    /// Fetches and probes every medium of a request (concurrently), then checks each against
    /// the model's limits, in field order so that the first error is deterministic.
    async fn inspect_media(
        &self,
        request: &GenerationRequest,
        spec: &ModelSpec,
    ) -> Result<Vec<InspectedMedium>, GatewayError> {
        let wanted: Vec<(FieldPath, MediaKind, &MediaUrl)> = request
            .media_fields()
            .into_iter()
            .map(|m| (m.field, m.kind, m.url))
            .collect();
        let results = futures::future::join_all(
            wanted
                .iter()
                .map(|(_, kind, url)| self.media.inspect(url, *kind)),
        )
        .await;
        let mut media = Vec::with_capacity(wanted.len());
        for ((field, kind, url), result) in wanted.into_iter().zip(results) {
            // A URL we may not fetch is the client's mistake (20003 in reAPI); one we could not
            // fetch or read leaves the price unknown (30002), and nothing is charged either way.
            let inspected = result.map_err(|e| match e {
                MediaError::Refused(e) => GatewayError::Validation(ValidationError::invalid(
                    field.clone(),
                    &e.to_string(),
                )),
                MediaError::LinkRefused(reason) => {
                    GatewayError::Validation(ValidationError::invalid(field.clone(), reason))
                }
                other => GatewayError::PricingUnavailable {
                    field: Some(field.clone()),
                    reason: other.to_string(),
                },
            })?;
            spec.media.check(&field, kind, &inspected.facts)?;
            media.push(InspectedMedium {
                field,
                kind,
                url: url.to_string(),
                facts: inspected.facts,
                bytes: inspected.bytes,
            });
        }
        spec.media.check_totals(
            &durations(&media, MediaKind::Video),
            &durations(&media, MediaKind::Audio),
        )?;
        Ok(media)
    }

    /// Stores a file a client uploads for use as reference media, after probing it and checking
    /// it against the media limits (of the default model: an upload is not tied to a request).
    pub async fn upload_asset(
        &self,
        principal: &Principal,
        bytes: bytes::Bytes,
        name: Option<String>,
    ) -> Result<AssetRecord, GatewayError> {
        if bytes.is_empty() {
            return Err(ValidationError::invalid("file", "is empty").into());
        }
        let facts = seedgate_media::probe_any(&bytes).map_err(|e| {
            GatewayError::Validation(ValidationError::invalid("file", &e.to_string()))
        })?;
        let spec = self
            .catalog
            .default_model()
            .ok_or_else(|| GatewayError::Unavailable("no model is available".into()))?;
        spec.media
            .check(&FieldPath::new("file"), facts.kind, &facts)?;
        let id = format!(
            "asset_{}",
            TaskId::generate()
                .as_str()
                .trim_start_matches(TaskId::PREFIX)
        );
        let object_key = format!("assets/{id}.{}", extension(&facts.format));
        let asset = AssetRecord {
            id,
            api_key_id: principal.api_key_id.clone(),
            object_key: object_key.clone(),
            content_type: content_type(&facts.format).to_string(),
            facts,
            created_at_ms: self.config.clock.now_ms(),
            name,
        };
        let blobs = self.media.blobs();
        blobs.put(&object_key, bytes).await.map_err(|e| {
            tracing::error!(error = %e, "storing an asset failed");
            GatewayError::Unavailable("storage unavailable".into())
        })?;
        if let Err(e) = self
            .store
            .create_asset(&asset, self.config.asset_quota_bytes)
            .await
        {
            // Nothing refers to the object yet: remove it so a refused upload leaves nothing.
            if let Err(del) = blobs.delete(&object_key).await {
                tracing::warn!(error = %del, key = object_key, "removing a refused asset failed");
            }
            return Err(match e {
                StoreError::QuotaExceeded { used, quota } => {
                    GatewayError::QuotaExceeded { used, quota }
                }
                other => store_error(other),
            });
        }
        Ok(asset)
    }

    /// Registers an asset from a URL (CRUN's asset-upload): fetched through the SSRF-safe
    /// fetcher as the given kind, then stored as [`GenerationService::upload_asset`] stores a file.
    pub async fn upload_asset_from_url(
        &self,
        principal: &Principal,
        url: &str,
        kind: MediaKind,
        name: Option<String>,
    ) -> Result<AssetRecord, GatewayError> {
        let url = MediaUrl::parse(url)
            .map_err(|e| ValidationError::invalid("asset_url", &e.to_string()))?;
        let inspected = self.media.inspect(&url, kind).await.map_err(|e| match e {
            MediaError::Refused(e) => {
                GatewayError::Validation(ValidationError::invalid("asset_url", &e.to_string()))
            }
            MediaError::LinkRefused(reason) => {
                GatewayError::Validation(ValidationError::invalid("asset_url", reason))
            }
            MediaError::Unreadable(e) => {
                GatewayError::Validation(ValidationError::invalid("asset_url", &e.to_string()))
            }
            MediaError::Unavailable(e) => GatewayError::Validation(ValidationError::invalid(
                "asset_url",
                &format!("could not fetch: {e}"),
            )),
            MediaError::Storage => GatewayError::Unavailable("storage unavailable".into()),
        })?;
        self.upload_asset(principal, inspected.bytes, name).await
    }

    pub async fn get_asset(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<AssetRecord, GatewayError> {
        self.store
            .get_asset(id, &principal.api_key_id)
            .await
            .map_err(store_error)?
            .ok_or(GatewayError::AssetNotFound)
    }

    /// A task of the caller's, with its result URLs filled in. Another key's task is not found.
    pub async fn get_task(&self, principal: &Principal, id: &str) -> Result<Task, GatewayError> {
        if let Some(task) = self.caches.finished.get(id) {
            if task.api_key_id == principal.api_key_id {
                return Ok(self.with_urls((*task).clone()));
            }
            return Err(GatewayError::NotFound);
        }
        let task = self
            .store
            .get_task(&TaskId::from_string(id), &principal.api_key_id)
            .await
            .map_err(store_error)?
            .ok_or(GatewayError::NotFound)?;
        // A finished task never changes again: later polls are answered from memory. It is
        // kept unsigned; its media links are signed afresh on every read, so they never
        // expire in the cache.
        if task.status.is_terminal() {
            self.caches
                .finished
                .insert(task.id.to_string(), Arc::new(task.clone()));
        }
        Ok(self.with_urls(task))
    }

    /// A page of the caller's tasks. A model filter is resolved through the catalog's aliases;
    /// an unknown model matches nothing.
    pub async fn list_tasks(
        &self,
        principal: &Principal,
        mut query: TaskQuery,
    ) -> Result<TaskPage, GatewayError> {
        if let Some(model) = &query.model {
            query.model = Some(
                self.catalog
                    .lookup(model)
                    .map(|spec| spec.id.clone())
                    .unwrap_or_else(|| model.clone()),
            );
        }
        let page = self
            .store
            .list_tasks(&principal.api_key_id, &query)
            .await
            .map_err(store_error)?;
        Ok(TaskPage {
            tasks: page.tasks.into_iter().map(|t| self.with_urls(t)).collect(),
            ..page
        })
    }

    /// Deletes the record of a finished task (Ark's and the videos API's DELETE), then its
    /// files: nothing refers to them any more.
    pub async fn delete_task(&self, principal: &Principal, id: &str) -> Result<(), GatewayError> {
        let task = self.get_task(principal, id).await?;
        match self
            .store
            .delete_task(&task.id, &principal.api_key_id)
            .await
        {
            Ok(()) => self.caches.finished.invalidate(id),
            Err(StoreError::Conflict(_)) => return Err(GatewayError::NotDeletable),
            Err(e) => return Err(store_error(e)),
        }
        if let Some(output) = &task.output {
            let blobs = self.media.blobs();
            for key in output.video_keys.iter().chain(&output.last_frame_key) {
                // Best effort: a file left behind costs disk, not correctness.
                if let Err(e) = blobs.delete(key).await {
                    tracing::warn!(error = %e, key, "removing a deleted task's file failed");
                }
            }
        }
        Ok(())
    }

    /// Cancels a queued task and refunds it.
    pub async fn cancel_task(&self, principal: &Principal, id: &str) -> Result<Task, GatewayError> {
        match self
            .store
            .cancel_task(&TaskId::from_string(id), &principal.api_key_id)
            .await
        {
            Ok(task) => Ok(self.with_urls(task)),
            Err(StoreError::Conflict(_)) => Err(GatewayError::NotCancellable),
            Err(e) => Err(store_error(e)),
        }
    }

    /// A task's callback and its delivery attempts; `None` while there is none (no callback
    /// URL, or the task has not finished).
    pub async fn callbacks(
        &self,
        principal: &Principal,
        task_id: &str,
    ) -> Result<(Task, Option<CallbackRecord>), GatewayError> {
        // The task must be the caller's and visible (not deleted).
        let task = self.get_task(principal, task_id).await?;
        let record = self
            .store
            .callback_record(&task.id, &principal.api_key_id)
            .await
            .map_err(store_error)?;
        Ok((task, record))
    }

    /// Sends a task's callback again, now.
    pub async fn redeliver_callback(
        &self,
        principal: &Principal,
        task_id: &str,
    ) -> Result<(Task, Option<CallbackRecord>), GatewayError> {
        let task = self.get_task(principal, task_id).await?;
        match self
            .store
            .redeliver_callback(&task.id, &principal.api_key_id)
            .await
        {
            Ok(()) => {}
            Err(StoreError::NotFound) => {
                return Err(ValidationError::invalid(
                    "callback_url",
                    if task.request.callback_url.is_some() {
                        "the task has not finished yet; its callback is sent when it does"
                    } else {
                        "the task was created without a callback URL"
                    },
                )
                .into())
            }
            Err(e) => return Err(store_error(e)),
        }
        self.callback_wake.notify_one();
        self.callbacks(principal, task_id).await
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

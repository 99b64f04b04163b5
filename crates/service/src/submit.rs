//! Submit and quote: the Idempotency-Key claim, validation, media inspection and pricing, the
//! stored copies of priced media, and the one transaction that creates a task with its hold.

use super::*;

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

/// Where the reference media a task was priced on are kept (`refs/<sha256>-<period>.<ext>`,
/// see [`copy_period`]).
pub const MEDIA_COPY_PREFIX: &str = "refs/";

/// The period whose submits share one copy of a medium: the number of whole half-lifetimes of a
/// copy (`copy_ttl`) since the epoch at `now_ms`.
///
/// Why not one copy per medium forever: a submit that found a copy stored long ago, and took it
/// up, could lose it to a janitor pass that had read the tasks in use just before that submit's
/// task was stored (it deletes copies older than a copy's lifetime that no task it read
/// needs). Within a period, a copy was first stored at most half a lifetime before any submit
/// that takes it up, so the janitor can delete it only half a lifetime after the last of those
/// submits, by which time each one's task is stored and seen in use. A new period makes a new
/// copy; the old one ages out alone.
pub fn copy_period(now_ms: i64, copy_ttl: Duration) -> i64 {
    let half = i64::try_from(copy_ttl.as_millis() / 2)
        .unwrap_or(i64::MAX)
        .max(1);
    now_ms.div_euclid(half)
}

fn durations(media: &[InspectedMedium], kind: MediaKind) -> Vec<f64> {
    media
        .iter()
        .filter(|m| m.kind == kind)
        .map(|m| m.facts.duration_seconds.unwrap_or(0.0))
        .collect()
}

impl GenerationService {
    /// Validates, prices and stores a new task with its credit hold.
    pub async fn submit(
        &self,
        ctx: SubmitContext<'_>,
        draft: RequestDraft,
    ) -> Result<SubmitOutcome, GatewayError> {
        let dialect = ctx.dialect;
        // The task's first span; `create` records the id once it is made.
        let span = tracing::info_span!("submit", dialect, task_id = tracing::field::Empty);
        let outcome =
            tracing::Instrument::instrument(self.submit_uncounted(ctx, draft), span).await;
        crate::observability::count_submit(dialect, &outcome);
        outcome
    }

    async fn submit_uncounted(
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
                .find_account(ctx.principal.account_id.as_str())
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
            self.precheck_limits(ctx.principal, price.credits).await?;
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
        let task_id = TaskId::generate();
        tracing::Span::current().record("task_id", task_id.as_str());
        let task = Task {
            id: task_id,
            account_id: ctx.principal.account_id.clone(),
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
        let admission = self
            .store
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
                StoreError::Limited(refusal) => GatewayError::limited(refusal, now),
                other => store_error(other),
            })?;
        tracing::info!(task = %task.id, credits = price.credits, billable_seconds = price.billable_seconds, "task accepted");
        Ok(SubmitOutcome::Created {
            task: Box::new(task),
            response,
            admission,
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
            .list_tasks(&ctx.principal.account_id, &query)
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
            blob_write_error(&e)
        };
        let period = copy_period(self.config.clock.now_ms(), self.config.media_copy_ttl);
        let mut copies = std::collections::BTreeMap::new();
        for medium in media {
            let probed = crate::timeline::probed(&medium);
            let bytes = medium.bytes.clone();
            let digest = tokio::task::spawn_blocking(move || {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(&bytes))
            })
            .await
            .map_err(|e| GatewayError::Internal(format!("hashing a medium: {e}")))?;
            let key = format!(
                "{MEDIA_COPY_PREFIX}{digest}-{period}.{}",
                extension(&medium.facts.format)
            );
            let blobs = self.media.blobs();
            if blobs.size(&key).await.map_err(unavailable)?.is_none() {
                blobs.put(&key, medium.bytes).await.map_err(unavailable)?;
            }
            let url =
                MediaUrl::parse(&self.links.maker().url_until(&key, expires)).map_err(|e| {
                    GatewayError::Internal(format!("a link to a stored medium is not a URL: {e}"))
                })?;
            copies.insert(
                medium.field.to_string(),
                MediaCopy {
                    key,
                    url,
                    probed: Some(probed),
                },
            );
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
        let requested = draft.model.clone().unwrap_or_default();
        let request = GenerationRequest::from_draft(draft, &self.catalog)?;
        // A model the key or its account may not use is refused before any media is fetched.
        principal.check_model(&request.model, requested.trim())?;
        if let Some(delivery) = &self.delivery {
            delivery.check(&request).map_err(ValidationError::from)?;
        }
        if let Some(url) = &request.callback_url {
            self.check_callback_url(url).await?;
        }
        let spec = request
            .spec(&self.catalog)
            .ok_or_else(|| GatewayError::Internal("validated model missing from catalog".into()))?;
        let media = self
            .inspect_media(principal.account_id.as_str(), &request, spec)
            .await?;
        let plan = principal.account_policy.price_plan.as_ref();
        let price =
            pricing::price_with_plan(&request, spec, &durations(&media, MediaKind::Video), plan)?;
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
            price_plan: plan.map(|p| p.describe()),
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
                .get_asset(id, &principal.account_id)
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
        account: &str,
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
                .map(|(_, kind, url)| self.media.inspect_as(account, url, *kind)),
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
                // This account's share of fetch slots stayed busy: retryable, nothing charged.
                MediaError::Busy(e) => GatewayError::Unavailable(e.to_string()),
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
}

//! Reference media. Every URL a request carries is fetched once through the SSRF-safe fetcher
//! (or, for URLs under our own `/media/`, read straight from object storage), probed from its
//! bytes, and remembered by URL for a while: a resubmit or an estimate followed by its submit
//! does not fetch again, and the local renderer reuses the same bytes. A cached entry is
//! revalidated with a HEAD request against its ETag or Content-Length when the server gave one.

use bytes::Bytes;
use seedgate_blobs::BlobStore;
use seedgate_core::clock::Clock;
use seedgate_core::media::{MediaFacts, MediaKind, MediaUrl};
use seedgate_core::media_links::LinkError;
use seedgate_fetch::{
    FetchError, FetchShares, Fetcher, HeaderMap, Method, OutboundRequest, SHARED_PARTITION,
};
use seedgate_probe::{MediaProbe, ProbeError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

pub mod observability;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MediaCacheConfig {
    /// How long a fetched and probed URL is remembered.
    pub ttl_seconds: u64,
    /// Upper bound on the bytes kept in memory.
    pub max_bytes: u64,
    /// Media fetched at once, across all requests: bounds the memory that downloads in flight
    /// can take (each is capped at its kind's byte limit). One account holds at most
    /// `fetch.per_account_concurrency` of them.
    pub max_concurrent_fetches: usize,
}

impl Default for MediaCacheConfig {
    fn default() -> Self {
        Self {
            ttl_seconds: 600,
            max_bytes: 256 * 1024 * 1024,
            max_concurrent_fetches: 8,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum MediaError {
    /// The URL may not be fetched at all (private address, bad scheme): the client's mistake.
    #[error("{0}")]
    Refused(FetchError),
    /// The URL could not be fetched now (HTTP error, timeout, too large).
    #[error("could not fetch: {0}")]
    Unavailable(FetchError),
    /// The bytes are not a medium we can measure.
    #[error("{0}")]
    Unreadable(ProbeError),
    /// Our own storage failed; the detail goes to the log, not to the client.
    #[error("storage is unavailable")]
    Storage,
    /// A URL of our own files without the signature its GET would need.
    #[error("{0}")]
    LinkRefused(&'static str),
    /// The account's share of fetch slots stayed in use past the queue timeout
    /// ([`FetchError::Busy`]): retry shortly.
    #[error("{0}")]
    Busy(FetchError),
}

impl MediaError {
    fn from_fetch(e: FetchError) -> Self {
        match e {
            FetchError::BadScheme(_)
            | FetchError::NoHost
            | FetchError::Forbidden(_)
            | FetchError::InsecureRedirect => MediaError::Refused(e),
            FetchError::Busy { .. } => MediaError::Busy(e),
            other => MediaError::Unavailable(other),
        }
    }
}

/// A medium's bytes and what was measured of them.
#[derive(Debug, Clone)]
pub struct Inspected {
    pub bytes: Bytes,
    pub facts: MediaFacts,
}

#[derive(Debug)]
struct Entry {
    inspected: Inspected,
    etag: Option<String>,
    content_length: Option<u64>,
}

#[derive(Clone)]
pub struct MediaService {
    fetcher: Fetcher,
    blobs: BlobStore,
    /// `<public_base_url>/media/`: URLs under it are our own objects.
    own_prefix: String,
    cache: moka::future::Cache<String, Arc<Entry>>,
    /// Fetch slots: a total, and each account's share of it.
    fetch_permits: Arc<FetchShares>,
    /// When media links are signed: their key, and the clock their expiries are read on. An
    /// own URL is then read only with the signature a GET of it would need.
    link_check: Option<(Vec<u8>, Arc<dyn Clock>)>,
}

/// Measures bytes as the expected kind of medium.
pub fn probe(bytes: &[u8], kind: MediaKind) -> Result<MediaFacts, ProbeError> {
    let size_bytes = bytes.len() as u64;
    let probe = match kind {
        MediaKind::Image => seedgate_probe::probe_image(bytes).map(MediaProbe::Image),
        MediaKind::Video => seedgate_probe::probe_video(bytes).map(MediaProbe::Video),
        MediaKind::Audio => seedgate_probe::probe_audio(bytes).map(MediaProbe::Audio),
    }?;
    Ok(facts(&probe, size_bytes))
}

/// Measures bytes of any supported kind.
pub fn probe_any(bytes: &[u8]) -> Result<MediaFacts, ProbeError> {
    seedgate_probe::probe(bytes).map(|p| facts(&p, bytes.len() as u64))
}

fn facts(probe: &MediaProbe, size_bytes: u64) -> MediaFacts {
    match probe {
        MediaProbe::Image(i) => MediaFacts {
            kind: MediaKind::Image,
            format: i.format.as_str().to_string(),
            size_bytes,
            width: Some(i.width),
            height: Some(i.height),
            duration_seconds: None,
            fps: None,
            codec: None,
        },
        MediaProbe::Video(v) => MediaFacts {
            kind: MediaKind::Video,
            format: v.container.as_str().to_string(),
            size_bytes,
            width: Some(v.width),
            height: Some(v.height),
            duration_seconds: Some(v.duration_seconds),
            fps: Some(v.fps),
            codec: Some(v.codec.clone()),
        },
        MediaProbe::Audio(a) => MediaFacts {
            kind: MediaKind::Audio,
            format: a.format.as_str().to_string(),
            size_bytes,
            width: None,
            height: None,
            duration_seconds: Some(a.duration_seconds),
            fps: None,
            codec: Some(a.codec.to_string()),
        },
    }
}

impl MediaService {
    pub fn new(
        fetcher: Fetcher,
        blobs: BlobStore,
        public_base_url: &str,
        config: &MediaCacheConfig,
    ) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_url: &String, entry: &Arc<Entry>| {
                u32::try_from(entry.inspected.bytes.len())
                    .unwrap_or(u32::MAX)
                    .max(1)
            })
            .time_to_live(Duration::from_secs(config.ttl_seconds))
            .build();
        // Normalised the way the URLs it is compared with are (host case, default port).
        let base = url::Url::parse(public_base_url)
            .map(|u| u.as_str().trim_end_matches('/').to_string())
            .unwrap_or_else(|_| public_base_url.trim_end_matches('/').to_string());
        let fetch_permits = Arc::new(FetchShares::new(
            config.max_concurrent_fetches,
            fetcher
                .limits()
                .per_account_share(config.max_concurrent_fetches),
            fetcher.limits().queue_timeout,
        ));
        Self {
            fetcher,
            blobs,
            own_prefix: format!("{base}/media/"),
            cache,
            fetch_permits,
            link_check: None,
        }
    }

    /// Own media URLs must carry a valid, unexpired signature under `secret`, exactly as the
    /// media route demands of a GET: a reference to another key's file, or an altered or
    /// expired link, is refused instead of read from storage.
    pub fn with_link_check(mut self, secret: Vec<u8>, clock: Arc<dyn Clock>) -> Self {
        self.link_check = Some((secret, clock));
        self
    }

    /// Refuses an own URL whose link would not be served.
    fn check_own_link(&self, key: &str, url: &MediaUrl) -> Result<(), MediaError> {
        let Some((secret, clock)) = &self.link_check else {
            return Ok(());
        };
        let mut expires = None;
        let mut signature = None;
        for (name, value) in url.url().query_pairs() {
            match name.as_ref() {
                "expires" => expires = Some(value.into_owned()),
                "signature" => signature = Some(value.into_owned()),
                _ => {}
            }
        }
        seedgate_core::media_links::verify(
            secret,
            key,
            expires.as_deref(),
            signature.as_deref(),
            clock.now_ms().div_euclid(1000),
        )
        .map_err(|e| {
            MediaError::LinkRefused(match e {
                LinkError::Expired => {
                    "is an expired link; read the task or asset again for a fresh one"
                }
                LinkError::Invalid => "is not a valid signed link to a file on this server",
            })
        })
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The object key behind one of our own media URLs.
    pub fn own_key<'a>(&self, url: &'a MediaUrl) -> Option<&'a str> {
        url.as_str()
            .strip_prefix(&self.own_prefix)
            .map(|k| k.split(['?', '#']).next().unwrap_or(k))
    }

    /// Fetches (or recalls) and probes a medium of the expected kind, for no account in
    /// particular (the renderer reading what a submit fetched): bounded by the total only.
    pub async fn inspect(&self, url: &MediaUrl, kind: MediaKind) -> Result<Inspected, MediaError> {
        self.inspect_as(SHARED_PARTITION, url, kind).await
    }

    /// Fetches (or recalls) and probes a medium of the expected kind for an account, within
    /// that account's share of fetch slots: when its share (or every slot) stays in use past
    /// the queue timeout the answer is [`MediaError::Busy`]. A cached medium needs no slot.
    pub async fn inspect_as(
        &self,
        account: &str,
        url: &MediaUrl,
        kind: MediaKind,
    ) -> Result<Inspected, MediaError> {
        if let Some(key) = self.own_key(url) {
            self.check_own_link(key, url)?;
        }
        let cache_key = format!("{}\u{0}{}", kind.as_str(), url.as_str());
        if let Some(entry) = self.cache.get(&cache_key).await {
            if self.still_valid(url, &entry).await {
                observability::cache_hit(kind);
                return Ok(entry.inspected.clone());
            }
            self.cache.invalidate(&cache_key).await;
        }
        let _permit = self.fetch_permits.acquire(account).await.map_err(|e| {
            observability::busy(kind);
            MediaError::from_fetch(e)
        })?;
        let started = std::time::Instant::now();
        let (bytes, etag, content_length) = match self.own_key(url) {
            Some(key) => {
                let read = self.read_own(key).await;
                observability::read_own(kind, read.is_ok(), started.elapsed());
                (read?, None, None)
            }
            None => {
                let fetched = self.fetcher.fetch(url, kind).await;
                observability::fetched_from(kind, &fetched, started.elapsed());
                let fetched = fetched.map_err(MediaError::from_fetch)?;
                (fetched.bytes, fetched.etag, fetched.content_length)
            }
        };
        // Probing reads up to 50 MB: off the async threads.
        let probed = bytes.clone();
        let started = std::time::Instant::now();
        let facts = tokio::task::spawn_blocking(move || probe(&probed, kind))
            .await
            .map_err(|_| MediaError::Storage)?;
        observability::probed(kind, facts.is_ok(), started.elapsed());
        let facts = facts.map_err(MediaError::Unreadable)?;
        let inspected = Inspected { bytes, facts };
        let entry = Arc::new(Entry {
            inspected: inspected.clone(),
            etag,
            content_length,
        });
        self.cache.insert(cache_key, entry).await;
        Ok(inspected)
    }

    async fn read_own(&self, key: &str) -> Result<Bytes, MediaError> {
        use futures::TryStreamExt;
        let read = self
            .blobs
            .get(key, None)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "reading an own object failed");
                MediaError::Storage
            })?
            .ok_or(MediaError::Unavailable(FetchError::Status(404)))?;
        let chunks: Vec<Bytes> = read.stream.try_collect().await.map_err(|e| {
            tracing::error!(error = %e, "reading an own object failed");
            MediaError::Storage
        })?;
        Ok(chunks.concat().into())
    }

    /// A cached entry stands while the server still reports the same ETag (or, lacking one, the
    /// same Content-Length). Servers that give neither are trusted for the cache's lifetime.
    async fn still_valid(&self, url: &MediaUrl, entry: &Entry) -> bool {
        if self.own_key(url).is_some() || (entry.etag.is_none() && entry.content_length.is_none()) {
            return true;
        }
        let request = OutboundRequest {
            method: Method::HEAD,
            url: url.url().clone(),
            headers: HeaderMap::new(),
            body: None,
            max_body_bytes: 0,
            follow_redirects: true,
            timeout: Some(Duration::from_secs(10)),
        };
        let Ok(head) = self.fetcher.send(request).await else {
            return false;
        };
        if !head.status.is_success() {
            return false;
        }
        let header = |name: &str| {
            head.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        match &entry.etag {
            Some(etag) => header("etag").as_deref() == Some(etag.as_str()),
            None => {
                header("content-length").and_then(|l| l.parse::<u64>().ok()) == entry.content_length
            }
        }
    }
}

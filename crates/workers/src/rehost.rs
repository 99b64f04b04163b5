//! Copies results into seedgate's own object storage before a task completes. Upstream result
//! URLs expire (Ark's after 24 h); the copy is streamed (never held whole in memory), retried
//! with backoff, and only a finished copy lets the task complete.
//!
//! Downloads go through the SSRF-safe [`Fetcher`], under the same address policy as reference
//! media: a result URL is whatever an upstream answered, and an upstream that is compromised
//! (or a reseller that is careless) must not be able to point seedgate at its own network.

use futures::StreamExt;
use seedgate_blobs::BlobStore;
use seedgate_fetch::{FetchError, Fetcher, Url};
use seedgate_providers::{Artifact, ArtifactBody};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RehostConfig {
    /// Tries per file before the task fails (and is refunded).
    pub attempts: u32,
    /// Wait before the second try; doubles after each failure.
    pub backoff: Duration,
    /// One copy's deadline, from the request to the last byte stored.
    pub timeout: Duration,
    /// Largest result accepted.
    pub max_bytes: u64,
}

impl Default for RehostConfig {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(600),
            max_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

#[derive(Clone)]
pub struct Rehoster {
    fetcher: Fetcher,
    blobs: BlobStore,
    config: RehostConfig,
}

/// Why one copy failed, and whether another try could succeed.
struct CopyError {
    message: String,
    permanent: bool,
}

impl CopyError {
    fn retryable(message: String) -> Self {
        Self {
            message,
            permanent: false,
        }
    }

    fn fetch(what: &str, error: FetchError) -> Self {
        Self {
            permanent: error.is_permanent(),
            message: format!("{what}: {error}"),
        }
    }
}

impl Rehoster {
    pub fn new(blobs: BlobStore, fetcher: Fetcher, config: RehostConfig) -> Self {
        Self {
            fetcher,
            blobs,
            config,
        }
    }

    /// Stores the artifact under `key`, retrying a failed copy; the error after the last try.
    /// A refused URL (a private address, say) or a file over the limit is not asked again.
    pub async fn store(&self, artifact: &Artifact, key: &str) -> Result<u64, String> {
        let mut delay = self.config.backoff;
        let attempts = self.config.attempts.max(1);
        for attempt in 1..=attempts {
            let copied = tokio::time::timeout(self.config.timeout, self.store_once(artifact, key))
                .await
                .unwrap_or_else(|_| {
                    Err(CopyError::retryable(format!(
                        "the copy took longer than {:?}",
                        self.config.timeout
                    )))
                });
            let error = match copied {
                Ok(size) => return Ok(size),
                Err(error) => error,
            };
            tracing::warn!(key, attempt, error = %error.message, permanent = error.permanent, "copying a result failed");
            if error.permanent || attempt == attempts {
                return Err(error.message);
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
        Err("no copy was tried".into())
    }

    async fn store_once(&self, artifact: &Artifact, key: &str) -> Result<u64, CopyError> {
        let url = match &artifact.body {
            ArtifactBody::Bytes(bytes) => {
                let size = bytes.len() as u64;
                self.blobs
                    .put(key, bytes.clone())
                    .await
                    .map_err(|e| CopyError::retryable(e.to_string()))?;
                return Ok(size);
            }
            ArtifactBody::Remote(url) => url,
        };
        let url = Url::parse(url).map_err(|e| CopyError {
            message: format!("the result URL is not a URL: {e}"),
            permanent: true,
        })?;
        // Nothing heard for the fetcher's stall timeout, headers or body, fails the try early
        // rather than holding the task until the copy's deadline.
        let stall = self.fetcher.limits().stall_timeout;
        let response = tokio::time::timeout(stall, self.fetcher.open(&url))
            .await
            .map_err(|_| CopyError::retryable(format!("the result URL was silent for {stall:?}")))?
            .map_err(|e| CopyError::fetch("fetching the result", e))?;
        let max = self.config.max_bytes;
        let too_large =
            || CopyError::fetch("fetching the result", FetchError::TooLarge { limit: max });
        if response.content_length().is_some_and(|n| n > max) {
            return Err(too_large());
        }
        // Counted while streaming too, for a length that was missing or false; going over is as
        // final as a declared length over the limit.
        let over_limit = Arc::new(AtomicBool::new(false));
        let flag = over_limit.clone();
        let chunks = futures::stream::unfold(
            (Box::pin(response.bytes_stream()), 0u64, false),
            move |(mut body, mut seen, failed)| {
                let flag = flag.clone();
                async move {
                    if failed {
                        return None;
                    }
                    let item = match tokio::time::timeout(stall, body.next()).await {
                        Err(_) => Err(format!("the result stalled for {stall:?}")),
                        Ok(None) => return None,
                        Ok(Some(Err(e))) => Err(format!("reading the result: {e}")),
                        Ok(Some(Ok(chunk))) => {
                            seen += chunk.len() as u64;
                            if seen > max {
                                flag.store(true, Ordering::Relaxed);
                                Err(format!("the result is larger than {max} bytes"))
                            } else {
                                Ok(chunk)
                            }
                        }
                    };
                    let failed = item.is_err();
                    Some((item, (body, seen, failed)))
                }
            },
        );
        let size =
            self.blobs
                .put_stream(key, Box::pin(chunks))
                .await
                .map_err(|e| match over_limit.load(Ordering::Relaxed) {
                    true => too_large(),
                    false => CopyError::retryable(e.to_string()),
                })?;
        if size == 0 {
            return Err(CopyError::retryable("the result was empty".into()));
        }
        Ok(size)
    }
}

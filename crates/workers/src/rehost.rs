//! Copies results into seedgate's own object storage before a task completes. Upstream result
//! URLs expire (Ark's after 24 h); the copy is streamed (never held whole in memory), retried
//! with backoff, and only a finished copy lets the task complete.

use seedgate_providers::{Artifact, ArtifactBody};
use seedgate_store::BlobStore;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RehostConfig {
    /// Tries per file before the task fails (and is refunded).
    pub attempts: u32,
    /// Wait before the second try; doubles after each failure.
    pub backoff: Duration,
    /// One download's deadline.
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
    http: reqwest::Client,
    blobs: BlobStore,
    config: RehostConfig,
}

impl Rehoster {
    pub fn new(blobs: BlobStore, config: RehostConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(config.timeout)
            // Result URLs on CDNs may redirect once or twice (signed storage URLs).
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("seedgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            blobs,
            config,
        })
    }

    /// Stores the artifact under `key`, retrying a failed copy; the error after the last try.
    pub async fn store(&self, artifact: &Artifact, key: &str) -> Result<u64, String> {
        let mut delay = self.config.backoff;
        let mut last_error = String::new();
        for attempt in 1..=self.config.attempts.max(1) {
            match self.store_once(artifact, key).await {
                Ok(size) => return Ok(size),
                Err(e) => {
                    tracing::warn!(key, attempt, error = %e, "copying a result failed");
                    last_error = e;
                }
            }
            if attempt < self.config.attempts {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
        }
        Err(last_error)
    }

    async fn store_once(&self, artifact: &Artifact, key: &str) -> Result<u64, String> {
        match &artifact.body {
            ArtifactBody::Bytes(bytes) => {
                let size = bytes.len() as u64;
                self.blobs
                    .put(key, bytes.clone())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(size)
            }
            ArtifactBody::Remote(url) => {
                let response = self
                    .http
                    .get(url)
                    .send()
                    .await
                    .map_err(|e| format!("fetching the result: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!("the result URL answered {}", response.status()));
                }
                if response
                    .content_length()
                    .is_some_and(|n| n > self.config.max_bytes)
                {
                    return Err(format!(
                        "the result is larger than {} bytes",
                        self.config.max_bytes
                    ));
                }
                let max = self.config.max_bytes;
                let mut seen = 0u64;
                let chunks = futures::StreamExt::map(response.bytes_stream(), move |chunk| {
                    let chunk = chunk.map_err(|e| format!("reading the result: {e}"))?;
                    seen += chunk.len() as u64;
                    if seen > max {
                        return Err(format!("the result is larger than {max} bytes"));
                    }
                    Ok(chunk)
                });
                let size = self
                    .blobs
                    .put_stream(key, Box::pin(chunks))
                    .await
                    .map_err(|e| e.to_string())?;
                if size == 0 {
                    return Err("the result was empty".into());
                }
                Ok(size)
            }
        }
    }
}

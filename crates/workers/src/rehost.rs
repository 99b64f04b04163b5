//! Copies results into seedgate's own object storage before a task completes. Upstream result
//! URLs expire (Ark's after 24 h); the copy is streamed (never held whole in memory), retried
//! with backoff, and only a finished copy lets the task complete.
//!
//! Downloads go through the SSRF-safe [`Fetcher`], under the same address policy as reference
//! media: a result URL is whatever an upstream answered, and an upstream that is compromised
//! (or a reseller that is careless) must not be able to point seedgate at its own network.
//! A file on the account's own API (the OpenAI-style `/v1/videos/{id}/content`) comes with the
//! account's `Authorization`, sent marked sensitive and dropped by the fetcher if a redirect
//! leaves that origin; it never appears in a log or an error.

use futures::StreamExt;
use seedgate_blobs::BlobStore;
use seedgate_fetch::{FetchError, Fetcher, HeaderValue, OutboundRequest, Url};
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
        let (url, authorization) = match &artifact.body {
            ArtifactBody::Bytes(bytes) => {
                let size = bytes.len() as u64;
                self.blobs
                    .put(key, bytes.clone())
                    .await
                    .map_err(|e| CopyError::retryable(e.to_string()))?;
                return Ok(size);
            }
            ArtifactBody::Remote { url, authorization } => (url, authorization),
        };
        let url = Url::parse(url).map_err(|e| CopyError {
            message: format!("the result URL is not a URL: {e}"),
            permanent: true,
        })?;
        let max = self.config.max_bytes;
        // A declared length over `max` fails in the fetcher, before any of the body is read.
        let mut request = OutboundRequest::get(url, max);
        if let Some(secret) = authorization {
            // The value is not quoted in the error: it is the account's key.
            let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| CopyError {
                message: "the account's key is not a valid header value".into(),
                permanent: true,
            })?;
            value.set_sensitive(true);
            request
                .headers
                .insert(reqwest::header::AUTHORIZATION, value);
        }
        // Nothing heard for the fetcher's stall timeout, headers or body, fails the try early
        // rather than holding the task until the copy's deadline.
        let stall = self.fetcher.limits().stall_timeout;
        let response = tokio::time::timeout(stall, self.fetcher.open_request(request))
            .await
            .map_err(|_| CopyError::retryable(format!("the result URL was silent for {stall:?}")))?
            .map_err(|e| CopyError::fetch("fetching the result", e))?;
        let too_large =
            || CopyError::fetch("fetching the result", FetchError::TooLarge { limit: max });
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use seedgate_fetch::{AddressPolicy, FetchLimits};
    use seedgate_providers::Secret;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback server that answers `/content` with a body when the key is right (401
    /// otherwise) and keeps every request head.
    async fn content_server(heads: Arc<Mutex<Vec<String>>>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.ends_with(b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let authorized = head
                    .lines()
                    .any(|l| l.eq_ignore_ascii_case("authorization: Bearer sg_live_s3cret"));
                heads.lock().expect("lock").push(head);
                let answer: &[u8] = if authorized {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\nconnection: close\r\n\r\nvideo-bytes"
                } else {
                    b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                };
                let _ = socket.write_all(answer).await;
            }
        });
        format!("http://{addr}")
    }

    fn rehoster(dir: &std::path::Path) -> Rehoster {
        let policy =
            AddressPolicy::with_allowed(vec!["127.0.0.0/8".parse().expect("loopback range")]);
        let fetcher = Fetcher::new(policy, FetchLimits::default()).expect("fetcher");
        Rehoster::new(
            BlobStore::local(dir).expect("blobs"),
            fetcher,
            RehostConfig {
                attempts: 1,
                ..RehostConfig::default()
            },
        )
    }

    #[tokio::test]
    async fn a_file_on_the_accounts_api_is_fetched_with_its_key_which_is_never_shown() {
        let dir = std::env::temp_dir().join(format!("seedgate-rehost-{}", ulid::Ulid::new()));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let base = content_server(heads.clone()).await;
        let rehoster = rehoster(&dir);
        let artifact = |authorization: Option<Secret>| Artifact {
            body: ArtifactBody::Remote {
                url: format!("{base}/v1/videos/task_1/content"),
                authorization,
            },
            content_type: "video/mp4".into(),
        };

        let with_key = artifact(Some(Secret::new("Bearer sg_live_s3cret")));
        assert!(!format!("{with_key:?}").contains("s3cret"));
        let size = rehoster
            .store(&with_key, "tasks/t/1/0.mp4")
            .await
            .expect("copied");
        assert_eq!(size, 11);
        let stored = std::fs::read(dir.join("tasks/t/1/0.mp4")).expect("stored");
        assert_eq!(Bytes::from(stored), Bytes::from_static(b"video-bytes"));

        let error = rehoster
            .store(&artifact(None), "tasks/t/1/1.mp4")
            .await
            .expect_err("refused without the key");
        assert!(error.contains("401"), "{error}");
        let wrong = artifact(Some(Secret::new("Bearer sg_live_wrong")));
        let error = rehoster
            .store(&wrong, "tasks/t/1/2.mp4")
            .await
            .expect_err("a wrong key");
        assert!(
            !error.contains("sg_live"),
            "the key is not in the error: {error}"
        );

        let heads = heads.lock().expect("lock").clone();
        assert_eq!(heads.len(), 3);
        assert!(heads[0].contains("Bearer sg_live_s3cret"), "{}", heads[0]);
        assert!(
            !heads[1].to_ascii_lowercase().contains("authorization"),
            "no key, no header: {}",
            heads[1]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! The one outbound fetcher for user-supplied URLs (reference media now; webhook and callback
//! URLs later). Every fetch has a byte cap, a total timeout and a stalled-body timeout; proxies
//! from the environment are ignored; redirects are bounded and each hop is re-checked against
//! the address policy.
//!
//! The address policy here is deliberately simple (IP literals only). The SSRF-safe resolver
//! that checks every resolved address replaces [`AddressPolicy`]'s internals without changing
//! this module's interface.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use seedgate_core::media::MediaUrl;
use std::net::IpAddr;
use std::time::Duration;

/// What is being fetched; decides the byte cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
}

#[derive(Debug, Clone)]
pub struct FetchLimits {
    pub image_max_bytes: u64,
    pub video_max_bytes: u64,
    pub audio_max_bytes: u64,
    pub total_timeout: Duration,
    pub stall_timeout: Duration,
    pub max_redirects: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        // The HiAPI seed's media limits: images < 30 MB, videos < 50 MB, audio < 15 MB.
        Self {
            image_max_bytes: 30 * 1024 * 1024,
            video_max_bytes: 50 * 1024 * 1024,
            audio_max_bytes: 15 * 1024 * 1024,
            total_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(15),
            max_redirects: 5,
        }
    }
}

impl FetchLimits {
    fn cap(&self, kind: MediaKind) -> u64 {
        match kind {
            MediaKind::Image => self.image_max_bytes,
            MediaKind::Video => self.video_max_bytes,
            MediaKind::Audio => self.audio_max_bytes,
        }
    }
}

/// Which destination addresses may be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPolicy {
    /// Development: loopback and private addresses are allowed, so local test servers work.
    AllowPrivate,
    /// Production: IP literals in private, loopback and link-local ranges are refused.
    PublicOnly,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("destination address is not allowed")]
    Forbidden,
    #[error("too many redirects")]
    TooManyRedirects,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the file is larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("timed out")]
    Timeout,
    #[error("the transfer stalled")]
    Stalled,
    #[error("could not fetch: {0}")]
    Transport(String),
}

#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Bytes,
    pub content_type: Option<String>,
    pub etag: Option<String>,
}

#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    limits: FetchLimits,
    policy: AddressPolicy,
}

impl Fetcher {
    pub fn new(policy: AddressPolicy, limits: FetchLimits) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            // Redirects are followed by hand so every hop is checked against the policy.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("seedgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        Ok(Self {
            client,
            limits,
            policy,
        })
    }

    pub fn limits(&self) -> &FetchLimits {
        &self.limits
    }

    /// Fetches a media URL whole, within the cap for its kind.
    pub async fn fetch(&self, url: &MediaUrl, kind: MediaKind) -> Result<Fetched, FetchError> {
        let cap = self.limits.cap(kind);
        tokio::time::timeout(
            self.limits.total_timeout,
            self.fetch_inner(url.url().clone(), cap),
        )
        .await
        .map_err(|_| FetchError::Timeout)?
    }

    async fn fetch_inner(&self, mut url: url::Url, cap: u64) -> Result<Fetched, FetchError> {
        let mut hops = 0;
        let response = loop {
            self.check(&url)?;
            let response = self
                .client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| FetchError::Transport(e.without_url().to_string()))?;
            if response.status().is_redirection() {
                hops += 1;
                if hops > self.limits.max_redirects {
                    return Err(FetchError::TooManyRedirects);
                }
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(FetchError::Status(response.status().as_u16()))?;
                url = url
                    .join(location)
                    .map_err(|_| FetchError::Transport("bad redirect".into()))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(FetchError::Forbidden);
                }
                continue;
            }
            break response;
        };
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|len| len > cap) {
            return Err(FetchError::TooLarge { limit: cap });
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let etag = header(reqwest::header::ETAG);
        let mut body = BytesMut::new();
        let mut stream = response.bytes_stream();
        loop {
            let chunk = tokio::time::timeout(self.limits.stall_timeout, stream.next())
                .await
                .map_err(|_| FetchError::Stalled)?;
            match chunk {
                None => break,
                Some(Err(e)) => return Err(FetchError::Transport(e.without_url().to_string())),
                Some(Ok(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > cap {
                        return Err(FetchError::TooLarge { limit: cap });
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }
        Ok(Fetched {
            bytes: body.freeze(),
            content_type,
            etag,
        })
    }

    fn check(&self, url: &url::Url) -> Result<(), FetchError> {
        if self.policy == AddressPolicy::AllowPrivate {
            return Ok(());
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
                return Err(FetchError::Forbidden)
            }
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(FetchError::Forbidden),
        };
        let blocked = match ip.to_canonical() {
            IpAddr::V4(v4) => {
                v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
            }
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xfe00) == 0xfc00
            }
        };
        if blocked {
            Err(FetchError::Forbidden)
        } else {
            Ok(())
        }
    }
}

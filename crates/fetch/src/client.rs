use crate::error::{self, FetchError, Forbidden};
use crate::limits::{FetchLimits, MediaKind};
use crate::policy::{self, AddressPolicy};
use crate::redirect;
use crate::resolver::{Guard, ReqwestResolver, Resolve, SystemResolver};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use seedgate_core::media::MediaUrl;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// A fetched body with the headers a probe cache needs.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Bytes,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    /// As the server declared it, if it did.
    pub content_length: Option<u64>,
}

/// One outbound request to a user-given URL.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: Url,
    /// Credentials among them (`Authorization`, `Cookie`, `Proxy-Authorization`) are dropped
    /// when a redirect leaves the URL's origin (scheme, host and port).
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// The response body is read up to this many bytes; more is [`FetchError::TooLarge`].
    pub max_body_bytes: u64,
    /// Follow 301/302/303/307/308 (up to the fetcher's `max_redirects`, each hop checked
    /// again). When off, a redirect is returned as the response; webhooks count it a failure.
    pub follow_redirects: bool,
    /// Overrides the fetcher's total timeout.
    pub timeout: Option<Duration>,
}

impl OutboundRequest {
    /// A GET that follows redirects.
    pub fn get(url: Url, max_body_bytes: u64) -> Self {
        Self {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: None,
            max_body_bytes,
            follow_redirects: true,
            timeout: None,
        }
    }

    /// A POST that does not follow redirects (webhook delivery).
    pub fn post(url: Url, body: Bytes, max_body_bytes: u64) -> Self {
        Self {
            method: Method::POST,
            body: Some(body),
            follow_redirects: false,
            ..Self::get(url, max_body_bytes)
        }
    }
}

/// The final response: after any redirects that were followed, with its body read.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: StatusCode,
    /// The URL that answered (the last hop).
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The one client for user-given URLs. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    limits: FetchLimits,
    guard: Guard,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("limits", &self.limits)
            .field("policy", &self.guard.policy)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher that resolves names with the operating system's resolver.
    pub fn new(policy: AddressPolicy, limits: FetchLimits) -> Result<Self, FetchError> {
        Self::with_resolver(policy, limits, Arc::new(SystemResolver))
    }

    /// A fetcher that resolves names with `resolver` (tests map names to any address).
    pub fn with_resolver(
        policy: AddressPolicy,
        limits: FetchLimits,
        resolver: Arc<dyn Resolve>,
    ) -> Result<Self, FetchError> {
        let guard = Guard { resolver, policy };
        let client = reqwest::Client::builder()
            // Proxies from the environment would resolve and connect on our behalf, past the
            // guarded resolver; `no_proxy` also turns off the automatic system proxy.
            .no_proxy()
            // Redirects are followed by hand so every hop is checked.
            .redirect(reqwest::redirect::Policy::none())
            // The only resolver: the addresses it lets through are the ones connected to.
            .dns_resolver(Arc::new(ReqwestResolver(guard.clone())))
            .connect_timeout(limits.connect_timeout)
            // Byte caps count what the server sends; no decompression bombs even if another
            // crate turns these reqwest features on.
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .no_zstd()
            .user_agent(concat!("seedgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        Ok(Self {
            client,
            limits,
            guard,
        })
    }

    pub fn limits(&self) -> &FetchLimits {
        &self.limits
    }

    pub fn policy(&self) -> &AddressPolicy {
        &self.guard.policy
    }

    /// Fetches a media URL whole, within the cap for its kind.
    pub async fn fetch(&self, url: &MediaUrl, kind: MediaKind) -> Result<Fetched, FetchError> {
        self.get(url.url(), HeaderMap::new(), self.limits.max_bytes(kind))
            .await
    }

    /// GETs a URL whole, following redirects; any final status but 2xx is an error.
    pub async fn get(
        &self,
        url: &Url,
        headers: HeaderMap,
        max_bytes: u64,
    ) -> Result<Fetched, FetchError> {
        let mut request = OutboundRequest::get(url.clone(), max_bytes);
        request.headers = headers;
        let total = self.limits.total_timeout;
        deadline(total, async {
            let (response, _) = self.exchange(request).await?;
            if !response.status().is_success() {
                return Err(FetchError::Status(response.status().as_u16()));
            }
            let text = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let content_type = text(header::CONTENT_TYPE);
            let etag = text(header::ETAG);
            let content_length = text(header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
            let bytes = self.read_body(response, max_bytes).await?;
            Ok(Fetched {
                bytes,
                content_type,
                etag,
                content_length,
            })
        })
        .await
    }

    /// Opens a GET for streaming, following redirects with every hop checked: the 2xx
    /// response with its body unread. Time limits are the caller's, beyond the connect
    /// timeout: a stream may rightly run long (a result video of a gigabyte, say).
    pub async fn open(&self, url: &Url) -> Result<reqwest::Response, FetchError> {
        self.open_request(OutboundRequest::get(url.clone(), u64::MAX))
            .await
    }

    /// Opens a request for streaming, as [`Self::open`] does, with the request's method,
    /// headers and body: a download that needs credentials (an upstream's `Authorization`),
    /// which are dropped if a redirect leaves the URL's origin. A declared length over
    /// `max_body_bytes` is [`FetchError::TooLarge`]; counting the streamed body, and any
    /// `timeout`, are the caller's.
    pub async fn open_request(
        &self,
        request: OutboundRequest,
    ) -> Result<reqwest::Response, FetchError> {
        let max_bytes = request.max_body_bytes;
        let (response, _) = self.exchange(request).await?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|len| len > max_bytes) {
            return Err(FetchError::TooLarge { limit: max_bytes });
        }
        Ok(response)
    }

    /// Sends a request and reads the response whatever its status.
    pub async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, FetchError> {
        let total = request.timeout.unwrap_or(self.limits.total_timeout);
        let max_bytes = request.max_body_bytes;
        deadline(total, async {
            let (response, url) = self.exchange(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = self.read_body(response, max_bytes).await?;
            Ok(OutboundResponse {
                status,
                url,
                headers,
                body,
            })
        })
        .await
    }

    /// Whether a URL may be requested, resolving its host if it is a name, without
    /// connecting. For validating a URL when it is given (a webhook endpoint, say); the
    /// connection is checked again when it is made.
    pub async fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        self.check_target(url)?;
        match url.host() {
            Some(Host::Domain(name)) => self.resolve(name).await.map(drop),
            _ => Ok(()),
        }
    }

    /// The addresses a connection to the host name may use: the resolver's answer less
    /// the blocked addresses.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, FetchError> {
        self.guard.resolve(host).await.map_err(FetchError::from)
    }

    /// Sends the request, following redirects if asked; returns the last response, body
    /// unread, and the URL it came from.
    async fn exchange(
        &self,
        request: OutboundRequest,
    ) -> Result<(reqwest::Response, Url), FetchError> {
        let OutboundRequest {
            mut method,
            mut url,
            mut headers,
            mut body,
            follow_redirects,
            ..
        } = request;
        let mut hops = 0;
        loop {
            self.check_target(&url)?;
            let mut builder = self
                .client
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(body) = &body {
                builder = builder.body(body.clone());
            }
            let response = builder.send().await.map_err(error::from_reqwest)?;
            let status = response.status();
            let location = match response.headers().get(header::LOCATION) {
                Some(location) if follow_redirects && redirect::is_followed(status) => {
                    location.clone()
                }
                _ => return Ok((response, url)),
            };
            // The redirect's own body is not wanted.
            drop(response);
            hops += 1;
            if hops > self.limits.max_redirects {
                return Err(FetchError::TooManyRedirects {
                    max: self.limits.max_redirects,
                });
            }
            let next = redirect::next_url(&url, &location)?;
            if !redirect::same_origin(&url, &next) {
                redirect::strip_sensitive(&mut headers);
            }
            if redirect::becomes_get(status, &method) {
                method = Method::GET;
                body = None;
                headers.remove(header::CONTENT_TYPE);
                headers.remove(header::CONTENT_LENGTH);
            }
            url = next;
        }
    }

    /// The checks that need no lookup, made on every hop before anything is sent: the scheme,
    /// IP-literal hosts (which never reach the resolver) and refused names. Names are checked
    /// by the guarded resolver when the connection is made.
    fn check_target(&self, url: &Url) -> Result<(), FetchError> {
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(FetchError::BadScheme(other.to_owned())),
        }
        // `url` has already turned every spelling of an IPv4 address (`2130706433`,
        // `0x7f.1`, `0177.0.0.1`, `127.1`) into `Host::Ipv4`; classify the parsed host, never
        // the raw string.
        let literal = match url.host() {
            None => return Err(FetchError::NoHost),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(name)) => match name.parse::<IpAddr>() {
                // Unreachable with `url`'s parser, but hyper would skip the resolver for a
                // name that reads as an address, so such a name is judged as one.
                Ok(ip) => ip,
                Err(_) if policy::is_blocked_name(&policy::normalize_name(name)) => {
                    return Err(Forbidden::Name.into())
                }
                Err(_) => return Ok(()),
            },
        };
        self.guard
            .policy
            .check(literal)
            .map_err(|blocked| Forbidden::Address(blocked).into())
    }

    /// Reads a body within the cap, failing if it stalls.
    async fn read_body(&self, response: reqwest::Response, cap: u64) -> Result<Bytes, FetchError> {
        // A declared length over the cap fails before any of the body is read; a missing or
        // lying one is caught by counting below.
        if response.content_length().is_some_and(|len| len > cap) {
            return Err(FetchError::TooLarge { limit: cap });
        }
        let stall = self.limits.stall_timeout;
        let mut body = BytesMut::new();
        let mut stream = response.bytes_stream();
        loop {
            let chunk = tokio::time::timeout(stall, stream.next())
                .await
                .map_err(|_| FetchError::Stalled { after: stall })?;
            match chunk {
                None => return Ok(body.freeze()),
                Some(Err(e)) => return Err(error::from_reqwest(e)),
                Some(Ok(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > cap {
                        return Err(FetchError::TooLarge { limit: cap });
                    }
                    body.extend_from_slice(&chunk);
                }
            }
        }
    }
}

async fn deadline<T>(
    total: Duration,
    work: impl std::future::Future<Output = Result<T, FetchError>>,
) -> Result<T, FetchError> {
    tokio::time::timeout(total, work)
        .await
        .map_err(|_| FetchError::Timeout { after: total })?
}

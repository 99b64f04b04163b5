//! Name resolution with the address policy applied to every answer.
//!
//! The guarded resolver is installed in reqwest as its only resolver, so the addresses that
//! survive the policy are exactly the ones reqwest connects to: there is no second lookup that
//! DNS rebinding could answer differently (reliability-practices §3.3). IP-literal hosts never
//! reach a resolver; the client checks those itself before sending.

use crate::error::{FetchError, Forbidden};
use crate::policy::{self, AddressPolicy};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Resolves a host name to addresses. Implement it to control DNS in tests.
pub trait Resolve: Send + Sync {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`, on a blocking thread).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Fixed answers, for tests. Names are matched case-insensitively and without a trailing
/// dot; an unknown name fails like NXDOMAIN.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    answers: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.insert(host, addrs);
        self
    }

    pub fn insert(&mut self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) {
        self.answers
            .insert(policy::normalize_name(host), addrs.into_iter().collect());
    }
}

impl Resolve for StaticResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let answer = self
            .answers
            .get(&policy::normalize_name(host))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"));
        Box::pin(async move { answer })
    }
}

/// A refusal or failure inside the guarded resolver. It travels through reqwest's error chain
/// and is turned back into a [`FetchError`] by `error::from_reqwest`.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum GuardError {
    #[error("{0}")]
    Forbidden(Forbidden),
    #[error("could not resolve the host")]
    Unresolvable,
}

impl From<GuardError> for FetchError {
    fn from(value: GuardError) -> Self {
        match value {
            GuardError::Forbidden(f) => FetchError::Forbidden(f),
            GuardError::Unresolvable => FetchError::Unresolvable,
        }
    }
}

/// A resolver with the address policy applied.
#[derive(Clone)]
pub(crate) struct Guard {
    pub(crate) resolver: Arc<dyn Resolve>,
    pub(crate) policy: AddressPolicy,
}

impl Guard {
    /// The addresses a connection to `host` (a DNS name, not an IP literal) may use.
    pub(crate) async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, GuardError> {
        let name = policy::normalize_name(host);
        if policy::is_blocked_name(&name) {
            return Err(GuardError::Forbidden(Forbidden::Name));
        }
        let addrs = if policy::is_localhost_name(&name) {
            vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]
        } else {
            self.resolver
                .resolve(host)
                .await
                .map_err(|_| GuardError::Unresolvable)?
        };
        match self.policy.filter(addrs) {
            Ok(allowed) if allowed.is_empty() => Err(GuardError::Unresolvable),
            Ok(allowed) => Ok(allowed),
            Err(blocked) => Err(GuardError::Forbidden(Forbidden::Resolved(blocked))),
        }
    }
}

/// The guard as reqwest's resolver.
pub(crate) struct ReqwestResolver(pub(crate) Guard);

impl reqwest::dns::Resolve for ReqwestResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let addrs = guard.resolve(name.as_str()).await?;
            // Port 0 is replaced by the URL's port (or the scheme's default) by reqwest.
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_answers_ignore_case_and_the_trailing_dot() {
        let resolver = StaticResolver::new().with("Media.Test.", [IpAddr::from([127, 0, 0, 1])]);
        assert_eq!(
            resolver.resolve("media.test").await.expect("known"),
            [IpAddr::from([127, 0, 0, 1])]
        );
        assert_eq!(
            resolver.resolve("MEDIA.TEST.").await.expect("known").len(),
            1
        );
        let err = resolver.resolve("other.test").await.expect_err("unknown");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}

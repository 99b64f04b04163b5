//! The `[fetch]` settings as the app reads them from its configuration.

use crate::limits::FetchLimits;
use crate::policy::AddressPolicy;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FetchConfig {
    /// CIDRs (or single addresses) that may be fetched although they are private or reserved,
    /// e.g. `["10.20.0.0/16", "fd00:1::/64"]`. Unset: loopback in development mode, nothing in
    /// production. An empty list allows nothing private in either mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_private: Option<Vec<String>>,
    pub image_max_bytes: u64,
    pub video_max_bytes: u64,
    pub audio_max_bytes: u64,
    /// For the whole exchange, redirects and body included.
    pub timeout_seconds: u64,
    /// The longest wait for the next piece of a body.
    pub stall_timeout_seconds: u64,
    pub connect_timeout_seconds: u64,
    pub max_redirects: usize,
    /// Reference-media fetches one account may have in flight at once (of
    /// `probe_cache.max_concurrent_fetches`). Unset: a quarter of them, at least one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_account_concurrency: Option<usize>,
    /// How long an account's fetch waits for a free slot before the request is refused as busy
    /// (retryable). 0: refused at once when no slot is free.
    pub queue_timeout_seconds: u64,
}

impl Default for FetchConfig {
    fn default() -> Self {
        let limits = FetchLimits::default();
        Self {
            allow_private: None,
            image_max_bytes: limits.image_max_bytes,
            video_max_bytes: limits.video_max_bytes,
            audio_max_bytes: limits.audio_max_bytes,
            timeout_seconds: limits.total_timeout.as_secs(),
            stall_timeout_seconds: limits.stall_timeout.as_secs(),
            connect_timeout_seconds: limits.connect_timeout.as_secs(),
            max_redirects: limits.max_redirects,
            per_account_concurrency: limits.per_account,
            queue_timeout_seconds: limits.queue_timeout.as_secs(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "fetch.allow_private: `{0}` is neither a CIDR (like 10.0.0.0/8 or fd00::/8) nor an IP address"
    )]
    InvalidCidr(String),
    #[error("fetch.{0} must be greater than zero")]
    Zero(&'static str),
}

impl FetchConfig {
    /// The address policy: `allow_private` if set, else the mode's default
    /// ([`AddressPolicy::development`] or [`AddressPolicy::production`]).
    pub fn policy(&self, mode_default: AddressPolicy) -> Result<AddressPolicy, ConfigError> {
        let Some(entries) = &self.allow_private else {
            return Ok(mode_default);
        };
        let allow = entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| ConfigError::InvalidCidr(entry.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AddressPolicy::with_allowed(allow))
    }

    pub fn limits(&self) -> Result<FetchLimits, ConfigError> {
        let nonzero = |value: u64, name: &'static str| {
            if value == 0 {
                Err(ConfigError::Zero(name))
            } else {
                Ok(value)
            }
        };
        Ok(FetchLimits {
            image_max_bytes: nonzero(self.image_max_bytes, "image_max_bytes")?,
            video_max_bytes: nonzero(self.video_max_bytes, "video_max_bytes")?,
            audio_max_bytes: nonzero(self.audio_max_bytes, "audio_max_bytes")?,
            total_timeout: Duration::from_secs(nonzero(self.timeout_seconds, "timeout_seconds")?),
            stall_timeout: Duration::from_secs(nonzero(
                self.stall_timeout_seconds,
                "stall_timeout_seconds",
            )?),
            connect_timeout: Duration::from_secs(nonzero(
                self.connect_timeout_seconds,
                "connect_timeout_seconds",
            )?),
            max_redirects: self.max_redirects,
            per_account: match self.per_account_concurrency {
                Some(0) => return Err(ConfigError::Zero("per_account_concurrency")),
                other => other,
            },
            queue_timeout: Duration::from_secs(self.queue_timeout_seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accounts_share_defaults_to_a_quarter_and_may_not_be_zero() {
        let limits = FetchConfig::default().limits().expect("defaults are valid");
        assert_eq!(limits.per_account_share(8), 2);
        assert_eq!(limits.per_account_share(2), 1);
        assert_eq!(limits.queue_timeout, Duration::from_secs(10));
        let set = FetchConfig {
            per_account_concurrency: Some(3),
            queue_timeout_seconds: 0,
            ..FetchConfig::default()
        };
        let limits = set.limits().expect("valid");
        assert_eq!(limits.per_account_share(8), 3);
        assert_eq!(limits.per_account_share(2), 2);
        assert_eq!(limits.queue_timeout, Duration::ZERO);
        let zero = FetchConfig {
            per_account_concurrency: Some(0),
            ..FetchConfig::default()
        };
        assert_eq!(
            zero.limits(),
            Err(ConfigError::Zero("per_account_concurrency"))
        );
    }
}

//! The one outbound fetcher for user-supplied URLs: reference media now, webhook and callback
//! URLs next (reliability-practices §3).
//!
//! - Only http and https. Every address is checked against the block list in [`policy`]
//!   (loopback, private, link-local with the metadata services, CGNAT, ULA, the IPv4-mapped,
//!   NAT64 and 6to4 forms, multicast, reserved and documentation ranges) unless the policy
//!   allows it.
//! - IP-literal hosts are checked before anything is sent; names are resolved once by the
//!   guarded resolver, which hands reqwest only the addresses that passed, so DNS rebinding
//!   cannot swap in another address between the check and the connection.
//! - Redirects are followed by hand, at most `max_redirects` hops, each hop checked again;
//!   credentials are dropped when a hop leaves the origin; never https → http.
//! - Proxies from the environment are ignored; there is a byte cap, a total deadline and a
//!   stalled-body timeout on every request.
//! - [`FetchShares`] bounds the fetches in flight, and each account's share of them, so one
//!   account's slow URLs delay only that account; a wait too long is [`FetchError::Busy`].

mod client;
mod config;
mod error;
mod limits;
pub mod policy;
mod redirect;
mod resolver;
mod shares;

pub use client::{Fetched, Fetcher, OutboundRequest, OutboundResponse};
pub use config::{ConfigError, FetchConfig};
pub use error::{FetchError, Forbidden};
pub use limits::{FetchLimits, MediaKind};
pub use policy::{AddressClass, AddressPolicy, Blocked};
pub use resolver::{Resolve, StaticResolver, SystemResolver};
pub use shares::{FetchPermit, FetchShares, SHARED_PARTITION};

// The types callers need to build requests, so they need not depend on these crates.
pub use ipnet::IpNet;
pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{Method, StatusCode};
pub use url::Url;

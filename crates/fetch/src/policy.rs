//! Which destination addresses may be fetched.
//!
//! The block list follows svix-server's `is_allowed()` (reliability-practices §3.1), plus a few
//! ranges it leaves out (marked below). The decision is one pure function over an [`IpAddr`],
//! made after canonicalisation so that `::ffff:127.0.0.1` is judged as `127.0.0.1`: std's
//! `Ipv6Addr::is_loopback()` is false for it, which is the classic bypass.
//!
//! Tunnelling prefixes that embed an IPv4 address (NAT64, 6to4, Teredo, IPv4-compatible) are
//! blocked whole, not by checking the embedded address: the reference blocks
//! `64:ff9b::808:808` (NAT64 for the public 8.8.8.8) too, and no media host or webhook receiver
//! needs to be reached through a translator.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    ThisNetwork,
    Private,
    SharedAddressSpace,
    Loopback,
    LinkLocal,
    IetfReserved,
    Documentation,
    Benchmarking,
    Multicast,
    Reserved,
    Broadcast,
    Unspecified,
    Ipv4Compatible,
    Nat64,
    Discard,
    Teredo,
    SixToFour,
    Srv6,
    UniqueLocal,
    SiteLocal,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ThisNetwork => "\"this network\"",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared (CGNAT)",
            Self::Loopback => "loopback",
            Self::LinkLocal => "link-local",
            Self::IetfReserved => "IETF-reserved",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Multicast => "multicast",
            Self::Reserved => "reserved",
            Self::Broadcast => "broadcast",
            Self::Unspecified => "unspecified",
            Self::Ipv4Compatible => "IPv4-compatible",
            Self::Nat64 => "NAT64",
            Self::Discard => "discard-only",
            Self::Teredo => "Teredo",
            Self::SixToFour => "6to4",
            Self::Srv6 => "SRv6",
            Self::UniqueLocal => "unique local",
            Self::SiteLocal => "site-local",
        })
    }
}

/// A refused address: the blocked range it falls in and what that range is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{class} address (in {range})")]
pub struct Blocked {
    pub class: AddressClass,
    pub range: IpNet,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(s: [u16; 8], prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        prefix,
    )
}

/// Blocked IPv4 ranges, most specific first (the first match names the class).
pub const BLOCKED_V4: &[(Ipv4Net, AddressClass)] = &[
    (v4(0, 0, 0, 0, 8), AddressClass::ThisNetwork),
    (v4(10, 0, 0, 0, 8), AddressClass::Private),
    // Covers Alibaba Cloud's metadata service at 100.100.100.200.
    (v4(100, 64, 0, 0, 10), AddressClass::SharedAddressSpace),
    (v4(127, 0, 0, 0, 8), AddressClass::Loopback),
    // Covers the cloud metadata service at 169.254.169.254.
    (v4(169, 254, 0, 0, 16), AddressClass::LinkLocal),
    (v4(172, 16, 0, 0, 12), AddressClass::Private),
    (v4(192, 0, 0, 0, 24), AddressClass::IetfReserved),
    (v4(192, 0, 2, 0, 24), AddressClass::Documentation),
    // The deprecated 6to4 relay anycast prefix.
    (v4(192, 88, 99, 0, 24), AddressClass::IetfReserved),
    (v4(192, 168, 0, 0, 16), AddressClass::Private),
    (v4(198, 18, 0, 0, 15), AddressClass::Benchmarking),
    (v4(198, 51, 100, 0, 24), AddressClass::Documentation),
    (v4(203, 0, 113, 0, 24), AddressClass::Documentation),
    (v4(224, 0, 0, 0, 4), AddressClass::Multicast),
    (v4(255, 255, 255, 255, 32), AddressClass::Broadcast),
    (v4(240, 0, 0, 0, 4), AddressClass::Reserved),
];

/// Blocked IPv6 ranges, most specific first. IPv4-mapped addresses (`::ffff:0:0/96`) never get
/// here: they are canonicalised to IPv4 first.
pub const BLOCKED_V6: &[(Ipv6Net, AddressClass)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), AddressClass::Unspecified),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), AddressClass::Loopback),
    // Beyond the reference: deprecated IPv4-compatible addresses (`::a.b.c.d`, RFC 4291).
    (
        v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
        AddressClass::Ipv4Compatible,
    ),
    (
        v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
        AddressClass::Nat64,
    ),
    (
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        AddressClass::Nat64,
    ),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), AddressClass::Discard),
    // Beyond the reference: Teredo embeds (obfuscated) IPv4 addresses of client and server.
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32), AddressClass::Teredo),
    // Beyond the reference: the IPv6 benchmarking range (RFC 5180).
    (
        v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48),
        AddressClass::Benchmarking,
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        AddressClass::Documentation,
    ),
    (
        v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),
        AddressClass::SixToFour,
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        AddressClass::Documentation,
    ),
    (v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), AddressClass::Srv6),
    // Covers AWS's IPv6 metadata service at fd00:ec2::254.
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        AddressClass::UniqueLocal,
    ),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        AddressClass::LinkLocal,
    ),
    // Beyond the reference: deprecated site-local (GitLab blocks it too).
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        AddressClass::SiteLocal,
    ),
    (
        v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
        AddressClass::Multicast,
    ),
];

/// Only 2000::/3 is allocated for global unicast; everything else in IPv6 that the table above
/// does not name is reserved by the IETF, so no public server can be there.
const GLOBAL_UNICAST_V6: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// Whether an address is in a blocked range, ignoring any allow list. Pure; canonicalises
/// IPv4-mapped IPv6 first.
pub fn classify(ip: IpAddr) -> Option<Blocked> {
    match ip.to_canonical() {
        IpAddr::V4(ip) => {
            BLOCKED_V4
                .iter()
                .find(|(net, _)| net.contains(&ip))
                .map(|&(net, class)| Blocked {
                    class,
                    range: net.into(),
                })
        }
        IpAddr::V6(ip) => BLOCKED_V6
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|&(net, class)| Blocked {
                class,
                range: net.into(),
            })
            .or_else(|| {
                (!GLOBAL_UNICAST_V6.contains(&ip)).then_some(Blocked {
                    class: AddressClass::Reserved,
                    range: IpNet::V6(GLOBAL_UNICAST_V6),
                })
            }),
    }
}

/// Host names refused whatever they resolve to: cloud metadata services. (Their addresses are
/// blocked anyway; the names are refused too in case an allow list opens link-local.)
const BLOCKED_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// A DNS name lower-cased and without its trailing dot, so `LOCALHOST.` and `localhost` compare
/// equal.
pub(crate) fn normalize_name(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether a (normalised) name is refused before any lookup.
pub(crate) fn is_blocked_name(name: &str) -> bool {
    BLOCKED_NAMES.contains(&name)
}

/// `localhost` and `*.localhost` are loopback by definition (RFC 6761); they are answered
/// without asking DNS, so the address policy decides about them like about 127.0.0.1.
pub(crate) fn is_localhost_name(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

/// Which destination addresses may be fetched: everything public, plus the allowed CIDRs,
/// which override the block list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// Public addresses only.
    pub fn production() -> Self {
        Self { allow: Vec::new() }
    }

    /// Public addresses and loopback (127.0.0.0/8, ::1), so local test servers work. Private
    /// networks stay blocked, and so do 0.0.0.0 and `::`, which reach loopback on Linux.
    pub fn development() -> Self {
        Self {
            allow: vec![
                IpNet::V4(v4(127, 0, 0, 0, 8)),
                IpNet::V6(v6([0, 0, 0, 0, 0, 0, 0, 1], 128)),
            ],
        }
    }

    /// Public addresses and the given ranges. IPv4 ranges also admit their IPv4-mapped forms.
    pub fn with_allowed(allow: Vec<IpNet>) -> Self {
        // Addresses are canonicalised before the check, so an IPv4-mapped range
        // (`::ffff:10.0.0.0/104`) is kept as the IPv4 range it means, or it would never match.
        let allow = allow
            .into_iter()
            .map(|net| match net {
                IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
                    Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96)
                        .map(IpNet::V4)
                        .unwrap_or(net),
                    None => net,
                },
                other => other,
            })
            .collect();
        Self { allow }
    }

    pub fn allowed(&self) -> &[IpNet] {
        &self.allow
    }

    /// Whether a connection to `ip` is allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), Blocked> {
        let ip = ip.to_canonical();
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        classify(ip).map_or(Ok(()), Err)
    }

    /// The addresses a resolved name may be connected to, in their original order. Fails with
    /// the first refusal when addresses were given and none is allowed; an empty input gives an
    /// empty output.
    pub fn filter(&self, addrs: impl IntoIterator<Item = IpAddr>) -> Result<Vec<IpAddr>, Blocked> {
        let mut allowed = Vec::new();
        let mut first_refusal = None;
        for ip in addrs {
            match self.check(ip) {
                Ok(()) => allowed.push(ip),
                Err(blocked) => {
                    first_refusal.get_or_insert(blocked);
                }
            }
        }
        match first_refusal {
            Some(blocked) if allowed.is_empty() => Err(blocked),
            _ => Ok(allowed),
        }
    }
}

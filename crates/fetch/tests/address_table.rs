//! The blocked/allowed address table as pure-function tests (reliability-practices §3.1, §9
//! item 9). No network.

use seedgate_fetch::policy::{classify, BLOCKED_V4, BLOCKED_V6};
use seedgate_fetch::{AddressClass, AddressPolicy, ConfigError, FetchConfig, IpNet};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use AddressClass as C;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|_| panic!("{s} is an address"))
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap_or_else(|_| panic!("{s} is a CIDR"))
}

/// The expected block list, written out here rather than read from the crate, with each range's
/// class. The reference's ranges, then the ones this crate adds.
const EXPECTED_RANGES: &[(&str, AddressClass)] = &[
    // §3.1 IPv4
    ("10.0.0.0/8", C::Private),
    ("172.16.0.0/12", C::Private),
    ("192.168.0.0/16", C::Private),
    ("127.0.0.0/8", C::Loopback),
    ("169.254.0.0/16", C::LinkLocal),
    ("255.255.255.255/32", C::Broadcast),
    ("224.0.0.0/4", C::Multicast),
    ("192.0.2.0/24", C::Documentation),
    ("198.51.100.0/24", C::Documentation),
    ("203.0.113.0/24", C::Documentation),
    ("100.64.0.0/10", C::SharedAddressSpace),
    ("192.0.0.0/24", C::IetfReserved),
    ("192.88.99.0/24", C::IetfReserved),
    ("240.0.0.0/4", C::Reserved),
    ("198.18.0.0/15", C::Benchmarking),
    ("0.0.0.0/8", C::ThisNetwork),
    // §3.1 IPv6
    ("ff00::/8", C::Multicast),
    ("::1/128", C::Loopback),
    ("::/128", C::Unspecified),
    ("fe80::/10", C::LinkLocal),
    ("fc00::/7", C::UniqueLocal),
    ("2001:db8::/32", C::Documentation),
    ("3fff::/20", C::Documentation),
    ("100::/64", C::Discard),
    ("2002::/16", C::SixToFour),
    ("64:ff9b::/96", C::Nat64),
    ("64:ff9b:1::/48", C::Nat64),
    ("5f00::/16", C::Srv6),
    // Beyond the reference
    ("::/96", C::Ipv4Compatible),
    ("2001::/32", C::Teredo),
    ("2001:2::/48", C::Benchmarking),
    ("fec0::/10", C::SiteLocal),
];

#[test]
fn the_crate_blocks_exactly_the_expected_ranges() {
    let expected: BTreeSet<String> = EXPECTED_RANGES
        .iter()
        .map(|(r, c)| format!("{} {c:?}", net(r)))
        .collect();
    let actual: BTreeSet<String> = BLOCKED_V4
        .iter()
        .map(|(n, c)| format!("{} {c:?}", IpNet::V4(*n)))
        .chain(
            BLOCKED_V6
                .iter()
                .map(|(n, c)| format!("{} {c:?}", IpNet::V6(*n))),
        )
        .collect();
    assert_eq!(actual, expected);
}

/// The class of the most specific expected range holding `addr` (255.255.255.255 is in
/// 240.0.0.0/4 too, and `::` in `::/96`).
fn expected_class(addr: IpAddr) -> AddressClass {
    EXPECTED_RANGES
        .iter()
        .map(|(r, c)| (net(r), *c))
        .filter(|(n, _)| n.contains(&addr))
        .max_by_key(|(n, _)| n.prefix_len())
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("{addr} is in an expected range"))
}

#[test]
fn both_edges_of_every_range_are_blocked_with_its_class() {
    for (range, _) in EXPECTED_RANGES {
        let range = net(range);
        for edge in [range.network(), range.broadcast()] {
            let blocked = classify(edge).unwrap_or_else(|| panic!("{edge} ({range}) is blocked"));
            assert_eq!(blocked.class, expected_class(edge), "{edge} in {range}");
            assert!(AddressPolicy::production().check(edge).is_err(), "{edge}");
        }
    }
}

/// The §3.1 test vectors, verbatim.
#[test]
fn reference_vectors() {
    let blocked: &[(&str, AddressClass)] = &[
        ("127.0.0.1", C::Loopback),
        ("127.254.254.254", C::Loopback),
        ("10.254.0.0", C::Private),
        ("172.16.10.65", C::Private),
        ("192.168.10.65", C::Private),
        ("169.254.169.254", C::LinkLocal),
        ("0.0.0.0", C::ThisNetwork),
        ("0.1.2.3", C::ThisNetwork),
        ("100.100.0.0", C::SharedAddressSpace),
        ("192.0.0.0", C::IetfReserved),
        ("198.18.0.0", C::Benchmarking),
        ("240.240.240.240", C::Reserved),
        ("224.1.2.3", C::Multicast),
        ("255.255.255.255", C::Broadcast),
        ("203.0.113.6", C::Documentation),
        ("::", C::Unspecified),
        ("::1", C::Loopback),
        ("::ffff:127.0.0.1", C::Loopback),
        ("fe80::1", C::LinkLocal),
        ("febf:ffff::dead:beef", C::LinkLocal),
        ("fd00:ec2::254", C::UniqueLocal),
        ("fd7a:115c:a1e0::1", C::UniqueLocal),
        ("2001:db8::1", C::Documentation),
        ("64:ff9b::808:808", C::Nat64),
        ("2002:c0a8:1::1", C::SixToFour),
        ("5f00::1", C::Srv6),
    ];
    let production = AddressPolicy::production();
    for (addr, class) in blocked {
        let err = production.check(ip(addr)).expect_err(addr);
        assert_eq!(err.class, *class, "{addr}");
    }
    for addr in ["1.1.1.1", "::ffff:8.8.8.8", "2001:4860:4860::8888"] {
        assert_eq!(production.check(ip(addr)), Ok(()), "{addr}");
    }
}

#[test]
fn public_controls_are_allowed() {
    let production = AddressPolicy::production();
    for addr in [
        "1.1.1.1",
        "8.8.8.8",
        "1.0.0.0",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "2a00:1450:4001::1",
        "2003::1",
        "::ffff:1.1.1.1",
        // PCP anycast: IETF-assigned but globally reachable, next to the blocked Teredo range.
        "2001:1::1",
    ] {
        assert_eq!(production.check(ip(addr)), Ok(()), "{addr}");
        assert_eq!(classify(ip(addr)), None, "{addr}");
    }
}

#[test]
fn neighbours_just_outside_blocked_ranges_are_allowed() {
    for addr in [
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "169.255.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "191.255.255.255",
        "192.0.1.0",
        "192.0.3.0",
        "192.88.98.255",
        "192.88.100.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "198.51.99.255",
        "198.51.101.0",
        "203.0.112.255",
        "203.0.114.0",
        "223.255.255.255",
        "1.0.0.0",
        "2000::",
        "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:db9::",
        "2001:1:ffff::",
        "2001:3::",
        "2001:2:1::",
        "2003::",
        "2001:ffff::1",
        "3ffe:ffff::1",
        "3fff:1000::",
    ] {
        assert_eq!(classify(ip(addr)), None, "{addr}");
    }
}

#[test]
fn ipv6_outside_global_unicast_is_reserved() {
    for addr in ["4000::1", "8000::1", "e000::1", "1::1", "200::1", "4fff::1"] {
        let blocked = classify(ip(addr)).expect(addr);
        assert_eq!(blocked.class, C::Reserved, "{addr}");
    }
}

/// Blocked IPv4 samples (first, middle and last of each range) and their IPv6 disguises.
fn blocked_v4_samples() -> Vec<(Ipv4Addr, AddressClass)> {
    EXPECTED_RANGES
        .iter()
        .filter_map(|(r, c)| match net(r) {
            IpNet::V4(n) => Some((n, *c)),
            IpNet::V6(_) => None,
        })
        .flat_map(|(n, c)| {
            let mid = Ipv4Addr::from(u32::from(n.network()) / 2 + u32::from(n.broadcast()) / 2);
            [(n.network(), c), (mid, c), (n.broadcast(), c)]
        })
        .map(|(a, _)| (a, expected_class(IpAddr::V4(a))))
        .collect()
}

#[test]
fn ipv4_mapped_forms_are_judged_as_ipv4() {
    let production = AddressPolicy::production();
    for (v4, class) in blocked_v4_samples() {
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        assert_eq!(production.check(mapped).map_err(|b| b.class), Err(class));
    }
    assert_eq!(production.check(ip("::ffff:8.8.8.8")), Ok(()));
    assert_eq!(
        production.check(ip("::ffff:7f00:1")).map_err(|b| b.class),
        Err(C::Loopback)
    );
    assert_eq!(
        production
            .check(ip("0:0:0:0:0:ffff:169.254.169.254"))
            .map_err(|b| b.class),
        Err(C::LinkLocal)
    );
}

fn embed(prefix: &str, v4: Ipv4Addr, at_segment: usize) -> IpAddr {
    let mut segments = prefix.parse::<Ipv6Addr>().expect("v6").segments();
    let o = v4.octets();
    segments[at_segment] = u16::from_be_bytes([o[0], o[1]]);
    segments[at_segment + 1] = u16::from_be_bytes([o[2], o[3]]);
    IpAddr::V6(Ipv6Addr::from(segments))
}

#[test]
fn tunnelled_ipv4_is_blocked_whatever_it_embeds() {
    let production = AddressPolicy::production();
    let public = Ipv4Addr::new(8, 8, 8, 8);
    let mut samples = blocked_v4_samples();
    samples.push((public, C::Reserved)); // the class is not used below
    for (v4, _) in samples {
        // NAT64 (RFC 6052 well-known prefix and the local-use one), 6to4, IPv4-compatible.
        let cases = [
            (embed("64:ff9b::", v4, 6), C::Nat64),
            (embed("64:ff9b:1::", v4, 6), C::Nat64),
            (embed("2002::", v4, 1), C::SixToFour),
            (embed("::", v4, 6), C::Ipv4Compatible),
        ];
        for (addr, class) in cases {
            if addr == ip("::") || addr == ip("::1") {
                continue; // :: and ::1 are their own classes
            }
            assert_eq!(
                production.check(addr).map_err(|b| b.class),
                Err(class),
                "{addr} embedding {v4}"
            );
        }
    }
    // Teredo: server 65.54.227.120, client 192.0.2.45 obfuscated (RFC 4380's example).
    assert_eq!(
        production
            .check(ip("2001:0:4136:e378:8000:63bf:3fff:fdd2"))
            .map_err(|b| b.class),
        Err(C::Teredo)
    );
}

#[test]
fn development_allows_loopback_only() {
    let dev = AddressPolicy::development();
    for addr in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
        assert_eq!(dev.check(ip(addr)), Ok(()), "{addr}");
    }
    // 0.0.0.0 and :: reach loopback on Linux, yet are not loopback: still blocked.
    for addr in [
        "0.0.0.0",
        "::",
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "fd00::1",
        "64:ff9b::7f00:1",
        "::7f00:1",
    ] {
        assert!(dev.check(ip(addr)).is_err(), "{addr}");
    }
}

#[test]
fn allowed_ranges_override_the_block_list() {
    let policy = AddressPolicy::with_allowed(vec![net("10.20.0.0/16"), net("fd00:1::/64")]);
    for addr in [
        "10.20.0.1",
        "10.20.255.255",
        "::ffff:10.20.3.4",
        "fd00:1::5",
    ] {
        assert_eq!(policy.check(ip(addr)), Ok(()), "{addr}");
    }
    for addr in ["10.21.0.1", "127.0.0.1", "fd00:2::5", "::1"] {
        assert!(policy.check(ip(addr)).is_err(), "{addr}");
    }
    // An IPv4-mapped allow range means the IPv4 range.
    let mapped = AddressPolicy::with_allowed(vec![net("::ffff:10.0.0.0/104")]);
    assert_eq!(mapped.allowed(), &[net("10.0.0.0/8")]);
    assert_eq!(mapped.check(ip("10.9.9.9")), Ok(()));
}

#[test]
fn filter_drops_blocked_addresses_and_keeps_order() {
    let production = AddressPolicy::production();
    assert_eq!(
        production.filter([ip("8.8.8.8"), ip("127.0.0.1"), ip("1.1.1.1")]),
        Ok(vec![ip("8.8.8.8"), ip("1.1.1.1")])
    );
    assert_eq!(
        production.filter([ip("10.0.0.1"), ip("2606:4700:4700::1111")]),
        Ok(vec![ip("2606:4700:4700::1111")])
    );
    let err = production
        .filter([ip("169.254.169.254"), ip("10.0.0.1")])
        .expect_err("all blocked");
    assert_eq!(err.class, C::LinkLocal, "the first refusal is reported");
    assert_eq!(production.filter([]), Ok(vec![]));
}

#[test]
fn config_chooses_the_policy() {
    let config: FetchConfig = toml::from_str("").expect("empty config");
    assert_eq!(
        config.policy(AddressPolicy::development()),
        Ok(AddressPolicy::development())
    );
    assert_eq!(
        config.policy(AddressPolicy::production()),
        Ok(AddressPolicy::production())
    );
    assert_eq!(config.limits(), Ok(seedgate_fetch::FetchLimits::default()));

    let config: FetchConfig = toml::from_str(
        r#"
        allow_private = ["10.20.0.0/16", " fd00:1::/64 ", "192.168.1.7"]
        video_max_bytes = 1000
        timeout_seconds = 5
        "#,
    )
    .expect("config");
    let policy = config.policy(AddressPolicy::development()).expect("policy");
    assert_eq!(
        policy.allowed(),
        &[
            net("10.20.0.0/16"),
            net("fd00:1::/64"),
            net("192.168.1.7/32")
        ]
    );
    assert!(
        policy.check(ip("127.0.0.1")).is_err(),
        "replaces the mode's default"
    );
    let limits = config.limits().expect("limits");
    assert_eq!(limits.video_max_bytes, 1000);
    assert_eq!(limits.total_timeout.as_secs(), 5);
    assert_eq!(limits.image_max_bytes, 30 * 1024 * 1024);

    let empty: FetchConfig = toml::from_str("allow_private = []").expect("config");
    assert_eq!(
        empty.policy(AddressPolicy::development()),
        Ok(AddressPolicy::production())
    );
}

#[test]
fn config_errors_name_the_bad_value() {
    for bad in ["10.0.0.0/33", "localhost", "10.0.0/8", ""] {
        let config = FetchConfig {
            allow_private: Some(vec!["127.0.0.0/8".into(), bad.into()]),
            ..FetchConfig::default()
        };
        let err = config.policy(AddressPolicy::production()).expect_err(bad);
        assert_eq!(err, ConfigError::InvalidCidr(bad.trim().into()));
        assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        assert!(err.to_string().starts_with("fetch.allow_private"), "{err}");
    }
    let config = FetchConfig {
        stall_timeout_seconds: 0,
        ..FetchConfig::default()
    };
    assert_eq!(
        config.limits(),
        Err(ConfigError::Zero("stall_timeout_seconds"))
    );
}

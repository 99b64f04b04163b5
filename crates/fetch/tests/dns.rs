//! Names are checked on what they resolve to, through an injected resolver (§3.3, §9 items 9
//! and 11). Every connection in these tests goes to loopback: a name mapped to a blocked
//! non-loopback address is first checked with `Fetcher::resolve`, which never connects.

mod common;

use common::*;
use seedgate_fetch::{
    AddressClass, AddressPolicy, FetchError, FetchLimits, Fetcher, Forbidden, HeaderMap,
};
use std::net::{IpAddr, SocketAddr};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn resolved_refusal(result: Result<impl std::fmt::Debug, FetchError>) -> AddressClass {
    match result {
        Err(FetchError::Forbidden(Forbidden::Resolved(blocked))) => blocked.class,
        other => panic!("expected a refused name, got {other:?}"),
    }
}

/// One address in every blocked range, the reference's vectors among them.
const BLOCKED: &[(&str, AddressClass)] = &[
    ("127.0.0.1", AddressClass::Loopback),
    ("127.254.254.254", AddressClass::Loopback),
    ("10.254.0.0", AddressClass::Private),
    ("172.16.10.65", AddressClass::Private),
    ("192.168.10.65", AddressClass::Private),
    ("169.254.169.254", AddressClass::LinkLocal),
    ("0.0.0.0", AddressClass::ThisNetwork),
    ("0.1.2.3", AddressClass::ThisNetwork),
    ("100.100.0.0", AddressClass::SharedAddressSpace),
    ("100.100.100.200", AddressClass::SharedAddressSpace),
    ("192.0.0.0", AddressClass::IetfReserved),
    ("192.88.99.1", AddressClass::IetfReserved),
    ("192.0.2.1", AddressClass::Documentation),
    ("198.51.100.1", AddressClass::Documentation),
    ("203.0.113.6", AddressClass::Documentation),
    ("198.18.0.0", AddressClass::Benchmarking),
    ("198.19.255.255", AddressClass::Benchmarking),
    ("240.240.240.240", AddressClass::Reserved),
    ("224.1.2.3", AddressClass::Multicast),
    ("255.255.255.255", AddressClass::Broadcast),
    ("::", AddressClass::Unspecified),
    ("::1", AddressClass::Loopback),
    ("::ffff:127.0.0.1", AddressClass::Loopback),
    ("::ffff:10.0.0.1", AddressClass::Private),
    ("::ffff:169.254.169.254", AddressClass::LinkLocal),
    ("::7f00:1", AddressClass::Ipv4Compatible),
    ("fe80::1", AddressClass::LinkLocal),
    ("febf:ffff::dead:beef", AddressClass::LinkLocal),
    ("fd00:ec2::254", AddressClass::UniqueLocal),
    ("fd7a:115c:a1e0::1", AddressClass::UniqueLocal),
    ("fc00::1", AddressClass::UniqueLocal),
    ("fec0::1", AddressClass::SiteLocal),
    ("ff02::1", AddressClass::Multicast),
    ("2001:db8::1", AddressClass::Documentation),
    ("3fff::1", AddressClass::Documentation),
    ("100::1", AddressClass::Discard),
    ("64:ff9b::808:808", AddressClass::Nat64),
    ("64:ff9b::7f00:1", AddressClass::Nat64),
    ("64:ff9b:1::a9fe:a9fe", AddressClass::Nat64),
    ("2002:c0a8:1::1", AddressClass::SixToFour),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", AddressClass::Teredo),
    ("5f00::1", AddressClass::Srv6),
];

#[tokio::test]
async fn a_name_for_any_blocked_address_is_refused() {
    let server = Server::start(|_| ok(b"internal")).await;
    let resolver = ScriptedResolver::new();
    for (i, (addr, _)) in BLOCKED.iter().enumerate() {
        resolver.map(&format!("blocked-{i}.test"), &[addr]);
    }
    let fetcher = fetcher(AddressPolicy::production(), &resolver);
    for (i, (addr, class)) in BLOCKED.iter().enumerate() {
        let name = format!("blocked-{i}.test");
        // Never connects: a failure here stops the test before the fetch below.
        assert_eq!(
            resolved_refusal(fetcher.resolve(&name).await),
            *class,
            "{addr}"
        );
        let raw = format!("http://{name}:{}/x.png", server.port());
        assert_eq!(
            resolved_refusal(fetcher.get(&url(&raw), HeaderMap::new(), 1000).await),
            *class,
            "{addr}"
        );
        assert_eq!(
            resolved_refusal(fetcher.check_url(&url(&raw)).await),
            *class,
            "{addr}"
        );
    }
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_refused_name_does_not_reveal_its_addresses() {
    let resolver = ScriptedResolver::new().map("intranet.test", &["10.1.2.3"]);
    let fetcher = fetcher(AddressPolicy::production(), &resolver);
    let err = fetcher.resolve("intranet.test").await.expect_err("refused");
    assert_eq!(
        err.to_string(),
        "the URL's host resolves only to private or reserved addresses"
    );
}

#[tokio::test]
async fn public_answers_pass_and_blocked_ones_are_dropped() {
    let resolver = ScriptedResolver::new()
        .map("one.test", &["1.1.1.1"])
        .map("mapped.test", &["::ffff:8.8.8.8"])
        .map("v6.test", &["2001:4860:4860::8888", "2606:4700:4700::1111"])
        .map("mixed.test", &["8.8.8.8", "127.0.0.1", "169.254.169.254"])
        .map(
            "mixed6.test",
            &["10.0.0.1", "2606:4700:4700::1111", "fd00::1"],
        );
    // Only resolves; nothing here connects to the public addresses.
    let fetcher = fetcher(AddressPolicy::production(), &resolver);
    let cases: &[(&str, &[&str])] = &[
        ("one.test", &["1.1.1.1"]),
        ("mapped.test", &["::ffff:8.8.8.8"]),
        ("v6.test", &["2001:4860:4860::8888", "2606:4700:4700::1111"]),
        ("mixed.test", &["8.8.8.8"]),
        ("mixed6.test", &["2606:4700:4700::1111"]),
    ];
    for (name, expected) in cases {
        let expected: Vec<IpAddr> = expected.iter().map(|s| ip(s)).collect();
        assert_eq!(fetcher.resolve(name).await, Ok(expected), "{name}");
    }
}

#[tokio::test]
async fn unknown_names_and_empty_answers_are_unresolvable() {
    let resolver = ScriptedResolver::new().map("empty.test", &[]);
    let fetcher = fetcher(AddressPolicy::production(), &resolver);
    assert_eq!(
        fetcher.resolve("nowhere.test").await,
        Err(FetchError::Unresolvable)
    );
    assert_eq!(
        fetcher.resolve("empty.test").await,
        Err(FetchError::Unresolvable)
    );
    let err = fetcher
        .get(&url("http://nowhere.test/"), HeaderMap::new(), 1000)
        .await
        .expect_err("unresolvable");
    assert_eq!(err, FetchError::Unresolvable);
}

#[tokio::test]
async fn an_allowed_name_is_fetched() {
    let server = Server::start(|_| {
        response(
            200,
            &[("Content-Type", "image/png"), ("ETag", "\"v1\"")],
            b"png bytes",
        )
    })
    .await;
    let resolver = ScriptedResolver::new().map("cdn.example.com", &["127.0.0.1"]);
    let fetcher = fetcher(loopback(), &resolver);
    let raw = format!("http://cdn.example.com:{}/a.png", server.port());
    let fetched = fetcher
        .get(&url(&raw), HeaderMap::new(), 1000)
        .await
        .expect("fetched");
    assert_eq!(&fetched.bytes[..], b"png bytes");
    assert_eq!(fetched.content_type.as_deref(), Some("image/png"));
    assert_eq!(fetched.etag.as_deref(), Some("\"v1\""));
    assert_eq!(fetched.content_length, Some(9));
    assert_eq!(resolver.asked(), ["cdn.example.com"]);
    assert_eq!(
        server.requests()[0].header("host").as_deref(),
        Some(format!("cdn.example.com:{}", server.port()).as_str())
    );
}

/// A server on 127.0.0.2 stands in for a public address (the policy allows only it) and one on
/// 127.0.0.1, same port, for an internal service.
async fn public_and_internal() -> (Server, Server) {
    for _ in 0..20 {
        let public = Server::start_on("127.0.0.2:0".parse().expect("addr"), |_| ok(b"public"))
            .await
            .expect("127.0.0.2 is bindable on Linux");
        let internal_addr = SocketAddr::new(ip("127.0.0.1"), public.port());
        if let Ok(internal) = Server::start_on(internal_addr, |_| ok(b"internal")).await {
            return (public, internal);
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

fn only_127_0_0_2() -> AddressPolicy {
    AddressPolicy::with_allowed(vec!["127.0.0.2/32".parse().expect("cidr")])
}

#[tokio::test]
async fn mixed_answers_never_connect_to_the_blocked_address() {
    let (public, internal) = public_and_internal().await;
    let resolver = ScriptedResolver::new()
        .map("first.test", &["127.0.0.1", "127.0.0.2"])
        .map("last.test", &["127.0.0.2", "127.0.0.1"]);
    let fetcher = fetcher(only_127_0_0_2(), &resolver);
    for name in ["first.test", "last.test"] {
        let raw = format!("http://{name}:{}/", public.port());
        let fetched = fetcher
            .get(&url(&raw), HeaderMap::new(), 1000)
            .await
            .expect("fetched via the allowed address");
        assert_eq!(&fetched.bytes[..], b"public", "{name}");
    }
    assert_eq!(public.connections(), 2);
    assert_eq!(internal.connections(), 0);
}

#[tokio::test]
async fn dns_rebinding_cannot_reach_the_internal_address() {
    let (public, internal) = public_and_internal().await;
    // The first answer passes the check; every later one points inside.
    let resolver = ScriptedResolver::new().script("rebind.test", &[&["127.0.0.2"], &["127.0.0.1"]]);
    let fetcher = fetcher(only_127_0_0_2(), &resolver);
    let target = url(&format!("http://rebind.test:{}/", public.port()));

    let fetched = fetcher
        .get(&target, HeaderMap::new(), 1000)
        .await
        .expect("first fetch");
    assert_eq!(&fetched.bytes[..], b"public");
    assert_eq!(
        resolver.asked().len(),
        1,
        "one resolution for one connection"
    );
    assert_eq!(public.connections(), 1);

    // The server closed the connection, so the next fetch resolves again and is refused.
    assert_eq!(
        resolved_refusal(fetcher.get(&target, HeaderMap::new(), 1000).await),
        AddressClass::Loopback
    );
    assert_eq!(resolver.asked().len(), 2);
    assert_eq!(public.connections(), 1);
    assert_eq!(internal.connections(), 0);
}

#[tokio::test]
async fn localhost_names_are_loopback_whatever_dns_says() {
    let server = Server::start(|_| ok(b"local")).await;
    // A resolver that would answer with a public address is not consulted for these names.
    let resolver = ScriptedResolver::new()
        .map("localhost", &["1.1.1.1"])
        .map("app.localhost", &["1.1.1.1"]);
    let production = fetcher(AddressPolicy::production(), &resolver);
    for host in [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "app.localhost",
        "a.b.localhost.",
    ] {
        let raw = format!("http://{host}:{}/", server.port());
        assert_eq!(
            resolved_refusal(production.get(&url(&raw), HeaderMap::new(), 1000).await),
            AddressClass::Loopback,
            "{raw}"
        );
    }
    assert_eq!(server.connections(), 0);
    assert!(resolver.asked().is_empty());

    // The system resolver is not consulted either.
    let system =
        Fetcher::new(AddressPolicy::production(), FetchLimits::default()).expect("fetcher");
    let raw = format!("http://localhost:{}/", server.port());
    assert_eq!(
        resolved_refusal(system.get(&url(&raw), HeaderMap::new(), 1000).await),
        AddressClass::Loopback
    );
    assert_eq!(server.connections(), 0);

    // Development allows loopback, so localhost works for local testing.
    let development = fetcher(AddressPolicy::development(), &resolver);
    let fetched = development
        .get(&url(&raw), HeaderMap::new(), 1000)
        .await
        .expect("localhost in development");
    assert_eq!(&fetched.bytes[..], b"local");
}

#[tokio::test]
async fn metadata_host_names_are_refused_even_when_link_local_is_allowed() {
    let resolver = ScriptedResolver::new().map("metadata.google.internal", &["169.254.169.254"]);
    let fetcher = fetcher(
        AddressPolicy::with_allowed(vec!["169.254.0.0/16".parse().expect("cidr")]),
        &resolver,
    );
    for raw in [
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.GOOGLE.INTERNAL./",
        "http://metadata.goog/",
        "http://metadata/",
    ] {
        assert_eq!(
            fetcher.check_url(&url(raw)).await,
            Err(FetchError::Forbidden(Forbidden::Name)),
            "{raw}"
        );
        assert_eq!(
            fetcher
                .get(&url(raw), HeaderMap::new(), 1000)
                .await
                .map(drop),
            Err(FetchError::Forbidden(Forbidden::Name)),
            "{raw}"
        );
    }
    assert!(resolver.asked().is_empty());
}

//! IP-literal URLs in every spelling are refused before anything is sent (§3.2, §9 item 10).
//! Loopback spellings carry the port of a local server that counts connections; the others
//! are first checked with `check_url`, which never connects, so a regression fails the test
//! before any traffic could leave loopback.

mod common;

use common::*;
use seedgate_core::media::MediaUrl;
use seedgate_fetch::{AddressClass, AddressPolicy, FetchError, Forbidden, HeaderMap, MediaKind};
use std::net::{Ipv4Addr, Ipv6Addr};
use url::Host;

fn refused_as(result: Result<impl std::fmt::Debug, FetchError>) -> AddressClass {
    match result {
        Err(FetchError::Forbidden(Forbidden::Address(blocked))) => blocked.class,
        other => panic!("expected a refused literal, got {other:?}"),
    }
}

/// What §3.2 observed, checked rather than assumed.
#[test]
fn the_url_crate_parses_every_ipv4_spelling_to_an_address() {
    let loopback = Host::Ipv4(Ipv4Addr::LOCALHOST);
    let cases: &[(&str, Host<&str>)] = &[
        ("http://2130706433/", loopback.clone()),
        ("http://0x7f.1/", loopback.clone()),
        ("http://0177.0.0.1/", loopback.clone()),
        ("http://127.1/", loopback.clone()),
        ("http://0x7f000001/", loopback.clone()),
        ("http://017700000001/", loopback.clone()),
        ("http://127.0.0.1./", loopback.clone()),
        ("http://user:pw@evil.com@127.0.0.1/", loopback.clone()),
        ("http://127.0.0.1:80\\@evil.com/", loopback.clone()),
        ("http://0/", Host::Ipv4(Ipv4Addr::UNSPECIFIED)),
        (
            "http://[0:0:0:0:0:ffff:169.254.169.254]/",
            Host::Ipv6(Ipv4Addr::new(169, 254, 169, 254).to_ipv6_mapped()),
        ),
        (
            "http://[::ffff:7f00:1]/",
            Host::Ipv6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
        ),
        ("http://[::1]/", Host::Ipv6(Ipv6Addr::LOCALHOST)),
    ];
    for (raw, expected) in cases {
        let parsed = url(raw);
        assert_eq!(parsed.host(), Some(expected.clone()), "{raw}");
    }
}

#[tokio::test]
async fn loopback_in_every_spelling_is_refused_without_connecting() {
    let server = Server::start(|_| ok(b"internal")).await;
    let port = server.port();
    let resolver = ScriptedResolver::new();
    let fetcher = fetcher(AddressPolicy::production(), &resolver);
    let spellings = [
        "127.0.0.1",
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "127.1",
        "0x7f000001",
        "017700000001",
        "127.000.000.001",
        "127.0.0.1.",
        "[::ffff:7f00:1]",
        "[::ffff:127.0.0.1]",
        "[0:0:0:0:0:ffff:7f00:1]",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
    ];
    for host in spellings {
        let raw = format!("http://{host}:{port}/media.png");
        let class = refused_as(fetcher.get(&url(&raw), HeaderMap::new(), 1000).await);
        assert_eq!(class, AddressClass::Loopback, "{raw}");
        let media = MediaUrl::parse(&raw).expect("a valid media URL");
        let class = refused_as(fetcher.fetch(&media, MediaKind::Image).await);
        assert_eq!(class, AddressClass::Loopback, "{raw}");
    }
    let raw = format!("http://user@evil.com@127.0.0.1:{port}/");
    assert_eq!(
        refused_as(fetcher.get(&url(&raw), HeaderMap::new(), 1000).await),
        AddressClass::Loopback
    );
    assert_eq!(server.connections(), 0);
    assert!(
        resolver.asked().is_empty(),
        "literals never reach the resolver"
    );
}

#[tokio::test]
async fn zero_and_unspecified_are_refused_even_in_development() {
    // On Linux 0.0.0.0 and :: reach local services; development allows only loopback proper.
    let server = Server::start(|_| ok(b"internal")).await;
    let port = server.port();
    let resolver = ScriptedResolver::new();
    let fetcher = fetcher(AddressPolicy::development(), &resolver);
    for (host, class) in [
        ("0", AddressClass::ThisNetwork),
        ("0.0.0.0", AddressClass::ThisNetwork),
        ("[::]", AddressClass::Unspecified),
        ("[::ffff:0.0.0.0]", AddressClass::ThisNetwork),
    ] {
        let raw = format!("http://{host}:{port}/");
        assert_eq!(
            refused_as(fetcher.get(&url(&raw), HeaderMap::new(), 1000).await),
            class,
            "{raw}"
        );
    }
    assert_eq!(server.connections(), 0);

    // The control: the same fetcher reaches loopback spelled oddly, so the refusals above are
    // the policy, not a parse failure.
    let raw = format!("http://127.1:{port}/");
    let fetched = fetcher
        .get(&url(&raw), HeaderMap::new(), 1000)
        .await
        .expect("loopback is allowed in development");
    assert_eq!(&fetched.bytes[..], b"internal");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn private_and_metadata_literals_are_refused_before_connecting() {
    let resolver = ScriptedResolver::new();
    let fetcher = fetcher(AddressPolicy::production(), &resolver);
    let cases = [
        (
            "http://169.254.169.254/latest/meta-data/",
            AddressClass::LinkLocal,
        ),
        (
            "http://2852039166/latest/meta-data/",
            AddressClass::LinkLocal,
        ),
        ("http://0xa9fea9fe/", AddressClass::LinkLocal),
        ("http://0251.0376.0251.0376/", AddressClass::LinkLocal),
        ("http://[::ffff:a9fe:a9fe]/", AddressClass::LinkLocal),
        (
            "http://[0:0:0:0:0:ffff:169.254.169.254]/",
            AddressClass::LinkLocal,
        ),
        ("http://100.100.100.200/", AddressClass::SharedAddressSpace),
        ("http://[fd00:ec2::254]/", AddressClass::UniqueLocal),
        ("http://[fe80::1]/", AddressClass::LinkLocal),
        ("http://10.0.0.1/", AddressClass::Private),
        ("http://10.1/", AddressClass::Private),
        ("http://192.168.0.1:8080/", AddressClass::Private),
        ("https://172.16.0.1/", AddressClass::Private),
        ("http://[64:ff9b::a9fe:a9fe]/", AddressClass::Nat64),
        ("http://[2002:c0a8:101::1]/", AddressClass::SixToFour),
        ("http://[::a9fe:a9fe]/", AddressClass::Ipv4Compatible),
        ("http://224.0.0.1/", AddressClass::Multicast),
        ("http://255.255.255.255/", AddressClass::Broadcast),
    ];
    for (raw, class) in cases {
        // `check_url` never connects: this must fail before the fetch below is tried.
        assert_eq!(
            refused_as(fetcher.check_url(&url(raw)).await),
            class,
            "{raw}"
        );
        assert_eq!(
            refused_as(fetcher.get(&url(raw), HeaderMap::new(), 1000).await),
            class,
            "{raw}"
        );
    }
    assert!(resolver.asked().is_empty());
}

#[tokio::test]
async fn refusals_say_what_kind_of_address_without_echoing_it() {
    let fetcher = fetcher(AddressPolicy::production(), &ScriptedResolver::new());
    let err = fetcher
        .check_url(&url("http://169.254.169.254/"))
        .await
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "the URL's host is a link-local address, which may not be fetched"
    );
}

#[tokio::test]
async fn only_http_and_https_are_fetched() {
    let resolver = ScriptedResolver::new();
    let fetcher = fetcher(AddressPolicy::development(), &resolver);
    for raw in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_x",
        "data:text/plain,hello",
        "ftp://127.0.0.1/x",
        "ws://127.0.0.1/",
    ] {
        let err = fetcher
            .get(&url(raw), HeaderMap::new(), 1000)
            .await
            .expect_err(raw);
        assert!(matches!(err, FetchError::BadScheme(_)), "{raw}: {err:?}");
    }
    assert!(resolver.asked().is_empty());
}

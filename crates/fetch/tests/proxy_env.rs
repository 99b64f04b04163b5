//! Proxies named in the environment are ignored (§3.3): a proxy would resolve and connect on
//! the fetcher's behalf, past the guarded resolver. This file is its own test binary holding
//! one test, so setting the environment races nothing.

mod common;

use common::*;
use seedgate_fetch::{AddressPolicy, FetchError, HeaderMap};

#[tokio::test]
async fn proxies_from_the_environment_are_ignored() {
    let proxy = Server::start(|_| ok(b"via proxy")).await;
    let proxy_url = proxy.url("");
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        std::env::set_var(var, &proxy_url);
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    let origin = Server::start(|_| ok(b"origin")).await;
    let target = format!("http://origin.test:{}/", origin.port());

    // The control: a reqwest client with default settings does go through the proxy, so the
    // environment above is in effect.
    let body = reqwest::Client::new()
        .get(&target)
        .send()
        .await
        .expect("proxied")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "via proxy");
    assert_eq!(proxy.connections(), 1);

    let resolver = ScriptedResolver::new()
        .map("origin.test", &["127.0.0.1"])
        .map("internal.test", &["127.0.0.1"]);
    let fetched = fetcher(loopback(), &resolver)
        .get(&url(&target), HeaderMap::new(), 1000)
        .await
        .expect("fetched directly");
    assert_eq!(&fetched.bytes[..], b"origin");

    // And the guard still decides: through a proxy these would have been fetched.
    let production = fetcher(AddressPolicy::production(), &resolver);
    for raw in [
        origin.url("/"),
        format!("http://internal.test:{}/", origin.port()),
    ] {
        let err = production
            .get(&url(&raw), HeaderMap::new(), 1000)
            .await
            .expect_err(&raw);
        assert!(matches!(err, FetchError::Forbidden(_)), "{raw}: {err:?}");
    }
    assert_eq!(proxy.connections(), 1);
    assert_eq!(origin.connections(), 1);
}

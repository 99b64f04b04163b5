//! Every redirect hop is checked again, hops are bounded, credentials stay within the origin
//! (§3.4, §9 item 12). All servers are on loopback.

mod common;

use common::*;
use seedgate_fetch::{
    AddressClass, AddressPolicy, FetchError, FetchLimits, Fetcher, Forbidden, HeaderMap,
    HeaderValue, OutboundRequest, StatusCode,
};
use std::net::SocketAddr;

fn port_of(request: &Request) -> u16 {
    request
        .header("host")
        .and_then(|h| h.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
        .expect("Host has a port")
}

/// A server on 127.0.0.2 (allowed: the "public" one) that redirects into a server on
/// 127.0.0.1 on the same port (blocked: the "internal" one).
async fn public_and_internal() -> (Server, Server) {
    for _ in 0..20 {
        let public = Server::start_on("127.0.0.2:0".parse().expect("addr"), |req| {
            let port = port_of(req);
            match req.path() {
                "/to-internal" => redirect(302, &format!("http://127.0.0.1:{port}/")),
                "/to-decimal" => redirect(302, &format!("http://2130706433:{port}/")),
                "/to-mapped" => redirect(301, &format!("http://[::ffff:7f00:1]:{port}/")),
                "/to-name" => redirect(307, &format!("http://internal.test:{port}/")),
                "/to-localhost" => redirect(308, &format!("http://localhost:{port}/")),
                "/to-zero" => redirect(303, &format!("http://0:{port}/")),
                "/to-metadata" => redirect(302, "http://169.254.169.254/latest/meta-data/"),
                "/relative" => redirect(302, "/ok"),
                _ => ok(b"public"),
            }
        })
        .await
        .expect("127.0.0.2 is bindable on Linux");
        let internal_addr = SocketAddr::new([127, 0, 0, 1].into(), public.port());
        if let Ok(internal) = Server::start_on(internal_addr, |_| ok(b"internal")).await {
            return (public, internal);
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

#[tokio::test]
async fn redirects_into_blocked_addresses_are_refused() {
    let (public, internal) = public_and_internal().await;
    let resolver = ScriptedResolver::new().map("internal.test", &["127.0.0.1"]);
    let fetcher = fetcher(
        AddressPolicy::with_allowed(vec!["127.0.0.2/32".parse().expect("cidr")]),
        &resolver,
    );
    let get = |path: &str| {
        let target = url(&public.url(path));
        let fetcher = fetcher.clone();
        async move { fetcher.get(&target, HeaderMap::new(), 1000).await }
    };

    // Controls: the public server is reachable, relative redirects are followed.
    assert_eq!(&get("/ok").await.expect("ok").bytes[..], b"public");
    assert_eq!(&get("/relative").await.expect("ok").bytes[..], b"public");

    for path in ["/to-internal", "/to-decimal", "/to-mapped"] {
        let err = get(path).await.expect_err(path);
        assert!(
            matches!(
                err,
                FetchError::Forbidden(Forbidden::Address(b)) if b.class == AddressClass::Loopback
            ),
            "{path}: {err:?}"
        );
    }
    let err = get("/to-zero").await.expect_err("0.0.0.0");
    assert!(
        matches!(err, FetchError::Forbidden(Forbidden::Address(b)) if b.class == AddressClass::ThisNetwork),
        "{err:?}"
    );
    for path in ["/to-name", "/to-localhost"] {
        let err = get(path).await.expect_err(path);
        assert!(
            matches!(
                err,
                FetchError::Forbidden(Forbidden::Resolved(b)) if b.class == AddressClass::Loopback
            ),
            "{path}: {err:?}"
        );
    }
    assert_eq!(internal.connections(), 0);
    // Checked last: the loopback cases above have shown the hop check works, so this cannot
    // send anything towards 169.254.169.254.
    let err = get("/to-metadata").await.expect_err("metadata");
    assert!(
        matches!(err, FetchError::Forbidden(Forbidden::Address(b)) if b.class == AddressClass::LinkLocal),
        "{err:?}"
    );
}

/// `/hop/N` redirects to `/hop/N-1`; `/hop/0` answers.
async fn chain() -> Server {
    Server::start(|req| match req.path().strip_prefix("/hop/") {
        Some("0") => ok(b"done"),
        Some(n) => {
            let n: u32 = n.parse().expect("hop number");
            redirect(302, &format!("/hop/{}", n - 1))
        }
        None => ok(b"?"),
    })
    .await
}

#[tokio::test]
async fn at_most_five_redirects_are_followed() {
    let server = chain().await;
    let fetcher = fetcher(loopback(), &ScriptedResolver::new());
    let fetched = fetcher
        .get(&url(&server.url("/hop/5")), HeaderMap::new(), 1000)
        .await
        .expect("five redirects are fine");
    assert_eq!(&fetched.bytes[..], b"done");
    assert_eq!(server.connections(), 6);

    let err = fetcher
        .get(&url(&server.url("/hop/6")), HeaderMap::new(), 1000)
        .await
        .expect_err("six are too many");
    assert_eq!(err, FetchError::TooManyRedirects { max: 5 });
    assert_eq!(err.to_string(), "more than 5 redirects");
    // The sixth redirect was not followed.
    assert_eq!(server.connections(), 6 + 6);
}

#[tokio::test]
async fn the_redirect_limit_is_configurable() {
    let server = chain().await;
    let limits = FetchLimits {
        max_redirects: 0,
        ..quick_limits()
    };
    let fetcher =
        Fetcher::with_resolver(loopback(), limits, ScriptedResolver::new()).expect("fetcher");
    assert!(fetcher
        .get(&url(&server.url("/hop/0")), HeaderMap::new(), 1000)
        .await
        .is_ok());
    assert_eq!(
        fetcher
            .get(&url(&server.url("/hop/1")), HeaderMap::new(), 1000)
            .await
            .map(drop),
        Err(FetchError::TooManyRedirects { max: 0 })
    );
}

fn credentials() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_static("Bearer s3cret"));
    headers.insert("cookie", HeaderValue::from_static("session=abc"));
    headers.insert(
        "proxy-authorization",
        HeaderValue::from_static("Basic eA=="),
    );
    headers.insert("x-request-id", HeaderValue::from_static("r1"));
    headers
}

#[tokio::test]
async fn credentials_are_dropped_when_a_redirect_leaves_the_origin() {
    let other_port = Server::start(|_| ok(b"other port")).await;
    let other = other_port.port();
    let server = Server::start(move |req| {
        let port = port_of(req);
        match req.path() {
            "/same-origin" => redirect(302, "/final"),
            "/other-host" => redirect(302, &format!("http://localhost:{port}/final")),
            "/other-port" => redirect(307, &format!("http://127.0.0.1:{other}/final")),
            _ => ok(b"final"),
        }
    })
    .await;
    let resolver = ScriptedResolver::new();
    let fetcher = fetcher(loopback(), &resolver);
    let last_request = |server: &Server| server.requests().pop().expect("a request");

    fetcher
        .get(&url(&server.url("/same-origin")), credentials(), 1000)
        .await
        .expect("same origin");
    let last = last_request(&server);
    assert_eq!(last.path(), "/final");
    assert_eq!(
        last.header("authorization").as_deref(),
        Some("Bearer s3cret")
    );
    assert_eq!(last.header("cookie").as_deref(), Some("session=abc"));
    assert_eq!(
        last.header("proxy-authorization").as_deref(),
        Some("Basic eA==")
    );

    // 127.0.0.1 → localhost: another host, though the same machine.
    fetcher
        .get(&url(&server.url("/other-host")), credentials(), 1000)
        .await
        .expect("other host");
    let last = last_request(&server);
    assert_eq!(last.path(), "/final");
    assert!(last.header("host").expect("host").starts_with("localhost:"));
    assert_eq!(last.header("authorization"), None);
    assert_eq!(last.header("cookie"), None);
    assert_eq!(last.header("proxy-authorization"), None);
    assert_eq!(last.header("x-request-id").as_deref(), Some("r1"));

    // Same host, other port: another origin, so another service.
    fetcher
        .get(&url(&server.url("/other-port")), credentials(), 1000)
        .await
        .expect("other port");
    let last = last_request(&other_port);
    assert_eq!(last.header("authorization"), None);
    assert_eq!(last.header("cookie"), None);
    assert_eq!(last.header("x-request-id").as_deref(), Some("r1"));

    // The first hop of each fetch carried the credentials.
    assert!(server
        .requests()
        .iter()
        .filter(|r| r.path() != "/final")
        .all(|r| r.header("authorization").as_deref() == Some("Bearer s3cret")));
}

#[tokio::test]
async fn a_streamed_download_with_credentials_keeps_them_within_the_origin() {
    let server = Server::start(move |req| {
        let port = port_of(req);
        match req.path() {
            "/content" => redirect(302, "/stored"),
            "/away" => redirect(302, &format!("http://localhost:{port}/stored")),
            _ => ok(b"the video"),
        }
    })
    .await;
    let resolver = ScriptedResolver::new();
    let fetcher = fetcher(loopback(), &resolver);
    let open = |path: &str| {
        let mut request = OutboundRequest::get(url(&server.url(path)), 1000);
        request.headers = credentials();
        fetcher.open_request(request)
    };

    let body = open("/content")
        .await
        .expect("same origin")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&body[..], b"the video");
    let last = server.requests().pop().expect("a request");
    assert_eq!(last.path(), "/stored");
    assert_eq!(
        last.header("authorization").as_deref(),
        Some("Bearer s3cret")
    );

    open("/away").await.expect("another host");
    let last = server.requests().pop().expect("a request");
    assert_eq!(last.path(), "/stored");
    assert_eq!(last.header("authorization"), None);
    assert_eq!(last.header("cookie"), None);

    let mut small = OutboundRequest::get(url(&server.url("/content")), 3);
    small.headers = credentials();
    assert_eq!(
        fetcher.open_request(small).await.map(drop),
        Err(FetchError::TooLarge { limit: 3 }),
        "a declared length over the cap"
    );
}

#[tokio::test]
async fn only_http_and_https_redirect_targets_are_followed() {
    let server = Server::start(|req| match req.path() {
        "/file" => redirect(302, "file:///etc/passwd"),
        "/gopher" => redirect(302, "gopher://127.0.0.1:6379/_INFO"),
        "/javascript" => redirect(302, "javascript:alert(1)"),
        "/data" => redirect(302, "data:text/plain,hi"),
        "/broken" => redirect(302, "http://[::1"),
        _ => ok(b"?"),
    })
    .await;
    let fetcher = fetcher(loopback(), &ScriptedResolver::new());
    for path in ["/file", "/gopher", "/javascript", "/data"] {
        let err = fetcher
            .get(&url(&server.url(path)), HeaderMap::new(), 1000)
            .await
            .expect_err(path);
        assert!(matches!(err, FetchError::BadScheme(_)), "{path}: {err:?}");
    }
    assert_eq!(
        fetcher
            .get(&url(&server.url("/broken")), HeaderMap::new(), 1000)
            .await
            .map(drop),
        Err(FetchError::InvalidRedirect)
    );
}

#[tokio::test]
async fn webhook_style_posts_do_not_follow_redirects() {
    let target = Server::start(|_| ok(b"target")).await;
    let location = target.url("/");
    let server = Server::start(move |_| redirect(302, &location)).await;
    let fetcher = fetcher(loopback(), &ScriptedResolver::new());
    let request = OutboundRequest::post(
        url(&server.url("/hook")),
        bytes::Bytes::from_static(b"{\"id\":1}"),
        1000,
    );
    assert!(!request.follow_redirects);
    let response = fetcher.send(request).await.expect("a response");
    assert_eq!(response.status, StatusCode::FOUND);
    assert_eq!(response.url.path(), "/hook");
    assert_eq!(target.connections(), 0);
    let hook = &server.requests()[0];
    assert_eq!(hook.method(), "POST");
    assert_eq!(hook.header("content-length").as_deref(), Some("8"));
}

#[tokio::test]
async fn followed_posts_change_method_like_browsers() {
    let server = Server::start(|req| match req.path() {
        "/see-other" => redirect(303, "/final"),
        "/temporary" => redirect(307, "/final"),
        _ => ok(b"final"),
    })
    .await;
    let fetcher = fetcher(loopback(), &ScriptedResolver::new());
    for (path, method, length) in [
        ("/see-other", "GET", None),
        ("/temporary", "POST", Some("4")),
    ] {
        let mut request = OutboundRequest::post(
            url(&server.url(path)),
            bytes::Bytes::from_static(b"body"),
            1000,
        );
        request.follow_redirects = true;
        let response = fetcher.send(request).await.expect("followed");
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.url.path(), "/final");
        let last = server.requests().pop().expect("request");
        assert_eq!(last.method(), method, "{path}");
        assert_eq!(last.header("content-length").as_deref(), length, "{path}");
    }
}

#[tokio::test]
async fn statuses_are_errors_for_get_and_never_echo_the_body() {
    let server = Server::start(|req| match req.path() {
        "/missing" => response(404, &[], b"secret internal detail"),
        "/no-location" => response(302, &[], b"secret internal detail"),
        "/not-modified" => response(304, &[("Location", "/x")], b""),
        _ => ok(b"?"),
    })
    .await;
    let fetcher = fetcher(loopback(), &ScriptedResolver::new());
    for (path, status) in [
        ("/missing", 404),
        ("/no-location", 302),
        ("/not-modified", 304),
    ] {
        let err = fetcher
            .get(&url(&server.url(path)), HeaderMap::new(), 1000)
            .await
            .expect_err(path);
        assert_eq!(err, FetchError::Status(status));
        assert_eq!(
            err.to_string(),
            format!("the server answered HTTP {status}")
        );
    }
    // `send` hands back any status with its body, for the caller to judge.
    let response = fetcher
        .send(OutboundRequest::get(url(&server.url("/missing")), 1000))
        .await
        .expect("response");
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(&response.body[..], b"secret internal detail");
}

//! Byte caps, the total deadline and the stalled-body timeout (§3.5), with short limits so the
//! suite stays fast.

mod common;

use common::*;
use seedgate_core::media::MediaUrl;
use seedgate_fetch::{FetchError, FetchLimits, Fetcher, HeaderMap, MediaKind};
use std::time::{Duration, Instant};

fn fetcher_with(limits: FetchLimits) -> Fetcher {
    Fetcher::with_resolver(loopback(), limits, ScriptedResolver::new()).expect("fetcher")
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

#[tokio::test]
async fn a_declared_length_over_the_cap_fails_before_the_body_is_read() {
    // Declares a megabyte and then sends nothing: only the header can end this quickly.
    let server = Server::start(|_| {
        vec![
            head(200, &[("Content-Length", "1000000")]),
            Step::Sleep(Duration::from_secs(10)),
        ]
    })
    .await;
    let fetcher = fetcher_with(quick_limits());
    let started = Instant::now();
    let err = fetcher
        .get(&url(&server.url("/big")), HeaderMap::new(), 1000)
        .await
        .expect_err("too large");
    assert_eq!(err, FetchError::TooLarge { limit: 1000 });
    assert_eq!(
        err.to_string(),
        "the file is larger than the 1000-byte limit"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_chunked_body_over_the_cap_fails_mid_stream() {
    let server = Server::start(|_| {
        let mut steps = vec![head(200, &[("Transfer-Encoding", "chunked")])];
        for _ in 0..10 {
            steps.push(Step::Write(chunk(&[b'x'; 600])));
        }
        // Never finishes: the cap, not the end of the body, must stop the read.
        steps.push(Step::Sleep(Duration::from_secs(10)));
        steps
    })
    .await;
    let fetcher = fetcher_with(quick_limits());
    let started = Instant::now();
    let err = fetcher
        .get(&url(&server.url("/")), HeaderMap::new(), 4096)
        .await
        .expect_err("too large");
    assert_eq!(err, FetchError::TooLarge { limit: 4096 });
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_body_without_a_length_is_counted() {
    let server = Server::start(|req| {
        let size = if req.path() == "/small" { 4096 } else { 4097 };
        vec![head(200, &[]), Step::Write(vec![b'x'; size])]
    })
    .await;
    let fetcher = fetcher_with(quick_limits());
    let fetched = fetcher
        .get(&url(&server.url("/small")), HeaderMap::new(), 4096)
        .await
        .expect("exactly the cap is fine");
    assert_eq!(fetched.bytes.len(), 4096);
    assert_eq!(fetched.content_length, None);
    assert_eq!(
        fetcher
            .get(&url(&server.url("/large")), HeaderMap::new(), 4096)
            .await
            .map(drop),
        Err(FetchError::TooLarge { limit: 4096 })
    );
}

#[tokio::test]
async fn each_media_kind_has_its_own_cap() {
    let server = Server::start(|_| ok(&[b'x'; 15])).await;
    let fetcher = fetcher_with(FetchLimits {
        image_max_bytes: 10,
        video_max_bytes: 20,
        audio_max_bytes: 5,
        ..quick_limits()
    });
    let media = MediaUrl::parse(&server.url("/m")).expect("media url");
    assert_eq!(
        fetcher.fetch(&media, MediaKind::Image).await.map(drop),
        Err(FetchError::TooLarge { limit: 10 })
    );
    assert_eq!(
        fetcher.fetch(&media, MediaKind::Audio).await.map(drop),
        Err(FetchError::TooLarge { limit: 5 })
    );
    let video = fetcher
        .fetch(&media, MediaKind::Video)
        .await
        .expect("within the video cap");
    assert_eq!(video.bytes.len(), 15);
    assert_eq!(video.content_length, Some(15));
}

#[test]
fn default_caps_follow_the_seed() {
    let limits = FetchLimits::default();
    assert_eq!(limits.max_bytes(MediaKind::Image), 30 * 1024 * 1024);
    assert_eq!(limits.max_bytes(MediaKind::Video), 50 * 1024 * 1024);
    assert_eq!(limits.max_bytes(MediaKind::Audio), 15 * 1024 * 1024);
    assert_eq!(limits.max_redirects, 5);
}

#[tokio::test]
async fn a_stalled_body_fails() {
    let server = Server::start(|_| {
        vec![
            head(200, &[("Content-Length", "100")]),
            Step::Write(vec![b'x'; 10]),
            Step::Sleep(Duration::from_secs(10)),
        ]
    })
    .await;
    let stall = Duration::from_millis(200);
    let fetcher = fetcher_with(FetchLimits {
        stall_timeout: stall,
        ..quick_limits()
    });
    let started = Instant::now();
    let err = fetcher
        .get(&url(&server.url("/")), HeaderMap::new(), 1000)
        .await
        .expect_err("stalled");
    assert_eq!(err, FetchError::Stalled { after: stall });
    assert_eq!(err.to_string(), "the transfer stalled for 200ms");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_drip_hits_the_total_deadline() {
    // One byte every 50 ms never stalls (the stall timeout is 300 ms) but never finishes
    // within the 500 ms deadline either.
    let server = Server::start(|_| {
        let mut steps = vec![head(200, &[("Content-Length", "100")])];
        for _ in 0..100 {
            steps.push(Step::Write(vec![b'x']));
            steps.push(Step::Sleep(Duration::from_millis(50)));
        }
        steps
    })
    .await;
    let total = Duration::from_millis(500);
    let fetcher = fetcher_with(FetchLimits {
        total_timeout: total,
        stall_timeout: Duration::from_millis(300),
        ..quick_limits()
    });
    let started = Instant::now();
    let err = fetcher
        .get(&url(&server.url("/")), HeaderMap::new(), 1000)
        .await
        .expect_err("timed out");
    assert_eq!(err, FetchError::Timeout { after: total });
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_total_deadline() {
    let server = Server::start(|_| vec![Step::Sleep(Duration::from_secs(10))]).await;
    let total = Duration::from_millis(300);
    let fetcher = fetcher_with(FetchLimits {
        total_timeout: total,
        ..quick_limits()
    });
    let err = fetcher
        .get(&url(&server.url("/")), HeaderMap::new(), 1000)
        .await
        .expect_err("timed out");
    assert_eq!(err, FetchError::Timeout { after: total });
    assert_eq!(err.to_string(), "timed out after 300ms");
}

#[tokio::test]
async fn a_request_timeout_overrides_the_fetcher_deadline() {
    let server = Server::start(|_| vec![Step::Sleep(Duration::from_secs(10))]).await;
    let fetcher = fetcher_with(quick_limits());
    let mut request = seedgate_fetch::OutboundRequest::get(url(&server.url("/")), 1000);
    request.timeout = Some(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(
        fetcher.send(request).await.map(drop),
        Err(FetchError::Timeout {
            after: Duration::from_millis(200)
        })
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    // Bind and drop a listener to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let fetcher = fetcher_with(quick_limits());
    let err = fetcher
        .get(
            &url(&format!("http://127.0.0.1:{port}/")),
            HeaderMap::new(),
            1000,
        )
        .await
        .expect_err("refused");
    match &err {
        FetchError::Transport(message) => {
            assert!(!message.contains("127.0.0.1"), "{message}");
            assert!(message.to_lowercase().contains("connect"), "{message}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}

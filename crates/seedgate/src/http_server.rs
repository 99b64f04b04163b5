//! The HTTP server: hyper's HTTP/1.1 connection builder with read deadlines, so a client that
//! trickles its headers or its body, or connects and says nothing, cannot hold a connection (and
//! its memory) for ever.
//!
//! `axum::serve` offers no header timeout; this loop is the same accept-and-serve with one. It
//! speaks HTTP/1.1 only: telling HTTP/2 apart takes a first read that no deadline covers, and
//! an idle HTTP/2 connection has no header deadline at all (TLS and HTTP/2 belong to the
//! reverse proxy in front). The header deadline runs from the moment a connection waits for a
//! request, so it also closes idle keep-alive connections.
//! Bodies are bounded twice: no gap between two chunks longer than `body_idle_timeout`
//! (`RequestBodyTimeoutLayer`), and the whole request, body included, within the route guard's
//! deadline (`seedgate_dialects::guard`).

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    /// A connection must send a request's whole header within this of waiting for one (idle
    /// keep-alive connections included), or it is closed.
    pub header_read_timeout_seconds: u64,
    /// The longest pause allowed between two chunks of a request body.
    pub body_idle_timeout_seconds: u64,
    /// A request (its body read and its handler run) must be answered within this; a slower
    /// one gets a 503 in its dialect. Downloads stream after this point and are not cut.
    pub request_timeout_seconds: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_read_timeout_seconds: 30,
            body_idle_timeout_seconds: 10,
            request_timeout_seconds: 300,
        }
    }
}

impl HttpSettings {
    // Each is at least a second and at most a day: a zero would refuse everything, and a huge
    // value would overflow the timer's clock.
    pub fn header_read_timeout(&self) -> Duration {
        bounded_seconds(self.header_read_timeout_seconds)
    }

    pub fn body_idle_timeout(&self) -> Duration {
        bounded_seconds(self.body_idle_timeout_seconds)
    }

    pub fn request_timeout(&self) -> Duration {
        bounded_seconds(self.request_timeout_seconds)
    }
}

fn bounded_seconds(seconds: u64) -> Duration {
    Duration::from_secs(seconds.clamp(1, 86_400))
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets requests in flight
/// finish (up to `drain`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &HttpSettings,
    shutdown: CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, mostly: wait for some to close, keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Replies are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let service =
            router
                .clone()
                .map_request(move |mut request: axum::http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request
                });
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open when the drain time ran out");
    }
    Ok(())
}

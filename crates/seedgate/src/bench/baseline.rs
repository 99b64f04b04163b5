//! The baseline: a bare axum server that answers every GET and every POST with fixed bytes from
//! memory. It runs in a process of its own, started from the same binary as `seedgate serve`,
//! so it has exactly the same runtime settings; the difference between the two is what
//! seedgate's own work costs.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response};
use axum::routing::any;
use axum::Router;
use bytes::Bytes;

pub async fn serve(listen: &str, get_body: Bytes, post_body: Bytes) -> anyhow::Result<()> {
    let app = Router::new().fallback(any(move |method: axum::http::Method| {
        let body = if method == axum::http::Method::POST {
            post_body.clone()
        } else {
            get_body.clone()
        };
        async move {
            let mut response = Response::new(Body::from(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

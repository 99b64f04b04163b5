//! `GET /media/{key}`: stored results, with Range requests and the right Content-Type, read
//! through object storage so it works the same on local disk and S3.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use seedgate_blobs::BlobStore;

/// The MIME type of a stored object, from its key's extension.
pub fn content_type(key: &str) -> &'static str {
    seedgate_core::media::content_type(key.rsplit('.').next().unwrap_or_default())
}

fn status(code: StatusCode) -> Response {
    code.into_response()
}

/// What the media route needs: the objects, and the key of signed links (when links are
/// signed, a URL without a valid, unexpired signature is refused).
#[derive(Clone)]
pub struct MediaState {
    pub blobs: BlobStore,
    pub link_secret: Option<Vec<u8>>,
    /// What "now" is when a link's expiry is checked.
    pub clock: std::sync::Arc<dyn seedgate_core::clock::Clock>,
    /// Where a task's media expiry is read: a result file retention removed answers 410 Gone.
    pub retention: Option<std::sync::Arc<dyn seedgate_store::Store>>,
}

/// Whether `key` is a task's result file whose media retention expired (`tasks/<id>/…`).
async fn expired(state: &MediaState, key: &str) -> bool {
    let Some(store) = &state.retention else {
        return false;
    };
    let mut parts = key.split('/');
    let (Some("tasks"), Some(id)) = (parts.next(), parts.next()) else {
        return false;
    };
    if id.is_empty() {
        return false;
    }
    let task = seedgate_core::TaskId::from_string(id.to_string());
    matches!(store.media_expired_at(&task).await, Ok(Some(_)))
}

fn gone() -> Response {
    (
        StatusCode::GONE,
        "this file expired under the server's retention policy and was deleted",
    )
        .into_response()
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct LinkQuery {
    expires: Option<String>,
    signature: Option<String>,
}

pub async fn serve(
    State(state): State<MediaState>,
    Path(key): Path<String>,
    Query(link): Query<LinkQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(secret) = &state.link_secret {
        let now = state.clock.now_ms().div_euclid(1000);
        match seedgate_core::media_links::verify(
            secret,
            &key,
            link.expires.as_deref(),
            link.signature.as_deref(),
            now,
        ) {
            Ok(()) => {}
            Err(seedgate_core::media_links::LinkError::Expired) => {
                if expired(&state, &key).await {
                    return gone();
                }
                return (
                    StatusCode::FORBIDDEN,
                    "this link has expired; read the task again for a fresh one",
                )
                    .into_response();
            }
            Err(seedgate_core::media_links::LinkError::Invalid) => {
                return (
                    StatusCode::FORBIDDEN,
                    "this link is not signed for this file",
                )
                    .into_response()
            }
        }
    }
    let blobs = state.blobs.clone();
    let size = match blobs.size(&key).await {
        Ok(Some(size)) => size,
        Ok(None) if expired(&state, &key).await => return gone(),
        Ok(None) => return status(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::error!(error = %e, key, "media lookup failed");
            return status(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    // One range is served as 206; several (rare for video players) fall back to the whole file.
    let range = match headers.get(header::RANGE).map(|v| v.to_str()) {
        None => None,
        Some(Err(_)) => return status(StatusCode::RANGE_NOT_SATISFIABLE),
        Some(Ok(raw)) => {
            match http_range_header::parse_range_header(raw).and_then(|r| r.validate(size)) {
                Ok(ranges) if ranges.len() == 1 => ranges.first().map(|r| *r.start()..*r.end() + 1),
                Ok(_) => None,
                Err(_) => {
                    let mut r = status(StatusCode::RANGE_NOT_SATISFIABLE);
                    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                        r.headers_mut().insert(header::CONTENT_RANGE, v);
                    }
                    return r;
                }
            }
        }
    };
    let read = match blobs.get(&key, range.clone()).await {
        Ok(Some(read)) => read,
        Ok(None) => return status(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::error!(error = %e, key, "media read failed");
            return status(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let length = read.range.end - read.range.start;
    let mut response = Response::new(Body::from_stream(
        read.stream.map_err(std::io::Error::other),
    ));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&key)),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    if let Ok(v) = HeaderValue::from_str(&length.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if range.is_some() {
        let value = format!(
            "bytes {}-{}/{}",
            read.range.start,
            read.range.end.saturating_sub(1),
            read.total_size
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(header::CONTENT_RANGE, v);
        }
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn content_types_follow_extensions() {
        assert_eq!(content_type("tasks/t/0.mp4"), "video/mp4");
        assert_eq!(content_type("a/B.JPG"), "image/jpeg");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}

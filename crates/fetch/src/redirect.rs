//! Redirect decisions, kept pure so they can be tested without a server.
//!
//! Redirects are followed by hand (reqwest's own following is off) so that every hop goes
//! through the same checks as the first URL; the Gogs redirect bypass (GHSA-c4v7-xg93-qf8g) is
//! what happens otherwise.

use crate::error::FetchError;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use url::Url;

/// The statuses whose `Location` is followed. 300, 304 and 305 are answers, not redirects.
pub(crate) fn is_followed(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The URL a `Location` header points to, resolved against the current URL. Only http(s) is
/// followed, and never from https down to http.
pub(crate) fn next_url(current: &Url, location: &HeaderValue) -> Result<Url, FetchError> {
    let location =
        std::str::from_utf8(location.as_bytes()).map_err(|_| FetchError::InvalidRedirect)?;
    let next = current
        .join(location)
        .map_err(|_| FetchError::InvalidRedirect)?;
    match next.scheme() {
        "http" | "https" => {}
        other => return Err(FetchError::BadScheme(other.to_owned())),
    }
    if current.scheme() == "https" && next.scheme() == "http" {
        return Err(FetchError::InsecureRedirect);
    }
    Ok(next)
}

/// Same scheme, host and port. Credentials are kept only within one origin: two servers on one
/// host but different ports are different services, possibly with different owners.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Removes the headers that carry credentials, when a redirect leaves the origin (the same
/// list as reqwest's own redirect handling).
pub(crate) fn strip_sensitive(headers: &mut HeaderMap) {
    for name in [
        header::AUTHORIZATION,
        header::COOKIE,
        header::PROXY_AUTHORIZATION,
        header::WWW_AUTHENTICATE,
    ] {
        headers.remove(name);
    }
}

/// Whether the next hop turns into a GET without a body: always after 303, and after 301/302
/// for a POST (what browsers and reqwest do). 307 and 308 repeat the request as it was.
pub(crate) fn becomes_get(status: StatusCode, method: &Method) -> bool {
    match status.as_u16() {
        303 => *method != Method::GET && *method != Method::HEAD,
        301 | 302 => *method == Method::POST,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    fn next(from: &str, location: &str) -> Result<Url, FetchError> {
        next_url(
            &url(from),
            &HeaderValue::from_str(location).expect("header"),
        )
    }

    #[test]
    fn relative_locations_resolve_against_the_current_url() {
        assert_eq!(
            next("http://a.test/x/y", "../z?q=1").expect("ok").as_str(),
            "http://a.test/z?q=1"
        );
        assert_eq!(
            next("https://a.test/x", "//b.test/p").expect("ok").as_str(),
            "https://b.test/p"
        );
    }

    #[test]
    fn only_http_and_https_are_followed() {
        for location in [
            "file:///etc/passwd",
            "gopher://127.0.0.1:6379/_x",
            "data:text/plain,x",
            "ftp://a.test/",
        ] {
            assert!(
                matches!(
                    next("http://a.test/", location),
                    Err(FetchError::BadScheme(_))
                ),
                "{location}"
            );
        }
    }

    #[test]
    fn https_never_downgrades_to_http() {
        assert_eq!(
            next("https://a.test/", "http://a.test/"),
            Err(FetchError::InsecureRedirect)
        );
        assert!(next("http://a.test/", "https://a.test/").is_ok());
    }

    #[test]
    fn origins_include_scheme_and_port() {
        assert!(same_origin(
            &url("http://a.test/x"),
            &url("http://a.test:80/y")
        ));
        assert!(!same_origin(
            &url("http://a.test/"),
            &url("http://a.test:8080/")
        ));
        assert!(!same_origin(
            &url("http://a.test/"),
            &url("https://a.test/")
        ));
        assert!(!same_origin(&url("http://a.test/"), &url("http://b.test/")));
        assert!(!same_origin(
            &url("http://127.0.0.1:80/"),
            &url("http://localhost:80/")
        ));
    }

    #[test]
    fn posts_become_gets_like_browsers_do() {
        assert!(becomes_get(StatusCode::SEE_OTHER, &Method::POST));
        assert!(becomes_get(StatusCode::FOUND, &Method::POST));
        assert!(!becomes_get(StatusCode::TEMPORARY_REDIRECT, &Method::POST));
        assert!(!becomes_get(StatusCode::PERMANENT_REDIRECT, &Method::POST));
        assert!(!becomes_get(StatusCode::FOUND, &Method::GET));
    }
}

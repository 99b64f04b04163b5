//! Media references. Every dialect carries media as URLs; the core accepts only absolute http(s)
//! URLs (reAPI: "base64 / data: URI media is not accepted"). Whether the address is safe to fetch
//! is the outbound fetcher's business, not the core's.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An absolute http(s) URL with a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MediaUrl(url::Url);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaUrlError {
    #[error("must be a public http(s) URL; base64 and data: URIs are not accepted")]
    DataUri,
    #[error("must be an http(s) URL, got scheme `{0}`")]
    Scheme(String),
    #[error("is not a valid absolute URL")]
    Malformed,
    #[error("has no host")]
    NoHost,
    #[error("must not embed credentials")]
    Credentials,
}

impl MediaUrl {
    pub fn parse(raw: &str) -> Result<Self, MediaUrlError> {
        let trimmed = raw.trim();
        if trimmed.len() >= 5 && trimmed[..5].eq_ignore_ascii_case("data:") {
            return Err(MediaUrlError::DataUri);
        }
        let url = url::Url::parse(trimmed).map_err(|_| {
            // A long string with no scheme is almost certainly inline base64.
            if trimmed.len() > 256 && !trimmed.contains("://") {
                MediaUrlError::DataUri
            } else {
                MediaUrlError::Malformed
            }
        })?;
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(MediaUrlError::Scheme(other.to_string())),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(MediaUrlError::NoHost);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(MediaUrlError::Credentials);
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl TryFrom<String> for MediaUrl {
    type Error = MediaUrlError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MediaUrl> for String {
    fn from(value: MediaUrl) -> Self {
        value.0.into()
    }
}

impl fmt::Display for MediaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https() {
        assert!(MediaUrl::parse("https://example.com/a.jpg").is_ok());
        assert!(MediaUrl::parse("http://127.0.0.1:9000/a.png").is_ok());
    }

    #[test]
    fn rejects_data_uris_and_base64() {
        assert_eq!(
            MediaUrl::parse("data:image/png;base64,iVBORw0KGgo="),
            Err(MediaUrlError::DataUri)
        );
        assert_eq!(
            MediaUrl::parse("DATA:image/png;base64,AAAA"),
            Err(MediaUrlError::DataUri)
        );
        let b64 = "iVBORw0KGgo".repeat(40);
        assert_eq!(MediaUrl::parse(&b64), Err(MediaUrlError::DataUri));
    }

    #[test]
    fn rejects_other_schemes_and_junk() {
        assert!(matches!(
            MediaUrl::parse("ftp://x/a.jpg"),
            Err(MediaUrlError::Scheme(_))
        ));
        assert!(matches!(
            MediaUrl::parse("file:///etc/passwd"),
            Err(MediaUrlError::Scheme(_))
        ));
        assert_eq!(MediaUrl::parse("not a url"), Err(MediaUrlError::Malformed));
        assert_eq!(
            MediaUrl::parse("https://user:pw@example.com/a.jpg"),
            Err(MediaUrlError::Credentials)
        );
    }
}

//! Signed, expiring links to stored objects: `/media/<key>?expires=<unix s>&signature=<hex>`.
//! The signature is an HMAC of the key and the expiry under a secret every replica shares, so
//! any replica can check a link and nobody can forge or extend one.

use crate::webhook::{hmac_sha256, HmacSha256};
use hmac::Mac;

fn mac(secret: &[u8], key: &str, expires: i64) -> HmacSha256 {
    let mut mac = hmac_sha256(secret);
    mac.update(b"seedgate media\0");
    mac.update(key.as_bytes());
    mac.update(b"\0");
    mac.update(expires.to_string().as_bytes());
    mac
}

/// The expiry of a link made at `now` that must live at least `ttl_seconds`: rounded up to the
/// next whole hour so links made in the same hour are identical (cacheable, comparable).
pub fn expiry(now: i64, ttl_seconds: i64) -> i64 {
    let at_least = now.saturating_add(ttl_seconds.max(1));
    at_least
        .saturating_add(3599)
        .div_euclid(3600)
        .saturating_mul(3600)
}

/// The query string of a link to `key` valid until `expires`.
pub fn query(secret: &[u8], key: &str, expires: i64) -> String {
    let signature = hex::encode(mac(secret, key, expires).finalize().into_bytes());
    format!("expires={expires}&signature={signature}")
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// No signature, a malformed one, or one for another key or expiry.
    Invalid,
    /// A genuine link whose time is up.
    Expired,
}

/// Checks a link's `expires` and `signature` (constant-time) at `now`.
pub fn verify(
    secret: &[u8],
    key: &str,
    expires: Option<&str>,
    signature: Option<&str>,
    now: i64,
) -> Result<(), LinkError> {
    let expires: i64 = expires
        .and_then(|e| e.parse().ok())
        .ok_or(LinkError::Invalid)?;
    let signature = signature
        .and_then(|s| hex::decode(s).ok())
        .ok_or(LinkError::Invalid)?;
    mac(secret, key, expires)
        .verify_slice(&signature)
        .map_err(|_| LinkError::Invalid)?;
    if now >= expires {
        return Err(LinkError::Expired);
    }
    Ok(())
}

/// Makes the public URLs of stored objects: `<base>/media/<key>`, signed when links are.
#[derive(Debug, Clone)]
pub struct MediaLinkMaker {
    /// Absolute base, without a trailing slash.
    base_url: String,
    /// `None` makes plain, lasting URLs.
    secret: Option<Vec<u8>>,
}

impl MediaLinkMaker {
    pub fn new(base_url: &str, secret: Option<Vec<u8>>) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            secret,
        }
    }

    /// A URL of `key` valid until `expires` (Unix seconds; ignored when links are not signed).
    pub fn url_until(&self, key: &str, expires: i64) -> String {
        let url = format!("{}/media/{key}", self.base_url);
        match &self.secret {
            None => url,
            Some(secret) => format!("{url}?{}", query(secret, key, expires)),
        }
    }

    /// A URL of `key` that lives at least `ttl_seconds` from `now` (Unix seconds).
    pub fn url(&self, key: &str, now: i64, ttl_seconds: i64) -> String {
        self.url_until(key, expiry(now, ttl_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(q: &str) -> (String, String) {
        let mut expires = String::new();
        let mut signature = String::new();
        for pair in q.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.into(),
                Some(("signature", v)) => signature = v.into(),
                _ => {}
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_link_verifies_until_it_expires_and_only_for_its_key() {
        let q = query(b"s", "tasks/t/1/0.mp4", 7200);
        let (e, sig) = parts(&q);
        let check = |key: &str, e: &str, sig: &str, now| verify(b"s", key, Some(e), Some(sig), now);
        assert_eq!(check("tasks/t/1/0.mp4", &e, &sig, 7199), Ok(()));
        assert_eq!(
            check("tasks/t/1/0.mp4", &e, &sig, 7200),
            Err(LinkError::Expired)
        );
        assert_eq!(
            check("tasks/u/1/0.mp4", &e, &sig, 0),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            check("tasks/t/1/0.mp4", "9999999", &sig, 0),
            Err(LinkError::Invalid),
            "a longer life is not for sale"
        );
        assert_eq!(
            verify(b"other", "tasks/t/1/0.mp4", Some(&e), Some(&sig), 0),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            verify(b"s", "tasks/t/1/0.mp4", None, Some(&sig), 0),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            verify(b"s", "tasks/t/1/0.mp4", Some(&e), None, 0),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            verify(b"s", "tasks/t/1/0.mp4", Some(&e), Some("zz"), 0),
            Err(LinkError::Invalid)
        );
    }

    #[test]
    fn expiries_round_up_to_the_hour_and_never_fall_short_of_the_ttl() {
        assert_eq!(expiry(0, 86_400), 86_400);
        assert_eq!(expiry(1, 86_400), 86_400 + 3600);
        assert_eq!(expiry(3599, 86_400), 86_400 + 3600);
        for now in [0, 17, 3600, 1_795_000_123] {
            let e = expiry(now, 600);
            assert!(
                e >= now + 600 && e < now + 600 + 3600 && e % 3600 == 0,
                "{now} → {e}"
            );
        }
    }
}

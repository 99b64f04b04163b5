//! Signed links to stored objects, remembered for as long as they stay the same.
//!
//! A link's expiry is rounded up to the hour ([`media_links::expiry`]), so every poll of a
//! finished task within an hour answers the same URLs. Signing them (an HMAC, hex, and the
//! URL's formatting) on every poll was a measurable share of a poll's work; here each key's
//! link is made once per expiry and copied after.

use seedgate_core::media_links::{self, MediaLinkMaker};

/// How many objects' links are remembered (a link is a few hundred bytes).
const CAPACITY: u64 = 100_000;

pub(crate) struct SignedLinks {
    maker: MediaLinkMaker,
    /// Object key → the expiry its link was made for, and the link.
    made: moka::sync::Cache<String, (i64, String)>,
}

impl SignedLinks {
    pub(crate) fn new(maker: MediaLinkMaker) -> Self {
        Self {
            maker,
            made: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                // A link older than its hour is never answered again: its expiry no longer
                // matches. This only lets idle entries go.
                .time_to_idle(std::time::Duration::from_secs(2 * 3600))
                .build(),
        }
    }

    /// The maker itself, for a link with an expiry of its own (not remembered).
    pub(crate) fn maker(&self) -> &MediaLinkMaker {
        &self.maker
    }

    /// The URL of `key` that lives at least `ttl_seconds` from `now` (Unix seconds): the same
    /// one [`MediaLinkMaker::url`] makes.
    pub(crate) fn url(&self, key: &str, now: i64, ttl_seconds: i64) -> String {
        let expires = media_links::expiry(now, ttl_seconds);
        if let Some((made_for, url)) = self.made.get(key) {
            if made_for == expires {
                return url;
            }
        }
        let url = self.maker.url_until(key, expires);
        self.made.insert(key.to_owned(), (expires, url.clone()));
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret every replica shares";

    fn links() -> SignedLinks {
        SignedLinks::new(MediaLinkMaker::new(
            "https://gw.example",
            Some(SECRET.to_vec()),
        ))
    }

    fn expires_of(url: &str) -> i64 {
        url.split("expires=")
            .nth(1)
            .and_then(|rest| rest.split('&').next())
            .and_then(|e| e.parse().ok())
            .expect("an expires parameter")
    }

    #[test]
    fn a_remembered_link_is_the_one_the_maker_makes_and_follows_the_hour() {
        let links = links();
        let maker = MediaLinkMaker::new("https://gw.example", Some(SECRET.to_vec()));
        let ttl = 3600;
        let start = 1_800_000_000;
        // Within one hour's bucket every call answers the maker's own link.
        for now in [start, start + 10, start + 1_000] {
            assert_eq!(
                links.url("tasks/a/0.mp4", now, ttl),
                maker.url("tasks/a/0.mp4", now, ttl)
            );
        }
        // An hour on, the expiry moves and so does the link: an old one is never answered.
        let later = start + 3_600;
        let moved = links.url("tasks/a/0.mp4", later, ttl);
        assert_eq!(moved, maker.url("tasks/a/0.mp4", later, ttl));
        assert!(expires_of(&moved) >= later + ttl, "{moved}");
        assert!(
            media_links::verify(
                SECRET,
                "tasks/a/0.mp4",
                Some(&expires_of(&moved).to_string()),
                moved.split("signature=").nth(1),
                later + ttl - 1,
            )
            .is_ok(),
            "the remembered link verifies until its time: {moved}"
        );
        // Each key has its own link.
        let other = links.url("tasks/b/0.mp4", later, ttl);
        assert_ne!(other, moved);
        assert_eq!(other, maker.url("tasks/b/0.mp4", later, ttl));
    }

    #[test]
    fn unsigned_links_are_plain_and_remembered_too() {
        let links = SignedLinks::new(MediaLinkMaker::new("https://gw.example/", None));
        assert_eq!(
            links.url("assets/x.png", 1_800_000_000, 3600),
            "https://gw.example/media/assets/x.png"
        );
        assert_eq!(
            links.url("assets/x.png", 1_800_009_000, 3600),
            "https://gw.example/media/assets/x.png"
        );
    }
}

use std::time::Duration;

/// What is being fetched decides the byte cap; the core's notion of it, shared by everyone.
pub use seedgate_core::media::MediaKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchLimits {
    pub image_max_bytes: u64,
    pub video_max_bytes: u64,
    pub audio_max_bytes: u64,
    /// For the whole exchange: connecting, every redirect hop and the body. A deadline rather
    /// than only per-read timeouts, so a body dripping one byte at a time still ends.
    pub total_timeout: Duration,
    /// The longest wait for the next piece of the body.
    pub stall_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_redirects: usize,
    /// Reference-media fetches one account may have in flight at once, of the media service's
    /// total; `None`: a quarter of the total, at least one.
    pub per_account: Option<usize>,
    /// The longest an account's fetch waits for a slot before failing as busy.
    pub queue_timeout: Duration,
}

impl Default for FetchLimits {
    fn default() -> Self {
        // The HiAPI seed's media limits: images < 30 MB, videos < 50 MB, audio < 15 MB.
        Self {
            image_max_bytes: 30 * 1024 * 1024,
            video_max_bytes: 50 * 1024 * 1024,
            audio_max_bytes: 15 * 1024 * 1024,
            total_timeout: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
            max_redirects: 5,
            per_account: None,
            queue_timeout: Duration::from_secs(10),
        }
    }
}

impl FetchLimits {
    /// The byte cap for a kind of media.
    pub fn max_bytes(&self, kind: MediaKind) -> u64 {
        match kind {
            MediaKind::Image => self.image_max_bytes,
            MediaKind::Video => self.video_max_bytes,
            MediaKind::Audio => self.audio_max_bytes,
        }
    }

    /// One account's share of `total` fetch slots: `per_account`, else a quarter of the total;
    /// between one and the total.
    pub fn per_account_share(&self, total: usize) -> usize {
        let total = total.max(1);
        self.per_account.unwrap_or(total / 4).clamp(1, total)
    }
}

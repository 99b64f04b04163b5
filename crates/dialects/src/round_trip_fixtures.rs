//! Canonical requests the round-trip tests of several dialects send through their upstream
//! twins.

use seedgate_core::media::MediaUrl;
use seedgate_core::{AspectRatio, GenerationRequest, Mode, Resolution};

pub fn url(s: &str) -> MediaUrl {
    MediaUrl::parse(s).expect("url")
}

/// A text prompt, 720p 16:9, 5 s with audio, the NSFW check on; the mode's media are the
/// caller's to add.
pub fn request(mode: Mode) -> GenerationRequest {
    GenerationRequest {
        model: "seedance-2.0-mini".into(),
        mode,
        prompt: Some("a fox in the snow".into()),
        first_frame_url: None,
        last_frame_url: None,
        reference_image_urls: Vec::new(),
        reference_video_urls: Vec::new(),
        reference_audio_urls: Vec::new(),
        generate_audio: true,
        resolution: Resolution::P720,
        aspect_ratio: AspectRatio::R16x9,
        duration_seconds: 5,
        web_search: false,
        nsfw_checker: true,
        seed: None,
        return_last_frame: false,
        callback_url: None,
        media_copies: Default::default(),
        expires_after_seconds: None,
        priority: None,
        safety_identifier: None,
    }
}

/// A list of URLs as the draft carries it (`None` when empty).
pub fn strings(list: &[MediaUrl]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.iter().map(|u| u.as_str().to_string()).collect())
}

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

/// A task that succeeded and whose media retention expired 30 days on, at
/// 1_702_592_009_250 (2023-12-14T22:13:29.250Z), as the store reads it back: no keys, so no
/// URLs.
pub fn expired_task() -> seedgate_core::task::Task {
    seedgate_core::task::Task {
        id: seedgate_core::TaskId::generate(),
        account_id: seedgate_core::AccountId::generate(),
        api_key_id: seedgate_core::ApiKeyId::generate(),
        request: crate::round_trip_fixtures::request(seedgate_core::Mode::T2v),
        requested_model: "seedance-2.0-mini".into(),
        origin_dialect: "reapi".into(),
        status: seedgate_core::task::TaskStatus::Succeeded,
        price: seedgate_core::pricing::Price {
            billable_seconds: 5,
            credits: 513,
            micro_usd_per_second: 102_500,
        },
        attempt: 1,
        created_at_ms: 1_700_000_000_500,
        updated_at_ms: 1_700_000_009_900,
        started_at_ms: Some(1_700_000_001_000),
        finished_at_ms: Some(1_700_000_009_900),
        output: Some(seedgate_core::TaskOutput {
            width: Some(1280),
            height: Some(720),
            media_expired_at_ms: Some(1_702_592_009_250),
            ..Default::default()
        }),
        error: None,
        provider: None,
    }
}

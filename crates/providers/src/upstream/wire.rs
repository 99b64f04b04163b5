//! Small pieces of wire handling several upstream dialects share: path segments, `{code, …}`
//! envelopes and the faults a malformed answer becomes.

use super::{as_text, UpstreamFault};
use seedgate_core::{GenerationRequest, Inexpressible};
use serde_json::Value;

/// One path segment with everything but unreserved characters percent-encoded (ids and model
/// ids come from configuration or the upstream and are not trusted to be path-safe).
pub(super) fn path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The envelope's `code` as a number (it may be sent as a string).
pub(super) fn envelope_code(body: &Value) -> Option<u16> {
    as_text(body.get("code")?)?.trim().parse().ok()
}

/// An envelope code as an HTTP status: codes outside the HTTP range count as a bad gateway.
pub(super) fn http_like(code: u16) -> u16 {
    if (100..=599).contains(&code) {
        code
    } else {
        502
    }
}

/// An envelope whose `code` is present and not 200 is an error under HTTP 200: `fault`, with
/// the code turned into an HTTP-like status by the dialect's `to_status`.
pub(super) fn check_envelope(
    body: &Value,
    fault: UpstreamFault,
    to_status: fn(u16) -> u16,
) -> Result<(), UpstreamFault> {
    match envelope_code(body) {
        Some(code) if code != 200 => Err(UpstreamFault {
            status: Some(to_status(code)),
            ..fault
        }),
        _ => Ok(()),
    }
}

/// An answer that makes no sense: a bad gateway, so a poll is retried later rather than the
/// task being failed or kept running blindly.
pub(super) fn bad_answer(message: impl Into<String>) -> UpstreamFault {
    UpstreamFault {
        message: Some(message.into()),
        status: Some(502),
        ..UpstreamFault::default()
    }
}

/// A create answer with a success code but no task id: the task may exist upstream, so the
/// status is left unset, which makes the submit ambiguous (reconciled, never resubmitted).
pub(super) fn missing_task_id() -> UpstreamFault {
    UpstreamFault {
        message: Some("the create answer carries no task id".into()),
        ..UpstreamFault::default()
    }
}

// What several dialects cannot express, as [`super::UpstreamApi::inexpressible`] reports it.

/// Web search where the dialect has no such switch: the video would not be what was asked. (A
/// seed, which several resellers lack, is only a reproducibility hint and is dropped instead.)
pub(super) fn no_web_search(dialect: &str, r: &GenerationRequest) -> Option<Inexpressible> {
    r.web_search
        .then(|| Inexpressible::new("web_search", format!("{dialect} has no web search")))
}

/// A prompt where the dialect requires one in every mode.
pub(super) fn prompt_required(dialect: &str, r: &GenerationRequest) -> Option<Inexpressible> {
    let missing = r.prompt.as_deref().is_none_or(|p| p.trim().is_empty());
    missing.then(|| {
        Inexpressible::new(
            "prompt",
            format!("{dialect} requires a prompt, also with a first frame or reference images"),
        )
    })
}

/// First (or last) frames together with reference media, where the dialect's modes exclude
/// each other; the field named is the first reference list in use.
pub(super) fn frames_exclude_references(
    dialect: &str,
    r: &GenerationRequest,
) -> Option<Inexpressible> {
    let frames = r.first_frame_url.is_some() || r.last_frame_url.is_some();
    let field = [
        ("reference_image_urls", r.reference_image_urls.is_empty()),
        ("reference_video_urls", r.reference_video_urls.is_empty()),
        ("reference_audio_urls", r.reference_audio_urls.is_empty()),
    ]
    .into_iter()
    .find_map(|(field, empty)| (!empty).then_some(field))?;
    frames.then(|| {
        Inexpressible::new(
            field,
            format!("{dialect} cannot combine first or last frames with reference media"),
        )
    })
}

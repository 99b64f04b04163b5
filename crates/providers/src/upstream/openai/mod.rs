//! Any server with the OpenAI-style videos API as an upstream (upstream-contracts §3.6):
//! another seedgate, LiteLLM, new-api and most gateways that resell Seedance under `/v1/videos`.
//! Bearer auth. The bodies are [`seedgate_wire::openai`]'s, the types seedgate's own `openai`
//! dialect serves.
//!
//! - Create: `POST /v1/videos` as JSON, `{prompt, model, seconds: "4", size: "864x496",
//!   input_reference: {"image_url": …}}`; the answer is the video object, whose `id` is the job.
//!   `size` is the request's output size (`GenerationRequest::output_size`), which carries the
//!   resolution and the aspect ratio.
//! - Status: `GET /v1/videos/{id}`.
//! - Results: `GET /v1/videos/{id}/content` (the MP4) and `…/content?variant=thumbnail` (the
//!   last frame as a PNG, asked for only when the request wants the last frame). Both need the
//!   account's key, so they are handed over as paths on the account's API (see
//!   [`UpstreamState::Succeeded`]) and downloaded with it.
//! - No cancel: `DELETE /v1/videos/{id}` deletes a finished video, and seedgate answers a running
//!   one with 409 `video_in_progress`; an unfinished job is left to finish.
//! - No per-task callback: the create body has no place for one (seedgate refuses unknown
//!   fields), so jobs are polled. A webhook configured at the upstream (`{"data": {"id": …}}`)
//!   is read by `callback_job_id` and only makes the next poll due.
//! - A create answered 502 or 504 (a gateway speaking for a server it could not hear from) is in
//!   doubt, not failed over: the API's clients retry a create with its Idempotency-Key, which
//!   finds the job if it was made (seedgate replays the first answer), so the submit is
//!   reconciled at the same account with the same key.
//!
//! What the create body cannot carry, refused by [`OpenAi::inexpressible`] (routing passes such
//! an account over; with no other, submit refuses the request): a missing prompt (required),
//! a last frame, reference images, videos or audio, web search, `generate_audio: true` (there is
//! no audio switch; seedgate's `/v1/videos` makes silent videos), and an `adaptive` ratio with a
//! first frame (the size is in pixels, and the image's shape is not known here; without an image
//! `adaptive` is 16:9, as everywhere in seedgate). Dropped, as other kinds drop them: the seed
//! (a reproducibility hint), `nsfw_checker: false` (the upstream's check stays on),
//! `expires_after_seconds` (seedgate's own deadline applies), `priority`, `safety_identifier`.
//!
//! | `status` | state |
//! |---|---|
//! | `queued` | Queued |
//! | `in_progress` | Running |
//! | `completed` | Succeeded |
//! | `failed` | Failed, by `error.code` (see [`failure`]); code `cancelled` → Cancelled |
//! | `cancelled`, `canceled`, `expired` (LLMGateway's additions) | Cancelled, Expired |
//! | anything else | a 502 fault: asked again, never taken as running |
//!
//! Errors: `{"error": {message, type, param, code}}` under the HTTP status; see [`fault_of`].

use super::reapi::{looks_like_input_error, looks_like_moderation};
use super::wire::{bad_answer, missing_task_id, no_web_search, path_segment, prompt_required};
use super::{CreateContext, HttpCall, UpstreamApi, UpstreamFault, UpstreamState};
use crate::ProviderError;
use seedgate_core::task::FailureKind;
use seedgate_core::{AspectRatio, GenerationRequest, Inexpressible};
use seedgate_wire::openai::{
    InputReference, OpenAiCreateVideo, OpenAiErrorBody, OpenAiErrorEnvelope, OpenAiVideo,
    OpenAiVideoError, OpenAiWebhookEvent,
};
use serde::Deserialize;
use serde_json::Value;

pub struct OpenAi;

pub const VIDEOS_PATH: &str = "/v1/videos";

/// How refusals name this API.
const NAME: &str = "OpenAI-style /v1/videos";

/// The path of one video. The id is percent-encoded so an odd id cannot change the path.
fn video_path(job_id: &str) -> String {
    format!("{VIDEOS_PATH}/{}", path_segment(job_id))
}

/// The create body as JSON. It holds only strings and integers, which always serialize.
fn json_of(body: &OpenAiCreateVideo) -> Result<Value, serde_json::Error> {
    serde_json::to_value(body)
}

/// The media the create body has no place for: only a first frame fits.
fn media_without_a_place(r: &GenerationRequest) -> Option<Inexpressible> {
    if r.last_frame_url.is_some() {
        return Some(Inexpressible::new(
            "last_frame_url",
            format!("{NAME} takes a first frame only, not a last frame"),
        ));
    }
    [
        ("reference_image_urls", r.reference_image_urls.is_empty()),
        ("reference_video_urls", r.reference_video_urls.is_empty()),
        ("reference_audio_urls", r.reference_audio_urls.is_empty()),
    ]
    .into_iter()
    .find_map(|(field, empty)| {
        (!empty).then(|| Inexpressible::new(field, format!("{NAME} takes no reference media")))
    })
}

/// A failed video's state, from its `error.code` (seedgate's dialect table, read in reverse)
/// and, for a code it does not know, the wording of code and message.
fn failure(error: Option<&OpenAiVideoError>) -> UpstreamState {
    let code = error.map_or("", |e| e.code.trim());
    let message = error.map_or("", |e| e.message.trim());
    let kind = match code {
        "cancelled" | "canceled" => return UpstreamState::Cancelled,
        "moderation_blocked" | "content_policy_violation" => FailureKind::Moderation,
        "invalid_input" => FailureKind::InvalidInput,
        "rate_limit_exceeded" => FailureKind::RateLimited,
        // The upstream's own internal error is, from here, an upstream error.
        "upstream_error" | "internal_error" => FailureKind::UpstreamError,
        "timeout" => FailureKind::Timeout,
        "expired" => FailureKind::Expired,
        _ if looks_like_moderation(code) || looks_like_moderation(message) => {
            FailureKind::Moderation
        }
        _ if looks_like_input_error(code) || looks_like_input_error(message) => {
            FailureKind::InvalidInput
        }
        _ => FailureKind::UpstreamError,
    };
    let message = match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{code}: {message}"),
        (false, true) => format!("video failed with code {code}"),
        (true, false) => message.to_string(),
        (true, true) => "video failed".to_string(),
    };
    UpstreamState::Failed { kind, message }
}

/// The fault an error body reports. The HTTP status decides, except where the code says
/// more: `insufficient_quota` (OpenAI sends it under 429) is the account's credit running out,
/// read as a 402 like every other kind's, so it is not retried as a rate limit;
/// `model_not_found` (a 400 at seedgate) reads as 404, so `providers check` reports the model
/// unavailable and a create counts as the operator's misconfiguration; a moderation code or
/// wording is a moderation refusal.
fn fault_of(error: OpenAiErrorBody) -> UpstreamFault {
    let code = error
        .code
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let kind_word = error.kind.trim().to_string();
    let message = Some(error.message.trim().to_string()).filter(|m| !m.is_empty());
    let said = code.as_deref().unwrap_or(kind_word.as_str());
    let (kind, status) = match said {
        "insufficient_quota" => (Some(FailureKind::UpstreamError), Some(402)),
        "model_not_found" => (None, Some(404)),
        "rate_limit_exceeded" => (Some(FailureKind::RateLimited), None),
        "moderation_blocked" | "content_policy_violation" => (Some(FailureKind::Moderation), None),
        // The wording counts only where no code says what happened.
        _ if code.is_none() => {
            let moderated = message.as_deref().is_some_and(looks_like_moderation);
            (moderated.then_some(FailureKind::Moderation), None)
        }
        _ => (None, None),
    };
    UpstreamFault {
        code: code.or_else(|| Some(kind_word).filter(|k| !k.is_empty())),
        message,
        kind,
        status,
    }
}

impl UpstreamApi for OpenAi {
    fn inexpressible(&self, r: &GenerationRequest) -> Option<Inexpressible> {
        prompt_required(NAME, r)
            .or_else(|| media_without_a_place(r))
            .or_else(|| no_web_search(NAME, r))
            .or_else(|| {
                r.generate_audio.then(|| {
                    Inexpressible::new(
                        "generate_audio",
                        format!("{NAME} has no audio switch: the video would be silent"),
                    )
                })
            })
            .or_else(|| {
                (r.first_frame_url.is_some() && r.aspect_ratio == AspectRatio::Adaptive).then(
                    || {
                        Inexpressible::new(
                            "aspect_ratio",
                            format!(
                                "{NAME} takes a size in pixels, and an adaptive ratio follows \
                                 the first frame's shape; give the aspect ratio"
                            ),
                        )
                    },
                )
            })
    }

    fn create(&self, cx: &CreateContext<'_>) -> Result<HttpCall, ProviderError> {
        let r = cx.request;
        let refused = |reason: String| ProviderError::permanent(FailureKind::InvalidInput, reason);
        if let Some(refusal) = self.inexpressible(r) {
            return Err(refused(refusal.reason));
        }
        let Some(prompt) = r.prompt.clone() else {
            return Err(refused(format!("{NAME} requires a prompt")));
        };
        // `adaptive` without an image is 16:9, as the canonical request defines it.
        let (width, height) = r.output_size(None);
        let body = OpenAiCreateVideo {
            prompt,
            model: Some(cx.model_id.to_string()),
            seconds: Some(i64::from(r.duration_seconds)),
            size: Some(format!("{width}x{height}")),
            input_reference: r
                .first_frame_url
                .as_ref()
                .map(|url| InputReference::image_url(url.as_str())),
        };
        let json = json_of(&body)
            .map_err(|e| ProviderError::permanent(FailureKind::Internal, e.to_string()))?;
        Ok(HttpCall::post(VIDEOS_PATH, json))
    }

    fn created(&self, body: &Value) -> Result<String, UpstreamFault> {
        match OpenAiVideo::deserialize(body) {
            Ok(video) if !video.id.trim().is_empty() => Ok(video.id),
            // A 2xx without a video id may still have made one: the status is left unset, so
            // the submit is reconciled, never sent elsewhere.
            _ => Err(match OpenAiErrorEnvelope::deserialize(body) {
                Ok(envelope) => UpstreamFault {
                    status: None,
                    ..fault_of(envelope.error)
                },
                Err(_) => missing_task_id(),
            }),
        }
    }

    fn status(&self, job_id: &str, _model_id: &str) -> HttpCall {
        HttpCall::get(video_path(job_id))
    }

    fn state(&self, body: &Value) -> Result<UpstreamState, UpstreamFault> {
        let video = match OpenAiVideo::deserialize(body) {
            Ok(video) => video,
            // An error envelope under 200 (a gateway's habit), or not a video at all: a bad
            // gateway, asked again, never taken as the job's fate.
            Err(e) => {
                return Err(match OpenAiErrorEnvelope::deserialize(body) {
                    Ok(envelope) => UpstreamFault {
                        status: Some(502),
                        ..fault_of(envelope.error)
                    },
                    Err(_) => bad_answer(format!("the answer is not a video object: {e}")),
                })
            }
        };
        match video.status.trim().to_ascii_lowercase().as_str() {
            "queued" => Ok(UpstreamState::Queued),
            "in_progress" => Ok(UpstreamState::Running),
            "completed" => {
                if video.id.trim().is_empty() {
                    return Err(bad_answer("a completed video without an id"));
                }
                let content = format!("{}/content", video_path(&video.id));
                Ok(UpstreamState::Succeeded {
                    last_frame_url: Some(format!("{content}?variant=thumbnail")),
                    video_url: content,
                })
            }
            "failed" => Ok(failure(video.error.as_ref())),
            "cancelled" | "canceled" => Ok(UpstreamState::Cancelled),
            "expired" => Ok(UpstreamState::Expired),
            _ => Err(bad_answer(format!(
                "unknown video status `{}`",
                video.status
            ))),
        }
    }

    fn probe_create(&self, model_id: &str) -> HttpCall {
        let body = OpenAiCreateVideo {
            prompt: "seedgate access check".into(),
            model: Some(model_id.to_string()),
            seconds: Some(0),
            size: None,
            input_reference: None,
        };
        // Never fails (strings and integers); were it to, a `null` body is refused all the
        // same, and nothing is created.
        HttpCall::post(VIDEOS_PATH, json_of(&body).unwrap_or(Value::Null))
    }

    fn create_in_doubt(&self, status: u16) -> bool {
        matches!(status, 502 | 504)
    }

    fn fault(&self, body: &Value) -> UpstreamFault {
        match OpenAiErrorEnvelope::deserialize(body) {
            Ok(envelope) => fault_of(envelope.error),
            Err(_) => UpstreamFault::default(),
        }
    }

    /// A webhook event names the video in `data.id`; a body that is the video object itself
    /// is accepted too.
    fn callback_job_id(&self, body: &Value) -> Option<String> {
        let id = match OpenAiWebhookEvent::deserialize(body) {
            Ok(event) => event.data.id,
            Err(_) => OpenAiVideo::deserialize(body).ok()?.id,
        };
        Some(id).filter(|id| !id.trim().is_empty())
    }
}

#[cfg(test)]
mod tests;

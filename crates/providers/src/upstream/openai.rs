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
mod tests {
    use super::super::{UpstreamConfig, UpstreamKind, UpstreamProvider};
    use super::*;
    use crate::{ArtifactBody, Job, Progress};
    use seedgate_core::{Catalog, RequestDraft, TaskId};
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::time::Duration;

    const MODEL_ID: &str = "seedance-2.0-mini";

    fn request(draft: RequestDraft) -> GenerationRequest {
        GenerationRequest::from_draft(
            RequestDraft {
                model: Some("seedance-2.0-mini".into()),
                ..draft
            },
            &Catalog::builtin(),
        )
        .expect("valid request")
    }

    fn t2v() -> GenerationRequest {
        request(RequestDraft {
            prompt: Some("a red kite over the dunes".into()),
            resolution: Some("480p".into()),
            aspect_ratio: Some("16:9".into()),
            duration: Some(4),
            ..RequestDraft::default()
        })
    }

    fn call_for(r: &GenerationRequest) -> Result<HttpCall, ProviderError> {
        OpenAi.create(&CreateContext {
            request: r,
            model_id: MODEL_ID,
            callback_url: Some("https://gw.example/upstream/callbacks/t/x"),
        })
    }

    /// The create body, as seedgate's `/v1/videos` reads it.
    fn served(r: &GenerationRequest) -> (Value, OpenAiCreateVideo) {
        let call = call_for(r).expect("expressible");
        assert_eq!(call.method, reqwest::Method::POST);
        assert_eq!(call.path, "/v1/videos");
        assert!(call.query.is_empty());
        let json = call.body.expect("a body");
        let parsed = OpenAiCreateVideo::deserialize(&json).expect("the serving side accepts it");
        (json, parsed)
    }

    #[test]
    fn a_canonical_request_becomes_the_body_the_serving_side_accepts() {
        let mut r = t2v();
        // Dropped, as other kinds drop them; the callback URL has no place either.
        r.seed = Some(7);
        r.nsfw_checker = false;
        r.priority = Some(3);
        r.expires_after_seconds = Some(600);
        r.safety_identifier = Some("user-1".into());
        r.return_last_frame = true;
        let (json, body) = served(&r);
        assert_eq!(
            json,
            json!({"prompt": "a red kite over the dunes", "model": "seedance-2.0-mini",
                   "seconds": "4", "size": "864x496"}),
            "seconds as a string, nothing else"
        );
        assert_eq!(
            body,
            OpenAiCreateVideo {
                prompt: "a red kite over the dunes".into(),
                model: Some(MODEL_ID.into()),
                seconds: Some(4),
                size: Some("864x496".into()),
                input_reference: None,
            }
        );
    }

    #[test]
    fn the_size_is_the_output_size_and_a_first_frame_is_an_image_url() {
        let r = request(RequestDraft {
            prompt: Some("she turns to the camera".into()),
            first_frame_url: Some("https://e.com/first.png".into()),
            resolution: Some("720p".into()),
            aspect_ratio: Some("9:16".into()),
            duration: Some(12),
            ..RequestDraft::default()
        });
        let (json, body) = served(&r);
        assert_eq!(body.size.as_deref(), Some("720x1280"));
        assert_eq!(body.seconds, Some(12));
        assert_eq!(json["seconds"], json!("12"));
        assert_eq!(
            json["input_reference"],
            json!({"image_url": "https://e.com/first.png"})
        );
        assert_eq!(
            body.input_reference,
            Some(InputReference::image_url("https://e.com/first.png"))
        );
        let adaptive = request(RequestDraft {
            prompt: Some("a lighthouse".into()),
            resolution: Some("720p".into()),
            aspect_ratio: Some("adaptive".into()),
            ..RequestDraft::default()
        });
        let (_, body) = served(&adaptive);
        assert_eq!(body.size.as_deref(), Some("1280x720"), "adaptive, no image");
        assert_eq!(body.seconds, Some(5), "the model's default duration");
    }

    #[test]
    fn what_the_body_cannot_carry_is_refused() {
        let url = |u: &str| seedgate_core::media::MediaUrl::parse(u).expect("url");
        let base = t2v();
        let with_frame = {
            let mut r = base.clone();
            r.first_frame_url = Some(url("https://e.com/first.png"));
            r
        };
        let cases: Vec<(GenerationRequest, &str)> = vec![
            (
                GenerationRequest {
                    prompt: None,
                    ..with_frame.clone()
                },
                "prompt",
            ),
            (
                GenerationRequest {
                    prompt: Some("  ".into()),
                    ..base.clone()
                },
                "prompt",
            ),
            (
                GenerationRequest {
                    last_frame_url: Some(url("https://e.com/last.png")),
                    ..with_frame.clone()
                },
                "last_frame_url",
            ),
            (
                GenerationRequest {
                    reference_image_urls: vec![url("https://e.com/a.png")],
                    ..base.clone()
                },
                "reference_image_urls",
            ),
            (
                GenerationRequest {
                    reference_video_urls: vec![url("https://e.com/v.mp4")],
                    ..base.clone()
                },
                "reference_video_urls",
            ),
            (
                GenerationRequest {
                    reference_audio_urls: vec![url("https://e.com/a.mp3")],
                    ..base.clone()
                },
                "reference_audio_urls",
            ),
            (
                GenerationRequest {
                    web_search: true,
                    ..base.clone()
                },
                "web_search",
            ),
            (
                GenerationRequest {
                    generate_audio: true,
                    ..base.clone()
                },
                "generate_audio",
            ),
            (
                GenerationRequest {
                    aspect_ratio: AspectRatio::Adaptive,
                    ..with_frame.clone()
                },
                "aspect_ratio",
            ),
        ];
        for (r, field) in cases {
            let refusal = OpenAi.inexpressible(&r).expect(field);
            assert_eq!(refusal.field, field);
            let e = call_for(&r).expect_err(field);
            assert_eq!(
                (e.kind, e.class),
                (FailureKind::InvalidInput, crate::ErrorClass::Permanent)
            );
        }
        assert_eq!(OpenAi.inexpressible(&base), None);
        assert_eq!(OpenAi.inexpressible(&with_frame), None);
    }

    fn video(status: &str) -> Value {
        json!({"id": "task_01k9", "object": "video", "model": "seedance-2.0-mini",
               "status": status, "progress": 0, "created_at": 1762853430,
               "completed_at": null, "expires_at": null, "error": null,
               "prompt": "a red kite", "seconds": "4", "size": "864x496",
               "remixed_from_video_id": null})
    }

    fn failed(code: &str, message: &str) -> UpstreamState {
        let mut body = video("failed");
        body["error"] = json!({"code": code, "message": message});
        OpenAi.state(&body).expect("a state")
    }

    #[test]
    fn every_status_reads_as_a_state() {
        assert_eq!(OpenAi.state(&video("queued")), Ok(UpstreamState::Queued));
        assert_eq!(
            OpenAi.state(&video("in_progress")),
            Ok(UpstreamState::Running)
        );
        assert_eq!(
            OpenAi.state(&video("completed")),
            Ok(UpstreamState::Succeeded {
                video_url: "/v1/videos/task_01k9/content".into(),
                last_frame_url: Some("/v1/videos/task_01k9/content?variant=thumbnail".into()),
            })
        );
        let mut odd = video("completed");
        odd["id"] = json!("a/b c");
        assert_eq!(
            OpenAi.state(&odd),
            Ok(UpstreamState::Succeeded {
                video_url: "/v1/videos/a%2Fb%20c/content".into(),
                last_frame_url: Some("/v1/videos/a%2Fb%20c/content?variant=thumbnail".into()),
            })
        );
        assert_eq!(
            OpenAi.state(&video("cancelled")),
            Ok(UpstreamState::Cancelled)
        );
        assert_eq!(
            OpenAi.state(&video("canceled")),
            Ok(UpstreamState::Cancelled)
        );
        assert_eq!(OpenAi.state(&video("expired")), Ok(UpstreamState::Expired));
        // A gateway's extra fields change nothing.
        let mut extended = video("in_progress");
        extended["progress"] = json!(37.5);
        extended["usage"] = json!({"duration_seconds": 4});
        assert_eq!(OpenAi.state(&extended), Ok(UpstreamState::Running));
    }

    #[test]
    fn failed_videos_by_code_mirror_the_dialects_table() {
        for (code, kind) in [
            ("moderation_blocked", FailureKind::Moderation),
            ("invalid_input", FailureKind::InvalidInput),
            ("rate_limit_exceeded", FailureKind::RateLimited),
            ("upstream_error", FailureKind::UpstreamError),
            ("timeout", FailureKind::Timeout),
            ("expired", FailureKind::Expired),
            ("internal_error", FailureKind::UpstreamError),
            ("content_policy_violation", FailureKind::Moderation),
            ("something_new", FailureKind::UpstreamError),
        ] {
            assert_eq!(
                failed(code, "why"),
                UpstreamState::Failed {
                    kind,
                    message: format!("{code}: why")
                },
                "{code}"
            );
        }
        assert_eq!(
            failed("cancelled", "the video was cancelled"),
            UpstreamState::Cancelled
        );
        assert!(matches!(
            failed("", "the input image was flagged as unsafe"),
            UpstreamState::Failed {
                kind: FailureKind::Moderation,
                ..
            }
        ));
        assert_eq!(
            OpenAi.state(&video("failed")),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "video failed".into()
            })
        );
    }

    #[test]
    fn unknown_statuses_and_odd_answers_are_faults_never_running() {
        for status in ["processing", "pending", "unknown", ""] {
            let fault = OpenAi.state(&video(status)).expect_err(status);
            assert_eq!(fault.status, Some(502), "{status}");
        }
        let fault = OpenAi
            .state(&json!({"id": "task_1"}))
            .expect_err("no status");
        assert_eq!(fault.status, Some(502));
        let fault = OpenAi
            .state(&json!({"id": "", "status": "completed"}))
            .expect_err("no id");
        assert_eq!(fault.status, Some(502));
        let fault = OpenAi
            .state(
                &json!({"error": {"message": "slow down", "type": "requests",
                                     "param": null, "code": "rate_limit_exceeded"}}),
            )
            .expect_err("an error under 200");
        assert_eq!(
            (fault.status, fault.kind),
            (Some(502), Some(FailureKind::RateLimited))
        );
        let fault = OpenAi
            .state(
                &json!({"error": {"message": "no credit", "type": "insufficient_quota",
                                     "code": "insufficient_quota"}}),
            )
            .expect_err("an error under 200");
        assert_eq!(
            fault.status,
            Some(502),
            "a poll's odd answer is asked again"
        );
    }

    #[test]
    fn error_envelopes_become_faults() {
        let envelope = |kind: &str, code: Value, message: &str| json!({"error": {"message": message, "type": kind, "param": null, "code": code}});
        assert_eq!(
            OpenAi.fault(&envelope(
                "requests",
                json!("rate_limit_exceeded"),
                "Too many requests"
            )),
            UpstreamFault {
                code: Some("rate_limit_exceeded".into()),
                message: Some("Too many requests".into()),
                kind: Some(FailureKind::RateLimited),
                status: None,
            }
        );
        let quota = OpenAi.fault(&envelope(
            "insufficient_quota",
            json!("insufficient_quota"),
            "insufficient credits: 5 needed, 1 available",
        ));
        assert_eq!(
            (quota.kind, quota.status),
            (Some(FailureKind::UpstreamError), Some(402))
        );
        let unknown_model = OpenAi.fault(&envelope(
            "invalid_request_error",
            json!("model_not_found"),
            "model sora-2 is not supported",
        ));
        assert_eq!(unknown_model.status, Some(404));
        let moderated = OpenAi.fault(&envelope(
            "invalid_request_error",
            json!("moderation_blocked"),
            "the prompt was refused",
        ));
        assert_eq!(moderated.kind, Some(FailureKind::Moderation));
        let invalid = OpenAi.fault(&envelope(
            "invalid_request_error",
            json!("invalid_value"),
            "seconds: must be from 4 to 15",
        ));
        assert_eq!(
            invalid,
            UpstreamFault {
                code: Some("invalid_value".into()),
                message: Some("seconds: must be from 4 to 15".into()),
                kind: None,
                status: None,
            },
            "the HTTP status (400) decides"
        );
        let server = OpenAi.fault(&envelope("server_error", Value::Null, "boom"));
        assert_eq!(server.code.as_deref(), Some("server_error"));
        assert_eq!(
            OpenAi
                .fault(&json!({"error": {"message": 5, "code": 401}}))
                .code,
            Some("401".into())
        );
        assert_eq!(OpenAi.fault(&Value::Null), UpstreamFault::default());
        assert_eq!(OpenAi.fault(&json!("oops")), UpstreamFault::default());
    }

    #[test]
    fn created_reads_the_video_id_and_a_missing_one_is_in_doubt() {
        assert_eq!(
            OpenAi.created(&video("queued")),
            Ok("task_01k9".to_string())
        );
        let fault = OpenAi
            .created(&json!({"status": "queued"}))
            .expect_err("no id");
        assert_eq!(
            fault.status, None,
            "in doubt: reconciled, not resent elsewhere"
        );
        let fault = OpenAi.created(&Value::Null).expect_err("no body");
        assert_eq!(fault.status, None);
        let fault = OpenAi
            .created(&json!({"error": {"message": "busy", "type": "server_error"}}))
            .expect_err("an error under 200");
        assert_eq!(
            (fault.status, fault.message.as_deref()),
            (None, Some("busy"))
        );
    }

    #[test]
    fn calls_paths_probe_and_doubt() {
        let call = OpenAi.status("task_01k9", MODEL_ID);
        assert_eq!(
            (call.method, call.path.as_str()),
            (reqwest::Method::GET, "/v1/videos/task_01k9")
        );
        assert!(call.body.is_none());
        assert_eq!(
            OpenAi.status("a/../b c", "m").path,
            "/v1/videos/a%2F..%2Fb%20c"
        );
        assert_eq!(OpenAi.cancel("task_01k9", MODEL_ID), None, "no cancel");
        let probe = OpenAi.probe_create(MODEL_ID);
        assert_eq!(probe.path, "/v1/videos");
        let body = probe.body.expect("body");
        assert_eq!(body["seconds"], json!("0"));
        assert_eq!(body["model"], json!(MODEL_ID));
        assert_eq!(
            OpenAiCreateVideo::deserialize(&body)
                .ok()
                .map(|b| b.seconds),
            Some(Some(0))
        );
        for status in [502, 504] {
            assert!(OpenAi.create_in_doubt(status), "{status}");
        }
        for status in [400, 409, 429, 500, 503] {
            assert!(!OpenAi.create_in_doubt(status), "{status}");
        }
    }

    #[test]
    fn callback_bodies_name_the_video() {
        assert_eq!(
            OpenAi.callback_job_id(&json!({"id": "evt_1", "object": "event",
                "type": "video.completed", "data": {"id": "video_9"}})),
            Some("video_9".into())
        );
        assert_eq!(
            OpenAi.callback_job_id(&video("completed")),
            Some("task_01k9".into())
        );
        assert_eq!(OpenAi.callback_job_id(&json!({"data": {"id": ""}})), None);
        assert_eq!(
            OpenAi.callback_job_id(&json!({"type": "video.completed"})),
            None
        );
    }

    fn provider(base_url: &str) -> UpstreamProvider {
        UpstreamProvider::new(UpstreamConfig {
            name: "openai-main".into(),
            kind: UpstreamKind::Openai,
            base_url: base_url.into(),
            api_key: "sg_live_s3cret".into(),
            models: BTreeMap::from([("seedance-2.0-mini".into(), MODEL_ID.into())]),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            first_poll: Duration::from_secs(1),
        })
        .expect("provider")
    }

    fn job(return_last_frame: bool) -> Job {
        let mut request = t2v();
        request.return_last_frame = return_last_frame;
        Job {
            task_id: TaskId::from_string("task_front"),
            request,
            attempt: 1,
            submit_key: "task_front-1".into(),
            upstream_callback_url: None,
        }
    }

    #[test]
    fn results_are_fetched_from_the_account_with_its_key_and_the_key_is_never_printed() {
        let provider = provider("http://up.example/");
        let state = OpenAi.state(&video("completed")).expect("state");
        let Ok(Progress::Done(artifacts)) = provider.progress(&job(true), "task_01k9", state)
        else {
            panic!("done");
        };
        let ArtifactBody::Remote { url, authorization } = &artifacts.video.body else {
            panic!("remote");
        };
        assert_eq!(url, "http://up.example/v1/videos/task_01k9/content");
        assert_eq!(
            authorization.as_ref().map(|a| a.expose()),
            Some("Bearer sg_live_s3cret")
        );
        let frame = artifacts.last_frame.as_ref().expect("asked for");
        let ArtifactBody::Remote { url, authorization } = &frame.body else {
            panic!("remote");
        };
        assert_eq!(
            url,
            "http://up.example/v1/videos/task_01k9/content?variant=thumbnail"
        );
        assert!(authorization.is_some());
        assert_eq!(frame.content_type, "image/png");
        let printed = format!("{artifacts:?}");
        assert!(!printed.contains("s3cret"), "{printed}");

        // Not asked for: not fetched.
        let state = OpenAi.state(&video("completed")).expect("state");
        let Ok(Progress::Done(artifacts)) = provider.progress(&job(false), "task_01k9", state)
        else {
            panic!("done");
        };
        assert!(artifacts.last_frame.is_none());

        // A URL an upstream answered is fetched as it is, without the key.
        let state = UpstreamState::Succeeded {
            video_url: "https://cdn.example/v.mp4".into(),
            last_frame_url: None,
        };
        let Ok(Progress::Done(artifacts)) = provider.progress(&job(false), "x", state) else {
            panic!("done");
        };
        let ArtifactBody::Remote { url, authorization } = &artifacts.video.body else {
            panic!("remote");
        };
        assert_eq!(
            (url.as_str(), authorization),
            ("https://cdn.example/v.mp4", &None)
        );
    }

    #[test]
    fn the_kind_is_registered() {
        assert_eq!(UpstreamKind::parse("openai"), Some(UpstreamKind::Openai));
        assert_eq!(UpstreamKind::Openai.as_str(), "openai");
        assert_eq!(
            serde_json::from_value::<UpstreamKind>(json!("openai")).ok(),
            Some(UpstreamKind::Openai)
        );
        for kind in UpstreamKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(json!(kind.as_str())),
                "serde and the registry agree"
            );
            assert_eq!(UpstreamKind::parse(kind.as_str()), Some(*kind));
        }
        assert!(UpstreamKind::names().ends_with("kie, openai"));
    }
}

//! The Ark / BytePlus ModelArk / Volcengine Ark task API as an upstream
//! (upstream-contracts.md §1; seedgate serves the same dialect in `crates/dialects/src/ark.rs`).
//!
//! - Create: `POST /api/v3/contents/generations/tasks` with `content[]` items carrying roles
//!   (`first_frame`, `last_frame`, `reference_image`, `reference_video`, `reference_audio`);
//!   the answer is `{"id": "cgt-…"}`.
//! - Status: `GET …/tasks/{id}`; a callback body is the same object. Cancel: `DELETE …/tasks/{id}`
//!   (only a queued task can be cancelled; Ark refuses a running one).
//! - Errors: `{"error":{"code","message"}}` with an HTTP status; a top-level `{code, message}`
//!   is accepted too.
//!
//! Statuses (§1.8):
//!
//! | Ark | state |
//! |---|---|
//! | `queued` | Queued |
//! | `running` | Running |
//! | `succeeded` | Succeeded (`content.video_url`, `content.last_frame_url`) |
//! | `failed` | Failed (kind from `error.code`) |
//! | `cancelled` (also `canceled`) | Cancelled |
//! | `expired` | Expired |
//! | anything else that reads as in progress (`pending`, `processing`, `in_progress`, …) | Running |
//! | anything else | a transient fault (502): the poll is retried, never parked as Running |
//!
//! Ark has no switch for seedgate's `nsfw_checker`; it is not sent.

use super::wire::{frames_exclude_references, path_segment};
use super::{CreateContext, HttpCall, UpstreamApi, UpstreamFault, UpstreamState};
use crate::ProviderError;
use seedgate_core::task::FailureKind;
use seedgate_core::{GenerationRequest, Inexpressible};
use seedgate_wire::ark::{
    ContentItem, CreateTaskRequest, CreateTaskResponse, ErrorAnswer, ErrorValue, MediaKind,
    TaskObject, Tool,
};
use serde::Deserialize;
use serde_json::Value;

pub struct Ark;

const TASKS: &str = "/api/v3/contents/generations/tasks";

/// The path of one task. The id is percent-encoded so an odd id cannot change the path.
fn task_path(job_id: &str) -> String {
    format!("{TASKS}/{}", path_segment(job_id))
}

/// A body as JSON. The wire types hold only strings, numbers and booleans, so this cannot
/// fail; should it ever, the call is refused rather than sent with a wrong body.
fn to_body(body: &CreateTaskRequest) -> Result<Value, ProviderError> {
    serde_json::to_value(body).map_err(|e| {
        ProviderError::permanent(FailureKind::Internal, format!("Ark body not written: {e}"))
    })
}

/// What an Ark error code says about the failure, if anything.
fn failure_kind(code: &str) -> Option<FailureKind> {
    // `SensitiveContentDetected(.X)`, `Input{Text,Image,Video}SensitiveContentDetected(.X)`,
    // `OutputVideoSensitiveContentDetected` (what seedgate itself reports for moderation).
    if code.contains("SensitiveContentDetected")
        || code.contains("RiskDetection")
        || code.starts_with("ContentSecurityDetectionError")
    {
        return Some(FailureKind::Moderation);
    }
    if code.starts_with("InvalidParameter") || code.starts_with("MissingParameter") {
        return Some(FailureKind::InvalidInput);
    }
    if code.starts_with("RateLimitExceeded")
        || code.ends_with("RateLimitExceeded")
        || code.starts_with("QuotaExceeded")
        || code.starts_with("ServerOverloaded")
        || code.starts_with("ModelLoadingError")
    {
        return Some(FailureKind::RateLimited);
    }
    match code {
        // seedgate's own codes for a timed-out and an expired task.
        "ExecutionTimeout" => Some(FailureKind::Timeout),
        "TaskExpired" => Some(FailureKind::Expired),
        _ => None,
    }
}

/// The HTTP status an error code stands for, for error bodies that arrive under 200.
fn status_for_code(code: &str) -> u16 {
    match code {
        "AuthenticationError" => 401,
        "AccountOverdueError" | "AccessDenied" => 403,
        "ModelNotOpen" | "InvalidEndpoint.ClosedEndpoint" => 404,
        "IdempotencyKeyInUse" => 503,
        c if c.starts_with("OperationDenied") => 403,
        c if c.contains("NotFound") || c.starts_with("InvalidEndpointOrModel") => 404,
        c => match failure_kind(c) {
            Some(FailureKind::Moderation | FailureKind::InvalidInput) => 400,
            Some(FailureKind::RateLimited) => 429,
            _ => 500,
        },
    }
}

/// A failed task's kind: from the code, else a moderation word in the message.
fn failed_kind(code: Option<&str>, message: Option<&str>) -> FailureKind {
    match code.and_then(failure_kind) {
        Some(kind) => kind,
        None if code.is_none()
            && message.is_some_and(|m| m.to_ascii_lowercase().contains("sensitive")) =>
        {
            FailureKind::Moderation
        }
        None => FailureKind::UpstreamError,
    }
}

/// An error envelope found under a 2xx status, classified by its code.
fn envelope_fault(body: &Value) -> Option<UpstreamFault> {
    let answer = ErrorAnswer::read(body);
    let error = answer.error.as_ref()?;
    let (code, message) = (answer.code(), answer.message());
    // A bare `"error": true` or `[]` says nothing: not an envelope.
    if code.is_none() && message.is_none() && !matches!(error, ErrorValue::Object { .. }) {
        return None;
    }
    let status = code.as_deref().map_or(502, status_for_code);
    Some(UpstreamFault {
        kind: code.as_deref().and_then(failure_kind),
        code,
        message,
        status: Some(status),
    })
}

/// A malformed 2xx answer to a poll: transient, so the poll is asked again.
fn malformed(what: &str) -> UpstreamFault {
    UpstreamFault {
        code: None,
        message: Some(what.to_string()),
        kind: Some(FailureKind::UpstreamError),
        status: Some(502),
    }
}

/// A status word that plausibly means "not finished yet".
fn looks_in_progress(status: &str) -> bool {
    [
        "queue", "pending", "wait", "run", "process", "progress", "generat", "submit", "creat",
        "start", "handl",
    ]
    .iter()
    .any(|w| status.contains(w))
}

/// A callback some relays wrap in `{"data": {…}}`.
#[derive(Deserialize)]
struct Wrapped {
    data: CreateTaskResponse,
}

/// The id of a create answer or task object; `None` when missing or empty (the wire type reads
/// a non-object, or an id that is neither string nor number, as empty).
fn id_of(body: &Value) -> Option<String> {
    CreateTaskResponse::deserialize(body)
        .ok()
        .map(|r| r.id)
        .filter(|id| !id.is_empty())
}

impl UpstreamApi for Ark {
    fn inexpressible(&self, r: &GenerationRequest) -> Option<Inexpressible> {
        // Ark's first-frame, first+last-frame and reference modes exclude each other (§1.5).
        frames_exclude_references("Ark", r)
    }

    fn create(&self, cx: &CreateContext<'_>) -> Result<HttpCall, ProviderError> {
        let r = cx.request;
        let mut content = Vec::new();
        if let Some(prompt) = &r.prompt {
            content.push(ContentItem::text(prompt.as_str()));
        }
        let media = [
            (MediaKind::Image, r.first_frame_url.iter(), "first_frame"),
            (MediaKind::Image, r.last_frame_url.iter(), "last_frame"),
        ];
        for (kind, urls, role) in media {
            content.extend(urls.map(|u| ContentItem::media(kind, u.as_str(), role)));
        }
        let lists = [
            (MediaKind::Image, &r.reference_image_urls, "reference_image"),
            (MediaKind::Video, &r.reference_video_urls, "reference_video"),
            (MediaKind::Audio, &r.reference_audio_urls, "reference_audio"),
        ];
        for (kind, urls, role) in lists {
            content.extend(
                urls.iter()
                    .map(|u| ContentItem::media(kind, u.as_str(), role)),
            );
        }
        if content.is_empty() {
            return Err(ProviderError::permanent(
                FailureKind::InvalidInput,
                "Ark needs a prompt or media",
            ));
        }

        let body = CreateTaskRequest {
            model: Some(cx.model_id.to_string()),
            content: Some(content),
            resolution: Some(r.resolution.as_str().into()),
            ratio: Some(r.aspect_ratio.as_str().into()),
            duration: Some(r.duration_seconds.into()),
            generate_audio: Some(r.generate_audio),
            return_last_frame: Some(r.return_last_frame),
            watermark: Some(false),
            // Absent means random on Ark (`-1`).
            seed: r.seed.map(i64::from),
            tools: r.web_search.then(|| vec![Tool::web_search()]),
            callback_url: cx.callback_url.map(String::from),
            // What the client asked of the task, passed on: the upstream expires it too (within
            // Ark's range), orders it, and sees the end-user id.
            execution_expires_after: r
                .expires_after_seconds
                .map(|s| i64::from(s.clamp(3_600, 259_200))),
            priority: r.priority,
            safety_identifier: r.safety_identifier.clone(),
            ..Default::default()
        };
        Ok(HttpCall::post(TASKS, to_body(&body)?))
    }

    fn created(&self, body: &Value) -> Result<String, UpstreamFault> {
        if let Some(id) = id_of(body) {
            return Ok(id);
        }
        if let Some(fault) = envelope_fault(body) {
            return Err(fault);
        }
        // A 2xx without an id may still have created a task: fail permanently rather than
        // risk a second paid task by resubmitting.
        Err(UpstreamFault {
            code: None,
            message: Some("the create answer carried no task id".into()),
            kind: Some(FailureKind::UpstreamError),
            status: None,
        })
    }

    fn status(&self, job_id: &str, _model_id: &str) -> HttpCall {
        HttpCall::get(task_path(job_id))
    }

    fn state(&self, body: &Value) -> Result<UpstreamState, UpstreamFault> {
        // The task object reads every field leniently, so only a body that is not an object
        // fails here; it has no status either.
        let task = TaskObject::deserialize(body).ok();
        let Some(task) = task.filter(|t| !t.status.is_empty()) else {
            return Err(envelope_fault(body)
                .unwrap_or_else(|| malformed("the task answer carried no status")));
        };
        let status = task.status.trim().to_ascii_lowercase();
        match status.as_str() {
            "queued" => Ok(UpstreamState::Queued),
            "running" => Ok(UpstreamState::Running),
            "succeeded" => {
                let content = task.content.filter(|c| !c.video_url.is_empty());
                match content {
                    Some(content) => Ok(UpstreamState::Succeeded {
                        video_url: content.video_url,
                        last_frame_url: content.last_frame_url,
                    }),
                    None => Err(malformed("the task succeeded without content.video_url")),
                }
            }
            "failed" => {
                let error = task.error.as_ref();
                let code = error.and_then(|e| e.code()).map(String::from);
                let message = error.and_then(|e| e.message()).map(String::from);
                let kind = failed_kind(code.as_deref(), message.as_deref());
                let message = message
                    .or(code)
                    .unwrap_or_else(|| "the upstream task failed".into());
                Ok(UpstreamState::Failed { kind, message })
            }
            "cancelled" | "canceled" => Ok(UpstreamState::Cancelled),
            "expired" => Ok(UpstreamState::Expired),
            other if looks_in_progress(other) => Ok(UpstreamState::Running),
            other => Err(malformed(&format!("unknown task status `{other}`"))),
        }
    }

    fn probe_create(&self, model_id: &str) -> HttpCall {
        // Durations start at 2 s on every Ark model, so 0 is refused before anything is made.
        let body = CreateTaskRequest {
            model: Some(model_id.to_string()),
            content: Some(vec![ContentItem::text("seedgate providers check")]),
            duration: Some(0),
            watermark: Some(false),
            ..Default::default()
        };
        // Not an `Err` here: a body that cannot be written probes with an empty one, which
        // Ark refuses just as well (no model), and nothing is made.
        HttpCall::post(TASKS, to_body(&body).unwrap_or_default())
    }

    fn cancel(&self, job_id: &str, _model_id: &str) -> Option<HttpCall> {
        Some(HttpCall::delete(task_path(job_id)))
    }

    fn fault(&self, body: &Value) -> UpstreamFault {
        if !body.is_object() {
            return UpstreamFault::default();
        }
        let answer = ErrorAnswer::read(body);
        let (code, message) = (answer.code(), answer.message());
        let kind = code.as_deref().and_then(failure_kind).filter(|k| {
            matches!(
                k,
                FailureKind::Moderation | FailureKind::InvalidInput | FailureKind::RateLimited
            )
        });
        // The HTTP status decides, except where the code says more: a model not open to the
        // account (status undocumented) is a 404 for `providers check`; seedgate's "same
        // Idempotency-Key still in flight" (409) is worth retrying.
        let status = match code.as_deref() {
            Some("ModelNotOpen" | "InvalidEndpoint.ClosedEndpoint") => Some(404),
            Some("IdempotencyKeyInUse") => Some(503),
            _ => None,
        };
        UpstreamFault {
            code,
            message,
            kind,
            status,
        }
    }

    fn callback_job_id(&self, body: &Value) -> Option<String> {
        // The callback body is the GET task object; accept a `data`-wrapped one too.
        id_of(body).or_else(|| {
            Wrapped::deserialize(body)
                .ok()
                .map(|w| w.data.id)
                .filter(|id| !id.is_empty())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_core::{Catalog, GenerationRequest, RequestDraft};
    use serde_json::json;

    const MODEL_ID: &str = "dreamina-seedance-2-0-mini-260615";

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

    fn body_of(req: &GenerationRequest, callback_url: Option<&str>) -> Value {
        let call = Ark
            .create(&CreateContext {
                request: req,
                model_id: MODEL_ID,
                callback_url,
            })
            .expect("expressible");
        assert_eq!(call.method, reqwest::Method::POST);
        assert_eq!(call.path, "/api/v3/contents/generations/tasks");
        assert!(call.query.is_empty());
        call.body.expect("a body")
    }

    #[test]
    fn t2v_body() {
        let req = request(RequestDraft {
            prompt: Some("a fox in the snow".into()),
            resolution: Some("480p".into()),
            aspect_ratio: Some("9:16".into()),
            duration: Some(6),
            generate_audio: Some(false),
            seed: Some(42),
            ..Default::default()
        });
        let body = body_of(&req, None);
        assert_eq!(
            body,
            json!({
                "model": MODEL_ID,
                "content": [{"type": "text", "text": "a fox in the snow"}],
                "resolution": "480p",
                "ratio": "9:16",
                "duration": 6,
                "generate_audio": false,
                "return_last_frame": false,
                "watermark": false,
                "seed": 42,
            })
        );
    }

    #[test]
    fn i2v_body_with_callback_last_frame_and_web_search() {
        let req = request(RequestDraft {
            prompt: Some("she turns around".into()),
            first_frame_url: Some("https://e.com/first.png".into()),
            last_frame_url: Some("https://e.com/last.png".into()),
            resolution: Some("720p".into()),
            aspect_ratio: Some("adaptive".into()),
            duration: Some(5),
            generate_audio: Some(true),
            return_last_frame: Some(true),
            web_search: Some(true),
            ..Default::default()
        });
        let body = body_of(&req, Some("https://gw.example/cb/task_1?sig=abc"));
        assert_eq!(
            body["content"],
            json!([
                {"type": "text", "text": "she turns around"},
                {"type": "image_url", "image_url": {"url": "https://e.com/first.png"}, "role": "first_frame"},
                {"type": "image_url", "image_url": {"url": "https://e.com/last.png"}, "role": "last_frame"},
            ])
        );
        assert_eq!(body["callback_url"], "https://gw.example/cb/task_1?sig=abc");
        assert_eq!(body["return_last_frame"], true);
        assert_eq!(body["generate_audio"], true);
        assert_eq!(body["resolution"], "720p");
        assert_eq!(body["ratio"], "adaptive");
        assert_eq!(body["duration"], 5);
        assert_eq!(body["watermark"], false);
        assert_eq!(body["tools"], json!([{"type": "web_search"}]));
        // No seed asked for: Ark picks one.
        assert!(body.get("seed").is_none());
    }

    #[test]
    fn r2v_body_with_images_videos_and_audio() {
        let req = request(RequestDraft {
            prompt: Some("[Image 1] walks down [Video 1] to [Audio 1]".into()),
            reference_image_urls: Some(vec![
                "https://e.com/a.png".into(),
                "https://e.com/b.png".into(),
            ]),
            reference_video_urls: Some(vec!["https://e.com/v.mp4".into()]),
            reference_audio_urls: Some(vec!["https://e.com/s.mp3".into()]),
            ..Default::default()
        });
        let body = body_of(&req, None);
        assert_eq!(
            body["content"],
            json!([
                {"type": "text", "text": "[Image 1] walks down [Video 1] to [Audio 1]"},
                {"type": "image_url", "image_url": {"url": "https://e.com/a.png"}, "role": "reference_image"},
                {"type": "image_url", "image_url": {"url": "https://e.com/b.png"}, "role": "reference_image"},
                {"type": "video_url", "video_url": {"url": "https://e.com/v.mp4"}, "role": "reference_video"},
                {"type": "audio_url", "audio_url": {"url": "https://e.com/s.mp3"}, "role": "reference_audio"},
            ])
        );
        assert!(body.get("callback_url").is_none());
        assert!(body.get("tools").is_none());
        assert_eq!(body["model"], MODEL_ID);
        assert_eq!(body["resolution"], req.resolution.as_str());
        assert_eq!(body["ratio"], req.aspect_ratio.as_str());
        assert_eq!(body["duration"], req.duration_seconds);
    }

    #[test]
    fn frames_with_references_cannot_be_expressed() {
        let mut req = request(RequestDraft {
            prompt: Some("x".into()),
            first_frame_url: Some("https://e.com/first.png".into()),
            ..Default::default()
        });
        req.reference_image_urls = request(RequestDraft {
            reference_image_urls: Some(vec!["https://e.com/a.png".into()]),
            ..Default::default()
        })
        .reference_image_urls;
        let refusal = Ark.inexpressible(&req).expect("refused");
        assert_eq!(refusal.field, "reference_image_urls");
        req.first_frame_url = None;
        assert_eq!(Ark.inexpressible(&req), None);
    }

    #[test]
    fn created_reads_the_id() {
        assert_eq!(
            Ark.created(&json!({"id": "cgt-20250629201507-n6k56"})),
            Ok("cgt-20250629201507-n6k56".to_string())
        );
        // An error envelope under 200 is classified by its code.
        let f = Ark
            .created(&json!({"error": {"code": "RateLimitExceeded.EndpointRPMExceeded", "message": "slow down"}}))
            .expect_err("fault");
        assert_eq!(f.status, Some(429));
        assert_eq!(
            f.code.as_deref(),
            Some("RateLimitExceeded.EndpointRPMExceeded")
        );
        let f = Ark
            .created(
                &json!({"error": {"code": "InputTextSensitiveContentDetected", "message": "no"}}),
            )
            .expect_err("fault");
        assert_eq!(
            (f.status, f.kind),
            (Some(400), Some(FailureKind::Moderation))
        );
        // No id and no error: permanent (status left to the 2xx), never resubmitted blindly.
        let f = Ark.created(&json!({})).expect_err("fault");
        assert_eq!(f.status, None);
        assert_eq!(f.kind, Some(FailureKind::UpstreamError));
        assert!(Ark.created(&Value::Null).is_err());
    }

    #[test]
    fn status_and_cancel_calls() {
        let call = Ark.status("cgt-20260828062711-hj94q", MODEL_ID);
        assert_eq!(call.method, reqwest::Method::GET);
        assert_eq!(
            call.path,
            "/api/v3/contents/generations/tasks/cgt-20260828062711-hj94q"
        );
        assert!(call.body.is_none());
        let call = Ark.cancel("task_01J", MODEL_ID).expect("Ark can cancel");
        assert_eq!(call.method, reqwest::Method::DELETE);
        assert_eq!(call.path, "/api/v3/contents/generations/tasks/task_01J");
        // An id cannot escape its path segment.
        assert_eq!(
            Ark.status("../x?y", MODEL_ID).path,
            "/api/v3/contents/generations/tasks/..%2Fx%3Fy"
        );
    }

    #[test]
    fn probe_sends_a_zero_duration() {
        let call = Ark.probe_create(MODEL_ID);
        assert_eq!(call.method, reqwest::Method::POST);
        assert_eq!(call.path, "/api/v3/contents/generations/tasks");
        let body = call.body.expect("body");
        assert_eq!(body["model"], MODEL_ID);
        assert_eq!(body["duration"], 0);
        assert_eq!(body["content"][0]["type"], "text");
    }

    /// The vercel/ai fixture of §1.7.
    #[test]
    fn succeeded_task() {
        let body = json!({
            "id": "cgt-20260828062711-hj94q",
            "model": "seedance-1-0-pro-250528",
            "status": "succeeded",
            "content": {
                "video_url": "https://ark-content-generation-ap-southeast-1.tos-ap-southeast-1.volces.com/x/recorded-video.mp4",
                "last_frame_url": "https://x/recorded-video_last-frame.png"
            },
            "usage": {"completion_tokens": 19845, "total_tokens": 19845},
            "created_at": 1787869631, "updated_at": 1787869648,
            "seed": 17918, "resolution": "480p", "ratio": "16:9", "duration": 2,
            "framespersecond": 24, "service_tier": "default",
            "execution_expires_after": 172800, "draft": false, "priority": 0, "output_format": "mp4"
        });
        assert_eq!(
            Ark.state(&body),
            Ok(UpstreamState::Succeeded {
                video_url: "https://ark-content-generation-ap-southeast-1.tos-ap-southeast-1.volces.com/x/recorded-video.mp4".into(),
                last_frame_url: Some("https://x/recorded-video_last-frame.png".into()),
            })
        );
        assert_eq!(
            Ark.callback_job_id(&body).as_deref(),
            Some("cgt-20260828062711-hj94q")
        );
        // Without return_last_frame there is no last frame; seedgate also sends `error: null`.
        let body = json!({"id": "task_1", "status": "succeeded", "error": null,
            "content": {"video_url": "https://gw/v.mp4"}});
        assert_eq!(
            Ark.state(&body),
            Ok(UpstreamState::Succeeded {
                video_url: "https://gw/v.mp4".into(),
                last_frame_url: None,
            })
        );
        // Succeeded without a video: a transient fault, polled again.
        let f = Ark
            .state(&json!({"id": "t", "status": "succeeded"}))
            .expect_err("fault");
        assert_eq!(f.status, Some(502));
    }

    #[test]
    fn pending_and_terminal_statuses() {
        let state = |s: &str| Ark.state(&json!({"id": "cgt-1", "status": s, "error": null}));
        assert_eq!(state("queued"), Ok(UpstreamState::Queued));
        assert_eq!(state("running"), Ok(UpstreamState::Running));
        assert_eq!(state("cancelled"), Ok(UpstreamState::Cancelled));
        assert_eq!(state("canceled"), Ok(UpstreamState::Cancelled));
        assert_eq!(state("expired"), Ok(UpstreamState::Expired));
        assert_eq!(state(" Queued "), Ok(UpstreamState::Queued));
        // Unknown but plausibly in progress.
        assert_eq!(state("in_progress"), Ok(UpstreamState::Running));
        assert_eq!(state("pending"), Ok(UpstreamState::Running));
        // Unknown otherwise: a transient fault, not Running forever.
        let f = state("deleted").expect_err("fault");
        assert_eq!(f.status, Some(502));
        assert!(f.message.as_deref().is_some_and(|m| m.contains("deleted")));
        // No status at all.
        assert_eq!(
            Ark.state(&json!({})).err().and_then(|f| f.status),
            Some(502)
        );
        // seedgate's expired task: status `expired`, error `TaskExpired`.
        assert_eq!(
            Ark.state(&json!({"status": "expired",
                "error": {"code": "TaskExpired", "message": "the task expired"}})),
            Ok(UpstreamState::Expired)
        );
    }

    #[test]
    fn failed_task_kinds() {
        let failed = |code: &str, message: &str| {
            Ark.state(&json!({"id": "cgt-1", "status": "failed",
                "error": {"code": code, "message": message}}))
        };
        for code in [
            "SensitiveContentDetected",
            "SensitiveContentDetected.SevereViolation",
            "SensitiveContentDetected.Violence",
            "InputTextSensitiveContentDetected",
            "InputImageSensitiveContentDetected.PrivacyInformation",
            "InputImageSensitiveContentDetected.PolicyViolation",
            "InputVideoSensitiveContentDetected.PrivacyInformation",
            "OutputVideoSensitiveContentDetected",
            "InputTextRiskDetection",
            "InputImageRiskDetection",
            "OutputTextRiskDetection",
            "OutputImageRiskDetection",
            "ContentSecurityDetectionError",
        ] {
            assert_eq!(
                failed(code, "refused"),
                Ok(UpstreamState::Failed {
                    kind: FailureKind::Moderation,
                    message: "refused".into()
                }),
                "{code}"
            );
        }
        for code in [
            "InvalidParameter",
            "InvalidParameter.TaskTypeConstraint",
            "MissingParameter",
        ] {
            assert_eq!(
                failed(code, "The parameter `content[1].video_url` is not valid"),
                Ok(UpstreamState::Failed {
                    kind: FailureKind::InvalidInput,
                    message: "The parameter `content[1].video_url` is not valid".into()
                }),
                "{code}"
            );
        }
        // seedgate's codes round-trip to the kinds it encoded.
        let kind = |code: &str| match failed(code, "m") {
            Ok(UpstreamState::Failed { kind, .. }) => Some(kind),
            _ => None,
        };
        assert_eq!(kind("ServerOverloaded"), Some(FailureKind::RateLimited));
        assert_eq!(kind("ExecutionTimeout"), Some(FailureKind::Timeout));
        assert_eq!(
            kind("InternalServiceError"),
            Some(FailureKind::UpstreamError)
        );
        assert_eq!(kind("SomethingNew"), Some(FailureKind::UpstreamError));
        // No error object: still terminal.
        assert_eq!(
            Ark.state(&json!({"status": "failed", "error": null})),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "the upstream task failed".into()
            })
        );
        // A code without a message becomes the message.
        assert_eq!(
            Ark.state(&json!({"status": "failed", "error": {"code": "InternalServiceError"}})),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "InternalServiceError".into()
            })
        );
    }

    #[test]
    fn faults_from_error_bodies() {
        let f = Ark.fault(&json!({"error": {
            "code": "InvalidParameter",
            "message": "The parameter `duration` specified in the request is not valid. Request ID: 0217",
            "param": "duration", "type": "BadRequest"}}));
        assert_eq!(f.code.as_deref(), Some("InvalidParameter"));
        assert!(f
            .message
            .as_deref()
            .is_some_and(|m| m.contains("`duration`")));
        assert_eq!(f.kind, Some(FailureKind::InvalidInput));
        assert_eq!(f.status, None);

        let f = Ark.fault(&json!({"error": {"code": "MissingParameter", "message": "m"}}));
        assert_eq!(f.kind, Some(FailureKind::InvalidInput));

        for code in [
            "SensitiveContentDetected.Violence",
            "InputImageSensitiveContentDetected.PrivacyInformation",
            "InputVideoSensitiveContentDetected.PrivacyInformation",
            "InputTextRiskDetection",
            "OutputImageRiskDetection",
            "ContentSecurityDetectionError",
        ] {
            let f = Ark.fault(&json!({"error": {"code": code, "message": "m"}}));
            assert_eq!(f.kind, Some(FailureKind::Moderation), "{code}");
            assert_eq!(f.code.as_deref(), Some(code));
        }

        let f = Ark
            .fault(&json!({"error": {"code": "ModelAccountRpmRateLimitExceeded", "message": "m"}}));
        assert_eq!(f.kind, Some(FailureKind::RateLimited));

        // The status is the HTTP one, except where the code says more.
        let f = Ark.fault(&json!({"error": {"code": "AuthenticationError", "message": "bad key"}}));
        assert_eq!((f.kind, f.status), (None, None));
        let f = Ark.fault(&json!({"error": {"code": "ModelNotOpen",
            "message": "Your account has not activated the model"}}));
        assert_eq!(f.status, Some(404));
        let f = Ark.fault(&json!({"error": {"code": "IdempotencyKeyInUse", "message": "m"}}));
        assert_eq!(f.status, Some(503));

        // Top-level shapes and non-JSON bodies.
        let f = Ark.fault(&json!({"code": "InvalidParameter", "message": "top"}));
        assert_eq!(f.code.as_deref(), Some("InvalidParameter"));
        assert_eq!(f.message.as_deref(), Some("top"));
        let f = Ark.fault(&json!({"error": "service exploded"}));
        assert_eq!(f.message.as_deref(), Some("service exploded"));
        assert_eq!(f.code, None);
        assert_eq!(Ark.fault(&Value::Null), UpstreamFault::default());
        assert_eq!(Ark.fault(&json!("text")), UpstreamFault::default());
    }

    #[test]
    fn error_envelope_under_200_on_poll() {
        let f = Ark
            .state(&json!({"error": {"code": "NotFound.TaskId", "message": "gone"}}))
            .expect_err("fault");
        assert_eq!(f.status, Some(404));
        assert_eq!(f.code.as_deref(), Some("NotFound.TaskId"));
    }

    #[test]
    fn callback_ids() {
        assert_eq!(
            Ark.callback_job_id(&json!({"id": "cgt-1", "status": "running"}))
                .as_deref(),
            Some("cgt-1")
        );
        assert_eq!(
            Ark.callback_job_id(&json!({"data": {"id": "cgt-2"}}))
                .as_deref(),
            Some("cgt-2")
        );
        assert_eq!(Ark.callback_job_id(&json!({"status": "queued"})), None);
        assert_eq!(Ark.callback_job_id(&json!({"id": ""})), None);
    }
}

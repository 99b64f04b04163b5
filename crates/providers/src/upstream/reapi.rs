//! reAPI (reapi.ai) as an upstream: `POST /api/v1/videos/generations` creates and answers the
//! task object, `GET /api/v1/tasks/{id}` reads it (HTTP 200 whenever the task exists; a task's
//! own failure is only in its `error.code`, 8xxxx). Errors:
//! `{"error":{"code":<5 digits>,"message","request_id"}}`, the first digit the category and the
//! HTTP status that category's.
//!
//! Two request shapes, chosen by the upstream model id (the upstream decides what it accepts):
//! - Mini (`seedance-2.0-mini` and its aliases, any id containing `mini`): the 12 documented
//!   fields, media as `first_frame_url`, `last_frame_url`, `reference_{image,video,audio}_urls`,
//!   ratio as `aspect_ratio`. It has no seed and no last-frame switch: both are dropped (the seed
//!   is a reproducibility hint; the last frame is optional in a provider's result).
//! - Every other model (2.0, 2.5 and their `-fast`/`-face` variants): the 2.0/2.5 shape, ratio
//!   as `size`, frames as `image_with_roles`, references as `image_urls`, `video_urls`,
//!   `audio_urls`, plus `seed`, `return_last_frame` and `tools: [{"type":"web_search"}]`. It has
//!   no documented NSFW switch: `nsfw_checker: false` is dropped, so the upstream's check stays on.
//!
//! reAPI has no callback: `callback_url` is ignored and jobs are polled. No cancel either.
//!
//! Statuses: `processing` → Running (reAPI does not tell queued from running), `completed` →
//! Succeeded (`output.video_urls[0]`, `output.last_frame_url`), `failed` → Failed by
//! `error.code`, see [`failure`]. An unrecognised status counts as Running only when its text
//! reads as in-progress (`queued`, `pending`, `running`, ...); any other is answered as a 502
//! fault, a transient poll error: polling goes on, loudly, until the status makes sense or the
//! task's deadline passes, rather than failing a task that may yet succeed or waiting on it
//! silently.

use super::wire::{bad_answer, path_segment};
use super::{as_text, CreateContext, HttpCall, UpstreamApi, UpstreamFault, UpstreamState};
use crate::ProviderError;
use seedgate_core::media::MediaUrl;
use seedgate_core::task::FailureKind;
use seedgate_core::{GenerationRequest, Mode};
use seedgate_wire::reapi::{
    ErrorEnvelope, ImageWithRole, SubmitRequest, TaskFailure, TaskObject, Tool,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub struct Reapi;

pub const CREATE_PATH: &str = "/api/v1/videos/generations";
pub const TASKS_PATH: &str = "/api/v1/tasks";

/// Whether the upstream model takes the Mini's 12-field shape (else the 2.0/2.5 shape).
fn mini_shape(model_id: &str) -> bool {
    model_id.to_ascii_lowercase().contains("mini")
}

/// A body as JSON. The wire types are plain structs of strings, numbers and lists, which
/// always serialize; `Null` is only the type system's due.
pub(super) fn to_body<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

pub(super) fn url(u: &Option<MediaUrl>) -> Option<String> {
    u.as_ref().map(|u| u.as_str().to_string())
}

/// A list of media URLs, `None` when empty: upstream, a list's presence selects the mode.
pub(super) fn url_list(list: &[MediaUrl]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.iter().map(|u| u.as_str().to_string()).collect())
}

fn mini_body(r: &GenerationRequest, model_id: &str) -> SubmitRequest {
    SubmitRequest {
        model: Some(model_id.into()),
        prompt: r.prompt.clone(),
        first_frame_url: url(&r.first_frame_url),
        last_frame_url: url(&r.last_frame_url),
        reference_image_urls: url_list(&r.reference_image_urls),
        reference_video_urls: url_list(&r.reference_video_urls),
        reference_audio_urls: url_list(&r.reference_audio_urls),
        generate_audio: Some(r.generate_audio),
        resolution: Some(r.resolution.as_str().into()),
        aspect_ratio: Some(r.aspect_ratio.as_str().into()),
        duration: Some(r.duration_seconds.into()),
        web_search: Some(r.web_search),
        nsfw_checker: Some(r.nsfw_checker),
        ..SubmitRequest::default()
    }
}

fn full_body(r: &GenerationRequest, model_id: &str) -> SubmitRequest {
    let roles: Vec<ImageWithRole> = [
        (&r.first_frame_url, "first_frame"),
        (&r.last_frame_url, "last_frame"),
    ]
    .into_iter()
    .filter_map(|(u, role)| {
        Some(ImageWithRole {
            url: url(u)?,
            role: role.into(),
        })
    })
    .collect();
    SubmitRequest {
        model: Some(model_id.into()),
        prompt: r.prompt.clone(),
        image_with_roles: (!roles.is_empty()).then_some(roles),
        image_urls: url_list(&r.reference_image_urls),
        video_urls: url_list(&r.reference_video_urls),
        audio_urls: url_list(&r.reference_audio_urls),
        generate_audio: Some(r.generate_audio),
        resolution: Some(r.resolution.as_str().into()),
        size: Some(r.aspect_ratio.as_str().into()),
        duration: Some(r.duration_seconds.into()),
        seed: r.seed.map(i64::from),
        // Sent only when asked for, as the switch's absence means off.
        return_last_frame: r.return_last_frame.then_some(true),
        tools: r.web_search.then(|| vec![Tool::web_search()]),
        ..SubmitRequest::default()
    }
}

/// Whether an upstream's failure code or message reads as a content-moderation refusal (reAPI,
/// HiAPI and Ark word these differently and most codes are undocumented).
pub(super) fn looks_like_moderation(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "moderat",
        "nsfw",
        "sensitive",
        "inappropriate",
        "policy",
        "unsafe",
        "safety",
        "flagged",
        "prohibited",
        "content reject",
        "content_reject",
        "rejected content",
        "content filter",
        "content_filter",
        "risk control",
        "copyright",
        "real person",
        "real-person",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// Whether a failure message reads as a problem with the request's input rather than the
/// upstream's.
pub(super) fn looks_like_input_error(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "invalid param",
        "invalid input",
        "invalid image",
        "invalid video",
        "invalid audio",
        "invalid_param",
        "invalid_input",
        "invalid_request",
        "unsupported",
        "not supported",
        "too large",
        "too long",
        "too short",
        "failed to download",
        "could not be fetched",
        "cannot be fetched",
        "could not be read",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// How an unrecognised status reads: `Some` when it plausibly means "not finished yet".
pub(super) fn in_progress(status: &str) -> Option<UpstreamState> {
    let s = status.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| s.contains(w));
    if any(&[
        "queue", "pend", "wait", "submit", "schedul", "creat", "accept",
    ]) {
        Some(UpstreamState::Queued)
    } else if any(&[
        "process", "running", "progress", "generat", "handl", "archiv", "start", "prepar",
        "render", "upload",
    ]) {
        Some(UpstreamState::Running)
    } else {
        None
    }
}

/// The HTTP status a reAPI error code stands for: its category's, with the exceptions the
/// catalogue (and seedgate's reAPI) lists. `20004` (model not supported) reads as 404 so that
/// `providers check` reports the model as unavailable rather than accepting the refusal as a
/// validation error.
fn code_status(code: u64) -> Option<u16> {
    Some(match code {
        10006 => 403,
        10000..=19999 => 401,
        20004 => 404,
        20008 => 409,
        20009 => 422,
        20010 => 413,
        20000..=29999 => 400,
        30001 => 402,
        30000..=39999 => 400,
        40005 => 405,
        40000..=49999 => 404,
        50000..=59999 => 429,
        60000..=69999 => 500,
        70000..=79999 => 503,
        80000..=89999 => 400,
        _ => return None,
    })
}

/// The task object, whether bare (reAPI) or wrapped in `data` (tolerated).
fn task_object(body: &Value) -> &Value {
    match body.get("data") {
        Some(data)
            if data.is_object() && body.get("status").is_none() && body.get("id").is_none() =>
        {
            data
        }
        _ => body,
    }
}

/// A body read as a task object. Its readers never fail on an object (a field of an odd type
/// reads as absent); anything that is not an object reads as an empty task, which has neither
/// id, status nor error.
fn read_task(body: &Value) -> TaskObject {
    if body.is_object() {
        TaskObject::deserialize(body).unwrap_or_default()
    } else {
        TaskObject::default()
    }
}

/// The task's id: `id`, else `task_id`.
fn job_id(task: TaskObject) -> Option<String> {
    Some(task.id).filter(|id| !id.is_empty()).or(task.task_id)
}

/// A failure's code, when it has one (the reader reads a missing or odd code as 0).
fn code_of(error: &TaskFailure) -> Option<u64> {
    (error.code != 0).then_some(u64::from(error.code))
}

/// A failed task's kind, from its `error.code` (8xxxx) and message. Only 80007 (content
/// rejection) is documented by reAPI; 80001–80006 and 80099 are seedgate's own reAPI codes,
/// read back as seedgate meant them. Moderation wording wins over any code.
fn failure(error: Option<TaskFailure>) -> UpstreamState {
    let code = error.as_ref().and_then(code_of);
    let message = error.map(|e| e.message).unwrap_or_default();
    if code == Some(80006) {
        return UpstreamState::Cancelled;
    }
    let kind = if code == Some(80007) || looks_like_moderation(&message) {
        FailureKind::Moderation
    } else {
        match code {
            Some(80002) | Some(20000..=29999) => FailureKind::InvalidInput,
            Some(80003) => FailureKind::RateLimited,
            Some(80004) => FailureKind::Timeout,
            Some(80005) => FailureKind::Expired,
            _ if looks_like_input_error(&message) => FailureKind::InvalidInput,
            _ => FailureKind::UpstreamError,
        }
    };
    let message = match (code, message.is_empty()) {
        (Some(c), false) => format!("{c}: {message}"),
        (Some(c), true) => format!("task failed with code {c}"),
        (None, false) => message,
        (None, true) => "task failed".to_string(),
    };
    UpstreamState::Failed { kind, message }
}

impl UpstreamApi for Reapi {
    fn create(&self, cx: &CreateContext<'_>) -> Result<HttpCall, ProviderError> {
        let r = cx.request;
        // The canonical request already guarantees the mode's media; the prompt is required
        // only without images, as on reAPI.
        if r.mode == Mode::T2v && r.prompt.is_none() {
            return Err(ProviderError::permanent(
                FailureKind::InvalidInput,
                "reAPI needs a prompt for text-to-video",
            ));
        }
        let body = if mini_shape(cx.model_id) {
            mini_body(r, cx.model_id)
        } else {
            full_body(r, cx.model_id)
        };
        Ok(HttpCall::post(CREATE_PATH, to_body(&body)))
    }

    fn created(&self, body: &Value) -> Result<String, UpstreamFault> {
        // An error envelope under 200 (a task object carries `"error": null`).
        if let Some(error) = read_task(body).error {
            let mut fault = self.fault(body);
            if fault.status.is_none() {
                fault.status = code_of(&error).and_then(code_status);
            }
            return Err(fault);
        }
        job_id(read_task(task_object(body))).ok_or_else(|| UpstreamFault {
            message: Some("the create answer carries no task id".into()),
            // Not a retryable answer: the task may exist upstream.
            kind: Some(FailureKind::UpstreamError),
            ..UpstreamFault::default()
        })
    }

    fn status(&self, job_id: &str, _model_id: &str) -> HttpCall {
        HttpCall::get(format!("{TASKS_PATH}/{}", path_segment(job_id)))
    }

    fn state(&self, body: &Value) -> Result<UpstreamState, UpstreamFault> {
        let value = task_object(body);
        let task = read_task(value);
        if task.status.is_empty() {
            // An error envelope under 200, or something else entirely.
            if let Some(error) = &task.error {
                let mut fault = self.fault(value);
                fault.status = code_of(error).and_then(code_status).or(Some(502));
                return Err(fault);
            }
            return Err(bad_answer("the task answer has no status"));
        }
        match task.status.trim().to_ascii_lowercase().as_str() {
            "processing" => Ok(UpstreamState::Running),
            "completed" | "succeeded" | "success" => {
                let output = task.output.unwrap_or_default();
                let last_frame_url = output.last_frame_url;
                match output.video_urls.into_iter().next().or(output.video_url) {
                    Some(video_url) => Ok(UpstreamState::Succeeded {
                        video_url,
                        last_frame_url,
                    }),
                    None => Ok(UpstreamState::Failed {
                        kind: FailureKind::UpstreamError,
                        message: "the task completed without a video URL".into(),
                    }),
                }
            }
            "failed" | "fail" | "error" => Ok(failure(task.error)),
            "cancelled" | "canceled" => Ok(UpstreamState::Cancelled),
            "expired" => Ok(UpstreamState::Expired),
            other => in_progress(other)
                .ok_or_else(|| bad_answer(format!("unknown task status `{}`", task.status))),
        }
    }

    fn probe_create(&self, model_id: &str) -> HttpCall {
        let probe = SubmitRequest {
            model: Some(model_id.into()),
            prompt: Some("seedgate access check".into()),
            // Refused by validation before anything is generated or charged.
            duration: Some(0),
            ..SubmitRequest::default()
        };
        HttpCall::post(CREATE_PATH, to_body(&probe))
    }

    fn fault(&self, body: &Value) -> UpstreamFault {
        fault_from(body)
    }

    /// reAPI sends no callbacks; a body naming a task object's `id` is still accepted (it only
    /// triggers a poll).
    fn callback_job_id(&self, body: &Value) -> Option<String> {
        job_id(read_task(task_object(body)))
    }
}

/// Code and message of an error answer: reAPI's envelope (`{"error":{"code","message"}}`, a
/// numeric code), read by its type; else any other common shape, as servers in front of reAPI
/// answer (`{"error":{"code":"Text",…}}`, `{"code","message"}`, `{"code","msg"}`,
/// `{"error":"text"}`), which no one type describes. The kind is set when the body says more
/// than the HTTP status: moderation (80007 or its wording), and an account's credit running out
/// (30001, not the request's fault). 20004 (model not supported) carries status 404, see
/// [`code_status`].
fn fault_from(body: &Value) -> UpstreamFault {
    if !body.is_object() {
        return UpstreamFault::default();
    }
    let (code, number, message) = match ErrorEnvelope::deserialize(body) {
        Ok(ErrorEnvelope { error }) if error.code != 0 && !error.message.is_empty() => (
            Some(error.code.to_string()),
            Some(u64::from(error.code)),
            Some(error.message),
        ),
        _ => other_error(body),
    };
    let moderation = number == Some(80007)
        || message.as_deref().is_some_and(looks_like_moderation)
        || code.as_deref().is_some_and(looks_like_moderation);
    let kind = if moderation {
        Some(FailureKind::Moderation)
    } else if number == Some(30001) {
        Some(FailureKind::UpstreamError)
    } else {
        None
    };
    UpstreamFault {
        code,
        message,
        kind,
        status: (number == Some(20004)).then_some(404),
    }
}

/// Code (as text and as a number) and message of an error shape that is not reAPI's own.
fn other_error(body: &Value) -> (Option<String>, Option<u64>, Option<String>) {
    let inner = body.get("error").filter(|e| e.is_object()).unwrap_or(body);
    let code_value = inner.get("code");
    let number = code_value.and_then(|value| match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let message = ["message", "msg", "detail"]
        .iter()
        .find_map(|k| inner.get(*k).and_then(Value::as_str))
        .or_else(|| body.get("error").and_then(Value::as_str))
        .map(str::to_string);
    (code_value.and_then(as_text), number, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_core::{Catalog, RequestDraft};
    use serde_json::json;

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

    fn body_for(r: &GenerationRequest, model_id: &str, callback: Option<&str>) -> Value {
        let call = Reapi
            .create(&CreateContext {
                request: r,
                model_id,
                callback_url: callback,
            })
            .expect("expressible");
        assert_eq!(call.method, reqwest::Method::POST);
        assert_eq!(call.path, "/api/v1/videos/generations");
        assert!(call.query.is_empty());
        call.body.expect("a body")
    }

    fn t2v() -> GenerationRequest {
        request(RequestDraft {
            prompt: Some("A kitten yawning at the camera".into()),
            resolution: Some("720p".into()),
            aspect_ratio: Some("16:9".into()),
            duration: Some(5),
            ..RequestDraft::default()
        })
    }

    fn i2v() -> GenerationRequest {
        request(RequestDraft {
            first_frame_url: Some("https://e.com/first.jpg".into()),
            last_frame_url: Some("https://e.com/last.jpg".into()),
            resolution: Some("480p".into()),
            aspect_ratio: Some("adaptive".into()),
            duration: Some(8),
            generate_audio: Some(true),
            ..RequestDraft::default()
        })
    }

    fn r2v() -> GenerationRequest {
        request(RequestDraft {
            prompt: Some("the woman walks through the plaza".into()),
            reference_image_urls: Some(vec![
                "https://e.com/a.jpg".into(),
                "https://e.com/b.jpg".into(),
            ]),
            reference_video_urls: Some(vec!["https://e.com/v.mp4".into()]),
            reference_audio_urls: Some(vec!["https://e.com/a.mp3".into()]),
            web_search: Some(true),
            nsfw_checker: Some(false),
            ..RequestDraft::default()
        })
    }

    #[test]
    fn mini_t2v_is_the_documented_quick_example_plus_the_defaults() {
        let body = body_for(&t2v(), "seedance-2.0-mini", None);
        assert_eq!(
            body,
            json!({"model": "seedance-2.0-mini", "prompt": "A kitten yawning at the camera",
                "resolution": "720p", "aspect_ratio": "16:9", "duration": 5,
                "generate_audio": false, "web_search": false, "nsfw_checker": true})
        );
    }

    #[test]
    fn mini_i2v_sends_both_frames_and_no_prompt() {
        let body = body_for(&i2v(), "seedance-2-0-mini", None);
        assert_eq!(
            body,
            json!({"model": "seedance-2-0-mini", "first_frame_url": "https://e.com/first.jpg",
                "last_frame_url": "https://e.com/last.jpg", "resolution": "480p",
                "aspect_ratio": "adaptive", "duration": 8, "generate_audio": true,
                "web_search": false, "nsfw_checker": true})
        );
    }

    #[test]
    fn mini_r2v_sends_every_reference_list() {
        let body = body_for(&r2v(), "seedance-2.0-mini", None);
        assert_eq!(
            body["reference_image_urls"],
            json!(["https://e.com/a.jpg", "https://e.com/b.jpg"])
        );
        assert_eq!(body["reference_video_urls"], json!(["https://e.com/v.mp4"]));
        assert_eq!(body["reference_audio_urls"], json!(["https://e.com/a.mp3"]));
        assert_eq!(body["web_search"], json!(true));
        assert_eq!(body["nsfw_checker"], json!(false));
        assert_eq!(body["prompt"], json!("the woman walks through the plaza"));
        for absent in [
            "first_frame_url",
            "last_frame_url",
            "image_urls",
            "size",
            "tools",
        ] {
            assert!(body.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn the_callback_url_is_ignored_and_mini_drops_seed_and_last_frame() {
        let mut r = t2v();
        r.seed = Some(42);
        r.return_last_frame = true;
        let with = body_for(&r, "seedance-2.0-mini", Some("https://gw.example/cb/abc"));
        let without = body_for(&r, "seedance-2.0-mini", None);
        assert_eq!(with, without);
        assert!(with.get("callback_url").is_none());
        assert!(with.get("seed").is_none());
        assert!(with.get("return_last_frame").is_none());
    }

    #[test]
    fn other_models_get_the_2_5_shape() {
        let mut r = i2v();
        r.model = "seedance-2.5".into();
        r.seed = Some(7);
        r.return_last_frame = true;
        r.web_search = true;
        let body = body_for(
            &r,
            "doubao-seedance-2.5-face",
            Some("https://gw.example/cb"),
        );
        assert_eq!(
            body,
            json!({"model": "doubao-seedance-2.5-face",
                "image_with_roles": [{"url": "https://e.com/first.jpg", "role": "first_frame"},
                                     {"url": "https://e.com/last.jpg", "role": "last_frame"}],
                "resolution": "480p", "size": "adaptive", "duration": 8, "generate_audio": true,
                "seed": 7, "return_last_frame": true, "tools": [{"type": "web_search"}]})
        );
        let mut r = r2v();
        r.model = "seedance-2.5".into();
        let body = body_for(&r, "seedance-2.5", None);
        assert_eq!(
            body["image_urls"],
            json!(["https://e.com/a.jpg", "https://e.com/b.jpg"])
        );
        assert_eq!(body["video_urls"], json!(["https://e.com/v.mp4"]));
        assert_eq!(body["audio_urls"], json!(["https://e.com/a.mp3"]));
        assert_eq!(body["size"], json!("16:9"));
        for absent in [
            "reference_image_urls",
            "aspect_ratio",
            "nsfw_checker",
            "web_search",
            "seed",
            "return_last_frame",
            "image_with_roles",
        ] {
            assert!(body.get(absent).is_none(), "{absent}");
        }
        assert_eq!(body["tools"], json!([{"type": "web_search"}]));
    }

    #[test]
    fn created_reads_the_task_object() {
        let body = json!({"id": "task_01k9s419324drezfbwnsvxyr6h", "model": "seedance-2.0-mini",
            "status": "processing", "created_at": 1762853430, "output": null, "error": null});
        assert_eq!(
            Reapi.created(&body),
            Ok("task_01k9s419324drezfbwnsvxyr6h".to_string())
        );
        let fault = Reapi
            .created(&json!({"status": "processing"}))
            .expect_err("no id");
        assert_eq!(fault.kind, Some(FailureKind::UpstreamError));
        assert_eq!(fault.status, None);
        let fault = Reapi
            .created(
                &json!({"error": {"code": 50001, "message": "Rate limit exceeded",
                "request_id": "req_1"}}),
            )
            .expect_err("error under 200");
        assert_eq!(fault.status, Some(429));
        assert_eq!(fault.code.as_deref(), Some("50001"));
    }

    #[test]
    fn status_is_the_universal_task_get() {
        let call = Reapi.status("task_01k9s419324drezfbwnsvxyr6h", "seedance-2.0-mini");
        assert_eq!(call.method, reqwest::Method::GET);
        assert_eq!(call.path, "/api/v1/tasks/task_01k9s419324drezfbwnsvxyr6h");
        assert!(call.body.is_none());
        assert_eq!(
            Reapi.status("a/../b c", "m").path,
            "/api/v1/tasks/a%2F..%2Fb%20c"
        );
        assert_eq!(Reapi.cancel("task_1", "m"), None);
    }

    #[test]
    fn documented_task_objects() {
        let processing = json!({"id": "task_1", "model": "seedance-2.0-mini",
            "status": "processing", "created_at": 1762853430, "output": null, "error": null});
        assert_eq!(Reapi.state(&processing), Ok(UpstreamState::Running));
        let completed = json!({"id": "task_01k9s419324drezfbwnsvxyr6h",
            "model": "doubao-seedance-2.0", "status": "completed", "created_at": 1762853430,
            "output": {"video_urls": ["https://cdn.reapi.ai/media/tasks/01k9/0.mp4"]},
            "error": null});
        assert_eq!(
            Reapi.state(&completed),
            Ok(UpstreamState::Succeeded {
                video_url: "https://cdn.reapi.ai/media/tasks/01k9/0.mp4".into(),
                last_frame_url: None
            })
        );
        let with_frame = json!({"id": "task_018f", "model": "seedance-2.5",
            "status": "completed", "created_at": 1735000000,
            "output": {"video_urls": ["https://cdn.reapi.ai/media/tasks/x/0.mp4"],
                       "last_frame_url": "https://cdn.reapi.ai/media/tasks/x/0.png"},
            "error": null});
        assert_eq!(
            Reapi.state(&with_frame),
            Ok(UpstreamState::Succeeded {
                video_url: "https://cdn.reapi.ai/media/tasks/x/0.mp4".into(),
                last_frame_url: Some("https://cdn.reapi.ai/media/tasks/x/0.png".into())
            })
        );
        let empty = json!({"id": "t", "status": "completed", "output": {"video_urls": []}});
        assert!(matches!(
            Reapi.state(&empty),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                ..
            })
        ));
    }

    #[test]
    fn failed_tasks_by_code_and_message() {
        let failed = |code: Value, message: &str| {
            Reapi
                .state(&json!({"id": "task_1", "status": "failed", "output": null,
                    "error": {"code": code, "message": message}}))
                .expect("a state")
        };
        assert_eq!(
            failed(json!(80007), "Upstream content rejection"),
            UpstreamState::Failed {
                kind: FailureKind::Moderation,
                message: "80007: Upstream content rejection".into()
            }
        );
        assert!(matches!(
            failed(json!(80001), "The input image was flagged as sensitive"),
            UpstreamState::Failed {
                kind: FailureKind::Moderation,
                ..
            }
        ));
        assert!(matches!(
            failed(json!("80002"), "reference_video_urls[0]: unreadable"),
            UpstreamState::Failed {
                kind: FailureKind::InvalidInput,
                ..
            }
        ));
        assert!(matches!(
            failed(json!(80004), "timed out"),
            UpstreamState::Failed {
                kind: FailureKind::Timeout,
                ..
            }
        ));
        assert!(matches!(
            failed(json!(80005), "expired upstream"),
            UpstreamState::Failed {
                kind: FailureKind::Expired,
                ..
            }
        ));
        assert_eq!(
            failed(json!(80006), "task was cancelled; credits refunded"),
            UpstreamState::Cancelled
        );
        assert_eq!(
            failed(json!(80099), "generation failed"),
            UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "80099: generation failed".into()
            }
        );
        assert_eq!(
            Reapi.state(&json!({"id": "t", "status": "failed", "error": null})),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "task failed".into()
            })
        );
    }

    #[test]
    fn unknown_statuses_are_running_only_when_they_read_as_in_progress() {
        let with = |s: &str| Reapi.state(&json!({"id": "t", "status": s}));
        assert_eq!(with("queued"), Ok(UpstreamState::Queued));
        assert_eq!(with("pending"), Ok(UpstreamState::Queued));
        assert_eq!(with("running"), Ok(UpstreamState::Running));
        assert_eq!(with("in_progress"), Ok(UpstreamState::Running));
        assert_eq!(with("cancelled"), Ok(UpstreamState::Cancelled));
        assert_eq!(with("expired"), Ok(UpstreamState::Expired));
        let fault = with("weird").expect_err("unknown");
        assert_eq!(fault.status, Some(502));
        assert!(fault.message.unwrap_or_default().contains("weird"));
        let fault = Reapi.state(&json!({"id": "t"})).expect_err("no status");
        assert_eq!(fault.status, Some(502));
        let fault = Reapi
            .state(&json!({"error": {"code": 40001, "message": "Task not found"}}))
            .expect_err("error envelope");
        assert_eq!(fault.status, Some(404));
    }

    #[test]
    fn probe_asks_for_zero_seconds() {
        let call = Reapi.probe_create("seedance-2.0-mini");
        assert_eq!(call.method, reqwest::Method::POST);
        assert_eq!(call.path, "/api/v1/videos/generations");
        let body = call.body.expect("body");
        assert_eq!(body["duration"], json!(0));
        assert_eq!(body["model"], json!("seedance-2.0-mini"));
    }

    #[test]
    fn faults_from_the_error_catalogue() {
        let fault = Reapi.fault(&json!({"error": {"code": 20002,
            "message": "Missing required parameter", "request_id": "req_1"}}));
        assert_eq!(
            fault,
            UpstreamFault {
                code: Some("20002".into()),
                message: Some("Missing required parameter".into()),
                kind: None,
                status: None
            }
        );
        let fault = Reapi.fault(&json!({"error": {"code": 80007,
            "message": "Upstream content rejection", "request_id": "req_2"}}));
        assert_eq!(fault.kind, Some(FailureKind::Moderation));
        let fault = Reapi.fault(&json!({"error": {"code": 20004,
            "message": "model not supported on this endpoint"}}));
        assert_eq!(fault.status, Some(404));
        let fault =
            Reapi.fault(&json!({"error": {"code": 30001, "message": "Insufficient credits"}}));
        assert_eq!(fault.kind, Some(FailureKind::UpstreamError));
        let fault = Reapi.fault(&json!({"code": 400, "msg": "bad"}));
        assert_eq!(
            (fault.code.as_deref(), fault.message.as_deref()),
            (Some("400"), Some("bad"))
        );
        assert_eq!(
            Reapi.fault(&json!({"error": "oops"})).message.as_deref(),
            Some("oops")
        );
        assert_eq!(Reapi.fault(&Value::Null), UpstreamFault::default());
    }

    #[test]
    fn callback_bodies_name_the_task() {
        assert_eq!(
            Reapi.callback_job_id(&json!({"id": "task_9", "status": "completed"})),
            Some("task_9".into())
        );
        assert_eq!(
            Reapi.callback_job_id(&json!({"data": {"id": "task_9"}})),
            Some("task_9".into())
        );
        assert_eq!(Reapi.callback_job_id(&json!({"status": "completed"})), None);
    }
}

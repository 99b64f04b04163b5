//! The APIXO upstream dialect (apixo.ai; contract §3.3): `POST /api/v1/generateTask/{model}`,
//! `GET /api/v1/statusTask/{model}?taskId=`. Bearer auth; every answer is `{code, message,
//! data}` with an HTTP-like `code`.
//!
//! The request names its mode: t2v → `text-to-video`, i2v → `first_and_last_frames` (1.5 pro:
//! `image-to-video`) with the frames in `image_urls`, r2v → `omni_reference` with
//! `image_urls`/`video_urls`/`audio_urls`. APIXO has no seed, no last-frame output and no
//! per-request NSFW switch; like the other upstream dialects, these are dropped: the seed is a
//! reproducibility hint, a provider's last frame is optional, and APIXO's own moderation stays
//! on. A request without a prompt is refused (APIXO requires one in every mode).
//!
//! States:
//!
//! | APIXO `state` | [`UpstreamState`] |
//! |---|---|
//! | `pending` | Queued |
//! | `processing` | Running |
//! | `success` | Succeeded (`resultJson` → `resultUrls[0]`) |
//! | `failed` | Failed (kind from `failCode`/`failMsg`, see [`fail_kind`]); `failCode: Cancelled` (seedgate serving APIXO) → Cancelled |
//! | anything else | a common synonym (see [`guess_phase`]); otherwise a 502-like fault, never Running |
//!
//! The helpers marked `pub(super)` are shared with the Kie and CRUN dialects, which use the same
//! `resultJson` shape and the same vocabulary of failure codes.

use super::wire::{
    bad_answer, check_envelope, frames_exclude_references, http_like, missing_task_id,
    path_segment, prompt_required,
};
use super::{as_text, CreateContext, HttpCall, UpstreamApi, UpstreamFault, UpstreamState};
use crate::ProviderError;
use seedgate_core::media::MediaUrl;
use seedgate_core::task::FailureKind;
use seedgate_core::{AspectRatio, GenerationRequest, Inexpressible, Mode};
use seedgate_wire::apixo::{
    GenerateInput, GenerateTaskRequest, GenerateTaskResponse, MediaItem, StatusTaskResponse,
};
use serde::Deserialize;
use serde_json::Value;

pub struct Apixo;

impl UpstreamApi for Apixo {
    fn inexpressible(&self, r: &GenerationRequest) -> Option<Inexpressible> {
        // APIXO requires a non-empty prompt in every mode; asking would only earn a 400.
        prompt_required("APIXO", r).or_else(|| frames_exclude_references("APIXO", r))
    }

    fn create(&self, cx: &CreateContext<'_>) -> Result<HttpCall, ProviderError> {
        let r = cx.request;
        let items = |list: &[MediaUrl]| -> Vec<MediaItem> {
            list.iter()
                .map(|u| MediaItem(u.as_str().to_string()))
                .collect()
        };
        // Only the reference lists in use are sent.
        let some = |list: &[MediaUrl]| (!list.is_empty()).then(|| items(list));
        let (mode, image_urls, video_urls, audio_urls) = match r.mode {
            Mode::T2v => ("text-to-video", None, None, None),
            Mode::I2v => {
                let frames = r
                    .first_frame_url
                    .iter()
                    .chain(&r.last_frame_url)
                    .map(|u| MediaItem(u.as_str().to_string()))
                    .collect();
                // Seedance 1.5 pro on APIXO names its image mode differently.
                let mode = if cx.model_id.starts_with("seedance-1-5") {
                    "image-to-video"
                } else {
                    "first_and_last_frames"
                };
                (mode, Some(frames), None, None)
            }
            Mode::R2v => (
                "omni_reference",
                some(&r.reference_image_urls),
                some(&r.reference_video_urls),
                some(&r.reference_audio_urls),
            ),
        };
        let input = GenerateInput {
            mode: Some(mode.into()),
            prompt: Some(r.prompt.clone().unwrap_or_default()),
            resolution: Some(r.resolution.as_str().into()),
            duration: Some(r.duration_seconds.into()),
            aspect_ratio: Some(
                match r.aspect_ratio {
                    AspectRatio::Adaptive => "auto",
                    other => other.as_str(),
                }
                .into(),
            ),
            sound: Some(r.generate_audio),
            web_search: Some(r.web_search),
            image_urls,
            video_urls,
            audio_urls,
            fixed_lens: None,
        };
        let body = GenerateTaskRequest {
            // APIXO calls back only in callback mode.
            request_type: Some(
                if cx.callback_url.is_some() {
                    "callback"
                } else {
                    "async"
                }
                .into(),
            ),
            callback_url: cx.callback_url.map(String::from),
            provider: None,
            input: Some(input),
        };
        let json = serde_json::to_value(&body)
            .map_err(|e| ProviderError::permanent(FailureKind::Internal, e.to_string()))?;
        Ok(HttpCall::post(
            format!("/api/v1/generateTask/{}", path_segment(cx.model_id)),
            json,
        ))
    }

    fn created(&self, body: &Value) -> Result<String, UpstreamFault> {
        check_envelope(body, self.fault(body), http_like)?;
        // No readable `data` or an empty id: the task may exist all the same (ambiguous).
        GenerateTaskResponse::deserialize(body)
            .ok()
            .map(|answer| answer.data.task_id)
            .filter(|id| !id.is_empty())
            .ok_or_else(missing_task_id)
    }

    fn status(&self, job_id: &str, model_id: &str) -> HttpCall {
        HttpCall::get(format!("/api/v1/statusTask/{}", path_segment(model_id)))
            .query("taskId", job_id)
    }

    fn state(&self, body: &Value) -> Result<UpstreamState, UpstreamFault> {
        check_envelope(body, self.fault(body), http_like)?;
        // Every field of `data` reads leniently; only a missing or non-object `data` fails.
        let data = StatusTaskResponse::deserialize(body)
            .map_err(|_| missing("data"))?
            .data;
        let state = data.state.trim();
        let phase = phase_of(
            state,
            "state",
            &[
                ("pending", Phase::Queued),
                ("processing", Phase::Running),
                ("success", Phase::Succeeded),
                ("failed", Phase::Failed),
            ],
        )?;
        Ok(match phase {
            Phase::Queued => UpstreamState::Queued,
            Phase::Running => UpstreamState::Running,
            Phase::Succeeded => result_json_state(data.result_json.map(Value::String).as_ref()),
            Phase::Cancelled => UpstreamState::Cancelled,
            Phase::Expired => UpstreamState::Expired,
            Phase::Failed => {
                let code = data.fail_code.as_deref();
                let message = data.fail_msg.as_deref();
                // seedgate serving APIXO reports a task cancelled elsewhere this way.
                if code == Some("Cancelled") {
                    UpstreamState::Cancelled
                } else {
                    UpstreamState::Failed {
                        kind: fail_kind(code, message),
                        message: join(code, message, state),
                    }
                }
            }
        })
    }

    fn probe_create(&self, model_id: &str) -> HttpCall {
        let body = GenerateTaskRequest {
            request_type: Some("async".into()),
            input: Some(GenerateInput {
                mode: Some("text-to-video".into()),
                prompt: Some("seedgate probe".into()),
                duration: Some(0),
                ..GenerateInput::default()
            }),
            ..GenerateTaskRequest::default()
        };
        HttpCall::post(
            format!("/api/v1/generateTask/{}", path_segment(model_id)),
            // Strings and integers only: serializing cannot fail.
            serde_json::to_value(&body).unwrap_or(Value::Null),
        )
    }

    /// `{"code":400,"message":"Invalid request","data":{"error":"Missing required field: …"}}`;
    /// also reads `msg` and Ark-style `{"error":{code,message}}` bodies a proxy might answer.
    fn fault(&self, body: &Value) -> UpstreamFault {
        envelope_fault(body)
    }

    fn callback_job_id(&self, body: &Value) -> Option<String> {
        task_id_of(body, &["taskId", "task_id"])
    }
}

/// Phases a dialect's state vocabulary maps onto before the result is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Expired,
}

/// Guesses the phase of a state word the contract does not list, from a fixed list of common
/// synonyms (case, `_`, `-` and spaces ignored). Anything else is `None`, so the caller reports
/// it instead of polling a task that might be finished forever.
pub(super) fn guess_phase(state: &str) -> Option<Phase> {
    match squash(state).as_str() {
        "queued" | "queue" | "queuing" | "queueing" | "inqueue" | "waiting" | "pending"
        | "submitted" | "scheduled" | "created" | "accepted" | "notstarted" => Some(Phase::Queued),
        "running" | "processing" | "generating" | "inprogress" | "handling" | "rendering"
        | "archiving" | "started" => Some(Phase::Running),
        "success" | "succeeded" | "successful" | "completed" | "complete" | "done" | "finished" => {
            Some(Phase::Succeeded)
        }
        "failed" | "fail" | "failure" | "error" | "errored" | "rejected" => Some(Phase::Failed),
        "cancelled" | "canceled" => Some(Phase::Cancelled),
        "expired" => Some(Phase::Expired),
        _ => None,
    }
}

/// The fault for a state word nobody can place: a bad gateway, so the poll is retried later
/// rather than the task being failed or kept running blindly.
pub(super) fn unknown_state(state: &str) -> UpstreamFault {
    UpstreamFault {
        code: Some(state.to_string()),
        message: Some(format!("unrecognised task state `{state}`")),
        kind: None,
        status: Some(502),
    }
}

/// A success answer that lacks something it must carry.
pub(super) fn missing(what: &str) -> UpstreamFault {
    bad_answer(format!("the answer carries no {what}"))
}

/// The task id a create answer's `data` object carries under the first of `keys` present.
pub(super) fn created_task_id(body: &Value, keys: &[&str]) -> Result<String, UpstreamFault> {
    let data = body.get("data");
    keys.iter()
        .find_map(|k| data?.get(*k).and_then(as_text))
        .ok_or_else(missing_task_id)
}

/// A status answer's `data` object, its state word (under `field`) and that word's phase (see
/// [`phase_of`]).
pub(super) fn data_and_phase<'a>(
    body: &'a Value,
    field: &str,
    known: &[(&str, Phase)],
) -> Result<(&'a Value, &'a str, Phase), UpstreamFault> {
    let data = body
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| missing("data"))?;
    let word = data
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default();
    Ok((data, word, phase_of(word, field, known)?))
}

/// The phase of a state word (read under `field`, trimmed): the dialect's own words in `known`
/// first, then common synonyms ([`guess_phase`]); no word is a bad answer, any other word an
/// [`unknown_state`] fault.
pub(super) fn phase_of(
    word: &str,
    field: &str,
    known: &[(&str, Phase)],
) -> Result<Phase, UpstreamFault> {
    if word.is_empty() {
        return Err(missing(&format!("a {field}")));
    }
    known
        .iter()
        .find_map(|(known, phase)| (*known == word).then_some(*phase))
        .or_else(|| guess_phase(word))
        .ok_or_else(|| unknown_state(word))
}

/// Code and message of an error body, whatever the envelope: `{code, message|msg, data:
/// {error}}`, `{error:{code, message}}`, or a bare `{message}`. `Null` (not JSON) gives nothing.
pub(super) fn envelope_fault(body: &Value) -> UpstreamFault {
    let nested = body.get("error").filter(|e| e.is_object());
    let code = nested
        .and_then(|e| e.get("code"))
        .or_else(|| body.get("code"))
        .and_then(as_text);
    let detail = body
        .pointer("/data/error")
        .and_then(as_text)
        .or_else(|| body.get("error").and_then(Value::as_str).map(String::from));
    let headline = nested
        .and_then(|e| e.get("message"))
        .or_else(|| body.get("message"))
        .or_else(|| body.get("msg"))
        .and_then(as_text);
    let message = match (headline, detail) {
        (Some(h), Some(d)) if h != d => Some(format!("{h}: {d}")),
        (h, d) => h.or(d),
    };
    let out_of_credit = code.as_deref().map(str::trim) == Some("402");
    let kind = message
        .as_deref()
        .and_then(text_kind)
        .filter(|k| *k == FailureKind::Moderation)
        // The account's balance, not the client's request: not an invalid input.
        .or(out_of_credit.then_some(FailureKind::UpstreamError));
    UpstreamFault {
        code,
        message,
        kind,
        status: None,
    }
}

/// The task id of a callback body: the status envelope (`data.<id>`) or the bare `data` object.
pub(super) fn task_id_of(body: &Value, keys: &[&str]) -> Option<String> {
    let data = body.get("data").filter(|d| d.is_object()).unwrap_or(body);
    keys.iter().find_map(|k| data.get(*k).and_then(as_text))
}

/// What a failed task's code and message say about the failure. Exact codes first (APIXO's old
/// and new `failCode`s), then the words of code and message.
pub(super) fn fail_kind(code: Option<&str>, message: Option<&str>) -> FailureKind {
    match code.map(squash).as_deref() {
        Some("ratelimited") => return FailureKind::RateLimited,
        Some("timeout" | "processingtimeout") => return FailureKind::Timeout,
        _ => {}
    }
    code.and_then(text_kind)
        .filter(|k| *k == FailureKind::Moderation)
        .or_else(|| {
            message
                .and_then(text_kind)
                .filter(|k| *k == FailureKind::Moderation)
        })
        .or_else(|| code.and_then(text_kind))
        .or_else(|| message.and_then(text_kind))
        .unwrap_or(FailureKind::UpstreamError)
}

/// Lower-case letters and digits only: `PROMPT_TOO_LONG` and `PromptTooLong` read the same.
fn squash(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Moderation or invalid input, from the words of a code or message.
pub(super) fn text_kind(text: &str) -> Option<FailureKind> {
    let s = squash(text);
    let has = |words: &[&str]| words.iter().any(|w| s.contains(w));
    if has(&[
        "sensitive",
        "nsfw",
        "prohibited",
        "violat",
        "moderat",
        "contentpolicy",
        "flagged",
        "unsafe",
        "inappropriate",
        "safetycheck",
    ]) {
        Some(FailureKind::Moderation)
    } else if has(&[
        "invalid",
        "toolong",
        "toolarge",
        "lengthexceeded",
        "unsupported",
        "incorrect",
        "downloadfailed",
        "couldnotfetch",
        "couldnotread",
        "cannotbefetched",
        "missingrequired",
    ]) {
        Some(FailureKind::InvalidInput)
    } else {
        None
    }
}

/// `code: message`, or whichever is present, or the state itself.
pub(super) fn join(code: Option<&str>, message: Option<&str>, state: &str) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(x), None) | (None, Some(x)) => x.to_string(),
        (None, None) => format!("the upstream task ended `{state}`"),
    }
}

/// The state of a successful task from its `resultJson` (a JSON string `{"resultUrls":[…]}`;
/// an object is accepted too). Success without a video is reported as a failed task: there is
/// nothing to deliver and polling again will not change it.
pub(super) fn result_json_state(result: Option<&Value>) -> UpstreamState {
    let parsed = match result {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    let url_of = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("url").and_then(as_text),
        _ => None,
    };
    let first = |key: &str| match parsed.get(key) {
        Some(Value::Array(items)) => items.iter().find_map(url_of),
        Some(v) => url_of(v),
        None => None,
    };
    match first("resultUrls").or_else(|| first("result_urls")) {
        Some(video_url) => UpstreamState::Succeeded {
            video_url,
            // Not documented by APIXO or Kie; read where a last frame would plausibly be.
            last_frame_url: first("lastFrameUrl").or_else(|| first("last_frame_url")),
        },
        None => UpstreamState::Failed {
            kind: FailureKind::UpstreamError,
            message: "the upstream reported success without a video URL".into(),
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use seedgate_core::media::MediaUrl;
    use seedgate_core::Resolution;
    use serde_json::json;

    fn url(s: &str) -> MediaUrl {
        MediaUrl::parse(s).expect("url")
    }

    /// A canonical request of `mode` with no media; tests add what they need.
    pub(crate) fn request(mode: Mode) -> GenerationRequest {
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

    pub(in crate::upstream) fn i2v() -> GenerationRequest {
        GenerationRequest {
            first_frame_url: Some(url("https://e.com/first.png")),
            last_frame_url: Some(url("https://e.com/last.png")),
            aspect_ratio: AspectRatio::Adaptive,
            ..request(Mode::I2v)
        }
    }

    pub(in crate::upstream) fn r2v() -> GenerationRequest {
        GenerationRequest {
            reference_image_urls: vec![url("https://e.com/a.png"), url("https://e.com/b.png")],
            reference_video_urls: vec![url("https://e.com/v.mp4")],
            reference_audio_urls: vec![url("https://e.com/s.mp3")],
            resolution: Resolution::P480,
            aspect_ratio: AspectRatio::R9x16,
            duration_seconds: 8,
            ..request(Mode::R2v)
        }
    }

    fn create(r: &GenerationRequest, callback_url: Option<&str>) -> HttpCall {
        Apixo
            .create(&CreateContext {
                request: r,
                model_id: "seedance-2-0-mini",
                callback_url,
            })
            .expect("expressible")
    }

    fn refused(r: &GenerationRequest) -> Inexpressible {
        Apixo.inexpressible(r).expect("refused")
    }

    #[test]
    fn t2v_body_without_callback() {
        let call = create(&request(Mode::T2v), None);
        assert_eq!(call.method, reqwest::Method::POST);
        assert_eq!(call.path, "/api/v1/generateTask/seedance-2-0-mini");
        assert!(call.query.is_empty());
        assert_eq!(
            call.body,
            Some(json!({
                "request_type": "async",
                "input": {
                    "mode": "text-to-video", "prompt": "a fox in the snow", "resolution": "720p",
                    "duration": 5, "aspect_ratio": "16:9", "sound": true, "web_search": false
                }
            }))
        );
    }

    #[test]
    fn i2v_body_with_callback() {
        let call = create(&i2v(), Some("https://gw.example/cb/1"));
        assert_eq!(
            call.body,
            Some(json!({
                "request_type": "callback",
                "callback_url": "https://gw.example/cb/1",
                "input": {
                    "mode": "first_and_last_frames", "prompt": "a fox in the snow",
                    "image_urls": ["https://e.com/first.png", "https://e.com/last.png"],
                    "resolution": "720p", "duration": 5, "aspect_ratio": "auto", "sound": true,
                    "web_search": false
                }
            }))
        );
        let only_first = GenerationRequest {
            last_frame_url: None,
            ..i2v()
        };
        let body = create(&only_first, None).body.expect("body");
        assert_eq!(
            body["input"]["image_urls"],
            json!(["https://e.com/first.png"])
        );
        let pro = Apixo
            .create(&CreateContext {
                request: &only_first,
                model_id: "seedance-1-5-pro",
                callback_url: None,
            })
            .expect("ok");
        assert_eq!(pro.body.expect("body")["input"]["mode"], "image-to-video");
    }

    #[test]
    fn r2v_body() {
        let r = GenerationRequest {
            web_search: true,
            generate_audio: false,
            ..r2v()
        };
        let call = create(&r, Some("https://gw.example/cb/2"));
        assert_eq!(
            call.body,
            Some(json!({
                "request_type": "callback",
                "callback_url": "https://gw.example/cb/2",
                "input": {
                    "mode": "omni_reference", "prompt": "a fox in the snow",
                    "image_urls": ["https://e.com/a.png", "https://e.com/b.png"],
                    "video_urls": ["https://e.com/v.mp4"],
                    "audio_urls": ["https://e.com/s.mp3"],
                    "resolution": "480p", "duration": 8, "aspect_ratio": "9:16", "sound": false,
                    "web_search": true
                }
            }))
        );
        // Only the media present are sent.
        let images_only = GenerationRequest {
            reference_video_urls: Vec::new(),
            reference_audio_urls: Vec::new(),
            ..r2v()
        };
        let input = create(&images_only, None).body.expect("body")["input"].clone();
        assert!(input.get("video_urls").is_none() && input.get("audio_urls").is_none());
    }

    #[test]
    fn hints_apixo_lacks_are_dropped() {
        let r = GenerationRequest {
            seed: Some(7),
            return_last_frame: true,
            nsfw_checker: false,
            ..request(Mode::T2v)
        };
        assert_eq!(create(&r, None), create(&request(Mode::T2v), None));
    }

    #[test]
    fn inexpressible_requests_are_refused() {
        for (r, field) in [
            (
                GenerationRequest {
                    prompt: None,
                    ..i2v()
                },
                "prompt",
            ),
            (
                GenerationRequest {
                    prompt: Some("  ".into()),
                    ..i2v()
                },
                "prompt",
            ),
            (
                GenerationRequest {
                    reference_image_urls: vec![url("https://e.com/r.png")],
                    ..i2v()
                },
                "reference_image_urls",
            ),
        ] {
            assert_eq!(refused(&r).field, field, "{r:?}");
        }
        assert_eq!(Apixo.inexpressible(&i2v()), None);
    }

    #[test]
    fn created_reads_the_task_id_or_the_envelope_error() {
        let ok = json!({"code":200,"message":"success","data":{"taskId":"task_12345678"}});
        assert_eq!(Apixo.created(&ok), Ok("task_12345678".into()));
        let refused =
            json!({"code":402,"message":"Insufficient balance","data":{"error":"need 5"}});
        let fault = Apixo.created(&refused).expect_err("envelope error");
        assert_eq!(fault.status, Some(402));
        assert_eq!(fault.code.as_deref(), Some("402"));
        assert_eq!(
            fault.message.as_deref(),
            Some("Insufficient balance: need 5")
        );
        let limited =
            json!({"code":"429","message":"Rate limit exceeded","data":{"error":"slow down"}});
        assert_eq!(Apixo.created(&limited).expect_err("429").status, Some(429));
        let empty = json!({"code":200,"message":"success","data":{}});
        assert_eq!(Apixo.created(&empty).expect_err("no id").status, None);
    }

    #[test]
    fn status_call_carries_model_and_task() {
        let call = Apixo.status("task_12345678", "seedance-2-0-mini");
        assert_eq!(call.method, reqwest::Method::GET);
        assert_eq!(call.path, "/api/v1/statusTask/seedance-2-0-mini");
        assert_eq!(
            call.query,
            vec![("taskId".to_string(), "task_12345678".to_string())]
        );
        assert_eq!(
            Apixo.status("t", "a b/c").path,
            "/api/v1/statusTask/a%20b%2Fc"
        );
        assert_eq!(Apixo.cancel("t", "seedance-2-0-mini"), None);
    }

    #[test]
    fn documented_states() {
        let processing = json!({"code":200,"message":"success","data":{
            "taskId":"task_12345678","state":"processing","createTime":1767965610929_i64}});
        assert_eq!(Apixo.state(&processing), Ok(UpstreamState::Running));
        let pending =
            json!({"code":200,"message":"success","data":{"taskId":"t","state":"pending"}});
        assert_eq!(Apixo.state(&pending), Ok(UpstreamState::Queued));
        let success = json!({"code":200,"message":"success","data":{
            "taskId":"task_12345678","state":"success",
            "resultJson":"{\"resultUrls\":[\"https://file.apixo.ai/video.mp4\"]}",
            "createTime":1767965610929_i64,"completeTime":1767965890929_i64,"costTime":280000}});
        assert_eq!(
            Apixo.state(&success),
            Ok(UpstreamState::Succeeded {
                video_url: "https://file.apixo.ai/video.mp4".into(),
                last_frame_url: None
            })
        );
        let failed = json!({"code":200,"message":"success","data":{
            "taskId":"task_12345678","state":"failed","failCode":"UPSTREAM_ERROR",
            "failMsg":"Upstream error","createTime":1767965610929_i64,"completeTime":1767965620132_i64}});
        assert_eq!(
            Apixo.state(&failed),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "UPSTREAM_ERROR: Upstream error".into()
            })
        );
    }

    #[test]
    fn fail_codes_map_to_kinds() {
        let cases = [
            ("SensitiveContent", FailureKind::Moderation),
            ("SensitiveContentDetected", FailureKind::Moderation),
            (
                "InputImageSensitiveContentDetected",
                FailureKind::Moderation,
            ),
            (
                "InputOutputSensitiveContentDetected",
                FailureKind::Moderation,
            ),
            ("NSFW", FailureKind::Moderation),
            ("NSFW_DETECTED", FailureKind::Moderation),
            ("CONTENT_VIOLATION", FailureKind::Moderation),
            ("ProhibitedContentDetected", FailureKind::Moderation),
            ("PromptInvalid", FailureKind::InvalidInput),
            ("ImageFormatIncorrect", FailureKind::InvalidInput),
            ("PROMPT_TOO_LONG", FailureKind::InvalidInput),
            ("PromptLengthExceeded", FailureKind::InvalidInput),
            ("INVALID_IMAGE_URL", FailureKind::InvalidInput),
            ("IMAGE_TOO_LARGE", FailureKind::InvalidInput),
            ("UNSUPPORTED_FORMAT", FailureKind::InvalidInput),
            ("IMAGE_DOWNLOAD_FAILED", FailureKind::InvalidInput),
            ("RateLimited", FailureKind::RateLimited),
            ("Timeout", FailureKind::Timeout),
            ("PROCESSING_TIMEOUT", FailureKind::Timeout),
            ("StreamError", FailureKind::UpstreamError),
            ("GENERATION_FAILED", FailureKind::UpstreamError),
            ("MODEL_UNAVAILABLE", FailureKind::UpstreamError),
            ("INSUFFICIENT_CREDITS", FailureKind::UpstreamError),
            ("Unknown error", FailureKind::UpstreamError),
        ];
        for (code, kind) in cases {
            let body = json!({"code":200,"message":"success","data":{
                "taskId":"t","state":"failed","failCode":code,"failMsg":"x"}});
            match Apixo.state(&body) {
                Ok(UpstreamState::Failed { kind: k, .. }) => assert_eq!(k, kind, "{code}"),
                other => panic!("{code}: {other:?}"),
            }
        }
        // A moderation message outranks a generic code.
        assert_eq!(
            fail_kind(
                Some("UPSTREAM_ERROR"),
                Some("output flagged by the safety checks")
            ),
            FailureKind::Moderation
        );
        let cancelled = json!({"code":200,"message":"success","data":{"taskId":"t","state":"failed",
            "failCode":"Cancelled","failMsg":"task was cancelled; credits refunded"}});
        assert_eq!(Apixo.state(&cancelled), Ok(UpstreamState::Cancelled));
    }

    #[test]
    fn odd_answers() {
        // Success with no usable result: terminal, not polled forever.
        for result in [json!(""), json!("{\"resultUrls\":[]}"), json!("not json")] {
            let body =
                json!({"code":200,"data":{"taskId":"t","state":"success","resultJson":result}});
            assert!(matches!(
                Apixo.state(&body),
                Ok(UpstreamState::Failed {
                    kind: FailureKind::UpstreamError,
                    ..
                })
            ));
        }
        let object_result = json!({"code":200,"data":{"state":"success",
            "resultJson":{"resultUrls":[{"url":"https://e.com/v.mp4"}],"lastFrameUrl":"https://e.com/l.png"}}});
        assert_eq!(
            Apixo.state(&object_result),
            Ok(UpstreamState::Succeeded {
                video_url: "https://e.com/v.mp4".into(),
                last_frame_url: Some("https://e.com/l.png".into())
            })
        );
        let not_found = json!({"code":404,"message":"Task not found","data":{"error":"task t"}});
        assert_eq!(Apixo.state(&not_found).expect_err("404").status, Some(404));
        let unknown = json!({"code":200,"data":{"taskId":"t","state":"weird"}});
        let fault = Apixo.state(&unknown).expect_err("unknown state");
        assert_eq!(
            (fault.status, fault.code.as_deref()),
            (Some(502), Some("weird"))
        );
        let guessed = json!({"code":200,"data":{"taskId":"t","state":"queued"}});
        assert_eq!(Apixo.state(&guessed), Ok(UpstreamState::Queued));
        let no_state = json!({"code":200,"data":{"taskId":"t"}});
        assert_eq!(
            Apixo.state(&no_state).expect_err("no state").status,
            Some(502)
        );
        assert_eq!(
            Apixo.state(&Value::Null).expect_err("null").status,
            Some(502)
        );
    }

    #[test]
    fn faults() {
        let body = json!({"code":400,"message":"Invalid request",
            "data":{"error":"Missing required field: input.prompt"}});
        assert_eq!(
            Apixo.fault(&body),
            UpstreamFault {
                code: Some("400".into()),
                message: Some("Invalid request: Missing required field: input.prompt".into()),
                kind: None,
                status: None,
            }
        );
        let policy =
            json!({"code":403,"message":"Forbidden","data":{"error":"content policy violation"}});
        assert_eq!(Apixo.fault(&policy).kind, Some(FailureKind::Moderation));
        let ark = json!({"error":{"code":"InvalidParameter","message":"bad duration"}});
        let f = Apixo.fault(&ark);
        assert_eq!(
            (f.code.as_deref(), f.message.as_deref()),
            (Some("InvalidParameter"), Some("bad duration"))
        );
        assert_eq!(Apixo.fault(&Value::Null), UpstreamFault::default());
    }

    #[test]
    fn callback_bodies() {
        let envelope = json!({"code":200,"message":"success","data":{"taskId":"task_1","state":"success",
            "resultJson":"{\"resultUrls\":[\"https://file.apixo.ai/video.mp4\"]}"}});
        assert_eq!(Apixo.callback_job_id(&envelope), Some("task_1".into()));
        let bare = json!({"taskId":"task_2","state":"failed","failCode":"NSFW","failMsg":"x"});
        assert_eq!(Apixo.callback_job_id(&bare), Some("task_2".into()));
        assert_eq!(Apixo.callback_job_id(&json!({"code":200})), None);
    }

    #[test]
    fn probe_asks_for_zero_seconds() {
        let call = Apixo.probe_create("seedance-2-0-mini");
        assert_eq!(call.path, "/api/v1/generateTask/seedance-2-0-mini");
        let body = call.body.expect("body");
        assert_eq!(body["input"]["duration"], 0);
        assert_eq!(body["input"]["mode"], "text-to-video");
        assert_eq!(Apixo.auth(), super::super::AuthStyle::Bearer);
    }
}

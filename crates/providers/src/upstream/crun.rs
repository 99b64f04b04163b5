//! The CRUN upstream dialect (crun.ai; contract §3.4): `POST /api/v1/client/job/CreateTask`,
//! `GET /api/v1/client/job/TaskInfo?task_id=`. Auth is the `x-api-key` header; answers are
//! `{code, message, data}` with snake_case `task_id`.
//!
//! The model name carries the mode (`bytedance/seedance2-0-mini-r2v`), as seedgate's own CRUN
//! dialect reads it. An account maps a canonical model to one id, so the configured id may be
//! the family (`bytedance/seedance2-0-mini`) or any mode's name: its `-t2v`/`-i2v`/`-r2v` suffix
//! is replaced by the request's mode. Per mode: i2v sends `img_urls` [first, last?], r2v sends
//! `reference_images`/`reference_videos`/`reference_audios`. CRUN has no web search (a request
//! for it is refused: the video would not be what was asked), no seed (a reproducibility hint:
//! dropped, as the other upstream dialects do) and no NSFW switch (dropped: CRUN's own
//! moderation stays on).
//!
//! States:
//!
//! | CRUN `status` | [`UpstreamState`] |
//! |---|---|
//! | `pending` | Queued |
//! | `running` | Running |
//! | `success` | Succeeded (`result.media_urls[0]`, `result.last_frame_url`) |
//! | `failed` | Failed (kind from `result.code`/`result.message`) |
//! | anything else | a common synonym (see [`guess_phase`]); otherwise a 502-like fault, never Running |
//!
//! Body codes (also under HTTP 200) are classified as HTTP statuses, with CRUN's own codes
//! translated: 455 (maintenance) → 503, 501 (generation failed) → 502, 505 (feature disabled:
//! the model is off for this account) → 403; 401/402/404/422/429/500 as they are.

use super::apixo::{envelope_fault, join, missing, phase_of, task_id_of, text_kind, Phase};
use super::wire::{
    check_envelope, envelope_code, frames_exclude_references, http_like, missing_task_id,
    no_web_search,
};
use super::{AuthStyle, CreateContext, HttpCall, UpstreamApi, UpstreamFault, UpstreamState};
use crate::ProviderError;
use seedgate_core::media::MediaUrl;
use seedgate_core::task::FailureKind;
use seedgate_core::{AspectRatio, GenerationRequest, Inexpressible, Mode};
use seedgate_wire::crun::{CreateTaskRequest, CreateTaskResponse, CrunInput, TaskInfoResponse};
use serde::Deserialize;
use serde_json::Value;

pub struct Crun;

const CREATE_PATH: &str = "/api/v1/client/job/CreateTask";

impl UpstreamApi for Crun {
    fn auth(&self) -> AuthStyle {
        AuthStyle::ApiKeyHeader
    }

    fn inexpressible(&self, r: &GenerationRequest) -> Option<Inexpressible> {
        // The i2v models take no reference fields.
        no_web_search("CRUN", r).or_else(|| frames_exclude_references("CRUN", r))
    }

    fn create(&self, cx: &CreateContext<'_>) -> Result<HttpCall, ProviderError> {
        let r = cx.request;
        let strings = |list: &[MediaUrl]| -> Vec<String> {
            list.iter().map(|u| u.as_str().to_string()).collect()
        };
        // Only the reference lists in use are sent.
        let some = |list: &[MediaUrl]| (!list.is_empty()).then(|| strings(list));
        let mut input = CrunInput {
            // A blank prompt is left out: CRUN's i2v and r2v take none.
            prompt: r.prompt.clone().filter(|p| !p.trim().is_empty()),
            resolution: Some(r.resolution.as_str().into()),
            aspect_ratio: Some(
                match r.aspect_ratio {
                    AspectRatio::Adaptive => "auto",
                    other => other.as_str(),
                }
                .into(),
            ),
            duration: Some(r.duration_seconds.into()),
            audio: Some(r.generate_audio),
            return_last_frame: Some(r.return_last_frame),
            ..CrunInput::default()
        };
        match r.mode {
            Mode::T2v => {}
            Mode::I2v => {
                input.img_urls = Some(
                    r.first_frame_url
                        .iter()
                        .chain(&r.last_frame_url)
                        .map(|u| u.as_str().to_string())
                        .collect(),
                );
            }
            Mode::R2v => {
                input.reference_images = some(&r.reference_image_urls);
                input.reference_videos = some(&r.reference_video_urls);
                input.reference_audios = some(&r.reference_audio_urls);
            }
        }
        let body = CreateTaskRequest {
            model: Some(model_for(cx.model_id, r.mode)),
            callback_url: cx.callback_url.map(String::from),
            input: Some(input),
        };
        let json = serde_json::to_value(&body)
            .map_err(|e| ProviderError::permanent(FailureKind::Internal, e.to_string()))?;
        Ok(HttpCall::post(CREATE_PATH, json))
    }

    fn created(&self, body: &Value) -> Result<String, UpstreamFault> {
        check_envelope(body, self.fault(body), crun_status)?;
        // No readable `data` or an empty id: the task may exist all the same (ambiguous).
        CreateTaskResponse::deserialize(body)
            .ok()
            .map(|answer| answer.data.task_id)
            .filter(|id| !id.is_empty())
            .ok_or_else(missing_task_id)
    }

    fn status(&self, job_id: &str, _model_id: &str) -> HttpCall {
        HttpCall::get("/api/v1/client/job/TaskInfo").query("task_id", job_id)
    }

    fn state(&self, body: &Value) -> Result<UpstreamState, UpstreamFault> {
        check_envelope(body, self.fault(body), crun_status)?;
        // Every field of `data` reads leniently; only a missing or non-object `data` fails.
        let data = TaskInfoResponse::deserialize(body)
            .map_err(|_| missing("data"))?
            .data;
        let status = data.status.trim();
        let phase = phase_of(
            status,
            "status",
            &[
                ("pending", Phase::Queued),
                ("running", Phase::Running),
                ("success", Phase::Succeeded),
                ("failed", Phase::Failed),
            ],
        )?;
        let result = data.result.unwrap_or_default();
        Ok(match phase {
            Phase::Queued => UpstreamState::Queued,
            Phase::Running => UpstreamState::Running,
            Phase::Cancelled => UpstreamState::Cancelled,
            Phase::Expired => UpstreamState::Expired,
            Phase::Succeeded => match result.media_urls.into_iter().next() {
                Some(video_url) => UpstreamState::Succeeded {
                    video_url,
                    last_frame_url: result.last_frame_url,
                },
                // Finished with nothing to deliver: polling again will not change it.
                None => UpstreamState::Failed {
                    kind: FailureKind::UpstreamError,
                    message: "the upstream reported success without a video URL".into(),
                },
            },
            Phase::Failed => {
                let code = result.code.map(|c| c.to_string());
                let message = result.message.as_deref();
                UpstreamState::Failed {
                    kind: failed_kind(result.code, message),
                    message: join(code.as_deref(), message, status),
                }
            }
        })
    }

    fn probe_create(&self, model_id: &str) -> HttpCall {
        let body = CreateTaskRequest {
            model: Some(model_for(model_id, Mode::T2v)),
            callback_url: None,
            input: Some(CrunInput {
                prompt: Some("seedgate probe".into()),
                duration: Some(0),
                ..CrunInput::default()
            }),
        };
        // Strings and integers only: serializing cannot fail.
        HttpCall::post(
            CREATE_PATH,
            serde_json::to_value(&body).unwrap_or(Value::Null),
        )
    }

    /// `{"code":422,"message":"…","data":null}`. A CRUN code with a meaning of its own (455,
    /// 501, 505) sets the status it stands for, also when the HTTP status carried it.
    fn fault(&self, body: &Value) -> UpstreamFault {
        let mut fault = envelope_fault(body);
        fault.status = envelope_code(body)
            .filter(|c| matches!(c, 455 | 501 | 505))
            .map(crun_status);
        fault
    }

    /// The callback is the TaskInfo `data` object; the whole envelope is accepted too.
    fn callback_job_id(&self, body: &Value) -> Option<String> {
        task_id_of(body, &["task_id", "taskId"])
    }
}

/// CRUN's model name for `mode`: the configured id with its mode suffix (if any) replaced.
fn model_for(model_id: &str, mode: Mode) -> String {
    let family = ["-t2v", "-i2v", "-r2v"]
        .iter()
        .find_map(|suffix| model_id.strip_suffix(suffix))
        .unwrap_or(model_id);
    format!("{family}-{}", mode.as_str())
}

/// A CRUN (or Kie-family) code as the HTTP status it stands for (see the module doc).
pub(super) fn crun_status(code: u16) -> u16 {
    match code {
        455 => 503,
        501 => 502,
        505 => 403,
        other => http_like(other),
    }
}

/// The kind of a failed task: moderation words win; then the code (422 invalid input, 429 rate
/// limited; 501 "Generation Failed" says nothing more); then the message's words.
fn failed_kind(code: Option<u16>, message: Option<&str>) -> FailureKind {
    let said = message.and_then(text_kind);
    if said == Some(FailureKind::Moderation) {
        return FailureKind::Moderation;
    }
    match code {
        Some(400 | 422) => FailureKind::InvalidInput,
        Some(429) => FailureKind::RateLimited,
        _ => said.unwrap_or(FailureKind::UpstreamError),
    }
}

#[cfg(test)]
mod tests {
    use super::super::apixo::tests::{i2v, r2v, request};
    use super::*;
    use serde_json::json;

    fn create(r: &GenerationRequest, model_id: &str, callback_url: Option<&str>) -> HttpCall {
        Crun.create(&CreateContext {
            request: r,
            model_id,
            callback_url,
        })
        .expect("expressible")
    }

    #[test]
    fn auth_is_the_api_key_header() {
        assert_eq!(Crun.auth(), AuthStyle::ApiKeyHeader);
    }

    #[test]
    fn t2v_body_without_callback() {
        let call = create(&request(Mode::T2v), "bytedance/seedance2-0-mini", None);
        assert_eq!(call.method, reqwest::Method::POST);
        assert_eq!(call.path, "/api/v1/client/job/CreateTask");
        assert_eq!(
            call.body,
            Some(json!({
                "model": "bytedance/seedance2-0-mini-t2v",
                "input": {
                    "prompt": "a fox in the snow", "resolution": "720p", "aspect_ratio": "16:9",
                    "duration": 5, "audio": true, "return_last_frame": false
                }
            }))
        );
    }

    #[test]
    fn i2v_body_with_callback() {
        let r = GenerationRequest {
            return_last_frame: true,
            prompt: None,
            ..i2v()
        };
        // A configured id naming another mode is re-suffixed for this one.
        let call = create(
            &r,
            "bytedance/seedance2-0-mini-r2v",
            Some("https://gw.example/cb/1"),
        );
        assert_eq!(
            call.body,
            Some(json!({
                "model": "bytedance/seedance2-0-mini-i2v",
                "callback_url": "https://gw.example/cb/1",
                "input": {
                    "img_urls": ["https://e.com/first.png", "https://e.com/last.png"],
                    "resolution": "720p", "aspect_ratio": "auto", "duration": 5, "audio": true,
                    "return_last_frame": true
                }
            }))
        );
    }

    #[test]
    fn r2v_body() {
        let call = create(
            &r2v(),
            "bytedance/seedance2-5-t2v",
            Some("https://gw.example/cb/2"),
        );
        assert_eq!(
            call.body,
            Some(json!({
                "model": "bytedance/seedance2-5-r2v",
                "callback_url": "https://gw.example/cb/2",
                "input": {
                    "prompt": "a fox in the snow",
                    "reference_images": ["https://e.com/a.png", "https://e.com/b.png"],
                    "reference_videos": ["https://e.com/v.mp4"],
                    "reference_audios": ["https://e.com/s.mp3"],
                    "resolution": "480p", "aspect_ratio": "9:16", "duration": 8, "audio": true,
                    "return_last_frame": false
                }
            }))
        );
        let no_video = GenerationRequest {
            reference_video_urls: Vec::new(),
            ..r2v()
        };
        let input = create(&no_video, "bytedance/seedance2-0-mini", None)
            .body
            .expect("body")["input"]
            .clone();
        assert!(input.get("reference_videos").is_none());
        assert!(input.get("img_urls").is_none());
    }

    #[test]
    fn a_seed_is_dropped() {
        let r = GenerationRequest {
            seed: Some(1),
            nsfw_checker: false,
            ..request(Mode::T2v)
        };
        assert_eq!(
            create(&r, "bytedance/seedance2-0-mini", None),
            create(&request(Mode::T2v), "bytedance/seedance2-0-mini", None)
        );
    }

    #[test]
    fn inexpressible_requests_are_refused() {
        use seedgate_core::media::MediaUrl;
        for (r, field) in [
            (
                GenerationRequest {
                    web_search: true,
                    ..request(Mode::T2v)
                },
                "web_search",
            ),
            (
                GenerationRequest {
                    reference_image_urls: vec![MediaUrl::parse("https://e.com/r.png").expect("url")],
                    ..i2v()
                },
                "reference_image_urls",
            ),
        ] {
            assert_eq!(Crun.inexpressible(&r).expect("refused").field, field);
        }
        assert_eq!(Crun.inexpressible(&i2v()), None);
    }

    #[test]
    fn created_reads_snake_case_task_id_and_body_codes() {
        let ok = json!({"code":200,"message":"success","data":{"task_id":"task_12345678"}});
        assert_eq!(Crun.created(&ok), Ok("task_12345678".into()));
        for (code, status) in [
            (401, 401),
            (402, 402),
            (404, 404),
            (422, 422),
            (429, 429),
            (455, 503),
            (500, 500),
            (501, 502),
            (505, 403),
        ] {
            let body = json!({"code":code,"message":"refused","data":null});
            let fault = Crun.created(&body).expect_err("error envelope");
            assert_eq!(fault.status, Some(status), "{code}");
            assert_eq!(fault.code, Some(code.to_string()));
            assert_eq!(fault.message.as_deref(), Some("refused"));
        }
        let no_id = json!({"code":200,"message":"success","data":{}});
        assert_eq!(Crun.created(&no_id).expect_err("no id").status, None);
    }

    #[test]
    fn status_call() {
        let call = Crun.status("d6956973", "bytedance/seedance2-0-mini");
        assert_eq!(call.method, reqwest::Method::GET);
        assert_eq!(call.path, "/api/v1/client/job/TaskInfo");
        assert_eq!(
            call.query,
            vec![("task_id".to_string(), "d6956973".to_string())]
        );
        assert_eq!(Crun.cancel("d6956973", "m"), None);
    }

    fn info(status: &str, result: Value) -> Value {
        json!({"code":200,"message":"success","data":{
            "task_id":"d6956973-2f17-43d4-8514-af6cc3a2f55d","provider":"Google",
            "model_version":"nano-banana","status":status,
            "param":{"model":"google/nano-banana","callback_url":null,"input":{}},
            "create_at":1768900378,"result":result,"duration_s":null,"complete_at":null,
            "source":"api"}})
    }

    #[test]
    fn documented_states() {
        assert_eq!(
            Crun.state(&info("running", Value::Null)),
            Ok(UpstreamState::Running)
        );
        assert_eq!(
            Crun.state(&info("pending", Value::Null)),
            Ok(UpstreamState::Queued)
        );
        assert_eq!(
            Crun.state(&info(
                "success",
                json!({"media_urls":["https://cdn.crun.ai/v.mp4"]})
            )),
            Ok(UpstreamState::Succeeded {
                video_url: "https://cdn.crun.ai/v.mp4".into(),
                last_frame_url: None
            })
        );
        assert_eq!(
            Crun.state(&info(
                "success",
                json!({"media_urls":["https://cdn.crun.ai/v.mp4"],"last_frame_url":"https://cdn.crun.ai/l.png"})
            )),
            Ok(UpstreamState::Succeeded {
                video_url: "https://cdn.crun.ai/v.mp4".into(),
                last_frame_url: Some("https://cdn.crun.ai/l.png".into())
            })
        );
        assert_eq!(
            Crun.state(&info(
                "failed",
                json!({"code":501,"message":"Generation Failed","media_urls":[]})
            )),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "501: Generation Failed".into()
            })
        );
        assert_eq!(
            Crun.state(&info("failed", Value::Null)),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "the upstream task ended `failed`".into()
            })
        );
    }

    #[test]
    fn failure_kinds() {
        let kind = |result: Value| match Crun.state(&info("failed", result)) {
            Ok(UpstreamState::Failed { kind, .. }) => kind,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            kind(json!({"code":501,"message":"input image contains sensitive content"})),
            FailureKind::Moderation
        );
        assert_eq!(
            kind(json!({"code":422,"message":"bad"})),
            FailureKind::InvalidInput
        );
        assert_eq!(
            kind(json!({"code":429,"message":"busy"})),
            FailureKind::RateLimited
        );
        assert_eq!(
            kind(json!({"code":501,"message":"reference video format unsupported"})),
            FailureKind::InvalidInput
        );
        assert_eq!(
            kind(json!({"code":500,"message":"boom"})),
            FailureKind::UpstreamError
        );
        // Success without a video is terminal, not polled forever.
        assert!(matches!(
            Crun.state(&info("success", json!({"media_urls":[]}))),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                ..
            })
        ));
    }

    #[test]
    fn odd_answers() {
        let fault = Crun
            .state(&info("mystery", Value::Null))
            .expect_err("unknown");
        assert_eq!(
            (fault.status, fault.code.as_deref()),
            (Some(502), Some("mystery"))
        );
        assert_eq!(
            Crun.state(&info("queued", Value::Null)),
            Ok(UpstreamState::Queued)
        );
        assert_eq!(
            Crun.state(&info("cancelled", Value::Null)),
            Ok(UpstreamState::Cancelled)
        );
        let not_found = json!({"code":404,"message":"task not found","data":null});
        assert_eq!(Crun.state(&not_found).expect_err("404").status, Some(404));
        let down = json!({"code":455,"message":"Service Unavailable","data":null});
        assert_eq!(Crun.state(&down).expect_err("455").status, Some(503));
        assert_eq!(
            Crun.state(&Value::Null).expect_err("null").status,
            Some(502)
        );
    }

    #[test]
    fn faults() {
        let body = json!({"code":422,"message":"input.duration: must be an integer from 4 to 15 seconds","data":null});
        let f = Crun.fault(&body);
        assert_eq!(f.code.as_deref(), Some("422"));
        assert_eq!(
            f.message.as_deref(),
            Some("input.duration: must be an integer from 4 to 15 seconds")
        );
        assert_eq!((f.status, f.kind), (None, None));
        let maintenance = json!({"code":455,"message":"Service Unavailable","data":null});
        assert_eq!(Crun.fault(&maintenance).status, Some(503));
        let disabled =
            json!({"code":505,"message":"Feature Disabled: model `x` is not served","data":null});
        assert_eq!(Crun.fault(&disabled).status, Some(403));
        assert_eq!(Crun.fault(&Value::Null), UpstreamFault::default());
    }

    #[test]
    fn callback_bodies() {
        let data = info(
            "success",
            json!({"media_urls":["https://cdn.crun.ai/v.mp4"]}),
        )["data"]
            .clone();
        assert_eq!(
            Crun.callback_job_id(&data),
            Some("d6956973-2f17-43d4-8514-af6cc3a2f55d".into())
        );
        let envelope = json!({"code":200,"message":"success","data":{"task_id":"task_9"}});
        assert_eq!(Crun.callback_job_id(&envelope), Some("task_9".into()));
        assert_eq!(Crun.callback_job_id(&json!({"status":"success"})), None);
    }

    #[test]
    fn probe_asks_for_zero_seconds() {
        let call = Crun.probe_create("bytedance/seedance2-0-mini-r2v");
        assert_eq!(call.path, "/api/v1/client/job/CreateTask");
        let body = call.body.expect("body");
        assert_eq!(body["model"], "bytedance/seedance2-0-mini-t2v");
        assert_eq!(body["input"]["duration"], 0);
    }
}

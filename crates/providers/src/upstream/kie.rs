//! The Kie upstream dialect (kie.ai market jobs; contract §3.5): `POST /api/v1/jobs/createTask`,
//! `GET /api/v1/jobs/recordInfo?taskId=`. Bearer auth. createTask answers `{code, msg, data:
//! {taskId}}`, recordInfo `{code, message, data}`; both spellings are read everywhere.
//!
//! The body is `{"model", "callBackUrl"?, "input":{…}}` with the canonical field names:
//! `first_frame_url`, `last_frame_url`, `reference_{image,video,audio}_urls`, `generate_audio`,
//! `resolution`, `aspect_ratio` (`adaptive` as is), `duration`, `web_search`, `nsfw_checker`
//! (always: Kie's default is off, the canonical one on), and `return_last_frame` when asked of a
//! 2.5 model (the only Kie input that has it; for the others it is dropped, a provider's last
//! frame being optional). Kie has no seed: dropped, as the other upstream dialects do (a
//! reproducibility hint).
//!
//! States:
//!
//! | Kie `state` | [`UpstreamState`] |
//! |---|---|
//! | `waiting`, `queuing` | Queued |
//! | `generating` | Running |
//! | `success` | Succeeded (`resultJson` → `resultUrls[0]`) |
//! | `fail` | Failed, kind from `failCode`/`failMsg` (see [`fail_state`]); `failCode` 410 → Expired, 499 → Cancelled (seedgate serving Kie) |
//! | anything else | a common synonym (see [`guess_phase`]); otherwise a 502-like fault, never Running |
//!
//! Body codes are Kie-family HTTP-like codes: 455 (maintenance) → 503, 501 (generation failed)
//! → 502, 505 (feature disabled) → 403, the rest as they are.

use super::apixo::{
    created_task_id, data_and_phase, envelope_fault, fail_kind, join, result_json_state,
    task_id_of, text_kind, Phase,
};
use super::crun::crun_status;
use super::wire::{check_envelope, envelope_code};
use super::{CreateContext, HttpCall, UpstreamApi, UpstreamFault, UpstreamState};
use crate::ProviderError;
use seedgate_core::media::MediaUrl;
use seedgate_core::task::FailureKind;
use seedgate_wire::kie::{CreateTaskRequest, Input, Record};
use serde_json::Value;

pub struct Kie;

const CREATE_PATH: &str = "/api/v1/jobs/createTask";

impl UpstreamApi for Kie {
    fn create(&self, cx: &CreateContext<'_>) -> Result<HttpCall, ProviderError> {
        let r = cx.request;
        let list = |urls: &[MediaUrl]| {
            (!urls.is_empty()).then(|| urls.iter().map(|u| u.as_str().to_string()).collect())
        };
        let body = CreateTaskRequest {
            model: Some(cx.model_id.to_string()),
            call_back_url: cx.callback_url.map(str::to_string),
            input: Some(Input {
                prompt: r.prompt.clone().filter(|p| !p.trim().is_empty()),
                // Every medium the request carries goes in its own field; Kie checks the
                // combination.
                first_frame_url: r.first_frame_url.as_ref().map(|u| u.as_str().to_string()),
                last_frame_url: r.last_frame_url.as_ref().map(|u| u.as_str().to_string()),
                reference_image_urls: list(&r.reference_image_urls),
                reference_video_urls: list(&r.reference_video_urls),
                reference_audio_urls: list(&r.reference_audio_urls),
                generate_audio: Some(r.generate_audio),
                resolution: Some(r.resolution.as_str().to_string()),
                aspect_ratio: Some(r.aspect_ratio.as_str().to_string()),
                duration: Some(i64::from(r.duration_seconds)),
                web_search: Some(r.web_search),
                // Kie's default is off, the canonical one on: always say which.
                nsfw_checker: Some(r.nsfw_checker),
                // Only Kie's 2.5 input has the switch (seedgate serving Kie refuses it for the
                // others); elsewhere it is dropped: a provider's last frame is optional.
                return_last_frame: (r.return_last_frame && is_2_5(cx.model_id)).then_some(true),
            }),
        };
        Ok(HttpCall::post(CREATE_PATH, to_body(&body)?))
    }

    fn created(&self, body: &Value) -> Result<String, UpstreamFault> {
        check_envelope(body, self.fault(body), crun_status)?;
        created_task_id(body, &["taskId", "task_id"])
    }

    fn status(&self, job_id: &str, _model_id: &str) -> HttpCall {
        HttpCall::get("/api/v1/jobs/recordInfo").query("taskId", job_id)
    }

    fn state(&self, body: &Value) -> Result<UpstreamState, UpstreamFault> {
        check_envelope(body, self.fault(body), crun_status)?;
        let (data, state, phase) = data_and_phase(
            body,
            "state",
            &[
                ("waiting", Phase::Queued),
                ("queuing", Phase::Queued),
                ("generating", Phase::Running),
                ("success", Phase::Succeeded),
                ("fail", Phase::Failed),
            ],
        )?;
        Ok(match phase {
            Phase::Queued => UpstreamState::Queued,
            Phase::Running => UpstreamState::Running,
            Phase::Succeeded => result_json_state(Some(&Value::String(record(data).result_json))),
            Phase::Cancelled => UpstreamState::Cancelled,
            Phase::Expired => UpstreamState::Expired,
            Phase::Failed => {
                let record = record(data);
                let said = |text: String| Some(text).filter(|t| !t.trim().is_empty());
                fail_state(
                    said(record.fail_code).as_deref(),
                    said(record.fail_msg).as_deref(),
                    state,
                )
            }
        })
    }

    fn probe_create(&self, model_id: &str) -> HttpCall {
        let body = CreateTaskRequest {
            model: Some(model_id.to_string()),
            call_back_url: None,
            input: Some(Input {
                prompt: Some("seedgate probe".into()),
                duration: Some(0),
                ..Input::default()
            }),
        };
        // Plain strings and numbers always serialise; a null body would be refused, as a probe
        // may be.
        HttpCall::post(CREATE_PATH, to_body(&body).unwrap_or_default())
    }

    /// `{"code":422,"msg":"…","data":null}` (or `message`). A Kie-family code with a meaning of
    /// its own (455, 501, 505) sets the status it stands for.
    fn fault(&self, body: &Value) -> UpstreamFault {
        let mut fault = envelope_fault(body);
        fault.status = envelope_code(body)
            .filter(|c| matches!(c, 455 | 501 | 505))
            .map(crun_status);
        fault
    }

    /// The callback is the recordInfo answer (`{code, msg|message, data:{taskId, …}}`); a bare
    /// `data` object is accepted too.
    fn callback_job_id(&self, body: &Value) -> Option<String> {
        task_id_of(body, &["taskId", "task_id"])
    }
}

/// A record's fields, read leniently (an odd field reads as empty, never fails the answer).
fn record(data: &Value) -> Record {
    serde_json::from_value(data.clone()).unwrap_or_default()
}

/// A create body as JSON. Serialising plain strings, numbers and booleans cannot fail; if it
/// ever did, the request could not be sent at all.
fn to_body(body: &CreateTaskRequest) -> Result<Value, ProviderError> {
    serde_json::to_value(body)
        .map_err(|e| ProviderError::permanent(FailureKind::Internal, e.to_string()))
}

/// Kie's Seedance 2.5 ids: `bytedance/seedance-2-5` (and spellings such as `seedance-2.5`).
fn is_2_5(model_id: &str) -> bool {
    let id = model_id.to_ascii_lowercase();
    id.contains("2-5") || id.contains("2.5")
}

/// A failed record. Kie's `failCode`s are HTTP-like numbers (seedgate serving Kie uses 400
/// moderation, 422 invalid input, 429 rate limited, 500 internal, 501 generation failed, 504
/// timeout, 410 expired, 499 cancelled); moderation words in the message win over the code,
/// and a non-numeric code is read like APIXO's.
fn fail_state(code: Option<&str>, message: Option<&str>, state: &str) -> UpstreamState {
    let numeric = code.and_then(|c| c.trim().parse::<u16>().ok());
    match numeric {
        Some(410) => return UpstreamState::Expired,
        Some(499) => return UpstreamState::Cancelled,
        _ => {}
    }
    let said = message.and_then(text_kind);
    let kind = if said == Some(FailureKind::Moderation) {
        FailureKind::Moderation
    } else {
        match numeric {
            Some(400) => FailureKind::Moderation,
            Some(422) => FailureKind::InvalidInput,
            Some(429) => FailureKind::RateLimited,
            Some(504) => FailureKind::Timeout,
            Some(_) => said.unwrap_or(FailureKind::UpstreamError),
            None => fail_kind(code, message),
        }
    };
    UpstreamState::Failed {
        kind,
        message: join(code, message, state),
    }
}

#[cfg(test)]
mod tests {
    use super::super::apixo::tests::{i2v, r2v, request};
    use super::*;
    use seedgate_core::{GenerationRequest, Mode};
    use serde_json::json;

    fn create(r: &GenerationRequest, callback_url: Option<&str>) -> HttpCall {
        Kie.create(&CreateContext {
            request: r,
            model_id: "bytedance/seedance-2-mini",
            callback_url,
        })
        .expect("expressible")
    }

    #[test]
    fn t2v_body_without_callback() {
        let call = create(&request(Mode::T2v), None);
        assert_eq!(call.method, reqwest::Method::POST);
        assert_eq!(call.path, "/api/v1/jobs/createTask");
        assert_eq!(
            call.body,
            Some(json!({
                "model": "bytedance/seedance-2-mini",
                "input": {
                    "prompt": "a fox in the snow", "generate_audio": true, "resolution": "720p",
                    "aspect_ratio": "16:9", "duration": 5, "web_search": false,
                    "nsfw_checker": true
                }
            }))
        );
    }

    #[test]
    fn i2v_body_with_callback() {
        let r = GenerationRequest {
            nsfw_checker: false,
            ..i2v()
        };
        let call = create(&r, Some("https://gw.example/cb/1"));
        assert_eq!(
            call.body,
            Some(json!({
                "model": "bytedance/seedance-2-mini",
                "callBackUrl": "https://gw.example/cb/1",
                "input": {
                    "prompt": "a fox in the snow",
                    "first_frame_url": "https://e.com/first.png",
                    "last_frame_url": "https://e.com/last.png",
                    "generate_audio": true, "resolution": "720p", "aspect_ratio": "adaptive",
                    "duration": 5, "web_search": false, "nsfw_checker": false
                }
            }))
        );
    }

    #[test]
    fn r2v_body() {
        let r = GenerationRequest {
            web_search: true,
            ..r2v()
        };
        let call = create(&r, Some("https://gw.example/cb/2"));
        assert_eq!(
            call.body,
            Some(json!({
                "model": "bytedance/seedance-2-mini",
                "callBackUrl": "https://gw.example/cb/2",
                "input": {
                    "prompt": "a fox in the snow",
                    "reference_image_urls": ["https://e.com/a.png", "https://e.com/b.png"],
                    "reference_video_urls": ["https://e.com/v.mp4"],
                    "reference_audio_urls": ["https://e.com/s.mp3"],
                    "generate_audio": true, "resolution": "480p", "aspect_ratio": "9:16",
                    "duration": 8, "web_search": true, "nsfw_checker": true
                }
            }))
        );
        let no_prompt = GenerationRequest {
            prompt: None,
            reference_audio_urls: Vec::new(),
            ..r2v()
        };
        let input = create(&no_prompt, None).body.expect("body")["input"].clone();
        assert!(input.get("prompt").is_none() && input.get("reference_audio_urls").is_none());
    }

    #[test]
    fn seed_and_last_frame_outside_2_5_are_dropped() {
        let r = GenerationRequest {
            seed: Some(42),
            return_last_frame: true,
            ..request(Mode::T2v)
        };
        assert_eq!(create(&r, None), create(&request(Mode::T2v), None));
        let on_2_5 = Kie
            .create(&CreateContext {
                request: &r,
                model_id: "bytedance/seedance-2-5",
                callback_url: None,
            })
            .expect("ok");
        let body = on_2_5.body.expect("body");
        assert_eq!(body["model"], "bytedance/seedance-2-5");
        assert_eq!(body["input"]["return_last_frame"], true);
        assert!(body["input"].get("seed").is_none());
    }

    #[test]
    fn created_reads_msg_envelopes() {
        let ok =
            json!({"code":200,"msg":"success","data":{"taskId":"task_bytedance_1765176680149"}});
        assert_eq!(Kie.created(&ok), Ok("task_bytedance_1765176680149".into()));
        for (code, status) in [
            (401, 401),
            (402, 402),
            (422, 422),
            (429, 429),
            (455, 503),
            (500, 500),
            (501, 502),
            (505, 403),
        ] {
            let body = json!({"code":code,"msg":"nope","data":null});
            let fault = Kie.created(&body).expect_err("error envelope");
            assert_eq!(fault.status, Some(status), "{code}");
            assert_eq!(fault.code, Some(code.to_string()));
            assert_eq!(fault.message.as_deref(), Some("nope"));
        }
        let no_id = json!({"code":200,"msg":"success","data":null});
        assert_eq!(Kie.created(&no_id).expect_err("no id").status, None);
    }

    #[test]
    fn status_call() {
        let call = Kie.status("task_12345678", "bytedance/seedance-2-mini");
        assert_eq!(call.method, reqwest::Method::GET);
        assert_eq!(call.path, "/api/v1/jobs/recordInfo");
        assert_eq!(
            call.query,
            vec![("taskId".to_string(), "task_12345678".to_string())]
        );
        assert_eq!(Kie.cancel("task_12345678", "m"), None);
    }

    fn record(state: &str, result_json: &str, fail_code: &str, fail_msg: &str) -> Value {
        json!({"code":200,"message":"success","data":{"taskId":"task_12345678",
            "model":"bytedance/seedance-2-mini","state":state,
            "param":"{\"model\":\"bytedance/seedance-2-mini\",\"input\":{}}",
            "resultJson":result_json,"failCode":fail_code,"failMsg":fail_msg,
            "completeTime":1698765432000_i64,"createTime":1698765400000_i64,
            "updateTime":1698765432000_i64}})
    }

    #[test]
    fn documented_states() {
        assert_eq!(
            Kie.state(&record("waiting", "", "", "")),
            Ok(UpstreamState::Queued)
        );
        assert_eq!(
            Kie.state(&record("queuing", "", "", "")),
            Ok(UpstreamState::Queued)
        );
        assert_eq!(
            Kie.state(&record("generating", "", "", "")),
            Ok(UpstreamState::Running)
        );
        assert_eq!(
            Kie.state(&record(
                "success",
                "{\"resultUrls\":[\"https://tempfile.kie.ai/v.mp4\"]}",
                "",
                ""
            )),
            Ok(UpstreamState::Succeeded {
                video_url: "https://tempfile.kie.ai/v.mp4".into(),
                last_frame_url: None
            })
        );
        assert_eq!(
            Kie.state(&record("fail", "", "500", "internal error")),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "500: internal error".into()
            })
        );
        // The callback body is the same record, with `msg` in place of `message`.
        let mut callback = record(
            "success",
            "{\"resultUrls\":[\"https://tempfile.kie.ai/v.mp4\"]}",
            "",
            "",
        );
        if let Some(o) = callback.as_object_mut() {
            o.remove("message");
            o.insert("msg".into(), "success".into());
        }
        assert!(matches!(
            Kie.state(&callback),
            Ok(UpstreamState::Succeeded { .. })
        ));
    }

    #[test]
    fn fail_codes() {
        let kind = |code: &str, msg: &str| match Kie.state(&record("fail", "", code, msg)) {
            Ok(UpstreamState::Failed { kind, .. }) => Some(kind),
            _ => None,
        };
        assert_eq!(
            kind("400", "content flagged by the safety checks"),
            Some(FailureKind::Moderation)
        );
        assert_eq!(kind("400", "x"), Some(FailureKind::Moderation));
        assert_eq!(kind("422", "bad input"), Some(FailureKind::InvalidInput));
        assert_eq!(kind("429", "slow"), Some(FailureKind::RateLimited));
        assert_eq!(kind("504", "late"), Some(FailureKind::Timeout));
        assert_eq!(
            kind("501", "Generation Failed"),
            Some(FailureKind::UpstreamError)
        );
        assert_eq!(
            kind("501", "NSFW content detected"),
            Some(FailureKind::Moderation)
        );
        assert_eq!(
            kind("SensitiveContentDetected", ""),
            Some(FailureKind::Moderation)
        );
        assert_eq!(
            kind("", "prompt is invalid"),
            Some(FailureKind::InvalidInput)
        );
        assert_eq!(kind("", ""), Some(FailureKind::UpstreamError));
        assert_eq!(
            Kie.state(&record("fail", "", "410", "expired")),
            Ok(UpstreamState::Expired)
        );
        assert_eq!(
            Kie.state(&record(
                "fail",
                "",
                "499",
                "task was cancelled; credits refunded"
            )),
            Ok(UpstreamState::Cancelled)
        );
    }

    #[test]
    fn odd_answers() {
        assert!(matches!(
            Kie.state(&record("success", "", "", "")),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                ..
            })
        ));
        let fault = Kie
            .state(&record("paused", "", "", ""))
            .expect_err("unknown");
        assert_eq!(
            (fault.status, fault.code.as_deref()),
            (Some(502), Some("paused"))
        );
        assert_eq!(
            Kie.state(&record("pending", "", "", "")),
            Ok(UpstreamState::Queued)
        );
        let not_found = json!({"code":404,"msg":"task not found","data":null});
        let fault = Kie.state(&not_found).expect_err("404");
        assert_eq!(
            (fault.status, fault.message.as_deref()),
            (Some(404), Some("task not found"))
        );
        assert_eq!(Kie.state(&Value::Null).expect_err("null").status, Some(502));
    }

    #[test]
    fn faults() {
        let body = json!({"code":422,"msg":"input.duration: must be an integer from 4 to 15 seconds","data":null});
        let f = Kie.fault(&body);
        assert_eq!(f.code.as_deref(), Some("422"));
        assert_eq!(
            f.message.as_deref(),
            Some("input.duration: must be an integer from 4 to 15 seconds")
        );
        assert_eq!((f.status, f.kind), (None, None));
        let down = json!({"code":455,"msg":"maintenance","data":null});
        assert_eq!(Kie.fault(&down).status, Some(503));
        assert_eq!(Kie.fault(&Value::Null), UpstreamFault::default());
    }

    #[test]
    fn callback_bodies() {
        let body = json!({"code":200,"msg":"success","data":{"taskId":"task_1","state":"success",
            "resultJson":"{\"resultUrls\":[\"https://tempfile.kie.ai/v.mp4\"]}","consumeCredits":100,
            "remainedCredits":900,"costTime":5000}});
        assert_eq!(Kie.callback_job_id(&body), Some("task_1".into()));
        assert_eq!(
            Kie.callback_job_id(&json!({"taskId":"task_2"})),
            Some("task_2".into())
        );
        assert_eq!(
            Kie.callback_job_id(&json!({"code":200,"msg":"success"})),
            None
        );
    }

    #[test]
    fn probe_asks_for_zero_seconds() {
        let call = Kie.probe_create("bytedance/seedance-2-mini");
        assert_eq!(call.path, "/api/v1/jobs/createTask");
        assert_eq!(
            call.body,
            Some(
                json!({"model":"bytedance/seedance-2-mini","input":{"prompt":"seedgate probe","duration":0}})
            )
        );
    }
}

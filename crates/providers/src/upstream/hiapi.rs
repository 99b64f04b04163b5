//! HiAPI (api.hiapi.ai) as an upstream: the unified async task API. `POST /v1/tasks` with
//! `{model, input, callback}` answers `{"code":200,"message":"success","data":{"taskId"}}`;
//! `GET /v1/tasks/{id}` answers the same envelope around the task (`taskId`, `status`, `output[]`
//! of `{url, type, expireAt}` on success, `error {code, message}` on failure). Errors:
//! `{"code":<HTTP status>,"message","data":null,"error_code":"<ENUM>"}`, under that HTTP status
//! (an envelope whose `code` is not 200 under HTTP 200 is read the same way).
//!
//! `input` carries what the request has: `prompt`, `resolution`, `duration`, `aspect_ratio`,
//! `generate_audio` (always sent: HiAPI defaults it to true, the canonical request to false),
//! `first_frame_url`, `last_frame_url`, `reference_{image,video,audio}_urls`. HiAPI has no
//! field for:
//! - `web_search`: a request that asks for it is refused (`InvalidInput`), as the video would
//!   not be what was asked;
//! - `seed` (a reproducibility hint) and `return_last_frame` (a provider's last frame is
//!   optional): dropped; a `last_frame` output item is still used when HiAPI returns one;
//! - `nsfw_checker: false`: dropped, so HiAPI's moderation stays on.
//!
//! HiAPI requires a prompt even with a first frame; a request without one is refused.
//! The callback is `{"url": …, "when": "final"}` (fires on success and failure); its body is the
//! task (`data`), and the envelope is accepted too. No cancel is documented.
//!
//! Statuses: `queued` → Queued; `handling`, `archiving` (done, output being prepared) → Running;
//! `success` → Succeeded (the `video` item, and the `last_frame` item if any); `fail` → Failed by
//! `error.code` and message (moderation, invalid input, else upstream error; seedgate's own
//! `CANCELLED`, `EXPIRED`, `TIMEOUT` and `UPSTREAM_RATE_LIMITED` read back as seedgate meant
//! them). An unrecognised status counts as Queued or Running only when its text reads as
//! in-progress; any other is answered as a 502 fault, a transient poll error, so polling goes on
//! loudly until the status makes sense or the task's deadline passes.

use super::reapi::{
    in_progress, looks_like_input_error, looks_like_moderation, to_body, url, url_list,
};
use super::wire::{bad_answer, no_web_search, path_segment, prompt_required};
use super::{as_text, CreateContext, HttpCall, UpstreamApi, UpstreamFault, UpstreamState};
use crate::ProviderError;
use seedgate_core::task::FailureKind;
use seedgate_core::{GenerationRequest, Inexpressible};
use seedgate_wire::hiapi::{
    Callback, CreateResponse, CreateTaskRequest, CreatedTask, ErrorEnvelope, Input, OutputItem,
    TaskData, TaskFailure, TaskResponse,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

pub struct Hiapi;

pub const TASKS_PATH: &str = "/v1/tasks";

/// The task object: the envelope's `data`, or the body itself (the callback sends `data`).
fn task_data(body: &Value) -> &Value {
    match body.get("data") {
        Some(data) if data.is_object() => data,
        _ => body,
    }
}

/// A body read as `T`. Its readers never fail on an object (a field of an odd type reads as
/// absent); anything that is not an object reads as `T`'s default, which has neither code, id
/// nor status.
fn read<T: DeserializeOwned + Default>(body: &Value) -> T {
    if body.is_object() {
        T::deserialize(body).unwrap_or_default()
    } else {
        T::default()
    }
}

/// The names other than `taskId` a task's id comes under (a blog post's, a proxy's).
#[derive(Default, Deserialize)]
struct OtherIds {
    #[serde(default)]
    task_id: Option<Value>,
    #[serde(default)]
    id: Option<Value>,
}

/// The task's id: `taskId`, else `task_id`, else `id`.
fn task_id(task: &Value) -> Option<String> {
    let CreatedTask { task_id } = read(task);
    let others: OtherIds = read(task);
    Some(task_id)
        .filter(|id| !id.is_empty())
        .or_else(|| others.task_id.as_ref().and_then(as_text))
        .or_else(|| others.id.as_ref().and_then(as_text))
}

/// The fault of an envelope whose `code` says it is not a success (`None` for 2xx or no code;
/// the readers read a missing or odd code as 0).
fn envelope_fault(code: u16, body: &Value) -> Option<UpstreamFault> {
    if code == 0 || (200..300).contains(&code) {
        return None;
    }
    let mut fault = fault_from(body);
    fault.status = fault.status.or(Some(code));
    Some(fault)
}

/// A failed task's state, from `error.code` (an undocumented enum on HiAPI; seedgate's codes are
/// listed in its HiAPI dialect) and `error.message`. Moderation wording wins over any code.
fn failure(error: Option<TaskFailure>) -> UpstreamState {
    let (code, message) = match error {
        Some(e) => {
            let message = if e.message.is_empty() {
                e.msg
            } else {
                e.message
            };
            (Some(e.code.into_owned()).filter(|c| !c.is_empty()), message)
        }
        None => (None, String::new()),
    };
    let upper = code.as_deref().unwrap_or("").to_ascii_uppercase();
    if upper.contains("CANCEL") {
        return UpstreamState::Cancelled;
    }
    let kind = if looks_like_moderation(&upper) || looks_like_moderation(&message) {
        FailureKind::Moderation
    } else if upper.contains("INVALID") || upper.contains("PARAM") || upper.contains("BAD_REQUEST")
    {
        FailureKind::InvalidInput
    } else if upper.contains("RATE_LIMIT") {
        FailureKind::RateLimited
    } else if upper.contains("TIMEOUT") {
        FailureKind::Timeout
    } else if upper.contains("EXPIRED") {
        FailureKind::Expired
    } else if looks_like_input_error(&message) {
        FailureKind::InvalidInput
    } else {
        FailureKind::UpstreamError
    };
    let message = match (code, message.is_empty()) {
        (Some(c), false) => format!("{c}: {message}"),
        (Some(c), true) => format!("task failed with {c}"),
        (None, false) => message,
        (None, true) => "task failed".to_string(),
    };
    UpstreamState::Failed { kind, message }
}

/// The URL of the output item of a type; for the video, an untyped item will do.
fn output_url(items: &[OutputItem], kind: &str) -> Option<String> {
    let url = |item: &OutputItem| Some(item.url.clone()).filter(|u| !u.is_empty());
    let typed = items.iter().find(|i| i.kind == kind).and_then(url);
    typed.or_else(|| {
        (kind == "video")
            .then(|| items.iter().find(|i| i.kind.is_empty()).and_then(url))
            .flatten()
    })
}

impl UpstreamApi for Hiapi {
    fn inexpressible(&self, r: &GenerationRequest) -> Option<Inexpressible> {
        prompt_required("HiAPI", r).or_else(|| no_web_search("HiAPI", r))
    }

    fn create(&self, cx: &CreateContext<'_>) -> Result<HttpCall, ProviderError> {
        let r = cx.request;
        let input = Input {
            // Always sent: `inexpressible` refuses a request without one.
            prompt: Some(r.prompt.clone().unwrap_or_default()),
            resolution: Some(r.resolution.as_str().into()),
            duration: Some(r.duration_seconds.into()),
            aspect_ratio: Some(r.aspect_ratio.as_str().into()),
            // Always sent: HiAPI defaults it to true, the canonical request to false.
            generate_audio: Some(r.generate_audio),
            first_frame_url: url(&r.first_frame_url),
            last_frame_url: url(&r.last_frame_url),
            reference_image_urls: url_list(&r.reference_image_urls),
            reference_video_urls: url_list(&r.reference_video_urls),
            reference_audio_urls: url_list(&r.reference_audio_urls),
        };
        let body = CreateTaskRequest {
            model: Some(cx.model_id.into()),
            input: Some(input),
            callback: cx.callback_url.map(|url| Callback {
                url: Some(url.into()),
                when: Some("final".into()),
            }),
        };
        Ok(HttpCall::post(TASKS_PATH, to_body(&body)))
    }

    fn created(&self, body: &Value) -> Result<String, UpstreamFault> {
        let envelope: CreateResponse = read(body);
        if let Some(fault) = envelope_fault(envelope.code, body) {
            return Err(fault);
        }
        task_id(task_data(body)).ok_or_else(|| UpstreamFault {
            message: Some("the create answer carries no taskId".into()),
            // Not a retryable answer: the task may exist upstream.
            kind: Some(FailureKind::UpstreamError),
            ..UpstreamFault::default()
        })
    }

    fn status(&self, job_id: &str, _model_id: &str) -> HttpCall {
        HttpCall::get(format!("{TASKS_PATH}/{}", path_segment(job_id)))
    }

    fn state(&self, body: &Value) -> Result<UpstreamState, UpstreamFault> {
        let envelope: TaskResponse = read(body);
        if let Some(fault) = envelope_fault(envelope.code, body) {
            return Err(fault);
        }
        let task: TaskData = read(task_data(body));
        if task.status.is_empty() {
            return Err(bad_answer("the task answer has no status"));
        }
        match task.status.trim().to_ascii_lowercase().as_str() {
            "queued" => Ok(UpstreamState::Queued),
            "handling" | "archiving" => Ok(UpstreamState::Running),
            // `succeeded` is the shape of a HiAPI blog post; the docs say `success`.
            "success" | "succeeded" | "completed" => {
                let items = task.output.unwrap_or_default();
                match output_url(&items, "video") {
                    Some(video_url) => Ok(UpstreamState::Succeeded {
                        video_url,
                        last_frame_url: output_url(&items, "last_frame"),
                    }),
                    None => Ok(UpstreamState::Failed {
                        kind: FailureKind::UpstreamError,
                        message: "the task succeeded without a video output".into(),
                    }),
                }
            }
            "fail" | "failed" | "error" => Ok(failure(task.error)),
            "cancelled" | "canceled" => Ok(UpstreamState::Cancelled),
            "expired" => Ok(UpstreamState::Expired),
            other => in_progress(other)
                .ok_or_else(|| bad_answer(format!("unknown task status `{}`", task.status))),
        }
    }

    fn probe_create(&self, model_id: &str) -> HttpCall {
        let probe = CreateTaskRequest {
            model: Some(model_id.into()),
            input: Some(Input {
                prompt: Some("seedgate access check".into()),
                // Refused by validation before anything is generated or charged.
                duration: Some(0),
                ..Input::default()
            }),
            callback: None,
        };
        HttpCall::post(TASKS_PATH, to_body(&probe))
    }

    fn fault(&self, body: &Value) -> UpstreamFault {
        fault_from(body)
    }

    fn callback_job_id(&self, body: &Value) -> Option<String> {
        task_id(task_data(body))
    }
}

/// Code and message from HiAPI's error envelope (`error_code` preferred to the numeric `code`,
/// which only repeats the HTTP status), read by its type; else any other common shape
/// (`{"error":{"code","message"}}`, `{code, msg}`), which no one type describes.
/// `MODEL_NOT_SUPPORTED` carries status 404 so that `providers check` reports the model as
/// unavailable rather than accepting the refusal as a validation error; `INSUFFICIENT_CREDITS`
/// is the account's problem, not the request's.
fn fault_from(body: &Value) -> UpstreamFault {
    if !body.is_object() {
        return UpstreamFault::default();
    }
    let nested = body.get("error").filter(|e| e.is_object());
    let envelope: ErrorEnvelope = read(body);
    let (code, message) =
        if nested.is_none() && !envelope.error_code.is_empty() && !envelope.message.is_empty() {
            (
                Some(envelope.error_code.into_owned()),
                Some(envelope.message),
            )
        } else {
            other_error(body, nested)
        };
    let upper = code.as_deref().unwrap_or("").to_ascii_uppercase();
    let kind =
        if looks_like_moderation(&upper) || message.as_deref().is_some_and(looks_like_moderation) {
            Some(FailureKind::Moderation)
        } else if upper.contains("INSUFFICIENT") || upper.contains("CREDIT") {
            Some(FailureKind::UpstreamError)
        } else {
            None
        };
    let status = (upper == "MODEL_NOT_SUPPORTED" || upper == "MODEL_NOT_FOUND").then_some(404);
    UpstreamFault {
        code,
        message,
        kind,
        status,
    }
}

/// Code and message of an error shape that is not HiAPI's own, or HiAPI's with parts missing.
fn other_error(body: &Value, nested: Option<&Value>) -> (Option<String>, Option<String>) {
    let inner = nested.unwrap_or(body);
    let code = body
        .get("error_code")
        .and_then(as_text)
        .or_else(|| inner.get("error_code").and_then(as_text))
        .or_else(|| inner.get("code").and_then(as_text));
    let message = ["message", "msg", "detail"]
        .iter()
        .find_map(|k| inner.get(*k).and_then(Value::as_str))
        .or_else(|| body.get("error").and_then(Value::as_str))
        .map(str::to_string);
    (code, message)
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

    fn create(r: &GenerationRequest, callback: Option<&str>) -> Result<HttpCall, ProviderError> {
        Hiapi.create(&CreateContext {
            request: r,
            model_id: "seedance-2.0-mini",
            callback_url: callback,
        })
    }

    fn body_for(r: &GenerationRequest, callback: Option<&str>) -> Value {
        let call = create(r, callback).expect("expressible");
        assert_eq!(call.method, reqwest::Method::POST);
        assert_eq!(call.path, "/v1/tasks");
        call.body.expect("a body")
    }

    #[test]
    fn t2v_is_the_documented_example_with_and_without_callback() {
        let r = request(RequestDraft {
            prompt: Some("Neon-lit cyberpunk street on a rainy night".into()),
            resolution: Some("720p".into()),
            duration: Some(5),
            aspect_ratio: Some("16:9".into()),
            generate_audio: Some(true),
            ..RequestDraft::default()
        });
        let expected_input = json!({"prompt": "Neon-lit cyberpunk street on a rainy night",
            "resolution": "720p", "duration": 5, "aspect_ratio": "16:9", "generate_audio": true});
        assert_eq!(
            body_for(&r, None),
            json!({"model": "seedance-2.0-mini", "input": expected_input})
        );
        assert_eq!(
            body_for(&r, Some("https://gw.example/cb/abc")),
            json!({"model": "seedance-2.0-mini", "input": expected_input,
                "callback": {"url": "https://gw.example/cb/abc", "when": "final"}})
        );
    }

    #[test]
    fn i2v_sends_both_frames_and_audio_off_explicitly() {
        let r = request(RequestDraft {
            prompt: Some("Camera slowly pulls back".into()),
            first_frame_url: Some("https://e.com/first.jpg".into()),
            last_frame_url: Some("https://e.com/last.jpg".into()),
            resolution: Some("480p".into()),
            aspect_ratio: Some("adaptive".into()),
            duration: Some(10),
            ..RequestDraft::default()
        });
        assert_eq!(
            body_for(&r, None)["input"],
            json!({"prompt": "Camera slowly pulls back",
                "first_frame_url": "https://e.com/first.jpg",
                "last_frame_url": "https://e.com/last.jpg", "resolution": "480p",
                "aspect_ratio": "adaptive", "duration": 10, "generate_audio": false})
        );
    }

    #[test]
    fn r2v_sends_every_reference_list_and_drops_what_hiapi_lacks() {
        let mut r = request(RequestDraft {
            prompt: Some("the woman walks".into()),
            reference_image_urls: Some(vec![
                "https://e.com/a.jpg".into(),
                "https://e.com/b.jpg".into(),
            ]),
            reference_video_urls: Some(vec!["https://e.com/v.mp4".into()]),
            reference_audio_urls: Some(vec!["https://e.com/a.mp3".into()]),
            nsfw_checker: Some(false),
            ..RequestDraft::default()
        });
        r.seed = Some(3);
        r.return_last_frame = true;
        let body = body_for(&r, Some("https://gw.example/cb"));
        let input = &body["input"];
        assert_eq!(
            input["reference_image_urls"],
            json!(["https://e.com/a.jpg", "https://e.com/b.jpg"])
        );
        assert_eq!(
            input["reference_video_urls"],
            json!(["https://e.com/v.mp4"])
        );
        assert_eq!(
            input["reference_audio_urls"],
            json!(["https://e.com/a.mp3"])
        );
        for absent in [
            "first_frame_url",
            "last_frame_url",
            "seed",
            "return_last_frame",
            "nsfw_checker",
            "web_search",
        ] {
            assert!(input.get(absent).is_none(), "{absent}");
        }
        assert_eq!(
            body["callback"],
            json!({"url": "https://gw.example/cb", "when": "final"})
        );
    }

    #[test]
    fn what_hiapi_cannot_express_is_refused() {
        let r = request(RequestDraft {
            first_frame_url: Some("https://e.com/first.jpg".into()),
            ..RequestDraft::default()
        });
        assert_eq!(Hiapi.inexpressible(&r).expect("no prompt").field, "prompt");
        let r = request(RequestDraft {
            prompt: Some("news of today".into()),
            web_search: Some(true),
            ..RequestDraft::default()
        });
        assert_eq!(
            Hiapi.inexpressible(&r).expect("web search").field,
            "web_search"
        );
        let r = request(RequestDraft {
            prompt: Some("news of today".into()),
            ..RequestDraft::default()
        });
        assert_eq!(Hiapi.inexpressible(&r), None);
    }

    #[test]
    fn created_reads_the_envelope() {
        let ok = json!({"code": 200, "message": "success",
            "data": {"taskId": "tk-hiapi-01HZTQ8BX2N3GM3YFK4Z9D7VQR"}});
        assert_eq!(
            Hiapi.created(&ok),
            Ok("tk-hiapi-01HZTQ8BX2N3GM3YFK4Z9D7VQR".to_string())
        );
        let refused = json!({"code": 400, "message": "invalid request", "data": null,
            "error_code": "INVALID_REQUEST"});
        assert_eq!(
            Hiapi.created(&refused),
            Err(UpstreamFault {
                code: Some("INVALID_REQUEST".into()),
                message: Some("invalid request".into()),
                kind: None,
                status: Some(400)
            })
        );
        let busy = json!({"code": 503, "message": "busy", "data": null,
            "error_code": "SERVICE_UNAVAILABLE"});
        assert_eq!(Hiapi.created(&busy).expect_err("503").status, Some(503));
        let limited = json!({"code": "429", "message": "slow down", "data": null});
        assert_eq!(Hiapi.created(&limited).expect_err("429").status, Some(429));
        let nothing = Hiapi
            .created(&json!({"code": 200, "message": "success", "data": {}}))
            .expect_err("no id");
        assert_eq!(nothing.kind, Some(FailureKind::UpstreamError));
    }

    #[test]
    fn status_is_the_task_detail() {
        let call = Hiapi.status("tk-hiapi-01HZTQ8BX2N3GM3YFK4Z9D7VQR", "seedance-2.0-mini");
        assert_eq!(call.method, reqwest::Method::GET);
        assert_eq!(call.path, "/v1/tasks/tk-hiapi-01HZTQ8BX2N3GM3YFK4Z9D7VQR");
        assert!(call.body.is_none() && call.query.is_empty());
        assert_eq!(Hiapi.cancel("tk-hiapi-1", "m"), None);
    }

    fn detail(data: Value) -> Value {
        json!({"code": 200, "message": "success", "data": data})
    }

    #[test]
    fn every_documented_status() {
        let with = |status: &str| {
            Hiapi.state(&detail(
                json!({"taskId": "tk-hiapi-1", "model": "seedance-2-0",
                "status": status, "created": 1_700_000_000, "completed": 0}),
            ))
        };
        assert_eq!(with("queued"), Ok(UpstreamState::Queued));
        assert_eq!(with("handling"), Ok(UpstreamState::Running));
        assert_eq!(with("archiving"), Ok(UpstreamState::Running));
        let success = detail(json!({"taskId": "tk-hiapi-1", "model": "seedance-2-0",
            "status": "success", "created": 1_700_000_000, "completed": 1_700_000_090,
            "output": [
                {"url": "https://cdn.hiapi.ai/t/thumb.jpg", "type": "thumbnail", "expireAt": 1_700_086_490},
                {"url": "https://cdn.hiapi.ai/t/0.mp4", "type": "video", "expireAt": 1_700_086_490},
                {"url": "https://cdn.hiapi.ai/t/last.png", "type": "last_frame", "expireAt": 1_700_086_490}]}));
        assert_eq!(
            Hiapi.state(&success),
            Ok(UpstreamState::Succeeded {
                video_url: "https://cdn.hiapi.ai/t/0.mp4".into(),
                last_frame_url: Some("https://cdn.hiapi.ai/t/last.png".into())
            })
        );
        let video_only = detail(json!({"taskId": "tk-hiapi-1", "status": "success",
            "output": [{"url": "https://cdn.hiapi.ai/t/0.mp4", "type": "video", "expireAt": 1}]}));
        assert_eq!(
            Hiapi.state(&video_only),
            Ok(UpstreamState::Succeeded {
                video_url: "https://cdn.hiapi.ai/t/0.mp4".into(),
                last_frame_url: None
            })
        );
        let no_video = detail(json!({"taskId": "tk-hiapi-1", "status": "success",
            "output": [{"url": "https://cdn.hiapi.ai/t/a.png", "type": "image"}]}));
        assert!(matches!(
            Hiapi.state(&no_video),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                ..
            })
        ));
    }

    #[test]
    fn failed_tasks_by_code_and_message() {
        let failed = |code: &str, message: &str| {
            Hiapi
                .state(&detail(json!({"taskId": "tk-hiapi-1", "status": "fail",
                    "created": 1, "completed": 2, "error": {"code": code, "message": message}})))
                .expect("a state")
        };
        assert_eq!(
            failed("CONTENT_MODERATION", "the prompt was refused"),
            UpstreamState::Failed {
                kind: FailureKind::Moderation,
                message: "CONTENT_MODERATION: the prompt was refused".into()
            }
        );
        assert!(matches!(
            failed("GENERATION_FAILED", "audio content flagged by moderation"),
            UpstreamState::Failed {
                kind: FailureKind::Moderation,
                ..
            }
        ));
        assert!(matches!(
            failed("INVALID_INPUT", "first frame unreadable"),
            UpstreamState::Failed {
                kind: FailureKind::InvalidInput,
                ..
            }
        ));
        assert!(matches!(
            failed("UPSTREAM_RATE_LIMITED", "x"),
            UpstreamState::Failed {
                kind: FailureKind::RateLimited,
                ..
            }
        ));
        assert!(matches!(
            failed("TIMEOUT", "x"),
            UpstreamState::Failed {
                kind: FailureKind::Timeout,
                ..
            }
        ));
        assert!(matches!(
            failed("EXPIRED", "x"),
            UpstreamState::Failed {
                kind: FailureKind::Expired,
                ..
            }
        ));
        assert_eq!(failed("CANCELLED", "x"), UpstreamState::Cancelled);
        assert_eq!(
            failed("UPSTREAM_ERROR", "generation failed"),
            UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "UPSTREAM_ERROR: generation failed".into()
            }
        );
        assert_eq!(
            Hiapi.state(&detail(json!({"taskId": "tk-hiapi-1", "status": "fail"}))),
            Ok(UpstreamState::Failed {
                kind: FailureKind::UpstreamError,
                message: "task failed".into()
            })
        );
    }

    #[test]
    fn unknown_statuses_and_error_envelopes() {
        let with = |s: &str| Hiapi.state(&detail(json!({"taskId": "t", "status": s})));
        assert_eq!(with("pending"), Ok(UpstreamState::Queued));
        assert_eq!(with("processing"), Ok(UpstreamState::Running));
        let fault = with("mystery").expect_err("unknown");
        assert_eq!(fault.status, Some(502));
        let fault = Hiapi
            .state(
                &json!({"code": 404, "message": "task not found", "data": null,
                "error_code": "TASK_NOT_FOUND"}),
            )
            .expect_err("not found");
        assert_eq!(fault.status, Some(404));
        assert_eq!(fault.code.as_deref(), Some("TASK_NOT_FOUND"));
        assert_eq!(
            Hiapi
                .state(&json!({"code": 200, "data": {}}))
                .expect_err("empty")
                .status,
            Some(502)
        );
    }

    #[test]
    fn probe_asks_for_zero_seconds() {
        let call = Hiapi.probe_create("seedance-2.0-mini");
        assert_eq!(call.path, "/v1/tasks");
        assert_eq!(call.method, reqwest::Method::POST);
        let body = call.body.expect("body");
        assert_eq!(body["model"], json!("seedance-2.0-mini"));
        assert_eq!(body["input"]["duration"], json!(0));
    }

    #[test]
    fn faults() {
        let f = Hiapi.fault(
            &json!({"code": 401, "message": "invalid api key", "data": null,
            "error_code": "UNAUTHORIZED"}),
        );
        assert_eq!(
            f,
            UpstreamFault {
                code: Some("UNAUTHORIZED".into()),
                message: Some("invalid api key".into()),
                kind: None,
                status: None
            }
        );
        let f = Hiapi.fault(&json!({"code": 400, "message": "model x is not supported",
            "data": null, "error_code": "MODEL_NOT_SUPPORTED"}));
        assert_eq!(f.status, Some(404));
        let f = Hiapi.fault(
            &json!({"code": 400, "message": "prompt contains sensitive content",
            "data": null, "error_code": "CONTENT_REJECTED"}),
        );
        assert_eq!(f.kind, Some(FailureKind::Moderation));
        let f = Hiapi.fault(
            &json!({"code": 402, "message": "balance too low", "data": null,
            "error_code": "INSUFFICIENT_CREDITS"}),
        );
        assert_eq!(f.kind, Some(FailureKind::UpstreamError));
        let f = Hiapi.fault(&json!({"error": {"code": "InvalidParameter", "message": "bad"}}));
        assert_eq!(
            (f.code.as_deref(), f.message.as_deref()),
            (Some("InvalidParameter"), Some("bad"))
        );
        let f = Hiapi.fault(&json!({"code": 500, "msg": "boom"}));
        assert_eq!(
            (f.code.as_deref(), f.message.as_deref()),
            (Some("500"), Some("boom"))
        );
        assert_eq!(Hiapi.fault(&Value::Null), UpstreamFault::default());
    }

    #[test]
    fn callback_bodies_in_both_shapes() {
        let data = json!({"taskId": "tk-hiapi-01HZTQ8BX2N3GM3YFK4Z9D7VQR", "model": "seedance-2-0",
            "status": "success", "created": 1, "completed": 2,
            "output": [{"url": "https://cdn.hiapi.ai/t/0.mp4", "type": "video", "expireAt": 3}]});
        assert_eq!(
            Hiapi.callback_job_id(&data),
            Some("tk-hiapi-01HZTQ8BX2N3GM3YFK4Z9D7VQR".into())
        );
        assert_eq!(
            Hiapi.callback_job_id(&detail(data.clone())),
            Some("tk-hiapi-01HZTQ8BX2N3GM3YFK4Z9D7VQR".into())
        );
        // The callback body is the task itself; state reads it too.
        assert!(matches!(
            Hiapi.state(&data),
            Ok(UpstreamState::Succeeded { .. })
        ));
        assert_eq!(Hiapi.callback_job_id(&json!({"status": "fail"})), None);
    }
}

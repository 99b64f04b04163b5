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
    let Ok(Progress::Done(artifacts)) = provider.progress(&job(true), "task_01k9", state) else {
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
    let Ok(Progress::Done(artifacts)) = provider.progress(&job(false), "task_01k9", state) else {
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

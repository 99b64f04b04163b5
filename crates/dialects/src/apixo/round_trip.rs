//! The APIXO upstream and the APIXO dialect speak the same wire: what the upstream side sends
//! the dialect reads back as the same request, and the task view the dialect renders the
//! upstream side reads back as the same state.

use super::{parse_generate, status_response};
use crate::round_trip_fixtures::{request, strings, url};
use seedgate_core::pricing::Price;
use seedgate_core::task::{FailureKind, TaskError, TaskOutput, TaskStatus};
use seedgate_core::{
    ApiKeyId, AspectRatio, GenerationRequest, Mode, RequestDraft, Resolution, Task, TaskId,
};
use seedgate_providers::upstream::apixo::Apixo;
use seedgate_providers::upstream::{CreateContext, UpstreamApi, UpstreamState};

const MODEL_ID: &str = "seedance-2-0-mini";

/// The canonical requests APIXO can carry: one per mode, with and without a callback.
fn requests() -> Vec<(GenerationRequest, Option<&'static str>)> {
    vec![
        (request(Mode::T2v), None),
        (
            GenerationRequest {
                generate_audio: false,
                web_search: true,
                resolution: Resolution::P480,
                aspect_ratio: AspectRatio::R9x16,
                duration_seconds: 12,
                ..request(Mode::T2v)
            },
            Some("https://gw.example/cb/1"),
        ),
        (
            GenerationRequest {
                first_frame_url: Some(url("https://e.com/first.png")),
                last_frame_url: Some(url("https://e.com/last.png")),
                aspect_ratio: AspectRatio::Adaptive,
                ..request(Mode::I2v)
            },
            Some("https://gw.example/cb/2"),
        ),
        (
            GenerationRequest {
                first_frame_url: Some(url("https://e.com/first.png")),
                ..request(Mode::I2v)
            },
            None,
        ),
        (
            GenerationRequest {
                reference_image_urls: vec![url("https://e.com/a.png"), url("https://e.com/b.png")],
                reference_video_urls: vec![url("https://e.com/v.mp4")],
                reference_audio_urls: vec![url("https://e.com/s.mp3")],
                aspect_ratio: AspectRatio::R1x1,
                duration_seconds: 8,
                ..request(Mode::R2v)
            },
            None,
        ),
        (
            GenerationRequest {
                reference_image_urls: vec![url("https://e.com/a.png")],
                ..request(Mode::R2v)
            },
            None,
        ),
    ]
}

#[test]
fn what_the_upstream_sends_the_dialect_reads_as_the_same_request() {
    for (r, callback_url) in requests() {
        let call = Apixo
            .create(&CreateContext {
                request: &r,
                model_id: MODEL_ID,
                callback_url,
            })
            .expect("expressible");
        assert_eq!(call.path, format!("/api/v1/generateTask/{MODEL_ID}"));
        let body = serde_json::to_vec(&call.body.expect("a body")).expect("json");
        let (draft, _) = parse_generate(&body, MODEL_ID).expect("the dialect accepts it");
        let expected = RequestDraft {
            model: Some(MODEL_ID.into()),
            prompt: r.prompt.clone(),
            first_frame_url: r.first_frame_url.as_ref().map(|u| u.as_str().into()),
            last_frame_url: r.last_frame_url.as_ref().map(|u| u.as_str().into()),
            reference_image_urls: strings(&r.reference_image_urls),
            reference_video_urls: strings(&r.reference_video_urls),
            reference_audio_urls: strings(&r.reference_audio_urls),
            generate_audio: Some(r.generate_audio),
            resolution: Some(r.resolution.as_str().into()),
            aspect_ratio: Some(r.aspect_ratio.as_str().into()),
            duration: Some(r.duration_seconds.into()),
            web_search: Some(r.web_search),
            callback_url: callback_url.map(String::from),
            explicit_mode: Some(r.mode),
            ..RequestDraft::default()
        };
        assert_eq!(draft, expected, "{r:?}");
    }
}

fn task(status: TaskStatus) -> Task {
    Task {
        id: TaskId::generate(),
        account_id: seedgate_core::AccountId::generate(),
        api_key_id: ApiKeyId::generate(),
        request: request(Mode::T2v),
        requested_model: MODEL_ID.into(),
        origin_dialect: super::DIALECT.name.into(),
        status,
        price: Price {
            billable_seconds: 5,
            credits: 513,
            micro_usd_per_second: 102_500,
        },
        attempt: 1,
        created_at_ms: 1_700_000_000_500,
        updated_at_ms: 1_700_000_009_900,
        started_at_ms: Some(1_700_000_001_000),
        finished_at_ms: status.is_terminal().then_some(1_700_000_009_900),
        output: None,
        error: None,
        provider: None,
    }
}

/// The dialect's statusTask answer (also its callback body) as JSON on the wire.
fn rendered(task: &Task) -> serde_json::Value {
    let json = serde_json::to_string(&status_response(task)).expect("json");
    serde_json::from_str(&json).expect("parses")
}

#[test]
fn what_the_dialect_answers_the_upstream_reads_as_the_same_task() {
    assert_eq!(
        Apixo.state(&rendered(&task(TaskStatus::Queued))),
        Ok(UpstreamState::Queued)
    );
    assert_eq!(
        Apixo.state(&rendered(&task(TaskStatus::Running))),
        Ok(UpstreamState::Running)
    );
    let mut done = task(TaskStatus::Succeeded);
    done.output = Some(TaskOutput {
        video_urls: vec!["https://gw.example/media/0.mp4".into()],
        ..TaskOutput::default()
    });
    // APIXO has no place for a last frame: only the video comes back.
    assert_eq!(
        Apixo.state(&rendered(&done)),
        Ok(UpstreamState::Succeeded {
            video_url: "https://gw.example/media/0.mp4".into(),
            last_frame_url: None,
        })
    );
    assert_eq!(
        Apixo.state(&rendered(&task(TaskStatus::Cancelled))),
        Ok(UpstreamState::Cancelled)
    );
    // Kinds APIXO's failCodes keep apart come back as they were; Expired travels as `Timeout`
    // and seedgate's own failure as `Unknown error` (an upstream error, seen from outside).
    for (kind, message, back) in [
        (FailureKind::Moderation, "blocked", FailureKind::Moderation),
        (
            FailureKind::InvalidInput,
            "bad prompt",
            FailureKind::InvalidInput,
        ),
        (
            FailureKind::InvalidInput,
            "image too small",
            FailureKind::InvalidInput,
        ),
        (FailureKind::RateLimited, "busy", FailureKind::RateLimited),
        (FailureKind::Timeout, "slow", FailureKind::Timeout),
        (FailureKind::Expired, "late", FailureKind::Timeout),
        (
            FailureKind::UpstreamError,
            "provider down",
            FailureKind::UpstreamError,
        ),
        (FailureKind::Internal, "oops", FailureKind::UpstreamError),
    ] {
        let mut failed = task(TaskStatus::Failed);
        failed.error = Some(TaskError {
            kind,
            message: message.into(),
        });
        match Apixo.state(&rendered(&failed)) {
            Ok(UpstreamState::Failed {
                kind: k,
                message: m,
            }) => {
                assert_eq!(k, back, "{kind:?}");
                assert!(m.ends_with(message), "{m}");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
    }
}

#[test]
fn the_create_answer_the_dialect_writes_gives_the_upstream_its_task_id() {
    let t = task(TaskStatus::Queued);
    let stored = super::routes::render_created(&t);
    let json: serde_json::Value = serde_json::from_slice(&stored.body).expect("json");
    assert_eq!(Apixo.created(&json), Ok(t.id.to_string()));
    assert_eq!(Apixo.callback_job_id(&rendered(&t)), Some(t.id.to_string()));
}

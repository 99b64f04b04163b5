//! The CRUN upstream and the CRUN dialect speak the same wire: what the upstream side sends
//! the dialect reads back as the same request, and the task view the dialect renders the
//! upstream side reads back as the same state.

use super::{parse_create, task_info, TaskInfoResponse};
use crate::round_trip_fixtures::{request, strings, url};
use seedgate_core::pricing::Price;
use seedgate_core::task::{FailureKind, TaskError, TaskOutput, TaskStatus};
use seedgate_core::{
    ApiKeyId, AspectRatio, Catalog, GenerationRequest, Mode, RequestDraft, Resolution, Task, TaskId,
};
use seedgate_providers::upstream::crun::Crun;
use seedgate_providers::upstream::{CreateContext, UpstreamApi, UpstreamState};

/// The account's model id: the family, re-suffixed per mode by the upstream side.
const MODEL_ID: &str = "bytedance/seedance2-0-mini";

/// The canonical requests CRUN can carry (no web search): one per mode, with and without a
/// callback, a prompt, a last frame.
fn requests() -> Vec<(GenerationRequest, Option<&'static str>)> {
    vec![
        (request(Mode::T2v), None),
        (
            GenerationRequest {
                generate_audio: false,
                return_last_frame: true,
                resolution: Resolution::P480,
                aspect_ratio: AspectRatio::R9x16,
                duration_seconds: 12,
                ..request(Mode::T2v)
            },
            Some("https://gw.example/cb/1"),
        ),
        (
            GenerationRequest {
                prompt: None,
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
                reference_video_urls: vec![url("https://e.com/v.mp4")],
                ..request(Mode::R2v)
            },
            None,
        ),
    ]
}

#[test]
fn what_the_upstream_sends_the_dialect_reads_as_the_same_request() {
    let catalog = Catalog::builtin();
    for (r, callback_url) in requests() {
        assert_eq!(Crun.inexpressible(&r), None, "{r:?}");
        let call = Crun
            .create(&CreateContext {
                request: &r,
                model_id: MODEL_ID,
                callback_url,
            })
            .expect("expressible");
        let body = serde_json::to_vec(&call.body.expect("a body")).expect("json");
        let (draft, name, _) = parse_create(&body, &catalog).expect("the dialect accepts it");
        assert_eq!(name, format!("{MODEL_ID}-{}", r.mode.as_str()));
        let expected = RequestDraft {
            model: Some(r.model.clone()),
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
            return_last_frame: Some(r.return_last_frame),
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
        requested_model: "bytedance/seedance2-0-mini-t2v".into(),
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

/// The dialect's TaskInfo answer as JSON on the wire.
fn rendered(task: &Task) -> serde_json::Value {
    let answer = TaskInfoResponse {
        code: 200,
        message: "success".into(),
        data: task_info(task),
    };
    let json = serde_json::to_string(&answer).expect("json");
    serde_json::from_str(&json).expect("parses")
}

#[test]
fn what_the_dialect_answers_the_upstream_reads_as_the_same_task() {
    assert_eq!(
        Crun.state(&rendered(&task(TaskStatus::Queued))),
        Ok(UpstreamState::Queued)
    );
    assert_eq!(
        Crun.state(&rendered(&task(TaskStatus::Running))),
        Ok(UpstreamState::Running)
    );
    let mut done = task(TaskStatus::Succeeded);
    done.output = Some(TaskOutput {
        video_urls: vec!["https://gw.example/media/0.mp4".into()],
        last_frame_url: Some("https://gw.example/media/last.png".into()),
        ..TaskOutput::default()
    });
    assert_eq!(
        Crun.state(&rendered(&done)),
        Ok(UpstreamState::Succeeded {
            video_url: "https://gw.example/media/0.mp4".into(),
            last_frame_url: Some("https://gw.example/media/last.png".into()),
        })
    );
    // CRUN writes every failure as `result.code` 501 with the message, so the kind comes back
    // only as far as the message's words tell it; a cancelled task is a failed one on CRUN's
    // wire (it has no cancelled status).
    for (kind, message, back) in [
        (
            FailureKind::Moderation,
            "output flagged as sensitive content",
            FailureKind::Moderation,
        ),
        (
            FailureKind::InvalidInput,
            "invalid image URL",
            FailureKind::InvalidInput,
        ),
        (
            FailureKind::UpstreamError,
            "provider down",
            FailureKind::UpstreamError,
        ),
        (FailureKind::RateLimited, "busy", FailureKind::UpstreamError),
        (FailureKind::Timeout, "slow", FailureKind::UpstreamError),
    ] {
        let mut failed = task(TaskStatus::Failed);
        failed.error = Some(TaskError {
            kind,
            message: message.into(),
        });
        assert_eq!(
            Crun.state(&rendered(&failed)),
            Ok(UpstreamState::Failed {
                kind: back,
                message: format!("501: {message}"),
            }),
            "{kind:?}"
        );
    }
    assert_eq!(
        Crun.state(&rendered(&task(TaskStatus::Cancelled))),
        Ok(UpstreamState::Failed {
            kind: FailureKind::UpstreamError,
            message: "501: task was cancelled; credits refunded".into(),
        })
    );
}

#[test]
fn the_create_answer_and_callback_the_dialect_writes_give_the_upstream_its_task_id() {
    let t = task(TaskStatus::Queued);
    let stored = super::routes::render_created(&t);
    let json: serde_json::Value = serde_json::from_slice(&stored.body).expect("json");
    assert_eq!(Crun.created(&json), Ok(t.id.to_string()));
    // A CRUN callback is the TaskInfo `data` object.
    let callback = serde_json::to_value(task_info(&t)).expect("json");
    assert_eq!(Crun.callback_job_id(&callback), Some(t.id.to_string()));
}

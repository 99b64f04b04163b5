//! reAPI spoken to itself: what the reAPI upstream sends is parsed by the reAPI dialect into the
//! request it came from, and what the dialect serves is read by the upstream as the task's state.
//! Both sides share the wire crate's types; these tests tie their conversions together without
//! a server in between.

use super::{parse_submit, task_object};
use seedgate_core::catalog::ModelOverride;
use seedgate_core::pricing::Price;
use seedgate_core::{
    ApiKeyId, Catalog, FailureKind, GenerationRequest, RequestDraft, Task, TaskError, TaskId,
    TaskOutput, TaskStatus,
};
use seedgate_providers::upstream::reapi::Reapi;
use seedgate_providers::upstream::{CreateContext, UpstreamApi, UpstreamState};
use std::collections::BTreeMap;

/// The built-in catalog with Seedance 2.5 switched on, so that the 2.5 shape validates.
fn catalog() -> Catalog {
    let mut overrides = BTreeMap::new();
    overrides.insert(
        "seedance-2.5".to_string(),
        ModelOverride {
            available: Some(true),
            ..ModelOverride::default()
        },
    );
    Catalog::builtin()
        .with_overrides(&overrides)
        .expect("valid override")
}

fn request(draft: RequestDraft) -> GenerationRequest {
    GenerationRequest::from_draft(draft, &catalog()).expect("valid request")
}

/// The request as the upstream sends it to `model_id`, parsed back by the dialect and
/// validated again.
fn sent_and_parsed(r: &GenerationRequest, model_id: &str) -> (RequestDraft, GenerationRequest) {
    let call = Reapi
        .create(&CreateContext {
            request: r,
            model_id,
            callback_url: Some("https://gw.example/cb/1"),
        })
        .expect("expressible");
    let body = serde_json::to_vec(&call.body.expect("a body")).expect("json");
    let (draft, _) = parse_submit(&body, &catalog()).expect("the dialect takes the body");
    let back = GenerationRequest::from_draft(draft.clone(), &catalog()).expect("still valid");
    (draft, back)
}

#[test]
fn mini_requests_come_back_as_they_were_sent() {
    let r2v = request(RequestDraft {
        model: Some("seedance-2.0-mini".into()),
        prompt: Some("the woman walks through the plaza".into()),
        reference_image_urls: Some(vec![
            "https://e.com/a.jpg".into(),
            "https://e.com/b.jpg".into(),
        ]),
        reference_video_urls: Some(vec!["https://e.com/v.mp4".into()]),
        reference_audio_urls: Some(vec!["https://e.com/a.mp3".into()]),
        generate_audio: Some(true),
        resolution: Some("480p".into()),
        aspect_ratio: Some("9:16".into()),
        duration: Some(8),
        web_search: Some(true),
        nsfw_checker: Some(false),
        ..RequestDraft::default()
    });
    let (draft, back) = sent_and_parsed(&r2v, "seedance-2.0-mini");
    assert_eq!(draft.model.as_deref(), Some("seedance-2.0-mini"));
    assert_eq!(draft.prompt, r2v.prompt);
    assert_eq!(
        draft.reference_image_urls,
        Some(vec![
            "https://e.com/a.jpg".to_string(),
            "https://e.com/b.jpg".to_string()
        ])
    );
    assert_eq!(
        (draft.resolution.as_deref(), draft.aspect_ratio.as_deref()),
        (Some("480p"), Some("9:16"))
    );
    assert_eq!(
        (
            draft.duration,
            draft.generate_audio,
            draft.web_search,
            draft.nsfw_checker
        ),
        (Some(8), Some(true), Some(true), Some(false))
    );
    assert_eq!(draft.callback_url, None, "reAPI has no callback");
    assert_eq!(back, r2v);

    let mut i2v = request(RequestDraft {
        model: Some("seedance-2.0-mini".into()),
        first_frame_url: Some("https://e.com/first.jpg".into()),
        last_frame_url: Some("https://e.com/last.jpg".into()),
        aspect_ratio: Some("adaptive".into()),
        ..RequestDraft::default()
    });
    let (draft, back) = sent_and_parsed(&i2v, "seedance-2.0-mini");
    assert_eq!(
        (
            draft.first_frame_url.as_deref(),
            draft.last_frame_url.as_deref()
        ),
        (
            Some("https://e.com/first.jpg"),
            Some("https://e.com/last.jpg")
        )
    );
    assert_eq!(back, i2v);
    // The Mini shape has no seed and no last-frame switch: both are dropped, nothing else.
    i2v.seed = Some(42);
    i2v.return_last_frame = true;
    let (_, back) = sent_and_parsed(&i2v, "seedance-2.0-mini");
    assert_eq!(
        back,
        GenerationRequest {
            seed: None,
            return_last_frame: false,
            ..i2v
        }
    );
}

#[test]
fn requests_in_the_2_5_shape_come_back_as_they_were_sent() {
    let mut i2v = request(RequestDraft {
        model: Some("seedance-2.5".into()),
        prompt: Some("camera pulls back".into()),
        first_frame_url: Some("https://e.com/first.jpg".into()),
        last_frame_url: Some("https://e.com/last.jpg".into()),
        resolution: Some("720p".into()),
        aspect_ratio: Some("21:9".into()),
        duration: Some(6),
        web_search: Some(true),
        ..RequestDraft::default()
    });
    i2v.seed = Some(7);
    i2v.return_last_frame = true;
    let (draft, back) = sent_and_parsed(&i2v, "seedance-2.5");
    assert_eq!(
        (draft.seed, draft.return_last_frame, draft.web_search),
        (Some(7), Some(true), Some(true))
    );
    assert_eq!(draft.aspect_ratio.as_deref(), Some("21:9"));
    assert_eq!(
        draft.first_frame_url.as_deref(),
        Some("https://e.com/first.jpg")
    );
    assert_eq!(back, i2v);

    let r2v = request(RequestDraft {
        model: Some("seedance-2.5".into()),
        prompt: Some("the woman walks".into()),
        reference_image_urls: Some(vec!["https://e.com/a.jpg".into()]),
        reference_video_urls: Some(vec!["https://e.com/v.mp4".into()]),
        reference_audio_urls: Some(vec!["https://e.com/a.mp3".into()]),
        ..RequestDraft::default()
    });
    let (draft, back) = sent_and_parsed(&r2v, "seedance-2.5");
    assert_eq!(
        draft.reference_audio_urls,
        Some(vec!["https://e.com/a.mp3".to_string()])
    );
    assert_eq!(back, r2v);
}

fn task(status: TaskStatus) -> Task {
    let request = request(RequestDraft {
        model: Some("seedance-2.0-mini".into()),
        prompt: Some("p".into()),
        ..RequestDraft::default()
    });
    Task {
        id: TaskId::generate(),
        account_id: seedgate_core::AccountId::generate(),
        api_key_id: ApiKeyId::generate(),
        request,
        requested_model: "seedance-2-0-mini".into(),
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

/// The task as the dialect serves it, read by the upstream.
fn served_and_read(task: &Task) -> UpstreamState {
    let view = task_object(task);
    let failed = view.error.is_some();
    let body = serde_json::to_value(view).expect("json");
    let created = Reapi.created(&body);
    if failed {
        // A task object with an error reads as an error answer to a create.
        assert!(created.is_err(), "{created:?}");
    } else {
        assert_eq!(
            created,
            Ok(task.id.to_string()),
            "the create answer names the task"
        );
    }
    assert_eq!(Reapi.callback_job_id(&body), Some(task.id.to_string()));
    Reapi.state(&body).expect("a state")
}

#[test]
fn served_tasks_read_back_as_their_state() {
    // reAPI does not tell queued from running.
    assert_eq!(
        served_and_read(&task(TaskStatus::Queued)),
        UpstreamState::Running
    );
    assert_eq!(
        served_and_read(&task(TaskStatus::Running)),
        UpstreamState::Running
    );
    let mut done = task(TaskStatus::Succeeded);
    done.output = Some(TaskOutput {
        video_urls: vec!["http://h/media/0.mp4".into()],
        last_frame_url: Some("http://h/media/last.png".into()),
        ..TaskOutput::default()
    });
    assert_eq!(
        served_and_read(&done),
        UpstreamState::Succeeded {
            video_url: "http://h/media/0.mp4".into(),
            last_frame_url: Some("http://h/media/last.png".into())
        }
    );
    done.output = Some(TaskOutput {
        video_urls: vec!["http://h/media/0.mp4".into()],
        ..TaskOutput::default()
    });
    assert_eq!(
        served_and_read(&done),
        UpstreamState::Succeeded {
            video_url: "http://h/media/0.mp4".into(),
            last_frame_url: None
        }
    );
    assert_eq!(
        served_and_read(&task(TaskStatus::Cancelled)),
        UpstreamState::Cancelled
    );
}

#[test]
fn served_failures_read_back_as_their_kind() {
    for (kind, read_as) in [
        (FailureKind::Moderation, FailureKind::Moderation),
        (FailureKind::InvalidInput, FailureKind::InvalidInput),
        (FailureKind::RateLimited, FailureKind::RateLimited),
        (FailureKind::Timeout, FailureKind::Timeout),
        (FailureKind::Expired, FailureKind::Expired),
        (FailureKind::UpstreamError, FailureKind::UpstreamError),
        // Seedgate's own failure is, to whoever forwards to it, the upstream's.
        (FailureKind::Internal, FailureKind::UpstreamError),
    ] {
        let mut failed = task(TaskStatus::Failed);
        failed.error = Some(TaskError {
            kind,
            message: "generation stopped".into(),
        });
        match served_and_read(&failed) {
            UpstreamState::Failed {
                kind: read,
                message,
            } => {
                assert_eq!(read, read_as, "{kind:?}");
                assert!(message.ends_with(": generation stopped"), "{message}");
            }
            other => panic!("{kind:?}: {other:?}"),
        }
    }
    assert!(matches!(
        served_and_read(&task(TaskStatus::Failed)),
        UpstreamState::Failed {
            kind: FailureKind::UpstreamError,
            ..
        }
    ));
}

//! HiAPI spoken to itself: what the HiAPI upstream sends is parsed by the HiAPI dialect into the
//! request it came from, and what the dialect serves is read by the upstream as the task's state.
//! Both sides share the wire crate's types; these tests tie their conversions together without
//! a server in between.

use super::{error_code, parse_create, task_data, CreateResponse, CreatedTask, ErrorEnvelope};
use super::{TaskResponse, DIALECT};
use seedgate_core::pricing::Price;
use seedgate_core::{
    ApiKeyId, Catalog, FailureKind, GatewayError, GenerationRequest, RequestDraft, Task, TaskError,
    TaskId, TaskOutput, TaskStatus,
};
use seedgate_providers::upstream::hiapi::Hiapi;
use seedgate_providers::upstream::{CreateContext, UpstreamApi, UpstreamState};

fn request(draft: RequestDraft) -> GenerationRequest {
    GenerationRequest::from_draft(draft, &Catalog::builtin()).expect("valid request")
}

/// The request as the upstream sends it, parsed back by the dialect and validated again.
fn sent_and_parsed(r: &GenerationRequest) -> (RequestDraft, GenerationRequest) {
    let call = Hiapi
        .create(&CreateContext {
            request: r,
            model_id: "seedance-2.0-mini",
            callback_url: r.callback_url.as_deref(),
        })
        .expect("expressible");
    let body = serde_json::to_vec(&call.body.expect("a body")).expect("json");
    let (draft, _) = parse_create(&body, &Catalog::builtin()).expect("the dialect takes it");
    let back = GenerationRequest::from_draft(draft.clone(), &Catalog::builtin()).expect("valid");
    (draft, back)
}

#[test]
fn requests_come_back_as_they_were_sent() {
    let r2v = request(RequestDraft {
        model: Some("seedance-2.0-mini".into()),
        prompt: Some("the woman walks through the plaza".into()),
        reference_image_urls: Some(vec![
            "https://e.com/a.jpg".into(),
            "https://e.com/b.jpg".into(),
        ]),
        reference_video_urls: Some(vec!["https://e.com/v.mp4".into()]),
        reference_audio_urls: Some(vec!["https://e.com/a.mp3".into()]),
        resolution: Some("480p".into()),
        aspect_ratio: Some("9:16".into()),
        duration: Some(8),
        callback_url: Some("https://gw.example/cb/1".into()),
        ..RequestDraft::default()
    });
    let (draft, back) = sent_and_parsed(&r2v);
    assert_eq!(draft.model.as_deref(), Some("seedance-2.0-mini"));
    assert_eq!(draft.prompt, r2v.prompt);
    assert_eq!(
        draft.reference_video_urls,
        Some(vec!["https://e.com/v.mp4".to_string()])
    );
    assert_eq!(
        (
            draft.resolution.as_deref(),
            draft.aspect_ratio.as_deref(),
            draft.duration
        ),
        (Some("480p"), Some("9:16"), Some(8))
    );
    // Sent explicitly, so HiAPI's default (on) does not replace the canonical one (off).
    assert_eq!(draft.generate_audio, Some(false));
    assert_eq!(
        draft.callback_url.as_deref(),
        Some("https://gw.example/cb/1")
    );
    assert_eq!(back, r2v);

    let mut i2v = request(RequestDraft {
        model: Some("seedance-2.0-mini".into()),
        prompt: Some("camera pulls back".into()),
        first_frame_url: Some("https://e.com/first.jpg".into()),
        last_frame_url: Some("https://e.com/last.jpg".into()),
        aspect_ratio: Some("adaptive".into()),
        generate_audio: Some(true),
        ..RequestDraft::default()
    });
    let (draft, back) = sent_and_parsed(&i2v);
    assert_eq!(
        (
            draft.first_frame_url.as_deref(),
            draft.last_frame_url.as_deref(),
            draft.generate_audio
        ),
        (
            Some("https://e.com/first.jpg"),
            Some("https://e.com/last.jpg"),
            Some(true)
        )
    );
    assert_eq!(back, i2v);
    // HiAPI has no seed, last-frame switch or NSFW switch: they are dropped, nothing else.
    i2v.seed = Some(42);
    i2v.return_last_frame = true;
    i2v.nsfw_checker = false;
    let (_, back) = sent_and_parsed(&i2v);
    assert_eq!(
        back,
        GenerationRequest {
            seed: None,
            return_last_frame: false,
            nsfw_checker: true,
            ..i2v
        }
    );
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
        origin_dialect: DIALECT.name.into(),
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

/// The task as the dialect serves it (the detail answer, and the callback body, which is its
/// `data`), read by the upstream; both must agree.
fn served_and_read(task: &Task) -> UpstreamState {
    let detail = serde_json::to_value(TaskResponse {
        code: 200,
        message: "success".into(),
        data: task_data(task),
    })
    .expect("json");
    let callback = serde_json::to_value(task_data(task)).expect("json");
    assert_eq!(Hiapi.callback_job_id(&callback), Some(task.id.to_string()));
    assert_eq!(Hiapi.callback_job_id(&detail), Some(task.id.to_string()));
    let state = Hiapi.state(&detail).expect("a state");
    assert_eq!(Hiapi.state(&callback), Ok(state.clone()));
    state
}

#[test]
fn the_create_answer_names_the_task() {
    let answer = serde_json::to_value(CreateResponse {
        code: 200,
        message: "success".into(),
        data: CreatedTask {
            task_id: "task_01k9".into(),
        },
    })
    .expect("json");
    assert_eq!(Hiapi.created(&answer), Ok("task_01k9".to_string()));
}

#[test]
fn served_tasks_read_back_as_their_state() {
    assert_eq!(
        served_and_read(&task(TaskStatus::Queued)),
        UpstreamState::Queued
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
}

#[test]
fn served_errors_read_back_as_faults() {
    for (error, status) in [
        (GatewayError::NotFound, 404),
        (
            GatewayError::RateLimited {
                retry_after: std::time::Duration::from_secs(3),
            },
            429,
        ),
    ] {
        let (code, http) = error_code(&error);
        let body = serde_json::to_value(ErrorEnvelope {
            code: http.as_u16(),
            message: error.to_string(),
            data: None,
            error_code: code.into(),
        })
        .expect("json");
        let fault = Hiapi.state(&body).expect_err("an error envelope");
        assert_eq!(fault.status, Some(status));
        assert_eq!(fault.code.as_deref(), Some(code));
        assert_eq!(fault.message, Some(error.to_string()));
        assert_eq!(Hiapi.created(&body).expect_err("also to a create"), fault);
    }
}

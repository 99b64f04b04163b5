//! One wire model, two sides: what the Ark upstream writes, this dialect reads back to the same
//! request; what this dialect renders, the Ark upstream reads back to the same state. A change
//! to either side that the other does not follow fails here rather than end-to-end.

use super::{parse_create, task_object, CreateTaskResponse};
use seedgate_core::task::{FailureKind, TaskError, TaskStatus};
use seedgate_core::{Catalog, GenerationRequest, RequestDraft, Task, TaskOutput};
use seedgate_providers::upstream::ark::Ark;
use seedgate_providers::upstream::{CreateContext, UpstreamApi, UpstreamState};

const MODEL_ID: &str = "dreamina-seedance-2-0-mini-260615";

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

/// The request the upstream side sends, as the serving side understands it.
fn sent_and_read_back(original: &GenerationRequest) -> GenerationRequest {
    let catalog = Catalog::builtin();
    let call = Ark
        .create(&CreateContext {
            request: original,
            model_id: MODEL_ID,
            callback_url: None,
        })
        .expect("expressible");
    let bytes = serde_json::to_vec(&call.body.expect("a body")).expect("json");
    let parsed = parse_create(&bytes, &catalog).expect("the dialect accepts the upstream's body");
    let mut back = GenerationRequest::from_draft(parsed.draft, &catalog).expect("valid");
    // Ark has no switch for it: the dialect's default, not the sender's, is what comes back.
    back.nsfw_checker = original.nsfw_checker;
    back
}

#[test]
fn a_request_sent_upstream_reads_back_as_itself() {
    let frames = request(RequestDraft {
        prompt: Some("she turns around".into()),
        first_frame_url: Some("https://e.com/first.png".into()),
        last_frame_url: Some("https://e.com/last.png".into()),
        resolution: Some("480p".into()),
        aspect_ratio: Some("9:16".into()),
        duration: Some(6),
        generate_audio: Some(false),
        seed: Some(42),
        return_last_frame: Some(true),
        expires_after_seconds: Some(7_200),
        priority: Some(3),
        safety_identifier: Some("user-1".into()),
        ..Default::default()
    });
    let references = request(RequestDraft {
        prompt: Some("[Image 1] walks down [Video 1] to [Audio 1]".into()),
        reference_image_urls: Some(vec![
            "https://e.com/a.png".into(),
            "https://e.com/b.png".into(),
        ]),
        reference_video_urls: Some(vec!["https://e.com/v.mp4".into()]),
        reference_audio_urls: Some(vec!["https://e.com/s.mp3".into()]),
        ..Default::default()
    });
    let searched = request(RequestDraft {
        prompt: Some("today's weather in Paris".into()),
        web_search: Some(true),
        aspect_ratio: Some("adaptive".into()),
        ..Default::default()
    });
    for original in [frames, references, searched] {
        assert_eq!(sent_and_read_back(&original), original);
    }
}

fn task(status: TaskStatus) -> Task {
    Task {
        id: seedgate_core::TaskId::generate(),
        account_id: seedgate_core::AccountId::generate(),
        api_key_id: seedgate_core::ApiKeyId::generate(),
        request: request(RequestDraft {
            prompt: Some("a fox".into()),
            ..Default::default()
        }),
        requested_model: MODEL_ID.into(),
        origin_dialect: super::DIALECT.name.into(),
        status,
        price: seedgate_core::pricing::Price {
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

/// A task as this dialect renders it (GET and callbacks), as the Ark upstream reads it.
fn rendered_and_read_back(task: &Task) -> UpstreamState {
    let body = serde_json::to_value(task_object(task, &Catalog::builtin())).expect("json");
    assert_eq!(
        Ark.callback_job_id(&body),
        Some(task.id.to_string()),
        "{body}"
    );
    Ark.state(&body).expect("a state")
}

#[test]
fn a_rendered_task_reads_back_as_its_state() {
    assert_eq!(
        rendered_and_read_back(&task(TaskStatus::Queued)),
        UpstreamState::Queued
    );
    assert_eq!(
        rendered_and_read_back(&task(TaskStatus::Running)),
        UpstreamState::Running
    );
    assert_eq!(
        rendered_and_read_back(&task(TaskStatus::Cancelled)),
        UpstreamState::Cancelled
    );

    let mut succeeded = task(TaskStatus::Succeeded);
    succeeded.output = Some(TaskOutput {
        video_urls: vec!["https://gw.example/media/0.mp4".into()],
        last_frame_url: Some("https://gw.example/media/last.png".into()),
        width: Some(864),
        height: Some(496),
        ..Default::default()
    });
    assert_eq!(
        rendered_and_read_back(&succeeded),
        UpstreamState::Succeeded {
            video_url: "https://gw.example/media/0.mp4".into(),
            last_frame_url: Some("https://gw.example/media/last.png".into()),
        }
    );

    // Each failure kind comes back as itself, but for the two Ark reports with one code
    // (`InternalServiceError`): the upstream reads both as an upstream error.
    for (kind, read) in [
        (FailureKind::Moderation, FailureKind::Moderation),
        (FailureKind::InvalidInput, FailureKind::InvalidInput),
        (FailureKind::RateLimited, FailureKind::RateLimited),
        (FailureKind::UpstreamError, FailureKind::UpstreamError),
        (FailureKind::Internal, FailureKind::UpstreamError),
        (FailureKind::Timeout, FailureKind::Timeout),
    ] {
        let mut failed = task(TaskStatus::Failed);
        failed.error = Some(TaskError {
            kind,
            message: "it went wrong".into(),
        });
        assert_eq!(
            rendered_and_read_back(&failed),
            UpstreamState::Failed {
                kind: read,
                message: "it went wrong".into()
            },
            "{kind:?}"
        );
    }
    let mut expired = task(TaskStatus::Failed);
    expired.error = Some(TaskError {
        kind: FailureKind::Expired,
        message: "the task expired".into(),
    });
    assert_eq!(rendered_and_read_back(&expired), UpstreamState::Expired);
}

#[test]
fn the_create_answer_reads_back_as_the_task_id() {
    let answer = CreateTaskResponse {
        id: "task_01k9".into(),
    };
    let body = serde_json::to_value(&answer).expect("json");
    assert_eq!(Ark.created(&body), Ok("task_01k9".to_string()));
}

//! HiAPI ↔ canonical: a create body to a [`RequestDraft`], a [`Task`] to HiAPI's task data
//! and list item, list paging.

use crate::common;
use seedgate_core::error::ValidationError;
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{Catalog, RequestDraft, Task};
use std::collections::HashMap;

use super::wire::{CreateTaskRequest, ListedTask, OutputItem, TaskData, TaskFailure};

/// How long after a task finishes its `output[].expireAt` lies.
pub const RESULT_TTL_SECONDS: i64 = 24 * 3600;

/// List paging defaults and bounds.
pub const DEFAULT_PAGE: u64 = 1;

pub const DEFAULT_SIZE: u32 = 20;

pub const MAX_SIZE: u32 = 100;

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

/// Parses a create body into a draft; also returns the parsed JSON for fingerprinting. Errors
/// name HiAPI's fields. Checks only what is HiAPI's own (the `callback` object, the required
/// `input` and prompt); the values are validated canonically by the gateway.
pub fn parse_create(
    body: &[u8],
    catalog: &Catalog,
) -> Result<(RequestDraft, serde_json::Value), ValidationError> {
    let (wire, json): (CreateTaskRequest, serde_json::Value) = common::parse_json_keeping(body)?;
    let callback_url = match wire.callback {
        None => None,
        Some(callback) => {
            if let Some(when) = callback.when.as_deref() {
                if when != "final" {
                    return Err(ValidationError::invalid(
                        "callback.when",
                        "must be `final` (the only supported value)",
                    ));
                }
            }
            if blank(callback.url.as_deref()) {
                return Err(ValidationError::Missing {
                    field: "callback.url".into(),
                });
            }
            callback.url
        }
    };
    // A missing or unknown model is reported as such by validation, before anything else.
    let model_served = wire
        .model
        .as_deref()
        .is_some_and(|m| catalog.resolve_available(m).is_ok());
    let Some(input) = wire.input else {
        if model_served {
            return Err(ValidationError::Missing {
                field: "input".into(),
            });
        }
        return Ok((
            RequestDraft {
                model: wire.model,
                ..RequestDraft::default()
            },
            json,
        ));
    };
    if model_served && blank(input.prompt.as_deref()) {
        return Err(ValidationError::Missing {
            field: "input.prompt".into(),
        });
    }
    let draft = RequestDraft {
        model: wire.model,
        prompt: input.prompt,
        first_frame_url: input.first_frame_url,
        last_frame_url: input.last_frame_url,
        reference_image_urls: input.reference_image_urls,
        reference_video_urls: input.reference_video_urls,
        reference_audio_urls: input.reference_audio_urls,
        // HiAPI's default, unlike the canonical one.
        generate_audio: Some(input.generate_audio.unwrap_or(true)),
        resolution: input.resolution,
        aspect_ratio: input.aspect_ratio,
        duration: input.duration,
        callback_url,
        ..RequestDraft::default()
    };
    Ok((draft, json))
}

pub(super) fn status(task: &Task) -> &'static str {
    match task.status {
        TaskStatus::Queued => "queued",
        TaskStatus::Running => "handling",
        TaskStatus::Succeeded => "success",
        TaskStatus::Failed | TaskStatus::Cancelled => "fail",
    }
}

/// HiAPI's `error.code` of a failed task.
pub fn failure_code(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Moderation => "CONTENT_MODERATION",
        FailureKind::InvalidInput => "INVALID_INPUT",
        FailureKind::RateLimited => "UPSTREAM_RATE_LIMITED",
        FailureKind::UpstreamError => "UPSTREAM_ERROR",
        FailureKind::Timeout => "TIMEOUT",
        FailureKind::Expired => "EXPIRED",
        FailureKind::Internal => "INTERNAL_ERROR",
    }
}

fn output(task: &Task) -> Option<Vec<OutputItem>> {
    let (TaskStatus::Succeeded, Some(o)) = (task.status, &task.output) else {
        return None;
    };
    if let Some(expired_at_ms) = o.media_expired_at_ms {
        // Retention expired the media: the items the task had, without a URL, `expireAt` the
        // (past) moment they expired.
        let expire_at = common::unix_seconds(expired_at_ms);
        let item = |kind: &'static str| OutputItem {
            url: String::new(),
            kind: kind.into(),
            expire_at,
        };
        let last_frame = task.request.return_last_frame.then(|| item("last_frame"));
        return Some(std::iter::once(item("video")).chain(last_frame).collect());
    }
    let finished_ms = task.finished_at_ms.unwrap_or(task.updated_at_ms);
    let expire_at = common::unix_seconds(finished_ms) + RESULT_TTL_SECONDS;
    let videos = o.video_urls.iter().map(|url| OutputItem {
        url: url.clone(),
        kind: "video".into(),
        expire_at,
    });
    let last_frame = o.last_frame_url.iter().map(|url| OutputItem {
        url: url.clone(),
        kind: "last_frame".into(),
        expire_at,
    });
    Some(videos.chain(last_frame).collect())
}

fn failure(task: &Task) -> Option<TaskFailure> {
    match task.status {
        TaskStatus::Failed => Some(match &task.error {
            Some(e) => TaskFailure {
                code: failure_code(e.kind).into(),
                message: e.message.clone(),
                msg: String::new(),
            },
            None => TaskFailure {
                code: failure_code(FailureKind::Internal).into(),
                message: "task failed".into(),
                msg: String::new(),
            },
        }),
        TaskStatus::Cancelled => Some(TaskFailure {
            code: "CANCELLED".into(),
            message: "task was cancelled; credits refunded".into(),
            msg: String::new(),
        }),
        _ => None,
    }
}

fn model(task: &Task) -> String {
    if task.requested_model.is_empty() {
        task.request.model.clone()
    } else {
        task.requested_model.clone()
    }
}

fn completed(task: &Task) -> i64 {
    match (task.status.is_terminal(), task.finished_at_ms) {
        (true, Some(ms)) => common::unix_seconds(ms),
        (true, None) => common::unix_seconds(task.updated_at_ms),
        (false, _) => 0,
    }
}

/// The HiAPI view of a task (`data` of `GET /v1/tasks/{id}`).
pub fn task_data(task: &Task) -> TaskData {
    TaskData {
        task_id: task.id.to_string(),
        model: model(task),
        status: status(task).into(),
        created: common::unix_seconds(task.created_at_ms),
        completed: completed(task),
        output: output(task),
        error: failure(task),
    }
}

/// A task as a list item.
pub fn listed_task(task: &Task) -> ListedTask {
    ListedTask {
        task_id: task.id.to_string(),
        model: model(task),
        status: status(task).into(),
        created: common::unix_seconds(task.created_at_ms),
        completed: completed(task),
        output: output(task),
    }
}

/// The page and size a list asks for; missing, unreadable or out-of-range values fall back to
/// the defaults (page 1, size 20).
pub fn paging(query: &HashMap<String, String>) -> (u64, u32) {
    let page = query
        .get("page")
        .and_then(|p| p.trim().parse::<u64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(DEFAULT_PAGE);
    let size = query
        .get("size")
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|s| (1..=MAX_SIZE).contains(s))
        .unwrap_or(DEFAULT_SIZE);
    (page, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<RequestDraft, ValidationError> {
        parse_create(body.as_bytes(), &Catalog::builtin()).map(|(d, _)| d)
    }

    #[test]
    fn the_seed_examples_parse_with_hiapi_defaults() {
        let d = parse(
            r#"{"model":"seedance-2.0-mini","input":{"prompt":"p","resolution":"720p",
                "duration":5,"aspect_ratio":"16:9","generate_audio":true}}"#,
        )
        .expect("t2v");
        assert_eq!(d.generate_audio, Some(true));
        assert_eq!(d.duration, Some(5));
        let d = parse(
            r#"{"model":"seedance-2.0-mini","input":{"prompt":"p",
                "first_frame_url":"https://e.com/f.jpg","resolution":"720p","duration":5,
                "generate_audio":false}}"#,
        )
        .expect("i2v");
        assert_eq!(d.generate_audio, Some(false));
        assert_eq!(d.first_frame_url.as_deref(), Some("https://e.com/f.jpg"));
        let d = parse(r#"{"model":"seedance-2.0-mini","input":{"prompt":"p"}}"#).expect("bare");
        assert_eq!(d.generate_audio, Some(true), "HiAPI defaults audio on");
        assert_eq!(d.callback_url, None);
        let d = parse(
            r#"{"model":"seedance-2.0-mini","input":{"prompt":"p"},"callback":{"url":"https://e.com/cb"}}"#,
        )
        .expect("callback, when defaulted");
        assert_eq!(d.callback_url.as_deref(), Some("https://e.com/cb"));
    }

    #[test]
    fn wire_errors_use_hiapi_names() {
        let field = |body: &str| parse(body).expect_err(body).field().map(|f| f.to_string());
        let m = r#""model":"seedance-2.0-mini""#;
        assert_eq!(
            field(&format!(
                r#"{{{m},"input":{{"prompt":"p"}},"callback":{{"url":"https://e.com","when":"progress"}}}}"#
            )),
            Some("callback.when".into())
        );
        assert_eq!(
            field(&format!(
                r#"{{{m},"input":{{"prompt":"p"}},"callback":{{"when":"final"}}}}"#
            )),
            Some("callback.url".into())
        );
        assert_eq!(field(&format!("{{{m}}}")), Some("input".into()));
        assert_eq!(
            field(&format!(r#"{{{m},"input":{{"prompt":"  "}}}}"#)),
            Some("input.prompt".into())
        );
        assert_eq!(
            field(&format!(
                r#"{{{m},"input":{{"prompt":"p","negative_prompt":"x"}}}}"#
            )),
            Some("input.negative_prompt".into())
        );
        assert_eq!(
            field(&format!(
                r#"{{{m},"input":{{"prompt":"p","duration":5.5}}}}"#
            )),
            Some("input.duration".into())
        );
        assert_eq!(
            field(&format!(r#"{{{m},"input":{{"prompt":"p"}},"seed":1}}"#)),
            Some("seed".into())
        );
        assert_eq!(parse("[1]"), Err(ValidationError::NotAnObject));
        // An unknown model is left to validation, which reports the model first.
        let d = parse(r#"{"model":"sora-2"}"#).expect("left to the service");
        assert_eq!(d.model.as_deref(), Some("sora-2"));
    }

    fn sample_task(status: TaskStatus) -> Task {
        let draft = RequestDraft {
            model: Some("seedance-2-0-mini".into()),
            prompt: Some("p".into()),
            ..RequestDraft::default()
        };
        let request = seedgate_core::GenerationRequest::from_draft(draft, &Catalog::builtin())
            .expect("valid");
        Task {
            id: seedgate_core::TaskId::generate(),
            account_id: seedgate_core::AccountId::generate(),
            api_key_id: seedgate_core::ApiKeyId::generate(),
            request,
            requested_model: "seedance-2-0-mini".into(),
            origin_dialect: crate::reapi::DIALECT.name.into(),
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

    #[test]
    fn task_views() {
        let mut t = sample_task(TaskStatus::Succeeded);
        t.output = Some(seedgate_core::TaskOutput {
            video_urls: vec!["http://h/media/0.mp4".into()],
            last_frame_url: Some("http://h/media/last.png".into()),
            ..Default::default()
        });
        let v = serde_json::to_value(task_data(&t)).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"taskId": t.id.to_string(), "model": "seedance-2-0-mini",
                "status": "success", "created": 1_700_000_000, "completed": 1_700_000_009,
                "output": [
                    {"url": "http://h/media/0.mp4", "type": "video", "expireAt": 1_700_086_409},
                    {"url": "http://h/media/last.png", "type": "last_frame", "expireAt": 1_700_086_409}]})
        );
        let v = serde_json::to_value(task_data(&sample_task(TaskStatus::Cancelled))).expect("json");
        assert_eq!(v["status"], "fail");
        assert_eq!(v["error"]["code"], "CANCELLED");
        assert!(v.get("output").is_none());
        let mut t = sample_task(TaskStatus::Failed);
        t.error = Some(seedgate_core::TaskError {
            kind: FailureKind::Expired,
            message: "expired upstream".into(),
        });
        let v = serde_json::to_value(task_data(&t)).expect("json");
        assert_eq!(
            v["error"],
            serde_json::json!({"code": "EXPIRED", "message": "expired upstream"})
        );
        let v = serde_json::to_value(task_data(&sample_task(TaskStatus::Running))).expect("json");
        assert_eq!(
            (&v["status"], &v["completed"]),
            (&"handling".into(), &0.into())
        );
        assert!(v.get("error").is_none() && v.get("output").is_none());
    }

    #[test]
    fn expired_media_keep_their_items_without_urls_expiring_when_they_did() {
        let mut t = sample_task(TaskStatus::Succeeded);
        t.output = Some(seedgate_core::TaskOutput {
            media_expired_at_ms: Some(1_702_592_009_250),
            ..Default::default()
        });
        let v = serde_json::to_value(task_data(&t)).expect("json");
        assert_eq!(v["status"], "success");
        assert_eq!(
            v["output"],
            serde_json::json!([{"url": "", "type": "video", "expireAt": 1_702_592_009}])
        );
        assert!(v.get("error").is_none(), "{v}");
        // A task that asked for its last frame had that item too.
        t.request.return_last_frame = true;
        let v = serde_json::to_value(listed_task(&t)).expect("json");
        assert_eq!(
            v["output"],
            serde_json::json!([{"url": "", "type": "video", "expireAt": 1_702_592_009},
                {"url": "", "type": "last_frame", "expireAt": 1_702_592_009}])
        );
    }

    #[test]
    fn paging_falls_back_to_defaults() {
        let q = |pairs: &[(&str, &str)]| {
            paging(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        assert_eq!(q(&[]), (1, 20));
        assert_eq!(q(&[("page", "3"), ("size", "100")]), (3, 100));
        assert_eq!(q(&[("page", "0"), ("size", "0")]), (1, 20));
        assert_eq!(q(&[("page", "-2"), ("size", "101")]), (1, 20));
        assert_eq!(q(&[("page", "x"), ("size", "1")]), (1, 1));
    }
}

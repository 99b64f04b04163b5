//! Kie ↔ canonical: a createTask body to a [`RequestDraft`], a [`Task`] to Kie's record
//! (also the callback body).

use crate::common;
use seedgate_core::error::ValidationError;
use seedgate_core::media::MediaUrl;
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{RequestDraft, Task};

use super::wire::{
    CreateTaskRequest, ParamBody, ParamInput, Record, RecordInfoResponse, ResultJson,
};

/// Parses a create body into a draft; also returns the parsed JSON for fingerprinting. Errors
/// name Kie's fields; the values are validated canonically by the gateway.
pub fn parse_create(body: &[u8]) -> Result<(RequestDraft, serde_json::Value), ValidationError> {
    let (wire, json): (CreateTaskRequest, serde_json::Value) = common::parse_json_keeping(body)?;
    let Some(input) = wire.input else {
        return Err(ValidationError::Missing {
            field: "input".into(),
        });
    };
    // The shared input type carries Kie's 2.5 switch (the upstream side sends it to 2.5
    // models); the models served here have no such input, so it is unknown, as before.
    if input.return_last_frame.is_some() {
        return Err(ValidationError::UnknownField {
            field: "input.return_last_frame".into(),
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
        // Kie's defaults, unlike the canonical ones.
        generate_audio: Some(input.generate_audio.unwrap_or(true)),
        nsfw_checker: Some(input.nsfw_checker.unwrap_or(false)),
        resolution: input.resolution,
        aspect_ratio: input.aspect_ratio,
        duration: input.duration,
        web_search: input.web_search,
        callback_url: wire.call_back_url,
        ..RequestDraft::default()
    };
    Ok((draft, json))
}

fn state(task: &Task) -> &'static str {
    match task.status {
        TaskStatus::Queued => "waiting",
        TaskStatus::Running => "generating",
        TaskStatus::Succeeded => "success",
        TaskStatus::Failed | TaskStatus::Cancelled => "fail",
    }
}

/// Kie's `failCode` of a failed task.
pub fn failure_code(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Moderation => "400",
        FailureKind::InvalidInput => "422",
        FailureKind::RateLimited => "429",
        FailureKind::Internal => "500",
        FailureKind::UpstreamError => "501",
        FailureKind::Timeout => "504",
        FailureKind::Expired => "410",
    }
}

/// `failCode` of a task cancelled in another dialect.
pub const CANCELLED_FAIL_CODE: &str = "499";

/// The create body of a task, reconstructed from its validated request (see the module doc).
pub fn param(task: &Task) -> String {
    serde_json::to_string(&param_body(task)).unwrap_or_default()
}

fn urls(list: &[MediaUrl]) -> Vec<&str> {
    list.iter().map(MediaUrl::as_str).collect()
}

fn param_body(task: &Task) -> ParamBody<'_> {
    let r = &task.request;
    ParamBody {
        model: if task.requested_model.is_empty() {
            &r.model
        } else {
            &task.requested_model
        },
        call_back_url: r.callback_url.as_deref(),
        input: ParamInput {
            prompt: r.prompt.as_deref(),
            first_frame_url: r.first_frame_url.as_ref().map(|u| u.as_str()),
            last_frame_url: r.last_frame_url.as_ref().map(|u| u.as_str()),
            reference_image_urls: urls(&r.reference_image_urls),
            reference_video_urls: urls(&r.reference_video_urls),
            reference_audio_urls: urls(&r.reference_audio_urls),
            generate_audio: r.generate_audio,
            resolution: r.resolution.as_str(),
            aspect_ratio: r.aspect_ratio.as_str(),
            duration: r.duration_seconds,
            web_search: r.web_search,
            nsfw_checker: r.nsfw_checker,
        },
    }
}

/// `failMsg` of a succeeded task whose media expired at `at_ms` (its `resultUrls` are empty).
pub fn media_expired_message(at_ms: i64) -> String {
    format!(
        "result expired at {} under this gateway's retention policy and was deleted; create \
         the task again for a new video",
        seedgate_core::usage::rfc3339(at_ms)
    )
}

/// The Kie view of a task (`data` of recordInfo).
pub fn record(task: &Task) -> Record {
    let result_json = match (task.status, &task.output) {
        (TaskStatus::Succeeded, Some(o)) => serde_json::to_string(&ResultJson {
            result_urls: &o.video_urls,
        })
        .unwrap_or_default(),
        _ => String::new(),
    };
    let (fail_code, fail_msg) = match task.status {
        TaskStatus::Failed => match &task.error {
            Some(e) => (failure_code(e.kind), e.message.clone()),
            None => (failure_code(FailureKind::Internal), "task failed".into()),
        },
        TaskStatus::Cancelled => (
            CANCELLED_FAIL_CODE,
            "task was cancelled; credits refunded".into(),
        ),
        // Media expired under retention: still `success` (no `failCode`), no URLs; the
        // message says why.
        TaskStatus::Succeeded => match task.output.as_ref().and_then(|o| o.media_expired_at_ms) {
            Some(at_ms) => ("", media_expired_message(at_ms)),
            None => ("", String::new()),
        },
        _ => ("", String::new()),
    };
    let complete_time = task
        .status
        .is_terminal()
        .then(|| task.finished_at_ms.unwrap_or(task.updated_at_ms));
    Record {
        task_id: task.id.to_string(),
        model: if task.requested_model.is_empty() {
            task.request.model.clone()
        } else {
            task.requested_model.clone()
        },
        state: state(task).into(),
        param: param(task),
        result_json,
        fail_code: fail_code.to_string(),
        fail_msg,
        complete_time,
        create_time: task.created_at_ms,
        update_time: task.updated_at_ms,
        cost_time: complete_time.map(|done| (done - task.created_at_ms).max(0)),
    }
}

/// The recordInfo answer. It is also the body posted to `callBackUrl` when the task finishes:
/// exactly what a poll returns (third-party handlers describe the callback with `msg` in place
/// of `message`; they read `data`, which is the same either way).
pub fn record_info_response(task: &Task) -> RecordInfoResponse {
    RecordInfoResponse {
        code: 200,
        message: "success".into(),
        data: record(task),
    }
}

#[cfg(test)]
mod tests {
    use super::super::errors::wire_name;
    use super::*;
    use seedgate_core::FieldPath;

    fn parse(body: &str) -> Result<RequestDraft, ValidationError> {
        parse_create(body.as_bytes()).map(|(d, _)| d)
    }

    #[test]
    fn create_bodies_parse_with_kie_defaults() {
        let d = parse(
            r#"{"model":"bytedance/seedance-2-mini","callBackUrl":"https://e.com/cb",
                "input":{"prompt":"p","first_frame_url":"asset://asset_1","duration":4.0,
                "web_search":true}}"#,
        )
        .expect("ok");
        assert_eq!(d.callback_url.as_deref(), Some("https://e.com/cb"));
        assert_eq!(d.first_frame_url.as_deref(), Some("asset://asset_1"));
        assert_eq!(
            (d.generate_audio, d.nsfw_checker, d.web_search, d.duration),
            (Some(true), Some(false), Some(true), Some(4))
        );
        let d = parse(
            r#"{"model":"m","input":{"prompt":"p","generate_audio":false,"nsfw_checker":true}}"#,
        )
        .expect("ok");
        assert_eq!(
            (d.generate_audio, d.nsfw_checker),
            (Some(false), Some(true))
        );
    }

    #[test]
    fn wire_errors_use_kie_names() {
        let field = |body: &str| parse(body).expect_err(body).field().map(|f| f.to_string());
        assert_eq!(field(r#"{"model":"m"}"#), Some("input".into()));
        assert_eq!(
            field(r#"{"model":"m","callbackUrl":"https://e.com","input":{}}"#),
            Some("callbackUrl".into())
        );
        assert_eq!(
            field(r#"{"model":"m","input":{"reference_image_urls":"https://e.com/a.png"}}"#),
            Some("input.reference_image_urls".into())
        );
        assert_eq!(parse("nope"), Err(ValidationError::NotAnObject));
        assert_eq!(wire_name(&FieldPath::new("callback_url")), "callBackUrl");
        assert_eq!(
            wire_name(&FieldPath::new("last_frame_url")),
            "input.last_frame_url"
        );
    }

    fn sample_task(status: TaskStatus) -> Task {
        let draft = RequestDraft {
            model: Some("bytedance/seedance-2-mini".into()),
            prompt: Some("p".into()),
            reference_image_urls: Some(vec!["https://e.com/a.png".into()]),
            callback_url: Some("https://e.com/cb".into()),
            ..RequestDraft::default()
        };
        let request =
            seedgate_core::GenerationRequest::from_draft(draft, &seedgate_core::Catalog::builtin())
                .expect("valid");
        Task {
            id: seedgate_core::TaskId::generate(),
            account_id: seedgate_core::AccountId::generate(),
            api_key_id: seedgate_core::ApiKeyId::generate(),
            request,
            requested_model: "bytedance/seedance-2-mini".into(),
            origin_dialect: crate::kie::DIALECT.name.into(),
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
    fn expired_media_read_back_as_success_without_urls_and_say_so() {
        let mut t = sample_task(TaskStatus::Succeeded);
        t.output = Some(seedgate_core::TaskOutput {
            media_expired_at_ms: Some(1_702_592_009_250),
            ..Default::default()
        });
        let v = serde_json::to_value(record(&t)).expect("json");
        assert_eq!(v["state"], "success");
        assert_eq!(v["resultJson"], r#"{"resultUrls":[]}"#);
        assert_eq!(v["failCode"], "");
        assert_eq!(
            v["failMsg"],
            "result expired at 2023-12-14T22:13:29.250Z under this gateway's retention policy \
             and was deleted; create the task again for a new video"
        );
    }

    #[test]
    fn record_views() {
        let mut t = sample_task(TaskStatus::Succeeded);
        t.output = Some(seedgate_core::TaskOutput {
            video_urls: vec!["http://h/media/0.mp4".into()],
            ..Default::default()
        });
        let v = serde_json::to_value(record(&t)).expect("json");
        assert_eq!(v["state"], "success");
        assert_eq!(
            v["resultJson"],
            r#"{"resultUrls":["http://h/media/0.mp4"]}"#
        );
        assert_eq!(
            (&v["createTime"], &v["completeTime"], &v["costTime"]),
            (
                &1_700_000_000_500_i64.into(),
                &1_700_000_009_900_i64.into(),
                &9_400.into()
            )
        );
        let param: serde_json::Value =
            serde_json::from_str(v["param"].as_str().expect("string")).expect("json");
        assert_eq!(
            param,
            serde_json::json!({"model": "bytedance/seedance-2-mini",
                "callBackUrl": "https://e.com/cb",
                "input": {"prompt": "p", "reference_image_urls": ["https://e.com/a.png"],
                    "generate_audio": false, "resolution": "720p", "aspect_ratio": "16:9",
                    "duration": 5, "web_search": false, "nsfw_checker": true}})
        );
        let v = serde_json::to_value(record(&sample_task(TaskStatus::Cancelled))).expect("json");
        assert_eq!(
            (&v["state"], &v["failCode"]),
            (&"fail".into(), &"499".into())
        );
        assert_eq!(v["resultJson"], "");
        let v = serde_json::to_value(record(&sample_task(TaskStatus::Queued))).expect("json");
        assert_eq!(v["state"], "waiting");
        assert!(v["completeTime"].is_null() && v["costTime"].is_null());
        assert_eq!((&v["failCode"], &v["failMsg"]), (&"".into(), &"".into()));
        let body = serde_json::to_value(record_info_response(&sample_task(TaskStatus::Running)))
            .expect("json");
        assert_eq!(
            (&body["code"], &body["message"]),
            (&200.into(), &"success".into())
        );
        assert_eq!(body["data"]["state"], "generating");
    }

    #[test]
    fn fail_codes_are_distinct() {
        let kinds = [
            FailureKind::Moderation,
            FailureKind::InvalidInput,
            FailureKind::RateLimited,
            FailureKind::UpstreamError,
            FailureKind::Timeout,
            FailureKind::Expired,
            FailureKind::Internal,
        ];
        let mut codes: Vec<&str> = kinds.iter().map(|k| failure_code(*k)).collect();
        codes.push(CANCELLED_FAIL_CODE);
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }
}

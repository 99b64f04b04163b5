//! Canonical → Ark: a [`Task`] as Ark's task object (what GET, the list and callbacks show).

use crate::common;
use seedgate_core::output_size::{pixel_size, ConcreteRatio, OUTPUT_FPS};
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{AspectRatio, Catalog, Task};

use super::convert::EXPIRES_DEFAULT;
use super::wire::{TaskContent, TaskFailure, TaskObject, Tool, Usage};

/// Ark's failure code for a failed task (see the module documentation).
pub fn failure_code(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Moderation => "OutputVideoSensitiveContentDetected",
        FailureKind::InvalidInput => "InvalidParameter",
        FailureKind::RateLimited => "ServerOverloaded",
        FailureKind::UpstreamError | FailureKind::Internal => "InternalServiceError",
        FailureKind::Timeout => "ExecutionTimeout",
        FailureKind::Expired => "TaskExpired",
    }
}

/// `error.code` of a succeeded task whose media expired under the gateway's retention (it then
/// has no `content`): seedgate's, Ark has none.
pub const MEDIA_EXPIRED_CODE: &str = "MediaExpired";

/// `error.message` of a succeeded task whose media expired at `at_ms`.
pub fn media_expired_message(at_ms: i64) -> String {
    format!(
        "The task succeeded, but its video expired at {} under this gateway's retention policy \
         and was deleted; create the task again for a new video.",
        seedgate_core::usage::rfc3339(at_ms)
    )
}

/// Ark's status for a canonical task: a failure of kind `Expired` is `expired`.
pub fn status_name(task: &Task) -> &'static str {
    match task.status {
        TaskStatus::Queued => "queued",
        TaskStatus::Running => "running",
        TaskStatus::Succeeded => "succeeded",
        TaskStatus::Cancelled => "cancelled",
        TaskStatus::Failed => match &task.error {
            Some(e) if e.kind == FailureKind::Expired => "expired",
            _ => "failed",
        },
    }
}

/// Width × height of the task's video: what was produced, else what the request fixes.
fn output_size(task: &Task) -> Option<(u32, u32)> {
    let produced = task
        .output
        .as_ref()
        .and_then(|o| Some((o.width?, o.height?)));
    produced.or_else(|| {
        ConcreteRatio::from_aspect(task.request.aspect_ratio)
            .map(|r| pixel_size(task.request.resolution, r))
    })
}

/// Tokens of a succeeded task: ⌊W × H × (24 × seconds + 1) / 1024⌋, seconds being the output
/// plus the billed input-video seconds (upstream-contracts §1.12).
pub fn completion_tokens(width: u32, height: u32, seconds: u32) -> u64 {
    let frames = u64::from(OUTPUT_FPS) * u64::from(seconds) + 1;
    u64::from(width) * u64::from(height) * frames / 1024
}

/// The Ark view of a task.
/// The model as Ark reads it back: a name-version id (`doubao-seedance-2-0-mini-260615`). The
/// id the client sent when it was one, else the catalog's Ark id for the model.
fn ark_model_name(task: &Task, catalog: &Catalog) -> String {
    let sent = task.requested_model.trim();
    let is_versioned = sent.rsplit_once('-').is_some_and(|(name, version)| {
        name.contains("seedance")
            && version.len() == 6
            && version.bytes().all(|b| b.is_ascii_digit())
    });
    if is_versioned {
        return sent.to_string();
    }
    catalog
        .get(&task.request.model)
        .and_then(|spec| spec.ark_model_id.clone())
        .unwrap_or_else(|| task.request.model.clone())
}

pub fn task_object(task: &Task, catalog: &Catalog) -> TaskObject {
    let status = status_name(task);
    let succeeded = task.status == TaskStatus::Succeeded;
    let content = match (&task.output, succeeded) {
        (Some(o), true) => o.video_urls.first().map(|url| TaskContent {
            video_url: url.clone(),
            last_frame_url: o.last_frame_url.clone(),
        }),
        _ => None,
    };
    let error = match task.status {
        TaskStatus::Succeeded => task
            .output
            .as_ref()
            .and_then(|o| o.media_expired_at_ms)
            .map(|at_ms| TaskFailure {
                code: MEDIA_EXPIRED_CODE.into(),
                message: media_expired_message(at_ms),
            }),
        TaskStatus::Failed => Some(match &task.error {
            Some(e) => TaskFailure {
                code: failure_code(e.kind).into(),
                message: e.message.clone(),
            },
            None => TaskFailure {
                code: failure_code(FailureKind::Internal).into(),
                message: "task failed".into(),
            },
        }),
        _ => None,
    };
    let size = output_size(task);
    let usage = match (succeeded, size) {
        (true, Some((w, h))) => {
            let seconds = task
                .price
                .billable_seconds
                .max(task.request.duration_seconds);
            let tokens = completion_tokens(w, h, seconds);
            Some(Usage {
                completion_tokens: tokens,
                total_tokens: tokens,
            })
        }
        _ => None,
    };
    let ratio = match task.request.aspect_ratio {
        AspectRatio::Adaptive => match task
            .output
            .as_ref()
            .and_then(|o| Some((o.width?, o.height?)))
        {
            Some((w, h)) => ConcreteRatio::nearest(w, h).as_str(),
            None => AspectRatio::Adaptive.as_str(),
        },
        other => other.as_str(),
    };
    TaskObject {
        id: task.id.to_string(),
        model: ark_model_name(task, catalog),
        status: status.into(),
        content,
        error,
        usage,
        created_at: common::unix_seconds(task.created_at_ms),
        updated_at: common::unix_seconds(task.updated_at_ms),
        seed: task.request.seed.map_or(-1, i64::from),
        resolution: task.request.resolution.as_str().into(),
        ratio: ratio.into(),
        duration: task.request.duration_seconds,
        framespersecond: OUTPUT_FPS,
        generate_audio: task.request.generate_audio,
        draft: false,
        service_tier: "default".into(),
        execution_expires_after: task
            .request
            .expires_after_seconds
            .unwrap_or(EXPIRES_DEFAULT),
        priority: task.request.priority.unwrap_or(0),
        safety_identifier: task.request.safety_identifier.clone(),
        output_format: "mp4".into(),
        tools: task.request.web_search.then(|| {
            vec![Tool {
                kind: "web_search".into(),
            }]
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_the_observed_formula() {
        // 864 × 496 × 97 / 1024 = 40594.5 → 40594 (rounded down).
        assert_eq!(completion_tokens(864, 496, 4), 40_594);
        assert_eq!(completion_tokens(864, 480, 2), 19_845);
        assert_eq!(completion_tokens(1280, 720, 5), 108_900);
    }

    use crate::round_trip_fixtures::expired_task;

    #[test]
    fn expired_media_read_back_succeeded_without_content_and_say_so() {
        let v =
            serde_json::to_value(task_object(&expired_task(), &Catalog::builtin())).expect("json");
        assert_eq!(v["status"], "succeeded");
        assert!(v.get("content").is_none(), "{v}");
        assert_eq!(v["usage"]["completion_tokens"], 108_900);
        assert_eq!(
            v["error"],
            serde_json::json!({"code": "MediaExpired", "message": "The task succeeded, but its \
                video expired at 2023-12-14T22:13:29.250Z under this gateway's retention \
                policy and was deleted; create the task again for a new video."})
        );
    }
}

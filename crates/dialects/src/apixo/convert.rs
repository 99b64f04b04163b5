//! APIXO ↔ canonical: a generateTask body (its `input.mode`) to a [`RequestDraft`], a
//! [`Task`] to the statusTask answer (also the callback body).

use crate::common;
use seedgate_core::error::ValidationError;
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{RequestDraft, Task};
use serde_json::Value;
use std::borrow::Cow;

use super::wire::{GenerateTaskRequest, MediaItem, ResultJson, StatusData, StatusTaskResponse};

/// `input.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApixoMode {
    TextToVideo,
    FirstAndLastFrames,
    OmniReference,
}

impl ApixoMode {
    pub const ALL: [ApixoMode; 3] = [
        ApixoMode::TextToVideo,
        ApixoMode::FirstAndLastFrames,
        ApixoMode::OmniReference,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApixoMode::TextToVideo => "text-to-video",
            ApixoMode::FirstAndLastFrames => "first_and_last_frames",
            ApixoMode::OmniReference => "omni_reference",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// APIXO's aspect ratios; `auto` is canonical `adaptive`.
const ASPECT_RATIOS: [&str; 7] = ["auto", "16:9", "4:3", "1:1", "3:4", "9:16", "21:9"];

fn urls(items: Option<Vec<MediaItem>>) -> Option<Vec<String>> {
    items
        .map(|v| v.into_iter().map(|MediaItem(u)| u).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
}

fn not_in_mode(field: &str, mode: ApixoMode, hint: &str) -> ValidationError {
    ValidationError::invalid(
        field,
        &format!("is not accepted in {} mode; {hint}", mode.as_str()),
    )
}

/// The canonical draft for `model` (the path's model). Checks what only APIXO's wire has:
/// the required `input`, `mode` and `prompt`, `request_type`/`callback_url`, `provider`,
/// the APIXO aspect-ratio enum and the media each mode takes. Error fields are APIXO's.
pub fn generate_draft(
    wire: GenerateTaskRequest,
    model: &str,
) -> Result<RequestDraft, ValidationError> {
    let input = wire.input.ok_or_else(|| ValidationError::Missing {
        field: "input".into(),
    })?;
    let prompt = match input.prompt {
        None => {
            return Err(ValidationError::Missing {
                field: "input.prompt".into(),
            })
        }
        Some(p) if p.trim().is_empty() => {
            return Err(ValidationError::invalid(
                "input.prompt",
                "must be a non-empty string",
            ))
        }
        Some(p) => p.trim().to_string(),
    };
    let mode = match input.mode.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(ValidationError::Missing {
                field: "input.mode".into(),
            })
        }
        Some(m) => ApixoMode::parse(m).ok_or_else(|| {
            ValidationError::invalid(
                "input.mode",
                "must be one of text-to-video, first_and_last_frames, omni_reference",
            )
        })?,
    };
    let callback_url = match wire.request_type.as_deref().map(str::trim) {
        None | Some("") | Some("async") => None,
        Some("callback") => match wire.callback_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Some(url.to_string()),
            _ => {
                return Err(ValidationError::Missing {
                    field: "callback_url".into(),
                })
            }
        },
        Some(_) => {
            return Err(ValidationError::invalid(
                "request_type",
                "must be async or callback",
            ))
        }
    };
    match wire.provider.as_deref().map(str::trim) {
        None | Some("auto") | Some("value") | Some("official") => {}
        Some(_) => {
            return Err(ValidationError::invalid(
                "provider",
                "must be one of auto, value, official",
            ))
        }
    }
    if input.fixed_lens.is_some() {
        return Err(ValidationError::invalid(
            "input.fixed_lens",
            &format!("applies only to seedance-1-5-pro, not {model}"),
        ));
    }
    let aspect_ratio = match input.aspect_ratio.as_deref().map(str::trim) {
        None | Some("") | Some("auto") => "adaptive".to_string(),
        Some(r) if ASPECT_RATIOS.contains(&r) => r.to_string(),
        Some(_) => {
            return Err(ValidationError::invalid(
                "input.aspect_ratio",
                &format!("must be one of {}", ASPECT_RATIOS.join(", ")),
            ))
        }
    };
    let resolution = input
        .resolution
        .map(|r| r.trim().to_ascii_lowercase())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "720p".to_string());

    let images = urls(input.image_urls);
    let videos = urls(input.video_urls);
    let audios = urls(input.audio_urls);
    let mut draft = RequestDraft {
        model: Some(model.to_string()),
        prompt: Some(prompt),
        generate_audio: Some(input.sound.unwrap_or(true)),
        resolution: Some(resolution),
        aspect_ratio: Some(aspect_ratio),
        duration: Some(input.duration.unwrap_or(5)),
        web_search: Some(input.web_search.unwrap_or(false)),
        callback_url,
        ..RequestDraft::default()
    };
    match mode {
        ApixoMode::TextToVideo => {
            let hint = "use first_and_last_frames or omni_reference";
            if images.is_some() {
                return Err(not_in_mode("input.image_urls", mode, hint));
            }
            if videos.is_some() {
                return Err(not_in_mode("input.video_urls", mode, "use omni_reference"));
            }
            if audios.is_some() {
                return Err(not_in_mode("input.audio_urls", mode, "use omni_reference"));
            }
            draft.explicit_mode = Some(seedgate_core::Mode::T2v);
        }
        ApixoMode::FirstAndLastFrames => {
            if videos.is_some() {
                return Err(not_in_mode("input.video_urls", mode, "use omni_reference"));
            }
            if audios.is_some() {
                return Err(not_in_mode("input.audio_urls", mode, "use omni_reference"));
            }
            let images = match images {
                None => {
                    return Err(ValidationError::Missing {
                        field: "input.image_urls".into(),
                    })
                }
                Some(i) if i.len() > 2 => {
                    return Err(ValidationError::invalid(
                        "input.image_urls",
                        &format!(
                            "takes 1 or 2 images in first_and_last_frames mode, got {}",
                            i.len()
                        ),
                    ))
                }
                Some(i) => i,
            };
            let mut frames = images.into_iter();
            draft.first_frame_url = frames.next();
            draft.last_frame_url = frames.next();
            draft.explicit_mode = Some(seedgate_core::Mode::I2v);
        }
        ApixoMode::OmniReference => {
            // With no media at all the request is a plain text-to-video one (the seed
            // requires no media for this mode).
            if images.is_some() || videos.is_some() || audios.is_some() {
                draft.explicit_mode = Some(seedgate_core::Mode::R2v);
            }
            draft.reference_image_urls = images;
            draft.reference_video_urls = videos;
            draft.reference_audio_urls = audios;
        }
    }
    Ok(draft)
}

/// Parses a `generateTask` body for `model`; also returns the parsed JSON for fingerprinting.
pub fn parse_generate(body: &[u8], model: &str) -> Result<(RequestDraft, Value), ValidationError> {
    let (wire, json): (GenerateTaskRequest, Value) = common::parse_json_keeping(body)?;
    Ok((generate_draft(wire, model)?, json))
}

/// The `failCode` of a failed task:
///
/// | failure | `failCode` |
/// |---|---|
/// | moderation | `SensitiveContent` |
/// | invalid input, about an image | `ImageFormatIncorrect` |
/// | invalid input, otherwise | `PromptInvalid` |
/// | rate limited | `RateLimited` |
/// | timeout, expired | `Timeout` |
/// | upstream error | `StreamError` |
/// | seedgate's own failure | `Unknown error` |
/// | cancelled (another dialect's cancel) | `Cancelled` |
pub fn fail_code(kind: FailureKind, message: &str) -> &'static str {
    match kind {
        FailureKind::Moderation => "SensitiveContent",
        FailureKind::InvalidInput if message.to_ascii_lowercase().contains("image") => {
            "ImageFormatIncorrect"
        }
        FailureKind::InvalidInput => "PromptInvalid",
        FailureKind::RateLimited => "RateLimited",
        FailureKind::Timeout | FailureKind::Expired => "Timeout",
        FailureKind::UpstreamError => "StreamError",
        FailureKind::Internal => "Unknown error",
    }
}

/// `failMsg` of a succeeded task whose media expired at `at_ms` (its `resultUrls` are empty).
pub fn media_expired_message(at_ms: i64) -> String {
    format!(
        "Task succeeded, but its result expired at {} under this gateway's retention policy and \
         was deleted; generate it again for a new video",
        seedgate_core::usage::rfc3339(at_ms)
    )
}

/// The APIXO view of a task.
pub fn status_data(task: &Task) -> StatusData {
    let terminal = task.status.is_terminal();
    let complete_time = if terminal {
        Some(task.finished_at_ms.unwrap_or(task.updated_at_ms))
    } else {
        None
    };
    let mut data = StatusData {
        task_id: task.id.to_string(),
        state: Cow::Borrowed(match task.status {
            TaskStatus::Queued => "pending",
            TaskStatus::Running => "processing",
            TaskStatus::Succeeded => "success",
            TaskStatus::Failed | TaskStatus::Cancelled => "failed",
        }),
        result_json: None,
        fail_code: None,
        fail_msg: None,
        create_time: task.created_at_ms,
        complete_time,
        cost_time: None,
    };
    match task.status {
        TaskStatus::Succeeded => {
            let urls = task
                .output
                .as_ref()
                .map(|o| o.video_urls.as_slice())
                .unwrap_or_default();
            data.result_json = serde_json::to_string(&ResultJson { result_urls: urls }).ok();
            data.cost_time = complete_time.map(|c| (c - task.created_at_ms).max(0));
            // Media expired under retention: still `success`, no URLs, no `failCode`; the
            // message says why.
            data.fail_msg = task
                .output
                .as_ref()
                .and_then(|o| o.media_expired_at_ms)
                .map(media_expired_message);
        }
        TaskStatus::Failed => {
            let (code, message) = match &task.error {
                Some(e) => (fail_code(e.kind, &e.message), e.message.clone()),
                None => ("Unknown error", "task failed".to_string()),
            };
            data.fail_code = Some(code.to_string());
            data.fail_msg = Some(message);
        }
        TaskStatus::Cancelled => {
            data.fail_code = Some("Cancelled".into());
            data.fail_msg = Some("task was cancelled; credits refunded".into());
        }
        TaskStatus::Queued | TaskStatus::Running => {}
    }
    data
}

/// The whole `statusTask` answer for a task; also the body of an APIXO callback, which the seed
/// says has "the same top-level shape as status polling".
pub fn status_response(task: &Task) -> StatusTaskResponse {
    StatusTaskResponse {
        code: 200,
        message: "success".into(),
        data: status_data(task),
    }
}

#[cfg(test)]
mod tests {
    use super::super::errors::wire_field;
    use super::*;
    use seedgate_core::FieldPath;

    fn draft(body: &str) -> Result<RequestDraft, ValidationError> {
        parse_generate(body.as_bytes(), "seedance-2-0-mini").map(|(d, _)| d)
    }

    use crate::round_trip_fixtures::expired_task;

    #[test]
    fn expired_media_read_back_as_success_without_urls_and_say_so() {
        let v = serde_json::to_value(status_data(&expired_task())).expect("json");
        assert_eq!(v["state"], "success");
        assert_eq!(v["resultJson"], r#"{"resultUrls":[]}"#);
        assert!(v.get("failCode").is_none(), "{v}");
        assert_eq!(
            v["failMsg"],
            "Task succeeded, but its result expired at 2023-12-14T22:13:29.250Z under this \
             gateway's retention policy and was deleted; generate it again for a new video"
        );
        assert_eq!(v["completeTime"], 1_700_000_009_900_i64);
    }

    #[test]
    fn defaults_are_apixos() {
        let d = draft(r#"{"input":{"mode":"text-to-video","prompt":"  a fox  "}}"#).expect("ok");
        assert_eq!(d.prompt.as_deref(), Some("a fox"));
        assert_eq!(d.resolution.as_deref(), Some("720p"));
        assert_eq!(d.aspect_ratio.as_deref(), Some("adaptive"));
        assert_eq!(d.duration, Some(5));
        assert_eq!(d.generate_audio, Some(true));
        assert_eq!(d.web_search, Some(false));
        assert_eq!(d.explicit_mode, Some(seedgate_core::Mode::T2v));
        assert_eq!(d.callback_url, None);
    }

    #[test]
    fn modes_map_media() {
        let d = draft(
            r#"{"input":{"mode":"first_and_last_frames","prompt":"p","duration":"10","resolution":" 480P ",
                "image_urls":["https://e.com/a.png",{"url":"https://e.com/b.png"}]}}"#,
        )
        .expect("ok");
        assert_eq!(d.first_frame_url.as_deref(), Some("https://e.com/a.png"));
        assert_eq!(d.last_frame_url.as_deref(), Some("https://e.com/b.png"));
        assert_eq!(d.duration, Some(10));
        assert_eq!(d.resolution.as_deref(), Some("480p"));
        let d = draft(
            r#"{"input":{"mode":"omni_reference","prompt":"p","aspect_ratio":"9:16","video_urls":["https://e.com/v.mp4"]}}"#,
        )
        .expect("ok");
        assert_eq!(d.reference_video_urls.map(|v| v.len()), Some(1));
        assert_eq!(d.explicit_mode, Some(seedgate_core::Mode::R2v));
        let d = draft(r#"{"input":{"mode":"omni_reference","prompt":"p"}}"#).expect("ok");
        assert_eq!(d.explicit_mode, None);
    }

    #[test]
    fn wire_errors_name_apixo_fields() {
        let e = draft(r#"{"input":{"mode":"text-to-video","prompt":"p","sound":"yes"}}"#)
            .expect_err("not a bool");
        assert_eq!(
            e.field().map(|f| f.to_string()).as_deref(),
            Some("input.sound")
        );
        let e =
            draft(r#"{"input":{"mode":"omni_reference","prompt":"p","image_urls":[{"uri":"x"}]}}"#)
                .expect_err("bad item");
        assert_eq!(
            e.field().map(|f| f.to_string()).as_deref(),
            Some("input.image_urls[0]")
        );
        let e =
            draft(r#"{"request_type":"callback","input":{"mode":"text-to-video","prompt":"p"}}"#)
                .expect_err("no callback_url");
        assert_eq!(
            e.field().map(|f| f.to_string()).as_deref(),
            Some("callback_url")
        );
        assert_eq!(
            wire_field(&FieldPath::at("reference_image_urls", 3)),
            "input.image_urls[3]"
        );
        assert_eq!(
            wire_field(&FieldPath::new("last_frame_url")),
            "input.image_urls[1]"
        );
        assert_eq!(wire_field(&FieldPath::new("generate_audio")), "input.sound");
    }

    #[test]
    fn fail_codes() {
        assert_eq!(fail_code(FailureKind::Moderation, ""), "SensitiveContent");
        assert_eq!(
            fail_code(FailureKind::InvalidInput, "Image format not supported"),
            "ImageFormatIncorrect"
        );
        assert_eq!(
            fail_code(FailureKind::InvalidInput, "bad prompt"),
            "PromptInvalid"
        );
        assert_eq!(fail_code(FailureKind::Expired, ""), "Timeout");
        assert_eq!(fail_code(FailureKind::UpstreamError, ""), "StreamError");
        assert_eq!(fail_code(FailureKind::Internal, ""), "Unknown error");
    }
}

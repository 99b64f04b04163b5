//! Videos API ↔ canonical: a create request to a [`RequestDraft`] (`size` to a resolution and
//! ratio, `input_reference` to a first frame), a [`Task`] to the video object, a list query to a
//! [`TaskQuery`].

use crate::common;
use axum::extract::Query;
use axum::http::Uri;
use bytes::Bytes;
use seedgate_core::error::{GatewayError, ValidationError};
use seedgate_core::output_size::{pixel_size, ConcreteRatio};
use seedgate_core::records::TaskQuery;
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{ModelSpec, RequestDraft, Resolution, Task, TaskId};
use seedgate_service::{GenerationService, Principal};
use serde_json::{Map, Value};

use super::errors::renamed;
use super::multipart::CreateInput;
use super::wire::{ListParams, OpenAiVideo, OpenAiVideoError};

/// The model used when a request names none.
pub const DEFAULT_MODEL: &str = "seedance-2.0-mini";

/// Seconds when a request gives none (OpenAI's default).
pub const DEFAULT_SECONDS: i64 = 4;

/// How long after completion a video's content is promised to stay downloadable.
pub const CONTENT_RETENTION_SECONDS: i64 = 24 * 3600;

/// List page size: default and maximum.
pub const LIST_DEFAULT_LIMIT: i64 = 20;

pub const LIST_MAX_LIMIT: i64 = 100;

/// Every output size of a model, with the resolution and ratio that produce it, in the model's
/// resolution order.
pub fn output_sizes(spec: &ModelSpec) -> Vec<((u32, u32), Resolution, ConcreteRatio)> {
    spec.resolutions
        .iter()
        .flat_map(|&res| {
            ConcreteRatio::ALL
                .into_iter()
                .filter(|ratio| {
                    spec.aspect_ratios
                        .iter()
                        .any(|a| ConcreteRatio::from_aspect(*a) == Some(*ratio))
                })
                .map(move |ratio| (pixel_size(res, ratio), res, ratio))
        })
        .collect()
}

/// Maps a `WxH` size to the model's resolution and aspect ratio.
pub fn map_size(
    raw: &str,
    spec: &ModelSpec,
) -> Result<(Resolution, ConcreteRatio), ValidationError> {
    let sizes = output_sizes(spec);
    let parsed = raw
        .trim()
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.trim().parse::<u32>().ok()?, h.trim().parse::<u32>().ok()?)));
    parsed
        .and_then(|wh| sizes.iter().find(|(size, _, _)| *size == wh))
        .map(|(_, res, ratio)| (*res, *ratio))
        .ok_or_else(|| {
            let accepted: Vec<String> = sizes
                .iter()
                .map(|((w, h), _, _)| format!("{w}x{h}"))
                .collect();
            ValidationError::invalid(
                "size",
                &format!(
                    "must be one of {} (the output sizes of {})",
                    accepted.join(", "),
                    spec.id
                ),
            )
        })
}

/// Where the first frame comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// An http(s) URL (or an `asset://` reference).
    Url(String),
    /// Bytes to store as an asset first (a file part or a base64 data URL).
    File(Bytes),
}

/// Parses `input_reference` given as JSON (or as multipart text parts).
pub fn parse_reference(value: Option<Value>) -> Result<Option<Reference>, ValidationError> {
    const FIELD: &str = "input_reference";
    let url = |field: &str, s: String| -> Result<Reference, ValidationError> {
        match decode_data_url(&s) {
            None => Ok(Reference::Url(s)),
            Some(Ok(bytes)) => Ok(Reference::File(bytes)),
            Some(Err(reason)) => Err(ValidationError::invalid(field, reason)),
        }
    };
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => url(FIELD, s).map(Some),
        Some(Value::Object(map)) => {
            if let Some(k) = map.keys().find(|k| *k != "file_id" && *k != "image_url") {
                return Err(ValidationError::UnknownField {
                    field: format!("{FIELD}.{k}").into(),
                });
            }
            let text = |key: &str| -> Result<Option<String>, ValidationError> {
                match map.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(ValidationError::invalid(
                        format!("{FIELD}.{key}"),
                        "must be a string",
                    )),
                }
            };
            match (text("file_id")?, text("image_url")?) {
                (Some(_), Some(_)) => Err(ValidationError::invalid(
                    FIELD,
                    "give either `file_id` or `image_url`, not both",
                )),
                (Some(id), None) => {
                    let id = id.trim();
                    if id.is_empty() {
                        return Err(ValidationError::invalid(
                            "input_reference.file_id",
                            "must not be empty",
                        ));
                    }
                    Ok(Some(Reference::Url(format!("asset://{id}"))))
                }
                (None, Some(u)) => url("input_reference.image_url", u).map(Some),
                (None, None) => Err(ValidationError::invalid(
                    FIELD,
                    "must have `file_id` or `image_url`",
                )),
            }
        }
        Some(_) => Err(ValidationError::invalid(
            FIELD,
            "must be an image file, an image URL, or an object with `file_id` or `image_url`",
        )),
    }
}

/// A `data:` URL's bytes: `None` when `s` is not a data URL.
fn decode_data_url(s: &str) -> Option<Result<Bytes, &'static str>> {
    let rest = seedgate_core::text::strip_prefix_ignore_ascii_case(s.trim(), "data:")?;
    let Some((meta, data)) = rest.split_once(',') else {
        return Some(Err("is a data URL without a `,`"));
    };
    if !meta.to_ascii_lowercase().ends_with(";base64") {
        return Some(Err("must be a base64 data URL (`data:image/png;base64,…`)"));
    }
    Some(
        base64_decode(data)
            .map(Bytes::from)
            .ok_or("is not valid base64"),
    )
}

/// Standard or URL-safe base64, padding optional, whitespace ignored.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::Engine;
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);
    let compact: String = text.split_ascii_whitespace().collect();
    // One alphabet per string: `+`/`/` and `-`/`_` together are not base64.
    let engine = if compact.contains(['-', '_']) {
        URL_SAFE
    } else {
        STANDARD
    };
    engine
        .decode(compact)
        .ok()
        .filter(|bytes| !bytes.is_empty())
}

/// The draft of a create request. Dialect-only checks (the prompt is required, `size` is a
/// pixel size) come first; a file is stored as an asset of the caller only once they pass.
pub async fn build_draft(
    service: &GenerationService,
    principal: &Principal,
    input: CreateInput,
) -> Result<RequestDraft, GatewayError> {
    let wire = input.wire;
    if wire.prompt.trim().is_empty() {
        return Err(ValidationError::Missing {
            field: "prompt".into(),
        }
        .into());
    }
    let model = wire
        .model
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_MODEL.to_string());
    let reference = match (
        input.file,
        parse_reference(wire.input_reference.map(super::InputReference::into_value))?,
    ) {
        (Some(bytes), _) => Some(Reference::File(bytes)),
        (None, other) => other,
    };
    // An unknown model is reported by validation, before any size.
    let (resolution, aspect_ratio) = match (
        wire.size.as_deref().filter(|s| !s.trim().is_empty()),
        service.catalog().lookup(&model).filter(|s| s.available),
    ) {
        (Some(size), Some(spec)) => {
            let (res, ratio) = map_size(size, spec)?;
            (
                Some(res.as_str().to_string()),
                Some(ratio.as_str().to_string()),
            )
        }
        _ => (None, None),
    };
    let first_frame_url = match reference {
        None => None,
        Some(Reference::Url(url)) => Some(url),
        Some(Reference::File(bytes)) => {
            let asset = service
                .upload_asset(principal, bytes, None)
                .await
                .map_err(renamed)?;
            Some(service.media_url(&asset.object_key))
        }
    };
    Ok(RequestDraft {
        model: Some(model),
        prompt: Some(wire.prompt),
        first_frame_url,
        resolution,
        aspect_ratio,
        duration: Some(wire.seconds.unwrap_or(DEFAULT_SECONDS)),
        // The thumbnail variant serves the last frame.
        return_last_frame: Some(true),
        ..RequestDraft::default()
    })
}

/// How long a render is expected to take, for the progress estimate: 30 s plus 10 s per second
/// of video (Seedance takes one to three minutes for a typical clip).
pub fn expected_render_ms(task: &Task) -> i64 {
    30_000 + 10_000 * i64::from(task.request.duration_seconds)
}

/// Progress 0–100 at `now_ms`.
pub fn progress(task: &Task, now_ms: i64) -> u8 {
    match task.status {
        TaskStatus::Queued | TaskStatus::Failed | TaskStatus::Cancelled => 0,
        TaskStatus::Succeeded => 100,
        TaskStatus::Running => {
            let started = task.started_at_ms.unwrap_or(task.created_at_ms);
            let elapsed = (now_ms - started).max(0);
            let estimate = 5 + elapsed.saturating_mul(90) / expected_render_ms(task).max(1);
            estimate.clamp(5, 95) as u8
        }
    }
}

/// The `error.code` of a failed video.
pub fn failure_code(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Moderation => "moderation_blocked",
        FailureKind::InvalidInput => "invalid_input",
        FailureKind::RateLimited => "rate_limit_exceeded",
        FailureKind::UpstreamError => "upstream_error",
        FailureKind::Timeout => "timeout",
        FailureKind::Expired => "expired",
        FailureKind::Internal => "internal_error",
    }
}

pub(super) fn status_name(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Queued => "queued",
        TaskStatus::Running => "in_progress",
        TaskStatus::Succeeded => "completed",
        TaskStatus::Failed | TaskStatus::Cancelled => "failed",
    }
}

/// The size of a task's video: the one produced once known, else the planned one (for an
/// `adaptive` ratio before the video exists, 16:9).
pub fn video_size(task: &Task) -> (u32, u32) {
    match task
        .output
        .as_ref()
        .and_then(|o| Some((o.width?, o.height?)))
    {
        Some(size) => size,
        None => task.request.output_size(None),
    }
}

/// The videos-API view of a task at `now_ms`.
pub fn video_object(task: &Task, now_ms: i64) -> OpenAiVideo {
    let error = match task.status {
        TaskStatus::Failed => Some(match &task.error {
            Some(e) => OpenAiVideoError {
                code: failure_code(e.kind).into(),
                message: e.message.clone(),
            },
            None => OpenAiVideoError {
                code: failure_code(FailureKind::Internal).into(),
                message: "video generation failed".into(),
            },
        }),
        TaskStatus::Cancelled => Some(OpenAiVideoError {
            code: "cancelled".into(),
            message: "the video was cancelled before it started; its credits were refunded".into(),
        }),
        _ => None,
    };
    let completed_at = task
        .status
        .is_terminal()
        .then(|| task.finished_at_ms.unwrap_or(task.updated_at_ms))
        .map(common::unix_seconds);
    let expires_at = match task.status {
        TaskStatus::Succeeded => match task.output.as_ref().and_then(|o| o.media_expired_at_ms) {
            // Retention expired the content: when it did (in the past).
            Some(at_ms) => Some(common::unix_seconds(at_ms)),
            None => completed_at.map(|t| t + CONTENT_RETENTION_SECONDS),
        },
        _ => None,
    };
    let (width, height) = video_size(task);
    OpenAiVideo {
        id: task.id.to_string(),
        object: "video".into(),
        model: if task.requested_model.is_empty() {
            task.request.model.clone()
        } else {
            task.requested_model.clone()
        },
        status: status_name(task.status).into(),
        progress: progress(task, now_ms),
        created_at: common::unix_seconds(task.created_at_ms),
        completed_at,
        expires_at,
        error,
        prompt: task.request.prompt.clone(),
        seconds: task.request.duration_seconds.to_string(),
        size: format!("{width}x{height}"),
        remixed_from_video_id: None,
    }
}

/// A query string as a JSON object of strings (for [`common::parse_value`]); a parameter given
/// twice is refused.
pub(super) fn query_object(uri: &Uri) -> Result<Value, ValidationError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ValidationError::invalid("query", &e.body_text()))?;
    let mut object = Map::new();
    for (k, v) in pairs {
        if object.insert(k.clone(), Value::String(v)).is_some() {
            return Err(ValidationError::invalid(&k, "is given more than once"));
        }
    }
    Ok(Value::Object(object))
}

/// The task query of a list request.
pub fn list_query(params: ListParams) -> Result<TaskQuery, ValidationError> {
    let limit = match params.limit {
        None => LIST_DEFAULT_LIMIT,
        Some(l) if (1..=LIST_MAX_LIMIT).contains(&l) => l,
        Some(_) => {
            return Err(ValidationError::invalid(
                "limit",
                &format!("must be an integer from 1 to {LIST_MAX_LIMIT}"),
            ))
        }
    };
    let oldest_first = match params.order.as_deref().map(str::trim) {
        None | Some("") | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(ValidationError::invalid("order", "must be asc or desc")),
    };
    let after = params
        .after
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .map(TaskId::from_string);
    Ok(TaskQuery {
        oldest_first,
        after,
        // In range, so it fits.
        limit: limit as u32,
        ..TaskQuery::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_core::Catalog;

    fn mini() -> ModelSpec {
        Catalog::builtin()
            .lookup("seedance-2.0-mini")
            .expect("mini")
            .clone()
    }

    #[test]
    fn sizes_map_to_resolution_and_ratio() {
        let spec = mini();
        assert_eq!(
            map_size("864x496", &spec),
            Ok((Resolution::P480, ConcreteRatio::R16x9))
        );
        assert_eq!(
            map_size("720x1280", &spec),
            Ok((Resolution::P720, ConcreteRatio::R9x16))
        );
        assert_eq!(
            map_size("1470X630", &spec),
            Ok((Resolution::P720, ConcreteRatio::R21x9))
        );
        assert_eq!(output_sizes(&spec).len(), 12);
        for bad in ["1920x1080", "1024x1792", "720p", "16:9", "x", ""] {
            let e = map_size(bad, &spec).expect_err(bad);
            assert_eq!(e.field().map(|f| f.to_string()).as_deref(), Some("size"));
            assert!(e.to_string().contains("864x496") && e.to_string().contains("1280x720"));
        }
    }

    #[test]
    fn references_parse_every_form() {
        assert_eq!(parse_reference(None), Ok(None));
        assert_eq!(
            parse_reference(Some(Value::String("https://e.com/a.png".into()))),
            Ok(Some(Reference::Url("https://e.com/a.png".into())))
        );
        assert_eq!(
            parse_reference(Some(serde_json::json!({"file_id": "asset_1"}))),
            Ok(Some(Reference::Url("asset://asset_1".into())))
        );
        assert_eq!(
            parse_reference(Some(
                serde_json::json!({"image_url": "data:image/png;base64,aGVsbG8="})
            )),
            Ok(Some(Reference::File(Bytes::from_static(b"hello"))))
        );
        let e = parse_reference(Some(serde_json::json!({"url": "x"}))).expect_err("unknown");
        assert_eq!(
            e.field().map(|f| f.to_string()).as_deref(),
            Some("input_reference.url")
        );
        let e = parse_reference(Some(serde_json::json!({}))).expect_err("empty");
        assert_eq!(
            e.field().map(|f| f.to_string()).as_deref(),
            Some("input_reference")
        );
        let e = parse_reference(Some(serde_json::json!({"image_url": "data:image/png,abc"})))
            .expect_err("not base64");
        assert_eq!(
            e.field().map(|f| f.to_string()).as_deref(),
            Some("input_reference.image_url")
        );
        assert!(parse_reference(Some(serde_json::json!(5))).is_err());
    }

    #[test]
    fn base64_decodes_standard_and_url_safe() {
        assert_eq!(
            base64_decode("aGVsbG8gd29ybGQ="),
            Some(b"hello world".to_vec())
        );
        assert_eq!(
            base64_decode("aGVsbG8gd29ybGQ"),
            Some(b"hello world".to_vec())
        );
        assert_eq!(base64_decode("-_8="), Some(vec![0xfb, 0xff]));
        assert_eq!(base64_decode("+/8="), Some(vec![0xfb, 0xff]));
        assert_eq!(base64_decode("a*b"), None);
        assert_eq!(base64_decode("aGk=aGk="), None);
        assert_eq!(base64_decode(""), None);
    }

    #[test]
    fn list_params_are_checked() {
        let q = list_query(ListParams {
            after: Some("task_1".into()),
            limit: None,
            order: Some("asc".into()),
        })
        .expect("ok");
        assert_eq!((q.limit, q.oldest_first), (20, true));
        assert_eq!(q.after.as_ref().map(|a| a.as_str()), Some("task_1"));
        for (limit, order, field) in [
            (Some(0), None, "limit"),
            (Some(101), None, "limit"),
            (None, Some("up"), "order"),
        ] {
            let e = list_query(ListParams {
                after: None,
                limit,
                order: order.map(str::to_string),
            })
            .expect_err("refused");
            assert_eq!(e.field().map(|f| f.to_string()).as_deref(), Some(field));
        }
    }

    use crate::round_trip_fixtures::expired_task;

    #[test]
    fn expired_media_read_back_completed_expiring_when_they_did() {
        let mut t = expired_task();
        let v = serde_json::to_value(video_object(&t, 1_702_600_000_000)).expect("json");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["completed_at"], 1_700_000_009);
        assert_eq!(v["expires_at"], 1_702_592_009);
        assert!(v["error"].is_null(), "{v}");
        // Kept media: the promise of 24 h after completion, as before.
        t.output = Some(seedgate_core::TaskOutput::default());
        let v = serde_json::to_value(video_object(&t, 1_702_600_000_000)).expect("json");
        assert_eq!(v["expires_at"], 1_700_000_009 + CONTENT_RETENTION_SECONDS);
    }
}

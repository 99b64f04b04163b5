//! reAPI ↔ canonical: a submit body to a [`RequestDraft`], a [`Task`] to reAPI's task object,
//! and the estimate and asset views.

use crate::common;
use seedgate_core::error::ValidationError;
use seedgate_core::records::AssetRecord;
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{Catalog, RequestDraft, Task};
use seedgate_service::{GenerationService, Quote};

use super::wire::{
    AssetObject, EstimateObject, MediumObject, Output, OutputSize, SubmitRequest, TaskFailure,
    TaskObject,
};

/// One value given under two names (the 2.0 and the 2.5 shape) must agree.
fn either<T: PartialEq>(
    canonical: Option<T>,
    canonical_name: &str,
    alias: Option<T>,
    alias_name: &str,
) -> Result<Option<T>, ValidationError> {
    match (canonical, alias) {
        (Some(a), Some(b)) if a != b => Err(ValidationError::invalid(
            alias_name,
            &format!("conflicts with `{canonical_name}`; send one of them"),
        )),
        (a, b) => Ok(a.or(b)),
    }
}

/// A submit body as a draft: the 2.0 and 2.5 shapes merged into the canonical fields (a value
/// given under both names must agree), the roles and tools checked.
pub fn submit_draft(wire: SubmitRequest) -> Result<RequestDraft, ValidationError> {
    let mut first_frame = None;
    let mut last_frame = None;
    let mut role_references = Vec::new();
    for (i, item) in wire
        .image_with_roles
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let slot = match item.role.as_str() {
            "first_frame" => &mut first_frame,
            "last_frame" => &mut last_frame,
            "reference_image" => {
                role_references.push(item.url);
                continue;
            }
            _ => {
                return Err(ValidationError::invalid(
                    format!("image_with_roles[{i}].role"),
                    "must be first_frame, last_frame or reference_image",
                ))
            }
        };
        if slot.replace(item.url).is_some() {
            return Err(ValidationError::invalid(
                format!("image_with_roles[{i}].role"),
                "each frame role may appear once",
            ));
        }
    }
    let mut images = wire.image_urls.unwrap_or_default();
    images.extend(role_references);
    let images = (!images.is_empty()).then_some(images);
    let mut web_search = wire.web_search;
    for (i, tool) in wire.tools.unwrap_or_default().iter().enumerate() {
        if tool.kind != "web_search" {
            return Err(ValidationError::invalid(
                format!("tools[{i}].type"),
                "must be web_search",
            ));
        }
        web_search = Some(true);
    }
    Ok(RequestDraft {
        model: wire.model,
        prompt: wire.prompt,
        first_frame_url: either(
            wire.first_frame_url,
            "first_frame_url",
            first_frame,
            "image_with_roles",
        )?,
        last_frame_url: either(
            wire.last_frame_url,
            "last_frame_url",
            last_frame,
            "image_with_roles",
        )?,
        reference_image_urls: either(
            wire.reference_image_urls,
            "reference_image_urls",
            images,
            "image_urls",
        )?,
        reference_video_urls: either(
            wire.reference_video_urls,
            "reference_video_urls",
            wire.video_urls,
            "video_urls",
        )?,
        reference_audio_urls: either(
            wire.reference_audio_urls,
            "reference_audio_urls",
            wire.audio_urls,
            "audio_urls",
        )?,
        generate_audio: wire.generate_audio,
        resolution: wire.resolution,
        aspect_ratio: either(wire.aspect_ratio, "aspect_ratio", wire.size, "size")?,
        duration: wire.duration,
        web_search,
        nsfw_checker: wire.nsfw_checker,
        seed: wire.seed,
        return_last_frame: wire.return_last_frame,
        callback_url: None,
        expires_after_seconds: None,
        priority: None,
        safety_identifier: None,
        explicit_mode: None,
    })
}

/// Parses a submit body into a draft; also returns the parsed JSON for fingerprinting.
pub fn parse_submit(
    body: &[u8],
    catalog: &Catalog,
) -> Result<(RequestDraft, serde_json::Value), ValidationError> {
    let (wire, json): (SubmitRequest, serde_json::Value) = common::parse_json_keeping(body)?;
    // An unknown model is reported as such by validation; the 2.5 fields of a known model
    // that does not take them are refused here, as unknown fields would be.
    let spec = wire.model.as_deref().and_then(|m| catalog.lookup(m));
    if let Some(spec) = spec.filter(|s| !s.seedance_2_5_fields) {
        if let Some(field) = wire.seedance_2_5_fields().first() {
            return Err(ValidationError::invalid(
                *field,
                &format!(
                    "is a Seedance 2.5 request field; {} does not take it",
                    spec.id
                ),
            ));
        }
    }
    Ok((submit_draft(wire)?, json))
}

/// The reAPI view of a task.
pub fn task_object(task: &Task) -> TaskObject {
    let status = match task.status {
        TaskStatus::Queued | TaskStatus::Running => "processing",
        TaskStatus::Succeeded => "completed",
        TaskStatus::Failed | TaskStatus::Cancelled => "failed",
    };
    let output = match (task.status, &task.output) {
        (TaskStatus::Succeeded, Some(o)) => Some(Output {
            video_urls: o.video_urls.clone(),
            video_url: None,
            last_frame_url: o.last_frame_url.clone(),
        }),
        _ => None,
    };
    let expired_at_ms = task.output.as_ref().and_then(|o| o.media_expired_at_ms);
    let error = match task.status {
        TaskStatus::Succeeded => expired_at_ms.map(|at_ms| TaskFailure {
            code: MEDIA_EXPIRED_CODE,
            message: media_expired_message(at_ms),
        }),
        TaskStatus::Failed => Some(match &task.error {
            Some(e) => TaskFailure {
                code: failure_code(e.kind),
                message: e.message.clone(),
            },
            None => TaskFailure {
                code: failure_code(FailureKind::Internal),
                message: "task failed".into(),
            },
        }),
        TaskStatus::Cancelled => Some(TaskFailure {
            code: 80006,
            message: "task was cancelled; credits refunded".into(),
        }),
        _ => None,
    };
    TaskObject {
        id: task.id.to_string(),
        task_id: None,
        model: if task.requested_model.is_empty() {
            task.request.model.clone()
        } else {
            task.requested_model.clone()
        },
        status: status.into(),
        created_at: common::unix_seconds(task.created_at_ms),
        output,
        error,
    }
}

/// `error.code` of a completed task whose media expired under the gateway's retention (its
/// `output.video_urls` is then empty): seedgate's, like every 8xxxx code but 80007.
pub const MEDIA_EXPIRED_CODE: u32 = 80008;

/// `error.message` of a completed task whose media expired at `at_ms`.
pub fn media_expired_message(at_ms: i64) -> String {
    format!(
        "the task completed, but its media expired at {} under this gateway's retention \
         policy and were deleted; submit it again for a new video",
        seedgate_core::usage::rfc3339(at_ms)
    )
}

/// Task-failure codes (8xxxx), reported inside a failed task's `error.code` (and 80008, a
/// completed task's expired media: [`MEDIA_EXPIRED_CODE`]). 80007 is reAPI's documented
/// content rejection; the others are seedgate's.
pub fn failure_code(kind: FailureKind) -> u32 {
    match kind {
        FailureKind::UpstreamError => 80001,
        FailureKind::InvalidInput => 80002,
        FailureKind::RateLimited => 80003,
        FailureKind::Timeout => 80004,
        FailureKind::Expired => 80005,
        FailureKind::Moderation => 80007,
        FailureKind::Internal => 80099,
    }
}

pub fn estimate_object(quote: &Quote) -> EstimateObject {
    let r = &quote.request;
    EstimateObject {
        model: r.model.clone(),
        mode: r.mode.as_str(),
        resolution: r.resolution.as_str(),
        aspect_ratio: r.aspect_ratio.as_str(),
        duration: r.duration_seconds,
        output: OutputSize {
            width: quote.output_size.0,
            height: quote.output_size.1,
            fps: seedgate_core::output_size::OUTPUT_FPS,
        },
        billable_seconds: quote.price.billable_seconds,
        credits: quote.price.credits,
        usd_per_second: quote.price.micro_usd_per_second as f64 / 1_000_000.0,
        price_plan: quote.price_plan.clone(),
        media: quote
            .media
            .iter()
            .map(|m| MediumObject {
                field: m.field.to_string(),
                url: m.url.clone(),
                probe: m.facts.clone(),
            })
            .collect(),
    }
}

pub fn asset_object(service: &GenerationService, asset: &AssetRecord) -> AssetObject {
    AssetObject {
        id: asset.id.clone(),
        url: service.media_url(&asset.object_key),
        content_type: asset.content_type.clone(),
        created_at: common::unix_seconds(asset.created_at_ms),
        probe: asset.facts.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_submit(body: &[u8]) -> Result<(RequestDraft, serde_json::Value), ValidationError> {
        super::parse_submit(body, &Catalog::builtin())
    }

    use crate::round_trip_fixtures::expired_task;

    #[test]
    fn expired_media_read_back_completed_without_urls_and_say_so() {
        let v = serde_json::to_value(task_object(&expired_task())).expect("json");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["output"], serde_json::json!({"video_urls": []}));
        assert_eq!(
            v["error"],
            serde_json::json!({"code": 80008, "message": "the task completed, but its media \
                expired at 2023-12-14T22:13:29.250Z under this gateway's retention policy and \
                were deleted; submit it again for a new video"})
        );
    }

    #[test]
    fn wire_errors_name_the_field() {
        let e = parse_submit(br#"{"model":"m","reference_image_urls":"https://e.com/a.jpg"}"#)
            .expect_err("not a list");
        assert!(
            matches!(&e, ValidationError::Invalid { field, .. } if field.is("reference_image_urls")),
            "{e:?}"
        );
        let e = parse_submit(br#"{"model":"m","bogus":1}"#).expect_err("unknown");
        assert_eq!(
            e,
            ValidationError::UnknownField {
                field: "bogus".into()
            }
        );
        let e = parse_submit(br#"{"model":"m","image_with_roles":[{"url":"u"}]}"#)
            .expect_err("missing role");
        assert_eq!(
            e,
            ValidationError::Missing {
                field: "image_with_roles[0].role".into()
            }
        );
        let e = parse_submit(br#"{"model":"m","duration":5.5}"#).expect_err("fraction");
        assert!(
            matches!(&e, ValidationError::Invalid { field, .. } if field.is("duration")),
            "{e:?}"
        );
        assert!(parse_submit(b"[1]").is_err());
        let (d, _) = parse_submit(br#"{"model":"m","duration":5.0,"size":"9:16"}"#).expect("ok");
        assert_eq!(
            (d.duration, d.aspect_ratio.as_deref()),
            (Some(5), Some("9:16"))
        );
    }

    #[test]
    fn the_2_5_shape_maps_to_canonical_fields_for_2_5_models_only() {
        let body = br#"{"model":"seedance-2.5","size":"adaptive","seed":7,"return_last_frame":true,
            "image_with_roles":[{"url":"https://e.com/f.png","role":"first_frame"},
                                {"url":"https://e.com/l.png","role":"last_frame"}],
            "tools":[{"type":"web_search"}]}"#;
        let (d, _) = parse_submit(body).expect("2.5 shape");
        assert_eq!(d.first_frame_url.as_deref(), Some("https://e.com/f.png"));
        assert_eq!(d.last_frame_url.as_deref(), Some("https://e.com/l.png"));
        assert_eq!(d.aspect_ratio.as_deref(), Some("adaptive"));
        assert_eq!(
            (d.seed, d.return_last_frame, d.web_search),
            (Some(7), Some(true), Some(true))
        );
        let (d, _) = parse_submit(
            br#"{"model":"seedance-2.5","image_urls":["https://e.com/a.png"],"video_urls":["https://e.com/v.mp4"],"audio_urls":["https://e.com/a.mp3"]}"#,
        )
        .expect("references");
        assert_eq!(d.reference_image_urls.map(|v| v.len()), Some(1));
        assert_eq!(d.reference_video_urls.map(|v| v.len()), Some(1));
        assert_eq!(d.reference_audio_urls.map(|v| v.len()), Some(1));
        let e = parse_submit(br#"{"model":"seedance-2.5","size":"16:9","aspect_ratio":"9:16"}"#)
            .expect_err("conflict");
        assert_eq!(e.field().map(|f| f.to_string()).as_deref(), Some("size"));
        let e = parse_submit(br#"{"model":"seedance-2.0-mini","seed":3}"#).expect_err("mini");
        assert_eq!(e.field().map(|f| f.to_string()).as_deref(), Some("seed"));
    }
}

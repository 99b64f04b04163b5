//! CRUN ↔ canonical: CRUN's model names (the mode in the suffix), a CreateTask body to a
//! [`RequestDraft`], a [`Task`] to TaskInfo, an asset to asset-info.

use crate::common;
use seedgate_core::error::ValidationError;
use seedgate_core::media::MediaKind;
use seedgate_core::records::AssetRecord;
use seedgate_core::task::TaskStatus;
use seedgate_core::{AspectRatio, Catalog, Mode, RequestDraft, Task};
use seedgate_service::GenerationService;
use serde_json::Value;
use std::borrow::Cow;

use super::wire::{AssetInfo, CreateTaskRequest, ParamInput, TaskInfo, TaskParam, TaskResult};

/// CRUN's models (family, modes): the ones seedgate does not serve answer 505.
const CRUN_MODELS: [(&str, &[Mode]); 6] = [
    ("seedance2-0", &[Mode::T2v, Mode::I2v, Mode::R2v]),
    ("seedance2-0-mini", &[Mode::T2v, Mode::I2v, Mode::R2v]),
    ("seedance2-0-fast", &[Mode::T2v, Mode::I2v, Mode::R2v]),
    ("seedance2-5", &[Mode::T2v, Mode::I2v, Mode::R2v]),
    ("seedance1-5-pro", &[Mode::T2v, Mode::I2v]),
    ("seedance1-0-pro", &[Mode::T2v]),
];

/// CRUN's family name of a canonical model: `seedance-2.0-mini` → `seedance2-0-mini`.
pub fn crun_family(canonical: &str) -> String {
    canonical
        .replacen("seedance-", "seedance", 1)
        .replace('.', "-")
}

/// CRUN's full model name of a canonical model and mode: `bytedance/seedance2-0-mini-r2v`.
pub fn crun_model(canonical: &str, mode: Mode) -> String {
    format!("bytedance/{}-{}", crun_family(canonical), mode.as_str())
}

/// A CRUN model name resolved: the canonical model (available or not) and the mode.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    pub canonical: String,
    pub mode: Mode,
}

/// Resolves a CRUN model name. A name CRUN has but seedgate does not serve is
/// `ModelNotSupported` (505); a name CRUN does not have is an invalid `model` (422).
pub fn resolve_model(name: &str, catalog: &Catalog) -> Result<ResolvedModel, ValidationError> {
    let unknown = || {
        ValidationError::invalid(
            "model",
            &format!(
                "unknown model `{name}`; use bytedance/seedance2-0-mini-t2v, \
                 bytedance/seedance2-0-mini-i2v or bytedance/seedance2-0-mini-r2v"
            ),
        )
    };
    let lower = name.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("bytedance/").ok_or_else(unknown)?;
    let (family, mode) = [Mode::T2v, Mode::I2v, Mode::R2v]
        .into_iter()
        .find_map(|m| {
            rest.strip_suffix(&format!("-{}", m.as_str()))
                .map(|f| (f, m))
        })
        .ok_or_else(unknown)?;
    if let Some(spec) = catalog
        .models()
        .iter()
        .find(|s| crun_family(&s.id) == family)
    {
        return Ok(ResolvedModel {
            canonical: spec.id.clone(),
            mode,
        });
    }
    match CRUN_MODELS.iter().find(|(f, _)| *f == family) {
        Some((_, modes)) if modes.contains(&mode) => Err(ValidationError::ModelNotSupported {
            model: name.trim().to_string(),
            reason: "this feature is disabled: the service does not serve this model".into(),
        }),
        _ => Err(unknown()),
    }
}

fn non_empty(list: Option<Vec<String>>) -> Option<Vec<String>> {
    list.filter(|l| !l.is_empty())
}

/// The canonical draft. Checks what only CRUN's wire has: the model names and the fields
/// each mode takes. Error fields are CRUN's.
pub fn create_draft(
    wire: CreateTaskRequest,
    catalog: &Catalog,
) -> Result<(RequestDraft, String), ValidationError> {
    let name = wire
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ValidationError::Missing {
            field: "model".into(),
        })?
        .to_string();
    let ResolvedModel { canonical, mode } = resolve_model(&name, catalog)?;
    // A model CRUN names but this gateway does not serve now is refused before its fields.
    catalog.resolve_available(&canonical).map_err(|e| match e {
        ValidationError::ModelNotSupported { reason, .. } => ValidationError::ModelNotSupported {
            model: name.clone(),
            reason,
        },
        other => other,
    })?;
    let input = wire.input.ok_or_else(|| ValidationError::Missing {
        field: "input".into(),
    })?;
    if input.camera_fixed.is_some() {
        return Err(ValidationError::invalid(
            "input.camera_fixed",
            &format!("applies only to Seedance 1.0 and 1.5 pro, not {name}"),
        ));
    }
    let images = non_empty(input.img_urls);
    let ref_images = non_empty(input.reference_images);
    let ref_videos = non_empty(input.reference_videos);
    let ref_audios = non_empty(input.reference_audios);
    let not_for = |field: &str, hint: Mode| {
        ValidationError::invalid(
            field,
            &format!(
                "is not accepted by {name}; use {}",
                crun_model(&canonical, hint)
            ),
        )
    };
    let mut draft = RequestDraft {
        model: Some(canonical.clone()),
        prompt: input.prompt,
        generate_audio: input.audio,
        resolution: input.resolution,
        aspect_ratio: input.aspect_ratio.map(|r| {
            if r.trim().eq_ignore_ascii_case("auto") {
                AspectRatio::Adaptive.as_str().to_string()
            } else {
                r
            }
        }),
        duration: input.duration,
        return_last_frame: input.return_last_frame,
        callback_url: wire.callback_url,
        explicit_mode: Some(mode),
        ..RequestDraft::default()
    };
    if mode != Mode::R2v {
        for (field, list) in [
            ("input.reference_images", &ref_images),
            ("input.reference_videos", &ref_videos),
            ("input.reference_audios", &ref_audios),
        ] {
            if list.is_some() {
                return Err(not_for(field, Mode::R2v));
            }
        }
    }
    match mode {
        Mode::T2v => {
            if images.is_some() {
                return Err(not_for("input.img_urls", Mode::I2v));
            }
        }
        Mode::I2v => {
            let images = images.ok_or_else(|| ValidationError::Missing {
                field: "input.img_urls".into(),
            })?;
            if images.len() > 2 {
                return Err(ValidationError::invalid(
                    "input.img_urls",
                    &format!(
                        "takes at most 2 images (first frame, optional last frame), got {}",
                        images.len()
                    ),
                ));
            }
            let mut frames = images.into_iter();
            draft.first_frame_url = frames.next();
            draft.last_frame_url = frames.next();
            if draft
                .aspect_ratio
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
            {
                draft.aspect_ratio = Some(AspectRatio::Adaptive.as_str().to_string());
            }
        }
        Mode::R2v => {
            if images.is_some() {
                return Err(not_for("input.img_urls", Mode::I2v));
            }
            if ref_images.is_none() && ref_videos.is_none() {
                return Err(ValidationError::invalid(
                    "input",
                    "At least one of reference_images or reference_videos must be provided",
                ));
            }
            draft.reference_image_urls = ref_images;
            draft.reference_video_urls = ref_videos;
            draft.reference_audio_urls = ref_audios;
        }
    }
    Ok((draft, name))
}

/// Parses a CreateTask body; returns the draft, the model name as sent, and the parsed JSON
/// for fingerprinting.
pub fn parse_create(
    body: &[u8],
    catalog: &Catalog,
) -> Result<(RequestDraft, String, Value), ValidationError> {
    let (wire, json): (CreateTaskRequest, Value) = common::parse_json_keeping(body)?;
    let (draft, name) = create_draft(wire, catalog)?;
    Ok((draft, name, json))
}

/// The `result.code` of a failed task.
pub const GENERATION_FAILED: u16 = 501;

fn list(urls: &[seedgate_core::media::MediaUrl]) -> Option<Vec<String>> {
    (!urls.is_empty()).then(|| urls.iter().map(|u| u.as_str().to_string()).collect())
}

/// `result.message` of a succeeded task whose media expired at `at_ms` (its `media_urls` are
/// empty).
pub fn media_expired_message(at_ms: i64) -> String {
    format!(
        "media expired at {} under this gateway's retention policy and were deleted; create \
         the task again for a new video",
        seedgate_core::usage::rfc3339(at_ms)
    )
}

/// The CRUN view of a task.
pub fn task_info(task: &Task) -> TaskInfo {
    let r = &task.request;
    let terminal = task.status.is_terminal();
    let finished = terminal.then(|| task.finished_at_ms.unwrap_or(task.updated_at_ms));
    let mut input = ParamInput {
        prompt: r.prompt.clone(),
        resolution: r.resolution.as_str().to_string(),
        aspect_ratio: match r.aspect_ratio {
            AspectRatio::Adaptive => "auto".to_string(),
            other => other.as_str().to_string(),
        },
        duration: r.duration_seconds,
        audio: r.generate_audio,
        return_last_frame: r.return_last_frame,
        img_urls: None,
        reference_images: None,
        reference_videos: None,
        reference_audios: None,
    };
    match r.mode {
        Mode::T2v => {}
        Mode::I2v => {
            input.img_urls = Some(
                r.first_frame_url
                    .iter()
                    .chain(&r.last_frame_url)
                    .map(|u| u.as_str().to_string())
                    .collect(),
            );
        }
        Mode::R2v => {
            input.reference_images = list(&r.reference_image_urls);
            input.reference_videos = list(&r.reference_video_urls);
            input.reference_audios = list(&r.reference_audio_urls);
        }
    }
    let result = match task.status {
        TaskStatus::Succeeded => Some(TaskResult {
            code: None,
            // Media expired under retention: no URLs, and the result's message says why.
            message: task
                .output
                .as_ref()
                .and_then(|o| o.media_expired_at_ms)
                .map(media_expired_message),
            media_urls: task
                .output
                .as_ref()
                .map(|o| o.video_urls.clone())
                .unwrap_or_default(),
            last_frame_url: task.output.as_ref().and_then(|o| o.last_frame_url.clone()),
        }),
        TaskStatus::Failed => Some(TaskResult {
            code: Some(GENERATION_FAILED),
            message: Some(
                task.error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_else(|| "task failed".into()),
            ),
            media_urls: Vec::new(),
            last_frame_url: None,
        }),
        TaskStatus::Cancelled => Some(TaskResult {
            code: Some(GENERATION_FAILED),
            message: Some("task was cancelled; credits refunded".into()),
            media_urls: Vec::new(),
            last_frame_url: None,
        }),
        TaskStatus::Queued | TaskStatus::Running => None,
    };
    TaskInfo {
        task_id: task.id.to_string(),
        provider: Cow::Borrowed("seedgate"),
        model_version: r.model.clone(),
        status: Cow::Borrowed(match task.status {
            TaskStatus::Queued => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "success",
            TaskStatus::Failed | TaskStatus::Cancelled => "failed",
        }),
        param: TaskParam {
            model: crun_model(&r.model, r.mode),
            callback_url: r.callback_url.clone(),
            input,
        },
        create_at: common::unix_seconds(task.created_at_ms),
        complete_at: finished.map(common::unix_seconds),
        duration_s: finished.map(|f| ((f - task.created_at_ms).max(0) + 500) / 1000),
        credits: terminal.then(|| {
            if task.status == TaskStatus::Succeeded {
                task.price.credits
            } else {
                0
            }
        }),
        result,
        source: Cow::Borrowed("api"),
    }
}

fn asset_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "Image",
        MediaKind::Video => "Video",
        MediaKind::Audio => "Audio",
    }
}

pub fn asset_info(service: &GenerationService, asset: &AssetRecord) -> AssetInfo {
    let at = common::unix_seconds(asset.created_at_ms);
    AssetInfo {
        asset_id: asset.id.clone(),
        name: asset.name.clone().unwrap_or_else(|| asset.id.clone()),
        asset_type: Cow::Borrowed(asset_type(asset.facts.kind)),
        status: Cow::Borrowed("Active"),
        create_time: at,
        update_time: at,
        url: service.media_url(&asset.object_key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<RequestDraft, ValidationError> {
        parse_create(body.as_bytes(), &Catalog::builtin()).map(|(d, _, _)| d)
    }

    use crate::round_trip_fixtures::expired_task;

    #[test]
    fn expired_media_read_back_as_success_with_a_message_and_no_urls() {
        let v = serde_json::to_value(task_info(&expired_task())).expect("json");
        assert_eq!(v["status"], "success");
        assert_eq!(
            v["result"],
            serde_json::json!({"message": "media expired at 2023-12-14T22:13:29.250Z under this \
                gateway's retention policy and were deleted; create the task again for a new \
                video", "media_urls": []})
        );
    }

    #[test]
    fn model_names() {
        let c = Catalog::builtin();
        assert_eq!(
            resolve_model("bytedance/seedance2-0-mini-r2v", &c),
            Ok(ResolvedModel {
                canonical: "seedance-2.0-mini".into(),
                mode: Mode::R2v
            })
        );
        assert_eq!(
            resolve_model("bytedance/seedance2-5-t2v", &c).map(|m| m.canonical),
            Ok("seedance-2.5".into())
        );
        assert!(matches!(
            resolve_model("bytedance/seedance2-0-fast-i2v", &c),
            Err(ValidationError::ModelNotSupported { .. })
        ));
        assert!(matches!(
            resolve_model("bytedance/seedance1-0-pro-r2v", &c),
            Err(ValidationError::Invalid { .. })
        ));
        assert!(matches!(
            resolve_model("seedance-2.0-mini", &c),
            Err(ValidationError::Invalid { .. })
        ));
        assert_eq!(
            crun_model("seedance-2.0-mini", Mode::I2v),
            "bytedance/seedance2-0-mini-i2v"
        );
    }

    #[test]
    fn modes_take_their_fields() {
        let d = parse(
            r#"{"model":"bytedance/seedance2-0-mini-i2v","input":{"img_urls":["https://e.com/a.png","asset://asset_1"]}}"#,
        )
        .expect("i2v");
        assert_eq!(d.first_frame_url.as_deref(), Some("https://e.com/a.png"));
        assert_eq!(d.last_frame_url.as_deref(), Some("asset://asset_1"));
        assert_eq!(d.aspect_ratio.as_deref(), Some("adaptive"));
        assert_eq!(d.explicit_mode, Some(Mode::I2v));
        let e = parse(r#"{"model":"bytedance/seedance2-0-mini-r2v","input":{"prompt":"p","reference_audios":["https://e.com/a.wav"]}}"#)
            .expect_err("audio only");
        assert!(
            e.to_string().contains("At least one of reference_images"),
            "{e}"
        );
        let e = parse(r#"{"model":"bytedance/seedance2-0-mini-t2v","input":{"prompt":"p","img_urls":["https://e.com/a.png"]}}"#)
            .expect_err("t2v with image");
        assert_eq!(
            e.field().map(|f| f.to_string()).as_deref(),
            Some("input.img_urls")
        );
        let d = parse(r#"{"model":"bytedance/seedance2-0-mini-t2v","input":{"prompt":"p","audio":true,"aspect_ratio":"auto"}}"#)
            .expect("t2v");
        assert_eq!(d.generate_audio, Some(true));
        assert_eq!(d.aspect_ratio.as_deref(), Some("adaptive"));
    }
}

//! Ark → canonical: a create body (its `content[]` and the Ark-only fields) to a
//! [`RequestDraft`].

use crate::common;
use seedgate_core::error::ValidationError;
use seedgate_core::media::MediaUrl;
use seedgate_core::{Catalog, RequestDraft};

use super::errors::ContentPaths;
use super::wire::{CreateTaskRequest, MediaRef};

/// `execution_expires_after` bounds and default, in seconds.
const EXPIRES_MIN: i64 = 3600;

const EXPIRES_MAX: i64 = 259_200;

pub(super) const EXPIRES_DEFAULT: u32 = 172_800;

fn has_scheme(url: &str, scheme: &str) -> bool {
    seedgate_core::text::starts_with_ignore_ascii_case(url.trim_start(), scheme)
}

fn is_data_uri(url: &str) -> bool {
    has_scheme(url, "data:")
}

fn is_asset_ref(url: &str) -> bool {
    has_scheme(url, "asset://")
}

/// Ark → canonical for the create body (a trait because the body is `seedgate-wire`'s type).
pub trait IntoDraft {
    /// The canonical draft and where each medium came from. Only the shape of `content[]` is
    /// checked here; values are checked by the core (and by `check_wire`).
    fn into_draft(self) -> Result<(RequestDraft, ContentPaths), ValidationError>;
}

impl IntoDraft for CreateTaskRequest {
    fn into_draft(self) -> Result<(RequestDraft, ContentPaths), ValidationError> {
        let mut paths = ContentPaths::default();
        let mut prompt = None;
        let mut first_frame = None;
        let mut last_frame = None;
        let mut unroled: Vec<(usize, String)> = Vec::new();
        let mut images = Vec::new();
        let mut videos = Vec::new();
        let mut audios = Vec::new();
        let items = self.content.unwrap_or_default();
        if items.is_empty() {
            return Err(ValidationError::Missing {
                field: "content".into(),
            });
        }
        for (i, item) in items.into_iter().enumerate() {
            let at = |field: &str| format!("content[{i}].{field}");
            // Each type carries exactly its own payload.
            let payloads = [
                ("text", item.text.is_some()),
                ("image_url", item.image_url.is_some()),
                ("video_url", item.video_url.is_some()),
                ("audio_url", item.audio_url.is_some()),
                ("draft_task", item.draft_task.is_some()),
            ];
            if let Some((other, _)) = payloads
                .iter()
                .find(|(name, present)| *present && *name != item.kind)
            {
                if payloads.iter().any(|(name, _)| *name == item.kind) {
                    return Err(ValidationError::invalid(
                        at(other),
                        &format!("is not allowed in an item of type `{}`", item.kind),
                    ));
                }
            }
            let role = item.role.as_deref().map(str::trim);
            let media_url = |media: Option<MediaRef>, field: &str| match media {
                None => Err(ValidationError::missing(at(field))),
                Some(m) if is_data_uri(&m.url) => Err(ValidationError::invalid(
                    format!("content[{i}].{field}.url"),
                    "inline base64 data URIs are not accepted by seedgate; pass an http(s) URL \
                     or an asset://<id> of an uploaded asset",
                )),
                // `asset://` references are resolved (and checked) by the gateway; any other
                // URL is named precisely here rather than as the whole item by the core.
                Some(m) if is_asset_ref(&m.url) => Ok(m.url),
                Some(m) => match MediaUrl::parse(&m.url) {
                    Ok(_) => Ok(m.url),
                    Err(e) => Err(ValidationError::invalid(
                        format!("content[{i}].{field}.url"),
                        &e.to_string(),
                    )),
                },
            };
            match item.kind.as_str() {
                "text" => {
                    if role.is_some() {
                        return Err(ValidationError::invalid(
                            at("role"),
                            "is not allowed in a text item",
                        ));
                    }
                    let Some(text) = item.text else {
                        return Err(ValidationError::missing(at("text")));
                    };
                    if prompt.is_some() {
                        return Err(ValidationError::invalid(
                            format!("content[{i}]"),
                            "only one text item is allowed; put the whole prompt in one item",
                        ));
                    }
                    prompt = Some(text);
                    paths.text = Some(i);
                }
                "image_url" => {
                    let url = media_url(item.image_url, "image_url")?;
                    match role {
                        None => unroled.push((i, url)),
                        Some("first_frame") | Some("last_frame") => {
                            let (slot, path) = if role == Some("first_frame") {
                                (&mut first_frame, &mut paths.first_frame)
                            } else {
                                (&mut last_frame, &mut paths.last_frame)
                            };
                            if slot.replace(url).is_some() {
                                return Err(ValidationError::invalid(
                                    at("role"),
                                    "each frame role may appear once",
                                ));
                            }
                            *path = Some(i);
                        }
                        Some("reference_image") => {
                            images.push(url);
                            paths.images.push(i);
                        }
                        Some(_) => {
                            return Err(ValidationError::invalid(
                                at("role"),
                                "must be first_frame, last_frame or reference_image",
                            ))
                        }
                    }
                }
                "video_url" | "audio_url" => {
                    let is_video = item.kind == "video_url";
                    let (media, expected) = if is_video {
                        (item.video_url, "reference_video")
                    } else {
                        (item.audio_url, "reference_audio")
                    };
                    let url = media_url(media, &item.kind)?;
                    if role.is_some_and(|r| r != expected) {
                        return Err(ValidationError::invalid(
                            at("role"),
                            &format!("must be {expected}"),
                        ));
                    }
                    if is_video {
                        videos.push(url);
                        paths.videos.push(i);
                    } else {
                        audios.push(url);
                        paths.audios.push(i);
                    }
                }
                "draft_task" => {
                    return Err(ValidationError::invalid(
                        at("type"),
                        "draft_task is only supported by Seedance 1.5 pro",
                    ))
                }
                _ => {
                    return Err(ValidationError::invalid(
                        at("type"),
                        "must be text, image_url, video_url or audio_url",
                    ))
                }
            }
        }
        // A single image without a role is the first frame (§1.5).
        match unroled.len() {
            0 => {}
            1 if first_frame.is_none() => {
                let (i, url) = unroled.remove(0);
                first_frame = Some(url);
                paths.first_frame = Some(i);
            }
            _ => {
                let (i, _) = unroled[unroled.len() - 1];
                return Err(ValidationError::invalid(
                    format!("content[{i}].role"),
                    "is required when the request has more than one image",
                ));
            }
        }
        let mut web_search = None;
        for (i, tool) in self.tools.unwrap_or_default().iter().enumerate() {
            if tool.kind != "web_search" {
                return Err(ValidationError::invalid(
                    format!("tools[{i}].type"),
                    "must be web_search",
                ));
            }
            web_search = Some(true);
        }
        let non_empty = |v: Vec<String>| (!v.is_empty()).then_some(v);
        let draft = RequestDraft {
            model: self.model,
            prompt,
            first_frame_url: first_frame,
            last_frame_url: last_frame,
            reference_image_urls: non_empty(images),
            reference_video_urls: non_empty(videos),
            reference_audio_urls: non_empty(audios),
            // Ark's defaults (§1.4), not the catalog's.
            generate_audio: Some(self.generate_audio.unwrap_or(true)),
            resolution: self.resolution,
            aspect_ratio: Some(self.ratio.unwrap_or_else(|| "adaptive".into())),
            duration: self.duration,
            web_search,
            nsfw_checker: None,
            seed: self.seed,
            return_last_frame: self.return_last_frame,
            callback_url: self.callback_url,
            expires_after_seconds: self.execution_expires_after,
            priority: self.priority,
            safety_identifier: self.safety_identifier,
            explicit_mode: None,
        };
        Ok((draft, paths))
    }
}

/// The Ark fields that only make sense on Ark's wire, checked once the model is known to be
/// served (an unknown model is reported as such first). `model` is the name the client sent.
fn check_wire(wire: &WireExtras, model: &str, seedance_2_5: bool) -> Result<(), ValidationError> {
    match wire.service_tier.as_deref().map(str::trim) {
        None | Some("default") => {}
        Some("flex") => {
            return Err(ValidationError::invalid(
                "service_tier",
                &format!("flex is not supported by {model}; use default"),
            ))
        }
        Some(_) => {
            return Err(ValidationError::invalid(
                "service_tier",
                "must be default or flex",
            ))
        }
    }
    if let Some(s) = wire.execution_expires_after {
        if !(EXPIRES_MIN..=EXPIRES_MAX).contains(&s) {
            return Err(ValidationError::invalid(
                "execution_expires_after",
                &format!("must be an integer from {EXPIRES_MIN} to {EXPIRES_MAX} seconds"),
            ));
        }
    }
    if wire.draft == Some(true) {
        return Err(ValidationError::invalid(
            "draft",
            &format!("draft mode is only supported by Seedance 1.5 pro, not {model}"),
        ));
    }
    if let Some(id) = &wire.safety_identifier {
        if id.len() > 64 || !id.is_ascii() {
            return Err(ValidationError::invalid(
                "safety_identifier",
                "must be at most 64 ASCII characters",
            ));
        }
    }
    if wire.duration == Some(-1) {
        return Err(ValidationError::invalid(
            "duration",
            "-1 (the model chooses the length) is not supported: seedgate prices a task before \
             it runs; send a duration from 4 to 15 seconds",
        ));
    }
    if wire.frames.is_some() {
        return Err(ValidationError::invalid(
            "frames",
            &format!("is only supported by Seedance 1.0 models, not {model}; use duration"),
        ));
    }
    if wire.camera_fixed == Some(true) {
        return Err(ValidationError::invalid(
            "camera_fixed",
            &format!("is only supported by Seedance 1.0 and 1.5 models, not {model}"),
        ));
    }
    match wire.output_format.as_deref().map(str::trim) {
        None | Some("mp4") => {}
        Some("mov") if seedance_2_5 => {
            return Err(ValidationError::invalid(
                "output_format",
                "mov is not supported by seedgate; use mp4",
            ))
        }
        Some(_) => {
            return Err(ValidationError::invalid(
                "output_format",
                &format!("must be mp4 for {model}"),
            ))
        }
    }
    if let Some(kind) = wire.omni_reference_task_type.as_deref().map(str::trim) {
        if !seedance_2_5 {
            return Err(ValidationError::invalid(
                "omni_reference_task_type",
                &format!("is only supported by Seedance 2.5 models, not {model}"),
            ));
        }
        if kind != "auto" {
            return Err(ValidationError::invalid(
                "omni_reference_task_type",
                "only auto is supported by seedgate",
            ));
        }
    }
    Ok(())
}

/// The wire-only fields of a create request, kept aside while the rest becomes a draft.
#[derive(Debug, Default)]
struct WireExtras {
    service_tier: Option<String>,
    execution_expires_after: Option<i64>,
    draft: Option<bool>,
    safety_identifier: Option<String>,
    duration: Option<i64>,
    frames: Option<i64>,
    camera_fixed: Option<bool>,
    output_format: Option<String>,
    omni_reference_task_type: Option<String>,
}

/// A parsed create request: the draft, where its media came from, and the parsed JSON (for
/// Idempotency-Key fingerprints).
pub struct ParsedCreate {
    pub draft: RequestDraft,
    pub paths: ContentPaths,
    pub json: serde_json::Value,
}

/// Parses a create body and applies the Ark-only checks. Errors name fields Ark's way.
pub fn parse_create(body: &[u8], catalog: &Catalog) -> Result<ParsedCreate, ValidationError> {
    let (mut wire, json): (CreateTaskRequest, serde_json::Value) =
        common::parse_json_keeping(body)?;
    let extras = WireExtras {
        service_tier: wire.service_tier.take(),
        execution_expires_after: wire.execution_expires_after,
        draft: wire.draft.take(),
        safety_identifier: wire.safety_identifier.clone(),
        duration: wire.duration,
        frames: wire.frames.take(),
        camera_fixed: wire.camera_fixed.take(),
        output_format: wire.output_format.take(),
        omni_reference_task_type: wire.omni_reference_task_type.take(),
    };
    // The model first, as the core orders its checks: a missing, unknown or unserved model is
    // reported before anything about `content[]` or the Ark-only fields (same catalog call and
    // error as the core's).
    let sent = wire
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ValidationError::Missing {
            field: "model".into(),
        })?;
    let spec = catalog.resolve_available(sent)?;
    check_wire(&extras, sent, spec.seedance_2_5_fields)?;
    let (draft, paths) = wire.into_draft()?;
    Ok(ParsedCreate { draft, paths, json })
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_core::FieldPath;

    fn parse(body: &str) -> Result<ParsedCreate, ValidationError> {
        parse_create(body.as_bytes(), &Catalog::builtin())
    }

    const MODEL: &str = "dreamina-seedance-2-0-mini-260615";

    fn text_and(items: &str) -> String {
        format!(r#"{{"model":"{MODEL}","content":[{{"type":"text","text":"a fox"}}{items}]}}"#)
    }

    #[test]
    fn content_maps_to_canonical_fields() {
        let body = format!(
            r#"{{"model":"{MODEL}","content":[
              {{"type":"text","text":"[Image 1] walks"}},
              {{"type":"image_url","image_url":{{"url":"https://e.com/a.png"}},"role":"reference_image"}},
              {{"type":"video_url","video_url":{{"url":"https://e.com/b.mp4"}},"role":"reference_video"}},
              {{"type":"audio_url","audio_url":{{"url":"https://e.com/c.mp3"}},"role":"reference_audio"}}],
              "resolution":"720p","ratio":"adaptive","duration":6,"generate_audio":true,
              "tools":[{{"type":"web_search"}}],"watermark":false}}"#
        );
        let p = parse(&body).expect("valid");
        let d = &p.draft;
        assert_eq!(d.prompt.as_deref(), Some("[Image 1] walks"));
        assert_eq!(d.reference_image_urls.as_ref().map(Vec::len), Some(1));
        assert_eq!(d.reference_video_urls.as_ref().map(Vec::len), Some(1));
        assert_eq!(d.reference_audio_urls.as_ref().map(Vec::len), Some(1));
        assert_eq!(d.web_search, Some(true));
        assert_eq!(d.duration, Some(6));
        assert_eq!(
            p.paths.wire_name(&FieldPath::at("reference_video_urls", 0)),
            "content[2].video_url"
        );
        assert_eq!(
            p.paths.wire_name(&FieldPath::new("reference_audio_urls")),
            "content"
        );
        assert_eq!(p.paths.wire_name(&FieldPath::new("aspect_ratio")), "ratio");
        assert_eq!(
            p.paths.wire_name(&FieldPath::new("prompt")),
            "content[0].text"
        );
    }

    #[test]
    fn ark_defaults_and_unroled_image() {
        let p = parse(&text_and(
            r#",{"type":"image_url","image_url":{"url":"https://e.com/a.png"}}"#,
        ))
        .expect("valid");
        assert_eq!(
            p.draft.first_frame_url.as_deref(),
            Some("https://e.com/a.png")
        );
        assert_eq!(
            p.paths.wire_name(&FieldPath::new("first_frame_url")),
            "content[1].image_url"
        );
        assert_eq!(p.draft.aspect_ratio.as_deref(), Some("adaptive"));
        assert_eq!(p.draft.generate_audio, Some(true));
        let e = parse(&text_and(
            r#",{"type":"image_url","image_url":{"url":"https://e.com/a.png"}},
               {"type":"image_url","image_url":{"url":"https://e.com/b.png"}}"#,
        ))
        .err();
        assert_eq!(
            e.as_ref()
                .and_then(|e| e.field())
                .map(|f| f.to_string())
                .as_deref(),
            Some("content[2].role")
        );
    }

    #[test]
    fn wire_errors_name_ark_paths() {
        let cases = [
            (
                text_and(
                    r#",{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}"#,
                ),
                "content[1].image_url.url",
            ),
            (text_and(r#",{"type":"image_url"}"#), "content[1].image_url"),
            (
                text_and(r#",{"type":"image_url","image_url":{}}"#),
                "content[1].image_url.url",
            ),
            (text_and(r#",{"type":"text","text":"again"}"#), "content[1]"),
            (
                text_and(r#",{"type":"draft_task","draft_task":{"id":"x"}}"#),
                "content[1].type",
            ),
            (text_and(r#",{"type":"bogus"}"#), "content[1].type"),
            (
                text_and(
                    r#",{"type":"video_url","video_url":{"url":"https://e.com/v.mp4"},"role":"first_frame"}"#,
                ),
                "content[1].role",
            ),
            (
                text_and(r#",{"type":"text","text":"x","image_url":{"url":"u"}}"#),
                "content[1].image_url",
            ),
            (
                format!(
                    r#"{{"model":"{MODEL}","content":[{{"type":"text","text":"x","extra":1}}]}}"#
                ),
                "content[0].extra",
            ),
            (format!(r#"{{"model":"{MODEL}"}}"#), "content"),
            (format!(r#"{{"model":"{MODEL}","content":[]}}"#), "content"),
        ];
        for (body, field) in cases {
            let e = parse(&body).err();
            assert_eq!(
                e.as_ref()
                    .and_then(|e| e.field())
                    .map(|f| f.to_string())
                    .as_deref(),
                Some(field),
                "{body}: {e:?}"
            );
        }
    }

    #[test]
    fn ark_only_fields_are_checked_for_served_models() {
        for (extra, field) in [
            (r#""service_tier":"flex""#, "service_tier"),
            (r#""frames":57"#, "frames"),
            (r#""draft":true"#, "draft"),
            (r#""camera_fixed":true"#, "camera_fixed"),
            (r#""duration":-1"#, "duration"),
            (
                r#""execution_expires_after":3599"#,
                "execution_expires_after",
            ),
            (
                r#""execution_expires_after":259201"#,
                "execution_expires_after",
            ),
            (r#""output_format":"mov""#, "output_format"),
            (
                r#""omni_reference_task_type":"auto""#,
                "omni_reference_task_type",
            ),
        ] {
            let body = format!(
                r#"{{"model":"{MODEL}","content":[{{"type":"text","text":"x"}}],{extra}}}"#
            );
            let e = parse(&body).err();
            assert_eq!(
                e.as_ref()
                    .and_then(|e| e.field())
                    .map(|f| f.to_string())
                    .as_deref(),
                Some(field),
                "{body}"
            );
        }
        let long = "a".repeat(65);
        let body = format!(
            r#"{{"model":"{MODEL}","content":[{{"type":"text","text":"x"}}],"safety_identifier":"{long}"}}"#
        );
        assert!(parse(&body).is_err());
        // An unknown model is reported as such, not as `frames` or a bad `content`.
        for body in [
            r#"{"model":"sora-2","content":[{"type":"text","text":"x"}],"frames":57}"#,
            r#"{"model":"sora-2","content":[]}"#,
        ] {
            assert!(
                matches!(parse(body), Err(ValidationError::ModelNotSupported { .. })),
                "{body}"
            );
        }
        assert_eq!(
            parse(r#"{"content":[]}"#).err(),
            Some(ValidationError::Missing {
                field: "model".into()
            })
        );
        let ok = format!(
            r#"{{"model":"{MODEL}","content":[{{"type":"text","text":"x"}}],"service_tier":"default",
               "execution_expires_after":3600,"draft":false,"camera_fixed":false,"watermark":true,
               "priority":3,"output_format":"mp4","safety_identifier":"user-hash","seed":7}}"#
        );
        assert!(parse(&ok).is_ok());
    }
}

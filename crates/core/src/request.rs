//! The canonical request. Dialects fill a [`RequestDraft`] (everything optional, values as the
//! client sent them); [`GenerationRequest::from_draft`] checks it against the model's catalog
//! entry and is the only way to obtain a `GenerationRequest`, so holding one means it is valid.

use crate::catalog::{Catalog, ModelSpec};
use crate::error::{FieldPath, Rule, ValidationError};
use crate::media::{MediaKind, MediaUrl};
use crate::output_size::{pixel_size, ConcreteRatio};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Resolution {
    #[serde(rename = "480p")]
    P480,
    #[serde(rename = "720p")]
    P720,
    #[serde(rename = "1080p")]
    P1080,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::P480 => "480p",
            Resolution::P720 => "720p",
            Resolution::P1080 => "1080p",
        }
    }

    /// Parses the canonical spelling; dialects normalise case and whitespace first where their
    /// contract says so.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "480p" => Some(Resolution::P480),
            "720p" => Some(Resolution::P720),
            "1080p" => Some(Resolution::P1080),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AspectRatio {
    #[serde(rename = "16:9")]
    R16x9,
    #[serde(rename = "9:16")]
    R9x16,
    #[serde(rename = "1:1")]
    R1x1,
    #[serde(rename = "4:3")]
    R4x3,
    #[serde(rename = "3:4")]
    R3x4,
    #[serde(rename = "21:9")]
    R21x9,
    #[serde(rename = "adaptive")]
    Adaptive,
}

impl AspectRatio {
    pub const ALL: [AspectRatio; 7] = [
        AspectRatio::R16x9,
        AspectRatio::R9x16,
        AspectRatio::R1x1,
        AspectRatio::R4x3,
        AspectRatio::R3x4,
        AspectRatio::R21x9,
        AspectRatio::Adaptive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AspectRatio::R16x9 => "16:9",
            AspectRatio::R9x16 => "9:16",
            AspectRatio::R1x1 => "1:1",
            AspectRatio::R4x3 => "4:3",
            AspectRatio::R3x4 => "3:4",
            AspectRatio::R21x9 => "21:9",
            AspectRatio::Adaptive => "adaptive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Which kind of generation the request is. Implicit in reAPI (decided by the media fields),
/// explicit in APIXO and CRUN; always derived the same way here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Text-to-video: no media.
    T2v,
    /// Image-to-video: a first frame, optionally a last frame.
    I2v,
    /// Reference-to-video: reference images (and optionally videos and audio).
    R2v,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::T2v => "t2v",
            Mode::I2v => "i2v",
            Mode::R2v => "r2v",
        }
    }
}

/// What a dialect understood from the client, before any semantic check. Field names are the
/// canonical ones (reAPI's); errors name them, and each dialect maps names back to its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestDraft {
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub first_frame_url: Option<String>,
    pub last_frame_url: Option<String>,
    pub reference_image_urls: Option<Vec<String>>,
    pub reference_video_urls: Option<Vec<String>>,
    pub reference_audio_urls: Option<Vec<String>>,
    pub generate_audio: Option<bool>,
    pub resolution: Option<String>,
    pub aspect_ratio: Option<String>,
    pub duration: Option<i64>,
    pub web_search: Option<bool>,
    pub nsfw_checker: Option<bool>,
    /// `-1` (or absent) lets the model choose; otherwise 0 to 2^32-1.
    pub seed: Option<i64>,
    /// Also return the last frame of the video as a PNG.
    pub return_last_frame: Option<bool>,
    /// Where to send the task's result when it finishes.
    pub callback_url: Option<String>,
    /// A mode the dialect fixes by itself (APIXO `mode`, CRUN's model suffix); checked against
    /// the media fields.
    pub explicit_mode: Option<Mode>,
    /// Seconds from creation by which the task must have finished; past it, the task expires
    /// and is refunded (Ark's `execution_expires_after`).
    pub expires_after_seconds: Option<i64>,
    /// The priority the client asked for (Ark's `priority`), passed on to upstreams.
    pub priority: Option<i64>,
    /// An opaque id of the client's end user (Ark's `safety_identifier`), kept and passed on.
    pub safety_identifier: Option<String>,
}

/// A validated generation request: every field known, within the model's limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRequest {
    /// Canonical catalog id (aliases already resolved).
    pub model: String,
    pub mode: Mode,
    pub prompt: Option<String>,
    pub first_frame_url: Option<MediaUrl>,
    pub last_frame_url: Option<MediaUrl>,
    pub reference_image_urls: Vec<MediaUrl>,
    pub reference_video_urls: Vec<MediaUrl>,
    pub reference_audio_urls: Vec<MediaUrl>,
    pub generate_audio: bool,
    pub resolution: Resolution,
    pub aspect_ratio: AspectRatio,
    pub duration_seconds: u32,
    pub web_search: bool,
    pub nsfw_checker: bool,
    /// The seed asked for; `None` lets the model choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    /// Whether the result includes the last frame as a PNG.
    #[serde(default)]
    pub return_last_frame: bool,
    /// Where the result is sent when the task finishes (an absolute http(s) URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// The reference media as they were measured and priced, kept in seedgate's storage, by
    /// field (`first_frame_url`, `reference_video_urls[1]`). Providers are sent these copies,
    /// never the client's URLs, so a client cannot serve one file to the probe and another to
    /// the model.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub media_copies: BTreeMap<String, MediaCopy>,
    /// Seconds from creation by which the task must have finished, when the client set it;
    /// otherwise the operator's `upstream.deadline_seconds` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
}

/// A stored copy of a reference medium: its object key (content-addressed, so the same file
/// is the same key) and the signed link providers are sent, made once when the task is
/// accepted, so every submit of the task (a reconciled one included) carries the same body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaCopy {
    pub key: String,
    pub url: MediaUrl,
    /// What the probe measured of it, for the task's timeline (absent on older tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probed: Option<crate::timeline::ProbedMedium>,
}

/// One medium of a request: its field with index (`reference_image_urls[0]`), the kind of
/// medium expected there, and its URL.
pub struct MediaField<U> {
    pub field: FieldPath,
    pub kind: MediaKind,
    pub url: U,
}

impl GenerationRequest {
    /// Every medium, in field order (first frame, last frame, images, videos, audio).
    pub fn media_fields(&self) -> Vec<MediaField<&MediaUrl>> {
        let mut all = Vec::new();
        let singles = [
            ("first_frame_url", &self.first_frame_url),
            ("last_frame_url", &self.last_frame_url),
        ];
        for (field, url) in singles {
            if let Some(url) = url {
                all.push(MediaField {
                    field: FieldPath::new(field),
                    kind: MediaKind::Image,
                    url,
                });
            }
        }
        let lists = [
            (
                "reference_image_urls",
                MediaKind::Image,
                &self.reference_image_urls,
            ),
            (
                "reference_video_urls",
                MediaKind::Video,
                &self.reference_video_urls,
            ),
            (
                "reference_audio_urls",
                MediaKind::Audio,
                &self.reference_audio_urls,
            ),
        ];
        for (field, kind, urls) in lists {
            all.extend(urls.iter().enumerate().map(|(i, url)| MediaField {
                field: FieldPath::at(field, i),
                kind,
                url,
            }));
        }
        all
    }

    /// Whether `other` asks for the same generation from the same bytes: every parameter
    /// equal, and each medium the same stored copy (so two uploads of one file, under two
    /// URLs, are the same work). Without copies, the URLs themselves must match.
    pub fn same_work_as(&self, other: &Self) -> bool {
        let copied = |r: &Self| r.media_copies.len() == r.media_fields().len();
        if !(copied(self) && copied(other)) {
            return self == other;
        }
        // The same files are the same keys; their links differ with the time they were made.
        let keys = |r: &Self| {
            r.media_copies
                .iter()
                .map(|(field, copy)| (field.clone(), copy.key.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        let without_urls = |r: &Self| Self {
            first_frame_url: None,
            last_frame_url: None,
            reference_image_urls: Vec::new(),
            reference_video_urls: Vec::new(),
            reference_audio_urls: Vec::new(),
            media_copies: BTreeMap::new(),
            ..r.clone()
        };
        keys(self) == keys(other) && without_urls(self) == without_urls(other)
    }

    /// The request as a provider must see it: each medium that has a stored copy points at
    /// that copy's link.
    pub fn with_media_copies(&self) -> Self {
        let mut request = self.clone();
        let copies = std::mem::take(&mut request.media_copies);
        // Copies are keyed by the field's path as text (`reference_image_urls[0]`): the form
        // stored with the task.
        let replace = |field: FieldPath, url: &mut MediaUrl| {
            if let Some(copy) = copies.get(&field.to_string()) {
                *url = copy.url.clone();
            }
        };
        for (field, url) in [
            ("first_frame_url", request.first_frame_url.as_mut()),
            ("last_frame_url", request.last_frame_url.as_mut()),
        ] {
            if let Some(url) = url {
                replace(FieldPath::new(field), url);
            }
        }
        for (field, urls) in [
            ("reference_image_urls", &mut request.reference_image_urls),
            ("reference_video_urls", &mut request.reference_video_urls),
            ("reference_audio_urls", &mut request.reference_audio_urls),
        ] {
            for (i, url) in urls.iter_mut().enumerate() {
                replace(FieldPath::at(field, i), url);
            }
        }
        request.media_copies = copies;
        request
    }

    /// Validates a draft against the catalog. The checks are ordered so that the first error a
    /// client sees is the most fundamental one (model, then shape, then values).
    pub fn from_draft(draft: RequestDraft, catalog: &Catalog) -> Result<Self, ValidationError> {
        let model_name = non_empty(draft.model.as_deref()).ok_or(ValidationError::Missing {
            field: "model".into(),
        })?;
        let spec = catalog.resolve_available(model_name)?;

        let prompt = draft
            .prompt
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        if let Some(p) = &prompt {
            let chars = p.chars().count();
            if chars > spec.max_prompt_chars {
                return Err(ValidationError::PromptTooLong {
                    max: spec.max_prompt_chars,
                    actual: chars,
                });
            }
        }

        let first_frame_url = optional_url("first_frame_url", draft.first_frame_url.as_deref())?;
        let last_frame_url = optional_url("last_frame_url", draft.last_frame_url.as_deref())?;
        let reference_image_urls = url_list(
            "reference_image_urls",
            draft.reference_image_urls.as_deref(),
        )?;
        let reference_video_urls = url_list(
            "reference_video_urls",
            draft.reference_video_urls.as_deref(),
        )?;
        let reference_audio_urls = url_list(
            "reference_audio_urls",
            draft.reference_audio_urls.as_deref(),
        )?;

        check_count(
            "reference_image_urls",
            reference_image_urls.len(),
            spec.limits.reference_images_max,
        )?;
        check_count(
            "reference_video_urls",
            reference_video_urls.len(),
            spec.limits.reference_videos_max,
        )?;
        check_count(
            "reference_audio_urls",
            reference_audio_urls.len(),
            spec.limits.reference_audios_max,
        )?;

        let has_references = !reference_image_urls.is_empty()
            || !reference_video_urls.is_empty()
            || !reference_audio_urls.is_empty();

        if last_frame_url.is_some() && first_frame_url.is_none() {
            return Err(ValidationError::Invalid {
                field: FieldPath::new("last_frame_url"),
                rule: Rule::Requires(FieldPath::new("first_frame_url")),
            });
        }
        if first_frame_url.is_some()
            && has_references
            && spec.limits.first_frame_excludes_references
        {
            return Err(ValidationError::Invalid {
                field: FieldPath::new("first_frame_url"),
                rule: Rule::ConflictsWith(
                    [
                        "reference_image_urls",
                        "reference_video_urls",
                        "reference_audio_urls",
                    ]
                    .map(FieldPath::new)
                    .to_vec(),
                ),
            });
        }
        let frames = usize::from(first_frame_url.is_some()) + usize::from(last_frame_url.is_some());
        if frames + reference_image_urls.len() > spec.limits.images_total_max {
            return Err(ValidationError::invalid(
                "reference_image_urls",
                &format!(
                    "frames plus reference images must not exceed {}",
                    spec.limits.images_total_max
                ),
            ));
        }
        if !reference_audio_urls.is_empty()
            && reference_image_urls.is_empty()
            && reference_video_urls.is_empty()
            && !spec.limits.audio_only_references_allowed
        {
            return Err(ValidationError::invalid(
                "reference_audio_urls",
                "audio cannot be the only reference; add reference images or videos",
            ));
        }

        let mode = if first_frame_url.is_some() {
            Mode::I2v
        } else if has_references {
            Mode::R2v
        } else {
            Mode::T2v
        };
        if let Some(explicit) = draft.explicit_mode {
            if explicit != mode {
                return Err(ValidationError::invalid(
                    "mode",
                    &format!(
                        "is {} but the media given make a {} request",
                        explicit.as_str(),
                        mode.as_str()
                    ),
                ));
            }
        }
        // The seed: the prompt is optional only when a first frame or reference images are set.
        if prompt.is_none() && first_frame_url.is_none() && reference_image_urls.is_empty() {
            return Err(ValidationError::Missing {
                field: "prompt".into(),
            });
        }

        let resolution = match non_empty(draft.resolution.as_deref()) {
            None => spec.default_resolution,
            Some(raw) => Resolution::parse(raw)
                .filter(|r| spec.resolutions.contains(r))
                .ok_or_else(|| {
                    ValidationError::invalid(
                        "resolution",
                        &format!(
                            "must be one of {}",
                            join(spec.resolutions.iter().map(|r| r.as_str()))
                        ),
                    )
                })?,
        };
        let aspect_ratio = match non_empty(draft.aspect_ratio.as_deref()) {
            None => spec.default_aspect_ratio,
            Some(raw) => AspectRatio::parse(raw)
                .filter(|r| spec.aspect_ratios.contains(r))
                .ok_or_else(|| {
                    ValidationError::invalid(
                        "aspect_ratio",
                        &format!(
                            "must be one of {}",
                            join(spec.aspect_ratios.iter().map(|r| r.as_str()))
                        ),
                    )
                })?,
        };
        let duration_seconds = match draft.duration {
            None => spec.duration.default,
            Some(d) if d >= i64::from(spec.duration.min) && d <= i64::from(spec.duration.max) => {
                // In range, so it fits in u32.
                d as u32
            }
            Some(_) => {
                return Err(ValidationError::invalid(
                    "duration",
                    &format!(
                        "must be an integer from {} to {} seconds",
                        spec.duration.min, spec.duration.max
                    ),
                ))
            }
        };

        let seed = match draft.seed {
            None | Some(-1) => None,
            Some(s) => Some(u32::try_from(s).map_err(|_| {
                ValidationError::invalid("seed", "must be -1 or an integer from 0 to 4294967295")
            })?),
        };

        let callback_url = match non_empty(draft.callback_url.as_deref()) {
            None => None,
            Some(raw) => Some(
                MediaUrl::parse(raw)
                    .map_err(|e| ValidationError::invalid("callback_url", &e.to_string()))?
                    .as_str()
                    .to_string(),
            ),
        };
        let expires_after_seconds = match draft.expires_after_seconds {
            None => None,
            Some(s) => Some(u32::try_from(s).ok().filter(|s| *s > 0).ok_or_else(|| {
                ValidationError::invalid(
                    "expires_after_seconds",
                    "must be a positive number of seconds",
                )
            })?),
        };

        Ok(GenerationRequest {
            model: spec.id.clone(),
            mode,
            prompt,
            first_frame_url,
            last_frame_url,
            reference_image_urls,
            reference_video_urls,
            reference_audio_urls,
            generate_audio: draft.generate_audio.unwrap_or(spec.defaults.generate_audio),
            resolution,
            aspect_ratio,
            duration_seconds,
            web_search: draft.web_search.unwrap_or(false),
            nsfw_checker: draft.nsfw_checker.unwrap_or(true),
            seed,
            return_last_frame: draft.return_last_frame.unwrap_or(false),
            callback_url,
            media_copies: Default::default(),
            expires_after_seconds,
            priority: draft.priority,
            safety_identifier: draft.safety_identifier,
        })
    }

    /// Output size in pixels. `adaptive` follows the first image's shape (`first_image_size`,
    /// when known), else 16:9.
    pub fn output_size(&self, first_image_size: Option<(u32, u32)>) -> (u32, u32) {
        let ratio = ConcreteRatio::from_aspect(self.aspect_ratio).unwrap_or_else(|| {
            first_image_size
                .map(|(w, h)| ConcreteRatio::nearest(w, h))
                .unwrap_or(ConcreteRatio::R16x9)
        });
        pixel_size(self.resolution, ratio)
    }

    /// The image whose shape decides an `adaptive` output.
    pub fn first_image(&self) -> Option<&MediaUrl> {
        self.first_frame_url
            .as_ref()
            .or_else(|| self.reference_image_urls.first())
    }

    pub fn has_reference_video(&self) -> bool {
        !self.reference_video_urls.is_empty()
    }

    pub fn spec<'a>(&self, catalog: &'a Catalog) -> Option<&'a ModelSpec> {
        catalog.get(&self.model)
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn optional_url(field: &str, raw: Option<&str>) -> Result<Option<MediaUrl>, ValidationError> {
    match non_empty(raw) {
        None => Ok(None),
        Some(raw) => MediaUrl::parse(raw)
            .map(Some)
            .map_err(|e| ValidationError::invalid(field, &e.to_string())),
    }
}

fn url_list(field: &str, raw: Option<&[String]>) -> Result<Vec<MediaUrl>, ValidationError> {
    raw.unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, u)| {
            MediaUrl::parse(u)
                .map_err(|e| ValidationError::invalid(FieldPath::at(field, i), &e.to_string()))
        })
        .collect()
}

fn check_count(field: &str, count: usize, max: usize) -> Result<(), ValidationError> {
    if count > max {
        return Err(ValidationError::invalid(
            field,
            &format!("accepts at most {max} items, got {count}"),
        ));
    }
    Ok(())
}

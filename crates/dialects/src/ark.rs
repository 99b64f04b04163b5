//! BytePlus ModelArk / Volcengine Ark, the official content-generation task API
//! (upstream-contracts.md §1): `POST /api/v3/contents/generations/tasks`,
//! `GET /api/v3/contents/generations/tasks/{id}`, `GET /api/v3/contents/generations/tasks`
//! (list) and `DELETE /api/v3/contents/generations/tasks/{id}` (cancel a queued task, or delete
//! a finished one). Bearer auth. Ark SDK clients work unchanged by pointing their base URL at
//! seedgate's `/api/v3`.
//!
//! Envelope: bare objects; create answers only `{"id": …}`. Errors are
//! `{"error":{"code":"<string>","message":"… Request ID: req_…","param"?,"type"}}` with Ark's
//! HTTP statuses (§1.6):
//!
//! | HTTP | type | code | when |
//! |---|---|---|---|
//! | 400 | BadRequest | `MissingParameter` | a required field is missing (`param` names it) |
//! | 400 | BadRequest | `InvalidParameter` | a bad value, unknown field, body not a JSON object, media that cannot be fetched, a bad Idempotency-Key (`param` names the field, in Ark's paths: `content[1].image_url`) |
//! | 401 | Unauthorized | `AuthenticationError` | missing, malformed, unknown or revoked key |
//! | 403 | Forbidden | `AccountOverdueError` | not enough credits (Ark's "account in arrears") |
//! | 403 | Forbidden | `OperationDenied.UnsupportedPhase` | DELETE of a running or cancelled task |
//! | 403 | Forbidden | `OperationDenied.FileQuotaExceeded` | asset storage quota (not reachable from Ark routes) |
//! | 404 | NotFound | `InvalidEndpointOrModel.NotFound` | unknown model |
//! | 404 | NotFound | `ModelNotOpen` | a model seedgate knows but does not serve (yet) |
//! | 404 | NotFound | `NotFound.TaskId` | unknown task, another key's task, a deleted task |
//! | 404 | NotFound | `NotFound` | unknown path; 405 `MethodNotAllowed` for a wrong method |
//! | 409 | Conflict | `IdempotencyKeyInUse` | seedgate extension: the same Idempotency-Key is still in flight |
//! | 422 | UnprocessableEntity | `IdempotencyKeyReused` | seedgate extension: the key was used with another body |
//! | 429 | TooManyRequests | `RateLimitExceeded` | rate limited (with `Retry-After`) |
//! | 500 | InternalServerError | `InternalServiceError` | seedgate failed |
//! | 503 | ServiceUnavailable | `ServiceUnavailable` | storage or database unavailable |
//!
//! A failed task's `error.code` by [`FailureKind`] (seedgate's choice; Ark publishes no table for
//! asynchronous failures): moderation → `OutputVideoSensitiveContentDetected`, invalid input →
//! `InvalidParameter`, rate limited upstream → `ServerOverloaded`, upstream error and internal
//! error → `InternalServiceError`, timeout → `ExecutionTimeout`. A task that expired
//! ([`FailureKind::Expired`]) has status `expired` and `error.code` `TaskExpired`. A cancelled
//! task has `error: null`.
//!
//! Decisions where Ark and seedgate differ (all refused with `InvalidParameter` naming the
//! field, before anything is charged):
//! - Several `text` items are refused (`content[i]`), not joined: Ark documents one prompt.
//! - Inline media (`data:` URIs) are refused (`content[i].image_url.url`): seedgate fetches
//!   media by URL only. `asset://<id>` of the caller's uploads works. A malformed URL is named
//!   `content[i].<kind>.url`; everything else about a medium (mode mixing, size, length, an
//!   unknown asset) names the item, `content[i].<kind>`, and whole-request limits `content`.
//! - The model is checked first (missing → `MissingParameter`, then unknown or unserved), then
//!   the Ark-only fields, then `content[]`, then the values (by the core).
//! - A single image without `role` is the first frame (Ark's rule); several images without a
//!   role are refused (`content[i].role`).
//! - `duration: -1` (the model chooses) is refused: seedgate prices a task before running it.
//! - `frames` (1.0 models only), `draft: true` and `draft_task` items (1.5 pro only),
//!   `camera_fixed: true` (not 2.x), `service_tier: "flex"` (not 2.x),
//!   `output_format` other than `mp4` and `omni_reference_task_type` (2.5 only) are refused.
//! - Defaults follow Ark, not the catalog: `ratio` defaults to `adaptive` and `generate_audio`
//!   to `true` (§1.4).
//!
//! Honoured: `execution_expires_after` ([3600, 259200]; a task not finished that long after its
//! creation expires: status `expired`, `TaskExpired`, refunded; without it the operator's
//! `upstream.deadline_seconds` applies and GET shows Ark's default 172800), `priority` and
//! `safety_identifier` (at most 64 ASCII characters): kept, read back by GET and passed on to
//! Ark upstreams (priority does not reorder seedgate's own queue), `callback_url` (a callback on
//! each status change: queued, running, and the final one, each the GET body at that status).
//! `model` reads back as Ark's name-version id: the one sent, or the catalog's Ark id when the
//! task was created under another name. Accepted but not acted on: `watermark` (seedgate never
//! watermarks), `service_tier: "default"`, `draft: false`, `camera_fixed: false`; GET shows
//! `service_tier` `default`, `draft` false and `output_format` `mp4`.
//!
//! Retries: the Ark SDKs (`volcenginesdkarkruntime`, `byteplussdkarkruntime`) retry a create
//! whose answer was lost, twice by default, with nothing that tells a retry apart (a fresh
//! `X-Client-Request-Id` each try), so each try would be a new task. Send an `Idempotency-Key`
//! made once per task: `client.content_generation.tasks.create(..., extra_headers={
//! "Idempotency-Key": key})`; the retry then replays the first answer.
//!
//! GET: `seed` is the requested seed, or `-1` when the model chose (the renderer does not report
//! the seed it derived). `ratio` is the actual ratio: `adaptive` is resolved from the output's
//! size once the task succeeded. `usage.completion_tokens` = `total_tokens` =
//! ⌊W × H × (24 × (duration + input video seconds) + 1) / 1024⌋ for succeeded tasks, where
//! input video seconds is the billed (rounded-up) reference-video length: the documented token
//! formula with the observed `+1` frame term (upstream-contracts §1.12; observed, not
//! documented), rounded down.
//!
//! List: `page_num` and `page_size` in [1, 500] (defaults 1 and 10), newest first;
//! `filter.status` is one of queued, running, cancelled, succeeded, failed (`expired` cannot be
//! filtered, as on Ark; `failed` also matches expired tasks, which seedgate stores as failed);
//! `filter.task_ids` may repeat; `filter.model` takes any catalog name; `filter.service_tier`
//! `default` matches every task and `flex` none.

use crate::common::{self, Auth, Dialect, Reply};
use crate::{AppState, RouteLimits};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use seedgate_core::error::{AuthFailure, GatewayError, ValidationError};
use seedgate_core::media::MediaUrl;
use seedgate_core::output_size::{pixel_size, ConcreteRatio, OUTPUT_FPS};
use seedgate_core::task::{FailureKind, TaskStatus};
use seedgate_core::{AspectRatio, Catalog, RequestDraft, RequestId, Task, TaskId};
use seedgate_gateway::{Gateway, Principal, StoredResponse, TaskQuery};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub struct Ark;

pub const TASKS_ROUTE: &str = "/api/v3/contents/generations/tasks";

/// `execution_expires_after` bounds and default, in seconds.
const EXPIRES_MIN: i64 = 3600;
const EXPIRES_MAX: i64 = 259_200;
const EXPIRES_DEFAULT: u32 = 172_800;

/// List paging bounds.
const PAGE_MAX: u64 = 500;
const PAGE_SIZE_DEFAULT: u64 = 10;

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task, list_tasks))
        .routes(routes!(get_task, delete_task))
}

/// `POST /api/v3/contents/generations/tasks` (upstream-contracts §1.4). Every field Ark
/// documents is accepted by the parser; see the module documentation for the ones seedgate
/// refuses or ignores.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ArkCreateTaskRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// Model ID, e.g. `dreamina-seedance-2-0-mini-260615` or `doubao-seedance-2-0-mini-260615`
    /// (any name the catalog knows).
    pub model: Option<String>,
    /// The prompt and media, a union by `type`: `text`, `image_url`, `video_url`, `audio_url`
    /// (`draft_task` is refused: Seedance 1.5 pro only).
    pub content: Option<Vec<ContentItem>>,
    /// Where the result is sent when the task finishes.
    pub callback_url: Option<String>,
    /// Also return `content.last_frame_url`, a PNG of the last frame.
    pub return_last_frame: Option<bool>,
    /// `default` (`flex` is not supported by the 2.x models).
    pub service_tier: Option<String>,
    /// Seconds, 3600 to 259200 (default 172800): a task not finished this long after it was
    /// created expires (status `expired`, refunded).
    #[serde(default, deserialize_with = "common::de::int")]
    pub execution_expires_after: Option<i64>,
    /// Default `true`.
    pub generate_audio: Option<bool>,
    /// Seedance 1.5 pro only: `true` is refused.
    pub draft: Option<bool>,
    /// `[{"type":"web_search"}]`.
    pub tools: Option<Vec<Tool>>,
    /// At most 64 ASCII characters: kept, echoed by GET and passed on to Ark upstreams.
    pub safety_identifier: Option<String>,
    /// `480p` or `720p` (default 720p).
    pub resolution: Option<String>,
    /// `16:9`, `4:3`, `1:1`, `3:4`, `9:16`, `21:9` or `adaptive` (default).
    pub ratio: Option<String>,
    /// Seconds, 4 to 15 (default 5). `-1` (model chooses) is refused.
    #[serde(default, deserialize_with = "common::de::int")]
    pub duration: Option<i64>,
    /// Seedance 1.0 only: refused.
    #[serde(default, deserialize_with = "common::de::int")]
    pub frames: Option<i64>,
    /// `-1` (random, default) or 0 to 4294967295.
    #[serde(default, deserialize_with = "common::de::int")]
    pub seed: Option<i64>,
    /// Seedance 1.0 and 1.5 only: `true` is refused.
    pub camera_fixed: Option<bool>,
    /// Accepted, not acted on (seedgate never watermarks).
    pub watermark: Option<bool>,
    /// Kept, echoed by GET and passed on to Ark upstreams (it does not reorder seedgate's own
    /// queue).
    #[serde(default, deserialize_with = "common::de::int")]
    pub priority: Option<i64>,
    /// Seedance 2.5 only: refused.
    pub omni_reference_task_type: Option<String>,
    /// `mp4` (default); `mov` is Seedance 2.5 only.
    pub output_format: Option<String>,
}

/// One `content[]` item: `{"type":"text","text":…}`,
/// `{"type":"image_url","image_url":{"url":…},"role":…}`, `{"type":"video_url",…}`,
/// `{"type":"audio_url",…}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = ArkContentItem)]
#[serde(deny_unknown_fields)]
pub struct ContentItem {
    /// `text`, `image_url`, `video_url`, `audio_url` (or `draft_task`, refused).
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
    pub image_url: Option<MediaRef>,
    pub video_url: Option<MediaRef>,
    pub audio_url: Option<MediaRef>,
    pub draft_task: Option<DraftTaskRef>,
    /// Images: `first_frame`, `last_frame`, `reference_image` (a single image without a role is
    /// the first frame); videos: `reference_video`; audio: `reference_audio`.
    pub role: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ArkMediaRef)]
#[serde(deny_unknown_fields)]
pub struct MediaRef {
    /// An http(s) URL or `asset://<id>`; `data:` URIs are refused.
    pub url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ArkDraftTaskRef)]
#[serde(deny_unknown_fields)]
pub struct DraftTaskRef {
    pub id: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = ArkTool)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `web_search`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Where each canonical media field came from in `content[]`, to name errors Ark's way.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ContentPaths {
    text: Option<usize>,
    first_frame: Option<usize>,
    last_frame: Option<usize>,
    images: Vec<usize>,
    videos: Vec<usize>,
    audios: Vec<usize>,
}

impl ContentPaths {
    /// Ark's name for a canonical field (`reference_image_urls[1]` → `content[3].image_url`).
    pub fn wire_name(&self, canonical: &str) -> String {
        let (base, index) = match canonical.split_once('[') {
            Some((base, rest)) => (base, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (canonical, None),
        };
        let item = |i: Option<usize>, kind: &str| match i {
            Some(i) => format!("content[{i}].{kind}"),
            None => "content".to_string(),
        };
        let listed =
            |list: &[usize], kind: &str| item(index.and_then(|k| list.get(k).copied()), kind);
        match base {
            "first_frame_url" => item(self.first_frame, "image_url"),
            "last_frame_url" => item(self.last_frame, "image_url"),
            "reference_image_urls" => listed(&self.images, "image_url"),
            "reference_video_urls" => listed(&self.videos, "video_url"),
            "reference_audio_urls" => listed(&self.audios, "audio_url"),
            "prompt" => item(self.text, "text"),
            "aspect_ratio" => "ratio".into(),
            "web_search" => "tools".into(),
            _ => canonical.to_string(),
        }
    }

    /// A gateway error with canonical field names replaced by Ark's, also inside the reason of
    /// a pricing error (`reference_video_urls[0]: could not fetch …`) and for an over-long
    /// prompt.
    pub fn rename(&self, error: GatewayError) -> GatewayError {
        match error {
            GatewayError::Validation(ValidationError::PromptTooLong { max, actual }) => {
                ValidationError::invalid(
                    &self.wire_name("prompt"),
                    &format!("exceeds the maximum length of {max} characters (got {actual})"),
                )
                .into()
            }
            e @ GatewayError::PricingUnavailable { .. } => e.renamed(|f| self.wire_name(f)),
            GatewayError::Validation(ValidationError::Invalid { field, reason }) => {
                ValidationError::Invalid {
                    field: self.wire_name(&field),
                    reason: ark_words(reason),
                }
                .into()
            }
            other => other.renamed(|f| self.wire_name(f)),
        }
    }
}

fn has_scheme(url: &str, scheme: &str) -> bool {
    seedgate_core::text::starts_with_ignore_ascii_case(url.trim_start(), scheme)
}

fn is_data_uri(url: &str) -> bool {
    has_scheme(url, "data:")
}

fn is_asset_ref(url: &str) -> bool {
    has_scheme(url, "asset://")
}

/// Canonical field names that core validation messages mention, in Ark's words.
const REASON_WORDS: [(&str, &str); 5] = [
    (
        "reference_image_urls, reference_video_urls or reference_audio_urls",
        "reference_image, reference_video or reference_audio items",
    ),
    ("first_frame_url", "a first_frame image"),
    ("reference_image_urls", "reference_image items"),
    ("reference_video_urls", "reference_video items"),
    ("reference_audio_urls", "reference_audio items"),
];

fn ark_words(reason: String) -> String {
    REASON_WORDS
        .iter()
        .fold(reason, |r, (canonical, ark)| r.replace(canonical, ark))
}

impl CreateTaskRequest {
    /// The canonical draft and where each medium came from. Only the shape of `content[]` is
    /// checked here; values are checked by the core (and by [`CreateTaskRequest::check_wire`]).
    pub fn into_draft(self) -> Result<(RequestDraft, ContentPaths), ValidationError> {
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
                        &at(other),
                        &format!("is not allowed in an item of type `{}`", item.kind),
                    ));
                }
            }
            let role = item.role.as_deref().map(str::trim);
            let media_url = |media: Option<MediaRef>, field: &str| match media {
                None => Err(ValidationError::Missing { field: at(field) }),
                Some(m) if is_data_uri(&m.url) => Err(ValidationError::invalid(
                    &format!("content[{i}].{field}.url"),
                    "inline base64 data URIs are not accepted by seedgate; pass an http(s) URL \
                     or an asset://<id> of an uploaded asset",
                )),
                // `asset://` references are resolved (and checked) by the gateway; any other
                // URL is named precisely here rather than as the whole item by the core.
                Some(m) if is_asset_ref(&m.url) => Ok(m.url),
                Some(m) => match MediaUrl::parse(&m.url) {
                    Ok(_) => Ok(m.url),
                    Err(e) => Err(ValidationError::invalid(
                        &format!("content[{i}].{field}.url"),
                        &e.to_string(),
                    )),
                },
            };
            match item.kind.as_str() {
                "text" => {
                    if role.is_some() {
                        return Err(ValidationError::invalid(
                            &at("role"),
                            "is not allowed in a text item",
                        ));
                    }
                    let Some(text) = item.text else {
                        return Err(ValidationError::Missing { field: at("text") });
                    };
                    if prompt.is_some() {
                        return Err(ValidationError::invalid(
                            &format!("content[{i}]"),
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
                                    &at("role"),
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
                                &at("role"),
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
                            &at("role"),
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
                        &at("type"),
                        "draft_task is only supported by Seedance 1.5 pro",
                    ))
                }
                _ => {
                    return Err(ValidationError::invalid(
                        &at("type"),
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
                    &format!("content[{i}].role"),
                    "is required when the request has more than one image",
                ));
            }
        }
        let mut web_search = None;
        for (i, tool) in self.tools.unwrap_or_default().iter().enumerate() {
            if tool.kind != "web_search" {
                return Err(ValidationError::invalid(
                    &format!("tools[{i}].type"),
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

/// `{"id": "task_…"}`: all Ark's create answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ArkCreateTaskResponse)]
pub struct CreateTaskResponse {
    pub id: String,
}

/// The task object of GET (upstream-contracts §1.7); also each item of the list.
#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ArkTaskObject)]
pub struct TaskObject {
    pub id: String,
    /// The model's name-version id: the one the client sent, else the catalog's Ark id.
    pub model: String,
    /// queued | running | succeeded | failed | cancelled | expired
    #[schema(value_type = String)]
    pub status: &'static str,
    /// Only when `succeeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<TaskContent>,
    /// `null`, or `{code, message}` when failed or expired.
    pub error: Option<TaskFailure>,
    /// Only when `succeeded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// The requested seed; `-1` when the model chose.
    pub seed: i64,
    #[schema(value_type = String)]
    pub resolution: &'static str,
    /// The actual ratio (`adaptive` resolved once the video exists).
    #[schema(value_type = String)]
    pub ratio: &'static str,
    /// Seconds.
    pub duration: u32,
    pub framespersecond: u32,
    pub generate_audio: bool,
    pub draft: bool,
    #[schema(value_type = String)]
    pub service_tier: &'static str,
    /// Seconds from creation: the task expires (refunded) if not finished by then.
    pub execution_expires_after: u32,
    pub priority: i64,
    /// As sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    #[schema(value_type = String)]
    pub output_format: &'static str,
    /// `[{"type":"web_search"}]` when web search was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ArkTaskContent)]
pub struct TaskContent {
    pub video_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_frame_url: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ArkTaskFailure)]
pub struct TaskFailure {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, PartialEq, ToSchema)]
#[schema(as = ArkUsage)]
pub struct Usage {
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// `{"total": N, "items": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ArkTaskList)]
pub struct TaskList {
    pub total: u64,
    pub items: Vec<TaskObject>,
}

/// Every Ark error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ArkErrorEnvelope)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ArkErrorBody)]
pub struct ErrorBody {
    pub code: String,
    /// Ends with `Request ID: req_…`.
    pub message: String,
    /// The parameter at fault, in Ark's paths (`content[1].image_url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
}

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
        status,
        content,
        error,
        usage,
        created_at: common::unix_seconds(task.created_at_ms),
        updated_at: common::unix_seconds(task.updated_at_ms),
        seed: task.request.seed.map_or(-1, i64::from),
        resolution: task.request.resolution.as_str(),
        ratio,
        duration: task.request.duration_seconds,
        framespersecond: OUTPUT_FPS,
        generate_audio: task.request.generate_audio,
        draft: false,
        service_tier: "default",
        execution_expires_after: task
            .request
            .expires_after_seconds
            .unwrap_or(EXPIRES_DEFAULT),
        priority: task.request.priority.unwrap_or(0),
        safety_identifier: task.request.safety_identifier.clone(),
        output_format: "mp4",
        tools: task.request.web_search.then(|| {
            vec![Tool {
                kind: "web_search".into(),
            }]
        }),
    }
}

/// Code, HTTP status and error type of a gateway error.
pub fn error_code(error: &GatewayError) -> (&'static str, StatusCode, &'static str) {
    use StatusCode as S;
    const BAD: &str = "BadRequest";
    match error {
        GatewayError::Unauthenticated(_) => {
            ("AuthenticationError", S::UNAUTHORIZED, "Unauthorized")
        }
        GatewayError::Validation(v) => match v {
            ValidationError::Missing { .. } => ("MissingParameter", S::BAD_REQUEST, BAD),
            v @ ValidationError::ModelNotSupported { .. } if v.is_unknown_model() => {
                ("InvalidEndpointOrModel.NotFound", S::NOT_FOUND, "NotFound")
            }
            ValidationError::ModelNotSupported { .. } => ("ModelNotOpen", S::NOT_FOUND, "NotFound"),
            ValidationError::NotAnObject
            | ValidationError::Invalid { .. }
            | ValidationError::UnknownField { .. }
            | ValidationError::PromptTooLong { .. } => ("InvalidParameter", S::BAD_REQUEST, BAD),
        },
        GatewayError::PricingUnavailable { .. } | GatewayError::IdempotencyKeyInvalid(_) => {
            ("InvalidParameter", S::BAD_REQUEST, BAD)
        }
        GatewayError::InsufficientCredits { .. } => {
            ("AccountOverdueError", S::FORBIDDEN, "Forbidden")
        }
        GatewayError::NotCancellable | GatewayError::NotDeletable => (
            "OperationDenied.UnsupportedPhase",
            S::FORBIDDEN,
            "Forbidden",
        ),
        GatewayError::QuotaExceeded { .. } => (
            "OperationDenied.FileQuotaExceeded",
            S::FORBIDDEN,
            "Forbidden",
        ),
        GatewayError::PayloadTooLarge => (
            "InvalidParameter.RequestTooLarge",
            S::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
        ),
        GatewayError::NotFound => ("NotFound.TaskId", S::NOT_FOUND, "NotFound"),
        GatewayError::AssetNotFound => ("NotFound.AssetId", S::NOT_FOUND, "NotFound"),
        GatewayError::RouteNotFound => ("NotFound", S::NOT_FOUND, "NotFound"),
        GatewayError::MethodNotAllowed => (
            "MethodNotAllowed",
            S::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
        ),
        GatewayError::IdempotencyInFlight => ("IdempotencyKeyInUse", S::CONFLICT, "Conflict"),
        GatewayError::IdempotencyMismatch => (
            "IdempotencyKeyReused",
            S::UNPROCESSABLE_ENTITY,
            "UnprocessableEntity",
        ),
        GatewayError::RateLimited { .. } => {
            ("RateLimitExceeded", S::TOO_MANY_REQUESTS, "TooManyRequests")
        }
        GatewayError::Internal(_) => (
            "InternalServiceError",
            S::INTERNAL_SERVER_ERROR,
            "InternalServerError",
        ),
        GatewayError::Unavailable(_) => (
            "ServiceUnavailable",
            S::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
        ),
    }
}

/// Ark's wording of an error (without the trailing `Request ID`).
fn error_message(error: &GatewayError) -> String {
    let trim = |s: &str| s.trim_end_matches('.').to_string();
    match error {
        GatewayError::Validation(ValidationError::Missing { field }) => format!(
            "The request failed because it is missing one or multiple required parameters: \
             `{field}`."
        ),
        GatewayError::Validation(ValidationError::Invalid { field, reason }) => format!(
            "The parameter `{field}` specified in the request is not valid: {}.",
            trim(reason)
        ),
        GatewayError::Validation(ValidationError::UnknownField { field }) => format!(
            "The parameter `{field}` specified in the request is not valid: unknown parameter."
        ),
        GatewayError::Validation(ValidationError::NotAnObject) => {
            "The request body is not valid: it must be a JSON object.".into()
        }
        GatewayError::Validation(v @ ValidationError::ModelNotSupported { model, .. })
            if v.is_unknown_model() =>
        {
            format!("The model or endpoint {model} does not exist or you do not have access to it.")
        }
        GatewayError::Validation(ValidationError::ModelNotSupported { model, reason }) => {
            format!(
                "Your account has not activated the model {model}: {}.",
                trim(reason)
            )
        }
        GatewayError::Unauthenticated(f) => format!(
            "The API key in the request is missing or invalid ({}).",
            match f {
                AuthFailure::Missing => "missing Authorization header",
                AuthFailure::NotBearer => "the Authorization header must be `Bearer <key>`",
                AuthFailure::Invalid => "the API key is invalid",
                AuthFailure::Revoked => "the API key has been revoked",
            }
        ),
        GatewayError::InsufficientCredits { needed, available } => format!(
            "The request failed because your account has an overdue balance: this request costs \
             {needed} credits, {available} available."
        ),
        GatewayError::NotFound => "The specified task is not found.".into(),
        GatewayError::NotCancellable | GatewayError::NotDeletable => {
            "Operation is denied because operation is not supported while the task is in its \
             current phase: only queued tasks can be cancelled, and only succeeded, failed or \
             expired tasks deleted."
                .into()
        }
        GatewayError::PricingUnavailable { reason } => format!(
            "One or more parameters specified in the request are not valid: {}.",
            trim(reason)
        ),
        other => {
            let text = other.to_string();
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => format!("{}{}.", c.to_uppercase(), trim(chars.as_str())),
                None => String::new(),
            }
        }
    }
}

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: Ark::NAME,
    path_prefixes: &["/api/v3/"],
    routes,
    error_response: <Ark as Dialect>::error_response,
    error_schema: "ArkErrorEnvelope",
    callback_body: Some(|task, catalog| crate::callbacks::json(&task_object(task, catalog))),
    hiapi_signature: false,
};

impl Dialect for Ark {
    const NAME: &'static str = "ark";

    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
        let (code, status, kind) = error_code(error);
        let param = match error {
            GatewayError::Validation(v) => v.field().map(str::to_string),
            GatewayError::IdempotencyKeyInvalid(_) => Some("Idempotency-Key".into()),
            _ => None,
        };
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code: code.into(),
                message: format!(
                    "{} Request ID: {}",
                    error_message(error),
                    request_id.as_str()
                ),
                param,
                kind: kind.into(),
            },
        };
        let mut response = common::json_response(status, &envelope);
        common::with_retry_after(&mut response, error);
        response
    }
}

fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(
        200,
        &CreateTaskResponse {
            id: task.id.to_string(),
        },
    )
}

/// Create a video-generation task.
#[utoipa::path(post, path = "/api/v3/contents/generations/tasks", tag = "Ark",
    request_body = CreateTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h (seedgate extension)")),
    responses((status = 200, description = "The new task's id", body = CreateTaskResponse),
        (status = "4XX", body = ErrorEnvelope), (status = "5XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn create_task(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Ark>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply<Ark> {
    let body = body.map_err(|e| common::unreadable_body("body", e))?;
    let parsed = parse_create(&body, gateway.catalog())?;
    let paths = parsed.paths;
    Ok(common::submit::<Ark>(
        &gateway,
        &principal,
        &headers,
        TASKS_ROUTE,
        &parsed.json,
        parsed.draft,
        &render_created,
    )
    .await
    .map_err(|e| paths.rename(e))?)
}

/// Query one task (any dialect's task of the same key).
#[utoipa::path(get, path = "/api/v3/contents/generations/tasks/{id}", tag = "Ark",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = TaskObject), (status = 404, body = ErrorEnvelope),
        (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn get_task(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Ark>,
    Path(id): Path<String>,
) -> Reply<Ark> {
    let task = gateway.get_task(&principal, &id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &task_object(&task, gateway.catalog()),
    ))
}

/// Cancel a queued task (refunded; it becomes `cancelled`), or delete the record of a
/// succeeded, failed or expired one (it is no longer queryable). Running and cancelled tasks
/// are refused.
#[utoipa::path(delete, path = "/api/v3/contents/generations/tasks/{id}", tag = "Ark",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, description = "`{}`", body = Object),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn delete_task(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Ark>,
    Path(id): Path<String>,
) -> Reply<Ark> {
    cancel_or_delete(&gateway, &principal, &id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &serde_json::json!({}),
    ))
}

async fn cancel_or_delete(
    gateway: &Gateway,
    principal: &Principal,
    id: &str,
) -> Result<(), GatewayError> {
    let task = gateway.get_task(principal, id).await?;
    match task.status {
        TaskStatus::Queued => gateway.cancel_task(principal, id).await.map(|_| ()),
        TaskStatus::Succeeded | TaskStatus::Failed => gateway.delete_task(principal, id).await,
        TaskStatus::Running => Err(GatewayError::NotCancellable),
        TaskStatus::Cancelled => Err(GatewayError::NotDeletable),
    }
}

/// List the caller's tasks, newest first.
#[utoipa::path(get, path = "/api/v3/contents/generations/tasks", tag = "Ark",
    params(
        ("page_num" = Option<u32>, Query, description = "1 to 500 (default 1)"),
        ("page_size" = Option<u32>, Query, description = "1 to 500 (default 10)"),
        ("filter.status" = Option<String>, Query, description = "queued, running, cancelled, succeeded or failed (`expired` cannot be filtered)"),
        ("filter.task_ids" = Option<Vec<String>>, Query, description = "Repeat for several ids"),
        ("filter.model" = Option<String>, Query, description = "Model id"),
        ("filter.service_tier" = Option<String>, Query, description = "default or flex"),
    ),
    responses((status = 200, body = TaskList), (status = "4XX", body = ErrorEnvelope)),
    security(("bearer" = [])))]
async fn list_tasks(
    State(gateway): State<AppState>,
    Auth(principal, _): Auth<Ark>,
    RawQuery(query): RawQuery,
) -> Reply<Ark> {
    let Some(query) = parse_list_query(query.as_deref().unwrap_or_default())? else {
        return Ok(common::json_response(
            StatusCode::OK,
            &TaskList {
                total: 0,
                items: Vec::new(),
            },
        ));
    };
    let page = gateway.list_tasks(&principal, query).await?;
    let list = TaskList {
        total: page.total,
        items: page
            .tasks
            .iter()
            .map(|t| task_object(t, gateway.catalog()))
            .collect(),
    };
    Ok(common::json_response(StatusCode::OK, &list))
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
fn form_decode(raw: &str, name: &str) -> Result<String, ValidationError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ValidationError::invalid(name, "bad percent-encoding"))?;
                out.push(hex);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ValidationError::invalid(name, "must be UTF-8"))
}

fn page_param(value: &str, name: &str) -> Result<u64, ValidationError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=PAGE_MAX).contains(n))
        .ok_or_else(|| {
            ValidationError::invalid(name, &format!("must be an integer from 1 to {PAGE_MAX}"))
        })
}

/// The list query string as a [`TaskQuery`]; `None` when the filters can match nothing
/// (`filter.service_tier=flex`). `filter.task_ids` may repeat, which axum's `Query` does not
/// collect, so the query is parsed here.
pub fn parse_list_query(raw: &str) -> Result<Option<TaskQuery>, ValidationError> {
    let mut page_num = 1u64;
    let mut page_size = PAGE_SIZE_DEFAULT;
    let mut query = TaskQuery::default();
    let mut matches_nothing = false;
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = form_decode(key, "query")?;
        let value = form_decode(value, &key)?;
        match key.as_str() {
            "page_num" => page_num = page_param(&value, &key)?,
            "page_size" => page_size = page_param(&value, &key)?,
            "filter.status" => {
                let status = match value.trim() {
                    "expired" => {
                        return Err(ValidationError::invalid(
                            &key,
                            "expired cannot be filtered; use queued, running, cancelled, \
                             succeeded or failed",
                        ))
                    }
                    s => TaskStatus::parse(s).ok_or_else(|| {
                        ValidationError::invalid(
                            &key,
                            "must be queued, running, cancelled, succeeded or failed",
                        )
                    })?,
                };
                query.statuses = vec![status];
            }
            "filter.task_ids" => {
                let id = value.trim();
                if !id.is_empty() {
                    query.ids.push(TaskId::from_string(id));
                }
            }
            "filter.model" => {
                let model = value.trim();
                query.model = (!model.is_empty()).then(|| model.to_string());
            }
            "filter.service_tier" => match value.trim() {
                "default" => {}
                "flex" => matches_nothing = true,
                _ => return Err(ValidationError::invalid(&key, "must be default or flex")),
            },
            _ => return Err(ValidationError::UnknownField { field: key }),
        }
    }
    query.offset = (page_num - 1) * page_size;
    // In range: at most 500.
    query.limit = page_size as u32;
    Ok((!matches_nothing).then_some(query))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            p.paths.wire_name("reference_video_urls[0]"),
            "content[2].video_url"
        );
        assert_eq!(p.paths.wire_name("reference_audio_urls"), "content");
        assert_eq!(p.paths.wire_name("aspect_ratio"), "ratio");
        assert_eq!(p.paths.wire_name("prompt"), "content[0].text");
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
        assert_eq!(p.paths.wire_name("first_frame_url"), "content[1].image_url");
        assert_eq!(p.draft.aspect_ratio.as_deref(), Some("adaptive"));
        assert_eq!(p.draft.generate_audio, Some(true));
        let e = parse(&text_and(
            r#",{"type":"image_url","image_url":{"url":"https://e.com/a.png"}},
               {"type":"image_url","image_url":{"url":"https://e.com/b.png"}}"#,
        ))
        .err();
        assert_eq!(e.as_ref().and_then(|e| e.field()), Some("content[2].role"));
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
                e.as_ref().and_then(|e| e.field()),
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
            assert_eq!(e.as_ref().and_then(|e| e.field()), Some(field), "{body}");
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

    #[test]
    fn list_query_parsing() {
        let q = parse_list_query("page_num=2&page_size=3&filter.task_ids=a&filter.task_ids=b&filter.status=queued&filter.model=doubao-seedance-2-0-mini-260615")
            .expect("ok")
            .expect("query");
        assert_eq!((q.offset, q.limit), (3, 3));
        assert_eq!(q.ids.len(), 2);
        assert_eq!(q.statuses, vec![TaskStatus::Queued]);
        assert!(q.model.is_some());
        assert!(parse_list_query("filter.service_tier=flex")
            .expect("ok")
            .is_none());
        for bad in [
            "page_num=0",
            "page_size=501",
            "filter.status=expired",
            "page_num=x",
            "nope=1",
            "filter.status=%ZZ",
        ] {
            assert!(parse_list_query(bad).is_err(), "{bad}");
        }
        assert_eq!(
            form_decode("a%2Bb+c", "k").expect("decode"),
            "a+b c".to_string()
        );
    }

    #[test]
    fn tokens_follow_the_observed_formula() {
        // 864 × 496 × 97 / 1024 = 40594.5 → 40594 (rounded down).
        assert_eq!(completion_tokens(864, 496, 4), 40_594);
        assert_eq!(completion_tokens(864, 480, 2), 19_845);
        assert_eq!(completion_tokens(1280, 720, 5), 108_900);
    }
}

//! The playground: a member composes a request (model, prompt, the mode as the resellers present
//! it, media dropped in or linked, resolution, ratio, duration, audio), sees its price as it
//! changes, submits it and watches it finish; "copy as code" gives the same request in every
//! dialect. The page is server-rendered; `static/playground.js` drives it through the JSON
//! endpoints below, which call the same [`GenerationService`](seedgate_service::GenerationService)
//! methods the APIs call (`upload_asset`, `quote`, `submit`, `get_task`).

use crate::error::{ApiFailure, ConsoleError};
use crate::layout;
use crate::member::{chrome, code};
use crate::session::{Member, CSRF_HEADER};
use crate::Console;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, Markup};
use seedgate_core::error::{GatewayError, ValidationError};
use seedgate_core::records::StoredResponse;
use seedgate_core::{Mode, ModelSpec, RequestDraft, Task, TaskStatus};
use seedgate_service::{IdempotencyRequest, Quote, SubmitContext, SubmitOutcome};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The largest file the playground uploads (the server's default `assets.max_upload_bytes`;
/// reference videos may be up to 50 MB).
pub const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;

/// The dialect the console's tasks are recorded under. Nothing requires a registered dialect:
/// reads (the task, lists, the timeline) do not look at it, and only a callback is rendered per
/// dialect, which the playground never asks for (it sends no `callback_url`).
pub const DIALECT: &str = "console";

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/console/playground", get(page))
        .route(
            "/console/api/assets",
            post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/console/api/estimate", post(estimate))
        .route("/console/api/tasks", post(submit))
        .route("/console/api/tasks/{id}", get(task))
        .route("/console/api/code", post(copy_as_code))
}

/// The media inputs of each mode: (field, kind, label, several files).
const I2V_MEDIA: &[(&str, &str, &str, bool)] = &[
    ("first_frame_url", "image", "First frame", false),
    ("last_frame_url", "image", "Last frame (optional)", false),
];
const R2V_MEDIA: &[(&str, &str, &str, bool)] = &[
    ("reference_image_urls", "image", "Reference images", true),
    ("reference_video_urls", "video", "Reference videos", true),
    ("reference_audio_urls", "audio", "Reference audio", true),
];

/// What the page's script needs to know of a model to adjust the form.
fn model_options(spec: &ModelSpec) -> Value {
    json!({
        "id": spec.id,
        "resolutions": spec.resolutions.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "default_resolution": spec.default_resolution.as_str(),
        "aspect_ratios": spec.aspect_ratios.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "default_aspect_ratio": spec.default_aspect_ratio.as_str(),
        "duration": {"min": spec.duration.min, "max": spec.duration.max, "default": spec.duration.default},
        "generate_audio": spec.defaults.generate_audio,
        "max_prompt_chars": spec.max_prompt_chars,
        "limits": {
            "reference_image_urls": spec.limits.reference_images_max,
            "reference_video_urls": spec.limits.reference_videos_max,
            "reference_audio_urls": spec.limits.reference_audios_max,
        },
    })
}

/// `GET /console/playground`.
async fn page(State(console): State<Console>, member: Member) -> Markup {
    let catalog = console.service.catalog();
    let models: Vec<&ModelSpec> = catalog
        .models()
        .iter()
        .filter(|m| m.available && member.principal.check_model(&m.id, &m.id).is_ok())
        .collect();
    let default = catalog
        .default_model()
        .filter(|d| models.iter().any(|m| m.id == d.id))
        .or_else(|| models.first().copied());
    let options = Value::Array(models.iter().map(|m| model_options(m)).collect());
    let body = html! {
        @if let Some(spec) = default {
            (form(&models, spec))
            (layout::json_script("playground-models", &options))
            script src=(crate::assets::url("playground.js")) defer {}
        } @else {
            p.error role="alert" { "This key may not use any available model, so there is nothing to try here." }
        }
    };
    layout::page(&chrome(&member, "/console/playground"), "Playground", body)
}

fn field_error(field: &str) -> Markup {
    html! { p.field-error id=(format!("error-{field}")) data-field=(field) hidden {} }
}

fn media_input(field: &str, kind: &str, label: &str, multiple: bool) -> Markup {
    let accept = match kind {
        "image" => "image/png,image/jpeg,image/webp,image/bmp,image/tiff,image/gif",
        "video" => "video/mp4,video/quicktime",
        _ => "audio/wav,audio/x-wav,audio/mpeg",
    };
    let file_id = format!("file-{field}");
    let url_id = format!("url-{field}");
    html! {
        div.medium data-field=(field) {
            h3 { (label) }
            div.dropzone data-field=(field) data-kind=(kind) data-multiple=(multiple) {
                label for=(file_id) {
                    "Drop " (if multiple { "files" } else { "a file" }) " here, or "
                    span.pick { "choose " (if multiple { "files" } else { "a file" }) }
                }
                @if multiple {
                    input.file type="file" id=(file_id) accept=(accept) multiple data-field=(field);
                } @else {
                    input.file type="file" id=(file_id) accept=(accept) data-field=(field);
                }
                ul.files id=(format!("files-{field}")) aria-live="polite" {}
            }
            label for=(url_id) {
                (if multiple { "…or URLs, one a line" } else { "…or a URL" })
            }
            @if multiple {
                textarea.media-url id=(url_id) data-field=(field) rows="2" placeholder="https://" {}
            } @else {
                input.media-url type="url" id=(url_id) data-field=(field) placeholder="https://";
            }
            (field_error(field))
        }
    }
}

fn form(models: &[&ModelSpec], spec: &ModelSpec) -> Markup {
    html! {
        div.grid.side.playground {
            form #playground novalidate {
                section.panel {
                    label for="model" { "Model" }
                    select #model name="model" {
                        @for m in models {
                            option value=(m.id) selected[m.id == spec.id] { (m.id) }
                        }
                    }
                    p.hint #model-facts {}
                    (field_error("model"))
                    label for="prompt" { "Prompt" }
                    textarea #prompt name="prompt" rows="4" maxlength=(spec.max_prompt_chars)
                        placeholder="A red fox trots through fresh snow at dawn" {}
                    (field_error("prompt"))
                }
                fieldset.panel.modes {
                    legend { "Mode" }
                    label.inline { input type="radio" name="mode" value="t2v" checked; "Text only" }
                    label.inline { input type="radio" name="mode" value="i2v"; "First frame (+ optional last frame)" }
                    label.inline { input type="radio" name="mode" value="r2v"; "References: images, videos, audio" }
                    (field_error("mode"))
                    div.mode-panel data-mode="i2v" hidden {
                        @for (field, kind, label, multiple) in I2V_MEDIA {
                            (media_input(field, kind, label, *multiple))
                        }
                    }
                    div.mode-panel data-mode="r2v" hidden {
                        @for (field, kind, label, multiple) in R2V_MEDIA {
                            (media_input(field, kind, label, *multiple))
                        }
                    }
                }
                section.panel.settings {
                    div.grid.three {
                        div {
                            label for="resolution" { "Resolution" }
                            select #resolution name="resolution" {
                                @for r in &spec.resolutions {
                                    option value=(r.as_str()) selected[*r == spec.default_resolution] { (r.as_str()) }
                                }
                            }
                            (field_error("resolution"))
                        }
                        div {
                            label for="aspect_ratio" { "Aspect ratio" }
                            select #aspect_ratio name="aspect_ratio" {
                                @for r in &spec.aspect_ratios {
                                    option value=(r.as_str()) selected[*r == spec.default_aspect_ratio] { (r.as_str()) }
                                }
                            }
                            (field_error("aspect_ratio"))
                        }
                        div {
                            label for="duration" { "Duration (seconds)" }
                            input #duration name="duration" type="number" inputmode="numeric" step="1"
                                min=(spec.duration.min) max=(spec.duration.max) value=(spec.duration.default);
                            (field_error("duration"))
                        }
                    }
                    label.inline {
                        input #generate_audio type="checkbox" name="generate_audio" checked[spec.defaults.generate_audio];
                        "Generate audio"
                    }
                    label.inline {
                        input #return_last_frame type="checkbox" name="return_last_frame" checked;
                        "Return the last frame"
                    }
                }
                p.error #form-error role="alert" hidden {}
                div.actions {
                    button #generate type="submit" { "Generate" }
                    button.secondary #show-code type="button" aria-controls="code" { "Copy as code" }
                }
            }
            div.outcome {
                section.panel #estimate aria-labelledby="estimate-title" {
                    h2 #estimate-title { "Estimate" }
                    div #estimate-body aria-live="polite" {
                        p.muted { "Fill in the form to see the price." }
                    }
                }
                section.panel #result aria-labelledby="result-title" {
                    h2 #result-title { "Result" }
                    p #task-status role="status" aria-live="polite" { span.muted { "Nothing submitted yet." } }
                    div #task-output {}
                }
            }
        }
        section.panel #code hidden aria-labelledby="code-title" {
            h2 #code-title { "The same request in every dialect" }
            p.hint {
                "Set " code { "SEEDGATE_KEY" } " to one of your API keys first. Uploaded files are "
                "referenced by their signed link, which expires."
            }
            div.tabs #code-tabs role="tablist" aria-label="Dialect" {}
            div #code-panels {}
        }
    }
}

/// The values the page's script sends (the form), with the mode the member chose.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PlaygroundForm {
    model: Option<String>,
    prompt: Option<String>,
    mode: Option<String>,
    first_frame_url: Option<String>,
    last_frame_url: Option<String>,
    reference_image_urls: Vec<String>,
    reference_video_urls: Vec<String>,
    reference_audio_urls: Vec<String>,
    resolution: Option<String>,
    aspect_ratio: Option<String>,
    duration: Option<i64>,
    generate_audio: Option<bool>,
    return_last_frame: Option<bool>,
}

fn non_blank(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn non_blank_list(values: Vec<String>) -> Option<Vec<String>> {
    let list: Vec<String> = values
        .into_iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    (!list.is_empty()).then_some(list)
}

impl PlaygroundForm {
    /// The canonical draft: only the chosen mode's media are sent, and the mode is explicit
    /// (as APIXO's `mode` is), so a missing first frame is named rather than read as text only.
    fn into_draft(self) -> Result<RequestDraft, ValidationError> {
        let mode = match self.mode.as_deref().map(str::trim) {
            None | Some("") | Some("t2v") => Mode::T2v,
            Some("i2v") => Mode::I2v,
            Some("r2v") => Mode::R2v,
            Some(_) => return Err(ValidationError::invalid("mode", "must be t2v, i2v or r2v")),
        };
        let mut draft = RequestDraft {
            model: non_blank(self.model),
            prompt: non_blank(self.prompt),
            resolution: non_blank(self.resolution),
            aspect_ratio: non_blank(self.aspect_ratio),
            duration: self.duration,
            generate_audio: self.generate_audio,
            return_last_frame: self.return_last_frame,
            explicit_mode: Some(mode),
            ..RequestDraft::default()
        };
        match mode {
            Mode::T2v => {}
            Mode::I2v => {
                draft.first_frame_url = non_blank(self.first_frame_url);
                draft.last_frame_url = non_blank(self.last_frame_url);
            }
            Mode::R2v => {
                draft.reference_image_urls = non_blank_list(self.reference_image_urls);
                draft.reference_video_urls = non_blank_list(self.reference_video_urls);
                draft.reference_audio_urls = non_blank_list(self.reference_audio_urls);
            }
        }
        Ok(draft)
    }
}

/// A JSON body as the form, and as the value it was (for the Idempotency-Key fingerprint).
fn parse_form(body: Result<Bytes, BytesRejection>) -> Result<(PlaygroundForm, Value), ApiFailure> {
    let body = body.map_err(body_failure)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ConsoleError::BadRequest(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ConsoleError::BadRequest("the body must be a JSON object".into()).into());
    }
    let form: PlaygroundForm = serde_json::from_value(value.clone())
        .map_err(|e| ConsoleError::BadRequest(format!("the form is not valid: {e}")))?;
    Ok((form, value))
}

fn body_failure(rejection: BytesRejection) -> ApiFailure {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiFailure(ConsoleError::Gateway(GatewayError::PayloadTooLarge))
    } else {
        ApiFailure(ConsoleError::BadRequest(rejection.body_text()))
    }
}

/// Refuses a script's state change without this session's CSRF header.
fn check_csrf(member: &Member, headers: &HeaderMap) -> Result<(), ApiFailure> {
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    member.session.check_csrf(presented)?;
    Ok(())
}

fn dollars(credits: u64) -> String {
    format!("{:.3}", credits as f64 / 1000.0)
}

/// The file name the script sends, percent-encoded, in `x-file-name`: decoded and kept short.
fn file_name(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get("x-file-name")?.to_str().ok()?;
    let decoded: String = url::form_urlencoded::parse(format!("n={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    let name: String = decoded
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let name = name.trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// `POST /console/api/assets`: the raw file → a stored, probed asset.
async fn upload(
    State(console): State<Console>,
    member: Result<Member, ConsoleError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiFailure> {
    let member = member?;
    check_csrf(&member, &headers)?;
    let bytes = body.map_err(body_failure)?;
    let name = file_name(&headers);
    let asset = console
        .service
        .upload_asset(&member.principal, bytes, name)
        .await?;
    Ok(Json(json!({
        "id": asset.id,
        // What a request names it by; the console's endpoints resolve it to the file's link.
        "reference": format!("asset://{}", asset.id),
        "url": console.service.media_url(&asset.object_key),
        "name": asset.name,
        "kind": asset.facts.kind,
        "content_type": asset.content_type,
        "facts": asset.facts,
    })))
}

fn estimate_view(quote: &Quote) -> Value {
    let r = &quote.request;
    json!({
        "model": r.model,
        "mode": r.mode.as_str(),
        "resolution": r.resolution.as_str(),
        "aspect_ratio": r.aspect_ratio.as_str(),
        "duration": r.duration_seconds,
        "credits": quote.price.credits,
        "dollars": dollars(quote.price.credits),
        "usd_per_second": quote.price.micro_usd_per_second as f64 / 1_000_000.0,
        "billable_seconds": quote.price.billable_seconds,
        "output": {"width": quote.output_size.0, "height": quote.output_size.1},
        "price_plan": quote.price_plan,
        "media": quote.media.iter().map(|m| json!({
            "field": m.field.to_string(),
            "kind": m.kind,
            "facts": m.facts,
        })).collect::<Vec<_>>(),
    })
}

/// `POST /console/api/estimate`: the form's price, moving no money.
async fn estimate(
    State(console): State<Console>,
    member: Result<Member, ConsoleError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiFailure> {
    let member = member?;
    check_csrf(&member, &headers)?;
    let (form, _) = parse_form(body)?;
    let draft = form.into_draft().map_err(GatewayError::from)?;
    let quote = console.service.quote(&member.principal, draft).await?;
    Ok(Json(estimate_view(&quote)))
}

fn status_label(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Queued => "queued",
        TaskStatus::Running => "running",
        TaskStatus::Succeeded => "completed",
        TaskStatus::Failed => "failed",
        TaskStatus::Cancelled => "cancelled",
    }
}

/// The console's view of a task (its result links signed by the caller).
fn task_view(task: &Task) -> Value {
    let output = task.output.as_ref();
    let r = &task.request;
    json!({
        "id": task.id.as_str(),
        "status": status_label(task.status),
        "terminal": task.status.is_terminal(),
        "model": r.model,
        "mode": r.mode.as_str(),
        "resolution": r.resolution.as_str(),
        "aspect_ratio": r.aspect_ratio.as_str(),
        "duration": r.duration_seconds,
        "credits": task.price.credits,
        "dollars": dollars(task.price.credits),
        "created_at_ms": task.created_at_ms,
        "started_at_ms": task.started_at_ms,
        "finished_at_ms": task.finished_at_ms,
        "video_url": output.and_then(|o| o.video_urls.first()),
        "last_frame_url": output.and_then(|o| o.last_frame_url.as_ref()),
        "width": output.and_then(|o| o.width),
        "height": output.and_then(|o| o.height),
        "error": task.error.as_ref().map(|e| json!({"kind": e.kind, "message": e.message})),
    })
}

fn stored(status: u16, value: &Value) -> StoredResponse {
    StoredResponse {
        status,
        body: serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

fn stored_response(response: StoredResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    let mut answer = (status, response.body).into_response();
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    answer
}

/// The page's Idempotency-Key (one per press of Generate), checked as the APIs check it.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, GatewayError> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(GatewayError::IdempotencyKeyInvalid(
            "send at most one Idempotency-Key header".into(),
        ));
    }
    let key = value
        .to_str()
        .map_err(|_| GatewayError::IdempotencyKeyInvalid("must be visible ASCII".into()))?
        .trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(GatewayError::IdempotencyKeyInvalid(
            "must be 1 to 255 visible ASCII characters".into(),
        ));
    }
    Ok(Some(key.to_string()))
}

/// `POST /console/api/tasks`: submits the form as a task of the member's key.
async fn submit(
    State(console): State<Console>,
    member: Result<Member, ConsoleError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiFailure> {
    let member = member?;
    check_csrf(&member, &headers)?;
    let (form, value) = parse_form(body)?;
    let idempotency = idempotency_key(&headers)?.map(|key| {
        let mut hasher = Sha256::new();
        hasher.update(b"/console/api/tasks");
        hasher.update([0]);
        hasher.update(value.to_string().as_bytes());
        IdempotencyRequest {
            key,
            fingerprint: hex::encode(hasher.finalize()),
        }
    });
    let draft = form.into_draft().map_err(GatewayError::from)?;
    let render = |task: &Task| stored(201, &task_view(task));
    let outcome = console
        .service
        .submit(
            SubmitContext {
                principal: &member.principal,
                dialect: DIALECT,
                idempotency,
                marked_retry: false,
                render: &render,
            },
            draft,
        )
        .await?;
    Ok(match outcome {
        SubmitOutcome::Created { response, .. } => stored_response(response),
        SubmitOutcome::Replayed(response) => stored_response(response),
    })
}

/// `GET /console/api/tasks/{id}`: one of the member's tasks, polled by the page.
async fn task(
    State(console): State<Console>,
    member: Result<Member, ConsoleError>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiFailure> {
    let member = member?;
    let task = console.service.get_task(&member.principal, &id).await?;
    Ok(Json(task_view(&task)))
}

/// `POST /console/api/code`: the form, validated and priced like a submit, as every dialect's
/// curl and Python.
async fn copy_as_code(
    State(console): State<Console>,
    member: Result<Member, ConsoleError>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiFailure> {
    let member = member?;
    check_csrf(&member, &headers)?;
    let (form, _) = parse_form(body)?;
    let draft = form.into_draft().map_err(GatewayError::from)?;
    // The quote validates the request, resolves `asset://` references to their signed links
    // (which every dialect accepts as plain URLs) and checks each medium.
    let quote = console.service.quote(&member.principal, draft).await?;
    let spec = quote
        .request
        .spec(console.service.catalog())
        .ok_or_else(|| GatewayError::Internal("validated model missing from catalog".into()))?;
    let snippets = code::snippets(&quote.request, spec, &console.public_base_url);
    Ok(Json(json!({
        "key_variable": code::KEY_VARIABLE,
        "snippets": snippets,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(value: Value) -> PlaygroundForm {
        serde_json::from_value(value).expect("form")
    }

    #[test]
    fn only_the_chosen_modes_media_are_sent() {
        let draft = form(json!({
            "model": "seedance-2.0-mini", "mode": "i2v", "prompt": "  ",
            "first_frame_url": "asset://asset_1", "last_frame_url": "",
            "reference_image_urls": ["https://e.com/a.png"], "duration": 5,
        }))
        .into_draft()
        .expect("draft");
        assert_eq!(draft.explicit_mode, Some(Mode::I2v));
        assert_eq!(draft.first_frame_url.as_deref(), Some("asset://asset_1"));
        assert_eq!(draft.last_frame_url, None);
        assert_eq!(draft.reference_image_urls, None);
        assert_eq!(draft.prompt, None);
        let draft = form(
            json!({"mode": "r2v", "first_frame_url": "https://e.com/a.png",
            "reference_video_urls": ["", " https://e.com/v.mp4 "]}),
        )
        .into_draft()
        .expect("draft");
        assert_eq!(draft.first_frame_url, None);
        assert_eq!(
            draft.reference_video_urls,
            Some(vec!["https://e.com/v.mp4".to_string()])
        );
        assert!(form(json!({"mode": "x"})).into_draft().is_err());
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_refused() {
        assert!(serde_json::from_value::<PlaygroundForm>(json!({"bogus": 1})).is_err());
        assert!(serde_json::from_value::<PlaygroundForm>(json!({"duration": "x"})).is_err());
    }

    #[test]
    fn file_names_are_decoded_and_kept_short() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-file-name",
            HeaderValue::from_static("r%C3%A9d%20fox.png"),
        );
        assert_eq!(file_name(&headers).as_deref(), Some("réd fox.png"));
        let long = "a".repeat(500);
        headers.insert("x-file-name", HeaderValue::from_str(&long).expect("header"));
        assert_eq!(file_name(&headers).map(|n| n.chars().count()), Some(200));
        headers.insert("x-file-name", HeaderValue::from_static("%0A%0D"));
        assert_eq!(file_name(&headers), None);
    }

    #[test]
    fn idempotency_keys_are_checked() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers).expect("none"), None);
        headers.insert("idempotency-key", HeaderValue::from_static("abc-123"));
        assert_eq!(
            idempotency_key(&headers).expect("key").as_deref(),
            Some("abc-123")
        );
        headers.insert("idempotency-key", HeaderValue::from_static(""));
        assert!(idempotency_key(&headers).is_err());
    }
}

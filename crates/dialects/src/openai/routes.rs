//! The videos API's routes and handlers.

use crate::common::{self, Auth};
use crate::{AppState, RouteLimits};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use seedgate_core::clock::now_ms;
use seedgate_core::error::{GatewayError, ValidationError};
use seedgate_core::records::StoredResponse;
use seedgate_core::task::TaskStatus;
use seedgate_core::Task;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::convert::{build_draft, list_query, query_object, status_name, video_object};
use super::errors::{renamed, ErrorParts, Failure, OpenAiErrorEnvelope};
use super::multipart::read_create;
use super::wire::{
    ContentParams, ListParams, OpenAiCreateVideo, OpenAiCreateVideoForm, OpenAiVideo,
    OpenAiVideoDeleted, OpenAiVideoList,
};
use super::OpenAi;

pub const CREATE_ROUTE: &str = "/v1/videos";

/// The `openai-poll-after-ms` value sent with every unfinished video.
pub const POLL_AFTER_MS: u64 = 1000;

pub fn routes(limits: RouteLimits) -> OpenApiRouter<AppState> {
    // A file part may be as large as an asset upload; multipart framing adds a little.
    let upload_limit = limits.max_upload_bytes.saturating_add(64 * 1024);
    let mut router = OpenApiRouter::new()
        .routes(routes!(create_video, list_videos).layer(DefaultBodyLimit::max(upload_limit)))
        .routes(routes!(retrieve_video, delete_video))
        .routes(routes!(download_content));
    binary_content(router.get_openapi_mut());
    router
}

fn with_poll_header(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("openai-poll-after-ms", HeaderValue::from(POLL_AFTER_MS));
    response
}

fn video_response(task: &Task) -> Response {
    let response = common::json_response(StatusCode::OK, &video_object(task, now_ms()));
    if task.status.is_terminal() {
        response
    } else {
        with_poll_header(response)
    }
}

fn render_created(task: &Task) -> StoredResponse {
    common::stored_json(200, &video_object(task, task.created_at_ms))
}

/// Create a video. The SDK sends multipart/form-data; JSON works too.
#[utoipa::path(post, path = "/v1/videos", tag = "OpenAI videos",
    request_body(content(
        (OpenAiCreateVideoForm = "multipart/form-data"),
        (OpenAiCreateVideo = "application/json"),
    )),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 200, description = "The new video (queued); header `openai-poll-after-ms`", body = OpenAiVideo),
        (status = "4XX", body = OpenAiErrorEnvelope), (status = "5XX", body = OpenAiErrorEnvelope)),
    security(("bearer" = [])))]
async fn create_video(
    State(service): State<AppState>,
    Auth(principal, _): Auth<OpenAi>,
    request: Request,
) -> Result<Response, Failure> {
    let headers = request.headers().clone();
    let input = read_create(request).await?;
    let fingerprint = input.fingerprint.clone();
    let draft = build_draft(&service, &principal, input).await?;
    let response = common::submit::<OpenAi>(
        &service,
        &principal,
        &headers,
        CREATE_ROUTE,
        &fingerprint,
        draft,
        &render_created,
    )
    .await
    .map_err(renamed)?;
    // A created video is always queued.
    Ok(if response.status() == StatusCode::OK {
        with_poll_header(response)
    } else {
        response
    })
}

/// Retrieve a video (any dialect's task of the same key).
#[utoipa::path(get, path = "/v1/videos/{video_id}", tag = "OpenAI videos",
    params(("video_id" = String, Path, description = "Video (task) id")),
    responses(
        (status = 200, description = "The video; header `openai-poll-after-ms` while queued or in progress", body = OpenAiVideo),
        (status = 404, body = OpenAiErrorEnvelope), (status = "4XX", body = OpenAiErrorEnvelope)),
    security(("bearer" = [])))]
async fn retrieve_video(
    State(service): State<AppState>,
    Auth(principal, _): Auth<OpenAi>,
    Path(video_id): Path<String>,
) -> Result<Response, Failure> {
    let task = service.get_task(&principal, &video_id).await?;
    Ok(video_response(&task))
}

/// List the key's videos, newest first by default; page with `after` = the previous page's
/// `last_id`.
#[utoipa::path(get, path = "/v1/videos", tag = "OpenAI videos",
    params(
        ("after" = Option<String>, Query, description = "The `last_id` of the previous page"),
        ("limit" = Option<i64>, Query, description = "1 to 100, default 20"),
        ("order" = Option<String>, Query, description = "`asc` or `desc` (default) by creation time"),
    ),
    responses((status = 200, body = OpenAiVideoList), (status = "4XX", body = OpenAiErrorEnvelope)),
    security(("bearer" = [])))]
async fn list_videos(
    State(service): State<AppState>,
    Auth(principal, _): Auth<OpenAi>,
    uri: Uri,
) -> Result<Response, Failure> {
    let params: ListParams = common::parse_value(query_object(&uri)?)?;
    let page = service.list_tasks(&principal, list_query(params)?).await?;
    let now = now_ms();
    let data: Vec<OpenAiVideo> = page.tasks.iter().map(|t| video_object(t, now)).collect();
    let list = OpenAiVideoList {
        object: "list".into(),
        first_id: data.first().map(|v| v.id.clone()),
        last_id: data.last().map(|v| v.id.clone()),
        has_more: page.has_more,
        data,
    };
    Ok(common::json_response(StatusCode::OK, &list))
}

/// Delete a video: a finished one with its files; a queued one is cancelled (refunded) first; a
/// running one cannot be deleted (409 `video_in_progress`).
#[utoipa::path(delete, path = "/v1/videos/{video_id}", tag = "OpenAI videos",
    params(("video_id" = String, Path, description = "Video (task) id")),
    responses((status = 200, body = OpenAiVideoDeleted),
        (status = 404, body = OpenAiErrorEnvelope), (status = 409, body = OpenAiErrorEnvelope)),
    security(("bearer" = [])))]
async fn delete_video(
    State(service): State<AppState>,
    Auth(principal, _): Auth<OpenAi>,
    Path(video_id): Path<String>,
) -> Result<Response, Failure> {
    let task = service.get_task(&principal, &video_id).await?;
    if task.status == TaskStatus::Queued {
        // A task that started meanwhile is refused by the delete below.
        match service.cancel_task(&principal, &video_id).await {
            Ok(_) | Err(GatewayError::NotCancellable) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The gateway removes the record and its files.
    service.delete_task(&principal, &video_id).await?;
    Ok(common::json_response(
        StatusCode::OK,
        &OpenAiVideoDeleted {
            id: task.id.to_string(),
            object: "video.deleted".into(),
            deleted: true,
        },
    ))
}

/// Download a completed video's MP4 (`variant=video`, the default) or its thumbnail
/// (`variant=thumbnail`: a PNG of the last frame).
#[utoipa::path(get, path = "/v1/videos/{video_id}/content", tag = "OpenAI videos",
    params(("video_id" = String, Path, description = "Video (task) id"),
        ("variant" = Option<String>, Query, description = "`video` (default) or `thumbnail`; `spritesheet` is not produced")),
    responses(
        (status = 200, description = "The MP4 (`variant=video`) or the PNG of its last frame (`variant=thumbnail`)"),
        (status = 404, body = OpenAiErrorEnvelope), (status = 409, description = "Not completed", body = OpenAiErrorEnvelope),
        (status = "4XX", body = OpenAiErrorEnvelope)),
    security(("bearer" = [])))]
async fn download_content(
    State(service): State<AppState>,
    Auth(principal, _): Auth<OpenAi>,
    Path(video_id): Path<String>,
    uri: Uri,
) -> Result<Response, Failure> {
    let params: ContentParams = common::parse_value(query_object(&uri)?)?;
    let thumbnail =
        match params.variant.as_deref().map(str::trim) {
            None | Some("") | Some("video") => false,
            Some("thumbnail") => true,
            Some("spritesheet") => return Err(Failure::Own(
                ErrorParts::request(
                    StatusCode::BAD_REQUEST,
                    "unsupported_value",
                    "seedgate does not produce spritesheets; variant must be video or thumbnail",
                )
                .param("variant"),
            )),
            Some(_) => {
                return Err(ValidationError::invalid(
                    "variant",
                    "must be video, thumbnail or spritesheet",
                )
                .into())
            }
        };
    let task = service.get_task(&principal, &video_id).await?;
    match task.status {
        TaskStatus::Succeeded => {}
        TaskStatus::Queued | TaskStatus::Running => {
            return Err(Failure::Own(
                ErrorParts::request(
                    StatusCode::CONFLICT,
                    "video_not_ready",
                    format!(
                        "video {video_id} is still {}; download it once it has completed",
                        status_name(task.status)
                    ),
                )
                .no_retry(),
            ))
        }
        TaskStatus::Failed | TaskStatus::Cancelled => {
            return Err(Failure::Own(
                ErrorParts::request(
                    StatusCode::CONFLICT,
                    "video_failed",
                    format!("video {video_id} failed and has no content"),
                )
                .no_retry(),
            ))
        }
    }
    let output = task.output.as_ref();
    if let Some(at_ms) = output.and_then(|o| o.media_expired_at_ms) {
        return Err(Failure::Own(ErrorParts::request(
            StatusCode::NOT_FOUND,
            "video_expired",
            format!(
                "the video's content has expired: video {video_id}'s files expired at {} \
                 (its expires_at) under this gateway's retention policy and were deleted; \
                 create the video again",
                seedgate_core::usage::rfc3339(at_ms)
            ),
        )));
    }
    let key = if thumbnail {
        output
            .and_then(|o| o.last_frame_key.clone())
            .ok_or_else(|| {
                Failure::Own(
                    ErrorParts::request(
                        StatusCode::NOT_FOUND,
                        "thumbnail_not_available",
                        format!(
                            "video {video_id} has no thumbnail: it was created without its last \
                         frame (videos created through /v1/videos always have one)"
                        ),
                    )
                    .param("variant"),
                )
            })?
    } else {
        output
            .and_then(|o| o.video_keys.first().cloned())
            .ok_or(GatewayError::Internal(
                "completed task without a video".into(),
            ))?
    };
    let not_found = || {
        Failure::Own(ErrorParts::request(
            StatusCode::NOT_FOUND,
            "content_not_found",
            format!("the content of video {video_id} is no longer stored"),
        ))
    };
    let read = service
        .read_result_file(&key)
        .await?
        .ok_or_else(not_found)?;
    let (content_type, extension) = if thumbnail {
        ("image/png", "png")
    } else {
        ("video/mp4", "mp4")
    };
    let mut response = Response::new(Body::from_stream(read.stream));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(read.total_size));
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}.{extension}\"", task.id))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    Ok(response)
}

/// The content route serves raw files, not JSON: its 200 is an MP4 or a PNG, which
/// `#[utoipa::path]` cannot say, so the document is amended here.
fn binary_content(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::{ContentBuilder, ResponseBuilder};
    let Some(get) = api
        .paths
        .paths
        .get_mut("/v1/videos/{video_id}/content")
        .and_then(|item| item.get.as_mut())
    else {
        return;
    };
    let file = || {
        ContentBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))),
            ))
            .build()
    };
    get.responses.responses.insert(
        "200".into(),
        ResponseBuilder::new()
            .description("The MP4 (`variant=video`, the default) or the PNG of its last frame (`variant=thumbnail`)")
            .content("video/mp4", file())
            .content("image/png", file())
            .build()
            .into(),
    );
}

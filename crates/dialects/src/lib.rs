//! Client dialects. Each dialect is a folder, one file per concern: `wire.rs` (its serde and
//! OpenAPI wire structs), `convert.rs` (wire to a canonical [`seedgate_core::RequestDraft`], a
//! canonical [`seedgate_core::Task`] to wire), `errors.rs` (its error envelope and codes),
//! `routes.rs` (its handlers), and `mod.rs` (its documentation, its [`common::Dialect`] impl and
//! its registry entry, `DIALECT`). Everything else is shared through [`common`]: handlers take
//! the caller as [`common::Auth`] and answer [`common::Reply`], whose error renders itself in
//! the dialect's envelope. A new dialect is a new folder in the same shape as [`reapi`], plus one
//! line in [`DIALECTS`]; nothing else lists the dialects.
//!
//! Routes are registered through `utoipa_axum`, so the OpenAPI document served at
//! `/openapi.json` is generated from the same handlers and wire types that answer requests.

pub mod account;
pub mod apixo;
pub mod ark;
pub mod callbacks;
pub mod common;
pub mod crun;
pub mod docs;
pub mod hiapi;
pub mod kie;
pub mod openai;
pub mod reapi;
#[cfg(test)]
mod round_trip_fixtures;
pub mod timeline;
pub mod usage;

use axum::extract::Extension;
use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use seedgate_core::error::GatewayError;
use seedgate_core::RequestId;
use seedgate_service::GenerationService;
use std::sync::Arc;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Shared state of every dialect's handlers.
pub type AppState = Arc<GenerationService>;

/// Renders a task (its media links already signed) as a dialect's callback body.
pub type CallbackBody = fn(&seedgate_core::Task, &seedgate_core::Catalog) -> Option<Vec<u8>>;

/// One dialect, as the rest of the application sees it. Each dialect module defines its entry
/// (`DIALECT`); [`DIALECTS`] lists them, and routes, error envelopes for paths no route
/// matched, the OpenAPI tags and envelopes and callback bodies all come from that one list.
pub struct DialectEntry {
    /// Recorded on tasks (`Dialect::NAME`).
    pub name: &'static str,
    /// Paths that start with one of these are this dialect's (the longest matching prefix of
    /// all dialects wins).
    pub path_prefixes: &'static [&'static str],
    /// The OpenAPI tag of its routes (the `tag` of each `#[utoipa::path]`), and what the
    /// document says of it.
    pub tag: &'static str,
    pub tag_description: &'static str,
    pub routes: fn(RouteLimits) -> OpenApiRouter<AppState>,
    /// An error in this dialect's envelope.
    pub error_response: fn(&GatewayError, &RequestId) -> Response,
    /// The OpenAPI schema of that envelope.
    pub error_schema: &'static str,
    /// The body of a task's callback (what the dialect's status call answers); `None` for a
    /// dialect without callbacks.
    pub callback_body: Option<CallbackBody>,
    /// Whether callbacks also carry HiAPI's `X-HiAPI-Signature`.
    pub hiapi_signature: bool,
}

/// Every dialect, in the order the API reference shows them. A path belongs to the dialect
/// with the longest prefix of it, so the order does not matter there; reAPI's `/` takes every
/// path no other dialect claims.
pub const DIALECTS: &[&DialectEntry] = &[
    &reapi::DIALECT,
    &hiapi::DIALECT,
    &apixo::DIALECT,
    &crun::DIALECT,
    &kie::DIALECT,
    &ark::DIALECT,
    &openai::DIALECT,
];

/// The dialect a task was created in, by name.
pub fn dialect_named(name: &str) -> Option<&'static DialectEntry> {
    DIALECTS.iter().copied().find(|d| d.name == name)
}

/// The dialect a path belongs to: the one with the longest prefix of it (reAPI's for a path
/// no prefix matches).
fn dialect_of_path(path: &str) -> &'static DialectEntry {
    DIALECTS
        .iter()
        .filter_map(|d| {
            let longest = d
                .path_prefixes
                .iter()
                .filter(|p| path.starts_with(*p))
                .map(|p| p.len())
                .max()?;
            Some((*d, longest))
        })
        .max_by_key(|(_, longest)| *longest)
        .map_or(&reapi::DIALECT, |(d, _)| d)
}

/// Limits the HTTP layer applies per route.
#[derive(Debug, Clone, Copy)]
pub struct RouteLimits {
    /// Largest asset upload, in bytes.
    pub max_upload_bytes: usize,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "seedgate",
        description = "One Seedance API in every reseller's dialect. A task created in one dialect \
reads back in every other dialect of every key of the same account.",
    ),
    modifiers(&SecuritySchemes, &DialectTags),
    tags(
        (name = "Callbacks", description = "seedgate: a task's callback deliveries, and redelivery"),
        (name = "Account", description = "seedgate: the caller's account, its balance, limits and budgets"),
        (name = "Usage", description = "seedgate: the caller's account's usage reports (JSON or CSV)"),
        (name = "Timeline", description = "seedgate: what happened to a task, in order"),
    )
)]
struct ApiDoc;

/// Each dialect's tag, from [`DIALECTS`], ahead of seedgate's own.
struct DialectTags;

impl utoipa::Modify for DialectTags {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::tag::TagBuilder;
        let mut tags: Vec<_> = DIALECTS
            .iter()
            .map(|d| {
                TagBuilder::new()
                    .name(d.tag)
                    .description(Some(d.tag_description))
                    .build()
            })
            .collect();
        tags.extend(openapi.tags.take().unwrap_or_default());
        openapi.tags = Some(tags);
    }
}

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "x-api-key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
    }
}

/// Every dialect's routes with their OpenAPI description.
fn dialect_routes(limits: RouteLimits) -> OpenApiRouter<AppState> {
    DIALECTS
        .iter()
        .fold(
            OpenApiRouter::with_openapi(ApiDoc::openapi()),
            |router, d| router.merge((d.routes)(limits)),
        )
        .merge(callbacks::routes())
        .merge(account::routes())
        .merge(usage::routes())
        .merge(timeline::routes())
}

/// The OpenAPI 3.1 document of every dialect's routes.
pub fn openapi(limits: RouteLimits) -> utoipa::openapi::OpenApi {
    routes_and_document(limits).1
}

fn routes_and_document(limits: RouteLimits) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = dialect_routes(limits).split_for_parts();
    complete_responses(&mut api);
    (router, api)
}

/// Every dialect's routes, plus `/openapi.json` and the offline `/docs` page generated from it;
/// `extra`'s paths, schemas and tags (seedgate's admin API) are documented there as they are.
pub fn routes(limits: RouteLimits, extra: utoipa::openapi::OpenApi) -> Router<AppState> {
    let (router, mut api) = routes_and_document(limits);
    api.merge(extra);
    let json: Arc<str> = api
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        .into();
    let html: Arc<str> = docs::render(&api).into();
    router
        .route(
            "/openapi.json",
            get(move || {
                let json = json.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        json.to_string(),
                    )
                }
            }),
        )
        .route(
            "/docs",
            get(move || {
                let html = html.clone();
                async move { axum::response::Html(html.to_string()) }
            }),
        )
}

/// An error answered in the dialect a path belongs to (for paths no route matched, and for
/// the guard).
fn error_for_path(path: &str, error: &GatewayError, request_id: &RequestId) -> Response {
    (dialect_of_path(path).error_response)(error, request_id)
}

/// Answers every operation can give whatever its handler: 401 where a key is needed, another
/// method on its path (405, or whatever the dialect answers instead: CRUN has no 405 and
/// answers 404), other client errors and server errors (the guard's 500 and 503), each in the
/// path's own error envelope. The routes list what is particular to them; these are added where
/// they are missing.
fn complete_responses(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    for (path, item) in api.paths.paths.iter_mut() {
        let dialect = dialect_of_path(path);
        let envelope = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(dialect.error_schema)))
                .build()
        };
        // The dialect's own answer to a wrong method, so the document cannot disagree with it.
        let wrong_method =
            (dialect.error_response)(&GatewayError::MethodNotAllowed, &RequestId::generate())
                .status();
        let wrong_method = wrong_method.as_str();
        for operation in [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut add = |code: &str, description: &str| {
                operation
                    .responses
                    .responses
                    .entry(code.to_string())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content("application/json", envelope())
                            .build()
                            .into()
                    });
            };
            if secured {
                add(
                    "401",
                    "The API key is missing, malformed, unknown or revoked",
                );
            }
            add(wrong_method, "Another method than those this path serves");
            add("4XX", "The request was refused; nothing was charged");
            add("5XX", "seedgate failed or is unavailable; retry later");
        }
    }
}

/// The last line of defence around every route: a handler that panics, or that has not
/// finished within `deadline`, is answered with a 500 or a 503 in the envelope of the dialect
/// the path belongs to, never with a dropped connection. A panic is logged (one line) by the
/// process's panic hook.
pub async fn guard(
    axum::extract::State(deadline): axum::extract::State<std::time::Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use futures::FutureExt;
    let path = request.uri().path().to_string();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate);
    let handled = std::panic::AssertUnwindSafe(next.run(request)).catch_unwind();
    match tokio::time::timeout(deadline, handled).await {
        Ok(Ok(response)) => response,
        Ok(Err(_panic)) => error_for_path(
            &path,
            &GatewayError::Internal("the request handler panicked".into()),
            &request_id,
        ),
        Err(_elapsed) => {
            tracing::warn!(path, request_id = %request_id, ?deadline, "request timed out");
            error_for_path(
                &path,
                &GatewayError::Unavailable(format!(
                    "the request did not complete within {} s; retry it",
                    deadline.as_secs()
                )),
                &request_id,
            )
        }
    }
}

/// Unknown paths, in the envelope of the dialect the path looks like (every seedgate route
/// answers JSON, even a typo).
pub async fn route_not_found(Extension(request_id): Extension<RequestId>, uri: Uri) -> Response {
    error_for_path(uri.path(), &GatewayError::RouteNotFound, &request_id)
}

/// A known path with the wrong method, in its dialect's envelope.
pub async fn method_not_allowed(Extension(request_id): Extension<RequestId>, uri: Uri) -> Response {
    error_for_path(uri.path(), &GatewayError::MethodNotAllowed, &request_id).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    /// A handler that panics (a bug) or hangs is answered in its path's dialect, not dropped.
    #[tokio::test]
    async fn the_guard_answers_a_panicking_or_hanging_handler_in_its_dialect() {
        async fn panics() -> &'static str {
            let v: Vec<u8> = Vec::new();
            let i = v.len() + 3;
            // An out-of-bounds index: the kind of bug the guard is for.
            if v[i] == 0 {
                return "unreachable";
            }
            "unreachable"
        }
        async fn hangs() -> &'static str {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            "late"
        }
        let app = Router::new()
            .route("/api/v3/contents/generations/tasks", get(panics))
            .route("/v1/videos", get(hangs))
            .route("/api/v1/tasks/x", get(panics))
            .layer(axum::middleware::from_fn_with_state(
                std::time::Duration::from_millis(200),
                guard,
            ))
            .layer(axum::middleware::from_fn(common::assign_request_id));
        let call = |path: &'static str| {
            let app = app.clone();
            async move {
                let response = app
                    .oneshot(
                        axum::http::Request::get(path)
                            .body(axum::body::Body::empty())
                            .expect("request"),
                    )
                    .await
                    .expect("infallible");
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .expect("body");
                let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
                (status, json)
            }
        };
        let (status, ark) = call("/api/v3/contents/generations/tasks").await;
        assert_eq!(status, 500);
        assert_eq!(ark["error"]["code"], "InternalServiceError", "{ark}");
        let (status, reapi) = call("/api/v1/tasks/x").await;
        assert_eq!(status, 500);
        assert_eq!(reapi["error"]["code"], 60099, "{reapi}");
        let (status, openai) = call("/v1/videos").await;
        assert_eq!(status, 503);
        assert_eq!(openai["error"]["code"], "service_unavailable", "{openai}");
    }

    /// Schemas are keyed by name in the document: two dialects' `ErrorEnvelope`s would silently
    /// become one. Every schema is named after its dialect, so none can shadow another's.
    #[test]
    fn every_schema_is_named_after_its_dialect() {
        let api = openapi(RouteLimits {
            max_upload_bytes: 1024,
        });
        let schemas = api.components.map(|c| c.schemas).unwrap_or_default();
        assert!(!schemas.is_empty());
        // Each dialect's schemas start like its error envelope's name.
        let prefixes: Vec<&str> = DIALECTS
            .iter()
            .filter_map(|d| d.error_schema.strip_suffix("ErrorEnvelope"))
            .chain(SEEDGATE_TAGS)
            .collect();
        assert_eq!(
            prefixes.len(),
            DIALECTS.len() + SEEDGATE_TAGS.len(),
            "{prefixes:?}"
        );
        let unprefixed: Vec<&String> = schemas
            .keys()
            .filter(|name| !prefixes.iter().any(|p| name.starts_with(p)))
            .collect();
        assert!(
            unprefixed.is_empty(),
            "schemas without a dialect prefix: {unprefixed:?}"
        );
    }

    /// A path belongs to the dialect with the longest prefix of it, whatever the order of
    /// [`DIALECTS`]: every dialect owns its own prefixes (`/v1/videos` is the videos API's, not
    /// HiAPI's `/v1/`), and reAPI takes the rest.
    #[test]
    fn every_prefix_belongs_to_its_dialect() {
        for d in DIALECTS {
            for prefix in d.path_prefixes {
                assert_eq!(dialect_of_path(prefix).name, d.name, "{prefix}");
                let below = format!("{prefix}x/y");
                assert_eq!(dialect_of_path(&below).name, d.name, "{below}");
            }
        }
        assert_eq!(dialect_of_path("/nowhere").name, reapi::DIALECT.name);
        assert_eq!(dialect_of_path("").name, reapi::DIALECT.name);
    }

    /// seedgate's own, dialect-neutral groups of routes (their schemas start with these too).
    const SEEDGATE_TAGS: [&str; 4] = ["Callbacks", "Account", "Usage", "Timeline"];

    /// Each operation carries its dialect's tag (from its registry entry), or one of seedgate's
    /// own; every tag an operation carries is described in the document.
    #[test]
    fn every_operation_is_tagged_with_its_dialect() {
        let api = openapi(RouteLimits {
            max_upload_bytes: 1024,
        });
        let described: Vec<String> = api.tags.iter().flatten().map(|t| t.name.clone()).collect();
        assert_eq!(
            described.len(),
            DIALECTS.len() + SEEDGATE_TAGS.len(),
            "{described:?}"
        );
        for (path, item) in &api.paths.paths {
            for operation in [&item.get, &item.post, &item.delete].into_iter().flatten() {
                let tag = operation
                    .tags
                    .as_ref()
                    .and_then(|t| t.first())
                    .expect("tagged");
                assert!(described.contains(tag), "{path}: {tag}");
                if !SEEDGATE_TAGS.contains(&tag.as_str()) {
                    assert_eq!(tag, dialect_of_path(path).tag, "{path}");
                }
            }
        }
    }

    /// An error a handler returns ([`common::Fail`]) carries the id of its request, the one in
    /// the `x-request-id` header, though the handler never saw it.
    #[tokio::test]
    async fn a_handler_error_carries_the_request_id() {
        async fn fails() -> common::Reply<reapi::ReApi> {
            Err(GatewayError::NotFound.into())
        }
        let app = Router::new()
            .route("/api/v1/tasks/x", get(fails))
            .layer(axum::middleware::from_fn(common::assign_request_id));
        let response = app
            .oneshot(
                axum::http::Request::get("/api/v1/tasks/x")
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(response.status(), 404);
        let header = response.headers()["x-request-id"]
            .to_str()
            .expect("ASCII")
            .to_string();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(json["error"]["request_id"], header.as_str(), "{json}");
        assert!(header.starts_with("req_"), "{header}");
    }
}

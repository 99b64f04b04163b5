//! `/openapi.json` describes every route of every dialect (it is generated from the handlers
//! that answer them), and `/docs` renders it without any outside resource.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::Value;

/// Every route the dialects serve, as (method, OpenAPI path).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/videos/generations"),
    ("post", "/api/v1/videos/estimate"),
    ("get", "/api/v1/tasks/{id}"),
    ("post", "/api/v1/assets"),
    ("get", "/api/v1/assets/{id}"),
    ("post", "/v1/tasks"),
    ("get", "/v1/tasks"),
    ("get", "/v1/tasks/{id}"),
    ("post", "/api/v1/generateTask/{model}"),
    ("get", "/api/v1/statusTask/{model}"),
    ("post", "/api/v1/client/job/CreateTask"),
    ("get", "/api/v1/client/job/TaskInfo"),
    ("post", "/api/v1/client/job/estimate-credits"),
    ("post", "/api/v1/client/job/asset-upload"),
    ("get", "/api/v1/client/job/asset-info"),
    ("post", "/api/v1/jobs/createTask"),
    ("get", "/api/v1/jobs/recordInfo"),
    ("post", "/api/v3/contents/generations/tasks"),
    ("get", "/api/v3/contents/generations/tasks"),
    ("get", "/api/v3/contents/generations/tasks/{id}"),
    ("delete", "/api/v3/contents/generations/tasks/{id}"),
    ("post", "/v1/videos"),
    ("get", "/v1/videos"),
    ("get", "/v1/videos/{video_id}"),
    ("delete", "/v1/videos/{video_id}"),
    ("get", "/v1/videos/{video_id}/content"),
    ("get", "/api/v1/tasks/{id}/callbacks"),
    ("post", "/api/v1/tasks/{id}/callbacks/redeliver"),
    ("get", "/api/v1/usage"),
];

async fn openapi(app: &crate::helpers::TestApp) -> Value {
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("application/json"));
    r.json().await.expect("json")
}

#[tokio::test]
async fn every_dialect_route_is_described_in_openapi_3_1() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    assert!(
        doc["openapi"].as_str().expect("version").starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in ROUTES {
        let op = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from openapi.json"))[*method];
        assert!(op.is_object(), "{method} {path} missing");
        assert!(
            op["tags"][0].is_string(),
            "{method} {path} has no dialect tag"
        );
        assert!(
            op["responses"]["200"].is_object(),
            "{method} {path} documents no 200 response"
        );
        assert!(
            op["security"].is_array(),
            "{method} {path} documents no authentication"
        );
    }
    // The schemas the paths refer to are all present.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for part in text.split("#/components/schemas/").skip(1) {
        let name = part.split('"').next().expect("name");
        assert!(schemas.contains_key(name), "dangling $ref to {name}");
    }
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    assert!(schemes.contains_key("bearer") && schemes.contains_key("x-api-key"));
}

#[tokio::test]
async fn every_documented_route_answers_in_its_dialect_rather_than_404() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            let url = app.url(
                &path
                    .replace("{id}", "task_missing")
                    .replace("{model}", "seedance-2-0-mini"),
            );
            let request = match method.as_str() {
                "get" => app.client.get(url),
                "post" => app.client.post(url).body("{}"),
                "delete" => app.client.delete(url),
                "patch" => app.client.patch(url).body("{}"),
                other => panic!("unexpected method {other}"),
            };
            // No key: every documented route exists, so the answer is an authentication error
            // (never the router's "no such endpoint").
            let r = request.send().await.expect("request");
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path}: {}",
                r.text().await.unwrap_or_default()
            );
        }
    }
}

#[tokio::test]
async fn the_docs_page_is_self_contained() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/docs"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    let html = r.text().await.expect("html");
    for (method, path) in ROUTES {
        assert!(
            html.contains(&format!("<code>{}</code>", path.replace('&', "&amp;"))),
            "docs page lacks {method} {path}"
        );
    }
    // Nothing is loaded from elsewhere: no scripts at all, no outside stylesheets or fonts.
    assert!(
        !html.contains("<script"),
        "the docs page must not need JavaScript"
    );
    for attr in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(attr), "the docs page loads `{attr}…`");
    }
}

/// seedgate-wire's OpenAI videos types describe exactly what the `openai` dialect documents, so
/// the dialect can parse and render them without its document changing.
#[tokio::test]
async fn the_wire_types_have_the_openai_dialects_schemas() {
    use seedgate_wire::openai as wire;
    use utoipa::PartialSchema;
    fn schema<T: PartialSchema>() -> Value {
        serde_json::to_value(T::schema()).expect("schema")
    }
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    for (name, ours) in [
        ("OpenAiCreateVideo", schema::<wire::OpenAiCreateVideo>()),
        (
            "OpenAiCreateVideoForm",
            schema::<wire::OpenAiCreateVideoForm>(),
        ),
        ("OpenAiVideo", schema::<wire::OpenAiVideo>()),
        ("OpenAiVideoError", schema::<wire::OpenAiVideoError>()),
        ("OpenAiVideoList", schema::<wire::OpenAiVideoList>()),
        ("OpenAiVideoDeleted", schema::<wire::OpenAiVideoDeleted>()),
        ("OpenAiErrorEnvelope", schema::<wire::OpenAiErrorEnvelope>()),
        ("OpenAiErrorBody", schema::<wire::OpenAiErrorBody>()),
    ] {
        assert_eq!(doc["components"]["schemas"][name], ours, "{name}");
    }
}

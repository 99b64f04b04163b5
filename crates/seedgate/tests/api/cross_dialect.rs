//! One task, seven dialects: a task created through any dialect reads back through every other
//! dialect of the same API key, with the same state and the same result, and through none of
//! another key's.

use crate::helpers::{spawn_app, TestApp};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PROMPT: &str = "a paper boat drifting down a rain gutter";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dialect {
    ReApi,
    HiApi,
    Apixo,
    Crun,
    Kie,
    Ark,
    OpenAi,
}

const ALL: [Dialect; 7] = [
    Dialect::ReApi,
    Dialect::HiApi,
    Dialect::Apixo,
    Dialect::Crun,
    Dialect::Kie,
    Dialect::Ark,
    Dialect::OpenAi,
];

/// What every dialect says about a task, in canonical terms.
#[derive(Debug, PartialEq)]
struct View {
    finished: bool,
    succeeded: bool,
    /// The result URL, for dialects that hand one out.
    video_url: Option<String>,
}

fn auth(dialect: Dialect, request: RequestBuilder, key: &str) -> RequestBuilder {
    match dialect {
        Dialect::Crun => request.header("x-api-key", key),
        _ => request.bearer_auth(key),
    }
}

async fn create(app: &TestApp, dialect: Dialect) -> String {
    let (path, body) = match dialect {
        Dialect::ReApi => (
            "/api/v1/videos/generations",
            json!({"model": "seedance-2.0-mini", "prompt": PROMPT, "resolution": "480p", "duration": 4}),
        ),
        Dialect::HiApi => (
            "/v1/tasks",
            json!({"model": "seedance-2.0-mini", "input": {"prompt": PROMPT, "resolution": "480p", "duration": 4}}),
        ),
        Dialect::Apixo => (
            "/api/v1/generateTask/seedance-2-0-mini",
            json!({"request_type": "async", "input": {"mode": "text-to-video", "prompt": PROMPT, "resolution": "480p", "duration": 4}}),
        ),
        Dialect::Crun => (
            "/api/v1/client/job/CreateTask",
            json!({"model": "bytedance/seedance2-0-mini-t2v", "input": {"prompt": PROMPT, "resolution": "480p", "duration": 4}}),
        ),
        Dialect::Kie => (
            "/api/v1/jobs/createTask",
            json!({"model": "bytedance/seedance-2-mini", "input": {"prompt": PROMPT, "resolution": "480p", "duration": 4}}),
        ),
        Dialect::Ark => (
            "/api/v3/contents/generations/tasks",
            json!({"model": "dreamina-seedance-2-0-mini-260615", "content": [{"type": "text", "text": PROMPT}], "resolution": "480p", "duration": 4}),
        ),
        Dialect::OpenAi => (
            "/v1/videos",
            json!({"model": "seedance-2.0-mini", "prompt": PROMPT, "seconds": "4", "size": "864x496"}),
        ),
    };
    let r = auth(dialect, app.client.post(app.url(path)), &app.key)
        .json(&body)
        .send()
        .await
        .expect("create");
    let status = r.status();
    let json: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{dialect:?} create: {json}");
    let id = match dialect {
        Dialect::ReApi | Dialect::Ark | Dialect::OpenAi => &json["id"],
        Dialect::HiApi | Dialect::Apixo | Dialect::Kie => &json["data"]["taskId"],
        Dialect::Crun => &json["data"]["task_id"],
    };
    id.as_str()
        .unwrap_or_else(|| panic!("{dialect:?} create gave no id: {json}"))
        .to_string()
}

fn read_path(dialect: Dialect, id: &str) -> String {
    match dialect {
        Dialect::ReApi => format!("/api/v1/tasks/{id}"),
        Dialect::HiApi => format!("/v1/tasks/{id}"),
        Dialect::Apixo => format!("/api/v1/statusTask/seedance-2-0-mini?taskId={id}"),
        Dialect::Crun => format!("/api/v1/client/job/TaskInfo?task_id={id}"),
        Dialect::Kie => format!("/api/v1/jobs/recordInfo?taskId={id}"),
        Dialect::Ark => format!("/api/v3/contents/generations/tasks/{id}"),
        Dialect::OpenAi => format!("/v1/videos/{id}"),
    }
}

fn result_urls(json_string: &Value) -> Option<String> {
    let inner: Value = serde_json::from_str(json_string.as_str()?).ok()?;
    inner["resultUrls"][0].as_str().map(str::to_string)
}

/// Reads a task through a dialect; `None` when the dialect says it does not exist.
async fn read(app: &TestApp, dialect: Dialect, key: &str, id: &str) -> Option<View> {
    let r = auth(
        dialect,
        app.client.get(app.url(&read_path(dialect, id))),
        key,
    )
    .send()
    .await
    .expect("read");
    if r.status() == StatusCode::NOT_FOUND {
        return None;
    }
    let status = r.status();
    let json: Value = r.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{dialect:?} read: {json}");
    let (state, url) = match dialect {
        Dialect::ReApi => (
            json["status"].clone(),
            json["output"]["video_urls"][0].as_str().map(str::to_string),
        ),
        Dialect::HiApi => (
            json["data"]["status"].clone(),
            json["data"]["output"][0]["url"]
                .as_str()
                .map(str::to_string),
        ),
        Dialect::Apixo | Dialect::Kie => (
            json["data"]["state"].clone(),
            result_urls(&json["data"]["resultJson"]),
        ),
        Dialect::Crun => (
            json["data"]["status"].clone(),
            json["data"]["result"]["media_urls"][0]
                .as_str()
                .map(str::to_string),
        ),
        Dialect::Ark => (
            json["status"].clone(),
            json["content"]["video_url"].as_str().map(str::to_string),
        ),
        Dialect::OpenAi => (json["status"].clone(), None),
    };
    let state = state
        .as_str()
        .unwrap_or_else(|| panic!("{dialect:?} gave no state: {json}"))
        .to_string();
    let succeeded = matches!(state.as_str(), "completed" | "success" | "succeeded");
    let failed = matches!(state.as_str(), "failed" | "fail");
    Some(View {
        finished: succeeded || failed,
        succeeded,
        video_url: url,
    })
}

async fn wait(app: &TestApp, dialect: Dialect, id: &str) -> View {
    let start = Instant::now();
    loop {
        let view = read(app, dialect, &app.key, id)
            .await
            .unwrap_or_else(|| panic!("{dialect:?} lost task {id}"));
        if view.finished {
            return view;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{id} never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_task_from_any_dialect_reads_back_in_all_seven() {
    let app = spawn_app().await;
    let stranger = app.create_key("stranger", 1_000).await;
    let mut ids = Vec::new();
    for origin in ALL {
        ids.push((origin, create(&app, origin).await));
    }
    for (origin, id) in &ids {
        let done = wait(&app, *origin, id).await;
        assert!(done.succeeded, "{origin:?} task {id} did not succeed");
        let mut urls = Vec::new();
        for reader in ALL {
            let view = read(&app, reader, &app.key, id)
                .await
                .unwrap_or_else(|| panic!("{origin:?} task {id} not found through {reader:?}"));
            assert!(
                view.finished && view.succeeded,
                "{origin:?} task {id} through {reader:?}: {view:?}"
            );
            urls.extend(view.video_url);
            // Another key's reader sees nothing, in every dialect.
            assert!(
                read(&app, reader, &stranger, id).await.is_none(),
                "{reader:?} showed {origin:?} task {id} to another key"
            );
        }
        // Six dialects hand out a URL; all of them the same file.
        assert_eq!(urls.len(), 6, "{origin:?}: {urls:?}");
        assert!(urls.windows(2).all(|w| w[0] == w[1]), "{urls:?}");
        // The OpenAI dialect serves the same bytes as its content.
        let via_url = app.client.get(&urls[0]).send().await.expect("download");
        let via_url = via_url.bytes().await.expect("bytes");
        let content = app
            .client
            .get(app.url(&format!("/v1/videos/{id}/content")))
            .bearer_auth(&app.key)
            .send()
            .await
            .expect("content");
        assert_eq!(content.status(), StatusCode::OK);
        assert_eq!(content.bytes().await.expect("bytes"), via_url);
    }
    // Seven tasks, each charged once at the 480p rate: 4 s × $0.0475 = 190 credits.
    assert_eq!(app.balance_of(&app.key).await, 100_000 - 7 * 190);
}

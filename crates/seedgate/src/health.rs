//! `/healthz` (the process is alive) and `/readyz` (it can serve: the database and the object
//! storage both answer). Load balancers route on the second; orchestrators restart on the first.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use seedgate_blobs::BlobStore;
use seedgate_store::Store;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct Dependencies {
    store: Arc<dyn Store>,
    blobs: BlobStore,
}

pub fn routes(store: Arc<dyn Store>, blobs: BlobStore) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(ready))
        .with_state(Dependencies { store, blobs })
}

async fn ready(State(deps): State<Dependencies>) -> impl IntoResponse {
    // Each check gets a deadline: a hung dependency makes the replica unready, not the probe.
    let limit = Duration::from_secs(3);
    let database = match tokio::time::timeout(limit, deps.store.count_api_keys()).await {
        Ok(Ok(_)) => "ok".to_string(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: timed out".to_string(),
    };
    let storage = match tokio::time::timeout(limit, deps.blobs.ping()).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: timed out".to_string(),
    };
    let ready = database == "ok" && storage == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "unavailable" },
            "database": database,
            "storage": storage,
        })),
    )
}

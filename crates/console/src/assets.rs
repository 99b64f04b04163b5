//! The console's stylesheet and scripts, hand-written and compiled into the binary: nothing is
//! fetched at build time or by the browser from anywhere but this server. Their URLs carry a
//! hash of their bytes, so they can be cached for a year and still change with each release.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("static/console.css"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("static/console.js"),
    },
    Asset {
        name: "playground.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("static/playground.js"),
    },
];

fn versions() -> &'static Vec<(&'static str, String)> {
    static VERSIONS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    VERSIONS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = hex::encode(Sha256::digest(a.body.as_bytes()));
                (a.name, digest.chars().take(12).collect())
            })
            .collect()
    })
}

/// The URL of an asset, with its version.
pub fn url(name: &str) -> String {
    let version = versions()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("0");
    format!("/console/static/{name}?v={version}")
}

/// `GET /console/static/{name}`.
pub async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

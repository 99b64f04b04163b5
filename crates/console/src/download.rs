//! Files the console hands out to save.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use seedgate_service::usage::{UsageFormat, UsageReport};

/// A usage report as a CSV attachment named `filename`, written while its rows stream out of
/// the database. A read that fails mid-way cuts the download short (logged), never completes it
/// silently.
pub fn usage_csv(report: UsageReport, filename: &str) -> Response {
    let body = report.into_body(UsageFormat::Csv).map(|chunk| {
        chunk.map_err(|e| {
            tracing::error!(error = %e, "console usage CSV: reading the ledger failed mid-stream");
            std::io::Error::other(e.to_string())
        })
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

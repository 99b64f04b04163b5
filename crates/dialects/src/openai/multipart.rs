//! Reading a create request, multipart/form-data (what the SDK sends) or JSON, into one
//! [`CreateInput`].

use crate::common;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, HeaderMap, StatusCode};
use bytes::Bytes;
use seedgate_core::error::ValidationError;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::errors::{ErrorParts, Failure};
use super::wire::OpenAiCreateVideo;

/// A create request, whichever encoding it came in.
#[derive(Debug)]
pub struct CreateInput {
    pub wire: OpenAiCreateVideo,
    pub file: Option<Bytes>,
    /// What the Idempotency-Key fingerprint is computed over.
    pub fingerprint: Value,
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

fn too_large(param: &str) -> Failure {
    Failure::Own(
        ErrorParts::request(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            "the request body is larger than this endpoint accepts",
        )
        .param(param),
    )
}

/// Reads a create request, multipart or JSON.
pub async fn read_create(request: Request) -> Result<CreateInput, Failure> {
    if is_multipart(request.headers()) {
        return read_multipart(request).await;
    }
    let body = Bytes::from_request(request, &()).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large("body")
        } else {
            ValidationError::invalid("body", &e.body_text()).into()
        }
    })?;
    let (wire, json): (OpenAiCreateVideo, Value) = common::parse_json_keeping(&body)?;
    Ok(CreateInput {
        wire,
        file: None,
        fingerprint: json,
    })
}

async fn read_multipart(request: Request) -> Result<CreateInput, Failure> {
    let bad = |field: &str, reason: String| -> Failure {
        ValidationError::invalid(field, &reason).into()
    };
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| bad("body", e.body_text()))?;
    let mut fields = Map::new();
    let mut nested = Map::new();
    let mut file: Option<Bytes> = None;
    let duplicate = |name: &str| -> Failure {
        ValidationError::invalid(name, "is given more than once").into()
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large("input_reference"))
            }
            Err(e) => return Err(bad("body", e.body_text())),
        };
        let name = field.name().unwrap_or_default().to_string();
        let is_file = field.file_name().is_some()
            || field
                .content_type()
                .is_some_and(|ct| !ct.to_ascii_lowercase().starts_with("text/"));
        let read_error = |e: axum::extract::multipart::MultipartError| -> Failure {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large("input_reference")
            } else {
                ValidationError::invalid("input_reference", &e.body_text()).into()
            }
        };
        let nested_key = name
            .strip_prefix("input_reference[")
            .and_then(|k| k.strip_suffix(']'))
            .or_else(|| name.strip_prefix("input_reference."));
        if name == "input_reference" && is_file {
            let bytes = field.bytes().await.map_err(read_error)?;
            if file.replace(bytes).is_some() || fields.contains_key(&name) {
                return Err(duplicate(&name));
            }
        } else if let Some(key) = nested_key {
            let key = key.to_string();
            let text = field.text().await.map_err(read_error)?;
            if nested.insert(key, Value::String(text)).is_some() {
                return Err(duplicate(&name));
            }
        } else if ["prompt", "model", "seconds", "size", "input_reference"].contains(&name.as_str())
        {
            let text = field.text().await.map_err(|e| bad(&name, e.body_text()))?;
            if fields.insert(name.clone(), Value::String(text)).is_some()
                || (name == "input_reference" && file.is_some())
            {
                return Err(duplicate(&name));
            }
        } else {
            return Err(ValidationError::UnknownField { field: name.into() }.into());
        }
    }
    if !nested.is_empty() {
        if fields.contains_key("input_reference") || file.is_some() {
            return Err(duplicate("input_reference"));
        }
        fields.insert("input_reference".into(), Value::Object(nested));
    }
    let wire: OpenAiCreateVideo = common::parse_value(Value::Object(fields.clone()))?;
    let mut fingerprint = fields;
    if let Some(bytes) = &file {
        fingerprint.insert(
            "input_reference".into(),
            serde_json::json!({ "sha256": hex::encode(Sha256::digest(bytes)) }),
        );
    }
    Ok(CreateInput {
        wire,
        file,
        fingerprint: Value::Object(fingerprint),
    })
}

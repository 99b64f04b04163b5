//! CRUN (crun.ai): `POST /api/v1/client/job/CreateTask`, `GET /api/v1/client/job/TaskInfo?task_id=`,
//! `POST /api/v1/client/job/estimate-credits`, `POST /api/v1/client/job/asset-upload`,
//! `GET /api/v1/client/job/asset-info?asset_id=`. Auth: the `x-api-key` header (any case).
//!
//! Envelope: `{"code":200,"message":"success","data":{…}}` (snake_case `task_id`). Errors carry
//! the same code in the HTTP status and in the body, `{"code":N,"message":"…","data":null}`:
//!
//! | code | when |
//! |---|---|
//! | 401 | `x-api-key` missing, unknown or revoked |
//! | 402 | not enough credits |
//! | 404 | unknown task or asset, unknown endpoint (also a wrong method: CRUN has no 405) |
//! | 422 | validation: the body, a field, a reference medium, an unknown model name, an Idempotency-Key reused with another body, the asset storage quota |
//! | 429 | rate limited; also an Idempotency-Key still in use by a request in flight |
//! | 455 | service unavailable (database or storage down) |
//! | 500 | internal error |
//! | 501 | "Generation Failed": only as `result.code` of a failed task in TaskInfo |
//! | 505 | "Feature Disabled": a model CRUN names that this gateway does not serve (2.0, 2.0 fast, 1.5 pro, 1.0 pro, and 2.5 while it is not available) |
//!
//! The model name fixes the mode: `bytedance/seedance2-0-mini-t2v` (prompt only),
//! `…-i2v` (`img_urls`: first frame, optional last frame; `aspect_ratio` defaults to `auto`, the
//! frame's shape), `…-r2v` (`reference_images`, `reference_videos`, `reference_audios`; at least
//! one image or video). `aspect_ratio: "auto"` is canonical `adaptive` in every mode. Other
//! defaults are the catalog's (720p, 16:9, 5 s, no audio). `asset://<AssetId>` references are
//! resolved by the gateway to the caller's own assets.
//!
//! Expired media (retention): CRUN's `result` is `{code?, message?, media_urls}`
//! (upstream-contracts §3.4) and has no expiry field, so such a task stays `success` with
//! `result: {"message":"media expired at <time> …","media_urls":[]}` (no `code`: 501 is a
//! failure).
//!
//! Credits are seedgate credits (1 credit = $0.001), both in `estimate-credits` and in a task's
//! `credits`, not CRUN's own unit.

mod convert;
mod errors;
mod routes;
mod wire;

#[cfg(test)]
mod round_trip;

// One public surface per dialect (`seedgate_dialects::crun::…`), whichever file defines
// the item.
pub use convert::*;
pub use errors::*;
pub use routes::*;
pub use wire::*;

use crate::common::Dialect;
use axum::http::HeaderMap;
use axum::response::Response;
use seedgate_core::error::{AuthFailure, GatewayError};
use seedgate_core::RequestId;

pub struct Crun;

/// This dialect in the registry ([`crate::DIALECTS`]).
pub const DIALECT: crate::DialectEntry = crate::DialectEntry {
    name: Crun::NAME,
    path_prefixes: &["/api/v1/client/"],
    tag: "CRUN",
    tag_description: "crun.ai: `/api/v1/client/job/*`, `x-api-key` auth",
    routes,
    error_response: <Crun as Dialect>::error_response,
    error_schema: "CrunErrorEnvelope",
    callback_body: Some(|task, _| crate::callbacks::json(&task_info(task))),
    hiapi_signature: false,
};

impl Dialect for Crun {
    const NAME: &'static str = "crun";

    /// `x-api-key: <key>` (header names are case-insensitive).
    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        let value = headers.get("x-api-key").ok_or(AuthFailure::Missing)?;
        let key = value.to_str().map_err(|_| AuthFailure::Invalid)?.trim();
        if key.is_empty() {
            return Err(AuthFailure::Missing);
        }
        Ok(key.to_string())
    }

    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
        errors::error_response(error, request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;
    use seedgate_core::error::AuthFailure;

    #[test]
    fn credential_is_the_x_api_key_header() {
        let mut h = HeaderMap::new();
        assert_eq!(Crun::credential(&h), Err(AuthFailure::Missing));
        h.insert(
            "authorization",
            axum::http::HeaderValue::from_static("Bearer sg_live_a"),
        );
        assert_eq!(Crun::credential(&h), Err(AuthFailure::Missing));
        h.insert(
            "X-API-KEY",
            axum::http::HeaderValue::from_static(" sg_live_a "),
        );
        assert_eq!(Crun::credential(&h), Ok("sg_live_a".into()));
    }
}

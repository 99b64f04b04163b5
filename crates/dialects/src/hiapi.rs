//! PLACEHOLDER: being written. Replace this whole file.

use crate::common::{self, Dialect};
use crate::{AppState, RouteLimits};
use axum::http::HeaderMap;
use axum::response::Response;
use seedgate_core::error::{AuthFailure, GatewayError};
use seedgate_core::RequestId;
use utoipa_axum::router::OpenApiRouter;

pub struct HiApi;

impl Dialect for HiApi {
    const NAME: &'static str = "hiapi";

    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
        common::bearer_credential(headers)
    }

    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response {
        crate::reapi::ReApi::error_response(error, request_id)
    }
}

pub fn routes(_limits: RouteLimits) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

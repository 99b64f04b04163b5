//! What every dialect shares: the [`Dialect`] trait, request ids, credentials, the caller as an
//! extractor ([`Auth`]), errors that render themselves in a dialect's envelope ([`Fail`],
//! [`Reply`]), Idempotency-Key handling, typed field extraction from JSON objects, and the
//! generic submit path.

use crate::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use seedgate_core::error::{AuthFailure, GatewayError, ValidationError};
use seedgate_core::{RequestDraft, RequestId, Task};
use seedgate_service::{
    client_address, GenerationService, IdempotencyRequest, Principal, RateReport, SubmitContext,
    SubmitOutcome,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::marker::PhantomData;

/// A client-facing wire format.
pub trait Dialect: Send + Sync + 'static {
    /// Recorded on tasks created through this dialect.
    const NAME: &'static str;

    /// The API key the client presented, or why there is none.
    fn credential(headers: &HeaderMap) -> Result<String, AuthFailure>;

    /// An error in this dialect's envelope, codes and HTTP statuses.
    fn error_response(error: &GatewayError, request_id: &RequestId) -> Response;
}

/// What the current request carries beside its handler: its id, and the rates its caller is
/// held to (set by [`Auth`], completed by a submit), both written onto the answer.
struct RequestScope {
    id: RequestId,
    rates: std::sync::Mutex<Option<RateReport>>,
}

tokio::task_local! {
    /// The request being handled, for errors rendered where no extension is at hand ([`Fail`],
    /// an extractor's rejection) and for the rate headers of whatever answer it gets.
    static REQUEST: RequestScope;
}

/// Tags every request with a `req_…` id, available to handlers as an extension (and, for the
/// rest of the request, through [`request_id`]) and returned in the `x-request-id` header;
/// writes the `RateLimit-Policy` and `RateLimit` headers on every answer to a caller held to
/// a rate, the refusals included.
pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = RequestId::generate();
    // The request's span (declared with an empty `request_id` by the app's trace layer) carries
    // it, so every log line and exported span of the request names it.
    tracing::Span::current().record("request_id", id.as_str());
    request.extensions_mut().insert(id.clone());
    let scope = RequestScope {
        id: id.clone(),
        rates: std::sync::Mutex::new(None),
    };
    let (mut response, rates) = REQUEST
        .scope(scope, async move {
            let response = next.run(request).await;
            let rates = REQUEST.with(|s| s.rates.lock().map(|mut r| r.take()).unwrap_or(None));
            (response, rates)
        })
        .await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert("x-request-id", value);
    }
    if let Some(rates) = rates {
        for (name, value) in [
            ("ratelimit-policy", rates.policy_header()),
            ("ratelimit", rates.state_header()),
        ] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(name, v);
            }
        }
    }
    response
}

/// The id [`assign_request_id`] gave the current request; a fresh one outside of it (a handler
/// called without that middleware, as in some tests), so an error always carries an id.
pub fn request_id() -> RequestId {
    REQUEST
        .try_with(|s| s.id.clone())
        .unwrap_or_else(|_| RequestId::generate())
}

/// Changes the rates reported on the current request's answer.
fn with_rates(change: impl FnOnce(&mut Option<RateReport>)) {
    let _ = REQUEST.try_with(|s| {
        if let Ok(mut rates) = s.rates.lock() {
            change(&mut rates);
        }
    });
}

/// `Authorization: Bearer <key>`, the scheme matched case-insensitively.
pub fn bearer_credential(headers: &HeaderMap) -> Result<String, AuthFailure> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthFailure::Missing)?;
    let value = value.to_str().map_err(|_| AuthFailure::NotBearer)?.trim();
    if value.is_empty() {
        return Err(AuthFailure::Missing);
    }
    let (scheme, key) = value.split_once(' ').ok_or(AuthFailure::NotBearer)?;
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(AuthFailure::NotBearer);
    }
    Ok(key.to_string())
}

/// The authenticated caller of a dialect's route. As an extractor it reads the dialect's
/// credential and checks it with the gateway, rejecting in the dialect's envelope; handlers take
/// it before their body so a bad key is reported as such whatever the body (their body
/// extractors are `Result<…, …Rejection>`, which never reject). The second field only names the
/// dialect (`fn() -> D` so that `Auth` is `Send` and `Sync` whatever `D`); match it with `_`.
pub struct Auth<D>(pub Principal, pub PhantomData<fn() -> D>);

impl<D: Dialect> FromRequestParts<AppState> for Auth<D> {
    type Rejection = Fail<D>;

    async fn from_request_parts(parts: &mut Parts, service: &AppState) -> Result<Self, Fail<D>> {
        let key = D::credential(&parts.headers).map_err(GatewayError::Unauthenticated)?;
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client = client_address(peer, &forwarded, service.trusted_proxies());
        match service.authenticate(&key, client).await {
            Ok((principal, rates)) => {
                with_rates(|r| *r = Some(rates));
                Ok(Auth(principal, PhantomData))
            }
            Err(error) => {
                // A refused request of a limited key still says which rates it is held to.
                if let GatewayError::Limited { refusal, .. } = &error {
                    if let Ok(principal) = service.peek_principal(&key).await {
                        let mut rates = RateReport::of(&principal);
                        rates.refused(refusal);
                        with_rates(|r| *r = Some(rates));
                    }
                }
                Err(error.into())
            }
        }
    }
}

/// A failed request in dialect `D`: renders itself in `D`'s envelope, with the request's id (from
/// [`request_id`]), so a handler needs neither. Built with `?` or `.into()` from a
/// [`GatewayError`] or a [`ValidationError`].
pub struct Fail<D>(pub GatewayError, pub PhantomData<fn() -> D>);

/// What a dialect's handler answers: a response, or an error in the dialect's envelope.
pub type Reply<D> = Result<Response, Fail<D>>;

impl<D> From<GatewayError> for Fail<D> {
    fn from(error: GatewayError) -> Self {
        Fail(error, PhantomData)
    }
}

impl<D> From<ValidationError> for Fail<D> {
    fn from(error: ValidationError) -> Self {
        Fail(error.into(), PhantomData)
    }
}

impl<D: Dialect> IntoResponse for Fail<D> {
    fn into_response(self) -> Response {
        let Fail(error, _) = self;
        let request_id = request_id();
        // Client errors are the client's to read; these are ours to look into.
        if matches!(
            error,
            GatewayError::Internal(_) | GatewayError::Unavailable(_)
        ) {
            tracing::error!(error = %error, request_id = %request_id, "request failed");
        }
        D::error_response(&error, &request_id)
    }
}

/// The `Idempotency-Key` header: an RFC 8941 sf-string (quoted) per the IETF draft, or a bare
/// token as most clients send it; 1–255 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, GatewayError> {
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(GatewayError::IdempotencyKeyInvalid(
            "send at most one Idempotency-Key header".into(),
        ));
    }
    let raw = value
        .to_str()
        .map_err(|_| GatewayError::IdempotencyKeyInvalid("must be visible ASCII".into()))?
        .trim();
    let key = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(GatewayError::IdempotencyKeyInvalid(
            "must be 1 to 255 visible ASCII characters".into(),
        ));
    }
    Ok(Some(key.to_string()))
}

/// A body extractor's rejection: what every dialect needs to know of it.
pub trait BodyRejection {
    fn status(&self) -> StatusCode;
    fn body_text(&self) -> String;
}

macro_rules! body_rejection {
    ($($t:ty),*) => {$(
        impl BodyRejection for $t {
            fn status(&self) -> StatusCode {
                <$t>::status(self)
            }
            fn body_text(&self) -> String {
                <$t>::body_text(self)
            }
        }
    )*};
}

body_rejection!(
    axum::extract::rejection::BytesRejection,
    axum::extract::multipart::MultipartRejection,
    axum::extract::multipart::MultipartError
);

/// A body that could not be read: over the size limit is [`GatewayError::PayloadTooLarge`]
/// (413 in every dialect's envelope), anything else is `field`'s fault.
pub fn unreadable_body(field: &str, rejection: impl BodyRejection) -> GatewayError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        GatewayError::PayloadTooLarge
    } else {
        ValidationError::invalid(field, &rejection.body_text()).into()
    }
}

/// A fingerprint of a request for Idempotency-Key comparison: the route and the JSON body in
/// canonical form (keys sorted, whitespace dropped), so formatting differences do not count.
pub fn fingerprint(route: &str, body: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update([0]);
    hasher.update(body.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// A JSON response with exact bytes (used for stored, replayable responses).
pub fn json_bytes_response(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Serialises a value as a stored response. Serialising our own wire structs cannot fail; if it
/// ever did, the client gets a 500 rather than a panic.
pub fn stored_json<T: serde::Serialize>(
    status: u16,
    value: &T,
) -> seedgate_core::records::StoredResponse {
    match serde_json::to_vec(value) {
        Ok(body) => seedgate_core::records::StoredResponse { status, body },
        Err(e) => seedgate_core::records::StoredResponse {
            status: 500,
            body: format!("{{\"error\":\"{e}\"}}").into_bytes(),
        },
    }
}

/// Whether the client marked the request as an automatic retry: Stainless-generated SDKs (the
/// official openai SDKs among them) send `x-stainless-retry-count`, 0 on the first try.
pub fn marked_retry(headers: &HeaderMap) -> bool {
    headers
        .get("x-stainless-retry-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u32>().ok())
        .is_some_and(|n| n > 0)
}

/// The generic submit path for an authenticated caller: read the Idempotency-Key, hand the
/// draft to the gateway, and answer with the dialect's response (fresh or replayed).
pub async fn submit<D: Dialect>(
    service: &GenerationService,
    principal: &Principal,
    headers: &HeaderMap,
    route: &str,
    body: &Value,
    draft: RequestDraft,
    render: &(dyn Fn(&Task) -> seedgate_core::records::StoredResponse + Sync),
) -> Result<Response, GatewayError> {
    let idempotency = idempotency_key(headers)?.map(|key| IdempotencyRequest {
        key,
        fingerprint: fingerprint(route, body),
    });
    let ctx = SubmitContext {
        principal,
        dialect: D::NAME,
        marked_retry: marked_retry(headers),
        idempotency,
        render,
    };
    let outcome = service.submit(ctx, draft).await;
    if let Err(GatewayError::Limited { refusal, .. }) = &outcome {
        with_rates(|r| {
            if let Some(r) = r {
                r.refused(refusal)
            }
        });
    }
    let response = match outcome? {
        SubmitOutcome::Created {
            response,
            admission,
            ..
        } => {
            with_rates(|r| {
                if let Some(r) = r {
                    for (scope, _, state) in &admission.submit_rates {
                        r.set(*scope, "submits", *state);
                    }
                }
            });
            response
        }
        SubmitOutcome::Replayed(response) => {
            let mut r = json_bytes_response(response.status, response.body);
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(r);
        }
    };
    Ok(json_bytes_response(response.status, response.body))
}

/// Parses a body that must be a JSON object into a dialect's wire struct. Errors name the
/// offending field by its path in the body (`input.duration`, `image_urls[1]`): a type error is
/// `Invalid`, an unknown field `UnknownField`, a missing required one `Missing`.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ValidationError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => parse_value(value),
        _ => Err(ValidationError::NotAnObject),
    }
}

/// [`parse_json`], also returning the body as parsed JSON (what an Idempotency-Key
/// fingerprint is taken over).
pub fn parse_json_keeping<T: DeserializeOwned>(body: &[u8]) -> Result<(T, Value), ValidationError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(json @ Value::Object(_)) => Ok((parse_value(json.clone())?, json)),
        _ => Err(ValidationError::NotAnObject),
    }
}

/// [`parse_json`] for an already-parsed value.
pub fn parse_value<T: DeserializeOwned>(value: Value) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let parent = if path == "." { String::new() } else { path };
        let message = e.inner().to_string();
        let join = |name: &str| {
            if parent.is_empty() {
                name.to_string()
            } else {
                format!("{parent}.{name}")
            }
        };
        // serde's messages name the field between backticks: "unknown field `x`, expected …",
        // "missing field `x`".
        let quoted = message.split('`').nth(1).unwrap_or_default();
        if message.starts_with("unknown field") {
            // The path already ends with the unknown key.
            let field = if parent.is_empty() || !parent.ends_with(quoted) {
                join(quoted)
            } else {
                parent
            };
            ValidationError::UnknownField {
                field: field.into(),
            }
        } else if message.starts_with("missing field") {
            ValidationError::missing(join(quoted))
        } else {
            let field = if parent.is_empty() {
                "body".to_string()
            } else {
                parent
            };
            ValidationError::invalid(&field, &message)
        }
    })
}

/// Lenient deserializers for wire fields (in the wire crate, shared with the upstream side).
pub use seedgate_wire::de;

/// Unix seconds from milliseconds.
pub fn unix_seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// Adds `Retry-After` (whole seconds, at least 1) to a rate-limit error's response.
pub fn with_retry_after(response: &mut Response, error: &GatewayError) {
    if let Some(retry_after) = error.retry_after() {
        // Whole seconds, rounded up: a client that waits exactly this long is let through.
        let seconds = retry_after.as_millis().div_ceil(1000).max(1);
        if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert("retry-after", v);
        }
    }
}

/// A plain JSON response.
pub fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    (status, axum::Json(value)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_credential(&h), Err(AuthFailure::Missing));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_credential(&h), Err(AuthFailure::NotBearer));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("sg_live_abc"),
        );
        assert_eq!(bearer_credential(&h), Err(AuthFailure::NotBearer));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer   sg_live_abc "),
        );
        assert_eq!(bearer_credential(&h), Ok("sg_live_abc".to_string()));
    }

    #[test]
    fn idempotency_key_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(idempotency_key(&h), Ok(None));
        h.insert(
            "idempotency-key",
            HeaderValue::from_static("\"8e03978e-40d5\""),
        );
        assert_eq!(idempotency_key(&h), Ok(Some("8e03978e-40d5".into())));
        h.insert("idempotency-key", HeaderValue::from_static("plain-key"));
        assert_eq!(idempotency_key(&h), Ok(Some("plain-key".into())));
        h.insert("idempotency-key", HeaderValue::from_static("\"\""));
        assert!(idempotency_key(&h).is_err());
    }

    #[test]
    fn fingerprint_ignores_formatting_but_not_content() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":[1,2]}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{ "b": [1, 2], "a": 1 }"#).expect("json");
        let c: Value = serde_json::from_str(r#"{"a":2,"b":[1,2]}"#).expect("json");
        assert_eq!(fingerprint("r", &a), fingerprint("r", &b));
        assert_ne!(fingerprint("r", &a), fingerprint("r", &c));
        assert_ne!(fingerprint("r", &a), fingerprint("s", &a));
    }
}

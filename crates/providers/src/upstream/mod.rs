//! Providers that forward jobs to a remote Seedance API: the official Ark / ModelArk API or a
//! reseller. Each wire dialect is one file implementing [`UpstreamApi`], a pure translation
//! between the canonical request and that API's HTTP calls and bodies; [`UpstreamProvider`]
//! does the HTTP for all of them: auth, timeouts, and sorting failures into what may be retried
//! elsewhere, what may not, and what must be reconciled first.
//!
//! Adding a kind is one file here and one line in the registry ([`UpstreamKind`]).

pub mod apixo;
pub mod ark;
pub mod crun;
pub mod hiapi;
pub mod kie;
pub mod openai;
pub mod reapi;
mod wire;

use crate::{
    Artifact, ArtifactBody, Artifacts, CheckReport, ErrorClass, Job, Progress, Provider,
    ProviderError, Secret,
};
use async_trait::async_trait;
use seedgate_core::task::FailureKind;
use seedgate_core::{GenerationRequest, Inexpressible};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// One HTTP request to an upstream, relative to the account's base URL.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCall {
    pub method: reqwest::Method,
    /// Starts with `/`; appended to the base URL.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl HttpCall {
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: reqwest::Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: reqwest::Method::POST,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
        }
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self {
            method: reqwest::Method::DELETE,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_string(), value.into()));
        self
    }
}

/// Where an upstream job stands, in one vocabulary for every dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamState {
    Queued,
    Running,
    /// Each location is an absolute URL (a CDN link, fetched as it is, without credentials) or
    /// a path starting with `/` on the account's own API (the OpenAI-style
    /// `/v1/videos/{id}/content`), fetched at the account's base URL with its key.
    Succeeded {
        video_url: String,
        last_frame_url: Option<String>,
    },
    Failed {
        kind: FailureKind,
        message: String,
    },
    /// Cancelled upstream (by the account's owner, or by us). Terminal.
    Cancelled,
    /// Ran past the upstream's own execution window. Terminal.
    Expired,
}

/// How an upstream wants its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `x-api-key: <key>` (CRUN).
    ApiKeyHeader,
}

/// What a create call needs besides the request.
#[derive(Debug, Clone, Copy)]
pub struct CreateContext<'a> {
    pub request: &'a GenerationRequest,
    /// The upstream's own model id for the canonical model (from the account's `models` map).
    pub model_id: &'a str,
    /// The per-task seedgate URL the upstream should call back, if any.
    pub callback_url: Option<&'a str>,
}

/// An upstream's error, read from a response that was not a success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamFault {
    /// The upstream's own code (`InvalidParameter`, `40001`, ...), if the body had one.
    pub code: Option<String>,
    /// Its message, if any.
    pub message: Option<String>,
    /// Set when the body tells more than the HTTP status (e.g. a moderation code under a 400).
    pub kind: Option<FailureKind>,
    /// For dialects that answer HTTP 200 with an error envelope: the status the envelope's code
    /// stands for, classified as if it were the HTTP status.
    pub status: Option<u16>,
}

/// One upstream wire dialect: pure translation, no I/O.
pub trait UpstreamApi: Send + Sync + 'static {
    fn auth(&self) -> AuthStyle {
        AuthStyle::Bearer
    }

    /// What of the request this dialect cannot express, if anything: asked at submit (before
    /// money moves) and by routing (to pick an account that can), and again before `create`.
    fn inexpressible(&self, _request: &GenerationRequest) -> Option<Inexpressible> {
        None
    }

    /// The create call for a request [`Self::inexpressible`] let through. An error means it
    /// still cannot be sent (permanent, `InvalidInput`).
    fn create(&self, cx: &CreateContext<'_>) -> Result<HttpCall, ProviderError>;

    /// The upstream job id from a create response with a 2xx status. Dialects whose envelope
    /// can carry an error under HTTP 200 return it as `Err`.
    fn created(&self, body: &Value) -> Result<String, UpstreamFault>;

    /// The status call for a job.
    fn status(&self, job_id: &str, model_id: &str) -> HttpCall;

    /// The job's state from a status response with a 2xx status.
    fn state(&self, body: &Value) -> Result<UpstreamState, UpstreamFault>;

    /// A create call the upstream must refuse without creating anything (a duration of 0
    /// seconds), used by `seedgate providers check` to learn whether the account may use the
    /// model: a validation error means yes, 403/404 means no.
    fn probe_create(&self, model_id: &str) -> HttpCall;

    /// The cancel call, if the dialect has one.
    fn cancel(&self, _job_id: &str, _model_id: &str) -> Option<HttpCall> {
        None
    }

    /// Whether a create answered with this non-2xx status may have been taken all the same:
    /// a gateway in front of the upstream speaking for it (502, 504) on an API whose
    /// Idempotency-Key replay finds the job. Such a submit is in doubt: it is reconciled at the
    /// same account with the same key, never failed over. By default no status is: a 5xx
    /// fails over, as most resellers would make a second job of a replay.
    fn create_in_doubt(&self, _status: u16) -> bool {
        false
    }

    /// The error a non-2xx response carries (code, message, and a kind if the body says more
    /// than the status).
    fn fault(&self, body: &Value) -> UpstreamFault;

    /// The job id an (unverified) callback body names.
    fn callback_job_id(&self, body: &Value) -> Option<String>;
}

/// Declares [`UpstreamKind`] from one line per kind: the variant, its name in the
/// configuration (`kind = "…"`), and the [`UpstreamApi`] that translates for it.
macro_rules! upstream_kinds {
    ($($variant:ident => $name:literal, $api:expr;)+) => {
        /// The upstream dialects seedgate can front.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum UpstreamKind {
            $(
                #[serde(rename = $name)]
                $variant,
            )+
        }

        impl UpstreamKind {
            /// Every kind, in the registry's order.
            pub const ALL: &'static [UpstreamKind] = &[$(UpstreamKind::$variant),+];

            fn api(self) -> Box<dyn UpstreamApi> {
                match self {
                    $(UpstreamKind::$variant => Box::new($api),)+
                }
            }

            /// The name in the configuration.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(UpstreamKind::$variant => $name,)+
                }
            }
        }
    };
}

// The registry: one line per kind.
upstream_kinds! {
    Ark => "ark", ark::Ark;
    Reapi => "reapi", reapi::Reapi;
    Hiapi => "hiapi", hiapi::Hiapi;
    Apixo => "apixo", apixo::Apixo;
    Crun => "crun", crun::Crun;
    Kie => "kie", kie::Kie;
    Openai => "openai", openai::OpenAi;
}

impl UpstreamKind {
    /// The kind named `name` in the configuration.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == name)
    }

    /// Every kind's name, comma-separated (for messages).
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One upstream account.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub name: String,
    pub kind: UpstreamKind,
    /// Scheme and host (and any path prefix); each dialect adds its own paths.
    pub base_url: String,
    pub api_key: String,
    /// Canonical model → the upstream's model id.
    pub models: BTreeMap<String, String>,
    /// Connecting must succeed within this.
    pub connect_timeout: Duration,
    /// A whole request (not a result download) must finish within this.
    pub request_timeout: Duration,
    /// When to ask first after a submit; later polls back off from here.
    pub first_poll: Duration,
}

pub struct UpstreamProvider {
    config: UpstreamConfig,
    api: Box<dyn UpstreamApi>,
    http: reqwest::Client,
}

/// A response's status and body (JSON, or `Null` if the body was not JSON).
struct Answer {
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    body: Value,
}

impl UpstreamProvider {
    pub fn new(config: UpstreamConfig) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // Upstream APIs answer where they are asked; a redirect is a misconfiguration.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("seedgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::permanent(FailureKind::Internal, e.to_string()))?;
        Ok(Self {
            api: config.kind.api(),
            config,
            http,
        })
    }

    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    fn model_id(&self, model: &str) -> Result<&str, ProviderError> {
        self.config
            .models
            .get(model)
            .map(String::as_str)
            .ok_or_else(|| {
                ProviderError::permanent(
                    FailureKind::InvalidInput,
                    format!("account {} does not serve {model}", self.config.name),
                )
            })
    }

    /// Sends one call. Failures to get an answer are classified here: no connection is
    /// transient (nothing was sent); a timeout after sending is ambiguous for a create (it may
    /// have been accepted) and transient for anything else.
    async fn send(
        &self,
        call: &HttpCall,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, ProviderError> {
        let url = format!(
            "{}{}",
            self.config.base_url.trim_end_matches('/'),
            call.path
        );
        let mut request = self.http.request(call.method.clone(), &url);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        request = match self.api.auth() {
            AuthStyle::Bearer => request.bearer_auth(&self.config.api_key),
            AuthStyle::ApiKeyHeader => request.header("x-api-key", &self.config.api_key),
        };
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let creating = idempotency_key.is_some();
        let response = request.send().await.map_err(|e| {
            let what = format!("{} {}: {e}", self.config.name, call.path);
            if e.is_connect() || !creating {
                ProviderError::retryable(FailureKind::UpstreamError, what)
            } else {
                ProviderError::ambiguous(FailureKind::UpstreamError, what)
            }
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|e| {
            let what = format!(
                "{} {}: reading the answer: {e}",
                self.config.name, call.path
            );
            if creating {
                ProviderError::ambiguous(FailureKind::UpstreamError, what)
            } else {
                ProviderError::retryable(FailureKind::UpstreamError, what)
            }
        })?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    /// Turns a fault (from a non-2xx status, or an error envelope under 200) into an error.
    fn classify(
        &self,
        status: u16,
        fault: UpstreamFault,
        retry_after: Option<Duration>,
    ) -> ProviderError {
        let status = fault.status.unwrap_or(status);
        let message = format!(
            "{} answered {status}{}{}",
            self.config.name,
            fault
                .code
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default(),
            fault
                .message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default(),
        );
        let (class, default_kind) = match status {
            429 => (ErrorClass::Transient, FailureKind::RateLimited),
            // An idempotent replay of a create still in progress upstream: ask again later.
            409 => (ErrorClass::Transient, FailureKind::UpstreamError),
            // 455: CRUN's "under maintenance".
            455 | 500..=599 => (ErrorClass::Transient, FailureKind::UpstreamError),
            // Out of credit at the upstream: the operator's problem, not the client's input.
            402 => (ErrorClass::Permanent, FailureKind::UpstreamError),
            401 | 403 | 404 => (ErrorClass::Permanent, FailureKind::UpstreamError),
            _ => (ErrorClass::Permanent, FailureKind::InvalidInput),
        };
        ProviderError::new(class, fault.kind.unwrap_or(default_kind), message)
            .with_retry_after(retry_after)
    }

    /// Where a result is, as the workers fetch it: an absolute URL as it is, without
    /// credentials; a path on the account's own API at its base URL, with its key.
    fn result_body(&self, location: String) -> ArtifactBody {
        if !location.starts_with('/') {
            return ArtifactBody::remote(location);
        }
        let authorization = match self.api.auth() {
            AuthStyle::Bearer => Some(Secret::new(format!("Bearer {}", self.config.api_key))),
            // The fetcher drops `Authorization` when a redirect leaves the origin, but would
            // carry an `x-api-key` anywhere: such a key is not sent with a download.
            AuthStyle::ApiKeyHeader => None,
        };
        ArtifactBody::Remote {
            url: format!("{}{location}", self.config.base_url.trim_end_matches('/')),
            authorization,
        }
    }

    fn progress(
        &self,
        job: &Job,
        job_id: &str,
        state: UpstreamState,
    ) -> Result<Progress, ProviderError> {
        match state {
            UpstreamState::Queued => Ok(Progress::Pending {
                provider_job_id: job_id.to_string(),
                poll_after: self.config.first_poll,
                upstream_status: Some("queued"),
            }),
            UpstreamState::Running => Ok(Progress::Pending {
                provider_job_id: job_id.to_string(),
                poll_after: self.config.first_poll,
                upstream_status: Some("running"),
            }),
            UpstreamState::Succeeded {
                video_url,
                last_frame_url,
            } => Ok(Progress::Done(Artifacts {
                video: Artifact {
                    body: self.result_body(video_url),
                    content_type: "video/mp4".into(),
                },
                width: None,
                height: None,
                // Only when asked for: an API that can always name one (the OpenAI-style
                // thumbnail) would otherwise make every task copy, and depend on, a file
                // nobody wanted.
                last_frame: last_frame_url
                    .filter(|_| job.request.return_last_frame)
                    .map(|url| Artifact {
                        body: self.result_body(url),
                        content_type: "image/png".into(),
                    }),
            })),
            UpstreamState::Failed { kind, message } => Err(ProviderError::permanent(kind, message)),
            UpstreamState::Cancelled => Err(ProviderError::permanent(
                FailureKind::UpstreamError,
                format!("{} cancelled the task", self.config.name),
            )),
            UpstreamState::Expired => Err(ProviderError::permanent(
                FailureKind::Expired,
                format!("the task expired at {}", self.config.name),
            )),
        }
    }
}

#[async_trait]
impl Provider for UpstreamProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn serves(&self, model: &str) -> bool {
        self.config.models.contains_key(model)
    }

    fn inexpressible(&self, request: &GenerationRequest) -> Option<Inexpressible> {
        self.api.inexpressible(request)
    }

    async fn submit(&self, job: &Job) -> Result<Progress, ProviderError> {
        let model_id = self.model_id(&job.request.model)?;
        if let Some(refusal) = self.api.inexpressible(&job.request) {
            return Err(ProviderError::permanent(
                FailureKind::InvalidInput,
                refusal.reason,
            ));
        }
        let call = self.api.create(&CreateContext {
            request: &job.request,
            model_id,
            callback_url: job.upstream_callback_url.as_deref(),
        })?;
        let answer = self.send(&call, Some(&job.submit_key)).await?;
        if !answer.status.is_success() {
            let status = answer.status.as_u16();
            let fault = self.api.fault(&answer.body);
            let e = self.classify(status, fault, answer.retry_after);
            if self.api.create_in_doubt(status) {
                // Whatever the gateway says, the job may exist: find it with the same key.
                return Err(
                    ProviderError::ambiguous(e.kind, e.message).with_retry_after(e.retry_after)
                );
            }
            return Err(e);
        }
        match self.api.created(&answer.body) {
            Ok(job_id) => Ok(Progress::Pending {
                provider_job_id: job_id,
                poll_after: self.config.first_poll,
                upstream_status: None,
            }),
            // A success status whose body names no task (or an envelope that says "server
            // error"): the upstream may well have created it. Reconcile, do not resubmit.
            Err(fault) if fault.status.is_none() => {
                let e = self.classify(answer.status.as_u16(), fault, answer.retry_after);
                Err(ProviderError::ambiguous(e.kind, e.message))
            }
            Err(fault) => Err(self.classify(answer.status.as_u16(), fault, answer.retry_after)),
        }
    }

    async fn poll(&self, job: &Job, provider_job_id: &str) -> Result<Progress, ProviderError> {
        let model_id = self.model_id(&job.request.model)?;
        let answer = self
            .send(&self.api.status(provider_job_id, model_id), None)
            .await?;
        if !answer.status.is_success() {
            let fault = self.api.fault(&answer.body);
            return Err(self.classify(answer.status.as_u16(), fault, answer.retry_after));
        }
        match self.api.state(&answer.body) {
            Ok(state) => self.progress(job, provider_job_id, state),
            Err(fault) => Err(self.classify(answer.status.as_u16(), fault, answer.retry_after)),
        }
    }

    async fn cancel(&self, job: &Job, provider_job_id: &str) -> Result<(), ProviderError> {
        let model_id = self.model_id(&job.request.model)?;
        let Some(call) = self.api.cancel(provider_job_id, model_id) else {
            return Ok(());
        };
        let answer = self.send(&call, None).await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            let fault = self.api.fault(&answer.body);
            Err(self.classify(answer.status.as_u16(), fault, answer.retry_after))
        }
    }

    fn callback_job_id(&self, body: &[u8]) -> Option<String> {
        let body: Value = serde_json::from_slice(body).ok()?;
        self.api.callback_job_id(&body)
    }

    /// Per model, sends a create the upstream must refuse (a 0 s duration): a validation error
    /// means the key works and may use the model; 401 means the key is refused; 403/404 mean
    /// the model is not open to this account. Nothing is created, so nothing is charged.
    async fn check(&self) -> CheckReport {
        let mut report = CheckReport {
            authenticated: true,
            models: Vec::new(),
            detail: String::new(),
        };
        for (model, model_id) in &self.config.models {
            let started = std::time::Instant::now();
            let outcome = match self.send(&self.api.probe_create(model_id), None).await {
                Err(e) => Err(format!("unreachable: {}", e.message)),
                Ok(answer) => {
                    let fault = if answer.status.is_success() {
                        self.api.created(&answer.body).err()
                    } else {
                        Some(self.api.fault(&answer.body))
                    };
                    let status = fault
                        .as_ref()
                        .and_then(|f| f.status)
                        .unwrap_or(answer.status.as_u16());
                    let said = fault
                        .and_then(|f| f.message.or(f.code))
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default();
                    match status {
                        // Kie-family upstreams answer every validation error 422, an unknown
                        // model included: only the message tells the two apart.
                        400 | 422 if names_an_unknown_model(&said) => Err(format!(
                            "model not available to this account ({status}{said})"
                        )),
                        400 | 422 => Ok(()),
                        401 => {
                            report.authenticated = false;
                            Err(format!("credentials refused (401{said})"))
                        }
                        403 | 404 => Err(format!("model not available to this account ({status}{said})")),
                        200..=299 => Err(format!(
                            "the upstream accepted a request it should refuse (0 s); check {model_id} by hand"
                        )),
                        other => Err(format!("unexpected answer {other}{said}")),
                    }
                }
            };
            report.detail.push_str(&format!(
                "{model} → {model_id}: {} ms; ",
                started.elapsed().as_millis()
            ));
            report.models.push((model.clone(), outcome));
        }
        report
    }
}

/// Whether a validation error's text says the model itself is unknown or not served (rather
/// than refusing the probe's 0 s duration).
fn names_an_unknown_model(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "unknown model",
        "model not found",
        "model not supported",
        "unsupported model",
        "invalid model",
        "model does not exist",
    ]
    .iter()
    .any(|phrase| m.contains(phrase))
}

/// Reads a JSON value as a string, accepting numbers (some dialects send ids and codes as
/// either).
pub fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

//! Providers turn a validated [`GenerationRequest`] into a video. Each provider is one file
//! implementing [`Provider`]; providers know nothing about dialects or storage.
//!
//! The trait is shaped for asynchronous upstreams (submit, then poll a job id) and serves the
//! local renderer too, which finishes inside `submit`.

pub mod local;
pub mod observed;
pub mod routing;
pub mod upstream;

use async_trait::async_trait;
use bytes::Bytes;
use seedgate_core::task::FailureKind;
use seedgate_core::{GenerationRequest, Inexpressible, TaskId};
use std::time::Duration;

pub use local::{LocalConfig, LocalProvider};
pub use routing::{Account, AccountHealth, Route, Router, RoutingStrategy};
pub use upstream::{UpstreamConfig, UpstreamKind, UpstreamProvider};

/// The work a provider is asked to do.
#[derive(Debug, Clone)]
pub struct Job {
    pub task_id: TaskId,
    pub request: GenerationRequest,
    /// The claim this job runs under (1 for the first).
    pub attempt: u32,
    /// The `Idempotency-Key` an upstream submit carries. A submit whose answer was lost is
    /// reconciled by sending it again with the same key, which an upstream that honours the
    /// header answers with the task it already created.
    pub submit_key: String,
    /// Where an upstream should report progress: a per-task, unguessable seedgate URL. `None`
    /// when seedgate has no public address an upstream could reach; polling alone then applies.
    pub upstream_callback_url: Option<String>,
}

impl Job {
    /// The submit key of a fresh submit: unique per task and attempt.
    pub fn fresh_submit_key(task_id: &TaskId, attempt: u32) -> String {
        format!("{}-{attempt}", task_id.as_str())
    }
}

/// Where a finished file is.
#[derive(Debug, Clone)]
pub enum ArtifactBody {
    /// Made here (the local renderer).
    Bytes(Bytes),
    /// At an upstream URL that will expire; the workers copy it into object storage before the
    /// task completes.
    Remote {
        url: String,
        /// The `Authorization` header value the download needs: set only for a file served by
        /// the account's own API (the OpenAI-style `/v1/videos/{id}/content`), never for a URL
        /// an upstream answered. The fetcher drops it if a redirect leaves the URL's origin.
        authorization: Option<Secret>,
    },
}

impl ArtifactBody {
    /// A URL fetched without credentials (a CDN link an upstream answered).
    pub fn remote(url: impl Into<String>) -> Self {
        ArtifactBody::Remote {
            url: url.into(),
            authorization: None,
        }
    }
}

/// A credential, such as an account's `Authorization` header value. Its `Debug` shows nothing
/// of it, so an artifact or a progress that is logged never prints a key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A finished file.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub body: ArtifactBody,
    pub content_type: String,
}

impl Artifact {
    /// The bytes, when the file was made here.
    pub fn local_bytes(&self) -> Option<&Bytes> {
        match &self.body {
            ArtifactBody::Bytes(bytes) => Some(bytes),
            ArtifactBody::Remote { .. } => None,
        }
    }
}

/// What a finished generation hands over.
#[derive(Debug, Clone)]
pub struct Artifacts {
    pub video: Artifact,
    /// The video's size when the provider knows it (the local renderer does; upstreams report
    /// it inconsistently, so it is read from the copied file instead).
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The video's last frame as a PNG (`image/png`), present when the request asked for it
    /// (`GenerationRequest::return_last_frame`) and the provider could produce it. Stored next
    /// to the video; its key becomes `TaskOutput::last_frame_key`.
    pub last_frame: Option<Artifact>,
}

#[derive(Debug, Clone)]
pub enum Progress {
    /// The upstream accepted the job; ask again after `poll_after`.
    Pending {
        provider_job_id: String,
        poll_after: Duration,
        /// The upstream's own word for where the job is (`queued`, `running`) when it says,
        /// so a task's timeline can show each change.
        upstream_status: Option<&'static str>,
    },
    Done(Artifacts),
}

/// What a failure says about trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The upstream refused the job (a 4xx, a moderation verdict, a failed task): trying
    /// again, here or elsewhere, would fail the same way.
    Permanent,
    /// The job was not taken (429, 5xx, no connection): another account, or the same one
    /// later, may take it.
    Transient,
    /// The request was sent but no answer came back: the upstream may have accepted it. It must
    /// be reconciled before anything is submitted again.
    Ambiguous,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct ProviderError {
    pub kind: FailureKind,
    pub message: String,
    pub class: ErrorClass,
    /// How long the upstream asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn permanent(kind: FailureKind, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Permanent, kind, message)
    }

    pub fn retryable(kind: FailureKind, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Transient, kind, message)
    }

    pub fn ambiguous(kind: FailureKind, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Ambiguous, kind, message)
    }

    pub fn new(class: ErrorClass, kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            class,
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Whether trying again (later, or elsewhere) may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class != ErrorClass::Permanent
    }
}

/// What `seedgate providers check` reports for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The upstream accepted our credentials.
    pub authenticated: bool,
    /// Per canonical model: whether the account may use it, and why not.
    pub models: Vec<(String, Result<(), String>)>,
    /// Anything else worth telling the operator (latency, the upstream's own words).
    pub detail: String,
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The configured account name (`local`, `ark-main`, ...).
    fn name(&self) -> &str;

    /// Whether this account can run the canonical model.
    fn serves(&self, model: &str) -> bool;

    /// What of `request` this provider's API cannot express (web search on a reseller without
    /// it, say), or `None`. Pure: routing skips such an account, and submit refuses a request
    /// no account of its route can carry.
    fn inexpressible(&self, _request: &GenerationRequest) -> Option<Inexpressible> {
        None
    }

    /// Whether a submit hands the work to another system, which may have taken it even when
    /// the answer is lost (so a lost answer must be reconciled, never assumed a refusal). The
    /// local renderer runs in this process: a render cut off leaves nothing running.
    fn remote(&self) -> bool {
        true
    }

    /// Starts generation.
    async fn submit(&self, job: &Job) -> Result<Progress, ProviderError>;

    /// Asks about a job `submit` started, after a restart too.
    async fn poll(&self, job: &Job, provider_job_id: &str) -> Result<Progress, ProviderError>;

    /// Asks the upstream to stop a job (best effort: a running job may not stop).
    async fn cancel(&self, _job: &Job, _provider_job_id: &str) -> Result<(), ProviderError> {
        Ok(())
    }

    /// The upstream job an unverified callback body claims to be about. The body is never
    /// trusted beyond that: the job is re-read with `poll`.
    fn callback_job_id(&self, _body: &[u8]) -> Option<String> {
        None
    }

    /// Verifies the account: credentials and access to each model it is configured for.
    async fn check(&self) -> CheckReport;
}

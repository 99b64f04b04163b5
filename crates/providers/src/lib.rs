//! Providers turn a validated [`GenerationRequest`] into a video. Each provider is one file
//! implementing [`Provider`]; providers know nothing about dialects or storage.
//!
//! The trait is shaped for asynchronous upstreams (submit, then poll a job id) and serves the
//! local renderer too, which finishes inside `submit`.

pub mod local;

use async_trait::async_trait;
use bytes::Bytes;
use seedgate_core::task::FailureKind;
use seedgate_core::{GenerationRequest, TaskId};
use std::time::Duration;

pub use local::{LocalConfig, LocalProvider};

/// The work a provider is asked to do.
#[derive(Debug, Clone)]
pub struct Job {
    pub task_id: TaskId,
    pub request: GenerationRequest,
}

/// A finished file, ready to be stored.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub bytes: Bytes,
    pub content_type: String,
}

/// What a finished generation hands over.
#[derive(Debug, Clone)]
pub struct Artifacts {
    pub video: Artifact,
    pub width: u32,
    pub height: u32,
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
    },
    Done(Artifacts),
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct ProviderError {
    pub kind: FailureKind,
    pub message: String,
    /// Whether trying again (later, or elsewhere) may succeed.
    pub retryable: bool,
}

impl ProviderError {
    pub fn permanent(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: false,
        }
    }

    pub fn retryable(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retryable: true,
        }
    }
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The configured account name (`local`, `ark-main`, ...).
    fn name(&self) -> &str;

    /// Starts generation.
    async fn submit(&self, job: &Job) -> Result<Progress, ProviderError>;

    /// Asks about a job `submit` started, after a restart too.
    async fn poll(&self, job: &Job, provider_job_id: &str) -> Result<Progress, ProviderError>;
}

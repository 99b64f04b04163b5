//! The built-in local renderer: real H.264 MP4 previews at Seedance's exact output sizes, made
//! on this machine, offline and free. Reference images are fetched through the shared fetcher.

use crate::{Artifact, Artifacts, Job, Progress, Provider, ProviderError};
use async_trait::async_trait;
use bytes::Bytes;
use seedgate_core::media::MediaUrl;
use seedgate_core::output_size::OUTPUT_FPS;
use seedgate_core::task::FailureKind;
use seedgate_core::Mode;
use seedgate_fetch::{Fetcher, MediaKind};
use seedgate_local_renderer::{render, RenderSpec, Scene};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalConfig {
    /// A prompt containing `[[<fail_marker>]]` fails (as an upstream error), and
    /// `[[<fail_marker>:moderation]]` fails as a moderation rejection, so that failures and
    /// refunds can be exercised end to end.
    pub fail_marker: String,
    /// Extra wall-clock time per task, to imitate a real upstream's latency.
    pub delay_ms: u64,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            fail_marker: "seedgate:fail".into(),
            delay_ms: 0,
        }
    }
}

pub struct LocalProvider {
    config: LocalConfig,
    fetcher: Fetcher,
}

impl LocalProvider {
    pub fn new(config: LocalConfig, fetcher: Fetcher) -> Self {
        Self { config, fetcher }
    }

    /// The failure a prompt asks for, if any.
    fn requested_failure(&self, prompt: Option<&str>) -> Option<ProviderError> {
        let prompt = prompt?;
        let open = format!("[[{}", self.config.fail_marker);
        let start = prompt.find(&open)? + open.len();
        let rest = &prompt[start..];
        let end = rest.find("]]")?;
        let kind = match rest[..end].trim_start_matches(':') {
            "" => FailureKind::UpstreamError,
            other => FailureKind::parse(other).unwrap_or(FailureKind::UpstreamError),
        };
        Some(ProviderError::permanent(
            kind,
            "the local renderer was asked to fail this task",
        ))
    }

    async fn image(&self, url: &MediaUrl) -> Result<Vec<u8>, ProviderError> {
        self.fetcher
            .fetch(url, MediaKind::Image)
            .await
            .map(|f| f.bytes.to_vec())
            .map_err(|e| {
                ProviderError::permanent(
                    FailureKind::InvalidInput,
                    format!("could not fetch {url}: {e}"),
                )
            })
    }

    async fn scene(&self, job: &Job) -> Result<(Scene, Option<(u32, u32)>), ProviderError> {
        let r = &job.request;
        let prompt = r.prompt.clone();
        let scene = match r.mode {
            Mode::T2v => Scene::Card {
                prompt: prompt.unwrap_or_default(),
            },
            Mode::I2v => {
                let first = match &r.first_frame_url {
                    Some(u) => self.image(u).await?,
                    None => {
                        return Err(ProviderError::permanent(
                            FailureKind::InvalidInput,
                            "I2V without a first frame",
                        ))
                    }
                };
                let last = match &r.last_frame_url {
                    Some(u) => Some(self.image(u).await?),
                    None => None,
                };
                Scene::Frames {
                    first,
                    last,
                    prompt,
                }
            }
            Mode::R2v => {
                let mut images = Vec::with_capacity(r.reference_image_urls.len());
                for u in &r.reference_image_urls {
                    images.push(self.image(u).await?);
                }
                if images.is_empty() {
                    // Video- or audio-referenced requests: the preview is a card.
                    Scene::Card {
                        prompt: prompt.unwrap_or_default(),
                    }
                } else {
                    Scene::References { images, prompt }
                }
            }
        };
        let first_size = match &scene {
            Scene::Frames { first, .. } => image_size(first),
            Scene::References { images, .. } => images.first().and_then(|i| image_size(i)),
            Scene::Card { .. } => None,
        };
        Ok((scene, first_size))
    }
}

/// Dimensions from the image header alone, for `adaptive` outputs.
fn image_size(bytes: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

#[async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &str {
        "local"
    }

    async fn submit(&self, job: &Job) -> Result<Progress, ProviderError> {
        if let Some(failure) = self.requested_failure(job.request.prompt.as_deref()) {
            tokio::time::sleep(Duration::from_millis(self.config.delay_ms)).await;
            return Err(failure);
        }
        let (scene, first_size) = self.scene(job).await?;
        let (width, height) = job.request.output_size(first_size);
        let spec = RenderSpec {
            width,
            height,
            fps: OUTPUT_FPS,
            duration_seconds: job.request.duration_seconds,
            scene,
            audio: job.request.generate_audio,
        };
        let delay = tokio::time::sleep(Duration::from_millis(self.config.delay_ms));
        let rendering = tokio::task::spawn_blocking(move || render(&spec));
        let (_, rendered) = tokio::join!(delay, rendering);
        let bytes = rendered
            .map_err(|e| {
                ProviderError::retryable(FailureKind::Internal, format!("renderer crashed: {e}"))
            })?
            .map_err(|e| ProviderError::permanent(FailureKind::InvalidInput, e.to_string()))?;
        Ok(Progress::Done(Artifacts {
            video: Artifact {
                bytes: Bytes::from(bytes),
                content_type: "video/mp4".into(),
            },
            width,
            height,
        }))
    }

    async fn poll(&self, job: &Job, _provider_job_id: &str) -> Result<Progress, ProviderError> {
        // Rendering is not resumable: a re-claimed task renders again, which costs nothing.
        self.submit(job).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_fetch::{AddressPolicy, FetchLimits};

    fn provider() -> LocalProvider {
        let fetcher =
            Fetcher::new(AddressPolicy::development(), FetchLimits::default()).expect("fetcher");
        LocalProvider::new(LocalConfig::default(), fetcher)
    }

    #[test]
    fn fail_markers_choose_the_failure_kind() {
        let p = provider();
        assert!(p.requested_failure(Some("a calm lake")).is_none());
        assert!(p.requested_failure(None).is_none());
        let e = p
            .requested_failure(Some("x [[seedgate:fail]] y"))
            .expect("fails");
        assert_eq!(e.kind, FailureKind::UpstreamError);
        let e = p
            .requested_failure(Some("[[seedgate:fail:moderation]]"))
            .expect("fails");
        assert_eq!(e.kind, FailureKind::Moderation);
        assert!(!e.retryable);
    }
}

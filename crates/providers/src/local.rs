//! The built-in local renderer: real H.264 MP4 previews at Seedance's exact output sizes, made
//! on this machine, offline and free. Reference images come from the shared media cache.

use crate::{Artifact, Artifacts, Job, Progress, Provider, ProviderError};
use async_trait::async_trait;
use bytes::Bytes;
use seedgate_core::media::MediaKind;
use seedgate_core::media::MediaUrl;
use seedgate_core::output_size::OUTPUT_FPS;
use seedgate_core::task::FailureKind;
use seedgate_core::Mode;
use seedgate_local_renderer::{render, RenderSpec, Scene};
use seedgate_media::MediaService;
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
    media: MediaService,
}

impl LocalProvider {
    pub fn new(config: LocalConfig, media: MediaService) -> Self {
        Self { config, media }
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

    /// An image's bytes and displayed size, from the shared media cache (the submit that
    /// accepted the task fetched and probed it already).
    async fn image(&self, url: &MediaUrl) -> Result<(Vec<u8>, Option<(u32, u32)>), ProviderError> {
        let inspected = self
            .media
            .inspect(url, MediaKind::Image)
            .await
            .map_err(|e| {
                ProviderError::permanent(
                    FailureKind::InvalidInput,
                    format!("could not read {url}: {e}"),
                )
            })?;
        let size = inspected.facts.width.zip(inspected.facts.height);
        Ok((inspected.bytes.to_vec(), size))
    }

    /// The scene to render, and the first image's size (which an `adaptive` output follows).
    async fn scene(&self, job: &Job) -> Result<(Scene, Option<(u32, u32)>), ProviderError> {
        let r = &job.request;
        let prompt = r.prompt.clone();
        match r.mode {
            Mode::T2v => Ok((
                Scene::Card {
                    prompt: prompt.unwrap_or_default(),
                },
                None,
            )),
            Mode::I2v => {
                let Some(first_url) = &r.first_frame_url else {
                    return Err(ProviderError::permanent(
                        FailureKind::InvalidInput,
                        "I2V without a first frame",
                    ));
                };
                let (first, size) = self.image(first_url).await?;
                let last = match &r.last_frame_url {
                    Some(u) => Some(self.image(u).await?.0),
                    None => None,
                };
                Ok((
                    Scene::Frames {
                        first,
                        last,
                        prompt,
                    },
                    size,
                ))
            }
            Mode::R2v => {
                let mut images = Vec::with_capacity(r.reference_image_urls.len());
                let mut first_size = None;
                for u in &r.reference_image_urls {
                    let (bytes, size) = self.image(u).await?;
                    first_size = first_size.or(size);
                    images.push(bytes);
                }
                if images.is_empty() {
                    // Video-referenced requests without images: the preview is a card.
                    Ok((
                        Scene::Card {
                            prompt: prompt.unwrap_or_default(),
                        },
                        None,
                    ))
                } else {
                    Ok((Scene::References { images, prompt }, first_size))
                }
            }
        }
    }
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
    use seedgate_fetch::{AddressPolicy, FetchLimits, Fetcher};
    use seedgate_store::BlobStore;

    fn provider() -> LocalProvider {
        let fetcher =
            Fetcher::new(AddressPolicy::development(), FetchLimits::default()).expect("fetcher");
        let blobs = BlobStore::local(&std::env::temp_dir().join("seedgate-local-provider-test"))
            .expect("blobs");
        let media = MediaService::new(fetcher, blobs, "http://127.0.0.1:1", &Default::default());
        LocalProvider::new(LocalConfig::default(), media)
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

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
    /// Prompts can steer the renderer with directives, so failures, refunds and slow tasks can
    /// be exercised end to end: `[[<marker>:fail]]` fails as an upstream error,
    /// `[[<marker>:fail:moderation]]` (or any failure kind) fails with that kind, and
    /// `[[<marker>:delay:<ms>]]` takes that much longer.
    pub marker: String,
    /// Extra wall-clock time per task, to imitate a real upstream's latency.
    pub delay_ms: u64,
    /// Skip encoding: every task gets the same tiny placeholder clip at once. For benchmarks
    /// that measure the gateway rather than the encoder.
    pub instant: bool,
    /// Whether prompt directives are honoured. Unset: yes in development, no in production,
    /// where a client must not be able to hold a worker or force failures.
    pub directives: Option<bool>,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            marker: "seedgate".into(),
            delay_ms: 0,
            instant: false,
            directives: None,
        }
    }
}

/// What a prompt's directives ask of the renderer.
#[derive(Debug, Default)]
struct Directives {
    fail: Option<ProviderError>,
    extra_delay: Duration,
}

/// The placeholder clip of instant mode, made once.
fn placeholder_clip() -> Result<Bytes, ProviderError> {
    static CLIP: std::sync::OnceLock<Result<Bytes, String>> = std::sync::OnceLock::new();
    CLIP.get_or_init(|| {
        render(&RenderSpec {
            width: 64,
            height: 64,
            fps: OUTPUT_FPS,
            duration_seconds: 1,
            scene: Scene::Card {
                prompt: String::new(),
            },
            audio: false,
        })
        .map(Bytes::from)
        .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|e| ProviderError::permanent(FailureKind::Internal, e))
}

pub struct LocalProvider {
    config: LocalConfig,
    media: MediaService,
}

impl LocalProvider {
    pub fn new(config: LocalConfig, media: MediaService) -> Self {
        Self { config, media }
    }

    /// Reads `[[<marker>:...]]` directives from a prompt.
    fn directives(&self, prompt: Option<&str>) -> Directives {
        let mut directives = Directives::default();
        let Some(prompt) = prompt.filter(|_| self.config.directives.unwrap_or(true)) else {
            return directives;
        };
        let open = format!("[[{}:", self.config.marker);
        let mut rest = prompt;
        while let Some(start) = rest.find(&open) {
            rest = &rest[start + open.len()..];
            let Some(end) = rest.find("]]") else {
                break;
            };
            let mut parts = rest[..end].split(':');
            match (parts.next(), parts.next()) {
                (Some("fail"), kind) => {
                    let kind = kind
                        .and_then(FailureKind::parse)
                        .unwrap_or(FailureKind::UpstreamError);
                    let message = "the local renderer was asked to fail this task";
                    // `[[seedgate:fail:<kind>:retry]]` fails in a way worth retrying.
                    directives.fail = Some(if parts.next() == Some("retry") {
                        ProviderError::retryable(kind, message)
                    } else {
                        ProviderError::permanent(kind, message)
                    });
                }
                (Some("delay"), Some(ms)) => {
                    if let Ok(ms) = ms.trim().parse::<u64>() {
                        directives.extra_delay += Duration::from_millis(ms);
                    }
                }
                _ => {}
            }
            rest = &rest[end..];
        }
        directives
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
        let directives = self.directives(job.request.prompt.as_deref());
        let delay = tokio::time::sleep(
            Duration::from_millis(self.config.delay_ms) + directives.extra_delay,
        );
        if let Some(failure) = directives.fail {
            delay.await;
            return Err(failure);
        }
        let (bytes, width, height) = if self.config.instant {
            delay.await;
            let (width, height) = job.request.output_size(None);
            (placeholder_clip()?, width, height)
        } else {
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
            let rendering = tokio::task::spawn_blocking(move || render(&spec));
            let (_, rendered) = tokio::join!(delay, rendering);
            let bytes = rendered
                .map_err(|e| {
                    ProviderError::retryable(
                        FailureKind::Internal,
                        format!("renderer crashed: {e}"),
                    )
                })?
                .map_err(|e| ProviderError::permanent(FailureKind::InvalidInput, e.to_string()))?;
            (Bytes::from(bytes), width, height)
        };
        Ok(Progress::Done(Artifacts {
            video: Artifact {
                bytes,
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
    fn directives_choose_failures_and_delays() {
        let p = provider();
        assert!(p.directives(Some("a calm lake")).fail.is_none());
        assert!(p.directives(None).fail.is_none());
        let e = p
            .directives(Some("x [[seedgate:fail]] y"))
            .fail
            .expect("fails");
        assert_eq!(e.kind, FailureKind::UpstreamError);
        let e = p
            .directives(Some("[[seedgate:fail:moderation]]"))
            .fail
            .expect("fails");
        assert_eq!(e.kind, FailureKind::Moderation);
        assert!(!e.retryable);
        assert!(
            p.directives(Some("[[seedgate:fail:timeout:retry]]"))
                .fail
                .expect("fails")
                .retryable
        );
        let d = p.directives(Some("[[seedgate:delay:250]] and [[seedgate:delay:50]]"));
        assert_eq!(d.extra_delay, Duration::from_millis(300));
        assert!(d.fail.is_none());
        assert!(p
            .directives(Some("[[other:fail]] [[seedgate:delay:x]]"))
            .fail
            .is_none());
    }

    #[test]
    fn placeholder_clip_is_a_real_mp4() {
        let clip = placeholder_clip().expect("clip");
        let info = seedgate_local_renderer::inspect(&clip).expect("mp4");
        assert_eq!(info.video.expect("video").codec, "h264");
    }
}

//! The built-in local renderer: real H.264 MP4 previews at Seedance's exact output sizes, made
//! on this machine, offline and free. Reference images come from the shared media cache.

use crate::{
    Artifact, ArtifactBody, Artifacts, CheckReport, Job, Progress, Provider, ProviderError,
};
use async_trait::async_trait;
use bytes::Bytes;
use seedgate_core::media::MediaKind;
use seedgate_core::media::MediaUrl;
use seedgate_core::output_size::OUTPUT_FPS;
use seedgate_core::task::FailureKind;
use seedgate_core::Mode;
use seedgate_local_renderer::{render_with, RenderOptions, RenderSpec, Scene};
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
    /// The most a prompt's `delay` directives may add to one task, however many or large.
    pub max_directive_delay_ms: u64,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            marker: "seedgate".into(),
            delay_ms: 0,
            instant: false,
            directives: None,
            max_directive_delay_ms: 60_000,
        }
    }
}

/// What a prompt's directives ask of the renderer.
#[derive(Debug, Default)]
struct Directives {
    fail: Option<ProviderError>,
    extra_delay: Duration,
}

const MP4: &str = "video/mp4";
const PNG: &str = "image/png";

/// The placeholder of instant mode, made once: a tiny clip and its last frame (a PNG at the
/// clip's own size).
struct Placeholder {
    clip: Bytes,
    last_frame: Bytes,
}

/// Size of the placeholder clip (and of its last frame).
const PLACEHOLDER_SIZE: u32 = 64;

fn placeholder() -> Result<&'static Placeholder, ProviderError> {
    static PLACEHOLDER: std::sync::OnceLock<Result<Placeholder, String>> =
        std::sync::OnceLock::new();
    PLACEHOLDER
        .get_or_init(|| {
            let spec = RenderSpec {
                width: PLACEHOLDER_SIZE,
                height: PLACEHOLDER_SIZE,
                fps: OUTPUT_FPS,
                duration_seconds: 1,
                scene: Scene::Card {
                    prompt: String::new(),
                },
                audio: false,
            };
            let options = RenderOptions {
                seed: None,
                last_frame: true,
            };
            let rendered = render_with(&spec, options).map_err(|e| e.to_string())?;
            let last_frame = rendered
                .last_frame_png
                .ok_or("the renderer returned no last frame")?;
            Ok(Placeholder {
                clip: Bytes::from(rendered.mp4),
                last_frame: Bytes::from(last_frame),
            })
        })
        .as_ref()
        .map_err(|e| ProviderError::permanent(FailureKind::Internal, e.clone()))
}

fn artifact(bytes: Bytes, content_type: &str) -> Artifact {
    Artifact {
        body: ArtifactBody::Bytes(bytes),
        content_type: content_type.into(),
    }
}

pub struct LocalProvider {
    name: String,
    config: LocalConfig,
    media: MediaService,
}

impl LocalProvider {
    pub fn new(config: LocalConfig, media: MediaService) -> Self {
        Self::named("local", config, media)
    }

    /// The renderer under another account name (a `[[providers]]` entry of kind `local`).
    pub fn named(name: &str, config: LocalConfig, media: MediaService) -> Self {
        Self {
            name: name.to_string(),
            config,
            media,
        }
    }

    /// Reads `[[<marker>:...]]` directives from a prompt.
    fn directives(&self, prompt: Option<&str>) -> Directives {
        let mut directives = Directives::default();
        let Some(prompt) = prompt.filter(|_| self.config.directives.unwrap_or(true)) else {
            return directives;
        };
        let open = format!("[[{}:", self.config.marker);
        let mut rest = prompt;
        while let Some((_, after)) = rest.split_once(open.as_str()) {
            let Some((directive, remainder)) = after.split_once("]]") else {
                break;
            };
            rest = remainder;
            let mut parts = directive.split(':');
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
                        // Bounded, so a prompt cannot hold a worker for longer than a real
                        // render would take.
                        directives.extra_delay = directives
                            .extra_delay
                            .saturating_add(Duration::from_millis(ms))
                            .min(Duration::from_millis(self.config.max_directive_delay_ms));
                    }
                }
                _ => {}
            }
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
        &self.name
    }

    fn remote(&self) -> bool {
        false
    }

    /// The renderer draws any model at the catalog's output sizes.
    fn serves(&self, _model: &str) -> bool {
        true
    }

    async fn check(&self) -> CheckReport {
        CheckReport {
            authenticated: true,
            models: Vec::new(),
            detail: "built-in renderer; serves every model".into(),
        }
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
        let want_last_frame = job.request.return_last_frame;
        let (video, last_frame, width, height) = if self.config.instant {
            delay.await;
            // The placeholder is what is served, so its size is what is reported.
            let (width, height) = (PLACEHOLDER_SIZE, PLACEHOLDER_SIZE);
            let placeholder = placeholder()?;
            let last_frame = want_last_frame.then(|| placeholder.last_frame.clone());
            (placeholder.clip.clone(), last_frame, width, height)
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
            // The seed varies the scene's look; the same seed and inputs give the same video.
            let options = RenderOptions {
                seed: job.request.seed,
                last_frame: want_last_frame,
            };
            let rendering = tokio::task::spawn_blocking(move || render_with(&spec, options));
            let (_, rendered) = tokio::join!(delay, rendering);
            let rendered = rendered
                .map_err(|e| {
                    ProviderError::retryable(
                        FailureKind::Internal,
                        format!("renderer crashed: {e}"),
                    )
                })?
                .map_err(|e| ProviderError::permanent(FailureKind::InvalidInput, e.to_string()))?;
            let last_frame = rendered.last_frame_png.map(Bytes::from);
            (Bytes::from(rendered.mp4), last_frame, width, height)
        };
        Ok(Progress::Done(Artifacts {
            video: artifact(video, MP4),
            width: Some(width),
            height: Some(height),
            last_frame: last_frame.map(|bytes| artifact(bytes, PNG)),
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
    use seedgate_blobs::BlobStore;
    use seedgate_core::catalog::Catalog;
    use seedgate_core::{GenerationRequest, RequestDraft, TaskId};
    use seedgate_fetch::{AddressPolicy, FetchLimits, Fetcher};

    fn provider() -> LocalProvider {
        provider_with(LocalConfig::default())
    }

    fn provider_with(config: LocalConfig) -> LocalProvider {
        let fetcher =
            Fetcher::new(AddressPolicy::development(), FetchLimits::default()).expect("fetcher");
        let blobs = BlobStore::local(&std::env::temp_dir().join("seedgate-local-provider-test"))
            .expect("blobs");
        let media = MediaService::new(fetcher, blobs, "http://127.0.0.1:1", &Default::default());
        LocalProvider::new(config, media)
    }

    /// A text-to-video job at the smallest size and length the catalog allows (480p, 4 s).
    fn t2v_job(return_last_frame: bool, seed: Option<i64>) -> Job {
        let draft = RequestDraft {
            model: Some("seedance-2.0-mini".into()),
            prompt: Some("A lighthouse at dusk, waves breaking below".into()),
            resolution: Some("480p".into()),
            aspect_ratio: Some("16:9".into()),
            duration: Some(4),
            return_last_frame: Some(return_last_frame),
            seed,
            ..Default::default()
        };
        Job {
            attempt: 1,
            submit_key: "test-1".into(),
            upstream_callback_url: None,
            task_id: TaskId::generate(),
            request: GenerationRequest::from_draft(draft, &Catalog::builtin()).expect("valid"),
        }
    }

    async fn finished(provider: &LocalProvider, job: &Job) -> Artifacts {
        match provider.submit(job).await.expect("renders") {
            Progress::Done(artifacts) => artifacts,
            Progress::Pending { .. } => panic!("the local provider finishes inside submit"),
        }
    }

    /// Decodes a PNG with the `png` crate: (width, height, 8-bit RGB pixels).
    fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .expect("png header");
        let mut pixels = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut pixels).expect("png image");
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Rgb, png::BitDepth::Eight)
        );
        pixels.truncate(info.buffer_size());
        (info.width, info.height, pixels)
    }

    fn video_size(mp4: &[u8]) -> (u32, u32) {
        let video = seedgate_local_renderer::inspect(mp4)
            .expect("mp4")
            .video
            .expect("video track");
        (video.width, video.height)
    }

    fn distinct_colours(rgb: &[u8]) -> usize {
        rgb.chunks_exact(3)
            .collect::<std::collections::HashSet<_>>()
            .len()
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
        assert!(!e.is_retryable());
        assert!(p
            .directives(Some("[[seedgate:fail:timeout:retry]]"))
            .fail
            .expect("fails")
            .is_retryable());
        let d = p.directives(Some("[[seedgate:delay:250]] and [[seedgate:delay:50]]"));
        assert_eq!(d.extra_delay, Duration::from_millis(300));
        let d = p.directives(Some(
            "[[seedgate:delay:18446744073709551615]] [[seedgate:delay:18446744073709551615]]",
        ));
        assert_eq!(d.extra_delay, Duration::from_secs(60));
        assert!(d.fail.is_none());
        assert!(p
            .directives(Some("[[other:fail]] [[seedgate:delay:x]]"))
            .fail
            .is_none());
    }

    #[tokio::test]
    async fn last_frame_png_has_the_video_size_when_asked() {
        let artifacts = finished(&provider(), &t2v_job(true, None)).await;
        assert_eq!(
            video_size(artifacts.video.local_bytes().expect("made here")),
            (864, 496)
        );
        assert_eq!((artifacts.width, artifacts.height), (Some(864), Some(496)));
        let last = artifacts.last_frame.expect("a last frame was asked for");
        assert_eq!(last.content_type, "image/png");
        let (w, h, rgb) = decode_png(last.local_bytes().expect("made here"));
        assert_eq!(
            (w, h),
            video_size(artifacts.video.local_bytes().expect("made here"))
        );
        assert!(
            distinct_colours(&rgb) > 100,
            "the last frame should be a picture, not a flat fill ({} colours)",
            distinct_colours(&rgb)
        );
    }

    #[tokio::test]
    async fn no_last_frame_unless_asked() {
        let artifacts = finished(&provider(), &t2v_job(false, None)).await;
        assert!(artifacts.last_frame.is_none());
        assert_eq!(
            video_size(artifacts.video.local_bytes().expect("made here")),
            (864, 496)
        );
    }

    #[tokio::test]
    async fn instant_mode_returns_the_placeholder_frame_when_asked() {
        let p = provider_with(LocalConfig {
            instant: true,
            ..LocalConfig::default()
        });
        let artifacts = finished(&p, &t2v_job(true, None)).await;
        let last = artifacts.last_frame.expect("a last frame was asked for");
        assert_eq!(last.content_type, "image/png");
        let (w, h, rgb) = decode_png(last.local_bytes().expect("made here"));
        assert_eq!(
            (w, h),
            video_size(artifacts.video.local_bytes().expect("made here"))
        );
        assert_eq!((w, h), (PLACEHOLDER_SIZE, PLACEHOLDER_SIZE));
        assert!(distinct_colours(&rgb) > 1, "not a flat fill");

        let artifacts = finished(&p, &t2v_job(false, None)).await;
        assert!(artifacts.last_frame.is_none());
    }

    #[tokio::test]
    async fn same_seed_same_video_other_seed_other_video() {
        let p = provider();
        let a = finished(&p, &t2v_job(false, Some(42))).await;
        let again = finished(&p, &t2v_job(false, Some(42))).await;
        assert_eq!(a.video.local_bytes(), again.video.local_bytes());
        let b = finished(&p, &t2v_job(false, Some(43))).await;
        assert_ne!(a.video.local_bytes(), b.video.local_bytes());
    }

    #[test]
    fn placeholder_clip_is_a_real_mp4() {
        let clip = &placeholder().expect("placeholder").clip;
        let info = seedgate_local_renderer::inspect(clip).expect("mp4");
        assert_eq!(info.video.expect("video").codec, "h264");
    }
}

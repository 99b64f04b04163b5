//! The local provider's video engine.
//!
//! `render(&RenderSpec) -> Result<Vec<u8>, RenderError>` produces a complete MP4 (H.264 video,
//! optional AAC audio) in memory; `render_with(&RenderSpec, RenderOptions)` does the same and can
//! also vary the scene by a seed and return the last frame as a PNG;
//! `inspect(&[u8]) -> Result<Mp4Info, InspectError>` (re-exported from `seedgate_probe::mp4`)
//! reads one back.
//! Pure CPU work: no I/O, no async. Callers run it on a blocking thread.
//!
//! What a render contains: an `isom` MP4 with `moov` before `mdat` (plays while downloading);
//! an H.264 Constrained Baseline track at exactly the requested size (frame cropping in the SPS
//! when it is not a multiple of 16), BT.709 signalled, constant frame rate with exactly
//! `fps * duration_seconds` frames, an IDR every 2 s; with `audio`, a 48 kHz stereo AAC-LC track
//! of a soft synthesized chord covering the same duration (rounded up to a 1024-sample frame).
//! Output is deterministic: the same spec (and options) gives the same bytes.
//!
//! Pipeline: a scene (`scene`) draws each frame into an RGB canvas (`canvas`, `draw`, `text`),
//! which is converted to I420 (`yuv`), encoded by OpenH264 (`h264`) and muxed with the
//! synthesized soundtrack (`audio`) into the MP4 (`mux`). `inspect` is an independent,
//! bounds-checked box parser meant for untrusted files, kept in `seedgate-probe`.
//!
//! Build note: OpenH264 is compiled from its bundled source. When `nasm` is installed at build
//! time its x86 assembly is used too, which makes encoding about twice as fast; without it the
//! build silently uses the C code paths (same output, slower).

mod audio;
mod canvas;
mod draw;
mod h264;
mod images;
mod mux;
mod scene;
mod still;
mod text;
mod yuv;

// The MP4 reader now lives in seedgate-probe; re-exported so existing callers keep compiling.
pub use seedgate_probe::mp4::{inspect, AudioTrackInfo, InspectError, Mp4Info, VideoTrackInfo};

/// What to draw. Images are already-fetched encoded bytes (jpeg/png/webp/...).
#[derive(Debug, Clone)]
pub struct RenderSpec {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub duration_seconds: u32,
    pub scene: Scene,
    pub audio: bool,
}

#[derive(Debug, Clone)]
pub enum Scene {
    /// Text-to-video: an animated card showing the prompt.
    Card { prompt: String },
    /// Image-to-video: a move from the first frame to the last, or a slow zoom on the first.
    Frames {
        first: Vec<u8>,
        last: Option<Vec<u8>>,
        prompt: Option<String>,
    },
    /// Reference-to-video: the reference images in sequence.
    References {
        images: Vec<Vec<u8>>,
        prompt: Option<String>,
    },
}

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The spec asks for something this renderer cannot produce (odd or oversized dimensions,
    /// zero duration, no images, ...). The message says which field.
    #[error("invalid render spec: {0}")]
    InvalidSpec(String),
    /// An input image could not be decoded (or exceeds the decoder limits).
    /// `index` is the image's position: for `Scene::Frames` 0 is `first` and 1 is `last`;
    /// for `Scene::References` it is the index into `images`.
    #[error("image {index} could not be decoded: {reason}")]
    BadImage { index: usize, reason: String },
    /// The H.264 encoder failed.
    #[error("video encoding failed: {0}")]
    Encode(String),
    /// The AAC encoder failed.
    #[error("audio encoding failed: {0}")]
    Audio(String),
    /// Writing the MP4 container failed.
    #[error("mp4 muxing failed: {0}")]
    Mux(String),
    /// Encoding the last frame as PNG failed.
    #[error("png encoding failed: {0}")]
    Png(String),
}

/// What a render produces besides the plain MP4. `Default` renders exactly what [`render`] does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Varies the scene's look (a card's palette and angle, the pans of image scenes, the
    /// soundtrack's voicing) in a way derived from this number and the inputs: the same spec
    /// and seed give the same bytes, another seed a different look. `None` derives the look
    /// from the inputs alone.
    pub seed: Option<u32>,
    /// Also return the video's last frame as a PNG.
    pub last_frame: bool,
}

/// The result of [`render_with`].
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The complete MP4 file.
    pub mp4: Vec<u8>,
    /// With [`RenderOptions::last_frame`]: the final frame of the video as an 8-bit RGB PNG at
    /// exactly the video's size. It is the picture the scene drew at the last frame time and
    /// handed to the encoder (before the lossy YUV conversion and H.264 compression), with
    /// nothing added.
    pub last_frame_png: Option<Vec<u8>>,
}

/// Largest accepted duration: previews are short, and this bounds memory and CPU per request.
pub const MAX_DURATION_SECONDS: u32 = 60;
/// Largest accepted frame rate.
pub const MAX_FPS: u32 = 60;
/// Most reference images accepted by `Scene::References`.
pub const MAX_REFERENCE_IMAGES: usize = 16;

/// Renders `spec` into a complete MP4 file (H.264 video at exactly `width`×`height`,
/// `fps*duration_seconds` frames, plus a stereo 48 kHz AAC-LC track when `spec.audio`).
///
/// The output is deterministic: the same spec gives the same bytes.
pub fn render(spec: &RenderSpec) -> Result<Vec<u8>, RenderError> {
    render_with(spec, RenderOptions::default()).map(|r| r.mp4)
}

/// [`render`], with a seed that varies the scene and optionally the last frame as a PNG (see
/// [`RenderOptions`]). With default options the MP4 is byte-for-byte what `render` makes.
pub fn render_with(spec: &RenderSpec, options: RenderOptions) -> Result<Rendered, RenderError> {
    validate(spec)?;
    let frame_count = spec.fps * spec.duration_seconds;
    let (width, height) = (spec.width as usize, spec.height as usize);

    // Decode and prepare everything that does not change per frame before encoding starts.
    let mut scene = scene::Prepared::new(spec, options.seed)?;

    let mut encoder = h264::Encoder::new(spec.width, spec.height, spec.fps)?;
    let mut canvas = canvas::Canvas::new(width, height);
    let mut frame = yuv::I420::new(width, height);
    let mut samples = Vec::with_capacity(frame_count as usize);
    for index in 0..frame_count {
        scene.draw(index, frame_count, &mut canvas);
        frame.fill_from_rgb(&canvas);
        samples.push(encoder.encode(&frame, index)?);
    }
    // The canvas still holds the last frame drawn, which is the last one encoded.
    let last_frame_png = if options.last_frame {
        Some(still::encode_png(&canvas)?)
    } else {
        None
    };
    let video = mux::VideoTrack {
        width: spec.width,
        height: spec.height,
        fps: spec.fps,
        sps: encoder.sps().to_vec(),
        pps: encoder.pps().to_vec(),
        samples,
    };

    let audio = if spec.audio {
        let seed = scene.seed();
        Some(audio::render_aac(f64::from(spec.duration_seconds), seed)?)
    } else {
        None
    };

    let mp4 = mux::write_mp4(&video, audio.as_ref())?;
    Ok(Rendered {
        mp4,
        last_frame_png,
    })
}

fn validate(spec: &RenderSpec) -> Result<(), RenderError> {
    let invalid = |msg: String| Err(RenderError::InvalidSpec(msg));
    let (w, h) = (spec.width, spec.height);
    if w < 16 || h < 16 {
        return invalid(format!("{w}x{h} is too small (minimum 16x16)"));
    }
    // 4:2:0 chroma needs even dimensions; H.264 frame cropping also works in 2-pixel units.
    if w % 2 != 0 || h % 2 != 0 {
        return invalid(format!("{w}x{h}: width and height must be even"));
    }
    // OpenH264 supports up to level 5.2: 3840x2160 in either orientation.
    if w.max(h) > 3840 || w.min(h) > 2160 {
        return invalid(format!("{w}x{h} exceeds 3840x2160"));
    }
    if spec.fps == 0 || spec.fps > MAX_FPS {
        return invalid(format!("fps {} is outside 1..={MAX_FPS}", spec.fps));
    }
    if spec.duration_seconds == 0 || spec.duration_seconds > MAX_DURATION_SECONDS {
        return invalid(format!(
            "duration {} s is outside 1..={MAX_DURATION_SECONDS}",
            spec.duration_seconds
        ));
    }
    if let Scene::References { images, .. } = &spec.scene {
        if images.is_empty() {
            return invalid("references scene needs at least one image".into());
        }
        if images.len() > MAX_REFERENCE_IMAGES {
            return invalid(format!(
                "{} reference images (maximum {MAX_REFERENCE_IMAGES})",
                images.len()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(width: u32, height: u32, fps: u32, duration_seconds: u32) -> RenderSpec {
        RenderSpec {
            width,
            height,
            fps,
            duration_seconds,
            scene: Scene::Card { prompt: "x".into() },
            audio: false,
        }
    }

    #[test]
    fn rejects_unencodable_specs() {
        for spec in [
            card(865, 496, 24, 4),
            card(864, 497, 24, 4),
            card(8, 8, 24, 4),
            card(4096, 2160, 24, 4),
            card(864, 496, 0, 4),
            card(864, 496, 24, 0),
            card(864, 496, 24, MAX_DURATION_SECONDS + 1),
        ] {
            assert!(
                matches!(render(&spec), Err(RenderError::InvalidSpec(_))),
                "{}x{} {} fps {} s should be rejected",
                spec.width,
                spec.height,
                spec.fps,
                spec.duration_seconds
            );
        }
        let empty_refs = RenderSpec {
            scene: Scene::References {
                images: vec![],
                prompt: None,
            },
            ..card(864, 496, 24, 4)
        };
        assert!(matches!(
            render(&empty_refs),
            Err(RenderError::InvalidSpec(_))
        ));
    }
}

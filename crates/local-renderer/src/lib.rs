//! The local provider's video engine.
//!
//! `render(&RenderSpec) -> Result<Vec<u8>, RenderError>` produces a complete MP4 (H.264 video,
//! optional AAC audio) in memory; `inspect(&[u8]) -> Result<Mp4Info, InspectError>` reads one back.
//! Pure CPU work: no I/O, no async. Callers run it on a blocking thread.

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
    Frames { first: Vec<u8>, last: Option<Vec<u8>>, prompt: Option<String> },
    /// Reference-to-video: the reference images in sequence.
    References { images: Vec<Vec<u8>>, prompt: Option<String> },
}

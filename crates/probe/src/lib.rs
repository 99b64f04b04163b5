//! Measures media that has already been fetched, in pure Rust and from headers only.
//!
//! `probe(&bytes)` sniffs the container by its magic bytes (never by a URL's extension or a
//! Content-Type, which may lie) and reports what the request validation needs:
//!
//! - images (JPEG, PNG, WebP, BMP, TIFF, GIF): format and size, with the EXIF orientation applied;
//! - videos (MP4, MOV): codec, size, frame rate, duration, frame count and the audio track;
//! - audio (WAV, MP3): duration, sample rate and channels.
//!
//! Nothing is decoded, so a decompression bomb costs no more than any other file, and nothing
//! is allocated from sizes the file states. The structure is still walked from start to end
//! (image chunks up to the end marker, every MP4 box and where its media chunks start, every
//! MP3 frame header), so a file that was cut short is an error rather than a plausible answer.
//! Audio is the one exception: a WAV whose data chunk claims more bytes than exist, and an MP3
//! cut mid-stream, are measured by the audio actually present, which is what any player would
//! play.
//!
//! This crate only measures. Limits (edge lengths, durations, frame rates) are the core's.
//! Every `ProbeError` message is short and meant to be shown to API clients as is.
//!
//! # Why the parsers are hand-written
//!
//! `imagesize`, `mp4parse` and `symphonia` were run next to these parsers on the fixtures the
//! tests build (the `image` crate's encoders, hand-made files, the local renderer's MP4s,
//! ffmpeg's output) and on the fuzz corpus and damaged copies (the harness is in this crate's
//! history: "temporary harness weighing imagesize, mp4parse and symphonia"). Each was worse at
//! this job, so none is used:
//!
//! - **Images** — `imagesize` 0.15 (MIT) agreed on 37 of 41 sizes, but it reads the size field
//!   and stops: it accepted about 90% of the cut JPEG, PNG, WebP, BMP and GIF files (this crate:
//!   none), every lying header the tests have (a BMP claiming 10000x10000 in 800 bytes, a PNG
//!   whose IHDR checksum fails, a WebP whose RIFF size exceeds the file, a GIF with no trailer)
//!   and 7,886 of 13,500 fuzz-corpus files (this crate: none). It also read a top-down BMP as
//!   64x4294967248 and a VP8 WebP with scale bits as 50176x49920, failed on a JPEG with 0xFF fill
//!   bytes, and has no EXIF orientation. The walk to the end marker that catches all of this
//!   reads the size on its way, so the crate would not even save code.
//! - **MP4/MOV** — `mp4parse` 0.17 is MPL-2.0, which `deny.toml` does not allow. It streams from
//!   any `Read` in one pass, but the callers hold the fetched bytes anyway. It reads QuickTime
//!   (an H.264/AAC `.mov` agreed in every fact), but it gave no codec, width or height for HEVC
//!   (`hvc1`, what phones' `.mov` files hold) nor a codec for QuickTime PCM audio, no frame
//!   count, frame rate or duration for fragmented MP4 (it does not read `moof`), refused an
//!   `mdat` of size 0 ("to the end of the file"), took the AAC channel count from the sample
//!   entry (2) rather than the decoder config (1, as ffprobe says), exposes no `mvhd` duration,
//!   and accepted a file cut inside its `mdat` header (all of the media gone). Of the tests
//!   here, `inspects_files_made_by_ffmpeg` and the truncation test would fail; rotation, codec
//!   names and fragment timing would still be code of our own.
//! - **Audio** — `symphonia` 0.6 is MPL-2.0 too, and even with `default-features = false` and
//!   only `mp1`/`mp2`/`mp3`/`wav` it brings about 36,000 lines (its core, an MP3 decoder bundled
//!   with the demuxer, the RIFF reader, the metadata readers) for the 590 here. It differed on
//!   16 of 31 fixtures: it refused A-law and mu-law WAVs with a 16-byte format chunk and a WAV
//!   whose data size overstates; gave no duration for a streamed WAV, a cut MP3 or frames
//!   followed by zero padding; measured a cut WAV by its header; trusted a Xing count of
//!   100,000 frames over the 100 present; accepted a lying block size and two frames followed by
//!   garbage; estimated a VBR MP3 without a Xing header at 2.66 s (ffprobe: 3.17 s); and, with a
//!   LAME tag, reported the gapless length, 0.07-0.16 s off ffprobe for the MPEG-2 and 2.5
//!   files. It panicked ("attempt to shift left with overflow") on 2 of 3,000 damaged
//!   WAVE_FORMAT_EXTENSIBLE files.

mod audio;
mod bytes;
mod image;
pub mod mp4;
mod sniff;
mod video;

use std::fmt;

pub use audio::{AudioFormat, AudioProbe};
pub use image::{ImageFormat, ImageProbe};
pub use sniff::sniff;
pub use video::{VideoContainer, VideoProbe};

/// The three kinds of media a request can reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
}

impl MediaKind {
    /// "an image", "a video", "audio": for messages.
    fn with_article(self) -> &'static str {
        match self {
            MediaKind::Image => "an image",
            MediaKind::Video => "a video",
            MediaKind::Audio => "audio",
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
        })
    }
}

/// A recognised, supported file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaFormat {
    Image(ImageFormat),
    Video(VideoContainer),
    Audio(AudioFormat),
}

impl MediaFormat {
    pub fn kind(self) -> MediaKind {
        match self {
            MediaFormat::Image(_) => MediaKind::Image,
            MediaFormat::Video(_) => MediaKind::Video,
            MediaFormat::Audio(_) => MediaKind::Audio,
        }
    }

    /// The upper-case name used in messages: "JPEG", "MP4", "WAV", ...
    fn label(self) -> &'static str {
        match self {
            MediaFormat::Image(f) => f.label(),
            MediaFormat::Video(c) => c.label(),
            MediaFormat::Audio(a) => a.label(),
        }
    }

    /// "a JPEG image", "an MP4 video": for messages.
    fn with_article(self) -> String {
        // Labels are read letter by letter: "an MP4", "an MP3", but "a MOV", "a PNG".
        let article = if self.label().starts_with("MP") {
            "an"
        } else {
            "a"
        };
        format!("{article} {self}")
    }
}

impl fmt::Display for MediaFormat {
    /// "JPEG image", "MOV video", "MP3 audio file".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = match self.kind() {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio file",
        };
        write!(f, "{} {noun}", self.label())
    }
}

/// What `probe` found.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaProbe {
    Image(ImageProbe),
    Video(VideoProbe),
    Audio(AudioProbe),
}

impl MediaProbe {
    pub fn kind(&self) -> MediaKind {
        self.format().kind()
    }

    pub fn format(&self) -> MediaFormat {
        match self {
            MediaProbe::Image(i) => MediaFormat::Image(i.format),
            MediaProbe::Video(v) => MediaFormat::Video(v.container),
            MediaProbe::Audio(a) => MediaFormat::Audio(a.format),
        }
    }
}

/// Why a file could not be measured. The messages are written for API clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The bytes are not any format this crate knows. `expected` is the kind the caller asked
    /// for (`None` from `probe`), so the message can list the accepted formats.
    #[error("{}", unrecognized_message(*.expected))]
    Unrecognized { expected: Option<MediaKind> },
    /// A supported format, but not the kind the caller asked for.
    #[error("expected {}, got {}", .expected.with_article(), .found.with_article())]
    WrongKind {
        expected: MediaKind,
        found: MediaFormat,
    },
    /// The file ends before its structure does.
    #[error("the {0} is truncated")]
    Truncated(MediaFormat),
    /// The structure is inconsistent: a lying header, an impossible value, a missing part.
    #[error("invalid {format}: {reason}")]
    Malformed { format: MediaFormat, reason: String },
    /// A format, or a variant of a supported one, that is recognised but not accepted.
    #[error("{0} is not supported")]
    Unsupported(String),
}

fn unrecognized_message(expected: Option<MediaKind>) -> &'static str {
    match expected {
        None => "not a supported image, video or audio format",
        Some(MediaKind::Image) => {
            "not a supported image format (JPEG, PNG, WebP, BMP, TIFF or GIF are accepted)"
        }
        Some(MediaKind::Video) => "not a supported video format (MP4 or MOV are accepted)",
        Some(MediaKind::Audio) => "not a supported audio format (WAV or MP3 are accepted)",
    }
}

/// Sniffs the format and measures the file.
pub fn probe(bytes: &[u8]) -> Result<MediaProbe, ProbeError> {
    let format = sniff(bytes).map_err(|e| expecting(e, None))?;
    measure(bytes, format)
}

/// Measures an image; any other kind of file is `WrongKind`.
pub fn probe_image(bytes: &[u8]) -> Result<ImageProbe, ProbeError> {
    match measure(bytes, sniff_kind(bytes, MediaKind::Image)?)? {
        MediaProbe::Image(image) => Ok(image),
        other => Err(wrong_kind(MediaKind::Image, other.format())),
    }
}

/// Measures an MP4/MOV video; any other kind of file is `WrongKind`.
pub fn probe_video(bytes: &[u8]) -> Result<VideoProbe, ProbeError> {
    match measure(bytes, sniff_kind(bytes, MediaKind::Video)?)? {
        MediaProbe::Video(video) => Ok(video),
        other => Err(wrong_kind(MediaKind::Video, other.format())),
    }
}

/// Measures WAV/MP3 audio; any other kind of file is `WrongKind`.
pub fn probe_audio(bytes: &[u8]) -> Result<AudioProbe, ProbeError> {
    match measure(bytes, sniff_kind(bytes, MediaKind::Audio)?)? {
        MediaProbe::Audio(audio) => Ok(audio),
        other => Err(wrong_kind(MediaKind::Audio, other.format())),
    }
}

/// Sniffs and refuses the wrong kind before any further parsing, so that, say, a truncated
/// MP4 given as an image is reported as "not an image" rather than as a broken video.
fn sniff_kind(bytes: &[u8], expected: MediaKind) -> Result<MediaFormat, ProbeError> {
    let format = sniff(bytes).map_err(|e| expecting(e, Some(expected)))?;
    if format.kind() != expected {
        return Err(wrong_kind(expected, format));
    }
    Ok(format)
}

fn wrong_kind(expected: MediaKind, found: MediaFormat) -> ProbeError {
    ProbeError::WrongKind { expected, found }
}

/// Puts the caller's expected kind into an `Unrecognized` error.
fn expecting(error: ProbeError, expected: Option<MediaKind>) -> ProbeError {
    match error {
        ProbeError::Unrecognized { .. } => ProbeError::Unrecognized { expected },
        other => other,
    }
}

fn measure(bytes: &[u8], format: MediaFormat) -> Result<MediaProbe, ProbeError> {
    Ok(match format {
        MediaFormat::Image(f) => MediaProbe::Image(image::probe(bytes, f)?),
        MediaFormat::Video(c) => MediaProbe::Video(video::probe(bytes, c)?),
        MediaFormat::Audio(a) => MediaProbe::Audio(audio::probe(bytes, a)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well() {
        let jpeg = MediaFormat::Image(ImageFormat::Jpeg);
        let mp4 = MediaFormat::Video(VideoContainer::Mp4);
        let mp3 = MediaFormat::Audio(AudioFormat::Mp3);
        assert_eq!(
            wrong_kind(MediaKind::Image, mp4).to_string(),
            "expected an image, got an MP4 video"
        );
        assert_eq!(
            wrong_kind(MediaKind::Video, jpeg).to_string(),
            "expected a video, got a JPEG image"
        );
        assert_eq!(
            wrong_kind(MediaKind::Image, mp3).to_string(),
            "expected an image, got an MP3 audio file"
        );
        assert_eq!(
            wrong_kind(MediaKind::Audio, MediaFormat::Video(VideoContainer::Mov)).to_string(),
            "expected audio, got a MOV video"
        );
        assert_eq!(
            ProbeError::Truncated(jpeg).to_string(),
            "the JPEG image is truncated"
        );
        assert_eq!(
            ProbeError::Malformed {
                format: mp3,
                reason: "no MPEG audio frames".into()
            }
            .to_string(),
            "invalid MP3 audio file: no MPEG audio frames"
        );
        assert_eq!(
            ProbeError::Unrecognized { expected: None }.to_string(),
            "not a supported image, video or audio format"
        );
        assert_eq!(
            ProbeError::Unsupported("WebM/Matroska video".into()).to_string(),
            "WebM/Matroska video is not supported"
        );
    }
}

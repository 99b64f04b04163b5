//! MP4/MOV videos, measured with the box walker in `mp4`.

use std::fmt;

use crate::mp4::{self, AudioTrackInfo, InspectError};
use crate::{MediaFormat, ProbeError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoContainer {
    /// ISO base media (any `ftyp` brand but QuickTime's).
    Mp4,
    /// QuickTime (`ftyp` brand `qt  `, or an old movie with no `ftyp`).
    Mov,
}

impl VideoContainer {
    /// "mp4" or "mov".
    pub fn as_str(self) -> &'static str {
        match self {
            VideoContainer::Mp4 => "mp4",
            VideoContainer::Mov => "mov",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            VideoContainer::Mp4 => "MP4",
            VideoContainer::Mov => "MOV",
        }
    }
}

impl fmt::Display for VideoContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A video's first video track (and first audio track, if any).
#[derive(Debug, Clone, PartialEq)]
pub struct VideoProbe {
    pub container: VideoContainer,
    /// "h264", "hevc", "av1", "vp9", "mpeg4", "prores", ... (see `mp4::VideoTrackInfo::codec`).
    pub codec: String,
    /// Displayed size: the stored size turned by `rotation`.
    pub width: u32,
    pub height: u32,
    /// Size of the frames as stored, before `rotation`.
    pub stored_width: u32,
    pub stored_height: u32,
    /// Clockwise rotation applied for display: 0, 90, 180 or 270.
    pub rotation: u16,
    /// Frames per second (exact for constant-rate tracks, else the average).
    pub fps: f64,
    pub frame_count: u64,
    /// The movie's duration, as players show it.
    pub duration_seconds: f64,
    pub audio: Option<AudioTrackInfo>,
}

impl VideoProbe {
    pub fn has_audio(&self) -> bool {
        self.audio.is_some()
    }
}

pub(crate) fn probe(bytes: &[u8], container: VideoContainer) -> Result<VideoProbe, ProbeError> {
    let format = MediaFormat::Video(container);
    let malformed = |reason: &str| ProbeError::Malformed {
        format,
        reason: reason.to_string(),
    };
    let info = mp4::inspect(bytes).map_err(|e| match e {
        InspectError::Truncated(_) => ProbeError::Truncated(format),
        InspectError::Malformed(reason) if reason.contains("cmov") => {
            ProbeError::Unsupported("a compressed QuickTime movie header".into())
        }
        InspectError::Malformed(reason) | InspectError::NotMp4(reason) => {
            ProbeError::Malformed { format, reason }
        }
    })?;
    let Some(video) = info.video else {
        let what = match container {
            VideoContainer::Mp4 => "an MP4 file without a video track",
            VideoContainer::Mov => "a MOV file without a video track",
        };
        return Err(ProbeError::Unsupported(what.into()));
    };
    if video.width == 0 || video.height == 0 {
        return Err(malformed("the video track has no frame size"));
    }
    if video.frame_count == 0 {
        return Err(malformed("the video track has no frames"));
    }
    if !(info.duration_seconds.is_finite() && info.duration_seconds > 0.0) {
        return Err(malformed("the video has no duration"));
    }
    if !(video.fps.is_finite() && video.fps > 0.0) {
        return Err(malformed("the video has no frame rate"));
    }
    let (width, height) = if video.rotation % 180 == 90 {
        (video.height, video.width)
    } else {
        (video.width, video.height)
    };
    Ok(VideoProbe {
        container,
        codec: video.codec,
        width,
        height,
        stored_width: video.width,
        stored_height: video.height,
        rotation: video.rotation,
        fps: video.fps,
        frame_count: video.frame_count,
        // A header can claim less time than its frames hold; the frames are what gets processed
        // (and billed), so the longer of the two stands.
        duration_seconds: info
            .duration_seconds
            .max(video.frame_count as f64 / video.fps),
        audio: info.audio,
    })
}

//! Media references. Every dialect carries media as URLs; the core accepts only absolute http(s)
//! URLs (reAPI: "base64 / data: URI media is not accepted"). Whether the address is safe to fetch
//! is the outbound fetcher's business, not the core's.

use crate::error::FieldPath;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An absolute http(s) URL with a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MediaUrl(url::Url);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaUrlError {
    #[error("must be a public http(s) URL; base64 and data: URIs are not accepted")]
    DataUri,
    #[error("must be an http(s) URL, got scheme `{0}`")]
    Scheme(String),
    #[error("is not a valid absolute URL")]
    Malformed,
    #[error("has no host")]
    NoHost,
    #[error("must not embed credentials")]
    Credentials,
}

impl MediaUrl {
    pub fn parse(raw: &str) -> Result<Self, MediaUrlError> {
        let trimmed = raw.trim();
        if crate::text::starts_with_ignore_ascii_case(trimmed, "data:") {
            return Err(MediaUrlError::DataUri);
        }
        let url = url::Url::parse(trimmed).map_err(|_| {
            // A long string with no scheme is almost certainly inline base64.
            if trimmed.len() > 256 && !trimmed.contains("://") {
                MediaUrlError::DataUri
            } else {
                MediaUrlError::Malformed
            }
        })?;
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(MediaUrlError::Scheme(other.to_string())),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(MediaUrlError::NoHost);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(MediaUrlError::Credentials);
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

impl TryFrom<String> for MediaUrl {
    type Error = MediaUrlError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MediaUrl> for String {
    fn from(value: MediaUrl) -> Self {
        value.0.into()
    }
}

impl fmt::Display for MediaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https() {
        assert!(MediaUrl::parse("https://example.com/a.jpg").is_ok());
        assert!(MediaUrl::parse("http://127.0.0.1:9000/a.png").is_ok());
    }

    #[test]
    fn rejects_data_uris_and_base64() {
        assert_eq!(
            MediaUrl::parse("data:image/png;base64,iVBORw0KGgo="),
            Err(MediaUrlError::DataUri)
        );
        assert_eq!(
            MediaUrl::parse("DATA:image/png;base64,AAAA"),
            Err(MediaUrlError::DataUri)
        );
        let b64 = "iVBORw0KGgo".repeat(40);
        assert_eq!(MediaUrl::parse(&b64), Err(MediaUrlError::DataUri));
    }

    #[test]
    fn rejects_other_schemes_and_junk() {
        assert!(matches!(
            MediaUrl::parse("ftp://x/a.jpg"),
            Err(MediaUrlError::Scheme(_))
        ));
        assert!(matches!(
            MediaUrl::parse("file:///etc/passwd"),
            Err(MediaUrlError::Scheme(_))
        ));
        assert_eq!(MediaUrl::parse("not a url"), Err(MediaUrlError::Malformed));
        assert_eq!(
            MediaUrl::parse("https://user:pw@example.com/a.jpg"),
            Err(MediaUrlError::Credentials)
        );
    }
}

/// The MIME type of a file format or file extension (`jpeg` or `jpg`, `mp4`, ...).
pub fn content_type(format_or_extension: &str) -> &'static str {
    match format_or_extension.to_ascii_lowercase().as_str() {
        "jpeg" | "jpg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tiff" | "tif" => "image/tiff",
        "gif" => "image/gif",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

/// The usual file extension of a format.
pub fn extension(format: &str) -> &str {
    match format {
        "jpeg" => "jpg",
        "tiff" => "tif",
        other => other,
    }
}

/// What kind of medium a URL is expected to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
        }
    }
}

/// What a probe measured of one medium, in the core's own terms (probes live outside the core).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaFacts {
    pub kind: MediaKind,
    /// `jpeg`, `png`, `mp4`, `mov`, `wav`, `mp3`, …
    pub format: String,
    pub size_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
}

/// A model's limits on reference media (HiAPI and APIXO seeds for Seedance 2.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MediaLimits {
    pub image_formats: Vec<String>,
    pub image_min_edge: u32,
    pub image_max_edge: u32,
    /// Strictly less than this many bytes.
    pub image_max_bytes: u64,
    pub min_aspect: f64,
    pub max_aspect: f64,
    pub video_formats: Vec<String>,
    pub video_min_seconds: f64,
    pub video_max_seconds: f64,
    pub video_total_max_seconds: f64,
    pub video_min_fps: f64,
    pub video_max_fps: f64,
    pub video_min_pixels: u64,
    pub video_max_pixels: u64,
    pub video_max_bytes: u64,
    pub audio_formats: Vec<String>,
    pub audio_min_seconds: f64,
    pub audio_max_seconds: f64,
    pub audio_total_max_seconds: f64,
    pub audio_max_bytes: u64,
}

const MB: u64 = 1024 * 1024;
/// Container timescales make 2 s come out as 1.99999…; this much slack is not a loophole.
const SECONDS_SLACK: f64 = 0.01;

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            image_formats: ["jpeg", "png", "webp", "bmp", "tiff", "gif"]
                .map(String::from)
                .to_vec(),
            image_min_edge: 300,
            image_max_edge: 6000,
            image_max_bytes: 30 * MB,
            min_aspect: 0.4,
            max_aspect: 2.5,
            video_formats: ["mp4", "mov"].map(String::from).to_vec(),
            video_min_seconds: 2.0,
            video_max_seconds: 15.0,
            video_total_max_seconds: 15.0,
            video_min_fps: 24.0,
            video_max_fps: 60.0,
            video_min_pixels: 409_600,
            video_max_pixels: 927_408,
            video_max_bytes: 50 * MB,
            audio_formats: ["wav", "mp3"].map(String::from).to_vec(),
            audio_min_seconds: 2.0,
            audio_max_seconds: 15.0,
            audio_total_max_seconds: 15.0,
            audio_max_bytes: 15 * MB,
        }
    }
}

fn mb(bytes: u64) -> String {
    format!("{} MB", bytes / MB)
}

impl MediaLimits {
    /// Checks one probed medium against the limits for its field. `field` names it in errors
    /// (`reference_video_urls[1]`).
    pub fn check(
        &self,
        field: &FieldPath,
        expected: MediaKind,
        facts: &MediaFacts,
    ) -> Result<(), crate::ValidationError> {
        let fail = |reason: String| Err(crate::ValidationError::invalid(field.clone(), &reason));
        if facts.kind != expected {
            return fail(format!(
                "expected {} but the URL holds {} ({})",
                article(expected),
                article(facts.kind),
                facts.format
            ));
        }
        let (formats, max_bytes) = match expected {
            MediaKind::Image => (&self.image_formats, self.image_max_bytes),
            MediaKind::Video => (&self.video_formats, self.video_max_bytes),
            MediaKind::Audio => (&self.audio_formats, self.audio_max_bytes),
        };
        if !formats
            .iter()
            .any(|f| f.eq_ignore_ascii_case(&facts.format))
        {
            return fail(format!(
                "format {} is not accepted; use {}",
                facts.format,
                formats.join(", ")
            ));
        }
        if facts.size_bytes >= max_bytes {
            return fail(format!(
                "is {} bytes; {} files must be under {}",
                facts.size_bytes,
                expected.as_str(),
                mb(max_bytes)
            ));
        }
        if matches!(expected, MediaKind::Image | MediaKind::Video) {
            let (w, h) = (facts.width.unwrap_or(0), facts.height.unwrap_or(0));
            if w < self.image_min_edge
                || h < self.image_min_edge
                || w > self.image_max_edge
                || h > self.image_max_edge
            {
                return fail(format!(
                    "is {w}×{h}; each edge must be {}–{} px",
                    self.image_min_edge, self.image_max_edge
                ));
            }
            let aspect = f64::from(w) / f64::from(h);
            if aspect < self.min_aspect || aspect > self.max_aspect {
                return fail(format!(
                    "has aspect ratio {aspect:.2}; width/height must be {}–{}",
                    self.min_aspect, self.max_aspect
                ));
            }
        }
        let seconds = facts.duration_seconds.unwrap_or(0.0);
        match expected {
            MediaKind::Image => {}
            MediaKind::Video => {
                if seconds < self.video_min_seconds - SECONDS_SLACK
                    || seconds > self.video_max_seconds + SECONDS_SLACK
                {
                    return fail(format!(
                        "is {seconds:.2} s long; each video must be {}–{} s",
                        self.video_min_seconds, self.video_max_seconds
                    ));
                }
                let fps = facts.fps.unwrap_or(0.0);
                if fps < self.video_min_fps - 0.01 || fps > self.video_max_fps + 0.01 {
                    return fail(format!(
                        "runs at {fps:.2} fps; videos must be {}–{} fps",
                        self.video_min_fps, self.video_max_fps
                    ));
                }
                let pixels =
                    u64::from(facts.width.unwrap_or(0)) * u64::from(facts.height.unwrap_or(0));
                if pixels < self.video_min_pixels || pixels > self.video_max_pixels {
                    return fail(format!(
                        "has {pixels} pixels per frame; videos must have {}–{} (480p or 720p)",
                        self.video_min_pixels, self.video_max_pixels
                    ));
                }
            }
            MediaKind::Audio => {
                if seconds < self.audio_min_seconds - SECONDS_SLACK
                    || seconds > self.audio_max_seconds + SECONDS_SLACK
                {
                    return fail(format!(
                        "is {seconds:.2} s long; each audio clip must be {}–{} s",
                        self.audio_min_seconds, self.audio_max_seconds
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks the summed durations of the reference videos and audio clips.
    pub fn check_totals(
        &self,
        video_seconds: &[f64],
        audio_seconds: &[f64],
    ) -> Result<(), crate::ValidationError> {
        let videos: f64 = video_seconds.iter().sum();
        if videos > self.video_total_max_seconds + SECONDS_SLACK {
            return Err(crate::ValidationError::invalid(
                "reference_video_urls",
                &format!(
                    "total {videos:.2} s; reference videos may total at most {} s",
                    self.video_total_max_seconds
                ),
            ));
        }
        let audios: f64 = audio_seconds.iter().sum();
        if audios > self.audio_total_max_seconds + SECONDS_SLACK {
            return Err(crate::ValidationError::invalid(
                "reference_audio_urls",
                &format!(
                    "total {audios:.2} s; reference audio may total at most {} s",
                    self.audio_total_max_seconds
                ),
            ));
        }
        Ok(())
    }
}

fn article(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "an image",
        MediaKind::Video => "a video",
        MediaKind::Audio => "an audio clip",
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    fn image(w: u32, h: u32) -> MediaFacts {
        MediaFacts {
            kind: MediaKind::Image,
            format: "png".into(),
            size_bytes: 1000,
            width: Some(w),
            height: Some(h),
            duration_seconds: None,
            fps: None,
            codec: None,
        }
    }

    fn video(w: u32, h: u32, secs: f64, fps: f64) -> MediaFacts {
        MediaFacts {
            kind: MediaKind::Video,
            format: "mp4".into(),
            size_bytes: 1000,
            width: Some(w),
            height: Some(h),
            duration_seconds: Some(secs),
            fps: Some(fps),
            codec: Some("h264".into()),
        }
    }

    fn audio(secs: f64) -> MediaFacts {
        MediaFacts {
            kind: MediaKind::Audio,
            format: "wav".into(),
            size_bytes: 1000,
            width: None,
            height: None,
            duration_seconds: Some(secs),
            fps: None,
            codec: None,
        }
    }

    #[test]
    fn image_limits() {
        let l = MediaLimits::default();
        let f = &FieldPath::new("first_frame_url");
        assert!(l.check(f, MediaKind::Image, &image(300, 300)).is_ok());
        assert!(l.check(f, MediaKind::Image, &image(6000, 4000)).is_ok());
        assert!(l.check(f, MediaKind::Image, &image(299, 400)).is_err());
        assert!(l.check(f, MediaKind::Image, &image(6001, 4000)).is_err());
        assert!(
            l.check(f, MediaKind::Image, &image(1000, 399)).is_err(),
            "aspect 2.506 > 2.5"
        );
        assert!(
            l.check(f, MediaKind::Image, &image(1000, 400)).is_ok(),
            "aspect 2.5 exactly"
        );
        let mut big = image(1000, 1000);
        big.size_bytes = 30 * MB;
        assert!(
            l.check(f, MediaKind::Image, &big).is_err(),
            "under 30 MB, strictly"
        );
        let mut gif = image(500, 500);
        gif.format = "heic".into();
        assert!(l.check(f, MediaKind::Image, &gif).is_err());
        assert!(
            l.check(f, MediaKind::Image, &video(640, 640, 3.0, 24.0))
                .is_err(),
            "wrong kind"
        );
    }

    #[test]
    fn video_limits() {
        let l = MediaLimits::default();
        let f = &FieldPath::at("reference_video_urls", 0);
        assert!(l
            .check(f, MediaKind::Video, &video(640, 640, 5.0, 24.0))
            .is_ok());
        assert!(
            l.check(f, MediaKind::Video, &video(834, 1112, 15.0, 60.0))
                .is_ok(),
            "927408 px exactly"
        );
        assert!(
            l.check(f, MediaKind::Video, &video(1280, 730, 5.0, 24.0))
                .is_err(),
            "too many pixels"
        );
        assert!(
            l.check(f, MediaKind::Video, &video(600, 600, 5.0, 24.0))
                .is_err(),
            "360000 px too few"
        );
        assert!(l
            .check(f, MediaKind::Video, &video(640, 640, 1.9, 24.0))
            .is_err());
        assert!(
            l.check(f, MediaKind::Video, &video(640, 640, 1.995, 24.0))
                .is_ok(),
            "timescale slack"
        );
        assert!(l
            .check(f, MediaKind::Video, &video(640, 640, 15.5, 24.0))
            .is_err());
        assert!(l
            .check(f, MediaKind::Video, &video(640, 640, 5.0, 23.0))
            .is_err());
        assert!(l
            .check(f, MediaKind::Video, &video(640, 640, 5.0, 61.0))
            .is_err());
        assert!(l.check_totals(&[7.0, 8.0], &[]).is_ok());
        assert!(l.check_totals(&[7.0, 8.5], &[]).is_err());
    }

    #[test]
    fn audio_limits() {
        let l = MediaLimits::default();
        let f = &FieldPath::at("reference_audio_urls", 0);
        assert!(l.check(f, MediaKind::Audio, &audio(2.0)).is_ok());
        assert!(l.check(f, MediaKind::Audio, &audio(1.5)).is_err());
        assert!(l.check(f, MediaKind::Audio, &audio(16.0)).is_err());
        assert!(l.check_totals(&[], &[10.0, 6.0]).is_err());
    }
}

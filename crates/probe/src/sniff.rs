//! Format detection by magic bytes only.
//!
//! Besides the supported formats, a few common ones that clients send by mistake (WebM, HEIC,
//! M4A, FLAC, an HTML error page, ...) are recognised so that the error names them instead of
//! saying "unrecognized".

use crate::audio::mp3;
use crate::bytes::Bytes;
use crate::{AudioFormat, ImageFormat, MediaFormat, ProbeError, VideoContainer};

/// The format of `bytes`, from its first bytes. Known but unsupported formats are
/// `Unsupported`; anything else is `Unrecognized`.
pub fn sniff(bytes: &[u8]) -> Result<MediaFormat, ProbeError> {
    let unsupported = |what: &str| Err(ProbeError::Unsupported(what.to_string()));
    let image = |f| Ok(MediaFormat::Image(f));
    let at = |range: std::ops::Range<usize>| bytes.get(range).unwrap_or_default();

    if bytes.starts_with(b"\xFF\xD8\xFF") {
        return image(ImageFormat::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1A\n") {
        return image(ImageFormat::Png);
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        return image(ImageFormat::Gif);
    }
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return image(ImageFormat::Tiff);
    }
    if bytes.starts_with(b"II+\0") || bytes.starts_with(b"MM\0+") {
        return unsupported("BigTIFF");
    }
    if is_bmp(bytes) {
        return image(ImageFormat::Bmp);
    }
    match (at(0..4), at(8..12)) {
        (b"RIFF", b"WEBP") => return image(ImageFormat::Webp),
        (b"RIFF", b"WAVE") => return Ok(MediaFormat::Audio(AudioFormat::Wav)),
        (b"RIFF", b"AVI ") => return unsupported("AVI video"),
        (b"RF64" | b"BW64", b"WAVE") => return unsupported("RF64 WAV"),
        (b"RIFX", b"WAVE") => return unsupported("big-endian WAV (RIFX)"),
        (b"FORM", b"AIFF" | b"AIFC") => return unsupported("AIFF audio"),
        _ => {}
    }
    // MPEG audio first: a frame header read as a box size would be a 4 GB box.
    if let Some(result) = sniff_mpeg_audio(bytes) {
        return result;
    }
    if let Some(result) = sniff_iso_bmff(bytes) {
        return result;
    }
    if bytes.starts_with(b"\x1A\x45\xDF\xA3") {
        return unsupported("WebM/Matroska video");
    }
    if bytes.starts_with(b"OggS") {
        return unsupported("Ogg audio");
    }
    if bytes.starts_with(b"fLaC") {
        return unsupported("FLAC audio");
    }
    if bytes.first() == Some(&0x47) && bytes.get(188) == Some(&0x47) {
        return unsupported("MPEG-TS video");
    }
    if let Some(what) = sniff_markup(bytes) {
        return unsupported(what);
    }
    Err(ProbeError::Unrecognized { expected: None })
}

/// "BM" is too short a magic on its own (text can start with it), so the DIB header size must
/// also be one that exists. A "BM" file too short to tell is taken as a cut-off bitmap.
fn is_bmp(bytes: &[u8]) -> bool {
    if !bytes.starts_with(b"BM") {
        return false;
    }
    let Some(&[a, b, c, d]) = bytes.get(14..18) else {
        return true;
    };
    let header = u32::from_le_bytes([a, b, c, d]);
    header == 12 || (16..=124).contains(&header)
}

/// QuickTime and ISO base media files: a box header, usually `ftyp` with a brand that tells
/// an MP4 from a QuickTime movie, and from HEIF/AVIF images and M4A audio that share the
/// container.
fn sniff_iso_bmff(bytes: &[u8]) -> Option<Result<MediaFormat, ProbeError>> {
    let kind: &[u8; 4] = bytes.get(4..8)?.try_into().ok()?;
    let size = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?);
    if size != 0 && size != 1 && size < 8 {
        return None;
    }
    let video = |c| Some(Ok(MediaFormat::Video(c)));
    let unsupported = |what: &str| Some(Err(ProbeError::Unsupported(what.to_string())));
    if kind == b"ftyp" {
        let Some(brand) = bytes.get(8..12) else {
            return Some(Err(ProbeError::Truncated(MediaFormat::Video(
                VideoContainer::Mp4,
            ))));
        };
        return match brand {
            b"qt  " => video(VideoContainer::Mov),
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => {
                unsupported("HEIC/HEIF image")
            }
            b"avif" | b"avis" => unsupported("AVIF image"),
            b"M4A " | b"M4B " | b"M4P " => unsupported("M4A audio"),
            _ => video(VideoContainer::Mp4),
        };
    }
    // Without `ftyp`: old QuickTime movies start straight with these; ISO files always have
    // an `ftyp` (or `styp` for a fragment).
    match kind {
        b"moov" | b"mdat" | b"wide" | b"free" | b"skip" | b"pnot" => video(VideoContainer::Mov),
        _ if crate::mp4::TOP_LEVEL.contains(&kind) => video(VideoContainer::Mp4),
        _ => None,
    }
}

/// MP3: an ID3v2 tag, or a valid MPEG audio frame header at the very start. Other formats
/// that can hide behind an ID3 tag (FLAC, raw AAC) are told apart here.
fn sniff_mpeg_audio(bytes: &[u8]) -> Option<Result<MediaFormat, ProbeError>> {
    let mp3 = Some(Ok(MediaFormat::Audio(AudioFormat::Mp3)));
    let unsupported = |what: &str| Some(Err(ProbeError::Unsupported(what.to_string())));
    let after_tags = if bytes.starts_with(b"ID3") {
        match mp3::skip_id3v2(Bytes::new(bytes, MediaFormat::Audio(AudioFormat::Mp3))) {
            Ok(end) => &bytes[end..],
            Err(_) => return mp3, // a cut tag: let the MP3 parser report it
        }
    } else {
        bytes
    };
    if after_tags.starts_with(b"fLaC") {
        return unsupported("FLAC audio");
    }
    // ADTS: a sync word with layer bits 00, which MPEG audio reserves.
    if let [0xFF, b, ..] = after_tags {
        if b & 0xF6 == 0xF0 {
            return unsupported("AAC (ADTS) audio");
        }
    }
    if bytes.starts_with(b"ID3") {
        return mp3;
    }
    if mp3::starts_with_frame(after_tags) {
        return mp3;
    }
    None
}

/// Text where media was expected: usually an error page served instead of the file.
fn sniff_markup(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(1024)];
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = String::from_utf8_lossy(&text[start..]).to_ascii_lowercase();
    if text.starts_with("<svg") || (text.starts_with("<?xml") && text.contains("<svg")) {
        Some("SVG image")
    } else if text.starts_with("<!doctype html") || text.starts_with("<html") {
        Some("an HTML page (not a media file)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsupported(bytes: &[u8]) -> String {
        match sniff(bytes) {
            Err(ProbeError::Unsupported(what)) => what,
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn names_formats_clients_send_by_mistake() {
        assert_eq!(
            unsupported(b"\x1A\x45\xDF\xA3\x01\x00\x00\x00"),
            "WebM/Matroska video"
        );
        assert_eq!(
            unsupported(b"\0\0\0\x18ftypheic\0\0\0\0"),
            "HEIC/HEIF image"
        );
        assert_eq!(unsupported(b"\0\0\0\x18ftypavif\0\0\0\0"), "AVIF image");
        assert_eq!(unsupported(b"\0\0\0\x18ftypM4A \0\0\0\0"), "M4A audio");
        assert_eq!(unsupported(b"fLaC\0\0\0\x22"), "FLAC audio");
        assert_eq!(unsupported(b"OggS\0\x02"), "Ogg audio");
        assert_eq!(unsupported(b"RIFF\0\0\0\0AVI LIST"), "AVI video");
        assert_eq!(
            unsupported(b"\xFF\xF1\x50\x80\x02\x1F\xFC"),
            "AAC (ADTS) audio"
        );
        assert_eq!(unsupported(b"ID3\x04\0\0\0\0\0\0fLaC"), "FLAC audio");
        assert_eq!(
            unsupported(b"\n  <!DOCTYPE html><html><body>404</body></html>"),
            "an HTML page (not a media file)"
        );
        assert_eq!(
            unsupported(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            "SVG image"
        );
    }

    #[test]
    fn text_starting_like_a_bitmap_is_not_one() {
        assert!(matches!(
            sniff(b"BMW of North America, LLC; a long enough line of text"),
            Err(ProbeError::Unrecognized { .. })
        ));
    }

    #[test]
    fn quicktime_without_ftyp_is_mov() {
        assert_eq!(
            sniff(b"\0\0\0\x08wide\0\0\0\x10mdat"),
            Ok(MediaFormat::Video(VideoContainer::Mov))
        );
    }

    #[test]
    fn nothing_and_garbage_are_unrecognized() {
        for bytes in [&b""[..], b"\0", b"hello", &[0u8; 64], &[0xAB; 300]] {
            assert!(
                matches!(sniff(bytes), Err(ProbeError::Unrecognized { .. })),
                "{bytes:?}"
            );
        }
    }
}

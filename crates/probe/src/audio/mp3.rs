//! MP3 (MPEG-1/2/2.5 audio, Layers I-III), measured by walking its frame headers.
//!
//! ID3v2 tags at the start are skipped by their stated size. The stream is then locked onto:
//! the first frame header (within a short search window) that begins a chain of at least
//! `MIN_LOCK` valid frames of the same version, layer and sample rate, or a shorter chain that
//! runs cleanly to the end of the file. From there every frame header is read and validated,
//! and the walk stops at the first one that is invalid or belongs to another stream; the
//! duration is the number of complete frames times the samples per frame.
//!
//! A Xing/Info or VBRI header in the first frame marks that frame as metadata (it is not
//! counted, as decoders skip it). Its frame count is trusted only when the walk could not reach
//! the end of the stream (garbage in the middle of the file): when it can, the frames actually
//! present are the truth, and a header claiming otherwise is ignored. A file cut mid-stream is
//! measured by its complete frames, as players play it.

use super::{AudioFormat, AudioProbe};
use crate::bytes::Bytes;
use crate::ProbeError;

/// Consecutive valid frames needed to accept a stream that does not run to the end of the file.
const MIN_LOCK: u64 = 4;
/// How far past the tags the first frame is looked for.
const SEARCH_WINDOW: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Mpeg1,
    Mpeg2,
    Mpeg25,
}

/// A validated MPEG audio frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameHeader {
    version: Version,
    /// 1, 2 or 3.
    layer: u8,
    /// A 16-bit CRC follows the header.
    crc: bool,
    /// kbit/s.
    bitrate: u32,
    sample_rate: u32,
    padding: bool,
    mono: bool,
}

/// kbit/s by [table][index]; index 0 is "free format" and 15 is invalid.
const BITRATES: [[u16; 15]; 5] = [
    [
        0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
    ], // MPEG-1 Layer I
    [
        0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
    ], // MPEG-1 Layer II
    [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
    ], // MPEG-1 Layer III
    [
        0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
    ], // MPEG-2/2.5 Layer I
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160], // MPEG-2/2.5 II, III
];

impl FrameHeader {
    /// Parses and validates a 4-byte header. Free-format streams (bitrate index 0) are not
    /// accepted: their frame length is not in the header.
    fn parse(b: [u8; 4]) -> Option<Self> {
        if b[0] != 0xFF || b[1] & 0xE0 != 0xE0 {
            return None;
        }
        let version = match (b[1] >> 3) & 0b11 {
            0b00 => Version::Mpeg25,
            0b10 => Version::Mpeg2,
            0b11 => Version::Mpeg1,
            _ => return None,
        };
        let layer = match (b[1] >> 1) & 0b11 {
            0b01 => 3,
            0b10 => 2,
            0b11 => 1,
            _ => return None,
        };
        let bitrate_index = usize::from(b[2] >> 4);
        let rate_index = usize::from((b[2] >> 2) & 0b11);
        if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
            return None;
        }
        if b[3] & 0b11 == 0b10 {
            return None; // reserved emphasis
        }
        let table = match (version, layer) {
            (Version::Mpeg1, l) => usize::from(l) - 1,
            (_, 1) => 3,
            _ => 4,
        };
        let base_rate = [44_100, 48_000, 32_000][rate_index];
        Some(FrameHeader {
            version,
            layer,
            crc: b[1] & 1 == 0,
            bitrate: u32::from(BITRATES[table][bitrate_index]),
            sample_rate: match version {
                Version::Mpeg1 => base_rate,
                Version::Mpeg2 => base_rate / 2,
                Version::Mpeg25 => base_rate / 4,
            },
            padding: b[2] & 0b10 != 0,
            mono: b[3] >> 6 == 0b11,
        })
    }

    fn at(data: &[u8], pos: usize) -> Option<Self> {
        match data.get(pos..pos.checked_add(4)?)? {
            &[a, b, c, d] => Self::parse([a, b, c, d]),
            _ => None,
        }
    }

    /// Whole frame length in bytes, header included.
    fn frame_len(&self) -> usize {
        let bits_per_second = self.bitrate * 1000;
        let pad = u32::from(self.padding);
        let len = match (self.layer, self.version) {
            (1, _) => (12 * bits_per_second / self.sample_rate + pad) * 4,
            (3, Version::Mpeg2 | Version::Mpeg25) => 72 * bits_per_second / self.sample_rate + pad,
            _ => 144 * bits_per_second / self.sample_rate + pad,
        };
        len as usize
    }

    fn samples_per_frame(&self) -> u32 {
        match (self.layer, self.version) {
            (1, _) => 384,
            (3, Version::Mpeg2 | Version::Mpeg25) => 576,
            _ => 1152,
        }
    }

    /// Frames of one stream share version, layer and sample rate.
    fn same_stream(&self, other: &Self) -> bool {
        (self.version, self.layer, self.sample_rate)
            == (other.version, other.layer, other.sample_rate)
    }

    fn codec(&self) -> &'static str {
        match self.layer {
            1 => "mp1",
            2 => "mp2",
            _ => "mp3",
        }
    }
}

/// Whether `bytes` start with a frame header, free-format ones included (for sniffing:
/// the parser then names free format as unsupported).
pub(crate) fn starts_with_frame(bytes: &[u8]) -> bool {
    FrameHeader::at(bytes, 0).is_some() || is_free_format(bytes.get(..4))
}

/// A header that would be valid but for its "free format" bitrate index.
fn is_free_format(header: Option<&[u8]>) -> bool {
    match header {
        Some(&[a, b, c, d]) => c >> 4 == 0 && FrameHeader::parse([a, b, c | 0x10, d]).is_some(),
        _ => false,
    }
}

/// The end of the ID3v2 tags at the start of `bytes` (0 when there are none).
pub(crate) fn skip_id3v2(bytes: Bytes<'_>) -> Result<usize, ProbeError> {
    let mut pos = 0;
    // Some files carry several tags in a row.
    while bytes.data.get(pos..).is_some_and(|d| d.starts_with(b"ID3")) {
        let header = bytes.slice(pos, 10)?;
        let size = &header[6..10];
        if header[3] == 0xFF || header[4] == 0xFF || size.iter().any(|&b| b >= 0x80) {
            return Err(bytes.malformed("bad ID3 tag header"));
        }
        // The size is "synchsafe": 7 bits per byte. A footer (ID3v2.4 flag) adds 10 bytes.
        let size = size.iter().fold(0usize, |n, &b| (n << 7) | usize::from(b));
        let footer = if header[5] & 0x10 != 0 { 10 } else { 0 };
        pos = bytes.end_of(pos, 10 + size as u64 + footer)?;
    }
    Ok(pos)
}

/// How a walk over the frames ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// At the end of the file, a trailing tag, zero padding, or a frame cut by the end.
    End,
    /// At bytes that are none of those.
    Junk,
}

struct Walk {
    frames: u64,
    stop: Stop,
}

/// Counts the complete frames of `first`'s stream from `pos`.
fn walk(data: &[u8], mut pos: usize, first: &FrameHeader) -> Walk {
    let mut frames = 0;
    while let Some(header) = FrameHeader::at(data, pos).filter(|h| h.same_stream(first)) {
        let end = pos + header.frame_len();
        if end > data.len() {
            break;
        }
        frames += 1;
        pos = end;
    }
    let rest = &data[pos.min(data.len())..];
    let cut_frame = FrameHeader::at(data, pos).is_some_and(|h| h.same_stream(first));
    let clean = rest.len() < 4
        || cut_frame
        || [&b"TAG"[..], b"APETAGEX", b"LYRICSBEGIN", b"ID3"]
            .iter()
            .any(|tag| rest.starts_with(tag))
        || rest.iter().all(|&b| b == 0);
    Walk {
        frames,
        stop: if clean { Stop::End } else { Stop::Junk },
    }
}

/// A Xing/Info (LAME and most encoders) or VBRI (Fraunhofer) header in the first frame.
struct InfoFrame {
    frames: Option<u32>,
    /// Stream length in bytes, as the encoder wrote it.
    bytes: Option<u32>,
}

fn info_frame(data: &[u8], pos: usize, header: &FrameHeader) -> Option<InfoFrame> {
    let frame = data.get(pos..pos + header.frame_len())?;
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = frame.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    };
    if header.layer != 3 {
        return None;
    }
    // Xing sits after the side information, whose size depends on version and channels.
    let side_info = match (header.version, header.mono) {
        (Version::Mpeg1, false) => 32,
        (Version::Mpeg1, true) | (_, false) => 17,
        (_, true) => 9,
    };
    // Encoders disagree on whether a CRC moves it, so both places are tried.
    for at in [4 + side_info, 6 + side_info] {
        let tag = frame.get(at..at + 4);
        if tag == Some(b"Xing") || tag == Some(b"Info") {
            let flags = u32_at(at + 4)?;
            let mut field = at + 8;
            let frames = if flags & 1 != 0 {
                field += 4;
                Some(u32_at(field - 4)?)
            } else {
                None
            };
            let bytes = if flags & 2 != 0 {
                Some(u32_at(field)?)
            } else {
                None
            };
            return Some(InfoFrame { frames, bytes });
        }
    }
    // VBRI: always 32 bytes after the header; version, delay, quality, bytes, frames.
    if frame.get(36..40) == Some(b"VBRI") {
        return Some(InfoFrame {
            bytes: Some(u32_at(36 + 10)?),
            frames: Some(u32_at(36 + 14)?),
        });
    }
    None
}

pub(super) fn read(bytes: Bytes<'_>) -> Result<AudioProbe, ProbeError> {
    let data = bytes.data;
    let start = skip_id3v2(bytes)?;
    if start >= data.len() {
        return Err(bytes.truncated());
    }
    let search_end = data.len().min(start.saturating_add(SEARCH_WINDOW));
    let mut cut_frame = false;
    let mut free_format = false;
    let mut locked = None;
    for pos in start..search_end {
        if data[pos] != 0xFF {
            continue;
        }
        let Some(header) = FrameHeader::at(data, pos) else {
            free_format |= pos == start && is_free_format(data.get(pos..pos + 4));
            continue;
        };
        let walk = walk(data, pos, &header);
        if walk.frames >= MIN_LOCK || (walk.frames > 0 && walk.stop == Stop::End) {
            locked = Some((pos, header, walk));
            break;
        }
        cut_frame |= walk.frames == 0 && pos + header.frame_len() > data.len();
    }
    let Some((pos, first, walk)) = locked else {
        return Err(if cut_frame {
            bytes.truncated()
        } else if free_format {
            ProbeError::Unsupported("free-format MP3 (no fixed bitrate)".into())
        } else {
            bytes.malformed("no MPEG audio frames")
        });
    };

    let info = info_frame(data, pos, &first);
    let walked = walk.frames - u64::from(info.is_some());
    let frames = match info {
        // The header's count, only when the walk stopped at garbage before the real end,
        // and only when it claims more than was walked and no more bytes than there are.
        Some(InfoFrame {
            frames: Some(n),
            bytes: stated,
        }) if walk.stop == Stop::Junk
            && u64::from(n) > walked
            && stated.is_none_or(|b| b as usize <= data.len()) =>
        {
            u64::from(n)
        }
        _ => walked,
    };
    Ok(AudioProbe {
        format: AudioFormat::Mp3,
        codec: first.codec(),
        duration_seconds: (frames * u64::from(first.samples_per_frame())) as f64
            / f64::from(first.sample_rate),
        sample_rate: first.sample_rate,
        channels: if first.mono { 1 } else { 2 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths_match_the_standard() {
        // MPEG-1 Layer III, 128 kb/s, 44.1 kHz: 417 bytes, 418 with padding.
        let h = FrameHeader::parse([0xFF, 0xFB, 0x90, 0x64]).expect("valid");
        assert_eq!(
            (h.bitrate, h.sample_rate, h.frame_len()),
            (128, 44_100, 417)
        );
        let h = FrameHeader::parse([0xFF, 0xFB, 0x92, 0x64]).expect("valid");
        assert_eq!(h.frame_len(), 418);
        // MPEG-2 Layer III, 64 kb/s, 22.05 kHz, mono: 72 * 64000 / 22050 = 208.
        let h = FrameHeader::parse([0xFF, 0xF3, 0x80, 0xC4]).expect("valid");
        assert_eq!((h.bitrate, h.sample_rate, h.mono), (64, 22_050, true));
        assert_eq!((h.frame_len(), h.samples_per_frame()), (208, 576));
        // MPEG-1 Layer II, 192 kb/s, 48 kHz: 576 bytes.
        let h = FrameHeader::parse([0xFF, 0xFD, 0xA4, 0x04]).expect("valid");
        assert_eq!(
            (h.layer, h.frame_len(), h.samples_per_frame()),
            (2, 576, 1152)
        );
        // MPEG-1 Layer I, 384 kb/s, 48 kHz: (12 * 384000 / 48000) * 4 = 384.
        let h = FrameHeader::parse([0xFF, 0xFF, 0xC4, 0x04]).expect("valid");
        assert_eq!(
            (h.layer, h.frame_len(), h.samples_per_frame()),
            (1, 384, 384)
        );
    }

    #[test]
    fn invalid_headers_are_refused() {
        for header in [
            [0xFF, 0xFB, 0xF0, 0x64], // bitrate index 15
            [0xFF, 0xFB, 0x00, 0x64], // free format
            [0xFF, 0xFB, 0x9C, 0x64], // sample rate index 3
            [0xFF, 0xEB, 0x90, 0x64], // reserved version
            [0xFF, 0xF9, 0x90, 0x64], // reserved layer
            [0xFF, 0xFB, 0x90, 0x66], // reserved emphasis
            [0xFE, 0xFB, 0x90, 0x64], // no sync
        ] {
            assert_eq!(FrameHeader::parse(header), None, "{header:02x?}");
        }
    }
}

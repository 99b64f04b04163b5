//! WAV (RIFF/WAVE): the `fmt ` chunk gives the encoding, and the duration is the `data`
//! chunk's whole sample frames over the sample rate.
//!
//! The rate is computed from the sample rate and block size rather than taken from the
//! header's "average bytes per second", which a writer can get wrong without any player
//! noticing. A `data` size larger than the file (a cut file, or 0xFFFFFFFF from a writer that
//! streamed and could not go back) is clamped to the bytes present, as players do. The RIFF
//! size is ignored for the same reason.

use super::{AudioFormat, AudioProbe};
use crate::bytes::Bytes;
use crate::ProbeError;

const PCM: u16 = 0x0001;
const IEEE_FLOAT: u16 = 0x0003;
const ALAW: u16 = 0x0006;
const MULAW: u16 = 0x0007;
const EXTENSIBLE: u16 = 0xFFFE;
/// The sub-format GUID of WAVE_FORMAT_EXTENSIBLE is the format code followed by these bytes.
const GUID_TAIL: &[u8; 14] = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71";

struct Fmt {
    codec: &'static str,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
}

pub(super) fn read(bytes: Bytes<'_>) -> Result<AudioProbe, ProbeError> {
    let mut fmt = None;
    let mut data_len = None;
    let mut pos = 12; // after "RIFF", size, "WAVE"
    while pos < bytes.len() {
        let (kind, len) = match (bytes.slice(pos, 4), bytes.u32_le(pos + 4)) {
            (Ok(kind), Ok(len)) => (kind, len),
            // A few stray bytes after the audio are harmless; before it, the file is cut.
            _ if data_len.is_some() => break,
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        let body = pos + 8;
        let present = bytes.len() - body.min(bytes.len());
        if kind == b"data" {
            let len = (len as usize).min(present);
            data_len = Some(len);
            if fmt.is_some() || len == present {
                break; // nothing after the data matters (or can be found)
            }
        } else if kind == b"fmt " {
            fmt = Some(parse_fmt(Bytes::new(
                bytes.slice(body, len as usize)?,
                bytes.format,
            ))?);
        } else if len as usize > present {
            if data_len.is_some() {
                break; // a cut chunk after the audio: the audio is complete
            }
            return Err(bytes.truncated());
        }
        pos = body + len as usize;
        // Chunks are padded to an even length, but some writers forget: follow the pad only
        // when a chunk name is there.
        if len % 2 == 1 && bytes.slice(pos + 1, 4).is_ok_and(is_chunk_name) {
            pos += 1;
        }
    }
    let Some(fmt) = fmt else {
        return Err(bytes.malformed("no format chunk"));
    };
    let Some(data_len) = data_len else {
        return Err(bytes.malformed("no data chunk"));
    };
    let frames = (data_len / usize::from(fmt.block_align)) as f64;
    Ok(AudioProbe {
        format: AudioFormat::Wav,
        codec: fmt.codec,
        duration_seconds: frames / f64::from(fmt.sample_rate),
        sample_rate: fmt.sample_rate,
        channels: fmt.channels,
    })
}

fn is_chunk_name(name: &[u8]) -> bool {
    name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b' ')
}

fn parse_fmt(fmt: Bytes<'_>) -> Result<Fmt, ProbeError> {
    // The chunk is complete (its stated size is in the file); a short one is malformed.
    if fmt.len() < 16 {
        return Err(fmt.malformed("the format chunk is too short"));
    }
    let mut tag = fmt.u16_le(0)?;
    let channels = fmt.u16_le(2)?;
    let sample_rate = fmt.u32_le(4)?;
    let block_align = fmt.u16_le(12)?;
    let bits = fmt.u16_le(14)?;
    if tag == EXTENSIBLE {
        // cbSize (2), valid bits (2), channel mask (4), sub-format GUID (16)
        if fmt.len() < 40 {
            return Err(fmt.malformed("the format chunk is too short"));
        }
        let guid = fmt.slice(24, 16)?;
        if &guid[2..] != GUID_TAIL {
            return Err(ProbeError::Unsupported(
                "WAV audio in an unknown encoding".into(),
            ));
        }
        tag = u16::from_le_bytes([guid[0], guid[1]]);
    }
    let codec = match (tag, bits) {
        (PCM, 8) => "pcm_u8",
        (PCM, 16) => "pcm_s16le",
        (PCM, 24) => "pcm_s24le",
        (PCM, 32) => "pcm_s32le",
        (IEEE_FLOAT, 32) => "pcm_f32le",
        (IEEE_FLOAT, 64) => "pcm_f64le",
        (ALAW, 8) => "pcm_alaw",
        (MULAW, 8) => "pcm_mulaw",
        (PCM | IEEE_FLOAT | ALAW | MULAW, _) => {
            return Err(fmt.malformed(format!("{bits}-bit samples")));
        }
        (other, _) => {
            return Err(ProbeError::Unsupported(format!(
                "WAV audio in encoding {other:#06x} (only PCM, float, A-law and mu-law)"
            )));
        }
    };
    if channels == 0 || sample_rate == 0 {
        return Err(fmt.malformed("no channels or no sample rate"));
    }
    // The block size follows from the other fields; a header where it does not is lying.
    if u32::from(block_align) != u32::from(channels) * u32::from(bits / 8) {
        return Err(fmt.malformed("the block size does not match the sample format"));
    }
    Ok(Fmt {
        codec,
        channels,
        sample_rate,
        block_align,
    })
}

//! WebP: a RIFF file whose first chunk is a lossy (`VP8 `) or lossless (`VP8L`) bitstream, or
//! `VP8X` (extended: canvas size, then animation frames or a bitstream, and optional EXIF).
//! The RIFF size must fit in the file and every chunk in the RIFF size, so a cut-off file is
//! caught.

use super::{tiff, Header};
use crate::bytes::Bytes;
use crate::ProbeError;

pub(super) fn read(bytes: Bytes<'_>) -> Result<Header, ProbeError> {
    let riff_end = bytes.end_of(8, u64::from(bytes.u32_le(4)?))?;
    // Chunks are read only within the RIFF size; what follows it is not part of the image.
    let riff = Bytes::new(&bytes.data[..riff_end], bytes.format);
    let mut pos = 12;
    let mut size = None;
    let mut orientation = None;
    let mut has_data = false;
    while pos < riff_end {
        let kind = riff.slice(pos, 4)?;
        let len = riff.u32_le(pos + 4)?;
        let end = riff.end_of(pos + 8, u64::from(len))?;
        let body = Bytes::new(&riff.data[pos + 8..end], riff.format);
        if pos == 12 && !matches!(kind, b"VP8 " | b"VP8L" | b"VP8X") {
            return Err(bytes.malformed("unknown first chunk"));
        }
        match kind {
            b"VP8 " => {
                has_data = true;
                size = size.or(Some(lossy_size(body)?));
            }
            b"VP8L" => {
                has_data = true;
                size = size.or(Some(lossless_size(body)?));
            }
            b"VP8X" if pos == 12 => {
                // flags (1), reserved (3), canvas width - 1 (24), canvas height - 1 (24)
                size = Some((body.u24_le(4)? + 1, body.u24_le(7)? + 1));
            }
            b"ANMF" => has_data = true,
            b"EXIF" => {
                // Some writers keep JPEG's "Exif\0\0" prefix here.
                let exif = body.data.strip_prefix(b"Exif\0\0").unwrap_or(body.data);
                orientation = tiff::exif_orientation(Bytes::new(exif, riff.format));
            }
            _ => {}
        }
        // Chunks are padded to an even length; a missing final pad byte is tolerated.
        pos = end + (end & 1);
    }
    let (Some((width, height)), true) = (size, has_data) else {
        return Err(bytes.malformed("no image data"));
    };
    Ok(Header {
        width,
        height,
        orientation,
    })
}

/// A VP8 key frame header: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and
/// height (the top two bits of each are an upscaling hint, not part of the size).
fn lossy_size(vp8: Bytes<'_>) -> Result<(u32, u32), ProbeError> {
    if vp8.u8(0)? & 1 != 0 {
        return Err(vp8.malformed("the first frame is not a key frame"));
    }
    if vp8.slice(3, 3)? != b"\x9D\x01\x2A" {
        return Err(vp8.malformed("bad VP8 start code"));
    }
    let width = u32::from(vp8.u16_le(6)? & 0x3FFF);
    let height = u32::from(vp8.u16_le(8)? & 0x3FFF);
    Ok((width, height))
}

/// A VP8L header: signature 0x2F, then 14-bit width - 1 and height - 1, an alpha bit and a
/// 3-bit version that must be 0.
fn lossless_size(vp8l: Bytes<'_>) -> Result<(u32, u32), ProbeError> {
    if vp8l.u8(0)? != 0x2F {
        return Err(vp8l.malformed("bad VP8L signature"));
    }
    let bits = vp8l.u32_le(1)?;
    if bits >> 29 != 0 {
        return Err(vp8l.malformed("unknown VP8L version"));
    }
    Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
}

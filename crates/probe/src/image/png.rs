//! PNG: the size is in IHDR, which must come first and whose checksum is verified (a cheap
//! guard against a corrupted or hand-edited header). The chunks are then followed by their
//! lengths to IEND, so a cut-off file is caught; an eXIf chunk gives the orientation.

use super::{tiff, Header};
use crate::bytes::Bytes;
use crate::ProbeError;

/// PNG's own limit for a chunk length and for each dimension.
const MAX_U31: u32 = i32::MAX as u32;

pub(super) fn read(bytes: Bytes<'_>) -> Result<Header, ProbeError> {
    let mut pos = 8; // after the signature
    let (len, kind) = (bytes.u32_be(pos)?, bytes.slice(pos + 4, 4)?);
    if kind != b"IHDR" {
        return Err(bytes.malformed("the IHDR chunk must come first"));
    }
    if len != 13 {
        return Err(bytes.malformed("the IHDR chunk has the wrong length"));
    }
    let ihdr = bytes.slice(pos + 4, 4 + 13)?; // type and data: what the checksum covers
    if crc32(ihdr) != bytes.u32_be(pos + 8 + 13)? {
        return Err(bytes.malformed("the IHDR checksum does not match"));
    }
    let width = bytes.u32_be(pos + 8)?;
    let height = bytes.u32_be(pos + 12)?;
    if width > MAX_U31 || height > MAX_U31 {
        return Err(bytes.malformed(format!("impossible size {width}x{height}")));
    }
    let (depth, color) = (bytes.u8(pos + 16)?, bytes.u8(pos + 17)?);
    let valid = match color {
        0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(depth, 8 | 16),
        _ => false,
    };
    if !valid {
        return Err(bytes.malformed("unknown color type or bit depth"));
    }

    let mut orientation = None;
    let mut has_data = false;
    loop {
        let len = bytes.u32_be(pos)?;
        let kind = bytes.slice(pos + 4, 4)?;
        if len > MAX_U31 {
            return Err(bytes.malformed("impossible chunk length"));
        }
        // Chunk: length, type, data, checksum.
        let end = bytes.end_of(pos, 12 + u64::from(len))?;
        let body = &bytes.data[pos + 8..end - 4];
        match kind {
            b"IEND" => break,
            b"IDAT" => has_data = true,
            b"eXIf" => orientation = tiff::exif_orientation(Bytes::new(body, bytes.format)),
            _ => {}
        }
        pos = end;
    }
    if !has_data {
        return Err(bytes.malformed("no image data"));
    }
    Ok(Header {
        width,
        height,
        orientation,
    })
}

/// CRC-32 (ISO 3309, as PNG uses), bit by bit: it only ever covers the 17 bytes of IHDR.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_reference_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}

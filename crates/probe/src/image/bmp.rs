//! BMP: the size is in the DIB header (OS/2's 12-byte core header with 16-bit fields, or the
//! Windows headers with signed 32-bit fields, where a negative height means top-down rows).
//! The pixel array the header describes must fit in the file, so a cut-off file is caught.

use super::Header;
use crate::bytes::Bytes;
use crate::ProbeError;

// Compression methods.
const RGB: u32 = 0;
const BITFIELDS: u32 = 3;
const ALPHA_BITFIELDS: u32 = 6;

pub(super) fn read(bytes: Bytes<'_>) -> Result<Header, ProbeError> {
    let data_offset = bytes.u32_le(10)? as usize;
    let header_len = bytes.u32_le(14)?;
    let (width, height, bits, compression, stated_size) = if header_len == 12 {
        let width = u32::from(bytes.u16_le(18)?);
        let height = u32::from(bytes.u16_le(20)?);
        (width, height, bytes.u16_le(24)?, RGB, 0)
    } else {
        let width = bytes.u32_le(18)? as i32;
        let height = bytes.u32_le(22)? as i32;
        let bits = bytes.u16_le(28)?;
        // OS/2 2.x headers may stop before these fields; absent means uncompressed.
        let compression = if header_len >= 20 {
            bytes.u32_le(30)?
        } else {
            RGB
        };
        let stated_size = if header_len >= 24 {
            bytes.u32_le(34)?
        } else {
            0
        };
        if width < 0 {
            return Err(bytes.malformed("negative width"));
        }
        (
            width.unsigned_abs(),
            height.unsigned_abs(),
            bits,
            compression,
            stated_size,
        )
    };
    if !matches!(bits, 1 | 2 | 4 | 8 | 16 | 24 | 32 | 64) {
        return Err(bytes.malformed(format!("unknown bit depth {bits}")));
    }
    let pixels_len = match compression {
        RGB | BITFIELDS | ALPHA_BITFIELDS => {
            // Rows are padded to a multiple of 4 bytes.
            let stride = (u64::from(width) * u64::from(bits)).div_ceil(32) * 4;
            stride.saturating_mul(u64::from(height))
        }
        // RLE, or an embedded JPEG/PNG: only the stated size says how long the data is.
        1 | 2 | 4 | 5 => u64::from(stated_size).max(1),
        other => return Err(bytes.malformed(format!("unknown compression {other}"))),
    };
    if data_offset < 14 + header_len as usize {
        return Err(bytes.malformed("the pixel data overlaps the header"));
    }
    bytes.end_of(data_offset, pixels_len)?;
    Ok(Header {
        width,
        height,
        orientation: None,
    })
}

//! GIF: the size is the logical screen's. The blocks (extensions and frames, each a chain of
//! length-prefixed sub-blocks) are followed to the trailer, so a cut-off file is caught.

use super::Header;
use crate::bytes::Bytes;
use crate::ProbeError;

const EXTENSION: u8 = 0x21;
const IMAGE: u8 = 0x2C;
const TRAILER: u8 = 0x3B;

pub(super) fn read(bytes: Bytes<'_>) -> Result<Header, ProbeError> {
    // Logical screen descriptor, after the 6-byte signature.
    let mut width = u32::from(bytes.u16_le(6)?);
    let mut height = u32::from(bytes.u16_le(8)?);
    let flags = bytes.u8(10)?;
    let mut pos = 13 + color_table_len(flags);
    let mut frames = 0u32;
    loop {
        match bytes.u8(pos)? {
            EXTENSION => pos = skip_sub_blocks(bytes, pos + 2)?, // introducer, label
            IMAGE => {
                // left, top, width, height, flags
                if frames == 0 && (width == 0 || height == 0) {
                    // A zero screen size is left to the first frame, as browsers do.
                    width = u32::from(bytes.u16_le(pos + 5)?);
                    height = u32::from(bytes.u16_le(pos + 7)?);
                }
                let flags = bytes.u8(pos + 9)?;
                pos += 10 + color_table_len(flags);
                bytes.u8(pos)?; // LZW minimum code size
                pos = skip_sub_blocks(bytes, pos + 1)?;
                frames += 1;
            }
            TRAILER => break,
            _ => return Err(bytes.malformed("unknown block")),
        }
    }
    if frames == 0 {
        return Err(bytes.malformed("no image data"));
    }
    Ok(Header {
        width,
        height,
        orientation: None,
    })
}

/// Bytes of the color table that `flags` announces (global or local: same layout).
fn color_table_len(flags: u8) -> usize {
    if flags & 0x80 != 0 {
        3 << ((flags & 0x07) + 1)
    } else {
        0
    }
}

/// Skips sub-blocks (a length byte, then that many bytes) up to the zero-length terminator;
/// returns the position after it.
fn skip_sub_blocks(bytes: Bytes<'_>, mut pos: usize) -> Result<usize, ProbeError> {
    loop {
        let len = usize::from(bytes.u8(pos)?);
        pos += 1;
        if len == 0 {
            return Ok(pos);
        }
        pos += len;
        if pos > bytes.len() {
            return Err(bytes.truncated());
        }
    }
}

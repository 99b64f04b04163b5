//! JPEG: the size is in the frame header (SOF0-SOF15 but DHT, JPG and DAC, so baseline,
//! progressive, lossless and arithmetic-coded files alike), the orientation in an APP1 EXIF
//! block. The marker segments are then followed to the end-of-image marker, skipping each
//! scan's entropy-coded data by looking for the next marker, so a cut-off file is caught.
//! Whatever follows the end marker (a phone's embedded motion-photo video, padding) is ignored.

use super::{tiff, Header};
use crate::bytes::Bytes;
use crate::ProbeError;

const SOS: u8 = 0xDA;
const EOI: u8 = 0xD9;
const SOI: u8 = 0xD8;
const APP1: u8 = 0xE1;

fn is_frame_header(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// Markers that stand alone, without a length: TEM and the restart markers.
fn is_standalone(marker: u8) -> bool {
    matches!(marker, 0x01 | 0xD0..=0xD7)
}

pub(super) fn read(bytes: Bytes<'_>) -> Result<Header, ProbeError> {
    let data = bytes.data;
    let mut frame = None;
    let mut orientation = None;
    let mut scanned = false;
    let mut pos = 2; // after SOI
    loop {
        if bytes.u8(pos)? != 0xFF {
            return Err(bytes.malformed("expected a marker"));
        }
        // Any number of 0xFF fill bytes may precede a marker.
        while bytes.u8(pos)? == 0xFF {
            pos += 1;
        }
        let marker = bytes.u8(pos)?;
        pos += 1;
        match marker {
            EOI => break,
            SOI | 0x00 => return Err(bytes.malformed("unexpected marker")),
            m if is_standalone(m) => continue,
            _ => {}
        }
        let len = usize::from(bytes.u16_be(pos)?);
        if len < 2 {
            return Err(bytes.malformed("bad segment length"));
        }
        let body = bytes.slice(pos + 2, len - 2)?;
        pos += len;
        if is_frame_header(marker) && frame.is_none() {
            // precision, height, width; a zero height means "given after the first scan"
            // (a DNL marker), which nothing in practice writes.
            let header = Bytes::new(body, bytes.format);
            let height = header.u16_be(1)?;
            let width = header.u16_be(3)?;
            if height == 0 {
                return Err(ProbeError::Unsupported(
                    "a JPEG whose height is defined after the first scan (DNL)".into(),
                ));
            }
            frame = Some((u32::from(width), u32::from(height)));
        } else if marker == APP1 && orientation.is_none() {
            if let Some(exif) = body.strip_prefix(b"Exif\0\0") {
                orientation = tiff::exif_orientation(Bytes::new(exif, bytes.format));
            }
        } else if marker == SOS {
            if frame.is_none() {
                return Err(bytes.malformed("image data before the frame header"));
            }
            scanned = true;
            pos = skip_entropy_coded(data, pos).ok_or_else(|| bytes.truncated())?;
        }
    }
    let Some((width, height)) = frame else {
        return Err(bytes.malformed("no frame header"));
    };
    if !scanned {
        return Err(bytes.malformed("no image data"));
    }
    Ok(Header {
        width,
        height,
        orientation,
    })
}

/// The position of the first marker after entropy-coded data starting at `from`: an 0xFF
/// that is not a stuffed 0xFF00 nor a restart marker. `None` when the data runs to the end.
fn skip_entropy_coded(data: &[u8], from: usize) -> Option<usize> {
    let mut pos = from;
    loop {
        pos += memchr::memchr(0xFF, data.get(pos..)?)?;
        match *data.get(pos + 1)? {
            0x00 | 0xD0..=0xD7 | 0xFF => pos += 1,
            _ => return Some(pos),
        }
    }
}

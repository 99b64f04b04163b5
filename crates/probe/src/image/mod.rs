//! Image format and size from headers, without decoding a pixel.
//!
//! Each parser walks its format's structure to the end marker (skipping over pixel data by the
//! stated lengths), which is what makes truncation detectable; it never allocates. Why this is
//! not the `imagesize` crate: see the crate documentation.

mod bmp;
mod gif;
mod jpeg;
mod png;
mod tiff;
mod webp;

use std::fmt;

use crate::bytes::Bytes;
use crate::{MediaFormat, ProbeError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
    Bmp,
    Tiff,
    Gif,
}

impl ImageFormat {
    /// "jpeg", "png", "webp", "bmp", "tiff" or "gif".
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Gif => "gif",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
            ImageFormat::Webp => "WebP",
            ImageFormat::Bmp => "BMP",
            ImageFormat::Tiff => "TIFF",
            ImageFormat::Gif => "GIF",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An image's format and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageProbe {
    pub format: ImageFormat,
    /// Displayed size: the stored size with the EXIF orientation applied (orientations 5-8
    /// turn the image a quarter, swapping width and height). This is what viewers show and
    /// what an aspect ratio refers to.
    pub width: u32,
    pub height: u32,
    /// Size of the pixel grid as stored in the file.
    pub stored_width: u32,
    pub stored_height: u32,
    /// EXIF orientation, 1-8; 1 (upright) when the file has none.
    pub orientation: u8,
}

/// Larger than any of these formats allows (PNG's limit is 2^31 - 1): a header that says
/// more is lying.
const MAX_EDGE: u32 = i32::MAX as u32;

/// What a format parser returns.
struct Header {
    width: u32,
    height: u32,
    /// Raw EXIF orientation, when the file has one.
    orientation: Option<u16>,
}

pub(crate) fn probe(data: &[u8], format: ImageFormat) -> Result<ImageProbe, ProbeError> {
    let bytes = Bytes::new(data, MediaFormat::Image(format));
    let header = match format {
        ImageFormat::Jpeg => jpeg::read(bytes)?,
        ImageFormat::Png => png::read(bytes)?,
        ImageFormat::Webp => webp::read(bytes)?,
        ImageFormat::Bmp => bmp::read(bytes)?,
        ImageFormat::Tiff => tiff::read(bytes)?,
        ImageFormat::Gif => gif::read(bytes)?,
    };
    let (w, h) = (header.width, header.height);
    if w == 0 || h == 0 {
        return Err(bytes.malformed(format!("the image is {w}x{h} pixels")));
    }
    if w > MAX_EDGE || h > MAX_EDGE {
        return Err(bytes.malformed(format!("impossible size {w}x{h}")));
    }
    // Unknown values are ignored, as viewers do.
    let orientation = match header.orientation {
        Some(o @ 1..=8) => o as u8,
        _ => 1,
    };
    let (width, height) = if orientation >= 5 { (h, w) } else { (w, h) };
    Ok(ImageProbe {
        format,
        width,
        height,
        stored_width: w,
        stored_height: h,
        orientation,
    })
}

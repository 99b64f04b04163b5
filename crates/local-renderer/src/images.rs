//! Decoding user images safely and fitting them to the output frame ("cover").

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::canvas::Canvas;
use crate::RenderError;

/// Decoder limits against decompression bombs: generous for camera photos, small enough that a
/// hostile header cannot make us allocate gigabytes.
const MAX_IMAGE_SIDE: u32 = 6000;
const MAX_DECODE_ALLOC: u64 = 256 * 1024 * 1024;
/// Transparent areas are shown over this colour rather than black.
const MATTE: [u8; 3] = [24, 24, 28];

/// Decodes `bytes` (jpeg, png, webp, bmp, gif, tiff), honouring EXIF orientation.
/// `index` only labels the error.
pub fn decode(bytes: &[u8], index: usize) -> Result<RgbImage, RenderError> {
    let bad = |reason: String| RenderError::BadImage { index, reason };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| bad(e.to_string()))?;
    if reader.format().is_none() {
        return Err(bad("unrecognised image format".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);

    let mut decoder = reader.into_decoder().map_err(|e| bad(e.to_string()))?;
    // A broken EXIF block should not reject an otherwise fine picture.
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| bad(e.to_string()))?;
    if let Some(orientation) = orientation {
        img.apply_orientation(orientation);
    }
    if img.width() == 0 || img.height() == 0 {
        return Err(bad("image has no pixels".into()));
    }
    Ok(flatten(img))
}

/// Drops alpha by compositing over [`MATTE`].
fn flatten(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(src[3]);
        for c in 0..3 {
            dst[c] = ((u32::from(src[c]) * a + u32::from(MATTE[c]) * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

/// Scales `img` to fill `width`×`height` exactly, cropping the overflow around the centre.
pub fn cover(img: &RgbImage, width: usize, height: usize) -> Canvas {
    let (sw, sh) = (f64::from(img.width()), f64::from(img.height()));
    let (tw, th) = (width as f64, height as f64);
    // Source rectangle with the target's aspect ratio, as large as fits.
    let (cw, ch) = if sw / sh > tw / th {
        (sh * tw / th, sh)
    } else {
        (sw, sw * th / tw)
    };
    let cw = (cw.round() as u32).clamp(1, img.width());
    let ch = (ch.round() as u32).clamp(1, img.height());
    let cx = (img.width() - cw) / 2;
    let cy = (img.height() - ch) / 2;
    let cropped = image::imageops::crop_imm(img, cx, cy, cw, ch).to_image();
    // Triangle (bilinear) is plenty for a preview and much faster than Lanczos on big photos.
    let resized =
        image::imageops::resize(&cropped, width as u32, height as u32, FilterType::Triangle);
    Canvas {
        width,
        height,
        data: resized.into_raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, _| image::Rgb([(x % 256) as u8, 0, 0]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn garbage_is_bad_image() {
        let err = decode(b"definitely not an image", 3).unwrap_err();
        assert!(
            matches!(err, RenderError::BadImage { index: 3, .. }),
            "{err}"
        );
        let mut truncated = png(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            decode(&truncated, 0),
            Err(RenderError::BadImage { index: 0, .. })
        ));
    }

    #[test]
    fn oversized_dimensions_are_refused() {
        let err = decode(&png(MAX_IMAGE_SIDE + 1, 1), 1).unwrap_err();
        assert!(
            matches!(err, RenderError::BadImage { index: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn cover_fills_exactly() {
        let img = decode(&png(300, 100), 0).unwrap();
        let c = cover(&img, 64, 64);
        assert_eq!((c.width, c.height, c.data.len()), (64, 64, 64 * 64 * 3));
        // Cropped to the centre third, so the leftmost column is not the source's x=0.
        assert!(c.data[0] > 50);
    }
}

//! Still frames: PNG encoding of a canvas, with the `png` crate.

use crate::canvas::Canvas;
use crate::RenderError;

/// Encodes `canvas` as an 8-bit RGB PNG of the same size.
pub fn encode_png(canvas: &Canvas) -> Result<Vec<u8>, RenderError> {
    let err = |e: png::EncodingError| RenderError::Png(e.to_string());
    let width = u32::try_from(canvas.width).map_err(|_| RenderError::Png("too wide".into()))?;
    let height = u32::try_from(canvas.height).map_err(|_| RenderError::Png("too tall".into()))?;
    let mut out = Vec::with_capacity(canvas.data.len() / 4);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Previews favour speed: a 1080p frame compresses in milliseconds instead of a second.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(&canvas.data).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_png_decoder() {
        let mut canvas = Canvas::new(6, 4);
        for (i, b) in canvas.data.iter_mut().enumerate() {
            *b = (i * 7 % 256) as u8;
        }
        let bytes = encode_png(&canvas).expect("encode");
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .expect("header");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("frame");
        assert_eq!((info.width, info.height), (6, 4));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(&buf[..info.buffer_size()], &canvas.data[..]);
    }
}

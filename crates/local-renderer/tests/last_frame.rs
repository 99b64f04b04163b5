//! `render_with`: the last frame as a PNG, and seeds that vary the scene.
//!
//! The PNG is checked against the video itself: the MP4's H.264 track is decoded with OpenH264's
//! decoder and the PNG's luma is compared with the last decoded picture (and, as a control, with
//! the first one).

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use seedgate_local_renderer::{inspect, render, render_with, RenderOptions, RenderSpec, Scene};

fn encode(img: RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, format)
        .expect("encode test image");
    out.into_inner()
}

/// A dark-to-bright horizontal ramp.
fn ramp(w: u32, h: u32) -> Vec<u8> {
    encode(
        RgbImage::from_fn(w, h, |x, _| {
            let v = (x * 255 / w) as u8;
            Rgb([v, v / 2, 255 - v])
        }),
        ImageFormat::Png,
    )
}

/// A high-contrast chequerboard.
fn checker(w: u32, h: u32) -> Vec<u8> {
    encode(
        RgbImage::from_fn(w, h, |x, y| {
            if (x / 48 + y / 48) % 2 == 0 {
                Rgb([250, 250, 250])
            } else {
                Rgb([10, 10, 40])
            }
        }),
        ImageFormat::Jpeg,
    )
}

fn spec(width: u32, height: u32, seconds: u32, scene: Scene) -> RenderSpec {
    RenderSpec {
        width,
        height,
        fps: 24,
        duration_seconds: seconds,
        scene,
        audio: false,
    }
}

fn card(prompt: &str) -> Scene {
    Scene::Card {
        prompt: prompt.into(),
    }
}

/// Decodes a PNG with the `png` crate: (width, height, RGB8 pixels).
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut reader = png::Decoder::new(Cursor::new(bytes))
        .read_info()
        .expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// BT.709 limited-range luma, as the renderer converts frames before encoding.
fn luma(rgb: &[u8]) -> Vec<f64> {
    rgb.chunks_exact(3)
        .map(|p| {
            let y = 0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2]);
            16.0 + y * 219.0 / 255.0
        })
        .collect()
}

/// Decodes the MP4's video track: (width, height, luma of the first and of the last picture).
fn decode_first_and_last(mp4: &[u8]) -> (usize, usize, Vec<u8>, Vec<u8>) {
    use openh264::formats::YUVSource;

    let mut reader =
        mp4::Mp4Reader::read_header(Cursor::new(mp4), mp4.len() as u64).expect("mp4 header");
    let (track_id, annex_b_header) = {
        let (id, track) = reader
            .tracks()
            .iter()
            .find(|(_, t)| t.sequence_parameter_set().is_ok())
            .expect("an H.264 track");
        let mut header = Vec::new();
        for nal in [
            track.sequence_parameter_set().expect("sps"),
            track.picture_parameter_set().expect("pps"),
        ] {
            header.extend_from_slice(&[0, 0, 0, 1]);
            header.extend_from_slice(nal);
        }
        (*id, header)
    };
    let count = reader.sample_count(track_id).expect("sample count");
    let mut decoder = openh264::decoder::Decoder::new().expect("decoder");
    let mut first = None;
    let mut last = None;
    for sample_id in 1..=count {
        let sample = reader
            .read_sample(track_id, sample_id)
            .expect("read sample")
            .expect("sample present");
        // Length-prefixed NAL units to Annex B, with the parameter sets before the first one.
        let mut packet = if sample_id == 1 {
            annex_b_header.clone()
        } else {
            Vec::new()
        };
        let mut rest = &sample.bytes[..];
        while rest.len() >= 4 {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            packet.extend_from_slice(&[0, 0, 0, 1]);
            packet.extend_from_slice(&rest[4..4 + len]);
            rest = &rest[4 + len..];
        }
        let Some(picture) = decoder.decode(&packet).expect("decode") else {
            continue;
        };
        let (w, h) = picture.dimensions();
        let stride = picture.strides().0;
        let plane: Vec<u8> = picture
            .y()
            .chunks(stride)
            .take(h)
            .flat_map(|row| &row[..w])
            .copied()
            .collect();
        if first.is_none() {
            first = Some((w, h, plane.clone()));
        }
        last = Some((w, h, plane));
    }
    let (w, h, first) = first.expect("a decoded picture");
    let (lw, lh, last) = last.expect("a decoded picture");
    assert_eq!((w, h), (lw, lh));
    (w, h, first, last)
}

fn mean_abs_diff(a: &[f64], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - f64::from(*y)).abs())
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn last_frame_png_is_the_last_encoded_frame() {
    // 480p 16:9, four seconds: the first frame shows the ramp, the last the chequerboard.
    let s = spec(
        864,
        496,
        4,
        Scene::Frames {
            first: ramp(1200, 700),
            last: Some(checker(1000, 600)),
            prompt: Some("From a ramp to a chequerboard".into()),
        },
    );
    let rendered = render_with(
        &s,
        RenderOptions {
            last_frame: true,
            ..Default::default()
        },
    )
    .expect("render");
    let (w, h, rgb) = decode_png(rendered.last_frame_png.as_deref().expect("last frame"));
    let video = inspect(&rendered.mp4)
        .expect("inspect")
        .video
        .expect("video track");
    assert_eq!((w, h), (video.width, video.height));
    assert_eq!((w, h), (864, 496));

    let (dw, dh, first, last) = decode_first_and_last(&rendered.mp4);
    assert_eq!((dw as u32, dh as u32), (w, h));
    let png_luma = luma(&rgb);
    let to_last = mean_abs_diff(&png_luma, &last);
    let to_first = mean_abs_diff(&png_luma, &first);
    assert!(
        to_last < 4.0,
        "the PNG should match the last decoded frame (mean |ΔY| {to_last:.2})"
    );
    assert!(
        to_first > 5.0 * to_last.max(1.0),
        "the PNG should not look like the first frame (mean |ΔY| {to_first:.2} vs {to_last:.2})"
    );
}

#[test]
fn last_frame_only_when_asked_and_mp4_unchanged() {
    let s = spec(320, 240, 1, card("a lighthouse at dusk"));
    let plain = render_with(&s, RenderOptions::default()).expect("render");
    assert!(plain.last_frame_png.is_none());
    assert_eq!(
        plain.mp4,
        render(&s).expect("render"),
        "same bytes as render"
    );

    let with_frame = render_with(
        &s,
        RenderOptions {
            last_frame: true,
            ..Default::default()
        },
    )
    .expect("render");
    assert_eq!(
        with_frame.mp4, plain.mp4,
        "asking for the frame changes no video byte"
    );
    let (w, h, rgb) = decode_png(&with_frame.last_frame_png.expect("last frame"));
    assert_eq!((w, h), (320, 240));
    assert!(
        rgb.chunks_exact(3).any(|p| p != &rgb[..3]),
        "the last frame is not one flat colour"
    );
}

#[test]
fn seed_varies_the_scene_and_repeats_exactly() {
    let s = spec(320, 240, 1, card("a kitten yawning"));
    let with = |seed| {
        render_with(
            &s,
            RenderOptions {
                seed,
                last_frame: true,
            },
        )
        .expect("render")
    };
    let a = with(Some(7));
    let again = with(Some(7));
    assert_eq!(a.mp4, again.mp4, "same seed and prompt, same video");
    assert_eq!(a.last_frame_png, again.last_frame_png);

    let b = with(Some(8));
    assert_ne!(a.mp4, b.mp4, "another seed, another video");
    assert_ne!(
        decode_png(a.last_frame_png.as_deref().expect("frame")).2,
        decode_png(b.last_frame_png.as_deref().expect("frame")).2,
        "another seed, another picture"
    );

    // No seed: the look follows the inputs alone, exactly as `render` draws it.
    assert_eq!(with(None).mp4, render(&s).expect("render"));

    // Image scenes take the seed too (it moves the pans), and stay deterministic.
    let frames = spec(
        320,
        240,
        1,
        Scene::Frames {
            first: ramp(400, 300),
            last: None,
            prompt: None,
        },
    );
    let seeded = |seed| {
        render_with(
            &frames,
            RenderOptions {
                seed: Some(seed),
                last_frame: false,
            },
        )
        .expect("render")
        .mp4
    };
    assert_eq!(seeded(1), seeded(1));
    assert_ne!(seeded(1), seeded(2));
}

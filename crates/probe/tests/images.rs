//! Image probes on files the tests make: every format at known sizes (with the `image` crate,
//! by hand, and with ffmpeg when installed), EXIF orientation, cut and damaged copies, and
//! headers that lie.

mod common;

use std::io::Cursor;

use image::{DynamicImage, ImageFormat as Encoding, Rgb, RgbImage, Rgba, RgbaImage};
use seedgate_probe::{
    probe, probe_audio, probe_image, probe_video, ImageFormat, ImageProbe, MediaFormat, MediaKind,
    MediaProbe, ProbeError,
};

// --- making images ------------------------------------------------------------------------------

fn pattern(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 7) as u8, (y * 3) as u8, ((x ^ y) * 5) as u8])
    })
}

fn encode(img: DynamicImage, format: Encoding) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

fn make(format: ImageFormat, w: u32, h: u32) -> Vec<u8> {
    let rgb = DynamicImage::ImageRgb8(pattern(w, h));
    match format {
        ImageFormat::Jpeg => encode(rgb, Encoding::Jpeg),
        ImageFormat::Png => encode(rgb, Encoding::Png),
        ImageFormat::Bmp => encode(rgb, Encoding::Bmp),
        ImageFormat::Gif => encode(rgb, Encoding::Gif),
        ImageFormat::Tiff => encode(rgb, Encoding::Tiff),
        // The `image` crate's WebP encoder is lossless (VP8L).
        ImageFormat::Webp => encode(DynamicImage::ImageRgba8(rgb.to_rgba8()), Encoding::WebP),
    }
}

const ALL: [ImageFormat; 6] = [
    ImageFormat::Jpeg,
    ImageFormat::Png,
    ImageFormat::Webp,
    ImageFormat::Bmp,
    ImageFormat::Tiff,
    ImageFormat::Gif,
];

fn upright(format: ImageFormat, width: u32, height: u32) -> ImageProbe {
    ImageProbe {
        format,
        width,
        height,
        stored_width: width,
        stored_height: height,
        orientation: 1,
    }
}

fn crc32(data: &[u8]) -> u32 {
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

fn png_chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    let mut covered = kind.to_vec();
    covered.extend_from_slice(body);
    out.extend_from_slice(&crc32(&covered).to_be_bytes());
    out
}

/// A PNG made of chunks by hand: only the header matters to the probe.
fn hand_png(width: u32, height: u32, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = b"\x89PNG\r\n\x1A\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    for chunk in extra {
        png.extend_from_slice(chunk);
    }
    png.extend(png_chunk(b"IDAT", b"\x78\x9c\x03\x00\x00\x00\x00\x01"));
    png.extend(png_chunk(b"IEND", b""));
    png
}

/// An EXIF block (a TIFF structure) holding only an orientation.
fn exif(orientation: u16, big_endian: bool) -> Vec<u8> {
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut t = if big_endian {
        b"MM".to_vec()
    } else {
        b"II".to_vec()
    };
    t.extend(u16b(42));
    t.extend(u32b(8));
    t.extend(u16b(1)); // one entry
    t.extend(u16b(274)); // Orientation
    t.extend(u16b(3)); // SHORT
    t.extend(u32b(1));
    t.extend(u16b(orientation));
    t.extend([0, 0]);
    t.extend(u32b(0)); // no next IFD
    t
}

/// Inserts an APP1 EXIF segment right after SOI.
fn with_exif(jpeg: &[u8], orientation: u16, big_endian: bool) -> Vec<u8> {
    let mut body = b"Exif\0\0".to_vec();
    body.extend(exif(orientation, big_endian));
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((body.len() + 2) as u16).to_be_bytes());
    out.extend(body);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Offset of the first frame header marker in a JPEG.
fn sof_offset(jpeg: &[u8]) -> usize {
    let mut pos = 2;
    loop {
        let marker = jpeg[pos + 1];
        if matches!(marker, 0xC0..=0xC2) {
            return pos;
        }
        pos += 2 + usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
    }
}

/// A big-endian TIFF by hand: 8-bit grey, one strip of `w*h` bytes, optional orientation.
fn hand_tiff_be(w: u16, h: u16, orientation: Option<u16>, stated_strip: Option<u32>) -> Vec<u8> {
    let mut entries: Vec<(u16, u16, u32, u32)> = vec![
        (256, 3, 1, u32::from(w) << 16), // SHORT values sit in the high half, big-endian
        (257, 4, 1, u32::from(h)),
        (258, 3, 1, 8 << 16),
        (262, 3, 1, 1 << 16),
    ];
    if let Some(o) = orientation {
        entries.push((274, 3, 1, u32::from(o) << 16));
    }
    let ifd_len = 2 + 12 * (entries.len() + 2) + 4;
    let data_at = 8 + ifd_len as u32;
    let len = u32::from(w) * u32::from(h);
    entries.push((273, 4, 1, data_at));
    entries.push((279, 4, 1, stated_strip.unwrap_or(len)));
    entries.sort_by_key(|e| e.0);
    let mut t = b"MM\0\x2A".to_vec();
    t.extend(8u32.to_be_bytes());
    t.extend((entries.len() as u16).to_be_bytes());
    for (tag, kind, count, value) in entries {
        t.extend(tag.to_be_bytes());
        t.extend(kind.to_be_bytes());
        t.extend(count.to_be_bytes());
        t.extend(value.to_be_bytes());
    }
    t.extend(0u32.to_be_bytes());
    t.extend(std::iter::repeat_n(0x80u8, len as usize));
    t
}

/// A lossy WebP by hand: a RIFF with a VP8 key-frame header (the probe reads no further).
fn hand_vp8(width: u16, height: u16, scale_bits: u16) -> Vec<u8> {
    let mut vp8 = vec![0x50, 0x01, 0x00, 0x9D, 0x01, 0x2A]; // key frame tag, start code
    vp8.extend((width | scale_bits << 14).to_le_bytes());
    vp8.extend((height | scale_bits << 14).to_le_bytes());
    vp8.extend([0u8; 20]);
    let mut webp = b"RIFF".to_vec();
    webp.extend(((4 + 8 + vp8.len()) as u32).to_le_bytes());
    webp.extend(b"WEBPVP8 ");
    webp.extend((vp8.len() as u32).to_le_bytes());
    webp.extend(vp8);
    webp
}

// --- sizes --------------------------------------------------------------------------------------

#[test]
fn every_format_reports_its_size() {
    for format in ALL {
        for (w, h) in [(640, 480), (301, 599), (1, 1), (1203, 17)] {
            let bytes = make(format, w, h);
            assert_eq!(
                probe_image(&bytes),
                Ok(upright(format, w, h)),
                "{format} {w}x{h}"
            );
            assert_eq!(probe(&bytes), Ok(MediaProbe::Image(upright(format, w, h))));
        }
    }
}

#[test]
fn rgba_and_grey_variants() {
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(33, 44, Rgba([1, 2, 3, 128])));
    for (encoding, format) in [
        (Encoding::Png, ImageFormat::Png),
        (Encoding::Tiff, ImageFormat::Tiff),
        (Encoding::Bmp, ImageFormat::Bmp),
        (Encoding::WebP, ImageFormat::Webp),
    ] {
        let bytes = encode(rgba.clone(), encoding);
        assert_eq!(probe_image(&bytes), Ok(upright(format, 33, 44)), "{format}");
    }
    let grey = DynamicImage::ImageLuma8(image::GrayImage::new(70, 9));
    for (encoding, format) in [
        (Encoding::Png, ImageFormat::Png),
        (Encoding::Jpeg, ImageFormat::Jpeg),
        (Encoding::Tiff, ImageFormat::Tiff),
    ] {
        let bytes = encode(grey.clone(), encoding);
        assert_eq!(probe_image(&bytes), Ok(upright(format, 70, 9)), "{format}");
    }
}

#[test]
fn a_huge_png_header_is_reported_without_allocating() {
    let png = hand_png(100_000, 100_000, &[]);
    assert!(png.len() < 100);
    assert_eq!(
        probe_image(&png),
        Ok(upright(ImageFormat::Png, 100_000, 100_000))
    );
}

#[test]
fn progressive_jpeg() {
    // Only the frame marker differs at the header level: SOF0 becomes SOF2.
    let mut jpeg = make(ImageFormat::Jpeg, 500, 375);
    let at = sof_offset(&jpeg);
    assert_eq!(jpeg[at + 1], 0xC0);
    jpeg[at + 1] = 0xC2;
    assert_eq!(probe_image(&jpeg), Ok(upright(ImageFormat::Jpeg, 500, 375)));
}

#[test]
fn jpeg_with_trailing_data_and_fill_bytes() {
    let jpeg = make(ImageFormat::Jpeg, 320, 200);
    // A motion photo: a video appended after the end-of-image marker.
    let mut motion = jpeg.clone();
    motion.extend_from_slice(b"\0\0\0\x18ftypmp42 and the rest of a video");
    assert_eq!(
        probe_image(&motion),
        Ok(upright(ImageFormat::Jpeg, 320, 200))
    );
    // Fill bytes before a marker are allowed.
    let mut filled = jpeg[..2].to_vec();
    filled.extend([0xFF, 0xFF, 0xFF]);
    filled.extend_from_slice(&jpeg[2..]);
    assert_eq!(
        probe_image(&filled),
        Ok(upright(ImageFormat::Jpeg, 320, 200))
    );
}

#[test]
fn exif_orientation_swaps_the_displayed_size() {
    let jpeg = make(ImageFormat::Jpeg, 400, 300);
    for orientation in 1..=8u16 {
        for big_endian in [false, true] {
            let probe = probe_image(&with_exif(&jpeg, orientation, big_endian)).expect("probe");
            let turned = orientation >= 5;
            assert_eq!(probe.orientation, orientation as u8);
            assert_eq!((probe.stored_width, probe.stored_height), (400, 300));
            assert_eq!(
                (probe.width, probe.height),
                if turned { (300, 400) } else { (400, 300) },
                "orientation {orientation}"
            );
        }
    }
    // Out-of-range or unreadable orientation: upright, as viewers do.
    let odd = probe_image(&with_exif(&jpeg, 9, false)).expect("probe");
    assert_eq!(odd, upright(ImageFormat::Jpeg, 400, 300));
    let mut broken = with_exif(&jpeg, 6, false);
    broken[12] = b'X'; // the EXIF byte order mark
    assert_eq!(
        probe_image(&broken).expect("probe"),
        upright(ImageFormat::Jpeg, 400, 300)
    );
}

#[test]
fn exif_in_png_webp_and_tiff() {
    let png = hand_png(40, 30, &[png_chunk(b"eXIf", &exif(6, false))]);
    let probe = probe_image(&png).expect("png");
    assert_eq!((probe.width, probe.height, probe.orientation), (30, 40, 6));

    let tiff = hand_tiff_be(40, 30, Some(8), None);
    let probe = probe_image(&tiff).expect("tiff");
    assert_eq!(probe.format, ImageFormat::Tiff);
    assert_eq!((probe.width, probe.height, probe.orientation), (30, 40, 8));
    assert_eq!((probe.stored_width, probe.stored_height), (40, 30));

    // VP8X (extended WebP) with a lossless bitstream and an EXIF chunk.
    let lossless = make(ImageFormat::Webp, 40, 30);
    let vp8l = &lossless[12..];
    let exif = exif(5, true);
    let mut body = b"WEBP".to_vec();
    body.extend(b"VP8X");
    body.extend(10u32.to_le_bytes());
    body.extend([0x08, 0, 0, 0]); // EXIF flag
    body.extend(&39u32.to_le_bytes()[..3]);
    body.extend(&29u32.to_le_bytes()[..3]);
    body.extend_from_slice(vp8l);
    if body.len() % 2 == 1 {
        body.push(0);
    }
    body.extend(b"EXIF");
    body.extend((exif.len() as u32).to_le_bytes());
    body.extend(&exif);
    let mut webp = b"RIFF".to_vec();
    webp.extend((body.len() as u32).to_le_bytes());
    webp.extend(body);
    let probe = probe_image(&webp).expect("webp");
    assert_eq!((probe.width, probe.height, probe.orientation), (30, 40, 5));
}

#[test]
fn big_endian_tiff() {
    assert_eq!(
        probe_image(&hand_tiff_be(123, 45, None, None)),
        Ok(upright(ImageFormat::Tiff, 123, 45))
    );
}

#[test]
fn lossy_webp_ignores_the_scale_bits() {
    assert_eq!(
        probe_image(&hand_vp8(1024, 768, 0)),
        Ok(upright(ImageFormat::Webp, 1024, 768))
    );
    assert_eq!(
        probe_image(&hand_vp8(1024, 768, 3)),
        Ok(upright(ImageFormat::Webp, 1024, 768))
    );
}

#[test]
fn top_down_bitmap() {
    let mut bmp = make(ImageFormat::Bmp, 64, 48);
    bmp[22..26].copy_from_slice(&(-48i32).to_le_bytes());
    assert_eq!(probe_image(&bmp), Ok(upright(ImageFormat::Bmp, 64, 48)));
}

#[test]
fn animated_gif() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame};
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        let frames = (0..3).map(|i| {
            Frame::from_parts(
                RgbaImage::from_pixel(50, 20, Rgba([i * 80, 0, 0, 255])),
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            )
        });
        encoder.encode_frames(frames).expect("encode gif");
    }
    assert_eq!(probe_image(&out), Ok(upright(ImageFormat::Gif, 50, 20)));
}

/// Other encoders' output, when ffmpeg is installed: lossy and alpha (VP8X) WebP, and
/// ffmpeg's own PNG, BMP, TIFF, GIF and JPEG writers.
#[test]
fn images_made_by_ffmpeg() {
    let cases: [(&str, &str, &[&str], ImageFormat); 7] = [
        (
            "lossy",
            "webp",
            &["-c:v", "libwebp", "-lossless", "0"],
            ImageFormat::Webp,
        ),
        (
            "alpha",
            "webp",
            &["-c:v", "libwebp", "-pix_fmt", "yuva420p"],
            ImageFormat::Webp,
        ),
        ("png", "png", &[], ImageFormat::Png),
        ("bmp", "bmp", &[], ImageFormat::Bmp),
        ("tiff", "tiff", &[], ImageFormat::Tiff),
        ("gif", "gif", &[], ImageFormat::Gif),
        ("jpeg", "jpg", &["-q:v", "3"], ImageFormat::Jpeg),
    ];
    for (label, ext, args, format) in cases {
        let mut full = vec!["-f", "lavfi", "-i", "testsrc2=size=346x212:rate=1"];
        full.extend_from_slice(args);
        full.extend(["-frames:v", "1"]);
        let Some(bytes) = common::ffmpeg(label, ext, &full) else {
            continue;
        };
        assert_eq!(
            probe_image(&bytes),
            Ok(upright(format, 346, 212)),
            "{label}.{ext}"
        );
    }
}

// --- errors -------------------------------------------------------------------------------------

#[test]
fn cut_images_are_errors_never_panics() {
    for format in ALL {
        let bytes = make(format, 97, 61);
        let len = bytes.len();
        let mut cuts: Vec<usize> = (0..len.min(200)).collect();
        cuts.extend((200..len).step_by(len / 50 + 1));
        cuts.extend([len / 2, len - 2, len - 1]);
        for cut in cuts {
            match probe_image(&bytes[..cut]) {
                Err(_) => {}
                Ok(found) => panic!("{format} cut to {cut} of {len} bytes was accepted: {found:?}"),
            }
        }
        assert_eq!(
            probe_image(&bytes[..len - 1]),
            Err(ProbeError::Truncated(MediaFormat::Image(format))),
            "{format}"
        );
    }
}

#[test]
fn damaged_images_never_panic() {
    for (i, format) in ALL.into_iter().enumerate() {
        let bytes = make(format, 80, 60);
        common::never_panics(&bytes, 0x9E37_79B9 + i as u64, 2000, |b| probe(b).is_ok());
    }
    let extras = [
        with_exif(&make(ImageFormat::Jpeg, 40, 30), 6, true),
        hand_tiff_be(40, 30, Some(6), None),
        hand_png(40, 30, &[png_chunk(b"eXIf", &exif(6, false))]),
        hand_vp8(300, 200, 0),
    ];
    for (i, bytes) in extras.iter().enumerate() {
        common::never_panics(bytes, 77 + i as u64, 2000, |b| probe(b).is_ok());
    }
}

fn malformed(result: Result<ImageProbe, ProbeError>) -> String {
    match result {
        Err(ProbeError::Malformed { reason, .. }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn lying_headers_are_errors() {
    // PNG: zero width, a checksum that does not match, an impossible size, no image data.
    malformed(probe_image(&hand_png(0, 10, &[])));
    let mut png = hand_png(10, 10, &[]);
    png[18] ^= 0x01; // width, without fixing the checksum
    assert!(malformed(probe_image(&png)).contains("checksum"));
    malformed(probe_image(&hand_png(0x8000_0000, 10, &[])));
    let mut no_data = b"\x89PNG\r\n\x1A\n".to_vec();
    no_data.extend_from_slice(&hand_png(10, 10, &[])[8..33]);
    no_data.extend(png_chunk(b"IEND", b""));
    assert!(malformed(probe_image(&no_data)).contains("no image data"));

    // BMP claiming 10000x10000 pixels in a small file: its pixels are not there.
    let mut bmp = make(ImageFormat::Bmp, 16, 16);
    bmp[18..22].copy_from_slice(&10_000i32.to_le_bytes());
    bmp[22..26].copy_from_slice(&10_000i32.to_le_bytes());
    assert_eq!(
        probe_image(&bmp),
        Err(ProbeError::Truncated(MediaFormat::Image(ImageFormat::Bmp)))
    );

    // TIFF whose strip runs past the end of the file.
    assert_eq!(
        probe_image(&hand_tiff_be(10, 10, None, Some(1_000_000))),
        Err(ProbeError::Truncated(MediaFormat::Image(ImageFormat::Tiff)))
    );

    // JPEG with its frame header removed: no size to report.
    let jpeg = make(ImageFormat::Jpeg, 32, 32);
    let at = sof_offset(&jpeg);
    let sof_len = 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    let mut no_sof = jpeg[..at].to_vec();
    no_sof.extend_from_slice(&jpeg[at + sof_len..]);
    malformed(probe_image(&no_sof));

    // JPEG with a zero width.
    let mut zero = jpeg.clone();
    zero[at + 7..at + 9].copy_from_slice(&[0, 0]);
    malformed(probe_image(&zero));

    // GIF with its trailer replaced by an unknown block.
    let mut gif = make(ImageFormat::Gif, 20, 20);
    let last = gif.len() - 1;
    gif[last] = 0x99;
    malformed(probe_image(&gif));

    // WebP whose RIFF size claims more than the file.
    let mut webp = make(ImageFormat::Webp, 20, 20);
    webp[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        probe_image(&webp),
        Err(ProbeError::Truncated(MediaFormat::Image(ImageFormat::Webp)))
    );
}

#[test]
fn garbage_is_unrecognized() {
    let mut rng = common::Rng::new(42);
    for len in [0, 1, 3, 7, 16, 100, 5000] {
        // Avoid bytes that start real formats by chance.
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() % 0x7F) as u8 | 0x01).collect();
        match probe_image(&bytes) {
            Err(ProbeError::Unrecognized {
                expected: Some(MediaKind::Image),
            }) => {}
            other => panic!("{len} garbage bytes: {other:?}"),
        }
    }
    assert_eq!(
        probe_image(b"definitely not an image").map_err(|e| e.to_string()),
        Err("not a supported image format (JPEG, PNG, WebP, BMP, TIFF or GIF are accepted)".into())
    );
}

#[test]
fn the_wrong_kind_is_refused_with_a_clear_message() {
    let png = make(ImageFormat::Png, 10, 10);
    assert_eq!(
        probe_video(&png).map_err(|e| e.to_string()),
        Err("expected a video, got a PNG image".into())
    );
    assert_eq!(
        probe_audio(&png).map_err(|e| e.to_string()),
        Err("expected audio, got a PNG image".into())
    );
    // The kind is refused before the file is parsed, so a cut image is still "an image".
    assert!(matches!(
        probe_video(&png[..20]),
        Err(ProbeError::WrongKind { .. })
    ));
}

//! TEMPORARY evaluation harness (issue: weigh `imagesize`, `mp4parse` and `symphonia` against
//! the hand-written parsers). Runs each crate on the fixtures the other tests build and on the
//! fuzz corpus, next to `seedgate_probe`, and writes a report to
//! `$TMPDIR/seedgate-probe-crate-eval.txt`. It asserts nothing: it measures.

mod common;

use std::fmt::Write as _;
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::Rng;
use image::{DynamicImage, ImageFormat as Encoding, Rgb, RgbImage, Rgba, RgbaImage};
use seedgate_local_renderer::{render, RenderSpec, Scene};
use seedgate_probe::{probe, probe_audio, probe_image, probe_video, ImageFormat};

// --- report ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    same: usize,
    differs: usize,
    lines: String,
}

impl Tally {
    fn compare(&mut self, label: &str, ours: String, theirs: String) {
        if ours == theirs {
            self.same += 1;
            let _ = writeln!(self.lines, "  same     {label}: {ours}");
        } else {
            self.differs += 1;
            let _ = writeln!(
                self.lines,
                "  DIFFERS  {label}:\n           ours:  {ours}\n           crate: {theirs}"
            );
        }
    }
}

/// The distinct panic messages (with their location) seen while the crates ran.
static PANICS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn silently<T>(f: impl FnOnce() -> T) -> Result<T, ()> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| ())
}

/// Damaged copies of `original` (as `common::never_panics` makes them): how many the crate
/// panics on, and how many it accepts.
fn damage(original: &[u8], seed: u64, rounds: usize, f: &dyn Fn(&[u8]) -> bool) -> (usize, usize) {
    let mut rng = Rng::new(seed);
    let (mut panics, mut accepted) = (0, 0);
    let hot = original.len().min(2048);
    for round in 0..rounds {
        let mut bytes = original.to_vec();
        match round % 4 {
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(hot);
                    bytes[at] = rng.next() as u8;
                }
            }
            1 => {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
                let at = rng.below(hot);
                bytes[at] ^= 1 << rng.below(8);
            }
            2 => {
                let from = rng.below(hot);
                let len = 1 + rng.below(64);
                bytes.drain(from..(from + len).min(bytes.len()));
            }
            _ => bytes.truncate(rng.below(original.len())),
        }
        match silently(|| f(&bytes)) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(()) => panics += 1,
        }
    }
    (panics, accepted)
}

/// The fuzz test's corpus: random bytes behind a magic number, salted with structure names.
fn corpus(prefix: &[u8], rng: &mut Rng) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"\xFF\xC0\0\x11\x08",
        b"\xFF\xDA\0\x08",
        b"\xFF\xD9",
        b"IDAT",
        b"IEND",
        b"fmt ",
        b"data",
        b"LIST",
        b"VP8X",
        b"Xing",
        b"Info",
        b"VBRI",
        b"TAG",
        b"\xFF\xFB\x90\x64",
        b"moov",
        b"mvhd",
        b"trak",
        b"tkhd",
        b"mdia",
        b"mdhd",
        b"hdlrvide",
        b"stsd",
        b"stts",
        b"moof",
        b"trun",
    ];
    let max = if rng.below(4) == 0 { 20_000 } else { 600 };
    let len = rng.below(max);
    let mut out = prefix.to_vec();
    while out.len() < len + prefix.len() {
        match rng.below(8) {
            0 => out.push(0xFF),
            1 => out.push(0),
            2 => out.push(rng.below(16) as u8),
            3 => out.extend_from_slice(TOKENS[rng.below(TOKENS.len())]),
            4 => out.extend_from_slice(&(rng.below(4096) as u32).to_be_bytes()),
            5 => out.extend_from_slice(&(rng.below(4096) as u32).to_le_bytes()),
            _ => out.push(rng.next() as u8),
        }
    }
    if out.starts_with(b"RIFF") && rng.below(2) == 0 {
        let size = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&size.to_le_bytes());
    }
    out
}

fn corpus_run(prefixes: &[&[u8]], per_prefix: usize, f: &dyn Fn(&[u8]) -> bool) -> (usize, usize) {
    let mut rng = Rng::new(0x005E_ED0F_F00D);
    let (mut panics, mut accepted) = (0, 0);
    for prefix in prefixes {
        for _ in 0..per_prefix {
            let bytes = corpus(prefix, &mut rng);
            match silently(|| f(&bytes)) {
                Ok(true) => accepted += 1,
                Ok(false) => {}
                Err(()) => panics += 1,
            }
        }
    }
    (panics, accepted)
}

// --- images: imagesize ----------------------------------------------------------------------------

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

fn ours_image(bytes: &[u8]) -> String {
    match probe_image(bytes) {
        Ok(p) => format!("{} {}x{}", p.format, p.width, p.height),
        Err(e) => format!("error: {e}"),
    }
}

fn imagesize_format(t: imagesize::ImageType) -> &'static str {
    use imagesize::ImageType as T;
    match t {
        T::Jpeg => "jpeg",
        T::Png => "png",
        T::Webp => "webp",
        T::Bmp => "bmp",
        T::Tiff => "tiff",
        T::Gif => "gif",
        _ => "other",
    }
}

fn imagesize_image(bytes: &[u8]) -> String {
    let kind = match imagesize::image_type(bytes) {
        Ok(t) => imagesize_format(t),
        Err(e) => return format!("error: {e:?}"),
    };
    match imagesize::blob_size(bytes) {
        Ok(s) => format!("{kind} {}x{}", s.width, s.height),
        Err(e) => format!("error: {e:?}"),
    }
}

fn imagesize_ok(bytes: &[u8]) -> bool {
    imagesize::blob_size(bytes).is_ok_and(|s| s.width > 0 && s.height > 0)
}

fn exif(orientation: u16) -> Vec<u8> {
    let mut t = b"II".to_vec();
    t.extend(42u16.to_le_bytes());
    t.extend(8u32.to_le_bytes());
    t.extend(1u16.to_le_bytes());
    t.extend(274u16.to_le_bytes());
    t.extend(3u16.to_le_bytes());
    t.extend(1u32.to_le_bytes());
    t.extend(orientation.to_le_bytes());
    t.extend([0, 0]);
    t.extend(0u32.to_le_bytes());
    t
}

fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut body = b"Exif\0\0".to_vec();
    body.extend(exif(orientation));
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((body.len() + 2) as u16).to_be_bytes());
    out.extend(body);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn hand_vp8(width: u16, height: u16, scale_bits: u16) -> Vec<u8> {
    let mut vp8 = vec![0x50, 0x01, 0x00, 0x9D, 0x01, 0x2A];
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

fn image_report(out: &mut String) {
    let mut tally = Tally::default();
    let mut fixtures: Vec<(String, Vec<u8>)> = Vec::new();
    for format in ALL {
        for (w, h) in [(640, 480), (301, 599), (1, 1), (1203, 17)] {
            fixtures.push((format!("{format} {w}x{h}"), make(format, w, h)));
        }
    }
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(33, 44, Rgba([1, 2, 3, 128])));
    for (enc, name) in [
        (Encoding::Png, "png"),
        (Encoding::Tiff, "tiff"),
        (Encoding::Bmp, "bmp"),
        (Encoding::WebP, "webp"),
    ] {
        fixtures.push((format!("rgba {name}"), encode(rgba.clone(), enc)));
    }
    let mut top_down = make(ImageFormat::Bmp, 64, 48);
    top_down[22..26].copy_from_slice(&(-48i32).to_le_bytes());
    fixtures.push(("top-down BMP".into(), top_down));
    fixtures.push(("VP8 1024x768, scale bits 0".into(), hand_vp8(1024, 768, 0)));
    fixtures.push(("VP8 1024x768, scale bits 3".into(), hand_vp8(1024, 768, 3)));
    let jpeg = make(ImageFormat::Jpeg, 320, 200);
    let mut filled = jpeg[..2].to_vec();
    filled.extend([0xFF, 0xFF, 0xFF]);
    filled.extend_from_slice(&jpeg[2..]);
    fixtures.push(("JPEG with fill bytes".into(), filled));
    let mut motion = jpeg.clone();
    motion.extend_from_slice(b"\0\0\0\x18ftypmp42 and the rest of a video");
    fixtures.push(("JPEG motion photo".into(), motion));
    fixtures.push((
        "JPEG 400x300, EXIF orientation 6 (displayed 300x400)".into(),
        with_exif(&make(ImageFormat::Jpeg, 400, 300), 6),
    ));
    for (label, ext, args) in [
        ("lossy", "webp", &["-c:v", "libwebp", "-lossless", "0"][..]),
        (
            "alpha",
            "webp",
            &["-c:v", "libwebp", "-pix_fmt", "yuva420p"],
        ),
        ("png", "png", &[]),
        ("bmp", "bmp", &[]),
        ("tiff", "tiff", &[]),
        ("gif", "gif", &[]),
        ("jpeg", "jpg", &["-q:v", "3"]),
    ] {
        let mut full = vec!["-f", "lavfi", "-i", "testsrc2=size=346x212:rate=1"];
        full.extend_from_slice(args);
        full.extend(["-frames:v", "1"]);
        if let Some(bytes) = common::ffmpeg(&format!("eval-{label}"), ext, &full) {
            fixtures.push((format!("ffmpeg {label}.{ext}"), bytes));
        }
    }
    for (label, bytes) in &fixtures {
        tally.compare(label, ours_image(bytes), imagesize_image(bytes));
    }
    let _ = writeln!(
        out,
        "== images: imagesize 0.15 on {} fixtures: {} same, {} differ",
        fixtures.len(),
        tally.same,
        tally.differs
    );
    out.push_str(&tally.lines);

    // Cut and lying files: ours refuses every one of them.
    let _ = writeln!(out, "-- cut files (ours refuses all):");
    for format in ALL {
        let bytes = make(format, 97, 61);
        let len = bytes.len();
        let mut cuts: Vec<usize> = (0..len.min(200)).collect();
        cuts.extend((200..len).step_by(len / 50 + 1));
        cuts.extend([len / 2, len - 2, len - 1]);
        let accepted = cuts.iter().filter(|&&c| imagesize_ok(&bytes[..c])).count();
        let ours = cuts
            .iter()
            .filter(|&&c| probe_image(&bytes[..c]).is_ok())
            .count();
        let _ = writeln!(
            out,
            "  {format}: imagesize accepts {accepted} of {} cuts (ours {ours}); cut by one byte: {}",
            cuts.len(),
            imagesize_image(&bytes[..len - 1])
        );
    }
    let _ = writeln!(out, "-- lying headers (ours refuses all):");
    let mut bmp = make(ImageFormat::Bmp, 16, 16);
    bmp[18..22].copy_from_slice(&10_000i32.to_le_bytes());
    bmp[22..26].copy_from_slice(&10_000i32.to_le_bytes());
    let mut gif = make(ImageFormat::Gif, 20, 20);
    let last = gif.len() - 1;
    gif[last] = 0x99;
    let mut webp = make(ImageFormat::Webp, 20, 20);
    webp[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut png = make(ImageFormat::Png, 10, 10);
    png[18] ^= 1; // width without fixing the IHDR checksum
    for (label, bytes) in [
        ("BMP claiming 10000x10000 in 800 bytes", bmp),
        ("GIF with an unknown block for a trailer", gif),
        ("WebP whose RIFF size exceeds the file", webp),
        ("PNG whose IHDR checksum does not match", png),
    ] {
        let _ = writeln!(
            out,
            "  {label}: ours {} / imagesize {}",
            ours_image(&bytes),
            imagesize_image(&bytes)
        );
    }
    let mut panics = 0;
    let mut accepted = (0, 0);
    for (i, format) in ALL.into_iter().enumerate() {
        let bytes = make(format, 80, 60);
        let (p, a) = damage(&bytes, 0x9E37_79B9 + i as u64, 2000, &imagesize_ok);
        let (_, o) = damage(&bytes, 0x9E37_79B9 + i as u64, 2000, &|b| {
            probe_image(b).is_ok()
        });
        panics += p;
        accepted.0 += a;
        accepted.1 += o;
    }
    let _ = writeln!(
        out,
        "-- damaged copies (6 x 2000): imagesize panics {panics}, accepts {} (ours {})",
        accepted.0, accepted.1
    );
    let prefixes: [&[u8]; 9] = [
        b"\xFF\xD8\xFF",
        b"\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR",
        b"GIF89a",
        b"II*\0\x08\0\0\0",
        b"MM\0*\0\0\0\x08",
        b"BM\0\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0",
        b"RIFF\xFF\xFF\0\0WEBPVP8 ",
        b"RIFF\xFF\xFF\0\0WEBPVP8L",
        b"RIFF\xFF\xFF\0\0WEBPVP8X",
    ];
    let (p, a) = corpus_run(&prefixes, 1500, &imagesize_ok);
    let (_, o) = corpus_run(&prefixes, 1500, &|b| probe_image(b).is_ok());
    let _ = writeln!(
        out,
        "-- fuzz corpus (9 prefixes x 1500): imagesize panics {p}, accepts {a} (ours {o})"
    );
}

// --- video: mp4parse ------------------------------------------------------------------------------

fn card(width: u32, height: u32, seconds: u32, audio: bool) -> Vec<u8> {
    render(&RenderSpec {
        width,
        height,
        fps: 24,
        duration_seconds: seconds,
        scene: Scene::Card {
            prompt: "probe me".into(),
        },
        audio,
    })
    .expect("render")
}

fn ours_video(bytes: &[u8]) -> String {
    match probe_video(bytes) {
        Ok(v) => {
            let audio = v.audio.map_or("none".to_string(), |a| {
                format!("{} {} Hz {} ch", a.codec, a.sample_rate, a.channels)
            });
            format!(
                "{} stored {}x{} rot {} fps {:.3} frames {} dur {:.2}s; audio {audio}",
                v.codec,
                v.stored_width,
                v.stored_height,
                v.rotation,
                v.fps,
                v.frame_count,
                v.duration_seconds
            )
        }
        Err(e) => format!("error: {e}"),
    }
}

fn mp4parse_codec(c: mp4parse::CodecType) -> String {
    use mp4parse::CodecType as C;
    match c {
        C::H264 => "h264".into(),
        C::MP4V => "mpeg4".into(),
        C::AV1 => "av1".into(),
        C::VP9 => "vp9".into(),
        C::VP8 => "vp8".into(),
        C::AAC => "aac".into(),
        C::MP3 => "mp3".into(),
        C::Opus => "opus".into(),
        C::FLAC => "flac".into(),
        C::LPCM => "pcm".into(),
        other => format!("{other:?}"),
    }
}

/// The same facts, from mp4parse's MediaContext: codec and stored size from the sample entry,
/// rotation from the tkhd matrix, frames and fps from stts, duration from the track's mdhd
/// (mp4parse does not expose the mvhd duration) or its edit list.
fn mp4parse_video(bytes: &[u8]) -> String {
    let ctx = match mp4parse::read_mp4(&mut Cursor::new(bytes)) {
        Ok(ctx) => ctx,
        Err(e) => return format!("error: {e:?}"),
    };
    let tracks: Vec<&mp4parse::Track> = ctx.tracks.iter().collect();
    let Some(v) = tracks
        .iter()
        .find(|t| t.track_type == mp4parse::TrackType::Video)
    else {
        return "error: no video track".into();
    };
    let (codec, w, h) = match v.stsd.as_ref().and_then(|s| s.descriptions.first()) {
        Some(mp4parse::SampleEntry::Video(e)) => (
            mp4parse_codec(e.codec_type),
            u32::from(e.width),
            u32::from(e.height),
        ),
        Some(mp4parse::SampleEntry::Unknown) => ("Unknown (no sample entry)".into(), 0, 0),
        Some(mp4parse::SampleEntry::Audio(_)) => ("audio entry?".into(), 0, 0),
        None => ("no stsd".into(), 0, 0),
    };
    let rot = v.tkhd.as_ref().map_or(0, |t| {
        let m = t.matrix;
        match (m.a.signum(), m.b.signum(), m.c.signum(), m.d.signum()) {
            (0, 1, -1, 0) | (0, 1, 1, 0) => 90,
            (-1, 0, 0, -1) | (1, 0, 0, -1) => 180,
            (0, -1, 1, 0) | (0, -1, -1, 0) => 270,
            _ => 0,
        }
    });
    let scale = v.timescale.map_or(0, |t| t.0);
    let (frames, delta) = v.stts.as_ref().map_or((0u64, 0u32), |s| {
        (
            s.samples.iter().map(|x| u64::from(x.sample_count)).sum(),
            s.samples.first().map_or(0, |x| x.sample_delta),
        )
    });
    let fps = if delta > 0 {
        scale as f64 / f64::from(delta)
    } else {
        0.0
    };
    let movie_scale = ctx.timescale.map_or(0, |t| t.0);
    let dur = match (v.edited_duration, v.duration) {
        (Some(e), _) if movie_scale > 0 && e.0 > 0 => e.0 as f64 / movie_scale as f64,
        (_, Some(d)) if scale > 0 => d.0 as f64 / scale as f64,
        _ => 0.0,
    };
    let audio = tracks
        .iter()
        .find(|t| t.track_type == mp4parse::TrackType::Audio)
        .map_or("none".to_string(), |a| {
            match a.stsd.as_ref().and_then(|s| s.descriptions.first()) {
                Some(mp4parse::SampleEntry::Audio(e)) => format!(
                    "{} {} Hz {} ch",
                    mp4parse_codec(e.codec_type),
                    e.samplerate as u32,
                    e.channelcount
                ),
                Some(mp4parse::SampleEntry::Unknown) => "Unknown (no sample entry)".into(),
                _ => "no audio entry".into(),
            }
        });
    format!(
        "{codec} stored {w}x{h} rot {rot} fps {fps:.3} frames {frames} dur {dur:.2}s; audio {audio}"
    )
}

fn mp4parse_ok(bytes: &[u8]) -> bool {
    mp4parse::read_mp4(&mut Cursor::new(bytes)).is_ok_and(|ctx| {
        ctx.tracks
            .iter()
            .any(|t| t.track_type == mp4parse::TrackType::Video)
    })
}

fn video_report(out: &mut String) {
    let mut tally = Tally::default();
    let mut fixtures: Vec<(String, Vec<u8>)> = vec![
        ("renderer 320x240 2 s + AAC".into(), card(320, 240, 2, true)),
        (
            "renderer 496x864 1 s silent".into(),
            card(496, 864, 1, false),
        ),
    ];
    let mut rotated = card(320, 240, 1, false);
    let tkhd = rotated.windows(4).position(|w| w == b"tkhd").expect("tkhd");
    let matrix = tkhd + 4 + 24 + 16;
    for (i, v) in [0, 0x1_0000i32, 0, -0x1_0000, 0, 0, 0, 0, 0x4000_0000]
        .into_iter()
        .enumerate()
    {
        rotated[matrix + 4 * i..matrix + 4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    fixtures.push(("renderer, portrait matrix (90)".into(), rotated));
    let source = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=24:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100:duration=2",
    ];
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "fragmented",
            "mp4",
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-c:a",
                "aac",
                "-movflags",
                "frag_keyframe+empty_moov",
            ],
        ),
        (
            "hevc-mov",
            "mov",
            &[
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-x265-params",
                "log-level=error",
                "-tag:v",
                "hvc1",
                "-c:a",
                "pcm_s16le",
            ],
        ),
        (
            "h264-mov",
            "mov",
            &["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"],
        ),
        (
            "opus",
            "mp4",
            &["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus"],
        ),
        ("mpeg4-25fps", "mp4", &["-r", "25", "-c:v", "mpeg4", "-an"]),
        (
            "faststart",
            "mp4",
            &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-c:a",
                "aac",
                "-movflags",
                "faststart",
            ],
        ),
    ];
    for (label, ext, args) in cases {
        let mut full = source.to_vec();
        full.extend_from_slice(args);
        full.extend(["-t", "2"]);
        if let Some(bytes) = common::ffmpeg(&format!("eval-{label}"), ext, &full) {
            if label == "faststart" {
                // The same file with its last box (mdat) given size 0, "to the end of the file".
                let mut pos = 0;
                let mut last = 0;
                while pos + 8 <= bytes.len() {
                    last = pos;
                    let size = u32::from_be_bytes([
                        bytes[pos],
                        bytes[pos + 1],
                        bytes[pos + 2],
                        bytes[pos + 3],
                    ]) as usize;
                    if size < 8 {
                        break;
                    }
                    pos += size;
                }
                let mut open = bytes.clone();
                if &open[last + 4..last + 8] == b"mdat" {
                    open[last..last + 4].copy_from_slice(&[0, 0, 0, 0]);
                    fixtures.push(("faststart, mdat of size 0 (to end)".into(), open));
                }
            }
            fixtures.push((format!("ffmpeg {label}.{ext}"), bytes));
        }
    }
    let audio_only = common::ffmpeg(
        "eval-audio-only",
        "mp4",
        &["-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac"],
    );
    if let Some(bytes) = audio_only {
        fixtures.push(("audio-only MP4 (must be refused)".into(), bytes));
    }
    for (label, bytes) in &fixtures {
        let theirs = silently(|| mp4parse_video(bytes)).unwrap_or_else(|()| "PANIC".into());
        tally.compare(label, ours_video(bytes), theirs);
    }
    let _ = writeln!(
        out,
        "\n== video: mp4parse 0.17 on {} fixtures: {} same, {} differ",
        fixtures.len(),
        tally.same,
        tally.differs
    );
    out.push_str(&tally.lines);

    let mp4 = card(320, 240, 1, true);
    let cuts: Vec<usize> = (0..mp4.len() - 1)
        .step_by(7)
        .chain([mp4.len() - 1])
        .collect();
    let accepted: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| mp4parse_ok(&mp4[..c]))
        .collect();
    let ours = cuts.iter().filter(|&&c| probe(&mp4[..c]).is_ok()).count();
    let _ = writeln!(
        out,
        "-- cut renderer MP4 ({} cuts of {} bytes): mp4parse accepts {} (ours {ours}): {:?}; cut by one byte: {}",
        cuts.len(),
        mp4.len(),
        accepted.len(),
        accepted
            .iter()
            .map(|&c| format!("{c}: {}", mp4parse_video(&mp4[..c])))
            .collect::<Vec<_>>(),
        mp4parse_video(&mp4[..mp4.len() - 1])
    );
    let mut boxes = Vec::new();
    let mut pos = 0;
    while pos + 8 <= mp4.len() {
        let size = u32::from_be_bytes([mp4[pos], mp4[pos + 1], mp4[pos + 2], mp4[pos + 3]]);
        boxes.push(format!(
            "{} at {pos}",
            String::from_utf8_lossy(&mp4[pos + 4..pos + 8])
        ));
        if size < 8 {
            break;
        }
        pos += size as usize;
    }
    let _ = writeln!(out, "   (top-level boxes: {boxes:?})");
    let (panics, accepted) = damage(&mp4, 0x2545_f491_4f6c_dd1d, 3000, &mp4parse_ok);
    let (_, ours) = damage(&mp4, 0x2545_f491_4f6c_dd1d, 3000, &|b| {
        probe_video(b).is_ok()
    });
    let _ = writeln!(
        out,
        "-- damaged copies (3000): mp4parse panics {panics}, accepts {accepted} (ours {ours})"
    );
    let prefixes: [&[u8]; 3] = [
        b"\0\0\0\x18ftypisom\0\0\0\0isom",
        b"\0\0\0\x14ftypqt  \0\0\0\0",
        b"\0\0\0\x08wide",
    ];
    let (p, a) = corpus_run(&prefixes, 1500, &mp4parse_ok);
    let (_, o) = corpus_run(&prefixes, 1500, &|b| probe_video(b).is_ok());
    let _ = writeln!(
        out,
        "-- fuzz corpus (3 prefixes x 1500): mp4parse panics {p}, accepts {a} (ours {o})"
    );
}

// --- audio: symphonia -----------------------------------------------------------------------------

fn ours_audio(bytes: &[u8]) -> String {
    match probe_audio(bytes) {
        Ok(a) => format!(
            "{} {:.4}s {} Hz {} ch",
            a.format, a.duration_seconds, a.sample_rate, a.channels
        ),
        Err(e) => format!("error: {e}"),
    }
}

fn symphonia_audio(bytes: &[u8]) -> Result<(String, f64, u32, usize), String> {
    use symphonia::core::codecs::CodecParameters;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::formats::{FormatOptions, TrackType};
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    let source = Cursor::new(bytes.to_vec());
    let mss = MediaSourceStream::new(Box::new(source), Default::default());
    let reader = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| format!("error: {e}"))?;
    let format = reader.format_info().short_name.to_string();
    let track = reader
        .default_track(TrackType::Audio)
        .ok_or("error: no audio track")?;
    let Some(CodecParameters::Audio(params)) = &track.codec_params else {
        return Err("error: no audio parameters".into());
    };
    let rate = params.sample_rate.unwrap_or(0);
    let channels = params.channels.as_ref().map_or(0, |c| c.count());
    let seconds = match track.num_frames {
        Some(n) if rate > 0 => n as f64 / f64::from(rate),
        _ => f64::NAN,
    };
    Ok((format, seconds, rate, channels))
}

fn symphonia_string(bytes: &[u8]) -> String {
    match silently(|| symphonia_audio(bytes)) {
        Ok(Ok((format, s, rate, ch))) => {
            let format = match format.as_str() {
                "mp3" | "mp2" | "mp1" | "mpa" => "mp3".to_string(),
                "wave" => "wav".to_string(),
                other => other.to_string(),
            };
            format!("{format} {s:.4}s {rate} Hz {ch} ch")
        }
        Ok(Err(e)) => e,
        Err(()) => "PANIC".into(),
    }
}

fn symphonia_ok(bytes: &[u8]) -> bool {
    symphonia_audio(bytes).is_ok_and(|(_, s, rate, ch)| s.is_finite() && rate > 0 && ch > 0)
}

fn wav(tag: u16, channels: u16, rate: u32, bits: u16, frames: u32, extensible: bool) -> Vec<u8> {
    let block = u32::from(channels) * u32::from(bits / 8);
    let mut fmt = if extensible { 0xFFFEu16 } else { tag }
        .to_le_bytes()
        .to_vec();
    fmt.extend(channels.to_le_bytes());
    fmt.extend(rate.to_le_bytes());
    fmt.extend((rate * block).to_le_bytes());
    fmt.extend((block as u16).to_le_bytes());
    fmt.extend(bits.to_le_bytes());
    if extensible {
        fmt.extend(22u16.to_le_bytes());
        fmt.extend(bits.to_le_bytes());
        fmt.extend(0u32.to_le_bytes());
        fmt.extend(tag.to_le_bytes());
        fmt.extend(b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71");
    }
    let data_len = frames * block;
    let mut body = b"WAVEfmt ".to_vec();
    body.extend((fmt.len() as u32).to_le_bytes());
    body.extend(fmt);
    body.extend(b"data");
    body.extend(data_len.to_le_bytes());
    body.extend((0..data_len).map(|i| (i * 31 % 251) as u8));
    let mut out = b"RIFF".to_vec();
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

const CBR_HEADER: [u8; 4] = [0xFF, 0xFB, 0x90, 0x64];
const LSF_HEADER: [u8; 4] = [0xFF, 0xF3, 0x80, 0xC4];
const MP2_HEADER: [u8; 4] = [0xFF, 0xFD, 0xA4, 0x04];

fn frames(header: [u8; 4], len: usize, n: usize) -> Vec<u8> {
    let mut frame = header.to_vec();
    frame.resize(len, 0);
    frame.repeat(n)
}

fn xing_frame(count: u32, bytes: Option<u32>) -> Vec<u8> {
    let mut frame = CBR_HEADER.to_vec();
    frame.resize(4 + 32, 0);
    frame.extend(b"Xing");
    frame.extend((1u32 | if bytes.is_some() { 2 } else { 0 }).to_be_bytes());
    frame.extend(count.to_be_bytes());
    if let Some(bytes) = bytes {
        frame.extend(bytes.to_be_bytes());
    }
    frame.resize(417, 0);
    frame
}

fn id3v2(size: usize) -> Vec<u8> {
    let mut tag = b"ID3\x04\x00\x00".to_vec();
    let s = size as u32;
    tag.extend([
        (s >> 21) as u8 & 0x7F,
        (s >> 14) as u8 & 0x7F,
        (s >> 7) as u8 & 0x7F,
        s as u8 & 0x7F,
    ]);
    tag.extend(std::iter::repeat_n(b'T', size));
    tag
}

fn audio_report(out: &mut String) {
    let mut tally = Tally::default();
    let mut fixtures: Vec<(String, Vec<u8>)> = vec![
        (
            "WAV s16 mono 44.1k 3 s".into(),
            wav(1, 1, 44_100, 16, 3 * 44_100, false),
        ),
        ("WAV u8 8k 4 s".into(), wav(1, 1, 8_000, 8, 32_000, false)),
        (
            "WAV s24 stereo 7 s".into(),
            wav(1, 2, 22_050, 24, 22_050 * 7, false),
        ),
        (
            "WAV f32 stereo 5 s".into(),
            wav(3, 2, 32_000, 32, 32_000 * 5, false),
        ),
        (
            "WAV f64 mono 2 s".into(),
            wav(3, 1, 44_100, 64, 44_100 * 2, false),
        ),
        (
            "WAV A-law 3 s".into(),
            wav(6, 1, 8_000, 8, 8_000 * 3, false),
        ),
        (
            "WAV mu-law 3 s".into(),
            wav(7, 1, 8_000, 8, 8_000 * 3, false),
        ),
        (
            "WAV extensible 6 ch s24 2 s".into(),
            wav(1, 6, 48_000, 24, 96_000, true),
        ),
    ];
    let base = wav(1, 2, 8_000, 16, 24_000, false);
    let data_at = base.len() - 24_000 * 4 - 4;
    let mut lying = base.clone();
    lying[data_at..data_at + 4].copy_from_slice(&(24_000u32 * 4 * 100).to_le_bytes());
    fixtures.push(("WAV 3 s whose data size claims 300 s".into(), lying));
    let mut streamed = base.clone();
    streamed[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    streamed[data_at..data_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    fixtures.push(("WAV 3 s streamed (sizes 0xFFFFFFFF)".into(), streamed));
    fixtures.push((
        "WAV 3 s cut to 1.5 s".into(),
        base[..base.len() - 12_000 * 4].to_vec(),
    ));
    let mut bad_block = wav(1, 2, 8_000, 16, 100, false);
    bad_block[32..34].copy_from_slice(&3u16.to_le_bytes());
    fixtures.push((
        "WAV whose block size lies (must be refused)".into(),
        bad_block,
    ));

    fixtures.push(("MP3 100 CBR frames".into(), frames(CBR_HEADER, 417, 100)));
    fixtures.push((
        "MPEG-2 L3 mono 50 frames".into(),
        frames(LSF_HEADER, 208, 50),
    ));
    fixtures.push(("MP2 40 frames".into(), frames(MP2_HEADER, 576, 40)));
    let mut tagged = id3v2(1000);
    tagged.extend([0u8; 300]);
    tagged.extend(frames(CBR_HEADER, 417, 100));
    let mut id3v1 = b"TAG".to_vec();
    id3v1.resize(128, b' ');
    tagged.extend(&id3v1);
    tagged.extend(b"APETAGEX");
    fixtures.push((
        "MP3 100 frames, ID3v2 + padding + ID3v1 + APE".into(),
        tagged,
    ));
    let mut padded = frames(CBR_HEADER, 417, 2);
    padded.extend([0u8; 1000]);
    fixtures.push(("MP3 2 frames + 1000 zero bytes".into(), padded));
    let mut xing = xing_frame(100, Some(101 * 417));
    xing.extend(frames(CBR_HEADER, 417, 100));
    fixtures.push(("MP3 Xing(100) + 100 frames".into(), xing));
    let mut lying_xing = xing_frame(100_000, None);
    lying_xing.extend(frames(CBR_HEADER, 417, 100));
    fixtures.push(("MP3 Xing claiming 100000 + 100 frames".into(), lying_xing));
    let mut cut = id3v2(200);
    cut.extend(frames(CBR_HEADER, 417, 20));
    let cut_len = 210 + 5 * 417 + 100;
    fixtures.push(("MP3 20 frames cut after 5".into(), cut[..cut_len].to_vec()));
    let mut garbage = id3v2(10);
    garbage.extend((0..5000u32).map(|i| (i * 7 % 250) as u8));
    fixtures.push(("ID3 tag + no frames (must be refused)".into(), garbage));
    let mut short = frames(CBR_HEADER, 417, 2);
    short.extend([0x33; 2000]);
    fixtures.push(("2 frames + garbage (must be refused)".into(), short));

    let source = [
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:sample_rate=44100:duration=3.3",
    ];
    let cases: [(&str, &str, &[&str]); 9] = [
        ("s16", "wav", &["-c:a", "pcm_s16le"]),
        ("f32", "wav", &["-c:a", "pcm_f32le"]),
        (
            "cbr-plain",
            "mp3",
            &["-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0"],
        ),
        ("cbr-info", "mp3", &["-c:a", "libmp3lame", "-b:a", "192k"]),
        ("vbr", "mp3", &["-c:a", "libmp3lame", "-q:a", "4"]),
        (
            "vbr-plain",
            "mp3",
            &["-c:a", "libmp3lame", "-q:a", "4", "-write_xing", "0"],
        ),
        (
            "mpeg2",
            "mp3",
            &[
                "-ar",
                "22050",
                "-ac",
                "1",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "32k",
            ],
        ),
        (
            "mpeg25",
            "mp3",
            &["-ar", "8000", "-c:a", "libmp3lame", "-q:a", "7"],
        ),
        ("layer2", "mp2", &["-c:a", "mp2", "-b:a", "192k"]),
    ];
    for (label, ext, args) in cases {
        let mut full = source.to_vec();
        full.extend_from_slice(args);
        if let Some(bytes) = common::ffmpeg(&format!("eval-{label}"), ext, &full) {
            let reference = common::ffprobe_duration(&format!("eval-{label}"), ext, &bytes)
                .map_or(String::new(), |d| format!(" (ffprobe {d:.4}s)"));
            fixtures.push((format!("ffmpeg {label}.{ext}{reference}"), bytes));
        }
    }
    for (label, bytes) in &fixtures {
        tally.compare(label, ours_audio(bytes), symphonia_string(bytes));
    }
    let _ = writeln!(
        out,
        "\n== audio: symphonia 0.6 (mp1, mp2, mp3, wav, id3v2) on {} fixtures: {} same, {} differ",
        fixtures.len(),
        tally.same,
        tally.differs
    );
    out.push_str(&tally.lines);

    let mut mp3 = id3v2(100);
    mp3.extend(xing_frame(30, Some(31 * 417)));
    mp3.extend(frames(CBR_HEADER, 417, 30));
    let lsf = frames(LSF_HEADER, 208, 30);
    let wav_bytes = wav(1, 2, 8_000, 16, 3000, true);
    for (i, (name, bytes)) in [("mp3", mp3), ("mpeg-2 mp3", lsf), ("wav", wav_bytes)]
        .iter()
        .enumerate()
    {
        let (panics, accepted) = damage(bytes, 1000 + i as u64, 3000, &symphonia_ok);
        let (_, ours) = damage(bytes, 1000 + i as u64, 3000, &|b| probe_audio(b).is_ok());
        let _ = writeln!(
            out,
            "-- damaged {name} (3000): symphonia panics {panics}, accepts {accepted} (ours {ours})"
        );
    }
    let prefixes: [&[u8]; 4] = [
        b"RIFF\xFF\xFF\xFF\xFFWAVEfmt ",
        b"ID3\x04\0\0\0\0\0\x10",
        b"\xFF\xFB\x90\x64",
        b"\xFF\xF3\x80\xC4",
    ];
    let (p, a) = corpus_run(&prefixes, 1500, &symphonia_ok);
    let (_, o) = corpus_run(&prefixes, 1500, &|b| probe_audio(b).is_ok());
    let _ = writeln!(
        out,
        "-- fuzz corpus (4 prefixes x 1500): symphonia panics {p}, accepts {a} (ours {o})"
    );
    let tiny: &[u8] = b"RIFF\0\0\0\0WAVE";
    let _ = writeln!(
        out,
        "-- 'RIFF' size 0 (12 bytes): ours {} / symphonia {}",
        ours_audio(tiny),
        symphonia_string(tiny)
    );
}

#[test]
fn evaluate_the_crates() {
    // Panics inside the crates are counted, not printed.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        if let Ok(mut seen) = PANICS.lock() {
            if !seen.contains(&message) {
                seen.push(message);
            }
        }
    }));
    let mut out = String::new();
    image_report(&mut out);
    video_report(&mut out);
    audio_report(&mut out);
    std::panic::set_hook(hook);
    let _ = writeln!(out, "\n== panics inside the crates:");
    for message in PANICS.lock().expect("lock").iter() {
        let _ = writeln!(out, "  {message}");
    }
    let path = std::env::temp_dir().join("seedgate-probe-crate-eval.txt");
    std::fs::write(&path, &out).expect("write report");
    let _ = probe(b"");
}

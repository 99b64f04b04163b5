//! End-to-end checks: render every scene kind at Seedance output sizes and read the result back,
//! with `inspect` always and with ffprobe/ffmpeg when they are installed. The reader's own tests
//! (garbage, truncation, files made by other muxers) are in seedgate-probe's tests/video.rs.

use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use seedgate_local_renderer::{inspect, render, RenderError, RenderSpec, Scene};

// --- test inputs --------------------------------------------------------------------------------

fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

/// A red-to-blue gradient with a few shapes, so motion is visible.
fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let t = x as f32 / w as f32;
        let ring = ((x as f32 - w as f32 / 2.0).hypot(y as f32 - h as f32 / 2.0) / 12.0) as u32 % 2;
        Rgb([
            (255.0 * (1.0 - t)) as u8,
            (y * 255 / h) as u8 / 3 + 40 * ring as u8,
            (255.0 * t) as u8,
        ])
    })
}

fn checker(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        if (x / 40 + y / 40) % 2 == 0 {
            Rgb([240, 200, 60])
        } else {
            Rgb([30, 90, 160])
        }
    })
}

fn png(w: u32, h: u32) -> Vec<u8> {
    encode(DynamicImage::ImageRgb8(gradient(w, h)), ImageFormat::Png)
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    encode(DynamicImage::ImageRgb8(checker(w, h)), ImageFormat::Jpeg)
}

const GARBAGE_IMAGE: &[u8] = b"\x89PNG\r\n\x1a\nthis is not really a png at all";

fn spec(width: u32, height: u32, seconds: u32, scene: Scene, audio: bool) -> RenderSpec {
    RenderSpec {
        width,
        height,
        fps: 24,
        duration_seconds: seconds,
        scene,
        audio,
    }
}

// --- checks -------------------------------------------------------------------------------------

/// Renders `spec` and checks the result with `inspect` (and ffprobe/ffmpeg when present).
fn render_and_check(spec: &RenderSpec) -> Vec<u8> {
    let mp4 = render(spec).unwrap_or_else(|e| panic!("render {}x{}: {e}", spec.width, spec.height));
    let info = inspect(&mp4).expect("inspect our own output");
    let frames = u64::from(spec.fps * spec.duration_seconds);
    let seconds = f64::from(spec.duration_seconds);

    let video = info.video.as_ref().expect("video track");
    assert_eq!(video.codec, "h264");
    assert_eq!((video.width, video.height), (spec.width, spec.height));
    assert!(
        (video.fps - f64::from(spec.fps)).abs() < 0.01,
        "fps {}",
        video.fps
    );
    assert_eq!(video.frame_count, frames);
    assert!(
        (video.duration_seconds - seconds).abs() <= 1.0 / f64::from(spec.fps),
        "{video:?}"
    );
    assert!(
        (info.duration_seconds - seconds).abs() < 0.1,
        "movie duration {}",
        info.duration_seconds
    );

    match (&info.audio, spec.audio) {
        (Some(audio), true) => {
            assert_eq!(audio.codec, "aac");
            assert_eq!((audio.sample_rate, audio.channels), (48_000, 2));
            assert!((audio.duration_seconds - seconds).abs() <= 0.1, "{audio:?}");
        }
        (None, false) => {}
        (audio, wanted) => panic!("audio wanted: {wanted}, found: {audio:?}"),
    }

    // Faststart layout: ftyp, then moov, then the media data.
    assert_eq!(&mp4[4..8], b"ftyp");
    let ftyp_len = u32::from_be_bytes([mp4[0], mp4[1], mp4[2], mp4[3]]) as usize;
    assert_eq!(
        &mp4[ftyp_len + 4..ftyp_len + 8],
        b"moov",
        "moov should precede mdat"
    );

    ffprobe_check(spec, &mp4);
    mp4
}

fn tool_available(name: &str) -> bool {
    Command::new(name)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A temp file path unique to this process and label.
fn temp_path(label: &str) -> PathBuf {
    std::env::temp_dir().join(format!("seedgate-lr-{}-{label}.mp4", std::process::id()))
}

/// Cross-checks with the real thing: ffprobe must agree on the facts and ffmpeg must decode
/// every frame without complaint. Skipped (with a note) when ffmpeg is not installed.
fn ffprobe_check(spec: &RenderSpec, mp4: &[u8]) {
    if !tool_available("ffprobe") || !tool_available("ffmpeg") {
        eprintln!("ffprobe/ffmpeg not installed: skipping the external cross-check");
        return;
    }
    let label = format!(
        "{}x{}-{}-{}",
        spec.width,
        spec.height,
        spec.duration_seconds,
        scene_name(&spec.scene)
    );
    let path = temp_path(&label);
    std::fs::write(&path, mp4).expect("write temp mp4");

    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(&path)
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "ffprobe complained: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe json");
    let streams = json["streams"].as_array().expect("streams");
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("ffprobe video stream");
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(video["width"], spec.width);
    assert_eq!(video["height"], spec.height);
    assert_eq!(video["r_frame_rate"], format!("{}/1", spec.fps));
    assert_eq!(video["avg_frame_rate"], format!("{}/1", spec.fps));
    assert_eq!(
        video["nb_frames"],
        (spec.fps * spec.duration_seconds).to_string()
    );
    let duration: f64 = video["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("video duration");
    assert!(
        (duration - f64::from(spec.duration_seconds)).abs() < 1e-3,
        "ffprobe video duration {duration}"
    );
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    if spec.audio {
        let audio = audio.expect("ffprobe audio stream");
        assert_eq!(audio["codec_name"], "aac");
        assert_eq!(audio["sample_rate"], "48000");
        let duration: f64 = audio["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .expect("audio duration");
        assert!(
            (duration - f64::from(spec.duration_seconds)).abs() <= 0.1,
            "ffprobe audio duration {duration}"
        );
    } else {
        assert!(audio.is_none(), "unexpected audio stream");
    }
    let format_duration: f64 = json["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("format duration");
    assert!((format_duration - f64::from(spec.duration_seconds)).abs() < 0.1);

    // Keyframes: the first packet, and then at least every 2 seconds.
    let packets = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts_time,flags",
        ])
        .args(["-of", "csv=p=0"])
        .arg(&path)
        .output()
        .expect("run ffprobe for packets");
    let listing = String::from_utf8_lossy(&packets.stdout);
    let keyframes: Vec<f64> = listing
        .lines()
        .filter(|l| l.contains('K'))
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect();
    assert_eq!(
        keyframes.first(),
        Some(&0.0),
        "first frame must be a keyframe"
    );
    let mut previous = 0.0;
    for &k in keyframes
        .iter()
        .chain([f64::from(spec.duration_seconds)].iter())
    {
        assert!(k - previous <= 2.0 + 1e-6, "keyframe gap {previous}..{k}");
        previous = k;
    }

    let decode = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let _ = std::fs::remove_file(&path);
    assert!(decode.status.success(), "ffmpeg failed to decode");
    assert!(
        decode.stderr.is_empty(),
        "ffmpeg decode errors: {}",
        String::from_utf8_lossy(&decode.stderr)
    );
}

fn scene_name(scene: &Scene) -> &'static str {
    match scene {
        Scene::Card { .. } => "card",
        Scene::Frames { .. } => "frames",
        Scene::References { .. } => "refs",
    }
}

// --- text-to-video ------------------------------------------------------------------------------

#[test]
fn card_480p_16x9_with_audio() {
    let prompt = "A lighthouse on a rocky coast at dusk, waves crashing, slow dolly-in";
    render_and_check(&spec(
        864,
        496,
        4,
        Scene::Card {
            prompt: prompt.into(),
        },
        true,
    ));
}

#[test]
fn card_720p_21x9() {
    let prompt =
        "Ultra-wide establishing shot of a desert highway at noon, heat haze, a lone red car";
    render_and_check(&spec(
        1470,
        630,
        3,
        Scene::Card {
            prompt: prompt.into(),
        },
        false,
    ));
}

#[test]
fn card_1x1_long_unicode_prompt_is_deterministic() {
    let prompt = format!(
        "{} Ünïcødé, 日本語のテキスト, emoji 🎬🌊, tabs\tand\nnewlines. {}",
        "A very long prompt that keeps going and going ".repeat(12),
        "x".repeat(300)
    );
    let s = spec(640, 640, 2, Scene::Card { prompt }, true);
    let first = render_and_check(&s);
    assert_eq!(
        first,
        render(&s).expect("second render"),
        "same spec, same bytes"
    );
}

#[test]
fn card_other_frame_rate() {
    let s = RenderSpec {
        fps: 25,
        ..spec(
            320,
            240,
            2,
            Scene::Card {
                prompt: "twenty-five".into(),
            },
            true,
        )
    };
    render_and_check(&s);
}

// --- image-to-video -----------------------------------------------------------------------------

#[test]
fn frames_first_to_last_720p_with_audio() {
    let scene = Scene::Frames {
        first: png(1600, 1000),
        last: Some(jpeg(900, 1400)),
        prompt: Some("The gradient dissolves into a chequerboard".into()),
    };
    render_and_check(&spec(1280, 720, 4, scene, true));
}

#[test]
fn frames_ken_burns_3x4() {
    let scene = Scene::Frames {
        first: jpeg(1200, 800),
        last: None,
        prompt: None,
    };
    render_and_check(&spec(834, 1112, 3, scene, false));
}

#[test]
fn frames_small_source_is_upscaled() {
    // Smaller than the output in both directions, and an odd aspect ratio.
    let scene = Scene::Frames {
        first: png(37, 91),
        last: None,
        prompt: Some(String::new()),
    };
    render_and_check(&spec(864, 496, 2, scene, false));
}

// --- reference-to-video -------------------------------------------------------------------------

#[test]
fn references_in_every_format_480p() {
    let gradient = DynamicImage::ImageRgb8(gradient(500, 400));
    let checker = DynamicImage::ImageRgb8(checker(640, 480));
    let images = vec![
        png(800, 600),
        jpeg(1024, 768),
        encode(checker.clone(), ImageFormat::Bmp),
        encode(gradient.clone(), ImageFormat::Gif),
        encode(
            DynamicImage::ImageRgba8(gradient.to_rgba8()),
            ImageFormat::WebP,
        ),
        encode(checker, ImageFormat::Tiff),
    ];
    let scene = Scene::References {
        images,
        prompt: Some("Six references in sequence".into()),
    };
    render_and_check(&spec(864, 496, 4, scene, true));
}

#[test]
fn references_single_image_1x1() {
    let scene = Scene::References {
        images: vec![jpeg(300, 300)],
        prompt: None,
    };
    render_and_check(&spec(640, 640, 2, scene, false));
}

// --- failures -----------------------------------------------------------------------------------

#[test]
fn undecodable_images_are_reported_with_their_index() {
    let frames = Scene::Frames {
        first: png(64, 64),
        last: Some(GARBAGE_IMAGE.to_vec()),
        prompt: None,
    };
    let err = render(&spec(320, 240, 1, frames, false)).expect_err("garbage last frame");
    assert!(
        matches!(err, RenderError::BadImage { index: 1, .. }),
        "{err}"
    );

    let frames = Scene::Frames {
        first: b"GIF89a\x01\x00".to_vec(),
        last: None,
        prompt: None,
    };
    let err = render(&spec(320, 240, 1, frames, false)).expect_err("garbage first frame");
    assert!(
        matches!(err, RenderError::BadImage { index: 0, .. }),
        "{err}"
    );

    let refs = Scene::References {
        images: vec![png(64, 64), jpeg(64, 64), vec![0; 100]],
        prompt: None,
    };
    let err = render(&spec(320, 240, 1, refs, false)).expect_err("garbage reference");
    assert!(
        matches!(err, RenderError::BadImage { index: 2, .. }),
        "{err}"
    );
}

//! MP4/MOV: the reader's own tests (moved here from seedgate-local-renderer with the reader),
//! and `probe_video` on the local renderer's output and on files made by ffmpeg.

mod common;

use seedgate_local_renderer::{render, RenderSpec, Scene};
use seedgate_probe::mp4::{inspect, InspectError};
use seedgate_probe::{
    probe, probe_audio, probe_image, probe_video, MediaFormat, MediaProbe, ProbeError,
    VideoContainer,
};

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

#[test]
fn probes_the_local_renderers_output() {
    let mp4 = card(320, 240, 2, true);
    let video = probe_video(&mp4).expect("probe");
    assert_eq!(video.container, VideoContainer::Mp4);
    assert_eq!(video.codec, "h264");
    assert_eq!((video.width, video.height), (320, 240));
    assert_eq!(
        (video.stored_width, video.stored_height, video.rotation),
        (320, 240, 0)
    );
    assert!((video.fps - 24.0).abs() < 1e-9, "{video:?}");
    assert_eq!(video.frame_count, 48);
    assert!((video.duration_seconds - 2.0).abs() < 0.05, "{video:?}");
    assert!(video.has_audio());
    let audio = video.audio.as_ref().expect("audio");
    assert_eq!(
        (audio.codec.as_str(), audio.sample_rate, audio.channels),
        ("aac", 48_000, 2)
    );
    assert_eq!(probe(&mp4), Ok(MediaProbe::Video(video)));

    let silent = probe_video(&card(496, 864, 1, false)).expect("probe");
    assert_eq!((silent.width, silent.height), (496, 864));
    assert!(!silent.has_audio());
}

#[test]
fn a_video_is_not_an_image_nor_audio() {
    let mp4 = card(64, 64, 1, false);
    assert_eq!(
        probe_image(&mp4).map_err(|e| e.to_string()),
        Err("expected an image, got an MP4 video".into())
    );
    assert_eq!(
        probe_audio(&mp4).map_err(|e| e.to_string()),
        Err("expected audio, got an MP4 video".into())
    );
}

#[test]
fn inspect_rejects_garbage_and_truncation_without_panicking() {
    let mp4 = card(320, 240, 1, true);
    assert!(inspect(&mp4).is_ok());

    assert!(matches!(
        inspect(b"not a video at all, just some text"),
        Err(InspectError::NotMp4(_))
    ));
    assert!(matches!(inspect(&[]), Err(InspectError::NotMp4(_))));

    // Cut anywhere: always an error, never a panic. (The tail of mdat is cut too.)
    for len in (0..mp4.len() - 1).step_by(7).chain([mp4.len() - 1]) {
        assert!(
            inspect(&mp4[..len]).is_err(),
            "truncated to {len} of {} bytes was accepted",
            mp4.len()
        );
        assert!(probe(&mp4[..len]).is_err(), "probe accepted {len} bytes");
    }
    assert!(matches!(
        inspect(&mp4[..mp4.len() / 2]),
        Err(InspectError::Truncated(_))
    ));
    assert_eq!(
        probe_video(&mp4[..mp4.len() / 2]),
        Err(ProbeError::Truncated(MediaFormat::Video(
            VideoContainer::Mp4
        )))
    );
    assert_eq!(
        probe_video(&mp4[..mp4.len() / 2]).map_err(|e| e.to_string()),
        Err("the MP4 video is truncated".into())
    );

    // Corrupt bytes throughout the header: any outcome but a panic is fine.
    common::never_panics(&mp4, 0x2545_f491_4f6c_dd1d, 3000, |b| {
        let _ = inspect(b);
        probe(b).is_ok()
    });
}

/// Uses ffmpeg (when installed) to make files the local renderer did not write — fragmented
/// MP4, QuickTime with HEVC + PCM, Opus in MP4, 25 fps MPEG-4 Part 2, a rotated phone-style
/// video — and checks `inspect` and `probe_video` against what was asked for.
#[test]
fn inspects_files_made_by_ffmpeg() {
    if !common::tool_available("ffmpeg") {
        eprintln!("ffmpeg not installed: skipping foreign-file inspection");
        return;
    }
    struct Case {
        label: &'static str,
        ext: &'static str,
        args: &'static [&'static str],
        container: VideoContainer,
        video: (&'static str, u32, u32, f64, u64),
        audio: Option<(&'static str, u32, u16)>,
    }
    let cases = [
        Case {
            label: "fragmented",
            ext: "mp4",
            args: &[
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-c:a",
                "aac",
                "-movflags",
                "frag_keyframe+empty_moov",
            ],
            container: VideoContainer::Mp4,
            video: ("h264", 320, 240, 24.0, 48),
            audio: Some(("aac", 44_100, 1)),
        },
        Case {
            label: "hevc-mov",
            ext: "mov",
            args: &[
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
            container: VideoContainer::Mov,
            video: ("hevc", 320, 240, 24.0, 48),
            audio: Some(("pcm", 44_100, 1)),
        },
        Case {
            label: "opus",
            ext: "mp4",
            args: &["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "libopus"],
            container: VideoContainer::Mp4,
            video: ("h264", 320, 240, 24.0, 48),
            audio: Some(("opus", 48_000, 1)),
        },
        Case {
            label: "mpeg4-25fps",
            ext: "mp4",
            args: &["-r", "25", "-c:v", "mpeg4", "-an"],
            container: VideoContainer::Mp4,
            video: ("mpeg4", 320, 240, 25.0, 50),
            audio: None,
        },
    ];
    for case in cases {
        let mut args = vec![
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=24:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100:duration=2",
        ];
        args.extend_from_slice(case.args);
        args.extend(["-t", "2"]);
        let Some(bytes) = common::ffmpeg(case.label, case.ext, &args) else {
            continue; // an ffmpeg build without this encoder
        };
        let info = inspect(&bytes).unwrap_or_else(|e| panic!("{}: {e}", case.label));
        let video = info
            .video
            .unwrap_or_else(|| panic!("{}: no video", case.label));
        let (codec, w, h, fps, frames) = case.video;
        assert_eq!(video.codec, codec, "{}", case.label);
        assert_eq!((video.width, video.height), (w, h), "{}", case.label);
        assert!(
            (video.fps - fps).abs() < 0.01,
            "{}: fps {}",
            case.label,
            video.fps
        );
        assert_eq!(video.frame_count, frames, "{}", case.label);
        assert!(
            (video.duration_seconds - 2.0).abs() < 0.1,
            "{}: {video:?}",
            case.label
        );
        assert!(
            (info.duration_seconds - 2.0).abs() < 0.1,
            "{}: {}",
            case.label,
            info.duration_seconds
        );
        match (case.audio, info.audio) {
            (Some((codec, rate, channels)), Some(audio)) => {
                assert_eq!(audio.codec, codec, "{}", case.label);
                assert_eq!(
                    (audio.sample_rate, audio.channels),
                    (rate, channels),
                    "{}",
                    case.label
                );
                assert!(
                    (audio.duration_seconds - 2.0).abs() < 0.1,
                    "{}: {audio:?}",
                    case.label
                );
            }
            (None, None) => {}
            (wanted, found) => panic!("{}: audio wanted {wanted:?}, found {found:?}", case.label),
        }

        let probed = probe_video(&bytes).unwrap_or_else(|e| panic!("{}: {e}", case.label));
        assert_eq!(probed.container, case.container, "{}", case.label);
        assert_eq!((probed.width, probed.height), (w, h), "{}", case.label);
        assert_eq!(probed.has_audio(), case.audio.is_some(), "{}", case.label);
    }
}

/// Sets the first track's matrix to {a b; c d} (16.16), as phones do for portrait video.
fn set_matrix(mp4: &mut [u8], [a, b, c, d]: [i32; 4]) {
    let tkhd = mp4.windows(4).position(|w| w == b"tkhd").expect("tkhd");
    assert_eq!(mp4[tkhd + 4], 0, "version 0 tkhd");
    // type, version/flags, times, id, reserved, duration, reserved, layer, group, volume, reserved
    let matrix = tkhd + 4 + 24 + 16;
    for (i, v) in [a, b, 0, c, d, 0, 0, 0, 0x4000_0000]
        .into_iter()
        .enumerate()
    {
        mp4[matrix + 4 * i..matrix + 4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
}

/// A phone-style portrait video: landscape frames and a 90-degree matrix (the values an
/// iPhone writes). The displayed size is swapped; the stored size is kept.
#[test]
fn rotation_swaps_the_displayed_size() {
    const ONE: i32 = 0x1_0000;
    let mp4 = card(320, 240, 1, false);
    for (matrix, rotation, displayed) in [
        ([ONE, 0, 0, ONE], 0, (320, 240)),
        ([0, ONE, -ONE, 0], 90, (240, 320)),
        ([-ONE, 0, 0, -ONE], 180, (320, 240)),
        ([0, -ONE, ONE, 0], 270, (240, 320)),
        ([ONE / 2, ONE / 3, 7, ONE], 0, (320, 240)), // not a right angle: upright
    ] {
        let mut turned = mp4.clone();
        set_matrix(&mut turned, matrix);
        let video = probe_video(&turned).expect("probe");
        assert_eq!(video.rotation, rotation, "{matrix:?}");
        assert_eq!((video.width, video.height), displayed, "{matrix:?}");
        assert_eq!((video.stored_width, video.stored_height), (320, 240));
    }
}

/// The same against ffprobe, whose display-matrix rotation is counterclockwise.
#[test]
fn rotation_agrees_with_ffprobe() {
    let source = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=30:duration=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
    ];
    let Some(upright) = common::ffmpeg("upright", "mp4", &source) else {
        return;
    };
    let path = common::temp_path("upright-source", "mp4");
    std::fs::write(&path, &upright).expect("write");
    for tag in ["90", "180", "270"] {
        // Only a stream copy keeps the tag as a matrix (in the ffmpeg versions that honour it).
        let metadata = format!("rotate={tag}");
        let args = [
            "-i",
            path.to_str().expect("utf-8 path"),
            "-c",
            "copy",
            "-metadata:s:v:0",
            &metadata,
        ];
        let Some(bytes) = common::ffmpeg(&format!("rotate{tag}"), "mp4", &args) else {
            continue;
        };
        let video = probe_video(&bytes).expect("probe");
        if let Some(counterclockwise) = common::ffprobe_rotation(&format!("rotate{tag}"), &bytes) {
            assert_eq!(
                i64::from(video.rotation),
                (360 - counterclockwise).rem_euclid(360),
                "rotate={tag}"
            );
        }
        let swapped = video.rotation % 180 == 90;
        assert_eq!(
            (video.width, video.height),
            if swapped { (240, 320) } else { (320, 240) }
        );
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn audio_only_mp4_is_refused() {
    let args = [
        "-f",
        "lavfi",
        "-i",
        "sine=duration=2",
        "-c:a",
        "aac",
        "-brand",
        "isom",
    ];
    let Some(bytes) = common::ffmpeg("audio-only", "mp4", &args) else {
        return;
    };
    assert_eq!(
        probe_video(&bytes).map_err(|e| e.to_string()),
        Err("an MP4 file without a video track is not supported".into())
    );
    // The usual M4A brand is named as such.
    let mut m4a = bytes.clone();
    m4a[8..12].copy_from_slice(b"M4A ");
    assert_eq!(
        probe_audio(&m4a).map_err(|e| e.to_string()),
        Err("M4A audio is not supported".into())
    );
}

/// Offsets and types of the top-level boxes.
fn top_level_boxes(mp4: &[u8]) -> Vec<(usize, [u8; 4])> {
    let mut boxes = Vec::new();
    let mut pos = 0;
    while pos + 8 <= mp4.len() {
        let size = u32::from_be_bytes(mp4[pos..pos + 4].try_into().expect("4 bytes"));
        boxes.push((pos, mp4[pos + 4..pos + 8].try_into().expect("4 bytes")));
        assert!(size >= 8, "the renderer writes 32-bit box sizes");
        pos += size as usize;
    }
    boxes
}

/// The last box may say size 0, "to the end of the file" (streaming writers do this for `mdat`);
/// `mp4parse` refuses it, which is one reason it is not used.
#[test]
fn an_mdat_of_size_zero_runs_to_the_end_of_the_file() {
    let mp4 = card(320, 240, 1, true);
    let &(mdat, kind) = top_level_boxes(&mp4).last().expect("boxes");
    assert_eq!(&kind, b"mdat");
    let mut open = mp4.clone();
    open[mdat..mdat + 4].copy_from_slice(&[0; 4]);
    assert_eq!(probe_video(&open), probe_video(&mp4));
    assert!(probe_video(&open).is_ok());
}

/// A file cut inside the `mdat` header has lost all its media: `mp4parse` takes the short read
/// as the end of the file and accepts it; here it is truncated.
#[test]
fn a_cut_inside_the_mdat_header_is_truncated() {
    let mp4 = card(320, 240, 1, true);
    let &(mdat, _) = top_level_boxes(&mp4).last().expect("boxes");
    for cut in mdat + 1..mdat + 8 {
        assert_eq!(
            probe_video(&mp4[..cut]),
            Err(ProbeError::Truncated(MediaFormat::Video(
                VideoContainer::Mp4
            ))),
            "cut at {cut}, mdat at {mdat}"
        );
    }
    // Cut exactly where `mdat` starts: every box is whole, and the chunk offsets point past
    // the end.
    assert!(probe_video(&mp4[..mdat]).is_err(), "cut at {mdat}");
}

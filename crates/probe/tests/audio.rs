//! Audio probes: WAVs written here in every accepted encoding (and with lying sizes), MP3
//! frames made by hand (so the frame walk is tested without ffmpeg), and ffmpeg's WAV and
//! MP3 output compared with ffprobe when it is installed.

mod common;

use seedgate_probe::{
    probe, probe_audio, probe_image, AudioFormat, AudioProbe, MediaFormat, MediaKind, MediaProbe,
    ProbeError,
};

const WAV: MediaFormat = MediaFormat::Audio(AudioFormat::Wav);
const MP3: MediaFormat = MediaFormat::Audio(AudioFormat::Mp3);

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

// --- WAV ----------------------------------------------------------------------------------------

#[derive(Clone)]
struct Wav {
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    frames: u32,
    extensible: bool,
    /// Overrides the data chunk's stated size.
    stated_data: Option<u32>,
    /// Chunks placed between `fmt ` and `data`.
    extra: Vec<(&'static [u8; 4], Vec<u8>)>,
    /// Forget the pad byte after odd-sized extra chunks, as some writers do.
    no_pad: bool,
    data_first: bool,
}

impl Wav {
    fn pcm(channels: u16, rate: u32, bits: u16, frames: u32) -> Self {
        Wav {
            tag: 1,
            channels,
            rate,
            bits,
            frames,
            extensible: false,
            stated_data: None,
            extra: vec![],
            no_pad: false,
            data_first: false,
        }
    }

    fn block(&self) -> u32 {
        u32::from(self.channels) * u32::from(self.bits / 8)
    }

    fn bytes(&self) -> Vec<u8> {
        let block = self.block();
        let mut fmt = if self.extensible { 0xFFFEu16 } else { self.tag }
            .to_le_bytes()
            .to_vec();
        fmt.extend(self.channels.to_le_bytes());
        fmt.extend(self.rate.to_le_bytes());
        fmt.extend((self.rate * block).to_le_bytes());
        fmt.extend((block as u16).to_le_bytes());
        fmt.extend(self.bits.to_le_bytes());
        if self.extensible {
            fmt.extend(22u16.to_le_bytes());
            fmt.extend(self.bits.to_le_bytes()); // valid bits
            fmt.extend(0u32.to_le_bytes()); // channel mask
            fmt.extend(self.tag.to_le_bytes());
            fmt.extend(b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71");
        }
        let data_len = self.frames * block;
        let chunk = |out: &mut Vec<u8>, id: &[u8; 4], body: &[u8], stated: u32, pad: bool| {
            out.extend(id);
            out.extend(stated.to_le_bytes());
            out.extend(body);
            if pad && body.len() % 2 == 1 {
                out.push(0);
            }
        };
        let samples: Vec<u8> = (0..data_len).map(|i| (i * 31 % 251) as u8).collect();
        let mut body = b"WAVE".to_vec();
        let data_stated = self.stated_data.unwrap_or(data_len);
        if self.data_first {
            chunk(&mut body, b"data", &samples, data_stated, true);
        }
        chunk(&mut body, b"fmt ", &fmt, fmt.len() as u32, true);
        for (id, extra) in &self.extra {
            chunk(&mut body, id, extra, extra.len() as u32, !self.no_pad);
        }
        if !self.data_first {
            chunk(&mut body, b"data", &samples, data_stated, true);
        }
        let mut out = b"RIFF".to_vec();
        out.extend((body.len() as u32).to_le_bytes());
        out.extend(body);
        out
    }
}

fn wav_probe(wav: &Wav) -> AudioProbe {
    probe_audio(&wav.bytes()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn wav_in_every_accepted_encoding() {
    let cases = [
        (Wav::pcm(1, 44_100, 16, 3 * 44_100), "pcm_s16le", 3.0),
        (Wav::pcm(2, 48_000, 16, 120_000), "pcm_s16le", 2.5),
        (Wav::pcm(1, 8_000, 8, 32_000), "pcm_u8", 4.0),
        (Wav::pcm(2, 22_050, 24, 22_050 * 7), "pcm_s24le", 7.0),
        (Wav::pcm(2, 16_000, 32, 16_000 * 2), "pcm_s32le", 2.0),
        (
            Wav {
                tag: 3,
                ..Wav::pcm(2, 32_000, 32, 32_000 * 5)
            },
            "pcm_f32le",
            5.0,
        ),
        (
            Wav {
                tag: 3,
                ..Wav::pcm(1, 44_100, 64, 44_100 * 2)
            },
            "pcm_f64le",
            2.0,
        ),
        (
            Wav {
                tag: 6,
                ..Wav::pcm(1, 8_000, 8, 8_000 * 3)
            },
            "pcm_alaw",
            3.0,
        ),
        (
            Wav {
                tag: 7,
                ..Wav::pcm(1, 8_000, 8, 8_000 * 3)
            },
            "pcm_mulaw",
            3.0,
        ),
        (
            Wav {
                extensible: true,
                ..Wav::pcm(6, 48_000, 24, 48_000 * 2)
            },
            "pcm_s24le",
            2.0,
        ),
        (
            Wav {
                tag: 3,
                extensible: true,
                ..Wav::pcm(2, 96_000, 32, 96_000 * 3)
            },
            "pcm_f32le",
            3.0,
        ),
    ];
    for (wav, codec, seconds) in cases {
        let probe = wav_probe(&wav);
        assert_eq!(
            probe,
            AudioProbe {
                format: AudioFormat::Wav,
                codec,
                duration_seconds: seconds,
                sample_rate: wav.rate,
                channels: wav.channels,
            }
        );
    }
}

#[test]
fn wav_with_other_chunks_and_odd_layouts() {
    let base = Wav::pcm(1, 16_000, 16, 16_000 * 2);
    let list = (b"LIST", b"INFOISFT\x05\0\0\0test\0".to_vec()); // odd length: padded
    let with_list = Wav {
        extra: vec![list.clone(), (b"JUNK", vec![0; 28])],
        ..base.clone()
    };
    assert_eq!(wav_probe(&with_list).duration_seconds, 2.0);
    let unpadded = Wav {
        extra: vec![list],
        no_pad: true,
        ..base.clone()
    };
    assert_eq!(wav_probe(&unpadded).duration_seconds, 2.0);
    let data_first = Wav {
        data_first: true,
        ..base.clone()
    };
    assert_eq!(wav_probe(&data_first).duration_seconds, 2.0);
    // Trailing bytes after the data chunk (a cut metadata chunk) are harmless.
    let mut trailing = base.bytes();
    trailing.extend(b"id3 \xFF\xFF\x00\x00partial");
    assert_eq!(probe_audio(&trailing).expect("probe").duration_seconds, 2.0);
}

#[test]
fn wav_data_size_that_lies_is_clamped_to_the_bytes_present() {
    let real = Wav::pcm(2, 44_100, 16, 44_100 * 3);
    for stated in [real.frames * 4 * 100, u32::MAX] {
        let wav = Wav {
            stated_data: Some(stated),
            ..real.clone()
        };
        assert_eq!(wav_probe(&wav).duration_seconds, 3.0, "stated {stated}");
    }
    // A streamed WAV: both sizes unknown.
    let mut streamed = real.bytes();
    streamed[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let data_size_at = streamed.len() - (real.frames * 4) as usize - 4;
    streamed[data_size_at..data_size_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(probe_audio(&streamed).expect("probe").duration_seconds, 3.0);
}

#[test]
fn cut_wavs() {
    let wav = Wav {
        extra: vec![(b"LIST", vec![b'x'; 40])],
        ..Wav::pcm(2, 8_000, 16, 8_000 * 3)
    };
    let bytes = wav.bytes();
    let header_len = bytes.len() - (wav.frames * 4) as usize;
    // Anywhere in the headers: an error.
    for cut in 0..header_len {
        assert!(
            probe_audio(&bytes[..cut]).is_err(),
            "cut at {cut} of {header_len} header bytes was accepted"
        );
    }
    assert_eq!(probe_audio(&bytes[..30]), Err(ProbeError::Truncated(WAV)));
    // In the samples: the whole frames present are measured.
    for cut in [
        header_len,
        header_len + 3,
        header_len + 4 * 8_000,
        bytes.len() - 1,
    ] {
        let frames = ((cut - header_len) / 4) as f64;
        assert_eq!(
            probe_audio(&bytes[..cut]).expect("probe").duration_seconds,
            frames / 8_000.0
        );
    }
}

#[test]
fn wav_errors() {
    let adpcm = Wav {
        tag: 0x11,
        ..Wav::pcm(1, 8_000, 16, 100)
    };
    assert!(matches!(
        probe_audio(&adpcm.bytes()),
        Err(ProbeError::Unsupported(_))
    ));
    // A block size that does not match channels and sample size.
    let mut lying = Wav::pcm(2, 8_000, 16, 100).bytes();
    lying[32..34].copy_from_slice(&3u16.to_le_bytes());
    assert!(matches!(
        probe_audio(&lying),
        Err(ProbeError::Malformed { .. })
    ));
    // No channels.
    let mut silent = Wav::pcm(2, 8_000, 16, 100).bytes();
    silent[22..24].copy_from_slice(&0u16.to_le_bytes());
    assert!(matches!(
        probe_audio(&silent),
        Err(ProbeError::Malformed { .. })
    ));
    // 12-bit PCM is not a thing.
    let odd = Wav::pcm(1, 8_000, 12, 100).bytes();
    assert!(matches!(
        probe_audio(&odd),
        Err(ProbeError::Malformed { .. })
    ));
    // A format chunk too short for its fields.
    let mut short = b"RIFF\0\0\0\0WAVEfmt \x0E\0\0\0".to_vec();
    short.extend(&Wav::pcm(1, 8_000, 16, 0).bytes()[20..34]);
    short.extend(b"data\0\0\0\0");
    assert_eq!(
        probe_audio(&short).map_err(|e| e.to_string()),
        Err("invalid WAV audio file: the format chunk is too short".into())
    );
    // No data chunk at all.
    let mut no_data = Wav::pcm(1, 8_000, 16, 0).bytes();
    no_data.truncate(no_data.len() - 8);
    assert_eq!(
        probe_audio(&no_data).map_err(|e| e.to_string()),
        Err("invalid WAV audio file: no data chunk".into())
    );
}

/// WAVE_FORMAT_EXTENSIBLE with far more channels than its (empty) channel mask names: the
/// channel count stands. (`symphonia` 0.6 panics on such headers: a shift overflow while it
/// repairs the mask.)
#[test]
fn extensible_wav_with_more_channels_than_its_mask() {
    let wav = Wav {
        extensible: true,
        ..Wav::pcm(40, 8_000, 16, 800)
    };
    let probe = wav_probe(&wav);
    assert_eq!((probe.channels, probe.codec), (40, "pcm_s16le"));
    assert_eq!(probe.duration_seconds, 0.1);
}

// --- MP3 by hand --------------------------------------------------------------------------------

/// MPEG-1 Layer III, 128 kb/s, 44.1 kHz, joint stereo: 417 bytes, 1152 samples.
const CBR_HEADER: [u8; 4] = [0xFF, 0xFB, 0x90, 0x64];
/// MPEG-2 Layer III, 64 kb/s, 22.05 kHz, mono: 208 bytes, 576 samples.
const LSF_HEADER: [u8; 4] = [0xFF, 0xF3, 0x80, 0xC4];
/// MPEG-1 Layer II, 192 kb/s, 48 kHz: 576 bytes, 1152 samples.
const MP2_HEADER: [u8; 4] = [0xFF, 0xFD, 0xA4, 0x04];

/// `n` silent frames: a header and all-zero side information and data.
fn frames(header: [u8; 4], len: usize, n: usize) -> Vec<u8> {
    let mut frame = header.to_vec();
    frame.resize(len, 0);
    frame.repeat(n)
}

/// A LAME-style Xing header frame (CBR_HEADER layout) stating `count` frames and `bytes`.
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

/// An ID3v2 tag of `size` body bytes; `footer` sets the v2.4 footer flag and appends one.
fn id3v2(size: usize, footer: bool) -> Vec<u8> {
    let mut tag = b"ID3\x04\x00".to_vec();
    tag.push(if footer { 0x10 } else { 0 });
    let s = size as u32;
    tag.extend([
        (s >> 21) as u8 & 0x7F,
        (s >> 14) as u8 & 0x7F,
        (s >> 7) as u8 & 0x7F,
        s as u8 & 0x7F,
    ]);
    tag.extend(std::iter::repeat_n(b'T', size));
    if footer {
        tag.extend(b"3DI\x04\x00\x10");
        let size_bytes = tag[6..10].to_vec();
        tag.extend(size_bytes);
    }
    tag
}

fn mp3_seconds(bytes: &[u8]) -> f64 {
    let probe = probe_audio(bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(probe.format, AudioFormat::Mp3);
    probe.duration_seconds
}

/// The duration of `n` CBR_HEADER frames, computed as the probe does (no rounding surprises).
fn cbr(n: u64) -> f64 {
    (n * 1152) as f64 / 44_100.0
}

#[test]
fn hand_made_cbr_frames() {
    let audio = frames(CBR_HEADER, 417, 100);
    let measured = probe_audio(&audio).expect("probe");
    assert_eq!(
        measured,
        AudioProbe {
            format: AudioFormat::Mp3,
            codec: "mp3",
            duration_seconds: cbr(100),
            sample_rate: 44_100,
            channels: 2,
        }
    );
    assert_eq!(probe(&audio), Ok(MediaProbe::Audio(measured)));

    // MPEG-2 (low sampling frequency) mono, and Layer II.
    let lsf = probe_audio(&frames(LSF_HEADER, 208, 50)).expect("lsf");
    assert_eq!(
        (lsf.sample_rate, lsf.channels, lsf.codec),
        (22_050, 1, "mp3")
    );
    assert_eq!(lsf.duration_seconds, (50 * 576) as f64 / 22_050.0);
    let mp2 = probe_audio(&frames(MP2_HEADER, 576, 40)).expect("mp2");
    assert_eq!((mp2.sample_rate, mp2.codec), (48_000, "mp2"));
    assert_eq!(mp2.duration_seconds, (40 * 1152) as f64 / 48_000.0);
}

#[test]
fn tags_and_padding_around_the_frames() {
    let audio = frames(CBR_HEADER, 417, 100);
    let expected = cbr(100);
    let mut tagged = id3v2(1000, false);
    tagged.extend(id3v2(20, true)); // a second tag, with a footer
    tagged.extend([0u8; 300]); // padding the tag size does not cover
    tagged.extend(&audio);
    let mut id3v1 = b"TAG".to_vec();
    id3v1.resize(128, b' ');
    tagged.extend(&id3v1);
    tagged.extend(b"APETAGEX");
    assert_eq!(mp3_seconds(&tagged), expected);
    // A few frames at the end of a file whose rest is zero padding.
    let mut padded = frames(CBR_HEADER, 417, 2);
    padded.extend([0u8; 1000]);
    assert_eq!(mp3_seconds(&padded), cbr(2));
}

#[test]
fn xing_and_vbri_frames_are_not_audio() {
    let audio = frames(CBR_HEADER, 417, 100);
    let mut with_xing = xing_frame(100, Some(101 * 417));
    with_xing.extend(&audio);
    assert_eq!(mp3_seconds(&with_xing), cbr(100));

    let mut vbri = CBR_HEADER.to_vec();
    vbri.resize(36, 0);
    vbri.extend(b"VBRI\x00\x01\x00\x00\x00\x00");
    vbri.extend((101u32 * 417).to_be_bytes());
    vbri.extend(100u32.to_be_bytes());
    vbri.resize(417, 0);
    vbri.extend(&audio);
    assert_eq!(mp3_seconds(&vbri), cbr(100));
}

#[test]
fn a_lying_xing_count_loses_to_the_frames_present() {
    let audio = frames(CBR_HEADER, 417, 100);
    for claimed in [1, 5, 100_000, u32::MAX] {
        let mut lying = xing_frame(claimed, None);
        lying.extend(&audio);
        assert_eq!(mp3_seconds(&lying), cbr(100), "claims {claimed}");
    }
}

#[test]
fn garbage_mid_stream_stops_the_walk() {
    let mut broken = frames(CBR_HEADER, 417, 50);
    broken.extend([0x55u8; 500]);
    broken.extend(frames(CBR_HEADER, 417, 50));
    // Without a Xing header: the frames before the garbage.
    assert_eq!(mp3_seconds(&broken), cbr(50));
    // With one: its count, since it is more than was walked and fits the file.
    let mut with_xing = xing_frame(100, Some(101 * 417 + 500));
    with_xing.extend(&broken);
    assert_eq!(mp3_seconds(&with_xing), cbr(100));
    // Unless it claims more bytes than the file has.
    let mut overclaiming = xing_frame(100_000, Some(u32::MAX));
    overclaiming.extend(&broken);
    assert_eq!(mp3_seconds(&overclaiming), cbr(50));
}

#[test]
fn cut_mp3s() {
    let mut file = id3v2(200, false);
    let tag_len = file.len();
    file.extend(frames(CBR_HEADER, 417, 20));
    // In the tag: truncated.
    for cut in [3, 5, 10, 100, tag_len - 1, tag_len] {
        assert_eq!(
            probe_audio(&file[..cut]),
            Err(ProbeError::Truncated(MP3)),
            "cut at {cut}"
        );
    }
    // In the first frame: truncated (not one complete frame).
    assert_eq!(
        probe_audio(&file[..tag_len + 300]),
        Err(ProbeError::Truncated(MP3))
    );
    // Later: the complete frames.
    for complete in [1usize, 2, 5, 19] {
        let cut = tag_len + complete * 417 + 100;
        assert_eq!(mp3_seconds(&file[..cut]), cbr(complete as u64));
    }
}

#[test]
fn mp3_errors() {
    // A tag followed by no audio frames at all.
    let mut garbage = id3v2(10, false);
    garbage.extend((0..5000u32).map(|i| (i * 7 % 250) as u8));
    assert_eq!(
        probe_audio(&garbage).map_err(|e| e.to_string()),
        Err("invalid MP3 audio file: no MPEG audio frames".into())
    );
    // Two frames, then garbage: too short a run to trust.
    let mut short = frames(CBR_HEADER, 417, 2);
    short.extend([0x33; 2000]);
    assert!(matches!(
        probe_audio(&short),
        Err(ProbeError::Malformed { .. })
    ));
    // Free-format bitrate.
    let free = frames([0xFF, 0xFB, 0x00, 0x64], 500, 10);
    assert!(matches!(
        probe_audio(&free),
        Err(ProbeError::Unsupported(_))
    ));
    // A tag whose size field is not synchsafe.
    assert!(matches!(
        probe_audio(b"ID3\x04\x00\x00\x00\x00\x80\x00rest"),
        Err(ProbeError::Malformed { .. })
    ));
}

#[test]
fn audio_is_not_an_image() {
    let mp3 = frames(CBR_HEADER, 417, 10);
    assert_eq!(
        probe_image(&mp3).map_err(|e| e.to_string()),
        Err("expected an image, got an MP3 audio file".into())
    );
    assert!(matches!(
        probe_audio(b"random words, not a sound"),
        Err(ProbeError::Unrecognized {
            expected: Some(MediaKind::Audio)
        })
    ));
}

#[test]
fn damaged_audio_never_panics() {
    let mut mp3 = id3v2(100, true);
    mp3.extend(xing_frame(30, Some(31 * 417)));
    mp3.extend(frames(CBR_HEADER, 417, 30));
    let lsf = frames(LSF_HEADER, 208, 30);
    let wav = Wav {
        extra: vec![(b"LIST", vec![1; 33])],
        extensible: true,
        ..Wav::pcm(2, 8_000, 16, 3000)
    }
    .bytes();
    for (i, bytes) in [mp3, lsf, wav].iter().enumerate() {
        common::never_panics(bytes, 1000 + i as u64, 3000, |b| probe(b).is_ok());
    }
}

// --- compared with ffprobe ----------------------------------------------------------------------

/// ffmpeg's WAV and MP3 writers (CBR, CBR with an Info header, VBR with Xing, MPEG-2 and 2.5
/// rates, ID3 tags, Layer II), measured here and by ffprobe: within 0.05 s.
#[test]
fn ffmpeg_made_audio_matches_ffprobe() {
    let source = [
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=330:sample_rate=44100:duration=3.3",
    ];
    let cases: [(&str, &str, &[&str], &str); 11] = [
        ("s16", "wav", &["-c:a", "pcm_s16le"], "pcm_s16le"),
        (
            "s24-stereo",
            "wav",
            &["-ac", "2", "-c:a", "pcm_s24le"],
            "pcm_s24le",
        ),
        ("f32", "wav", &["-c:a", "pcm_f32le"], "pcm_f32le"),
        ("u8-8k", "wav", &["-ar", "8000", "-c:a", "pcm_u8"], "pcm_u8"),
        (
            "cbr-plain",
            "mp3",
            &["-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0"],
            "mp3",
        ),
        (
            "cbr-info",
            "mp3",
            &["-c:a", "libmp3lame", "-b:a", "192k"],
            "mp3",
        ),
        ("vbr", "mp3", &["-c:a", "libmp3lame", "-q:a", "4"], "mp3"),
        (
            "vbr-id3",
            "mp3",
            &[
                "-c:a",
                "libmp3lame",
                "-q:a",
                "6",
                "-id3v2_version",
                "4",
                "-metadata",
                "title=Probe",
            ],
            "mp3",
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
            "mp3",
        ),
        (
            "mpeg25",
            "mp3",
            &["-ar", "8000", "-c:a", "libmp3lame", "-q:a", "7"],
            "mp3",
        ),
        ("layer2", "mp2", &["-c:a", "mp2", "-b:a", "192k"], "mp2"),
    ];
    for (label, ext, args, codec) in cases {
        let mut full = source.to_vec();
        full.extend_from_slice(args);
        let Some(bytes) = common::ffmpeg(label, ext, &full) else {
            continue;
        };
        let probe = probe_audio(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(probe.codec, codec, "{label}");
        // Encoder delay and padding add a few frames (at 8 kHz, 72 ms each).
        assert!(
            close(probe.duration_seconds, 3.3, 0.2),
            "{label}: {probe:?}"
        );
        if let Some(reference) = common::ffprobe_duration(label, ext, &bytes) {
            eprintln!(
                "{label}: probe {} s, ffprobe {reference} s",
                probe.duration_seconds
            );
            assert!(
                close(probe.duration_seconds, reference, 0.05),
                "{label}: probe {} s, ffprobe {reference} s",
                probe.duration_seconds
            );
        }
    }
}

/// ffmpeg writing a WAV to a pipe cannot seek back: both sizes stay 0xFFFFFFFF.
#[test]
fn streamed_wav_from_ffmpeg() {
    if !common::tool_available("ffmpeg") {
        return;
    }
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-f", "lavfi"])
        .args([
            "-i",
            "sine=sample_rate=16000:duration=2.5",
            "-f",
            "wav",
            "pipe:1",
        ])
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success());
    assert_eq!(&out.stdout[4..8], b"\xFF\xFF\xFF\xFF");
    let probe = probe_audio(&out.stdout).expect("probe");
    assert_eq!(probe.duration_seconds, 2.5);
    if let Some(reference) = common::ffprobe_duration("streamed", "wav", &out.stdout) {
        assert!(
            close(probe.duration_seconds, reference, 0.05),
            "ffprobe {reference}"
        );
    }
}

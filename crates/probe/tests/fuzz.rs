//! Property-style loops: random bytes behind every magic number the sniffer knows, salted with
//! the structure names the parsers look for. Whatever the answer, no probe may panic, and an
//! accepted file must report a sane measurement.

mod common;

use common::Rng;
use seedgate_probe::{probe, probe_audio, probe_image, probe_video, MediaProbe};

const PREFIXES: &[&[u8]] = &[
    b"\xFF\xD8\xFF",
    b"\x89PNG\r\n\x1A\n\0\0\0\x0DIHDR",
    b"GIF89a",
    b"GIF87a",
    b"II*\0\x08\0\0\0",
    b"MM\0*\0\0\0\x08",
    b"BM\0\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0",
    b"BM\0\0\0\0\0\0\0\0\x1A\0\0\0\x0C\0\0\0",
    b"RIFF\xFF\xFF\0\0WEBPVP8 ",
    b"RIFF\xFF\xFF\0\0WEBPVP8L",
    b"RIFF\xFF\xFF\0\0WEBPVP8X",
    b"RIFF\xFF\xFF\xFF\xFFWAVEfmt ",
    b"ID3\x04\0\0\0\0\0\x10",
    b"\xFF\xFB\x90\x64",
    b"\xFF\xF3\x80\xC4",
    b"\0\0\0\x18ftypisom\0\0\0\0isom",
    b"\0\0\0\x14ftypqt  \0\0\0\0",
    b"\0\0\0\x08wide",
];

/// Names the parsers branch on, dropped into the noise so that it reaches past the first check.
const TOKENS: &[&[u8]] = &[
    b"\xFF\xC0\0\x11\x08",
    b"\xFF\xC2\0\x11\x08",
    b"\xFF\xDA\0\x08",
    b"\xFF\xD9",
    b"\xFF\xE1\0\x20Exif\0\0II*\0",
    b"IDAT",
    b"IEND",
    b"eXIf",
    b"\x21\xF9\x04",
    b"\x2C",
    b"\x3B",
    b"fmt ",
    b"data",
    b"LIST",
    b"\xFE\xFF",
    b"VP8X",
    b"EXIF",
    b"ANMF",
    b"\x9D\x01\x2A",
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

fn noise(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
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
    out
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

/// Makes the first check of some formats pass more often, so the noise reaches the chunk
/// walks behind it: a correct RIFF size, a PNG header with a valid checksum.
fn fix_up(bytes: &mut [u8], rng: &mut Rng) {
    if bytes.starts_with(b"RIFF") && rng.below(2) == 0 {
        let size = (bytes.len() - 8) as u32;
        bytes[4..8].copy_from_slice(&size.to_le_bytes());
    }
    if bytes.starts_with(b"\x89PNG") && bytes.len() >= 33 {
        bytes[16..24].copy_from_slice(&[0, 0, 1, 0, 0, 0, 0, 200]);
        bytes[24..29].copy_from_slice(&[8, 6, 0, 0, 0]);
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    }
}

fn sane(found: &MediaProbe) -> bool {
    match found {
        MediaProbe::Image(i) => i.width > 0 && i.height > 0 && (1..=8).contains(&i.orientation),
        MediaProbe::Video(v) => {
            v.width > 0 && v.height > 0 && v.fps > 0.0 && v.duration_seconds.is_finite()
        }
        MediaProbe::Audio(a) => {
            a.duration_seconds.is_finite()
                && a.duration_seconds >= 0.0
                && a.sample_rate > 0
                && a.channels > 0
        }
    }
}

#[test]
fn random_files_behind_every_magic_never_panic() {
    let mut rng = Rng::new(0x005E_ED0F_F00D);
    for prefix in PREFIXES {
        for _ in 0..1500 {
            let mut bytes = prefix.to_vec();
            let max = if rng.below(4) == 0 { 20_000 } else { 600 };
            let len = rng.below(max);
            bytes.extend(noise(&mut rng, len));
            fix_up(&mut bytes, &mut rng);
            if let Ok(found) = probe(&bytes) {
                assert!(sane(&found), "{found:?}");
            }
            let _ = (
                probe_image(&bytes),
                probe_video(&bytes),
                probe_audio(&bytes),
            );
        }
    }
}

#[test]
fn pure_noise_never_panics() {
    let mut rng = Rng::new(7);
    for _ in 0..5000 {
        let len = rng.below(3000);
        let bytes = noise(&mut rng, len);
        if let Ok(found) = probe(&bytes) {
            assert!(sane(&found), "{found:?}");
        }
    }
}

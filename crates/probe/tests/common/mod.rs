//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;
use std::process::Command;

pub fn tool_available(name: &str) -> bool {
    Command::new(name)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A temp file path unique to this process, test file and label.
pub fn temp_path(label: &str, ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "seedgate-probe-{}-{label}.{ext}",
        std::process::id()
    ))
}

/// Runs ffmpeg with `args` (inputs and options, no output) writing `label.ext`, and returns
/// the file's bytes; `None` when ffmpeg is missing or lacks what the arguments need.
pub fn ffmpeg(label: &str, ext: &str, args: &[&str]) -> Option<Vec<u8>> {
    if !tool_available("ffmpeg") {
        return None;
    }
    let path = temp_path(label, ext);
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .arg(&path)
        .status()
        .ok()?;
    let bytes = std::fs::read(&path).ok();
    let _ = std::fs::remove_file(&path);
    if !status.success() {
        eprintln!("ffmpeg could not make {label}.{ext}; skipping it");
        return None;
    }
    bytes
}

/// ffprobe's format duration for `bytes`, when ffprobe is installed.
pub fn ffprobe_duration(label: &str, ext: &str, bytes: &[u8]) -> Option<f64> {
    if !tool_available("ffprobe") {
        return None;
    }
    let path = temp_path(&format!("{label}-ffprobe"), ext);
    std::fs::write(&path, bytes).expect("write temp file");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration"])
        .args(["-of", "default=noprint_wrappers=1:nokey=1"])
        .arg(&path)
        .output()
        .expect("run ffprobe");
    let _ = std::fs::remove_file(&path);
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// A small deterministic PRNG (xorshift64) for the corruption loops.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Feeds `probe` many damaged copies of `original` (bytes overwritten, ranges cut out,
/// the end cut off): whatever it answers, it must not panic. Returns how many were accepted.
pub fn never_panics(
    original: &[u8],
    seed: u64,
    rounds: usize,
    probe: impl Fn(&[u8]) -> bool,
) -> usize {
    let mut rng = Rng::new(seed);
    let mut accepted = 0;
    // Damage concentrates where the headers are, but reaches everywhere.
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
        accepted += usize::from(probe(&bytes));
    }
    accepted
}

/// ffprobe's display-matrix rotation (counterclockwise degrees) of the first video stream:
/// `Some(0)` when it has none, `None` when ffprobe is not installed.
pub fn ffprobe_rotation(label: &str, bytes: &[u8]) -> Option<i64> {
    if !tool_available("ffprobe") {
        return None;
    }
    let path = temp_path(&format!("{label}-rotation"), "mp4");
    std::fs::write(&path, bytes).expect("write temp file");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "stream_side_data=rotation"])
        .args(["-of", "default=noprint_wrappers=1:nokey=1"])
        .arg(&path)
        .output()
        .expect("run ffprobe");
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.trim().parse().unwrap_or(0))
}

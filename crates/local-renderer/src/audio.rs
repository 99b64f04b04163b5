//! The preview soundtrack: a soft synthesized chord pad, encoded to AAC-LC with FDK AAC.

use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, Encoder, EncoderParams, Transport};

use crate::RenderError;

pub const SAMPLE_RATE: u32 = 48_000;
pub const CHANNELS: usize = 2;
/// AAC-LC codes 1024 samples per channel per access unit.
pub const FRAME_SAMPLES: usize = 1024;
const BITRATE: u32 = 128_000;
/// Silent frames appended so the encoder's look-ahead delay (about two frames) drains.
const FLUSH_FRAMES: usize = 8;

/// Raw AAC access units, one per 1024-sample frame, ready to be MP4 samples.
#[derive(Debug, Clone)]
pub struct AacTrack {
    pub frames: Vec<Vec<u8>>,
}

/// Pleasant, soft voicings (Hz); the seed picks one so different prompts sound a little
/// different while staying deterministic.
const CHORDS: [&[f64]; 4] = [
    &[130.81, 196.00, 246.94, 293.66, 329.63], // Cmaj9
    &[110.00, 164.81, 196.00, 246.94, 261.63], // Am9
    &[87.31, 130.81, 164.81, 220.00, 261.63],  // Fmaj7
    &[98.00, 146.83, 185.00, 220.00, 293.66],  // Gmaj9-ish, open voicing
];

const TABLE_BITS: u32 = 12;
const TABLE_LEN: usize = 1 << TABLE_BITS;

/// Synthesizes `seconds` of stereo audio: a chord of soft tones (fundamental plus gentle
/// harmonics) with slow per-voice swells, slight stereo detune, fade-in and fade-out.
pub fn synthesize(seconds: f64, seed: u64) -> Vec<i16> {
    let total = (seconds * f64::from(SAMPLE_RATE)).round() as usize;
    let rate = f64::from(SAMPLE_RATE);
    // One wavetable shared by every voice: cheap per sample and free of aliasing at these pitches.
    let table: Vec<f32> = (0..TABLE_LEN)
        .map(|i| {
            let p = i as f64 / TABLE_LEN as f64 * std::f64::consts::TAU;
            (p.sin() + 0.3 * (2.0 * p).sin() + 0.1 * (3.0 * p).sin()) as f32 / 1.4
        })
        .collect();
    let chord = CHORDS[(seed % CHORDS.len() as u64) as usize];

    struct Voice {
        phase: [u32; 2],
        step: [u32; 2],
        gain: f32,
        lfo_rate: f64,
        lfo_phase: f64,
    }
    let to_step = |hz: f64| (hz / rate * 4_294_967_296.0) as u32;
    let mut voices: Vec<Voice> = chord
        .iter()
        .enumerate()
        .map(|(i, &hz)| Voice {
            phase: [0, (i as u32).wrapping_mul(0x3000_0000)],
            // Left and right a few cents apart: a gentle chorus-like width.
            step: [to_step(hz * 0.9985), to_step(hz * 1.0015)],
            // Lower voices carry the chord, upper ones sit back.
            gain: 0.11 / (1.0 + i as f32 * 0.35),
            lfo_rate: 0.11 + 0.047 * i as f64,
            lfo_phase: (seed.rotate_left(i as u32 * 7) % 628) as f64 / 100.0,
        })
        .collect();

    let fade_in = 0.6 * rate;
    // End the fade a little early: the AAC encoder delay shifts content later by ~40 ms.
    let fade_out = 1.0 * rate;
    let tail = 0.1 * rate;
    let mut out = Vec::with_capacity(total * CHANNELS);
    let shift = 32 - TABLE_BITS;
    for n in 0..total {
        let t = n as f64;
        let envelope =
            (t / fade_in).min(1.0) * ((total as f64 - tail - t) / fade_out).clamp(0.0, 1.0);
        let envelope = envelope * envelope * (3.0 - 2.0 * envelope); // smoothstep: no clicks
        let mut lr = [0.0f32; 2];
        for v in voices.iter_mut() {
            let swell =
                0.75 + 0.25 * (v.lfo_phase + t / rate * v.lfo_rate * std::f64::consts::TAU).sin();
            let g = v.gain * swell as f32;
            for (ch, sample) in lr.iter_mut().enumerate() {
                *sample += table[(v.phase[ch] >> shift) as usize] * g;
                v.phase[ch] = v.phase[ch].wrapping_add(v.step[ch]);
            }
        }
        for s in lr {
            out.push((s * envelope as f32 * 32767.0).clamp(-32768.0, 32767.0) as i16);
        }
    }
    out
}

/// Renders `seconds` of the pad as AAC-LC, 48 kHz stereo. The track holds
/// `ceil(seconds * 48000 / 1024)` access units, so it covers the video exactly or overshoots by
/// less than one frame (21 ms).
pub fn render_aac(seconds: f64, seed: u64) -> Result<AacTrack, RenderError> {
    let pcm = synthesize(seconds, seed);
    let wanted = (pcm.len() / CHANNELS).div_ceil(FRAME_SAMPLES);
    let encoder = Encoder::new(EncoderParams {
        bit_rate: BitRate::Cbr(BITRATE),
        sample_rate: SAMPLE_RATE,
        transport: Transport::Raw,
        channels: ChannelMode::Stereo,
        audio_object_type: AudioObjectType::Mpeg4LowComplexity,
    })
    .map_err(|e| RenderError::Audio(e.to_string()))?;

    // The encoder has a look-ahead delay, so it is fed silence past the end until it has
    // returned as many access units as the duration needs.
    let frame_len = FRAME_SAMPLES * CHANNELS;
    let mut input = pcm;
    input.resize((wanted + FLUSH_FRAMES) * frame_len, 0);
    let mut output = vec![0u8; 8192];
    let mut frames = Vec::with_capacity(wanted);
    let mut offset = 0;
    while frames.len() < wanted && offset + frame_len <= input.len() {
        let info = encoder
            .encode(&input[offset..offset + frame_len], &mut output)
            .map_err(|e| RenderError::Audio(e.to_string()))?;
        if info.input_consumed == 0 && info.output_size == 0 {
            break; // no progress: bail out rather than spin
        }
        offset += info.input_consumed;
        if info.output_size > 0 {
            frames.push(output[..info.output_size].to_vec());
        }
    }
    if frames.len() < wanted {
        return Err(RenderError::Audio(format!(
            "encoder produced {} of {wanted} frames",
            frames.len()
        )));
    }
    Ok(AacTrack { frames })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_is_soft_and_fades() {
        let pcm = synthesize(2.0, 7);
        assert_eq!(pcm.len(), 2 * 48_000 * CHANNELS);
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak > 3000 && peak < 20_000, "peak {peak}");
        // Starts and ends (almost) silent.
        assert!(pcm[..20].iter().all(|s| s.unsigned_abs() < 50));
        assert!(pcm[pcm.len() - 20..].iter().all(|s| s.unsigned_abs() < 50));
        assert_eq!(pcm, synthesize(2.0, 7), "deterministic");
    }

    #[test]
    fn aac_frame_count_covers_duration() {
        let track = render_aac(3.0, 1).unwrap();
        assert_eq!(track.frames.len(), (3 * 48_000usize).div_ceil(1024));
        assert!(track.frames.iter().all(|f| !f.is_empty()));
    }
}

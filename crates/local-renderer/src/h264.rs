//! H.264 encoding with OpenH264, producing MP4-ready (length-prefixed) samples.
//!
//! OpenH264 emits Annex-B (start-code delimited) NAL units. MP4's `avc1` wants the SPS/PPS in the
//! `avcC` box and each sample as 4-byte-length-prefixed NAL units, so parameter sets are captured
//! here and stripped from the samples.

use openh264::encoder::{
    BitRate, Complexity, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile, QpRange,
    RateControlMode, SpsPpsStrategy, UsageType, VuiConfig,
};
use openh264::{OpenH264API, Timestamp};

use crate::yuv::I420;
use crate::RenderError;

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;

/// One encoded frame in MP4 sample form.
#[derive(Debug, Clone)]
pub struct Sample {
    /// NAL units, each prefixed by its 4-byte big-endian length.
    pub data: Vec<u8>,
    /// Contains an IDR slice (an MP4 sync sample).
    pub is_sync: bool,
}

pub struct Encoder {
    inner: openh264::encoder::Encoder,
    fps: u32,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
}

/// A preview bitrate: about 1.5 Mbit/s for 720p24, scaled by pixel rate.
fn target_bitrate(width: u32, height: u32, fps: u32) -> u32 {
    let bits = f64::from(width) * f64::from(height) * f64::from(fps) * 0.068;
    bits.clamp(250_000.0, 12_000_000.0) as u32
}

impl Encoder {
    pub fn new(width: u32, height: u32, fps: u32) -> Result<Self, RenderError> {
        let config = EncoderConfig::new()
            .profile(Profile::Baseline)
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(target_bitrate(width, height, fps)))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            // Every input frame must become a sample, or the track would be short.
            .skip_frames(false)
            // A keyframe every 2 s keeps seeking in previews snappy.
            .intra_frame_period(IntraFramePeriod::from_num_frames(fps * 2))
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .complexity(Complexity::Low)
            // Rate control starts (and restarts at each keyframe) with a coarse guess; capping
            // the QP keeps smooth gradients from turning into visible blocks meanwhile.
            .qp(QpRange::new(12, 34))
            .num_threads(1)
            .vui(VuiConfig::bt709());
        let mut inner =
            openh264::encoder::Encoder::with_api_config(OpenH264API::from_source(), config)
                .map_err(|e| RenderError::Encode(e.to_string()))?;
        silence_library_log(&mut inner);
        Ok(Self {
            inner,
            fps,
            sps: None,
            pps: None,
        })
    }

    /// Encodes frame number `index` (its timestamp drives rate control).
    pub fn encode(&mut self, frame: &I420, index: u32) -> Result<Sample, RenderError> {
        let millis = u64::from(index) * 1000 / u64::from(self.fps);
        let stream = self
            .inner
            .encode_at(frame, Timestamp::from_millis(millis))
            .map_err(|e| RenderError::Encode(format!("frame {index}: {e}")))?;
        if matches!(stream.frame_type(), FrameType::Skip | FrameType::Invalid) {
            return Err(RenderError::Encode(format!(
                "encoder produced no picture for frame {index}"
            )));
        }
        let annexb = stream.to_vec();

        let mut data = Vec::with_capacity(annexb.len() + 16);
        let mut is_sync = false;
        let mut has_picture = false;
        for nal in split_annexb(&annexb) {
            let Some(&header) = nal.first() else { continue };
            match header & 0x1f {
                NAL_SPS => remember(&mut self.sps, nal, "SPS")?,
                NAL_PPS => remember(&mut self.pps, nal, "PPS")?,
                kind => {
                    is_sync |= kind == NAL_IDR;
                    has_picture |= (1..=5).contains(&kind);
                    let len = u32::try_from(nal.len())
                        .map_err(|_| RenderError::Encode("NAL unit larger than 4 GiB".into()))?;
                    data.extend_from_slice(&len.to_be_bytes());
                    data.extend_from_slice(nal);
                }
            }
        }
        if !has_picture {
            return Err(RenderError::Encode(format!(
                "frame {index} has no slice data"
            )));
        }
        if index == 0 && !is_sync {
            return Err(RenderError::Encode(
                "first frame is not an IDR picture".into(),
            ));
        }
        Ok(Sample { data, is_sync })
    }

    pub fn sps(&self) -> &[u8] {
        self.sps.as_deref().unwrap_or_default()
    }

    pub fn pps(&self) -> &[u8] {
        self.pps.as_deref().unwrap_or_default()
    }
}

/// OpenH264 prints to stderr while it initialises (which the wrapper does lazily on the first
/// frame, before applying its own quiet log level); among others it warns, correctly but
/// uselessly for us, that frame skipping is off. Errors still reach us as return codes.
fn silence_library_log(encoder: &mut openh264::encoder::Encoder) {
    let mut level = openh264_sys2::WELS_LOG_QUIET as std::os::raw::c_int;
    // SAFETY: `SetOption(ENCODER_OPTION_TRACE_LEVEL)` is explicitly allowed before
    // initialisation; it reads one int through the pointer during the call and keeps nothing.
    // The encoder handle is valid for the lifetime of `encoder`.
    unsafe {
        encoder.raw_api().set_option(
            openh264_sys2::ENCODER_OPTION_TRACE_LEVEL,
            (&raw mut level).cast(),
        );
    }
}

/// Keeps the first parameter set seen; the avcC box can carry only one set per kind here, so a
/// later, different one would make the file undecodable and is reported instead.
fn remember(slot: &mut Option<Vec<u8>>, nal: &[u8], what: &str) -> Result<(), RenderError> {
    match slot {
        None => {
            *slot = Some(nal.to_vec());
            Ok(())
        }
        Some(existing) if existing == nal => Ok(()),
        Some(_) => Err(RenderError::Encode(format!(
            "encoder changed its {what} mid-stream"
        ))),
    }
}

/// Splits an Annex-B byte stream into NAL unit payloads (without start codes).
///
/// Emulation prevention guarantees `00 00 01` never occurs inside a NAL unit, so scanning for it
/// is exact; zero bytes before a start code (4-byte start codes, trailing_zero_8bits) are dropped.
pub fn split_annexb(stream: &[u8]) -> Vec<&[u8]> {
    let mut units = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i + 2 < stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            if let Some(s) = start {
                units.push(trim_trailing_zeros(&stream[s..i]));
            }
            i += 3;
            start = Some(i);
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        units.push(trim_trailing_zeros(&stream[s..]));
    }
    units.retain(|u| !u.is_empty());
    units
}

fn trim_trailing_zeros(mut nal: &[u8]) -> &[u8] {
    while let [rest @ .., 0] = nal {
        nal = rest;
    }
    nal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let stream = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5, 0,
        ];
        let units = split_annexb(&stream);
        assert_eq!(
            units,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5][..]]
        );
        assert!(split_annexb(&[1, 2, 3]).is_empty());
        assert!(split_annexb(&[]).is_empty());
    }

    #[test]
    fn bitrate_scales_with_size() {
        let b720 = target_bitrate(1280, 720, 24);
        assert!((1_300_000..1_700_000).contains(&b720), "{b720}");
        assert!(target_bitrate(864, 496, 24) < b720);
    }
}

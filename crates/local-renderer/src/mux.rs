//! MP4 muxing with the `mp4` crate, then a "faststart" pass that moves `moov` ahead of `mdat`
//! (so browsers can start playback before the whole file arrives) and fixes up the header
//! fields the crate leaves approximate.

use std::io::Cursor;

use bytes::Bytes;
use mp4::{
    AacConfig, AudioObjectType, AvcConfig, BoxHeader, BoxType, ChannelConfig, MediaConfig, MoovBox,
    Mp4Box, Mp4Config, Mp4Sample, Mp4Writer, ReadBox, SampleFreqIndex, TrackConfig, TrackType,
    WriteBox, HEADER_SIZE,
};

use crate::audio::{AacTrack, FRAME_SAMPLES, SAMPLE_RATE};
use crate::h264::Sample;
use crate::RenderError;

/// Movie (mvhd) timescale: milliseconds, the common choice.
const MOVIE_TIMESCALE: u32 = 1000;
/// Video ticks per frame; the track timescale is `fps * VIDEO_TICKS_PER_FRAME`, so every frame
/// lasts exactly the same whole number of ticks (one `stts` entry).
const VIDEO_TICKS_PER_FRAME: u32 = 512;
/// tkhd flags: track enabled | in movie | in preview.
const TRACK_FLAGS: u32 = 0x7;

pub struct VideoTrack {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
    pub samples: Vec<Sample>,
}

fn mux_err(e: impl std::fmt::Display) -> RenderError {
    RenderError::Mux(e.to_string())
}

pub fn write_mp4(video: &VideoTrack, audio: Option<&AacTrack>) -> Result<Vec<u8>, RenderError> {
    // avcC copies profile/compat/level from SPS bytes 1..=3, so a shorter SPS would be corrupt.
    if video.sps.len() < 4 || video.pps.is_empty() {
        return Err(RenderError::Mux("encoder did not produce SPS/PPS".into()));
    }
    let (Ok(width), Ok(height)) = (u16::try_from(video.width), u16::try_from(video.height)) else {
        return Err(RenderError::Mux(
            "dimensions do not fit an avc1 sample entry".into(),
        ));
    };
    let brand = |s: &str| s.parse().map_err(mux_err);
    let config = Mp4Config {
        major_brand: brand("isom")?,
        minor_version: 512,
        compatible_brands: vec![
            brand("isom")?,
            brand("iso2")?,
            brand("avc1")?,
            brand("mp41")?,
        ],
        timescale: MOVIE_TIMESCALE,
    };
    let estimated: usize = video.samples.iter().map(|s| s.data.len()).sum::<usize>()
        + audio.map_or(0, |a| a.frames.iter().map(Vec::len).sum());
    let mut writer = Mp4Writer::write_start(
        Cursor::new(Vec::with_capacity(estimated + 64 * 1024)),
        &config,
    )
    .map_err(mux_err)?;

    let video_timescale = video.fps * VIDEO_TICKS_PER_FRAME;
    writer
        .add_track(&TrackConfig {
            track_type: TrackType::Video,
            timescale: video_timescale,
            language: "und".into(),
            media_conf: MediaConfig::AvcConfig(AvcConfig {
                width,
                height,
                seq_param_set: video.sps.clone(),
                pic_param_set: video.pps.clone(),
            }),
        })
        .map_err(mux_err)?;
    if audio.is_some() {
        writer
            .add_track(&TrackConfig {
                track_type: TrackType::Audio,
                timescale: SAMPLE_RATE,
                language: "und".into(),
                media_conf: MediaConfig::AacConfig(AacConfig {
                    bitrate: 128_000,
                    profile: AudioObjectType::AacLowComplexity,
                    freq_index: SampleFreqIndex::Freq48000,
                    chan_conf: ChannelConfig::Stereo,
                }),
            })
            .map_err(mux_err)?;
    }

    // Interleave by presentation time so the writer's one-second chunks alternate tracks.
    let audio_frames = audio.map_or(&[][..], |a| &a.frames[..]);
    let (mut vi, mut ai) = (0usize, 0usize);
    while vi < video.samples.len() || ai < audio_frames.len() {
        // Compare vi/fps with ai*1024/48000 without floating point.
        let video_next = vi < video.samples.len()
            && (ai >= audio_frames.len()
                || (vi as u64) * u64::from(SAMPLE_RATE)
                    <= (ai as u64) * FRAME_SAMPLES as u64 * u64::from(video.fps));
        if video_next {
            let s = &video.samples[vi];
            writer
                .write_sample(
                    1,
                    &Mp4Sample {
                        start_time: vi as u64 * u64::from(VIDEO_TICKS_PER_FRAME),
                        duration: VIDEO_TICKS_PER_FRAME,
                        rendering_offset: 0,
                        is_sync: s.is_sync,
                        bytes: Bytes::copy_from_slice(&s.data),
                    },
                )
                .map_err(mux_err)?;
            vi += 1;
        } else {
            writer
                .write_sample(
                    2,
                    &Mp4Sample {
                        start_time: ai as u64 * FRAME_SAMPLES as u64,
                        duration: FRAME_SAMPLES as u32,
                        rendering_offset: 0,
                        is_sync: true,
                        bytes: Bytes::copy_from_slice(&audio_frames[ai]),
                    },
                )
                .map_err(mux_err)?;
            ai += 1;
        }
    }
    writer.write_end().map_err(mux_err)?;
    faststart(&writer.into_writer().into_inner())
}

/// Rewrites `ftyp mdat moov` as `ftyp moov mdat`, shifting chunk offsets, and sets exact
/// durations and track flags.
fn faststart(file: &[u8]) -> Result<Vec<u8>, RenderError> {
    let mut ftyp = None;
    let mut mdat = None;
    let mut moov_range = None;
    let mut pos = 0usize;
    while pos + HEADER_SIZE as usize <= file.len() {
        let header = BoxHeader::read(&mut Cursor::new(&file[pos..])).map_err(mux_err)?;
        let size = usize::try_from(header.size).map_err(mux_err)?;
        if size < HEADER_SIZE as usize || pos + size > file.len() {
            return Err(RenderError::Mux(format!("bad box size {size} at {pos}")));
        }
        match header.name {
            BoxType::FtypBox => ftyp = Some(pos..pos + size),
            BoxType::MdatBox => mdat = Some(pos..pos + size),
            BoxType::MoovBox => moov_range = Some(pos..pos + size),
            _ => {}
        }
        pos += size;
    }
    let (Some(ftyp), Some(mdat), Some(moov_range)) = (ftyp, mdat, moov_range) else {
        return Err(RenderError::Mux(
            "writer output lacks ftyp, mdat or moov".into(),
        ));
    };

    let mut cursor = Cursor::new(&file[moov_range.start..moov_range.end]);
    let header = BoxHeader::read(&mut cursor).map_err(mux_err)?;
    let mut moov = MoovBox::read_box(&mut cursor, header.size).map_err(mux_err)?;

    // Exact durations: the crate accumulates tkhd durations with per-sample integer division.
    let mut movie_duration = 0u64;
    for trak in &mut moov.traks {
        let mdhd = &trak.mdia.mdhd;
        let duration = (mdhd.duration * u64::from(MOVIE_TIMESCALE) + u64::from(mdhd.timescale) / 2)
            / u64::from(mdhd.timescale);
        trak.tkhd.duration = duration;
        trak.tkhd.flags = TRACK_FLAGS;
        if trak.mdia.minf.vmhd.is_some() {
            trak.tkhd.volume = mp4::FixedPointU8::new(0);
        }
        movie_duration = movie_duration.max(duration);
    }
    moov.mvhd.duration = movie_duration;
    moov.mvhd.next_track_id = moov.traks.len() as u32 + 1;

    // Moving moov in front of mdat shifts every chunk by moov's size; offsets stay 32-bit
    // (or 64-bit) so the size itself does not change.
    let shift = moov.box_size();
    let ftyp_len = (ftyp.end - ftyp.start) as u64;
    let old_mdat_start = mdat.start as u64;
    let new_mdat_start = ftyp_len + shift;
    for trak in &mut moov.traks {
        let stbl = &mut trak.mdia.minf.stbl;
        if let Some(stco) = stbl.stco.as_mut() {
            for offset in &mut stco.entries {
                let moved = u64::from(*offset) - old_mdat_start + new_mdat_start;
                *offset = u32::try_from(moved)
                    .map_err(|_| RenderError::Mux("file too large for stco".into()))?;
            }
        }
        if let Some(co64) = stbl.co64.as_mut() {
            for offset in &mut co64.entries {
                *offset = *offset - old_mdat_start + new_mdat_start;
            }
        }
    }

    let mut out = Vec::with_capacity(file.len());
    out.extend_from_slice(&file[ftyp]);
    moov.write_box(&mut out).map_err(mux_err)?;
    if out.len() as u64 != new_mdat_start {
        return Err(RenderError::Mux("moov size changed while rewriting".into()));
    }
    out.extend_from_slice(&file[mdat]);
    Ok(out)
}

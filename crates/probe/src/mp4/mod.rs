//! Reading the essentials of an MP4/MOV: duration, and the first video and audio track's
//! codec, size, rotation, frame rate and sample format. `crate::probe_video` wraps this with
//! client-facing errors; `inspect` stays public for callers that want every detail.
//!
//! This is a small, bounds-checked ISO-BMFF walker rather than a general MP4 library, because it
//! must accept files from anywhere (phones' QuickTime movies with `hvc1` and sound description
//! v1/v2, fragmented MP4, `avc3`, Opus, ...) and must turn every malformed or truncated input into
//! an error: every read is checked against the enclosing box, nothing is allocated from
//! untrusted counts, and recursion only follows a fixed path of known containers. Why this is
//! not `mp4parse`: see the crate documentation.

mod atoms;
mod audio;

use atoms::*;
use audio::*;

/// What `inspect` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Mp4Info {
    /// Movie duration (from `mvhd`, or the longest track when the header has none).
    pub duration_seconds: f64,
    /// The first video track, if any.
    pub video: Option<VideoTrackInfo>,
    /// The first audio track, if any.
    pub audio: Option<AudioTrackInfo>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoTrackInfo {
    /// Normalised codec name: "h264", "hevc", "av1", "vp9", "vp8", "mpeg4", "prores", "mjpeg",
    /// or the sample entry's four-character code (lowercased, trimmed) when unknown.
    pub codec: String,
    /// Coded size, as stored (before `rotation`).
    pub width: u32,
    pub height: u32,
    /// Clockwise rotation to apply for display: 0, 90, 180 or 270 (from the track matrix;
    /// a portrait phone video is typically 1920x1080 with 90).
    pub rotation: u16,
    /// Exact `timescale / sample_delta` for constant-rate tracks, else the average.
    pub fps: f64,
    pub frame_count: u64,
    pub duration_seconds: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AudioTrackInfo {
    /// Normalised codec name: "aac", "mp3", "opus", "flac", "alac", "ac3", "eac3", "pcm", ...
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub duration_seconds: f64,
}

/// Why a file could not be inspected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InspectError {
    /// The bytes do not start like an ISO-BMFF/QuickTime file.
    #[error("not an MP4/MOV file: {0}")]
    NotMp4(String),
    /// A box extends past the end of the data: the file was cut short.
    #[error("truncated MP4: {0}")]
    Truncated(String),
    /// The structure is inconsistent or a required box is missing.
    #[error("malformed MP4: {0}")]
    Malformed(String),
}

fn malformed(msg: impl Into<String>) -> InspectError {
    InspectError::Malformed(msg.into())
}

// ---------------------------------------------------------------------------------------------
// The walk.

/// Top-level box types that can legitimately start a QuickTime/ISO-BMFF file.
pub(crate) const TOP_LEVEL: [&[u8; 4]; 14] = [
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"styp", b"sidx",
    b"moof", b"meta", b"junk", b"pdin",
];

/// Parses `bytes` as MP4/MOV and describes its first video and audio tracks.
pub fn inspect(bytes: &[u8]) -> Result<Mp4Info, InspectError> {
    if bytes.len() < 8 {
        return Err(InspectError::NotMp4(format!("only {} bytes", bytes.len())));
    }
    let first_kind = [bytes[4], bytes[5], bytes[6], bytes[7]];
    if !TOP_LEVEL.contains(&&first_kind) {
        return Err(InspectError::NotMp4(format!(
            "starts with '{}', not an MP4 box",
            name(&first_kind)
        )));
    }

    let mut moov = None;
    let mut moofs = Vec::new();
    for atom in top_level_atoms(bytes) {
        let atom = atom?;
        match &atom.kind {
            b"moov" if moov.is_none() => moov = Some(atom),
            b"moof" => moofs.push(atom),
            _ => {}
        }
    }
    let Some(moov) = moov else {
        return Err(malformed("no 'moov' box (movie header)"));
    };
    if find(moov.body, moov.base, b"cmov")?.is_some() {
        return Err(malformed(
            "compressed movie headers ('cmov') are not supported",
        ));
    }

    let mvhd = find(moov.body, moov.base, b"mvhd")?.ok_or_else(|| malformed("no 'mvhd' box"))?;
    let (movie_timescale, movie_duration) = timescale_and_duration(mvhd.body, "mvhd")?;
    let extends = parse_mvex(moov)?;

    let mut tracks = Vec::new();
    for atom in atoms(moov.body, moov.base) {
        let atom = atom?;
        if &atom.kind == b"trak" {
            if let Some(track) = parse_trak(atom, movie_timescale)? {
                tracks.push(track);
            }
        }
    }
    // Complete headers do not make a complete file: cut exactly where `mdat` starts, a file
    // has every box it needs and none of its media.
    if let Some(track) = tracks
        .iter()
        .find(|t| t.last_chunk.is_some_and(|at| at >= bytes.len() as u64))
    {
        return Err(InspectError::Truncated(format!(
            "track {}'s media lies past the end of the file",
            track.id
        )));
    }
    // Fragmented files keep their sample tables in movie fragments.
    if !moofs.is_empty() {
        add_fragments(&mut tracks, &moofs, &extends)?;
    }

    // Prefer the first track of a kind that has samples (skips empty placeholder tracks).
    let pick = |handler: &[u8; 4]| {
        let of_kind = || tracks.iter().filter(move |t| &t.handler == handler);
        of_kind()
            .find(|t| t.samples > 0)
            .or_else(|| of_kind().next())
    };
    let video = pick(b"vide").map(|t| VideoTrackInfo {
        codec: t.codec.clone(),
        width: t.width,
        height: t.height,
        rotation: t.rotation,
        fps: t.fps(),
        frame_count: t.samples,
        duration_seconds: t.duration_seconds(),
    });
    let audio = pick(b"soun").map(|t| AudioTrackInfo {
        codec: t.codec.clone(),
        sample_rate: t.sample_rate,
        channels: t.channels,
        duration_seconds: t.duration_seconds(),
    });

    let mut duration_seconds = if movie_timescale > 0 && movie_duration > 0 {
        movie_duration as f64 / f64::from(movie_timescale)
    } else if movie_timescale > 0 && extends.fragment_duration > 0 {
        extends.fragment_duration as f64 / f64::from(movie_timescale)
    } else {
        0.0
    };
    if duration_seconds == 0.0 {
        duration_seconds = tracks
            .iter()
            .map(Track::duration_seconds)
            .fold(0.0, f64::max);
    }
    Ok(Mp4Info {
        duration_seconds,
        video,
        audio,
    })
}

#[derive(Default)]
struct Extends {
    /// trex default_sample_duration per track id.
    default_durations: Vec<(u32, u32)>,
    /// mehd fragment_duration (movie timescale).
    fragment_duration: u64,
}

fn parse_mvex(moov: Atom<'_>) -> Result<Extends, InspectError> {
    let mut out = Extends::default();
    let Some(mvex) = find(moov.body, moov.base, b"mvex")? else {
        return Ok(out);
    };
    for atom in atoms(mvex.body, mvex.base) {
        let atom = atom?;
        match &atom.kind {
            b"trex" => {
                let mut r = Reader::new(atom.body, "trex");
                r.version_flags()?;
                let track_id = r.u32()?;
                r.skip(4)?; // default_sample_description_index
                out.default_durations.push((track_id, r.u32()?));
            }
            b"mehd" => {
                let mut r = Reader::new(atom.body, "mehd");
                let (version, _) = r.version_flags()?;
                out.fragment_duration = if version == 1 {
                    r.u64()?
                } else {
                    u64::from(r.u32()?)
                };
            }
            _ => {}
        }
    }
    Ok(out)
}

struct Track {
    id: u32,
    handler: [u8; 4],
    timescale: u32,
    /// Media duration in `timescale` units.
    duration: u64,
    codec: String,
    width: u32,
    height: u32,
    rotation: u16,
    sample_rate: u32,
    channels: u16,
    samples: u64,
    /// Sample durations from the sample tables (or fragments).
    timing: Timing,
    /// Presented length according to the edit list, when it has one (it trims encoder
    /// priming and the like, as players and ffprobe do).
    edited_seconds: Option<f64>,
    /// The largest chunk offset in `stco`/`co64`: where the last of its media starts.
    last_chunk: Option<u64>,
}

/// Accumulates sample durations, noting whether the rate is constant.
#[derive(Default)]
struct Timing {
    samples: u64,
    /// Sum of durations, in the track timescale.
    total: u64,
    /// Up to two distinct sample durations seen, with how many samples had each.
    deltas: [Option<(u32, u64)>; 2],
    /// A third distinct duration was seen.
    variable: bool,
}

impl Timing {
    fn push(&mut self, count: u64, delta: u32) {
        if count == 0 {
            return;
        }
        self.samples = self.samples.saturating_add(count);
        self.total = self
            .total
            .saturating_add(count.saturating_mul(u64::from(delta)));
        for slot in &mut self.deltas {
            match slot {
                Some((d, n)) if *d == delta => {
                    *n = n.saturating_add(count);
                    return;
                }
                None => {
                    *slot = Some((delta, count));
                    return;
                }
                Some(_) => {}
            }
        }
        self.variable = true;
    }

    /// The common sample duration when the rate is constant. One odd sample is tolerated:
    /// muxers often stretch or shorten the first or last frame.
    fn constant_delta(&self) -> Option<u32> {
        match self.deltas {
            _ if self.variable => None,
            [Some((d, _)), None] => Some(d),
            [Some((d, _)), Some((_, 1))] | [Some((_, 1)), Some((d, _))] => Some(d),
            _ => None,
        }
    }
}

impl Track {
    fn duration_seconds(&self) -> f64 {
        if let Some(seconds) = self.edited_seconds {
            return seconds;
        }
        if self.timescale == 0 {
            return 0.0;
        }
        // Fragmented tracks have an empty mdhd duration; their samples tell the length.
        let units = if self.duration > 0 {
            self.duration
        } else {
            self.timing.total
        };
        units as f64 / f64::from(self.timescale)
    }

    fn fps(&self) -> f64 {
        match self.timing.constant_delta() {
            Some(delta) if delta > 0 && self.timescale > 0 => {
                f64::from(self.timescale) / f64::from(delta)
            }
            _ => {
                let seconds = self.duration_seconds();
                if seconds > 0.0 {
                    self.samples as f64 / seconds
                } else {
                    0.0
                }
            }
        }
    }
}

fn parse_trak(trak: Atom<'_>, movie_timescale: u32) -> Result<Option<Track>, InspectError> {
    let Some(tkhd) = find(trak.body, trak.base, b"tkhd")? else {
        return Err(malformed(format!(
            "track at byte {} has no 'tkhd'",
            trak.offset
        )));
    };
    let header = parse_tkhd(tkhd.body)?;
    let id = header.id;
    let Some(mdia) = find(trak.body, trak.base, b"mdia")? else {
        return Err(malformed(format!("track {id} has no 'mdia'")));
    };
    let hdlr = find(mdia.body, mdia.base, b"hdlr")?
        .ok_or_else(|| malformed(format!("track {id} has no 'hdlr'")))?;
    let handler = {
        let mut r = Reader::new(hdlr.body, "hdlr");
        r.version_flags()?;
        r.skip(4)?; // pre_defined / QuickTime component type
        r.fourcc()?
    };
    if &handler != b"vide" && &handler != b"soun" {
        return Ok(None); // text, timecode, metadata, hint tracks: not described
    }
    let mdhd = find(mdia.body, mdia.base, b"mdhd")?
        .ok_or_else(|| malformed(format!("track {id} has no 'mdhd'")))?;
    let (timescale, duration) = timescale_and_duration(mdhd.body, "mdhd")?;

    let mut track = Track {
        id,
        handler,
        timescale,
        duration,
        codec: String::from("unknown"),
        width: header.width,
        height: header.height,
        rotation: header.rotation,
        sample_rate: 0,
        channels: 0,
        samples: 0,
        timing: Timing::default(),
        edited_seconds: edited_seconds(trak, movie_timescale)?,
        last_chunk: None,
    };
    let Some(stbl) = find_path(mdia, &[b"minf", b"stbl"])? else {
        return Ok(Some(track));
    };
    if let Some(stsd) = find(stbl.body, stbl.base, b"stsd")? {
        parse_stsd(stsd, &mut track)?;
    }
    if let Some(stts) = find(stbl.body, stbl.base, b"stts")? {
        track.timing = parse_stts(stts.body)?;
        track.samples = track.timing.samples;
    }
    // stsz/stz2 state the sample count directly; prefer it when present.
    for kind in [b"stsz", b"stz2"] {
        if let Some(atom) = find(stbl.body, stbl.base, kind)? {
            let mut r = Reader::new(atom.body, "stsz");
            r.version_flags()?;
            r.skip(4)?; // sample_size, or reserved + field_size for stz2
            let count = u64::from(r.u32()?);
            if count > 0 {
                track.samples = count;
            }
            break;
        }
    }
    for (kind, wide) in [(b"stco", false), (b"co64", true)] {
        if let Some(atom) = find(stbl.body, stbl.base, kind)? {
            track.last_chunk = last_chunk_offset(atom.body, wide)?;
            break;
        }
    }
    Ok(Some(track))
}

/// The largest offset in a chunk offset table (`stco`, or `co64` when `wide`), if it has any.
fn last_chunk_offset(body: &[u8], wide: bool) -> Result<Option<u64>, InspectError> {
    let mut r = Reader::new(body, if wide { "co64" } else { "stco" });
    r.version_flags()?;
    let entries = r.u32()? as usize;
    let entry_size = if wide { 8 } else { 4 };
    if entries.saturating_mul(entry_size) > r.remaining() {
        return Err(malformed("chunk offset count exceeds the box"));
    }
    let mut last = None;
    for _ in 0..entries {
        let offset = if wide { r.u64()? } else { u64::from(r.u32()?) };
        last = last.max(Some(offset));
    }
    Ok(last)
}

/// The total duration of the non-empty edits in `trak/edts/elst`, if any, in seconds.
fn edited_seconds(trak: Atom<'_>, movie_timescale: u32) -> Result<Option<f64>, InspectError> {
    let Some(elst) = find_path(trak, &[b"edts", b"elst"])? else {
        return Ok(None);
    };
    let mut r = Reader::new(elst.body, "elst");
    let (version, _) = r.version_flags()?;
    let entries = r.u32()? as usize;
    let entry_size = if version == 1 { 20 } else { 12 };
    if entries.saturating_mul(entry_size) > r.remaining() {
        return Err(malformed("'elst' entry count exceeds the box"));
    }
    let mut total = 0u64;
    for _ in 0..entries {
        let (duration, media_time) = if version == 1 {
            (r.u64()?, r.u64()? as i64)
        } else {
            (u64::from(r.u32()?), i64::from(r.u32()? as i32))
        };
        r.skip(4)?; // media rate
        if media_time != -1 {
            // -1 marks an empty edit (a delay before the track starts), not content.
            total = total.saturating_add(duration);
        }
    }
    if total == 0 || movie_timescale == 0 {
        return Ok(None); // fragmented files often leave the edit duration at zero
    }
    Ok(Some(total as f64 / f64::from(movie_timescale)))
}

/// What a `tkhd` says about its track.
struct TrackHeader {
    id: u32,
    /// The 16.16 presentation size, integer part.
    width: u32,
    height: u32,
    /// Clockwise rotation for display, from the transformation matrix.
    rotation: u16,
}

fn parse_tkhd(body: &[u8]) -> Result<TrackHeader, InspectError> {
    let mut r = Reader::new(body, "tkhd");
    let (version, _) = r.version_flags()?;
    let id = if version == 1 {
        r.skip(16)?;
        let id = r.u32()?;
        r.skip(4 + 8)?;
        id
    } else {
        r.skip(8)?;
        let id = r.u32()?;
        r.skip(4 + 4)?;
        id
    };
    r.skip(8 + 2 + 2 + 2 + 2)?; // reserved, layer, alternate_group, volume, reserved
                                // Matrix {a b u; c d v; x y w}: only the 2x2 rotation part matters here.
    let a = r.u32()? as i32;
    let b = r.u32()? as i32;
    r.skip(4)?; // u
    let c = r.u32()? as i32;
    let d = r.u32()? as i32;
    r.skip(16)?; // v, x, y, w
    let width = r.u32()? >> 16;
    let height = r.u32()? >> 16;
    Ok(TrackHeader {
        id,
        width,
        height,
        rotation: rotation(a, b, c, d),
    })
}

/// Phones record portrait video as landscape frames plus a 90-degree matrix. Only the four
/// right-angle rotations (mirrored or not) are recognised; anything else counts as upright,
/// as it does in players.
fn rotation(a: i32, b: i32, c: i32, d: i32) -> u16 {
    match (a.signum(), b.signum(), c.signum(), d.signum()) {
        (0, 1, -1, 0) | (0, 1, 1, 0) => 90,
        (-1, 0, 0, -1) | (1, 0, 0, -1) => 180,
        (0, -1, 1, 0) | (0, -1, -1, 0) => 270,
        _ => 0,
    }
}

/// Reads (timescale, duration) from an `mvhd` or `mdhd` box, which share this layout.
/// An all-ones duration means "unknown" and becomes 0.
fn timescale_and_duration(body: &[u8], what: &'static str) -> Result<(u32, u64), InspectError> {
    let mut r = Reader::new(body, what);
    let (version, _) = r.version_flags()?;
    if version == 1 {
        r.skip(16)?; // creation and modification times
        let timescale = r.u32()?;
        let duration = r.u64()?;
        Ok((timescale, if duration == u64::MAX { 0 } else { duration }))
    } else {
        r.skip(8)?;
        let timescale = r.u32()?;
        let duration = r.u32()?;
        Ok((
            timescale,
            if duration == u32::MAX {
                0
            } else {
                u64::from(duration)
            },
        ))
    }
}

fn parse_stts(body: &[u8]) -> Result<Timing, InspectError> {
    let mut r = Reader::new(body, "stts");
    r.version_flags()?;
    let entries = r.u32()? as usize;
    if entries.saturating_mul(8) > r.remaining() {
        return Err(malformed("'stts' entry count exceeds the box"));
    }
    let mut timing = Timing::default();
    for _ in 0..entries {
        let count = r.u32()?;
        let delta = r.u32()?;
        timing.push(u64::from(count), delta);
    }
    Ok(timing)
}

fn parse_stsd(stsd: Atom<'_>, track: &mut Track) -> Result<(), InspectError> {
    let mut r = Reader::new(stsd.body, "stsd");
    r.version_flags()?;
    r.skip(4)?; // entry_count; the first entry describes the track for our purposes
    let Some(entry) = atoms(r.rest(), stsd.base + 8).next().transpose()? else {
        return Ok(());
    };
    let fourcc = entry.kind;
    if &track.handler == b"vide" {
        track.codec = video_codec(&fourcc);
        let mut e = Reader::new(entry.body, "visual sample entry");
        e.skip(6 + 2 + 2 + 2 + 12)?; // reserved, data_reference_index, pre_defined, reserved
        let (w, h) = (u32::from(e.u16()?), u32::from(e.u16()?));
        if w > 0 && h > 0 {
            track.width = w;
            track.height = h;
        }
        // Protected content names the real codec in sinf/frma.
        if &fourcc == b"encv" {
            e.skip(50)?;
            if let Some(original) = original_format(e.rest())? {
                track.codec = video_codec(&original);
            }
        }
    } else {
        parse_audio_entry(&entry, track)?;
    }
    Ok(())
}

fn original_format(children: &[u8]) -> Result<Option<[u8; 4]>, InspectError> {
    let Some(sinf) = find(children, 0, b"sinf")? else {
        return Ok(None);
    };
    let Some(frma) = find(sinf.body, 0, b"frma")? else {
        return Ok(None);
    };
    Ok(Some(Reader::new(frma.body, "frma").fourcc()?))
}

fn video_codec(fourcc: &[u8; 4]) -> String {
    match fourcc {
        b"avc1" | b"avc2" | b"avc3" | b"avc4" => "h264".into(),
        b"hvc1" | b"hev1" => "hevc".into(),
        b"av01" => "av1".into(),
        b"vp09" => "vp9".into(),
        b"vp08" => "vp8".into(),
        b"mp4v" => "mpeg4".into(),
        b"apch" | b"apcn" | b"apcs" | b"apco" | b"ap4h" | b"ap4x" => "prores".into(),
        b"jpeg" | b"mjpa" | b"mjpb" => "mjpeg".into(),
        b"s263" | b"h263" => "h263".into(),
        b"dvh1" | b"dvhe" => "hevc".into(), // Dolby Vision over HEVC
        b"encv" => "encrypted".into(),
        other => fourcc_name(other),
    }
}

fn fourcc_name(fourcc: &[u8; 4]) -> String {
    name(fourcc).trim().to_ascii_lowercase()
}

/// Adds sample counts and durations from `moof/traf/trun` to tracks whose moov tables are empty.
fn add_fragments(
    tracks: &mut [Track],
    moofs: &[Atom<'_>],
    extends: &Extends,
) -> Result<(), InspectError> {
    for moof in moofs {
        for traf in atoms(moof.body, moof.base) {
            let traf = traf?;
            if &traf.kind != b"traf" {
                continue;
            }
            let Some(tfhd) = find(traf.body, traf.base, b"tfhd")? else {
                continue;
            };
            let mut r = Reader::new(tfhd.body, "tfhd");
            let (_, flags) = r.version_flags()?;
            let track_id = r.u32()?;
            if flags & 0x01 != 0 {
                r.skip(8)?; // base_data_offset
            }
            if flags & 0x02 != 0 {
                r.skip(4)?; // sample_description_index
            }
            let default_duration = if flags & 0x08 != 0 {
                r.u32()?
            } else {
                extends
                    .default_durations
                    .iter()
                    .find(|(id, _)| *id == track_id)
                    .map_or(0, |(_, d)| *d)
            };
            let Some(track) = tracks.iter_mut().find(|t| t.id == track_id) else {
                continue;
            };
            for trun in atoms(traf.body, traf.base) {
                let trun = trun?;
                if &trun.kind != b"trun" {
                    continue;
                }
                parse_trun(trun.body, default_duration, &mut track.timing)?;
                track.samples = track.timing.samples;
            }
        }
    }
    Ok(())
}

fn parse_trun(body: &[u8], default_duration: u32, timing: &mut Timing) -> Result<(), InspectError> {
    let mut r = Reader::new(body, "trun");
    let (_, flags) = r.version_flags()?;
    let count = r.u32()?;
    if flags & 0x001 != 0 {
        r.skip(4)?; // data_offset
    }
    if flags & 0x004 != 0 {
        r.skip(4)?; // first_sample_flags
    }
    // Optional per-sample fields: duration, size, flags, composition offset.
    let per_sample = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|&&f| flags & f != 0)
        .count()
        * 4;
    if (count as usize).saturating_mul(per_sample) > r.remaining() {
        return Err(malformed("'trun' sample count exceeds the box"));
    }
    if flags & 0x100 == 0 {
        timing.push(u64::from(count), default_duration);
        return Ok(());
    }
    for _ in 0..count {
        let duration = r.u32()?;
        r.skip(per_sample - 4)?;
        timing.push(1, duration);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_mp4() {
        assert!(matches!(inspect(b""), Err(InspectError::NotMp4(_))));
        assert!(matches!(
            inspect(b"hello world, this is not a video"),
            Err(InspectError::NotMp4(_))
        ));
        assert!(matches!(inspect(&[0xff; 64]), Err(InspectError::NotMp4(_))));
    }
}

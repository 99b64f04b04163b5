//! Audio sample entries: the codec, sample rate and channels, from the entry itself or, for
//! AAC, from its `esds` AudioSpecificConfig.

use super::*;

pub(super) fn parse_audio_entry(entry: &Atom<'_>, track: &mut Track) -> Result<(), InspectError> {
    let mut e = Reader::new(entry.body, "audio sample entry");
    e.skip(6 + 2)?; // reserved, data_reference_index
    let qt_version = e.u16()?;
    e.skip(2 + 4)?; // revision, vendor
    let mut channels = e.u16()?;
    e.skip(2 + 2 + 2)?; // sample size, compression id, packet size
    let mut sample_rate = e.u32()? >> 16;
    match qt_version {
        1 => e.skip(16)?,
        2 => {
            // Sound description v2 carries the real rate and channel count in its extension.
            e.skip(4)?;
            sample_rate = f64::from_bits(e.u64()?)
                .round()
                .clamp(0.0, f64::from(u32::MAX)) as u32;
            channels = u16::try_from(e.u32()?).unwrap_or(u16::MAX);
            e.skip(20)?;
        }
        _ => {}
    }
    let children = e.rest();
    let mut fourcc = entry.kind;
    if &fourcc == b"enca" {
        if let Some(original) = original_format(children)? {
            fourcc = original;
        }
    }
    track.channels = channels;
    track.sample_rate = sample_rate;
    track.codec = match &fourcc {
        b"mp4a" => "aac".into(),
        b"Opus" | b"opus" => "opus".into(),
        b"fLaC" => "flac".into(),
        b"alac" => "alac".into(),
        b"ac-3" => "ac3".into(),
        b"ec-3" => "eac3".into(),
        b".mp3" | b"mp3 " => "mp3".into(),
        b"samr" => "amr_nb".into(),
        b"sawb" => "amr_wb".into(),
        b"ulaw" => "pcm_mulaw".into(),
        b"alaw" => "pcm_alaw".into(),
        b"lpcm" | b"sowt" | b"twos" | b"in24" | b"in32" | b"fl32" | b"fl64" | b"raw " | b"ipcm"
        | b"fpcm" => "pcm".into(),
        b"enca" => "encrypted".into(),
        other => fourcc_name(other),
    };

    match &fourcc {
        b"mp4a" => {
            // esds sits directly in the entry (MP4) or inside a 'wave' atom (QuickTime).
            let esds = match find(children, 0, b"esds")? {
                Some(esds) => Some(esds),
                None => match find(children, 0, b"wave")? {
                    Some(wave) => find(wave.body, 0, b"esds")?,
                    None => None,
                },
            };
            if let Some(esds) = esds {
                apply_esds(esds.body, track)?;
            }
        }
        b"Opus" | b"opus" => {
            // Opus always decodes at 48 kHz; dOps holds the channel count.
            track.sample_rate = 48_000;
            if let Some(dops) = find(children, 0, b"dOps")? {
                let mut r = Reader::new(dops.body, "dOps");
                r.skip(1)?;
                track.channels = u16::from(r.u8()?);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Reads the ES descriptor: the object type distinguishes AAC from MP3, and the
/// AudioSpecificConfig has the authoritative sample rate and channel layout.
pub(super) fn apply_esds(body: &[u8], track: &mut Track) -> Result<(), InspectError> {
    let mut r = Reader::new(body, "esds");
    r.version_flags()?;
    let Some(es) = descriptor(&mut r, 0x03)? else {
        return Ok(());
    };
    let mut es = Reader::new(es, "ES descriptor");
    es.skip(2)?; // ES_ID
    let flags = es.u8()?;
    if flags & 0x80 != 0 {
        es.skip(2)?; // dependsOn_ES_ID
    }
    if flags & 0x40 != 0 {
        let len = es.u8()?;
        es.skip(usize::from(len))?; // URL
    }
    if flags & 0x20 != 0 {
        es.skip(2)?; // OCR_ES_Id
    }
    let Some(config) = descriptor(&mut es, 0x04)? else {
        return Ok(());
    };
    let mut dc = Reader::new(config, "decoder config");
    let object_type = dc.u8()?;
    match object_type {
        0x69 | 0x6B => track.codec = "mp3".into(),
        0x40 | 0x66..=0x68 => track.codec = "aac".into(),
        0xA5 => track.codec = "ac3".into(),
        0xA6 => track.codec = "eac3".into(),
        0xAD => track.codec = "opus".into(),
        _ => {}
    }
    dc.skip(1 + 3 + 4 + 4)?; // stream type, buffer size, max and average bitrate
    if track.codec != "aac" {
        return Ok(());
    }
    let Some(asc) = descriptor(&mut dc, 0x05)? else {
        return Ok(());
    };
    if let Some((rate, channels)) = audio_specific_config(asc) {
        if rate > 0 {
            track.sample_rate = rate;
        }
        if channels > 0 {
            track.channels = channels;
        }
    }
    Ok(())
}

/// Reads an MPEG-4 descriptor header (tag + variable-length size) and returns its body when
/// the tag matches.
pub(super) fn descriptor<'a>(
    r: &mut Reader<'a>,
    tag: u8,
) -> Result<Option<&'a [u8]>, InspectError> {
    if r.remaining() == 0 {
        return Ok(None);
    }
    let found = r.u8()?;
    let mut len = 0usize;
    for _ in 0..4 {
        let b = r.u8()?;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
    }
    if found != tag {
        return Ok(None);
    }
    // Some writers overstate the last descriptor's size; clamp to what is there.
    let len = len.min(r.remaining());
    Ok(Some(r.bytes(len)?))
}

/// (sample rate, channels) from an AudioSpecificConfig, if it is readable.
pub(super) fn audio_specific_config(asc: &[u8]) -> Option<(u32, u16)> {
    const RATES: [u32; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    let mut bits = Bits { data: asc, pos: 0 };
    let mut object_type = bits.take(5)?;
    if object_type == 31 {
        object_type = 32 + bits.take(6)?;
    }
    let index = bits.take(4)?;
    let rate = if index == 15 {
        bits.take(24)?
    } else {
        RATES.get(index as usize).copied().unwrap_or(0)
    };
    let config = bits.take(4)?;
    let channels = match config {
        1..=6 => config as u16,
        7 => 8,
        _ => 0,
    };
    let _ = object_type;
    Some((rate, channels))
}

pub(super) struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    pub(super) fn take(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(v)
    }
}

//! TIFF: the first image file directory (IFD0) gives the size and orientation, and its strip or
//! tile tables say where the pixel data lies, which must be inside the file. EXIF blocks are
//! small TIFF files too, so the same reader finds the orientation in JPEG, PNG and WebP.

use super::Header;
use crate::bytes::Bytes;
use crate::ProbeError;

const IMAGE_WIDTH: u16 = 256;
const IMAGE_LENGTH: u16 = 257;
const STRIP_OFFSETS: u16 = 273;
const ORIENTATION: u16 = 274;
const STRIP_BYTE_COUNTS: u16 = 279;
const TILE_OFFSETS: u16 = 324;
const TILE_BYTE_COUNTS: u16 = 325;

/// A TIFF structure with its byte order.
struct Tiff<'a> {
    bytes: Bytes<'a>,
    little_endian: bool,
}

/// One 12-byte IFD entry.
#[derive(Clone, Copy)]
struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    /// Where the 4-byte value-or-offset field is.
    field: usize,
}

impl<'a> Tiff<'a> {
    /// Reads the 8-byte header; returns the reader and the offset of IFD0.
    fn open(bytes: Bytes<'a>) -> Result<(Self, usize), ProbeError> {
        let little_endian = match bytes.slice(0, 2)? {
            b"II" => true,
            b"MM" => false,
            _ => return Err(bytes.malformed("unknown byte order")),
        };
        let tiff = Tiff {
            bytes,
            little_endian,
        };
        if tiff.u16(2)? != 42 {
            return Err(bytes.malformed("bad TIFF header"));
        }
        let ifd = tiff.u32(4)? as usize;
        if ifd < 8 {
            return Err(bytes.malformed("bad first directory offset"));
        }
        Ok((tiff, ifd))
    }

    fn u16(&self, at: usize) -> Result<u16, ProbeError> {
        if self.little_endian {
            self.bytes.u16_le(at)
        } else {
            self.bytes.u16_be(at)
        }
    }

    fn u32(&self, at: usize) -> Result<u32, ProbeError> {
        if self.little_endian {
            self.bytes.u32_le(at)
        } else {
            self.bytes.u32_be(at)
        }
    }

    /// The entries of the directory at `ifd`; the whole directory (count, entries and the
    /// offset of the next one) must be in the file.
    fn entries(&self, ifd: usize) -> Result<impl Iterator<Item = Entry> + '_, ProbeError> {
        let count = usize::from(self.u16(ifd)?);
        self.bytes.slice(ifd + 2, count * 12 + 4)?;
        Ok((0..count).filter_map(move |i| {
            let at = ifd + 2 + 12 * i;
            // In bounds: checked above.
            Some(Entry {
                tag: self.u16(at).ok()?,
                kind: self.u16(at + 2).ok()?,
                count: self.u32(at + 4).ok()?,
                field: at + 8,
            })
        }))
    }

    /// Where the entry's values are, and the size of one. Only the integer types size,
    /// offset and orientation tags use are accepted.
    fn values(&self, entry: Entry) -> Result<(usize, usize), ProbeError> {
        let size = match entry.kind {
            1 => 1, // BYTE
            3 => 2, // SHORT
            4 => 4, // LONG
            _ => {
                return Err(self
                    .bytes
                    .malformed(format!("tag {} has type {}", entry.tag, entry.kind)))
            }
        };
        let total = u64::from(entry.count) * size as u64;
        let at = if total <= 4 {
            entry.field
        } else {
            self.u32(entry.field)? as usize
        };
        // The whole array must be in the file before any of it is read.
        self.bytes.end_of(at, total)?;
        Ok((at, size))
    }

    /// Every value stored out of line must be in the file: a cut-off TIFF often loses only
    /// its directory's arrays (resolution, color map), which are written last.
    fn check_in_file(&self, entry: Entry) -> Result<(), ProbeError> {
        let size: u64 = match entry.kind {
            1 | 2 | 6 | 7 => 1,   // BYTE, ASCII, SBYTE, UNDEFINED
            3 | 8 => 2,           // SHORT, SSHORT
            4 | 9 | 11 | 13 => 4, // LONG, SLONG, FLOAT, IFD
            5 | 10 | 12 => 8,     // RATIONAL, SRATIONAL, DOUBLE
            _ => return Ok(()),   // unknown types are skipped, as the specification says
        };
        let total = u64::from(entry.count) * size;
        if total > 4 {
            self.bytes.end_of(self.u32(entry.field)? as usize, total)?;
        }
        Ok(())
    }

    /// Value `index` of an integer entry.
    fn value(&self, entry: Entry, index: u32) -> Result<u32, ProbeError> {
        if index >= entry.count {
            return Err(self.bytes.malformed(format!("tag {} is empty", entry.tag)));
        }
        let (at, size) = self.values(entry)?;
        let at = at + index as usize * size;
        match size {
            1 => self.bytes.u8(at).map(u32::from),
            2 => self.u16(at).map(u32::from),
            _ => self.u32(at),
        }
    }
}

/// Size, orientation, and a check that every strip or tile of IFD0 is inside the file.
pub(super) fn read(bytes: Bytes<'_>) -> Result<Header, ProbeError> {
    let (tiff, ifd) = Tiff::open(bytes)?;
    let (mut width, mut height, mut orientation) = (None, None, None);
    let (mut offsets, mut counts, mut tile_offsets, mut tile_counts) = (None, None, None, None);
    for entry in tiff.entries(ifd)? {
        tiff.check_in_file(entry)?;
        match entry.tag {
            IMAGE_WIDTH => width = Some(tiff.value(entry, 0)?),
            IMAGE_LENGTH => height = Some(tiff.value(entry, 0)?),
            // A broken orientation is ignored, as viewers do.
            ORIENTATION => orientation = tiff.value(entry, 0).ok(),
            STRIP_OFFSETS => offsets = Some(entry),
            STRIP_BYTE_COUNTS => counts = Some(entry),
            TILE_OFFSETS => tile_offsets = Some(entry),
            TILE_BYTE_COUNTS => tile_counts = Some(entry),
            _ => {}
        }
    }
    let (Some(width), Some(height)) = (width, height) else {
        return Err(bytes.malformed("the image size is missing"));
    };
    let (offsets, counts) = match (offsets, tile_offsets) {
        (_, Some(tiles)) => (tiles, tile_counts),
        (Some(strips), None) => (strips, counts),
        (None, None) => return Err(bytes.malformed("no image data")),
    };
    check_data(&tiff, offsets, counts)?;
    Ok(Header {
        width,
        height,
        orientation: orientation.and_then(|o| u16::try_from(o).ok()),
    })
}

/// Every strip (or tile) must lie inside the file: this is what catches a cut-off TIFF.
fn check_data(tiff: &Tiff<'_>, offsets: Entry, counts: Option<Entry>) -> Result<(), ProbeError> {
    let bytes = tiff.bytes;
    if offsets.count == 0 {
        return Err(bytes.malformed("no image data"));
    }
    // Both arrays are bounds-checked as a whole first, so this loop runs at most once per
    // few bytes of file, however large the stated count.
    tiff.values(offsets)?;
    let Some(counts) = counts else {
        // Old writers omit the byte counts of a single uncompressed strip.
        let start = tiff.value(offsets, offsets.count - 1)?;
        return bytes.end_of(start as usize, 1).map(|_| ());
    };
    if counts.count != offsets.count {
        return Err(bytes.malformed("strip tables disagree"));
    }
    tiff.values(counts)?;
    for i in 0..offsets.count {
        let start = tiff.value(offsets, i)? as usize;
        let len = tiff.value(counts, i)?;
        bytes.end_of(start, u64::from(len))?;
    }
    Ok(())
}

/// The orientation in an EXIF block (a TIFF structure), if it has a readable one. EXIF is
/// optional metadata, so any problem in it means "no orientation", not an error.
pub(super) fn exif_orientation(bytes: Bytes<'_>) -> Option<u16> {
    let (tiff, ifd) = Tiff::open(bytes).ok()?;
    let entry = tiff.entries(ifd).ok()?.find(|e| e.tag == ORIENTATION)?;
    tiff.value(entry, 0)
        .ok()
        .and_then(|o| u16::try_from(o).ok())
}

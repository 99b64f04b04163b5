//! Bounds-checked reading of ISO-BMFF boxes: a cursor that fails instead of reading past the
//! end of its box, and an iterator over the boxes of a container.

use super::*;

/// A read cursor over one box body; every accessor fails instead of reading past the end.
pub(super) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(super) fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, pos: 0, what }
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], InspectError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(malformed(format!("'{}' box is too short", self.what)));
        };
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(super) fn skip(&mut self, n: usize) -> Result<(), InspectError> {
        self.bytes(n).map(|_| ())
    }

    pub(super) fn u8(&mut self) -> Result<u8, InspectError> {
        Ok(self.bytes(1)?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, InspectError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(super) fn u32(&mut self) -> Result<u32, InspectError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(super) fn u64(&mut self) -> Result<u64, InspectError> {
        let b = self.bytes(8)?;
        Ok(u64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    pub(super) fn fourcc(&mut self) -> Result<[u8; 4], InspectError> {
        let b = self.bytes(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }

    /// Full-box header: (version, flags).
    pub(super) fn version_flags(&mut self) -> Result<(u8, u32), InspectError> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }

    pub(super) fn rest(&self) -> &'a [u8] {
        &self.data[self.pos.min(self.data.len())..]
    }

    pub(super) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}

/// One box: its type, body (after the header) and absolute offsets for messages.
#[derive(Clone, Copy)]
pub(super) struct Atom<'a> {
    pub(super) kind: [u8; 4],
    pub(super) body: &'a [u8],
    /// Where the box starts.
    pub(super) offset: usize,
    /// Where its body starts.
    pub(super) base: usize,
}

pub(super) fn name(kind: &[u8; 4]) -> String {
    kind.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// Iterates the boxes packed in `data`. A box running past the end yields `Truncated`.
pub(super) struct Atoms<'a> {
    data: &'a [u8],
    pos: usize,
    /// Absolute offset of `data[0]`, for error messages.
    base: usize,
    /// Whether a short all-zero tail is accepted as padding (inside containers only: at the top
    /// level it is more likely the first bytes of a cut-off box).
    zero_tail_ok: bool,
    done: bool,
}

pub(super) fn atoms(data: &[u8], base: usize) -> Atoms<'_> {
    Atoms {
        data,
        pos: 0,
        base,
        zero_tail_ok: true,
        done: false,
    }
}

/// The boxes of a whole file: a short all-zero tail is not padding here but the first bytes of
/// a cut-off box.
pub(super) fn top_level_atoms(data: &[u8]) -> Atoms<'_> {
    Atoms {
        zero_tail_ok: false,
        ..atoms(data, 0)
    }
}

impl<'a> Iterator for Atoms<'a> {
    type Item = Result<Atom<'a>, InspectError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let offset = self.base + self.pos;
        let fail = |this: &mut Self, e: InspectError| {
            this.done = true;
            Some(Err(e))
        };
        if rest.len() < 8 {
            // Some writers pad containers with a 32-bit zero terminator; anything else is a cut.
            if self.zero_tail_ok && rest.iter().all(|&b| b == 0) {
                self.done = true;
                return None;
            }
            return fail(
                self,
                InspectError::Truncated(format!("incomplete box header at byte {offset}")),
            );
        }
        let size32 = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let kind = [rest[4], rest[5], rest[6], rest[7]];
        let (header, size) = match size32 {
            0 => (8usize, rest.len() as u64), // extends to the end of the enclosing data
            1 => {
                if rest.len() < 16 {
                    return fail(
                        self,
                        InspectError::Truncated(format!(
                            "incomplete '{}' header at byte {offset}",
                            name(&kind)
                        )),
                    );
                }
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[8..16]);
                (16usize, u64::from_be_bytes(b))
            }
            n => (8usize, u64::from(n)),
        };
        if size < header as u64 {
            return fail(
                self,
                malformed(format!(
                    "'{}' box at byte {offset} has invalid size {size}",
                    name(&kind)
                )),
            );
        }
        if size > rest.len() as u64 {
            return fail(
                self,
                InspectError::Truncated(format!(
                    "'{}' box at byte {offset} needs {size} bytes but only {} remain",
                    name(&kind),
                    rest.len()
                )),
            );
        }
        let size = size as usize; // fits: bounded by rest.len()
        self.pos += size;
        Some(Ok(Atom {
            kind,
            body: &rest[header..size],
            offset,
            base: offset + header,
        }))
    }
}

/// The first child of `kind` inside `data`, if any.
pub(super) fn find<'a>(
    data: &'a [u8],
    base: usize,
    kind: &[u8; 4],
) -> Result<Option<Atom<'a>>, InspectError> {
    for atom in atoms(data, base) {
        let atom = atom?;
        if &atom.kind == kind {
            return Ok(Some(atom));
        }
    }
    Ok(None)
}

/// Follows a path of containers, e.g. `[b"mdia", b"minf", b"stbl"]`.
pub(super) fn find_path<'a>(
    atom: Atom<'a>,
    path: &[&[u8; 4]],
) -> Result<Option<Atom<'a>>, InspectError> {
    let mut current = atom;
    for kind in path {
        match find(current.body, current.base, kind)? {
            Some(next) => current = next,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

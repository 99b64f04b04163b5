//! Bounds-checked reads at absolute offsets. Reading past the end is `Truncated`: in every
//! format here, a read past the end means the file stops before its own structure does.

use crate::{MediaFormat, ProbeError};

#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a> {
    pub data: &'a [u8],
    pub format: MediaFormat,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8], format: MediaFormat) -> Self {
        Self { data, format }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn truncated(&self) -> ProbeError {
        ProbeError::Truncated(self.format)
    }

    pub fn malformed(&self, reason: impl Into<String>) -> ProbeError {
        ProbeError::Malformed {
            format: self.format,
            reason: reason.into(),
        }
    }

    /// `len` bytes at `at`.
    pub fn slice(&self, at: usize, len: usize) -> Result<&'a [u8], ProbeError> {
        at.checked_add(len)
            .and_then(|end| self.data.get(at..end))
            .ok_or_else(|| self.truncated())
    }

    pub fn array<const N: usize>(&self, at: usize) -> Result<[u8; N], ProbeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(at, N)?);
        Ok(out)
    }

    pub fn u8(&self, at: usize) -> Result<u8, ProbeError> {
        self.data.get(at).copied().ok_or_else(|| self.truncated())
    }

    pub fn u16_be(&self, at: usize) -> Result<u16, ProbeError> {
        self.array(at).map(u16::from_be_bytes)
    }

    pub fn u16_le(&self, at: usize) -> Result<u16, ProbeError> {
        self.array(at).map(u16::from_le_bytes)
    }

    pub fn u24_le(&self, at: usize) -> Result<u32, ProbeError> {
        let [a, b, c] = self.array(at)?;
        Ok(u32::from_le_bytes([a, b, c, 0]))
    }

    pub fn u32_be(&self, at: usize) -> Result<u32, ProbeError> {
        self.array(at).map(u32::from_be_bytes)
    }

    pub fn u32_le(&self, at: usize) -> Result<u32, ProbeError> {
        self.array(at).map(u32::from_le_bytes)
    }

    /// `at + len`, or `Truncated` when that is past the end (or overflows).
    pub fn end_of(&self, at: usize, len: u64) -> Result<usize, ProbeError> {
        usize::try_from(len)
            .ok()
            .and_then(|len| at.checked_add(len))
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| self.truncated())
    }
}

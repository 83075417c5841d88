//! A lean cursor for the per-record hot loop: borrowed slices, one-byte varint fast paths.
//!
//! [`crate::wire::Reader`] does the same job for batch headers; records are read once per
//! record instead of once per batch, so this one avoids everything but the bounds checks.

use crate::error::{DecodeError, DecodeErrorKind};
use crate::wire::{unzigzag32, unzigzag64};

/// A position in a borrowed buffer; errors carry offsets from the buffer's start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at `pos` in `buf`.
    #[inline]
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        Cursor { buf, pos }
    }

    /// Offset of the next byte.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The bytes between `start` and the current position.
    #[inline]
    pub(crate) fn since(&self, start: usize) -> &'a [u8] {
        self.buf.get(start..self.pos).unwrap_or_default()
    }

    /// A cursor over the next `len` bytes only, starting here.
    #[inline]
    pub(crate) fn window(&self, len: usize, what: &'static str) -> Result<Self, DecodeError> {
        match self.pos.checked_add(len) {
            Some(end) if end <= self.buf.len() => Ok(Cursor {
                buf: self.buf.get(..end).unwrap_or_default(),
                pos: self.pos,
            }),
            _ => Err(self.invalid_length(what, len as i64)),
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn error(&self, what: &'static str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(what, self.pos, kind)
    }

    #[cold]
    #[inline(never)]
    fn invalid_length(&self, what: &'static str, length: i64) -> DecodeError {
        self.error(
            what,
            DecodeErrorKind::InvalidLength {
                length,
                remaining: self.remaining(),
            },
        )
    }

    /// Reads an int8.
    #[inline]
    pub(crate) fn i8(&mut self, what: &'static str) -> Result<i8, DecodeError> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b as i8)
            }
            None => Err(self.error(what, DecodeErrorKind::UnexpectedEnd { needed: 1 })),
        }
    }

    /// Reads an unsigned LEB128 value of at most `BITS` bits, as the wire module does: the
    /// last byte may only carry the bits that fit.
    #[inline(always)]
    fn leb128<const BITS: u32>(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let max_bytes = BITS.div_ceil(7) as usize;
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let mut value = 0u64;
        for i in 0..max_bytes {
            let Some(&b) = rest.get(i) else {
                return Err(self.error(what, DecodeErrorKind::UnexpectedEnd { needed: 1 }));
            };
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                if i + 1 == max_bytes && u32::from(b) >> (BITS - 7 * i as u32) != 0 {
                    break;
                }
                self.pos += i + 1;
                return Ok(value);
            }
        }
        Err(self.error(what, DecodeErrorKind::VarintTooLong))
    }

    /// Reads a zigzag varint.
    #[inline(always)]
    pub(crate) fn varint(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.leb128::<32>(what).map(|v| unzigzag32(v as u32))
    }

    /// Reads a zigzag varlong.
    #[inline(always)]
    pub(crate) fn varlong(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.leb128::<64>(what).map(unzigzag64)
    }

    /// Borrows the next `len` bytes.
    #[inline]
    pub(crate) fn slice(
        &mut self,
        len: usize,
        what: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        match start
            .checked_add(len)
            .and_then(|end| self.buf.get(start..end))
        {
            Some(s) => {
                self.pos += len;
                Ok(s)
            }
            None => Err(self.invalid_length(what, len as i64)),
        }
    }

    /// Reads varint-length-prefixed bytes; length -1 is null, other negatives are errors.
    #[inline]
    pub(crate) fn nullable_bytes(
        &mut self,
        what: &'static str,
    ) -> Result<Option<&'a [u8]>, DecodeError> {
        let len = self.varint(what)?;
        if len >= 0 {
            self.slice(len as usize, what).map(Some)
        } else if len == -1 {
            Ok(None)
        } else {
            Err(self.invalid_length(what, i64::from(len)))
        }
    }

    /// Reads varint-length-prefixed bytes that may not be null.
    #[inline]
    pub(crate) fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.varint(what)?;
        if len >= 0 {
            self.slice(len as usize, what)
        } else {
            Err(self.invalid_length(what, i64::from(len)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_fast_and_slow() {
        let buf = [0x02, 0xac, 0x02, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let mut c = Cursor::new(&buf, 0);
        assert_eq!(c.varint("a").unwrap(), 1);
        assert_eq!(c.varint("b").unwrap(), 150);
        assert_eq!(c.varlong("c").unwrap(), -1);
        assert_eq!(c.varlong("d").unwrap(), -34_359_738_368);
        assert_eq!(c.remaining(), 0);
        assert!(c.varint("e").is_err());
    }

    #[test]
    fn varints_match_the_wire_module() {
        let cases: [&[u8]; 7] = [
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0xff, 0xff, 0xff, 0xff, 0x1f],
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
            &[0x80],
            &[],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
        ];
        for buf in cases {
            let ours = Cursor::new(buf, 0).varint("v").ok();
            let wire = crate::wire::parse_uvarint(buf)
                .ok()
                .map(|(_, v)| unzigzag32(v));
            assert_eq!(ours, wire, "{buf:?}");
            let ours = Cursor::new(buf, 0).varlong("v").ok();
            let wire = crate::wire::parse_uvarlong(buf)
                .ok()
                .map(|(_, v)| unzigzag64(v));
            assert_eq!(ours, wire, "{buf:?}");
        }
    }

    #[test]
    fn lengths_are_checked() {
        let buf = [0x06, 1, 2];
        let mut c = Cursor::new(&buf, 0);
        let e = c.nullable_bytes("k").unwrap_err();
        assert!(matches!(
            e.kind,
            DecodeErrorKind::InvalidLength { length: 3, .. }
        ));
        let mut c = Cursor::new(&[0x03], 0);
        assert!(c.nullable_bytes("k").is_err());
        let mut c = Cursor::new(&[0x01], 0);
        assert_eq!(c.nullable_bytes("k").unwrap(), None);
        let mut c = Cursor::new(&[0x01], 0);
        assert!(c.bytes("k").is_err());
        let c = Cursor::new(&[1, 2, 3], 1);
        assert!(c.window(3, "w").is_err());
        assert_eq!(c.window(2, "w").unwrap().remaining(), 2);
    }
}

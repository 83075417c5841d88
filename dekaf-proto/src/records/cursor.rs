//! A lean cursor for the per-record hot loop: borrowed slices, one-byte varint fast paths.
//!
//! [`crate::wire::Reader`] does the same job for batch headers; records are read once per
//! record instead of once per batch, so this one avoids everything but the bounds checks.

use crate::error::{DecodeError, DecodeErrorKind};
use crate::wire::{parse_uvarint, parse_uvarlong, unzigzag32, unzigzag64, VarintError};

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

    pub(crate) fn error(&self, what: &'static str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(what, self.pos, kind)
    }

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

    /// Reads a zigzag varint.
    #[inline]
    pub(crate) fn varint(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(unzigzag32(u32::from(b)));
            }
        }
        self.varint_slow(what)
    }

    #[cold]
    fn varint_slow(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let r = parse_uvarint(rest).map(|(tail, v)| (tail.len(), unzigzag32(v)));
        self.finish_varint(what, rest.len(), r)
    }

    /// Reads a zigzag varlong.
    #[inline]
    pub(crate) fn varlong(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(unzigzag64(u64::from(b)));
            }
        }
        self.varlong_slow(what)
    }

    #[cold]
    fn varlong_slow(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let r = parse_uvarlong(rest).map(|(tail, v)| (tail.len(), unzigzag64(v)));
        self.finish_varint(what, rest.len(), r)
    }

    fn finish_varint<T>(
        &mut self,
        what: &'static str,
        had: usize,
        r: nom::IResult<usize, T, VarintError>,
    ) -> Result<T, DecodeError> {
        match r {
            Ok((left, v)) => {
                self.pos += had - left;
                Ok(v)
            }
            Err(
                nom::Err::Error(VarintError::TooLong) | nom::Err::Failure(VarintError::TooLong),
            ) => Err(self.error(what, DecodeErrorKind::VarintTooLong)),
            Err(_) => Err(self.error(what, DecodeErrorKind::UnexpectedEnd { needed: 1 })),
        }
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

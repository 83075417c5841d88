//! A cursor over one complete input, built on nom's `complete` parsers.

use bytes::Bytes;
use nom::number::complete as num;

use super::varint::{parse_uvarint, parse_uvarlong, unzigzag32, unzigzag64, VarintError};
use super::Uuid;
use crate::error::{DecodeError, DecodeErrorKind};

/// A cursor over a complete frame or record batch.
///
/// Every read names what it reads, so an error says what and where. Reads never look past
/// the end of the input (or of the sub-reader's window), and lengths are checked against the
/// bytes that remain before anything is allocated.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    src: &'a Bytes,
    pos: usize,
    end: usize,
}

type Nom<'a, T> = nom::IResult<&'a [u8], T, nom::error::Error<&'a [u8]>>;

impl<'a> Reader<'a> {
    /// A reader over all of `src`.
    pub fn new(src: &'a Bytes) -> Self {
        Reader {
            src,
            pos: 0,
            end: src.len(),
        }
    }

    /// Offset of the next byte, from the start of the input.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    /// The unread bytes, borrowed.
    pub fn rest(&self) -> &'a [u8] {
        &self.src[self.pos..self.end]
    }

    /// An error about `what` at the current offset.
    pub fn error(&self, what: &'static str, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(what, self.pos, kind)
    }

    /// Fails with `TrailingBytes` unless everything was read.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(what, DecodeErrorKind::TrailingBytes(self.remaining())))
        }
    }

    fn run<T>(
        &mut self,
        what: &'static str,
        width: usize,
        p: impl FnOnce(&'a [u8]) -> Nom<'a, T>,
    ) -> Result<T, DecodeError> {
        match p(self.rest()) {
            Ok((rest, v)) => {
                self.pos = self.end - rest.len();
                Ok(v)
            }
            Err(_) => Err(self.error(
                what,
                DecodeErrorKind::UnexpectedEnd {
                    needed: width - self.remaining(),
                },
            )),
        }
    }

    /// Reads an int8.
    pub fn i8(&mut self, what: &'static str) -> Result<i8, DecodeError> {
        self.run(what, 1, num::be_i8)
    }
    /// Reads an int16.
    pub fn i16(&mut self, what: &'static str) -> Result<i16, DecodeError> {
        self.run(what, 2, num::be_i16)
    }
    /// Reads an int32.
    pub fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.run(what, 4, num::be_i32)
    }
    /// Reads an int64.
    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.run(what, 8, num::be_i64)
    }
    /// Reads a uint8.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.run(what, 1, num::be_u8)
    }
    /// Reads a uint16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.run(what, 2, num::be_u16)
    }
    /// Reads a uint32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.run(what, 4, num::be_u32)
    }
    /// Reads a float64.
    pub fn f64(&mut self, what: &'static str) -> Result<f64, DecodeError> {
        self.run(what, 8, num::be_f64)
    }
    /// Reads a boolean: zero is false, anything else true (as Kafka's readers do).
    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        Ok(self.u8(what)? != 0)
    }
    /// Reads a UUID.
    pub fn uuid(&mut self, what: &'static str) -> Result<Uuid, DecodeError> {
        let b = self.slice(16, what)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Ok(Uuid(a))
    }

    fn varint_result<T>(
        &mut self,
        what: &'static str,
        r: nom::IResult<&'a [u8], T, VarintError>,
    ) -> Result<T, DecodeError> {
        match r {
            Ok((rest, v)) => {
                self.pos = self.end - rest.len();
                Ok(v)
            }
            Err(
                nom::Err::Error(VarintError::TooLong) | nom::Err::Failure(VarintError::TooLong),
            ) => Err(self.error(what, DecodeErrorKind::VarintTooLong)),
            Err(_) => Err(self.error(what, DecodeErrorKind::UnexpectedEnd { needed: 1 })),
        }
    }

    /// Reads an unsigned varint (at most 32 bits).
    pub fn uvarint(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let r = parse_uvarint(self.rest());
        self.varint_result(what, r)
    }
    /// Reads an unsigned varlong (at most 64 bits).
    pub fn uvarlong(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let r = parse_uvarlong(self.rest());
        self.varint_result(what, r)
    }
    /// Reads a zigzag varint.
    pub fn varint(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.uvarint(what).map(unzigzag32)
    }
    /// Reads a zigzag varlong.
    pub fn varlong(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.uvarlong(what).map(unzigzag64)
    }

    /// Checks a length read from the input against what remains; `Ok(len)` if it fits.
    pub fn check_len(&self, what: &'static str, len: i64) -> Result<usize, DecodeError> {
        if len < 0 || len as u64 > self.remaining() as u64 {
            return Err(self.error(
                what,
                DecodeErrorKind::InvalidLength {
                    length: len,
                    remaining: self.remaining(),
                },
            ));
        }
        Ok(len as usize)
    }

    /// Borrows the next `n` bytes.
    pub fn slice(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.error(
                what,
                DecodeErrorKind::UnexpectedEnd {
                    needed: n - self.remaining(),
                },
            ));
        }
        let s = &self.src[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Takes the next `n` bytes as a zero-copy slice of the input.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.slice(n, what)?;
        Ok(self.src.slice(start..start + n))
    }

    /// Splits off a reader over the next `n` bytes and skips them here.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, DecodeError> {
        let start = self.pos;
        self.slice(n, what)?;
        Ok(Reader {
            src: self.src,
            pos: start,
            end: start + n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_reports_offsets() {
        let src = Bytes::from_static(&[0, 1, 0, 0, 0, 2, 0xac, 0x02, 9]);
        let mut r = Reader::new(&src);
        assert_eq!(r.i16("a").unwrap(), 1);
        assert_eq!(r.i32("b").unwrap(), 2);
        assert_eq!(r.uvarint("c").unwrap(), 300);
        let e = r.i16("d").unwrap_err();
        assert_eq!(e.offset, 8);
        assert_eq!(e.what, "d");
        assert_eq!(e.kind, DecodeErrorKind::UnexpectedEnd { needed: 1 });
        assert_eq!(r.remaining(), 1);
    }

    #[test]
    fn lengths_are_checked_before_use() {
        let src = Bytes::from_static(&[1, 2, 3]);
        let r = Reader::new(&src);
        assert!(r.check_len("x", 4).is_err());
        assert!(r.check_len("x", -2).is_err());
        assert_eq!(r.check_len("x", 3).unwrap(), 3);
    }

    #[test]
    fn sub_reader_is_bounded() {
        let src = Bytes::from_static(&[1, 2, 3, 4]);
        let mut r = Reader::new(&src);
        let mut s = r.sub(2, "sub").unwrap();
        assert_eq!(s.i16("x").unwrap(), 0x0102);
        assert!(s.i8("y").is_err());
        assert_eq!(r.i16("z").unwrap(), 0x0304);
    }
}

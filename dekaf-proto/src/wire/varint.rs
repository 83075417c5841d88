//! Unsigned LEB128 varints and their zigzag-encoded signed forms.

use bytes::BufMut;
use nom::IResult;

/// Why a varint could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The input ended inside the varint.
    Incomplete,
    /// More continuation bytes than the type can hold.
    TooLong,
}

impl<'a> nom::error::ParseError<&'a [u8]> for VarintError {
    fn from_error_kind(_: &'a [u8], _: nom::error::ErrorKind) -> Self {
        VarintError::Incomplete
    }
    fn append(_: &'a [u8], _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

fn parse_leb128(input: &[u8], bits: u32) -> IResult<&[u8], u64, VarintError> {
    let max_bytes = bits.div_ceil(7) as usize;
    let mut value = 0u64;
    for (i, &byte) in input.iter().enumerate().take(max_bytes) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // The last byte may only use the bits that fit the type.
            if i + 1 == max_bytes && u32::from(byte) >> (bits - 7 * i as u32) != 0 {
                return Err(nom::Err::Error(VarintError::TooLong));
            }
            return Ok((&input[i + 1..], value));
        }
    }
    if input.len() >= max_bytes {
        Err(nom::Err::Error(VarintError::TooLong))
    } else {
        Err(nom::Err::Error(VarintError::Incomplete))
    }
}

/// Parses an unsigned varint of at most 32 bits.
pub(crate) fn parse_uvarint(input: &[u8]) -> IResult<&[u8], u32, VarintError> {
    let (rest, v) = parse_leb128(input, 32)?;
    match u32::try_from(v) {
        Ok(v) => Ok((rest, v)),
        Err(_) => Err(nom::Err::Error(VarintError::TooLong)),
    }
}

/// Parses an unsigned varint of at most 64 bits.
pub(crate) fn parse_uvarlong(input: &[u8]) -> IResult<&[u8], u64, VarintError> {
    parse_leb128(input, 64)
}

/// Writes `v` as an unsigned varint.
pub fn put_uvarint(buf: &mut impl BufMut, v: u32) {
    put_uvarlong(buf, u64::from(v));
}

/// Writes `v` as an unsigned varlong.
pub fn put_uvarlong(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes `v` as a zigzag varint.
pub fn put_varint(buf: &mut impl BufMut, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

/// Writes `v` as a zigzag varlong.
pub fn put_varlong(buf: &mut impl BufMut, v: i64) {
    put_uvarlong(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// The number of bytes `put_uvarint(v)` writes.
pub fn uvarint_len(v: u32) -> usize {
    uvarlong_len(u64::from(v))
}

fn uvarlong_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// The number of bytes `put_varint(v)` writes.
pub fn varint_len(v: i32) -> usize {
    uvarint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// The number of bytes `put_varlong(v)` writes.
pub fn varlong_len(v: i64) -> usize {
    uvarlong_len(((v << 1) ^ (v >> 63)) as u64)
}

/// Decodes a zigzag-encoded 32-bit value.
pub(crate) fn unzigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// Decodes a zigzag-encoded 64-bit value.
pub(crate) fn unzigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn uvarint_round_trips(v: u32) {
            let mut buf = Vec::new();
            put_uvarint(&mut buf, v);
            prop_assert_eq!(buf.len(), uvarint_len(v));
            let (rest, back) = parse_uvarint(&buf).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back, v);
        }

        #[test]
        fn varlong_round_trips(v: i64) {
            let mut buf = Vec::new();
            put_varlong(&mut buf, v);
            prop_assert_eq!(buf.len(), varlong_len(v));
            let (rest, back) = parse_uvarlong(&buf).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(unzigzag64(back), v);
        }

        #[test]
        fn varint_round_trips(v: i32) {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            prop_assert_eq!(buf.len(), varint_len(v));
            let (_, back) = parse_uvarint(&buf).unwrap();
            prop_assert_eq!(unzigzag32(back), v);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let _ = parse_uvarint(&bytes);
            let _ = parse_uvarlong(&bytes);
        }
    }

    #[test]
    fn known_encodings() {
        let mut buf = Vec::new();
        put_varint(&mut buf, -1);
        put_varint(&mut buf, 1);
        put_uvarint(&mut buf, 300);
        assert_eq!(buf, [0x01, 0x02, 0xac, 0x02]);
    }

    #[test]
    fn overlong_is_rejected() {
        assert_eq!(
            parse_uvarint(&[0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(nom::Err::Error(VarintError::TooLong))
        );
        assert_eq!(
            parse_uvarint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
            Err(nom::Err::Error(VarintError::TooLong))
        );
        assert_eq!(
            parse_uvarint(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap().1,
            u32::MAX
        );
        assert_eq!(
            parse_uvarint(&[0x80]),
            Err(nom::Err::Error(VarintError::Incomplete))
        );
    }
}

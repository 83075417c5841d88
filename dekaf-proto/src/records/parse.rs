//! Reading one record's fields: a lean path for well-formed bytes, and a detailed one that
//! runs only to explain why the lean path failed.
//!
//! The lean path answers `None` on any problem, which keeps the hot loop free of error
//! values; the detailed path makes the same checks in the same order through [`Cursor`] and
//! says what was wrong and where. A test holds the two to the same verdicts.

use super::cursor::Cursor;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::wire::{unzigzag32, unzigzag64};

/// One record's fields, borrowed from the batch's record bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fields<'a> {
    pub(crate) attributes: i8,
    pub(crate) timestamp_delta: i64,
    pub(crate) offset_delta: i32,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: Option<&'a [u8]>,
    pub(crate) header_count: u32,
    /// The headers' bytes, already checked.
    pub(crate) headers: &'a [u8],
    /// Where the next record starts.
    pub(crate) end: usize,
}

/// An unsigned LEB128 value of at most `BITS` bits (the last byte may only carry the bits
/// that fit, as in the wire module).
#[inline(always)]
fn uleb<const BITS: u32>(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let max_bytes = BITS.div_ceil(7) as usize;
    let rest = buf.get(*pos..)?;
    let first = *rest.first()?;
    if first < 0x80 {
        *pos += 1;
        return Some(u64::from(first));
    }
    let mut value = u64::from(first & 0x7f);
    for i in 1..max_bytes {
        let b = *rest.get(i)?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            if i + 1 == max_bytes && u32::from(b) >> (BITS - 7 * i as u32) != 0 {
                return None;
            }
            *pos += i + 1;
            return Some(value);
        }
    }
    None
}

#[inline(always)]
fn varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    uleb::<32>(buf, pos).map(|v| unzigzag32(v as u32))
}

#[inline(always)]
fn varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    uleb::<64>(buf, pos).map(unzigzag64)
}

/// `len` bytes at `pos`, for a length already known to be non-negative.
#[inline(always)]
fn take<'a>(buf: &'a [u8], pos: &mut usize, len: i32) -> Option<&'a [u8]> {
    let start = *pos;
    let end = start.checked_add(len as usize)?;
    let s = buf.get(start..end)?;
    *pos = end;
    Some(s)
}

/// Varint-length-prefixed bytes; -1 is null (`Some(None)`), other negatives fail.
#[inline(always)]
fn nullable<'a>(buf: &'a [u8], pos: &mut usize) -> Option<Option<&'a [u8]>> {
    let len = varint(buf, pos)?;
    if len >= 0 {
        take(buf, pos, len).map(Some)
    } else if len == -1 {
        Some(None)
    } else {
        None
    }
}

/// Reads the record at `pos`, or `None` if anything is wrong with it.
#[inline(always)]
pub(crate) fn read_fast(buf: &[u8], mut pos: usize) -> Option<Fields<'_>> {
    let len = varint(buf, &mut pos)?;
    if len < 0 {
        return None;
    }
    let end = pos.checked_add(len as usize)?;
    let body = buf.get(..end)?;
    let attributes = *body.get(pos)? as i8;
    pos += 1;
    let timestamp_delta = varlong(body, &mut pos)?;
    let offset_delta = varint(body, &mut pos)?;
    let key = nullable(body, &mut pos)?;
    let value = nullable(body, &mut pos)?;
    let header_count = varint(body, &mut pos)?;
    if header_count < 0 {
        return None;
    }
    let headers_start = pos;
    for _ in 0..header_count {
        let key_len = varint(body, &mut pos)?;
        if key_len < 0 {
            return None;
        }
        take(body, &mut pos, key_len)?;
        nullable(body, &mut pos)?;
    }
    if pos != end {
        return None;
    }
    Some(Fields {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        header_count: header_count as u32,
        headers: body.get(headers_start..end)?,
        end,
    })
}

/// Reads the record at `pos` step by step, saying what is wrong if anything is.
pub(crate) fn read_detailed(buf: &[u8], pos: usize) -> Result<Fields<'_>, DecodeError> {
    let mut c = Cursor::new(buf, pos);
    let len = c.varint("Record.length")?;
    if len < 0 {
        return Err(c.error(
            "Record.length",
            DecodeErrorKind::InvalidLength {
                length: i64::from(len),
                remaining: c.remaining(),
            },
        ));
    }
    let mut body = c.window(len as usize, "Record.length")?;
    let attributes = body.i8("Record.attributes")?;
    let timestamp_delta = body.varlong("Record.timestampDelta")?;
    let offset_delta = body.varint("Record.offsetDelta")?;
    let key = body.nullable_bytes("Record.key")?;
    let value = body.nullable_bytes("Record.value")?;
    let header_count = body.varint("Record.headersCount")?;
    if header_count < 0 {
        return Err(body.error(
            "Record.headersCount",
            DecodeErrorKind::InvalidLength {
                length: i64::from(header_count),
                remaining: body.remaining(),
            },
        ));
    }
    let headers_start = body.pos();
    for _ in 0..header_count {
        body.bytes("Record.headerKey")?;
        body.nullable_bytes("Record.headerValue")?;
    }
    if body.remaining() != 0 {
        return Err(body.error(
            "Record.length",
            DecodeErrorKind::TrailingBytes(body.remaining()),
        ));
    }
    Ok(Fields {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        header_count: header_count as u32,
        headers: body.since(headers_start),
        end: body.pos(),
    })
}

/// Why the lean path failed at `pos`.
#[cold]
#[inline(never)]
pub(crate) fn explain(buf: &[u8], pos: usize) -> DecodeError {
    match read_detailed(buf, pos) {
        Err(e) => e,
        // The two paths agree (see the tests); this is only a safe answer if they ever did not.
        Ok(_) => DecodeError::new("Record", pos, DecodeErrorKind::InvalidValue(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A plausible record: length, then fields drawn from a few shapes.
    fn record_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(0u8),
                Just(1),
                Just(2),
                Just(0x7f),
                Just(0x80),
                Just(0xff),
                any::<u8>()
            ],
            0..40,
        )
    }

    /// The record bytes of a valid batch of one record, with a few bytes changed.
    fn damaged_record() -> impl Strategy<Value = Vec<u8>> {
        let header = (
            proptest::collection::vec(any::<u8>(), 0..4),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..4)),
        );
        let record = (
            any::<i64>(),
            any::<i32>(),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
            proptest::collection::vec(header, 0..3),
        );
        let edits =
            proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..3);
        (record, edits).prop_map(|((ts, off, value, headers), edits)| {
            let mut b = crate::records::RecordBatchBuilder::new();
            b.push(crate::records::OwnedRecord {
                offset_delta: off,
                timestamp_delta: ts,
                value: value.map(Into::into),
                headers: headers
                    .into_iter()
                    .map(|(k, v)| crate::records::OwnedHeader {
                        key: k.into(),
                        value: v.map(Into::into),
                    })
                    .collect(),
                ..Default::default()
            });
            let mut bytes = b.build().unwrap()[crate::records::BATCH_HEADER_LEN..].to_vec();
            for (at, v) in edits {
                let i = at.index(bytes.len());
                bytes[i] = v;
            }
            bytes
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn both_paths_agree(bytes in record_bytes(), pos in 0usize..3) {
            let fast = read_fast(&bytes, pos);
            let detailed = read_detailed(&bytes, pos);
            prop_assert_eq!(fast, detailed.clone().ok(), "{:?}", detailed);
        }

        #[test]
        fn both_paths_agree_on_damaged_records(bytes in damaged_record()) {
            let fast = read_fast(&bytes, 0);
            let detailed = read_detailed(&bytes, 0);
            prop_assert_eq!(fast, detailed.clone().ok(), "{:?}", detailed);
        }
    }

    #[test]
    fn a_well_formed_record_reads_the_same_both_ways() {
        // length 11: attributes 0, ts delta -1, offset delta 1, key "k", null value,
        // one header "h" => "v".
        let bytes = [22, 0, 1, 2, 2, b'k', 1, 2, 2, b'h', 2, b'v'];
        let f = read_fast(&bytes, 0).unwrap();
        assert_eq!(read_detailed(&bytes, 0).unwrap(), f);
        assert_eq!(
            (f.timestamp_delta, f.offset_delta, f.key, f.value),
            (-1, 1, Some(&b"k"[..]), None)
        );
        assert_eq!(
            (f.header_count, f.headers, f.end),
            (1, &[2, b'h', 2, b'v'][..], 12)
        );
    }
}

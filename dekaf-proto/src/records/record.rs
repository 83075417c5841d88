//! Records read lazily out of a batch, as borrowed views.

use std::fmt;

use bytes::Bytes;

use super::cursor::Cursor;
use super::owned::{OwnedHeader, OwnedRecord};
use super::parse;
use crate::error::{DecodeError, DecodeErrorKind};

/// One record of a batch, borrowed from the batch's (decompressed) record bytes.
///
/// Reading a record allocates nothing and touches no reference count: key, value and header
/// values are `&[u8]` into the batch. When a value must outlive the batch, the `*_bytes`
/// methods give a [`Bytes`] that shares the batch's buffer (no copy), and
/// [`Record::into_owned`] gives an [`OwnedRecord`].
#[derive(Clone, Copy)]
pub struct Record<'a> {
    src: &'a Bytes,
    offset: i64,
    timestamp: i64,
    timestamp_delta: i64,
    offset_delta: i32,
    attributes: i8,
    header_count: u32,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: &'a [u8],
}

impl<'a> Record<'a> {
    /// The record's offset in its partition: the batch's base offset plus the offset delta.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The record's timestamp in milliseconds: the batch's base timestamp plus the delta, or
    /// the batch's max timestamp when the batch uses log-append time.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The offset delta as written, relative to the batch's base offset.
    pub fn offset_delta(&self) -> i32 {
        self.offset_delta
    }

    /// The timestamp delta as written, relative to the batch's base timestamp.
    pub fn timestamp_delta(&self) -> i64 {
        self.timestamp_delta
    }

    /// The record's attributes byte (Kafka defines no bits in it yet).
    pub fn attributes(&self) -> i8 {
        self.attributes
    }

    /// The key, or `None` for a null key.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.key
    }

    /// The value, or `None` for a null value (a tombstone on compacted topics).
    pub fn value(&self) -> Option<&'a [u8]> {
        self.value
    }

    /// The key as a [`Bytes`] sharing the batch's buffer.
    pub fn key_bytes(&self) -> Option<Bytes> {
        self.key.map(|k| self.src.slice_ref(k))
    }

    /// The value as a [`Bytes`] sharing the batch's buffer.
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.value.map(|v| self.src.slice_ref(v))
    }

    /// How many headers the record has.
    pub fn header_count(&self) -> usize {
        self.header_count as usize
    }

    /// The headers, in order (keys may repeat).
    pub fn headers(&self) -> Headers<'a> {
        Headers {
            src: self.src,
            cursor: Cursor::new(self.headers, 0),
            left: self.header_count,
        }
    }

    /// An owned copy whose byte fields share the batch's buffer.
    pub fn into_owned(self) -> OwnedRecord {
        OwnedRecord {
            offset_delta: self.offset_delta,
            timestamp_delta: self.timestamp_delta,
            attributes: self.attributes,
            key: self.key_bytes(),
            value: self.value_bytes(),
            headers: self.headers().map(Header::into_owned).collect(),
        }
    }
}

impl fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("offset", &self.offset)
            .field("timestamp", &self.timestamp)
            .field("attributes", &self.attributes)
            .field("key", &self.key.map(Bytes::copy_from_slice))
            .field("value", &self.value.map(Bytes::copy_from_slice))
            .field("headers", &self.headers().collect::<Vec<_>>())
            .finish()
    }
}

/// One record header, borrowed from the batch.
#[derive(Clone, Copy)]
pub struct Header<'a> {
    src: &'a Bytes,
    key: &'a [u8],
    value: Option<&'a [u8]>,
}

impl<'a> Header<'a> {
    /// The key's bytes (Kafka means them as UTF-8, but does not check).
    pub fn key(&self) -> &'a [u8] {
        self.key
    }

    /// The key as text, or `None` if it is not UTF-8.
    pub fn key_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.key).ok()
    }

    /// The value, or `None` for a null value.
    pub fn value(&self) -> Option<&'a [u8]> {
        self.value
    }

    /// The value as a [`Bytes`] sharing the batch's buffer.
    pub fn value_bytes(&self) -> Option<Bytes> {
        self.value.map(|v| self.src.slice_ref(v))
    }

    /// An owned copy sharing the batch's buffer.
    pub fn into_owned(self) -> OwnedHeader {
        OwnedHeader {
            key: self.src.slice_ref(self.key),
            value: self.value_bytes(),
        }
    }
}

impl fmt::Debug for Header<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("key", &Bytes::copy_from_slice(self.key))
            .field("value", &self.value.map(Bytes::copy_from_slice))
            .finish()
    }
}

/// The headers of one record, in order.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    src: &'a Bytes,
    cursor: Cursor<'a>,
    left: u32,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The headers were checked when the record was read, so this cannot fail; stopping
        // is the safe answer if it ever did.
        let key = self.cursor.bytes("Record.headerKey").ok();
        let value = self.cursor.nullable_bytes("Record.headerValue").ok();
        match (key, value) {
            (Some(key), Some(value)) => Some(Header {
                src: self.src,
                key,
                value,
            }),
            _ => {
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// What a batch tells its records: where offsets and timestamps count from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordBase {
    pub(crate) base_offset: i64,
    pub(crate) base_timestamp: i64,
    /// The batch's max timestamp when it uses log-append time.
    pub(crate) log_append_time: Option<i64>,
}

/// The records of one batch, read one at a time.
///
/// Each record is checked as it is read: its length must match its fields, and lengths may
/// not run past the batch. After the batch's `records_count` records, leftover bytes are an
/// error. The first error ends the iteration; its offset counts from the start of the
/// batch's record bytes ([`RecordBatch::record_bytes`](super::RecordBatch::record_bytes)).
#[derive(Debug, Clone)]
pub struct Records<'a> {
    src: &'a Bytes,
    pos: usize,
    left: u32,
    base: RecordBase,
    failed: bool,
}

/// Where an iteration over a batch's records stands: taken with [`Records::cursor`], resumed
/// with [`RecordBatch::records_at`](super::RecordBatch::records_at), so that a reader can
/// hand records out a few at a time without holding the iterator (which borrows the batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordCursor {
    pos: usize,
    left: u32,
    failed: bool,
}

impl<'a> Records<'a> {
    pub(crate) fn new(src: &'a Bytes, count: u32, base: RecordBase) -> Self {
        Records {
            src,
            pos: 0,
            left: count,
            base,
            failed: false,
        }
    }

    /// Resumes at `cursor` (from the same batch; from another, reading fails or yields what
    /// those bytes hold, never panics).
    pub(crate) fn resume(src: &'a Bytes, cursor: RecordCursor, base: RecordBase) -> Self {
        Records {
            src,
            pos: cursor.pos,
            left: cursor.left,
            base,
            failed: cursor.failed,
        }
    }

    /// Where the iteration stands: the next record to read.
    pub fn cursor(&self) -> RecordCursor {
        RecordCursor {
            pos: self.pos,
            left: self.left,
            failed: self.failed,
        }
    }

    #[inline(always)]
    fn read(&mut self) -> Result<Record<'a>, DecodeError> {
        let src: &'a Bytes = self.src;
        let Some(f) = parse::read_fast(src, self.pos) else {
            return Err(parse::explain(src, self.pos));
        };
        self.pos = f.end;
        let timestamp = match self.base.log_append_time {
            Some(t) => t,
            None => self.base.base_timestamp.wrapping_add(f.timestamp_delta),
        };
        Ok(Record {
            src,
            offset: self
                .base
                .base_offset
                .wrapping_add(i64::from(f.offset_delta)),
            timestamp,
            timestamp_delta: f.timestamp_delta,
            offset_delta: f.offset_delta,
            attributes: f.attributes,
            header_count: f.header_count,
            key: f.key,
            value: f.value,
            headers: f.headers,
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, DecodeError>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            if self.failed || self.pos >= self.src.len() {
                return None;
            }
            self.failed = true;
            let extra = self.src.len() - self.pos;
            return Some(Err(DecodeError::new(
                "RecordBatch.records",
                self.pos,
                DecodeErrorKind::TrailingBytes(extra),
            )));
        }
        match self.read() {
            Ok(r) => {
                self.left -= 1;
                Some(Ok(r))
            }
            Err(e) => {
                self.left = 0;
                self.failed = true;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize + 1))
    }
}

impl std::iter::FusedIterator for Records<'_> {}

//! Records as owned values: what a builder takes and what a view turns into.

use bytes::Bytes;

/// A record with owned fields, positioned by deltas from its batch's base offset and timestamp.
///
/// [`Record::into_owned`](super::Record::into_owned) makes one from a decoded record;
/// [`RecordBatchBuilder::push`](super::RecordBatchBuilder::push) writes one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnedRecord {
    /// Offset relative to the batch's base offset.
    pub offset_delta: i32,
    /// Timestamp relative to the batch's base timestamp, in milliseconds (may be negative).
    pub timestamp_delta: i64,
    /// The record's attributes byte (0: Kafka defines no bits in it yet).
    pub attributes: i8,
    /// The key, `None` for null.
    pub key: Option<Bytes>,
    /// The value, `None` for null.
    pub value: Option<Bytes>,
    /// Headers, in order; keys may repeat.
    pub headers: Vec<OwnedHeader>,
}

/// A record header with owned fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnedHeader {
    /// The key; Kafka means it as UTF-8.
    pub key: Bytes,
    /// The value, `None` for null.
    pub value: Option<Bytes>,
}

impl OwnedHeader {
    /// A header from a text key and an optional value.
    pub fn new(key: impl Into<String>, value: Option<Bytes>) -> Self {
        OwnedHeader {
            key: Bytes::from(key.into()),
            value,
        }
    }
}

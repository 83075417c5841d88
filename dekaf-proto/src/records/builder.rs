//! Writing record batches.

use bytes::{BufMut, Bytes, BytesMut};

use super::attributes::{BatchAttributes, Compression, TimestampType};
use super::compression;
use super::control::ControlRecord;
use super::header::{
    crc32c, BatchHeader, ATTRIBUTES_OFFSET, BATCH_HEADER_LEN, CRC_OFFSET, LOG_OVERHEAD, MAGIC,
};
use super::owned::{OwnedHeader, OwnedRecord};
use crate::error::EncodeError;
use crate::wire::{put_varint, put_varlong, varint_len, varlong_len};

/// Kafka's "none" for producer ids, epochs, sequences and leader epochs.
const NONE: i32 = -1;
/// Kafka's "no timestamp".
const NO_TIMESTAMP: i64 = -1;

/// Builds one record batch (magic 2).
///
/// Configure the batch with the by-value setters, add records with [`append`] (absolute
/// timestamps, consecutive offsets) or [`push`] (deltas as on the wire), then [`build`].
/// Unless set, the base timestamp is the first appended record's timestamp (-1 for an empty
/// batch), the max timestamp and the last offset delta follow from the records, and the
/// producer id, epoch and base sequence are -1 (no idempotence).
///
/// [`append`]: RecordBatchBuilder::append
/// [`push`]: RecordBatchBuilder::push
/// [`build`]: RecordBatchBuilder::build
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    base_offset: i64,
    partition_leader_epoch: i32,
    attributes: BatchAttributes,
    base_timestamp: Option<i64>,
    max_timestamp: Option<i64>,
    last_offset_delta: Option<i32>,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    records: Vec<OwnedRecord>,
}

impl Default for RecordBatchBuilder {
    fn default() -> Self {
        RecordBatchBuilder {
            base_offset: 0,
            partition_leader_epoch: NONE,
            attributes: BatchAttributes::default(),
            base_timestamp: None,
            max_timestamp: None,
            last_offset_delta: None,
            producer_id: i64::from(NONE),
            producer_epoch: NONE as i16,
            base_sequence: NONE,
            records: Vec::new(),
        }
    }
}

impl RecordBatchBuilder {
    /// An empty, uncompressed, non-transactional batch at offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// A control batch holding one transaction marker, written at `timestamp`.
    ///
    /// Set the producer with [`RecordBatchBuilder::producer`]: the marker belongs to that
    /// producer's transaction.
    pub fn transaction_marker(marker: ControlRecord, timestamp: i64) -> Self {
        let mut b = Self::new().control(true).transactional(true);
        b.base_timestamp = Some(timestamp);
        b.push(marker.to_record());
        b
    }

    /// Sets the offset of the first record (producers send 0; the broker assigns offsets).
    pub fn base_offset(mut self, offset: i64) -> Self {
        self.base_offset = offset;
        self
    }

    /// Sets the partition leader epoch (producers send -1).
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Sets the codec; a codec whose feature is off makes [`build`](Self::build) fail.
    pub fn compression(mut self, codec: Compression) -> Self {
        self.attributes = self.attributes.with_compression(codec);
        self
    }

    /// Sets what the timestamps mean.
    pub fn timestamp_type(mut self, t: TimestampType) -> Self {
        self.attributes = self.attributes.with_timestamp_type(t);
        self
    }

    /// Marks the batch as part of a transaction.
    pub fn transactional(mut self, on: bool) -> Self {
        self.attributes = self.attributes.with_transactional(on);
        self
    }

    /// Marks the batch as holding control records.
    pub fn control(mut self, on: bool) -> Self {
        self.attributes = self.attributes.with_control(on);
        self
    }

    /// Marks the base timestamp as a compaction delete horizon.
    pub fn delete_horizon(mut self, on: bool) -> Self {
        self.attributes = self.attributes.with_delete_horizon(on);
        self
    }

    /// Sets the idempotent producer's id and epoch and the first record's sequence number.
    pub fn producer(mut self, id: i64, epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = id;
        self.producer_epoch = epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Sets the base timestamp that record timestamp deltas count from.
    pub fn base_timestamp(mut self, timestamp: i64) -> Self {
        self.base_timestamp = Some(timestamp);
        self
    }

    /// Sets the max timestamp instead of taking the records' largest (e.g. the log-append
    /// time).
    pub fn max_timestamp(mut self, timestamp: i64) -> Self {
        self.max_timestamp = Some(timestamp);
        self
    }

    /// Sets the last offset delta instead of taking the records' largest (e.g. for a batch
    /// that compaction emptied).
    pub fn last_offset_delta(mut self, delta: i32) -> Self {
        self.last_offset_delta = Some(delta);
        self
    }

    /// Adds a record at the next offset with an absolute `timestamp`; the first one sets the
    /// base timestamp unless it was set before.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<Bytes>,
        value: Option<Bytes>,
        headers: Vec<OwnedHeader>,
    ) -> &mut Self {
        let base = *self.base_timestamp.get_or_insert(timestamp);
        let offset_delta = self
            .records
            .last()
            .map_or(0, |r| r.offset_delta.wrapping_add(1));
        self.push(OwnedRecord {
            offset_delta,
            timestamp_delta: timestamp.wrapping_sub(base),
            attributes: 0,
            key,
            value,
            headers,
        })
    }

    /// Adds a record as given, its deltas relative to the base offset and base timestamp.
    pub fn push(&mut self, record: OwnedRecord) -> &mut Self {
        self.records.push(record);
        self
    }

    /// Number of records so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The batch's bytes.
    pub fn build(&self) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::new();
        self.encode(&mut out)?;
        Ok(out.freeze())
    }

    /// Appends the batch to `out` (left as it was on error).
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        let result = self.encode_unchecked(out, start);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn encode_unchecked(&self, out: &mut BytesMut, start: usize) -> Result<(), EncodeError> {
        let records_count = len_i32(self.records.len(), "RecordBatch.records")?;
        let base_timestamp = self.base_timestamp.unwrap_or(NO_TIMESTAMP);
        let max_timestamp = self.max_timestamp.unwrap_or_else(|| {
            self.records
                .iter()
                .map(|r| base_timestamp.wrapping_add(r.timestamp_delta))
                .max()
                .unwrap_or(base_timestamp)
        });
        let last_offset_delta = self.last_offset_delta.unwrap_or_else(|| {
            self.records
                .iter()
                .map(|r| r.offset_delta)
                .max()
                .unwrap_or(0)
        });
        let estimate: usize = self.records.iter().map(estimated_len).sum();
        out.reserve(BATCH_HEADER_LEN + estimate);
        out.put_bytes(0, BATCH_HEADER_LEN);
        match self.attributes.compression().unwrap_or_default() {
            Compression::None => {
                for r in &self.records {
                    write_record(out, r)?;
                }
            }
            codec => {
                let mut raw = Vec::with_capacity(estimate);
                for r in &self.records {
                    write_record(&mut raw, r)?;
                }
                let mut packed = Vec::new();
                compression::compress(codec, &raw, &mut packed)?;
                out.extend_from_slice(&packed);
            }
        }
        let batch_length = len_i32(out.len() - start - LOG_OVERHEAD, "RecordBatch")?;
        let header = BatchHeader {
            base_offset: self.base_offset,
            batch_length,
            partition_leader_epoch: self.partition_leader_epoch,
            magic: MAGIC,
            crc: 0,
            attributes: self.attributes,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            records_count,
        };
        let batch = out.get_mut(start..).unwrap_or_default();
        if let Some(mut slot) = batch.get_mut(..BATCH_HEADER_LEN) {
            header.write(&mut slot);
        }
        let crc = crc32c(batch.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
        if let Some(slot) = batch.get_mut(CRC_OFFSET..ATTRIBUTES_OFFSET) {
            slot.copy_from_slice(&crc.to_be_bytes());
        }
        Ok(())
    }
}

/// `len` as an int32 length prefix, or `TooLong`.
fn len_i32(len: usize, field: &'static str) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError::TooLong { field, len })
}

/// Bytes a nullable field takes: its varint length prefix and its data.
fn nullable_len(b: Option<&Bytes>, field: &'static str) -> Result<usize, EncodeError> {
    Ok(match b {
        Some(b) => varint_len(len_i32(b.len(), field)?) + b.len(),
        None => varint_len(-1),
    })
}

fn put_nullable(buf: &mut impl BufMut, b: Option<&Bytes>) {
    match b {
        Some(b) => {
            put_varint(buf, b.len() as i32);
            buf.put_slice(b);
        }
        None => put_varint(buf, -1),
    }
}

/// A cheap upper-bound guess at a record's size, for reserving.
fn estimated_len(r: &OwnedRecord) -> usize {
    let bytes = |b: &Option<Bytes>| b.as_ref().map_or(0, Bytes::len) + 5;
    let headers: usize = r
        .headers
        .iter()
        .map(|h| h.key.len() + 5 + bytes(&h.value))
        .sum();
    5 + 1 + 10 + 5 + bytes(&r.key) + bytes(&r.value) + 5 + headers
}

/// Writes one record: its length, then its fields.
fn write_record(buf: &mut impl BufMut, r: &OwnedRecord) -> Result<(), EncodeError> {
    let mut len = 1
        + varlong_len(r.timestamp_delta)
        + varint_len(r.offset_delta)
        + nullable_len(r.key.as_ref(), "Record.key")?
        + nullable_len(r.value.as_ref(), "Record.value")?
        + varint_len(len_i32(r.headers.len(), "Record.headers")?);
    for h in &r.headers {
        len += varint_len(len_i32(h.key.len(), "Record.headerKey")?) + h.key.len();
        len += nullable_len(h.value.as_ref(), "Record.headerValue")?;
    }
    put_varint(buf, len_i32(len, "Record")?);
    buf.put_i8(r.attributes);
    put_varlong(buf, r.timestamp_delta);
    put_varint(buf, r.offset_delta);
    put_nullable(buf, r.key.as_ref());
    put_nullable(buf, r.value.as_ref());
    put_varint(buf, r.headers.len() as i32);
    for h in &r.headers {
        put_varint(buf, h.key.len() as i32);
        buf.put_slice(&h.key);
        put_nullable(buf, h.value.as_ref());
    }
    Ok(())
}

//! The fixed 61-byte header in front of every record batch.

use bytes::BufMut;

use super::attributes::BatchAttributes;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::wire::Reader;

/// Bytes of the header, from `base_offset` to `records_count` inclusive.
pub const BATCH_HEADER_LEN: usize = 61;
/// Bytes before `batch_length` counts: `base_offset` and `batch_length` themselves.
pub(crate) const LOG_OVERHEAD: usize = 12;
/// Smallest valid `batch_length`: the rest of the header, with no records.
pub(crate) const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;
/// Where the magic byte sits.
pub(crate) const MAGIC_OFFSET: usize = 16;
/// Where the CRC sits.
pub(crate) const CRC_OFFSET: usize = 17;
/// Where the CRC-covered bytes start (the attributes).
pub(crate) const ATTRIBUTES_OFFSET: usize = 21;
/// The only batch format this crate reads and writes.
pub const MAGIC: i8 = 2;

/// A record batch's header fields, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchHeader {
    /// Offset of the batch's first record; each record adds its offset delta to it.
    pub base_offset: i64,
    /// Bytes after this field to the end of the batch.
    pub batch_length: i32,
    /// Epoch of the partition leader that appended the batch (-1 from producers).
    pub partition_leader_epoch: i32,
    /// Batch format; always 2 here.
    pub magic: i8,
    /// CRC-32C of everything from `attributes` to the end of the batch.
    pub crc: u32,
    /// Codec, timestamp type and flags.
    pub attributes: BatchAttributes,
    /// Offset delta of the batch's last record (kept even when compaction removed it).
    pub last_offset_delta: i32,
    /// Timestamp each record's delta is added to (or the delete horizon, see attributes).
    pub base_timestamp: i64,
    /// Largest timestamp in the batch (the append time for log-append-time batches).
    pub max_timestamp: i64,
    /// Idempotent or transactional producer id (-1 if none).
    pub producer_id: i64,
    /// Producer epoch (-1 if none).
    pub producer_epoch: i16,
    /// Sequence number of the first record (-1 if none); record n has `base_sequence + n`.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

impl BatchHeader {
    /// Offset of the last record the batch was written with: `base_offset + last_offset_delta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// Offset the next batch of the partition starts at.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Reads the header; the reader must hold at least the whole batch.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let base_offset = r.i64("RecordBatch.baseOffset")?;
        let batch_length = r.i32("RecordBatch.batchLength")?;
        let partition_leader_epoch = r.i32("RecordBatch.partitionLeaderEpoch")?;
        let magic = r.i8("RecordBatch.magic")?;
        if magic != MAGIC {
            return Err(DecodeError::new(
                "RecordBatch.magic",
                r.offset() - 1,
                DecodeErrorKind::UnsupportedMagic(magic),
            ));
        }
        Ok(BatchHeader {
            base_offset,
            batch_length,
            partition_leader_epoch,
            magic,
            crc: r.u32("RecordBatch.crc")?,
            attributes: BatchAttributes(r.i16("RecordBatch.attributes")?),
            last_offset_delta: r.i32("RecordBatch.lastOffsetDelta")?,
            base_timestamp: r.i64("RecordBatch.baseTimestamp")?,
            max_timestamp: r.i64("RecordBatch.maxTimestamp")?,
            producer_id: r.i64("RecordBatch.producerId")?,
            producer_epoch: r.i16("RecordBatch.producerEpoch")?,
            base_sequence: r.i32("RecordBatch.baseSequence")?,
            records_count: r.i32("RecordBatch.recordsCount")?,
        })
    }

    /// Writes the header as is (length and CRC included).
    pub(crate) fn write(&self, buf: &mut impl BufMut) {
        buf.put_i64(self.base_offset);
        buf.put_i32(self.batch_length);
        buf.put_i32(self.partition_leader_epoch);
        buf.put_i8(self.magic);
        buf.put_u32(self.crc);
        buf.put_i16(self.attributes.0);
        buf.put_i32(self.last_offset_delta);
        buf.put_i64(self.base_timestamp);
        buf.put_i64(self.max_timestamp);
        buf.put_i64(self.producer_id);
        buf.put_i16(self.producer_epoch);
        buf.put_i32(self.base_sequence);
        buf.put_i32(self.records_count);
    }
}

/// CRC-32C (Castagnoli), the checksum of a batch from its attributes to its end.
#[inline]
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    crc_fast::crc32_iscsi(data)
}

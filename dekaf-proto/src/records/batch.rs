//! One decoded record batch: header checked, records decompressed, records read lazily.

use std::fmt;

use bytes::Bytes;

use super::attributes::{Compression, TimestampType};
use super::compression;
use super::control::ControlRecord;
use super::header::{
    crc32c, BatchHeader, ATTRIBUTES_OFFSET, CRC_OFFSET, LOG_OVERHEAD, MAGIC, MAGIC_OFFSET,
    MIN_BATCH_LENGTH,
};
use super::options::DecodeOptions;
use super::record::{RecordBase, RecordCursor, Records};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::wire::Reader;

/// A record batch whose header is decoded, whose CRC matched and whose records are
/// decompressed; the records themselves are read on demand by [`RecordBatch::records`].
///
/// Uncompressed record bytes are a slice of the input (no copy); compressed ones are one
/// buffer holding the whole decompressed payload. Cloning is cheap.
#[derive(Clone)]
pub struct RecordBatch {
    header: BatchHeader,
    compression: Compression,
    records: Bytes,
}

/// Where the next batch of a blob ends, if it is all there.
pub(crate) enum Frame {
    /// The blob ends inside the batch.
    Partial,
    /// The batch is complete and this many bytes long.
    Complete(usize),
}

impl RecordBatch {
    /// Decodes `src`, which must hold exactly one complete batch, with default options.
    pub fn decode(src: &Bytes) -> Result<Self, DecodeError> {
        Self::decode_with(src, &DecodeOptions::default())
    }

    /// Decodes `src`, which must hold exactly one complete batch.
    pub fn decode_with(src: &Bytes, options: &DecodeOptions) -> Result<Self, DecodeError> {
        let mut r = Reader::new(src);
        let len = match Self::frame(&r)? {
            Frame::Complete(len) => len,
            Frame::Partial => {
                // Read what is there to report the field that runs out.
                let mut p = r.clone();
                p.i64("RecordBatch.baseOffset")?;
                let declared = p.i32("RecordBatch.batchLength")?;
                return Err(DecodeError::new(
                    "RecordBatch",
                    src.len(),
                    DecodeErrorKind::UnexpectedEnd {
                        needed: (LOG_OVERHEAD + declared.max(0) as usize).saturating_sub(src.len()),
                    },
                ));
            }
        };
        let batch = Self::read(&mut r, len, options)?;
        r.finish("RecordBatch")?;
        Ok(batch)
    }

    /// Looks at the batch starting at the reader's position without moving it.
    ///
    /// A wrong magic byte or an impossible length is an error; a batch cut short by the end
    /// of the input is [`Frame::Partial`].
    pub(crate) fn frame(r: &Reader<'_>) -> Result<Frame, DecodeError> {
        let start = r.offset();
        let mut p = r.clone();
        if p.remaining() < LOG_OVERHEAD {
            return Ok(Frame::Partial);
        }
        p.i64("RecordBatch.baseOffset")?;
        let len = p.i32("RecordBatch.batchLength")?;
        if p.remaining() > MAGIC_OFFSET - LOG_OVERHEAD {
            p.i32("RecordBatch.partitionLeaderEpoch")?;
            let magic = p.i8("RecordBatch.magic")?;
            if magic != MAGIC {
                return Err(DecodeError::new(
                    "RecordBatch.magic",
                    start + MAGIC_OFFSET,
                    DecodeErrorKind::UnsupportedMagic(magic),
                ));
            }
        }
        if len < MIN_BATCH_LENGTH {
            return Err(DecodeError::new(
                "RecordBatch.batchLength",
                start + 8,
                DecodeErrorKind::InvalidLength {
                    length: i64::from(len),
                    remaining: r.remaining() - LOG_OVERHEAD,
                },
            ));
        }
        let total = LOG_OVERHEAD + len as usize;
        Ok(if total > r.remaining() {
            Frame::Partial
        } else {
            Frame::Complete(total)
        })
    }

    /// Reads the complete batch of `len` bytes at the reader's position.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        len: usize,
        options: &DecodeOptions,
    ) -> Result<Self, DecodeError> {
        let start = r.offset();
        let mut b = r.sub(len, "RecordBatch")?;
        let whole = b.rest();
        let header = BatchHeader::read(&mut b)?;
        let computed = crc32c(whole.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
        if computed != header.crc {
            return Err(DecodeError::new(
                "RecordBatch.crc",
                start + CRC_OFFSET,
                DecodeErrorKind::CrcMismatch {
                    stored: header.crc,
                    computed,
                },
            ));
        }
        let Some(compression) = header.attributes.compression() else {
            return Err(DecodeError::new(
                "RecordBatch.attributes",
                start + ATTRIBUTES_OFFSET,
                DecodeErrorKind::UnsupportedCompression(header.attributes.compression_id()),
            ));
        };
        if header.records_count < 0 {
            return Err(b.error(
                "RecordBatch.recordsCount",
                DecodeErrorKind::InvalidValue(i64::from(header.records_count)),
            ));
        }
        let at = b.offset();
        let payload = b.bytes(b.remaining(), "RecordBatch.records")?;
        // An empty batch (compaction leaves those) has nothing to decompress, as in Java.
        let records = if header.records_count == 0 {
            Bytes::new()
        } else {
            compression::decompress(compression, &payload, options.max_decompressed_size)
                .map_err(|kind| DecodeError::new("RecordBatch.records", at, kind))?
        };
        Ok(RecordBatch {
            header,
            compression,
            records,
        })
    }

    /// The header fields as they were on the wire.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Offset of the first record.
    pub fn base_offset(&self) -> i64 {
        self.header.base_offset
    }

    /// Offset of the last record the batch was written with.
    pub fn last_offset(&self) -> i64 {
        self.header.last_offset()
    }

    /// Offset the partition's next batch starts at: where a consumer continues.
    pub fn next_offset(&self) -> i64 {
        self.header.next_offset()
    }

    /// The codec the records were compressed with.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// What the record timestamps mean.
    pub fn timestamp_type(&self) -> TimestampType {
        self.header.attributes.timestamp_type()
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.header.attributes.is_transactional()
    }

    /// Whether the batch holds control records rather than user data.
    pub fn is_control(&self) -> bool {
        self.header.attributes.is_control()
    }

    /// Producer id (-1 if none).
    pub fn producer_id(&self) -> i64 {
        self.header.producer_id
    }

    /// Producer epoch (-1 if none).
    pub fn producer_epoch(&self) -> i16 {
        self.header.producer_epoch
    }

    /// Number of records, as the header says.
    pub fn records_count(&self) -> usize {
        self.header.records_count.max(0) as usize
    }

    /// The records, read one by one as borrowed views.
    pub fn records(&self) -> Records<'_> {
        Records::new(
            &self.records,
            self.records_count() as u32,
            self.record_base(),
        )
    }

    /// The records from where an earlier iteration over this batch stopped
    /// ([`Records::cursor`]).
    pub fn records_at(&self, cursor: RecordCursor) -> Records<'_> {
        Records::resume(&self.records, cursor, self.record_base())
    }

    fn record_base(&self) -> RecordBase {
        let log_append_time = (self.timestamp_type() == TimestampType::LogAppendTime)
            .then_some(self.header.max_timestamp);
        RecordBase {
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
            log_append_time,
        }
    }

    /// The transaction marker of a control batch; `Ok(None)` for other batches and for
    /// control records that are not transaction markers.
    pub fn control_record(&self) -> Result<Option<ControlRecord>, DecodeError> {
        if !self.is_control() {
            return Ok(None);
        }
        match self.records().next() {
            Some(record) => ControlRecord::from_record(&record?),
            None => Ok(None),
        }
    }

    /// The uncompressed record bytes (after the header).
    pub fn record_bytes(&self) -> &Bytes {
        &self.records
    }
}

impl fmt::Debug for RecordBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordBatch")
            .field("header", &self.header)
            .field("compression", &self.compression)
            .field("record_bytes", &self.records.len())
            .finish()
    }
}

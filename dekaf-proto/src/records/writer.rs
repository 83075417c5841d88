//! Writing a record batch record by record, the way a producer fills its batches.

use bytes::{BufMut, Bytes, BytesMut};

use super::attributes::{BatchAttributes, Compression};
use super::compression;
use super::header::{
    crc32c, BatchHeader, ATTRIBUTES_OFFSET, BATCH_HEADER_LEN, CRC_OFFSET, LOG_OVERHEAD, MAGIC,
};
use super::owned::OwnedHeader;
use crate::error::EncodeError;
use crate::wire::{put_varint, put_varlong, varint_len, varlong_len};

/// Kafka's "none" for producer ids, epochs, sequences and leader epochs.
const NONE: i32 = -1;

/// The buffer: open for appending, or handed out (as the uncompressed batch) and taken back
/// when written to again.
#[derive(Debug)]
enum Buffer {
    Open(BytesMut),
    Frozen(Bytes),
}

/// How a finished batch is stamped: codec, transaction flag and the idempotent producer's
/// id, epoch and base sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSeal {
    /// The codec of the records.
    pub compression: Compression,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
    /// Producer id, epoch and first sequence number; `None` without idempotence.
    pub producer: Option<(i64, i16, i32)>,
}

/// Builds one record batch (magic 2) by writing each record's bytes as it is appended, so
/// that nothing of a record is kept but its bytes in the batch.
///
/// Unlike [`RecordBatchBuilder`](super::RecordBatchBuilder), which keeps records until
/// `build`, this is what a producer wants: the memory a batch holds is the batch's size,
/// and the key and value given to [`append`](Self::append) can be freed at once.
/// [`finish`](Self::finish) stamps the header (codec, producer id and sequence) and may be
/// called again with another stamp (a retry under a new epoch); without compression it
/// hands out the writer's own buffer, without a copy.
///
/// ```
/// use dekaf_proto::records::{BatchSeal, Compression, RecordBatch, RecordBatchWriter};
/// let mut w = RecordBatchWriter::with_capacity(1024);
/// w.append(1_000, Some(b"k"), Some(b"v1"), &[]).unwrap();
/// w.append(1_002, None, Some(b"v2"), &[]).unwrap();
/// let seal = BatchSeal { compression: Compression::None, transactional: false, producer: None };
/// let batch = RecordBatch::decode(&w.finish(seal).unwrap()).unwrap();
/// assert_eq!(batch.records_count(), 2);
/// ```
#[derive(Debug)]
pub struct RecordBatchWriter {
    /// Room for the header, then the records as on the wire (uncompressed).
    buffer: Buffer,
    count: i32,
    base_timestamp: Option<i64>,
    max_timestamp: Option<i64>,
    /// Past this many bytes the buffer grows by what each record needs, not by doubling.
    growth_limit: usize,
}

impl RecordBatchWriter {
    /// An empty batch with room for `bytes` of records before it grows.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = BytesMut::with_capacity(BATCH_HEADER_LEN + bytes);
        buf.put_bytes(0, BATCH_HEADER_LEN);
        RecordBatchWriter {
            buffer: Buffer::Open(buf),
            count: 0,
            base_timestamp: None,
            max_timestamp: None,
            growth_limit: usize::MAX,
        }
    }

    /// Keeps the buffer's capacity near `bytes` once it gets there: it doubles up to
    /// `bytes` and then grows only by what each record needs (a producer's batch size, so
    /// that a full batch does not hold twice its bytes).
    pub fn grow_up_to(mut self, bytes: usize) -> Self {
        self.growth_limit = bytes;
        self
    }

    /// Number of records written.
    pub fn len(&self) -> usize {
        usize::try_from(self.count).unwrap_or(0)
    }

    /// Whether no record was written.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of the uncompressed batch, header included.
    pub fn encoded_len(&self) -> usize {
        self.bytes().len()
    }

    /// The first record's timestamp, the one deltas count from (-1 before any record).
    pub fn base_timestamp(&self) -> i64 {
        self.base_timestamp.unwrap_or(-1)
    }

    fn bytes(&self) -> &[u8] {
        match &self.buffer {
            Buffer::Open(b) => b,
            Buffer::Frozen(b) => b,
        }
    }

    fn buffer_mut(&mut self) -> &mut BytesMut {
        if let Buffer::Frozen(bytes) = &mut self.buffer {
            let bytes = std::mem::take(bytes);
            let open = bytes
                .try_into_mut()
                .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
            self.buffer = Buffer::Open(open);
        }
        match &mut self.buffer {
            Buffer::Open(b) => b,
            // Made open just above.
            Buffer::Frozen(_) => unreachable!("the buffer was reopened"),
        }
    }

    /// Writes a record at the next offset with an absolute `timestamp` (the first one sets
    /// the base timestamp). Fails, writing nothing, for a field longer than the wire allows.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[OwnedHeader],
    ) -> Result<(), EncodeError> {
        let base = *self.base_timestamp.get_or_insert(timestamp);
        let timestamp_delta = timestamp.wrapping_sub(base);
        let offset_delta = self.count;
        let nullable = |b: Option<&[u8]>, field| -> Result<usize, EncodeError> {
            Ok(match b {
                Some(b) => varint_len(len_i32(b.len(), field)?) + b.len(),
                None => 1,
            })
        };
        let mut len = 1
            + varlong_len(timestamp_delta)
            + varint_len(offset_delta)
            + nullable(key, "Record.key")?
            + nullable(value, "Record.value")?
            + varint_len(len_i32(headers.len(), "Record.headers")?);
        for h in headers {
            len += varint_len(len_i32(h.key.len(), "Record.headerKey")?) + h.key.len();
            len += nullable(h.value.as_deref(), "Record.headerValue")?;
        }
        let len = len_i32(len, "Record")?;
        let count = self.count.checked_add(1).ok_or(EncodeError::TooLong {
            field: "RecordBatch.records",
            len: self.len(),
        })?;
        let limit = self.growth_limit;
        let buf = self.buffer_mut();
        let needed = 5 + len as usize;
        if buf.capacity() - buf.len() < needed {
            let capacity = buf.capacity().saturating_mul(2).min(limit);
            let mut grown = BytesMut::with_capacity(capacity.max(buf.len() + needed));
            grown.extend_from_slice(buf);
            *buf = grown;
        }
        put_varint(buf, len);
        buf.put_i8(0);
        put_varlong(buf, timestamp_delta);
        put_varint(buf, offset_delta);
        put_nullable(buf, key);
        put_nullable(buf, value);
        put_varint(buf, headers.len() as i32);
        for h in headers {
            put_varint(buf, h.key.len() as i32);
            buf.put_slice(&h.key);
            put_nullable(buf, h.value.as_deref());
        }
        self.count = count;
        self.max_timestamp = Some(self.max_timestamp.map_or(timestamp, |m| m.max(timestamp)));
        Ok(())
    }

    /// The batch's bytes stamped with `seal`. Without compression they are the writer's
    /// own buffer (no copy); appending afterwards copies it only if the bytes handed out
    /// are still held.
    pub fn finish(&mut self, seal: BatchSeal) -> Result<Bytes, EncodeError> {
        let (producer_id, producer_epoch, base_sequence) =
            seal.producer
                .unwrap_or((i64::from(NONE), NONE as i16, NONE));
        let attributes = BatchAttributes::default()
            .with_compression(seal.compression)
            .with_transactional(seal.transactional);
        let base_timestamp = self.base_timestamp.unwrap_or(-1);
        let header = |batch_length| BatchHeader {
            base_offset: 0,
            batch_length,
            partition_leader_epoch: NONE,
            magic: MAGIC,
            crc: 0,
            attributes,
            last_offset_delta: (self.count - 1).max(0),
            base_timestamp,
            max_timestamp: self.max_timestamp.unwrap_or(base_timestamp),
            producer_id,
            producer_epoch,
            base_sequence,
            records_count: self.count,
        };
        match seal.compression {
            Compression::None => {
                let batch_length = len_i32(self.encoded_len() - LOG_OVERHEAD, "RecordBatch")?;
                let header = header(batch_length);
                let buf = self.buffer_mut();
                stamp(buf, &header);
                let bytes = std::mem::take(buf).freeze();
                self.buffer = Buffer::Frozen(bytes.clone());
                Ok(bytes)
            }
            codec => {
                let raw = self.bytes().get(BATCH_HEADER_LEN..).unwrap_or_default();
                let mut packed = Vec::new();
                compression::compress(codec, raw, &mut packed)?;
                let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + packed.len());
                out.put_bytes(0, BATCH_HEADER_LEN);
                out.extend_from_slice(&packed);
                let batch_length = len_i32(out.len() - LOG_OVERHEAD, "RecordBatch")?;
                stamp(&mut out, &header(batch_length));
                Ok(out.freeze())
            }
        }
    }
}

/// Writes `header` over the first bytes of `batch` and its CRC.
fn stamp(batch: &mut [u8], header: &BatchHeader) {
    if let Some(mut slot) = batch.get_mut(..BATCH_HEADER_LEN) {
        header.write(&mut slot);
    }
    let crc = crc32c(batch.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
    if let Some(slot) = batch.get_mut(CRC_OFFSET..ATTRIBUTES_OFFSET) {
        slot.copy_from_slice(&crc.to_be_bytes());
    }
}

fn len_i32(len: usize, field: &'static str) -> Result<i32, EncodeError> {
    i32::try_from(len).map_err(|_| EncodeError::TooLong { field, len })
}

fn put_nullable(buf: &mut BytesMut, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            put_varint(buf, b.len() as i32);
            buf.put_slice(b);
        }
        None => put_varint(buf, -1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{RecordBatch, RecordBatchBuilder};

    fn seal(compression: Compression, producer: Option<(i64, i16, i32)>) -> BatchSeal {
        BatchSeal {
            compression,
            transactional: producer.is_some(),
            producer,
        }
    }

    #[test]
    fn writes_the_same_bytes_as_the_builder() {
        let headers = vec![OwnedHeader::new("h", Some(Bytes::from_static(b"x")))];
        let mut w = RecordBatchWriter::with_capacity(0);
        let mut b = RecordBatchBuilder::new()
            .transactional(true)
            .producer(7, 3, 11);
        for i in 0..50i64 {
            let key = (i % 3 != 0).then(|| Bytes::from(vec![i as u8; i as usize]));
            let value = (i % 5 != 0).then(|| Bytes::from(vec![b'v'; 200]));
            let hs = if i % 2 == 0 { headers.clone() } else { vec![] };
            w.append(1_000 + i * 7 % 13, key.as_deref(), value.as_deref(), &hs)
                .unwrap();
            b.append(1_000 + i * 7 % 13, key, value, hs);
        }
        let written = w.finish(seal(Compression::None, Some((7, 3, 11)))).unwrap();
        assert_eq!(written, b.build().unwrap());
        // Stamped again (a new epoch) while the first bytes are still held: a copy.
        let again = w.finish(seal(Compression::None, Some((7, 4, 0)))).unwrap();
        let parsed = RecordBatch::decode(&again).unwrap();
        assert_eq!((parsed.producer_epoch(), parsed.records_count()), (4, 50));
        assert_eq!(RecordBatch::decode(&written).unwrap().producer_epoch(), 3);
    }

    #[cfg(feature = "lz4")]
    #[test]
    fn a_compressed_batch_reads_back() {
        let mut w = RecordBatchWriter::with_capacity(16);
        for i in 0..100u8 {
            w.append(5, None, Some(&[i; 100]), &[]).unwrap();
        }
        let bytes = w.finish(seal(Compression::Lz4, None)).unwrap();
        let batch = RecordBatch::decode(&bytes).unwrap();
        assert_eq!(batch.compression(), Compression::Lz4);
        let values: Vec<u8> = batch
            .records()
            .map(|r| r.unwrap().value().unwrap()[0])
            .collect();
        assert_eq!(values, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_batch_is_valid() {
        let mut w = RecordBatchWriter::with_capacity(0);
        let bytes = w.finish(seal(Compression::None, None)).unwrap();
        assert_eq!(RecordBatch::decode(&bytes).unwrap().records_count(), 0);
    }
}

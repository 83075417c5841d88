//! Records waiting to be written, grouped in batches per partition, and what the producer
//! remembers of each batch until its outcome is known.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use dekaf_proto::records::{BatchSeal, Compression, OwnedHeader, RecordBatch, RecordBatchWriter};
use dekaf_proto::ErrorCode;

use super::types::DeliveryId;
use crate::client::RequestId;

/// Bytes a batch header takes (magic 2).
pub(crate) const BATCH_OVERHEAD: usize = 61;

/// One record, accepted by `send`, not yet reported.
#[derive(Clone, Debug)]
pub(crate) struct PendingRecord {
    pub(crate) id: DeliveryId,
    pub(crate) timestamp: i64,
    pub(crate) key: Option<Bytes>,
    pub(crate) value: Option<Bytes>,
    pub(crate) headers: Vec<OwnedHeader>,
    /// Upper bound of the record's size in a batch.
    pub(crate) size: usize,
}

/// An upper bound of a record's size inside a batch (every varint at its widest).
pub(crate) fn record_size(
    key: Option<&Bytes>,
    value: Option<&Bytes>,
    headers: &[OwnedHeader],
) -> usize {
    let len = |b: Option<&Bytes>| b.map_or(0, Bytes::len);
    let headers: usize = headers
        .iter()
        .map(|h| 10 + h.key.len() + len(h.value.as_ref()))
        .sum();
    // length, attributes, timestamp delta, offset delta, key and value lengths, header count
    5 + 1 + 10 + 5 + 5 + 5 + 5 + len(key) + len(value) + headers
}

/// The producer id, epoch and first sequence number stamped on a batch the first time it is
/// sent; a retry sends the very same batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub(crate) producer_id: i64,
    pub(crate) epoch: i16,
    pub(crate) base_sequence: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BatchState {
    /// Waiting to be sent (first time, or retry with no backoff left).
    Queued,
    /// In the Produce request with this id.
    InFlight(RequestId),
    /// Waiting for its retry backoff to end.
    Backoff(Instant),
}

/// What a batch keeps of one record until its outcome; the rest of the record is in the
/// batch's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchRecord {
    pub(crate) id: DeliveryId,
    pub(crate) timestamp: i64,
}

/// Records with consecutive ids and one timestamp, as a batch keeps them: records sent in
/// a row to one partition within a millisecond take one run, not one entry each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    first: u64,
    count: u32,
    timestamp: i64,
}

/// The buffer a batch starts with: enough for a few records, grown up to the batch size as
/// records come, so that a batch of a few records does not hold a full batch's memory.
const INITIAL_CAPACITY: usize = 16 * 1024;

#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) id: u64,
    /// The records' ids and timestamps, in order.
    runs: Vec<Run>,
    /// The records' bytes, written as they were appended.
    writer: RecordBatchWriter,
    pub(crate) size: usize,
    pub(crate) created: Instant,
    pub(crate) deadline: Instant,
    /// No more records may be added (full, or sent once).
    pub(crate) closed: bool,
    pub(crate) state: BatchState,
    pub(crate) sealed: Option<Sealed>,
    /// Requests that carried it so far.
    pub(crate) attempts: u32,
    /// A request carrying it may have been written: its outcome is unknown.
    pub(crate) maybe_written: bool,
    pub(crate) last_error: Option<ErrorCode>,
    encoded: Option<Bytes>,
}

impl Batch {
    /// An empty batch that grows up to `batch_size` bytes.
    pub(crate) fn new(id: u64, now: Instant, deadline: Instant, batch_size: usize) -> Self {
        let limit = batch_size.saturating_add(BATCH_OVERHEAD);
        Batch {
            id,
            runs: Vec::new(),
            writer: RecordBatchWriter::with_capacity(INITIAL_CAPACITY.min(limit)).grow_up_to(limit),
            size: BATCH_OVERHEAD,
            created: now,
            deadline,
            closed: false,
            state: BatchState::Queued,
            sealed: None,
            attempts: 0,
            maybe_written: false,
            last_error: None,
            encoded: None,
        }
    }

    /// Writes the record into the batch; only its id and timestamp are kept besides.
    pub(crate) fn push(&mut self, record: PendingRecord) -> Result<(), dekaf_proto::EncodeError> {
        self.writer.append(
            record.timestamp,
            record.key.as_deref(),
            record.value.as_deref(),
            &record.headers,
        )?;
        self.size += record.size;
        match self.runs.last_mut() {
            Some(run)
                if run.timestamp == record.timestamp
                    && run.first + u64::from(run.count) == record.id.0
                    && run.count < u32::MAX =>
            {
                run.count += 1;
            }
            _ => self.runs.push(Run {
                first: record.id.0,
                count: 1,
                timestamp: record.timestamp,
            }),
        }
        self.encoded = None;
        Ok(())
    }

    /// The records' ids and timestamps, in order.
    pub(crate) fn records(&self) -> impl Iterator<Item = BatchRecord> + '_ {
        self.runs.iter().flat_map(|run| {
            (run.first..run.first + u64::from(run.count)).map(|id| BatchRecord {
                id: DeliveryId(id),
                timestamp: run.timestamp,
            })
        })
    }

    /// The records' ids, in order.
    pub(crate) fn ids(&self) -> Vec<DeliveryId> {
        self.records().map(|r| r.id).collect()
    }

    /// The first record's id.
    pub(crate) fn first_id(&self) -> Option<DeliveryId> {
        self.runs.first().map(|r| DeliveryId(r.first))
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.writer.len()
    }

    /// Cuts the batch in two for a broker that refused it as too large, as Java's client
    /// splits one: it keeps the older records (one more when the count is odd) under id
    /// `first_id`, and returns the newer ones as batch `second_id`. Both halves keep the
    /// deadline, attempts, producer id and epoch, and take the batch's sequence numbers in
    /// turn, so that the batches after it keep theirs. Neither half was written: the broker's
    /// size check refuses every attempt of the same bytes. `None`, changing nothing, for a
    /// batch of fewer than two records (or whose bytes no longer read back).
    pub(crate) fn split(
        &mut self,
        first_id: u64,
        second_id: u64,
        batch_size: usize,
    ) -> Option<Batch> {
        if self.len() < 2 {
            return None;
        }
        let plain = BatchSeal {
            compression: Compression::None,
            transactional: false,
            producer: None,
        };
        let bytes = self.writer.finish(plain).ok()?;
        let whole = RecordBatch::decode(&bytes).ok()?;
        let keep = self.len().div_ceil(2);
        let mut halves = [
            Batch::new(first_id, self.created, self.deadline, batch_size),
            Batch::new(second_id, self.created, self.deadline, batch_size),
        ];
        for (i, (record, meta)) in whole.records().zip(self.records()).enumerate() {
            let record = record.ok()?.into_owned();
            let size = record_size(record.key.as_ref(), record.value.as_ref(), &record.headers);
            let half = halves.get_mut(usize::from(i >= keep))?;
            half.push(PendingRecord {
                id: meta.id,
                timestamp: meta.timestamp,
                key: record.key,
                value: record.value,
                headers: record.headers,
                size,
            })
            .ok()?;
        }
        let [first, mut second] = halves;
        self.id = first_id;
        self.runs = first.runs;
        self.writer = first.writer;
        self.size = first.size;
        self.closed = true;
        self.state = BatchState::Queued;
        self.maybe_written = false;
        self.encoded = None;
        second.sealed = self.sealed.map(|s| Sealed {
            base_sequence: increment_sequence(s.base_sequence, self.record_count()),
            ..s
        });
        second.closed = true;
        second.attempts = self.attempts;
        second.last_error = self.last_error;
        Some(second)
    }

    pub(crate) fn is_in_flight(&self) -> bool {
        matches!(self.state, BatchState::InFlight(_))
    }

    /// Whether it was ever given sequence numbers that the broker may have seen.
    pub(crate) fn was_sent(&self) -> bool {
        self.attempts > 0
    }

    pub(crate) fn record_count(&self) -> i32 {
        i32::try_from(self.len()).unwrap_or(i32::MAX)
    }

    pub(crate) fn seal(&mut self, sealed: Option<Sealed>) {
        if self.sealed != sealed {
            self.sealed = sealed;
            self.encoded = None;
        }
    }

    /// The batch's bytes, stamped once per sealing.
    pub(crate) fn encode(
        &mut self,
        compression: Compression,
        transactional: bool,
    ) -> Result<Bytes, dekaf_proto::EncodeError> {
        if let Some(bytes) = &self.encoded {
            return Ok(bytes.clone());
        }
        let seal = BatchSeal {
            compression,
            transactional,
            producer: self
                .sealed
                .map(|s| (s.producer_id, s.epoch, s.base_sequence)),
        };
        let bytes = self.writer.finish(seal)?;
        self.encoded = Some(bytes.clone());
        Ok(bytes)
    }
}

/// Kafka's rule for sequence numbers: they count up and wrap from `i32::MAX` to 0.
pub(crate) fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// The batches of one partition, oldest first, and its sequence numbers.
#[derive(Debug, Default)]
pub(crate) struct PartitionQueue {
    pub(crate) batches: VecDeque<Batch>,
    /// The sequence number of the next batch sealed.
    pub(crate) next_sequence: i32,
    /// Produce requests carrying one of its batches.
    pub(crate) in_flight: usize,
    /// A batch failed and will be sent again: no batch goes out until every request in
    /// flight for the partition is answered, so that retries keep their order.
    pub(crate) recovering: bool,
}

impl PartitionQueue {
    pub(crate) fn position(&self, batch: u64) -> Option<usize> {
        self.batches.iter().position(|b| b.id == batch)
    }

    /// Forgets every batch's sequence numbers (after the producer id or epoch changed).
    pub(crate) fn reset_sequences(&mut self) {
        self.next_sequence = 0;
        for b in &mut self.batches {
            b.seal(None);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dekaf_proto::records::RecordBatch;

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(increment_sequence(0, 5), 5);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    }

    const BATCH: usize = 16 * 1024;

    fn record(id: u64) -> PendingRecord {
        let value = Some(Bytes::from(vec![b'v'; 10]));
        PendingRecord {
            id: DeliveryId(id),
            timestamp: 0,
            size: record_size(None, value.as_ref(), &[]),
            key: None,
            value,
            headers: Vec::new(),
        }
    }

    #[test]
    fn a_split_batch_hands_its_sequence_numbers_to_its_halves_in_turn() {
        #[allow(clippy::disallowed_methods)] // one base instant for the test
        let now = Instant::now();
        let mut b = Batch::new(1, now, now, BATCH);
        for id in 0..5 {
            b.push(record(id)).unwrap();
        }
        b.seal(Some(Sealed {
            producer_id: 7,
            epoch: 2,
            base_sequence: i32::MAX - 1,
        }));
        b.attempts = 1;
        b.maybe_written = true;
        let mut first = b;
        let second = first.split(8, 9, BATCH).expect("five records split");
        let ids = |b: &Batch| b.ids().iter().map(|id| id.0).collect::<Vec<_>>();
        assert_eq!((ids(&first), ids(&second)), (vec![0, 1, 2], vec![3, 4]));
        assert_eq!((first.id, second.id), (8, 9));
        let seq = |b: &Batch| b.sealed.map(|s| (s.producer_id, s.epoch, s.base_sequence));
        assert_eq!(seq(&first), Some((7, 2, i32::MAX - 1)));
        assert_eq!(seq(&second), Some((7, 2, 1)), "wraps as Kafka does");
        assert_eq!(first.size, BATCH_OVERHEAD + 3 * record(0).size);
        assert!(first.closed && second.closed && !first.maybe_written);
        assert_eq!((first.attempts, second.attempts), (1, 1));

        let mut one = Batch::new(2, now, now, BATCH);
        one.push(record(0)).unwrap();
        assert!(one.split(3, 4, BATCH).is_none());
        assert_eq!((one.id, one.len()), (2, 1));
    }

    #[test]
    fn size_bound_holds_and_sealing_changes_the_bytes() {
        #[allow(clippy::disallowed_methods)] // one base instant for the test
        let now = Instant::now();
        let mut b = Batch::new(1, now, now, BATCH);
        for i in 0..20u8 {
            let key = Some(Bytes::from(vec![i; usize::from(i)]));
            let value = Some(Bytes::from(vec![i; 100]));
            let headers = vec![OwnedHeader::new("h", Some(Bytes::from_static(b"v")))];
            let size = record_size(key.as_ref(), value.as_ref(), &headers);
            b.push(PendingRecord {
                id: DeliveryId(u64::from(i)),
                timestamp: 1_000 + i64::from(i),
                key,
                value,
                headers,
                size,
            })
            .unwrap();
        }
        let plain = b.encode(Compression::None, false).unwrap();
        assert!(plain.len() <= b.size, "{} > {}", plain.len(), b.size);
        b.seal(Some(Sealed {
            producer_id: 7,
            epoch: 2,
            base_sequence: 40,
        }));
        let sealed = b.encode(Compression::None, true).unwrap();
        let parsed = RecordBatch::decode(&sealed).unwrap();
        assert_eq!(parsed.producer_id(), 7);
        assert_eq!(parsed.producer_epoch(), 2);
        assert_eq!(parsed.header().base_sequence, 40);
        assert!(parsed.is_transactional());
        assert_eq!(parsed.records_count(), 20);
    }
}

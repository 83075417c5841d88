//! Records waiting to be written, grouped in batches per partition, and what the producer
//! remembers of each batch until its outcome is known.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use dekaf_proto::records::{Compression, OwnedHeader, RecordBatchBuilder};
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

#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) id: u64,
    pub(crate) records: Vec<PendingRecord>,
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
    pub(crate) fn new(id: u64, now: Instant, deadline: Instant) -> Self {
        Batch {
            id,
            records: Vec::new(),
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

    pub(crate) fn push(&mut self, record: PendingRecord) {
        self.size += record.size;
        self.records.push(record);
        self.encoded = None;
    }

    /// Cuts the batch in two for a broker that refused it as too large, as Java's client
    /// splits one: it keeps the older records (one more when the count is odd) under id
    /// `first_id`, and returns the newer ones as batch `second_id`. Both halves keep the
    /// deadline, attempts, producer id and epoch, and take the batch's sequence numbers in
    /// turn, so that the batches after it keep theirs. Neither half was written: the broker's
    /// size check refuses every attempt of the same bytes. `None`, changing nothing, for a
    /// batch of fewer than two records.
    pub(crate) fn split(&mut self, first_id: u64, second_id: u64) -> Option<Batch> {
        if self.records.len() < 2 {
            return None;
        }
        let records = self.records.split_off(self.records.len().div_ceil(2));
        let size = |records: &[PendingRecord]| {
            BATCH_OVERHEAD + records.iter().map(|r| r.size).sum::<usize>()
        };
        self.id = first_id;
        self.size = size(&self.records);
        self.closed = true;
        self.state = BatchState::Queued;
        self.maybe_written = false;
        self.encoded = None;
        let sealed = self.sealed.map(|s| Sealed {
            base_sequence: increment_sequence(s.base_sequence, self.record_count()),
            ..s
        });
        Some(Batch {
            id: second_id,
            size: size(&records),
            records,
            created: self.created,
            deadline: self.deadline,
            closed: true,
            state: BatchState::Queued,
            sealed,
            attempts: self.attempts,
            maybe_written: false,
            last_error: self.last_error,
            encoded: None,
        })
    }

    pub(crate) fn is_in_flight(&self) -> bool {
        matches!(self.state, BatchState::InFlight(_))
    }

    /// Whether it was ever given sequence numbers that the broker may have seen.
    pub(crate) fn was_sent(&self) -> bool {
        self.attempts > 0
    }

    pub(crate) fn record_count(&self) -> i32 {
        i32::try_from(self.records.len()).unwrap_or(i32::MAX)
    }

    pub(crate) fn seal(&mut self, sealed: Option<Sealed>) {
        if self.sealed != sealed {
            self.sealed = sealed;
            self.encoded = None;
        }
    }

    /// The batch's bytes, built once per sealing.
    pub(crate) fn encode(
        &mut self,
        compression: Compression,
        transactional: bool,
    ) -> Result<Bytes, dekaf_proto::EncodeError> {
        if let Some(bytes) = &self.encoded {
            return Ok(bytes.clone());
        }
        let mut builder = RecordBatchBuilder::new()
            .compression(compression)
            .transactional(transactional);
        if let Some(s) = self.sealed {
            builder = builder.producer(s.producer_id, s.epoch, s.base_sequence);
        }
        for r in &self.records {
            builder.append(
                r.timestamp,
                r.key.clone(),
                r.value.clone(),
                r.headers.clone(),
            );
        }
        let bytes = builder.build()?;
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
        let mut b = Batch::new(1, now, now);
        for id in 0..5 {
            b.push(record(id));
        }
        b.seal(Some(Sealed {
            producer_id: 7,
            epoch: 2,
            base_sequence: i32::MAX - 1,
        }));
        b.attempts = 1;
        b.maybe_written = true;
        let mut first = b;
        let second = first.split(8, 9).expect("five records split");
        let ids = |b: &Batch| b.records.iter().map(|r| r.id.0).collect::<Vec<_>>();
        assert_eq!((ids(&first), ids(&second)), (vec![0, 1, 2], vec![3, 4]));
        assert_eq!((first.id, second.id), (8, 9));
        let seq = |b: &Batch| b.sealed.map(|s| (s.producer_id, s.epoch, s.base_sequence));
        assert_eq!(seq(&first), Some((7, 2, i32::MAX - 1)));
        assert_eq!(seq(&second), Some((7, 2, 1)), "wraps as Kafka does");
        assert_eq!(first.size, BATCH_OVERHEAD + 3 * record(0).size);
        assert!(first.closed && second.closed && !first.maybe_written);
        assert_eq!((first.attempts, second.attempts), (1, 1));

        let mut one = Batch::new(2, now, now);
        one.push(record(0));
        assert!(one.split(3, 4).is_none());
        assert_eq!((one.id, one.records.len()), (2, 1));
    }

    #[test]
    fn size_bound_holds_and_sealing_changes_the_bytes() {
        #[allow(clippy::disallowed_methods)] // one base instant for the test
        let now = Instant::now();
        let mut b = Batch::new(1, now, now);
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
            });
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

//! Fetched data of one partition, waiting to be handed out, and the read_committed filter.
//!
//! A fetch response's batches are decoded (and checked down to every record) when they
//! arrive, and kept as entries in offset order. The front entry's records are read one at a
//! time as the application takes them (nothing is copied or kept per record in between);
//! skipped entries (control batches, aborted transactions) move the position past themselves.
//!
//! Under read_committed a transactional batch of producer P is *held* until P's transaction
//! marker comes: COMMIT makes it deliverable, ABORT turns it into a skip. Records are handed
//! out in offset order, so nothing behind a held batch is handed out either. A broker that
//! lists aborted transactions in its answer (Apache Kafka does; tansu sends the list empty)
//! lets aborted batches be dropped at once, as Java's consumer does; the markers decide
//! everything else. Below the last stable offset every transaction is decided, so the marker
//! of a held batch is always further in the log: the partition is fetched again while its
//! front is held, until the marker arrives.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::Instant;

use dekaf_proto::records::{ControlKind, RecordBatch, RecordCursor, BATCH_HEADER_LEN};
use dekaf_proto::DecodeError;

use crate::offset::{FetchEpoch, OffsetError, OffsetManager, TopicPartition};

use super::record::ConsumerRecord;
use super::requests::epoch_or_none;

/// A batch whose records were all read and checked when it arrived, with how many of them
/// are to be handed out (those at or after the fetch offset and before the last stable offset
/// under read_committed).
#[derive(Debug)]
pub(crate) struct CheckedBatch {
    pub(crate) batch: RecordBatch,
    pub(crate) records: usize,
}

/// One batch of the buffer.
#[derive(Debug)]
enum Entry {
    /// Records to hand out: the `records` of `batch` in `from..until`.
    Data {
        batch: RecordBatch,
        from: i64,
        until: i64,
        records: usize,
        /// Held until this producer's transaction marker arrives.
        held_by: Option<i64>,
        bytes: usize,
    },
    /// Offsets below `next_offset` are passed over without being handed out.
    Skip { next_offset: i64, bytes: usize },
}

impl Entry {
    fn bytes(&self) -> usize {
        match self {
            Entry::Data { bytes, .. } | Entry::Skip { bytes, .. } => *bytes,
        }
    }
}

/// Why records could not be taken from a buffer.
#[derive(Debug)]
pub(crate) enum TakeError {
    /// The offset machine no longer wants this data (seek, reset, reassignment, close).
    Stale,
    /// A record could not be read (cannot happen for checked batches; handled anyway).
    Corrupt { offset: i64, error: DecodeError },
    /// A record's offset is below the position (the fetched data went backwards).
    OutOfOrder { offset: i64, position: i64 },
}

/// What a fetch answer added.
#[derive(Debug, Default)]
pub(crate) struct Added {
    /// Bytes added to the buffer.
    pub(crate) bytes: usize,
    /// Batches kept (data, control or skipped).
    pub(crate) batches: usize,
}

/// The batch whose records are being handed out, and where reading it stands.
#[derive(Debug)]
struct Current {
    batch: RecordBatch,
    cursor: RecordCursor,
    from: i64,
    /// Where the position goes once its records are handed out (the end of the batch).
    until: i64,
    /// Records still to hand out.
    left: usize,
    leader_epoch: Option<i32>,
    /// Its size, counted in the buffer's bytes until its last record is handed out.
    bytes: usize,
}

/// The buffered data of one partition, for one fetch epoch.
#[derive(Debug)]
pub(crate) struct PartitionBuffer {
    pub(crate) epoch: FetchEpoch,
    read_committed: bool,
    entries: VecDeque<Entry>,
    /// Sequence number of `entries[0]`.
    front_seq: u64,
    /// Held entries, by producer id.
    held: HashMap<i64, Vec<u64>>,
    /// Producers inside a transaction the broker listed as aborted.
    aborting: HashSet<i64>,
    /// Aborted transactions listed by the broker and not reached yet: (first offset, producer).
    hints: BinaryHeap<Reverse<(i64, i64)>>,
    /// The batch being handed out, taken from the front of `entries`.
    current: Option<Current>,
    /// Each fetch answer that still has entries, oldest first: the sequence number of its last
    /// entry and the bytes it brought.
    answer_ends: VecDeque<(u64, usize)>,
    /// Bytes held by `entries` and `current`.
    pub(crate) bytes: usize,
}

impl PartitionBuffer {
    pub(crate) fn new(epoch: FetchEpoch, read_committed: bool) -> Self {
        PartitionBuffer {
            epoch,
            read_committed,
            entries: VecDeque::new(),
            front_seq: 0,
            held: HashMap::new(),
            aborting: HashSet::new(),
            hints: BinaryHeap::new(),
            current: None,
            answer_ends: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Whether the front entry waits for a transaction marker.
    pub(crate) fn is_blocked(&self) -> bool {
        self.current.is_none()
            && matches!(
                self.entries.front(),
                Some(Entry::Data {
                    held_by: Some(_),
                    ..
                })
            )
    }

    /// Whether something can be handed out (or passed over) now.
    pub(crate) fn has_deliverable(&self) -> bool {
        self.current.is_some() || (!self.entries.is_empty() && !self.is_blocked())
    }

    /// Whether the buffer holds nothing at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.current.is_none() && self.entries.is_empty()
    }

    /// How many records are ready to hand out without another fetch (a lower bound).
    pub(crate) fn ready_records(&self) -> usize {
        self.current.as_ref().map_or(0, |c| c.left)
    }

    /// Whether the partition is worth fetching again as far as this buffer goes: it has
    /// nothing to hand out, or only what is left of one fetch answer and at most half of it.
    /// So one answer is fetched while the one before is handed out, and about two answers'
    /// worth are kept at most: records keep flowing while the next answer is on its way.
    pub(crate) fn wants_fetch(&self) -> bool {
        if !self.has_deliverable() {
            return true;
        }
        match self.answer_ends.len() {
            0 => true,
            1 => self
                .answer_ends
                .front()
                .is_some_and(|&(_, bytes)| self.bytes.saturating_mul(2) <= bytes),
            _ => false,
        }
    }

    /// Adds the batches of one fetch answer, fetched from `fetch_offset`. Batches at or after
    /// `cap` (the last stable offset under read_committed) are left out; `aborted` is the
    /// broker's list of aborted transactions (producer id, first offset).
    pub(crate) fn push(
        &mut self,
        batches: Vec<CheckedBatch>,
        fetch_offset: i64,
        cap: Option<i64>,
        aborted: impl IntoIterator<Item = (i64, i64)>,
    ) -> Added {
        if self.read_committed {
            // The broker lists the aborted transactions that overlap this answer; those of an
            // earlier answer that were not reached are listed again if they still matter.
            self.hints.clear();
            for (producer, first) in aborted {
                self.hints.push(Reverse((first, producer)));
            }
        }
        let mut added = Added::default();
        for CheckedBatch { batch, records } in batches {
            if batch.next_offset() <= fetch_offset {
                continue;
            }
            if cap.is_some_and(|c| batch.base_offset() >= c) {
                break;
            }
            let until = cap.map_or(batch.next_offset(), |c| c.min(batch.next_offset()));
            let bytes = batch.record_bytes().len() + BATCH_HEADER_LEN;
            added.bytes += bytes;
            added.batches += 1;
            if self.read_committed && batch.producer_id() >= 0 {
                // As Java's consumer does: every batch with a producer id (markers included)
                // first takes in the listed transactions that started at or before it.
                while let Some(Reverse((first, p))) = self.hints.peek().copied() {
                    if first > batch.last_offset() {
                        break;
                    }
                    self.hints.pop();
                    self.aborting.insert(p);
                }
            }
            if batch.is_control() {
                if self.read_committed {
                    if let Ok(Some(marker)) = batch.control_record() {
                        self.decide(batch.producer_id(), marker.kind);
                    }
                }
                self.entries.push_back(Entry::Skip {
                    next_offset: until,
                    bytes,
                });
                continue;
            }
            let mut held_by = None;
            if self.read_committed && batch.is_transactional() {
                let producer = batch.producer_id();
                if self.aborting.contains(&producer) {
                    self.entries.push_back(Entry::Skip {
                        next_offset: until,
                        bytes,
                    });
                    continue;
                }
                held_by = Some(producer);
                let seq = self.front_seq + self.entries.len() as u64;
                self.held.entry(producer).or_default().push(seq);
            }
            self.entries.push_back(Entry::Data {
                batch,
                from: fetch_offset,
                until,
                records,
                held_by,
                bytes,
            });
        }
        if added.batches > 0 {
            let last = self.front_seq + self.entries.len() as u64 - 1;
            self.answer_ends.push_back((last, added.bytes));
        }
        self.bytes += added.bytes;
        added
    }

    /// A transaction marker of `producer`: its held batches become deliverable (commit) or
    /// skipped (abort).
    fn decide(&mut self, producer: i64, kind: ControlKind) {
        self.aborting.remove(&producer);
        for seq in self.held.remove(&producer).unwrap_or_default() {
            let Some(index) = seq.checked_sub(self.front_seq) else {
                continue;
            };
            let Some(entry) = self.entries.get_mut(index as usize) else {
                continue;
            };
            match kind {
                ControlKind::Commit => {
                    if let Entry::Data { held_by, .. } = entry {
                        *held_by = None;
                    }
                }
                ControlKind::Abort => {
                    if let Entry::Data { until, bytes, .. } = entry {
                        *entry = Entry::Skip {
                            next_offset: *until,
                            bytes: *bytes,
                        };
                    }
                }
            }
        }
    }

    fn pop_front(&mut self) -> Option<Entry> {
        let entry = self.entries.pop_front()?;
        self.front_seq += 1;
        self.bytes = self.bytes.saturating_sub(entry.bytes());
        while self
            .answer_ends
            .front()
            .is_some_and(|&(end, _)| end < self.front_seq)
        {
            self.answer_ends.pop_front();
        }
        Some(entry)
    }

    /// Hands out up to `max` records of `tp` into `out`, telling the offset machine about each
    /// (and about offsets passed over). Stops early at the outstanding cap or a held batch.
    pub(crate) fn take(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        offsets: &mut OffsetManager,
        max: usize,
        out: &mut Vec<ConsumerRecord>,
    ) -> Result<(), TakeError> {
        loop {
            if let Some(current) = &mut self.current {
                if current.left > 0 {
                    let room = max
                        .saturating_sub(out.len())
                        .min(offsets.delivery_capacity());
                    if room == 0 {
                        return Ok(());
                    }
                    hand_out(now, tp, self.epoch, current, offsets, room, out)?;
                    if current.left > 0 {
                        return Ok(());
                    }
                }
                let end = current.until;
                self.bytes = self.bytes.saturating_sub(current.bytes);
                self.current = None;
                offsets
                    .advance(now, tp, self.epoch, end)
                    .map_err(|_| TakeError::Stale)?;
            }
            if self.is_blocked() {
                return Ok(());
            }
            match self.pop_front() {
                None => return Ok(()),
                Some(Entry::Skip { next_offset, .. }) => {
                    offsets
                        .advance(now, tp, self.epoch, next_offset)
                        .map_err(|_| TakeError::Stale)?;
                }
                Some(Entry::Data {
                    batch,
                    from,
                    until,
                    records,
                    bytes,
                    ..
                }) => {
                    self.bytes += bytes;
                    self.current = Some(Current {
                        bytes,
                        cursor: batch.records().cursor(),
                        leader_epoch: epoch_or_none(batch.header().partition_leader_epoch),
                        batch,
                        from,
                        until,
                        left: records,
                    });
                }
            }
        }
    }
}

/// Reads up to `room` records of the current batch into `out` and tells the offset machine
/// they are handed out. On refusal the records it refused stay in the batch; only
/// backpressure is not an error (the caller stops there).
fn hand_out(
    now: Instant,
    tp: &TopicPartition,
    epoch: FetchEpoch,
    current: &mut Current,
    offsets: &mut OffsetManager,
    room: usize,
    out: &mut Vec<ConsumerRecord>,
) -> Result<(), TakeError> {
    let start = out.len();
    let start_cursor = current.cursor;
    let timestamp_type = current.batch.timestamp_type();
    let mut records = current.batch.records_at(start_cursor);
    while out.len() - start < room.min(current.left) {
        let record = match records.next() {
            Some(Ok(r)) => r,
            Some(Err(error)) => {
                out.truncate(start);
                return Err(TakeError::Corrupt {
                    offset: current.batch.base_offset(),
                    error,
                });
            }
            // Fewer records than counted: cannot happen for a checked batch.
            None => {
                current.left = out.len() - start;
                break;
            }
        };
        let offset = record.offset();
        if offset < current.from || offset >= current.until {
            continue;
        }
        out.push(ConsumerRecord {
            topic_partition: tp.clone(),
            offset,
            leader_epoch: current.leader_epoch,
            timestamp: record.timestamp(),
            timestamp_type,
            key: record.key_bytes(),
            value: record.value_bytes(),
            headers: record.headers().map(|h| h.into_owned()).collect(),
        });
    }
    let after = records.cursor();
    let taken = out.len() - start;
    let (delivered, result) = offsets.deliver_run(
        now,
        tp,
        epoch,
        out[start..].iter().map(|r| (r.offset, r.leader_epoch)),
    );
    current.cursor = after;
    if delivered < taken {
        // Refused (a seek since, the cap): the refused records stay, read again next time.
        out.truncate(start + delivered);
        current.cursor = start_cursor;
        let mut again = current.batch.records_at(start_cursor);
        let mut passed = 0;
        while passed < delivered {
            match again.next() {
                Some(Ok(r)) if r.offset() >= current.from && r.offset() < current.until => {
                    passed += 1;
                }
                Some(Ok(_)) => {}
                _ => break,
            }
            current.cursor = again.cursor();
        }
    }
    current.left -= delivered;
    match result {
        Ok(()) | Err(OffsetError::Backpressure { .. }) => Ok(()),
        Err(OffsetError::OutOfOrder {
            offset, position, ..
        }) => Err(TakeError::OutOfOrder { offset, position }),
        Err(_) => Err(TakeError::Stale),
    }
}

/// Checks every record of a batch fetched from `fetch_offset` (and the marker of a control
/// batch), so that handing the batch out later cannot fail half way, and counts the records
/// to hand out: at or after `fetch_offset`, before the batch's end and before `cap` (the last
/// stable offset under read_committed).
pub(crate) fn check_batch(
    batch: RecordBatch,
    fetch_offset: i64,
    cap: Option<i64>,
) -> Result<CheckedBatch, DecodeError> {
    if batch.is_control() {
        batch.control_record()?;
        return Ok(CheckedBatch { batch, records: 0 });
    }
    let until = cap.map_or(batch.next_offset(), |c| c.min(batch.next_offset()));
    let mut records = 0;
    for record in batch.records() {
        let offset = record?.offset();
        if offset >= fetch_offset && offset < until {
            records += 1;
        }
    }
    Ok(CheckedBatch { batch, records })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use dekaf_proto::records::{ControlRecord, RecordBatchBuilder};

    use crate::offset::{OffsetConfig, TopicPartitionOffset};

    #[allow(clippy::disallowed_methods)] // one base instant for the test
    fn now() -> Instant {
        Instant::now()
    }

    fn batch(base: i64, n: usize, producer: Option<i64>) -> RecordBatch {
        let mut b = RecordBatchBuilder::new().base_offset(base);
        if let Some(p) = producer {
            b = b.transactional(true).producer(p, 0, 0);
        }
        for i in 0..n {
            b.append(
                1_000 + i as i64,
                None,
                Some(Bytes::from(format!("v{}", base + i as i64))),
                vec![],
            );
        }
        RecordBatch::decode(&b.build().unwrap()).unwrap()
    }

    fn marker(at: i64, producer: i64, kind: ControlKind) -> RecordBatch {
        let b = RecordBatchBuilder::transaction_marker(
            ControlRecord {
                kind,
                coordinator_epoch: 0,
            },
            5,
        )
        .base_offset(at)
        .producer(producer, 0, -1);
        RecordBatch::decode(&b.build().unwrap()).unwrap()
    }

    fn checked(batches: Vec<RecordBatch>, from: i64, cap: Option<i64>) -> Vec<CheckedBatch> {
        batches
            .into_iter()
            .map(|b| check_batch(b, from, cap).unwrap())
            .collect()
    }

    /// An offset machine with "t-0" at position `at`, and a buffer for its epoch.
    fn setup(at: i64, read_committed: bool) -> (OffsetManager, TopicPartition, PartitionBuffer) {
        let mut offsets = OffsetManager::new(OffsetConfig::default(), 0);
        let tp = TopicPartition::new("t", 0);
        offsets.assign(now(), [tp.clone()]).unwrap();
        offsets
            .seek(now(), TopicPartitionOffset::at(tp.clone(), at))
            .unwrap();
        let epoch = offsets.fetch_epoch(&tp).unwrap();
        (offsets, tp, PartitionBuffer::new(epoch, read_committed))
    }

    fn take_all(b: &mut PartitionBuffer, o: &mut OffsetManager, tp: &TopicPartition) -> Vec<i64> {
        let mut out = Vec::new();
        b.take(now(), tp, o, usize::MAX, &mut out).unwrap();
        out.iter().map(|r| r.offset).collect()
    }

    #[test]
    fn records_below_the_fetch_offset_are_skipped() {
        let (mut o, tp, mut b) = setup(3, false);
        b.push(
            checked(vec![batch(0, 5, None), batch(5, 2, None)], 3, None),
            3,
            None,
            [],
        );
        assert_eq!(take_all(&mut b, &mut o, &tp), [3, 4, 5, 6]);
        assert_eq!(o.position(&tp).unwrap().offset, 7);
        assert!(b.is_empty() && b.bytes == 0);
    }

    #[test]
    fn read_committed_holds_a_transaction_until_its_marker() {
        let (mut o, tp, mut b) = setup(0, true);
        // 0-1 plain, 2-3 producer 7, 4 plain, then (in a later answer) 7's commit at 5.
        b.push(
            checked(
                vec![batch(0, 2, None), batch(2, 2, Some(7)), batch(4, 1, None)],
                0,
                None,
            ),
            0,
            None,
            [],
        );
        assert_eq!(take_all(&mut b, &mut o, &tp), [0, 1]);
        assert!(b.is_blocked() && !b.has_deliverable());
        assert_eq!(o.position(&tp).unwrap().offset, 2);
        b.push(
            checked(vec![marker(5, 7, ControlKind::Commit)], 5, None),
            5,
            None,
            [],
        );
        assert_eq!(take_all(&mut b, &mut o, &tp), [2, 3, 4]);
        assert_eq!(o.position(&tp).unwrap().offset, 6);
    }

    #[test]
    fn read_committed_drops_aborted_transactions_with_or_without_the_list() {
        for listed in [false, true] {
            let (mut o, tp, mut b) = setup(0, true);
            let aborted: Vec<(i64, i64)> = if listed { vec![(8, 1)] } else { vec![] };
            // 0 plain, 1-2 producer 8 (aborted), 3-4 producer 9 (committed), markers 5, 6.
            b.push(
                checked(
                    vec![
                        batch(0, 1, None),
                        batch(1, 2, Some(8)),
                        batch(3, 2, Some(9)),
                        marker(5, 9, ControlKind::Commit),
                        marker(6, 8, ControlKind::Abort),
                        batch(7, 1, None),
                    ],
                    0,
                    None,
                ),
                0,
                None,
                aborted,
            );
            assert_eq!(
                take_all(&mut b, &mut o, &tp),
                [0, 3, 4, 7],
                "listed {listed}"
            );
            assert_eq!(o.position(&tp).unwrap().offset, 8);
        }
    }

    #[test]
    fn a_listed_abort_ends_at_its_marker_even_without_data_in_between() {
        let (mut o, tp, mut b) = setup(0, true);
        // Producer 8's aborted transaction started at 1, before this answer (fetched from 3):
        // only its marker is here. Its next transaction (5-6) commits.
        b.push(
            checked(
                vec![
                    batch(0, 3, None),
                    marker(3, 8, ControlKind::Abort),
                    batch(4, 1, None),
                    batch(5, 2, Some(8)),
                ],
                3,
                None,
            ),
            3,
            None,
            [(8, 1)],
        );
        b.push(
            checked(vec![marker(7, 8, ControlKind::Commit)], 7, None),
            7,
            None,
            [],
        );
        assert_eq!(take_all(&mut b, &mut o, &tp), [4, 5, 6]);
        assert_eq!(o.position(&tp).unwrap().offset, 8);
    }

    #[test]
    fn read_uncommitted_hands_out_transactions_and_skips_markers() {
        let (mut o, tp, mut b) = setup(0, false);
        b.push(
            checked(
                vec![
                    batch(0, 2, Some(8)),
                    marker(2, 8, ControlKind::Abort),
                    batch(3, 1, None),
                ],
                0,
                None,
            ),
            0,
            None,
            [],
        );
        assert_eq!(take_all(&mut b, &mut o, &tp), [0, 1, 3]);
        assert_eq!(o.position(&tp).unwrap().offset, 4);
    }

    #[test]
    fn nothing_at_or_after_the_cap_is_kept() {
        let (mut o, tp, mut b) = setup(0, true);
        b.push(
            checked(vec![batch(0, 2, None), batch(2, 3, None)], 0, Some(3)),
            0,
            Some(3),
            [],
        );
        assert_eq!(take_all(&mut b, &mut o, &tp), [0, 1, 2]);
        assert_eq!(o.position(&tp).unwrap().offset, 3);
    }

    #[test]
    fn the_outstanding_cap_and_max_stop_early_and_resume() {
        let (mut o, tp, mut b) = setup(0, false);
        b.push(checked(vec![batch(0, 6, None)], 0, None), 0, None, []);
        let mut out = Vec::new();
        b.take(now(), &tp, &mut o, 4, &mut out).unwrap();
        assert_eq!(out.len(), 4);
        assert!(b.has_deliverable());
        b.take(now(), &tp, &mut o, 10, &mut out).unwrap();
        assert_eq!(
            out.iter().map(|r| r.offset).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn the_next_answer_is_wanted_once_half_of_the_last_is_taken() {
        let (mut o, tp, mut b) = setup(0, false);
        assert!(b.wants_fetch());
        let batches = (0..5).map(|i| batch(i * 4, 4, None)).collect();
        b.push(checked(batches, 0, None), 0, None, []);
        let total = b.bytes;
        let mut out = Vec::new();
        // The batch being handed out counts until its last record is taken.
        b.take(now(), &tp, &mut o, 2, &mut out).unwrap();
        assert_eq!(b.bytes, total);
        assert!(!b.wants_fetch());
        // (`max` counts what `out` holds.)
        b.take(now(), &tp, &mut o, 8, &mut out).unwrap();
        assert!(!b.wants_fetch(), "3 of 5 batches left");
        b.take(now(), &tp, &mut o, 12, &mut out).unwrap();
        assert!(b.wants_fetch(), "2 of 5 batches left");
        assert!(b.bytes * 2 < total && b.has_deliverable());
        b.take(now(), &tp, &mut o, 100, &mut out).unwrap();
        assert_eq!(out.len(), 20);
        assert!(b.is_empty() && b.bytes == 0 && b.wants_fetch());
    }

    #[test]
    fn a_seek_makes_the_buffer_stale() {
        let (mut o, tp, mut b) = setup(0, false);
        b.push(checked(vec![batch(0, 3, None)], 0, None), 0, None, []);
        o.seek(now(), TopicPartitionOffset::at(tp.clone(), 2))
            .unwrap();
        let mut out = Vec::new();
        assert!(matches!(
            b.take(now(), &tp, &mut o, 10, &mut out),
            Err(TakeError::Stale)
        ));
        assert!(out.is_empty());
    }
}

//! One partition's log: real record batches as a broker stores them, the records they hold
//! (for checking what clients get), and the offsets Kafka derives from them — log start, high
//! watermark, last stable offset — with leader epochs, producer sequence state and the
//! aborted-transaction index.

use std::collections::{BTreeMap, VecDeque};

use bytes::{Bytes, BytesMut};
use dekaf_proto::records::{
    Compression, ControlKind, ControlRecord, OwnedHeader, RecordBatch, RecordBatchBuilder,
};
use dekaf_proto::ErrorCode;

/// Where a record stands in its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Txn {
    /// Not transactional.
    None,
    /// Written by this producer id's transaction, still open.
    Open(i64),
    /// Its transaction committed.
    Committed,
    /// Its transaction aborted: read_committed never hands it out.
    Aborted,
}

/// One entry of a partition's log: a data record or a transaction marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its offset.
    pub offset: i64,
    /// Its timestamp (milliseconds since the epoch).
    pub timestamp: i64,
    /// The record's key.
    pub key: Option<Bytes>,
    /// The record's value.
    pub value: Option<Bytes>,
    /// The producer id of its batch (-1 without idempotence).
    pub producer_id: i64,
    /// The producer epoch of its batch.
    pub epoch: i16,
    /// Whether its batch was transactional.
    pub transactional: bool,
    /// `Some` for a commit or abort marker.
    pub marker: Option<ControlKind>,
    /// Where its transaction stands.
    pub txn: Txn,
}

/// One stored batch: its bytes exactly as a fetch hands them out.
#[derive(Clone, Debug)]
struct Stored {
    base: i64,
    next: i64,
    bytes: Bytes,
}

/// What the partition leader remembers of one idempotent producer (Kafka keeps the last five
/// batches to answer retries of them with their first offset).
#[derive(Clone, Debug)]
struct ProducerState {
    epoch: i16,
    last_sequence: i32,
    /// The last five batches: first and last sequence, base offset.
    recent: VecDeque<(i32, i32, i64)>,
}

impl ProducerState {
    fn new(epoch: i16) -> Self {
        ProducerState {
            epoch,
            last_sequence: -1,
            recent: VecDeque::new(),
        }
    }
}

/// A record to append: timestamp, key, value, headers.
pub(crate) type NewRecord = (i64, Option<Bytes>, Option<Bytes>, Vec<OwnedHeader>);

/// Sequence numbers wrap from `i32::MAX` to 0.
fn next_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// One partition: its leader, leader epochs and log.
#[derive(Clone, Debug)]
pub struct Partition {
    /// The leader's broker id.
    pub leader: i32,
    /// The leader epoch (bumped on every leader move).
    pub leader_epoch: i32,
    /// Each leader epoch with the offset it starts at, in order.
    pub epochs: Vec<(i32, i64)>,
    /// The first offset still in the log.
    pub log_start: i64,
    /// The log end offset, which is also the high watermark (every replica is in sync).
    pub end: i64,
    /// Every entry, records and markers, in offset order (entries below the log start stay
    /// listed, for checking what was once there).
    pub log: Vec<Record>,
    batches: Vec<Stored>,
    /// Open transactions: producer id → first offset.
    open: BTreeMap<i64, i64>,
    /// Aborted transactions: (producer id, first offset, marker offset).
    aborted: Vec<(i64, i64, i64)>,
    producers: BTreeMap<i64, ProducerState>,
}

impl Partition {
    /// An empty partition led by `leader` in epoch 0.
    pub fn new(leader: i32) -> Self {
        Partition {
            leader,
            leader_epoch: 0,
            epochs: vec![(0, 0)],
            log_start: 0,
            end: 0,
            log: Vec::new(),
            batches: Vec::new(),
            open: BTreeMap::new(),
            aborted: Vec::new(),
            producers: BTreeMap::new(),
        }
    }

    /// An empty partition led by `leader` in epoch 0 whose offsets start at `start` (as a
    /// log whose older records retention already removed).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn starting_at(leader: i32, start: i64) -> Self {
        let mut partition = Partition::new(leader);
        partition.epochs = vec![(0, start)];
        partition.log_start = start;
        partition.end = start;
        partition
    }

    /// The high watermark: the log end (every replica is in sync).
    pub fn high_watermark(&self) -> i64 {
        self.end
    }

    /// The last stable offset: the first offset of the oldest open transaction, else the
    /// high watermark.
    pub fn last_stable_offset(&self) -> i64 {
        self.open.values().copied().min().unwrap_or(self.end)
    }

    /// The data record at `offset`, if the log ever held one there (markers left out).
    pub fn record_at(&self, offset: i64) -> Option<&Record> {
        let i = self.log.binary_search_by_key(&offset, |r| r.offset).ok()?;
        self.log.get(i).filter(|r| r.marker.is_none())
    }

    /// The first record at or after the log start whose timestamp is at least `timestamp`:
    /// its offset and timestamp (ListOffsets by time).
    pub fn offset_for_time(&self, timestamp: i64) -> Option<(i64, i64)> {
        self.records()
            .into_iter()
            .filter(|r| r.offset >= self.log_start)
            .find(|r| r.timestamp >= timestamp)
            .map(|r| (r.offset, r.timestamp))
    }

    /// Whether `producer` has a transaction open in this partition.
    pub fn has_open_transaction(&self, producer: i64) -> bool {
        self.open.contains_key(&producer)
    }

    /// Every data record the log ever held below its end (markers left out).
    pub fn records(&self) -> Vec<&Record> {
        self.log.iter().filter(|e| e.marker.is_none()).collect()
    }

    /// Records read_committed hands out from the log start: below the last stable offset,
    /// outside transactions or of committed ones.
    pub fn committed_records(&self) -> Vec<&Record> {
        let lso = self.last_stable_offset();
        self.records()
            .into_iter()
            .filter(|r| r.offset < lso && r.offset >= self.log_start)
            .filter(|r| matches!(r.txn, Txn::None | Txn::Committed))
            .collect()
    }

    /// Records read_uncommitted hands out from the log start.
    pub fn all_records(&self) -> Vec<&Record> {
        self.records()
            .into_iter()
            .filter(|r| r.offset >= self.log_start)
            .collect()
    }

    /// Every record whose transaction committed, or that was in none, whatever the log start
    /// (what a read_committed reader from offset 0 would have seen once every transaction
    /// ended).
    pub fn committed(&self) -> Vec<&Record> {
        self.records()
            .into_iter()
            .filter(|r| matches!(r.txn, Txn::None | Txn::Committed))
            .collect()
    }

    /// Appends `n` generated records as one batch compressed with `codec`, timestamps from
    /// `timestamp` in steps of 10 ms; `producer` makes it part of that producer's open
    /// transaction. Record `o` of partition `p` of `topic` has key `k{o}` and value
    /// `{topic}/{p}/{o}`, and one header `h = v` when `o` is a multiple of 3.
    pub(crate) fn append_generated(
        &mut self,
        name: (&str, i32),
        n: usize,
        codec: Compression,
        producer: Option<i64>,
        timestamp: i64,
    ) {
        let base = self.end;
        let records = (0..n).map(|i| {
            let offset = base + i as i64;
            let headers = if offset % 3 == 0 {
                vec![OwnedHeader::new("h", Some(Bytes::from_static(b"v")))]
            } else {
                vec![]
            };
            (
                timestamp + i as i64 * 10,
                Some(Bytes::from(format!("k{offset}"))),
                Some(Bytes::from(format!("{}/{}/{offset}", name.0, name.1))),
                headers,
            )
        });
        self.append_batch(records.collect(), codec, producer);
    }

    /// Appends records (timestamp, key, value, headers) as one batch compressed with `codec`;
    /// `producer` makes it part of that producer's open transaction.
    pub(crate) fn append_batch(
        &mut self,
        records: Vec<NewRecord>,
        codec: Compression,
        producer: Option<i64>,
    ) {
        if records.is_empty() {
            return;
        }
        let base = self.end;
        let n = records.len();
        let mut b = RecordBatchBuilder::new()
            .base_offset(base)
            .partition_leader_epoch(self.leader_epoch)
            .compression(codec);
        if let Some(pid) = producer {
            b = b.transactional(true).producer(pid, 0, base as i32);
        }
        let mut entries = Vec::with_capacity(n);
        for (i, (ts, key, value, headers)) in records.into_iter().enumerate() {
            b.append(ts, key.clone(), value.clone(), headers);
            entries.push(Record {
                offset: base + i as i64,
                timestamp: ts,
                key,
                value,
                producer_id: producer.unwrap_or(-1),
                epoch: 0,
                transactional: producer.is_some(),
                marker: None,
                txn: producer.map_or(Txn::None, Txn::Open),
            });
        }
        // A batch of records we made ourselves always builds.
        let Ok(bytes) = b.build() else { return };
        self.log.extend(entries);
        self.end = base + n as i64;
        self.batches.push(Stored {
            base,
            next: self.end,
            bytes,
        });
        if let Some(pid) = producer {
            self.open.entry(pid).or_insert(base);
        }
    }

    /// Kafka's append path for one batch a producer sent (`raw` its bytes, `batch` decoded):
    /// epoch and sequence checks, a retried batch answered with its first write's offset
    /// (`duplicate_code` with it). Returns the base offset given.
    pub(crate) fn append_produced(
        &mut self,
        raw: &Bytes,
        batch: &RecordBatch,
        duplicate_code: ErrorCode,
    ) -> Result<i64, (ErrorCode, i64)> {
        let h = *batch.header();
        let count = h.records_count;
        if h.producer_id >= 0 {
            let last = next_sequence(h.base_sequence, count - 1);
            match self.producers.get(&h.producer_id) {
                Some(s) if h.producer_epoch < s.epoch => {
                    return Err((ErrorCode::INVALID_PRODUCER_EPOCH, -1))
                }
                Some(s) if h.producer_epoch == s.epoch => {
                    if let Some((_, _, offset)) = s
                        .recent
                        .iter()
                        .find(|(f, l, _)| *f == h.base_sequence && *l == last)
                    {
                        return Err((duplicate_code, *offset));
                    }
                    if h.base_sequence != next_sequence(s.last_sequence, 1) {
                        return Err((ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1));
                    }
                }
                _ if h.base_sequence != 0 => {
                    return Err((ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1))
                }
                _ => {}
            }
        }
        let mut records = Vec::new();
        for record in batch.records() {
            let Ok(record) = record else {
                return Err((ErrorCode::CORRUPT_MESSAGE, -1));
            };
            records.push((record.timestamp(), record.key_bytes(), record.value_bytes()));
        }
        let base = self.end;
        let transactional = batch.is_transactional();
        for (i, (timestamp, key, value)) in records.into_iter().enumerate() {
            self.log.push(Record {
                offset: base + i as i64,
                timestamp,
                key,
                value,
                producer_id: h.producer_id,
                epoch: h.producer_epoch,
                transactional,
                marker: None,
                txn: if transactional {
                    Txn::Open(h.producer_id)
                } else {
                    Txn::None
                },
            });
        }
        let next = base + i64::from(count.max(0));
        // The broker assigns the offsets and its leader epoch: both sit outside what the
        // batch's CRC covers.
        let mut bytes = BytesMut::from(&raw[..]);
        if bytes.len() >= 16 {
            bytes[0..8].copy_from_slice(&base.to_be_bytes());
            bytes[12..16].copy_from_slice(&self.leader_epoch.to_be_bytes());
        }
        self.batches.push(Stored {
            base,
            next,
            bytes: bytes.freeze(),
        });
        self.end = next;
        if transactional {
            self.open.entry(h.producer_id).or_insert(base);
        }
        if h.producer_id >= 0 {
            let s = self
                .producers
                .entry(h.producer_id)
                .or_insert_with(|| ProducerState::new(h.producer_epoch));
            if s.epoch != h.producer_epoch {
                s.recent.clear();
            }
            s.epoch = h.producer_epoch;
            s.last_sequence = next_sequence(h.base_sequence, count - 1);
            s.recent.push_back((h.base_sequence, s.last_sequence, base));
            if s.recent.len() > 5 {
                s.recent.pop_front();
            }
        }
        Ok(base)
    }

    /// Ends `producer`'s transaction here with a COMMIT or ABORT marker written with `epoch`
    /// (a marker with a newer epoch fences the older one: sequences restart). Does nothing when
    /// the producer has no open transaction here and `always` is false.
    pub(crate) fn write_marker(
        &mut self,
        producer: i64,
        epoch: i16,
        kind: ControlKind,
        timestamp: i64,
        always: bool,
    ) {
        let first = self.open.remove(&producer);
        if first.is_none() && !always {
            return;
        }
        let at = self.end;
        let Ok(bytes) = RecordBatchBuilder::transaction_marker(
            ControlRecord {
                kind,
                coordinator_epoch: 0,
            },
            timestamp,
        )
        .base_offset(at)
        .partition_leader_epoch(self.leader_epoch)
        .producer(producer, epoch, -1)
        .build() else {
            return;
        };
        self.batches.push(Stored {
            base: at,
            next: at + 1,
            bytes,
        });
        self.end = at + 1;
        let decided = match kind {
            ControlKind::Commit => Txn::Committed,
            ControlKind::Abort => Txn::Aborted,
        };
        for r in &mut self.log {
            if r.txn == Txn::Open(producer) {
                r.txn = decided;
            }
        }
        self.log.push(Record {
            offset: at,
            timestamp,
            key: None,
            value: None,
            producer_id: producer,
            epoch,
            transactional: true,
            marker: Some(kind),
            txn: decided,
        });
        if let (Some(first), ControlKind::Abort) = (first, kind) {
            self.aborted.push((producer, first, at));
        }
        let state = self
            .producers
            .entry(producer)
            .or_insert_with(|| ProducerState::new(epoch));
        if epoch > state.epoch {
            *state = ProducerState::new(epoch);
        }
    }

    /// A new leader takes over in the next epoch, from the current log end.
    pub(crate) fn new_leader(&mut self, leader: i32) {
        self.leader = leader;
        self.leader_epoch += 1;
        self.epochs.push((self.leader_epoch, self.end));
    }

    /// A leader takes over in `epoch` (which may skip epochs the log never saw, and is ignored
    /// unless newer than the current one), from the current log end.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn lead(&mut self, leader: i32, epoch: i32) {
        self.leader = leader;
        if epoch > self.leader_epoch {
            self.leader_epoch = epoch;
            self.epochs.push((epoch, self.end));
        }
    }

    /// Leaves `count` offsets unused at the end of the log, as compaction leaves gaps: the
    /// next batch starts after them.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn skip_offsets(&mut self, count: i64) {
        self.end = self.end.saturating_add(count.max(0));
    }

    /// Cuts the log back to the batch boundary at or below `offset` (an unclean election to a
    /// replica that had less). Returns the new end.
    pub(crate) fn truncate(&mut self, offset: i64) -> i64 {
        self.batches.retain(|b| b.next <= offset);
        let end = self.batches.last().map_or(self.log_start, |b| b.next);
        self.log.retain(|r| r.offset < end);
        self.end = end;
        self.epochs.retain(|(_, start)| *start <= end);
        self.open.retain(|_, first| *first < end);
        self.aborted.retain(|(_, _, marker)| *marker < end);
        end
    }

    /// Removes records below `offset` (DeleteRecords, retention): the log start moves there.
    pub(crate) fn delete_records(&mut self, offset: i64) {
        self.log_start = offset.min(self.end).max(self.log_start);
        let start = self.log_start;
        self.batches.retain(|b| b.next > start);
    }

    /// Forgets every producer's sequence numbers (as when retention removed all of their
    /// batches).
    pub(crate) fn forget_producers(&mut self) {
        self.producers.clear();
    }

    /// Where epoch `asked` ends in this log: the largest epoch not above it and the start of
    /// the next one (or the log end); (-1, -1) when the log has no such epoch.
    pub fn epoch_end(&self, asked: i32) -> (i32, i64) {
        let Some(i) = self.epochs.iter().rposition(|(e, _)| *e <= asked) else {
            return (-1, -1);
        };
        let end = self.epochs.get(i + 1).map_or(self.end, |(_, start)| *start);
        (self.epochs[i].0, end)
    }

    /// The stored batches a fetch from `from` returns, below `limit`, until `max_bytes` are
    /// reached (at least one batch): their bytes, the offset after the last one, and the
    /// first batch not returned.
    pub(crate) fn read(
        &self,
        from: i64,
        limit: i64,
        max_bytes: usize,
    ) -> (BytesMut, i64, Option<&Bytes>, usize) {
        let mut data = BytesMut::new();
        let mut upper = from;
        let mut rest = self.batches_from(from, limit);
        let first_len = self
            .batches
            .iter()
            .find(|b| b.next > from)
            .map_or(0, |b| b.bytes.len());
        for (next, bytes) in rest.by_ref() {
            data.extend_from_slice(bytes);
            upper = next;
            if data.len() >= max_bytes.max(1) {
                break;
            }
        }
        (data, upper, rest.next().map(|(_, bytes)| bytes), first_len)
    }

    /// The stored batches from `from` on that start below `limit`, in order: each one's next
    /// offset and its bytes.
    pub(crate) fn batches_from(
        &self,
        from: i64,
        limit: i64,
    ) -> impl Iterator<Item = (i64, &Bytes)> {
        self.batches
            .iter()
            .filter(move |b| b.next > from && b.base < limit)
            .map(|b| (b.next, &b.bytes))
    }

    /// Aborted transactions that overlap `[from, upper)`: (producer id, first offset).
    pub(crate) fn aborted_between(&self, from: i64, upper: i64) -> Vec<(i64, i64)> {
        self.aborted
            .iter()
            .filter(|(_, first, last)| *last >= from && *first < upper)
            .map(|(pid, first, _)| (*pid, *first))
            .collect()
    }
}

//! The log of one partition of the fake cluster: real record batches, written as the input
//! says while consumers read (plain, transactional, transaction markers, compressed, with
//! compaction gaps), so that every fetch answer tells the same story and the records a
//! consumer hands out can be checked against it.

use std::collections::BTreeMap;

use bytes::Bytes;
use dekaf_proto::records::{
    Compression, ControlKind, ControlRecord, OwnedHeader, RecordBatchBuilder,
};

use super::input::Input;

/// Record timestamps count from here (ms since the Unix epoch): the record at offset `o` has
/// timestamp `T0 + 10 * o`.
pub(crate) const T0: i64 = 1_700_000_000_000;

/// The transactional producers that write to the logs.
const PRODUCERS: [i64; 2] = [7, 8];

/// What became of a data record's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Not transactional.
    Plain,
    /// Its producer's transaction is still open.
    Open(i64),
    Committed,
    Aborted,
}

/// One stored batch.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) base: i64,
    pub(crate) next: i64,
    pub(crate) bytes: Bytes,
}

#[derive(Debug)]
pub(crate) struct Log {
    /// The log start offset.
    pub(crate) start: i64,
    /// The offset the next batch gets.
    pub(crate) end: i64,
    pub(crate) batches: Vec<Stored>,
    /// Each data record: its value and its transaction's fate.
    pub(crate) records: BTreeMap<i64, (Bytes, Fate)>,
    /// Open transactions: producer id and first offset.
    open: BTreeMap<i64, i64>,
    /// Aborted transactions: producer id, first offset, marker offset.
    pub(crate) aborted: Vec<(i64, i64, i64)>,
}

impl Log {
    pub(crate) fn new(start: i64) -> Self {
        Log {
            start,
            end: start,
            batches: Vec::new(),
            records: BTreeMap::new(),
            open: BTreeMap::new(),
            aborted: Vec::new(),
        }
    }

    /// The last stable offset: the first offset of the oldest open transaction, else the end.
    pub(crate) fn last_stable_offset(&self) -> i64 {
        self.open.values().copied().min().unwrap_or(self.end)
    }

    /// The first offset whose record is at or after `timestamp`, if any.
    pub(crate) fn offset_for_time(&self, timestamp: i64) -> Option<(i64, i64)> {
        self.records
            .keys()
            .map(|&o| (o, T0.saturating_add(o.saturating_mul(10))))
            .find(|(o, ts)| *ts >= timestamp && *o >= self.start)
    }

    /// Producers write up to three batches, under leader epoch `epoch`.
    pub(crate) fn write(&mut self, input: &mut Input<'_>, name: &str, epoch: i32) {
        for _ in 0..=input.below(3) {
            self.write_batch(input, name, epoch);
        }
    }

    fn write_batch(&mut self, input: &mut Input<'_>, name: &str, epoch: i32) {
        let kind = input.byte();
        if kind >= 240 && self.end < i64::MAX - 8 {
            // A gap, as compaction leaves.
            self.end += i64::from(input.byte() % 4) + 1;
        }
        let base = self.end;
        let ts = T0.saturating_add(base.saturating_mul(10));
        let pid = *input.pick(&PRODUCERS).unwrap_or(&7);
        if (208..240).contains(&kind) && self.open.contains_key(&pid) {
            let commit = input.bool();
            let marker = ControlRecord {
                kind: if commit {
                    ControlKind::Commit
                } else {
                    ControlKind::Abort
                },
                coordinator_epoch: 0,
            };
            let builder = RecordBatchBuilder::transaction_marker(marker, ts)
                .base_offset(base)
                .partition_leader_epoch(epoch)
                .producer(pid, 0, -1);
            if let Ok(bytes) = builder.build() {
                self.push(base, base + 1, bytes);
                let first = self.open.remove(&pid).unwrap_or(base);
                let fate = if commit {
                    Fate::Committed
                } else {
                    Fate::Aborted
                };
                for (_, f) in self.records.range_mut(first..) {
                    if f.1 == Fate::Open(pid) {
                        f.1 = fate;
                    }
                }
                if !commit {
                    self.aborted.push((pid, first, base));
                }
            }
            return;
        }
        let transactional = (160..240).contains(&kind);
        let mut b = RecordBatchBuilder::new()
            .base_offset(base)
            .partition_leader_epoch(epoch);
        if input.chance(16) {
            b = b.compression(*input.pick(&Compression::ALL).unwrap_or(&Compression::None));
        }
        if transactional {
            b = b.transactional(true).producer(
                pid,
                0,
                i32::try_from(base % 1_000_000).unwrap_or(0),
            );
        }
        let count = 1 + input.below(4);
        let mut values = Vec::new();
        for i in 0..count {
            let offset = base.saturating_add(i as i64);
            let value = Bytes::from(format!("{name}@{offset}"));
            let headers = if input.chance(32) {
                vec![OwnedHeader::new("h", Some(Bytes::from_static(b"v")))]
            } else {
                Vec::new()
            };
            b.append(
                ts.saturating_add(10 * i as i64),
                Some(Bytes::from(format!("k{offset}"))),
                Some(value.clone()),
                headers,
            );
            values.push((offset, value));
        }
        let Ok(bytes) = b.build() else {
            return;
        };
        let fate = if transactional {
            self.open.entry(pid).or_insert(base);
            Fate::Open(pid)
        } else {
            Fate::Plain
        };
        for (offset, value) in values {
            self.records.insert(offset, (value, fate));
        }
        self.push(base, base.saturating_add(count as i64), bytes);
    }

    fn push(&mut self, base: i64, next: i64, bytes: Bytes) {
        self.batches.push(Stored { base, next, bytes });
        self.end = next;
    }
}

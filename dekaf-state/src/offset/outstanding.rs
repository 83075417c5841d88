//! Records handed out and not yet acknowledged, per partition.
//!
//! Offsets in a log are increasing but not contiguous (compaction removes records, transaction
//! markers take offsets that are never handed out), so "the end of the contiguous acknowledged
//! prefix" is computed from the outstanding set, not by counting: the committable offset is the
//! lowest outstanding offset, or the position when nothing is outstanding. Memory is one entry
//! per outstanding record.

use std::collections::BTreeMap;

use super::types::FetchPosition;

/// One outstanding record: its leader epoch, and the leader epoch of the record handed out
/// just before it (what a commit of this offset must carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    epoch_before: Option<i32>,
}

/// The outstanding records of one partition.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outstanding {
    records: BTreeMap<i64, Entry>,
}

impl Outstanding {
    /// How many records are outstanding.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing is outstanding.
    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records `offset` as handed out; `epoch_before` is the leader epoch of the last record
    /// handed out before it.
    pub(crate) fn insert(&mut self, offset: i64, epoch_before: Option<i32>) {
        self.records.insert(offset, Entry { epoch_before });
    }

    /// Acknowledges `offset`; false if it was not outstanding.
    pub(crate) fn remove(&mut self, offset: i64) -> bool {
        self.records.remove(&offset).is_some()
    }

    /// Whether `offset` is outstanding.
    pub(crate) fn contains(&self, offset: i64) -> bool {
        self.records.contains_key(&offset)
    }

    /// Acknowledges everything; returns how many records that was.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.records.len();
        self.records.clear();
        n
    }

    /// The offset a commit may carry: the lowest outstanding offset (with the epoch of the
    /// record before it), or `position` when nothing is outstanding.
    pub(crate) fn committable(&self, position: FetchPosition) -> FetchPosition {
        match self.records.first_key_value() {
            Some((&offset, entry)) => FetchPosition {
                offset,
                leader_epoch: entry.epoch_before,
            },
            None => position,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(offset: i64) -> FetchPosition {
        FetchPosition {
            offset,
            leader_epoch: Some(1),
        }
    }

    #[test]
    fn committable_is_the_lowest_outstanding_offset_across_gaps() {
        let mut o = Outstanding::default();
        // 6 was compacted away, 8 is a transaction marker: never handed out. The leader
        // changed from epoch 1 to 2 between records 5 and 7.
        o.insert(5, Some(1));
        o.insert(7, Some(1));
        o.insert(9, Some(2));
        assert_eq!(o.committable(pos(10)).offset, 5);
        assert!(o.remove(7));
        assert_eq!(o.committable(pos(10)).offset, 5);
        assert!(o.remove(5));
        // Committing 9 says "7 was the last consumed", and 7 was written in epoch 2.
        assert_eq!(
            o.committable(pos(10)),
            FetchPosition {
                offset: 9,
                leader_epoch: Some(2)
            }
        );
        assert!(!o.remove(5));
        assert!(o.remove(9));
        assert_eq!(o.committable(pos(10)), pos(10));
        assert!(o.is_empty());
    }
}

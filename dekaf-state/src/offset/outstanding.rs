//! Records handed out and not yet acknowledged, per partition.
//!
//! Offsets in a log are increasing but not contiguous (compaction removes records, transaction
//! markers take offsets that are never handed out), so "the end of the contiguous acknowledged
//! prefix" is computed from the outstanding set, not by counting: the committable offset is the
//! lowest outstanding offset, or the position when nothing is outstanding. Memory is one entry
//! per outstanding record.
//!
//! Records are handed out in offset order, so the set is a queue sorted by offset: handing one
//! out appends, acknowledging everything empties it, and an acknowledgement out of order marks
//! its entry (entries marked at the front are dropped at once, so the front is always the
//! lowest outstanding offset).

use std::collections::VecDeque;

use super::types::FetchPosition;

/// One record handed out: its offset, the leader epoch of the record handed out just before it
/// (what a commit of this offset must carry), and whether it is still outstanding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    offset: i64,
    epoch_before: Option<i32>,
    acked: bool,
}

/// The outstanding records of one partition.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outstanding {
    /// Sorted by offset; the front entry is never acknowledged.
    records: VecDeque<Entry>,
    /// Entries not acknowledged.
    live: usize,
}

impl Outstanding {
    /// How many records are outstanding.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Whether nothing is outstanding.
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Records `offset` as handed out; `epoch_before` is the leader epoch of the last record
    /// handed out before it.
    pub(crate) fn insert(&mut self, offset: i64, epoch_before: Option<i32>) {
        let entry = Entry {
            offset,
            epoch_before,
            acked: false,
        };
        // Handed out in order: almost always past the last one.
        if self.records.back().is_none_or(|last| last.offset < offset) {
            self.records.push_back(entry);
            self.live += 1;
            return;
        }
        match self.records.binary_search_by_key(&offset, |e| e.offset) {
            Ok(i) => {
                if let Some(e) = self.records.get_mut(i) {
                    if e.acked {
                        self.live += 1;
                    }
                    *e = entry;
                }
            }
            Err(i) => {
                self.records.insert(i, entry);
                self.live += 1;
            }
        }
    }

    /// Acknowledges `offset`; false if it was not outstanding.
    pub(crate) fn remove(&mut self, offset: i64) -> bool {
        let Ok(i) = self.records.binary_search_by_key(&offset, |e| e.offset) else {
            return false;
        };
        match self.records.get_mut(i) {
            Some(e) if !e.acked => e.acked = true,
            _ => return false,
        }
        self.live -= 1;
        while self.records.front().is_some_and(|e| e.acked) {
            self.records.pop_front();
        }
        true
    }

    /// Whether `offset` is outstanding.
    pub(crate) fn contains(&self, offset: i64) -> bool {
        self.records
            .binary_search_by_key(&offset, |e| e.offset)
            .ok()
            .and_then(|i| self.records.get(i))
            .is_some_and(|e| !e.acked)
    }

    /// Acknowledges everything; returns how many records that was.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.live;
        self.records.clear();
        self.live = 0;
        n
    }

    /// The offset a commit may carry: the lowest outstanding offset (with the epoch of the
    /// record before it), or `position` when nothing is outstanding.
    pub(crate) fn committable(&self, position: FetchPosition) -> FetchPosition {
        match self.records.front() {
            Some(entry) => FetchPosition {
                offset: entry.offset,
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

    #[test]
    fn acknowledgements_in_any_order_keep_the_lowest_outstanding_offset() {
        let mut o = Outstanding::default();
        for offset in [2, 4, 5, 9, 12] {
            o.insert(offset, Some(offset as i32));
        }
        assert!(o.remove(9) && o.remove(4));
        assert!(!o.remove(9) && !o.remove(3));
        assert_eq!((o.len(), o.committable(pos(13)).offset), (3, 2));
        assert!(o.contains(5) && !o.contains(4) && !o.contains(9));
        assert!(o.remove(2));
        // 4 was acknowledged before: 5 is the lowest outstanding offset.
        assert_eq!(
            o.committable(pos(13)),
            FetchPosition {
                offset: 5,
                leader_epoch: Some(5)
            }
        );
        // Out of order (not the way records are handed out, but kept sorted all the same).
        o.insert(7, Some(7));
        o.insert(9, Some(1));
        assert_eq!(o.len(), 4);
        assert!(o.contains(7) && o.contains(9));
        assert!(o.remove(5) && o.remove(7));
        assert_eq!(o.committable(pos(13)).offset, 9);
        assert_eq!(o.clear(), 2);
        assert!(o.is_empty() && !o.contains(12));
        assert_eq!(o.committable(pos(13)), pos(13));
    }
}

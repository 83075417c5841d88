//! Commands from the application.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::backoff::after;
use super::commit::CommitOrigin;
use super::config::{AckMode, CommitPolicy};
use super::error::{LookupError, OffsetError};
use super::manager::OffsetManager;
use super::partition::{Lookup, OffsetSpec, PartitionState, Start};
use super::query::{Part, Query, QueryKind};
use super::types::{
    CommitId, FetchEpoch, FetchPosition, OffsetAndMetadata, QueryId, TopicPartition,
    TopicPartitionOffset, TopicPartitionTimestamp,
};

impl OffsetManager {
    fn check_open(&self) -> Result<(), OffsetError> {
        if self.closed {
            Err(OffsetError::Closed)
        } else {
            Ok(())
        }
    }

    fn check_group(&self) -> Result<(), OffsetError> {
        self.check_open()?;
        if self.config.group_id.is_none() {
            return Err(OffsetError::NoGroup);
        }
        Ok(())
    }

    fn check_assigned(&self, tp: &TopicPartition) -> Result<(), OffsetError> {
        if self.partitions.contains_key(tp) {
            Ok(())
        } else {
            Err(OffsetError::NotAssigned(tp.clone()))
        }
    }

    /// Checks a list of partition offsets: each assigned, non-negative, given once.
    fn check_offsets(&self, offsets: &[TopicPartitionOffset]) -> Result<(), OffsetError> {
        let mut seen = BTreeSet::new();
        for o in offsets {
            let tp = &o.topic_partition;
            if o.offset.offset < 0 {
                return Err(OffsetError::NegativeOffset {
                    partition: tp.clone(),
                    offset: o.offset.offset,
                });
            }
            self.check_assigned(tp)?;
            if !seen.insert(tp) {
                return Err(OffsetError::DuplicatePartition(tp.clone()));
            }
        }
        Ok(())
    }

    /// Replaces the assignment. Partitions kept keep their state; new ones look up their
    /// committed offset (or, without a group, reset by `auto_offset_reset`); removed ones are
    /// forgotten. In Auto mode, stored offsets not yet committed are committed first; the
    /// commit id is returned. Call it after [`release`](Self::release) when the application
    /// has finished with what it was handed.
    pub fn assign(
        &mut self,
        now: Instant,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<Option<CommitId>, OffsetError> {
        self.check_open()?;
        let commit = if self.config.effective_policy() != CommitPolicy::Explicit {
            self.auto_commit(now)
        } else {
            None
        };
        let wanted: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        let removed: Vec<TopicPartition> = self
            .partitions
            .keys()
            .filter(|tp| !wanted.contains(*tp))
            .cloned()
            .collect();
        for tp in removed {
            if let Some(p) = self.partitions.remove(&tp) {
                self.outstanding -= p.outstanding.len();
            }
        }
        for tp in wanted {
            if self.partitions.contains_key(&tp) {
                continue;
            }
            let start = if self.config.group_id.is_some() {
                Start::AwaitingCommitted(Lookup::default())
            } else {
                self.reset_start()
            };
            let epoch = self.fresh_epoch();
            self.partitions
                .insert(tp.clone(), PartitionState::new(Start::Ready, epoch));
            self.restart(&tp, start);
        }
        if let CommitPolicy::Interval(every) = self.config.effective_policy() {
            if self.next_auto_commit.is_none() {
                self.next_auto_commit = Some(after(now, every));
            }
        }
        Ok(commit)
    }

    fn check_fetched(
        &self,
        tp: &TopicPartition,
        epoch: FetchEpoch,
    ) -> Result<FetchPosition, OffsetError> {
        self.check_open()?;
        let p = self
            .partitions
            .get(tp)
            .ok_or_else(|| OffsetError::NotAssigned(tp.clone()))?;
        if p.epoch != epoch {
            return Err(OffsetError::StaleFetch(tp.clone()));
        }
        p.position
            .ok_or_else(|| OffsetError::NoPosition(tp.clone()))
    }

    /// The record at `offset` of `tp`, fetched under `epoch`, is handed to the application.
    /// Records of a partition are handed out in offset order; `leader_epoch` is the record's
    /// batch leader epoch. Refused at the cap ([`delivery_capacity`](Self::delivery_capacity)
    /// is 0).
    pub fn deliver(
        &mut self,
        _now: Instant,
        tp: &TopicPartition,
        epoch: FetchEpoch,
        offset: i64,
        leader_epoch: Option<i32>,
    ) -> Result<(), OffsetError> {
        let position = self.check_fetched(tp, epoch)?;
        if offset < position.offset {
            return Err(OffsetError::OutOfOrder {
                partition: tp.clone(),
                offset,
                position: position.offset,
            });
        }
        if self.outstanding >= self.config.max_outstanding {
            return Err(OffsetError::Backpressure {
                limit: self.config.max_outstanding,
            });
        }
        let Some(p) = self.partitions.get_mut(tp) else {
            return Err(OffsetError::NotAssigned(tp.clone()));
        };
        p.outstanding.insert(offset, position.leader_epoch);
        let next = FetchPosition {
            offset: offset.saturating_add(1),
            leader_epoch: leader_epoch.or(position.leader_epoch),
        };
        p.position = Some(next);
        if p.fetch.is_none_or(|f| f.offset < next.offset) {
            p.fetch = Some(next);
        }
        self.outstanding += 1;
        Ok(())
    }

    /// Offsets of `tp` below `next_offset` were skipped without being handed out (control
    /// records, aborted transactions, filtered records): the position moves past them.
    pub fn advance(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        epoch: FetchEpoch,
        next_offset: i64,
    ) -> Result<(), OffsetError> {
        let position = self.check_fetched(tp, epoch)?;
        if next_offset <= position.offset {
            return Ok(());
        }
        if let Some(p) = self.partitions.get_mut(tp) {
            p.position = Some(FetchPosition {
                offset: next_offset,
                leader_epoch: position.leader_epoch,
            });
            if p.fetch.is_none_or(|f| f.offset < next_offset) {
                p.fetch = p.position;
            }
        }
        self.refresh_stored(tp);
        self.maybe_commit_by_count(now);
        Ok(())
    }

    /// The application asked for the next record or batch. With [`AckMode::OnRelease`] every
    /// record handed out so far is acknowledged (and, with automatic stores, stored); with
    /// [`AckMode::Explicit`] nothing happens.
    pub fn release(&mut self, now: Instant) {
        if self.config.ack_mode != AckMode::OnRelease {
            return;
        }
        let touched: Vec<TopicPartition> = self
            .partitions
            .iter()
            .filter(|(_, p)| !p.outstanding.is_empty())
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in &touched {
            if let Some(p) = self.partitions.get_mut(tp) {
                let n = p.outstanding.clear();
                self.outstanding -= n;
                self.acked_since_commit += n as u64;
            }
            self.refresh_stored(tp);
        }
        self.maybe_commit_by_count(now);
    }

    /// The record at `offset` of `tp` is processed (any order). The committable offset moves to
    /// the end of the acknowledged prefix.
    pub fn ack(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        offset: i64,
    ) -> Result<(), OffsetError> {
        self.check_open()?;
        let p = self
            .partitions
            .get_mut(tp)
            .ok_or_else(|| OffsetError::NotAssigned(tp.clone()))?;
        if !p.outstanding.remove(offset) {
            return Err(OffsetError::NotOutstanding {
                partition: tp.clone(),
                offset,
            });
        }
        self.outstanding -= 1;
        self.acked_since_commit += 1;
        self.refresh_stored(tp);
        self.maybe_commit_by_count(now);
        Ok(())
    }

    /// Whether `offset` of `tp` is handed out and not yet acknowledged.
    pub fn is_outstanding(&self, tp: &TopicPartition, offset: i64) -> bool {
        self.partitions
            .get(tp)
            .is_some_and(|p| p.outstanding.contains(offset))
    }

    /// The record at `offset` of `tp` (handed out already) is done: the next commit of `tp`
    /// sends `offset + 1` with the record's leader epoch.
    pub fn store(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        offset: i64,
        leader_epoch: Option<i32>,
    ) -> Result<(), OffsetError> {
        self.store_offsets(
            now,
            [
                TopicPartitionOffset::at(tp.clone(), offset.saturating_add(1))
                    .with_leader_epoch(leader_epoch),
            ],
        )
    }

    /// Stores offsets to be committed later (by Auto mode or the next `commit`): each the next
    /// offset to consume, at most the partition's position. All or nothing.
    pub fn store_offsets(
        &mut self,
        now: Instant,
        offsets: impl IntoIterator<Item = TopicPartitionOffset>,
    ) -> Result<(), OffsetError> {
        self.check_open()?;
        let offsets: Vec<TopicPartitionOffset> = offsets.into_iter().collect();
        self.check_offsets(&offsets)?;
        for o in &offsets {
            let position = self.position(&o.topic_partition).map(|p| p.offset);
            if position.is_none_or(|p| o.offset.offset > p) {
                return Err(OffsetError::NotConsumed {
                    partition: o.topic_partition.clone(),
                    offset: o.offset.offset,
                    position,
                });
            }
        }
        let n = offsets.len() as u64;
        for o in offsets {
            if let Some(p) = self.partitions.get_mut(&o.topic_partition) {
                p.stored = Some(o.offset);
                p.moved = false;
            }
        }
        self.acked_since_commit += n;
        self.maybe_commit_by_count(now);
        Ok(())
    }

    /// Commits everything consumed: acknowledges what was handed out (as a release would), then
    /// commits the committable offset of every assigned partition with a position (the
    /// position, "the offset of the next message to consume", unless explicit acks are
    /// missing). The offsets become the stored ones. The outcome arrives as
    /// [`Event::CommitFinished`](super::Event::CommitFinished) with the returned id.
    pub fn commit(&mut self, now: Instant) -> Result<CommitId, OffsetError> {
        self.check_group()?;
        self.release(now);
        let mut offsets = BTreeMap::new();
        for (tp, p) in self.partitions.iter_mut() {
            let Some(c) = p.committable() else { continue };
            let mut om = OffsetAndMetadata::new(c.offset).with_leader_epoch(c.leader_epoch);
            if let Some(s) = &p.stored {
                if s.offset == c.offset {
                    om = s.clone();
                }
            }
            p.stored = Some(om.clone());
            p.moved = false;
            offsets.insert(tp.clone(), om);
        }
        Ok(self.submit(now, offsets, CommitOrigin::Explicit))
    }

    /// Commits exactly these offsets (each the next offset to consume, with optional leader
    /// epoch and metadata); they become the stored ones. All partitions must be assigned,
    /// offsets non-negative, each partition given once.
    pub fn commit_offsets(
        &mut self,
        now: Instant,
        offsets: impl IntoIterator<Item = TopicPartitionOffset>,
    ) -> Result<CommitId, OffsetError> {
        self.check_group()?;
        let offsets: Vec<TopicPartitionOffset> = offsets.into_iter().collect();
        self.check_offsets(&offsets)?;
        let mut map = BTreeMap::new();
        for o in offsets {
            if let Some(p) = self.partitions.get_mut(&o.topic_partition) {
                p.stored = Some(o.offset.clone());
                p.moved = false;
            }
            map.insert(o.topic_partition, o.offset);
        }
        Ok(self.submit(now, map, CommitOrigin::Explicit))
    }

    /// Moves the position (and fetch position) of a partition to an offset. Buffered and
    /// in-flight fetched data from before becomes unwanted, outstanding records are dropped.
    /// Nothing is stored or committed until records from the new position are acknowledged or
    /// `commit` is called.
    pub fn seek(&mut self, _now: Instant, to: TopicPartitionOffset) -> Result<(), OffsetError> {
        self.check_open()?;
        self.check_offsets(std::slice::from_ref(&to))?;
        self.place(
            &to.topic_partition,
            FetchPosition {
                offset: to.offset.offset,
                leader_epoch: to.offset.leader_epoch,
            },
        );
        Ok(())
    }

    fn seek_spec(
        &mut self,
        partitions: Vec<(TopicPartition, OffsetSpec)>,
    ) -> Result<(), OffsetError> {
        self.check_open()?;
        let mut seen = BTreeSet::new();
        for (tp, _) in &partitions {
            self.check_assigned(tp)?;
            if !seen.insert(tp) {
                return Err(OffsetError::DuplicatePartition(tp.clone()));
            }
        }
        for (tp, spec) in partitions {
            self.restart(&tp, Start::AwaitingReset(spec, Lookup::default()));
        }
        Ok(())
    }

    /// Moves partitions to their log start offset (ListOffsets EARLIEST, not literally 0). The
    /// position is unknown until the answer comes.
    pub fn seek_to_beginning(
        &mut self,
        _now: Instant,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), OffsetError> {
        self.seek_spec(
            partitions
                .into_iter()
                .map(|tp| (tp, OffsetSpec::Earliest))
                .collect(),
        )
    }

    /// Moves partitions to their log end offset (ListOffsets LATEST).
    pub fn seek_to_end(
        &mut self,
        _now: Instant,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), OffsetError> {
        self.seek_spec(
            partitions
                .into_iter()
                .map(|tp| (tp, OffsetSpec::Latest))
                .collect(),
        )
    }

    /// Moves partitions to the first offset at or after a time; to the end if no record is
    /// that recent.
    pub fn seek_to_timestamp(
        &mut self,
        _now: Instant,
        partitions: impl IntoIterator<Item = TopicPartitionTimestamp>,
    ) -> Result<(), OffsetError> {
        let partitions: Vec<_> = partitions
            .into_iter()
            .map(|t| (t.topic_partition, OffsetSpec::Timestamp(t.timestamp)))
            .collect();
        for (tp, spec) in &partitions {
            if let OffsetSpec::Timestamp(ts) = spec {
                if *ts < 0 {
                    return Err(OffsetError::NegativeTimestamp {
                        partition: tp.clone(),
                        timestamp: *ts,
                    });
                }
            }
        }
        self.seek_spec(partitions)
    }

    fn start_query(
        &mut self,
        now: Instant,
        kind: QueryKind,
        parts: BTreeMap<TopicPartition, Part>,
    ) -> QueryId {
        let id = self.query_id();
        let query = Query {
            id,
            kind,
            deadline: after(now, self.config.query_timeout),
            last_error: None,
            parts,
        };
        if query.is_complete() {
            self.events.push_back(query.finish(None));
        } else {
            self.queries.insert(id, query);
        }
        id
    }

    /// Looks up the committed offsets of partitions (assigned or not) at the coordinator; the
    /// answer arrives as [`Event::Committed`](super::Event::Committed) and refreshes [`committed`](Self::committed) for
    /// assigned ones.
    pub fn fetch_committed(
        &mut self,
        now: Instant,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<QueryId, OffsetError> {
        self.check_group()?;
        let mut parts = BTreeMap::new();
        for tp in partitions {
            if parts.insert(tp.clone(), Part::default()).is_some() {
                return Err(OffsetError::DuplicatePartition(tp));
            }
        }
        Ok(self.start_query(now, QueryKind::Committed, parts))
    }

    /// Finds, per partition (assigned or not), the first offset whose timestamp is at or after
    /// the given time, without seeking; the answer arrives as [`Event::OffsetsForTimes`](super::Event::OffsetsForTimes).
    pub fn offsets_for_times(
        &mut self,
        now: Instant,
        times: impl IntoIterator<Item = TopicPartitionTimestamp>,
    ) -> Result<QueryId, OffsetError> {
        self.check_open()?;
        let mut parts = BTreeMap::new();
        for t in times {
            if t.timestamp < 0 {
                return Err(OffsetError::NegativeTimestamp {
                    partition: t.topic_partition,
                    timestamp: t.timestamp,
                });
            }
            let part = Part {
                timestamp: t.timestamp,
                ..Part::default()
            };
            if parts.insert(t.topic_partition.clone(), part).is_some() {
                return Err(OffsetError::DuplicatePartition(t.topic_partition));
            }
        }
        Ok(self.start_query(now, QueryKind::Times, parts))
    }

    fn set_paused(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
        paused: bool,
    ) -> Result<(), OffsetError> {
        let partitions: Vec<_> = partitions.into_iter().collect();
        for tp in &partitions {
            self.check_assigned(tp)?;
        }
        for tp in &partitions {
            if let Some(p) = self.partitions.get_mut(tp) {
                p.paused = paused;
            }
        }
        Ok(())
    }

    /// Stops fetching these partitions; positions and buffered data are kept.
    pub fn pause(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), OffsetError> {
        self.set_paused(partitions, true)
    }

    /// Fetches these partitions again.
    pub fn resume(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), OffsetError> {
        self.set_paused(partitions, false)
    }

    /// Closes: acknowledges what was handed out (as a release would), commits stored offsets
    /// in Auto mode (the id is returned), fails open queries and stops everything else. Commits
    /// already queued or in flight go on; a driver waits until
    /// [`has_pending_commits`](Self::has_pending_commits) is false (or its own deadline).
    pub fn close(&mut self, now: Instant) -> Option<CommitId> {
        if self.closed {
            return None;
        }
        self.release(now);
        let commit = if self.config.effective_policy() != CommitPolicy::Explicit {
            self.auto_commit(now)
        } else {
            None
        };
        self.closed = true;
        self.next_auto_commit = None;
        let queries = std::mem::take(&mut self.queries);
        for query in queries.into_values() {
            self.events
                .push_back(query.finish(Some(LookupError::Closed)));
        }
        self.intents
            .retain(|_, kind| !matches!(kind, super::manager::IntentKind::Query(..)));
        commit
    }
}

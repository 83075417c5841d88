//! Commands from the application.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::backoff::after;
use super::commit::CommitOrigin;
use super::config::CommitPolicy;
use super::error::{LookupError, OffsetError};
use super::manager::OffsetManager;
use super::partition::{Lookup, OffsetSpec, PartitionState, Start};
use super::query::{Part, Query, QueryKind};
use super::types::{
    check_topic_name, CommitId, FetchPosition, OffsetAndMetadata, QueryId, TopicPartition,
    TopicPartitionOffset, TopicPartitionTimestamp,
};

impl OffsetManager {
    pub(super) fn check_open(&self) -> Result<(), OffsetError> {
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
    pub(super) fn check_offsets(
        &self,
        offsets: &[TopicPartitionOffset],
    ) -> Result<(), OffsetError> {
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
        let wanted: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        for tp in &wanted {
            check_topic_name(tp.topic())?;
            if tp.partition() < 0 {
                return Err(OffsetError::InvalidPartition(tp.clone()));
            }
        }
        let commit = if self.config.effective_policy() != CommitPolicy::Explicit {
            self.auto_commit(now)
        } else {
            None
        };
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
        // Partitions of one topic share its name (one allocation; they compare faster).
        let mut names: Vec<std::sync::Arc<str>> = Vec::new();
        for tp in self.partitions.keys() {
            if names.last() != Some(tp.topic_arc()) {
                names.push(tp.topic_arc().clone());
            }
        }
        for tp in wanted {
            if self.partitions.contains_key(&tp) {
                continue;
            }
            let tp = match names.iter().find(|n| **n == *tp.topic_arc()) {
                Some(name) => TopicPartition::new(name.clone(), tp.partition()),
                None => {
                    names.push(tp.topic_arc().clone());
                    tp
                }
            };
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
        self.shut(now, true)
    }

    /// Closes as [`close`](Self::close) does, except that records handed out since the last
    /// release do not count as processed: Auto mode commits only what was acknowledged or
    /// stored before. This is the close of an application that stopped in the middle of its
    /// work (an error, a panic), so that the record it was processing is delivered again.
    pub fn abandon(&mut self, now: Instant) -> Option<CommitId> {
        self.shut(now, false)
    }

    fn shut(&mut self, now: Instant, release: bool) -> Option<CommitId> {
        if self.closed {
            return None;
        }
        if release {
            self.release(now);
        }
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

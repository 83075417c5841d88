//! Handing records out and acknowledging them, and storing offsets: the commands that move
//! positions and stored offsets forward.

use std::time::Instant;

use super::config::AckMode;
use super::error::OffsetError;
use super::manager::OffsetManager;
use super::types::{FetchEpoch, FetchPosition, TopicPartition, TopicPartitionOffset};

impl OffsetManager {
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
        now: Instant,
        tp: &TopicPartition,
        epoch: FetchEpoch,
        offset: i64,
        leader_epoch: Option<i32>,
    ) -> Result<(), OffsetError> {
        self.deliver_run(now, tp, epoch, [(offset, leader_epoch)]).1
    }

    /// [`deliver`](Self::deliver) for several records of one partition in a row, each an
    /// (offset, leader epoch): the partition is looked up once. Returns how many were handed
    /// out, and the refusal that stopped the run, if any.
    pub(crate) fn deliver_run(
        &mut self,
        _now: Instant,
        tp: &TopicPartition,
        epoch: FetchEpoch,
        records: impl IntoIterator<Item = (i64, Option<i32>)>,
    ) -> (usize, Result<(), OffsetError>) {
        if let Err(e) = self.check_open() {
            return (0, Err(e));
        }
        let Some(p) = self.partitions.get_mut(tp) else {
            return (0, Err(OffsetError::NotAssigned(tp.clone())));
        };
        if p.epoch != epoch {
            return (0, Err(OffsetError::StaleFetch(tp.clone())));
        }
        let on_release = self.config.ack_mode == AckMode::OnRelease;
        let mut delivered = 0;
        for (offset, leader_epoch) in records {
            let Some(position) = p.position else {
                return (delivered, Err(OffsetError::NoPosition(tp.clone())));
            };
            if offset < position.offset {
                return (
                    delivered,
                    Err(OffsetError::OutOfOrder {
                        partition: tp.clone(),
                        offset,
                        position: position.offset,
                    }),
                );
            }
            if self.outstanding >= self.config.max_outstanding {
                return (
                    delivered,
                    Err(OffsetError::Backpressure {
                        limit: self.config.max_outstanding,
                    }),
                );
            }
            if on_release && p.outstanding.is_empty() && !self.released.contains(tp) {
                self.released.push(tp.clone());
            }
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
            delivered += 1;
        }
        (delivered, Ok(()))
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
        // Only the partitions something was handed out of since the last release: not every
        // assigned partition for every record.
        let mut touched = std::mem::take(&mut self.released);
        if touched.len() > 1 {
            touched.sort_unstable();
        }
        for tp in &touched {
            let Some(p) = self.partitions.get_mut(tp) else {
                continue;
            };
            // Emptied since by a seek, reset or reassignment: nothing to acknowledge.
            if p.outstanding.is_empty() {
                continue;
            }
            let n = p.outstanding.clear();
            self.outstanding -= n;
            self.acked_since_commit += n as u64;
            if self.config.auto_store {
                p.refresh_stored();
            }
        }
        touched.clear();
        self.released = touched;
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
}

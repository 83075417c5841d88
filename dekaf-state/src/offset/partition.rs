//! The offsets of one assigned partition.

use std::time::Instant;

use super::error::PositionError;
use super::outstanding::Outstanding;
use super::types::{FetchEpoch, FetchPosition, IntentId, OffsetAndMetadata};

/// Which ListOffsets question finds a position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OffsetSpec {
    /// The log start offset (not literally 0: retention may have removed the first records).
    Earliest,
    /// The log end offset (the last stable offset under read_committed).
    Latest,
    /// The first offset whose timestamp is at or after this time (ms since the Unix epoch).
    Timestamp(i64),
}

/// How far a partition is in getting a starting position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PositionState {
    /// Waiting for its committed offset (OffsetFetch).
    AwaitingCommitted,
    /// Waiting for a ListOffsets answer (a reset or a seek to beginning, end or timestamp).
    AwaitingReset(OffsetSpec),
    /// Has a position, but the partition's leader changed since it was read: not fetched
    /// until the new leader confirms the log still holds it (OffsetForLeaderEpoch).
    AwaitingValidation,
    /// Has a position: it may be fetched and its records handed out.
    Ready,
    /// Could not get a position; not fetched until a seek or a new assignment.
    Failed(PositionError),
}

/// A lookup the partition is waiting for, with its retry state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lookup {
    /// The intent carrying the question, while it is out.
    pub(crate) intent: Option<IntentId>,
    /// Not asked again before this time (a backoff after a retriable failure).
    pub(crate) not_before: Option<Instant>,
    /// How many attempts failed so far.
    pub(crate) attempt: u32,
}

impl Lookup {
    /// Whether the question may be (re)sent at `now`.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.intent.is_none() && self.not_before.is_none_or(|t| t <= now)
    }
}

/// The start state with its bookkeeping.
#[derive(Clone, Debug)]
pub(crate) enum Start {
    AwaitingCommitted(Lookup),
    AwaitingReset(OffsetSpec, Lookup),
    /// The lookup's retry state, and whether a question is out.
    AwaitingValidation(Lookup, bool),
    Ready,
    Failed(PositionError),
}

impl Start {
    pub(crate) fn public(&self) -> PositionState {
        match self {
            Start::AwaitingCommitted(_) => PositionState::AwaitingCommitted,
            Start::AwaitingReset(spec, _) => PositionState::AwaitingReset(*spec),
            Start::AwaitingValidation(..) => PositionState::AwaitingValidation,
            Start::Ready => PositionState::Ready,
            Start::Failed(e) => PositionState::Failed(e.clone()),
        }
    }
}

/// Everything the machine knows about one assigned partition.
#[derive(Clone, Debug)]
pub(crate) struct PartitionState {
    /// How the starting position is found.
    pub(crate) start: Start,
    /// The next offset to fetch (ahead of `position` by what is buffered).
    pub(crate) fetch: Option<FetchPosition>,
    /// The next offset to hand to the application.
    pub(crate) position: Option<FetchPosition>,
    /// What the next commit of this partition sends.
    pub(crate) stored: Option<OffsetAndMetadata>,
    /// Set by seeks and resets: the next automatic store may move the stored offset backwards.
    pub(crate) moved: bool,
    /// Where the position was last placed (seek, reset, committed offset): while `moved`, an
    /// automatic store needs acknowledged progress beyond it.
    pub(crate) placed_at: i64,
    /// The last offset the coordinator acknowledged, or reported by a lookup.
    pub(crate) committed: Option<OffsetAndMetadata>,
    /// Sequence number of the coordinator request that set `committed` (older answers lose).
    pub(crate) committed_seq: u64,
    /// Handed out and not yet acknowledged.
    pub(crate) outstanding: Outstanding,
    /// Bumped by seeks, resets and reassignment; tags fetched data.
    pub(crate) epoch: FetchEpoch,
    /// From the last fetch response.
    pub(crate) high_watermark: Option<i64>,
    /// From the last fetch response.
    pub(crate) last_stable_offset: Option<i64>,
    /// From the last fetch response.
    pub(crate) log_start_offset: Option<i64>,
    /// Not fetched while paused.
    pub(crate) paused: bool,
}

impl PartitionState {
    pub(crate) fn new(start: Start, epoch: FetchEpoch) -> Self {
        PartitionState {
            start,
            fetch: None,
            position: None,
            stored: None,
            moved: false,
            placed_at: 0,
            committed: None,
            committed_seq: 0,
            outstanding: Outstanding::default(),
            epoch,
            high_watermark: None,
            last_stable_offset: None,
            log_start_offset: None,
            paused: false,
        }
    }

    /// The offset the next automatic store would use: the end of the acknowledged prefix.
    pub(crate) fn committable(&self) -> Option<FetchPosition> {
        self.position.map(|p| self.outstanding.committable(p))
    }

    /// Automatic stores: moves the stored offset to the end of the acknowledged prefix, forward
    /// only, except once after a seek or reset, and only once something was acknowledged
    /// beyond where the position was placed.
    pub(crate) fn refresh_stored(&mut self) {
        let Some(c) = self.committable() else { return };
        if self.moved && c.offset == self.placed_at {
            // Nothing acknowledged since the position was placed: nothing to store.
            return;
        }
        let forward = self.stored.as_ref().is_none_or(|s| c.offset > s.offset);
        let changed = self.stored.as_ref().is_none_or(|s| c.offset != s.offset);
        if forward || (self.moved && changed) {
            self.stored = Some(OffsetAndMetadata::new(c.offset).with_leader_epoch(c.leader_epoch));
            self.moved = false;
        }
    }

    /// Sets both positions (a seek, a reset or the committed offset) and starts a new epoch.
    /// Returns how many outstanding records were dropped.
    pub(crate) fn set_position(&mut self, position: FetchPosition, epoch: FetchEpoch) -> usize {
        self.fetch = Some(position);
        self.position = Some(position);
        self.start = Start::Ready;
        self.moved = true;
        self.placed_at = position.offset;
        self.epoch = epoch;
        self.outstanding.clear()
    }

    /// Forgets the position until `start` finds a new one, starting a new epoch. Returns how
    /// many outstanding records were dropped.
    pub(crate) fn unset_position(&mut self, start: Start, epoch: FetchEpoch) -> usize {
        self.fetch = None;
        self.position = None;
        self.start = start;
        self.moved = true;
        self.epoch = epoch;
        self.outstanding.clear()
    }

    /// Sets the committed offset learned from request `seq`, unless a later request already did.
    pub(crate) fn learn_committed(&mut self, seq: u64, committed: Option<OffsetAndMetadata>) {
        if seq > self.committed_seq {
            self.committed_seq = seq;
            self.committed = committed;
        }
    }
}

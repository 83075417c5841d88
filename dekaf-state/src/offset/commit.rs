//! The commit lifecycle: tickets (one per commit id), the queued batch and the batch in flight.
//!
//! At most one batch is in flight and at most one is queued. A new commit merges into the
//! queued batch: for a partition in both, the newer offset wins, and the older commit's ticket
//! rides along, finishing with the result of the request that carried the newer offset. A
//! retry of the batch in flight merges the same way, as the older of the two. Each ticket lives
//! in exactly one batch and is removed when it finishes, so it finishes exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use dekaf_proto::ErrorCode;

use super::error::{CommitError, PartitionCommitError};
use super::types::{CommitId, IntentId, OffsetAndMetadata, TopicPartition};

/// Who asked for a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommitOrigin {
    /// The application (`commit`, `commit_offsets`).
    Explicit,
    /// The Auto mode policy, an assignment change, a settled group or `close`.
    Auto,
}

/// One commit id waiting for its outcome.
#[derive(Clone, Debug)]
pub(crate) struct Ticket {
    pub(crate) id: CommitId,
    pub(crate) origin: CommitOrigin,
    pub(crate) deadline: Instant,
    /// Partitions of this commit without a final answer yet.
    pub(crate) remaining: BTreeSet<TopicPartition>,
    /// Partitions refused for good.
    pub(crate) failed: Vec<PartitionCommitError>,
    /// Set when a partition was refused because of a rebalance.
    pub(crate) rebalance: Option<ErrorCode>,
}

impl Ticket {
    /// The outcome, once `remaining` is empty.
    pub(crate) fn outcome(&self) -> Result<(), CommitError> {
        match CommitError::from_parts(self.rebalance, self.failed.clone()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Offsets to send in one OffsetCommit, and the tickets waiting on them.
#[derive(Clone, Debug)]
pub(crate) struct Batch {
    pub(crate) offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    pub(crate) tickets: Vec<Ticket>,
    /// Failed attempts so far (drives the backoff).
    pub(crate) attempt: u32,
    /// Not sent before this time.
    pub(crate) not_before: Option<Instant>,
    /// The last error code seen, reported if the deadline passes.
    pub(crate) last_error: Option<ErrorCode>,
}

impl Batch {
    /// Merges `newer` into `self`: newer offsets win, all tickets are kept.
    fn absorb(&mut self, newer: Batch) {
        self.offsets.extend(newer.offsets);
        self.tickets.extend(newer.tickets);
        self.attempt = self.attempt.max(newer.attempt);
        self.not_before = self.not_before.max(newer.not_before);
        self.last_error = newer.last_error.or(self.last_error);
    }
}

/// The batch in flight and the request sequence number it was sent with.
#[derive(Clone, Debug)]
pub(crate) struct InFlight {
    pub(crate) intent: IntentId,
    pub(crate) seq: u64,
    pub(crate) batch: Batch,
    /// Set when the group started rebalancing while the batch was on the way: it carries the
    /// old generation, so it is never retried (the partitions may belong to someone else).
    pub(crate) rebalanced: bool,
    /// When the request was handed out.
    pub(crate) sent_at: Instant,
}

/// What the broker said about one partition of the batch in flight, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PartitionOutcome {
    Committed,
    Rebalance(ErrorCode),
    Retry(Option<ErrorCode>),
    Failed(ErrorCode),
}

/// The queued and in-flight commits.
#[derive(Clone, Debug, Default)]
pub(crate) struct Commits {
    pub(crate) queued: Option<Batch>,
    pub(crate) in_flight: Option<InFlight>,
}

impl Commits {
    /// Queues `newer`, merging it into the queued batch.
    pub(crate) fn enqueue(&mut self, newer: Batch) {
        match &mut self.queued {
            Some(queued) if !cfg!(dekaf_mutant = "commit_coalescing") => queued.absorb(newer),
            _ => self.queued = Some(newer),
        }
    }

    /// Queues a retry of an older batch: everything already queued is newer and wins.
    pub(crate) fn requeue_older(&mut self, mut older: Batch) {
        if let Some(newer) = self.queued.take() {
            older.absorb(newer);
        }
        self.queued = Some(older);
    }

    /// The offset most recently asked for `tp`: queued, else in flight.
    pub(crate) fn latest_requested(&self, tp: &TopicPartition) -> Option<&OffsetAndMetadata> {
        self.queued
            .as_ref()
            .and_then(|b| b.offsets.get(tp))
            .or_else(|| {
                self.in_flight
                    .as_ref()
                    .and_then(|f| f.batch.offsets.get(tp))
            })
    }

    /// Whether the queued batch may be sent at `now` (nothing in flight, backoff over).
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.in_flight.is_none()
            && self
                .queued
                .as_ref()
                .is_some_and(|b| b.not_before.is_none_or(|t| t <= now))
    }

    /// Removes and returns every ticket whose deadline is at or before `now`, with the last
    /// error its batch saw. A queued batch left without tickets is dropped.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(Ticket, Option<ErrorCode>)> {
        let mut expired = Vec::new();
        let batches = self
            .queued
            .iter_mut()
            .chain(self.in_flight.iter_mut().map(|f| &mut f.batch));
        for batch in batches {
            let (gone, kept): (Vec<_>, Vec<_>) =
                batch.tickets.drain(..).partition(|t| t.deadline <= now);
            batch.tickets = kept;
            expired.extend(gone.into_iter().map(|t| (t, batch.last_error)));
        }
        if self.queued.as_ref().is_some_and(|b| b.tickets.is_empty()) {
            self.queued = None;
        }
        expired
    }

    /// Removes the queued batch and returns its tickets.
    pub(crate) fn drain_queued(&mut self) -> Vec<Ticket> {
        self.queued.take().map(|b| b.tickets).unwrap_or_default()
    }

    /// The earliest time something queued or in flight needs attention.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        let deadlines = self
            .queued
            .iter()
            .chain(self.in_flight.iter().map(|f| &f.batch))
            .flat_map(|b| b.tickets.iter().map(|t| t.deadline));
        let backoff = self.queued.as_ref().and_then(|b| b.not_before);
        deadlines.chain(backoff).min()
    }
}

/// Applies the outcomes of the batch that was in flight to its tickets. Returns the tickets
/// that finished and, if some partitions must be retried, a batch for them (tickets included).
pub(crate) fn settle(
    batch: Batch,
    outcomes: &BTreeMap<TopicPartition, PartitionOutcome>,
) -> (Vec<Ticket>, Option<Batch>) {
    let mut finished = Vec::new();
    let mut waiting = Vec::new();
    let mut last_error = batch.last_error;
    for outcome in outcomes.values() {
        match outcome {
            PartitionOutcome::Rebalance(c)
            | PartitionOutcome::Failed(c)
            | PartitionOutcome::Retry(Some(c)) => last_error = Some(*c),
            _ => {}
        }
    }
    for mut ticket in batch.tickets {
        let parts: Vec<TopicPartition> = ticket.remaining.iter().cloned().collect();
        for tp in parts {
            let outcome = outcomes
                .get(&tp)
                .copied()
                .unwrap_or(PartitionOutcome::Retry(None));
            match outcome {
                PartitionOutcome::Committed => {
                    ticket.remaining.remove(&tp);
                }
                PartitionOutcome::Rebalance(code) => {
                    ticket.remaining.remove(&tp);
                    ticket.rebalance = Some(code);
                }
                PartitionOutcome::Failed(code) => {
                    ticket.remaining.remove(&tp);
                    ticket.failed.push(PartitionCommitError {
                        partition: tp,
                        code,
                    });
                }
                PartitionOutcome::Retry(_) => {}
            }
        }
        if ticket.remaining.is_empty() {
            finished.push(ticket);
        } else {
            waiting.push(ticket);
        }
    }
    if waiting.is_empty() {
        return (finished, None);
    }
    let wanted: BTreeSet<&TopicPartition> = waiting.iter().flat_map(|t| &t.remaining).collect();
    let offsets = batch
        .offsets
        .iter()
        .filter(|(tp, _)| wanted.contains(tp))
        .map(|(tp, o)| (tp.clone(), o.clone()))
        .collect();
    let retry = Batch {
        offsets,
        tickets: waiting,
        attempt: batch.attempt.saturating_add(1),
        not_before: None,
        last_error,
    };
    (finished, Some(retry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[allow(clippy::disallowed_methods)] // one base instant; every other time is an offset from it
    fn base() -> Instant {
        Instant::now()
    }

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn batch(id: u64, now: Instant, offsets: &[(i32, i64)]) -> Batch {
        Batch {
            offsets: offsets
                .iter()
                .map(|&(p, o)| (tp(p), OffsetAndMetadata::new(o)))
                .collect(),
            tickets: vec![Ticket {
                id: CommitId(id),
                origin: CommitOrigin::Explicit,
                deadline: now + Duration::from_secs(id),
                remaining: offsets.iter().map(|&(p, _)| tp(p)).collect(),
                failed: vec![],
                rebalance: None,
            }],
            attempt: 0,
            not_before: None,
            last_error: None,
        }
    }

    #[test]
    fn newer_queued_offsets_win_and_older_tickets_ride_along() {
        let now = base();
        let mut c = Commits::default();
        c.enqueue(batch(1, now, &[(0, 10), (1, 5)]));
        c.enqueue(batch(2, now, &[(0, 12)]));
        let q = c.queued.as_ref().unwrap();
        assert_eq!(q.offsets[&tp(0)].offset, 12);
        assert_eq!(q.offsets[&tp(1)].offset, 5);
        assert_eq!(q.tickets.len(), 2);
        // A retry of something older never beats what is queued.
        c.requeue_older(batch(3, now, &[(0, 11), (2, 1)]));
        let q = c.queued.as_ref().unwrap();
        assert_eq!(q.offsets[&tp(0)].offset, 12);
        assert_eq!(q.offsets[&tp(2)].offset, 1);
        assert_eq!(q.tickets.len(), 3);
    }

    #[test]
    fn settle_finishes_each_ticket_from_its_own_partitions() {
        let now = base();
        let mut b = batch(1, now, &[(0, 10)]);
        b.absorb(batch(2, now, &[(1, 5), (2, 7)]));
        let outcomes = BTreeMap::from([
            (tp(0), PartitionOutcome::Committed),
            (
                tp(1),
                PartitionOutcome::Failed(ErrorCode::OFFSET_METADATA_TOO_LARGE),
            ),
            (
                tp(2),
                PartitionOutcome::Retry(Some(ErrorCode::REQUEST_TIMED_OUT)),
            ),
        ]);
        let (finished, retry) = settle(b, &outcomes);
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].id, CommitId(1));
        assert_eq!(finished[0].outcome(), Ok(()));
        let retry = retry.unwrap();
        assert_eq!(retry.offsets.keys().collect::<Vec<_>>(), [&tp(2)]);
        assert_eq!(retry.attempt, 1);
        assert_eq!(retry.tickets[0].failed.len(), 1);
        assert!(retry.last_error.is_some());
    }

    #[test]
    fn expire_removes_tickets_and_drops_an_empty_queued_batch() {
        let now = base();
        let mut c = Commits::default();
        c.enqueue(batch(1, now, &[(0, 10)]));
        assert_eq!(c.next_timeout(), Some(now + Duration::from_secs(1)));
        assert!(c.expire(now).is_empty());
        let gone = c.expire(now + Duration::from_secs(1));
        assert_eq!(gone.len(), 1);
        assert!(c.queued.is_none());
        assert_eq!(c.next_timeout(), None);
    }
}

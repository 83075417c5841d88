//! Inputs from the driver: results of intents, fetch outcomes, group changes and time.

use std::collections::BTreeMap;
use std::time::Instant;

use dekaf_proto::ErrorCode;

use super::backoff::after;
use super::commit::{settle, Batch, PartitionOutcome};
use super::config::CommitPolicy;
use super::coordinator::Coordinator;
use super::error::{
    is_coordinator_code, is_rebalance_code, CommitError, LookupError, PositionError,
};
use super::io::FetchedPartition;
use super::manager::{IntentKind, OffsetManager};
use super::partition::{Lookup, Start};
use super::query::QueryKind;
use super::types::{FetchEpoch, FetchPosition, IntentId, QueryId, TopicPartition};
use crate::display::{HumanDuration, Listed};

/// How an error code is handled.
pub(super) enum Class {
    /// Retry after a backoff; `true` if the coordinator must be found again first.
    Retry(bool),
    /// The group moved on without this member.
    Rebalance,
    /// Final.
    Fatal,
}

pub(super) fn classify(code: ErrorCode) -> Class {
    // (`dekaf_mutant`: see the note at the top of lib.rs.)
    if code == ErrorCode::STALE_MEMBER_EPOCH && !cfg!(dekaf_mutant = "stale_epoch_retry") {
        // The consumer protocol moved the member to a newer epoch (no rebalance): the commit
        // goes again, with the epoch the member has by then, as Java's consumer does.
        Class::Retry(false)
    } else if is_rebalance_code(code) {
        Class::Rebalance
    } else if is_coordinator_code(code) {
        Class::Retry(code != ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
    } else if code.is_retriable() {
        Class::Retry(false)
    } else {
        Class::Fatal
    }
}

pub(super) fn lookup_mut(start: &mut Start) -> Option<&mut Lookup> {
    match start {
        Start::AwaitingCommitted(l) | Start::AwaitingReset(_, l) => Some(l),
        _ => None,
    }
}

impl OffsetManager {
    /// Time passed: expires commit and query deadlines, ends backoffs, and runs the interval
    /// commit policy. Call it when [`poll_timeout`](Self::poll_timeout) is reached.
    pub fn handle_timeout(&mut self, now: Instant) {
        for (ticket, last_error) in self.commits.expire(now) {
            self.finish(ticket, Err(CommitError::Timeout { last_error }));
        }
        if let Some(b) = &mut self.commits.queued {
            if b.not_before.is_some_and(|t| t <= now) {
                b.not_before = None;
            }
        }
        if let Coordinator::Unknown { not_before, .. } = &mut self.coordinator {
            if not_before.is_some_and(|t| t <= now) {
                *not_before = None;
            }
        }
        for p in self.partitions.values_mut() {
            // Validations back off too; ending their backoff here keeps `poll_timeout` from
            // returning a past time while the partition cannot ask (paused, say).
            let lookup = match &mut p.start {
                Start::AwaitingValidation(l, _) => Some(l),
                start => lookup_mut(start),
            };
            if let Some(l) = lookup {
                if l.not_before.is_some_and(|t| t <= now) {
                    l.not_before = None;
                }
            }
        }
        let expired: Vec<QueryId> = self
            .queries
            .values()
            .filter(|q| q.deadline <= now)
            .map(|q| q.id)
            .collect();
        for id in expired {
            if let Some(q) = self.queries.remove(&id) {
                let last_error = q.last_error;
                self.events
                    .push_back(q.finish(Some(LookupError::Timeout { last_error })));
            }
        }
        for q in self.queries.values_mut() {
            for part in q.parts.values_mut() {
                if part.lookup.not_before.is_some_and(|t| t <= now) {
                    part.lookup.not_before = None;
                }
            }
        }
        if self.next_auto_commit.is_some_and(|t| t <= now) {
            match self.config.effective_policy() {
                CommitPolicy::Interval(every) if !self.closed => {
                    self.auto_commit(now);
                    self.next_auto_commit = Some(after(now, every));
                }
                _ => self.next_auto_commit = None,
            }
        }
    }

    /// The answer to [`Intent::FindCoordinator`](super::Intent::FindCoordinator): the
    /// coordinator's broker id, or the error code. Retriable codes retry after a backoff; others
    /// fail whatever waits for the coordinator.
    pub fn handle_coordinator_response(
        &mut self,
        now: Instant,
        id: IntentId,
        result: Result<i32, ErrorCode>,
    ) {
        if self.intents.get(&id) != Some(&IntentKind::FindCoordinator) {
            return;
        }
        self.intents.remove(&id);
        let Coordinator::Finding { intent, attempt } = self.coordinator else {
            return;
        };
        if intent != id {
            return;
        }
        match result {
            Ok(node_id) => self.coordinator = Coordinator::Known { node_id },
            Err(code) => match classify(code) {
                Class::Retry(_) => self.coordinator_backoff(now, attempt),
                Class::Rebalance | Class::Fatal => {
                    self.coordinator = Coordinator::default();
                    self.fail_coordinator_waiters(code);
                }
            },
        }
    }

    fn coordinator_backoff(&mut self, now: Instant, attempt: u32) {
        let delay = self.backoff(attempt);
        self.coordinator = Coordinator::Unknown {
            not_before: Some(after(now, delay)),
            attempt: attempt.saturating_add(1),
        };
    }

    /// The coordinator cannot be found: everything waiting for it fails with `code`.
    fn fail_coordinator_waiters(&mut self, code: ErrorCode) {
        for ticket in self.commits.drain_queued() {
            self.finish(ticket, Err(CommitError::Group(code)));
        }
        let queries: Vec<QueryId> = self
            .queries
            .values()
            .filter(|q| q.kind == QueryKind::Committed)
            .map(|q| q.id)
            .collect();
        for id in queries {
            self.fail_query(id, LookupError::Broker(code));
        }
        let waiting: Vec<TopicPartition> = self
            .partitions
            .iter()
            .filter(|(_, p)| matches!(p.start, Start::AwaitingCommitted(_)))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in waiting {
            self.restart(&tp, Start::Failed(PositionError::Broker(code)));
        }
    }

    /// The connection to the coordinator broke: find it again, and retry what was in flight
    /// there (the commit in flight may or may not have been applied; sending it again is safe).
    pub fn handle_coordinator_disconnected(&mut self, now: Instant) {
        self.coordinator.forget();
        let ids: Vec<IntentId> = self
            .intents
            .iter()
            .filter(|(_, k)| match k {
                IntentKind::Commit | IntentKind::StartCommitted(_) => true,
                IntentKind::Query(q, _) => self
                    .queries
                    .get(q)
                    .is_some_and(|q| q.kind == QueryKind::Committed),
                _ => false,
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.handle_request_failed(now, id);
        }
    }

    /// The request for intent `id` failed in transport (disconnect, request timeout): it is
    /// retried after a backoff; requests to the coordinator look it up again first.
    pub fn handle_request_failed(&mut self, now: Instant, id: IntentId) {
        let Some(kind) = self.intents.remove(&id) else {
            return;
        };
        match kind {
            IntentKind::FindCoordinator => {
                if let Coordinator::Finding { intent, attempt } = self.coordinator {
                    if intent == id {
                        self.coordinator_backoff(now, attempt);
                    }
                }
            }
            IntentKind::Commit => {
                if self
                    .commits
                    .in_flight
                    .as_ref()
                    .is_some_and(|f| f.intent == id)
                {
                    self.coordinator.forget();
                    self.settle_commit(now, BTreeMap::new());
                }
            }
            IntentKind::StartCommitted(_) => {
                self.coordinator.forget();
                for tp in self.waiting_partitions(id) {
                    self.retry_partition(now, &tp, None);
                }
            }
            IntentKind::Reset => {
                for tp in self.waiting_partitions(id) {
                    self.retry_partition(now, &tp, None);
                }
            }
            IntentKind::Query(q, _) => {
                if self
                    .queries
                    .get(&q)
                    .is_some_and(|q| q.kind == QueryKind::Committed)
                {
                    self.coordinator.forget();
                }
                for tp in self.waiting_parts(q, id) {
                    self.retry_part(now, q, &tp, None);
                }
            }
        }
    }

    /// The answer to [`Intent::CommitOffsets`](super::Intent::CommitOffsets): the error code of
    /// each partition (OffsetCommit has no top-level error). Partitions missing from the answer
    /// are retried.
    pub fn handle_commit_response(
        &mut self,
        now: Instant,
        id: IntentId,
        results: impl IntoIterator<Item = (TopicPartition, ErrorCode)>,
    ) {
        if self
            .commits
            .in_flight
            .as_ref()
            .is_none_or(|f| f.intent != id)
        {
            return;
        }
        self.intents.remove(&id);
        let results: BTreeMap<TopicPartition, ErrorCode> = results.into_iter().collect();
        self.settle_commit(now, results);
    }

    /// Settles the commit in flight with the codes the broker sent; partitions without one
    /// (all of them after a transport failure) are retried.
    fn settle_commit(&mut self, now: Instant, results: BTreeMap<TopicPartition, ErrorCode>) {
        let Some(in_flight) = self.commits.in_flight.take() else {
            return;
        };
        let latency = now.saturating_duration_since(in_flight.sent_at);
        self.commit_stats.latency.record(latency);
        tracing::debug!(
            offsets = %Listed(
                in_flight
                    .batch
                    .offsets
                    .iter()
                    .map(|(tp, o)| format!("{tp}@{}", o.offset))
            ),
            latency = %HumanDuration(latency),
            refused = %Listed(
                results
                    .iter()
                    .filter(|(_, code)| !code.is_ok())
                    .map(|(tp, code)| format!("{tp}: {code}"))
            ),
            "OffsetCommit answered"
        );
        let mut outcomes = BTreeMap::new();
        let mut rebalance = None;
        for (tp, offset) in &in_flight.batch.offsets {
            let outcome = match results.get(tp) {
                None => PartitionOutcome::Retry(None),
                Some(code) if code.is_ok() => {
                    if let Some(p) = self.partitions.get_mut(tp) {
                        p.learn_committed(in_flight.seq, Some(offset.clone()));
                    }
                    PartitionOutcome::Committed
                }
                Some(&code) => match classify(code) {
                    Class::Rebalance => {
                        rebalance = Some(code);
                        PartitionOutcome::Rebalance(code)
                    }
                    Class::Retry(lost) => {
                        if lost {
                            self.coordinator.forget();
                        }
                        PartitionOutcome::Retry(Some(code))
                    }
                    Class::Fatal => PartitionOutcome::Failed(code),
                },
            };
            outcomes.insert(tp.clone(), outcome);
        }
        let (finished, retry) = settle(in_flight.batch, &outcomes);
        for ticket in finished {
            let result = ticket.outcome();
            self.finish(ticket, result);
        }
        if let Some(retry) = retry {
            if in_flight.rebalanced || !self.group_stable {
                // Sent in a generation that has ended: a retry would commit, in the next
                // one, partitions this member may have lost, with offsets that may be old.
                for mut ticket in retry.tickets {
                    ticket.remaining.clear();
                    ticket.rebalance = Some(ErrorCode::REBALANCE_IN_PROGRESS);
                    let result = ticket.outcome();
                    self.finish(ticket, result);
                }
            } else {
                self.requeue_commit(now, retry);
            }
        }
        if let Some(code) = rebalance {
            self.enter_unstable(code);
        }
    }

    fn requeue_commit(&mut self, now: Instant, mut retry: Batch) {
        if retry.tickets.is_empty() {
            return;
        }
        let delay = self.backoff(retry.attempt.saturating_sub(1));
        retry.not_before = Some(after(now, delay));
        self.commits.requeue_older(retry);
    }

    /// A fetch response for `tp`, fetched under `epoch`, was decoded. Returns false (and
    /// changes nothing) when the data is no longer wanted: drop it. Otherwise the fetch
    /// position moves past the data and the watermarks are updated.
    #[must_use = "false means the data is stale: drop it"]
    pub fn handle_fetched(
        &mut self,
        _now: Instant,
        tp: &TopicPartition,
        epoch: FetchEpoch,
        fetched: FetchedPartition,
    ) -> bool {
        if !self.is_wanted(tp, epoch) {
            return false;
        }
        let Some(p) = self.partitions.get_mut(tp) else {
            return false;
        };
        p.high_watermark = Some(fetched.high_watermark);
        p.last_stable_offset = fetched.last_stable_offset.or(p.last_stable_offset);
        p.log_start_offset = fetched.log_start_offset.or(p.log_start_offset);
        if let (Some(next), Some(fetch)) = (fetched.next_offset, p.fetch) {
            if next > fetch.offset {
                p.fetch = Some(FetchPosition {
                    offset: next,
                    leader_epoch: fetched.leader_epoch.or(fetch.leader_epoch),
                });
            }
        }
        true
    }

    /// A fetch of `tp` under `epoch` failed with `code`. OFFSET_OUT_OF_RANGE resets the
    /// partition by `auto_offset_reset` (or fails it with `None`); other codes are the
    /// driver's to act on (refresh metadata, back off). Returns false if the fetch was stale.
    pub fn handle_fetch_error(
        &mut self,
        _now: Instant,
        tp: &TopicPartition,
        epoch: FetchEpoch,
        code: ErrorCode,
    ) -> bool {
        if !self.is_wanted(tp, epoch) {
            return false;
        }
        if code == ErrorCode::OFFSET_OUT_OF_RANGE {
            let offset = self.fetch_position(tp).map_or(-1, |f| f.offset);
            let start = match self.reset_start() {
                Start::Failed(_) => Start::Failed(PositionError::OutOfRange { offset }),
                start => start,
            };
            self.restart(tp, start);
        }
        true
    }

    /// The group started rebalancing (from the group machine). Queued commits fail with a
    /// rebalance error; stored offsets stay stored; commits wait for
    /// [`handle_group_stable`](Self::handle_group_stable).
    pub fn handle_group_unstable(&mut self, _now: Instant) {
        self.enter_unstable(ErrorCode::REBALANCE_IN_PROGRESS);
    }

    /// The group is stable again (from the group machine, after the new assignment was
    /// applied with [`assign`](Self::assign)). In Auto mode, stored offsets not yet committed
    /// are committed now.
    pub fn handle_group_stable(&mut self, now: Instant) {
        self.group_stable = true;
        if !self.closed && self.config.effective_policy() != CommitPolicy::Explicit {
            self.auto_commit(now);
        }
    }
}

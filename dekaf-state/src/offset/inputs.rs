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
use super::io::{CommittedResult, FetchedPartition, ListedOffset};
use super::manager::{IntentKind, OffsetManager};
use super::partition::{Lookup, OffsetSpec, Start};
use super::query::{PartResult, QueryKind};
use super::types::{
    FetchEpoch, FetchPosition, IntentId, OffsetAndTimestamp, QueryId, TopicPartition,
};

/// How an error code is handled.
enum Class {
    /// Retry after a backoff; `true` if the coordinator must be found again first.
    Retry(bool),
    /// The group moved on without this member.
    Rebalance,
    /// Final.
    Fatal,
}

fn classify(code: ErrorCode) -> Class {
    if is_rebalance_code(code) {
        Class::Rebalance
    } else if is_coordinator_code(code) {
        Class::Retry(code != ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
    } else if code.is_retriable() {
        Class::Retry(false)
    } else {
        Class::Fatal
    }
}

fn lookup_mut(start: &mut Start) -> Option<&mut Lookup> {
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
            if let Some(l) = lookup_mut(&mut p.start) {
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
            self.requeue_commit(now, retry);
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

    /// Partitions whose starting-position lookup is intent `id`.
    fn waiting_partitions(&self, id: IntentId) -> Vec<TopicPartition> {
        self.partitions
            .iter()
            .filter(|(_, p)| match &p.start {
                Start::AwaitingCommitted(l) | Start::AwaitingReset(_, l) => l.intent == Some(id),
                _ => false,
            })
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Retries the starting-position lookup of `tp` after a backoff.
    fn retry_partition(&mut self, now: Instant, tp: &TopicPartition, _code: Option<ErrorCode>) {
        let Some(attempt) = self
            .partitions
            .get_mut(tp)
            .and_then(|p| lookup_mut(&mut p.start))
            .map(|l| l.attempt)
        else {
            return;
        };
        let delay = self.backoff(attempt);
        if let Some(l) = self
            .partitions
            .get_mut(tp)
            .and_then(|p| lookup_mut(&mut p.start))
        {
            l.intent = None;
            l.not_before = Some(after(now, delay));
            l.attempt = attempt.saturating_add(1);
        }
    }

    /// Parts of query `q` carried by intent `id`.
    fn waiting_parts(&self, q: QueryId, id: IntentId) -> Vec<TopicPartition> {
        self.queries
            .get(&q)
            .map(|q| {
                q.parts
                    .iter()
                    .filter(|(_, p)| p.lookup.intent == Some(id))
                    .map(|(tp, _)| tp.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn retry_part(
        &mut self,
        now: Instant,
        q: QueryId,
        tp: &TopicPartition,
        code: Option<ErrorCode>,
    ) {
        let Some(attempt) = self
            .queries
            .get(&q)
            .and_then(|q| q.parts.get(tp))
            .map(|p| p.lookup.attempt)
        else {
            return;
        };
        let delay = self.backoff(attempt);
        if let Some(query) = self.queries.get_mut(&q) {
            query.last_error = code.or(query.last_error);
            if let Some(part) = query.parts.get_mut(tp) {
                part.lookup.intent = None;
                part.lookup.not_before = Some(after(now, delay));
                part.lookup.attempt = attempt.saturating_add(1);
            }
        }
    }

    fn fail_query(&mut self, q: QueryId, error: LookupError) {
        if let Some(query) = self.queries.remove(&q) {
            self.events.push_back(query.finish(Some(error)));
        }
        self.intents
            .retain(|_, k| !matches!(k, IntentKind::Query(id, _) if *id == q));
    }

    fn finish_query_if_complete(&mut self, q: QueryId) {
        if self.queries.get(&q).is_some_and(|q| q.is_complete()) {
            if let Some(query) = self.queries.remove(&q) {
                self.events.push_back(query.finish(None));
            }
            self.intents
                .retain(|_, k| !matches!(k, IntentKind::Query(id, _) if *id == q));
        }
    }

    /// The answer to [`Intent::FetchCommitted`](super::Intent::FetchCommitted): the top-level
    /// error code, or per partition the committed offset (None, or a negative offset, when the
    /// group has none) or the partition's error code.
    pub fn handle_committed_response(
        &mut self,
        now: Instant,
        id: IntentId,
        result: Result<Vec<(TopicPartition, CommittedResult)>, ErrorCode>,
    ) {
        match self.intents.get(&id).copied() {
            Some(IntentKind::StartCommitted(seq)) => {
                self.intents.remove(&id);
                self.start_committed(now, id, seq, result);
            }
            Some(IntentKind::Query(q, seq)) => {
                self.intents.remove(&id);
                self.query_committed(now, id, q, seq, result);
            }
            _ => {}
        }
    }

    fn start_committed(
        &mut self,
        now: Instant,
        id: IntentId,
        seq: u64,
        result: Result<Vec<(TopicPartition, CommittedResult)>, ErrorCode>,
    ) {
        let waiting = self.waiting_partitions(id);
        let answers: BTreeMap<TopicPartition, CommittedResult> = match result {
            Ok(list) => list.into_iter().collect(),
            Err(code) => {
                let class = classify(code);
                for tp in waiting {
                    self.start_committed_error(now, &tp, code, &class);
                }
                return;
            }
        };
        for tp in waiting {
            match answers.get(&tp) {
                None => self.retry_partition(now, &tp, None),
                Some(Ok(committed)) => {
                    let committed = committed.clone().filter(|c| c.offset >= 0);
                    let Some(p) = self.partitions.get_mut(&tp) else {
                        continue;
                    };
                    p.learn_committed(seq, committed);
                    match p.committed.clone() {
                        Some(c) => self.place(
                            &tp,
                            FetchPosition {
                                offset: c.offset,
                                leader_epoch: c.leader_epoch,
                            },
                        ),
                        None => {
                            let start = self.reset_start();
                            self.restart(&tp, start);
                        }
                    }
                }
                Some(Err(code)) => {
                    let class = classify(*code);
                    self.start_committed_error(now, &tp, *code, &class);
                }
            }
        }
    }

    fn start_committed_error(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        code: ErrorCode,
        class: &Class,
    ) {
        match class {
            Class::Retry(lost) => {
                if *lost {
                    self.coordinator.forget();
                }
                self.retry_partition(now, tp, Some(code));
            }
            // Only members of the new group protocol see these here; retry once the member
            // caught up.
            Class::Rebalance => self.retry_partition(now, tp, Some(code)),
            Class::Fatal => self.restart(tp, Start::Failed(PositionError::Broker(code))),
        }
    }

    fn query_committed(
        &mut self,
        now: Instant,
        id: IntentId,
        q: QueryId,
        seq: u64,
        result: Result<Vec<(TopicPartition, CommittedResult)>, ErrorCode>,
    ) {
        let waiting = self.waiting_parts(q, id);
        match result {
            Err(code) => match classify(code) {
                Class::Retry(lost) => {
                    if lost {
                        self.coordinator.forget();
                    }
                    for tp in waiting {
                        self.retry_part(now, q, &tp, Some(code));
                    }
                }
                Class::Rebalance | Class::Fatal => self.fail_query(q, LookupError::Broker(code)),
            },
            Ok(list) => {
                let answers: BTreeMap<TopicPartition, CommittedResult> = list.into_iter().collect();
                for tp in waiting {
                    match answers.get(&tp) {
                        None => self.retry_part(now, q, &tp, None),
                        Some(Ok(committed)) => {
                            let committed = committed.clone().filter(|c| c.offset >= 0);
                            if let Some(p) = self.partitions.get_mut(&tp) {
                                p.learn_committed(seq, committed.clone());
                            }
                            if let Some(part) =
                                self.queries.get_mut(&q).and_then(|q| q.parts.get_mut(&tp))
                            {
                                part.lookup.intent = None;
                                part.result = Some(PartResult::Committed(committed));
                            }
                        }
                        Some(Err(code)) => match classify(*code) {
                            Class::Retry(lost) => {
                                if lost {
                                    self.coordinator.forget();
                                }
                                self.retry_part(now, q, &tp, Some(*code));
                            }
                            Class::Rebalance | Class::Fatal => {
                                self.fail_query(
                                    q,
                                    LookupError::Partition {
                                        partition: tp.clone(),
                                        code: *code,
                                    },
                                );
                                return;
                            }
                        },
                    }
                }
                self.finish_query_if_complete(q);
            }
        }
    }

    /// Answers (possibly a part of them) to [`Intent::ListOffsets`](super::Intent::ListOffsets):
    /// per partition the offset found or the error code. Call it once per leader when the
    /// driver split the intent; partitions never answered are retried after
    /// [`handle_request_failed`](Self::handle_request_failed).
    pub fn handle_list_offsets_response(
        &mut self,
        now: Instant,
        id: IntentId,
        results: impl IntoIterator<Item = (TopicPartition, Result<ListedOffset, ErrorCode>)>,
    ) {
        match self.intents.get(&id).copied() {
            Some(IntentKind::Reset) => {
                for (tp, result) in results {
                    self.reset_result(now, id, &tp, result);
                }
                if self.waiting_partitions(id).is_empty() {
                    self.intents.remove(&id);
                }
            }
            Some(IntentKind::Query(q, _)) => {
                for (tp, result) in results {
                    if !self.times_result(now, id, q, &tp, result) {
                        return;
                    }
                }
                if self.waiting_parts(q, id).is_empty() {
                    self.intents.remove(&id);
                }
                self.finish_query_if_complete(q);
            }
            _ => {}
        }
    }

    fn reset_result(
        &mut self,
        now: Instant,
        id: IntentId,
        tp: &TopicPartition,
        result: Result<ListedOffset, ErrorCode>,
    ) {
        let Some(spec) = self.partitions.get(tp).and_then(|p| match &p.start {
            Start::AwaitingReset(spec, l) if l.intent == Some(id) => Some(*spec),
            _ => None,
        }) else {
            return;
        };
        match result {
            Ok(found) if found.offset >= 0 => self.place(
                tp,
                FetchPosition {
                    offset: found.offset,
                    leader_epoch: found.leader_epoch,
                },
            ),
            // No record at or after the time: go to the end.
            Ok(_) if matches!(spec, OffsetSpec::Timestamp(_)) => self.restart(
                tp,
                Start::AwaitingReset(OffsetSpec::Latest, Lookup::default()),
            ),
            Ok(_) => self.retry_partition(now, tp, None),
            Err(code) if code.is_retriable() => self.retry_partition(now, tp, Some(code)),
            Err(code) => self.restart(tp, Start::Failed(PositionError::Broker(code))),
        }
    }

    /// Applies one offsets-for-times answer; false if the query failed with it.
    fn times_result(
        &mut self,
        now: Instant,
        id: IntentId,
        q: QueryId,
        tp: &TopicPartition,
        result: Result<ListedOffset, ErrorCode>,
    ) -> bool {
        let waiting = self
            .queries
            .get(&q)
            .and_then(|q| q.parts.get(tp))
            .is_some_and(|p| p.lookup.intent == Some(id));
        if !waiting {
            return true;
        }
        match result {
            Ok(found) => {
                let value = (found.offset >= 0).then_some(OffsetAndTimestamp {
                    offset: found.offset,
                    timestamp: found.timestamp,
                    leader_epoch: found.leader_epoch,
                });
                if let Some(part) = self.queries.get_mut(&q).and_then(|q| q.parts.get_mut(tp)) {
                    part.lookup.intent = None;
                    part.result = Some(PartResult::Times(value));
                }
                true
            }
            Err(code) if code.is_retriable() => {
                self.retry_part(now, q, tp, Some(code));
                true
            }
            Err(code) => {
                self.fail_query(
                    q,
                    LookupError::Partition {
                        partition: tp.clone(),
                        code,
                    },
                );
                false
            }
        }
    }

    /// A fetch response for `tp`, fetched under `epoch`, was decoded. Returns false (and
    /// changes nothing) when the data is no longer wanted: drop it. Otherwise the fetch
    /// position moves past the data and the watermarks are updated.
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

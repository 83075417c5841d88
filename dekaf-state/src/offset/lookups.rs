//! Answers to lookups: committed offsets (OffsetFetch) and listed offsets (ListOffsets), for
//! starting positions, resets and the application's queries, with their retries.

use std::collections::BTreeMap;
use std::time::Instant;

use dekaf_proto::ErrorCode;

use super::backoff::after;
use super::error::{LookupError, PositionError};
use super::inputs::{classify, lookup_mut, Class};
use super::io::{CommittedResult, ListedOffset};
use super::manager::{IntentKind, OffsetManager};
use super::partition::{Lookup, OffsetSpec, Start};
use super::query::PartResult;
use super::types::{FetchPosition, IntentId, OffsetAndTimestamp, QueryId, TopicPartition};

impl OffsetManager {
    /// Partitions whose starting-position lookup is intent `id`.
    pub(super) fn waiting_partitions(&self, id: IntentId) -> Vec<TopicPartition> {
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
    pub(super) fn retry_partition(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        _code: Option<ErrorCode>,
    ) {
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
    pub(super) fn waiting_parts(&self, q: QueryId, id: IntentId) -> Vec<TopicPartition> {
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

    pub(super) fn retry_part(
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

    pub(super) fn fail_query(&mut self, q: QueryId, error: LookupError) {
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
}

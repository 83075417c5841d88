//! ListOffsets: the offset machine's listings (resets, seeks to beginning/end/time,
//! offsets-for-times) split per partition leader, and the consumer's own watermark queries.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use dekaf_proto::messages::list_offsets::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
use dekaf_proto::ErrorCode;

use crate::client::{BrokerId, Destination, Outgoing, RequestFailed};
use crate::offset::{IntentId, ListedOffset, LookupError, OffsetSpec, TopicPartition};

use super::consumer::{Consumer, Pending, Retry};
use super::event::{ConsumerEvent, WatermarksId};
use super::record::Watermarks;
use super::requests::{list_offsets, ListPart};

/// One partition's ListOffsets result.
pub(crate) type Listed = (TopicPartition, Result<ListedOffset, ErrorCode>);

/// Which end of the log a watermark lookup asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Low,
    High,
}

impl Side {
    fn timestamp(self) -> i64 {
        match self {
            Side::Low => EARLIEST_TIMESTAMP,
            Side::High => LATEST_TIMESTAMP,
        }
    }
}

/// Whose question a ListOffsets request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListJob {
    /// An intent of the offset machine.
    Offsets(IntentId),
    /// One side of a watermark query.
    Watermarks(WatermarksId, Side),
}

/// One side of one partition of a watermark query.
#[derive(Clone, Debug, Default)]
pub(crate) struct SideLookup {
    pub(crate) value: Option<i64>,
    pub(crate) in_flight: bool,
    pub(crate) retry: Retry,
}

impl SideLookup {
    fn is_due(&self, now: Instant) -> bool {
        self.value.is_none() && !self.in_flight && self.retry.not_before.is_none_or(|t| t <= now)
    }
}

/// A watermark query in progress.
#[derive(Clone, Debug)]
pub(crate) struct WatermarkQuery {
    pub(crate) id: WatermarksId,
    pub(crate) deadline: Instant,
    pub(crate) last_error: Option<ErrorCode>,
    pub(crate) parts: BTreeMap<TopicPartition, (SideLookup, SideLookup)>,
}

impl WatermarkQuery {
    pub(crate) fn new(
        id: WatermarksId,
        now: Instant,
        timeout: Duration,
        parts: BTreeSet<TopicPartition>,
    ) -> Self {
        WatermarkQuery {
            id,
            deadline: now.checked_add(timeout).unwrap_or(now),
            last_error: None,
            parts: parts
                .into_iter()
                .map(|tp| (tp, Default::default()))
                .collect(),
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.parts
            .values()
            .all(|(l, h)| l.value.is_some() && h.value.is_some())
    }

    fn side_mut(&mut self, tp: &TopicPartition, side: Side) -> Option<&mut SideLookup> {
        self.parts.get_mut(tp).map(|(l, h)| match side {
            Side::Low => l,
            Side::High => h,
        })
    }

    pub(crate) fn next_timeout(&self) -> Instant {
        self.parts
            .values()
            .flat_map(|(l, h)| [l.retry.not_before, h.retry.not_before])
            .flatten()
            .fold(self.deadline, Instant::min)
    }

    fn result(&self) -> Vec<(TopicPartition, Watermarks)> {
        self.parts
            .iter()
            .map(|(tp, (l, h))| {
                (
                    tp.clone(),
                    Watermarks {
                        low: l.value,
                        high: h.value,
                    },
                )
            })
            .collect()
    }
}

/// Codes after which the consumer's view of leaders is suspect.
pub(crate) fn is_metadata_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            | ErrorCode::FENCED_LEADER_EPOCH
            | ErrorCode::UNKNOWN_LEADER_EPOCH
            | ErrorCode::LEADER_NOT_AVAILABLE
            | ErrorCode::UNKNOWN_TOPIC_ID
            | ErrorCode::INCONSISTENT_TOPIC_ID
            | ErrorCode::REPLICA_NOT_AVAILABLE
            | ErrorCode::KAFKA_STORAGE_ERROR
            | ErrorCode::OFFSET_NOT_AVAILABLE
    )
}

/// The per-partition code standing for a request that got no answer.
pub(crate) fn transport_code(e: &RequestFailed) -> ErrorCode {
    match e {
        RequestFailed::TimedOut => ErrorCode::REQUEST_TIMED_OUT,
        _ => ErrorCode::NETWORK_EXCEPTION,
    }
}

fn spec_timestamp(spec: OffsetSpec) -> i64 {
    match spec {
        OffsetSpec::Earliest => EARLIEST_TIMESTAMP,
        OffsetSpec::Latest => LATEST_TIMESTAMP,
        OffsetSpec::Timestamp(t) => t,
    }
}

impl Consumer {
    /// Sends ListOffsets for `parts`, one request per leader. Returns the partitions whose
    /// leader is unknown.
    fn send_lists(&mut self, job: ListJob, parts: Vec<ListPart>) -> Vec<ListPart> {
        let mut by_leader: BTreeMap<BrokerId, Vec<ListPart>> = BTreeMap::new();
        let mut orphans = Vec::new();
        for mut part in parts {
            match self.metadata.leader(&part.tp) {
                Some((leader, epoch)) => {
                    part.leader_epoch = epoch;
                    by_leader.entry(leader).or_default().push(part);
                }
                None => orphans.push(part),
            }
        }
        for (leader, parts) in by_leader {
            let id = self.request_id();
            let request = list_offsets(self.config.isolation_level, parts.clone());
            self.pending.insert(id, Pending::List { job, parts });
            self.outbox.push_back(Outgoing {
                id,
                destination: Destination::Broker(leader),
                request,
            });
        }
        if !orphans.is_empty() {
            self.metadata.request_update();
            for p in &orphans {
                self.want_topic(p.tp.topic());
            }
        }
        orphans
    }

    /// Translates an offset machine ListOffsets intent. Partitions without a known leader wait
    /// for the metadata answer in flight (`defer`), or are answered LEADER_NOT_AVAILABLE so
    /// that the offset machine retries them after its backoff.
    pub(crate) fn send_offsets_list(
        &mut self,
        now: Instant,
        id: IntentId,
        partitions: Vec<(TopicPartition, OffsetSpec)>,
        defer: bool,
    ) {
        let parts: Vec<ListPart> = partitions
            .into_iter()
            .map(|(tp, spec)| ListPart {
                tp,
                timestamp: spec_timestamp(spec),
                leader_epoch: -1,
            })
            .collect();
        let orphans = self.send_lists(ListJob::Offsets(id), parts);
        if orphans.is_empty() {
            return;
        }
        if defer && self.metadata.in_flight.is_some() {
            let specs = orphans
                .into_iter()
                .map(|p| {
                    let spec = match p.timestamp {
                        EARLIEST_TIMESTAMP => OffsetSpec::Earliest,
                        LATEST_TIMESTAMP => OffsetSpec::Latest,
                        t => OffsetSpec::Timestamp(t),
                    };
                    (p.tp, spec)
                })
                .collect();
            self.deferred.push((id, specs));
        } else {
            self.offsets.handle_list_offsets_response(
                now,
                id,
                orphans
                    .into_iter()
                    .map(|p| (p.tp, Err(ErrorCode::LEADER_NOT_AVAILABLE))),
            );
        }
    }

    /// Sends the listings that waited for metadata.
    pub(crate) fn flush_deferred(&mut self, now: Instant) {
        for (id, partitions) in std::mem::take(&mut self.deferred) {
            self.send_offsets_list(now, id, partitions, false);
        }
    }

    /// The answer (or failure) of a ListOffsets request.
    pub(crate) fn on_list(
        &mut self,
        now: Instant,
        job: ListJob,
        parts: Vec<ListPart>,
        answer: Result<Vec<Listed>, ErrorCode>,
    ) {
        let answers: BTreeMap<TopicPartition, Result<ListedOffset, ErrorCode>> = match answer {
            Ok(list) => list.into_iter().collect(),
            Err(code) => parts.iter().map(|p| (p.tp.clone(), Err(code))).collect(),
        };
        let mut results = Vec::with_capacity(parts.len());
        for p in parts {
            let result = match answers.get(&p.tp) {
                // A partition left out of the answer: ask again after metadata is refreshed.
                None => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                Some(Ok(found)) => {
                    let mut found = *found;
                    // A time with no record at or after it: Kafka answers offset -1 with
                    // timestamp -1; some brokers (tansu) answer offset 0 with timestamp -1.
                    // A found record always has a timestamp at or after the time asked.
                    if p.timestamp >= 0 && found.timestamp < 0 {
                        found.offset = -1;
                    }
                    Ok(found)
                }
                Some(Err(code)) => Err(*code),
            };
            if let Err(code) = result {
                if is_metadata_code(code) {
                    self.metadata.request_update();
                }
            }
            results.push((p.tp, result));
        }
        match job {
            ListJob::Offsets(id) => self.offsets.handle_list_offsets_response(now, id, results),
            ListJob::Watermarks(q, side) => self.on_watermarks(now, q, side, results),
        }
    }

    fn on_watermarks(&mut self, now: Instant, q: WatermarksId, side: Side, results: Vec<Listed>) {
        let mut failed = None;
        for (tp, result) in results {
            let attempt = match self
                .watermark_queries
                .get(&q)
                .and_then(|query| query.parts.get(&tp))
            {
                Some((l, h)) => match side {
                    Side::Low => l.retry.attempt,
                    Side::High => h.retry.attempt,
                },
                None => continue,
            };
            let delay = self
                .config
                .offsets
                .retry_backoff
                .delay(attempt, &mut self.rng);
            let Some(query) = self.watermark_queries.get_mut(&q) else {
                return;
            };
            let Some(lookup) = query.side_mut(&tp, side) else {
                continue;
            };
            lookup.in_flight = false;
            match result {
                Ok(found) if found.offset >= 0 => lookup.value = Some(found.offset),
                Ok(_) => {
                    lookup.retry = Retry {
                        not_before: now.checked_add(delay),
                        attempt: attempt.saturating_add(1),
                    };
                }
                Err(code) if code.is_retriable() => {
                    lookup.retry = Retry {
                        not_before: now.checked_add(delay),
                        attempt: attempt.saturating_add(1),
                    };
                    query.last_error = Some(code);
                }
                Err(code) => {
                    failed = Some(LookupError::Partition {
                        partition: tp.clone(),
                        code,
                    });
                    break;
                }
            }
        }
        if let Some(error) = failed {
            self.watermark_queries.remove(&q);
            self.push_event(ConsumerEvent::Watermarks {
                query: q,
                result: Err(error),
            });
            return;
        }
        if self
            .watermark_queries
            .get(&q)
            .is_some_and(WatermarkQuery::is_complete)
        {
            if let Some(query) = self.watermark_queries.remove(&q) {
                let result = query.result();
                for (tp, w) in &result {
                    self.watermark_cache.insert(tp.clone(), *w);
                }
                self.push_event(ConsumerEvent::Watermarks {
                    query: q,
                    result: Ok(result),
                });
            }
        }
    }

    /// Sends the watermark lookups that are due.
    pub(crate) fn poll_watermarks(&mut self, now: Instant) {
        let ids: Vec<WatermarksId> = self.watermark_queries.keys().copied().collect();
        for q in ids {
            for side in [Side::Low, Side::High] {
                let due: Vec<TopicPartition> = match self.watermark_queries.get(&q) {
                    Some(query) => query
                        .parts
                        .iter()
                        .filter(|(_, (l, h))| match side {
                            Side::Low => l.is_due(now),
                            Side::High => h.is_due(now),
                        })
                        .map(|(tp, _)| tp.clone())
                        .collect(),
                    None => continue,
                };
                if due.is_empty() {
                    continue;
                }
                let parts = due
                    .iter()
                    .map(|tp| ListPart {
                        tp: tp.clone(),
                        timestamp: side.timestamp(),
                        leader_epoch: -1,
                    })
                    .collect();
                let orphans = self.send_lists(ListJob::Watermarks(q, side), parts);
                let orphaned: BTreeSet<TopicPartition> =
                    orphans.into_iter().map(|p| p.tp).collect();
                let mut delays = Vec::new();
                for tp in &due {
                    if orphaned.contains(tp) {
                        let attempt = self
                            .watermark_queries
                            .get(&q)
                            .and_then(|query| query.parts.get(tp))
                            .map_or(0, |(l, h)| match side {
                                Side::Low => l.retry.attempt,
                                Side::High => h.retry.attempt,
                            });
                        let delay = self
                            .config
                            .offsets
                            .retry_backoff
                            .delay(attempt, &mut self.rng);
                        delays.push((tp.clone(), Some((attempt, delay))));
                    } else {
                        delays.push((tp.clone(), None));
                    }
                }
                let Some(query) = self.watermark_queries.get_mut(&q) else {
                    continue;
                };
                for (tp, delay) in delays {
                    if let Some(lookup) = query.side_mut(&tp, side) {
                        match delay {
                            None => lookup.in_flight = true,
                            Some((attempt, delay)) => {
                                lookup.retry = Retry {
                                    not_before: now.checked_add(delay),
                                    attempt: attempt.saturating_add(1),
                                };
                                query.last_error = Some(ErrorCode::LEADER_NOT_AVAILABLE);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Time passed for watermark queries: deadlines and backoffs.
    pub(crate) fn watermarks_timeout(&mut self, now: Instant) {
        let expired: Vec<WatermarksId> = self
            .watermark_queries
            .values()
            .filter(|q| q.deadline <= now)
            .map(|q| q.id)
            .collect();
        for id in expired {
            if let Some(q) = self.watermark_queries.remove(&id) {
                self.push_event(ConsumerEvent::Watermarks {
                    query: id,
                    result: Err(LookupError::Timeout {
                        last_error: q.last_error,
                    }),
                });
            }
        }
        for q in self.watermark_queries.values_mut() {
            for (l, h) in q.parts.values_mut() {
                for s in [l, h] {
                    if s.retry.not_before.is_some_and(|t| t <= now) {
                        s.retry.not_before = None;
                    }
                }
            }
        }
    }
}

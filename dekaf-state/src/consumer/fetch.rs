//! The fetch path: which partitions to fetch from which leader, the Fetch request per
//! version, and the answer decoded into each partition's buffer.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use dekaf_proto::messages::fetch::{FetchPartition, FetchTopic, PartitionData};
use dekaf_proto::messages::{FetchRequest, FetchResponse, RequestBody};
use dekaf_proto::records::RecordBatches;
use dekaf_proto::wire::Uuid;
use dekaf_proto::{ApiKey, ErrorCode};

use crate::client::{BrokerId, ClientRequest, Destination, Outgoing};
use crate::offset::{FetchEpoch, FetchPosition, FetchedPartition, TopicPartition};

use super::buffer::{check_batch, CheckedBatch, PartitionBuffer};
use super::config::{ConsumerConfig, IsolationLevel};
use super::consumer::{Consumer, Pending};
use super::event::{ConsumerEvent, FetchError};
use super::lists::is_metadata_code;
use super::requests::{by_topic, epoch_or_none};

/// One partition of a fetch in flight.
#[derive(Clone, Debug)]
pub(crate) struct FetchPart {
    pub(crate) tp: TopicPartition,
    /// The fetch epoch the data will be tagged with.
    pub(crate) epoch: FetchEpoch,
    /// The offset fetched from.
    pub(crate) offset: i64,
    /// The leader epoch metadata gave (-1 if unknown).
    pub(crate) leader_epoch: i32,
    /// The topic id, if metadata gave one.
    pub(crate) topic_id: Option<Uuid>,
    /// The leader epoch of the last record before `offset` (-1 if unknown), sent from v12 so
    /// that the leader can say where its log diverges.
    pub(crate) last_fetched_epoch: i32,
}

/// A full Fetch (no fetch session: session id 0, epoch -1) for `parts`, v4–v17; v13+ names
/// topics by id, so without an id for every topic the range stops at v12.
pub(crate) fn fetch_request(config: &ConsumerConfig, parts: &[FetchPart]) -> ClientRequest {
    let all_ids = parts.iter().all(|p| p.topic_id.is_some());
    let max = if all_ids { 17 } else { 12 };
    let ids: HashMap<Arc<str>, Uuid> = parts
        .iter()
        .filter_map(|p| Some((p.tp.topic_arc().clone(), p.topic_id?)))
        .collect();
    let topics = by_topic(parts.iter().map(|p| {
        (
            p.tp.clone(),
            (p.offset, p.leader_epoch, p.last_fetched_epoch),
        )
    }));
    let max_wait_ms = config.fetch_max_wait_ms();
    let min_bytes = config.fetch_min_bytes;
    let max_bytes = config.fetch_max_bytes;
    let partition_max_bytes = config.max_partition_fetch_bytes;
    let isolation_level = config.isolation_level.wire();
    let rack_id = config.client_rack.clone().unwrap_or_default();
    ClientRequest::new(ApiKey::Fetch, 4, max, move |v| {
        RequestBody::Fetch(FetchRequest {
            max_wait_ms,
            min_bytes,
            max_bytes,
            isolation_level,
            session_id: 0,
            session_epoch: -1,
            rack_id: if v >= 11 {
                rack_id.clone()
            } else {
                String::new()
            },
            topics: topics
                .iter()
                .map(|(name, ps)| FetchTopic {
                    topic: if v <= 12 {
                        name.to_string()
                    } else {
                        String::new()
                    },
                    topic_id: if v >= 13 {
                        ids.get(name).copied().unwrap_or_default()
                    } else {
                        Uuid::ZERO
                    },
                    partitions: ps
                        .iter()
                        .map(|(p, (offset, epoch, last))| FetchPartition {
                            partition: *p,
                            current_leader_epoch: if v >= 9 { *epoch } else { -1 },
                            fetch_offset: *offset,
                            last_fetched_epoch: if v >= 12 { *last } else { -1 },
                            log_start_offset: -1,
                            partition_max_bytes,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    })
}

impl Consumer {
    /// Whether `tp` may be fetched at `now` (leader aside).
    /// `takeable`: some partition has records the application can take now.
    fn may_fetch(&self, now: Instant, tp: &TopicPartition, takeable: bool) -> bool {
        if self.fetching.contains(tp) {
            return false;
        }
        if self
            .backoffs
            .get(tp)
            .and_then(|r| r.not_before)
            .is_some_and(|t| t > now)
        {
            return false;
        }
        match self.buffers.get(tp) {
            // Held records wait for a marker further on: fetch on, whatever the bound.
            Some(b) if b.is_blocked() => true,
            // Records left to hand out: fetch ahead while little is left of this partition's
            // answer and less than one answer is buffered over all partitions.
            Some(b) if b.has_deliverable() => b.wants_fetch() && self.may_fetch_ahead(),
            // Nothing left here: fetched at once when nothing else can be taken either, else
            // while at most one answer's worth is buffered over all partitions (so that each
            // partition does not bring in an answer of its own).
            _ => {
                self.buffered_bytes < self.config.max_buffered_bytes
                    && (!takeable || self.buffered_bytes <= self.answer_bytes_estimate)
            }
        }
    }

    /// Whether partitions may be fetched while the application has records to take: while at
    /// most half an answer's worth of data is buffered over all partitions (so about one and
    /// a half answers are kept however many partitions there are), and under the bound.
    pub(crate) fn may_fetch_ahead(&self) -> bool {
        self.buffered_bytes.saturating_mul(2) <= self.answer_bytes_estimate
            && self.buffered_bytes < self.config.max_buffered_bytes
    }

    /// Whether the last answer left `tp` at the end of its log (its fetch position at the high
    /// watermark, or the last stable offset under read_committed): fetching it alone would
    /// wait for new records as long as the broker may hold a fetch.
    fn is_caught_up(&self, tp: &TopicPartition) -> bool {
        let end = match self.config.isolation_level {
            IsolationLevel::ReadCommitted => self.offsets.last_stable_offset(tp),
            IsolationLevel::ReadUncommitted => self.offsets.high_watermark(tp),
        };
        match (self.offsets.fetch_position(tp), end) {
            (Some(position), Some(end)) => position.offset >= end,
            _ => false,
        }
    }

    /// The broker `tp` is read from: the replica a leader named (KIP-392) while that has not
    /// expired and metadata knows the broker, else the leader; with the leader epoch. An
    /// expired or unknown replica is forgotten.
    fn read_replica(&mut self, now: Instant, tp: &TopicPartition) -> Option<(BrokerId, i32)> {
        let (leader, epoch) = self.metadata.leader(tp)?;
        if let Some(&(replica, until)) = self.read_replicas.get(tp) {
            if until > now && self.metadata.brokers.contains_key(&replica) {
                return Some((replica, epoch));
            }
            self.read_replicas.remove(tp);
        }
        Some((leader, epoch))
    }

    /// The broker `tp` is read from at `now`, without forgetting anything.
    fn current_read_replica(&self, now: Instant, tp: &TopicPartition) -> Option<BrokerId> {
        let (leader, _) = self.metadata.leader(tp)?;
        match self.read_replicas.get(tp) {
            Some(&(replica, until))
                if until > now && self.metadata.brokers.contains_key(&replica) =>
            {
                Some(replica)
            }
            _ => Some(leader),
        }
    }

    /// Whether a fetch of `parts` from `leader` should wait: each part is at the end of its log
    /// (the broker would hold the fetch up to its max wait) while another partition of that
    /// leader has records buffered that the application is taking. That partition will want
    /// a fetch soon, and the leader takes one fetch at a time: the caught-up partitions go
    /// with it then.
    fn holds_long_poll(&self, now: Instant, leader: BrokerId, parts: &[FetchPart]) -> bool {
        if !parts.iter().all(|p| self.is_caught_up(&p.tp)) {
            return false;
        }
        self.buffers.iter().any(|(tp, b)| {
            b.has_deliverable()
                && !b.is_blocked()
                && !self.offsets.is_paused(tp)
                && !parts.iter().any(|p| &p.tp == tp)
                && self.current_read_replica(now, tp) == Some(leader)
        })
    }

    /// The next Fetch to send: to the first broker with fetchable partitions and no fetch in
    /// flight. A partition is fetched from its leader, or from the replica the leader named.
    pub(crate) fn poll_fetch(&mut self, now: Instant) -> Option<Outgoing> {
        if self.offsets.is_closed() {
            return None;
        }
        // Every broker has a fetch in flight: none can be sent, and the partitions need not
        // be looked at (the driver asks after every step; with a thousand partitions that
        // scan cost more than the records taken in between). A leader missing from the
        // metadata is noticed when the next fetch answer makes room.
        if !self.fetch_in_flight.is_empty()
            && self
                .metadata
                .brokers
                .keys()
                .all(|b| self.fetch_in_flight.contains_key(b))
        {
            return None;
        }
        let mut by_leader: BTreeMap<BrokerId, Vec<FetchPart>> = BTreeMap::new();
        let mut leaderless = false;
        let candidates: Vec<TopicPartition> = self.offsets.fetchable().cloned().collect();
        let takeable = self
            .buffers
            .iter()
            .any(|(tp, b)| b.has_deliverable() && !b.is_blocked() && !self.offsets.is_paused(tp));
        for tp in candidates {
            if !self.may_fetch(now, &tp, takeable) {
                continue;
            }
            let Some((leader, leader_epoch)) = self.read_replica(now, &tp) else {
                leaderless = true;
                continue;
            };
            if self.fetch_in_flight.contains_key(&leader) {
                continue;
            }
            let (Some(position), Some(epoch)) = (
                self.offsets.fetch_position(&tp),
                self.offsets.fetch_epoch(&tp),
            ) else {
                continue;
            };
            let topic_id = self.metadata.topic_id(tp.topic());
            by_leader.entry(leader).or_default().push(FetchPart {
                tp,
                epoch,
                offset: position.offset,
                leader_epoch,
                topic_id,
                last_fetched_epoch: position.leader_epoch.unwrap_or(-1),
            });
        }
        if leaderless {
            self.metadata.request_update();
        }
        let (leader, parts) = by_leader
            .into_iter()
            .find(|(leader, parts)| !self.holds_long_poll(now, *leader, parts))?;
        let id = self.request_id();
        let request = fetch_request(&self.config, &parts);
        for p in &parts {
            self.fetching.insert(p.tp.clone());
        }
        self.fetch_in_flight.insert(leader, id);
        self.pending.insert(
            id,
            Pending::Fetch {
                broker: leader,
                parts,
            },
        );
        Some(Outgoing {
            id,
            destination: Destination::Broker(leader),
            request,
        })
    }

    /// Clears the in-flight marks of a fetch.
    pub(crate) fn fetch_done(&mut self, broker: BrokerId, parts: &[FetchPart]) {
        self.fetch_in_flight.remove(&broker);
        for p in parts {
            self.fetching.remove(&p.tp);
        }
    }

    /// A fetch got no answer: back off its partitions and check the leaders. Partitions read
    /// from another replica than the leader go back to the leader.
    pub(crate) fn on_fetch_failed(
        &mut self,
        now: Instant,
        broker: BrokerId,
        parts: Vec<FetchPart>,
    ) {
        self.fetch_done(broker, &parts);
        self.metadata.request_update();
        for p in &parts {
            if self
                .read_replicas
                .get(&p.tp)
                .is_some_and(|(b, _)| *b == broker)
            {
                self.read_replicas.remove(&p.tp);
            }
            self.back_off(now, &p.tp);
        }
    }

    /// A fetch answer.
    pub(crate) fn on_fetch(
        &mut self,
        now: Instant,
        broker: BrokerId,
        parts: Vec<FetchPart>,
        version: i16,
        resp: FetchResponse,
    ) {
        self.fetch_done(broker, &parts);
        if self.offsets.is_closed() {
            return;
        }
        if version >= 7 && !resp.error_code.is_ok() {
            for p in &parts {
                self.fetch_partition_error(now, broker, p, resp.error_code);
            }
            return;
        }
        let mut asked: HashMap<TopicPartition, FetchPart> =
            parts.into_iter().map(|p| (p.tp.clone(), p)).collect();
        let names: HashMap<Uuid, Arc<str>> = asked
            .values()
            .filter_map(|p| Some((p.topic_id?, p.tp.topic_arc().clone())))
            .collect();
        let answer_bytes: usize = resp
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .filter_map(|p| p.records.as_ref().map(Bytes::len))
            .sum();
        if answer_bytes > 0 {
            let decayed = self.answer_bytes_estimate - self.answer_bytes_estimate / 16;
            self.answer_bytes_estimate = answer_bytes.max(decayed);
        }
        for topic in resp.responses {
            let name: Arc<str> = if version >= 13 {
                match names.get(&topic.topic_id) {
                    Some(n) => n.clone(),
                    None => continue,
                }
            } else {
                Arc::from(topic.topic.as_str())
            };
            for data in topic.partitions {
                let tp = TopicPartition::new(name.clone(), data.partition_index);
                let Some(part) = asked.remove(&tp) else {
                    continue;
                };
                let diverging = &data.diverging_epoch;
                if version >= 12
                    && data.error_code.is_ok()
                    && (diverging.epoch >= 0 || diverging.end_offset >= 0)
                {
                    let fetched = FetchPosition {
                        offset: part.offset,
                        leader_epoch: epoch_or_none(part.last_fetched_epoch),
                    };
                    if self.offsets.handle_diverging_epoch(
                        now,
                        &part.tp,
                        part.epoch,
                        fetched,
                        diverging.epoch,
                        diverging.end_offset,
                    ) {
                        self.purge_stale();
                    }
                } else if data.error_code.is_ok() {
                    if version >= 11 && data.preferred_read_replica >= 0 {
                        self.prefer_replica(now, &part.tp, data.preferred_read_replica);
                    }
                    self.ingest(now, &part, version, data);
                } else {
                    self.fetch_partition_error(now, broker, &part, data.error_code);
                }
            }
        }
    }

    /// A leader named `replica` to read `tp` from: later fetches go there until the metadata
    /// age passes (Java's `metadata.max.age.ms`) or the replica fails.
    fn prefer_replica(&mut self, now: Instant, tp: &TopicPartition, replica: BrokerId) {
        match now.checked_add(self.config.metadata_max_age) {
            Some(until) => {
                self.read_replicas.insert(tp.clone(), (replica, until));
            }
            None => {
                self.read_replicas.remove(tp);
            }
        }
    }

    /// A partition error in a fetch answer from `broker`. Any error from a replica that is
    /// not the leader sends the partition back to the leader; OFFSET_OUT_OF_RANGE from such
    /// a replica resets nothing (it may lag behind the leader), only an answer from the
    /// leader does.
    fn fetch_partition_error(
        &mut self,
        now: Instant,
        broker: BrokerId,
        part: &FetchPart,
        code: ErrorCode,
    ) {
        let from_replica = self
            .read_replicas
            .get(&part.tp)
            .is_some_and(|(b, _)| *b == broker);
        self.read_replicas.remove(&part.tp);
        if from_replica && code == ErrorCode::OFFSET_OUT_OF_RANGE {
            return;
        }
        if !self
            .offsets
            .handle_fetch_error(now, &part.tp, part.epoch, code)
        {
            return;
        }
        if code == ErrorCode::OFFSET_OUT_OF_RANGE {
            // The offset machine resets the partition (or reports it failed).
            self.purge_stale();
            return;
        }
        if is_metadata_code(code) {
            self.metadata.request_update();
        } else if !code.is_retriable() {
            self.push_event(ConsumerEvent::Fetch {
                partition: part.tp.clone(),
                error: FetchError::Broker(code),
            });
        }
        self.back_off(now, &part.tp);
    }

    /// Decodes one partition's records into its buffer.
    fn ingest(&mut self, now: Instant, part: &FetchPart, version: i16, data: PartitionData) {
        let read_committed = self.config.isolation_level == IsolationLevel::ReadCommitted;
        let last_stable_offset =
            (version >= 4 && data.last_stable_offset >= 0).then_some(data.last_stable_offset);
        let log_start_offset =
            (version >= 5 && data.log_start_offset >= 0).then_some(data.log_start_offset);
        // Under read_committed nothing at or after the last stable offset is read.
        let cap = if read_committed {
            last_stable_offset
        } else {
            None
        };
        let records = data.records.unwrap_or_default();
        let had_records = !records.is_empty();
        let mut batches: Vec<CheckedBatch> = Vec::new();
        let mut corrupt = None;
        for batch in RecordBatches::new(records) {
            match batch.and_then(|b| check_batch(b, part.offset, cap)) {
                Ok(b) => {
                    if cap.is_some_and(|c| b.batch.base_offset() >= c) {
                        break;
                    }
                    // Batches of one answer follow each other (compaction may leave gaps,
                    // never overlaps).
                    if let Some(expected) = batches.last().map(|p| p.batch.next_offset()) {
                        let offset = b.batch.base_offset();
                        if offset < expected {
                            corrupt = Some(FetchError::OutOfOrder { offset, expected });
                            break;
                        }
                    }
                    batches.push(b);
                }
                Err(error) => {
                    corrupt = Some(FetchError::Corrupt {
                        offset: part.offset,
                        error,
                    });
                    break;
                }
            }
        }
        let next_offset = batches.last().map(|b| {
            let end = b.batch.next_offset();
            cap.map_or(end, |c| c.min(end))
        });
        let leader_epoch = batches
            .last()
            .and_then(|b| epoch_or_none(b.batch.header().partition_leader_epoch));
        let fetched = FetchedPartition {
            next_offset,
            leader_epoch,
            high_watermark: data.high_watermark,
            last_stable_offset,
            log_start_offset,
        };
        if !self
            .offsets
            .handle_fetched(now, &part.tp, part.epoch, fetched)
        {
            return;
        }
        let aborted: Vec<(i64, i64)> = data
            .aborted_transactions
            .unwrap_or_default()
            .into_iter()
            .map(|a| (a.producer_id, a.first_offset))
            .collect();
        let buffer = match self.buffers.get_mut(&part.tp) {
            Some(b) if b.epoch == part.epoch => b,
            _ => {
                self.drop_buffer(&part.tp);
                self.buffers
                    .entry(part.tp.clone())
                    .or_insert_with(|| PartitionBuffer::new(part.epoch, read_committed))
            }
        };
        let offsets: i64 = batches
            .iter()
            .map(|b| b.batch.next_offset().saturating_sub(b.batch.base_offset()))
            .sum();
        let added = buffer.push(batches, part.offset, cap, aborted);
        self.buffered_bytes += added.bytes;
        let stats = match self.stats.fetched.get_mut(&part.tp) {
            Some(stats) => stats,
            None => self.stats.fetched.entry(part.tp.clone()).or_default(),
        };
        stats.records.add(now, u64::try_from(offsets).unwrap_or(0));
        stats.bytes.add(now, added.bytes as u64);
        if added.batches > 0 {
            if let Some(r) = self.backoffs.get_mut(&part.tp) {
                r.attempt = 0;
            }
        }
        if let Some(error) = corrupt {
            // What came before the bad batch is kept, and the next fetch starts after it. A
            // corrupt batch is then met again, first in its answer: reported once nothing
            // before it is kept, with a backoff. An overlap is reported at once (the next
            // answer, starting at the right offset, may not show it).
            let overlap = matches!(error, FetchError::OutOfOrder { .. });
            if added.batches == 0 || overlap {
                self.push_event(ConsumerEvent::Fetch {
                    partition: part.tp.clone(),
                    error,
                });
            }
            if added.batches == 0 {
                self.back_off(now, &part.tp);
            }
        } else if had_records && added.batches == 0 && cap.is_some() {
            // Everything fetched is past the last stable offset: wait as a long poll would.
            let until = now.checked_add(self.config.fetch_max_wait);
            self.idle(&part.tp, until);
        }
        // An empty buffer carries nothing under read_uncommitted; under read_committed it
        // keeps the transaction state of the partition.
        if !read_committed && self.buffers.get(&part.tp).is_some_and(|b| b.is_empty()) {
            self.buffers.remove(&part.tp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn part(topic: &str, id: Option<u128>) -> FetchPart {
        FetchPart {
            tp: TopicPartition::new(topic, 0),
            epoch: FetchEpoch(1),
            offset: 42,
            leader_epoch: 3,
            topic_id: id.map(Uuid::from),
            last_fetched_epoch: 2,
        }
    }

    #[test]
    fn the_client_rack_goes_into_every_fetch_from_v11() {
        let config = ConsumerConfig::default().with_client_rack("r2");
        let request = fetch_request(&config, &[part("a", Some(1))]);
        for v in 4..=17 {
            let RequestBody::Fetch(f) = request.body(v) else {
                panic!()
            };
            assert_eq!(f.rack_id, if v >= 11 { "r2" } else { "" }, "v{v}");
        }
        let none = fetch_request(&ConsumerConfig::default(), &[part("a", Some(1))]);
        let RequestBody::Fetch(f) = none.body(17) else {
            panic!()
        };
        assert_eq!(f.rack_id, "");
        assert_eq!(
            ConsumerConfig::default().with_client_rack("").client_rack,
            None
        );
    }

    #[test]
    fn topic_ids_decide_the_highest_version() {
        let config = ConsumerConfig::default().with_isolation_level(IsolationLevel::ReadCommitted);
        let with_ids = fetch_request(&config, &[part("a", Some(1)), part("b", Some(2))]);
        assert_eq!(with_ids.versions(), (4, 17));
        let without = fetch_request(&config, &[part("a", Some(1)), part("b", None)]);
        assert_eq!(without.versions(), (4, 12));
        for request in [with_ids, without] {
            let (lo, hi) = request.versions();
            for v in lo..=hi {
                let body = request.body(v);
                let mut buf = BytesMut::new();
                body.encode(&mut buf, v).unwrap();
                let RequestBody::Fetch(f) = body else {
                    panic!()
                };
                assert_eq!(
                    (f.session_id, f.session_epoch, f.isolation_level),
                    (0, -1, 1)
                );
                let p = &f.topics[0].partitions[0];
                assert_eq!(p.fetch_offset, 42);
                assert_eq!(p.current_leader_epoch, if v >= 9 { 3 } else { -1 });
                assert_eq!(f.topics[0].topic_id.is_zero(), v < 13, "v{v}");
                assert_eq!(f.topics[0].topic.is_empty(), v >= 13, "v{v}");
            }
        }
    }
}

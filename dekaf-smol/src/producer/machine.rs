//! A small producer machine: metadata for the topics written to, one queue per partition,
//! one Produce in flight per partition (so records stay in order across retries), acks = all.
//!
//! It has no idempotence: a Produce that fails without an answer is sent again and may be
//! written twice (at-least-once).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use async_channel::Sender;
use dekaf_proto::messages::metadata::{MetadataRequestTopic, MetadataResponse};
use dekaf_proto::messages::produce::{PartitionProduceData, TopicProduceData};
use dekaf_proto::messages::{
    MetadataRequest, ProduceRequest, ProduceResponse, RequestBody, ResponseBody,
};
use dekaf_proto::records::RecordBatchBuilder;
use dekaf_proto::{ApiKey, ErrorCode};
use dekaf_state::client::{
    BrokerAddress, BrokerId, ClientMachine, ClientRequest, Destination, Outgoing, RequestFailed,
    RequestId, Response,
};
use dekaf_state::consumer::MetadataProblem;
use dekaf_state::offset::{Backoff, Rng, TopicPartition};

use super::partitioner::partition_for_key;
use super::record::{ProducerRecord, RecordMetadata};
use crate::side::SideRequests;
use crate::Error;

/// What the machine is told up front.
#[derive(Clone, Debug)]
pub(crate) struct ProducerSettings {
    /// Produce `timeout_ms`: how long the broker may wait for replicas.
    pub(crate) request_timeout: Duration,
    /// The most record bytes in one batch (a larger record goes alone).
    pub(crate) max_batch_bytes: usize,
    /// How long a record may wait for its acknowledgement, retries included.
    pub(crate) delivery_timeout: Duration,
    pub(crate) retry_backoff: Backoff,
    /// Metadata older than this is refreshed before it is used again.
    pub(crate) metadata_max_age: Duration,
}

/// The result a sender awaits.
pub(crate) type Delivery = Result<RecordMetadata, Error>;

/// A record waiting for its acknowledgement.
#[derive(Debug)]
struct Pending {
    seq: u64,
    record: ProducerRecord,
    deadline: Instant,
    delivery: Sender<Delivery>,
    last_error: Option<Error>,
}

/// A topic as metadata describes it.
#[derive(Debug, Default)]
struct TopicMeta {
    error: ErrorCode,
    /// Partition index to leader (-1: none).
    leaders: BTreeMap<i32, BrokerId>,
}

#[derive(Debug, Default)]
struct PartitionQueue {
    records: VecDeque<Pending>,
    in_flight: bool,
    not_before: Option<Instant>,
    attempt: u32,
}

#[derive(Debug)]
enum InFlight {
    Metadata,
    Produce {
        tp: TopicPartition,
        records: Vec<Pending>,
    },
}

/// The producer machine (see the module docs).
#[derive(Debug)]
pub(crate) struct ProducerMachine {
    settings: ProducerSettings,
    pub(crate) side: SideRequests,
    brokers: HashMap<BrokerId, BrokerAddress>,
    topics: HashMap<String, TopicMeta>,
    metadata_needed: bool,
    metadata_in_flight: bool,
    metadata_at: Option<Instant>,
    metadata_not_before: Option<Instant>,
    metadata_attempt: u32,
    /// Records whose partition is not known yet (waiting for metadata), in order.
    unresolved: VecDeque<Pending>,
    queues: BTreeMap<TopicPartition, PartitionQueue>,
    in_flight: HashMap<RequestId, InFlight>,
    next_request: u64,
    next_seq: u64,
    /// Records sent and not finished, by sequence number.
    unfinished: BTreeSet<u64>,
    /// Flushes waiting for every record before a sequence number.
    flushes: Vec<(u64, Sender<()>)>,
    /// Where the next record without key or partition goes, per topic.
    round_robin: HashMap<String, u32>,
    rng: Rng,
}

fn later(now: Instant, d: Duration) -> Instant {
    crate::connection::later(now, d)
}

impl ProducerMachine {
    pub(crate) fn new(settings: ProducerSettings, seed: u64) -> Self {
        ProducerMachine {
            settings,
            side: SideRequests::default(),
            brokers: HashMap::new(),
            topics: HashMap::new(),
            metadata_needed: false,
            metadata_in_flight: false,
            metadata_at: None,
            metadata_not_before: None,
            metadata_attempt: 0,
            unresolved: VecDeque::new(),
            queues: BTreeMap::new(),
            in_flight: HashMap::new(),
            next_request: 0,
            next_seq: 0,
            unfinished: BTreeSet::new(),
            flushes: Vec::new(),
            round_robin: HashMap::new(),
            rng: Rng::new(seed),
        }
    }

    /// Takes a record to send; `delivery` gets its outcome.
    pub(crate) fn send(
        &mut self,
        now: Instant,
        record: ProducerRecord,
        delivery: Sender<Delivery>,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if record.topic.is_empty() {
            let _ = delivery.try_send(Err(Error::Metadata(MetadataProblem::Topic {
                topic: String::new(),
                code: ErrorCode::INVALID_TOPIC_EXCEPTION,
            })));
            return;
        }
        self.unfinished.insert(seq);
        if !self.topics.contains_key(&record.topic) || self.metadata_is_old(now) {
            self.metadata_needed = true;
        }
        self.unresolved.push_back(Pending {
            seq,
            record,
            deadline: later(now, self.settings.delivery_timeout),
            delivery,
            last_error: None,
        });
    }

    /// `done` gets a message once every record sent before has finished.
    pub(crate) fn flush(&mut self, done: Sender<()>) {
        let upto = self.next_seq;
        if self.unfinished.first().is_none_or(|&s| s >= upto) {
            let _ = done.try_send(());
        } else {
            self.flushes.push((upto, done));
        }
    }

    fn metadata_is_old(&self, now: Instant) -> bool {
        self.metadata_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.settings.metadata_max_age)
    }

    fn finish(&mut self, pending: Pending, result: Delivery) {
        self.unfinished.remove(&pending.seq);
        let _ = pending.delivery.try_send(result);
        let first = self.unfinished.first().copied();
        self.flushes.retain(|(upto, done)| {
            if first.is_none_or(|s| s >= *upto) {
                let _ = done.try_send(());
                false
            } else {
                true
            }
        });
    }

    fn fail(&mut self, pending: Pending, error: Error) {
        self.finish(pending, Err(error));
    }

    fn timed_out(&mut self, pending: Pending) {
        let error = Error::DeliveryTimeout {
            topic: pending.record.topic.clone(),
            timeout: self.settings.delivery_timeout,
            last_error: pending.last_error.clone().map(Box::new),
        };
        self.fail(pending, error);
    }

    /// Fails records past their deadline that are not in flight.
    fn expire(&mut self, now: Instant) {
        let mut expired = Vec::new();
        let mut keep = VecDeque::new();
        for p in self.unresolved.drain(..) {
            if p.deadline <= now {
                expired.push(p);
            } else {
                keep.push_back(p);
            }
        }
        self.unresolved = keep;
        for q in self.queues.values_mut() {
            if q.in_flight {
                continue;
            }
            // Deadlines grow along a queue (records are queued in the order sent).
            while q.records.front().is_some_and(|p| p.deadline <= now) {
                if let Some(p) = q.records.pop_front() {
                    expired.push(p);
                }
            }
        }
        for p in expired {
            self.timed_out(p);
        }
    }

    /// Moves records whose topic metadata is known to their partition's queue.
    fn resolve(&mut self) {
        let mut waiting = VecDeque::new();
        let unresolved = std::mem::take(&mut self.unresolved);
        for p in unresolved {
            let Some(meta) = self.topics.get(&p.record.topic) else {
                waiting.push_back(p);
                continue;
            };
            if meta.error != ErrorCode::NONE || meta.leaders.is_empty() {
                let code = if meta.error == ErrorCode::NONE {
                    ErrorCode::LEADER_NOT_AVAILABLE
                } else {
                    meta.error
                };
                let problem = MetadataProblem::Topic {
                    topic: p.record.topic.clone(),
                    code,
                };
                if code.is_retriable() {
                    // The metadata answer asked again (after a backoff).
                    let mut p = p;
                    p.last_error = Some(Error::Metadata(problem));
                    waiting.push_back(p);
                } else {
                    self.fail(p, Error::Metadata(problem));
                }
                continue;
            }
            let count = i32::try_from(meta.leaders.len()).unwrap_or(i32::MAX);
            let partition = match (p.record.partition, &p.record.key) {
                (Some(partition), _) => partition,
                (None, Some(key)) => partition_for_key(key, count),
                (None, None) => {
                    let next = self.round_robin.entry(p.record.topic.clone()).or_default();
                    let partition = (*next % count.max(1) as u32) as i32;
                    *next = next.wrapping_add(1);
                    partition
                }
            };
            if !meta.leaders.contains_key(&partition) {
                let tp = TopicPartition::new(p.record.topic.as_str(), partition);
                self.fail(
                    p,
                    Error::Produce {
                        partition: tp,
                        code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    },
                );
                continue;
            }
            let tp = TopicPartition::new(p.record.topic.as_str(), partition);
            self.queues.entry(tp).or_default().records.push_back(p);
        }
        self.unresolved = waiting;
    }

    fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    fn metadata_request(&mut self, now: Instant) -> Option<Outgoing> {
        let wanted: BTreeSet<String> = self
            .unresolved
            .iter()
            .map(|p| p.record.topic.clone())
            .chain(self.queues.keys().map(|tp| tp.topic().to_string()))
            .collect();
        if !self.metadata_needed
            || self.metadata_in_flight
            || wanted.is_empty()
            || self.metadata_not_before.is_some_and(|t| t > now)
        {
            return None;
        }
        self.metadata_needed = false;
        self.metadata_in_flight = true;
        let id = self.request_id();
        self.in_flight.insert(id, InFlight::Metadata);
        let topics: Vec<String> = wanted.into_iter().collect();
        let request = ClientRequest::new(ApiKey::Metadata, 1, 12, move |v| {
            RequestBody::Metadata(MetadataRequest {
                topics: Some(
                    topics
                        .iter()
                        .map(|name| MetadataRequestTopic {
                            name: Some(name.clone()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                // Like Java's producer (`allow.auto.create.topics`); the field exists from v4.
                allow_auto_topic_creation: v >= 4,
                ..Default::default()
            })
        });
        Some(Outgoing {
            id,
            destination: Destination::AnyBroker,
            request,
        })
    }

    fn produce_request(&mut self, now: Instant) -> Option<Outgoing> {
        let due = self.queues.iter().find_map(|(tp, q)| {
            let ready =
                !q.in_flight && !q.records.is_empty() && q.not_before.is_none_or(|t| t <= now);
            if !ready {
                return None;
            }
            let leader = self
                .topics
                .get(tp.topic())
                .and_then(|t| t.leaders.get(&tp.partition()))
                .copied()
                .filter(|&l| l >= 0 && self.brokers.contains_key(&l));
            Some((tp.clone(), leader))
        });
        let (tp, leader) = due?;
        let Some(leader) = leader else {
            // Wait for metadata that names a leader (the partition stays queued).
            self.metadata_needed = true;
            if let Some(q) = self.queues.get_mut(&tp) {
                q.not_before = Some(later(now, self.settings.retry_backoff.initial));
            }
            return None;
        };
        let queue = self.queues.get_mut(&tp)?;
        let mut records = Vec::new();
        let mut bytes = 0;
        while let Some(p) = queue.records.front() {
            let size = p.record.size();
            if !records.is_empty() && bytes + size > self.settings.max_batch_bytes {
                break;
            }
            bytes += size;
            if let Some(p) = queue.records.pop_front() {
                records.push(p);
            }
        }
        queue.in_flight = true;
        let mut batch = RecordBatchBuilder::new();
        for p in &records {
            let r = &p.record;
            batch.append(
                r.timestamp.unwrap_or(0),
                r.key.clone(),
                r.value.clone(),
                r.headers.clone(),
            );
        }
        let batch = match batch.build() {
            Ok(b) => b,
            Err(e) => {
                if let Some(q) = self.queues.get_mut(&tp) {
                    q.in_flight = false;
                }
                for p in records {
                    self.fail(p, Error::Request(RequestFailed::Encode(e.clone())));
                }
                return None;
            }
        };
        let request = ProduceRequest {
            transactional_id: None,
            acks: -1,
            timeout_ms: i32::try_from(self.settings.request_timeout.as_millis())
                .unwrap_or(i32::MAX),
            topic_data: vec![TopicProduceData {
                name: tp.topic().to_string(),
                partition_data: vec![PartitionProduceData {
                    index: tp.partition(),
                    records: Some(batch),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let id = self.request_id();
        self.in_flight.insert(id, InFlight::Produce { tp, records });
        Some(Outgoing {
            id,
            destination: Destination::Broker(leader),
            request: ClientRequest::new(ApiKey::Produce, 3, 11, move |_| {
                RequestBody::Produce(request.clone())
            }),
        })
    }

    fn handle_metadata(&mut self, now: Instant, result: Result<MetadataResponse, RequestFailed>) {
        self.metadata_in_flight = false;
        match result {
            Ok(m) => {
                self.metadata_not_before = None;
                self.metadata_at = Some(now);
                for b in &m.brokers {
                    if let Ok(port) = u16::try_from(b.port) {
                        self.brokers.insert(
                            b.node_id,
                            BrokerAddress {
                                host: b.host.clone(),
                                port,
                            },
                        );
                    }
                }
                for t in &m.topics {
                    let Some(name) = t.name.clone() else { continue };
                    let leaders = t
                        .partitions
                        .iter()
                        .map(|p| (p.partition_index, p.leader_id))
                        .collect();
                    self.topics.insert(
                        name,
                        TopicMeta {
                            error: t.error_code,
                            leaders,
                        },
                    );
                }
                // Topics not created yet or partitions without a leader: ask again later.
                self.metadata_needed = self.metadata_incomplete();
                if !self.metadata_needed {
                    self.metadata_attempt = 0;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "producer metadata failed");
                self.metadata_needed = true;
            }
        }
        if self.metadata_needed {
            self.back_off_metadata(now);
        }
    }

    /// Whether a record waits for metadata that the cache does not have.
    fn metadata_incomplete(&self) -> bool {
        let leader_known = |tp: &TopicPartition| {
            self.topics
                .get(tp.topic())
                .and_then(|t| t.leaders.get(&tp.partition()))
                .is_some_and(|&l| l >= 0 && self.brokers.contains_key(&l))
        };
        self.unresolved.iter().any(|p| {
            self.topics
                .get(&p.record.topic)
                .is_none_or(|t| t.error != ErrorCode::NONE || t.leaders.is_empty())
        }) || self
            .queues
            .iter()
            .any(|(tp, q)| !q.records.is_empty() && !leader_known(tp))
    }

    fn back_off_metadata(&mut self, now: Instant) {
        let delay = self
            .settings
            .retry_backoff
            .delay(self.metadata_attempt, &mut self.rng);
        self.metadata_attempt = self.metadata_attempt.saturating_add(1);
        self.metadata_not_before = Some(later(now, delay));
    }

    fn handle_produce(
        &mut self,
        now: Instant,
        tp: TopicPartition,
        records: Vec<Pending>,
        result: Result<ProduceResponse, RequestFailed>,
    ) {
        if let Some(q) = self.queues.get_mut(&tp) {
            q.in_flight = false;
        }
        let error = match result {
            Ok(resp) => {
                let part = resp
                    .responses
                    .iter()
                    .filter(|t| t.name == tp.topic())
                    .flat_map(|t| t.partition_responses.iter())
                    .find(|p| p.index == tp.partition());
                match part {
                    Some(p) if p.error_code == ErrorCode::NONE => {
                        if let Some(q) = self.queues.get_mut(&tp) {
                            q.attempt = 0;
                            q.not_before = None;
                        }
                        for (i, pending) in records.into_iter().enumerate() {
                            let timestamp = if p.log_append_time_ms >= 0 {
                                p.log_append_time_ms
                            } else {
                                pending.record.timestamp.unwrap_or(-1)
                            };
                            let meta = RecordMetadata {
                                topic_partition: tp.clone(),
                                offset: p.base_offset + i as i64,
                                timestamp,
                            };
                            self.finish(pending, Ok(meta));
                        }
                        return;
                    }
                    Some(p) => Error::Produce {
                        partition: tp.clone(),
                        code: p.error_code,
                    },
                    // An answer without the partition: as if it had failed in transit.
                    None => Error::Request(RequestFailed::Disconnected),
                }
            }
            Err(e) => Error::Request(e),
        };
        if !error.is_retriable() {
            for p in records {
                self.fail(p, error.clone());
            }
            return;
        }
        // Leader moved, connection lost, broker busy: look again and retry, in order.
        self.metadata_needed = true;
        let delay;
        {
            let q = self.queues.entry(tp).or_default();
            delay = self.settings.retry_backoff.delay(q.attempt, &mut self.rng);
            q.attempt = q.attempt.saturating_add(1);
            q.not_before = Some(later(now, delay));
            for mut p in records.into_iter().rev() {
                p.last_error = Some(error.clone());
                q.records.push_front(p);
            }
        }
        tracing::debug!(%error, ?delay, "produce will be retried");
    }
}

impl ClientMachine for ProducerMachine {
    fn poll_request(&mut self, now: Instant) -> Option<Outgoing> {
        if let Some(out) = self.side.poll_request() {
            return Some(out);
        }
        self.resolve();
        if let Some(out) = self.metadata_request(now) {
            return Some(out);
        }
        self.produce_request(now)
    }

    fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        if self.side.owns(id) {
            self.side.handle_response(id, result);
            return;
        }
        match self.in_flight.remove(&id) {
            Some(InFlight::Metadata) => {
                let result = result.and_then(|r| match r.body {
                    ResponseBody::Metadata(m) => Ok(m),
                    _ => Err(RequestFailed::Disconnected),
                });
                self.handle_metadata(now, result);
            }
            Some(InFlight::Produce { tp, records }) => {
                let result = result.and_then(|r| match r.body {
                    ResponseBody::Produce(p) => Ok(p),
                    _ => Err(RequestFailed::Disconnected),
                });
                self.handle_produce(now, tp, records, result);
            }
            None => tracing::debug!(request = %id, "answer to an unknown request"),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let metadata = (self.metadata_needed && !self.metadata_in_flight)
            .then_some(self.metadata_not_before)
            .flatten();
        let queues = self.queues.values().filter(|q| !q.in_flight).flat_map(|q| {
            let first = q.records.front().map(|p| p.deadline);
            let retry = q.not_before.filter(|_| !q.records.is_empty());
            first.into_iter().chain(retry)
        });
        let unresolved = self.unresolved.front().map(|p| p.deadline);
        metadata.into_iter().chain(queues).chain(unresolved).min()
    }

    fn broker_address(&self, id: BrokerId) -> Option<BrokerAddress> {
        self.brokers.get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_channel::Receiver;
    use bytes::Bytes;
    use dekaf_proto::messages::metadata::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use dekaf_proto::messages::produce::{PartitionProduceResponse, TopicProduceResponse};
    use dekaf_proto::records::RecordBatch;

    fn machine() -> ProducerMachine {
        ProducerMachine::new(
            ProducerSettings {
                request_timeout: Duration::from_secs(30),
                max_batch_bytes: 1024 * 1024,
                delivery_timeout: Duration::from_secs(120),
                retry_backoff: Backoff::default(),
                metadata_max_age: Duration::from_secs(300),
            },
            7,
        )
    }

    fn send(m: &mut ProducerMachine, now: Instant, record: ProducerRecord) -> Receiver<Delivery> {
        let (tx, rx) = async_channel::bounded(1);
        m.send(now, record.timestamp(1_000), tx);
        rx
    }

    fn metadata(topic: &str, partitions: i32, error: ErrorCode) -> Response {
        Response {
            version: 12,
            body: ResponseBody::Metadata(MetadataResponse {
                brokers: vec![MetadataResponseBroker {
                    node_id: 1,
                    host: "b1".into(),
                    port: 9092,
                    ..Default::default()
                }],
                topics: vec![MetadataResponseTopic {
                    error_code: error,
                    name: Some(topic.into()),
                    partitions: (0..partitions)
                        .map(|p| MetadataResponsePartition {
                            partition_index: p,
                            leader_id: 1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    fn produced(tp: &TopicPartition, code: ErrorCode, base_offset: i64) -> Response {
        Response {
            version: 9,
            body: ResponseBody::Produce(ProduceResponse {
                responses: vec![TopicProduceResponse {
                    name: tp.topic().into(),
                    partition_responses: vec![PartitionProduceResponse {
                        index: tp.partition(),
                        error_code: code,
                        base_offset,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    /// The partition and the values a Produce request carries.
    fn contents(out: &Outgoing) -> (TopicPartition, Vec<Bytes>) {
        let RequestBody::Produce(req) = out.request.body(9) else {
            panic!("not a produce: {out:?}");
        };
        assert_eq!(req.acks, -1);
        let topic = &req.topic_data[0];
        let part = &topic.partition_data[0];
        let batch = RecordBatch::decode(part.records.as_ref().unwrap()).unwrap();
        let values = batch
            .records()
            .map(|r| r.unwrap().into_owned().value.unwrap())
            .collect();
        (TopicPartition::new(topic.name.as_str(), part.index), values)
    }

    fn delivered(rx: &Receiver<Delivery>) -> Option<Delivery> {
        rx.try_recv().ok()
    }

    #[test]
    fn records_wait_for_metadata_then_go_together_in_order() {
        let mut m = machine();
        let now = Instant::now();
        let rx: Vec<_> = (0..3)
            .map(|i| {
                send(
                    &mut m,
                    now,
                    ProducerRecord::new("t").partition(1).value(format!("v{i}")),
                )
            })
            .collect();
        let meta = m.poll_request(now).unwrap();
        assert_eq!(meta.destination, Destination::AnyBroker);
        assert!(m.poll_request(now).is_none(), "nothing before metadata");
        m.handle_response(now, meta.id, Ok(metadata("t", 2, ErrorCode::NONE)));
        let out = m.poll_request(now).unwrap();
        assert_eq!(out.destination, Destination::Broker(1));
        let (tp, values) = contents(&out);
        assert_eq!(tp, TopicPartition::new("t", 1));
        assert_eq!(values, ["v0", "v1", "v2"]);
        assert!(delivered(&rx[0]).is_none());
        m.handle_response(now, out.id, Ok(produced(&tp, ErrorCode::NONE, 40)));
        for (i, rx) in rx.iter().enumerate() {
            let meta = delivered(rx).unwrap().unwrap();
            assert_eq!(
                (meta.partition(), meta.offset(), meta.timestamp),
                (1, 40 + i as i64, 1_000)
            );
        }
    }

    #[test]
    fn one_write_in_flight_per_partition_and_the_next_batch_fills_meanwhile() {
        let mut m = machine();
        let now = Instant::now();
        let first = send(
            &mut m,
            now,
            ProducerRecord::new("t").partition(0).value("a"),
        );
        let meta = m.poll_request(now).unwrap();
        m.handle_response(now, meta.id, Ok(metadata("t", 1, ErrorCode::NONE)));
        let one = m.poll_request(now).unwrap();
        let more: Vec<_> = ["b", "c"]
            .iter()
            .map(|v| send(&mut m, now, ProducerRecord::new("t").partition(0).value(*v)))
            .collect();
        assert!(
            m.poll_request(now).is_none(),
            "a second write while one is in flight"
        );
        let tp = TopicPartition::new("t", 0);
        m.handle_response(now, one.id, Ok(produced(&tp, ErrorCode::NONE, 0)));
        assert_eq!(delivered(&first).unwrap().unwrap().offset(), 0);
        let two = m.poll_request(now).unwrap();
        assert_eq!(contents(&two).1, ["b", "c"]);
        m.handle_response(now, two.id, Ok(produced(&tp, ErrorCode::NONE, 1)));
        let offsets: Vec<_> = more
            .iter()
            .map(|rx| delivered(rx).unwrap().unwrap().offset())
            .collect();
        assert_eq!(offsets, [1, 2]);
    }

    #[test]
    fn retriable_errors_retry_the_same_records_in_order_after_a_backoff() {
        let mut m = machine();
        let now = Instant::now();
        let rx = send(
            &mut m,
            now,
            ProducerRecord::new("t").partition(0).value("a"),
        );
        let meta = m.poll_request(now).unwrap();
        m.handle_response(now, meta.id, Ok(metadata("t", 1, ErrorCode::NONE)));
        let tp = TopicPartition::new("t", 0);
        let out = m.poll_request(now).unwrap();
        m.handle_response(
            now,
            out.id,
            Ok(produced(&tp, ErrorCode::NOT_LEADER_OR_FOLLOWER, -1)),
        );
        assert!(delivered(&rx).is_none());
        // The leader is looked up again at once; the write waits for its backoff.
        let refresh = m.poll_request(now).unwrap();
        assert_eq!(refresh.destination, Destination::AnyBroker);
        m.handle_response(now, refresh.id, Ok(metadata("t", 1, ErrorCode::NONE)));
        assert!(m.poll_request(now).is_none());
        let retry_at = m.poll_timeout().unwrap();
        assert!(retry_at > now);
        let again = m.poll_request(retry_at).unwrap();
        assert_eq!(contents(&again).1, ["a"]);
        m.handle_response(retry_at, again.id, Err(RequestFailed::Disconnected));
        let (third, at) = next_produce(&mut m, retry_at);
        assert!(at > retry_at);
        assert_eq!(contents(&third).1, ["a"]);
        m.handle_response(at, third.id, Ok(produced(&tp, ErrorCode::NONE, 7)));
        assert_eq!(delivered(&rx).unwrap().unwrap().offset(), 7);
    }

    /// Steps time from `now` (answering metadata requests) until a Produce is sent.
    fn next_produce(m: &mut ProducerMachine, mut now: Instant) -> (Outgoing, Instant) {
        for _ in 0..20 {
            match m.poll_request(now) {
                Some(out) if out.destination == Destination::AnyBroker => {
                    m.handle_response(now, out.id, Ok(metadata("t", 1, ErrorCode::NONE)));
                }
                Some(out) => return (out, now),
                None => now = m.poll_timeout().expect("a timer while records wait"),
            }
        }
        panic!("no Produce after 20 steps");
    }

    #[test]
    fn refusals_fail_the_records_with_the_code() {
        let mut m = machine();
        let now = Instant::now();
        let rx = send(
            &mut m,
            now,
            ProducerRecord::new("t").partition(0).value("a"),
        );
        let meta = m.poll_request(now).unwrap();
        m.handle_response(now, meta.id, Ok(metadata("t", 1, ErrorCode::NONE)));
        let out = m.poll_request(now).unwrap();
        let tp = TopicPartition::new("t", 0);
        m.handle_response(
            now,
            out.id,
            Ok(produced(&tp, ErrorCode::MESSAGE_TOO_LARGE, -1)),
        );
        let e = delivered(&rx).unwrap().unwrap_err();
        assert!(
            matches!(
                e,
                Error::Produce {
                    code: ErrorCode::MESSAGE_TOO_LARGE,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!e.is_retriable());

        // A partition the topic does not have.
        let rx = send(
            &mut m,
            now,
            ProducerRecord::new("t").partition(5).value("b"),
        );
        assert!(m.poll_request(now).is_none());
        let e = delivered(&rx).unwrap().unwrap_err();
        assert_eq!(e.error_code(), Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    }

    #[test]
    fn records_for_a_missing_topic_time_out_with_the_last_error() {
        let mut m = machine();
        let now = Instant::now();
        let rx = send(&mut m, now, ProducerRecord::new("nope").value("a"));
        let meta = m.poll_request(now).unwrap();
        m.handle_response(
            now,
            meta.id,
            Ok(metadata("nope", 0, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)),
        );
        assert!(m.poll_request(now).is_none());
        // Asked again after a backoff, not in a loop.
        let again = m.poll_timeout().unwrap();
        assert!(again > now);
        assert!(m.poll_request(again).is_some());
        let deadline = now + Duration::from_secs(120);
        m.handle_timeout(deadline);
        let e = delivered(&rx).unwrap().unwrap_err();
        let Error::DeliveryTimeout { last_error, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(
            last_error.as_ref().and_then(|e| e.error_code()),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
    }

    #[test]
    fn flush_waits_for_what_was_sent_before() {
        let mut m = machine();
        let now = Instant::now();
        let (done, flushed) = async_channel::bounded(1);
        m.flush(done);
        assert!(flushed.try_recv().is_ok(), "nothing to wait for");
        let rx = send(
            &mut m,
            now,
            ProducerRecord::new("t").partition(0).value("a"),
        );
        let (done, flushed) = async_channel::bounded(1);
        m.flush(done);
        let meta = m.poll_request(now).unwrap();
        m.handle_response(now, meta.id, Ok(metadata("t", 1, ErrorCode::NONE)));
        let out = m.poll_request(now).unwrap();
        let later = send(
            &mut m,
            now,
            ProducerRecord::new("t").partition(0).value("b"),
        );
        assert!(flushed.try_recv().is_err());
        let tp = TopicPartition::new("t", 0);
        m.handle_response(now, out.id, Ok(produced(&tp, ErrorCode::NONE, 0)));
        assert!(delivered(&rx).is_some());
        assert!(
            flushed.try_recv().is_ok(),
            "a record sent after the flush held it"
        );
        assert!(delivered(&later).is_none());
    }

    #[test]
    fn keys_pick_their_murmur2_partition_and_keyless_records_take_turns() {
        let mut m = machine();
        let now = Instant::now();
        let keyed: Vec<_> = (0..8)
            .map(|i| {
                let key = format!("k{i}");
                (
                    key.clone(),
                    send(&mut m, now, ProducerRecord::new("t").key(key).value("v")),
                )
            })
            .collect();
        let keyless: Vec<_> = (0..6)
            .map(|_| send(&mut m, now, ProducerRecord::new("t").value("v")))
            .collect();
        let meta = m.poll_request(now).unwrap();
        m.handle_response(now, meta.id, Ok(metadata("t", 3, ErrorCode::NONE)));
        let mut offsets = BTreeMap::new();
        while let Some(out) = m.poll_request(now) {
            let (tp, values) = contents(&out);
            let base = *offsets.entry(tp.partition()).or_insert(0);
            offsets.insert(tp.partition(), base + values.len() as i64);
            m.handle_response(now, out.id, Ok(produced(&tp, ErrorCode::NONE, base)));
        }
        for (key, rx) in &keyed {
            let meta = delivered(rx).unwrap().unwrap();
            assert_eq!(
                meta.partition(),
                partition_for_key(key.as_bytes(), 3),
                "{key}"
            );
        }
        let turns: Vec<_> = keyless
            .iter()
            .map(|rx| delivered(rx).unwrap().unwrap().partition())
            .collect();
        assert_eq!(turns, [0, 1, 2, 0, 1, 2]);
    }
}

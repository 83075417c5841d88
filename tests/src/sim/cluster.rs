//! A typed in-memory Kafka cluster: brokers, topics with partitions holding real record
//! batches (transactional ones and their markers, compressed ones), committed offsets per
//! group, and fault hooks. It answers request bodies as a broker would, version by version.

use std::collections::{BTreeMap, BTreeSet};

use dekaf_proto::messages::offset_for_leader_epoch::{
    EpochEndOffset, OffsetForLeaderEpochResponse, OffsetForLeaderTopicResult,
};
use dekaf_proto::messages::OffsetForLeaderEpochRequest;

use bytes::{Bytes, BytesMut};
use dekaf_proto::messages::fetch::{AbortedTransaction, FetchableTopicResponse, PartitionData};
use dekaf_proto::messages::find_coordinator::Coordinator;
use dekaf_proto::messages::list_offsets::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use dekaf_proto::messages::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use dekaf_proto::messages::offset_commit::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use dekaf_proto::messages::offset_fetch::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use dekaf_proto::messages::{
    FetchRequest, FetchResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse,
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    RequestBody, ResponseBody,
};
use dekaf_proto::records::{
    Compression, ControlKind, ControlRecord, OwnedHeader, RecordBatchBuilder,
};
use dekaf_proto::wire::{Reader, Uuid};
use dekaf_proto::{ApiKey, ErrorCode};
use dekaf_state::offset::Rng;

/// Where a sim record stands in its transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Txn {
    /// Not transactional.
    None,
    /// Written by `producer`'s transaction, still open.
    Open(i64),
    /// Its transaction committed.
    Committed,
    /// Its transaction aborted: read_committed must never hand it out.
    Aborted,
}

/// One data record the cluster holds, for checking what a consumer receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimRecord {
    /// Its offset.
    pub offset: i64,
    /// Its timestamp.
    pub timestamp: i64,
    /// Its value (unique per record).
    pub value: Bytes,
    /// Its transaction status.
    pub txn: Txn,
}

/// One stored batch.
#[derive(Clone, Debug)]
struct Stored {
    base: i64,
    next: i64,
    bytes: Bytes,
}

/// One partition of the cluster.
#[derive(Clone, Debug)]
pub struct SimPartition {
    /// The leader's broker id.
    pub leader: i32,
    /// The leader epoch (bumped on every leader move).
    pub leader_epoch: i32,
    batches: Vec<Stored>,
    /// Every data record, in offset order.
    pub records: Vec<SimRecord>,
    /// The first offset still in the log.
    pub log_start: i64,
    /// The log end offset (= high watermark here).
    pub end: i64,
    /// Open transactions: producer id → first offset.
    open: BTreeMap<i64, i64>,
    /// Aborted transactions: (producer id, first offset, marker offset).
    aborted: Vec<(i64, i64, i64)>,
    /// Each leader epoch with the offset it starts at, in order.
    pub epochs: Vec<(i32, i64)>,
}

/// Where epoch `asked` ends in `part` (see [`Cluster::epoch_end`]).
fn epoch_end_of(part: &SimPartition, asked: i32) -> (i32, i64) {
    let Some(i) = part.epochs.iter().rposition(|(e, _)| *e <= asked) else {
        return (-1, -1);
    };
    let end = part.epochs.get(i + 1).map_or(part.end, |(_, start)| *start);
    (part.epochs[i].0, end)
}

impl SimPartition {
    fn new(leader: i32) -> Self {
        SimPartition {
            leader,
            leader_epoch: 0,
            batches: Vec::new(),
            records: Vec::new(),
            log_start: 0,
            end: 0,
            open: BTreeMap::new(),
            aborted: Vec::new(),
            epochs: vec![(0, 0)],
        }
    }

    /// The last stable offset: the first offset of the oldest open transaction, else the end.
    pub fn last_stable_offset(&self) -> i64 {
        self.open.values().copied().min().unwrap_or(self.end)
    }

    /// Records read_committed hands out (once every transaction below the LSO is decided).
    pub fn committed_records(&self) -> Vec<&SimRecord> {
        let lso = self.last_stable_offset();
        self.records
            .iter()
            .filter(|r| r.offset < lso && matches!(r.txn, Txn::None | Txn::Committed))
            .filter(|r| r.offset >= self.log_start)
            .collect()
    }

    /// Records read_uncommitted hands out.
    pub fn all_records(&self) -> Vec<&SimRecord> {
        self.records
            .iter()
            .filter(|r| r.offset >= self.log_start)
            .collect()
    }
}

/// One topic.
#[derive(Clone, Debug)]
pub struct SimTopic {
    /// Its id.
    pub id: Uuid,
    /// Its partitions, by index.
    pub partitions: Vec<SimPartition>,
}

/// Fault hooks: probabilities in [0, 1] and switches.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// A request fails with a disconnect before the broker sees it (other requests in flight
    /// to that broker fail too).
    pub disconnect: f64,
    /// The broker applies a request but the answer is lost (the driver times out).
    pub timeout: f64,
    /// A coordinator request is answered NOT_COORDINATOR (and the coordinator moves).
    pub not_coordinator: f64,
    /// A coordinator request is answered COORDINATOR_LOAD_IN_PROGRESS.
    pub load_in_progress: f64,
    /// Before a request, the leader of a random partition moves to another broker.
    pub leader_move: f64,
    /// A fetch answer ends with half of the next batch (as brokers cut at the size limit).
    pub partial_batch: f64,
    /// Fetch answers list aborted transactions (Kafka); off: the list is always empty (tansu).
    pub list_aborted: bool,
    /// Fetch under read_committed returns data past the last stable offset too (the consumer
    /// must stop there itself).
    pub ignore_lso: bool,
    /// ListOffsets by time with no match answers offset 0, timestamp -1 (tansu).
    pub tansu_time_quirk: bool,
    /// A fetch answer has one byte of its first batch flipped (its CRC no longer matches).
    pub corrupt: f64,
    /// A fetch answer's second batch claims a base offset one lower than its own (the base
    /// offset is outside what the CRC covers), so that it overlaps the first.
    pub overlap: f64,
}

/// A committed offset as the cluster keeps it: offset, leader epoch, metadata.
pub type CommittedEntry = (i64, i32, Option<String>);

/// The cluster.
#[derive(Debug)]
pub struct Cluster {
    /// Broker ids (hosts are "b{id}", ports 9000 + id).
    pub brokers: Vec<i32>,
    /// Topics by name.
    pub topics: BTreeMap<String, SimTopic>,
    /// Committed offsets: group → (topic, partition) → (offset, leader epoch, metadata).
    pub committed: BTreeMap<String, BTreeMap<(String, i32), CommittedEntry>>,
    /// The group coordinator's broker id.
    pub coordinator: i32,
    /// The fault hooks.
    pub faults: Faults,
    /// Every (api, version) answered, to check coverage.
    pub versions: BTreeSet<(i16, i16)>,
    /// How many requests of each api were answered.
    pub counts: BTreeMap<i16, u64>,
    /// Every OffsetCommit applied: (group, topic, partition, offset).
    pub commit_log: Vec<(String, String, i32, i64)>,
    /// Record timestamps start here and grow by `ts_step` per record.
    pub next_timestamp: i64,
    /// Acts as a broker without OffsetForLeaderEpoch (as tansu): the driver fails the request.
    pub without_offset_for_leader_epoch: bool,
    /// Topics whose metadata is refused with this code (e.g. TOPIC_AUTHORIZATION_FAILED).
    pub refused_topics: BTreeMap<String, ErrorCode>,
    rng: Rng,
    next_id: u128,
}

/// Base of record timestamps.
pub const T0: i64 = 1_700_000_000_000;

impl Cluster {
    /// A cluster of `brokers` brokers (ids 1..=n), seeded.
    pub fn new(brokers: i32, seed: u64) -> Self {
        Cluster {
            brokers: (1..=brokers.max(1)).collect(),
            topics: BTreeMap::new(),
            committed: BTreeMap::new(),
            coordinator: 1,
            faults: Faults::default(),
            versions: BTreeSet::new(),
            counts: BTreeMap::new(),
            commit_log: Vec::new(),
            next_timestamp: T0,
            without_offset_for_leader_epoch: false,
            refused_topics: BTreeMap::new(),
            rng: Rng::new(seed ^ 0xC1C1),
            next_id: 0x1000,
        }
    }

    /// A random number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.rng.next_u64() % n
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.next_f64() < p
    }

    /// Creates a topic with `partitions` partitions, leaders spread over the brokers.
    pub fn create_topic(&mut self, name: &str, partitions: i32) {
        self.next_id += 1;
        let n = self.brokers.len();
        let parts = (0..partitions.max(0))
            .map(|p| SimPartition::new(self.brokers[p as usize % n]))
            .collect();
        self.topics.insert(
            name.to_string(),
            SimTopic {
                id: Uuid::from(self.next_id),
                partitions: parts,
            },
        );
    }

    /// The partition, which must exist.
    pub fn partition(&self, topic: &str, p: i32) -> &SimPartition {
        &self.topics[topic].partitions[p as usize]
    }

    fn partition_mut(&mut self, topic: &str, p: i32) -> &mut SimPartition {
        &mut self.topics.get_mut(topic).expect("topic").partitions[p as usize]
    }

    fn value(topic: &str, p: i32, offset: i64) -> Bytes {
        Bytes::from(format!("{topic}/{p}/{offset}"))
    }

    /// Appends `n` records as one batch (compressed with `codec`); `producer` makes it
    /// transactional (the producer's transaction stays open until [`end_txn`]).
    ///
    /// [`end_txn`]: Cluster::end_txn
    pub fn append(
        &mut self,
        topic: &str,
        p: i32,
        n: usize,
        codec: Compression,
        producer: Option<i64>,
    ) {
        let ts0 = self.next_timestamp;
        self.next_timestamp += n as i64 * 10;
        let part = self.partition_mut(topic, p);
        let base = part.end;
        let mut b = RecordBatchBuilder::new()
            .base_offset(base)
            .partition_leader_epoch(part.leader_epoch)
            .compression(codec);
        if let Some(pid) = producer {
            b = b.transactional(true).producer(pid, 0, base as i32);
        }
        for i in 0..n {
            let offset = base + i as i64;
            let ts = ts0 + i as i64 * 10;
            let value = Self::value(topic, p, offset);
            let headers = if offset % 3 == 0 {
                vec![OwnedHeader::new("h", Some(Bytes::from_static(b"v")))]
            } else {
                vec![]
            };
            b.append(
                ts,
                Some(Bytes::from(format!("k{offset}"))),
                Some(value.clone()),
                headers,
            );
            part.records.push(SimRecord {
                offset,
                timestamp: ts,
                value,
                txn: producer.map_or(Txn::None, Txn::Open),
            });
        }
        let bytes = b.build().expect("batch builds");
        part.end = base + n as i64;
        part.batches.push(Stored {
            base,
            next: part.end,
            bytes,
        });
        if let Some(pid) = producer {
            part.open.entry(pid).or_insert(base);
        }
    }

    /// Ends `producer`'s transaction on every partition it wrote to: a COMMIT or ABORT marker.
    pub fn end_txn(&mut self, producer: i64, commit: bool) {
        let ts = self.next_timestamp;
        self.next_timestamp += 10;
        for topic in self.topics.values_mut() {
            for part in &mut topic.partitions {
                let Some(first) = part.open.remove(&producer) else {
                    continue;
                };
                let kind = if commit {
                    ControlKind::Commit
                } else {
                    ControlKind::Abort
                };
                let at = part.end;
                let bytes = RecordBatchBuilder::transaction_marker(
                    ControlRecord {
                        kind,
                        coordinator_epoch: 0,
                    },
                    ts,
                )
                .base_offset(at)
                .partition_leader_epoch(part.leader_epoch)
                .producer(producer, 0, -1)
                .build()
                .expect("marker builds");
                part.batches.push(Stored {
                    base: at,
                    next: at + 1,
                    bytes,
                });
                part.end = at + 1;
                for r in &mut part.records {
                    if r.txn == Txn::Open(producer) {
                        r.txn = if commit { Txn::Committed } else { Txn::Aborted };
                    }
                }
                if !commit {
                    part.aborted.push((producer, first, at));
                }
            }
        }
    }

    /// Moves the leader of a partition to another broker, bumping its epoch.
    pub fn move_leader(&mut self, topic: &str, p: i32) {
        let n = self.brokers.len() as u64;
        if n < 2 {
            return;
        }
        let pick = self.below(n - 1) as usize;
        let brokers = self.brokers.clone();
        let part = self.partition_mut(topic, p);
        let others: Vec<i32> = brokers.into_iter().filter(|b| *b != part.leader).collect();
        part.leader = others[pick % others.len()];
        part.leader_epoch += 1;
        let start = (part.leader_epoch, part.end);
        part.epochs.push(start);
    }

    /// Moves the leader of a partition to a replica whose log ends at `offset` (a batch
    /// boundary at or below the end): the records past it are lost, and the new leader writes
    /// from there under a higher epoch.
    pub fn truncate_and_move_leader(&mut self, topic: &str, p: i32, offset: i64) {
        let part = self.partition_mut(topic, p);
        part.batches.retain(|b| b.next <= offset);
        let end = part.batches.last().map_or(part.log_start, |b| b.next);
        part.records.retain(|r| r.offset < end);
        part.end = end;
        part.epochs.retain(|(_, start)| *start <= end);
        self.move_leader(topic, p);
    }

    /// Where epoch `asked` ends in the partition's log: the largest epoch not above it and
    /// the start of the next one (or the log end); (-1, -1) when the log has no such epoch.
    pub fn epoch_end(&self, topic: &str, p: i32, asked: i32) -> (i32, i64) {
        epoch_end_of(self.partition(topic, p), asked)
    }

    fn offset_for_leader_epoch(
        &mut self,
        broker: i32,
        req: &OffsetForLeaderEpochRequest,
        version: i16,
    ) -> OffsetForLeaderEpochResponse {
        if version >= 3 {
            assert_eq!(req.replica_id, -1, "a consumer's replica id");
        }
        let mut topics = Vec::new();
        for t in &req.topics {
            let mut partitions = Vec::new();
            for p in &t.partitions {
                let mut out = EpochEndOffset {
                    partition: p.partition,
                    ..Default::default()
                };
                match self.leader_check(broker, &t.topic, p.partition, p.current_leader_epoch) {
                    Err(code) => out.error_code = code,
                    Ok(_) => {
                        let (e, end) = self.epoch_end(&t.topic, p.partition, p.leader_epoch);
                        out.leader_epoch = e;
                        out.end_offset = end;
                    }
                }
                partitions.push(out);
            }
            topics.push(OffsetForLeaderTopicResult {
                topic: t.topic.clone(),
                partitions,
                ..Default::default()
            });
        }
        OffsetForLeaderEpochResponse {
            topics,
            ..Default::default()
        }
    }

    /// Removes records below `offset` (retention): the log start moves there.
    pub fn delete_records(&mut self, topic: &str, p: i32, offset: i64) {
        let part = self.partition_mut(topic, p);
        part.log_start = offset.min(part.end).max(part.log_start);
        let start = part.log_start;
        part.batches.retain(|b| b.next > start);
    }

    /// Moves the coordinator to another broker.
    pub fn move_coordinator(&mut self) {
        let n = self.brokers.len() as u64;
        let i = self.below(n) as usize;
        self.coordinator = self.brokers[i];
    }

    /// The committed offset of a group for a partition.
    pub fn committed_offset(&self, group: &str, topic: &str, p: i32) -> Option<i64> {
        self.committed
            .get(group)?
            .get(&(topic.to_string(), p))
            .map(|c| c.0)
    }

    /// Maybe moves a leader (the `leader_move` fault).
    pub fn maybe_move_leader(&mut self) {
        if !self.chance(self.faults.leader_move) {
            return;
        }
        let all: Vec<(String, i32)> = self
            .topics
            .iter()
            .flat_map(|(t, topic)| (0..topic.partitions.len() as i32).map(move |p| (t.clone(), p)))
            .collect();
        if all.is_empty() {
            return;
        }
        let (t, p) = all[self.below(all.len() as u64) as usize].clone();
        self.move_leader(&t, p);
    }

    /// Answers `body` (written in `version`) as broker `broker`. The request goes through its
    /// wire encoding and back, and so does the answer: both must fit the version.
    pub fn answer(&mut self, broker: i32, body: &RequestBody, version: i16) -> ResponseBody {
        let api = body.api_key();
        let mut buf = BytesMut::new();
        body.encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("{api} v{version} cannot be written: {e}"));
        let bytes = buf.freeze();
        let mut r = Reader::new(&bytes);
        let body = RequestBody::decode(api, version, &mut r)
            .unwrap_or_else(|e| panic!("{api} v{version} cannot be read back: {e}"));
        r.finish("request").expect("whole request read");
        self.versions.insert((api.key(), version));
        *self.counts.entry(api.key()).or_default() += 1;
        let resp = match body {
            RequestBody::Metadata(req) => ResponseBody::Metadata(self.metadata(&req, version)),
            RequestBody::FindCoordinator(req) => {
                ResponseBody::FindCoordinator(self.find_coordinator(&req, version))
            }
            RequestBody::OffsetCommit(req) => {
                ResponseBody::OffsetCommit(self.offset_commit(broker, &req, version))
            }
            RequestBody::OffsetFetch(req) => {
                ResponseBody::OffsetFetch(self.offset_fetch(broker, &req, version))
            }
            RequestBody::ListOffsets(req) => {
                ResponseBody::ListOffsets(self.list_offsets(broker, &req, version))
            }
            RequestBody::Fetch(req) => ResponseBody::Fetch(self.fetch(broker, &req, version)),
            RequestBody::OffsetForLeaderEpoch(req) => ResponseBody::OffsetForLeaderEpoch(
                self.offset_for_leader_epoch(broker, &req, version),
            ),
            other => panic!("the sim cluster does not answer {}", other.api_key()),
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("{api} v{version} answer cannot be written: {e}"));
        let bytes = buf.freeze();
        let mut r = Reader::new(&bytes);
        let back = ResponseBody::decode(api, version, &mut r)
            .unwrap_or_else(|e| panic!("{api} v{version} answer cannot be read: {e}"));
        r.finish("response").expect("whole response read");
        back
    }

    fn metadata(&mut self, req: &MetadataRequest, version: i16) -> MetadataResponse {
        if version >= 4 {
            assert!(
                !req.allow_auto_topic_creation,
                "a consumer never creates topics"
            );
        }
        let names: Vec<String> = match &req.topics {
            Some(ts) => ts.iter().filter_map(|t| t.name.clone()).collect(),
            None => self.topics.keys().cloned().collect(),
        };
        MetadataResponse {
            brokers: self
                .brokers
                .iter()
                .map(|&id| MetadataResponseBroker {
                    node_id: id,
                    host: format!("b{id}"),
                    port: 9000 + id,
                    ..Default::default()
                })
                .collect(),
            controller_id: 1,
            topics: names
                .into_iter()
                .map(|name| match self.topics.get(&name) {
                    _ if self.refused_topics.contains_key(&name) => MetadataResponseTopic {
                        error_code: self.refused_topics[&name],
                        name: Some(name),
                        ..Default::default()
                    },
                    None => MetadataResponseTopic {
                        error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        name: Some(name),
                        ..Default::default()
                    },
                    Some(t) => MetadataResponseTopic {
                        name: Some(name),
                        topic_id: if version >= 10 { t.id } else { Uuid::ZERO },
                        partitions: t
                            .partitions
                            .iter()
                            .enumerate()
                            .map(|(i, p)| MetadataResponsePartition {
                                partition_index: i as i32,
                                leader_id: p.leader,
                                leader_epoch: if version >= 7 { p.leader_epoch } else { -1 },
                                replica_nodes: vec![p.leader],
                                isr_nodes: vec![p.leader],
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    },
                })
                .collect(),
            ..Default::default()
        }
    }

    fn find_coordinator(
        &mut self,
        req: &FindCoordinatorRequest,
        version: i16,
    ) -> FindCoordinatorResponse {
        let key = if version >= 4 {
            req.coordinator_keys.first().cloned().unwrap_or_default()
        } else {
            req.key.clone()
        };
        assert_eq!(req.key_type, 0, "consumer groups only");
        let code = if self.chance(self.faults.load_in_progress) {
            ErrorCode::COORDINATOR_NOT_AVAILABLE
        } else {
            ErrorCode::NONE
        };
        let node = self.coordinator;
        if version >= 4 {
            FindCoordinatorResponse {
                coordinators: vec![Coordinator {
                    key,
                    node_id: node,
                    host: format!("b{node}"),
                    port: 9000 + node,
                    error_code: code,
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            FindCoordinatorResponse {
                error_code: code,
                node_id: node,
                host: format!("b{node}"),
                port: 9000 + node,
                ..Default::default()
            }
        }
    }

    /// The error a coordinator request gets before it is applied, if any.
    fn coordinator_fault(&mut self, broker: i32) -> ErrorCode {
        if broker != self.coordinator {
            return ErrorCode::NOT_COORDINATOR;
        }
        if self.chance(self.faults.not_coordinator) {
            self.move_coordinator();
            if self.coordinator != broker {
                return ErrorCode::NOT_COORDINATOR;
            }
        }
        if self.chance(self.faults.load_in_progress) {
            return ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
        }
        ErrorCode::NONE
    }

    fn offset_commit(
        &mut self,
        broker: i32,
        req: &OffsetCommitRequest,
        version: i16,
    ) -> OffsetCommitResponse {
        let fault = self.coordinator_fault(broker);
        if version <= 4 {
            assert_eq!(req.retention_time_ms, -1);
        }
        let topics = req
            .topics
            .iter()
            .map(|t| OffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let exists = self
                            .topics
                            .get(&t.name)
                            .is_some_and(|x| (p.partition_index as usize) < x.partitions.len());
                        let code = if !fault.is_ok() {
                            fault
                        } else if !exists {
                            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                        } else {
                            let epoch = if version >= 6 {
                                p.committed_leader_epoch
                            } else {
                                -1
                            };
                            self.committed
                                .entry(req.group_id.clone())
                                .or_default()
                                .insert(
                                    (t.name.clone(), p.partition_index),
                                    (p.committed_offset, epoch, p.committed_metadata.clone()),
                                );
                            self.commit_log.push((
                                req.group_id.clone(),
                                t.name.clone(),
                                p.partition_index,
                                p.committed_offset,
                            ));
                            ErrorCode::NONE
                        };
                        OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: code,
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        OffsetCommitResponse {
            topics,
            ..Default::default()
        }
    }

    fn committed_of(&self, group: &str, topic: &str, p: i32) -> (i64, i32, Option<String>) {
        self.committed
            .get(group)
            .and_then(|g| g.get(&(topic.to_string(), p)))
            .cloned()
            .unwrap_or((-1, -1, Some(String::new())))
    }

    fn offset_fetch(
        &mut self,
        broker: i32,
        req: &OffsetFetchRequest,
        version: i16,
    ) -> OffsetFetchResponse {
        let fault = self.coordinator_fault(broker);
        if version >= 8 {
            let groups = req
                .groups
                .iter()
                .map(|g| {
                    let topics = g
                        .topics
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| OffsetFetchResponseTopics {
                            partitions: t
                                .partition_indexes
                                .iter()
                                .map(|&p| {
                                    let (offset, epoch, metadata) =
                                        self.committed_of(&g.group_id, &t.name, p);
                                    OffsetFetchResponsePartitions {
                                        partition_index: p,
                                        committed_offset: offset,
                                        committed_leader_epoch: epoch,
                                        metadata,
                                        ..Default::default()
                                    }
                                })
                                .collect(),
                            name: t.name,
                            ..Default::default()
                        })
                        .collect();
                    OffsetFetchResponseGroup {
                        group_id: g.group_id.clone(),
                        topics: if fault.is_ok() { topics } else { vec![] },
                        error_code: fault,
                        ..Default::default()
                    }
                })
                .collect();
            return OffsetFetchResponse {
                groups,
                ..Default::default()
            };
        }
        if version < 7 {
            assert!(!req.require_stable);
        }
        let topics: Vec<OffsetFetchResponseTopic> = req
            .topics
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|t| OffsetFetchResponseTopic {
                partitions: t
                    .partition_indexes
                    .iter()
                    .map(|&p| {
                        let (offset, epoch, metadata) =
                            self.committed_of(&req.group_id, &t.name, p);
                        OffsetFetchResponsePartition {
                            partition_index: p,
                            committed_offset: if fault.is_ok() { offset } else { -1 },
                            committed_leader_epoch: if version >= 5 { epoch } else { -1 },
                            metadata,
                            // v1 has no group-level error: it goes on each partition.
                            error_code: if version < 2 { fault } else { ErrorCode::NONE },
                            ..Default::default()
                        }
                    })
                    .collect(),
                name: t.name,
                ..Default::default()
            })
            .collect();
        OffsetFetchResponse {
            topics: if version >= 2 && !fault.is_ok() {
                vec![]
            } else {
                topics
            },
            error_code: if version >= 2 { fault } else { ErrorCode::NONE },
            ..Default::default()
        }
    }

    /// Checks leadership and the current leader epoch the request carries.
    fn leader_check(
        &self,
        broker: i32,
        topic: &str,
        p: i32,
        epoch: i32,
    ) -> Result<&SimPartition, ErrorCode> {
        let t = self
            .topics
            .get(topic)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
        let part = t
            .partitions
            .get(usize::try_from(p).map_err(|_| ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
        if part.leader != broker {
            return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        if epoch >= 0 && epoch < part.leader_epoch {
            return Err(ErrorCode::FENCED_LEADER_EPOCH);
        }
        if epoch > part.leader_epoch {
            return Err(ErrorCode::UNKNOWN_LEADER_EPOCH);
        }
        Ok(part)
    }

    fn list_offsets(
        &mut self,
        broker: i32,
        req: &ListOffsetsRequest,
        version: i16,
    ) -> ListOffsetsResponse {
        let read_committed = version >= 2 && req.isolation_level == 1;
        let quirk = self.faults.tansu_time_quirk;
        let topics = req
            .topics
            .iter()
            .map(|t| ListOffsetsTopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let epoch = if version >= 4 {
                            p.current_leader_epoch
                        } else {
                            -1
                        };
                        let mut out = ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            ..Default::default()
                        };
                        match self.leader_check(broker, &t.name, p.partition_index, epoch) {
                            Err(code) => out.error_code = code,
                            Ok(part) => {
                                let (offset, timestamp) = match p.timestamp {
                                    -2 => (part.log_start, -1),
                                    -1 if read_committed => (part.last_stable_offset(), -1),
                                    -1 => (part.end, -1),
                                    ts => part
                                        .records
                                        .iter()
                                        .filter(|r| r.offset >= part.log_start)
                                        .find(|r| r.timestamp >= ts)
                                        .map(|r| (r.offset, r.timestamp))
                                        .unwrap_or(if quirk { (0, -1) } else { (-1, -1) }),
                                };
                                out.offset = offset;
                                out.timestamp = timestamp;
                                out.leader_epoch =
                                    if version >= 4 { part.leader_epoch } else { -1 };
                            }
                        }
                        out
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        ListOffsetsResponse {
            topics,
            ..Default::default()
        }
    }

    fn fetch(&mut self, broker: i32, req: &FetchRequest, version: i16) -> FetchResponse {
        assert_eq!(req.session_id, 0, "no fetch sessions");
        assert_eq!(req.session_epoch, -1, "full fetches");
        if version <= 14 {
            assert_eq!(req.replica_id, -1);
        }
        let read_committed = req.isolation_level == 1;
        let mut responses = Vec::new();
        for t in &req.topics {
            let name = if version >= 13 {
                self.topics
                    .iter()
                    .find(|(_, x)| x.id == t.topic_id)
                    .map(|(n, _)| n.clone())
            } else {
                Some(t.topic.clone())
            };
            let mut partitions = Vec::new();
            for p in &t.partitions {
                let mut out = PartitionData {
                    partition_index: p.partition,
                    ..Default::default()
                };
                let Some(name) = &name else {
                    out.error_code = ErrorCode::UNKNOWN_TOPIC_ID;
                    partitions.push(out);
                    continue;
                };
                let epoch = if version >= 9 {
                    p.current_leader_epoch
                } else {
                    -1
                };
                let cut = self.chance(self.faults.partial_batch);
                let corrupt = self.chance(self.faults.corrupt);
                let overlap = self.chance(self.faults.overlap);
                let list_aborted = self.faults.list_aborted;
                let ignore_lso = self.faults.ignore_lso;
                match self.leader_check(broker, name, p.partition, epoch) {
                    Err(code) => out.error_code = code,
                    Ok(part) => {
                        out.high_watermark = part.end;
                        out.last_stable_offset = part.last_stable_offset();
                        out.log_start_offset = if version >= 5 { part.log_start } else { -1 };
                        let last = if version >= 12 {
                            p.last_fetched_epoch
                        } else {
                            -1
                        };
                        let diverging = (last >= 0)
                            .then(|| epoch_end_of(part, last))
                            .filter(|(e, end)| *e != last || *end < p.fetch_offset);
                        if let Some((e, end)) = diverging {
                            out.diverging_epoch.epoch = e;
                            out.diverging_epoch.end_offset = end;
                            out.records = Some(Bytes::new());
                        } else if p.fetch_offset < part.log_start || p.fetch_offset > part.end {
                            out.error_code = ErrorCode::OFFSET_OUT_OF_RANGE;
                            out.records = None;
                        } else {
                            let limit = if read_committed && !ignore_lso {
                                part.last_stable_offset()
                            } else {
                                part.end
                            };
                            let mut data = BytesMut::new();
                            let mut upper = p.fetch_offset;
                            let mut rest = part
                                .batches
                                .iter()
                                .filter(|b| b.next > p.fetch_offset && b.base < limit);
                            for b in rest.by_ref() {
                                data.extend_from_slice(&b.bytes);
                                upper = b.next;
                                if data.len() >= p.partition_max_bytes.max(1) as usize {
                                    break;
                                }
                            }
                            if cut {
                                if let Some(b) = rest.next() {
                                    data.extend_from_slice(&b.bytes[..b.bytes.len() / 2]);
                                }
                            }
                            if overlap {
                                let first_len = part
                                    .batches
                                    .iter()
                                    .find(|b| b.next > p.fetch_offset)
                                    .map_or(0, |b| b.bytes.len());
                                if let Some(base) = data.get_mut(first_len..first_len + 8) {
                                    let lowered =
                                        i64::from_be_bytes(base.try_into().expect("eight bytes"))
                                            - 1;
                                    base.copy_from_slice(&lowered.to_be_bytes());
                                }
                            }
                            if corrupt && data.len() > 61 {
                                // The last byte of the first batch, inside what its CRC covers.
                                let first_len = part
                                    .batches
                                    .iter()
                                    .find(|b| b.next > p.fetch_offset)
                                    .map_or(0, |b| b.bytes.len());
                                if let Some(byte) = data.get_mut(first_len.saturating_sub(1)) {
                                    *byte ^= 0x5a;
                                }
                            }
                            out.records = Some(data.freeze());
                            out.aborted_transactions = Some(if read_committed && list_aborted {
                                part.aborted
                                    .iter()
                                    .filter(|(_, first, last)| {
                                        *last >= p.fetch_offset && *first < upper
                                    })
                                    .map(|(pid, first, _)| AbortedTransaction {
                                        producer_id: *pid,
                                        first_offset: *first,
                                        ..Default::default()
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            });
                        }
                    }
                }
                partitions.push(out);
            }
            responses.push(FetchableTopicResponse {
                topic: if version <= 12 {
                    t.topic.clone()
                } else {
                    String::new()
                },
                topic_id: if version >= 13 {
                    t.topic_id
                } else {
                    Uuid::ZERO
                },
                partitions,
                ..Default::default()
            });
        }
        FetchResponse {
            responses,
            ..Default::default()
        }
    }

    /// Whether every API and version in `apis` was answered at least once.
    pub fn missing_versions(&self, apis: &[(ApiKey, i16, i16)]) -> Vec<(ApiKey, i16)> {
        let mut missing = Vec::new();
        for &(api, lo, hi) in apis {
            for v in lo..=hi {
                if !self.versions.contains(&(api.key(), v)) {
                    missing.push((api, v));
                }
            }
        }
        missing
    }
}

//! The cluster: brokers, topics, committed offsets, transactional ids, and how it answers a
//! request body, version by version, as Apache Kafka does.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use dekaf_proto::messages::find_coordinator::Coordinator as CoordinatorEntry;
use dekaf_proto::messages::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use dekaf_proto::messages::{
    FindCoordinatorRequest, FindCoordinatorResponse, MetadataRequest, MetadataResponse,
    RequestBody, ResponseBody,
};
use dekaf_proto::records::Compression;
use dekaf_proto::wire::{Reader, Uuid};
use dekaf_proto::{ApiKey, ErrorCode};
use dekaf_state::offset::Rng;

use crate::log::Partition;
use crate::txn::{GroupTxnState, TxnMeta};
use crate::Faults;

/// One topic.
#[derive(Clone, Debug)]
pub struct Topic {
    /// Its id.
    pub id: Uuid,
    /// Its partitions, by index.
    pub partitions: Vec<Partition>,
}

/// A committed offset as the group coordinator keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The offset.
    pub offset: i64,
    /// The leader epoch of the record before it (-1 when unknown).
    pub leader_epoch: i32,
    /// The metadata string committed with it.
    pub metadata: Option<String>,
}

/// Why the cluster could not answer a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The client sent a request that cannot be written (or read back) in the version it
    /// chose: a bug in the client.
    #[error("the client's {api} v{version} request cannot be written in that version: {reason}")]
    RequestNotWritable {
        /// The request's API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// What went wrong.
        reason: String,
    },
    /// The model's answer cannot be written in the version asked: a bug in the model.
    #[error("the cluster's {api} v{version} answer cannot be written in that version: {reason}")]
    AnswerNotWritable {
        /// The request's API.
        api: ApiKey,
        /// The version.
        version: i16,
        /// What went wrong.
        reason: String,
    },
    /// The model does not implement this API (the broker would answer; the model cannot yet).
    #[error("the simulated cluster does not answer {0} requests")]
    Unsupported(ApiKey),
}

/// The cluster.
#[derive(Debug)]
pub struct Cluster {
    /// Broker ids (hosts are `b{id}`, ports 9000 + id).
    pub brokers: Vec<i32>,
    /// Topics by name.
    pub topics: BTreeMap<String, Topic>,
    /// Committed offsets: group → (topic, partition) → offset.
    pub committed: BTreeMap<String, BTreeMap<(String, i32), Committed>>,
    /// The group coordinator's broker id.
    pub group_coordinator: i32,
    /// The transaction coordinator's broker id.
    pub txn_coordinator: i32,
    /// Transactional ids.
    pub txns: BTreeMap<String, TxnMeta>,
    /// What the coordinator checks a TxnOffsetCommit against, per group.
    pub groups: BTreeMap<String, GroupTxnState>,
    /// The fault rates and switches.
    pub faults: Faults,
    /// How many faults of each kind were injected (cluster and drivers together).
    pub injected: BTreeMap<&'static str, u64>,
    /// Every (api key, version) answered, to check coverage.
    pub versions: BTreeSet<(i16, i16)>,
    /// How many requests of each api key were answered.
    pub counts: BTreeMap<i16, u64>,
    /// Every OffsetCommit applied: (group, topic, partition, offset).
    pub commit_log: Vec<(String, String, i32, i64)>,
    /// Generated record timestamps start here and grow by 10 ms per record.
    pub next_timestamp: i64,
    /// Acts as a broker without OffsetForLeaderEpoch (as tansu): drivers fail the request.
    pub without_offset_for_leader_epoch: bool,
    /// Topics whose metadata is refused with this code (e.g. TOPIC_AUTHORIZATION_FAILED).
    pub refused_topics: BTreeMap<String, ErrorCode>,
    /// The largest record batch a partition takes, in bytes (Kafka's `max.message.bytes`);
    /// a larger one is refused with MESSAGE_TOO_LARGE.
    pub max_message_bytes: usize,
    /// Each broker's rack (`broker.rack`); a broker not listed has none.
    pub racks: BTreeMap<i32, String>,
    /// Replica sets of partitions, by (topic, partition); a partition not listed has its
    /// leader as its only replica. Set them with [`set_replicas`](Cluster::set_replicas).
    pub replicas: BTreeMap<(String, i32), Vec<i32>>,
    /// Brokers that are down: requests to them fail as broken connections, metadata leaves
    /// them out, and no leader or coordinator moves to them (see
    /// [`GroupSim::broker_down`](crate::GroupSim::broker_down)).
    pub down: BTreeSet<i32>,
    /// Followers that lag: (topic, partition, broker) → where their log ends. Set them with
    /// [`set_follower_end`](Cluster::set_follower_end).
    pub follower_ends: BTreeMap<(String, i32, i32), i64>,
    /// How many Fetch requests each broker answered.
    pub fetches: BTreeMap<i32, u64>,
    pub(crate) next_producer_id: i64,
    rng: Rng,
    next_id: u128,
}

/// Base of generated record timestamps.
pub const T0: i64 = 1_700_000_000_000;

impl Cluster {
    /// A cluster of `brokers` brokers (ids 1..=n), seeded, with no topic.
    pub fn new(brokers: i32, seed: u64) -> Self {
        Cluster {
            brokers: (1..=brokers.max(1)).collect(),
            topics: BTreeMap::new(),
            committed: BTreeMap::new(),
            group_coordinator: 1,
            txn_coordinator: 1,
            txns: BTreeMap::new(),
            groups: BTreeMap::new(),
            faults: Faults::default(),
            injected: BTreeMap::new(),
            versions: BTreeSet::new(),
            counts: BTreeMap::new(),
            commit_log: Vec::new(),
            next_timestamp: T0,
            without_offset_for_leader_epoch: false,
            refused_topics: BTreeMap::new(),
            max_message_bytes: usize::MAX,
            racks: BTreeMap::new(),
            replicas: BTreeMap::new(),
            down: BTreeSet::new(),
            follower_ends: BTreeMap::new(),
            fetches: BTreeMap::new(),
            next_producer_id: 1000,
            rng: Rng::new(seed ^ 0xC1C1),
            next_id: 0x1000,
        }
    }

    /// A random number in `0..n` from the cluster's generator.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.rng.next_u64() % n
        }
    }

    /// True with probability `p`, from the cluster's generator.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.next_f64() < p
    }

    /// Counts one injected fault of `kind`.
    pub fn count(&mut self, kind: &'static str) {
        *self.injected.entry(kind).or_default() += 1;
    }

    /// A broker other than `than`, at random (`than` itself with one broker).
    pub(crate) fn other_broker(&mut self, than: i32) -> i32 {
        let others: Vec<i32> = self
            .brokers
            .iter()
            .copied()
            .filter(|b| *b != than && !self.down.contains(b))
            .collect();
        if others.is_empty() {
            than
        } else {
            others[self.below(others.len() as u64) as usize]
        }
    }

    /// Creates a topic with `partitions` partitions, leaders spread over the brokers.
    pub fn create_topic(&mut self, name: &str, partitions: i32) {
        self.next_id += 1;
        let n = self.brokers.len();
        let parts = (0..partitions.max(0))
            .map(|p| Partition::new(self.brokers[p as usize % n]))
            .collect();
        self.topics.insert(
            name.to_string(),
            Topic {
                id: Uuid::from(self.next_id),
                partitions: parts,
            },
        );
    }

    /// The partition, if it exists.
    pub fn get(&self, topic: &str, p: i32) -> Option<&Partition> {
        self.topics
            .get(topic)?
            .partitions
            .get(usize::try_from(p).ok()?)
    }

    /// The partition, if it exists.
    pub fn get_mut(&mut self, topic: &str, p: i32) -> Option<&mut Partition> {
        self.topics
            .get_mut(topic)?
            .partitions
            .get_mut(usize::try_from(p).ok()?)
    }

    /// The partition.
    ///
    /// # Panics
    /// If it does not exist (a mistake in the test's setup).
    pub fn partition(&self, topic: &str, p: i32) -> &Partition {
        match self.get(topic, p) {
            Some(part) => part,
            None => panic!("no partition {topic}-{p} in the simulated cluster"),
        }
    }

    /// Appends `n` generated records to a partition as one batch compressed with `codec`
    /// (see [`Partition::records`] for their keys, values and headers); `producer` makes it
    /// part of that producer's transaction, open until [`end_txn`](Cluster::end_txn). Does
    /// nothing if the partition does not exist.
    pub fn append(
        &mut self,
        topic: &str,
        p: i32,
        n: usize,
        codec: Compression,
        producer: Option<i64>,
    ) {
        let ts = self.next_timestamp;
        self.next_timestamp += n as i64 * 10;
        if let Some(part) = self.get_mut(topic, p) {
            part.append_generated((topic, p), n, codec, producer, ts);
        }
    }

    /// Appends records with the keys and values given as one uncompressed batch, outside any
    /// transaction, timestamps from the cluster's clock. Does nothing if the partition does
    /// not exist.
    pub fn append_records(
        &mut self,
        topic: &str,
        p: i32,
        records: impl IntoIterator<Item = (Option<Bytes>, Option<Bytes>)>,
    ) {
        let ts = self.next_timestamp;
        let records: Vec<_> = records
            .into_iter()
            .enumerate()
            .map(|(i, (key, value))| (ts + i as i64 * 10, key, value, Vec::new()))
            .collect();
        self.next_timestamp += records.len() as i64 * 10;
        if let Some(part) = self.get_mut(topic, p) {
            part.append_batch(records, Compression::None, None);
        }
    }

    /// Ends `producer`'s transaction on every partition it wrote to with a COMMIT or ABORT
    /// marker (records written with [`append`](Cluster::append)).
    pub fn end_txn(&mut self, producer: i64, commit: bool) {
        let ts = self.next_timestamp;
        self.next_timestamp += 10;
        let kind = if commit {
            dekaf_proto::records::ControlKind::Commit
        } else {
            dekaf_proto::records::ControlKind::Abort
        };
        for topic in self.topics.values_mut() {
            for part in &mut topic.partitions {
                part.write_marker(producer, 0, kind, ts, false);
            }
        }
    }

    /// Moves the leader of a partition to another broker, bumping its epoch.
    pub fn move_leader(&mut self, topic: &str, p: i32) {
        let Some(from) = self.get(topic, p).map(|part| part.leader) else {
            return;
        };
        if self.brokers.len() < 2 {
            return;
        }
        let to = self.other_broker(from);
        if let Some(part) = self.get_mut(topic, p) {
            part.new_leader(to);
        }
    }

    /// Moves the leader of a partition to a replica whose log ends at `offset` (cut back to a
    /// batch boundary at or below it): the records past it are lost, and the new leader
    /// writes from there in a higher epoch (an unclean leader election).
    pub fn truncate_and_move_leader(&mut self, topic: &str, p: i32, offset: i64) {
        if let Some(part) = self.get_mut(topic, p) {
            part.truncate(offset);
        }
        self.move_leader(topic, p);
    }

    /// Where epoch `asked` ends in the partition's log (see [`Partition::epoch_end`]).
    pub fn epoch_end(&self, topic: &str, p: i32, asked: i32) -> (i32, i64) {
        self.get(topic, p)
            .map_or((-1, -1), |part| part.epoch_end(asked))
    }

    /// Removes records below `offset` (retention, DeleteRecords): the log start moves there.
    pub fn delete_records(&mut self, topic: &str, p: i32, offset: i64) {
        if let Some(part) = self.get_mut(topic, p) {
            part.delete_records(offset);
        }
    }

    /// Forgets every producer's sequence numbers in a partition (as when retention removed
    /// all of their batches).
    pub fn forget_producers(&mut self, topic: &str, p: i32) {
        if let Some(part) = self.get_mut(topic, p) {
            part.forget_producers();
        }
    }

    /// Moves the group coordinator to a broker picked at random (possibly the same) among
    /// those up.
    pub fn move_coordinator(&mut self) {
        let i = self.below(self.brokers.len() as u64) as usize;
        let to = self.brokers[i];
        if !self.down.contains(&to) {
            self.group_coordinator = to;
        }
    }

    /// The committed offset of a group for a partition.
    pub fn committed_offset(&self, group: &str, topic: &str, p: i32) -> Option<i64> {
        self.committed
            .get(group)?
            .get(&(topic.to_string(), p))
            .map(|c| c.offset)
    }

    /// Maybe moves a leader (the [`leader_move`](Faults::leader_move) fault).
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
        self.count("leader moved");
        self.move_leader(&t, p);
    }

    /// Every (api, version) of `apis` (inclusive ranges) never answered.
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

    /// Answers `body`, sent to broker `broker` in `version`, as Kafka would; `Ok(None)` when
    /// Kafka sends no answer (a Produce with acks 0). The request goes through its wire
    /// encoding and back, and so does the answer: both must fit the version.
    pub fn answer(
        &mut self,
        broker: i32,
        body: &RequestBody,
        version: i16,
    ) -> Result<Option<ResponseBody>, SimError> {
        let api = body.api_key();
        let not_writable = |reason: String| SimError::RequestNotWritable {
            api,
            version,
            reason,
        };
        let mut buf = BytesMut::new();
        body.encode(&mut buf, version)
            .map_err(|e| not_writable(e.to_string()))?;
        let bytes = buf.freeze();
        let mut r = Reader::new(&bytes);
        let body =
            RequestBody::decode(api, version, &mut r).map_err(|e| not_writable(e.to_string()))?;
        r.finish("request")
            .map_err(|e| not_writable(e.to_string()))?;
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
            RequestBody::Produce(req) => {
                let acks = req.acks;
                let response = self.produce(broker, req);
                if acks == 0 {
                    return Ok(None);
                }
                ResponseBody::Produce(response)
            }
            RequestBody::InitProducerId(req) => {
                ResponseBody::InitProducerId(self.init_producer_id(broker, version, &req))
            }
            RequestBody::AddPartitionsToTxn(req) => {
                ResponseBody::AddPartitionsToTxn(self.add_partitions(broker, &req))
            }
            RequestBody::AddOffsetsToTxn(req) => {
                ResponseBody::AddOffsetsToTxn(self.add_offsets(broker, &req))
            }
            RequestBody::EndTxn(req) => ResponseBody::EndTxn(self.finish_txn(broker, &req)),
            RequestBody::TxnOffsetCommit(req) => {
                ResponseBody::TxnOffsetCommit(self.txn_offset_commit(broker, &req))
            }
            other => return Err(SimError::Unsupported(other.api_key())),
        };
        let answer_not_writable = |reason: String| SimError::AnswerNotWritable {
            api,
            version,
            reason,
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, version)
            .map_err(|e| answer_not_writable(e.to_string()))?;
        let bytes = buf.freeze();
        let mut r = Reader::new(&bytes);
        let back = ResponseBody::decode(api, version, &mut r)
            .map_err(|e| answer_not_writable(e.to_string()))?;
        r.finish("response")
            .map_err(|e| answer_not_writable(e.to_string()))?;
        Ok(Some(back))
    }

    fn metadata(&mut self, req: &MetadataRequest, version: i16) -> MetadataResponse {
        let names: Vec<String> = match &req.topics {
            Some(ts) => ts.iter().filter_map(|t| t.name.clone()).collect(),
            None => self.topics.keys().cloned().collect(),
        };
        MetadataResponse {
            brokers: self
                .brokers
                .iter()
                .filter(|id| !self.down.contains(id))
                .map(|&id| MetadataResponseBroker {
                    node_id: id,
                    host: format!("b{id}"),
                    port: 9000 + id,
                    rack: self.racks.get(&id).cloned(),
                    ..Default::default()
                })
                .collect(),
            controller_id: self.brokers[0],
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
                        name: Some(name.clone()),
                        topic_id: if version >= 10 { t.id } else { Uuid::ZERO },
                        partitions: t
                            .partitions
                            .iter()
                            .enumerate()
                            .map(|(i, p)| MetadataResponsePartition {
                                partition_index: i as i32,
                                leader_id: p.leader,
                                leader_epoch: if version >= 7 { p.leader_epoch } else { -1 },
                                replica_nodes: self.replicas_of(&name, i as i32, p.leader),
                                isr_nodes: self
                                    .replicas_of(&name, i as i32, p.leader)
                                    .into_iter()
                                    .filter(|b| !self.down.contains(b))
                                    .collect(),
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
        let keys = if version >= 4 {
            req.coordinator_keys.clone()
        } else {
            vec![req.key.clone()]
        };
        let node = if req.key_type == 1 {
            self.txn_coordinator
        } else {
            self.group_coordinator
        };
        let code = if req.key_type == 0 && self.chance(self.faults.load_in_progress) {
            self.count("coordinator not available");
            ErrorCode::COORDINATOR_NOT_AVAILABLE
        } else if req.key_type > 1 {
            ErrorCode::INVALID_REQUEST
        } else {
            ErrorCode::NONE
        };
        let (host, port) = (format!("b{node}"), 9000 + node);
        if version >= 4 {
            FindCoordinatorResponse {
                coordinators: keys
                    .into_iter()
                    .map(|key| CoordinatorEntry {
                        key,
                        node_id: node,
                        host: host.clone(),
                        port,
                        error_code: code,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        } else {
            FindCoordinatorResponse {
                error_code: code,
                node_id: node,
                host,
                port,
                ..Default::default()
            }
        }
    }
}

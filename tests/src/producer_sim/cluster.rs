//! The cluster's state and how it answers each request, following Kafka's rules for
//! sequence numbers, producer epochs, transactions and transactional offsets.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use dekaf_proto::messages::add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use dekaf_proto::messages::find_coordinator::Coordinator;
use dekaf_proto::messages::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use dekaf_proto::messages::produce::{PartitionProduceResponse, TopicProduceResponse};
use dekaf_proto::messages::txn_offset_commit::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use dekaf_proto::messages::*;
use dekaf_proto::records::{ControlKind, RecordBatches};
use dekaf_proto::ErrorCode;
use dekaf_state::offset::Rng;

use super::Faults;

/// One entry of a partition's log: a record, or a transaction marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its offset.
    pub offset: i64,
    /// The producer id of its batch (-1 without idempotence).
    pub producer_id: i64,
    /// The producer epoch of its batch.
    pub epoch: i16,
    /// Whether its batch was transactional.
    pub transactional: bool,
    /// The record's key.
    pub key: Option<Bytes>,
    /// The record's value.
    pub value: Option<Bytes>,
    /// `Some` for a commit or abort marker.
    pub marker: Option<ControlKind>,
}

#[derive(Clone, Debug)]
struct SequenceState {
    epoch: i16,
    last_sequence: i32,
    /// The last five batches: first and last sequence, base offset.
    recent: VecDeque<(i32, i32, i64)>,
}

/// One partition: its leader and its log.
#[derive(Clone, Debug, Default)]
pub struct Partition {
    /// The broker that leads it.
    pub leader: i32,
    /// Every entry, in offset order.
    pub log: Vec<Entry>,
    producers: BTreeMap<i64, SequenceState>,
}

impl Partition {
    /// What a `read_committed` consumer sees: records outside transactions, and records of
    /// transactions that a commit marker closed.
    pub fn committed(&self) -> Vec<&Entry> {
        let mut open: BTreeMap<i64, Vec<&Entry>> = BTreeMap::new();
        let mut out = Vec::new();
        for e in &self.log {
            match (e.marker, e.transactional) {
                (Some(kind), _) => {
                    let records = open.remove(&e.producer_id).unwrap_or_default();
                    if kind == ControlKind::Commit {
                        out.extend(records);
                    }
                }
                (None, true) => open.entry(e.producer_id).or_default().push(e),
                (None, false) => out.push(e),
            }
        }
        out.sort_by_key(|e| e.offset);
        out
    }

    /// Every record, committed or not (what `read_uncommitted` sees), without markers.
    pub fn records(&self) -> Vec<&Entry> {
        self.log.iter().filter(|e| e.marker.is_none()).collect()
    }

    fn next_offset(&self) -> i64 {
        self.log.len() as i64
    }

    fn write_marker(&mut self, producer_id: i64, epoch: i16, kind: ControlKind) {
        let offset = self.next_offset();
        self.log.push(Entry {
            offset,
            producer_id,
            epoch,
            transactional: true,
            key: None,
            value: None,
            marker: Some(kind),
        });
        let state = self.producers.entry(producer_id).or_insert(SequenceState {
            epoch,
            last_sequence: -1,
            recent: VecDeque::new(),
        });
        if epoch > state.epoch {
            // A marker with a newer epoch fences the older one; sequences restart.
            *state = SequenceState {
                epoch,
                last_sequence: -1,
                recent: VecDeque::new(),
            };
        }
    }
}

fn next_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// Where a transaction stands at its coordinator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnPhase {
    /// No transaction yet.
    Empty,
    /// Partitions or a group were added.
    Ongoing,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
}

/// What the transaction coordinator keeps per transactional id.
#[derive(Clone, Debug)]
pub struct TxnMeta {
    /// The producer id.
    pub producer_id: i64,
    /// The current epoch.
    pub epoch: i16,
    /// The epoch before the last bump: a retried bump that names it gets the current one.
    last_epoch: i16,
    /// Where the transaction stands.
    pub phase: TxnPhase,
    partitions: BTreeSet<(String, i32)>,
    groups: BTreeSet<String>,
    /// Transactions committed and aborted so far.
    pub commits: u32,
    /// Transactions aborted so far.
    pub aborts: u32,
}

/// What the group coordinator keeps per group.
#[derive(Clone, Debug, Default)]
pub struct Group {
    /// The current generation.
    pub generation: i32,
    /// The current members.
    pub members: BTreeSet<String>,
    /// Committed offsets.
    pub committed: BTreeMap<(String, i32), i64>,
    /// Offsets staged by a transaction, by producer id, until its marker.
    staged: BTreeMap<i64, BTreeMap<(String, i32), i64>>,
}

/// A typed in-memory cluster.
#[derive(Debug)]
pub struct Cluster {
    /// Broker ids.
    pub brokers: Vec<i32>,
    /// Topics and their partitions.
    pub topics: BTreeMap<String, Vec<Partition>>,
    /// Which broker coordinates transactions.
    pub txn_coordinator: i32,
    /// Which broker coordinates groups.
    pub group_coordinator: i32,
    /// Transactional ids.
    pub txns: BTreeMap<String, TxnMeta>,
    /// Consumer groups.
    pub groups: BTreeMap<String, Group>,
    /// Faults the cluster injects into its answers.
    pub faults: Faults,
    /// How many faults of each kind were injected (cluster and links together).
    pub injected: BTreeMap<&'static str, u64>,
    /// The largest record batch a partition takes, in bytes (Kafka's `max.message.bytes`);
    /// a larger one is refused with MESSAGE_TOO_LARGE.
    pub max_message_bytes: usize,
    next_producer_id: i64,
    rng: Rng,
}

impl Cluster {
    /// `brokers` brokers (ids 1..), no topics.
    pub fn new(brokers: i32, seed: u64) -> Self {
        Cluster {
            brokers: (1..=brokers.max(1)).collect(),
            topics: BTreeMap::new(),
            txn_coordinator: 1,
            group_coordinator: 1,
            txns: BTreeMap::new(),
            groups: BTreeMap::new(),
            faults: Faults::default(),
            injected: BTreeMap::new(),
            max_message_bytes: usize::MAX,
            next_producer_id: 1000,
            rng: Rng::new(seed),
        }
    }

    /// Creates a topic, its partitions' leaders spread over the brokers.
    pub fn create_topic(&mut self, name: &str, partitions: i32) {
        let n = self.brokers.len();
        let parts = (0..partitions)
            .map(|i| Partition {
                leader: self.brokers[i as usize % n],
                ..Partition::default()
            })
            .collect();
        self.topics.insert(name.to_owned(), parts);
    }

    /// A partition.
    pub fn partition(&self, topic: &str, partition: i32) -> &Partition {
        &self.topics[topic][partition as usize]
    }

    /// Forgets every producer's sequence numbers in a partition (as when retention removed
    /// all of their batches).
    pub fn forget_producers(&mut self, topic: &str, partition: i32) {
        if let Some(p) = self
            .topics
            .get_mut(topic)
            .and_then(|ps| ps.get_mut(partition as usize))
        {
            p.producers.clear();
        }
    }

    /// A group, created (generation 1, no members) when absent.
    pub fn group_mut(&mut self, id: &str) -> &mut Group {
        self.groups.entry(id.to_owned()).or_insert_with(|| Group {
            generation: 1,
            ..Group::default()
        })
    }

    /// Counts one injected fault of `kind`.
    pub fn count(&mut self, kind: &'static str) {
        *self.injected.entry(kind).or_default() += 1;
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.next_f64() < p
    }

    fn other_broker(&mut self, than: i32) -> i32 {
        let others: Vec<i32> = self
            .brokers
            .iter()
            .copied()
            .filter(|b| *b != than)
            .collect();
        if others.is_empty() {
            than
        } else {
            others[(self.rng.next_u64() % others.len() as u64) as usize]
        }
    }

    /// Answers `request` (sent to `broker` in `version`); `None` for a Produce with acks 0.
    pub fn handle(
        &mut self,
        broker: i32,
        version: i16,
        request: RequestBody,
    ) -> Option<ResponseBody> {
        Some(match request {
            RequestBody::Metadata(r) => ResponseBody::Metadata(self.metadata(&r)),
            RequestBody::Produce(r) => {
                let acks = r.acks;
                let response = self.produce(broker, r);
                if acks == 0 {
                    return None;
                }
                ResponseBody::Produce(response)
            }
            RequestBody::FindCoordinator(r) => {
                ResponseBody::FindCoordinator(self.find_coordinator(version, &r))
            }
            RequestBody::InitProducerId(r) => {
                ResponseBody::InitProducerId(self.init_producer_id(broker, version, &r))
            }
            RequestBody::AddPartitionsToTxn(r) => {
                ResponseBody::AddPartitionsToTxn(self.add_partitions(broker, &r))
            }
            RequestBody::AddOffsetsToTxn(r) => {
                ResponseBody::AddOffsetsToTxn(AddOffsetsToTxnResponse {
                    error_code: self.add_offsets(broker, &r),
                    ..Default::default()
                })
            }
            RequestBody::EndTxn(r) => ResponseBody::EndTxn(EndTxnResponse {
                error_code: self.end_txn(broker, &r),
                ..Default::default()
            }),
            RequestBody::TxnOffsetCommit(r) => {
                ResponseBody::TxnOffsetCommit(self.txn_offset_commit(broker, &r))
            }
            other => panic!(
                "the simulated cluster does not answer {:?}",
                other.api_key()
            ),
        })
    }

    fn metadata(&mut self, r: &MetadataRequest) -> MetadataResponse {
        let names: Vec<String> = match &r.topics {
            Some(ts) => ts.iter().filter_map(|t| t.name.clone()).collect(),
            None => self.topics.keys().cloned().collect(),
        };
        MetadataResponse {
            brokers: self
                .brokers
                .iter()
                .map(|id| MetadataResponseBroker {
                    node_id: *id,
                    host: format!("sim-{id}"),
                    port: 9000 + id,
                    ..Default::default()
                })
                .collect(),
            topics: names
                .into_iter()
                .map(|name| match self.topics.get(&name) {
                    Some(parts) => MetadataResponseTopic {
                        name: Some(name),
                        partitions: parts
                            .iter()
                            .enumerate()
                            .map(|(i, p)| MetadataResponsePartition {
                                partition_index: i as i32,
                                leader_id: p.leader,
                                replica_nodes: vec![p.leader],
                                isr_nodes: vec![p.leader],
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    },
                    None => MetadataResponseTopic {
                        name: Some(name),
                        error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        ..Default::default()
                    },
                })
                .collect(),
            ..Default::default()
        }
    }

    fn produce(&mut self, broker: i32, r: ProduceRequest) -> ProduceResponse {
        let mut responses = Vec::new();
        for t in r.topic_data {
            let mut partition_responses = Vec::new();
            for p in t.partition_data {
                let (error_code, base_offset) =
                    self.append(broker, &t.name, p.index, p.records.unwrap_or_default());
                partition_responses.push(PartitionProduceResponse {
                    index: p.index,
                    error_code,
                    base_offset,
                    ..Default::default()
                });
            }
            responses.push(TopicProduceResponse {
                name: t.name,
                partition_responses,
                ..Default::default()
            });
        }
        ProduceResponse {
            responses,
            ..Default::default()
        }
    }

    /// Kafka's append path for one partition: leadership, transaction membership, epoch and
    /// sequence checks, duplicates answered with the first write's offset.
    fn append(&mut self, broker: i32, topic: &str, index: i32, records: Bytes) -> (ErrorCode, i64) {
        let move_leader = self.chance(self.faults.not_leader);
        if move_leader {
            self.count("not leader");
        }
        let Some(partition) = self
            .topics
            .get(topic)
            .and_then(|ps| ps.get(index as usize))
            .map(|p| p.leader)
        else {
            return (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1);
        };
        if partition != broker {
            return (ErrorCode::NOT_LEADER_OR_FOLLOWER, -1);
        }
        if move_leader {
            let to = self.other_broker(broker);
            self.topics.get_mut(topic).unwrap()[index as usize].leader = to;
            return (ErrorCode::NOT_LEADER_OR_FOLLOWER, -1);
        }
        let duplicate_code = self.faults.duplicate_code;
        let batches: Vec<_> = match RecordBatches::new(records).collect::<Result<Vec<_>, _>>() {
            Ok(b) => b,
            Err(_) => return (ErrorCode::CORRUPT_MESSAGE, -1),
        };
        let mut first_offset = -1;
        for batch in batches {
            let h = *batch.header();
            // The whole batch: base offset and length, then `batch_length` bytes.
            let size = usize::try_from(h.batch_length).unwrap_or(0) + 12;
            if size > self.max_message_bytes {
                self.count("message too large");
                return (ErrorCode::MESSAGE_TOO_LARGE, -1);
            }
            if h.producer_id >= 0 && batch.is_transactional() {
                let in_txn = self.txns.values().any(|m| {
                    m.producer_id == h.producer_id
                        && m.phase == TxnPhase::Ongoing
                        && m.partitions.contains(&(topic.to_owned(), index))
                });
                let epoch_ok = self
                    .txns
                    .values()
                    .find(|m| m.producer_id == h.producer_id)
                    .is_none_or(|m| m.epoch == h.producer_epoch);
                if !epoch_ok {
                    return (ErrorCode::INVALID_PRODUCER_EPOCH, -1);
                }
                if !in_txn {
                    return (ErrorCode::INVALID_TXN_STATE, -1);
                }
            }
            let p = &mut self.topics.get_mut(topic).unwrap()[index as usize];
            let count = h.records_count;
            if h.producer_id >= 0 {
                let last = next_sequence(h.base_sequence, count - 1);
                match p.producers.get(&h.producer_id) {
                    Some(s) if h.producer_epoch < s.epoch => {
                        return (ErrorCode::INVALID_PRODUCER_EPOCH, -1)
                    }
                    Some(s) if h.producer_epoch == s.epoch => {
                        if let Some((_, _, offset)) = s
                            .recent
                            .iter()
                            .find(|(f, l, _)| *f == h.base_sequence && *l == last)
                        {
                            return (duplicate_code, *offset);
                        }
                        if h.base_sequence != next_sequence(s.last_sequence, 1) {
                            return (ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
                        }
                    }
                    _ if h.base_sequence != 0 => {
                        return (ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1)
                    }
                    _ => {}
                }
            }
            let base = p.next_offset();
            if first_offset < 0 {
                first_offset = base;
            }
            for record in batch.records() {
                let Ok(record) = record else {
                    return (ErrorCode::CORRUPT_MESSAGE, -1);
                };
                let offset = p.next_offset();
                p.log.push(Entry {
                    offset,
                    producer_id: h.producer_id,
                    epoch: h.producer_epoch,
                    transactional: batch.is_transactional(),
                    key: record.key_bytes(),
                    value: record.value_bytes(),
                    marker: None,
                });
            }
            if h.producer_id >= 0 {
                let s = p.producers.entry(h.producer_id).or_insert(SequenceState {
                    epoch: h.producer_epoch,
                    last_sequence: -1,
                    recent: VecDeque::new(),
                });
                if s.epoch != h.producer_epoch {
                    s.recent.clear();
                }
                s.epoch = h.producer_epoch;
                s.last_sequence = next_sequence(h.base_sequence, count - 1);
                s.recent.push_back((h.base_sequence, s.last_sequence, base));
                if s.recent.len() > 5 {
                    s.recent.pop_front();
                }
            }
        }
        (ErrorCode::NONE, first_offset)
    }

    fn find_coordinator(
        &mut self,
        version: i16,
        r: &FindCoordinatorRequest,
    ) -> FindCoordinatorResponse {
        let node = if r.key_type == 1 {
            self.txn_coordinator
        } else {
            self.group_coordinator
        };
        let (host, port) = (format!("sim-{node}"), 9000 + node);
        if version >= 4 {
            FindCoordinatorResponse {
                coordinators: r
                    .coordinator_keys
                    .iter()
                    .map(|k| Coordinator {
                        key: k.clone(),
                        node_id: node,
                        host: host.clone(),
                        port,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        } else {
            FindCoordinatorResponse {
                node_id: node,
                host,
                port,
                ..Default::default()
            }
        }
    }

    /// A coordinator request arrived at `broker`: NOT_COORDINATOR if it is not the one, and
    /// sometimes the coordinator moves or is busy.
    fn coordinator_check(&mut self, broker: i32) -> Result<(), ErrorCode> {
        if broker != self.txn_coordinator {
            return Err(ErrorCode::NOT_COORDINATOR);
        }
        if self.chance(self.faults.coordinator_moves) {
            self.count("transaction coordinator moved");
            self.txn_coordinator = self.other_broker(broker);
            return Err(ErrorCode::NOT_COORDINATOR);
        }
        if self.chance(self.faults.concurrent_transactions) {
            self.count("concurrent transactions");
            return Err(ErrorCode::CONCURRENT_TRANSACTIONS);
        }
        Ok(())
    }

    fn init_producer_id(
        &mut self,
        broker: i32,
        version: i16,
        r: &InitProducerIdRequest,
    ) -> InitProducerIdResponse {
        let fail = |code| InitProducerIdResponse {
            error_code: code,
            ..Default::default()
        };
        let Some(txn_id) = r.transactional_id.clone() else {
            let id = self.next_producer_id;
            self.next_producer_id += 1;
            return InitProducerIdResponse {
                producer_id: id,
                producer_epoch: 0,
                ..Default::default()
            };
        };
        if let Err(code) = self.coordinator_check(broker) {
            return fail(code);
        }
        let given =
            (version >= 3 && r.producer_id >= 0).then_some((r.producer_id, r.producer_epoch));
        let next_id = self.next_producer_id;
        let meta = self.txns.entry(txn_id).or_insert_with(|| TxnMeta {
            producer_id: next_id,
            epoch: -1,
            last_epoch: -1,
            phase: TxnPhase::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            commits: 0,
            aborts: 0,
        });
        if meta.producer_id == next_id {
            self.next_producer_id += 1;
        }
        if let Some((id, epoch)) = given {
            if id != meta.producer_id {
                return fail(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
            }
            if epoch == meta.last_epoch && meta.phase != TxnPhase::Ongoing {
                // The answer to this bump was lost: the same answer again.
                return InitProducerIdResponse {
                    producer_id: meta.producer_id,
                    producer_epoch: meta.epoch,
                    ..Default::default()
                };
            }
            if epoch != meta.epoch {
                return fail(ErrorCode::PRODUCER_FENCED);
            }
        }
        meta.last_epoch = meta.epoch;
        meta.epoch += 1;
        let (pid, epoch) = (meta.producer_id, meta.epoch);
        if meta.phase == TxnPhase::Ongoing {
            // The open transaction of the previous producer is aborted, with the new epoch
            // on its markers so that its writes are fenced.
            self.complete(pid, false);
        }
        InitProducerIdResponse {
            producer_id: pid,
            producer_epoch: epoch,
            ..Default::default()
        }
    }

    /// The transactional id's metadata if `(producer_id, epoch)` is current.
    fn txn_check(&mut self, txn_id: &str, producer_id: i64, epoch: i16) -> Result<(), ErrorCode> {
        let Some(meta) = self.txns.get(txn_id) else {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        };
        if meta.producer_id != producer_id {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        }
        if epoch != meta.epoch {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        Ok(())
    }

    fn add_partitions(
        &mut self,
        broker: i32,
        r: &AddPartitionsToTxnRequest,
    ) -> AddPartitionsToTxnResponse {
        let code = self
            .coordinator_check(broker)
            .and_then(|()| self.txn_check(&r.transactional_id, r.producer_id, r.producer_epoch));
        if code.is_ok() {
            let meta = self.txns.get_mut(&r.transactional_id).unwrap();
            if meta.phase != TxnPhase::Ongoing {
                meta.phase = TxnPhase::Ongoing;
                meta.partitions.clear();
                meta.groups.clear();
            }
            for t in &r.topics {
                for p in &t.partitions {
                    meta.partitions.insert((t.name.clone(), *p));
                }
            }
        }
        let code = code.err().unwrap_or(ErrorCode::NONE);
        AddPartitionsToTxnResponse {
            results_by_topic: r
                .topics
                .iter()
                .map(|t| AddPartitionsToTxnTopicResult {
                    name: t.name.clone(),
                    results_by_partition: t
                        .partitions
                        .iter()
                        .map(|p| AddPartitionsToTxnPartitionResult {
                            partition_index: *p,
                            partition_error_code: code,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn add_offsets(&mut self, broker: i32, r: &AddOffsetsToTxnRequest) -> ErrorCode {
        if let Err(code) = self
            .coordinator_check(broker)
            .and_then(|()| self.txn_check(&r.transactional_id, r.producer_id, r.producer_epoch))
        {
            return code;
        }
        let meta = self.txns.get_mut(&r.transactional_id).unwrap();
        if meta.phase != TxnPhase::Ongoing {
            meta.phase = TxnPhase::Ongoing;
            meta.partitions.clear();
            meta.groups.clear();
        }
        meta.groups.insert(r.group_id.clone());
        ErrorCode::NONE
    }

    fn end_txn(&mut self, broker: i32, r: &EndTxnRequest) -> ErrorCode {
        if let Err(code) = self
            .coordinator_check(broker)
            .and_then(|()| self.txn_check(&r.transactional_id, r.producer_id, r.producer_epoch))
        {
            return code;
        }
        let meta = &self.txns[&r.transactional_id];
        match (meta.phase, r.committed) {
            (TxnPhase::Ongoing, _) => {
                let pid = meta.producer_id;
                self.complete(pid, r.committed);
                ErrorCode::NONE
            }
            // A retry of an end that already happened.
            (TxnPhase::CompleteCommit, true) | (TxnPhase::CompleteAbort, false) => ErrorCode::NONE,
            _ => ErrorCode::INVALID_TXN_STATE,
        }
    }

    /// Writes the markers of `producer_id`'s open transaction and settles its offsets.
    fn complete(&mut self, producer_id: i64, commit: bool) {
        let Some(meta) = self
            .txns
            .values_mut()
            .find(|m| m.producer_id == producer_id)
        else {
            return;
        };
        let kind = if commit {
            ControlKind::Commit
        } else {
            ControlKind::Abort
        };
        meta.phase = if commit {
            meta.commits += 1;
            TxnPhase::CompleteCommit
        } else {
            meta.aborts += 1;
            TxnPhase::CompleteAbort
        };
        let epoch = meta.epoch;
        let partitions = std::mem::take(&mut meta.partitions);
        let groups = std::mem::take(&mut meta.groups);
        for (topic, index) in partitions {
            if let Some(p) = self
                .topics
                .get_mut(&topic)
                .and_then(|ps| ps.get_mut(index as usize))
            {
                p.write_marker(producer_id, epoch, kind);
            }
        }
        for g in groups {
            let group = self.group_mut(&g);
            if let Some(staged) = group.staged.remove(&producer_id) {
                if commit {
                    group.committed.extend(staged);
                }
            }
        }
    }

    fn txn_offset_commit(
        &mut self,
        broker: i32,
        r: &TxnOffsetCommitRequest,
    ) -> TxnOffsetCommitResponse {
        let code = if broker != self.group_coordinator {
            ErrorCode::NOT_COORDINATOR
        } else if self.chance(self.faults.coordinator_moves) {
            self.count("group coordinator moved");
            self.group_coordinator = self.other_broker(broker);
            ErrorCode::NOT_COORDINATOR
        } else {
            let fenced = self
                .txns
                .get(&r.transactional_id)
                .is_none_or(|m| m.producer_id != r.producer_id || m.epoch != r.producer_epoch);
            let group = self.group_mut(&r.group_id);
            if fenced {
                ErrorCode::PRODUCER_FENCED
            } else if r.generation_id >= 0 && r.generation_id != group.generation {
                ErrorCode::ILLEGAL_GENERATION
            } else if !r.member_id.is_empty() && !group.members.contains(&r.member_id) {
                ErrorCode::UNKNOWN_MEMBER_ID
            } else {
                let staged = group.staged.entry(r.producer_id).or_default();
                for t in &r.topics {
                    for p in &t.partitions {
                        staged.insert((t.name.clone(), p.partition_index), p.committed_offset);
                    }
                }
                ErrorCode::NONE
            }
        };
        TxnOffsetCommitResponse {
            topics: r
                .topics
                .iter()
                .map(|t| TxnOffsetCommitResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| TxnOffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: code,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

//! How the cluster answers producers: Produce (leadership, batch size, transaction membership,
//! producer epochs and sequence numbers), and the transaction coordinator's InitProducerId,
//! AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit, with markers written to
//! every partition of a transaction and its offsets committed with it.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use dekaf_proto::messages::add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use dekaf_proto::messages::produce::{PartitionProduceResponse, TopicProduceResponse};
use dekaf_proto::messages::txn_offset_commit::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use dekaf_proto::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdRequest,
    InitProducerIdResponse, ProduceRequest, ProduceResponse, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use dekaf_proto::records::{ControlKind, RecordBatches};
use dekaf_proto::ErrorCode;

use crate::cluster::Committed;
use crate::Cluster;

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

/// What the group coordinator checks a TxnOffsetCommit against: the group's generation and
/// members as a test sets them, and the offsets transactions staged.
#[derive(Clone, Debug, Default)]
pub struct GroupTxnState {
    /// The current generation.
    pub generation: i32,
    /// The current members.
    pub members: BTreeSet<String>,
    /// Offsets staged by a transaction, by producer id, until its marker.
    staged: BTreeMap<i64, BTreeMap<(String, i32), i64>>,
}

impl Cluster {
    /// A group as TxnOffsetCommit sees it, created (generation 1, no members) when absent.
    pub fn group_mut(&mut self, id: &str) -> &mut GroupTxnState {
        self.groups
            .entry(id.to_owned())
            .or_insert_with(|| GroupTxnState {
                generation: 1,
                ..GroupTxnState::default()
            })
    }

    pub(crate) fn produce(&mut self, broker: i32, r: ProduceRequest) -> ProduceResponse {
        let mut responses = Vec::new();
        for t in r.topic_data {
            let mut partition_responses = Vec::new();
            for p in t.partition_data {
                let (error_code, base_offset) =
                    self.append_to_log(broker, &t.name, p.index, p.records.unwrap_or_default());
                // Kafka names the partition's log start with a write it took, -1 otherwise.
                let log_start_offset = match self.get(&t.name, p.index) {
                    Some(part) if error_code.is_ok() => part.log_start,
                    _ => -1,
                };
                partition_responses.push(PartitionProduceResponse {
                    index: p.index,
                    error_code,
                    base_offset,
                    log_start_offset,
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
    fn append_to_log(
        &mut self,
        broker: i32,
        topic: &str,
        index: i32,
        records: Bytes,
    ) -> (ErrorCode, i64) {
        let move_leader = self.chance(self.faults.not_leader);
        if move_leader {
            self.count("not leader");
        }
        let Some(leader) = self.get(topic, index).map(|p| p.leader) else {
            return (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1);
        };
        if leader != broker {
            return (ErrorCode::NOT_LEADER_OR_FOLLOWER, -1);
        }
        if move_leader {
            let to = self.other_broker(broker);
            if let Some(p) = self.get_mut(topic, index) {
                p.new_leader(to);
            }
            return (ErrorCode::NOT_LEADER_OR_FOLLOWER, -1);
        }
        let duplicate_code = self.faults.duplicate_code;
        // Each batch with its own bytes, as the broker stores them.
        let mut batches = Vec::new();
        let mut iter = RecordBatches::new(records.clone());
        let mut at = 0;
        loop {
            match iter.next() {
                None => break,
                Some(Err(_)) => return (ErrorCode::CORRUPT_MESSAGE, -1),
                Some(Ok(batch)) => {
                    let to = iter.position().min(records.len());
                    batches.push((records.slice(at.min(to)..to), batch));
                    at = to;
                }
            }
        }
        let mut first_offset = -1;
        for (raw, batch) in batches {
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
            let Some(p) = self.get_mut(topic, index) else {
                return (ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1);
            };
            match p.append_produced(&raw, &batch, duplicate_code) {
                Ok(base) => {
                    if first_offset < 0 {
                        first_offset = base;
                    }
                }
                Err(answer) => return answer,
            }
        }
        (ErrorCode::NONE, first_offset)
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

    pub(crate) fn init_producer_id(
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

    pub(crate) fn add_partitions(
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

    pub(crate) fn add_offsets(
        &mut self,
        broker: i32,
        r: &AddOffsetsToTxnRequest,
    ) -> AddOffsetsToTxnResponse {
        AddOffsetsToTxnResponse {
            error_code: self.add_offsets_code(broker, r),
            ..Default::default()
        }
    }

    fn add_offsets_code(&mut self, broker: i32, r: &AddOffsetsToTxnRequest) -> ErrorCode {
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

    pub(crate) fn finish_txn(&mut self, broker: i32, r: &EndTxnRequest) -> EndTxnResponse {
        EndTxnResponse {
            error_code: self.end_txn_code(broker, r),
            ..Default::default()
        }
    }

    fn end_txn_code(&mut self, broker: i32, r: &EndTxnRequest) -> ErrorCode {
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
        let ts = self.next_timestamp;
        self.next_timestamp += 10;
        for (topic, index) in partitions {
            if let Some(p) = self.get_mut(&topic, index) {
                p.write_marker(producer_id, epoch, kind, ts, true);
            }
        }
        for g in groups {
            let staged = self.group_mut(&g).staged.remove(&producer_id);
            if let (Some(staged), true) = (staged, commit) {
                let committed = self.committed.entry(g.clone()).or_default();
                for (tp, offset) in staged {
                    self.commit_log
                        .push((g.clone(), tp.0.clone(), tp.1, offset));
                    committed.insert(
                        tp,
                        Committed {
                            offset,
                            leader_epoch: -1,
                            metadata: Some(String::new()),
                        },
                    );
                }
            }
        }
    }

    pub(crate) fn txn_offset_commit(
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

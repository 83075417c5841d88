//! The requests of a transaction: coordinator lookups, AddPartitionsToTxn, AddOffsetsToTxn,
//! TxnOffsetCommit and EndTxn. One request to the transaction coordinator at a time.

use std::collections::BTreeMap;
use std::time::Instant;

use dekaf_proto::messages::add_partitions_to_txn::AddPartitionsToTxnTopic;
use dekaf_proto::messages::txn_offset_commit::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use dekaf_proto::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, FindCoordinatorRequest,
    RequestBody, TxnOffsetCommitRequest,
};
use dekaf_proto::ApiKey;

use super::producer::{Pending, Producer};
use super::transactions::OffsetsOp;
use super::txn::TransactionState;
use crate::client::{ClientRequest, Destination, Outgoing, RequestId};

/// FindCoordinator key types.
const KEY_GROUP: i8 = 0;
const KEY_TRANSACTION: i8 = 1;

fn find_coordinator(key_type: i8, key: String) -> ClientRequest {
    ClientRequest::new(ApiKey::FindCoordinator, 1, 6, move |v| {
        RequestBody::FindCoordinator(if v >= 4 {
            FindCoordinatorRequest {
                key_type,
                coordinator_keys: vec![key.clone()],
                ..Default::default()
            }
        } else {
            FindCoordinatorRequest {
                key: key.clone(),
                key_type,
                ..Default::default()
            }
        })
    })
}

impl Producer {
    pub(crate) fn poll_transaction_request(
        &mut self,
        now: Instant,
        id: RequestId,
    ) -> Option<Outgoing> {
        let pid_wanted = self.pid.is_wanted();
        let pid = self.pid.current();
        let txn = self.txn.as_mut()?;
        if matches!(
            txn.state,
            TransactionState::Uninitialized | TransactionState::FatalError
        ) {
            return None;
        }
        if txn.needs_coordinator(pid_wanted) && txn.lookup.can_send(now) {
            txn.lookup.sent(id);
            self.requests.insert(id, Pending::FindTxnCoordinator);
            return Some(Outgoing {
                id,
                destination: Destination::AnyBroker,
                request: find_coordinator(KEY_TRANSACTION, txn.transactional_id.clone()),
            });
        }
        // Offsets go to the group coordinator once the group is in the transaction.
        if let Some(o) = txn.offsets.front() {
            if o.added && !txn.group_coordinators.contains_key(&o.group.group_id) {
                if txn.group_lookup.can_send(now) {
                    txn.group_lookup.sent(id);
                    self.requests.insert(id, Pending::FindGroupCoordinator);
                    let key = o.group.group_id.clone();
                    return Some(Outgoing {
                        id,
                        destination: Destination::AnyBroker,
                        request: find_coordinator(KEY_GROUP, key),
                    });
                }
            } else if o.added && o.attempt.can_send(now) {
                let node = *txn.group_coordinators.get(&o.group.group_id)?;
                let (producer_id, producer_epoch) = pid?;
                let request =
                    txn_offset_commit(&txn.transactional_id, o, producer_id, producer_epoch);
                let fenced_by_member = o.group.generation_id >= 0 || !o.group.member_id.is_empty();
                if let Some(o) = txn.offsets.front_mut() {
                    o.attempt.sent(id);
                }
                self.requests.insert(id, Pending::TxnOffsetCommit);
                // Versions before 3 cannot carry the member's generation: without it the
                // coordinator could not fence a zombie, so they are not used for it.
                let min = if fenced_by_member { 3 } else { 0 };
                return Some(Outgoing {
                    id,
                    destination: Destination::Coordinator(node),
                    request: ClientRequest::new(ApiKey::TxnOffsetCommit, min, 4, move |_| {
                        RequestBody::TxnOffsetCommit(request.clone())
                    }),
                });
            }
        }
        let coordinator = txn.coordinator?;
        let (producer_id, producer_epoch) = pid?;
        if pid_wanted || txn.coordinator_busy() {
            return None;
        }
        let transactional_id = txn.transactional_id.clone();
        let open = matches!(
            txn.state,
            TransactionState::InTransaction | TransactionState::Committing
        );
        if open && !txn.pending.is_empty() && txn.add.can_send(now) {
            txn.adding = std::mem::take(&mut txn.pending).into_iter().collect();
            let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for tp in &txn.adding {
                topics.entry(tp.topic()).or_default().push(tp.partition());
            }
            let request = AddPartitionsToTxnRequest {
                transactional_id,
                producer_id,
                producer_epoch,
                topics: topics
                    .into_iter()
                    .map(|(name, partitions)| AddPartitionsToTxnTopic {
                        name: name.to_owned(),
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            txn.add.sent(id);
            self.requests.insert(id, Pending::AddPartitions);
            return Some(Outgoing {
                id,
                destination: Destination::Coordinator(coordinator),
                request: ClientRequest::new(ApiKey::AddPartitionsToTxn, 0, 3, move |_| {
                    RequestBody::AddPartitionsToTxn(request.clone())
                }),
            });
        }
        if let Some(o) = txn.offsets.front_mut() {
            if open && !o.added && o.attempt.can_send(now) {
                let request = AddOffsetsToTxnRequest {
                    transactional_id,
                    producer_id,
                    producer_epoch,
                    group_id: o.group.group_id.clone(),
                    ..Default::default()
                };
                o.attempt.sent(id);
                self.requests.insert(id, Pending::AddOffsets);
                return Some(Outgoing {
                    id,
                    destination: Destination::Coordinator(coordinator),
                    request: ClientRequest::new(ApiKey::AddOffsetsToTxn, 0, 4, move |_| {
                        RequestBody::AddOffsetsToTxn(request.clone())
                    }),
                });
            }
        }
        let commit = txn.end?;
        if !txn.started || !txn.end_attempt.can_send(now) || !self.ready_to_end() {
            return None;
        }
        let txn = self.txn.as_mut()?;
        let request = EndTxnRequest {
            transactional_id,
            producer_id,
            producer_epoch,
            committed: commit,
            ..Default::default()
        };
        txn.end_attempt.sent(id);
        self.requests.insert(id, Pending::EndTxn);
        Some(Outgoing {
            id,
            destination: Destination::Coordinator(coordinator),
            request: ClientRequest::new(ApiKey::EndTxn, 0, 5, move |_| {
                RequestBody::EndTxn(request.clone())
            }),
        })
    }

    /// Whether everything of the transaction is settled, so that EndTxn may go out.
    pub(crate) fn ready_to_end(&self) -> bool {
        let Some(txn) = &self.txn else { return false };
        let nothing_in_flight =
            txn.adding.is_empty() && txn.offsets.iter().all(|o| o.attempt.in_flight.is_none());
        // Records waiting for room belong to the transaction too.
        let data_left = self.partitions.values().any(|q| !q.is_empty())
            || !self.unrouted.is_empty()
            || !self.waiting.is_empty();
        match txn.state {
            TransactionState::Committing => {
                nothing_in_flight && txn.offsets.is_empty() && txn.pending.is_empty() && !data_left
            }
            TransactionState::Aborting => nothing_in_flight && !data_left,
            _ => false,
        }
    }
}

fn txn_offset_commit(
    transactional_id: &str,
    o: &OffsetsOp,
    producer_id: i64,
    producer_epoch: i16,
) -> TxnOffsetCommitRequest {
    let mut topics: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, offset) in &o.offsets {
        topics
            .entry(tp.topic())
            .or_default()
            .push(TxnOffsetCommitRequestPartition {
                partition_index: tp.partition(),
                committed_offset: offset.offset,
                committed_leader_epoch: offset.leader_epoch.unwrap_or(-1),
                committed_metadata: offset.metadata.clone(),
                ..Default::default()
            });
    }
    TxnOffsetCommitRequest {
        transactional_id: transactional_id.to_owned(),
        group_id: o.group.group_id.clone(),
        producer_id,
        producer_epoch,
        generation_id: o.group.generation_id,
        member_id: o.group.member_id.clone(),
        group_instance_id: o.group.group_instance_id.clone(),
        topics: topics
            .into_iter()
            .map(|(name, partitions)| TxnOffsetCommitRequestTopic {
                name: name.to_owned(),
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

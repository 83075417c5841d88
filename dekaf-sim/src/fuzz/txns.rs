//! Answers of the transaction coordinator (and of the group coordinator for transactional
//! offsets).

use dekaf_proto::messages::add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use dekaf_proto::messages::txn_offset_commit::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use dekaf_proto::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, EndTxnRequest,
    EndTxnResponse, InitProducerIdRequest, InitProducerIdResponse, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use dekaf_proto::ErrorCode;

use super::broker::{code, partition_code, World};
use dekaf_state::fuzz::Input;

/// Codes every transaction coordinator request may get.
const TXN: [ErrorCode; 8] = [
    ErrorCode::NOT_COORDINATOR,
    ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    ErrorCode::CONCURRENT_TRANSACTIONS,
    ErrorCode::INVALID_PRODUCER_EPOCH,
    ErrorCode::PRODUCER_FENCED,
    ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    ErrorCode::UNKNOWN_PRODUCER_ID,
];

pub(crate) fn init_producer_id(
    world: &mut World,
    input: &mut Input<'_>,
    _req: &InitProducerIdRequest,
) -> InitProducerIdResponse {
    let usual = [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::CONCURRENT_TRANSACTIONS,
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
        ErrorCode::INVALID_PRODUCER_EPOCH,
        ErrorCode::PRODUCER_FENCED,
        ErrorCode::INVALID_TRANSACTION_TIMEOUT,
        ErrorCode::UNKNOWN_PRODUCER_ID,
    ];
    let error_code = code(input, &usual);
    if !error_code.is_ok() {
        return InitProducerIdResponse {
            error_code,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
    }
    match input.byte() {
        0..=223 => world.producer_epoch = world.producer_epoch.saturating_add(1),
        224..=239 => {
            world.producer_id += 1;
            world.producer_epoch = 0;
        }
        // An epoch about to run out.
        _ => world.producer_epoch = i16::MAX - 1,
    }
    InitProducerIdResponse {
        error_code,
        producer_id: world.producer_id,
        producer_epoch: world.producer_epoch,
        ..Default::default()
    }
}

pub(crate) fn add_partitions(
    input: &mut Input<'_>,
    req: &AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let mut usual = TXN.to_vec();
    usual.extend([
        ErrorCode::INVALID_TXN_STATE,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        ErrorCode::OPERATION_NOT_ATTEMPTED,
        ErrorCode::INVALID_PRODUCER_ID_MAPPING,
    ]);
    let whole = code(input, &usual);
    AddPartitionsToTxnResponse {
        results_by_topic: req
            .topics
            .iter()
            .map(|t| AddPartitionsToTxnTopicResult {
                name: t.name.clone(),
                results_by_partition: t
                    .partitions
                    .iter()
                    .filter_map(|p| {
                        if input.chance(4) {
                            return None;
                        }
                        Some(AddPartitionsToTxnPartitionResult {
                            partition_index: *p,
                            partition_error_code: if whole.is_ok() {
                                code(input, &usual)
                            } else {
                                whole
                            },
                            ..Default::default()
                        })
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

pub(crate) fn add_offsets(input: &mut Input<'_>) -> AddOffsetsToTxnResponse {
    let mut usual = TXN.to_vec();
    usual.extend([
        ErrorCode::INVALID_TXN_STATE,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
    ]);
    AddOffsetsToTxnResponse {
        error_code: code(input, &usual),
        ..Default::default()
    }
}

pub(crate) fn txn_offset_commit(
    input: &mut Input<'_>,
    req: &TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let usual = [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::CONCURRENT_TRANSACTIONS,
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::FENCED_INSTANCE_ID,
        ErrorCode::REBALANCE_IN_PROGRESS,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
        ErrorCode::INVALID_PRODUCER_EPOCH,
        ErrorCode::PRODUCER_FENCED,
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ErrorCode::UNKNOWN_PRODUCER_ID,
        ErrorCode::INVALID_TXN_STATE,
    ];
    let whole = code(input, &usual);
    TxnOffsetCommitResponse {
        topics: req
            .topics
            .iter()
            .map(|t| TxnOffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .filter_map(|p| {
                        Some(TxnOffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: partition_code(input, whole, &usual)?,
                            ..Default::default()
                        })
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

pub(crate) fn end_txn(
    world: &mut World,
    input: &mut Input<'_>,
    req: &EndTxnRequest,
    version: i16,
) -> EndTxnResponse {
    let mut usual = TXN.to_vec();
    usual.extend([
        ErrorCode::INVALID_TXN_STATE,
        ErrorCode::TRANSACTION_ABORTABLE,
    ]);
    let error_code = code(input, &usual);
    let mut out = EndTxnResponse {
        error_code,
        ..Default::default()
    };
    if version >= 5 && error_code.is_ok() {
        // Transactions v2 bump the epoch at every end.
        if input.bool() {
            world.producer_epoch = req.producer_epoch.saturating_add(1);
        }
        out.producer_id = req.producer_id;
        out.producer_epoch = world.producer_epoch.max(req.producer_epoch);
    }
    out
}

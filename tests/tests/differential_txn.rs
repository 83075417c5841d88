//! Differential tests against the `kafka-protocol` crate for the producer-id, transaction,
//! SASL and admin messages (see `differential_messages.rs` for how the check works).

use dekaf_proto::messages::*;
use dekaf_tests::differential;
use kafka_protocol::messages as kp;

const CASES: u32 = 64;

#[test]
fn init_producer_id() {
    differential::<InitProducerIdRequest, kp::InitProducerIdRequest>(0..=5, CASES);
    differential::<InitProducerIdResponse, kp::InitProducerIdResponse>(0..=5, CASES);
}

#[test]
fn add_partitions_to_txn() {
    differential::<AddPartitionsToTxnRequest, kp::AddPartitionsToTxnRequest>(0..=3, CASES);
    differential::<AddPartitionsToTxnResponse, kp::AddPartitionsToTxnResponse>(0..=3, CASES);
}

#[test]
fn add_offsets_to_txn() {
    differential::<AddOffsetsToTxnRequest, kp::AddOffsetsToTxnRequest>(0..=4, CASES);
    differential::<AddOffsetsToTxnResponse, kp::AddOffsetsToTxnResponse>(0..=4, CASES);
}

#[test]
fn end_txn() {
    differential::<EndTxnRequest, kp::EndTxnRequest>(0..=5, CASES);
    differential::<EndTxnResponse, kp::EndTxnResponse>(0..=5, CASES);
}

#[test]
fn txn_offset_commit() {
    differential::<TxnOffsetCommitRequest, kp::TxnOffsetCommitRequest>(0..=4, CASES);
    differential::<TxnOffsetCommitResponse, kp::TxnOffsetCommitResponse>(0..=4, CASES);
}

#[test]
fn delete_records() {
    differential::<DeleteRecordsRequest, kp::DeleteRecordsRequest>(0..=2, CASES);
    differential::<DeleteRecordsResponse, kp::DeleteRecordsResponse>(0..=2, CASES);
}

#[test]
fn sasl_handshake() {
    differential::<SaslHandshakeRequest, kp::SaslHandshakeRequest>(0..=1, CASES);
    differential::<SaslHandshakeResponse, kp::SaslHandshakeResponse>(0..=1, CASES);
}

#[test]
fn sasl_authenticate() {
    differential::<SaslAuthenticateRequest, kp::SaslAuthenticateRequest>(0..=2, CASES);
    differential::<SaslAuthenticateResponse, kp::SaslAuthenticateResponse>(0..=2, CASES);
}

#[test]
fn create_partitions() {
    differential::<CreatePartitionsRequest, kp::CreatePartitionsRequest>(0..=3, CASES);
    differential::<CreatePartitionsResponse, kp::CreatePartitionsResponse>(0..=3, CASES);
}

#[test]
fn describe_cluster() {
    differential::<DescribeClusterRequest, kp::DescribeClusterRequest>(0..=1, CASES);
    differential::<DescribeClusterResponse, kp::DescribeClusterResponse>(0..=1, CASES);
}

//! Differential tests for the group coordination and offset messages, and for the consumer
//! protocol blobs: dekaf-proto and the `kafka-protocol` crate must write and read the same
//! bytes for every version both implement.
//!
//! No range had to be narrowed: over dekaf's ranges, kafka-protocol 0.18 agrees with the spec
//! field for field, except that it leaves out OffsetFetch v0 (deprecated; the layout of v1),
//! which only dekaf checks. It knows a few newer versions (DescribeGroups v6, OffsetCommit and
//! OffsetFetch responses v10) that the spec dekaf follows does not have yet.

use bytes::{Bytes, BytesMut};
use dekaf_proto::arbitrary::Arbitrary;
use dekaf_proto::consumer_protocol::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use dekaf_proto::field::Cx;
use dekaf_proto::messages::*;
use dekaf_tests::differential;
use kafka_protocol::messages as kp;
use kafka_protocol::protocol::{Decodable, Encodable};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

#[test]
fn find_coordinator() {
    differential::<FindCoordinatorRequest, kp::FindCoordinatorRequest>(0..=6, 64);
    differential::<FindCoordinatorResponse, kp::FindCoordinatorResponse>(0..=6, 64);
}

#[test]
fn join_group() {
    differential::<JoinGroupRequest, kp::JoinGroupRequest>(0..=9, 64);
    differential::<JoinGroupResponse, kp::JoinGroupResponse>(0..=9, 64);
}

#[test]
fn heartbeat() {
    differential::<HeartbeatRequest, kp::HeartbeatRequest>(0..=4, 64);
    differential::<HeartbeatResponse, kp::HeartbeatResponse>(0..=4, 64);
}

#[test]
fn leave_group() {
    differential::<LeaveGroupRequest, kp::LeaveGroupRequest>(0..=5, 64);
    differential::<LeaveGroupResponse, kp::LeaveGroupResponse>(0..=5, 64);
}

#[test]
fn sync_group() {
    differential::<SyncGroupRequest, kp::SyncGroupRequest>(0..=5, 64);
    differential::<SyncGroupResponse, kp::SyncGroupResponse>(0..=5, 64);
}

#[test]
fn describe_groups() {
    differential::<DescribeGroupsRequest, kp::DescribeGroupsRequest>(0..=5, 64);
    differential::<DescribeGroupsResponse, kp::DescribeGroupsResponse>(0..=5, 64);
}

#[test]
fn list_groups() {
    differential::<ListGroupsRequest, kp::ListGroupsRequest>(0..=5, 64);
    differential::<ListGroupsResponse, kp::ListGroupsResponse>(0..=5, 64);
}

#[test]
fn offset_commit() {
    differential::<OffsetCommitRequest, kp::OffsetCommitRequest>(2..=9, 64);
    differential::<OffsetCommitResponse, kp::OffsetCommitResponse>(2..=9, 64);
}

#[test]
fn offset_fetch() {
    differential::<OffsetFetchRequest, kp::OffsetFetchRequest>(1..=9, 64);
    differential::<OffsetFetchResponse, kp::OffsetFetchResponse>(1..=9, 64);
}

#[test]
fn offset_for_leader_epoch() {
    differential::<OffsetForLeaderEpochRequest, kp::OffsetForLeaderEpochRequest>(2..=4, 64);
    differential::<OffsetForLeaderEpochResponse, kp::OffsetForLeaderEpochResponse>(2..=4, 64);
}

#[test]
fn delete_groups() {
    differential::<DeleteGroupsRequest, kp::DeleteGroupsRequest>(0..=2, 64);
    differential::<DeleteGroupsResponse, kp::DeleteGroupsResponse>(0..=2, 64);
}

#[test]
fn consumer_group_heartbeat() {
    differential::<ConsumerGroupHeartbeatRequest, kp::ConsumerGroupHeartbeatRequest>(0..=1, 64);
    differential::<ConsumerGroupHeartbeatResponse, kp::ConsumerGroupHeartbeatResponse>(0..=1, 64);
}

/// The differential check for a consumer protocol blob. kafka-protocol reads and writes the
/// body only, with the version given out of band; dekaf's blobs start with the version.
fn differential_blob<T, K>(encode: impl Fn(&T, i16) -> Bytes, decode: impl Fn(&Bytes) -> (i16, T))
where
    T: Arbitrary + PartialEq,
    K: Encodable + Decodable,
{
    for version in 0..=dekaf_proto::consumer_protocol::MAX_VERSION {
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&T::arbitrary(Cx::new(version, false)), |value| {
            let ours = encode(&value, version);
            proptest::prop_assert_eq!(&ours[..2], &version.to_be_bytes()[..]);
            let mut body = ours.slice(2..);
            let theirs = K::decode(&mut body, version).map_err(|e| {
                TestCaseError::fail(format!("kafka-protocol cannot read ours: {e}"))
            })?;
            proptest::prop_assert!(body.is_empty(), "kafka-protocol left bytes unread");
            let mut again = BytesMut::new();
            again.extend_from_slice(&version.to_be_bytes());
            theirs
                .encode(&mut again, version)
                .map_err(|e| TestCaseError::fail(format!("kafka-protocol cannot write: {e}")))?;
            let again = again.freeze();
            proptest::prop_assert_eq!(&again, &ours);
            proptest::prop_assert_eq!(decode(&again), (version, value));
            Ok(())
        });
        if let Err(e) = result {
            panic!("v{version}: {e}");
        }
    }
}

#[test]
fn consumer_protocol_subscription() {
    differential_blob::<ConsumerProtocolSubscription, kp::ConsumerProtocolSubscription>(
        |s, v| s.encode_version(v).unwrap(),
        |b| ConsumerProtocolSubscription::decode_versioned(b).unwrap(),
    );
}

#[test]
fn consumer_protocol_assignment() {
    differential_blob::<ConsumerProtocolAssignment, kp::ConsumerProtocolAssignment>(
        |a, v| a.encode_version(v).unwrap(),
        |b| ConsumerProtocolAssignment::decode_versioned(b).unwrap(),
    );
}

//! Differential tests against kafka-protocol for Metadata, Produce, Fetch, ListOffsets,
//! CreateTopics and DeleteTopics, over every version both crates implement.
//!
//! kafka-protocol 0.18 follows a newer spec (Metadata to v13, Produce to v13, Fetch to v18)
//! and leaves out the deprecated versions (ListOffsets and DeleteTopics v0); the versions
//! checked here are those both implement, where the two agree on every byte. The one difference found is not on the wire: kafka-protocol's default for
//! `records` (produced and fetched partitions) is an empty byte string; the spec's, and
//! dekaf's, is null.

use dekaf_proto::messages::*;
use dekaf_tests::{defaults_agree, differential};
use kafka_protocol::messages as kp;

#[test]
fn metadata() {
    differential::<MetadataRequest, kp::MetadataRequest>(0..=12, 64);
    differential::<MetadataResponse, kp::MetadataResponse>(0..=12, 64);
}

#[test]
fn produce() {
    differential::<ProduceRequest, kp::ProduceRequest>(3..=11, 64);
    differential::<ProduceResponse, kp::ProduceResponse>(3..=11, 64);
}

#[test]
fn fetch() {
    differential::<FetchRequest, kp::FetchRequest>(4..=17, 64);
    differential::<FetchResponse, kp::FetchResponse>(4..=17, 64);
}

#[test]
fn list_offsets() {
    differential::<ListOffsetsRequest, kp::ListOffsetsRequest>(1..=10, 64);
    differential::<ListOffsetsResponse, kp::ListOffsetsResponse>(1..=10, 64);
}

#[test]
fn create_topics() {
    differential::<CreateTopicsRequest, kp::CreateTopicsRequest>(2..=7, 64);
    differential::<CreateTopicsResponse, kp::CreateTopicsResponse>(2..=7, 64);
}

#[test]
fn delete_topics() {
    differential::<DeleteTopicsRequest, kp::DeleteTopicsRequest>(1..=6, 64);
    differential::<DeleteTopicsResponse, kp::DeleteTopicsResponse>(1..=6, 64);
}

#[test]
fn default_values_agree() {
    defaults_agree::<MetadataRequest, kp::MetadataRequest>(0..=12);
    defaults_agree::<MetadataResponse, kp::MetadataResponse>(0..=12);
    defaults_agree::<ProduceRequest, kp::ProduceRequest>(3..=11);
    defaults_agree::<ProduceResponse, kp::ProduceResponse>(3..=11);
    defaults_agree::<FetchRequest, kp::FetchRequest>(4..=17);
    defaults_agree::<FetchResponse, kp::FetchResponse>(4..=17);
    defaults_agree::<ListOffsetsRequest, kp::ListOffsetsRequest>(1..=10);
    defaults_agree::<ListOffsetsResponse, kp::ListOffsetsResponse>(1..=10);
    defaults_agree::<CreateTopicsRequest, kp::CreateTopicsRequest>(2..=7);
    defaults_agree::<CreateTopicsResponse, kp::CreateTopicsResponse>(2..=7);
    defaults_agree::<DeleteTopicsRequest, kp::DeleteTopicsRequest>(1..=6);
    defaults_agree::<DeleteTopicsResponse, kp::DeleteTopicsResponse>(1..=6);
}

/// kafka-protocol must read `m` in every version of `versions` and write the same bytes back.
fn same_bytes<M, K>(m: &M, versions: std::ops::RangeInclusive<i16>)
where
    M: dekaf_proto::Message,
    K: kafka_protocol::protocol::Encodable + kafka_protocol::protocol::Decodable,
{
    for version in versions {
        let ours = m.to_bytes(version).unwrap();
        let theirs = K::decode(&mut ours.clone(), version).unwrap();
        let mut again = bytes::BytesMut::new();
        theirs.encode(&mut again, version).unwrap();
        assert_eq!(
            again.freeze(),
            ours,
            "{} v{version}",
            M::SPEC.api_key.name()
        );
    }
}

/// Nested structures left at their defaults: their tagged fields must stay unwritten on both
/// sides.
#[test]
fn nested_default_values_agree() {
    let fetch_request = FetchRequest {
        topics: vec![fetch::FetchTopic {
            partitions: vec![fetch::FetchPartition::default()],
            ..Default::default()
        }],
        ..Default::default()
    };
    same_bytes::<_, kp::FetchRequest>(&fetch_request, 4..=17);
    let fetch_response = FetchResponse {
        responses: vec![fetch::FetchableTopicResponse {
            partitions: vec![fetch::PartitionData::default()],
            ..Default::default()
        }],
        ..Default::default()
    };
    same_bytes::<_, kp::FetchResponse>(&fetch_response, 4..=17);
    let produce_response = ProduceResponse {
        responses: vec![produce::TopicProduceResponse {
            partition_responses: vec![produce::PartitionProduceResponse::default()],
            ..Default::default()
        }],
        ..Default::default()
    };
    same_bytes::<_, kp::ProduceResponse>(&produce_response, 3..=11);
    let create_topics_response = CreateTopicsResponse {
        topics: vec![create_topics::CreatableTopicResult::default()],
        ..Default::default()
    };
    same_bytes::<_, kp::CreateTopicsResponse>(&create_topics_response, 2..=7);
}

//! Differential tests for the admin messages (configurations, offset deletion): dekaf-proto
//! and the `kafka-protocol` crate must write and read the same bytes for every version both
//! implement.
//!
//! kafka-protocol 0.18 leaves out DescribeConfigs v0 (deprecated); its one field of its own,
//! `is_default`, is checked against the spec's layout in dekaf-proto's unit tests.

use dekaf_proto::messages::*;
use dekaf_tests::{defaults_agree, differential};
use kafka_protocol::messages as kp;

#[test]
fn describe_configs() {
    differential::<DescribeConfigsRequest, kp::DescribeConfigsRequest>(1..=4, 64);
    differential::<DescribeConfigsResponse, kp::DescribeConfigsResponse>(1..=4, 64);
}

#[test]
fn incremental_alter_configs() {
    differential::<IncrementalAlterConfigsRequest, kp::IncrementalAlterConfigsRequest>(0..=1, 64);
    differential::<IncrementalAlterConfigsResponse, kp::IncrementalAlterConfigsResponse>(0..=1, 64);
}

#[test]
fn offset_delete() {
    differential::<OffsetDeleteRequest, kp::OffsetDeleteRequest>(0..=0, 64);
    differential::<OffsetDeleteResponse, kp::OffsetDeleteResponse>(0..=0, 64);
}

#[test]
fn default_values_agree() {
    defaults_agree::<DescribeConfigsRequest, kp::DescribeConfigsRequest>(1..=4);
    defaults_agree::<DescribeConfigsResponse, kp::DescribeConfigsResponse>(1..=4);
    defaults_agree::<IncrementalAlterConfigsRequest, kp::IncrementalAlterConfigsRequest>(0..=1);
    defaults_agree::<IncrementalAlterConfigsResponse, kp::IncrementalAlterConfigsResponse>(0..=1);
    defaults_agree::<OffsetDeleteRequest, kp::OffsetDeleteRequest>(0..=0);
    defaults_agree::<OffsetDeleteResponse, kp::OffsetDeleteResponse>(0..=0);
}

/// Nested structures left at their defaults: nullable strings and arrays default to empty,
/// not null, on both sides.
#[test]
fn nested_default_values_agree() {
    let request = DescribeConfigsRequest {
        resources: vec![describe_configs::DescribeConfigsResource::default()],
        ..Default::default()
    };
    let ours = dekaf_proto::Message::to_bytes(&request, 4).unwrap();
    let theirs = <kp::DescribeConfigsRequest as kafka_protocol::protocol::Decodable>::decode(
        &mut ours.clone(),
        4,
    )
    .unwrap();
    assert_eq!(
        theirs.resources[0].configuration_keys,
        Some(Vec::new()),
        "an empty key list, not null"
    );
    let response = DescribeConfigsResponse {
        results: vec![describe_configs::DescribeConfigsResult {
            configs: vec![describe_configs::DescribeConfigsResourceResult {
                synonyms: vec![describe_configs::DescribeConfigsSynonym::default()],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    for version in 1..=4 {
        let ours = dekaf_proto::Message::to_bytes(&response, version).unwrap();
        let theirs = <kp::DescribeConfigsResponse as kafka_protocol::protocol::Decodable>::decode(
            &mut ours.clone(),
            version,
        )
        .unwrap();
        let mut again = bytes::BytesMut::new();
        kafka_protocol::protocol::Encodable::encode(&theirs, &mut again, version).unwrap();
        assert_eq!(again.freeze(), ours, "DescribeConfigs v{version}");
    }
}

//! `client.rack` on the wire, checked byte for byte: Fetch `rack_id` (v11+), the answer's
//! `preferred_read_replica` (v11+) and the subscription's `rack_id` (v3), against the
//! `kafka-protocol` crate and against bytes transcribed by hand from Kafka's message specs.

use bytes::{Bytes, BytesMut};
use dekaf_proto::consumer_protocol::ConsumerProtocolSubscription;
use dekaf_proto::messages::fetch::{FetchableTopicResponse, PartitionData};
use dekaf_proto::messages::{FetchRequest, FetchResponse};
use dekaf_proto::Message;
use kafka_protocol::messages as kp;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// kafka-protocol reads `ours` as `version` and writes the same bytes back.
fn read_back<K: Encodable + Decodable>(ours: &Bytes, version: i16) -> K {
    let mut src = ours.clone();
    let theirs = K::decode(&mut src, version).unwrap();
    assert!(
        src.is_empty(),
        "v{version}: kafka-protocol left bytes unread"
    );
    let mut again = BytesMut::new();
    theirs.encode(&mut again, version).unwrap();
    assert_eq!(
        &again.freeze(),
        ours,
        "v{version}: kafka-protocol wrote other bytes"
    );
    theirs
}

fn fetch_with_rack(rack: &str) -> FetchRequest {
    FetchRequest {
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 50 * 1024 * 1024,
        session_epoch: -1,
        rack_id: rack.to_string(),
        ..Default::default()
    }
}

#[test]
fn a_fetch_carries_the_rack_from_v11_as_kafka_protocol_reads_it() {
    let request = fetch_with_rack("eu-west-1a");
    for version in 11..=17 {
        let ours = request.to_bytes(version).unwrap();
        let theirs: kp::FetchRequest = read_back(&ours, version);
        assert_eq!(
            theirs.rack_id,
            StrBytes::from_static_str("eu-west-1a"),
            "v{version}"
        );
    }
}

#[test]
fn a_fetch_below_v11_has_no_room_for_the_rack_and_leaves_it_out() {
    for version in 4..=10 {
        let with = fetch_with_rack("eu-west-1a").to_bytes(version).unwrap();
        let without = fetch_with_rack("").to_bytes(version).unwrap();
        assert_eq!(with, without, "v{version}");
    }
}

#[test]
fn a_fetch_v11_with_a_rack_is_written_as_the_spec_lays_it_out() {
    #[rustfmt::skip]
    let expected: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, // replica_id -1
        0x00, 0x00, 0x01, 0xf4, // max_wait_ms 500
        0x00, 0x00, 0x00, 0x01, // min_bytes 1
        0x03, 0x20, 0x00, 0x00, // max_bytes 50 MiB
        0x00,                   // isolation_level
        0x00, 0x00, 0x00, 0x00, // session_id 0
        0xff, 0xff, 0xff, 0xff, // session_epoch -1
        0x00, 0x00, 0x00, 0x00, // topics: none
        0x00, 0x00, 0x00, 0x00, // forgotten_topics_data: none
        0x00, 0x02, b'r', b'3', // rack_id "r3" (int16 length)
    ];
    let ours = fetch_with_rack("r3").to_bytes(11).unwrap();
    assert_eq!(&ours[..], expected);
    // v12 is flexible: the rack is a compact string (length + 1), then no tagged fields.
    let v12 = fetch_with_rack("r3").to_bytes(12).unwrap();
    assert_eq!(&v12[v12.len() - 4..], &[0x03, b'r', b'3', 0x00]);
}

fn answer_naming(replica: i32) -> FetchResponse {
    FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: "t".into(),
            partitions: vec![PartitionData {
                partition_index: 0,
                high_watermark: 10,
                last_stable_offset: 10,
                log_start_offset: 0,
                aborted_transactions: Some(Vec::new()),
                preferred_read_replica: replica,
                records: Some(Bytes::new()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn a_fetch_answer_names_the_preferred_read_replica_from_v11_as_kafka_protocol_reads_it() {
    for version in 11..=17 {
        let ours = answer_naming(3).to_bytes(version).unwrap();
        let theirs: kp::FetchResponse = read_back(&ours, version);
        let p = &theirs.responses[0].partitions[0];
        assert_eq!(p.preferred_read_replica, kp::BrokerId(3), "v{version}");
        let back = FetchResponse::decode_exact(&ours, version).unwrap();
        assert_eq!(back.responses[0].partitions[0].preferred_read_replica, 3);
    }
}

#[test]
fn a_fetch_answer_v11_naming_a_replica_is_read_as_the_spec_lays_it_out() {
    #[rustfmt::skip]
    let bytes: &[u8] = &[
        0x00, 0x00, 0x00, 0x00, // throttle_time_ms
        0x00, 0x00,             // error_code
        0x00, 0x00, 0x00, 0x00, // session_id
        0x00, 0x00, 0x00, 0x01, // responses: 1
        0x00, 0x01, b't',       //   topic "t"
        0x00, 0x00, 0x00, 0x01, //   partitions: 1
        0x00, 0x00, 0x00, 0x00, //     partition_index 0
        0x00, 0x00,             //     error_code
        0, 0, 0, 0, 0, 0, 0, 10, //    high_watermark 10
        0, 0, 0, 0, 0, 0, 0, 10, //    last_stable_offset 10
        0, 0, 0, 0, 0, 0, 0, 0, //     log_start_offset 0
        0x00, 0x00, 0x00, 0x00, //     aborted_transactions: none
        0x00, 0x00, 0x00, 0x03, //     preferred_read_replica 3
        0x00, 0x00, 0x00, 0x00, //     records: empty
    ];
    let bytes = Bytes::from_static(bytes);
    let ours = FetchResponse::decode_exact(&bytes, 11).unwrap();
    assert_eq!(ours, answer_naming(3));
    assert_eq!(ours.to_bytes(11).unwrap(), bytes);
}

#[test]
fn a_subscription_v3_carries_the_rack_as_kafka_protocol_reads_it() {
    let subscription = ConsumerProtocolSubscription {
        topics: vec!["orders".into()],
        generation_id: 4,
        rack_id: Some("eu-west-1a".into()),
        ..Default::default()
    };
    let ours = subscription.encode_version(3).unwrap();
    assert_eq!(&ours[..2], &[0x00, 0x03]);
    let body = ours.slice(2..);
    let theirs: kp::ConsumerProtocolSubscription = read_back(&body, 3);
    assert_eq!(
        theirs.rack_id,
        Some(StrBytes::from_static_str("eu-west-1a"))
    );
    // The rack is the last field: an int16 length and the bytes.
    let mut tail = vec![0x00, 0x0a];
    tail.extend_from_slice(b"eu-west-1a");
    assert_eq!(&ours[ours.len() - tail.len()..], &tail[..]);
}

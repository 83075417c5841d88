//! A first round trip through a real broker with nothing but dekaf-proto and a blocking socket:
//! ApiVersions, CreateTopics, Metadata, Produce, Fetch and ListOffsets, against both tansu
//! builds (build C on both of its engines), checking every answer field that means something.
//!
//! Where tansu answers differently from Apache Kafka, the test pins what tansu does and names
//! what Kafka does, so that a change in the broker shows up here.

use bytes::Bytes;
use dekaf_proto::messages::metadata::MetadataRequestTopic;
use dekaf_proto::messages::{ApiVersionsRequest, FetchRequest, MetadataRequest};
use dekaf_proto::records::{OwnedHeader, RecordBatchBuilder, RecordBatches};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::wire::Uuid;
use dekaf_proto::{ApiKey, ErrorCode};
use dekaf_tests::broker::temp_dir;
use dekaf_tests::ops::{
    create_topic, fetch, list_offset, now_ms, produce, unique_name, version, EARLIEST, LATEST,
    NODE_ID,
};
use dekaf_tests::{Broker, Build, Client, Engine};

/// The first record's timestamp; the others are spread around it.
const T0: i64 = 1_700_000_000_000;

/// One record as produced: absolute offset and timestamp, key, value, headers.
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    offset: i64,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<OwnedHeader>,
}

fn b(s: &'static str) -> Option<Bytes> {
    Some(Bytes::from_static(s.as_bytes()))
}

/// The first batch: a null value, a null key, a null and an empty header value, a repeated
/// header key, a timestamp before the batch's first one, and a value of a few kilobytes.
fn first_records() -> Vec<Sent> {
    let big = Bytes::from((0..4000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let h = |k: &str, v: Option<Bytes>| OwnedHeader::new(k, v);
    vec![
        Sent {
            offset: 0,
            timestamp: T0,
            key: b("key-0"),
            value: b("value-0"),
            headers: vec![h("trace", b("t-0")), h("none", None)],
        },
        Sent {
            offset: 1,
            timestamp: T0 + 5,
            key: None,
            value: b("no key"),
            headers: vec![],
        },
        Sent {
            offset: 2,
            timestamp: T0 - 3,
            key: b("key-2"),
            value: None,
            headers: vec![h("empty", b("")), h("empty", b("again"))],
        },
        Sent {
            offset: 3,
            timestamp: T0 + 1000,
            key: b("key-3"),
            value: Some(big),
            headers: vec![h("ünïcode", b("✓"))],
        },
    ]
}

/// The second batch: two plain records after the first four.
fn second_records() -> Vec<Sent> {
    (4..6)
        .map(|offset| Sent {
            offset,
            timestamp: T0 + 2000 + offset,
            key: Some(Bytes::from(format!("key-{offset}"))),
            value: Some(Bytes::from(format!("value-{offset}"))),
            headers: vec![],
        })
        .collect()
}

/// The records as one batch at `base_offset` (producers send 0; the broker sets it).
fn batch(records: &[Sent], base_offset: i64) -> Bytes {
    let mut builder = RecordBatchBuilder::new().base_offset(base_offset);
    for r in records {
        builder.append(
            r.timestamp,
            r.key.clone(),
            r.value.clone(),
            r.headers.clone(),
        );
    }
    builder.build().unwrap()
}

/// ApiVersions: the versions every later step uses.
fn api_versions(client: &mut Client, build: Build) -> BrokerVersions {
    let versions = client.broker_versions();
    let again = client.call(
        &ApiVersionsRequest {
            client_software_name: "dekaf-tests".into(),
            client_software_version: "0.1.0".into(),
            ..Default::default()
        },
        version::<ApiVersionsRequest>(&versions),
    );
    assert_eq!(again.error_code, ErrorCode::NONE);
    assert_eq!(BrokerVersions::from_response(&again), versions);
    for (api, expected) in [
        (ApiKey::ApiVersions, 4),
        (ApiKey::CreateTopics, 7),
        (ApiKey::Metadata, 12),
        (ApiKey::Produce, 11),
        (ApiKey::Fetch, 17),
        (ApiKey::ListOffsets, 9),
    ] {
        assert_eq!(versions.pick(api), Ok(expected), "{build}: {api}");
    }
    versions
}

/// Metadata for the new topic: one broker (tansu's node 111 on the harness port), three
/// partitions led by it, the id CreateTopics gave.
fn check_metadata(
    client: &mut Client,
    versions: &BrokerVersions,
    broker: &Broker,
    topic: &str,
    topic_id: Uuid,
) {
    let request = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(topic.into()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        ..Default::default()
    };
    let answer = client.call(&request, version::<MetadataRequest>(versions));
    let [node] = answer.brokers.as_slice() else {
        panic!("one broker expected: {:?}", answer.brokers);
    };
    assert_eq!(node.node_id, NODE_ID);
    assert_eq!(node.host, broker.addr().ip().to_string());
    assert_eq!(node.port, i32::from(broker.addr().port()));
    assert_eq!(node.rack, None);
    assert_eq!(answer.controller_id, NODE_ID);
    assert_eq!(answer.cluster_id.as_deref(), Some("tansu_cluster"));
    let [t] = answer.topics.as_slice() else {
        panic!("one topic asked: {:?}", answer.topics);
    };
    assert_eq!(t.error_code, ErrorCode::NONE);
    assert_eq!(t.name.as_deref(), Some(topic));
    assert_eq!(t.topic_id, topic_id);
    assert!(!t.is_internal);
    // Not asked for, so "unknown" as in Kafka.
    assert_eq!(t.topic_authorized_operations, i32::MIN);
    let indexes: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
    assert_eq!(indexes, [0, 1, 2]);
    for p in &t.partitions {
        assert_eq!(p.error_code, ErrorCode::NONE);
        assert_eq!(p.leader_id, NODE_ID);
        assert_eq!(p.leader_epoch, 0);
        assert_eq!(p.replica_nodes, [NODE_ID]);
        assert_eq!(p.isr_nodes, [NODE_ID]);
        assert!(p.offline_replicas.is_empty());
    }
}

fn round_trip(build: Build, engine: Engine) {
    let sqlite = matches!(engine, Engine::Sqlite(_));
    let Some(broker) = Broker::start(build, engine) else {
        return;
    };
    let mut client = broker.client();
    let versions = api_versions(&mut client, build);

    let topic = unique_name("round-trip");
    let before = now_ms();
    let topic_id = create_topic(&mut client, &versions, &topic, 3);
    assert!(!topic_id.is_zero(), "CreateTopics v7 returns the topic id");
    check_metadata(&mut client, &versions, &broker, &topic, topic_id);

    // Produce two batches to partition 1: four records, then two.
    let (first, second) = (first_records(), second_records());
    let (first_bytes, second_bytes) = (batch(&first, 0), batch(&second, 0));
    for (bytes, base) in [(&first_bytes, 0), (&second_bytes, 4)] {
        let p = produce(&mut client, &versions, &topic, 1, bytes.clone());
        assert_eq!(p.error_code, ErrorCode::NONE);
        assert_eq!(p.base_offset, base);
        assert_eq!(p.log_append_time_ms, -1, "the topic keeps create time");
        assert_eq!(p.log_start_offset, 0);
        assert!(p.record_errors.is_empty());
        assert_eq!(p.error_message, None);
    }
    let after = now_ms();

    // Fetch them back.
    let fetch_v = version::<FetchRequest>(&versions);
    let p = fetch(&mut client, fetch_v, (&topic, topic_id), 1, 0, 1000)
        .unwrap_or_else(|| panic!("{build}: no partition in the fetch answer"));
    assert_eq!(p.error_code, ErrorCode::NONE);
    assert_eq!(p.high_watermark, 6);
    assert_eq!(p.last_stable_offset, 6);
    assert_eq!(p.log_start_offset, 0);
    assert_eq!(p.aborted_transactions, Some(vec![]));
    assert_eq!(p.preferred_read_replica, -1);
    let blob = p.records.expect("records");
    let batches: Vec<_> = RecordBatches::new(blob.clone())
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{build}: fetched batches do not decode: {e}"));
    let mut got = Vec::new();
    for batch in &batches {
        assert!(!batch.is_control() && !batch.is_transactional());
        assert_eq!(batch.producer_id(), -1);
        for record in batch.records() {
            let record = record.unwrap();
            let owned = record.into_owned();
            got.push(Sent {
                offset: record.offset(),
                timestamp: record.timestamp(),
                key: owned.key,
                value: owned.value,
                headers: owned.headers,
            });
        }
    }
    let sent: Vec<Sent> = first.iter().chain(&second).cloned().collect();
    assert_eq!(got.len(), sent.len(), "{build}: record count");
    for (got, sent) in got.iter().zip(&sent) {
        assert_eq!(got, sent, "{build}: record at offset {}", sent.offset);
    }
    if sqlite {
        // Kafka hands back the producer's batches as they were written. tansu's sqlite engine
        // stores records one by one and rebuilds a single batch per fetch: same records, but
        // a new header whose max timestamp is a broker clock reading, not the largest record
        // timestamp.
        let [one] = batches.as_slice() else {
            panic!("{build}: sqlite rebuilds one batch, got {}", batches.len());
        };
        assert_eq!((one.base_offset(), one.records_count()), (0, 6));
        let max = one.header().max_timestamp;
        assert!((before..=now_ms()).contains(&max), "max timestamp {max}");
    } else {
        // The memory engines keep each batch byte for byte, base offset aside. Kafka would
        // also stamp the partition leader epoch (0 here) into each batch; tansu leaves the
        // producer's -1.
        assert_eq!(batches.len(), 2, "{build}: one batch per produce");
        for batch in &batches {
            assert_eq!(batch.header().partition_leader_epoch, -1);
        }
        let expected = [first_bytes, batch(&second, 4)].concat();
        assert_eq!(blob, expected, "{build}: the batches as produced");
    }

    // ListOffsets: the earliest offset is 0 in every engine.
    let earliest = list_offset(&mut client, &versions, &topic, 1, EARLIEST);
    assert_eq!(earliest.error_code, ErrorCode::NONE);
    assert_eq!(earliest.offset, 0);
    assert_eq!(earliest.leader_epoch, 0);
    let latest = list_offset(&mut client, &versions, &topic, 1, LATEST);
    assert_eq!(latest.error_code, ErrorCode::NONE);
    assert_eq!(latest.leader_epoch, 0);
    // Kafka answers both special timestamps with timestamp -1, and LATEST with the log end
    // offset (6). tansu fills in a timestamp, and its memory engines answer LATEST with the
    // base offset of the last batch + 1 (4 + 1), which is short whenever that batch holds
    // more than one record.
    if sqlite {
        assert_eq!(latest.offset, 6);
        assert_eq!(earliest.timestamp, T0, "first record's timestamp");
        assert_eq!(latest.timestamp, T0 + 2005, "last record's timestamp");
    } else {
        assert_eq!(latest.offset, 5);
        for (what, ts) in [
            ("earliest", earliest.timestamp),
            ("latest", latest.timestamp),
        ] {
            assert!(
                (before..=after).contains(&ts),
                "{build}: {what} timestamp {ts} is the batch's write time"
            );
        }
    }
    // An empty partition: 0 for both, timestamp -1 as in Kafka.
    for timestamp in [EARLIEST, LATEST] {
        let empty = list_offset(&mut client, &versions, &topic, 0, timestamp);
        assert_eq!(empty.error_code, ErrorCode::NONE);
        assert_eq!((empty.offset, empty.timestamp), (0, -1), "{timestamp}");
    }
}

/// The records of a fetched partition as (batch base offset, record offsets) pairs.
fn shape(records: Option<Bytes>) -> Vec<(i64, Vec<i64>)> {
    RecordBatches::new(records.unwrap_or_default())
        .map(|batch| {
            let batch = batch.unwrap();
            let offsets = batch.records().map(|r| r.unwrap().offset()).collect();
            (batch.base_offset(), offsets)
        })
        .collect()
}

/// Fetches and offset lookups at the edges, where tansu and Kafka part ways.
fn edges(build: Build, engine: Engine) {
    let sqlite = matches!(engine, Engine::Sqlite(_));
    let Some(broker) = Broker::start(build, engine) else {
        return;
    };
    let mut client = broker.client();
    let versions = client.broker_versions();
    let fetch_v = version::<FetchRequest>(&versions);
    let topic = unique_name("edges");
    let topic_id = create_topic(&mut client, &versions, &topic, 3);
    let id = (topic.as_str(), topic_id);
    let before = now_ms();
    let records = batch(&first_records(), 0);
    assert_eq!(
        produce(&mut client, &versions, &topic, 0, records).error_code,
        ErrorCode::NONE
    );
    let after = now_ms();
    let all: Vec<i64> = (0..4).collect();

    // Past the high watermark Kafka answers OFFSET_OUT_OF_RANGE at once; tansu waits max_wait
    // and answers error 0 with no records.
    let started = std::time::Instant::now();
    let past = fetch(&mut client, fetch_v, id, 0, 10, 300).unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    assert_eq!((past.error_code, past.high_watermark), (ErrorCode::NONE, 4));
    assert_eq!(past.records, Some(Bytes::new()));

    // At a negative offset Kafka answers OFFSET_OUT_OF_RANGE. tansu serves data from offset 0;
    // build C serves it more than once (a reader that trusts the broker sees offsets 0..=3
    // twice), sqlite then adds offset 3 once more in a batch of its own.
    let negative = fetch(&mut client, fetch_v, id, 0, -5, 300).unwrap();
    assert_eq!(negative.error_code, ErrorCode::NONE);
    let expected = match (build, sqlite) {
        (Build::W, _) => vec![(0, all.clone())],
        (Build::C, false) => vec![(0, all.clone()), (0, all.clone())],
        (Build::C, true) => vec![(0, all.clone()), (0, all.clone()), (3, vec![3])],
    };
    assert_eq!(shape(negative.records), expected);

    // With max_wait 0 Kafka answers with the data it has. Build W answers with no topics at
    // all; build C with the data.
    let at_once = fetch(&mut client, fetch_v, id, 0, 0, 0);
    if build == Build::W {
        assert_eq!(at_once, None);
    } else {
        assert_eq!(shape(at_once.unwrap().records), [(0, all.clone())]);
    }

    // An unknown topic id: Kafka (Fetch v13+) answers UNKNOWN_TOPIC_ID, tansu
    // UNKNOWN_TOPIC_OR_PARTITION, after max_wait.
    let unknown = fetch(&mut client, fetch_v, ("", Uuid([7; 16])), 0, 0, 100).unwrap();
    assert_eq!(unknown.error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    assert_eq!(unknown.high_watermark, 0);

    // By timestamp: the first offset whose record timestamp is at or after it. Kafka: offset 1
    // (T0 + 5) for T0 + 1, and offset -1 with timestamp -1 when no record is that late.
    let by_time = list_offset(&mut client, &versions, &topic, 0, T0 + 1);
    let none = list_offset(&mut client, &versions, &topic, 0, now_ms() + 3_600_000);
    assert_eq!(by_time.error_code, ErrorCode::NONE);
    assert_eq!(none.error_code, ErrorCode::NONE);
    if sqlite {
        assert_eq!((by_time.offset, by_time.timestamp), (1, T0 + 5));
    } else {
        // The memory engines compare the batch's write time, not record timestamps.
        assert_eq!(by_time.offset, 0);
        assert!((before..=after).contains(&by_time.timestamp));
    }
    // tansu: offset 0, timestamp -1.
    assert_eq!((none.offset, none.timestamp), (0, -1));

    // Produce to a partition or topic that does not exist: Kafka answers
    // UNKNOWN_TOPIC_OR_PARTITION. The memory engines answer error 0 and keep the records
    // (fetchable, though Metadata still does not know the topic); sqlite answers as Kafka does.
    let stray = unique_name("stray");
    let p7 = produce(
        &mut client,
        &versions,
        &topic,
        7,
        batch(&second_records(), 0),
    );
    let p0 = produce(
        &mut client,
        &versions,
        &stray,
        0,
        batch(&second_records(), 0),
    );
    if sqlite {
        for p in [&p7, &p0] {
            assert_eq!(p.error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            assert_eq!(p.base_offset, -1);
        }
        // (Fetching partition 7 there panics a broker thread and closes the connection.)
    } else {
        for p in [&p7, &p0] {
            assert_eq!((p.error_code, p.base_offset), (ErrorCode::NONE, 0));
        }
        let p = fetch(&mut client, fetch_v, id, 7, 0, 300).unwrap();
        assert_eq!((p.error_code, p.high_watermark), (ErrorCode::NONE, 2));
        assert_eq!(shape(p.records), [(0, vec![0, 1])]);
        // Fetch by name (v12) finds the stray topic.
        let p = fetch(&mut client, 12, (&stray, Uuid::ZERO), 0, 0, 300).unwrap();
        assert_eq!((p.error_code, p.high_watermark), (ErrorCode::NONE, 2));
        assert_eq!(shape(p.records), [(0, vec![0, 1])]);
        let request = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: Some(stray.clone()),
                ..Default::default()
            }]),
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        let answer = client.call(&request, version::<MetadataRequest>(&versions));
        let [t] = answer.topics.as_slice() else {
            panic!("one topic asked: {:?}", answer.topics);
        };
        assert_eq!(t.error_code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    }
}

#[test]
fn build_w_memory_round_trip() {
    round_trip(Build::W, Engine::Memory);
}

#[test]
fn build_c_memory_round_trip() {
    round_trip(Build::C, Engine::Memory);
}

#[test]
fn build_c_sqlite_round_trip() {
    let dir = temp_dir("round-trip-sqlite");
    round_trip(Build::C, Engine::Sqlite(dir.clone()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn build_w_memory_edges() {
    edges(Build::W, Engine::Memory);
}

#[test]
fn build_c_memory_edges() {
    edges(Build::C, Engine::Memory);
}

#[test]
fn build_c_sqlite_edges() {
    let dir = temp_dir("edges-sqlite");
    edges(Build::C, Engine::Sqlite(dir.clone()));
    let _ = std::fs::remove_dir_all(dir);
}

//! Requests the real-broker tests make again and again: each sends one request in the version
//! negotiated from the broker's ApiVersions answer and returns the one part of the answer that
//! matters, after checking the answer is about what was asked.

use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use dekaf_proto::messages::create_topics::CreatableTopic;
use dekaf_proto::messages::fetch::{FetchPartition, FetchTopic, PartitionData};
use dekaf_proto::messages::list_offsets::{
    ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsTopic,
};
use dekaf_proto::messages::offset_fetch::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics, OffsetFetchResponseGroup,
};
use dekaf_proto::messages::produce::{
    PartitionProduceData, PartitionProduceResponse, TopicProduceData,
};
use dekaf_proto::messages::{
    CreateTopicsRequest, FetchRequest, FindCoordinatorRequest, ListOffsetsRequest,
    OffsetFetchRequest, ProduceRequest,
};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::wire::Uuid;
use dekaf_proto::{ApiKey, ErrorCode, Request};

use crate::broker::temp_dir;
use crate::{Broker, Client, Engine};

/// The node id tansu gives its one broker.
pub const NODE_ID: i32 = 111;

/// ListOffsets' special timestamp for the first offset of a partition.
pub const EARLIEST: i64 = -2;
/// ListOffsets' special timestamp for the offset the next record will get.
pub const LATEST: i64 = -1;

/// A name no other test of this run uses: `prefix`, the process id, a counter and the clock's
/// nanoseconds (brokers on a durable engine may keep names from earlier runs).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The current wall-clock time in milliseconds, to bracket timestamps a broker assigns.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The version of `R` both the broker and dekaf support; panics if there is none.
pub fn version<R: Request>(versions: &BrokerVersions) -> i16 {
    let api: ApiKey = R::SPEC.api_key;
    versions
        .pick(api)
        .unwrap_or_else(|e| panic!("cannot negotiate {api}: {e}"))
}

/// Creates `name` with `partitions` partitions (replication factor 1) and returns its id.
pub fn create_topic(
    client: &mut Client,
    versions: &BrokerVersions,
    name: &str,
    partitions: i32,
) -> Uuid {
    let request = CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.into(),
            num_partitions: partitions,
            replication_factor: 1,
            ..Default::default()
        }],
        timeout_ms: 10_000,
        ..Default::default()
    };
    let answer = client.call(&request, version::<CreateTopicsRequest>(versions));
    let [topic] = answer.topics.as_slice() else {
        panic!("CreateTopics: one topic asked, got {:?}", answer.topics);
    };
    assert_eq!(topic.name, name);
    assert_eq!(topic.error_code, ErrorCode::NONE, "CreateTopics {name}");
    topic.topic_id
}

/// Appends `records` (encoded batches) to one partition with `acks = -1` and returns the
/// partition's answer.
pub fn produce(
    client: &mut Client,
    versions: &BrokerVersions,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> PartitionProduceResponse {
    produce_in(client, versions, None, topic, partition, records)
}

/// Like [`produce`], inside the transaction of `transactional_id` when it is given.
pub fn produce_in(
    client: &mut Client,
    versions: &BrokerVersions,
    transactional_id: Option<&str>,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> PartitionProduceResponse {
    let request = ProduceRequest {
        transactional_id: transactional_id.map(String::from),
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let answer = client.call(&request, version::<ProduceRequest>(versions));
    let [t] = answer.responses.as_slice() else {
        panic!("Produce: one topic sent, got {:?}", answer.responses);
    };
    assert_eq!(t.name, topic);
    let [p] = t.partition_responses.as_slice() else {
        panic!(
            "Produce: one partition sent, got {:?}",
            t.partition_responses
        );
    };
    assert_eq!(p.index, partition);
    p.clone()
}

/// A Fetch of one partition from `offset` (up to 1 MiB), named by both name and id so that
/// any version can carry it.
pub fn fetch_request(
    topic: &str,
    topic_id: Uuid,
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
) -> FetchRequest {
    FetchRequest {
        max_wait_ms,
        min_bytes: 1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            topic_id,
            partitions: vec![FetchPartition {
                partition,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Fetches one partition from `offset` in Fetch `version` (by topic id from v13 on, by name
/// before) and returns the partition's answer, or `None` when the answer holds no topic at all.
pub fn fetch(
    client: &mut Client,
    version: i16,
    (topic, topic_id): (&str, Uuid),
    partition: i32,
    offset: i64,
    max_wait_ms: i32,
) -> Option<PartitionData> {
    let request = fetch_request(topic, topic_id, partition, offset, max_wait_ms);
    let answer = client.call(&request, version);
    assert_eq!(answer.error_code, ErrorCode::NONE, "Fetch: top-level error");
    let t = match answer.responses.as_slice() {
        [] => return None,
        [t] => t,
        more => panic!("Fetch: one topic asked, got {more:?}"),
    };
    let [p] = t.partitions.as_slice() else {
        panic!("Fetch: one partition asked, got {:?}", t.partitions);
    };
    assert_eq!(p.partition_index, partition);
    // (Build W names an unknown topic id as the zero id in its answer.)
    let unknown = [
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::UNKNOWN_TOPIC_ID,
    ];
    if version >= 13 && !unknown.contains(&p.error_code) {
        assert_eq!(t.topic_id, topic_id);
    } else if version < 13 {
        assert_eq!(t.topic, topic);
    }
    Some(p.clone())
}

/// Asks for the offset of `timestamp` (or [`EARLIEST`] / [`LATEST`]) in one partition and
/// returns the partition's answer.
pub fn list_offset(
    client: &mut Client,
    versions: &BrokerVersions,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> ListOffsetsPartitionResponse {
    let request = ListOffsetsRequest {
        replica_id: -1,
        isolation_level: 0,
        topics: vec![ListOffsetsTopic {
            name: topic.into(),
            partitions: vec![ListOffsetsPartition {
                partition_index: partition,
                timestamp,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let answer = client.call(&request, version::<ListOffsetsRequest>(versions));
    let [t] = answer.topics.as_slice() else {
        panic!("ListOffsets: one topic asked, got {:?}", answer.topics);
    };
    assert_eq!(t.name, topic);
    let [p] = t.partitions.as_slice() else {
        panic!("ListOffsets: one partition asked, got {:?}", t.partitions);
    };
    assert_eq!(p.partition_index, partition);
    p.clone()
}

/// FindCoordinator for one key of `key_type` (0 group, 1 transaction), checked to name
/// tansu's one node at the broker's address.
pub fn find_coordinator(
    client: &mut Client,
    versions: &BrokerVersions,
    broker: &Broker,
    key: &str,
    key_type: i8,
) {
    let request = FindCoordinatorRequest {
        key_type,
        coordinator_keys: vec![key.into()],
        ..Default::default()
    };
    let answer = client.call(&request, version::<FindCoordinatorRequest>(versions));
    let [c] = answer.coordinators.as_slice() else {
        panic!("one key asked: {:?}", answer.coordinators);
    };
    assert_eq!(c.key, key);
    assert_eq!(c.error_code, ErrorCode::NONE);
    assert_eq!(c.error_message, None);
    assert_eq!(c.node_id, NODE_ID);
    assert_eq!(c.host, broker.addr().ip().to_string());
    assert_eq!(c.port, i32::from(broker.addr().port()));
}

/// OffsetFetch (v8+ layout, `require_stable`) of `partitions` of `topic`, or of everything
/// the group committed when `None`; returns the group's answer.
pub fn offset_fetch(
    client: &mut Client,
    versions: &BrokerVersions,
    group: &str,
    topic: &str,
    partitions: Option<Vec<i32>>,
) -> OffsetFetchResponseGroup {
    let request = OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: group.into(),
            topics: partitions.map(|partition_indexes| {
                vec![OffsetFetchRequestTopics {
                    name: topic.into(),
                    partition_indexes,
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }],
        require_stable: true,
        ..Default::default()
    };
    let answer = client.call(&request, version::<OffsetFetchRequest>(versions));
    let [g] = answer.groups.as_slice() else {
        panic!("one group asked: {:?}", answer.groups);
    };
    assert_eq!(g.group_id, group);
    assert_eq!(g.error_code, ErrorCode::NONE);
    g.clone()
}

/// The (partition, offset, leader epoch, metadata) entries of an OffsetFetch group answer,
/// each checked to carry no error.
pub fn committed(group: &OffsetFetchResponseGroup) -> Vec<(i32, i64, i32, Option<String>)> {
    group
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| {
            assert_eq!(p.error_code, ErrorCode::NONE);
            (
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
                p.metadata.clone(),
            )
        })
        .collect()
}

/// A sqlite engine in a new temporary directory named after `name`.
pub fn temp_sqlite(name: &str) -> Engine {
    Engine::Sqlite(temp_dir(name))
}

/// Removes the data directory of a sqlite engine (nothing for the memory engine).
pub fn remove_data(engine: &Engine) {
    if let Engine::Sqlite(dir) = engine {
        let _ = std::fs::remove_dir_all(dir);
    }
}

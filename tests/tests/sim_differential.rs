//! Differential check of the simulated cluster (dekaf-sim) against a real broker (tansu): the
//! same request sequence goes to both, at the version dekaf picks from what tansu advertises,
//! and the answers are compared field by field.
//!
//! What legitimately differs is normalised before the comparison: node ids (tansu's one node
//! is 111, the model's first broker 1), topic ids, member ids (each side hands out its own),
//! throttle times, leader epochs in record batches, and how a partition's records are cut into
//! batches (the records themselves, offset by offset, are compared). Where tansu answers
//! differently from Apache Kafka — and the model answers as Kafka does — the comparison skips
//! that field or that step explicitly, naming a [`Deviation`]; every deviation is listed in
//! that one enum, and each is a row of the table "Where the test broker differs from Kafka" in
//! docs/DESIGN.md. The same steps then pin what the model answers on its own, so that a
//! skipped comparison still checks Kafka's behaviour on the model's side.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dekaf_proto::consumer_protocol::ConsumerProtocolSubscription;
use dekaf_proto::messages::fetch::FetchResponse;
use dekaf_proto::messages::join_group::JoinGroupRequestProtocol;
use dekaf_proto::messages::leave_group::MemberIdentity;
use dekaf_proto::messages::list_offsets::{ListOffsetsPartition, ListOffsetsTopic};
use dekaf_proto::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use dekaf_proto::messages::offset_fetch::{OffsetFetchRequestGroup, OffsetFetchRequestTopics};
use dekaf_proto::messages::produce::{PartitionProduceData, TopicProduceData};
use dekaf_proto::messages::sync_group::SyncGroupRequestAssignment;
use dekaf_proto::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListOffsetsRequest, ListOffsetsResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, ProduceRequest, ProduceResponse,
    RequestBody, ResponseBody, SyncGroupRequest, SyncGroupResponse,
};
use dekaf_proto::records::{RecordBatchBuilder, RecordBatches};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::wire::{Reader, Uuid};
use dekaf_proto::{ErrorCode, Request};
use dekaf_sim::classic::{Conn, Coordinator};
use dekaf_sim::Cluster;
use dekaf_state::client::RequestId;
use dekaf_tests::ops::{create_topic, fetch_request, now_ms, unique_name, version};
use dekaf_tests::{Broker, Build, Client, Engine};

/// Where tansu answers differently from Apache Kafka, in the steps of this file. Each is a row
/// of docs/DESIGN.md's table "Where the test broker differs from Kafka"; the comparison skips
/// exactly the field or step a deviation names, and checks the model's answer against Kafka's
/// behaviour instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deviation {
    /// The first generation of a group: tansu 0, Kafka 1. tansu's generations are compared
    /// one up.
    FirstGeneration,
    /// A Fetch past the high watermark: tansu answers an empty partition without error, Kafka
    /// OFFSET_OUT_OF_RANGE.
    EmptyPastHighWatermark,
    /// Fetch at a negative offset: tansu returns records from the log start (build C twice),
    /// Kafka OFFSET_OUT_OF_RANGE.
    NegativeFetchOffset,
    /// ListOffsets by time on the memory engines: tansu compares the time each batch was
    /// written, Kafka the records' timestamps.
    ListOffsetsByWriteTime,
    /// ListOffsets at a time later than every record: tansu answers offset 0, Kafka -1.
    NoRecordThatLate,
    /// Build C, Fetch from an offset inside a batch: tansu starts at the next batch and
    /// repeats the last record; Kafka returns the batch holding the offset.
    FetchInsideBatch,
    /// The memory engines, Fetch and ListOffsets of a partition or a topic that does not
    /// exist: tansu answers without error, Kafka UNKNOWN_TOPIC_OR_PARTITION.
    MissingPartitionServed,
    /// Build W, a Fetch with nothing to return: tansu's answer holds no topic; Kafka's names
    /// the partition with its high watermark.
    NoTopicInEmptyFetch,
    /// The memory engines keep a committed offset without its leader epoch and metadata
    /// (OffsetFetch answers -1 and null); Kafka keeps both.
    CommitWithoutEpochAndMetadata,
    /// OffsetCommit for a partition the topic lacks, on the memory engines: tansu stores it,
    /// Kafka answers UNKNOWN_TOPIC_OR_PARTITION.
    CommitForMissingPartition,
    /// Build C, OffsetCommit from another generation or an unknown member: tansu stores it,
    /// Kafka answers ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID.
    CommitOutsideGeneration,
    /// OffsetFetch of a partition without a committed offset: tansu's metadata is null,
    /// Kafka's the empty string.
    NullMetadataWithoutCommit,
    /// JoinGroup answered MEMBER_ID_REQUIRED: tansu names the protocol type, Kafka leaves it
    /// null.
    ProtocolTypeWithMemberIdRequired,
}

/// The deviations one build shows in these steps (those not listed are compared).
fn deviations(build: Build) -> &'static [Deviation] {
    use Deviation::*;
    match build {
        Build::W => &[
            FirstGeneration,
            EmptyPastHighWatermark,
            NegativeFetchOffset,
            MissingPartitionServed,
            ListOffsetsByWriteTime,
            NoRecordThatLate,
            NoTopicInEmptyFetch,
            CommitWithoutEpochAndMetadata,
            CommitForMissingPartition,
            NullMetadataWithoutCommit,
            ProtocolTypeWithMemberIdRequired,
        ],
        Build::C => &[
            FirstGeneration,
            EmptyPastHighWatermark,
            NegativeFetchOffset,
            MissingPartitionServed,
            ListOffsetsByWriteTime,
            NoRecordThatLate,
            FetchInsideBatch,
            CommitWithoutEpochAndMetadata,
            CommitForMissingPartition,
            CommitOutsideGeneration,
            NullMetadataWithoutCommit,
            ProtocolTypeWithMemberIdRequired,
        ],
    }
}

/// An answer body taken out of [`ResponseBody`].
trait Answer: Sized {
    fn take(body: ResponseBody) -> Option<Self>;
}

macro_rules! answers {
    ($($api:ident => $resp:ty,)*) => {
        $(impl Answer for $resp {
            fn take(body: ResponseBody) -> Option<Self> {
                match body {
                    ResponseBody::$api(r) => Some(r),
                    _ => None,
                }
            }
        })*
    };
}

answers! {
    Produce => ProduceResponse,
    Fetch => FetchResponse,
    ListOffsets => ListOffsetsResponse,
    OffsetCommit => OffsetCommitResponse,
    OffsetFetch => OffsetFetchResponse,
    JoinGroup => JoinGroupResponse,
    SyncGroup => SyncGroupResponse,
    Heartbeat => HeartbeatResponse,
    LeaveGroup => LeaveGroupResponse,
}

/// What differs between the two sides when a request is written: the topic's id, the
/// member's id and its generation, as each side handed them out.
#[derive(Clone, Debug, Default)]
struct Side {
    topic_id: Uuid,
    member: String,
    generation: i32,
}

/// One record as both sides must hand it out: offset, timestamp, key, value.
type Row = (i64, i64, Option<Bytes>, Option<Bytes>);

/// A Fetch answer's partition: error, high watermark, log start, records.
type Fetched = (ErrorCode, i64, i64, Vec<Row>);

/// The model (a one-broker cluster and a classic group coordinator, in virtual time) and tansu,
/// driven in step.
struct Both {
    build: Build,
    model: Cluster,
    coordinator: Coordinator,
    now: Instant,
    next_id: u64,
    tansu: Client,
    versions: BrokerVersions,
    topic: String,
    model_side: Side,
    tansu_side: Side,
    /// tansu's member ids → the model's, for the comparison.
    members: BTreeMap<String, String>,
    _broker: Broker,
}

impl Both {
    fn start(build: Build) -> Option<Both> {
        let broker = Broker::start(build, Engine::Memory)?;
        let mut tansu = broker.client();
        let versions = tansu.broker_versions();
        let topic = unique_name("differential");
        let tansu_id = create_topic(&mut tansu, &versions, &topic, 2);
        let mut model = Cluster::new(1, 16);
        model.create_topic(&topic, 2);
        let model_id = model.topics[&topic].id;
        Some(Both {
            build,
            model,
            // Kafka's group.initial.rebalance.delay.ms, by default.
            coordinator: Coordinator::new(Duration::from_secs(3)),
            now: Instant::now(),
            next_id: 0,
            tansu,
            versions,
            topic,
            model_side: Side {
                topic_id: model_id,
                ..Side::default()
            },
            tansu_side: Side {
                topic_id: tansu_id,
                ..Side::default()
            },
            members: BTreeMap::new(),
            _broker: broker,
        })
    }

    fn deviates(&self, d: Deviation) -> bool {
        deviations(self.build).contains(&d)
    }

    /// Sends the request `make` writes for each side to both, at the version dekaf picks from
    /// tansu's; returns (model's answer, tansu's answer), not yet normalised.
    fn call<R>(&mut self, make: impl Fn(&Side) -> R) -> (R::Response, R::Response)
    where
        R: Request + Into<RequestBody>,
        R::Response: Answer,
    {
        let v = version::<R>(&self.versions);
        let theirs = self.tansu.call(&make(&self.tansu_side), v);
        let body: RequestBody = make(&self.model_side).into();
        let ours = match body {
            RequestBody::JoinGroup(_)
            | RequestBody::SyncGroup(_)
            | RequestBody::Heartbeat(_)
            | RequestBody::LeaveGroup(_) => self.group(v, body),
            RequestBody::OffsetCommit(ref req) => self.commit(v, req),
            body => match self.model.answer(1, &body, v) {
                Ok(Some(answer)) => answer,
                other => panic!("the model answered {:?} with {other:?}", body.api_key()),
            },
        };
        let ours = R::Response::take(ours).expect("the model answers in kind");
        (ours, theirs)
    }

    /// A group request to the model's coordinator: virtual time runs on until it answers.
    fn group(&mut self, version: i16, body: RequestBody) -> ResponseBody {
        self.next_id += 1;
        let id = RequestId(self.next_id);
        let conn = Conn {
            slot: 0,
            incarnation: 0,
        };
        let mut replies = self.coordinator.handle(self.now, conn, id, version, body);
        loop {
            if let Some(r) = replies.iter().find(|r| r.id == id) {
                return through_the_wire(&r.body, version);
            }
            let next = self
                .coordinator
                .next_deadline()
                .expect("a held group request has a deadline");
            self.now = self.now.max(next);
            replies.extend(self.coordinator.tick(self.now));
        }
    }

    /// An OffsetCommit to the model: a member's commit is checked against the group first, as
    /// the simulations do; a commit from outside any group (generation -1, no member id) goes
    /// to the cluster's offsets directly.
    fn commit(&mut self, version: i16, req: &OffsetCommitRequest) -> ResponseBody {
        let standalone = req.generation_id_or_member_epoch < 0 && req.member_id.is_empty();
        let code = if standalone {
            ErrorCode::NONE
        } else {
            self.coordinator
                .commit(req.generation_id_or_member_epoch, &req.member_id)
        };
        if code.is_ok() {
            return self
                .model
                .answer(1, &req.clone().into(), version)
                .expect("the model answers OffsetCommit")
                .expect("OffsetCommit has an answer");
        }
        let mut answer = OffsetCommitResponse::default();
        for t in &req.topics {
            answer.topics.push(
                dekaf_proto::messages::offset_commit::OffsetCommitResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| {
                            dekaf_proto::messages::offset_commit::OffsetCommitResponsePartition {
                                partition_index: p.partition_index,
                                error_code: code,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                },
            );
        }
        through_the_wire(&answer.into(), version)
    }

    /// Produces one batch of `records` (timestamp, value) to `partition` on both sides.
    fn produce(&mut self, partition: i32, records: &[(i64, &str)]) {
        let mut batch = RecordBatchBuilder::new();
        for (ts, value) in records {
            batch.append(
                *ts,
                Some(Bytes::from(format!("k{ts}"))),
                Some(Bytes::copy_from_slice(value.as_bytes())),
                Vec::new(),
            );
        }
        let batch = batch.build().expect("a batch of small records");
        let topic = self.topic.clone();
        let (mut ours, mut theirs) = self.call(|_| ProduceRequest {
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: topic.clone(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(batch.clone()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        for answer in [&mut ours, &mut theirs] {
            answer.throttle_time_ms = 0;
            answer.node_endpoints.clear();
            for t in &mut answer.responses {
                for p in &mut t.partition_responses {
                    p.current_leader = Default::default();
                }
            }
        }
        assert_eq!(ours, theirs, "Produce to partition {partition}");
    }

    /// Fetches `partition` from `offset` on both sides; returns both answers' partition
    /// (error, high watermark, log start, records), `None` for an answer without the topic.
    fn fetch(&mut self, partition: i32, offset: i64) -> [Option<Fetched>; 2] {
        let topic = self.topic.clone();
        let (ours, theirs) =
            self.call(|side| fetch_request(&topic, side.topic_id, partition, offset, 100));
        [ours, theirs].map(|answer| {
            assert_eq!(answer.error_code, ErrorCode::NONE, "Fetch: top-level error");
            let t = match answer.responses.as_slice() {
                [] => return None,
                [t] => t,
                more => panic!("Fetch: one topic asked: {more:?}"),
            };
            let [p] = t.partitions.as_slice() else {
                panic!("Fetch: one partition asked: {:?}", t.partitions);
            };
            assert_eq!(p.partition_index, partition);
            Some((
                p.error_code,
                p.high_watermark,
                p.log_start_offset,
                rows(p.records.as_ref()),
            ))
        })
    }

    /// ListOffsets of `partition` at `timestamp` (or -2 earliest, -1 latest) on both sides:
    /// (error, offset, timestamp) of each.
    fn list_offsets(&mut self, partition: i32, timestamp: i64) -> [(ErrorCode, i64, i64); 2] {
        let topic = self.topic.clone();
        let (ours, theirs) = self.call(|_| ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: topic.clone(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: partition,
                    timestamp,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        [ours, theirs].map(|answer| {
            let [t] = answer.topics.as_slice() else {
                panic!("ListOffsets: one topic asked: {:?}", answer.topics);
            };
            let [p] = t.partitions.as_slice() else {
                panic!("ListOffsets: one partition asked: {:?}", t.partitions);
            };
            assert_eq!(p.partition_index, partition);
            (p.error_code, p.offset, p.timestamp)
        })
    }

    /// Renames tansu's member ids to the model's.
    fn member(&self, id: &str) -> String {
        self.members.get(id).cloned().unwrap_or_else(|| id.into())
    }

    /// tansu's generation as the model counts it.
    fn generation(&self, g: i32) -> i32 {
        if self.deviates(Deviation::FirstGeneration) && g >= 0 {
            g + 1
        } else {
            g
        }
    }
}

/// The body as the client reads it: written at `version` and read back.
fn through_the_wire(body: &ResponseBody, version: i16) -> ResponseBody {
    let mut buf = bytes::BytesMut::new();
    body.encode(&mut buf, version).expect("the answer fits");
    let bytes = buf.freeze();
    let mut r = Reader::new(&bytes);
    ResponseBody::decode(body.api_key(), version, &mut r).expect("the answer reads back")
}

/// The records of a Fetch answer, offset by offset.
fn rows(records: Option<&Bytes>) -> Vec<Row> {
    let Some(records) = records else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for batch in RecordBatches::new(records.clone()) {
        let batch = batch.expect("the answer's batches read");
        if batch.is_control() {
            continue;
        }
        for r in batch.records() {
            let r = r.expect("the batch's records read");
            out.push((r.offset(), r.timestamp(), r.key_bytes(), r.value_bytes()));
        }
    }
    out
}

/// Produce, Fetch and ListOffsets: the same log on both sides, read from every offset, its
/// ends and its times; out-of-range reads as Kafka answers them.
fn log_reads_agree(build: Build) {
    let Some(mut both) = Both::start(build) else {
        return;
    };
    let t0 = now_ms() - 60_000;
    both.produce(0, &[(t0, "a"), (t0 + 10, "b")]);
    both.produce(0, &[(t0 + 20, "c"), (t0 + 30, "d"), (t0 + 40, "e")]);
    both.produce(0, &[(t0 + 50, "f")]);
    both.produce(1, &[(t0 + 5, "x")]);
    let batch_starts = [0, 2, 5];

    // Reading from each offset: the batch holding it and those after, the same high
    // watermark and log start.
    for offset in 0..=6 {
        let [ours, theirs] = both.fetch(0, offset);
        let ours = ours.expect("the model names the partition asked");
        assert_eq!(ours.1, 6, "model: the high watermark");
        let first = batch_starts.iter().rev().find(|b| **b <= offset).copied();
        let expected: Vec<i64> = match first {
            Some(first) if offset < 6 => (first..6).collect(),
            _ => Vec::new(),
        };
        let offsets: Vec<i64> = ours.3.iter().map(|r| r.0).collect();
        assert_eq!(offsets, expected, "model: Fetch from {offset}");
        let Some(theirs) = theirs else {
            assert!(both.deviates(Deviation::NoTopicInEmptyFetch) && ours.3.is_empty());
            continue;
        };
        if !batch_starts.contains(&offset) && both.deviates(Deviation::FetchInsideBatch) {
            let ends = |p: &Fetched| (p.0, p.1, p.2);
            assert_eq!(ends(&ours), ends(&theirs), "Fetch from {offset}");
            continue;
        }
        assert_eq!(ours, theirs, "Fetch of partition 0 from {offset}");
    }
    let [ours, theirs] = both.fetch(1, 0);
    assert_eq!(ours.as_ref().map(|p| p.3.len()), Some(1));
    assert_eq!(ours, theirs, "Fetch of partition 1");

    // Past the high watermark and before the log start.
    for offset in [7, 100] {
        let [ours, theirs] = both.fetch(0, offset);
        let ours = ours.expect("the model names the partition asked");
        assert_eq!(
            ours.0,
            ErrorCode::OFFSET_OUT_OF_RANGE,
            "model, Fetch at {offset}"
        );
        assert!(ours.3.is_empty());
        if both.deviates(Deviation::EmptyPastHighWatermark) {
            let (code, records) = theirs.map_or((ErrorCode::NONE, vec![]), |t| (t.0, t.3));
            assert_eq!(code, ErrorCode::NONE, "tansu, Fetch at {offset}");
            assert!(records.is_empty());
        } else {
            assert_eq!(Some(ours), theirs, "Fetch at {offset}");
        }
    }
    let [ours, theirs] = both.fetch(0, -5);
    let ours = ours.expect("the model names the partition asked");
    assert_eq!(ours.0, ErrorCode::OFFSET_OUT_OF_RANGE, "model, Fetch at -5");
    if !both.deviates(Deviation::NegativeFetchOffset) {
        assert_eq!(Some(ours.0), theirs.map(|t| t.0), "Fetch at -5");
    }

    // A partition the topic lacks.
    let [ours, theirs] = both.fetch(7, 0);
    let ours = ours.expect("the model names the partition asked");
    assert_eq!(ours.0, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    if !both.deviates(Deviation::MissingPartitionServed) {
        let theirs = theirs.map(|t| t.0);
        assert_eq!(Some(ours.0), theirs, "Fetch of a partition the topic lacks");
    }

    // EARLIEST and LATEST, then by time: before the first record, on a batch's first record,
    // inside a batch, after the last record.
    let [ours, theirs] = both.list_offsets(0, -2);
    assert_eq!((ours.0, ours.1), (ErrorCode::NONE, 0));
    assert_eq!(
        (ours.0, ours.1),
        (theirs.0, theirs.1),
        "ListOffsets EARLIEST"
    );
    let [ours, theirs] = both.list_offsets(0, -1);
    assert_eq!((ours.0, ours.1), (ErrorCode::NONE, 6));
    assert_eq!((ours.0, ours.1), (theirs.0, theirs.1), "ListOffsets LATEST");
    for (at, offset, ts) in [
        (t0 - 1000, 0, t0),
        (t0 + 20, 2, t0 + 20),
        (t0 + 50, 5, t0 + 50),
        (t0 + 30, 3, t0 + 30),
        (t0 + 25, 3, t0 + 30),
    ] {
        let [ours, theirs] = both.list_offsets(0, at);
        assert_eq!(
            ours,
            (ErrorCode::NONE, offset, ts),
            "model, ListOffsets at {at}"
        );
        if both.deviates(Deviation::ListOffsetsByWriteTime) {
            assert_eq!(theirs.0, ErrorCode::NONE);
            continue;
        }
        assert_eq!(ours, theirs, "ListOffsets at t0 + {}", at - t0);
    }
    let [ours, theirs] = both.list_offsets(0, t0 + 1_000_000);
    assert_eq!(
        ours,
        (ErrorCode::NONE, -1, -1),
        "model: no record that late"
    );
    if both.deviates(Deviation::NoRecordThatLate) {
        assert_eq!(theirs, (ErrorCode::NONE, 0, -1));
    } else {
        assert_eq!(ours, theirs, "ListOffsets after the last record");
    }
    let [ours, theirs] = both.list_offsets(9, -1);
    assert_eq!(ours.0, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    if !both.deviates(Deviation::MissingPartitionServed) {
        assert_eq!(
            ours.0, theirs.0,
            "ListOffsets of a partition the topic lacks"
        );
    }
    // A topic that does not exist.
    both.topic = unique_name("differential-missing");
    let [ours, theirs] = both.list_offsets(0, -1);
    assert_eq!(ours.0, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    if !both.deviates(Deviation::MissingPartitionServed) {
        assert_eq!(
            ours.0, theirs.0,
            "ListOffsets of a topic that does not exist"
        );
    }
}

#[test]
fn build_w_answers_produce_fetch_and_list_offsets_as_the_model_does() {
    log_reads_agree(Build::W);
}

#[test]
fn build_c_answers_produce_fetch_and_list_offsets_as_the_model_does() {
    log_reads_agree(Build::C);
}

/// The committed offsets of `group` for partitions 0..3 of the topic, on both sides.
fn offset_fetch(both: &mut Both, group: &str) -> (OffsetFetchResponse, OffsetFetchResponse) {
    let topic = both.topic.clone();
    let (mut ours, mut theirs) = both.call(|_| OffsetFetchRequest {
        groups: vec![OffsetFetchRequestGroup {
            group_id: group.into(),
            topics: Some(vec![OffsetFetchRequestTopics {
                name: topic.clone(),
                partition_indexes: vec![0, 1],
                ..Default::default()
            }]),
            ..Default::default()
        }],
        ..Default::default()
    });
    ours.throttle_time_ms = 0;
    theirs.throttle_time_ms = 0;
    if both.deviates(Deviation::CommitWithoutEpochAndMetadata) {
        // Compared: the offsets. tansu's epochs and metadata are taken from the model's answer
        // (the callers check the model's).
        let model: Vec<(i32, Option<String>)> = ours
            .groups
            .iter()
            .flat_map(|g| &g.topics)
            .flat_map(|t| &t.partitions)
            .map(|p| (p.committed_leader_epoch, p.metadata.clone()))
            .collect();
        let mut i = 0;
        for t in theirs.groups.iter_mut().flat_map(|g| &mut g.topics) {
            for p in &mut t.partitions {
                if p.committed_offset >= 0 {
                    assert_eq!((p.committed_leader_epoch, &p.metadata), (-1, &None));
                }
                if let Some((epoch, metadata)) = model.get(i) {
                    p.committed_leader_epoch = *epoch;
                    p.metadata = metadata.clone();
                }
                i += 1;
            }
        }
    }
    if both.deviates(Deviation::NullMetadataWithoutCommit) {
        fn partitions(a: &mut OffsetFetchResponse) -> Vec<&mut Option<String>> {
            a.groups
                .iter_mut()
                .flat_map(|g| &mut g.topics)
                .flat_map(|t| &mut t.partitions)
                .filter(|p| p.committed_offset < 0)
                .map(|p| &mut p.metadata)
                .collect()
        }
        for metadata in partitions(&mut ours) {
            assert_eq!(metadata.as_deref(), Some(""), "model: no metadata is empty");
        }
        for metadata in partitions(&mut theirs) {
            *metadata = Some(String::new());
        }
    }
    (ours, theirs)
}

/// The (partition, offset, leader epoch, metadata) of every partition of an OffsetFetch answer.
fn entries(answer: &OffsetFetchResponse) -> Vec<(i32, i64, i32, Option<String>)> {
    answer
        .groups
        .iter()
        .flat_map(|g| &g.topics)
        .flat_map(|t| &t.partitions)
        .map(|p| {
            let metadata = p.metadata.clone();
            (
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
                metadata,
            )
        })
        .collect()
}

/// An OffsetCommit of `offsets` (partition, offset, metadata) by `member` of `generation`
/// (each side's own when `None`), answered on both sides: the error codes by partition.
fn offset_commit(
    both: &mut Both,
    group: &str,
    member: Option<(&str, i32)>,
    offsets: &[(i32, i64, &str)],
) -> [Vec<(i32, ErrorCode)>; 2] {
    let topic = both.topic.clone();
    let (ours, theirs) = both.call(|side| OffsetCommitRequest {
        group_id: group.into(),
        generation_id_or_member_epoch: member.map_or(side.generation, |m| m.1),
        member_id: member.map_or(side.member.clone(), |m| m.0.into()),
        topics: vec![OffsetCommitRequestTopic {
            name: topic.clone(),
            partitions: offsets
                .iter()
                .map(|&(p, offset, metadata)| OffsetCommitRequestPartition {
                    partition_index: p,
                    committed_offset: offset,
                    committed_leader_epoch: 0,
                    committed_metadata: Some(metadata.into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    });
    [ours, theirs].map(|answer| {
        answer
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .map(|p| (p.partition_index, p.error_code))
            .collect()
    })
}

/// OffsetCommit and OffsetFetch outside a group: what is committed reads back, with its
/// metadata and leader epoch; nothing committed reads as -1.
fn committed_offsets_agree(build: Build) {
    let Some(mut both) = Both::start(build) else {
        return;
    };
    let group = unique_name("differential-offsets");
    let (ours, theirs) = offset_fetch(&mut both, &group);
    assert_eq!(ours, theirs, "OffsetFetch before any commit");

    let standalone = Some(("", -1));
    let [ours, theirs] = offset_commit(&mut both, &group, standalone, &[(0, 3, "m0"), (1, 1, "")]);
    assert_eq!(ours, vec![(0, ErrorCode::NONE), (1, ErrorCode::NONE)]);
    assert_eq!(ours, theirs, "OffsetCommit outside a group");
    let (ours, theirs) = offset_fetch(&mut both, &group);
    assert_eq!(ours, theirs, "OffsetFetch after a commit");
    assert_eq!(
        entries(&ours),
        [(0, 3, 0, Some("m0".into())), (1, 1, 0, Some(String::new()))],
        "model: offsets with their epochs and metadata"
    );

    let [ours, theirs] = offset_commit(&mut both, &group, standalone, &[(0, 5, "m1")]);
    assert_eq!(ours, theirs, "a second OffsetCommit");
    let (ours, theirs) = offset_fetch(&mut both, &group);
    assert_eq!(ours, theirs, "OffsetFetch after a second commit");
    assert_eq!(entries(&ours)[0], (0, 5, 0, Some("m1".into())));

    let [ours, theirs] = offset_commit(&mut both, &group, standalone, &[(4, 1, "")]);
    assert_eq!(ours, vec![(4, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)]);
    if !both.deviates(Deviation::CommitForMissingPartition) {
        assert_eq!(ours, theirs, "OffsetCommit for a partition the topic lacks");
    }
}

#[test]
fn build_w_commits_and_fetches_offsets_as_the_model_does() {
    committed_offsets_agree(Build::W);
}

#[test]
fn build_c_commits_and_fetches_offsets_as_the_model_does() {
    committed_offsets_agree(Build::C);
}

/// A JoinGroup of the one member (each side's own id, empty before the first round).
fn join(both: &mut Both, group: &str, subscription: &Bytes) -> JoinGroupResponse {
    let (ours, theirs) = both.call(|side| JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        member_id: side.member.clone(),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: subscription.clone(),
            ..Default::default()
        }],
        ..Default::default()
    });
    if both.model_side.member.is_empty() {
        both.members
            .insert(theirs.member_id.clone(), ours.member_id.clone());
        both.model_side.member = ours.member_id.clone();
        both.tansu_side.member = theirs.member_id.clone();
    }
    both.model_side.generation = ours.generation_id;
    both.tansu_side.generation = theirs.generation_id;
    let mut theirs = theirs;
    theirs.throttle_time_ms = 0;
    theirs.member_id = both.member(&theirs.member_id);
    theirs.leader = both.member(&theirs.leader);
    theirs.generation_id = both.generation(theirs.generation_id);
    for m in &mut theirs.members {
        m.member_id = both.member(&m.member_id);
    }
    let mut ours = ours;
    ours.throttle_time_ms = 0;
    if ours.error_code == ErrorCode::MEMBER_ID_REQUIRED
        && both.deviates(Deviation::ProtocolTypeWithMemberIdRequired)
    {
        assert_eq!(ours.protocol_type, None, "model: no protocol type yet");
        theirs.protocol_type = None;
    }
    assert_eq!(ours, theirs, "JoinGroup");
    ours
}

/// A Heartbeat with (generation, member) made from each side's own: its error code on both.
fn heartbeat(
    both: &mut Both,
    group: &str,
    make: impl Fn(&Side) -> (i32, String),
) -> [ErrorCode; 2] {
    let (ours, theirs) = both.call(|side| {
        let (generation_id, member_id) = make(side);
        HeartbeatRequest {
            group_id: group.into(),
            generation_id,
            member_id,
            ..Default::default()
        }
    });
    [ours.error_code, theirs.error_code]
}

/// A classic group of one member, from its first JoinGroup to its LeaveGroup: member id
/// required, join, sync, heartbeats, commits in and out of the generation, and what a member
/// that left gets.
fn classic_group_agrees(build: Build) {
    let Some(mut both) = Both::start(build) else {
        return;
    };
    let group = unique_name("differential-group");
    let subscription = ConsumerProtocolSubscription {
        topics: vec![both.topic.clone()],
        ..Default::default()
    }
    .encode()
    .expect("a subscription");

    let first = join(&mut both, &group, &subscription);
    assert_eq!(first.error_code, ErrorCode::MEMBER_ID_REQUIRED);
    let joined = join(&mut both, &group, &subscription);
    assert_eq!(joined.error_code, ErrorCode::NONE);
    assert_eq!(joined.generation_id, 1, "Kafka's first generation");
    assert_eq!(joined.leader, joined.member_id);

    let assignment = Bytes::from_static(b"\0\0\0\0\0\0\0\0\0\0");
    let (ours, mut theirs) = both.call(|side| SyncGroupRequest {
        group_id: group.clone(),
        generation_id: side.generation,
        member_id: side.member.clone(),
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignments: vec![SyncGroupRequestAssignment {
            member_id: side.member.clone(),
            assignment: assignment.clone(),
            ..Default::default()
        }],
        ..Default::default()
    });
    theirs.throttle_time_ms = 0;
    assert_eq!(ours.error_code, ErrorCode::NONE);
    assert_eq!(ours.assignment, assignment);
    assert_eq!(ours, theirs, "SyncGroup");

    let own = |side: &Side| (side.generation, side.member.clone());
    let codes = heartbeat(&mut both, &group, own);
    assert_eq!(codes, [ErrorCode::NONE; 2], "a member's heartbeat");
    let codes = heartbeat(&mut both, &group, |side| {
        (side.generation + 5, side.member.clone())
    });
    assert_eq!(
        codes,
        [ErrorCode::ILLEGAL_GENERATION; 2],
        "another generation"
    );
    let codes = heartbeat(&mut both, &group, |side| (side.generation, "nobody".into()));
    assert_eq!(
        codes,
        [ErrorCode::UNKNOWN_MEMBER_ID; 2],
        "a stranger's heartbeat"
    );

    // Commits: the member's own generation, another, a stranger.
    let [ours, theirs] = offset_commit(&mut both, &group, None, &[(0, 2, "g")]);
    assert_eq!(ours, vec![(0, ErrorCode::NONE)]);
    assert_eq!(ours, theirs, "the member's commit");
    let (ours, theirs) = offset_fetch(&mut both, &group);
    assert_eq!(ours, theirs, "OffsetFetch of the member's commit");
    assert_eq!(
        entries(&ours),
        [
            (0, 2, 0, Some("g".into())),
            (1, -1, -1, Some(String::new()))
        ]
    );
    let codes = {
        let topic = both.topic.clone();
        let (ours, theirs) = both.call(|side| OffsetCommitRequest {
            group_id: group.clone(),
            generation_id_or_member_epoch: side.generation + 5,
            member_id: side.member.clone(),
            topics: vec![OffsetCommitRequestTopic {
                name: topic.clone(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 4,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        [ours, theirs].map(|a| a.topics[0].partitions[0].error_code)
    };
    let [ours, theirs] = codes;
    assert_eq!(
        ours,
        ErrorCode::ILLEGAL_GENERATION,
        "model: a commit of another generation"
    );
    let outside = both.deviates(Deviation::CommitOutsideGeneration);
    if outside {
        assert_eq!(theirs, ErrorCode::NONE);
    } else {
        assert_eq!(ours, theirs, "a commit of another generation");
    }
    let [ours, theirs] = offset_commit(&mut both, &group, Some(("nobody", 1)), &[(0, 4, "")]);
    assert_eq!(ours, vec![(0, ErrorCode::UNKNOWN_MEMBER_ID)]);
    if outside {
        assert_eq!(theirs, vec![(0, ErrorCode::NONE)]);
    } else {
        assert_eq!(ours, theirs, "a stranger's commit");
    }
    let (ours, theirs) = offset_fetch(&mut both, &group);
    assert_eq!(
        entries(&ours)[0],
        (0, 2, 0, Some("g".into())),
        "model: nothing changed"
    );
    if !outside {
        assert_eq!(
            ours, theirs,
            "OffsetFetch: the refused commits changed nothing"
        );
    }

    // The member leaves; it is a stranger from then on.
    let (ours, mut theirs) = both.call(|side| LeaveGroupRequest {
        group_id: group.clone(),
        members: vec![MemberIdentity {
            member_id: side.member.clone(),
            ..Default::default()
        }],
        ..Default::default()
    });
    theirs.throttle_time_ms = 0;
    for m in &mut theirs.members {
        m.member_id = both.member(&m.member_id);
    }
    assert_eq!(ours.error_code, ErrorCode::NONE);
    assert_eq!(ours, theirs, "LeaveGroup");
    let codes = heartbeat(&mut both, &group, own);
    assert_eq!(
        codes[0],
        ErrorCode::UNKNOWN_MEMBER_ID,
        "the model, after leaving"
    );
    assert_eq!(codes[0], codes[1], "a heartbeat after leaving");
}

#[test]
fn build_w_runs_a_classic_group_as_the_model_does() {
    classic_group_agrees(Build::W);
}

#[test]
fn build_c_runs_a_classic_group_as_the_model_does() {
    classic_group_agrees(Build::C);
}

//! Answers of partition leaders: fetches served from the partition logs, offset listings,
//! leader epochs, and produced batches.

use bytes::BytesMut;
use dekaf_proto::messages::fetch::{
    AbortedTransaction, FetchPartition, FetchRequest, FetchResponse, FetchableTopicResponse,
    PartitionData,
};
use dekaf_proto::messages::list_offsets::{
    ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use dekaf_proto::messages::offset_for_leader_epoch::{
    EpochEndOffset, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
    OffsetForLeaderTopicResult,
};
use dekaf_proto::messages::produce::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, ProduceRequest, ProduceResponse,
    TopicProduceResponse,
};
use dekaf_proto::records::RecordBatches;
use dekaf_proto::ErrorCode;

use super::appends;
use super::broker::{code, topic_name, World};
use crate::T0;
use dekaf_state::fuzz::Input;

/// Where a batch's checksum starts covering it: after base offset, length, partition leader
/// epoch, magic and the checksum itself.
const CRC_START: usize = 21;

fn list_partition(
    world: &mut World,
    input: &mut Input<'_>,
    topic: &str,
    asked: (i32, i64),
    version: i16,
    read_committed: bool,
) -> ListOffsetsPartitionResponse {
    let usual = [
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::FENCED_LEADER_EPOCH,
        ErrorCode::UNKNOWN_LEADER_EPOCH,
        ErrorCode::LEADER_NOT_AVAILABLE,
        ErrorCode::OFFSET_NOT_AVAILABLE,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
    ];
    let (partition, timestamp) = asked;
    let error_code = code(input, &usual);
    let mut out = ListOffsetsPartitionResponse {
        partition_index: partition,
        error_code,
        ..Default::default()
    };
    if !error_code.is_ok() {
        return out;
    }
    let log = world.log(input, topic, partition);
    let (offset, found) = match timestamp {
        -2 => (log.log_start, -1),
        -1 if read_committed => (log.last_stable_offset(), -1),
        -1 => (log.end, -1),
        ts => match log.offset_for_time(ts) {
            Some(found) => found,
            // tansu's answer when no record is that recent.
            None if input.chance(64) => (0, -1),
            None => (-1, -1),
        },
    };
    out.offset = offset;
    out.timestamp = found;
    out.leader_epoch = if version >= 4 {
        world.leader(topic, partition).1
    } else {
        -1
    };
    out
}

pub(crate) fn list_offsets(
    world: &mut World,
    input: &mut Input<'_>,
    req: &ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let read_committed = version >= 2 && req.isolation_level == 1;
    let mut topics = Vec::new();
    for t in &req.topics {
        let mut partitions = Vec::new();
        for p in &t.partitions {
            if input.chance(4) {
                continue;
            }
            let asked = (p.partition_index, p.timestamp);
            partitions.push(list_partition(
                world,
                input,
                &t.name,
                asked,
                version,
                read_committed,
            ));
        }
        topics.push(ListOffsetsTopicResponse {
            name: t.name.clone(),
            partitions,
            ..Default::default()
        });
    }
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}

pub(crate) fn epochs(
    world: &mut World,
    input: &mut Input<'_>,
    req: &OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let usual = [
        ErrorCode::FENCED_LEADER_EPOCH,
        ErrorCode::UNKNOWN_LEADER_EPOCH,
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
    ];
    let mut topics = Vec::new();
    for t in &req.topics {
        let mut partitions = Vec::new();
        for p in &t.partitions {
            let error_code = code(input, &usual);
            let (leader_epoch, end_offset) = if !error_code.is_ok() {
                (-1, -1)
            } else {
                match input.byte() {
                    // The log was never truncated: the epoch asked ends at the log end.
                    0..=191 => (p.leader_epoch, world.log(input, &t.topic, p.partition).end),
                    // A new leader whose log is shorter.
                    192..=223 => (p.leader_epoch.saturating_sub(1), input.i64_interesting()),
                    _ => (-1, -1),
                }
            };
            partitions.push(EpochEndOffset {
                error_code,
                partition: p.partition,
                leader_epoch,
                end_offset,
                ..Default::default()
            });
        }
        topics.push(OffsetForLeaderTopicResult {
            topic: t.topic.clone(),
            partitions,
            ..Default::default()
        });
    }
    OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    }
}

fn fetch_partition(
    world: &mut World,
    input: &mut Input<'_>,
    topic: Option<&str>,
    p: &FetchPartition,
    version: i16,
    read_committed: bool,
) -> PartitionData {
    let usual = [
        ErrorCode::OFFSET_OUT_OF_RANGE,
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::FENCED_LEADER_EPOCH,
        ErrorCode::UNKNOWN_LEADER_EPOCH,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        ErrorCode::KAFKA_STORAGE_ERROR,
        ErrorCode::CORRUPT_MESSAGE,
        ErrorCode::REPLICA_NOT_AVAILABLE,
    ];
    let mut out = PartitionData {
        partition_index: p.partition,
        ..Default::default()
    };
    let Some(topic) = topic else {
        out.error_code = ErrorCode::UNKNOWN_TOPIC_ID;
        return out;
    };
    out.error_code = code(input, &usual);
    if !out.error_code.is_ok() {
        out.high_watermark = -1;
        out.records = if input.bool() {
            None
        } else {
            Some(Default::default())
        };
        return out;
    }
    let (leader, epoch) = world.leader(topic, p.partition);
    let log = world.log(input, topic, p.partition);
    if p.fetch_offset == log.end && !input.chance(64) {
        // Producers wrote more while the consumer waited.
        appends::write(log, input, topic, (leader, epoch));
    }
    if p.fetch_offset < log.log_start || p.fetch_offset > log.end {
        out.error_code = ErrorCode::OFFSET_OUT_OF_RANGE;
        out.high_watermark = -1;
        return out;
    }
    let lso = log.last_stable_offset();
    // Under read_committed a broker serves up to the last stable offset (tansu: not always).
    let limit = if read_committed && !input.chance(16) {
        lso
    } else {
        log.end
    };
    let mut data = BytesMut::new();
    let mut first_len = 0;
    let mut upper = p.fetch_offset;
    let mut rest = log.batches_from(p.fetch_offset, limit);
    for (next, bytes) in rest.by_ref().take(1 + input.below(4)) {
        if data.is_empty() {
            first_len = bytes.len();
        }
        data.extend_from_slice(bytes);
        upper = next;
    }
    if input.chance(24) {
        // The answer ends inside the next batch, as a size limit cuts it.
        if let Some((_, bytes)) = rest.next() {
            let cut = input.below(bytes.len());
            data.extend_from_slice(bytes.get(..cut).unwrap_or_default());
        }
    }
    if first_len > CRC_START && input.chance(12) {
        // A damaged byte where the first batch's checksum covers it.
        let at = CRC_START + input.below(first_len - CRC_START);
        if let Some(byte) = data.get_mut(at) {
            *byte ^= input.byte() | 1;
        }
    }
    out.high_watermark = log.end;
    if version >= 4 {
        out.last_stable_offset = lso;
        let listed = read_committed && input.bool();
        out.aborted_transactions = Some(if listed {
            log.aborted_between(p.fetch_offset, upper)
                .into_iter()
                .map(|(producer_id, first_offset)| AbortedTransaction {
                    producer_id,
                    first_offset,
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        });
    }
    if version >= 5 {
        out.log_start_offset = log.log_start;
    }
    if version >= 12 {
        if p.last_fetched_epoch >= 0 && input.chance(12) {
            out.diverging_epoch.epoch = p.last_fetched_epoch.saturating_sub(1);
            out.diverging_epoch.end_offset =
                p.fetch_offset.saturating_sub(i64::from(input.byte() % 8));
        }
        if input.chance(12) {
            out.current_leader.leader_id = leader;
            out.current_leader.leader_epoch = epoch.saturating_add(1);
        }
    }
    out.records = Some(data.freeze());
    out
}

pub(crate) fn fetch(
    world: &mut World,
    input: &mut Input<'_>,
    req: &FetchRequest,
    version: i16,
) -> FetchResponse {
    if version >= 7 && input.chance(4) {
        return FetchResponse {
            error_code: ErrorCode::FETCH_SESSION_ID_NOT_FOUND,
            ..Default::default()
        };
    }
    let read_committed = req.isolation_level == 1;
    let mut responses = Vec::new();
    for t in &req.topics {
        let name = if version >= 13 {
            topic_name(world, t.topic_id)
        } else {
            Some(t.topic.clone())
        };
        let mut partitions = Vec::new();
        for p in &t.partitions {
            if !input.chance(4) {
                let data =
                    fetch_partition(world, input, name.as_deref(), p, version, read_committed);
                partitions.push(data);
            }
        }
        responses.push(FetchableTopicResponse {
            topic: if version <= 12 {
                t.topic.clone()
            } else {
                String::new()
            },
            topic_id: if version >= 13 {
                t.topic_id
            } else {
                Default::default()
            },
            partitions,
            ..Default::default()
        });
    }
    FetchResponse {
        responses,
        ..Default::default()
    }
}

pub(crate) fn produce(
    world: &mut World,
    input: &mut Input<'_>,
    req: &ProduceRequest,
    version: i16,
) -> ProduceResponse {
    let usual = [
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::LEADER_NOT_AVAILABLE,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        ErrorCode::DUPLICATE_SEQUENCE_NUMBER,
        ErrorCode::INVALID_PRODUCER_EPOCH,
        ErrorCode::PRODUCER_FENCED,
        ErrorCode::UNKNOWN_PRODUCER_ID,
        ErrorCode::MESSAGE_TOO_LARGE,
        ErrorCode::RECORD_LIST_TOO_LARGE,
        ErrorCode::CORRUPT_MESSAGE,
        ErrorCode::NOT_ENOUGH_REPLICAS,
        ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        ErrorCode::REQUEST_TIMED_OUT,
        ErrorCode::INVALID_TXN_STATE,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ErrorCode::INVALID_RECORD,
        ErrorCode::KAFKA_STORAGE_ERROR,
        ErrorCode::INVALID_PRODUCER_ID_MAPPING,
    ];
    let responses = req
        .topic_data
        .iter()
        .map(|t| TopicProduceResponse {
            name: t.name.clone(),
            partition_responses: t
                .partition_data
                .iter()
                .filter_map(|p| {
                    if input.chance(4) {
                        return None;
                    }
                    Some({
                        let error_code = code(input, &usual);
                        let key = (t.name.clone(), p.index);
                        let end = world.log_end.get(&key).copied().unwrap_or(0);
                        let base_offset = match error_code {
                            ErrorCode::NONE => {
                                let records: i64 = p
                                    .records
                                    .clone()
                                    .map(|r| {
                                        RecordBatches::new(r)
                                            .map_while(Result::ok)
                                            .map(|b| i64::from(b.header().records_count.max(0)))
                                            .sum()
                                    })
                                    .unwrap_or(0);
                                world.log_end.insert(key, end.saturating_add(records));
                                if input.chance(8) {
                                    input.i64_interesting()
                                } else {
                                    end
                                }
                            }
                            ErrorCode::DUPLICATE_SEQUENCE_NUMBER if input.bool() => {
                                input.i64_interesting()
                            }
                            _ => -1,
                        };
                        let mut out = PartitionProduceResponse {
                            index: p.index,
                            error_code,
                            base_offset,
                            ..Default::default()
                        };
                        if version >= 2 && input.chance(16) {
                            out.log_append_time_ms = T0;
                        }
                        if version >= 5 {
                            out.log_start_offset = 0;
                        }
                        if version >= 8 && error_code == ErrorCode::INVALID_RECORD {
                            out.record_errors = vec![BatchIndexAndErrorMessage {
                                batch_index: 0,
                                batch_index_error_message: Some("bad record".to_string()),
                                ..Default::default()
                            }];
                            out.error_message = Some("bad record".to_string());
                        }
                        if version >= 10 && error_code == ErrorCode::NOT_LEADER_OR_FOLLOWER {
                            let (leader, epoch) = world.leader(&t.name, p.index);
                            out.current_leader.leader_id = leader;
                            out.current_leader.leader_epoch = epoch;
                        }
                        out
                    })
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ProduceResponse {
        responses,
        ..Default::default()
    }
}

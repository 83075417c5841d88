//! Answers of the group coordinator: membership (classic and consumer protocol) and
//! committed offsets.

use bytes::Bytes;
use dekaf_proto::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartition as ProtocolPartition,
};
use dekaf_proto::messages::consumer_group_heartbeat::{
    Assignment, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicPartitions,
};
use dekaf_proto::messages::heartbeat::HeartbeatResponse;
use dekaf_proto::messages::join_group::{
    JoinGroupRequest, JoinGroupResponse, JoinGroupResponseMember,
};
use dekaf_proto::messages::leave_group::{LeaveGroupRequest, LeaveGroupResponse, MemberResponse};
use dekaf_proto::messages::offset_commit::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetCommitResponsePartition,
    OffsetCommitResponseTopic,
};
use dekaf_proto::messages::offset_fetch::{
    OffsetFetchRequest, OffsetFetchResponse, OffsetFetchResponseGroup,
    OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use dekaf_proto::messages::sync_group::{SyncGroupRequest, SyncGroupResponse};
use dekaf_proto::wire::Uuid;
use dekaf_proto::ErrorCode;

use super::broker::{code, garbage, partition_code, topic_id, World};
use dekaf_state::fuzz::Input;

/// Codes any coordinator request may get.
const COORDINATOR: [ErrorCode; 4] = [
    ErrorCode::NOT_COORDINATOR,
    ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    ErrorCode::GROUP_AUTHORIZATION_FAILED,
];

pub(crate) fn offset_commit(
    input: &mut Input<'_>,
    req: &OffsetCommitRequest,
) -> OffsetCommitResponse {
    let usual = [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::REBALANCE_IN_PROGRESS,
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::STALE_MEMBER_EPOCH,
        ErrorCode::FENCED_INSTANCE_ID,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::OFFSET_METADATA_TOO_LARGE,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        ErrorCode::REQUEST_TIMED_OUT,
        ErrorCode::INVALID_COMMIT_OFFSET_SIZE,
    ];
    // A coordinator error goes on every partition alike.
    let whole = code(input, &usual);
    let topics = req
        .topics
        .iter()
        .map(|t| OffsetCommitResponseTopic {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .filter_map(|p| {
                    Some(OffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: partition_code(input, whole, &usual)?,
                        ..Default::default()
                    })
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    OffsetCommitResponse {
        topics,
        ..Default::default()
    }
}

/// A committed offset as a coordinator may report it: one within the log, none (-1), or any.
fn committed(world: &mut World, input: &mut Input<'_>, topic: &str, p: i32) -> (i64, i32) {
    match input.byte() {
        0..=159 => {
            let epoch = world.leader(topic, p).1;
            let log = world.log(input, topic, p);
            let span = usize::try_from(log.end.saturating_sub(log.log_start)).unwrap_or(0);
            let offset = log
                .log_start
                .saturating_add(input.below(span.saturating_add(1)) as i64);
            (offset, epoch)
        }
        160..=223 => (-1, -1),
        _ => (input.i64_interesting(), input.i32_interesting()),
    }
}

pub(crate) fn offset_fetch(
    world: &mut World,
    input: &mut Input<'_>,
    req: &OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let partition_codes = [
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ErrorCode::UNSTABLE_OFFSET_COMMIT,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
    ];
    let all: Vec<(String, Vec<i32>)> = world
        .topics
        .iter()
        .map(|(t, n)| (t.clone(), (0..(*n).clamp(0, 8)).collect()))
        .collect();
    if version >= 8 {
        let groups = req
            .groups
            .iter()
            .map(|g| {
                let error_code = code(input, &COORDINATOR);
                let asked: Vec<(String, Vec<i32>)> = match &g.topics {
                    Some(ts) => ts
                        .iter()
                        .map(|t| (t.name.clone(), t.partition_indexes.clone()))
                        .collect(),
                    None => all.clone(),
                };
                let topics = if error_code.is_ok() {
                    asked
                        .into_iter()
                        .map(|(name, parts)| OffsetFetchResponseTopics {
                            name: name.clone(),
                            partitions: parts
                                .into_iter()
                                .map(|p| {
                                    let (offset, epoch) = committed(world, input, &name, p);
                                    OffsetFetchResponsePartitions {
                                        partition_index: p,
                                        committed_offset: offset,
                                        committed_leader_epoch: epoch,
                                        error_code: code(input, &partition_codes),
                                        ..Default::default()
                                    }
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                OffsetFetchResponseGroup {
                    group_id: g.group_id.clone(),
                    topics,
                    error_code,
                    ..Default::default()
                }
            })
            .collect();
        return OffsetFetchResponse {
            groups,
            ..Default::default()
        };
    }
    let whole = code(input, &COORDINATOR);
    let asked: Vec<(String, Vec<i32>)> = match &req.topics {
        Some(ts) => ts
            .iter()
            .map(|t| (t.name.clone(), t.partition_indexes.clone()))
            .collect(),
        None => all,
    };
    let topics = if version >= 2 && !whole.is_ok() {
        Vec::new()
    } else {
        asked
            .into_iter()
            .map(|(name, parts)| OffsetFetchResponseTopic {
                name: name.clone(),
                partitions: parts
                    .into_iter()
                    .map(|p| {
                        let (offset, epoch) = committed(world, input, &name, p);
                        OffsetFetchResponsePartition {
                            partition_index: p,
                            committed_offset: offset,
                            committed_leader_epoch: if version >= 5 { epoch } else { -1 },
                            // v1 has no group error: it goes on each partition.
                            error_code: if version < 2 && !whole.is_ok() {
                                whole
                            } else {
                                code(input, &partition_codes)
                            },
                            ..Default::default()
                        }
                    })
                    .collect(),
                ..Default::default()
            })
            .collect()
    };
    OffsetFetchResponse {
        topics,
        error_code: if version >= 2 { whole } else { ErrorCode::NONE },
        ..Default::default()
    }
}

/// A subscription blob another member of the group could send.
fn other_subscription(world: &World, input: &mut Input<'_>) -> Bytes {
    if input.chance(16) {
        return garbage(input);
    }
    let topics = world
        .topics
        .keys()
        .filter(|_| input.byte() < 200)
        .cloned()
        .collect();
    ConsumerProtocolSubscription {
        topics,
        ..Default::default()
    }
    .encode_version(i16::from(input.byte() % 4))
    .unwrap_or_default()
}

pub(crate) fn join_group(
    world: &mut World,
    input: &mut Input<'_>,
    req: &JoinGroupRequest,
    version: i16,
) -> JoinGroupResponse {
    // Kafka asks a new dynamic member to join again with the id it gives (v4+).
    if req.member_id.is_empty()
        && req.group_instance_id.is_none()
        && version >= 4
        && input.byte() < 200
    {
        return JoinGroupResponse {
            error_code: ErrorCode::MEMBER_ID_REQUIRED,
            member_id: world.new_member_id(),
            ..Default::default()
        };
    }
    let usual = [
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::REBALANCE_IN_PROGRESS,
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::FENCED_INSTANCE_ID,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
        ErrorCode::GROUP_MAX_SIZE_REACHED,
        ErrorCode::MEMBER_ID_REQUIRED,
    ];
    let error_code = code(input, &usual);
    let member_id = if req.member_id.is_empty() {
        world.new_member_id()
    } else {
        req.member_id.clone()
    };
    if !error_code.is_ok() {
        return JoinGroupResponse {
            error_code,
            member_id: if error_code == ErrorCode::UNKNOWN_MEMBER_ID {
                String::new()
            } else {
                member_id
            },
            ..Default::default()
        };
    }
    if !input.chance(16) {
        world.generation = world.generation.saturating_add(1);
    }
    let protocol = match input.pick(&req.protocols) {
        Some(p) if input.chance(64) => p,
        _ => match req.protocols.first() {
            Some(p) => p,
            None => {
                return JoinGroupResponse {
                    error_code: ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                    ..Default::default()
                }
            }
        },
    };
    let leads = input.byte() < 176;
    let leader = if leads {
        member_id.clone()
    } else {
        "member-other".to_string()
    };
    let members = if leads {
        let mut members = vec![JoinGroupResponseMember {
            member_id: member_id.clone(),
            group_instance_id: if version >= 5 {
                req.group_instance_id.clone()
            } else {
                None
            },
            metadata: protocol.metadata.clone(),
            ..Default::default()
        }];
        for i in 0..input.below(3) {
            members.push(JoinGroupResponseMember {
                member_id: format!("member-other-{i}"),
                metadata: other_subscription(world, input),
                ..Default::default()
            });
        }
        if input.chance(32) {
            members.reverse();
        }
        members
    } else {
        Vec::new()
    };
    JoinGroupResponse {
        error_code,
        generation_id: world.generation,
        protocol_type: (version >= 7).then(|| "consumer".to_string()),
        protocol_name: Some(protocol.name.clone()),
        leader,
        skip_assignment: version >= 9 && leads && input.chance(8),
        member_id,
        members,
        ..Default::default()
    }
}

/// An assignment blob for a member that the leader did not tell us about.
fn some_assignment(world: &World, input: &mut Input<'_>) -> Bytes {
    match input.byte() {
        0..=223 => {
            let mut by_topic: Vec<ProtocolPartition> = Vec::new();
            for (topic, p) in world.some_partitions(input) {
                match by_topic.iter_mut().find(|t| t.topic == topic) {
                    Some(t) => t.partitions.push(p),
                    None => by_topic.push(ProtocolPartition {
                        topic,
                        partitions: vec![p],
                        ..Default::default()
                    }),
                }
            }
            ConsumerProtocolAssignment {
                assigned_partitions: by_topic,
                ..Default::default()
            }
            .encode_version(i16::from(input.byte() % 4))
            .unwrap_or_default()
        }
        224..=239 => Bytes::new(),
        _ => garbage(input),
    }
}

pub(crate) fn sync_group(
    world: &mut World,
    input: &mut Input<'_>,
    req: &SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let usual = [
        ErrorCode::REBALANCE_IN_PROGRESS,
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::FENCED_INSTANCE_ID,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
    ];
    let error_code = code(input, &usual);
    if !error_code.is_ok() {
        return SyncGroupResponse {
            error_code,
            ..Default::default()
        };
    }
    let own = req
        .assignments
        .iter()
        .find(|a| a.member_id == req.member_id)
        .map(|a| a.assignment.clone());
    let assignment = match own {
        Some(a) if !input.chance(16) => a,
        _ => some_assignment(world, input),
    };
    SyncGroupResponse {
        protocol_type: (version >= 5).then(|| "consumer".to_string()),
        protocol_name: if version >= 5 {
            req.protocol_name.clone()
        } else {
            None
        },
        assignment,
        ..Default::default()
    }
}

pub(crate) fn heartbeat(input: &mut Input<'_>) -> HeartbeatResponse {
    let usual = [
        ErrorCode::REBALANCE_IN_PROGRESS,
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::FENCED_INSTANCE_ID,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
    ];
    HeartbeatResponse {
        error_code: code(input, &usual),
        ..Default::default()
    }
}

pub(crate) fn leave_group(
    input: &mut Input<'_>,
    req: &LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let usual = [
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::FENCED_INSTANCE_ID,
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ];
    LeaveGroupResponse {
        error_code: code(input, &usual),
        members: if version >= 3 {
            req.members
                .iter()
                .map(|m| MemberResponse {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    error_code: code(input, &usual),
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

pub(crate) fn consumer_heartbeat(
    world: &mut World,
    input: &mut Input<'_>,
    req: &ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    if req.member_epoch < 0 {
        // Leaving.
        return ConsumerGroupHeartbeatResponse {
            error_code: code(input, &[ErrorCode::UNKNOWN_MEMBER_ID]),
            member_id: Some(req.member_id.clone()),
            member_epoch: req.member_epoch,
            ..Default::default()
        };
    }
    let usual = [
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::FENCED_MEMBER_EPOCH,
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::UNRELEASED_INSTANCE_ID,
        ErrorCode::UNSUPPORTED_ASSIGNOR,
        ErrorCode::GROUP_MAX_SIZE_REACHED,
        ErrorCode::INVALID_REQUEST,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
    ];
    let error_code = code(input, &usual);
    if !error_code.is_ok() {
        return ConsumerGroupHeartbeatResponse {
            error_code,
            error_message: input.chance(64).then(|| "refused".to_string()),
            ..Default::default()
        };
    }
    let member_id = if req.member_id.is_empty() {
        world.new_member_id()
    } else {
        req.member_id.clone()
    };
    if req.member_epoch == 0 || input.chance(32) {
        world.generation = world.generation.saturating_add(1);
    }
    let member_epoch = if req.member_epoch == 0 || input.chance(48) {
        world.generation
    } else {
        req.member_epoch
    };
    let assignment = (req.member_epoch == 0 || input.chance(96)).then(|| {
        let mut by_topic: Vec<TopicPartitions> = Vec::new();
        for (topic, p) in world.some_partitions(input) {
            let id = if world.topics.contains_key(&topic) {
                topic_id(&topic)
            } else {
                Uuid([9; 16])
            };
            match by_topic.iter_mut().find(|t| t.topic_id == id) {
                Some(t) => t.partitions.push(p),
                None => by_topic.push(TopicPartitions {
                    topic_id: id,
                    partitions: vec![p],
                    ..Default::default()
                }),
            }
        }
        Assignment {
            topic_partitions: by_topic,
            ..Default::default()
        }
    });
    let interval = [3000, 1000, 100, 0, 5000];
    ConsumerGroupHeartbeatResponse {
        member_id: Some(member_id),
        member_epoch,
        heartbeat_interval_ms: *input.pick(&interval).unwrap_or(&3000),
        assignment,
        ..Default::default()
    }
}

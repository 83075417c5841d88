//! Answers the proxy writes itself: a coordinator's refusal of any coordinator request, and
//! per-partition refusals merged into (or making up) Produce, Fetch and ListOffsets answers.
//! Each is what a Kafka broker sends in the same case, in the version asked for.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use dekaf_proto::frame::{begin_frame, end_frame};
use dekaf_proto::header::{response_header_version, ResponseHeader};
use dekaf_proto::messages::add_partitions_to_txn::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use dekaf_proto::messages::describe_groups::DescribedGroup;
use dekaf_proto::messages::fetch::{self, FetchableTopicResponse, PartitionData};
use dekaf_proto::messages::list_offsets::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use dekaf_proto::messages::offset_commit::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use dekaf_proto::messages::offset_fetch::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use dekaf_proto::messages::produce::{self, PartitionProduceResponse, TopicProduceResponse};
use dekaf_proto::messages::txn_offset_commit::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use dekaf_proto::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnResponse, DescribeGroupsResponse, EndTxnResponse,
    FetchResponse, HeartbeatResponse, InitProducerIdResponse, JoinGroupResponse,
    LeaveGroupResponse, ListOffsetsResponse, OffsetCommitResponse, OffsetFetchResponse,
    ProduceResponse, RequestBody, ResponseBody, SyncGroupResponse, TxnOffsetCommitResponse,
};
use dekaf_proto::wire::Uuid;
use dekaf_proto::{ApiKey, ErrorCode};

use super::model::BrokerId;

/// A whole answer frame (length prefix, header, body) for the request `correlation_id` of
/// `api` at `version`; `None` if the body cannot be written in that version.
pub(crate) fn frame(
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    body: &ResponseBody,
) -> Option<Bytes> {
    let mut buf = BytesMut::new();
    let at = begin_frame(&mut buf);
    ResponseHeader {
        correlation_id,
        ..Default::default()
    }
    .encode(&mut buf, response_header_version(api, version));
    body.encode(&mut buf, version).ok()?;
    end_frame(&mut buf, at);
    Some(buf.freeze())
}

/// The answer a broker that is not (or not yet) the coordinator gives `request`, with `code`
/// wherever the answer has an error; `None` for a request that is no coordinator request.
pub(crate) fn coordinator_refusal(
    request: &RequestBody,
    version: i16,
    code: ErrorCode,
) -> Option<ResponseBody> {
    Some(match request {
        RequestBody::JoinGroup(r) => ResponseBody::JoinGroup(JoinGroupResponse {
            error_code: code,
            generation_id: -1,
            member_id: r.member_id.clone(),
            protocol_name: if version >= 7 {
                None
            } else {
                Some(String::new())
            },
            ..Default::default()
        }),
        RequestBody::SyncGroup(_) => ResponseBody::SyncGroup(SyncGroupResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::Heartbeat(_) => ResponseBody::Heartbeat(HeartbeatResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::LeaveGroup(_) => ResponseBody::LeaveGroup(LeaveGroupResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::OffsetCommit(r) => ResponseBody::OffsetCommit(OffsetCommitResponse {
            topics: r
                .topics
                .iter()
                .map(|t| OffsetCommitResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: code,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::OffsetFetch(r) => ResponseBody::OffsetFetch(if version >= 8 {
            OffsetFetchResponse {
                groups: r
                    .groups
                    .iter()
                    .map(|g| OffsetFetchResponseGroup {
                        group_id: g.group_id.clone(),
                        error_code: code,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        } else if version >= 2 {
            OffsetFetchResponse {
                error_code: code,
                ..Default::default()
            }
        } else {
            OffsetFetchResponse {
                topics: r
                    .topics
                    .iter()
                    .flatten()
                    .map(|t| OffsetFetchResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partition_indexes
                            .iter()
                            .map(|p| OffsetFetchResponsePartition {
                                partition_index: *p,
                                committed_offset: -1,
                                error_code: code,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        }),
        RequestBody::DescribeGroups(r) => ResponseBody::DescribeGroups(DescribeGroupsResponse {
            groups: r
                .groups
                .iter()
                .map(|g| DescribedGroup {
                    error_code: code,
                    group_id: g.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::TxnOffsetCommit(r) => ResponseBody::TxnOffsetCommit(TxnOffsetCommitResponse {
            topics: r
                .topics
                .iter()
                .map(|t| TxnOffsetCommitResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| TxnOffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: code,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::InitProducerId(_) => ResponseBody::InitProducerId(InitProducerIdResponse {
            error_code: code,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }),
        RequestBody::AddPartitionsToTxn(r) => {
            ResponseBody::AddPartitionsToTxn(AddPartitionsToTxnResponse {
                results_by_topic: r
                    .topics
                    .iter()
                    .map(|t| AddPartitionsToTxnTopicResult {
                        name: t.name.clone(),
                        results_by_partition: t
                            .partitions
                            .iter()
                            .map(|p| AddPartitionsToTxnPartitionResult {
                                partition_index: *p,
                                partition_error_code: code,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::AddOffsetsToTxn(_) => ResponseBody::AddOffsetsToTxn(AddOffsetsToTxnResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::EndTxn(_) => ResponseBody::EndTxn(EndTxnResponse {
            error_code: code,
            ..Default::default()
        }),
        _ => return None,
    })
}

/// A partition the proxy refuses at a broker, and why.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    pub(crate) topic: String,
    /// Zero unless the request named the topic by id.
    pub(crate) topic_id: Uuid,
    pub(crate) partition: i32,
    pub(crate) code: ErrorCode,
    /// The leader the client should go to, and its epoch (Kafka's hint in newer versions).
    pub(crate) leader: BrokerId,
    pub(crate) epoch: i32,
}

/// Where each broker of the pretended cluster listens, for the leader hints.
pub(crate) type Endpoints = Vec<(BrokerId, SocketAddr)>;

/// Adds `refused` partitions to a Produce answer (an empty one to make one up).
pub(crate) fn merge_produce(
    answer: &mut ProduceResponse,
    refused: &[Refused],
    version: i16,
    endpoints: &Endpoints,
) {
    for r in refused {
        let partition = PartitionProduceResponse {
            index: r.partition,
            error_code: r.code,
            base_offset: -1,
            current_leader: if version >= 10 {
                produce::LeaderIdAndEpoch {
                    leader_id: r.leader,
                    leader_epoch: r.epoch,
                    ..Default::default()
                }
            } else {
                Default::default()
            },
            ..Default::default()
        };
        match answer.responses.iter_mut().find(|t| t.name == r.topic) {
            Some(t) => t.partition_responses.push(partition),
            None => answer.responses.push(TopicProduceResponse {
                name: r.topic.clone(),
                partition_responses: vec![partition],
                ..Default::default()
            }),
        }
    }
    if version >= 10 {
        for (id, addr) in leaders(refused, endpoints) {
            if !answer.node_endpoints.iter().any(|n| n.node_id == id) {
                answer.node_endpoints.push(produce::NodeEndpoint {
                    node_id: id,
                    host: addr.ip().to_string(),
                    port: i32::from(addr.port()),
                    ..Default::default()
                });
            }
        }
    }
}

/// Adds `refused` partitions to a Fetch answer (an empty one to make one up).
pub(crate) fn merge_fetch(
    answer: &mut FetchResponse,
    refused: &[Refused],
    version: i16,
    endpoints: &Endpoints,
) {
    for r in refused {
        let partition = PartitionData {
            partition_index: r.partition,
            error_code: r.code,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            current_leader: if version >= 12 {
                fetch::LeaderIdAndEpoch {
                    leader_id: r.leader,
                    leader_epoch: r.epoch,
                    ..Default::default()
                }
            } else {
                Default::default()
            },
            records: Some(Bytes::new()),
            ..Default::default()
        };
        let by_id = version >= 13;
        let same = |t: &FetchableTopicResponse| {
            if by_id {
                t.topic_id == r.topic_id
            } else {
                t.topic == r.topic
            }
        };
        match answer.responses.iter_mut().find(|t| same(t)) {
            Some(t) => t.partitions.push(partition),
            None => answer.responses.push(FetchableTopicResponse {
                topic: r.topic.clone(),
                topic_id: r.topic_id,
                partitions: vec![partition],
                ..Default::default()
            }),
        }
    }
    if version >= 16 {
        for (id, addr) in leaders(refused, endpoints) {
            if !answer.node_endpoints.iter().any(|n| n.node_id == id) {
                answer.node_endpoints.push(fetch::NodeEndpoint {
                    node_id: id,
                    host: addr.ip().to_string(),
                    port: i32::from(addr.port()),
                    ..Default::default()
                });
            }
        }
    }
}

/// Adds `refused` partitions to a ListOffsets answer (an empty one to make one up).
pub(crate) fn merge_list_offsets(answer: &mut ListOffsetsResponse, refused: &[Refused]) {
    for r in refused {
        let partition = ListOffsetsPartitionResponse {
            partition_index: r.partition,
            error_code: r.code,
            ..Default::default()
        };
        match answer.topics.iter_mut().find(|t| t.name == r.topic) {
            Some(t) => t.partitions.push(partition),
            None => answer.topics.push(ListOffsetsTopicResponse {
                name: r.topic.clone(),
                partitions: vec![partition],
                ..Default::default()
            }),
        }
    }
}

/// The distinct leaders named in `refused`, with their addresses.
fn leaders(refused: &[Refused], endpoints: &Endpoints) -> Vec<(BrokerId, SocketAddr)> {
    let mut out: Vec<(BrokerId, SocketAddr)> = Vec::new();
    for r in refused {
        if out.iter().any(|(id, _)| *id == r.leader) {
            continue;
        }
        if let Some(e) = endpoints.iter().find(|(id, _)| *id == r.leader) {
            out.push(*e);
        }
    }
    out
}

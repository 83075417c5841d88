//! The requests the consumer sends, written per version, and the answers read back into the
//! offset machine's terms. Each builder returns a [`ClientRequest`] whose version range is what
//! the consumer can write for that content: a field that exists only from some version either
//! narrows the range (when leaving it out would change the meaning) or is left at its default
//! below that version (when the broker then does the same thing anyway).

use std::collections::BTreeMap;
use std::sync::Arc;

use dekaf_proto::messages::find_coordinator::FindCoordinatorResponse;
use dekaf_proto::messages::list_offsets::{
    ListOffsetsPartition, ListOffsetsResponse, ListOffsetsTopic, MAX_TIMESTAMP,
};
use dekaf_proto::messages::metadata::MetadataRequestTopic;
use dekaf_proto::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic, OffsetCommitResponse,
};
use dekaf_proto::messages::offset_fetch::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics, OffsetFetchResponse,
};
use dekaf_proto::messages::{
    FindCoordinatorRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetFetchRequest, RequestBody,
};
use dekaf_proto::{ApiKey, ErrorCode};

use crate::client::{BrokerAddress, ClientRequest};
use crate::offset::{
    CommittedResult, ListedOffset, OffsetAndMetadata, TopicPartition, TopicPartitionOffset,
};

use super::config::IsolationLevel;
use super::consumer::GroupGeneration;

/// FindCoordinator key type of a consumer group.
const KEY_TYPE_GROUP: i8 = 0;

/// Kafka's "none" for leader epochs.
const NO_EPOCH: i32 = -1;

pub(crate) fn epoch_or_none(epoch: i32) -> Option<i32> {
    (epoch >= 0).then_some(epoch)
}

/// Groups partitions by topic, keeping the topic order stable.
pub(crate) fn by_topic<T>(
    items: impl IntoIterator<Item = (TopicPartition, T)>,
) -> BTreeMap<Arc<str>, Vec<(i32, T)>> {
    let mut out: BTreeMap<Arc<str>, Vec<(i32, T)>> = BTreeMap::new();
    for (tp, t) in items {
        out.entry(tp.topic_arc().clone())
            .or_default()
            .push((tp.partition(), t));
    }
    out
}

/// Metadata for `topics`, never creating a topic (v1–v12).
pub(crate) fn metadata(topics: Vec<String>) -> ClientRequest {
    ClientRequest::new(ApiKey::Metadata, 1, 12, move |v| {
        RequestBody::Metadata(MetadataRequest {
            topics: Some(
                topics
                    .iter()
                    .map(|name| MetadataRequestTopic {
                        name: Some(name.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            // The field exists from v4; before it, brokers decide by their own setting.
            allow_auto_topic_creation: v < 4,
            ..Default::default()
        })
    })
}

/// Metadata for every topic (v1–v12; a null topic list), never creating a topic.
pub(crate) fn metadata_all() -> ClientRequest {
    ClientRequest::new(ApiKey::Metadata, 1, 12, move |v| {
        RequestBody::Metadata(MetadataRequest {
            topics: None,
            allow_auto_topic_creation: v < 4,
            ..Default::default()
        })
    })
}

/// FindCoordinator for a consumer group (v0–v6; v4+ asks with a list of keys).
pub(crate) fn find_coordinator(group: String) -> ClientRequest {
    ClientRequest::new(ApiKey::FindCoordinator, 0, 6, move |v| {
        RequestBody::FindCoordinator(if v >= 4 {
            FindCoordinatorRequest {
                key_type: KEY_TYPE_GROUP,
                coordinator_keys: vec![group.clone()],
                ..Default::default()
            }
        } else {
            FindCoordinatorRequest {
                key: group.clone(),
                key_type: KEY_TYPE_GROUP,
                ..Default::default()
            }
        })
    })
}

/// The coordinator of `group` from a FindCoordinator answer: its node id and address.
pub(crate) fn parse_find_coordinator(
    resp: &FindCoordinatorResponse,
    version: i16,
    group: &str,
) -> Result<(i32, BrokerAddress), ErrorCode> {
    let (code, node_id, host, port) = if version >= 4 {
        let c = resp
            .coordinators
            .iter()
            .find(|c| c.key == group)
            .or_else(|| resp.coordinators.first())
            .ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
        (c.error_code, c.node_id, c.host.clone(), c.port)
    } else {
        (resp.error_code, resp.node_id, resp.host.clone(), resp.port)
    };
    code.into_result()?;
    let port = u16::try_from(port).map_err(|_| ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
    if node_id < 0 {
        return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    }
    Ok((node_id, BrokerAddress { host, port }))
}

/// OffsetCommit of `offsets` in `generation` (v2–v9; v7+ when a group instance id is set).
pub(crate) fn offset_commit(
    group: String,
    generation: GroupGeneration,
    offsets: Vec<TopicPartitionOffset>,
) -> ClientRequest {
    let min = if generation.group_instance_id.is_some() {
        7
    } else {
        2
    };
    let topics = by_topic(offsets.into_iter().map(|o| (o.topic_partition, o.offset)));
    ClientRequest::new(ApiKey::OffsetCommit, min, 9, move |v| {
        RequestBody::OffsetCommit(OffsetCommitRequest {
            group_id: group.clone(),
            generation_id_or_member_epoch: generation.generation_id,
            member_id: generation.member_id.clone(),
            group_instance_id: if v >= 7 {
                generation.group_instance_id.clone()
            } else {
                None
            },
            // v2–v4 only: -1 keeps the broker's retention.
            retention_time_ms: -1,
            topics: topics
                .iter()
                .map(|(name, parts)| OffsetCommitRequestTopic {
                    name: name.to_string(),
                    partitions: parts
                        .iter()
                        .map(|(p, o)| OffsetCommitRequestPartition {
                            partition_index: *p,
                            committed_offset: o.offset,
                            committed_leader_epoch: if v >= 6 {
                                o.leader_epoch.unwrap_or(NO_EPOCH)
                            } else {
                                NO_EPOCH
                            },
                            committed_metadata: Some(o.metadata.clone().unwrap_or_default()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    })
}

/// The per-partition codes of an OffsetCommit answer.
pub(crate) fn parse_offset_commit(resp: &OffsetCommitResponse) -> Vec<(TopicPartition, ErrorCode)> {
    let mut out = Vec::new();
    for t in &resp.topics {
        let topic: Arc<str> = Arc::from(t.name.as_str());
        for p in &t.partitions {
            out.push((
                TopicPartition::new(topic.clone(), p.partition_index),
                p.error_code,
            ));
        }
    }
    out
}

/// OffsetFetch of `partitions` (v1–v9; v8+ asks through the groups array; `require_stable`
/// is sent from v7, where the field exists).
pub(crate) fn offset_fetch(
    group: String,
    partitions: Vec<TopicPartition>,
    require_stable: bool,
) -> ClientRequest {
    let topics = by_topic(partitions.into_iter().map(|tp| (tp, ())));
    ClientRequest::new(ApiKey::OffsetFetch, 1, 9, move |v| {
        let names = topics.iter().map(|(name, parts)| {
            (
                name.to_string(),
                parts.iter().map(|(p, ())| *p).collect::<Vec<i32>>(),
            )
        });
        RequestBody::OffsetFetch(if v >= 8 {
            OffsetFetchRequest {
                groups: vec![OffsetFetchRequestGroup {
                    group_id: group.clone(),
                    topics: Some(
                        names
                            .map(|(name, partition_indexes)| OffsetFetchRequestTopics {
                                name,
                                partition_indexes,
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    ..Default::default()
                }],
                require_stable,
                ..Default::default()
            }
        } else {
            OffsetFetchRequest {
                group_id: group.clone(),
                topics: Some(
                    names
                        .map(|(name, partition_indexes)| OffsetFetchRequestTopic {
                            name,
                            partition_indexes,
                            ..Default::default()
                        })
                        .collect(),
                ),
                require_stable: v >= 7 && require_stable,
                ..Default::default()
            }
        })
    })
}

fn committed_result(
    offset: i64,
    leader_epoch: i32,
    metadata: &Option<String>,
    code: ErrorCode,
) -> CommittedResult {
    code.into_result()?;
    if offset < 0 {
        return Ok(None);
    }
    Ok(Some(OffsetAndMetadata {
        offset,
        leader_epoch: epoch_or_none(leader_epoch),
        metadata: metadata.clone().filter(|m| !m.is_empty()),
    }))
}

/// The committed offsets of an OffsetFetch answer, or its group-level error (v2+).
pub(crate) fn parse_offset_fetch(
    resp: &OffsetFetchResponse,
    version: i16,
    group: &str,
) -> Result<Vec<(TopicPartition, CommittedResult)>, ErrorCode> {
    let mut out = Vec::new();
    if version >= 8 {
        let g = resp
            .groups
            .iter()
            .find(|g| g.group_id == group)
            .or_else(|| resp.groups.first())
            .ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
        g.error_code.into_result()?;
        for t in &g.topics {
            let topic: Arc<str> = Arc::from(t.name.as_str());
            for p in &t.partitions {
                out.push((
                    TopicPartition::new(topic.clone(), p.partition_index),
                    committed_result(
                        p.committed_offset,
                        p.committed_leader_epoch,
                        &p.metadata,
                        p.error_code,
                    ),
                ));
            }
        }
    } else {
        if version >= 2 {
            resp.error_code.into_result()?;
        }
        for t in &resp.topics {
            let topic: Arc<str> = Arc::from(t.name.as_str());
            for p in &t.partitions {
                out.push((
                    TopicPartition::new(topic.clone(), p.partition_index),
                    committed_result(
                        p.committed_offset,
                        p.committed_leader_epoch,
                        &p.metadata,
                        p.error_code,
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// One partition of a ListOffsets request: what to ask and the leader epoch the consumer
/// knows.
#[derive(Clone, Debug)]
pub(crate) struct ListPart {
    pub(crate) tp: TopicPartition,
    /// -2 earliest, -1 latest, or a time.
    pub(crate) timestamp: i64,
    pub(crate) leader_epoch: i32,
}

/// ListOffsets to one leader (v1–v9; v2+ under read_committed, where the isolation level
/// exists; v7+ when a partition asks for the largest timestamp; the current leader epoch is
/// sent from v4).
pub(crate) fn list_offsets(isolation: IsolationLevel, parts: Vec<ListPart>) -> ClientRequest {
    let min = if parts.iter().any(|p| p.timestamp == MAX_TIMESTAMP) {
        7
    } else {
        match isolation {
            IsolationLevel::ReadCommitted => 2,
            IsolationLevel::ReadUncommitted => 1,
        }
    };
    let topics = by_topic(
        parts
            .into_iter()
            .map(|p| (p.tp, (p.timestamp, p.leader_epoch))),
    );
    ClientRequest::new(ApiKey::ListOffsets, min, 9, move |v| {
        RequestBody::ListOffsets(ListOffsetsRequest {
            replica_id: -1,
            isolation_level: if v >= 2 { isolation.wire() } else { 0 },
            topics: topics
                .iter()
                .map(|(name, parts)| ListOffsetsTopic {
                    name: name.to_string(),
                    partitions: parts
                        .iter()
                        .map(|(p, (timestamp, epoch))| ListOffsetsPartition {
                            partition_index: *p,
                            current_leader_epoch: if v >= 4 { *epoch } else { NO_EPOCH },
                            timestamp: *timestamp,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    })
}

/// The per-partition results of a ListOffsets answer.
pub(crate) fn parse_list_offsets(
    resp: &ListOffsetsResponse,
) -> Vec<(TopicPartition, Result<ListedOffset, ErrorCode>)> {
    let mut out = Vec::new();
    for t in &resp.topics {
        let topic: Arc<str> = Arc::from(t.name.as_str());
        for p in &t.partitions {
            let tp = TopicPartition::new(topic.clone(), p.partition_index);
            let result = p.error_code.into_result().map(|()| ListedOffset {
                offset: p.offset,
                timestamp: p.timestamp,
                leader_epoch: epoch_or_none(p.leader_epoch),
            });
            out.push((tp, result));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use dekaf_proto::messages::offset_fetch::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
    };

    /// Every version in the request's range writes without error.
    fn writes_in_every_version(request: &ClientRequest) {
        let (lo, hi) = request.versions();
        assert!(lo <= hi, "{request:?}");
        for v in lo..=hi {
            let mut buf = BytesMut::new();
            request
                .body(v)
                .encode(&mut buf, v)
                .unwrap_or_else(|e| panic!("{request:?} v{v}: {e}"));
        }
    }

    fn offset(tp: &str, p: i32, o: i64) -> TopicPartitionOffset {
        TopicPartitionOffset::new(tp, p, o)
            .with_leader_epoch(Some(3))
            .with_metadata("m")
    }

    #[test]
    fn every_request_writes_in_every_version_of_its_range() {
        writes_in_every_version(&metadata(vec!["a".into(), "b".into()]));
        writes_in_every_version(&find_coordinator("g".into()));
        let plain = offset_commit(
            "g".into(),
            GroupGeneration::default(),
            vec![offset("a", 0, 5), offset("b", 1, 6)],
        );
        assert_eq!(plain.versions(), (2, 9));
        writes_in_every_version(&plain);
        let static_member = offset_commit(
            "g".into(),
            GroupGeneration {
                generation_id: 4,
                member_id: "m-1".into(),
                group_instance_id: Some("i-1".into()),
            },
            vec![offset("a", 0, 5)],
        );
        assert_eq!(static_member.versions(), (7, 9));
        writes_in_every_version(&static_member);
        let fetch = offset_fetch("g".into(), vec![TopicPartition::new("a", 0)], true);
        assert_eq!(fetch.versions(), (1, 9));
        writes_in_every_version(&fetch);
        let part = ListPart {
            tp: TopicPartition::new("a", 0),
            timestamp: -2,
            leader_epoch: 7,
        };
        let uncommitted = list_offsets(IsolationLevel::ReadUncommitted, vec![part.clone()]);
        assert_eq!(uncommitted.versions(), (1, 9));
        writes_in_every_version(&uncommitted);
        let committed = list_offsets(IsolationLevel::ReadCommitted, vec![part]);
        assert_eq!(committed.versions(), (2, 9));
        writes_in_every_version(&committed);
    }

    #[test]
    fn version_dependent_fields_follow_the_version() {
        let req = metadata(vec!["a".into()]);
        for (v, auto) in [(1, true), (3, true), (4, false), (12, false)] {
            let RequestBody::Metadata(m) = req.body(v) else {
                panic!()
            };
            assert_eq!(m.allow_auto_topic_creation, auto, "v{v}");
        }
        let req = offset_commit(
            "g".into(),
            GroupGeneration::default(),
            vec![offset("a", 0, 5)],
        );
        for (v, epoch) in [(5, -1), (6, 3)] {
            let RequestBody::OffsetCommit(m) = req.body(v) else {
                panic!()
            };
            assert_eq!(m.generation_id_or_member_epoch, -1);
            assert_eq!(m.topics[0].partitions[0].committed_leader_epoch, epoch);
            assert_eq!(
                m.topics[0].partitions[0].committed_metadata.as_deref(),
                Some("m")
            );
        }
        let req = offset_fetch("g".into(), vec![TopicPartition::new("a", 0)], true);
        let RequestBody::OffsetFetch(m) = req.body(6) else {
            panic!()
        };
        assert!(!m.require_stable && m.groups.is_empty() && m.group_id == "g");
        let RequestBody::OffsetFetch(m) = req.body(8) else {
            panic!()
        };
        assert!(m.require_stable && m.group_id.is_empty() && m.groups[0].group_id == "g");
        let req = find_coordinator("g".into());
        let RequestBody::FindCoordinator(m) = req.body(3) else {
            panic!()
        };
        assert_eq!((m.key.as_str(), m.coordinator_keys.len()), ("g", 0));
        let RequestBody::FindCoordinator(m) = req.body(4) else {
            panic!()
        };
        assert_eq!(
            (m.key.as_str(), &m.coordinator_keys[..]),
            ("", &["g".to_string()][..])
        );
    }

    #[test]
    fn offset_fetch_answers_read_per_version() {
        let v8 = OffsetFetchResponse {
            groups: vec![OffsetFetchResponseGroup {
                group_id: "g".into(),
                topics: vec![OffsetFetchResponseTopics {
                    name: "a".into(),
                    partitions: vec![
                        OffsetFetchResponsePartitions {
                            partition_index: 0,
                            committed_offset: 12,
                            committed_leader_epoch: 2,
                            metadata: Some(String::new()),
                            ..Default::default()
                        },
                        OffsetFetchResponsePartitions {
                            partition_index: 1,
                            committed_offset: -1,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let got = parse_offset_fetch(&v8, 8, "g").unwrap();
        assert_eq!(
            got,
            [
                (
                    TopicPartition::new("a", 0),
                    Ok(Some(OffsetAndMetadata::new(12).with_leader_epoch(Some(2))))
                ),
                (TopicPartition::new("a", 1), Ok(None)),
            ]
        );
        let refused = OffsetFetchResponse {
            error_code: ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            ..Default::default()
        };
        assert_eq!(
            parse_offset_fetch(&refused, 2, "g"),
            Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
        );
        // v1 has no group-level code.
        assert_eq!(parse_offset_fetch(&refused, 1, "g"), Ok(vec![]));
    }
}

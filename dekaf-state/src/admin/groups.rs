//! Groups and their committed offsets: FindCoordinator, ListGroups, DescribeGroups,
//! DeleteGroups, OffsetFetch, OffsetCommit and OffsetDelete, written per version and read back
//! into one result per group (and per partition).

use std::collections::BTreeMap;
use std::sync::Arc;

use dekaf_proto::consumer_protocol::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use dekaf_proto::messages::describe_groups::DescribedGroup;
use dekaf_proto::messages::offset_delete::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use dekaf_proto::messages::offset_fetch::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use dekaf_proto::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, ListGroupsRequest, OffsetDeleteRequest,
    OffsetFetchRequest, OffsetFetchResponse, RequestBody, ResponseBody,
};
use dekaf_proto::{ApiKey, ErrorCode};

use super::{answer, fan_out, AdminError, GroupResults, Outcome, PartitionResults};
use super::{GroupDescription, GroupFilter, GroupListing, GroupState, MemberDescription};
use crate::client::{BrokerId, ClientRequest};
use crate::consumer::requests::{
    by_topic, find_coordinator, offset_commit, parse_find_coordinator, parse_offset_commit,
    parse_offset_fetch,
};
use crate::consumer::GroupGeneration;
use crate::offset::{is_coordinator_code, is_rebalance_code, OffsetAndMetadata};
use crate::offset::{TopicPartition, TopicPartitionOffset};

/// FindCoordinator for `group` (v0–v6).
pub fn find_coordinator_request(group: &str) -> ClientRequest {
    find_coordinator(group.to_owned())
}

/// The node id of `group`'s coordinator, from a FindCoordinator answer.
pub fn read_find_coordinator(group: &str, outcome: Outcome) -> Result<BrokerId, AdminError> {
    let (resp, version) = answer(outcome, |b| match b {
        ResponseBody::FindCoordinator(r) => Some(r),
        _ => None,
    })?;
    parse_find_coordinator(&resp, version, group)
        .map(|(id, _)| id)
        .map_err(AdminError::from)
}

/// ListGroups with `filter` (v0–v5; v4+ with a state filter, v5+ with a type filter).
pub fn list_groups_request(filter: &GroupFilter) -> ClientRequest {
    let min = if !filter.types.is_empty() {
        5
    } else if !filter.states.is_empty() {
        4
    } else {
        0
    };
    let states: Vec<String> = filter.states.iter().map(|s| s.name().to_owned()).collect();
    let types = filter.types.clone();
    ClientRequest::new(ApiKey::ListGroups, min, 5, move |v| {
        RequestBody::ListGroups(ListGroupsRequest {
            states_filter: if v >= 4 { states.clone() } else { Vec::new() },
            types_filter: if v >= 5 { types.clone() } else { Vec::new() },
            ..Default::default()
        })
    })
}

/// The groups of a ListGroups answer.
pub fn read_list_groups(outcome: Outcome) -> Result<Vec<GroupListing>, AdminError> {
    let (resp, version) = answer(outcome, |b| match b {
        ResponseBody::ListGroups(r) => Some(r),
        _ => None,
    })?;
    resp.error_code.into_result()?;
    Ok(resp
        .groups
        .iter()
        .map(|g| GroupListing {
            group_id: g.group_id.clone(),
            protocol_type: g.protocol_type.clone(),
            state: (version >= 4).then(|| GroupState::parse(&g.group_state)),
            group_type: (version >= 5).then(|| g.group_type.clone()),
        })
        .collect())
}

/// DescribeGroups for `groups`, all coordinated by one broker (v0–v5).
pub fn describe_groups_request(groups: Vec<String>) -> ClientRequest {
    ClientRequest::new(ApiKey::DescribeGroups, 0, 5, move |_| {
        RequestBody::DescribeGroups(DescribeGroupsRequest {
            groups: groups.clone(),
            ..Default::default()
        })
    })
}

fn describe(g: &DescribedGroup, coordinator: BrokerId) -> Result<GroupDescription, AdminError> {
    g.error_code.into_result()?;
    let state = GroupState::parse(&g.group_state);
    // Up to DescribeGroups v5 a group that does not exist is described as Dead with no
    // members; Kafka 4's v6 says GROUP_ID_NOT_FOUND, and so does this reader for every version.
    if state == GroupState::Dead && g.members.is_empty() {
        return Err(AdminError::broker(
            ErrorCode::GROUP_ID_NOT_FOUND,
            format!("group {} does not exist", g.group_id),
        ));
    }
    let consumer = g.protocol_type == "consumer" || g.protocol_type.is_empty();
    let members = g
        .members
        .iter()
        .map(|m| {
            let subscription = consumer
                .then(|| ConsumerProtocolSubscription::decode(&m.member_metadata).ok())
                .flatten();
            let assignment = consumer
                .then(|| ConsumerProtocolAssignment::decode(&m.member_assignment).ok())
                .flatten();
            let mut partitions: Vec<TopicPartition> = assignment
                .iter()
                .flat_map(|a| &a.assigned_partitions)
                .flat_map(|t| {
                    let topic: Arc<str> = Arc::from(t.topic.as_str());
                    t.partitions
                        .iter()
                        .map(move |p| TopicPartition::new(topic.clone(), *p))
                })
                .collect();
            partitions.sort();
            MemberDescription {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                host: m.client_host.clone(),
                subscribed_topics: subscription.map(|s| s.topics).unwrap_or_default(),
                assignment: partitions,
            }
        })
        .collect();
    Ok(GroupDescription {
        group_id: g.group_id.clone(),
        state,
        protocol_type: g.protocol_type.clone(),
        protocol: g.protocol_data.clone(),
        members,
        coordinator,
    })
}

/// One description per group asked, from a DescribeGroups answer of `coordinator`.
pub fn read_describe_groups(
    asked: &[String],
    coordinator: BrokerId,
    outcome: Outcome,
) -> BTreeMap<String, Result<GroupDescription, AdminError>> {
    let resp = match answer(outcome, |b| match b {
        ResponseBody::DescribeGroups(r) => Some(r),
        _ => None,
    }) {
        Ok((r, _)) => r,
        Err(e) => return fan_out(asked.iter().cloned(), e),
    };
    let mut out = fan_out(asked.iter().cloned(), AdminError::Missing);
    for g in &resp.groups {
        if let Some(slot) = out.get_mut(&g.group_id) {
            *slot = describe(g, coordinator);
        }
    }
    out
}

/// Whether a group's offsets may be altered, from its description: only with no members (a
/// group that does not exist yet has none). Any other failure to describe it is passed on.
pub fn check_group_empty(
    group: &str,
    description: Result<&GroupDescription, &AdminError>,
) -> Result<(), AdminError> {
    match description {
        Ok(d)
            if d.members.is_empty() && matches!(d.state, GroupState::Empty | GroupState::Dead) =>
        {
            Ok(())
        }
        Ok(d) => Err(AdminError::GroupNotEmpty {
            group: group.to_owned(),
            members: d.members.iter().map(|m| m.member_id.clone()).collect(),
            code: None,
        }),
        Err(e) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND) => Ok(()),
        Err(e) => Err(e.clone()),
    }
}

/// DeleteGroups for `groups`, all coordinated by one broker (v0–v2).
pub fn delete_groups_request(groups: Vec<String>) -> ClientRequest {
    ClientRequest::new(ApiKey::DeleteGroups, 0, 2, move |_| {
        RequestBody::DeleteGroups(DeleteGroupsRequest {
            groups_names: groups.clone(),
            ..Default::default()
        })
    })
}

/// One outcome per group asked, from a DeleteGroups answer.
pub fn read_delete_groups(
    asked: &[String],
    outcome: Outcome,
) -> BTreeMap<String, Result<(), AdminError>> {
    let resp = match answer(outcome, |b| match b {
        ResponseBody::DeleteGroups(r) => Some(r),
        _ => None,
    }) {
        Ok((r, _)) => r,
        Err(e) => return fan_out(asked.iter().cloned(), e),
    };
    let mut out = fan_out(asked.iter().cloned(), AdminError::Missing);
    for g in &resp.results {
        if let Some(slot) = out.get_mut(&g.group_id) {
            *slot = g.error_code.into_result().map_err(AdminError::from);
        }
    }
    out
}

/// OffsetFetch of `group`'s offsets in `partitions`, or of all of them (v1–v9; v2+ for all
/// of them, asked with a null topic list; v8+ through the groups array).
pub fn offset_fetch_request(group: &str, partitions: Option<&[TopicPartition]>) -> ClientRequest {
    let group = group.to_owned();
    let topics: Option<Vec<(String, Vec<i32>)>> = partitions.map(|ps| {
        by_topic(ps.iter().map(|tp| (tp.clone(), ())))
            .into_iter()
            .map(|(name, parts)| {
                (
                    name.to_string(),
                    parts.into_iter().map(|(p, ())| p).collect(),
                )
            })
            .collect()
    });
    let min = if topics.is_none() { 2 } else { 1 };
    ClientRequest::new(ApiKey::OffsetFetch, min, 9, move |v| {
        RequestBody::OffsetFetch(if v >= 8 {
            OffsetFetchRequest {
                groups: vec![OffsetFetchRequestGroup {
                    group_id: group.clone(),
                    topics: topics.as_ref().map(|ts| {
                        ts.iter()
                            .map(|(name, ps)| OffsetFetchRequestTopics {
                                name: name.clone(),
                                partition_indexes: ps.clone(),
                                ..Default::default()
                            })
                            .collect()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            OffsetFetchRequest {
                group_id: group.clone(),
                topics: topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|(name, ps)| OffsetFetchRequestTopic {
                            name: name.clone(),
                            partition_indexes: ps.clone(),
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            }
        })
    })
}

/// `group`'s committed offsets from an OffsetFetch answer: `None` for a partition without
/// one; a partition asked and not answered is [`AdminError::Missing`]. A failure of the
/// whole group (an unknown group is not one: it has no offsets) is the outer error.
pub fn read_offset_fetch(
    group: &str,
    asked: Option<&[TopicPartition]>,
    outcome: Outcome,
) -> Result<PartitionResults<Option<OffsetAndMetadata>>, AdminError> {
    let (resp, version) = answer(outcome, |b| match b {
        ResponseBody::OffsetFetch(r) => Some(r),
        _ => None,
    })?;
    let found = parse_offset_fetch(&resp, version, group)?;
    Ok(offsets_asked(asked, found))
}

/// OffsetFetch of several groups at once, each of the partitions named or of all its
/// offsets (`None`): one request through the groups array (v8–v9 only). A broker without v8
/// fails it as [`AdminError::Unsupported`]; ask each group with [`offset_fetch_request`]
/// then.
pub fn offset_fetch_groups_request(
    queries: &[(String, Option<Vec<TopicPartition>>)],
) -> ClientRequest {
    let groups: Vec<OffsetFetchRequestGroup> = queries
        .iter()
        .map(|(group, partitions)| OffsetFetchRequestGroup {
            group_id: group.clone(),
            topics: partitions.as_ref().map(|ps| {
                by_topic(ps.iter().map(|tp| (tp.clone(), ())))
                    .into_iter()
                    .map(|(name, parts)| OffsetFetchRequestTopics {
                        name: name.to_string(),
                        partition_indexes: parts.into_iter().map(|(p, ())| p).collect(),
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        })
        .collect();
    ClientRequest::new(ApiKey::OffsetFetch, 8, 9, move |_| {
        RequestBody::OffsetFetch(OffsetFetchRequest {
            groups: groups.clone(),
            ..Default::default()
        })
    })
}

/// Each group's committed offsets from the answer to an [`offset_fetch_groups_request`] of
/// `queries`, as [`read_offset_fetch`] reads one group's; a group the answer leaves out is
/// [`AdminError::Missing`], and a failed request fails every group with its error.
pub fn read_offset_fetch_groups(
    queries: &[(String, Option<Vec<TopicPartition>>)],
    outcome: Outcome,
) -> GroupResults<PartitionResults<Option<OffsetAndMetadata>>> {
    let (resp, version) = match answer(outcome, |b| match b {
        ResponseBody::OffsetFetch(r) => Some(r),
        _ => None,
    }) {
        Ok(answered) => answered,
        Err(e) => return fan_out(queries.iter().map(|(g, _)| g.clone()), e),
    };
    queries
        .iter()
        .map(|(group, asked)| {
            let result = match resp.groups.iter().find(|g| &g.group_id == group) {
                None => Err(AdminError::Missing),
                Some(g) => {
                    // The answer of this group alone, read as a one-group answer is.
                    let one = OffsetFetchResponse {
                        groups: vec![g.clone()],
                        ..Default::default()
                    };
                    parse_offset_fetch(&one, version, group)
                        .map_err(AdminError::from)
                        .map(|found| offsets_asked(asked.as_deref(), found))
                }
            };
            (group.clone(), result)
        })
        .collect()
}

/// The offsets found, narrowed to the partitions asked (each asked and not found is
/// [`AdminError::Missing`]), or all of them when none were named.
fn offsets_asked(
    asked: Option<&[TopicPartition]>,
    found: Vec<(TopicPartition, Result<Option<OffsetAndMetadata>, ErrorCode>)>,
) -> PartitionResults<Option<OffsetAndMetadata>> {
    let mut out: PartitionResults<Option<OffsetAndMetadata>> = match asked {
        Some(asked) => fan_out(asked.iter().cloned(), AdminError::Missing),
        None => BTreeMap::new(),
    };
    for (tp, result) in found {
        if asked.is_some() && !out.contains_key(&tp) {
            continue;
        }
        out.insert(tp, result.map_err(AdminError::from));
    }
    out
}

/// OffsetCommit of `offsets` for `group` from outside the group: generation -1 and no member
/// id, which a coordinator accepts only while the group has no members (v2–v9).
pub fn offset_commit_request(group: &str, offsets: Vec<TopicPartitionOffset>) -> ClientRequest {
    offset_commit(group.to_owned(), GroupGeneration::default(), offsets)
}

/// The outcome of an OffsetCommit from outside the group, per partition. A refusal that
/// concerns the whole group is the outer error: the group has members (UNKNOWN_MEMBER_ID,
/// ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS), the coordinator moved, or the group may not be
/// written.
pub fn read_offset_commit(
    group: &str,
    asked: &[TopicPartition],
    outcome: Outcome,
) -> Result<PartitionResults<()>, AdminError> {
    let (resp, _) = answer(outcome, |b| match b {
        ResponseBody::OffsetCommit(r) => Some(r),
        _ => None,
    })?;
    let mut out: PartitionResults<()> = fan_out(asked.iter().cloned(), AdminError::Missing);
    for (tp, code) in parse_offset_commit(&resp) {
        if is_rebalance_code(code) {
            return Err(AdminError::GroupNotEmpty {
                group: group.to_owned(),
                members: Vec::new(),
                code: Some(code),
            });
        }
        if is_coordinator_code(code) || code == ErrorCode::GROUP_AUTHORIZATION_FAILED {
            return Err(AdminError::from(code));
        }
        if let Some(slot) = out.get_mut(&tp) {
            *slot = code.into_result().map_err(AdminError::from);
        }
    }
    Ok(out)
}

/// OffsetDelete of `group`'s offsets in `partitions` (v0).
pub fn offset_delete_request(group: &str, partitions: &[TopicPartition]) -> ClientRequest {
    let request = OffsetDeleteRequest {
        group_id: group.to_owned(),
        topics: by_topic(partitions.iter().map(|tp| (tp.clone(), ())))
            .into_iter()
            .map(|(name, parts)| OffsetDeleteRequestTopic {
                name: name.to_string(),
                partitions: parts
                    .into_iter()
                    .map(|(p, ())| OffsetDeleteRequestPartition {
                        partition_index: p,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    ClientRequest::new(ApiKey::OffsetDelete, 0, 0, move |_| {
        RequestBody::OffsetDelete(request.clone())
    })
}

/// The outcome of an OffsetDelete, per partition; a refusal of the whole group (unknown,
/// coordinator moved, not authorized) is the outer error.
pub fn read_offset_delete(
    asked: &[TopicPartition],
    outcome: Outcome,
) -> Result<PartitionResults<()>, AdminError> {
    let (resp, _) = answer(outcome, |b| match b {
        ResponseBody::OffsetDelete(r) => Some(r),
        _ => None,
    })?;
    resp.error_code.into_result()?;
    let mut out: PartitionResults<()> = fan_out(asked.iter().cloned(), AdminError::Missing);
    for t in &resp.topics {
        for p in &t.partitions {
            let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
            if let Some(slot) = out.get_mut(&tp) {
                *slot = p.error_code.into_result().map_err(AdminError::from);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Response;
    use bytes::Bytes;
    use dekaf_proto::consumer_protocol::TopicPartition as Assigned;
    use dekaf_proto::messages::describe_groups::DescribedGroupMember;
    use dekaf_proto::messages::list_groups::ListedGroup;
    use dekaf_proto::messages::offset_commit::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    use dekaf_proto::messages::offset_delete::{
        OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
    };
    use dekaf_proto::messages::offset_fetch::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
    };
    use dekaf_proto::messages::{
        DescribeGroupsResponse, ListGroupsResponse, OffsetCommitResponse, OffsetDeleteResponse,
        OffsetFetchResponse,
    };

    use super::super::tests::writes_in_every_version;

    fn ok(version: i16, body: impl Into<ResponseBody>) -> Outcome {
        Ok(Response {
            version,
            body: body.into(),
        })
    }

    fn tp(topic: &str, p: i32) -> TopicPartition {
        TopicPartition::new(topic, p)
    }

    #[test]
    fn every_request_writes_in_every_version_of_its_range() {
        writes_in_every_version(&find_coordinator_request("g"));
        writes_in_every_version(&list_groups_request(&GroupFilter::all()));
        writes_in_every_version(&list_groups_request(
            &GroupFilter::all().state(GroupState::Stable),
        ));
        writes_in_every_version(&list_groups_request(
            &GroupFilter::all().group_type("classic"),
        ));
        writes_in_every_version(&describe_groups_request(vec!["g".into(), "h".into()]));
        writes_in_every_version(&delete_groups_request(vec!["g".into()]));
        writes_in_every_version(&offset_fetch_request("g", None));
        writes_in_every_version(&offset_fetch_request("g", Some(&[tp("a", 0), tp("a", 1)])));
        writes_in_every_version(&offset_commit_request(
            "g",
            vec![TopicPartitionOffset::new("a", 0, 5).with_metadata("m")],
        ));
        writes_in_every_version(&offset_delete_request("g", &[tp("a", 0)]));
    }

    #[test]
    fn filters_narrow_the_versions_that_can_carry_them() {
        assert_eq!(list_groups_request(&GroupFilter::all()).versions(), (0, 5));
        let states = GroupFilter::all().state(GroupState::Empty);
        assert_eq!(list_groups_request(&states).versions(), (4, 5));
        let types = GroupFilter::all().group_type("consumer");
        assert_eq!(list_groups_request(&types).versions(), (5, 5));
        assert_eq!(offset_fetch_request("g", None).versions(), (2, 9));
    }

    #[test]
    fn listings_carry_state_and_type_only_where_the_version_has_them() {
        let resp = ListGroupsResponse {
            groups: vec![ListedGroup {
                group_id: "g".into(),
                protocol_type: "consumer".into(),
                group_state: "Stable".into(),
                group_type: "classic".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let v3 = read_list_groups(ok(3, resp.clone())).unwrap();
        assert_eq!(v3[0].state, None);
        let v5 = read_list_groups(ok(5, resp)).unwrap();
        assert_eq!(v5[0].state, Some(GroupState::Stable));
        assert_eq!(v5[0].group_type.as_deref(), Some("classic"));
    }

    fn member(id: &str, partitions: &[i32]) -> DescribedGroupMember {
        let assignment = ConsumerProtocolAssignment {
            assigned_partitions: vec![Assigned {
                topic: "t".into(),
                partitions: partitions.to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let subscription = ConsumerProtocolSubscription {
            topics: vec!["t".into()],
            ..Default::default()
        };
        DescribedGroupMember {
            member_id: id.into(),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            member_metadata: subscription.encode().unwrap(),
            member_assignment: assignment.encode().unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn descriptions_decode_each_members_assignment() {
        let resp = DescribeGroupsResponse {
            groups: vec![
                DescribedGroup {
                    group_id: "g".into(),
                    group_state: "Stable".into(),
                    protocol_type: "consumer".into(),
                    protocol_data: "range".into(),
                    members: vec![member("m1", &[1, 0]), {
                        let mut m = member("m2", &[2]);
                        m.member_assignment = Bytes::new();
                        m
                    }],
                    ..Default::default()
                },
                DescribedGroup {
                    group_id: "gone".into(),
                    group_state: "Dead".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let asked = ["g".to_owned(), "gone".to_owned(), "unmentioned".to_owned()];
        let out = read_describe_groups(&asked, 111, ok(5, resp));
        let g = out["g"].as_ref().unwrap();
        assert_eq!(g.state, GroupState::Stable);
        assert_eq!(g.coordinator, 111);
        assert_eq!(g.members[0].assignment, [tp("t", 0), tp("t", 1)]);
        assert_eq!(g.members[0].subscribed_topics, ["t"]);
        assert!(g.members[1].assignment.is_empty(), "an empty assignment");
        assert_eq!(g.owners()[&tp("t", 1)], "m1");
        let gone = out["gone"].as_ref().unwrap_err();
        assert_eq!(gone.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND));
        assert_eq!(out["unmentioned"], Err(AdminError::Missing));
        // Offsets may be altered for a group that does not exist, not for one with members.
        assert_eq!(check_group_empty("gone", out["gone"].as_ref()), Ok(()));
        let refused = check_group_empty("g", out["g"].as_ref()).unwrap_err();
        assert!(
            matches!(&refused, AdminError::GroupNotEmpty { members, .. } if members == &["m1", "m2"]),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("m1, m2"), "{refused}");
    }

    #[test]
    fn committed_offsets_are_read_per_partition() {
        let resp = OffsetFetchResponse {
            groups: vec![OffsetFetchResponseGroup {
                group_id: "g".into(),
                topics: vec![OffsetFetchResponseTopics {
                    name: "t".into(),
                    partitions: vec![
                        OffsetFetchResponsePartitions {
                            partition_index: 0,
                            committed_offset: 5,
                            metadata: Some("m".into()),
                            ..Default::default()
                        },
                        OffsetFetchResponsePartitions {
                            partition_index: 1,
                            committed_offset: -1,
                            ..Default::default()
                        },
                        OffsetFetchResponsePartitions {
                            partition_index: 2,
                            committed_offset: -1,
                            error_code: ErrorCode::UNSTABLE_OFFSET_COMMIT,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let asked = [tp("t", 0), tp("t", 1), tp("t", 2), tp("t", 3)];
        let out = read_offset_fetch("g", Some(&asked), ok(8, resp.clone())).unwrap();
        assert_eq!(
            out[&tp("t", 0)].as_ref().unwrap().as_ref().unwrap().offset,
            5
        );
        assert_eq!(out[&tp("t", 1)], Ok(None));
        assert!(out[&tp("t", 2)].as_ref().unwrap_err().is_retriable());
        assert_eq!(out[&tp("t", 3)], Err(AdminError::Missing));
        let all = read_offset_fetch("g", None, ok(8, resp)).unwrap();
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn several_groups_travel_in_one_request_from_v8_each_with_its_partitions() {
        use dekaf_proto::Message;
        let queries = vec![
            ("g".to_owned(), None),
            (
                "h".to_owned(),
                Some(vec![tp("t", 1), tp("u", 0), tp("t", 0)]),
            ),
        ];
        let request = offset_fetch_groups_request(&queries);
        assert_eq!(request.versions(), (8, 9));
        writes_in_every_version(&request);
        for v in 8..=9 {
            let mut buf = bytes::BytesMut::new();
            request.body(v).encode(&mut buf, v).unwrap();
            let back = OffsetFetchRequest::decode_exact(&buf.freeze(), v).unwrap();
            type Topics<'a> = Option<Vec<(&'a str, Vec<i32>)>>;
            let groups: Vec<(&str, Topics<'_>)> = back
                .groups
                .iter()
                .map(|g| {
                    let topics = g.topics.as_ref().map(|ts| {
                        ts.iter()
                            .map(|t| (t.name.as_str(), t.partition_indexes.clone()))
                            .collect()
                    });
                    (g.group_id.as_str(), topics)
                })
                .collect();
            assert_eq!(
                groups,
                [
                    ("g", None),
                    ("h", Some(vec![("t", vec![1, 0]), ("u", vec![0])]))
                ],
                "v{v}"
            );
        }
    }

    #[test]
    fn each_group_of_a_batched_answer_gets_its_own_result() {
        let partition = |offset| OffsetFetchResponsePartitions {
            partition_index: 0,
            committed_offset: offset,
            ..Default::default()
        };
        let group = |id: &str, offset, code| OffsetFetchResponseGroup {
            group_id: id.into(),
            topics: vec![OffsetFetchResponseTopics {
                name: "t".into(),
                partitions: vec![partition(offset)],
                ..Default::default()
            }],
            error_code: code,
            ..Default::default()
        };
        // Answered out of order; "lost" is left out.
        let resp = OffsetFetchResponse {
            groups: vec![
                group("h", 7, ErrorCode::NONE),
                group("g", 3, ErrorCode::NONE),
                group("busy", -1, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
            ],
            ..Default::default()
        };
        let queries = vec![
            ("g".to_owned(), None),
            ("h".to_owned(), Some(vec![tp("t", 0), tp("t", 1)])),
            ("busy".to_owned(), None),
            ("lost".to_owned(), None),
        ];
        let out = read_offset_fetch_groups(&queries, ok(9, resp));
        let offset = |g: &str, p| {
            out[g].as_ref().unwrap()[&tp("t", p)]
                .as_ref()
                .unwrap()
                .as_ref()
                .map(|o| o.offset)
        };
        assert_eq!(offset("g", 0), Some(3));
        assert_eq!(offset("h", 0), Some(7));
        assert_eq!(
            out["h"].as_ref().unwrap()[&tp("t", 1)],
            Err(AdminError::Missing)
        );
        assert!(out["busy"].as_ref().unwrap_err().is_coordinator_error());
        assert_eq!(out["lost"], Err(AdminError::Missing));
    }

    #[test]
    fn a_batch_the_broker_cannot_carry_fails_every_group_as_unsupported() {
        let unsupported = dekaf_proto::version::UnsupportedVersion {
            api: ApiKey::OffsetFetch,
            broker: Some((0, 7)),
            ours: Some((8, 9)),
        };
        let queries = vec![("g".to_owned(), None), ("h".to_owned(), None)];
        let out = read_offset_fetch_groups(
            &queries,
            Err(crate::client::RequestFailed::Unsupported(unsupported)),
        );
        assert_eq!(out.len(), 2);
        assert!(out
            .values()
            .all(|r| r.as_ref().is_err_and(AdminError::is_unsupported)));
    }

    #[test]
    fn a_commit_refused_for_membership_says_the_group_is_not_empty() {
        let answer = |code| {
            ok(
                9,
                OffsetCommitResponse {
                    topics: vec![OffsetCommitResponseTopic {
                        name: "t".into(),
                        partitions: vec![OffsetCommitResponsePartition {
                            partition_index: 0,
                            error_code: code,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )
        };
        let asked = [tp("t", 0)];
        let refused = read_offset_commit("g", &asked, answer(ErrorCode::UNKNOWN_MEMBER_ID));
        assert!(matches!(
            refused,
            Err(AdminError::GroupNotEmpty {
                code: Some(ErrorCode::UNKNOWN_MEMBER_ID),
                ..
            })
        ));
        let moved = read_offset_commit("g", &asked, answer(ErrorCode::NOT_COORDINATOR));
        assert_eq!(moved.unwrap_err().code(), Some(ErrorCode::NOT_COORDINATOR));
        let ok = read_offset_commit("g", &asked, answer(ErrorCode::NONE)).unwrap();
        assert_eq!(ok[&tp("t", 0)], Ok(()));
        let partly =
            read_offset_commit("g", &asked, answer(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)).unwrap();
        assert!(partly[&tp("t", 0)].is_err());
    }

    #[test]
    fn deletions_answer_per_partition_or_for_the_group() {
        let resp = OffsetDeleteResponse {
            topics: vec![OffsetDeleteResponseTopic {
                name: "t".into(),
                partitions: vec![OffsetDeleteResponsePartition {
                    partition_index: 0,
                    error_code: ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let asked = [tp("t", 0)];
        let out = read_offset_delete(&asked, ok(0, resp)).unwrap();
        assert_eq!(
            out[&tp("t", 0)].as_ref().unwrap_err().code(),
            Some(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC)
        );
        let group = OffsetDeleteResponse {
            error_code: ErrorCode::GROUP_ID_NOT_FOUND,
            ..Default::default()
        };
        assert!(read_offset_delete(&asked, ok(0, group)).is_err());
    }
}

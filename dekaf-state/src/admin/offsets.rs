//! Offsets of partitions: ListOffsets batched per partition leader, and a group's lag.

use std::collections::{BTreeMap, BTreeSet};

use dekaf_proto::messages::metadata::MetadataResponsePartition;
use dekaf_proto::messages::{MetadataResponse, ResponseBody};
use dekaf_proto::ErrorCode;

use super::{answer, fan_out, AdminError, Outcome, PartitionResults};
use super::{GroupDescription, GroupLag, GroupState, OffsetQuery, PartitionLag};
use crate::client::{BrokerId, ClientRequest};
use crate::consumer::requests::{list_offsets, parse_list_offsets, ListPart};
use crate::consumer::IsolationLevel;
use crate::offset::{ListedOffset, OffsetAndMetadata, TopicPartition};

/// The ListOffsets requests of one call: for each partition leader, its partitions. The
/// largest-timestamp lookups (ListOffsets v7+) are batches of their own, to send after the
/// others: a broker that cannot answer them (tansu closes the connection) then fails no other
/// lookup.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ListOffsetsPlan {
    /// The lookups to send first, by leader.
    pub batches: BTreeMap<BrokerId, Vec<(TopicPartition, OffsetQuery)>>,
    /// The largest-timestamp lookups, by leader, to send once the others are answered.
    pub max_timestamp_batches: BTreeMap<BrokerId, Vec<(TopicPartition, OffsetQuery)>>,
    /// The partitions refused before anything was sent: a negative partition, a topic the
    /// metadata refuses, a partition it does not list, a partition without a leader.
    pub refused: BTreeMap<TopicPartition, AdminError>,
}

/// Splits the lookups of `asked` by partition leader, as `metadata` (an answer for their
/// topics) names the leaders.
pub fn plan_list_offsets(
    metadata: &MetadataResponse,
    asked: &BTreeMap<TopicPartition, OffsetQuery>,
) -> ListOffsetsPlan {
    let mut plan = ListOffsetsPlan::default();
    for (tp, query) in asked {
        match leader(metadata, tp) {
            Ok(id) => {
                let batches = if *query == OffsetQuery::MaxTimestamp {
                    &mut plan.max_timestamp_batches
                } else {
                    &mut plan.batches
                };
                batches.entry(id).or_default().push((tp.clone(), *query));
            }
            Err(e) => {
                plan.refused.insert(tp.clone(), e);
            }
        }
    }
    plan
}

/// The partitions of `partitions` that `metadata` (an answer for their topics) does not
/// list, each with why: a negative partition, a topic the metadata refuses or leaves out, a
/// partition beyond the topic's count.
pub fn unknown_partitions<'a>(
    metadata: &MetadataResponse,
    partitions: impl IntoIterator<Item = &'a TopicPartition>,
) -> BTreeMap<TopicPartition, AdminError> {
    partitions
        .into_iter()
        .filter_map(|tp| find_partition(metadata, tp).err().map(|e| (tp.clone(), e)))
        .collect()
}

/// `tp` in `metadata`, or why it is not there.
fn find_partition<'m>(
    metadata: &'m MetadataResponse,
    tp: &TopicPartition,
) -> Result<&'m MetadataResponsePartition, AdminError> {
    if tp.partition() < 0 {
        return Err(AdminError::Invalid(format!(
            "{tp} is not a partition: partition numbers start at 0"
        )));
    }
    let topic = metadata
        .topics
        .iter()
        .find(|t| t.name.as_deref() == Some(tp.topic()))
        .ok_or(AdminError::Missing)?;
    topic.error_code.into_result()?;
    topic
        .partitions
        .iter()
        .find(|p| p.partition_index == tp.partition())
        .ok_or_else(|| {
            AdminError::broker(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!(
                    "partition {} does not exist: {} has {} partitions",
                    tp.partition(),
                    tp.topic(),
                    topic.partitions.len()
                ),
            )
        })
}

/// The leader of `tp` in `metadata`, or why it has none to ask.
fn leader(metadata: &MetadataResponse, tp: &TopicPartition) -> Result<BrokerId, AdminError> {
    let partition = find_partition(metadata, tp)?;
    if partition.leader_id < 0 {
        let code = if partition.error_code.is_ok() {
            ErrorCode::LEADER_NOT_AVAILABLE
        } else {
            partition.error_code
        };
        return Err(AdminError::from(code));
    }
    Ok(partition.leader_id)
}

/// ListOffsets for one leader's lookups (v1–v9; v2+ under read_committed, v7+ for the largest
/// timestamp).
pub fn list_offsets_request(
    lookups: &[(TopicPartition, OffsetQuery)],
    isolation: IsolationLevel,
) -> ClientRequest {
    let parts = lookups
        .iter()
        .map(|(tp, query)| ListPart {
            tp: tp.clone(),
            timestamp: query.wire(),
            // The leader comes from fresh metadata: no epoch check.
            leader_epoch: -1,
        })
        .collect();
    list_offsets(isolation, parts)
}

/// One result per partition asked, from a ListOffsets answer.
pub fn read_list_offsets(
    asked: &[TopicPartition],
    outcome: Outcome,
) -> PartitionResults<ListedOffset> {
    let resp = match answer(outcome, |b| match b {
        ResponseBody::ListOffsets(r) => Some(r),
        _ => None,
    }) {
        Ok((r, _)) => r,
        Err(e) => return fan_out(asked.iter().cloned(), e),
    };
    let mut out = fan_out(asked.iter().cloned(), AdminError::Missing);
    for (tp, result) in parse_list_offsets(&resp) {
        if let Some(slot) = out.get_mut(&tp) {
            *slot = result.map_err(AdminError::from);
        }
    }
    out
}

/// What a group's description says about its lag: its state, who owns which partition, how
/// many members it has, and why it could not be described (a group that does not exist is
/// described as having no members).
fn described(
    description: Result<&GroupDescription, &AdminError>,
) -> (
    Option<GroupState>,
    BTreeMap<TopicPartition, String>,
    usize,
    Option<AdminError>,
) {
    match description {
        Ok(d) => (Some(d.state.clone()), d.owners(), d.members.len(), None),
        Err(e) if e.code() == Some(ErrorCode::GROUP_ID_NOT_FOUND) => {
            (None, BTreeMap::new(), 0, None)
        }
        Err(e) => (None, BTreeMap::new(), 0, Some(e.clone())),
    }
}

/// The partitions whose end offsets `group`'s lag needs: those with a committed offset and
/// those a member owns. A group with neither members nor committed offsets is
/// GROUP_ID_NOT_FOUND (or, when it could not be described, why).
pub fn lag_partitions(
    group: &str,
    description: Result<&GroupDescription, &AdminError>,
    committed: &PartitionResults<Option<OffsetAndMetadata>>,
) -> Result<Vec<TopicPartition>, AdminError> {
    let (_, owners, members, error) = described(description);
    if committed.is_empty() && members == 0 {
        return Err(error.unwrap_or_else(|| {
            AdminError::broker(
                ErrorCode::GROUP_ID_NOT_FOUND,
                format!("group {group} has neither members nor committed offsets"),
            )
        }));
    }
    let partitions: BTreeSet<&TopicPartition> = committed.keys().chain(owners.keys()).collect();
    Ok(partitions.into_iter().cloned().collect())
}

/// `group`'s lag per partition: every partition it has a committed offset for or a member
/// owns, with the committed offset, the end offset (`ends`: a latest-offset lookup of the
/// [`lag_partitions`]) and the member that owns it.
pub fn group_lag(
    group: &str,
    description: Result<&GroupDescription, &AdminError>,
    committed: &PartitionResults<Option<OffsetAndMetadata>>,
    ends: &PartitionResults<ListedOffset>,
) -> GroupLag {
    let (state, owners, _, description_error) = described(description);
    let partitions: BTreeSet<&TopicPartition> = committed.keys().chain(owners.keys()).collect();
    let partitions = partitions
        .into_iter()
        .map(|tp| {
            let mut error = None;
            let committed = match committed.get(tp) {
                Some(Ok(offset)) => offset.clone(),
                Some(Err(e)) => {
                    error = Some(e.clone());
                    None
                }
                None => None,
            };
            let end_offset = match ends.get(tp) {
                Some(Ok(listed)) if listed.offset >= 0 => Some(listed.offset),
                Some(Ok(_)) => None,
                Some(Err(e)) => {
                    error.get_or_insert_with(|| e.clone());
                    None
                }
                None => {
                    error.get_or_insert(AdminError::Missing);
                    None
                }
            };
            let lag = match (&committed, end_offset) {
                (Some(c), Some(end)) => Some((end - c.offset).max(0)),
                _ => None,
            };
            PartitionLag {
                partition: tp.clone(),
                committed,
                end_offset,
                lag,
                owner: owners.get(tp).cloned(),
                error,
            }
        })
        .collect();
    GroupLag {
        group_id: group.to_owned(),
        state,
        partitions,
        description_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{RequestFailed, Response};
    use dekaf_proto::messages::list_offsets::{
        ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
    };
    use dekaf_proto::messages::metadata::{MetadataResponsePartition, MetadataResponseTopic};
    use dekaf_proto::messages::{ListOffsetsResponse, RequestBody};

    use super::super::MemberDescription;

    use super::super::tests::writes_in_every_version;

    fn tp(topic: &str, p: i32) -> TopicPartition {
        TopicPartition::new(topic, p)
    }

    fn metadata() -> MetadataResponse {
        let partition = |p: i32, leader: i32| MetadataResponsePartition {
            partition_index: p,
            leader_id: leader,
            ..Default::default()
        };
        MetadataResponse {
            topics: vec![
                MetadataResponseTopic {
                    name: Some("t".into()),
                    partitions: vec![partition(0, 1), partition(1, 2), partition(2, -1)],
                    ..Default::default()
                },
                MetadataResponseTopic {
                    name: Some("gone".into()),
                    error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn lookups_are_batched_per_leader_and_bad_partitions_refused_alone() {
        let asked: BTreeMap<_, _> = [
            (tp("t", 0), OffsetQuery::Earliest),
            (tp("t", 1), OffsetQuery::Latest),
            (tp("t", 2), OffsetQuery::Latest),
            (tp("t", 7), OffsetQuery::Latest),
            (tp("t", -1), OffsetQuery::Latest),
            (tp("gone", 0), OffsetQuery::Latest),
            (tp("unmentioned", 0), OffsetQuery::Latest),
        ]
        .into_iter()
        .collect();
        let plan = plan_list_offsets(&metadata(), &asked);
        assert_eq!(plan.batches[&1], [(tp("t", 0), OffsetQuery::Earliest)]);
        assert_eq!(plan.batches[&2], [(tp("t", 1), OffsetQuery::Latest)]);
        assert!(plan.max_timestamp_batches.is_empty());
        let code = |p: &TopicPartition| plan.refused[p].code();
        assert_eq!(code(&tp("t", 2)), Some(ErrorCode::LEADER_NOT_AVAILABLE));
        assert_eq!(
            code(&tp("t", 7)),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
        assert!(plan.refused[&tp("t", 7)]
            .to_string()
            .contains("t has 3 partitions"));
        assert!(matches!(plan.refused[&tp("t", -1)], AdminError::Invalid(_)));
        assert_eq!(
            code(&tp("gone", 0)),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
        assert_eq!(plan.refused[&tp("unmentioned", 0)], AdminError::Missing);
        // Existence alone, leader or not:
        let unknown = unknown_partitions(&metadata(), asked.keys());
        let unknown: Vec<_> = unknown.keys().cloned().collect();
        assert_eq!(
            unknown,
            [tp("gone", 0), tp("t", -1), tp("t", 7), tp("unmentioned", 0)]
        );
    }

    #[test]
    fn largest_timestamp_lookups_go_apart_in_a_version_that_has_them() {
        let asked: BTreeMap<_, _> = [
            (tp("t", 0), OffsetQuery::MaxTimestamp),
            (tp("t", 1), OffsetQuery::Timestamp(1_700_000_000_000)),
        ]
        .into_iter()
        .collect();
        let plan = plan_list_offsets(&metadata(), &asked);
        assert_eq!(plan.max_timestamp_batches[&1].len(), 1);
        assert_eq!(plan.batches[&2].len(), 1);
        let max = list_offsets_request(
            &plan.max_timestamp_batches[&1],
            IsolationLevel::ReadUncommitted,
        );
        assert_eq!(max.versions().0, 7);
        writes_in_every_version(&max);
        let committed = list_offsets_request(&plan.batches[&2], IsolationLevel::ReadCommitted);
        assert_eq!(committed.versions(), (2, 9));
        let RequestBody::ListOffsets(body) = committed.body(9) else {
            panic!()
        };
        assert_eq!(body.isolation_level, 1);
        assert_eq!(body.topics[0].partitions[0].timestamp, 1_700_000_000_000);
        writes_in_every_version(&committed);
    }

    #[test]
    fn each_partition_asked_gets_its_offset_or_error() {
        let resp = ListOffsetsResponse {
            topics: vec![ListOffsetsTopicResponse {
                name: "t".into(),
                partitions: vec![
                    ListOffsetsPartitionResponse {
                        partition_index: 0,
                        offset: 42,
                        ..Default::default()
                    },
                    ListOffsetsPartitionResponse {
                        partition_index: 1,
                        error_code: ErrorCode::NOT_LEADER_OR_FOLLOWER,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let asked = [tp("t", 0), tp("t", 1), tp("t", 2)];
        let out = read_list_offsets(
            &asked,
            Ok(Response {
                version: 9,
                body: ResponseBody::ListOffsets(resp),
            }),
        );
        assert_eq!(out[&tp("t", 0)].as_ref().unwrap().offset, 42);
        assert!(out[&tp("t", 1)].as_ref().unwrap_err().is_retriable());
        assert_eq!(out[&tp("t", 2)], Err(AdminError::Missing));
        let failed = read_list_offsets(&asked, Err(RequestFailed::Disconnected));
        assert_eq!(failed.len(), 3);
    }

    fn described_group(owners: &[(&str, &[TopicPartition])]) -> GroupDescription {
        GroupDescription {
            group_id: "g".into(),
            state: GroupState::Stable,
            protocol_type: "consumer".into(),
            protocol: "range".into(),
            members: owners
                .iter()
                .map(|(id, partitions)| MemberDescription {
                    member_id: id.to_string(),
                    group_instance_id: None,
                    client_id: "c".into(),
                    host: "h".into(),
                    subscribed_topics: vec!["t".into()],
                    assignment: partitions.to_vec(),
                })
                .collect(),
            coordinator: 1,
        }
    }

    #[test]
    fn lag_is_the_end_minus_the_committed_offset_per_partition() {
        let listed = |offset| {
            Ok(ListedOffset {
                offset,
                timestamp: -1,
                leader_epoch: None,
            })
        };
        let committed: PartitionResults<Option<OffsetAndMetadata>> = [
            (tp("t", 0), Ok(Some(OffsetAndMetadata::new(3)))),
            (tp("t", 1), Ok(Some(OffsetAndMetadata::new(9)))),
            (tp("t", 2), Ok(Some(OffsetAndMetadata::new(1)))),
        ]
        .into_iter()
        .collect();
        let group = described_group(&[("m1", &[tp("t", 0)]), ("m2", &[tp("t", 3)])]);
        let asked = lag_partitions("g", Ok(&group), &committed).unwrap();
        assert_eq!(asked, [tp("t", 0), tp("t", 1), tp("t", 2), tp("t", 3)]);
        let ends: PartitionResults<ListedOffset> = [
            (tp("t", 0), listed(10)),
            (tp("t", 1), listed(7)),
            (
                tp("t", 2),
                Err(AdminError::Request(RequestFailed::TimedOut)),
            ),
            (tp("t", 3), listed(5)),
        ]
        .into_iter()
        .collect();
        let lag = group_lag("g", Ok(&group), &committed, &ends);
        assert_eq!(lag.state, Some(GroupState::Stable));
        let rows = &lag.partitions;
        let row = |p: i32| rows.iter().find(|r| r.partition == tp("t", p)).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!((row(0).lag, row(0).owner.as_deref()), (Some(7), Some("m1")));
        assert_eq!(row(1).lag, Some(0), "a commit beyond the end is no lag");
        assert_eq!((row(2).end_offset, row(2).lag), (None, None));
        assert!(row(2).error.is_some());
        assert_eq!(
            (row(3).committed.clone(), row(3).end_offset),
            (None, Some(5))
        );
        assert_eq!((row(3).lag, row(3).error.clone()), (None, None));
        assert_eq!(row(3).owner.as_deref(), Some("m2"));
    }

    #[test]
    fn a_group_that_cannot_be_described_still_gets_its_lag_without_owners() {
        let committed: PartitionResults<Option<OffsetAndMetadata>> =
            [(tp("t", 0), Ok(Some(OffsetAndMetadata::new(3))))]
                .into_iter()
                .collect();
        let failed = AdminError::Request(RequestFailed::Disconnected);
        assert_eq!(
            lag_partitions("g", Err(&failed), &committed).unwrap(),
            [tp("t", 0)]
        );
        let ends = [(
            tp("t", 0),
            Ok(ListedOffset {
                offset: 4,
                timestamp: -1,
                leader_epoch: None,
            }),
        )]
        .into_iter()
        .collect();
        let lag = group_lag("g", Err(&failed), &committed, &ends);
        assert_eq!(lag.partitions[0].lag, Some(1));
        assert_eq!(lag.partitions[0].owner, None);
        assert_eq!(lag.description_error, Some(failed.clone()));
        // With nothing committed either, there is nothing to show: the failure is the answer.
        let nothing = PartitionResults::new();
        assert_eq!(lag_partitions("g", Err(&failed), &nothing), Err(failed));
        let empty = described_group(&[]);
        let missing = lag_partitions("g", Ok(&empty), &nothing).unwrap_err();
        assert_eq!(missing.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND));
    }
}

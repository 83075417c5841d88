//! How the group coordinator answers OffsetCommit and OffsetFetch (member and generation
//! checks are the group's: see [`GroupSim`](crate::GroupSim)).

use dekaf_proto::messages::offset_commit::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use dekaf_proto::messages::offset_fetch::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use dekaf_proto::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use dekaf_proto::ErrorCode;

use crate::cluster::Committed;
use crate::Cluster;

impl Cluster {
    /// The error a coordinator request gets before it is applied, if any.
    pub(crate) fn coordinator_fault(&mut self, broker: i32) -> ErrorCode {
        if broker != self.group_coordinator {
            return ErrorCode::NOT_COORDINATOR;
        }
        if self.chance(self.faults.coordinator_moves) {
            self.count("group coordinator moved");
            self.move_coordinator();
            if self.group_coordinator != broker {
                return ErrorCode::NOT_COORDINATOR;
            }
        }
        if self.chance(self.faults.load_in_progress) {
            self.count("coordinator loading");
            return ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
        }
        ErrorCode::NONE
    }

    pub(crate) fn offset_commit(
        &mut self,
        broker: i32,
        req: &OffsetCommitRequest,
        version: i16,
    ) -> OffsetCommitResponse {
        let fault = self.coordinator_fault(broker);
        let topics = req
            .topics
            .iter()
            .map(|t| OffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let exists = self
                            .topics
                            .get(&t.name)
                            .is_some_and(|x| (p.partition_index as usize) < x.partitions.len());
                        let code = if !fault.is_ok() {
                            fault
                        } else if !exists {
                            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                        } else {
                            let epoch = if version >= 6 {
                                p.committed_leader_epoch
                            } else {
                                -1
                            };
                            self.committed
                                .entry(req.group_id.clone())
                                .or_default()
                                .insert(
                                    (t.name.clone(), p.partition_index),
                                    Committed {
                                        offset: p.committed_offset,
                                        leader_epoch: epoch,
                                        metadata: p.committed_metadata.clone(),
                                    },
                                );
                            self.commit_log.push((
                                req.group_id.clone(),
                                t.name.clone(),
                                p.partition_index,
                                p.committed_offset,
                            ));
                            ErrorCode::NONE
                        };
                        OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: code,
                            ..Default::default()
                        }
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

    fn committed_of(&self, group: &str, topic: &str, p: i32) -> (i64, i32, Option<String>) {
        self.committed
            .get(group)
            .and_then(|g| g.get(&(topic.to_string(), p)))
            .map(|c| (c.offset, c.leader_epoch, c.metadata.clone()))
            .unwrap_or((-1, -1, Some(String::new())))
    }

    pub(crate) fn offset_fetch(
        &mut self,
        broker: i32,
        req: &OffsetFetchRequest,
        version: i16,
    ) -> OffsetFetchResponse {
        let fault = self.coordinator_fault(broker);
        if version >= 8 {
            let groups = req
                .groups
                .iter()
                .map(|g| {
                    let topics = g
                        .topics
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| OffsetFetchResponseTopics {
                            partitions: t
                                .partition_indexes
                                .iter()
                                .map(|&p| {
                                    let (offset, epoch, metadata) =
                                        self.committed_of(&g.group_id, &t.name, p);
                                    OffsetFetchResponsePartitions {
                                        partition_index: p,
                                        committed_offset: offset,
                                        committed_leader_epoch: epoch,
                                        metadata,
                                        ..Default::default()
                                    }
                                })
                                .collect(),
                            name: t.name,
                            ..Default::default()
                        })
                        .collect();
                    OffsetFetchResponseGroup {
                        group_id: g.group_id.clone(),
                        topics: if fault.is_ok() { topics } else { vec![] },
                        error_code: fault,
                        ..Default::default()
                    }
                })
                .collect();
            return OffsetFetchResponse {
                groups,
                ..Default::default()
            };
        }
        let topics: Vec<OffsetFetchResponseTopic> = req
            .topics
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|t| OffsetFetchResponseTopic {
                partitions: t
                    .partition_indexes
                    .iter()
                    .map(|&p| {
                        let (offset, epoch, metadata) =
                            self.committed_of(&req.group_id, &t.name, p);
                        OffsetFetchResponsePartition {
                            partition_index: p,
                            committed_offset: if fault.is_ok() { offset } else { -1 },
                            committed_leader_epoch: if version >= 5 { epoch } else { -1 },
                            metadata,
                            // v1 has no group-level error: it goes on each partition.
                            error_code: if version < 2 { fault } else { ErrorCode::NONE },
                            ..Default::default()
                        }
                    })
                    .collect(),
                name: t.name,
                ..Default::default()
            })
            .collect();
        OffsetFetchResponse {
            topics: if version >= 2 && !fault.is_ok() {
                vec![]
            } else {
                topics
            },
            error_code: if version >= 2 { fault } else { ErrorCode::NONE },
            ..Default::default()
        }
    }
}

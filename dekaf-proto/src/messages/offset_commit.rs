//! OffsetCommit (key 8): a consumer stores its committed offsets with the group coordinator.
//!
//! Versions 0 and 1 (deprecated) are not implemented. The one field they have that later
//! versions lack, version 1's per-partition commit timestamp, is therefore not declared.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Commits offsets for some partitions on behalf of a group member.
    pub struct OffsetCommitRequest [MessageSpec::request(ApiKey::OffsetCommit, 2, 9)] {
        /// The group.
        group_id: String [since(0)],
        /// The generation of a classic group, or the member epoch of a consumer group (v9);
        /// -1 for a commit from outside any group.
        generation_id_or_member_epoch: i32 [since(1).ignorable()] = -1,
        /// The member's id; empty for a commit from outside any group.
        member_id: String [since(1).ignorable()],
        /// The member's static id, if it has one (v7+).
        group_instance_id: Option<String> [since(7).null_since(7)],
        /// How long the broker keeps the offsets, in ms (v2–4); -1 for the broker's setting.
        retention_time_ms: i64 [between(2, 4).ignorable()] = -1,
        /// The offsets to commit, by topic.
        topics: Vec<OffsetCommitRequestTopic> [since(0)],
    }
}

structure! {
    /// The offsets to commit in one topic.
    pub struct OffsetCommitRequestTopic {
        /// The topic's name.
        name: String [since(0)],
        /// The offsets, by partition.
        partitions: Vec<OffsetCommitRequestPartition> [since(0)],
    }
}

structure! {
    /// The offset to commit for one partition.
    pub struct OffsetCommitRequestPartition {
        /// The partition's index.
        partition_index: i32 [since(0)],
        /// The offset to commit: the next record the group should consume.
        committed_offset: i64 [since(0)],
        /// The leader epoch of the last consumed record (v6+), -1 when unknown.
        committed_leader_epoch: i32 [since(6).ignorable()] = -1,
        /// Free-form metadata stored with the offset.
        committed_metadata: Option<String> [since(0).null_since(0)] = Some(String::new()),
    }
}

message! {
    /// The outcome of a commit, per partition.
    pub struct OffsetCommitResponse [MessageSpec::response(ApiKey::OffsetCommit, 2, 9)] {
        /// How long the broker delayed the answer for a quota, in milliseconds (v3+).
        throttle_time_ms: i32 [since(3).ignorable()],
        /// The outcome, by topic.
        topics: Vec<OffsetCommitResponseTopic> [since(0)],
    }
}

structure! {
    /// The outcome of a commit in one topic.
    pub struct OffsetCommitResponseTopic {
        /// The topic's name.
        name: String [since(0)],
        /// The outcome, by partition.
        partitions: Vec<OffsetCommitResponsePartition> [since(0)],
    }
}

structure! {
    /// The outcome of a commit for one partition.
    pub struct OffsetCommitResponsePartition {
        /// The partition's index.
        partition_index: i32 [since(0)],
        /// Why the offset was not committed, if it was not.
        error_code: ErrorCode [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<OffsetCommitRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<OffsetCommitResponse>(64);
    }
}

//! OffsetFetch (key 9): the committed offsets of a group (v8+: of several groups at once).
//!
//! Version 0 (deprecated) has the layout of version 1; a broker answered it from offsets kept
//! in ZooKeeper.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks the coordinator for committed offsets: of one group (`group_id` and `topics`,
    /// v0–7) or of several (`groups`, v8+).
    pub struct OffsetFetchRequest [MessageSpec::request(ApiKey::OffsetFetch, 0, 9)] {
        /// The group (v0–7).
        group_id: String [between(0, 7)],
        /// The partitions to fetch offsets for (v0–7); null (v2+) for every partition the
        /// group has offsets for.
        topics: Option<Vec<OffsetFetchRequestTopic>> [between(0, 7).null_between(2, 7)] = Some(Vec::new()),
        /// The groups and partitions to fetch offsets for (v8+).
        groups: Vec<OffsetFetchRequestGroup> [since(8)],
        /// Whether to wait for pending transactional commits to settle instead of failing the
        /// affected partitions with UNSTABLE_OFFSET_COMMIT (v7+).
        require_stable: bool [since(7)],
    }
}

structure! {
    /// The partitions of one topic to fetch offsets for (v0–7).
    pub struct OffsetFetchRequestTopic {
        /// The topic's name.
        name: String [between(0, 7)],
        /// The partitions' indexes.
        partition_indexes: Vec<i32> [between(0, 7)],
    }
}

structure! {
    /// One group to fetch offsets for (v8+).
    pub struct OffsetFetchRequestGroup {
        /// The group.
        group_id: String [since(8)],
        /// The member's id, for a member of a consumer group (v9+).
        member_id: Option<String> [since(9).null_since(9).ignorable()],
        /// The member's epoch, for a member of a consumer group (v9+); -1 otherwise.
        member_epoch: i32 [since(9).ignorable()] = -1,
        /// The partitions to fetch offsets for; null for every partition the group has
        /// offsets for.
        topics: Option<Vec<OffsetFetchRequestTopics>> [since(8).null_since(8)] = Some(Vec::new()),
    }
}

structure! {
    /// The partitions of one topic to fetch offsets for (v8+).
    pub struct OffsetFetchRequestTopics {
        /// The topic's name.
        name: String [since(8)],
        /// The partitions' indexes.
        partition_indexes: Vec<i32> [since(8)],
    }
}

message! {
    /// Committed offsets: of one group (`topics`, v0–7) or of each group asked (`groups`, v8+).
    pub struct OffsetFetchResponse [MessageSpec::response(ApiKey::OffsetFetch, 0, 9)] {
        /// How long the broker delayed the answer for a quota, in milliseconds (v3+).
        throttle_time_ms: i32 [since(3).ignorable()],
        /// The offsets, by topic (v0–7).
        topics: Vec<OffsetFetchResponseTopic> [between(0, 7)],
        /// Why the fetch failed for the whole group, if it did (v2–7).
        error_code: ErrorCode [between(2, 7).ignorable()],
        /// The offsets, by group (v8+).
        groups: Vec<OffsetFetchResponseGroup> [since(8)],
    }
}

structure! {
    /// The committed offsets in one topic (v0–7).
    pub struct OffsetFetchResponseTopic {
        /// The topic's name.
        name: String [between(0, 7)],
        /// The offsets, by partition.
        partitions: Vec<OffsetFetchResponsePartition> [between(0, 7)],
    }
}

structure! {
    /// The committed offset of one partition (v0–7).
    pub struct OffsetFetchResponsePartition {
        /// The partition's index.
        partition_index: i32 [between(0, 7)],
        /// The committed offset, -1 when there is none.
        committed_offset: i64 [between(0, 7)],
        /// The leader epoch stored with the offset (v5–7), -1 when unknown.
        committed_leader_epoch: i32 [between(5, 7).ignorable()] = -1,
        /// The metadata stored with the offset.
        metadata: Option<String> [between(0, 7).null_between(0, 7)] = Some(String::new()),
        /// Why this partition's offset could not be fetched, if it could not.
        error_code: ErrorCode [between(0, 7)],
    }
}

structure! {
    /// The committed offsets of one group (v8+).
    pub struct OffsetFetchResponseGroup {
        /// The group.
        group_id: String [since(8)],
        /// The offsets, by topic.
        topics: Vec<OffsetFetchResponseTopics> [since(8)],
        /// Why the fetch failed for the whole group, if it did.
        error_code: ErrorCode [since(8)],
    }
}

structure! {
    /// The committed offsets in one topic (v8+).
    pub struct OffsetFetchResponseTopics {
        /// The topic's name.
        name: String [since(8)],
        /// The offsets, by partition.
        partitions: Vec<OffsetFetchResponsePartitions> [since(8)],
    }
}

structure! {
    /// The committed offset of one partition (v8+).
    pub struct OffsetFetchResponsePartitions {
        /// The partition's index.
        partition_index: i32 [since(8)],
        /// The committed offset, -1 when there is none.
        committed_offset: i64 [since(8)],
        /// The leader epoch stored with the offset, -1 when unknown.
        committed_leader_epoch: i32 [since(8).ignorable()] = -1,
        /// The metadata stored with the offset.
        metadata: Option<String> [since(8).null_since(8)] = Some(String::new()),
        /// Why this partition's offset could not be fetched, if it could not.
        error_code: ErrorCode [since(8)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<OffsetFetchRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<OffsetFetchResponse>(64);
    }
}

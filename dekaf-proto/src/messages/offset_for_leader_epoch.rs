//! OffsetForLeaderEpoch (key 23): where a leader epoch ends in a partition's log, so that a
//! consumer can detect log truncation after a leader change.
//!
//! Versions 0 and 1 (deprecated) are not implemented.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks partition leaders for the end offset of a leader epoch.
    pub struct OffsetForLeaderEpochRequest [MessageSpec::request(ApiKey::OffsetForLeaderEpoch, 2, 4)] {
        /// The broker id of a follower asking (v3+); -1 for a follower's debug request, and
        /// -2 (the default) for a consumer.
        replica_id: i32 [since(3).ignorable()] = -2,
        /// The partitions to ask about, by topic.
        topics: Vec<OffsetForLeaderTopic> [since(0)],
    }
}

structure! {
    /// The partitions of one topic to ask about.
    pub struct OffsetForLeaderTopic {
        /// The topic's name.
        topic: String [since(0)],
        /// The partitions.
        partitions: Vec<OffsetForLeaderPartition> [since(0)],
    }
}

structure! {
    /// One partition to ask about.
    pub struct OffsetForLeaderPartition {
        /// The partition's index.
        partition: i32 [since(0)],
        /// The leader epoch the caller knows, to fence stale leaders or callers; -1 to skip
        /// the check.
        current_leader_epoch: i32 [since(2).ignorable()] = -1,
        /// The epoch whose end offset is wanted.
        leader_epoch: i32 [since(0)],
    }
}

message! {
    /// The end offset of the asked epoch in each partition.
    pub struct OffsetForLeaderEpochResponse [MessageSpec::response(ApiKey::OffsetForLeaderEpoch, 2, 4)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(2).ignorable()],
        /// The answers, by topic.
        topics: Vec<OffsetForLeaderTopicResult> [since(0)],
    }
}

structure! {
    /// The answers for one topic.
    pub struct OffsetForLeaderTopicResult {
        /// The topic's name.
        topic: String [since(0)],
        /// The answers, by partition.
        partitions: Vec<EpochEndOffset> [since(0)],
    }
}

structure! {
    /// Where an epoch ends in one partition.
    pub struct EpochEndOffset {
        /// Why the partition could not answer, if it could not.
        error_code: ErrorCode [since(0)],
        /// The partition's index.
        partition: i32 [since(0)],
        /// The largest epoch not above the asked one, -1 when unknown.
        leader_epoch: i32 [since(1).ignorable()] = -1,
        /// The offset just past that epoch's last record, -1 when unknown.
        end_offset: i64 [since(0)] = -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<OffsetForLeaderEpochRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<OffsetForLeaderEpochResponse>(64);
    }
}

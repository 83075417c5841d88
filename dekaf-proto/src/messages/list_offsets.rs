//! ListOffsets (key 2): find the offset of a partition at a timestamp, or at one of its ends.
//!
//! Only versions 1 to 9 are implemented, so the version-0 fields (a maximum number of offsets
//! and the old list of offsets) and the version-10 timeout are left out.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

/// Timestamp asking for the offset after the last record (the high watermark, or the last
/// stable offset when reading committed records).
pub const LATEST_TIMESTAMP: i64 = -1;
/// Timestamp asking for the log start offset.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// Timestamp asking for the offset of the record with the largest timestamp (version 7 on).
pub const MAX_TIMESTAMP: i64 = -3;
/// Timestamp asking for the first offset kept on the broker's local disk (version 8 on).
pub const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;
/// Timestamp asking for the offset after the last record moved to tiered storage (version 9
/// on).
pub const LATEST_TIERED_TIMESTAMP: i64 = -5;

message! {
    /// Asks for the offsets of partitions at given timestamps.
    ///
    /// A consumer sets `replica_id` to -1 (the default 0 names broker 0).
    pub struct ListOffsetsRequest [MessageSpec::request(ApiKey::ListOffsets, 1, 9)] {
        /// The broker id of a follower, -1 for a consumer.
        replica_id: i32 [since(0)],
        /// 0 to see every record, 1 to stop at the last stable offset.
        isolation_level: i8 [since(2)],
        /// The partitions to look up, topic by topic.
        topics: Vec<ListOffsetsTopic> [since(0)],
    }
}

structure! {
    /// The partitions to look up in one topic.
    pub struct ListOffsetsTopic {
        /// The topic name.
        name: String [since(0)],
        /// The partitions to look up.
        partitions: Vec<ListOffsetsPartition> [since(0)],
    }
}

structure! {
    /// One partition and the timestamp to look up.
    pub struct ListOffsetsPartition {
        /// The partition index.
        partition_index: i32 [since(0)],
        /// The leader epoch the client knows, -1 to skip the check.
        current_leader_epoch: i32 [since(4).ignorable()] = -1,
        /// A timestamp in milliseconds, or one of the `*_TIMESTAMP` constants of this module.
        timestamp: i64 [since(0)],
    }
}

message! {
    /// The offsets found, partition by partition.
    pub struct ListOffsetsResponse [MessageSpec::response(ApiKey::ListOffsets, 1, 9)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(2).ignorable()],
        /// The offsets, topic by topic.
        topics: Vec<ListOffsetsTopicResponse> [since(0)],
    }
}

structure! {
    /// The offsets found in one topic.
    pub struct ListOffsetsTopicResponse {
        /// The topic name.
        name: String [since(0)],
        /// The offsets, partition by partition.
        partitions: Vec<ListOffsetsPartitionResponse> [since(0)],
    }
}

structure! {
    /// The offset found for one partition.
    pub struct ListOffsetsPartitionResponse {
        /// The partition index.
        partition_index: i32 [since(0)],
        /// Why the lookup failed, or NONE.
        error_code: ErrorCode [since(0)],
        /// The timestamp of the record found, -1 when none.
        timestamp: i64 [since(1)] = -1,
        /// The offset found, -1 when none.
        offset: i64 [since(1)] = -1,
        /// The leader epoch of the offset found, -1 when unknown.
        leader_epoch: i32 [since(4)] = -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<ListOffsetsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<ListOffsetsResponse>(64);
    }
}

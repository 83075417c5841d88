//! OffsetDelete (key 47): removes a group's committed offsets of some partitions.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks the group coordinator to forget committed offsets. A partition the group still
    /// consumes (a member is subscribed to its topic) is refused with
    /// GROUP_SUBSCRIBED_TO_TOPIC.
    pub struct OffsetDeleteRequest [MessageSpec::request(ApiKey::OffsetDelete, 0, 0)] {
        /// The group.
        group_id: String [since(0)],
        /// The partitions, by topic.
        topics: Vec<OffsetDeleteRequestTopic> [since(0)],
    }
}

structure! {
    /// The partitions of one topic whose offsets to delete.
    pub struct OffsetDeleteRequestTopic {
        /// The topic name.
        name: String [since(0)],
        /// The partitions.
        partitions: Vec<OffsetDeleteRequestPartition> [since(0)],
    }
}

structure! {
    /// One partition whose offset to delete.
    pub struct OffsetDeleteRequestPartition {
        /// The partition index.
        partition_index: i32 [since(0)],
    }
}

message! {
    /// The outcome for the group, and for each partition.
    pub struct OffsetDeleteResponse [MessageSpec::response(ApiKey::OffsetDelete, 0, 0)] {
        /// Why nothing was deleted (the group is unknown, not empty of consumers, ...), or NONE.
        error_code: ErrorCode [since(0)],
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0).ignorable()],
        /// The outcome, by topic.
        topics: Vec<OffsetDeleteResponseTopic> [since(0)],
    }
}

structure! {
    /// The outcome in one topic.
    pub struct OffsetDeleteResponseTopic {
        /// The topic name.
        name: String [since(0)],
        /// The outcome, by partition.
        partitions: Vec<OffsetDeleteResponsePartition> [since(0)],
    }
}

structure! {
    /// The outcome for one partition.
    pub struct OffsetDeleteResponsePartition {
        /// The partition index.
        partition_index: i32 [since(0)],
        /// Why the offset was not deleted, or NONE.
        error_code: ErrorCode [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<OffsetDeleteRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<OffsetDeleteResponse>(64);
    }
}

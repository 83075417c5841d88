//! DeleteRecords (key 21): moves the start of partitions forward, deleting every record
//! below an offset.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Deletes the records before the given offsets; sent to each partition's leader.
    pub struct DeleteRecordsRequest [MessageSpec::request(ApiKey::DeleteRecords, 0, 2)] {
        /// The partitions, by topic.
        topics: Vec<DeleteRecordsTopic> [since(0)],
        /// How long the broker may wait for the deletion to complete, in milliseconds.
        timeout_ms: i32 [since(0)],
    }
}

structure! {
    /// The partitions of one topic to delete records from.
    pub struct DeleteRecordsTopic {
        /// Topic name.
        name: String [since(0)],
        /// One entry per partition.
        partitions: Vec<DeleteRecordsPartition> [since(0)],
    }
}

structure! {
    /// Where to cut one partition.
    pub struct DeleteRecordsPartition {
        /// Partition index.
        partition_index: i32 [since(0)],
        /// Records below this offset are deleted; -1 means the high watermark.
        offset: i64 [since(0)],
    }
}

message! {
    /// The new start of each partition.
    pub struct DeleteRecordsResponse [MessageSpec::response(ApiKey::DeleteRecords, 0, 2)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// The results, by topic.
        topics: Vec<DeleteRecordsTopicResult> [since(0)],
    }
}

structure! {
    /// The results for the partitions of one topic.
    pub struct DeleteRecordsTopicResult {
        /// Topic name.
        name: String [since(0)],
        /// One result per partition.
        partitions: Vec<DeleteRecordsPartitionResult> [since(0)],
    }
}

structure! {
    /// The result for one partition.
    pub struct DeleteRecordsPartitionResult {
        /// Partition index.
        partition_index: i32 [since(0)],
        /// The partition's low watermark (first offset kept) after the deletion.
        low_watermark: i64 [since(0)],
        /// Why the deletion failed, or `NONE`.
        error_code: ErrorCode [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<DeleteRecordsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<DeleteRecordsResponse>(64);
    }
}

//! ListOffsets (key 2): find the offset of a partition at a timestamp, or at one of its ends.
//!
//! Version 0 (deprecated) answers with a list of offsets (`old_style_offsets`) instead of one
//! offset and its timestamp.

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
    pub struct ListOffsetsRequest [MessageSpec::request(ApiKey::ListOffsets, 0, 10)] {
        /// The broker id of a follower, -1 for a consumer.
        replica_id: i32 [since(0)],
        /// 0 to see every record, 1 to stop at the last stable offset.
        isolation_level: i8 [since(2)],
        /// The partitions to look up, topic by topic.
        topics: Vec<ListOffsetsTopic> [since(0)],
        /// How long the broker may wait for offsets kept in tiered storage, in milliseconds
        /// (v10+).
        timeout_ms: i32 [since(10).ignorable()],
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
        /// How many offsets to return at most (v0 only).
        max_num_offsets: i32 [between(0, 0)] = 1,
    }
}

message! {
    /// The offsets found, partition by partition.
    pub struct ListOffsetsResponse [MessageSpec::response(ApiKey::ListOffsets, 0, 10)] {
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
        /// The offsets found (v0 only; later versions answer with `offset`).
        old_style_offsets: Vec<i64> [between(0, 0)],
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
    use crate::Message;

    #[test]
    fn request_round_trips() {
        check_round_trips::<ListOffsetsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<ListOffsetsResponse>(64);
    }

    #[test]
    fn version_0_asks_for_a_number_of_offsets_and_gets_a_list() {
        let request = ListOffsetsRequest {
            replica_id: -1,
            topics: vec![ListOffsetsTopic {
                name: "t".into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: 2,
                    timestamp: LATEST_TIMESTAMP,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut want = Vec::new();
        want.extend_from_slice(&(-1i32).to_be_bytes()); // replica id
        want.extend_from_slice(&1i32.to_be_bytes()); // one topic
        want.extend_from_slice(&[0, 1, b't']);
        want.extend_from_slice(&1i32.to_be_bytes()); // one partition
        want.extend_from_slice(&2i32.to_be_bytes());
        want.extend_from_slice(&(-1i64).to_be_bytes()); // timestamp
        want.extend_from_slice(&1i32.to_be_bytes()); // max_num_offsets
        assert_eq!(request.to_bytes(0).unwrap(), want);
        // Version 1 drops the count: 4 bytes fewer.
        assert_eq!(request.to_bytes(1).unwrap().len(), want.len() - 4);

        let mut body = Vec::new();
        body.extend_from_slice(&1i32.to_be_bytes()); // one topic
        body.extend_from_slice(&[0, 1, b't']);
        body.extend_from_slice(&1i32.to_be_bytes()); // one partition
        body.extend_from_slice(&2i32.to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes()); // error code
        body.extend_from_slice(&1i32.to_be_bytes()); // one offset
        body.extend_from_slice(&42i64.to_be_bytes());
        let response = ListOffsetsResponse::decode_exact(&body.into(), 0).unwrap();
        let partition = &response.topics[0].partitions[0];
        assert_eq!(partition.old_style_offsets, [42]);
        assert_eq!((partition.offset, partition.timestamp), (-1, -1));
    }

    #[test]
    fn version_10_carries_a_timeout() {
        let request = ListOffsetsRequest {
            timeout_ms: 500,
            ..Default::default()
        };
        let v9 = request.to_bytes(9).unwrap();
        let v10 = request.to_bytes(10).unwrap();
        assert_eq!(v10.len(), v9.len() + 4);
        assert_eq!(ListOffsetsRequest::decode_exact(&v10, 10).unwrap(), request);
    }
}

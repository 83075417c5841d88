//! Fetch (key 1): read record batches from partitions, optionally within a fetch session.
//!
//! The records travel as raw bytes (`Option<Bytes>`): zero or more encoded record batches,
//! the last one possibly cut short, read by the record-batch code, not here.

use bytes::Bytes;

use crate::wire::Uuid;
use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Reads records from partitions, starting at given offsets.
    ///
    /// Topics are named up to version 12 (`topic`) and identified by id from version 13
    /// (`topic_id`); fill in the one the chosen version carries.
    pub struct FetchRequest [MessageSpec::request(ApiKey::Fetch, 4, 17)] {
        /// The cluster id, if known (used by brokers before they register).
        cluster_id: Option<String> [since(12).null_since(12).tag(0).ignorable()],
        /// The broker id of a follower, -1 for a consumer (up to version 14).
        replica_id: i32 [between(0, 14)] = -1,
        /// The follower's id and epoch (from version 15); the default stands for a consumer.
        replica_state: ReplicaState [since(15).tag(1)],
        /// How long the broker may wait for `min_bytes` to accumulate, in milliseconds.
        max_wait_ms: i32 [since(0)],
        /// How many bytes the broker should wait for before answering.
        min_bytes: i32 [since(0)],
        /// Upper bound on the bytes of the response (the first batch may exceed it).
        max_bytes: i32 [since(3).ignorable()] = i32::MAX,
        /// 0 to read every record, 1 to read only committed transactional records.
        isolation_level: i8 [since(4).ignorable()],
        /// The fetch session id, 0 outside a session.
        session_id: i32 [since(7).ignorable()],
        /// The fetch session epoch, -1 for a full fetch that starts no session.
        session_epoch: i32 [since(7).ignorable()] = -1,
        /// The partitions to read, topic by topic.
        topics: Vec<FetchTopic> [since(0)],
        /// Partitions to drop from an incremental fetch session.
        forgotten_topics_data: Vec<ForgottenTopic> [since(7)],
        /// The consumer's rack, so the broker can point it at a nearby replica.
        rack_id: String [since(11).ignorable()],
    }
}

structure! {
    /// The id and epoch of a follower replica sending a fetch request.
    pub struct ReplicaState {
        /// The follower's broker id, -1 for a consumer.
        replica_id: i32 [since(15)] = -1,
        /// The follower's broker epoch, -1 when unknown.
        replica_epoch: i64 [since(15)] = -1,
    }
}

structure! {
    /// The partitions to read in one topic.
    pub struct FetchTopic {
        /// The topic name (up to version 12).
        topic: String [between(0, 12).ignorable()],
        /// The topic id (from version 13).
        topic_id: Uuid [since(13).ignorable()],
        /// The partitions to read.
        partitions: Vec<FetchPartition> [since(0)],
    }
}

structure! {
    /// Where to read one partition from.
    pub struct FetchPartition {
        /// The partition index.
        partition: i32 [since(0)],
        /// The leader epoch the client knows, -1 to skip the check.
        current_leader_epoch: i32 [since(9).ignorable()] = -1,
        /// The offset to read from.
        fetch_offset: i64 [since(0)],
        /// The epoch of the last record fetched, -1 when none.
        last_fetched_epoch: i32 [since(12)] = -1,
        /// The follower's log start offset; -1 for a consumer.
        log_start_offset: i64 [since(5).ignorable()] = -1,
        /// Upper bound on the bytes returned for this partition.
        partition_max_bytes: i32 [since(0)],
        /// The log directory of a fetching follower.
        replica_directory_id: Uuid [since(17).tag(0).ignorable()],
    }
}

structure! {
    /// Partitions to drop from a fetch session, in one topic.
    pub struct ForgottenTopic {
        /// The topic name (up to version 12).
        topic: String [between(7, 12).ignorable()],
        /// The topic id (from version 13).
        topic_id: Uuid [since(13).ignorable()],
        /// The partition indexes to drop.
        partitions: Vec<i32> [since(7)],
    }
}

message! {
    /// Records and positions for each partition asked for.
    pub struct FetchResponse [MessageSpec::response(ApiKey::Fetch, 4, 17)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(1).ignorable()],
        /// An error for the whole request (a fetch session error, say), or NONE.
        error_code: ErrorCode [since(7).ignorable()],
        /// The fetch session id, 0 outside a session.
        session_id: i32 [since(7)],
        /// The partitions' data, topic by topic.
        responses: Vec<FetchableTopicResponse> [since(0)],
        /// Where to reach the new leaders named in `current_leader` of failed partitions.
        node_endpoints: Vec<NodeEndpoint> [since(16).tag(0)],
    }
}

structure! {
    /// The partitions' data for one topic.
    pub struct FetchableTopicResponse {
        /// The topic name (up to version 12).
        topic: String [between(0, 12).ignorable()],
        /// The topic id (from version 13).
        topic_id: Uuid [since(13).ignorable()],
        /// The data, partition by partition.
        partitions: Vec<PartitionData> [since(0)],
    }
}

structure! {
    /// The data and positions of one partition.
    pub struct PartitionData {
        /// The partition index.
        partition_index: i32 [since(0)],
        /// Why the partition could not be read, or NONE.
        error_code: ErrorCode [since(0)],
        /// The high watermark: the offset after the last fully replicated record.
        high_watermark: i64 [since(0)],
        /// The last stable offset: below it, every transaction is decided.
        last_stable_offset: i64 [since(4).ignorable()] = -1,
        /// The log start offset.
        log_start_offset: i64 [since(5).ignorable()] = -1,
        /// For a follower whose log diverged: the largest epoch and end offset it shares.
        diverging_epoch: EpochEndOffset [since(12).tag(0)],
        /// The partition's current leader, when the error says the leader moved.
        current_leader: LeaderIdAndEpoch [since(12).tag(1)],
        /// The snapshot to fetch instead, when the offset is before the log start.
        snapshot_id: SnapshotId [since(12).tag(2)],
        /// The aborted transactions in the returned records (read-committed fetches).
        aborted_transactions: Option<Vec<AbortedTransaction>> [since(4).null_since(4).ignorable()] = Some(Vec::new()),
        /// The replica the consumer should read from next, -1 for the leader.
        preferred_read_replica: i32 [since(11)] = -1,
        /// Encoded record batches; the last one may be cut short.
        records: Option<Bytes> [since(0).null_since(0)],
    }
}

structure! {
    /// An epoch and the offset where it ends.
    pub struct EpochEndOffset {
        /// The epoch, -1 when unknown.
        epoch: i32 [since(12)] = -1,
        /// The end offset of the epoch, -1 when unknown.
        end_offset: i64 [since(12)] = -1,
    }
}

structure! {
    /// A partition leader and its epoch.
    pub struct LeaderIdAndEpoch {
        /// The leader's broker id, -1 when unknown.
        leader_id: i32 [since(12)] = -1,
        /// The leader's epoch, -1 when unknown.
        leader_epoch: i32 [since(12)] = -1,
    }
}

structure! {
    /// A snapshot of a partition, by end offset and epoch.
    pub struct SnapshotId {
        /// The snapshot's end offset, -1 when none.
        end_offset: i64 [since(0)] = -1,
        /// The snapshot's epoch, -1 when none.
        epoch: i32 [since(0)] = -1,
    }
}

structure! {
    /// A transaction aborted within the returned records.
    pub struct AbortedTransaction {
        /// The producer id of the transaction.
        producer_id: i64 [since(4)],
        /// The first offset of the transaction.
        first_offset: i64 [since(4)],
    }
}

structure! {
    /// How to reach a broker.
    pub struct NodeEndpoint {
        /// The broker id.
        node_id: i32 [since(16)],
        /// The host name.
        host: String [since(16)],
        /// The port.
        port: i32 [since(16)],
        /// The broker's rack, if it has one.
        rack: Option<String> [since(16).null_since(16)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;
    use crate::{EncodeError, Message};

    #[test]
    fn request_round_trips() {
        check_round_trips::<FetchRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<FetchResponse>(64);
    }

    #[test]
    fn a_default_consumer_request_writes_no_tagged_fields() {
        let req = FetchRequest::default();
        let bytes = req.to_bytes(15).unwrap();
        // No replica id in v15: max_wait, min_bytes, max_bytes, isolation, session id and
        // epoch, two empty compact arrays, an empty rack, and zero tagged fields.
        assert_eq!(bytes.len(), 4 + 4 + 4 + 1 + 4 + 4 + 1 + 1 + 1 + 1);
        assert_eq!(bytes.last(), Some(&0));
    }

    #[test]
    fn a_follower_state_needs_version_15() {
        let req = FetchRequest {
            replica_state: ReplicaState {
                replica_id: 3,
                replica_epoch: 7,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(matches!(
            req.to_bytes(14),
            Err(EncodeError::FieldNotInVersion { .. })
        ));
        let back = FetchRequest::decode_exact(&req.to_bytes(15).unwrap(), 15).unwrap();
        assert_eq!(back.replica_state.replica_id, 3);
    }
}

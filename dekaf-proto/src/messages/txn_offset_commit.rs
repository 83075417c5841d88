//! TxnOffsetCommit (key 28): stages consumer offsets as part of a transaction, so that they
//! become visible only if the transaction commits.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Offsets to commit within the transaction; sent to the group coordinator after
    /// `AddOffsetsToTxn`.
    pub struct TxnOffsetCommitRequest [MessageSpec::request(ApiKey::TxnOffsetCommit, 0, 4)] {
        /// The transactional id.
        transactional_id: String [since(0)],
        /// The consumer group the offsets belong to.
        group_id: String [since(0)],
        /// The producer id of the transactional id.
        producer_id: i64 [since(0)],
        /// The epoch of the producer id.
        producer_epoch: i16 [since(0)],
        /// The consumer's group generation, -1 when not fenced by generation.
        generation_id: i32 [since(3)] = -1,
        /// The consumer's member id in the group, empty when unknown.
        member_id: String [since(3)],
        /// The static member id configured by the user, if any.
        group_instance_id: Option<String> [since(3).null_since(3)],
        /// The offsets, by topic.
        topics: Vec<TxnOffsetCommitRequestTopic> [since(0)],
    }
}

structure! {
    /// Offsets to commit for the partitions of one topic.
    pub struct TxnOffsetCommitRequestTopic {
        /// Topic name.
        name: String [since(0)],
        /// One entry per partition.
        partitions: Vec<TxnOffsetCommitRequestPartition> [since(0)],
    }
}

structure! {
    /// The offset to commit for one partition.
    pub struct TxnOffsetCommitRequestPartition {
        /// Partition index.
        partition_index: i32 [since(0)],
        /// The offset of the next record to consume.
        committed_offset: i64 [since(0)],
        /// The leader epoch of the last consumed record, -1 when unknown.
        committed_leader_epoch: i32 [since(2).ignorable()] = -1,
        /// Free-form data stored with the offset.
        committed_metadata: Option<String> [since(0).null_since(0)],
    }
}

message! {
    /// Whether each partition's offset was staged.
    pub struct TxnOffsetCommitResponse [MessageSpec::response(ApiKey::TxnOffsetCommit, 0, 4)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// The results, by topic.
        topics: Vec<TxnOffsetCommitResponseTopic> [since(0)],
    }
}

structure! {
    /// The results for the partitions of one topic.
    pub struct TxnOffsetCommitResponseTopic {
        /// Topic name.
        name: String [since(0)],
        /// One result per partition.
        partitions: Vec<TxnOffsetCommitResponsePartition> [since(0)],
    }
}

structure! {
    /// The result for one partition.
    pub struct TxnOffsetCommitResponsePartition {
        /// Partition index.
        partition_index: i32 [since(0)],
        /// Why the offset was not staged, or `NONE`.
        error_code: ErrorCode [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<TxnOffsetCommitRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<TxnOffsetCommitResponse>(64);
    }
}

//! AddPartitionsToTxn (key 24): registers partitions with an ongoing transaction before the
//! producer writes to them.
//!
//! Versions 4 and up batch several transactions and are sent only between brokers; this crate
//! implements the client versions 0 to 3, whose fields the spec names `V3AndBelow…`.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Adds partitions to the transaction of a transactional producer; sent to its
    /// transaction coordinator.
    pub struct AddPartitionsToTxnRequest [MessageSpec::request(ApiKey::AddPartitionsToTxn, 0, 3)] {
        /// The transactional id (the spec's `V3AndBelowTransactionalId`).
        transactional_id: String [between(0, 3)],
        /// The producer id of the transactional id (the spec's `V3AndBelowProducerId`).
        producer_id: i64 [between(0, 3)],
        /// The epoch of the producer id (the spec's `V3AndBelowProducerEpoch`).
        producer_epoch: i16 [between(0, 3)],
        /// The partitions to add, by topic (the spec's `V3AndBelowTopics`).
        topics: Vec<AddPartitionsToTxnTopic> [between(0, 3)],
    }
}

structure! {
    /// Partitions of one topic to add to the transaction.
    pub struct AddPartitionsToTxnTopic {
        /// Topic name.
        name: String [since(0)],
        /// Partition indexes.
        partitions: Vec<i32> [since(0)],
    }
}

message! {
    /// Whether each partition joined the transaction.
    pub struct AddPartitionsToTxnResponse [MessageSpec::response(ApiKey::AddPartitionsToTxn, 0, 3)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// One result per topic of the request (the spec's `ResultsByTopicV3AndBelow`).
        results_by_topic: Vec<AddPartitionsToTxnTopicResult> [between(0, 3)],
    }
}

structure! {
    /// The results for the partitions of one topic.
    pub struct AddPartitionsToTxnTopicResult {
        /// Topic name.
        name: String [since(0)],
        /// One result per partition.
        results_by_partition: Vec<AddPartitionsToTxnPartitionResult> [since(0)],
    }
}

structure! {
    /// The result for one partition.
    pub struct AddPartitionsToTxnPartitionResult {
        /// Partition index.
        partition_index: i32 [since(0)],
        /// Why the partition was not added, or `NONE`.
        partition_error_code: ErrorCode [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<AddPartitionsToTxnRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<AddPartitionsToTxnResponse>(64);
    }
}

//! CreatePartitions (key 37): raises the partition count of existing topics.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Adds partitions to topics; sent to the controller (or any broker, which forwards it).
    pub struct CreatePartitionsRequest [MessageSpec::request(ApiKey::CreatePartitions, 0, 3)] {
        /// The topics to grow.
        topics: Vec<CreatePartitionsTopic> [since(0)],
        /// How long the broker may wait for the partitions to be created, in milliseconds.
        timeout_ms: i32 [since(0)],
        /// Only check that the request would succeed, without changing anything.
        validate_only: bool [since(0)],
    }
}

structure! {
    /// One topic to grow.
    pub struct CreatePartitionsTopic {
        /// Topic name.
        name: String [since(0)],
        /// The total number of partitions wanted (not the number to add).
        count: i32 [since(0)],
        /// The replicas of each new partition, or `None` to let the broker place them.
        assignments: Option<Vec<CreatePartitionsAssignment>> [since(0).null_since(0)],
    }
}

structure! {
    /// The replicas of one new partition.
    pub struct CreatePartitionsAssignment {
        /// The brokers that hold the replicas, preferred leader first.
        broker_ids: Vec<i32> [since(0)],
    }
}

message! {
    /// The outcome for each topic.
    pub struct CreatePartitionsResponse [MessageSpec::response(ApiKey::CreatePartitions, 0, 3)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// One result per topic.
        results: Vec<CreatePartitionsTopicResult> [since(0)],
    }
}

structure! {
    /// The outcome for one topic.
    pub struct CreatePartitionsTopicResult {
        /// Topic name.
        name: String [since(0)],
        /// Why the topic was not grown, or `NONE`.
        error_code: ErrorCode [since(0)],
        /// The broker's explanation of the error, if any.
        error_message: Option<String> [since(0).null_since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<CreatePartitionsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<CreatePartitionsResponse>(64);
    }
}

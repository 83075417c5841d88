//! CreateTopics (key 19): create topics, with their partitions, replicas and configuration.

use crate::wire::Uuid;
use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks the controller to create topics.
    pub struct CreateTopicsRequest [MessageSpec::request(ApiKey::CreateTopics, 2, 7)] {
        /// The topics to create.
        topics: Vec<CreatableTopic> [since(0)],
        /// How long to wait for the topics to be created, in milliseconds.
        timeout_ms: i32 [since(0)] = 60000,
        /// Only check that the topics could be created; create nothing.
        validate_only: bool [since(1)],
    }
}

structure! {
    /// One topic to create.
    ///
    /// Leave `num_partitions` and `replication_factor` at -1 to use the broker's defaults or
    /// an explicit `assignments`; [`CreatableTopic::new`] starts from there.
    pub struct CreatableTopic {
        /// The topic name.
        name: String [since(0)],
        /// The number of partitions, -1 for the broker's default or when `assignments` is set.
        num_partitions: i32 [since(0)],
        /// Replicas per partition, -1 for the broker's default or when `assignments` is set.
        replication_factor: i16 [since(0)],
        /// Which brokers hold each partition; empty to let the broker choose.
        assignments: Vec<CreatableReplicaAssignment> [since(0)],
        /// Topic configuration entries to set.
        configs: Vec<CreatableTopicConfig> [since(0)],
    }
}

impl CreatableTopic {
    /// A topic with the broker's default partition count and replication factor.
    pub fn new(name: impl Into<String>) -> Self {
        CreatableTopic {
            name: name.into(),
            num_partitions: -1,
            replication_factor: -1,
            ..Self::default()
        }
    }
}

structure! {
    /// The brokers that hold one partition.
    pub struct CreatableReplicaAssignment {
        /// The partition index.
        partition_index: i32 [since(0)],
        /// The broker ids of the replicas, preferred leader first.
        broker_ids: Vec<i32> [since(0)],
    }
}

structure! {
    /// One topic configuration entry.
    pub struct CreatableTopicConfig {
        /// The configuration key.
        name: String [since(0)],
        /// The value; `None` for the broker's default.
        value: Option<String> [since(0).null_since(0)] = Some(String::new()),
    }
}

message! {
    /// The outcome of creating each topic.
    pub struct CreateTopicsResponse [MessageSpec::response(ApiKey::CreateTopics, 2, 7)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(2).ignorable()],
        /// One result per topic.
        topics: Vec<CreatableTopicResult> [since(0)],
    }
}

structure! {
    /// The outcome of creating one topic.
    pub struct CreatableTopicResult {
        /// The topic name.
        name: String [since(0)],
        /// The new topic's id.
        topic_id: Uuid [since(7).ignorable()],
        /// Why the topic was not created, or NONE.
        error_code: ErrorCode [since(0)],
        /// A description of the error, if any.
        error_message: Option<String> [since(1).null_since(0).ignorable()] = Some(String::new()),
        /// Why `configs` is missing, when the broker could not list them.
        topic_config_error_code: ErrorCode [since(5).tag(0).ignorable()],
        /// The topic's partition count, -1 when unknown.
        num_partitions: i32 [since(5).ignorable()] = -1,
        /// The topic's replication factor, -1 when unknown.
        replication_factor: i16 [since(5).ignorable()] = -1,
        /// The topic's configuration, `None` when it could not be listed.
        configs: Option<Vec<CreatableTopicConfigs>> [since(5).null_since(5).ignorable()] = Some(Vec::new()),
    }
}

structure! {
    /// One configuration entry of a created topic.
    pub struct CreatableTopicConfigs {
        /// The configuration key.
        name: String [since(5)],
        /// The value, `None` when hidden or unset.
        value: Option<String> [since(5).null_since(5)] = Some(String::new()),
        /// Whether the entry cannot be changed.
        read_only: bool [since(5)],
        /// Where the value comes from (a `ConfigSource` of DescribeConfigs), -1 when unknown.
        config_source: i8 [since(5).ignorable()] = -1,
        /// Whether the value is sensitive (a password, say).
        is_sensitive: bool [since(5)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<CreateTopicsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<CreateTopicsResponse>(64);
    }
}

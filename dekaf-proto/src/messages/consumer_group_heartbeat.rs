//! ConsumerGroupHeartbeat (key 68): the single request of the consumer group protocol
//! (KIP-848), by which a member joins, heartbeats, updates its subscription, acknowledges its
//! assignment and leaves; the broker computes the assignment.

use crate::wire::Uuid;
use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// One heartbeat of a consumer group member. Fields that did not change since the last
    /// heartbeat may be sent as null (or -1).
    pub struct ConsumerGroupHeartbeatRequest [MessageSpec::request(ApiKey::ConsumerGroupHeartbeat, 0, 1)] {
        /// The group.
        group_id: String [since(0)],
        /// The member's id as the coordinator gave it (empty on the first heartbeat), kept for
        /// the member's whole life.
        member_id: String [since(0)],
        /// The member's epoch: 0 to join, -1 to leave, -2 for a static member that leaves and
        /// will come back; otherwise the epoch last received.
        member_epoch: i32 [since(0)],
        /// The member's static id, if it has one; null when unchanged.
        instance_id: Option<String> [since(0).null_since(0)],
        /// The member's rack, for rack-aware assignors; null when unchanged.
        rack_id: Option<String> [since(0).null_since(0)],
        /// The rebalance timeout in ms; -1 when unchanged.
        rebalance_timeout_ms: i32 [since(0)] = -1,
        /// The topics the member subscribes to; null when unchanged.
        subscribed_topic_names: Option<Vec<String>> [since(0).null_since(0)],
        /// A regular expression of topics to subscribe to (v1+); null when unchanged.
        subscribed_topic_regex: Option<String> [since(1).null_since(1)],
        /// The server-side assignor to use; null for the broker's default, or when unchanged.
        server_assignor: Option<String> [since(0).null_since(0)],
        /// The partitions the member owns now; null when unchanged.
        topic_partitions: Option<Vec<TopicPartitions>> [since(0).null_since(0)],
    }
}

structure! {
    /// Some partitions of one topic, by topic id.
    pub struct TopicPartitions {
        /// The topic's id.
        topic_id: Uuid [since(0)],
        /// The partitions' indexes.
        partitions: Vec<i32> [since(0)],
    }
}

message! {
    /// The broker's answer: the member's epoch and, when it changed, its new assignment.
    pub struct ConsumerGroupHeartbeatResponse [MessageSpec::response(ApiKey::ConsumerGroupHeartbeat, 0, 1)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// Why the heartbeat failed, if it did.
        error_code: ErrorCode [since(0)],
        /// A readable explanation of the error, if any.
        error_message: Option<String> [since(0).null_since(0)],
        /// The member's id, when the broker generated it.
        member_id: Option<String> [since(0).null_since(0)],
        /// The member's new epoch.
        member_epoch: i32 [since(0)],
        /// How often the member should heartbeat, in ms.
        heartbeat_interval_ms: i32 [since(0)],
        /// The member's assignment; null when it did not change.
        assignment: Option<Assignment> [since(0).null_since(0)],
    }
}

structure! {
    /// The partitions assigned to a member.
    pub struct Assignment {
        /// The assigned partitions, by topic.
        topic_partitions: Vec<TopicPartitions> [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<ConsumerGroupHeartbeatRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<ConsumerGroupHeartbeatResponse>(64);
    }
}

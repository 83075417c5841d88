//! SyncGroup (key 14): after a join, the leader hands in the assignment and every member
//! receives its own share.

use bytes::Bytes;

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Sends the leader's assignment (empty for followers) and asks for this member's part.
    pub struct SyncGroupRequest [MessageSpec::request(ApiKey::SyncGroup, 0, 5)] {
        /// The group.
        group_id: String [since(0)],
        /// The generation returned by the join.
        generation_id: i32 [since(0)],
        /// The member's id.
        member_id: String [since(0)],
        /// The member's static id, if it has one (v3+).
        group_instance_id: Option<String> [since(3).null_since(3)],
        /// The kind of group, as in the join (v5+), checked by the coordinator.
        protocol_type: Option<String> [since(5).null_since(5).ignorable()],
        /// The protocol chosen by the join (v5+), checked by the coordinator.
        protocol_name: Option<String> [since(5).null_since(5).ignorable()],
        /// The assignment of every member; only the leader sends one.
        assignments: Vec<SyncGroupRequestAssignment> [since(0)],
    }
}

structure! {
    /// The part of the assignment for one member.
    pub struct SyncGroupRequestAssignment {
        /// The member's id.
        member_id: String [since(0)],
        /// Its assignment; for consumers a
        /// [`ConsumerProtocolAssignment`](crate::consumer_protocol::ConsumerProtocolAssignment).
        assignment: Bytes [since(0)],
    }
}

message! {
    /// This member's assignment for the generation.
    pub struct SyncGroupResponse [MessageSpec::response(ApiKey::SyncGroup, 0, 5)] {
        /// How long the broker delayed the answer for a quota, in milliseconds (v1+).
        throttle_time_ms: i32 [since(1).ignorable()],
        /// Why the sync failed, if it did.
        error_code: ErrorCode [since(0)],
        /// The kind of group (v5+).
        protocol_type: Option<String> [since(5).null_since(5).ignorable()],
        /// The protocol of the generation (v5+).
        protocol_name: Option<String> [since(5).null_since(5).ignorable()],
        /// This member's assignment; for consumers a
        /// [`ConsumerProtocolAssignment`](crate::consumer_protocol::ConsumerProtocolAssignment),
        /// possibly empty when the leader gave it nothing.
        assignment: Bytes [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<SyncGroupRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<SyncGroupResponse>(64);
    }
}

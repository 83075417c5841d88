//! DescribeGroups (key 15): the state, protocol and members of classic groups.

use bytes::Bytes;

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks the coordinator of some groups to describe them.
    pub struct DescribeGroupsRequest [MessageSpec::request(ApiKey::DescribeGroups, 0, 5)] {
        /// The groups to describe.
        groups: Vec<String> [since(0)],
        /// Whether to return the operations the caller may perform on each group (v3+).
        include_authorized_operations: bool [since(3)],
    }
}

message! {
    /// One description per group asked.
    pub struct DescribeGroupsResponse [MessageSpec::response(ApiKey::DescribeGroups, 0, 5)] {
        /// How long the broker delayed the answer for a quota, in milliseconds (v1+).
        throttle_time_ms: i32 [since(1).ignorable()],
        /// The groups, in no particular order.
        groups: Vec<DescribedGroup> [since(0)],
    }
}

structure! {
    /// One group's state and members.
    pub struct DescribedGroup {
        /// Why this group could not be described, if it could not.
        error_code: ErrorCode [since(0)],
        /// The group's id.
        group_id: String [since(0)],
        /// The group's state, e.g. "Stable", "PreparingRebalance", "Empty", "Dead".
        group_state: String [since(0)],
        /// The kind of group, e.g. "consumer"; empty for a group without members.
        protocol_type: String [since(0)],
        /// The protocol of the current generation (the assignor, for consumers).
        protocol_data: String [since(0)],
        /// The members, with their metadata and assignments.
        members: Vec<DescribedGroupMember> [since(0)],
        /// A bit set of the operations the caller may perform (v3+), when asked; the minimum
        /// `i32` when not.
        authorized_operations: i32 [since(3)] = i32::MIN,
    }
}

structure! {
    /// One member of a described group.
    pub struct DescribedGroupMember {
        /// The member's id.
        member_id: String [since(0)],
        /// The member's static id, if it has one (v4+).
        group_instance_id: Option<String> [since(4).null_since(4).ignorable()],
        /// The client id the member connected with.
        client_id: String [since(0)],
        /// The host the member connected from.
        client_host: String [since(0)],
        /// The member's metadata for the group's protocol (for consumers, a subscription).
        member_metadata: Bytes [since(0)],
        /// The member's current assignment (for consumers, a consumer protocol assignment).
        member_assignment: Bytes [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<DescribeGroupsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<DescribeGroupsResponse>(64);
    }
}

//! LeaveGroup (key 13): one or more members leave a classic group, so that it rebalances
//! without waiting for their sessions to expire.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Removes members from a group: one (`member_id`, v0–2) or a batch (`members`, v3+).
    pub struct LeaveGroupRequest [MessageSpec::request(ApiKey::LeaveGroup, 0, 5)] {
        /// The group.
        group_id: String [since(0)],
        /// The id of the member leaving (v0–2).
        member_id: String [between(0, 2)],
        /// The members leaving (v3+).
        members: Vec<MemberIdentity> [since(3)],
    }
}

structure! {
    /// A member leaving the group.
    pub struct MemberIdentity {
        /// The member's id.
        member_id: String [since(3)],
        /// The member's static id, if it has one.
        group_instance_id: Option<String> [since(3).null_since(3)],
        /// Why the member leaves, for the broker's log (v5+).
        reason: Option<String> [since(5).null_since(5).ignorable()],
    }
}

message! {
    /// The outcome of a leave, for the whole request and (v3+) for each member.
    pub struct LeaveGroupResponse [MessageSpec::response(ApiKey::LeaveGroup, 0, 5)] {
        /// How long the broker delayed the answer for a quota, in milliseconds (v1+).
        throttle_time_ms: i32 [since(1).ignorable()],
        /// Why the request failed as a whole, if it did.
        error_code: ErrorCode [since(0)],
        /// The outcome for each member (v3+).
        members: Vec<MemberResponse> [since(3)],
    }
}

structure! {
    /// The outcome of the leave of one member.
    pub struct MemberResponse {
        /// The member's id.
        member_id: String [since(3)],
        /// The member's static id, if it has one.
        group_instance_id: Option<String> [since(3).null_since(3)] = Some(String::new()),
        /// Why this member could not leave, if it could not.
        error_code: ErrorCode [since(3)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<LeaveGroupRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<LeaveGroupResponse>(64);
    }
}

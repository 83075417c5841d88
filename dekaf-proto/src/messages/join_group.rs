//! JoinGroup (key 11): a member joins (or rejoins) a consumer group and proposes the protocols
//! it can run; the coordinator answers once the group's rebalance settles.

use bytes::Bytes;

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Joins a group. The first join of a new member (v4+) is answered with
    /// MEMBER_ID_REQUIRED and a member id to join again with.
    pub struct JoinGroupRequest [MessageSpec::request(ApiKey::JoinGroup, 0, 9)] {
        /// The group to join.
        group_id: String [since(0)],
        /// How long the coordinator waits for a heartbeat before removing the member, in ms.
        session_timeout_ms: i32 [since(0)],
        /// How long the coordinator waits for every member to rejoin during a rebalance, in
        /// ms (v1+; -1 means the session timeout).
        rebalance_timeout_ms: i32 [since(1).ignorable()] = -1,
        /// The member id given by the coordinator; empty on the first join.
        member_id: String [since(0)],
        /// The static member id configured by the user, if any (v5+).
        group_instance_id: Option<String> [since(5).null_since(5)],
        /// The kind of group, "consumer" for consumers.
        protocol_type: String [since(0)],
        /// The protocols (assignors) this member can run, most preferred first.
        protocols: Vec<JoinGroupRequestProtocol> [since(0)],
        /// Why the member (re)joins, for the broker's log (v8+).
        reason: Option<String> [since(8).null_since(8).ignorable()],
    }
}

structure! {
    /// One protocol a joining member supports, with its metadata.
    pub struct JoinGroupRequestProtocol {
        /// Protocol name, e.g. an assignor name such as "range".
        name: String [since(0)],
        /// The protocol's metadata; for consumers a
        /// [`ConsumerProtocolSubscription`](crate::consumer_protocol::ConsumerProtocolSubscription).
        metadata: Bytes [since(0)],
    }
}

message! {
    /// The outcome of a join: the generation, the chosen protocol, the leader, and (for the
    /// leader only) every member's metadata.
    pub struct JoinGroupResponse [MessageSpec::response(ApiKey::JoinGroup, 0, 9)] {
        /// How long the broker delayed the answer for a quota, in milliseconds (v2+).
        throttle_time_ms: i32 [since(2).ignorable()],
        /// Why the join failed, if it did.
        error_code: ErrorCode [since(0)],
        /// The generation of the group this member joined.
        generation_id: i32 [since(0)] = -1,
        /// The kind of group, as the members asked (v7+).
        protocol_type: Option<String> [since(7).null_since(7).ignorable()],
        /// The protocol the coordinator chose (null allowed from v7).
        protocol_name: Option<String> [since(0).null_since(7)] = Some(String::new()),
        /// The member id of the group leader.
        leader: String [since(0)],
        /// Set when the leader must not compute an assignment because the broker does it (v9+).
        skip_assignment: bool [since(9)],
        /// This member's id.
        member_id: String [since(0)],
        /// Every member of the group with its metadata; empty unless this member leads.
        members: Vec<JoinGroupResponseMember> [since(0)],
    }
}

structure! {
    /// A member of the group, as the leader sees it.
    pub struct JoinGroupResponseMember {
        /// The member's id.
        member_id: String [since(0)],
        /// The member's static id, if it has one (v5+).
        group_instance_id: Option<String> [since(5).null_since(5).ignorable()],
        /// The member's metadata for the chosen protocol.
        metadata: Bytes [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<JoinGroupRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<JoinGroupResponse>(64);
    }
}

//! Heartbeat (key 12): a member of a classic group tells the coordinator it is alive, and
//! learns whether a rebalance has started.

use crate::{message, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Keeps a member's session alive for the current generation.
    pub struct HeartbeatRequest [MessageSpec::request(ApiKey::Heartbeat, 0, 4)] {
        /// The group.
        group_id: String [since(0)],
        /// The generation the member believes is current.
        generation_id: i32 [since(0)],
        /// The member's id.
        member_id: String [since(0)],
        /// The member's static id, if it has one (v3+).
        group_instance_id: Option<String> [since(3).null_since(3)],
    }
}

message! {
    /// The coordinator's answer: REBALANCE_IN_PROGRESS means the member must rejoin.
    pub struct HeartbeatResponse [MessageSpec::response(ApiKey::Heartbeat, 0, 4)] {
        /// How long the broker delayed the answer for a quota, in milliseconds (v1+).
        throttle_time_ms: i32 [since(1).ignorable()],
        /// Why the heartbeat failed, if it did.
        error_code: ErrorCode [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<HeartbeatRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<HeartbeatResponse>(64);
    }
}

//! FindCoordinator (key 10): which broker coordinates a consumer group or a transactional id.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks any broker where the coordinator for a group (or transactional id) lives.
    ///
    /// Versions 0–3 look up one key (`key`); version 4 and later look up a batch
    /// (`coordinator_keys`).
    pub struct FindCoordinatorRequest [MessageSpec::request(ApiKey::FindCoordinator, 0, 6)] {
        /// The key to look up (v0–3): a group id, or a transactional id.
        key: String [between(0, 3)],
        /// What the key is: 0 for a group, 1 for a transaction (v1+).
        key_type: i8 [since(1)],
        /// The keys to look up in one request (v4+), all of `key_type`.
        coordinator_keys: Vec<String> [since(4)],
    }
}

message! {
    /// Where the coordinator is, for one key (v0–3) or for each key asked (v4+).
    pub struct FindCoordinatorResponse [MessageSpec::response(ApiKey::FindCoordinator, 0, 6)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(1).ignorable()],
        /// Why the lookup failed, if it did (v0–3).
        error_code: ErrorCode [between(0, 3)],
        /// A readable explanation of the error, if any (v1–3).
        error_message: Option<String> [between(1, 3).null_between(1, 3).ignorable()] = Some(String::new()),
        /// Broker id of the coordinator (v0–3).
        node_id: i32 [between(0, 3)],
        /// Host name of the coordinator (v0–3).
        host: String [between(0, 3)],
        /// Port of the coordinator (v0–3).
        port: i32 [between(0, 3)],
        /// One answer per key asked (v4+).
        coordinators: Vec<Coordinator> [since(4)],
    }
}

structure! {
    /// The coordinator for one key of a batched lookup.
    pub struct Coordinator {
        /// The key this answer is for.
        key: String [since(4)],
        /// Broker id of the coordinator.
        node_id: i32 [since(4)],
        /// Host name of the coordinator.
        host: String [since(4)],
        /// Port of the coordinator.
        port: i32 [since(4)],
        /// Why the lookup of this key failed, if it did.
        error_code: ErrorCode [since(4)],
        /// A readable explanation of the error, if any.
        error_message: Option<String> [since(4).null_since(4).ignorable()] = Some(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<FindCoordinatorRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<FindCoordinatorResponse>(64);
    }
}

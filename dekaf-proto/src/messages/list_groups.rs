//! ListGroups (key 16): the groups a broker coordinates.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Lists the groups a broker coordinates, optionally filtered.
    pub struct ListGroupsRequest [MessageSpec::request(ApiKey::ListGroups, 0, 5)] {
        /// Only groups in one of these states (v4+); empty for all.
        states_filter: Vec<String> [since(4)],
        /// Only groups of one of these types, e.g. "classic" or "consumer" (v5+); empty for all.
        types_filter: Vec<String> [since(5)],
    }
}

message! {
    /// The groups a broker coordinates.
    pub struct ListGroupsResponse [MessageSpec::response(ApiKey::ListGroups, 0, 5)] {
        /// How long the broker delayed the answer for a quota, in milliseconds (v1+).
        throttle_time_ms: i32 [since(1).ignorable()],
        /// Why the listing failed, if it did.
        error_code: ErrorCode [since(0)],
        /// The groups.
        groups: Vec<ListedGroup> [since(0)],
    }
}

structure! {
    /// One group in a listing.
    pub struct ListedGroup {
        /// The group's id.
        group_id: String [since(0)],
        /// The kind of group, e.g. "consumer"; empty for a group without members.
        protocol_type: String [since(0)],
        /// The group's state (v4+).
        group_state: String [since(4).ignorable()],
        /// The group's type, e.g. "classic" or "consumer" (v5+).
        group_type: String [since(5).ignorable()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<ListGroupsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<ListGroupsResponse>(64);
    }
}

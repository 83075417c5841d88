//! DeleteGroups (key 42): removes empty groups and their committed offsets.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Deletes groups that have no members.
    pub struct DeleteGroupsRequest [MessageSpec::request(ApiKey::DeleteGroups, 0, 2)] {
        /// The groups to delete (the spec spells the field `GroupsNames`).
        groups_names: Vec<String> [since(0)],
    }
}

message! {
    /// The outcome for each group.
    pub struct DeleteGroupsResponse [MessageSpec::response(ApiKey::DeleteGroups, 0, 2)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// The outcome, by group.
        results: Vec<DeletableGroupResult> [since(0)],
    }
}

structure! {
    /// The outcome of deleting one group.
    pub struct DeletableGroupResult {
        /// The group.
        group_id: String [since(0)],
        /// Why the group was not deleted (e.g. NON_EMPTY_GROUP), if it was not.
        error_code: ErrorCode [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<DeleteGroupsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<DeleteGroupsResponse>(64);
    }
}

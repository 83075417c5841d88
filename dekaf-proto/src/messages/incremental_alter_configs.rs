//! IncrementalAlterConfigs (key 44): set, delete, append to or subtract from configuration
//! entries, leaving the others as they are.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

/// `config_operation`: set the entry to the value.
pub const OP_SET: i8 = 0;
/// `config_operation`: remove the entry (it falls back to the next level's value).
pub const OP_DELETE: i8 = 1;
/// `config_operation`: add the value to a list entry.
pub const OP_APPEND: i8 = 2;
/// `config_operation`: remove the value from a list entry.
pub const OP_SUBTRACT: i8 = 3;

message! {
    /// Asks to change some configuration entries of some resources.
    ///
    /// A broker's own configuration only changes on that broker: send the request to it.
    pub struct IncrementalAlterConfigsRequest [MessageSpec::request(ApiKey::IncrementalAlterConfigs, 0, 1)] {
        /// The changes, by resource.
        resources: Vec<AlterConfigsResource> [since(0)],
        /// Only check that the changes would be accepted; change nothing.
        validate_only: bool [since(0)],
    }
}

structure! {
    /// The changes to one resource.
    pub struct AlterConfigsResource {
        /// The kind of resource (the `RESOURCE_*` constants of
        /// [`describe_configs`](super::describe_configs)).
        resource_type: i8 [since(0)],
        /// The resource's name: a topic name, or a broker's node id.
        resource_name: String [since(0)],
        /// The changes.
        configs: Vec<AlterableConfig> [since(0)],
    }
}

structure! {
    /// One change to one entry.
    pub struct AlterableConfig {
        /// The configuration key.
        name: String [since(0)],
        /// What to do: one of the `OP_*` constants of this module.
        config_operation: i8 [since(0)],
        /// The value to set, append or subtract; `None` for a delete.
        value: Option<String> [since(0).null_since(0)] = Some(String::new()),
    }
}

message! {
    /// The outcome for each resource.
    pub struct IncrementalAlterConfigsResponse [MessageSpec::response(ApiKey::IncrementalAlterConfigs, 0, 1)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// One outcome per resource.
        responses: Vec<AlterConfigsResourceResponse> [since(0)],
    }
}

structure! {
    /// The outcome for one resource: all of its changes were made, or none.
    pub struct AlterConfigsResourceResponse {
        /// Why the changes were refused, or NONE.
        error_code: ErrorCode [since(0)],
        /// The broker's explanation of the error, if any.
        error_message: Option<String> [since(0).null_since(0)] = Some(String::new()),
        /// The kind of resource.
        resource_type: i8 [since(0)],
        /// The resource's name.
        resource_name: String [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<IncrementalAlterConfigsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<IncrementalAlterConfigsResponse>(64);
    }
}

//! DescribeConfigs (key 32): the configuration of topics, brokers and other resources.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

/// `resource_type` of a topic.
pub const RESOURCE_TOPIC: i8 = 2;
/// `resource_type` of a broker (the resource name is its node id, in decimal).
pub const RESOURCE_BROKER: i8 = 4;
/// `resource_type` of a broker's loggers (the resource name is its node id, in decimal).
pub const RESOURCE_BROKER_LOGGER: i8 = 8;

message! {
    /// Asks for the configuration of some resources.
    ///
    /// A broker's own configuration (type [`RESOURCE_BROKER`]) is only known to that broker:
    /// send the request to it.
    pub struct DescribeConfigsRequest [MessageSpec::request(ApiKey::DescribeConfigs, 0, 4)] {
        /// The resources to describe.
        resources: Vec<DescribeConfigsResource> [since(0)],
        /// Whether to list each entry's synonyms, the values it would take from other
        /// levels (v1+).
        include_synonyms: bool [since(1)],
        /// Whether to include each entry's documentation (v3+).
        include_documentation: bool [since(3)],
    }
}

structure! {
    /// One resource to describe.
    pub struct DescribeConfigsResource {
        /// The kind of resource: one of the `RESOURCE_*` constants of this module.
        resource_type: i8 [since(0)],
        /// The resource's name: a topic name, or a broker's node id.
        resource_name: String [since(0)],
        /// The configuration keys to list; `None` for all of them.
        configuration_keys: Option<Vec<String>> [since(0).null_since(0)] = Some(Vec::new()),
    }
}

message! {
    /// The configuration of each resource asked.
    pub struct DescribeConfigsResponse [MessageSpec::response(ApiKey::DescribeConfigs, 0, 4)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// One result per resource.
        results: Vec<DescribeConfigsResult> [since(0)],
    }
}

structure! {
    /// The configuration of one resource.
    pub struct DescribeConfigsResult {
        /// Why this resource could not be described, or NONE.
        error_code: ErrorCode [since(0)],
        /// The broker's explanation of the error, if any.
        error_message: Option<String> [since(0).null_since(0)] = Some(String::new()),
        /// The kind of resource.
        resource_type: i8 [since(0)],
        /// The resource's name.
        resource_name: String [since(0)],
        /// The entries.
        configs: Vec<DescribeConfigsResourceResult> [since(0)],
    }
}

structure! {
    /// One configuration entry.
    pub struct DescribeConfigsResourceResult {
        /// The configuration key.
        name: String [since(0)],
        /// The value; `None` when it is sensitive or not set.
        value: Option<String> [since(0).null_since(0)] = Some(String::new()),
        /// Whether the entry cannot be changed.
        read_only: bool [since(0)],
        /// Whether the entry has its default value (v0 only; later versions say where the
        /// value comes from in `config_source`).
        is_default: bool [between(0, 0)],
        /// Where the value comes from (v1+): 1 a topic's own setting, 2 a broker's dynamic
        /// setting, 3 the cluster's dynamic default, 4 the broker's static file, 5 the
        /// built-in default, 6 a dynamic logger setting; 0 unknown, -1 not sent.
        config_source: i8 [since(1).ignorable()] = -1,
        /// Whether the value is sensitive (a password, say).
        is_sensitive: bool [since(0)],
        /// The values the entry would take from other levels, most specific first (v1+).
        synonyms: Vec<DescribeConfigsSynonym> [since(1).ignorable()],
        /// The value's type (v3+): 1 boolean, 2 string, 3 int, 4 short, 5 long, 6 double,
        /// 7 list, 8 class, 9 password; 0 unknown.
        config_type: i8 [since(3).ignorable()],
        /// What the entry is for (v3+), when asked.
        documentation: Option<String> [since(3).null_since(0).ignorable()] = Some(String::new()),
    }
}

structure! {
    /// A value one configuration entry would take from one level.
    pub struct DescribeConfigsSynonym {
        /// The key at that level (a broker-level name may differ from the topic-level one).
        name: String [since(1)],
        /// The value at that level; `None` when sensitive.
        value: Option<String> [since(1).null_since(0)] = Some(String::new()),
        /// The level, as `config_source` numbers them.
        source: i8 [since(1)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;
    use crate::{EncodeError, Message};

    #[test]
    fn request_round_trips() {
        check_round_trips::<DescribeConfigsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<DescribeConfigsResponse>(64);
    }

    #[test]
    fn version_0_says_whether_a_value_is_the_default() {
        let entry = |is_default| DescribeConfigsResponse {
            results: vec![DescribeConfigsResult {
                error_message: None,
                resource_type: RESOURCE_TOPIC,
                resource_name: "t".into(),
                configs: vec![DescribeConfigsResourceResult {
                    name: "k".into(),
                    value: Some("v".into()),
                    is_default,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut want = Vec::new();
        want.extend_from_slice(&0i32.to_be_bytes()); // throttle time
        want.extend_from_slice(&1i32.to_be_bytes()); // one result
        want.extend_from_slice(&0i16.to_be_bytes()); // error code
        want.extend_from_slice(&(-1i16).to_be_bytes()); // null error message
        want.push(2); // topic
        want.extend_from_slice(&[0, 1, b't']);
        want.extend_from_slice(&1i32.to_be_bytes()); // one entry
        want.extend_from_slice(&[0, 1, b'k', 0, 1, b'v']);
        want.extend_from_slice(&[0, 1, 0]); // read only, is default, sensitive
        assert_eq!(entry(true).to_bytes(0).unwrap(), want);
        // From version 1 the source says it: `is_default` cannot be written.
        assert!(matches!(
            entry(true).to_bytes(1),
            Err(EncodeError::FieldNotInVersion { .. })
        ));
        assert!(entry(false).to_bytes(1).is_ok());
    }

    #[test]
    fn synonyms_and_documentation_need_their_versions() {
        let synonyms = DescribeConfigsRequest {
            include_synonyms: true,
            ..Default::default()
        };
        assert!(matches!(
            synonyms.to_bytes(0),
            Err(EncodeError::FieldNotInVersion { .. })
        ));
        assert!(synonyms.to_bytes(1).is_ok());
        let documentation = DescribeConfigsRequest {
            include_documentation: true,
            ..Default::default()
        };
        assert!(documentation.to_bytes(2).is_err());
        assert!(documentation.to_bytes(3).is_ok());
    }
}

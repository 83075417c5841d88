//! DeleteTopics (key 20): delete topics, by name or (from version 6) by id.

use crate::wire::Uuid;
use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks the controller to delete topics.
    ///
    /// Up to version 5 the topics are names in `topic_names`; from version 6 they are entries
    /// of `topics`, each a name or an id. A version drops `topic_names` when it does not carry
    /// it, but refuses a non-empty `topics`.
    pub struct DeleteTopicsRequest [MessageSpec::request(ApiKey::DeleteTopics, 0, 6)] {
        /// The topics to delete (from version 6).
        topics: Vec<DeleteTopicState> [since(6)],
        /// The names of the topics to delete (up to version 5).
        topic_names: Vec<String> [between(0, 5).ignorable()],
        /// How long to wait for the deletions, in milliseconds.
        timeout_ms: i32 [since(0)],
    }
}

structure! {
    /// A topic to delete, by name or by id.
    pub struct DeleteTopicState {
        /// The topic name, `None` when the topic is given by id.
        name: Option<String> [since(6).null_since(6)],
        /// The topic id, zero when the topic is given by name.
        topic_id: Uuid [since(6)],
    }
}

message! {
    /// The outcome of deleting each topic.
    pub struct DeleteTopicsResponse [MessageSpec::response(ApiKey::DeleteTopics, 0, 6)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(1).ignorable()],
        /// One result per topic.
        responses: Vec<DeletableTopicResult> [since(0)],
    }
}

structure! {
    /// The outcome of deleting one topic.
    pub struct DeletableTopicResult {
        /// The topic name; `None` (from version 6) for an unknown topic given by id.
        name: Option<String> [since(0).null_since(6)] = Some(String::new()),
        /// The topic id.
        topic_id: Uuid [since(6).ignorable()],
        /// Why the topic was not deleted, or NONE.
        error_code: ErrorCode [since(0)],
        /// A description of the error, if any.
        error_message: Option<String> [since(5).null_since(5).ignorable()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;
    use crate::{EncodeError, Message};

    #[test]
    fn request_round_trips() {
        check_round_trips::<DeleteTopicsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<DeleteTopicsResponse>(64);
    }

    #[test]
    fn topic_states_need_version_6() {
        let req = DeleteTopicsRequest {
            topics: vec![DeleteTopicState {
                name: Some("t".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(matches!(
            req.to_bytes(5),
            Err(EncodeError::FieldNotInVersion { .. })
        ));
        assert!(req.to_bytes(6).is_ok());
    }
}

//! Metadata (key 3): the brokers of the cluster, and the partitions and leaders of topics.

use crate::wire::Uuid;
use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks a broker for the cluster's brokers and for the partitions of some or all topics.
    ///
    /// `topics: None` (from version 1) asks for every topic; the default, an empty list, asks
    /// for none. [`MetadataRequest::all_topics`] and [`MetadataRequest::for_topics`] build the
    /// two usual requests.
    pub struct MetadataRequest [MessageSpec::request(ApiKey::Metadata, 0, 12)] {
        /// The topics to describe; `None` for all topics, an empty list for brokers only.
        topics: Option<Vec<MetadataRequestTopic>> [since(0).null_since(1)] = Some(Vec::new()),
        /// Whether the broker may create requested topics that do not exist (if it is
        /// configured to).
        allow_auto_topic_creation: bool [since(4)] = true,
        /// Ask for the operations this client may perform on the cluster.
        include_cluster_authorized_operations: bool [between(8, 10)],
        /// Ask for the operations this client may perform on each topic.
        include_topic_authorized_operations: bool [since(8)],
    }
}

structure! {
    /// A topic to describe, by name or (from version 10) by id.
    pub struct MetadataRequestTopic {
        /// The topic id; zero when the topic is named.
        topic_id: Uuid [since(10).ignorable()],
        /// The topic name; `None` (from version 10) when the topic is given by id.
        name: Option<String> [since(0).null_since(10)] = Some(String::new()),
    }
}

impl MetadataRequest {
    /// A request for every topic of the cluster (needs version 1 or later).
    pub fn all_topics() -> Self {
        MetadataRequest {
            topics: None,
            ..Self::default()
        }
    }

    /// A request for the named topics only.
    pub fn for_topics<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let topics = names
            .into_iter()
            .map(|name| MetadataRequestTopic {
                name: Some(name.into()),
                ..MetadataRequestTopic::default()
            })
            .collect();
        MetadataRequest {
            topics: Some(topics),
            ..Self::default()
        }
    }
}

message! {
    /// The brokers of the cluster, its controller, and the requested topics' partitions.
    pub struct MetadataResponse [MessageSpec::response(ApiKey::Metadata, 0, 12)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(3).ignorable()],
        /// Every live broker of the cluster.
        brokers: Vec<MetadataResponseBroker> [since(0)],
        /// The id of the cluster, if the broker knows it.
        cluster_id: Option<String> [since(2).null_since(2).ignorable()],
        /// The id of the controller broker, -1 when unknown.
        controller_id: i32 [since(1).ignorable()] = -1,
        /// One entry per requested topic (or per topic of the cluster).
        topics: Vec<MetadataResponseTopic> [since(0)],
        /// Bit set of the operations this client may perform on the cluster; `i32::MIN` when
        /// not requested.
        cluster_authorized_operations: i32 [between(8, 10)] = i32::MIN,
    }
}

structure! {
    /// One broker: its id and where to connect.
    pub struct MetadataResponseBroker {
        /// The broker id.
        node_id: i32 [since(0)],
        /// The host name to connect to.
        host: String [since(0)],
        /// The port to connect to.
        port: i32 [since(0)],
        /// The broker's rack, if it has one.
        rack: Option<String> [since(1).null_since(1).ignorable()],
    }
}

structure! {
    /// One topic: its error, id and partitions.
    pub struct MetadataResponseTopic {
        /// Why the topic could not be described, or NONE.
        error_code: ErrorCode [since(0)],
        /// The topic name; `None` (from version 12) for an unknown topic asked for by id.
        name: Option<String> [since(0).null_since(12)] = Some(String::new()),
        /// The topic id; zero for an unknown topic asked for by name.
        topic_id: Uuid [since(10).ignorable()],
        /// Whether the topic is internal to Kafka (offsets, transactions).
        is_internal: bool [since(1).ignorable()],
        /// One entry per partition.
        partitions: Vec<MetadataResponsePartition> [since(0)],
        /// Bit set of the operations this client may perform on the topic; `i32::MIN` when
        /// not requested.
        topic_authorized_operations: i32 [since(8)] = i32::MIN,
    }
}

structure! {
    /// One partition: its leader and replicas.
    pub struct MetadataResponsePartition {
        /// Why the partition could not be described, or NONE.
        error_code: ErrorCode [since(0)],
        /// The partition index.
        partition_index: i32 [since(0)],
        /// The id of the leader broker, -1 when there is none.
        leader_id: i32 [since(0)],
        /// The leader's epoch, -1 when unknown.
        leader_epoch: i32 [since(7).ignorable()] = -1,
        /// Every broker holding a replica.
        replica_nodes: Vec<i32> [since(0)],
        /// The replicas in sync with the leader.
        isr_nodes: Vec<i32> [since(0)],
        /// The replicas that are offline.
        offline_replicas: Vec<i32> [since(5).ignorable()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;
    use crate::Message;

    #[test]
    fn request_round_trips() {
        check_round_trips::<MetadataRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<MetadataResponse>(64);
    }

    #[test]
    fn all_topics_is_null_from_v1_and_refused_in_v0() {
        let req = MetadataRequest::all_topics();
        // v1: topics is a null array (int32 -1), then nothing else until v4.
        assert_eq!(&req.to_bytes(1).unwrap()[..], &[0xff, 0xff, 0xff, 0xff]);
        // v9 (flexible): compact null array, auto-create flag, authorized-operations flags,
        // empty tagged-field section.
        assert_eq!(&req.to_bytes(9).unwrap()[..], &[0, 1, 0, 0, 0]);
        assert!(req.to_bytes(0).is_err());
    }

    #[test]
    fn for_topics_names_each_topic() {
        let req = MetadataRequest::for_topics(["a", "b"]);
        let back = MetadataRequest::decode_exact(&req.to_bytes(12).unwrap(), 12).unwrap();
        let names: Vec<_> = back
            .topics
            .unwrap()
            .into_iter()
            .map(|t| t.name.unwrap())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}

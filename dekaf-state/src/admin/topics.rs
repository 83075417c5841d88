//! Topics and the cluster: Metadata, CreateTopics, DeleteTopics, CreatePartitions and
//! DescribeCluster, written per version and read back into one result per item.

use std::collections::BTreeMap;

use dekaf_proto::messages::create_partitions::CreatePartitionsTopic;
use dekaf_proto::messages::create_topics::{CreatableTopic, CreatableTopicConfig};
use dekaf_proto::messages::delete_topics::DeleteTopicState;
use dekaf_proto::messages::metadata::MetadataResponseTopic;
use dekaf_proto::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeClusterRequest,
    MetadataResponse, RequestBody, ResponseBody,
};
use dekaf_proto::ApiKey;

use super::{answer, fan_out, AdminError, Outcome};
use super::{
    BrokerDescription, ClusterDescription, CreatedTopic, NewPartitions, NewTopic,
    PartitionDescription, TopicDescription, TopicListing,
};
use crate::client::{BrokerAddress, BrokerId, ClientRequest};
use crate::consumer::requests::{epoch_or_none, metadata, metadata_all};

/// Metadata for `topics`, never creating one (v1–v12).
pub fn metadata_request(topics: Vec<String>) -> ClientRequest {
    metadata(topics)
}

/// Metadata for every topic, never creating one (v1–v12).
pub fn all_topics_request() -> ClientRequest {
    metadata_all()
}

/// Metadata for no topic: the brokers, the controller and the cluster id (v1–v12).
pub fn brokers_request() -> ClientRequest {
    metadata(Vec::new())
}

/// The Metadata answer, or why there is none.
pub fn read_metadata(outcome: Outcome) -> Result<MetadataResponse, AdminError> {
    answer(outcome, |b| match b {
        ResponseBody::Metadata(m) => Some(m),
        _ => None,
    })
    .map(|(m, _)| m)
}

fn topic_id(t: &MetadataResponseTopic) -> Option<dekaf_proto::wire::Uuid> {
    (!t.topic_id.is_zero()).then_some(t.topic_id)
}

/// The topics of an all-topics Metadata answer, by name; internal ones only when asked.
pub fn read_topic_listings(
    metadata: &MetadataResponse,
    include_internal: bool,
) -> Vec<TopicListing> {
    let mut out: Vec<TopicListing> = metadata
        .topics
        .iter()
        .filter(|t| t.error_code.is_ok() && (include_internal || !t.is_internal))
        .filter_map(|t| {
            Some(TopicListing {
                name: t.name.clone()?,
                topic_id: topic_id(t),
                is_internal: t.is_internal,
                partitions: t.partitions.len(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// One description per topic asked, from a Metadata answer for them.
pub fn read_topic_descriptions(
    asked: &[String],
    outcome: Outcome,
) -> BTreeMap<String, Result<TopicDescription, AdminError>> {
    let metadata = match read_metadata(outcome) {
        Ok(m) => m,
        Err(e) => return fan_out(asked.iter().cloned(), e),
    };
    asked
        .iter()
        .map(|name| (name.clone(), describe_topic(&metadata, name)))
        .collect()
}

/// The description of `name` in `metadata`, or why there is none.
pub fn describe_topic(
    metadata: &MetadataResponse,
    name: &str,
) -> Result<TopicDescription, AdminError> {
    let t = metadata
        .topics
        .iter()
        .find(|t| t.name.as_deref() == Some(name))
        .ok_or(AdminError::Missing)?;
    t.error_code.into_result()?;
    let mut partitions: Vec<PartitionDescription> = t
        .partitions
        .iter()
        .map(|p| PartitionDescription {
            partition: p.partition_index,
            leader: (p.leader_id >= 0).then_some(p.leader_id),
            leader_epoch: epoch_or_none(p.leader_epoch),
            replicas: p.replica_nodes.clone(),
            isr: p.isr_nodes.clone(),
            offline_replicas: p.offline_replicas.clone(),
            error: (!p.error_code.is_ok()).then_some(p.error_code),
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);
    Ok(TopicDescription {
        name: name.to_owned(),
        topic_id: topic_id(t),
        is_internal: t.is_internal,
        partitions,
    })
}

/// The cluster as a Metadata answer describes it.
pub fn cluster_from_metadata(metadata: &MetadataResponse) -> ClusterDescription {
    let mut brokers: Vec<BrokerDescription> = metadata
        .brokers
        .iter()
        .map(|b| BrokerDescription {
            id: b.node_id,
            host: b.host.clone(),
            port: b.port,
            rack: b.rack.clone(),
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    ClusterDescription {
        cluster_id: metadata.cluster_id.clone(),
        controller: (metadata.controller_id >= 0).then_some(metadata.controller_id),
        brokers,
    }
}

/// DescribeCluster for the brokers (v0–v1).
pub fn describe_cluster_request() -> ClientRequest {
    ClientRequest::new(ApiKey::DescribeCluster, 0, 1, |_| {
        RequestBody::DescribeCluster(DescribeClusterRequest::default())
    })
}

/// The cluster as a DescribeCluster answer describes it.
pub fn read_describe_cluster(outcome: Outcome) -> Result<ClusterDescription, AdminError> {
    let (resp, _) = answer(outcome, |b| match b {
        ResponseBody::DescribeCluster(r) => Some(r),
        _ => None,
    })?;
    AdminError::code_with(resp.error_code, &resp.error_message)?;
    let mut brokers: Vec<BrokerDescription> = resp
        .brokers
        .iter()
        .map(|b| BrokerDescription {
            id: b.broker_id,
            host: b.host.clone(),
            port: b.port,
            rack: b.rack.clone(),
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    Ok(ClusterDescription {
        cluster_id: Some(resp.cluster_id.clone()).filter(|id| !id.is_empty()),
        controller: (resp.controller_id >= 0).then_some(resp.controller_id),
        brokers,
    })
}

/// The broker addresses an answer names: the brokers of Metadata and DescribeCluster, the
/// coordinators of FindCoordinator. A client learns where to send requests for a node id
/// from these.
pub fn broker_addresses(body: &ResponseBody) -> Vec<(BrokerId, BrokerAddress)> {
    let address = |host: &str, port: i32| {
        u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .map(|port| BrokerAddress {
                host: host.to_owned(),
                port,
            })
    };
    let mut out = Vec::new();
    match body {
        ResponseBody::Metadata(m) => {
            for b in &m.brokers {
                out.extend(address(&b.host, b.port).map(|a| (b.node_id, a)));
            }
        }
        ResponseBody::DescribeCluster(d) => {
            for b in &d.brokers {
                out.extend(address(&b.host, b.port).map(|a| (b.broker_id, a)));
            }
        }
        ResponseBody::FindCoordinator(f) => {
            if f.error_code.is_ok() && f.node_id >= 0 {
                out.extend(address(&f.host, f.port).map(|a| (f.node_id, a)));
            }
            for c in &f.coordinators {
                if c.error_code.is_ok() && c.node_id >= 0 {
                    out.extend(address(&c.host, c.port).map(|a| (c.node_id, a)));
                }
            }
        }
        _ => {}
    }
    out
}

/// CreateTopics for `topics` (v2–v7), waiting at most `timeout_ms` for them.
pub fn create_topics_request(
    topics: Vec<NewTopic>,
    timeout_ms: i32,
    validate_only: bool,
) -> ClientRequest {
    ClientRequest::new(ApiKey::CreateTopics, 2, 7, move |_| {
        RequestBody::CreateTopics(CreateTopicsRequest {
            topics: topics
                .iter()
                .map(|t| CreatableTopic {
                    num_partitions: t.partitions,
                    replication_factor: t.replication_factor,
                    configs: t
                        .configs
                        .iter()
                        .map(|(name, value)| CreatableTopicConfig {
                            name: name.clone(),
                            value: Some(value.clone()),
                            ..Default::default()
                        })
                        .collect(),
                    ..CreatableTopic::new(t.name.clone())
                })
                .collect(),
            timeout_ms,
            validate_only,
            ..Default::default()
        })
    })
}

/// One outcome per topic asked, from a CreateTopics answer.
pub fn read_create_topics(
    asked: &[String],
    outcome: Outcome,
) -> BTreeMap<String, Result<CreatedTopic, AdminError>> {
    let resp = match answer(outcome, |b| match b {
        ResponseBody::CreateTopics(r) => Some(r),
        _ => None,
    }) {
        Ok((r, _)) => r,
        Err(e) => return fan_out(asked.iter().cloned(), e),
    };
    let mut out = fan_out(asked.iter().cloned(), AdminError::Missing);
    for t in &resp.topics {
        let Some(slot) = out.get_mut(&t.name) else {
            continue;
        };
        *slot = AdminError::code_with(t.error_code, &t.error_message).map(|()| CreatedTopic {
            topic_id: (!t.topic_id.is_zero()).then_some(t.topic_id),
            partitions: (t.num_partitions >= 0).then_some(t.num_partitions),
            replication_factor: (t.replication_factor >= 0).then_some(t.replication_factor),
        });
    }
    out
}

/// DeleteTopics for `names` (v0–v6; by name in `topics` from v6), waiting at most
/// `timeout_ms`.
pub fn delete_topics_request(names: Vec<String>, timeout_ms: i32) -> ClientRequest {
    ClientRequest::new(ApiKey::DeleteTopics, 0, 6, move |v| {
        RequestBody::DeleteTopics(if v >= 6 {
            DeleteTopicsRequest {
                topics: names
                    .iter()
                    .map(|name| DeleteTopicState {
                        name: Some(name.clone()),
                        ..Default::default()
                    })
                    .collect(),
                timeout_ms,
                ..Default::default()
            }
        } else {
            DeleteTopicsRequest {
                topic_names: names.clone(),
                timeout_ms,
                ..Default::default()
            }
        })
    })
}

/// One outcome per topic asked, from a DeleteTopics answer.
pub fn read_delete_topics(
    asked: &[String],
    outcome: Outcome,
) -> BTreeMap<String, Result<(), AdminError>> {
    let resp = match answer(outcome, |b| match b {
        ResponseBody::DeleteTopics(r) => Some(r),
        _ => None,
    }) {
        Ok((r, _)) => r,
        Err(e) => return fan_out(asked.iter().cloned(), e),
    };
    let mut out = fan_out(asked.iter().cloned(), AdminError::Missing);
    for t in &resp.responses {
        let Some(slot) = t.name.as_ref().and_then(|n| out.get_mut(n)) else {
            continue;
        };
        *slot = AdminError::code_with(t.error_code, &t.error_message);
    }
    out
}

/// CreatePartitions for `topics` (v0–v3), waiting at most `timeout_ms`.
pub fn create_partitions_request(
    topics: Vec<NewPartitions>,
    timeout_ms: i32,
    validate_only: bool,
) -> ClientRequest {
    ClientRequest::new(ApiKey::CreatePartitions, 0, 3, move |_| {
        RequestBody::CreatePartitions(CreatePartitionsRequest {
            topics: topics
                .iter()
                .map(|t| CreatePartitionsTopic {
                    name: t.topic.clone(),
                    count: t.total,
                    assignments: None,
                    ..Default::default()
                })
                .collect(),
            timeout_ms,
            validate_only,
            ..Default::default()
        })
    })
}

/// One outcome per topic asked, from a CreatePartitions answer.
pub fn read_create_partitions(
    asked: &[String],
    outcome: Outcome,
) -> BTreeMap<String, Result<(), AdminError>> {
    let resp = match answer(outcome, |b| match b {
        ResponseBody::CreatePartitions(r) => Some(r),
        _ => None,
    }) {
        Ok((r, _)) => r,
        Err(e) => return fan_out(asked.iter().cloned(), e),
    };
    let mut out = fan_out(asked.iter().cloned(), AdminError::Missing);
    for t in &resp.results {
        if let Some(slot) = out.get_mut(&t.name) {
            *slot = AdminError::code_with(t.error_code, &t.error_message);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Response;
    use dekaf_proto::messages::create_topics::CreatableTopicResult;
    use dekaf_proto::messages::delete_topics::DeletableTopicResult;
    use dekaf_proto::messages::find_coordinator::Coordinator;
    use dekaf_proto::messages::metadata::{MetadataResponseBroker, MetadataResponsePartition};
    use dekaf_proto::messages::{
        CreateTopicsResponse, DeleteTopicsResponse, FindCoordinatorResponse,
    };
    use dekaf_proto::ErrorCode;

    use super::super::tests::writes_in_every_version;

    fn ok(version: i16, body: impl Into<ResponseBody>) -> Outcome {
        Ok(Response {
            version,
            body: body.into(),
        })
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_request_writes_in_every_version_of_its_range() {
        writes_in_every_version(&metadata_request(names(&["a"])));
        writes_in_every_version(&all_topics_request());
        writes_in_every_version(&describe_cluster_request());
        writes_in_every_version(&create_topics_request(
            vec![NewTopic::new("a", 3).config("cleanup.policy", "compact")],
            1000,
            true,
        ));
        writes_in_every_version(&delete_topics_request(names(&["a", "b"]), 1000));
        writes_in_every_version(&create_partitions_request(
            vec![NewPartitions::increase_to("a", 4)],
            1000,
            false,
        ));
    }

    #[test]
    fn deletion_names_topics_in_the_field_of_each_version() {
        let request = delete_topics_request(names(&["a"]), 5);
        let RequestBody::DeleteTopics(v5) = request.body(5) else {
            panic!()
        };
        assert_eq!(v5.topic_names, ["a"]);
        assert!(v5.topics.is_empty());
        let RequestBody::DeleteTopics(v6) = request.body(6) else {
            panic!()
        };
        assert!(v6.topic_names.is_empty());
        assert_eq!(v6.topics[0].name.as_deref(), Some("a"));
    }

    fn metadata_with(topics: Vec<MetadataResponseTopic>) -> MetadataResponse {
        MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 7,
                host: "h".into(),
                port: 9092,
                ..Default::default()
            }],
            controller_id: 7,
            cluster_id: Some("c".into()),
            topics,
            ..Default::default()
        }
    }

    fn topic(name: &str, code: ErrorCode, partitions: i32) -> MetadataResponseTopic {
        MetadataResponseTopic {
            name: Some(name.into()),
            error_code: code,
            partitions: (0..partitions)
                .rev()
                .map(|p| MetadataResponsePartition {
                    partition_index: p,
                    leader_id: if p == 1 { -1 } else { 7 },
                    leader_epoch: 4,
                    replica_nodes: vec![7],
                    isr_nodes: vec![7],
                    error_code: if p == 1 {
                        ErrorCode::LEADER_NOT_AVAILABLE
                    } else {
                        ErrorCode::NONE
                    },
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn each_topic_asked_gets_its_own_description_or_error() {
        let metadata = metadata_with(vec![
            topic("a", ErrorCode::NONE, 2),
            topic("gone", ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, 0),
        ]);
        let out = read_topic_descriptions(&names(&["a", "gone", "unmentioned"]), ok(12, metadata));
        let a = out["a"].as_ref().unwrap();
        assert_eq!(a.partitions.len(), 2);
        assert_eq!(a.partitions[0].partition, 0, "sorted by index");
        assert_eq!(a.partitions[0].leader, Some(7));
        assert_eq!(a.partitions[0].leader_epoch, Some(4));
        assert_eq!(a.partitions[1].leader, None);
        assert_eq!(a.partitions[1].error, Some(ErrorCode::LEADER_NOT_AVAILABLE));
        assert_eq!(
            out["gone"].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
        assert_eq!(out["unmentioned"], Err(AdminError::Missing));
    }

    #[test]
    fn a_failed_request_fails_every_item_it_carried() {
        let out = read_delete_topics(
            &names(&["a", "b"]),
            Err(crate::client::RequestFailed::TimedOut),
        );
        assert_eq!(out.len(), 2);
        assert!(out.values().all(|r| r.as_ref().unwrap_err().is_retriable()));
    }

    #[test]
    fn listings_skip_internal_topics_unless_asked() {
        let mut internal = topic("__consumer_offsets", ErrorCode::NONE, 1);
        internal.is_internal = true;
        let metadata = metadata_with(vec![topic("b", ErrorCode::NONE, 3), internal]);
        let names = |v: Vec<TopicListing>| v.into_iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(names(read_topic_listings(&metadata, false)), ["b"]);
        assert_eq!(
            names(read_topic_listings(&metadata, true)),
            ["__consumer_offsets", "b"]
        );
        let cluster = cluster_from_metadata(&metadata);
        assert_eq!(cluster.controller, Some(7));
        assert_eq!(cluster.cluster_id.as_deref(), Some("c"));
        assert_eq!(cluster.brokers[0].host, "h");
    }

    #[test]
    fn creation_and_deletion_results_carry_the_brokers_reasons() {
        let created = read_create_topics(
            &names(&["new", "old"]),
            ok(
                7,
                CreateTopicsResponse {
                    topics: vec![
                        CreatableTopicResult {
                            name: "new".into(),
                            num_partitions: 3,
                            replication_factor: 1,
                            ..Default::default()
                        },
                        CreatableTopicResult {
                            name: "old".into(),
                            error_code: ErrorCode::TOPIC_ALREADY_EXISTS,
                            error_message: Some("Topic 'old' already exists.".into()),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                },
            ),
        );
        assert_eq!(created["new"].as_ref().unwrap().partitions, Some(3));
        let refused = created["old"].as_ref().unwrap_err();
        assert_eq!(refused.code(), Some(ErrorCode::TOPIC_ALREADY_EXISTS));
        assert!(refused.to_string().contains("already exists"), "{refused}");

        let deleted = read_delete_topics(
            &names(&["a"]),
            ok(
                6,
                DeleteTopicsResponse {
                    responses: vec![DeletableTopicResult {
                        name: Some("a".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ),
        );
        assert_eq!(deleted["a"], Ok(()));
    }

    #[test]
    fn addresses_come_from_metadata_and_coordinator_answers() {
        let metadata = ResponseBody::Metadata(metadata_with(Vec::new()));
        assert_eq!(
            broker_addresses(&metadata),
            [(
                7,
                BrokerAddress {
                    host: "h".into(),
                    port: 9092
                }
            )]
        );
        let found = ResponseBody::FindCoordinator(FindCoordinatorResponse {
            coordinators: vec![
                Coordinator {
                    key: "g".into(),
                    node_id: 3,
                    host: "c".into(),
                    port: 1,
                    ..Default::default()
                },
                Coordinator {
                    key: "h".into(),
                    node_id: -1,
                    error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        assert_eq!(broker_addresses(&found).len(), 1);
    }
}

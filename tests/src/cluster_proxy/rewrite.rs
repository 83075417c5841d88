//! The answers that describe the cluster, rewritten to describe the pretended one: Metadata
//! (brokers, partition leaders and the proxy's leader epochs), FindCoordinator and
//! DescribeCluster.

use dekaf_proto::messages::describe_cluster::DescribeClusterBroker;
use dekaf_proto::messages::metadata::MetadataResponseBroker;
use dekaf_proto::messages::{DescribeClusterResponse, FindCoordinatorResponse, MetadataResponse};

use super::model::{CoordinatorKind, Model};

/// Metadata: the proxy's brokers, and each partition led by the broker the proxy chose, at
/// the proxy's epoch.
pub(crate) fn metadata(model: &mut Model, answer: &mut MetadataResponse) {
    answer.brokers = model
        .brokers
        .iter()
        .enumerate()
        .map(|(i, b)| MetadataResponseBroker {
            node_id: Model::id(i),
            host: b.addr.ip().to_string(),
            port: i32::from(b.addr.port()),
            ..Default::default()
        })
        .collect();
    answer.controller_id = Model::id(0);
    for topic in &mut answer.topics {
        let Some(name) = topic.name.clone() else {
            continue;
        };
        if !topic.error_code.is_ok() {
            continue;
        }
        model.learn_topic_id(topic.topic_id, &name);
        for p in &mut topic.partitions {
            if !p.error_code.is_ok() || p.leader_id < 0 {
                continue;
            }
            let (leader, epoch) = model.learn_partition(&name, p.partition_index, p.leader_epoch);
            p.leader_id = leader;
            p.leader_epoch = epoch;
            p.replica_nodes = model.replicas(&name, p.partition_index);
            p.isr_nodes = p.replica_nodes.clone();
            p.offline_replicas.clear();
        }
    }
}

/// FindCoordinator: the coordinator the proxy placed for each key. `key` is the request's
/// key for versions 0 to 3 (later versions name the key in each answer).
pub(crate) fn find_coordinator(
    model: &mut Model,
    answer: &mut FindCoordinatorResponse,
    kind: CoordinatorKind,
    key: &str,
    version: i16,
) {
    if version < 4 {
        if answer.error_code.is_ok() {
            let id = model.coordinator(kind, key);
            if let Some(i) = model.index(id) {
                let addr = model.brokers[i].addr;
                answer.node_id = id;
                answer.host = addr.ip().to_string();
                answer.port = i32::from(addr.port());
            }
        }
        return;
    }
    for c in &mut answer.coordinators {
        if !c.error_code.is_ok() {
            continue;
        }
        let id = model.coordinator(kind, &c.key);
        if let Some(i) = model.index(id) {
            let addr = model.brokers[i].addr;
            c.node_id = id;
            c.host = addr.ip().to_string();
            c.port = i32::from(addr.port());
        }
    }
}

/// DescribeCluster: the proxy's brokers.
pub(crate) fn describe_cluster(model: &Model, answer: &mut DescribeClusterResponse) {
    if !answer.error_code.is_ok() {
        return;
    }
    answer.controller_id = Model::id(0);
    answer.brokers = model
        .brokers
        .iter()
        .enumerate()
        .map(|(i, b)| DescribeClusterBroker {
            broker_id: Model::id(i),
            host: b.addr.ip().to_string(),
            port: i32::from(b.addr.port()),
            ..Default::default()
        })
        .collect();
}

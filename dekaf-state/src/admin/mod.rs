//! The admin client's requests and answers, without IO: each call is a few requests, each
//! written per version (a [`ClientRequest`](crate::client::ClientRequest)) and read back into one result per item asked —
//! a topic, a resource, a group, a partition — so that one failing item never hides the
//! others.
//!
//! A driver sends each request to its destination and hands the outcome to the matching
//! `read_*` function:
//!
//! - topics and the cluster ([`metadata_request`], [`read_topic_descriptions`],
//!   [`create_topics_request`], [`delete_topics_request`], [`create_partitions_request`],
//!   [`describe_cluster_request`]) go to any broker;
//! - configurations ([`describe_configs_request`], [`alter_configs_request`]) go to any broker
//!   for topics and to the broker itself for a broker's settings ([`route_resources`]);
//! - group requests ([`describe_groups_request`], [`delete_groups_request`],
//!   [`offset_fetch_request`], [`offset_fetch_groups_request`], [`offset_commit_request`],
//!   [`offset_delete_request`]) go to the group's coordinator, found with
//!   [`find_coordinator_request`]; [`list_groups_request`] goes to every broker;
//! - [`list_offsets_request`] goes to each partition leader, as [`plan_list_offsets`] batches
//!   the lookups from a Metadata answer.
//!
//! [`group_lag`] puts a group's committed offsets, its members' assignments and the
//! partitions' end offsets together. [`broker_addresses`] gives the addresses an answer names,
//! for a driver to route requests for a node id.

mod configs;
mod error;
mod groups;
mod offsets;
mod topics;
mod types;

use std::collections::BTreeMap;

use dekaf_proto::messages::ResponseBody;

use crate::client::{RequestFailed, Response};

pub use configs::{
    alter_configs_request, describe_configs_request, read_alter_configs, read_describe_configs,
    route_resources, ResourceRoutes,
};
pub use error::AdminError;
pub use groups::{
    check_group_empty, delete_groups_request, describe_groups_request, find_coordinator_request,
    list_groups_request, offset_commit_request, offset_delete_request, offset_fetch_groups_request,
    offset_fetch_request, read_delete_groups, read_describe_groups, read_find_coordinator,
    read_list_groups, read_offset_commit, read_offset_delete, read_offset_fetch,
    read_offset_fetch_groups,
};
pub use offsets::{
    group_lag, lag_partitions, list_offsets_request, plan_list_offsets, read_list_offsets,
    unknown_partitions, ListOffsetsPlan,
};
pub use topics::{
    all_topics_request, broker_addresses, brokers_request, cluster_from_metadata,
    create_partitions_request, create_topics_request, delete_topics_request,
    describe_cluster_request, describe_topic, metadata_request, read_create_partitions,
    read_create_topics, read_delete_topics, read_describe_cluster, read_metadata,
    read_topic_descriptions, read_topic_listings,
};
pub use types::{
    AlterConfigOp, AlterConfigOpType, AlterOptions, BrokerDescription, ClusterDescription,
    ConfigEntry, ConfigResource, ConfigResourceKind, ConfigSource, ConfigSynonym, ConfigType,
    CreatedTopic, GroupDescription, GroupFilter, GroupLag, GroupListing, GroupListings,
    GroupOffsetsQuery, GroupResults, GroupState, MemberDescription, NewPartitions, NewTopic,
    OffsetQuery, PartitionDescription, PartitionLag, PartitionResults, TopicDescription,
    TopicListing,
};

/// What a request came back with: the answer, or why there is none.
pub type Outcome = Result<Response, RequestFailed>;

/// The body `pick` takes from an answer, with the version it was written in. A body of
/// another API (which a driver never delivers) counts as an answer that says nothing.
fn answer<T>(
    outcome: Outcome,
    pick: impl FnOnce(ResponseBody) -> Option<T>,
) -> Result<(T, i16), AdminError> {
    let response = outcome?;
    let version = response.version;
    pick(response.body)
        .map(|t| (t, version))
        .ok_or(AdminError::Missing)
}

/// The same error for every key.
fn fan_out<K: Ord, T>(
    keys: impl IntoIterator<Item = K>,
    error: AdminError,
) -> BTreeMap<K, Result<T, AdminError>> {
    keys.into_iter().map(|k| (k, Err(error.clone()))).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use bytes::BytesMut;

    use crate::client::ClientRequest;

    /// Every version in the request's range writes without error.
    pub(crate) fn writes_in_every_version(request: &ClientRequest) {
        let (lo, hi) = request.versions();
        assert!(lo <= hi, "{request:?}");
        for v in lo..=hi {
            let mut buf = BytesMut::new();
            request
                .body(v)
                .encode(&mut buf, v)
                .unwrap_or_else(|e| panic!("{request:?} v{v}: {e}"));
        }
    }
}

//! Topics, configurations and the cluster.

use std::collections::BTreeMap;

use dekaf_state::admin::{self as plan, AdminError};
use dekaf_state::client::Destination;

use super::{
    Admin, AlterConfigOp, AlterOptions, ClusterDescription, ConfigEntry, ConfigResource,
    CreatedTopic, NewPartitions, NewTopic, TopicDescription, TopicListing,
};
use crate::Error;

impl Admin {
    /// The cluster's topics, by name; the internal ones (`__consumer_offsets`...) only with
    /// `include_internal`.
    pub async fn list_topics(&self, include_internal: bool) -> Result<Vec<TopicListing>, Error> {
        let outcome = self
            .send(Destination::AnyBroker, plan::all_topics_request())
            .await?;
        let metadata = plan::read_metadata(outcome)?;
        Ok(plan::read_topic_listings(&metadata, include_internal))
    }

    /// Each topic's partitions, with their leader, leader epoch, replicas and in-sync
    /// replicas; an unknown topic is an UNKNOWN_TOPIC_OR_PARTITION error of its own (the call
    /// never creates topics).
    pub async fn describe_topics<I, S>(
        &self,
        topics: I,
    ) -> Result<BTreeMap<String, Result<TopicDescription, AdminError>>, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = topics.into_iter().map(Into::into).collect();
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let outcome = self
            .send(
                Destination::AnyBroker,
                plan::metadata_request(names.clone()),
            )
            .await?;
        Ok(plan::read_topic_descriptions(&names, outcome))
    }

    /// Creates topics (or, with [`AlterOptions::validate_only`], checks that they could be
    /// created); the broker has the request timeout to do it.
    pub async fn create_topics(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
        options: AlterOptions,
    ) -> Result<BTreeMap<String, Result<CreatedTopic, AdminError>>, Error> {
        let topics: Vec<NewTopic> = topics.into_iter().collect();
        if topics.is_empty() {
            return Ok(BTreeMap::new());
        }
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        let request = plan::create_topics_request(topics, self.timeout_ms(), options.validate_only);
        let outcome = self.send(Destination::AnyBroker, request).await?;
        Ok(plan::read_create_topics(&names, outcome))
    }

    /// Creates one topic; fails with the broker's code (e.g. TOPIC_ALREADY_EXISTS) when it
    /// refuses.
    pub async fn create_topic(&self, topic: NewTopic) -> Result<(), Error> {
        let name = topic.name.clone();
        let mut created = self.create_topics([topic], AlterOptions::apply()).await?;
        match created.remove(&name) {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.into()),
            None => Err(AdminError::Missing.into()),
        }
    }

    /// Deletes topics, with their records; the broker has the request timeout to do it.
    pub async fn delete_topics<I, S>(
        &self,
        topics: I,
    ) -> Result<BTreeMap<String, Result<(), AdminError>>, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = topics.into_iter().map(Into::into).collect();
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let request = plan::delete_topics_request(names.clone(), self.timeout_ms());
        let outcome = self.send(Destination::AnyBroker, request).await?;
        Ok(plan::read_delete_topics(&names, outcome))
    }

    /// Adds partitions to existing topics (a partition count never shrinks).
    pub async fn create_partitions(
        &self,
        topics: impl IntoIterator<Item = NewPartitions>,
        options: AlterOptions,
    ) -> Result<BTreeMap<String, Result<(), AdminError>>, Error> {
        let topics: Vec<NewPartitions> = topics.into_iter().collect();
        if topics.is_empty() {
            return Ok(BTreeMap::new());
        }
        let names: Vec<String> = topics.iter().map(|t| t.topic.clone()).collect();
        let request =
            plan::create_partitions_request(topics, self.timeout_ms(), options.validate_only);
        let outcome = self.send(Destination::AnyBroker, request).await?;
        Ok(plan::read_create_partitions(&names, outcome))
    }

    /// The cluster id, the controller and the brokers: from DescribeCluster, or from
    /// Metadata where the broker does not support DescribeCluster.
    pub async fn describe_cluster(&self) -> Result<ClusterDescription, Error> {
        let outcome = self
            .send(Destination::AnyBroker, plan::describe_cluster_request())
            .await?;
        match plan::read_describe_cluster(outcome) {
            Err(AdminError::Unsupported(_)) => {
                let outcome = self
                    .send(Destination::AnyBroker, plan::brokers_request())
                    .await?;
                let metadata = plan::read_metadata(outcome)?;
                Ok(plan::cluster_from_metadata(&metadata))
            }
            result => Ok(result?),
        }
    }

    /// Every configuration entry of each resource, by name, with where its value comes from
    /// and its synonyms. A broker's own settings are asked of that broker.
    pub async fn describe_configs(
        &self,
        resources: impl IntoIterator<Item = ConfigResource>,
    ) -> Result<BTreeMap<ConfigResource, Result<Vec<ConfigEntry>, AdminError>>, Error> {
        let (routes, refused) = plan::route_resources(resources.into_iter().map(|r| (r, ())));
        self.learn_brokers_for(routes.keys()).await?;
        let asked: Vec<Vec<ConfigResource>> = routes
            .values()
            .map(|items| items.iter().map(|(r, ())| r.clone()).collect())
            .collect();
        let requests = routes
            .keys()
            .zip(&asked)
            .map(|(broker, resources)| {
                (
                    destination(*broker),
                    plan::describe_configs_request(resources.clone()),
                )
            })
            .collect::<Vec<_>>();
        let outcomes = self.send_all(requests).await?;
        let mut out: BTreeMap<_, _> = refused.into_iter().map(|(r, e)| (r, Err(e))).collect();
        for (resources, outcome) in asked.iter().zip(outcomes) {
            out.extend(plan::read_describe_configs(resources, outcome));
        }
        Ok(out)
    }

    /// Changes configuration entries, each resource's changes all together or not at all,
    /// leaving the entries not named as they are (or, with
    /// [`AlterOptions::validate_only`], checks that the changes would be accepted). A broker's
    /// own settings are changed on that broker.
    pub async fn incremental_alter_configs(
        &self,
        changes: impl IntoIterator<Item = (ConfigResource, Vec<AlterConfigOp>)>,
        options: AlterOptions,
    ) -> Result<BTreeMap<ConfigResource, Result<(), AdminError>>, Error> {
        let (routes, refused) = plan::route_resources(changes);
        self.learn_brokers_for(routes.keys()).await?;
        let mut out: BTreeMap<_, _> = refused.into_iter().map(|(r, e)| (r, Err(e))).collect();
        let mut asked = Vec::new();
        let mut requests = Vec::new();
        for (broker, items) in routes {
            asked.push(items.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>());
            requests.push((
                destination(broker),
                plan::alter_configs_request(items, options.validate_only),
            ));
        }
        let outcomes = self.send_all(requests).await?;
        for (resources, outcome) in asked.iter().zip(outcomes) {
            out.extend(plan::read_alter_configs(resources, outcome));
        }
        Ok(out)
    }
}

impl Admin {
    /// Asks for the brokers' addresses before requests go to brokers by node id (a broker
    /// not in the answer fails its requests as disconnected).
    async fn learn_brokers_for(
        &self,
        routes: impl IntoIterator<Item = &Option<i32>>,
    ) -> Result<(), Error> {
        if routes.into_iter().any(Option::is_some) {
            // The answer teaches the driver's machine the addresses; a failure shows in the
            // requests that follow.
            let _ = self
                .send(Destination::AnyBroker, plan::brokers_request())
                .await?;
        }
        Ok(())
    }
}

/// Where a configuration request goes: to the broker it is about, else anywhere.
fn destination(broker: Option<i32>) -> Destination {
    broker.map_or(Destination::AnyBroker, Destination::Broker)
}

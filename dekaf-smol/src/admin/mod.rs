//! The admin client: [`Admin`], built with [`AdminBuilder`].
//!
//! The types its calls take and give back live here too; they come from
//! [`dekaf_state::admin`], where each call's requests are written and its answers read without
//! IO.

mod builder;
mod groups;
mod machine;
mod offsets;
mod topics;

use std::sync::Arc;
use std::time::Duration;

use async_channel::Receiver;
use dekaf_state::client::{ClientRequest, Destination};

pub use builder::AdminBuilder;
pub use dekaf_state::admin::{
    AdminError, AlterConfigOp, AlterConfigOpType, AlterOptions, BrokerDescription,
    ClusterDescription, ConfigEntry, ConfigResource, ConfigResourceKind, ConfigSource,
    ConfigSynonym, ConfigType, CreatedTopic, GroupDescription, GroupFilter, GroupLag, GroupListing,
    GroupListings, GroupOffsetsQuery, GroupResults, GroupState, MemberDescription, NewPartitions,
    NewTopic, OffsetQuery, PartitionDescription, PartitionLag, PartitionResults, TopicDescription,
    TopicListing,
};
pub use dekaf_state::offset::ListedOffset;

use machine::AdminMachine;

use crate::glue::Link;
use crate::metrics::AdminMetrics;
use crate::side::{probe_request, Outcome};
use crate::{Config, Error, Handle};

/// Administers a cluster: topics, configurations, groups and their offsets.
///
/// Every call that takes several items (topics, partitions, groups, resources) answers for
/// each of them: one that fails carries its own [`AdminError`] and hides none of the others'
/// results. The outer `Result` fails only when the call as a whole cannot go on (the client
/// shut down, say).
///
/// ```no_run
/// use dekaf_smol::admin::{AlterOptions, GroupOffsetsQuery, NewTopic, OffsetQuery};
/// use dekaf_smol::{Admin, IsolationLevel, TopicPartition};
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let admin = Admin::builder()
///     .bootstrap_servers("localhost:9092")
///     .build()
///     .await?;
/// let created = admin
///     .create_topics([NewTopic::new("orders", 3).replication_factor(1)], AlterOptions::apply())
///     .await?;
/// for (topic, result) in &created {
///     match result {
///         Ok(_) => println!("{topic}: created"),
///         Err(e) => println!("{topic}: {e}"),
///     }
/// }
/// let ends = admin
///     .list_offsets([(TopicPartition::new("orders", 0), OffsetQuery::Latest)], IsolationLevel::ReadUncommitted)
///     .await?;
/// for row in admin.group_lag("billing", IsolationLevel::ReadCommitted).await?.partitions {
///     println!("{}: lag {:?}, owned by {:?}", row.partition, row.lag, row.owner);
/// }
/// let committed = admin.list_group_offsets([GroupOffsetsQuery::all("billing")]).await?;
/// # let _ = (ends, committed);
/// # Ok(()) }
/// ```
///
/// # Calls
///
/// - Topics: [`list_topics`](Self::list_topics), [`describe_topics`](Self::describe_topics),
///   [`create_topics`](Self::create_topics), [`delete_topics`](Self::delete_topics),
///   [`create_partitions`](Self::create_partitions).
/// - Configurations: [`describe_configs`](Self::describe_configs),
///   [`incremental_alter_configs`](Self::incremental_alter_configs).
/// - The cluster: [`describe_cluster`](Self::describe_cluster).
/// - Groups: [`list_groups`](Self::list_groups), [`describe_groups`](Self::describe_groups),
///   [`delete_groups`](Self::delete_groups).
/// - Group offsets: [`list_group_offsets`](Self::list_group_offsets),
///   [`alter_group_offsets`](Self::alter_group_offsets),
///   [`delete_group_offsets`](Self::delete_group_offsets), [`group_lag`](Self::group_lag).
/// - Partition offsets: [`list_offsets`](Self::list_offsets).
///
/// Requests about topics go to any broker; a broker's own configuration to that broker;
/// offset lookups to each partition's leader, in one request per leader; group requests to
/// the group's coordinator, found first and found again (up to three tries) when it moved.
/// A broker that lacks an API a call needs makes that call's items fail with
/// [`AdminError::Unsupported`].
#[derive(Debug)]
pub struct Admin {
    handle: Handle<AdminMachine>,
    request_timeout: Duration,
    /// How long `connect` waits for a broker.
    connect_timeout: Duration,
    /// The bootstrap servers and the last connection failure, for `ready`'s errors.
    link: Arc<Link>,
}

impl Admin {
    /// Settings for an admin client, to [`build`](AdminBuilder::build).
    pub fn builder() -> AdminBuilder {
        AdminBuilder::default()
    }

    /// Connects to one of `bootstrap_servers` (`host:port`, comma-separated) with the default
    /// settings, waiting at most 10 s for one to answer (a [`build`](AdminBuilder::build)
    /// and then [`ready`](Self::ready)); the driver runs on a thread of its own.
    pub async fn connect(bootstrap_servers: impl AsRef<str>) -> Result<Admin, Error> {
        Admin::builder()
            .bootstrap_servers(bootstrap_servers)
            .build()
            .await?
            .connected()
            .await
    }

    /// Connects with these connection settings (security protocol, TLS, timeouts), waiting
    /// at most the connect timeout for a bootstrap server to answer.
    pub async fn connect_with(config: Config) -> Result<Admin, Error> {
        AdminBuilder::from_config(config)
            .build()
            .await?
            .connected()
            .await
    }

    /// This client once a broker answered within the connect timeout; stopped otherwise.
    async fn connected(self) -> Result<Admin, Error> {
        match self.ready(self.connect_timeout).await {
            Ok(()) => Ok(self),
            Err(e) => {
                self.handle.shutdown();
                Err(e)
            }
        }
    }

    /// A snapshot of the admin client's connections: state, requests, latency per API,
    /// bytes.
    pub async fn metrics(&self) -> Result<AdminMetrics, Error> {
        Ok(AdminMetrics {
            brokers: self.handle.connection_metrics().await?,
        })
    }

    /// Waits until a broker of the cluster answers, at most `timeout`: for an application
    /// that would rather fail at start-up than at its first call when the cluster cannot be
    /// reached. Fails with [`Error::NoBrokerAvailable`] (with the last connection failure as
    /// its cause) after `timeout`, and at once on a failure no retry fixes (credentials or a
    /// certificate refused).
    pub async fn ready(&self, timeout: Duration) -> Result<(), Error> {
        self.link
            .ready(timeout, || {
                self.submit(Destination::AnyBroker, probe_request())
            })
            .await
    }

    /// Queues `request` for `destination`; the receiver gets its outcome.
    fn submit(
        &self,
        destination: Destination,
        request: ClientRequest,
    ) -> Result<Receiver<Outcome>, Error> {
        let (tx, rx) = async_channel::bounded(1);
        self.handle.execute(move |m: &mut AdminMachine, _| {
            m.side.submit_to(destination, request, tx);
        })?;
        Ok(rx)
    }

    /// Sends `request` and waits for its outcome.
    async fn send(
        &self,
        destination: Destination,
        request: ClientRequest,
    ) -> Result<Outcome, Error> {
        let rx = self.submit(destination, request)?;
        rx.recv().await.map_err(|_| Error::Shutdown)
    }

    /// Sends every request at once and waits for all their outcomes, in the same order.
    async fn send_all(
        &self,
        requests: impl IntoIterator<Item = (Destination, ClientRequest)>,
    ) -> Result<Vec<Outcome>, Error> {
        let waiting: Vec<Receiver<Outcome>> = requests
            .into_iter()
            .map(|(destination, request)| self.submit(destination, request))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(waiting.len());
        for rx in waiting {
            out.push(rx.recv().await.map_err(|_| Error::Shutdown)?);
        }
        Ok(out)
    }

    /// The request timeout in milliseconds, as topic creation and deletion carry it.
    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.request_timeout.as_millis()).unwrap_or(i32::MAX)
    }

    /// Stops the driver and closes the connections; requests in flight are abandoned.
    /// Dropping the client does the same.
    pub fn close(&self) {
        self.handle.shutdown();
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

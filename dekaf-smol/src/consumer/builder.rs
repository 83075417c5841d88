//! Settings of a consumer, checked by `build()`.

use std::sync::Arc;
use std::time::Duration;

use dekaf_state::assignor::Assignor;
use dekaf_state::consumer::{ConsumerConfig, IsolationLevel};
use dekaf_state::display::HumanDuration;
use dekaf_state::group::{builtin_assignor, GroupProtocol};
use dekaf_state::offset::{AckMode, AutoOffsetReset, CommitPolicy, OffsetCommitMode};

use super::rebalance::{DynListener, NoopListener, RebalanceListener};
use super::Consumer;
use crate::{Config, Error, SaslSettings, SecurityProtocol, Spawner, TlsSettings, Transport};

/// Group membership settings, used by [`Consumer::subscribe`]; a consumer given partitions
/// with [`Consumer::assign`] does not join the group and does not use them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupSettings {
    /// How long the coordinator waits for a heartbeat before it removes the member
    /// (`session.timeout.ms`, default 45 s).
    pub session_timeout: Duration,
    /// How often the member sends heartbeats (`heartbeat.interval.ms`, default 3 s); below
    /// the session timeout.
    pub heartbeat_interval: Duration,
    /// How long the coordinator waits for every member to rejoin during a rebalance, and how
    /// long the member waits for the application to confirm a revocation. `None` (the
    /// default): the max poll interval, as Java's consumer sends it.
    pub rebalance_timeout: Option<Duration>,
    /// How long the application may go without asking for records before the member leaves
    /// the group (`max.poll.interval.ms`, default 5 min).
    pub max_poll_interval: Duration,
    /// A static member's identity (`group.instance.id`), kept across restarts.
    pub group_instance_id: Option<String>,
    /// The partition assignors offered, by protocol name, best first (`range`, `roundrobin`,
    /// `cooperative-sticky`, or the name of one given to
    /// [`ConsumerBuilder::custom_assignor`]; default `range` then `cooperative-sticky`, as
    /// Java's consumer). Classic protocol only.
    pub assignors: Vec<String>,
    /// The group protocol (`group.protocol`): classic (default), or KIP-848's consumer
    /// protocol, where the coordinator assigns. No broker this crate is tested against speaks
    /// the consumer protocol; it is verified in simulation only.
    pub protocol: GroupProtocol,
}

impl Default for GroupSettings {
    fn default() -> Self {
        GroupSettings {
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            rebalance_timeout: None,
            max_poll_interval: Duration::from_secs(300),
            group_instance_id: None,
            assignors: vec!["range".into(), "cooperative-sticky".into()],
            protocol: GroupProtocol::Classic,
        }
    }
}

impl GroupSettings {
    /// The assignors by name: the application's first, then the built-in ones.
    fn resolve(&self, custom: &[Arc<dyn Assignor>]) -> Result<Vec<Arc<dyn Assignor>>, Error> {
        self.assignors
            .iter()
            .map(|name| {
                custom
                    .iter()
                    .find(|a| a.name() == name)
                    .cloned()
                    .or_else(|| builtin_assignor(name))
                    .ok_or_else(|| Error::Config(format!("unknown assignor {name:?}")))
            })
            .collect()
    }

    /// The rebalance timeout in force: the one set, else the max poll interval.
    pub fn effective_rebalance_timeout(&self) -> Duration {
        self.rebalance_timeout.unwrap_or(self.max_poll_interval)
    }

    /// The checks that need more than the group machine's settings: a static identity needs
    /// a group. The settings themselves are checked by the machine's
    /// [`validate_settings`](dekaf_state::group::GroupConfig::validate_settings).
    fn validate(&self, group_id: Option<&str>) -> Result<(), Error> {
        if self.group_instance_id.is_some() && group_id.is_none() {
            return Err(Error::Config("group_instance_id needs a group_id".into()));
        }
        Ok(())
    }
}

/// Builds a [`Consumer`]: start from [`Consumer::builder`], set what you need, then
/// [`build`](Self::build)`.await`. Defaults follow Kafka's Java consumer.
///
/// ```no_run
/// use dekaf_smol::{AutoOffsetReset, Consumer, OffsetCommitMode};
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let consumer = Consumer::builder()
///     .bootstrap_servers("localhost:9092")
///     .group_id("my-group")
///     .offset_commit_mode(OffsetCommitMode::Manual)
///     .auto_offset_reset(AutoOffsetReset::Earliest)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `build().await`"]
pub struct ConsumerBuilder {
    pub(crate) connection: Config,
    pub(crate) consumer: ConsumerConfig,
    pub(crate) group: GroupSettings,
    /// The commit mode, if set explicitly (the default depends on the group id).
    commit_mode: Option<OffsetCommitMode>,
    auto_commit_interval: Duration,
    commit_policy: Option<CommitPolicy>,
    connect_timeout: Duration,
    pub(crate) spawner: Spawner,
    listener: Arc<dyn DynListener>,
    /// Assignors given by the application, found by name in `group.assignors`.
    custom_assignors: Vec<Arc<dyn Assignor>>,
}

impl std::fmt::Debug for ConsumerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerBuilder")
            .field("connection", &self.connection)
            .field("consumer", &self.consumer)
            .field("group", &self.group)
            .field("commit_mode", &self.commit_mode)
            .field("connect_timeout", &self.connect_timeout)
            .field("custom_assignors", &self.custom_assignors)
            .finish_non_exhaustive()
    }
}

impl Default for ConsumerBuilder {
    fn default() -> Self {
        ConsumerBuilder {
            connection: Config::default(),
            consumer: ConsumerConfig::new(),
            group: GroupSettings::default(),
            commit_mode: None,
            auto_commit_interval: Duration::from_secs(5),
            commit_policy: None,
            connect_timeout: Duration::from_secs(10),
            spawner: Spawner::default(),
            listener: Arc::new(NoopListener),
            custom_assignors: Vec::new(),
        }
    }
}

impl ConsumerBuilder {
    /// The brokers to start from: `host:port`, several separated by commas
    /// (`bootstrap.servers`). Tried in order until one answers.
    pub fn bootstrap_servers(mut self, servers: impl AsRef<str>) -> Self {
        self.connection.bootstrap_servers = servers
            .as_ref()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        self
    }

    /// The consumer group whose committed offsets are used (`group.id`). Without one, nothing
    /// can be committed and partitions start from `auto_offset_reset`.
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.consumer = self.consumer.with_group_id(group_id);
        self
    }

    /// Sent with every request, for the broker's logs and quotas (`client.id`, default
    /// `dekaf`).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        let id = client_id.into();
        self.connection.client_id = Some(id.clone());
        self.consumer = self.consumer.with_client_id(id);
        self
    }

    /// Auto (the default with a group id: commits in the background) or Manual (only
    /// [`Consumer::commit`] and [`Consumer::commit_offsets`] commit).
    pub fn offset_commit_mode(mut self, mode: OffsetCommitMode) -> Self {
        self.commit_mode = Some(mode);
        self
    }

    /// How often Auto mode commits (`auto.commit.interval.ms`, default 5 s).
    pub fn auto_commit_interval(mut self, interval: Duration) -> Self {
        self.auto_commit_interval = interval;
        self.commit_policy = None;
        self
    }

    /// When Auto mode commits, when a timer is not what you want: after every record, after
    /// every N records, or only explicitly. Replaces
    /// [`auto_commit_interval`](Self::auto_commit_interval).
    pub fn commit_policy(mut self, policy: CommitPolicy) -> Self {
        self.commit_policy = Some(policy);
        self
    }

    /// Where a partition without a committed offset starts, and where one whose position
    /// fell out of the log moves (`auto.offset.reset`, default latest).
    pub fn auto_offset_reset(mut self, reset: AutoOffsetReset) -> Self {
        self.consumer = self.consumer.with_auto_offset_reset(reset);
        self
    }

    /// Read every record (default) or only those of committed transactions
    /// (`isolation.level`).
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.consumer = self.consumer.with_isolation_level(level);
        self
    }

    /// When a received record counts as processed: when the next one is asked for (default),
    /// or only when [`Consumer::ack`] says so (for records processed concurrently).
    pub fn ack_mode(mut self, mode: AckMode) -> Self {
        self.consumer = self.consumer.with_ack_mode(mode);
        self
    }

    /// Whether processed records move the offset the next commit sends by themselves
    /// (default true; librdkafka's `enable.auto.offset.store`). When false, only
    /// [`Consumer::store`] does.
    pub fn auto_offset_store(mut self, enabled: bool) -> Self {
        self.consumer = self.consumer.with_auto_store(enabled);
        self
    }

    /// How many received records may be unacknowledged at once, over all partitions (default
    /// 10 000); at the cap no more records are handed out.
    pub fn max_outstanding_acks(mut self, max: usize) -> Self {
        self.consumer = self.consumer.with_max_outstanding(max);
        self
    }

    /// How much data a fetch waits for (`fetch.min.bytes`, default 1).
    pub fn fetch_min_bytes(mut self, bytes: usize) -> Self {
        self.consumer = self.consumer.with_fetch_min_bytes(bytes);
        self
    }

    /// The most data one fetch asks for (`fetch.max.bytes`, default 50 MiB).
    pub fn fetch_max_bytes(mut self, bytes: usize) -> Self {
        self.consumer = self.consumer.with_fetch_max_bytes(bytes);
        self
    }

    /// The most data one fetch asks for per partition (`max.partition.fetch.bytes`, default
    /// 1 MiB). Some brokers ignore it: memory is bounded by
    /// [`max_buffered_bytes`](Self::max_buffered_bytes).
    pub fn max_partition_fetch_bytes(mut self, bytes: usize) -> Self {
        self.consumer = self.consumer.with_max_partition_fetch_bytes(bytes);
        self
    }

    /// How long the broker may hold a fetch waiting for data (`fetch.max.wait.ms`, default
    /// 500 ms); below the request timeout.
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.consumer = self.consumer.with_fetch_max_wait(wait);
        self
    }

    /// The most fetched data kept in memory waiting to be received (default 64 MiB).
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.consumer = self.consumer.with_max_buffered_bytes(bytes);
        self
    }

    /// How long a request may wait for its answer (`request.timeout.ms`, default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.connection.request_timeout = timeout;
        self
    }

    /// How to talk to the brokers (`security.protocol`): plaintext (the default), TLS, SASL,
    /// or SASL over TLS.
    pub fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.connection.security_protocol = protocol;
        self
    }

    /// The TLS settings (`ssl.*`), used when the security protocol is `Ssl` or `SaslSsl`.
    pub fn tls(mut self, tls: TlsSettings) -> Self {
        self.connection.tls = tls;
        self
    }

    /// The SASL mechanism and credentials (`sasl.*`), used when the security protocol is
    /// `SaslPlaintext` or `SaslSsl`.
    pub fn sasl(mut self, sasl: SaslSettings) -> Self {
        self.connection.sasl = Some(sasl);
        self
    }

    /// Opens connections with a transport of your own (see [`Transport`]).
    pub fn transport(mut self, transport: std::sync::Arc<dyn Transport>) -> Self {
        self.connection = self.connection.transport(transport);
        self
    }

    /// The most opening one connection may take, and how long `build` waits for the
    /// bootstrap servers' names to resolve (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a commit may retry before it fails with a timeout (default 60 s).
    pub fn commit_timeout(mut self, timeout: Duration) -> Self {
        self.consumer = self.consumer.with_commit_timeout(timeout);
        self
    }

    /// How long committed-offsets, offsets-for-times and watermarks queries may retry
    /// (`default.api.timeout.ms`, default 60 s).
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        let offsets = self.consumer.offsets.clone().with_query_timeout(timeout);
        self.consumer = self.consumer.with_offsets(offsets);
        self
    }

    /// `session.timeout.ms` of the group membership (see [`GroupSettings`]).
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.group.session_timeout = timeout;
        self
    }

    /// `heartbeat.interval.ms` of the group membership (see [`GroupSettings`]).
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.group.heartbeat_interval = interval;
        self
    }

    /// The rebalance timeout of the group membership (see [`GroupSettings`]).
    pub fn rebalance_timeout(mut self, timeout: Duration) -> Self {
        self.group.rebalance_timeout = Some(timeout);
        self
    }

    /// `max.poll.interval.ms` of the group membership (see [`GroupSettings`]).
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.group.max_poll_interval = interval;
        self
    }

    /// Makes the member static (`group.instance.id`, see [`GroupSettings`]).
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group.group_instance_id = Some(id.into());
        self
    }

    /// The partition assignors offered, best first (see [`GroupSettings`]).
    pub fn assignors<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.group.assignors = names.into_iter().map(Into::into).collect();
        self
    }

    /// Offers an assignor of the application's own (Java's `partition.assignment.strategy`
    /// with a class of your own): its [`name`](Assignor::name) is added to the
    /// [`assignors`](Self::assignors) offered, last, unless already there. Call
    /// [`assignors`](Self::assignors) afterwards to put it elsewhere in the order: names are
    /// looked up among the assignors given here first, then the built-in ones.
    ///
    /// When this member leads the group, its result is checked before it is sent
    /// ([`check_assignment`](dekaf_state::assignor::check_assignment)); one that breaks the
    /// group's rules stops the consumer with [`GroupError::InvalidAssignment`](crate::GroupError::InvalidAssignment),
    /// as Java's consumer throws.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use dekaf_smol::{Assignor, Consumer, GroupAssignment, MemberSubscription};
    ///
    /// /// Every partition to the member with the smallest id, the others stand by.
    /// #[derive(Debug)]
    /// struct StandBy;
    ///
    /// impl Assignor for StandBy {
    ///     fn name(&self) -> &'static str {
    ///         "stand-by"
    ///     }
    ///
    ///     fn assign(
    ///         &self,
    ///         members: &[MemberSubscription],
    ///         partitions_per_topic: &BTreeMap<String, i32>,
    ///     ) -> GroupAssignment {
    ///         let mut out: GroupAssignment =
    ///             members.iter().map(|m| (m.member_id.clone(), Vec::new())).collect();
    ///         if let Some(first) = members.iter().map(|m| &m.member_id).min() {
    ///             let all = members.iter().flat_map(|m| &m.topics).filter_map(|t| {
    ///                 Some((t, *partitions_per_topic.get(t)?))
    ///             });
    ///             let mut all: Vec<(String, i32)> =
    ///                 all.flat_map(|(t, n)| (0..n).map(move |p| (t.clone(), p))).collect();
    ///             all.sort();
    ///             all.dedup();
    ///             out.insert(first.clone(), all);
    ///         }
    ///         out
    ///     }
    /// }
    ///
    /// let builder = Consumer::builder()
    ///     .bootstrap_servers("localhost:9092")
    ///     .group_id("my-group")
    ///     .custom_assignor(StandBy)
    ///     .assignors(["stand-by"]);
    /// ```
    pub fn custom_assignor(mut self, assignor: impl Assignor + 'static) -> Self {
        let name = assignor.name();
        self.custom_assignors.retain(|a| a.name() != name);
        self.custom_assignors.push(Arc::new(assignor));
        if !self.group.assignors.iter().any(|a| a == name) {
            self.group.assignors.push(name.to_owned());
        }
        self
    }

    /// The group protocol (see [`GroupSettings::protocol`]).
    pub fn group_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.group.protocol = protocol;
        self
    }

    /// What runs when the group gives the consumer partitions or takes them away (default:
    /// nothing; see [`RebalanceListener`]).
    pub fn rebalance_listener(mut self, listener: impl RebalanceListener) -> Self {
        self.listener = Arc::new(listener);
        self
    }

    /// How old metadata may get before it is refreshed (`metadata.max.age.ms`, default
    /// 5 min): how soon a topic created later joins a pattern subscription.
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.consumer = self.consumer.with_metadata_max_age(age);
        self
    }

    /// The rack this consumer runs in (`client.rack`, default none). The consumer then reads
    /// each partition from the replica in its rack when the partition's leader names one
    /// (KIP-392; brokers configured with `replica.selector.class`), going back to the leader
    /// when that replica fails, and its group subscription carries the rack for rack-aware
    /// assignors (KIP-881). An empty rack means none.
    pub fn client_rack(mut self, rack: impl Into<String>) -> Self {
        self.consumer = self.consumer.with_client_rack(rack);
        self
    }

    /// Where the driver runs (default: a thread of its own; see [`Spawner`]).
    pub fn spawner(mut self, spawner: Spawner) -> Self {
        self.spawner = spawner;
        self
    }

    /// Checks the settings and starts the driver, without waiting for the cluster: a consumer
    /// built while no broker is reachable keeps trying in the background (call
    /// [`Consumer::ready`] to wait for one).
    ///
    /// Fails with [`Error::Config`] for invalid settings, and when the name of no bootstrap
    /// server resolves (as Java's client does).
    pub async fn build(self) -> Result<Consumer, Error> {
        let listener = self.listener.clone();
        let (connection, consumer, group, spawner) = self.validate()?;
        Consumer::start(connection, consumer, group, spawner, listener).await
    }

    /// The settings as the driver and the machine take them.
    pub(crate) fn validate(
        mut self,
    ) -> Result<(Config, ConsumerConfig, GroupSettings, Spawner), Error> {
        let group_id = self.consumer.offsets.group_id.clone();
        if group_id.as_deref() == Some("") {
            return Err(Error::Config("group_id is empty".into()));
        }
        let mode = match (self.commit_mode, &group_id) {
            (Some(OffsetCommitMode::Auto), None) => {
                return Err(Error::Config(
                    "Auto commit mode needs a group_id: set one, or choose Manual".into(),
                ))
            }
            (Some(mode), _) => mode,
            (None, Some(_)) => OffsetCommitMode::Auto,
            (None, None) => OffsetCommitMode::Manual,
        };
        if self.auto_commit_interval.is_zero() {
            return Err(Error::Config(
                "auto_commit_interval must be positive".into(),
            ));
        }
        let policy = self
            .commit_policy
            .unwrap_or(CommitPolicy::Interval(self.auto_commit_interval));
        if matches!(policy, CommitPolicy::Interval(d) if d.is_zero()) {
            return Err(Error::Config("the commit interval must be positive".into()));
        }
        self.consumer = self
            .consumer
            .with_commit_mode(mode)
            .with_commit_policy(policy)
            .with_seed(crate::config::fresh_seed());
        let c = &self.consumer;
        if c.fetch_min_bytes < 1 || c.fetch_max_bytes < 1 || c.max_partition_fetch_bytes < 1 {
            return Err(Error::Config("fetch sizes must be at least 1 byte".into()));
        }
        if c.fetch_min_bytes > c.fetch_max_bytes {
            return Err(Error::Config(
                "fetch_min_bytes is larger than fetch_max_bytes".into(),
            ));
        }
        if c.fetch_max_wait >= self.connection.request_timeout {
            return Err(Error::Config(format!(
                "fetch_max_wait {} must stay below request_timeout {}",
                HumanDuration(c.fetch_max_wait),
                HumanDuration(self.connection.request_timeout)
            )));
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::Config("connect_timeout must be positive".into()));
        }
        if c.offsets.commit_timeout.is_zero() || c.offsets.query_timeout.is_zero() {
            return Err(Error::Config(
                "commit and query timeouts must be positive".into(),
            ));
        }
        self.group.validate(group_id.as_deref())?;
        if self.consumer.metadata_max_age.is_zero() {
            return Err(Error::Config("metadata_max_age must be positive".into()));
        }
        let mut machine_group = self.consumer.group.clone();
        let g = &self.group;
        machine_group.session_timeout = g.session_timeout;
        machine_group.heartbeat_interval = g.heartbeat_interval;
        machine_group.rebalance_timeout = g.effective_rebalance_timeout();
        machine_group.max_poll_interval = g.max_poll_interval;
        machine_group.group_instance_id = g.group_instance_id.clone();
        machine_group.protocol = g.protocol;
        machine_group.assignors = g.resolve(&self.custom_assignors)?;
        machine_group
            .validate_settings()
            .map_err(|e| Error::Config(e.to_string()))?;
        self.consumer = self.consumer.with_group(machine_group);
        self.connection.connect_timeout = self.connect_timeout;
        self.connection.validate()?;
        Ok((self.connection, self.consumer, self.group, self.spawner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dekaf_state::assignor;

    fn base() -> ConsumerBuilder {
        ConsumerBuilder::default().bootstrap_servers("localhost:9092")
    }

    #[test]
    fn every_consumer_gets_its_own_jitter_seed() {
        let seeds: std::collections::BTreeSet<u64> =
            (0..8).map(|_| base().validate().unwrap().1.seed).collect();
        assert_eq!(seeds.len(), 8, "{seeds:?}");
    }

    #[test]
    fn defaults_follow_the_group_id() {
        let (_, c, _, _) = base().group_id("g").validate().unwrap();
        assert_eq!(c.offsets.commit_mode, OffsetCommitMode::Auto);
        let (_, c, _, _) = base().validate().unwrap();
        assert_eq!(c.offsets.commit_mode, OffsetCommitMode::Manual);
        assert!(base()
            .offset_commit_mode(OffsetCommitMode::Auto)
            .validate()
            .is_err());
    }

    #[test]
    fn bootstrap_list_is_split_on_commas() {
        let (conn, _, _, _) = ConsumerBuilder::default()
            .bootstrap_servers(" a:1, b:2 ,")
            .validate()
            .unwrap();
        assert_eq!(conn.bootstrap_servers, vec!["a:1", "b:2"]);
        assert!(ConsumerBuilder::default().validate().is_err());
        assert!(ConsumerBuilder::default()
            .bootstrap_servers("nohost")
            .validate()
            .is_err());
    }

    #[test]
    fn unusable_settings_are_refused() {
        let bad = [
            base().group_id(""),
            base().auto_commit_interval(Duration::ZERO),
            base().fetch_min_bytes(10).fetch_max_bytes(5),
            base().fetch_max_wait(Duration::from_secs(40)),
            base().connect_timeout(Duration::ZERO),
            base().heartbeat_interval(Duration::from_secs(50)),
            base().session_timeout(Duration::ZERO),
            base().group_instance_id("static-1"),
            base().group_id("g").group_instance_id(""),
            base().assignors(["nope"]),
            base().assignors(Vec::<String>::new()),
            base()
                .assignors(["range", "roundrobin"])
                .commit_timeout(Duration::ZERO),
        ];
        for (i, b) in bad.into_iter().enumerate() {
            assert!(matches!(b.validate(), Err(Error::Config(_))), "case {i}");
        }
        let ok = base()
            .group_id("g")
            .group_instance_id("static-1")
            .assignors(["cooperative-sticky"])
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_secs(1));
        assert!(ok.validate().is_ok());
        assert!(base()
            .group_id("g")
            .assignors(["range", "range"])
            .validate()
            .is_err());
        assert!(base().metadata_max_age(Duration::ZERO).validate().is_err());
    }

    /// An application's assignor, cooperative only.
    #[derive(Debug)]
    struct Mine;

    impl Assignor for Mine {
        fn name(&self) -> &'static str {
            "mine"
        }

        fn supported_protocols(&self) -> &'static [assignor::RebalanceProtocol] {
            &[assignor::RebalanceProtocol::Cooperative]
        }

        fn assign(
            &self,
            members: &[assignor::MemberSubscription],
            _: &std::collections::BTreeMap<String, i32>,
        ) -> assignor::GroupAssignment {
            members
                .iter()
                .map(|m| (m.member_id.clone(), Vec::new()))
                .collect()
        }
    }

    #[test]
    fn custom_assignors_are_found_by_name_before_the_built_in_ones() {
        let names = |b: ConsumerBuilder| -> Result<Vec<&'static str>, Error> {
            let (_, c, _, _) = b.validate()?;
            Ok(c.group.assignors.iter().map(|a| a.name()).collect())
        };
        let g = || base().group_id("g");
        // Added last by default (range is eager only: no shared protocol with it).
        assert!(names(g().custom_assignor(Mine)).is_err());
        assert_eq!(
            names(g().assignors(["cooperative-sticky"]).custom_assignor(Mine)).unwrap(),
            ["cooperative-sticky", "mine"]
        );
        assert_eq!(
            names(
                g().custom_assignor(Mine)
                    .assignors(["mine", "cooperative-sticky"])
            )
            .unwrap(),
            ["mine", "cooperative-sticky"]
        );
        // Given twice, it is offered once.
        assert_eq!(
            names(
                g().assignors(["mine"])
                    .custom_assignor(Mine)
                    .custom_assignor(Mine)
            )
            .unwrap(),
            ["mine"]
        );
        // A name nobody registered is still refused.
        assert!(names(g().custom_assignor(Mine).assignors(["yours"])).is_err());
    }

    #[test]
    fn the_rebalance_timeout_follows_the_max_poll_interval_unless_set() {
        let (_, c, _, _) = base()
            .group_id("g")
            .max_poll_interval(Duration::from_secs(42))
            .validate()
            .unwrap();
        assert_eq!(c.group.rebalance_timeout, Duration::from_secs(42));
        let (_, c, _, _) = base().group_id("g").validate().unwrap();
        assert_eq!(c.group.rebalance_timeout, Duration::from_secs(300));
        let (_, c, _, _) = base()
            .group_id("g")
            .rebalance_timeout(Duration::from_secs(7))
            .max_poll_interval(Duration::from_secs(42))
            .validate()
            .unwrap();
        assert_eq!(c.group.rebalance_timeout, Duration::from_secs(7));
    }

    #[test]
    fn group_settings_reach_the_machine() {
        let (_, c, _, _) = base()
            .group_id("g")
            .group_instance_id("static-1")
            .assignors(["roundrobin"])
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_secs(1))
            .rebalance_timeout(Duration::from_secs(20))
            .max_poll_interval(Duration::from_secs(10))
            .group_protocol(GroupProtocol::Consumer)
            .metadata_max_age(Duration::from_secs(2))
            .client_rack("eu-west-1a")
            .validate()
            .unwrap();
        let g = &c.group;
        assert_eq!(g.session_timeout, Duration::from_secs(6));
        assert_eq!(g.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(g.rebalance_timeout, Duration::from_secs(20));
        assert_eq!(g.max_poll_interval, Duration::from_secs(10));
        assert_eq!(g.group_instance_id.as_deref(), Some("static-1"));
        assert_eq!(g.protocol, GroupProtocol::Consumer);
        let names: Vec<&str> = g.assignors.iter().map(|a| a.name()).collect();
        assert_eq!(names, ["roundrobin"]);
        assert_eq!(c.metadata_max_age, Duration::from_secs(2));
        assert_eq!(c.client_rack.as_deref(), Some("eu-west-1a"));
    }
}

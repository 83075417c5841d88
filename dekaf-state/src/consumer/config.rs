//! What a consumer is told up front: identity, offsets, fetch sizes, memory bound, metadata age.

use std::sync::Arc;
use std::time::Duration;

use crate::assignor::Assignor;
use crate::group::{ConfigError, GroupConfig, GroupProtocol};
use crate::offset::{
    AckMode, AutoOffsetReset, Backoff, CommitPolicy, OffsetCommitMode, OffsetConfig,
};

/// Which records a consumer sees of transactional producers (Kafka's `isolation.level`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// Every record, including those of open and aborted transactions (the default).
    #[default]
    ReadUncommitted,
    /// Only records of committed transactions (and non-transactional ones), up to the last
    /// stable offset.
    ReadCommitted,
}

impl IsolationLevel {
    /// The value on the wire (Fetch, ListOffsets).
    pub fn wire(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// Everything a [`Consumer`](super::Consumer) needs to know up front. Start from
/// [`ConsumerConfig::new`] (or `Default`) and change what you need with the `with_*` methods;
/// the defaults follow Kafka's Java consumer where it has the setting.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Sent in every request header (default `"dekaf"`); the driver reads it from here.
    pub client_id: String,
    /// The offset machine's settings: group id, commit mode and policy, acknowledgement,
    /// `auto_offset_reset`, the cap on outstanding records, timeouts and the retry backoff.
    pub offsets: OffsetConfig,
    /// Read uncommitted (default) or committed records.
    pub isolation_level: IsolationLevel,
    /// Fetch `min_bytes`: how much data the broker waits for (default 1).
    pub fetch_min_bytes: i32,
    /// Fetch `max_bytes`: the most a response should carry (default 50 MiB). Brokers apply it
    /// loosely; memory is bounded by `max_buffered_bytes`.
    pub fetch_max_bytes: i32,
    /// Fetch `partition_max_bytes` (default 1 MiB). Some brokers ignore it.
    pub max_partition_fetch_bytes: i32,
    /// Fetch `max_wait_ms`: how long the broker may hold a fetch waiting for data (default
    /// 500 ms). Must stay below the driver's request timeout.
    pub fetch_max_wait: Duration,
    /// The most fetched record data kept in memory, decoded, waiting to be handed out (default
    /// 64 MiB). No fetch is sent while the buffer is at the bound; while the application has
    /// records to take, fetches go out only while about one answer's worth is buffered. One
    /// response may take the buffer over the bound once; under read_committed, records held
    /// until their transaction's marker arrives may too (see the module documentation).
    pub max_buffered_bytes: usize,
    /// Metadata older than this is refreshed (default 5 min, Java's `metadata.max.age.ms`).
    pub metadata_max_age: Duration,
    /// Seeds the jitter of every backoff, so that a run replays exactly (default 0; give
    /// every consumer of a fleet its own, as dekaf-smol's builder does, so that they do not
    /// retry in lockstep).
    pub seed: u64,
    /// The rack this consumer runs in (Kafka's `client.rack`, default none). Sent in every
    /// Fetch (v11+) so that the leader can name a replica in the same rack to read from
    /// (KIP-392), and in the group subscription so that rack-aware assignors can give the
    /// member partitions with a replica in its rack (KIP-881).
    pub client_rack: Option<String>,
    /// The group membership settings used by [`subscribe`](super::Consumer::subscribe):
    /// timeouts, static identity, assignors, protocol (Kafka's defaults). Its group id is
    /// ignored: the consumer's group id (`offsets.group_id`) is the one used.
    pub group: GroupConfig,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client_id: "dekaf".to_string(),
            offsets: OffsetConfig::default(),
            isolation_level: IsolationLevel::ReadUncommitted,
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            fetch_max_wait: Duration::from_millis(500),
            max_buffered_bytes: 64 * 1024 * 1024,
            metadata_max_age: Duration::from_secs(300),
            seed: 0,
            client_rack: None,
            group: GroupConfig::new(""),
        }
    }
}

fn clamp_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl ConsumerConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the client id.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// Sets the group whose committed offsets this consumer uses, and that it joins when it
    /// subscribes.
    pub fn with_group_id(mut self, group_id: impl Into<String>) -> Self {
        let group_id = group_id.into();
        self.group.group_id = group_id.clone();
        self.offsets = self.offsets.with_group_id(group_id);
        self
    }

    /// Replaces the group membership settings as a whole (its group id is ignored).
    pub fn with_group(mut self, group: GroupConfig) -> Self {
        self.group = group;
        self
    }

    /// Sets the session timeout of the group membership (default 45 s).
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.group = self.group.with_session_timeout(timeout);
        self
    }

    /// Sets the group heartbeat interval (default 3 s; below the session timeout).
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.group = self.group.with_heartbeat_interval(interval);
        self
    }

    /// Sets the max poll interval, and the rebalance timeout with it (default 5 min): the
    /// member leaves its group when the application asks for no records for this long.
    pub fn with_max_poll_interval(mut self, interval: Duration) -> Self {
        self.group = self.group.with_max_poll_interval(interval);
        self
    }

    /// Sets the rebalance timeout alone: how long the coordinator waits for members to rejoin,
    /// and how long a revocation may take to be confirmed.
    pub fn with_rebalance_timeout(mut self, timeout: Duration) -> Self {
        self.group = self.group.with_rebalance_timeout(timeout);
        self
    }

    /// Makes the member static (`group.instance.id`): no LeaveGroup on close.
    pub fn with_group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group = self.group.with_group_instance_id(id);
        self
    }

    /// Sets the group protocol: classic (default) or the KIP-848 consumer protocol.
    pub fn with_group_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.group = self.group.with_protocol(protocol);
        self
    }

    /// Replaces the assignors offered to the group, most preferred first.
    pub fn with_assignors(mut self, assignors: Vec<Arc<dyn Assignor>>) -> Self {
        self.group = self.group.with_assignors(assignors);
        self
    }

    /// Replaces the assignors by built-in ones, by name (`range`, `roundrobin`,
    /// `cooperative-sticky`).
    pub fn with_assignor_names(mut self, names: &[&str]) -> Result<Self, ConfigError> {
        self.group = self.group.with_assignor_names(names)?;
        Ok(self)
    }

    /// Replaces the offset machine's settings as a whole.
    pub fn with_offsets(mut self, offsets: OffsetConfig) -> Self {
        self.offsets = offsets;
        self
    }

    /// Sets Auto (default) or Manual commits.
    pub fn with_commit_mode(mut self, mode: OffsetCommitMode) -> Self {
        self.offsets = self.offsets.with_commit_mode(mode);
        self
    }

    /// Sets when Auto mode commits (default: every 5 s).
    pub fn with_commit_policy(mut self, policy: CommitPolicy) -> Self {
        self.offsets = self.offsets.with_commit_policy(policy);
        self
    }

    /// Auto mode commits every `interval` (Kafka's `auto.commit.interval.ms`).
    pub fn with_auto_commit_interval(self, interval: Duration) -> Self {
        self.with_commit_policy(CommitPolicy::Interval(interval))
    }

    /// Sets when a handed-out record counts as processed (default: when the next is asked for).
    pub fn with_ack_mode(mut self, mode: AckMode) -> Self {
        self.offsets = self.offsets.with_ack_mode(mode);
        self
    }

    /// Sets whether processed records move the stored offset by themselves (default: true).
    pub fn with_auto_store(mut self, auto_store: bool) -> Self {
        self.offsets = self.offsets.with_auto_store(auto_store);
        self
    }

    /// Sets where a partition without committed offset starts (default: latest).
    pub fn with_auto_offset_reset(mut self, reset: AutoOffsetReset) -> Self {
        self.offsets = self.offsets.with_auto_offset_reset(reset);
        self
    }

    /// Sets the cap on handed-out, unacknowledged records (default 10 000).
    pub fn with_max_outstanding(mut self, max: usize) -> Self {
        self.offsets = self.offsets.with_max_outstanding(max);
        self
    }

    /// Sets the backoff between retries (default 100 ms doubling to 1 s, ±20 % jitter).
    pub fn with_retry_backoff(mut self, backoff: Backoff) -> Self {
        self.offsets = self.offsets.with_retry_backoff(backoff);
        self
    }

    /// Sets how long a commit may retry (default 60 s).
    pub fn with_commit_timeout(mut self, timeout: Duration) -> Self {
        self.offsets = self.offsets.with_commit_timeout(timeout);
        self
    }

    /// Sets the isolation level.
    pub fn with_isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation_level = level;
        self
    }

    /// Sets Fetch `min_bytes`.
    pub fn with_fetch_min_bytes(mut self, bytes: usize) -> Self {
        self.fetch_min_bytes = clamp_i32(bytes);
        self
    }

    /// Sets Fetch `max_bytes`.
    pub fn with_fetch_max_bytes(mut self, bytes: usize) -> Self {
        self.fetch_max_bytes = clamp_i32(bytes);
        self
    }

    /// Sets Fetch `partition_max_bytes`.
    pub fn with_max_partition_fetch_bytes(mut self, bytes: usize) -> Self {
        self.max_partition_fetch_bytes = clamp_i32(bytes);
        self
    }

    /// Sets Fetch `max_wait_ms`.
    pub fn with_fetch_max_wait(mut self, wait: Duration) -> Self {
        self.fetch_max_wait = wait;
        self
    }

    /// Sets the bound on buffered fetched data (at least 1 byte).
    pub fn with_max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.max_buffered_bytes = bytes.max(1);
        self
    }

    /// Sets the metadata refresh age.
    pub fn with_metadata_max_age(mut self, age: Duration) -> Self {
        self.metadata_max_age = age;
        self
    }

    /// Sets the rack this consumer runs in (Kafka's `client.rack`): fetches may then be
    /// served by a replica in that rack when the leader names one, and the rack goes into the
    /// group subscription. An empty rack means none.
    pub fn with_client_rack(mut self, rack: impl Into<String>) -> Self {
        let rack = rack.into();
        self.client_rack = (!rack.is_empty()).then_some(rack);
        self
    }

    /// Sets the jitter seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The fetch wait in milliseconds, as the wire wants it.
    pub(crate) fn fetch_max_wait_ms(&self) -> i32 {
        i32::try_from(self.fetch_max_wait.as_millis()).unwrap_or(i32::MAX)
    }
}

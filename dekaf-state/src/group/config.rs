//! What a member chooses up front: its group, identity, protocol, timeouts and assignors.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::assignor::{self, Assignor, GroupAssignment, MemberSubscription, RebalanceProtocol};
use crate::offset::Backoff;

use super::error::ConfigError;

/// Which group protocol the member speaks (Kafka's `group.protocol`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GroupProtocol {
    /// The classic protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup; the leader member
    /// computes the assignment with a client-side assignor.
    #[default]
    Classic,
    /// The consumer protocol of KIP-848: one ConsumerGroupHeartbeat request; the coordinator
    /// computes the assignment and the member reconciles towards it. Verified in simulation
    /// only: no broker available to this project speaks it.
    Consumer,
}

/// Everything the group machine needs to know up front. Start from [`GroupConfig::new`] and
/// change what you need with the `with_*` methods.
#[derive(Clone)]
#[non_exhaustive]
pub struct GroupConfig {
    /// The consumer group.
    pub group_id: String,
    /// A static identity kept across restarts (`group.instance.id`): the coordinator keeps the
    /// member's partitions for a session timeout after it goes away, and the member does not
    /// send LeaveGroup when it closes.
    pub group_instance_id: Option<String>,
    /// Classic (default) or the KIP-848 consumer protocol.
    pub protocol: GroupProtocol,
    /// The assignors offered to the group, most preferred first (classic protocol only).
    /// Default: `range`, then `cooperative-sticky` where built in, as Java's consumer.
    pub assignors: Vec<Arc<dyn Assignor>>,
    /// How long the coordinator waits for a heartbeat before it removes the member (default
    /// 45 s). The member also gives its partitions up as lost when no heartbeat succeeded for
    /// this long, counted from the send of the last one that did. The classic protocol sends
    /// it in JoinGroup; the consumer protocol's session is set on the broker
    /// (`group.consumer.session.timeout.ms`, also 45 s by default), and this should be no
    /// longer than it, so that the member stops fetching before its partitions move on.
    pub session_timeout: Duration,
    /// How often a classic member heartbeats (default 3 s). Consumer-protocol members use the
    /// interval the coordinator sends.
    pub heartbeat_interval: Duration,
    /// How long the application may go without asking for records before the member leaves
    /// the group (default 5 min).
    pub max_poll_interval: Duration,
    /// How long the coordinator waits for members to rejoin during a rebalance, and how long
    /// the member waits for the application to confirm a revocation (default: the max poll
    /// interval, as Java's consumer).
    pub rebalance_timeout: Duration,
    /// Backoff between retries of failed group requests (default: 100 ms doubling to 1 s,
    /// ±20 % jitter).
    pub retry_backoff: Backoff,
    /// The member's rack, sent to rack-aware assignors.
    pub rack_id: Option<String>,
    /// The server-side assignor to ask for (consumer protocol only; None: the broker's default).
    pub server_assignor: Option<String>,
}

impl fmt::Debug for GroupConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupConfig")
            .field("group_id", &self.group_id)
            .field("group_instance_id", &self.group_instance_id)
            .field("protocol", &self.protocol)
            .field(
                "assignors",
                &self.assignors.iter().map(|a| a.name()).collect::<Vec<_>>(),
            )
            .field("session_timeout", &self.session_timeout)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("max_poll_interval", &self.max_poll_interval)
            .field("rebalance_timeout", &self.rebalance_timeout)
            .field("retry_backoff", &self.retry_backoff)
            .field("rack_id", &self.rack_id)
            .field("server_assignor", &self.server_assignor)
            .finish()
    }
}

/// A built-in assignor behind the shared handle the configuration holds.
#[derive(Debug)]
struct Builtin(&'static dyn Assignor);

impl Assignor for Builtin {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        self.0.supported_protocols()
    }

    fn protocol(&self) -> RebalanceProtocol {
        self.0.protocol()
    }

    fn subscription_user_data(&self, generation: i32) -> Option<Bytes> {
        self.0.subscription_user_data(generation)
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &std::collections::BTreeMap<String, i32>,
    ) -> GroupAssignment {
        self.0.assign(members, partitions_per_topic)
    }

    fn assign_with_racks(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &std::collections::BTreeMap<String, i32>,
        partition_racks: &crate::assignor::PartitionRacks,
    ) -> GroupAssignment {
        self.0
            .assign_with_racks(members, partitions_per_topic, partition_racks)
    }
}

/// The built-in assignor named `name`, as the configuration holds it.
pub fn builtin_assignor(name: &str) -> Option<Arc<dyn Assignor>> {
    assignor::builtin(name).map(|a| Arc::new(Builtin(a)) as Arc<dyn Assignor>)
}

impl GroupConfig {
    /// A member of `group_id` with Kafka's defaults.
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupConfig {
            group_id: group_id.into(),
            group_instance_id: None,
            protocol: GroupProtocol::Classic,
            assignors: ["range", "cooperative-sticky"]
                .iter()
                .filter_map(|n| builtin_assignor(n))
                .collect(),
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            rebalance_timeout: Duration::from_secs(300),
            retry_backoff: Backoff::default(),
            rack_id: None,
            server_assignor: None,
        }
    }

    /// Sets a static identity.
    pub fn with_group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }

    /// Sets the group protocol.
    pub fn with_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Replaces the assignors (most preferred first).
    pub fn with_assignors(mut self, assignors: Vec<Arc<dyn Assignor>>) -> Self {
        self.assignors = assignors;
        self
    }

    /// Replaces the assignors by built-in ones, by name (`range`, `roundrobin`,
    /// `cooperative-sticky`).
    pub fn with_assignor_names(mut self, names: &[&str]) -> Result<Self, ConfigError> {
        self.assignors = names
            .iter()
            .map(|n| builtin_assignor(n).ok_or_else(|| ConfigError::UnknownAssignor(n.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Sets the session timeout.
    pub fn with_session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// Sets the heartbeat interval.
    pub fn with_heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Sets the max poll interval, and the rebalance timeout with it (as Java's consumer does).
    pub fn with_max_poll_interval(mut self, interval: Duration) -> Self {
        self.max_poll_interval = interval;
        self.rebalance_timeout = interval;
        self
    }

    /// Sets the rebalance timeout alone.
    pub fn with_rebalance_timeout(mut self, timeout: Duration) -> Self {
        self.rebalance_timeout = timeout;
        self
    }

    /// Sets the retry backoff.
    pub fn with_retry_backoff(mut self, backoff: Backoff) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// Sets the rack.
    pub fn with_rack_id(mut self, rack: impl Into<String>) -> Self {
        self.rack_id = Some(rack.into());
        self
    }

    /// Sets the server-side assignor (consumer protocol).
    pub fn with_server_assignor(mut self, name: impl Into<String>) -> Self {
        self.server_assignor = Some(name.into());
        self
    }

    /// Checks the configuration and returns the rebalance protocol of the classic protocol:
    /// the best one every assignor supports.
    pub(crate) fn validate(&self) -> Result<RebalanceProtocol, ConfigError> {
        if self.group_id.is_empty() {
            return Err(ConfigError::EmptyGroupId);
        }
        self.validate_settings()
    }

    /// Checks everything but the group id (timeouts, static identity, assignors) and returns
    /// the rebalance protocol the assignors share: for a client that checks its group
    /// settings before it knows whether it joins a group.
    pub fn validate_settings(&self) -> Result<RebalanceProtocol, ConfigError> {
        if self.group_instance_id.as_deref() == Some("") {
            return Err(ConfigError::EmptyInstanceId);
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.session_timeout {
            return Err(ConfigError::HeartbeatInterval);
        }
        for d in [
            self.session_timeout,
            self.rebalance_timeout,
            self.max_poll_interval,
        ] {
            if d.as_millis() > i32::MAX as u128 || d.is_zero() {
                return Err(ConfigError::Timeout(d));
            }
        }
        if self.protocol == GroupProtocol::Consumer {
            return Ok(RebalanceProtocol::Cooperative);
        }
        if self.assignors.is_empty() {
            return Err(ConfigError::NoAssignor);
        }
        let mut names = std::collections::BTreeSet::new();
        for a in &self.assignors {
            if !names.insert(a.name()) {
                return Err(ConfigError::DuplicateAssignor(a.name().to_string()));
            }
        }
        let refs: Vec<&dyn Assignor> = self.assignors.iter().map(|a| a.as_ref()).collect();
        assignor::common_protocol(&refs).ok_or(ConfigError::NoCommonProtocol)
    }
}

/// A topic name pattern, matched against the whole name (as Java's `Pattern.matches`).
///
/// Patterns use the syntax of the `regex-lite` crate: Rust's `regex` syntax without Unicode
/// classes, which is all topic names need (they are ASCII letters, digits, `.`, `_`, `-`).
/// `regex-lite` is chosen because it has no dependencies, compiles fast, is maintained with
/// `regex` by the Rust project, and matches in time linear in the input, so a pattern can
/// never hang the machine.
#[derive(Clone)]
pub struct TopicPattern {
    source: String,
    regex: regex_lite::Regex,
}

impl fmt::Debug for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TopicPattern({:?})", self.source)
    }
}

impl PartialEq for TopicPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for TopicPattern {}

impl TopicPattern {
    /// Compiles `source`; it must match a whole topic name.
    pub fn new(source: &str) -> Result<Self, ConfigError> {
        let regex = regex_lite::Regex::new(&format!("^(?:{source})$"))
            .map_err(|e| ConfigError::Pattern(e.to_string()))?;
        Ok(TopicPattern {
            source: source.to_string(),
            regex,
        })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `topic` matches the pattern as a whole.
    pub fn matches(&self, topic: &str) -> bool {
        self.regex.is_match(topic)
    }
}

/// What the member consumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// These topics (whether they exist yet or not).
    Topics(std::collections::BTreeSet<String>),
    /// Every non-internal topic the metadata lists whose name matches.
    Pattern(TopicPattern),
}

impl Subscription {
    /// A subscription to `topics`.
    pub fn topics<I, S>(topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Subscription::Topics(topics.into_iter().map(Into::into).collect())
    }

    /// A subscription to the topics matching `pattern`.
    pub fn pattern(pattern: &str) -> Result<Self, ConfigError> {
        TopicPattern::new(pattern).map(Subscription::Pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names() {
        let p = TopicPattern::new("orders\\..*|audit").unwrap();
        assert!(p.matches("orders.eu"));
        assert!(p.matches("audit"));
        assert!(!p.matches("audit-log"));
        assert!(!p.matches("old-orders.eu"));
        assert!(TopicPattern::new("(").is_err());
    }

    #[test]
    fn validation_catches_bad_settings() {
        let c = GroupConfig::new("g");
        assert!(c.validate().is_ok());
        assert_eq!(
            GroupConfig::new("").validate(),
            Err(ConfigError::EmptyGroupId)
        );
        assert_eq!(
            GroupConfig::new("g")
                .with_heartbeat_interval(Duration::from_secs(60))
                .validate(),
            Err(ConfigError::HeartbeatInterval)
        );
        assert_eq!(
            GroupConfig::new("g").with_assignors(vec![]).validate(),
            Err(ConfigError::NoAssignor)
        );
        assert!(GroupConfig::new("g")
            .with_assignor_names(&["nope"])
            .is_err());
        assert_eq!(
            GroupConfig::new("g")
                .with_session_timeout(Duration::from_secs(u64::MAX / 4))
                .validate(),
            Err(ConfigError::Timeout(Duration::from_secs(u64::MAX / 4)))
        );
    }
}

//! What admin calls take and give back: topics, configurations, the cluster, groups and
//! offsets.

use std::collections::BTreeMap;
use std::fmt;

use dekaf_proto::wire::Uuid;
use dekaf_proto::ErrorCode;

use super::AdminError;
use crate::client::BrokerId;
use crate::offset::{OffsetAndMetadata, TopicPartition};

/// The outcome for each partition of a call, by partition.
pub type PartitionResults<T> = BTreeMap<TopicPartition, Result<T, AdminError>>;

/// The outcome for each group of a call, by group id.
pub type GroupResults<T> = BTreeMap<String, Result<T, AdminError>>;

// ----- topics -----

/// A topic, as an admin client's `list_topics` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicListing {
    /// The topic's name.
    pub name: String,
    /// The topic's id, when the broker sends ids (Metadata v10+).
    pub topic_id: Option<Uuid>,
    /// Whether the topic is the cluster's own (`__consumer_offsets`, say).
    pub is_internal: bool,
    /// How many partitions it has.
    pub partitions: usize,
}

/// A topic's partitions, with their leaders and replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicDescription {
    /// The topic's name.
    pub name: String,
    /// The topic's id, when the broker sends ids (Metadata v10+).
    pub topic_id: Option<Uuid>,
    /// Whether the topic is the cluster's own.
    pub is_internal: bool,
    /// The partitions, by index.
    pub partitions: Vec<PartitionDescription>,
}

/// One partition of a described topic.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionDescription {
    /// The partition's index.
    pub partition: i32,
    /// The broker that leads it, `None` while it has no leader.
    pub leader: Option<BrokerId>,
    /// The leader's epoch, when the broker sends it (Metadata v7+).
    pub leader_epoch: Option<i32>,
    /// The brokers that hold a copy, preferred leader first.
    pub replicas: Vec<BrokerId>,
    /// The replicas that are in sync with the leader.
    pub isr: Vec<BrokerId>,
    /// The replicas that are offline (Metadata v5+).
    pub offline_replicas: Vec<BrokerId>,
    /// What the metadata said is wrong with the partition (LEADER_NOT_AVAILABLE, say), if
    /// anything.
    pub error: Option<ErrorCode>,
}

/// A topic to create.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTopic {
    /// Its name.
    pub name: String,
    /// How many partitions it has (-1: the broker's default).
    pub partitions: i32,
    /// How many copies of each partition the cluster keeps (-1: the broker's default).
    pub replication_factor: i16,
    /// Topic configuration entries (`cleanup.policy`, `retention.ms`...).
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// `partitions` partitions with the broker's default replication factor.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        NewTopic {
            name: name.into(),
            partitions,
            replication_factor: -1,
            configs: BTreeMap::new(),
        }
    }

    /// Sets the replication factor.
    pub fn replication_factor(mut self, factor: i16) -> Self {
        self.replication_factor = factor;
        self
    }

    /// Sets a topic configuration entry.
    pub fn config(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(name.into(), value.into());
        self
    }
}

/// A topic the broker created (or, validating only, would create).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedTopic {
    /// The new topic's id (CreateTopics v7+).
    pub topic_id: Option<Uuid>,
    /// Its partition count, when the broker says (CreateTopics v5+).
    pub partitions: Option<i32>,
    /// Its replication factor, when the broker says (CreateTopics v5+).
    pub replication_factor: Option<i16>,
}

/// More partitions for an existing topic.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewPartitions {
    /// The topic.
    pub topic: String,
    /// The partition count it should have; partitions are only ever added.
    pub total: i32,
}

impl NewPartitions {
    /// Grows `topic` to `total` partitions.
    pub fn increase_to(topic: impl Into<String>, total: i32) -> Self {
        NewPartitions {
            topic: topic.into(),
            total,
        }
    }
}

/// Settings of a call that changes the cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlterOptions {
    /// Only check that the change would be accepted; change nothing.
    pub validate_only: bool,
}

impl AlterOptions {
    /// Make the change (the default).
    pub fn apply() -> Self {
        AlterOptions::default()
    }

    /// Only check that the change would be accepted.
    pub fn validate_only() -> Self {
        AlterOptions {
            validate_only: true,
        }
    }
}

// ----- configurations -----

/// The kind of resource a configuration belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ConfigResourceKind {
    /// A topic: its name.
    Topic,
    /// A broker: its node id.
    Broker,
    /// A broker's log levels: the broker's node id.
    BrokerLogger,
}

impl ConfigResourceKind {
    /// The resource type on the wire.
    pub fn wire(self) -> i8 {
        use dekaf_proto::messages::describe_configs::{
            RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_TOPIC,
        };
        match self {
            ConfigResourceKind::Topic => RESOURCE_TOPIC,
            ConfigResourceKind::Broker => RESOURCE_BROKER,
            ConfigResourceKind::BrokerLogger => RESOURCE_BROKER_LOGGER,
        }
    }
}

/// Something with a configuration: a topic or a broker.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// What kind of resource.
    pub kind: ConfigResourceKind,
    /// Its name: a topic name, or a broker's node id in decimal.
    pub name: String,
}

impl ConfigResource {
    /// The topic `name`.
    pub fn topic(name: impl Into<String>) -> Self {
        ConfigResource {
            kind: ConfigResourceKind::Topic,
            name: name.into(),
        }
    }

    /// The broker with node id `id`.
    pub fn broker(id: BrokerId) -> Self {
        ConfigResource {
            kind: ConfigResourceKind::Broker,
            name: id.to_string(),
        }
    }

    /// The log levels of the broker with node id `id`.
    pub fn broker_logger(id: BrokerId) -> Self {
        ConfigResource {
            kind: ConfigResourceKind::BrokerLogger,
            name: id.to_string(),
        }
    }

    /// The broker that must answer for this resource: a broker's own settings are only known
    /// to it. `None` for a topic (any broker answers); an error for a broker name that is not
    /// a node id.
    pub fn broker_id(&self) -> Result<Option<BrokerId>, AdminError> {
        match self.kind {
            ConfigResourceKind::Topic => Ok(None),
            ConfigResourceKind::Broker | ConfigResourceKind::BrokerLogger => {
                self.name.parse().map(Some).map_err(|_| {
                    AdminError::Invalid(format!("{:?} is not a broker's node id", self.name))
                })
            }
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ConfigResourceKind::Topic => write!(f, "topic {}", self.name),
            ConfigResourceKind::Broker => write!(f, "broker {}", self.name),
            ConfigResourceKind::BrokerLogger => write!(f, "broker {} loggers", self.name),
        }
    }
}

/// Where a configuration value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigSource {
    /// The broker did not say.
    Unknown,
    /// The topic's own setting.
    Topic,
    /// A dynamic setting of this broker.
    DynamicBroker,
    /// A dynamic setting for every broker of the cluster.
    DynamicDefaultBroker,
    /// The broker's configuration file.
    StaticBroker,
    /// The built-in default.
    Default,
    /// A dynamic log level of this broker.
    DynamicBrokerLogger,
    /// A client metrics setting.
    ClientMetrics,
    /// A group's own setting.
    Group,
    /// A source this crate does not know, by number.
    Other(i8),
}

impl ConfigSource {
    /// The source numbered `wire` in DescribeConfigs answers.
    pub fn from_wire(wire: i8) -> Self {
        match wire {
            -1 | 0 => ConfigSource::Unknown,
            1 => ConfigSource::Topic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            7 => ConfigSource::ClientMetrics,
            8 => ConfigSource::Group,
            other => ConfigSource::Other(other),
        }
    }
}

/// The type of a configuration value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigType {
    /// The broker did not say.
    Unknown,
    /// `true` or `false`.
    Boolean,
    /// Text.
    String,
    /// A 32-bit integer.
    Int,
    /// A 16-bit integer.
    Short,
    /// A 64-bit integer.
    Long,
    /// A floating-point number.
    Double,
    /// A comma-separated list.
    List,
    /// A Java class name.
    Class,
    /// A password (never shown).
    Password,
}

impl ConfigType {
    /// The type numbered `wire` in DescribeConfigs answers.
    pub fn from_wire(wire: i8) -> Self {
        match wire {
            1 => ConfigType::Boolean,
            2 => ConfigType::String,
            3 => ConfigType::Int,
            4 => ConfigType::Short,
            5 => ConfigType::Long,
            6 => ConfigType::Double,
            7 => ConfigType::List,
            8 => ConfigType::Class,
            9 => ConfigType::Password,
            _ => ConfigType::Unknown,
        }
    }
}

/// One configuration entry of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// The key.
    pub name: String,
    /// The value; `None` when it is sensitive or not set.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether the value is the built-in default.
    pub is_default: bool,
    /// Whether it cannot be changed.
    pub is_read_only: bool,
    /// Whether the value is sensitive (a password, say).
    pub is_sensitive: bool,
    /// The values the entry would take from other levels, most specific first.
    pub synonyms: Vec<ConfigSynonym>,
    /// The value's type (DescribeConfigs v3+).
    pub config_type: ConfigType,
    /// What the entry is for, when the broker sends it.
    pub documentation: Option<String>,
}

/// A value a configuration entry would take from another level.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigSynonym {
    /// The key at that level.
    pub name: String,
    /// The value at that level; `None` when sensitive.
    pub value: Option<String>,
    /// The level.
    pub source: ConfigSource,
}

/// How [`AlterConfigOp`] changes an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlterConfigOpType {
    /// Set the value.
    Set,
    /// Remove the entry: it falls back to the next level's value.
    Delete,
    /// Add the value to a list entry.
    Append,
    /// Remove the value from a list entry.
    Subtract,
}

impl AlterConfigOpType {
    /// The operation on the wire.
    pub fn wire(self) -> i8 {
        use dekaf_proto::messages::incremental_alter_configs::{
            OP_APPEND, OP_DELETE, OP_SET, OP_SUBTRACT,
        };
        match self {
            AlterConfigOpType::Set => OP_SET,
            AlterConfigOpType::Delete => OP_DELETE,
            AlterConfigOpType::Append => OP_APPEND,
            AlterConfigOpType::Subtract => OP_SUBTRACT,
        }
    }
}

/// One change to one configuration entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlterConfigOp {
    /// The key.
    pub name: String,
    /// What to do.
    pub op: AlterConfigOpType,
    /// The value to set, append or subtract; `None` for a delete.
    pub value: Option<String>,
}

impl AlterConfigOp {
    /// Sets `name` to `value`.
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp {
            name: name.into(),
            op: AlterConfigOpType::Set,
            value: Some(value.into()),
        }
    }

    /// Removes `name`, which falls back to the next level's value.
    pub fn delete(name: impl Into<String>) -> Self {
        AlterConfigOp {
            name: name.into(),
            op: AlterConfigOpType::Delete,
            value: None,
        }
    }

    /// Adds `value` to the list `name`.
    pub fn append(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp {
            name: name.into(),
            op: AlterConfigOpType::Append,
            value: Some(value.into()),
        }
    }

    /// Removes `value` from the list `name`.
    pub fn subtract(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp {
            name: name.into(),
            op: AlterConfigOpType::Subtract,
            value: Some(value.into()),
        }
    }
}

// ----- the cluster -----

/// The cluster's identity and brokers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterDescription {
    /// The cluster id, when the broker sends one.
    pub cluster_id: Option<String>,
    /// The active controller's node id, when known.
    pub controller: Option<BrokerId>,
    /// The live brokers, by node id.
    pub brokers: Vec<BrokerDescription>,
}

/// One broker of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerDescription {
    /// The broker's node id.
    pub id: BrokerId,
    /// The host it listens on.
    pub host: String,
    /// The port it listens on.
    pub port: i32,
    /// Its rack, if it has one.
    pub rack: Option<String>,
}

// ----- groups -----

/// The state of a group, as its coordinator names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupState {
    /// Members are joining for a new generation (classic protocol).
    PreparingRebalance,
    /// Waiting for the leader's assignment (classic protocol).
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// No members, and committed offsets only.
    Empty,
    /// The group no longer exists (or never did).
    Dead,
    /// Computing a new assignment (consumer protocol).
    Assigning,
    /// Members are moving to a new assignment (consumer protocol).
    Reconciling,
    /// A state this crate does not know, by name (`"Unknown"` among them).
    Other(String),
}

impl GroupState {
    /// The state with Kafka's name `name` (compared without case).
    pub fn parse(name: &str) -> Self {
        let known = [
            GroupState::PreparingRebalance,
            GroupState::CompletingRebalance,
            GroupState::Stable,
            GroupState::Empty,
            GroupState::Dead,
            GroupState::Assigning,
            GroupState::Reconciling,
        ];
        known
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
            .unwrap_or_else(|| GroupState::Other(name.to_owned()))
    }

    /// Kafka's name for the state.
    pub fn name(&self) -> &str {
        match self {
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Empty => "Empty",
            GroupState::Dead => "Dead",
            GroupState::Assigning => "Assigning",
            GroupState::Reconciling => "Reconciling",
            GroupState::Other(name) => name,
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which groups an admin client's `list_groups` lists: all of them by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupFilter {
    /// Only groups in one of these states (ListGroups v4+); empty for all.
    pub states: Vec<GroupState>,
    /// Only groups of one of these types, `"classic"` or `"consumer"` (ListGroups v5+); empty
    /// for all.
    pub types: Vec<String>,
}

impl GroupFilter {
    /// Every group.
    pub fn all() -> Self {
        GroupFilter::default()
    }

    /// Also lists groups in `state` (and only groups in the states given this way).
    pub fn state(mut self, state: GroupState) -> Self {
        self.states.push(state);
        self
    }

    /// Also lists groups of `group_type` (and only groups of the types given this way).
    pub fn group_type(mut self, group_type: impl Into<String>) -> Self {
        self.types.push(group_type.into());
        self
    }
}

/// A group, as an admin client's `list_groups` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupListing {
    /// The group's id.
    pub group_id: String,
    /// The kind of group (`"consumer"` for consumers; empty for a group without members).
    pub protocol_type: String,
    /// Its state, when the broker says (ListGroups v4+).
    pub state: Option<GroupState>,
    /// Its type, `"classic"` or `"consumer"`, when the broker says (ListGroups v5+).
    pub group_type: Option<String>,
}

/// The groups of the cluster, and the brokers that could not list theirs.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct GroupListings {
    /// The groups, by id.
    pub groups: Vec<GroupListing>,
    /// The brokers whose groups are missing from `groups`, and why.
    pub errors: BTreeMap<BrokerId, AdminError>,
}

/// A group's state and members.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupDescription {
    /// The group's id.
    pub group_id: String,
    /// Its state.
    pub state: GroupState,
    /// The kind of group (`"consumer"` for consumers).
    pub protocol_type: String,
    /// The protocol of the current generation: for consumers, the assignor (`"range"`...).
    pub protocol: String,
    /// Its members.
    pub members: Vec<MemberDescription>,
    /// The node id of its coordinator.
    pub coordinator: BrokerId,
}

impl GroupDescription {
    /// Who owns each partition assigned in the current generation: the member id.
    pub fn owners(&self) -> BTreeMap<TopicPartition, String> {
        let mut out = BTreeMap::new();
        for member in &self.members {
            for tp in &member.assignment {
                out.insert(tp.clone(), member.member_id.clone());
            }
        }
        out
    }
}

/// One member of a described group.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberDescription {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// Its static identity, if it has one.
    pub group_instance_id: Option<String>,
    /// The client id it connected with.
    pub client_id: String,
    /// The host it connected from.
    pub host: String,
    /// The topics it subscribed to (consumer groups).
    pub subscribed_topics: Vec<String>,
    /// Its partitions in the current generation (consumer groups), by partition.
    pub assignment: Vec<TopicPartition>,
}

// ----- offsets -----

/// Which committed offsets of a group to list.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupOffsetsQuery {
    /// The group.
    pub group_id: String,
    /// The partitions; `None` for every partition the group has an offset for.
    pub partitions: Option<Vec<TopicPartition>>,
}

impl GroupOffsetsQuery {
    /// Every committed offset of `group`.
    pub fn all(group: impl Into<String>) -> Self {
        GroupOffsetsQuery {
            group_id: group.into(),
            partitions: None,
        }
    }

    /// The committed offsets of `group` in `partitions`.
    pub fn partitions(
        group: impl Into<String>,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Self {
        GroupOffsetsQuery {
            group_id: group.into(),
            partitions: Some(partitions.into_iter().collect()),
        }
    }
}

/// Which offset of a partition an admin client's `list_offsets` looks up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OffsetQuery {
    /// The log start offset.
    Earliest,
    /// The log end offset (the last stable offset under read_committed).
    Latest,
    /// The offset of the record with the largest timestamp, and that timestamp
    /// (ListOffsets v7+).
    MaxTimestamp,
    /// The first offset whose timestamp is at or after this time (ms since the Unix epoch).
    Timestamp(i64),
}

impl OffsetQuery {
    /// The timestamp ListOffsets asks with.
    pub fn wire(self) -> i64 {
        use dekaf_proto::messages::list_offsets::{
            EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, MAX_TIMESTAMP,
        };
        match self {
            OffsetQuery::Earliest => EARLIEST_TIMESTAMP,
            OffsetQuery::Latest => LATEST_TIMESTAMP,
            OffsetQuery::MaxTimestamp => MAX_TIMESTAMP,
            OffsetQuery::Timestamp(t) => t,
        }
    }
}

/// How far a group is behind: its state, and its lag per partition.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GroupLag {
    /// The group.
    pub group_id: String,
    /// The group's state, `None` when it could not be described (see `description_error`).
    pub state: Option<GroupState>,
    /// Every partition the group has a committed offset for or a member owns, by partition.
    pub partitions: Vec<PartitionLag>,
    /// Why the group could not be described, if it could not: the partitions then have no
    /// owners, and only those with committed offsets are listed.
    pub description_error: Option<AdminError>,
}

/// One partition of a group's lag.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PartitionLag {
    /// The partition.
    pub partition: TopicPartition,
    /// The group's committed offset, `None` when it has none.
    pub committed: Option<OffsetAndMetadata>,
    /// The end of the partition: the log end offset, or the last stable offset under
    /// read_committed. `None` when it could not be looked up (see `error`).
    pub end_offset: Option<i64>,
    /// How many records the group has yet to consume: the end offset minus the committed
    /// offset, never below 0. `None` without both.
    pub lag: Option<i64>,
    /// The member that owns the partition in the current generation, by member id.
    pub owner: Option<String>,
    /// Why the committed or the end offset is missing, if it is for a reason other than there
    /// being none.
    pub error: Option<AdminError>,
}

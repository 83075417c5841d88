//! What goes in and out of the group machine besides requests: metadata, events, identity.

use std::collections::{BTreeMap, BTreeSet};

use dekaf_proto::wire::Uuid;

use crate::offset::TopicPartition;

use super::error::GroupError;

/// One topic of a Metadata answer, as the group machine needs it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopicInfo {
    /// The topic's name.
    pub name: String,
    /// The topic's id (Metadata v10+; [`Uuid::ZERO`] when the broker did not send one). The
    /// consumer protocol names topics by id.
    pub id: Uuid,
    /// How many partitions the topic has.
    pub partitions: i32,
    /// Whether the topic is internal (such as `__consumer_offsets`); patterns never match
    /// internal topics.
    pub is_internal: bool,
    /// The racks of each partition's replicas, by partition (from the replica node ids of
    /// Metadata and the racks of those brokers); a partition not listed has none known.
    /// Rack-aware assignors read it (KIP-881).
    pub replica_racks: BTreeMap<i32, BTreeSet<String>>,
}

impl TopicInfo {
    /// A non-internal topic without id.
    pub fn new(name: impl Into<String>, partitions: i32) -> Self {
        TopicInfo {
            name: name.into(),
            id: Uuid::ZERO,
            partitions,
            is_internal: false,
            replica_racks: BTreeMap::new(),
        }
    }

    /// The same topic with an id.
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = id;
        self
    }
}

/// Which topics the driver should ask Metadata about for the group machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataTopics {
    /// Every topic (a pattern is subscribed).
    All,
    /// These topics.
    Some(Vec<String>),
}

/// Why the member left its group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LeaveReason {
    /// The application closed the member.
    Closed,
    /// The application unsubscribed.
    Unsubscribed,
    /// The application did not ask for records within the max poll interval; its partitions
    /// were lost. The member rejoins at the next [`handle_poll`](super::GroupMembership::handle_poll).
    MaxPollExceeded,
}

/// Something the consumer (and, through it, the application) should hear about.
///
/// A consumer maps these onto the offset machine as the [module docs](super) describe.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupEvent {
    /// The member belongs to a generation of the group (classic: SyncGroup succeeded;
    /// consumer protocol: the first heartbeat with an epoch, and again whenever the epoch
    /// changes). Commits are accepted from now on: call `OffsetManager::handle_group_stable`.
    Stable {
        /// The generation (classic) or member epoch (consumer protocol).
        generation: i32,
        /// The member id.
        member_id: String,
        /// Whether this member computed the assignment (classic only).
        leader: bool,
    },
    /// The member started rejoining or lost its generation: commits would be refused. Call
    /// `OffsetManager::handle_group_unstable`. Always comes before [`GroupEvent::Lost`].
    Unstable,
    /// These partitions were added to the member's assignment (possibly none: the event marks
    /// the end of every classic rebalance). Fetch them from their committed offsets.
    Assigned(Vec<TopicPartition>),
    /// These partitions are being taken away. Stop fetching them, commit what must be
    /// committed, then confirm with [`revoke_done`](super::GroupMembership::revoke_done). The
    /// member rejoins only after the confirmation (or when the rebalance timeout runs out,
    /// at which point the partitions are reported lost instead).
    Revoked(Vec<TopicPartition>),
    /// These partitions were taken away without a chance to commit (session expired,
    /// generation fenced, max poll interval exceeded, revocation not confirmed in time, fatal
    /// error). Never commit them: another member may already own them.
    Lost(Vec<TopicPartition>),
    /// The member left the group.
    Left(LeaveReason),
    /// The member stopped for good.
    Failed(GroupError),
}

/// What a transactional producer sends with `TxnOffsetCommit`, and what an OffsetCommit
/// carries to prove the member's place in its group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupMetadata {
    /// The group.
    pub group_id: String,
    /// The generation (classic) or member epoch (consumer protocol); -1 outside a generation.
    pub generation_id: i32,
    /// The member id; empty before the first join.
    pub member_id: String,
    /// The static identity, if configured.
    pub group_instance_id: Option<String>,
}

impl GroupMetadata {
    /// Metadata naming the group only (generation -1, no member id), as a consumer that was
    /// given its partitions with `assign` has: the coordinator then cannot fence stale members.
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// Where the member is in its group's life, for display and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemberState {
    /// Not in a group: nothing subscribed, or left after the max poll interval.
    Idle,
    /// Joining: waiting for the coordinator, a JoinGroup answer, or a first consumer-protocol
    /// heartbeat answer.
    Joining,
    /// Waiting for the SyncGroup answer (classic).
    Syncing,
    /// In a generation, heartbeating (possibly while a revocation awaits confirmation).
    Stable,
    /// Sending LeaveGroup (or the leaving heartbeat).
    Leaving,
    /// Closed.
    Closed,
    /// Stopped by a fatal error.
    Failed,
}

//! Leader-side partition assignors of the classic consumer group protocol.
//!
//! In a classic group the coordinator elects one member leader and hands it every member's
//! subscription; the leader computes who consumes which partition and sends the result back in
//! SyncGroup. A group led by a dekaf member must split partitions the way a Java (or
//! librdkafka) leader would, so each assignor here follows the Java client's algorithm step by
//! step:
//!
//! | name on the wire       | type                         | rebalance protocol       |
//! |------------------------|------------------------------|--------------------------|
//! | `range`                | [`RangeAssignor`]            | eager                    |
//! | `roundrobin`           | [`RoundRobinAssignor`]       | eager                    |
//! | `cooperative-sticky`   | [`CooperativeStickyAssignor`]| cooperative (and eager)  |
//!
//! An assignor is a pure function of the members' subscriptions and the partition count of each
//! topic: no IO, no clock, no state kept between rebalances, and the same input always gives the
//! same output. [`Assignor::assign_with_racks`] also gets the racks of each partition's
//! replicas: `range` then prefers, as Java's does since Kafka 3.5 (KIP-881), giving members
//! partitions with a replica in their rack, and so does `cooperative-sticky` (with the
//! differences its docs list); `roundrobin` ignores racks, as Java's does.
//!
//! # Eager and cooperative rebalancing
//!
//! Under the **eager** protocol every member gives up all its partitions before it rejoins, so
//! the leader may hand any partition to anyone.
//!
//! Under the **cooperative** protocol members keep consuming while they rejoin, and tell the
//! leader what they own (`owned_partitions`, with the `generation` it was assigned in). The
//! leader must then never give a partition to a new member while its old owner may still be
//! consuming it. A rebalance therefore moves a partition in two phases:
//!
//! 1. **Revoke.** The partition is left out of its old owner's assignment and *not* given to
//!    anyone. The old owner sees it is gone, stops consuming it (committing first if it
//!    wishes), and rejoins at once, which starts a follow-up rebalance.
//! 2. **Assign.** In the follow-up rebalance nobody claims the partition any more, so the leader
//!    gives it to its new owner.
//!
//! Partitions nobody owned move in one step. Between the two phases the group is briefly
//! unbalanced and some partitions have no consumer; after the follow-up rebalance every
//! partition has exactly one. [`CooperativeStickyAssignor`] applies this rule itself.
//!
//! # Ownership claims
//!
//! When several members claim the same partition (a member that was cut off from the group and
//! came back, say), the claim from the highest generation wins; if two members claim it in the
//! same, highest, generation neither keeps it and both must revoke it before it is assigned
//! again. (Java's exact rule also depends on the order it sees the claims in; dekaf follows it.)
//!
//! # Java and librdkafka
//!
//! librdkafka copies Java's `range` and `roundrobin`, except that it sorts a static member
//! against a dynamic one by member id (Java puts static members first) and compares bytes
//! rather than UTF-16 units. Its `cooperative-sticky` runs an older version of Java's general
//! algorithm for every group, settles same-generation claims more strictly, and gives back to
//! their claimant partitions the assignor left out. Where they differ dekaf follows Java. Each
//! leader's result is valid for every member, so mixed groups work whoever leads; they only
//! split partitions differently.
//!
//! # Ordering and bad input
//!
//! Member ids, instance ids and topics are compared the way Java compares strings (by UTF-16
//! code units), which is also byte order for the ASCII names Kafka uses. Pass the members in the
//! order of the JoinGroup response: Java's sticky assignor visits members in the order of a hash
//! map filled in that order, and dekaf reproduces that order to reach the same result.
//!
//! Input from the wire is never trusted: a member listed twice counts once (in its first place,
//! with the data of its last entry, as in Java's map of members), duplicate topics or owned
//! partitions count once, owned partitions of unknown topics or out of range are ignored, and
//! topics with a partition count of zero or less are left out.
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//! use dekaf_state::assignor::{builtin, MemberSubscription};
//!
//! let member = |id: &str| MemberSubscription {
//!     member_id: id.to_owned(),
//!     topics: vec!["t0".to_owned(), "t1".to_owned()],
//!     ..Default::default()
//! };
//! let topics = BTreeMap::from([("t0".to_owned(), 3), ("t1".to_owned(), 3)]);
//! let range = builtin("range").unwrap();
//! let assignment = range.assign(&[member("c0"), member("c1")], &topics);
//! let t = |topic: &str, p: i32| (topic.to_owned(), p);
//! assert_eq!(assignment["c0"], [t("t0", 0), t("t0", 1), t("t1", 0), t("t1", 1)]);
//! assert_eq!(assignment["c1"], [t("t0", 2), t("t1", 2)]);
//! ```

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use dekaf_proto::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartition,
};

mod cooperative_sticky;
mod java;
mod range;
mod round_robin;
mod sticky;
mod sticky_general;
mod sticky_racks;
#[cfg(test)]
mod tests;

pub use cooperative_sticky::CooperativeStickyAssignor;
pub use range::RangeAssignor;
pub use round_robin::RoundRobinAssignor;

/// How members of a group hand partitions over during a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before rejoining.
    Eager,
    /// Members keep their partitions while rejoining and revoke only those that move (two
    /// rebalances per move; see the [module docs](self)).
    Cooperative,
}

/// One member's subscription, as the leader reads it from the JoinGroup response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave the member.
    pub member_id: String,
    /// The member's static identity (`group.instance.id`), if it has one.
    pub group_instance_id: Option<String>,
    /// The topics the member wants to consume.
    pub topics: Vec<String>,
    /// The partitions the member owns now, as `(topic, partition)` (empty under the eager
    /// protocol).
    pub owned_partitions: Vec<(String, i32)>,
    /// The generation in which the member got `owned_partitions`, when the subscription says
    /// (consumer protocol v2+ and a value of 0 or more).
    pub generation: Option<i32>,
    /// Assignor-specific data the member sent (cooperative-sticky reads an older member's
    /// generation from it).
    pub user_data: Option<Bytes>,
    /// The member's rack (`client.rack`, consumer protocol v3+), for rack-aware assignors.
    pub rack_id: Option<String>,
}

impl MemberSubscription {
    /// Reads a member's subscription blob (already decoded) as the leader sees it.
    pub fn from_protocol(
        member_id: impl Into<String>,
        group_instance_id: Option<String>,
        subscription: &ConsumerProtocolSubscription,
    ) -> Self {
        Self {
            member_id: member_id.into(),
            group_instance_id,
            topics: subscription.topics.clone(),
            owned_partitions: flatten_partitions(&subscription.owned_partitions),
            // Java reads a negative generation as "not given".
            generation: (subscription.generation_id >= 0).then_some(subscription.generation_id),
            user_data: subscription.user_data.clone(),
            rack_id: subscription.rack_id.clone(),
        }
    }
}

/// The result of an assignment: each member id with its partitions as `(topic, partition)`,
/// sorted by topic then partition. Every member of the input appears, possibly with no
/// partitions.
pub type GroupAssignment = BTreeMap<String, Vec<(String, i32)>>;

/// The racks of each partition's replicas, by `(topic, partition)`, as the leader's metadata
/// gives them (the racks of the brokers holding a replica). A partition not listed has no
/// rack known. Rack-aware assignors read it (KIP-881).
pub type PartitionRacks = BTreeMap<(String, i32), BTreeSet<String>>;

/// A leader-side partition assignor.
pub trait Assignor: std::fmt::Debug + Send + Sync {
    /// The protocol name members advertise in JoinGroup (`range`, `roundrobin`,
    /// `cooperative-sticky`).
    fn name(&self) -> &'static str;

    /// The rebalance protocols the assignor can work under, best first.
    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        &[RebalanceProtocol::Eager]
    }

    /// The best rebalance protocol the assignor supports.
    fn protocol(&self) -> RebalanceProtocol {
        self.supported_protocols()
            .iter()
            .copied()
            .max()
            .unwrap_or(RebalanceProtocol::Eager)
    }

    /// The user data a member using this assignor puts in its subscription, given the
    /// generation of its last assignment (-1 if none).
    fn subscription_user_data(&self, generation: i32) -> Option<Bytes> {
        let _ = generation;
        None
    }

    /// Computes the assignment of a group: `members` as listed in the JoinGroup response,
    /// `partitions_per_topic` the partition count of each topic known to the leader's metadata.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment;

    /// [`assign`](Self::assign) knowing where each partition's replicas are: a rack-aware
    /// assignor prefers giving members partitions with a replica in their rack
    /// ([`MemberSubscription::rack_id`]). The default ignores racks.
    fn assign_with_racks(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
        partition_racks: &PartitionRacks,
    ) -> GroupAssignment {
        let _ = partition_racks;
        self.assign(members, partitions_per_topic)
    }
}

/// The built-in assignor with the given protocol name, if there is one.
pub fn builtin(name: &str) -> Option<&'static dyn Assignor> {
    match name {
        "range" => Some(&RangeAssignor),
        "roundrobin" => Some(&RoundRobinAssignor),
        "cooperative-sticky" => Some(&CooperativeStickyAssignor),
        _ => None,
    }
}

/// The rebalance protocol a consumer configured with `assignors` uses: the best one all of them
/// support (as the Java consumer picks it), or `None` if they share none or the list is empty.
pub fn common_protocol(assignors: &[&dyn Assignor]) -> Option<RebalanceProtocol> {
    let mut common: Option<BTreeSet<RebalanceProtocol>> = None;
    for assignor in assignors {
        let supported: BTreeSet<_> = assignor.supported_protocols().iter().copied().collect();
        common = Some(match common {
            None => supported,
            Some(c) => c.intersection(&supported).copied().collect(),
        });
    }
    common.and_then(|c| c.into_iter().max())
}

/// Why the result of an assignor cannot be sent to the group (see [`check_assignment`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssignmentError {
    /// The result names a member that is not in the group.
    #[error("partitions are assigned to {0:?}, which is not a member")]
    UnknownMember(String),
    /// A partition is assigned twice.
    #[error("{0}-{1} is assigned twice")]
    AssignedTwice(String, i32),
    /// A partition that does not exist, or of a topic no member subscribes to.
    #[error("{0}-{1} is not a partition of a subscribed topic")]
    UnknownPartition(String, i32),
    /// Under the cooperative protocol, a partition one member owns is given to another in the
    /// same rebalance (it must first be revoked, then assigned in the next one).
    #[error("{0}-{1} is owned by {2:?} and given to {3:?} in one rebalance")]
    MovedWithoutRevoke(String, i32, String, String),
}

/// Checks an assignor's result before the leader sends it, as Java's consumer does: every
/// member it names is in `members`, every partition exists in `partitions_per_topic` and is
/// subscribed to by someone, no partition is given twice, and under `protocol` cooperative a
/// partition owned by one member is not given to another in the same rebalance.
///
/// The built-in assignors always pass (their tests say so); the check guards assignors written
/// by applications. `cooperative-sticky` settles conflicting ownership claims by generation
/// itself, so the cooperative rule is not applied to it (Java skips it too).
pub fn check_assignment(
    assignor: &dyn Assignor,
    protocol: RebalanceProtocol,
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
    result: &GroupAssignment,
) -> Result<(), AssignmentError> {
    let ids: HashSet<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
    let subscribed: HashSet<&str> = members
        .iter()
        .flat_map(|m| m.topics.iter().map(String::as_str))
        .collect();
    let mut owner: HashMap<(&str, i32), &str> = HashMap::new();
    for (member, partitions) in result {
        if !ids.contains(member.as_str()) {
            return Err(AssignmentError::UnknownMember(member.clone()));
        }
        for (topic, partition) in partitions {
            let count = partitions_per_topic.get(topic).copied().unwrap_or(0);
            if !subscribed.contains(topic.as_str()) || *partition < 0 || *partition >= count {
                return Err(AssignmentError::UnknownPartition(topic.clone(), *partition));
            }
            if owner
                .insert((topic.as_str(), *partition), member.as_str())
                .is_some()
            {
                return Err(AssignmentError::AssignedTwice(topic.clone(), *partition));
            }
        }
    }
    if protocol == RebalanceProtocol::Cooperative && assignor.name() != "cooperative-sticky" {
        for m in members {
            for (topic, partition) in &m.owned_partitions {
                match owner.get(&(topic.as_str(), *partition)) {
                    Some(to) if *to != m.member_id => {
                        return Err(AssignmentError::MovedWithoutRevoke(
                            topic.clone(),
                            *partition,
                            m.member_id.clone(),
                            (*to).to_owned(),
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// Groups `(topic, partition)` pairs by topic, in the shape the consumer protocol carries them
/// (topics in order, partitions in order, duplicates dropped).
pub fn group_partitions(partitions: &[(String, i32)]) -> Vec<TopicPartition> {
    let mut by_topic: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().insert(*partition);
    }
    by_topic
        .into_iter()
        .map(|(topic, partitions)| TopicPartition {
            topic: topic.to_owned(),
            partitions: partitions.into_iter().collect(),
            ..Default::default()
        })
        .collect()
}

/// Flattens the consumer protocol's per-topic partition lists into `(topic, partition)` pairs.
pub fn flatten_partitions(topics: &[TopicPartition]) -> Vec<(String, i32)> {
    topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|&p| (t.topic.clone(), p)))
        .collect()
}

/// The SyncGroup blob for one member's share of an assignment.
pub fn assignment_to_protocol(partitions: &[(String, i32)]) -> ConsumerProtocolAssignment {
    ConsumerProtocolAssignment {
        assigned_partitions: group_partitions(partitions),
        ..Default::default()
    }
}

/// A topic partition inside one assignment run: the topic's index in [`Group::topics`] (which
/// is in Java string order) and the partition number, so the derived order is Java's
/// topic-then-partition order.
pub(crate) type Tp = (usize, i32);

/// One member's subscription, checked and indexed.
#[derive(Debug)]
pub(crate) struct Member<'a> {
    /// The member as given.
    pub(crate) input: &'a MemberSubscription,
    /// Every topic the member names, known or not (Java compares these for "all subscriptions
    /// equal").
    pub(crate) raw_topics: BTreeSet<&'a str>,
    /// The subscribed topics that exist, as indexes into [`Group::topics`].
    pub(crate) topics: BTreeSet<usize>,
    /// The owned partitions that exist, in the member's order, each once.
    pub(crate) owned: Vec<Tp>,
}

impl Member<'_> {
    pub(crate) fn id(&self) -> &str {
        &self.input.member_id
    }
}

/// The input of an assignment, checked: distinct members, and the topics someone subscribes to
/// that have partitions.
#[derive(Debug)]
pub(crate) struct Group<'a> {
    /// Members in input order, each member id once.
    pub(crate) members: Vec<Member<'a>>,
    /// Subscribed topics with at least one partition, in Java string order, with their counts.
    pub(crate) topics: Vec<(&'a str, i32)>,
}

impl<'a> Group<'a> {
    pub(crate) fn new(
        members: &'a [MemberSubscription],
        partitions_per_topic: &'a BTreeMap<String, i32>,
    ) -> Self {
        // Like Java's map of members: a member listed twice keeps its first place and takes the
        // data of its last entry.
        let mut last: HashMap<&str, &MemberSubscription> = HashMap::new();
        for m in members {
            last.insert(m.member_id.as_str(), m);
        }
        let mut seen = HashSet::new();
        let unique: Vec<&MemberSubscription> = members
            .iter()
            .filter(|m| seen.insert(m.member_id.as_str()))
            .filter_map(|m| last.get(m.member_id.as_str()).copied())
            .collect();

        let subscribed: BTreeSet<&str> = unique
            .iter()
            .flat_map(|m| m.topics.iter().map(String::as_str))
            .collect();
        let mut topics: Vec<(&str, i32)> = partitions_per_topic
            .iter()
            .filter(|(name, &count)| count > 0 && subscribed.contains(name.as_str()))
            .map(|(name, &count)| (name.as_str(), count))
            .collect();
        topics.sort_by(|a, b| java::cmp_str(a.0, b.0));
        let index: HashMap<&str, (usize, i32)> = topics
            .iter()
            .enumerate()
            .map(|(i, &(name, count))| (name, (i, count)))
            .collect();

        let members = unique
            .into_iter()
            .map(|input| {
                let raw_topics: BTreeSet<&str> = input.topics.iter().map(String::as_str).collect();
                let topics = raw_topics
                    .iter()
                    .filter_map(|t| index.get(t).map(|&(i, _)| i))
                    .collect();
                let mut seen = HashSet::new();
                let owned = input
                    .owned_partitions
                    .iter()
                    .filter_map(|(topic, partition)| {
                        let &(t, count) = index.get(topic.as_str())?;
                        (0..count).contains(partition).then_some((t, *partition))
                    })
                    .filter(|tp| seen.insert(*tp))
                    .collect();
                Member {
                    input,
                    raw_topics,
                    topics,
                    owned,
                }
            })
            .collect();
        Group { members, topics }
    }

    /// The partition count of topic `t`.
    pub(crate) fn count(&self, t: usize) -> i32 {
        self.topics.get(t).map_or(0, |t| t.1)
    }

    /// All partitions of the known topics, in topic then partition order.
    pub(crate) fn all_partitions(&self) -> impl Iterator<Item = Tp> + '_ {
        (0..self.topics.len()).flat_map(move |t| (0..self.count(t)).map(move |p| (t, p)))
    }

    /// Turns per-member partition lists (indexed like [`Group::members`]) into the public
    /// result.
    pub(crate) fn output(&self, per_member: Vec<Vec<Tp>>) -> GroupAssignment {
        let mut out = GroupAssignment::new();
        for (member, partitions) in self.members.iter().zip(per_member) {
            let mut list: Vec<(String, i32)> = partitions
                .into_iter()
                .filter_map(|(t, p)| self.topics.get(t).map(|t| (t.0.to_owned(), p)))
                .collect();
            list.sort();
            out.insert(member.id().to_owned(), list);
        }
        out
    }
}

/// Java's order of members for range and roundrobin (`MemberInfo`): members with a group
/// instance id first, by instance id, then the others by member id.
fn member_info_cmp(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => java::cmp_str(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java::cmp_str(&a.member_id, &b.member_id),
    }
}

impl Group<'_> {
    /// Member indexes in Java's `MemberInfo` order. Two members with the same instance id
    /// (which a coordinator does not let happen) stay in the order of Java's hash map of
    /// members, as Java's stable sort leaves them.
    pub(crate) fn member_info_order(&self) -> Vec<usize> {
        let ids: Vec<&str> = self.members.iter().map(Member::id).collect();
        let mut order = java::string_map_order(&ids);
        order.sort_by(|&a, &b| member_info_cmp(self.members[a].input, self.members[b].input));
        order
    }
}

//! Leader-side partition assignors of the classic consumer group protocol (interface only:
//! a plain range assignor stands in until the full set lands).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use dekaf_proto::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicPartition,
};

/// How members of a group hand partitions over during a rebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before rejoining.
    Eager,
    /// Members keep their partitions while rejoining and revoke only those that move.
    Cooperative,
}

/// One member's subscription, as the leader reads it from the JoinGroup response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave the member.
    pub member_id: String,
    /// The member's static identity, if it has one.
    pub group_instance_id: Option<String>,
    /// The topics the member wants to consume.
    pub topics: Vec<String>,
    /// The partitions the member owns now.
    pub owned_partitions: Vec<(String, i32)>,
    /// The generation in which the member got `owned_partitions`.
    pub generation: Option<i32>,
    /// Assignor-specific data the member sent.
    pub user_data: Option<Bytes>,
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
            generation: (subscription.generation_id >= 0).then_some(subscription.generation_id),
            user_data: subscription.user_data.clone(),
        }
    }
}

/// Each member id with its partitions as `(topic, partition)`.
pub type GroupAssignment = BTreeMap<String, Vec<(String, i32)>>;

/// A leader-side partition assignor.
pub trait Assignor: std::fmt::Debug + Send + Sync {
    /// The protocol name members advertise in JoinGroup.
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

    /// The user data a member using this assignor puts in its subscription.
    fn subscription_user_data(&self, generation: i32) -> Option<Bytes> {
        let _ = generation;
        None
    }

    /// Computes the assignment of a group.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment;
}

/// Range assignment, per topic, members in member id order.
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment {
        let mut out: GroupAssignment = members
            .iter()
            .map(|m| (m.member_id.clone(), Vec::new()))
            .collect();
        for (topic, &count) in partitions_per_topic {
            let subs: Vec<String> = out
                .keys()
                .filter(|id| {
                    members
                        .iter()
                        .any(|m| &m.member_id == *id && m.topics.contains(topic))
                })
                .cloned()
                .collect();
            let n = subs.len() as i32;
            if n == 0 || count <= 0 {
                continue;
            }
            let (per, extra) = (count / n, count % n);
            let mut next = 0;
            for (i, id) in subs.iter().enumerate() {
                let take = per + i32::from((i as i32) < extra);
                if let Some(list) = out.get_mut(id) {
                    list.extend((next..next + take).map(|p| (topic.clone(), p)));
                }
                next += take;
            }
        }
        out
    }
}

/// The built-in assignor with the given protocol name, if there is one.
pub fn builtin(name: &str) -> Option<&'static dyn Assignor> {
    match name {
        "range" => Some(&RangeAssignor),
        _ => None,
    }
}

/// The best rebalance protocol all `assignors` support.
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

/// Groups `(topic, partition)` pairs by topic.
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

/// Flattens per-topic partition lists into `(topic, partition)` pairs.
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

//! The `range` assignor, rack-aware as Java's since Kafka 3.5 (KIP-881).

use std::collections::{BTreeMap, BTreeSet};

use super::{Assignor, Group, GroupAssignment, MemberSubscription, PartitionRacks, Tp};

/// Kafka's `range` assignor (eager): each topic on its own is cut into contiguous ranges.
///
/// For every topic, the members subscribed to it are sorted (members with a group instance id
/// first, by instance id, then the others by member id) and its partitions, in order, are cut
/// into one range per member: each gets `partitions / members`, and the first
/// `partitions % members` get one more. With two members `c0`, `c1` and topics `t0`, `t1` of
/// three partitions each, `c0` gets `t0-0, t0-1, t1-0, t1-1` and `c1` gets `t0-2, t1-2`.
///
/// Balanced per topic, not overall: the extra partitions of every topic go to the same first
/// members. Matches Java's `RangeAssignor`, racks included: when members name their rack and
/// the replicas of some topic's partitions are not in every rack, each member first takes (up
/// to its share, in the same order) partitions with a replica in its rack, topics with the
/// same members and partition count partition by partition together so that they stay
/// co-partitioned; what is left is then cut into ranges as above. Without racks, or when
/// every partition has a replica in every rack, the result is the plain one.
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
        self.assign_with_racks(members, partitions_per_topic, &PartitionRacks::new())
    }

    fn assign_with_racks(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
        partition_racks: &PartitionRacks,
    ) -> GroupAssignment {
        let group = Group::new(members, partitions_per_topic);
        let mut out: Vec<Vec<Tp>> = vec![Vec::new(); group.members.len()];
        let order = group.member_info_order();
        let mut states: Vec<TopicState<'_>> = (0..group.topics.len())
            .map(|t| TopicState::new(&group, t, &order, partition_racks))
            .collect();
        if states.iter().any(|s| s.needs_rack_aware) {
            assign_with_rack_matching(&mut states, &mut out);
        }
        for state in &mut states {
            state.assign_ranges(|_, _| true, &mut out);
        }
        group.output(out)
    }
}

/// Java's `TopicAssignmentState`: one topic's subscribers, the racks of its partitions, and
/// how far its assignment got.
struct TopicState<'a> {
    topic: usize,
    /// Subscribers in `MemberInfo` order, with their racks.
    consumers: Vec<(usize, Option<&'a str>)>,
    /// The racks of each partition's replicas; empty when no subscriber names a rack.
    partition_racks: Vec<BTreeSet<&'a str>>,
    needs_rack_aware: bool,
    unassigned: BTreeSet<i32>,
    assigned: BTreeMap<usize, i32>,
    per_consumer: i32,
    with_extra: i32,
}

impl<'a> TopicState<'a> {
    fn new(group: &Group<'a>, topic: usize, order: &[usize], racks: &'a PartitionRacks) -> Self {
        let consumers: Vec<(usize, Option<&str>)> = order
            .iter()
            .copied()
            .filter(|&m| group.members[m].topics.contains(&topic))
            .map(|m| (m, group.members[m].input.rack_id.as_deref()))
            .collect();
        let count = group.count(topic);
        let consumer_racks: BTreeSet<&str> = consumers.iter().filter_map(|c| c.1).collect();
        let partition_racks: Vec<BTreeSet<&str>> = if consumer_racks.is_empty() {
            Vec::new()
        } else {
            let name = group.topics[topic].0;
            (0..count)
                .map(|p| {
                    racks
                        .get(&(name.to_owned(), p))
                        .map(|r| r.iter().map(String::as_str).collect())
                        .unwrap_or_default()
                })
                .collect()
        };
        let all_partition_racks: BTreeSet<&str> =
            partition_racks.iter().flatten().copied().collect();
        let needs_rack_aware =
            use_rack_aware(&consumer_racks, &all_partition_racks, &partition_racks);
        let n = i32::try_from(consumers.len()).unwrap_or(i32::MAX);
        let (per_consumer, with_extra) = if n == 0 {
            (0, 0)
        } else {
            (count / n, count % n)
        };
        TopicState {
            topic,
            assigned: consumers.iter().map(|c| (c.0, 0)).collect(),
            consumers,
            partition_racks,
            needs_rack_aware,
            unassigned: (0..count).collect(),
            per_consumer,
            with_extra,
        }
    }

    fn rack_of(&self, member: usize) -> Option<&'a str> {
        self.consumers
            .iter()
            .find(|c| c.0 == member)
            .and_then(|c| c.1)
    }

    /// A member without a rack matches every partition; one with a rack, the partitions with
    /// a replica there.
    fn racks_match(&self, member: usize, partition: i32) -> bool {
        match self.rack_of(member) {
            None => true,
            Some(rack) => usize::try_from(partition)
                .ok()
                .and_then(|p| self.partition_racks.get(p))
                .is_some_and(|racks| racks.contains(rack)),
        }
    }

    fn max_assignable(&self, member: usize) -> i32 {
        let extra = i32::from(self.with_extra > 0);
        let done = self.assigned.get(&member).copied().unwrap_or(0);
        (self.per_consumer + extra - done).max(0)
    }

    fn assign(&mut self, member: usize, partitions: &[i32], out: &mut [Vec<Tp>]) {
        out[member].extend(partitions.iter().map(|&p| (self.topic, p)));
        let done = self.assigned.entry(member).or_default();
        *done += i32::try_from(partitions.len()).unwrap_or(i32::MAX);
        if *done > self.per_consumer {
            self.with_extra -= 1;
        }
        for p in partitions {
            self.unassigned.remove(p);
        }
    }

    /// Each member in turn takes, up to its share, the unassigned partitions `may_take` lets
    /// it have, lowest first.
    fn assign_ranges(
        &mut self,
        may_take: impl Fn(&Self, (usize, i32)) -> bool,
        out: &mut [Vec<Tp>],
    ) {
        let members: Vec<usize> = self.consumers.iter().map(|c| c.0).collect();
        for m in members {
            if self.unassigned.is_empty() {
                break;
            }
            let max = usize::try_from(self.max_assignable(m)).unwrap_or(0);
            let take: Vec<i32> = self
                .unassigned
                .iter()
                .copied()
                .filter(|&p| may_take(self, (m, p)))
                .take(max)
                .collect();
            if !take.is_empty() {
                self.assign(m, &take, out);
            }
        }
    }
}

/// Java's `useRackAwareAssignment` (without `preferRackAwareLogic`): some member's rack holds
/// a replica, and not every partition has replicas in all the racks the topic's replicas use.
pub(crate) fn use_rack_aware<S: AsRef<str> + Ord>(
    consumer_racks: &BTreeSet<S>,
    partition_racks: &BTreeSet<S>,
    racks_per_partition: &[BTreeSet<S>],
) -> bool {
    if consumer_racks.is_disjoint(partition_racks) {
        return false;
    }
    !racks_per_partition.iter().all(|r| r == partition_racks)
}

/// The rack-matching pass: topics grouped by subscribers and partition count; a topic alone
/// takes rack-matching ranges, topics together are assigned partition by partition to the
/// first member whose rack matches in all of them.
fn assign_with_rack_matching(states: &mut [TopicState<'_>], out: &mut [Vec<Tp>]) {
    let mut groups: BTreeMap<(Vec<usize>, usize), Vec<usize>> = BTreeMap::new();
    for (i, s) in states.iter().enumerate() {
        let members = s.consumers.iter().map(|c| c.0).collect();
        groups
            .entry((members, s.partition_racks.len()))
            .or_default()
            .push(i);
    }
    for ((members, partitions), topics) in groups {
        if let [only] = topics[..] {
            let state = &mut states[only];
            if state.needs_rack_aware {
                state.assign_ranges(|s, (m, p)| s.racks_match(m, p), out);
            }
        } else {
            assign_co_partitioned(states, &members, partitions, &topics, out);
        }
    }
}

fn assign_co_partitioned(
    states: &mut [TopicState<'_>],
    members: &[usize],
    partitions: usize,
    topics: &[usize],
    out: &mut [Vec<Tp>],
) {
    let mut remaining: Vec<usize> = members.to_vec();
    for p in 0..i32::try_from(partitions).unwrap_or(i32::MAX) {
        let found = remaining.iter().copied().find(|&m| {
            topics.iter().all(|&t| {
                let s = &states[t];
                s.racks_match(m, p) && s.max_assignable(m) > 0
            })
        });
        let Some(m) = found else { continue };
        for &t in topics {
            states[t].assign(m, &[p], out);
        }
        if topics.iter().all(|&t| states[t].max_assignable(m) == 0) {
            remaining.retain(|&r| r != m);
            if remaining.is_empty() {
                break;
            }
        }
    }
}

//! The `cooperative-sticky` assignor.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

use super::sticky::{self, MemberGeneration};
use super::{
    Assignor, Group, GroupAssignment, MemberSubscription, PartitionRacks, RebalanceProtocol, Tp,
};

/// Kafka's `cooperative-sticky` assignor: a balanced assignment that moves as few partitions as
/// possible, handed over in two rebalances (see the [module docs](super)).
///
/// Each member keeps the partitions it owns as far as balance allows; the others go to the
/// least loaded members. When every member subscribes to the same topics the result is balanced
/// within one partition. A partition that moves from one member to another is only taken from
/// its old owner in this rebalance; its new owner gets it in the follow-up rebalance the old
/// owner triggers after revoking it. Likewise a partition claimed by two members of the same
/// generation is given to nobody until both have revoked it.
///
/// Members report what they own in the subscription's `owned_partitions` and the generation
/// they got it in, either in the subscription's `generation` field or, from older members, as
/// a 4-byte big-endian integer in the user data (what [`Assignor::subscription_user_data`]
/// writes, as the Java consumer does).
///
/// Rack-aware as Java's (KIP-881) when members name racks and some partition's replicas are
/// not in every rack: a member keeps only owned partitions with a replica in its rack, and the
/// others go to members in a rack holding a replica first. When every member subscribes to the
/// same topics they are dealt within racks, then round robin as without racks; otherwise each
/// goes to the least loaded subscriber in a rack holding one (else to the least loaded
/// subscriber), and balancing moves partitions as without racks. Unlike Java, an owned
/// partition a member no longer keeps for that reason is revoked before it moves (Java hands
/// it to its new owner at once). With different subscriptions, dekaf also keeps owned
/// partitions outside their racks when taking them away would not leave fewer partitions
/// outside their member's rack in the end: where balance needs some partitions outside their
/// racks, Java's rule can move them in every rebalance and the group never settles. With the
/// same subscriptions, dealing within racks stops raising members to the maximum quota once
/// enough members hold it (Java does not count those, and can leave a member below the
/// minimum). Without racks, or with every partition in every member's rack, the result is as
/// without racks.
///
/// Follows Java's `CooperativeStickyAssignor`, down to the choices Java makes by
/// the iteration order of its hash maps: given the members in JoinGroup order, dekaf assigns
/// what a Java leader would. Two deliberate differences, both on input a well-behaved group
/// does not produce: owned partitions that do not exist are ignored (Java may hand them out,
/// or hand a real partition to two members), and a partition is never moved back to an older
/// owner that no longer subscribes to its topic (Java does, or fails when that owner cannot
/// take part in balancing).
///
/// Under the eager protocol members own nothing when they join and the assignor behaves as a
/// plain balanced assignor.
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

impl CooperativeStickyAssignor {
    /// The generation a member's owned partitions come from: the subscription's field when
    /// given, else the 4-byte integer at the start of the user data (a malformed one reads as
    /// -1), else `None`.
    pub fn member_generation(member: &MemberSubscription) -> Option<i32> {
        if let Some(generation) = member.generation.filter(|&g| g >= 0) {
            return Some(generation);
        }
        let data = member.user_data.as_ref()?;
        Some(match data.get(..4) {
            Some(&[a, b, c, d]) => i32::from_be_bytes([a, b, c, d]),
            _ => -1,
        })
    }
}

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        "cooperative-sticky"
    }

    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        &[RebalanceProtocol::Cooperative, RebalanceProtocol::Eager]
    }

    fn subscription_user_data(&self, generation: i32) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(&generation.to_be_bytes()))
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
        let generations: Vec<MemberGeneration> = group
            .members
            .iter()
            .map(|m| MemberGeneration {
                owned: Self::member_generation(m.input).unwrap_or(-1),
                field: m.input.generation.filter(|&g| g >= 0).unwrap_or(-1),
            })
            .collect();
        let outcome = sticky::assign(&group, &generations, partition_racks);
        let mut assignment = outcome.assignment;
        let transferring = outcome
            .transferring
            .unwrap_or_else(|| claimed_by_others(&group, &assignment));
        // Phase one of a move: the partition is revoked from its owner (it is not in the
        // owner's new assignment) but not yet given to anyone.
        let mut withheld: HashMap<usize, HashSet<Tp>> = HashMap::new();
        for (tp, m) in transferring {
            withheld.entry(m).or_default().insert(tp);
        }
        for (m, partitions) in assignment.iter_mut().enumerate() {
            if let Some(set) = withheld.get(&m) {
                partitions.retain(|tp| !set.contains(tp));
            }
        }
        group.output(assignment)
    }
}

/// The partitions assigned to a member that did not claim them while another member did: those
/// must be revoked by the claimant before their new owner gets them.
fn claimed_by_others(group: &Group<'_>, assignment: &[Vec<Tp>]) -> BTreeMap<Tp, usize> {
    let mut claimants: HashMap<Tp, Vec<usize>> = HashMap::new();
    for (m, member) in group.members.iter().enumerate() {
        for &tp in &member.owned {
            claimants.entry(tp).or_default().push(m);
        }
    }
    let mut transferring = BTreeMap::new();
    for (m, partitions) in assignment.iter().enumerate() {
        for &tp in partitions {
            let claimed_by_other = claimants
                .get(&tp)
                .is_some_and(|list| list.iter().any(|&c| c != m));
            let claimed_by_self = claimants.get(&tp).is_some_and(|list| list.contains(&m));
            if claimed_by_other && !claimed_by_self {
                transferring.insert(tp, m);
            }
        }
    }
    transferring
}

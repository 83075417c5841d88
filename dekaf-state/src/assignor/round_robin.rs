//! The `roundrobin` assignor.

use std::collections::BTreeMap;

use super::{Assignor, Group, GroupAssignment, MemberSubscription, Tp};

/// Kafka's `roundrobin` assignor (eager): all partitions dealt to the members in turn.
///
/// Partitions of all subscribed topics are laid out by topic then partition; members are
/// sorted (members with a group instance id first, by instance id, then the others by member
/// id) and taken in a circle. Each partition goes to the next member in the circle that
/// subscribes to its topic; members in between are skipped and the circle moves on past the one
/// that got it. With two members `c0`, `c1` and topics `t0`, `t1` of three partitions each,
/// `c0` gets `t0-0, t0-2, t1-1` and `c1` gets `t0-1, t1-0, t1-2`.
///
/// Balanced within one partition when all members subscribe to the same topics. Matches Java's
/// `RoundRobinAssignor`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        "roundrobin"
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment {
        let group = Group::new(members, partitions_per_topic);
        let mut out: Vec<Vec<Tp>> = vec![Vec::new(); group.members.len()];
        let circle = group.member_info_order();
        let mut next = 0;
        for (t, p) in group.all_partitions() {
            // Every known topic has a subscriber, so one turn of the circle finds it.
            let Some(step) = (0..circle.len()).find(|&k| {
                group.members[circle[(next + k) % circle.len()]]
                    .topics
                    .contains(&t)
            }) else {
                continue;
            };
            let m = circle[(next + step) % circle.len()];
            out[m].push((t, p));
            next = (next + step + 1) % circle.len();
        }
        group.output(out)
    }
}

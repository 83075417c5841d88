//! The `range` assignor.

use std::collections::BTreeMap;

use super::{Assignor, Group, GroupAssignment, MemberSubscription, Tp};

/// Kafka's `range` assignor (eager): each topic on its own is cut into contiguous ranges.
///
/// For every topic, the members subscribed to it are sorted (members with a group instance id
/// first, by instance id, then the others by member id) and its partitions, in order, are cut
/// into one range per member: each gets `partitions / members`, and the first
/// `partitions % members` get one more. With two members `c0`, `c1` and topics `t0`, `t1` of
/// three partitions each, `c0` gets `t0-0, t0-1, t1-0, t1-1` and `c1` gets `t0-2, t1-2`.
///
/// Balanced per topic, not overall: the extra partitions of every topic go to the same first
/// members. Matches Java's `RangeAssignor` without racks.
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
        let group = Group::new(members, partitions_per_topic);
        let mut out: Vec<Vec<Tp>> = vec![Vec::new(); group.members.len()];
        let order = group.member_info_order();
        for t in 0..group.topics.len() {
            let subscribers: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&m| group.members[m].topics.contains(&t))
                .collect();
            let Ok(n) = i32::try_from(subscribers.len()) else {
                continue;
            };
            if n == 0 {
                continue;
            }
            let count = group.count(t);
            let (each, extra) = (count / n, count % n);
            let mut next = 0;
            for (i, &m) in (0..).zip(&subscribers) {
                let len = each + i32::from(i < extra);
                out[m].extend((next..next + len).map(|p| (t, p)));
                next += len;
            }
        }
        group.output(out)
    }
}

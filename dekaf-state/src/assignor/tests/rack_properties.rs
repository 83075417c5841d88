//! Property tests of the rack-aware `cooperative-sticky` assignor over the random groups of
//! [`super::properties`], with members in racks `r0` to `r2` (or none, or an empty rack) and
//! each partition's replicas in a random set of those racks (or unknown).

use proptest::collection::vec;
use proptest::prelude::*;

use super::cooperative_sticky_cases::{check_cooperative, settle};
use super::properties::{
    check_balanced, check_complete, check_sticky_balance, check_valid, scenario, Scenario,
};
use super::*;

const RACKS: [&str; 3] = ["r0", "r1", "r2"];

/// Gives member `i` the rack `racks[i]`: 0 to 2 name a rack, 3 the empty rack, 4 none.
fn place_members(members: &mut [MemberSubscription], racks: &[usize]) {
    for (m, &rack) in members.iter_mut().zip(racks) {
        m.rack_id = match rack {
            0..=2 => Some(RACKS[rack].to_owned()),
            3 => Some(String::new()),
            _ => None,
        };
    }
}

/// The replica racks of every partition: bit `k` of a mask puts a replica in rack `k`; a mask
/// of 0 leaves the partition out (racks unknown).
fn replica_racks(topics: &BTreeMap<String, i32>, masks: &[Vec<u8>]) -> PartitionRacks {
    let mut out = PartitionRacks::new();
    for ((topic, &count), masks) in topics.iter().zip(masks) {
        for (p, &mask) in (0..count).zip(masks.iter().cycle()) {
            let racks: BTreeSet<String> = (0..3)
                .filter(|k| mask & (1 << k) != 0)
                .map(|k| RACKS[k].to_owned())
                .collect();
            if !racks.is_empty() {
                out.insert((topic.clone(), p), racks);
            }
        }
    }
    out
}

/// Rebalances with racks, as [`settle`] does without, until nothing is revoked.
fn settle_with_racks(
    mut members: Vec<MemberSubscription>,
    topics: &BTreeMap<String, i32>,
    racks: &PartitionRacks,
) -> GroupAssignment {
    let mut out = CooperativeStickyAssignor.assign_with_racks(&members, topics, racks);
    let mut rounds = 0;
    while check_cooperative(&members, &out) {
        rounds += 1;
        assert!(
            rounds <= 12,
            "no settled assignment after 12 follow-up rebalances: {out:?}"
        );
        for m in &mut members {
            m.owned_partitions = out[&m.member_id].clone();
            m.generation = Some(m.generation.unwrap_or(0) + 1);
        }
        out = CooperativeStickyAssignor.assign_with_racks(&members, topics, racks);
    }
    out
}

/// The members of `after`, those also in `before` owning what they held once `before` settled.
fn rejoined(before: &Scenario, after: &Scenario) -> Vec<MemberSubscription> {
    let previous = settle(before.members.clone(), &before.topics);
    let mut members = after.members.clone();
    for m in &mut members {
        if let Some(owned) = previous.get(&m.member_id) {
            m.owned_partitions = owned.clone();
            m.generation = Some(7);
        }
    }
    members
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// From scratch and after members owning partitions outside their racks rejoin: every
    /// partition once, only to subscribers, nothing given while another member still owns it,
    /// and once settled every partition assigned and balanced as Java defines it.
    #[test]
    fn rack_aware_cooperative_sticky_is_valid_complete_and_balanced(
        before in scenario(),
        after in scenario(),
        member_racks in vec(0..5usize, 8),
        masks in vec(vec(0..8u8, 1..=6), 5),
    ) {
        let racks = replica_racks(&after.topics, &masks);
        let mut members = rejoined(&before, &after);
        let general = !after.same;
        place_members(&mut members, &member_racks);
        let s = Scenario { topics: after.topics.clone(), members, same: after.same };

        let out = CooperativeStickyAssignor.assign_with_racks(&s.members, &s.topics, &racks);
        check_valid(&s, &out);
        check_cooperative(&s.members, &out);

        let settled = settle_with_racks(s.members.clone(), &s.topics, &racks);
        check_valid(&s, &settled);
        check_complete(&s, &settled);
        check_sticky_balance(&settled);
        if !general {
            // Every member subscribes to the same topics: within one partition.
            check_balanced(&settled);
        }
    }

    /// When every partition has a replica in every rack, or no member names a rack, racks
    /// change nothing.
    #[test]
    fn cooperative_sticky_ignores_racks_that_make_no_difference(
        before in scenario(),
        after in scenario(),
        member_racks in vec(0..5usize, 8),
        masks in vec(vec(0..8u8, 1..=6), 5),
    ) {
        let members = rejoined(&before, &after);
        let plain = CooperativeStickyAssignor.assign(&members, &after.topics);

        let mut in_racks = members.clone();
        place_members(&mut in_racks, &member_racks);
        let everywhere = replica_racks(&after.topics, &vec![vec![7]; 5]);
        let out = CooperativeStickyAssignor.assign_with_racks(&in_racks, &after.topics, &everywhere);
        prop_assert_eq!(&out, &plain);

        let anywhere = replica_racks(&after.topics, &masks);
        let out = CooperativeStickyAssignor.assign_with_racks(&members, &after.topics, &anywhere);
        prop_assert_eq!(&out, &plain);
    }
}

/// A group found by the property above where taking owned partitions away from members
/// outside their racks in every rebalance, as Java does, never settles.
#[test]
fn rack_aware_cooperative_sticky_settles_where_java_would_move_partitions_without_end() {
    let group = |topics: &[(&str, i32)], members: &[(&str, &[&str])]| Scenario {
        topics: counts(topics),
        members: members.iter().map(|(id, t)| member(id, t)).collect(),
        same: false,
    };
    let before = group(
        &[("t0", 5), ("t1", 3), ("t2", 1), ("t3", 4), ("t4", 3)],
        &[
            ("0", &["t0", "t1", "t3", "ghost"]),
            ("1", &["t0", "t3", "t4"]),
            ("2", &["t2", "t3", "t4", "ghost"]),
        ],
    );
    let after = group(
        &[("t0", 12), ("t1", 15), ("t2", 5), ("t3", 2), ("t4", 13)],
        &[
            ("0", &["t3", "ghost"]),
            ("1", &["t1", "t2", "t4"]),
            ("a2", &["t2", "t4"]),
            ("3", &["t1", "ghost"]),
            ("4", &["t0", "t1", "t3", "t4", "ghost"]),
            ("5", &["t0", "t2"]),
            ("6", &["t0", "t4", "ghost"]),
            ("7", &["t0", "ghost"]),
        ],
    );
    let masks = [
        vec![1, 1, 2, 6],
        vec![3, 1],
        vec![0, 2, 5, 5],
        vec![0, 1],
        vec![4, 0, 1, 2, 1, 4],
    ];
    let racks = replica_racks(&after.topics, &masks);
    let mut members = rejoined(&before, &after);
    place_members(&mut members, &[3, 0, 1, 1, 0, 3, 3, 0]);
    let mut rounds = Vec::new();
    for generation in 8..20 {
        let out = CooperativeStickyAssignor.assign_with_racks(&members, &after.topics, &racks);
        for m in &mut members {
            m.owned_partitions = out[&m.member_id].clone();
            m.generation = Some(generation);
        }
        rounds.push(out);
    }
    let last = rounds.last().cloned().unwrap_or_default();
    // The first rebalance from which the assignment no longer changes.
    let first_settled = rounds.iter().rposition(|r| *r != last).map_or(0, |i| i + 1);
    assert!(
        first_settled <= 4,
        "settled after {first_settled} rebalances"
    );
    check_complete(&after, &last);
    check_sticky_balance(&last);
}

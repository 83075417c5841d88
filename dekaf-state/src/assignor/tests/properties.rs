//! Property tests over random groups: 1 to 8 members, 1 to 5 topics of 1 to 16 partitions,
//! random subscriptions (sometimes all the same, sometimes naming a topic that does not exist).

use proptest::collection::vec;
use proptest::prelude::*;

use super::cooperative_sticky_cases::{check_cooperative, settle};
use super::*;

const TOPICS: [&str; 5] = ["t0", "t1", "t2", "t3", "t4"];

/// The topics a subscription mask names, never none; bit 5 names a topic that does not exist.
fn topics_of(mask: u8, topic_count: usize) -> Vec<&'static str> {
    let mut topics: Vec<&str> = (0..topic_count)
        .filter(|&t| mask & (1 << t) != 0)
        .map(|t| TOPICS[t])
        .collect();
    if topics.is_empty() {
        topics.push(TOPICS[mask as usize % topic_count]);
    }
    if mask & 0x20 != 0 {
        topics.push("ghost");
    }
    topics
}

/// A random group: topics with their partition counts, and members.
#[derive(Debug, Clone)]
pub(super) struct Scenario {
    pub(super) topics: BTreeMap<String, i32>,
    pub(super) members: Vec<MemberSubscription>,
    /// Whether every member subscribes to the same topics.
    pub(super) same: bool,
}

/// Random groups, as the module docs describe.
pub(super) fn scenario() -> impl Strategy<Value = Scenario> {
    (
        vec(1..=16i32, 1..=5),
        vec(("[a-c]{0,2}", any::<u8>(), any::<bool>()), 1..=8),
        any::<bool>(),
    )
        .prop_map(|(partition_counts, members, same)| {
            let topic_count = partition_counts.len();
            let topics = TOPICS
                .iter()
                .zip(&partition_counts)
                .map(|(t, n)| ((*t).to_owned(), *n))
                .collect();
            let first_mask = members[0].1;
            let members = members
                .iter()
                .enumerate()
                .map(|(i, (prefix, mask, is_static))| {
                    let id = format!("{prefix}{i}");
                    let mask = if same { first_mask } else { *mask };
                    let mut m = member(&id, &topics_of(mask, topic_count));
                    if *is_static {
                        m.group_instance_id = Some(format!("i{}", 7 - i));
                    }
                    m
                })
                .collect();
            Scenario {
                topics,
                members,
                same,
            }
        })
}

/// Every member is in the result, every partition goes to at most one member, only to members
/// subscribed to its topic, and only partitions that exist.
pub(super) fn check_valid(s: &Scenario, out: &GroupAssignment) {
    // What a leader checks before it sends any assignor's result.
    let eager = RebalanceProtocol::Eager;
    assert_eq!(
        check_assignment(&RangeAssignor, eager, &s.members, &s.topics, out),
        Ok(())
    );
    let ids: BTreeSet<&String> = s.members.iter().map(|m| &m.member_id).collect();
    assert_eq!(ids, out.keys().collect(), "members");
    let mut seen = BTreeSet::new();
    for m in &s.members {
        for (topic, partition) in &out[&m.member_id] {
            assert!(
                m.topics.contains(topic),
                "{topic}-{partition} to {} not subscribed",
                m.member_id
            );
            let count = s.topics.get(topic).copied().unwrap_or(0);
            assert!(
                (0..count).contains(partition),
                "{topic}-{partition} does not exist"
            );
            assert!(
                seen.insert((topic, partition)),
                "{topic}-{partition} assigned twice"
            );
        }
    }
}

/// Every partition of a subscribed topic is assigned.
pub(super) fn check_complete(s: &Scenario, out: &GroupAssignment) {
    let assigned: usize = out.values().map(Vec::len).sum();
    let subscribed: BTreeSet<&String> = s.members.iter().flat_map(|m| &m.topics).collect();
    let expected: i32 = s
        .topics
        .iter()
        .filter(|(t, _)| subscribed.contains(t))
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(
        assigned,
        usize::try_from(expected).unwrap(),
        "complete: {out:?}"
    );
}

/// Partition counts differ by at most one.
pub(super) fn check_balanced(out: &GroupAssignment) {
    let sizes: Vec<usize> = out.values().map(Vec::len).collect();
    let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
    assert!(max - min <= 1, "unbalanced: {out:?}");
}

/// Java's balance check for sticky assignments: when two members' counts differ by more than
/// one, the more loaded holds no partition of a topic the other holds partitions of.
pub(super) fn check_sticky_balance(out: &GroupAssignment) {
    for (a, pa) in out {
        for (b, pb) in out {
            if pa.len() > pb.len() + 1 {
                let theirs: BTreeSet<&String> = pb.iter().map(|(t, _)| t).collect();
                assert!(
                    pa.iter().all(|(t, _)| !theirs.contains(t)),
                    "{a} could give {b} a partition: {out:?}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn range_is_valid_complete_and_balanced_per_topic(s in scenario()) {
        let out = RangeAssignor.assign(&s.members, &s.topics);
        check_valid(&s, &out);
        check_complete(&s, &out);
        for topic in s.topics.keys() {
            let counts: Vec<usize> = s
                .members
                .iter()
                .filter(|m| m.topics.contains(topic))
                .map(|m| out[&m.member_id].iter().filter(|(t, _)| t == topic).count())
                .collect();
            if let (Some(min), Some(max)) = (counts.iter().min(), counts.iter().max()) {
                prop_assert!(max - min <= 1, "{topic}: {counts:?}");
            }
        }
    }

    #[test]
    fn roundrobin_is_valid_complete_and_balanced(s in scenario()) {
        let out = RoundRobinAssignor.assign(&s.members, &s.topics);
        check_valid(&s, &out);
        check_complete(&s, &out);
        if s.same {
            check_balanced(&out);
        }
    }

    #[test]
    fn cooperative_sticky_fresh_group(s in scenario()) {
        let out = CooperativeStickyAssignor.assign(&s.members, &s.topics);
        check_valid(&s, &out);
        // Nobody owns anything, so nothing is held back.
        check_complete(&s, &out);
        check_sticky_balance(&out);
        if s.same {
            check_balanced(&out);
        }
    }

    /// A group settles, then changes (members leave and join, subscriptions change, topics
    /// grow) and rebalances with what each member owns.
    #[test]
    fn cooperative_sticky_after_changes(
        before in scenario(),
        after in scenario(),
        stays in vec(any::<bool>(), 8),
        growth in vec(0..4i32, 5),
    ) {
        let previous = settle(before.members.clone(), &before.topics);
        let generation = 7;
        // Members of `after` whose id was in `before` and that stay take over what they owned.
        let mut members = after.members.clone();
        for (i, m) in members.iter_mut().enumerate() {
            if let Some(owned) = previous.get(&m.member_id).filter(|_| stays[i]) {
                m.owned_partitions = owned.clone();
                m.generation = Some(generation);
            }
        }
        let mut topics = before.topics.clone();
        for ((_, count), more) in topics.iter_mut().zip(&growth) {
            *count += more;
        }
        for (topic, count) in &after.topics {
            topics.entry(topic.clone()).or_insert(*count);
        }
        let s = Scenario { topics, members, same: after.same };

        let out = CooperativeStickyAssignor.assign(&s.members, &s.topics);
        check_valid(&s, &out);
        check_cooperative(&s.members, &out);

        if s.same {
            // Each member keeps what it owned, up to the minimum quota.
            let partitions: i32 = s.topics.iter()
                .filter(|(t, _)| s.members[0].topics.contains(t))
                .map(|(_, n)| *n)
                .sum();
            let min_quota = usize::try_from(partitions).unwrap() / s.members.len();
            for m in &s.members {
                let owned: BTreeSet<&(String, i32)> = m.owned_partitions.iter()
                    .filter(|(t, p)| m.topics.contains(t) && *p < s.topics.get(t).copied().unwrap_or(0))
                    .collect();
                let kept = out[&m.member_id].iter().filter(|tp| owned.contains(tp)).count();
                prop_assert!(kept >= owned.len().min(min_quota), "{}: kept {kept} of {owned:?}: {out:?}", m.member_id);
            }
        }

        // Follow-up rebalances hand over what was held back.
        let settled = settle(s.members.clone(), &s.topics);
        check_valid(&s, &settled);
        check_complete(&s, &settled);
        check_sticky_balance(&settled);
        if s.same {
            check_balanced(&settled);
            // A settled group stays as it is.
            let mut again = s.members.clone();
            for m in &mut again {
                m.owned_partitions = settled[&m.member_id].clone();
                m.generation = Some(generation + 9);
            }
            prop_assert_eq!(CooperativeStickyAssignor.assign(&again, &s.topics), settled);
        }
    }

    /// Stale claims: members claim random partitions with random generations.
    #[test]
    fn cooperative_sticky_with_conflicting_claims(
        s in scenario(),
        claims in vec(vec((0..5usize, 0..20i32), 0..6), 8),
        generations in vec(prop::option::of(-1..4i32), 8),
    ) {
        let mut s = s;
        for (i, m) in s.members.iter_mut().enumerate() {
            m.owned_partitions = claims[i].iter().map(|&(t, p)| (TOPICS[t].to_owned(), p)).collect();
            m.generation = generations[i];
        }
        let out = CooperativeStickyAssignor.assign(&s.members, &s.topics);
        check_valid(&s, &out);
        check_cooperative(&s.members, &out);
        let settled = settle(s.members.clone(), &s.topics);
        check_valid(&s, &settled);
        check_complete(&s, &settled);
    }
}

/// An application's assignor, as bad as it can be: whatever it was told to answer.
#[derive(Debug)]
struct Fixed(GroupAssignment);

impl Assignor for Fixed {
    fn name(&self) -> &'static str {
        "fixed"
    }

    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative]
    }

    fn assign(&self, _: &[MemberSubscription], _: &BTreeMap<String, i32>) -> GroupAssignment {
        self.0.clone()
    }
}

#[test]
fn check_assignment_refuses_what_would_break_the_group() {
    let topics = BTreeMap::from([("t0".to_owned(), 2)]);
    let mut a = member("a", &["t0"]);
    a.owned_partitions = vec![("t0".to_owned(), 0)];
    let members = [a, member("b", &["t0"])];
    let out = |pairs: &[(&str, &str, i32)]| {
        let mut g = GroupAssignment::new();
        for (m, t, p) in pairs {
            g.entry((*m).to_owned())
                .or_default()
                .push(((*t).to_owned(), *p));
        }
        g
    };
    let check = |protocol, result: GroupAssignment| {
        let assignor = Fixed(result);
        let result = assignor.assign(&members, &topics);
        check_assignment(&assignor, protocol, &members, &topics, &result)
    };
    let (eager, coop) = (RebalanceProtocol::Eager, RebalanceProtocol::Cooperative);
    let s = |t: &str| t.to_owned();

    assert_eq!(check(eager, out(&[("a", "t0", 0), ("b", "t0", 1)])), Ok(()));
    // A member left out gets nothing; that is allowed.
    assert_eq!(check(coop, out(&[("a", "t0", 0)])), Ok(()));
    assert_eq!(
        check(eager, out(&[("zombie", "t0", 0)])),
        Err(AssignmentError::UnknownMember(s("zombie")))
    );
    assert_eq!(
        check(eager, out(&[("a", "t0", 0), ("b", "t0", 0)])),
        Err(AssignmentError::AssignedTwice(s("t0"), 0))
    );
    for (t, p) in [("t0", 2), ("t0", -1), ("t9", 0)] {
        assert_eq!(
            check(eager, out(&[("a", t, p)])),
            Err(AssignmentError::UnknownPartition(s(t), p))
        );
    }
    // `a` owns t0-0: eager members gave it up before joining, cooperative ones did not.
    let moved = out(&[("b", "t0", 0)]);
    assert_eq!(check(eager, moved.clone()), Ok(()));
    assert_eq!(
        check(coop, moved),
        Err(AssignmentError::MovedWithoutRevoke(
            s("t0"),
            0,
            s("a"),
            s("b")
        ))
    );
}

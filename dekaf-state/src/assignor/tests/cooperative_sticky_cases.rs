//! `cooperative-sticky`: cases of Java's `AbstractStickyAssignorTest` and
//! `CooperativeStickyAssignorTest` (without racks), with the results Java gives for the same
//! members in the same order.

use super::*;

fn assign(members: &[MemberSubscription], topics: &[(&str, i32)]) -> GroupAssignment {
    CooperativeStickyAssignor.assign(members, &counts(topics))
}

/// Checks that no partition is given to a member while another one owns it, as Java's
/// `verifyCooperativeValidity` does; returns whether some member must revoke a partition.
pub(in crate::assignor) fn check_cooperative(
    members: &[MemberSubscription],
    out: &GroupAssignment,
) -> bool {
    let mut added = BTreeSet::new();
    let mut revoked = BTreeSet::new();
    for m in members {
        let owned: BTreeSet<&(String, i32)> = m.owned_partitions.iter().collect();
        let assigned: BTreeSet<&(String, i32)> = out[&m.member_id].iter().collect();
        added.extend(assigned.difference(&owned).copied());
        revoked.extend(owned.difference(&assigned).copied());
    }
    let both: Vec<_> = added.intersection(&revoked).collect();
    assert!(both.is_empty(), "assigned while still owned: {both:?}");
    !revoked.is_empty()
}

/// Runs follow-up rebalances, as members that revoked something trigger them, until nothing is
/// revoked; returns the settled assignment.
pub(in crate::assignor) fn settle(
    mut members: Vec<MemberSubscription>,
    topics: &BTreeMap<String, i32>,
) -> GroupAssignment {
    let mut out = CooperativeStickyAssignor.assign(&members, topics);
    let mut rounds = 0;
    while check_cooperative(&members, &out) {
        rounds += 1;
        assert!(
            rounds <= 4,
            "no settled assignment after 4 follow-up rebalances"
        );
        for m in &mut members {
            m.owned_partitions = out[&m.member_id].clone();
            m.generation = Some(m.generation.unwrap_or(0) + 1);
        }
        out = CooperativeStickyAssignor.assign(&members, topics);
    }
    out
}

#[test]
fn fresh_group_is_dealt_round_robin() {
    let both = ["topic1", "topic2"];
    let out = assign(
        &[member("consumer1", &both), member("consumer2", &both)],
        &[("topic1", 3), ("topic2", 3)],
    );
    assert_eq!(
        out,
        expected(&[
            ("consumer1", &[("topic1", 0), ("topic1", 2), ("topic2", 1)]),
            ("consumer2", &[("topic1", 1), ("topic2", 0), ("topic2", 2)]),
        ])
    );
}

#[test]
fn mixed_subscriptions_fresh() {
    let out = assign(
        &[
            member("consumer1", &["topic1"]),
            member("consumer2", &["topic1", "topic2"]),
            member("consumer3", &["topic1"]),
        ],
        &[("topic1", 3), ("topic2", 2)],
    );
    assert_eq!(
        out,
        expected(&[
            ("consumer1", &[("topic1", 0), ("topic1", 2)]),
            ("consumer2", &[("topic2", 0), ("topic2", 1)]),
            ("consumer3", &[("topic1", 1)]),
        ])
    );
}

#[test]
fn owner_of_min_quota_gets_the_extra_partition() {
    let both = ["topic1", "topic2"];
    let out = assign(
        &[
            owning("consumer1", &both, &[("topic1", 0), ("topic2", 1)], 1),
            owning("consumer2", &both, &[("topic1", 1), ("topic2", 2)], 1),
        ],
        &[("topic1", 2), ("topic2", 3)],
    );
    assert_eq!(
        out,
        expected(&[
            ("consumer1", &[("topic1", 0), ("topic2", 0), ("topic2", 1)]),
            ("consumer2", &[("topic1", 1), ("topic2", 2)]),
        ])
    );
}

#[test]
fn more_members_at_max_quota_than_there_can_be() {
    // Java walks its map of these members as consumer3, consumer2, consumer1: consumer2 keeps
    // both partitions, consumer1 gives up topic2-0, which reaches consumer3 one rebalance later.
    let both = ["topic1", "topic2"];
    let members = vec![
        owning("consumer1", &both, &[("topic1", 0), ("topic2", 0)], 1),
        owning("consumer2", &both, &[("topic1", 1), ("topic2", 1)], 1),
        owning("consumer3", &both, &[], 1),
    ];
    let topics = counts(&[("topic1", 2), ("topic2", 2)]);
    let first = CooperativeStickyAssignor.assign(&members, &topics);
    assert_eq!(
        first,
        expected(&[
            ("consumer1", &[("topic1", 0)]),
            ("consumer2", &[("topic1", 1), ("topic2", 1)]),
            ("consumer3", &[]),
        ])
    );
    assert_eq!(
        settle(members, &topics),
        expected(&[
            ("consumer1", &[("topic1", 0)]),
            ("consumer2", &[("topic1", 1), ("topic2", 1)]),
            ("consumer3", &[("topic2", 0)]),
        ])
    );
}

#[test]
fn all_members_under_min_quota() {
    let both = ["topic1", "topic2"];
    let out = assign(
        &[
            owning("consumer1", &both, &[("topic1", 0)], 1),
            owning("consumer2", &both, &[("topic1", 1)], 1),
            owning("consumer3", &both, &[], 1),
        ],
        &[("topic1", 2), ("topic2", 3)],
    );
    assert_eq!(
        out,
        expected(&[
            ("consumer1", &[("topic1", 0), ("topic2", 1)]),
            ("consumer2", &[("topic1", 1), ("topic2", 2)]),
            ("consumer3", &[("topic2", 0)]),
        ])
    );
}

#[test]
fn add_and_remove_a_member() {
    let topics = counts(&[("topic", 3)]);
    let alone = CooperativeStickyAssignor.assign(&[member("consumer1", &["topic"])], &topics);
    assert_eq!(
        alone,
        expected(&[("consumer1", &[("topic", 0), ("topic", 1), ("topic", 2)])])
    );

    // consumer2 joins: consumer1 revokes topic-2 first, consumer2 gets it one rebalance later.
    let members = vec![
        owning(
            "consumer1",
            &["topic"],
            &alone["consumer1"]
                .iter()
                .map(|(t, p)| (t.as_str(), *p))
                .collect::<Vec<_>>(),
            1,
        ),
        owning("consumer2", &["topic"], &[], 1),
    ];
    let phase1 = CooperativeStickyAssignor.assign(&members, &topics);
    assert_eq!(
        phase1,
        expected(&[
            ("consumer1", &[("topic", 0), ("topic", 1)]),
            ("consumer2", &[])
        ])
    );
    let settled = settle(members, &topics);
    assert_eq!(
        settled,
        expected(&[
            ("consumer1", &[("topic", 0), ("topic", 1)]),
            ("consumer2", &[("topic", 2)]),
        ])
    );

    // consumer1 leaves: its partitions have no owner left and move at once.
    let out = assign(
        &[owning("consumer2", &["topic"], &[("topic", 2)], 2)],
        &[("topic", 3)],
    );
    assert_eq!(
        out,
        expected(&[("consumer2", &[("topic", 0), ("topic", 1), ("topic", 2)])])
    );
}

#[test]
fn same_generation_claims_void_each_other() {
    // topic-0 is claimed by two members of the same generation: nobody gets it until both have
    // revoked it.
    let members = vec![
        owning("consumer1", &["topic"], &[("topic", 0), ("topic", 1)], 5),
        owning("consumer2", &["topic"], &[("topic", 0), ("topic", 2)], 5),
        owning("consumer3", &["topic"], &[], 5),
    ];
    let topics = counts(&[("topic", 3)]);
    assert_eq!(
        CooperativeStickyAssignor.assign(&members, &topics),
        expected(&[
            ("consumer1", &[("topic", 1)]),
            ("consumer2", &[("topic", 2)]),
            ("consumer3", &[]),
        ])
    );
    assert_eq!(
        settle(members, &topics),
        expected(&[
            ("consumer1", &[("topic", 1)]),
            ("consumer2", &[("topic", 2)]),
            ("consumer3", &[("topic", 0)]),
        ])
    );

    // With four partitions the spare one goes to consumer1 at once.
    let out = assign(
        &[
            owning("consumer1", &["topic"], &[("topic", 0), ("topic", 1)], 5),
            owning("consumer2", &["topic"], &[("topic", 0), ("topic", 2)], 5),
            owning("consumer3", &["topic"], &[], 5),
        ],
        &[("topic", 4)],
    );
    assert_eq!(
        out,
        expected(&[
            ("consumer1", &[("topic", 1), ("topic", 3)]),
            ("consumer2", &[("topic", 2)]),
            ("consumer3", &[]),
        ])
    );
}

#[test]
fn highest_generation_wins() {
    let both = ["topic", "topic2"];
    let claimed = [("topic", 0), ("topic", 2), ("topic2", 1)];
    for stale in [Some(9), None] {
        let mut old = owning("consumer2", &both, &claimed, 9);
        old.generation = stale;
        let out = assign(
            &[owning("consumer1", &both, &claimed, 10), old],
            &[("topic", 3), ("topic2", 3)],
        );
        assert_eq!(
            out,
            expected(&[
                ("consumer1", &claimed),
                ("consumer2", &[("topic", 1), ("topic2", 0), ("topic2", 2)]),
            ])
        );
    }

    let all = ["topic", "topic2", "topic3"];
    let out = assign(
        &[
            owning(
                "consumer1",
                &all,
                &[("topic", 0), ("topic2", 0), ("topic3", 0)],
                10,
            ),
            owning(
                "consumer2",
                &all,
                &[("topic", 1), ("topic2", 1), ("topic3", 1)],
                9,
            ),
            owning(
                "consumer3",
                &all,
                &[("topic2", 1), ("topic3", 0), ("topic3", 2)],
                8,
            ),
        ],
        &[("topic", 3), ("topic2", 3), ("topic3", 3)],
    );
    assert_eq!(
        out,
        expected(&[
            ("consumer1", &[("topic", 0), ("topic2", 0), ("topic3", 0)]),
            ("consumer2", &[("topic", 1), ("topic2", 1), ("topic3", 1)]),
            ("consumer3", &[("topic", 2), ("topic2", 2), ("topic3", 2)]),
        ])
    );

    let out = assign(
        &[
            owning(
                "consumer1",
                &both,
                &[("topic", 0), ("topic2", 1), ("topic", 1)],
                10,
            ),
            owning(
                "consumer2",
                &both,
                &[("topic", 0), ("topic2", 1), ("topic2", 2)],
                8,
            ),
        ],
        &[("topic", 3), ("topic2", 3)],
    );
    assert_eq!(
        out,
        expected(&[
            ("consumer1", &[("topic", 0), ("topic", 1), ("topic2", 1)]),
            ("consumer2", &[("topic", 2), ("topic2", 0), ("topic2", 2)]),
        ])
    );
}

#[test]
fn current_members_keep_their_partitions() {
    let all = ["topic", "topic2", "topic3", "topic1"];
    let mut newcomer = owning("consumer1", &all, &[], 0);
    newcomer.generation = None;
    let out = assign(
        &[
            newcomer,
            owning(
                "consumer2",
                &all,
                &[("topic", 0), ("topic2", 0), ("topic1", 0)],
                9,
            ),
            owning(
                "consumer3",
                &all,
                &[("topic3", 2), ("topic2", 2), ("topic1", 1)],
                8,
            ),
            owning(
                "consumer4",
                &all,
                &[("topic3", 1), ("topic", 1), ("topic", 2)],
                7,
            ),
        ],
        &[("topic", 3), ("topic1", 3), ("topic2", 3), ("topic3", 3)],
    );
    assert_eq!(
        out["consumer1"],
        tps(&[("topic1", 2), ("topic2", 1), ("topic3", 0)])
    );
}

#[test]
fn generation_from_user_data() {
    // Subscriptions before v2 carry the generation only in the user data.
    let gen = CooperativeStickyAssignor.subscription_user_data(4);
    assert_eq!(gen.as_deref(), Some(&[0u8, 0, 0, 4][..]));
    let old = |id: &str, owned: &[(&str, i32)]| MemberSubscription {
        owned_partitions: tps(owned),
        user_data: gen.clone(),
        ..member(id, &["topic1"])
    };
    assert_eq!(
        CooperativeStickyAssignor::member_generation(&old("c", &[])),
        Some(4)
    );
    let out = assign(
        &[
            old("consumer1", &[("topic1", 0)]),
            old("consumer2", &[("topic1", 1)]),
            owning("consumer3", &["topic1"], &[], 4),
        ],
        &[("topic1", 3)],
    );
    assert_eq!(
        out,
        expected(&[
            ("consumer1", &[("topic1", 0)]),
            ("consumer2", &[("topic1", 1)]),
            ("consumer3", &[("topic1", 2)]),
        ])
    );

    // The field wins over the user data; short user data reads as -1; none is unknown.
    let mut both = old("c", &[]);
    both.generation = Some(9);
    assert_eq!(CooperativeStickyAssignor::member_generation(&both), Some(9));
    let mut short = old("c", &[]);
    short.user_data = Some(Bytes::from_static(&[1, 2]));
    assert_eq!(
        CooperativeStickyAssignor::member_generation(&short),
        Some(-1)
    );
    assert_eq!(
        CooperativeStickyAssignor::member_generation(&member("c", &[])),
        None
    );
}

#[test]
fn different_subscriptions_with_three_generations() {
    // Java's testSubscriptionNotEqualAndAssignSamePartitionWith3Generation.
    let topics = counts(&[("topic", 6), ("topic1", 1)]);
    for g in [
        [1, 2, 3],
        [1, 3, 2],
        [2, 1, 3],
        [2, 3, 1],
        [3, 1, 2],
        [3, 2, 1],
    ] {
        let members = [
            owning("consumer1", &["topic"], &[("topic", 0), ("topic", 2)], g[0]),
            owning(
                "consumer2",
                &["topic"],
                &[("topic", 1), ("topic", 2), ("topic", 3)],
                g[1],
            ),
            owning(
                "consumer3",
                &["topic"],
                &[("topic", 2), ("topic", 4), ("topic", 5)],
                g[2],
            ),
            owning("consumer4", &["topic1"], &[("topic1", 0)], 2),
        ];
        let out = CooperativeStickyAssignor.assign(&members, &topics);
        let all: Vec<_> = out.values().flatten().collect();
        let distinct: BTreeSet<_> = all.iter().collect();
        assert_eq!(all.len(), distinct.len(), "{g:?}: {out:?}");
        for list in out.values() {
            assert!((1..=2).contains(&list.len()), "{g:?}: {out:?}");
        }
        check_cooperative(&members, &out);
    }
}

#[test]
fn mixed_subscriptions_member_joins() {
    // consumer3 joins a group with different subscriptions (the general builder): whatever
    // moves is only revoked in the first rebalance, and the group settles balanced.
    let topics = counts(&[("a", 4), ("b", 4)]);
    let members = vec![
        owning(
            "consumer1",
            &["a", "b"],
            &[("a", 0), ("a", 1), ("a", 2), ("a", 3)],
            3,
        ),
        owning(
            "consumer2",
            &["a", "b"],
            &[("b", 0), ("b", 1), ("b", 2), ("b", 3)],
            3,
        ),
        owning("consumer3", &["b"], &[], 3),
    ];
    let first = CooperativeStickyAssignor.assign(&members, &topics);
    assert!(check_cooperative(&members, &first));
    let out = settle(members, &topics);
    let sizes: Vec<usize> = out.values().map(Vec::len).collect();
    assert!(
        sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
        "{out:?}"
    );
    assert_eq!(out.values().map(Vec::len).sum::<usize>(), 8);
    assert!(out["consumer3"].iter().all(|(t, _)| t == "b"));
}

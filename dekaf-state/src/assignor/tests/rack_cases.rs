//! Rack-aware assignment (KIP-881): the cases of Java's `RangeAssignorTest` with racks, with
//! the replica placement of Java's `AbstractPartitionAssignorTest` (broker `i` in rack
//! `racks[i]`, replica `j` of partition `i` of the `k`-th topic on broker
//! `(i + j + partitions of the topics before it) % brokers`). Java's cases run with its
//! default `preferRackAwareLogic = false`, the only behaviour dekaf has.

use super::*;
use crate::assignor::range::use_rack_aware;

const RACKS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

fn racks(n: usize) -> Vec<Option<&'static str>> {
    (0..n).map(|i| Some(RACKS[i % RACKS.len()])).collect()
}

fn null_racks(n: usize) -> Vec<Option<&'static str>> {
    vec![None; n]
}

/// The replica racks of Java's test placement; topics in the order given.
fn placement(
    topics: &[(&str, i32)],
    replication: usize,
    broker_racks: &[Option<&str>],
) -> PartitionRacks {
    let mut out = PartitionRacks::new();
    let mut next = 0usize;
    for &(topic, count) in topics {
        for p in 0..count {
            let i = usize::try_from(p).unwrap();
            let racks = (0..replication)
                .filter_map(|j| broker_racks[(i + j + next) % broker_racks.len()])
                .map(str::to_owned)
                .collect();
            out.insert((topic.to_owned(), p), racks);
        }
        next += usize::try_from(count).unwrap();
    }
    out
}

fn parse(list: &str) -> Vec<(String, i32)> {
    let mut v: Vec<(String, i32)> = list
        .split(", ")
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (t, p) = s.rsplit_once('-').unwrap();
            (t.to_owned(), p.parse().unwrap())
        })
        .collect();
    v.sort();
    v
}

/// Java's `verifyRackAssignment`: members `consumer0..`, with the racks and topics given,
/// must get `expected`; with `mismatched >= 0`, that many assigned partitions have no
/// replica in their member's rack.
#[allow(clippy::too_many_arguments)]
fn verify(
    topics: &[(&str, i32)],
    replication: usize,
    broker_racks: &[Option<&str>],
    consumer_racks: &[Option<&str>],
    consumer_topics: &[&[&str]],
    expected: &[&str],
    mismatched: i32,
) {
    let racks = placement(topics, replication, broker_racks);
    let members: Vec<MemberSubscription> = consumer_topics
        .iter()
        .zip(consumer_racks)
        .enumerate()
        .map(|(i, (t, rack))| MemberSubscription {
            rack_id: rack.map(str::to_owned),
            ..member(&format!("consumer{i}"), t)
        })
        .collect();
    let out = RangeAssignor.assign_with_racks(&members, &counts(topics), &racks);
    let want: GroupAssignment = expected
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("consumer{i}"), parse(e)))
        .collect();
    assert_eq!(
        out, want,
        "replication {replication}, brokers {broker_racks:?}"
    );
    if mismatched >= 0 {
        let count = members
            .iter()
            .filter_map(|m| Some((m, m.rack_id.as_deref()?)))
            .flat_map(|(m, rack)| out[&m.member_id].iter().map(move |tp| (tp, rack)))
            .filter(|(tp, rack)| !racks[*tp].contains(*rack))
            .count();
        assert_eq!(count, usize::try_from(mismatched).unwrap(), "mismatched");
    }
}

/// Java's `verifyNonRackAwareAssignment`, without its `preferRackAwareLogic` case.
fn verify_plain(topics: &[(&str, i32)], consumer_topics: &[&[&str]], expected: &[&str]) {
    let (t, c, e) = (topics, consumer_topics, expected);
    verify(t, 3, &null_racks(3), &racks(3), c, e, -1);
    verify(t, 3, &racks(3), &null_racks(3), c, e, -1);
    verify(t, 3, &racks(3), &racks(3), c, e, 0);
    verify(t, 4, &racks(4), &racks(3), c, e, 0);
    verify(
        t,
        3,
        &racks(3),
        &[Some("d"), Some("e"), Some("f")],
        c,
        e,
        -1,
    );
    verify(t, 3, &racks(3), &[None, Some("e"), Some("f")], c, e, -1);
    // Without racks at all, `assign` gives the same.
    let members: Vec<MemberSubscription> = c
        .iter()
        .enumerate()
        .map(|(i, t)| member(&format!("consumer{i}"), t))
        .collect();
    let plain = RangeAssignor.assign(&members, &counts(t));
    let want: GroupAssignment = e
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("consumer{i}"), parse(e)))
        .collect();
    assert_eq!(plain, want);
}

const ALL3: &[&str] = &["t1", "t2", "t3"];

#[test]
fn range_with_racks_and_uniform_subscriptions_matches_java() {
    let topics = [("t1", 6), ("t2", 7), ("t3", 2)];
    let subs: &[&[&str]] = &[ALL3, ALL3, ALL3];
    verify_plain(
        &topics,
        subs,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0",
            "t1-2, t1-3, t2-3, t2-4, t3-1",
            "t1-4, t1-5, t2-5, t2-6",
        ],
    );
    verify(
        &topics,
        1,
        &racks(3),
        &racks(3),
        subs,
        &[
            "t1-0, t1-3, t2-0, t2-3, t2-6",
            "t1-1, t1-4, t2-1, t2-4, t3-0",
            "t1-2, t1-5, t2-2, t2-5, t3-1",
        ],
        0,
    );
    verify(
        &topics,
        2,
        &racks(3),
        &racks(3),
        subs,
        &[
            "t1-0, t1-2, t2-0, t2-2, t2-3, t3-1",
            "t1-1, t1-3, t2-1, t2-4, t3-0",
            "t1-4, t1-5, t2-5, t2-6",
        ],
        1,
    );
    // One member in a rack that holds no replica.
    verify(
        &topics,
        3,
        &racks(2),
        &racks(3),
        subs,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0",
            "t1-2, t1-3, t2-3, t2-4, t3-1",
            "t1-4, t1-5, t2-5, t2-6",
        ],
        4,
    );
}

#[test]
fn range_with_racks_and_different_subscriptions_matches_java() {
    let topics = [("t1", 6), ("t2", 7), ("t3", 2)];
    let subs: &[&[&str]] = &[ALL3, ALL3, &["t1", "t3"]];
    verify_plain(
        &topics,
        subs,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-2, t2-3, t3-0",
            "t1-2, t1-3, t2-4, t2-5, t2-6, t3-1",
            "t1-4, t1-5",
        ],
    );
    verify(
        &topics,
        1,
        &racks(3),
        &racks(3),
        subs,
        &[
            "t1-0, t1-3, t2-0, t2-2, t2-3, t2-6",
            "t1-1, t1-4, t2-1, t2-4, t2-5, t3-0",
            "t1-2, t1-5, t3-1",
        ],
        2,
    );
    verify(
        &topics,
        2,
        &racks(3),
        &racks(3),
        subs,
        &[
            "t1-0, t1-2, t2-0, t2-2, t2-3, t2-5, t3-1",
            "t1-1, t1-3, t2-1, t2-4, t2-6, t3-0",
            "t1-4, t1-5",
        ],
        0,
    );
    verify(
        &topics,
        3,
        &racks(2),
        &racks(3),
        subs,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-2, t2-3, t3-0",
            "t1-2, t1-3, t2-4, t2-5, t2-6, t3-1",
            "t1-4, t1-5",
        ],
        2,
    );
}

#[test]
fn range_keeps_topics_co_partitioned_before_matching_racks_as_java_does() {
    let topics = [("t1", 5), ("t2", 5), ("t3", 5)];
    let subs: &[&[&str]] = &[ALL3, ALL3, ALL3];
    let plain = [
        "t1-0, t1-1, t2-0, t2-1, t3-0, t3-1",
        "t1-2, t1-3, t2-2, t2-3, t3-2, t3-3",
        "t1-4, t2-4, t3-4",
    ];
    verify_plain(&topics, subs, &plain);
    verify(&topics, 1, &racks(3), &racks(3), subs, &plain, 10);
    verify(&topics, 2, &racks(3), &racks(3), subs, &plain, 5);
    verify(&topics, 3, &racks(2), &racks(3), subs, &plain, 3);
}

#[test]
fn range_with_uniform_partitions_and_different_subscriptions_matches_java() {
    let topics = [("t1", 5), ("t2", 5), ("t3", 5)];
    let subs: &[&[&str]] = &[ALL3, ALL3, &["t1", "t3"]];
    verify_plain(
        &topics,
        subs,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0, t3-1",
            "t1-2, t1-3, t2-3, t2-4, t3-2, t3-3",
            "t1-4, t3-4",
        ],
    );
    verify(
        &topics,
        1,
        &racks(3),
        &racks(3),
        subs,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-4, t3-0, t3-1",
            "t1-2, t1-3, t2-2, t2-3, t3-2, t3-3",
            "t1-4, t3-4",
        ],
        9,
    );
    verify(
        &topics,
        2,
        &racks(3),
        &racks(3),
        subs,
        &[
            "t1-2, t2-0, t2-1, t2-3, t3-2",
            "t1-0, t1-3, t2-2, t2-4, t3-0, t3-3",
            "t1-1, t1-4, t3-1, t3-4",
        ],
        0,
    );
    verify(
        &topics,
        3,
        &racks(2),
        &racks(3),
        subs,
        &[
            "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0, t3-1",
            "t1-2, t1-3, t2-3, t2-4, t3-2, t3-3",
            "t1-4, t3-4",
        ],
        2,
    );
}

#[test]
fn range_with_racks_and_co_partitioned_topics_matches_java() {
    let topics = [("t1", 6), ("t2", 6), ("t3", 2), ("t4", 2)];
    let crack = [Some("a"), Some("b"), Some("b"), Some("a")];
    let subs: &[&[&str]] = &[&["t1", "t2"], &["t1", "t2"], &["t3", "t4"], &["t3", "t4"]];
    let plain = [
        "t1-0, t1-1, t1-2, t2-0, t2-1, t2-2",
        "t1-3, t1-4, t1-5, t2-3, t2-4, t2-5",
        "t3-0, t4-0",
        "t3-1, t4-1",
    ];
    verify(&topics, 3, &racks(2), &crack, subs, &plain, -1);
    verify(&topics, 2, &racks(2), &crack, subs, &plain, 0);
    verify(
        &topics,
        1,
        &racks(2),
        &crack,
        subs,
        &[
            "t1-0, t1-2, t1-4, t2-0, t2-2, t2-4",
            "t1-1, t1-3, t1-5, t2-1, t2-3, t2-5",
            "t3-1, t4-1",
            "t3-0, t4-0",
        ],
        0,
    );
    let all: &[&str] = &["t1", "t2", "t3", "t4"];
    let subs: &[&[&str]] = &[all, all, all, all];
    let plain = [
        "t1-0, t1-1, t2-0, t2-1, t3-0, t4-0",
        "t1-2, t1-3, t2-2, t2-3, t3-1, t4-1",
        "t1-4, t2-4",
        "t1-5, t2-5",
    ];
    verify(&topics, 3, &racks(2), &crack, subs, &plain, -1);
    verify(&topics, 2, &racks(2), &crack, subs, &plain, 0);
    verify(
        &topics,
        1,
        &racks(2),
        &crack,
        subs,
        &[
            "t1-0, t1-2, t2-0, t2-2, t3-0, t4-0",
            "t1-1, t1-3, t2-1, t2-3, t3-1, t4-1",
            "t1-5, t2-5",
            "t1-4, t2-4",
        ],
        0,
    );
    verify(
        &topics,
        1,
        &racks(3),
        &crack,
        subs,
        &[
            "t1-0, t1-3, t2-0, t2-3, t3-0, t4-0",
            "t1-1, t1-4, t2-1, t2-4, t3-1, t4-1",
            "t1-2, t2-2",
            "t1-5, t2-5",
        ],
        6,
    );
}

#[test]
fn range_keeps_static_members_rack_aware_ranges_when_member_ids_change_as_java_does() {
    // Two topics of five partitions, replication 2 over brokers in racks a, b, c, a, b, c,
    // both placed from broker 0.
    let brokers: Vec<Option<&str>> = (0..6).map(|i| Some(RACKS[i % 3])).collect();
    let mut racks = placement(&[("topic1", 5)], 2, &brokers);
    racks.extend(placement(&[("topic2", 5)], 2, &brokers));
    let topics = counts(&[("topic1", 5), ("topic2", 5)]);
    let member = |id: &str, instance: &str, rack: &str| MemberSubscription {
        rack_id: Some(rack.to_owned()),
        ..static_member(id, instance, &["topic1", "topic2"])
    };
    let by_instance = |members: &[MemberSubscription]| -> BTreeMap<String, Vec<(String, i32)>> {
        let out = RangeAssignor.assign_with_racks(members, &topics, &racks);
        members
            .iter()
            .map(|m| {
                (
                    m.group_instance_id.clone().unwrap(),
                    out[&m.member_id].clone(),
                )
            })
            .collect()
    };
    let first = by_instance(&[
        member("consumer1", "instance1", "a"),
        member("consumer2", "instance2", "b"),
        member("consumer3", "instance3", "c"),
    ]);
    let want: BTreeMap<String, Vec<(String, i32)>> = [
        ("instance1", "topic1-0, topic1-2, topic2-0, topic2-2"),
        ("instance2", "topic1-1, topic1-3, topic2-1, topic2-3"),
        ("instance3", "topic1-4, topic2-4"),
    ]
    .into_iter()
    .map(|(i, e)| (i.to_owned(), parse(e)))
    .collect();
    assert_eq!(first, want);
    let renamed = by_instance(&[
        member("consumer1", "instance1", "a"),
        member("consumer5", "instance2", "b"),
        member("consumer4", "instance3", "c"),
    ]);
    assert_eq!(renamed, want);
}

#[test]
fn rack_aware_logic_is_used_only_when_racks_overlap_and_partitions_differ() {
    let set = |r: &[&str]| -> BTreeSet<String> { r.iter().map(|s| (*s).to_owned()).collect() };
    let all = set(&["a", "b", "c"]);
    let on_all = vec![all.clone(), all.clone()];
    let on_some = vec![set(&["a", "b"]), set(&["b", "c"])];
    assert!(!use_rack_aware(&BTreeSet::new(), &all, &on_all));
    assert!(!use_rack_aware(&all, &BTreeSet::new(), &[]));
    assert!(!use_rack_aware(&set(&["d"]), &all, &on_some));
    assert!(!use_rack_aware(&all, &all, &on_all));
    assert!(!use_rack_aware(&set(&["a", "b"]), &all, &on_all));
    assert!(use_rack_aware(&all, &all, &on_some));
    assert!(use_rack_aware(&set(&["a", "b"]), &all, &on_some));
}

/// Java's sticky `verifyRackAssignment` for `cooperative-sticky`: members `consumer0..` with
/// the racks, topics and owned partitions given must get `expected`.
#[allow(clippy::too_many_arguments)]
fn verify_sticky(
    topics: &[(&str, i32)],
    replication: usize,
    broker_racks: &[Option<&str>],
    consumer_racks: &[Option<&str>],
    consumer_topics: &[&[&str]],
    owned: Option<&[&str]>,
    expected: &[&str],
    mismatched: i32,
) {
    let racks = placement(topics, replication, broker_racks);
    let members: Vec<MemberSubscription> = consumer_topics
        .iter()
        .zip(consumer_racks)
        .enumerate()
        .map(|(i, (t, rack))| MemberSubscription {
            rack_id: rack.map(str::to_owned),
            owned_partitions: owned.map(|o| parse(o[i])).unwrap_or_default(),
            ..member(&format!("consumer{i}"), t)
        })
        .collect();
    let out = CooperativeStickyAssignor.assign_with_racks(&members, &counts(topics), &racks);
    let want: GroupAssignment = expected
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("consumer{i}"), parse(e)))
        .collect();
    assert_eq!(
        out, want,
        "replication {replication}, brokers {broker_racks:?}"
    );
    if mismatched >= 0 {
        let count = members
            .iter()
            .filter_map(|m| Some((m, m.rack_id.as_deref()?)))
            .flat_map(|(m, rack)| out[&m.member_id].iter().map(move |tp| (tp, rack)))
            .filter(|(tp, rack)| !racks[*tp].contains(*rack))
            .count();
        assert_eq!(count, usize::try_from(mismatched).unwrap(), "mismatched");
    }
}

/// Java's `verifyUniformSubscription`: the same result from scratch and when every member
/// already owns its share.
fn verify_uniform(
    replication: usize,
    broker_racks: &[Option<&str>],
    consumer_racks: &[Option<&str>],
    expected: &[&str],
    mismatched: i32,
) {
    let topics = [("t1", 6), ("t2", 7), ("t3", 2)];
    let subs: &[&[&str]] = &[ALL3, ALL3, ALL3];
    for owned in [None, Some(expected)] {
        verify_sticky(
            &topics,
            replication,
            broker_racks,
            consumer_racks,
            subs,
            owned,
            expected,
            mismatched,
        );
    }
}

const STICKY_UNIFORM: [&str; 3] = [
    "t1-0, t1-3, t2-0, t2-3, t2-6",
    "t1-1, t1-4, t2-1, t2-4, t3-0",
    "t1-2, t1-5, t2-2, t2-5, t3-1",
];

#[test]
fn cooperative_sticky_with_racks_and_uniform_subscriptions_matches_java() {
    let plain = STICKY_UNIFORM;
    verify_uniform(3, &null_racks(3), &racks(3), &plain, -1);
    verify_uniform(3, &racks(3), &null_racks(3), &plain, -1);
    verify_uniform(3, &racks(3), &racks(3), &plain, 0);
    verify_uniform(3, &racks(3), &[Some("d"), Some("e"), Some("f")], &plain, -1);
    verify_uniform(3, &racks(3), &[None, Some("e"), Some("f")], &plain, -1);
    // Rack-aligned where brokers hold a subset of the partitions.
    verify_uniform(1, &racks(3), &racks(3), &STICKY_UNIFORM, 0);
    verify_uniform(2, &racks(3), &racks(3), &STICKY_UNIFORM, 0);
    // One member in a rack without replicas gets misaligned partitions, to keep the balance.
    verify_uniform(3, &racks(2), &racks(3), &STICKY_UNIFORM, 5);
}

#[test]
fn cooperative_sticky_moves_owned_partitions_outside_the_members_rack_in_two_rebalances() {
    let topics = [("t1", 6), ("t2", 7), ("t3", 2)];
    let subs: &[&[&str]] = &[ALL3, ALL3, ALL3];
    let owned = [
        "t1-0, t1-1, t1-2, t1-3, t1-4",
        "t1-5, t2-0, t2-1, t2-2, t2-3",
        "t2-4, t2-5, t2-6, t3-0, t3-1",
    ];
    // Java hands its final assignment out at once. A member keeps only what has a replica in
    // its rack, and a partition another member owns reaches its new owner once revoked: the
    // first rebalance gives Java's result without those, the follow-up gives all of it.
    let final_owner: Vec<Vec<(String, i32)>> = STICKY_UNIFORM.iter().map(|e| parse(e)).collect();
    let first: Vec<String> = final_owner
        .iter()
        .enumerate()
        .map(|(i, list)| {
            list.iter()
                .filter(|tp| {
                    owned
                        .iter()
                        .enumerate()
                        .all(|(j, o)| j == i || !parse(o).contains(tp))
                })
                .map(|(t, p)| format!("{t}-{p}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    assert_eq!(first, ["t1-0, t1-3", "t2-1", "t2-5, t3-1"]);
    verify_sticky(
        &topics,
        1,
        &racks(3),
        &racks(3),
        subs,
        Some(&owned),
        &first,
        0,
    );
    verify_sticky(
        &topics,
        1,
        &racks(3),
        &racks(3),
        subs,
        Some(&first),
        &STICKY_UNIFORM,
        0,
    );
}

/// Java's `verifyNonEqualSubscription`: the same result from scratch and when every member
/// already owns its share, two members subscribed to `t1, t2, t3` and the third to `t1, t3`.
fn verify_non_equal(
    replication: usize,
    broker_racks: &[Option<&str>],
    consumer_racks: &[Option<&str>],
    expected: &[&str],
    mismatched: i32,
) {
    let topics = [("t1", 6), ("t2", 7), ("t3", 2)];
    for owned in [None, Some(expected)] {
        verify_sticky(
            &topics,
            replication,
            broker_racks,
            consumer_racks,
            NON_EQUAL,
            owned,
            expected,
            mismatched,
        );
    }
}

const NON_EQUAL: &[&[&str]] = &[ALL3, ALL3, &["t1", "t3"]];

const STICKY_NON_EQUAL: [&str; 3] = [
    "t1-5, t2-0, t2-2, t2-4, t2-6",
    "t1-3, t2-1, t2-3, t2-5, t3-0",
    "t1-0, t1-1, t1-2, t1-4, t3-1",
];

#[test]
fn cooperative_sticky_with_racks_and_different_subscriptions_matches_java() {
    let plain = STICKY_NON_EQUAL;
    // Racks play no part: on one side only, every partition in every rack, or no member in a
    // rack that holds replicas.
    verify_non_equal(3, &null_racks(3), &racks(3), &plain, -1);
    verify_non_equal(3, &racks(3), &null_racks(3), &plain, -1);
    verify_non_equal(3, &racks(3), &racks(3), &plain, 0);
    verify_non_equal(4, &racks(4), &racks(3), &plain, 0);
    verify_non_equal(3, &racks(3), &[Some("d"), Some("e"), Some("f")], &plain, -1);
    verify_non_equal(3, &racks(3), &[None, Some("e"), Some("f")], &plain, -1);
    // Brokers hold a subset of the partitions: aligned as far as the balance allows.
    verify_non_equal(
        1,
        &racks(3),
        &racks(3),
        &[
            "t1-3, t2-0, t2-2, t2-3, t2-6",
            "t1-4, t2-1, t2-4, t2-5, t3-0",
            "t1-0, t1-1, t1-2, t1-5, t3-1",
        ],
        4,
    );
    verify_non_equal(
        2,
        &racks(3),
        &racks(3),
        &[
            "t1-3, t2-0, t2-2, t2-5, t2-6",
            "t1-0, t2-1, t2-3, t2-4, t3-0",
            "t1-1, t1-2, t1-4, t1-5, t3-1",
        ],
        0,
    );
    // One member in a rack without replicas gets misaligned partitions, to keep the balance.
    verify_non_equal(3, &racks(2), &racks(3), &plain, 5);
}

const OWNED_MISALIGNED: [&str; 3] = [
    "t1-0, t1-1, t1-2, t1-3, t1-4",
    "t1-5, t2-0, t2-1, t2-2, t2-3",
    "t2-4, t2-5, t2-6, t3-0, t3-1",
];

#[test]
fn cooperative_sticky_with_different_subscriptions_moves_owned_partitions_to_their_racks_in_two_rebalances(
) {
    let topics = [("t1", 6), ("t2", 7), ("t3", 2)];
    // Java's cooperative case: a member keeps only what has a replica in its rack; partitions
    // moving to another member are revoked first and reach it in the follow-up rebalance.
    let intermediate = ["t1-3", "t2-1", "t3-1"];
    let last = [
        "t1-3, t2-0, t2-2, t2-3, t2-6",
        "t1-4, t2-1, t2-4, t2-5, t3-0",
        "t1-0, t1-1, t1-2, t1-5, t3-1",
    ];
    let (rf, brokers, members) = (1, racks(3), racks(3));
    let owned = Some(&OWNED_MISALIGNED[..]);
    verify_sticky(
        &topics,
        rf,
        &brokers,
        &members,
        NON_EQUAL,
        owned,
        &intermediate,
        0,
    );
    let owned = Some(&intermediate[..]);
    verify_sticky(&topics, rf, &brokers, &members, NON_EQUAL, owned, &last, 4);
}

#[test]
fn cooperative_sticky_with_different_subscriptions_and_replicas_in_every_rack_stays_sticky_as_java()
{
    let topics = [("t1", 6), ("t2", 7), ("t3", 2)];
    let intermediate = ["t1-2, t1-3, t1-4", "t2-0, t2-1, t2-2, t2-3", "t3-0, t3-1"];
    let last = [
        "t1-2, t1-3, t1-4, t2-4, t2-5",
        "t2-0, t2-1, t2-2, t2-3, t2-6",
        "t1-0, t1-1, t1-5, t3-0, t3-1",
    ];
    let (rf, brokers, members) = (3, racks(3), racks(3));
    let owned = Some(&OWNED_MISALIGNED[..]);
    verify_sticky(
        &topics,
        rf,
        &brokers,
        &members,
        NON_EQUAL,
        owned,
        &intermediate,
        0,
    );
    let owned = Some(&intermediate[..]);
    verify_sticky(&topics, rf, &brokers, &members, NON_EQUAL, owned, &last, 0);
}

#[test]
fn cooperative_sticky_with_racks_and_uniform_subscriptions_gives_every_member_its_minimum() {
    // Eight partitions in rack `a`, one in `b`: the two members in `a` take theirs within the
    // rack, but only one may go above the minimum of two, or a member in `c` is left with one.
    let topics = counts(&[("t", 9)]);
    let mut racks = PartitionRacks::new();
    for p in 0..9 {
        let rack = if p == 8 { "b" } else { "a" };
        racks.insert(("t".to_owned(), p), BTreeSet::from([rack.to_owned()]));
    }
    let members: Vec<MemberSubscription> = ["a", "a", "c", "c"]
        .iter()
        .enumerate()
        .map(|(i, rack)| MemberSubscription {
            rack_id: Some((*rack).to_owned()),
            ..member(&format!("consumer{i}"), &["t"])
        })
        .collect();
    let out = CooperativeStickyAssignor.assign_with_racks(&members, &topics, &racks);
    let want = expected(&[
        ("consumer0", &[("t", 0), ("t", 2), ("t", 4)]),
        ("consumer1", &[("t", 1), ("t", 3)]),
        ("consumer2", &[("t", 6), ("t", 8)]),
        ("consumer3", &[("t", 5), ("t", 7)]),
    ]);
    assert_eq!(out, want);
}

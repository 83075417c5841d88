//! Tests of the assignors: cases from Java's own test suites with the results Java's algorithm
//! gives, then property tests and a simulation of cooperative rebalances.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::*;

mod cooperative_sticky_cases;
mod java_vectors;
mod properties;
mod rack_cases;
mod rack_properties;
mod range_cases;
mod round_robin_cases;
mod simulation;

/// A member subscribed to `topics`, owning nothing.
pub(super) fn member(id: &str, topics: &[&str]) -> MemberSubscription {
    MemberSubscription {
        member_id: id.to_owned(),
        topics: topics.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    }
}

/// A member subscribed to `topics` that owns `owned` since `generation` (v2+ subscription).
pub(super) fn owning(
    id: &str,
    topics: &[&str],
    owned: &[(&str, i32)],
    generation: i32,
) -> MemberSubscription {
    MemberSubscription {
        owned_partitions: tps(owned),
        generation: Some(generation),
        ..member(id, topics)
    }
}

/// A static member.
pub(super) fn static_member(id: &str, instance: &str, topics: &[&str]) -> MemberSubscription {
    MemberSubscription {
        group_instance_id: Some(instance.to_owned()),
        ..member(id, topics)
    }
}

pub(super) fn counts(topics: &[(&str, i32)]) -> BTreeMap<String, i32> {
    topics.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

pub(super) fn tps(list: &[(&str, i32)]) -> Vec<(String, i32)> {
    let mut v: Vec<(String, i32)> = list.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect();
    v.sort();
    v
}

/// The expected assignment, member by member.
pub(super) fn expected(list: &[(&str, &[(&str, i32)])]) -> GroupAssignment {
    list.iter()
        .map(|(m, parts)| ((*m).to_owned(), tps(parts)))
        .collect()
}

#[test]
fn builtin_names_and_protocols() {
    let range = builtin("range").unwrap();
    let roundrobin = builtin("roundrobin").unwrap();
    let sticky = builtin("cooperative-sticky").unwrap();
    assert!(builtin("sticky").is_none());
    assert_eq!(range.name(), "range");
    assert_eq!(roundrobin.name(), "roundrobin");
    assert_eq!(sticky.name(), "cooperative-sticky");
    assert_eq!(range.protocol(), RebalanceProtocol::Eager);
    assert_eq!(roundrobin.protocol(), RebalanceProtocol::Eager);
    assert_eq!(sticky.protocol(), RebalanceProtocol::Cooperative);
    assert_eq!(
        common_protocol(&[sticky]),
        Some(RebalanceProtocol::Cooperative)
    );
    // A consumer configured with both falls back to eager, as Java's does.
    assert_eq!(
        common_protocol(&[sticky, range]),
        Some(RebalanceProtocol::Eager)
    );
    assert_eq!(common_protocol(&[]), None);
}

#[test]
fn protocol_blobs_round_trip() {
    let subscription = dekaf_proto::consumer_protocol::ConsumerProtocolSubscription {
        topics: vec!["a".into(), "b".into()],
        owned_partitions: group_partitions(&tps(&[("b", 1), ("a", 2), ("a", 0), ("a", 2)])),
        generation_id: 7,
        user_data: Some(Bytes::from_static(&[1, 2])),
        ..Default::default()
    };
    let bytes = subscription.encode().unwrap();
    let decoded =
        dekaf_proto::consumer_protocol::ConsumerProtocolSubscription::decode(&bytes).unwrap();
    let m = MemberSubscription::from_protocol("m1", Some("i1".into()), &decoded);
    assert_eq!(m.member_id, "m1");
    assert_eq!(m.group_instance_id.as_deref(), Some("i1"));
    assert_eq!(m.topics, ["a", "b"]);
    assert_eq!(m.owned_partitions, tps(&[("a", 0), ("a", 2), ("b", 1)]));
    assert_eq!(m.generation, Some(7));
    assert_eq!(m.user_data.as_deref(), Some(&[1u8, 2][..]));

    // A generation of -1 (or a v0/v1 blob) means "not given".
    let old = dekaf_proto::consumer_protocol::ConsumerProtocolSubscription {
        topics: vec!["a".into()],
        ..Default::default()
    };
    assert_eq!(
        MemberSubscription::from_protocol("m", None, &old).generation,
        None
    );

    let assignment = assignment_to_protocol(&tps(&[("b", 0), ("a", 1), ("a", 0)]));
    assert_eq!(assignment.assigned_partitions.len(), 2);
    assert_eq!(assignment.assigned_partitions[0].topic, "a");
    assert_eq!(assignment.assigned_partitions[0].partitions, [0, 1]);
    assert_eq!(
        flatten_partitions(&assignment.assigned_partitions),
        tps(&[("a", 0), ("a", 1), ("b", 0)])
    );
}

#[test]
fn bad_input_is_tolerated() {
    let members = vec![
        MemberSubscription {
            owned_partitions: tps(&[("t", -1), ("t", 99), ("nope", 0), ("t", 0), ("t", 0)]),
            generation: Some(3),
            ..member("a", &["t", "t", "missing"])
        },
        member("b", &["t"]),
        // Listed twice: counts once, with its last data.
        member("a", &["t"]),
    ];
    let topics = counts(&[
        ("t", 3),
        ("empty", 0),
        ("negative", -5),
        ("unsubscribed", 4),
    ]);
    for name in ["range", "roundrobin", "cooperative-sticky"] {
        let out = builtin(name).unwrap().assign(&members, &topics);
        assert_eq!(out.len(), 2, "{name}");
        let all: Vec<&(String, i32)> = out.values().flatten().collect();
        let distinct: BTreeSet<&(String, i32)> = all.iter().copied().collect();
        assert_eq!(all.len(), 3, "{name}: {out:?}");
        assert_eq!(distinct.len(), 3, "{name}: {out:?}");
    }
    for name in ["range", "roundrobin", "cooperative-sticky"] {
        let out = builtin(name).unwrap().assign(&[], &topics);
        assert!(out.is_empty());
    }
}

//! `range`: the cases of Java's `RangeAssignorTest` (without racks).

use super::*;

fn assign(members: &[MemberSubscription], topics: &[(&str, i32)]) -> GroupAssignment {
    RangeAssignor.assign(members, &counts(topics))
}

#[test]
fn one_consumer_no_topic() {
    let out = assign(&[member("c1", &[])], &[]);
    assert_eq!(out, expected(&[("c1", &[])]));
}

#[test]
fn one_consumer_nonexistent_topic() {
    let out = assign(&[member("c1", &["topic1"])], &[]);
    assert_eq!(out, expected(&[("c1", &[])]));
}

#[test]
fn one_consumer_one_topic() {
    let out = assign(&[member("c1", &["topic1"])], &[("topic1", 3)]);
    assert_eq!(
        out,
        expected(&[("c1", &[("topic1", 0), ("topic1", 1), ("topic1", 2)])])
    );
}

#[test]
fn only_assigns_partitions_from_subscribed_topics() {
    let out = assign(&[member("c1", &["topic1"])], &[("topic1", 3), ("other", 3)]);
    assert_eq!(
        out,
        expected(&[("c1", &[("topic1", 0), ("topic1", 1), ("topic1", 2)])])
    );
}

#[test]
fn one_consumer_multiple_topics() {
    let out = assign(
        &[member("c1", &["topic1", "topic2"])],
        &[("topic1", 1), ("topic2", 2)],
    );
    assert_eq!(
        out,
        expected(&[("c1", &[("topic1", 0), ("topic2", 0), ("topic2", 1)])])
    );
}

#[test]
fn two_consumers_one_topic_one_partition() {
    let out = assign(
        &[member("c1", &["topic1"]), member("c2", &["topic1"])],
        &[("topic1", 1)],
    );
    assert_eq!(out, expected(&[("c1", &[("topic1", 0)]), ("c2", &[])]));
}

#[test]
fn two_consumers_one_topic_two_partitions() {
    let out = assign(
        &[member("c1", &["topic1"]), member("c2", &["topic1"])],
        &[("topic1", 2)],
    );
    assert_eq!(
        out,
        expected(&[("c1", &[("topic1", 0)]), ("c2", &[("topic1", 1)])])
    );
}

#[test]
fn multiple_consumers_mixed_topics() {
    let out = assign(
        &[
            member("c1", &["topic1"]),
            member("c2", &["topic1", "topic2"]),
            member("c3", &["topic1"]),
        ],
        &[("topic1", 3), ("topic2", 2)],
    );
    assert_eq!(
        out,
        expected(&[
            ("c1", &[("topic1", 0)]),
            ("c2", &[("topic1", 1), ("topic2", 0), ("topic2", 1)]),
            ("c3", &[("topic1", 2)]),
        ])
    );
}

#[test]
fn two_consumers_two_topics_six_partitions() {
    // The example of Java's documentation.
    let out = assign(
        &[member("c0", &["t0", "t1"]), member("c1", &["t0", "t1"])],
        &[("t0", 3), ("t1", 3)],
    );
    assert_eq!(
        out,
        expected(&[
            ("c0", &[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]),
            ("c1", &[("t0", 2), ("t1", 2)]),
        ])
    );
}

#[test]
fn static_members_sort_by_instance_id() {
    // "consumer-b" sorts after "consumer-a", but its instance id sorts first.
    let out = assign(
        &[
            static_member("consumer-b", "instance1", &["topic1", "topic2"]),
            static_member("consumer-a", "instance2", &["topic1", "topic2"]),
        ],
        &[("topic1", 3), ("topic2", 3)],
    );
    assert_eq!(
        out,
        expected(&[
            (
                "consumer-b",
                &[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)]
            ),
            ("consumer-a", &[("topic1", 2), ("topic2", 2)]),
        ])
    );
}

#[test]
fn static_members_sort_before_dynamic_ones() {
    let out = assign(
        &[
            static_member("consumer-b", "instance1", &["topic1", "topic2"]),
            member("consumer-a", &["topic1", "topic2"]),
        ],
        &[("topic1", 3), ("topic2", 3)],
    );
    assert_eq!(
        out,
        expected(&[
            (
                "consumer-b",
                &[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)]
            ),
            ("consumer-a", &[("topic1", 2), ("topic2", 2)]),
        ])
    );
}

#[test]
fn static_assignment_survives_a_new_dynamic_member() {
    let topics = [("topic1", 5), ("topic2", 4)];
    let statics = [
        static_member("consumer1", "instance1", &["topic1", "topic2"]),
        static_member("consumer2", "instance2", &["topic1", "topic2"]),
        static_member("consumer3", "instance3", &["topic1", "topic2"]),
    ];
    let statics_expected: [(&str, &[(&str, i32)]); 3] = [
        ("consumer1", &[("topic1", 0), ("topic1", 1), ("topic2", 0)]),
        ("consumer2", &[("topic1", 2), ("topic2", 1)]),
        ("consumer3", &[("topic1", 3), ("topic2", 2)]),
    ];
    for dynamic in ["consumer4", "consumer5"] {
        let mut members = statics.to_vec();
        members.push(member(dynamic, &["topic1", "topic2"]));
        let mut want = statics_expected.to_vec();
        want.push((dynamic, &[("topic1", 4), ("topic2", 3)]));
        assert_eq!(assign(&members, &topics), expected(&want));
    }
}

#[test]
fn static_assignment_survives_new_member_ids() {
    let topics = [("topic1", 5), ("topic2", 5)];
    let by_instance = |out: &GroupAssignment, members: &[MemberSubscription]| {
        members
            .iter()
            .map(|m| {
                (
                    m.group_instance_id.clone().unwrap(),
                    out[&m.member_id].clone(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let before = [
        static_member("consumer1", "instance1", &["topic1", "topic2"]),
        static_member("consumer2", "instance2", &["topic1", "topic2"]),
        static_member("consumer3", "instance3", &["topic1", "topic2"]),
    ];
    let first = by_instance(&assign(&before, &topics), &before);
    assert_eq!(
        first["instance1"],
        tps(&[("topic1", 0), ("topic1", 1), ("topic2", 0), ("topic2", 1)])
    );
    assert_eq!(
        first["instance2"],
        tps(&[("topic1", 2), ("topic1", 3), ("topic2", 2), ("topic2", 3)])
    );
    assert_eq!(first["instance3"], tps(&[("topic1", 4), ("topic2", 4)]));
    let after = [
        static_member("consumer1", "instance1", &["topic1", "topic2"]),
        static_member("consumer5", "instance2", &["topic1", "topic2"]),
        static_member("consumer4", "instance3", &["topic1", "topic2"]),
    ];
    assert_eq!(by_instance(&assign(&after, &topics), &after), first);
}

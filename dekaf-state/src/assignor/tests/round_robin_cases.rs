//! `roundrobin`: the cases of Java's `RoundRobinAssignorTest` and the examples of its docs.

use super::*;

fn assign(members: &[MemberSubscription], topics: &[(&str, i32)]) -> GroupAssignment {
    RoundRobinAssignor.assign(members, &counts(topics))
}

#[test]
fn one_consumer() {
    assert_eq!(assign(&[member("c", &[])], &[]), expected(&[("c", &[])]));
    assert_eq!(
        assign(&[member("c", &["topic"])], &[]),
        expected(&[("c", &[])])
    );
    assert_eq!(
        assign(&[member("c", &["topic"])], &[("topic", 3), ("other", 3)]),
        expected(&[("c", &[("topic", 0), ("topic", 1), ("topic", 2)])])
    );
    assert_eq!(
        assign(
            &[member("c", &["topic1", "topic2"])],
            &[("topic1", 1), ("topic2", 2)]
        ),
        expected(&[("c", &[("topic1", 0), ("topic2", 0), ("topic2", 1)])])
    );
}

#[test]
fn two_consumers_one_topic() {
    let members = [
        member("consumer1", &["topic"]),
        member("consumer2", &["topic"]),
    ];
    assert_eq!(
        assign(&members, &[("topic", 1)]),
        expected(&[("consumer1", &[("topic", 0)]), ("consumer2", &[])])
    );
    assert_eq!(
        assign(&members, &[("topic", 2)]),
        expected(&[
            ("consumer1", &[("topic", 0)]),
            ("consumer2", &[("topic", 1)])
        ])
    );
}

#[test]
fn multiple_consumers_mixed_topics() {
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
            ("consumer1", &[("topic1", 0)]),
            ("consumer2", &[("topic1", 1), ("topic2", 0), ("topic2", 1)]),
            ("consumer3", &[("topic1", 2)]),
        ])
    );
}

#[test]
fn skips_members_not_subscribed() {
    // The second example of Java's documentation.
    let out = assign(
        &[
            member("C0", &["t0"]),
            member("C1", &["t0", "t1"]),
            member("C2", &["t0", "t1", "t2"]),
        ],
        &[("t0", 1), ("t1", 2), ("t2", 3)],
    );
    assert_eq!(
        out,
        expected(&[
            ("C0", &[("t0", 0)]),
            ("C1", &[("t1", 0)]),
            ("C2", &[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)]),
        ])
    );
}

#[test]
fn two_consumers_two_topics_six_partitions() {
    let want = expected(&[
        ("consumer1", &[("topic1", 0), ("topic1", 2), ("topic2", 1)]),
        ("consumer2", &[("topic1", 1), ("topic2", 0), ("topic2", 2)]),
    ]);
    let topics = [("topic1", 3), ("topic2", 3)];
    let both = ["topic1", "topic2"];
    let dynamic = [member("consumer1", &both), member("consumer2", &both)];
    assert_eq!(assign(&dynamic, &topics), want);
    let statics = [
        static_member("consumer1", "instance1", &both),
        static_member("consumer2", "instance2", &both),
    ];
    assert_eq!(assign(&statics, &topics), want);
    let mixed = [
        static_member("consumer1", "instance1", &both),
        member("consumer2", &both),
    ];
    assert_eq!(assign(&mixed, &topics), want);
    // The static member comes first even when its member id sorts last.
    let mixed = [
        static_member("consumer9", "instance1", &both),
        member("consumer2", &both),
    ];
    assert_eq!(
        assign(&mixed, &topics),
        expected(&[
            ("consumer9", &[("topic1", 0), ("topic1", 2), ("topic2", 1)]),
            ("consumer2", &[("topic1", 1), ("topic2", 0), ("topic2", 2)]),
        ])
    );
}

#[test]
fn static_assignment_survives_a_new_dynamic_member() {
    let both = ["topic1", "topic2"];
    let topics = [("topic1", 3), ("topic2", 3)];
    for dynamic in ["consumer4", "consumer5"] {
        let members = [
            static_member("consumer1", "instance1", &both),
            static_member("consumer2", "instance2", &both),
            static_member("consumer3", "instance3", &both),
            member(dynamic, &both),
        ];
        assert_eq!(
            assign(&members, &topics),
            expected(&[
                ("consumer1", &[("topic1", 0), ("topic2", 1)]),
                ("consumer2", &[("topic1", 1), ("topic2", 2)]),
                ("consumer3", &[("topic1", 2)]),
                (dynamic, &[("topic2", 0)]),
            ])
        );
    }
}

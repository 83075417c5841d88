//! Scripted runs of a group: members join, leave, crash, come back, topics grow.

use std::collections::BTreeSet;
use std::time::Duration;

use dekaf_state::group::{GroupError, GroupEvent, LeaveReason, MemberState};
use dekaf_state::offset::TopicPartition;

use super::sim::{Setup, World};

const MIN: Duration = Duration::from_secs(60);

fn counts(w: &World) -> Vec<usize> {
    w.ownership().values().map(Vec::len).collect()
}

fn setup(assignors: &[&'static str]) -> Setup {
    Setup {
        assignors: assignors.to_vec(),
        ..Setup::default()
    }
}

#[test]
fn members_join_share_leave_and_crash_eager() {
    let mut w = World::new(setup(&["range"]), 3, &[("t1", 3), ("t2", 3)], 1);
    for i in 0..3 {
        w.start(i);
    }
    w.settle(MIN);
    assert_eq!(counts(&w), vec![2, 2, 2], "{}", w.describe());
    w.run_for(Duration::from_secs(10));
    assert!(w.commits > 0 && w.consumed > 0);

    // A graceful close hands the partitions over at once.
    w.close(2);
    w.settle(MIN);
    let c = w.consumer(2).unwrap();
    assert!(c.group.is_closed());
    assert!(c.log.contains(&GroupEvent::Left(LeaveReason::Closed)));
    let sizes: Vec<usize> = w
        .ownership()
        .into_iter()
        .filter(|(i, _)| *i != 2)
        .map(|(_, v)| v.len())
        .collect();
    assert_eq!(sizes, vec![4, 2], "range: 2 + 1 of each topic, and 1 + 1");

    // A crash is noticed after the session timeout.
    let before = w.coordinator.generation;
    w.crash(1);
    w.run_for(Duration::from_secs(5));
    assert_eq!(
        w.coordinator.generation, before,
        "not before the session expires"
    );
    w.settle(MIN);
    assert_eq!(counts(&w)[0], 6);
}

#[test]
fn cooperative_members_keep_what_does_not_move() {
    let mut w = World::new(setup(&["cooperative-sticky"]), 3, &[("t1", 6)], 2);
    w.start(0);
    w.settle(MIN);
    assert_eq!(counts(&w), vec![6]);
    w.start(1);
    w.settle(MIN);
    w.start(2);
    w.settle(MIN);
    assert_eq!(counts(&w), vec![2, 2, 2], "{}", w.describe());
    // The first member never lost a partition it kept, and revoked only what moved.
    let c = w.consumer(0).unwrap();
    let revoked: usize = c
        .log
        .iter()
        .map(|e| match e {
            GroupEvent::Revoked(p) => p.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(revoked, 4, "{:?}", c.log);
    assert!(!c.log.iter().any(|e| matches!(e, GroupEvent::Lost(_))));
    w.run_for(Duration::from_secs(10));
    assert!(w.commits > 0);
}

#[test]
fn an_eager_group_led_by_roundrobin_and_one_offering_two_assignors() {
    let mut w = World::new(
        setup(&["roundrobin", "range"]),
        2,
        &[("t1", 2), ("t2", 2)],
        3,
    );
    w.start(0);
    w.start(1);
    w.settle(MIN);
    assert_eq!(w.coordinator.protocol.as_deref(), Some("roundrobin"));
    assert_eq!(counts(&w), vec![2, 2]);
}

#[test]
fn a_static_member_comes_back_to_its_partitions() {
    let s = Setup {
        static_members: true,
        ..setup(&["range"])
    };
    let mut w = World::new(s, 3, &[("t1", 6)], 4);
    for i in 0..3 {
        w.start(i);
    }
    w.settle(MIN);
    let before = w.ownership();
    w.crash(1);
    w.run_for(Duration::from_secs(2));
    w.start(1);
    w.settle(MIN);
    assert_eq!(w.ownership(), before, "{}", w.describe());
    // Closing a static member sends no LeaveGroup: the others wait for its session.
    let generation = w.coordinator.generation;
    w.close(0);
    w.run_for(Duration::from_secs(5));
    assert_eq!(w.coordinator.generation, generation);
    w.settle(MIN);
    assert!(w.coordinator.generation > generation);
}

#[test]
fn two_processes_with_one_instance_id_fence_the_older() {
    let s = Setup {
        static_members: true,
        ..setup(&["range"])
    };
    let mut w = World::new(s, 2, &[("t1", 2)], 5);
    w.start(0);
    w.settle(MIN);
    // Two processes with one identity own the same partitions until the older one's next
    // heartbeat is fenced: Kafka's rule, and a misconfiguration, so ownership is not checked.
    w.check_ownership = false;
    w.set_instance(1, Some("static-0"));
    w.start(1);
    w.run_for(Duration::from_secs(30));
    let old = w.consumer(0).unwrap();
    assert_eq!(old.group.state(), MemberState::Failed, "{}", w.describe());
    assert!(old
        .log
        .contains(&GroupEvent::Failed(GroupError::FencedInstanceId)));
    w.crash(0);
    w.check_ownership = true;
    w.settle(MIN);
    assert_eq!(counts(&w), vec![2]);
}

#[test]
fn topics_that_grow_are_shared_again() {
    let mut w = World::new(setup(&["range"]), 2, &[("t1", 2)], 6);
    w.start(0);
    w.start(1);
    w.settle(MIN);
    w.grow("t1");
    w.grow("t1");
    w.settle(MIN);
    assert_eq!(counts(&w), vec![2, 2]);

    let s = Setup {
        pattern: true,
        ..setup(&["cooperative-sticky"])
    };
    let mut w = World::new(s, 2, &[("t1", 2)], 7);
    w.start(0);
    w.start(1);
    w.settle(MIN);
    w.grow("t2");
    w.grow("t2");
    w.grow("other");
    w.settle(MIN);
    let all: BTreeSet<TopicPartition> = w.ownership().into_values().flatten().collect();
    assert_eq!(all.len(), 4, "t1 and t2, not other: {all:?}");
}

#[test]
fn a_member_that_stops_polling_leaves_and_comes_back() {
    let mut w = World::new(setup(&["range"]), 2, &[("t1", 4)], 8);
    w.start(0);
    w.start(1);
    w.settle(MIN);
    w.consumer(1).unwrap().polling = false;
    w.run_for(Duration::from_secs(40));
    let c = w.consumer(1).unwrap();
    assert!(c
        .log
        .contains(&GroupEvent::Left(LeaveReason::MaxPollExceeded)));
    assert_eq!(c.group.state(), MemberState::Idle);
    assert!(c.log.iter().any(|e| matches!(e, GroupEvent::Lost(_))));
    assert_eq!(w.ownership()[&0].len(), 4);
    w.settle(MIN);
    assert_eq!(counts(&w), vec![2, 2]);
}

#[test]
fn a_revocation_that_takes_too_long_is_lost_and_the_group_moves_on() {
    let mut w = World::new(setup(&["range"]), 3, &[("t1", 6)], 9);
    w.start(0);
    w.start(1);
    w.settle(MIN);
    w.consumer(1).unwrap().revoke_delay = Duration::from_secs(45);
    w.start(2);
    w.run_for(Duration::from_secs(60));
    let c = w.consumer(1).unwrap();
    assert!(
        c.log.iter().any(|e| matches!(e, GroupEvent::Lost(_))),
        "{:?}",
        c.log
    );
    w.settle(MIN);
    assert_eq!(counts(&w), vec![2, 2, 2]);
}

#[test]
fn the_first_join_waits_for_the_coordinators_initial_delay() {
    let s = Setup {
        initial_delay: Duration::from_secs(3),
        ..setup(&["range"])
    };
    let mut w = World::new(s, 3, &[("t1", 3)], 10);
    for i in 0..3 {
        w.start(i);
    }
    w.settle(MIN);
    assert_eq!(counts(&w), vec![1, 1, 1]);
    assert_eq!(
        w.coordinator.generation, 1,
        "one rebalance for three members"
    );
}

#[test]
fn consumer_protocol_members_share_leave_crash_and_follow_topics() {
    let s = Setup {
        consumer_protocol: true,
        ..Setup::default()
    };
    let mut w = World::new(s, 3, &[("t1", 6)], 11);
    for i in 0..3 {
        w.start(i);
    }
    w.settle(MIN);
    assert_eq!(counts(&w), vec![2, 2, 2], "{}", w.describe());
    w.run_for(Duration::from_secs(10));
    assert!(w.commits > 0 && w.consumed > 0);
    w.close(2);
    w.settle(MIN);
    let c = w.consumer(2).unwrap();
    assert!(c.log.contains(&GroupEvent::Left(LeaveReason::Closed)));
    w.crash(1);
    w.settle(MIN);
    assert_eq!(w.ownership()[&0].len(), 6);
    w.grow("t1");
    w.start(1);
    w.settle(MIN);
    assert_eq!(counts(&w)[..2], [4, 3]);
    // Partitions move without anyone losing any: revoked first, then assigned.
    let c = w.consumer(0).unwrap();
    assert!(
        !c.log.iter().any(|e| matches!(e, GroupEvent::Lost(_))),
        "{:?}",
        c.log
    );
}

#[test]
fn consumer_protocol_member_that_stops_polling_leaves() {
    let s = Setup {
        consumer_protocol: true,
        static_members: true,
        ..Setup::default()
    };
    let mut w = World::new(s, 2, &[("t1", 4)], 12);
    w.start(0);
    w.start(1);
    w.settle(MIN);
    w.consumer(1).unwrap().polling = false;
    w.run_for(Duration::from_secs(40));
    let c = w.consumer(1).unwrap();
    assert!(c
        .log
        .contains(&GroupEvent::Left(LeaveReason::MaxPollExceeded)));
    assert_eq!(w.ownership()[&0].len(), 4);
    w.settle(MIN);
    assert_eq!(counts(&w), vec![2, 2]);
}

#[test]
fn consumer_protocol_commits_that_race_a_new_epoch_go_again() {
    let s = Setup {
        consumer_protocol: true,
        latency: Duration::from_millis(150),
        ..Setup::default()
    };
    let mut w = World::new(s, 3, &[("t1", 6)], 13);
    for i in 0..3 {
        w.start(i);
        w.run_for(Duration::from_millis(700));
    }
    for _ in 0..6 {
        w.grow("t1");
        w.run_for(Duration::from_millis(1300));
    }
    w.settle(MIN);
    assert!(w.stale_commits > 0, "the race did not happen");
}

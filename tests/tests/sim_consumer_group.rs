//! Consumers of one group in virtual time: subscribe, split the partitions, hand them over on
//! close and on a crash, without losing records and (Auto mode) without duplicates.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use dekaf_proto::records::Compression;
use dekaf_sim::{Cluster, GroupSim};
use dekaf_state::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use dekaf_state::group::{GroupEvent, GroupProtocol, LeaveReason};
use dekaf_state::offset::{AutoOffsetReset, OffsetCommitMode, TopicPartition};

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 6;

fn all() -> BTreeSet<TopicPartition> {
    (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect()
}

fn config(seed: u64, mode: OffsetCommitMode) -> ConsumerConfig {
    dekaf_tests::init_logging();
    ConsumerConfig::new()
        .with_group_id("g")
        .with_commit_mode(mode)
        .with_auto_commit_interval(Duration::from_secs(1))
        .with_auto_offset_reset(AutoOffsetReset::Earliest)
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_secs(1))
        .with_max_poll_interval(Duration::from_secs(20))
        .with_seed(seed)
}

fn subscribed(now: std::time::Instant, config: ConsumerConfig) -> Consumer {
    let mut c = Consumer::new(config);
    c.subscribe(now, [TOPIC]).expect("subscribe");
    c
}

fn consumer(now: std::time::Instant, seed: u64, mode: OffsetCommitMode) -> Consumer {
    subscribed(now, config(seed, mode))
}

fn world(members: usize, mode: OffsetCommitMode, records: usize) -> GroupSim {
    let mut cluster = Cluster::new(3, 7);
    cluster.create_topic(TOPIC, PARTITIONS);
    for p in 0..PARTITIONS {
        cluster.append(TOPIC, p, records, Compression::None, None);
    }
    let mut sim = GroupSim::new(cluster, "g");
    for i in 0..members {
        let now = sim.now;
        sim.add(consumer(now, i as u64 + 1, mode));
    }
    sim
}

/// Every record of the topic, handed to some member, by partition: offsets in order of
/// delivery, over all members.
fn delivered(sim: &GroupSim, gone: &[dekaf_sim::Member]) -> BTreeMap<TopicPartition, Vec<i64>> {
    let mut out: BTreeMap<TopicPartition, Vec<i64>> = BTreeMap::new();
    for m in sim
        .members
        .iter()
        .flatten()
        .chain(&sim.finished)
        .chain(gone)
    {
        for r in &m.records {
            out.entry(r.topic_partition.clone())
                .or_default()
                .push(r.offset);
        }
    }
    out
}

fn assert_all_delivered(d: &BTreeMap<TopicPartition, Vec<i64>>, records: i64, no_duplicates: bool) {
    for tp in all() {
        let got = d.get(&tp).cloned().unwrap_or_default();
        let set: BTreeSet<i64> = got.iter().copied().collect();
        assert_eq!(
            set,
            (0..records).collect::<BTreeSet<i64>>(),
            "{tp}: not every record delivered"
        );
        if no_duplicates {
            assert_eq!(got.len(), set.len(), "{tp}: duplicates {got:?}");
        }
    }
}

#[test]
fn three_members_split_six_partitions() {
    let mut sim = world(3, OffsetCommitMode::Auto, 0);
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    for m in sim.members.iter().flatten() {
        assert_eq!(m.consumer.assignment().len(), 2, "{}", sim.describe());
        let meta = m.consumer.group_metadata().expect("subscribed");
        assert_eq!(meta.group_id, "g");
        assert!(meta.generation_id > 0);
        assert!(!meta.member_id.is_empty());
    }
}

fn close_hands_over(mode: OffsetCommitMode) {
    let mut sim = world(2, mode, 0);
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    // Records arrive while both consume.
    for p in 0..PARTITIONS {
        sim.cluster.append(TOPIC, p, 40, Compression::None, None);
    }
    sim.run_for(Duration::from_secs(3));
    if mode == OffsetCommitMode::Manual {
        let now = sim.now;
        for m in sim.members.iter_mut().flatten() {
            m.consumer.commit(now).expect("commit");
        }
        sim.run_for(Duration::from_millis(200));
    }
    for p in 0..PARTITIONS {
        sim.cluster.append(TOPIC, p, 40, Compression::None, None);
    }
    sim.run_for(Duration::from_millis(30));
    sim.close(0);
    let mut gone = Vec::new();
    sim.run_until(Duration::from_secs(30), |s| s.members[0].is_none());
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    assert_eq!(
        sim.members[1].as_ref().unwrap().consumer.assignment().len(),
        6
    );
    for p in 0..PARTITIONS {
        sim.cluster.append(TOPIC, p, 20, Compression::None, None);
    }
    sim.run_for(Duration::from_secs(5));
    gone.extend(sim.crash(1));
    let d = delivered(&sim, &gone);
    assert_all_delivered(&d, 100, mode == OffsetCommitMode::Auto);
}

#[test]
fn a_closing_member_hands_over_at_its_committed_offsets_auto() {
    close_hands_over(OffsetCommitMode::Auto);
}

#[test]
fn a_closing_member_hands_over_at_its_committed_offsets_manual() {
    close_hands_over(OffsetCommitMode::Manual);
}

#[test]
fn a_crashed_member_is_replaced_from_the_last_committed_offsets() {
    let mut sim = world(3, OffsetCommitMode::Auto, 30);
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    sim.run_for(Duration::from_secs(3));
    let crashed_parts = sim.members[2].as_ref().unwrap().consumer.assignment();
    let committed: BTreeMap<TopicPartition, i64> = crashed_parts
        .iter()
        .map(|tp| (tp.clone(), sim.committed(tp).unwrap_or(0)))
        .collect();
    for p in 0..PARTITIONS {
        sim.cluster.append(TOPIC, p, 10, Compression::None, None);
    }
    let crashed = sim.crash(2).expect("running");
    // The session expires (6 s); the others take over.
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    sim.run_for(Duration::from_secs(3));
    let mut survivors_first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for m in sim.members.iter().flatten() {
        for r in &m.records {
            if crashed_parts.contains(&r.topic_partition) {
                survivors_first
                    .entry(r.topic_partition.clone())
                    .or_insert(r.offset);
            }
        }
    }
    for (tp, c) in &committed {
        assert_eq!(
            survivors_first.get(tp),
            Some(c),
            "{tp}: the next owner starts at the committed offset"
        );
    }
    let d = delivered(&sim, &[crashed]);
    assert_all_delivered(&d, 40, false);
}

#[test]
fn unsubscribe_gives_partitions_to_the_others() {
    let mut sim = world(2, OffsetCommitMode::Auto, 5);
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    let now = sim.now;
    sim.member(0).consumer.unsubscribe(now);
    sim.run_until(Duration::from_secs(60), |s| {
        s.members[1]
            .as_ref()
            .is_some_and(|m| m.consumer.assignment().len() == 6)
            && s.members[0]
                .as_ref()
                .is_some_and(|m| m.consumer.assignment().is_empty())
    });
}

/// Close revokes (Auto mode commits), then leaves at once: it neither waits for the rebalance
/// timeout nor reports its partitions lost.
#[test]
fn close_leaves_at_once_without_losing_partitions() {
    let mut sim = world(2, OffsetCommitMode::Auto, 10);
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    sim.run_for(Duration::from_secs(2));
    let start = sim.now;
    sim.close(0);
    sim.run_until(Duration::from_secs(60), |s| s.members[0].is_none());
    assert!(
        sim.now - start < Duration::from_secs(1),
        "close took {:?}",
        sim.now - start
    );
    let gone = sim.finished.last().expect("closed");
    let events = &gone.events;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ConsumerEvent::Rebalance(GroupEvent::Lost(_)))),
        "{events:?}"
    );
    assert!(events.contains(&ConsumerEvent::Rebalance(GroupEvent::Left(
        LeaveReason::Closed
    ))));
    for tp in all() {
        assert_eq!(sim.committed(&tp), Some(10), "{tp}");
    }
    sim.run_until(Duration::from_secs(10), |s| s.settled(&all()));
}

// ----- the consumer protocol (KIP-848), through the composed consumer -----

fn kip848_consumer(now: std::time::Instant, seed: u64, mode: OffsetCommitMode) -> Consumer {
    let config = ConsumerConfig::new()
        .with_group_id("g")
        .with_group_protocol(GroupProtocol::Consumer)
        .with_commit_mode(mode)
        .with_auto_commit_interval(Duration::from_millis(100))
        .with_auto_offset_reset(AutoOffsetReset::Earliest)
        .with_max_poll_interval(Duration::from_secs(20))
        .with_seed(seed);
    let mut c = Consumer::new(config);
    c.subscribe(now, [TOPIC]).expect("subscribe");
    c
}

fn kip848_world(members: usize, records: usize) -> GroupSim {
    let mut cluster = Cluster::new(3, 7);
    cluster.create_topic(TOPIC, PARTITIONS);
    for p in 0..PARTITIONS {
        cluster.append(TOPIC, p, records, Compression::None, None);
    }
    let mut sim = GroupSim::new(cluster, "g").with_consumer_protocol(Duration::from_secs(6));
    for i in 0..members {
        let now = sim.now;
        sim.add(kip848_consumer(now, i as u64 + 11, OffsetCommitMode::Auto));
    }
    sim
}

/// Settled, and (consumer protocol) every member caught up with the group epoch: nothing is
/// left to move.
fn kip848_settled(s: &mut GroupSim) -> bool {
    let Some(epoch) = s.consumer_coordinator.as_ref().map(|c| c.group_epoch) else {
        return false;
    };
    s.settled(&all())
        && s.members.iter().flatten().all(|m| {
            m.consumer
                .group_metadata()
                .is_some_and(|g| g.generation_id == epoch)
        })
}

/// Consumer-protocol members: the coordinator assigns, the composed consumer revokes before
/// it takes, commits with its member epoch, and a closing member's partitions go on from its
/// commits — every record exactly once in Auto mode.
#[test]
fn consumer_protocol_members_split_and_hand_over_exactly_once() {
    let mut sim = kip848_world(3, 20);
    sim.run_until(Duration::from_secs(60), kip848_settled);
    for m in sim.members.iter().flatten() {
        assert_eq!(m.consumer.assignment().len(), 2, "{}", sim.describe());
        let meta = m.consumer.group_metadata().expect("subscribed");
        assert!(meta.generation_id > 0, "{meta:?}");
        assert_eq!(
            meta.member_id.len(),
            22,
            "the member makes its own id: {meta:?}"
        );
    }
    let epoch = sim.consumer_coordinator.as_ref().unwrap().group_epoch;
    sim.run_for(Duration::from_secs(2));
    for p in 0..PARTITIONS {
        sim.cluster.append(TOPIC, p, 20, Compression::None, None);
    }
    sim.run_for(Duration::from_millis(30));
    sim.close(0);
    sim.run_until(Duration::from_secs(30), |s| s.members[0].is_none());
    sim.run_until(Duration::from_secs(60), kip848_settled);
    assert!(sim.consumer_coordinator.as_ref().unwrap().group_epoch > epoch);
    for p in 0..PARTITIONS {
        sim.cluster.append(TOPIC, p, 20, Compression::None, None);
    }
    sim.run_for(Duration::from_secs(3));
    // A crash: the coordinator removes the member after its session, the last one takes all.
    let crashed = sim.crash(1).expect("running");
    sim.run_until(Duration::from_secs(60), kip848_settled);
    assert_eq!(
        sim.members[2].as_ref().unwrap().consumer.assignment().len(),
        6
    );
    sim.run_for(Duration::from_secs(2));
    let closed = &sim.finished[0];
    assert!(
        !closed
            .events
            .iter()
            .any(|e| matches!(e, ConsumerEvent::Rebalance(GroupEvent::Lost(_)))),
        "{:?}",
        closed.events
    );
    let d = delivered(&sim, &[crashed]);
    // The crash may repeat what was read after the last commit; no record is lost.
    assert_all_delivered(&d, 60, false);
    let before_crash: BTreeMap<TopicPartition, Vec<i64>> = d
        .iter()
        .map(|(tp, o)| (tp.clone(), o.iter().copied().filter(|&o| o < 40).collect()))
        .collect();
    for (tp, offsets) in &before_crash {
        let set: BTreeSet<i64> = offsets.iter().copied().collect();
        assert_eq!(
            offsets.len(),
            set.len(),
            "{tp}: duplicates across the close {offsets:?}"
        );
    }
}

/// KIP-848 bumps a member's epoch without a rebalance (here: a topic is created), so an
/// OffsetCommit sent just before can reach the coordinator with the old epoch and be refused
/// with STALE_MEMBER_EPOCH, after the member already heard its new epoch. The rule of the
/// group module: such a refusal, with the group machine stable at a newer epoch, sends the
/// stored offsets again at once with the current epoch. Without it the offset machine would
/// wait for a `Stable` that never comes, and nothing would be committed any more.
#[test]
fn a_commit_refused_for_a_stale_member_epoch_goes_again_with_the_new_one() {
    let mut sim = kip848_world(1, 0);
    // A round trip longer than the commit interval: a commit is always in flight.
    sim.latency = Duration::from_millis(150);
    sim.run_until(Duration::from_secs(60), kip848_settled);
    let epoch = sim
        .member(0)
        .consumer
        .group_metadata()
        .unwrap()
        .generation_id;
    let mut end = 0;
    let mut feed = |sim: &mut GroupSim, for_: Duration| {
        let until = sim.now + for_;
        while sim.now < until {
            for p in 0..PARTITIONS {
                sim.cluster.append(TOPIC, p, 1, Compression::None, None);
            }
            end += 1;
            sim.run_for(Duration::from_millis(50));
        }
    };
    feed(&mut sim, Duration::from_secs(2));
    sim.cluster.create_topic("unrelated", 1);
    feed(&mut sim, Duration::from_secs(3));
    let now_epoch = sim
        .member(0)
        .consumer
        .group_metadata()
        .unwrap()
        .generation_id;
    assert!(
        now_epoch > epoch,
        "the member epoch did not move: {now_epoch}"
    );
    assert!(sim.stale_commits > 0, "no commit raced the new epoch");
    // Quiet now: every record read is committed, with the current epoch.
    sim.run_for(Duration::from_secs(3));
    for tp in all() {
        assert_eq!(
            sim.committed(&tp),
            Some(end),
            "{tp}: commits stopped after STALE_MEMBER_EPOCH ({} refused)",
            sim.stale_commits
        );
    }
}

/// Kafka's rule for static members (tansu keeps the old member id: see `smol_group.rs`): a
/// member with a group instance id leaves without LeaveGroup, and when it comes back within
/// its session timeout it gets its partitions again under a new member id, without a
/// rebalance: the generation stays and the others are not disturbed.
#[test]
fn a_static_member_that_restarts_gets_its_partitions_without_a_rebalance() {
    let mut sim = world(0, OffsetCommitMode::Auto, 10);
    let now = sim.now;
    let static_consumer = |now, seed| {
        let config = ConsumerConfig::new()
            .with_group_id("g")
            .with_group_instance_id("static-0")
            .with_auto_offset_reset(AutoOffsetReset::Earliest)
            .with_session_timeout(Duration::from_secs(6))
            .with_heartbeat_interval(Duration::from_secs(1))
            .with_max_poll_interval(Duration::from_secs(20))
            .with_seed(seed);
        let mut c = Consumer::new(config);
        c.subscribe(now, [TOPIC]).expect("subscribe");
        c
    };
    sim.add(static_consumer(now, 1));
    sim.add(consumer(now, 2, OffsetCommitMode::Auto));
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    sim.run_for(Duration::from_secs(2));
    let held = sim.member(0).consumer.assignment();
    let before = sim.member(0).consumer.group_metadata().unwrap();
    let generation = sim.coordinator.generation;
    let others_events = sim.member(1).events.len();

    sim.close(0);
    sim.run_until(Duration::from_secs(10), |s| s.members[0].is_none());
    sim.run_for(Duration::from_secs(2));
    let now = sim.now;
    sim.add(static_consumer(now, 3));
    sim.run_until(Duration::from_secs(60), |s| {
        s.members[2]
            .as_ref()
            .is_some_and(|m| !m.consumer.assignment().is_empty())
            && s.settled(&all())
    });
    let after = sim.member(2).consumer.group_metadata().unwrap();
    assert_eq!(sim.member(2).consumer.assignment(), held);
    assert_eq!(
        sim.coordinator.generation, generation,
        "a rebalance happened"
    );
    assert_eq!(after.generation_id, before.generation_id);
    assert_ne!(
        after.member_id, before.member_id,
        "Kafka gives a new member id"
    );
    let since: Vec<&ConsumerEvent> = sim.member(1).events[others_events..]
        .iter()
        .filter(|e| matches!(e, ConsumerEvent::Rebalance(_)))
        .collect();
    assert!(
        since.is_empty(),
        "the other member was disturbed: {since:?}"
    );
    for p in 0..PARTITIONS {
        sim.cluster.append(TOPIC, p, 10, Compression::None, None);
    }
    sim.run_for(Duration::from_secs(2));
    let d = delivered(&sim, &[]);
    assert_all_delivered(&d, 20, true);
}

/// Partitions assigned by hand right after `unsubscribe` stay assigned when the member's leave
/// completes: group events only change what the group handed out.
#[test]
fn an_assignment_by_hand_after_unsubscribe_survives_the_leave() {
    let mut sim = world(1, OffsetCommitMode::Auto, 5);
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    let now = sim.now;
    let m = sim.member(0);
    m.consumer.unsubscribe(now);
    // The application confirms the revocation (as dekaf-smol does after on_revoked).
    m.consumer.rebalance_done(now);
    let tp = TopicPartition::new(TOPIC, 3);
    m.consumer.assign(now, [tp.clone()]).expect("assign");
    sim.run_until(Duration::from_secs(10), |s| {
        s.members[0].as_ref().is_some_and(|m| {
            m.events
                .contains(&ConsumerEvent::Rebalance(GroupEvent::Left(
                    LeaveReason::Unsubscribed,
                )))
        })
    });
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.member(0).consumer.assignment(), vec![tp]);
}

/// While a member has not finished revoking, the coordinator holds the rebalance up to the
/// rebalance timeout: the joining member gets nothing, and the slow one loses nothing — its
/// heartbeats, answered REBALANCE_IN_PROGRESS, keep its session alive longer than the
/// session timeout (6 s here), as Java's consumer does.
#[test]
fn the_group_waits_for_a_revocation_in_progress() {
    let mut sim = world(1, OffsetCommitMode::Auto, 5);
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    // The application stops asking for records: its revocation is not confirmed.
    sim.member(0).polling = false;
    let now = sim.now;
    sim.add(consumer(now, 2, OffsetCommitMode::Auto));
    sim.run_until(Duration::from_secs(10), |s| {
        s.members[0]
            .as_ref()
            .is_some_and(|m| !m.consumer.revoking().is_empty())
    });
    sim.run_for(Duration::from_secs(8));
    assert!(
        sim.member(1).consumer.assignment().is_empty(),
        "{} {:?}",
        sim.describe(),
        sim.member(0).events
    );
    assert_eq!(sim.member(0).consumer.assignment().len(), 6);
    sim.member(0).polling = true;
    sim.run_until(Duration::from_secs(30), |s| s.settled(&all()));
    assert_eq!(sim.member(1).consumer.assignment().len(), 3);
    assert!(!sim
        .member(0)
        .events
        .iter()
        .any(|e| matches!(e, ConsumerEvent::Rebalance(GroupEvent::Lost(_)))));
}

/// A member revokes part of its partitions (cooperative), confirms, and while the commit of
/// that revocation is on the way the application unsubscribes: the rest is revoked too. The
/// rest must wait for its own confirmation; until then the member stays in the group with it,
/// and nobody else is given it.
#[test]
fn partitions_revoked_while_an_earlier_revocation_commits_wait_for_their_own_confirmation() {
    let cooperative = |now, seed| {
        let config = config(seed, OffsetCommitMode::Auto)
            .with_assignor_names(&["cooperative-sticky"])
            .expect("a built-in assignor")
            .with_auto_commit_interval(Duration::from_secs(600));
        subscribed(now, config)
    };
    let mut cluster = Cluster::new(3, 7);
    cluster.create_topic(TOPIC, PARTITIONS);
    for p in 0..PARTITIONS {
        cluster.append(TOPIC, p, 5, Compression::None, None);
    }
    let mut sim = GroupSim::new(cluster, "g");
    sim.latency = Duration::from_millis(300);
    let now = sim.now;
    sim.add(cooperative(now, 1));
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all()));
    // The application takes more records and is done with them: offsets to commit.
    sim.member(0).polling = false;
    for p in 0..PARTITIONS {
        sim.cluster.append(TOPIC, p, 5, Compression::None, None);
    }
    sim.run_for(Duration::from_secs(2));
    let now = sim.now;
    let taken = sim.member(0).consumer.poll_records(now, 1000);
    assert!(!taken.is_empty());
    sim.member(0).consumer.release(now);
    let now = sim.now;
    sim.add(cooperative(now, 2));
    sim.run_until(Duration::from_secs(20), |s| {
        !s.member(0).consumer.revoking().is_empty()
    });
    let first: BTreeSet<TopicPartition> = sim.member(0).consumer.revoking().into_iter().collect();
    let now = sim.now;
    // Done with the first revocation: its commit goes out. Then, before it is answered,
    // the rest is revoked.
    sim.member(0).consumer.rebalance_done(now);
    sim.member(0).consumer.unsubscribe(now);
    let rest: BTreeSet<TopicPartition> = all().difference(&first).cloned().collect();
    sim.run_for(Duration::from_secs(3));
    let held: BTreeSet<TopicPartition> = sim.member(0).consumer.assignment().into_iter().collect();
    assert_eq!(
        held,
        rest,
        "{}\n{:#?}",
        sim.describe(),
        sim.member(0).events
    );
    assert!(sim
        .member(1)
        .consumer
        .assignment()
        .iter()
        .all(|tp| !rest.contains(tp)));
    // The application confirms; the member leaves and the other takes everything.
    sim.member(0).polling = true;
    sim.run_until(Duration::from_secs(60), |s| {
        s.member(1).consumer.assignment().len() == all().len()
            && s.member(0).consumer.assignment().is_empty()
    });
}

/// Topic names Kafka refuses are refused at `subscribe`, changing nothing; a subscribed topic
/// the cluster refuses (not authorized) is reported, while one that does not exist yet is not.
#[test]
fn bad_topic_names_are_refused_and_refused_topics_reported() {
    use dekaf_state::consumer::{MetadataProblem, SubscribeError};
    use dekaf_state::offset::OffsetError;

    let mut cluster = Cluster::new(1, 3);
    cluster.create_topic(TOPIC, PARTITIONS);
    cluster.refused_topics.insert(
        "secret".into(),
        dekaf_proto::ErrorCode::TOPIC_AUTHORIZATION_FAILED,
    );
    let mut sim = GroupSim::new(cluster, "g");
    let now = sim.now;
    let mut c = Consumer::new(config(1, OffsetCommitMode::Auto));
    let long = "x".repeat(300);
    for bad in ["", "a b", ".", "..", long.as_str(), "a/b"] {
        let refused = c.subscribe(now, [TOPIC, bad]);
        assert!(
            matches!(refused, Err(SubscribeError::InvalidTopic(_))),
            "{bad:?}: {refused:?}"
        );
        assert!(c.group().is_none(), "{bad:?} changed the consumer");
        let assigned = c.assign(now, [TopicPartition::new(bad, 0)]);
        assert!(
            matches!(assigned, Err(OffsetError::InvalidTopic(_))),
            "{assigned:?}"
        );
    }
    let negative = c.assign(now, [TopicPartition::new(TOPIC, -1)]);
    assert!(
        matches!(negative, Err(OffsetError::InvalidPartition(_))),
        "{negative:?}"
    );
    assert!(c.assignment().is_empty());

    c.subscribe(now, [TOPIC, "secret", "not-yet"])
        .expect("valid names");
    let slot = sim.add(c);
    sim.run_until(Duration::from_secs(60), |sim| {
        sim.member(slot).events.iter().any(|e| {
            matches!(e, ConsumerEvent::Metadata(MetadataProblem::Topic { topic, .. }) if topic == "secret")
        })
    });
    let problems: Vec<String> = sim
        .member(slot)
        .events
        .iter()
        .filter_map(|e| match e {
            ConsumerEvent::Metadata(MetadataProblem::Topic { topic, .. }) => Some(topic.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        problems,
        ["secret"],
        "a missing topic is waited for, not reported"
    );
}

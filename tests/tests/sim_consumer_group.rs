//! Consumers of one group in virtual time: subscribe, split the partitions, hand them over on
//! close and on a crash, without losing records and (Auto mode) without duplicates.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use dekaf_proto::records::Compression;
use dekaf_state::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use dekaf_state::group::{GroupEvent, LeaveReason};
use dekaf_state::offset::{AutoOffsetReset, OffsetCommitMode, TopicPartition};
use dekaf_tests::sim::{Cluster, GroupSim};

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 6;

fn all() -> BTreeSet<TopicPartition> {
    (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect()
}

fn consumer(now: std::time::Instant, seed: u64, mode: OffsetCommitMode) -> Consumer {
    let config = ConsumerConfig::new()
        .with_group_id("g")
        .with_commit_mode(mode)
        .with_auto_commit_interval(Duration::from_secs(1))
        .with_auto_offset_reset(AutoOffsetReset::Earliest)
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_secs(1))
        .with_max_poll_interval(Duration::from_secs(20))
        .with_seed(seed);
    let mut c = Consumer::new(config);
    c.subscribe(now, [TOPIC]).expect("subscribe");
    c
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
fn delivered(
    sim: &GroupSim,
    gone: &[dekaf_tests::sim::Member],
) -> BTreeMap<TopicPartition, Vec<i64>> {
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

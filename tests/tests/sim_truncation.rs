//! Log truncation after a leader change, in the simulated cluster: positions are validated
//! with OffsetForLeaderEpoch (or by a fetch's diverging epoch) before fetching goes on.

use std::time::Duration;

use dekaf_proto::records::Compression;
use dekaf_proto::ApiKey;
use dekaf_sim::{Cluster, Sim};
use dekaf_state::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use dekaf_state::offset::{
    AutoOffsetReset, Event, PositionError, PositionState, TopicPartition, TopicPartitionOffset,
};

const TOPIC: &str = "t";

fn tp() -> TopicPartition {
    TopicPartition::new(TOPIC, 0)
}

fn sim(seed: u64, reset: AutoOffsetReset, cap: Option<i16>, unsupported: bool) -> Sim {
    dekaf_tests::init_logging();
    let mut cluster = Cluster::new(3, seed);
    cluster.create_topic(TOPIC, 1);
    for _ in 0..3 {
        cluster.append(TOPIC, 0, 5, Compression::None, None);
    }
    cluster.without_offset_for_leader_epoch = unsupported;
    let config = ConsumerConfig::new()
        .with_auto_offset_reset(reset)
        .with_seed(seed);
    let mut sim = Sim::new(cluster, Consumer::new(config), seed);
    sim.version_cap = cap;
    sim.consumer.assign(sim.now, [tp()]).unwrap();
    sim.consumer
        .seek(sim.now, TopicPartitionOffset::at(tp(), 0))
        .unwrap();
    sim
}

/// Consumes until `n` records were handed out; returns their offsets and values.
fn take(sim: &mut Sim, n: usize) -> Vec<(i64, Option<bytes::Bytes>)> {
    let mut got = Vec::new();
    sim.run_until(Duration::from_secs(60), |sim| {
        for r in sim.consumer.poll_records(sim.now, 100) {
            got.push((r.offset, r.value.clone()));
        }
        got.len() >= n
    });
    got
}

fn truncated(sim: &Sim) -> Vec<(i64, i64)> {
    sim.events
        .iter()
        .filter_map(|e| match e {
            ConsumerEvent::Offset(Event::Truncated {
                position,
                divergence,
                ..
            }) => Some((position.offset, divergence.offset)),
            _ => None,
        })
        .collect()
}

fn values(sim: &Sim, from: i64) -> Vec<(i64, Option<bytes::Bytes>)> {
    sim.cluster
        .partition(TOPIC, 0)
        .records()
        .iter()
        .filter(|r| r.offset >= from)
        .map(|r| (r.offset, r.value.clone()))
        .collect()
}

#[test]
fn truncation_below_the_position_resets_to_the_divergence_point() {
    // Fetch ≤ v11 (validation by OffsetForLeaderEpoch) and any version (fetches may find the
    // divergence themselves).
    for (seed, cap) in [(1, Some(11)), (2, None), (3, Some(11)), (4, None)] {
        for reset in [AutoOffsetReset::Earliest, AutoOffsetReset::Latest] {
            let mut sim = sim(seed, reset, cap, false);
            assert_eq!(take(&mut sim, 15).len(), 15);
            sim.cluster.truncate_and_move_leader(TOPIC, 0, 10);
            sim.cluster.append(TOPIC, 0, 5, Compression::None, None);
            let again = take(&mut sim, 5);
            assert_eq!(truncated(&sim), [(15, 10)], "seed {seed} cap {cap:?}");
            // What the new leader wrote from the divergence point on, once.
            assert_eq!(again, values(&sim, 10), "seed {seed} cap {cap:?}");
            assert_eq!(sim.consumer.position(&tp()), Some(15));
        }
    }
}

#[test]
fn truncation_with_reset_none_fails_the_partition_and_stops_fetching() {
    for (seed, cap) in [(5, Some(11)), (6, None)] {
        let mut sim = sim(seed, AutoOffsetReset::None, cap, false);
        assert_eq!(take(&mut sim, 15).len(), 15);
        sim.cluster.truncate_and_move_leader(TOPIC, 0, 10);
        sim.cluster.append(TOPIC, 0, 5, Compression::None, None);
        sim.run_for(Duration::from_secs(10));
        assert!(sim.consumer.poll_records(sim.now, 100).is_empty());
        let failed: Vec<_> = sim
            .events
            .iter()
            .filter_map(|e| match e {
                // (Assigned without a committed offset and reset none: failed until the seek.)
                ConsumerEvent::Offset(Event::PositionFailed { error, .. })
                    if *error != PositionError::NoCommittedOffset =>
                {
                    Some(error.clone())
                }
                _ => None,
            })
            .collect();
        match failed.as_slice() {
            [PositionError::Truncation {
                partition,
                position,
                divergence: Some(d),
            }] => {
                assert_eq!((partition, position.offset, d.offset), (&tp(), 15, 10));
            }
            other => panic!("seed {seed}: {other:?}"),
        }
        assert!(matches!(
            sim.consumer.offsets().position_state(&tp()),
            Some(PositionState::Failed(_))
        ));
        let fetches = sim.cluster.counts[&ApiKey::Fetch.key()];
        sim.run_for(Duration::from_secs(10));
        assert_eq!(sim.cluster.counts[&ApiKey::Fetch.key()], fetches);
    }
}

#[test]
fn a_leader_change_without_truncation_keeps_the_position() {
    for (seed, cap) in [(7, Some(11)), (8, None)] {
        let mut sim = sim(seed, AutoOffsetReset::Earliest, cap, false);
        let mut got = take(&mut sim, 15);
        sim.cluster.move_leader(TOPIC, 0);
        sim.cluster.append(TOPIC, 0, 5, Compression::None, None);
        got.extend(take(&mut sim, 5));
        assert_eq!(got, values(&sim, 0), "seed {seed}");
        assert!(truncated(&sim).is_empty());
        if cap == Some(11) {
            assert!(sim.cluster.counts[&ApiKey::OffsetForLeaderEpoch.key()] >= 1);
        }
    }
}

#[test]
fn without_offset_for_leader_epoch_positions_count_as_validated() {
    let mut sim = sim(9, AutoOffsetReset::Earliest, Some(11), true);
    let mut got = take(&mut sim, 15);
    sim.cluster.move_leader(TOPIC, 0);
    sim.cluster.append(TOPIC, 0, 5, Compression::None, None);
    got.extend(take(&mut sim, 5));
    assert_eq!(got, values(&sim, 0));
    assert!(truncated(&sim).is_empty());
    assert!(!sim
        .events
        .iter()
        .any(|e| matches!(e, ConsumerEvent::RequestFailed { .. })));
}

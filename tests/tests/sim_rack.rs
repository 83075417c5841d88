//! `client.rack` in the simulation: fetching from the closest replica (KIP-392). The leader
//! names a follower in the consumer's rack; the consumer reads there until the follower fails
//! or the metadata age passes, and every record arrives once, in order, whichever replica
//! served it. And rack-aware assignment (KIP-881): a group whose members name their racks
//! gets partitions led in those racks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use dekaf_proto::records::Compression;
use dekaf_sim::{check_exact, consume, Cluster, Delivered, GroupSim, Sim};
use dekaf_state::consumer::{Consumer, ConsumerConfig};
use dekaf_state::offset::{AutoOffsetReset, TopicPartition};

const TOPIC: &str = "racked";

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new(TOPIC, p)
}

/// Three brokers in racks `r1`..`r3`; two partitions led by brokers 1 and 2, each replicated
/// on all three brokers, with `batches` batches each.
fn racked_cluster(seed: u64, batches: usize) -> Cluster {
    let mut cluster = Cluster::new(3, seed);
    for b in 1..=3 {
        cluster.set_rack(b, &format!("r{b}"));
    }
    cluster.create_topic(TOPIC, 2);
    for p in 0..2 {
        cluster.set_replicas(TOPIC, p, &[1, 2, 3]);
        append(&mut cluster, p, batches);
    }
    cluster
}

fn append(cluster: &mut Cluster, p: i32, batches: usize) {
    for _ in 0..batches {
        let n = 1 + cluster.below(6) as usize;
        cluster.append(TOPIC, p, n, Compression::None, None);
    }
}

/// A simulation against brokers that speak Fetch v11 or later (which carries the rack).
fn racked_sim(cluster: Cluster, config: ConsumerConfig, seed: u64) -> Sim {
    let mut sim = Sim::new(cluster, Consumer::new(config), seed);
    sim.version_floor = Some(11);
    sim
}

fn config(seed: u64) -> ConsumerConfig {
    ConsumerConfig::new()
        .with_auto_offset_reset(AutoOffsetReset::Earliest)
        .with_seed(seed)
}

fn everything(sim: &Sim) -> BTreeMap<TopicPartition, usize> {
    (0..2)
        .map(|p| (tp(p), sim.cluster.partition(TOPIC, p).records().len()))
        .collect()
}

fn fetches(sim: &Sim, broker: i32) -> u64 {
    sim.cluster.fetches.get(&broker).copied().unwrap_or(0)
}

fn check_all(sim: &Sim, got: &Delivered) {
    for p in 0..2 {
        check_exact(got, &tp(p), &sim.cluster.partition(TOPIC, p).all_records());
    }
}

/// Appends to both partitions `rounds` times, each time reading until everything is in.
fn consume_while_appending(sim: &mut Sim, got: &mut Delivered, rounds: usize) {
    for _ in 0..rounds {
        for p in 0..2 {
            append(&mut sim.cluster, p, 3);
        }
        let want = everything(sim);
        sim.run_until(Duration::from_secs(30), |sim| {
            got.add(sim.consumer.poll_records(sim.now, 25));
            want.iter().all(|(tp, n)| got.count(tp) >= *n)
        });
    }
}

#[test]
fn a_consumer_with_a_rack_reads_from_the_follower_in_its_rack_and_gets_every_record_once_in_order()
{
    for seed in 0..8 {
        let mut sim = racked_sim(
            racked_cluster(seed, 20),
            config(seed).with_client_rack("r3"),
            seed,
        );
        sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
        let mut got = Delivered::default();
        consume_while_appending(&mut sim, &mut got, 10);
        check_all(&sim, &got);
        let (leaders, follower) = (fetches(&sim, 1) + fetches(&sim, 2), fetches(&sim, 3));
        // One fetch per leader, which names the follower; every later one goes there.
        assert_eq!(leaders, 2, "seed {seed}: {follower} from the follower");
        assert!(follower > 10, "seed {seed}: {follower} from the follower");
    }
}

#[test]
fn a_consumer_without_a_rack_reads_from_the_leaders_only() {
    let mut sim = racked_sim(racked_cluster(3, 20), config(3), 3);
    sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
    let mut got = Delivered::default();
    consume_while_appending(&mut sim, &mut got, 5);
    check_all(&sim, &got);
    assert_eq!(fetches(&sim, 3), 0);
    assert!(fetches(&sim, 1) > 0 && fetches(&sim, 2) > 0);
}

#[test]
fn a_consumer_in_the_leaders_rack_reads_from_the_leader() {
    let mut sim = racked_sim(racked_cluster(4, 20), config(4).with_client_rack("r1"), 4);
    sim.consumer.assign(sim.now, [tp(0)]).unwrap();
    let want = BTreeMap::from([(tp(0), sim.cluster.partition(TOPIC, 0).records().len())]);
    let got = consume(&mut sim, &want, Duration::from_secs(60));
    check_exact(&got, &tp(0), &sim.cluster.partition(TOPIC, 0).all_records());
    assert_eq!((fetches(&sim, 2), fetches(&sim, 3)), (0, 0));
}

#[test]
fn the_follower_going_down_sends_the_consumer_back_to_the_leader_with_nothing_lost() {
    for seed in 0..8 {
        let mut sim = racked_sim(
            racked_cluster(seed, 10),
            config(seed).with_client_rack("r3"),
            seed,
        );
        sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
        let mut got = Delivered::default();
        consume_while_appending(&mut sim, &mut got, 3);
        assert!(
            fetches(&sim, 3) > 0,
            "seed {seed}: the follower was never read"
        );
        sim.cluster.set_down(3, true);
        let before = (fetches(&sim, 1), fetches(&sim, 2));
        consume_while_appending(&mut sim, &mut got, 3);
        check_all(&sim, &got);
        let after = (fetches(&sim, 1), fetches(&sim, 2));
        assert!(after.0 > before.0 && after.1 > before.1, "seed {seed}");
    }
}

#[test]
fn the_consumer_returns_to_the_follower_once_the_metadata_age_passes() {
    let seed = 5;
    let config = config(seed)
        .with_client_rack("r3")
        .with_metadata_max_age(Duration::from_secs(5));
    let mut sim = racked_sim(racked_cluster(seed, 10), config, seed);
    sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
    let mut got = Delivered::default();
    consume_while_appending(&mut sim, &mut got, 2);
    sim.cluster.set_down(3, true);
    consume_while_appending(&mut sim, &mut got, 2);
    sim.cluster.set_down(3, false);
    let back = fetches(&sim, 3);
    sim.run_for(Duration::from_secs(20));
    consume_while_appending(&mut sim, &mut got, 3);
    check_all(&sim, &got);
    assert!(fetches(&sim, 3) > back, "the follower was not read again");
}

#[test]
fn out_of_range_from_the_follower_goes_back_to_the_leader_without_a_reset() {
    for seed in 0..8 {
        let mut sim = racked_sim(
            racked_cluster(seed, 10),
            config(seed).with_client_rack("r3"),
            seed,
        );
        sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
        let mut got = Delivered::default();
        consume_while_appending(&mut sim, &mut got, 2);
        assert!(
            fetches(&sim, 3) > 0,
            "seed {seed}: the follower was never read"
        );
        // The follower loses its log: the consumer's positions are past its end. An
        // earliest reset would hand out every record again, which `Delivered` refuses.
        for p in 0..2 {
            sim.cluster.set_follower_end(TOPIC, p, 3, Some(0));
        }
        let before = (fetches(&sim, 1), fetches(&sim, 2));
        consume_while_appending(&mut sim, &mut got, 3);
        check_all(&sim, &got);
        let after = (fetches(&sim, 1), fetches(&sim, 2));
        assert!(after.0 > before.0 && after.1 > before.1, "seed {seed}");
    }
}

/// Three members of a group, one per rack (or without racks), on six partitions with one
/// replica each, led by brokers 1, 2, 3, 1, 2, 3 in racks r1, r2, r3: what each member got,
/// with its rack.
fn group_assignment(with_racks: bool) -> Vec<(&'static str, Vec<TopicPartition>)> {
    let mut cluster = Cluster::new(3, 9);
    for b in 1..=3 {
        cluster.set_rack(b, &format!("r{b}"));
    }
    cluster.create_topic(TOPIC, 6);
    let mut sim = GroupSim::new(cluster, "g");
    let racks = ["r1", "r2", "r3"];
    for (i, rack) in racks.iter().enumerate() {
        let mut config = config(i as u64).with_group_id("g");
        if with_racks {
            config = config.with_client_rack(*rack);
        }
        let mut consumer = Consumer::new(config);
        consumer.subscribe(sim.now, [TOPIC]).unwrap();
        sim.add(consumer);
    }
    let all: BTreeSet<TopicPartition> = (0..6).map(tp).collect();
    sim.run_until(Duration::from_secs(60), |s| s.settled(&all));
    racks
        .iter()
        .enumerate()
        .map(|(slot, rack)| (*rack, sim.member(slot).consumer.assignment()))
        .collect()
}

/// The rack of the broker leading `tp` in [`group_assignment`]'s cluster.
fn leader_rack(tp: &TopicPartition) -> String {
    format!("r{}", tp.partition() % 3 + 1)
}

#[test]
fn a_group_whose_members_name_their_racks_gets_rack_local_partitions_from_range() {
    for (rack, assigned) in group_assignment(true) {
        assert_eq!(assigned.len(), 2, "{rack}: {assigned:?}");
        for tp in &assigned {
            assert_eq!(leader_rack(tp), rack, "{tp} given to the member in {rack}");
        }
    }
    // Without racks, range hands out contiguous ranges, which cross racks here.
    let plain = group_assignment(false);
    assert!(plain
        .iter()
        .any(|(rack, assigned)| assigned.iter().any(|tp| leader_rack(tp) != *rack)));
}

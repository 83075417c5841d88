//! The consumer machine against the simulated cluster, in virtual time: delivery exactly once
//! and in order, crash and resume from the committed offset, read_committed with and without
//! the broker's aborted-transaction list, faults, and every request version.

use std::collections::BTreeMap;
use std::time::Duration;

use dekaf_proto::records::Compression;
use dekaf_proto::ApiKey;
use dekaf_state::consumer::{
    Consumer, ConsumerConfig, ConsumerEvent, ConsumerRecord, IsolationLevel, MetadataProblem,
};
use dekaf_state::offset::{AckMode, AutoOffsetReset, Event, OffsetCommitMode, Rng, TopicPartition};
use dekaf_tests::sim::{Cluster, Faults, Sim, SimRecord};

const TOPIC: &str = "my-topic";
const GROUP: &str = "my-group";
const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Lz4,
    Compression::Zstd,
    Compression::Snappy,
];

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new(TOPIC, p)
}

fn config(seed: u64) -> ConsumerConfig {
    ConsumerConfig::new()
        .with_group_id(GROUP)
        .with_auto_offset_reset(AutoOffsetReset::Earliest)
        .with_seed(seed)
}

fn faults() -> Faults {
    Faults {
        disconnect: 0.03,
        timeout: 0.02,
        not_coordinator: 0.05,
        load_in_progress: 0.05,
        leader_move: 0.03,
        partial_batch: 0.3,
        ..Faults::default()
    }
}

/// What the application got, per partition.
#[derive(Default, Debug)]
struct Delivered {
    by_partition: BTreeMap<TopicPartition, Vec<ConsumerRecord>>,
}

impl Delivered {
    fn add(&mut self, records: Vec<ConsumerRecord>) {
        for r in records {
            let list = self.by_partition.entry(r.topic_partition.clone()).or_default();
            if let Some(last) = list.last() {
                assert!(
                    r.offset > last.offset,
                    "{}: {} handed out after {}",
                    r.topic_partition,
                    r.offset,
                    last.offset
                );
            }
            list.push(r);
        }
    }

    fn offsets(&self, tp: &TopicPartition) -> Vec<i64> {
        self.by_partition
            .get(tp)
            .map(|rs| rs.iter().map(|r| r.offset).collect())
            .unwrap_or_default()
    }

    fn count(&self, tp: &TopicPartition) -> usize {
        self.by_partition.get(tp).map_or(0, Vec::len)
    }
}

/// Takes records (at most `per_poll` at a time) until `want` of them arrived per partition.
fn consume(sim: &mut Sim, want: &BTreeMap<TopicPartition, usize>, max: Duration) -> Delivered {
    let mut got = Delivered::default();
    sim.run_until(max, |sim| {
        let records = sim.consumer.poll_records(sim.now, 37);
        got.add(records);
        want.iter().all(|(tp, n)| got.count(tp) >= *n)
    });
    got
}

/// Checks that `got` is exactly `expected` for `tp`, in order, with the right contents.
fn check_exact(got: &Delivered, tp: &TopicPartition, expected: &[&SimRecord]) {
    let records = got.by_partition.get(tp).map(Vec::as_slice).unwrap_or_default();
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    let want: Vec<i64> = expected.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, want, "{tp}: delivered offsets");
    for (r, e) in records.iter().zip(expected) {
        assert_eq!(r.value.as_ref(), Some(&e.value), "{tp}@{}", r.offset);
        assert_eq!(r.timestamp, e.timestamp, "{tp}@{}", r.offset);
        let key = format!("k{}", r.offset);
        assert_eq!(r.key.as_deref(), Some(key.as_bytes()));
        // The cluster puts one header on every record whose offset is a multiple of 3.
        assert_eq!(r.headers.len(), usize::from(r.offset % 3 == 0), "{tp}@{}", r.offset);
        if let Some(h) = r.headers.first() {
            assert_eq!((&h.key[..], h.value.as_deref()), (&b"h"[..], Some(&b"v"[..])));
        }
    }
}

/// Keeps taking records for `d` of virtual time.
fn keep_polling(sim: &mut Sim, got: &mut Delivered, d: Duration) {
    let until = sim.now + d;
    sim.run_until(d + Duration::from_secs(1), |sim| {
        got.add(sim.consumer.poll_records(sim.now, 100));
        sim.now >= until
    });
}

fn non_commit_events(sim: &Sim) -> Vec<&ConsumerEvent> {
    sim.events
        .iter()
        .filter(|e| !matches!(e, ConsumerEvent::Offset(Event::CommitFinished { result: Ok(()), .. })))
        .collect()
}

/// Fills partitions with batches of varied sizes and codecs.
fn fill(cluster: &mut Cluster, partitions: i32, batches: usize) {
    for p in 0..partitions {
        for i in 0..batches {
            let n = 1 + cluster.below(8) as usize;
            cluster.append(TOPIC, p, n, CODECS[i % CODECS.len()], None);
        }
    }
}

#[test]
fn every_record_once_in_order_without_faults() {
    let mut cluster = Cluster::new(3, 1);
    cluster.create_topic(TOPIC, 3);
    fill(&mut cluster, 3, 20);
    let mut sim = Sim::new(cluster, Consumer::new(config(1)), 1);
    sim.consumer.assign(sim.now, (0..3).map(tp)).unwrap();
    let want: BTreeMap<_, _> = (0..3)
        .map(|p| (tp(p), sim.cluster.partition(TOPIC, p).records.len()))
        .collect();
    let got = consume(&mut sim, &want, Duration::from_secs(60));
    for p in 0..3 {
        check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).all_records());
    }
    assert!(non_commit_events(&sim).is_empty(), "{:?}", sim.events);
}

/// Records keep arriving while the consumer runs under every fault; each is handed out once,
/// in order, and Manual commits land in the cluster.
#[test]
fn every_record_once_in_order_under_faults() {
    for seed in 0..24 {
        let mut cluster = Cluster::new(3, seed);
        cluster.faults = faults();
        cluster.create_topic(TOPIC, 4);
        fill(&mut cluster, 4, 5);
        let consumer = Consumer::new(
            config(seed)
                .with_commit_mode(OffsetCommitMode::Manual)
                .with_max_buffered_bytes(2_000),
        );
        let mut sim = Sim::new(cluster, consumer, seed);
        sim.consumer.assign(sim.now, (0..4).map(tp)).unwrap();
        let mut got = Delivered::default();
        let mut produced = 0;
        let mut rng = Rng::new(seed);
        sim.run_until(Duration::from_secs(3_600), |sim| {
            if produced < 60 && rng.next_u64() % 4 == 0 {
                let p = (rng.next_u64() % 4) as i32;
                let n = 1 + (rng.next_u64() % 5) as usize;
                sim.cluster.append(TOPIC, p, n, CODECS[produced % 5], None);
                produced += 1;
            }
            got.add(sim.consumer.poll_records(sim.now, 1 + (rng.next_u64() % 50) as usize));
            if rng.next_u64() % 10 == 0 {
                sim.consumer.commit(sim.now).unwrap();
            }
            produced >= 60
                && (0..4).all(|p| got.count(&tp(p)) == sim.cluster.partition(TOPIC, p).records.len())
        });
        for p in 0..4 {
            check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).all_records());
        }
        // A last commit, retried through the faults, lands.
        let id = sim.consumer.commit(sim.now).unwrap();
        sim.run_until(Duration::from_secs(120), |sim| {
            sim.events.iter().any(|e| matches!(e, ConsumerEvent::Offset(Event::CommitFinished { id: i, .. }) if *i == id))
        });
        let result = sim.events.iter().find_map(|e| match e {
            ConsumerEvent::Offset(Event::CommitFinished { id: i, result, .. }) if *i == id => Some(result.clone()),
            _ => None,
        });
        assert_eq!(result, Some(Ok(())), "seed {seed}");
        for p in 0..4 {
            assert_eq!(
                sim.cluster.committed_offset(GROUP, TOPIC, p),
                Some(sim.cluster.partition(TOPIC, p).end),
                "seed {seed}, partition {p}"
            );
        }
    }
}

/// Manual mode, commit after processing; a crash at a random moment; the next consumer starts
/// at the committed offset and hands out exactly the records from there on.
#[test]
fn a_restarted_consumer_resumes_at_the_committed_offset() {
    let mut mid_way = 0;
    for seed in 0..40 {
        let mut cluster = Cluster::new(2, seed);
        cluster.faults = faults();
        cluster.create_topic(TOPIC, 2);
        fill(&mut cluster, 2, 12);
        let manual = || {
            Consumer::new(
                config(seed)
                    .with_commit_mode(OffsetCommitMode::Manual)
                    .with_max_buffered_bytes(1_500),
            )
        };
        let mut sim = Sim::new(cluster, manual(), seed);
        sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
        let mut rng = Rng::new(seed ^ 77);
        let total: usize = (0..2).map(|p| sim.cluster.partition(TOPIC, p).records.len()).sum();
        let crash_after = (rng.next_u64() % total as u64) as usize;
        let mut first = Delivered::default();
        sim.run_until(Duration::from_secs(600), |sim| {
            let batch = sim.consumer.poll_records(sim.now, 1 + (rng.next_u64() % 9) as usize);
            let some = !batch.is_empty();
            first.add(batch);
            // Processed: commit (not always, and the answer is not waited for).
            if some && rng.next_u64() % 3 == 0 {
                sim.consumer.commit(sim.now).unwrap();
            }
            (0..2).map(|p| first.count(&tp(p))).sum::<usize>() >= crash_after
        });
        let handed: usize = (0..2).map(|p| first.count(&tp(p))).sum();
        if handed > 0 && handed < total {
            mid_way += 1;
        }
        // Crash: the machine and everything in flight are gone.
        sim.restart(manual());
        sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
        let mut starts = BTreeMap::new();
        let mut want = BTreeMap::new();
        for p in 0..2 {
            let part = sim.cluster.partition(TOPIC, p);
            let start = sim.cluster.committed_offset(GROUP, TOPIC, p).unwrap_or(part.log_start);
            starts.insert(tp(p), start);
            want.insert(tp(p), part.records.iter().filter(|r| r.offset >= start).count());
        }
        let second = consume(&mut sim, &want, Duration::from_secs(600));
        for p in 0..2 {
            let start = starts[&tp(p)];
            let expected: Vec<&SimRecord> = sim
                .cluster
                .partition(TOPIC, p)
                .records
                .iter()
                .filter(|r| r.offset >= start)
                .collect();
            check_exact(&second, &tp(p), &expected);
            // Exactly the uncommitted records are handed out again.
            let again: Vec<i64> = first.offsets(&tp(p)).into_iter().filter(|o| *o >= start).collect();
            let second_offsets = second.offsets(&tp(p));
            assert_eq!(second_offsets.get(..again.len()).unwrap_or_default(), &again[..], "seed {seed}");
            assert!(first.offsets(&tp(p)).iter().filter(|o| **o < start).all(|o| !second_offsets.contains(o)));
        }
    }
    assert!(mid_way >= 30, "only {mid_way} runs crashed in the middle");
}

/// Writes a random mix of plain and transactional batches (several producers at once,
/// committed and aborted, compressed), leaving producer 999's transaction open at the end.
fn transactional_log(cluster: &mut Cluster, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut open: Vec<i64> = Vec::new();
    let mut next_pid = 100;
    for step in 0..80 {
        let p = (rng.next_u64() % 2) as i32;
        let codec = CODECS[step % CODECS.len()];
        match rng.next_u64() % 5 {
            0 => cluster.append(TOPIC, p, 1 + (rng.next_u64() % 4) as usize, codec, None),
            1 => {
                open.push(next_pid);
                cluster.append(TOPIC, p, 1 + (rng.next_u64() % 4) as usize, codec, Some(next_pid));
                next_pid += 1;
            }
            2 | 3 if !open.is_empty() => {
                let i = (rng.next_u64() % open.len() as u64) as usize;
                cluster.append(TOPIC, p, 1 + (rng.next_u64() % 4) as usize, codec, Some(open[i]));
            }
            _ if !open.is_empty() => {
                let i = (rng.next_u64() % open.len() as u64) as usize;
                let pid = open.remove(i);
                cluster.end_txn(pid, rng.next_u64() % 2 == 0);
            }
            _ => {}
        }
    }
    for pid in open {
        cluster.end_txn(pid, rng.next_u64() % 2 == 0);
    }
    // One transaction still open: nothing from its first record on may be read yet.
    cluster.append(TOPIC, 0, 3, Compression::None, Some(999));
    cluster.append(TOPIC, 0, 2, Compression::None, None);
}

fn read_committed(list_aborted: bool, ignore_lso: bool) {
    for seed in 0..16 {
        let mut cluster = Cluster::new(2, seed);
        cluster.faults = Faults {
            list_aborted,
            ignore_lso,
            partial_batch: 0.3,
            disconnect: 0.02,
            leader_move: 0.02,
            ..Faults::default()
        };
        cluster.create_topic(TOPIC, 2);
        transactional_log(&mut cluster, seed);
        let aborted: usize = (0..2)
            .map(|p| sim_aborted(cluster.partition(TOPIC, p).records.as_slice()))
            .sum();
        assert!(aborted > 0 || seed > 3, "the log should have aborted records");
        let consumer = Consumer::new(
            config(seed)
                .with_isolation_level(IsolationLevel::ReadCommitted)
                .with_max_buffered_bytes(3_000),
        );
        let mut sim = Sim::new(cluster, consumer, seed);
        sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
        let want: BTreeMap<_, _> = (0..2)
            .map(|p| (tp(p), sim.cluster.partition(TOPIC, p).committed_records().len()))
            .collect();
        let mut got = consume(&mut sim, &want, Duration::from_secs(600));
        for p in 0..2 {
            check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).committed_records());
        }
        // Nothing past the open transaction comes out while it stays open.
        keep_polling(&mut sim, &mut got, Duration::from_secs(20));
        for p in 0..2 {
            check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).committed_records());
        }
        // It commits: its records and those behind it follow.
        sim.cluster.end_txn(999, true);
        let want: BTreeMap<_, _> = (0..2)
            .map(|p| (tp(p), sim.cluster.partition(TOPIC, p).committed_records().len()))
            .collect();
        sim.run_until(Duration::from_secs(600), |sim| {
            got.add(sim.consumer.poll_records(sim.now, 37));
            want.iter().all(|(tp, n)| got.count(tp) >= *n)
        });
        for p in 0..2 {
            check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).committed_records());
        }
    }
}

fn sim_aborted(records: &[SimRecord]) -> usize {
    records
        .iter()
        .filter(|r| r.txn == dekaf_tests::sim::Txn::Aborted)
        .count()
}

#[test]
fn read_committed_with_the_aborted_list() {
    read_committed(true, false);
}

#[test]
fn read_committed_from_markers_alone() {
    read_committed(false, false);
}

#[test]
fn read_committed_stops_at_the_last_stable_offset_itself() {
    read_committed(false, true);
}

#[test]
fn read_uncommitted_hands_out_every_data_record() {
    let mut cluster = Cluster::new(2, 5);
    cluster.create_topic(TOPIC, 2);
    transactional_log(&mut cluster, 5);
    let mut sim = Sim::new(cluster, Consumer::new(config(5)), 5);
    sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
    let want: BTreeMap<_, _> = (0..2)
        .map(|p| (tp(p), sim.cluster.partition(TOPIC, p).all_records().len()))
        .collect();
    let got = consume(&mut sim, &want, Duration::from_secs(600));
    for p in 0..2 {
        check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).all_records());
    }
}

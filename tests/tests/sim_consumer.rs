//! The consumer machine against the simulated cluster, in virtual time: delivery exactly once
//! and in order, crash and resume from the committed offset, read_committed with and without
//! the broker's aborted-transaction list, faults, and every request version.

use std::collections::BTreeMap;
use std::time::Duration;

use dekaf_proto::records::Compression;
use dekaf_proto::ApiKey;
use dekaf_sim::{check_exact, consume, keep_polling, Cluster, Delivered, Faults, Record, Sim};
use dekaf_state::consumer::{
    Consumer, ConsumerConfig, ConsumerEvent, IsolationLevel, MetadataProblem,
};
use dekaf_state::offset::{AckMode, AutoOffsetReset, Event, OffsetCommitMode, Rng, TopicPartition};

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
    dekaf_tests::init_logging();
    ConsumerConfig::new()
        .with_group_id(GROUP)
        .with_auto_offset_reset(AutoOffsetReset::Earliest)
        .with_seed(seed)
}

fn faults() -> Faults {
    Faults {
        disconnect: 0.03,
        unanswered: 0.02,
        coordinator_moves: 0.05,
        load_in_progress: 0.05,
        leader_move: 0.03,
        partial_batch: 0.3,
        ..Faults::default()
    }
}

fn non_commit_events(sim: &Sim) -> Vec<&ConsumerEvent> {
    sim.events
        .iter()
        .filter(|e| {
            !matches!(
                e,
                ConsumerEvent::Offset(Event::CommitFinished { result: Ok(()), .. })
            )
        })
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
        .map(|p| (tp(p), sim.cluster.partition(TOPIC, p).records().len()))
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
            got.add(
                sim.consumer
                    .poll_records(sim.now, 1 + (rng.next_u64() % 50) as usize),
            );
            if rng.next_u64() % 10 == 0 {
                sim.consumer.commit(sim.now).unwrap();
            }
            produced >= 60
                && (0..4)
                    .all(|p| got.count(&tp(p)) == sim.cluster.partition(TOPIC, p).records().len())
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
            ConsumerEvent::Offset(Event::CommitFinished { id: i, result, .. }) if *i == id => {
                Some(result.clone())
            }
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
        let total: usize = (0..2)
            .map(|p| sim.cluster.partition(TOPIC, p).records().len())
            .sum();
        let crash_after = (rng.next_u64() % total as u64) as usize;
        let mut first = Delivered::default();
        sim.run_until(Duration::from_secs(600), |sim| {
            let batch = sim
                .consumer
                .poll_records(sim.now, 1 + (rng.next_u64() % 9) as usize);
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
            let start = sim
                .cluster
                .committed_offset(GROUP, TOPIC, p)
                .unwrap_or(part.log_start);
            starts.insert(tp(p), start);
            want.insert(
                tp(p),
                part.records().iter().filter(|r| r.offset >= start).count(),
            );
        }
        let second = consume(&mut sim, &want, Duration::from_secs(600));
        for p in 0..2 {
            let start = starts[&tp(p)];
            let expected: Vec<&Record> = sim
                .cluster
                .partition(TOPIC, p)
                .records()
                .into_iter()
                .filter(|r| r.offset >= start)
                .collect();
            check_exact(&second, &tp(p), &expected);
            // Exactly the uncommitted records are handed out again.
            let again: Vec<i64> = first
                .offsets(&tp(p))
                .into_iter()
                .filter(|o| *o >= start)
                .collect();
            let second_offsets = second.offsets(&tp(p));
            assert_eq!(
                second_offsets.get(..again.len()).unwrap_or_default(),
                &again[..],
                "seed {seed}"
            );
            assert!(first
                .offsets(&tp(p))
                .iter()
                .filter(|o| **o < start)
                .all(|o| !second_offsets.contains(o)));
        }
    }
    assert!(mid_way >= 30, "only {mid_way} runs crashed in the middle");
}

/// Writes a random mix of plain and transactional batches (several producers at once,
/// committed and aborted, compressed), leaving producer 999's transaction open at the end.
fn transactional_log(cluster: &mut Cluster, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut open: Vec<i64> = Vec::new();
    for step in 0..80 {
        let p = (rng.next_u64() % 2) as i32;
        let codec = CODECS[step % CODECS.len()];
        match rng.next_u64() % 5 {
            0 => cluster.append(TOPIC, p, 1 + (rng.next_u64() % 4) as usize, codec, None),
            1 => {
                // Producers run one transaction after another: ids come back.
                let pid = 100 + (rng.next_u64() % 4) as i64;
                if !open.contains(&pid) {
                    open.push(pid);
                }
                cluster.append(
                    TOPIC,
                    p,
                    1 + (rng.next_u64() % 4) as usize,
                    codec,
                    Some(pid),
                );
            }
            2 | 3 if !open.is_empty() => {
                let i = (rng.next_u64() % open.len() as u64) as usize;
                cluster.append(
                    TOPIC,
                    p,
                    1 + (rng.next_u64() % 4) as usize,
                    codec,
                    Some(open[i]),
                );
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
            .map(|p| sim_aborted(cluster.partition(TOPIC, p).records().as_slice()))
            .sum();
        assert!(
            aborted > 0 || seed > 3,
            "the log should have aborted records"
        );
        let consumer = Consumer::new(
            config(seed)
                .with_isolation_level(IsolationLevel::ReadCommitted)
                .with_max_buffered_bytes(3_000)
                // Small answers: transactions span several of them.
                .with_max_partition_fetch_bytes(1 + (seed as usize % 3) * 150),
        );
        let mut sim = Sim::new(cluster, consumer, seed);
        sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
        let want: BTreeMap<_, _> = (0..2)
            .map(|p| {
                (
                    tp(p),
                    sim.cluster.partition(TOPIC, p).committed_records().len(),
                )
            })
            .collect();
        let mut got = consume(&mut sim, &want, Duration::from_secs(600));
        for p in 0..2 {
            check_exact(
                &got,
                &tp(p),
                &sim.cluster.partition(TOPIC, p).committed_records(),
            );
        }
        // Nothing past the open transaction comes out while it stays open.
        keep_polling(&mut sim, &mut got, Duration::from_secs(20));
        for p in 0..2 {
            check_exact(
                &got,
                &tp(p),
                &sim.cluster.partition(TOPIC, p).committed_records(),
            );
        }
        // It commits: its records and those behind it follow.
        sim.cluster.end_txn(999, true);
        let want: BTreeMap<_, _> = (0..2)
            .map(|p| {
                (
                    tp(p),
                    sim.cluster.partition(TOPIC, p).committed_records().len(),
                )
            })
            .collect();
        sim.run_until(Duration::from_secs(600), |sim| {
            got.add(sim.consumer.poll_records(sim.now, 37));
            want.iter().all(|(tp, n)| got.count(tp) >= *n)
        });
        for p in 0..2 {
            check_exact(
                &got,
                &tp(p),
                &sim.cluster.partition(TOPIC, p).committed_records(),
            );
        }
    }
}

fn sim_aborted(records: &[&Record]) -> usize {
    records
        .iter()
        .filter(|r| r.txn == dekaf_sim::Txn::Aborted)
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

/// One run that touches every request: assign, fetch, commit, look up, list, seek, query.
fn everything(seed: u64, isolation: IsolationLevel) -> Cluster {
    let mut cluster = Cluster::new(2, seed);
    cluster.faults = Faults {
        coordinator_moves: 0.1,
        load_in_progress: 0.1,
        leader_move: 0.05,
        ..Faults::default()
    };
    cluster.create_topic(TOPIC, 2);
    transactional_log(&mut cluster, seed);
    let consumer = Consumer::new(config(seed).with_isolation_level(isolation));
    let mut sim = Sim::new(cluster, consumer, seed);
    let now = sim.now;
    sim.consumer.assign(now, (0..2).map(tp)).unwrap();
    let mut got = Delivered::default();
    keep_polling(&mut sim, &mut got, Duration::from_secs(3));
    let now = sim.now;
    sim.consumer.commit(now).unwrap();
    sim.consumer.fetch_committed(now, [tp(0), tp(1)]).unwrap();
    sim.consumer
        .offsets_for_times(
            now,
            [dekaf_state::offset::TopicPartitionTimestamp::new(
                TOPIC,
                1,
                dekaf_sim::T0 + 100,
            )],
        )
        .unwrap();
    sim.consumer.query_watermarks(now, [tp(0), tp(1)]).unwrap();
    sim.consumer.seek_to_beginning(now, [tp(0)]).unwrap();
    sim.consumer.seek_to_end(now, [tp(1)]).unwrap();
    keep_polling(&mut sim, &mut Delivered::default(), Duration::from_secs(3));
    sim.cluster
}

#[test]
fn every_version_of_every_request_is_written_and_read() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let isolation = if seed % 4 == 0 {
            IsolationLevel::ReadCommitted
        } else {
            IsolationLevel::ReadUncommitted
        };
        seen.extend(everything(seed, isolation).versions);
    }
    let mut probe = Cluster::new(1, 0);
    probe.versions = seen;
    let missing = probe.missing_versions(&[
        (ApiKey::Metadata, 1, 12),
        (ApiKey::FindCoordinator, 0, 6),
        (ApiKey::OffsetCommit, 2, 9),
        (ApiKey::OffsetFetch, 1, 9),
        (ApiKey::ListOffsets, 1, 9),
        (ApiKey::Fetch, 4, 17),
    ]);
    assert!(missing.is_empty(), "never exercised: {missing:?}");
}

#[test]
fn a_static_member_commits_with_version_7_or_later() {
    let mut cluster = Cluster::new(1, 3);
    cluster.create_topic(TOPIC, 1);
    fill(&mut cluster, 1, 3);
    let mut sim = Sim::new(
        cluster,
        Consumer::new(config(3).with_commit_mode(OffsetCommitMode::Manual)),
        3,
    );
    sim.consumer
        .set_generation(dekaf_state::consumer::GroupGeneration {
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: Some("instance-1".into()),
        });
    sim.consumer.assign(sim.now, [tp(0)]).unwrap();
    for _ in 0..20 {
        let now = sim.now;
        sim.consumer
            .commit_offsets(
                now,
                [dekaf_state::offset::TopicPartitionOffset::new(TOPIC, 0, 1)],
            )
            .unwrap();
        sim.run_for(Duration::from_millis(50));
    }
    let commits: Vec<i16> = sim
        .cluster
        .versions
        .iter()
        .filter(|(api, _)| *api == ApiKey::OffsetCommit.key())
        .map(|(_, v)| *v)
        .collect();
    assert!(!commits.is_empty());
    assert!(commits.iter().all(|v| *v >= 7), "{commits:?}");
}

#[test]
fn out_of_range_resets_by_auto_offset_reset() {
    for reset in [AutoOffsetReset::Earliest, AutoOffsetReset::None] {
        let mut cluster = Cluster::new(1, 4);
        cluster.create_topic(TOPIC, 1);
        fill(&mut cluster, 1, 10);
        // The group committed 2, then retention removed everything below 12.
        cluster.committed.entry(GROUP.into()).or_default().insert(
            (TOPIC.into(), 0),
            dekaf_sim::Committed {
                offset: 2,
                leader_epoch: -1,
                metadata: None,
            },
        );
        cluster.delete_records(TOPIC, 0, 12);
        let consumer = Consumer::new(config(4).with_auto_offset_reset(reset));
        let mut sim = Sim::new(cluster, consumer, 4);
        sim.consumer.assign(sim.now, [tp(0)]).unwrap();
        match reset {
            AutoOffsetReset::Earliest => {
                let want =
                    BTreeMap::from([(tp(0), sim.cluster.partition(TOPIC, 0).all_records().len())]);
                let got = consume(&mut sim, &want, Duration::from_secs(60));
                assert_eq!(got.offsets(&tp(0)).first(), Some(&12));
                check_exact(&got, &tp(0), &sim.cluster.partition(TOPIC, 0).all_records());
            }
            _ => {
                sim.run_for(Duration::from_secs(5));
                assert!(
                    sim.events.iter().any(|e| matches!(
                        e,
                        ConsumerEvent::Offset(Event::PositionFailed {
                            error: dekaf_state::offset::PositionError::OutOfRange { offset: 2 },
                            ..
                        })
                    )),
                    "{:?}",
                    sim.events
                );
                assert_eq!(sim.consumer.position(&tp(0)), None);
            }
        }
    }
}

#[test]
fn a_leader_move_refreshes_metadata_and_loses_nothing() {
    let mut cluster = Cluster::new(3, 6);
    cluster.create_topic(TOPIC, 2);
    fill(&mut cluster, 2, 10);
    let mut sim = Sim::new(cluster, Consumer::new(config(6)), 6);
    sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
    let mut got = Delivered::default();
    let before = sim.consumer.leader(&tp(0));
    let mut moved = 0;
    sim.run_until(Duration::from_secs(120), |sim| {
        got.add(sim.consumer.poll_records(sim.now, 3));
        if moved < 5 && got.count(&tp(0)) == sim.cluster.partition(TOPIC, 0).records().len() {
            sim.cluster.move_leader(TOPIC, 0);
            sim.cluster.append(TOPIC, 0, 4, Compression::Lz4, None);
            moved += 1;
        }
        moved == 5
            && (0..2).all(|p| got.count(&tp(p)) == sim.cluster.partition(TOPIC, p).records().len())
    });
    for p in 0..2 {
        check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).all_records());
    }
    let after = sim.consumer.leader(&tp(0)).unwrap();
    assert_ne!(Some(after), before);
    // Metadata below v7 carries no leader epoch.
    assert!(
        after.1 == 5 || after.1 == -1,
        "leader epoch {} after five moves",
        after.1
    );
    // Each move is noticed (NOT_LEADER_OR_FOLLOWER from the old leader) and refreshed.
    assert!(
        sim.cluster.counts[&ApiKey::Metadata.key()] > 5,
        "{:?}",
        sim.cluster.counts
    );
}

#[test]
fn an_unknown_topic_is_reported_once_and_read_once_it_exists() {
    let mut cluster = Cluster::new(1, 7);
    cluster.create_topic("other", 1);
    let mut sim = Sim::new(cluster, Consumer::new(config(7)), 7);
    sim.consumer.assign(sim.now, [tp(0)]).unwrap();
    sim.run_for(Duration::from_secs(10));
    let problems: Vec<_> = sim
        .events
        .iter()
        .filter(|e| matches!(e, ConsumerEvent::Metadata(_)))
        .collect();
    assert_eq!(
        problems,
        [&ConsumerEvent::Metadata(MetadataProblem::Topic {
            topic: TOPIC.into(),
            code: dekaf_proto::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        })]
    );
    sim.cluster.create_topic(TOPIC, 1);
    fill(&mut sim.cluster, 1, 3);
    let want = BTreeMap::from([(tp(0), sim.cluster.partition(TOPIC, 0).records().len())]);
    let got = consume(&mut sim, &want, Duration::from_secs(60));
    check_exact(&got, &tp(0), &sim.cluster.partition(TOPIC, 0).all_records());
}

#[test]
fn buffered_data_stays_near_the_bound() {
    let mut cluster = Cluster::new(2, 8);
    cluster.create_topic(TOPIC, 4);
    fill(&mut cluster, 4, 40);
    let bound = 2_000;
    let partition_max = 400;
    let consumer = Consumer::new(
        config(8)
            .with_max_buffered_bytes(bound)
            .with_max_partition_fetch_bytes(partition_max),
    );
    let mut sim = Sim::new(cluster, consumer, 8);
    sim.consumer.assign(sim.now, (0..4).map(tp)).unwrap();
    let mut got = Delivered::default();
    let mut peak = 0;
    let mut last_take = sim.now;
    sim.run_until(Duration::from_secs(600), |sim| {
        peak = peak.max(sim.consumer.buffered_bytes());
        // A slow application: one record every 20 ms.
        if sim.now >= last_take + Duration::from_millis(20) {
            last_take = sim.now;
            got.add(sim.consumer.poll_records(sim.now, 1));
        }
        if std::env::var_os("DEBUG_SIM").is_some() {
            eprintln!(
                "{:?} {} {:?}",
                sim.now,
                sim.consumer.buffered_bytes(),
                (0..4).map(|p| got.count(&tp(p))).collect::<Vec<_>>()
            );
        }
        (0..4).all(|p| got.count(&tp(p)) == sim.cluster.partition(TOPIC, p).records().len())
    });
    for p in 0..4 {
        check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).all_records());
    }
    // At most one answer per partition beyond the bound, each at most the limit plus a batch.
    assert!(
        peak > 0 && peak <= bound + 4 * (partition_max + 600),
        "peak {peak}"
    );
}

#[test]
fn paused_partitions_are_neither_fetched_nor_handed_out() {
    let mut cluster = Cluster::new(2, 9);
    cluster.create_topic(TOPIC, 2);
    fill(&mut cluster, 2, 6);
    let mut sim = Sim::new(cluster, Consumer::new(config(9)), 9);
    sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
    sim.consumer.pause([tp(0)]).unwrap();
    assert_eq!(sim.consumer.paused(), [tp(0)]);
    let mut got = Delivered::default();
    let want1 = sim.cluster.partition(TOPIC, 1).records().len();
    sim.run_until(Duration::from_secs(30), |sim| {
        got.add(sim.consumer.poll_records(sim.now, 10));
        got.count(&tp(1)) == want1
    });
    keep_polling(&mut sim, &mut got, Duration::from_secs(5));
    assert_eq!(got.count(&tp(0)), 0);
    sim.consumer.resume([tp(0)]).unwrap();
    let want0 = sim.cluster.partition(TOPIC, 0).records().len();
    sim.run_until(Duration::from_secs(30), |sim| {
        got.add(sim.consumer.poll_records(sim.now, 10));
        got.count(&tp(0)) == want0
    });
    check_exact(&got, &tp(0), &sim.cluster.partition(TOPIC, 0).all_records());
}

#[test]
fn a_seek_drops_the_answer_of_a_fetch_in_flight() {
    let mut cluster = Cluster::new(1, 10);
    cluster.create_topic(TOPIC, 1);
    fill(&mut cluster, 1, 10);
    let mut sim = Sim::new(cluster, Consumer::new(config(10)), 10);
    sim.consumer.assign(sim.now, [tp(0)]).unwrap();
    // Step until a fetch is out.
    sim.run_until(Duration::from_secs(10), |sim| {
        sim.cluster
            .counts
            .get(&ApiKey::Fetch.key())
            .is_some_and(|n| *n > 0)
    });
    let now = sim.now;
    sim.consumer
        .seek(
            now,
            dekaf_state::offset::TopicPartitionOffset::new(TOPIC, 0, 7),
        )
        .unwrap();
    let want = BTreeMap::from([(tp(0), 1)]);
    let got = consume(&mut sim, &want, Duration::from_secs(10));
    assert_eq!(got.offsets(&tp(0)).first(), Some(&7));
}

#[test]
fn the_outstanding_cap_holds_records_back_until_acknowledged() {
    let mut cluster = Cluster::new(1, 11);
    cluster.create_topic(TOPIC, 1);
    fill(&mut cluster, 1, 10);
    let consumer = Consumer::new(
        config(11)
            .with_ack_mode(AckMode::Explicit)
            .with_max_outstanding(5),
    );
    let mut sim = Sim::new(cluster, consumer, 11);
    sim.consumer.assign(sim.now, [tp(0)]).unwrap();
    let mut held = Vec::new();
    sim.run_until(Duration::from_secs(10), |sim| {
        held.extend(sim.consumer.poll_records(sim.now, 100));
        held.len() >= 5
    });
    keep_polling(&mut sim, &mut Delivered::default(), Duration::from_secs(1));
    assert_eq!(held.len(), 5);
    assert_eq!(sim.consumer.poll_records(sim.now, 100), []);
    // Out of order: the committable offset waits for the gap.
    let now = sim.now;
    sim.consumer.ack(now, &held[3]).unwrap();
    sim.consumer.ack(now, &held[1]).unwrap();
    assert_eq!(
        sim.consumer.offsets().committable(&tp(0)).unwrap().offset,
        held[0].offset
    );
    sim.consumer.ack(now, &held[0]).unwrap();
    assert_eq!(
        sim.consumer.offsets().committable(&tp(0)).unwrap().offset,
        held[2].offset
    );
    let more = sim.consumer.poll_records(now, 100);
    assert_eq!(more.len(), 3);
    assert_eq!(more[0].offset, held[4].offset + 1);
}

#[test]
fn watermarks_and_lag() {
    let mut cluster = Cluster::new(2, 12);
    cluster.create_topic(TOPIC, 2);
    fill(&mut cluster, 2, 8);
    cluster.delete_records(TOPIC, 1, 3);
    let mut sim = Sim::new(cluster, Consumer::new(config(12)), 12);
    sim.consumer.assign(sim.now, [tp(0)]).unwrap();
    let mut got = Delivered::default();
    sim.run_until(Duration::from_secs(10), |sim| {
        got.add(sim.consumer.poll_records(sim.now, 4));
        got.count(&tp(0)) >= 4
    });
    let end0 = sim.cluster.partition(TOPIC, 0).end;
    let position = sim.consumer.position(&tp(0)).unwrap();
    assert_eq!(sim.consumer.lag(&tp(0)), Some(end0 - position));
    assert_eq!(sim.consumer.watermarks(&tp(0)).high, Some(end0));
    // Partition 1 is not assigned: ask its leader.
    let id = sim.consumer.query_watermarks(sim.now, [tp(1)]).unwrap();
    sim.run_until(Duration::from_secs(10), |sim| {
        sim.events
            .iter()
            .any(|e| matches!(e, ConsumerEvent::Watermarks { query, .. } if *query == id))
    });
    let end1 = sim.cluster.partition(TOPIC, 1).end;
    let answer = sim.events.iter().find_map(|e| match e {
        ConsumerEvent::Watermarks { query, result } if *query == id => Some(result.clone()),
        _ => None,
    });
    let expected = dekaf_state::consumer::Watermarks {
        low: Some(3),
        high: Some(end1),
    };
    assert_eq!(answer, Some(Ok(vec![(tp(1), expected)])));
    assert_eq!(sim.consumer.watermarks(&tp(1)), expected);
}

#[test]
fn a_time_past_the_last_record_seeks_to_the_end_on_tansu_too() {
    for quirk in [false, true] {
        let mut cluster = Cluster::new(1, 13);
        cluster.faults.tansu_time_quirk = quirk;
        cluster.create_topic(TOPIC, 1);
        fill(&mut cluster, 1, 4);
        let end = cluster.partition(TOPIC, 0).end;
        let mut sim = Sim::new(cluster, Consumer::new(config(13)), 13);
        sim.consumer.assign(sim.now, [tp(0)]).unwrap();
        sim.run_for(Duration::from_secs(1));
        let now = sim.now;
        sim.consumer
            .seek_to_timestamp(
                now,
                [dekaf_state::offset::TopicPartitionTimestamp::new(
                    TOPIC,
                    0,
                    dekaf_sim::T0 + 1_000_000,
                )],
            )
            .unwrap();
        sim.run_for(Duration::from_secs(1));
        assert_eq!(sim.consumer.position(&tp(0)), Some(end), "quirk {quirk}");
    }
}

#[test]
fn metadata_is_refreshed_when_it_gets_old() {
    let mut cluster = Cluster::new(1, 14);
    cluster.create_topic(TOPIC, 1);
    let consumer = Consumer::new(config(14).with_metadata_max_age(Duration::from_secs(60)));
    let mut sim = Sim::new(cluster, consumer, 14);
    sim.consumer.assign(sim.now, [tp(0)]).unwrap();
    sim.run_for(Duration::from_secs(30));
    let key = ApiKey::Metadata.key();
    assert_eq!(sim.cluster.counts[&key], 1);
    sim.run_for(Duration::from_secs(60 * 5));
    assert_eq!(sim.cluster.counts[&key], 6);
}

#[test]
fn an_old_broker_is_spoken_to_in_old_versions() {
    for cap in [4, 7] {
        let mut cluster = Cluster::new(2, 15);
        cluster.faults = faults();
        cluster.create_topic(TOPIC, 2);
        transactional_log(&mut cluster, 15);
        let consumer = Consumer::new(
            config(15)
                .with_isolation_level(IsolationLevel::ReadCommitted)
                .with_commit_mode(OffsetCommitMode::Manual),
        );
        let mut sim = Sim::new(cluster, consumer, 15);
        sim.version_cap = Some(cap);
        sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
        let want: BTreeMap<_, _> = (0..2)
            .map(|p| {
                (
                    tp(p),
                    sim.cluster.partition(TOPIC, p).committed_records().len(),
                )
            })
            .collect();
        let got = consume(&mut sim, &want, Duration::from_secs(600));
        for p in 0..2 {
            check_exact(
                &got,
                &tp(p),
                &sim.cluster.partition(TOPIC, p).committed_records(),
            );
        }
        let id = sim.consumer.commit(sim.now).unwrap();
        sim.run_until(Duration::from_secs(120), |sim| {
            sim.events.iter().any(|e| matches!(e, ConsumerEvent::Offset(Event::CommitFinished { id: i, result: Ok(()), .. }) if *i == id))
        });
        assert!(
            sim.cluster.versions.iter().all(|(_, v)| *v <= cap.max(2)),
            "{:?}",
            sim.cluster.versions
        );
    }
}

#[test]
fn corrupt_answers_are_reported_and_fetched_again_without_a_gap() {
    for seed in 0..6 {
        let mut cluster = Cluster::new(2, seed);
        cluster.faults = Faults {
            corrupt: 0.3,
            partial_batch: 0.3,
            ..Faults::default()
        };
        cluster.create_topic(TOPIC, 2);
        fill(&mut cluster, 2, 15);
        let consumer = Consumer::new(config(seed).with_max_partition_fetch_bytes(300));
        let mut sim = Sim::new(cluster, consumer, seed);
        sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
        let want: BTreeMap<_, _> = (0..2)
            .map(|p| (tp(p), sim.cluster.partition(TOPIC, p).records().len()))
            .collect();
        let got = consume(&mut sim, &want, Duration::from_secs(600));
        for p in 0..2 {
            check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).all_records());
        }
        let corrupt = sim
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    ConsumerEvent::Fetch {
                        error: dekaf_state::consumer::FetchError::Corrupt { .. },
                        ..
                    }
                )
            })
            .count();
        assert!(corrupt > 0, "seed {seed}: no corrupt answer was seen");
    }
}

/// A fetch answer whose second batch overlaps the first (a base offset one too low) never
/// stops the partition: the consumer reports it, fetches again from its position, and hands
/// every record out once, in order.
#[test]
fn overlapping_batches_are_reported_and_fetched_again_without_a_gap() {
    for seed in 0..6 {
        let mut cluster = Cluster::new(2, seed);
        cluster.faults = Faults {
            overlap: 0.3,
            ..Faults::default()
        };
        cluster.create_topic(TOPIC, 2);
        fill(&mut cluster, 2, 15);
        let consumer = Consumer::new(config(seed).with_max_partition_fetch_bytes(300));
        let mut sim = Sim::new(cluster, consumer, seed);
        sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
        let want: BTreeMap<_, _> = (0..2)
            .map(|p| (tp(p), sim.cluster.partition(TOPIC, p).records().len()))
            .collect();
        let got = consume(&mut sim, &want, Duration::from_secs(600));
        for p in 0..2 {
            check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).all_records());
        }
        let reported = sim
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    ConsumerEvent::Fetch {
                        error: dekaf_state::consumer::FetchError::OutOfOrder { .. },
                        ..
                    }
                )
            })
            .count();
        assert!(reported > 0, "seed {seed}: no overlap was reported");
    }
}

/// Kafka's read_committed rule with real record batches: a producer's aborted transaction
/// hides its records from its first offset up to its ABORT marker and no further — the same
/// producer's committed transaction before it and its next transaction after it are kept, and
/// another producer's interleaved transaction is decided by its own marker. The same records
/// come out with the broker's aborted-transaction list (Kafka) and without it (tansu), reading
/// from the start or from inside the aborted transaction.
#[test]
fn an_aborted_transaction_hides_exactly_its_own_records() {
    for list_aborted in [true, false] {
        for (from, want) in [
            (None, vec![0, 1, 2, 3, 4, 8, 9, 12, 15, 16]),
            (Some(7), vec![8, 9, 12, 15, 16]),
        ] {
            let mut cluster = Cluster::new(1, 11);
            cluster.faults = Faults {
                list_aborted,
                ..Faults::default()
            };
            cluster.create_topic(TOPIC, 1);
            cluster.append(TOPIC, 0, 2, Compression::None, None); // 0-1
            cluster.append(TOPIC, 0, 3, Compression::Gzip, Some(100)); // 2-4
            cluster.end_txn(100, true); // 5
            cluster.append(TOPIC, 0, 2, Compression::None, Some(100)); // 6-7
            cluster.append(TOPIC, 0, 2, Compression::Zstd, Some(200)); // 8-9
            cluster.append(TOPIC, 0, 1, Compression::Lz4, Some(100)); // 10
            cluster.end_txn(100, false); // 11
            cluster.append(TOPIC, 0, 1, Compression::None, Some(100)); // 12
            cluster.end_txn(200, true); // 13
            cluster.end_txn(100, true); // 14
            cluster.append(TOPIC, 0, 2, Compression::None, None); // 15-16
            let consumer =
                Consumer::new(config(11).with_isolation_level(IsolationLevel::ReadCommitted));
            let mut sim = Sim::new(cluster, consumer, 11);
            sim.consumer.assign(sim.now, [tp(0)]).unwrap();
            if let Some(offset) = from {
                sim.consumer
                    .seek(
                        sim.now,
                        dekaf_state::offset::TopicPartitionOffset::at(tp(0), offset),
                    )
                    .unwrap();
            }
            let wanted = BTreeMap::from([(tp(0), want.len())]);
            let mut got = consume(&mut sim, &wanted, Duration::from_secs(60));
            keep_polling(&mut sim, &mut got, Duration::from_secs(5));
            let offsets: Vec<i64> = got.by_partition[&tp(0)].iter().map(|r| r.offset).collect();
            assert_eq!(offsets, want, "list_aborted {list_aborted}, from {from:?}");
            assert_eq!(sim.consumer.position(&tp(0)), Some(17));
        }
    }
}

/// Fetches sent to the cluster so far.
fn fetches(sim: &Sim) -> u64 {
    sim.cluster
        .counts
        .get(&ApiKey::Fetch.key())
        .copied()
        .unwrap_or(0)
}

#[test]
fn the_next_fetch_goes_out_while_records_are_taken() {
    let mut cluster = Cluster::new(1, 16);
    cluster.create_topic(TOPIC, 1);
    fill(&mut cluster, 1, 60);
    let partition_max = 600;
    let consumer = Consumer::new(config(16).with_max_partition_fetch_bytes(partition_max));
    let mut sim = Sim::new(cluster, consumer, 16);
    sim.consumer.assign(sim.now, [tp(0)]).unwrap();
    let want = sim.cluster.partition(TOPIC, 0).records().len();
    let mut got = Delivered::default();
    let (mut ahead, mut peak, mut sent, mut ready) = (0, 0, 0, false);
    sim.run_until(Duration::from_secs(600), |sim| {
        // A fetch went out while records were left to take: fetched ahead.
        if fetches(sim) > sent && ready {
            ahead += 1;
        }
        got.add(sim.consumer.poll_records(sim.now, 3));
        peak = peak.max(sim.consumer.buffered_bytes());
        sent = fetches(sim);
        ready = sim.consumer.buffered_records() > 0;
        got.count(&tp(0)) == want
    });
    check_exact(&got, &tp(0), &sim.cluster.partition(TOPIC, 0).all_records());
    assert!(ahead > 5, "fetched ahead {ahead} times");
    // About two answers (each the limit plus a batch at most), not more.
    assert!(peak <= 3 * (partition_max + 600), "peak {peak}");
}

#[test]
fn a_partition_at_its_end_does_not_hold_up_the_others() {
    // One broker leads both partitions: one fetch at a time for both.
    let mut cluster = Cluster::new(1, 17);
    cluster.create_topic(TOPIC, 2);
    for _ in 0..2 {
        cluster.append(TOPIC, 0, 3, Compression::None, None);
    }
    for i in 0..120 {
        cluster.append(TOPIC, 1, 5, CODECS[i % CODECS.len()], None);
    }
    let consumer = Consumer::new(config(17).with_max_partition_fetch_bytes(600));
    let mut sim = Sim::new(cluster, consumer, 17);
    sim.consumer.assign(sim.now, (0..2).map(tp)).unwrap();
    let want: BTreeMap<_, _> = (0..2)
        .map(|p| (tp(p), sim.cluster.partition(TOPIC, p).records().len()))
        .collect();
    let started = sim.now;
    let got = consume(&mut sim, &want, Duration::from_secs(600));
    for p in 0..2 {
        check_exact(&got, &tp(p), &sim.cluster.partition(TOPIC, p).all_records());
    }
    // Partition 0 is at its end after its first answer; a fetch of it alone would be held by
    // the broker (500 ms here) while partition 1 waits for its next answer, every time.
    let took = sim.now - started;
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// Coordinator requests travel on a connection of their own: losing the coordinator's
/// broker's other connection (fetches) keeps the coordinator and its commits; losing the
/// coordinator connection forgets it (the next commit looks it up again).
#[test]
fn only_the_coordinator_connection_closing_forgets_the_coordinator() {
    use dekaf_state::client::{ClientMachine, Destination};

    let mut cluster = Cluster::new(3, 7);
    cluster.create_topic(TOPIC, 1);
    fill(&mut cluster, 1, 3);
    let consumer = Consumer::new(config(7).with_commit_mode(OffsetCommitMode::Manual));
    let mut sim = Sim::new(cluster, consumer, 7);
    sim.consumer.assign(sim.now, [tp(0)]).unwrap();
    sim.run_until(Duration::from_secs(60), |sim| {
        sim.consumer.coordinator().is_some() && sim.consumer.position(&tp(0)).is_some()
    });
    let coordinator = sim.consumer.coordinator().expect("a coordinator");
    let now = sim.now;

    sim.consumer
        .handle_disconnected(now, Destination::Broker(coordinator));
    assert_eq!(sim.consumer.coordinator(), Some(coordinator));
    sim.consumer
        .handle_disconnected(now, Destination::AnyBroker);
    assert_eq!(sim.consumer.coordinator(), Some(coordinator));

    sim.consumer
        .handle_disconnected(now, Destination::Coordinator(coordinator));
    assert_eq!(sim.consumer.coordinator(), None);
}

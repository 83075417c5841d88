//! The offset-management guide's examples, end to end through the consumer machine and the
//! simulated cluster: auto commit, manual commit after processing, committing specific
//! offsets, the three commit strategies, committed offsets and positions, seeking to an
//! offset, the beginning or the end, and seeking by timestamp.

use std::collections::BTreeMap;
use std::time::Duration;

use dekaf_proto::records::Compression;
use dekaf_sim::{check_exact, consume, Cluster, Delivered, Sim, T0};
use dekaf_state::consumer::{Consumer, ConsumerConfig, ConsumerEvent, ConsumerRecord};
use dekaf_state::offset::{
    AutoOffsetReset, CommitId, CommitPolicy, Event, OffsetCommitMode, TopicPartition,
    TopicPartitionOffset, TopicPartitionTimestamp,
};

const TOPIC: &str = "my-topic";
const GROUP: &str = "my-group";

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new(TOPIC, p)
}

/// Two partitions of 120 records each, in batches of 4.
fn sim(config: ConsumerConfig, seed: u64) -> Sim {
    dekaf_tests::init_logging();
    let mut cluster = Cluster::new(2, seed);
    cluster.create_topic(TOPIC, 2);
    for p in 0..2 {
        for _ in 0..30 {
            cluster.append(TOPIC, p, 4, Compression::Zstd, None);
        }
    }
    let consumer = Consumer::new(
        config
            .with_group_id(GROUP)
            .with_auto_offset_reset(AutoOffsetReset::Earliest)
            .with_seed(seed),
    );
    let mut sim = Sim::new(cluster, consumer, seed);
    sim.consumer.assign(sim.now, [tp(0), tp(1)]).unwrap();
    sim
}

fn committed(sim: &Sim, p: i32) -> Option<i64> {
    sim.cluster.committed_offset(GROUP, TOPIC, p)
}

/// Runs until commit `id` finished, returning its result.
fn wait_commit(sim: &mut Sim, id: CommitId) -> Result<(), dekaf_state::offset::CommitError> {
    let mut result = None;
    sim.run_until(Duration::from_secs(60), |sim| {
        result = sim.events.iter().find_map(|e| match e {
            ConsumerEvent::Offset(Event::CommitFinished { id: i, result, .. }) if *i == id => {
                Some(result.clone())
            }
            _ => None,
        });
        result.is_some()
    });
    result.unwrap()
}

/// Takes the next record, running the simulation until one is there.
fn next(sim: &mut Sim) -> ConsumerRecord {
    let mut record = None;
    sim.run_until(Duration::from_secs(60), |sim| {
        record = sim.consumer.next_record(sim.now);
        record.is_some()
    });
    record.unwrap()
}

#[test]
fn auto_mode_commits_in_the_background() {
    // Kafka.CreateConsumer().WithOffsetCommitMode(OffsetCommitMode.Auto): the default.
    let mut sim = sim(ConsumerConfig::new(), 1);
    // await foreach (var msg in consumer.ConsumeAsync(ct)) ProcessMessage(msg);
    let mut taken = Vec::new();
    for _ in 0..50 {
        taken.push(next(&mut sim));
    }
    // The record being processed (the last one taken) is not committed: asking for the next
    // one is what says it is done.
    let last = taken.last().unwrap().clone();
    sim.run_for(Duration::from_secs(6));
    let p = last.partition();
    let handed_out = taken.iter().filter(|r| r.partition() == p).count() as i64;
    assert_eq!(committed(&sim, p), Some(handed_out - 1));
    // Asking for the next record acknowledges it; the next interval commits it.
    next(&mut sim);
    sim.run_for(Duration::from_secs(6));
    assert!(committed(&sim, p).unwrap() >= handed_out);
}

#[test]
fn manual_commit_after_processing() {
    let mut sim = sim(
        ConsumerConfig::new().with_commit_mode(OffsetCommitMode::Manual),
        2,
    );
    for _ in 0..30 {
        // await ProcessMessageAsync(msg); await consumer.CommitAsync();
        let record = next(&mut sim);
        let id = sim.consumer.commit(sim.now).unwrap();
        assert_eq!(wait_commit(&mut sim, id), Ok(()));
        assert_eq!(committed(&sim, record.partition()), Some(record.offset + 1));
    }
    // Nothing is committed without asking.
    let before = sim.cluster.commit_log.len();
    for _ in 0..10 {
        next(&mut sim);
    }
    sim.run_for(Duration::from_secs(30));
    assert_eq!(sim.cluster.commit_log.len(), before);
}

#[test]
fn commit_specific_offsets() {
    let mut sim = sim(
        ConsumerConfig::new().with_commit_mode(OffsetCommitMode::Manual),
        3,
    );
    // consumer.CommitAsync(new[] { new TopicPartitionOffset("my-topic", 0, 100), ... (1, 50) })
    let id = sim
        .consumer
        .commit_offsets(
            sim.now,
            [
                TopicPartitionOffset::new(TOPIC, 0, 100),
                TopicPartitionOffset::new(TOPIC, 1, 50).with_metadata("batch 7"),
            ],
        )
        .unwrap();
    assert_eq!(wait_commit(&mut sim, id), Ok(()));
    assert_eq!(committed(&sim, 0), Some(100));
    assert_eq!(committed(&sim, 1), Some(50));
    assert_eq!(
        sim.cluster.committed[GROUP][&(TOPIC.to_string(), 1)]
            .metadata
            .as_deref(),
        Some("batch 7")
    );
    // Validated before anything is sent.
    assert!(sim
        .consumer
        .commit_offsets(sim.now, [TopicPartitionOffset::new(TOPIC, 0, -1)])
        .is_err());
    assert!(sim
        .consumer
        .commit_offsets(sim.now, [TopicPartitionOffset::new("elsewhere", 0, 1)])
        .is_err());
}

fn commit_requests(sim: &Sim) -> usize {
    let key = dekaf_proto::ApiKey::OffsetCommit.key();
    sim.cluster.counts.get(&key).copied().unwrap_or(0) as usize
}

/// Takes `n` records one at a time, returning how many OffsetCommit requests were applied.
fn strategy(policy: CommitPolicy, n: usize) -> (Sim, usize) {
    let mut sim = sim(ConsumerConfig::new().with_commit_policy(policy), 4);
    for _ in 0..n {
        next(&mut sim);
        sim.run_for(Duration::from_millis(20));
    }
    let commits = commit_requests(&sim);
    (sim, commits)
}

#[test]
fn the_three_commit_strategies() {
    // After each message: one commit per acknowledged record (the first is only acknowledged
    // when the second is asked for).
    let (_, each) = strategy(CommitPolicy::EveryRecord, 40);
    assert!((38..=40).contains(&each), "{each}");
    // In batches of 10.
    let (_, batches) = strategy(CommitPolicy::EveryNRecords(10), 40);
    assert!((3..=4).contains(&batches), "{batches}");
    // Periodically, every 5 s: 40 records over ~1 s, then 6 s of quiet.
    let (mut sim, periodic) = strategy(CommitPolicy::Interval(Duration::from_secs(5)), 40);
    assert_eq!(periodic, 0);
    sim.run_for(Duration::from_secs(6));
    assert_eq!(commit_requests(&sim), 1);
    assert!(committed(&sim, 0).is_some() && committed(&sim, 1).is_some());
}

#[test]
fn committed_and_position() {
    let mut sim = sim(
        ConsumerConfig::new().with_commit_mode(OffsetCommitMode::Manual),
        5,
    );
    let mut got = Delivered::default();
    sim.run_until(Duration::from_secs(30), |sim| {
        got.add(sim.consumer.poll_records(sim.now, 7));
        got.count(&tp(0)) >= 20
    });
    let position = sim.consumer.position(&tp(0)).unwrap();
    assert_eq!(position, got.offsets(&tp(0)).last().unwrap() + 1);
    let id = sim.consumer.commit(sim.now).unwrap();
    assert_eq!(wait_commit(&mut sim, id), Ok(()));
    // GetCommittedOffsetAsync: the local value, and a lookup at the coordinator.
    assert_eq!(
        sim.consumer.committed(&tp(0)).map(|c| c.offset),
        Some(position)
    );
    let query = sim.consumer.fetch_committed(sim.now, [tp(0)]).unwrap();
    let mut answer = None;
    sim.run_until(Duration::from_secs(30), |sim| {
        answer = sim.events.iter().find_map(|e| match e {
            ConsumerEvent::Offset(Event::Committed { query: q, result }) if *q == query => {
                Some(result.clone())
            }
            _ => None,
        });
        answer.is_some()
    });
    let answer = answer.unwrap().unwrap();
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].0, tp(0));
    assert_eq!(answer[0].1.as_ref().map(|c| c.offset), Some(position));
}

#[test]
fn seek_to_an_offset_the_beginning_and_the_end() {
    let mut sim = sim(ConsumerConfig::new(), 6);
    next(&mut sim);
    // consumer.Seek(new TopicPartitionOffset("my-topic", 0, 100))
    sim.consumer
        .seek(sim.now, TopicPartitionOffset::new(TOPIC, 0, 100))
        .unwrap();
    let want = BTreeMap::from([(tp(0), 20)]);
    let got = consume(&mut sim, &want, Duration::from_secs(30));
    assert_eq!(got.offsets(&tp(0)), (100..120).collect::<Vec<_>>());
    // SeekToBeginning: the log start, which retention moved to 16 (not 0).
    sim.cluster.delete_records(TOPIC, 0, 16);
    sim.consumer.seek_to_beginning(sim.now, [tp(0)]).unwrap();
    let want = BTreeMap::from([(tp(0), 104)]);
    let got = consume(&mut sim, &want, Duration::from_secs(30));
    check_exact(&got, &tp(0), &sim.cluster.partition(TOPIC, 0).all_records());
    // SeekToEnd: only records written from now on.
    sim.consumer.seek_to_end(sim.now, [tp(1)]).unwrap();
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.consumer.position(&tp(1)), Some(120));
    sim.cluster.append(TOPIC, 1, 3, Compression::None, None);
    let want = BTreeMap::from([(tp(1), 3)]);
    let got = consume(&mut sim, &want, Duration::from_secs(30));
    assert_eq!(got.offsets(&tp(1)), [120, 121, 122]);
}

#[test]
fn seek_by_timestamp() {
    let mut sim = sim(ConsumerConfig::new(), 7);
    // Record n of a partition has timestamp T0 + 10 n within its own run of appends: find the
    // first record of partition 1 at or after the time of its 37th.
    let target = sim.cluster.partition(TOPIC, 1).records()[37].timestamp - 5;
    let query = sim
        .consumer
        .offsets_for_times(sim.now, [TopicPartitionTimestamp::new(TOPIC, 1, target)])
        .unwrap();
    let mut answer = None;
    sim.run_until(Duration::from_secs(30), |sim| {
        answer = sim.events.iter().find_map(|e| match e {
            ConsumerEvent::Offset(Event::OffsetsForTimes { query: q, result }) if *q == query => {
                Some(result.clone())
            }
            _ => None,
        });
        answer.is_some()
    });
    let found = answer.unwrap().unwrap();
    let (partition, offset) = (&found[0].0, found[0].1.unwrap());
    assert_eq!((partition, offset.offset), (&tp(1), 37));
    // foreach (var (tp, offset) in offsets) consumer.Seek(new TopicPartitionOffset(tp, offset));
    sim.consumer
        .seek(
            sim.now,
            TopicPartitionOffset::at(partition.clone(), offset.offset),
        )
        .unwrap();
    let want = BTreeMap::from([(tp(1), 1)]);
    let got = consume(&mut sim, &want, Duration::from_secs(30));
    assert_eq!(got.offsets(&tp(1)).first(), Some(&37));
    // The same in one step.
    sim.consumer
        .seek_to_timestamp(sim.now, [TopicPartitionTimestamp::new(TOPIC, 0, T0 + 15)])
        .unwrap();
    sim.run_for(Duration::from_secs(1));
    let first_at = sim
        .cluster
        .partition(TOPIC, 0)
        .records()
        .iter()
        .find(|r| r.timestamp >= T0 + 15)
        .unwrap()
        .offset;
    assert_eq!(sim.consumer.position(&tp(0)), Some(first_at));
}

#[test]
fn close_commits_what_was_processed_in_auto_mode() {
    let mut sim = sim(ConsumerConfig::new(), 8);
    let mut last = None;
    for _ in 0..10 {
        last = Some(next(&mut sim));
    }
    let last = last.unwrap();
    let id = sim.consumer.close(sim.now).expect("a commit on close");
    assert_eq!(wait_commit(&mut sim, id), Ok(()));
    assert!(sim.consumer.is_close_complete());
    assert_eq!(committed(&sim, last.partition()), Some(last.offset + 1));
    assert_eq!(
        sim.consumer
            .committed(&last.topic_partition)
            .map(|c| c.offset),
        Some(last.offset + 1)
    );
    assert!(sim.consumer.poll_records(sim.now, 10).is_empty());
}

#[test]
fn explicit_stores_are_what_auto_mode_commits() {
    // librdkafka's enable.auto.offset.store = false: only stored offsets are committed.
    let mut sim = sim(ConsumerConfig::new().with_auto_store(false), 9);
    let mut taken = Vec::new();
    for _ in 0..20 {
        taken.push(next(&mut sim));
    }
    let done = taken
        .iter()
        .find(|r| r.partition() == 0 && r.offset == 4)
        .cloned();
    let done = done.expect("offset 4 of partition 0 was handed out");
    sim.consumer.store(sim.now, &done).unwrap();
    sim.run_for(Duration::from_secs(6));
    assert_eq!(committed(&sim, 0), Some(5));
    assert_eq!(committed(&sim, 1), None);
    // Storing what was not handed out yet is refused.
    assert!(sim
        .consumer
        .store_offsets(sim.now, [TopicPartitionOffset::new(TOPIC, 0, 119)])
        .is_err());
}

//! The producer machine against the simulated cluster, in virtual time, under injected
//! faults: idempotence never writes a record twice or out of order, transactions never
//! commit offsets of an aborted transaction, a fenced producer never reports a commit.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dekaf_proto::ErrorCode;
use dekaf_sim::{drive, Cluster, Faults, Link};
use dekaf_state::client::ClientMachine;
use dekaf_state::offset::{Backoff, OffsetAndMetadata, TopicPartition};
use dekaf_state::producer::{
    partition_for_key, Acks, ConsumerGroupMetadata, DeliveryError, DeliveryId, Event, Producer,
    ProducerConfig, ProducerRecord, RecordMetadata, TransactionError, TransactionState, TxnOpId,
};

const LATENCY: Duration = Duration::from_millis(2);

/// How many seeds each randomized test runs (`SIM_SEEDS` overrides; 40 by default).
fn seeds(base: u64) -> std::ops::Range<u64> {
    let n = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    base..base + n
}

fn start() -> Instant {
    dekaf_tests::init_logging();
    #[allow(clippy::disallowed_methods)] // the one real instant virtual time starts from
    Instant::now()
}

/// Everything a producer reported.
#[derive(Default)]
struct Outcomes {
    delivered: BTreeMap<DeliveryId, Result<RecordMetadata, DeliveryError>>,
    /// Records that waited for room in the buffer and got in.
    buffered: BTreeSet<DeliveryId>,
    flushed: usize,
    ops: BTreeMap<TxnOpId, Result<(), TransactionError>>,
}

impl Outcomes {
    fn collect(&mut self, p: &mut Producer) {
        // The buffer never holds more than its size, or one record.
        let limit = p.config().buffer_memory;
        assert!(
            p.buffered_bytes() <= limit || p.pending_records() - p.waiting_records() <= 1,
            "{} bytes buffered",
            p.buffered_bytes()
        );
        while let Some(e) = p.poll_event() {
            match e {
                Event::Buffered { id } => {
                    assert!(
                        !self.delivered.contains_key(&id),
                        "{id} in after its outcome"
                    );
                    assert!(self.buffered.insert(id), "{id} buffered twice");
                }
                Event::Delivered { id, result } => {
                    assert!(
                        self.delivered.insert(id, result).is_none(),
                        "{id} reported twice"
                    );
                }
                Event::Flushed { .. } => self.flushed += 1,
                Event::Transaction { id, result, .. } => {
                    assert!(self.ops.insert(id, result).is_none(), "op reported twice");
                }
                _ => {}
            }
        }
    }
}

fn fast(config: ProducerConfig) -> ProducerConfig {
    config
        .backoff(Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(200),
            jitter: 0.2,
        })
        .linger(Duration::from_millis(5))
        .batch_size(300)
}

fn value_index(value: &Option<Bytes>) -> u64 {
    let v = value.as_ref().expect("a value");
    std::str::from_utf8(&v[1..]).unwrap().parse().unwrap()
}

/// Sends `n` keyed records in bursts, then flushes; returns the ids, keys and values. With
/// `wait`, records wait for room in a full buffer (`send_waiting`) instead of being refused.
fn produce_all(
    cluster: &mut Cluster,
    link: &mut Link,
    p: &mut Producer,
    now: &mut Instant,
    out: &mut Outcomes,
    n: u64,
    wait: bool,
) -> Vec<(DeliveryId, String, u64)> {
    let mut sent = Vec::new();
    for i in 0..n {
        let key = format!("k{}", i % 13);
        let record = ProducerRecord::new("t", format!("v{i}")).key(key.clone());
        let id = if wait {
            p.send_waiting(*now, record)
        } else {
            p.send(*now, record)
        }
        .expect("accepted");
        sent.push((id, key, i));
        if i % 17 == 16 {
            let until = *now + Duration::from_millis(7);
            drive(cluster, link, p, now, Duration::from_millis(7), |m| {
                out.collect(m);
                false
            });
            *now = (*now).max(until);
        }
    }
    p.flush(*now);
    let done = drive(cluster, link, p, now, Duration::from_secs(600), |m| {
        out.collect(m);
        out.flushed > 0
    });
    assert!(done, "flush did not finish");
    sent
}

/// What a run changes from the defaults.
#[derive(Clone, Copy, Default)]
struct Setup {
    /// A buffer this small, records waiting for room in it.
    buffer: Option<usize>,
    /// Batches up to 2,000 bytes, and a broker that takes at most this many in one.
    max_message_bytes: Option<usize>,
}

fn check_idempotence(seed: u64, faults: Faults, setup: Setup) -> BTreeMap<&'static str, u64> {
    let buffer = setup.buffer;
    let mut cluster = Cluster::new(3, seed);
    cluster.create_topic("t", 4);
    cluster.faults = faults;
    let mut link = Link::new(LATENCY, seed ^ 1);
    link.trace = std::env::var("SIM_TRACE").is_ok_and(|s| s == seed.to_string());
    let mut config = fast(ProducerConfig::default());
    if let Some(bytes) = buffer {
        config = config
            .buffer_memory(bytes)
            .max_block(Duration::from_secs(3600));
    }
    if let Some(bytes) = setup.max_message_bytes {
        cluster.max_message_bytes = bytes;
        config = config.batch_size(2_000).linger(Duration::from_millis(50));
    }
    let mut p = Producer::new(config, seed).unwrap();
    let mut now = start();
    let mut out = Outcomes::default();
    let sent = produce_all(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        &mut out,
        400,
        buffer.is_some(),
    );

    for (id, key, i) in &sent {
        let result = out
            .delivered
            .get(id)
            .unwrap_or_else(|| panic!("{id} never reported"));
        let meta = result
            .as_ref()
            .unwrap_or_else(|e| panic!("seed {seed}: record {i} failed: {e}"));
        let expected = partition_for_key(key.as_bytes(), 4).unwrap();
        assert_eq!(meta.partition, TopicPartition::new("t", expected));
        if let Some(offset) = meta.offset {
            let entry = &cluster.partition("t", expected).log[offset as usize];
            assert_eq!(
                value_index(&entry.value),
                *i,
                "seed {seed}: wrong offset for {i}"
            );
        }
    }
    for part in 0..4 {
        let log: Vec<u64> = cluster
            .partition("t", part)
            .records()
            .iter()
            .map(|e| value_index(&e.value))
            .collect();
        let unique: BTreeSet<_> = log.iter().collect();
        assert_eq!(
            unique.len(),
            log.len(),
            "seed {seed}: duplicate in partition {part}: {log:?}"
        );
        assert!(
            log.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: out of order in partition {part}: {log:?}"
        );
    }
    let total: usize = (0..4)
        .map(|p| cluster.partition("t", p).records().len())
        .sum();
    assert_eq!(total, sent.len(), "seed {seed}");
    if buffer.is_some() {
        assert!(
            out.buffered.len() > sent.len() / 2,
            "seed {seed}: few records waited"
        );
    }
    cluster.injected
}

/// Adds up the faults of several runs, and checks that every kind in `expected` happened.
fn tally(runs: impl IntoIterator<Item = BTreeMap<&'static str, u64>>, expected: &[&str]) {
    let mut all: BTreeMap<&str, u64> = BTreeMap::new();
    for run in runs {
        for (k, n) in run {
            *all.entry(k).or_default() += n;
        }
    }
    for kind in expected {
        assert!(
            all.get(kind).is_some_and(|n| *n > 0),
            "no {kind} injected: {all:?}"
        );
    }
}

#[test]
fn idempotence_writes_each_record_once_and_in_order_under_faults() {
    let runs = seeds(0).map(|seed| check_idempotence(seed, Faults::chaos(), Setup::default()));
    tally(
        runs,
        &["answer lost", "disconnected", "timed out", "not leader"],
    );
}

/// Records that wait for room in a small buffer enter it in send order: under faults, each
/// is still written once, in order, and the buffer never holds more than its size.
#[test]
fn records_waiting_for_room_are_written_once_and_in_order_under_faults() {
    let runs = seeds(200).map(|seed| {
        check_idempotence(
            seed,
            Faults::chaos(),
            Setup {
                buffer: Some(600),
                ..Setup::default()
            },
        )
    });
    tally(runs, &["answer lost", "disconnected", "not leader"]);
}

#[test]
fn duplicates_answered_with_duplicate_sequence_number_count_as_written() {
    let runs = seeds(100).map(|seed| {
        let faults = Faults {
            lost_response: 0.15,
            duplicate_code: ErrorCode::DUPLICATE_SEQUENCE_NUMBER,
            ..Faults::default()
        };
        check_idempotence(seed, faults, Setup::default())
    });
    tally(runs, &["answer lost"]);
}

/// Batches larger than the broker takes are cut in halves until they fit, keeping their
/// sequence numbers in turn: each record is still written once, in order, under faults.
#[test]
fn batches_too_large_for_the_broker_are_split_and_written_once_in_order() {
    let setup = Setup {
        max_message_bytes: Some(400),
        ..Setup::default()
    };
    assert_eq!(
        check_idempotence(7, Faults::default(), setup)
            .into_keys()
            .collect::<Vec<_>>(),
        ["message too large"]
    );
    let runs = seeds(400).map(|seed| check_idempotence(seed, Faults::chaos(), setup));
    tally(
        runs,
        &[
            "message too large",
            "answer lost",
            "disconnected",
            "not leader",
        ],
    );
}

/// A record too large for the broker on its own fails with the broker's code; the records
/// around it are written, in order.
#[test]
fn a_record_alone_too_large_for_the_broker_fails_and_the_others_go_on() {
    let mut cluster = Cluster::new(1, 1);
    cluster.create_topic("t", 1);
    cluster.max_message_bytes = 300;
    let mut link = Link::new(LATENCY, 2);
    let config = fast(ProducerConfig::default())
        .batch_size(2_000)
        .linger(Duration::from_millis(50));
    let mut p = Producer::new(config, 3).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    let mut ids = Vec::new();
    for i in 0..20 {
        // Record 7 takes more than the broker allows for a whole batch.
        let value = if i == 7 {
            format!("v{i}-{}", "x".repeat(400))
        } else {
            format!("v{i}")
        };
        ids.push(p.send(now, ProducerRecord::new("t", value)).unwrap());
    }
    p.flush(now);
    assert!(drive(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        Duration::from_secs(60),
        |m| {
            out.collect(m);
            out.flushed == 1
        }
    ));
    assert_eq!(
        out.delivered[&ids[7]],
        Err(DeliveryError::Rejected(ErrorCode::MESSAGE_TOO_LARGE))
    );
    let log: Vec<String> = cluster
        .partition("t", 0)
        .records()
        .iter()
        .map(|e| String::from_utf8_lossy(e.value.as_ref().unwrap()).into_owned())
        .collect();
    let want: Vec<String> = (0..20)
        .filter(|i| *i != 7)
        .map(|i| format!("v{i}"))
        .collect();
    assert_eq!(log, want);
    for (i, id) in ids.iter().enumerate() {
        if i != 7 {
            assert!(
                out.delivered[id].is_ok(),
                "record {i}: {:?}",
                out.delivered[id]
            );
        }
    }
}

#[test]
fn without_faults_every_offset_is_known_and_batches_are_full() {
    let mut cluster = Cluster::new(2, 5);
    cluster.create_topic("t", 4);
    let mut link = Link::new(LATENCY, 6);
    let mut p = Producer::new(fast(ProducerConfig::default()), 7).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    let sent = produce_all(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        &mut out,
        200,
        false,
    );
    assert!(sent
        .iter()
        .all(|(id, ..)| out.delivered[id].as_ref().unwrap().offset.is_some()));
    // Far fewer requests than records: records were batched.
    assert!(link.sent < 120, "{} requests", link.sent);
    assert!(p.is_idle());
    assert_eq!(p.producer_id_and_epoch(), Some((1000, 0)));
}

#[test]
fn acks_zero_reports_records_without_offsets() {
    let mut cluster = Cluster::new(1, 1);
    cluster.create_topic("t", 2);
    let mut link = Link::new(LATENCY, 2);
    let config = fast(
        ProducerConfig::default()
            .acks(Acks::None)
            .idempotence(false),
    );
    let mut p = Producer::new(config, 3).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    let sent = produce_all(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        &mut out,
        50,
        false,
    );
    for (id, ..) in &sent {
        assert_eq!(out.delivered[id].as_ref().unwrap().offset, None);
    }
    let total: usize = (0..2)
        .map(|i| cluster.partition("t", i).records().len())
        .sum();
    assert_eq!(total, 50);
}

#[test]
fn acks_from_the_leader_alone_without_idempotence() {
    let mut cluster = Cluster::new(2, 1);
    cluster.create_topic("t", 4);
    let mut link = Link::new(LATENCY, 2);
    let config = fast(
        ProducerConfig::default()
            .acks(Acks::Leader)
            .idempotence(false),
    );
    let mut p = Producer::new(config, 3).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    let sent = produce_all(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        &mut out,
        100,
        false,
    );
    assert!(sent.iter().all(|(id, ..)| out.delivered[id].is_ok()));
    assert_eq!(p.producer_id_and_epoch(), None);
    let batches_without_producer = (0..4)
        .flat_map(|i| cluster.partition("t", i).records())
        .all(|e| e.producer_id == -1);
    assert!(batches_without_producer);
}

#[test]
fn records_for_a_missing_topic_time_out_with_the_reason() {
    let mut cluster = Cluster::new(1, 1);
    let mut link = Link::new(LATENCY, 2);
    let config = fast(ProducerConfig::default()).delivery_timeout(Duration::from_secs(5));
    let mut p = Producer::new(config, 3).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    let t0 = now;
    let id = p.send(now, ProducerRecord::new("nope", "x")).unwrap();
    assert!(drive(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        Duration::from_secs(60),
        |m| {
            out.collect(m);
            !out.delivered.is_empty()
        }
    ));
    assert_eq!(
        out.delivered[&id],
        Err(DeliveryError::TimedOut {
            maybe_written: false,
            last_error: Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        })
    );
    assert!(now >= t0 + Duration::from_secs(5) && now < t0 + Duration::from_secs(6));
}

#[test]
fn explicit_partitions_are_kept_and_checked() {
    let mut cluster = Cluster::new(2, 1);
    cluster.create_topic("t", 3);
    let mut link = Link::new(LATENCY, 2);
    let mut p = Producer::new(fast(ProducerConfig::default()), 3).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    let good = p
        .send(now, ProducerRecord::new("t", "a").partition(2))
        .unwrap();
    let bad = p
        .send(now, ProducerRecord::new("t", "b").partition(3))
        .unwrap();
    p.flush(now);
    assert!(drive(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        Duration::from_secs(10),
        |m| {
            out.collect(m);
            out.flushed == 1
        }
    ));
    assert_eq!(
        out.delivered[&good].as_ref().unwrap().partition.partition(),
        2
    );
    assert_eq!(
        out.delivered[&bad],
        Err(DeliveryError::InvalidPartition {
            partition: 3,
            partitions: 3
        })
    );
}

#[test]
fn keyless_records_stick_to_a_partition_per_batch() {
    let mut cluster = Cluster::new(1, 1);
    cluster.create_topic("t", 8);
    let mut link = Link::new(LATENCY, 2);
    let mut p = Producer::new(fast(ProducerConfig::default()).batch_size(2_000), 3).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    // Metadata first, so that records are partitioned as they are sent.
    p.send(now, ProducerRecord::new("t", "warm-up")).unwrap();
    p.flush(now);
    drive(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        Duration::from_secs(10),
        |m| {
            out.collect(m);
            out.flushed == 1
        },
    );
    let ids: Vec<_> = (0..10)
        .map(|i| {
            p.send(now, ProducerRecord::new("t", format!("r{i}")))
                .unwrap()
        })
        .collect();
    p.flush(now);
    drive(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        Duration::from_secs(10),
        |m| {
            out.collect(m);
            out.flushed == 2
        },
    );
    let partitions: BTreeSet<i32> = ids
        .iter()
        .map(|id| out.delivered[id].as_ref().unwrap().partition.partition())
        .collect();
    assert_eq!(
        partitions.len(),
        1,
        "one batch, one partition: {partitions:?}"
    );
}

#[test]
fn a_broker_that_forgot_the_producer_gets_a_new_epoch() {
    let mut cluster = Cluster::new(1, 1);
    cluster.create_topic("t", 1);
    let mut link = Link::new(LATENCY, 2);
    let mut p = Producer::new(fast(ProducerConfig::default()), 3).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    produce_all(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        &mut out,
        30,
        false,
    );
    let before = p.producer_id_and_epoch().unwrap();
    // The partition loses its producer state (as after retention removed its batches).
    cluster.forget_producers("t", 0);
    let id = p
        .send(now, ProducerRecord::new("t", "v100").key("k"))
        .unwrap();
    let id2 = p
        .send(now, ProducerRecord::new("t", "v101").key("k"))
        .unwrap();
    p.flush(now);
    assert!(drive(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        Duration::from_secs(60),
        |m| {
            out.collect(m);
            out.flushed == 2
        }
    ));
    // The first batch after the loss is refused as out of order (records before it may be
    // missing); the producer bumps its epoch and later records go through.
    assert_eq!(out.delivered[&id], Err(DeliveryError::OutOfOrderSequence));
    let id3 = p
        .send(now, ProducerRecord::new("t", "v102").key("k"))
        .unwrap();
    p.flush(now);
    assert!(drive(
        &mut cluster,
        &mut link,
        &mut p,
        &mut now,
        Duration::from_secs(60),
        |m| {
            out.collect(m);
            out.flushed == 3
        }
    ));
    let _ = id2;
    assert!(out.delivered[&id3].is_ok(), "{:?}", out.delivered[&id3]);
    let after = p.producer_id_and_epoch().unwrap();
    assert!(after > before, "{before:?} -> {after:?}");
}

// ---- transactions ----

fn txn_config(id: &str) -> ProducerConfig {
    fast(ProducerConfig::transactional(id))
}

/// Drives until operation `op` is reported, and returns its result.
fn wait_op(
    cluster: &mut Cluster,
    link: &mut Link,
    p: &mut Producer,
    now: &mut Instant,
    out: &mut Outcomes,
    op: TxnOpId,
) -> Result<(), TransactionError> {
    let done = drive(cluster, link, p, now, Duration::from_secs(3600), |m| {
        out.collect(m);
        out.ops.contains_key(&op)
    });
    assert!(done, "operation {op:?} never finished");
    out.ops[&op].clone()
}

fn fill_input(cluster: &mut Cluster, n: usize) {
    cluster.create_topic("in", 1);
    cluster.create_topic("out", 3);
    let group = cluster.group_mut("g");
    group.generation = 1;
    group.members.insert("m1".into());
    cluster.append_records(
        "in",
        0,
        (0..n).map(|i| {
            (
                Some(Bytes::from(format!("k{}", i % 5))),
                Some(Bytes::from(format!("v{i}"))),
            )
        }),
    );
}

fn group_meta() -> ConsumerGroupMetadata {
    ConsumerGroupMetadata {
        group_id: "g".into(),
        generation_id: 1,
        member_id: "m1".into(),
        group_instance_id: None,
    }
}

fn committed_input(cluster: &Cluster) -> i64 {
    cluster.committed_offset("g", "in", 0).unwrap_or(0)
}

fn committed_output(cluster: &Cluster) -> Vec<u64> {
    let mut all = Vec::new();
    for p in 0..3 {
        all.extend(
            cluster
                .partition("out", p)
                .committed()
                .iter()
                .map(|e| value_index(&e.value)),
        );
    }
    all
}

/// Consume-transform-produce: each transaction copies a few input records and commits the
/// input offset with them; some transactions are aborted on purpose; `setup` may make records
/// wait for room in the buffer, or batches too large for the broker.
fn copy_exactly_once(seed: u64, faults: Faults, setup: Setup) -> BTreeMap<&'static str, u64> {
    const N: usize = 120;
    let buffer = setup.buffer;
    let mut cluster = Cluster::new(3, seed);
    fill_input(&mut cluster, N);
    cluster.faults = faults;
    let mut link = Link::new(LATENCY, seed ^ 7);
    let mut config = txn_config("copier");
    if let Some(bytes) = buffer {
        config = config
            .buffer_memory(bytes)
            .max_block(Duration::from_secs(3600));
    }
    if let Some(bytes) = setup.max_message_bytes {
        cluster.max_message_bytes = bytes;
        config = config.batch_size(2_000).linger(Duration::from_millis(50));
    }
    let mut p = Producer::new(config, seed).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    let mut rng = dekaf_state::offset::Rng::new(seed ^ 99);

    let init = p.init_transactions(now).unwrap();
    wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, init).unwrap();
    let mut aborted = 0;
    let mut rounds = 0;
    while committed_input(&cluster) < N as i64 {
        rounds += 1;
        assert!(rounds < 2_000, "seed {seed}: no progress");
        let from = committed_input(&cluster);
        let to = (from + 1 + (rng.next_u64() % 9) as i64).min(N as i64);
        p.begin_transaction().unwrap();
        for i in from..to {
            let entry = cluster.partition("in", 0).log[i as usize].clone();
            let record = ProducerRecord {
                topic: "out".into(),
                key: entry.key.clone(),
                value: entry.value.clone(),
                ..ProducerRecord::default()
            };
            if buffer.is_some() {
                p.send_waiting(now, record).unwrap();
            } else {
                p.send(now, record).unwrap();
            }
        }
        let offsets = [(TopicPartition::new("in", 0), OffsetAndMetadata::new(to))];
        let send = p
            .send_offsets_to_transaction(now, offsets, group_meta())
            .unwrap();
        // The first transaction is always aborted, later ones at random.
        let give_up = rounds == 1 || rng.next_f64() < 0.2;
        let result = if give_up {
            Err(())
        } else {
            let commit = p.commit_transaction(now).unwrap();
            wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, commit).map_err(|e| {
                assert!(e.is_abortable(), "seed {seed}: {e}");
                // Batches too large for the broker are split, never failed.
                assert!(
                    !e.to_string().contains("MESSAGE_TOO_LARGE"),
                    "seed {seed}: {e}"
                );
            })
        };
        if result.is_err() {
            aborted += 1;
            let abort = p.abort_transaction(now).unwrap();
            wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, abort)
                .unwrap_or_else(|e| panic!("seed {seed}: abort failed: {e}"));
            assert_eq!(
                committed_input(&cluster),
                from,
                "seed {seed}: aborted offsets committed"
            );
        } else {
            assert_eq!(out.ops[&send], Ok(()));
            assert_eq!(committed_input(&cluster), to, "seed {seed}");
        }
        // Output and offsets move together.
        assert_eq!(
            committed_output(&cluster).len() as i64,
            committed_input(&cluster),
            "seed {seed}: output and offsets disagree"
        );
        assert_eq!(p.transaction_state(), Some(TransactionState::Ready));
    }
    let mut output = committed_output(&cluster);
    output.sort_unstable();
    assert_eq!(output, (0..N as u64).collect::<Vec<_>>(), "seed {seed}");
    assert!(aborted > 0);
    if buffer.is_some() {
        assert!(!out.buffered.is_empty(), "seed {seed}: no record waited");
    }
    cluster.injected
}

#[test]
fn consume_transform_produce_is_exactly_once_without_faults() {
    let injected = copy_exactly_once(1, Faults::default(), Setup::default());
    assert!(injected.is_empty());
}

/// Records of a transaction that wait for room in the buffer: a commit waits for them, an
/// abort fails them; output and offsets still move together, exactly once.
#[test]
fn consume_transform_produce_with_records_waiting_for_room() {
    let setup = Setup {
        buffer: Some(90),
        ..Setup::default()
    };
    assert!(copy_exactly_once(1, Faults::default(), setup).is_empty());
    let runs = seeds(300).map(|seed| copy_exactly_once(seed, Faults::chaos(), setup));
    tally(runs, &["answer lost", "transaction coordinator moved"]);
}

#[test]
fn consume_transform_produce_is_exactly_once_under_faults() {
    let runs = seeds(0).map(|seed| copy_exactly_once(seed, Faults::chaos(), Setup::default()));
    tally(
        runs,
        &[
            "answer lost",
            "disconnected",
            "not leader",
            "transaction coordinator moved",
            "group coordinator moved",
            "concurrent transactions",
        ],
    );
}

/// A transaction's batches too large for the broker are split: the transaction still commits
/// each record once, with its offsets.
#[test]
fn consume_transform_produce_with_batches_split_for_the_broker() {
    // Three of these records and a batch header take more.
    let setup = Setup {
        max_message_bytes: Some(100),
        ..Setup::default()
    };
    let injected = copy_exactly_once(1, Faults::default(), setup);
    assert!(injected.contains_key("message too large"), "{injected:?}");
    let runs = seeds(600).map(|seed| copy_exactly_once(seed, Faults::chaos(), setup));
    tally(runs, &["message too large", "answer lost"]);
}

#[test]
fn offsets_from_a_replaced_consumer_are_refused_and_the_transaction_aborts() {
    let mut cluster = Cluster::new(1, 1);
    fill_input(&mut cluster, 10);
    cluster.group_mut("g").generation = 2;
    let mut link = Link::new(LATENCY, 2);
    let mut p = Producer::new(txn_config("zombie"), 3).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    let init = p.init_transactions(now).unwrap();
    wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, init).unwrap();
    p.begin_transaction().unwrap();
    p.send(now, ProducerRecord::new("out", "v0")).unwrap();
    let offsets = [(TopicPartition::new("in", 0), OffsetAndMetadata::new(1))];
    let send = p
        .send_offsets_to_transaction(now, offsets, group_meta())
        .unwrap();
    let result = wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, send);
    let Err(TransactionError::Abortable(e)) = result else {
        panic!("expected an abortable error, got {result:?}");
    };
    assert!(e.to_string().contains("ILLEGAL_GENERATION"), "{e}");
    assert_eq!(
        p.transaction_state(),
        Some(TransactionState::AbortableError)
    );
    assert!(matches!(
        p.commit_transaction(now),
        Err(TransactionError::Abortable(_))
    ));
    let abort = p.abort_transaction(now).unwrap();
    wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, abort).unwrap();
    assert_eq!(committed_input(&cluster), 0);
    assert!(committed_output(&cluster).is_empty());
}

/// A record of a transaction that got no room in the buffer within `max_block`, or whose
/// wait was cancelled, is missing from the transaction: it can only abort.
#[test]
fn a_transaction_missing_a_record_that_got_no_room_cannot_commit() {
    let mut cluster = Cluster::new(1, 1);
    fill_input(&mut cluster, 0);
    let mut link = Link::new(LATENCY, 2);
    let config = txn_config("no-room")
        .buffer_memory(90)
        .max_block(Duration::from_secs(1));
    let mut p = Producer::new(config, 3).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    let init = p.init_transactions(now).unwrap();
    wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, init).unwrap();

    // Nothing is answered any more: the buffer stays full.
    p.begin_transaction().unwrap();
    cluster.faults.timeout = 1.0;
    let ids: Vec<_> = (0..4)
        .map(|i| {
            p.send_waiting(now, ProducerRecord::new("out", format!("v{i}")))
                .unwrap()
        })
        .collect();
    assert!(p.is_waiting(ids[2]) && p.is_waiting(ids[3]));
    let commit = p.commit_transaction(now).unwrap();
    let result = wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, commit);
    let Err(TransactionError::Abortable(e)) = &result else {
        panic!("a commit without a record: {result:?}");
    };
    assert!(e.to_string().contains("no room"), "{e}");
    // Both waited since the same instant: both are refused.
    for id in &ids[2..] {
        assert_eq!(out.delivered[id], Err(DeliveryError::BufferFull));
    }
    cluster.faults.timeout = 0.0;
    let abort = p.abort_transaction(now).unwrap();
    wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, abort).unwrap();
    assert!(ids.iter().all(|id| out.delivered.contains_key(id)));

    // Cancelled while waiting: the transaction cannot commit either.
    p.begin_transaction().unwrap();
    let kept = p
        .send_waiting(now, ProducerRecord::new("out", "v10"))
        .unwrap();
    p.send_waiting(now, ProducerRecord::new("out", "v11"))
        .unwrap();
    let dropped = p
        .send_waiting(now, ProducerRecord::new("out", "v12"))
        .unwrap();
    assert!(p.cancel(now, dropped));
    assert_eq!(
        p.transaction_state(),
        Some(TransactionState::AbortableError)
    );
    assert!(p.commit_transaction(now).is_err());
    let abort = p.abort_transaction(now).unwrap();
    wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, abort).unwrap();
    assert!(out.delivered.contains_key(&kept));
    assert!(committed_output(&cluster).is_empty());

    // With room, the next transaction commits.
    p.begin_transaction().unwrap();
    for i in 20..25 {
        p.send_waiting(now, ProducerRecord::new("out", format!("v{i}")))
            .unwrap();
    }
    let commit = p.commit_transaction(now).unwrap();
    wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, commit).unwrap();
    let mut output = committed_output(&cluster);
    output.sort_unstable();
    assert_eq!(output, [20, 21, 22, 23, 24]);
}

/// A record refused at once inside a transaction (too large, a negative partition, a full
/// buffer for `send`) is missing from it: the transaction can only abort, as in Java.
#[test]
fn a_transaction_missing_a_record_refused_at_once_cannot_commit() {
    let mut cluster = Cluster::new(1, 1);
    fill_input(&mut cluster, 0);
    let mut link = Link::new(LATENCY, 2);
    let mut config = txn_config("refused").buffer_memory(90);
    config.max_request_size = 200;
    let mut p = Producer::new(config, 3).unwrap();
    let (mut now, mut out) = (start(), Outcomes::default());
    let init = p.init_transactions(now).unwrap();
    wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, init).unwrap();
    let refusals: [(ProducerRecord, &str); 3] = [
        (
            ProducerRecord::new("out", "x".repeat(300)),
            "bytes was refused",
        ),
        (
            ProducerRecord::new("out", "v").partition(-1),
            "partition -1",
        ),
        (ProducerRecord::new("out", "y".repeat(60)), "no room"),
    ];
    for (i, (refused, why)) in refusals.into_iter().enumerate() {
        p.begin_transaction().unwrap();
        let kept = p
            .send(now, ProducerRecord::new("out", format!("v{i}")))
            .unwrap();
        assert!(p.send(now, refused).is_err());
        assert_eq!(
            p.transaction_state(),
            Some(TransactionState::AbortableError)
        );
        let Err(TransactionError::Abortable(e)) = p.commit_transaction(now) else {
            panic!("a commit without a refused record");
        };
        assert!(e.to_string().contains(why), "{e}");
        let abort = p.abort_transaction(now).unwrap();
        wait_op(&mut cluster, &mut link, &mut p, &mut now, &mut out, abort).unwrap();
        assert!(out.delivered.contains_key(&kept));
    }
    assert!(committed_output(&cluster).is_empty());
}

/// A second producer with the same transactional id starts at a random moment of the
/// first one's transaction: the first is fenced and never reports a commit that did not
/// happen; the second's transactions commit.
fn fencing(seed: u64, faults: Faults) -> BTreeMap<&'static str, u64> {
    let mut cluster = Cluster::new(3, seed);
    fill_input(&mut cluster, 0);
    cluster.faults = faults;
    let mut rng = dekaf_state::offset::Rng::new(seed ^ 5);
    let (mut la, mut lb) = (Link::new(LATENCY, seed ^ 11), Link::new(LATENCY, seed ^ 13));
    let mut a = Producer::new(txn_config("same"), seed).unwrap();
    let mut b = Producer::new(txn_config("same"), seed ^ 77).unwrap();
    let (mut now, mut oa, mut ob) = (start(), Outcomes::default(), Outcomes::default());

    let init = a.init_transactions(now).unwrap();
    wait_op(&mut cluster, &mut la, &mut a, &mut now, &mut oa, init).unwrap();
    a.begin_transaction().unwrap();
    for i in 0..20 {
        a.send(now, ProducerRecord::new("out", format!("a{i}")))
            .unwrap();
    }
    let offsets = [(TopicPartition::new("in", 0), OffsetAndMetadata::new(5))];
    a.send_offsets_to_transaction(now, offsets, group_meta())
        .unwrap();
    // A runs for a random while, perhaps into its commit.
    let commit_early = rng.next_f64() < 0.5;
    let a_commit = commit_early.then(|| a.commit_transaction(now).unwrap());
    let run_for = Duration::from_millis(rng.next_u64() % 40);
    drive(&mut cluster, &mut la, &mut a, &mut now, run_for, |m| {
        oa.collect(m);
        false
    });
    // B takes the transactional id over. Whatever A did before is decided now: committed,
    // or (still open) aborted by B's init.
    let init_b = b.init_transactions(now).unwrap();
    wait_op(&mut cluster, &mut lb, &mut b, &mut now, &mut ob, init_b).unwrap();
    let a_committed = cluster.txns["same"].commits > 0;

    // A goes on as if nothing happened.
    let a_commit = a_commit.unwrap_or_else(|| match a.commit_transaction(now) {
        Ok(op) => op,
        Err(e) => panic!("seed {seed}: {e}"),
    });
    let result = wait_op(&mut cluster, &mut la, &mut a, &mut now, &mut oa, a_commit);
    match &result {
        Ok(()) => assert!(
            a_committed,
            "seed {seed}: A reported a commit after it was fenced"
        ),
        // The commit may have happened before the fencing, its answer lost: a fenced
        // producer cannot tell, and reports the fencing.
        Err(e) => {
            assert!(e.is_fatal(), "seed {seed}: {e}");
            assert!(a.fatal_error().is_some_and(|f| f.is_fenced()));
            assert!(a.send(now, ProducerRecord::new("out", "late")).is_err());
        }
    }
    assert_eq!(cluster.txns["same"].commits > 0, a_committed, "seed {seed}");
    // A's transaction is all or nothing: its records and its offset together.
    let a_records: Vec<_> = (0..3)
        .flat_map(|p| {
            cluster
                .partition("out", p)
                .committed()
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        })
        .filter(|e| e.value.as_ref().is_some_and(|v| v.starts_with(b"a")))
        .collect();
    assert_eq!(
        a_records.len(),
        if a_committed { 20 } else { 0 },
        "seed {seed}"
    );
    assert_eq!(committed_input(&cluster), if a_committed { 5 } else { 0 });

    // B works normally.
    b.begin_transaction().unwrap();
    for i in 0..5 {
        b.send(now, ProducerRecord::new("out", format!("b{i}")))
            .unwrap();
    }
    let commit = b.commit_transaction(now).unwrap();
    wait_op(&mut cluster, &mut lb, &mut b, &mut now, &mut ob, commit)
        .unwrap_or_else(|e| panic!("seed {seed}: B could not commit: {e}"));
    cluster.injected
}

#[test]
fn a_fenced_producer_never_reports_a_commit() {
    for seed in seeds(0) {
        assert!(fencing(seed, Faults::default()).is_empty());
    }
}

#[test]
fn a_fenced_producer_never_reports_a_commit_under_faults() {
    let runs = seeds(100).map(|seed| fencing(seed, Faults::chaos()));
    tally(runs, &["answer lost", "transaction coordinator moved"]);
}

#[test]
fn transaction_commands_refuse_the_wrong_state() {
    let mut p = Producer::new(txn_config("x"), 1).unwrap();
    let now = start();
    assert!(matches!(
        p.begin_transaction(),
        Err(TransactionError::InvalidState {
            state: TransactionState::Uninitialized,
            ..
        })
    ));
    assert!(p.send(now, ProducerRecord::new("t", "v")).is_err());
    assert!(p.commit_transaction(now).is_err());
    let mut plain = Producer::new(ProducerConfig::default(), 1).unwrap();
    assert_eq!(
        plain.init_transactions(now),
        Err(TransactionError::NotTransactional)
    );
    assert!(plain.poll_timeout().is_none());
}

/// A broker that answers with random error codes, ids, offsets and coordinators: the producer
/// never panics, never spins, reports each record and each operation at most once, and
/// reports every record by the delivery timeout.
#[test]
fn lying_brokers_never_make_the_producer_panic_or_spin() {
    for seed in seeds(500) {
        let mut cluster = Cluster::new(3, seed);
        cluster.create_topic("t", 3);
        fill_input(&mut cluster, 0);
        cluster.faults = Faults {
            garbage: 0.15,
            ..Faults::chaos()
        };
        let mut link = Link::new(LATENCY, seed ^ 3);
        let transactional = seed % 2 == 0;
        let config = if transactional {
            txn_config("liar")
        } else {
            fast(ProducerConfig::default())
        };
        let timeout = Duration::from_secs(30);
        let mut p = Producer::new(config.delivery_timeout(timeout), seed).unwrap();
        let (mut now, mut out) = (start(), Outcomes::default());
        let mut ids = Vec::new();
        if transactional {
            let init = p.init_transactions(now).unwrap();
            drive(&mut cluster, &mut link, &mut p, &mut now, timeout, |m| {
                out.collect(m);
                out.ops.contains_key(&init)
            });
            let _ = p.begin_transaction();
        }
        for i in 0..60 {
            if let Ok(id) = p.send(
                now,
                ProducerRecord::new("out", format!("v{i}")).key(format!("{i}")),
            ) {
                ids.push(id);
            }
        }
        if transactional {
            let offsets = [(TopicPartition::new("in", 0), OffsetAndMetadata::new(1))];
            let _ = p.send_offsets_to_transaction(now, offsets, group_meta());
            let _ = p.commit_transaction(now);
        }
        p.flush(now);
        let limit = timeout * 3;
        drive(&mut cluster, &mut link, &mut p, &mut now, limit, |m| {
            out.collect(m);
            ids.iter().all(|id| out.delivered.contains_key(id))
        });
        for id in &ids {
            assert!(
                out.delivered.contains_key(id),
                "seed {seed}: {id} never reported"
            );
        }
    }
}

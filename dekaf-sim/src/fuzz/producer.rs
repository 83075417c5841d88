//! The producer under fuzzing: set up from the first bytes, then driven by the rest — the
//! application's sends, flushes and transactions, the clock, and the brokers' answers — with
//! its promises checked after every step.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dekaf_proto::messages::{ProduceRequest, RequestBody};
use dekaf_proto::records::{Compression, RecordBatches};
use dekaf_proto::ApiKey;

use super::broker::World;
use super::net::{Net, Stats, REQUEST_TIMEOUT};
use dekaf_state::client::ClientMachine;
use dekaf_state::fuzz::Input;
use dekaf_state::group::GroupMetadata;
use dekaf_state::offset::{OffsetAndMetadata, TopicPartition};
use dekaf_state::producer::{
    Acks, Event, Producer, ProducerConfig, ProducerRecord, TransactionState, TxnOperation,
};

const TOPICS: [&str; 3] = ["fuzz-a", "fuzz-b", "fuzz-missing"];

/// A record the producer accepted.
struct Sent {
    topic: String,
    partition: Option<i32>,
    waiting: bool,
    /// The transaction it was sent in (numbered by `begin_transaction`).
    txn: Option<u64>,
}

/// What the checks remember between steps.
#[derive(Default)]
struct Checks {
    sent: BTreeMap<u64, Sent>,
    delivered: BTreeSet<u64>,
    buffered: BTreeSet<u64>,
    /// Each flush with the number of records sent before it.
    flushes: BTreeMap<u64, u64>,
    flushed: BTreeSet<u64>,
    /// Each transaction operation, with the transaction it was called in.
    ops: BTreeMap<u64, (TxnOperation, u64)>,
    /// The number of the transaction open now (or last open).
    txn: u64,
    delivered_ok: BTreeSet<u64>,
    ops_done: BTreeSet<u64>,
    state: Option<TransactionState>,
    /// The most bytes of key, value and headers of one record.
    largest: usize,
    next_value: u64,
    /// The producer id and epoch when last looked at.
    pid: Option<(i64, i16)>,
    /// The sequence number each record was sent with, by producer id, epoch and partition.
    sequences: BTreeMap<(i64, i16, String, i32), BTreeMap<u64, i32>>,
}

fn config(input: &mut Input<'_>) -> ProducerConfig {
    let a = input.byte();
    let b = input.byte();
    let transactional = a & 1 == 1;
    let mut config = if transactional {
        ProducerConfig::transactional("fuzz-txn")
    } else {
        match (a >> 1) & 3 {
            0 => ProducerConfig::default(),
            1 => ProducerConfig::default().idempotence(false),
            2 => ProducerConfig::default()
                .idempotence(false)
                .acks(Acks::Leader),
            _ => ProducerConfig::default()
                .idempotence(false)
                .acks(Acks::None),
        }
    };
    config = config.linger(match (a >> 3) & 3 {
        0 => Duration::ZERO,
        1 => Duration::from_millis(5),
        2 => Duration::from_millis(100),
        _ => Duration::from_secs(1),
    });
    if a & 32 == 32 {
        config = config.batch_size(128);
    }
    if a & 64 == 64 {
        config = config.buffer_memory(512);
    }
    if a & 128 == 128 {
        config = config.compression(Compression::Gzip);
    }
    config = config.max_in_flight(usize::from(b % 5) + 1);
    config = config.delivery_timeout(match (b >> 3) & 3 {
        0 => Duration::from_secs(120),
        1 => Duration::from_secs(5),
        2 => Duration::from_secs(30),
        _ => Duration::from_secs(1),
    });
    if b & 32 == 32 {
        config = config.max_block(Duration::from_secs(1));
    }
    config
}

fn record(checks: &mut Checks, input: &mut Input<'_>) -> ProducerRecord {
    let topic = *input.pick(&TOPICS).unwrap_or(&TOPICS[0]);
    checks.next_value += 1;
    let mut value = format!("v{}", checks.next_value).into_bytes();
    value.resize(value.len() + usize::from(input.byte()) * 4, b'.');
    let mut r = ProducerRecord::new(topic, value);
    if input.bool() {
        r = r.key(Bytes::copy_from_slice(input.bytes(16)));
    }
    if input.chance(32) {
        r = r.partition(i32::from(input.byte() % 6) - 1);
    }
    if input.chance(32) {
        r = r.header("h", Some(Bytes::from_static(b"v")));
    }
    if input.chance(64) {
        r = r.timestamp(1_700_000_000_000);
    }
    r
}

/// Runs the producer on `data`; panics when it breaks a promise.
pub(crate) fn run(data: &[u8]) -> Stats {
    let mut input = Input::new(data);
    let config = config(&mut input);
    let seed = u64::from(input.byte());
    let counts = [
        i32::from(input.byte() % 4) + 1,
        i32::from(input.byte() % 4) + 1,
    ];
    let mut world = World::new(&[(TOPICS[0], counts[0]), (TOPICS[1], counts[1])]);
    // The one real clock reading: every later time is this plus virtual time.
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let mut net = Net::new(&mut input, start);
    let Ok(mut p) = Producer::new(config, seed) else {
        return net.stats;
    };
    let mut checks = Checks {
        state: p.transaction_state(),
        ..Checks::default()
    };
    if p.transaction_state().is_some() && !input.chance(16) {
        if let Ok(op) = p.init_transactions(net.now) {
            checks.ops.insert(op.0, (TxnOperation::Init, 0));
        }
    }
    while !input.is_empty() {
        let mut fired = false;
        match input.byte() {
            0..=127 => net.settle(&mut p, &mut world, &mut input),
            128..=167 => fired = net.advance(&mut p, &mut input),
            _ => command(&mut p, &mut net, &mut checks, &mut input),
        }
        step(&mut p, &mut net, &mut checks, &mut input, fired);
    }
    drain(&mut p, &mut net, &mut world, &mut checks);
    net.stats
}

fn command(p: &mut Producer, net: &mut Net, checks: &mut Checks, input: &mut Input<'_>) {
    let now = net.now;
    match input.byte() {
        0..=119 => {
            let r = record(checks, input);
            let raw = raw_size(&r);
            let (topic, partition) = (r.topic.clone(), r.partition);
            let txn = in_transaction(p).then_some(checks.txn);
            if let Ok(id) = p.send(now, r) {
                checks.largest = checks.largest.max(raw);
                let sent = Sent {
                    topic,
                    partition,
                    waiting: false,
                    txn,
                };
                assert!(checks.sent.insert(id.0, sent).is_none(), "{id} given twice");
            }
        }
        120..=149 => {
            let r = record(checks, input);
            let raw = raw_size(&r);
            let (topic, partition) = (r.topic.clone(), r.partition);
            let txn = in_transaction(p).then_some(checks.txn);
            if let Ok(id) = p.send_waiting(now, r) {
                checks.largest = checks.largest.max(raw);
                let sent = Sent {
                    topic,
                    partition,
                    waiting: true,
                    txn,
                };
                assert!(checks.sent.insert(id.0, sent).is_none(), "{id} given twice");
            }
        }
        150..=159 => {
            let waiting: Vec<u64> = checks
                .sent
                .iter()
                .filter(|(id, s)| s.waiting && !checks.delivered.contains(id))
                .map(|(id, _)| *id)
                .collect();
            if let Some(&id) = input.pick(&waiting) {
                p.cancel(now, dekaf_state::producer::DeliveryId(id));
            }
        }
        160..=179 => {
            let id = p.flush(now);
            checks
                .flushes
                .insert(id.0, checks.sent.keys().max().map_or(0, |m| m + 1));
        }
        180..=181 => p.close(now),
        182..=189 => {
            if let Ok(op) = p.init_transactions(now) {
                checks.ops.insert(op.0, (TxnOperation::Init, checks.txn));
            }
        }
        190..=209 => {
            if p.begin_transaction().is_ok() {
                checks.txn += 1;
            }
        }
        210..=229 => {
            let op = if input.bool() {
                p.commit_transaction(now)
                    .map(|op| (op, TxnOperation::Commit))
            } else {
                p.abort_transaction(now).map(|op| (op, TxnOperation::Abort))
            };
            if let Ok((op, what)) = op {
                checks.ops.insert(op.0, (what, checks.txn));
            }
        }
        230..=241 => {
            let offsets: Vec<(TopicPartition, OffsetAndMetadata)> = (0..input.below(3))
                .map(|i| {
                    let tp = TopicPartition::new(TOPICS[i % 2], i32::from(input.byte() % 3));
                    (tp, OffsetAndMetadata::new(input.i64_interesting()))
                })
                .collect();
            let mut group = GroupMetadata::new("fuzz-group");
            if input.bool() {
                group.generation_id = input.i32_interesting();
                group.member_id = "member-1".to_string();
            }
            if let Ok(op) = p.send_offsets_to_transaction(now, offsets, group) {
                checks
                    .ops
                    .insert(op.0, (TxnOperation::SendOffsets, checks.txn));
            }
        }
        _ => net.disconnect(p, input),
    }
}

/// Whether records sent now belong to an open transaction.
fn in_transaction(p: &Producer) -> bool {
    p.transaction_state() == Some(TransactionState::InTransaction)
}

/// Each record keeps its sequence number when sent again under the same producer id and
/// epoch, and sequence numbers follow the order records were sent in.
fn sequences(checks: &mut Checks, req: &ProduceRequest) {
    for t in &req.topic_data {
        for part in &t.partition_data {
            let Some(records) = part.records.clone() else {
                continue;
            };
            for batch in RecordBatches::new(records) {
                let batch =
                    batch.unwrap_or_else(|e| panic!("a produced batch does not decode: {e}"));
                let h = *batch.header();
                if h.producer_id < 0 || h.base_sequence < 0 || h.base_sequence > i32::MAX / 2 {
                    continue;
                }
                let key = (h.producer_id, h.producer_epoch, t.name.clone(), part.index);
                let seqs = checks.sequences.entry(key).or_default();
                for (i, record) in batch.records().enumerate() {
                    let record =
                        record.unwrap_or_else(|e| panic!("a produced record does not decode: {e}"));
                    let Some(n) = record.value_bytes().and_then(|v| record_number(&v)) else {
                        continue;
                    };
                    let seq = h
                        .base_sequence
                        .saturating_add(i32::try_from(i).unwrap_or(0));
                    if let Some(was) = seqs.insert(n, seq) {
                        assert_eq!(
                            was, seq,
                            "record {n} sent again with another sequence number"
                        );
                    }
                }
                let ordered = seqs.values().zip(seqs.values().skip(1)).all(|(a, b)| a < b);
                assert!(
                    ordered,
                    "{}-{}: sequence numbers out of send order: {seqs:?}",
                    t.name, part.index
                );
            }
        }
    }
}

/// The number `record` wrote into a value.
fn record_number(value: &[u8]) -> Option<u64> {
    let digits = value.strip_prefix(b"v")?;
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(digits.get(..end)?).ok()?.parse().ok()
}

/// The bytes of a record's key, value and headers.
fn raw_size(r: &ProducerRecord) -> usize {
    let headers: usize = r
        .headers
        .iter()
        .map(|h| h.key.len() + h.value.as_ref().map_or(0, Bytes::len))
        .sum();
    r.key.as_ref().map_or(0, Bytes::len) + r.value.as_ref().map_or(0, Bytes::len) + headers
}

/// Whether the transaction state machine allows going from `from` to `to` in any number of
/// moves.
fn reachable(from: TransactionState, to: TransactionState) -> bool {
    use TransactionState::*;
    const ALL: [TransactionState; 8] = [
        Uninitialized,
        Initializing,
        Ready,
        InTransaction,
        Committing,
        Aborting,
        AbortableError,
        FatalError,
    ];
    let mut seen = vec![from];
    let mut i = 0;
    while let Some(&s) = seen.get(i) {
        for next in ALL {
            if s.can_move_to(next) && !seen.contains(&next) {
                seen.push(next);
            }
        }
        i += 1;
    }
    seen.contains(&to)
}

/// After each step: the driver drains requests and events; the checks run.
fn step(p: &mut Producer, net: &mut Net, checks: &mut Checks, input: &mut Input<'_>, fired: bool) {
    let now = net.now;
    let pid = p.producer_id_and_epoch();
    if pid != checks.pid {
        // A new id or epoch: sequence numbers start again.
        if let Some((id, epoch)) = pid {
            checks.sequences.retain(|k, _| (k.0, k.1) != (id, epoch));
        }
        checks.pid = pid;
    }
    for body in net.send(p, input) {
        if let RequestBody::Produce(r) = body {
            sequences(checks, &r);
        }
    }
    events(p, checks, &mut net.stats);
    if fired {
        assert!(
            p.poll_timeout().is_none_or(|t| t > now),
            "the deadline is still due right after handle_timeout"
        );
    }
    let max_in_flight = p.config().max_in_flight;
    let mut produces: BTreeMap<i32, usize> = BTreeMap::new();
    for (broker, sent) in net.in_flight() {
        if sent.api == ApiKey::Produce {
            *produces.entry(broker).or_default() += 1;
        }
    }
    assert!(
        produces.values().all(|n| *n <= max_in_flight),
        "more than {max_in_flight} Produce requests in flight to one broker: {produces:?}"
    );
    let pending = checks.sent.len() - checks.delivered.len();
    assert_eq!(p.pending_records(), pending, "records without an outcome");
    if pending == 0 {
        assert_eq!(
            p.buffered_bytes(),
            0,
            "bytes buffered with no record pending"
        );
    }
    let bound = p.config().buffer_memory.max(checks.largest + 128);
    assert!(
        p.buffered_bytes() <= bound,
        "{} bytes buffered, over {bound}",
        p.buffered_bytes()
    );
    let state = p.transaction_state();
    if let (Some(from), Some(to)) = (checks.state, state) {
        assert!(
            reachable(from, to),
            "transaction state moved from {from:?} to {to:?}"
        );
    }
    checks.state = state;
}

fn events(p: &mut Producer, checks: &mut Checks, stats: &mut Stats) {
    let mut n = 0;
    while let Some(event) = p.poll_event() {
        stats.event(&event);
        n += 1;
        assert!(n <= 100_000, "poll_event keeps returning events");
        match event {
            Event::Delivered { id, result } => {
                let Some(sent) = checks.sent.get(&id.0) else {
                    panic!("an outcome for {id}, which was never sent");
                };
                if let Ok(meta) = &result {
                    stats.records += 1;
                    assert_eq!(meta.partition.topic(), sent.topic, "{id}: topic");
                    if let Some(partition) = sent.partition {
                        assert_eq!(meta.partition.partition(), partition, "{id}: partition");
                    }
                }
                assert!(checks.delivered.insert(id.0), "{id} has two outcomes");
                if result.is_ok() {
                    checks.delivered_ok.insert(id.0);
                }
            }
            Event::Buffered { id } => {
                let waiting = checks.sent.get(&id.0).is_some_and(|s| s.waiting);
                assert!(waiting, "{id} buffered, but it was not sent to wait");
                assert!(
                    !checks.delivered.contains(&id.0),
                    "{id} buffered after its outcome"
                );
                assert!(checks.buffered.insert(id.0), "{id} buffered twice");
            }
            Event::Flushed { id } => {
                let Some(&upto) = checks.flushes.get(&id.0) else {
                    panic!("flush {} finished, but was never asked", id.0);
                };
                let missing: Vec<u64> = checks
                    .sent
                    .range(..upto)
                    .map(|(id, _)| *id)
                    .filter(|id| !checks.delivered.contains(id))
                    .collect();
                assert!(
                    missing.is_empty(),
                    "flush {} finished before the outcomes of {missing:?}",
                    id.0
                );
                assert!(checks.flushed.insert(id.0), "flush {} finished twice", id.0);
            }
            Event::Transaction {
                id,
                operation,
                result,
            } => {
                let Some(&(asked, txn)) = checks.ops.get(&id.0) else {
                    panic!("transaction op {} finished, but was never asked", id.0);
                };
                assert_eq!(operation, asked, "transaction op {}", id.0);
                assert!(checks.ops_done.insert(id.0), "op {} finished twice", id.0);
                let ended = matches!(operation, TxnOperation::Commit | TxnOperation::Abort);
                if ended && result.is_ok() {
                    // A commit or abort finishes after the outcome of every record of its
                    // transaction, and a commit succeeds only if each was written.
                    for (rid, sent) in &checks.sent {
                        if sent.txn != Some(txn) {
                            continue;
                        }
                        assert!(
                            checks.delivered.contains(rid),
                            "transaction {txn} ended ({operation}) before the outcome of record {rid}"
                        );
                        if operation == TxnOperation::Commit {
                            assert!(
                                checks.delivered_ok.contains(rid),
                                "transaction {txn} committed, but its record {rid} failed"
                            );
                        }
                    }
                }
            }
            // A kind of event added to the producer must get its own checks here.
            other => panic!("an event this fuzz body does not check: {other:?}"),
        }
    }
}

/// After the input: the brokers answer everything and the clock runs on, until every record
/// had the time its delivery timeout allows. Each must have its outcome by then.
fn drain(p: &mut Producer, net: &mut Net, world: &mut World, checks: &mut Checks) {
    let config = p.config();
    let budget = config.delivery_timeout
        + config.max_block
        + config.linger
        + config.transaction_timeout
        + 3 * REQUEST_TIMEOUT;
    let Some(until) = net.now.checked_add(budget) else {
        return;
    };
    let mut zeros = Input::new(&[]);
    for _ in 0..1000 {
        if net.now > until || p.pending_records() == 0 {
            break;
        }
        // Each request in flight gets its answer (those it leads to wait for the next round).
        for _ in 0..net.in_flight().count() {
            net.settle(p, world, &mut zeros);
            net.send(p, &mut zeros);
        }
        // To the next deadline, in steps of 500 ms to 1 s.
        let next = p
            .poll_timeout()
            .unwrap_or(net.now + Duration::from_secs(1))
            .clamp(
                net.now + Duration::from_millis(500),
                net.now + Duration::from_secs(1),
            );
        let fired = net.jump(p, next);
        step(p, net, checks, &mut zeros, fired);
    }
    if net.now > until {
        let missing: Vec<u64> = checks
            .sent
            .keys()
            .filter(|id| !checks.delivered.contains(id))
            .copied()
            .collect();
        assert!(
            missing.is_empty(),
            "records {missing:?} have no outcome long after their delivery timeout"
        );
    }
}

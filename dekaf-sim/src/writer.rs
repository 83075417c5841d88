//! An idempotent producer writing, beside a group, to the partitions the group consumes:
//! dekaf-state's producer machine on its own [`Link`] to the same [`Cluster`], under the same
//! faults. It keeps every command it gave the machine (sends, flushes) and every outcome the
//! machine reported, and checks the producer's promises: each command answered once
//! ([`Invariant::AnsweredOnce`]), and per partition no record twice
//! ([`Invariant::IdempotentNoDuplicate`]) and none out of send order
//! ([`Invariant::IdempotentOrder`]). A transactional writer also runs transactions one
//! after the other, each committed or aborted as asked, and checks that read_committed
//! readers see each whole or not at all ([`Invariant::TransactionAllOrNothing`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dekaf_state::offset::Backoff;
use dekaf_state::producer::{
    DeliveryError, DeliveryId, Event, FlushId, Producer, ProducerConfig, ProducerRecord,
    RecordMetadata, TransactionState, TxnOpId, TxnOperation,
};

use crate::invariants::{Invariant, Violation};
use crate::{Cluster, Link};

/// The transactional id of a transactional writer.
pub const TRANSACTIONAL_ID: &str = "tx";

/// The transactions of a transactional writer.
#[derive(Default)]
struct Txns {
    /// Transactions waiting their turn: how many records, and whether to commit.
    queue: VecDeque<(usize, bool)>,
    /// The one under way.
    current: Option<Current>,
    /// Every transaction that ended: its records' numbers and whether it committed (`None`:
    /// not known, the producer failed while ending it).
    ended: Vec<(Vec<u64>, Option<bool>)>,
    /// Operations asked for, and those answered.
    asked: BTreeSet<TxnOpId>,
    answered: BTreeSet<TxnOpId>,
}

/// The transaction under way.
struct Current {
    numbers: Vec<u64>,
    op: TxnOpId,
}

/// An idempotent producer, its connection, and what it was told and answered.
pub struct Writer {
    /// The producer machine.
    pub producer: Producer,
    link: Link,
    topic: String,
    partitions: i32,
    /// What the writer's record values start with, so that its records are told apart from
    /// the ones the cluster generates and from another writer's.
    prefix: &'static str,
    /// A transactional writer's transactions.
    txns: Option<Txns>,
    /// Every accepted send: its id and the number its value carries.
    sent: BTreeMap<DeliveryId, u64>,
    /// Every record's outcome.
    outcomes: BTreeMap<DeliveryId, Result<RecordMetadata, DeliveryError>>,
    /// Flushes asked for, and those answered.
    flushes: BTreeSet<FlushId>,
    flushed: BTreeSet<FlushId>,
    next: u64,
    /// Promises broken so far.
    pub violations: Vec<Violation>,
}

impl Writer {
    /// An idempotent producer for `partitions` partitions of `topic`, its answers `latency`
    /// away, seeded.
    pub fn new(topic: &str, partitions: i32, latency: Duration, seed: u64) -> Self {
        Writer::with(
            ProducerConfig::default(),
            "w",
            topic,
            partitions,
            latency,
            seed,
        )
    }

    /// A transactional producer ([`TRANSACTIONAL_ID`]) for `partitions` partitions of
    /// `topic`, its answers `latency` away, seeded: [`transaction`](Self::transaction) queues
    /// its transactions.
    pub fn transactional(topic: &str, partitions: i32, latency: Duration, seed: u64) -> Self {
        let config = ProducerConfig::transactional(TRANSACTIONAL_ID);
        let mut w = Writer::with(config, "x", topic, partitions, latency, seed);
        w.txns = Some(Txns::default());
        w
    }

    fn with(
        config: ProducerConfig,
        prefix: &'static str,
        topic: &str,
        partitions: i32,
        latency: Duration,
        seed: u64,
    ) -> Self {
        let config = config
            .backoff(Backoff {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(500),
                jitter: 0.2,
            })
            .linger(Duration::from_millis(5))
            .batch_size(300);
        // The default configuration with valid sizes and durations: always accepted.
        let producer = match Producer::new(config, seed) {
            Ok(p) => p,
            Err(e) => panic!("the writer's configuration is refused: {e}"),
        };
        Writer {
            producer,
            link: Link::new(latency, seed ^ 0x57),
            topic: topic.to_string(),
            partitions,
            prefix,
            txns: None,
            sent: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            flushes: BTreeSet::new(),
            flushed: BTreeSet::new(),
            next: 0,
            violations: Vec::new(),
        }
    }

    /// Sends `n` records, keyed so that they spread over the partitions; returns the
    /// numbers of those accepted.
    pub fn send(&mut self, now: Instant, n: usize) -> Vec<u64> {
        let mut numbers = Vec::new();
        for _ in 0..n {
            let i = self.next;
            self.next += 1;
            let record = ProducerRecord::new(self.topic.clone(), format!("{}{i}", self.prefix))
                .key(format!("k{}", i % 11));
            // A full buffer (or a transactional producer not in a transaction) refuses the
            // record at once: nothing to answer later.
            if let Ok(id) = self.producer.send(now, record) {
                self.sent.insert(id, i);
                numbers.push(i);
            }
        }
        numbers
    }

    /// Queues a transaction of `n` records, to be committed or aborted; it starts once the
    /// ones before it ended. Does nothing for an idempotent writer.
    pub fn transaction(&mut self, n: usize, commit: bool) {
        if let Some(t) = self.txns.as_mut() {
            t.queue.push_back((n, commit));
        }
    }

    /// Starts what a transactional writer can start at `now`: its initialisation, or the next
    /// transaction once the producer is ready.
    fn start_transactions(&mut self, now: Instant) {
        let Some(state) = self.producer.transaction_state() else {
            return;
        };
        let Some(t) = self.txns.as_mut() else { return };
        if state == TransactionState::Uninitialized {
            if let Ok(op) = self.producer.init_transactions(now) {
                t.asked.insert(op);
            }
            return;
        }
        if state != TransactionState::Ready || t.current.is_some() {
            return;
        }
        let Some((n, commit)) = t.queue.pop_front() else {
            return;
        };
        if self.producer.begin_transaction().is_err() {
            return;
        }
        let numbers = self.send(now, n);
        let end = if commit {
            self.producer.commit_transaction(now)
        } else {
            self.producer.abort_transaction(now)
        };
        let Some(t) = self.txns.as_mut() else { return };
        match end {
            Ok(op) => {
                t.asked.insert(op);
                t.current = Some(Current { numbers, op });
            }
            Err(e) => self.violations.push(Violation::new(
                Invariant::NoClientBug,
                format!("ending a transaction just begun is refused: {e}"),
            )),
        }
    }

    /// A transaction operation's outcome.
    fn ended(
        &mut self,
        now: Instant,
        id: TxnOpId,
        operation: TxnOperation,
        result: Result<(), dekaf_state::producer::TransactionError>,
    ) {
        let Some(t) = self.txns.as_mut() else { return };
        if !t.asked.contains(&id) || !t.answered.insert(id) {
            self.violations.push(Violation::new(
                Invariant::AnsweredOnce,
                format!("{operation} {id:?} answered twice or never asked: {result:?}"),
            ));
            return;
        }
        if t.current.as_ref().is_none_or(|c| c.op != id) {
            return;
        }
        let Some(current) = t.current.take() else {
            return;
        };
        match result {
            Ok(()) => t
                .ended
                .push((current.numbers, Some(operation == TxnOperation::Commit))),
            Err(e) if e.is_abortable() => {
                // Whatever failed, the transaction is aborted.
                match self.producer.abort_transaction(now) {
                    Ok(op) => {
                        t.asked.insert(op);
                        t.current = Some(Current {
                            numbers: current.numbers,
                            op,
                        });
                    }
                    Err(_) => t.ended.push((current.numbers, None)),
                }
            }
            // A fatal error: committed or not, not known (see `commit_transaction`).
            Err(_) => t.ended.push((current.numbers, None)),
        }
    }

    /// Asks for a flush.
    pub fn flush(&mut self, now: Instant) {
        let id = self.producer.flush(now);
        self.flushes.insert(id);
    }

    /// Feeds the answers and the timer due at `now`, sends what the producer wants, and
    /// collects its events.
    pub fn step(&mut self, cluster: &mut Cluster, now: Instant) {
        let mut steps = 0;
        while self.link.step(cluster, &mut self.producer, now) {
            steps += 1;
            if steps >= 10_000 {
                self.violations.push(Violation::new(
                    Invariant::NoClientBug,
                    format!("the producer does not settle at {now:?}"),
                ));
                break;
            }
        }
        self.collect(now);
        self.start_transactions(now);
        while self.link.step(cluster, &mut self.producer, now) {
            steps += 1;
            if steps >= 10_000 {
                break;
            }
        }
        self.collect(now);
    }

    fn collect(&mut self, now: Instant) {
        while let Some(e) = self.producer.poll_event() {
            match e {
                Event::Delivered { id, result } => {
                    if !self.sent.contains_key(&id) {
                        self.violations.push(Violation::new(
                            Invariant::AnsweredOnce,
                            format!("outcome for {id}, never sent"),
                        ));
                    }
                    if let Some(first) = self.outcomes.insert(id, result.clone()) {
                        self.violations.push(Violation::new(
                            Invariant::AnsweredOnce,
                            format!("{id} answered twice: {first:?}, then {result:?}"),
                        ));
                    }
                }
                Event::Flushed { id }
                    if !self.flushes.contains(&id) || !self.flushed.insert(id) =>
                {
                    self.violations.push(Violation::new(
                        Invariant::AnsweredOnce,
                        format!("flush {id:?} answered twice or never asked"),
                    ));
                }
                Event::Transaction {
                    id,
                    operation,
                    result,
                } => self.ended(now, id, operation, result),
                _ => {}
            }
        }
    }

    /// Whether every command has its outcome, and every transaction queued ended (or the
    /// producer failed for good).
    pub fn is_answered(&self) -> bool {
        let txns_done = self.txns.as_ref().is_none_or(|t| {
            t.answered.len() >= t.asked.len()
                && (t.current.is_none() && t.queue.is_empty()
                    || self.producer.fatal_error().is_some())
        });
        self.outcomes.len() >= self.sent.len()
            && self.flushed.len() >= self.flushes.len()
            && txns_done
    }

    /// The commands still without an outcome, as violations (checked once everything is
    /// drained).
    pub fn unanswered(&self) -> Vec<Violation> {
        let mut found = Vec::new();
        let missing: Vec<String> = self
            .sent
            .keys()
            .filter(|id| !self.outcomes.contains_key(id))
            .map(|id| id.to_string())
            .collect();
        if !missing.is_empty() {
            found.push(Violation::new(
                Invariant::AnsweredOnce,
                format!(
                    "{} sends never answered: {}",
                    missing.len(),
                    missing.join(", ")
                ),
            ));
        }
        let flushes = self.flushes.difference(&self.flushed).count();
        if flushes > 0 {
            found.push(Violation::new(
                Invariant::AnsweredOnce,
                format!("{flushes} flushes never answered"),
            ));
        }
        if let Some(t) = &self.txns {
            let ops = t.asked.difference(&t.answered).count();
            if ops > 0 || t.current.is_some() || !t.queue.is_empty() {
                found.push(Violation::new(
                    Invariant::AnsweredOnce,
                    format!(
                        "{ops} transaction operations never answered, {} transactions not \
                         started (state {:?})",
                        t.queue.len(),
                        self.producer.transaction_state()
                    ),
                ));
            }
        }
        found
    }

    /// The numbers of the writer's records in a partition's log, in offset order.
    fn written(&self, cluster: &Cluster, p: i32) -> Vec<(i64, u64)> {
        cluster
            .get(&self.topic, p)
            .map(|part| {
                part.records()
                    .iter()
                    .filter_map(|r| self.number(r.value.as_ref()).map(|n| (r.offset, n)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Checks the logs: no record of the writer twice, none out of send order, and every
    /// record the producer was told is written at the offset it was told.
    pub fn check_logs(&self, cluster: &Cluster) -> Vec<Violation> {
        let mut found = Vec::new();
        let mut at: BTreeMap<(i32, i64), u64> = BTreeMap::new();
        for p in 0..self.partitions {
            let log = self.written(cluster, p);
            let numbers: Vec<u64> = log.iter().map(|(_, n)| *n).collect();
            let distinct: BTreeSet<u64> = numbers.iter().copied().collect();
            if distinct.len() != numbers.len() {
                found.push(Violation::new(
                    Invariant::IdempotentNoDuplicate,
                    format!("{}-{p} holds a record twice: {numbers:?}", self.topic),
                ));
            }
            if numbers.windows(2).any(|w| w[0] >= w[1]) {
                found.push(Violation::new(
                    Invariant::IdempotentOrder,
                    format!("{}-{p} out of send order: {numbers:?}", self.topic),
                ));
            }
            at.extend(log.into_iter().map(|(offset, n)| ((p, offset), n)));
        }
        for (id, result) in &self.outcomes {
            let (Ok(meta), Some(n)) = (result, self.sent.get(id)) else {
                continue;
            };
            let p = meta.partition.partition();
            let Some(offset) = meta.offset else { continue };
            if at.get(&(p, offset)) != Some(n) {
                found.push(Violation::new(
                    Invariant::IdempotentNoDuplicate,
                    format!(
                        "record {n} told written at {}-{p}@{offset}, which holds {:?}",
                        self.topic,
                        at.get(&(p, offset))
                    ),
                ));
            }
        }
        found
    }

    /// The number a record value of this writer carries, if it is one.
    pub fn number(&self, value: Option<&Bytes>) -> Option<u64> {
        let v = std::str::from_utf8(value?).ok()?;
        v.strip_prefix(self.prefix)?.parse().ok()
    }

    /// Checks what read_committed readers were handed (the numbers of this writer's records,
    /// once everything settled): every record of a committed transaction, none of an aborted
    /// one, and of a transaction whose outcome the producer could not tell, all or none.
    pub fn check_reads(&self, read: &BTreeSet<u64>) -> Vec<Violation> {
        let mut found = Vec::new();
        let Some(t) = &self.txns else { return found };
        for (numbers, committed) in &t.ended {
            let seen: Vec<u64> = numbers
                .iter()
                .copied()
                .filter(|n| read.contains(n))
                .collect();
            let whole = seen.len() == numbers.len();
            let ok = match committed {
                Some(true) => whole,
                Some(false) => seen.is_empty(),
                None => whole || seen.is_empty(),
            };
            if !ok {
                found.push(Violation::new(
                    Invariant::TransactionAllOrNothing,
                    format!("transaction {numbers:?} (committed: {committed:?}): read {seen:?}"),
                ));
            }
        }
        found
    }
}

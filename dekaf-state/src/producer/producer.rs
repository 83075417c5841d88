//! The producer machine: its state, getters, outcomes, and the driver contract.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use super::batch::{PartitionQueue, PendingRecord};
use super::config::{ConfigError, ProducerConfig};
use super::error::{DeliveryError, FatalError};
use super::idempotence::ProducerId;
use super::metadata::Metadata;
use super::partitioner::Sticky;
use super::stats::ProducerStats;
use super::transactions::Transaction;
use super::txn::TransactionState;
use super::types::{DeliveryId, Event, FlushId, RecordMetadata, Topic, TxnOpId};
use super::undelivered::Undelivered;
use super::waiting::Waiting;
use crate::client::{
    BrokerAddress, BrokerId, ClientMachine, Destination, Outgoing, RequestFailed, RequestId,
    Response,
};
use crate::offset::{Rng, TopicPartition};

/// A record waiting for its topic's metadata before it can be given a partition.
#[derive(Debug)]
pub(crate) struct Unrouted {
    pub(crate) record: PendingRecord,
    pub(crate) partition: Option<i32>,
    pub(crate) created: Instant,
    pub(crate) deadline: Instant,
}

/// What a request id stands for, so that its answer finds its way back.
#[derive(Debug)]
pub(crate) enum Pending {
    Metadata,
    Produce {
        broker: BrokerId,
        batches: Vec<(TopicPartition, u64)>,
    },
    InitProducerId,
    FindTxnCoordinator,
    FindGroupCoordinator,
    AddPartitions,
    AddOffsets,
    TxnOffsetCommit,
    EndTxn,
}

/// A Kafka producer without IO: records in, Produce (and transaction) requests out, outcomes
/// as events. It reads no clock: every input and command takes `now`.
///
/// It partitions records (murmur2 of the key as the Java client does, a sticky partition for
/// records without a key, or the application's choice), batches them per partition (linger,
/// batch size, one codec), sends each batch to its partition's leader (at most
/// `max_in_flight` Produce requests per broker), retries with backoff within the delivery
/// timeout, splits a batch the broker refuses as too large into halves (a record too large
/// on its own fails with the broker's code), and keeps the order of each partition. With idempotence (the default) batches
/// carry a producer id, an epoch and sequence numbers, so that a retry is never written twice
/// or out of order; with a transactional id it runs Kafka's transactions, including offsets
/// committed with the transaction for consume-transform-produce.
///
/// # Getters
/// [`config`](Self::config), [`transaction_state`](Self::transaction_state),
/// [`producer_id_and_epoch`](Self::producer_id_and_epoch),
/// [`fatal_error`](Self::fatal_error), [`pending_records`](Self::pending_records),
/// [`buffered_bytes`](Self::buffered_bytes), [`waiting_records`](Self::waiting_records),
/// [`is_waiting`](Self::is_waiting), [`partition_count`](Self::partition_count),
/// [`is_idle`](Self::is_idle), [`is_closed`](Self::is_closed).
///
/// # Commands (from the application)
/// [`send`](Self::send), [`send_waiting`](Self::send_waiting) and [`cancel`](Self::cancel)
/// (backpressure: wait for room in a full buffer), [`flush`](Self::flush),
/// [`close`](Self::close); transactions:
/// [`init_transactions`](Self::init_transactions),
/// [`begin_transaction`](Self::begin_transaction),
/// [`send_offsets_to_transaction`](Self::send_offsets_to_transaction),
/// [`commit_transaction`](Self::commit_transaction),
/// [`abort_transaction`](Self::abort_transaction).
///
/// # Inputs (from the driver, through [`ClientMachine`])
/// `handle_response` for every answer or failure of a request it sent, `handle_disconnected`,
/// `handle_timeout` when the deadline of `poll_timeout` passed.
///
/// # Outputs, and the order a driver polls them
/// After every command or input the driver:
/// 1. calls `poll_request` until it returns `None` and sends each request;
/// 2. calls [`poll_event`](Self::poll_event) until it returns `None`: record outcomes,
///    records that got room in the buffer, flushes and transaction operations finished;
/// 3. sleeps until `poll_timeout` (linger, retry backoff, delivery timeout, `max_block` of a
///    waiting record, metadata age), an answer, or a command, then calls `handle_timeout`
///    when the deadline passed.
#[derive(Debug)]
pub struct Producer {
    pub(crate) config: ProducerConfig,
    pub(crate) rng: Rng,
    /// The latest `now` seen: deadlines at or before it were acted upon already.
    pub(crate) now: Option<Instant>,
    pub(crate) metadata: Metadata,
    pub(crate) sticky: Sticky,
    pub(crate) partitions: BTreeMap<TopicPartition, PartitionQueue>,
    pub(crate) unrouted: BTreeMap<Topic, VecDeque<Unrouted>>,
    pub(crate) requests: HashMap<RequestId, Pending>,
    pub(crate) produce_in_flight: HashMap<BrokerId, usize>,
    /// Sizes of the records not reported yet (0 for those waiting for room).
    pub(crate) undelivered: Undelivered,
    pub(crate) buffered: usize,
    /// Records waiting for room in the buffer, in send order.
    pub(crate) waiting: VecDeque<Waiting>,
    pub(crate) flushes: VecDeque<(FlushId, DeliveryId)>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) pid: ProducerId,
    pub(crate) txn: Option<Transaction>,
    pub(crate) fatal: Option<FatalError>,
    pub(crate) closed: bool,
    pub(crate) next_request: u64,
    pub(crate) next_delivery: u64,
    pub(crate) next_batch: u64,
    pub(crate) next_flush: u64,
    pub(crate) next_op: u64,
    /// Where the next Produce starts among the partitions, so that none is always last.
    pub(crate) drain_start: usize,
    /// Something changed since `poll_request` last returned `None` (see `wants_poll`).
    pub(crate) poll_wanted: bool,
    /// Batches sent, their fill and queue time, retries.
    pub(crate) stats: ProducerStats,
}

impl Producer {
    /// A producer with `config`. `seed` drives the sticky partitioner and the backoff
    /// jitter, so that a run replays exactly from it.
    ///
    /// An idempotent producer asks for its producer id at once; a transactional one waits
    /// for [`init_transactions`](Self::init_transactions).
    pub fn new(config: ProducerConfig, seed: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        let txn = config.transactional_id.clone().map(Transaction::new);
        let pid = ProducerId::new(config.enable_idempotence && txn.is_none());
        Ok(Producer {
            metadata: Metadata::new(config.metadata_max_age, config.allow_auto_topic_creation),
            rng: Rng::new(seed),
            sticky: Sticky::new(seed ^ 0x5851_f42d_4c95_7f2d),
            config,
            now: None,
            partitions: BTreeMap::new(),
            unrouted: BTreeMap::new(),
            requests: HashMap::new(),
            produce_in_flight: HashMap::new(),
            undelivered: Undelivered::default(),
            buffered: 0,
            waiting: VecDeque::new(),
            flushes: VecDeque::new(),
            events: VecDeque::new(),
            pid,
            txn,
            fatal: None,
            closed: false,
            next_request: 0,
            next_delivery: 0,
            next_batch: 0,
            next_flush: 0,
            next_op: 0,
            drain_start: 0,
            poll_wanted: true,
            stats: ProducerStats::default(),
        })
    }

    // ---- getters ----

    /// The settings.
    pub fn config(&self) -> &ProducerConfig {
        &self.config
    }

    /// The transaction state; `None` for a producer without a transactional id.
    pub fn transaction_state(&self) -> Option<TransactionState> {
        self.txn.as_ref().map(|t| t.state)
    }

    /// The producer id and epoch batches are stamped with, once known.
    pub fn producer_id_and_epoch(&self) -> Option<(i64, i16)> {
        self.pid.current()
    }

    /// The error that stopped the producer, if one did.
    pub fn fatal_error(&self) -> Option<&FatalError> {
        self.fatal.as_ref()
    }

    /// Records sent and not reported yet, those waiting for room in the buffer included.
    pub fn pending_records(&self) -> usize {
        self.undelivered.len()
    }

    /// Bytes of records in the buffer (bounded by `buffer_memory`, or one record's size);
    /// records waiting for room take none.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// What the producer counted since it was created: batches sent, their fill and queue
    /// time, retries by cause.
    pub fn stats(&self) -> &ProducerStats {
        &self.stats
    }

    /// Records in the buffer that no request in flight carries: in batches waiting to go
    /// (lingering, in retry backoff, held back behind a retry) or waiting for metadata.
    pub fn buffered_records(&self) -> usize {
        let batched: usize = self
            .partitions
            .values()
            .flat_map(|q| q.batches.iter())
            .filter(|b| !b.is_in_flight())
            .map(|b| b.len())
            .sum();
        let unrouted: usize = self.unrouted.values().map(|q| q.len()).sum();
        batched + unrouted
    }

    /// Produce requests written and not answered yet, over every broker.
    pub fn produce_requests_in_flight(&self) -> usize {
        self.produce_in_flight.values().sum()
    }

    /// The number of partitions of `topic`, once metadata described it.
    pub fn partition_count(&self, topic: &str) -> Option<usize> {
        self.metadata.partition_count(topic)
    }

    /// Whether nothing is left to do: no record pending, no request in flight, no
    /// transaction operation under way.
    pub fn is_idle(&self) -> bool {
        self.undelivered.is_empty()
            && self
                .requests
                .values()
                .all(|p| matches!(p, Pending::Metadata))
            && self.txn.as_ref().is_none_or(Transaction::is_quiet)
    }

    /// Whether a driver has anything to do since `poll_request` last returned `None`: a
    /// request may be due, the next timeout may have moved, or an event waits. A
    /// [`send`](Self::send) that only added a record to a batch already waiting for its
    /// linger time leaves it false, so that a driver may skip its step for that record; any
    /// other command or input may set it.
    pub fn wants_poll(&self) -> bool {
        self.poll_wanted || !self.events.is_empty()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    // ---- outputs ----

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---- shared helpers ----

    pub(crate) fn next_request_id(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        id
    }

    pub(crate) fn next_op_id(&mut self) -> TxnOpId {
        let id = TxnOpId(self.next_op);
        self.next_op += 1;
        id
    }

    pub(crate) fn observe(&mut self, now: Instant) {
        if self.now.is_none_or(|t| now > t) {
            self.now = Some(now);
        }
    }

    /// Reports a record's outcome and lets flushes waiting on it complete.
    pub(crate) fn deliver(
        &mut self,
        id: DeliveryId,
        result: Result<RecordMetadata, DeliveryError>,
    ) {
        if let Some(size) = self.undelivered.remove(id) {
            self.buffered = self.buffered.saturating_sub(size);
            self.events.push_back(Event::Delivered { id, result });
            self.poll_wanted = true;
        }
        self.complete_flushes();
    }

    pub(crate) fn complete_flushes(&mut self) {
        let first = self.undelivered.first();
        while let Some((flush, upto)) = self.flushes.front().copied() {
            if first.is_some_and(|f| f <= upto) {
                break;
            }
            self.flushes.pop_front();
            self.events.push_back(Event::Flushed { id: flush });
        }
    }

    /// The newest record a pending flush waits for.
    pub(crate) fn flush_upto(&self) -> Option<DeliveryId> {
        self.flushes.back().map(|(_, upto)| *upto)
    }

    /// Stops the producer for good: every pending record and operation fails with `error`.
    pub(crate) fn fail_fatally(&mut self, error: FatalError) {
        if self.fatal.is_some() {
            return;
        }
        self.fatal = Some(error.clone());
        for w in self.take_waiting() {
            self.deliver(w.id, Err(DeliveryError::Fatal(error.clone())));
        }
        let unrouted = std::mem::take(&mut self.unrouted);
        for (_, queue) in unrouted {
            for u in queue {
                self.deliver(u.record.id, Err(DeliveryError::Fatal(error.clone())));
            }
        }
        let mut failed = Vec::new();
        for q in self.partitions.values_mut() {
            let mut keep = std::collections::VecDeque::new();
            for b in q.batches.drain(..) {
                if b.is_in_flight() {
                    keep.push_back(b);
                } else {
                    failed.extend(b.ids());
                }
            }
            q.batches = keep;
        }
        for id in failed {
            self.deliver(id, Err(DeliveryError::Fatal(error.clone())));
        }
        if let Some(txn) = self.txn.as_mut() {
            let ops = txn.fail_fatally(&error);
            self.events.extend(ops);
        }
    }

    /// Sends nothing to a broker it has no address for.
    pub(crate) fn known_broker(&self, id: BrokerId) -> bool {
        self.metadata.broker(id).is_some()
    }
}

impl ClientMachine for Producer {
    fn poll_request(&mut self, now: Instant) -> Option<Outgoing> {
        self.observe(now);
        self.expire(now);
        self.progress(now);
        let id = self.next_request_id();
        let outgoing = self.next_outgoing(now, id);
        if outgoing.is_none() {
            // Ids are cheap; reuse the number for the next call.
            self.next_request -= 1;
            self.poll_wanted = false;
        }
        outgoing
    }

    fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        self.observe(now);
        let Some(pending) = self.requests.remove(&id) else {
            return;
        };
        match pending {
            Pending::Metadata => self.handle_metadata(now, id, result),
            Pending::Produce { broker, batches } => {
                self.handle_produce(now, id, broker, batches, result)
            }
            Pending::InitProducerId => self.handle_init_producer_id(now, id, result),
            Pending::FindTxnCoordinator => self.handle_find_txn_coordinator(now, id, result),
            Pending::FindGroupCoordinator => self.handle_find_group_coordinator(now, id, result),
            Pending::AddPartitions => self.handle_add_partitions(now, id, result),
            Pending::AddOffsets => self.handle_add_offsets(now, id, result),
            Pending::TxnOffsetCommit => self.handle_txn_offset_commit(now, id, result),
            Pending::EndTxn => self.handle_end_txn(now, id, result),
        }
        self.progress(now);
    }

    fn handle_disconnected(&mut self, now: Instant, connection: Destination) {
        self.observe(now);
        if connection.broker().is_some() {
            self.metadata.invalidate();
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.observe(now);
        self.expire(now);
        self.progress(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let after_now = |t: &Instant| self.now.is_none_or(|now| *t > now);
        let mut next: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t.filter(after_now) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.metadata.next_timeout());
        consider(self.pid.next_timeout());
        if let Some(txn) = &self.txn {
            for t in txn.timeouts() {
                consider(Some(t));
            }
        }
        for queue in self.unrouted.values() {
            consider(queue.front().map(|u| u.deadline));
        }
        consider(self.waiting.front().map(|w| w.deadline));
        for q in self.partitions.values() {
            for t in self.partition_timeouts(q) {
                consider(t);
            }
        }
        next
    }

    fn broker_address(&self, id: BrokerId) -> Option<BrokerAddress> {
        self.metadata.broker(id)
    }
}

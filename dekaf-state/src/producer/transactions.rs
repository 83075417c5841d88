//! Transactions: their state, the commands, and the moves that need no answer. Requests are
//! in `txn_requests.rs`, answers in `txn_answers.rs`, the allowed state moves in `txn.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use super::attempt::Attempt;
use super::error::{AbortableError, DeliveryError, FatalError, TransactionError};
use super::producer::Producer;
use super::txn::TransactionState;
use super::types::{ConsumerGroupMetadata, Event, TxnOpId, TxnOperation};
use crate::client::BrokerId;
use crate::offset::{OffsetAndMetadata, TopicPartition};

/// One `send_offsets_to_transaction` under way.
#[derive(Debug)]
pub(crate) struct OffsetsOp {
    pub(crate) op: TxnOpId,
    pub(crate) group: ConsumerGroupMetadata,
    /// Offsets not yet accepted by the group coordinator.
    pub(crate) offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    /// AddOffsetsToTxn succeeded: the group's offsets now follow the transaction.
    pub(crate) added: bool,
    pub(crate) attempt: Attempt,
}

/// The transaction side of a transactional producer.
#[derive(Debug)]
pub(crate) struct Transaction {
    pub(crate) transactional_id: String,
    pub(crate) state: TransactionState,
    /// Why the state is `AbortableError` or `FatalError`.
    pub(crate) error: Option<TransactionError>,
    pub(crate) coordinator: Option<BrokerId>,
    pub(crate) lookup: Attempt,
    pub(crate) group_coordinators: BTreeMap<String, BrokerId>,
    pub(crate) group_lookup: Attempt,
    pub(crate) init_ops: Vec<TxnOpId>,
    /// Partitions the coordinator added to the open transaction.
    pub(crate) partitions: BTreeSet<TopicPartition>,
    /// Partitions written to and not yet added.
    pub(crate) pending: BTreeSet<TopicPartition>,
    /// Partitions of the AddPartitionsToTxn in flight.
    pub(crate) adding: Vec<TopicPartition>,
    pub(crate) add: Attempt,
    /// The coordinator knows of the open transaction (a partition or a group was added):
    /// ending it needs an EndTxn.
    pub(crate) started: bool,
    pub(crate) offsets: VecDeque<OffsetsOp>,
    /// `Some(commit?)` while the transaction is being ended.
    pub(crate) end: Option<bool>,
    /// The commit or abort calls waiting for the end, each with what it asked for (`end`
    /// is cleared while an abort waits for an epoch bump, so it cannot name them).
    pub(crate) end_ops: Vec<(TxnOpId, TxnOperation)>,
    pub(crate) end_attempt: Attempt,
    /// Sequence numbers were lost: bump the epoch after the abort.
    pub(crate) bump_after_abort: bool,
}

impl Transaction {
    pub(crate) fn new(transactional_id: String) -> Self {
        Transaction {
            transactional_id,
            state: TransactionState::Uninitialized,
            error: None,
            coordinator: None,
            lookup: Attempt::default(),
            group_coordinators: BTreeMap::new(),
            group_lookup: Attempt::default(),
            init_ops: Vec::new(),
            partitions: BTreeSet::new(),
            pending: BTreeSet::new(),
            adding: Vec::new(),
            add: Attempt::default(),
            started: false,
            offsets: VecDeque::new(),
            end: None,
            end_ops: Vec::new(),
            end_attempt: Attempt::default(),
            bump_after_abort: false,
        }
    }

    pub(crate) fn move_to(&mut self, next: TransactionState) {
        debug_assert!(self.state.can_move_to(next), "{:?} -> {next:?}", self.state);
        if self.state.can_move_to(next) {
            self.state = next;
        }
    }

    /// A record was routed to `tp`: add the partition to the transaction before its first
    /// batch goes out.
    pub(crate) fn register_partition(&mut self, tp: &TopicPartition) {
        if !self.partitions.contains(tp) && !self.adding.contains(tp) {
            self.pending.insert(tp.clone());
        }
    }

    /// Whether a request to the transaction coordinator is in flight (they go one at a
    /// time, so that none overtakes another).
    pub(crate) fn coordinator_busy(&self) -> bool {
        self.add.in_flight.is_some()
            || self.end_attempt.in_flight.is_some()
            || self
                .offsets
                .front()
                .is_some_and(|o| !o.added && o.attempt.in_flight.is_some())
    }

    /// Whether no operation is under way.
    pub(crate) fn is_quiet(&self) -> bool {
        self.init_ops.is_empty()
            && self.end_ops.is_empty()
            && self.offsets.is_empty()
            && self.adding.is_empty()
    }

    pub(crate) fn timeouts(&self) -> impl Iterator<Item = Instant> + '_ {
        [
            self.lookup.next_timeout(),
            self.group_lookup.next_timeout(),
            self.add.next_timeout(),
            self.offsets.front().and_then(|o| o.attempt.next_timeout()),
            self.end_attempt.next_timeout(),
        ]
        .into_iter()
        .flatten()
    }

    pub(crate) fn needs_coordinator(&self, pid_wanted: bool) -> bool {
        self.coordinator.is_none()
            && (pid_wanted
                || !self.pending.is_empty()
                || self.offsets.front().is_some_and(|o| !o.added)
                || self.end.is_some())
    }

    /// Fails every operation under way; returns their events.
    pub(crate) fn fail_fatally(&mut self, error: &FatalError) -> Vec<Event> {
        let e = TransactionError::Fatal(error.clone());
        self.state = TransactionState::FatalError;
        self.error = Some(e.clone());
        let mut events = Vec::new();
        for id in self.init_ops.drain(..) {
            events.push(op_event(id, TxnOperation::Init, Err(e.clone())));
        }
        for o in self.offsets.drain(..) {
            events.push(op_event(o.op, TxnOperation::SendOffsets, Err(e.clone())));
        }
        for (id, operation) in self.end_ops.drain(..) {
            events.push(op_event(id, operation, Err(e.clone())));
        }
        self.end = None;
        self.pending.clear();
        events
    }

    /// Back to `Ready` after a commit or an abort, forgetting the transaction.
    fn finish(&mut self) -> Vec<Event> {
        self.move_to(TransactionState::Ready);
        self.partitions.clear();
        self.pending.clear();
        self.started = false;
        self.end = None;
        self.end_attempt = Attempt::default();
        self.error = None;
        self.end_ops
            .drain(..)
            .map(|(id, operation)| op_event(id, operation, Ok(())))
            .collect()
    }
}

pub(crate) fn op_event(
    id: TxnOpId,
    operation: TxnOperation,
    result: Result<(), TransactionError>,
) -> Event {
    Event::Transaction {
        id,
        operation,
        result,
    }
}

impl Producer {
    fn check_transactional(&self) -> Result<&Transaction, TransactionError> {
        if let Some(e) = &self.fatal {
            return Err(TransactionError::Fatal(e.clone()));
        }
        self.txn.as_ref().ok_or(TransactionError::NotTransactional)
    }

    /// Gets the producer id and epoch of the transactional id from its coordinator, fencing
    /// any older producer with the same id (its open transaction is aborted). Finishes with
    /// [`Event::Transaction`]; calling it again while it runs follows the same work.
    pub fn init_transactions(&mut self, now: Instant) -> Result<TxnOpId, TransactionError> {
        self.observe(now);
        let state = self.check_transactional()?.state;
        match state {
            TransactionState::Uninitialized | TransactionState::Initializing => {}
            state => {
                return Err(TransactionError::InvalidState {
                    operation: TxnOperation::Init,
                    state,
                })
            }
        }
        let op = self.next_op_id();
        if let Some(txn) = self.txn.as_mut() {
            if state == TransactionState::Uninitialized {
                txn.move_to(TransactionState::Initializing);
                self.pid.want_new();
            }
            txn.init_ops.push(op);
        }
        Ok(op)
    }

    /// Opens a transaction; records sent from now on belong to it. Does no IO.
    pub fn begin_transaction(&mut self) -> Result<(), TransactionError> {
        let txn = self.check_transactional()?;
        match txn.state {
            TransactionState::Ready => {}
            TransactionState::AbortableError => {
                return Err(txn.error.clone().unwrap_or(TransactionError::InvalidState {
                    operation: TxnOperation::Begin,
                    state: txn.state,
                }))
            }
            state => {
                return Err(TransactionError::InvalidState {
                    operation: TxnOperation::Begin,
                    state,
                })
            }
        }
        if let Some(txn) = self.txn.as_mut() {
            txn.move_to(TransactionState::InTransaction);
        }
        Ok(())
    }

    /// Commits `offsets` for `group` with the transaction: they become the group's
    /// committed offsets if and only if the transaction commits. `group` comes from the
    /// consumer whose records were processed: its generation and member id let the group
    /// coordinator refuse offsets from a member that was replaced.
    pub fn send_offsets_to_transaction(
        &mut self,
        now: Instant,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
        group: ConsumerGroupMetadata,
    ) -> Result<TxnOpId, TransactionError> {
        self.observe(now);
        let txn = self.check_transactional()?;
        match txn.state {
            TransactionState::InTransaction => {}
            TransactionState::AbortableError => {
                return Err(txn.error.clone().unwrap_or(TransactionError::InvalidState {
                    operation: TxnOperation::SendOffsets,
                    state: txn.state,
                }))
            }
            state => {
                return Err(TransactionError::InvalidState {
                    operation: TxnOperation::SendOffsets,
                    state,
                })
            }
        }
        let offsets: BTreeMap<_, _> = offsets.into_iter().collect();
        let op = self.next_op_id();
        if offsets.is_empty() {
            self.events
                .push_back(op_event(op, TxnOperation::SendOffsets, Ok(())));
            return Ok(op);
        }
        if let Some(txn) = self.txn.as_mut() {
            txn.offsets.push_back(OffsetsOp {
                op,
                group,
                offsets,
                added: false,
                attempt: Attempt::default(),
            });
        }
        Ok(op)
    }

    /// Sends every record of the transaction, waits for their outcomes and for pending
    /// offsets, then asks the coordinator to commit. Finishes with [`Event::Transaction`]: an
    /// abortable error if anything of the transaction failed (then abort), a fatal one if the
    /// producer was fenced. Success means committed; a fatal error does not always mean the
    /// opposite: when the answer to an earlier EndTxn was lost and a newer producer took over
    /// before the retry, the commit happened and the retry reports the fencing.
    pub fn commit_transaction(&mut self, now: Instant) -> Result<TxnOpId, TransactionError> {
        self.end_transaction(now, true)
    }

    /// Drops the transaction's unsent records (reported as
    /// [`DeliveryError::TransactionAborted`]), waits for those in flight, then asks the
    /// coordinator to abort. Finishes with [`Event::Transaction`].
    pub fn abort_transaction(&mut self, now: Instant) -> Result<TxnOpId, TransactionError> {
        self.end_transaction(now, false)
    }

    fn end_transaction(&mut self, now: Instant, commit: bool) -> Result<TxnOpId, TransactionError> {
        self.observe(now);
        let operation = if commit {
            TxnOperation::Commit
        } else {
            TxnOperation::Abort
        };
        let txn = self.check_transactional()?;
        let state = txn.state;
        let next = match (state, commit) {
            (TransactionState::InTransaction, true) => TransactionState::Committing,
            (TransactionState::Committing, true) | (TransactionState::Aborting, false) => state,
            (TransactionState::InTransaction | TransactionState::AbortableError, false) => {
                TransactionState::Aborting
            }
            (TransactionState::AbortableError, true) => {
                return Err(txn
                    .error
                    .clone()
                    .unwrap_or(TransactionError::InvalidState { operation, state }))
            }
            _ => return Err(TransactionError::InvalidState { operation, state }),
        };
        let op = self.next_op_id();
        if let Some(txn) = self.txn.as_mut() {
            if next != state {
                txn.move_to(next);
                txn.end = Some(commit);
            }
            txn.end_ops.push((op, operation));
        }
        self.progress(now);
        Ok(op)
    }

    /// The transaction cannot commit any more (a record or an offset failed).
    pub(crate) fn transaction_abortable(&mut self, error: AbortableError) {
        let Some(txn) = self.txn.as_mut() else { return };
        if !matches!(
            txn.state,
            TransactionState::InTransaction | TransactionState::Committing
        ) {
            return;
        }
        let e = TransactionError::Abortable(error);
        let was_committing = txn.state == TransactionState::Committing;
        txn.move_to(TransactionState::AbortableError);
        txn.error = Some(e.clone());
        if was_committing {
            txn.end = None;
            let ops: Vec<_> = txn.end_ops.drain(..).collect();
            for (id, operation) in ops {
                self.events
                    .push_back(op_event(id, operation, Err(e.clone())));
            }
        }
    }

    /// The coordinator may have moved: find it again before the next request.
    pub(crate) fn coordinator_unreachable(&mut self) {
        if let Some(txn) = self.txn.as_mut() {
            txn.coordinator = None;
        }
    }

    /// The producer id arrived: finish `init_transactions`, or the abort that waited for
    /// the epoch bump.
    pub(crate) fn producer_id_ready(&mut self) {
        let Some(txn) = self.txn.as_mut() else { return };
        match txn.state {
            TransactionState::Initializing => {
                txn.move_to(TransactionState::Ready);
                let ops: Vec<_> = txn.init_ops.drain(..).collect();
                for id in ops {
                    self.events
                        .push_back(op_event(id, TxnOperation::Init, Ok(())));
                }
            }
            TransactionState::Aborting if txn.end.is_none() => {
                txn.end = Some(false);
                let events = txn.finish();
                self.events.extend(events);
            }
            _ => {}
        }
    }

    /// Moves that need no answer: let waiting records into the buffer, drop what an abort or
    /// an error discards, finish a commit or an abort once nothing is left in flight,
    /// complete flushes.
    pub(crate) fn progress(&mut self, now: Instant) {
        self.admit_waiting(now);
        self.complete_flushes();
        let Some(txn) = self.txn.as_ref() else { return };
        let state = txn.state;
        if matches!(
            state,
            TransactionState::AbortableError | TransactionState::Aborting
        ) {
            self.discard_unsent();
        }
        // With nothing to tell the coordinator, the transaction ends here; otherwise an
        // EndTxn goes out from `poll_transaction_request`.
        let Some(txn) = self.txn.as_ref() else { return };
        if txn.end.is_some() && !txn.started && self.ready_to_end() {
            self.transaction_ended();
        }
    }

    /// The coordinator ended the transaction (or had nothing to end).
    pub(crate) fn transaction_ended(&mut self) {
        let Some(txn) = self.txn.as_mut() else { return };
        if txn.end == Some(false) && txn.bump_after_abort {
            txn.bump_after_abort = false;
            txn.end = None;
            txn.started = false;
            txn.end_attempt = Attempt::default();
            self.pid.want_bump();
            return;
        }
        let events = txn.finish();
        self.events.extend(events);
    }

    /// In an abortable error or an abort: records not in flight (those waiting for room
    /// included) will never be sent, and partitions and offsets not yet sent are not added.
    fn discard_unsent(&mut self) {
        let mut gap = false;
        let mut ids = Vec::new();
        for q in self.partitions.values_mut() {
            let mut keep = VecDeque::new();
            for b in q.batches.drain(..) {
                if b.is_in_flight() {
                    keep.push_back(b);
                } else {
                    gap |= b.was_sent();
                    ids.extend(b.ids());
                }
            }
            q.batches = keep;
        }
        for (_, queue) in std::mem::take(&mut self.unrouted) {
            ids.extend(queue.into_iter().map(|u| u.record.id));
        }
        ids.extend(self.take_waiting().into_iter().map(|w| w.id));
        if gap {
            self.sequence_gap();
        }
        for id in ids {
            self.deliver(id, Err(DeliveryError::TransactionAborted));
        }
        let Some(txn) = self.txn.as_mut() else { return };
        txn.pending.clear();
        let error = match txn.state {
            TransactionState::AbortableError => txn.error.clone(),
            _ => None,
        }
        .unwrap_or(TransactionError::Abortable(AbortableError::Aborted));
        let mut keep = VecDeque::new();
        for o in txn.offsets.drain(..) {
            if o.attempt.in_flight.is_some() {
                keep.push_back(o);
            } else {
                self.events.push_back(op_event(
                    o.op,
                    TxnOperation::SendOffsets,
                    Err(error.clone()),
                ));
            }
        }
        txn.offsets = keep;
    }
}

//! Transactions: the commands, the coordinator requests they lead to, and their answers.
//! The allowed state moves are in `txn.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use dekaf_proto::messages::add_partitions_to_txn::AddPartitionsToTxnTopic;
use dekaf_proto::messages::txn_offset_commit::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use dekaf_proto::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, FindCoordinatorRequest,
    FindCoordinatorResponse, RequestBody, ResponseBody, TxnOffsetCommitRequest,
};
use dekaf_proto::{ApiKey, ErrorCode};

use super::attempt::Attempt;
use super::error::{
    is_coordinator_busy, is_coordinator_moved, is_fatal_txn_code, AbortableError, DeliveryError,
    FatalError, TransactionError,
};
use super::producer::{Pending, Producer};
use super::txn::TransactionState;
use super::types::{ConsumerGroupMetadata, Event, TxnOpId, TxnOperation};
use crate::client::{
    BrokerId, ClientRequest, Destination, Outgoing, RequestFailed, RequestId, Response,
};
use crate::offset::{OffsetAndMetadata, TopicPartition};

/// FindCoordinator key types.
const KEY_GROUP: i8 = 0;
const KEY_TRANSACTION: i8 = 1;

/// One `send_offsets_to_transaction` under way.
#[derive(Debug)]
pub(crate) struct OffsetsOp {
    op: TxnOpId,
    group: ConsumerGroupMetadata,
    /// Offsets not yet accepted by the group coordinator.
    offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    /// AddOffsetsToTxn succeeded: the group's offsets now follow the transaction.
    added: bool,
    attempt: Attempt,
}

/// The transaction side of a transactional producer.
#[derive(Debug)]
pub(crate) struct Transaction {
    pub(crate) transactional_id: String,
    pub(crate) state: TransactionState,
    /// Why the state is `AbortableError` or `FatalError`.
    pub(crate) error: Option<TransactionError>,
    pub(crate) coordinator: Option<BrokerId>,
    lookup: Attempt,
    group_coordinators: BTreeMap<String, BrokerId>,
    group_lookup: Attempt,
    init_ops: Vec<TxnOpId>,
    /// Partitions the coordinator added to the open transaction.
    pub(crate) partitions: BTreeSet<TopicPartition>,
    /// Partitions written to and not yet added.
    pending: BTreeSet<TopicPartition>,
    /// Partitions of the AddPartitionsToTxn in flight.
    adding: Vec<TopicPartition>,
    add: Attempt,
    /// The coordinator knows of the open transaction (a partition or a group was added):
    /// ending it needs an EndTxn.
    started: bool,
    offsets: VecDeque<OffsetsOp>,
    /// `Some(commit?)` while the transaction is being ended.
    end: Option<bool>,
    end_ops: Vec<TxnOpId>,
    end_attempt: Attempt,
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

    fn move_to(&mut self, next: TransactionState) {
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

    fn needs_coordinator(&self, pid_wanted: bool) -> bool {
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
        let operation = end_operation(self.end);
        for id in self.end_ops.drain(..) {
            events.push(op_event(id, operation, Err(e.clone())));
        }
        self.end = None;
        self.pending.clear();
        events
    }

    /// Back to `Ready` after a commit or an abort, forgetting the transaction.
    fn finish(&mut self) -> Vec<Event> {
        let operation = end_operation(self.end);
        self.move_to(TransactionState::Ready);
        self.partitions.clear();
        self.pending.clear();
        self.started = false;
        self.end = None;
        self.end_attempt = Attempt::default();
        self.error = None;
        self.end_ops
            .drain(..)
            .map(|id| op_event(id, operation, Ok(())))
            .collect()
    }
}

fn end_operation(end: Option<bool>) -> TxnOperation {
    match end {
        Some(false) => TxnOperation::Abort,
        _ => TxnOperation::Commit,
    }
}

fn op_event(id: TxnOpId, operation: TxnOperation, result: Result<(), TransactionError>) -> Event {
    Event::Transaction {
        id,
        operation,
        result,
    }
}

fn find_coordinator(key_type: i8, key: String) -> ClientRequest {
    ClientRequest::new(ApiKey::FindCoordinator, 1, 6, move |v| {
        RequestBody::FindCoordinator(if v >= 4 {
            FindCoordinatorRequest {
                key_type,
                coordinator_keys: vec![key.clone()],
                ..Default::default()
            }
        } else {
            FindCoordinatorRequest {
                key: key.clone(),
                key_type,
                ..Default::default()
            }
        })
    })
}

/// The coordinator named by a FindCoordinator answer (either layout), or the error.
fn coordinator_of(r: &FindCoordinatorResponse, key: &str) -> Result<(i32, String, i32), ErrorCode> {
    if let Some(c) = r.coordinators.iter().find(|c| c.key == key) {
        return if c.error_code.is_ok() {
            Ok((c.node_id, c.host.clone(), c.port))
        } else {
            Err(c.error_code)
        };
    }
    if !r.coordinators.is_empty() {
        return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    }
    if r.error_code.is_ok() {
        Ok((r.node_id, r.host.clone(), r.port))
    } else {
        Err(r.error_code)
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
    /// producer was fenced.
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
            txn.end_ops.push(op);
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
            for id in ops {
                self.events
                    .push_back(op_event(id, TxnOperation::Commit, Err(e.clone())));
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

    /// Moves that need no answer: drop what an abort or an error discards, finish a commit
    /// or an abort once nothing is left in flight, complete flushes.
    pub(crate) fn progress(&mut self, _now: Instant) {
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
    fn transaction_ended(&mut self) {
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

    /// In an abortable error or an abort: records not in flight will never be sent, and
    /// partitions and offsets not yet sent are not added.
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
                    ids.extend(b.records.iter().map(|r| r.id));
                }
            }
            q.batches = keep;
        }
        for (_, queue) in std::mem::take(&mut self.unrouted) {
            ids.extend(queue.into_iter().map(|u| u.record.id));
        }
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

    // ---- requests ----

    pub(crate) fn poll_transaction_request(
        &mut self,
        now: Instant,
        id: RequestId,
    ) -> Option<Outgoing> {
        let pid_wanted = self.pid.is_wanted();
        let pid = self.pid.current();
        let txn = self.txn.as_mut()?;
        if matches!(
            txn.state,
            TransactionState::Uninitialized | TransactionState::FatalError
        ) {
            return None;
        }
        if txn.needs_coordinator(pid_wanted) && txn.lookup.can_send(now) {
            txn.lookup.sent(id);
            self.requests.insert(id, Pending::FindTxnCoordinator);
            return Some(Outgoing {
                id,
                destination: Destination::AnyBroker,
                request: find_coordinator(KEY_TRANSACTION, txn.transactional_id.clone()),
            });
        }
        // Offsets go to the group coordinator once the group is in the transaction.
        if let Some(o) = txn.offsets.front() {
            if o.added && !txn.group_coordinators.contains_key(&o.group.group_id) {
                if txn.group_lookup.can_send(now) {
                    txn.group_lookup.sent(id);
                    self.requests.insert(id, Pending::FindGroupCoordinator);
                    let key = o.group.group_id.clone();
                    return Some(Outgoing {
                        id,
                        destination: Destination::AnyBroker,
                        request: find_coordinator(KEY_GROUP, key),
                    });
                }
            } else if o.added && o.attempt.can_send(now) {
                let node = *txn.group_coordinators.get(&o.group.group_id)?;
                let (producer_id, producer_epoch) = pid?;
                let request =
                    txn_offset_commit(&txn.transactional_id, o, producer_id, producer_epoch);
                let fenced_by_member = o.group.generation_id >= 0 || !o.group.member_id.is_empty();
                if let Some(o) = txn.offsets.front_mut() {
                    o.attempt.sent(id);
                }
                self.requests.insert(id, Pending::TxnOffsetCommit);
                // Versions before 3 cannot carry the member's generation: without it the
                // coordinator could not fence a zombie, so they are not used for it.
                let min = if fenced_by_member { 3 } else { 0 };
                return Some(Outgoing {
                    id,
                    destination: Destination::Broker(node),
                    request: ClientRequest::new(ApiKey::TxnOffsetCommit, min, 4, move |_| {
                        RequestBody::TxnOffsetCommit(request.clone())
                    }),
                });
            }
        }
        let coordinator = txn.coordinator?;
        let (producer_id, producer_epoch) = pid?;
        if pid_wanted || txn.coordinator_busy() {
            return None;
        }
        let transactional_id = txn.transactional_id.clone();
        let open = matches!(
            txn.state,
            TransactionState::InTransaction | TransactionState::Committing
        );
        if open && !txn.pending.is_empty() && txn.add.can_send(now) {
            txn.adding = std::mem::take(&mut txn.pending).into_iter().collect();
            let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for tp in &txn.adding {
                topics.entry(tp.topic()).or_default().push(tp.partition());
            }
            let request = AddPartitionsToTxnRequest {
                transactional_id,
                producer_id,
                producer_epoch,
                topics: topics
                    .into_iter()
                    .map(|(name, partitions)| AddPartitionsToTxnTopic {
                        name: name.to_owned(),
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            txn.add.sent(id);
            self.requests.insert(id, Pending::AddPartitions);
            return Some(Outgoing {
                id,
                destination: Destination::Broker(coordinator),
                request: ClientRequest::new(ApiKey::AddPartitionsToTxn, 0, 3, move |_| {
                    RequestBody::AddPartitionsToTxn(request.clone())
                }),
            });
        }
        if let Some(o) = txn.offsets.front_mut() {
            if open && !o.added && o.attempt.can_send(now) {
                let request = AddOffsetsToTxnRequest {
                    transactional_id,
                    producer_id,
                    producer_epoch,
                    group_id: o.group.group_id.clone(),
                    ..Default::default()
                };
                o.attempt.sent(id);
                self.requests.insert(id, Pending::AddOffsets);
                return Some(Outgoing {
                    id,
                    destination: Destination::Broker(coordinator),
                    request: ClientRequest::new(ApiKey::AddOffsetsToTxn, 0, 4, move |_| {
                        RequestBody::AddOffsetsToTxn(request.clone())
                    }),
                });
            }
        }
        let commit = txn.end?;
        if !txn.started || !txn.end_attempt.can_send(now) || !self.ready_to_end() {
            return None;
        }
        let txn = self.txn.as_mut()?;
        let request = EndTxnRequest {
            transactional_id,
            producer_id,
            producer_epoch,
            committed: commit,
            ..Default::default()
        };
        txn.end_attempt.sent(id);
        self.requests.insert(id, Pending::EndTxn);
        Some(Outgoing {
            id,
            destination: Destination::Broker(coordinator),
            request: ClientRequest::new(ApiKey::EndTxn, 0, 5, move |_| {
                RequestBody::EndTxn(request.clone())
            }),
        })
    }

    /// Whether everything of the transaction is settled, so that EndTxn may go out.
    fn ready_to_end(&self) -> bool {
        let Some(txn) = &self.txn else { return false };
        let nothing_in_flight =
            txn.adding.is_empty() && txn.offsets.iter().all(|o| o.attempt.in_flight.is_none());
        let data_left =
            self.partitions.values().any(|q| !q.is_empty()) || !self.unrouted.is_empty();
        match txn.state {
            TransactionState::Committing => {
                nothing_in_flight && txn.offsets.is_empty() && txn.pending.is_empty() && !data_left
            }
            TransactionState::Aborting => nothing_in_flight && !data_left,
            _ => false,
        }
    }

    // ---- answers ----

    pub(crate) fn handle_find_txn_coordinator(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        let Some(txn) = self.txn.as_mut() else { return };
        if !txn.lookup.is(id) {
            return;
        }
        let outcome = match &result {
            Ok(Response {
                body: ResponseBody::FindCoordinator(r),
                ..
            }) => coordinator_of(r, &txn.transactional_id),
            Ok(_) => Err(ErrorCode::UNKNOWN_SERVER_ERROR),
            Err(e) if e.is_retriable() => Err(ErrorCode::COORDINATOR_NOT_AVAILABLE),
            Err(e) => {
                let e = e.clone();
                self.fail_fatally(FatalError::Request(e));
                return;
            }
        };
        match outcome {
            Ok((node, host, port)) => {
                txn.coordinator = Some(node);
                txn.lookup.succeeded();
                self.metadata.learn_broker(node, &host, port);
            }
            Err(code)
                if is_fatal_txn_code(code)
                    || code == ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED =>
            {
                self.fail_fatally(FatalError::Broker(code));
            }
            Err(_) => txn.lookup.failed(now, &self.config.backoff, &mut self.rng),
        }
    }

    pub(crate) fn handle_find_group_coordinator(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        let Some(txn) = self.txn.as_mut() else { return };
        if !txn.group_lookup.is(id) {
            return;
        }
        let Some(group) = txn.offsets.front().map(|o| o.group.group_id.clone()) else {
            txn.group_lookup.succeeded();
            return;
        };
        let outcome = match &result {
            Ok(Response {
                body: ResponseBody::FindCoordinator(r),
                ..
            }) => coordinator_of(r, &group),
            Ok(_) => Err(ErrorCode::UNKNOWN_SERVER_ERROR),
            Err(e) if e.is_retriable() => Err(ErrorCode::COORDINATOR_NOT_AVAILABLE),
            Err(e) => {
                let e = AbortableError::Request(e.clone());
                txn.group_lookup.succeeded();
                self.fail_offsets_op(e);
                return;
            }
        };
        match outcome {
            Ok((node, host, port)) => {
                txn.group_coordinators.insert(group, node);
                txn.group_lookup.succeeded();
                self.metadata.learn_broker(node, &host, port);
            }
            Err(code) if code.is_retriable() || is_coordinator_moved(code) => {
                txn.group_lookup
                    .failed(now, &self.config.backoff, &mut self.rng);
            }
            Err(code) => {
                txn.group_lookup.succeeded();
                self.fail_offsets_op(AbortableError::Broker(code));
            }
        }
    }

    /// The front `send_offsets_to_transaction` failed: report it, and the transaction can
    /// no longer commit.
    fn fail_offsets_op(&mut self, error: AbortableError) {
        let Some(txn) = self.txn.as_mut() else { return };
        let Some(o) = txn.offsets.pop_front() else {
            return;
        };
        let e = TransactionError::Abortable(error.clone());
        self.events
            .push_back(op_event(o.op, TxnOperation::SendOffsets, Err(e)));
        self.transaction_abortable(error);
    }

    pub(crate) fn handle_add_partitions(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        let Some(txn) = self.txn.as_mut() else { return };
        if !txn.add.is(id) {
            return;
        }
        let adding = std::mem::take(&mut txn.adding);
        let response = match result {
            Ok(Response {
                body: ResponseBody::AddPartitionsToTxn(r),
                ..
            }) => r,
            Err(e) if !e.is_retriable() => {
                self.fail_fatally(FatalError::Request(e));
                return;
            }
            _ => {
                txn.pending.extend(adding);
                txn.coordinator = None;
                txn.add.failed(now, &self.config.backoff, &mut self.rng);
                return;
            }
        };
        let mut codes: BTreeMap<(&str, i32), ErrorCode> = BTreeMap::new();
        for t in &response.results_by_topic {
            for p in &t.results_by_partition {
                codes.insert((t.name.as_str(), p.partition_index), p.partition_error_code);
            }
        }
        let mut retry = false;
        let mut fatal = None;
        let mut abortable = None;
        for tp in adding {
            let code = codes
                .get(&(tp.topic(), tp.partition()))
                .copied()
                .unwrap_or(ErrorCode::OPERATION_NOT_ATTEMPTED);
            if code.is_ok() {
                txn.started = true;
                txn.partitions.insert(tp);
            } else if is_fatal_txn_code(code) {
                fatal = Some(code);
            } else if is_coordinator_moved(code) {
                txn.coordinator = None;
                txn.pending.insert(tp);
                retry = true;
            } else if is_coordinator_busy(code) || code.is_retriable() {
                txn.pending.insert(tp);
                retry = true;
            } else {
                abortable = Some(code);
            }
        }
        if retry {
            txn.add.failed(now, &self.config.backoff, &mut self.rng);
        } else {
            txn.add.succeeded();
        }
        if let Some(code) = fatal {
            self.fail_fatally(FatalError::Broker(code));
        } else if let Some(code) = abortable {
            self.transaction_abortable(AbortableError::Broker(code));
        }
    }

    pub(crate) fn handle_add_offsets(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        let Some(txn) = self.txn.as_mut() else { return };
        let Some(o) = txn.offsets.front_mut() else {
            return;
        };
        if !o.attempt.is(id) {
            return;
        }
        let code = match result {
            Ok(Response {
                body: ResponseBody::AddOffsetsToTxn(r),
                ..
            }) => r.error_code,
            Ok(_) => ErrorCode::UNKNOWN_SERVER_ERROR,
            Err(e) if e.is_retriable() => {
                o.attempt.failed(now, &self.config.backoff, &mut self.rng);
                txn.coordinator = None;
                return;
            }
            Err(e) => {
                self.fail_fatally(FatalError::Request(e));
                return;
            }
        };
        if code.is_ok() {
            o.added = true;
            o.attempt.succeeded();
            txn.started = true;
        } else if is_fatal_txn_code(code) {
            self.fail_fatally(FatalError::Broker(code));
        } else if is_coordinator_moved(code) {
            o.attempt.failed(now, &self.config.backoff, &mut self.rng);
            txn.coordinator = None;
        } else if is_coordinator_busy(code) || code.is_retriable() {
            o.attempt.failed(now, &self.config.backoff, &mut self.rng);
        } else {
            o.attempt.succeeded();
            self.fail_offsets_op(AbortableError::Broker(code));
        }
    }

    pub(crate) fn handle_txn_offset_commit(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        let Some(txn) = self.txn.as_mut() else { return };
        let Some(o) = txn.offsets.front_mut() else {
            return;
        };
        if !o.attempt.is(id) {
            return;
        }
        let response = match result {
            Ok(Response {
                body: ResponseBody::TxnOffsetCommit(r),
                ..
            }) => r,
            Ok(_) => {
                o.attempt.failed(now, &self.config.backoff, &mut self.rng);
                return;
            }
            Err(e) if e.is_retriable() => {
                o.attempt.failed(now, &self.config.backoff, &mut self.rng);
                txn.group_coordinators.remove(&o.group.group_id);
                return;
            }
            Err(e) => {
                o.attempt.succeeded();
                self.fail_offsets_op(AbortableError::Request(e));
                return;
            }
        };
        let mut retry = false;
        let mut fatal = None;
        let mut refused = None;
        for t in &response.topics {
            for p in &t.partitions {
                let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                if !o.offsets.contains_key(&tp) {
                    continue;
                }
                let code = p.error_code;
                if code.is_ok() {
                    o.offsets.remove(&tp);
                } else if is_fatal_txn_code(code) {
                    fatal = Some(code);
                } else if is_coordinator_moved(code) {
                    txn.group_coordinators.remove(&o.group.group_id);
                    retry = true;
                } else if is_coordinator_busy(code) || code.is_retriable() {
                    retry = true;
                } else {
                    refused = Some((tp, code));
                }
            }
        }
        if let Some(code) = fatal {
            self.fail_fatally(FatalError::Broker(code));
            return;
        }
        if let Some((partition, code)) = refused {
            o.attempt.succeeded();
            self.fail_offsets_op(AbortableError::Offsets { partition, code });
            return;
        }
        if o.offsets.is_empty() {
            let op = o.op;
            txn.offsets.pop_front();
            self.events
                .push_back(op_event(op, TxnOperation::SendOffsets, Ok(())));
        } else if retry {
            o.attempt.failed(now, &self.config.backoff, &mut self.rng);
        } else {
            // Partitions the answer left out are sent again.
            o.attempt.failed(now, &self.config.backoff, &mut self.rng);
        }
    }

    pub(crate) fn handle_end_txn(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        let Some(txn) = self.txn.as_mut() else { return };
        if !txn.end_attempt.is(id) {
            return;
        }
        let (code, new_pid) = match result {
            Ok(Response {
                body: ResponseBody::EndTxn(r),
                ..
            }) => (r.error_code, (r.producer_id, r.producer_epoch)),
            Ok(_) => (ErrorCode::UNKNOWN_SERVER_ERROR, (-1, -1)),
            Err(e) if e.is_retriable() => {
                txn.end_attempt
                    .failed(now, &self.config.backoff, &mut self.rng);
                txn.coordinator = None;
                return;
            }
            Err(e) => {
                self.fail_fatally(FatalError::Request(e));
                return;
            }
        };
        if code.is_ok() {
            txn.end_attempt.succeeded();
            if new_pid.0 >= 0 && new_pid.1 >= 0 {
                self.adopt_producer_id(new_pid.0, new_pid.1);
            }
            self.transaction_ended();
        } else if is_coordinator_moved(code) {
            txn.end_attempt
                .failed(now, &self.config.backoff, &mut self.rng);
            txn.coordinator = None;
        } else if is_coordinator_busy(code) || code.is_retriable() {
            txn.end_attempt
                .failed(now, &self.config.backoff, &mut self.rng);
        } else if code == ErrorCode::TRANSACTION_ABORTABLE && txn.end == Some(true) {
            txn.end_attempt.succeeded();
            self.transaction_abortable(AbortableError::Broker(code));
        } else {
            self.fail_fatally(FatalError::Broker(code));
        }
    }
}

fn txn_offset_commit(
    transactional_id: &str,
    o: &OffsetsOp,
    producer_id: i64,
    producer_epoch: i16,
) -> TxnOffsetCommitRequest {
    let mut topics: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, offset) in &o.offsets {
        topics
            .entry(tp.topic())
            .or_default()
            .push(TxnOffsetCommitRequestPartition {
                partition_index: tp.partition(),
                committed_offset: offset.offset,
                committed_leader_epoch: offset.leader_epoch.unwrap_or(-1),
                committed_metadata: offset.metadata.clone(),
                ..Default::default()
            });
    }
    TxnOffsetCommitRequest {
        transactional_id: transactional_id.to_owned(),
        group_id: o.group.group_id.clone(),
        producer_id,
        producer_epoch,
        generation_id: o.group.generation_id,
        member_id: o.group.member_id.clone(),
        group_instance_id: o.group.group_instance_id.clone(),
        topics: topics
            .into_iter()
            .map(|(name, partitions)| TxnOffsetCommitRequestTopic {
                name: name.to_owned(),
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

//! Answers to the requests of a transaction.

use std::collections::BTreeMap;
use std::time::Instant;

use dekaf_proto::messages::{FindCoordinatorResponse, ResponseBody};
use dekaf_proto::ErrorCode;

use super::error::{
    is_fatal_txn_code, AbortableError, CoordinatorAnswer, FatalError, TransactionError,
};
use super::producer::Producer;
use super::transactions::op_event;
use super::types::TxnOperation;
use crate::client::{RequestFailed, RequestId, Response};
use crate::offset::TopicPartition;

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
            Err(code)
                if matches!(
                    CoordinatorAnswer::of(code),
                    CoordinatorAnswer::Moved | CoordinatorAnswer::Retry
                ) =>
            {
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
            match CoordinatorAnswer::of(code) {
                CoordinatorAnswer::Ok => {
                    txn.started = true;
                    txn.partitions.insert(tp);
                }
                CoordinatorAnswer::Fatal => fatal = Some(code),
                answer @ (CoordinatorAnswer::Moved | CoordinatorAnswer::Retry) => {
                    if answer == CoordinatorAnswer::Moved {
                        txn.coordinator = None;
                    }
                    txn.pending.insert(tp);
                    retry = true;
                }
                CoordinatorAnswer::Refused => abortable = Some(code),
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
        match CoordinatorAnswer::of(code) {
            CoordinatorAnswer::Ok => {
                o.added = true;
                o.attempt.succeeded();
                txn.started = true;
            }
            CoordinatorAnswer::Fatal => self.fail_fatally(FatalError::Broker(code)),
            CoordinatorAnswer::Moved => {
                o.attempt.failed(now, &self.config.backoff, &mut self.rng);
                txn.coordinator = None;
            }
            CoordinatorAnswer::Retry => {
                o.attempt.failed(now, &self.config.backoff, &mut self.rng);
            }
            CoordinatorAnswer::Refused => {
                o.attempt.succeeded();
                self.fail_offsets_op(AbortableError::Broker(code));
            }
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
                match CoordinatorAnswer::of(code) {
                    CoordinatorAnswer::Ok => {
                        o.offsets.remove(&tp);
                    }
                    CoordinatorAnswer::Fatal => fatal = Some(code),
                    CoordinatorAnswer::Moved => {
                        txn.group_coordinators.remove(&o.group.group_id);
                        retry = true;
                    }
                    CoordinatorAnswer::Retry => retry = true,
                    CoordinatorAnswer::Refused => refused = Some((tp, code)),
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
        match CoordinatorAnswer::of(code) {
            CoordinatorAnswer::Ok => {
                txn.end_attempt.succeeded();
                if new_pid.0 >= 0 && new_pid.1 >= 0 {
                    self.adopt_producer_id(new_pid.0, new_pid.1);
                }
                self.transaction_ended();
            }
            CoordinatorAnswer::Moved => {
                txn.end_attempt
                    .failed(now, &self.config.backoff, &mut self.rng);
                txn.coordinator = None;
            }
            CoordinatorAnswer::Retry => {
                txn.end_attempt
                    .failed(now, &self.config.backoff, &mut self.rng);
            }
            CoordinatorAnswer::Refused
                if code == ErrorCode::TRANSACTION_ABORTABLE && txn.end == Some(true) =>
            {
                txn.end_attempt.succeeded();
                self.transaction_abortable(AbortableError::Broker(code));
            }
            CoordinatorAnswer::Fatal | CoordinatorAnswer::Refused => {
                self.fail_fatally(FatalError::Broker(code));
            }
        }
    }
}

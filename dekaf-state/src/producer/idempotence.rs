//! The producer id and epoch: getting them, and bumping the epoch when sequence numbers can
//! no longer be trusted.

use std::time::Instant;

use dekaf_proto::messages::{InitProducerIdRequest, RequestBody, ResponseBody};
use dekaf_proto::{ApiKey, ErrorCode};

use super::attempt::Attempt;
use super::error::{CoordinatorAnswer, FatalError};
use super::producer::{Pending, Producer};
use crate::client::{ClientRequest, Destination, Outgoing, RequestFailed, RequestId, Response};

/// Kafka's "no producer id".
const NO_PRODUCER_ID: i64 = -1;

#[derive(Debug)]
pub(crate) struct ProducerId {
    id: i64,
    epoch: i16,
    /// An InitProducerId is needed.
    wanted: bool,
    /// It carries the current id and epoch, to bump the epoch rather than start afresh.
    bump: bool,
    pub(crate) attempt: Attempt,
}

impl ProducerId {
    pub(crate) fn new(wanted: bool) -> Self {
        ProducerId {
            id: NO_PRODUCER_ID,
            epoch: -1,
            wanted,
            bump: false,
            attempt: Attempt::default(),
        }
    }

    /// The id and epoch batches are stamped with, if there are any.
    pub(crate) fn current(&self) -> Option<(i64, i16)> {
        (self.id >= 0).then_some((self.id, self.epoch))
    }

    /// Whether an epoch bump waits for the batches in flight to settle.
    pub(crate) fn bump_pending(&self) -> bool {
        self.wanted && self.bump
    }

    pub(crate) fn is_wanted(&self) -> bool {
        self.wanted
    }

    /// Asks for a new id (first use, or `init_transactions`).
    pub(crate) fn want_new(&mut self) {
        self.wanted = true;
        self.bump = false;
    }

    /// Asks for the epoch to be bumped (or, without an id yet, for one).
    pub(crate) fn want_bump(&mut self) {
        self.wanted = true;
        self.bump = self.id >= 0;
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        if self.wanted {
            self.attempt.next_timeout()
        } else {
            None
        }
    }

    /// Adopts a new id and epoch; true when they differ from the current ones.
    pub(crate) fn set(&mut self, id: i64, epoch: i16) -> bool {
        let changed = (id, epoch) != (self.id, self.epoch);
        self.id = id;
        self.epoch = epoch;
        self.wanted = false;
        self.bump = false;
        self.attempt.succeeded();
        changed
    }
}

impl Producer {
    /// The sequence numbers of a partition lost a batch that was sent: an idempotent
    /// producer bumps its epoch, a transactional one does so after the abort that must
    /// follow.
    pub(crate) fn sequence_gap(&mut self) {
        if let Some(txn) = self.txn.as_mut() {
            txn.bump_after_abort = true;
        } else if self.config.enable_idempotence {
            self.pid.want_bump();
        }
    }

    /// Whether batches whose fate is unknown still wait to be sent again under the old
    /// epoch, or requests are in flight: a bump must wait for them.
    fn batches_unsettled(&self) -> bool {
        if self.produce_in_flight.values().any(|n| *n > 0) {
            return true;
        }
        let current = self.pid.current();
        self.partitions.values().any(|q| {
            q.batches.iter().any(|b| {
                b.maybe_written
                    && b.sealed
                        .is_some_and(|s| Some((s.producer_id, s.epoch)) == current)
            })
        })
    }

    pub(crate) fn poll_producer_id_request(
        &mut self,
        now: Instant,
        id: RequestId,
    ) -> Option<Outgoing> {
        if !self.pid.wanted || !self.pid.attempt.can_send(now) {
            return None;
        }
        let transactional = self.txn.is_some();
        let destination = match &self.txn {
            Some(txn) => {
                if txn.coordinator_busy() {
                    return None;
                }
                Destination::Coordinator(txn.coordinator?)
            }
            None => {
                if self.pid.bump && self.batches_unsettled() {
                    return None;
                }
                Destination::AnyBroker
            }
        };
        let (producer_id, producer_epoch) = if self.pid.bump {
            (self.pid.id, self.pid.epoch)
        } else {
            (NO_PRODUCER_ID, -1)
        };
        // A transactional bump needs version 3, which carries the current epoch so that a
        // fenced producer cannot take the id back.
        let min = if transactional && self.pid.bump { 3 } else { 0 };
        let request = InitProducerIdRequest {
            transactional_id: self.config.transactional_id.clone(),
            transaction_timeout_ms: i32::try_from(self.config.transaction_timeout.as_millis())
                .unwrap_or(i32::MAX),
            producer_id,
            producer_epoch,
            ..Default::default()
        };
        self.pid.attempt.sent(id);
        self.requests.insert(id, Pending::InitProducerId);
        Some(Outgoing {
            id,
            destination,
            request: ClientRequest::new(ApiKey::InitProducerId, min, 5, move |v| {
                // Before v3 (KIP-360) there is no epoch to bump: the broker gives an
                // idempotent producer a new id instead, and its sequence numbers start again.
                let mut request = request.clone();
                if v < 3 {
                    request.producer_id = NO_PRODUCER_ID;
                    request.producer_epoch = -1;
                }
                RequestBody::InitProducerId(request)
            }),
        })
    }

    pub(crate) fn handle_init_producer_id(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        if !self.pid.attempt.is(id) {
            return;
        }
        let code = match result {
            Ok(Response {
                body: ResponseBody::InitProducerId(r),
                ..
            }) => {
                if r.error_code.is_ok() && r.producer_id >= 0 {
                    self.adopt_producer_id(r.producer_id, r.producer_epoch);
                    self.producer_id_ready();
                    return;
                }
                r.error_code
            }
            Ok(_) => ErrorCode::UNKNOWN_SERVER_ERROR,
            Err(e) if e.is_retriable() => {
                self.coordinator_unreachable();
                self.pid
                    .attempt
                    .failed(now, &self.config.backoff, &mut self.rng);
                return;
            }
            Err(e) => {
                self.fail_fatally(FatalError::Request(e));
                return;
            }
        };
        let answer = CoordinatorAnswer::of(code);
        if answer == CoordinatorAnswer::Moved {
            self.coordinator_unreachable();
            self.pid
                .attempt
                .failed(now, &self.config.backoff, &mut self.rng);
        } else if answer == CoordinatorAnswer::Retry {
            self.pid
                .attempt
                .failed(now, &self.config.backoff, &mut self.rng);
        } else if self.txn.is_none() && self.pid.bump {
            // The broker refused the bump: start afresh with a new id.
            self.pid.want_new();
            self.pid
                .attempt
                .failed(now, &self.config.backoff, &mut self.rng);
        } else {
            self.fail_fatally(FatalError::Broker(code));
        }
    }

    /// Stamps later batches with a new id or epoch; sequence numbers start again at 0.
    pub(crate) fn adopt_producer_id(&mut self, id: i64, epoch: i16) {
        if self.pid.set(id, epoch) {
            for q in self.partitions.values_mut() {
                q.reset_sequences();
                for b in &mut q.batches {
                    b.maybe_written = false;
                }
            }
        }
    }
}

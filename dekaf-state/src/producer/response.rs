//! Answers to Metadata and Produce requests.

use std::collections::HashMap;
use std::time::Instant;

use dekaf_proto::messages::produce::PartitionProduceResponse;
use dekaf_proto::messages::ResponseBody;
use dekaf_proto::ErrorCode;

use super::attempt::after;
use super::batch::BatchState;
use super::error::{DeliveryError, FatalError};
use super::producer::Producer;
use super::stats::RetryCause;
use super::types::{RecordMetadata, Topic};
use crate::client::{BrokerId, RequestFailed, RequestId, Response};
use crate::offset::TopicPartition;

/// What becomes of one batch after an answer.
#[derive(Debug)]
enum Verdict {
    /// Written at this offset (`None`: a duplicate the broker did not place).
    Written {
        base_offset: Option<i64>,
        log_append_time: Option<i64>,
    },
    /// Send it again after a backoff.
    Retry {
        code: Option<ErrorCode>,
        /// The request may have been written.
        maybe_written: bool,
        /// The leader may have moved.
        refresh: bool,
    },
    /// Too large for the broker (this code): send it again as two halves.
    Split(ErrorCode),
    /// Not written, and never will be.
    Failed { error: DeliveryError, bump: bool },
    /// The producer was fenced or is not allowed to write.
    Fatal(ErrorCode),
}

/// Codes after which the partition's leader should be looked up again.
fn moves_leader(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NOT_LEADER_OR_FOLLOWER
            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            | ErrorCode::LEADER_NOT_AVAILABLE
            | ErrorCode::FENCED_LEADER_EPOCH
            | ErrorCode::KAFKA_STORAGE_ERROR
            | ErrorCode::NOT_CONTROLLER
    )
}

impl Producer {
    pub(crate) fn handle_metadata(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        if !self.metadata.is_request(id) {
            return;
        }
        match result {
            Ok(Response {
                body: ResponseBody::Metadata(r),
                ..
            }) => {
                self.metadata
                    .handle_response(now, &r, &self.config.backoff, &mut self.rng);
                let topics: Vec<Topic> = self.unrouted.keys().cloned().collect();
                for topic in topics {
                    self.route_waiting(&topic);
                }
            }
            _ => self
                .metadata
                .handle_failure(now, &self.config.backoff, &mut self.rng),
        }
    }

    pub(crate) fn handle_produce(
        &mut self,
        now: Instant,
        id: RequestId,
        broker: BrokerId,
        batches: Vec<(TopicPartition, u64)>,
        result: Result<Response, RequestFailed>,
    ) {
        if let Some(n) = self.produce_in_flight.get_mut(&broker) {
            *n = n.saturating_sub(1);
        }
        let answers: Result<HashMap<(&str, i32), &PartitionProduceResponse>, RequestFailed> =
            match &result {
                Ok(Response {
                    body: ResponseBody::Produce(r),
                    ..
                }) => Ok(r
                    .responses
                    .iter()
                    .flat_map(|t| {
                        t.partition_responses
                            .iter()
                            .map(move |p| ((t.name.as_str(), p.index), p))
                    })
                    .collect()),
                Ok(_) => Err(RequestFailed::Disconnected),
                Err(e) => Err(e.clone()),
            };
        let mut verdicts = Vec::with_capacity(batches.len());
        for (tp, batch) in batches {
            let verdict = match &answers {
                Ok(map) => match map.get(&(tp.topic(), tp.partition())) {
                    Some(p) => self.judge(&tp, batch, p),
                    // The broker left the partition out: its fate is unknown.
                    None => Verdict::Retry {
                        code: None,
                        maybe_written: true,
                        refresh: true,
                    },
                },
                Err(e) if e.is_retriable() => Verdict::Retry {
                    code: match e {
                        RequestFailed::Broker(code) => Some(*code),
                        _ => Some(ErrorCode::NETWORK_EXCEPTION),
                    },
                    maybe_written: true,
                    refresh: true,
                },
                Err(e) => Verdict::Failed {
                    error: DeliveryError::Request(e.clone()),
                    bump: true,
                },
            };
            verdicts.push((tp, batch, verdict));
        }
        for (tp, batch, verdict) in verdicts {
            self.apply_verdict(now, id, &tp, batch, verdict);
        }
    }

    /// What a partition's answer means for its batch.
    fn judge(&self, tp: &TopicPartition, batch: u64, p: &PartitionProduceResponse) -> Verdict {
        let code = p.error_code;
        let idempotent = self.config.enable_idempotence;
        let transactional = self.txn.is_some();
        let written = |p: &PartitionProduceResponse| Verdict::Written {
            base_offset: (p.base_offset >= 0).then_some(p.base_offset),
            log_append_time: (p.log_append_time_ms >= 0).then_some(p.log_append_time_ms),
        };
        if code.is_ok() || (idempotent && code == ErrorCode::DUPLICATE_SEQUENCE_NUMBER) {
            return written(p);
        }
        match code {
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER if idempotent => {
                let first = self
                    .partitions
                    .get(tp)
                    .and_then(|q| q.batches.front())
                    .is_some_and(|b| b.id == batch);
                let gap_known = self.pid.bump_pending()
                    || self.txn.as_ref().is_some_and(|t| t.bump_after_abort);
                if !first || gap_known {
                    // An earlier batch was not written (or the sequence numbers are about
                    // to restart): this one follows it again.
                    Verdict::Retry {
                        code: Some(code),
                        maybe_written: false,
                        refresh: false,
                    }
                } else {
                    Verdict::Failed {
                        error: DeliveryError::OutOfOrderSequence,
                        bump: true,
                    }
                }
            }
            ErrorCode::UNKNOWN_PRODUCER_ID if idempotent && !transactional => {
                // The broker forgot the producer (e.g. its records expired): a new epoch
                // starts the sequence numbers again, and the batch goes with it.
                Verdict::Retry {
                    code: Some(code),
                    maybe_written: false,
                    refresh: false,
                }
            }
            ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH if transactional => {
                Verdict::Fatal(code)
            }
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            | ErrorCode::CLUSTER_AUTHORIZATION_FAILED => Verdict::Fatal(code),
            // Java splits on MESSAGE_TOO_LARGE only; a record list too large for the log
            // segment shrinks the same way. The size check gives the same answer to every
            // attempt of the same bytes, so no earlier attempt was written either.
            ErrorCode::MESSAGE_TOO_LARGE | ErrorCode::RECORD_LIST_TOO_LARGE
                if self.partitions.get(tp).is_some_and(|q| {
                    q.position(batch)
                        .and_then(|i| q.batches.get(i))
                        .is_some_and(|b| b.len() > 1)
                }) =>
            {
                Verdict::Split(code)
            }
            code if code.is_retriable() => Verdict::Retry {
                code: Some(code),
                maybe_written: matches!(
                    code,
                    ErrorCode::REQUEST_TIMED_OUT
                        | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
                        | ErrorCode::NETWORK_EXCEPTION
                ),
                refresh: moves_leader(code),
            },
            code => Verdict::Failed {
                error: DeliveryError::Rejected(code),
                bump: idempotent,
            },
        }
    }

    fn apply_verdict(
        &mut self,
        now: Instant,
        request: RequestId,
        tp: &TopicPartition,
        batch: u64,
        verdict: Verdict,
    ) {
        let Some(q) = self.partitions.get_mut(tp) else {
            return;
        };
        let Some(index) = q.position(batch) else {
            return;
        };
        let Some(b) = q.batches.get_mut(index) else {
            return;
        };
        if b.state != BatchState::InFlight(request) {
            return;
        }
        q.in_flight = q.in_flight.saturating_sub(1);
        b.state = BatchState::Queued;
        match verdict {
            Verdict::Written {
                base_offset,
                log_append_time,
            } => {
                let Some(b) = q.batches.remove(index) else {
                    return;
                };
                let fenced = self.fatal.clone().filter(|_| self.txn.is_some());
                for (i, r) in b.records().enumerate() {
                    let result = match &fenced {
                        // A fenced transaction never commits: its records are not reported
                        // as written.
                        Some(e) => Err(DeliveryError::Fatal(e.clone())),
                        None => Ok(RecordMetadata {
                            partition: tp.clone(),
                            offset: base_offset.and_then(|o| o.checked_add(i as i64)),
                            timestamp: log_append_time.unwrap_or(r.timestamp),
                        }),
                    };
                    self.deliver(r.id, result);
                }
            }
            Verdict::Retry {
                code,
                maybe_written,
                refresh,
            } => {
                let delay = self
                    .config
                    .backoff
                    .delay(b.attempts.saturating_sub(1), &mut self.rng);
                b.state = BatchState::Backoff(after(now, delay));
                b.last_error = code.or(b.last_error);
                self.stats
                    .retried(code.map_or(RetryCause::NoAnswer, RetryCause::Error));
                // Only the broker's sequence check says for sure that no attempt was written;
                // any other answer leaves an earlier attempt's fate unknown.
                let checked = matches!(
                    code,
                    Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER | ErrorCode::UNKNOWN_PRODUCER_ID)
                );
                b.maybe_written = !checked && (b.maybe_written || maybe_written);
                q.recovering = true;
                if code == Some(ErrorCode::UNKNOWN_PRODUCER_ID) {
                    self.pid.want_bump();
                }
                if refresh {
                    self.metadata.invalidate();
                }
            }
            Verdict::Split(code) => {
                let (first_id, second_id) = (self.next_batch, self.next_batch + 1);
                self.next_batch += 2;
                let Some(second) = b.split(first_id, second_id, self.config.batch_size) else {
                    // Not expected (judged splittable), but its records are never lost.
                    let Some(b) = q.batches.remove(index) else {
                        return;
                    };
                    if b.sealed.is_some() {
                        self.sequence_gap();
                    }
                    let error = DeliveryError::Rejected(code);
                    self.fail_records(tp, b.ids(), error);
                    return;
                };
                q.batches.insert(index + 1, second);
                self.stats.retried(RetryCause::Split);
                // As after any failure: nothing of the partition goes out before the requests
                // in flight are answered, so that the halves keep their place.
                q.recovering = true;
            }
            Verdict::Failed { error, bump } => {
                let Some(b) = q.batches.remove(index) else {
                    return;
                };
                if bump && b.sealed.is_some() {
                    self.sequence_gap();
                }
                self.fail_records(tp, b.ids(), error);
            }
            // The batch is no longer in flight: failing the producer fails it too.
            Verdict::Fatal(code) => self.fail_fatally(FatalError::Broker(code)),
        }
    }
}

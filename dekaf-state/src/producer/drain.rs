//! Which batches go out, in which Produce request, and when a batch is given up on.

use std::collections::BTreeMap;
use std::time::Instant;

use dekaf_proto::messages::produce::{PartitionProduceData, TopicProduceData};
use dekaf_proto::messages::{ProduceRequest, RequestBody};
use dekaf_proto::ApiKey;

use super::attempt::after;
use super::batch::{increment_sequence, BatchState, PartitionQueue, Sealed, BATCH_OVERHEAD};
use super::config::Acks;
use super::error::{AbortableError, DeliveryError};
use super::producer::{Pending, Producer};
use super::txn::TransactionState;
use super::types::{DeliveryId, RecordMetadata};
use crate::client::{BrokerId, ClientRequest, Destination, Outgoing, RequestId};
use crate::offset::TopicPartition;

impl Producer {
    /// The next request to send, by priority: metadata, producer id, transaction requests,
    /// then data.
    pub(crate) fn next_outgoing(&mut self, now: Instant, id: RequestId) -> Option<Outgoing> {
        if let Some(request) = self.metadata.poll_request(now, id) {
            self.requests.insert(id, super::producer::Pending::Metadata);
            return Some(Outgoing {
                id,
                destination: Destination::AnyBroker,
                request,
            });
        }
        if self.fatal.is_some() {
            return None;
        }
        if let Some(out) = self.poll_transaction_request(now, id) {
            return Some(out);
        }
        if let Some(out) = self.poll_producer_id_request(now, id) {
            return Some(out);
        }
        self.poll_produce(now, id)
    }

    /// Whether the batch at `index` of `queue` may go out now; only the first batch not in
    /// flight ever may, so that a partition's batches leave in order.
    fn sendable(&self, tp: &TopicPartition, queue: &PartitionQueue, now: Instant) -> Option<usize> {
        if queue.recovering && queue.in_flight > 0 {
            return None;
        }
        if queue.in_flight >= self.config.max_in_flight {
            return None;
        }
        // A retried batch travels alone: were it pipelined with later ones and lost again,
        // more than five later batches could be written before it, and the broker, which
        // remembers only the last five, would no longer see it as a duplicate.
        if queue
            .batches
            .iter()
            .any(|b| b.is_in_flight() && b.attempts > 1)
        {
            return None;
        }
        let index = queue.batches.iter().position(|b| !b.is_in_flight())?;
        let batch = queue.batches.get(index)?;
        if batch.was_sent() && queue.in_flight > 0 {
            return None;
        }
        if let BatchState::Backoff(t) = batch.state {
            if now < t {
                return None;
            }
        }
        let first = batch.first_id()?;
        let committing = self
            .txn
            .as_ref()
            .is_some_and(|t| t.state == TransactionState::Committing);
        let ready = batch.closed
            || batch.was_sent()
            || now >= after(batch.created, self.config.linger)
            || self.flush_upto().is_some_and(|upto| first <= upto)
            || self.closed
            || committing
            // Records wait for room: sending at once frees it sooner (Java does the same).
            || !self.waiting.is_empty();
        if !ready {
            return None;
        }
        if self.config.enable_idempotence {
            let (pid, epoch) = self.pid.current()?;
            if self.pid.bump_pending() {
                // Before the epoch changes, batches that may have been written are sent
                // again under the old one until their fate is known.
                let old = batch
                    .sealed
                    .is_some_and(|s| s.producer_id == pid && s.epoch == epoch);
                if !(batch.maybe_written && old) {
                    return None;
                }
            }
        }
        if let Some(txn) = &self.txn {
            if !matches!(
                txn.state,
                TransactionState::InTransaction | TransactionState::Committing
            ) || !txn.partitions.contains(tp)
            {
                return None;
            }
        }
        Some(index)
    }

    /// A Produce request for the first broker with a free slot and a batch ready.
    fn poll_produce(&mut self, now: Instant, id: RequestId) -> Option<Outgoing> {
        let mut by_leader: BTreeMap<BrokerId, Vec<TopicPartition>> = BTreeMap::new();
        let count = self.partitions.len();
        let start = if count == 0 {
            0
        } else {
            self.drain_start % count
        };
        let order = self
            .partitions
            .iter()
            .skip(start)
            .chain(self.partitions.iter().take(start));
        for (tp, queue) in order {
            if self.sendable(tp, queue, now).is_none() {
                continue;
            }
            let Some(leader) = self.metadata.leader(tp.topic(), tp.partition()) else {
                continue;
            };
            if !self.known_broker(leader) {
                self.metadata.invalidate();
                continue;
            }
            let busy = self.produce_in_flight.get(&leader).copied().unwrap_or(0);
            if busy >= self.config.max_in_flight {
                continue;
            }
            by_leader.entry(leader).or_default().push(tp.clone());
        }
        let (broker, tps) = by_leader.into_iter().next()?;
        self.drain_start = self.drain_start.wrapping_add(1);

        let mut total = 0usize;
        let mut chosen: Vec<(TopicPartition, u64)> = Vec::new();
        let mut data: BTreeMap<String, Vec<PartitionProduceData>> = BTreeMap::new();
        for tp in tps {
            let Some(bytes) = self.prepare_batch(&tp, now, total, id) else {
                continue;
            };
            total += bytes.1.len();
            data.entry(tp.topic().to_owned())
                .or_default()
                .push(PartitionProduceData {
                    index: tp.partition(),
                    records: Some(bytes.1),
                    ..Default::default()
                });
            chosen.push((tp, bytes.0));
        }
        if chosen.is_empty() {
            return None;
        }
        let request = ProduceRequest {
            transactional_id: self.config.transactional_id.clone(),
            acks: self.config.acks.wire(),
            timeout_ms: i32::try_from(self.config.produce_timeout.as_millis()).unwrap_or(i32::MAX),
            topic_data: data
                .into_iter()
                .map(|(name, partition_data)| TopicProduceData {
                    name,
                    partition_data,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let mut client = ClientRequest::new(ApiKey::Produce, 3, 11, move |_| {
            RequestBody::Produce(request.clone())
        });
        if self.config.acks == Acks::None {
            client = client.without_response();
            self.complete_unacknowledged(chosen);
        } else {
            for (tp, _) in &chosen {
                if let Some(q) = self.partitions.get_mut(tp) {
                    q.in_flight += 1;
                    q.recovering = false;
                }
            }
            *self.produce_in_flight.entry(broker).or_insert(0) += 1;
            self.requests.insert(
                id,
                Pending::Produce {
                    broker,
                    batches: chosen,
                },
            );
        }
        Some(Outgoing {
            id,
            destination: Destination::Broker(broker),
            request: client,
        })
    }

    /// Seals and encodes the partition's next batch for request `id`, unless it would make
    /// the request larger than allowed (the first batch of a request always fits).
    fn prepare_batch(
        &mut self,
        tp: &TopicPartition,
        now: Instant,
        total: usize,
        id: RequestId,
    ) -> Option<(u64, bytes::Bytes)> {
        let index = self.sendable(tp, self.partitions.get(tp)?, now)?;
        let idempotent = self.config.enable_idempotence;
        let transactional = self.txn.is_some();
        let compression = self.config.compression;
        let max = self.config.max_request_size;
        let current = self.pid.current();
        let queue = self.partitions.get_mut(tp)?;
        let next_sequence = queue.next_sequence;
        let batch = queue.batches.get_mut(index)?;
        if total > 0 && total + batch.size > max {
            return None;
        }
        let mut newly_sealed = false;
        if idempotent && batch.sealed.is_none() {
            let (producer_id, epoch) = current?;
            batch.seal(Some(Sealed {
                producer_id,
                epoch,
                base_sequence: next_sequence,
            }));
            newly_sealed = true;
        }
        match batch.encode(compression, transactional) {
            Ok(bytes) => {
                if newly_sealed {
                    queue.next_sequence = increment_sequence(next_sequence, batch.record_count());
                }
                if !batch.closed {
                    batch.closed = true;
                    self.sticky.batch_closed(tp.topic(), tp.partition());
                }
                batch.state = BatchState::InFlight(id);
                batch.attempts += 1;
                if batch.attempts == 1 {
                    let capacity = self.config.batch_size.saturating_add(BATCH_OVERHEAD);
                    let queued = now.saturating_duration_since(batch.created);
                    self.stats
                        .batch_sent(batch.len(), batch.size, capacity, queued);
                }
                Some((batch.id, bytes))
            }
            Err(e) => {
                // Nothing was sent: the sequence numbers stay free.
                batch.seal(None);
                let failed = queue.batches.remove(index)?;
                let error = DeliveryError::Encode(e.to_string());
                self.fail_records(tp, failed.ids(), error);
                None
            }
        }
    }

    /// With `acks` 0 a batch is done once handed to the driver.
    fn complete_unacknowledged(&mut self, chosen: Vec<(TopicPartition, u64)>) {
        for (tp, batch) in chosen {
            let Some(q) = self.partitions.get_mut(&tp) else {
                continue;
            };
            let Some(i) = q.position(batch) else { continue };
            let Some(b) = q.batches.remove(i) else {
                continue;
            };
            for r in b.records() {
                let meta = RecordMetadata {
                    partition: tp.clone(),
                    offset: None,
                    timestamp: r.timestamp,
                };
                self.deliver(r.id, Ok(meta));
            }
        }
    }

    /// Reports `records` of `tp` as failed with `error` and tells the transaction.
    pub(crate) fn fail_records(
        &mut self,
        tp: &TopicPartition,
        records: impl IntoIterator<Item = DeliveryId>,
        error: DeliveryError,
    ) {
        let records: Vec<DeliveryId> = records.into_iter().collect();
        if records.is_empty() {
            return;
        }
        for id in records {
            self.deliver(id, Err(error.clone()));
        }
        if !matches!(
            error,
            DeliveryError::TransactionAborted | DeliveryError::Fatal(_)
        ) {
            self.transaction_abortable(AbortableError::Delivery {
                partition: tp.clone(),
                error,
            });
        }
    }

    /// Gives up on records past their delivery timeout that are not in flight, and refuses
    /// those that waited `max_block` for room in the buffer.
    pub(crate) fn expire(&mut self, now: Instant) {
        self.expire_waiting(now);
        let mut expired_unrouted = Vec::new();
        for (topic, queue) in self.unrouted.iter_mut() {
            while queue.front().is_some_and(|u| u.deadline <= now) {
                if let Some(u) = queue.pop_front() {
                    let code = match self.metadata.topic(topic) {
                        Some(super::metadata::TopicInfo::Error(code)) => Some(*code),
                        _ => None,
                    };
                    expired_unrouted.push((topic.clone(), u.record.id, code));
                }
            }
        }
        self.unrouted.retain(|_, q| !q.is_empty());
        for (topic, id, last_error) in expired_unrouted {
            let error = DeliveryError::TimedOut {
                maybe_written: false,
                last_error,
            };
            self.fail_unrouted(&topic, id, error);
        }

        let mut expired = Vec::new();
        for (tp, queue) in self.partitions.iter_mut() {
            let mut i = 0;
            while let Some(b) = queue.batches.get(i) {
                // Batches are made in send order, so are their deadlines: none after this
                // one is due either.
                if b.deadline > now {
                    break;
                }
                if !b.is_in_flight() {
                    if let Some(b) = queue.batches.remove(i) {
                        expired.push((tp.clone(), b));
                    }
                } else {
                    i += 1;
                }
            }
        }
        for (tp, b) in expired {
            if b.was_sent() {
                self.sequence_gap();
            }
            let error = DeliveryError::TimedOut {
                maybe_written: b.maybe_written,
                last_error: b.last_error,
            };
            self.fail_records(&tp, b.ids(), error);
        }
    }

    /// When something is due in `queue`: its next batch's linger or backoff end, and its
    /// delivery timeout.
    pub(crate) fn partition_timeouts(&self, queue: &PartitionQueue) -> [Option<Instant>; 2] {
        let Some(batch) = queue.batches.iter().find(|b| !b.is_in_flight()) else {
            return [None, None];
        };
        let send = match batch.state {
            BatchState::Backoff(t) => Some(t),
            _ if batch.closed || batch.was_sent() => None,
            _ => Some(after(batch.created, self.config.linger)),
        };
        [send, Some(batch.deadline)]
    }
}

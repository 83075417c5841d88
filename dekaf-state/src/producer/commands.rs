//! The application's commands that do not concern transactions: send, flush, close; and
//! giving records their partition.

use std::time::Instant;

use super::attempt::after;
use super::batch::{record_size, Batch, PendingRecord, BATCH_OVERHEAD};
use super::error::{AbortableError, DeliveryError, SendError, TransactionError};
use super::metadata::TopicInfo;
use super::partitioner::partition_for_key;
use super::producer::{Producer, Unrouted};
use super::types::{DeliveryId, Event, FlushId, ProducerRecord, Topic, TxnOperation};
use crate::offset::TopicPartition;

impl Producer {
    /// Queues a record. Its outcome comes later as [`Event::Delivered`] with the returned id
    /// (even when the record fails before any request, e.g. for a partition that does not
    /// exist).
    ///
    /// Refused at once, with nothing queued: a record larger than `max_request_size`, a full
    /// buffer (records waiting for room count as filling it: a record never overtakes them),
    /// a negative partition, a closed or failed producer, and for a transactional producer a
    /// send outside an open transaction. [`send_waiting`](Self::send_waiting) waits for room
    /// instead.
    pub fn send(&mut self, now: Instant, record: ProducerRecord) -> Result<DeliveryId, SendError> {
        self.observe(now);
        let size = self.check_record(&record)?;
        if !self.waiting.is_empty() || !self.has_room(size) {
            self.transaction_abortable(AbortableError::BufferFull {
                topic: record.topic,
            });
            return Err(SendError::BufferFull);
        }
        let id = self.next_delivery_id();
        self.undelivered.insert(id, size);
        self.accept(now, id, record, size);
        Ok(id)
    }

    /// Why `record` cannot be sent now, or the room it takes in the buffer. A record refused
    /// for itself (too large, an invalid partition) inside a transaction makes the transaction
    /// abortable, as in Java's producer: committing without it would lose it silently.
    pub(crate) fn check_record(&mut self, record: &ProducerRecord) -> Result<usize, SendError> {
        let checked = self.check_record_alone(record);
        let refusal = match &checked {
            Err(SendError::RecordTooLarge { size, max }) => Some(AbortableError::RecordTooLarge {
                topic: record.topic.clone(),
                size: *size,
                max: *max,
            }),
            Err(SendError::InvalidPartition(partition)) => Some(AbortableError::InvalidPartition {
                topic: record.topic.clone(),
                partition: *partition,
            }),
            _ => None,
        };
        if let Some(e) = refusal {
            self.transaction_abortable(e);
        }
        checked
    }

    fn check_record_alone(&self, record: &ProducerRecord) -> Result<usize, SendError> {
        if let Some(e) = &self.fatal {
            return Err(SendError::Fatal(e.clone()));
        }
        if self.closed {
            return Err(SendError::Closed);
        }
        if let Some(txn) = &self.txn {
            if !txn.state.accepts_records() {
                let error = txn.error.clone().unwrap_or(TransactionError::InvalidState {
                    operation: TxnOperation::Send,
                    state: txn.state,
                });
                return Err(SendError::Transaction(error));
            }
        }
        if let Some(p) = record.partition.filter(|p| *p < 0) {
            return Err(SendError::InvalidPartition(p));
        }
        let size = record_size(record.key.as_ref(), record.value.as_ref(), &record.headers);
        if size + BATCH_OVERHEAD > self.config.max_request_size {
            return Err(SendError::RecordTooLarge {
                size: size + BATCH_OVERHEAD,
                max: self.config.max_request_size,
            });
        }
        Ok(size)
    }

    /// Whether a record of `size` bytes fits in the buffer now (one always fits in an empty
    /// buffer, so that no record waits forever).
    pub(crate) fn has_room(&self, size: usize) -> bool {
        self.buffered == 0 || self.buffered + size <= self.config.buffer_memory
    }

    pub(crate) fn next_delivery_id(&mut self) -> DeliveryId {
        let id = DeliveryId(self.next_delivery);
        self.next_delivery += 1;
        id
    }

    /// Puts record `id` in the buffer: to its partition, or to wait for its topic's
    /// metadata. Its delivery timeout starts now.
    pub(crate) fn accept(
        &mut self,
        now: Instant,
        id: DeliveryId,
        record: ProducerRecord,
        size: usize,
    ) {
        self.buffered += size;
        let topic = self.metadata.intern(&record.topic);
        let pending = PendingRecord {
            id,
            timestamp: record.timestamp.unwrap_or(-1),
            key: record.key,
            value: record.value,
            headers: record.headers,
            size,
        };
        let unrouted = Unrouted {
            record: pending,
            partition: record.partition,
            created: now,
            deadline: after(now, self.config.delivery_timeout),
        };
        let waiting = self.unrouted.get(&topic).is_some_and(|q| !q.is_empty());
        if waiting || self.metadata.partition_count(&topic).is_none() {
            self.unrouted.entry(topic).or_default().push_back(unrouted);
            self.poll_wanted = true;
        } else {
            self.route(&topic, unrouted);
        }
    }

    /// Asks for the outcome of every record sent so far: their batches go out without
    /// waiting for the linger time, and [`Event::Flushed`] with the returned id follows the
    /// last of their outcomes.
    pub fn flush(&mut self, now: Instant) -> FlushId {
        self.observe(now);
        let id = FlushId(self.next_flush);
        self.next_flush += 1;
        let upto = DeliveryId(self.next_delivery.saturating_sub(1));
        if self.next_delivery == 0 {
            self.events.push_back(Event::Flushed { id });
        } else {
            self.flushes.push_back((id, upto));
            self.complete_flushes();
        }
        id
    }

    /// Refuses further records and sends those held without waiting for the linger time.
    /// The producer is done once [`is_idle`](Self::is_idle); an open transaction is left for
    /// the coordinator to abort after its timeout.
    pub fn close(&mut self, now: Instant) {
        self.observe(now);
        self.closed = true;
    }

    /// Gives records waiting for `topic`'s metadata their partitions, in send order, or
    /// fails them when the topic cannot be written.
    pub(crate) fn route_waiting(&mut self, topic: &Topic) {
        match self.metadata.topic(topic) {
            Some(TopicInfo::Known { .. }) => {
                let queue = self.unrouted.remove(topic).unwrap_or_default();
                for u in queue {
                    self.route(topic, u);
                }
            }
            Some(TopicInfo::Error(code)) if !code.is_retriable() && !is_missing(*code) => {
                let code = *code;
                let queue = self.unrouted.remove(topic).unwrap_or_default();
                for u in queue {
                    self.fail_unrouted(topic, u.record.id, DeliveryError::Rejected(code));
                }
            }
            _ => {}
        }
    }

    /// Reports a record that failed before it was given a partition; the transaction it
    /// belongs to cannot commit without it.
    pub(crate) fn fail_unrouted(&mut self, topic: &Topic, id: DeliveryId, error: DeliveryError) {
        self.deliver(id, Err(error.clone()));
        self.transaction_abortable(AbortableError::Unrouted {
            topic: topic.to_string(),
            error,
        });
    }

    /// Appends a record to its partition's last batch, or to a new one.
    fn route(&mut self, topic: &Topic, u: Unrouted) {
        let Some(count) = self.metadata.partition_count(topic) else {
            self.unrouted.entry(topic.clone()).or_default().push_back(u);
            return;
        };
        let custom = match (&self.config.partitioner, u.partition) {
            (Some(custom), None) => custom.0.partition(topic, u.record.key.as_deref(), count),
            _ => None,
        };
        let partition = match (u.partition.or(custom), u.record.key.as_ref()) {
            (Some(p), _) => {
                if usize::try_from(p).is_ok_and(|p| p < count) {
                    Some(p)
                } else {
                    let error = DeliveryError::InvalidPartition {
                        partition: p,
                        partitions: count,
                    };
                    self.fail_unrouted(topic, u.record.id, error);
                    return;
                }
            }
            (None, Some(key)) => partition_for_key(key, count),
            (None, None) => {
                let available = match self.metadata.topic(topic) {
                    Some(TopicInfo::Known { available, .. }) => available.as_slice(),
                    _ => &[],
                };
                self.sticky.partition(topic, count, available)
            }
        };
        let Some(partition) = partition else {
            self.unrouted.entry(topic.clone()).or_default().push_back(u);
            return;
        };
        let tp = TopicPartition::new(topic.clone(), partition);
        if let Some(txn) = self.txn.as_mut() {
            txn.register_partition(&tp);
            self.poll_wanted = true;
        }
        let batch_size = self.config.batch_size;
        let queue = self.partitions.entry(tp).or_default();
        let fits = queue.batches.back().is_some_and(|b| {
            !b.closed && b.sealed.is_none() && b.size + u.record.size <= batch_size
        });
        if !fits {
            if let Some(last) = queue.batches.back_mut() {
                if !last.closed {
                    last.closed = true;
                    self.sticky.batch_closed(topic, partition);
                }
            }
            let id = self.next_batch;
            self.next_batch += 1;
            queue
                .batches
                .push_back(Batch::new(id, u.created, u.deadline, batch_size));
            // A new linger deadline.
            self.poll_wanted = true;
        }
        let Some(batch) = queue.batches.back_mut() else {
            return;
        };
        let id = u.record.id;
        match batch.push(u.record) {
            Ok(()) => {
                if batch.size >= batch_size {
                    batch.closed = true;
                    self.sticky.batch_closed(topic, partition);
                    self.poll_wanted = true;
                }
            }
            // Not expected: the record's size was checked against the request's.
            Err(e) => {
                let tp = TopicPartition::new(topic.clone(), partition);
                self.fail_records(&tp, [id], DeliveryError::Encode(e.to_string()));
            }
        }
    }
}

/// Codes that say a topic does not exist (yet): keep asking until the delivery timeout.
pub(crate) fn is_missing(code: dekaf_proto::ErrorCode) -> bool {
    use dekaf_proto::ErrorCode;
    matches!(
        code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION | ErrorCode::LEADER_NOT_AVAILABLE
    )
}

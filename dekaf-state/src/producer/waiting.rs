//! Backpressure: records that wait for room in the buffer, in send order, at most
//! `max_block` each, and enter it as outcomes free room.

use std::collections::VecDeque;
use std::time::Instant;

use super::attempt::after;
use super::error::{AbortableError, DeliveryError, SendError};
use super::producer::Producer;
use super::txn::TransactionState;
use super::types::{DeliveryId, Event, ProducerRecord};

/// A record accepted by `send_waiting` that has not entered the buffer yet.
#[derive(Debug)]
pub(crate) struct Waiting {
    pub(crate) id: DeliveryId,
    pub(crate) record: ProducerRecord,
    pub(crate) size: usize,
    /// When it is refused if still waiting.
    pub(crate) deadline: Instant,
}

impl Producer {
    /// Queues a record as [`send`](Self::send) does, except that a full buffer does not
    /// refuse it: the record waits for room, behind the records already waiting (so that
    /// records enter the buffer, and each partition, in the order they were sent), at most
    /// `max_block`. Once in, [`Event::Buffered`] says so, and [`Event::Delivered`] with its
    /// outcome follows as for any record; if no room came within `max_block`, only
    /// `Delivered` comes, with [`DeliveryError::BufferFull`].
    ///
    /// Whether it had to wait: [`is_waiting`](Self::is_waiting). Refused at once for every
    /// other reason `send` refuses a record. A waiting record counts in
    /// [`pending_records`](Self::pending_records), a [`flush`](Self::flush) and a commit wait
    /// for it, an abort fails it with [`DeliveryError::TransactionAborted`], and it is never
    /// sent once refused. The machine keeps every waiting record: a driver bounds their
    /// number (e.g. by [`cancel`](Self::cancel)ling those nobody waits for any more).
    pub fn send_waiting(
        &mut self,
        now: Instant,
        record: ProducerRecord,
    ) -> Result<DeliveryId, SendError> {
        self.observe(now);
        let size = self.check_record(&record)?;
        let id = self.next_delivery_id();
        if self.waiting.is_empty() && self.has_room(size) {
            self.undelivered.insert(id, size);
            self.accept(now, id, record, size);
            return Ok(id);
        }
        // Room is taken only on entry: a waiting record holds none.
        self.undelivered.insert(id, 0);
        // Its `max_block` deadline.
        self.poll_wanted = true;
        let from = self.now.unwrap_or(now);
        self.waiting.push_back(Waiting {
            id,
            record,
            size,
            deadline: after(from, self.config.max_block),
        });
        Ok(id)
    }

    /// Withdraws record `id` while it waits for room: it will never be sent, and is reported
    /// at once as refused ([`Event::Delivered`] with [`DeliveryError::BufferFull`]). In a
    /// transaction, the
    /// transaction can then only abort. Returns false, changing nothing, when the record is
    /// not waiting (it entered the buffer, or has its outcome already).
    pub fn cancel(&mut self, now: Instant, id: DeliveryId) -> bool {
        self.observe(now);
        // The newest waiting records are the likeliest to be withdrawn.
        let Some(index) = self.waiting.iter().rposition(|w| w.id == id) else {
            return false;
        };
        let Some(w) = self.waiting.remove(index) else {
            return false;
        };
        self.refuse_waiting(w);
        // Records behind it may fit now.
        self.progress(now);
        true
    }

    /// Whether record `id` waits for room in the buffer.
    pub fn is_waiting(&self, id: DeliveryId) -> bool {
        self.waiting.iter().rev().any(|w| w.id == id)
    }

    /// Records waiting for room in the buffer.
    pub fn waiting_records(&self) -> usize {
        self.waiting.len()
    }

    /// Lets waiting records into the buffer, oldest first, while they fit. In a transaction
    /// being aborted, they are failed instead (see `discard_unsent`).
    pub(crate) fn admit_waiting(&mut self, now: Instant) {
        if self.fatal.is_some() {
            return;
        }
        if let Some(txn) = &self.txn {
            if !matches!(
                txn.state,
                TransactionState::InTransaction | TransactionState::Committing
            ) {
                return;
            }
        }
        while let Some(size) = self.waiting.front().map(|w| w.size) {
            if !self.has_room(size) {
                break;
            }
            let Some(w) = self.waiting.pop_front() else {
                break;
            };
            self.undelivered.insert(w.id, w.size);
            self.events.push_back(Event::Buffered { id: w.id });
            self.accept(now, w.id, w.record, w.size);
        }
    }

    /// Refuses the records that waited `max_block` without getting in.
    pub(crate) fn expire_waiting(&mut self, now: Instant) {
        while self.waiting.front().is_some_and(|w| w.deadline <= now) {
            if let Some(w) = self.waiting.pop_front() {
                self.refuse_waiting(w);
            }
        }
    }

    /// Every waiting record, taken out (they will never enter the buffer).
    pub(crate) fn take_waiting(&mut self) -> VecDeque<Waiting> {
        std::mem::take(&mut self.waiting)
    }

    /// Reports a record that never got in; a transaction that counted on it cannot commit.
    fn refuse_waiting(&mut self, w: Waiting) {
        self.deliver(w.id, Err(DeliveryError::BufferFull));
        self.transaction_abortable(AbortableError::BufferFull {
            topic: w.record.topic,
        });
    }
}

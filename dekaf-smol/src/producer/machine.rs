//! The producer machine as the driver sees it, shared with the API behind one lock, and the
//! hook that hands the machine's events to whoever awaits them.
//!
//! As for the consumer: `send`, `flush` and the transaction commands run on the caller's side
//! under the lock (so that a refusal comes back at once) and leave a channel keyed by the id
//! the machine gave them; the caller then wakes the driver ([`Shared::nudge`]). The driver's
//! [`after_step`](crate::Hooks::after_step) hook drains the machine's events and completes the
//! channels.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Poll, Waker};

use async_channel::Sender;
use dekaf_state::producer::{
    DeliveryId, Event, FlushId, Producer as StateProducer, TransactionError, TxnOpId,
};

use super::record::RecordMetadata;
use crate::glue::{self, ClientState};
use crate::side::SideRequests;
use crate::{Error, Handle};

/// The outcome a sender awaits.
pub(crate) type Delivery = Result<RecordMetadata, Error>;

/// Who holds a record's [`Delivery`](super::Delivery), until its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holder {
    /// Dropped: a failure goes to the flushes.
    Nobody,
    /// Held, not awaited yet: the outcome is kept for it.
    Held,
    /// Awaited: its waker is in `wakers`.
    Awaited,
    /// Reported (kept only until the records before it are).
    Done,
}

/// A record sent and not reported yet: its topic (an index into `topics`, for the error)
/// and who waits for it. Eight bytes, and no allocation, per record.
#[derive(Clone, Copy, Debug)]
struct Slot {
    topic: u32,
    holder: Holder,
}

/// The records sent and not reported yet, indexed by delivery id: ids are given out in
/// order, and mostly reported in order.
#[derive(Debug, Default)]
struct Slots {
    base: u64,
    slots: std::collections::VecDeque<Slot>,
}

impl Slots {
    fn push(&mut self, id: DeliveryId, topic: u32) {
        if self.slots.is_empty() {
            self.base = id.0;
        }
        let Some(index) =
            id.0.checked_sub(self.base)
                .and_then(|i| usize::try_from(i).ok())
        else {
            return;
        };
        while self.slots.len() < index {
            self.slots.push_back(Slot {
                topic: 0,
                holder: Holder::Done,
            });
        }
        self.slots.push_back(Slot {
            topic,
            holder: Holder::Held,
        });
    }

    fn get_mut(&mut self, id: DeliveryId) -> Option<&mut Slot> {
        let index = usize::try_from(id.0.checked_sub(self.base)?).ok()?;
        self.slots
            .get_mut(index)
            .filter(|s| s.holder != Holder::Done)
    }

    /// Record `id` is reported: its slot, as it was.
    fn finish(&mut self, id: DeliveryId) -> Option<Slot> {
        let slot = self.get_mut(id)?;
        let was = *slot;
        slot.holder = Holder::Done;
        while self.slots.front().is_some_and(|s| s.holder == Holder::Done) {
            self.slots.pop_front();
            self.base += 1;
        }
        Some(was)
    }

    fn clear(&mut self) {
        self.slots.clear();
    }
}

/// A flush and the first failure among the records it waits for.
#[derive(Debug)]
struct FlushWaiter {
    /// The newest record it waits for (`None`: none was sent before it).
    upto: Option<DeliveryId>,
    first_error: Option<Error>,
    tx: Sender<Result<(), Error>>,
}

/// Records sent, delivered and failed (by error), for `Producer::metrics`.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) sent: u64,
    pub(crate) delivered: u64,
    pub(crate) failed: u64,
    pub(crate) errors: std::collections::BTreeMap<String, u64>,
}

impl Counts {
    fn delivered<T>(&mut self, result: &Result<T, dekaf_state::producer::DeliveryError>) {
        use dekaf_state::producer::DeliveryError as E;
        self.delivered += 1;
        let Err(e) = result else { return };
        self.failed += 1;
        let key = match e {
            E::Rejected(code) => code.to_string(),
            E::TimedOut { .. } => "timed out".into(),
            E::OutOfOrderSequence => "out of order sequence".into(),
            E::InvalidPartition { .. } => "invalid partition".into(),
            E::TransactionAborted => "transaction aborted".into(),
            E::Fatal(_) => "fatal".into(),
            E::Request(_) => "request failed".into(),
            E::Encode(_) => "not encodable".into(),
            _ => "other".into(),
        };
        *self.errors.entry(key).or_default() += 1;
    }
}

/// What the driver and the API share.
pub(crate) type Shared = glue::Shared<Inner>;

/// The machine the driver owns: the shared producer, locked for each call.
pub(crate) type Machine = glue::Machine<Inner>;

/// The machine and the waiters of its outcomes.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) producer: StateProducer,
    pub(crate) side: SideRequests,
    /// Every record sent and not reported yet.
    slots: Slots,
    /// The wakers of awaited records.
    wakers: HashMap<DeliveryId, Waker>,
    /// Outcomes of records whose `Delivery` is held and has not taken them yet.
    ready: HashMap<DeliveryId, Delivery>,
    /// Records waiting for room in the buffer: told when they get in, dropped (closing the
    /// channel) if they never do.
    spaces: HashMap<DeliveryId, Sender<()>>,
    /// Topic names of the records, each once.
    topics: Vec<Arc<str>>,
    topic_index: HashMap<Arc<str>, u32>,
    last_topic: Option<u32>,
    flushes: HashMap<FlushId, FlushWaiter>,
    ops: HashMap<TxnOpId, Sender<Result<(), TransactionError>>>,
    /// The newest record accepted.
    last_sent: Option<DeliveryId>,
    /// The first failure nobody awaited (a refused send, a failed record whose future was
    /// dropped) that no flush has reported yet: the next flush reports it.
    unread: Option<Error>,
    /// Records sent, delivered and failed, for `metrics`.
    pub(crate) counts: Counts,
    /// Set by `close` and on drop: stop the driver once every record has its outcome.
    pub(crate) stop_when_delivered: Option<Handle<Machine>>,
    /// The driver has stopped: nothing will be answered any more.
    pub(crate) stopped: bool,
}

impl Inner {
    pub(crate) fn new(producer: StateProducer) -> Inner {
        Inner {
            producer,
            side: SideRequests::default(),
            slots: Slots::default(),
            wakers: HashMap::new(),
            ready: HashMap::new(),
            spaces: HashMap::new(),
            topics: Vec::new(),
            topic_index: HashMap::new(),
            last_topic: None,
            flushes: HashMap::new(),
            ops: HashMap::new(),
            last_sent: None,
            unread: None,
            counts: Counts::default(),
            stop_when_delivered: None,
            stopped: false,
        }
    }

    /// The index of `topic` in `topics` (the last one used is the likeliest).
    pub(crate) fn topic(&mut self, topic: &str) -> u32 {
        if let Some(last) = self.last_topic {
            if self
                .topics
                .get(last as usize)
                .is_some_and(|t| &**t == topic)
            {
                return last;
            }
        }
        if let Some(index) = self.topic_index.get(topic).copied() {
            self.last_topic = Some(index);
            return index;
        }
        let name: Arc<str> = topic.into();
        let index = u32::try_from(self.topics.len()).unwrap_or(u32::MAX);
        self.topics.push(name.clone());
        self.topic_index.insert(name, index);
        self.last_topic = Some(index);
        index
    }

    /// Remembers that record `id` of `topic` was sent and its `Delivery` is held, and
    /// (`space`) who waits for it to enter the buffer if it waits for room.
    pub(crate) fn sent(&mut self, id: DeliveryId, topic: u32, space: Option<Sender<()>>) {
        self.counts.sent += 1;
        self.last_sent = Some(id);
        self.slots.push(id, topic);
        if let Some(space) = space {
            self.spaces.insert(id, space);
        }
    }

    /// The outcome of record `id` if it is known, else `waker` is woken when it is. `None`
    /// when it will never come (the driver stopped).
    pub(crate) fn poll_outcome(&mut self, id: DeliveryId, waker: &Waker) -> Option<Poll<Delivery>> {
        if let Some(outcome) = self.ready.remove(&id) {
            return Some(Poll::Ready(outcome));
        }
        let slot = self.slots.get_mut(id)?;
        slot.holder = Holder::Awaited;
        match self.wakers.get_mut(&id) {
            Some(w) => w.clone_from(waker),
            None => {
                self.wakers.insert(id, waker.clone());
            }
        }
        Some(Poll::Pending)
    }

    /// The `Delivery` of record `id` was dropped: a failure already known, or to come, goes
    /// to the flushes.
    pub(crate) fn release(&mut self, id: DeliveryId) {
        self.wakers.remove(&id);
        self.spaces.remove(&id);
        match self.ready.remove(&id) {
            Some(Err(e)) => self.unread(Some(id), e),
            Some(Ok(_)) => {}
            None => {
                if let Some(slot) = self.slots.get_mut(id) {
                    slot.holder = Holder::Nobody;
                }
            }
        }
    }

    /// A failure nobody will read: record `id`'s (`None`: a send refused at once). The
    /// flushes waiting for it report it, else the next flush does.
    pub(crate) fn unread(&mut self, id: Option<DeliveryId>, error: Error) {
        tracing::debug!(record = ?id, %error, "failure nobody awaited");
        let mut reported = false;
        if let Some(id) = id {
            for f in self.flushes.values_mut() {
                if f.upto.is_some_and(|upto| id <= upto) {
                    f.first_error.get_or_insert_with(|| error.clone());
                    reported = true;
                }
            }
        }
        if !reported {
            self.unread.get_or_insert(error);
        }
    }

    /// Remembers who waits for flush `id`.
    pub(crate) fn flushing(&mut self, id: FlushId, tx: Sender<Result<(), Error>>) {
        let waiter = FlushWaiter {
            upto: self.last_sent,
            first_error: self.unread.take(),
            tx,
        };
        self.flushes.insert(id, waiter);
    }

    /// Remembers who waits for transaction operation `id`.
    pub(crate) fn operating(&mut self, id: TxnOpId, tx: Sender<Result<(), TransactionError>>) {
        self.ops.insert(id, tx);
    }

    /// The caller of operation `id` stopped waiting.
    pub(crate) fn forget_operation(&mut self, id: TxnOpId) {
        self.ops.remove(&id);
    }

    /// Hands each event of the machine to its waiter.
    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Delivered { id, result } => {
                let Some(slot) = self.slots.finish(id) else {
                    return;
                };
                self.counts.delivered(&result);
                self.spaces.remove(&id);
                match (slot.holder, result) {
                    // Fire and forget, written: nothing to tell.
                    (Holder::Nobody, Ok(_)) => {}
                    (Holder::Nobody, Err(e)) => {
                        let e = Error::delivery(self.topic_name(slot.topic), e);
                        self.unread(Some(id), e);
                    }
                    (_, result) => {
                        let topic = slot.topic;
                        let result = result
                            .map(RecordMetadata::from)
                            .map_err(|e| Error::delivery(self.topic_name(topic), e));
                        self.ready.insert(id, result);
                        if let Some(waker) = self.wakers.remove(&id) {
                            waker.wake();
                        }
                    }
                }
            }
            Event::Buffered { id } => {
                if let Some(space) = self.spaces.remove(&id) {
                    let _ = space.try_send(());
                }
            }
            Event::Flushed { id } => {
                if let Some(f) = self.flushes.remove(&id) {
                    let _ = f.tx.try_send(f.first_error.map_or(Ok(()), Err));
                }
            }
            Event::Transaction { id, result, .. } => {
                if let Some(tx) = self.ops.remove(&id) {
                    let _ = tx.try_send(result);
                }
            }
            other => tracing::debug!(event = ?other, "producer event"),
        }
    }

    fn topic_name(&self, index: u32) -> &str {
        self.topics
            .get(usize::try_from(index).unwrap_or(usize::MAX))
            .map_or("", |t| t)
    }

    /// After each driver step (and after a cancellation): outcomes out, the driver stopped
    /// once closed and delivered.
    pub(crate) fn drain_after_step(&mut self) {
        while let Some(event) = self.producer.poll_event() {
            self.dispatch(event);
        }
        if self.producer.is_closed() && self.producer.pending_records() == 0 {
            if let Some(handle) = self.stop_when_delivered.take() {
                handle.shutdown();
            }
        }
    }

    /// The driver stopped: every waiter learns it (their senders are dropped).
    pub(crate) fn stop_waiters(&mut self) {
        self.stopped = true;
        // Outcomes known stay for their `Delivery`s; the others will never come.
        self.slots.clear();
        self.spaces.clear();
        for (_, waker) in self.wakers.drain() {
            waker.wake();
        }
        self.flushes.clear();
        self.ops.clear();
        self.stop_when_delivered = None;
    }
}

impl ClientState for Inner {
    type Machine = StateProducer;
    type Leftover = ();

    fn machine(&mut self) -> &mut StateProducer {
        &mut self.producer
    }

    fn machine_ref(&self) -> &StateProducer {
        &self.producer
    }

    fn side(&mut self) -> &mut SideRequests {
        &mut self.side
    }

    fn after_step(&mut self) {
        self.drain_after_step();
    }

    fn stop(&mut self) {
        self.stop_waiters();
    }
}

#[cfg(test)]
mod tests {
    use dekaf_proto::ErrorCode;
    use dekaf_state::producer::{DeliveryError, ProducerConfig, SendError};

    use super::*;

    fn inner() -> Arc<Shared> {
        let producer = StateProducer::new(ProducerConfig::default(), 1).expect("valid settings");
        Shared::new(Inner::new(producer), Vec::new())
    }

    fn failed(id: u64) -> Event {
        Event::Delivered {
            id: DeliveryId(id),
            result: Err(DeliveryError::Rejected(ErrorCode::RECORD_LIST_TOO_LARGE)),
        }
    }

    fn noop() -> Waker {
        Waker::noop().clone()
    }

    #[test]
    fn a_flush_reports_the_first_failure_nobody_awaited_once() {
        let shared = inner();
        let mut inner = shared.lock();
        // Record 0 is awaited, record 1 is not (its `Delivery` is dropped).
        let topic = inner.topic("t");
        inner.sent(DeliveryId(0), topic, None);
        let topic = inner.topic("t");
        inner.sent(DeliveryId(1), topic, None);
        assert!(matches!(
            inner.poll_outcome(DeliveryId(0), &noop()),
            Some(Poll::Pending)
        ));
        inner.release(DeliveryId(1));
        let (ftx, frx) = async_channel::bounded(1);
        inner.flushing(FlushId(0), ftx);
        inner.dispatch(failed(0));
        inner.dispatch(failed(1));
        inner.dispatch(Event::Flushed { id: FlushId(0) });
        assert!(matches!(
            inner.poll_outcome(DeliveryId(0), &noop()),
            Some(Poll::Ready(Err(Error::Delivery { .. })))
        ));
        let Ok(Err(Error::Delivery { topic, .. })) = frx.try_recv() else {
            panic!("the flush did not report record 1");
        };
        assert_eq!(topic, "t");

        // A refusal nobody read goes to the next flush, and only to it.
        inner.unread(None, Error::Send(SendError::BufferFull));
        for (flush, reported) in [(1, true), (2, false)] {
            let (ftx, frx) = async_channel::bounded(1);
            inner.flushing(FlushId(flush), ftx);
            inner.dispatch(Event::Flushed { id: FlushId(flush) });
            assert_eq!(frx.try_recv().expect("flushed").is_err(), reported);
        }

        // A failure that came before the flush was asked for is reported by it, whether the
        // `Delivery` was dropped before the outcome or after.
        let topic = inner.topic("t");
        inner.sent(DeliveryId(2), topic, None);
        let topic = inner.topic("u");
        inner.sent(DeliveryId(3), topic, None);
        inner.release(DeliveryId(2));
        inner.dispatch(failed(2));
        inner.dispatch(failed(3));
        inner.release(DeliveryId(3));
        let (ftx, frx) = async_channel::bounded(1);
        inner.flushing(FlushId(3), ftx);
        inner.dispatch(Event::Flushed { id: FlushId(3) });
        let Ok(Err(Error::Delivery { topic, .. })) = frx.try_recv() else {
            panic!("the flush did not report record 2");
        };
        assert_eq!(topic, "t");
        assert!(inner.slots.slots.is_empty() && inner.ready.is_empty());
    }

    #[test]
    fn a_stopped_driver_fails_every_waiter() {
        let shared = inner();
        let mut inner = shared.lock();
        let topic = inner.topic("t");
        inner.sent(DeliveryId(0), topic, None);
        assert!(matches!(
            inner.poll_outcome(DeliveryId(0), &noop()),
            Some(Poll::Pending)
        ));
        let (otx, orx) = async_channel::bounded(1);
        inner.operating(TxnOpId(0), otx);
        inner.stop_waiters();
        assert!(inner.stopped);
        assert!(inner.poll_outcome(DeliveryId(0), &noop()).is_none());
        assert!(orx.is_closed());
    }
}

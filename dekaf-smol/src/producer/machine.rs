//! The producer machine as the driver sees it, shared with the API behind one lock, and the
//! hook that hands the machine's events to whoever awaits them.
//!
//! As for the consumer: `send`, `flush` and the transaction commands run on the caller's side
//! under the lock (so that a refusal comes back at once) and leave a channel keyed by the id
//! the machine gave them; the caller then wakes the driver ([`Shared::nudge`]). The driver's
//! [`after_step`](Hooks::after_step) hook drains the machine's events and completes the
//! channels.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_channel::{Sender, TrySendError};
use dekaf_state::client::{
    BrokerAddress, BrokerId, ClientMachine, Destination, Outgoing, RequestFailed, RequestId,
    Response,
};
use dekaf_state::producer::{
    DeliveryId, Event, FlushId, Producer as StateProducer, TransactionError, TxnOpId,
};

use super::record::RecordMetadata;
use crate::side::SideRequests;
use crate::{ConnectionEvent, Error, Handle, Hooks};

/// The outcome a sender awaits.
pub(crate) type Delivery = Result<RecordMetadata, Error>;

/// A record sent and not reported yet.
#[derive(Debug)]
struct Waiter {
    topic: Arc<str>,
    /// Where its outcome goes (the caller may have stopped waiting: fire and forget).
    tx: Sender<Delivery>,
    /// While it waits for room in the buffer: told when it gets in, dropped (closing the
    /// channel) if it never does.
    space: Option<Sender<()>>,
}

/// A flush and the first failure among the records it waits for.
#[derive(Debug)]
struct FlushWaiter {
    /// The newest record it waits for (`None`: none was sent before it).
    upto: Option<DeliveryId>,
    first_error: Option<Error>,
    tx: Sender<Result<(), Error>>,
}

/// What the driver and the API share.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    /// A wake-up for the driver is on its way and has not run yet.
    nudge_pending: AtomicBool,
}

/// The machine and the waiters of its outcomes.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) producer: StateProducer,
    pub(crate) side: SideRequests,
    deliveries: HashMap<DeliveryId, Waiter>,
    flushes: HashMap<FlushId, FlushWaiter>,
    ops: HashMap<TxnOpId, Sender<Result<(), TransactionError>>>,
    /// The newest record accepted.
    last_sent: Option<DeliveryId>,
    /// The first failure nobody awaited (a refused send, a failed record whose future was
    /// dropped) that no flush has reported yet: the next flush reports it.
    unread: Option<Error>,
    pub(crate) last_connection_error: Option<Error>,
    /// The bootstrap servers, for `ready`'s errors.
    pub(crate) bootstrap_servers: Vec<String>,
    /// Set by `close` and on drop: stop the driver once every record has its outcome.
    pub(crate) stop_when_delivered: Option<Handle<Machine>>,
    /// The driver has stopped: nothing will be answered any more.
    pub(crate) stopped: bool,
}

impl Shared {
    pub(crate) fn new(producer: StateProducer, bootstrap_servers: Vec<String>) -> Arc<Shared> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                producer,
                side: SideRequests::default(),
                deliveries: HashMap::new(),
                flushes: HashMap::new(),
                ops: HashMap::new(),
                last_sent: None,
                unread: None,
                last_connection_error: None,
                bootstrap_servers,
                stop_when_delivered: None,
                stopped: false,
            }),
            nudge_pending: AtomicBool::new(false),
        })
    }

    /// The machine and its waiters. Never held across an `.await`.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while locked leaves plain data behind, still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the driver take a step soon (send what a command made due), without queueing
    /// more than one wake-up at a time.
    pub(crate) fn nudge(&self, handle: &Handle<Machine>) {
        if !self.nudge_pending.swap(true, Ordering::AcqRel) {
            let sent = handle.execute(|m: &mut Machine, _| {
                m.0.nudge_pending.store(false, Ordering::Release);
            });
            if sent.is_err() {
                self.nudge_pending.store(false, Ordering::Release);
            }
        }
    }
}

impl Inner {
    /// Remembers who waits for record `id` of `topic`, and (`space`) for it to enter the
    /// buffer if it waits for room.
    pub(crate) fn sent(
        &mut self,
        id: DeliveryId,
        topic: Arc<str>,
        tx: Sender<Delivery>,
        space: Option<Sender<()>>,
    ) {
        self.last_sent = Some(id);
        self.deliveries.insert(id, Waiter { topic, tx, space });
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
                let Some(waiter) = self.deliveries.remove(&id) else {
                    return;
                };
                let result = result
                    .map(RecordMetadata::from)
                    .map_err(|e| Error::delivery(&waiter.topic, e));
                // Fire and forget: a failure nobody awaits goes to the flushes.
                if let Err(TrySendError::Closed(Err(e))) = waiter.tx.try_send(result) {
                    self.unread(Some(id), e);
                }
            }
            Event::Buffered { id } => {
                if let Some(space) = self.deliveries.get_mut(&id).and_then(|w| w.space.take()) {
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

    /// After each driver step (and after a cancellation): outcomes out, the driver stopped
    /// once closed and delivered.
    pub(crate) fn after_step(&mut self) {
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
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
        self.deliveries.clear();
        self.flushes.clear();
        self.ops.clear();
        self.stop_when_delivered = None;
    }
}

/// The machine the driver owns: the shared producer, locked for each call.
#[derive(Debug)]
pub(crate) struct Machine(pub(crate) Arc<Shared>);

impl ClientMachine for Machine {
    fn poll_request(&mut self, now: Instant) -> Option<Outgoing> {
        let mut inner = self.0.lock();
        match inner.side.poll_request() {
            Some(out) => Some(out),
            None => inner.producer.poll_request(now),
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        let mut inner = self.0.lock();
        if inner.side.owns(id) {
            inner.side.handle_response(id, result);
        } else {
            inner.producer.handle_response(now, id, result);
        }
    }

    fn handle_disconnected(&mut self, now: Instant, connection: Destination) {
        self.0.lock().producer.handle_disconnected(now, connection);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.0.lock().producer.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.0.lock().producer.poll_timeout()
    }

    fn broker_address(&self, id: BrokerId) -> Option<BrokerAddress> {
        self.0.lock().producer.broker_address(id)
    }
}

/// Drains the machine's events after each driver step.
#[derive(Debug)]
pub(crate) struct ProducerHooks;

impl Hooks<Machine> for ProducerHooks {
    fn after_step(&mut self, machine: &mut Machine, _now: Instant) {
        machine.0.lock().after_step();
    }

    fn connection_event(&mut self, machine: &mut Machine, event: &ConnectionEvent) {
        match event {
            ConnectionEvent::Closed { reason, .. } => {
                tracing::debug!(%reason, "connection closed");
                machine.0.lock().last_connection_error = Some(reason.clone());
            }
            ConnectionEvent::Connected { address, .. } => {
                tracing::debug!(host = %address.host, port = address.port, "connected");
            }
        }
    }
}

/// Marks the producer stopped when the driver's future ends (or is dropped, or unwinds).
pub(crate) struct StopGuard {
    pub(crate) shared: Arc<Shared>,
    /// Dropped with the guard: `close` awaits it.
    pub(crate) _done: Sender<()>,
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        self.shared.lock().stop();
    }
}

#[cfg(test)]
mod tests {
    use dekaf_proto::ErrorCode;
    use dekaf_state::producer::{DeliveryError, ProducerConfig, SendError};

    use super::*;

    fn inner() -> Arc<Shared> {
        let producer = StateProducer::new(ProducerConfig::default(), 1).expect("valid settings");
        Shared::new(producer, Vec::new())
    }

    fn failed(id: u64) -> Event {
        Event::Delivered {
            id: DeliveryId(id),
            result: Err(DeliveryError::Rejected(ErrorCode::RECORD_LIST_TOO_LARGE)),
        }
    }

    #[test]
    fn a_flush_reports_the_first_failure_nobody_awaited_once() {
        let shared = inner();
        let mut inner = shared.lock();
        // Record 0 is awaited, record 1 is not (its receiver is dropped).
        let (tx0, rx0) = async_channel::bounded(1);
        let (tx1, rx1) = async_channel::bounded(1);
        inner.sent(DeliveryId(0), "t".into(), tx0, None);
        inner.sent(DeliveryId(1), "t".into(), tx1, None);
        drop(rx1);
        let (ftx, frx) = async_channel::bounded(1);
        inner.flushing(FlushId(0), ftx);
        inner.dispatch(failed(0));
        inner.dispatch(failed(1));
        inner.dispatch(Event::Flushed { id: FlushId(0) });
        assert!(matches!(rx0.try_recv(), Ok(Err(Error::Delivery { .. }))));
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

        // A failure that came before the flush was asked for is reported by it.
        let (tx2, rx2) = async_channel::bounded(1);
        inner.sent(DeliveryId(2), "t".into(), tx2, None);
        drop(rx2);
        inner.dispatch(failed(2));
        let (ftx, frx) = async_channel::bounded(1);
        inner.flushing(FlushId(3), ftx);
        inner.dispatch(Event::Flushed { id: FlushId(3) });
        assert!(frx.try_recv().expect("flushed").is_err());
    }

    #[test]
    fn a_stopped_driver_fails_every_waiter() {
        let shared = inner();
        let mut inner = shared.lock();
        let (tx, rx) = async_channel::bounded(1);
        inner.sent(DeliveryId(0), "t".into(), tx, None);
        let (otx, orx) = async_channel::bounded(1);
        inner.operating(TxnOpId(0), otx);
        inner.stop();
        assert!(inner.stopped);
        assert!(rx.try_recv().is_err() && rx.is_closed());
        assert!(orx.is_closed());
    }
}

//! The task that does a machine's IO: connections, in-flight requests, one timer, commands.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_channel::{Receiver, Sender};
use async_io::Timer;
use dekaf_state::client::{BrokerAddress, ClientMachine, Destination, Outgoing, RequestFailed};
use dekaf_state::offset::{Backoff, Rng};
use futures_lite::Stream;

use crate::connection::{later, ConnectionEvent, Ctx, Endpoint, Outcome, Queued, Slot};
use crate::metrics::BrokerMetrics;
use crate::transport::Transport;
use crate::{Config, Error};

/// Driver steps per poll before the task yields to its executor, so that a flood of
/// answers cannot monopolise a thread.
const STEPS_PER_POLL: usize = 64;

/// Code the driver calls back into, on its own task, with the machine at hand.
///
/// A client API uses it to drain the machine's own events (records, commit results) and to
/// complete what its callers await.
pub trait Hooks<M>: Send {
    /// After each step in which anything happened (answers fed, commands run, requests
    /// sent), before the driver sleeps again.
    fn after_step(&mut self, machine: &mut M, now: Instant) {
        let _ = (machine, now);
    }

    /// A connection opened, closed, or failed to open.
    fn connection_event(&mut self, machine: &mut M, event: &ConnectionEvent) {
        let _ = (machine, event);
    }
}

type Job<M> = Box<dyn FnOnce(&mut M, Instant) + Send>;

enum Command<M> {
    Run(Job<M>),
    Metrics(Sender<Vec<BrokerMetrics>>),
    Shutdown,
}

/// Runs commands on a machine owned by a [`Driver`]; cheap to clone.
///
/// The driver stops when every handle is dropped or one calls [`shutdown`](Self::shutdown).
pub struct Handle<M> {
    commands: Sender<Command<M>>,
}

impl<M> Clone for Handle<M> {
    fn clone(&self) -> Self {
        Handle {
            commands: self.commands.clone(),
        }
    }
}

impl<M> std::fmt::Debug for Handle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("closed", &self.commands.is_closed())
            .finish()
    }
}

impl<M: 'static> Handle<M> {
    /// Runs `f` on the machine, on the driver's task, and returns what it returns.
    ///
    /// Commands run in the order sent. Requests the machine queues in `f` are written to
    /// their connections (those already open) before any command sent after this call
    /// returned runs.
    pub async fn call<R, F>(&self, f: F) -> Result<R, Error>
    where
        F: FnOnce(&mut M, Instant) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = async_channel::bounded(1);
        self.execute(move |machine, now| {
            // The caller may have stopped waiting; the result is then dropped.
            let _ = tx.try_send(f(machine, now));
        })?;
        rx.recv().await.map_err(|_| Error::Shutdown)
    }

    /// Runs `f` on the machine without waiting for it (usable outside async code, e.g. in a
    /// `Drop`).
    pub fn execute<F>(&self, f: F) -> Result<(), Error>
    where
        F: FnOnce(&mut M, Instant) + Send + 'static,
    {
        self.commands
            .try_send(Command::Run(Box::new(f)))
            .map_err(|_| Error::Shutdown)
    }

    /// A snapshot of every connection the driver keeps (bootstrap, broker and coordinator
    /// connections), in endpoint order: its state, the requests it carried and their latency
    /// per API, the bytes it moved.
    pub async fn connection_metrics(&self) -> Result<Vec<BrokerMetrics>, Error> {
        let (tx, rx) = async_channel::bounded(1);
        self.commands
            .try_send(Command::Metrics(tx))
            .map_err(|_| Error::Shutdown)?;
        rx.recv().await.map_err(|_| Error::Shutdown)
    }

    /// Stops the driver after the commands sent before this one; requests in flight are
    /// abandoned and connections closed.
    pub fn shutdown(&self) {
        let _ = self.commands.try_send(Command::Shutdown);
    }

    /// Whether the driver has stopped.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}

/// Owns a [`ClientMachine`] and does its IO: one connection per broker and one more to each
/// coordinator (opened when a request needs it), bootstrap connections, requests in flight,
/// and one timer.
///
/// [`run`](Self::run) is a future for any executor that can run smol-compatible futures (the
/// sockets and timer come from `async-io`). Each time it wakes — an answer complete, the
/// timer, a command — it feeds the machine what happened, sends what the machine asks for,
/// calls the [`Hooks`], re-arms the timer and sleeps.
///
/// Per connection it does the ApiVersions handshake (v3, falling back when the broker refuses
/// that version), picks each request's version from the broker's ranges, keeps up to
/// [`Config::max_in_flight_per_connection`] requests in flight and queues the rest in order.
/// A request unanswered within the request timeout fails as [`RequestFailed::TimedOut`] and
/// closes its connection (a late answer would be taken for another's); a closed connection
/// fails its in-flight requests as [`RequestFailed::Disconnected`], and a malformed answer
/// closes it and fails them as [`RequestFailed::Malformed`]. Reconnection waits an exponential
/// backoff with jitter and happens when a request needs it.
///
/// Requests for [`Destination::AnyBroker`] go to the least busy open connection, else one being
/// opened, else the next bootstrap address; one that was never written moves on to the next
/// bootstrap address when its connection fails, until each address had one chance. Requests
/// for [`Destination::Broker`] go to the address
/// [`broker_address`](ClientMachine::broker_address) gives; without one they fail at once as
/// [`RequestFailed::Disconnected`] (retriable: refresh the metadata). Requests for
/// [`Destination::Coordinator`] go to the same address on a second connection that carries
/// nothing else, so that a heartbeat or a commit never waits behind a fetch's long poll. Requests that expect no
/// answer are written and never reported. `handle_disconnected` is called both when an open
/// connection closes and when an attempt to open one fails.
pub struct Driver<M> {
    machine: M,
    config: Arc<Config>,
    transport: Arc<dyn Transport>,
    bootstrap: Vec<BrokerAddress>,
    next_bootstrap: usize,
    slots: HashMap<Endpoint, Slot>,
    commands: Pin<Box<Receiver<Command<M>>>>,
    timer: Timer,
    timer_at: Option<Instant>,
    hooks: Option<Box<dyn Hooks<M>>>,
    backoff: Backoff,
    rng: Rng,
}

impl<M> std::fmt::Debug for Driver<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("bootstrap", &self.bootstrap)
            .field("connections", &self.slots.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<M: ClientMachine> Driver<M> {
    /// A driver for `machine` with `config` (checked here), and the handle to command it.
    pub fn new(config: Config, machine: M) -> Result<(Driver<M>, Handle<M>), Error> {
        let bootstrap = config.validate()?;
        let transport = config.open_transport()?;
        let (tx, rx) = async_channel::unbounded();
        let backoff = Backoff {
            initial: config.reconnect_backoff_min,
            max: config.reconnect_backoff_max,
            jitter: 0.2,
        };
        let driver = Driver {
            machine,
            config: Arc::new(config),
            transport,
            bootstrap,
            next_bootstrap: 0,
            slots: HashMap::new(),
            commands: Box::pin(rx),
            timer: Timer::never(),
            timer_at: None,
            hooks: None,
            backoff,
            rng: Rng::new(crate::config::fresh_seed()),
        };
        Ok((driver, Handle { commands: tx }))
    }

    /// Calls `hooks` from the driver's task (replacing any set before).
    pub fn with_hooks(mut self, hooks: impl Hooks<M> + 'static) -> Self {
        self.hooks = Some(Box::new(hooks));
        self
    }

    /// The machine.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// Runs until every [`Handle`] is dropped or one calls [`Handle::shutdown`], and gives
    /// the machine back.
    pub async fn run(mut self) -> M {
        futures_lite::future::poll_fn(|cx| self.poll_run(cx)).await;
        self.machine
    }

    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..STEPS_PER_POLL {
            match self.step(cx) {
                Step::Progress => {}
                Step::Idle => return Poll::Pending,
                Step::Stop => return Poll::Ready(()),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// One pass over every source of work. Returns `Idle` only when each source was polled
    /// and is pending, so that every waker is registered.
    fn step(&mut self, cx: &mut Context<'_>) -> Step {
        let now = Instant::now();
        let mut progress = false;

        // Only the commands already waiting: one sent after an earlier one completed runs in
        // a later step, after the requests the earlier one queued were written.
        let mut budget = self.commands.len().max(1);
        while budget > 0 {
            match self.commands.as_mut().poll_next(cx) {
                Poll::Ready(Some(Command::Run(job))) => {
                    job(&mut self.machine, now);
                    progress = true;
                    budget -= 1;
                }
                Poll::Ready(Some(Command::Metrics(tx))) => {
                    let mut all: Vec<BrokerMetrics> =
                        self.slots.values().map(Slot::metrics).collect();
                    all.sort_by_key(|m| m.endpoint);
                    // The caller may have stopped waiting.
                    let _ = tx.try_send(all);
                    // Another step polls the commands again, so that the next one wakes it.
                    progress = true;
                    budget -= 1;
                }
                Poll::Ready(Some(Command::Shutdown)) | Poll::Ready(None) => {
                    tracing::debug!("driver stopping");
                    return Step::Stop;
                }
                Poll::Pending => break,
            }
        }

        if self.machine.poll_timeout().is_some_and(|t| t <= now) {
            self.machine.handle_timeout(now);
            progress = true;
        }

        let mut outcome = Outcome::default();
        while let Some(outgoing) = self.machine.poll_request(now) {
            tracing::trace!(
                request = %outgoing.id,
                destination = ?outgoing.destination,
                api = %outgoing.request.api_key(),
                "request"
            );
            self.dispatch(outgoing, now, &mut outcome);
            progress = true;
        }

        let mut ctx = Ctx {
            config: &self.config,
            transport: &self.transport,
            backoff: &self.backoff,
            rng: &mut self.rng,
        };
        for slot in self.slots.values_mut() {
            progress |= slot.poll(cx, now, &mut ctx, &mut outcome);
        }
        // Answers fed now may make the machine ask for more: that is the next step.
        progress |= !outcome.is_empty();
        self.apply(outcome, now);

        if progress {
            if let Some(hooks) = self.hooks.as_mut() {
                hooks.after_step(&mut self.machine, now);
            }
        }

        let next = self
            .slots
            .values()
            .filter_map(Slot::next_deadline)
            .chain(self.machine.poll_timeout())
            .min();
        if next != self.timer_at {
            match next {
                Some(at) => self.timer.set_at(at),
                None => self.timer.clear(),
            }
            self.timer_at = next;
        }
        if self.timer_at.is_some() && Pin::new(&mut self.timer).poll(cx).is_ready() {
            // A fired timer is disarmed: set it again next time, even to the same instant.
            self.timer_at = None;
            progress = true;
        }

        if progress {
            Step::Progress
        } else {
            Step::Idle
        }
    }

    /// Hands a new request to the slot of its destination.
    fn dispatch(&mut self, outgoing: Outgoing, now: Instant, outcome: &mut Outcome) {
        let deadline = later(now, self.config.request_timeout);
        match outgoing.destination {
            Destination::AnyBroker => self.route_any(Queued::new(outgoing, deadline), now, outcome),
            Destination::Broker(id) | Destination::Coordinator(id) => {
                let Some(address) = self.machine.broker_address(id) else {
                    // Retriable: the machine learns addresses from metadata it can refresh.
                    tracing::debug!(request = %outgoing.id, broker = id, "no address for broker");
                    outcome
                        .answers
                        .push((outgoing.id, Err(RequestFailed::Disconnected)));
                    return;
                };
                let endpoint = match outgoing.destination {
                    Destination::Coordinator(_) => Endpoint::Coordinator(id),
                    _ => Endpoint::Broker(id),
                };
                let slot = self
                    .slots
                    .entry(endpoint)
                    .or_insert_with(|| Slot::new(endpoint, address.clone()));
                if slot.address != address {
                    let reason = Error::AddressChanged {
                        old: crate::config::display_address(&slot.address),
                        new: crate::config::display_address(&address),
                    };
                    let mut ctx = Ctx {
                        config: &self.config,
                        transport: &self.transport,
                        backoff: &self.backoff,
                        rng: &mut self.rng,
                    };
                    slot.close(now, reason, None, &mut ctx, outcome);
                    *slot = Slot::new(endpoint, address);
                }
                slot.push(Queued::new(outgoing, deadline));
            }
        }
    }

    /// Sends an `AnyBroker` request to the least busy open connection, else one being opened,
    /// else the next bootstrap address that is not backing off.
    fn route_any(&mut self, queued: Queued, now: Instant, outcome: &mut Outcome) {
        // Each bootstrap address gets one chance per request.
        if queued.hops >= self.bootstrap.len().max(1) {
            outcome
                .answers
                .push((queued.id, Err(RequestFailed::Disconnected)));
            return;
        }
        // The coordinator connections stay for coordinator requests alone.
        let open = self
            .slots
            .values_mut()
            .filter(|s| s.is_open() && !matches!(s.endpoint, Endpoint::Coordinator(_)))
            .min_by_key(|s| s.load());
        if let Some(slot) = open {
            slot.push(queued);
            return;
        }
        let connecting = self
            .slots
            .values_mut()
            .filter(|s| s.is_connecting() && !matches!(s.endpoint, Endpoint::Coordinator(_)))
            .min_by_key(|s| s.load());
        if let Some(slot) = connecting {
            slot.push(queued);
            return;
        }
        let n = self.bootstrap.len();
        let order = (0..n).map(|k| (self.next_bootstrap + k) % n);
        let ready = order.clone().find(|&i| {
            self.slots
                .get(&Endpoint::Bootstrap(i))
                .is_none_or(|s| s.can_connect(now))
        });
        // Everything is backing off: wait for whichever may retry first.
        let index = ready
            .or_else(|| {
                order.min_by_key(|&i| {
                    self.slots
                        .get(&Endpoint::Bootstrap(i))
                        .and_then(Slot::retry_at)
                })
            })
            .unwrap_or(0);
        let endpoint = Endpoint::Bootstrap(index);
        let address = self.bootstrap.get(index).cloned();
        match address {
            Some(address) => self
                .slots
                .entry(endpoint)
                .or_insert_with(|| Slot::new(endpoint, address))
                .push(queued),
            None => outcome
                .answers
                .push((queued.id, Err(RequestFailed::Disconnected))),
        }
    }

    /// Feeds the machine and the hooks what the slots reported.
    fn apply(&mut self, mut outcome: Outcome, now: Instant) {
        for event in &outcome.events {
            if let ConnectionEvent::Closed {
                endpoint: Endpoint::Bootstrap(i),
                ..
            } = event
            {
                // The next attempt goes to the next address in the list.
                self.next_bootstrap = (i + 1) % self.bootstrap.len().max(1);
            }
        }
        let reroute = std::mem::take(&mut outcome.reroute);
        for queued in reroute {
            self.route_any(queued, now, &mut outcome);
        }
        for (id, result) in outcome.answers {
            self.machine.handle_response(now, id, result);
        }
        for connection in outcome.disconnected {
            self.machine.handle_disconnected(now, connection);
        }
        if let Some(hooks) = self.hooks.as_mut() {
            for event in &outcome.events {
                hooks.connection_event(&mut self.machine, event);
            }
        }
    }
}

enum Step {
    Progress,
    Idle,
    Stop,
}

//! The plumbing every client shares with its driver, written once: the client's state
//! behind one lock, the coalesced wake-up of the driver, the guard that marks the state
//! stopped when the driver ends, what a client knows of its connections (the bootstrap
//! servers, the last connection failure, for `ready`), and the start-up (names checked,
//! driver spawned).
//!
//! A client (consumer, producer) implements [`ClientState`] for the data its API and its
//! driver share; [`Shared`], [`Machine`], [`StateHooks`] and [`StopGuard`] are built on it.
//! The admin client owns no shared state: it uses [`Link`] and [`start`] alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use dekaf_state::client::{
    BrokerAddress, BrokerId, ClientMachine, Destination, Outgoing, RequestFailed, RequestId,
    Response,
};

use crate::side::{check_resolvable, wait_for_broker, Outcome, SideRequests};
use crate::{Config, ConnectionEvent, Driver, Error, Handle, Hooks, Spawner};

/// The data a client's API and its driver share, behind one lock.
pub(crate) trait ClientState: Send + 'static {
    /// The sans-IO machine the driver feeds.
    type Machine: ClientMachine;
    /// What stopping leaves to drop once the lock is released (code of the application's
    /// that must not run under the lock).
    type Leftover;

    /// The machine.
    fn machine(&mut self) -> &mut Self::Machine;
    /// The machine, to read.
    fn machine_ref(&self) -> &Self::Machine;
    /// Requests the API sends on its own (probes), answered past the machine.
    fn side(&mut self) -> &mut SideRequests;
    /// An answer, a timeout or a disconnection was just fed to the machine.
    fn fed(&mut self) {}
    /// After each driver step: the machine's events to their waiters.
    fn after_step(&mut self);
    /// A connection closed for `reason`.
    fn connection_closed(&mut self, reason: &Error) {
        let _ = reason;
    }
    /// The driver stopped: every waiter learns it.
    fn stop(&mut self) -> Self::Leftover;
}

/// Where the cluster is and why it last could not be reached: what `ready` reports.
#[derive(Debug)]
pub(crate) struct Link {
    servers: Vec<String>,
    last_error: Mutex<Option<Error>>,
}

impl Link {
    pub(crate) fn new(servers: Vec<String>) -> Link {
        Link {
            servers,
            last_error: Mutex::new(None),
        }
    }

    /// The last connection failure.
    pub(crate) fn last_error(&self) -> Option<Error> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Logs a connection event and keeps the failure of a closed one.
    pub(crate) fn connection_event(&self, event: &ConnectionEvent) {
        match event {
            ConnectionEvent::Closed { reason, .. } => {
                tracing::debug!(%reason, "connection closed");
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.clone());
            }
            ConnectionEvent::Connected { address, .. } => {
                tracing::debug!(host = %address.host, port = address.port, "connected");
            }
        }
    }

    /// Probes the cluster through `submit` until a broker answers, at most `timeout` (see
    /// the clients' `ready`).
    pub(crate) async fn ready(
        &self,
        timeout: Duration,
        submit: impl Fn() -> Result<Receiver<Outcome>, Error>,
    ) -> Result<(), Error> {
        wait_for_broker(&self.servers, timeout, submit, || self.last_error()).await
    }
}

/// What the driver and the API share: the client's state, and the connection facts.
#[derive(Debug)]
pub(crate) struct Shared<S> {
    state: Mutex<S>,
    /// A wake-up for the driver is on its way and has not run yet.
    nudge_pending: AtomicBool,
    /// The bootstrap servers and the last connection failure.
    pub(crate) link: Link,
}

impl<S: ClientState> Shared<S> {
    pub(crate) fn new(state: S, servers: Vec<String>) -> Arc<Shared<S>> {
        Arc::new(Shared {
            state: Mutex::new(state),
            nudge_pending: AtomicBool::new(false),
            link: Link::new(servers),
        })
    }

    /// The state. Never held across an `.await`.
    pub(crate) fn lock(&self) -> MutexGuard<'_, S> {
        // A panic while locked leaves plain data behind, still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the driver take a step soon (send what a command made due), without queueing
    /// more than one wake-up at a time.
    pub(crate) fn nudge(&self, handle: &Handle<Machine<S>>) {
        if !self.nudge_pending.swap(true, Ordering::AcqRel) {
            let sent = handle.execute(|m: &mut Machine<S>, _| {
                m.0.nudge_pending.store(false, Ordering::Release);
            });
            if sent.is_err() {
                self.nudge_pending.store(false, Ordering::Release);
            }
        }
    }

    /// Waits until a broker answers a probe, at most `timeout`; the probe goes out through
    /// the state's side requests unless `stopped` says the driver is gone.
    pub(crate) async fn ready(
        &self,
        handle: &Handle<Machine<S>>,
        timeout: Duration,
        stopped: impl Fn(&S) -> bool,
    ) -> Result<(), Error> {
        self.link
            .ready(timeout, || {
                let rx = {
                    let mut state = self.lock();
                    if stopped(&state) {
                        return Err(Error::Shutdown);
                    }
                    state
                        .side()
                        .submit(Destination::AnyBroker, crate::side::probe_request())
                };
                self.nudge(handle);
                Ok(rx)
            })
            .await
    }
}

/// The machine the driver owns: the shared state, locked for each call.
#[derive(Debug)]
pub(crate) struct Machine<S>(pub(crate) Arc<Shared<S>>);

impl<S: ClientState> ClientMachine for Machine<S> {
    fn poll_request(&mut self, now: Instant) -> Option<Outgoing> {
        let mut state = self.0.lock();
        match state.side().poll_request() {
            Some(out) => Some(out),
            None => state.machine().poll_request(now),
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        let mut state = self.0.lock();
        state.fed();
        if state.side().owns(id) {
            state.side().handle_response(id, result);
        } else {
            state.machine().handle_response(now, id, result);
        }
    }

    fn handle_disconnected(&mut self, now: Instant, connection: Destination) {
        let mut state = self.0.lock();
        state.fed();
        state.machine().handle_disconnected(now, connection);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let mut state = self.0.lock();
        state.fed();
        state.machine().handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.0.lock().machine_ref().poll_timeout()
    }

    fn broker_address(&self, id: BrokerId) -> Option<BrokerAddress> {
        self.0.lock().machine_ref().broker_address(id)
    }
}

/// Hands the state's events out after each driver step, and keeps connection failures.
#[derive(Debug)]
pub(crate) struct StateHooks;

impl<S: ClientState> Hooks<Machine<S>> for StateHooks {
    fn after_step(&mut self, machine: &mut Machine<S>, _now: Instant) {
        machine.0.lock().after_step();
    }

    fn connection_event(&mut self, machine: &mut Machine<S>, event: &ConnectionEvent) {
        machine.0.link.connection_event(event);
        if let ConnectionEvent::Closed { reason, .. } = event {
            machine.0.lock().connection_closed(reason);
        }
    }
}

/// Marks the state stopped when the driver's future ends (or is dropped, or unwinds).
pub(crate) struct StopGuard<S: ClientState>(pub(crate) Arc<Shared<S>>);

impl<S: ClientState> Drop for StopGuard<S> {
    fn drop(&mut self) {
        let leftover = self.0.lock().stop();
        drop(leftover);
    }
}

/// A driver started: its handle, and a receiver that closes once the driver has ended.
pub(crate) struct Started<M> {
    pub(crate) handle: Handle<M>,
    pub(crate) stopped: Receiver<()>,
}

/// Checks that a bootstrap server's name resolves, then spawns the driver of `machine`
/// (named `name`) with `hooks`; `guard` is dropped when the driver ends.
pub(crate) async fn start<M, H, G>(
    name: &str,
    connection: Config,
    spawner: &Spawner,
    machine: M,
    hooks: H,
    guard: G,
) -> Result<Started<M>, Error>
where
    M: ClientMachine + Send + 'static,
    H: Hooks<M> + 'static,
    G: Send + 'static,
{
    check_resolvable(&connection.bootstrap_servers, connection.connect_timeout).await?;
    let (driver, handle) = Driver::new(connection, machine)?;
    let driver = driver.with_hooks(hooks);
    let (done, stopped) = async_channel::bounded::<()>(1);
    spawner.spawn(
        name,
        Box::pin(async move {
            // Dropped when the driver ends, in this order: the guard first, so that what
            // awaits `stopped` finds the state marked stopped.
            let _done: Sender<()> = done;
            let _guard = guard;
            driver.run().await;
        }),
    )?;
    Ok(Started { handle, stopped })
}

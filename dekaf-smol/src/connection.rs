//! One connection slot: the requests waiting for it, the connection itself (absent, being
//! opened, or open), and the requests in flight on it.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use dekaf_proto::correlation::Correlator;
use dekaf_proto::frame::FrameSplitter;
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::{ApiKey, DecodeError};
use dekaf_state::client::{
    BrokerAddress, BrokerId, ClientRequest, Destination, Outgoing, RequestFailed, RequestId,
    Response,
};
use dekaf_state::offset::{Backoff, Rng};
use dekaf_state::sasl::{scram_nonce, SaslConfig, SaslError, SaslOutcome};
use futures_lite::{AsyncRead, AsyncWrite};

use crate::config::display_address;
use crate::handshake::{open, Opened, Session};
use crate::metrics::{BrokerMetrics, ConnectionState, SlotStats};
use crate::sasl::random_bytes;
use crate::transport::{BoxedStream, Transport};
use crate::{Config, Error};

/// Bytes asked of the socket per read, at least (the rest of a large frame at once).
const READ_CHUNK: usize = 64 * 1024;
/// Reads per slot per driver step, so that one busy connection does not starve the others.
const READS_PER_STEP: usize = 16;

/// `now + d`, or a moment a century away when that overflows (a huge configured timeout).
pub(crate) fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// Which connection: one to a bootstrap address, or one of the two to a broker known by its
/// node id (its own, and the one for coordinator requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// The bootstrap server at this index of [`Config::bootstrap_servers`].
    Bootstrap(usize),
    /// The broker with this node id, at the address the machine's metadata gives.
    Broker(BrokerId),
    /// The same broker, on the connection that carries only its requests as a group or
    /// transaction coordinator ([`Destination::Coordinator`]), so that they never wait
    /// behind a fetch.
    Coordinator(BrokerId),
}

impl Endpoint {
    /// The broker's node id, `None` for a bootstrap connection.
    pub fn broker(self) -> Option<BrokerId> {
        self.destination().broker()
    }

    /// The requests this connection carries: [`Destination::AnyBroker`] for a bootstrap
    /// connection.
    pub fn destination(self) -> Destination {
        match self {
            Endpoint::Bootstrap(_) => Destination::AnyBroker,
            Endpoint::Broker(id) => Destination::Broker(id),
            Endpoint::Coordinator(id) => Destination::Coordinator(id),
        }
    }
}

/// A connection opened or closed, as the driver reports it to its hooks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// A connection is open and its ApiVersions handshake done.
    Connected {
        /// Which connection.
        endpoint: Endpoint,
        /// Where it goes.
        address: BrokerAddress,
        /// What the broker supports.
        versions: BrokerVersions,
        /// The ApiVersions version the broker answered.
        handshake_version: i16,
    },
    /// An open connection closed, or an attempt to open one failed.
    Closed {
        /// Which connection.
        endpoint: Endpoint,
        /// Where it went.
        address: BrokerAddress,
        /// Why.
        reason: Error,
        /// Whether the connection had been open (false: the attempt failed).
        was_connected: bool,
    },
}

/// A request waiting for its connection.
#[derive(Debug)]
pub(crate) struct Queued {
    pub id: RequestId,
    pub destination: Destination,
    pub request: ClientRequest,
    /// When it stops waiting for a free slot (request timeout from when the machine gave it).
    pub deadline: Instant,
    /// How many connections failed under it (bounds retries of `AnyBroker` requests).
    pub hops: usize,
}

impl Queued {
    pub fn new(outgoing: Outgoing, deadline: Instant) -> Self {
        Queued {
            id: outgoing.id,
            destination: outgoing.destination,
            request: outgoing.request,
            deadline,
            hops: 0,
        }
    }
}

/// A request written and awaiting its answer.
#[derive(Debug)]
struct Sent {
    correlation_id: i32,
    id: RequestId,
    api_key: ApiKey,
    deadline: Instant,
    /// When it was encoded for the socket.
    sent_at: Instant,
    /// The request's span (debug level): its answer or failure is reported inside it.
    span: tracing::Span,
}

/// What slots hand back for the driver to apply to the machine and its hooks.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub answers: Vec<(RequestId, Result<Response, RequestFailed>)>,
    pub disconnected: Vec<Destination>,
    pub events: Vec<ConnectionEvent>,
    /// `AnyBroker` requests never written whose connection failed: to send elsewhere.
    pub reroute: Vec<Queued>,
}

impl Outcome {
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
            && self.disconnected.is_empty()
            && self.events.is_empty()
            && self.reroute.is_empty()
    }
}

/// Settings and shared state a slot needs while it works.
pub(crate) struct Ctx<'a> {
    pub config: &'a Arc<Config>,
    pub transport: &'a Arc<dyn Transport>,
    pub backoff: &'a Backoff,
    pub rng: &'a mut Rng,
}

type OpenFuture = Pin<Box<dyn Future<Output = Result<Opened, Error>> + Send>>;

enum State {
    /// No connection; one may be opened once `retry_at` passed.
    Idle,
    Connecting(OpenFuture),
    Open(Box<Live>),
}

struct Live {
    /// The SASL session, when the connection authenticated; re-authenticated before it
    /// expires (KIP-368).
    session: Option<Session>,
    reauth: Reauth,
    /// How long a request of the re-authentication may wait for its answer.
    request_timeout: Duration,
    stream: BoxedStream,
    correlator: Correlator,
    splitter: FrameSplitter,
    versions: BrokerVersions,
    /// Encoded requests not yet taken by the socket.
    out: BytesMut,
    /// In the order written (brokers answer in that order).
    in_flight: VecDeque<Sent>,
}

/// Where a re-authentication is.
enum Reauth {
    /// Nothing to do until the session's time comes.
    Idle,
    /// Due: no new request is written; once those in flight are answered, the SASL
    /// configuration (a fresh OAUTHBEARER token) is fetched.
    Preparing(Option<ConfigFuture>),
    /// A request of the exchange awaits its answer.
    Waiting {
        correlation_id: i32,
        deadline: Instant,
    },
}

type ConfigFuture = Pin<Box<dyn Future<Output = Result<SaslConfig, String>> + Send>>;

/// Why an open connection must close.
enum Fault {
    /// The answers cannot be trusted: in-flight requests fail as malformed.
    Malformed(DecodeError),
    /// A request timed out: it fails as timed out, the others as disconnected.
    TimedOut,
    /// The connection broke: in-flight requests fail as disconnected.
    Broken(Error),
}

/// A connection to one endpoint and the requests bound to it.
pub(crate) struct Slot {
    pub endpoint: Endpoint,
    pub address: BrokerAddress,
    label: String,
    state: State,
    queue: VecDeque<Queued>,
    /// Failed attempts in a row since the last successful handshake.
    failures: u32,
    retry_at: Option<Instant>,
    /// What the connection did, for [`metrics`](Self::metrics).
    stats: SlotStats,
}

impl Slot {
    pub fn new(endpoint: Endpoint, address: BrokerAddress) -> Self {
        Slot {
            endpoint,
            label: display_address(&address),
            address,
            state: State::Idle,
            queue: VecDeque::new(),
            failures: 0,
            retry_at: None,
            stats: SlotStats::default(),
        }
    }

    /// A snapshot of the connection and of what it did.
    pub fn metrics(&self) -> BrokerMetrics {
        let (state, in_flight) = match &self.state {
            State::Idle => (ConnectionState::Disconnected, 0),
            State::Connecting(_) => (ConnectionState::Connecting, 0),
            State::Open(live) => (ConnectionState::Connected, live.in_flight.len()),
        };
        let s = &self.stats;
        BrokerMetrics {
            endpoint: self.endpoint,
            address: self.label.clone(),
            state,
            connects: s.connects,
            disconnects: s.disconnects,
            failed_attempts: s.failed_attempts,
            requests_in_flight: in_flight,
            requests_queued: self.queue.len(),
            requests_sent: s.requests_sent,
            requests_failed: s.requests_failed,
            bytes_sent: s.bytes_sent,
            bytes_received: s.bytes_received,
            latency: s
                .latency
                .iter()
                .map(|(api, h)| (*api, h.summary()))
                .collect(),
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    pub fn is_connecting(&self) -> bool {
        matches!(self.state, State::Connecting(_))
    }

    /// Whether a connection attempt may start now.
    pub fn can_connect(&self, now: Instant) -> bool {
        matches!(self.state, State::Idle) && self.retry_at.is_none_or(|t| t <= now)
    }

    /// When the next connection attempt may start, if the slot is backing off.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Requests bound to this slot, waiting or in flight.
    pub fn load(&self) -> usize {
        let in_flight = match &self.state {
            State::Open(live) => live.in_flight.len(),
            _ => 0,
        };
        self.queue.len() + in_flight
    }

    pub fn push(&mut self, request: Queued) {
        self.queue.push_back(request);
    }

    /// The earliest moment this slot needs the driver to wake up.
    pub fn next_deadline(&self) -> Option<Instant> {
        let queued = self.queue.iter().map(|q| q.deadline).min();
        let own = match &self.state {
            State::Open(live) => live
                .in_flight
                .iter()
                .map(|s| s.deadline)
                .chain(live.reauth_deadline())
                .min(),
            // A backing-off slot with work wakes when it may connect again.
            State::Idle if !self.queue.is_empty() => self.retry_at,
            _ => None,
        };
        queued.into_iter().chain(own).min()
    }

    /// Does all the work that can be done now: opens or finishes opening the connection,
    /// reads answers, times out requests, writes queued requests. Returns whether anything
    /// changed.
    pub fn poll(
        &mut self,
        cx: &mut Context<'_>,
        now: Instant,
        ctx: &mut Ctx<'_>,
        out: &mut Outcome,
    ) -> bool {
        let mut progress = self.expire_queued(now, out);
        if !self.queue.is_empty() && self.can_connect(now) {
            tracing::debug!(endpoint = ?self.endpoint, broker = %self.label, "connecting");
            self.state = State::Connecting(Box::pin(open(
                self.address.clone(),
                Arc::clone(ctx.config),
                Arc::clone(ctx.transport),
            )));
            progress = true;
        }
        if let State::Connecting(fut) = &mut self.state {
            match fut.as_mut().poll(cx) {
                Poll::Pending => {}
                Poll::Ready(Ok(opened)) => {
                    self.opened(opened, ctx.config.request_timeout, out);
                    progress = true;
                }
                Poll::Ready(Err(reason)) => {
                    tracing::warn!(endpoint = ?self.endpoint, error = %reason, "cannot connect");
                    self.close(now, reason, None, ctx, out);
                    return true;
                }
            }
        }
        let State::Open(live) = &mut self.state else {
            return progress;
        };
        let stats = &mut self.stats;
        let result = live
            .read(cx, &self.label, now, stats, out)
            .and_then(|read| live.expire(now).map(|()| read))
            .and_then(|read| {
                let reauth = live.reauthenticate(cx, now, ctx.config, &self.label)?;
                let sent = live.send(&mut self.queue, now, ctx.config, &self.label, stats, out);
                live.flush(cx, &self.label).map(|()| read || reauth || sent)
            });
        match result {
            Ok(changed) => progress || changed,
            Err(fault) => {
                let (reason, failure) = match fault {
                    Fault::Malformed(source) => {
                        tracing::warn!(
                            endpoint = ?self.endpoint,
                            broker = %self.label,
                            error = %source,
                            "malformed answer, closing the connection"
                        );
                        (
                            Error::Malformed {
                                addr: self.label.clone(),
                                source: source.clone(),
                            },
                            Some(RequestFailed::Malformed(source)),
                        )
                    }
                    Fault::TimedOut => (
                        Error::TimedOut {
                            addr: self.label.clone(),
                        },
                        None,
                    ),
                    Fault::Broken(reason) => (reason, None),
                };
                self.close(now, reason, failure, ctx, out);
                true
            }
        }
    }

    fn opened(&mut self, opened: Opened, request_timeout: Duration, out: &mut Outcome) {
        tracing::debug!(
            endpoint = ?self.endpoint,
            broker = %self.label,
            handshake_version = opened.handshake_version,
            "connected"
        );
        self.failures = 0;
        self.retry_at = None;
        self.stats.connects += 1;
        out.events.push(ConnectionEvent::Connected {
            endpoint: self.endpoint,
            address: self.address.clone(),
            versions: opened.versions.clone(),
            handshake_version: opened.handshake_version,
        });
        self.state = State::Open(Box::new(Live {
            session: opened.session,
            reauth: Reauth::Idle,
            request_timeout,
            stream: opened.stream,
            correlator: opened.correlator,
            splitter: opened.splitter,
            versions: opened.versions,
            out: BytesMut::new(),
            in_flight: VecDeque::new(),
        }));
    }

    /// Closes the connection (or gives up the attempt) and settles every request bound to it:
    /// in-flight ones fail with `failure` (or as timed out / disconnected), queued `AnyBroker`
    /// ones go elsewhere, other queued ones fail as disconnected. The next attempt waits for
    /// the backoff.
    pub fn close(
        &mut self,
        now: Instant,
        reason: Error,
        failure: Option<RequestFailed>,
        ctx: &mut Ctx<'_>,
        out: &mut Outcome,
    ) {
        let was_connected = match std::mem::replace(&mut self.state, State::Idle) {
            State::Open(live) => {
                for sent in live.in_flight {
                    let failed = match &failure {
                        Some(f) => f.clone(),
                        None if sent.deadline <= now => RequestFailed::TimedOut,
                        None => RequestFailed::Disconnected,
                    };
                    tracing::debug!(parent: &sent.span, request = %sent.id, api = %sent.api_key, error = %failed, "request failed");
                    self.stats.requests_failed += 1;
                    out.answers.push((sent.id, Err(failed)));
                }
                self.failures = 0;
                self.stats.disconnects += 1;
                true
            }
            State::Connecting(_) => {
                self.stats.failed_attempts += 1;
                false
            }
            State::Idle => false,
        };
        for queued in self.queue.drain(..) {
            match queued.destination {
                Destination::AnyBroker => out.reroute.push(Queued {
                    hops: queued.hops + 1,
                    ..queued
                }),
                Destination::Broker(_) | Destination::Coordinator(_) => {
                    out.answers
                        .push((queued.id, Err(RequestFailed::Disconnected)));
                }
            }
        }
        let delay = ctx.backoff.delay(self.failures, ctx.rng);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(later(now, delay));
        if was_connected {
            tracing::info!(endpoint = ?self.endpoint, broker = %self.label, reason = %reason, "connection closed");
        }
        out.disconnected.push(self.endpoint.destination());
        out.events.push(ConnectionEvent::Closed {
            endpoint: self.endpoint,
            address: self.address.clone(),
            reason,
            was_connected,
        });
    }

    /// Fails queued requests whose deadline passed (never written: the connection stays).
    fn expire_queued(&mut self, now: Instant, out: &mut Outcome) -> bool {
        let before = self.queue.len();
        self.queue.retain(|q| {
            let keep = q.deadline > now;
            if !keep {
                out.answers.push((q.id, Err(RequestFailed::TimedOut)));
            }
            keep
        });
        let expired = before - self.queue.len();
        self.stats.requests_failed += expired as u64;
        expired > 0
    }
}

impl Live {
    /// Reads what the socket has and decodes every complete answer.
    fn read(
        &mut self,
        cx: &mut Context<'_>,
        label: &str,
        now: Instant,
        stats: &mut SlotStats,
        out: &mut Outcome,
    ) -> Result<bool, Fault> {
        let mut progress = false;
        for _ in 0..READS_PER_STEP {
            // The rest of a large answer goes straight into one buffer of its size, zeroed
            // once, that its records then share.
            let buf = self.splitter.read_buf(READ_CHUNK);
            let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
            if let Poll::Ready(Ok(n)) = polled {
                self.splitter.commit_read(n);
            }
            match polled {
                Poll::Pending => break,
                Poll::Ready(Ok(0)) => {
                    return Err(Fault::Broken(Error::Closed {
                        addr: label.to_owned(),
                    }))
                }
                Poll::Ready(Ok(_)) => {
                    progress = true;
                    self.decode_frames(now, label, stats, out)?;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Err(Fault::Broken(Error::io("read", label, e))),
            }
        }
        Ok(progress)
    }

    fn decode_frames(
        &mut self,
        now: Instant,
        label: &str,
        stats: &mut SlotStats,
        out: &mut Outcome,
    ) -> Result<(), Fault> {
        while let Some(frame) = self.splitter.next_frame().map_err(Fault::Malformed)? {
            let answer = self
                .correlator
                .decode_response(&frame)
                .map_err(Fault::Malformed)?;
            if let Reauth::Waiting { correlation_id, .. } = self.reauth {
                if answer.correlation_id == correlation_id {
                    let response = Response {
                        version: answer.request.version,
                        body: answer.body,
                    };
                    if let Some(session) = &mut self.session {
                        session.client.handle_response(now, Ok(response));
                    }
                    self.reauth = Reauth::Preparing(None);
                    self.next_sasl_request(now, label)?;
                    continue;
                }
            }
            let at = self
                .in_flight
                .iter()
                .position(|s| s.correlation_id == answer.correlation_id);
            match at.and_then(|at| self.in_flight.remove(at)) {
                Some(sent) => {
                    // The frame and its 4-byte size prefix.
                    let bytes = frame.len() + 4;
                    let latency = now.saturating_duration_since(sent.sent_at);
                    stats.answered(sent.api_key, latency, bytes);
                    tracing::debug!(
                        parent: &sent.span,
                        bytes_in = bytes,
                        latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
                        "answered"
                    );
                    out.answers.push((
                        sent.id,
                        Ok(Response {
                            version: answer.request.version,
                            body: answer.body,
                        }),
                    ));
                }
                // The correlator knew the id, so it was ours; nothing waits for it any more.
                None => tracing::debug!(
                    correlation_id = answer.correlation_id,
                    "answer to a request nobody waits for"
                ),
            }
        }
        Ok(())
    }

    /// A request unanswered past its deadline poisons the connection: its answer may still
    /// come and would be taken for another's.
    fn expire(&self, now: Instant) -> Result<(), Fault> {
        if self.in_flight.iter().any(|s| s.deadline <= now) {
            return Err(Fault::TimedOut);
        }
        if matches!(self.reauth, Reauth::Waiting { deadline, .. } if deadline <= now) {
            return Err(Fault::TimedOut);
        }
        Ok(())
    }

    /// When the driver must wake for the session: its re-authentication time, or the
    /// deadline of the exchange's request.
    fn reauth_deadline(&self) -> Option<Instant> {
        match &self.reauth {
            Reauth::Idle => self.session.as_ref().and_then(|s| s.reauthenticate_at),
            Reauth::Preparing(_) => None,
            Reauth::Waiting { deadline, .. } => Some(*deadline),
        }
    }

    /// Re-authenticates when the session's time has come (KIP-368): new requests wait, those
    /// in flight finish, then SaslHandshake and SaslAuthenticate go on this connection, as
    /// Java's client does, so that no request fails for it. Returns whether anything moved.
    fn reauthenticate(
        &mut self,
        cx: &mut Context<'_>,
        now: Instant,
        config: &Arc<Config>,
        label: &str,
    ) -> Result<bool, Fault> {
        if let Reauth::Idle = self.reauth {
            let due = self
                .session
                .as_ref()
                .and_then(|s| s.reauthenticate_at)
                .is_some_and(|at| at <= now);
            if !due {
                return Ok(false);
            }
            tracing::debug!(broker = label, "re-authenticating");
            self.reauth = Reauth::Preparing(None);
        }
        let Reauth::Preparing(pending) = &mut self.reauth else {
            return Ok(false);
        };
        if !self.in_flight.is_empty() {
            return Ok(false);
        }
        let Some(settings) = config.sasl.clone() else {
            return Err(Fault::Broken(Error::Config(
                "SASL settings are gone".into(),
            )));
        };
        let future =
            pending.get_or_insert_with(|| Box::pin(async move { settings.config().await }));
        let sasl_config = match future.as_mut().poll(cx) {
            Poll::Pending => return Ok(false),
            Poll::Ready(result) => result,
        };
        let Some(session) = &mut self.session else {
            return Ok(false);
        };
        let mechanism = session.client.mechanism();
        let sasl_error = |error| {
            Fault::Broken(Error::Sasl {
                addr: label.to_owned(),
                error,
            })
        };
        let sasl_config = sasl_config.map_err(|reason| {
            sasl_error(SaslError::InvalidConfig {
                mechanism,
                reason: format!("no OAUTHBEARER token: {reason}"),
            })
        })?;
        session
            .client
            .reauthenticate(sasl_config, scram_nonce(&random_bytes::<24>()))
            .map_err(sasl_error)?;
        self.next_sasl_request(now, label)?;
        Ok(true)
    }

    /// Writes the exchange's next request, or ends it: a new session time when
    /// authenticated, the connection closed when refused.
    fn next_sasl_request(&mut self, now: Instant, label: &str) -> Result<(), Fault> {
        let Some(session) = &mut self.session else {
            self.reauth = Reauth::Idle;
            return Ok(());
        };
        let refused = |error| {
            Fault::Broken(Error::Sasl {
                addr: label.to_owned(),
                error,
            })
        };
        if let Some(request) = session.client.poll_request() {
            let version = match request.negotiate(&self.versions) {
                Ok(v) => v,
                Err(e) => {
                    session
                        .client
                        .handle_response(now, Err(RequestFailed::Unsupported(e)));
                    return self.next_sasl_request(now, label);
                }
            };
            let correlation_id = self
                .correlator
                .encode_request(&request.body(version), version, &mut self.out)
                .map_err(|e| {
                    refused(SaslError::Transport {
                        mechanism: session.client.mechanism(),
                        source: RequestFailed::Encode(e),
                    })
                })?;
            self.reauth = Reauth::Waiting {
                correlation_id,
                deadline: later(now, self.request_timeout),
            };
            return Ok(());
        }
        match session.client.outcome() {
            Some(SaslOutcome::Authenticated { .. }) => {
                session.reauthenticate_at = session
                    .client
                    .reauthenticate_at(u32::from_le_bytes(random_bytes()));
                tracing::debug!(broker = label, "re-authenticated");
                self.reauth = Reauth::Idle;
                Ok(())
            }
            Some(SaslOutcome::Failed(error)) => Err(refused(error.clone())),
            None => {
                self.reauth = Reauth::Idle;
                Ok(())
            }
        }
    }

    /// Encodes queued requests while fewer than `max` await answers. Returns whether any was
    /// taken from the queue.
    fn send(
        &mut self,
        queue: &mut VecDeque<Queued>,
        now: Instant,
        config: &Config,
        label: &str,
        stats: &mut SlotStats,
        out: &mut Outcome,
    ) -> bool {
        let max = config.max_in_flight_per_connection;
        let mut progress = false;
        // A re-authentication holds every other request back.
        if !matches!(self.reauth, Reauth::Idle) {
            return false;
        }
        while self.in_flight.len() < max {
            let Some(queued) = queue.pop_front() else {
                break;
            };
            progress = true;
            let version = match queued.request.negotiate(&self.versions) {
                Ok(v) => v,
                Err(e) => {
                    stats.requests_failed += 1;
                    out.answers
                        .push((queued.id, Err(RequestFailed::Unsupported(e))));
                    continue;
                }
            };
            let body = queued.request.body(version);
            let before = self.out.len();
            let encoded = self
                .correlator
                .encode_request(&body, version, &mut self.out);
            let bytes = self.out.len() - before;
            if encoded.is_ok() {
                stats.requests_sent += 1;
                stats.bytes_sent = stats.bytes_sent.saturating_add(bytes as u64);
            }
            match encoded {
                Ok(correlation_id) if queued.request.expects_response() => {
                    let api_key = queued.request.api_key();
                    let span = tracing::debug_span!(
                        "request",
                        api = %api_key,
                        version,
                        broker = label,
                        correlation_id,
                        bytes_out = bytes,
                    );
                    self.in_flight.push_back(Sent {
                        correlation_id,
                        id: queued.id,
                        api_key,
                        deadline: later(now, config.request_timeout),
                        sent_at: now,
                        span,
                    });
                }
                // Written and done: the broker will not answer, so nothing is reported.
                Ok(correlation_id) => {
                    self.correlator.forget(correlation_id);
                }
                Err(e) => {
                    stats.requests_failed += 1;
                    out.answers.push((queued.id, Err(RequestFailed::Encode(e))));
                }
            }
        }
        progress
    }

    /// Writes as much of the encoded requests as the socket takes.
    fn flush(&mut self, cx: &mut Context<'_>, label: &str) -> Result<(), Fault> {
        while !self.out.is_empty() {
            match Pin::new(&mut self.stream).poll_write(cx, &self.out) {
                Poll::Pending => break,
                Poll::Ready(Ok(0)) => {
                    return Err(Fault::Broken(Error::io(
                        "write",
                        label,
                        io::ErrorKind::WriteZero.into(),
                    )))
                }
                Poll::Ready(Ok(n)) => self.out.advance(n),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Err(Fault::Broken(Error::io("write", label, e))),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_attempts_back_off_exponentially_and_a_lost_connection_starts_over() {
        let config = Arc::new(Config::new(["a:1"]));
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            jitter: 0.2,
        };
        let mut rng = Rng::new(7);
        let transport: Arc<dyn Transport> = Arc::new(crate::transport::Tcp);
        let mut ctx = Ctx {
            config: &config,
            transport: &transport,
            backoff: &backoff,
            rng: &mut rng,
        };
        let address = BrokerAddress {
            host: "a".into(),
            port: 1,
        };
        let mut slot = Slot::new(Endpoint::Bootstrap(0), address);
        let now = Instant::now();
        let mut out = Outcome::default();
        let mut delays = Vec::new();
        for _ in 0..6 {
            let reason = Error::Closed { addr: "a:1".into() };
            slot.close(now, reason, None, &mut ctx, &mut out);
            assert!(!slot.can_connect(now));
            delays.push(slot.retry_at().unwrap() - now);
        }
        for (delay, base) in delays.iter().zip([100u64, 200, 400, 800, 1000, 1000]) {
            let base = Duration::from_millis(base);
            assert!(
                *delay >= base.mul_f64(0.8) && *delay <= base.mul_f64(1.2),
                "{delay:?} vs {base:?}"
            );
        }
        assert!(slot.can_connect(now + Duration::from_millis(1200)));
        assert_eq!(out.disconnected, [Destination::AnyBroker; 6]);
        assert!(out.events.iter().all(|e| matches!(
            e,
            ConnectionEvent::Closed {
                was_connected: false,
                ..
            }
        )));
    }
}

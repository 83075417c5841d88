//! A tiny blocking driver: runs any [`ClientMachine`] over `std::net::TcpStream`s, for tests
//! against a real broker.
//!
//! One connection per broker (plus the bootstrap one), opened when first needed, each with an
//! ApiVersions handshake; requests are pipelined; answers are matched by correlation id;
//! requests older than the request timeout fail as `TimedOut` and close their connection.
//! The caller polls the machine's own events between steps.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use dekaf_proto::correlation::Correlator;
use dekaf_proto::frame::FrameSplitter;
use dekaf_proto::messages::{ApiVersionsRequest, RequestBody, ResponseBody};
use dekaf_proto::version::BrokerVersions;
use dekaf_state::client::{
    BrokerId, ClientMachine, Destination, Outgoing, RequestFailed, RequestId, Response,
};

/// Which connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Bootstrap,
    Broker(BrokerId),
    Coordinator(BrokerId),
}

/// One open connection.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    correlator: Correlator,
    splitter: FrameSplitter,
    versions: BrokerVersions,
    in_flight: HashMap<i32, (RequestId, Instant)>,
}

/// Runs a machine over blocking sockets.
#[derive(Debug)]
pub struct BlockingDriver<M> {
    /// The machine.
    pub machine: M,
    bootstrap: SocketAddr,
    client_id: String,
    request_timeout: Duration,
    conns: HashMap<Key, Conn>,
}

impl<M: ClientMachine> BlockingDriver<M> {
    /// A driver for `machine`, bootstrapping from `bootstrap`.
    pub fn new(machine: M, bootstrap: SocketAddr, client_id: &str) -> Self {
        crate::init_logging();
        BlockingDriver {
            machine,
            bootstrap,
            client_id: client_id.to_string(),
            request_timeout: Duration::from_secs(30),
            conns: HashMap::new(),
        }
    }

    /// Replaces the machine (a restart), closing every connection.
    pub fn replace(&mut self, machine: M) -> M {
        self.conns.clear();
        std::mem::replace(&mut self.machine, machine)
    }

    fn connect(&self, addr: SocketAddr) -> io::Result<Conn> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(self.request_timeout))?;
        stream.set_write_timeout(Some(self.request_timeout))?;
        // The ApiVersions handshake, blocking.
        let mut correlator = Correlator::new(Some(self.client_id.clone()));
        let mut splitter = FrameSplitter::default();
        let mut buf = BytesMut::new();
        correlator
            .encode(&ApiVersionsRequest::default(), 3, &mut buf)
            .map_err(io::Error::other)?;
        stream.write_all(&buf)?;
        let mut chunk = [0u8; 16 * 1024];
        let frame = loop {
            if let Some(frame) = splitter.next_frame().map_err(io::Error::other)? {
                break frame;
            }
            match stream.read(&mut chunk)? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => splitter.push(&chunk[..n]),
            }
        };
        let ResponseBody::ApiVersions(response) = correlator
            .decode_response(&frame)
            .map_err(io::Error::other)?
            .body
        else {
            return Err(io::Error::other("not an ApiVersions answer"));
        };
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            correlator,
            splitter,
            versions: BrokerVersions::from_response(&response),
            in_flight: HashMap::new(),
        })
    }

    fn address(&self, key: Key) -> Option<SocketAddr> {
        match key {
            Key::Bootstrap => Some(self.bootstrap),
            Key::Broker(id) | Key::Coordinator(id) => {
                let a = self.machine.broker_address(id)?;
                (a.host.as_str(), a.port).to_socket_addrs().ok()?.next()
            }
        }
    }

    /// Fails every request in flight on `key` and drops the connection.
    fn close(&mut self, now: Instant, key: Key, why: RequestFailed) {
        let Some(conn) = self.conns.remove(&key) else {
            return;
        };
        for (id, _) in conn.in_flight.into_values() {
            self.machine.handle_response(now, id, Err(why.clone()));
        }
        let connection = match key {
            Key::Bootstrap => Destination::AnyBroker,
            Key::Broker(id) => Destination::Broker(id),
            Key::Coordinator(id) => Destination::Coordinator(id),
        };
        self.machine.handle_disconnected(now, connection);
    }

    fn send(&mut self, now: Instant, out: Outgoing) {
        let key = match out.destination {
            Destination::AnyBroker => self
                .conns
                .keys()
                .copied()
                .find(|k| matches!(k, Key::Broker(_)))
                .unwrap_or(Key::Bootstrap),
            Destination::Broker(id) => Key::Broker(id),
            Destination::Coordinator(id) => Key::Coordinator(id),
        };
        if !self.conns.contains_key(&key) {
            let conn = self.address(key).map(|a| self.connect(a));
            match conn {
                Some(Ok(conn)) => {
                    self.conns.insert(key, conn);
                }
                _ => {
                    self.machine
                        .handle_response(now, out.id, Err(RequestFailed::Disconnected));
                    return;
                }
            }
        }
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        let version = match out.request.negotiate(&conn.versions) {
            Ok(v) => v,
            Err(e) => {
                self.machine.handle_response(now, out.id, Err(e.into()));
                return;
            }
        };
        let body: RequestBody = out.request.body(version);
        let mut buf = BytesMut::new();
        let correlation = match conn.correlator.encode_request(&body, version, &mut buf) {
            Ok(c) => c,
            Err(e) => {
                self.machine.handle_response(now, out.id, Err(e.into()));
                return;
            }
        };
        conn.in_flight.insert(correlation, (out.id, now));
        let written = conn
            .stream
            .set_nonblocking(false)
            .and_then(|()| conn.stream.write_all(&buf))
            .and_then(|()| conn.stream.set_nonblocking(true));
        if written.is_err() {
            self.close(now, key, RequestFailed::Disconnected);
        }
    }

    /// Reads what arrived on every connection, handing answers to the machine.
    fn receive(&mut self, now: Instant) -> bool {
        let mut any = false;
        let keys: Vec<Key> = self.conns.keys().copied().collect();
        for key in keys {
            let mut broken = None;
            let mut answers = Vec::new();
            if let Some(conn) = self.conns.get_mut(&key) {
                let mut chunk = [0u8; 64 * 1024];
                loop {
                    match conn.stream.read(&mut chunk) {
                        Ok(0) => {
                            broken = Some(RequestFailed::Disconnected);
                            break;
                        }
                        Ok(n) => conn.splitter.push(&chunk[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => {
                            broken = Some(RequestFailed::Disconnected);
                            break;
                        }
                    }
                }
                loop {
                    match conn.splitter.next_frame() {
                        Ok(Some(frame)) => match conn.correlator.decode_response(&frame) {
                            Ok(resp) => {
                                if let Some((id, _)) = conn.in_flight.remove(&resp.correlation_id) {
                                    answers.push((
                                        id,
                                        Ok(Response {
                                            version: resp.request.version,
                                            body: resp.body,
                                        }),
                                    ));
                                }
                            }
                            Err(e) => {
                                broken = Some(RequestFailed::Malformed(e));
                                break;
                            }
                        },
                        Ok(None) => break,
                        Err(e) => {
                            broken = Some(RequestFailed::Malformed(e));
                            break;
                        }
                    }
                }
                if broken.is_none()
                    && conn
                        .in_flight
                        .values()
                        .any(|(_, sent)| now.duration_since(*sent) > self.request_timeout)
                {
                    broken = Some(RequestFailed::TimedOut);
                }
            }
            for (id, result) in answers {
                any = true;
                self.machine.handle_response(now, id, result);
            }
            if let Some(why) = broken {
                any = true;
                self.close(now, key, why);
            }
        }
        any
    }

    /// One turn: time, requests out, answers in (waiting up to `wait` for one).
    pub fn step(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        loop {
            let now = Instant::now();
            if self.machine.poll_timeout().is_some_and(|t| t <= now) {
                self.machine.handle_timeout(now);
            }
            while let Some(out) = self.machine.poll_request(now) {
                self.send(now, out);
            }
            if self.receive(Instant::now()) || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Steps until `done` says so; false if `timeout` passes first.
    pub fn run_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&mut M, Instant) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&mut self.machine, Instant::now()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            self.step(Duration::from_millis(20));
        }
    }
}

//! A driver of your own: dekaf-state's producer and consumer machines, run by a few hundred
//! lines of plain Rust over blocking `std::net` sockets, with no async runtime. It is the
//! reference for embedding dekaf in a runtime of your own; the crate documentation ("Embedding
//! dekaf") walks through it.
//!
//! Against the broker at `DEKAF_BOOTSTRAP` it creates a topic of two partitions, writes 20
//! records and waits for each outcome, reads them back in a group in Manual mode with a commit
//! after each batch, and checks that a new consumer of the group starts at the committed
//! offsets.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-state --example blocking_driver`
//!
//! How the driver is built:
//!
//! - One connection per broker, and one more per coordinator: the machines send group,
//!   commit and transaction requests to [`Destination::Coordinator`], which must not queue
//!   behind a Fetch that the broker holds for up to its max wait on the broker's connection.
//!   [`Destination::AnyBroker`] goes to any open broker connection, else to a bootstrap
//!   address.
//! - Opening a connection: TCP connect, then the ApiVersions handshake, whose answer says
//!   which versions of each request the broker speaks. Then a reader thread per connection
//!   splits what arrives into frames and hands them to the loop over one channel, so that
//!   the loop can wait for "an answer on any connection, or a deadline".
//! - Correlation: each connection numbers its requests ([`Correlator`]); an answer is matched
//!   to its request by that number and decoded in the version the request was sent in.
//! - The loop ([`Driver::turn`]): send the requests the machine wants sent, wait for an
//!   answer until the machine's next deadline (or a request's timeout), feed the answers
//!   with the time, fire the machine's timer when its deadline passed, send again. The
//!   application drains the machine's events and gives it commands between turns.
//! - Failures: a connection that closes, or sends what cannot be decoded, fails every request
//!   in flight on it (`handle_response` with an error) and is reported
//!   (`handle_disconnected`); a request unanswered within the request timeout closes its
//!   connection the same way. The machine decides what to retry, and when; the driver only
//!   opens a connection again when the next request needs it.

// This program is the driver: it owns the clock, the sockets and the threads that the crate
// itself never touches (the crate's lints forbid them there).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use dekaf_proto::correlation::Correlator;
use dekaf_proto::frame::FrameSplitter;
use dekaf_proto::messages::{ApiVersionsRequest, ResponseBody};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::ErrorCode;
use dekaf_state::admin::{create_topics_request, read_create_topics, NewTopic};
use dekaf_state::client::{
    BrokerAddress, BrokerId, ClientMachine, ClientRequest, Destination, Outgoing, RequestFailed,
    RequestId, Response,
};
use dekaf_state::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
use dekaf_state::offset::{
    AutoOffsetReset, Event as OffsetEvent, OffsetCommitMode, TopicPartition,
};
use dekaf_state::producer::{Event as ProducerEvent, Producer, ProducerConfig, ProducerRecord};

// ---------------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------------

/// Which connection a request travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Link {
    /// To a bootstrap address, before metadata has named the brokers.
    Bootstrap,
    /// To a broker, for its Metadata, Produce, Fetch and ListOffsets requests.
    Broker(BrokerId),
    /// To the same broker as a group or transaction coordinator: a connection of its own.
    Coordinator(BrokerId),
}

impl Link {
    /// What the machine calls this connection in `handle_disconnected`.
    fn destination(self) -> Destination {
        match self {
            Link::Bootstrap => Destination::AnyBroker,
            Link::Broker(id) => Destination::Broker(id),
            Link::Coordinator(id) => Destination::Coordinator(id),
        }
    }
}

/// One open connection, as the loop sees it (its reading half is its reader thread's).
struct Connection {
    /// Tells this connection's arrivals from those of an earlier one on the same link.
    serial: u64,
    stream: TcpStream,
    correlator: Correlator,
    /// What the broker speaks, from the ApiVersions handshake.
    versions: BrokerVersions,
    /// Requests awaiting their answer, by correlation id (so in the order they were sent):
    /// the machine's id, and when the request was sent.
    in_flight: BTreeMap<i32, (RequestId, Instant)>,
}

/// What a reader thread hands the loop.
struct Arrival {
    link: Link,
    serial: u64,
    what: Result<Bytes, RequestFailed>,
}

/// What [`Driver::run_until`] waited for did not happen in time.
#[derive(Debug)]
pub struct NotWithin {
    what: String,
    limit: Duration,
}

impl fmt::Display for NotWithin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} did not happen within {:?}", self.what, self.limit)
    }
}

impl Error for NotWithin {}

/// Runs one [`ClientMachine`] over blocking TCP connections.
pub struct Driver<M> {
    machine: M,
    bootstrap: Vec<SocketAddr>,
    client_id: String,
    request_timeout: Duration,
    connections: HashMap<Link, Connection>,
    next_serial: u64,
    arrivals: Receiver<Arrival>,
    arrivals_sender: Sender<Arrival>,
}

impl<M: ClientMachine> Driver<M> {
    /// A driver for `machine`, bootstrapping from `bootstrap` (`host:port`).
    pub fn new(machine: M, bootstrap: &str, client_id: &str) -> io::Result<Self> {
        let (arrivals_sender, arrivals) = mpsc::channel();
        Ok(Driver {
            machine,
            bootstrap: bootstrap.to_socket_addrs()?.collect(),
            client_id: client_id.into(),
            request_timeout: Duration::from_secs(30),
            connections: HashMap::new(),
            next_serial: 0,
            arrivals,
            arrivals_sender,
        })
    }

    /// The machine, for the application's commands between turns.
    pub fn machine(&mut self) -> &mut M {
        &mut self.machine
    }

    /// One turn of the loop: send, wait until `wake_by` at the latest, feed, send.
    pub fn turn(&mut self, wake_by: Instant) {
        // 1. Commands given since the last turn may have made requests: send them first.
        self.send_requests(Instant::now());

        // 2. Sleep until an answer arrives, the machine's deadline passes, the oldest request
        //    times out, or the caller wants to look again.
        let deadline = [
            Some(wake_by),
            self.machine.poll_timeout(),
            self.next_request_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(wake_by);
        let first = self
            .arrivals
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok();
        let arrived: Vec<Arrival> = first.into_iter().chain(self.arrivals.try_iter()).collect();

        // 3. Feed the machine what happened, with the time it was seen: answers, then
        //    requests that timed out, then the machine's own timer.
        let now = Instant::now();
        for arrival in arrived {
            self.arrive(now, arrival);
        }
        self.expire_requests(now);
        if self.machine.poll_timeout().is_some_and(|t| t <= now) {
            self.machine.handle_timeout(now);
        }

        // 4. What the inputs made due goes out at once. (The application drains the
        //    machine's events after this, before the next turn.)
        self.send_requests(now);
    }

    /// Turns until `step` — which drains the machine's events and gives it commands — returns
    /// a value; fails after `limit`.
    pub fn run_until<T>(
        &mut self,
        limit: Duration,
        what: &str,
        mut step: impl FnMut(&mut M, Instant) -> Option<T>,
    ) -> Result<T, NotWithin> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(done) = step(&mut self.machine, Instant::now()) {
                return Ok(done);
            }
            if Instant::now() >= deadline {
                return Err(NotWithin {
                    what: what.into(),
                    limit,
                });
            }
            self.turn(deadline);
        }
    }

    /// Sends every request the machine has for the network.
    fn send_requests(&mut self, now: Instant) {
        while let Some(outgoing) = self.machine.poll_request(now) {
            self.send(now, outgoing);
        }
    }

    fn send(&mut self, now: Instant, out: Outgoing) {
        let link = self.link_for(out.destination);
        if let Err(why) = self.open(link) {
            // No connection: the request fails like one whose connection closed; the machine
            // backs off and asks again (after a metadata refresh if it needs one).
            self.machine.handle_response(now, out.id, Err(why));
            self.machine.handle_disconnected(now, link.destination());
            return;
        }
        let Some(conn) = self.connections.get_mut(&link) else {
            return;
        };
        // The highest version both the machine and this broker speak, then the body for it.
        let version = match out.request.negotiate(&conn.versions) {
            Ok(version) => version,
            Err(unsupported) => {
                self.machine
                    .handle_response(now, out.id, Err(unsupported.into()));
                return;
            }
        };
        let mut frame = BytesMut::new();
        let correlation_id =
            match conn
                .correlator
                .encode_request(&out.request.body(version), version, &mut frame)
            {
                Ok(id) => id,
                Err(e) => {
                    self.machine.handle_response(now, out.id, Err(e.into()));
                    return;
                }
            };
        if out.request.expects_response() {
            conn.in_flight.insert(correlation_id, (out.id, now));
        } else {
            // A Produce with acks = 0: the broker never answers, the machine expects nothing.
            conn.correlator.forget(correlation_id);
        }
        if conn.stream.write_all(&frame).is_err() {
            self.close(now, link, RequestFailed::Disconnected);
        }
    }

    /// The connection a destination's requests travel on.
    fn link_for(&self, destination: Destination) -> Link {
        match destination {
            Destination::Broker(id) => Link::Broker(id),
            Destination::Coordinator(id) => Link::Coordinator(id),
            Destination::AnyBroker => self
                .connections
                .keys()
                .filter_map(|link| match link {
                    Link::Broker(id) => Some(*id),
                    _ => None,
                })
                .min()
                .map_or(Link::Bootstrap, Link::Broker),
        }
    }

    /// Opens the connection of `link` unless it is open.
    fn open(&mut self, link: Link) -> Result<(), RequestFailed> {
        if self.connections.contains_key(&link) {
            return Ok(());
        }
        let addresses = match link {
            Link::Bootstrap => self.bootstrap.clone(),
            Link::Broker(id) | Link::Coordinator(id) => {
                // Metadata (or FindCoordinator) told the machine where the broker listens.
                let Some(BrokerAddress { host, port }) = self.machine.broker_address(id) else {
                    return Err(RequestFailed::Disconnected);
                };
                (host.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|_| RequestFailed::Disconnected)?
                    .collect()
            }
        };
        let (stream, versions, correlator) = addresses
            .iter()
            .find_map(|addr| handshake(*addr, &self.client_id, self.request_timeout).ok())
            .ok_or(RequestFailed::Disconnected)?;
        let serial = self.next_serial;
        self.next_serial += 1;
        let reading = stream
            .try_clone()
            .map_err(|_| RequestFailed::Disconnected)?;
        let arrivals = self.arrivals_sender.clone();
        std::thread::spawn(move || read_frames(reading, link, serial, arrivals));
        self.connections.insert(
            link,
            Connection {
                serial,
                stream,
                correlator,
                versions,
                in_flight: BTreeMap::new(),
            },
        );
        Ok(())
    }

    /// A frame, or the end of a connection, from a reader thread.
    fn arrive(&mut self, now: Instant, arrival: Arrival) {
        let Some(conn) = self.connections.get_mut(&arrival.link) else {
            return;
        };
        if conn.serial != arrival.serial {
            return; // from a connection closed before
        }
        let frame = match arrival.what {
            Ok(frame) => frame,
            Err(why) => return self.close(now, arrival.link, why),
        };
        match conn.correlator.decode_response(&frame) {
            Ok(answer) => {
                if let Some((id, _sent)) = conn.in_flight.remove(&answer.correlation_id) {
                    let response = Response {
                        version: answer.request.version,
                        body: answer.body,
                    };
                    self.machine.handle_response(now, id, Ok(response));
                }
            }
            // The broker's bytes make no sense: nothing more on this connection can be
            // trusted.
            Err(e) => self.close(now, arrival.link, RequestFailed::Malformed(e)),
        }
    }

    /// When the oldest request in flight times out, if any is.
    fn next_request_timeout(&self) -> Option<Instant> {
        self.connections
            .values()
            .flat_map(|c| c.in_flight.values())
            .map(|(_, sent)| *sent + self.request_timeout)
            .min()
    }

    /// Closes every connection with a request unanswered for longer than the request timeout.
    fn expire_requests(&mut self, now: Instant) {
        let expired: Vec<Link> = self
            .connections
            .iter()
            .filter(|(_, c)| {
                c.in_flight
                    .values()
                    .any(|(_, sent)| now >= *sent + self.request_timeout)
            })
            .map(|(link, _)| *link)
            .collect();
        for link in expired {
            self.close(now, link, RequestFailed::TimedOut);
        }
    }

    /// Fails every request in flight on `link` with `why`, in the order they were sent, and
    /// tells the machine the connection is gone.
    fn close(&mut self, now: Instant, link: Link, why: RequestFailed) {
        let Some(conn) = self.connections.remove(&link) else {
            return;
        };
        let _ = conn.stream.shutdown(Shutdown::Both); // ends its reader thread
        for (id, _sent) in conn.in_flight.into_values() {
            self.machine.handle_response(now, id, Err(why.clone()));
        }
        self.machine.handle_disconnected(now, link.destination());
    }
}

impl<M> Drop for Driver<M> {
    fn drop(&mut self) {
        for conn in self.connections.values() {
            let _ = conn.stream.shutdown(Shutdown::Both);
        }
    }
}

/// Connects to `addr` and asks which versions it speaks (ApiVersions v3). It blocks the loop
/// for as long as that takes, at most `timeout` for each step: a driver on an event loop
/// connects and handshakes without blocking, holding the connection's requests until the
/// answer is in.
fn handshake(
    addr: SocketAddr,
    client_id: &str,
    timeout: Duration,
) -> io::Result<(TcpStream, BrokerVersions, Correlator)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut correlator = Correlator::new(Some(client_id.into()));
    let mut frame = BytesMut::new();
    let request = ApiVersionsRequest {
        client_software_name: "dekaf-blocking-driver".into(),
        client_software_version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    correlator
        .encode(&request, 3, &mut frame)
        .map_err(io::Error::other)?;
    stream.write_all(&frame)?;
    let mut splitter = FrameSplitter::default();
    let mut chunk = [0u8; 4096];
    let answer = loop {
        if let Some(frame) = splitter.next_frame().map_err(io::Error::other)? {
            break frame;
        }
        match stream.read(&mut chunk)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => splitter.push(&chunk[..n]),
        }
    };
    // A broker older than ApiVersions v3 answers UNSUPPORTED_VERSION in v0, which fails to
    // decode here; dekaf-smol's driver asks again in the version the broker names.
    let ResponseBody::ApiVersions(versions) = correlator
        .decode_response(&answer)
        .map_err(io::Error::other)?
        .body
    else {
        return Err(io::Error::other("not an ApiVersions answer"));
    };
    if versions.error_code != ErrorCode::NONE {
        return Err(io::Error::other(format!(
            "ApiVersions refused: {}",
            versions.error_code
        )));
    }
    // From here on the reader thread blocks on reads; no read timeout.
    stream.set_read_timeout(None)?;
    Ok((stream, BrokerVersions::from_response(&versions), correlator))
}

/// A connection's reader thread: frames to the loop until the connection ends.
fn read_frames(mut stream: TcpStream, link: Link, serial: u64, arrivals: Sender<Arrival>) {
    let send = |what| arrivals.send(Arrival { link, serial, what }).is_ok();
    let mut splitter = FrameSplitter::default();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        loop {
            match splitter.next_frame() {
                Ok(Some(frame)) => {
                    if !send(Ok(frame)) {
                        return; // the driver is gone
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    send(Err(RequestFailed::Malformed(e)));
                    return;
                }
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => {
                send(Err(RequestFailed::Disconnected));
                return;
            }
            Ok(n) => splitter.push(&chunk[..n]),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A machine of one request, for a CreateTopics call
// ---------------------------------------------------------------------------------------------

/// The smallest [`ClientMachine`]: one request, sent once, and its outcome kept.
struct OneRequest {
    request: Option<(Destination, ClientRequest)>,
    outcome: Option<Result<Response, RequestFailed>>,
}

impl OneRequest {
    fn new(destination: Destination, request: ClientRequest) -> Self {
        OneRequest {
            request: Some((destination, request)),
            outcome: None,
        }
    }
}

impl ClientMachine for OneRequest {
    fn poll_request(&mut self, _now: Instant) -> Option<Outgoing> {
        let (destination, request) = self.request.take()?;
        Some(Outgoing {
            id: RequestId(0),
            destination,
            request,
        })
    }

    fn handle_response(
        &mut self,
        _now: Instant,
        _id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        self.outcome = Some(result);
    }

    fn handle_timeout(&mut self, _now: Instant) {}

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn broker_address(&self, _id: BrokerId) -> Option<BrokerAddress> {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// The application
// ---------------------------------------------------------------------------------------------

/// What the example returns: any error, with a message saying what did not hold.
pub type Outcome<T = ()> = Result<T, Box<dyn Error + Send + Sync>>;

/// How long the example waits for any one thing before it fails.
const PATIENCE: Duration = Duration::from_secs(30);
const PARTITIONS: i32 = 2;
const RECORDS: i64 = 20;
const CLIENT_ID: &str = "blocking-driver";

fn main() -> ExitCode {
    // Group events and commits are logged at debug: `RUST_LOG=dekaf_state=debug`.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(io::stderr)
            .try_init();
    }
    let bootstrap = std::env::var("DEKAF_BOOTSTRAP").unwrap_or_else(|_| "localhost:9092".into());
    match run(&bootstrap, &mut io::stdout()) {
        Ok(()) => {
            println!("blocking_driver: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("blocking_driver: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the example against `bootstrap`, saying what it does on `out`.
pub fn run(bootstrap: &str, out: &mut dyn Write) -> Outcome {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let topic = format!("blocking-driver-{}-{nanos}", std::process::id());
    let group = format!("{topic}-group");
    let partitions: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();

    create_topic(bootstrap, &topic)?;
    writeln!(out, "created topic {topic} with {PARTITIONS} partitions")?;
    produce(bootstrap, &topic)?;
    writeln!(
        out,
        "produced {RECORDS} records, {} to each partition",
        RECORDS / 2
    )?;
    let commits = consume_and_commit(bootstrap, &group, &partitions)?;
    writeln!(
        out,
        "consumed {RECORDS} records in order; committed offset {} on each partition, commits made: {commits}",
        RECORDS / 2
    )?;
    let positions = restart_positions(bootstrap, &group, &partitions)?;
    writeln!(out, "a new consumer of the group starts at {positions:?}")?;
    if positions != vec![RECORDS / 2; partitions.len()] {
        return Err(
            format!("a new consumer starts at {positions:?}, not the committed offsets").into(),
        );
    }
    Ok(())
}

/// CreateTopics through the [`OneRequest`] machine: dekaf-state's admin module writes the
/// request for whichever version the broker speaks and reads the answer per topic.
fn create_topic(bootstrap: &str, topic: &str) -> Outcome {
    let request = create_topics_request(
        vec![NewTopic::new(topic, PARTITIONS).replication_factor(1)],
        10_000,
        false,
    );
    let machine = OneRequest::new(Destination::AnyBroker, request);
    let mut driver = Driver::new(machine, bootstrap, CLIENT_ID)?;
    let outcome = driver.run_until(PATIENCE, "the CreateTopics answer", |m, _now| {
        m.outcome.take()
    })?;
    let mut results = read_create_topics(&[topic.to_owned()], outcome);
    results
        .remove(topic)
        .ok_or("the answer does not name the topic")??;
    Ok(())
}

/// Sends the records, then waits for every outcome (a flush), then closes the producer.
fn produce(bootstrap: &str, topic: &str) -> Outcome {
    let producer = Producer::new(ProducerConfig::default(), 7)?;
    let mut driver = Driver::new(producer, bootstrap, CLIENT_ID)?;
    let now = Instant::now();
    // The machine reads no clock, the wall clock included: a record's creation time is the
    // driver's (or the application's) to give. Sent without one, it carries -1.
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut sent = BTreeMap::new();
    for i in 0..RECORDS {
        let record = ProducerRecord::new(topic, format!("record-{i}"))
            .partition((i % 2) as i32)
            .timestamp(created);
        let id = driver.machine().send(now, record)?;
        sent.insert(id, i);
    }
    let flush = driver.machine().flush(now);

    let mut written = BTreeMap::new();
    driver.run_until(PATIENCE, "every record's outcome", |producer, _now| {
        let mut flushed = false;
        while let Some(event) = producer.poll_event() {
            match event {
                ProducerEvent::Delivered { id, result } => {
                    written.insert(sent[&id], result);
                }
                ProducerEvent::Flushed { id } => flushed |= id == flush,
                _ => {}
            }
        }
        flushed.then_some(())
    })?;
    for (i, result) in written {
        let at = result.map_err(|e| format!("record {i} was not written: {e}"))?;
        let expected = (TopicPartition::new(topic, (i % 2) as i32), Some(i / 2));
        if (at.partition.clone(), at.offset) != expected {
            return Err(format!("record {i} was written at {at:?}, not {expected:?}").into());
        }
    }

    // Closing refuses new records; the producer is done once nothing is left in flight.
    driver.machine().close(Instant::now());
    driver.run_until(PATIENCE, "the producer to close", |producer, _now| {
        producer.is_idle().then_some(())
    })?;
    Ok(())
}

/// Reads every record in a group, in Manual mode, with a commit after each batch taken;
/// returns how many commits succeeded.
fn consume_and_commit(
    bootstrap: &str,
    group: &str,
    partitions: &[TopicPartition],
) -> Outcome<usize> {
    let config = ConsumerConfig::new()
        .with_client_id(CLIENT_ID)
        .with_group_id(group)
        .with_commit_mode(OffsetCommitMode::Manual)
        .with_auto_offset_reset(AutoOffsetReset::Earliest);
    let mut driver = Driver::new(Consumer::new(config), bootstrap, CLIENT_ID)?;
    driver
        .machine()
        .assign(Instant::now(), partitions.to_vec())?;

    let mut values: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut commits = 0;
    let all_committed = |consumer: &Consumer| {
        partitions
            .iter()
            .all(|tp| consumer.committed(tp).map(|c| c.offset) == Some(RECORDS / 2))
    };
    driver.run_until(
        PATIENCE,
        "reading and committing every record",
        |consumer, now| {
            // The application's part: take what arrived, process it, commit it.
            let batch = consumer.poll_records(now, 100);
            for record in &batch {
                let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default());
                values
                    .entry(record.topic_partition.partition())
                    .or_default()
                    .push(value.into_owned());
            }
            if !batch.is_empty() {
                if let Err(e) = consumer.commit(now) {
                    return Some(Err(format!("commit refused: {e}")));
                }
            }
            // The machine's events: here, the outcome of each commit.
            while let Some(event) = consumer.poll_event() {
                match event {
                    ConsumerEvent::Offset(OffsetEvent::CommitFinished {
                        result: Ok(()), ..
                    }) => {
                        commits += 1;
                    }
                    ConsumerEvent::Offset(OffsetEvent::CommitFinished {
                        result: Err(e), ..
                    }) => {
                        return Some(Err(format!("commit failed: {e}")));
                    }
                    _ => {}
                }
            }
            all_committed(consumer).then_some(Ok(()))
        },
    )??;
    for p in 0..PARTITIONS {
        let expected: Vec<String> = (0..RECORDS)
            .filter(|i| i % 2 == i64::from(p))
            .map(|i| format!("record-{i}"))
            .collect();
        let got = values.remove(&p).unwrap_or_default();
        if got != expected {
            return Err(format!("partition {p}: read {got:?}, not {expected:?}").into());
        }
    }

    // Closing commits nothing more in Manual mode, and leaves no request unanswered.
    let _ = driver.machine().close(Instant::now());
    driver.run_until(PATIENCE, "the consumer to close", |consumer, _now| {
        consumer.is_close_complete().then_some(())
    })?;
    Ok(commits)
}

/// Where a new consumer of `group` starts reading each partition: its committed offset.
fn restart_positions(
    bootstrap: &str,
    group: &str,
    partitions: &[TopicPartition],
) -> Outcome<Vec<i64>> {
    let config = ConsumerConfig::new()
        .with_client_id(CLIENT_ID)
        .with_group_id(group)
        .with_auto_offset_reset(AutoOffsetReset::Earliest);
    let mut driver = Driver::new(Consumer::new(config), bootstrap, CLIENT_ID)?;
    driver
        .machine()
        .assign(Instant::now(), partitions.to_vec())?;
    let positions = driver.run_until(PATIENCE, "the new consumer's positions", |consumer, _| {
        while consumer.poll_event().is_some() {}
        partitions
            .iter()
            .map(|tp| consumer.position(tp))
            .collect::<Option<Vec<i64>>>()
    })?;
    let _ = driver.machine().close(Instant::now());
    driver.run_until(PATIENCE, "the new consumer to close", |consumer, _now| {
        consumer.is_close_complete().then_some(())
    })?;
    Ok(positions)
}

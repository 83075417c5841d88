//! The driver's side, as the fuzz input plays it: connections to brokers that answer in order,
//! version negotiation, request timeouts, broken connections and malformed answers — what a
//! real driver (dekaf-smol's) does with a machine's requests, minus the sockets.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use dekaf_proto::messages::api_versions::ApiVersion;
use dekaf_proto::messages::{supported_versions, ApiVersionsResponse, RequestBody, ResponseBody};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::wire::Reader;
use dekaf_proto::{ApiKey, ErrorCode};

use super::broker::{answer, World, BROKERS};
use dekaf_state::client::{
    BrokerId, ClientMachine, Destination, Outgoing, RequestFailed, RequestId, Response,
};
use dekaf_state::fuzz::Input;

/// How long a driver waits for an answer before it gives up on the connection.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// More requests than this from one drain of `poll_request` means it never returns `None`.
const MAX_DRAIN: usize = 1024;

/// More unanswered requests than this means the machine piles them up without bound.
const MAX_IN_FLIGHT: usize = 4096;

/// A request written to a connection, waiting for its answer.
#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) id: RequestId,
    pub(crate) api: ApiKey,
    pub(crate) version: i16,
    pub(crate) body: RequestBody,
    pub(crate) at: Instant,
}

/// What happened to the requests, for tests that check the fuzzers reach deep states.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stats {
    /// Requests sent, by API key.
    pub(crate) sent: BTreeMap<i16, usize>,
    /// Plausible answers delivered, by API key.
    pub(crate) answered: BTreeMap<i16, usize>,
    /// Answers decoded from raw input.
    pub(crate) raw: usize,
    /// Plausible answers that could not be written in their version (a bug of the fuzzer).
    pub(crate) unwritable: Vec<String>,
    /// Records handed to the application, or written (by outcome).
    pub(crate) records: usize,
    /// Events the machine reported, by kind.
    pub(crate) events: BTreeMap<String, usize>,
}

impl Stats {
    /// Counts an event by the name of its variant.
    pub(crate) fn event(&mut self, event: &impl std::fmt::Debug) {
        let text = format!("{event:?}");
        let name: String = text
            .split(|c: char| !c.is_alphanumeric())
            .take(2)
            .collect::<Vec<_>>()
            .join("/");
        *self.events.entry(name).or_default() += 1;
    }
}

/// The connections of a driver and the virtual clock.
pub(crate) struct Net {
    pub(crate) now: Instant,
    /// By connection: a broker's own, and its coordinator connection.
    lanes: BTreeMap<Destination, VecDeque<Sent>>,
    versions: BTreeMap<BrokerId, BrokerVersions>,
    /// Failures the driver reports without sending (no address, no common version).
    failed: VecDeque<(RequestId, RequestFailed)>,
    pub(crate) stats: Stats,
}

/// The version ranges of a broker: the newest, an older release, one without
/// OffsetForLeaderEpoch (as tansu), or a random range per API.
fn profile(input: &mut Input<'_>) -> BrokerVersions {
    let kind = input.byte();
    let mut salt = input.u32();
    let api_keys = ApiKey::ALL
        .iter()
        .filter_map(|&api| {
            let (lo, hi) = supported_versions(api)?;
            let max = match (kind, api) {
                (0..=159, _) => hi,
                (160..=199, ApiKey::ConsumerGroupHeartbeat) => return None,
                (160..=199, ApiKey::Fetch) => hi.min(12),
                (160..=199, ApiKey::Metadata) => hi.min(9),
                (160..=199, ApiKey::FindCoordinator) => hi.min(3),
                (160..=199, ApiKey::OffsetCommit) => hi.min(8),
                (160..=199, ApiKey::OffsetFetch) => hi.min(7),
                (160..=199, ApiKey::ListOffsets) => hi.min(6),
                (160..=199, ApiKey::JoinGroup) => hi.min(7),
                (160..=199, ApiKey::Produce) => hi.min(9),
                (160..=199, ApiKey::EndTxn) => hi.min(3),
                (160..=199, _) => hi,
                (200..=229, ApiKey::OffsetForLeaderEpoch) => return None,
                (200..=229, _) => hi,
                _ => {
                    salt = salt.rotate_left(7) ^ 0x9E37_79B9;
                    if salt % 16 == 0 {
                        return None;
                    }
                    let span = u32::try_from(hi - lo + 1).unwrap_or(1).max(1);
                    lo + i16::try_from(salt % span).unwrap_or(0)
                }
            };
            Some(ApiVersion {
                api_key: api.key(),
                min_version: 0,
                max_version: max,
                ..Default::default()
            })
        })
        .collect();
    BrokerVersions::from_response(&ApiVersionsResponse {
        api_keys,
        ..Default::default()
    })
}

impl Net {
    pub(crate) fn new(input: &mut Input<'_>, now: Instant) -> Self {
        let versions = BROKERS.iter().map(|&b| (b, profile(input))).collect();
        Net {
            now,
            lanes: BTreeMap::new(),
            versions,
            failed: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Requests awaiting an answer.
    pub(crate) fn in_flight(&self) -> impl Iterator<Item = (BrokerId, &Sent)> + '_ {
        self.lanes
            .iter()
            .flat_map(|(c, lane)| lane.iter().map(move |s| (c.broker().unwrap_or(0), s)))
    }

    /// Drains `poll_request` and writes each request to its connection; then reports the
    /// requests that could not be sent, and drains again (a few rounds). Returns the requests
    /// sent, as the brokers read them, for the machine's own checks.
    pub(crate) fn send<M: ClientMachine>(
        &mut self,
        machine: &mut M,
        input: &mut Input<'_>,
    ) -> Vec<RequestBody> {
        let mut sent = Vec::new();
        for _ in 0..4 {
            let mut n = 0;
            while let Some(out) = machine.poll_request(self.now) {
                n += 1;
                assert!(n <= MAX_DRAIN, "poll_request keeps returning requests");
                if let Some(s) = self.write(machine, input, out) {
                    sent.push(s);
                }
            }
            if self.failed.is_empty() {
                break;
            }
            while let Some((id, failure)) = self.failed.pop_front() {
                machine.handle_response(self.now, id, Err(failure));
            }
        }
        let in_flight = self.lanes.values().map(VecDeque::len).sum::<usize>();
        assert!(
            in_flight <= MAX_IN_FLIGHT,
            "{in_flight} requests in flight: the machine piles them up"
        );
        sent
    }

    fn write<M: ClientMachine>(
        &mut self,
        machine: &M,
        input: &mut Input<'_>,
        out: Outgoing,
    ) -> Option<RequestBody> {
        let api = out.request.api_key();
        let connection = match out.destination {
            Destination::AnyBroker => Destination::Broker(*input.pick(&BROKERS).unwrap_or(&1)),
            Destination::Broker(b) | Destination::Coordinator(b) => {
                if machine.broker_address(b).is_none() {
                    self.failed.push_back((out.id, RequestFailed::Disconnected));
                    return None;
                }
                out.destination
            }
        };
        let broker = connection.broker().unwrap_or(1);
        let version = match self.versions.get(&broker) {
            Some(v) => out.request.negotiate(v),
            None => Ok(out.request.versions().1),
        };
        let version = match version {
            Ok(v) => v,
            Err(e) => {
                self.failed
                    .push_back((out.id, RequestFailed::Unsupported(e)));
                return None;
            }
        };
        // Written and read back, as the broker gets it: a request the machine cannot write in
        // a version it offers is its bug.
        let mut buf = BytesMut::new();
        if let Err(e) = out.request.body(version).encode(&mut buf, version) {
            panic!("the machine's {api} request cannot be written in v{version}: {e}");
        }
        let bytes = buf.freeze();
        let body = match RequestBody::decode(api, version, &mut Reader::new(&bytes)) {
            Ok(body) => body,
            Err(e) => panic!("the machine's {api} v{version} request cannot be read back: {e}"),
        };
        *self.stats.sent.entry(api.key()).or_default() += 1;
        if out.request.expects_response() {
            self.lanes.entry(connection).or_default().push_back(Sent {
                id: out.id,
                api,
                version,
                body: body.clone(),
                at: self.now,
            });
        }
        Some(body)
    }

    /// Settles the oldest request of one connection, as the input says: a plausible answer,
    /// one decoded from raw input, a timeout, a broken connection, a whole-request error, or
    /// nothing yet.
    pub(crate) fn settle<M: ClientMachine>(
        &mut self,
        machine: &mut M,
        world: &mut World,
        input: &mut Input<'_>,
    ) {
        let busy: Vec<Destination> = self
            .lanes
            .iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(c, _)| *c)
            .collect();
        let Some(&broker) = input.pick(&busy) else {
            return;
        };
        let Some(lane) = self.lanes.get_mut(&broker) else {
            return;
        };
        let how = input.byte();
        if how >= 250 {
            return; // No answer yet.
        }
        let Some(sent) = lane.pop_front() else {
            return;
        };
        match how {
            0..=191 => {
                let Some(body) = answer(world, input, &sent.body, sent.version) else {
                    self.fail_lane(machine, broker, sent, RequestFailed::Disconnected);
                    return;
                };
                // Through the wire, as a driver would read it.
                let mut buf = BytesMut::new();
                if let Err(e) = body.encode(&mut buf, sent.version) {
                    self.stats
                        .unwritable
                        .push(format!("{} v{}: {e}", sent.api, sent.version));
                    self.fail_lane(machine, broker, sent, RequestFailed::Disconnected);
                    return;
                }
                let bytes = buf.freeze();
                match ResponseBody::decode(sent.api, sent.version, &mut Reader::new(&bytes)) {
                    Ok(body) => {
                        *self.stats.answered.entry(sent.api.key()).or_default() += 1;
                        let response = Response {
                            version: sent.version,
                            body,
                        };
                        machine.handle_response(self.now, sent.id, Ok(response));
                    }
                    Err(e) => {
                        self.stats
                            .unwritable
                            .push(format!("{} v{} read back: {e}", sent.api, sent.version));
                        self.fail_lane(machine, broker, sent, RequestFailed::Malformed(e));
                    }
                }
            }
            192..=215 => {
                let bytes = if input.bool() {
                    Bytes::copy_from_slice(input.bytes(512))
                } else {
                    // A plausible answer with some of its bytes changed or cut off.
                    let mut buf = BytesMut::new();
                    if let Some(body) = answer(world, input, &sent.body, sent.version) {
                        let _ = body.encode(&mut buf, sent.version);
                    }
                    for _ in 0..=input.below(4) {
                        let at = input.below(buf.len());
                        if let Some(b) = buf.get_mut(at) {
                            *b = input.byte();
                        }
                    }
                    if input.chance(64) {
                        buf.truncate(input.below(buf.len()));
                    }
                    buf.freeze()
                };
                match ResponseBody::decode(sent.api, sent.version, &mut Reader::new(&bytes)) {
                    Ok(body) => {
                        self.stats.raw += 1;
                        world.taint(&sent.body, &body);
                        let response = Response {
                            version: sent.version,
                            body,
                        };
                        machine.handle_response(self.now, sent.id, Ok(response));
                    }
                    // A driver closes a connection that sent garbage.
                    Err(e) => self.fail_lane(machine, broker, sent, RequestFailed::Malformed(e)),
                }
            }
            216..=231 => self.fail_lane(machine, broker, sent, RequestFailed::TimedOut),
            232..=243 => self.fail_lane(machine, broker, sent, RequestFailed::Disconnected),
            _ => {
                let code = *input
                    .pick(&[
                        ErrorCode::SASL_AUTHENTICATION_FAILED,
                        ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
                        ErrorCode::UNSUPPORTED_VERSION,
                    ])
                    .unwrap_or(&ErrorCode::UNSUPPORTED_VERSION);
                machine.handle_response(self.now, sent.id, Err(RequestFailed::Broker(code)));
            }
        }
    }

    /// Closes the connection `sent` was on: it fails with `failure`, the requests behind it
    /// as disconnected, then the machine hears of the closed connection.
    fn fail_lane<M: ClientMachine>(
        &mut self,
        machine: &mut M,
        connection: Destination,
        sent: Sent,
        failure: RequestFailed,
    ) {
        machine.handle_response(self.now, sent.id, Err(failure));
        let rest = self.lanes.remove(&connection).unwrap_or_default();
        for s in rest {
            let failure = if s.at + REQUEST_TIMEOUT <= self.now {
                RequestFailed::TimedOut
            } else {
                RequestFailed::Disconnected
            };
            machine.handle_response(self.now, s.id, Err(failure));
        }
        machine.handle_disconnected(self.now, connection);
    }

    /// Breaks a connection the input picks (a broker's own, or its coordinator connection).
    pub(crate) fn disconnect<M: ClientMachine>(&mut self, machine: &mut M, input: &mut Input<'_>) {
        let broker = *input.pick(&BROKERS).unwrap_or(&1);
        let connection = if input.bool() {
            Destination::Coordinator(broker)
        } else {
            Destination::Broker(broker)
        };
        match self
            .lanes
            .get_mut(&connection)
            .and_then(VecDeque::pop_front)
        {
            Some(sent) => self.fail_lane(machine, connection, sent, RequestFailed::Disconnected),
            None => machine.handle_disconnected(self.now, connection),
        }
    }

    /// Moves the clock as the input says (to the machine's deadline, or by some amount), fails
    /// requests that waited past the request timeout, and calls `handle_timeout` when the
    /// machine's deadline passed. Returns whether it did.
    pub(crate) fn advance<M: ClientMachine>(
        &mut self,
        machine: &mut M,
        input: &mut Input<'_>,
    ) -> bool {
        let step = match input.byte() {
            0..=95 => machine
                .poll_timeout()
                .and_then(|t| t.checked_duration_since(self.now))
                .unwrap_or(Duration::from_millis(1)),
            96..=159 => Duration::from_millis(u64::from(input.byte())),
            160..=223 => Duration::from_millis(u64::from(input.u16())),
            _ => Duration::from_secs(u64::from(input.byte())),
        };
        match self.now.checked_add(step) {
            Some(t) => self.jump(machine, t),
            None => false,
        }
    }

    /// Moves the clock to `to` (never back), fails requests that waited past the request
    /// timeout, and calls `handle_timeout` when the machine's deadline passed. Returns
    /// whether it did.
    pub(crate) fn jump<M: ClientMachine>(&mut self, machine: &mut M, to: Instant) -> bool {
        self.now = self.now.max(to);
        let late: Vec<Destination> = self
            .lanes
            .iter()
            .filter(|(_, l)| {
                l.front()
                    .is_some_and(|s| s.at + REQUEST_TIMEOUT <= self.now)
            })
            .map(|(b, _)| *b)
            .collect();
        for broker in late {
            if let Some(sent) = self.lanes.get_mut(&broker).and_then(VecDeque::pop_front) {
                self.fail_lane(machine, broker, sent, RequestFailed::TimedOut);
            }
        }
        if machine.poll_timeout().is_some_and(|t| t <= self.now) {
            machine.handle_timeout(self.now);
            return true;
        }
        false
    }
}

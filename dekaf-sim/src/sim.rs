use std::time::{Duration, Instant};

use dekaf_state::client::{
    ClientMachine, Destination, Outgoing, RequestFailed, RequestId, Response,
};
use dekaf_state::consumer::{Consumer, ConsumerEvent};
use dekaf_state::offset::Rng;

use crate::Cluster;

/// How long a lost answer takes to be noticed (the driver's request timeout).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the application gets a turn in [`Sim::run_until`].
pub const TICK: Duration = Duration::from_millis(10);

/// One answer on its way back.
#[derive(Debug)]
struct Flight {
    at: Instant,
    seq: u64,
    id: RequestId,
    /// The connection it travels on.
    connection: Destination,
    result: Result<Response, RequestFailed>,
}

/// A consumer, the cluster it talks to, and virtual time.
pub struct Sim {
    /// The cluster.
    pub cluster: Cluster,
    /// The consumer under test.
    pub consumer: Consumer,
    /// The virtual clock.
    pub now: Instant,
    /// Every event the consumer emitted, in order.
    pub events: Vec<ConsumerEvent>,
    /// Highest version the "brokers" speak per api (None: anything in the machine's range).
    pub version_cap: Option<i16>,
    /// Lowest version the "brokers" speak per api, where the machine can write it (None: the
    /// machine's lowest), as a recent broker that dropped old versions.
    pub version_floor: Option<i16>,
    rng: Rng,
    flights: Vec<Flight>,
    seq: u64,
    /// Disconnections to report: (when, which connection).
    disconnects: Vec<(Instant, Destination)>,
}

/// The instant virtual time starts from. Only differences between instants mean anything in
/// a simulation; this is the one reading of the clock, taken so that `Instant`s exist at all.
#[allow(clippy::disallowed_methods)]
pub fn start() -> Instant {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl Sim {
    /// A simulation of `consumer` against `cluster`, seeded.
    pub fn new(cluster: Cluster, consumer: Consumer, seed: u64) -> Self {
        Sim {
            cluster,
            consumer,
            now: start(),
            events: Vec::new(),
            version_cap: None,
            version_floor: None,
            rng: Rng::new(seed),
            flights: Vec::new(),
            seq: 0,
            disconnects: Vec::new(),
        }
    }

    /// Replaces the consumer (a crash and restart): answers in flight are lost.
    pub fn restart(&mut self, consumer: Consumer) {
        self.consumer = consumer;
        self.flights.clear();
        self.disconnects.clear();
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.rng.next_u64() % n
        }
    }

    fn push(
        &mut self,
        at: Instant,
        id: RequestId,
        connection: Destination,
        result: Result<Response, RequestFailed>,
    ) {
        self.seq += 1;
        self.flights.push(Flight {
            at,
            seq: self.seq,
            id,
            connection,
            result,
        });
    }

    /// Carries one request to the cluster.
    fn send(&mut self, out: Outgoing) {
        let brokers = self.cluster.brokers.clone();
        let connection = match out.destination {
            Destination::AnyBroker => {
                let up: Vec<i32> = brokers
                    .iter()
                    .copied()
                    .filter(|b| !self.cluster.down.contains(b))
                    .collect();
                let from = if up.is_empty() { &brokers } else { &up };
                Destination::Broker(from[self.below(from.len() as u64) as usize])
            }
            Destination::Broker(id) | Destination::Coordinator(id) => {
                assert!(
                    self.consumer.broker_address(id).is_some(),
                    "request to broker {id} whose address the machine does not know"
                );
                out.destination
            }
        };
        let broker = connection.broker().unwrap_or_default();
        let now = self.now;
        let down = self.cluster.down.contains(&broker);
        if down || self.cluster.chance(self.cluster.faults.disconnect) {
            // The connection breaks: this request and every answer still coming from there.
            let at = now + Duration::from_millis(1);
            for f in &mut self.flights {
                if f.connection == connection && f.at > at {
                    f.at = at;
                    f.result = Err(RequestFailed::Disconnected);
                }
            }
            self.push(at, out.id, connection, Err(RequestFailed::Disconnected));
            self.disconnects.push((at, connection));
            return;
        }
        self.cluster.maybe_move_leader();
        if self.cluster.without_offset_for_leader_epoch
            && out.request.api_key() == dekaf_proto::ApiKey::OffsetForLeaderEpoch
        {
            let error = dekaf_proto::version::UnsupportedVersion {
                api: dekaf_proto::ApiKey::OffsetForLeaderEpoch,
                broker: None,
                ours: Some(out.request.versions()),
            };
            self.push(
                now,
                out.id,
                connection,
                Err(RequestFailed::Unsupported(error)),
            );
            return;
        }
        let (lo, hi) = out.request.versions();
        let hi = self.version_cap.map_or(hi, |c| hi.min(c).max(lo));
        let lo = self.version_floor.map_or(lo, |f| lo.max(f).min(hi));
        let version = lo + self.below((hi - lo + 1) as u64) as i16;
        let body = out.request.body(version);
        let answer = match self.cluster.answer(broker, &body, version) {
            Ok(Some(answer)) => answer,
            Ok(None) => return,
            Err(e) => panic!("{e}"),
        };
        let empty_fetch = matches!(
            &answer,
            dekaf_proto::messages::ResponseBody::Fetch(f)
                if f.responses.iter().all(|t| t.partitions.iter().all(|p| p.records.as_ref().is_none_or(|r| r.is_empty())))
        );
        if self.cluster.chance(self.cluster.faults.unanswered) {
            self.push(
                now + REQUEST_TIMEOUT,
                out.id,
                connection,
                Err(RequestFailed::TimedOut),
            );
            return;
        }
        let delay = if empty_fetch {
            Duration::from_millis(500)
        } else {
            Duration::from_millis(1 + self.below(5))
        };
        self.push(
            now + delay,
            out.id,
            connection,
            Ok(Response {
                version,
                body: answer,
            }),
        );
    }

    /// Sends every request the consumer has and collects its events.
    pub fn pump(&mut self) {
        let mut n = 0;
        while let Some(out) = self.consumer.poll_request(self.now) {
            self.send(out);
            n += 1;
            assert!(n < 10_000, "requests never stop");
        }
        while let Some(e) = self.consumer.poll_event() {
            self.events.push(e);
        }
    }

    /// Moves to the next thing that happens (an answer, a disconnect, the consumer's timer),
    /// no later than `limit`. Returns false if nothing happens before `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        self.pump();
        let next_flight = self.flights.iter().map(|f| f.at).min();
        let next_disconnect = self.disconnects.iter().map(|d| d.0).min();
        let timer = self.consumer.poll_timeout();
        let Some(next) = [next_flight, next_disconnect, timer]
            .into_iter()
            .flatten()
            .min()
        else {
            return false;
        };
        if next > limit {
            return false;
        }
        self.now = self.now.max(next);
        let now = self.now;
        let due: Vec<(Instant, Destination)> = self
            .disconnects
            .iter()
            .copied()
            .filter(|d| d.0 <= now)
            .collect();
        self.disconnects.retain(|d| d.0 > now);
        for (_, connection) in due {
            self.consumer.handle_disconnected(now, connection);
        }
        self.flights.sort_by_key(|f| (f.at, f.seq));
        while self.flights.first().is_some_and(|f| f.at <= now) {
            let f = self.flights.remove(0);
            self.consumer.handle_response(now, f.id, f.result);
        }
        if self.consumer.poll_timeout().is_some_and(|t| t <= now) {
            self.consumer.handle_timeout(now);
        }
        self.pump();
        true
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        let mut steps = 0;
        while self.step(until) {
            steps += 1;
            assert!(steps < 1_000_000, "the simulation does not settle");
        }
        self.now = self.now.max(until);
        self.pump();
    }

    /// Steps until `done` says so, failing after `max` of virtual time.
    pub fn run_until(&mut self, max: Duration, mut done: impl FnMut(&mut Sim) -> bool) {
        let until = self.now + max;
        let mut steps = 0;
        loop {
            if done(self) {
                return;
            }
            // The application acts at least every tick, whatever the machine waits for.
            let tick = (self.now + TICK).min(until);
            if !self.step(tick) {
                if self.now >= until {
                    panic!("not done after {max:?} of virtual time");
                }
                self.now = tick;
            }
            steps += 1;
            assert!(steps < 2_000_000, "the simulation does not settle");
        }
    }

    /// Lets time pass by `d` without anything else happening first (the application is busy).
    pub fn sleep(&mut self, d: Duration) {
        self.run_for(d);
    }
}

//! A cluster-shaped proxy: N listeners on loopback, each presenting itself as a broker of
//! its own, all forwarding to one real broker (tansu, a single node), with faults injected on
//! command.
//!
//! tansu is one node (id 111) and never moves a leader or a coordinator, so a client's
//! handling of NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, NOT_COORDINATOR,
//! COORDINATOR_LOAD_IN_PROGRESS, dead brokers and broken connections could only be tested in
//! simulation. The proxy makes a real broker look like a cluster of N:
//!
//! - **Brokers.** Listener `i` is broker id `FIRST_BROKER_ID + i`. Metadata and
//!   DescribeCluster answers list the N listeners as the cluster's brokers, whatever the
//!   real broker said.
//! - **Leaders.** Each partition, when first seen in a Metadata answer, is given a leader
//!   among the N, chosen from the seed and its name (so the layout does not depend on the
//!   order things happen in). The proxy keeps its own leader epochs: Metadata shows the
//!   proxy's leader and epoch, and a forwarded Fetch or ListOffsets carries the real
//!   broker's epoch again.
//! - **Coordinators.** Each group and transactional id gets a coordinator among the N the
//!   same way; FindCoordinator answers name it.
//! - **Requests.** A request for partitions at their leader, or a coordinator request at the
//!   coordinator, goes to the real broker unchanged (only the epochs of Fetch and ListOffsets
//!   are translated). At another broker, the proxy answers itself as Kafka would: per
//!   partition NOT_LEADER_OR_FOLLOWER, or FENCED_LEADER_EPOCH when the request's leader epoch
//!   is older than the partition's (UNKNOWN_LEADER_EPOCH when newer), with the new leader in
//!   the answer's leader hints where the version has them; NOT_COORDINATOR for a coordinator
//!   request. A Produce, Fetch or ListOffsets naming partitions of several leaders is split:
//!   the partitions led here are forwarded, the others answered with their refusal, and the
//!   real broker's answer is merged with the refusals before it goes back. Partitions the
//!   proxy has not seen in a Metadata answer are forwarded as they are.
//! - **Order.** Answers go back in request order, fabricated ones included, as a Kafka
//!   connection does.
//! - **Generations.** tansu stores any offset commit, whatever its generation; Kafka's
//!   coordinator refuses a member's commit of an older generation with ILLEGAL_GENERATION.
//!   The proxy follows each group's generation in its JoinGroup answers and refuses such
//!   commits as Kafka would ([`fence_stale_commits`](ClusterProxy::fence_stale_commits)):
//!   otherwise a member that missed a rebalance (it was cut off) could move back the
//!   committed offset of a partition another member owns by then.
//!
//! Faults, on command ([`ClusterProxy`]'s methods):
//!
//! - [`move_leader`](ClusterProxy::move_leader): a partition's leadership moves to another
//!   broker and its epoch goes up; the old leader refuses it from then on, either as a
//!   follower (FENCED_LEADER_EPOCH to a request with the old epoch) or, when the seed says
//!   it left the partition's replicas, with NOT_LEADER_OR_FOLLOWER whatever the epoch;
//! - [`move_coordinator`](ClusterProxy::move_coordinator): a group's or transactional id's
//!   coordinator moves; the old one answers NOT_COORDINATOR, the new one
//!   COORDINATOR_LOAD_IN_PROGRESS to its first few requests (not to heartbeats, which Kafka
//!   answers normally while loading);
//! - [`down`](ClusterProxy::down) with [`Down::Refuse`] (connections refused, open ones
//!   closed) or [`Down::Blackhole`] (connections accepted, nothing answered; closed when the
//!   broker comes [`up`](ClusterProxy::up) again). A broker that is down still leads its
//!   partitions until they are moved, as in Kafka before the controller notices;
//! - [`slow`](ClusterProxy::slow): every answer of a broker waits this long;
//! - [`drop_after_request`](ClusterProxy::drop_after_request): the next request (of an API,
//!   or any) a broker forwards is written to the real broker, and the client's connection is
//!   closed: the request takes effect, its answer never comes;
//! - [`corrupt`](ClusterProxy::corrupt): a share of the answers is damaged (see [`Damage`]).
//!
//! [`heal`](ClusterProxy::heal) undoes every fault but the moves. What was injected is kept
//! ([`log`](ClusterProxy::log), [`stats`](ClusterProxy::stats)) for reports.
//!
//! The real broker advertises its own address ([`ClusterProxy::start_with_broker`]): the
//! proxy rewrites the answers that name brokers (Metadata, FindCoordinator,
//! DescribeCluster), so a client of the proxy never learns it, while a client given the
//! broker's address (to set a test up, or to read back what was written) bypasses the proxy
//! altogether. The leader hints of Produce and Fetch answers (KIP-951) come from the proxy
//! only when it made the refusal up; the broker's own, if any, are passed on as they are.
//!
//! ```no_run
//! use dekaf_tests::cluster_proxy::{ClusterProxy, Down};
//! use dekaf_tests::{Build, Engine};
//! use std::time::{Duration, Instant};
//!
//! let Some((broker, proxy)) = ClusterProxy::start_with_broker(Build::W, Engine::Memory, 3, 42)
//! else {
//!     return; // tansu is not installed
//! };
//! // ... point a client at proxy.bootstrap(), create and use topic "t" ...
//! proxy.move_leader("t", 0);
//! let coordinator = proxy.coordinator_of_group("my-group");
//! proxy.down(coordinator, Down::Blackhole);
//! proxy.slow(1, Duration::from_millis(300));
//! proxy.heal();
//! println!("{}", proxy.stats());
//! drop((proxy, broker));
//! ```
//!
//! Threads, not async: each accepted connection has a thread reading requests, one reading
//! the real broker's answers and one writing answers to the client, in request order.

mod answers;
mod commits;
mod connection;
pub mod corrupt;
mod model;
mod rewrite;
mod route;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dekaf_proto::ApiKey;

use crate::{Broker, Build, Engine};
use connection::{lock, Listener, Shared};
pub use corrupt::{Corruption, Damage};
use model::Model;
pub use model::{BrokerId, CoordinatorKind, Down, Stats, FIRST_BROKER_ID};

/// A running cluster-shaped proxy; it stops listening and closes every connection when
/// dropped.
#[derive(Debug)]
pub struct ClusterProxy {
    shared: Arc<Shared>,
    listeners: Mutex<Vec<Listener>>,
    seed: u64,
}

impl ClusterProxy {
    /// `n` listeners on free loopback ports, for [`start`](Self::start) once the real broker
    /// runs (it may advertise the first one's address).
    pub fn bind(n: usize) -> io::Result<Vec<TcpListener>> {
        (0..n.max(1))
            .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .collect()
    }

    /// Presents `listeners` as brokers `FIRST_BROKER_ID..`, forwarding to `upstream`;
    /// leaders and coordinators are placed from `seed`.
    pub fn start(listeners: Vec<TcpListener>, upstream: SocketAddr, seed: u64) -> ClusterProxy {
        crate::init_logging();
        let addrs = listeners
            .iter()
            .map(|l| {
                l.local_addr()
                    .unwrap_or_else(|e| panic!("a proxy listener has no address: {e}"))
            })
            .collect();
        let shared = Arc::new(Shared::new(Model::new(seed, addrs), upstream));
        let listeners = listeners
            .into_iter()
            .enumerate()
            .map(|(i, l)| Listener::start(&shared, i, l))
            .collect();
        ClusterProxy {
            shared,
            listeners: Mutex::new(listeners),
            seed,
        }
    }

    /// Starts `build`, and a proxy of `n` brokers in front of it. `None` when the build is
    /// not installed (see [`Broker::start`]).
    ///
    /// The broker advertises its own address: a client given it (to set a test up, or to
    /// read what was written) talks to the broker alone, while a client given
    /// [`bootstrap`](Self::bootstrap) learns only the proxy's addresses, since the proxy
    /// rewrites every answer that names a broker.
    pub fn start_with_broker(
        build: Build,
        engine: Engine,
        n: usize,
        seed: u64,
    ) -> Option<(Broker, ClusterProxy)> {
        let listeners = ClusterProxy::bind(n)
            .unwrap_or_else(|e| panic!("cannot bind the proxy's listeners: {e}"));
        let broker = Broker::start(build, engine)?;
        let proxy = ClusterProxy::start(listeners, broker.addr(), seed);
        Some((broker, proxy))
    }

    /// The seed leaders and coordinators were placed from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Every broker's address, comma-separated: a client's bootstrap list.
    pub fn bootstrap(&self) -> String {
        lock(&self.listeners)
            .iter()
            .map(|l| l.addr.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The broker ids of the pretended cluster.
    pub fn brokers(&self) -> Vec<BrokerId> {
        (0..lock(&self.listeners).len()).map(Model::id).collect()
    }

    /// Where broker `id` listens.
    pub fn addr(&self, id: BrokerId) -> Option<SocketAddr> {
        let i = lock(&self.shared.model).index(id)?;
        lock(&self.listeners).get(i).map(|l| l.addr)
    }

    /// The real broker's address.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// The leader of a partition and its epoch, once a Metadata answer named the partition.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<(BrokerId, i32)> {
        lock(&self.shared.model).leader(topic, partition)
    }

    /// Every partition seen in a Metadata answer so far.
    pub fn partitions(&self) -> Vec<(String, i32)> {
        lock(&self.shared.model).partitions()
    }

    /// The coordinator of a group or transactional id (placed now if not yet).
    pub fn coordinator(&self, kind: CoordinatorKind, key: &str) -> BrokerId {
        lock(&self.shared.model).coordinator(kind, key)
    }

    /// The coordinator of group `group`.
    pub fn coordinator_of_group(&self, group: &str) -> BrokerId {
        self.coordinator(CoordinatorKind::Group, group)
    }

    /// Every group and transactional id placed so far.
    pub fn coordinated(&self) -> Vec<(CoordinatorKind, String)> {
        lock(&self.shared.model).coordinators()
    }

    /// Moves a partition's leadership to another broker (chosen from the seed) and raises
    /// its epoch; the old leader, the new one and the new epoch. `None` if no Metadata
    /// answer named the partition yet.
    pub fn move_leader(&self, topic: &str, partition: i32) -> Option<(BrokerId, BrokerId, i32)> {
        lock(&self.shared.model).move_leader(topic, partition, None)
    }

    /// Moves a partition's leadership to broker `to` (the same broker is allowed: the epoch
    /// goes up all the same).
    pub fn move_leader_to(
        &self,
        topic: &str,
        partition: i32,
        to: BrokerId,
    ) -> Option<(BrokerId, BrokerId, i32)> {
        lock(&self.shared.model).move_leader(topic, partition, Some(to))
    }

    /// Moves the coordinator of a group or transactional id to another broker (chosen from
    /// the seed), which answers its first one to three requests (from the seed) with
    /// COORDINATOR_LOAD_IN_PROGRESS; the old coordinator and the new one.
    pub fn move_coordinator(
        &self,
        kind: CoordinatorKind,
        key: &str,
    ) -> Option<(BrokerId, BrokerId)> {
        let mut model = lock(&self.shared.model);
        let loading = model.rng.between(1, 3) as u32;
        model.move_coordinator(kind, key, None, loading)
    }

    /// Moves the coordinator of a group or transactional id to `to`, loading for `loading`
    /// requests.
    pub fn move_coordinator_to(
        &self,
        kind: CoordinatorKind,
        key: &str,
        to: BrokerId,
        loading: u32,
    ) -> Option<(BrokerId, BrokerId)> {
        lock(&self.shared.model).move_coordinator(kind, key, Some(to), loading)
    }

    /// Takes broker `id` down, as `how` says; it stays down until [`up`](Self::up).
    pub fn down(&self, id: BrokerId, how: Down) {
        let Some(i) = lock(&self.shared.model).index(id) else {
            return;
        };
        {
            let mut model = lock(&self.shared.model);
            if model.brokers[i].down.is_some() {
                return;
            }
            model.brokers[i].down = Some(how);
            model.stats.bump(format!("broker down ({how:?})"));
            model.note(format!("broker {id} down ({how:?})"));
        }
        if how == Down::Refuse {
            lock(&self.listeners)[i].stop();
            self.shared.close_connections(Some(i));
        }
    }

    /// Brings broker `id` back: it listens (and answers) again; connections opened while it
    /// was a blackhole are closed, as a partition that heals leaves them broken.
    pub fn up(&self, id: BrokerId) {
        let Some(i) = lock(&self.shared.model).index(id) else {
            return;
        };
        let was = {
            let mut model = lock(&self.shared.model);
            let was = model.brokers[i].down.take();
            if was.is_some() {
                model.note(format!("broker {id} up"));
            }
            was
        };
        match was {
            Some(Down::Refuse) => {
                let mut listeners = lock(&self.listeners);
                if listeners[i].is_stopped() {
                    if let Err(e) = listeners[i].restart(&self.shared, i) {
                        panic!("broker {id} cannot listen on its port again: {e}");
                    }
                }
            }
            Some(Down::Blackhole) => {
                self.shared.close_connections(Some(i));
            }
            None => {}
        }
    }

    /// Every answer of broker `id` waits `delay` before it is written (zero: no wait).
    pub fn slow(&self, id: BrokerId, delay: Duration) {
        let mut model = lock(&self.shared.model);
        let Some(i) = model.index(id) else { return };
        model.brokers[i].delay = delay;
        if !delay.is_zero() {
            model.stats.bump("broker slowed");
        }
        model.note(format!("broker {id}: answers delayed by {delay:?}"));
    }

    /// The next request broker `id` forwards (of `api`, or any but ApiVersions) is written
    /// to the real broker, then the client's connection is closed: no answer comes.
    pub fn drop_after_request(&self, id: BrokerId, api: Option<ApiKey>) {
        let mut model = lock(&self.shared.model);
        let Some(i) = model.index(id) else { return };
        model.brokers[i].drop_next = Some(api);
        let what = api.map_or("any request".to_string(), |a| format!("a {}", a.name()));
        model.note(format!(
            "broker {id}: armed to drop the connection after {what}"
        ));
    }

    /// Whether a member's offset commit of a generation older than the newest one its group's
    /// JoinGroup answers gave is refused with ILLEGAL_GENERATION (on by default), as Kafka's
    /// coordinator does; tansu stores any commit.
    pub fn fence_stale_commits(&self, on: bool) {
        lock(&self.shared.model).fence_stale_commits = on;
    }

    /// Damages answers from now on as `corruption` says (`None`: no more damage).
    pub fn corrupt(&self, corruption: Option<Corruption>) {
        let mut model = lock(&self.shared.model);
        model.note(format!("corruption: {corruption:?}"));
        model.corruption = corruption;
    }

    /// Closes every open connection (of every broker), as a network blip would.
    pub fn close_connections(&self) -> usize {
        let closed = self.shared.close_connections(None);
        let mut model = lock(&self.shared.model);
        model.stats.bump("every connection closed");
        model.note(format!("every connection closed ({closed})"));
        closed
    }

    /// Undoes every fault but leadership and coordinator moves: every broker up and fast,
    /// no armed drop, no corruption.
    pub fn heal(&self) {
        for id in self.brokers() {
            self.up(id);
        }
        let mut model = lock(&self.shared.model);
        for b in &mut model.brokers {
            b.delay = Duration::ZERO;
            b.drop_next = None;
        }
        model.corruption = None;
        model.note("healed: every broker up and fast, no corruption".into());
    }

    /// Counts of what the proxy did so far.
    pub fn stats(&self) -> Stats {
        lock(&self.shared.model).stats.clone()
    }

    /// The offset commits (OffsetCommit, TxnOffsetCommit) of `topic`'s `partition` seen so
    /// far, one line each: when, on which connection and broker, from which member and
    /// generation, the offsets, and what became of it.
    pub fn commits_of(&self, topic: &str, partition: i32) -> Vec<String> {
        lock(&self.shared.model)
            .commits
            .iter()
            .filter(|c| {
                c.offsets
                    .iter()
                    .any(|(t, p, _)| t == topic && *p == partition)
            })
            .map(|c| c.to_string())
            .collect()
    }

    /// When the proxy started: the times in its log and traces count from here.
    pub fn started(&self) -> Instant {
        lock(&self.shared.model).started
    }

    /// The faults injected so far, each with the time since the proxy started.
    pub fn log(&self) -> Vec<String> {
        lock(&self.shared.model).log.clone()
    }
}

impl Drop for ClusterProxy {
    fn drop(&mut self) {
        for l in lock(&self.listeners).iter_mut() {
            l.stop();
        }
        self.shared.close_connections(None);
    }
}

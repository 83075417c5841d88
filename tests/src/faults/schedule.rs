//! A seeded random schedule of faults, injected into a [`ClusterProxy`] on a thread of its
//! own while a workload runs: after a random pause, one fault from the workload's menu;
//! outages and slowdowns are undone after a random while. At most one broker is down at a
//! time, so that the cluster always has a way forward. When its time is up (or it is
//! stopped) the schedule heals the proxy.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dekaf_proto::ApiKey;

use crate::cluster_proxy::{BrokerId, ClusterProxy, CoordinatorKind, Down};
use crate::rng::Rng;

/// A kind of fault the schedule may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// A partition's leader moves (its epoch goes up).
    MoveLeader,
    /// A group's or transactional id's coordinator moves.
    MoveCoordinator,
    /// A broker refuses connections for a while (its connections closed).
    Refuse,
    /// A broker accepts connections and answers nothing for a while.
    Blackhole,
    /// A broker's answers are delayed for a while.
    Slow,
    /// The next request of a chosen API a broker forwards closes its connection once written.
    DropAfterRequest,
    /// Every open connection is closed at once.
    CloseConnections,
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            FaultKind::MoveLeader => "move leader",
            FaultKind::MoveCoordinator => "move coordinator",
            FaultKind::Refuse => "broker refuses",
            FaultKind::Blackhole => "broker blackholed",
            FaultKind::Slow => "broker slow",
            FaultKind::DropAfterRequest => "drop after request",
            FaultKind::CloseConnections => "close connections",
        };
        f.write_str(name)
    }
}

/// What a schedule may do, and to what.
#[derive(Debug, Clone)]
pub struct Menu {
    /// The kinds of fault, each as likely as the others (repeat one to weigh it more).
    pub kinds: Vec<FaultKind>,
    /// The topics whose leaders move, with their partition counts.
    pub topics: Vec<(String, i32)>,
    /// The groups and transactional ids whose coordinators move.
    pub coordinators: Vec<(CoordinatorKind, String)>,
    /// The APIs a dropped connection may follow (`None`: any request).
    pub drop_after: Vec<Option<ApiKey>>,
    /// The pause between two faults, at least and at most.
    pub pause: (Duration, Duration),
    /// How long an outage or a slowdown lasts, at least and at most.
    pub outage: (Duration, Duration),
    /// How much a slow broker delays each answer, at least and at most.
    pub delay: (Duration, Duration),
}

impl Menu {
    /// Every kind of fault, with pauses and outages short enough for a few seconds' run.
    pub fn new(topics: Vec<(String, i32)>) -> Menu {
        Menu {
            kinds: vec![
                FaultKind::MoveLeader,
                FaultKind::MoveLeader,
                FaultKind::MoveCoordinator,
                FaultKind::Refuse,
                FaultKind::Blackhole,
                FaultKind::Slow,
                FaultKind::DropAfterRequest,
                FaultKind::DropAfterRequest,
                FaultKind::CloseConnections,
            ],
            topics,
            coordinators: Vec::new(),
            drop_after: vec![None],
            pause: (Duration::from_millis(150), Duration::from_millis(900)),
            outage: (Duration::from_millis(300), Duration::from_millis(2500)),
            delay: (Duration::from_millis(50), Duration::from_millis(600)),
        }
    }
}

/// A running schedule.
#[derive(Debug)]
pub struct Schedule {
    stop: Sender<()>,
    thread: JoinHandle<Injected>,
}

/// How many faults of each kind a schedule injected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injected(pub BTreeMap<FaultKind, u32>);

impl Injected {
    /// The total count.
    pub fn total(&self) -> u32 {
        self.0.values().sum()
    }
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no fault");
        }
        let parts: Vec<String> = self.0.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

fn between(rng: &mut Rng, (lo, hi): (Duration, Duration)) -> Duration {
    let (lo, hi) = (lo.as_millis() as u64, hi.as_millis() as u64);
    Duration::from_millis(rng.between(lo, hi.max(lo)))
}

/// The coordinator a request of `api` goes to, if it is a coordinator request.
fn coordinator_kind(api: ApiKey) -> Option<CoordinatorKind> {
    match api {
        ApiKey::JoinGroup
        | ApiKey::SyncGroup
        | ApiKey::Heartbeat
        | ApiKey::LeaveGroup
        | ApiKey::OffsetCommit
        | ApiKey::OffsetFetch
        | ApiKey::TxnOffsetCommit => Some(CoordinatorKind::Group),
        ApiKey::InitProducerId
        | ApiKey::AddPartitionsToTxn
        | ApiKey::AddOffsetsToTxn
        | ApiKey::EndTxn => Some(CoordinatorKind::Transaction),
        _ => None,
    }
}

/// Something to undo later.
enum Undo {
    Up(BrokerId),
    Fast(BrokerId),
}

impl Schedule {
    /// Injects faults from `menu` into `proxy`, chosen by `seed`, for `duration`; then heals
    /// it.
    pub fn start(proxy: Arc<ClusterProxy>, menu: Menu, seed: u64, duration: Duration) -> Schedule {
        let (stop, stopped) = mpsc::channel::<()>();
        let end = Instant::now() + duration;
        let thread = std::thread::spawn(move || {
            let mut rng = Rng::new(seed ^ 0x5EED_FA17);
            let mut injected = Injected::default();
            let mut undo: Vec<(Instant, Undo)> = Vec::new();
            let mut down: Option<BrokerId> = None;
            let mut next = Instant::now() + between(&mut rng, menu.pause);
            loop {
                let now = Instant::now();
                let wake = undo.iter().map(|(at, _)| *at).chain([next, end]).min();
                let wait = wake.map_or(Duration::ZERO, |w| w.saturating_duration_since(now));
                match stopped.recv_timeout(wait) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                }
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let (due, later): (Vec<_>, Vec<_>) =
                    undo.into_iter().partition(|(at, _)| *at <= now);
                undo = later;
                for (_, u) in due {
                    match u {
                        Undo::Up(id) => {
                            proxy.up(id);
                            down = None;
                        }
                        Undo::Fast(id) => proxy.slow(id, Duration::ZERO),
                    }
                }
                if now < next {
                    continue;
                }
                next = now + between(&mut rng, menu.pause);
                let Some(&kind) = rng.pick(&menu.kinds) else {
                    continue;
                };
                let brokers = proxy.brokers();
                let Some(&broker) = rng.pick(&brokers) else {
                    continue;
                };
                let done = match kind {
                    FaultKind::MoveLeader => {
                        let Some((topic, n)) = rng.pick(&menu.topics).cloned() else {
                            continue;
                        };
                        let partition = rng.below(n.max(1) as u64) as i32;
                        proxy.move_leader(&topic, partition).is_some()
                    }
                    FaultKind::MoveCoordinator => match rng.pick(&menu.coordinators).cloned() {
                        Some((kind, key)) => proxy.move_coordinator(kind, &key).is_some(),
                        None => false,
                    },
                    FaultKind::Refuse | FaultKind::Blackhole => {
                        if down.is_some() {
                            false
                        } else {
                            let how = if kind == FaultKind::Refuse {
                                Down::Refuse
                            } else {
                                Down::Blackhole
                            };
                            proxy.down(broker, how);
                            down = Some(broker);
                            undo.push((now + between(&mut rng, menu.outage), Undo::Up(broker)));
                            true
                        }
                    }
                    FaultKind::Slow => {
                        proxy.slow(broker, between(&mut rng, menu.delay));
                        undo.push((now + between(&mut rng, menu.outage), Undo::Fast(broker)));
                        true
                    }
                    FaultKind::DropAfterRequest => {
                        let api = rng.pick(&menu.drop_after).copied().flatten();
                        // A coordinator request is dropped where it goes: at the coordinator.
                        let at = api
                            .and_then(coordinator_kind)
                            .and_then(|kind| {
                                let keys: Vec<&String> = menu
                                    .coordinators
                                    .iter()
                                    .filter(|(k, _)| *k == kind)
                                    .map(|(_, key)| key)
                                    .collect();
                                rng.pick(&keys).map(|key| proxy.coordinator(kind, key))
                            })
                            .unwrap_or(broker);
                        proxy.drop_after_request(at, api);
                        true
                    }
                    FaultKind::CloseConnections => {
                        proxy.close_connections();
                        true
                    }
                };
                if done {
                    *injected.0.entry(kind).or_default() += 1;
                }
            }
            proxy.heal();
            injected
        });
        Schedule { stop, thread }
    }

    /// Stops injecting if its time is not up yet, heals the proxy (every broker up and fast,
    /// nothing armed), and says what was injected.
    pub fn stop(self) -> Injected {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or_default()
    }
}

//! Seeded runs of whole consumer groups: a seed picks the group's setup (protocol, commit
//! mode, static or dynamic members, latency), the fault rates, and a schedule of what
//! happens — members start, close, crash, restart, stall, resubscribe; records arrive;
//! leaders and the coordinator move; brokers go down and come back; connections break,
//! answers are lost, delayed or duplicated, the coordinator is slow — and the run
//! checks every [`Invariant`] after every step and at the end.
//!
//! ```
//! let report = dekaf_sim::world::run_seed(42, false);
//! assert!(report.violations.is_empty(), "{report}");
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use dekaf_proto::records::Compression;
use dekaf_state::consumer::{Consumer, ConsumerConfig, ConsumerEvent, IsolationLevel};
use dekaf_state::group::{GroupEvent, GroupProtocol};
use dekaf_state::offset::{AutoOffsetReset, OffsetCommitMode, Rng, TopicPartition};

use crate::asked::Commands;
use crate::invariants::{Invariant, Violation};
use crate::writer::Writer;
use crate::{Cluster, Faults, GroupSim, Member};

/// The topic the members consume.
pub const TOPIC: &str = "events";
/// Its partitions.
pub const PARTITIONS: i32 = 5;
/// The group.
pub const GROUP: &str = "g";

/// One thing that happens in a run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Time passes (tenths of a second).
    Wait(u16),
    /// A new process joins the group.
    Start,
    /// The n-th running member (modulo) closes.
    Close(usize),
    /// The n-th running member's process dies: no commit, no leave.
    Crash(usize),
    /// The n-th running member's application stops asking for records for this many
    /// seconds (and confirms no revocation meanwhile).
    Stall(usize, u8),
    /// The n-th running member unsubscribes, then subscribes again after this many seconds.
    Resubscribe(usize, u8),
    /// This many records arrive on every partition.
    Append(u8),
    /// The n-th running member's process dies and a new one starts in its place (with the
    /// same instance id when members are static).
    Restart(usize),
    /// The leader of partition n (modulo) moves to another broker.
    MoveLeader(usize),
    /// The group coordinator moves.
    MoveCoordinator,
    /// Broker n (modulo) goes down for this many seconds, then comes back: its partitions
    /// and, if it had it, the group coordinator move to another broker.
    BrokerDown(usize, u8),
    /// The idempotent producer sends this many records (spread over the partitions); with
    /// `true` it then asks for a flush.
    Produce(u8, bool),
    /// The transactional producer runs a transaction of this many records, committed with
    /// `true`, aborted with `false` (after the ones before it ended).
    Transaction(u8, bool),
    /// The n-th running member's application gives a command with an outcome: a commit
    /// (0), a committed-offsets query (1), an offsets-for-times query (2) or a watermarks
    /// query (3), modulo 4.
    Ask(usize, u8),
}

/// The group protocol and assignor the members use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Classic protocol, eager range assignor.
    Eager,
    /// Classic protocol, cooperative-sticky assignor.
    Cooperative,
    /// The consumer protocol (KIP-848).
    Consumer,
}

/// How a run's members are set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// The group protocol.
    pub protocol: Protocol,
    /// Auto or Manual commits (Manual members never commit: each hand-over reads again).
    pub mode: OffsetCommitMode,
    /// Members have instance ids.
    pub static_members: bool,
    /// One-way network latency in milliseconds.
    pub latency: u64,
}

/// A whole run: the setup, the fault rates, and what happens in order.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// The seed the schedule came from (it also seeds the cluster and the members).
    pub seed: u64,
    /// The members' setup.
    pub setup: Setup,
    /// The fault rates while the schedule runs (none once it ends, so that the group can
    /// settle).
    pub faults: Faults,
    /// What happens, in order.
    pub ops: Vec<Op>,
}

impl Schedule {
    /// The schedule seed `seed` stands for, with every fault of the world: those of
    /// [`from_seed_plain`](Self::from_seed_plain) and, on top, answers delayed and
    /// duplicated, a slow coordinator, brokers down and back.
    pub fn from_seed(seed: u64) -> Self {
        Schedule::drawn(seed, true)
    }

    /// The schedule of [`from_seed`](Self::from_seed) without the faults added later
    /// (delayed and duplicated answers, a slow coordinator, brokers down): what seed `seed`
    /// stood for before, to tell whether a failing seed needs them.
    pub fn from_seed_plain(seed: u64) -> Self {
        Schedule::drawn(seed, false)
    }

    fn drawn(seed: u64, extended: bool) -> Self {
        let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED);
        let mut below = |n: u64| rng.next_u64() % n;
        let protocol = match below(3) {
            0 => Protocol::Eager,
            1 => Protocol::Cooperative,
            _ => Protocol::Consumer,
        };
        let mode = if below(4) == 0 {
            OffsetCommitMode::Manual
        } else {
            OffsetCommitMode::Auto
        };
        let setup = Setup {
            protocol,
            mode,
            static_members: below(2) == 0,
            latency: if below(2) == 0 { 2 } else { 150 },
        };
        let rate = |r: u64| r as f64 / 1000.0;
        let faults = if below(3) == 0 {
            Faults::none()
        } else {
            Faults {
                disconnect: rate(below(20)),
                lost_response: rate(below(20)),
                leader_move: rate(below(10)),
                coordinator_moves: rate(below(20)),
                load_in_progress: rate(below(20)),
                ..Faults::none()
            }
        };
        let n = 1 + below(20) as usize;
        let ops = (0..n)
            .map(|_| match below(17) {
                0..=3 => Op::Wait(1 + below(99) as u16),
                4..=6 => Op::Start,
                7 => Op::Close(below(8) as usize),
                8 => Op::Crash(below(8) as usize),
                9 => Op::Stall(below(8) as usize, 1 + below(29) as u8),
                10 => Op::Resubscribe(below(8) as usize, below(5) as u8),
                11 | 12 => Op::Append(1 + below(19) as u8),
                13 => Op::Restart(below(8) as usize),
                14 | 15 => Op::MoveLeader(below(PARTITIONS as u64) as usize),
                _ => Op::MoveCoordinator,
            })
            .collect::<Vec<_>>();
        // The idempotent producer's sends, drawn after the group's operations.
        let mut ops = ops;
        for _ in 0..below(4) {
            let at = below(ops.len() as u64 + 1) as usize;
            ops.insert(at, Op::Produce(1 + below(40) as u8, below(2) == 0));
        }
        for _ in 0..below(4) {
            let at = below(ops.len() as u64 + 1) as usize;
            ops.insert(at, Op::Transaction(1 + below(20) as u8, below(3) != 0));
        }
        for _ in 0..below(4) {
            let at = below(ops.len() as u64 + 1) as usize;
            ops.insert(at, Op::Ask(below(8) as usize, below(4) as u8));
        }
        // Drawn after the rest, so that an extended schedule is the plain one of its seed with
        // these on top: answers delayed, duplicated, a slow coordinator, brokers down.
        let mut faults = faults;
        if !extended {
            return Schedule {
                seed,
                setup,
                faults,
                ops,
            };
        }
        if faults.disconnect > 0.0 || below(4) == 0 {
            faults.delayed_response = rate(below(30));
            faults.duplicated_response = rate(below(30));
            faults.slow_coordinator = Duration::from_millis(below(4) * below(1000));
        }
        for _ in 0..below(3) {
            let at = below(ops.len() as u64 + 1) as usize;
            ops.insert(at, Op::BrokerDown(below(3) as usize, 1 + below(20) as u8));
        }
        Schedule {
            seed,
            setup,
            faults,
            ops,
        }
    }
}

impl Schedule {
    /// A schedule read from bytes (a fuzzer's input): the first bytes pick the setup and the
    /// fault rates, each further pair of bytes one operation; at most 64 operations.
    pub fn from_bytes(data: &[u8]) -> Self {
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        let setup = Setup {
            protocol: match byte(0) % 3 {
                0 => Protocol::Eager,
                1 => Protocol::Cooperative,
                _ => Protocol::Consumer,
            },
            mode: if byte(1) % 4 == 0 {
                OffsetCommitMode::Manual
            } else {
                OffsetCommitMode::Auto
            },
            static_members: byte(2) % 2 == 0,
            latency: if byte(3) % 2 == 0 { 2 } else { 150 },
        };
        let rate = |b: u8| f64::from(b % 32) / 1000.0;
        let faults = Faults {
            disconnect: rate(byte(4)),
            lost_response: rate(byte(5)),
            leader_move: rate(byte(6)),
            coordinator_moves: rate(byte(7)),
            load_in_progress: rate(byte(8)),
            ..Faults::none()
        };
        let ops = data
            .get(9..)
            .unwrap_or_default()
            .chunks_exact(2)
            .take(64)
            .map(|pair| {
                let (kind, arg) = (pair[0] % 13, pair[1]);
                let n = usize::from(arg);
                match kind {
                    0 => Op::Wait(1 + u16::from(arg % 100)),
                    1 => Op::Start,
                    2 => Op::Close(n),
                    3 => Op::Crash(n),
                    4 => Op::Stall(n, 1 + arg % 30),
                    5 => Op::Resubscribe(n, arg % 5),
                    6 => Op::Append(1 + arg % 20),
                    7 => Op::Restart(n),
                    8 => Op::MoveLeader(n),
                    9 => Op::MoveCoordinator,
                    10 => Op::Produce(1 + arg % 40, arg % 2 == 0),
                    11 => Op::Transaction(1 + arg % 20, arg % 3 != 0),
                    _ => Op::Ask(n, arg),
                }
            })
            .collect();
        Schedule {
            seed: u64::from(byte(0)) << 8 | u64::from(byte(1)),
            setup,
            faults,
            ops,
        }
    }
}

/// The body of the `sim_world` fuzz target: runs the schedule `data` stands for and panics
/// with the violations if any invariant broke.
pub fn fuzz_world(data: &[u8]) {
    let report = run(&Schedule::from_bytes(data), false);
    assert!(report.violations.is_empty(), "{report}");
}

/// What a run found.
#[derive(Debug)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Every invariant broken, in the order found.
    pub violations: Vec<Violation>,
    /// Every request and answer, when the run was traced.
    pub trace: Option<Vec<String>>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.violations.is_empty() {
            return write!(f, "seed {}: no violation", self.seed);
        }
        for v in &self.violations {
            writeln!(f, "seed {}: {v}", self.seed)?;
        }
        Ok(())
    }
}

/// Runs the schedule of `seed`; `trace` records every request and answer.
pub fn run_seed(seed: u64, trace: bool) -> Report {
    run(&Schedule::from_seed(seed), trace)
}

/// Runs `schedule`, catching a panic of the client (or of the model) as a violation.
pub fn run(schedule: &Schedule, trace: bool) -> Report {
    let mut sim = None;
    let result = catch_unwind(AssertUnwindSafe(|| play(schedule, trace, &mut sim)));
    let (mut violations, trace) = match sim {
        Some(sim) => (sim.violations, sim.trace),
        None => (Vec::new(), None),
    };
    match result {
        Ok(found) => violations.extend(found),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            violations.push(Violation::new(Invariant::NoClientBug, message));
        }
    }
    Report {
        seed: schedule.seed,
        violations,
        trace,
    }
}

fn config(setup: Setup, seed: u64, instance: u64) -> ConsumerConfig {
    let config = ConsumerConfig::new()
        .with_group_id(GROUP)
        .with_commit_mode(setup.mode)
        .with_auto_commit_interval(Duration::from_millis(700))
        .with_auto_offset_reset(AutoOffsetReset::Earliest)
        .with_session_timeout(Duration::from_secs(6))
        .with_heartbeat_interval(Duration::from_secs(1))
        .with_max_poll_interval(Duration::from_secs(20))
        .with_isolation_level(IsolationLevel::ReadCommitted)
        .with_seed(seed);
    let config = if setup.static_members {
        config.with_group_instance_id(format!("instance-{instance}"))
    } else {
        config
    };
    match setup.protocol {
        // Both assignors are built in: the names are always known.
        Protocol::Eager => config.with_assignor_names(&["range"]).unwrap_or_default(),
        Protocol::Cooperative => config
            .with_assignor_names(&["cooperative-sticky"])
            .unwrap_or_default(),
        Protocol::Consumer => config.with_group_protocol(GroupProtocol::Consumer),
    }
}

fn running(sim: &GroupSim) -> Vec<usize> {
    sim.members
        .iter()
        .enumerate()
        .filter(|(_, m)| m.as_ref().is_some_and(|m| !m.consumer.is_closed()))
        .map(|(i, _)| i)
        .collect()
}

fn pick(sim: &GroupSim, n: usize) -> Option<usize> {
    let live = running(sim);
    (!live.is_empty()).then(|| live[n % live.len()])
}

/// Starts member processes: each its own seed, and an instance id (used when static).
struct Processes {
    setup: Setup,
    seed: u64,
    instances: Vec<u64>,
}

impl Processes {
    fn start(&mut self, sim: &mut GroupSim, instance: Option<u64>) {
        self.seed += 1;
        let instance = instance.unwrap_or(self.seed);
        let mut c = Consumer::new(config(self.setup, self.seed, instance));
        // A fixed, valid topic name: subscribing cannot fail.
        let _ = c.subscribe(sim.now, [TOPIC]);
        sim.add(c);
        self.instances.push(instance);
    }
}

fn play(schedule: &Schedule, trace: bool, slot: &mut Option<GroupSim>) -> Vec<Violation> {
    let setup = schedule.setup;
    let mut cluster = Cluster::new(3, schedule.seed);
    cluster.create_topic(TOPIC, PARTITIONS);
    let mut sim = GroupSim::new(cluster, GROUP);
    if setup.protocol == Protocol::Consumer {
        sim = sim.with_consumer_protocol(Duration::from_secs(6));
    }
    sim.strict = false;
    sim.check_order = true;
    sim.trace = trace.then(Vec::new);
    sim.latency = Duration::from_millis(setup.latency);
    sim.cluster.faults = schedule.faults.clone();
    *slot = Some(sim);
    let Some(sim) = slot.as_mut() else {
        return Vec::new();
    };
    let append = |sim: &mut GroupSim, n: usize| {
        for p in 0..PARTITIONS {
            sim.cluster.append(TOPIC, p, n, Compression::None, None);
        }
    };
    let latency = Duration::from_millis(setup.latency);
    let mut writers = [
        Writer::new(TOPIC, PARTITIONS, latency, schedule.seed ^ 0x7772_6974),
        Writer::transactional(TOPIC, PARTITIONS, latency, schedule.seed ^ 0x7478),
    ];
    append(sim, 10);
    let mut processes = Processes {
        setup,
        seed: schedule.seed.wrapping_mul(1000),
        instances: Vec::new(),
    };
    processes.start(sim, None);
    let mut crashed: Vec<Member> = Vec::new();
    let mut commands = Commands::default();
    for op in &schedule.ops {
        match *op {
            Op::Wait(t) => run_for(sim, &mut writers, Duration::from_millis(u64::from(t) * 100)),
            Op::Start => processes.start(sim, None),
            Op::Restart(n) => {
                if let Some(slot) = pick(sim, n) {
                    crashed.extend(sim.crash(slot));
                    let instance = processes.instances[slot];
                    processes.start(sim, Some(instance));
                }
            }
            Op::Close(n) => {
                if let Some(slot) = pick(sim, n) {
                    commands.close(sim, slot);
                }
            }
            Op::Crash(n) => {
                if let Some(slot) = pick(sim, n) {
                    crashed.extend(sim.crash(slot));
                }
            }
            Op::Stall(n, secs) => {
                if let Some(slot) = pick(sim, n) {
                    sim.member(slot).polling = false;
                    run_for(sim, &mut writers, Duration::from_secs(u64::from(secs)));
                    if let Some(m) = sim.members[slot].as_mut() {
                        m.polling = true;
                    }
                }
            }
            Op::Resubscribe(n, secs) => {
                if let Some(slot) = pick(sim, n) {
                    let now = sim.now;
                    sim.member(slot).consumer.unsubscribe(now);
                    run_for(sim, &mut writers, Duration::from_secs(u64::from(secs)));
                    let now = sim.now;
                    if let Some(m) = sim.members[slot].as_mut() {
                        if !m.consumer.is_closed() {
                            let _ = m.consumer.subscribe(now, [TOPIC]);
                        }
                    }
                }
            }
            Op::Append(n) => append(sim, usize::from(n)),
            Op::Produce(n, flush) => {
                writers[0].send(sim.now, usize::from(n));
                if flush {
                    writers[0].flush(sim.now);
                }
            }
            Op::Transaction(n, commit) => writers[1].transaction(usize::from(n), commit),
            Op::Ask(n, kind) => {
                if let Some(slot) = pick(sim, n) {
                    commands.ask(sim, slot, kind, TOPIC, PARTITIONS);
                }
            }
            Op::MoveLeader(p) => sim.cluster.move_leader(TOPIC, p as i32 % PARTITIONS),
            Op::MoveCoordinator => sim.cluster.move_coordinator(),
            Op::BrokerDown(n, secs) => {
                let broker = sim.cluster.brokers[n % sim.cluster.brokers.len()];
                sim.broker_down(broker);
                run_for(sim, &mut writers, Duration::from_secs(u64::from(secs)));
                sim.broker_up(broker);
            }
        }
        run_for(sim, &mut writers, Duration::from_millis(10));
    }
    // The faults stop; the producer drains: every command it was given gets its outcome.
    sim.cluster.faults = Faults::none();
    writers[0].flush(sim.now);
    let answered = sim.try_run_until(Duration::from_secs(600), |s| {
        for w in writers.iter_mut() {
            w.step(&mut s.cluster, s.now);
        }
        writers.iter().all(Writer::is_answered)
    });
    let mut found = Vec::new();
    for w in &mut writers {
        found.append(&mut w.violations);
        if !answered {
            found.extend(w.unanswered());
        }
        found.extend(w.check_logs(&sim.cluster));
    }
    // The group settles and every record reaches some member.
    if running(sim).is_empty() {
        processes.start(sim, None);
    }
    let all: BTreeSet<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect();
    let total = |s: &GroupSim, tp: &TopicPartition| {
        s.cluster
            .get(tp.topic(), tp.partition())
            .map_or(0, |p| p.committed_records().len())
    };
    let done = sim.try_run_until(Duration::from_secs(600), |s| {
        let got = delivered(s, &crashed);
        s.settled(&all)
            && commands.all_answered(s)
            && got.len() == all.len()
            && got.iter().all(|(tp, o)| o.len() == total(s, tp))
    });
    if !done {
        let got = delivered(sim, &crashed);
        if !sim.settled(&all) {
            found.push(Violation::new(
                Invariant::Settles,
                format!("not settled after 600 s: {}", sim.describe()),
            ));
        }
        for tp in &all {
            let n = got.get(tp).map_or(0, BTreeSet::len);
            let total = total(sim, tp);
            if n != total {
                found.push(Violation::new(
                    Invariant::NoRecordLost,
                    format!("{tp}: {n} of {total} records ever handed out"),
                ));
            }
        }
    }
    let read: BTreeSet<u64> = everyone(sim, &crashed)
        .flat_map(|m| &m.records)
        .filter_map(|r| writers[1].number(r.value.as_ref()))
        .collect();
    found.extend(writers[1].check_reads(&read));
    found.extend(commands.check(sim, &crashed, true));
    let lost = everyone(sim, &crashed).any(|m| {
        m.events
            .iter()
            .any(|e| matches!(e, ConsumerEvent::Rebalance(GroupEvent::Lost(_))))
    });
    if setup.mode == OffsetCommitMode::Auto && crashed.is_empty() && !lost {
        for (tp, offsets) in handed_out(sim, &crashed) {
            let distinct: BTreeSet<i64> = offsets.iter().copied().collect();
            if distinct.len() != offsets.len() {
                found.push(Violation::new(
                    Invariant::NoRecordTwice,
                    format!("{tp} handed out twice: {offsets:?}"),
                ));
            }
        }
    }
    found
}

/// Runs the group and the writers side by side for `d` of virtual time.
fn run_for(sim: &mut GroupSim, writers: &mut [Writer], d: Duration) {
    let until = sim.now + d;
    sim.try_run_until(d, |s| {
        for w in writers.iter_mut() {
            w.step(&mut s.cluster, s.now);
        }
        s.now >= until
    });
}

/// Every member that ran: running, closed or crashed.
fn everyone<'a>(sim: &'a GroupSim, crashed: &'a [Member]) -> impl Iterator<Item = &'a Member> {
    sim.members
        .iter()
        .flatten()
        .chain(&sim.finished)
        .chain(crashed)
}

/// Every member's records by partition, in order of arrival.
fn handed_out(sim: &GroupSim, crashed: &[Member]) -> BTreeMap<TopicPartition, Vec<i64>> {
    let mut out: BTreeMap<TopicPartition, Vec<i64>> = BTreeMap::new();
    for m in everyone(sim, crashed) {
        for r in &m.records {
            out.entry(r.topic_partition.clone())
                .or_default()
                .push(r.offset);
        }
    }
    out
}

/// The distinct offsets handed out, by partition.
fn delivered(sim: &GroupSim, crashed: &[Member]) -> BTreeMap<TopicPartition, BTreeSet<i64>> {
    handed_out(sim, crashed)
        .into_iter()
        .map(|(tp, o)| (tp, o.into_iter().collect()))
        .collect()
}

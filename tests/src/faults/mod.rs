//! dekaf-smol clients against a real broker behind the [cluster proxy](crate::cluster_proxy),
//! under seeded random schedules of faults, or against a broker killed and started again,
//! each workload checking its invariants at the end.
//!
//! | workload | clients | faults | invariants |
//! |---|---|---|---|
//! | [`Workload::GroupManual`], [`Workload::GroupAuto`] | three consumers of one group, Manual mode (commit after each batch and on revocation) or Auto mode; half way one leaves and another joins | leaders and the group coordinator move, brokers refuse or swallow, slow answers, connections dropped after a request, all connections cut | no record lost; per partition, records come in order with no gap within an assignment and no skip ahead of what was handed out; committed offsets never go back nor beyond what was handed out, and reach the end |
//! | [`Workload::Idempotent`] | an idempotent producer | leaders move, brokers refuse or swallow, slow answers, connections dropped after a Produce was written | every record acknowledged, once, at the offset its acknowledgement gave, in send order per partition; no duplicate |
//! | [`Workload::Transactions`] (build W) | consume-transform-produce: a transactional producer and a read_committed consumer (the `exactly_once_transform` recipe); once or twice a worker crashes in an open transaction and another takes over | the above, and the transaction coordinator moving, connections dropped after EndTxn, AddPartitionsToTxn, TxnOffsetCommit... | under read_committed, each input record's transform exactly once, in order; each transaction all or nothing; the group's committed offsets never go back and end at the end of the input |
//! | [`Workload::Corruption`] | an idempotent producer and a consumer | answers damaged: record bytes flipped (CRC), frames truncated, cut, with lying lengths; then bytes flipped anywhere | no panic, no hang; never a record whose value was damaged; the consumer reconnects and ends with every record exactly as produced; the producer's invariants |
//! | [`Workload::Restart`] (build C, SQLite; no proxy) | an idempotent producer and a consumer of a group (Manual mode, commit after each batch) | the broker killed with SIGKILL after 1/5 to 4/5 of the records were read, down 0.5 to 5 s, started again on the same port and database: once (short), one to three times (soak) | the clients recover by themselves; the producer's invariants; the consumer reads every record of the log; committed offsets survive each restart (never below what was committed before the kill) and reach the end; recovery times noted |
//!
//! Each workload is one function of [`run`], so that `cargo test` runs it briefly with one
//! seed (`tests/faults_*.rs`) and `cargo xtask soak` runs it again and again with new seeds.
//! A run returns a [`Report`]: what was injected, what was checked, what broke.
//!
//! Waits are on conditions with generous deadlines, never on fixed sleeps; the only sleeps
//! pace the fault schedule and the writers, and keep a killed broker down for its seeded
//! while.

mod committed;
mod corruption;
mod group;
mod journal;
mod producer;
mod restart;
pub mod schedule;
mod transactions;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dekaf_smol::{
    Admin, AutoOffsetReset, Consumer, ConsumerRecord, IsolationLevel, NewTopic, OffsetCommitMode,
    TopicPartition,
};

use crate::cluster_proxy::{ClusterProxy, Stats};
use crate::{Build, Engine};

/// How many brokers the proxy pretends to be.
pub const BROKERS: usize = 3;

/// How long a workload waits for anything (a convergence, a close) before it calls it a hang.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// One workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// Three consumers of one group, Manual mode.
    GroupManual,
    /// Three consumers of one group, Auto mode.
    GroupAuto,
    /// An idempotent producer.
    Idempotent,
    /// Consume-transform-produce in transactions (build W only).
    Transactions,
    /// A producer and a consumer reading damaged answers.
    Corruption,
    /// A producer and a consumer of a group while the broker is killed and started again
    /// (build C only: its SQLite engine keeps the data).
    Restart,
}

impl Workload {
    /// Every workload.
    pub const ALL: [Workload; 6] = [
        Workload::GroupManual,
        Workload::GroupAuto,
        Workload::Idempotent,
        Workload::Transactions,
        Workload::Corruption,
        Workload::Restart,
    ];

    /// The name `cargo xtask soak --workload` takes.
    pub fn name(self) -> &'static str {
        match self {
            Workload::GroupManual => "group-manual",
            Workload::GroupAuto => "group-auto",
            Workload::Idempotent => "idempotent",
            Workload::Transactions => "transactions",
            Workload::Corruption => "corruption",
            Workload::Restart => "restart",
        }
    }

    /// The workload of that name.
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The builds it runs on: build C has no transactions; only build C keeps its data
    /// across a restart (SQLite).
    pub fn builds(self) -> &'static [Build] {
        match self {
            Workload::Transactions => &[Build::W],
            Workload::Restart => &[Build::C],
            _ => &[Build::W, Build::C],
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How long and how much a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Length {
    /// How long faults are injected while the clients work.
    pub faults_for: Duration,
    /// How many records the workload writes (spread over its partitions).
    pub records: usize,
}

impl Length {
    /// A few seconds of faults: `cargo test`.
    pub const SHORT: Length = Length {
        faults_for: Duration::from_secs(6),
        records: 600,
    };

    /// Longer runs for the soak.
    pub const SOAK: Length = Length {
        faults_for: Duration::from_secs(15),
        records: 1500,
    };
}

/// What one run injected, checked and found.
#[derive(Debug, Clone)]
pub struct Report {
    /// The workload.
    pub workload: Workload,
    /// The broker build.
    pub build: Build,
    /// The seed of the proxy's layout and of the fault schedule.
    pub seed: u64,
    /// How long the run took.
    pub elapsed: Duration,
    /// The faults injected, in order, with their times.
    pub injected: Vec<String>,
    /// The proxy's counts (refusals made up, connections dropped, answers damaged, ...), or,
    /// without a proxy, the counts of what was done to the broker (kills, restarts).
    pub stats: Stats,
    /// The invariants checked, each with what it covered.
    pub checked: Vec<String>,
    /// What the clients went through (errors they reported, restarts), for the record.
    pub notes: Vec<String>,
    /// Broken invariants; empty when the run passed.
    pub violations: Vec<String>,
}

impl Report {
    fn new(workload: Workload, build: Build, seed: u64) -> Report {
        Report {
            workload,
            build,
            seed,
            elapsed: Duration::ZERO,
            injected: Vec::new(),
            stats: Stats::default(),
            checked: Vec::new(),
            notes: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// Whether every invariant held.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// Records a broken invariant.
    pub fn violation(&mut self, what: impl Into<String>) {
        self.violations.push(what.into());
    }

    /// Records an invariant that was checked (whether it held is in `violations`).
    pub fn checked(&mut self, what: impl Into<String>) {
        self.checked.push(what.into());
    }

    /// Records something worth knowing about the run.
    pub fn note(&mut self, what: impl Into<String>) {
        self.notes.push(what.into());
    }

    /// Records a fault injected `at` into the run, in the form of the proxy's log.
    pub fn injected_at(&mut self, at: Duration, what: impl Into<String>) {
        self.injected
            .push(format!("{:7.3}s {}", at.as_secs_f64(), what.into()));
    }

    /// The command that runs this workload again with this seed.
    pub fn reproduce(&self) -> String {
        let build = match self.build {
            Build::W => "W",
            Build::C => "C",
        };
        format!(
            "cargo xtask soak --workload {} --build {build} --seed {}",
            self.workload, self.seed
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "passed" } else { "FAILED" };
        writeln!(
            f,
            "{} on {}, seed {}: {verdict} in {:.1} s",
            self.workload,
            self.build,
            self.seed,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "  injected ({}):", self.injected.len())?;
        for i in &self.injected {
            writeln!(f, "    {i}")?;
        }
        if self.stats.traffic().0.is_empty() {
            // No proxy: the counts are of what was done to the broker.
            writeln!(f, "  did: {}", self.stats)?;
        } else {
            writeln!(f, "  proxy did: {}", self.stats.injected())?;
            writeln!(f, "  proxy traffic: {}", self.stats.traffic())?;
        }
        writeln!(f, "  checked:")?;
        for c in &self.checked {
            writeln!(f, "    {c}")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        for v in &self.violations {
            writeln!(f, "  VIOLATION: {v}")?;
        }
        if !self.passed() {
            writeln!(f, "  reproduce: {}", self.reproduce())?;
        }
        Ok(())
    }
}

/// What a workload has to work with.
pub(crate) struct Setup {
    pub(crate) proxy: Arc<ClusterProxy>,
    /// The real broker's address, for setup and for reading the truth afterwards.
    pub(crate) direct: String,
    pub(crate) seed: u64,
    pub(crate) length: Length,
}

/// Runs `workload` on a fresh broker of `build` behind a fresh proxy, with `seed` (the
/// restart workload on a broker of its own, without a proxy). `None` when the build is not
/// installed (outside CI).
pub fn run(workload: Workload, build: Build, seed: u64, length: Length) -> Option<Report> {
    watch_panics();
    let panics_before = panics();
    let started = Instant::now();
    if workload == Workload::Restart {
        let mut report = Report::new(workload, build, seed);
        if build == Build::C {
            restart::run(seed, length, &mut report)?;
        } else {
            report.violation(format!(
                "the restart workload runs on build C (SQLite) only, not on {build}"
            ));
        }
        count_panics(&mut report, panics_before);
        report.elapsed = started.elapsed();
        return Some(report);
    }
    let (broker, proxy) = ClusterProxy::start_with_broker(build, Engine::Memory, BROKERS, seed)?;
    let setup = Setup {
        proxy: Arc::new(proxy),
        direct: broker.addr().to_string(),
        seed,
        length,
    };
    let mut report = Report::new(workload, build, seed);
    smol::block_on(async {
        match workload {
            Workload::GroupManual => {
                group::run(&setup, OffsetCommitMode::Manual, &mut report).await
            }
            Workload::GroupAuto => group::run(&setup, OffsetCommitMode::Auto, &mut report).await,
            Workload::Idempotent => producer::run(&setup, &mut report).await,
            Workload::Transactions => transactions::run(&setup, &mut report).await,
            Workload::Corruption => corruption::run(&setup, &mut report).await,
            // Run above, without a proxy.
            Workload::Restart => {}
        }
    });
    count_panics(&mut report, panics_before);
    report.injected = setup.proxy.log();
    report.stats = setup.proxy.stats();
    report.elapsed = started.elapsed();
    if !report.passed() {
        report.note(format!("broker log:\n{}", tail(&broker.log(), 4000)));
    }
    drop(setup);
    drop(broker);
    Some(report)
}

/// Checks that no thread panicked since the count was `before`.
fn count_panics(report: &mut Report, before: usize) {
    let panicked = panics() - before;
    report.checked(format!("no panic in any thread ({panicked} seen)"));
    if panicked > 0 {
        report.violation(format!("{panicked} thread(s) panicked during the run"));
    }
}

fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    &text[start..]
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic of the process from now on (the previous hook still runs).
fn watch_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

fn panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// The seed for a test: `DEKAF_FAULTS_SEED` when set (to repeat a run), else a fresh one.
pub fn seed_from_env() -> u64 {
    std::env::var("DEKAF_FAULTS_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(crate::rng::Rng::fresh_seed)
}

/// A name no other run uses.
pub(crate) fn unique(prefix: &str) -> String {
    crate::ops::unique_name(prefix)
}

/// `future`'s output, or `None` if it takes longer than `limit`.
pub(crate) async fn within<T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    let timer = async {
        smol::Timer::after(limit).await;
        None
    };
    smol::future::or(async { Some(future.await) }, timer).await
}

/// Waits until `done` holds, asking every 50 ms; false if it did not within `limit`.
pub(crate) async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        smol::Timer::after(Duration::from_millis(50)).await;
    }
}

/// Up to `max` records, or none if none came within `wait` (errors are returned).
pub(crate) async fn recv_for(
    consumer: &Consumer,
    max: usize,
    wait: Duration,
) -> Result<Vec<ConsumerRecord>, dekaf_smol::Error> {
    within(wait, consumer.recv_batch(max))
        .await
        .unwrap_or(Ok(Vec::new()))
}

/// Creates `topic` with `partitions` partitions at `bootstrap`.
pub(crate) async fn create_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<(), String> {
    let admin = Admin::connect(bootstrap)
        .await
        .map_err(|e| format!("connect to create {topic}: {e}"))?;
    admin
        .create_topic(NewTopic::new(topic, partitions).replication_factor(1))
        .await
        .map_err(|e| format!("create {topic}: {e}"))
}

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) offset: i64,
    pub(crate) value: Bytes,
    /// The value of the header `txn`, if any.
    pub(crate) txn: Option<String>,
}

/// Every record of `topic` as `isolation` sees it, per partition in offset order, read at
/// `bootstrap` by a consumer of no group until each partition is at its end.
pub(crate) async fn read_log(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    isolation: IsolationLevel,
) -> Result<BTreeMap<i32, Vec<Stored>>, String> {
    let consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .isolation_level(isolation)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .build()
        .await
        .map_err(|e| format!("reader: {e}"))?;
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    consumer
        .assign(tps.clone())
        .map_err(|e| format!("reader: {e}"))?;
    let mut out: BTreeMap<i32, Vec<Stored>> = BTreeMap::new();
    let deadline = Instant::now() + PATIENCE;
    while !tps.iter().all(|tp| consumer.lag(tp) == Some(0)) {
        if Instant::now() >= deadline {
            return Err(format!("reading {topic} to its end took over {PATIENCE:?}"));
        }
        let batch = recv_for(&consumer, 1000, Duration::from_millis(200))
            .await
            .map_err(|e| format!("reading {topic}: {e}"))?;
        for r in batch {
            out.entry(r.partition()).or_default().push(Stored {
                offset: r.offset(),
                value: r.value_bytes().cloned().unwrap_or_default(),
                txn: r
                    .header("txn")
                    .flatten()
                    .map(|v| String::from_utf8_lossy(v).into_owned()),
            });
        }
    }
    let _ = within(Duration::from_secs(30), consumer.close()).await;
    Ok(out)
}

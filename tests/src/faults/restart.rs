//! A broker killed with SIGKILL while an idempotent producer writes and a consumer group
//! reads, then started again on the same port and database (tansu build C, SQLite, so that
//! the data survive): once in the short form, one to three times in the soak, each kill
//! after a seeded fraction (1/5 to 4/5) of the records were read, the broker down for a
//! seeded while (0.5 to 5 s). There is no proxy: the broker itself goes away.
//!
//! The clients recover by themselves (nobody rebuilds them); the producer's promises hold
//! (every record acknowledged, once, at the offset acknowledged, in send order per
//! partition); the consumer reads every record of the log; the group's committed offsets
//! survive each restart (never below what was committed before the kill) and end at the end
//! of the log. The time the clients took to write and read again after each restart is
//! noted.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dekaf_smol::{
    AutoOffsetReset, Consumer, Error, IsolationLevel, OffsetCommitMode, Producer, ProducerRecord,
    RecordMetadata, TopicPartition,
};

use super::journal::error_kind;
use super::producer::{check_numbered, PARTITIONS};
use super::{
    create_topic, read_log, recv_for, tail, unique, until, within, Length, Report, PATIENCE,
};
use crate::broker::{temp_dir, StartError};
use crate::rng::Rng;
use crate::{Broker, Build, Engine};

/// How long the clients may take to be back once the broker is.
const RECOVERY: Duration = Duration::from_secs(90);

/// What the seed chose.
#[derive(Debug)]
struct Plan {
    records: usize,
    /// How long the writer spreads its records over.
    write_over: Duration,
    kills: Vec<Kill>,
}

/// One kill: once `after_read` records were read, the broker is killed and stays down for
/// `down`.
#[derive(Debug)]
struct Kill {
    after_read: usize,
    down: Duration,
}

impl Plan {
    /// Five times the length's records (3,000 in the short form); one kill in the short
    /// form, one to three in the others.
    fn new(seed: u64, length: Length) -> Plan {
        let mut rng = Rng::new(seed);
        let records = length.records * 5;
        let n = if length == Length::SHORT {
            1
        } else {
            rng.between(1, 3) as usize
        };
        let mut at: Vec<usize> = (0..n)
            .map(|_| records * rng.between(200, 800) as usize / 1000)
            .collect();
        at.sort_unstable();
        let kills = at
            .into_iter()
            .map(|after_read| Kill {
                after_read,
                down: Duration::from_millis(rng.between(500, 5000)),
            })
            .collect();
        Plan {
            records,
            write_over: length.faults_for,
            kills,
        }
    }
}

/// One record sent: its number, when its outcome came, the outcome.
type Outcome = (usize, Instant, Result<RecordMetadata, Error>);

/// What the group's consumer read.
#[derive(Default)]
struct Seen {
    /// (partition, offset) -> value.
    by_offset: BTreeMap<(i32, i64), Bytes>,
    /// When each non-empty batch came.
    batches: Vec<Instant>,
    /// A record read twice with different values.
    conflicts: Vec<String>,
    /// Errors from `recv_batch` and `commit`, by kind.
    errors: BTreeMap<String, u32>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the workload on a broker of its own. `None` when build C is not installed (outside
/// CI).
pub(crate) fn run(seed: u64, length: Length, report: &mut Report) -> Option<()> {
    let started = Instant::now();
    let plan = Plan::new(seed, length);
    report.note(format!(
        "plan: {} records over {:.0} s; {} kill(s): {}",
        plan.records,
        plan.write_over.as_secs_f64(),
        plan.kills.len(),
        plan.kills
            .iter()
            .map(|k| format!(
                "after {} read, down {:.1} s",
                k.after_read,
                k.down.as_secs_f64()
            ))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    let dir = temp_dir("faults-restart");
    let Some(first) = Broker::start(Build::C, Engine::Sqlite(dir.clone())) else {
        let _ = std::fs::remove_dir_all(&dir);
        return None;
    };
    let mut broker = Some(first);
    smol::block_on(scenario(&plan, &dir, &mut broker, started, report));
    if report.passed() {
        drop(broker);
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        if let Some(b) = &broker {
            report.note(format!("broker log:\n{}", tail(&b.log(), 4000)));
        }
        report.note(format!("database kept in {}", dir.display()));
    }
    Some(())
}

async fn scenario(
    plan: &Plan,
    dir: &Path,
    broker: &mut Option<Broker>,
    started: Instant,
    report: &mut Report,
) {
    let Some(addr) = broker.as_ref().map(Broker::addr) else {
        return;
    };
    let since = |t: Instant| t.duration_since(started);
    let bootstrap = addr.to_string();
    let (topic, group) = (unique("faults-restart"), unique("faults-restart-group"));
    if let Err(e) = create_topic(&bootstrap, &topic, PARTITIONS).await {
        return report.violation(format!("setup: {e}"));
    }
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    let producer = match Producer::builder()
        .bootstrap_servers(&bootstrap)
        .request_timeout(Duration::from_secs(10))
        .delivery_timeout(PATIENCE)
        .build()
        .await
    {
        Ok(p) => Arc::new(p),
        Err(e) => return report.violation(format!("setup: producer: {e}")),
    };
    let consumer = match Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(group.as_str())
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .build()
        .await
    {
        Ok(c) => Arc::new(c),
        Err(e) => return report.violation(format!("setup: consumer: {e}")),
    };
    if let Err(e) = consumer.subscribe([topic.as_str()]) {
        return report.violation(format!("setup: subscribe: {e}"));
    }

    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let writer = smol::spawn(write(
        producer.clone(),
        topic.clone(),
        plan.records,
        plan.write_over,
        outcomes.clone(),
    ));
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let commits: Arc<Mutex<BTreeMap<i32, i64>>> = Arc::default();
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let reader = smol::spawn(read(
        consumer.clone(),
        seen.clone(),
        commits.clone(),
        stopped,
    ));

    // The kills.
    let mut restarts: Vec<Instant> = Vec::new();
    let mut committed_before: BTreeMap<i32, i64> = BTreeMap::new();
    for (n, kill) in (1..).zip(&plan.kills) {
        // Enough read and, after a restart, the consumer reading again (or done).
        let last_restart = restarts.last().copied();
        let ready = until(PATIENCE, || {
            let s = lock(&seen);
            let read = s.by_offset.len();
            read >= kill.after_read
                && (read >= plan.records
                    || last_restart.is_none_or(|r| s.batches.last().is_some_and(|t| *t > r)))
        })
        .await;
        if !ready {
            return report.violation(format!(
                "kill {n}: waited {PATIENCE:?} for {} records read and the consumer reading \
                 again; {} read",
                kill.after_read,
                lock(&seen).by_offset.len()
            ));
        }
        let before = lock(&commits).clone();
        let read = lock(&seen).by_offset.len();
        let acked = lock(&outcomes).iter().filter(|o| o.2.is_ok()).count();
        if let Some(b) = broker.take() {
            b.kill();
        }
        let killed = Instant::now();
        report.stats.bump("broker killed (SIGKILL)");
        report.injected_at(
            since(killed),
            format!(
                "kill {n}: SIGKILL the broker, {read} of {} records read, {acked} acknowledged, \
                 commits {before:?}",
                plan.records
            ),
        );
        smol::Timer::after(kill.down).await;
        match start_again(dir, addr).await {
            Ok(b) => *broker = Some(b),
            Err(e) => {
                return report.violation(format!(
                    "kill {n}: the broker did not start again on {addr}: {e}"
                ))
            }
        }
        let restarted = Instant::now();
        report.stats.bump("broker restarted");
        report.injected_at(
            since(restarted),
            format!(
                "restart {n}: the broker again on {addr}, same database, {:.1} s after the kill",
                restarted.duration_since(killed).as_secs_f64()
            ),
        );
        restarts.push(restarted);
        commits_survived(&consumer, &tps, &before, n, report).await;
        for (p, o) in before {
            let at = committed_before.entry(p).or_default();
            *at = (*at).max(o);
        }
    }

    // The writer ends by itself: each delivery settles within PATIENCE.
    if within(PATIENCE + RECOVERY, writer).await.is_none() {
        return report.violation(format!(
            "the writer did not finish within {:?}",
            PATIENCE + RECOVERY
        ));
    }
    match within(PATIENCE, producer.flush()).await {
        Some(Ok(())) => {}
        Some(Err(e)) => report.note(format!("flush: {e}")),
        None => report.violation(format!("flush() hung for {PATIENCE:?}")),
    }
    let mut outcomes = std::mem::take(&mut *lock(&outcomes));
    outcomes.sort_by_key(|o| o.0);

    // The first write acknowledged after each restart, for the recovery times.
    let first_writes: Vec<Option<Instant>> = restarts
        .iter()
        .map(|r| {
            outcomes
                .iter()
                .filter(|o| o.2.is_ok() && o.1 > *r)
                .map(|o| o.1)
                .min()
        })
        .collect();

    // The producer's promises, against the log.
    let log = match read_log(
        &bootstrap,
        &topic,
        PARTITIONS,
        IsolationLevel::ReadUncommitted,
    )
    .await
    {
        Ok(log) => log,
        Err(e) => return report.violation(format!("reading the log back: {e}")),
    };
    let plain: Vec<(usize, Result<RecordMetadata, Error>)> =
        outcomes.into_iter().map(|(i, _, o)| (i, o)).collect();
    check_numbered(report, &plain, &log, true);

    // The consumer reads the whole log by itself, each record as it is in the log.
    let everything: BTreeMap<(i32, i64), Bytes> = log
        .iter()
        .flat_map(|(p, records)| records.iter().map(|s| ((*p, s.offset), s.value.clone())))
        .collect();
    let caught_up = until(RECOVERY, || {
        let s = lock(&seen);
        everything.keys().all(|k| s.by_offset.contains_key(k))
    })
    .await;
    report.checked(format!(
        "the group's consumer read every record of the log by itself ({} records, {} \
         restart(s))",
        everything.len(),
        restarts.len()
    ));
    // Recovery times: the first write and the first read after each restart.
    for ((n, r), first_write) in (1..).zip(&restarts).zip(first_writes) {
        let first_read = lock(&seen).batches.iter().copied().find(|t| t > r);
        let secs = |t: Option<Instant>, none: &str| {
            t.map_or(none.to_string(), |t| {
                format!("{:.1} s after", t.duration_since(*r).as_secs_f64())
            })
        };
        report.note(format!(
            "restart {n}: first write acknowledged {}, first record read {}",
            secs(first_write, "never (all acknowledged before)"),
            secs(first_read, "never (all read before)")
        ));
    }
    if caught_up {
        let last = lock(&seen).batches.last().copied();
        if let (Some(last), Some(r)) = (last, restarts.last()) {
            report.note(format!(
                "consumer: read all {} records; last read {:.1} s after the last restart",
                everything.len(),
                last.saturating_duration_since(*r).as_secs_f64()
            ));
        }
    } else {
        let s = lock(&seen);
        let missing: Vec<String> = everything
            .keys()
            .filter(|k| !s.by_offset.contains_key(k))
            .map(|(p, o)| format!("{p}@{o}"))
            .collect();
        report.violation(format!(
            "the consumer did not read {} records within {RECOVERY:?} of the end: {:?}",
            missing.len(),
            &missing[..missing.len().min(20)]
        ));
    }
    {
        let s = lock(&seen);
        let wrong: Vec<String> = s
            .by_offset
            .iter()
            .filter(|(k, v)| everything.get(k) != Some(v))
            .map(|((p, o), v)| format!("{p}@{o}: {}", String::from_utf8_lossy(v)))
            .take(20)
            .collect();
        report.checked(
            "each record the consumer read is the log's record at that offset, however often \
             it was read",
        );
        if !wrong.is_empty() {
            report.violation(format!("read but not so in the log: {wrong:?}"));
        }
        if !s.conflicts.is_empty() {
            report.violation(format!(
                "read twice with different values: {:?}",
                &s.conflicts[..s.conflicts.len().min(20)]
            ));
        }
        if !s.errors.is_empty() {
            report.note(format!("consumer errors: {:?}", s.errors));
        }
    }
    let _ = stop.try_send(());
    if within(Duration::from_secs(30), reader).await.is_none() {
        report.violation("the reader did not stop within 30 s");
    }

    // The group's commits survived every restart and reach the end of the log.
    let ends: BTreeMap<i32, i64> = (0..PARTITIONS)
        .map(|p| {
            let end = log
                .get(&p)
                .and_then(|r| r.last())
                .map_or(0, |s| s.offset + 1);
            (p, end)
        })
        .collect();
    final_commits(&consumer, &tps, &committed_before, &ends, report).await;

    match Arc::try_unwrap(consumer) {
        Ok(c) => match within(Duration::from_secs(30), c.close()).await {
            Some(Ok(())) => {}
            Some(Err(e)) => report.note(format!("consumer close: {e}")),
            None => report.violation("the consumer's close() hung for 30 s"),
        },
        Err(_) => report.violation("the consumer is still shared at the end"),
    }
    match Arc::try_unwrap(producer) {
        Ok(p) => match within(Duration::from_secs(30), p.close()).await {
            Some(Ok(())) => {}
            Some(Err(e)) => report.note(format!("producer close: {e}")),
            None => report.violation("the producer's close() hung for 30 s"),
        },
        Err(_) => report.violation("the producer is still shared at the end"),
    }
}

/// Sends records `0..n` (value `"{i}"`, partition `i % PARTITIONS`) spread over `over`,
/// keeping each outcome with when it came.
async fn write(
    producer: Arc<Producer>,
    topic: String,
    n: usize,
    over: Duration,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
) {
    let steps = (over.as_millis() / 50).max(1) as usize;
    let per_step = n.div_ceil(steps).max(1);
    let mut pending = Vec::new();
    for i in 0..n {
        let record = ProducerRecord::new(topic.as_str())
            .partition((i % PARTITIONS as usize) as i32)
            .value(format!("{i}"));
        match producer.send(record).buffered().await {
            Ok(delivery) => {
                let outcomes = outcomes.clone();
                pending.push(smol::spawn(async move {
                    let outcome = match within(PATIENCE, delivery.into_future()).await {
                        Some(outcome) => outcome,
                        None => Err(Error::Config(format!(
                            "delivery of record {i} not settled within {PATIENCE:?}"
                        ))),
                    };
                    lock(&outcomes).push((i, Instant::now(), outcome));
                }));
            }
            Err(e) => lock(&outcomes).push((i, Instant::now(), Err(e))),
        }
        if i % per_step == per_step - 1 {
            smol::Timer::after(Duration::from_millis(50)).await;
        }
    }
    for p in pending {
        p.await;
    }
}

/// Reads records as they come and commits after each batch (a commit refused while the
/// broker is away is made good by the next), until told to stop; `commits` holds, per
/// partition, the offsets whose commit was acknowledged.
async fn read(
    consumer: Arc<Consumer>,
    seen: Arc<Mutex<Seen>>,
    commits: Arc<Mutex<BTreeMap<i32, i64>>>,
    stopped: async_channel::Receiver<()>,
) {
    while stopped.try_recv().is_err() {
        let batch = match recv_for(&consumer, 500, Duration::from_millis(200)).await {
            Ok(batch) => batch,
            Err(e) => {
                *lock(&seen).errors.entry(error_kind(&e)).or_default() += 1;
                smol::Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        if batch.is_empty() {
            continue;
        }
        {
            let mut s = lock(&seen);
            for r in &batch {
                let value = r.value_bytes().cloned().unwrap_or_default();
                let key = (r.partition(), r.offset());
                if let Some(before) = s.by_offset.insert(key, value.clone()) {
                    if before != value {
                        let c = format!(
                            "{}@{}: {} then {}",
                            key.0,
                            key.1,
                            String::from_utf8_lossy(&before),
                            String::from_utf8_lossy(&value)
                        );
                        s.conflicts.push(c);
                    }
                }
            }
            s.batches.push(Instant::now());
        }
        match consumer.commit().await {
            Ok(()) => {
                let mut c = lock(&commits);
                for r in &batch {
                    let next = c.entry(r.partition()).or_default();
                    *next = (*next).max(r.offset() + 1);
                }
            }
            Err(e) => {
                *lock(&seen)
                    .errors
                    .entry(format!("commit: {}", error_kind(&e)))
                    .or_default() += 1;
            }
        }
    }
}

/// Starts build C again on `addr` with the database in `dir`, trying again while the port or
/// the database is not free yet.
async fn start_again(dir: &Path, addr: SocketAddr) -> Result<Broker, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let data = dir.to_path_buf();
        let outcome =
            smol::unblock(move || Broker::try_start_at(Build::C, Engine::Sqlite(data), addr)).await;
        match outcome {
            Ok(b) => return Ok(b),
            Err(e @ StartError::Missing { .. }) => return Err(e.to_string()),
            Err(e) if Instant::now() >= deadline => return Err(e.to_string()),
            Err(_) => {
                smol::Timer::after(Duration::from_millis(250)).await;
            }
        }
    }
}

/// Once the broker is back: the group's committed offsets are not below those acknowledged
/// before the kill (asked of the coordinator until it answers).
async fn commits_survived(
    consumer: &Consumer,
    tps: &[TopicPartition],
    before: &BTreeMap<i32, i64>,
    n: usize,
    report: &mut Report,
) {
    let deadline = Instant::now() + RECOVERY;
    let now = loop {
        let last = match within(
            Duration::from_secs(10),
            consumer.committed_many(tps.to_vec()),
        )
        .await
        {
            Some(Ok(now)) => break now,
            Some(Err(e)) => e.to_string(),
            None => "no answer within 10 s".to_string(),
        };
        if Instant::now() >= deadline {
            return report.violation(format!(
                "restart {n}: the committed offsets could not be read within {RECOVERY:?}: \
                 {last}"
            ));
        }
        smol::Timer::after(Duration::from_millis(200)).await;
    };
    let now: BTreeMap<i32, i64> = now
        .into_iter()
        .map(|(tp, c)| (tp.partition(), c.map_or(-1, |c| c.offset)))
        .collect();
    report.checked(format!(
        "restart {n}: committed offsets {now:?} not below those acknowledged before the kill \
         {before:?}"
    ));
    for (p, b) in before {
        let c = now.get(p).copied().unwrap_or(-1);
        if c < *b {
            report.violation(format!(
                "restart {n}: partition {p} committed {c}, below {b} committed before the kill"
            ));
        }
    }
}

/// At the end: the group's committed offsets, committed again until they reach the end of
/// the log, never below what was committed before the last kill.
async fn final_commits(
    consumer: &Consumer,
    tps: &[TopicPartition],
    before: &BTreeMap<i32, i64>,
    ends: &BTreeMap<i32, i64>,
    report: &mut Report,
) {
    report.checked(format!(
        "the group's committed offsets never below those before a kill, and at the end of the \
         log {ends:?} in the end"
    ));
    let deadline = Instant::now() + RECOVERY;
    let mut below = Vec::new();
    loop {
        let last = match within(
            Duration::from_secs(10),
            consumer.committed_many(tps.to_vec()),
        )
        .await
        {
            Some(Ok(now)) => {
                let now: BTreeMap<i32, i64> = now
                    .into_iter()
                    .map(|(tp, c)| (tp.partition(), c.map_or(-1, |c| c.offset)))
                    .collect();
                for (p, b) in before {
                    let c = now.get(p).copied().unwrap_or(-1);
                    if c < *b {
                        below.push(format!("partition {p}: {c} < {b}"));
                    }
                }
                if ends
                    .iter()
                    .all(|(p, e)| now.get(p).copied().unwrap_or(-1) >= *e)
                {
                    break;
                }
                match consumer.commit().await {
                    Ok(()) => format!("committed {now:?}"),
                    Err(e) => format!("committed {now:?}; commit: {e}"),
                }
            }
            Some(Err(e)) => e.to_string(),
            None => "no answer within 10 s".to_string(),
        };
        if Instant::now() >= deadline {
            report.violation(format!(
                "the committed offsets did not reach the end of the log {ends:?} within \
                 {RECOVERY:?}: {last}"
            ));
            break;
        }
        smol::Timer::after(Duration::from_millis(200)).await;
    }
    if !below.is_empty() {
        below.dedup();
        below.truncate(20);
        report.violation(format!(
            "committed offsets below those committed before a kill: {below:?}"
        ));
    }
}

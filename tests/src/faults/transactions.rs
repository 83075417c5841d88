//! Consume-transform-produce in transactions (dekaf-smol's `exactly_once_transform`
//! recipe) while leaders, the group coordinator and the transaction coordinator move,
//! brokers go down or slow, and connections drop after EndTxn, AddPartitionsToTxn,
//! TxnOffsetCommit and the like were written. Each output record carries its transaction's
//! tag in a header, so that a reader can tell whether a transaction is visible whole.
//!
//! The worker follows the documented rules: an abortable error aborts the transaction and
//! rewinds to the last committed offsets; an operation that ran out of `max_block` is called
//! again; a fatal error (fenced, ...) ends the worker, and a new one (same transactional id)
//! takes over from the committed offsets. Once or twice (seeded) a worker crashes in an open
//! transaction whose records are written — dropped without closing, as a killed process —
//! and the next one's `init_transactions` must abort it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dekaf_proto::ApiKey;
use dekaf_smol::{
    AutoOffsetReset, Consumer, ConsumerRecord, Error, GroupMetadata, IsolationLevel,
    OffsetCommitMode, Producer, ProducerRecord, TopicPartition, TopicPartitionOffset,
};

use super::committed::Observer;
use super::journal::error_kind;
use super::schedule::{Menu, Schedule};
use super::{create_topic, read_log, recv_for, unique, within, Report, Setup, PATIENCE};
use crate::cluster_proxy::CoordinatorKind;

const PARTITIONS: i32 = 3;
const BATCH: usize = 10;
/// Workers that may be replaced before the run counts as stuck.
const MAX_WORKERS: u32 = 30;

fn input_value(p: i32, i: i64) -> String {
    format!("rec-{p}-{i}")
}

fn transform(value: &[u8]) -> Vec<u8> {
    value.to_ascii_uppercase()
}

/// What every worker shares.
struct Work<'a> {
    setup: &'a Setup,
    input: String,
    output: String,
    group: String,
    transactional_id: String,
    /// Records per input partition.
    per_partition: i64,
    /// The time each transaction "works" while open, so that the input lasts about as long
    /// as the faults (and faults land in open transactions).
    work_time: Duration,
    /// Per transaction tag, how many records it sent.
    attempted: BTreeMap<String, usize>,
    /// Errors met, by kind.
    errors: BTreeMap<String, u32>,
    committed_txns: u32,
    aborted_txns: u32,
    /// When workers crash on purpose (earliest first), chosen by the seed.
    crashes: Vec<Instant>,
    /// The tags of the transactions left open by a crash: they must never be visible.
    crashed: Vec<String>,
}

/// How a worker ended.
enum End {
    /// All input is processed and committed.
    Done,
    /// It stopped (fatal error, or setup failed): a new worker takes over.
    Replaced(String),
    /// It crashed on purpose in an open transaction whose records were written: dropped
    /// without closing, as a killed process leaves things. A new worker takes over.
    Crashed(String),
}

/// How one transaction ended.
enum Txn {
    Committed(Vec<TopicPartitionOffset>),
    Failed(Error),
    /// The worker crashes now, the transaction open.
    Crash,
}

impl Work<'_> {
    fn error(&mut self, what: &str, e: &Error) {
        *self
            .errors
            .entry(format!("{what}: {}", error_kind(e)))
            .or_default() += 1;
    }

    fn tps(&self) -> Vec<TopicPartition> {
        (0..PARTITIONS)
            .map(|p| TopicPartition::new(self.input.as_str(), p))
            .collect()
    }

    /// Calls a transaction operation again while it only ran out of `max_block`.
    async fn patiently<F, Fut>(&mut self, what: &str, mut op: F) -> Result<(), Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), Error>>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match op().await {
                Err(e @ Error::TransactionTimeout { .. }) if Instant::now() < deadline => {
                    self.error(what, &e);
                }
                other => return other,
            }
        }
    }

    async fn worker(&mut self, generation: u32) -> End {
        let bootstrap = self.setup.proxy.bootstrap();
        let producer = match Producer::builder()
            .bootstrap_servers(&bootstrap)
            .transactional_id(&self.transactional_id)
            .request_timeout(Duration::from_secs(10))
            .max_block(Duration::from_secs(20))
            .build()
            .await
        {
            Ok(p) => p,
            Err(e) => return End::Replaced(format!("producer: {e}")),
        };
        if let Err(e) = self
            .patiently("init_transactions", || producer.init_transactions())
            .await
        {
            self.error("init_transactions", &e);
            let _ = within(Duration::from_secs(30), producer.close()).await;
            return End::Replaced(format!("init_transactions: {e}"));
        }
        let consumer = match Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .group_id(self.group.as_str())
            .offset_commit_mode(OffsetCommitMode::Manual)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .request_timeout(Duration::from_secs(10))
            .metadata_max_age(Duration::from_secs(5))
            .build()
            .await
        {
            Ok(c) => c,
            Err(e) => {
                let _ = within(Duration::from_secs(30), producer.close()).await;
                return End::Replaced(format!("consumer: {e}"));
            }
        };
        let end = self.run_worker(generation, &producer, &consumer).await;
        if let End::Crashed(_) = end {
            // No close: the open transaction stays for the next worker's init to abort.
            drop(producer);
            drop(consumer);
            return end;
        }
        match within(Duration::from_secs(30), producer.close()).await {
            Some(Err(e)) => self.error("producer close", &e),
            None => self.error(
                "producer close",
                &Error::Config("close hung for 30 s".into()),
            ),
            Some(Ok(())) => {}
        }
        let _ = within(Duration::from_secs(30), consumer.close()).await;
        end
    }

    async fn run_worker(
        &mut self,
        generation: u32,
        producer: &Producer,
        consumer: &Consumer,
    ) -> End {
        let tps = self.tps();
        let committed = match within(PATIENCE, consumer.committed_many(tps.clone())).await {
            Some(Ok(c)) => c,
            Some(Err(e)) => return End::Replaced(format!("committed offsets: {e}")),
            None => return End::Replaced("committed offsets: no answer".into()),
        };
        let mut resume: BTreeMap<TopicPartition, i64> = committed
            .into_iter()
            .map(|(tp, c)| (tp, c.map_or(0, |c| c.offset)))
            .collect();
        if let Err(e) = consumer.assign(tps.clone()) {
            return End::Replaced(format!("assign: {e}"));
        }
        for (tp, offset) in &resume {
            let _ = consumer.seek(TopicPartitionOffset::at(tp.clone(), *offset));
        }
        let group = GroupMetadata::new(self.group.as_str());
        let mut seq = 0u32;
        loop {
            if resume.values().all(|o| *o >= self.per_partition) {
                return End::Done;
            }
            let batch = match recv_for(consumer, BATCH, Duration::from_millis(300)).await {
                Ok(b) => b,
                Err(e) => {
                    self.error("recv", &e);
                    continue;
                }
            };
            if batch.is_empty() {
                continue;
            }
            seq += 1;
            let tag = format!("{generation}-{seq}");
            match self.transact(producer, &batch, &tag, &group).await {
                Txn::Committed(offsets) => {
                    self.committed_txns += 1;
                    for o in offsets {
                        resume.insert(o.topic_partition, o.offset.offset);
                    }
                }
                Txn::Crash => {
                    self.crashed.push(tag.clone());
                    return End::Crashed(format!("crashed in transaction {tag}"));
                }
                Txn::Failed(e) if e.is_abortable() => {
                    self.error("transaction", &e);
                    if let Err(e) = self
                        .patiently("abort_transaction", || producer.abort_transaction())
                        .await
                    {
                        self.error("abort_transaction", &e);
                        return End::Replaced(format!("abort_transaction: {e}"));
                    }
                    self.aborted_txns += 1;
                    for (tp, offset) in &resume {
                        let _ = consumer.seek(TopicPartitionOffset::at(tp.clone(), *offset));
                    }
                }
                Txn::Failed(e) => {
                    self.error("transaction", &e);
                    return End::Replaced(format!("transaction {tag}: {e}"));
                }
            }
        }
    }

    /// One transaction: the batch's transforms, tagged, and the input offsets after it.
    async fn transact(
        &mut self,
        producer: &Producer,
        batch: &[ConsumerRecord],
        tag: &str,
        group: &GroupMetadata,
    ) -> Txn {
        match self.try_transact(producer, batch, tag, group).await {
            Ok(Some(offsets)) => Txn::Committed(offsets),
            Ok(None) => Txn::Crash,
            Err(e) => Txn::Failed(e),
        }
    }

    /// [`transact`](Self::transact), with `None` for a crash.
    async fn try_transact(
        &mut self,
        producer: &Producer,
        batch: &[ConsumerRecord],
        tag: &str,
        group: &GroupMetadata,
    ) -> Result<Option<Vec<TopicPartitionOffset>>, Error> {
        producer.begin_transaction()?;
        let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for record in batch {
            let _ = producer.send(
                ProducerRecord::new(self.output.as_str())
                    .partition(record.partition())
                    .value(transform(record.value().unwrap_or_default()))
                    .header("txn", tag.to_string()),
            );
            next.insert(
                (record.topic().to_string(), record.partition()),
                record.offset() + 1,
            );
        }
        self.attempted.insert(tag.to_string(), batch.len());
        smol::Timer::after(self.work_time).await;
        if self.crashes.first().is_some_and(|at| Instant::now() >= *at) {
            self.crashes.remove(0);
            // Crash once the transaction's records are written (or after a while).
            let _ = within(Duration::from_secs(10), producer.flush()).await;
            return Ok(None);
        }
        let offsets: Vec<TopicPartitionOffset> = next
            .into_iter()
            .map(|((topic, partition), offset)| TopicPartitionOffset::new(topic, partition, offset))
            .collect();
        self.patiently("send_offsets_to_transaction", || {
            producer.send_offsets_to_transaction(offsets.clone(), group)
        })
        .await?;
        self.patiently("commit_transaction", || producer.commit_transaction())
            .await?;
        Ok(Some(offsets))
    }
}

/// Fills each input partition with `n` records, straight to the broker.
async fn fill(bootstrap: &str, topic: &str, n: i64) -> Result<(), String> {
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .build()
        .await
        .map_err(|e| format!("filling: {e}"))?;
    let mut sent = Vec::new();
    for p in 0..PARTITIONS {
        for i in 0..n {
            let record = ProducerRecord::new(topic)
                .partition(p)
                .value(input_value(p, i));
            sent.push(
                producer
                    .send(record)
                    .buffered()
                    .await
                    .map_err(|e| format!("filling: {e}"))?,
            );
        }
    }
    for d in sent {
        d.await.map_err(|e| format!("filling: {e}"))?;
    }
    producer.close().await.map_err(|e| format!("filling: {e}"))
}

pub(crate) async fn run(setup: &Setup, report: &mut Report) {
    let per_partition = (setup.length.records as i64 / i64::from(PARTITIONS)).max(1);
    let mut work = Work {
        setup,
        input: unique("faults-txn-in"),
        output: unique("faults-txn-out"),
        group: unique("faults-txn-g"),
        transactional_id: unique("faults-txn-id"),
        per_partition,
        work_time: (setup.length.faults_for / (setup.length.records / BATCH).max(1) as u32)
            .max(Duration::from_millis(10)),
        attempted: BTreeMap::new(),
        errors: BTreeMap::new(),
        committed_txns: 0,
        aborted_txns: 0,
        crashes: Vec::new(),
        crashed: Vec::new(),
    };
    // One or two workers crash during the fault phase, at moments chosen by the seed.
    let mut rng = crate::rng::Rng::new(setup.seed ^ 0xC2A5_11ED);
    let started = Instant::now();
    let phase = setup.length.faults_for.as_millis() as u64;
    let mut crashes: Vec<Instant> = (0..rng.between(1, 2))
        .map(|_| started + Duration::from_millis(rng.between(phase / 10, phase * 9 / 10)))
        .collect();
    crashes.sort();
    work.crashes = crashes;
    for topic in [&work.input, &work.output] {
        if let Err(e) = create_topic(&setup.direct, topic, PARTITIONS).await {
            return report.violation(format!("setup: {e}"));
        }
    }
    if let Err(e) = fill(&setup.direct, &work.input, per_partition).await {
        return report.violation(format!("setup: {e}"));
    }

    let end = per_partition;
    let observer = match Observer::start(
        &setup.direct,
        &work.group,
        work.tps(),
        Box::new(move |_: &TopicPartition| end),
        setup.proxy.started(),
    )
    .await
    {
        Ok(o) => o,
        Err(e) => return report.violation(format!("setup: {e}")),
    };

    let mut menu = Menu::new(vec![
        (work.input.clone(), PARTITIONS),
        (work.output.clone(), PARTITIONS),
    ]);
    menu.coordinators = vec![
        (CoordinatorKind::Group, work.group.clone()),
        (CoordinatorKind::Transaction, work.transactional_id.clone()),
    ];
    menu.drop_after = vec![
        None,
        Some(ApiKey::EndTxn),
        Some(ApiKey::EndTxn),
        Some(ApiKey::AddPartitionsToTxn),
        Some(ApiKey::AddOffsetsToTxn),
        Some(ApiKey::TxnOffsetCommit),
        Some(ApiKey::Produce),
        Some(ApiKey::InitProducerId),
        Some(ApiKey::Fetch),
        Some(ApiKey::OffsetFetch),
    ];
    let schedule = Schedule::start(
        setup.proxy.clone(),
        menu,
        setup.seed,
        setup.length.faults_for,
    );
    let deadline = Instant::now() + setup.length.faults_for + PATIENCE;
    let mut workers = 0u32;
    let mut replaced = Vec::new();
    let finished = loop {
        workers += 1;
        let limit = deadline.saturating_duration_since(Instant::now());
        match within(limit, work.worker(workers)).await {
            Some(End::Done) => break true,
            Some(End::Replaced(why) | End::Crashed(why)) => {
                replaced.push(why);
                if workers >= MAX_WORKERS {
                    break false;
                }
            }
            None => break false,
        }
    };
    report.note(format!("schedule injected: {}", schedule.stop()));
    let observed = observer.stop().await;
    report.checked(format!(
        "the group's committed offsets never went back ({} samples)",
        observed.samples
    ));
    for v in observed.violations {
        report.violation(v);
    }
    for tp in &observed.troubled {
        report.note(format!(
            "history of {tp} (seconds since the proxy started):\n    commits:\n      {}\n    \
             committed offsets seen:\n      {}",
            setup
                .proxy
                .commits_of(tp.topic(), tp.partition())
                .join("\n      "),
            observed
                .seen
                .get(tp)
                .map(|s| s.join("\n      "))
                .unwrap_or_default()
        ));
    }
    report.note(format!(
        "{workers} worker(s); {} transactions committed, {} aborted; replaced: {replaced:?}",
        work.committed_txns, work.aborted_txns
    ));
    if !work.errors.is_empty() {
        report.note(format!("errors the worker saw: {:?}", work.errors));
    }
    report.checked(format!(
        "the workers processed all {} input records within {:?} of the faults ending",
        per_partition * i64::from(PARTITIONS),
        PATIENCE
    ));
    if !finished {
        report.violation(format!(
            "the input was not all processed ({workers} workers; last replaced because: {:?})",
            replaced.last()
        ));
    }
    check(setup, &work, report).await;
}

async fn check(setup: &Setup, work: &Work<'_>, report: &mut Report) {
    let committed = match read_log(
        &setup.direct,
        &work.output,
        PARTITIONS,
        IsolationLevel::ReadCommitted,
    )
    .await
    {
        Ok(log) => log,
        Err(e) => return report.violation(format!("reading the output: {e}")),
    };
    let everything = read_log(
        &setup.direct,
        &work.output,
        PARTITIONS,
        IsolationLevel::ReadUncommitted,
    )
    .await
    .map(|l| l.values().map(Vec::len).sum::<usize>())
    .unwrap_or(0);
    let visible: usize = committed.values().map(Vec::len).sum();
    report.checked(format!(
        "read_committed: each input record's transform exactly once, in order ({visible} \
         visible of {everything} written)"
    ));
    for p in 0..PARTITIONS {
        let want: Vec<Vec<u8>> = (0..work.per_partition)
            .map(|i| transform(input_value(p, i).as_bytes()))
            .collect();
        let got: Vec<Vec<u8>> = committed
            .get(&p)
            .map(|l| l.iter().map(|s| s.value.to_vec()).collect())
            .unwrap_or_default();
        if got != want {
            let mut count: BTreeMap<&[u8], usize> = BTreeMap::new();
            for v in &got {
                *count.entry(v.as_slice()).or_default() += 1;
            }
            let twice: Vec<String> = count
                .iter()
                .filter(|(_, n)| **n > 1)
                .map(|(v, n)| format!("{} ×{n}", String::from_utf8_lossy(v)))
                .take(10)
                .collect();
            let missing = want
                .iter()
                .filter(|v| !count.contains_key(v.as_slice()))
                .count();
            report.violation(format!(
                "output partition {p}: {} records where {} were due; duplicates {twice:?}; \
                 {missing} missing",
                got.len(),
                want.len()
            ));
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for s in committed.values().flatten() {
        *seen.entry(s.txn.clone().unwrap_or_default()).or_default() += 1;
    }
    report.checked(format!(
        "each transaction all or nothing under read_committed ({} visible transactions; the \
         {} left open by a crash invisible)",
        seen.len(),
        work.crashed.len()
    ));
    for tag in &work.crashed {
        if let Some(n) = seen.get(tag) {
            report.violation(format!(
                "transaction {tag}, left open by a crash, has {n} visible records"
            ));
        }
    }
    for (tag, n) in &seen {
        match work.attempted.get(tag) {
            Some(sent) if sent == n => {}
            Some(sent) => report.violation(format!(
                "transaction {tag}: {n} of its {sent} records visible"
            )),
            None => report.violation(format!(
                "{n} visible records of unknown transaction {tag:?}"
            )),
        }
    }
    let reader = Consumer::builder()
        .bootstrap_servers(&setup.direct)
        .group_id(work.group.as_str())
        .build()
        .await;
    report.checked("the group's committed offsets at the end of the input");
    match reader {
        Ok(reader) => {
            match within(Duration::from_secs(30), reader.committed_many(work.tps())).await {
                Some(Ok(offsets)) => {
                    for (tp, c) in offsets {
                        let offset = c.map(|c| c.offset);
                        if offset != Some(work.per_partition) {
                            report.violation(format!(
                                "{tp}: committed {offset:?}, not {}",
                                work.per_partition
                            ));
                        }
                    }
                }
                other => report.violation(format!(
                    "the committed offsets could not be read: {other:?}"
                )),
            }
            let _ = within(Duration::from_secs(30), reader.close()).await;
        }
        Err(e) => report.violation(format!("the committed offsets could not be read: {e}")),
    }
}

//! dekaf-smol's clients inside tokio runtimes, multi-thread and current-thread, against tansu:
//! with each client's driver on its thread of its own (the default) and as a tokio task (the
//! `Spawner` of the `tokio` example). Admin, producer, consume and commit (the example
//! itself), a group of two whose rebalance hooks run, and transactions committed and aborted
//! (build W, which has EndTxn). Every wait is tokio's timer with a deadline.

// The example brings its own copy of the shared helpers, as it does as a program.
#![allow(clippy::duplicate_mod)]

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/tokio.rs"]
mod tokio_example;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{unique, Result};
use dekaf_smol::{
    Admin, AutoOffsetReset, Consumer, GroupMetadata, IsolationLevel, MemberState, NewTopic,
    OffsetCommitMode, Producer, ProducerRecord, RebalanceListener, Spawner, TopicPartition,
    TopicPartitionOffset,
};
use dekaf_tests::{Broker, Build, Engine};

/// How long a test waits for any one thing (a rebalance takes a few seconds on tansu).
const WAIT: Duration = Duration::from_secs(40);

/// Which tokio runtime runs the test.
#[derive(Debug, Clone, Copy)]
enum Flavor {
    MultiThread,
    CurrentThread,
}

/// Where the clients' drivers run.
#[derive(Debug, Clone, Copy)]
enum Drivers {
    /// A thread per client (`Spawner::thread`, the default).
    Threads,
    /// A tokio task per client, on the test's runtime.
    TokioTasks,
}

fn runtime(flavor: Flavor) -> tokio::runtime::Runtime {
    let mut builder = match flavor {
        Flavor::MultiThread => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_time().build().expect("a tokio runtime")
}

/// Runs `test` on a fresh tokio runtime of `flavor` against a fresh broker of `build`
/// (skipped when it is not installed), with the clients' drivers where `drivers` says.
fn on_tokio<F, Fut>(name: &str, build: Build, flavor: Flavor, drivers: Drivers, test: F)
where
    F: FnOnce(String, Spawner) -> Fut,
    Fut: Future<Output = Result>,
{
    let Some(broker) = Broker::start(build, Engine::Memory) else {
        return;
    };
    let rt = runtime(flavor);
    let result = rt.block_on(async {
        let spawner = match drivers {
            Drivers::Threads => Spawner::thread(),
            Drivers::TokioTasks => tokio_example::tokio_spawner()?,
        };
        test(broker.addr().to_string(), spawner).await
    });
    if let Err(e) = result {
        panic!(
            "{name} ({flavor:?} runtime, drivers on {drivers:?}): {e}\n--- broker log ---\n{}",
            broker.log()
        );
    }
}

/// Fails with "timed out: `what`" unless `future` finishes within [`WAIT`].
async fn within<T>(what: &str, future: impl std::future::IntoFuture<Output = T>) -> Result<T> {
    tokio::time::timeout(WAIT, future)
        .await
        .map_err(|_| format!("timed out after {WAIT:?}: {what}").into())
}

/// Waits until `cond` holds, looking every 20 ms; fails after [`WAIT`].
async fn until(what: &str, mut cond: impl FnMut() -> bool) -> Result {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        if Instant::now() >= deadline {
            return Err(format!("timed out after {WAIT:?}: {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn create_topic(bootstrap: &str, spawner: &Spawner, topic: &str, partitions: i32) -> Result {
    let admin = Admin::builder()
        .bootstrap_servers(bootstrap)
        .spawner(spawner.clone())
        .build()
        .await?;
    within(
        "the topic to be created",
        admin.create_topic(NewTopic::new(topic, partitions).replication_factor(1)),
    )
    .await??;
    Ok(())
}

/// Writes records `first..first + n` to each of `partitions` partitions of `topic`.
async fn fill(
    bootstrap: &str,
    spawner: &Spawner,
    topic: &str,
    partitions: i32,
    first: i64,
    n: i64,
) -> Result {
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .spawner(spawner.clone())
        .build()
        .await?;
    let mut sent = Vec::new();
    for p in 0..partitions {
        for i in first..first + n {
            sent.push(
                producer.send(
                    ProducerRecord::new(topic)
                        .partition(p)
                        .value(format!("{i}")),
                ),
            );
        }
    }
    for delivery in sent {
        within("the records to be written", delivery).await??;
    }
    producer.close().await?;
    Ok(())
}

// ---- consume and commit: the example, on every runtime and with drivers on either side ----

macro_rules! the_example_on {
    ($($test:ident => $flavor:ident, $drivers:ident;)*) => {
        $(
            #[test]
            fn $test() {
                on_tokio("the tokio example", Build::W, Flavor::$flavor, Drivers::$drivers,
                    tokio_example::run);
            }
        )*
    };
}

the_example_on! {
    produce_consume_and_commit_on_a_multi_thread_runtime_with_driver_threads
        => MultiThread, Threads;
    produce_consume_and_commit_on_a_multi_thread_runtime_with_drivers_as_tokio_tasks
        => MultiThread, TokioTasks;
    produce_consume_and_commit_on_a_current_thread_runtime_with_driver_threads
        => CurrentThread, Threads;
    produce_consume_and_commit_on_a_current_thread_runtime_with_drivers_as_tokio_tasks
        => CurrentThread, TokioTasks;
}

/// Build C (the crates.io build, SQLite engine) as well, for the same program.
#[test]
fn produce_consume_and_commit_under_tokio_on_build_c() {
    let Some(broker) = Broker::start(
        Build::C,
        Engine::Sqlite(dekaf_tests::broker::temp_dir("tokio")),
    ) else {
        return;
    };
    let rt = runtime(Flavor::MultiThread);
    let result = rt.block_on(async {
        tokio_example::run(broker.addr().to_string(), tokio_example::tokio_spawner()?).await
    });
    if let Err(e) = result {
        panic!(
            "the tokio example on build C: {e}\n--- broker log ---\n{}",
            broker.log()
        );
    }
}

// ---- a group of two: the rebalance hooks run under tokio ----

/// What the hooks of one member saw, in order, and what its loop processed.
#[derive(Default)]
struct Journal {
    hooks: Vec<(&'static str, &'static str, Vec<i32>)>,
    revoke_commits_failed: Vec<String>,
    /// (partition, offset) -> member.
    processed: BTreeMap<(i32, i64), &'static str>,
    twice: Vec<String>,
}

type Shared = Arc<Mutex<Journal>>;

fn lock(j: &Shared) -> MutexGuard<'_, Journal> {
    j.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records every hook; commits what was processed before partitions are revoked.
struct Hooks {
    name: &'static str,
    journal: Shared,
}

fn numbers(partitions: &[TopicPartition]) -> Vec<i32> {
    partitions.iter().map(TopicPartition::partition).collect()
}

impl RebalanceListener for Hooks {
    async fn on_assigned(&self, _consumer: &Consumer, partitions: &[TopicPartition]) {
        lock(&self.journal)
            .hooks
            .push((self.name, "assigned", numbers(partitions)));
    }

    async fn on_revoked(&self, consumer: &Consumer, partitions: &[TopicPartition]) {
        // The commit goes through the driver while the hook's task waits for it: under tokio,
        // on whichever side the driver runs.
        let committed = consumer.commit().await;
        let mut j = lock(&self.journal);
        j.hooks.push((self.name, "revoked", numbers(partitions)));
        if let Err(e) = committed {
            j.revoke_commits_failed.push(format!("{}: {e}", self.name));
        }
    }

    async fn on_lost(&self, _consumer: &Consumer, partitions: &[TopicPartition]) {
        lock(&self.journal)
            .hooks
            .push((self.name, "lost", numbers(partitions)));
    }
}

async fn member(
    bootstrap: &str,
    spawner: &Spawner,
    group: &str,
    topic: &str,
    name: &'static str,
    journal: &Shared,
) -> Result<Arc<Consumer>> {
    let consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        // tansu holds a join for about half the session timeout: keep rebalances short.
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .rebalance_listener(Hooks {
            name,
            journal: journal.clone(),
        })
        .spawner(spawner.clone())
        .build()
        .await?;
    consumer.subscribe([topic])?;
    Ok(Arc::new(consumer))
}

/// A member's loop on a tokio task: a batch, process it, commit; until told to stop. The
/// hooks run inside `recv_batch`.
fn work(
    name: &'static str,
    consumer: Arc<Consumer>,
    journal: Shared,
) -> (async_channel::Sender<()>, tokio::task::JoinHandle<Result>) {
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let task = tokio::spawn(async move {
        loop {
            let batch = tokio::select! {
                _ = stopped.recv() => return Ok(()),
                batch = consumer.recv_batch(50) => batch?,
            };
            {
                let mut j = lock(&journal);
                for record in &batch {
                    let key = (record.partition(), record.offset());
                    if let Some(before) = j.processed.insert(key, name) {
                        j.twice.push(format!("{key:?} by {before} and {name}"));
                    }
                }
            }
            match consumer.commit().await {
                Ok(()) => {}
                // Refused by a rebalance: the revoked hook commits these offsets.
                Err(e) if e.is_rebalance() => {}
                Err(e) => return Err(e.into()),
            }
        }
    });
    (stop, task)
}

/// Whether these members are stable in one generation, holding `sizes` partitions.
fn settled(members: &[(&Consumer, usize)]) -> bool {
    let mut generations = members.iter().map(|(c, size)| {
        let stable = c.member_state() == Some(MemberState::Stable);
        (stable && c.assignment().len() == *size)
            .then(|| c.group_metadata().map(|g| g.generation_id))
            .flatten()
    });
    let first = generations.next().flatten();
    first.is_some_and(|g| g >= 0 && generations.all(|o| o == Some(g)))
}

async fn stop(
    what: &str,
    consumer: Arc<Consumer>,
    (stop, task): (async_channel::Sender<()>, tokio::task::JoinHandle<Result>),
) -> Result {
    let _ = stop.try_send(());
    within(what, task).await???;
    let consumer = Arc::try_unwrap(consumer).map_err(|_| format!("{what}: still shared"))?;
    within(what, consumer.close()).await??;
    Ok(())
}

/// Two members of one group: the first takes all four partitions, the second joins and they
/// split them, the first closes and the second takes all four. The hooks run at each step
/// (on_assigned with the partitions added, on_revoked committing before they move) and every
/// record is processed exactly once.
async fn group_of_two(bootstrap: String, spawner: Spawner) -> Result {
    const PARTITIONS: i32 = 4;
    let (topic, group) = (unique("tokio-group"), unique("tokio-group-g"));
    create_topic(&bootstrap, &spawner, &topic, PARTITIONS).await?;
    fill(&bootstrap, &spawner, &topic, PARTITIONS, 0, 10).await?;
    let journal = Shared::default();
    let processed = |n: usize| {
        let journal = journal.clone();
        move || lock(&journal).processed.len() >= n
    };

    let first = member(&bootstrap, &spawner, &group, &topic, "first", &journal).await?;
    let first_loop = work("first", first.clone(), journal.clone());
    until("the first member to hold all 4 partitions", || {
        settled(&[(&first, 4)])
    })
    .await?;
    until("the first member to process 40 records", processed(40)).await?;

    let second = member(&bootstrap, &spawner, &group, &topic, "second", &journal).await?;
    let second_loop = work("second", second.clone(), journal.clone());
    until("the group to settle with 2 partitions each", || {
        settled(&[(&first, 2), (&second, 2)])
    })
    .await?;
    // The group is settled; the hooks run on each member's task, at its next `recv_batch`.
    let hooks_ran = || {
        let j = lock(&journal);
        let saw = |name: &str, hook: &str| {
            j.hooks
                .iter()
                .any(|(n, h, parts)| *n == name && *h == hook && !parts.is_empty())
        };
        saw("first", "assigned") && saw("first", "revoked") && saw("second", "assigned")
    };
    if let Err(e) = until("the hooks of both members to run", hooks_ran).await {
        return Err(format!("{e}; hooks seen: {:?}", lock(&journal).hooks).into());
    }
    fill(&bootstrap, &spawner, &topic, PARTITIONS, 10, 10).await?;
    until("80 records processed", processed(80)).await?;
    until(
        "the group to be settled before the first member closes",
        || settled(&[(&first, 2), (&second, 2)]),
    )
    .await?;

    stop("the first member to stop", first, first_loop).await?;
    until("the second member to take all 4 partitions", || {
        settled(&[(&second, 4)])
    })
    .await?;
    fill(&bootstrap, &spawner, &topic, PARTITIONS, 20, 10).await?;
    until("120 records processed", processed(120)).await?;
    stop("the second member to stop", second, second_loop).await?;

    let j = lock(&journal);
    check!(j.twice.is_empty(), "processed twice: {:?}", j.twice);
    check!(
        j.revoke_commits_failed.is_empty(),
        "commits in on_revoked failed: {:?}",
        j.revoke_commits_failed
    );
    check!(
        !j.hooks.iter().any(|(_, h, _)| *h == "lost"),
        "partitions were lost: {:?}",
        j.hooks
    );
    let expected: BTreeSet<(i32, i64)> = (0..PARTITIONS)
        .flat_map(|p| (0..30).map(move |o| (p, o)))
        .collect();
    let got: BTreeSet<(i32, i64)> = j.processed.keys().copied().collect();
    check!(
        got == expected,
        "processed {got:?}, not 0..30 of each partition"
    );
    Ok(())
}

#[test]
fn a_group_of_two_runs_its_rebalance_hooks_on_a_multi_thread_runtime() {
    on_tokio(
        "group of two",
        Build::W,
        Flavor::MultiThread,
        Drivers::TokioTasks,
        group_of_two,
    );
}

#[test]
fn a_group_of_two_runs_its_rebalance_hooks_on_a_current_thread_runtime() {
    on_tokio(
        "group of two",
        Build::W,
        Flavor::CurrentThread,
        Drivers::TokioTasks,
        group_of_two,
    );
}

#[test]
fn a_group_of_two_runs_its_rebalance_hooks_with_driver_threads() {
    on_tokio(
        "group of two",
        Build::W,
        Flavor::CurrentThread,
        Drivers::Threads,
        group_of_two,
    );
}

// ---- transactions (build W) ----

/// Three transactions, the middle one aborted, the last one carrying the consumed offsets of
/// a group: a read_committed consumer reads the committed records only, and the group's
/// offset is the one committed with the transaction.
async fn transactions(bootstrap: String, spawner: Spawner) -> Result {
    let (topic, group) = (unique("tokio-txn"), unique("tokio-txn-g"));
    create_topic(&bootstrap, &spawner, &topic, 1).await?;
    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .transactional_id(unique("tokio-txn-id"))
        .spawner(spawner.clone())
        .build()
        .await?;
    within("init_transactions", producer.init_transactions()).await??;
    let tp = TopicPartition::new(topic.as_str(), 0);
    for (round, commit) in [(0, true), (1, false), (2, true)] {
        producer.begin_transaction()?;
        // Each record written before the transaction ends, so that the aborted one's records
        // are in the log too, for read_committed to pass over.
        let sent: Vec<_> = (0..5)
            .map(|i| {
                producer.send(
                    ProducerRecord::new(&topic)
                        .partition(0)
                        .value(format!("t{round}-{i}")),
                )
            })
            .collect();
        for delivery in sent {
            within("a record of the transaction to be written", delivery).await??;
        }
        if round == 2 {
            within(
                "send_offsets_to_transaction",
                producer.send_offsets_to_transaction(
                    [TopicPartitionOffset::at(tp.clone(), 42)],
                    &GroupMetadata::new(&group),
                ),
            )
            .await??;
        }
        if commit {
            within("commit_transaction", producer.commit_transaction()).await??;
        } else {
            within("abort_transaction", producer.abort_transaction()).await??;
        }
    }
    producer.close().await?;

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .isolation_level(IsolationLevel::ReadCommitted)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .spawner(spawner)
        .build()
        .await?;
    let committed = within("the committed offset", consumer.committed(&tp)).await??;
    check!(
        committed.as_ref().map(|c| c.offset) == Some(42),
        "the group's offset is {committed:?}, not the 42 of the transaction"
    );
    consumer.assign([tp.clone()])?;
    consumer.seek_to_beginning([tp.clone()])?;
    let mut values = Vec::new();
    let deadline = Instant::now() + WAIT;
    // At the end: no lag as of the last fetch answer (the last stable offset).
    while consumer.lag(&tp) != Some(0) {
        check!(Instant::now() < deadline, "read {values:?} by the deadline");
        if let Ok(batch) =
            tokio::time::timeout(Duration::from_millis(200), consumer.recv_batch(100)).await
        {
            for record in batch? {
                values
                    .push(String::from_utf8_lossy(record.value().unwrap_or_default()).into_owned());
            }
        }
    }
    consumer.close().await?;
    let expected: Vec<String> = [0, 2]
        .iter()
        .flat_map(|round| (0..5).map(move |i| format!("t{round}-{i}")))
        .collect();
    check!(
        values == expected,
        "read_committed read {values:?}, not {expected:?}"
    );
    Ok(())
}

#[test]
fn transactions_commit_and_abort_on_a_multi_thread_runtime_with_drivers_as_tokio_tasks() {
    on_tokio(
        "transactions",
        Build::W,
        Flavor::MultiThread,
        Drivers::TokioTasks,
        transactions,
    );
}

#[test]
fn transactions_commit_and_abort_on_a_current_thread_runtime_with_drivers_as_tokio_tasks() {
    on_tokio(
        "transactions",
        Build::W,
        Flavor::CurrentThread,
        Drivers::TokioTasks,
        transactions,
    );
}

#[test]
fn transactions_commit_and_abort_on_a_current_thread_runtime_with_driver_threads() {
    on_tokio(
        "transactions",
        Build::W,
        Flavor::CurrentThread,
        Drivers::Threads,
        transactions,
    );
}

//! A broker killed with SIGKILL while a producer writes and a consumer group reads, then
//! started again on the same port and database (tansu build C, SQLite): the clients recover by
//! themselves (nobody rebuilds them), the idempotent producer writes no record twice, every
//! record it was told is written is there, in send order per partition, the consumer reads
//! every record, and the group's committed offsets survive. The time each client took to
//! recover is printed.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{create_topic, read_to_end, recv_for, unique, wait_for};
use dekaf_smol::{
    AutoOffsetReset, Consumer, OffsetCommitMode, Producer, ProducerRecord, TopicPartition,
};
use dekaf_tests::broker::temp_dir;
use dekaf_tests::{Broker, Build, Engine};

type Result<T = ()> = common::Result<T>;

const PARTITIONS: i32 = 2;
const RECORDS: usize = 3_000;
/// How long the clients may take to recover once the broker is back.
const RECOVERY: Duration = Duration::from_secs(90);

/// What the consumer's loop saw: (partition, offset) -> value, the values in read order per
/// partition, and when it last read.
#[derive(Default)]
struct Seen {
    by_offset: BTreeMap<(i32, i64), String>,
    last_read: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn clients_recover_from_a_broker_killed_and_restarted() {
    let dir = temp_dir("restart");
    let Some(first) = Broker::start(Build::C, Engine::Sqlite(dir.clone())) else {
        return;
    };
    let addr = first.addr();
    let mut first = Some(first);
    let mut second = None;
    let result: Result = smol::block_on(async {
        let bootstrap = addr.to_string();
        let (topic, group) = (unique("restart"), unique("restart-group"));
        create_topic(&bootstrap, &topic, PARTITIONS).await?;
        let tps: Vec<TopicPartition> = (0..PARTITIONS)
            .map(|p| TopicPartition::new(topic.as_str(), p))
            .collect();

        let producer = Arc::new(
            Producer::builder()
                .bootstrap_servers(&bootstrap)
                .delivery_timeout(Duration::from_secs(120))
                .build()
                .await?,
        );
        let consumer = Arc::new(
            Consumer::builder()
                .bootstrap_servers(&bootstrap)
                .group_id(group.as_str())
                .offset_commit_mode(OffsetCommitMode::Manual)
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .session_timeout(Duration::from_secs(6))
                .heartbeat_interval(Duration::from_secs(1))
                .build()
                .await?,
        );
        consumer.subscribe([topic.as_str()])?;

        // The writer: every record sent in order, each delivery's outcome kept.
        let delivered: Arc<Mutex<Vec<(usize, Instant, bool)>>> = Arc::default();
        let writer = {
            let (producer, topic, delivered) = (producer.clone(), topic.clone(), delivered.clone());
            smol::spawn(async move {
                let mut pending = Vec::new();
                for i in 0..RECORDS {
                    let record = ProducerRecord::new(topic.as_str())
                        .partition(i as i32 % PARTITIONS)
                        .value(format!("{i}"));
                    let delivery = producer.send(record).buffered().await?;
                    let delivered = delivered.clone();
                    pending.push(smol::spawn(async move {
                        let ok = delivery.await.is_ok();
                        lock(&delivered).push((i, Instant::now(), ok));
                    }));
                    if i % 50 == 49 {
                        // A steady stream rather than one burst, so that the kill lands mid-way.
                        smol::Timer::after(Duration::from_millis(20)).await;
                    }
                }
                for p in pending {
                    p.await;
                }
                Result::Ok(())
            })
        };

        // The reader: records as they come, a commit after each batch (refused commits while
        // the broker is away are retried by the next one).
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let commits: Arc<Mutex<BTreeMap<i32, i64>>> = Arc::default();
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let reader = {
            let (consumer, seen, commits) = (consumer.clone(), seen.clone(), commits.clone());
            smol::spawn(async move {
                while stopped.try_recv().is_err() {
                    let batch = recv_for(&consumer, 500, Duration::from_millis(200))
                        .await
                        .unwrap_or_default();
                    if batch.is_empty() {
                        continue;
                    }
                    {
                        let mut s = lock(&seen);
                        for r in &batch {
                            let value = String::from_utf8_lossy(r.value().unwrap_or_default());
                            s.by_offset
                                .insert((r.partition(), r.offset()), value.into_owned());
                        }
                        s.last_read = Some(Instant::now());
                    }
                    if consumer.commit().await.is_ok() {
                        let mut c = lock(&commits);
                        for r in &batch {
                            let next = c.entry(r.partition()).or_default();
                            *next = (*next).max(r.offset() + 1);
                        }
                    }
                }
            })
        };

        wait_for(
            Duration::from_secs(60),
            "a third of the records read",
            || async { Ok((lock(&seen).by_offset.len() >= RECORDS / 3).then_some(())) },
        )
        .await?;
        let committed_before: BTreeMap<i32, i64> = lock(&commits).clone();
        if let Some(b) = first.take() {
            b.kill();
        }
        let killed = Instant::now();
        println!(
            "killed the broker after {} records written, {} read",
            lock(&delivered).len(),
            lock(&seen).by_offset.len()
        );
        smol::Timer::after(Duration::from_secs(2)).await;
        second = Broker::start_at(Build::C, Engine::Sqlite(dir.clone()), addr);
        let restarted = Instant::now();
        println!(
            "restarted it after {:.1} s",
            restarted.duration_since(killed).as_secs_f64()
        );

        within_recovery(writer).await??;
        let delivered = lock(&delivered).clone();
        let first_after = delivered
            .iter()
            .filter(|(_, at, ok)| *ok && *at > restarted)
            .map(|(_, at, _)| *at)
            .min();
        let ok: BTreeSet<usize> = delivered
            .iter()
            .filter(|(_, _, ok)| *ok)
            .map(|(i, _, _)| *i)
            .collect();
        println!(
            "producer: {} of {RECORDS} records written; first write {:.1} s after the restart",
            ok.len(),
            first_after.map_or(f64::NAN, |t| t.duration_since(restarted).as_secs_f64())
        );

        // Every record the producer was told is written is in the log once, in send order.
        let check = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .offset_commit_mode(OffsetCommitMode::Manual)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .await?;
        check.assign(tps.clone())?;
        let log = read_to_end(&check, RECOVERY).await?;
        check.close().await?;
        let mut values: BTreeMap<usize, usize> = BTreeMap::new();
        let mut last: BTreeMap<i32, usize> = BTreeMap::new();
        for r in &log {
            let v: usize = String::from_utf8_lossy(r.value().unwrap_or_default()).parse()?;
            *values.entry(v).or_default() += 1;
            if let Some(before) = last.insert(r.partition(), v) {
                check!(
                    before < v,
                    "partition {}: {v} after {before}",
                    r.partition()
                );
            }
        }
        let twice: Vec<usize> = values
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(v, _)| *v)
            .collect();
        check!(twice.is_empty(), "written twice: {twice:?}");
        let missing: Vec<usize> = ok
            .iter()
            .filter(|v| !values.contains_key(v))
            .copied()
            .collect();
        check!(
            missing.is_empty(),
            "acknowledged but not in the log: {missing:?}"
        );

        // The consumer reads the whole log, by itself.
        let everything: BTreeSet<(i32, i64)> =
            log.iter().map(|r| (r.partition(), r.offset())).collect();
        wait_for(RECOVERY, "the consumer to read the whole log", || async {
            let s = lock(&seen);
            Ok(everything
                .iter()
                .all(|k| s.by_offset.contains_key(k))
                .then_some(()))
        })
        .await?;
        let read_again = lock(&seen).last_read;
        println!(
            "consumer: read all {} records; last read {:.1} s after the restart",
            everything.len(),
            read_again.map_or(f64::NAN, |t| t.duration_since(restarted).as_secs_f64())
        );
        let _ = stop.try_send(());
        reader.await;

        // The group's commits survived, and moved on from there.
        wait_for(RECOVERY, "a commit of everything read", || async {
            let mut done = true;
            for tp in &tps {
                let end = everything
                    .iter()
                    .filter(|(p, _)| *p == tp.partition())
                    .map(|(_, o)| o + 1)
                    .max()
                    .unwrap_or(0);
                let committed = consumer.committed(tp).await?.map_or(-1, |c| c.offset);
                let before = committed_before.get(&tp.partition()).copied().unwrap_or(0);
                check!(
                    committed == -1 || committed >= before,
                    "{tp}: committed {committed}, below {before} committed before the kill"
                );
                if committed < end {
                    consumer.commit().await.ok();
                    done = false;
                }
            }
            Ok(done.then_some(()))
        })
        .await?;
        Arc::try_unwrap(consumer)
            .map_err(|_| "the consumer is still shared")?
            .close()
            .await?;
        Arc::try_unwrap(producer)
            .map_err(|_| "the producer is still shared")?
            .close()
            .await?;
        Ok(())
    });
    if let Err(e) = result {
        let log = second.as_ref().map(Broker::log).unwrap_or_default();
        panic!("{e}\n--- restarted broker's log ---\n{log}");
    }
}

async fn within_recovery<T>(task: smol::Task<T>) -> Result<T> {
    common::within(RECOVERY, "the writer to finish", task).await
}

//! Damaged answers. First a producer and a consumer work while the proxy damages a share of
//! the answers in ways a careful client can always detect — record bytes the batch CRC
//! covers, truncated frames, connections cut mid-frame, lying length prefixes: nothing may
//! panic or hang, no damaged record may reach the application, and once the damage stops
//! both recover by themselves: the consumer ends with every record exactly as produced, the
//! producer with its idempotence promises kept. Then a second consumer reads through damage
//! of any kind, bytes flipped anywhere included (values the CRC does not cover may change
//! unnoticed, as with any Kafka client, so only the records' contents are checked), and
//! once the damage stops it reads everything again from the beginning, exactly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_channel::Receiver;
use dekaf_smol::{
    AutoOffsetReset, Consumer, Error, IsolationLevel, OffsetCommitMode, Producer, TopicPartition,
};

use super::journal::{self, Journal};
use super::producer::{check_numbered, send_numbered};
use super::{
    create_topic, read_log, recv_for, unique, until, within, Report, Setup, Stored, PATIENCE,
};
use crate::cluster_proxy::{Corruption, Damage};
use crate::rng::Rng;

/// The producer's partitions (see [`send_numbered`]).
const PARTITIONS: i32 = 4;

async fn consumer(setup: &Setup, topic: &str) -> Result<Consumer, Error> {
    let consumer = Consumer::builder()
        .bootstrap_servers(setup.proxy.bootstrap())
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .request_timeout(Duration::from_secs(5))
        .fetch_max_wait(Duration::from_millis(100))
        .metadata_max_age(Duration::from_secs(3))
        .build()
        .await?;
    consumer.assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))?;
    Ok(consumer)
}

/// Whether `value` is one the producer sent, to partition `partition` when given.
fn intact(value: &[u8], sent: usize, partition: Option<i32>) -> bool {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|i| {
            i < sent && partition.is_none_or(|p| (i % PARTITIONS as usize) as i32 == p)
        })
}

/// Reads until stopped, writing each record to the journal; a record whose value was not
/// sent is a violation.
async fn read(
    consumer: &Consumer,
    journal: journal::Shared,
    sent: usize,
    strict: bool,
    stop: Receiver<()>,
) {
    while stop.try_recv().is_err() {
        match recv_for(consumer, 500, Duration::from_millis(200)).await {
            Ok(batch) => {
                let mut j = journal::lock(&journal);
                for r in batch {
                    let value = r.value_bytes().cloned().unwrap_or_default();
                    let partition = strict.then_some(r.partition());
                    if !intact(&value, sent, partition) {
                        j.violations.push(format!(
                            "{}@{} handed out with a value never sent: {:?}",
                            r.topic_partition(),
                            r.offset(),
                            String::from_utf8_lossy(&value)
                        ));
                    }
                    if strict {
                        j.record(0, None, r.topic_partition(), r.offset(), value);
                    } else {
                        j.deliveries += 1;
                    }
                }
            }
            Err(Error::Shutdown) => return,
            Err(e) => journal::lock(&journal).error(&e),
        }
    }
}

/// Whether `received` holds exactly `log`: every record, at its offset, with its value.
fn exactly(
    report: &mut Report,
    what: &str,
    topic: &str,
    received: &Journal,
    log: &BTreeMap<i32, Vec<Stored>>,
) {
    let mut want: BTreeMap<(TopicPartition, i64), &[u8]> = BTreeMap::new();
    for (p, records) in log {
        for s in records {
            want.insert((TopicPartition::new(topic, *p), s.offset), &s.value);
        }
    }
    let missing: Vec<String> = want
        .keys()
        .filter(|k| !received.received.contains_key(k))
        .map(|(tp, o)| format!("{tp}@{o}"))
        .take(20)
        .collect();
    let wrong: Vec<String> = received
        .received
        .iter()
        .filter(|(k, (_, v))| want.get(k).is_none_or(|w| *w != &v[..]))
        .map(|((tp, o), _)| format!("{tp}@{o}"))
        .take(20)
        .collect();
    if !missing.is_empty() {
        report.violation(format!("{what}: never received {missing:?}"));
    }
    if !wrong.is_empty() {
        report.violation(format!(
            "{what}: received records that are not the log's: {wrong:?}"
        ));
    }
}

fn all_received(journal: &journal::Shared, topic: &str, log: &BTreeMap<i32, Vec<Stored>>) -> bool {
    let j = journal::lock(journal);
    log.iter().all(|(p, records)| {
        records.iter().all(|s| {
            j.received
                .contains_key(&(TopicPartition::new(topic, *p), s.offset))
        })
    })
}

pub(crate) async fn run(setup: &Setup, report: &mut Report) {
    let topic = unique("faults-corrupt");
    if let Err(e) = create_topic(&setup.direct, &topic, PARTITIONS).await {
        return report.violation(format!("setup: {e}"));
    }
    let mut rng = Rng::new(setup.seed ^ 0xC022_0917);
    let per_mille = rng.between(10, 40) as u32;
    let record_per_mille = rng.between(50, 250) as u32;
    report.note(format!(
        "damage: {per_mille}‰ of the answers ({}‰ in the second phase), {record_per_mille}‰ \
         of the fetch answers with records",
        per_mille * 4
    ));

    // Phase 1: detectable damage while a producer writes and a consumer reads.
    setup.proxy.corrupt(Some(
        Corruption::new(per_mille, &Damage::DETECTABLE).with_record_rate(record_per_mille),
    ));
    let producer = match Producer::builder()
        .bootstrap_servers(setup.proxy.bootstrap())
        .request_timeout(Duration::from_secs(5))
        .delivery_timeout(PATIENCE)
        .build()
        .await
    {
        Ok(p) => p,
        Err(e) => return report.violation(format!("setup: producer: {e}")),
    };
    let sent = setup.length.records;
    let first = match consumer(setup, &topic).await {
        Ok(c) => c,
        Err(e) => return report.violation(format!("setup: consumer: {e}")),
    };
    let journal = journal::new(setup.proxy.started());
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let (outcomes, ()) = futures_lite::future::zip(
        async {
            let outcomes = send_numbered(&producer, &topic, sent, setup.length.faults_for).await;
            let _ = stop.try_send(());
            outcomes
        },
        read(&first, journal.clone(), sent, true, stopped.clone()),
    )
    .await;
    setup.proxy.corrupt(None);
    let stats = setup.proxy.stats();
    report.note(format!(
        "while writing and reading: {} answers damaged",
        stats.count_prefix("corrupt:")
    ));
    match within(PATIENCE, producer.flush()).await {
        Some(Ok(())) => {}
        Some(Err(e)) => report.note(format!("flush: {e}")),
        None => report.violation(format!("producer flush() hung for {PATIENCE:?}")),
    }
    match within(Duration::from_secs(30), producer.close()).await {
        Some(Ok(())) => {}
        Some(Err(e)) => report.note(format!("producer close: {e}")),
        None => report.violation("producer close() hung for 30 s"),
    }
    let log = match read_log(
        &setup.direct,
        &topic,
        PARTITIONS,
        IsolationLevel::ReadUncommitted,
    )
    .await
    {
        Ok(log) => log,
        Err(e) => return report.violation(format!("reading the log back: {e}")),
    };
    check_numbered(report, &outcomes, &log, true);

    // The damage stopped: the consumer must catch up by itself.
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let caught_up = futures_lite::future::zip(
        async {
            let done = until(PATIENCE, || all_received(&journal, &topic, &log)).await;
            let _ = stop.try_send(());
            done
        },
        read(&first, journal.clone(), sent, true, stopped),
    )
    .await
    .0;
    {
        let j = journal::lock(&journal);
        report.checked(format!(
            "consumer under detectable damage: no damaged value handed out, in order with no \
             gap, then every record exactly as produced ({} deliveries)",
            j.deliveries
        ));
        if !caught_up {
            report.violation(format!(
                "the consumer did not catch up within {PATIENCE:?} of the damage stopping"
            ));
        }
        exactly(report, "consumer after detectable damage", &topic, &j, &log);
        for v in &j.violations {
            report.violation(v.clone());
        }
        if !j.errors.is_empty() {
            report.note(format!("errors the first consumer saw: {:?}", j.errors));
        }
    }
    if within(Duration::from_secs(30), first.close())
        .await
        .is_none()
    {
        report.violation("consumer close() hung for 30 s");
    }

    // Phase 2: damage of any kind while a second consumer reads, then everything again.
    let before = setup.proxy.stats().count_prefix("corrupt:");
    // Four times the rate: only contents are checked here, and the recovery after.
    setup.proxy.corrupt(Some(
        Corruption::new(per_mille * 4, &Damage::ALL).with_record_rate(record_per_mille),
    ));
    let second = match consumer(setup, &topic).await {
        Ok(c) => c,
        Err(e) => return report.violation(format!("setup: second consumer: {e}")),
    };
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    let ends: BTreeMap<TopicPartition, i64> = tps
        .iter()
        .map(|tp| {
            let end = log
                .get(&tp.partition())
                .and_then(|l| l.last())
                .map_or(0, |s| s.offset + 1);
            (tp.clone(), end)
        })
        .collect();
    // Round after round from the beginning, so that many answers carry records.
    let loose = journal::new(setup.proxy.started());
    let mut rounds = 0u32;
    let until_then = Instant::now() + setup.length.faults_for / 2;
    while Instant::now() < until_then {
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let _ =
            futures_lite::future::zip(read(&second, loose.clone(), sent, false, stopped), async {
                let _ = until(until_then.saturating_duration_since(Instant::now()), || {
                    ends.iter()
                        .all(|(tp, end)| second.position(tp).is_some_and(|p| p >= *end))
                })
                .await;
                let _ = stop.try_send(());
            })
            .await;
        rounds += 1;
        if let Err(e) = second.seek_to_beginning(tps.clone()) {
            report.violation(format!("seek to the beginning under damage: {e}"));
            break;
        }
    }
    report.note(format!(
        "the second consumer read {rounds} rounds under damage"
    ));
    setup.proxy.corrupt(None);
    let damaged = setup.proxy.stats().count_prefix("corrupt:") - before;
    if let Err(e) = second.seek_to_beginning(tps.clone()) {
        report.violation(format!("seek to the beginning after the damage: {e}"));
    }
    let again = journal::new(setup.proxy.started());
    let (stop, stopped) = async_channel::bounded::<()>(1);
    let started = Instant::now();
    let read_again = futures_lite::future::zip(
        async {
            let done = until(PATIENCE, || all_received(&again, &topic, &log)).await;
            let _ = stop.try_send(());
            done
        },
        read(&second, again.clone(), sent, true, stopped),
    )
    .await
    .0;
    {
        let l = journal::lock(&loose);
        let j = journal::lock(&again);
        report.checked(format!(
            "consumer under any damage ({damaged} answers damaged): every value handed out was \
             one sent ({} deliveries); then from the beginning, every record exactly as \
             produced, in order ({:.1} s)",
            l.deliveries,
            started.elapsed().as_secs_f64()
        ));
        for v in l.violations.iter().chain(j.violations.iter()) {
            report.violation(v.clone());
        }
        if !read_again {
            report.violation(format!(
                "after the damage stopped, the consumer did not read everything again within \
                 {PATIENCE:?}"
            ));
        }
        exactly(report, "consumer after any damage", &topic, &j, &log);
        if !l.errors.is_empty() {
            report.note(format!("errors the second consumer saw: {:?}", l.errors));
        }
    }
    if within(Duration::from_secs(30), second.close())
        .await
        .is_none()
    {
        report.violation("second consumer close() hung for 30 s");
    }
}

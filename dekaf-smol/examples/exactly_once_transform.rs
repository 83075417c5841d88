//! Exactly once, Kafka to Kafka: consume, transform, produce inside a transaction that also
//! carries the consumed offsets. Output records and the input's committed offsets become
//! visible together or not at all, so a worker killed at any moment leaves nothing half done:
//! its successor (same transactional id) aborts what was open and resumes from the committed
//! offsets, and a `read_committed` reader of the output sees each input record's transform
//! exactly once.
//!
//! The program is its own supervisor: it fills an input topic, starts itself again as a
//! worker and kills it with SIGKILL at a random moment, `DEKAF_KILLS` times (default 10), lets
//! a last worker finish, then checks the output.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example exactly_once_transform`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::supervisor::{self, Dice, READY};
use common::{create_topic, fill, read_to_end, recv_for, unique, value, Result, PATIENCE};
use dekaf_smol::{
    AutoOffsetReset, Consumer, ConsumerRecord, GroupMetadata, IsolationLevel, OffsetCommitMode,
    Producer, ProducerRecord, TopicPartition, TopicPartitionOffset,
};

/// Input partitions.
const PARTITIONS: i32 = 3;

/// Records per transaction at most, and the time "transforming" them takes: a worker gets
/// through about 100 records in the time a killed worker lives on average.
const BATCH: usize = 10;
const WORK: Duration = Duration::from_millis(10);

/// The longest a killed worker lives (a kill may land before it even started).
const MAX_LIFE: Duration = Duration::from_millis(300);

/// Records per input partition for `kills` kills: more than the killed workers get through.
fn records(kills: usize) -> i64 {
    100 + 40 * kills as i64
}

/// Runs as the supervisor, or as a worker when started by one.
pub fn main() -> std::process::ExitCode {
    if supervisor::is_worker() {
        return common::main("exactly_once_transform worker", worker);
    }
    common::main("exactly_once_transform", run)
}

/// What the worker does to each record.
fn transform(value: &[u8]) -> Vec<u8> {
    value.to_ascii_uppercase()
}

/// The worker: resume from the committed offsets, then per batch one transaction holding the
/// transformed records and the offsets after the batch.
async fn worker(bootstrap: String) -> Result {
    let input = supervisor::setting("DEKAF_EO_INPUT")?;
    let output = supervisor::setting("DEKAF_EO_OUTPUT")?;
    let group = supervisor::setting("DEKAF_EO_GROUP")?;
    let transactional_id = supervisor::setting("DEKAF_EO_TXN_ID")?;

    // First fence the killed worker: its open transaction is aborted, so that the offsets
    // read next are those of the last committed transaction.
    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .transactional_id(&transactional_id)
        .max_block(PATIENCE)
        .build()
        .await?;
    producer.init_transactions().await?;

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .isolation_level(IsolationLevel::ReadCommitted)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    let partitions: Vec<_> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(input.as_str(), p))
        .collect();
    // Where the last committed transaction left each partition (`None`: the beginning).
    let mut resume: BTreeMap<TopicPartition, Option<i64>> = consumer
        .committed_many(partitions.clone())
        .await?
        .into_iter()
        .map(|(tp, c)| (tp, c.map(|c| c.offset)))
        .collect();
    let resumed_at: Vec<i64> = resume.values().map(|o| o.unwrap_or(0)).collect();
    consumer.assign(partitions)?;
    // A consumer given its partitions has no membership: its group id alone goes with the
    // offsets (Java's `new ConsumerGroupMetadata(groupId)`).
    let group_metadata = GroupMetadata::new(group.as_str());

    let mut announced = false;
    while !common::at_end(&consumer) {
        let batch = recv_for(&consumer, BATCH, Duration::from_millis(200)).await?;
        if batch.is_empty() {
            continue;
        }
        if !std::mem::replace(&mut announced, true) {
            // Tells the supervisor that work has started: the kill comes from now on.
            println!("{READY} {}: resumed at {resumed_at:?}", std::process::id());
        }
        match transact(&producer, &batch, &output, &group_metadata).await {
            Ok(offsets) => {
                for o in offsets {
                    resume.insert(o.topic_partition, Some(o.offset.offset));
                }
            }
            Err(e) if e.is_abortable() => {
                // Nothing of it is visible: abort, rewind, and do the batch again.
                eprintln!("  worker: transaction aborted: {e}");
                producer.abort_transaction().await?;
                for (tp, offset) in &resume {
                    match offset {
                        Some(o) => consumer.seek(TopicPartitionOffset::at(tp.clone(), *o))?,
                        None => consumer.seek_to_beginning([tp.clone()])?,
                    }
                }
            }
            // Fenced (another worker took over) or refused for good: stop.
            Err(e) => return Err(e.into()),
        }
    }
    producer.close().await?;
    consumer.close().await?;
    Ok(())
}

/// One transaction: the batch's transforms, and the input offsets after it.
async fn transact(
    producer: &Producer,
    batch: &[ConsumerRecord],
    output: &str,
    group: &GroupMetadata,
) -> std::result::Result<Vec<TopicPartitionOffset>, dekaf_smol::Error> {
    producer.begin_transaction()?;
    let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for record in batch {
        let transformed = transform(record.value().unwrap_or_default());
        // Sent without waiting: the commit waits for every record of the transaction.
        let _ = producer.send(
            ProducerRecord::new(output)
                .partition(record.partition())
                .value(transformed),
        );
        next.insert(
            (record.topic().to_string(), record.partition()),
            record.offset() + 1,
        );
    }
    // The work of a real transform; a kill often lands here, in an open transaction.
    smol::Timer::after(WORK).await;
    let offsets: Vec<_> = next
        .into_iter()
        .map(|((topic, partition), offset)| TopicPartitionOffset::new(topic, partition, offset))
        .collect();
    producer
        .send_offsets_to_transaction(offsets.clone(), group)
        .await?;
    producer.commit_transaction().await?;
    Ok(offsets)
}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (input, output) = (unique("eo-input"), unique("eo-output"));
    let (group, transactional_id) = (unique("eo-group"), unique("eo-transform"));
    create_topic(&bootstrap, &input, PARTITIONS).await?;
    create_topic(&bootstrap, &output, PARTITIONS).await?;
    let kills = supervisor::kills();
    let records = records(kills);
    for p in 0..PARTITIONS {
        fill(&bootstrap, &input, p, 0, records).await?;
    }
    let env = [
        ("DEKAF_BOOTSTRAP", bootstrap.clone()),
        ("DEKAF_EO_INPUT", input.clone()),
        ("DEKAF_EO_OUTPUT", output.clone()),
        ("DEKAF_EO_GROUP", group.clone()),
        ("DEKAF_EO_TXN_ID", transactional_id),
    ];
    println!(
        "exactly_once_transform: {} input records; {kills} workers killed with SIGKILL at random moments, then one runs to the end",
        i64::from(PARTITIONS) * records
    );
    let mut dice = Dice::new();
    let done = supervisor::kill_workers(&env, kills, MAX_LIFE, &mut dice).await?;
    supervisor::finish(&env, Duration::from_secs(120)).await?;
    println!(
        "  {} workers killed mid-way, {} finished before their kill",
        done.killed, done.finished_first
    );

    // What a read_committed reader of the output sees: each transform exactly once, in order.
    let committed = read_output(&bootstrap, &output, IsolationLevel::ReadCommitted).await?;
    for p in 0..PARTITIONS {
        let want: Vec<Vec<u8>> = (0..records)
            .map(|i| transform(value(p, i).as_bytes()))
            .collect();
        let got = committed.get(&p).cloned().unwrap_or_default();
        if got != want {
            let dupes = got.len().saturating_sub(want.len());
            return Err(format!(
                "output partition {p}: {} records, {dupes} more than the input's {}",
                got.len(),
                want.len()
            )
            .into());
        }
    }
    let everything = read_output(&bootstrap, &output, IsolationLevel::ReadUncommitted).await?;
    let written: usize = everything.values().map(Vec::len).sum();
    let visible: usize = committed.values().map(Vec::len).sum();
    println!(
        "  read_committed: each of the {visible} transforms exactly once, in order; the log holds {written} (the {} others are the killed workers' aborted transactions)",
        written - visible
    );

    // The group's committed offsets moved with the transactions: all the input is done.
    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .build()
        .await?;
    let tps = (0..PARTITIONS).map(|p| TopicPartition::new(input.as_str(), p));
    for (tp, c) in consumer.committed_many(tps).await? {
        let offset = c.map(|c| c.offset);
        check!(
            offset == Some(records),
            "{tp}: committed {offset:?}, not {records}"
        );
    }
    consumer.close().await?;
    println!("  the group's committed offsets are at the end of the input");
    Ok(())
}

/// The output's values per partition, in offset order, read with `isolation`.
async fn read_output(
    bootstrap: &str,
    output: &str,
    isolation: IsolationLevel,
) -> Result<BTreeMap<i32, Vec<Vec<u8>>>> {
    let consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .isolation_level(isolation)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.assign((0..PARTITIONS).map(|p| TopicPartition::new(output, p)))?;
    let mut out: BTreeMap<i32, Vec<Vec<u8>>> = BTreeMap::new();
    for record in read_to_end(&consumer, PATIENCE).await? {
        let value = record.value().unwrap_or_default().to_vec();
        out.entry(record.partition()).or_default().push(value);
    }
    consumer.close().await?;
    Ok(out)
}

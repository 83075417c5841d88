//! The clients inside a tokio application: `#[tokio::main]`, each client's driver a tokio task
//! (a `Spawner` of three lines), the consumer on a task of its own, tokio's timers around the
//! calls. An admin creates a topic, a producer writes 20 records, a consumer in Manual mode
//! reads them on a spawned task and commits, and a second consumer of the group finds the
//! committed offsets.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example tokio`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::{bootstrap, unique, Result};
use dekaf_smol::{
    Admin, AutoOffsetReset, Consumer, NewTopic, OffsetCommitMode, Producer, ProducerRecord,
    Spawner, TopicPartition,
};

#[tokio::main]
async fn main() -> ExitCode {
    common::init_logging();
    let outcome = match tokio_spawner() {
        Ok(spawner) => run(bootstrap(), spawner).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => {
            println!("tokio: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tokio: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs each client's driver as a task of the current tokio runtime instead of a thread of
/// its own; fails outside a runtime.
pub fn tokio_spawner() -> Result<Spawner> {
    let runtime = tokio::runtime::Handle::try_current()?;
    Ok(Spawner::new(move |driver| drop(runtime.spawn(driver))))
}

const RECORDS: i64 = 20;
const PARTITIONS: i32 = 2;
/// How long the example waits for any one thing before it fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// Fails with "timed out: `what`" unless `future` finishes within [`PATIENCE`], on tokio's
/// timer.
async fn within<T>(what: &str, future: impl std::future::IntoFuture<Output = T>) -> Result<T> {
    tokio::time::timeout(PATIENCE, future)
        .await
        .map_err(|_| format!("timed out after {PATIENCE:?}: {what}").into())
}

/// Runs the example against the broker at `bootstrap`, the clients' drivers started by
/// `spawner`.
pub async fn run(bootstrap: String, spawner: Spawner) -> Result {
    let (topic, group) = (unique("tokio"), unique("tokio-group"));
    let admin = Admin::builder()
        .bootstrap_servers(&bootstrap)
        .spawner(spawner.clone())
        .build()
        .await?;
    admin
        .create_topic(NewTopic::new(&topic, PARTITIONS).replication_factor(1))
        .await?;
    println!("tokio: created {topic} with {PARTITIONS} partitions");

    let producer = Producer::builder()
        .bootstrap_servers(&bootstrap)
        .spawner(spawner.clone())
        .build()
        .await?;
    let sent: Vec<_> = (0..RECORDS)
        .map(|i| {
            producer.send(
                ProducerRecord::new(&topic)
                    .partition((i % 2) as i32)
                    .value(format!("record-{i}")),
            )
        })
        .collect();
    for delivery in sent {
        within("a record to be written", delivery).await??;
    }
    producer.close().await?;
    println!("tokio: wrote {RECORDS} records");

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .spawner(spawner.clone())
        .build()
        .await?;
    let partitions: Vec<_> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic.as_str(), p))
        .collect();
    consumer.assign(partitions.clone())?;
    // The consumer moves to a task of its own, as an application's worker would.
    let reader = tokio::spawn(async move {
        let mut values = Vec::new();
        while (values.len() as i64) < RECORDS {
            for record in consumer.recv_batch(100).await? {
                values.push(String::from_utf8_lossy(record.value().unwrap_or_default()).into());
            }
            consumer.commit().await?;
        }
        consumer.close().await?;
        Ok::<Vec<String>, dekaf_smol::Error>(values)
    });
    let mut values = within("the consumer to read every record", reader).await???;
    values.sort_by_key(|v: &String| v["record-".len()..].parse::<i64>().unwrap_or(-1));
    let expected: Vec<String> = (0..RECORDS).map(|i| format!("record-{i}")).collect();
    check!(values == expected, "read {values:?}, not {expected:?}");
    println!("tokio: read and committed {RECORDS} records on a spawned task");

    // Another member of the group starts where the first one committed.
    let next = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .spawner(spawner)
        .build()
        .await?;
    for tp in &partitions {
        let committed = within("the committed offset", next.committed(tp)).await??;
        let offset = committed.map(|c| c.offset);
        check!(
            offset == Some(RECORDS / 2),
            "{tp}: committed {offset:?}, not {}",
            RECORDS / 2
        );
    }
    next.close().await?;
    println!(
        "tokio: the group's committed offsets are {} per partition",
        RECORDS / 2
    );
    Ok(())
}

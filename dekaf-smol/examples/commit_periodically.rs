//! Commit periodically: at most one commit per interval, however many records go by.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example commit_periodically`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{create_topic, fill, unique, within, Result, PATIENCE};
use dekaf_smol::{AutoOffsetReset, Consumer, ConsumerRecord, OffsetCommitMode, TopicPartition};
use futures_lite::StreamExt;

fn main() -> std::process::ExitCode {
    common::main("commit_periodically", run)
}

/// Processing takes a little time.
async fn process(_record: &ConsumerRecord) {
    smol::Timer::after(Duration::from_millis(2)).await;
}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    const RECORDS: i64 = 300;
    let (topic, group) = (unique("periodic"), unique("periodic-group"));
    create_topic(&bootstrap, &topic, 1).await?;
    fill(&bootstrap, &topic, 0, 0, RECORDS).await?;
    let tp = TopicPartition::new(topic.as_str(), 0);

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.assign([tp.clone()])?;

    let commit_interval = Duration::from_millis(100);
    let started = Instant::now();
    let mut last_commit = Instant::now();
    let mut commits = 0;
    let mut records = consumer.stream();
    while let Some(record) = within(PATIENCE, "a record", records.next()).await? {
        let record = record?;
        process(&record).await;
        if last_commit.elapsed() > commit_interval {
            consumer.commit().await?;
            last_commit = Instant::now();
            commits += 1;
        }
        if record.offset() == RECORDS - 1 {
            break;
        }
    }
    consumer.commit().await?; // the rest, before stopping
    commits += 1;
    let elapsed = started.elapsed();
    let most = elapsed.as_millis() / commit_interval.as_millis() + 1;
    check!(
        commits >= 2 && commits as u128 <= most,
        "{commits} commits in {elapsed:?} with a {commit_interval:?} interval"
    );
    let committed = consumer.committed(&tp).await?.map(|c| c.offset);
    check!(committed == Some(RECORDS), "committed offset {committed:?}");
    println!(
        "commit_periodically: {RECORDS} records in {elapsed:.0?}, {commits} commits (one per \
         {commit_interval:?} at most), committed offset {RECORDS}"
    );
    consumer.close().await?;
    Ok(())
}

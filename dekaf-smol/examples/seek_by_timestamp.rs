//! Seek by timestamp: find, per partition, the first record at or after a time, then seek
//! there. Needs a broker that looks timestamps up per record (tansu with its SQLite engine).
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example seek_by_timestamp`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use common::{create_topic, fill_one_by_one, now_millis, unique, within, Result, PATIENCE};
use dekaf_smol::{
    AutoOffsetReset, Consumer, OffsetCommitMode, TopicPartition, TopicPartitionOffset,
    TopicPartitionTimestamp,
};

fn main() -> std::process::ExitCode {
    common::main("seek_by_timestamp", run)
}

const MINUTE: i64 = 60_000;

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (topic, group) = (unique("by-time"), unique("by-time-group"));
    create_topic(&bootstrap, &topic, 1).await?;
    // Ten records written over the last 95 minutes, ten minutes apart.
    let now = now_millis();
    let times: Vec<i64> = (0..10)
        .map(|i| now - 95 * MINUTE + i * 10 * MINUTE)
        .collect();
    fill_one_by_one(&bootstrap, &topic, 0, 0, &times).await?;
    let tp = TopicPartition::new(topic.as_str(), 0);

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Latest)
        .build()
        .await?;
    consumer.assign([tp.clone()])?;

    let an_hour_ago = now - 60 * MINUTE;
    let offsets = consumer
        .offsets_for_times([TopicPartitionTimestamp::new(topic.as_str(), 0, an_hour_ago)])
        .await?;
    for (tp, found) in &offsets {
        let Some(found) = found else {
            return Err(format!("{tp}: no record at or after an hour ago").into());
        };
        check!(
            found.offset == 4 && found.timestamp == times[4],
            "{tp}: found offset {} at {} (want 4 at {})",
            found.offset,
            found.timestamp,
            times[4]
        );
        consumer.seek(TopicPartitionOffset::at(tp.clone(), found.offset))?;
    }
    println!("seek_by_timestamp: the first record at or after an hour ago is offset 4");
    let record = within(PATIENCE, "a record", consumer.recv()).await??;
    check!(
        record.offset() == 4 && record.timestamp() == times[4],
        "after the seek the next record is {} at {}",
        record.offset(),
        record.timestamp()
    );
    println!("  after seeking there, the next record is offset 4, written 55 minutes ago");

    let later = consumer
        .offsets_for_times([TopicPartitionTimestamp::new(
            topic.as_str(),
            0,
            now + MINUTE,
        )])
        .await?;
    check!(
        later.iter().all(|(_, found)| found.is_none()),
        "a record newer than the newest: {later:?}"
    );
    println!("  no record is at or after a minute from now: none found");
    consumer.close().await?;
    Ok(())
}

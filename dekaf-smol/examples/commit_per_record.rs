//! Commit after each record: the safest strategy, one round trip per record. After each
//! commit, the committed offset is the next record's.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example commit_per_record`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use common::{create_topic, fill, unique, within, Result, PATIENCE};
use dekaf_smol::{AutoOffsetReset, Consumer, ConsumerRecord, OffsetCommitMode, TopicPartition};
use futures_lite::StreamExt;

fn main() -> std::process::ExitCode {
    common::main("commit_per_record", run)
}

async fn process(_record: &ConsumerRecord) {}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (topic, group) = (unique("per-record"), unique("per-record-group"));
    create_topic(&bootstrap, &topic, 1).await?;
    fill(&bootstrap, &topic, 0, 0, 25).await?;
    let tp = TopicPartition::new(topic.as_str(), 0);

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.assign([tp.clone()])?;

    let mut records = consumer.stream();
    let mut commits = 0;
    while let Some(record) = within(PATIENCE, "a record", records.next()).await? {
        let record = record?;
        process(&record).await;
        consumer.commit().await?; // a network round trip per record
        commits += 1;
        let position = consumer.position(&tp);
        check!(
            position == Some(record.offset() + 1),
            "after offset {} the position is {position:?}",
            record.offset()
        );
        if record.offset() == 24 {
            break;
        }
    }
    let committed = consumer.committed(&tp).await?.map(|c| c.offset);
    check!(commits == 25, "{commits} commits for 25 records");
    check!(committed == Some(25), "committed offset {committed:?}");
    println!("commit_per_record: 25 records, 25 commits, committed offset 25");
    consumer.close().await?;
    Ok(())
}

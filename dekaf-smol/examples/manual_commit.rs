//! Manual mode: process first, then commit. Nothing is committed until `commit()` is called,
//! and a consumer that stops before committing leaves its last records to be read again.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example manual_commit`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use common::{create_topic, fill, unique, within, Result, PATIENCE};
use dekaf_smol::{AutoOffsetReset, Consumer, ConsumerRecord, OffsetCommitMode, TopicPartition};
use futures_lite::StreamExt;

fn main() -> std::process::ExitCode {
    common::main("manual_commit", run)
}

async fn process(record: &ConsumerRecord) -> Result {
    check!(
        record.value().is_some(),
        "record {} has no value",
        record.offset()
    );
    Ok(())
}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (topic, group) = (unique("manual-commit"), unique("manual-commit-group"));
    create_topic(&bootstrap, &topic, 1).await?;
    fill(&bootstrap, &topic, 0, 0, 10).await?;
    let tp = TopicPartition::new(topic.as_str(), 0);

    let mut consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.assign([tp.clone()])?;
    println!("manual_commit: 10 records; process each, then commit it");

    let mut processed = 0;
    while let Some(record) = within(PATIENCE, "a record", consumer.next()).await? {
        let record = record?;
        process(&record).await?; // process first
        if processed == 0 {
            let committed = consumer.committed(&tp).await?;
            check!(
                committed.is_none(),
                "committed before commit(): {committed:?}"
            );
            println!("  after processing offset 0, before commit(): nothing committed");
        }
        consumer.commit().await?; // then commit
        processed += 1;
        let committed = consumer.committed(&tp).await?.map(|c| c.offset);
        check!(
            committed == Some(record.offset() + 1),
            "after committing offset {} the committed offset is {committed:?}",
            record.offset()
        );
        if processed == 6 {
            break;
        }
    }
    println!("  committed after each of offsets 0..=5: the committed offset is 6");

    // Two more records are processed, then the consumer stops before committing them.
    for _ in 0..2 {
        within(PATIENCE, "a record", consumer.recv()).await??;
    }
    consumer.close().await?; // Manual mode: close commits nothing
    println!("  processed offsets 6 and 7 without committing, then stopped");

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .build()
        .await?;
    consumer.assign([tp.clone()])?;
    let first = within(PATIENCE, "a record", consumer.recv()).await??;
    check!(
        first.offset() == 6,
        "a new consumer of the group started at {} instead of 6",
        first.offset()
    );
    println!(
        "  a new consumer of the group starts at offset 6: 6 and 7 come again (at-least-once)"
    );
    consumer.close().await?;
    Ok(())
}

//! Auto mode: the consumer commits what was processed in the background, without a call to
//! `commit()`; `close()` commits the rest.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example auto_commit`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{create_topic, fill, unique, wait_for, within, Result, PATIENCE};
use dekaf_smol::{AutoOffsetReset, Consumer, OffsetCommitMode, TopicPartition};
use futures_lite::StreamExt;

fn main() -> std::process::ExitCode {
    common::main("auto_commit", run)
}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (topic, group) = (unique("auto-commit"), unique("auto-commit-group"));
    create_topic(&bootstrap, &topic, 1).await?;
    fill(&bootstrap, &topic, 0, 0, 20).await?;
    let tp = TopicPartition::new(topic.as_str(), 0);

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Auto)
        .auto_commit_interval(Duration::from_millis(200))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.assign([tp.clone()])?;
    println!("auto_commit: 20 records, Auto mode committing every 200 ms");

    let mut records = consumer.stream();
    let mut processed = 0;
    while let Some(record) = within(PATIENCE, "a record", records.next()).await? {
        let record = record?;
        check!(
            record.offset() == processed,
            "got offset {} out of order",
            record.offset()
        );
        processed += 1; // "processing"; no commit call anywhere
        if processed == 20 {
            break;
        }
    }
    // A record counts as processed once the next one is asked for: the background commit
    // carries offsets 0..=18, i.e. committed offset 19.
    let committed = wait_for(PATIENCE, "the background commit to reach 19", || async {
        let c = consumer.committed(&tp).await?.map(|c| c.offset);
        Ok(c.filter(|&c| c == 19))
    })
    .await?;
    println!("  without any commit() call the group's committed offset reached {committed}");
    consumer.close().await?;

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .build()
        .await?;
    let committed = consumer.committed(&tp).await?.map(|c| c.offset);
    check!(
        committed == Some(20),
        "after close() the committed offset is {committed:?}"
    );
    println!("  close() committed the last record too: committed offset 20");
    consumer.close().await?;
    Ok(())
}

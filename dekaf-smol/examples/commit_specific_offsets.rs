//! Commit exactly the offsets you choose, per partition: the group's committed offsets are
//! those, whatever was read.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example commit_specific_offsets`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use common::{create_topic, fill, unique, within, Result, PATIENCE};
use dekaf_smol::{
    AutoOffsetReset, Consumer, OffsetCommitMode, TopicPartition, TopicPartitionOffset,
};

fn main() -> std::process::ExitCode {
    common::main("commit_specific_offsets", run)
}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (topic, group) = (unique("specific-offsets"), unique("specific-offsets-group"));
    create_topic(&bootstrap, &topic, 2).await?;
    fill(&bootstrap, &topic, 0, 0, 150).await?;
    fill(&bootstrap, &topic, 1, 0, 80).await?;
    let (p0, p1) = (
        TopicPartition::new(topic.as_str(), 0),
        TopicPartition::new(topic.as_str(), 1),
    );

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.assign([p0.clone(), p1.clone()])?;
    let mut read = 0;
    while read < 230 {
        read += within(PATIENCE, "records", consumer.recv_batch(500))
            .await??
            .len();
    }
    println!("commit_specific_offsets: read all 230 records of partitions 0 and 1");

    consumer
        .commit_offsets([
            TopicPartitionOffset::new(topic.as_str(), 0, 100),
            TopicPartitionOffset::new(topic.as_str(), 1, 50),
        ])
        .await?;
    let committed = consumer.committed_many([p0.clone(), p1.clone()]).await?;
    let offsets: Vec<_> = committed
        .iter()
        .map(|(tp, c)| (tp.partition(), c.as_ref().map(|c| c.offset)))
        .collect();
    check!(
        offsets == [(0, Some(100)), (1, Some(50))],
        "committed offsets are {offsets:?}"
    );
    println!("  committed partition 0 at 100 and partition 1 at 50: the group has exactly those");
    check!(
        consumer.position(&p0) == Some(150) && consumer.position(&p1) == Some(80),
        "positions moved: {:?} {:?}",
        consumer.position(&p0),
        consumer.position(&p1)
    );
    consumer.close().await?;

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .build()
        .await?;
    consumer.assign([p0.clone(), p1.clone()])?;
    let mut first = std::collections::BTreeMap::new();
    while first.len() < 2 {
        for record in within(PATIENCE, "records", consumer.recv_batch(500)).await?? {
            first.entry(record.partition()).or_insert(record.offset());
        }
    }
    check!(
        first.get(&0) == Some(&100) && first.get(&1) == Some(&50),
        "a new consumer started at {first:?}"
    );
    println!(
        "  a new consumer of the group starts at offset 100 of partition 0 and 50 of partition 1"
    );
    consumer.close().await?;
    Ok(())
}

//! Commit per batch of up to 100 records: one round trip per batch, and still nothing
//! committed before it is processed.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example commit_per_batch`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use common::{create_topic, fill, unique, within, Result, PATIENCE};
use dekaf_smol::{AutoOffsetReset, Consumer, ConsumerRecord, OffsetCommitMode, TopicPartition};

fn main() -> std::process::ExitCode {
    common::main("commit_per_batch", run)
}

async fn process(_record: &ConsumerRecord) {}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (topic, group) = (unique("per-batch"), unique("per-batch-group"));
    create_topic(&bootstrap, &topic, 1).await?;
    fill(&bootstrap, &topic, 0, 0, 250).await?;
    let tp = TopicPartition::new(topic.as_str(), 0);

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.assign([tp.clone()])?;

    let mut sizes = Vec::new();
    let mut next = 0;
    while next < 250 {
        let batch = within(PATIENCE, "a batch", consumer.recv_batch(100)).await??;
        for record in &batch {
            check!(
                record.offset() == next,
                "offset {} instead of {next}",
                record.offset()
            );
            process(record).await;
            next += 1;
        }
        consumer.commit().await?; // one commit per batch
        let committed = consumer.committed(&tp).await?.map(|c| c.offset);
        check!(
            committed == Some(next),
            "after a batch ending at {} the committed offset is {committed:?}",
            next - 1
        );
        sizes.push(batch.len());
    }
    check!(
        sizes.iter().all(|&n| (1..=100).contains(&n)),
        "batch sizes {sizes:?}"
    );
    println!(
        "commit_per_batch: 250 records in {} batches of at most 100 ({sizes:?}), one commit each",
        sizes.len()
    );
    consumer.close().await?;
    Ok(())
}

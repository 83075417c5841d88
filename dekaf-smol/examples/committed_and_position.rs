//! The committed offset (asked of the group coordinator) and the position (the next record
//! this consumer will receive) are different things: reading moves the position, committing
//! moves the committed offset.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example committed_and_position`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use common::{create_topic, fill, unique, wait_for, within, Result, PATIENCE};
use dekaf_smol::{AutoOffsetReset, Consumer, OffsetCommitMode, TopicPartition};

fn main() -> std::process::ExitCode {
    common::main("committed_and_position", run)
}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (topic, group) = (unique("positions"), unique("positions-group"));
    create_topic(&bootstrap, &topic, 2).await?;
    fill(&bootstrap, &topic, 0, 0, 10).await?;
    let tp = TopicPartition::new(topic.as_str(), 0);
    let other = TopicPartition::new(topic.as_str(), 1);

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.assign([tp.clone()])?;
    for want in 0..4 {
        let record = within(PATIENCE, "a record", consumer.recv()).await??;
        check!(
            record.offset() == want,
            "offset {} instead of {want}",
            record.offset()
        );
    }
    let position = consumer.position(&tp);
    let committed = consumer.committed(&tp).await?;
    check!(
        position == Some(4),
        "position {position:?} after reading 0..=3"
    );
    check!(
        committed.is_none(),
        "committed {committed:?} before any commit"
    );
    println!("committed_and_position: read offsets 0..=3: position 4, nothing committed");

    let lag = wait_for(PATIENCE, "the lag", || async { Ok(consumer.lag(&tp)) }).await?;
    check!(lag == 6, "lag {lag} with 10 records and position 4");
    println!("  lag: 6 records after the position");

    consumer.commit().await?;
    let committed = consumer.committed(&tp).await?.map(|c| c.offset);
    check!(
        committed == Some(4),
        "committed {committed:?} after commit()"
    );
    println!("  after commit(): committed offset 4, the position");

    check!(
        consumer.position(&other).is_none(),
        "a partition not assigned has a position"
    );
    let committed = consumer.committed(&other).await?;
    check!(
        committed.is_none(),
        "partition 1 has a committed offset {committed:?}"
    );
    println!("  partition 1 (not assigned): no position, no committed offset");
    consumer.close().await?;
    Ok(())
}

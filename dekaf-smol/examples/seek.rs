//! Seek to an offset, to the beginning and to the end: the next record received is the one
//! there.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example seek`

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use common::{
    create_topic, fill_one_by_one, now_millis, unique, wait_for, within, Result, PATIENCE,
};
use dekaf_smol::{
    AutoOffsetReset, Consumer, OffsetCommitMode, TopicPartition, TopicPartitionOffset,
};

fn main() -> std::process::ExitCode {
    common::main("seek", run)
}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (topic, group) = (unique("seek"), unique("seek-group"));
    create_topic(&bootstrap, &topic, 1).await?;
    fill_one_by_one(&bootstrap, &topic, 0, 0, &[now_millis(); 10]).await?;
    let tp = TopicPartition::new(topic.as_str(), 0);

    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.assign([tp.clone()])?;
    let mut read = 0;
    while read < 10 {
        read += within(PATIENCE, "records", consumer.recv_batch(100))
            .await??
            .len();
    }
    println!("seek: read offsets 0..=9");

    consumer.seek(TopicPartitionOffset::new(topic.as_str(), 0, 3))?;
    check!(
        consumer.position(&tp) == Some(3),
        "position {:?} after seek to 3",
        consumer.position(&tp)
    );
    let record = within(PATIENCE, "a record", consumer.recv()).await??;
    check!(
        record.offset() == 3,
        "after seek to 3 the next record is {}",
        record.offset()
    );
    println!("  seek to 3: next record is offset 3");

    consumer.seek_to_beginning([tp.clone()])?;
    let record = within(PATIENCE, "a record", consumer.recv()).await??;
    check!(
        record.offset() == 0,
        "after seek to the beginning the next record is {}",
        record.offset()
    );
    println!("  seek to the beginning: next record is offset 0");

    consumer.seek_to_end([tp.clone()])?;
    let end = wait_for(PATIENCE, "the end offset", || async {
        Ok(consumer.position(&tp))
    })
    .await?;
    check!(end == 10, "after seek to the end the position is {end}");
    fill_one_by_one(&bootstrap, &topic, 0, 10, &[now_millis()]).await?;
    let record = within(PATIENCE, "a record", consumer.recv()).await??;
    check!(
        record.offset() == 10,
        "after seek to the end the next record is {}",
        record.offset()
    );
    println!(
        "  seek to the end: position 10; only the record written afterwards (offset 10) comes"
    );
    consumer.close().await?;
    Ok(())
}

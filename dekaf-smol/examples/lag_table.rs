//! A lag table every second, from `Consumer::metrics`: a slow consumer of a group reads a
//! topic of three partitions while the table shows, per partition, its position, committed
//! offset, high watermark, lag and fetch rate, and the group's generation and rebalances.
//! At the end the lag is zero and the numbers add up to what was read.
//!
//! `DEKAF_BOOTSTRAP=127.0.0.1:9092 cargo run -p dekaf-smol --example lag_table`
//! (`RUST_LOG=dekaf_smol=debug` adds a line per request.)

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{create_topic, fill, unique, wait_for, within, Result, PATIENCE};
use dekaf_smol::metrics::ConsumerMetrics;
use dekaf_smol::{AutoOffsetReset, Consumer};
use smol::future;

const PARTITIONS: i32 = 3;
const PER_PARTITION: i64 = 40;

fn main() -> std::process::ExitCode {
    common::main("lag_table", run)
}

/// The table, one line per partition and one for the group.
fn table(m: &ConsumerMetrics) -> String {
    let show = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
    let mut out = format!(
        "  {:<32} {:>4} {:>8} {:>9} {:>9} {:>5} {:>9}\n",
        "topic", "part", "position", "committed", "watermark", "lag", "fetched/s"
    );
    for p in &m.partitions {
        out += &format!(
            "  {:<32} {:>4} {:>8} {:>9} {:>9} {:>5} {:>9.0}\n",
            p.topic_partition.topic(),
            p.topic_partition.partition(),
            show(p.position),
            show(p.committed),
            show(p.high_watermark),
            show(p.lag),
            p.records_per_second,
        );
    }
    if let Some(g) = &m.group {
        out += &format!(
            "  group {}: {} in generation {}, {} rebalance(s); {} consumed, total lag {}\n",
            g.group_id,
            g.state,
            g.generation,
            g.rebalances,
            m.records_consumed,
            m.total_lag()
        );
    }
    out
}

/// Runs the example against the broker at `bootstrap`.
pub async fn run(bootstrap: String) -> Result {
    let (topic, group) = (unique("lag"), unique("lag-group"));
    create_topic(&bootstrap, &topic, PARTITIONS).await?;
    for p in 0..PARTITIONS {
        fill(&bootstrap, &topic, p, 0, PER_PARTITION).await?;
    }
    let total = PER_PARTITION * i64::from(PARTITIONS);
    let consumer = Consumer::builder()
        .bootstrap_servers(&bootstrap)
        .group_id(&group)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .auto_commit_interval(Duration::from_millis(500))
        .build()
        .await?;
    consumer.subscribe([topic.as_str()])?;

    // A slow application: 10 ms per record.
    let read = async {
        for _ in 0..total {
            within(PATIENCE, "a record", consumer.recv()).await??;
            smol::Timer::after(Duration::from_millis(10)).await;
        }
        Result::Ok(())
    };
    // The table, every second until the reader is done.
    let show = async {
        loop {
            smol::Timer::after(Duration::from_secs(1)).await;
            print!("{}", table(&consumer.metrics().await?));
        }
        #[allow(unreachable_code)]
        Result::Ok(())
    };
    future::or(read, show).await?;
    // Done with the last record too (Auto mode commits a record once the next is asked for).
    consumer.commit().await?;

    // Caught up: the lag is zero once a fetch answer came back after the last record.
    let m = wait_for(PATIENCE, "no lag and everything committed", || async {
        let m = consumer.metrics().await?;
        let done = m.partitions.len() == PARTITIONS as usize
            && m.partitions
                .iter()
                .all(|p| p.lag == Some(0) && p.committed == Some(PER_PARTITION));
        Ok(done.then_some(m))
    })
    .await?;
    print!("{}", table(&m));
    check!(
        m.records_consumed == total as u64,
        "consumed {} of {total}",
        m.records_consumed
    );
    let fetched: u64 = m.partitions.iter().map(|p| p.records_fetched).sum();
    check!(fetched >= total as u64, "fetched {fetched} of {total}");
    check!(
        m.group.as_ref().is_some_and(|g| g.rebalances >= 1),
        "no rebalance counted: {:?}",
        m.group
    );
    check!(
        m.commits.succeeded >= 1,
        "no commit counted: {:?}",
        m.commits
    );
    consumer.close().await?;
    Ok(())
}

//! Commit latency while fetching: a consumer that has read everything keeps a fetch long
//! poll open on its partition's leader (up to the fetch max wait, 500 ms for both clients by
//! default) and commits synchronously, again and again. What each commit waits for is the
//! figure: a commit that shares a connection with the fetch waits behind the long poll, since
//! a broker answers one connection's requests in order.
//!
//! Each client runs in a process of its own (`dekaf-bench commit-one CLIENT ADDR TOPIC
//! RECORDS COMMITS`), which prints one `LATENCIES` line of microseconds for the parent.

use std::time::{Duration, Instant};

/// One latency per commit, in microseconds, of a dekaf-smol consumer in Manual mode:
/// assign partition 0 from offset 0, read `records`, then commit `commits` times.
pub fn dekaf(addr: &str, topic: &str, records: u64, commits: usize) -> Result<Vec<u64>, String> {
    use dekaf_smol::{Consumer, OffsetCommitMode, TopicPartition, TopicPartitionOffset};

    futures_lite::future::block_on(async {
        let consumer = Consumer::builder()
            .bootstrap_servers(addr)
            .group_id(format!("{topic}-dekaf-{}", std::process::id()))
            .offset_commit_mode(OffsetCommitMode::Manual)
            .build()
            .await
            .map_err(|e| format!("build: {e}"))?;
        let tp = TopicPartition::new(topic, 0);
        consumer
            .assign([tp.clone()])
            .map_err(|e| format!("assign: {e}"))?;
        consumer
            .seek(TopicPartitionOffset::at(tp.clone(), 0))
            .map_err(|e| format!("seek: {e}"))?;
        let mut read = 0;
        while read < records {
            read += consumer
                .recv_batch(1024)
                .await
                .map_err(|e| format!("recv_batch: {e}"))?
                .len() as u64;
        }
        let mut latencies = Vec::with_capacity(commits);
        for _ in 0..commits {
            let started = Instant::now();
            consumer
                .commit_offsets([TopicPartitionOffset::at(tp.clone(), read as i64)])
                .await
                .map_err(|e| format!("commit: {e}"))?;
            latencies.push(started.elapsed().as_micros() as u64);
        }
        consumer.close().await.map_err(|e| format!("close: {e}"))?;
        Ok(latencies)
    })
}

/// The same with librdkafka's `BaseConsumer` and `commit(CommitMode::Sync)`.
pub fn rdkafka(addr: &str, topic: &str, records: u64, commits: usize) -> Result<Vec<u64>, String> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::{Offset, TopicPartitionList};

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set(
            "group.id",
            format!("{topic}-rdkafka-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()
        .map_err(|e| format!("create: {e}"))?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(0))
        .map_err(|e| format!("partition list: {e}"))?;
    consumer.assign(&tpl).map_err(|e| format!("assign: {e}"))?;
    let mut read = 0;
    while read < records {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => read += 1,
            Some(Err(e)) => return Err(format!("poll: {e}")),
            None => {}
        }
    }
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset(topic, 0, Offset::Offset(read as i64))
        .map_err(|e| format!("partition list: {e}"))?;
    let mut latencies = Vec::with_capacity(commits);
    for _ in 0..commits {
        let started = Instant::now();
        consumer
            .commit(&offsets, CommitMode::Sync)
            .map_err(|e| format!("commit: {e}"))?;
        latencies.push(started.elapsed().as_micros() as u64);
        // Serve librdkafka's queue between commits, as an application's loop would.
        if let Some(Err(e)) = consumer.poll(Duration::ZERO) {
            return Err(format!("poll: {e}"));
        }
    }
    Ok(latencies)
}

/// The `q` quantile (0 < q ≤ 1) of sorted values: the smallest value at least a fraction `q`
/// of the values are at or below.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_are_values_of_the_sample() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), 50);
        assert_eq!(quantile(&v, 0.99), 99);
        assert_eq!(quantile(&v, 1.0), 100);
        assert_eq!(quantile(&[7], 0.5), 7);
        assert_eq!(quantile(&[], 0.5), 0);
    }
}

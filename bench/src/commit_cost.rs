//! Commit cost: a consumer in Manual mode reads a 1-partition topic from offset 0 and commits
//! after every record, or after every `every` records; what the commits cost shows as
//! records/s and commits/s. dekaf-smol's `commit()` (which waits for the coordinator's
//! answer; dekaf has no fire-and-forget commit) against librdkafka's `commit_message` with
//! `CommitMode::Sync` and `CommitMode::Async`.
//!
//! Each run is a process of its own (`dekaf-bench commit-cost-one CLIENT ADDR TOPIC RECORDS
//! EVERY`), which prints one `RESULT` line for the parent.

use std::time::{Duration, Instant};

/// What one run did.
pub struct Run {
    pub records: u64,
    pub commits: u64,
    pub secs: f64,
}

/// dekaf-smol: assign partition 0 from offset 0, `recv_batch(every)` (so that a batch ends
/// where a commit is due), `commit()` after each `every` records.
pub fn dekaf(addr: &str, topic: &str, records: u64, every: u64) -> Result<Run, String> {
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
            .seek(TopicPartitionOffset::at(tp, 0))
            .map_err(|e| format!("seek: {e}"))?;
        let started = Instant::now();
        let (mut read, mut commits, mut since) = (0, 0, 0);
        while read < records {
            let want = (every - since).min(records - read) as usize;
            let n = consumer
                .recv_batch(want)
                .await
                .map_err(|e| format!("recv_batch: {e}"))?
                .len() as u64;
            read += n;
            since += n;
            if since == every || read == records {
                consumer
                    .commit()
                    .await
                    .map_err(|e| format!("commit: {e}"))?;
                commits += 1;
                since = 0;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        consumer.close().await.map_err(|e| format!("close: {e}"))?;
        Ok(Run {
            records: read,
            commits,
            secs,
        })
    })
}

/// librdkafka's `BaseConsumer`: `commit_message` of every `every`-th record (and the last),
/// synchronously or not; an asynchronous run ends with one synchronous commit, so that every
/// commit it asked for is done within the time measured.
pub fn rdkafka(
    addr: &str,
    topic: &str,
    records: u64,
    every: u64,
    sync: bool,
) -> Result<Run, String> {
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
        .set("fetch.queue.backoff.ms", "0")
        .create()
        .map_err(|e| format!("create: {e}"))?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(0))
        .map_err(|e| format!("partition list: {e}"))?;
    consumer.assign(&tpl).map_err(|e| format!("assign: {e}"))?;
    let mode = if sync {
        CommitMode::Sync
    } else {
        CommitMode::Async
    };
    let started = Instant::now();
    let (mut read, mut commits) = (0, 0);
    while read < records {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                read += 1;
                if read % every == 0 || read == records {
                    consumer
                        .commit_message(&m, mode)
                        .map_err(|e| format!("commit: {e}"))?;
                    commits += 1;
                }
            }
            Some(Err(e)) => return Err(format!("poll: {e}")),
            None => {}
        }
    }
    if !sync {
        consumer
            .commit_consumer_state(CommitMode::Sync)
            .map_err(|e| format!("final commit: {e}"))?;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(Run {
        records: read,
        commits,
        secs,
    })
}

//! `dekaf consume`: prints a topic's records, alone or as a member of a group.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use dekaf_smol::{
    AutoOffsetReset, Consumer, ConsumerRecord, OffsetCommitMode, TopicPartition,
    TopicPartitionOffset, TopicPartitionTimestamp,
};
use serde_json::json;

use crate::cli::{ConsumeArgs, Start};
use crate::format::{Format, Parts};
use crate::progress::Progress;
use crate::{Context, Failure};

/// How long one wait for records lasts before the end-of-log check runs again.
const TICK: Duration = Duration::from_millis(200);

/// The most records taken at once.
const BATCH: usize = 1000;

/// Runs `consume`.
pub async fn run(cx: &Context, args: ConsumeArgs) -> Result<(), Failure> {
    let topic = args.topic.as_str();
    if args.group.is_some() && matches!(args.from, Start::Offset(_) | Start::Time(_)) {
        return Err(Failure::Usage(
            "with --group, the group's committed offsets say where to start: --from is \
             beginning or end, for partitions without one"
                .into(),
        ));
    }
    // The topic and partition are checked first: a consumer would wait for a topic that
    // does not exist.
    let admin = cx.settings.admin().await?;
    let mut described = admin.describe_topics([topic]).await?;
    let description = described
        .remove(topic)
        .unwrap_or(Err(dekaf_smol::AdminError::Missing))
        .map_err(|e| Failure::failed(format!("topic {topic}: {e}")))?;
    let mut partitions: Vec<TopicPartition> = description
        .partitions
        .iter()
        .map(|p| TopicPartition::new(topic, p.partition))
        .collect();
    if let Some(p) = args.partition {
        if !partitions.iter().any(|tp| tp.partition() == p) {
            return Err(Failure::failed(format!(
                "topic {topic} has no partition {p} (it has {} partitions)",
                partitions.len()
            )));
        }
        partitions = vec![TopicPartition::new(topic, p)];
    }
    admin.close();

    let mut builder = cx
        .settings
        .consumer()
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(match args.from {
            Start::End => AutoOffsetReset::Latest,
            _ => AutoOffsetReset::Earliest,
        })
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_secs(1));
    if let Some(group) = &args.group {
        builder = builder.group_id(group);
    }
    let consumer = builder.build().await?;
    consumer.ready(cx.settings.ready_timeout()).await?;
    if args.group.is_some() && args.partition.is_none() {
        consumer.subscribe([topic])?;
    } else {
        consumer.assign(partitions.clone())?;
        if args.group.is_none() {
            start_at(&consumer, &partitions, args.from).await?;
        }
    }

    let result = print_records(cx, &consumer, &args).await;
    let closed = consumer.close().await;
    result?;
    closed.map_err(Failure::from)
}

/// Moves the assigned `partitions` to where `--from` says.
async fn start_at(
    consumer: &Consumer,
    partitions: &[TopicPartition],
    from: Start,
) -> Result<(), Failure> {
    match from {
        Start::Beginning => consumer.seek_to_beginning(partitions.iter().cloned())?,
        Start::End => consumer.seek_to_end(partitions.iter().cloned())?,
        Start::Offset(n) => {
            for tp in partitions {
                consumer.seek(TopicPartitionOffset::at(tp.clone(), n))?;
            }
        }
        Start::Time(ms) => {
            let found = consumer
                .offsets_for_times(
                    partitions
                        .iter()
                        .map(|tp| TopicPartitionTimestamp::new(tp.topic(), tp.partition(), ms)),
                )
                .await?;
            for (tp, at) in found {
                // No record that recent: Kafka answers no offset, tansu offset 0 with
                // timestamp -1.
                match at.filter(|at| at.offset >= 0 && at.timestamp >= 0) {
                    Some(at) => consumer.seek(TopicPartitionOffset::at(tp, at.offset))?,
                    None => consumer.seek_to_end([tp])?,
                }
            }
        }
    }
    Ok(())
}

/// Prints records until the count is reached, or the end of the log with `--exit-at-end`;
/// as a member of a group, commits what it printed after each batch.
async fn print_records(
    cx: &Context,
    consumer: &Consumer,
    args: &ConsumeArgs,
) -> Result<(), Failure> {
    let mut progress = Progress::new("records consumed").unless_stdout_is_a_terminal();
    let mut out = Vec::new();
    loop {
        let remaining = args.count.map(|n| n.saturating_sub(progress.count()));
        if remaining == Some(0) {
            break;
        }
        if args.exit_at_end && at_end(consumer) {
            break;
        }
        let max = remaining.map_or(BATCH, |r| r.min(BATCH as u64) as usize);
        let batch = async { Some(consumer.recv_batch(max).await) };
        let tick = async {
            async_io::Timer::after(TICK).await;
            None
        };
        let records = match futures_lite::future::or(batch, tick).await {
            None => continue,
            Some(Ok(records)) => records,
            Some(Err(e)) if e.is_retriable() => {
                eprintln!("dekaf: warning: {e}");
                continue;
            }
            Some(Err(e)) => return Err(e.into()),
        };
        out.clear();
        for record in &records {
            write_record(cx.json, &args.format, record, &mut out);
        }
        let mut stdout = std::io::stdout().lock();
        match stdout.write_all(&out).and_then(|()| stdout.flush()) {
            // A reader that stopped (`| head`) ends the command, nothing wrong.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
            result => result?,
        }
        drop(stdout);
        progress.add(records.len() as u64);
        if args.group.is_some() {
            commit(consumer, &records).await?;
        }
    }
    progress.finish();
    Ok(())
}

/// Whether every assigned partition is at its end, as of the last fetch answer.
fn at_end(consumer: &Consumer) -> bool {
    let assigned = consumer.assignment();
    !assigned.is_empty() && assigned.iter().all(|tp| consumer.lag(tp) == Some(0))
}

/// Commits the offset after the last of `records` in each partition.
async fn commit(consumer: &Consumer, records: &[ConsumerRecord]) -> Result<(), Failure> {
    let mut last: BTreeMap<TopicPartition, TopicPartitionOffset> = BTreeMap::new();
    for r in records {
        last.insert(r.topic_partition().clone(), r.offset_to_commit());
    }
    if last.is_empty() {
        return Ok(());
    }
    match consumer.commit_offsets(last.into_values()).await {
        Err(e) if e.is_retriable() || e.is_rebalance() => {
            eprintln!("dekaf: warning: commit: {e}");
            Ok(())
        }
        result => result.map_err(|e| Failure::failed(format!("commit: {e}"))),
    }
}

/// Appends one record as the format says, or as a JSON object on a line of its own.
fn write_record(json: bool, format: &Format, r: &ConsumerRecord, out: &mut Vec<u8>) {
    let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
    if json {
        let value = json!({
            "topic": r.topic(),
            "partition": r.partition(),
            "offset": r.offset(),
            "timestamp": r.timestamp(),
            "key": text(r.key()),
            "value": text(r.value()),
            "headers": r.headers().iter().map(|h| json!([
                String::from_utf8_lossy(&h.key),
                text(h.value.as_deref()),
            ])).collect::<Vec<_>>(),
        });
        out.extend_from_slice(value.to_string().as_bytes());
        out.push(b'\n');
        return;
    }
    let headers: Vec<(&[u8], Option<&[u8]>)> = r
        .headers()
        .iter()
        .map(|h| (h.key.as_ref(), h.value.as_deref()))
        .collect();
    format.write(
        &Parts {
            topic: r.topic(),
            partition: r.partition(),
            offset: r.offset(),
            key: r.key(),
            value: r.value(),
            timestamp: r.timestamp(),
            headers: &headers,
        },
        out,
    );
}

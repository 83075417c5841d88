//! dekaf-smol's consumer and producer against tansu: crashes (a consumer process killed with
//! SIGKILL before and after committing), typed errors, explicit acks and stores, pause,
//! watermarks, key partitioning, and the driver on an application's executor.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::future::IntoFuture;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{create_topic, fill, unique, wait_for, within};
use dekaf_proto::messages::produce::{PartitionProduceData, TopicProduceData};
use dekaf_proto::messages::ProduceRequest;
use dekaf_proto::records::RecordBatchBuilder;
use dekaf_smol::producer::partition_for_key;
use dekaf_smol::{
    AckMode, AutoOffsetReset, CommitPolicy, Consumer, Error, ErrorCode, Fault, MetadataProblem,
    OffsetCommitMode, OffsetError, PositionError, Producer, ProducerRecord, Spawner,
    TopicPartition, TopicPartitionOffset,
};
use dekaf_tests::broker::{free_port, temp_dir};
use dekaf_tests::{Broker, Build, Engine};

/// How long a test waits for any one thing.
const WAIT: Duration = Duration::from_secs(30);

type Result<T = ()> = common::Result<T>;

fn engine(build: Build) -> Engine {
    match build {
        Build::W => Engine::Memory,
        Build::C => Engine::Sqlite(temp_dir("smol-consumer")),
    }
}

/// Runs `test` against a fresh broker of each build that is installed.
fn on_both_builds<F, Fut>(name: &str, test: F)
where
    F: Fn(Build, String) -> Fut,
    Fut: std::future::Future<Output = Result>,
{
    for build in Build::ALL {
        let Some(broker) = Broker::start(build, engine(build)) else {
            continue;
        };
        if let Err(e) = smol::block_on(test(build, broker.addr().to_string())) {
            panic!("{name} on {build}: {e}");
        }
    }
}

fn manual(bootstrap: &str, group: &str) -> dekaf_smol::ConsumerBuilder {
    Consumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
}

// ----- crashes -----

/// The crash consumer, running, and what it reported until it went idle.
struct Crashing {
    child: Child,
    processed: Vec<i64>,
    committed: Option<i64>,
}

impl Drop for Crashing {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the crash consumer and waits until it has processed `total` records.
fn start_crashing(
    bootstrap: &str,
    topic: &str,
    group: &str,
    commit_after: i64,
    total: i64,
) -> Crashing {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_consumer"))
        .args([bootstrap, topic, group])
        .args([commit_after.to_string(), total.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn crash_consumer");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut crashing = Crashing {
        child,
        processed: Vec::new(),
        committed: None,
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!("crash_consumer stopped reporting: {:?}", crashing.processed)
        });
        match line.split_once(' ') {
            Some(("processed", n)) => crashing.processed.push(n.parse().expect("an offset")),
            Some(("committed", n)) => crashing.committed = Some(n.parse().expect("an offset")),
            _ if line == "idle" => return crashing,
            _ => panic!("crash_consumer said {line:?}"),
        }
    }
}

/// Kills the process like `kill -9`: no destructor, no close, no last commit.
fn kill_9(mut crashing: Crashing) {
    crashing.child.kill().expect("SIGKILL");
    let status = crashing.child.wait().expect("wait");
    assert!(!status.success(), "the consumer exited by itself: {status}");
}

/// Reads partition 0 with a new consumer of `group` until `last` arrives; returns the
/// offsets read and the committed offset it found.
async fn read_back(
    bootstrap: &str,
    topic: &str,
    group: &str,
    last: i64,
) -> Result<(Vec<i64>, Option<i64>)> {
    let tp = TopicPartition::new(topic, 0);
    let consumer = manual(bootstrap, group).build().await?;
    let committed = consumer.committed(&tp).await?.map(|c| c.offset);
    consumer.assign([tp])?;
    let mut offsets = Vec::new();
    while offsets.last() != Some(&last) {
        let record = within(WAIT, "a record", consumer.recv()).await??;
        offsets.push(record.offset());
    }
    consumer.close().await?;
    Ok((offsets, committed))
}

#[test]
fn killed_before_committing_redelivers_exactly_the_uncommitted_records() {
    on_both_builds("crash before commit", |_, bootstrap| async move {
        let (topic, group) = (unique("crash"), unique("crash-group"));
        create_topic(&bootstrap, &topic, 1).await?;
        fill(&bootstrap, &topic, 0, 0, 20).await?;
        let crashing = start_crashing(&bootstrap, &topic, &group, 12, 20);
        check!(
            crashing.processed == (0..20).collect::<Vec<_>>() && crashing.committed == Some(12),
            "the consumer reported {:?}, committed {:?}",
            crashing.processed,
            crashing.committed
        );
        kill_9(crashing);
        // A record written after the crash marks the end of what there is to read.
        fill(&bootstrap, &topic, 0, 20, 1).await?;
        let (offsets, committed) = read_back(&bootstrap, &topic, &group, 20).await?;
        check!(
            committed == Some(12),
            "committed offset {committed:?} after the crash"
        );
        check!(
            offsets == (12..=20).collect::<Vec<_>>(),
            "after the crash a new consumer read {offsets:?}: want 12..=19 again, then 20"
        );
        Ok(())
    });
}

#[test]
fn killed_after_committing_resumes_right_after_the_last_committed_record() {
    on_both_builds("crash after commit", |_, bootstrap| async move {
        let (topic, group) = (unique("crash-committed"), unique("crash-committed-group"));
        create_topic(&bootstrap, &topic, 1).await?;
        fill(&bootstrap, &topic, 0, 0, 15).await?;
        let crashing = start_crashing(&bootstrap, &topic, &group, 15, 15);
        check!(
            crashing.committed == Some(15),
            "committed {:?}",
            crashing.committed
        );
        kill_9(crashing);
        fill(&bootstrap, &topic, 0, 15, 1).await?;
        let (offsets, committed) = read_back(&bootstrap, &topic, &group, 15).await?;
        check!(
            committed == Some(15),
            "committed offset {committed:?} after the crash"
        );
        check!(
            offsets == [15],
            "after the crash a new consumer read {offsets:?}"
        );
        Ok(())
    });
}

// ----- errors -----

#[test]
fn build_does_not_wait_for_a_broker_and_ready_says_none_answers() {
    let addr = free_port().expect("a free port");
    let started = Instant::now();
    let consumer = smol::block_on(
        Consumer::builder()
            .bootstrap_servers(addr.to_string())
            .connect_timeout(Duration::from_millis(500))
            .build(),
    )
    .expect("built without a broker");
    let Err(e) = smol::block_on(consumer.ready(Duration::from_millis(500))) else {
        panic!("ready with nothing listening on {addr}");
    };
    assert!(matches!(e, Error::NoBrokerAvailable { .. }), "{e:?}");
    assert!(e.is_retriable() && !e.is_fatal() && !e.is_rebalance());
    // The message names the cause and reads the wait as a person writes it.
    let text = e.to_string();
    assert!(text.contains("refused"), "no cause in {text:?}");
    // "within 502 ms" on a busy machine: a duration as people write it, never raw nanoseconds.
    assert!(text.contains(" ms:") || text.contains(" s:"), "{text}");
    assert!(!text.contains("Some(") && !text.contains("0000"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let e = smol::block_on(Producer::builder().bootstrap_servers("").build()).unwrap_err();
    assert!(matches!(e, Error::Config(_)) && e.is_fatal(), "{e:?}");
}

/// Clients built while the broker is down: the admin's calls fail with their own timeout,
/// and once the broker is up the same clients create a topic, write and read it.
#[test]
fn clients_built_while_the_broker_is_down_work_once_it_is_up() {
    let addr = free_port().expect("a free port");
    let run = async {
        let admin = dekaf_smol::Admin::builder()
            .bootstrap_servers(addr.to_string())
            .request_timeout(Duration::from_secs(2))
            .build()
            .await?;
        let producer = Producer::builder()
            .bootstrap_servers(addr.to_string())
            .build()
            .await?;
        let consumer = manual(&addr.to_string(), &unique("down-group"))
            .build()
            .await?;
        let early = within(WAIT, "a call without a broker", admin.list_topics(false)).await?;
        assert!(early.is_err(), "listed topics with no broker: {early:?}");
        let Some(broker) = Broker::start_at(Build::W, Engine::Memory, addr) else {
            return Ok(None);
        };
        admin.ready(WAIT).await?;
        let topic = unique("down");
        admin
            .create_topic(dekaf_smol::NewTopic::new(&topic, 1).replication_factor(1))
            .await?;
        let sent = within(
            WAIT,
            "a delivery",
            producer
                .send(ProducerRecord::new(topic.as_str()).value("after the start"))
                .into_future(),
        )
        .await??;
        consumer.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let record = within(WAIT, "a record", consumer.recv()).await??;
        assert_eq!(record.value(), Some(&b"after the start"[..]));
        assert_eq!(Some(record.offset()), sent.offset());
        consumer.close().await?;
        producer.close().await?;
        Result::<Option<Broker>>::Ok(Some(broker))
    };
    if let Err(e) = smol::block_on(run) {
        panic!("{e}");
    }
}

/// A bootstrap name that does not resolve is a configuration error, reported at once (as
/// Java's client does) instead of after the connect timeout.
#[test]
fn build_fails_at_once_when_no_bootstrap_name_resolves() {
    let result = smol::block_on(
        Consumer::builder()
            .bootstrap_servers("nohost.invalid:9092")
            .connect_timeout(Duration::from_secs(60))
            .build(),
    );
    let Err(e) = result else {
        panic!("a consumer was built for a host that does not exist");
    };
    assert!(matches!(e, Error::Config(_)) && e.is_fatal(), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("nohost.invalid:9092") && text.contains("resolve"),
        "{text}"
    );
}

#[test]
fn misuse_is_refused_with_offset_errors() {
    on_both_builds("misuse", |_, bootstrap| async move {
        let topic = unique("misuse");
        create_topic(&bootstrap, &topic, 2).await?;
        let consumer = manual(&bootstrap, &unique("misuse-group")).build().await?;
        consumer.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let e = consumer
            .commit_offsets([TopicPartitionOffset::new(topic.as_str(), 1, 5)])
            .await
            .expect_err("commit of a partition not assigned");
        check!(
            matches!(e, Error::Offset(OffsetError::NotAssigned(_))),
            "{e:?}"
        );
        check!(
            e.fault() == Fault::Application && !e.is_retriable() && e.error_code().is_none(),
            "{e:?}"
        );
        let e = consumer
            .seek(TopicPartitionOffset::new(topic.as_str(), 0, -3))
            .expect_err("a negative seek");
        check!(
            matches!(e, Error::Offset(OffsetError::NegativeOffset { .. })),
            "{e:?}"
        );
        consumer.close().await?;

        let groupless = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .await?;
        groupless.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let e = groupless
            .commit()
            .await
            .expect_err("a commit without a group");
        check!(matches!(e, Error::Offset(OffsetError::NoGroup)), "{e:?}");
        groupless.close().await?;
        Ok(())
    });
}

#[test]
fn fetch_problems_come_out_of_recv_with_their_kind() {
    on_both_builds("recv errors", |_, bootstrap| async move {
        // No committed offset and no reset policy: the partition has no position.
        let topic = unique("no-reset");
        create_topic(&bootstrap, &topic, 1).await?;
        let consumer = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .group_id(unique("no-reset-group"))
            .auto_offset_reset(AutoOffsetReset::None)
            .build()
            .await?;
        consumer.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let e = within(WAIT, "an error", consumer.recv())
            .await?
            .expect_err("a record without a position");
        check!(
            matches!(
                &e,
                Error::Position {
                    error: PositionError::NoCommittedOffset,
                    ..
                }
            ),
            "{e:?}"
        );
        check!(e.fault() == Fault::Application && !e.is_fatal(), "{e:?}");
        consumer.close().await?;

        // A topic that does not exist.
        let missing = unique("missing");
        let consumer = manual(&bootstrap, &unique("missing-group")).build().await?;
        consumer.assign([TopicPartition::new(missing.as_str(), 0)])?;
        let e = within(WAIT, "an error", consumer.recv())
            .await?
            .expect_err("a record of a topic that does not exist");
        check!(
            matches!(&e, Error::Metadata(MetadataProblem::Topic { .. }))
                && e.error_code() == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                && e.is_retriable(),
            "{e:?}"
        );
        consumer.close().await?;
        Ok(())
    });
}

// ----- acknowledgements, stores, pause -----

#[test]
fn explicit_acks_commit_the_acknowledged_prefix() {
    on_both_builds("explicit acks", |_, bootstrap| async move {
        let (topic, group) = (unique("acks"), unique("acks-group"));
        create_topic(&bootstrap, &topic, 1).await?;
        fill(&bootstrap, &topic, 0, 0, 5).await?;
        let tp = TopicPartition::new(topic.as_str(), 0);
        let consumer = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .group_id(&group)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .ack_mode(AckMode::Explicit)
            .auto_commit_interval(Duration::from_millis(50))
            .build()
            .await?;
        consumer.assign([tp.clone()])?;
        let records = within(WAIT, "5 records", async {
            let mut all = Vec::new();
            while all.len() < 5 {
                all.extend(consumer.recv_batch(5).await?);
            }
            Ok::<_, Error>(all)
        })
        .await??;
        for i in [0, 1, 3] {
            consumer.ack(&records[i])?;
        }
        let committed = |want: i64| {
            let (consumer, tp) = (&consumer, &tp);
            wait_for(WAIT, "the committed offset", move || async move {
                let c = consumer.committed(tp).await?.map(|c| c.offset);
                Ok((c == Some(want)).then_some(()))
            })
        };
        committed(2).await?; // 0 and 1 done; 2 is not, so 3 is not committed yet
        consumer.ack(&records[2])?;
        committed(4).await?;
        check!(
            consumer.ack(&records[2]).is_err(),
            "a second ack of the same record"
        );
        consumer.close().await?;
        Ok(())
    });
}

#[test]
fn without_auto_store_only_stored_offsets_are_committed() {
    on_both_builds("store", |_, bootstrap| async move {
        let (topic, group) = (unique("store"), unique("store-group"));
        create_topic(&bootstrap, &topic, 1).await?;
        fill(&bootstrap, &topic, 0, 0, 5).await?;
        let tp = TopicPartition::new(topic.as_str(), 0);
        let consumer = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .group_id(&group)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .auto_offset_store(false)
            .commit_policy(CommitPolicy::Interval(Duration::from_millis(50)))
            .build()
            .await?;
        consumer.assign([tp.clone()])?;
        let mut records = Vec::new();
        while records.len() < 5 {
            records.extend(within(WAIT, "records", consumer.recv_batch(5)).await??);
        }
        consumer.store(&records[2])?;
        consumer.close().await?; // commits what is stored: offset 3
        let consumer = manual(&bootstrap, &group).build().await?;
        let committed = consumer.committed(&tp).await?.map(|c| c.offset);
        check!(
            committed == Some(3),
            "committed {committed:?}, want 3 (stored)"
        );
        consumer.close().await?;
        Ok(())
    });
}

/// The application's handler: fails on the record at `bad`.
async fn handle(record: &dekaf_smol::ConsumerRecord, bad: i64) -> Result {
    if record.offset() == bad {
        return Err(format!("cannot process the record at {bad}").into());
    }
    Ok(())
}

/// An Auto-mode consumer of `group` whose handler fails on the record at `bad`; the loop
/// leaves with `?` (the consumer is dropped, not closed) unless `close` is set. Subscribes
/// to `topic` when `subscribe`, else assigns its partition 0.
async fn consume_until_failure(
    bootstrap: &str,
    topic: &str,
    group: &str,
    bad: i64,
    subscribe: bool,
    close: bool,
) -> Result {
    let consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(group)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        // Only the close or the drop commits: no background commit in between.
        .auto_commit_interval(Duration::from_secs(3600))
        .build()
        .await?;
    if subscribe {
        consumer.subscribe([topic])?;
    } else {
        consumer.assign([TopicPartition::new(topic, 0)])?;
    }
    let failed = async {
        loop {
            let record = within(WAIT, "a record", consumer.recv()).await??;
            handle(&record, bad).await?;
        }
    };
    let failed: Result<std::convert::Infallible> = failed.await;
    let Err(e) = failed;
    assert!(
        e.to_string().contains("cannot process"),
        "the loop ended with {e}"
    );
    if close {
        consumer.close().await?;
    }
    Ok(())
}

/// The committed offset of partition 0, once there is one.
async fn first_commit(bootstrap: &str, topic: &str, group: &str) -> Result<i64> {
    let tp = TopicPartition::new(topic, 0);
    let consumer = manual(bootstrap, group).build().await?;
    let offset = wait_for(WAIT, "the commit of the first consumer", || async {
        Ok(consumer.committed(&tp).await?.map(|c| c.offset))
    })
    .await?;
    consumer.close().await?;
    Ok(offset)
}

#[test]
fn a_dropped_auto_mode_consumer_does_not_commit_the_record_that_failed() {
    on_both_builds("drop", |build, bootstrap| async move {
        for subscribe in [false, true] {
            let how = if subscribe { "subscribed" } else { "assigned" };
            let (topic, group) = (unique("drop"), unique("drop-group"));
            create_topic(&bootstrap, &topic, 1).await?;
            fill(&bootstrap, &topic, 0, 0, 10).await?;
            consume_until_failure(&bootstrap, &topic, &group, 5, subscribe, false).await?;
            // 0..=4 were processed; 5 failed and comes again.
            let committed = first_commit(&bootstrap, &topic, &group).await?;
            assert_eq!(committed, 5, "{build}, {how}: the drop's commit");
            let (offsets, _) = read_back(&bootstrap, &topic, &group, 9).await?;
            assert_eq!(offsets, (5..10).collect::<Vec<_>>(), "{build}, {how}");
        }
        Ok(())
    });
}

#[test]
fn an_explicit_close_commits_every_record_handed_out() {
    on_both_builds("close", |build, bootstrap| async move {
        for subscribe in [false, true] {
            let how = if subscribe { "subscribed" } else { "assigned" };
            let (topic, group) = (unique("close"), unique("close-group"));
            create_topic(&bootstrap, &topic, 1).await?;
            fill(&bootstrap, &topic, 0, 0, 10).await?;
            consume_until_failure(&bootstrap, &topic, &group, 5, subscribe, true).await?;
            // `close` says everything received is done, the failed record too.
            let committed = first_commit(&bootstrap, &topic, &group).await?;
            assert_eq!(committed, 6, "{build}, {how}: the close's commit");
        }
        Ok(())
    });
}

#[test]
fn paused_partitions_hand_out_nothing_until_resumed() {
    on_both_builds("pause", |_, bootstrap| async move {
        let topic = unique("pause");
        create_topic(&bootstrap, &topic, 2).await?;
        fill(&bootstrap, &topic, 0, 0, 3).await?;
        let (p0, p1) = (
            TopicPartition::new(topic.as_str(), 0),
            TopicPartition::new(topic.as_str(), 1),
        );
        let consumer = manual(&bootstrap, &unique("pause-group")).build().await?;
        consumer.assign([p0.clone(), p1.clone()])?;
        consumer.pause([p0.clone()])?;
        check!(
            consumer.paused() == [p0.clone()],
            "paused {:?}",
            consumer.paused()
        );
        // Partition 1 keeps flowing while 0 is paused.
        fill(&bootstrap, &topic, 1, 0, 1).await?;
        let record = within(WAIT, "a record of partition 1", consumer.recv()).await??;
        check!(
            record.partition() == 1,
            "a record of paused partition 0 came: {record:?}"
        );
        consumer.resume([p0.clone()])?;
        let record = within(WAIT, "a record of partition 0", consumer.recv()).await??;
        check!(
            record.partition() == 0 && record.offset() == 0,
            "after resume: {record:?}"
        );
        check!(
            consumer.paused().is_empty(),
            "still paused: {:?}",
            consumer.paused()
        );
        consumer.close().await?;
        Ok(())
    });
}

// ----- watermarks, lag -----

/// Writes one batch of `n` records with raw requests, so its shape is known.
fn write_one_batch(broker: &Broker, topic: &str, n: i64) {
    let mut client = broker.client();
    let versions = client.broker_versions();
    let mut batch = RecordBatchBuilder::new();
    for i in 0..n {
        batch.append(
            1_700_000_000_000 + i,
            None,
            Some(Bytes::from(format!("{i}"))),
            vec![],
        );
    }
    let resp = client.call_negotiated(
        &versions,
        &ProduceRequest {
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: topic.to_string(),
                partition_data: vec![PartitionProduceData {
                    index: 0,
                    records: Some(batch.build().expect("a batch")),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    assert_eq!(
        resp.responses[0].partition_responses[0].error_code,
        ErrorCode::NONE
    );
}

/// Build C answers the high watermark after the last record; build W answers the last
/// batch's base offset + 1 (Kafka answers as C). Fetch answers carry the right high
/// watermark on both, so the lag is right on both.
#[test]
fn watermarks_and_lag() {
    for build in Build::ALL {
        let Some(broker) = Broker::start(build, engine(build)) else {
            continue;
        };
        let bootstrap = broker.addr().to_string();
        let topic = unique("watermarks");
        smol::block_on(create_topic(&bootstrap, &topic, 1)).expect("create");
        write_one_batch(&broker, &topic, 10);
        let result: Result = smol::block_on(async {
            let tp = TopicPartition::new(topic.as_str(), 0);
            let consumer = manual(&bootstrap, &unique("watermarks-group"))
                .build()
                .await?;
            let w = consumer.watermarks(&tp).await?;
            let high = match build {
                Build::C => 10,
                Build::W => 1, // pinned: base offset of the one batch + 1
            };
            check!(
                w.low == Some(0) && w.high == Some(high),
                "watermarks {w:?} on {build}"
            );
            consumer.assign([tp.clone()])?;
            for _ in 0..4 {
                within(WAIT, "a record", consumer.recv()).await??;
            }
            let lag = wait_for(WAIT, "the lag", || async { Ok(consumer.lag(&tp)) }).await?;
            check!(lag == 6, "lag {lag} at position 4 of 10");
            consumer.close().await?;
            Ok(())
        });
        result.unwrap_or_else(|e| panic!("{build}: {e}"));
    }
}

// ----- producer -----

#[test]
fn keyed_records_go_to_the_murmur2_partition_and_read_back_whole() {
    on_both_builds("keys", |_, bootstrap| async move {
        let topic = unique("keys");
        create_topic(&bootstrap, &topic, 4).await?;
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .build()
            .await?;
        let mut written = Vec::new();
        for i in 0..20 {
            let key = format!("key-{i}");
            let meta = producer
                .send(
                    ProducerRecord::new(topic.as_str())
                        .key(key.clone())
                        .value(format!("value-{i}"))
                        .header("n", format!("{i}"))
                        .timestamp(1_700_000_000_000 + i),
                )
                .await?;
            check!(
                meta.partition() == partition_for_key(key.as_bytes(), 4),
                "{key} went to {}",
                meta.partition()
            );
            written.push((key, meta));
        }
        producer.close().await?;

        let consumer = manual(&bootstrap, &unique("keys-group")).build().await?;
        consumer.assign((0..4).map(|p| TopicPartition::new(topic.as_str(), p)))?;
        let mut read = Vec::new();
        while read.len() < 20 {
            read.extend(within(WAIT, "records", consumer.recv_batch(20)).await??);
        }
        for record in &read {
            let key = std::str::from_utf8(record.key().unwrap_or_default())?.to_string();
            let (_, meta) = written
                .iter()
                .find(|(k, _)| *k == key)
                .ok_or_else(|| format!("unknown key {key}"))?;
            let i: i64 = key.trim_start_matches("key-").parse()?;
            check!(
                record.partition() == meta.partition() && Some(record.offset()) == meta.offset(),
                "{key} read at {}:{}, written at {meta:?}",
                record.partition(),
                record.offset()
            );
            check!(
                record.value() == Some(format!("value-{i}").as_bytes())
                    && record.header("n") == Some(Some(format!("{i}").as_bytes()))
                    && record.timestamp() == 1_700_000_000_000 + i,
                "{record:?}"
            );
            check!(
                record.topic_partition_offset()
                    == TopicPartitionOffset::new(
                        topic.as_str(),
                        record.partition(),
                        record.offset()
                    )
                    && record.offset_to_commit().offset.offset == record.offset() + 1,
                "{record:?}"
            );
        }
        consumer.close().await?;
        Ok(())
    });
}

#[test]
fn drivers_run_on_the_applications_executor_too() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let bootstrap = broker.addr().to_string();
    let spawner = Spawner::new(|driver| smol::spawn(driver).detach());
    let result: Result = smol::block_on(async {
        let topic = unique("executor");
        create_topic(&bootstrap, &topic, 1).await?;
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .spawner(spawner.clone())
            .build()
            .await?;
        let meta = producer
            .send(ProducerRecord::new(topic.as_str()).value("on smol"))
            .await?;
        check!(meta.offset() == Some(0), "{meta:?}");
        producer.close().await?;
        let consumer = manual(&bootstrap, &unique("executor-group"))
            .spawner(spawner)
            .build()
            .await?;
        consumer.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let record = within(WAIT, "a record", consumer.recv()).await??;
        check!(record.value() == Some(&b"on smol"[..]), "{record:?}");
        consumer.close().await?;
        Ok(())
    });
    result.unwrap_or_else(|e| panic!("{e}"));
}

//! dekaf-smol and librdkafka (the `confluent-kafka` Python package) on the same broker: the
//! offsets one commits are the offsets the other reads, both ways, and keyed records go to
//! the same partitions. Needs `python3` with `confluent_kafka` (`cargo xtask install`); skipped
//! without it, except in CI.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{create_topic, fill, unique, within};
use dekaf_smol::producer::partition_for_key;
use dekaf_smol::{
    AutoOffsetReset, Consumer, OffsetCommitMode, Producer, ProducerRecord, TopicPartition,
    TopicPartitionOffset,
};
use dekaf_tests::broker::temp_dir;
use dekaf_tests::{librdkafka, Broker, Build, Engine};

const WAIT: Duration = Duration::from_secs(30);

/// Runs the librdkafka helper script and returns what it printed.
fn script(args: &[&str]) -> String {
    librdkafka::script("offsets_interop.py", args)
}

fn json_map(text: &str) -> BTreeMap<String, Option<i64>> {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn on_both_builds(test: impl Fn(&str)) {
    if !librdkafka::available() {
        return;
    }
    for build in Build::ALL {
        let engine = match build {
            Build::W => Engine::Memory,
            Build::C => Engine::Sqlite(temp_dir("interop")),
        };
        if let Some(broker) = Broker::start(build, engine) {
            println!("{build}");
            test(&broker.addr().to_string());
        }
    }
}

#[test]
fn offsets_committed_by_dekaf_are_what_librdkafka_reads() {
    on_both_builds(|bootstrap| {
        let (topic, group) = (unique("to-librdkafka"), unique("to-librdkafka-group"));
        let result: common::Result = smol::block_on(async {
            create_topic(bootstrap, &topic, 2).await?;
            fill(bootstrap, &topic, 0, 0, 10).await?;
            let consumer = Consumer::builder()
                .bootstrap_servers(bootstrap)
                .group_id(&group)
                .offset_commit_mode(OffsetCommitMode::Manual)
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .build()
                .await?;
            let (p0, p1) = (
                TopicPartition::new(topic.as_str(), 0),
                TopicPartition::new(topic.as_str(), 1),
            );
            consumer.assign([p0, p1])?;
            for _ in 0..7 {
                within(WAIT, "a record", consumer.recv()).await??;
            }
            // Both positions (7, and 0 for the empty partition 1), then partition 1 at 3.
            consumer.commit().await?;
            consumer
                .commit_offsets([TopicPartitionOffset::new(topic.as_str(), 1, 3)])
                .await?;
            consumer.close().await?;
            Ok(())
        });
        result.unwrap_or_else(|e| panic!("{e}"));
        let read = json_map(&script(&["committed", bootstrap, &group, &topic, "0", "1"]));
        let want = BTreeMap::from([("0".to_string(), Some(7)), ("1".to_string(), Some(3))]);
        assert_eq!(read, want, "librdkafka's committed()");
    });
}

#[test]
fn offsets_committed_by_librdkafka_are_what_dekaf_reads_and_resumes_from() {
    on_both_builds(|bootstrap| {
        let (topic, group) = (unique("from-librdkafka"), unique("from-librdkafka-group"));
        smol::block_on(async {
            create_topic(bootstrap, &topic, 2).await?;
            fill(bootstrap, &topic, 0, 0, 10).await
        })
        .unwrap_or_else(|e| panic!("{e}"));
        script(&["commit", bootstrap, &group, &topic, "0=5", "1=2"]);
        let result: common::Result = smol::block_on(async {
            let (p0, p1) = (
                TopicPartition::new(topic.as_str(), 0),
                TopicPartition::new(topic.as_str(), 1),
            );
            let consumer = Consumer::builder()
                .bootstrap_servers(bootstrap)
                .group_id(&group)
                .offset_commit_mode(OffsetCommitMode::Manual)
                .build()
                .await?;
            let committed: Vec<_> = consumer
                .committed_many([p0.clone(), p1.clone()])
                .await?
                .into_iter()
                .map(|(tp, c)| (tp.partition(), c.map(|c| c.offset)))
                .collect();
            check!(
                committed == [(0, Some(5)), (1, Some(2))],
                "dekaf reads {committed:?}"
            );
            consumer.assign([p0])?;
            let first = within(WAIT, "a record", consumer.recv()).await??;
            check!(first.offset() == 5, "dekaf resumed at {}", first.offset());
            consumer.close().await?;
            Ok(())
        });
        result.unwrap_or_else(|e| panic!("{e}"));
    });
}

#[test]
fn keyed_records_land_in_the_same_partitions_as_librdkafkas() {
    on_both_builds(|bootstrap| {
        let topic = unique("same-partitions");
        let keys: Vec<String> = (0..24).map(|i| format!("user-{i}")).collect();
        let result: common::Result = smol::block_on(async {
            create_topic(bootstrap, &topic, 6).await?;
            let producer = Producer::builder()
                .bootstrap_servers(bootstrap)
                .build()
                .await?;
            for key in &keys {
                let meta = producer
                    .send(
                        ProducerRecord::new(topic.as_str())
                            .key(key.clone())
                            .value("dekaf"),
                    )
                    .await?;
                check!(
                    meta.partition() == partition_for_key(key.as_bytes(), 6),
                    "{key}: {meta:?}"
                );
            }
            producer.close().await?;
            Ok(())
        });
        result.unwrap_or_else(|e| panic!("{e}"));
        let mut args = vec!["partitions", bootstrap, topic.as_str()];
        args.extend(keys.iter().map(String::as_str));
        let theirs = json_map(&script(&args));
        for key in &keys {
            assert_eq!(
                theirs.get(key).copied().flatten(),
                Some(i64::from(partition_for_key(key.as_bytes(), 6))),
                "librdkafka put {key} elsewhere"
            );
        }
    });
}

//! Transactions between dekaf-smol and librdkafka (the `confluent-kafka` Python package) on
//! tansu build W: records and transactions one writes, the other reads with read_committed.
//!
//! tansu sends no aborted-transaction list in its Fetch answers. dekaf's consumer drops
//! aborted records by their transaction markers and gets Kafka's result anyway; librdkafka
//! (like Java's consumer) relies on the list, so on tansu its read_committed reader also gets
//! the aborted records — pinned below. Both stop at the last stable offset, which tansu
//! reports correctly: neither reads an open transaction. Kafka's filtering rule itself is
//! checked in simulation with real record batches, with and without the list
//! (`sim_consumer.rs`: `read_committed_with_the_aborted_list`, `read_committed_from_markers_alone`).
//!
//! Needs `python3` with `confluent_kafka` (`cargo xtask install`); skipped without it, except
//! in CI.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{create_topic, read_to_end, unique};
use dekaf_smol::{
    AutoOffsetReset, Consumer, IsolationLevel, Producer, ProducerRecord, TopicPartition,
};
use dekaf_tests::{librdkafka, Broker, Build, Engine};

const WAIT: Duration = Duration::from_secs(30);

/// Runs the librdkafka helper script and returns what it printed.
fn script(args: &[&str]) -> String {
    librdkafka::script("txn_interop.py", args)
}

/// What librdkafka reads from partition 0 of `topic` with `isolation`.
fn librdkafka_reads(bootstrap: &str, topic: &str, isolation: &str) -> Vec<String> {
    let text = script(&["read", bootstrap, topic, "1", isolation]);
    let mut all: BTreeMap<String, Vec<String>> =
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    all.remove("0").unwrap_or_default()
}

/// What dekaf's consumer reads from partition 0 of `topic` with `isolation`.
async fn dekaf_reads(
    bootstrap: &str,
    topic: &str,
    isolation: IsolationLevel,
) -> common::Result<Vec<String>> {
    let consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .isolation_level(isolation)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    consumer.assign([TopicPartition::new(topic, 0)])?;
    let records = read_to_end(&consumer, WAIT).await?;
    consumer.close().await?;
    Ok(records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned())
        .collect())
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn build_w() -> Option<Broker> {
    if !librdkafka::available() {
        return None;
    }
    Broker::start(Build::W, Engine::Memory)
}

#[test]
fn dekaf_transactions_read_by_librdkafka() {
    let Some(broker) = build_w() else { return };
    let bootstrap = broker.addr().to_string();
    let topic = unique("dekaf-txn-to-librdkafka");
    let result: common::Result = smol::block_on(async {
        create_topic(&bootstrap, &topic, 1).await?;
        // Idempotent, outside any transaction.
        let plain = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .build()
            .await?;
        for v in values("plain", 3) {
            let _ = plain.send(ProducerRecord::new(topic.as_str()).value(v));
        }
        plain.close().await?;

        let txn = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .transactional_id(unique("dekaf-txn"))
            .build()
            .await?;
        txn.init_transactions().await?;
        for (prefix, commit) in [("committed", true), ("aborted", false)] {
            txn.begin_transaction()?;
            for v in values(prefix, 4) {
                let _ = txn.send(ProducerRecord::new(topic.as_str()).value(v));
            }
            txn.flush().await?;
            if commit {
                txn.commit_transaction().await?;
            } else {
                txn.abort_transaction().await?;
            }
        }
        // Left open: nothing from here on is stable.
        txn.begin_transaction()?;
        for v in values("open", 2) {
            let _ = txn.send(ProducerRecord::new(topic.as_str()).value(v));
        }
        txn.flush().await?;

        let mut committed = values("plain", 3);
        committed.extend(values("committed", 4));
        let ours = dekaf_reads(&bootstrap, &topic, IsolationLevel::ReadCommitted).await?;
        check!(ours == committed, "dekaf's read_committed read {ours:?}");

        let theirs = librdkafka_reads(&bootstrap, &topic, "read_committed");
        let mut with_aborted = committed.clone();
        with_aborted.extend(values("aborted", 4));
        check!(
            theirs != committed,
            "librdkafka now reads exactly the committed records: tansu lists aborted \
             transactions, drop this pin"
        );
        // tansu: no aborted list, so librdkafka keeps the aborted records (Kafka: `committed`),
        // and stops at the last stable offset, before the open transaction (as Kafka).
        check!(
            theirs == with_aborted,
            "librdkafka's read_committed read {theirs:?}"
        );
        let everything = librdkafka_reads(&bootstrap, &topic, "read_uncommitted");
        let mut all = with_aborted.clone();
        all.extend(values("open", 2));
        check!(
            everything == all,
            "librdkafka's read_uncommitted read {everything:?}"
        );

        txn.commit_transaction().await?;
        txn.close().await?;
        committed.extend(values("open", 2));
        let ours = dekaf_reads(&bootstrap, &topic, IsolationLevel::ReadCommitted).await?;
        check!(
            ours == committed,
            "after the last commit, dekaf read {ours:?}"
        );
        Ok(())
    });
    result.unwrap_or_else(|e| panic!("{e}\n--- broker log ---\n{}", broker.log()));
}

#[test]
fn librdkafka_transactions_read_by_dekaf() {
    let Some(broker) = build_w() else { return };
    let bootstrap = broker.addr().to_string();
    let topic = unique("librdkafka-txn-to-dekaf");
    smol::block_on(create_topic(&bootstrap, &topic, 1)).unwrap_or_else(|e| panic!("{e}"));
    script(&[
        "transactions",
        &bootstrap,
        &topic,
        &unique("librdkafka-txn"),
    ]);
    let result: common::Result = smol::block_on(async {
        let mut committed = values("lib-committed", 5);
        committed.extend(values("lib-again", 2));
        let ours = dekaf_reads(&bootstrap, &topic, IsolationLevel::ReadCommitted).await?;
        check!(ours == committed, "dekaf's read_committed read {ours:?}");
        let everything = dekaf_reads(&bootstrap, &topic, IsolationLevel::ReadUncommitted).await?;
        let mut all = values("lib-committed", 5);
        all.extend(values("lib-aborted", 5));
        all.extend(values("lib-again", 2));
        check!(
            everything == all,
            "dekaf's read_uncommitted read {everything:?}"
        );
        Ok(())
    });
    result.unwrap_or_else(|e| panic!("{e}\n--- broker log ---\n{}", broker.log()));
}

//! dekaf-smol's `Producer` against tansu: delivery reports, fire-and-forget with `flush`,
//! backpressure on a full buffer, wall-clock timestamps, idempotence, typed refusals, and
//! transactions (committed, aborted,
//! offsets sent to the transaction, fencing) read back by the dekaf consumer under
//! read_committed. Transactions need build W (build C does not advertise EndTxn).

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::time::{Duration, Instant};

use common::{create_topic, now_millis, read_to_end, unique, within};
use dekaf_smol::producer::TxnOperation;
use dekaf_smol::producer::{DeliveryError, SendError, TransactionError};
use dekaf_smol::{
    AutoOffsetReset, Compression, Consumer, Error, GroupMetadata, IsolationLevel, OffsetCommitMode,
    Producer, ProducerRecord, TopicPartition, TopicPartitionOffset, TransactionState,
};
use dekaf_tests::broker::temp_dir;
use dekaf_tests::{Broker, Build, Engine};

/// How long a test waits for any one thing.
const WAIT: Duration = Duration::from_secs(30);

type Result<T = ()> = common::Result<T>;

fn engine(build: Build) -> Engine {
    match build {
        Build::W => Engine::Memory,
        Build::C => Engine::Sqlite(temp_dir("smol-producer")),
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
            panic!(
                "{name} on {build}: {e}\n--- broker log ---\n{}",
                broker.log()
            );
        }
    }
}

/// Runs `test` against build W, the build with transactions.
fn on_build_w<F, Fut>(name: &str, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result>,
{
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    if let Err(e) = smol::block_on(test(broker.addr().to_string())) {
        panic!("{name}: {e}\n--- broker log ---\n{}", broker.log());
    }
}

/// Every record of `partitions` of `topic` from the start up to the end (the last stable
/// offset under read_committed): the values per partition, in offset order.
async fn read_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    isolation: IsolationLevel,
) -> Result<BTreeMap<i32, Vec<String>>> {
    let consumer = Consumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(unique("reader"))
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .isolation_level(isolation)
        .build()
        .await?;
    consumer.assign((0..partitions).map(|p| TopicPartition::new(topic, p)))?;
    let mut out: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for r in read_to_end(&consumer, WAIT).await? {
        let value = String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned();
        out.entry(r.partition()).or_default().push(value);
    }
    consumer.close().await?;
    Ok(out)
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn sends_report_where_each_record_went_and_flush_waits_for_the_rest() {
    on_both_builds("sends", |_, bootstrap| async move {
        let topic = unique("smol-produce");
        create_topic(&bootstrap, &topic, 3).await?;
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .linger(Duration::from_millis(20))
            .batch_size(1_000)
            .build()
            .await?;
        let before = now_millis();
        // Awaited one by one: offsets follow each other in the partition.
        for i in 0..5 {
            let meta = producer
                .send(
                    ProducerRecord::new(topic.as_str())
                        .partition(1)
                        .value(format!("one-{i}")),
                )
                .await?;
            check!(
                meta.partition() == 1 && meta.offset() == Some(i),
                "record {i}: {meta:?}"
            );
            check!(
                meta.timestamp >= before && meta.timestamp <= now_millis(),
                "the wall clock was not used: {meta:?}"
            );
        }
        // Fire and forget, then flush: every record is written once, in order.
        for v in values("many-", 300) {
            let _ = producer.send(ProducerRecord::new(topic.as_str()).partition(2).value(v));
        }
        producer.flush().await?;
        let (pid, epoch) = producer
            .producer_id_and_epoch()
            .ok_or("an idempotent producer has a producer id")?;
        check!(pid >= 0 && epoch >= 0, "producer id {pid}, epoch {epoch}");
        check!(producer.transaction_state().is_none(), "not transactional");
        producer.close().await?;
        let read = read_all(&bootstrap, &topic, 3, IsolationLevel::ReadUncommitted).await?;
        check!(
            read.get(&1) == Some(&values("one-", 5)),
            "partition 1: {:?}",
            read.get(&1)
        );
        check!(
            read.get(&2) == Some(&values("many-", 300)),
            "partition 2 holds {} records",
            read.get(&2).map_or(0, Vec::len)
        );
        Ok(())
    });
}

/// A value of `len` bytes that starts with `i`.
fn padded(i: usize, len: usize) -> String {
    let mut v = format!("{i:06}-");
    v.extend(std::iter::repeat_n('x', len.saturating_sub(v.len())));
    v
}

/// Backpressure: with room for a few records only, sends wait for room instead of being
/// refused, and every record is written once, in send order per partition.
#[test]
fn a_tiny_buffer_makes_sends_wait_for_room_and_loses_nothing() {
    on_both_builds("backpressure", |_, bootstrap| async move {
        const N: usize = 2_000;
        let topic = unique("smol-backpressure");
        create_topic(&bootstrap, &topic, 3).await?;
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .buffer_memory(8 * 1024)
            .max_block(WAIT)
            .build()
            .await?;
        let started = Instant::now();
        let mut held = Vec::new();
        for i in 0..N {
            let record = ProducerRecord::new(topic.as_str())
                .partition((i % 3) as i32)
                .value(padded(i, 1_000));
            let delivery = producer.send(record).buffered().await?;
            // A few are awaited later, the rest are fire and forget.
            if i % 500 == 0 {
                held.push(delivery);
            }
        }
        producer.flush().await?;
        for d in held {
            d.await?;
        }
        let took = started.elapsed();
        producer.close().await?;
        let read = read_all(&bootstrap, &topic, 3, IsolationLevel::ReadUncommitted).await?;
        for p in 0..3 {
            let want: Vec<String> = (0..N)
                .filter(|i| i % 3 == p)
                .map(|i| padded(i, 1_000))
                .collect();
            let got = read.get(&(p as i32)).cloned().unwrap_or_default();
            check!(
                got == want,
                "partition {p}: {} records, {} wanted (in {took:?})",
                got.len(),
                want.len()
            );
        }
        Ok(())
    });
}

/// A send that gets no room within `max_block` (the broker is gone, nothing frees the
/// buffer) fails with a typed, retriable error after `max_block`, and close still ends.
#[test]
fn a_send_without_room_within_max_block_fails_with_buffer_full() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let bootstrap = broker.addr().to_string();
    let result: Result = smol::block_on(async {
        let topic = unique("smol-no-room");
        create_topic(&bootstrap, &topic, 1).await?;
        let max_block = Duration::from_secs(2);
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .buffer_memory(4 * 1024)
            .max_block(max_block)
            .request_timeout(Duration::from_secs(2))
            .delivery_timeout(Duration::from_secs(6))
            .build()
            .await?;
        // Metadata and producer id first, so that only room is missing later.
        producer
            .send(ProducerRecord::new(topic.as_str()).value("warm"))
            .await?;
        broker.kill();
        // Three records fit, the fourth waits.
        let held: Vec<_> = (0..3)
            .map(|i| producer.send(ProducerRecord::new(topic.as_str()).value(padded(i, 1_000))))
            .collect();
        let started = Instant::now();
        let waited = producer
            .send(ProducerRecord::new(topic.as_str()).value(padded(3, 1_000)))
            .buffered()
            .await;
        let took = started.elapsed();
        let Err(e) = waited else {
            return Err("a record got room in a buffer nothing empties".into());
        };
        check!(matches!(e, Error::Send(SendError::BufferFull)), "{e:?}");
        check!(e.is_retriable() && !e.is_fatal(), "{e:?}");
        check!(
            took >= max_block - Duration::from_millis(50) && took < max_block * 3,
            "refused after {took:?}, max_block is {max_block:?}"
        );
        // Awaiting the delivery itself fails the same way.
        let awaited = producer
            .send(ProducerRecord::new(topic.as_str()).value(padded(4, 1_000)))
            .await;
        check!(
            matches!(awaited, Err(Error::Send(SendError::BufferFull))),
            "{awaited:?}"
        );
        // The records in the buffer fail at their delivery timeout; close waits for that
        // and no longer.
        drop(held);
        let closed = within(WAIT, "close", producer.close()).await?;
        check!(
            matches!(
                closed,
                Err(Error::Delivery {
                    error: DeliveryError::TimedOut { .. },
                    ..
                })
            ),
            "{closed:?}"
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("no room: {e}");
    }
}

#[test]
fn codecs_and_settings_write_the_same_records() {
    on_build_w("codecs", |bootstrap| async move {
        let topic = unique("smol-codecs");
        create_topic(&bootstrap, &topic, 1).await?;
        let mut want = Vec::new();
        for codec in [
            Compression::Gzip,
            Compression::Lz4,
            Compression::Zstd,
            Compression::Snappy,
        ] {
            let producer = Producer::builder()
                .bootstrap_servers(&bootstrap)
                .compression(codec)
                .max_in_flight(1)
                .retry_backoff(Duration::from_millis(10), Duration::from_millis(100))
                .delivery_timeout(Duration::from_secs(20))
                .request_timeout(Duration::from_secs(10))
                .client_id("codec-test")
                .build()
                .await?;
            let prefix = format!("{codec:?}-");
            for v in values(&prefix, 50) {
                let _ = producer.send(ProducerRecord::new(topic.as_str()).value(v));
            }
            producer.close().await?;
            want.extend(values(&prefix, 50));
        }
        let read = read_all(&bootstrap, &topic, 1, IsolationLevel::ReadUncommitted).await?;
        check!(read.get(&0) == Some(&want), "{:?}", read.get(&0));
        Ok(())
    });
}

#[test]
fn refusals_and_failures_are_typed_and_flush_reports_them() {
    on_build_w("refusals", |bootstrap| async move {
        let topic = unique("smol-refusals");
        create_topic(&bootstrap, &topic, 2).await?;
        let settings = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .acks(dekaf_smol::Acks::Leader)
            .build()
            .await;
        check!(
            matches!(settings, Err(Error::Config(_))),
            "acks 1 with idempotence: {settings:?}"
        );

        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .max_request_size(2_000)
            .build()
            .await?;
        let big = producer
            .send(ProducerRecord::new(topic.as_str()).value(vec![0u8; 5_000]))
            .await;
        check!(
            matches!(big, Err(Error::Send(SendError::RecordTooLarge { .. }))),
            "{big:?}"
        );
        let e = big.unwrap_err();
        check!(!e.is_retriable() && !e.is_fatal(), "{e:?}");
        // The flush after a refused send that nobody awaited reports it.
        let _ = producer.send(ProducerRecord::new(topic.as_str()).value(vec![0u8; 5_000]));
        let flushed = producer.flush().await;
        check!(
            matches!(flushed, Err(Error::Send(SendError::RecordTooLarge { .. }))),
            "{flushed:?}"
        );
        check!(producer.flush().await.is_ok(), "reported once");

        // A partition that does not exist fails the record, and the flush after it.
        let _ = producer.send(ProducerRecord::new(topic.as_str()).partition(7).value("x"));
        let flushed = producer.flush().await;
        let Err(Error::Delivery { topic: t, error }) = &flushed else {
            return Err(format!("{flushed:?}").into());
        };
        check!(
            t == &topic
                && matches!(
                    error,
                    DeliveryError::InvalidPartition {
                        partition: 7,
                        partitions: 2
                    }
                ),
            "{flushed:?}"
        );
        // Transactions on a producer without a transactional id.
        let e = producer.begin_transaction().unwrap_err();
        check!(
            matches!(e, Error::Transaction(TransactionError::NotTransactional)),
            "{e:?}"
        );
        producer.close().await?;
        Ok(())
    });
}

#[test]
fn only_committed_transactions_are_read_and_their_offsets_committed() {
    on_build_w("transactions", |bootstrap| async move {
        let (input, output, group) = (unique("txn-in"), unique("txn-out"), unique("txn-group"));
        create_topic(&bootstrap, &input, 1).await?;
        create_topic(&bootstrap, &output, 2).await?;
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .transactional_id(unique("txn-id"))
            .transaction_timeout(Duration::from_secs(20))
            .max_block(Duration::from_secs(20))
            .build()
            .await?;
        // Outside a transaction, before init: refused, typed.
        let early = producer.begin_transaction().unwrap_err();
        check!(
            matches!(
                early,
                Error::Transaction(TransactionError::InvalidState { .. })
            ),
            "{early:?}"
        );
        let outside = producer
            .send(ProducerRecord::new(output.as_str()).value("outside"))
            .await;
        check!(
            matches!(outside, Err(Error::Send(SendError::Transaction(_)))),
            "{outside:?}"
        );
        producer.init_transactions().await?;
        check!(
            producer.transaction_state() == Some(TransactionState::Ready),
            "{:?}",
            producer.transaction_state()
        );
        let meta = GroupMetadata::new(group.as_str());
        let tp_in = TopicPartition::new(input.as_str(), 0);

        producer.begin_transaction()?;
        for (i, v) in values("committed-", 10).into_iter().enumerate() {
            let _ = producer.send(
                ProducerRecord::new(output.as_str())
                    .partition(i as i32 % 2)
                    .value(v),
            );
        }
        producer
            .send_offsets_to_transaction([TopicPartitionOffset::at(tp_in.clone(), 42)], &meta)
            .await?;
        producer.commit_transaction().await?;

        producer.begin_transaction()?;
        let mut aborted = Vec::new();
        for (i, v) in values("aborted-", 10).into_iter().enumerate() {
            aborted.push(
                producer.send(
                    ProducerRecord::new(output.as_str())
                        .partition(i as i32 % 2)
                        .value(v),
                ),
            );
        }
        producer.flush().await?;
        producer
            .send_offsets_to_transaction([TopicPartitionOffset::at(tp_in.clone(), 99)], &meta)
            .await?;
        producer.abort_transaction().await?;
        for d in aborted {
            // Written before the abort: they have offsets, and stay invisible.
            check!(
                d.await?.offset().is_some(),
                "an aborted record was not written"
            );
        }

        producer.begin_transaction()?;
        for (i, v) in values("again-", 4).into_iter().enumerate() {
            let _ = producer.send(
                ProducerRecord::new(output.as_str())
                    .partition(i as i32 % 2)
                    .value(v),
            );
        }
        producer.commit_transaction().await?;
        producer.close().await?;

        let read = read_all(&bootstrap, &output, 2, IsolationLevel::ReadCommitted).await?;
        let mut got: Vec<String> = read.values().flatten().cloned().collect();
        got.sort();
        let mut want = values("committed-", 10);
        want.extend(values("again-", 4));
        want.sort();
        check!(got == want, "read_committed read {got:?}");
        let all = read_all(&bootstrap, &output, 2, IsolationLevel::ReadUncommitted).await?;
        let n: usize = all.values().map(Vec::len).sum();
        check!(n == 24, "read_uncommitted read {n} records, not 24");

        let consumer = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .group_id(group.as_str())
            .offset_commit_mode(OffsetCommitMode::Manual)
            .build()
            .await?;
        let committed = consumer.committed(&tp_in).await?.map(|c| c.offset);
        check!(
            committed == Some(42),
            "the group's offset is {committed:?}, not the committed transaction's 42"
        );
        consumer.close().await?;
        Ok(())
    });
}

/// `close` with a transaction open aborts it: read_committed readers are not held at the
/// last stable offset until the transaction times out (a minute here).
#[test]
fn closing_with_a_transaction_open_aborts_it() {
    on_build_w("close aborts", |bootstrap| async move {
        let topic = unique("txn-close");
        create_topic(&bootstrap, &topic, 1).await?;
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .transactional_id(unique("txn-close-id"))
            .transaction_timeout(Duration::from_secs(60))
            .build()
            .await?;
        producer.init_transactions().await?;
        producer.begin_transaction()?;
        let open: Vec<_> = values("open-", 3)
            .into_iter()
            .map(|v| producer.send(ProducerRecord::new(topic.as_str()).value(v)))
            .collect();
        producer.flush().await?;
        producer.close().await?;
        for d in open {
            check!(
                d.await?.offset().is_some(),
                "a record of the transaction was not written"
            );
        }

        let plain = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .build()
            .await?;
        plain
            .send(ProducerRecord::new(topic.as_str()).value("after"))
            .await?;
        plain.close().await?;
        let read = read_all(&bootstrap, &topic, 1, IsolationLevel::ReadCommitted).await?;
        let got: Vec<String> = read.values().flatten().cloned().collect();
        check!(
            got == ["after"],
            "read_committed read {got:?}: the closed producer's transaction is still open"
        );
        Ok(())
    });
}

/// The guide's loop with a subscribed consumer: each batch's output and offsets go in one
/// transaction with the consumer's own group metadata (generation and member id, so that the
/// coordinator can fence a member that lost its partitions), and the group's committed offsets
/// are the transactions'.
#[test]
fn a_subscribed_consumers_group_metadata_goes_with_the_offsets() {
    on_build_w("subscribed transactions", |bootstrap| async move {
        let (input, output, group) = (unique("sub-in"), unique("sub-out"), unique("sub-group"));
        create_topic(&bootstrap, &input, 2).await?;
        create_topic(&bootstrap, &output, 2).await?;
        for p in 0..2 {
            common::fill(&bootstrap, &input, p, 0, 20).await?;
        }
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .transactional_id(unique("sub-txn"))
            .max_block(WAIT)
            .build()
            .await?;
        producer.init_transactions().await?;
        let consumer = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .group_id(group.as_str())
            .offset_commit_mode(OffsetCommitMode::Manual)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .session_timeout(Duration::from_secs(6))
            .build()
            .await?;
        consumer.subscribe([input.as_str()])?;
        let deadline = Instant::now() + WAIT;
        let mut done = 0;
        while done < 40 {
            check!(Instant::now() < deadline, "read {done} of 40 records");
            let batch = common::recv_for(&consumer, 7, Duration::from_millis(200)).await?;
            if batch.is_empty() {
                continue;
            }
            let meta = consumer
                .group_metadata()
                .ok_or("no group metadata while receiving")?;
            check!(
                meta.group_id == group && meta.generation_id >= 0 && !meta.member_id.is_empty(),
                "{meta:?}"
            );
            producer.begin_transaction()?;
            let mut next = BTreeMap::new();
            for r in &batch {
                let _ = producer.send(
                    ProducerRecord::new(output.as_str())
                        .partition(r.partition())
                        .value(r.value().unwrap_or_default().to_vec()),
                );
                next.insert(r.topic_partition().clone(), r.offset() + 1);
            }
            let offsets: Vec<_> = next
                .into_iter()
                .map(|(tp, o)| TopicPartitionOffset::at(tp, o))
                .collect();
            producer.send_offsets_to_transaction(offsets, &meta).await?;
            producer.commit_transaction().await?;
            done += batch.len();
        }
        check!(done == 40, "read {done} records, not 40");
        producer.close().await?;
        consumer.close().await?;

        let read = read_all(&bootstrap, &output, 2, IsolationLevel::ReadCommitted).await?;
        let n: usize = read.values().map(Vec::len).sum();
        check!(n == 40, "the output holds {n} records, not 40");
        let checker = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .group_id(group.as_str())
            .offset_commit_mode(OffsetCommitMode::Manual)
            .build()
            .await?;
        let committed: Vec<_> = checker
            .committed_many((0..2).map(|p| TopicPartition::new(input.as_str(), p)))
            .await?
            .into_iter()
            .map(|(_, c)| c.map(|c| c.offset))
            .collect();
        check!(
            committed == [Some(20), Some(20)],
            "the group's offsets are {committed:?}"
        );
        checker.close().await?;
        Ok(())
    });
}

/// A newer producer with the same transactional id fences the older one. Where tansu answers,
/// the older one's errors say "fenced"; tansu closes the connection instead of answering the
/// fenced producer's EndTxn (Kafka answers PRODUCER_FENCED), and the commit then fails with
/// a timeout after `max_block` — typed, never a hang, never a success.
#[test]
fn a_fenced_producer_gets_typed_errors_never_a_hang() {
    on_build_w("fencing", |bootstrap| async move {
        let (topic, id) = (unique("fenced"), unique("fenced-id"));
        create_topic(&bootstrap, &topic, 2).await?;
        let build = || {
            Producer::builder()
                .bootstrap_servers(&bootstrap)
                .transactional_id(id.as_str())
                .max_block(Duration::from_secs(3))
                .build()
        };

        // Fenced while writing to a partition new to the transaction.
        let old = build().await?;
        old.init_transactions().await?;
        old.begin_transaction()?;
        old.send(
            ProducerRecord::new(topic.as_str())
                .partition(0)
                .value("old"),
        )
        .await?;
        let new = build().await?;
        new.init_transactions().await?;
        let late = old
            .send(
                ProducerRecord::new(topic.as_str())
                    .partition(1)
                    .value("late"),
            )
            .await;
        let e = late.expect_err("a fenced producer wrote a record");
        check!(e.is_fenced() && e.is_fatal(), "{e:?}");
        let commit = old.commit_transaction().await.expect_err("a fenced commit");
        check!(commit.is_fenced() && commit.is_fatal(), "{commit:?}");
        check!(
            old.fatal_error().is_some_and(|e| e.is_fenced()),
            "{:?}",
            old.fatal_error()
        );
        let after = old
            .send(ProducerRecord::new(topic.as_str()).value("after"))
            .await;
        check!(after.as_ref().is_err_and(Error::is_fenced), "{after:?}");
        old.close().await?;

        // Fenced with every partition already added: only the EndTxn can tell.
        new.begin_transaction()?;
        new.send(
            ProducerRecord::new(topic.as_str())
                .partition(0)
                .value("second"),
        )
        .await?;
        let newest = build().await?;
        newest.init_transactions().await?;
        let started = Instant::now();
        let commit = new.commit_transaction().await;
        let waited = started.elapsed();
        match &commit {
            Err(Error::TransactionTimeout {
                operation: TxnOperation::Commit,
                ..
            }) => {}
            Err(e) if e.is_fenced() => {
                return Err("tansu now answers a fenced EndTxn: drop this pin".into())
            }
            other => return Err(format!("a fenced commit ended with {other:?}").into()),
        }
        check!(
            waited < Duration::from_secs(10),
            "the commit took {waited:?} to time out"
        );
        let e = commit.unwrap_err();
        check!(e.is_retriable() && !e.is_abortable(), "{e:?}");
        // Trying again waits for the same commit, and times out the same way.
        let again = new.commit_transaction().await;
        check!(
            matches!(again, Err(Error::TransactionTimeout { .. })),
            "{again:?}"
        );
        // Closing does not wait for the commit that cannot finish.
        within(Duration::from_secs(10), "close", new.close()).await??;

        newest.begin_transaction()?;
        newest
            .send(
                ProducerRecord::new(topic.as_str())
                    .partition(0)
                    .value("newest"),
            )
            .await?;
        newest.commit_transaction().await?;
        newest.close().await?;
        let read = read_all(&bootstrap, &topic, 2, IsolationLevel::ReadCommitted).await?;
        let got: Vec<String> = read.values().flatten().cloned().collect();
        check!(got == ["newest"], "read_committed read {got:?}");
        Ok(())
    });
}

/// Keys that start with "last" go to the topic's last partition, keys that start with "far"
/// to a partition that does not exist; the others are left to the default.
struct LastForSome;

impl dekaf_smol::producer::Partitioner for LastForSome {
    fn partition(&self, _topic: &str, key: Option<&[u8]>, partitions: usize) -> Option<i32> {
        let key = key?;
        if key.starts_with(b"last") {
            i32::try_from(partitions).ok().map(|n| n - 1)
        } else if key.starts_with(b"far") {
            Some(99)
        } else {
            None
        }
    }
}

#[test]
fn a_custom_partitioner_places_records_and_may_leave_them_to_murmur2() {
    on_build_w("partitioner", |bootstrap| async move {
        let topic = unique("partitioner");
        create_topic(&bootstrap, &topic, 3).await?;
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .partitioner(LastForSome)
            .build()
            .await?;
        let send = |key: &str| {
            producer.send(
                ProducerRecord::new(topic.as_str())
                    .key(key.to_string())
                    .value("v"),
            )
        };
        for key in ["last-1", "last-2", "last-3"] {
            let written = within(WAIT, "a delivery", send(key).into_future()).await??;
            check!(
                written.partition() == 2,
                "{key} went to {}",
                written.partition()
            );
        }
        // Left to the default: Java's murmur2 of the key.
        for key in ["a", "b", "c", "d"] {
            let written = within(WAIT, "a delivery", send(key).into_future()).await??;
            let expected = dekaf_smol::producer::partition_for_key(key.as_bytes(), 3);
            check!(
                written.partition() == expected,
                "{key} went to {}",
                written.partition()
            );
        }
        // A partition out of range fails the record.
        let refused = within(WAIT, "a delivery", send("far").into_future()).await?;
        check!(
            matches!(
                &refused,
                Err(Error::Delivery {
                    error: DeliveryError::InvalidPartition {
                        partition: 99,
                        partitions: 3
                    },
                    ..
                })
            ),
            "{refused:?}"
        );
        producer.close().await?;
        Ok(())
    });
}

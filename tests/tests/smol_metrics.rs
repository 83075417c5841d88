//! The clients' metrics snapshots agree with what the test did: records consumed and
//! fetched, commits made, the lag, records produced, connections closed under the clients by
//! a proxy, and a rebalance forced by a second member.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use common::{create_topic, fill, unique, wait_for, within};
use dekaf_proto::ApiKey;
use dekaf_smol::metrics::ConnectionState;
use dekaf_smol::{
    Admin, AutoOffsetReset, Consumer, OffsetCommitMode, Producer, ProducerRecord, TopicPartition,
};
use dekaf_tests::cluster_proxy::ClusterProxy;
use dekaf_tests::{Broker, Build, Engine};

/// How long a test waits for any one thing.
const WAIT: Duration = Duration::from_secs(60);

type Result<T = ()> = common::Result<T>;

fn run(name: &str, test: impl std::future::Future<Output = Result>) {
    common::init_logging();
    if let Err(e) = smol::block_on(test) {
        panic!("{name}: {e}");
    }
}

#[test]
fn a_consumers_numbers_are_what_it_read_and_committed() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let bootstrap = broker.addr().to_string();
    run("consumer", async {
        let (topic, group) = (unique("metrics"), unique("metrics-group"));
        create_topic(&bootstrap, &topic, 2).await?;
        fill(&bootstrap, &topic, 0, 0, 6).await?;
        fill(&bootstrap, &topic, 1, 0, 4).await?;
        let consumer = Consumer::builder()
            .bootstrap_servers(&bootstrap)
            .group_id(&group)
            .offset_commit_mode(OffsetCommitMode::Manual)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .await?;
        let tps = [
            TopicPartition::new(topic.as_str(), 0),
            TopicPartition::new(topic.as_str(), 1),
        ];
        consumer.assign(tps.clone())?;
        for i in 0..10 {
            within(WAIT, "a record", consumer.recv()).await??;
            // Three commits: after the 4th, the 7th and the 10th record.
            if i % 3 == 0 && i > 0 {
                consumer.commit().await?;
            }
        }
        // Lag is known once a fetch answer after the last record came back.
        let m = wait_for(WAIT, "the lag of both partitions", || async {
            let m = consumer.metrics().await?;
            let known = m.partitions.iter().all(|p| p.lag == Some(0));
            Ok(known.then_some(m))
        })
        .await?;
        check!(m.records_consumed == 10, "consumed {}", m.records_consumed);
        check!(m.partitions.len() == 2, "{:?}", m.partitions);
        for (p, end) in m.partitions.iter().zip([6, 4]) {
            check!(p.position == Some(end), "{p:?}");
            check!(p.high_watermark == Some(end), "{p:?}");
            check!(p.committed == Some(end), "{p:?}");
            check!(p.records_fetched >= end as u64, "{p:?}");
            check!(p.bytes_fetched > 0, "{p:?}");
        }
        check!(m.total_lag() == 0, "lag {}", m.total_lag());
        check!(m.commits.succeeded == 3, "{:?}", m.commits);
        check!(m.commits.failed == 0, "{:?}", m.commits);
        check!(
            m.commits.latency.count == m.commits.requests && m.commits.requests >= 3,
            "{:?}",
            m.commits
        );
        check!(m.group.is_none(), "assigned by hand: no group membership");
        let fetches: u64 = m
            .brokers
            .iter()
            .filter_map(|b| b.latency.get(&ApiKey::Fetch))
            .map(|l| l.count)
            .sum();
        check!(fetches >= 1, "no Fetch latency in {:?}", m.brokers);
        check!(
            m.brokers
                .iter()
                .any(|b| b.state == ConnectionState::Connected && b.bytes_received > 0),
            "{:?}",
            m.brokers
        );
        consumer.close().await?;
        Ok(())
    });
}

#[test]
fn a_producers_numbers_are_what_it_sent() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let bootstrap = broker.addr().to_string();
    run("producer", async {
        let topic = unique("metrics-p");
        within(WAIT, "a topic", create_topic(&bootstrap, &topic, 1)).await??;
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .build()
            .await?;
        for i in 0..20 {
            drop(producer.send(ProducerRecord::new(topic.as_str()).value(format!("r{i}"))));
        }
        within(WAIT, "the flush", producer.flush()).await??;
        let m = within(WAIT, "the metrics", producer.metrics()).await??;
        check!(m.records_sent == 20, "{m:?}");
        check!(m.records_delivered == 20, "{m:?}");
        check!(m.records_failed == 0 && m.errors.is_empty(), "{m:?}");
        check!(m.records_pending == 0 && m.buffer_used == 0, "{m:?}");
        check!(m.records_buffered == 0, "{m:?}");
        check!(m.produce_requests_in_flight == 0, "{m:?}");
        // Every record went out in some batch, each batch counted once.
        check!(m.batches_sent >= 1, "{m:?}");
        let batched = m.records_per_batch * m.batches_sent as f64;
        let all_batched = (batched - 20.0).abs() < 1e-6;
        check!(all_batched, "{batched} records batched: {m:?}");
        check!(m.batch_fill.count == m.batches_sent, "{m:?}");
        check!(m.queue_time.count == m.batches_sent, "{m:?}");
        check!(m.retries.is_empty(), "{m:?}");
        let produces: u64 = m
            .brokers
            .iter()
            .filter_map(|b| b.latency.get(&ApiKey::Produce))
            .map(|l| l.count)
            .sum();
        check!(produces >= 1, "no Produce latency in {:?}", m.brokers);
        within(WAIT, "the close", producer.close()).await??;
        Ok(())
    });
}

#[test]
fn a_produce_answer_lost_with_its_connection_counts_as_a_retry_of_its_batch() {
    let Some((_broker, proxy)) = ClusterProxy::start_with_broker(Build::W, Engine::Memory, 2, 5)
    else {
        return;
    };
    run("producer retry", async {
        let topic = unique("metrics-retry");
        within(WAIT, "a topic", create_topic(&proxy.bootstrap(), &topic, 1)).await??;
        let producer = Producer::builder()
            .bootstrap_servers(proxy.bootstrap())
            .build()
            .await?;
        let send =
            |i: u32| producer.send(ProducerRecord::new(topic.as_str()).value(format!("r{i}")));
        within(WAIT, "the first record", send(0).into_future()).await??;
        let before = within(WAIT, "the metrics", producer.metrics()).await??;
        check!(before.retries.is_empty(), "{before:?}");
        let Some((leader, _)) = proxy.leader(&topic, 0) else {
            return Err("the proxy knows no leader".into());
        };
        proxy.drop_after_request(leader, Some(ApiKey::Produce));
        within(WAIT, "the second record", send(1).into_future()).await??;
        let m = within(WAIT, "the metrics", producer.metrics()).await??;
        let lost: u64 = m
            .retries
            .iter()
            .filter(|(cause, _)| cause.contains("NETWORK_EXCEPTION"))
            .map(|(_, n)| n)
            .sum();
        check!(lost == 1, "retries {:?}", m.retries);
        check!(m.batches_sent == before.batches_sent + 1, "{m:?}");
        check!(m.records_delivered == 2 && m.records_failed == 0, "{m:?}");
        within(WAIT, "the close", producer.close()).await??;
        Ok(())
    });
}

#[test]
fn connections_closed_under_a_client_are_counted() {
    let Some((_broker, proxy)) = ClusterProxy::start_with_broker(Build::W, Engine::Memory, 1, 3)
    else {
        return;
    };
    run("reconnects", async {
        let admin = within(WAIT, "a connection", Admin::connect(proxy.bootstrap())).await??;
        within(WAIT, "the topics", admin.list_topics(false)).await??;
        let before = within(WAIT, "the metrics", admin.metrics()).await??;
        let connects = |m: &dekaf_smol::metrics::AdminMetrics| -> u64 {
            m.brokers.iter().map(|b| b.connects).sum()
        };
        let closed = proxy.close_connections();
        check!(closed > 0, "the proxy closed no connection");
        // The next calls find their connections gone, and connect again.
        let after = wait_for(WAIT, "a call on a new connection", || async {
            let listed = admin.list_topics(false).await;
            let m = admin.metrics().await?;
            Ok((listed.is_ok() && connects(&m) > connects(&before)).then_some(m))
        })
        .await?;
        let disconnects: u64 = after.brokers.iter().map(|b| b.disconnects).sum();
        check!(disconnects >= 1, "{:?}", after.brokers);
        Ok(())
    });
}

#[test]
fn a_second_member_makes_the_first_rebalance() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let bootstrap = broker.addr().to_string();
    run("rebalance", async {
        let (topic, group) = (unique("metrics-g"), unique("metrics-g-group"));
        create_topic(&bootstrap, &topic, 4).await?;
        let member = || {
            Consumer::builder()
                .bootstrap_servers(&bootstrap)
                .group_id(&group)
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .session_timeout(Duration::from_secs(10))
                .heartbeat_interval(Duration::from_millis(500))
                .build()
        };
        // Each member asks for records all the time, so that it takes part in rebalances.
        let polled = |c: Arc<Consumer>| {
            smol::spawn(async move {
                while !matches!(c.recv().await, Err(dekaf_smol::Error::Shutdown)) {}
            })
        };
        let a = Arc::new(member().await?);
        a.subscribe([topic.as_str()])?;
        let _a_loop = polled(a.clone());
        wait_for(WAIT, "the first member's assignment", || async {
            let m = a.metrics().await?;
            let g = m.group.ok_or("no group")?;
            Ok((g.rebalances >= 1 && m.partitions.len() == 4).then_some(()))
        })
        .await?;
        let first = a.metrics().await?.group.ok_or("no group")?;
        check!(first.generation >= 0, "{first:?}");
        check!(first.last_rebalance.is_some(), "{first:?}");
        let b = Arc::new(member().await?);
        b.subscribe([topic.as_str()])?;
        let _b_loop = polled(b.clone());
        let (ma, mb) = wait_for(WAIT, "the partitions split between the two", || async {
            let (ma, mb) = (a.metrics().await?, b.metrics().await?);
            let split = ma.partitions.len() + mb.partitions.len() == 4 && !mb.partitions.is_empty();
            Ok(split.then_some((ma, mb)))
        })
        .await?;
        let (ga, gb) = (
            ma.group.ok_or("a: no group")?,
            mb.group.ok_or("b: no group")?,
        );
        check!(ga.rebalances > first.rebalances, "{first:?} then {ga:?}");
        check!(ga.generation > first.generation, "{first:?} then {ga:?}");
        check!(
            gb.rebalances >= 1 && gb.generation == ga.generation,
            "{ga:?} / {gb:?}"
        );
        check!(ga.rebalance_time >= first.rebalance_time, "{ga:?}");
        Ok(())
    });
}

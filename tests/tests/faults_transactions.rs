//! Consume-transform-produce in transactions with dekaf-smol on tansu build W behind the
//! cluster proxy, under a seeded random schedule of faults (leaders and both coordinators
//! moving, brokers down and slow, connections dropped after EndTxn and the like): under
//! read_committed each input record's transform exactly once, each transaction all or
//! nothing (see `dekaf_tests::faults`). `DEKAF_FAULTS_SEED` repeats a run.

use std::time::{Duration, Instant};

use dekaf_proto::ApiKey;
use dekaf_smol::{
    Admin, AutoOffsetReset, Consumer, IsolationLevel, NewTopic, Producer, ProducerRecord,
    TopicPartition,
};
use dekaf_tests::cluster_proxy::{ClusterProxy, CoordinatorKind};
use dekaf_tests::faults::{self, seed_from_env, Length, Workload};
use dekaf_tests::ops::unique_name;
use dekaf_tests::{Build, Engine};

#[test]
fn consume_transform_produce_is_exactly_once_under_faults() {
    let seed = seed_from_env();
    let Some(report) = faults::run(Workload::Transactions, Build::W, seed, Length::SHORT) else {
        return;
    };
    println!("{report}");
    assert!(report.passed(), "{report}");
}

/// The answer to a commit's EndTxn is lost (the connection closes once the request is
/// written): the producer asks again, the transaction is committed once, and the next ones
/// go on.
#[test]
fn a_commit_whose_end_txn_answer_is_lost_is_visible_once() {
    let seed = seed_from_env();
    let Some((broker, proxy)) = ClusterProxy::start_with_broker(Build::W, Engine::Memory, 3, seed)
    else {
        return;
    };
    let result: Result<(), String> = smol::block_on(async {
        let direct = broker.addr().to_string();
        let (topic, id) = (unique_name("lost-end-txn"), unique_name("lost-end-txn-id"));
        let admin = Admin::connect(&direct).await.map_err(|e| e.to_string())?;
        admin
            .create_topic(NewTopic::new(topic.as_str(), 1))
            .await
            .map_err(|e| e.to_string())?;
        let producer = Producer::builder()
            .bootstrap_servers(proxy.bootstrap())
            .transactional_id(id.as_str())
            .max_block(Duration::from_secs(60))
            .build()
            .await
            .map_err(|e| e.to_string())?;
        producer
            .init_transactions()
            .await
            .map_err(|e| e.to_string())?;
        for round in 0..3 {
            producer.begin_transaction().map_err(|e| e.to_string())?;
            for i in 0..3 {
                let record = ProducerRecord::new(topic.as_str())
                    .partition(0)
                    .value(format!("{round}-{i}"));
                let _ = producer.send(record);
            }
            let coordinator = proxy.coordinator(CoordinatorKind::Transaction, &id);
            proxy.drop_after_request(coordinator, Some(ApiKey::EndTxn));
            producer
                .commit_transaction()
                .await
                .map_err(|e| format!("round {round}: {e}"))?;
        }
        producer.close().await.map_err(|e| e.to_string())?;
        let dropped = proxy.stats().count("connection dropped after EndTxn");
        if dropped != 3 {
            return Err(format!("{dropped} EndTxn answers lost, not 3"));
        }
        let consumer = Consumer::builder()
            .bootstrap_servers(&direct)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let tp = TopicPartition::new(topic.as_str(), 0);
        consumer.assign([tp.clone()]).map_err(|e| e.to_string())?;
        let mut values = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while consumer.lag(&tp) != Some(0) || values.len() < 9 {
            if Instant::now() > deadline {
                return Err(format!("read {values:?} in 60 s"));
            }
            let batch =
                futures_lite::future::or(async { Some(consumer.recv_batch(100).await) }, async {
                    smol::Timer::after(Duration::from_millis(200)).await;
                    None
                })
                .await;
            if let Some(batch) = batch {
                for r in batch.map_err(|e| e.to_string())? {
                    values
                        .push(String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned());
                }
            }
        }
        let want: Vec<String> = (0..3)
            .flat_map(|round| (0..3).map(move |i| format!("{round}-{i}")))
            .collect();
        if values != want {
            return Err(format!("read_committed saw {values:?}"));
        }
        consumer.close().await.map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        panic!("{e}\n{}", broker.log());
    }
}

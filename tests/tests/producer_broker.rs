//! The producer machine under the dekaf-smol driver against a real broker (tansu build W):
//! records read back with raw Fetch requests, a committed and an aborted transaction told
//! apart by the control markers in the log, offsets committed with a transaction, and a
//! producer fenced by a newer one with the same transactional id.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_channel::{Receiver, Sender};
use bytes::Bytes;
use dekaf_proto::messages::offset_fetch::OffsetFetchRequestTopic;
use dekaf_proto::messages::{OffsetFetchRequest, ResponseBody};
use dekaf_proto::records::{Compression, ControlKind, RecordBatches};
use dekaf_smol::{Config, Driver, Handle, Hooks};
use dekaf_state::offset::{Backoff, OffsetAndMetadata, TopicPartition};
use dekaf_state::producer::{
    partition_for_key, ConsumerGroupMetadata, DeliveryError, DeliveryId, Event, Producer,
    ProducerConfig, ProducerRecord, RecordMetadata, TransactionError, TxnOpId,
};
use dekaf_tests::driver::{create_topic, fetch, within, TestClient, WAIT};
use dekaf_tests::{Broker, Build, Engine};

const ANY: dekaf_state::client::Destination = dekaf_state::client::Destination::AnyBroker;

/// Hands the producer's events to the test after every driver step.
struct Forward(Sender<Event>);

impl Hooks<Producer> for Forward {
    fn after_step(&mut self, producer: &mut Producer, _: std::time::Instant) {
        while let Some(e) = producer.poll_event() {
            let _ = self.0.try_send(e);
        }
    }
}

/// A producer machine running under the driver, and what it reported so far.
struct Running {
    handle: Handle<Producer>,
    events: Receiver<Event>,
    delivered: BTreeMap<DeliveryId, Result<RecordMetadata, DeliveryError>>,
    ops: BTreeMap<TxnOpId, Result<(), TransactionError>>,
    flushed: usize,
    _task: smol::Task<Producer>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Running {
    fn start(broker: &Broker, config: ProducerConfig, seed: u64) -> Running {
        let config = config.backoff(Backoff::fixed(
            Duration::from_millis(50),
            Duration::from_millis(500),
        ));
        let producer = Producer::new(config, seed).expect("valid settings");
        let driver_config = Config::new([broker.addr().to_string()])
            .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200));
        let (driver, handle) = Driver::new(driver_config, producer).expect("valid config");
        let (tx, events) = async_channel::unbounded();
        let task = smol::spawn(driver.with_hooks(Forward(tx)).run());
        Running {
            handle,
            events,
            delivered: BTreeMap::new(),
            ops: BTreeMap::new(),
            flushed: 0,
            _task: task,
        }
    }

    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Producer, std::time::Instant) -> R + Send + 'static,
    ) -> R {
        self.handle.call(f).await.expect("driver running")
    }

    async fn send(&self, mut record: ProducerRecord) -> DeliveryId {
        record.timestamp.get_or_insert_with(now_ms);
        self.call(move |p, now| p.send(now, record))
            .await
            .expect("record accepted")
    }

    /// Waits for events until `done` holds.
    async fn until(&mut self, mut done: impl FnMut(&Running) -> bool) {
        while !done(self) {
            let event = within(WAIT, self.events.recv())
                .await
                .expect("no event in time")
                .expect("driver running");
            match event {
                Event::Delivered { id, result } => {
                    self.delivered.insert(id, result);
                }
                Event::Flushed { .. } => self.flushed += 1,
                Event::Transaction { id, result, .. } => {
                    self.ops.insert(id, result);
                }
                _ => {}
            }
        }
    }

    async fn flush(&mut self) {
        let before = self.flushed;
        self.call(|p, now| p.flush(now)).await;
        self.until(|r| r.flushed > before).await;
    }

    async fn op(
        &mut self,
        f: impl FnOnce(&mut Producer, std::time::Instant) -> Result<TxnOpId, TransactionError>
            + Send
            + 'static,
    ) -> Result<(), TransactionError> {
        let op = self.call(f).await?;
        self.until(|r| r.ops.contains_key(&op)).await;
        self.ops[&op].clone()
    }
}

/// Every batch of partition 0 of `topic`, read with raw Fetch requests from offset 0 to the
/// high watermark: (producer id, transactional, control kind, values).
type Batch = (i64, bool, Option<ControlKind>, Vec<Bytes>);

async fn read_partition(client: &TestClient, topic: &str) -> Vec<Batch> {
    let mut out = Vec::new();
    let mut offset = 0;
    for _ in 0..100 {
        let answer = client
            .request(ANY, fetch(topic, offset, Duration::from_millis(300)))
            .await
            .expect("fetch answered");
        let ResponseBody::Fetch(f) = answer.body else {
            panic!("not a fetch answer")
        };
        let p = &f.responses[0].partitions[0];
        assert!(p.error_code.is_ok(), "{}", p.error_code);
        for batch in RecordBatches::new(p.records.clone().unwrap_or_default()) {
            let batch = batch.expect("a valid batch");
            if batch.next_offset() <= offset {
                continue;
            }
            let control = batch.control_record().ok().flatten().map(|c| c.kind);
            let values = if batch.is_control() {
                Vec::new()
            } else {
                batch
                    .records()
                    .map(|r| r.unwrap().value_bytes().unwrap_or_default())
                    .collect()
            };
            out.push((
                batch.producer_id(),
                batch.is_transactional(),
                control,
                values,
            ));
            offset = batch.next_offset();
        }
        if offset >= p.high_watermark {
            return out;
        }
    }
    panic!("could not read {topic} to its end");
}

/// What a `read_committed` reader keeps, decided by the markers: records outside
/// transactions, and records of transactions that a COMMIT marker of their producer closed.
fn committed_values(batches: &[Batch]) -> Vec<Bytes> {
    let mut open: BTreeMap<i64, Vec<Bytes>> = BTreeMap::new();
    let mut out = Vec::new();
    for (pid, transactional, control, values) in batches {
        match (control, transactional) {
            (Some(kind), _) => {
                let records = open.remove(pid).unwrap_or_default();
                if *kind == ControlKind::Commit {
                    out.extend(records);
                }
            }
            (None, true) => open.entry(*pid).or_default().extend(values.iter().cloned()),
            (None, false) => out.extend(values.iter().cloned()),
        }
    }
    out
}

async fn make_topic(client: &TestClient, name: &str, partitions: i32) {
    let answer = client
        .request(ANY, create_topic(name, partitions))
        .await
        .expect("create topic");
    let ResponseBody::CreateTopics(r) = answer.body else {
        panic!("not a CreateTopics answer")
    };
    assert!(r.topics[0].error_code.is_ok(), "{}", r.topics[0].error_code);
}

fn values(prefix: &str, n: usize) -> Vec<Bytes> {
    (0..n)
        .map(|i| Bytes::from(format!("{prefix}{i}")))
        .collect()
}

#[test]
fn records_are_written_in_order_once_and_read_back() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    smol::block_on(async {
        let client = TestClient::start(Config::new([broker.addr().to_string()]));
        make_topic(&client, "produce-one", 1).await;
        make_topic(&client, "produce-keys", 5).await;
        for (i, codec) in [Compression::None, Compression::Zstd, Compression::Lz4]
            .into_iter()
            .enumerate()
        {
            let mut p = Running::start(
                &broker,
                ProducerConfig::default()
                    .compression(codec)
                    .batch_size(2_000),
                i as u64,
            );
            let prefix = format!("{codec:?}-");
            let mut ids = Vec::new();
            for v in values(&prefix, 300) {
                let record = ProducerRecord {
                    topic: "produce-one".into(),
                    value: Some(v),
                    ..Default::default()
                };
                ids.push(p.send(record).await);
            }
            p.flush().await;
            let offsets: Vec<i64> = ids
                .iter()
                .map(|id| p.delivered[id].as_ref().unwrap().offset.unwrap())
                .collect();
            assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "{offsets:?}");
            let pid = p.call(|p, _| p.producer_id_and_epoch()).await.unwrap().0;
            let batches = read_partition(&client, "produce-one").await;
            let ours: Vec<Bytes> = batches
                .iter()
                .filter(|b| b.0 == pid)
                .flat_map(|b| b.3.iter().cloned())
                .collect();
            assert_eq!(ours, values(&prefix, 300), "{codec:?}");
            assert!(batches.iter().filter(|b| b.0 == pid).count() > 5, "batched");
            p.handle.shutdown();
        }

        let mut p = Running::start(&broker, ProducerConfig::default(), 9);
        let mut ids = Vec::new();
        for i in 0..200 {
            let key = format!("user-{i}");
            let record = ProducerRecord::new("produce-keys", "v").key(key.clone());
            ids.push((p.send(record).await, key));
        }
        p.flush().await;
        for (id, key) in ids {
            let meta = p.delivered[&id].as_ref().unwrap();
            assert_eq!(
                meta.partition,
                TopicPartition::new(
                    "produce-keys",
                    partition_for_key(key.as_bytes(), 5).unwrap()
                )
            );
        }
    });
}

#[test]
fn committed_and_aborted_transactions_leave_their_markers() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    smol::block_on(async {
        let client = TestClient::start(Config::new([broker.addr().to_string()]));
        make_topic(&client, "txn-out", 1).await;
        make_topic(&client, "txn-in", 1).await;
        let mut p = Running::start(&broker, ProducerConfig::transactional("txn-markers"), 1);
        p.op(|p, now| p.init_transactions(now)).await.unwrap();

        // Committed, with offsets for a group.
        p.call(|p, _| p.begin_transaction()).await.unwrap();
        for v in values("c", 10) {
            p.send(ProducerRecord {
                topic: "txn-out".into(),
                value: Some(v),
                ..Default::default()
            })
            .await;
        }
        let offsets = [(TopicPartition::new("txn-in", 0), OffsetAndMetadata::new(42))];
        p.op(move |p, now| {
            p.send_offsets_to_transaction(now, offsets, ConsumerGroupMetadata::new("txn-group"))
        })
        .await
        .unwrap();
        p.op(|p, now| p.commit_transaction(now)).await.unwrap();

        // Aborted after its records were written.
        p.call(|p, _| p.begin_transaction()).await.unwrap();
        for v in values("a", 10) {
            p.send(ProducerRecord {
                topic: "txn-out".into(),
                value: Some(v),
                ..Default::default()
            })
            .await;
        }
        p.flush().await;
        let offsets = [(TopicPartition::new("txn-in", 0), OffsetAndMetadata::new(99))];
        p.op(move |p, now| {
            p.send_offsets_to_transaction(now, offsets, ConsumerGroupMetadata::new("txn-group"))
        })
        .await
        .unwrap();
        p.op(|p, now| p.abort_transaction(now)).await.unwrap();

        // Committed again.
        p.call(|p, _| p.begin_transaction()).await.unwrap();
        for v in values("d", 5) {
            p.send(ProducerRecord {
                topic: "txn-out".into(),
                value: Some(v),
                ..Default::default()
            })
            .await;
        }
        p.op(|p, now| p.commit_transaction(now)).await.unwrap();
        assert!(p.delivered.values().all(Result::is_ok));

        let batches = read_partition(&client, "txn-out").await;
        let markers: Vec<ControlKind> = batches.iter().filter_map(|b| b.2).collect();
        assert_eq!(
            markers,
            [ControlKind::Commit, ControlKind::Abort, ControlKind::Commit]
        );
        assert!(batches.iter().all(|b| b.1), "every batch is transactional");
        let mut expected = values("c", 10);
        expected.extend(values("d", 5));
        assert_eq!(committed_values(&batches), expected);

        // The group's committed offset is the committed transaction's, not the aborted one's.
        let mut raw = broker.client();
        let answer = raw.call(
            &OffsetFetchRequest {
                group_id: "txn-group".into(),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: "txn-in".into(),
                    partition_indexes: vec![0],
                    ..Default::default()
                }]),
                require_stable: true,
                ..Default::default()
            },
            7,
        );
        let committed = answer.topics[0].partitions[0].committed_offset;
        assert_eq!(committed, 42);
    });
}

#[test]
fn a_newer_producer_with_the_same_transactional_id_fences_the_older() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    smol::block_on(async {
        let client = TestClient::start(Config::new([broker.addr().to_string()]));
        make_topic(&client, "fenced-out", 2).await;
        let mut a = Running::start(&broker, ProducerConfig::transactional("txn-fence"), 1);
        a.op(|p, now| p.init_transactions(now)).await.unwrap();
        a.call(|p, _| p.begin_transaction()).await.unwrap();
        for v in values("old", 5) {
            a.send(ProducerRecord::new("fenced-out", v).partition(0))
                .await;
        }
        a.flush().await;

        let mut b = Running::start(&broker, ProducerConfig::transactional("txn-fence"), 2);
        b.op(|p, now| p.init_transactions(now)).await.unwrap();
        let (a_id, a_epoch) = a.call(|p, _| p.producer_id_and_epoch()).await.unwrap();
        let (b_id, b_epoch) = b.call(|p, _| p.producer_id_and_epoch()).await.unwrap();
        assert_eq!(a_id, b_id);
        assert!(b_epoch > a_epoch);

        // A writes to a partition new to its transaction: the coordinator refuses to add it.
        let late = a
            .send(ProducerRecord::new("fenced-out", "late").partition(1))
            .await;
        a.until(|r| r.delivered.contains_key(&late)).await;
        let Err(DeliveryError::Fatal(e)) = &a.delivered[&late] else {
            panic!("expected a fatal error, got {:?}", a.delivered[&late]);
        };
        assert!(e.is_fenced(), "{e}");
        let result = a.op(|p, now| p.commit_transaction(now)).await;
        let Err(TransactionError::Fatal(e)) = &result else {
            panic!("the fenced producer's commit must fail fatally, got {result:?}");
        };
        assert!(e.is_fenced(), "{e}");
        assert!(a
            .call(|p, now| p.send(now, ProducerRecord::new("fenced-out", "later")))
            .await
            .is_err());

        b.call(|p, _| p.begin_transaction()).await.unwrap();
        for v in values("new", 3) {
            b.send(ProducerRecord::new("fenced-out", v).partition(0))
                .await;
        }
        b.op(|p, now| p.commit_transaction(now)).await.unwrap();
        let batches = read_partition(&client, "fenced-out").await;
        // B's init aborted A's open transaction: its records are followed by an ABORT marker.
        let markers: Vec<ControlKind> = batches.iter().filter_map(|b| b.2).collect();
        assert_eq!(markers, [ControlKind::Abort, ControlKind::Commit]);
        assert_eq!(committed_values(&batches), values("new", 3));
    });
}

/// tansu answers an EndTxn from a fenced producer by closing the connection (Kafka answers
/// PRODUCER_FENCED): the fenced producer's commit then never completes, and in particular
/// never reports success.
#[test]
fn tansu_closes_the_connection_on_a_fenced_end_txn() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    smol::block_on(async {
        let client = TestClient::start(Config::new([broker.addr().to_string()]));
        make_topic(&client, "fenced-end", 1).await;
        let mut a = Running::start(&broker, ProducerConfig::transactional("txn-fence-end"), 1);
        a.op(|p, now| p.init_transactions(now)).await.unwrap();
        a.call(|p, _| p.begin_transaction()).await.unwrap();
        a.send(ProducerRecord::new("fenced-end", "old")).await;
        a.flush().await;
        let (pid, epoch) = a.call(|p, _| p.producer_id_and_epoch()).await.unwrap();
        let mut b = Running::start(&broker, ProducerConfig::transactional("txn-fence-end"), 2);
        b.op(|p, now| p.init_transactions(now)).await.unwrap();

        let mut raw = broker.client();
        let end = raw.try_call(
            &dekaf_proto::messages::EndTxnRequest {
                transactional_id: "txn-fence-end".into(),
                producer_id: pid,
                producer_epoch: epoch,
                committed: true,
                ..Default::default()
            },
            3,
        );
        assert!(
            matches!(end, Err(dekaf_tests::CallError::Closed)),
            "tansu now answers a fenced EndTxn: {end:?}"
        );

        let op = a.call(|p, now| p.commit_transaction(now)).await.unwrap();
        let waited = within(Duration::from_secs(3), a.until(|r| r.ops.contains_key(&op))).await;
        assert!(
            waited.is_none(),
            "the commit finished: {:?}",
            a.ops.get(&op)
        );
        let batches = read_partition(&client, "fenced-end").await;
        assert!(committed_values(&batches).is_empty());
    });
}

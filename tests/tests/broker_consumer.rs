//! The consumer machine against both tansu builds, over the blocking test driver: records
//! written with raw Produce requests are read back in order, committed, and read again from
//! the committed offset by a new consumer; seek to the beginning; and read_committed on build
//! W with transactions written by raw requests (one aborted, one committed, interleaved).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dekaf_proto::messages::add_partitions_to_txn::AddPartitionsToTxnTopic;
use dekaf_proto::messages::create_topics::CreatableTopic;
use dekaf_proto::messages::produce::{PartitionProduceData, TopicProduceData};
use dekaf_proto::messages::{
    AddPartitionsToTxnRequest, CreateTopicsRequest, EndTxnRequest, InitProducerIdRequest,
    ProduceRequest,
};
use dekaf_proto::records::{Compression, RecordBatchBuilder};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::ErrorCode;
use dekaf_sim::Delivered;
use dekaf_state::consumer::{Consumer, ConsumerConfig, ConsumerEvent, IsolationLevel};
use dekaf_state::offset::{
    AutoOffsetReset, CommitId, Event, OffsetCommitMode, TopicPartition, TopicPartitionOffset,
};
use dekaf_tests::blocking::BlockingDriver as Driver;
use dekaf_tests::broker::temp_dir;
use dekaf_tests::{Broker, Build, Client, Engine};

const WAIT: Duration = Duration::from_secs(60);

fn engine(build: Build) -> Engine {
    match build {
        Build::W => Engine::Memory,
        Build::C => Engine::Sqlite(temp_dir("consumer")),
    }
}

fn create_topic(client: &mut Client, versions: &BrokerVersions, name: &str, partitions: i32) {
    let mut topic = CreatableTopic::new(name);
    topic.num_partitions = partitions;
    topic.replication_factor = 1;
    let resp = client.call_negotiated(
        versions,
        &CreateTopicsRequest {
            topics: vec![topic],
            ..Default::default()
        },
    );
    assert_eq!(resp.topics[0].error_code, ErrorCode::NONE, "create {name}");
}

/// A record value that says where it was written.
fn value(topic: &str, p: i32, i: usize) -> Bytes {
    Bytes::from(format!("{topic}/{p}/{i}"))
}

/// Produces one batch; returns its base offset.
fn produce(
    client: &mut Client,
    versions: &BrokerVersions,
    topic: &str,
    p: i32,
    batch: Bytes,
    transactional_id: Option<&str>,
) -> i64 {
    let resp = client.call_negotiated(
        versions,
        &ProduceRequest {
            transactional_id: transactional_id.map(str::to_string),
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: topic.to_string(),
                partition_data: vec![PartitionProduceData {
                    index: p,
                    records: Some(batch),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    let part = &resp.responses[0].partition_responses[0];
    assert_eq!(part.error_code, ErrorCode::NONE, "produce to {topic}-{p}");
    part.base_offset
}

/// Writes `n` plain records as one batch; returns (offset, value) of each.
fn write(
    client: &mut Client,
    versions: &BrokerVersions,
    topic: &str,
    p: i32,
    first: usize,
    n: usize,
    codec: Compression,
) -> Vec<(i64, Bytes)> {
    let mut b = RecordBatchBuilder::new().compression(codec);
    for i in first..first + n {
        b.append(
            1_700_000_000_000 + i as i64,
            None,
            Some(value(topic, p, i)),
            vec![],
        );
    }
    let base = produce(client, versions, topic, p, b.build().unwrap(), None);
    (0..n)
        .map(|k| (base + k as i64, value(topic, p, first + k)))
        .collect()
}

fn config(group: &str) -> ConsumerConfig {
    ConsumerConfig::new()
        .with_client_id("dekaf-tests")
        .with_group_id(group)
        .with_commit_mode(OffsetCommitMode::Manual)
        .with_auto_offset_reset(AutoOffsetReset::Earliest)
}

/// Takes records until `want` per partition arrived; fails after a minute.
fn consume(
    driver: &mut Driver<Consumer>,
    got: &mut Delivered,
    want: &BTreeMap<TopicPartition, usize>,
    events: &mut Vec<ConsumerEvent>,
) {
    let done = driver.run_until(WAIT, |c, now| {
        got.add(c.poll_records(now, 100));
        while let Some(e) = c.poll_event() {
            events.push(e);
        }
        want.iter().all(|(tp, n)| got.count(tp) >= *n)
    });
    assert!(done, "not all records arrived: {got:?}\nevents: {events:?}");
}

fn wait_commit(driver: &mut Driver<Consumer>, id: CommitId, events: &mut Vec<ConsumerEvent>) {
    let mut result = None;
    let done = driver.run_until(WAIT, |c, _| {
        while let Some(e) = c.poll_event() {
            if let ConsumerEvent::Offset(Event::CommitFinished {
                id: i, result: r, ..
            }) = &e
            {
                if *i == id {
                    result = Some(r.clone());
                }
            }
            events.push(e);
        }
        result.is_some()
    });
    assert!(done, "commit did not finish: {events:?}");
    assert_eq!(result, Some(Ok(())));
}

fn check(got: &Delivered, tp: &TopicPartition, expected: &[(i64, Bytes)]) {
    let records = got
        .by_partition
        .get(tp)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let have: Vec<(i64, Bytes)> = records
        .iter()
        .map(|r| (r.offset, r.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(have, expected, "{tp}");
}

fn consume_commit_resume(build: Build) {
    let Some(broker) = Broker::start(build, engine(build)) else {
        return;
    };
    let mut client = broker.client();
    let versions = client.broker_versions();
    let topic = "consume-commit-resume";
    create_topic(&mut client, &versions, topic, 2);
    let tp0 = TopicPartition::new(topic, 0);
    let tp1 = TopicPartition::new(topic, 1);
    // Build C cannot serve snappy batches (see BROKER.md).
    let codecs = match build {
        Build::W => [
            Compression::None,
            Compression::Gzip,
            Compression::Lz4,
            Compression::Zstd,
            Compression::Snappy,
        ],
        Build::C => [
            Compression::None,
            Compression::Gzip,
            Compression::Lz4,
            Compression::Zstd,
            Compression::None,
        ],
    };
    let mut p0 = Vec::new();
    for (k, codec) in codecs.iter().enumerate() {
        p0.extend(write(&mut client, &versions, topic, 0, k * 4, 4, *codec));
    }
    let mut p1 = Vec::new();
    for k in 0..3 {
        p1.extend(write(
            &mut client,
            &versions,
            topic,
            1,
            k * 3,
            3,
            Compression::None,
        ));
    }

    let group = "resume-group";
    let mut events = Vec::new();
    let mut driver = Driver::new(Consumer::new(config(group)), broker.addr(), "dekaf-tests");
    driver
        .machine
        .assign(Instant::now(), [tp0.clone(), tp1.clone()])
        .unwrap();
    let mut got = Delivered::default();
    let want = BTreeMap::from([(tp0.clone(), p0.len()), (tp1.clone(), p1.len())]);
    consume(&mut driver, &mut got, &want, &mut events);
    check(&got, &tp0, &p0);
    check(&got, &tp1, &p1);
    assert_eq!(driver.machine.lag(&tp0), Some(0), "{build}");

    // Commit: partition 0 only up to its 8th record (the rest "not processed"), partition 1
    // everything.
    let end1 = p1.last().unwrap().0 + 1;
    let id = driver
        .machine
        .commit_offsets(
            Instant::now(),
            [
                TopicPartitionOffset::at(tp0.clone(), p0[7].0),
                TopicPartitionOffset::at(tp1.clone(), end1),
            ],
        )
        .unwrap();
    wait_commit(&mut driver, id, &mut events);

    // A new consumer of the group resumes there.
    driver.replace(Consumer::new(config(group)));
    driver
        .machine
        .assign(Instant::now(), [tp0.clone(), tp1.clone()])
        .unwrap();
    let mut again = Delivered::default();
    let want = BTreeMap::from([(tp0.clone(), p0.len() - 7)]);
    consume(&mut driver, &mut again, &want, &mut events);
    check(&again, &tp0, &p0[7..]);
    assert_eq!(driver.machine.committed(&tp1).map(|c| c.offset), Some(end1));
    // Partition 1 had nothing left: only what is written now comes.
    let more = write(&mut client, &versions, topic, 1, 100, 2, Compression::Gzip);
    let want = BTreeMap::from([(tp1.clone(), 2)]);
    consume(&mut driver, &mut again, &want, &mut events);
    check(&again, &tp1, &more);

    // Seek to the beginning: everything again.
    driver
        .machine
        .seek_to_beginning(Instant::now(), [tp0.clone()])
        .unwrap();
    let mut from_start = Delivered::default();
    let want = BTreeMap::from([(tp0.clone(), p0.len())]);
    consume(&mut driver, &mut from_start, &want, &mut events);
    check(&from_start, &tp0, &p0);

    // Committed offsets as the coordinator has them.
    let id = driver.machine.commit(Instant::now()).unwrap();
    wait_commit(&mut driver, id, &mut events);
    let end0 = p0.last().unwrap().0 + 1;
    let query = driver
        .machine
        .fetch_committed(Instant::now(), [tp0.clone(), tp1.clone()])
        .unwrap();
    let mut answer = None;
    assert!(driver.run_until(WAIT, |c, _| {
        while let Some(e) = c.poll_event() {
            if let ConsumerEvent::Offset(Event::Committed { query: q, result }) = e {
                if q == query {
                    answer = Some(result);
                }
            }
        }
        answer.is_some()
    }));
    let answer: Vec<(TopicPartition, Option<i64>)> = answer
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|(tp, c)| (tp, c.map(|c| c.offset)))
        .collect();
    assert_eq!(
        answer,
        [(tp0, Some(end0)), (tp1, Some(more[1].0 + 1))],
        "{build}"
    );
    let unexpected: Vec<_> = events
        .iter()
        .filter(|e| {
            !matches!(
                e,
                ConsumerEvent::Offset(Event::CommitFinished { result: Ok(()), .. })
            )
        })
        .collect();
    assert!(unexpected.is_empty(), "{build}: {unexpected:?}");
}

#[test]
fn consume_commit_and_resume_on_build_w() {
    consume_commit_resume(Build::W);
}

#[test]
fn consume_commit_and_resume_on_build_c() {
    consume_commit_resume(Build::C);
}

/// A transactional producer written with raw requests.
struct TxnProducer {
    id: String,
    producer_id: i64,
    epoch: i16,
    sequence: BTreeMap<i32, i32>,
}

impl TxnProducer {
    fn init(client: &mut Client, versions: &BrokerVersions, id: &str) -> Self {
        let resp = client.call_negotiated(
            versions,
            &InitProducerIdRequest {
                transactional_id: Some(id.to_string()),
                transaction_timeout_ms: 60_000,
                ..Default::default()
            },
        );
        assert_eq!(resp.error_code, ErrorCode::NONE, "InitProducerId");
        TxnProducer {
            id: id.to_string(),
            producer_id: resp.producer_id,
            epoch: resp.producer_epoch,
            sequence: BTreeMap::new(),
        }
    }

    fn add_partition(&self, client: &mut Client, versions: &BrokerVersions, topic: &str, p: i32) {
        let v = versions
            .pick(dekaf_proto::ApiKey::AddPartitionsToTxn)
            .unwrap()
            .min(3);
        let resp = client.call(
            &AddPartitionsToTxnRequest {
                transactional_id: self.id.clone(),
                producer_id: self.producer_id,
                producer_epoch: self.epoch,
                topics: vec![AddPartitionsToTxnTopic {
                    name: topic.to_string(),
                    partitions: vec![p],
                    ..Default::default()
                }],
                ..Default::default()
            },
            v,
        );
        for t in &resp.results_by_topic {
            for r in &t.results_by_partition {
                assert_eq!(
                    r.partition_error_code,
                    ErrorCode::NONE,
                    "AddPartitionsToTxn"
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        client: &mut Client,
        versions: &BrokerVersions,
        topic: &str,
        p: i32,
        first: usize,
        n: usize,
        codec: Compression,
    ) -> Vec<(i64, Bytes)> {
        let seq = self.sequence.entry(p).or_insert(0);
        let mut b = RecordBatchBuilder::new()
            .compression(codec)
            .transactional(true)
            .producer(self.producer_id, self.epoch, *seq);
        *seq += n as i32;
        for i in first..first + n {
            b.append(
                1_700_000_000_000 + i as i64,
                None,
                Some(value(topic, p, i)),
                vec![],
            );
        }
        let base = produce(
            client,
            versions,
            topic,
            p,
            b.build().unwrap(),
            Some(&self.id),
        );
        (0..n)
            .map(|k| (base + k as i64, value(topic, p, first + k)))
            .collect()
    }

    fn end(&self, client: &mut Client, versions: &BrokerVersions, commit: bool) {
        let resp = client.call_negotiated(
            versions,
            &EndTxnRequest {
                transactional_id: self.id.clone(),
                producer_id: self.producer_id,
                producer_epoch: self.epoch,
                committed: commit,
                ..Default::default()
            },
        );
        assert_eq!(resp.error_code, ErrorCode::NONE, "EndTxn");
    }
}

#[test]
fn read_committed_on_build_w() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let mut client = broker.client();
    let versions = client.broker_versions();
    let topic = "read-committed";
    create_topic(&mut client, &versions, topic, 1);
    let tp = TopicPartition::new(topic, 0);

    let mut committed = Vec::new();
    let mut everything = Vec::new();
    let plain = write(&mut client, &versions, topic, 0, 0, 2, Compression::None);
    committed.extend(plain.clone());
    everything.extend(plain);

    let mut aborted = TxnProducer::init(&mut client, &versions, "tx-abort");
    let mut kept = TxnProducer::init(&mut client, &versions, "tx-commit");
    aborted.add_partition(&mut client, &versions, topic, 0);
    kept.add_partition(&mut client, &versions, topic, 0);
    // Interleaved: aborted, committed, aborted, then the committed one commits first.
    let a1 = aborted.write(&mut client, &versions, topic, 0, 10, 3, Compression::Lz4);
    let c1 = kept.write(&mut client, &versions, topic, 0, 20, 2, Compression::Zstd);
    let a2 = aborted.write(&mut client, &versions, topic, 0, 13, 2, Compression::None);
    kept.end(&mut client, &versions, true);
    aborted.end(&mut client, &versions, false);
    let tail = write(&mut client, &versions, topic, 0, 30, 1, Compression::Gzip);
    everything.extend(a1.iter().chain(&c1).chain(&a2).chain(&tail).cloned());
    everything.sort();
    committed.extend(c1.iter().chain(&tail).cloned());

    for (isolation, expected) in [
        (IsolationLevel::ReadCommitted, &committed),
        (IsolationLevel::ReadUncommitted, &everything),
    ] {
        let consumer =
            Consumer::new(config(&format!("rc-{isolation:?}")).with_isolation_level(isolation));
        let mut driver = Driver::new(consumer, broker.addr(), "dekaf-tests");
        driver.machine.assign(Instant::now(), [tp.clone()]).unwrap();
        let mut got = Delivered::default();
        let mut events = Vec::new();
        let want = BTreeMap::from([(tp.clone(), expected.len())]);
        consume(&mut driver, &mut got, &want, &mut events);
        // Nothing more comes (no aborted record later on).
        let until = Instant::now() + Duration::from_secs(2);
        driver.run_until(Duration::from_secs(3), |c, now| {
            got.add(c.poll_records(now, 100));
            now >= until
        });
        check(&got, &tp, expected);
    }

    // An open transaction: read_committed stops at its first record, even for plain records
    // written after it, until it commits.
    let consumer =
        Consumer::new(config("rc-open").with_isolation_level(IsolationLevel::ReadCommitted));
    let mut driver = Driver::new(consumer, broker.addr(), "dekaf-tests");
    driver.machine.assign(Instant::now(), [tp.clone()]).unwrap();
    let mut got = Delivered::default();
    let mut events = Vec::new();
    let want = BTreeMap::from([(tp.clone(), committed.len())]);
    consume(&mut driver, &mut got, &want, &mut events);
    let mut open = TxnProducer::init(&mut client, &versions, "tx-open");
    open.add_partition(&mut client, &versions, topic, 0);
    let pending = open.write(&mut client, &versions, topic, 0, 40, 2, Compression::None);
    let after = write(&mut client, &versions, topic, 0, 50, 1, Compression::None);
    let until = Instant::now() + Duration::from_secs(2);
    driver.run_until(Duration::from_secs(3), |c, now| {
        got.add(c.poll_records(now, 100));
        now >= until
    });
    check(&got, &tp, &committed);
    open.end(&mut client, &versions, true);
    committed.extend(pending.iter().chain(&after).cloned());
    let want = BTreeMap::from([(tp.clone(), committed.len())]);
    consume(&mut driver, &mut got, &want, &mut events);
    check(&got, &tp, &committed);
}

//! The cluster-shaped proxy in front of tansu (build W), request by request with the blocking
//! test client: the brokers and leaders it shows, the refusals it makes up when a leader or a
//! coordinator moved, split requests, brokers down and slow, dropped connections, damaged
//! answers.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use dekaf_proto::messages::fetch::{FetchPartition, FetchTopic};
use dekaf_proto::messages::offset_commit::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use dekaf_proto::messages::produce::{PartitionProduceData, TopicProduceData};
use dekaf_proto::messages::{
    DescribeClusterRequest, FetchRequest, FindCoordinatorRequest, InitProducerIdRequest,
    MetadataRequest, MetadataResponse, OffsetCommitRequest, ProduceRequest, ProduceResponse,
};
use dekaf_proto::records::{RecordBatchBuilder, RecordBatches};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::wire::Uuid;
use dekaf_proto::{ApiKey, ErrorCode};
use dekaf_smol::{AutoOffsetReset, Consumer, TopicPartition};
use dekaf_tests::cluster_proxy::{
    BrokerId, ClusterProxy, CoordinatorKind, Corruption, Damage, Down,
};
use dekaf_tests::ops::{create_topic, unique_name, version};
use dekaf_tests::{Broker, Build, CallError, Client, Engine};

const BROKERS: usize = 3;
const PARTITIONS: i32 = 6;

fn start(seed: u64) -> Option<(Broker, ClusterProxy)> {
    ClusterProxy::start_with_broker(Build::W, Engine::Memory, BROKERS, seed)
}

fn connect(proxy: &ClusterProxy, id: BrokerId) -> (Client, BrokerVersions) {
    let mut client = Client::connect(proxy.addr(id).unwrap()).unwrap();
    let versions = client.broker_versions();
    (client, versions)
}

/// Creates a topic through broker 1 and reads its metadata; returns its name, id and the
/// answer.
fn topic(proxy: &ClusterProxy) -> (String, Uuid, MetadataResponse) {
    let (mut client, versions) = connect(proxy, 1);
    let name = unique_name("proxy");
    let id = create_topic(&mut client, &versions, &name, PARTITIONS);
    let answer = metadata(&mut client, &versions, &name);
    (name, id, answer)
}

fn metadata(client: &mut Client, versions: &BrokerVersions, topic: &str) -> MetadataResponse {
    client.call(
        &MetadataRequest::for_topics([topic]),
        version::<MetadataRequest>(versions),
    )
}

fn batch(value: &str) -> Bytes {
    let mut builder = RecordBatchBuilder::new();
    builder.append(0, None, Some(Bytes::from(value.to_string())), Vec::new());
    builder.build().unwrap()
}

/// Produces one record to each of `partitions` in one request.
fn produce(
    client: &mut Client,
    versions: &BrokerVersions,
    topic: &str,
    partitions: &[i32],
) -> ProduceResponse {
    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: partitions
                .iter()
                .map(|p| PartitionProduceData {
                    index: *p,
                    records: Some(batch(&format!("to {p}"))),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    client.call(&request, version::<ProduceRequest>(versions))
}

fn produce_codes(answer: &ProduceResponse) -> Vec<(i32, ErrorCode)> {
    let mut codes: Vec<(i32, ErrorCode)> = answer
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .map(|p| (p.index, p.error_code))
        .collect();
    codes.sort();
    codes
}

fn fetch_request(topic: &str, id: Uuid, partition: i32, epoch: i32) -> FetchRequest {
    FetchRequest {
        max_wait_ms: 100,
        min_bytes: 1,
        topics: vec![FetchTopic {
            topic: topic.into(),
            topic_id: id,
            partitions: vec![FetchPartition {
                partition,
                current_leader_epoch: epoch,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn metadata_shows_the_proxys_brokers_and_spreads_the_leaders() {
    let Some((_broker, proxy)) = start(7) else {
        return;
    };
    let (name, _, answer) = topic(&proxy);
    let ids: Vec<i32> = answer.brokers.iter().map(|b| b.node_id).collect();
    assert_eq!(ids, proxy.brokers());
    for b in &answer.brokers {
        let addr = proxy.addr(b.node_id).unwrap();
        assert_eq!(
            (b.host.as_str(), b.port),
            ("127.0.0.1", i32::from(addr.port()))
        );
    }
    let t = &answer.topics[0];
    assert_eq!(t.partitions.len(), PARTITIONS as usize);
    let mut leaders = BTreeSet::new();
    for p in &t.partitions {
        let (leader, epoch) = proxy.leader(&name, p.partition_index).unwrap();
        assert_eq!((p.leader_id, p.leader_epoch), (leader, epoch));
        assert_eq!(p.replica_nodes.len(), BROKERS);
        assert_eq!(p.replica_nodes[0], leader);
        leaders.insert(leader);
    }
    assert!(leaders.len() > 1, "6 partitions all led by {leaders:?}");

    // The same seed lays the same partitions out the same way on another proxy.
    let Some((_b2, again)) = start(7) else {
        return;
    };
    let mut client = Client::connect(again.addr(2).unwrap()).unwrap();
    let versions = client.broker_versions();
    create_topic(&mut client, &versions, &name, PARTITIONS);
    metadata(&mut client, &versions, &name);
    for p in 0..PARTITIONS {
        assert_eq!(again.leader(&name, p), proxy.leader(&name, p));
    }

    // DescribeCluster names the same brokers.
    let (mut client, versions) = connect(&proxy, 3);
    let described = client.call(
        &DescribeClusterRequest::default(),
        version::<DescribeClusterRequest>(&versions),
    );
    let ids: Vec<i32> = described.brokers.iter().map(|b| b.broker_id).collect();
    assert_eq!(ids, proxy.brokers());
}

#[test]
fn a_moved_leader_is_refused_at_the_old_broker_and_shown_with_a_higher_epoch() {
    let Some((_broker, proxy)) = start(11) else {
        return;
    };
    let (name, id, _) = topic(&proxy);
    let (old, epoch) = proxy.leader(&name, 0).unwrap();
    let (mut at_old, versions) = connect(&proxy, old);
    assert_eq!(
        produce_codes(&produce(&mut at_old, &versions, &name, &[0])),
        [(0, ErrorCode::NONE)]
    );

    let (from, new, new_epoch) = proxy.move_leader(&name, 0).unwrap();
    assert_eq!(from, old);
    assert_ne!(new, old);
    assert_eq!(new_epoch, epoch + 1);
    let answer = produce(&mut at_old, &versions, &name, &[0]);
    assert_eq!(
        produce_codes(&answer),
        [(0, ErrorCode::NOT_LEADER_OR_FOLLOWER)]
    );
    let hint = &answer.responses[0].partition_responses[0].current_leader;
    assert_eq!((hint.leader_id, hint.leader_epoch), (new, new_epoch));
    let endpoint = &answer.node_endpoints[0];
    assert_eq!(endpoint.node_id, new);
    assert_eq!(endpoint.port, i32::from(proxy.addr(new).unwrap().port()));

    // A fetch with the old epoch is fenced, even at the new leader; with the new one it
    // reads what was written.
    let fetch_version = version::<FetchRequest>(&versions);
    let (mut at_new, _) = connect(&proxy, new);
    let fenced = at_new.call(&fetch_request(&name, id, 0, epoch), fetch_version);
    let p = &fenced.responses[0].partitions[0];
    assert_eq!(p.error_code, ErrorCode::FENCED_LEADER_EPOCH);
    let read = at_new.call(&fetch_request(&name, id, 0, new_epoch), fetch_version);
    let p = &read.responses[0].partitions[0];
    assert_eq!(p.error_code, ErrorCode::NONE);
    let values: Vec<Bytes> = RecordBatches::new(p.records.clone().unwrap_or_default())
        .flat_map(|b| {
            b.unwrap()
                .records()
                .map(|r| r.unwrap().value_bytes().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(values, [Bytes::from("to 0")]);
    let newer = at_new.call(&fetch_request(&name, id, 0, new_epoch + 1), fetch_version);
    assert_eq!(
        newer.responses[0].partitions[0].error_code,
        ErrorCode::UNKNOWN_LEADER_EPOCH
    );

    // Metadata from any broker shows the new leader at the new epoch.
    let answer = metadata(&mut at_old, &versions, &name);
    let p = &answer.topics[0].partitions[0];
    assert_eq!((p.leader_id, p.leader_epoch), (new, new_epoch));
    assert!(proxy.stats().count("Produce NOT_LEADER_OR_FOLLOWER") >= 1);
    assert!(proxy.stats().count("Fetch FENCED_LEADER_EPOCH") >= 1);
}

#[test]
fn a_produce_for_partitions_of_several_leaders_is_split() {
    let Some((_broker, proxy)) = start(3) else {
        return;
    };
    let (name, _, _) = topic(&proxy);
    for p in 0..PARTITIONS {
        proxy.move_leader_to(&name, p, 1 + (p % 2)).unwrap();
    }
    let (mut at_1, versions) = connect(&proxy, 1);
    let all: Vec<i32> = (0..PARTITIONS).collect();
    let answer = produce(&mut at_1, &versions, &name, &all);
    let want: Vec<(i32, ErrorCode)> = all
        .iter()
        .map(|p| {
            let code = if p % 2 == 0 {
                ErrorCode::NONE
            } else {
                ErrorCode::NOT_LEADER_OR_FOLLOWER
            };
            (*p, code)
        })
        .collect();
    assert_eq!(produce_codes(&answer), want);

    // What was refused was not written: broker 2 now takes only its own partitions.
    let (mut at_2, _) = connect(&proxy, 2);
    let answer = produce(&mut at_2, &versions, &name, &all);
    let offsets: Vec<(i32, ErrorCode, i64)> = answer.responses[0]
        .partition_responses
        .iter()
        .filter(|p| p.error_code.is_ok())
        .map(|p| (p.index, p.error_code, p.base_offset))
        .collect();
    assert_eq!(
        offsets,
        [
            (1, ErrorCode::NONE, 0),
            (3, ErrorCode::NONE, 0),
            (5, ErrorCode::NONE, 0)
        ]
    );
}

#[test]
fn a_moved_coordinator_answers_not_coordinator_and_the_new_one_loads_first() {
    let Some((_broker, proxy)) = start(5) else {
        return;
    };
    let (name, _, _) = topic(&proxy);
    let group = unique_name("proxy-group");
    let (mut client, versions) = connect(&proxy, 1);
    let found = client.call(
        &FindCoordinatorRequest {
            key_type: 0,
            coordinator_keys: vec![group.clone()],
            ..Default::default()
        },
        version::<FindCoordinatorRequest>(&versions),
    );
    let c = &found.coordinators[0];
    let coordinator = proxy.coordinator(CoordinatorKind::Group, &group);
    assert_eq!(c.node_id, coordinator);
    assert_eq!(c.port, i32::from(proxy.addr(coordinator).unwrap().port()));

    let commit = OffsetCommitRequest {
        group_id: group.clone(),
        topics: vec![OffsetCommitRequestTopic {
            name: name.clone(),
            partitions: vec![OffsetCommitRequestPartition {
                partition_index: 0,
                committed_offset: 0,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let commit_version = version::<OffsetCommitRequest>(&versions);
    let code = |client: &mut Client| {
        client.call(&commit, commit_version).topics[0].partitions[0].error_code
    };
    let (mut at_coordinator, _) = connect(&proxy, coordinator);
    assert_eq!(code(&mut at_coordinator), ErrorCode::NONE);

    let other = proxy
        .brokers()
        .into_iter()
        .find(|b| *b != coordinator)
        .unwrap();
    proxy.move_coordinator_to(CoordinatorKind::Group, &group, other, 2);
    assert_eq!(code(&mut at_coordinator), ErrorCode::NOT_COORDINATOR);
    let (mut at_other, _) = connect(&proxy, other);
    assert_eq!(code(&mut at_other), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    assert_eq!(code(&mut at_other), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    assert_eq!(code(&mut at_other), ErrorCode::NONE);
}

#[test]
fn a_broker_down_refuses_or_swallows_and_comes_back() {
    let Some((_broker, proxy)) = start(9) else {
        return;
    };
    let (name, _, _) = topic(&proxy);
    let addr = proxy.addr(2).unwrap();
    let (mut open, versions) = connect(&proxy, 2);

    proxy.down(2, Down::Refuse);
    assert!(
        TcpStream::connect(addr).is_err(),
        "a refusing broker accepted"
    );
    // The open connection was closed.
    assert!(matches!(
        open.try_call(&MetadataRequest::for_topics([name.as_str()]), 12),
        Err(CallError::Closed)
    ));
    proxy.up(2);
    let (mut again, _) = connect(&proxy, 2);
    metadata(&mut again, &versions, &name);

    // A blackhole accepts, and answers nothing: the read times out (it neither gets bytes
    // nor sees the connection closed).
    proxy.down(2, Down::Blackhole);
    let mut silent = Client::connect(addr).unwrap();
    silent
        .send_raw(&[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 7, 0, 0])
        .unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        stream.read(&mut byte).is_err(),
        "a blackhole answered (or closed)"
    );
    proxy.up(2);
    let (mut after, _) = connect(&proxy, 2);
    metadata(&mut after, &versions, &name);
    assert!(proxy.stats().count("request swallowed") >= 1);
}

#[test]
fn a_dropped_connection_loses_the_answer_but_not_the_request() {
    let Some((_broker, proxy)) = start(13) else {
        return;
    };
    let (name, _, _) = topic(&proxy);
    let (leader, _) = proxy.leader(&name, 0).unwrap();
    let (mut client, versions) = connect(&proxy, leader);
    proxy.drop_after_request(leader, Some(ApiKey::Produce));
    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 10_000,
        topic_data: vec![TopicProduceData {
            name: name.clone(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch("lost answer")),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(matches!(
        client.try_call(&request, version::<ProduceRequest>(&versions)),
        Err(CallError::Closed)
    ));
    // The record was written all the same: the next one lands after it.
    let (mut again, _) = connect(&proxy, leader);
    let answer = produce(&mut again, &versions, &name, &[0]);
    assert_eq!(answer.responses[0].partition_responses[0].base_offset, 1);
}

#[test]
fn damaged_record_bytes_fail_the_batch_crc() {
    let Some((_broker, proxy)) = start(17) else {
        return;
    };
    let (name, id, _) = topic(&proxy);
    let (leader, epoch) = proxy.leader(&name, 0).unwrap();
    let (mut client, versions) = connect(&proxy, leader);
    produce(&mut client, &versions, &name, &[0]);
    proxy.corrupt(Some(Corruption::new(1000, &[Damage::FlipRecordByte])));
    let answer = client.call(
        &fetch_request(&name, id, 0, epoch),
        version::<FetchRequest>(&versions),
    );
    let records = answer.responses[0].partitions[0].records.clone().unwrap();
    let decoded: Result<Vec<_>, _> = RecordBatches::new(records).collect();
    assert!(decoded.is_err(), "a flipped record byte went unnoticed");
    assert_eq!(proxy.stats().count("corrupt: flip record byte"), 1);

    // A lying length prefix: the client cannot read a frame it can trust.
    proxy.corrupt(Some(Corruption::new(1000, &[Damage::Truncate])));
    let result = client.try_call(
        &MetadataRequest::for_topics([name.as_str()]),
        version::<MetadataRequest>(&versions),
    );
    assert!(result.is_err(), "a truncated answer decoded: {result:?}");
}

#[test]
fn a_dekaf_consumer_follows_a_moved_leader() {
    let Some((_broker, proxy)) = start(21) else {
        return;
    };
    let (name, _, _) = topic(&proxy);
    let (leader, _) = proxy.leader(&name, 0).unwrap();
    let (mut client, versions) = connect(&proxy, leader);
    produce(&mut client, &versions, &name, &[0]);
    smol::block_on(async {
        let consumer = Consumer::builder()
            .bootstrap_servers(proxy.bootstrap())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()
            .await
            .unwrap();
        consumer
            .assign([TopicPartition::new(name.as_str(), 0)])
            .unwrap();
        assert_eq!(consumer.recv().await.unwrap().offset(), 0);
        let (_, new, _) = proxy.move_leader(&name, 0).unwrap();
        let (mut at_new, _) = connect(&proxy, new);
        produce(&mut at_new, &versions, &name, &[0]);
        let next = futures_lite::future::or(async { Some(consumer.recv().await) }, async {
            smol::Timer::after(Duration::from_secs(60)).await;
            None
        })
        .await;
        assert_eq!(next.expect("no record within 60 s").unwrap().offset(), 1);
        consumer.close().await.unwrap();
    });
    // Its fetch at the old leader was refused (its epoch fenced, or not led there).
    let refused = proxy.stats().count("Fetch FENCED_LEADER_EPOCH")
        + proxy.stats().count("Fetch NOT_LEADER_OR_FOLLOWER");
    assert!(refused >= 1, "{}", proxy.stats());
}

/// A member's offset commit of an older generation: build W refuses it as Kafka does
/// (ILLEGAL_GENERATION), build C stores it; through the proxy, which follows the group's
/// generations in JoinGroup answers, it is refused on both.
#[test]
fn a_commit_of_an_older_generation_is_refused_through_the_proxy_even_on_build_c() {
    for build in Build::ALL {
        let Some((broker, proxy)) = ClusterProxy::start_with_broker(build, Engine::Memory, 3, 1)
        else {
            continue;
        };
        let (name, _, _) = topic(&proxy);
        let group = unique_name("stale-commit");
        let (old_member, old_generation, consumers) = smol::block_on(async {
            let member = || {
                Consumer::builder()
                    .bootstrap_servers(proxy.bootstrap())
                    .group_id(group.as_str())
                    .session_timeout(Duration::from_secs(6))
                    .heartbeat_interval(Duration::from_secs(1))
                    .build()
            };
            let a = member().await.unwrap();
            a.subscribe([name.as_str()]).unwrap();
            let joined = |c: &Consumer| c.group_metadata().filter(|g| g.generation_id >= 0);
            let first = until(Duration::from_secs(60), || async {
                let _ = futures_lite::future::or(
                    async {
                        a.recv().await.ok();
                    },
                    async {
                        smol::Timer::after(Duration::from_millis(100)).await;
                    },
                )
                .await;
                joined(&a).filter(|_| !a.assignment().is_empty())
            })
            .await;
            let b = member().await.unwrap();
            b.subscribe([name.as_str()]).unwrap();
            // Both members in one newer generation.
            until(Duration::from_secs(60), || async {
                let _ = futures_lite::future::or(
                    async {
                        let _ = futures_lite::future::zip(a.recv(), b.recv()).await;
                    },
                    async {
                        smol::Timer::after(Duration::from_millis(100)).await;
                    },
                )
                .await;
                let (ga, gb) = (joined(&a)?, joined(&b)?);
                (ga.generation_id == gb.generation_id && ga.generation_id > first.generation_id)
                    .then_some(())
            })
            .await;
            (first.member_id, first.generation_id, (a, b))
        });
        let commit = OffsetCommitRequest {
            group_id: group.clone(),
            generation_id_or_member_epoch: old_generation,
            member_id: old_member,
            topics: vec![OffsetCommitRequestTopic {
                name: name.clone(),
                partitions: vec![OffsetCommitRequestPartition {
                    partition_index: 0,
                    committed_offset: 7,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut direct = broker.client();
        let versions = direct.broker_versions();
        let v = version::<OffsetCommitRequest>(&versions);
        let code = direct.call(&commit, v).topics[0].partitions[0].error_code;
        // Build C stores the stale commit, which is why the proxy fences it. Build W refuses
        // it with ILLEGAL_GENERATION while the group is stable, but on a loaded machine it
        // once accepted it (the group rebalancing again by then), so its answer is only
        // printed.
        println!("{build}, straight to the broker: {code:?}");
        if build == Build::C {
            assert_eq!(code, ErrorCode::NONE, "{build}, straight to the broker");
        }
        let coordinator = proxy.coordinator(CoordinatorKind::Group, &group);
        let (mut through, _) = connect(&proxy, coordinator);
        let code = through.call(&commit, v).topics[0].partitions[0].error_code;
        assert_eq!(
            code,
            ErrorCode::ILLEGAL_GENERATION,
            "{build}, through the proxy"
        );
        drop(consumers);
    }
}

/// Asks `probe` until it gives a value (after its own pause); panics after `limit`.
async fn until<T, F, Fut>(limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(t) = probe().await {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {limit:?}"
        );
    }
}

/// An idempotent batch sent again after its answer was lost (the connection dropped once the
/// Produce was written) is not written twice: both builds answer the retry
/// DUPLICATE_SEQUENCE_NUMBER, where Kafka answers NONE with the batch's first offset (it
/// keeps the last five batches of each producer). A producer then knows the record is
/// written, not where.
#[test]
fn a_retried_idempotent_batch_is_answered_duplicate_sequence_number() {
    for build in Build::ALL {
        let Some((_broker, proxy)) = ClusterProxy::start_with_broker(build, Engine::Memory, 3, 2)
        else {
            continue;
        };
        let (name, _, _) = topic(&proxy);
        let (leader, _) = proxy.leader(&name, 0).unwrap();
        let (mut client, versions) = connect(&proxy, leader);
        let id = client.call(
            &InitProducerIdRequest {
                transaction_timeout_ms: 60_000,
                ..Default::default()
            },
            version::<InitProducerIdRequest>(&versions),
        );
        assert_eq!(id.error_code, ErrorCode::NONE);
        let mut builder = RecordBatchBuilder::new().producer(id.producer_id, id.producer_epoch, 0);
        builder.append(0, None, Some(Bytes::from("once")), Vec::new());
        let request = ProduceRequest {
            acks: -1,
            timeout_ms: 10_000,
            topic_data: vec![TopicProduceData {
                name: name.clone(),
                partition_data: vec![PartitionProduceData {
                    index: 0,
                    records: Some(builder.build().unwrap()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let v = version::<ProduceRequest>(&versions);
        proxy.drop_after_request(leader, Some(ApiKey::Produce));
        assert!(client.try_call(&request, v).is_err(), "{build}: answered");
        let (mut again, _) = connect(&proxy, leader);
        let answer = again.call(&request, v);
        let p = &answer.responses[0].partition_responses[0];
        assert_eq!(
            p.error_code,
            ErrorCode::DUPLICATE_SEQUENCE_NUMBER,
            "{build}: {p:?}"
        );
        // Written once: the next batch of the producer lands at offset 1.
        let mut next = RecordBatchBuilder::new().producer(id.producer_id, id.producer_epoch, 1);
        next.append(0, None, Some(Bytes::from("next")), Vec::new());
        let mut request = request.clone();
        request.topic_data[0].partition_data[0].records = Some(next.build().unwrap());
        let answer = again.call(&request, v);
        let p = &answer.responses[0].partition_responses[0];
        assert_eq!(
            (p.error_code, p.base_offset),
            (ErrorCode::NONE, 1),
            "{build}"
        );
    }
}

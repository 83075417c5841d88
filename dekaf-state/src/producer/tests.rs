//! The producer driven by hand, with exact virtual times: linger, flush, backoff, timers.
//! (Fault-injecting simulations with a full cluster live in the tests crate.)

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use dekaf_proto::messages::metadata::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use dekaf_proto::messages::produce::{PartitionProduceResponse, TopicProduceResponse};
use dekaf_proto::messages::{
    InitProducerIdResponse, MetadataResponse, ProduceResponse, RequestBody, ResponseBody,
};
use dekaf_proto::ErrorCode;

use super::*;
use crate::client::{ClientMachine, Outgoing, Response};
use crate::offset::Backoff;

fn t0() -> Instant {
    #[allow(clippy::disallowed_methods)] // one base instant for the test
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Answers Metadata and InitProducerId at once; Produce with `produce_code` (NONE by
/// default), counting offsets.
struct Script {
    produce_codes: VecDeque<ErrorCode>,
    next_offset: i64,
    produced: Vec<(Instant, usize, i32)>,
}

impl Script {
    fn new() -> Self {
        Script {
            produce_codes: VecDeque::new(),
            next_offset: 0,
            produced: Vec::new(),
        }
    }

    fn answer(&mut self, now: Instant, out: &Outgoing) -> ResponseBody {
        let (_, version) = out.request.versions();
        match out.request.body(version) {
            RequestBody::Metadata(_) => ResponseBody::Metadata(MetadataResponse {
                brokers: vec![MetadataResponseBroker {
                    node_id: 1,
                    host: "b".into(),
                    port: 9092,
                    ..Default::default()
                }],
                topics: vec![MetadataResponseTopic {
                    name: Some("t".into()),
                    partitions: vec![MetadataResponsePartition {
                        partition_index: 0,
                        leader_id: 1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }),
            RequestBody::InitProducerId(_) => {
                ResponseBody::InitProducerId(InitProducerIdResponse {
                    producer_id: 7,
                    producer_epoch: 0,
                    ..Default::default()
                })
            }
            RequestBody::Produce(r) => {
                let code = self.produce_codes.pop_front().unwrap_or(ErrorCode::NONE);
                let data = &r.topic_data[0].partition_data[0];
                let batch =
                    dekaf_proto::records::RecordBatch::decode(data.records.as_ref().unwrap())
                        .unwrap();
                let count = batch.records_count();
                self.produced
                    .push((now, count, batch.header().base_sequence));
                let base_offset = if code.is_ok() {
                    let base = self.next_offset;
                    self.next_offset += count as i64;
                    base
                } else {
                    -1
                };
                ResponseBody::Produce(ProduceResponse {
                    responses: vec![TopicProduceResponse {
                        name: "t".into(),
                        partition_responses: vec![PartitionProduceResponse {
                            index: 0,
                            error_code: code,
                            base_offset,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                })
            }
            other => panic!("unexpected {:?}", other.api_key()),
        }
    }

    /// Sends what the producer asks at `now` and answers it at once.
    fn step(&mut self, p: &mut Producer, now: Instant) {
        while let Some(out) = p.poll_request(now) {
            let (_, version) = out.request.versions();
            let body = self.answer(now, &out);
            p.handle_response(now, out.id, Ok(Response { version, body }));
        }
    }
}

fn producer(linger: u64) -> Producer {
    let config = ProducerConfig::default()
        .linger(ms(linger))
        .batch_size(1_000)
        .backoff(Backoff::fixed(ms(100), ms(1_000)));
    Producer::new(config, 1).unwrap()
}

fn delivered(p: &mut Producer) -> Vec<(DeliveryId, Option<i64>)> {
    let mut out = Vec::new();
    while let Some(e) = p.poll_event() {
        if let Event::Delivered { id, result } = e {
            out.push((id, result.unwrap().offset));
        }
    }
    out
}

/// A producer that knows the topic and has its producer id.
fn warm(linger: u64, script: &mut Script, now: Instant) -> Producer {
    let mut p = producer(linger);
    let id = p.send(now, ProducerRecord::new("t", "warm")).unwrap();
    script.step(&mut p, now);
    script.step(&mut p, now + ms(linger));
    assert_eq!(delivered(&mut p), [(id, Some(0))]);
    script.produced.clear();
    p
}

#[test]
fn a_batch_lingers_until_its_time_or_until_it_is_full() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm(50, &mut script, now);
    let start = now + ms(1_000);
    p.send(start, ProducerRecord::new("t", "a")).unwrap();
    script.step(&mut p, start);
    assert!(script.produced.is_empty());
    assert_eq!(p.poll_timeout(), Some(start + ms(50)));
    script.step(&mut p, start + ms(49));
    assert!(script.produced.is_empty());
    p.handle_timeout(start + ms(50));
    script.step(&mut p, start + ms(50));
    assert_eq!(script.produced, [(start + ms(50), 1, 1)]);

    // A full batch goes at once.
    let later = start + ms(2_000);
    for _ in 0..30 {
        p.send(later, ProducerRecord::new("t", vec![0u8; 50]))
            .unwrap();
    }
    script.step(&mut p, later);
    assert!(!script.produced[1..].is_empty());
    assert!(script.produced[1..].iter().all(|(at, ..)| *at == later));
}

#[test]
fn flush_sends_without_lingering_and_follows_the_last_outcome() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm(10_000, &mut script, now);
    let a = p.send(now, ProducerRecord::new("t", "a")).unwrap();
    let b = p.send(now, ProducerRecord::new("t", "b")).unwrap();
    let flush = p.flush(now);
    script.step(&mut p, now);
    let events: Vec<Event> = std::iter::from_fn(|| p.poll_event()).collect();
    assert_eq!(events.len(), 3);
    assert!(matches!(&events[0], Event::Delivered { id, .. } if *id == a));
    assert!(matches!(&events[1], Event::Delivered { id, .. } if *id == b));
    assert_eq!(events[2], Event::Flushed { id: flush });
    // Nothing pending: a flush completes at once.
    let again = p.flush(now);
    assert_eq!(p.poll_event(), Some(Event::Flushed { id: again }));
    assert!(p.is_idle());
}

#[test]
fn a_refused_batch_is_retried_after_its_backoff_and_keeps_its_sequence() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm(0, &mut script, now);
    script
        .produce_codes
        .push_back(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    let id = p.send(now, ProducerRecord::new("t", "a")).unwrap();
    script.step(&mut p, now);
    assert_eq!(script.produced.len(), 1);
    assert!(delivered(&mut p).is_empty());
    // The metadata refresh may come first; the batch waits for its backoff.
    let retry_at = now + ms(100);
    assert!(p.poll_timeout().is_some_and(|t| t <= retry_at));
    script.step(&mut p, now + ms(99));
    assert_eq!(script.produced.len(), 1);
    p.handle_timeout(retry_at);
    script.step(&mut p, retry_at);
    assert_eq!(script.produced.len(), 2);
    assert_eq!(script.produced[0].2, 1);
    assert_eq!(script.produced[1].2, 1, "a retry keeps its sequence number");
    assert_eq!(delivered(&mut p), [(id, Some(1))]);
}

#[test]
fn a_batch_too_large_for_the_broker_goes_again_in_halves_with_its_sequence_numbers() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm(10_000, &mut script, now);
    let ids: Vec<DeliveryId> = (0..5)
        .map(|i| {
            p.send(now, ProducerRecord::new("t", format!("r{i}")))
                .unwrap()
        })
        .collect();
    p.flush(now);
    script.produce_codes.extend([
        ErrorCode::MESSAGE_TOO_LARGE,
        ErrorCode::RECORD_LIST_TOO_LARGE,
    ]);
    script.step(&mut p, now);
    // Five records refused, then three refused again, then two, one, two written: each
    // half starts where the records before it end.
    assert_eq!(
        script
            .produced
            .iter()
            .map(|(_, n, seq)| (*n, *seq))
            .collect::<Vec<_>>(),
        [(5, 1), (3, 1), (2, 1), (1, 3), (2, 4)]
    );
    let got = delivered(&mut p);
    assert_eq!(
        got,
        ids.iter()
            .zip(1..)
            .map(|(id, offset)| (*id, Some(offset)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_record_alone_too_large_for_the_broker_fails_with_its_code() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm(0, &mut script, now);
    let id = p.send(now, ProducerRecord::new("t", "big")).unwrap();
    script.produce_codes.push_back(ErrorCode::MESSAGE_TOO_LARGE);
    script.step(&mut p, now);
    assert_eq!(
        p.poll_event(),
        Some(Event::Delivered {
            id,
            result: Err(DeliveryError::Rejected(ErrorCode::MESSAGE_TOO_LARGE))
        })
    );
}

#[test]
fn the_timer_never_asks_for_a_moment_already_past() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm(5, &mut script, now);
    // Produce requests are never answered: once the in-flight slots are taken, ready batches
    // wait, and the timer must not fire for them again and again.
    let mut produce_requests = 0;
    for i in 1..=12 {
        let at = now + ms(10 * i);
        p.send(at, ProducerRecord::new("t", "x")).unwrap();
        p.handle_timeout(at);
        while p.poll_request(at).is_some() {
            produce_requests += 1;
        }
        if let Some(t) = p.poll_timeout() {
            assert!(t > at, "{t:?} is not after {at:?}");
        }
    }
    assert_eq!(produce_requests, p.config().max_in_flight);
}

// ---- backpressure ----

/// A record of `n` value bytes takes 36 + n bytes of the buffer.
fn sized(n: usize) -> ProducerRecord {
    ProducerRecord::new("t", vec![b'x'; n])
}

/// Room for two records of 64 bytes (100 each), not three.
fn small_buffer(linger: u64, max_block: u64) -> Producer {
    let config = ProducerConfig::default()
        .linger(ms(linger))
        .batch_size(1_000)
        .buffer_memory(250)
        .max_block(ms(max_block))
        .backoff(Backoff::fixed(ms(100), ms(1_000)));
    Producer::new(config, 1).unwrap()
}

/// `small_buffer` that knows the topic and has its producer id.
fn warm_small(linger: u64, max_block: u64, script: &mut Script, now: Instant) -> Producer {
    let mut p = small_buffer(linger, max_block);
    p.send(now, ProducerRecord::new("t", "warm")).unwrap();
    p.flush(now);
    script.step(&mut p, now);
    while p.poll_event().is_some() {}
    script.produced.clear();
    p
}

#[test]
fn a_full_buffer_makes_records_wait_and_they_enter_in_send_order() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm_small(10_000, 60_000, &mut script, now);
    let ids: Vec<DeliveryId> = (0..6)
        .map(|_| p.send_waiting(now, sized(64)).unwrap())
        .collect();
    let waiting: Vec<bool> = ids.iter().map(|id| p.is_waiting(*id)).collect();
    assert_eq!(waiting, [false, false, true, true, true, true]);
    assert_eq!((p.buffered_bytes(), p.waiting_records()), (200, 4));
    assert_eq!(p.pending_records(), 6);
    // No overtaking: a smaller record that would fit is refused while others wait.
    assert_eq!(p.send(now, sized(0)), Err(SendError::BufferFull));
    let flush = p.flush(now);

    // Nothing lingers while records wait: each answer lets the next two in.
    script.step(&mut p, now);
    let events: Vec<Event> = std::iter::from_fn(|| p.poll_event()).collect();
    let mut order = Vec::new();
    for e in &events {
        match e {
            Event::Buffered { id } => order.push(("in", *id)),
            Event::Delivered { id, result } => {
                assert!(result.is_ok(), "{id}: {result:?}");
                order.push(("out", *id));
            }
            Event::Flushed { id } => assert_eq!(*id, flush),
            other => panic!("{other:?}"),
        }
    }
    let (a, b, c, d, e, f) = (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]);
    assert_eq!(
        order,
        [
            ("out", a),
            ("out", b),
            ("in", c),
            ("in", d),
            ("out", c),
            ("out", d),
            ("in", e),
            ("in", f),
            ("out", e),
            ("out", f),
        ]
    );
    assert_eq!(events.last(), Some(&Event::Flushed { id: flush }));
    assert_eq!(
        script.produced.len(),
        3,
        "one batch of two records per round"
    );
    // Offsets follow send order.
    assert_eq!(script.next_offset, 7);
    assert!(p.is_idle() && p.buffered_bytes() == 0);
}

#[test]
fn a_record_without_room_within_max_block_is_refused_and_a_cancelled_one_at_once() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm_small(0, 1_000, &mut script, now);
    let a = p.send_waiting(now, sized(64)).unwrap();
    let b = p.send_waiting(now, sized(64)).unwrap();
    // Their request is never answered: the buffer stays full.
    while p.poll_request(now).is_some() {}
    let later = now + ms(300);
    let c = p.send_waiting(now, sized(64)).unwrap();
    let d = p.send_waiting(later, sized(64)).unwrap();
    assert!(p.is_waiting(c) && p.is_waiting(d));
    assert_eq!(p.poll_timeout(), Some(now + ms(1_000)));
    p.handle_timeout(now + ms(999));
    assert_eq!(p.poll_event(), None);
    p.handle_timeout(now + ms(1_000));
    assert_eq!(
        p.poll_event(),
        Some(Event::Delivered {
            id: c,
            result: Err(DeliveryError::BufferFull)
        })
    );
    assert_eq!(p.poll_event(), None);
    assert!(!p.is_waiting(c) && p.is_waiting(d));
    assert_eq!(p.poll_timeout(), Some(later + ms(1_000)));

    // Cancelled: refused at once, and only once.
    assert!(p.cancel(now + ms(1_001), d));
    assert_eq!(
        p.poll_event(),
        Some(Event::Delivered {
            id: d,
            result: Err(DeliveryError::BufferFull)
        })
    );
    assert!(!p.cancel(now + ms(1_001), d));
    assert!(
        !p.cancel(now + ms(1_001), a),
        "a record in the buffer stays"
    );
    assert_eq!(p.waiting_records(), 0);
    assert_eq!((p.pending_records(), p.buffered_bytes()), (2, 200));
    let _ = b;
}

#[test]
fn a_cancelled_record_lets_the_ones_behind_it_in_and_flush_waits_for_them() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm_small(10_000, 60_000, &mut script, now);
    p.send_waiting(now, sized(64)).unwrap();
    p.send_waiting(now, sized(78)).unwrap();
    let big = p.send_waiting(now, sized(64)).unwrap();
    let small = p.send_waiting(now, sized(0)).unwrap();
    let flush = p.flush(now);
    assert!(p.is_waiting(big) && p.is_waiting(small));
    // 36 more bytes fit next to 214: the small record enters once the big one is gone.
    assert!(p.cancel(now, big));
    assert!(!p.is_waiting(small));
    let events: Vec<Event> = std::iter::from_fn(|| p.poll_event()).collect();
    assert_eq!(
        events,
        [
            Event::Delivered {
                id: big,
                result: Err(DeliveryError::BufferFull)
            },
            Event::Buffered { id: small },
        ]
    );
    script.step(&mut p, now);
    let events: Vec<Event> = std::iter::from_fn(|| p.poll_event()).collect();
    assert_eq!(events.last(), Some(&Event::Flushed { id: flush }));
    assert_eq!(events.len(), 4);
}

#[test]
fn a_zero_max_block_is_refused() {
    let config = ProducerConfig::default().max_block(Duration::ZERO);
    assert_eq!(
        Producer::new(config, 1).err(),
        Some(ConfigError::OutOfRange("max_block"))
    );
}

/// Answers a transactional producer's requests: Produce fails as disconnected, and
/// InitProducerId fences the producer once `fence` is set.
fn txn_answer(out: &Outgoing, fence: bool) -> Result<Response, crate::client::RequestFailed> {
    use dekaf_proto::messages::add_partitions_to_txn::{
        AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
    };
    use dekaf_proto::messages::find_coordinator::Coordinator;
    use dekaf_proto::messages::{
        AddPartitionsToTxnResponse, EndTxnResponse, FindCoordinatorResponse,
    };
    let (_, version) = out.request.versions();
    let body = match out.request.body(version) {
        RequestBody::Produce(_) => return Err(crate::client::RequestFailed::Disconnected),
        RequestBody::Metadata(_) => Script::new().answer(t0(), out),
        RequestBody::FindCoordinator(r) => ResponseBody::FindCoordinator(FindCoordinatorResponse {
            coordinators: r
                .coordinator_keys
                .iter()
                .map(|key| Coordinator {
                    key: key.clone(),
                    node_id: 1,
                    host: "b".into(),
                    port: 9092,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::InitProducerId(_) => ResponseBody::InitProducerId(InitProducerIdResponse {
            error_code: if fence {
                ErrorCode::PRODUCER_FENCED
            } else {
                ErrorCode::NONE
            },
            producer_id: if fence { -1 } else { 7 },
            producer_epoch: if fence { -1 } else { 0 },
            ..Default::default()
        }),
        RequestBody::AddPartitionsToTxn(r) => {
            ResponseBody::AddPartitionsToTxn(AddPartitionsToTxnResponse {
                results_by_topic: r
                    .topics
                    .iter()
                    .map(|t| AddPartitionsToTxnTopicResult {
                        name: t.name.clone(),
                        results_by_partition: t
                            .partitions
                            .iter()
                            .map(|p| AddPartitionsToTxnPartitionResult {
                                partition_index: *p,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::EndTxn(_) => ResponseBody::EndTxn(EndTxnResponse::default()),
        other => panic!("unexpected {:?}", other.api_key()),
    };
    Ok(Response { version, body })
}

#[test]
fn an_abort_waiting_for_its_epoch_bump_is_reported_as_an_abort() {
    let now = t0();
    let mut p = Producer::new(ProducerConfig::transactional("tx"), 1).unwrap();
    let drive = |p: &mut Producer, fence: bool| {
        while let Some(out) = p.poll_request(now) {
            if out.request.expects_response() {
                p.handle_response(now, out.id, txn_answer(&out, fence));
            }
        }
    };
    p.init_transactions(now).unwrap();
    drive(&mut p, false);
    assert_eq!(p.transaction_state(), Some(TransactionState::Ready));
    p.begin_transaction().unwrap();
    p.send(now, ProducerRecord::new("t", "v")).unwrap();
    p.flush(now);
    // The Produce request is lost: the batch may be written, so the abort that drops it
    // must bump the epoch afterwards.
    drive(&mut p, false);
    let abort = p.abort_transaction(now).unwrap();
    // EndTxn succeeds; the bump finds the producer fenced.
    drive(&mut p, true);
    let outcome = std::iter::from_fn(|| p.poll_event()).find_map(|e| match e {
        Event::Transaction {
            id,
            operation,
            result,
        } if id == abort => Some((operation, result.is_err())),
        _ => None,
    });
    assert_eq!(outcome, Some((TxnOperation::Abort, true)));
}

#[test]
fn an_epoch_bump_on_a_broker_without_init_producer_id_v3_asks_for_a_new_id() {
    let now = t0();
    let mut script = Script::new();
    let mut p = warm(0, &mut script, now);
    // The broker refuses the next batch as out of order: the epoch must be bumped.
    script
        .produce_codes
        .push_back(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    p.send(now, ProducerRecord::new("t", "lost")).unwrap();
    let mut asked = Vec::new();
    let mut at = now;
    for _ in 0..20 {
        while let Some(out) = p.poll_request(at) {
            // A Kafka 2.4 broker speaks InitProducerId up to v2, which has no producer id or
            // epoch to bump: the driver writes the body in the version it negotiated.
            let version = match out.request.api_key() {
                dekaf_proto::ApiKey::InitProducerId => 2,
                _ => out.request.versions().1,
            };
            let body = out.request.body(version);
            let mut buf = bytes::BytesMut::new();
            if let Err(e) = body.encode(&mut buf, version) {
                let failed = crate::client::RequestFailed::Encode(e);
                p.handle_response(at, out.id, Err(failed));
                continue;
            }
            if let RequestBody::InitProducerId(r) = &body {
                asked.push((r.producer_id, r.producer_epoch));
            }
            let answer = script.answer(at, &out);
            p.handle_response(
                at,
                out.id,
                Ok(Response {
                    version,
                    body: answer,
                }),
            );
        }
        at += ms(100);
        p.handle_timeout(at);
    }
    assert_eq!(p.fatal_error(), None);
    // A new producer id, as brokers before KIP-360 give.
    assert_eq!(asked, [(-1, -1)]);
    let id = p.send(at, ProducerRecord::new("t", "after")).unwrap();
    script.step(&mut p, at);
    let outcomes: Vec<DeliveryId> = std::iter::from_fn(|| p.poll_event())
        .filter_map(|e| match e {
            Event::Delivered { id, result: Ok(_) } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(outcomes, [id]);
}

#[test]
fn a_record_of_a_transaction_that_never_got_a_partition_keeps_it_from_committing() {
    let now = t0();
    let config = ProducerConfig::transactional("tx").delivery_timeout(ms(1_000));
    let mut p = Producer::new(config, 1).unwrap();
    let drive = |p: &mut Producer, at: Instant| {
        for _ in 0..100 {
            let Some(out) = p.poll_request(at) else {
                return;
            };
            if out.request.expects_response() {
                p.handle_response(at, out.id, txn_answer(&out, false));
            }
        }
    };
    p.init_transactions(now).unwrap();
    drive(&mut p, now);
    p.begin_transaction().unwrap();
    // Metadata never knows the topic: the record times out without a partition.
    let lost = p.send(now, ProducerRecord::new("missing", "v")).unwrap();
    drive(&mut p, now);
    let later = now + ms(1_500);
    p.handle_timeout(later);
    drive(&mut p, later);
    let failed = std::iter::from_fn(|| p.poll_event())
        .any(|e| matches!(e, Event::Delivered { id, result: Err(_) } if id == lost));
    assert!(failed);
    assert_eq!(
        p.transaction_state(),
        Some(TransactionState::AbortableError)
    );
    let commit = p.commit_transaction(later);
    assert!(
        matches!(commit, Err(TransactionError::Abortable(_))),
        "{commit:?}"
    );
}

#[test]
fn batch_counts_fill_and_queue_time_agree_with_the_batches_the_broker_received() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm(50, &mut script, now);
    let warm_batches = p.stats().batches_sent;
    assert_eq!(warm_batches, 1);
    let start = now + ms(1_000);
    for _ in 0..3 {
        p.send(start, ProducerRecord::new("t", "a")).unwrap();
    }
    p.handle_timeout(start + ms(50));
    script.step(&mut p, start + ms(50));
    let later = start + ms(2_000);
    for _ in 0..30 {
        p.send(later, ProducerRecord::new("t", vec![0u8; 50]))
            .unwrap();
    }
    p.flush(later);
    script.step(&mut p, later);

    let stats = p.stats();
    let received = script.produced.len() as u64;
    assert!(received >= 3, "the 30 records need several batches");
    assert_eq!(stats.batches_sent, warm_batches + received);
    let records: usize = script.produced.iter().map(|(_, n, _)| n).sum();
    assert_eq!(stats.batch_records, 1 + records as u64);
    assert_eq!(stats.batch_fill.count(), stats.batches_sent);
    assert_eq!(stats.queue_time.count(), stats.batches_sent);
    // The three small records lingered 50 ms; the full batches went at once.
    assert_eq!(stats.queue_time.summary().max, ms(50));
    // A batch closed because the next record did not fit is nearly full; the small ones
    // are nearly empty.
    let fill = stats.batch_fill.summary();
    assert!(fill.p99 >= 80, "{fill:?}");
    assert!(stats.batch_fill.quantile(0.0).is_some_and(|p| p < 10));
    assert!(stats.retries.is_empty());
}

#[test]
fn a_batch_sent_again_is_counted_once_as_sent_and_once_per_retry_by_cause() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm(0, &mut script, now);
    script
        .produce_codes
        .push_back(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    p.send(now, ProducerRecord::new("t", "a")).unwrap();
    script.step(&mut p, now);
    p.handle_timeout(now + ms(100));
    script.step(&mut p, now + ms(100));
    assert_eq!(script.produced.len(), 2);
    let stats = p.stats();
    assert_eq!(stats.batches_sent, 2, "the warm-up batch and this one");
    assert_eq!(stats.retries_total(), 1);
    assert_eq!(
        stats
            .retries
            .get(&RetryCause::Error(ErrorCode::NOT_LEADER_OR_FOLLOWER)),
        Some(&1)
    );

    // Two refusals for size: two splits.
    let later = now + ms(1_000);
    for i in 0..5 {
        p.send(later, ProducerRecord::new("t", format!("r{i}")))
            .unwrap();
    }
    p.flush(later);
    script.produce_codes.extend([
        ErrorCode::MESSAGE_TOO_LARGE,
        ErrorCode::RECORD_LIST_TOO_LARGE,
    ]);
    script.step(&mut p, later);
    assert_eq!(p.stats().retries.get(&RetryCause::Split), Some(&2));
    assert_eq!(p.stats().retries_total(), 3);
}

#[test]
fn records_in_the_buffer_and_requests_in_flight_follow_the_batches() {
    let (now, mut script) = (t0(), Script::new());
    let mut p = warm(10_000, &mut script, now);
    for _ in 0..3 {
        p.send(now, ProducerRecord::new("t", "a")).unwrap();
    }
    assert_eq!(p.buffered_records(), 3);
    assert_eq!(p.produce_requests_in_flight(), 0);
    p.flush(now);
    let out = p.poll_request(now).expect("the flushed batch goes out");
    assert_eq!(p.buffered_records(), 0);
    assert_eq!(p.produce_requests_in_flight(), 1);
    let (_, version) = out.request.versions();
    let body = script.answer(now, &out);
    p.handle_response(now, out.id, Ok(Response { version, body }));
    assert_eq!(p.produce_requests_in_flight(), 0);
    assert_eq!(p.pending_records(), 0);
}

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

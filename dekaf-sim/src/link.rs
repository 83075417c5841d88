use std::time::{Duration, Instant};

use dekaf_proto::ErrorCode;
use dekaf_state::client::{ClientMachine, Destination, RequestFailed, RequestId, Response};
use dekaf_state::offset::Rng;

use crate::Cluster;

/// One client's connection to the simulated cluster: requests go out, answers come back
/// after a latency (or not at all).
#[derive(Debug)]
pub struct Link {
    pending: Vec<(Instant, u64, RequestId, Result<Response, RequestFailed>)>,
    latency: Duration,
    rng: Rng,
    seq: u64,
    /// Requests sent so far.
    pub sent: u64,
    /// Prints every request and answer (for debugging a seed).
    pub trace: bool,
}

impl Link {
    /// A link whose answers take `latency`.
    pub fn new(latency: Duration, seed: u64) -> Self {
        Link {
            pending: Vec::new(),
            latency,
            rng: Rng::new(seed),
            seq: 0,
            sent: 0,
            trace: false,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.next_f64() < p
    }

    /// Feeds the answers due at `now` and the machine's timer, then sends every request it
    /// wants. Returns whether anything happened.
    pub fn step<M: ClientMachine>(
        &mut self,
        cluster: &mut Cluster,
        machine: &mut M,
        now: Instant,
    ) -> bool {
        let mut progress = false;
        self.pending.sort_by_key(|(at, seq, _, _)| (*at, *seq));
        while self.pending.first().is_some_and(|(at, ..)| *at <= now) {
            let (_, _, id, result) = self.pending.remove(0);
            machine.handle_response(now, id, result);
            progress = true;
        }
        if machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now);
            progress = true;
        }
        while let Some(out) = machine.poll_request(now) {
            progress = true;
            self.sent += 1;
            let expects = out.request.expects_response();
            let broker = match out.destination {
                Destination::AnyBroker => {
                    cluster.brokers[(self.rng.next_u64() % cluster.brokers.len() as u64) as usize]
                }
                Destination::Broker(id) | Destination::Coordinator(id) => {
                    if machine.broker_address(id).is_none() {
                        self.answer(now, out.id, Err(RequestFailed::Disconnected));
                        continue;
                    }
                    id
                }
            };
            let (_, version) = out.request.versions();
            let faults = cluster.faults.clone();
            // A broker that is down breaks every connection to it.
            if cluster.down.contains(&broker) || self.chance(faults.disconnect) {
                cluster.count("disconnected");
                if self.trace {
                    eprintln!(
                        "{now:?} {} -> broker {broker}: disconnected before processing",
                        out.id
                    );
                }
                if expects {
                    self.answer(now, out.id, Err(RequestFailed::Disconnected));
                }
                let connection = match out.destination {
                    Destination::AnyBroker => Destination::Broker(broker),
                    other => other,
                };
                machine.handle_disconnected(now, connection);
                continue;
            }
            if self.chance(faults.timeout) {
                cluster.count("timed out");
                if self.trace {
                    eprintln!(
                        "{now:?} {} -> broker {broker}: times out unprocessed",
                        out.id
                    );
                }
                if expects {
                    self.answer(
                        now + self.latency * 20,
                        out.id,
                        Err(RequestFailed::TimedOut),
                    );
                }
                continue;
            }
            let body = out.request.body(version);
            if self.trace {
                eprintln!("{now:?} {} -> broker {broker}: {}", out.id, describe(&body));
            }
            let answer = match cluster.answer(broker, &body, version) {
                Ok(answer) => answer,
                Err(e) => panic!("{e}"),
            };
            if self.trace {
                match &answer {
                    Some(dekaf_proto::messages::ResponseBody::Produce(r)) => {
                        for t in &r.responses {
                            for p in &t.partition_responses {
                                eprintln!(
                                    "    {}-{}: {} @{}",
                                    t.name, p.index, p.error_code, p.base_offset
                                );
                            }
                        }
                    }
                    other => eprintln!("    answer: {other:?}"),
                }
            }
            if !expects {
                continue;
            }
            let Some(mut body) = answer else {
                self.answer(now, out.id, Err(RequestFailed::Disconnected));
                continue;
            };
            if self.chance(faults.lost_response) {
                cluster.count("answer lost");
                if self.trace {
                    eprintln!("    (answer lost)");
                }
                self.answer(now + self.latency, out.id, Err(RequestFailed::Disconnected));
                continue;
            }
            if self.chance(faults.garbage) {
                cluster.count("garbage");
                mangle(&mut body, &mut self.rng);
            }
            self.answer(now + self.latency, out.id, Ok(Response { version, body }));
        }
        progress
    }

    fn answer(&mut self, at: Instant, id: RequestId, result: Result<Response, RequestFailed>) {
        self.seq += 1;
        self.pending.push((at, self.seq, id, result));
    }

    /// When the next answer arrives.
    pub fn next_answer(&self) -> Option<Instant> {
        self.pending.iter().map(|(at, ..)| *at).min()
    }

    /// Whether answers are still on their way.
    pub fn is_busy(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// Runs one machine against `cluster` from `*now` until `done` says so, moving virtual time
/// forward to each next answer or timer. Returns false if `limit` of virtual time passed or
/// the machine had nothing left to wait for first.
pub fn drive<M: ClientMachine>(
    cluster: &mut Cluster,
    link: &mut Link,
    machine: &mut M,
    now: &mut Instant,
    limit: Duration,
    mut done: impl FnMut(&mut M) -> bool,
) -> bool {
    let end = *now + limit;
    loop {
        let mut steps = 0;
        while link.step(cluster, machine, *now) {
            steps += 1;
            // A machine that keeps acting without time passing is spinning.
            assert!(steps < 10_000, "the machine does not settle at {now:?}");
        }
        if done(machine) {
            return true;
        }
        let next = [link.next_answer(), machine.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= end => *now = (*now).max(t),
            _ => return false,
        }
    }
}

/// A short description of a request: Produce batches by partition and sequence.
fn describe(body: &dekaf_proto::messages::RequestBody) -> String {
    use dekaf_proto::messages::RequestBody;
    match body {
        RequestBody::Produce(r) => r
            .topic_data
            .iter()
            .flat_map(|t| {
                t.partition_data.iter().map(move |p| {
                    let batches = dekaf_proto::records::RecordBatches::new(
                        p.records.clone().unwrap_or_default(),
                    );
                    let seqs: Vec<String> = batches
                        .flatten()
                        .map(|b| {
                            let h = b.header();
                            format!(
                                "pid {} e{} seq {}+{}",
                                h.producer_id, h.producer_epoch, h.base_sequence, h.records_count
                            )
                        })
                        .collect();
                    format!("{}-{} [{}]", t.name, p.index, seqs.join(", "))
                })
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => format!("{other:?}"),
    }
}

/// Replaces the values of an answer that a client acts on with random ones.
fn mangle(body: &mut dekaf_proto::messages::ResponseBody, rng: &mut Rng) {
    use dekaf_proto::messages::ResponseBody;
    let code = |rng: &mut Rng| {
        let all = ErrorCode::ALL;
        all[(rng.next_u64() % all.len() as u64) as usize]
    };
    let small = |rng: &mut Rng| (rng.next_u64() % 7) as i32 - 2;
    match body {
        ResponseBody::Produce(r) => {
            for t in &mut r.responses {
                for p in &mut t.partition_responses {
                    p.error_code = code(rng);
                    p.base_offset = rng.next_u64() as i64;
                    p.index = small(rng);
                }
            }
        }
        ResponseBody::Metadata(r) => {
            for t in &mut r.topics {
                t.error_code = code(rng);
                for p in &mut t.partitions {
                    p.leader_id = small(rng);
                    p.partition_index = small(rng);
                }
            }
        }
        ResponseBody::InitProducerId(r) => {
            r.error_code = code(rng);
            r.producer_id = small(rng) as i64;
            r.producer_epoch = small(rng) as i16;
        }
        ResponseBody::FindCoordinator(r) => {
            r.error_code = code(rng);
            r.node_id = small(rng);
            for c in &mut r.coordinators {
                c.error_code = code(rng);
                c.node_id = small(rng);
            }
        }
        ResponseBody::AddPartitionsToTxn(r) => {
            for t in &mut r.results_by_topic {
                for p in &mut t.results_by_partition {
                    p.partition_error_code = code(rng);
                }
            }
        }
        ResponseBody::AddOffsetsToTxn(r) => r.error_code = code(rng),
        ResponseBody::EndTxn(r) => r.error_code = code(rng),
        ResponseBody::TxnOffsetCommit(r) => {
            for t in &mut r.topics {
                for p in &mut t.partitions {
                    p.error_code = code(rng);
                }
            }
        }
        _ => {}
    }
}

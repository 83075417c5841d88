//! Several [`Consumer`]s of one group against the simulated [`Cluster`] and an in-memory
//! group coordinator, in virtual time: the classic one ([`Coordinator`]) or, for members of
//! the consumer protocol (KIP-848), [`ConsumerCoordinator`]. Every OffsetCommit is checked
//! against the coordinator's generation (member epoch) and recorded, so that tests can check
//! that committed offsets never go back and that no member commits a partition it gave up.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use dekaf_proto::messages::offset_commit::{
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use dekaf_proto::messages::{RequestBody, ResponseBody};
use dekaf_state::client::{ClientMachine, Destination, RequestFailed, RequestId, Response};
use dekaf_state::consumer::{Consumer, ConsumerEvent, ConsumerRecord};
use dekaf_state::group::GroupEvent;
use dekaf_state::offset::TopicPartition;

use crate::classic::{Conn, Coordinator, Reply};
use crate::consumer_group::ConsumerCoordinator;
use crate::invariants::{Invariant, Violation};
use crate::Cluster;

/// Takes the member's events, forgetting the last offset of every partition an event moves.
fn drain_events(m: &mut Member) {
    while let Some(e) = m.consumer.poll_event() {
        if let ConsumerEvent::Rebalance(
            GroupEvent::Assigned(tps) | GroupEvent::Revoked(tps) | GroupEvent::Lost(tps),
        ) = &e
        {
            for tp in tps {
                m.last.remove(tp);
            }
        }
        if let ConsumerEvent::Offset(_) = &e {
            // A reset or a seek moves positions on purpose.
            m.last.clear();
        }
        m.events.push(e);
    }
}

/// One answer on its way to a member.
#[derive(Debug)]
struct Flight {
    at: Instant,
    conn: Conn,
    id: RequestId,
    result: Result<Response, RequestFailed>,
}

/// A member process.
pub struct Member {
    /// The consumer.
    pub consumer: Consumer,
    /// Who it is to the coordinator.
    pub conn: Conn,
    /// Whether the application asks for records.
    pub polling: bool,
    /// Every record it was handed.
    pub records: Vec<ConsumerRecord>,
    /// Every event it emitted.
    pub events: Vec<ConsumerEvent>,
    /// Partitions it held in its group assignment and gave up (until assigned again).
    pub given_up: BTreeSet<TopicPartition>,
    held: BTreeSet<TopicPartition>,
    /// The last offset handed out per partition in its current assignment.
    last: BTreeMap<TopicPartition, i64>,
}

/// Consumers of one group, the cluster and virtual time.
pub struct GroupSim {
    /// The cluster (metadata, fetches, offsets).
    pub cluster: Cluster,
    /// The group coordinator.
    pub coordinator: Coordinator,
    /// The consumer-protocol coordinator, when the members speak KIP-848 (see
    /// [`with_consumer_protocol`](Self::with_consumer_protocol)).
    pub consumer_coordinator: Option<ConsumerCoordinator>,
    /// The member slots.
    pub members: Vec<Option<Member>>,
    /// The virtual clock.
    pub now: Instant,
    /// The group.
    pub group: String,
    /// Invariants broken so far.
    pub violations: Vec<Violation>,
    /// Panics at the first violation (the default); off, violations are only collected.
    pub strict: bool,
    /// Checks that each member gets a partition's records in offset order within one
    /// assignment (off by default: a test that seeks moves positions back on purpose).
    pub check_order: bool,
    /// Every request and answer, one line each, when on (for replaying a failing seed).
    pub trace: Option<Vec<String>>,
    /// Members whose close completed, in the order they stopped.
    pub finished: Vec<Member>,
    /// Accepted commits: (slot, partition, offset).
    pub commits: Vec<(usize, TopicPartition, i64)>,
    /// OffsetCommits refused for a stale member epoch (consumer protocol).
    pub stale_commits: u64,
    /// One-way network latency.
    pub latency: Duration,
    flights: Vec<Flight>,
    incarnations: u64,
    /// Requests awaiting an answer, with the connection they went on.
    open: BTreeMap<(Conn, RequestId), Destination>,
    /// Requests whose connection broke: their answers are dropped.
    dead: BTreeSet<(Conn, RequestId)>,
    /// When the last answer on each connection arrives (answers come back in order).
    last_answer: BTreeMap<(Conn, Destination), Instant>,
}

/// How often the applications get a turn.
pub const GROUP_TICK: Duration = Duration::from_millis(10);

impl GroupSim {
    /// A group `group` over `cluster`, with no member yet.
    pub fn new(cluster: Cluster, group: &str) -> Self {
        GroupSim {
            cluster,
            coordinator: Coordinator::new(Duration::ZERO),
            consumer_coordinator: None,
            members: Vec::new(),
            now: crate::start(),
            group: group.to_string(),
            violations: Vec::new(),
            strict: true,
            check_order: false,
            trace: None,
            open: BTreeMap::new(),
            dead: BTreeSet::new(),
            last_answer: BTreeMap::new(),
            commits: Vec::new(),
            stale_commits: 0,
            finished: Vec::new(),
            flights: Vec::new(),
            incarnations: 0,
            latency: Duration::from_millis(2),
        }
    }

    /// Members speak the consumer protocol (KIP-848) to a coordinator that removes them after
    /// `session` without a heartbeat.
    pub fn with_consumer_protocol(mut self, session: Duration) -> Self {
        self.consumer_coordinator = Some(ConsumerCoordinator::new(session));
        self
    }

    /// Adds a member running `consumer` (already subscribed or not); returns its slot.
    pub fn add(&mut self, consumer: Consumer) -> usize {
        self.incarnations += 1;
        let slot = self.members.len();
        self.members.push(Some(Member {
            consumer,
            conn: Conn {
                slot,
                incarnation: self.incarnations,
            },
            polling: true,
            records: Vec::new(),
            events: Vec::new(),
            given_up: BTreeSet::new(),
            held: BTreeSet::new(),
            last: BTreeMap::new(),
        }));
        slot
    }

    /// The member in `slot`, running.
    pub fn member(&mut self, slot: usize) -> &mut Member {
        self.members[slot].as_mut().expect("a running member")
    }

    /// The process in `slot` dies: no commit, no leave; answers to it are lost.
    pub fn crash(&mut self, slot: usize) -> Option<Member> {
        self.members[slot].take()
    }

    /// The application in `slot` closes its consumer (the member keeps running until its
    /// close is complete, then stops).
    pub fn close(&mut self, slot: usize) {
        let now = self.now;
        self.member(slot).consumer.close(now);
    }

    /// The committed offset of `tp` for the group.
    pub fn committed(&self, tp: &TopicPartition) -> Option<i64> {
        self.cluster
            .committed_offset(&self.group, tp.topic(), tp.partition())
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self.now < until {
            self.tick();
            self.now += GROUP_TICK;
        }
    }

    /// Runs until `done`, failing after `max` of virtual time.
    pub fn run_until(&mut self, max: Duration, done: impl FnMut(&mut GroupSim) -> bool) {
        if !self.try_run_until(max, done) {
            panic!("not done after {max:?}: {}", self.describe());
        }
    }

    /// Runs until `done`, at most for `max` of virtual time; returns whether it was done.
    pub fn try_run_until(
        &mut self,
        max: Duration,
        mut done: impl FnMut(&mut GroupSim) -> bool,
    ) -> bool {
        let until = self.now + max;
        while !done(self) {
            if self.now >= until {
                return false;
            }
            self.tick();
            self.now += GROUP_TICK;
        }
        true
    }

    fn violation(&mut self, invariant: Invariant, detail: String) {
        self.violations.push(Violation::new(invariant, detail));
    }

    fn log(&mut self, line: impl FnOnce() -> String) {
        if let Some(trace) = &mut self.trace {
            let mut line = line();
            if line.len() > 400 {
                let mut cut = 400;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
                line.push_str(" ...");
            }
            trace.push(line);
        }
    }

    /// Whether every running member is stable with nothing being revoked, and every partition
    /// of `partitions` is owned by exactly one of them.
    pub fn settled(&self, partitions: &BTreeSet<TopicPartition>) -> bool {
        let mut owned = BTreeSet::new();
        for m in self.members.iter().flatten() {
            let Some(g) = m.consumer.group() else {
                return false;
            };
            if g.state() != dekaf_state::group::MemberState::Stable
                || g.revoking().next().is_some()
                || !m.consumer.revoking().is_empty()
            {
                return false;
            }
            for tp in m.consumer.assignment() {
                if !owned.insert(tp) {
                    return false;
                }
            }
        }
        &owned == partitions
    }

    /// Who owns what, for failure messages.
    pub fn describe(&self) -> String {
        let mut s = match &self.consumer_coordinator {
            Some(c) => format!(
                "group epoch {} members {:?}; ",
                c.group_epoch,
                c.member_ids()
            ),
            None => format!(
                "coordinator {:?} gen {}; ",
                self.coordinator.state, self.coordinator.generation
            ),
        };
        for (i, m) in self.members.iter().enumerate() {
            if let Some(m) = m {
                s += &format!(
                    "[{i}: {:?} epoch {:?} {:?} revoking {:?}] ",
                    m.consumer.member_state(),
                    m.consumer.group_metadata().map(|g| g.generation_id),
                    m.consumer.assignment(),
                    m.consumer.revoking()
                );
            }
        }
        s
    }

    fn tick(&mut self) {
        let now = self.now;
        // Answers due now.
        self.flights.sort_by_key(|f| f.at);
        while self.flights.first().is_some_and(|f| f.at <= now) {
            let f = self.flights.remove(0);
            if self.dead.remove(&(f.conn, f.id)) {
                continue;
            }
            self.open.remove(&(f.conn, f.id));
            let (conn, id) = (f.conn, f.id);
            self.log(|| match &f.result {
                Ok(r) => format!("{now:?} slot {} <- {id}: {:?}", conn.slot, r.body),
                Err(e) => format!("{now:?} slot {} <- {id}: failed: {e}", conn.slot),
            });
            if let Some(m) = self.members[f.conn.slot]
                .as_mut()
                .filter(|m| m.conn == f.conn)
            {
                m.consumer.handle_response(now, f.id, f.result);
            }
        }
        let replies = self.coordinator.tick(now);
        self.deliver(replies);
        if let Some(c) = &mut self.consumer_coordinator {
            let topics = self
                .cluster
                .topics
                .iter()
                .map(|(name, t)| (name.clone(), (t.id, t.partitions.len() as i32)))
                .collect();
            c.set_topics_with_ids(&topics);
            c.tick(now);
        }
        for slot in 0..self.members.len() {
            self.drive(slot);
        }
        self.check();
    }

    fn deliver(&mut self, replies: Vec<Reply>) {
        for r in replies {
            let connection = self
                .open
                .get(&(r.conn, r.id))
                .copied()
                .unwrap_or(Destination::Coordinator(self.cluster.group_coordinator));
            self.send_back(r.conn, r.id, connection, r.version, r.body);
        }
    }

    /// Puts an answer on its way back on `connection`, with the network faults of the
    /// answer path: delayed (and everything behind it on that connection: answers come back
    /// in order), slowed when it comes from the coordinator, or duplicated.
    fn send_back(
        &mut self,
        conn: Conn,
        id: RequestId,
        connection: Destination,
        version: i16,
        body: ResponseBody,
    ) {
        let mut at = self.now + self.latency;
        if matches!(connection, Destination::Coordinator(_)) {
            at += self.cluster.faults.slow_coordinator;
        }
        if self.cluster.chance(self.cluster.faults.delayed_response) {
            self.cluster.count("answer delayed");
            at += Duration::from_millis(1 + self.cluster.below(3000));
        }
        let last = self.last_answer.entry((conn, connection)).or_insert(at);
        at = at.max(*last);
        *last = at;
        let copies = if self.cluster.chance(self.cluster.faults.duplicated_response) {
            self.cluster.count("answer duplicated");
            2
        } else {
            1
        };
        for _ in 0..copies {
            self.flights.push(Flight {
                at,
                conn,
                id,
                result: Ok(Response {
                    version,
                    body: body.clone(),
                }),
            });
        }
    }

    /// Broker `broker` stops: every connection to it breaks, requests sent to it fail, its
    /// partitions get new leaders and, if it was the group coordinator, another broker
    /// takes over (the group's state goes with it, as Kafka loads it from its log).
    pub fn broker_down(&mut self, broker: i32) {
        let Some(other) = self
            .cluster
            .brokers
            .iter()
            .copied()
            .find(|b| *b != broker && !self.cluster.down.contains(b))
        else {
            return;
        };
        self.cluster.count("broker down");
        self.cluster.down.insert(broker);
        self.log(|| format!("    broker {broker} goes down"));
        let conns: Vec<Conn> = self.members.iter().flatten().map(|m| m.conn).collect();
        for conn in conns {
            self.break_connection(conn, Destination::Broker(broker));
            self.break_connection(conn, Destination::Coordinator(broker));
        }
        for topic in self.cluster.topics.values_mut() {
            for part in &mut topic.partitions {
                if part.leader == broker {
                    part.new_leader(other);
                }
            }
        }
        if self.cluster.group_coordinator == broker {
            self.cluster.group_coordinator = other;
        }
    }

    /// Broker `broker` is back (leaders and the coordinator stay where they moved).
    pub fn broker_up(&mut self, broker: i32) {
        if self.cluster.down.remove(&broker) {
            self.log(|| format!("    broker {broker} is back"));
        }
    }

    fn drive(&mut self, slot: usize) {
        let now = self.now;
        let Some(m) = self.members[slot].as_mut() else {
            return;
        };
        if m.consumer.poll_timeout().is_some_and(|t| t <= now) {
            m.consumer.handle_timeout(now);
        }
        let mut disorder = Vec::new();
        drain_events(m);
        if m.polling && !m.consumer.is_closed() {
            let records = m.consumer.poll_records(now, 50);
            for r in &records {
                let tp = &r.topic_partition;
                if let Some(last) = m.last.insert(tp.clone(), r.offset) {
                    if r.offset <= last {
                        disorder.push(format!(
                            "slot {slot} got {tp}@{} after {tp}@{last} in one assignment",
                            r.offset
                        ));
                    }
                }
            }
            m.records.extend(records);
        }
        let mut outs = Vec::new();
        while let Some(out) = m.consumer.poll_request(now) {
            outs.push(out);
            assert!(outs.len() < 10_000, "requests never stop");
        }
        drain_events(m);
        let conn = m.conn;
        let held: BTreeSet<TopicPartition> = m
            .consumer
            .group()
            .map(|g| g.assignment().cloned().collect())
            .unwrap_or_default();
        for tp in m.held.difference(&held) {
            m.given_up.insert(tp.clone());
        }
        for tp in &held {
            m.given_up.remove(tp);
        }
        m.held = held;
        let closed = m.consumer.is_close_complete();
        if self.check_order {
            for d in disorder {
                self.violation(Invariant::PartitionOrder, d);
            }
        }
        for out in outs {
            let (lo, hi) = out.request.versions();
            let version = hi.max(lo);
            let body = out.request.body(version);
            let broker = match out.destination {
                Destination::AnyBroker => {
                    let up = self
                        .cluster
                        .brokers
                        .iter()
                        .find(|b| !self.cluster.down.contains(b));
                    up.copied().unwrap_or(self.cluster.brokers[0])
                }
                Destination::Broker(b) | Destination::Coordinator(b) => b,
            };
            let connection = match out.destination {
                Destination::AnyBroker => Destination::Broker(broker),
                other => other,
            };
            self.log(|| {
                format!(
                    "{now:?} slot {slot} -> {connection:?} {} {} v{version}: {body:?}",
                    out.id,
                    body.api_key()
                )
            });
            let down = self.cluster.down.contains(&broker);
            if down || self.cluster.chance(self.cluster.faults.disconnect) {
                if !down {
                    self.cluster.count("disconnected");
                }
                self.log(|| format!("    connection {connection:?} of slot {slot} breaks"));
                self.break_connection(conn, connection);
                self.flights.push(Flight {
                    at: now + Duration::from_millis(1),
                    conn,
                    id: out.id,
                    result: Err(RequestFailed::Disconnected),
                });
                continue;
            }
            self.cluster.maybe_move_leader();
            self.open.insert((conn, out.id), connection);
            let lose_answer = self.cluster.chance(self.cluster.faults.lost_response);
            match body {
                RequestBody::JoinGroup(_)
                | RequestBody::SyncGroup(_)
                | RequestBody::Heartbeat(_)
                | RequestBody::LeaveGroup(_) => {
                    let replies = self.coordinator.handle(now, conn, out.id, version, body);
                    self.deliver(replies);
                }
                RequestBody::ConsumerGroupHeartbeat(req) => {
                    let answer = match &mut self.consumer_coordinator {
                        Some(c) => ResponseBody::ConsumerGroupHeartbeat(c.heartbeat(now, req)),
                        None => panic!("a classic group got a ConsumerGroupHeartbeat"),
                    };
                    self.send_back(conn, out.id, connection, version, answer);
                }
                RequestBody::OffsetCommit(req) => {
                    let answer = self.commit(slot, broker, &req, version);
                    self.send_back(conn, out.id, connection, version, answer);
                }
                body => {
                    let answer = match self.cluster.answer(broker, &body, version) {
                        Ok(Some(answer)) => answer,
                        Ok(None) => continue,
                        Err(e) => panic!("{e}"),
                    };
                    self.send_back(conn, out.id, connection, version, answer);
                }
            }
            if lose_answer {
                self.cluster.count("answer lost");
                self.log(|| format!("    the answer to {} is lost", out.id));
                self.break_connection(conn, connection);
            }
        }
        if closed {
            self.finished.extend(self.members[slot].take());
        }
    }

    fn commit(
        &mut self,
        slot: usize,
        broker: i32,
        req: &dekaf_proto::messages::OffsetCommitRequest,
        version: i16,
    ) -> ResponseBody {
        let code = match &self.consumer_coordinator {
            Some(c) => c.commit(req.generation_id_or_member_epoch, &req.member_id),
            None => self
                .coordinator
                .commit(req.generation_id_or_member_epoch, &req.member_id),
        };
        if code == dekaf_proto::ErrorCode::STALE_MEMBER_EPOCH {
            self.stale_commits += 1;
        }
        if !code.is_ok() {
            return ResponseBody::OffsetCommit(OffsetCommitResponse {
                topics: req
                    .topics
                    .iter()
                    .map(|t| OffsetCommitResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| OffsetCommitResponsePartition {
                                partition_index: p.partition_index,
                                error_code: code,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            });
        }
        for t in &req.topics {
            for p in &t.partitions {
                let tp = TopicPartition::new(t.name.as_str(), p.partition_index);
                if let Some(m) = &self.members[slot] {
                    if m.given_up.contains(&tp) {
                        self.violations.push(Violation::new(
                            Invariant::NoCommitAfterGivingUp,
                            format!("slot {slot} committed {tp} after giving it up"),
                        ));
                    }
                }
                if let Some(before) = self.committed(&tp) {
                    if p.committed_offset < before {
                        self.violations.push(Violation::new(
                            Invariant::CommittedNeverBackwards,
                            format!(
                                "committed offset of {tp} went back from {before} to {} (slot {slot})",
                                p.committed_offset
                            ),
                        ));
                    }
                }
                self.commits.push((slot, tp, p.committed_offset));
            }
        }
        match self
            .cluster
            .answer(broker, &RequestBody::OffsetCommit(req.clone()), version)
        {
            Ok(Some(answer)) => answer,
            Ok(None) | Err(_) => panic!("the cluster cannot answer an OffsetCommit v{version}"),
        }
    }

    /// The connection `connection` of member `conn` breaks: every request on it fails.
    fn break_connection(&mut self, conn: Conn, connection: Destination) {
        let at = self.now + Duration::from_millis(1);
        let broken: Vec<RequestId> = self
            .open
            .iter()
            .filter(|((c, _), d)| *c == conn && **d == connection)
            .map(|((_, id), _)| *id)
            .collect();
        for id in broken {
            self.open.remove(&(conn, id));
            self.dead.insert((conn, id));
            self.flights.push(Flight {
                at,
                conn,
                id,
                result: Err(RequestFailed::Disconnected),
            });
        }
        // The failures above are not dead themselves.
        let now = self.now;
        if let Some(m) = self.members[conn.slot].as_mut().filter(|m| m.conn == conn) {
            m.consumer.handle_disconnected(now, connection);
        }
    }

    fn check(&mut self) {
        let mut owner: BTreeMap<TopicPartition, usize> = BTreeMap::new();
        for (i, m) in self.members.iter().enumerate() {
            let Some(m) = m else { continue };
            let revoking: BTreeSet<TopicPartition> = m.consumer.revoking().into_iter().collect();
            // A closing consumer fetches nothing once its group machine gave its partitions
            // up (they stay in its assignment until the LeaveGroup is answered, which a
            // delayed answer can hold back while another member takes them over).
            let closing_without: BTreeSet<TopicPartition> = match m.consumer.group() {
                Some(g) if m.consumer.is_closed() => {
                    let held: BTreeSet<&TopicPartition> = g.assignment().collect();
                    m.consumer
                        .assignment()
                        .into_iter()
                        .filter(|tp| !held.contains(tp))
                        .collect()
                }
                _ => BTreeSet::new(),
            };
            for tp in m.consumer.assignment() {
                if revoking.contains(&tp) || closing_without.contains(&tp) {
                    continue;
                }
                if let Some(j) = owner.insert(tp.clone(), i) {
                    self.violations.push(Violation::new(
                        Invariant::PartitionOwnedOnce,
                        format!("{tp} fetched by slots {j} and {i} at once"),
                    ));
                }
            }
        }
        if self.strict && !self.violations.is_empty() {
            let all: Vec<String> = self.violations.iter().map(|v| v.to_string()).collect();
            panic!("invariant broken: {all:#?}\n{}", self.describe());
        }
    }
}

//! A deterministic world: the coordinator model, a network with latency, and consumers built
//! from a real `GroupMembership` and a real `OffsetManager`, composed as the group module's
//! docs say. Invariants are checked after every step.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use dekaf_proto::messages::{RequestBody, ResponseBody};
use dekaf_proto::wire::Reader;
use dekaf_proto::ErrorCode;
use dekaf_state::assignor::Assignor;
use dekaf_state::client::{RequestFailed, RequestId, Response};
use dekaf_state::group::{
    builtin_assignor, GroupConfig, GroupEvent, GroupMembership, GroupProtocol, MemberState,
    Subscription, TopicInfo,
};
use dekaf_state::offset::{
    AutoOffsetReset, Backoff, CommitPolicy, CommittedResult, Intent, IntentId, ListedOffset,
    OffsetConfig, OffsetManager, OffsetSpec, TopicPartition,
};

use dekaf_sim::classic::{Conn, Coordinator, Reply};
use dekaf_sim::consumer_group::{topic_id, ConsumerCoordinator};

#[allow(clippy::disallowed_methods)] // one base instant; every other time is an offset from it
pub fn base() -> Instant {
    Instant::now()
}

/// How every member of a run is configured.
#[derive(Clone, Debug)]
pub struct Setup {
    /// Assignor names offered, most preferred first.
    pub assignors: Vec<&'static str>,
    /// Whether slot `i` has the instance id `static-i`.
    pub static_members: bool,
    pub session: Duration,
    pub heartbeat: Duration,
    pub max_poll: Duration,
    /// How often the application polls.
    pub poll_every: Duration,
    /// Network latency each way.
    pub latency: Duration,
    /// How long a request may go unanswered before the driver gives up (JoinGroup: the
    /// rebalance timeout plus this).
    pub request_timeout: Duration,
    /// Subscribe by pattern (`t.*`) rather than by topic list.
    pub pattern: bool,
    /// The coordinator's delay before the first join of an empty group completes.
    pub initial_delay: Duration,
    /// Speak the consumer protocol (KIP-848) instead of the classic one.
    pub consumer_protocol: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            assignors: vec!["range"],
            static_members: false,
            session: Duration::from_secs(10),
            heartbeat: Duration::from_secs(3),
            max_poll: Duration::from_secs(30),
            poll_every: Duration::from_millis(500),
            latency: Duration::from_millis(2),
            request_timeout: Duration::from_secs(5),
            pattern: false,
            initial_delay: Duration::ZERO,
            consumer_protocol: false,
        }
    }
}

/// A request of a consumer on its way, or waiting for its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Group(RequestId),
    Intent(IntentId),
}

enum ToCoordinator {
    Group {
        id: RequestId,
        version: i16,
        body: RequestBody,
    },
    Commit {
        id: IntentId,
        generation: i32,
        member_id: String,
        offsets: Vec<(TopicPartition, i64)>,
    },
    Fetch {
        id: IntentId,
        partitions: Vec<TopicPartition>,
    },
}

enum ToMember {
    Group(Reply),
    Commit(IntentId, ErrorCode, Vec<TopicPartition>),
    Fetch(IntentId, Vec<(TopicPartition, CommittedResult)>),
}

enum Msg {
    ToCoordinator(Conn, ToCoordinator),
    ToMember(Conn, ToMember),
}

/// The application's handling of a `Revoked` event.
#[derive(Debug)]
struct Hook {
    partitions: BTreeSet<TopicPartition>,
    /// When the application's callback returns.
    ready_at: Instant,
    /// Whether the offsets of the revoked partitions were handed to the offset machine.
    released: bool,
}

/// One consumer process.
pub struct Consumer {
    pub group: GroupMembership,
    pub offsets: OffsetManager,
    pub conn: Conn,
    /// Whether the application polls.
    pub polling: bool,
    /// How long the application takes in its revoke callback.
    pub revoke_delay: Duration,
    hook: Option<Hook>,
    flights: BTreeMap<Key, Instant>,
    next_poll: Instant,
    metadata_seen: u64,
    /// Partitions whose revocation this member confirmed (until assigned again).
    pub confirmed_revoked: BTreeSet<TopicPartition>,
    /// Partitions this member lost (until assigned again).
    pub lost: BTreeSet<TopicPartition>,
    pub log: Vec<GroupEvent>,
    /// Whether the network reaches the coordinator.
    pub connected: bool,
    /// Cut off from the coordinator during a cooperative rebalance: the member cannot know
    /// whether the group went on without it, and keeps its partitions until it finds out
    /// (Kafka's zombie case; its commits are refused). Cleared by a sync or by losing
    /// everything.
    pub zombie: bool,
}

/// A member slot: a consumer process, running or not.
pub struct Slot {
    pub instance: Option<String>,
    pub consumer: Option<Consumer>,
    incarnations: u64,
}

pub struct World {
    pub now: Instant,
    start: Instant,
    pub setup: Setup,
    pub coordinator: Coordinator,
    /// The coordinator of the consumer protocol, when the run speaks it.
    pub kip848: ConsumerCoordinator,
    /// Committed offsets of the group.
    pub committed: BTreeMap<TopicPartition, i64>,
    pub topics: BTreeMap<String, i32>,
    metadata_version: u64,
    pub slots: Vec<Slot>,
    queue: BTreeMap<(Instant, u64), Msg>,
    seq: u64,
    pub violations: Vec<String>,
    /// Whether "no partition is owned by two members" is checked (off only where two
    /// processes share a static identity, which Kafka resolves by fencing one of them).
    pub check_ownership: bool,
    seed: u64,
    /// Every accepted commit: (slot, generation, partition, offset).
    pub commits: u64,
    /// Records handed to applications.
    pub consumed: u64,
    /// Commits refused for a stale member epoch.
    pub stale_commits: u64,
}

fn roundtrip_request(body: &RequestBody, version: i16) -> RequestBody {
    let mut buf = BytesMut::new();
    body.encode(&mut buf, version)
        .expect("the member writes valid requests");
    let bytes = buf.freeze();
    let mut r = Reader::new(&bytes);
    RequestBody::decode(body.api_key(), version, &mut r).expect("and they read back")
}

fn roundtrip_response(body: &ResponseBody, version: i16) -> ResponseBody {
    let mut buf = BytesMut::new();
    body.encode(&mut buf, version)
        .expect("the coordinator writes valid answers");
    let bytes = buf.freeze();
    let mut r = Reader::new(&bytes);
    ResponseBody::decode(body.api_key(), version, &mut r).expect("and they read back")
}

impl World {
    pub fn new(setup: Setup, slots: usize, topics: &[(&str, i32)], seed: u64) -> Self {
        let now = base();
        World {
            now,
            start: now,
            coordinator: Coordinator::new(setup.initial_delay),
            kip848: ConsumerCoordinator::new(setup.session),
            committed: BTreeMap::new(),
            topics: topics.iter().map(|(t, n)| (t.to_string(), *n)).collect(),
            metadata_version: 1,
            slots: (0..slots)
                .map(|i| Slot {
                    instance: setup.static_members.then(|| format!("static-{i}")),
                    consumer: None,
                    incarnations: 0,
                })
                .collect(),
            setup,
            queue: BTreeMap::new(),
            seq: 0,
            violations: Vec::new(),
            check_ownership: true,
            seed,
            commits: 0,
            consumed: 0,
            stale_commits: 0,
        }
    }

    fn subscription(&self) -> Subscription {
        if self.setup.pattern {
            Subscription::pattern("t.*").unwrap()
        } else {
            Subscription::topics(self.topics.keys().cloned())
        }
    }

    /// Every partition of the subscribed topics.
    fn all_partitions(&self) -> BTreeSet<TopicPartition> {
        let pattern = self.subscription();
        self.topics
            .iter()
            .filter(|(t, _)| match &pattern {
                Subscription::Pattern(p) => p.matches(t),
                Subscription::Topics(_) => true,
            })
            .flat_map(|(t, n)| (0..*n).map(move |p| TopicPartition::new(t.as_str(), p)))
            .collect()
    }

    /// Starts a consumer in `slot` (a new process: a static slot keeps its instance id).
    pub fn start(&mut self, slot: usize) {
        if self.slots[slot].consumer.is_some() {
            return;
        }
        self.slots[slot].incarnations += 1;
        let incarnation = self.slots[slot].incarnations;
        let assignors: Vec<Arc<dyn Assignor>> = self
            .setup
            .assignors
            .iter()
            .map(|n| builtin_assignor(n).expect("a built-in assignor"))
            .collect();
        let mut config = GroupConfig::new("g")
            .with_assignors(assignors)
            .with_session_timeout(self.setup.session)
            .with_heartbeat_interval(self.setup.heartbeat)
            .with_max_poll_interval(self.setup.max_poll)
            .with_retry_backoff(Backoff::default());
        if let Some(i) = &self.slots[slot].instance {
            config = config.with_group_instance_id(i.clone());
        }
        if self.setup.consumer_protocol {
            config = config.with_protocol(GroupProtocol::Consumer);
        }
        let seed = self.seed ^ ((slot as u64) << 32) ^ incarnation;
        let mut group = GroupMembership::new(config, seed).expect("valid config");
        let offsets = OffsetManager::new(
            OffsetConfig::default()
                .with_group_id("g")
                .with_commit_policy(CommitPolicy::Interval(Duration::from_secs(1)))
                .with_auto_offset_reset(AutoOffsetReset::Earliest),
            seed,
        );
        group
            .subscribe(self.now, self.subscription())
            .expect("a fresh member");
        self.slots[slot].consumer = Some(Consumer {
            group,
            offsets,
            conn: Conn { slot, incarnation },
            polling: true,
            revoke_delay: Duration::ZERO,
            hook: None,
            flights: BTreeMap::new(),
            next_poll: self.now,
            metadata_seen: 0,
            confirmed_revoked: BTreeSet::new(),
            lost: BTreeSet::new(),
            log: Vec::new(),
            connected: true,
            zombie: false,
        });
    }

    /// The process in `slot` dies at once: no leave, no commit.
    pub fn crash(&mut self, slot: usize) {
        self.slots[slot].consumer = None;
    }

    /// The application in `slot` closes its consumer.
    pub fn close(&mut self, slot: usize) {
        if let Some(c) = &mut self.slots[slot].consumer {
            c.group.close(self.now);
        }
    }

    pub fn consumer(&mut self, slot: usize) -> Option<&mut Consumer> {
        self.slots[slot].consumer.as_mut()
    }

    /// Cuts `slot` off from the coordinator (both ways): requests in flight fail at once.
    pub fn disconnect(&mut self, slot: usize) {
        let now = self.now;
        if let Some(c) = &mut self.slots[slot].consumer {
            c.connected = false;
            for t in c.flights.values_mut() {
                *t = now;
            }
        }
    }

    /// Connects `slot` again.
    pub fn reconnect(&mut self, slot: usize) {
        if let Some(c) = &mut self.slots[slot].consumer {
            c.connected = true;
        }
    }

    /// Gives `slot` another instance id (None: dynamic), for the next process started there.
    pub fn set_instance(&mut self, slot: usize, instance: Option<&str>) {
        self.slots[slot].instance = instance.map(str::to_string);
    }

    /// Adds a partition to topic `topic`, or creates it with one partition.
    pub fn grow(&mut self, topic: &str) {
        *self.topics.entry(topic.to_string()).or_insert(0) += 1;
        self.metadata_version += 1;
    }

    fn send(&mut self, at: Instant, msg: Msg) {
        self.seq += 1;
        self.queue.insert((at, self.seq), msg);
    }

    /// Runs the world until `until`, checking the invariants after every step.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        let mut steps = 0u64;
        loop {
            self.step();
            self.check();
            let next = self.next_time().max(self.now + Duration::from_millis(1));
            if next > until {
                self.now = until;
                self.step();
                self.check();
                return;
            }
            self.now = next;
            steps += 1;
            assert!(steps < 2_000_000, "the world does not settle into time");
        }
    }

    fn next_time(&self) -> Instant {
        let mut next = self.now + Duration::from_secs(3600);
        let mut at = |t: Option<Instant>| {
            if let Some(t) = t {
                next = next.min(t);
            }
        };
        at(self.queue.keys().next().map(|k| k.0));
        at(self.coordinator.next_deadline());
        at(self.kip848.next_deadline());
        for s in &self.slots {
            if let Some(c) = &s.consumer {
                at(c.group.poll_timeout());
                at(c.offsets.poll_timeout());
                if c.polling {
                    at(Some(c.next_poll));
                }
                at(c.hook.as_ref().map(|h| h.ready_at));
                at(c.flights.values().min().copied());
            }
        }
        next
    }

    /// Everything due at `now`: messages, the coordinator's timers, and every consumer.
    fn step(&mut self) {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let msg = entry.remove();
            self.deliver(msg);
        }
        self.kip848.set_topics(&self.topics);
        self.kip848.tick(self.now);
        let replies = self.coordinator.tick(self.now);
        self.reply_all(replies);
        for slot in 0..self.slots.len() {
            self.drive(slot);
        }
        // Answers produced while driving may be due now (never: latency > 0), so one pass is
        // enough.
    }

    fn reply_all(&mut self, replies: Vec<Reply>) {
        let at = self.now + self.setup.latency;
        for r in replies {
            self.send(at, Msg::ToMember(r.conn, ToMember::Group(r)));
        }
    }

    fn deliver(&mut self, msg: Msg) {
        let now = self.now;
        let reachable = |w: &World, conn: Conn| {
            w.slots[conn.slot]
                .consumer
                .as_ref()
                .is_some_and(|c| c.conn == conn && c.connected)
        };
        let conn = match &msg {
            Msg::ToCoordinator(c, _) | Msg::ToMember(c, _) => *c,
        };
        let dead_process = self.slots[conn.slot]
            .consumer
            .as_ref()
            .is_none_or(|c| c.conn != conn);
        if !dead_process && !reachable(self, conn) {
            // Lost on the way; the driver times the request out.
            return;
        }
        match msg {
            Msg::ToCoordinator(conn, req) => match req {
                ToCoordinator::Group {
                    id,
                    version,
                    body: RequestBody::ConsumerGroupHeartbeat(r),
                } => {
                    self.kip848.set_topics(&self.topics);
                    let body = self.kip848.heartbeat(now, r).into();
                    self.reply_all(vec![Reply {
                        conn,
                        id,
                        version,
                        body,
                    }]);
                }
                ToCoordinator::Group { id, version, body } => {
                    let replies = self.coordinator.handle(now, conn, id, version, body);
                    self.reply_all(replies);
                }
                ToCoordinator::Commit {
                    id,
                    generation,
                    member_id,
                    offsets,
                } => {
                    let code = if self.setup.consumer_protocol {
                        let code = self.kip848.commit(generation, &member_id);
                        if code == ErrorCode::STALE_MEMBER_EPOCH {
                            self.stale_commits += 1;
                        }
                        code
                    } else {
                        self.coordinator.commit(generation, &member_id)
                    };
                    // The coordinator must never accept a commit of a partition its sender
                    // confirmed revoked, nor of one it lost that another member owns now. (A
                    // commit sent while the partition was owned can still be on the way when
                    // the sender learns it lost it: the coordinator refuses it if the group
                    // moved on, and may accept it if the member gave up on its own first.)
                    if code.is_ok() {
                        let owners = self.ownership();
                        if let Some(c) = self.slots[conn.slot]
                            .consumer
                            .as_ref()
                            .filter(|c| c.conn == conn)
                        {
                            for (tp, _) in &offsets {
                                let taken = owners
                                    .iter()
                                    .any(|(slot, owned)| *slot != conn.slot && owned.contains(tp));
                                if c.confirmed_revoked.contains(tp)
                                    || (c.lost.contains(tp) && taken)
                                {
                                    self.violations.push(format!(
                                        "slot {} committed {tp} after giving it up",
                                        conn.slot
                                    ));
                                }
                            }
                        }
                    }
                    if code.is_ok() {
                        self.commits += 1;
                        for (tp, offset) in &offsets {
                            let before = self.committed.get(tp).copied().unwrap_or(0);
                            if *offset < before {
                                self.violations.push(format!(
                                    "committed offset of {tp} went back from {before} to {offset} (slot {}, generation {generation})",
                                    conn.slot
                                ));
                            }
                            self.committed.insert(tp.clone(), *offset);
                        }
                    }
                    let tps = offsets.into_iter().map(|(tp, _)| tp).collect();
                    self.send(
                        now + self.setup.latency,
                        Msg::ToMember(conn, ToMember::Commit(id, code, tps)),
                    );
                }
                ToCoordinator::Fetch { id, partitions } => {
                    let answers = partitions
                        .into_iter()
                        .map(|tp| {
                            let o = self.committed.get(&tp).copied();
                            (tp, Ok(o.map(dekaf_state::offset::OffsetAndMetadata::new)))
                        })
                        .collect();
                    self.send(
                        now + self.setup.latency,
                        Msg::ToMember(conn, ToMember::Fetch(id, answers)),
                    );
                }
            },
            Msg::ToMember(conn, answer) => {
                let Some(c) = self.slots[conn.slot]
                    .consumer
                    .as_mut()
                    .filter(|c| c.conn == conn)
                else {
                    return;
                };
                match answer {
                    ToMember::Group(r) => {
                        if c.flights.remove(&Key::Group(r.id)).is_none() {
                            return;
                        }
                        let body = roundtrip_response(&r.body, r.version);
                        c.group.handle_response(
                            now,
                            r.id,
                            Ok(Response {
                                version: r.version,
                                body,
                            }),
                        );
                    }
                    ToMember::Commit(id, code, tps) => {
                        if c.flights.remove(&Key::Intent(id)).is_none() {
                            return;
                        }
                        c.offsets.handle_commit_response(
                            now,
                            id,
                            tps.into_iter().map(|tp| (tp, code)),
                        );
                    }
                    ToMember::Fetch(id, answers) => {
                        if c.flights.remove(&Key::Intent(id)).is_none() {
                            return;
                        }
                        c.offsets.handle_committed_response(now, id, Ok(answers));
                    }
                }
            }
        }
    }

    /// Runs one consumer until it has nothing more to do at `now`.
    fn drive(&mut self, slot: usize) {
        let now = self.now;
        let request_timeout = self.setup.request_timeout;
        let join_timeout = self.setup.max_poll + request_timeout;
        let poll_every = self.setup.poll_every;
        let metadata: Vec<TopicInfo> = self
            .topics
            .iter()
            .map(|(t, n)| TopicInfo::new(t.as_str(), *n).with_id(topic_id(t)))
            .collect();
        let metadata_version = self.metadata_version;
        let mut out = Out {
            slot,
            request_timeout,
            violations: Vec::new(),
            outbox: Vec::new(),
        };
        let mut consumed = 0;
        let Some(c) = self.slots[slot].consumer.as_mut() else {
            return;
        };
        let mut fed_metadata = false;
        for _round in 0..1000 {
            let mut busy = false;
            // Events of the answers delivered since the last round come first.
            c.group.handle_timeout(now);
            busy |= apply_group_events(c, now, &mut out);
            c.offsets.handle_timeout(now);
            // The driver gives up on requests that went unanswered too long.
            let expired: Vec<Key> = c
                .flights
                .iter()
                .filter(|(_, t)| **t <= now)
                .map(|(k, _)| *k)
                .collect();
            for k in expired {
                c.flights.remove(&k);
                busy = true;
                match k {
                    Key::Group(id) => {
                        c.group
                            .handle_response(now, id, Err(RequestFailed::TimedOut))
                    }
                    Key::Intent(id) => c.offsets.handle_request_failed(now, id),
                }
            }
            busy |= apply_group_events(c, now, &mut out);
            // The application.
            if c.polling && c.next_poll <= now {
                c.next_poll = now + poll_every;
                busy = true;
                c.group.handle_poll(now);
                if c.metadata_seen != metadata_version {
                    c.metadata_seen = metadata_version;
                    c.group.handle_metadata(now, metadata.clone());
                }
                busy |= apply_group_events(c, now, &mut out);
                c.offsets.release(now);
                let revoking: BTreeSet<TopicPartition> = c.group.revoking().cloned().collect();
                let fetchable: Vec<TopicPartition> = c
                    .offsets
                    .fetchable()
                    .filter(|tp| !revoking.contains(*tp))
                    .cloned()
                    .collect();
                for tp in fetchable {
                    let (Some(epoch), Some(pos)) =
                        (c.offsets.fetch_epoch(&tp), c.offsets.position(&tp))
                    else {
                        continue;
                    };
                    for o in pos.offset..pos.offset + 3 {
                        if c.offsets.deliver(now, &tp, epoch, o, Some(0)).is_ok() {
                            consumed += 1;
                        }
                    }
                }
            }
            if c.group.needs_metadata() && !fed_metadata {
                fed_metadata = true;
                c.metadata_seen = metadata_version;
                c.group.handle_metadata(now, metadata.clone());
            }
            // The revoke callback returns: the offsets of the revoked partitions are committed
            // (Auto mode), and once nothing is pending the revocation is confirmed.
            if let Some(h) = &mut c.hook {
                if !h.released && h.ready_at <= now {
                    h.released = true;
                    busy = true;
                    let keep: Vec<TopicPartition> = c
                        .group
                        .assignment()
                        .filter(|tp| !h.partitions.contains(*tp))
                        .cloned()
                        .collect();
                    let _ = c.offsets.assign(now, keep);
                }
                if h.released && !c.offsets.has_pending_commits() {
                    busy = true;
                    let h = c.hook.take().expect("a hook");
                    c.confirmed_revoked.extend(h.partitions);
                    c.group.revoke_done(now);
                }
            }
            // The coordinator lookup (instant in this world).
            if c.group.needs_coordinator() && c.connected {
                busy = true;
                c.group.handle_coordinator(now, Some(1));
            }
            while let Some(request) = c.group.poll_request(now) {
                busy = true;
                let version = request.request.versions().1;
                let body = roundtrip_request(&request.request.body(version), version);
                let timeout = if matches!(body, RequestBody::JoinGroup(_)) {
                    join_timeout
                } else {
                    request_timeout
                };
                let timeout = if c.connected {
                    timeout
                } else {
                    Duration::from_secs(1)
                };
                c.flights.insert(Key::Group(request.id), now + timeout);
                out.outbox.push((
                    c.conn,
                    ToCoordinator::Group {
                        id: request.id,
                        version,
                        body,
                    },
                ));
            }
            busy |= apply_group_events(c, now, &mut out);
            busy |= pump_intents(c, now, &mut out);
            while c.offsets.poll_event().is_some() {
                busy = true;
            }
            if !busy {
                break;
            }
        }
        let cooperative = self
            .setup
            .assignors
            .iter()
            .all(|a| *a == "cooperative-sticky");
        match c.group.state() {
            MemberState::Joining | MemberState::Syncing if !c.connected && cooperative => {
                c.zombie = true
            }
            _ => {}
        }
        if c.group.assignment().next().is_none() {
            c.zombie = false;
        }
        self.consumed += consumed;
        let at = now + self.setup.latency;
        self.violations.append(&mut out.violations);
        for (conn, req) in out.outbox {
            self.send(at, Msg::ToCoordinator(conn, req));
        }
    }

    /// The invariants that hold at every step.
    fn check(&mut self) {
        let mut owner: BTreeMap<TopicPartition, usize> = BTreeMap::new();
        for (i, s) in self.slots.iter().enumerate() {
            let Some(c) = &s.consumer else { continue };
            if c.zombie {
                continue;
            }
            let revoking: BTreeSet<&TopicPartition> = c.group.revoking().collect();
            for tp in c.group.assignment().filter(|tp| !revoking.contains(tp)) {
                if let Some(j) = owner.insert(tp.clone(), i).filter(|_| self.check_ownership) {
                    self.violations
                        .push(format!("{tp} owned by slots {j} and {i} at once"));
                }
            }
            let held: BTreeSet<&TopicPartition> = c.group.assignment().collect();
            for tp in c.offsets.assignment() {
                if !held.contains(tp) {
                    self.violations.push(format!(
                        "slot {i}: the offset machine has {tp}, the group machine does not"
                    ));
                }
            }
        }
        // `SIM_DEBUG=1` prints what each member was told, to follow a broken run.
        if !self.violations.is_empty() && std::env::var("SIM_DEBUG").is_ok() {
            for (i, s) in self.slots.iter().enumerate() {
                if let Some(c) = &s.consumer {
                    eprintln!("slot {i}: {:#?}", c.log);
                }
            }
        }
        assert!(
            self.violations.is_empty(),
            "invariant broken at {:?}: {:#?}",
            self.now.duration_since(self.start),
            self.violations
        );
    }

    /// Whether the group has settled: every running consumer is stable with nothing pending,
    /// and every partition is owned by exactly one of them.
    pub fn settled(&self) -> bool {
        let mut owned = BTreeSet::new();
        let mut running = 0;
        for s in &self.slots {
            let Some(c) = &s.consumer else { continue };
            if c.group.is_closed() {
                continue;
            }
            running += 1;
            if self.setup.consumer_protocol && c.group.generation() != self.kip848.group_epoch {
                // Still reconciling towards the latest target.
                return false;
            }
            if c.group.state() != MemberState::Stable
                || c.group.revoking().next().is_some()
                || c.hook.is_some()
            {
                return false;
            }
            for tp in c.group.assignment() {
                if !owned.insert(tp.clone()) {
                    return false;
                }
            }
        }
        running == 0 || owned == self.all_partitions()
    }

    /// Heals every fault and runs until the group settles (at most `limit`).
    pub fn settle(&mut self, limit: Duration) {
        for s in &mut self.slots {
            if let Some(c) = &mut s.consumer {
                c.polling = true;
                c.revoke_delay = Duration::ZERO;
            }
        }
        let deadline = self.now + limit;
        while !self.settled() {
            assert!(
                self.now < deadline,
                "not settled after {limit:?}: {}",
                self.describe()
            );
            self.run_for(Duration::from_millis(500));
        }
        // Once settled, commits flow: no offset machine is left waiting for a stable group.
        // A member that crashed in the middle of a rebalance can still hold the next one up
        // until its session expires (as on Kafka), so this is waited for too, within the limit.
        self.run_for(Duration::from_secs(5));
        loop {
            let held = self.slots.iter().enumerate().find(|(_, s)| {
                s.consumer
                    .as_ref()
                    .is_some_and(|c| !c.group.is_closed() && !c.offsets.is_group_stable())
            });
            let Some((i, _)) = held else { break };
            assert!(
                self.now < deadline,
                "slot {i}: commits still held back after the group settled: {}",
                self.describe()
            );
            self.run_for(Duration::from_millis(500));
        }
    }

    pub fn describe(&self) -> String {
        let mut s = if self.setup.consumer_protocol {
            format!(
                "consumer-protocol coordinator epoch {} members {:?}\n",
                self.kip848.group_epoch,
                self.kip848.member_ids()
            )
        } else {
            format!(
                "coordinator {:?} generation {} members {:?}\n",
                self.coordinator.state,
                self.coordinator.generation,
                self.coordinator.member_ids()
            )
        };
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(c) = &slot.consumer {
                s += &format!(
                    "slot {i}: {:?} gen {} id {} owns {:?} revoking {:?} hook {:?} log {:?}\n",
                    c.group.state(),
                    c.group.generation(),
                    c.group.member_id(),
                    c.group.assignment().collect::<Vec<_>>(),
                    c.group.revoking().collect::<Vec<_>>(),
                    c.hook,
                    c.log.iter().rev().take(6).collect::<Vec<_>>()
                );
            }
        }
        s
    }

    /// The partitions each running consumer owns, by slot.
    pub fn ownership(&self) -> BTreeMap<usize, Vec<TopicPartition>> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.consumer
                    .as_ref()
                    .map(|c| (i, c.group.assignment().cloned().collect()))
            })
            .collect()
    }
}

/// What driving one consumer sends, and the invariants it broke.
struct Out {
    slot: usize,
    request_timeout: Duration,
    violations: Vec<String>,
    outbox: Vec<(Conn, ToCoordinator)>,
}

/// Applies the group machine's events to the offset machine, in order. A driver does this
/// after every input to the group machine, before it asks the offset machine for requests:
/// until `Unstable` is applied, the offset machine would still commit what the group machine
/// already lost.
fn apply_group_events(c: &mut Consumer, now: Instant, out: &mut Out) -> bool {
    let mut busy = false;
    while let Some(event) = c.group.poll_event() {
        busy = true;
        c.log.push(event.clone());
        match event {
            GroupEvent::Unstable => c.offsets.handle_group_unstable(now),
            GroupEvent::Stable { .. } => {
                c.zombie = false;
                c.offsets.handle_group_stable(now)
            }
            GroupEvent::Assigned(ps) => {
                for tp in &ps {
                    c.confirmed_revoked.remove(tp);
                    c.lost.remove(tp);
                }
                let _ = c.offsets.assign(now, c.group.assignment().cloned());
            }
            GroupEvent::Revoked(ps) => {
                let ready_at = now + c.revoke_delay;
                match &mut c.hook {
                    // The callback runs again, for these too.
                    Some(h) => {
                        h.partitions.extend(ps);
                        h.released = false;
                        h.ready_at = ready_at;
                    }
                    None => {
                        c.hook = Some(Hook {
                            partitions: ps.into_iter().collect(),
                            ready_at,
                            released: false,
                        })
                    }
                }
            }
            GroupEvent::Lost(ps) => {
                if c.offsets.is_group_stable() {
                    out.violations.push(format!(
                        "slot {}: lost {ps:?} while commits were still accepted",
                        out.slot
                    ));
                }
                if let Some(h) = &mut c.hook {
                    for tp in &ps {
                        h.partitions.remove(tp);
                    }
                    if h.partitions.is_empty() {
                        c.hook = None;
                    }
                }
                c.lost.extend(ps);
                let _ = c.offsets.assign(now, c.group.assignment().cloned());
            }
            GroupEvent::Left(_) | GroupEvent::Failed(_) => {
                c.hook = None;
            }
            _ => {}
        }
        // A driver may send what the offset machine wants between two events: the
        // order of events must make that safe.
        pump_intents(c, now, out);
    }
    busy
}

/// Sends (or answers at once) everything the offset machine wants now, checking that no
/// commit carries a partition its sender gave up or does not own.
fn pump_intents(c: &mut Consumer, now: Instant, out: &mut Out) -> bool {
    let (slot, request_timeout) = (out.slot, out.request_timeout);
    let mut busy = false;
    while let Some(intent) = c.offsets.poll_intent(now) {
        busy = true;
        match intent {
            Intent::FindCoordinator { id } if !c.connected => {
                c.offsets.handle_request_failed(now, id)
            }
            Intent::FindCoordinator { id } => c.offsets.handle_coordinator_response(now, id, Ok(1)),
            Intent::CommitOffsets { id, offsets, .. } => {
                let owned: BTreeSet<&TopicPartition> = c.group.assignment().collect();
                for o in &offsets {
                    let tp = &o.topic_partition;
                    if !owned.contains(tp) {
                        out.violations
                            .push(format!("slot {slot} commits {tp}, which it does not own"));
                    }
                    if c.confirmed_revoked.contains(tp) || c.lost.contains(tp) {
                        out.violations
                            .push(format!("slot {slot} commits {tp} after giving it up"));
                    }
                }
                c.flights.insert(Key::Intent(id), now + request_timeout);
                out.outbox.push((
                    c.conn,
                    ToCoordinator::Commit {
                        id,
                        generation: c.group.generation(),
                        member_id: c.group.member_id().to_string(),
                        offsets: offsets
                            .iter()
                            .map(|o| (o.topic_partition.clone(), o.offset.offset))
                            .collect(),
                    },
                ));
            }
            Intent::FetchCommitted { id, partitions, .. } => {
                c.flights.insert(Key::Intent(id), now + request_timeout);
                out.outbox
                    .push((c.conn, ToCoordinator::Fetch { id, partitions }));
            }
            Intent::ListOffsets { id, partitions } => {
                let answers: Vec<_> = partitions
                    .into_iter()
                    .map(|(tp, spec)| {
                        let offset = match spec {
                            OffsetSpec::Earliest => 0,
                            _ => 1_000_000,
                        };
                        (
                            tp,
                            Ok(ListedOffset {
                                offset,
                                timestamp: -1,
                                leader_epoch: Some(0),
                            }),
                        )
                    })
                    .collect();
                c.offsets.handle_list_offsets_response(now, id, answers);
            }
            other => panic!("unexpected intent {other:?}"),
        }
    }
    busy
}

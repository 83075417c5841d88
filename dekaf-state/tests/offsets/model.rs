//! A state-machine property test: random operation sequences run against the offset machine
//! and against a small reference model of the offset rules, compared after every step, with
//! the invariants of the offset rules checked along the way.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use dekaf_proto::ErrorCode;
use dekaf_state::offset::{
    AckMode, CommitError, CommitId, CommitPolicy, Event, Intent, IntentId, ListedOffset,
    OffsetConfig, OffsetError, TopicPartitionOffset,
};
use proptest::prelude::*;

use crate::harness::{tp, Sim};

const PARTITIONS: usize = 3;
const CAP: usize = 8;

#[derive(Clone, Debug)]
enum Op {
    Deliver { p: usize, gap: i64, count: usize },
    Advance { p: usize, by: i64 },
    Release,
    Ack { p: usize, pick: usize },
    Commit,
    CommitOffsets { p: usize, back: i64 },
    Store { p: usize, back: i64 },
    Seek { p: usize, to: i64 },
    Respond(Response),
    GroupUnstable,
    GroupStable,
    Time { ms: u64 },
}

#[derive(Clone, Copy, Debug)]
enum Response {
    Ok,
    Retriable,
    Rebalance,
    /// The first partition is refused for good, the others committed.
    Fatal,
    Transport,
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PARTITIONS;
    prop_oneof![
        6 => (p.clone(), 0..3i64, 1..4usize).prop_map(|(p, gap, count)| Op::Deliver { p, gap, count }),
        1 => (p.clone(), 1..3i64).prop_map(|(p, by)| Op::Advance { p, by }),
        4 => Just(Op::Release),
        4 => (p.clone(), any::<usize>()).prop_map(|(p, pick)| Op::Ack { p, pick }),
        2 => Just(Op::Commit),
        1 => (p.clone(), 0..3i64).prop_map(|(p, back)| Op::CommitOffsets { p, back }),
        1 => (p.clone(), 0..3i64).prop_map(|(p, back)| Op::Store { p, back }),
        1 => (p.clone(), 0..30i64).prop_map(|(p, to)| Op::Seek { p, to }),
        4 => prop_oneof![
            4 => Just(Response::Ok),
            1 => Just(Response::Retriable),
            1 => Just(Response::Rebalance),
            1 => Just(Response::Fatal),
            1 => Just(Response::Transport),
        ]
        .prop_map(Op::Respond),
        1 => Just(Op::GroupUnstable),
        1 => Just(Op::GroupStable),
        3 => (1..1500u64).prop_map(|ms| Op::Time { ms }),
    ]
}

fn config() -> impl Strategy<Value = (AckMode, CommitPolicy)> {
    (
        prop_oneof![Just(AckMode::OnRelease), Just(AckMode::Explicit)],
        prop_oneof![
            Just(CommitPolicy::Explicit),
            Just(CommitPolicy::EveryRecord),
            Just(CommitPolicy::EveryNRecords(3)),
            Just(CommitPolicy::Interval(Duration::from_secs(1))),
        ],
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Rebalance,
    Partitions,
}

#[derive(Clone, Debug)]
struct MTicket {
    id: u64,
    parts: BTreeSet<usize>,
}

#[derive(Clone, Debug, Default)]
struct MBatch {
    offsets: BTreeMap<usize, i64>,
    tickets: Vec<MTicket>,
}

impl MBatch {
    fn absorb(&mut self, newer: MBatch) {
        self.offsets.extend(newer.offsets);
        self.tickets.extend(newer.tickets);
    }
}

#[derive(Clone, Debug, Default)]
struct MPart {
    position: i64,
    outstanding: BTreeSet<i64>,
    stored: Option<i64>,
    moved: bool,
    placed_at: i64,
    committed: Option<i64>,
    /// The largest offset ever stored or asked to commit.
    high: i64,
    /// A seek back, or an explicit offset the application chose outside the acknowledged
    /// range (below `high`, or beyond the committable offset), happened: the ordering
    /// invariants, which are about automatic stores, are off for this partition.
    jumped: bool,
}

/// The reference model: the offset rules written as plainly as possible.
struct Model {
    ack_mode: AckMode,
    policy: CommitPolicy,
    parts: Vec<MPart>,
    queued: Option<MBatch>,
    in_flight: Option<MBatch>,
    /// The group rebalanced while the batch in flight was on the way: it is never retried.
    in_flight_rebalanced: bool,
    stable: bool,
    acked: u64,
    next_commit: u64,
    next_auto: Option<std::time::Instant>,
    outcomes: BTreeMap<u64, Outcome>,
}

impl Model {
    fn outstanding(&self) -> usize {
        self.parts.iter().map(|p| p.outstanding.len()).sum()
    }

    fn committable(&self, p: usize) -> i64 {
        let part = &self.parts[p];
        part.outstanding.first().copied().unwrap_or(part.position)
    }

    fn set_stored(&mut self, p: usize, offset: i64) {
        let part = &mut self.parts[p];
        if offset < part.high {
            part.jumped = true;
        }
        part.high = part.high.max(offset);
        part.stored = Some(offset);
        part.moved = false;
    }

    fn refresh(&mut self, p: usize) {
        let c = self.committable(p);
        let part = &self.parts[p];
        if part.moved && c == part.placed_at {
            return;
        }
        let forward = part.stored.is_none_or(|s| c > s);
        let changed = part.stored != Some(c);
        if forward || (part.moved && changed) {
            self.set_stored(p, c);
        }
    }

    fn submit(&mut self, offsets: BTreeMap<usize, i64>) -> u64 {
        self.next_commit += 1;
        let id = self.next_commit;
        self.acked = 0;
        for (&p, &o) in &offsets {
            if o < self.parts[p].high {
                self.parts[p].jumped = true;
            }
            self.parts[p].high = self.parts[p].high.max(o);
        }
        if offsets.is_empty() {
            self.outcomes.insert(id, Outcome::Ok);
        } else if !self.stable {
            self.outcomes.insert(id, Outcome::Rebalance);
        } else {
            let ticket = MTicket {
                id,
                parts: offsets.keys().copied().collect(),
            };
            let batch = MBatch {
                offsets,
                tickets: vec![ticket],
            };
            match &mut self.queued {
                Some(q) => q.absorb(batch),
                None => self.queued = Some(batch),
            }
        }
        id
    }

    fn latest(&self, p: usize) -> Option<i64> {
        self.queued
            .as_ref()
            .and_then(|b| b.offsets.get(&p))
            .or_else(|| self.in_flight.as_ref().and_then(|b| b.offsets.get(&p)))
            .copied()
            .or(self.parts[p].committed)
    }

    fn auto_commit(&mut self) {
        if !self.stable {
            return;
        }
        let dirty: BTreeMap<usize, i64> = (0..PARTITIONS)
            .filter_map(|p| {
                let s = self.parts[p].stored?;
                (self.latest(p) != Some(s)).then_some((p, s))
            })
            .collect();
        if !dirty.is_empty() {
            self.submit(dirty);
        }
    }

    fn by_count(&mut self) {
        let every = match self.policy {
            CommitPolicy::EveryRecord => 1,
            CommitPolicy::EveryNRecords(n) => n,
            _ => return,
        };
        if self.acked >= every {
            self.auto_commit();
        }
    }

    fn release(&mut self) {
        if self.ack_mode != AckMode::OnRelease {
            return;
        }
        for p in 0..PARTITIONS {
            if !self.parts[p].outstanding.is_empty() {
                self.acked += self.parts[p].outstanding.len() as u64;
                self.parts[p].outstanding.clear();
                self.refresh(p);
            }
        }
        self.by_count();
    }

    fn unstable(&mut self) {
        self.stable = false;
        self.in_flight_rebalanced = true;
        if let Some(q) = self.queued.take() {
            for t in q.tickets {
                self.outcomes.insert(t.id, Outcome::Rebalance);
            }
        }
    }

    fn respond(&mut self, response: Response) {
        let Some(batch) = self.in_flight.take() else {
            return;
        };
        match response {
            Response::Ok | Response::Fatal => {
                let refused = match response {
                    Response::Fatal => batch.offsets.keys().next().copied(),
                    _ => None,
                };
                for (&p, &o) in &batch.offsets {
                    if Some(p) != refused {
                        self.parts[p].committed = Some(o);
                    }
                }
                for t in batch.tickets {
                    let failed = refused.is_some_and(|r| t.parts.contains(&r));
                    let outcome = if failed {
                        Outcome::Partitions
                    } else {
                        Outcome::Ok
                    };
                    self.outcomes.insert(t.id, outcome);
                }
            }
            Response::Retriable | Response::Transport => {
                if batch.tickets.is_empty() {
                    return;
                }
                if self.in_flight_rebalanced || !self.stable {
                    for t in batch.tickets {
                        self.outcomes.insert(t.id, Outcome::Rebalance);
                    }
                    return;
                }
                let mut retry = batch;
                if let Some(newer) = self.queued.take() {
                    retry.absorb(newer);
                }
                self.queued = Some(retry);
            }
            Response::Rebalance => {
                for t in batch.tickets {
                    self.outcomes.insert(t.id, Outcome::Rebalance);
                }
                self.unstable();
            }
        }
    }
}

fn outcome_of(result: &Result<(), CommitError>) -> Outcome {
    match result {
        Ok(()) => Outcome::Ok,
        Err(CommitError::Rebalance(_)) => Outcome::Rebalance,
        Err(CommitError::Partitions(_)) => Outcome::Partitions,
        Err(e) => panic!("unexpected commit error {e:?}"),
    }
}

/// The machine, the model, and what the driver has in flight.
struct World {
    sim: Sim,
    model: Model,
    in_flight: Option<(IntentId, Vec<(usize, i64)>)>,
    finished: BTreeSet<u64>,
    committed_before: Vec<Option<i64>>,
}

impl World {
    fn new(ack_mode: AckMode, policy: CommitPolicy) -> Self {
        let config = OffsetConfig::default()
            .with_group_id("g")
            .with_ack_mode(ack_mode)
            .with_commit_policy(policy)
            .with_max_outstanding(CAP)
            .with_commit_timeout(Duration::from_secs(3600))
            .with_auto_offset_reset(dekaf_state::offset::AutoOffsetReset::Earliest);
        let mut sim = Sim::new(config);
        sim.m
            .assign(sim.now, (0..PARTITIONS as i32).map(tp))
            .unwrap();
        // Start: no committed offsets, log start 0.
        for _ in 0..3 {
            for intent in sim.intents() {
                match intent {
                    Intent::FindCoordinator { id } => {
                        sim.m.handle_coordinator_response(sim.now, id, Ok(1))
                    }
                    Intent::FetchCommitted { id, partitions, .. } => {
                        sim.m.handle_committed_response(
                            sim.now,
                            id,
                            Ok(partitions.into_iter().map(|p| (p, Ok(None))).collect()),
                        )
                    }
                    Intent::ListOffsets { id, partitions } => sim.m.handle_list_offsets_response(
                        sim.now,
                        id,
                        partitions.into_iter().map(|(p, _)| {
                            (
                                p,
                                Ok(ListedOffset {
                                    offset: 0,
                                    timestamp: -1,
                                    leader_epoch: None,
                                }),
                            )
                        }),
                    ),
                    other => panic!("{other:?}"),
                }
            }
        }
        let next_auto = match policy {
            CommitPolicy::Interval(every) => Some(sim.now + every),
            _ => None,
        };
        let model = Model {
            ack_mode,
            policy,
            parts: (0..PARTITIONS)
                .map(|_| MPart {
                    moved: true,
                    ..MPart::default()
                })
                .collect(),
            queued: None,
            in_flight: None,
            in_flight_rebalanced: false,
            stable: true,
            acked: 0,
            next_commit: 0,
            next_auto,
            outcomes: BTreeMap::new(),
        };
        World {
            sim,
            model,
            in_flight: None,
            finished: BTreeSet::new(),
            committed_before: vec![None; PARTITIONS],
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let now = self.sim.now;
        let m = &mut self.sim.m;
        let model = &mut self.model;
        match *op {
            Op::Deliver { p, gap, count } => {
                let epoch = m.fetch_epoch(&tp(p as i32)).unwrap();
                let mut offset = model.parts[p].position + gap;
                for _ in 0..count {
                    let result = m.deliver(now, &tp(p as i32), epoch, offset, None);
                    if model.outstanding() >= CAP {
                        prop_assert_eq!(result, Err(OffsetError::Backpressure { limit: CAP }));
                        break;
                    }
                    prop_assert_eq!(result, Ok(()));
                    model.parts[p].outstanding.insert(offset);
                    model.parts[p].position = offset + 1;
                    offset += 1 + gap;
                }
            }
            Op::Advance { p, by } => {
                let epoch = m.fetch_epoch(&tp(p as i32)).unwrap();
                let next = model.parts[p].position + by;
                m.advance(now, &tp(p as i32), epoch, next).unwrap();
                model.parts[p].position = next;
                model.refresh(p);
                model.by_count();
            }
            Op::Release => {
                m.release(now);
                model.release();
            }
            Op::Ack { p, pick } => {
                let part = &model.parts[p];
                if part.outstanding.is_empty() {
                    let result = m.ack(now, &tp(p as i32), part.position);
                    let refused = matches!(result, Err(OffsetError::NotOutstanding { .. }));
                    prop_assert!(refused, "ack of nothing: {:?}", result);
                } else {
                    let offset = *part
                        .outstanding
                        .iter()
                        .nth(pick % part.outstanding.len())
                        .unwrap();
                    m.ack(now, &tp(p as i32), offset).unwrap();
                    model.parts[p].outstanding.remove(&offset);
                    model.acked += 1;
                    model.refresh(p);
                    model.by_count();
                }
            }
            Op::Commit => {
                let id = m.commit(now).unwrap();
                model.release();
                let mut offsets = BTreeMap::new();
                for p in 0..PARTITIONS {
                    let c = model.committable(p);
                    model.set_stored(p, c);
                    offsets.insert(p, c);
                }
                prop_assert_eq!(id.get(), model.submit(offsets));
            }
            Op::CommitOffsets { p, back } => {
                let offset = (model.parts[p].position - back).max(0);
                if offset > model.committable(p) {
                    model.parts[p].jumped = true;
                }
                let id = m
                    .commit_offsets(now, [TopicPartitionOffset::at(tp(p as i32), offset)])
                    .unwrap();
                model.set_stored(p, offset);
                prop_assert_eq!(id.get(), model.submit(BTreeMap::from([(p, offset)])));
            }
            Op::Store { p, back } => {
                let offset = (model.parts[p].position - back).max(0);
                if offset > model.committable(p) {
                    model.parts[p].jumped = true;
                }
                m.store_offsets(now, [TopicPartitionOffset::at(tp(p as i32), offset)])
                    .unwrap();
                model.set_stored(p, offset);
                model.acked += 1;
                model.by_count();
            }
            Op::Seek { p, to } => {
                m.seek(now, TopicPartitionOffset::at(tp(p as i32), to))
                    .unwrap();
                let part = &mut model.parts[p];
                if to < part.high {
                    part.jumped = true;
                }
                part.position = to;
                part.outstanding.clear();
                part.moved = true;
                part.placed_at = to;
            }
            Op::Respond(response) => {
                if let Some((id, offsets)) = self.in_flight.take() {
                    match response {
                        Response::Transport => m.handle_request_failed(now, id),
                        _ => {
                            let codes = offsets.iter().enumerate().map(|(i, &(p, _))| {
                                let code = match response {
                                    Response::Ok => ErrorCode::NONE,
                                    Response::Retriable => ErrorCode::REQUEST_TIMED_OUT,
                                    Response::Rebalance => ErrorCode::ILLEGAL_GENERATION,
                                    Response::Fatal if i == 0 => {
                                        ErrorCode::OFFSET_METADATA_TOO_LARGE
                                    }
                                    _ => ErrorCode::NONE,
                                };
                                (tp(p as i32), code)
                            });
                            m.handle_commit_response(now, id, codes);
                        }
                    }
                    model.respond(response);
                }
            }
            Op::GroupUnstable => {
                m.handle_group_unstable(now);
                model.unstable();
            }
            Op::GroupStable => {
                m.handle_group_stable(now);
                model.stable = true;
                if model.policy != CommitPolicy::Explicit {
                    model.auto_commit();
                }
            }
            Op::Time { ms } => {
                let until = now + Duration::from_millis(ms);
                self.sim.advance(Duration::from_millis(ms));
                if let CommitPolicy::Interval(every) = model.policy {
                    while let Some(t) = model.next_auto.filter(|t| *t <= until) {
                        model.auto_commit();
                        model.next_auto = Some(t + every);
                    }
                }
            }
        }
        self.drain()?;
        self.check()
    }

    /// Carries out intents: the coordinator is found at once; a commit goes in flight.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        loop {
            let intents = self.sim.intents();
            if intents.is_empty() {
                return Ok(());
            }
            for intent in intents {
                match intent {
                    Intent::FindCoordinator { id } => {
                        self.sim
                            .m
                            .handle_coordinator_response(self.sim.now, id, Ok(1))
                    }
                    Intent::CommitOffsets {
                        id,
                        offsets,
                        commits,
                    } => {
                        prop_assert!(self.in_flight.is_none(), "two commits in flight");
                        let sent: Vec<(usize, i64)> = offsets
                            .iter()
                            .map(|o| (o.topic_partition.partition() as usize, o.offset.offset))
                            .collect();
                        let queued = self.model.queued.take();
                        prop_assert!(queued.is_some(), "a commit the model did not queue");
                        let queued = queued.unwrap();
                        let expected: Vec<(usize, i64)> =
                            queued.offsets.iter().map(|(&p, &o)| (p, o)).collect();
                        prop_assert_eq!(&sent, &expected, "newer offsets win");
                        let ids: Vec<u64> = commits.iter().map(|c: &CommitId| c.get()).collect();
                        let model_ids: Vec<u64> = queued.tickets.iter().map(|t| t.id).collect();
                        prop_assert_eq!(ids, model_ids);
                        self.model.in_flight = Some(queued);
                        self.model.in_flight_rebalanced = false;
                        self.in_flight = Some((id, sent));
                    }
                    other => prop_assert!(false, "unexpected intent {:?}", other),
                }
            }
        }
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        for event in self.sim.take_events() {
            if let Event::CommitFinished { id, result, .. } = event {
                prop_assert!(self.finished.insert(id.get()), "{} finished twice", id);
                let expected = self.model.outcomes.get(&id.get()).copied();
                prop_assert_eq!(Some(outcome_of(&result)), expected, "outcome of {}", id);
            }
        }
        let expected_finished: BTreeSet<u64> = self.model.outcomes.keys().copied().collect();
        prop_assert_eq!(&self.finished, &expected_finished);
        prop_assert_eq!(self.sim.m.outstanding(), self.model.outstanding());
        prop_assert_eq!(
            self.sim.m.has_pending_commits(),
            self.model.queued.is_some() || self.model.in_flight.is_some()
        );
        for p in 0..PARTITIONS {
            let part = &self.model.parts[p];
            let tp = tp(p as i32);
            prop_assert_eq!(
                self.sim.m.position(&tp).map(|x| x.offset),
                Some(part.position)
            );
            prop_assert_eq!(self.sim.m.stored(&tp).map(|x| x.offset), part.stored);
            prop_assert_eq!(self.sim.m.committed(&tp).map(|x| x.offset), part.committed);
            for o in &part.outstanding {
                prop_assert!(self.sim.m.is_outstanding(&tp, *o));
            }
            // The invariants of the offset rules, for partitions that saw no seek back and no
            // explicit offset below one already stored.
            if !part.jumped {
                let (c, s) = (part.committed, part.stored);
                if let (Some(c), Some(s)) = (c, s) {
                    prop_assert!(c <= s, "committed {} > stored {} on {}", c, s, p);
                }
                if let Some(s) = s {
                    prop_assert!(s <= part.position, "stored {} > position on {}", s, p);
                    // Nothing stored before it was handed out and acknowledged.
                    prop_assert!(part.outstanding.iter().all(|&o| o >= s));
                }
                if let (Some(before), Some(now)) = (self.committed_before[p], c) {
                    prop_assert!(now >= before, "committed went back on {}", p);
                }
            }
            self.committed_before[p] = part.committed;
        }
        Ok(())
    }

    /// Lets every commit finish: the group settles and the coordinator answers everything.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        self.apply(&Op::GroupStable)?;
        for _ in 0..100 {
            if self.in_flight.is_none() && !self.sim.m.has_pending_commits() {
                break;
            }
            self.apply(&Op::Respond(Response::Ok))?;
            self.apply(&Op::Time { ms: 500 })?;
        }
        prop_assert!(!self.sim.m.has_pending_commits(), "commits never finished");
        for id in 1..=self.model.next_commit {
            prop_assert!(self.finished.contains(&id), "commit {} never finished", id);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_offset_machine_follows_the_reference_model(
        (ack_mode, policy) in config(),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mut world = World::new(ack_mode, policy);
        world.check()?;
        for op in &ops {
            world.apply(op)?;
        }
        world.finish()?;
    }
}

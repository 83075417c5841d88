//! Virtual time and a tiny in-memory cluster for driving the offset machine.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dekaf_proto::ErrorCode;
use dekaf_state::offset::{
    CommitId, CommittedResult, Event, FetchedPartition, Intent, ListedOffset, OffsetAndMetadata,
    OffsetConfig, OffsetManager, OffsetSpec, TopicPartition,
};

#[allow(clippy::disallowed_methods)] // one base instant; every other time is an offset from it
pub fn base() -> Instant {
    Instant::now()
}

/// Partition `p` of "my-topic".
pub fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("my-topic", p)
}

/// The offset machine, a virtual clock and the events seen so far.
pub struct Sim {
    pub m: OffsetManager,
    pub now: Instant,
    pub events: Vec<Event>,
}

impl Sim {
    pub fn new(config: OffsetConfig) -> Self {
        Sim {
            m: OffsetManager::new(config, 7),
            now: base(),
            events: Vec::new(),
        }
    }

    /// A consumer of "my-group".
    pub fn group(config: OffsetConfig) -> Self {
        Sim::new(config.with_group_id("my-group"))
    }

    /// Moves the clock forward, firing every timeout on the way at its own time.
    pub fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        let mut fired = 0;
        while let Some(t) = self.m.poll_timeout().filter(|t| *t <= until) {
            self.now = self.now.max(t);
            self.m.handle_timeout(self.now);
            self.collect();
            fired += 1;
            assert!(
                fired < 10_000,
                "poll_timeout keeps returning a time already handled"
            );
        }
        self.now = until;
    }

    /// Drains the intents due now.
    pub fn intents(&mut self) -> Vec<Intent> {
        let mut out = Vec::new();
        while let Some(i) = self.m.poll_intent(self.now) {
            out.push(i);
            assert!(out.len() < 1000, "intents never stop");
        }
        self.collect();
        out
    }

    /// Moves new events into `self.events`.
    pub fn collect(&mut self) {
        while let Some(e) = self.m.poll_event() {
            self.events.push(e);
        }
    }

    /// Takes the events seen so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.collect();
        std::mem::take(&mut self.events)
    }

    /// The outcome of commit `id`, if it finished (and checks it finished only once).
    pub fn commit_result(
        &mut self,
        id: CommitId,
    ) -> Option<Result<(), dekaf_state::offset::CommitError>> {
        self.collect();
        let mut found: Vec<_> = self
            .events
            .iter()
            .filter_map(|e| match e {
                Event::CommitFinished { id: i, result, .. } if *i == id => Some(result.clone()),
                _ => None,
            })
            .collect();
        assert!(found.len() <= 1, "{id} finished {} times", found.len());
        found.pop()
    }

    /// Hands out `offsets` of `tp` from the current fetch epoch, leader epoch 0.
    pub fn deliver(&mut self, tp: &TopicPartition, offsets: impl IntoIterator<Item = i64>) {
        let epoch = self.m.fetch_epoch(tp).expect("assigned");
        for o in offsets {
            self.m
                .deliver(self.now, tp, epoch, o, Some(0))
                .expect("deliver");
        }
    }

    pub fn position(&self, p: i32) -> Option<i64> {
        self.m.position(&tp(p)).map(|p| p.offset)
    }

    pub fn stored(&self, p: i32) -> Option<i64> {
        self.m.stored(&tp(p)).map(|o| o.offset)
    }

    pub fn committed(&self, p: i32) -> Option<i64> {
        self.m.committed(&tp(p)).map(|o| o.offset)
    }

    /// Answers every intent from `cluster` until none is due.
    pub fn serve(&mut self, cluster: &mut Cluster) -> Vec<Intent> {
        let mut served = Vec::new();
        loop {
            let intents = self.intents();
            if intents.is_empty() {
                break;
            }
            for intent in intents {
                cluster.answer(self, &intent);
                served.push(intent);
            }
            self.collect();
        }
        served
    }
}

/// A cluster where every partition holds offsets `log_start..log_end`, the record at offset
/// `o` has timestamp `o * 1000`, and the coordinator is broker 1.
pub struct Cluster {
    pub committed: BTreeMap<TopicPartition, OffsetAndMetadata>,
    pub log_start: i64,
    pub log_end: i64,
    pub commits: Vec<BTreeMap<TopicPartition, OffsetAndMetadata>>,
}

impl Cluster {
    pub fn new(log_start: i64, log_end: i64) -> Self {
        Cluster {
            committed: BTreeMap::new(),
            log_start,
            log_end,
            commits: Vec::new(),
        }
    }

    pub fn list(&self, spec: OffsetSpec) -> ListedOffset {
        let (offset, timestamp) = match spec {
            OffsetSpec::Earliest => (self.log_start, -1),
            OffsetSpec::Latest => (self.log_end, -1),
            OffsetSpec::Timestamp(ts) => {
                let o = (ts + 999) / 1000;
                let o = o.max(self.log_start);
                if o < self.log_end {
                    (o, o * 1000)
                } else {
                    (-1, -1)
                }
            }
        };
        ListedOffset {
            offset,
            timestamp,
            leader_epoch: Some(0),
        }
    }

    pub fn answer(&mut self, sim: &mut Sim, intent: &Intent) {
        let now = sim.now;
        match intent {
            Intent::FindCoordinator { id } => sim.m.handle_coordinator_response(now, *id, Ok(1)),
            Intent::CommitOffsets { id, offsets, .. } => {
                let mut commit = BTreeMap::new();
                for o in offsets {
                    self.committed
                        .insert(o.topic_partition.clone(), o.offset.clone());
                    commit.insert(o.topic_partition.clone(), o.offset.clone());
                }
                self.commits.push(commit);
                sim.m.handle_commit_response(
                    now,
                    *id,
                    offsets
                        .iter()
                        .map(|o| (o.topic_partition.clone(), ErrorCode::NONE)),
                );
            }
            Intent::FetchCommitted { id, partitions, .. } => {
                let answers: Vec<(TopicPartition, CommittedResult)> = partitions
                    .iter()
                    .map(|tp| (tp.clone(), Ok(self.committed.get(tp).cloned())))
                    .collect();
                sim.m.handle_committed_response(now, *id, Ok(answers));
            }
            Intent::ListOffsets { id, partitions } => {
                let answers: Vec<_> = partitions
                    .iter()
                    .map(|(tp, spec)| (tp.clone(), Ok(self.list(*spec))))
                    .collect();
                sim.m.handle_list_offsets_response(now, *id, answers);
            }
            other => panic!("unexpected intent {other:?}"),
        }
    }
}

/// A fetch response with data up to `next_offset`.
pub fn fetched(next_offset: i64, high_watermark: i64) -> FetchedPartition {
    FetchedPartition {
        next_offset: Some(next_offset),
        leader_epoch: Some(0),
        high_watermark,
        last_stable_offset: Some(high_watermark),
        log_start_offset: Some(0),
    }
}

/// Offsets of a commit intent, by partition index.
pub fn commit_offsets(intent: &Intent) -> Vec<(i32, i64)> {
    match intent {
        Intent::CommitOffsets { offsets, .. } => offsets
            .iter()
            .map(|o| (o.topic_partition.partition(), o.offset.offset))
            .collect(),
        other => panic!("not a commit: {other:?}"),
    }
}

/// The only commit intent among `intents`.
pub fn the_commit(intents: &[Intent]) -> &Intent {
    let commits: Vec<_> = intents
        .iter()
        .filter(|i| matches!(i, Intent::CommitOffsets { .. }))
        .collect();
    assert_eq!(commits.len(), 1, "{intents:?}");
    commits[0]
}

/// A consumer of "my-group" assigned partitions `ps`, all starting at their committed offsets
/// in `cluster` (or the log start).
pub fn started(config: OffsetConfig, cluster: &mut Cluster, ps: &[i32]) -> Sim {
    let mut sim =
        Sim::group(config.with_auto_offset_reset(dekaf_state::offset::AutoOffsetReset::Earliest));
    sim.m
        .assign(sim.now, ps.iter().map(|&p| tp(p)))
        .expect("assign");
    sim.serve(cluster);
    for &p in ps {
        assert!(sim.position(p).is_some(), "partition {p} has no position");
    }
    sim
}

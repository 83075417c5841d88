//! The consumer: its state, getters and commands. Inputs and outputs are in `io.rs`, the fetch
//! path in `fetch.rs`, offset listings and watermark queries in `lists.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Bound;
use std::time::Instant;

use crate::client::{BrokerAddress, BrokerId, Outgoing, RequestId};
use crate::group::GroupMembership;
use crate::offset::{
    CommitId, IntentId, OffsetAndMetadata, OffsetError, OffsetManager, OffsetSpec, QueryId, Rng,
    TopicPartition, TopicPartitionOffset, TopicPartitionTimestamp,
};

use super::buffer::{PartitionBuffer, TakeError};

/// How many records in a row a partition may hand out before the next partition's turn, when
/// records are taken a few at a time (a larger take hands out up to all it asks for).
const TURN_RECORDS: usize = 16;
use super::config::{ConsumerConfig, IsolationLevel};
use super::event::{ConsumerEvent, FetchError, MetadataProblem, WatermarksId};
use super::fetch::FetchPart;
use super::group::Revocation;
use super::lists::{ListJob, WatermarkQuery};
use super::metadata::Metadata;
use super::record::{ConsumerRecord, Watermarks};
use super::requests::ListPart;

/// Who this consumer is in its group, as OffsetCommit carries it. A consumer with an
/// assignment of its own (no group membership) commits with the defaults: generation -1, an
/// empty member id and no instance id, which the coordinator accepts from a group with no
/// members. The group machine sets the real values after each join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupGeneration {
    /// The generation (classic protocol) or member epoch (consumer protocol); -1 for none.
    pub generation_id: i32,
    /// The member id the coordinator gave; empty for none.
    pub member_id: String,
    /// The static member's instance id, if any (OffsetCommit v7+).
    pub group_instance_id: Option<String>,
}

impl Default for GroupGeneration {
    fn default() -> Self {
        GroupGeneration {
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// A retry schedule: not before a time, with a count of failures so far.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Retry {
    pub(crate) not_before: Option<Instant>,
    pub(crate) attempt: u32,
}

/// A request in flight, by what its answer feeds.
#[derive(Debug)]
pub(crate) enum Pending {
    Metadata {
        topics: Vec<String>,
        /// Every topic was asked for (a pattern is subscribed).
        all: bool,
    },
    /// A request of the group machine, under its own id.
    Group {
        id: RequestId,
    },
    FindCoordinator {
        intent: IntentId,
        group: String,
    },
    Commit {
        intent: IntentId,
    },
    Committed {
        intent: IntentId,
        group: String,
    },
    List {
        job: ListJob,
        parts: Vec<ListPart>,
    },
    Fetch {
        broker: BrokerId,
        parts: Vec<FetchPart>,
    },
    Validate {
        parts: Vec<super::validate::ValidatePart>,
    },
}

/// A Kafka consumer as a sans-IO state machine: it fetches the partitions it is given, hands
/// their records out in order, and keeps their offsets with an
/// [`OffsetManager`](crate::offset::OffsetManager) — positions, stored and committed offsets,
/// commits, seeks and resets. It reads no clock and opens no socket: a driver carries its
/// [`Outgoing`] requests to brokers (choosing each request's version from what the broker
/// supports) and feeds the answers back with the time.
///
/// See the [module documentation](super) for the driver loop, the fetch path and the
/// choices made where Kafka leaves room.
///
/// # Getters
/// [`position`](Self::position), [`committed`](Self::committed),
/// [`assignment`](Self::assignment), [`paused`](Self::paused),
/// [`watermarks`](Self::watermarks), [`lag`](Self::lag),
/// [`buffered_bytes`](Self::buffered_bytes), [`buffered_records`](Self::buffered_records),
/// [`generation`](Self::generation), [`coordinator`](Self::coordinator),
/// [`leader`](Self::leader), [`topic_partitions`](Self::topic_partitions),
/// [`is_closed`](Self::is_closed), [`is_close_complete`](Self::is_close_complete),
/// [`config`](Self::config), and the whole offset machine through [`offsets`](Self::offsets)
/// (fetch position, stored offset, commit in flight, last stable offset, ...).
///
/// # Commands (from the application)
/// [`assign`](Self::assign); records: [`poll_records`](Self::poll_records),
/// [`next_record`](Self::next_record), [`ack`](Self::ack); storing: [`store`](Self::store),
/// [`store_offsets`](Self::store_offsets); committing: [`commit`](Self::commit) (all
/// consumed), [`commit_offsets`](Self::commit_offsets) (exactly these); seeking:
/// [`seek`](Self::seek), [`seek_to_beginning`](Self::seek_to_beginning),
/// [`seek_to_end`](Self::seek_to_end), [`seek_to_timestamp`](Self::seek_to_timestamp);
/// queries answered by events: [`fetch_committed`](Self::fetch_committed),
/// [`offsets_for_times`](Self::offsets_for_times), [`query_watermarks`](Self::query_watermarks);
/// [`pause`](Self::pause), [`resume`](Self::resume), [`close`](Self::close).
///
/// # Commands (from the group machine)
/// [`set_generation`](Self::set_generation), [`assign`](Self::assign),
/// [`revoke`](Self::revoke), [`handle_group_unstable`](Self::handle_group_unstable),
/// [`handle_group_stable`](Self::handle_group_stable).
///
/// # Inputs (from the driver, through [`ClientMachine`](crate::client::ClientMachine))
/// `handle_response`, `handle_disconnected`, `handle_timeout`.
///
/// # Outputs, and the order a driver polls them
/// After every input or command (including taking records, which frees buffer space) the
/// driver:
/// 1. drains `poll_request` (trait [`ClientMachine`](crate::client::ClientMachine)), sending
///    each request to its destination — [`Destination::Broker`](crate::client::Destination)
///    addresses come from `broker_address` — and later passing its id back to
///    `handle_response` exactly once;
/// 2. drains [`poll_event`](Self::poll_event);
/// 3. arms its one timer at `poll_timeout` and calls `handle_timeout` when it fires.
///
/// The application takes records with [`poll_records`](Self::poll_records) or
/// [`next_record`](Self::next_record) whenever it wants; an empty answer means nothing is
/// buffered (or the outstanding cap is reached).
///
/// ```no_run
/// use std::time::Instant;
/// use dekaf_state::client::{ClientMachine, Outgoing, RequestFailed, RequestId, Response};
/// use dekaf_state::consumer::{Consumer, ConsumerConfig, ConsumerEvent};
/// use dekaf_state::offset::{Event, OffsetCommitMode, TopicPartition};
///
/// /// Sends one request (connect if needed, negotiate the version, write `request.body(v)`).
/// fn send(_out: Outgoing) {}
/// /// Waits until an answer arrives or `deadline` passes.
/// fn wait(_deadline: Option<Instant>) -> Option<(RequestId, Result<Response, RequestFailed>)> {
///     None
/// }
///
/// let mut consumer = Consumer::new(
///     ConsumerConfig::new()
///         .with_group_id("my-group")
///         .with_commit_mode(OffsetCommitMode::Manual),
/// );
/// consumer.assign(Instant::now(), [TopicPartition::new("my-topic", 0)])?;
/// loop {
///     let now = Instant::now();
///     if consumer.poll_timeout().is_some_and(|t| t <= now) {
///         consumer.handle_timeout(now);
///     }
///     for record in consumer.poll_records(now, 500) {
///         println!("{}@{}: {:?}", record.topic_partition, record.offset, record.value);
///     }
///     consumer.commit(now)?;
///     while let Some(out) = consumer.poll_request(now) {
///         send(out);
///     }
///     while let Some(event) = consumer.poll_event() {
///         if let ConsumerEvent::Offset(Event::CommitFinished { result: Err(e), .. }) = event {
///             eprintln!("commit failed: {e}");
///         }
///     }
///     if let Some((id, result)) = wait(consumer.poll_timeout()) {
///         consumer.handle_response(Instant::now(), id, result);
///     }
/// }
/// # Ok::<(), dekaf_state::offset::OffsetError>(())
/// ```
#[derive(Debug)]
pub struct Consumer {
    pub(crate) config: ConsumerConfig,
    pub(crate) offsets: OffsetManager,
    pub(crate) rng: Rng,
    pub(crate) metadata: Metadata,
    pub(crate) generation: GroupGeneration,
    /// The coordinator's address as FindCoordinator gave it.
    pub(crate) coordinator_address: Option<(BrokerId, BrokerAddress)>,
    pub(crate) buffers: BTreeMap<TopicPartition, PartitionBuffer>,
    pub(crate) buffered_bytes: usize,
    /// Partitions not fetched again before a time (after an error).
    pub(crate) backoffs: BTreeMap<TopicPartition, Retry>,
    /// The one fetch in flight per leader.
    pub(crate) fetch_in_flight: BTreeMap<BrokerId, RequestId>,
    /// Partitions in a fetch in flight.
    pub(crate) fetching: BTreeSet<TopicPartition>,
    pub(crate) pending: HashMap<RequestId, Pending>,
    pub(crate) outbox: VecDeque<Outgoing>,
    pub(crate) next_request: u64,
    pub(crate) events: VecDeque<ConsumerEvent>,
    /// Metadata problems reported and not yet cleared.
    pub(crate) problems: HashSet<MetadataProblem>,
    /// Topics of partitions the application queried without having them assigned.
    pub(crate) extra_topics: BTreeSet<String>,
    /// Offset listings of the offset machine waiting for a metadata answer.
    pub(crate) deferred: Vec<(IntentId, Vec<(TopicPartition, OffsetSpec)>)>,
    pub(crate) watermark_queries: BTreeMap<WatermarksId, WatermarkQuery>,
    pub(crate) next_watermarks: u64,
    /// Watermarks learned from watermark queries.
    pub(crate) watermark_cache: BTreeMap<TopicPartition, Watermarks>,
    /// The partition `poll_records` served last; the next call starts with it while its turn
    /// lasts, else after it.
    pub(crate) rotation: Option<TopicPartition>,
    /// Records `rotation` handed out in a row, 0 if it gave none when last visited.
    pub(crate) turn: usize,
    /// Something may have moved a position: check buffers before the next fetch.
    pub(crate) needs_purge: bool,
    /// Taking records may have made a fetch due (see [`take_fetch_due`](Self::take_fetch_due)).
    pub(crate) fetch_due: bool,
    /// How large fetch answers are: the largest recent one (record bytes), decaying slowly
    /// (answers covering one partition of several are smaller). Sets how much is fetched ahead.
    pub(crate) answer_bytes_estimate: usize,
    /// The leader and leader epoch each assigned partition was last seen with in metadata:
    /// a change sends its position to validation.
    pub(crate) seen_leaders: BTreeMap<TopicPartition, (BrokerId, i32)>,
    /// The replica each partition is read from instead of its leader, as a leader named it
    /// (KIP-392), until when: after that the leader is asked again.
    pub(crate) read_replicas: BTreeMap<TopicPartition, (BrokerId, Instant)>,
    /// The group membership, once the application subscribed.
    pub(crate) group: Option<GroupMembership>,
    /// A revocation the application was told about and that is not finished.
    pub(crate) revocation: Option<Revocation>,
    /// The partitions of the offset machine the group handed out (the others were assigned
    /// by hand): group events change only these.
    pub(crate) group_assigned: BTreeSet<TopicPartition>,
    /// The group machine's coordinator when last looked at (to notice it forgetting it).
    pub(crate) group_coordinator: Option<BrokerId>,
    /// Topics metadata flagged internal (patterns never match them).
    pub(crate) internal_topics: BTreeSet<String>,
    /// Whether the last metadata answer covered every topic.
    pub(crate) metadata_all: bool,
    /// What was fetched and handed out, and the group's rebalances.
    pub(crate) stats: ConsumerStats,
}

/// What a consumer machine fetched and handed out, and what its group did (see
/// [`Consumer::stats`]).
#[derive(Clone, Debug, Default)]
pub struct ConsumerStats {
    /// Per partition ever fetched: the offsets and bytes fetched, with their rates.
    pub fetched: BTreeMap<TopicPartition, FetchStats>,
    /// Records handed out to the application.
    pub records_handed_out: u64,
    /// Rebalances completed (the first join included).
    pub rebalances: u64,
    /// How long the last rebalance took, from the group going unstable (or the subscription)
    /// until it was stable again.
    pub last_rebalance: Option<std::time::Duration>,
    /// All rebalances together.
    pub rebalance_time: std::time::Duration,
    /// When the rebalance under way started.
    pub(crate) rebalance_started: Option<Instant>,
}

/// What was fetched of one partition.
#[derive(Clone, Debug, Default)]
pub struct FetchStats {
    /// Offsets fetched (records, and the markers of transactions).
    pub records: crate::metrics::Rate,
    /// Record-batch bytes fetched.
    pub bytes: crate::metrics::Rate,
}

impl Consumer {
    /// A consumer with nothing assigned.
    pub fn new(config: ConsumerConfig) -> Self {
        let offsets = OffsetManager::new(config.offsets.clone(), config.seed);
        let rng = Rng::new(config.seed ^ 0x5DEE_CE66_D1CE_4E5B);
        Consumer {
            config,
            offsets,
            rng,
            metadata: Metadata::default(),
            generation: GroupGeneration::default(),
            coordinator_address: None,
            buffers: BTreeMap::new(),
            buffered_bytes: 0,
            backoffs: BTreeMap::new(),
            fetch_in_flight: BTreeMap::new(),
            fetching: BTreeSet::new(),
            pending: HashMap::new(),
            outbox: VecDeque::new(),
            next_request: 0,
            events: VecDeque::new(),
            problems: HashSet::new(),
            seen_leaders: BTreeMap::new(),
            read_replicas: BTreeMap::new(),
            extra_topics: BTreeSet::new(),
            deferred: Vec::new(),
            watermark_queries: BTreeMap::new(),
            next_watermarks: 0,
            watermark_cache: BTreeMap::new(),
            rotation: None,
            turn: 0,
            needs_purge: false,
            fetch_due: false,
            answer_bytes_estimate: 0,
            group: None,
            revocation: None,
            group_assigned: BTreeSet::new(),
            group_coordinator: None,
            internal_topics: BTreeSet::new(),
            metadata_all: false,
            stats: ConsumerStats::default(),
        }
    }

    // ----- getters -----

    /// What was fetched and handed out so far, and the group's rebalances.
    pub fn stats(&self) -> &ConsumerStats {
        &self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// The offset machine, for every offset getter (fetch position, stored offset, commit in
    /// flight, last stable offset, position state, outstanding records, ...).
    pub fn offsets(&self) -> &OffsetManager {
        &self.offsets
    }

    /// The next offset to hand to the application (Kafka's `position()`); None while the
    /// partition has no position yet (or is not assigned).
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.offsets.position(tp).map(|p| p.offset)
    }

    /// The last committed offset known for `tp` (from a commit or a lookup); local, see
    /// [`fetch_committed`](Self::fetch_committed) to ask the coordinator.
    pub fn committed(&self, tp: &TopicPartition) -> Option<&OffsetAndMetadata> {
        self.offsets.committed(tp)
    }

    /// The assigned partitions, in order.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.offsets.assignment().cloned().collect()
    }

    /// The paused partitions, in order.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.offsets
            .assignment()
            .filter(|tp| self.offsets.is_paused(tp))
            .cloned()
            .collect()
    }

    /// The low and high watermarks last seen for `tp`: from fetch answers for assigned
    /// partitions, else from [`query_watermarks`](Self::query_watermarks).
    pub fn watermarks(&self, tp: &TopicPartition) -> Watermarks {
        let cached = self.watermark_cache.get(tp).copied().unwrap_or_default();
        Watermarks {
            low: self.offsets.log_start_offset(tp).or(cached.low),
            high: self.offsets.high_watermark(tp).or(cached.high),
        }
    }

    /// How far the position of `tp` is behind the end of the log: the high watermark (the
    /// last stable offset under read_committed) minus the position, from the last fetch
    /// answer. None until both are known.
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        let end = match self.config.isolation_level {
            IsolationLevel::ReadCommitted => self
                .offsets
                .last_stable_offset(tp)
                .or_else(|| self.offsets.high_watermark(tp)),
            IsolationLevel::ReadUncommitted => self.offsets.high_watermark(tp),
        }?;
        let position = self.position(tp)?;
        Some(end.saturating_sub(position).max(0))
    }

    /// Bytes of fetched data buffered and not yet handed out.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered_bytes
    }

    /// Records decoded and ready to hand out at once (a lower bound of what is buffered).
    pub fn buffered_records(&self) -> usize {
        self.buffers.values().map(|b| b.ready_records()).sum()
    }

    /// The generation, member id and instance id commits are sent with.
    pub fn generation(&self) -> &GroupGeneration {
        &self.generation
    }

    /// The group coordinator's broker id, if known.
    pub fn coordinator(&self) -> Option<BrokerId> {
        self.offsets.coordinator()
    }

    /// The leader of `tp` and its leader epoch, as the metadata cache knows it.
    pub fn leader(&self, tp: &TopicPartition) -> Option<(BrokerId, i32)> {
        self.metadata.leader(tp)
    }

    /// The partition indexes of `topic` the metadata cache knows, in order.
    pub fn topic_partitions(&self, topic: &str) -> Vec<i32> {
        self.metadata
            .topics
            .get(topic)
            .map(|t| t.partitions.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.offsets.is_closed()
    }

    /// Whether the consumer is closed, its last commits have finished (or can never go: the
    /// group was not stable when it closed), and it left its group: the driver may stop.
    pub fn is_close_complete(&self) -> bool {
        self.offsets.is_closed()
            && (!self.offsets.has_pending_commits() || !self.offsets.is_group_stable())
            && self.group.as_ref().is_none_or(GroupMembership::is_closed)
    }

    // ----- commands: the group machine's seam -----

    /// Sets the generation, member id and instance id for commits from now on (the group
    /// machine calls it after each join; a consumer without membership keeps the defaults).
    pub fn set_generation(&mut self, generation: GroupGeneration) {
        self.generation = generation;
    }

    /// The group started rebalancing: commits wait (queued ones fail with a rebalance error).
    pub fn handle_group_unstable(&mut self, now: Instant) {
        self.offsets.handle_group_unstable(now);
    }

    /// The group is stable again: commits go (Auto mode commits what is stored).
    pub fn handle_group_stable(&mut self, now: Instant) {
        self.offsets.handle_group_stable(now);
    }

    /// Replaces the assignment. Kept partitions keep their position and buffered records;
    /// new ones start from their committed offset (or `auto_offset_reset`); removed ones are
    /// dropped with their buffered records. In Auto mode, stored offsets not yet committed are
    /// committed first (the id is returned).
    pub fn assign(
        &mut self,
        now: Instant,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<Option<CommitId>, OffsetError> {
        let commit = self.offsets.assign(now, partitions)?;
        self.after_move();
        Ok(commit)
    }

    /// Removes `partitions` from the assignment (as [`assign`](Self::assign) with the rest).
    pub fn revoke(
        &mut self,
        now: Instant,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<Option<CommitId>, OffsetError> {
        let gone: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        let keep: Vec<TopicPartition> = self
            .offsets
            .assignment()
            .filter(|tp| !gone.contains(*tp))
            .cloned()
            .collect();
        self.assign(now, keep)
    }

    // ----- commands: records -----

    /// Takes up to `max` buffered records, in offset order per partition, taking turns between
    /// partitions (a turn lasts up to 16 records in a row, or one whole take if it asks for
    /// more). Asking counts as having finished with what was taken before (the offset
    /// machine's release; see [`AckMode`](crate::offset::AckMode)). Returns fewer (or none)
    /// when less is buffered, when partitions are paused, or at the outstanding cap.
    pub fn poll_records(&mut self, now: Instant, max: usize) -> Vec<ConsumerRecord> {
        let mut out = Vec::new();
        self.poll_records_into(now, max, &mut out);
        out
    }

    /// [`poll_records`](Self::poll_records) into `out` (appended to), so that a caller taking
    /// records one or a few at a time can keep reusing one vector.
    pub fn poll_records_into(&mut self, now: Instant, max: usize, out: &mut Vec<ConsumerRecord>) {
        if self.offsets.is_closed() || max == 0 {
            return;
        }
        let before = out.len();
        let max = max.saturating_add(before);
        self.offsets.release(now);
        // After the release, so that a revocation confirmed here commits what was handed out.
        self.group_poll(now);
        let over_bound = self.buffered_bytes >= self.config.max_buffered_bytes;
        let ahead = self.may_fetch_ahead();
        let within_answer = self.buffered_bytes <= self.answer_bytes_estimate;
        // Take turns: start after the partition served last, or with it while its turn lasts
        // (up to TURN_RECORDS records in a row), so that taking a few records at a time does
        // not hop to another partition's data, out of the caches, for every record.
        let mut cursor = self.rotation.take();
        let mut turn = std::mem::take(&mut self.turn);
        let mut stay = match &cursor {
            Some(c) if (1..TURN_RECORDS).contains(&turn) => self.buffers.contains_key(c),
            _ => false,
        };
        let mut visited = 0;
        let total = self.buffers.len();
        while visited < total && out.len() < max && self.offsets.delivery_capacity() > 0 {
            // Past the last partition: start again from the first.
            let wrap = match (&cursor, self.buffers.last_key_value()) {
                (Some(c), Some((last, _))) => c >= last,
                _ => true,
            };
            let next = match (&cursor, wrap) {
                (Some(c), _) if stay => self
                    .buffers
                    .range_mut((Bound::Included(c), Bound::Unbounded))
                    .next(),
                (Some(c), false) => self
                    .buffers
                    .range_mut((Bound::Excluded(c), Bound::Unbounded))
                    .next(),
                _ => self.buffers.iter_mut().next(),
            };
            let Some((tp, buffer)) = next else {
                break;
            };
            let continues = std::mem::take(&mut stay);
            visited += 1;
            if cursor.as_ref() != Some(tp) {
                cursor = Some(tp.clone());
            }
            if self.offsets.is_paused(tp) {
                turn = 0;
                continue;
            }
            let wanted = buffer.wants_fetch();
            let before = buffer.bytes;
            let taken_before = out.len();
            let result = buffer.take(now, tp, &mut self.offsets, max, out);
            let given = out.len() - taken_before;
            turn = match given {
                0 => 0,
                n if continues => turn + n,
                n => n,
            };
            let after = buffer.bytes;
            self.buffered_bytes = self.buffered_bytes.saturating_sub(before - after);
            // Taking may have made the partition worth fetching again.
            if !wanted && buffer.wants_fetch() {
                self.fetch_due = true;
            }
            let problem = match result {
                Ok(()) => continue,
                Err(e) => e,
            };
            let tp = tp.clone();
            let error = match problem {
                TakeError::Stale => {
                    self.drop_buffer(&tp);
                    continue;
                }
                TakeError::Corrupt { offset, error } => FetchError::Corrupt { offset, error },
                TakeError::OutOfOrder { offset, position } => FetchError::OutOfOrder {
                    offset,
                    expected: position,
                },
            };
            self.refetch_from_position(now, &tp, error);
        }
        if (over_bound && self.buffered_bytes < self.config.max_buffered_bytes)
            || (!ahead && self.may_fetch_ahead())
            || (!within_answer && self.buffered_bytes <= self.answer_bytes_estimate)
        {
            self.fetch_due = true;
        }
        self.rotation = cursor;
        self.turn = turn;
        self.stats.records_handed_out += (out.len().saturating_sub(before)) as u64;
    }

    /// Whether taking records since the last call may have made a fetch due: a partition's
    /// buffer drained far enough to fetch it again, or buffered data went under
    /// [`max_buffered_bytes`](ConsumerConfig::max_buffered_bytes), or was dropped. A driver
    /// that does not drain `poll_request` after every
    /// [`poll_records`](Self::poll_records) (to save a wake-up per record) drains it when this
    /// is true. Clears the flag.
    pub fn take_fetch_due(&mut self) -> bool {
        std::mem::take(&mut self.fetch_due)
    }

    /// The application is done with every record handed out so far, as asking for more
    /// records says (see [`AckMode`](crate::offset::AckMode)): call it before
    /// [`rebalance_done`](Self::rebalance_done) when the application confirms a revocation
    /// without taking records, so that Auto mode commits what it processed of the revoked
    /// partitions.
    pub fn release(&mut self, now: Instant) {
        if !self.offsets.is_closed() {
            self.offsets.release(now);
        }
    }

    /// Takes the next buffered record, if any (see [`poll_records`](Self::poll_records)).
    pub fn next_record(&mut self, now: Instant) -> Option<ConsumerRecord> {
        self.poll_records(now, 1).pop()
    }

    /// `record` is processed (any order, [`AckMode::Explicit`](crate::offset::AckMode)): the
    /// committable offset moves to the end of the acknowledged prefix.
    pub fn ack(&mut self, now: Instant, record: &ConsumerRecord) -> Result<(), OffsetError> {
        self.offsets
            .ack(now, &record.topic_partition, record.offset)
    }

    /// `record` is done: the next commit of its partition sends its offset + 1 with its
    /// leader epoch.
    pub fn store(&mut self, now: Instant, record: &ConsumerRecord) -> Result<(), OffsetError> {
        self.offsets.store(
            now,
            &record.topic_partition,
            record.offset,
            record.leader_epoch,
        )
    }

    /// Stores offsets to be committed later (each the next offset to consume, at most the
    /// position). All or nothing.
    pub fn store_offsets(
        &mut self,
        now: Instant,
        offsets: impl IntoIterator<Item = TopicPartitionOffset>,
    ) -> Result<(), OffsetError> {
        self.offsets.store_offsets(now, offsets)
    }

    // ----- commands: commits and queries -----

    /// Commits the position of every assigned partition (what was handed out counts as
    /// processed). The outcome arrives as a [`ConsumerEvent::Offset`] `CommitFinished` event
    /// with the returned id.
    pub fn commit(&mut self, now: Instant) -> Result<CommitId, OffsetError> {
        self.offsets.commit(now)
    }

    /// Commits exactly these offsets (each the next offset to consume).
    pub fn commit_offsets(
        &mut self,
        now: Instant,
        offsets: impl IntoIterator<Item = TopicPartitionOffset>,
    ) -> Result<CommitId, OffsetError> {
        self.offsets.commit_offsets(now, offsets)
    }

    /// Asks the coordinator for the committed offsets of `partitions` (assigned or not); the
    /// answer arrives as a `Committed` event and refreshes [`committed`](Self::committed).
    pub fn fetch_committed(
        &mut self,
        now: Instant,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<QueryId, OffsetError> {
        self.offsets.fetch_committed(now, partitions)
    }

    /// Finds, per partition (assigned or not), the first offset at or after a time, without
    /// seeking; the answer arrives as an `OffsetsForTimes` event.
    pub fn offsets_for_times(
        &mut self,
        now: Instant,
        times: impl IntoIterator<Item = TopicPartitionTimestamp>,
    ) -> Result<QueryId, OffsetError> {
        let times: Vec<TopicPartitionTimestamp> = times.into_iter().collect();
        for t in &times {
            self.want_topic(t.topic_partition.topic());
        }
        self.offsets.offsets_for_times(now, times)
    }

    /// Asks the partitions' leaders for their low and high watermarks (log start and end
    /// offset; the end is the last stable offset under read_committed). The answer arrives
    /// as a [`ConsumerEvent::Watermarks`] event and fills [`watermarks`](Self::watermarks).
    pub fn query_watermarks(
        &mut self,
        now: Instant,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<WatermarksId, OffsetError> {
        if self.offsets.is_closed() {
            return Err(OffsetError::Closed);
        }
        let mut parts = BTreeSet::new();
        for tp in partitions {
            if !parts.insert(tp.clone()) {
                return Err(OffsetError::DuplicatePartition(tp));
            }
        }
        for tp in &parts {
            self.want_topic(tp.topic());
        }
        self.next_watermarks += 1;
        let id = WatermarksId(self.next_watermarks);
        let query = WatermarkQuery::new(id, now, self.config.offsets.query_timeout, parts);
        if query.is_complete() {
            self.push_event(ConsumerEvent::Watermarks {
                query: id,
                result: Ok(Vec::new()),
            });
        } else {
            self.watermark_queries.insert(id, query);
        }
        Ok(id)
    }

    // ----- commands: positions -----

    /// Moves the position of a partition to an offset; buffered records from before are
    /// dropped.
    pub fn seek(&mut self, now: Instant, to: TopicPartitionOffset) -> Result<(), OffsetError> {
        self.offsets.seek(now, to)?;
        self.after_move();
        Ok(())
    }

    /// Moves partitions to their log start offset (ListOffsets EARLIEST).
    pub fn seek_to_beginning(
        &mut self,
        now: Instant,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), OffsetError> {
        self.offsets.seek_to_beginning(now, partitions)?;
        self.after_move();
        Ok(())
    }

    /// Moves partitions to their log end offset (ListOffsets LATEST; the last stable offset
    /// under read_committed).
    pub fn seek_to_end(
        &mut self,
        now: Instant,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), OffsetError> {
        self.offsets.seek_to_end(now, partitions)?;
        self.after_move();
        Ok(())
    }

    /// Moves partitions to the first offset at or after a time (to the end if no record is
    /// that recent).
    pub fn seek_to_timestamp(
        &mut self,
        now: Instant,
        times: impl IntoIterator<Item = TopicPartitionTimestamp>,
    ) -> Result<(), OffsetError> {
        self.offsets.seek_to_timestamp(now, times)?;
        self.after_move();
        Ok(())
    }

    /// Stops fetching and handing out records of these partitions; positions and buffered
    /// records are kept.
    pub fn pause(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), OffsetError> {
        self.offsets.pause(partitions)
    }

    /// Fetches and hands out these partitions again.
    pub fn resume(
        &mut self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> Result<(), OffsetError> {
        self.offsets.resume(partitions)
    }

    /// Closes: what was handed out counts as processed, Auto mode commits what is stored (the
    /// id is returned), buffered records are dropped, queries fail and nothing more is
    /// fetched. The driver keeps running until [`is_close_complete`](Self::is_close_complete).
    ///
    /// A member of a group gives its partitions up first (Auto mode commits the stored
    /// offsets of the revoked partitions), then leaves the group once the commits finished
    /// (a static member does not send LeaveGroup).
    pub fn close(&mut self, now: Instant) -> Option<CommitId> {
        self.shut(now, true)
    }

    /// Closes as [`close`](Self::close) does, except that the records handed out since the
    /// last release (the last record or batch taken, in
    /// [`AckMode::OnRelease`](crate::offset::AckMode)) do not count as processed: Auto mode
    /// commits only what was acknowledged or stored before them. For an application that
    /// stops in the middle of its work (an error it returns, a panic): the record it was
    /// processing is delivered again, to it or to the next owner of its partition.
    pub fn abandon(&mut self, now: Instant) -> Option<CommitId> {
        self.shut(now, false)
    }

    fn shut(&mut self, now: Instant, release: bool) -> Option<CommitId> {
        // Before the group gives the partitions up: a revocation commits what is released.
        if release {
            self.release(now);
        }
        if let Some(g) = &mut self.group {
            g.close(now);
        }
        // The group machine's `Revoked` for the close is applied here; a closing consumer
        // does not wait for the application to confirm it.
        self.drive_group(now);
        if let Some(r) = &mut self.revocation {
            r.confirmed = true;
        }
        let commit = if release {
            self.offsets.close(now)
        } else {
            self.offsets.abandon(now)
        };
        self.drive_group(now);
        self.buffers.clear();
        self.buffered_bytes = 0;
        self.deferred.clear();
        let queries = std::mem::take(&mut self.watermark_queries);
        for id in queries.into_keys() {
            self.push_event(ConsumerEvent::Watermarks {
                query: id,
                result: Err(crate::offset::LookupError::Closed),
            });
        }
        commit
    }

    // ----- outputs -----

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ConsumerEvent> {
        self.sync_events();
        self.events.pop_front()
    }

    // ----- helpers -----

    /// Moves the offset machine's events into the queue, so that order is kept.
    pub(crate) fn sync_events(&mut self) {
        while let Some(e) = self.offsets.poll_event() {
            self.events.push_back(ConsumerEvent::Offset(e));
        }
    }

    pub(crate) fn push_event(&mut self, event: ConsumerEvent) {
        self.sync_events();
        self.events.push_back(event);
    }

    pub(crate) fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    /// Makes sure metadata covers `topic` (for queries on partitions not assigned).
    pub(crate) fn want_topic(&mut self, topic: &str) {
        if !self.extra_topics.contains(topic) && !self.metadata.topics.contains_key(topic) {
            self.extra_topics.insert(topic.to_string());
        }
    }

    /// The topics metadata must cover.
    pub(crate) fn wanted_topics(&self) -> BTreeSet<String> {
        if self.offsets.is_closed() {
            // Closing only commits, which needs the coordinator, not metadata.
            return BTreeSet::new();
        }
        let mut topics: BTreeSet<String> = self.extra_topics.clone();
        topics.extend(self.offsets.assignment().map(|tp| tp.topic().to_string()));
        if let Some(Some(group)) = self.group_metadata_topics() {
            topics.extend(group);
        }
        topics
    }

    /// After a seek, reset or reassignment: drops what is no longer wanted.
    pub(crate) fn after_move(&mut self) {
        self.purge_stale();
    }

    /// Drops buffers (and backoffs) of partitions whose data is no longer wanted.
    pub(crate) fn purge_stale(&mut self) {
        let stale: Vec<TopicPartition> = self
            .buffers
            .iter()
            .filter(|(tp, b)| !self.offsets.is_wanted(tp, b.epoch))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in stale {
            self.drop_buffer(&tp);
        }
        let offsets = &self.offsets;
        self.backoffs.retain(|tp, _| offsets.is_assigned(tp));
    }

    pub(crate) fn drop_buffer(&mut self, tp: &TopicPartition) {
        if let Some(b) = self.buffers.remove(tp) {
            self.buffered_bytes = self.buffered_bytes.saturating_sub(b.bytes);
            self.fetch_due = true;
        }
    }

    /// Drops what is buffered for `tp` because it cannot be handed out, reports why, and
    /// fetches again from the position after a backoff. The fetch position has already moved
    /// past the dropped data, so without the seek nothing would fetch it again.
    pub(crate) fn refetch_from_position(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        error: FetchError,
    ) {
        self.drop_buffer(tp);
        self.push_event(ConsumerEvent::Fetch {
            partition: tp.clone(),
            error,
        });
        if let Some(position) = self.offsets.position(tp) {
            let _ = self.offsets.seek(
                now,
                TopicPartitionOffset::at(tp.clone(), position.offset)
                    .with_leader_epoch(position.leader_epoch),
            );
        }
        self.back_off(now, tp);
    }

    /// Backs off fetching `tp` after an error.
    pub(crate) fn back_off(&mut self, now: Instant, tp: &TopicPartition) {
        let attempt = self.backoffs.get(tp).map_or(0, |r| r.attempt);
        let delay = self
            .config
            .offsets
            .retry_backoff
            .delay(attempt, &mut self.rng);
        self.backoffs.insert(
            tp.clone(),
            Retry {
                not_before: now.checked_add(delay),
                attempt: attempt.saturating_add(1),
            },
        );
    }

    /// Keeps `tp` from being fetched before `until` without counting a failure.
    pub(crate) fn idle(&mut self, tp: &TopicPartition, until: Option<Instant>) {
        let r = self.backoffs.entry(tp.clone()).or_default();
        r.not_before = until;
    }
}

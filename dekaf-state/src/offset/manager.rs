//! The offset machine: its state, getters and the helpers its parts share. Commands are in
//! `commands.rs` and `delivery.rs`, inputs in `inputs.rs` and `lookups.rs`, outputs in
//! `outputs.rs`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use dekaf_proto::ErrorCode;

use super::backoff::{after, Rng};
use super::commit::{Batch, CommitOrigin, Commits, Ticket};
use super::config::{AutoOffsetReset, CommitPolicy, OffsetConfig};
use super::coordinator::Coordinator;
use super::error::{CommitError, PositionError};
use super::io::Event;
use super::partition::{Lookup, OffsetSpec, PartitionState, PositionState, Start};
use super::query::{Query, QueryKind};
use super::types::{
    CommitId, FetchEpoch, FetchPosition, IntentId, OffsetAndMetadata, QueryId, TopicPartition,
};
use crate::display::Listed;

/// What an intent id stands for, so that its result finds its way back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntentKind {
    FindCoordinator,
    Commit,
    /// OffsetFetch for starting positions, sent with this sequence number.
    StartCommitted(u64),
    /// ListOffsets for resets and seeks to beginning, end or timestamp.
    Reset,
    /// OffsetFetch (with its sequence number) or ListOffsets for a query.
    Query(QueryId, u64),
}

/// The offsets of one consumer: positions, stored and committed offsets, commits, seeks and
/// resets of the partitions assigned to it. It does no IO and reads no clock: results come in
/// as typed values with the time (`now`), and requests leave as [`Intent`](super::Intent)s.
///
/// # Getters
/// [`position`](Self::position) (next offset to hand to the application),
/// [`fetch_position`](Self::fetch_position) (next offset to fetch), [`stored`](Self::stored)
/// (what the next commit sends), [`committed`](Self::committed) (last known committed offset),
/// [`committable`](Self::committable), [`commit_in_flight`](Self::commit_in_flight),
/// [`high_watermark`](Self::high_watermark), [`last_stable_offset`](Self::last_stable_offset),
/// [`log_start_offset`](Self::log_start_offset), [`is_paused`](Self::is_paused),
/// [`position_state`](Self::position_state), [`assignment`](Self::assignment),
/// [`fetchable`](Self::fetchable), [`fetch_epoch`](Self::fetch_epoch),
/// [`is_wanted`](Self::is_wanted), [`outstanding`](Self::outstanding),
/// [`delivery_capacity`](Self::delivery_capacity), [`coordinator`](Self::coordinator),
/// [`needs_coordinator`](Self::needs_coordinator), [`is_group_stable`](Self::is_group_stable),
/// [`has_pending_commits`](Self::has_pending_commits), [`is_closed`](Self::is_closed).
///
/// # Commands (from the application)
/// [`assign`](Self::assign); handing out records: [`deliver`](Self::deliver),
/// [`advance`](Self::advance); acknowledging them: [`release`](Self::release),
/// [`ack`](Self::ack); storing: [`store`](Self::store), [`store_offsets`](Self::store_offsets);
/// committing: [`commit`](Self::commit) (all consumed), [`commit_offsets`](Self::commit_offsets)
/// (exactly these); seeking: [`seek`](Self::seek), [`seek_to_beginning`](Self::seek_to_beginning),
/// [`seek_to_end`](Self::seek_to_end), [`seek_to_timestamp`](Self::seek_to_timestamp); queries:
/// [`fetch_committed`](Self::fetch_committed), [`offsets_for_times`](Self::offsets_for_times);
/// [`pause`](Self::pause), [`resume`](Self::resume), [`close`](Self::close).
///
/// # Inputs (from the driver)
/// [`handle_coordinator_response`](Self::handle_coordinator_response),
/// [`handle_commit_response`](Self::handle_commit_response),
/// [`handle_committed_response`](Self::handle_committed_response),
/// [`handle_list_offsets_response`](Self::handle_list_offsets_response),
/// [`handle_request_failed`](Self::handle_request_failed),
/// [`handle_coordinator_disconnected`](Self::handle_coordinator_disconnected),
/// [`handle_fetched`](Self::handle_fetched), [`handle_fetch_error`](Self::handle_fetch_error),
/// [`handle_group_unstable`](Self::handle_group_unstable),
/// [`handle_group_stable`](Self::handle_group_stable), [`handle_timeout`](Self::handle_timeout).
///
/// # Outputs, and the order a driver polls them
/// After every command or input the driver:
/// 1. calls [`poll_intent`](Self::poll_intent) until it returns `None`, sending each intent as
///    a request and later passing its id back with the result;
/// 2. calls [`poll_event`](Self::poll_event) until it returns `None`, delivering each event;
/// 3. arms its one timer at [`poll_timeout`](Self::poll_timeout) and, when it fires, calls
///    [`handle_timeout`](Self::handle_timeout) and starts again at 1.
///
/// # Fetched records
/// The driver fetches [`fetchable`](Self::fetchable) partitions from their
/// [`fetch_position`](Self::fetch_position), tagging what it buffers with the
/// [`fetch_epoch`](Self::fetch_epoch) it fetched under. Before handing a buffered record out it
/// checks [`is_wanted`](Self::is_wanted) (a seek since then makes the data stale), then calls
/// [`deliver`](Self::deliver) for each record and [`advance`](Self::advance) past offsets it
/// skipped (control records, aborted transactions).
#[derive(Debug)]
pub struct OffsetManager {
    pub(crate) config: OffsetConfig,
    pub(crate) rng: Rng,
    pub(crate) partitions: BTreeMap<TopicPartition, PartitionState>,
    /// Whether a partition may still be finding its start (awaiting its committed offset, a
    /// reset or a validation): set whenever one starts to, cleared once none does, so that
    /// the per-step lookups skip the walk over every partition when all are settled.
    pub(crate) unsettled: bool,
    /// Outstanding records over all partitions.
    pub(crate) outstanding: usize,
    /// Partitions records were handed out of since the last [`release`](Self::release), in
    /// [`AckMode::OnRelease`](super::AckMode::OnRelease): what the next release acknowledges
    /// (may name partitions emptied or unassigned since).
    pub(crate) released: Vec<TopicPartition>,
    pub(crate) commits: Commits,
    /// What the commits did, for [`commit_stats`](Self::commit_stats).
    pub(crate) commit_stats: CommitStats,
    pub(crate) coordinator: Coordinator,
    pub(crate) queries: BTreeMap<QueryId, Query>,
    pub(crate) intents: HashMap<IntentId, IntentKind>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) group_stable: bool,
    pub(crate) closed: bool,
    /// Someone else (the group machine) needs the coordinator too.
    pub(crate) coordinator_wanted: bool,
    /// Records acknowledged (or stores) since the last commit, for count-based policies.
    pub(crate) acked_since_commit: u64,
    /// When the interval policy commits next.
    pub(crate) next_auto_commit: Option<Instant>,
    next_intent: u64,
    next_commit: u64,
    next_query: u64,
    next_epoch: u64,
    /// Orders coordinator requests so that an older answer never overwrites a newer one.
    next_seq: u64,
}

impl OffsetManager {
    /// A machine with nothing assigned. `seed` drives the backoff jitter, so that a run replays
    /// exactly from it.
    pub fn new(config: OffsetConfig, seed: u64) -> Self {
        OffsetManager {
            config,
            rng: Rng::new(seed),
            partitions: BTreeMap::new(),
            unsettled: false,
            outstanding: 0,
            released: Vec::new(),
            commits: Commits::default(),
            commit_stats: CommitStats::default(),
            coordinator: Coordinator::default(),
            queries: BTreeMap::new(),
            intents: HashMap::new(),
            events: VecDeque::new(),
            group_stable: true,
            closed: false,
            coordinator_wanted: false,
            acked_since_commit: 0,
            next_auto_commit: None,
            next_intent: 0,
            next_commit: 0,
            next_query: 0,
            next_epoch: 0,
            next_seq: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &OffsetConfig {
        &self.config
    }

    /// The assigned partitions, in order.
    pub fn assignment(&self) -> impl Iterator<Item = &TopicPartition> + '_ {
        self.partitions.keys()
    }

    /// Whether `tp` is assigned.
    pub fn is_assigned(&self, tp: &TopicPartition) -> bool {
        self.partitions.contains_key(tp)
    }

    /// The next offset to hand to the application (Kafka's `position()`), with the leader epoch
    /// of the last record handed out. None while the partition has no position.
    pub fn position(&self, tp: &TopicPartition) -> Option<FetchPosition> {
        self.partitions.get(tp).and_then(|p| p.position)
    }

    /// The next offset to fetch (ahead of the position by what is buffered).
    pub fn fetch_position(&self, tp: &TopicPartition) -> Option<FetchPosition> {
        self.partitions.get(tp).and_then(|p| p.fetch)
    }

    /// What the next commit of `tp` sends, if anything was stored.
    pub fn stored(&self, tp: &TopicPartition) -> Option<&OffsetAndMetadata> {
        self.partitions.get(tp).and_then(|p| p.stored.as_ref())
    }

    /// The last committed offset known: acknowledged by the coordinator or found by a lookup.
    /// Local; ask [`fetch_committed`](Self::fetch_committed) to refresh it.
    pub fn committed(&self, tp: &TopicPartition) -> Option<&OffsetAndMetadata> {
        self.partitions.get(tp).and_then(|p| p.committed.as_ref())
    }

    /// The end of the acknowledged prefix: the lowest outstanding offset, or the position when
    /// nothing is outstanding. What automatic stores store.
    pub fn committable(&self, tp: &TopicPartition) -> Option<FetchPosition> {
        self.partitions.get(tp).and_then(|p| p.committable())
    }

    /// The offset of `tp` in the commit request in flight, if any.
    pub fn commit_in_flight(&self, tp: &TopicPartition) -> Option<&OffsetAndMetadata> {
        self.commits
            .in_flight
            .as_ref()
            .and_then(|f| f.batch.offsets.get(tp))
    }

    /// The high watermark from the last fetch response.
    pub fn high_watermark(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp).and_then(|p| p.high_watermark)
    }

    /// The last stable offset from the last fetch response.
    pub fn last_stable_offset(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp).and_then(|p| p.last_stable_offset)
    }

    /// The log start offset from the last fetch response.
    pub fn log_start_offset(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp).and_then(|p| p.log_start_offset)
    }

    /// Whether `tp` is paused (assigned partitions only).
    pub fn is_paused(&self, tp: &TopicPartition) -> bool {
        self.partitions.get(tp).is_some_and(|p| p.paused)
    }

    /// How far `tp` is in getting a starting position.
    pub fn position_state(&self, tp: &TopicPartition) -> Option<PositionState> {
        self.partitions.get(tp).map(|p| p.start.public())
    }

    /// Partitions to fetch now: assigned, with a position, not paused, not closed.
    pub fn fetchable(&self) -> impl Iterator<Item = &TopicPartition> + '_ {
        let open = !self.closed;
        self.partitions
            .iter()
            .filter(move |(_, p)| open && !p.paused && matches!(p.start, Start::Ready))
            .map(|(tp, _)| tp)
    }

    /// The epoch to tag fetched data of `tp` with.
    pub fn fetch_epoch(&self, tp: &TopicPartition) -> Option<FetchEpoch> {
        self.partitions.get(tp).map(|p| p.epoch)
    }

    /// Whether data of `tp` fetched under `epoch` is still wanted: no seek, reset or
    /// reassignment happened since. Paused partitions' data stays wanted (keep it buffered).
    #[must_use]
    pub fn is_wanted(&self, tp: &TopicPartition, epoch: FetchEpoch) -> bool {
        self.partitions
            .get(tp)
            .is_some_and(|p| p.epoch == epoch && matches!(p.start, Start::Ready))
    }

    /// Records handed out and not yet acknowledged, over all partitions.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// How many more records may be handed out before the cap; 0 means backpressure.
    pub fn delivery_capacity(&self) -> usize {
        self.config.max_outstanding.saturating_sub(self.outstanding)
    }

    /// The group coordinator's broker id, if known.
    pub fn coordinator(&self) -> Option<i32> {
        self.coordinator.node_id()
    }

    /// Whether something waits for the coordinator and it is not known: the machine will ask
    /// for a FindCoordinator (the group machine may share the answer).
    pub fn needs_coordinator(&self) -> bool {
        self.config.group_id.is_some()
            && self.coordinator.node_id().is_none()
            && (self.coordinator_wanted
                || self.commits.queued.is_some()
                || (!self.closed
                    && self
                        .partitions
                        .values()
                        .any(|p| matches!(p.start, Start::AwaitingCommitted(_))))
                || self
                    .queries
                    .values()
                    .any(|q| q.kind == QueryKind::Committed))
    }

    /// Says whether someone else (a group machine sharing the lookup) needs the coordinator:
    /// while `wanted`, the machine looks it up when it is not known, whether or not it has
    /// anything to send there itself.
    pub fn want_coordinator(&mut self, wanted: bool) {
        self.coordinator_wanted = wanted;
    }

    /// The coordinator moved (someone else got NOT_COORDINATOR from it): look it up again.
    /// Requests in flight there are answered as usual.
    pub fn forget_coordinator(&mut self) {
        self.coordinator.forget();
    }

    /// Whether the group is stable; commits wait for it (see
    /// [`handle_group_unstable`](Self::handle_group_unstable)).
    pub fn is_group_stable(&self) -> bool {
        self.group_stable
    }

    /// What commits did so far: how many finished well or failed, and how long the
    /// coordinator took to answer each OffsetCommit.
    pub fn commit_stats(&self) -> &CommitStats {
        &self.commit_stats
    }

    /// Whether a commit is queued or in flight (a closing driver waits for this to be false).
    pub fn has_pending_commits(&self) -> bool {
        self.commits.queued.is_some() || self.commits.in_flight.is_some()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn intent_id(&mut self, kind: IntentKind) -> IntentId {
        self.next_intent += 1;
        let id = IntentId(self.next_intent);
        self.intents.insert(id, kind);
        id
    }

    pub(crate) fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub(crate) fn fresh_epoch(&mut self) -> FetchEpoch {
        self.next_epoch += 1;
        FetchEpoch(self.next_epoch)
    }

    pub(crate) fn query_id(&mut self) -> QueryId {
        self.next_query += 1;
        QueryId(self.next_query)
    }

    pub(crate) fn backoff(&mut self, attempt: u32) -> Duration {
        self.config.retry_backoff.delay(attempt, &mut self.rng)
    }

    /// How a partition without a committed offset (or out of range) starts over.
    pub(crate) fn reset_start(&self) -> Start {
        match self.config.auto_offset_reset {
            AutoOffsetReset::Earliest => {
                Start::AwaitingReset(OffsetSpec::Earliest, Lookup::default())
            }
            AutoOffsetReset::Latest => Start::AwaitingReset(OffsetSpec::Latest, Lookup::default()),
            AutoOffsetReset::None => Start::Failed(PositionError::NoCommittedOffset),
        }
    }

    /// Moves `tp` to `start` (forgetting its position), reporting a failure as an event.
    pub(crate) fn restart(&mut self, tp: &TopicPartition, start: Start) {
        if !matches!(start, Start::Ready | Start::Failed(_)) {
            self.unsettled = true;
        }
        let epoch = self.fresh_epoch();
        let failed = match &start {
            Start::Failed(e) => Some(e.clone()),
            _ => None,
        };
        if let Some(p) = self.partitions.get_mut(tp) {
            self.outstanding -= p.unset_position(start, epoch);
            if let Some(error) = failed {
                self.events.push_back(Event::PositionFailed {
                    partition: tp.clone(),
                    error,
                });
            }
        }
    }

    /// Clears [`unsettled`](Self::unsettled) once no partition is finding its start.
    pub(crate) fn settle(&mut self) {
        if self.unsettled
            && !self
                .partitions
                .values()
                .any(|p| !matches!(p.start, Start::Ready | Start::Failed(_)))
        {
            self.unsettled = false;
        }
    }

    /// Sets the position of `tp` (a seek, a reset, a committed offset).
    pub(crate) fn place(&mut self, tp: &TopicPartition, position: FetchPosition) {
        let epoch = self.fresh_epoch();
        if let Some(p) = self.partitions.get_mut(tp) {
            self.outstanding -= p.set_position(position, epoch);
        }
    }

    /// With automatic stores on, moves the stored offset of `tp` to the end of the
    /// acknowledged prefix: forward only, except once after a seek or reset, and only once
    /// something was acknowledged beyond where the position was placed.
    pub(crate) fn refresh_stored(&mut self, tp: &TopicPartition) {
        if !self.config.auto_store {
            return;
        }
        if let Some(p) = self.partitions.get_mut(tp) {
            p.refresh_stored();
        }
    }

    /// Starts a commit of `offsets`; finishes it at once when there is nothing to send or the
    /// group is rebalancing.
    pub(crate) fn submit(
        &mut self,
        now: Instant,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        origin: CommitOrigin,
    ) -> CommitId {
        self.next_commit += 1;
        let id = CommitId(self.next_commit);
        self.acked_since_commit = 0;
        tracing::debug!(
            commit = %id,
            ?origin,
            offsets = %Listed(offsets.iter().map(|(tp, o)| format!("{tp}@{}", o.offset))),
            "commit requested"
        );
        let ticket = Ticket {
            id,
            origin,
            deadline: after(now, self.config.commit_timeout),
            remaining: offsets.keys().cloned().collect(),
            failed: Vec::new(),
            rebalance: None,
        };
        if offsets.is_empty() {
            self.finish(ticket, Ok(()));
        } else if !self.group_stable {
            self.finish(
                ticket,
                Err(CommitError::Rebalance(ErrorCode::REBALANCE_IN_PROGRESS)),
            );
        } else {
            self.commits.enqueue(Batch {
                offsets,
                tickets: vec![ticket],
                attempt: 0,
                not_before: None,
                last_error: None,
            });
        }
        id
    }

    /// Commits every stored offset that differs from the latest one asked for or committed.
    pub(crate) fn auto_commit(&mut self, now: Instant) -> Option<CommitId> {
        if self.config.group_id.is_none() || !self.group_stable {
            return None;
        }
        let dirty: BTreeMap<TopicPartition, OffsetAndMetadata> = self
            .partitions
            .iter()
            .filter_map(|(tp, p)| {
                let stored = p.stored.as_ref()?;
                let latest = self.commits.latest_requested(tp).or(p.committed.as_ref());
                (latest != Some(stored)).then(|| (tp.clone(), stored.clone()))
            })
            .collect();
        if dirty.is_empty() {
            return None;
        }
        Some(self.submit(now, dirty, CommitOrigin::Auto))
    }

    /// Commits by count, if the policy says so.
    pub(crate) fn maybe_commit_by_count(&mut self, now: Instant) {
        let every = match self.config.effective_policy() {
            CommitPolicy::EveryRecord => 1,
            CommitPolicy::EveryNRecords(n) => n.max(1),
            CommitPolicy::Explicit | CommitPolicy::Interval(_) => return,
        };
        if !self.closed && self.acked_since_commit >= every {
            self.auto_commit(now);
        }
    }

    pub(crate) fn finish(&mut self, ticket: Ticket, result: Result<(), CommitError>) {
        match &result {
            Ok(()) => tracing::debug!(commit = %ticket.id, origin = ?ticket.origin, "commit done"),
            Err(error) => tracing::debug!(
                commit = %ticket.id,
                origin = ?ticket.origin,
                %error,
                "commit failed"
            ),
        }
        match &result {
            Ok(()) => self.commit_stats.succeeded += 1,
            Err(_) => self.commit_stats.failed += 1,
        }
        self.events.push_back(Event::CommitFinished {
            id: ticket.id,
            origin: ticket.origin,
            result,
        });
    }

    /// The group started rebalancing: queued commits would carry offsets into a generation
    /// that may not own the partitions, so they fail now, and the commit in flight will not be
    /// retried; stored offsets stay stored.
    pub(crate) fn enter_unstable(&mut self, code: ErrorCode) {
        self.group_stable = false;
        if let Some(f) = &mut self.commits.in_flight {
            f.rebalanced = true;
        }
        for ticket in self.commits.drain_queued() {
            self.finish(ticket, Err(CommitError::Rebalance(code)));
        }
    }
}

/// What an offset machine's commits did (see [`OffsetManager::commit_stats`]).
#[derive(Clone, Debug, Default)]
pub struct CommitStats {
    /// Commits (each `commit` call, or each of Auto mode's) that finished well.
    pub succeeded: u64,
    /// Commits that failed.
    pub failed: u64,
    /// OffsetCommit requests sent (several commits may ride in one).
    pub requests: u64,
    /// How long each OffsetCommit took, from sending to its answer.
    pub latency: crate::metrics::Histogram,
}

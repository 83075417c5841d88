//! The group machine: its state, getters, commands, and the transitions both protocols share.
//! The classic protocol's requests and answers are in `classic.rs`, the consumer protocol's
//! in `consumer.rs`, outputs and time in `outputs.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use dekaf_proto::messages::sync_group::SyncGroupRequestAssignment;
use dekaf_proto::wire::Uuid;

use crate::assignor::RebalanceProtocol;
use crate::client::{BrokerId, Destination, RequestId};
use crate::offset::{Rng, TopicPartition};

use super::config::{GroupConfig, GroupProtocol, Subscription};
use super::consumer::Kip848;
use super::error::{ConfigError, GroupError};
use super::types::{
    GroupEvent, GroupMetadata, LeaveReason, MemberState, MetadataTopics, TopicInfo,
};

/// `now + d`, saturating far in the future instead of overflowing.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// Where the member is. Requests are tracked by the `sent` ids: `None` means the request is
/// still to be sent.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Phase {
    /// Not in a group. `rejoin_on_poll`: left after the max poll interval; rejoin when the
    /// application polls again.
    Idle {
        rejoin_on_poll: bool,
    },
    /// Classic: JoinGroup to send or in flight. Consumer protocol: the epoch-0 heartbeat.
    Joining {
        sent: Option<RequestId>,
    },
    /// Classic: SyncGroup to send or in flight, with the leader's assignment (empty for
    /// followers).
    Syncing {
        sent: Option<RequestId>,
        assignments: Vec<SyncGroupRequestAssignment>,
    },
    /// In a generation.
    Stable,
    /// LeaveGroup (or the leaving heartbeat) to send or in flight.
    Leaving {
        sent: Option<RequestId>,
        reason: LeaveReason,
    },
    Closed,
    Failed,
}

/// What happens once a revocation is confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterRevoke {
    /// Rejoin the group (classic), with this reason for the broker's log.
    Rejoin(&'static str),
    /// Leave the group.
    Leave(LeaveReason),
    /// Consumer protocol: go on reconciling towards the target assignment.
    Reconcile,
}

/// A revocation waiting for the application's confirmation.
#[derive(Clone, Debug)]
pub(crate) struct Revoke {
    pub(crate) partitions: BTreeSet<TopicPartition>,
    pub(crate) deadline: Instant,
    pub(crate) then: AfterRevoke,
}

/// What the leader based its assignment on: the topics the whole group subscribes to and
/// their partition counts. A change in the counts means the assignment is out of date.
#[derive(Clone, Debug, Default)]
pub(crate) struct LeaderView {
    pub(crate) group_subscription: BTreeSet<String>,
    pub(crate) counts: BTreeMap<String, i32>,
}

/// What a request in flight was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Join,
    Sync,
    Heartbeat,
    Leave,
    /// A ConsumerGroupHeartbeat.
    ConsumerHeartbeat,
}

/// A request in flight, with the identity it was sent under.
#[derive(Clone, Debug)]
pub(crate) struct Sent {
    pub(crate) kind: Kind,
    pub(crate) generation: i32,
    pub(crate) member_id: String,
    pub(crate) at: Instant,
    /// Consumer protocol: what the heartbeat told the coordinator.
    pub(crate) fields: Option<super::consumer::Fields>,
}

/// Returned by commands on a member that is closed or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the group member is closed or failed")]
pub struct MemberClosed;

/// The membership of one consumer in its group: joining, the assignment, heartbeats,
/// rebalances and leaving. It does no IO and reads no clock: answers come in with the time
/// (`now`), requests leave as [`Outgoing`](crate::client::Outgoing) values for the group
/// coordinator, and what the consumer must act on leaves as [`GroupEvent`]s.
///
/// It speaks the classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, with the
/// leader computing the assignment by the chosen [`Assignor`](crate::assignor::Assignor)) or,
/// with [`GroupProtocol::Consumer`], the member side of KIP-848 (ConsumerGroupHeartbeat,
/// server-side assignment). The consumer protocol is verified in simulation only: no broker
/// available to this project speaks it.
///
/// The machine does not look the coordinator up: when [`needs_coordinator`](Self::needs_coordinator)
/// is true the driver runs FindCoordinator and passes the answer to
/// [`handle_coordinator`](Self::handle_coordinator). It does not fetch metadata either: it says
/// which topics it wants to know about ([`metadata_topics`](Self::metadata_topics)) and takes
/// the answer in [`handle_metadata`](Self::handle_metadata).
///
/// # Getters
/// [`state`](Self::state), [`is_stable`](Self::is_stable), [`assignment`](Self::assignment),
/// [`revoking`](Self::revoking), [`member_id`](Self::member_id),
/// [`generation`](Self::generation), [`group_metadata`](Self::group_metadata),
/// [`is_leader`](Self::is_leader), [`protocol_name`](Self::protocol_name),
/// [`rebalance_protocol`](Self::rebalance_protocol), [`subscription`](Self::subscription),
/// [`subscribed_topics`](Self::subscribed_topics), [`metadata_topics`](Self::metadata_topics),
/// [`needs_metadata`](Self::needs_metadata), [`coordinator`](Self::coordinator),
/// [`needs_coordinator`](Self::needs_coordinator), [`is_closed`](Self::is_closed),
/// [`config`](Self::config).
///
/// # Commands (from the application, through the consumer)
/// [`subscribe`](Self::subscribe), [`unsubscribe`](Self::unsubscribe),
/// [`handle_poll`](Self::handle_poll) (the application asked for records),
/// [`revoke_done`](Self::revoke_done) (a [`GroupEvent::Revoked`] was handled),
/// [`rejoin`](Self::rejoin) (force a rebalance), [`close`](Self::close).
///
/// # Inputs (from the driver)
/// [`handle_response`](Self::handle_response) (the answer or failure of every request the
/// machine handed out), [`handle_coordinator`](Self::handle_coordinator),
/// [`handle_disconnected`](Self::handle_disconnected),
/// [`handle_metadata`](Self::handle_metadata), [`handle_timeout`](Self::handle_timeout).
///
/// # Outputs, and the order a driver polls them
/// After every command or input the driver:
/// 1. looks up the coordinator if [`needs_coordinator`](Self::needs_coordinator), and
///    refreshes metadata if [`needs_metadata`](Self::needs_metadata);
/// 2. calls [`poll_request`](Self::poll_request) until it returns `None`, sending each
///    request to its destination and later passing the id back to
///    [`handle_response`](Self::handle_response). A JoinGroup may legitimately wait up to the
///    rebalance timeout for its answer: give it at least that much before timing it out;
/// 3. calls [`poll_event`](Self::poll_event) until it returns `None`, acting on each event;
/// 4. arms its one timer at [`poll_timeout`](Self::poll_timeout) and, when it fires, calls
///    [`handle_timeout`](Self::handle_timeout) and starts again at 1.
pub struct GroupMembership {
    pub(crate) config: GroupConfig,
    pub(crate) rebalance: RebalanceProtocol,
    pub(crate) rng: Rng,

    // What the member wants.
    pub(crate) subscription: Option<Subscription>,
    /// The subscription resolved against metadata: the topic names it means now.
    pub(crate) subscribed: BTreeSet<String>,
    pub(crate) metadata: BTreeMap<String, TopicInfo>,
    pub(crate) has_metadata: bool,
    /// Topic ids seen in metadata, for the consumer protocol.
    pub(crate) topic_names: HashMap<Uuid, String>,

    // Who the member is.
    pub(crate) member_id: String,
    /// Classic: the generation; consumer protocol: the member epoch. -1 outside a generation.
    pub(crate) generation: i32,
    pub(crate) protocol_name: Option<String>,
    pub(crate) leader: Option<LeaderView>,
    pub(crate) coordinator: Option<BrokerId>,

    // Where it is.
    pub(crate) phase: Phase,
    pub(crate) join_reason: &'static str,
    /// The subscription sent with the last JoinGroup.
    pub(crate) joined_subscription: BTreeSet<String>,
    /// A rejoin asked for while a join or sync was under way: done once it finishes.
    pub(crate) rejoin_pending: Option<&'static str>,
    /// Retries: how many in a row failed, and when the next may go.
    pub(crate) attempt: u32,
    pub(crate) not_before: Option<Instant>,

    // What it owns. `owned` includes partitions whose revocation awaits confirmation.
    pub(crate) owned: BTreeSet<TopicPartition>,
    pub(crate) revoke: Option<Revoke>,
    /// Whether the consumer was last told `Stable` (true) or `Unstable` (false).
    pub(crate) stable: bool,

    // Time.
    pub(crate) hb_interval: Duration,
    pub(crate) hb_next: Option<Instant>,
    pub(crate) hb_in_flight: Option<RequestId>,
    /// Classic: when the session is considered gone unless a heartbeat succeeds.
    pub(crate) session_deadline: Option<Instant>,
    pub(crate) last_poll: Option<Instant>,
    /// When the member last left the group after the max poll interval.
    pub(crate) left_at: Option<Instant>,

    pub(crate) kip848: Kip848,
    pub(crate) requests: BTreeMap<RequestId, Sent>,
    next_request: u64,
    pub(crate) events: VecDeque<GroupEvent>,
}

impl std::fmt::Debug for GroupMembership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMembership")
            .field("group_id", &self.config.group_id)
            .field("member_id", &self.member_id)
            .field("generation", &self.generation)
            .field("phase", &self.phase)
            .field("owned", &self.owned)
            .finish_non_exhaustive()
    }
}

impl GroupMembership {
    /// A member that has not joined yet. `seed` drives the retry jitter (and the member id of
    /// the consumer protocol), so that a run replays exactly from it.
    pub fn new(config: GroupConfig, seed: u64) -> Result<Self, ConfigError> {
        let rebalance = config.validate()?;
        let mut rng = Rng::new(seed);
        let kip848 = Kip848::new(&mut rng);
        let member_id = match config.protocol {
            GroupProtocol::Classic => String::new(),
            GroupProtocol::Consumer => kip848.member_id.clone(),
        };
        Ok(GroupMembership {
            hb_interval: config.heartbeat_interval,
            config,
            rebalance,
            rng,
            subscription: None,
            subscribed: BTreeSet::new(),
            metadata: BTreeMap::new(),
            has_metadata: false,
            topic_names: HashMap::new(),
            member_id,
            generation: -1,
            protocol_name: None,
            leader: None,
            coordinator: None,
            phase: Phase::Idle {
                rejoin_on_poll: false,
            },
            join_reason: "",
            joined_subscription: BTreeSet::new(),
            rejoin_pending: None,
            attempt: 0,
            not_before: None,
            owned: BTreeSet::new(),
            revoke: None,
            stable: false,
            hb_next: None,
            hb_in_flight: None,
            session_deadline: None,
            last_poll: None,
            left_at: None,
            kip848,
            requests: BTreeMap::new(),
            next_request: 0,
            events: VecDeque::new(),
        })
    }

    // ----- getters -----

    /// The configuration.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Where the member is.
    pub fn state(&self) -> MemberState {
        match self.phase {
            Phase::Idle { .. } => MemberState::Idle,
            Phase::Joining { .. } => MemberState::Joining,
            Phase::Syncing { .. } => MemberState::Syncing,
            Phase::Stable => MemberState::Stable,
            Phase::Leaving { .. } => MemberState::Leaving,
            Phase::Closed => MemberState::Closed,
            Phase::Failed => MemberState::Failed,
        }
    }

    /// Whether the member is in a generation and the coordinator accepts its commits: true
    /// between [`GroupEvent::Stable`] and [`GroupEvent::Unstable`]. A consumer keeps
    /// `OffsetManager::is_group_stable` equal to this.
    pub fn is_stable(&self) -> bool {
        self.stable
    }

    /// The partitions the member holds, including those whose revocation awaits
    /// [`revoke_done`](Self::revoke_done).
    pub fn assignment(&self) -> impl Iterator<Item = &TopicPartition> + '_ {
        self.owned.iter()
    }

    /// The partitions whose revocation awaits [`revoke_done`](Self::revoke_done): do not fetch
    /// them any more.
    pub fn revoking(&self) -> impl Iterator<Item = &TopicPartition> + '_ {
        self.revoke.iter().flat_map(|r| r.partitions.iter())
    }

    /// The member id (empty before the coordinator gave one; the consumer protocol makes its
    /// own at construction).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The generation (classic) or member epoch (consumer protocol); -1 outside a generation.
    /// With [`member_id`](Self::member_id) it is what an OffsetCommit carries.
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// Group id, generation, member id and instance id, for `TxnOffsetCommit` (and
    /// OffsetCommit).
    pub fn group_metadata(&self) -> GroupMetadata {
        GroupMetadata {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        }
    }

    /// Whether this member computed the current assignment (classic only).
    pub fn is_leader(&self) -> bool {
        self.leader.is_some()
    }

    /// The protocol (assignor) the coordinator chose for the generation (classic only).
    pub fn protocol_name(&self) -> Option<&str> {
        self.protocol_name.as_deref()
    }

    /// Eager or cooperative: how partitions are handed over in a rebalance.
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        self.rebalance
    }

    /// The subscription, if any.
    pub fn subscription(&self) -> Option<&Subscription> {
        self.subscription.as_ref()
    }

    /// The topics the subscription means now (a pattern resolved against the last metadata).
    pub fn subscribed_topics(&self) -> impl Iterator<Item = &str> + '_ {
        self.subscribed.iter().map(String::as_str)
    }

    /// The topics the driver should ask Metadata about and pass to
    /// [`handle_metadata`](Self::handle_metadata): every topic for a pattern, else the
    /// subscribed topics plus, for a leader, the topics other members subscribe to.
    pub fn metadata_topics(&self) -> MetadataTopics {
        if matches!(self.subscription, Some(Subscription::Pattern(_))) {
            return MetadataTopics::All;
        }
        let mut topics = self.subscribed.clone();
        if let Some(l) = &self.leader {
            topics.extend(l.group_subscription.iter().cloned());
        }
        MetadataTopics::Some(topics.into_iter().collect())
    }

    /// Whether the machine waits for metadata: a pattern was subscribed and no metadata came
    /// yet, a leader lacks partition counts of topics other members subscribe to, or (consumer
    /// protocol) an assigned topic id is unknown.
    pub fn needs_metadata(&self) -> bool {
        if self.subscription.is_none() || matches!(self.phase, Phase::Closed | Phase::Failed) {
            return false;
        }
        if !self.has_metadata {
            return true;
        }
        if let Some(l) = &self.leader {
            if l.group_subscription
                .iter()
                .any(|t| !self.metadata.contains_key(t))
            {
                return true;
            }
        }
        self.kip848_unresolved()
    }

    /// The coordinator's broker id, if known.
    pub fn coordinator(&self) -> Option<BrokerId> {
        self.coordinator
    }

    /// Whether the member has something to tell the coordinator and does not know where it
    /// is: run FindCoordinator and pass the answer to
    /// [`handle_coordinator`](Self::handle_coordinator).
    pub fn needs_coordinator(&self) -> bool {
        self.coordinator.is_none()
            && matches!(
                self.phase,
                Phase::Joining { .. }
                    | Phase::Syncing { .. }
                    | Phase::Stable
                    | Phase::Leaving { .. }
            )
    }

    /// Whether the member closed (or failed) and will send nothing more.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed | Phase::Failed)
    }

    // ----- commands -----

    /// Subscribes to `subscription`, replacing any earlier one, and counts as a poll. The
    /// member joins (or rejoins, if the topics changed) as soon as it can; an empty topic list
    /// is an [`unsubscribe`](Self::unsubscribe).
    pub fn subscribe(
        &mut self,
        now: Instant,
        subscription: Subscription,
    ) -> Result<(), MemberClosed> {
        if self.is_closed() {
            return Err(MemberClosed);
        }
        if matches!(&subscription, Subscription::Topics(t) if t.is_empty()) {
            return self.unsubscribe(now);
        }
        self.last_poll = Some(now);
        self.subscription = Some(subscription);
        self.resolve_subscription(now);
        if let Phase::Idle { .. } = self.phase {
            self.join(now, "the member subscribed");
        }
        Ok(())
    }

    /// Gives up the subscription: the partitions are revoked ([`GroupEvent::Revoked`], to be
    /// confirmed) and the member leaves the group (a static member does not send LeaveGroup).
    pub fn unsubscribe(&mut self, now: Instant) -> Result<(), MemberClosed> {
        if self.is_closed() {
            return Err(MemberClosed);
        }
        self.subscription = None;
        self.subscribed.clear();
        self.start_leaving(now, LeaveReason::Unsubscribed);
        Ok(())
    }

    /// The application asked for records (or a batch): the max poll interval starts again.
    /// After the member left the group for exceeding it, this rejoins.
    pub fn handle_poll(&mut self, now: Instant) {
        self.last_poll = Some(now);
        if let Phase::Idle {
            rejoin_on_poll: true,
        } = self.phase
        {
            self.join(
                now,
                "the application polled again after the max poll interval",
            );
        }
    }

    /// The consumer handled the last [`GroupEvent::Revoked`]: the partitions are gone (the
    /// consumer stopped fetching them and finished any commit of them). Counts as a poll.
    /// Does nothing when no revocation is pending.
    pub fn revoke_done(&mut self, now: Instant) {
        self.last_poll = Some(now);
        if let Some(r) = self.revoke.take() {
            for tp in &r.partitions {
                self.owned.remove(tp);
            }
            self.proceed(now, r.then);
        }
    }

    /// Asks for a rebalance (Java's `enforceRebalance`): the member rejoins; partitions are
    /// revoked first as the rebalance protocol says. The consumer protocol has no such
    /// request: there this does nothing.
    pub fn rejoin(&mut self, now: Instant) {
        if self.config.protocol == GroupProtocol::Classic {
            self.classic_rejoin(now, "the application asked for a rebalance");
        }
    }

    /// Closes the member: its partitions are revoked ([`GroupEvent::Revoked`], to be
    /// confirmed) if it is in a generation, else lost; then a dynamic member leaves the group.
    /// [`GroupEvent::Left`] with [`LeaveReason::Closed`] marks the end.
    pub fn close(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        self.start_leaving(now, LeaveReason::Closed);
    }

    // ----- inputs -----

    /// The group coordinator is `coordinator` (a FindCoordinator answer), or not known any
    /// more (`None`: it moved, or its connection broke).
    pub fn handle_coordinator(&mut self, now: Instant, coordinator: Option<BrokerId>) {
        match coordinator {
            Some(id) => self.coordinator = Some(id),
            None => self.forget_coordinator(now),
        }
    }

    /// A connection closed. If it was the one to the coordinator
    /// ([`Destination::Coordinator`]), the member looks the coordinator up again, as Java's
    /// consumer does; requests in flight on it are reported through
    /// [`handle_response`](Self::handle_response) as usual. Other connections to the same
    /// broker (fetches) do not concern the group.
    pub fn handle_disconnected(&mut self, now: Instant, connection: Destination) {
        if self
            .coordinator
            .is_some_and(|c| connection == Destination::Coordinator(c))
        {
            self.forget_coordinator(now);
        }
    }

    /// A Metadata answer about [`metadata_topics`](Self::metadata_topics): every topic it
    /// listed (topics missing from it are taken not to exist). A pattern subscription is
    /// resolved again; if the subscribed topics changed, or (leader) a subscribed topic's
    /// partition count changed, the member rejoins.
    pub fn handle_metadata(&mut self, now: Instant, topics: impl IntoIterator<Item = TopicInfo>) {
        if self.is_closed() {
            return;
        }
        self.metadata = topics.into_iter().map(|t| (t.name.clone(), t)).collect();
        for t in self.metadata.values() {
            if !t.id.is_zero() {
                self.topic_names.insert(t.id, t.name.clone());
            }
        }
        let first = !self.has_metadata;
        self.has_metadata = true;
        self.resolve_subscription(now);
        if self.config.protocol == GroupProtocol::Classic {
            let stale = self.leader.as_ref().is_some_and(|l| {
                l.group_subscription.iter().any(|t| {
                    let now_count = self
                        .metadata
                        .get(t)
                        .map(|i| i.partitions)
                        .filter(|&c| c > 0);
                    now_count != l.counts.get(t).copied()
                })
            });
            if stale {
                self.classic_rejoin(now, "the partitions of a subscribed topic changed");
            }
        } else {
            self.kip848_metadata(now);
        }
        if first
            && matches!(
                self.phase,
                Phase::Idle {
                    rejoin_on_poll: false
                }
            )
        {
            self.join(now, "the member subscribed");
        }
    }

    // ----- shared transitions -----

    pub(crate) fn emit(&mut self, event: GroupEvent) {
        tracing::debug!(
            group = %self.config.group_id,
            generation = self.generation,
            ?event,
            "group event"
        );
        self.events.push_back(event);
    }

    pub(crate) fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        RequestId(self.next_request)
    }

    /// Tells the consumer that commits would be refused now (once).
    pub(crate) fn set_unstable(&mut self) {
        if self.stable {
            self.stable = false;
            self.emit(GroupEvent::Unstable);
        }
    }

    /// Tells the consumer the member is in a generation.
    pub(crate) fn set_stable(&mut self) {
        self.stable = true;
        self.emit(GroupEvent::Stable {
            generation: self.generation,
            member_id: self.member_id.clone(),
            leader: self.leader.is_some(),
        });
    }

    pub(crate) fn backoff(&mut self, now: Instant) {
        let delay = self.config.retry_backoff.delay(self.attempt, &mut self.rng);
        self.attempt = self.attempt.saturating_add(1);
        self.not_before = Some(after(now, delay));
    }

    /// Every partition is gone without a chance to commit: `Unstable`, then `Lost`. Returns
    /// what a pending revocation was going to do next.
    pub(crate) fn lose_all(&mut self) -> Option<AfterRevoke> {
        self.set_unstable();
        let mut lost = std::mem::take(&mut self.owned);
        let then = self.revoke.take().map(|r| {
            lost.extend(r.partitions);
            r.then
        });
        if !lost.is_empty() {
            self.emit(GroupEvent::Lost(lost.into_iter().collect()));
        }
        then
    }

    /// Asks the consumer to give `partitions` up, then to confirm; `then` follows.
    pub(crate) fn begin_revoke(
        &mut self,
        now: Instant,
        partitions: BTreeSet<TopicPartition>,
        then: AfterRevoke,
    ) {
        self.emit(GroupEvent::Revoked(partitions.iter().cloned().collect()));
        if cfg!(dekaf_mutant = "revoke_before_rejoin") && matches!(then, AfterRevoke::Rejoin(_)) {
            for tp in &partitions {
                self.owned.remove(tp);
            }
            self.proceed(now, then);
            return;
        }
        self.revoke = Some(Revoke {
            partitions,
            deadline: after(now, self.config.rebalance_timeout),
            then,
        });
    }

    /// Carries on after a revocation was confirmed (or its partitions lost).
    pub(crate) fn proceed(&mut self, now: Instant, then: AfterRevoke) {
        match then {
            AfterRevoke::Rejoin(reason) => self.classic_rejoin(now, reason),
            AfterRevoke::Leave(reason) => self.leave(now, reason),
            AfterRevoke::Reconcile => self.kip848_revoked(now),
        }
    }

    /// Starts joining from outside the group, when there is something to join for.
    pub(crate) fn join(&mut self, now: Instant, reason: &'static str) {
        if self.subscription.is_none() || !matches!(self.phase, Phase::Idle { .. }) {
            return;
        }
        if matches!(self.subscription, Some(Subscription::Pattern(_))) && !self.has_metadata {
            // Wait for the first metadata to know what the pattern means.
            return;
        }
        self.left_at = None;
        self.last_poll = Some(self.last_poll.map_or(now, |t| t.max(now)));
        match self.config.protocol {
            GroupProtocol::Classic => self.send_join(now, reason),
            GroupProtocol::Consumer => self.kip848_join(now),
        }
    }

    /// Starts leaving (close, unsubscribe): revoke what is held if the member is in a
    /// generation (lose it otherwise), then leave.
    pub(crate) fn start_leaving(&mut self, now: Instant, reason: LeaveReason) {
        match &mut self.phase {
            Phase::Closed | Phase::Failed => return,
            Phase::Leaving { reason: r, .. } => {
                if reason == LeaveReason::Closed {
                    *r = reason;
                }
                return;
            }
            _ => {}
        }
        if let Some(r) = &mut self.revoke {
            // Finish the revocation under way, then leave; partitions it did not cover are
            // revoked with it.
            let rest: Vec<TopicPartition> = self
                .owned
                .iter()
                .filter(|tp| !r.partitions.contains(*tp))
                .cloned()
                .collect();
            r.then = AfterRevoke::Leave(reason);
            if !rest.is_empty() {
                r.partitions.extend(rest.iter().cloned());
                self.emit(GroupEvent::Revoked(rest));
            }
            return;
        }
        if self.owned.is_empty() {
            self.leave(now, reason);
        } else if self.stable {
            let all = self.owned.clone();
            self.begin_revoke(now, all, AfterRevoke::Leave(reason));
        } else {
            self.lose_all();
            self.leave(now, reason);
        }
    }

    /// Leaves the group (partitions already revoked or lost): sends LeaveGroup (or the
    /// leaving heartbeat) if the member is in the group, the coordinator is known, and (classic)
    /// the member is dynamic.
    pub(crate) fn leave(&mut self, now: Instant, reason: LeaveReason) {
        self.set_unstable();
        if !self.owned.is_empty() {
            self.lose_all();
        }
        let in_group = matches!(
            self.phase,
            Phase::Joining { .. } | Phase::Syncing { .. } | Phase::Stable
        ) && !self.member_id.is_empty();
        let send = in_group
            && self.coordinator.is_some()
            && match self.config.protocol {
                GroupProtocol::Classic => self.config.group_instance_id.is_none(),
                GroupProtocol::Consumer => self.generation > 0 || self.hb_in_flight.is_some(),
            };
        self.stop_heartbeats();
        if send {
            self.phase = Phase::Leaving { sent: None, reason };
            if reason == LeaveReason::MaxPollExceeded {
                self.left_at = Some(now);
            }
        } else {
            self.finish_leaving(now, reason);
        }
    }

    /// The member is out of the group.
    pub(crate) fn finish_leaving(&mut self, now: Instant, reason: LeaveReason) {
        self.stop_heartbeats();
        self.requests.clear();
        self.generation = -1;
        self.leader = None;
        self.protocol_name = None;
        self.rejoin_pending = None;
        self.attempt = 0;
        self.not_before = None;
        match self.config.protocol {
            // Java forgets the member id when it leaves; a static member gets its place back
            // by its instance id.
            GroupProtocol::Classic => self.member_id.clear(),
            // The consumer protocol keeps one member id for the life of the member.
            GroupProtocol::Consumer => self.kip848_reset(),
        }
        self.phase = match reason {
            LeaveReason::Closed => Phase::Closed,
            LeaveReason::Unsubscribed => Phase::Idle {
                rejoin_on_poll: false,
            },
            LeaveReason::MaxPollExceeded => Phase::Idle {
                rejoin_on_poll: true,
            },
        };
        self.emit(GroupEvent::Left(reason));
        match reason {
            LeaveReason::Closed => {}
            LeaveReason::Unsubscribed => self.join(now, "the member subscribed"),
            LeaveReason::MaxPollExceeded => {
                let polled = match (self.last_poll, self.left_at) {
                    (Some(p), Some(l)) => p > l,
                    _ => false,
                };
                if polled {
                    self.join(
                        now,
                        "the application polled again after the max poll interval",
                    );
                }
            }
        }
    }

    /// Stops for good: partitions lost, then [`GroupEvent::Failed`].
    pub(crate) fn fail(&mut self, error: GroupError) {
        self.lose_all();
        self.stop_heartbeats();
        self.requests.clear();
        self.phase = Phase::Failed;
        self.emit(GroupEvent::Failed(error));
    }

    pub(crate) fn stop_heartbeats(&mut self) {
        self.hb_next = None;
        self.hb_in_flight = None;
        self.session_deadline = None;
    }

    /// The coordinator is gone (moved, unreachable): look it up again. A leave that cannot be
    /// sent any more is given up.
    pub(crate) fn forget_coordinator(&mut self, now: Instant) {
        self.coordinator = None;
        if let Phase::Leaving { sent: None, reason } = self.phase {
            self.finish_leaving(now, reason);
        }
    }

    /// Resolves the subscription against metadata; reacts if the topics changed.
    fn resolve_subscription(&mut self, now: Instant) {
        let resolved: BTreeSet<String> = match &self.subscription {
            None => BTreeSet::new(),
            Some(Subscription::Topics(t)) => t.clone(),
            Some(Subscription::Pattern(p)) => self
                .metadata
                .values()
                .filter(|t| !t.is_internal && p.matches(&t.name))
                .map(|t| t.name.clone())
                .collect(),
        };
        if resolved == self.subscribed {
            return;
        }
        self.subscribed = resolved;
        match self.config.protocol {
            GroupProtocol::Classic => {
                let joined = match self.phase {
                    Phase::Joining { sent: None } => return,
                    Phase::Joining { .. } | Phase::Syncing { .. } | Phase::Stable => {
                        &self.joined_subscription
                    }
                    _ => return,
                };
                if *joined != self.subscribed {
                    self.classic_rejoin(now, "the subscribed topics changed");
                }
            }
            GroupProtocol::Consumer => self.kip848_subscription_changed(now),
        }
    }
}

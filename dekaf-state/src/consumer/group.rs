//! The consumer in a group: subscribing, and the group machine composed with the offset
//! machine as the [group module](crate::group) prescribes.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::client::{BrokerId, Destination, Outgoing, RequestFailed, RequestId, Response};
use crate::group::{
    ConfigError, GroupEvent, GroupMembership, GroupMetadata, MemberState, MetadataTopics,
    Subscription, TopicInfo,
};
use crate::offset::{check_topic_name, InvalidTopicName, TopicPartition};

use super::consumer::{Consumer, GroupGeneration, Pending};
use super::event::ConsumerEvent;

/// Why [`subscribe`](Consumer::subscribe) was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// The consumer has no group id: it can only be given partitions with `assign`.
    #[error("subscribing needs a group id")]
    NoGroupId,
    /// The consumer is closed.
    #[error("the consumer is closed")]
    Closed,
    /// The group settings (or the pattern) are invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A topic name Kafka would refuse; nothing changed.
    #[error(transparent)]
    InvalidTopic(#[from] InvalidTopicName),
}

/// A revocation the application has heard about and the consumer has not finished yet.
#[derive(Debug, Default)]
pub(crate) struct Revocation {
    pub(crate) partitions: BTreeSet<TopicPartition>,
    /// The application is done with the partitions (it polled again, or said so).
    pub(crate) confirmed: bool,
    /// The partitions that left the offset machine (Auto mode: their stored offsets are
    /// being committed): all of them once confirmed, unless more were revoked since.
    pub(crate) released: BTreeSet<TopicPartition>,
}

impl Consumer {
    // ----- commands -----

    /// Joins the consumer's group with a subscription to `topics` (replacing any earlier
    /// subscription). Partitions arrive with [`GroupEvent::Assigned`] (as
    /// [`ConsumerEvent::Rebalance`]) once the group has settled. An empty list unsubscribes.
    pub fn subscribe<I, S>(&mut self, now: Instant, topics: I) -> Result<(), SubscribeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subscribe_to(now, Subscription::topics(topics))
    }

    /// Joins the consumer's group with a subscription to every topic whose whole name matches
    /// `pattern` (`regex-lite` syntax, see [`TopicPattern`](crate::group::TopicPattern)),
    /// checked against metadata of all topics, refreshed every
    /// [`metadata_max_age`](super::ConsumerConfig::metadata_max_age).
    pub fn subscribe_pattern(&mut self, now: Instant, pattern: &str) -> Result<(), SubscribeError> {
        self.subscribe_to(now, Subscription::pattern(pattern)?)
    }

    /// Joins the group with `subscription`.
    pub fn subscribe_to(
        &mut self,
        now: Instant,
        subscription: Subscription,
    ) -> Result<(), SubscribeError> {
        if self.offsets.is_closed() {
            return Err(SubscribeError::Closed);
        }
        if let Subscription::Topics(topics) = &subscription {
            for topic in topics {
                check_topic_name(topic)?;
            }
        }
        if self.group.is_none() {
            let Some(group_id) = self.config.offsets.group_id.clone() else {
                return Err(SubscribeError::NoGroupId);
            };
            let mut config = self.config.group.clone();
            config.group_id = group_id;
            if let Some(rack) = &self.config.client_rack {
                config.rack_id = Some(rack.clone());
            }
            let seed = self.config.seed ^ 0x6A09_E667_F3BC_C908;
            self.group = Some(GroupMembership::new(config, seed)?);
        }
        self.stats.rebalance_started.get_or_insert(now);
        if let Some(group) = &mut self.group {
            group
                .subscribe(now, subscription)
                .map_err(|_| SubscribeError::Closed)?;
        }
        // The group's assignment replaces partitions assigned by hand before.
        self.group_assigned
            .extend(self.offsets.assignment().cloned());
        self.drive_group(now);
        Ok(())
    }

    /// Gives up the subscription: the partitions are revoked (a [`GroupEvent::Revoked`] the
    /// application confirms as for a rebalance) and the member leaves the group. Does nothing
    /// without a subscription.
    pub fn unsubscribe(&mut self, now: Instant) {
        if let Some(group) = &mut self.group {
            let _ = group.unsubscribe(now);
        }
        self.drive_group(now);
    }

    /// The application is done with the partitions of the last [`GroupEvent::Revoked`]: in
    /// Manual mode it committed what it wanted to. The consumer drops them (Auto mode commits
    /// their stored offsets first) and lets the group go on. The next
    /// [`poll_records`](Self::poll_records) does the same; this is for an application that
    /// wants to confirm earlier. Does nothing when no revocation is pending.
    pub fn rebalance_done(&mut self, now: Instant) {
        if let Some(r) = &mut self.revocation {
            r.confirmed = true;
        }
        self.drive_group(now);
    }

    /// Asks the group for a rebalance (Java's `enforceRebalance`; classic protocol only).
    pub fn enforce_rebalance(&mut self, now: Instant) {
        if let Some(group) = &mut self.group {
            group.rejoin(now);
        }
        self.drive_group(now);
    }

    // ----- getters -----

    /// Group id, generation, member id and instance id, for a transactional producer's
    /// `TxnOffsetCommit`; None until the consumer subscribed.
    pub fn group_metadata(&self) -> Option<GroupMetadata> {
        self.group.as_ref().map(GroupMembership::group_metadata)
    }

    /// The group machine, once the consumer subscribed (state, subscription, assignment,
    /// leader, ...).
    pub fn group(&self) -> Option<&GroupMembership> {
        self.group.as_ref()
    }

    /// Where the member is in its group; None until the consumer subscribed.
    pub fn member_state(&self) -> Option<MemberState> {
        self.group.as_ref().map(GroupMembership::state)
    }

    /// The partitions of a [`GroupEvent::Revoked`] the consumer still waits to finish (the
    /// application's confirmation, then their last commit).
    pub fn revoking(&self) -> Vec<TopicPartition> {
        self.revocation
            .as_ref()
            .map(|r| r.partitions.iter().cloned().collect())
            .unwrap_or_default()
    }

    // ----- the composition -----

    /// Runs the group machine's side effects until nothing changes: the shared coordinator,
    /// metadata wishes, its events applied to the offset machine, and the end of a
    /// revocation.
    pub(crate) fn drive_group(&mut self, now: Instant) {
        for _ in 0..64 {
            if !self.drive_group_once(now) {
                return;
            }
        }
    }

    fn drive_group_once(&mut self, now: Instant) -> bool {
        let Some(group) = &mut self.group else {
            return false;
        };
        let mut busy = false;
        // One coordinator lookup for both machines.
        let gc = group.coordinator();
        if self.group_coordinator.is_some()
            && gc.is_none()
            && self.offsets.coordinator() == self.group_coordinator
        {
            // The group found out the coordinator moved: so has the offset machine.
            self.offsets.forget_coordinator();
        }
        if group.needs_coordinator() {
            if let Some(c) = self.offsets.coordinator() {
                group.handle_coordinator(now, Some(c));
                busy = true;
            }
        }
        self.offsets.want_coordinator(group.needs_coordinator());
        self.group_coordinator = group.coordinator();
        if group.needs_metadata() && self.metadata.in_flight.is_none() {
            self.metadata.request_update();
        }
        while let Some(event) = self.group.as_mut().and_then(GroupMembership::poll_event) {
            busy = true;
            self.on_group_event(now, event);
        }
        busy |= self.finish_revocation(now);
        busy
    }

    fn on_group_event(&mut self, now: Instant, event: GroupEvent) {
        match &event {
            GroupEvent::Unstable => {
                self.stats.rebalance_started.get_or_insert(now);
                self.offsets.handle_group_unstable(now);
            }
            GroupEvent::Stable { .. } => {
                let started = self.stats.rebalance_started.take().unwrap_or(now);
                let took = now.saturating_duration_since(started);
                self.stats.rebalances += 1;
                self.stats.last_rebalance = Some(took);
                self.stats.rebalance_time = self.stats.rebalance_time.saturating_add(took);
                if let Some(g) = &self.group {
                    let m = g.group_metadata();
                    self.set_generation(GroupGeneration {
                        generation_id: m.generation_id,
                        member_id: m.member_id,
                        group_instance_id: m.group_instance_id,
                    });
                }
                self.offsets.handle_group_stable(now);
            }
            GroupEvent::Assigned(_) => self.apply_group_assignment(now),
            GroupEvent::Revoked(ps) => {
                // No more records of these: fetches stop, buffered records stay unhanded.
                let _ = self.offsets.pause(ps.iter().cloned());
                let r = self.revocation.get_or_insert_with(Revocation::default);
                r.partitions.extend(ps.iter().cloned());
                // The application has not seen these yet: a revocation it already confirmed
                // waits for its confirmation again, and these leave the offset machine only
                // then (those released before stay out).
                r.confirmed = false;
                // A closing consumer does not wait for the application.
                r.confirmed |= self.offsets.is_closed();
            }
            GroupEvent::Lost(ps) => {
                if let Some(r) = &mut self.revocation {
                    for tp in ps {
                        r.partitions.remove(tp);
                        r.released.remove(tp);
                    }
                    if r.partitions.is_empty() {
                        self.revocation = None;
                    }
                }
                if !cfg!(dekaf_mutant = "commit_lost") {
                    self.apply_group_assignment(now);
                }
            }
            GroupEvent::Left(_) | GroupEvent::Failed(_) => {
                self.revocation = None;
                self.apply_group_assignment(now);
            }
        }
        self.push_event(ConsumerEvent::Rebalance(event));
    }

    /// The offset machine holds what the group machine holds, minus what is revoked and
    /// released (and what was assigned by hand after the subscription ended: group events
    /// change only the partitions the group handed out).
    fn apply_group_assignment(&mut self, now: Instant) {
        if self.offsets.is_closed() {
            return;
        }
        let Some(group) = &self.group else { return };
        let released: BTreeSet<TopicPartition> = self
            .revocation
            .as_ref()
            .filter(|_| !cfg!(dekaf_mutant = "commit_revoked"))
            .map(|r| r.released.clone())
            .unwrap_or_default();
        let keep: BTreeSet<TopicPartition> = group
            .assignment()
            .filter(|tp| !released.contains(*tp))
            .cloned()
            .collect();
        let by_hand: Vec<TopicPartition> = self
            .offsets
            .assignment()
            .filter(|tp| !self.group_assigned.contains(*tp))
            .cloned()
            .collect();
        self.group_assigned = keep.clone();
        let _ = self.assign(now, keep.into_iter().chain(by_hand));
    }

    /// Ends a confirmed revocation: the partitions leave the offset machine (Auto mode
    /// commits their stored offsets), and once no commit is pending the group machine hears
    /// `revoke_done`. Returns whether anything changed.
    fn finish_revocation(&mut self, now: Instant) -> bool {
        let Some(r) = &mut self.revocation else {
            return false;
        };
        if !r.confirmed {
            return false;
        }
        let mut busy = false;
        if r.released != r.partitions {
            r.released = r.partitions.clone();
            busy = true;
            self.apply_group_assignment(now);
        }
        if !self.offsets.has_pending_commits() {
            self.revocation = None;
            if let Some(g) = &mut self.group {
                g.revoke_done(now);
            }
            busy = true;
        }
        busy
    }

    /// The application asked for records: the max poll interval starts again, and a pending
    /// revocation counts as confirmed.
    pub(crate) fn group_poll(&mut self, now: Instant) {
        let Some(group) = &mut self.group else { return };
        group.handle_poll(now);
        if let Some(r) = &mut self.revocation {
            r.confirmed = true;
        }
        self.drive_group(now);
    }

    /// The group machine's next request, under an id of the consumer's.
    pub(crate) fn poll_group_request(&mut self, now: Instant) -> Option<Outgoing> {
        self.drive_group(now);
        let out = self.group.as_mut()?.poll_request(now)?;
        let id = self.request_id();
        self.pending.insert(id, Pending::Group { id: out.id });
        Some(Outgoing { id, ..out })
    }

    /// The answer to a group request.
    pub(crate) fn on_group_response(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        if let Some(g) = &mut self.group {
            g.handle_response(now, id, result);
        }
        self.drive_group(now);
    }

    /// The topics the group machine wants metadata about: None for none, `Some(None)` for
    /// every topic.
    pub(crate) fn group_metadata_topics(&self) -> Option<Option<Vec<String>>> {
        let group = self.group.as_ref().filter(|g| !g.is_closed())?;
        group.subscription()?;
        Some(match group.metadata_topics() {
            MetadataTopics::All => None,
            MetadataTopics::Some(topics) => Some(topics),
        })
    }

    /// Hands a metadata answer to the group machine, if the request covered what it wants.
    pub(crate) fn feed_group_metadata(&mut self, now: Instant, all: bool, requested: &[String]) {
        let Some(wanted) = self.group_metadata_topics() else {
            return;
        };
        let topics: Vec<TopicInfo> = match wanted {
            None if all => self
                .metadata
                .topics
                .iter()
                .map(|(name, t)| self.topic_info(name, t))
                .collect(),
            None => return,
            Some(list) => {
                if !list.iter().all(|t| requested.contains(t)) && !all {
                    return;
                }
                list.iter()
                    .filter_map(|name| {
                        let t = self.metadata.topics.get(name)?;
                        Some(self.topic_info(name, t))
                    })
                    .collect()
            }
        };
        if let Some(g) = &mut self.group {
            g.handle_metadata(now, topics);
        }
        self.drive_group(now);
    }

    fn topic_info(&self, name: &str, t: &super::metadata::TopicMeta) -> TopicInfo {
        let mut info =
            TopicInfo::new(name, i32::try_from(t.partitions.len()).unwrap_or(0)).with_id(t.id);
        info.is_internal = self.internal_topics.contains(name);
        info.replica_racks = t
            .replicas
            .iter()
            .map(|(p, nodes)| {
                let racks = nodes
                    .iter()
                    .filter_map(|b| self.metadata.racks.get(b).cloned())
                    .collect();
                (*p, racks)
            })
            .collect();
        info
    }

    /// A connection closed: the group machine hears it too.
    pub(crate) fn group_disconnected(&mut self, now: Instant, connection: Destination) {
        if let Some(g) = &mut self.group {
            g.handle_disconnected(now, connection);
        }
        self.drive_group(now);
    }

    /// The coordinator found by the shared lookup.
    pub(crate) fn group_coordinator_found(&mut self, now: Instant, node: BrokerId) {
        if let Some(g) = &mut self.group {
            if g.needs_coordinator() {
                g.handle_coordinator(now, Some(node));
            }
        }
        self.drive_group(now);
    }
}

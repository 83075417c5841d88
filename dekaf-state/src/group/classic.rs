//! The classic group protocol: JoinGroup, SyncGroup, Heartbeat and LeaveGroup, and what each
//! answer means for the member.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use dekaf_proto::consumer_protocol::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, MAX_VERSION,
};
use dekaf_proto::messages::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use dekaf_proto::messages::join_group::{
    JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse,
};
use dekaf_proto::messages::leave_group::{LeaveGroupRequest, MemberIdentity};
use dekaf_proto::messages::sync_group::{
    SyncGroupRequest, SyncGroupRequestAssignment, SyncGroupResponse,
};
use dekaf_proto::messages::RequestBody;
use dekaf_proto::{ApiKey, ErrorCode};

use crate::assignor::{self, Assignor, MemberSubscription, RebalanceProtocol};
use crate::client::{ClientRequest, RequestFailed};
use crate::display::Listed;
use crate::offset::TopicPartition;

use super::error::GroupError;
use super::membership::{after, AfterRevoke, GroupMembership, LeaderView, Phase};
use super::types::{GroupEvent, LeaveReason};

/// The protocol type of consumer groups.
const CONSUMER: &str = "consumer";

/// How the member reacts to an error code of a classic group request.
enum Reaction {
    /// Rejoin at once with the member id the answer gave (MEMBER_ID_REQUIRED).
    MemberIdRequired,
    /// Rejoin at once (REBALANCE_IN_PROGRESS).
    Rejoin,
    /// The generation is gone: partitions lost, rejoin at once keeping the member id.
    IllegalGeneration,
    /// The member id is gone: partitions lost, rejoin at once with an empty member id.
    UnknownMember,
    /// Find the coordinator again, then retry.
    Rediscover,
    /// Retry after a backoff.
    Retry,
    /// Stop.
    Fatal(GroupError),
}

fn react(code: ErrorCode) -> Reaction {
    match code {
        ErrorCode::MEMBER_ID_REQUIRED => Reaction::MemberIdRequired,
        ErrorCode::REBALANCE_IN_PROGRESS => Reaction::Rejoin,
        ErrorCode::ILLEGAL_GENERATION => Reaction::IllegalGeneration,
        ErrorCode::UNKNOWN_MEMBER_ID => Reaction::UnknownMember,
        ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => Reaction::Rediscover,
        c if c.is_retriable() => Reaction::Retry,
        c => Reaction::Fatal(GroupError::from_code(c)),
    }
}

impl GroupMembership {
    /// Rejoins as the rebalance protocol says: eager revokes everything first; cooperative
    /// revokes only partitions of topics no longer subscribed. During a join or sync, the
    /// rejoin waits for it to finish.
    pub(crate) fn classic_rejoin(&mut self, now: Instant, reason: &'static str) {
        match self.phase {
            Phase::Joining { sent: None } => return,
            Phase::Joining { .. } | Phase::Syncing { .. } => {
                self.rejoin_pending = Some(reason);
                return;
            }
            Phase::Stable | Phase::Idle { .. } => {}
            Phase::Leaving { .. } | Phase::Closed | Phase::Failed => return,
        }
        if self.subscription.is_none() {
            return;
        }
        if let Some(r) = &mut self.revoke {
            if let AfterRevoke::Rejoin(_) = r.then {
                r.then = AfterRevoke::Rejoin(reason);
            }
            return;
        }
        let to_revoke: BTreeSet<TopicPartition> = match self.rebalance {
            RebalanceProtocol::Eager => self.owned.clone(),
            RebalanceProtocol::Cooperative => self
                .owned
                .iter()
                .filter(|tp| !self.subscribed.contains(tp.topic()))
                .cloned()
                .collect(),
        };
        if to_revoke.is_empty() {
            self.send_join(now, reason);
        } else if self.stable {
            self.begin_revoke(now, to_revoke, AfterRevoke::Rejoin(reason));
        } else {
            // Outside a generation nothing can be committed: the partitions are lost.
            self.lose_some(&to_revoke);
            self.send_join(now, reason);
        }
    }

    /// Queues a JoinGroup: the member is no longer stable.
    pub(crate) fn send_join(&mut self, now: Instant, reason: &'static str) {
        let _ = now;
        tracing::debug!(group = %self.config.group_id, reason, "joining the group");
        self.phase = Phase::Joining { sent: None };
        self.join_reason = reason;
        self.rejoin_pending = None;
        self.set_unstable();
        self.stop_heartbeats();
    }

    fn static_min(&self, dynamic: i16, with_instance: i16) -> i16 {
        if self.config.group_instance_id.is_some() {
            with_instance
        } else {
            dynamic
        }
    }

    /// The subscription this member offers with each assignor.
    fn protocols(&self) -> Result<Vec<JoinGroupRequestProtocol>, GroupError> {
        let owned: Vec<(String, i32)> = match self.rebalance {
            // Eager members revoked everything before joining.
            RebalanceProtocol::Eager => Vec::new(),
            RebalanceProtocol::Cooperative => self
                .owned
                .iter()
                .map(|tp| (tp.topic().to_string(), tp.partition()))
                .collect(),
        };
        self.config
            .assignors
            .iter()
            .map(|a| {
                let subscription = ConsumerProtocolSubscription {
                    topics: self.subscribed.iter().cloned().collect(),
                    user_data: a.subscription_user_data(self.generation),
                    owned_partitions: assignor::group_partitions(&owned),
                    generation_id: self.generation,
                    rack_id: self.config.rack_id.clone(),
                    ..Default::default()
                };
                let metadata = subscription
                    .encode()
                    .map_err(|e| GroupError::Encode(e.to_string()))?;
                Ok(JoinGroupRequestProtocol {
                    name: a.name().to_string(),
                    metadata,
                    ..Default::default()
                })
            })
            .collect()
    }

    pub(crate) fn join_request(&mut self) -> Result<ClientRequest, GroupError> {
        self.joined_subscription = self.subscribed.clone();
        let body = JoinGroupRequest {
            group_id: self.config.group_id.clone(),
            session_timeout_ms: millis(self.config.session_timeout),
            rebalance_timeout_ms: millis(self.config.rebalance_timeout),
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            protocol_type: CONSUMER.to_string(),
            protocols: self.protocols()?,
            reason: Some(self.join_reason.to_string()),
            ..Default::default()
        };
        Ok(ClientRequest::new(
            ApiKey::JoinGroup,
            self.static_min(0, 5),
            9,
            move |_| RequestBody::JoinGroup(body.clone()),
        ))
    }

    pub(crate) fn sync_request(
        &self,
        assignments: Vec<SyncGroupRequestAssignment>,
    ) -> ClientRequest {
        let body = SyncGroupRequest {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            protocol_type: Some(CONSUMER.to_string()),
            protocol_name: self.protocol_name.clone(),
            assignments,
            ..Default::default()
        };
        ClientRequest::new(ApiKey::SyncGroup, self.static_min(0, 3), 5, move |_| {
            RequestBody::SyncGroup(body.clone())
        })
    }

    pub(crate) fn heartbeat_request(&self) -> ClientRequest {
        let body = HeartbeatRequest {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            ..Default::default()
        };
        ClientRequest::new(ApiKey::Heartbeat, self.static_min(0, 3), 4, move |_| {
            RequestBody::Heartbeat(body.clone())
        })
    }

    pub(crate) fn leave_request(&self, reason: LeaveReason) -> ClientRequest {
        tracing::debug!(
            group = %self.config.group_id,
            member_id = %self.member_id,
            ?reason,
            "leaving the group"
        );
        let group_id = self.config.group_id.clone();
        let member_id = self.member_id.clone();
        let instance = self.config.group_instance_id.clone();
        let why = match reason {
            LeaveReason::Closed => "the consumer is closing",
            LeaveReason::Unsubscribed => "the consumer unsubscribed",
            LeaveReason::MaxPollExceeded => {
                "the consumer did not poll within the max poll interval"
            }
        };
        ClientRequest::new(ApiKey::LeaveGroup, self.static_min(0, 3), 5, move |v| {
            let body = if v < 3 {
                LeaveGroupRequest {
                    group_id: group_id.clone(),
                    member_id: member_id.clone(),
                    ..Default::default()
                }
            } else {
                LeaveGroupRequest {
                    group_id: group_id.clone(),
                    members: vec![MemberIdentity {
                        member_id: member_id.clone(),
                        group_instance_id: instance.clone(),
                        reason: Some(why.to_string()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }
            };
            RequestBody::LeaveGroup(body)
        })
    }

    /// The assignor the coordinator chose.
    fn chosen_assignor(&self, name: Option<&str>) -> Result<&dyn Assignor, GroupError> {
        let name = name.unwrap_or_default();
        self.config
            .assignors
            .iter()
            .find(|a| a.name() == name)
            .map(|a| a.as_ref())
            .ok_or_else(|| {
                GroupError::InconsistentProtocol(format!(
                    "the coordinator chose protocol {name:?}, which this member did not offer"
                ))
            })
    }

    /// The leader's part: reads every member's subscription and computes the assignment from
    /// the partition counts known now. Returns the SyncGroup assignments and what they were
    /// based on.
    fn lead(
        &self,
        response: &JoinGroupResponse,
    ) -> Result<(Vec<SyncGroupRequestAssignment>, LeaderView), GroupError> {
        let mut version = MAX_VERSION;
        let members: Vec<MemberSubscription> = response
            .members
            .iter()
            .map(
                |m| match ConsumerProtocolSubscription::decode_versioned(&m.metadata) {
                    Ok((v, s)) => {
                        version = version.min(v.max(0));
                        MemberSubscription::from_protocol(
                            m.member_id.clone(),
                            m.group_instance_id.clone(),
                            &s,
                        )
                    }
                    // A member whose subscription cannot be read gets nothing, rather than
                    // stopping the whole group.
                    Err(_) => MemberSubscription {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        ..Default::default()
                    },
                },
            )
            .collect();
        let group_subscription: BTreeSet<String> = members
            .iter()
            .flat_map(|m| m.topics.iter().cloned())
            .collect();
        let counts: BTreeMap<String, i32> = group_subscription
            .iter()
            .filter_map(|t| {
                let count = self.metadata.get(t)?.partitions;
                (count > 0).then(|| (t.clone(), count))
            })
            .collect();
        let view = LeaderView {
            group_subscription,
            counts,
        };
        if response.skip_assignment {
            // The coordinator kept the assignment of a static leader that came back.
            return Ok((Vec::new(), view));
        }
        let assignor = self.chosen_assignor(response.protocol_name.as_deref())?;
        let racks: assignor::PartitionRacks = view
            .counts
            .keys()
            .filter_map(|t| Some((t, self.metadata.get(t)?)))
            .flat_map(|(t, info)| {
                info.replica_racks
                    .iter()
                    .map(move |(p, racks)| ((t.clone(), *p), racks.clone()))
            })
            .collect();
        let mut result = assignor.assign_with_racks(&members, &view.counts, &racks);
        assignor::check_assignment(assignor, self.rebalance, &members, &view.counts, &result)
            .map_err(|error| GroupError::InvalidAssignment {
                assignor: assignor.name().to_owned(),
                error,
            })?;
        // Every member hears from the leader, with nothing if the assignor left it out.
        for m in &members {
            result.entry(m.member_id.clone()).or_default();
        }
        let assignments = result
            .iter()
            .map(|(member_id, partitions)| {
                // Write the oldest version any member used, so that every member can read it.
                let assignment = assignor::assignment_to_protocol(partitions)
                    .encode_version(version)
                    .map_err(|e| GroupError::Encode(e.to_string()))?;
                Ok(SyncGroupRequestAssignment {
                    member_id: member_id.clone(),
                    assignment,
                    ..Default::default()
                })
            })
            .collect::<Result<_, GroupError>>()?;
        Ok((assignments, view))
    }

    /// Reacts to a failed join or sync by the error code's rule. `sync` tells which.
    fn join_or_sync_failed(&mut self, now: Instant, code: ErrorCode, member_id: &str) {
        match react(code) {
            Reaction::MemberIdRequired => {
                self.member_id = member_id.to_string();
                self.phase = Phase::Joining { sent: None };
            }
            Reaction::Rejoin => self.phase = Phase::Joining { sent: None },
            Reaction::IllegalGeneration => {
                self.generation = -1;
                self.leader = None;
                self.lose_all();
                self.phase = Phase::Joining { sent: None };
            }
            Reaction::UnknownMember => {
                self.generation = -1;
                self.member_id.clear();
                self.leader = None;
                self.lose_all();
                self.phase = Phase::Joining { sent: None };
            }
            Reaction::Rediscover => {
                self.phase = Phase::Joining { sent: None };
                self.forget_coordinator(now);
                self.backoff(now);
            }
            Reaction::Retry => {
                self.phase = Phase::Joining { sent: None };
                self.backoff(now);
            }
            Reaction::Fatal(e) => self.fail(e),
        }
    }

    pub(crate) fn on_join(&mut self, now: Instant, response: JoinGroupResponse) {
        if !response.error_code.is_ok() {
            let code = response.error_code;
            self.join_or_sync_failed(now, code, &response.member_id);
            return;
        }
        if response
            .protocol_type
            .as_deref()
            .is_some_and(|t| t != CONSUMER)
        {
            self.fail(GroupError::InconsistentProtocol(format!(
                "the coordinator answered for protocol type {:?}",
                response.protocol_type
            )));
            return;
        }
        if let Err(e) = self.chosen_assignor(response.protocol_name.as_deref()) {
            self.fail(e);
            return;
        }
        self.attempt = 0;
        self.not_before = None;
        self.member_id = response.member_id.clone();
        let previous = std::mem::replace(&mut self.generation, response.generation_id);
        self.protocol_name = response.protocol_name.clone();
        tracing::debug!(
            group = %self.config.group_id,
            generation = self.generation,
            previous_generation = previous,
            member_id = %self.member_id,
            leader = response.leader == response.member_id,
            protocol = self.protocol_name.as_deref().unwrap_or(""),
            "joined the group; syncing"
        );
        let assignments = if response.leader == response.member_id {
            match self.lead(&response) {
                Ok((assignments, view)) => {
                    self.leader = Some(view);
                    assignments
                }
                Err(e) => {
                    self.fail(e);
                    return;
                }
            }
        } else {
            self.leader = None;
            Vec::new()
        };
        self.phase = Phase::Syncing {
            sent: None,
            assignments,
        };
    }

    pub(crate) fn on_sync(&mut self, now: Instant, sent_at: Instant, response: SyncGroupResponse) {
        if !response.error_code.is_ok() {
            self.join_or_sync_failed(now, response.error_code, "");
            return;
        }
        if let (Some(ours), Some(theirs)) = (&self.protocol_name, &response.protocol_name) {
            if ours != theirs {
                self.fail(GroupError::InconsistentProtocol(format!(
                    "joined with protocol {ours:?}, synced with {theirs:?}"
                )));
                return;
            }
        }
        let assigned = if response.assignment.is_empty() {
            Vec::new()
        } else {
            match ConsumerProtocolAssignment::decode(&response.assignment) {
                Ok(a) => assignor::flatten_partitions(&a.assigned_partitions),
                Err(e) => {
                    self.fail(GroupError::MalformedAssignment(e.to_string()));
                    return;
                }
            }
        };
        let assigned: BTreeSet<TopicPartition> = assigned
            .into_iter()
            .map(|(t, p)| TopicPartition::new(t, p))
            .collect();
        tracing::debug!(
            group = %self.config.group_id,
            generation = self.generation,
            partitions = %Listed(&assigned),
            "assignment received"
        );
        self.attempt = 0;
        self.not_before = None;
        self.phase = Phase::Stable;
        self.session_deadline = Some(after(sent_at, self.config.session_timeout));
        self.hb_next = Some(after(now, self.hb_interval));
        if assigned
            .iter()
            .any(|tp| !self.subscribed.contains(tp.topic()))
        {
            // As Java: an assignment of topics this member no longer wants is not applied;
            // rejoin so that the leader sees the current subscription.
            self.set_stable();
            self.emit(GroupEvent::Assigned(Vec::new()));
            self.classic_rejoin(now, "the assignment does not match the subscription");
            return;
        }
        let added: Vec<TopicPartition> = assigned
            .iter()
            .filter(|tp| !self.owned.contains(*tp))
            .cloned()
            .collect();
        let removed: BTreeSet<TopicPartition> = self
            .owned
            .iter()
            .filter(|tp| !assigned.contains(*tp))
            .cloned()
            .collect();
        self.owned.extend(added.iter().cloned());
        self.set_stable();
        self.emit(GroupEvent::Assigned(added));
        if !removed.is_empty() {
            // Cooperative, first phase: give these up, then rejoin so that the leader can
            // hand them to their new owners.
            self.begin_revoke(
                now,
                removed,
                AfterRevoke::Rejoin("partitions were revoked in a cooperative rebalance"),
            );
        } else if let Some(reason) = self.rejoin_pending.take() {
            self.classic_rejoin(now, reason);
        }
    }

    pub(crate) fn on_heartbeat(
        &mut self,
        now: Instant,
        sent_at: Instant,
        response: HeartbeatResponse,
    ) {
        let code = response.error_code;
        if code.is_ok() {
            self.attempt = 0;
            self.not_before = None;
            self.session_deadline = Some(after(sent_at, self.config.session_timeout));
            return;
        }
        match react(code) {
            Reaction::Rejoin | Reaction::MemberIdRequired => {
                // The coordinator still counts the member in (as Java's consumer, keep the
                // session alive while a revocation delays the rejoin).
                if code == ErrorCode::REBALANCE_IN_PROGRESS {
                    self.session_deadline = Some(after(sent_at, self.config.session_timeout));
                }
                self.classic_rejoin(now, "the group is rebalancing")
            }
            Reaction::IllegalGeneration => {
                self.generation = -1;
                self.leader = None;
                self.after_loss(now);
            }
            Reaction::UnknownMember => {
                self.generation = -1;
                self.member_id.clear();
                self.leader = None;
                self.after_loss(now);
            }
            Reaction::Rediscover => {
                self.forget_coordinator(now);
                self.backoff(now);
                self.hb_next = self.not_before;
            }
            Reaction::Retry => {
                self.backoff(now);
                self.hb_next = self.not_before;
            }
            Reaction::Fatal(e) => self.fail(e),
        }
    }

    /// The member's generation is gone: partitions lost; a pending leave goes on, anything
    /// else rejoins.
    pub(crate) fn after_loss(&mut self, now: Instant) {
        let then = self.lose_all();
        match then {
            Some(AfterRevoke::Leave(reason)) => self.leave(now, reason),
            _ => {
                // Leaving a generation that no longer exists: straight to a fresh join.
                self.phase = Phase::Idle {
                    rejoin_on_poll: false,
                };
                self.stop_heartbeats();
                if self.subscription.is_some() {
                    self.send_join(now, "the member's generation ended");
                }
            }
        }
    }

    /// A classic request failed in transport.
    pub(crate) fn classic_failed(
        &mut self,
        now: Instant,
        kind: super::membership::Kind,
        failure: RequestFailed,
    ) {
        use super::membership::Kind;
        if let RequestFailed::Unsupported(e) = &failure {
            self.fail(GroupError::Unsupported(e.to_string()));
            return;
        }
        if let RequestFailed::Encode(e) = &failure {
            self.fail(GroupError::Encode(e.to_string()));
            return;
        }
        if let RequestFailed::Broker(code) = failure {
            if !code.is_retriable() {
                self.fail(GroupError::from_code(code));
                return;
            }
        }
        match kind {
            Kind::Join | Kind::Sync => {
                // A sync that failed means rejoining (Java does the same).
                self.phase = Phase::Joining { sent: None };
                self.forget_coordinator(now);
                self.backoff(now);
            }
            Kind::Heartbeat => {
                self.forget_coordinator(now);
                self.backoff(now);
                self.hb_next = self.not_before;
            }
            Kind::Leave => {
                if let Phase::Leaving { reason, .. } = self.phase {
                    self.finish_leaving(now, reason);
                }
            }
            Kind::ConsumerHeartbeat => {}
        }
    }
}

/// A duration in whole milliseconds, as Kafka's 32-bit fields carry it (validated to fit).
pub(crate) fn millis(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

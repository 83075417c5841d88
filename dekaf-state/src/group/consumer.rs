//! The member side of the consumer group protocol (KIP-848): one ConsumerGroupHeartbeat
//! request joins, heartbeats, reports the partitions owned and leaves; the coordinator computes
//! the assignment and the member reconciles towards it (revoke first, then assign, then
//! acknowledge with the next heartbeat).
//!
//! Verified in simulation only: no broker available to this project speaks this protocol.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use dekaf_proto::messages::consumer_group_heartbeat::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicPartitions,
};
use dekaf_proto::messages::RequestBody;
use dekaf_proto::wire::Uuid;
use dekaf_proto::{ApiKey, ErrorCode};

use crate::client::{ClientRequest, RequestFailed};
use crate::offset::{Rng, TopicPartition};

use super::classic::millis;
use super::error::GroupError;
use super::membership::{after, AfterRevoke, GroupMembership, Phase};
use super::types::GroupEvent;

/// The epoch a member leaves with for good.
const LEAVE_EPOCH: i32 = -1;
/// The epoch a static member leaves with when it means to come back.
const LEAVE_STATIC_EPOCH: i32 = -2;

/// What one heartbeat told the coordinator beyond the epoch (None: "unchanged").
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    pub(crate) subscription: Option<BTreeSet<String>>,
    pub(crate) owned: Option<BTreeSet<TopicPartition>>,
}

/// The consumer protocol's part of the member's state.
#[derive(Clone, Debug)]
pub(crate) struct Kip848 {
    /// Made by the member (KIP-1082) and kept for its whole life.
    pub(crate) member_id: String,
    /// The latest assignment the coordinator sent, by topic id.
    pub(crate) target: Option<BTreeSet<(Uuid, i32)>>,
    /// What the coordinator acknowledged: the subscription and owned partitions it knows.
    pub(crate) acked: Fields,
    /// Heartbeat as soon as possible (something changed, or a retry).
    pub(crate) send_now: bool,
    /// Whether `Assigned` was emitted since the member joined.
    pub(crate) assigned_since_join: bool,
    /// The id of each topic the member owns partitions of.
    pub(crate) topic_ids: HashMap<String, Uuid>,
}

impl Kip848 {
    pub(crate) fn new(rng: &mut Rng) -> Self {
        Kip848 {
            member_id: random_member_id(rng),
            target: None,
            acked: Fields {
                subscription: None,
                owned: None,
            },
            send_now: false,
            assigned_since_join: false,
            topic_ids: HashMap::new(),
        }
    }
}

/// A random id written as Kafka writes UUIDs: 22 characters of URL-safe base64.
fn random_member_id(rng: &mut Rng) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
    (0..22)
        .map(|i| {
            let shift = 128i32 - 6 * (i + 1);
            let six = if shift >= 0 {
                (bits >> shift) & 0x3f
            } else {
                (bits << -shift) & 0x3f
            };
            char::from(ALPHABET[six as usize])
        })
        .collect()
}

fn to_wire(owned: &BTreeSet<TopicPartition>, ids: &HashMap<String, Uuid>) -> Vec<TopicPartitions> {
    let mut by_topic: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
    for tp in owned {
        if let Some(id) = ids.get(tp.topic()) {
            by_topic.entry(*id).or_default().push(tp.partition());
        }
    }
    by_topic
        .into_iter()
        .map(|(topic_id, partitions)| TopicPartitions {
            topic_id,
            partitions,
            ..Default::default()
        })
        .collect()
}

impl GroupMembership {
    /// Joins with epoch 0 (a full heartbeat).
    pub(crate) fn kip848_join(&mut self, _now: Instant) {
        self.generation = 0;
        self.phase = Phase::Joining { sent: None };
        self.kip848.acked = Fields {
            subscription: None,
            owned: None,
        };
        self.kip848.target = None;
        self.kip848.send_now = true;
        self.kip848.assigned_since_join = false;
        self.hb_in_flight = None;
    }

    /// Forgets the epoch and what the coordinator knew (after leaving or being fenced).
    pub(crate) fn kip848_reset(&mut self) {
        self.member_id = self.kip848.member_id.clone();
        self.kip848.target = None;
        self.kip848.acked = Fields {
            subscription: None,
            owned: None,
        };
        self.kip848.send_now = false;
        self.hb_interval = self.config.heartbeat_interval;
    }

    /// Whether the target assignment names a topic id the metadata did not give yet.
    pub(crate) fn kip848_unresolved(&self) -> bool {
        self.kip848
            .target
            .as_ref()
            .is_some_and(|t| t.iter().any(|(id, _)| !self.topic_names.contains_key(id)))
    }

    pub(crate) fn kip848_subscription_changed(&mut self, _now: Instant) {
        if matches!(self.phase, Phase::Stable) {
            self.kip848.send_now = true;
        }
    }

    pub(crate) fn kip848_metadata(&mut self, now: Instant) {
        self.reconcile(now);
    }

    /// A revocation was confirmed: acknowledge it and go on towards the target.
    pub(crate) fn kip848_revoked(&mut self, now: Instant) {
        self.kip848.send_now = true;
        self.reconcile(now);
    }

    /// Moves the owned partitions towards the target: first revoke what is no longer
    /// assigned (and wait for the confirmation), then assign what is new; the next heartbeat
    /// acknowledges.
    pub(crate) fn reconcile(&mut self, _now: Instant) {
        if self.revoke.is_some() || self.phase != Phase::Stable {
            return;
        }
        let Some(target) = &self.kip848.target else {
            return;
        };
        let mut desired = BTreeSet::new();
        for (id, p) in target {
            if let Some(name) = self.topic_names.get(id) {
                self.kip848.topic_ids.insert(name.clone(), *id);
                desired.insert(TopicPartition::new(name.as_str(), *p));
            }
        }
        let revoke: BTreeSet<TopicPartition> = self.owned.difference(&desired).cloned().collect();
        if !revoke.is_empty() {
            self.begin_revoke(_now, revoke, AfterRevoke::Reconcile);
            return;
        }
        let add: Vec<TopicPartition> = desired.difference(&self.owned).cloned().collect();
        if !add.is_empty() || !self.kip848.assigned_since_join {
            self.owned.extend(add.iter().cloned());
            self.kip848.assigned_since_join = true;
            self.emit(GroupEvent::Assigned(add));
        }
        if self.kip848.acked.owned.as_ref() != Some(&self.owned) {
            self.kip848.send_now = true;
        }
    }

    /// Whether a heartbeat is due at `now`.
    pub(crate) fn kip848_due(&self, now: Instant) -> bool {
        if self.hb_in_flight.is_some() || self.not_before.is_some_and(|t| t > now) {
            return false;
        }
        match self.phase {
            Phase::Joining { sent: None } | Phase::Leaving { sent: None, .. } => true,
            Phase::Stable => self.kip848.send_now || self.hb_next.is_none_or(|t| t <= now),
            _ => false,
        }
    }

    /// The next heartbeat, and what it tells the coordinator.
    pub(crate) fn kip848_request(&mut self) -> (ClientRequest, Fields) {
        let leaving = matches!(self.phase, Phase::Leaving { .. });
        let epoch = if leaving {
            if self.config.group_instance_id.is_some() {
                LEAVE_STATIC_EPOCH
            } else {
                LEAVE_EPOCH
            }
        } else {
            self.generation.max(0)
        };
        let full = epoch == 0;
        let acked = &self.kip848.acked;
        let fields = if leaving {
            Fields {
                subscription: None,
                owned: None,
            }
        } else {
            Fields {
                subscription: (full || acked.subscription.as_ref() != Some(&self.subscribed))
                    .then(|| self.subscribed.clone()),
                owned: (full || acked.owned.as_ref() != Some(&self.owned))
                    .then(|| self.owned.clone()),
            }
        };
        let body = ConsumerGroupHeartbeatRequest {
            group_id: self.config.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: epoch,
            instance_id: self.config.group_instance_id.clone(),
            rack_id: if full {
                self.config.rack_id.clone()
            } else {
                None
            },
            rebalance_timeout_ms: if full {
                millis(self.config.rebalance_timeout)
            } else {
                -1
            },
            subscribed_topic_names: fields
                .subscription
                .as_ref()
                .map(|s| s.iter().cloned().collect()),
            subscribed_topic_regex: None,
            server_assignor: if full {
                self.config.server_assignor.clone()
            } else {
                None
            },
            topic_partitions: fields
                .owned
                .as_ref()
                .map(|o| to_wire(o, &self.kip848.topic_ids)),
            ..Default::default()
        };
        self.kip848.send_now = false;
        let request = ClientRequest::new(ApiKey::ConsumerGroupHeartbeat, 0, 1, move |_| {
            RequestBody::ConsumerGroupHeartbeat(body.clone())
        });
        (request, fields)
    }

    pub(crate) fn on_consumer_heartbeat(
        &mut self,
        now: Instant,
        sent_at: Instant,
        fields: Fields,
        response: ConsumerGroupHeartbeatResponse,
    ) {
        if let Phase::Leaving { reason, .. } = self.phase {
            self.finish_leaving(now, reason);
            return;
        }
        let code = response.error_code;
        if code.is_ok() {
            self.attempt = 0;
            self.not_before = None;
            // The coordinator heard the member no earlier than this heartbeat was sent: its
            // session lasts at least that long.
            self.session_deadline = Some(after(sent_at, self.config.session_timeout));
            if let Some(id) = response.member_id.filter(|id| !id.is_empty()) {
                self.member_id = id;
            }
            if response.heartbeat_interval_ms > 0 {
                self.hb_interval = Duration::from_millis(response.heartbeat_interval_ms as u64);
            }
            if fields.subscription.is_some() {
                self.kip848.acked.subscription = fields.subscription;
            }
            if fields.owned.is_some() {
                self.kip848.acked.owned = fields.owned;
            }
            self.hb_next = Some(after(now, self.hb_interval));
            if response.member_epoch > 0 && response.member_epoch != self.generation {
                self.generation = response.member_epoch;
                match self.phase {
                    Phase::Joining { .. } => {
                        self.phase = Phase::Stable;
                        self.set_stable();
                    }
                    // Commits carry the epoch: tell the consumer it moved on, so that a
                    // commit refused for the old one can go again.
                    Phase::Stable if self.stable => self.set_stable(),
                    _ => {}
                }
            }
            if let Some(a) = response.assignment {
                self.kip848.target = Some(
                    a.topic_partitions
                        .iter()
                        .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, *p)))
                        .collect(),
                );
            }
            self.reconcile(now);
            return;
        }
        match code {
            ErrorCode::STALE_MEMBER_EPOCH => {
                // Retry at once with the epoch the member has, telling everything again.
                self.kip848.acked = Fields {
                    subscription: None,
                    owned: None,
                };
                self.kip848.send_now = true;
                self.restore_phase();
            }
            ErrorCode::FENCED_MEMBER_EPOCH | ErrorCode::UNKNOWN_MEMBER_ID => self.fenced(now),
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                self.forget_coordinator(now);
                self.kip848.send_now = true;
                self.restore_phase();
            }
            c if c.is_retriable() => {
                self.backoff(now);
                self.kip848.send_now = true;
                self.restore_phase();
            }
            c => self.fail(GroupError::from_code(c)),
        }
    }

    /// After a heartbeat that changed nothing, a join is still to be sent.
    fn restore_phase(&mut self) {
        if let Phase::Joining { sent: Some(_) } = self.phase {
            self.phase = Phase::Joining { sent: None };
        }
    }

    /// The coordinator fenced the member: partitions lost, rejoin with epoch 0 and the same
    /// member id.
    fn fenced(&mut self, now: Instant) {
        self.generation = 0;
        let then = self.lose_all();
        if let Some(AfterRevoke::Leave(reason)) = then {
            self.leave(now, reason);
            return;
        }
        self.phase = Phase::Idle {
            rejoin_on_poll: false,
        };
        self.kip848_reset();
        if self.subscription.is_some() {
            self.kip848_join(now);
        }
    }

    pub(crate) fn consumer_failed(&mut self, now: Instant, failure: RequestFailed) {
        if let Phase::Leaving { reason, .. } = self.phase {
            self.finish_leaving(now, reason);
            return;
        }
        match failure {
            RequestFailed::Unsupported(e) => self.fail(GroupError::Unsupported(e.to_string())),
            RequestFailed::Encode(e) => self.fail(GroupError::Encode(e.to_string())),
            RequestFailed::Broker(code) if !code.is_retriable() => {
                self.fail(GroupError::from_code(code))
            }
            _ => {
                self.forget_coordinator(now);
                self.backoff(now);
                self.kip848.send_now = true;
                self.restore_phase();
            }
        }
    }

    /// The revocation deadline passed in the consumer protocol: the coordinator fences such a
    /// member at its rebalance timeout, so the member gives everything up and rejoins.
    pub(crate) fn kip848_revoke_expired(&mut self, now: Instant) {
        self.fenced(now);
    }

    /// No heartbeat got through for a whole session in the consumer protocol: the
    /// coordinator has removed the member by now (if its `group.consumer.session.timeout.ms`
    /// is no longer than the member's session timeout) and handed its partitions on, so the
    /// member gives everything up and rejoins, as if fenced.
    pub(crate) fn kip848_session_expired(&mut self, now: Instant) {
        self.fenced(now);
    }
}

//! An in-memory coordinator for the consumer group protocol (KIP-848), reduced to the rules a
//! member can observe:
//! - a member joins with epoch 0 and is answered with the group's epoch; any change of members
//!   or subscriptions bumps the group epoch and recomputes the target assignment (a range
//!   assignment over the members in member id order);
//! - a member is given a partition of its target only once no other member owns it (by its
//!   last report) or was given it (by the last answer), and must first report that it gave up
//!   what is no longer in its target; its epoch catches up with the group's once nothing is
//!   left to revoke;
//! - a heartbeat with another epoch is FENCED_MEMBER_EPOCH, an unknown member
//!   UNKNOWN_MEMBER_ID; epoch -1 or -2 leaves;
//! - a member not heard from for the session timeout, or that does not give up partitions
//!   within its rebalance timeout, is removed;
//! - OffsetCommit must carry the member's current epoch (else STALE_MEMBER_EPOCH).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use dekaf_proto::messages::consumer_group_heartbeat::{
    Assignment, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, TopicPartitions,
};
use dekaf_proto::wire::Uuid;
use dekaf_proto::ErrorCode;

type Part = (Uuid, i32);

/// The id the simulated cluster gives a topic.
pub fn topic_id(name: &str) -> Uuid {
    let mut id = [0u8; 16];
    for (i, b) in name.bytes().enumerate() {
        id[i % 16] = id[i % 16].wrapping_mul(31).wrapping_add(b);
    }
    id[15] |= 1;
    Uuid(id)
}

#[derive(Debug)]
struct Member {
    epoch: i32,
    instance: Option<String>,
    subscribed: BTreeSet<String>,
    owned: BTreeSet<Part>,
    last_seen: Instant,
    rebalance: Duration,
    sent: Option<BTreeSet<Part>>,
    revoke_since: Option<Instant>,
}

pub struct ConsumerCoordinator {
    pub group_epoch: i32,
    members: BTreeMap<String, Member>,
    topics: BTreeMap<String, i32>,
    /// Topic ids given by the cluster (else [`topic_id`] of the name).
    ids: BTreeMap<String, Uuid>,
    target: BTreeMap<String, BTreeSet<Part>>,
    pub session: Duration,
    pub interval: Duration,
}

fn parts(list: &[TopicPartitions]) -> BTreeSet<Part> {
    list.iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, *p)))
        .collect()
}

fn wire(parts: &BTreeSet<Part>) -> Vec<TopicPartitions> {
    let mut by: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
    for (t, p) in parts {
        by.entry(*t).or_default().push(*p);
    }
    by.into_iter()
        .map(|(topic_id, partitions)| TopicPartitions {
            topic_id,
            partitions,
            ..Default::default()
        })
        .collect()
}

impl ConsumerCoordinator {
    pub fn new(session: Duration) -> Self {
        ConsumerCoordinator {
            group_epoch: 0,
            members: BTreeMap::new(),
            topics: BTreeMap::new(),
            ids: BTreeMap::new(),
            target: BTreeMap::new(),
            session,
            interval: Duration::from_secs(1),
        }
    }

    pub fn member_ids(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    /// The cluster's topics, with the ids its metadata gives.
    pub fn set_topics_with_ids(&mut self, topics: &BTreeMap<String, (Uuid, i32)>) {
        self.ids = topics.iter().map(|(t, (id, _))| (t.clone(), *id)).collect();
        let counts = topics.iter().map(|(t, (_, n))| (t.clone(), *n)).collect();
        self.set_topics(&counts);
    }

    fn id_of(&self, topic: &str) -> Uuid {
        self.ids
            .get(topic)
            .copied()
            .unwrap_or_else(|| topic_id(topic))
    }

    /// The cluster's topics changed.
    pub fn set_topics(&mut self, topics: &BTreeMap<String, i32>) {
        if self.topics != *topics {
            self.topics = topics.clone();
            self.bump();
        }
    }

    fn bump(&mut self) {
        self.group_epoch += 1;
        self.target.clear();
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in &ids {
            self.target.insert(id.clone(), BTreeSet::new());
        }
        for (topic, count) in &self.topics {
            let subs: Vec<&String> = ids
                .iter()
                .filter(|id| self.members[*id].subscribed.contains(topic))
                .collect();
            if subs.is_empty() {
                continue;
            }
            let n = subs.len() as i32;
            let (per, extra) = (count / n, count % n);
            let mut next = 0;
            let topic_uuid = self.id_of(topic);
            for (i, id) in subs.iter().enumerate() {
                let take = per + i32::from((i as i32) < extra);
                let t = self.target.entry((*id).clone()).or_default();
                for p in next..next + take {
                    t.insert((topic_uuid, p));
                }
                next += take;
            }
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.members
            .values()
            .flat_map(|m| {
                [
                    Some(m.last_seen + self.session),
                    m.revoke_since.map(|t| t + m.rebalance),
                ]
            })
            .flatten()
            .min()
    }

    pub fn tick(&mut self, now: Instant) {
        let session = self.session;
        let before = self.members.len();
        self.members.retain(|_, m| {
            m.last_seen + session > now && m.revoke_since.is_none_or(|t| t + m.rebalance > now)
        });
        if self.members.len() != before {
            self.bump();
        }
    }

    pub fn heartbeat(
        &mut self,
        now: Instant,
        r: ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        let error = |code| ConsumerGroupHeartbeatResponse {
            error_code: code,
            ..Default::default()
        };
        match r.member_epoch {
            -1 | -2 => {
                if self.members.remove(&r.member_id).is_some() {
                    self.bump();
                }
                return ConsumerGroupHeartbeatResponse {
                    member_id: Some(r.member_id),
                    member_epoch: r.member_epoch,
                    ..Default::default()
                };
            }
            0 => {
                // A static member coming back replaces its old self.
                if let Some(inst) = &r.instance_id {
                    let old: Vec<String> = self
                        .members
                        .iter()
                        .filter(|(id, m)| m.instance.as_ref() == Some(inst) && **id != r.member_id)
                        .map(|(id, _)| id.clone())
                        .collect();
                    for id in old {
                        self.members.remove(&id);
                    }
                }
                let Some(subscribed) = &r.subscribed_topic_names else {
                    return error(ErrorCode::INVALID_REQUEST);
                };
                self.members.insert(
                    r.member_id.clone(),
                    Member {
                        epoch: 0,
                        instance: r.instance_id.clone(),
                        subscribed: subscribed.iter().cloned().collect(),
                        owned: parts(r.topic_partitions.as_deref().unwrap_or_default()),
                        last_seen: now,
                        rebalance: Duration::from_millis(r.rebalance_timeout_ms.max(0) as u64),
                        sent: None,
                        revoke_since: None,
                    },
                );
                self.bump();
                let group_epoch = self.group_epoch;
                if let Some(m) = self.members.get_mut(&r.member_id) {
                    m.epoch = group_epoch;
                }
            }
            epoch => {
                let Some(m) = self.members.get_mut(&r.member_id) else {
                    return error(ErrorCode::UNKNOWN_MEMBER_ID);
                };
                if epoch != m.epoch {
                    return error(ErrorCode::FENCED_MEMBER_EPOCH);
                }
                m.last_seen = now;
                if let Some(owned) = &r.topic_partitions {
                    m.owned = parts(owned);
                }
                if let Some(s) = &r.subscribed_topic_names {
                    let s: BTreeSet<String> = s.iter().cloned().collect();
                    if s != m.subscribed {
                        m.subscribed = s;
                        self.bump();
                    }
                }
            }
        }
        let id = r.member_id.clone();
        let others: BTreeSet<Part> = self
            .members
            .iter()
            .filter(|(i, _)| **i != id)
            .flat_map(|(_, m)| m.owned.iter().chain(m.sent.iter().flatten()).copied())
            .collect();
        let desired = self.target.get(&id).cloned().unwrap_or_default();
        let group_epoch = self.group_epoch;
        let m = self.members.get_mut(&id).expect("just checked");
        let keep: BTreeSet<Part> = m.owned.intersection(&desired).copied().collect();
        let assignment = if m.owned.iter().any(|p| !desired.contains(p)) {
            m.revoke_since.get_or_insert(now);
            keep
        } else {
            m.revoke_since = None;
            m.epoch = group_epoch;
            desired.difference(&others).copied().chain(keep).collect()
        };
        let changed = m.sent.as_ref() != Some(&assignment);
        m.sent = Some(assignment.clone());
        ConsumerGroupHeartbeatResponse {
            member_id: Some(id),
            member_epoch: m.epoch,
            heartbeat_interval_ms: self.interval.as_millis() as i32,
            assignment: changed.then(|| Assignment {
                topic_partitions: wire(&assignment),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Checks an OffsetCommit's member and epoch.
    pub fn commit(&self, epoch: i32, member_id: &str) -> ErrorCode {
        match self.members.get(member_id) {
            None => ErrorCode::UNKNOWN_MEMBER_ID,
            Some(m) if m.epoch != epoch => ErrorCode::STALE_MEMBER_EPOCH,
            Some(_) => ErrorCode::NONE,
        }
    }
}

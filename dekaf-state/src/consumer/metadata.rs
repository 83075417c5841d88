//! The consumer's view of the cluster: brokers, and for each topic it needs the id and each
//! partition's leader and leader epoch. Refreshed at start, when it gets old, and when a broker
//! says the view is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use dekaf_proto::messages::MetadataResponse;
use dekaf_proto::wire::Uuid;
use dekaf_proto::ErrorCode;

use crate::client::{BrokerAddress, BrokerId, RequestId};
use crate::offset::TopicPartition;

/// One partition's leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PartitionMeta {
    /// -1 when there is none.
    pub(crate) leader: BrokerId,
    /// -1 when the broker did not say (versions before 7).
    pub(crate) leader_epoch: i32,
    pub(crate) error: ErrorCode,
}

/// One topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TopicMeta {
    /// Zero before Metadata v10.
    pub(crate) id: Uuid,
    pub(crate) partitions: BTreeMap<i32, PartitionMeta>,
    /// Each partition's replicas (broker ids), as Metadata lists them.
    pub(crate) replicas: BTreeMap<i32, Vec<BrokerId>>,
}

/// The metadata cache and its refresh schedule.
#[derive(Debug, Default)]
pub(crate) struct Metadata {
    pub(crate) brokers: BTreeMap<BrokerId, BrokerAddress>,
    /// The racks of the brokers that have one.
    pub(crate) racks: BTreeMap<BrokerId, String>,
    pub(crate) topics: BTreeMap<String, TopicMeta>,
    /// Topics the broker refused or does not know, with its code.
    pub(crate) topic_errors: BTreeMap<String, ErrorCode>,
    /// Topics asked for by the last answered request.
    pub(crate) asked: BTreeSet<String>,
    pub(crate) refreshed_at: Option<Instant>,
    /// Refresh as soon as the backoff allows.
    pub(crate) needed: bool,
    pub(crate) not_before: Option<Instant>,
    pub(crate) attempt: u32,
    pub(crate) in_flight: Option<RequestId>,
}

impl Metadata {
    /// The leader of `tp` and its epoch, if there is one.
    pub(crate) fn leader(&self, tp: &TopicPartition) -> Option<(BrokerId, i32)> {
        let p = self
            .topics
            .get(tp.topic())?
            .partitions
            .get(&tp.partition())?;
        (p.leader >= 0).then_some((p.leader, p.leader_epoch))
    }

    /// The topic's id, if metadata gave one.
    pub(crate) fn topic_id(&self, topic: &str) -> Option<Uuid> {
        self.topics
            .get(topic)
            .map(|t| t.id)
            .filter(|id| !id.is_zero())
    }

    /// Asks for a refresh as soon as the backoff allows.
    pub(crate) fn request_update(&mut self) {
        self.needed = true;
    }

    /// Whether a refresh should be sent at `now` for the topics in `wanted`.
    pub(crate) fn is_due(
        &self,
        now: Instant,
        wanted: &BTreeSet<String>,
        max_age: Duration,
    ) -> bool {
        if self.in_flight.is_some() || wanted.is_empty() {
            return false;
        }
        if self.not_before.is_some_and(|t| t > now) {
            return false;
        }
        self.needed
            || wanted.iter().any(|t| !self.asked.contains(t))
            || self
                .refreshed_at
                .is_none_or(|at| at.checked_add(max_age).is_none_or(|due| due <= now))
    }

    /// When the schedule next needs attention, if it does.
    pub(crate) fn next_timeout(&self, max_age: Duration) -> Option<Instant> {
        if self.in_flight.is_some() {
            return None;
        }
        if let Some(t) = self.not_before {
            return Some(t);
        }
        if self.needed {
            return None;
        }
        self.refreshed_at.and_then(|at| at.checked_add(max_age))
    }

    /// Time passed: ends the backoff, and marks old metadata as needing a refresh.
    pub(crate) fn handle_timeout(&mut self, now: Instant, max_age: Duration) {
        if self.not_before.is_some_and(|t| t <= now) {
            self.not_before = None;
        }
        if self
            .refreshed_at
            .is_some_and(|at| at.checked_add(max_age).is_none_or(|due| due <= now))
        {
            self.needed = true;
        }
    }

    /// A refresh failed or left problems: try again after `delay`.
    pub(crate) fn retry_after(&mut self, now: Instant, delay: Duration) {
        self.needed = true;
        self.attempt = self.attempt.saturating_add(1);
        self.not_before = now.checked_add(delay);
    }

    /// Takes in an answer to a request for `requested`.
    pub(crate) fn apply(&mut self, now: Instant, requested: &[String], resp: &MetadataResponse) {
        if !resp.brokers.is_empty() {
            self.brokers = resp
                .brokers
                .iter()
                .filter_map(|b| {
                    let port = u16::try_from(b.port).ok()?;
                    Some((
                        b.node_id,
                        BrokerAddress {
                            host: b.host.clone(),
                            port,
                        },
                    ))
                })
                .collect();
            self.racks = resp
                .brokers
                .iter()
                .filter_map(|b| Some((b.node_id, b.rack.clone()?)))
                .collect();
        }
        let mut seen = BTreeSet::new();
        for t in &resp.topics {
            let Some(name) = t.name.clone() else { continue };
            seen.insert(name.clone());
            if !t.error_code.is_ok() {
                self.topics.remove(&name);
                self.topic_errors.insert(name, t.error_code);
                continue;
            }
            self.topic_errors.remove(&name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        PartitionMeta {
                            leader: p.leader_id,
                            leader_epoch: p.leader_epoch,
                            error: p.error_code,
                        },
                    )
                })
                .collect();
            let replicas = t
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.replica_nodes.clone()))
                .collect();
            self.topics.insert(
                name,
                TopicMeta {
                    id: t.topic_id,
                    partitions,
                    replicas,
                },
            );
        }
        for name in requested {
            if !seen.contains(name) {
                self.topics.remove(name);
                self.topic_errors
                    .insert(name.clone(), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            }
        }
        self.asked = requested.iter().cloned().collect();
        self.refreshed_at = Some(now);
        self.needed = false;
        self.not_before = None;
    }
}

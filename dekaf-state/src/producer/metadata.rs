//! What the producer knows of the cluster: brokers, and for each topic it writes to, its
//! partitions and their leaders. Refreshed on demand (new topic, leader moved) and by age.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dekaf_proto::messages::metadata::MetadataRequestTopic;
use dekaf_proto::messages::{MetadataRequest, MetadataResponse, RequestBody};
use dekaf_proto::{ApiKey, ErrorCode};

use super::attempt::after;
use super::types::Topic;
use crate::client::{BrokerAddress, BrokerId, ClientRequest, RequestId};
use crate::offset::{Backoff, Rng};

/// One topic as the last answer described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TopicInfo {
    /// Asked for, not answered yet.
    Unknown,
    /// The broker named an error for the whole topic.
    Error(ErrorCode),
    /// The partitions: the leader of each, by index (`None`: no leader now).
    Known {
        leaders: Vec<Option<BrokerId>>,
        /// Partitions that have a leader, for sticky picks.
        available: Vec<i32>,
    },
}

#[derive(Debug)]
pub(crate) struct Metadata {
    brokers: HashMap<BrokerId, BrokerAddress>,
    topics: HashMap<Topic, TopicInfo>,
    in_flight: Option<RequestId>,
    /// A refresh is wanted (new topic, leader moved, error).
    stale: bool,
    /// No request before this (backoff after a refresh or a failure).
    not_before: Option<Instant>,
    last_refresh: Option<Instant>,
    failures: u32,
    max_age: Duration,
    auto_create: bool,
}

impl Metadata {
    pub(crate) fn new(max_age: Duration, auto_create: bool) -> Self {
        Metadata {
            brokers: HashMap::new(),
            topics: HashMap::new(),
            in_flight: None,
            stale: false,
            not_before: None,
            last_refresh: None,
            failures: 0,
            max_age,
            auto_create,
        }
    }

    /// The shared name of `topic`, registering it (and asking for a refresh) when new.
    pub(crate) fn intern(&mut self, topic: &str) -> Topic {
        if let Some((name, _)) = self.topics.get_key_value(topic) {
            return name.clone();
        }
        let name: Topic = Topic::from(topic);
        self.topics.insert(name.clone(), TopicInfo::Unknown);
        self.stale = true;
        // A new topic is looked up at once, not after the backoff of an earlier refresh.
        self.not_before = None;
        name
    }

    pub(crate) fn topic(&self, topic: &str) -> Option<&TopicInfo> {
        self.topics.get(topic)
    }

    /// The number of partitions of a known topic.
    pub(crate) fn partition_count(&self, topic: &str) -> Option<usize> {
        match self.topics.get(topic)? {
            TopicInfo::Known { leaders, .. } => Some(leaders.len()),
            _ => None,
        }
    }

    pub(crate) fn leader(&self, topic: &str, partition: i32) -> Option<BrokerId> {
        match self.topics.get(topic)? {
            TopicInfo::Known { leaders, .. } => *leaders.get(usize::try_from(partition).ok()?)?,
            _ => None,
        }
    }

    pub(crate) fn broker(&self, id: BrokerId) -> Option<BrokerAddress> {
        self.brokers.get(&id).cloned()
    }

    /// Records a broker's address learnt elsewhere (a FindCoordinator answer).
    pub(crate) fn learn_broker(&mut self, id: BrokerId, host: &str, port: i32) {
        if let Ok(port) = u16::try_from(port) {
            self.brokers.insert(
                id,
                BrokerAddress {
                    host: host.to_owned(),
                    port,
                },
            );
        }
    }

    /// Asks for a refresh as soon as the backoff allows.
    pub(crate) fn invalidate(&mut self) {
        self.stale = true;
    }

    pub(crate) fn is_request(&self, id: RequestId) -> bool {
        self.in_flight == Some(id)
    }

    fn wants_refresh(&self, now: Instant) -> bool {
        if self.topics.is_empty() {
            return false;
        }
        self.stale
            || self
                .last_refresh
                .is_none_or(|at| now >= after(at, self.max_age))
    }

    /// A Metadata request for every topic written to, when one is due.
    pub(crate) fn poll_request(&mut self, now: Instant, id: RequestId) -> Option<ClientRequest> {
        if self.in_flight.is_some()
            || !self.wants_refresh(now)
            || self.not_before.is_some_and(|t| now < t)
        {
            return None;
        }
        self.in_flight = Some(id);
        let mut names: Vec<String> = self.topics.keys().map(|t| t.to_string()).collect();
        names.sort();
        let auto_create = self.auto_create;
        Some(ClientRequest::new(ApiKey::Metadata, 1, 12, move |_| {
            RequestBody::Metadata(MetadataRequest {
                topics: Some(
                    names
                        .iter()
                        .map(|n| MetadataRequestTopic {
                            name: Some(n.clone()),
                            ..MetadataRequestTopic::default()
                        })
                        .collect(),
                ),
                allow_auto_topic_creation: auto_create,
                ..MetadataRequest::default()
            })
        }))
    }

    /// When the next refresh is due, if one is wanted.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        if self.in_flight.is_some() || self.topics.is_empty() {
            return None;
        }
        if self.stale {
            return self.not_before;
        }
        self.last_refresh.map(|at| after(at, self.max_age))
    }

    /// Applies an answer; returns the topics whose description changed.
    pub(crate) fn handle_response(
        &mut self,
        now: Instant,
        response: &MetadataResponse,
        backoff: &Backoff,
        rng: &mut Rng,
    ) -> Vec<Topic> {
        self.in_flight = None;
        self.last_refresh = Some(now);
        self.stale = false;
        self.failures = 0;
        for b in &response.brokers {
            self.learn_broker(b.node_id, &b.host, b.port);
        }
        let mut changed = Vec::new();
        for t in &response.topics {
            let Some(name) = t.name.as_deref() else {
                continue;
            };
            let Some((key, _)) = self.topics.get_key_value(name) else {
                continue;
            };
            let key = key.clone();
            let info = if t.error_code.is_ok() {
                let mut leaders = Vec::new();
                for p in &t.partitions {
                    let Ok(index) = usize::try_from(p.partition_index) else {
                        continue;
                    };
                    // Partition lists come in any order; bound the index by the list's size.
                    if index >= t.partitions.len() {
                        continue;
                    }
                    if leaders.len() <= index {
                        leaders.resize(index + 1, None);
                    }
                    let leader = (p.leader_id >= 0
                        && p.error_code != ErrorCode::LEADER_NOT_AVAILABLE)
                        .then_some(p.leader_id);
                    leaders[index] = leader;
                    if leader.is_none() {
                        self.stale = true;
                    }
                }
                let available = (0..leaders.len())
                    .filter(|i| leaders[*i].is_some())
                    .filter_map(|i| i32::try_from(i).ok())
                    .collect();
                if leaders.is_empty() {
                    self.stale = true;
                    TopicInfo::Error(ErrorCode::LEADER_NOT_AVAILABLE)
                } else {
                    TopicInfo::Known { leaders, available }
                }
            } else {
                self.stale = true;
                TopicInfo::Error(t.error_code)
            };
            if self.topics.get(&key) != Some(&info) {
                changed.push(key.clone());
            }
            self.topics.insert(key, info);
        }
        // Topics the answer left out are asked for again.
        if self.topics.values().any(|i| *i == TopicInfo::Unknown) {
            self.stale = true;
        }
        self.not_before = Some(after(now, backoff.delay(0, rng)));
        changed
    }

    pub(crate) fn handle_failure(&mut self, now: Instant, backoff: &Backoff, rng: &mut Rng) {
        self.in_flight = None;
        self.stale = true;
        self.not_before = Some(after(now, backoff.delay(self.failures, rng)));
        self.failures = self.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dekaf_proto::messages::metadata::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };

    fn answer(partitions: &[(i32, i32)]) -> MetadataResponse {
        MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "h".into(),
                port: 9,
                ..Default::default()
            }],
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                partitions: partitions
                    .iter()
                    .map(|(i, l)| MetadataResponsePartition {
                        partition_index: *i,
                        leader_id: *l,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn learns_leaders_in_any_order_and_refuses_wild_indexes() {
        #[allow(clippy::disallowed_methods)] // one base instant for the test
        let now = Instant::now();
        let mut m = Metadata::new(Duration::from_secs(300), true);
        let t = m.intern("t");
        assert!(m.poll_request(now, RequestId(1)).is_some());
        assert!(m.poll_request(now, RequestId(2)).is_none());
        let (b, mut rng) = (Backoff::default(), Rng::new(1));
        let changed = m.handle_response(now, &answer(&[(1, 1), (0, -1), (99, 1)]), &b, &mut rng);
        assert_eq!(changed, vec![t.clone()]);
        assert_eq!(m.partition_count("t"), Some(2));
        assert_eq!(m.leader("t", 1), Some(1));
        assert_eq!(m.leader("t", 0), None);
        assert_eq!(m.leader("t", -1), None);
        assert_eq!(m.broker(1).unwrap().port, 9);
        // Partition 0 has no leader: refresh again after the backoff.
        assert!(m.poll_request(now, RequestId(3)).is_none());
        let later = now + Duration::from_secs(2);
        assert!(m.poll_request(later, RequestId(3)).is_some());
    }
}

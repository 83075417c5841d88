//! Unit tests of the group machine, in virtual time: every request is answered by hand.

mod classic;
mod kip848;
mod robust;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dekaf_proto::consumer_protocol::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};
use dekaf_proto::messages::heartbeat::HeartbeatResponse;
use dekaf_proto::messages::join_group::{JoinGroupResponse, JoinGroupResponseMember};
use dekaf_proto::messages::sync_group::SyncGroupResponse;
use dekaf_proto::messages::{RequestBody, ResponseBody};
use dekaf_proto::ErrorCode;

use crate::assignor::{
    self, Assignor, GroupAssignment, MemberSubscription, RangeAssignor, RebalanceProtocol,
};
use crate::client::{RequestFailed, RequestId, Response};
use crate::offset::{Backoff, TopicPartition};

use super::{GroupConfig, GroupEvent, GroupMembership, Subscription};

#[allow(clippy::disallowed_methods)] // one base instant; every other time is an offset from it
pub(super) fn base() -> Instant {
    Instant::now()
}

pub(super) fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition::new(topic, p)
}

pub(super) fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
    list.iter().map(|(t, p)| tp(t, *p)).collect()
}

/// A cooperative assignor for tests: keeps what each member owns up to its fair share, hands
/// out what nobody owned, and leaves out (for one rebalance) what moves.
#[derive(Debug)]
pub(super) struct Coop;

impl Assignor for Coop {
    fn name(&self) -> &'static str {
        "test-coop"
    }

    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        &[RebalanceProtocol::Cooperative, RebalanceProtocol::Eager]
    }

    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> GroupAssignment {
        let fresh = RangeAssignor.assign(members, partitions_per_topic);
        let mut owner: BTreeMap<(String, i32), &str> = BTreeMap::new();
        for m in members {
            for p in &m.owned_partitions {
                owner.insert(p.clone(), &m.member_id);
            }
        }
        fresh
            .into_iter()
            .map(|(member, parts)| {
                let kept = parts
                    .into_iter()
                    .filter(|p| owner.get(p).is_none_or(|o| *o == member))
                    .collect();
                (member, kept)
            })
            .collect()
    }
}

/// The machine under test, a virtual clock and the events seen so far.
pub(super) struct H {
    pub m: GroupMembership,
    pub now: Instant,
    pub events: Vec<GroupEvent>,
}

pub(super) fn config() -> GroupConfig {
    GroupConfig::new("g")
        .with_assignors(vec![Arc::new(RangeAssignor)])
        .with_session_timeout(Duration::from_secs(10))
        .with_heartbeat_interval(Duration::from_secs(3))
        .with_max_poll_interval(Duration::from_secs(60))
        .with_retry_backoff(Backoff::fixed(
            Duration::from_millis(100),
            Duration::from_secs(1),
        ))
}

impl H {
    pub fn new(config: GroupConfig) -> Self {
        H {
            m: GroupMembership::new(config, 1).unwrap(),
            now: base(),
            events: Vec::new(),
        }
    }

    /// A member subscribed to `topics`, with coordinator 1 known.
    pub fn subscribed(config: GroupConfig, topics: &[&str]) -> Self {
        let mut h = H::new(config);
        h.m.subscribe(h.now, Subscription::topics(topics.iter().copied()))
            .unwrap();
        h.m.handle_coordinator(h.now, Some(1));
        h
    }

    pub fn collect(&mut self) {
        while let Some(e) = self.m.poll_event() {
            self.events.push(e);
        }
    }

    pub fn take_events(&mut self) -> Vec<GroupEvent> {
        self.collect();
        std::mem::take(&mut self.events)
    }

    /// Moves the clock forward, firing every timeout on the way at its own time. Stops early
    /// (returning false) when a request becomes due: the test answers it and goes on.
    pub fn advance(&mut self, d: Duration) -> bool {
        let until = self.now + d;
        let mut fired = 0;
        while let Some(t) = self.m.poll_timeout().filter(|t| *t <= until) {
            self.now = self.now.max(t);
            self.m.handle_timeout(self.now);
            self.collect();
            if self.m.poll_timeout().is_some_and(|t| t <= self.now) {
                return false;
            }
            fired += 1;
            assert!(fired < 10_000, "poll_timeout does not move");
        }
        self.now = until;
        true
    }

    /// Runs the application and a coordinator that accepts every heartbeat (classic) until
    /// `done`, polling every `poll` (never, if None). Panics after an hour of virtual time.
    pub fn run_until(&mut self, poll: Option<Duration>, mut done: impl FnMut(&mut H) -> bool) {
        let deadline = self.now + Duration::from_secs(3600);
        let mut next_poll = poll.map(|p| self.now + p);
        while !done(self) {
            assert!(self.now < deadline, "not done after an hour");
            while let Some((id, v, body)) = self.request() {
                let reply: ResponseBody = match body {
                    RequestBody::Heartbeat(_) => hb(ErrorCode::NONE).into(),
                    RequestBody::ConsumerGroupHeartbeat(r) => {
                        dekaf_proto::messages::ConsumerGroupHeartbeatResponse {
                            member_epoch: r.member_epoch,
                            heartbeat_interval_ms: 3000,
                            ..Default::default()
                        }
                        .into()
                    }
                    other => panic!("unexpected {other:?}"),
                };
                self.respond(id, v, reply);
            }
            if done(self) {
                break;
            }
            let mut t = self.m.poll_timeout().unwrap_or(deadline);
            if let Some(p) = next_poll {
                if p <= t {
                    t = p;
                    next_poll = poll.map(|d| p + d);
                    self.advance(t.saturating_duration_since(self.now));
                    self.m.handle_poll(self.now);
                    continue;
                }
            }
            self.advance(t.saturating_duration_since(self.now));
        }
    }

    /// The next request due now, with its body in the highest version it allows.
    pub fn request(&mut self) -> Option<(RequestId, i16, RequestBody)> {
        let out = self.m.poll_request(self.now)?;
        self.collect();
        let v = out.request.versions().1;
        Some((out.id, v, out.request.body(v)))
    }

    pub fn expect(&mut self) -> (RequestId, i16, RequestBody) {
        self.request().expect("a request is due")
    }

    pub fn respond(&mut self, id: RequestId, version: i16, body: impl Into<ResponseBody>) {
        self.m.handle_response(
            self.now,
            id,
            Ok(Response {
                version,
                body: body.into(),
            }),
        );
        self.collect();
    }

    pub fn fail(&mut self, id: RequestId, failure: RequestFailed) {
        self.m.handle_response(self.now, id, Err(failure));
        self.collect();
    }
}

pub(super) fn subscription_blob(topics: &[&str], owned: &[(&str, i32)]) -> Bytes {
    let owned: Vec<(String, i32)> = owned.iter().map(|(t, p)| (t.to_string(), *p)).collect();
    ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        owned_partitions: assignor::group_partitions(&owned),
        ..Default::default()
    }
    .encode()
    .unwrap()
}

pub(super) fn assignment_blob(parts: &[(&str, i32)]) -> Bytes {
    let parts: Vec<(String, i32)> = parts.iter().map(|(t, p)| (t.to_string(), *p)).collect();
    assignor::assignment_to_protocol(&parts).encode().unwrap()
}

pub(super) fn decode_assignment(b: &Bytes) -> Vec<TopicPartition> {
    let a = ConsumerProtocolAssignment::decode(b).unwrap();
    assignor::flatten_partitions(&a.assigned_partitions)
        .into_iter()
        .map(|(t, p)| TopicPartition::new(t, p))
        .collect()
}

pub(super) fn join_ok(member: &str, generation: i32, leader: &str) -> JoinGroupResponse {
    JoinGroupResponse {
        generation_id: generation,
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        leader: leader.into(),
        member_id: member.into(),
        ..Default::default()
    }
}

pub(super) fn join_err(code: ErrorCode, member: &str) -> JoinGroupResponse {
    JoinGroupResponse {
        error_code: code,
        member_id: member.into(),
        ..Default::default()
    }
}

pub(super) fn member(id: &str, topics: &[&str], owned: &[(&str, i32)]) -> JoinGroupResponseMember {
    JoinGroupResponseMember {
        member_id: id.into(),
        metadata: subscription_blob(topics, owned),
        ..Default::default()
    }
}

pub(super) fn sync_ok(parts: &[(&str, i32)]) -> SyncGroupResponse {
    SyncGroupResponse {
        protocol_type: Some("consumer".into()),
        protocol_name: Some("range".into()),
        assignment: assignment_blob(parts),
        ..Default::default()
    }
}

pub(super) fn sync_err(code: ErrorCode) -> SyncGroupResponse {
    SyncGroupResponse {
        error_code: code,
        ..Default::default()
    }
}

pub(super) fn hb(code: ErrorCode) -> HeartbeatResponse {
    HeartbeatResponse {
        error_code: code,
        ..Default::default()
    }
}

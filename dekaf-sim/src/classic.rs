//! An in-memory classic group coordinator (used by the consumer-group simulation and by the
//! group-membership tests) that follows the rules of Kafka's classic group coordinator,
//! with the committed offsets of the group. It exists to drive real `GroupMembership` machines
//! deterministically and to check, on every commit, that committed offsets never go back.
//!
//! The rules modelled (Kafka's `GroupCoordinator`, simplified where the members cannot tell):
//! - a new dynamic member joining with JoinGroup v4+ gets MEMBER_ID_REQUIRED and a member id;
//! - a join phase (PreparingRebalance) ends when every known member (and every member id handed
//!   out) has rejoined, or at the largest rebalance timeout; members that did not rejoin are
//!   removed; an empty group waits `initial_delay` first;
//! - the generation goes up by one per completed join; the leader stays leader while it is a
//!   member, else the first member to have joined leads; the protocol is the one most members
//!   prefer among those all members offer;
//! - SyncGroup waits for the leader's; the leader's sync hands every member its assignment;
//! - heartbeats: REBALANCE_IN_PROGRESS while preparing, ILLEGAL_GENERATION for another
//!   generation, UNKNOWN_MEMBER_ID for strangers; they keep the session alive;
//! - a member not awaiting a join or sync answer is removed one session timeout after it was
//!   last heard from; any change of members in a stable group starts a rebalance;
//! - a member joining in a stable group with unchanged metadata (and not the leader) gets the
//!   current generation back without a rebalance;
//! - static members: an instance id rejoining with an empty member id replaces the old member
//!   (whose waiting requests get FENCED_INSTANCE_ID), keeping its assignment; in a stable group
//!   with unchanged metadata, without a rebalance (a returning leader gets `skip_assignment`);
//! - OffsetCommit: UNKNOWN_MEMBER_ID for strangers, ILLEGAL_GENERATION for another generation,
//!   REBALANCE_IN_PROGRESS while completing a rebalance; accepted while preparing one (the
//!   world keeps the committed offsets and checks they never go back).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dekaf_proto::messages::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use dekaf_proto::messages::join_group::{
    JoinGroupRequest, JoinGroupRequestProtocol, JoinGroupResponse, JoinGroupResponseMember,
};
use dekaf_proto::messages::leave_group::{LeaveGroupRequest, LeaveGroupResponse, MemberResponse};
use dekaf_proto::messages::sync_group::{SyncGroupRequest, SyncGroupResponse};
use dekaf_proto::messages::{RequestBody, ResponseBody};
use dekaf_proto::ErrorCode;
use dekaf_state::client::RequestId;

/// Who sent a request: a member slot and the incarnation of its process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Conn {
    pub slot: usize,
    pub incarnation: u64,
}

/// A group request waiting for its answer.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    conn: Conn,
    id: RequestId,
    version: i16,
}

/// An answer for a member.
#[derive(Clone, Debug)]
pub struct Reply {
    pub conn: Conn,
    pub id: RequestId,
    pub version: i16,
    pub body: ResponseBody,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Empty,
    Preparing,
    Completing,
    Stable,
}

#[derive(Clone, Debug)]
struct Member {
    id: String,
    instance: Option<String>,
    session: Duration,
    rebalance: Duration,
    protocols: Vec<JoinGroupRequestProtocol>,
    awaiting_join: Option<Waiting>,
    awaiting_sync: Option<Waiting>,
    last_seen: Instant,
    assignment: Bytes,
}

impl Member {
    fn metadata(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map(|p| &p.metadata)
    }
}

pub struct Coordinator {
    pub state: State,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    members: Vec<Member>,
    pending: BTreeMap<String, Instant>,
    next_id: u64,
    deadline: Option<Instant>,
    initial_until: Option<Instant>,
    pub initial_delay: Duration,
    pub rebalances: u32,
}

fn ms(v: i32) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}

fn join_error(code: ErrorCode, member_id: &str) -> ResponseBody {
    JoinGroupResponse {
        error_code: code,
        member_id: member_id.to_string(),
        ..Default::default()
    }
    .into()
}

fn sync_error(code: ErrorCode) -> ResponseBody {
    SyncGroupResponse {
        error_code: code,
        ..Default::default()
    }
    .into()
}

impl Coordinator {
    pub fn new(initial_delay: Duration) -> Self {
        Coordinator {
            state: State::Empty,
            generation: 0,
            protocol: None,
            leader: None,
            members: Vec::new(),
            pending: BTreeMap::new(),
            next_id: 0,
            deadline: None,
            initial_until: None,
            initial_delay,
            rebalances: 0,
        }
    }

    /// The member ids in the group, in join order.
    pub fn member_ids(&self) -> Vec<String> {
        self.members.iter().map(|m| m.id.clone()).collect()
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.id == id)
    }

    fn new_member_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    /// When `tick` has something to do next.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut at = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        for t in self.pending.values() {
            at(*t);
        }
        for m in &self.members {
            if m.awaiting_join.is_none() && m.awaiting_sync.is_none() {
                at(m.last_seen + m.session);
            }
        }
        if self.state == State::Preparing {
            if let Some(d) = self.deadline {
                at(d);
            }
            if let Some(i) = self.initial_until {
                at(i);
            }
        }
        next
    }

    /// Expires sessions and ends join phases that ran out of time.
    pub fn tick(&mut self, now: Instant) -> Vec<Reply> {
        let mut out = Vec::new();
        self.pending.retain(|_, t| *t > now);
        let before = self.members.len();
        self.members.retain(|m| {
            m.awaiting_join.is_some() || m.awaiting_sync.is_some() || m.last_seen + m.session > now
        });
        if self.members.len() != before {
            self.membership_changed(now, &mut out);
        }
        if self.initial_until.is_some_and(|t| t <= now) {
            self.initial_until = None;
        }
        self.try_complete(now, &mut out);
        out
    }

    fn membership_changed(&mut self, now: Instant, out: &mut Vec<Reply>) {
        if self
            .leader
            .as_deref()
            .is_some_and(|l| self.index(l).is_none())
        {
            self.leader = None;
        }
        match self.state {
            State::Stable | State::Completing => self.prepare(now, out),
            State::Empty => {
                if !self.members.is_empty() {
                    self.prepare(now, out)
                }
            }
            State::Preparing => {}
        }
        if self.members.is_empty() && self.pending.is_empty() && self.state == State::Preparing {
            // Nobody left to wait for.
            self.deadline = Some(now);
        }
    }

    fn prepare(&mut self, now: Instant, out: &mut Vec<Reply>) {
        if self.state == State::Preparing {
            return;
        }
        if self.state == State::Completing {
            for m in &mut self.members {
                if let Some(w) = m.awaiting_sync.take() {
                    out.push(reply(w, sync_error(ErrorCode::REBALANCE_IN_PROGRESS)));
                }
            }
        }
        let rebalance = self
            .members
            .iter()
            .map(|m| m.rebalance)
            .max()
            .unwrap_or(Duration::ZERO);
        if self.state == State::Empty {
            self.initial_until = Some(now + self.initial_delay);
        }
        self.deadline = Some(now + rebalance.max(self.initial_delay));
        self.state = State::Preparing;
        self.rebalances += 1;
    }

    fn try_complete(&mut self, now: Instant, out: &mut Vec<Reply>) {
        if self.state != State::Preparing {
            return;
        }
        let all_joined = self.pending.is_empty()
            && !self.members.is_empty()
            && self.members.iter().all(|m| m.awaiting_join.is_some());
        let timed_out = self.deadline.is_some_and(|d| d <= now);
        if !(timed_out || (all_joined && self.initial_until.is_none())) {
            return;
        }
        self.members.retain(|m| m.awaiting_join.is_some());
        self.deadline = None;
        self.initial_until = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = State::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        self.protocol = Some(self.select_protocol());
        if self
            .leader
            .as_deref()
            .is_none_or(|l| self.index(l).is_none())
        {
            self.leader = Some(self.members[0].id.clone());
        }
        self.state = State::Completing;
        let protocol = self.protocol.clone().unwrap_or_default();
        let everyone: Vec<JoinGroupResponseMember> = self
            .members
            .iter()
            .map(|m| JoinGroupResponseMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance.clone(),
                metadata: m.metadata(&protocol).cloned().unwrap_or_default(),
                ..Default::default()
            })
            .collect();
        let leader = self.leader.clone().unwrap_or_default();
        let generation = self.generation;
        for m in &mut self.members {
            m.last_seen = now;
            if let Some(w) = m.awaiting_join.take() {
                let body = JoinGroupResponse {
                    generation_id: generation,
                    protocol_type: Some("consumer".into()),
                    protocol_name: Some(protocol.clone()),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader {
                        everyone.clone()
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                };
                out.push(reply(w, body.into()));
            }
        }
    }

    fn select_protocol(&self) -> String {
        let first = &self.members[0];
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| {
                self.members
                    .iter()
                    .all(|m| m.protocols.iter().any(|p| p.name == *name))
            })
            .collect();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in &self.members {
            if let Some(p) = m
                .protocols
                .iter()
                .find(|p| candidates.contains(&p.name.as_str()))
            {
                *votes.entry(p.name.as_str()).or_default() += 1;
            }
        }
        let best = votes.values().copied().max().unwrap_or(0);
        candidates
            .into_iter()
            .find(|c| votes.get(c).copied() == Some(best))
            .unwrap_or_default()
            .to_string()
    }

    fn supports(&self, protocols: &[JoinGroupRequestProtocol]) -> bool {
        self.members.is_empty()
            || protocols.iter().any(|p| {
                self.members
                    .iter()
                    .all(|m| m.protocols.iter().any(|q| q.name == p.name))
            })
    }

    /// A group request from `conn`.
    pub fn handle(
        &mut self,
        now: Instant,
        conn: Conn,
        id: RequestId,
        version: i16,
        body: RequestBody,
    ) -> Vec<Reply> {
        let w = Waiting { conn, id, version };
        let mut out = Vec::new();
        match body {
            RequestBody::JoinGroup(r) => self.join(now, w, r, &mut out),
            RequestBody::SyncGroup(r) => self.sync(now, w, r, &mut out),
            RequestBody::Heartbeat(r) => {
                let code = self.heartbeat(now, &r);
                out.push(reply(
                    w,
                    HeartbeatResponse {
                        error_code: code,
                        ..Default::default()
                    }
                    .into(),
                ));
            }
            RequestBody::LeaveGroup(r) => self.leave(now, w, r, &mut out),
            other => panic!("the coordinator model does not serve {:?}", other.api_key()),
        }
        self.try_complete(now, &mut out);
        out
    }

    fn join(&mut self, now: Instant, w: Waiting, r: JoinGroupRequest, out: &mut Vec<Reply>) {
        if r.protocol_type != "consumer" || r.protocols.is_empty() || !self.supports(&r.protocols) {
            out.push(reply(
                w,
                join_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, &r.member_id),
            ));
            return;
        }
        let session = ms(r.session_timeout_ms);
        let rebalance = if r.rebalance_timeout_ms < 0 {
            session
        } else {
            ms(r.rebalance_timeout_ms)
        };
        let fresh = |id: String| Member {
            id,
            instance: r.group_instance_id.clone(),
            session,
            rebalance,
            protocols: r.protocols.clone(),
            awaiting_join: Some(w),
            awaiting_sync: None,
            last_seen: now,
            assignment: Bytes::new(),
        };
        if r.member_id.is_empty() {
            if let Some(instance) = &r.group_instance_id {
                let new_id = self.new_member_id(instance);
                let old = self
                    .members
                    .iter()
                    .position(|m| m.instance.as_ref() == Some(instance));
                let Some(i) = old else {
                    self.members.push(fresh(new_id));
                    self.membership_changed(now, out);
                    return;
                };
                // A static member came back: it replaces its old self.
                let protocol = self.protocol.clone().unwrap_or_default();
                let m = &mut self.members[i];
                if let Some(old_w) = m.awaiting_join.take() {
                    out.push(reply(
                        old_w,
                        join_error(ErrorCode::FENCED_INSTANCE_ID, &m.id),
                    ));
                }
                if let Some(old_w) = m.awaiting_sync.take() {
                    out.push(reply(old_w, sync_error(ErrorCode::FENCED_INSTANCE_ID)));
                }
                let changed = m.metadata(&protocol)
                    != r.protocols
                        .iter()
                        .find(|p| p.name == protocol)
                        .map(|p| &p.metadata);
                let old_id = std::mem::replace(&mut m.id, new_id.clone());
                m.protocols = r.protocols.clone();
                m.session = session;
                m.rebalance = rebalance;
                m.last_seen = now;
                if self.leader.as_deref() == Some(old_id.as_str()) {
                    self.leader = Some(new_id.clone());
                }
                if self.state == State::Stable && !changed {
                    let leader = self.leader.as_deref() == Some(new_id.as_str());
                    out.push(reply(w, self.current(&new_id, leader, leader)));
                } else {
                    self.members[i].awaiting_join = Some(w);
                    self.prepare(now, out);
                }
                return;
            }
            if w.version >= 4 {
                let new_id = self.new_member_id("member");
                self.pending.insert(new_id.clone(), now + session);
                out.push(reply(w, join_error(ErrorCode::MEMBER_ID_REQUIRED, &new_id)));
                return;
            }
            let new_id = self.new_member_id("member");
            self.members.push(fresh(new_id));
            self.membership_changed(now, out);
            return;
        }
        if self.pending.remove(&r.member_id).is_some() {
            self.members.push(fresh(r.member_id.clone()));
            self.membership_changed(now, out);
            if self.state == State::Preparing {
                // Already preparing: the new member simply waits.
            }
            return;
        }
        let Some(i) = self.index(&r.member_id) else {
            let code = if r.group_instance_id.as_ref().is_some_and(|inst| {
                self.members
                    .iter()
                    .any(|m| m.instance.as_ref() == Some(inst))
            }) {
                ErrorCode::FENCED_INSTANCE_ID
            } else {
                ErrorCode::UNKNOWN_MEMBER_ID
            };
            out.push(reply(w, join_error(code, &r.member_id)));
            return;
        };
        if self.members[i].instance != r.group_instance_id {
            out.push(reply(
                w,
                join_error(ErrorCode::FENCED_INSTANCE_ID, &r.member_id),
            ));
            return;
        }
        let protocol = self.protocol.clone().unwrap_or_default();
        let m = &mut self.members[i];
        let changed = m.metadata(&protocol)
            != r.protocols
                .iter()
                .find(|p| p.name == protocol)
                .map(|p| &p.metadata)
            || m.protocols.len() != r.protocols.len();
        m.protocols = r.protocols.clone();
        m.last_seen = now;
        m.session = session;
        m.rebalance = rebalance;
        let is_leader = self.leader.as_deref() == Some(r.member_id.as_str());
        match self.state {
            State::Preparing => self.members[i].awaiting_join = Some(w),
            State::Completing if !changed => {
                out.push(reply(w, self.current(&r.member_id, is_leader, false)));
            }
            State::Stable if !changed && !is_leader => {
                out.push(reply(w, self.current(&r.member_id, false, false)));
            }
            _ => {
                self.members[i].awaiting_join = Some(w);
                self.prepare(now, out);
            }
        }
    }

    /// The join answer of the current generation, for a member that rejoins without changes.
    fn current(&self, member_id: &str, with_members: bool, skip_assignment: bool) -> ResponseBody {
        let protocol = self.protocol.clone().unwrap_or_default();
        JoinGroupResponse {
            generation_id: self.generation,
            protocol_type: Some("consumer".into()),
            protocol_name: Some(protocol.clone()),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment,
            member_id: member_id.to_string(),
            members: if with_members {
                self.members
                    .iter()
                    .map(|m| JoinGroupResponseMember {
                        member_id: m.id.clone(),
                        group_instance_id: m.instance.clone(),
                        metadata: m.metadata(&protocol).cloned().unwrap_or_default(),
                        ..Default::default()
                    })
                    .collect()
            } else {
                Vec::new()
            },
            ..Default::default()
        }
        .into()
    }

    /// Checks a member's identity and generation the way every request after the join does.
    fn check(
        &self,
        member_id: &str,
        instance: &Option<String>,
        generation: i32,
    ) -> Result<usize, ErrorCode> {
        let Some(i) = self.index(member_id) else {
            if instance.as_ref().is_some_and(|inst| {
                self.members
                    .iter()
                    .any(|m| m.instance.as_ref() == Some(inst))
            }) {
                return Err(ErrorCode::FENCED_INSTANCE_ID);
            }
            return Err(ErrorCode::UNKNOWN_MEMBER_ID);
        };
        if self.members[i].instance != *instance {
            return Err(ErrorCode::FENCED_INSTANCE_ID);
        }
        if generation != self.generation {
            return Err(ErrorCode::ILLEGAL_GENERATION);
        }
        Ok(i)
    }

    fn sync(&mut self, now: Instant, w: Waiting, r: SyncGroupRequest, out: &mut Vec<Reply>) {
        let i = match self.check(&r.member_id, &r.group_instance_id, r.generation_id) {
            Ok(i) => i,
            Err(code) => {
                out.push(reply(w, sync_error(code)));
                return;
            }
        };
        if r.protocol_name.is_some() && r.protocol_name != self.protocol {
            out.push(reply(w, sync_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL)));
            return;
        }
        self.members[i].last_seen = now;
        match self.state {
            State::Empty | State::Preparing => {
                out.push(reply(w, sync_error(ErrorCode::REBALANCE_IN_PROGRESS)));
            }
            State::Completing => {
                self.members[i].awaiting_sync = Some(w);
                if self.leader.as_deref() == Some(r.member_id.as_str()) {
                    let given: BTreeMap<String, Bytes> = r
                        .assignments
                        .into_iter()
                        .map(|a| (a.member_id, a.assignment))
                        .collect();
                    for m in &mut self.members {
                        m.assignment = given.get(&m.id).cloned().unwrap_or_default();
                    }
                    self.state = State::Stable;
                    let protocol = self.protocol.clone();
                    for m in &mut self.members {
                        if let Some(w) = m.awaiting_sync.take() {
                            out.push(reply(
                                w,
                                SyncGroupResponse {
                                    protocol_type: Some("consumer".into()),
                                    protocol_name: protocol.clone(),
                                    assignment: m.assignment.clone(),
                                    ..Default::default()
                                }
                                .into(),
                            ));
                        }
                    }
                }
            }
            State::Stable => out.push(reply(
                w,
                SyncGroupResponse {
                    protocol_type: Some("consumer".into()),
                    protocol_name: self.protocol.clone(),
                    assignment: self.members[i].assignment.clone(),
                    ..Default::default()
                }
                .into(),
            )),
        }
    }

    fn heartbeat(&mut self, now: Instant, r: &HeartbeatRequest) -> ErrorCode {
        if self.state == State::Empty {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        }
        let i = match self.check(&r.member_id, &r.group_instance_id, r.generation_id) {
            Ok(i) => i,
            Err(code) => return code,
        };
        self.members[i].last_seen = now;
        match self.state {
            State::Preparing => ErrorCode::REBALANCE_IN_PROGRESS,
            _ => ErrorCode::NONE,
        }
    }

    fn leave(&mut self, now: Instant, w: Waiting, r: LeaveGroupRequest, out: &mut Vec<Reply>) {
        let leaving: Vec<(String, Option<String>)> = if w.version < 3 {
            vec![(r.member_id.clone(), None)]
        } else {
            r.members
                .iter()
                .map(|m| (m.member_id.clone(), m.group_instance_id.clone()))
                .collect()
        };
        let mut results = Vec::new();
        let mut changed = false;
        for (id, instance) in leaving {
            let code = if self.pending.remove(&id).is_some() {
                ErrorCode::NONE
            } else if let Some(i) = self.index(&id) {
                if instance.is_some() && self.members[i].instance != instance {
                    ErrorCode::FENCED_INSTANCE_ID
                } else {
                    self.members.remove(i);
                    changed = true;
                    ErrorCode::NONE
                }
            } else {
                ErrorCode::UNKNOWN_MEMBER_ID
            };
            results.push(MemberResponse {
                member_id: id,
                group_instance_id: instance,
                error_code: code,
                ..Default::default()
            });
        }
        if changed {
            self.membership_changed(now, out);
        }
        out.push(reply(
            w,
            LeaveGroupResponse {
                members: if w.version >= 3 { results } else { Vec::new() },
                ..Default::default()
            }
            .into(),
        ));
    }

    /// Checks an OffsetCommit's member and generation.
    pub fn commit(&self, generation: i32, member_id: &str) -> ErrorCode {
        match self.index(member_id) {
            None => ErrorCode::UNKNOWN_MEMBER_ID,
            Some(_) if generation != self.generation => ErrorCode::ILLEGAL_GENERATION,
            Some(_) if self.state == State::Completing => ErrorCode::REBALANCE_IN_PROGRESS,
            Some(_) => ErrorCode::NONE,
        }
    }
}

fn reply(w: Waiting, body: ResponseBody) -> Reply {
    Reply {
        conn: w.conn,
        id: w.id,
        version: w.version,
        body,
    }
}

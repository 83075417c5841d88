//! Outputs (requests, events, the next deadline), answers, and the passing of time.

use std::time::Instant;

use dekaf_proto::messages::ResponseBody;

use crate::client::{Destination, Outgoing, RequestFailed, RequestId, Response};

use super::config::GroupProtocol;
use super::membership::{after, AfterRevoke, GroupMembership, Kind, Phase, Sent};
use super::types::{GroupEvent, LeaveReason};

impl GroupMembership {
    /// The next request to send to the coordinator, if one is due at `now`. Its id comes back
    /// with [`handle_response`](Self::handle_response).
    pub fn poll_request(&mut self, now: Instant) -> Option<Outgoing> {
        if self.is_closed() {
            return None;
        }
        let coordinator = self.coordinator?;
        match self.config.protocol {
            GroupProtocol::Classic => self.classic_poll(now, coordinator),
            GroupProtocol::Consumer => {
                if !self.kip848_due(now) {
                    return None;
                }
                let (request, fields) = self.kip848_request();
                let id = self.track(now, Kind::ConsumerHeartbeat, Some(fields));
                self.hb_in_flight = Some(id);
                self.hb_next = Some(after(now, self.hb_interval));
                match &mut self.phase {
                    Phase::Joining { sent } | Phase::Leaving { sent, .. } => *sent = Some(id),
                    _ => {}
                }
                Some(Outgoing {
                    id,
                    destination: Destination::Coordinator(coordinator),
                    request,
                })
            }
        }
    }

    fn track(
        &mut self,
        now: Instant,
        kind: Kind,
        fields: Option<super::consumer::Fields>,
    ) -> RequestId {
        let id = self.request_id();
        self.requests.insert(
            id,
            Sent {
                kind,
                generation: self.generation,
                member_id: self.member_id.clone(),
                at: now,
                fields,
            },
        );
        id
    }

    fn classic_poll(&mut self, now: Instant, coordinator: i32) -> Option<Outgoing> {
        let ready = self.not_before.is_none_or(|t| t <= now);
        let (kind, request) = match &self.phase {
            Phase::Leaving { sent: None, reason } => (Kind::Leave, self.leave_request(*reason)),
            Phase::Joining { sent: None } if ready => match self.join_request() {
                Ok(r) => (Kind::Join, r),
                Err(e) => {
                    self.fail(e);
                    return None;
                }
            },
            Phase::Syncing {
                sent: None,
                assignments,
            } if ready => (Kind::Sync, self.sync_request(assignments.clone())),
            Phase::Stable
                if ready
                    && self.hb_in_flight.is_none()
                    && self.hb_next.is_none_or(|t| t <= now) =>
            {
                (Kind::Heartbeat, self.heartbeat_request())
            }
            _ => return None,
        };
        let id = self.track(now, kind, None);
        match &mut self.phase {
            Phase::Leaving { sent, .. } | Phase::Joining { sent } | Phase::Syncing { sent, .. }
                if kind != Kind::Heartbeat =>
            {
                *sent = Some(id)
            }
            _ => {
                self.hb_in_flight = Some(id);
                self.hb_next = Some(after(now, self.hb_interval));
            }
        }
        Some(Outgoing {
            id,
            destination: Destination::Coordinator(coordinator),
            request,
        })
    }

    /// The next event for the consumer, in order.
    pub fn poll_event(&mut self) -> Option<GroupEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next: the next heartbeat, retry,
    /// session, max poll or revocation deadline. None when nothing is scheduled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut at = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        at(self.revoke.as_ref().map(|r| r.deadline));
        let in_group = matches!(
            self.phase,
            Phase::Joining { .. } | Phase::Syncing { .. } | Phase::Stable
        );
        if in_group {
            at(self
                .last_poll
                .map(|p| after(p, self.config.max_poll_interval)));
        }
        if self.phase == Phase::Stable {
            at(self.session_deadline);
        }
        if self.coordinator.is_some() {
            let retry = self.not_before;
            match (self.config.protocol, &self.phase) {
                (GroupProtocol::Classic, Phase::Joining { sent: None })
                | (GroupProtocol::Classic, Phase::Syncing { sent: None, .. }) => at(retry),
                (GroupProtocol::Classic, Phase::Stable) if self.hb_in_flight.is_none() => {
                    at(max(self.hb_next, retry))
                }
                (GroupProtocol::Consumer, Phase::Joining { sent: None })
                | (GroupProtocol::Consumer, Phase::Leaving { sent: None, .. })
                    if self.hb_in_flight.is_none() =>
                {
                    at(retry)
                }
                (GroupProtocol::Consumer, Phase::Stable) if self.hb_in_flight.is_none() => {
                    if self.kip848.send_now {
                        at(retry)
                    } else {
                        at(max(self.hb_next, retry))
                    }
                }
                _ => {}
            }
        }
        next
    }

    /// Time passed: revocations not confirmed in time become lost, an expired session loses
    /// the partitions and rejoins, and a member whose application did not poll within the max
    /// poll interval leaves. Due requests are then handed out by
    /// [`poll_request`](Self::poll_request).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if self.not_before.is_some_and(|t| t <= now) {
            self.not_before = None;
        }
        if self.revoke.as_ref().is_some_and(|r| r.deadline <= now) {
            match self.config.protocol {
                GroupProtocol::Classic => {
                    if let Some(r) = self.revoke.take() {
                        self.lose_some(&r.partitions);
                        self.proceed(now, r.then);
                    }
                }
                GroupProtocol::Consumer => self.kip848_revoke_expired(now),
            }
        }
        if self.phase == Phase::Stable && self.session_deadline.is_some_and(|t| t <= now) {
            // No heartbeat got through for a whole session: the coordinator has removed the
            // member by now, and another member may own its partitions.
            match self.config.protocol {
                GroupProtocol::Classic => {
                    self.generation = -1;
                    self.leader = None;
                    self.forget_coordinator(now);
                    self.after_loss(now);
                }
                GroupProtocol::Consumer => self.kip848_session_expired(now),
            }
        }
        let in_group = matches!(
            self.phase,
            Phase::Joining { .. } | Phase::Syncing { .. } | Phase::Stable
        );
        let poll_expired = self
            .last_poll
            .is_some_and(|p| after(p, self.config.max_poll_interval) <= now);
        if in_group && poll_expired {
            let reason = match self.lose_all() {
                Some(AfterRevoke::Leave(r)) => r,
                _ => LeaveReason::MaxPollExceeded,
            };
            self.leave(now, reason);
        }
    }

    /// The answer to request `id`, or why there is none. Answers to requests the member no
    /// longer cares about (an older generation's heartbeat, say) are ignored.
    pub fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        let Some(sent) = self.requests.remove(&id) else {
            return;
        };
        if self.is_closed() {
            return;
        }
        let body = result.map(|r| r.body);
        match sent.kind {
            Kind::ConsumerHeartbeat => {
                if self.hb_in_flight != Some(id) {
                    return;
                }
                self.hb_in_flight = None;
                match body {
                    Ok(ResponseBody::ConsumerGroupHeartbeat(r)) => {
                        let fields = sent.fields.unwrap_or(super::consumer::Fields {
                            subscription: None,
                            owned: None,
                        });
                        self.on_consumer_heartbeat(now, sent.at, fields, r)
                    }
                    Ok(_) => self.consumer_failed(now, RequestFailed::Disconnected),
                    Err(f) => self.consumer_failed(now, f),
                }
            }
            Kind::Join => {
                if self.phase != (Phase::Joining { sent: Some(id) }) {
                    return;
                }
                match body {
                    Ok(ResponseBody::JoinGroup(r)) => self.on_join(now, r),
                    Ok(_) => self.classic_failed(now, Kind::Join, RequestFailed::Disconnected),
                    Err(f) => self.classic_failed(now, Kind::Join, f),
                }
            }
            Kind::Sync => {
                if !matches!(self.phase, Phase::Syncing { sent: Some(s), .. } if s == id) {
                    return;
                }
                match body {
                    Ok(ResponseBody::SyncGroup(r)) => self.on_sync(now, sent.at, r),
                    Ok(_) => self.classic_failed(now, Kind::Sync, RequestFailed::Disconnected),
                    Err(f) => self.classic_failed(now, Kind::Sync, f),
                }
            }
            Kind::Heartbeat => {
                if self.hb_in_flight != Some(id) {
                    return;
                }
                self.hb_in_flight = None;
                if sent.generation != self.generation
                    || sent.member_id != self.member_id
                    || self.phase != Phase::Stable
                {
                    return;
                }
                match body {
                    Ok(ResponseBody::Heartbeat(r)) => self.on_heartbeat(now, sent.at, r),
                    Ok(_) => self.classic_failed(now, Kind::Heartbeat, RequestFailed::Disconnected),
                    Err(f) => self.classic_failed(now, Kind::Heartbeat, f),
                }
            }
            Kind::Leave => {
                if let Phase::Leaving {
                    sent: Some(s),
                    reason,
                } = self.phase
                {
                    if s == id {
                        // Whatever the answer, the member is out: a failed leave only means
                        // the session expires instead.
                        self.finish_leaving(now, reason);
                    }
                }
            }
        }
    }

    /// These partitions are gone without a chance to commit: `Unstable`, then `Lost`.
    pub(crate) fn lose_some(
        &mut self,
        partitions: &std::collections::BTreeSet<crate::offset::TopicPartition>,
    ) {
        self.set_unstable();
        for tp in partitions {
            self.owned.remove(tp);
        }
        if !partitions.is_empty() {
            self.emit(GroupEvent::Lost(partitions.iter().cloned().collect()));
        }
    }
}

fn max(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

//! Inputs and outputs: the [`ClientMachine`] contract, requests out and answers routed back.

use std::collections::HashSet;
use std::time::Instant;

use dekaf_proto::messages::ResponseBody;
use dekaf_proto::{ApiKey, DecodeError, DecodeErrorKind, ErrorCode};

use crate::client::{
    BrokerAddress, BrokerId, ClientMachine, Destination, Outgoing, RequestFailed, RequestId,
    Response,
};
use crate::offset::Intent;

use super::consumer::{Consumer, Pending};
use super::event::{ConsumerEvent, MetadataProblem};
use super::lists::transport_code;
use super::requests::{
    find_coordinator, metadata, metadata_all, offset_commit, offset_fetch, parse_find_coordinator,
    parse_list_offsets, parse_offset_commit, parse_offset_fetch,
};

/// The body of the expected API, or a failure standing for a wrong one.
fn body<T>(
    result: Result<Response, RequestFailed>,
    pick: impl FnOnce(ResponseBody) -> Option<T>,
) -> Result<(i16, T), RequestFailed> {
    let response = result?;
    let version = response.version;
    let key = response.body.api_key().key();
    pick(response.body).map(|b| (version, b)).ok_or_else(|| {
        RequestFailed::Malformed(DecodeError::new(
            "response body",
            0,
            DecodeErrorKind::UnknownApiKey(key),
        ))
    })
}

impl Consumer {
    /// Reports a failure retrying cannot fix.
    fn report_failure(&mut self, api: ApiKey, error: &RequestFailed) {
        if !error.is_retriable() {
            self.push_event(ConsumerEvent::RequestFailed {
                api,
                error: error.clone(),
            });
        }
    }

    fn poll_metadata(&mut self, now: Instant) -> Option<Outgoing> {
        let wanted = self.wanted_topics();
        // A pattern subscription asks for every topic.
        let all = matches!(self.group_metadata_topics(), Some(None));
        let due = if all {
            let m = &self.metadata;
            m.in_flight.is_none()
                && m.not_before.is_none_or(|t| t <= now)
                && (m.needed
                    || !self.metadata_all
                    || wanted.iter().any(|t| !m.asked.contains(t))
                    || m.refreshed_at.is_none_or(|at| {
                        at.checked_add(self.config.metadata_max_age)
                            .is_none_or(|due| due <= now)
                    }))
        } else {
            self.metadata
                .is_due(now, &wanted, self.config.metadata_max_age)
        };
        if !due {
            return None;
        }
        let topics: Vec<String> = wanted.into_iter().collect();
        let id = self.request_id();
        self.metadata.in_flight = Some(id);
        let request = if all {
            metadata_all()
        } else {
            metadata(topics.clone())
        };
        self.pending.insert(id, Pending::Metadata { topics, all });
        Some(Outgoing {
            id,
            destination: Destination::AnyBroker,
            request,
        })
    }

    /// Turns an intent of the offset machine into requests (in the outbox).
    fn translate(&mut self, now: Instant, intent: Intent) {
        let group = self.config.offsets.group_id.clone().unwrap_or_default();
        let (intent_id, request, pending) = match intent {
            Intent::FindCoordinator { id } => {
                let request = find_coordinator(group.clone());
                let rid = self.request_id();
                self.pending
                    .insert(rid, Pending::FindCoordinator { intent: id, group });
                self.outbox.push_back(Outgoing {
                    id: rid,
                    destination: Destination::AnyBroker,
                    request,
                });
                return;
            }
            Intent::CommitOffsets { id, offsets, .. } => (
                id,
                offset_commit(group, self.generation.clone(), offsets),
                Pending::Commit { intent: id },
            ),
            Intent::FetchCommitted {
                id,
                partitions,
                require_stable,
            } => (
                id,
                offset_fetch(group.clone(), partitions, require_stable),
                Pending::Committed { intent: id, group },
            ),
            Intent::ListOffsets { id, partitions } => {
                self.send_offsets_list(now, id, partitions, true);
                return;
            }
        };
        let Some(coordinator) = self.offsets.coordinator() else {
            self.offsets.handle_request_failed(now, intent_id);
            return;
        };
        let rid = self.request_id();
        self.pending.insert(rid, pending);
        self.outbox.push_back(Outgoing {
            id: rid,
            destination: Destination::Coordinator(coordinator),
            request,
        });
    }

    fn on_metadata(
        &mut self,
        now: Instant,
        mut topics: Vec<String>,
        all: bool,
        result: Result<Response, RequestFailed>,
    ) {
        self.metadata.in_flight = None;
        match body(result, |b| match b {
            ResponseBody::Metadata(r) => Some(r),
            _ => None,
        }) {
            Ok((_, resp)) => {
                if all {
                    // Every topic was asked for: those not in the answer are gone.
                    topics.extend(self.metadata.topics.keys().cloned());
                    topics.extend(resp.topics.iter().filter_map(|t| t.name.clone()));
                    topics.sort();
                    topics.dedup();
                }
                for t in &resp.topics {
                    if let Some(name) = &t.name {
                        if t.is_internal {
                            self.internal_topics.insert(name.clone());
                        } else {
                            self.internal_topics.remove(name);
                        }
                    }
                }
                self.metadata.apply(now, &topics, &resp);
                self.metadata_all = all;
                self.check_problems(now);
                self.check_leaders();
                self.feed_group_metadata(now, all, &topics);
            }
            Err(e) => {
                self.report_failure(ApiKey::Metadata, &e);
                let delay = self
                    .config
                    .offsets
                    .retry_backoff
                    .delay(self.metadata.attempt, &mut self.rng);
                self.metadata.retry_after(now, delay);
            }
        }
        self.flush_deferred(now);
    }

    /// Compares what metadata says about the assigned partitions and the subscribed topics
    /// with the problems reported so far: new problems become events, and any problem keeps
    /// metadata refreshing. A subscribed topic that does not exist (yet) is no problem: the
    /// member waits for it, as Java's consumer does; one refused (not authorized, invalid) is.
    fn check_problems(&mut self, now: Instant) {
        let mut found = HashSet::new();
        if let Some(group) = &self.group {
            for topic in group.subscribed_topics() {
                match self.metadata.topic_errors.get(topic) {
                    None
                    | Some(&ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                    | Some(&ErrorCode::LEADER_NOT_AVAILABLE) => {}
                    Some(code) => {
                        found.insert(MetadataProblem::Topic {
                            topic: topic.to_owned(),
                            code: *code,
                        });
                    }
                }
            }
        }
        for tp in self.offsets.assignment() {
            if let Some(code) = self.metadata.topic_errors.get(tp.topic()) {
                found.insert(MetadataProblem::Topic {
                    topic: tp.topic().to_string(),
                    code: *code,
                });
                continue;
            }
            let Some(topic) = self.metadata.topics.get(tp.topic()) else {
                continue;
            };
            match topic.partitions.get(&tp.partition()) {
                None => {
                    found.insert(MetadataProblem::UnknownPartition(tp.clone()));
                }
                Some(p) if p.leader < 0 => {
                    let code = if p.error.is_ok() {
                        ErrorCode::LEADER_NOT_AVAILABLE
                    } else {
                        p.error
                    };
                    found.insert(MetadataProblem::NoLeader {
                        partition: tp.clone(),
                        code,
                    });
                }
                Some(_) => {}
            }
        }
        let mut new: Vec<MetadataProblem> = found.difference(&self.problems).cloned().collect();
        new.sort_by_key(|p| p.to_string());
        let any = !found.is_empty();
        self.problems = found;
        for p in new {
            self.push_event(ConsumerEvent::Metadata(p));
        }
        if any {
            let delay = self
                .config
                .offsets
                .retry_backoff
                .delay(self.metadata.attempt, &mut self.rng);
            self.metadata.retry_after(now, delay);
        } else {
            self.metadata.attempt = 0;
        }
    }
}

impl ClientMachine for Consumer {
    fn poll_request(&mut self, now: Instant) -> Option<Outgoing> {
        if let Some(out) = self.outbox.pop_front() {
            return Some(out);
        }
        if let Some(out) = self.poll_group_request(now) {
            return Some(out);
        }
        if std::mem::take(&mut self.needs_purge) {
            self.purge_stale();
        }
        if let Some(out) = self.poll_metadata(now) {
            return Some(out);
        }
        if self.metadata.in_flight.is_none() && !self.deferred.is_empty() {
            self.flush_deferred(now);
            if let Some(out) = self.outbox.pop_front() {
                return Some(out);
            }
        }
        while let Some(intent) = self.offsets.poll_intent(now) {
            self.translate(now, intent);
            if let Some(out) = self.outbox.pop_front() {
                return Some(out);
            }
        }
        self.poll_watermarks(now);
        self.poll_validations(now);
        if let Some(out) = self.outbox.pop_front() {
            return Some(out);
        }
        if let Some(out) = self.poll_fetch(now) {
            return Some(out);
        }
        // Listings and fetches may have found a leader missing.
        self.poll_metadata(now)
    }

    fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Response, RequestFailed>,
    ) {
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        // Answers can move positions (resets, committed offsets found).
        self.needs_purge = true;
        match pending {
            Pending::Metadata { topics, all } => self.on_metadata(now, topics, all, result),
            Pending::Group { id } => self.on_group_response(now, id, result),
            Pending::FindCoordinator { intent, group } => match body(result, |b| match b {
                ResponseBody::FindCoordinator(r) => Some(r),
                _ => None,
            }) {
                Ok((version, resp)) => match parse_find_coordinator(&resp, version, &group) {
                    Ok((node_id, address)) => {
                        self.coordinator_address = Some((node_id, address));
                        self.offsets
                            .handle_coordinator_response(now, intent, Ok(node_id));
                        self.group_coordinator_found(now, node_id);
                    }
                    Err(code) => self
                        .offsets
                        .handle_coordinator_response(now, intent, Err(code)),
                },
                Err(e) => {
                    self.report_failure(ApiKey::FindCoordinator, &e);
                    self.offsets.handle_request_failed(now, intent);
                }
            },
            Pending::Commit { intent } => match body(result, |b| match b {
                ResponseBody::OffsetCommit(r) => Some(r),
                _ => None,
            }) {
                Ok((_, resp)) => {
                    let answer = parse_offset_commit(&resp);
                    self.offsets.handle_commit_response(now, intent, answer);
                }
                Err(e) => {
                    self.report_failure(ApiKey::OffsetCommit, &e);
                    self.offsets.handle_request_failed(now, intent);
                }
            },
            Pending::Committed { intent, group } => match body(result, |b| match b {
                ResponseBody::OffsetFetch(r) => Some(r),
                _ => None,
            }) {
                Ok((version, resp)) => {
                    let answer = parse_offset_fetch(&resp, version, &group);
                    self.offsets.handle_committed_response(now, intent, answer);
                }
                Err(e) => {
                    self.report_failure(ApiKey::OffsetFetch, &e);
                    self.offsets.handle_request_failed(now, intent);
                }
            },
            Pending::List { job, parts } => match body(result, |b| match b {
                ResponseBody::ListOffsets(r) => Some(r),
                _ => None,
            }) {
                Ok((_, resp)) => self.on_list(now, job, parts, Ok(parse_list_offsets(&resp))),
                Err(e) => {
                    self.report_failure(ApiKey::ListOffsets, &e);
                    self.on_list(now, job, parts, Err(transport_code(&e)));
                }
            },
            Pending::Fetch { broker, parts } => match body(result, |b| match b {
                ResponseBody::Fetch(r) => Some(r),
                _ => None,
            }) {
                Ok((version, resp)) => self.on_fetch(now, broker, parts, version, resp),
                Err(e) => {
                    self.report_failure(ApiKey::Fetch, &e);
                    self.on_fetch_failed(now, broker, parts);
                }
            },
            Pending::Validate { parts } => match body(result, |b| match b {
                ResponseBody::OffsetForLeaderEpoch(r) => Some(r),
                _ => None,
            }) {
                Ok((_, resp)) => self.on_validate(now, parts, Ok(resp)),
                Err(e) => {
                    if !matches!(e, RequestFailed::Unsupported(_)) {
                        self.report_failure(ApiKey::OffsetForLeaderEpoch, &e);
                    }
                    self.on_validate(now, parts, Err(e));
                }
            },
        }
    }

    fn handle_disconnected(&mut self, now: Instant, connection: Destination) {
        self.group_disconnected(now, connection);
        let Some(broker) = connection.broker() else {
            return;
        };
        if connection == Destination::Coordinator(broker)
            && self.offsets.coordinator() == Some(broker)
        {
            self.offsets.handle_coordinator_disconnected(now);
        }
        if self.metadata.brokers.contains_key(&broker) {
            self.metadata.request_update();
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.needs_purge = true;
        self.offsets.handle_timeout(now);
        if let Some(g) = &mut self.group {
            g.handle_timeout(now);
        }
        self.drive_group(now);
        self.metadata
            .handle_timeout(now, self.config.metadata_max_age);
        for r in self.backoffs.values_mut() {
            if r.not_before.is_some_and(|t| t <= now) {
                r.not_before = None;
            }
        }
        self.watermarks_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let backoffs = self.backoffs.values().filter_map(|r| r.not_before);
        let queries = self.watermark_queries.values().map(|q| q.next_timeout());
        [
            self.group.as_ref().and_then(|g| g.poll_timeout()),
            self.offsets.poll_timeout(),
            self.metadata.next_timeout(self.config.metadata_max_age),
        ]
        .into_iter()
        .flatten()
        .chain(backoffs)
        .chain(queries)
        .min()
    }

    fn broker_address(&self, id: BrokerId) -> Option<BrokerAddress> {
        self.metadata.brokers.get(&id).cloned().or_else(|| {
            self.coordinator_address
                .as_ref()
                .filter(|(node, _)| *node == id)
                .map(|(_, a)| a.clone())
        })
    }
}

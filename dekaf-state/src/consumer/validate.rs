//! OffsetForLeaderEpoch: validating positions after a leader change, one request per leader.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use dekaf_proto::messages::offset_for_leader_epoch::{
    OffsetForLeaderEpochResponse, OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use dekaf_proto::messages::{OffsetForLeaderEpochRequest, RequestBody};
use dekaf_proto::{ApiKey, ErrorCode};

use crate::client::{BrokerId, ClientRequest, Destination, Outgoing, RequestFailed};
use crate::offset::{EpochAnswer, FetchEpoch, FetchPosition, TopicPartition};

use super::consumer::{Consumer, Pending};
use super::lists::{is_metadata_code, transport_code};
use super::requests::by_topic;

/// The replica id of a consumer in OffsetForLeaderEpoch v3+ (the spec: "-1 if this request is
/// from a consumer"; its default -2 is the debugging id, allowed past the high watermark).
const CONSUMER_REPLICA_ID: i32 = -1;

/// One partition of a validation in flight.
#[derive(Clone, Debug)]
pub(crate) struct ValidatePart {
    pub(crate) tp: TopicPartition,
    pub(crate) epoch: FetchEpoch,
    pub(crate) position: FetchPosition,
    /// The leader epoch metadata gave (-1 if unknown).
    pub(crate) current_leader_epoch: i32,
}

/// OffsetForLeaderEpoch for `parts` (v2–v4): where each position's leader epoch ends.
pub(crate) fn offset_for_leader_epoch(parts: &[ValidatePart]) -> ClientRequest {
    let topics = by_topic(parts.iter().map(|p| {
        (
            p.tp.clone(),
            (
                p.current_leader_epoch,
                p.position.leader_epoch.unwrap_or(-1),
            ),
        )
    }));
    ClientRequest::new(ApiKey::OffsetForLeaderEpoch, 2, 4, move |_| {
        RequestBody::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest {
            replica_id: CONSUMER_REPLICA_ID,
            topics: topics
                .iter()
                .map(|(name, ps)| OffsetForLeaderTopic {
                    topic: name.to_string(),
                    partitions: ps
                        .iter()
                        .map(|(p, (current, asked))| OffsetForLeaderPartition {
                            partition: *p,
                            current_leader_epoch: *current,
                            leader_epoch: *asked,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
    })
}

/// The per-partition answers of an OffsetForLeaderEpoch response.
fn parse(resp: &OffsetForLeaderEpochResponse) -> BTreeMap<TopicPartition, EpochAnswer> {
    let mut out = BTreeMap::new();
    for t in &resp.topics {
        let topic: Arc<str> = Arc::from(t.topic.as_str());
        for p in &t.partitions {
            let answer = if p.error_code.is_ok() {
                EpochAnswer::EndOffset {
                    leader_epoch: p.leader_epoch,
                    end_offset: p.end_offset,
                }
            } else {
                EpochAnswer::Failed(p.error_code)
            };
            out.insert(TopicPartition::new(topic.clone(), p.partition), answer);
        }
    }
    out
}

impl Consumer {
    /// After a metadata answer: partitions whose leader or leader epoch changed go to
    /// validation (stale metadata, with a lower epoch, is ignored).
    pub(crate) fn check_leaders(&mut self) {
        let assigned: Vec<TopicPartition> = self.offsets.assignment().cloned().collect();
        self.seen_leaders.retain(|tp, _| assigned.contains(tp));
        self.read_replicas.retain(|tp, _| assigned.contains(tp));
        for tp in assigned {
            let Some((leader, epoch)) = self.metadata.leader(&tp) else {
                continue;
            };
            if let Some((old_leader, old_epoch)) = self.seen_leaders.get(&tp).copied() {
                if epoch >= 0 && epoch < old_epoch {
                    continue;
                }
                if (old_leader != leader || epoch > old_epoch) && self.offsets.await_validation(&tp)
                {
                    self.needs_purge = true;
                }
            }
            self.seen_leaders.insert(tp, (leader, epoch));
        }
    }

    /// Sends the validations that are due, one request per leader.
    pub(crate) fn poll_validations(&mut self, now: Instant) {
        let due = self.offsets.validations_due(now);
        if due.is_empty() {
            return;
        }
        let mut by_leader: BTreeMap<BrokerId, Vec<ValidatePart>> = BTreeMap::new();
        for (tp, epoch, position) in due {
            match self.metadata.leader(&tp) {
                Some((leader, current_leader_epoch)) => {
                    by_leader.entry(leader).or_default().push(ValidatePart {
                        tp,
                        epoch,
                        position,
                        current_leader_epoch,
                    });
                }
                None => {
                    self.metadata.request_update();
                    self.offsets.handle_validation(
                        now,
                        &tp,
                        epoch,
                        position,
                        EpochAnswer::Failed(ErrorCode::LEADER_NOT_AVAILABLE),
                    );
                }
            }
        }
        for (leader, parts) in by_leader {
            let id = self.request_id();
            let request = offset_for_leader_epoch(&parts);
            self.pending.insert(id, Pending::Validate { parts });
            self.outbox.push_back(Outgoing {
                id,
                destination: Destination::Broker(leader),
                request,
            });
        }
    }

    /// The answer (or failure) of an OffsetForLeaderEpoch request.
    pub(crate) fn on_validate(
        &mut self,
        now: Instant,
        parts: Vec<ValidatePart>,
        answer: Result<OffsetForLeaderEpochResponse, RequestFailed>,
    ) {
        let answers = match &answer {
            Ok(resp) => parse(resp),
            Err(_) => BTreeMap::new(),
        };
        for p in parts {
            let result = match &answer {
                // A broker without the API: nothing to validate against (as Java does).
                Err(RequestFailed::Unsupported(_)) => EpochAnswer::Unsupported,
                Err(e) => EpochAnswer::Failed(transport_code(e)),
                Ok(_) => answers
                    .get(&p.tp)
                    .copied()
                    .unwrap_or(EpochAnswer::Failed(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)),
            };
            if let EpochAnswer::Failed(code) = result {
                if is_metadata_code(code) {
                    self.metadata.request_update();
                }
            }
            self.offsets
                .handle_validation(now, &p.tp, p.epoch, p.position, result);
        }
        self.needs_purge = true;
    }
}

//! Outputs: intents to send, events to deliver, and the next timeout.

use std::time::Instant;

use super::commit::InFlight;
use super::coordinator::Coordinator;
use super::io::{Event, Intent};
use super::manager::{IntentKind, OffsetManager};
use super::partition::{OffsetSpec, Start};
use super::query::{Query, QueryKind};
use super::types::{TopicPartition, TopicPartitionOffset};

impl OffsetManager {
    /// The next request to send, if one is due at `now`.
    pub fn poll_intent(&mut self, now: Instant) -> Option<Intent> {
        self.settle();
        if self.config.group_id.is_some() {
            if self.needs_coordinator() && self.coordinator.is_due(now) {
                let id = self.intent_id(IntentKind::FindCoordinator);
                let attempt = match self.coordinator {
                    Coordinator::Unknown { attempt, .. } => attempt,
                    _ => 0,
                };
                self.coordinator = Coordinator::Finding {
                    intent: id,
                    attempt,
                };
                return Some(Intent::FindCoordinator { id });
            }
            if self.coordinator.node_id().is_some() {
                if let Some(intent) = self.poll_commit(now) {
                    return Some(intent);
                }
                if let Some(intent) = self.poll_start_committed(now) {
                    return Some(intent);
                }
                if let Some(intent) = self.poll_query(now, QueryKind::Committed) {
                    return Some(intent);
                }
            }
        }
        if let Some(intent) = self.poll_reset(now) {
            return Some(intent);
        }
        self.poll_query(now, QueryKind::Times)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let coordinator = match self.coordinator {
            Coordinator::Unknown { not_before, .. } => not_before,
            _ => None,
        };
        // Nothing to walk when every partition has its start.
        let finding = if self.unsettled {
            Some(self.partitions.values())
        } else {
            None
        };
        let lookups = finding
            .into_iter()
            .flatten()
            .filter_map(|p| match &p.start {
                Start::AwaitingCommitted(l)
                | Start::AwaitingReset(_, l)
                | Start::AwaitingValidation(l, false) => l.not_before,
                _ => None,
            });
        let queries = self.queries.values().map(Query::next_timeout);
        [
            self.next_auto_commit,
            self.commits.next_timeout(),
            coordinator,
        ]
        .into_iter()
        .flatten()
        .chain(lookups)
        .chain(queries)
        .min()
    }

    fn poll_commit(&mut self, now: Instant) -> Option<Intent> {
        if !self.group_stable || !self.commits.is_due(now) {
            return None;
        }
        let batch = self.commits.queued.take()?;
        let id = self.intent_id(IntentKind::Commit);
        let seq = self.seq();
        let intent = Intent::CommitOffsets {
            id,
            offsets: batch
                .offsets
                .iter()
                .map(|(tp, o)| TopicPartitionOffset {
                    topic_partition: tp.clone(),
                    offset: o.clone(),
                })
                .collect(),
            commits: batch.tickets.iter().map(|t| t.id).collect(),
        };
        self.commits.in_flight = Some(InFlight {
            intent: id,
            seq,
            batch,
            rebalanced: false,
            sent_at: now,
        });
        self.commit_stats.requests += 1;
        Some(intent)
    }

    fn poll_start_committed(&mut self, now: Instant) -> Option<Intent> {
        if self.closed || !self.unsettled {
            return None;
        }
        let due: Vec<TopicPartition> = self
            .partitions
            .iter()
            .filter(|(_, p)| matches!(&p.start, Start::AwaitingCommitted(l) if l.is_due(now)))
            .map(|(tp, _)| tp.clone())
            .collect();
        if due.is_empty() {
            return None;
        }
        let seq = self.seq();
        let id = self.intent_id(IntentKind::StartCommitted(seq));
        for tp in &due {
            if let Some(Start::AwaitingCommitted(l)) =
                self.partitions.get_mut(tp).map(|p| &mut p.start)
            {
                l.intent = Some(id);
                l.not_before = None;
            }
        }
        Some(Intent::FetchCommitted {
            id,
            partitions: due,
            require_stable: self.config.require_stable,
        })
    }

    fn poll_reset(&mut self, now: Instant) -> Option<Intent> {
        if self.closed || !self.unsettled {
            return None;
        }
        let due: Vec<(TopicPartition, OffsetSpec)> = self
            .partitions
            .iter()
            .filter_map(|(tp, p)| match &p.start {
                Start::AwaitingReset(spec, l) if l.is_due(now) => Some((tp.clone(), *spec)),
                _ => None,
            })
            .collect();
        if due.is_empty() {
            return None;
        }
        let id = self.intent_id(IntentKind::Reset);
        for (tp, _) in &due {
            if let Some(Start::AwaitingReset(_, l)) =
                self.partitions.get_mut(tp).map(|p| &mut p.start)
            {
                l.intent = Some(id);
                l.not_before = None;
            }
        }
        Some(Intent::ListOffsets {
            id,
            partitions: due,
        })
    }

    fn poll_query(&mut self, now: Instant, kind: QueryKind) -> Option<Intent> {
        let (qid, due) = self
            .queries
            .values()
            .filter(|q| q.kind == kind)
            .map(|q| (q.id, q.due(now)))
            .find(|(_, due)| !due.is_empty())?;
        let seq = self.seq();
        let id = self.intent_id(IntentKind::Query(qid, seq));
        let query = self.queries.get_mut(&qid)?;
        let mut listed = Vec::with_capacity(due.len());
        for tp in &due {
            if let Some(part) = query.parts.get_mut(tp) {
                part.lookup.intent = Some(id);
                part.lookup.not_before = None;
                listed.push((tp.clone(), OffsetSpec::Timestamp(part.timestamp)));
            }
        }
        Some(match kind {
            QueryKind::Committed => Intent::FetchCommitted {
                id,
                partitions: due,
                require_stable: self.config.require_stable,
            },
            QueryKind::Times => Intent::ListOffsets {
                id,
                partitions: listed,
            },
        })
    }
}

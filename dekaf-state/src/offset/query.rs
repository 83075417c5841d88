//! Queries the application asked for: committed offsets and offsets for times.

use std::collections::BTreeMap;
use std::time::Instant;

use dekaf_proto::ErrorCode;

use super::error::LookupError;
use super::io::Event;
use super::partition::Lookup;
use super::types::{OffsetAndMetadata, OffsetAndTimestamp, QueryId, TopicPartition};

/// Which question a query asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueryKind {
    Committed,
    Times,
}

/// The answer for one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PartResult {
    Committed(Option<OffsetAndMetadata>),
    Times(Option<OffsetAndTimestamp>),
}

/// One partition of a query.
#[derive(Clone, Debug, Default)]
pub(crate) struct Part {
    /// The time asked for (offsets-for-times only).
    pub(crate) timestamp: i64,
    pub(crate) lookup: Lookup,
    pub(crate) result: Option<PartResult>,
}

/// A query in progress.
#[derive(Clone, Debug)]
pub(crate) struct Query {
    pub(crate) id: QueryId,
    pub(crate) kind: QueryKind,
    pub(crate) deadline: Instant,
    pub(crate) last_error: Option<ErrorCode>,
    pub(crate) parts: BTreeMap<TopicPartition, Part>,
}

impl Query {
    /// Whether every partition has its answer.
    pub(crate) fn is_complete(&self) -> bool {
        self.parts.values().all(|p| p.result.is_some())
    }

    /// Partitions whose question may be (re)sent at `now`.
    pub(crate) fn due(&self, now: Instant) -> Vec<TopicPartition> {
        self.parts
            .iter()
            .filter(|(_, p)| p.result.is_none() && p.lookup.is_due(now))
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// The earliest time this query needs attention.
    pub(crate) fn next_timeout(&self) -> Instant {
        self.parts
            .values()
            .filter_map(|p| p.lookup.not_before)
            .fold(self.deadline, Instant::min)
    }

    /// The event that finishes the query.
    pub(crate) fn finish(self, error: Option<LookupError>) -> Event {
        let query = self.id;
        match (self.kind, error) {
            (QueryKind::Committed, Some(e)) => Event::Committed {
                query,
                result: Err(e),
            },
            (QueryKind::Times, Some(e)) => Event::OffsetsForTimes {
                query,
                result: Err(e),
            },
            (QueryKind::Committed, None) => Event::Committed {
                query,
                result: Ok(self
                    .parts
                    .into_iter()
                    .map(|(tp, p)| match p.result {
                        Some(PartResult::Committed(c)) => (tp, c),
                        _ => (tp, None),
                    })
                    .collect()),
            },
            (QueryKind::Times, None) => Event::OffsetsForTimes {
                query,
                result: Ok(self
                    .parts
                    .into_iter()
                    .map(|(tp, p)| match p.result {
                        Some(PartResult::Times(t)) => (tp, t),
                        _ => (tp, None),
                    })
                    .collect()),
            },
        }
    }
}

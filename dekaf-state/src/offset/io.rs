//! What goes out of the offset machine (intents, events) and the results that come back.

use dekaf_proto::ErrorCode;

use super::commit::CommitOrigin;
use super::error::{CommitError, LookupError, PositionError};
use super::partition::OffsetSpec;
use super::types::{
    CommitId, FetchPosition, IntentId, OffsetAndMetadata, OffsetAndTimestamp, QueryId,
    TopicPartition, TopicPartitionOffset,
};

/// Something the driver should ask a broker. Every intent's id comes back exactly once, with a
/// result (`handle_*_response`) or as a failure (`handle_request_failed`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Intent {
    /// Find the group coordinator (FindCoordinator, key type GROUP, key = the group id), at any
    /// broker. Answer with `handle_coordinator_response`.
    FindCoordinator {
        /// Passed back with the result.
        id: IntentId,
    },
    /// Commit these offsets (OffsetCommit to the coordinator, with the group's current
    /// generation and member id). Answer with `handle_commit_response`.
    CommitOffsets {
        /// Passed back with the result.
        id: IntentId,
        /// Exactly what to commit; offsets carry leader epoch and metadata.
        offsets: Vec<TopicPartitionOffset>,
        /// The commits this request settles (several when commits were merged).
        commits: Vec<CommitId>,
    },
    /// Look up committed offsets (OffsetFetch to the coordinator). Answer with
    /// `handle_committed_response`.
    FetchCommitted {
        /// Passed back with the result.
        id: IntentId,
        /// The partitions to look up.
        partitions: Vec<TopicPartition>,
        /// Wait out pending transactional commits (OffsetFetch `RequireStable`, v7+).
        require_stable: bool,
    },
    /// List offsets (ListOffsets to each partition's leader; the driver may split the list by
    /// leader and pass back the parts' results one by one). Answer with
    /// `handle_list_offsets_response`.
    ListOffsets {
        /// Passed back with the results.
        id: IntentId,
        /// What to ask for each partition.
        partitions: Vec<(TopicPartition, OffsetSpec)>,
    },
}

impl Intent {
    /// The intent's id.
    pub fn id(&self) -> IntentId {
        match self {
            Intent::FindCoordinator { id }
            | Intent::CommitOffsets { id, .. }
            | Intent::FetchCommitted { id, .. }
            | Intent::ListOffsets { id, .. } => *id,
        }
    }
}

/// Something the application should hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A commit finished; each commit id gets exactly one.
    CommitFinished {
        /// The commit.
        id: CommitId,
        /// Who asked for it.
        origin: CommitOrigin,
        /// Its outcome.
        result: Result<(), CommitError>,
    },
    /// The answer to `fetch_committed`: per partition, the committed offset (None if the group
    /// has none).
    Committed {
        /// The query.
        query: QueryId,
        /// Its outcome.
        result: Result<Vec<(TopicPartition, Option<OffsetAndMetadata>)>, LookupError>,
    },
    /// The answer to `offsets_for_times`: per partition, the first offset at or after the time
    /// (None if no record is that recent).
    OffsetsForTimes {
        /// The query.
        query: QueryId,
        /// Its outcome.
        result: Result<Vec<(TopicPartition, Option<OffsetAndTimestamp>)>, LookupError>,
    },
    /// A partition could not get a position and will not be fetched until a seek or a new
    /// assignment.
    PositionFailed {
        /// The partition.
        partition: TopicPartition,
        /// Why.
        error: PositionError,
    },
    /// The partition's log was truncated below the position after a leader change (the
    /// records past `divergence` are gone from the new leader's log), and `auto_offset_reset`
    /// allowed a reset: the position moved back to `divergence`. Records handed out between
    /// the two were lost with the old leader; what the new leader wrote there is delivered.
    Truncated {
        /// The partition.
        partition: TopicPartition,
        /// The position before the reset.
        position: FetchPosition,
        /// Where the new leader's log departs from what was read: the new position.
        divergence: FetchPosition,
    },
}

/// One partition of a ListOffsets answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListedOffset {
    /// The offset found; -1 when no record matches a timestamp.
    pub offset: i64,
    /// The timestamp of that record (-1 for earliest/latest).
    pub timestamp: i64,
    /// The leader epoch of that record, if the broker sent one (-1 on the wire is None).
    pub leader_epoch: Option<i32>,
}

/// What a fetch response said about one partition, beyond its records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FetchedPartition {
    /// The offset after the last record or batch in the response (records, control batches and
    /// aborted batches alike); None if the response had no records.
    pub next_offset: Option<i64>,
    /// The leader epoch of the last batch, if any.
    pub leader_epoch: Option<i32>,
    /// The partition's high watermark.
    pub high_watermark: i64,
    /// The last stable offset, where the version has it.
    pub last_stable_offset: Option<i64>,
    /// The log start offset, where the version has it.
    pub log_start_offset: Option<i64>,
}

/// A per-partition committed-offset answer: the offset (None when the group has none) or the
/// partition's error code.
pub type CommittedResult = Result<Option<OffsetAndMetadata>, ErrorCode>;

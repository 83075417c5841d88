//! Typed errors, each saying whose fault it is.

use dekaf_proto::ErrorCode;

use super::types::{FetchPosition, InvalidTopicName, TopicPartition};

/// Whose fault an error is, so that callers know whether to fix their code, their cluster, or
/// simply try again later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The application: the API was misused or the configuration asks for the impossible.
    Application,
    /// The broker or cluster refused: authorization, limits, or data no longer in the log.
    Broker,
    /// Nobody's: a rebalance, a coordinator moving, the network, a deadline. Trying again
    /// later may succeed.
    Transient,
}

/// Whether `code` says this member is out of step with its group: the group is rebalancing, or
/// the generation, member id, instance id or member epoch is no longer current
/// (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
/// FENCED_MEMBER_EPOCH, STALE_MEMBER_EPOCH).
pub fn is_rebalance_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::REBALANCE_IN_PROGRESS
            | ErrorCode::ILLEGAL_GENERATION
            | ErrorCode::UNKNOWN_MEMBER_ID
            | ErrorCode::FENCED_INSTANCE_ID
            | ErrorCode::FENCED_MEMBER_EPOCH
            | ErrorCode::STALE_MEMBER_EPOCH
    )
}

/// Whether `code` says the group coordinator moved or is not ready: find it again and retry.
pub fn is_coordinator_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    )
}

/// Whether `code` concerns the whole group rather than one partition.
fn is_group_code(code: ErrorCode) -> bool {
    code == ErrorCode::GROUP_AUTHORIZATION_FAILED
}

/// The API was used in a way the offset machine refuses. Always the application's fault; the
/// call changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OffsetError {
    /// A topic name Kafka would refuse, given to `assign` (nothing changed).
    #[error(transparent)]
    InvalidTopic(#[from] InvalidTopicName),
    /// Partition numbers are never negative (`assign`; nothing changed).
    #[error("{0} is not a partition: partition numbers start at 0")]
    InvalidPartition(TopicPartition),
    /// Offsets are never negative.
    #[error("offset {offset} for {partition} is negative")]
    NegativeOffset {
        /// The partition.
        partition: TopicPartition,
        /// The offset given.
        offset: i64,
    },
    /// Timestamps are milliseconds since the Unix epoch, never negative.
    #[error("timestamp {timestamp} for {partition} is negative")]
    NegativeTimestamp {
        /// The partition.
        partition: TopicPartition,
        /// The timestamp given.
        timestamp: i64,
    },
    /// The partition is not in this consumer's assignment.
    #[error("{0} is not assigned to this consumer")]
    NotAssigned(TopicPartition),
    /// The same partition was given twice in one call.
    #[error("{0} is given more than once")]
    DuplicatePartition(TopicPartition),
    /// Committing and looking up committed offsets need a group id.
    #[error("no group id is configured, so offsets cannot be committed or looked up")]
    NoGroup,
    /// Storing an offset beyond what was handed out would claim work not yet done.
    #[error(
        "offset {offset} for {partition} is beyond {}: not consumed yet",
        .position.map_or("its position (it has none yet)".to_owned(), |p| format!("the position {p}"))
    )]
    NotConsumed {
        /// The partition.
        partition: TopicPartition,
        /// The offset given.
        offset: i64,
        /// The partition's position (None while it has none).
        position: Option<i64>,
    },
    /// The partition has no position yet (it is waiting for its committed offset or a reset).
    #[error("{0} has no position yet")]
    NoPosition(TopicPartition),
    /// Fetched data from before a seek, reset or reassignment was offered.
    #[error("fetched data for {0} predates a seek or reassignment")]
    StaleFetch(TopicPartition),
    /// Records of a partition must be handed out in offset order.
    #[error("offset {offset} of {partition} handed out below the position {position}")]
    OutOfOrder {
        /// The partition.
        partition: TopicPartition,
        /// The offset given.
        offset: i64,
        /// The partition's position.
        position: i64,
    },
    /// The cap on unacknowledged records is reached: acknowledge some first.
    #[error("{limit} records are handed out and unacknowledged: acknowledge some first")]
    Backpressure {
        /// The configured cap.
        limit: usize,
    },
    /// The record was not handed out, or was already acknowledged, or predates a seek.
    #[error("offset {offset} of {partition} is not an outstanding record")]
    NotOutstanding {
        /// The partition.
        partition: TopicPartition,
        /// The offset given.
        offset: i64,
    },
    /// The consumer is closed.
    #[error("the consumer is closed")]
    Closed,
}

impl OffsetError {
    /// Always [`Fault::Application`].
    pub fn fault(&self) -> Fault {
        Fault::Application
    }
}

/// One partition of a commit that the broker refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{partition}: {code}")]
pub struct PartitionCommitError {
    /// The partition.
    pub partition: TopicPartition,
    /// The broker's error code for it.
    pub code: ErrorCode,
}

/// Why a commit did not commit everything it carried.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// The group is rebalancing or this member's generation is stale. The offsets stay stored
    /// and are committed again once the group is stable (in Auto mode by itself, in Manual mode
    /// by the next `commit`).
    #[error("commit refused during a rebalance: {0}")]
    Rebalance(ErrorCode),
    /// The coordinator refused the whole group (e.g. GROUP_AUTHORIZATION_FAILED).
    #[error("commit refused for the group: {0}")]
    Group(ErrorCode),
    /// Some partitions were refused; the others were committed.
    #[error("commit refused for {} partition(s): {}", .0.len(), .0.first().map(|e| e.to_string()).unwrap_or_default())]
    Partitions(Vec<PartitionCommitError>),
    /// Retries did not succeed before the deadline. `last_error` is the last error code seen,
    /// None if the last attempt failed in transport or the coordinator was not found.
    #[error("commit timed out ({})", last_error_text(.last_error))]
    Timeout {
        /// The last error code seen.
        last_error: Option<ErrorCode>,
    },
}

impl CommitError {
    /// Whether the commit failed because of a rebalance (see [`is_rebalance_code`]).
    pub fn is_rebalance(&self) -> bool {
        matches!(self, CommitError::Rebalance(_))
    }

    /// Whether committing the same offsets again may succeed as it is.
    pub fn is_retriable(&self) -> bool {
        match self {
            CommitError::Timeout { .. } => true,
            CommitError::Partitions(errors) => errors.iter().all(|e| e.code.is_retriable()),
            CommitError::Rebalance(_) | CommitError::Group(_) => false,
        }
    }

    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            CommitError::Rebalance(_) | CommitError::Timeout { .. } => Fault::Transient,
            CommitError::Group(_) | CommitError::Partitions(_) => Fault::Broker,
        }
    }

    /// The per-partition failures, empty unless this is [`CommitError::Partitions`].
    pub fn partitions(&self) -> &[PartitionCommitError] {
        match self {
            CommitError::Partitions(errors) => errors,
            _ => &[],
        }
    }

    /// Builds the outcome of a commit from its refused partitions and rebalance code.
    pub(crate) fn from_parts(
        rebalance: Option<ErrorCode>,
        failed: Vec<PartitionCommitError>,
    ) -> Option<CommitError> {
        if let Some(code) = rebalance {
            return Some(CommitError::Rebalance(code));
        }
        if let Some(e) = failed.iter().find(|e| is_group_code(e.code)) {
            return Some(CommitError::Group(e.code));
        }
        (!failed.is_empty()).then_some(CommitError::Partitions(failed))
    }
}

/// Why a committed-offsets or offsets-for-times query failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The coordinator refused the whole request (e.g. GROUP_AUTHORIZATION_FAILED, or a
    /// rebalance code for members of the new group protocol).
    #[error("lookup refused: {0}")]
    Broker(ErrorCode),
    /// One partition was refused (e.g. TOPIC_AUTHORIZATION_FAILED).
    #[error("lookup refused for {partition}: {code}")]
    Partition {
        /// The partition.
        partition: TopicPartition,
        /// The broker's error code.
        code: ErrorCode,
    },
    /// Retries did not succeed before the deadline.
    #[error("lookup timed out ({})", last_error_text(.last_error))]
    Timeout {
        /// The last error code seen, None after a transport failure.
        last_error: Option<ErrorCode>,
    },
    /// The consumer closed first.
    #[error("the consumer closed before the lookup finished")]
    Closed,
}

impl LookupError {
    /// Whether the lookup failed because this member is out of step with its group.
    pub fn is_rebalance(&self) -> bool {
        matches!(self, LookupError::Broker(c) if is_rebalance_code(*c))
    }

    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            LookupError::Broker(c) if is_rebalance_code(*c) => Fault::Transient,
            LookupError::Broker(_) | LookupError::Partition { .. } => Fault::Broker,
            LookupError::Timeout { .. } => Fault::Transient,
            LookupError::Closed => Fault::Application,
        }
    }
}

/// Why a partition has no position and is not fetched. It stays so until a seek or a new
/// assignment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PositionError {
    /// No committed offset and `auto_offset_reset` is `None`.
    #[error("no committed offset and auto_offset_reset is none")]
    NoCommittedOffset,
    /// The fetch position fell outside the log and `auto_offset_reset` is `None`.
    #[error("offset {offset} is out of range and auto_offset_reset is none")]
    OutOfRange {
        /// The position that was out of range.
        offset: i64,
    },
    /// The log was truncated below the position after a leader change and
    /// `auto_offset_reset` is `None`. `divergence` is where the new leader's log departs
    /// (None when the leader could not say): seek there, or elsewhere, to go on.
    #[error(
        "log truncated below position {} ({}) and auto_offset_reset is none: seek to go on",
        .position.offset,
        .divergence.map_or("the leader did not say where it diverges".to_owned(), |d| format!("it diverges at {}", d.offset))
    )]
    Truncation {
        /// The partition.
        partition: TopicPartition,
        /// The position that was no longer in the log.
        position: FetchPosition,
        /// Where the new leader's log departs from what was read, if known.
        divergence: Option<FetchPosition>,
    },
    /// Looking up the committed offset or listing offsets failed for good.
    #[error("finding a position failed: {0}")]
    Broker(ErrorCode),
}

impl PositionError {
    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            PositionError::NoCommittedOffset => Fault::Application,
            PositionError::OutOfRange { .. }
            | PositionError::Truncation { .. }
            | PositionError::Broker(_) => Fault::Broker,
        }
    }
}

/// The end of a timeout's message: the last error code the broker gave, or that none came.
fn last_error_text(code: &Option<ErrorCode>) -> String {
    match code {
        Some(code) => format!("last error: {code}"),
        None => "no answer from the broker before the deadline".to_owned(),
    }
}

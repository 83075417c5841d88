//! What the consumer tells the application, beyond records.

use dekaf_proto::{ApiKey, DecodeError, ErrorCode};

use crate::client::RequestFailed;
use crate::group::GroupEvent;
use crate::offset::{Event, Fault, LookupError, TopicPartition};

use super::record::Watermarks;

/// Something the application should hear about. Events come out in the order they happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConsumerEvent {
    /// From the offset machine: a commit finished, a committed-offsets or offsets-for-times
    /// query answered, or a partition could not get a position.
    Offset(Event),
    /// A partition could not be fetched for a reason retrying will not fix by itself (the
    /// consumer keeps retrying with a backoff, in case the cause goes away).
    Fetch {
        /// The partition.
        partition: TopicPartition,
        /// Why.
        error: FetchError,
    },
    /// Metadata has a problem with a topic or partition the consumer needs: unknown topic,
    /// no leader, not authorized. Reported once per problem until it clears; the consumer
    /// keeps refreshing.
    Metadata(MetadataProblem),
    /// The answer to [`query_watermarks`](super::Consumer::query_watermarks).
    Watermarks {
        /// The query.
        query: WatermarksId,
        /// Low and high watermark per partition, or why the query failed.
        result: Result<Vec<(TopicPartition, Watermarks)>, LookupError>,
    },
    /// From the group membership (after [`subscribe`](super::Consumer::subscribe)), after the
    /// consumer applied it to its offsets:
    /// - `Stable`/`Unstable`: commits go / wait;
    /// - `Assigned(ps)`: `ps` were added; their committed offsets are being looked up
    ///   (positions follow, or `auto_offset_reset`);
    /// - `Revoked(ps)`: `ps` are being taken away; their records are no longer handed out.
    ///   The application may commit them now (Manual mode), then confirms with
    ///   [`rebalance_done`](super::Consumer::rebalance_done) or simply by asking for records
    ///   again. The consumer then drops them (Auto mode commits their stored offsets first)
    ///   and the group goes on. Unconfirmed within the rebalance timeout, they become `Lost`;
    /// - `Lost(ps)`: `ps` were taken away without a chance to commit; nothing of them is
    ///   committed;
    /// - `Left`, `Failed`: the member is out of the group.
    Rebalance(GroupEvent),
    /// A request failed in a way that retrying cannot fix: the broker speaks no version the
    /// consumer can write, or a request could not be encoded.
    RequestFailed {
        /// The API.
        api: ApiKey,
        /// Why.
        error: RequestFailed,
    },
}

/// Names one watermarks query; it finishes with exactly one [`ConsumerEvent::Watermarks`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatermarksId(pub(crate) u64);

impl WatermarksId {
    /// The number behind the id (increasing within one consumer).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Why a partition's fetch failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The broker refused the partition with a non-retriable code (e.g.
    /// TOPIC_AUTHORIZATION_FAILED).
    #[error("fetch refused: {0}")]
    Broker(ErrorCode),
    /// The fetched records could not be decoded (CRC mismatch, bad compression, a codec that
    /// is compiled out). The consumer fetches again from the same position after a backoff.
    #[error("fetched records are corrupt at offset {offset}: {error}")]
    Corrupt {
        /// The position the records were read from.
        offset: i64,
        /// What was wrong.
        error: DecodeError,
    },
    /// The fetched records go backwards: a batch starts before the end of the one before it,
    /// or a record's offset is below the partition's position. The records before it were
    /// handed out; the rest is dropped and the consumer fetches again from its position
    /// after a backoff.
    #[error("fetched records go backwards: offset {offset} where {expected} or later was due")]
    OutOfOrder {
        /// The offset the broker's data claimed.
        offset: i64,
        /// The lowest offset that could come next.
        expected: i64,
    },
}

impl FetchError {
    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        Fault::Broker
    }
}

/// A problem metadata reported for something the consumer needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataProblem {
    /// The topic is refused or unknown (UNKNOWN_TOPIC_OR_PARTITION,
    /// TOPIC_AUTHORIZATION_FAILED, ...).
    #[error("topic {topic}: {code}")]
    Topic {
        /// The topic.
        topic: String,
        /// The broker's code.
        code: ErrorCode,
    },
    /// The topic exists but has no such partition.
    #[error("{0} does not exist")]
    UnknownPartition(TopicPartition),
    /// The partition has no leader right now (or its error code says why).
    #[error("{partition} has no leader: {code}")]
    NoLeader {
        /// The partition.
        partition: TopicPartition,
        /// The broker's code (LEADER_NOT_AVAILABLE when none was given).
        code: ErrorCode,
    },
}

//! What the application receives: records, and watermarks.

use bytes::Bytes;
use dekaf_proto::records::{OwnedHeader, TimestampType};

use crate::offset::TopicPartition;

/// One record handed to the application. Key, value and header values share the fetched
/// buffer (no copy); holding a record keeps that buffer alive.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerRecord {
    /// The partition it was read from.
    pub topic_partition: TopicPartition,
    /// Its offset in the partition.
    pub offset: i64,
    /// The leader epoch of its batch, if the broker set one.
    pub leader_epoch: Option<i32>,
    /// Milliseconds since the Unix epoch, as `timestamp_type` says.
    pub timestamp: i64,
    /// Whether the producer or the broker set the timestamp.
    pub timestamp_type: TimestampType,
    /// The key, `None` for null.
    pub key: Option<Bytes>,
    /// The value, `None` for null (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// The headers, in order (keys may repeat).
    pub headers: Vec<OwnedHeader>,
}

impl ConsumerRecord {
    /// The topic name.
    pub fn topic(&self) -> &str {
        self.topic_partition.topic()
    }

    /// The partition index.
    pub fn partition(&self) -> i32 {
        self.topic_partition.partition()
    }
}

/// The low and high watermarks of a partition: the log start offset and the high watermark
/// (the offset after the last committed-to-all-replicas record).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Watermarks {
    /// The log start offset (first offset still in the log), if known.
    pub low: Option<i64>,
    /// The high watermark, if known.
    pub high: Option<i64>,
}

//! What goes into a producer and what comes out: records, ids, outcomes, events.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use dekaf_proto::records::OwnedHeader;

use super::error::{DeliveryError, TransactionError};
use crate::offset::TopicPartition;

/// Names one record from `send` to its [`Event::Delivered`]; increasing in send order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryId(pub u64);

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record #{}", self.0)
    }
}

/// Names one `flush` until its [`Event::Flushed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlushId(pub u64);

/// Names one transaction operation (init, send offsets, commit, abort) until its
/// [`Event::Transaction`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnOpId(pub u64);

/// A record to write.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ProducerRecord {
    /// The topic.
    pub topic: String,
    /// A partition chosen by the application; `None` lets the partitioner choose (murmur2 of
    /// the key, or a sticky partition for a record without a key).
    pub partition: Option<i32>,
    /// The key, `None` for null.
    pub key: Option<Bytes>,
    /// The value, `None` for null (a tombstone in a compacted topic).
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<OwnedHeader>,
    /// Creation time in milliseconds since the Unix epoch. The machine reads no clock: a
    /// driver fills it in from the system clock when the application leaves it out, and a
    /// record sent with `None` carries -1 ("no timestamp").
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with this value and no key.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            value: Some(value.into()),
            ..ProducerRecord::default()
        }
    }

    /// The same record with a key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The same record for an explicit partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// The same record with a timestamp.
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// The same record with one more header.
    pub fn header(mut self, key: impl Into<String>, value: Option<Bytes>) -> Self {
        self.headers.push(OwnedHeader::new(key, value));
        self
    }
}

/// Where a record was written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordMetadata {
    /// The partition.
    pub partition: TopicPartition,
    /// The record's offset; `None` with `acks` 0, and when the broker recognised a retry of
    /// a batch it had already written without saying where.
    pub offset: Option<i64>,
    /// The record's timestamp: the broker's append time when the topic uses log-append time,
    /// else the timestamp sent.
    pub timestamp: i64,
}

/// A consumer's place in its group, sent with offsets to a transaction so that the group
/// coordinator refuses them from a member that is no longer current (a "zombie"): the group
/// module's [`GroupMetadata`](crate::group::GroupMetadata) under the name Java's client gives it.
pub type ConsumerGroupMetadata = crate::group::GroupMetadata;

/// A transaction operation that reports through [`Event::Transaction`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxnOperation {
    /// `init_transactions`.
    Init,
    /// `begin_transaction` (never reported as an event: it does no IO).
    Begin,
    /// `send` (refused outside an open transaction; never reported as an event).
    Send,
    /// `send_offsets_to_transaction`.
    SendOffsets,
    /// `commit_transaction`.
    Commit,
    /// `abort_transaction`.
    Abort,
}

impl fmt::Display for TxnOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TxnOperation::Init => "init_transactions",
            TxnOperation::Begin => "begin_transaction",
            TxnOperation::Send => "send",
            TxnOperation::SendOffsets => "send_offsets_to_transaction",
            TxnOperation::Commit => "commit_transaction",
            TxnOperation::Abort => "abort_transaction",
        })
    }
}

/// What a producer reports to the application.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A record's outcome: where it was written, or why it was not.
    Delivered {
        /// The id `send` returned.
        id: DeliveryId,
        /// The outcome.
        result: Result<RecordMetadata, DeliveryError>,
    },
    /// A record given to [`send_waiting`](super::Producer::send_waiting) that had to wait
    /// for room entered the buffer; its `Delivered` follows later. Records that got in at
    /// once have no such event.
    Buffered {
        /// The id `send_waiting` returned.
        id: DeliveryId,
    },
    /// Every record sent before the flush has its outcome.
    Flushed {
        /// The id `flush` returned.
        id: FlushId,
    },
    /// A transaction operation finished.
    Transaction {
        /// The id the command returned.
        id: TxnOpId,
        /// Which operation.
        operation: TxnOperation,
        /// Its outcome.
        result: Result<(), TransactionError>,
    },
}

/// A topic name shared by every partition and record of the topic.
pub(crate) type Topic = Arc<str>;

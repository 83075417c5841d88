//! What the application sends, and what it learns once a record is written.

use bytes::Bytes;
use dekaf_proto::records::OwnedHeader;
use dekaf_state::offset::TopicPartition;

/// A record to send: a topic, and optionally a partition, key, value, headers and timestamp.
///
/// ```
/// use dekaf_smol::ProducerRecord;
/// let record = ProducerRecord::new("orders")
///     .key("customer-42")
///     .value("{\"total\": 12}")
///     .header("source", "web");
/// assert_eq!(record.topic(), "orders");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerRecord {
    pub(crate) topic: String,
    pub(crate) partition: Option<i32>,
    pub(crate) key: Option<Bytes>,
    pub(crate) value: Option<Bytes>,
    pub(crate) headers: Vec<OwnedHeader>,
    pub(crate) timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with a null key and value, no headers, partition chosen by the
    /// producer and the time of sending as timestamp.
    pub fn new(topic: impl Into<String>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sends it to this partition instead of choosing one from the key.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the key; records with the same key go to the same partition (Java's murmur2
    /// hash of the key, modulo the partition count).
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Adds a header (keys may repeat).
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(OwnedHeader::new(key, Some(value.into())));
        self
    }

    /// Sets the timestamp, in milliseconds since the Unix epoch (default: the wall clock when
    /// sent).
    pub fn timestamp(mut self, millis: i64) -> Self {
        self.timestamp = Some(millis);
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The record as the producer machine takes it, stamped with `now_millis` when it has no
    /// timestamp of its own.
    pub(crate) fn into_state(self, now_millis: i64) -> dekaf_state::producer::ProducerRecord {
        dekaf_state::producer::ProducerRecord {
            topic: self.topic,
            partition: self.partition,
            key: self.key,
            value: self.value,
            headers: self.headers,
            timestamp: Some(self.timestamp.unwrap_or(now_millis)),
        }
    }
}

/// Where a record was written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RecordMetadata {
    /// The partition it was written to.
    pub topic_partition: TopicPartition,
    /// Its offset there; `None` when the broker did not say (`acks` 0, or a retried batch the
    /// broker recognised as already written).
    pub offset: Option<i64>,
    /// Its timestamp: the one sent, or the broker's append time when the topic uses it.
    pub timestamp: i64,
}

impl RecordMetadata {
    /// The topic.
    pub fn topic(&self) -> &str {
        self.topic_partition.topic()
    }

    /// The partition index.
    pub fn partition(&self) -> i32 {
        self.topic_partition.partition()
    }

    /// The offset, `None` when the broker did not say: with `acks` 0, or for a batch sent
    /// again that the broker recognised as already written (DUPLICATE_SEQUENCE_NUMBER), where
    /// the record is in the log once but the answer carries no offset.
    pub fn offset(&self) -> Option<i64> {
        self.offset
    }
}

impl From<dekaf_state::producer::RecordMetadata> for RecordMetadata {
    fn from(m: dekaf_state::producer::RecordMetadata) -> Self {
        RecordMetadata {
            topic_partition: m.partition,
            offset: m.offset,
            timestamp: m.timestamp,
        }
    }
}

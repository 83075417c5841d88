//! A record as the application receives it.

use bytes::Bytes;
use dekaf_proto::records::{OwnedHeader, TimestampType};
use dekaf_state::consumer::ConsumerRecord as StateRecord;
use dekaf_state::offset::{TopicPartition, TopicPartitionOffset};

/// One record read from a partition.
///
/// Key, value and header values share the fetched buffer (no copy): holding a record keeps
/// that buffer alive; copy what you keep for long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerRecord(pub(crate) StateRecord);

impl ConsumerRecord {
    /// The topic it was read from.
    pub fn topic(&self) -> &str {
        self.0.topic()
    }

    /// The partition index it was read from.
    pub fn partition(&self) -> i32 {
        self.0.partition()
    }

    /// The topic and partition.
    pub fn topic_partition(&self) -> &TopicPartition {
        &self.0.topic_partition
    }

    /// Its offset in the partition.
    pub fn offset(&self) -> i64 {
        self.0.offset
    }

    /// Where this record is: its topic, partition and own offset. To commit "this record is
    /// done", commit [`offset_to_commit`](Self::offset_to_commit) instead.
    pub fn topic_partition_offset(&self) -> TopicPartitionOffset {
        TopicPartitionOffset::at(self.0.topic_partition.clone(), self.0.offset)
    }

    /// What to commit once this record (and every one before it in the partition) is
    /// processed: the next offset, with this record's leader epoch.
    pub fn offset_to_commit(&self) -> TopicPartitionOffset {
        TopicPartitionOffset::at(self.0.topic_partition.clone(), self.0.offset + 1)
            .with_leader_epoch(self.0.leader_epoch)
    }

    /// Milliseconds since the Unix epoch, set by the producer or the broker (see
    /// [`timestamp_type`](Self::timestamp_type)).
    pub fn timestamp(&self) -> i64 {
        self.0.timestamp
    }

    /// Whether the producer (create time) or the broker (log append time) set the timestamp.
    pub fn timestamp_type(&self) -> TimestampType {
        self.0.timestamp_type
    }

    /// The leader epoch of the record's batch, if the broker set one.
    pub fn leader_epoch(&self) -> Option<i32> {
        self.0.leader_epoch
    }

    /// The key, `None` for a null key.
    pub fn key(&self) -> Option<&[u8]> {
        self.0.key.as_deref()
    }

    /// The value, `None` for a null value (a tombstone on compacted topics).
    pub fn value(&self) -> Option<&[u8]> {
        self.0.value.as_deref()
    }

    /// The key as a shared buffer (cloning it copies nothing).
    pub fn key_bytes(&self) -> Option<&Bytes> {
        self.0.key.as_ref()
    }

    /// The value as a shared buffer (cloning it copies nothing).
    pub fn value_bytes(&self) -> Option<&Bytes> {
        self.0.value.as_ref()
    }

    /// The headers, in order (keys may repeat).
    pub fn headers(&self) -> &[OwnedHeader] {
        &self.0.headers
    }

    /// The value of the last header named `key`, if there is one (`Some(None)` for a null
    /// value).
    pub fn header(&self, key: &str) -> Option<Option<&[u8]>> {
        self.0
            .headers
            .iter()
            .rev()
            .find(|h| h.key.as_ref() == key.as_bytes())
            .map(|h| h.value.as_deref())
    }

    /// The record as the state machine hands it out.
    pub fn into_inner(self) -> StateRecord {
        self.0
    }
}

impl From<StateRecord> for ConsumerRecord {
    fn from(record: StateRecord) -> Self {
        ConsumerRecord(record)
    }
}

impl AsRef<StateRecord> for ConsumerRecord {
    fn as_ref(&self) -> &StateRecord {
        &self.0
    }
}

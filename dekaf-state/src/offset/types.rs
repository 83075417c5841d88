//! Names for partitions, offsets and the ids the offset machine hands out.

use std::fmt;
use std::sync::Arc;

/// A partition of a topic. Cheap to clone: the topic name is shared.
#[derive(Clone, Eq)]
pub struct TopicPartition {
    topic: Arc<str>,
    partition: i32,
}

// Ordered by topic name, then partition, as the derived order would; partitions cloned from
// one another share their name, which then compares without reading it (the machines look
// partitions up in ordered maps for every record).
impl PartialEq for TopicPartition {
    fn eq(&self, other: &Self) -> bool {
        self.partition == other.partition
            && (Arc::ptr_eq(&self.topic, &other.topic) || self.topic == other.topic)
    }
}

// As derived: equal partitions hash alike whether or not they share the name's allocation.
impl std::hash::Hash for TopicPartition {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.topic.hash(state);
        self.partition.hash(state);
    }
}

impl Ord for TopicPartition {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.topic, &other.topic) {
            return self.partition.cmp(&other.partition);
        }
        self.topic
            .cmp(&other.topic)
            .then(self.partition.cmp(&other.partition))
    }
}

impl PartialOrd for TopicPartition {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl TopicPartition {
    /// The partition `partition` of `topic`.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// The topic name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The shared topic name, for building more partitions of the same topic without copying.
    pub fn topic_arc(&self) -> &Arc<str> {
        &self.topic
    }

    /// The partition index.
    pub fn partition(&self) -> i32 {
        self.partition
    }
}

impl fmt::Debug for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// An offset to commit or store, with the leader epoch of the last consumed record and
/// optional application metadata (both travel with an OffsetCommit).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OffsetAndMetadata {
    /// The next offset to consume: committing 3 means "0, 1 and 2 are done".
    pub offset: i64,
    /// Leader epoch of the last consumed record, if known; lets a restarted consumer detect log
    /// truncation.
    pub leader_epoch: Option<i32>,
    /// A string kept with the offset by the coordinator (bounded by the broker's
    /// `offset.metadata.max.bytes`).
    pub metadata: Option<String>,
}

impl OffsetAndMetadata {
    /// `offset` without leader epoch or metadata.
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata {
            offset,
            leader_epoch: None,
            metadata: None,
        }
    }

    /// The same offset with a leader epoch.
    pub fn with_leader_epoch(mut self, leader_epoch: Option<i32>) -> Self {
        self.leader_epoch = leader_epoch;
        self
    }

    /// The same offset with metadata.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }
}

/// An offset for one partition, as given to `commit_offsets`, `store_offsets` and `seek`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopicPartitionOffset {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// The offset, with its leader epoch and metadata.
    pub offset: OffsetAndMetadata,
}

impl TopicPartitionOffset {
    /// `offset` of partition `partition` of `topic`.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32, offset: i64) -> Self {
        TopicPartitionOffset {
            topic_partition: TopicPartition::new(topic, partition),
            offset: OffsetAndMetadata::new(offset),
        }
    }

    /// `offset` of an existing partition name.
    pub fn at(topic_partition: TopicPartition, offset: i64) -> Self {
        TopicPartitionOffset {
            topic_partition,
            offset: OffsetAndMetadata::new(offset),
        }
    }

    /// The same offset with a leader epoch.
    pub fn with_leader_epoch(mut self, leader_epoch: Option<i32>) -> Self {
        self.offset.leader_epoch = leader_epoch;
        self
    }

    /// The same offset with metadata.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.offset.metadata = Some(metadata.into());
        self
    }
}

/// A timestamp (milliseconds since the Unix epoch) for one partition, for offsets-for-times
/// queries and seeks by time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopicPartitionTimestamp {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
}

impl TopicPartitionTimestamp {
    /// `timestamp` (ms since the Unix epoch) for partition `partition` of `topic`.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32, timestamp: i64) -> Self {
        TopicPartitionTimestamp {
            topic_partition: TopicPartition::new(topic, partition),
            timestamp,
        }
    }
}

/// The earliest offset whose record timestamp is at or after a queried time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OffsetAndTimestamp {
    /// The offset of that record.
    pub offset: i64,
    /// Its timestamp (ms since the Unix epoch).
    pub timestamp: i64,
    /// The leader epoch of that record, if the broker sent it.
    pub leader_epoch: Option<i32>,
}

/// A place in a partition's log: an offset and the leader epoch it was read under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FetchPosition {
    /// The offset.
    pub offset: i64,
    /// The leader epoch of the record before it (the last consumed one), if known.
    pub leader_epoch: Option<i32>,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) u64);

        impl $name {
            /// The number behind the id (unique within one offset machine, increasing).
            pub fn get(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}#{}", stringify!($name), self.0)
            }
        }
    };
}

id_type!(
    /// Names one commit; it finishes with exactly one `Event::CommitFinished`.
    CommitId
);
id_type!(
    /// Names one committed-offsets or offsets-for-times query; it finishes with exactly one event.
    QueryId
);
id_type!(
    /// Names one intent; the driver passes it back with the intent's result.
    IntentId
);
id_type!(
    /// Changes whenever a partition's position is moved by a seek, a reset or a new assignment:
    /// fetched data tagged with an older epoch is no longer wanted.
    FetchEpoch
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn partitions_order_by_topic_then_partition_shared_name_or_not(
            a in "[ab]{0,3}", pa in -2i32..3, b in "[ab]{0,3}", pb in -2i32..3,
        ) {
            let x = TopicPartition::new(a.as_str(), pa);
            let y = TopicPartition::new(b.as_str(), pb);
            let expected = (a.as_str(), pa).cmp(&(b.as_str(), pb));
            prop_assert_eq!(x.cmp(&y), expected);
            prop_assert_eq!(x == y, expected.is_eq());
            // The same name, shared.
            let z = TopicPartition::new(x.topic_arc().clone(), pb);
            prop_assert_eq!(x.cmp(&z), pa.cmp(&pb));
            prop_assert_eq!(x == z, pa == pb);
        }
    }
}

/// The longest topic name Kafka accepts.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// A topic name Kafka would refuse.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("invalid topic name {name:?}: {reason}")]
pub struct InvalidTopicName {
    /// The name given.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Checks `name` by Kafka's rule: 1 to 249 characters, each an ASCII letter, digit, `.`,
/// `_` or `-`, and neither `.` nor `..`.
pub fn check_topic_name(name: &str) -> Result<(), InvalidTopicName> {
    let refuse = |reason| {
        Err(InvalidTopicName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name == "." || name == ".." {
        return refuse("\".\" and \"..\" are not topic names");
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return refuse("it is longer than 249 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return refuse("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

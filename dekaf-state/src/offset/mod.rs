//! The offset machine of a consumer: positions, stored and committed offsets, commits, seeks
//! and resets. See [`OffsetManager`].

mod backoff;
mod commands;
mod commit;
mod config;
mod coordinator;
mod delivery;
mod error;
mod inputs;
mod io;
mod lookups;
mod manager;
mod outputs;
mod outstanding;
mod partition;
mod query;
mod types;
mod validation;

pub use backoff::{Backoff, Rng};
pub use commit::CommitOrigin;
pub use config::{AckMode, AutoOffsetReset, CommitPolicy, OffsetCommitMode, OffsetConfig};
pub use error::{
    is_coordinator_code, is_rebalance_code, CommitError, Fault, LookupError, OffsetError,
    PartitionCommitError, PositionError,
};
pub use io::{CommittedResult, Event, FetchedPartition, Intent, ListedOffset};
pub use manager::{CommitStats, OffsetManager};
pub use partition::{OffsetSpec, PositionState};
pub use types::{
    check_topic_name, CommitId, FetchEpoch, FetchPosition, IntentId, InvalidTopicName,
    OffsetAndMetadata, OffsetAndTimestamp, QueryId, TopicPartition, TopicPartitionOffset,
    TopicPartitionTimestamp, MAX_TOPIC_NAME_LEN,
};
pub use validation::EpochAnswer;

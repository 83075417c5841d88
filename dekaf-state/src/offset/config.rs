//! What the application chooses: commit mode and policy, acknowledgement, reset policy, limits.

use std::time::Duration;

use super::backoff::Backoff;

/// Whether offsets are committed in the background (Kafka's `enable.auto.commit`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OffsetCommitMode {
    /// Stored offsets are committed by the [`CommitPolicy`] (default: every 5 s), on
    /// [`assign`](super::OffsetManager::assign) and on [`close`](super::OffsetManager::close).
    #[default]
    Auto,
    /// Nothing is committed unless the application calls `commit` or `commit_offsets`.
    Manual,
}

/// When the background commits of [`OffsetCommitMode::Auto`] happen. A commit only carries
/// partitions whose stored offset moved since the last commit request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommitPolicy {
    /// Only explicit calls commit (Auto mode then behaves like Manual mode).
    Explicit,
    /// As soon as a record is acknowledged (the guide's "commit after each message").
    EveryRecord,
    /// Once this many records were acknowledged since the last commit (the guide's "commit in
    /// batches"); `0` counts as `1`.
    EveryNRecords(u64),
    /// On a timer (Kafka's `auto.commit.interval.ms`, the guide's "commit periodically").
    Interval(Duration),
}

impl Default for CommitPolicy {
    fn default() -> Self {
        CommitPolicy::Interval(Duration::from_secs(5))
    }
}

/// When a handed-out record counts as processed (acknowledged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AckMode {
    /// When the application asks for the next record or batch
    /// ([`release`](super::OffsetManager::release)), commits explicitly, or closes: every record
    /// handed out before is acknowledged. Right for sequential processing.
    #[default]
    OnRelease,
    /// Only [`ack`](super::OffsetManager::ack) acknowledges, in any order. Right for records
    /// processed concurrently.
    Explicit,
}

/// Where to start when a partition has no committed offset, or its position fell outside the
/// log (Kafka's `auto.offset.reset`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AutoOffsetReset {
    /// The log start offset.
    Earliest,
    /// The log end offset (only records produced from now on).
    #[default]
    Latest,
    /// Do not guess: the partition reports a `PositionError` and is not fetched until a seek.
    None,
}

/// Everything the offset machine needs to know up front. Start from `Default` and change what
/// you need with the `with_*` methods.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OffsetConfig {
    /// The consumer group; without one, nothing can be committed or looked up.
    pub group_id: Option<String>,
    /// Auto (default) or Manual.
    pub commit_mode: OffsetCommitMode,
    /// When Auto mode commits (default: every 5 s).
    pub commit_policy: CommitPolicy,
    /// When a handed-out record counts as processed (default: on release).
    pub ack_mode: AckMode,
    /// Whether acknowledged records move the stored offset by themselves (default: true;
    /// librdkafka's `enable.auto.offset.store`). When false only `store`/`store_offsets` do.
    pub auto_store: bool,
    /// Where to start without a committed offset (default: latest).
    pub auto_offset_reset: AutoOffsetReset,
    /// How many handed-out records may be unacknowledged at once, over all partitions
    /// (default: 10 000). At the cap no more records may be handed out.
    pub max_outstanding: usize,
    /// How long a commit may retry before it finishes with a timeout (default: 60 s).
    pub commit_timeout: Duration,
    /// How long a committed-offsets or offsets-for-times query may retry (default: 60 s).
    pub query_timeout: Duration,
    /// Backoff between retries (default: 100 ms doubling to 1 s, ±20 % jitter).
    pub retry_backoff: Backoff,
    /// Ask the coordinator for stable offsets only, waiting out pending transactional commits
    /// (OffsetFetch `RequireStable`, where the version has it; default: true).
    pub require_stable: bool,
}

impl Default for OffsetConfig {
    fn default() -> Self {
        OffsetConfig {
            group_id: None,
            commit_mode: OffsetCommitMode::Auto,
            commit_policy: CommitPolicy::default(),
            ack_mode: AckMode::OnRelease,
            auto_store: true,
            auto_offset_reset: AutoOffsetReset::Latest,
            max_outstanding: 10_000,
            commit_timeout: Duration::from_secs(60),
            query_timeout: Duration::from_secs(60),
            retry_backoff: Backoff::default(),
            require_stable: true,
        }
    }
}

impl OffsetConfig {
    /// Sets the consumer group.
    pub fn with_group_id(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    /// Sets the commit mode.
    pub fn with_commit_mode(mut self, mode: OffsetCommitMode) -> Self {
        self.commit_mode = mode;
        self
    }

    /// Sets the Auto mode commit policy.
    pub fn with_commit_policy(mut self, policy: CommitPolicy) -> Self {
        self.commit_policy = policy;
        self
    }

    /// Sets when handed-out records count as processed.
    pub fn with_ack_mode(mut self, mode: AckMode) -> Self {
        self.ack_mode = mode;
        self
    }

    /// Sets whether acknowledged records move the stored offset by themselves.
    pub fn with_auto_store(mut self, auto_store: bool) -> Self {
        self.auto_store = auto_store;
        self
    }

    /// Sets where partitions without a committed offset start.
    pub fn with_auto_offset_reset(mut self, reset: AutoOffsetReset) -> Self {
        self.auto_offset_reset = reset;
        self
    }

    /// Sets the cap on handed-out, unacknowledged records (at least 1).
    pub fn with_max_outstanding(mut self, max: usize) -> Self {
        self.max_outstanding = max.max(1);
        self
    }

    /// Sets how long a commit may retry.
    pub fn with_commit_timeout(mut self, timeout: Duration) -> Self {
        self.commit_timeout = timeout;
        self
    }

    /// Sets how long a query may retry.
    pub fn with_query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// Sets the retry backoff.
    pub fn with_retry_backoff(mut self, backoff: Backoff) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// The policy in force: Manual mode commits only explicitly, whatever the policy says.
    pub fn effective_policy(&self) -> CommitPolicy {
        match self.commit_mode {
            OffsetCommitMode::Manual => CommitPolicy::Explicit,
            OffsetCommitMode::Auto => match self.commit_policy {
                CommitPolicy::EveryNRecords(0) => CommitPolicy::EveryRecord,
                p => p,
            },
        }
    }
}

//! What the producer counts about its batches as they go out and come back: how full they
//! were, how long they waited, and why they were sent again.

use std::collections::BTreeMap;
use std::time::Duration;

use dekaf_proto::ErrorCode;

use crate::metrics::Histogram;

/// Batch fill in whole percent, 0 to 100: one count per batch.
#[derive(Clone)]
pub struct FillHistogram {
    counts: Box<[u64; 101]>,
    total: u64,
}

impl Default for FillHistogram {
    fn default() -> Self {
        FillHistogram {
            counts: Box::new([0; 101]),
            total: 0,
        }
    }
}

impl std::fmt::Debug for FillHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FillHistogram")
            .field("count", &self.total)
            .field("summary", &self.summary())
            .finish()
    }
}

impl FillHistogram {
    /// Counts a batch of `bytes` out of `capacity` (at most 100%).
    pub fn record(&mut self, bytes: usize, capacity: usize) {
        let percent = bytes
            .saturating_mul(100)
            .checked_div(capacity)
            .map_or(100, |p| p.min(100));
        if let Some(count) = self.counts.get_mut(percent) {
            *count += 1;
        }
        self.total += 1;
    }

    /// How many batches were counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The fill under which a fraction `q` (0 to 1) of the batches lie; `None` when nothing
    /// was counted.
    pub fn quantile(&self, q: f64) -> Option<u8> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (percent, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return u8::try_from(percent).ok();
            }
        }
        Some(100)
    }

    /// Count, mean, p50 and p99.
    pub fn summary(&self) -> FillSummary {
        let sum: u64 = self
            .counts
            .iter()
            .enumerate()
            .map(|(percent, n)| percent as u64 * n)
            .sum();
        FillSummary {
            count: self.total,
            mean: if self.total == 0 {
                0.0
            } else {
                sum as f64 / self.total as f64
            },
            p50: self.quantile(0.5).unwrap_or(0),
            p99: self.quantile(0.99).unwrap_or(0),
        }
    }
}

/// A summary of a [`FillHistogram`], in percent of the batch size; zeros when nothing was
/// counted.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FillSummary {
    /// How many batches.
    pub count: u64,
    /// Their mean fill.
    pub mean: f64,
    /// The median fill.
    pub p50: u8,
    /// The 99th percentile of the fill.
    pub p99: u8,
}

/// Why a batch was sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RetryCause {
    /// The broker answered the partition with this retriable error code (a request that
    /// failed as a whole, timed out or disconnected, counts as `NETWORK_EXCEPTION` unless
    /// the broker gave a code).
    Error(ErrorCode),
    /// The answer left the partition out: its fate is unknown, and it goes again.
    NoAnswer,
    /// Too large for the broker: split in two, each half sent again.
    Split,
}

impl std::fmt::Display for RetryCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryCause::Error(code) => write!(f, "{code}"),
            RetryCause::NoAnswer => f.write_str("no answer for the partition"),
            RetryCause::Split => f.write_str("split, too large"),
        }
    }
}

/// What the producer counted since it was created: see [`Producer::stats`](super::Producer::stats).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ProducerStats {
    /// Batches sent (counted once, at their first send).
    pub batches_sent: u64,
    /// Records in those batches.
    pub batch_records: u64,
    /// Bytes of records in those batches, uncompressed (what `batch_size` bounds).
    pub batch_bytes: u64,
    /// How full each batch was when it was first sent, in percent of `batch_size`.
    pub batch_fill: FillHistogram,
    /// How long each batch waited from its first record to its first send (Java's
    /// `record-queue-time`, which is measured per batch the same way).
    pub queue_time: Histogram,
    /// Batches sent again, by cause.
    pub retries: BTreeMap<RetryCause, u64>,
}

impl ProducerStats {
    /// A batch of `records` records and `bytes` bytes out of `capacity` went out for the first
    /// time after waiting `queued`.
    pub(crate) fn batch_sent(
        &mut self,
        records: usize,
        bytes: usize,
        capacity: usize,
        queued: Duration,
    ) {
        self.batches_sent += 1;
        self.batch_records += records as u64;
        self.batch_bytes += bytes as u64;
        self.batch_fill.record(bytes, capacity);
        self.queue_time.record(queued);
    }

    /// A batch will be sent again.
    pub(crate) fn retried(&mut self, cause: RetryCause) {
        *self.retries.entry(cause).or_default() += 1;
    }

    /// Batches sent again, whatever the cause.
    pub fn retries_total(&self) -> u64 {
        self.retries.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_quantiles_come_from_the_batches_counted() {
        let mut fill = FillHistogram::default();
        assert_eq!(fill.summary(), FillSummary::default());
        for _ in 0..99 {
            fill.record(50, 100);
        }
        fill.record(200, 100);
        let s = fill.summary();
        assert_eq!((s.count, s.p50, s.p99), (100, 50, 50));
        assert!((s.mean - 50.5).abs() < 1e-9);
        assert_eq!(fill.quantile(1.0), Some(100));
    }
}

//! Counting what a client does, without a clock of its own: a latency histogram small enough
//! to keep one per API and per broker, and a rate over a sliding window. Times come in as
//! arguments, as everywhere in this crate.

use std::time::{Duration, Instant};

/// Sub-buckets per power of two: quantiles are within 1/8 (12.5%) of the true value.
const SUB_BUCKETS: u32 = 8;
/// Powers of two covered, from 1 µs: up to about 2^40 µs (12 days); larger values share the
/// last bucket.
const POWERS: u32 = 40;
const BUCKETS: usize = ((POWERS + 1) * SUB_BUCKETS) as usize;

/// Durations counted in log-linear buckets of microseconds: a fixed 2.6 KiB, any number of
/// values, quantiles within 12.5%.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: Duration,
    sum: Duration,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max: Duration::ZERO,
            sum: Duration::ZERO,
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("summary", &self.summary())
            .finish()
    }
}

/// The bucket of `micros`: exact below `SUB_BUCKETS`, then `SUB_BUCKETS` per power of two.
fn bucket(micros: u64) -> usize {
    if micros < u64::from(SUB_BUCKETS) {
        return micros as usize;
    }
    let power = 63 - micros.leading_zeros(); // >= 3
    let shift = power - SUB_BUCKETS.trailing_zeros();
    let sub = (micros >> shift) as u32 - SUB_BUCKETS; // 0..SUB_BUCKETS
    let index = (power - SUB_BUCKETS.trailing_zeros() + 1) * SUB_BUCKETS + sub;
    (index as usize).min(BUCKETS - 1)
}

/// The largest value in `index`'s bucket, in microseconds.
fn bucket_top(index: usize) -> u64 {
    let index = index as u32;
    if index < SUB_BUCKETS {
        return u64::from(index);
    }
    let group = index / SUB_BUCKETS; // >= 1
    let sub = index % SUB_BUCKETS;
    let shift = group - 1;
    ((u64::from(SUB_BUCKETS + sub + 1)) << shift).saturating_sub(1)
}

impl Histogram {
    /// Counts one value.
    pub fn record(&mut self, value: Duration) {
        let micros = u64::try_from(value.as_micros()).unwrap_or(u64::MAX);
        if let Some(count) = self.counts.get_mut(bucket(micros)) {
            *count += 1;
        }
        self.total += 1;
        self.max = self.max.max(value);
        self.sum = self.sum.saturating_add(value);
    }

    /// How many values were counted.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value under which a fraction `q` (0 to 1) of the values lie, within 12.5%;
    /// `None` when nothing was counted. Never more than the largest value counted.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Duration::from_micros(bucket_top(i)).min(self.max));
            }
        }
        Some(self.max)
    }

    /// Count, mean, p50, p99 and largest value.
    pub fn summary(&self) -> LatencySummary {
        let mean = u32::try_from(self.total)
            .ok()
            .filter(|n| *n > 0)
            .map_or(Duration::ZERO, |n| self.sum / n);
        LatencySummary {
            count: self.total,
            mean,
            p50: self.quantile(0.5).unwrap_or_default(),
            p99: self.quantile(0.99).unwrap_or_default(),
            max: self.max,
        }
    }
}

/// A summary of a [`Histogram`]: zero durations when nothing was counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// How many values.
    pub count: u64,
    /// Their mean.
    pub mean: Duration,
    /// The median (within 12.5%).
    pub p50: Duration,
    /// The 99th percentile (within 12.5%).
    pub p99: Duration,
    /// The largest.
    pub max: Duration,
}

/// A count and its rate per second over the last complete window (a few seconds), as Kafka's
/// clients report `records-consumed-rate`.
#[derive(Clone, Debug, Default)]
pub struct Rate {
    total: u64,
    window_start: Option<Instant>,
    in_window: u64,
    last: Option<(Instant, f64)>,
}

/// The length of a rate's window.
const WINDOW: Duration = Duration::from_secs(5);

impl Rate {
    /// Adds `n` at `now`.
    pub fn add(&mut self, now: Instant, n: u64) {
        self.roll(now);
        self.total = self.total.saturating_add(n);
        self.in_window = self.in_window.saturating_add(n);
    }

    /// Closes the window when it is over.
    fn roll(&mut self, now: Instant) {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= WINDOW {
            self.last = Some((now, self.in_window as f64 / elapsed.as_secs_f64()));
            self.window_start = Some(now);
            self.in_window = 0;
        }
    }

    /// Everything added so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Per second, over the last complete window, as of `now`: the current window when no
    /// window has completed yet, zero once nothing was added for two windows.
    pub fn per_second(&self, now: Instant) -> f64 {
        let Some(start) = self.window_start else {
            return 0.0;
        };
        let current = now.saturating_duration_since(start);
        if current >= WINDOW.saturating_mul(2) {
            return 0.0;
        }
        if current >= WINDOW {
            return self.in_window as f64 / current.as_secs_f64();
        }
        match self.last {
            Some((_, rate)) => rate,
            None if current.is_zero() => 0.0,
            None => self.in_window as f64 / current.as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_and_contain_their_values() {
        let mut last = 0;
        for micros in [
            0u64,
            1,
            7,
            8,
            9,
            15,
            16,
            17,
            100,
            1_000,
            65_535,
            1 << 30,
            u64::MAX,
        ] {
            let b = bucket(micros);
            assert!(b >= last, "{micros}: bucket {b} after {last}");
            last = b;
            if b < BUCKETS - 1 {
                assert!(bucket_top(b) >= micros, "{micros} above its bucket's top");
                // Within 12.5% of the bucket's top.
                assert!(
                    bucket_top(b) as f64 <= micros as f64 * 1.125 + 1.0,
                    "{micros}"
                );
            }
        }
    }

    #[test]
    fn quantiles_come_within_an_eighth() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile(0.5).unwrap().as_secs_f64() * 1000.0;
        let p99 = h.quantile(0.99).unwrap().as_secs_f64() * 1000.0;
        assert!((50.0..=50.0 * 1.125).contains(&p50), "p50 {p50}");
        assert!((99.0..=100.0).contains(&p99), "p99 {p99}");
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(s.mean, Duration::from_micros(50_500));
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // one base instant; every other time is an offset from it
    fn a_rate_is_per_second_over_the_last_window() {
        let t0 = Instant::now();
        let mut r = Rate::default();
        assert_eq!(r.per_second(t0), 0.0);
        for s in 0..10u64 {
            r.add(t0 + Duration::from_secs(s), 100);
        }
        assert_eq!(r.total(), 1000);
        let rate = r.per_second(t0 + Duration::from_secs(10));
        assert!((99.0..=101.0).contains(&rate), "{rate}");
        // Quiet for two windows: nothing is flowing.
        assert_eq!(r.per_second(t0 + Duration::from_secs(30)), 0.0);
    }
}

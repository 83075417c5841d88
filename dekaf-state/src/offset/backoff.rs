//! Exponential backoff with deterministic jitter.

use std::time::{Duration, Instant};

/// Exponential backoff: `initial`, doubling per attempt up to `max`, each delay multiplied by a
/// factor drawn uniformly from `[1 - jitter, 1 + jitter]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The delay before the first retry (Kafka's `retry.backoff.ms`, default 100 ms).
    pub initial: Duration,
    /// The largest delay before jitter (Kafka's `retry.backoff.max.ms`, default 1 s).
    pub max: Duration,
    /// Relative jitter in `[0, 1]` (default 0.2).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// A backoff without jitter, for tests that want exact times.
    pub fn fixed(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            jitter: 0.0,
        }
    }

    /// The delay before retry number `attempt` (0 for the first retry), jittered from `rng`.
    pub fn delay(&self, attempt: u32, rng: &mut Rng) -> Duration {
        let base = self
            .initial
            .checked_mul(1u32 << attempt.min(20))
            .unwrap_or(self.max)
            .min(self.max);
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        if jitter == 0.0 {
            return base;
        }
        let factor = 1.0 + jitter * (2.0 * rng.next_f64() - 1.0);
        Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(base)
    }
}

/// `now + d`, saturating far in the future instead of overflowing (for huge configured
/// timeouts).
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// A small deterministic random number generator (SplitMix64), seeded at construction so that
/// a run replays exactly from its seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_max_without_jitter() {
        let b = Backoff::fixed(Duration::from_millis(100), Duration::from_millis(700));
        let mut rng = Rng::new(1);
        let d: Vec<_> = (0..5).map(|a| b.delay(a, &mut rng).as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 700, 700]);
        assert_eq!(b.delay(u32::MAX, &mut rng), Duration::from_millis(700));
    }

    #[test]
    fn jitter_stays_in_bounds_and_replays_from_the_seed() {
        let b = Backoff::default();
        let (mut r1, mut r2) = (Rng::new(42), Rng::new(42));
        for attempt in 0..50 {
            let d = b.delay(attempt % 6, &mut r1);
            assert_eq!(d, b.delay(attempt % 6, &mut r2));
            let base = Duration::from_millis(100 << (attempt % 6)).min(b.max);
            assert!(
                d >= base.mul_f64(0.8) && d <= base.mul_f64(1.2),
                "{d:?} vs {base:?}"
            );
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn odd_settings_never_panic() {
        let mut rng = Rng::new(3);
        for jitter in [f64::NAN, f64::INFINITY, -1.0, 5.0] {
            let b = Backoff {
                initial: Duration::MAX,
                max: Duration::MAX,
                jitter,
            };
            let _ = b.delay(30, &mut rng);
        }
        #[allow(clippy::disallowed_methods)] // one base instant for the test
        let now = Instant::now();
        assert!(after(now, Duration::MAX) > now);
    }
}

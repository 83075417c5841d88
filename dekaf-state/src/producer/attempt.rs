//! Retrying one kind of request: at most one in flight, a backoff after each failure.

use std::time::{Duration, Instant};

use crate::client::RequestId;
use crate::offset::{Backoff, Rng};

/// `now + d`, saturating far in the future instead of overflowing.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// The retry state of one request that is sent again until it succeeds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub(crate) in_flight: Option<RequestId>,
    pub(crate) not_before: Option<Instant>,
    pub(crate) failures: u32,
}

impl Attempt {
    /// Whether a request may be sent now.
    pub(crate) fn can_send(&self, now: Instant) -> bool {
        self.in_flight.is_none() && self.not_before.is_none_or(|t| now >= t)
    }

    pub(crate) fn sent(&mut self, id: RequestId) {
        self.in_flight = Some(id);
    }

    pub(crate) fn is(&self, id: RequestId) -> bool {
        self.in_flight == Some(id)
    }

    /// The answer was a success: the next request goes out at once.
    pub(crate) fn succeeded(&mut self) {
        *self = Attempt::default();
    }

    /// The request failed: the next one waits a growing backoff.
    pub(crate) fn failed(&mut self, now: Instant, backoff: &Backoff, rng: &mut Rng) {
        self.in_flight = None;
        self.not_before = Some(after(now, backoff.delay(self.failures, rng)));
        self.failures = self.failures.saturating_add(1);
    }

    /// When a request may go out again, if it is waiting for a backoff.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        if self.in_flight.is_some() {
            None
        } else {
            self.not_before
        }
    }
}

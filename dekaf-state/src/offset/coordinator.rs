//! Where the group coordinator is: unknown, being looked up, or known.

use std::time::Instant;

use super::types::IntentId;

/// The group coordinator as far as this machine knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coordinator {
    /// Not known: a FindCoordinator is due once `not_before` has passed and something needs it.
    Unknown {
        not_before: Option<Instant>,
        attempt: u32,
    },
    /// A FindCoordinator is out.
    Finding { intent: IntentId, attempt: u32 },
    /// Requests for the coordinator go to this broker.
    Known { node_id: i32 },
}

impl Default for Coordinator {
    fn default() -> Self {
        Coordinator::Unknown {
            not_before: None,
            attempt: 0,
        }
    }
}

impl Coordinator {
    /// The coordinator's broker id, if known.
    pub(crate) fn node_id(&self) -> Option<i32> {
        match self {
            Coordinator::Known { node_id } => Some(*node_id),
            _ => None,
        }
    }

    /// Whether a FindCoordinator may be sent at `now`.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        matches!(self, Coordinator::Unknown { not_before, .. } if not_before.is_none_or(|t| t <= now))
    }

    /// Forgets the coordinator (it moved, or its connection broke): look it up again at once.
    pub(crate) fn forget(&mut self) {
        if let Coordinator::Known { .. } = self {
            *self = Coordinator::default();
        }
    }
}

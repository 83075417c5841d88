//! The records sent and not reported yet, with the room each takes in the buffer: a queue
//! indexed by delivery id (ids are given out in order and mostly reported in order), so
//! that each record costs four bytes and no allocation of its own.

use std::collections::VecDeque;

use super::types::DeliveryId;

/// Marks a record already reported.
const DONE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(crate) struct Undelivered {
    /// The id of the first entry.
    base: u64,
    /// Room taken by each record from `base` on, or `DONE`.
    sizes: VecDeque<u32>,
    pending: usize,
}

impl Undelivered {
    /// Records record `id` (new, or already pending) as taking `size` bytes.
    pub(crate) fn insert(&mut self, id: DeliveryId, size: usize) {
        let size = u32::try_from(size).unwrap_or(DONE - 1).min(DONE - 1);
        if self.sizes.is_empty() && self.pending == 0 {
            self.base = id.0;
        }
        let Some(index) = id.0.checked_sub(self.base) else {
            return;
        };
        let Ok(index) = usize::try_from(index) else {
            return;
        };
        while self.sizes.len() <= index {
            self.sizes.push_back(DONE);
        }
        if let Some(slot) = self.sizes.get_mut(index) {
            if *slot == DONE {
                self.pending += 1;
            }
            *slot = size;
        }
    }

    /// Forgets record `id`, returning the room it took, if it was pending.
    pub(crate) fn remove(&mut self, id: DeliveryId) -> Option<usize> {
        let index = usize::try_from(id.0.checked_sub(self.base)?).ok()?;
        let slot = self.sizes.get_mut(index)?;
        if *slot == DONE {
            return None;
        }
        let size = *slot as usize;
        *slot = DONE;
        self.pending -= 1;
        while self.sizes.front() == Some(&DONE) {
            self.sizes.pop_front();
            self.base += 1;
        }
        Some(size)
    }

    /// The oldest record pending.
    pub(crate) fn first(&self) -> Option<DeliveryId> {
        // Reported records are popped from the front: the front, if any, is pending.
        (!self.sizes.is_empty()).then_some(DeliveryId(self.base))
    }

    pub(crate) fn len(&self) -> usize {
        self.pending
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_leave_in_any_order_and_the_first_pending_follows() {
        let mut u = Undelivered::default();
        for id in 10..15 {
            u.insert(DeliveryId(id), 100 + id as usize);
        }
        u.insert(DeliveryId(12), 7);
        assert_eq!((u.len(), u.first()), (5, Some(DeliveryId(10))));
        assert_eq!(u.remove(DeliveryId(11)), Some(111));
        assert_eq!(u.remove(DeliveryId(11)), None);
        assert_eq!(u.first(), Some(DeliveryId(10)));
        assert_eq!(u.remove(DeliveryId(10)), Some(110));
        assert_eq!(u.first(), Some(DeliveryId(12)));
        assert_eq!(u.remove(DeliveryId(12)), Some(7));
        assert_eq!(u.remove(DeliveryId(14)), Some(114));
        assert_eq!(u.remove(DeliveryId(13)), Some(113));
        assert!(u.is_empty() && u.first().is_none());
        assert_eq!(u.remove(DeliveryId(3)), None);
        u.insert(DeliveryId(20), 1);
        assert_eq!((u.len(), u.first()), (1, Some(DeliveryId(20))));
    }
}

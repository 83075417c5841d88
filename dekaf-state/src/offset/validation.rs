//! Position validation after a leader change (KIP-320): a position read under an older leader
//! is checked against the new leader's log before fetching goes on, and a truncated log
//! resets the position to where the logs diverge.

use std::time::Instant;

use dekaf_proto::ErrorCode;

use super::config::AutoOffsetReset;
use super::error::PositionError;
use super::io::Event;
use super::manager::OffsetManager;
use super::partition::{Lookup, Start};
use super::types::{FetchEpoch, FetchPosition, TopicPartition};

/// What a partition leader said about the epoch of a position (OffsetForLeaderEpoch, or the
/// diverging epoch of a fetch answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochAnswer {
    /// The largest epoch of the leader's log not above the one asked, and where it ends;
    /// either is -1 when the leader does not know.
    EndOffset {
        /// The epoch found.
        leader_epoch: i32,
        /// The offset just past that epoch's last record.
        end_offset: i64,
    },
    /// The broker does not offer OffsetForLeaderEpoch: the position is taken as valid.
    Unsupported,
    /// The partition could not be answered; asked again after a backoff.
    Failed(ErrorCode),
}

impl OffsetManager {
    /// The partition's leader changed (new broker or higher leader epoch): if its position
    /// carries a leader epoch, it is not fetched until the new leader confirms it (see
    /// [`validations_due`](Self::validations_due)). Buffered and in-flight data is dropped (a
    /// new fetch epoch); the position and what was handed out are kept. Returns whether the
    /// partition now awaits validation.
    pub fn await_validation(&mut self, tp: &TopicPartition) -> bool {
        if self.closed {
            return false;
        }
        let epoch = self.fresh_epoch();
        let Some(p) = self.partitions.get_mut(tp) else {
            return false;
        };
        let (Start::Ready | Start::AwaitingValidation(..)) = p.start else {
            return false;
        };
        let Some(position) = p.position.filter(|pos| pos.leader_epoch.is_some()) else {
            return false;
        };
        p.fetch = Some(position);
        p.epoch = epoch;
        p.start = Start::AwaitingValidation(Lookup::default(), false);
        self.unsettled = true;
        true
    }

    /// The partitions whose position should be validated now, with the epoch to tag the
    /// answer with and the position to ask about (its leader epoch is the one to send). They
    /// are marked as asked: each must come back through
    /// [`handle_validation`](Self::handle_validation).
    pub fn validations_due(
        &mut self,
        now: Instant,
    ) -> Vec<(TopicPartition, FetchEpoch, FetchPosition)> {
        let mut out = Vec::new();
        self.settle();
        if self.closed || !self.unsettled {
            return out;
        }
        for (tp, p) in &mut self.partitions {
            if let Start::AwaitingValidation(l, asked) = &mut p.start {
                if !*asked && l.is_due(now) && !p.paused {
                    if let Some(position) = p.position {
                        *asked = true;
                        out.push((tp.clone(), p.epoch, position));
                    }
                }
            }
        }
        out
    }

    /// The answer to a validation of `tp` asked under `epoch` for `asked`. A log that ends
    /// the position's epoch below the position was truncated: with `auto_offset_reset`
    /// earliest or latest the position moves back to the divergence point (an
    /// [`Event::Truncated`]); with `None` the partition fails with
    /// [`PositionError::Truncation`]. A leader that cannot say where the epoch ends resets
    /// by `auto_offset_reset`. Otherwise the partition is fetched again. Stale answers are
    /// ignored.
    pub fn handle_validation(
        &mut self,
        now: Instant,
        tp: &TopicPartition,
        epoch: FetchEpoch,
        asked: FetchPosition,
        answer: EpochAnswer,
    ) {
        let Some(p) = self.partitions.get(tp) else {
            return;
        };
        let attempt = match &p.start {
            Start::AwaitingValidation(l, _) if p.epoch == epoch && p.position == Some(asked) => {
                l.attempt
            }
            _ => return,
        };
        match answer {
            EpochAnswer::Unsupported => self.complete_validation(tp),
            EpochAnswer::Failed(_) => {
                let delay = self.backoff(attempt);
                if let Some(Start::AwaitingValidation(l, asked)) =
                    self.partitions.get_mut(tp).map(|p| &mut p.start)
                {
                    *asked = false;
                    l.attempt = attempt.saturating_add(1);
                    l.not_before = now.checked_add(delay);
                }
            }
            EpochAnswer::EndOffset {
                leader_epoch,
                end_offset,
            } => self.apply_end_offset(tp, asked, leader_epoch, end_offset, true),
        }
    }

    /// A fetch of `tp` under `epoch`, from `fetched` (the fetch position sent with its last
    /// fetched epoch), was answered with a diverging epoch: the leader's log departs from
    /// what was read. Handled as a validation answer. Returns false if the fetch was stale.
    pub fn handle_diverging_epoch(
        &mut self,
        _now: Instant,
        tp: &TopicPartition,
        epoch: FetchEpoch,
        fetched: FetchPosition,
        leader_epoch: i32,
        end_offset: i64,
    ) -> bool {
        if !self.is_wanted(tp, epoch) {
            return false;
        }
        let (Some(position), true) = (self.position(tp), self.fetch_position(tp) == Some(fetched))
        else {
            return false;
        };
        if leader_epoch >= 0 && end_offset >= position.offset {
            // Only data buffered past what was handed out diverges: fetch it again.
            if end_offset < fetched.offset {
                self.place(tp, position);
            }
            return true;
        }
        self.apply_end_offset(tp, position, leader_epoch, end_offset, false);
        true
    }

    fn complete_validation(&mut self, tp: &TopicPartition) {
        if let Some(p) = self.partitions.get_mut(tp) {
            p.start = Start::Ready;
        }
    }

    /// Java's `maybeCompleteValidation`: compares where the position's epoch ends in the
    /// leader's log with the position.
    fn apply_end_offset(
        &mut self,
        tp: &TopicPartition,
        position: FetchPosition,
        leader_epoch: i32,
        end_offset: i64,
        complete: bool,
    ) {
        let reset = self.config.auto_offset_reset != AutoOffsetReset::None;
        if leader_epoch < 0 || end_offset < 0 {
            // The leader does not know the epoch: start over by the reset policy.
            let start = match self.reset_start() {
                Start::Failed(_) => Start::Failed(PositionError::Truncation {
                    partition: tp.clone(),
                    position,
                    divergence: None,
                }),
                start => start,
            };
            self.restart(tp, start);
        } else if end_offset < position.offset {
            let divergence = FetchPosition {
                offset: end_offset,
                leader_epoch: Some(leader_epoch),
            };
            if reset {
                self.place(tp, divergence);
                self.events.push_back(Event::Truncated {
                    partition: tp.clone(),
                    position,
                    divergence,
                });
            } else {
                self.restart(
                    tp,
                    Start::Failed(PositionError::Truncation {
                        partition: tp.clone(),
                        position,
                        divergence: Some(divergence),
                    }),
                );
            }
        } else if complete {
            self.complete_validation(tp);
        }
    }
}

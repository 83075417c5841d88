//! Where `groups reset-offsets` moves each partition: a pure function of the committed
//! offset, the log's range and the target, so that every rule is tested without a broker.

use std::fmt;

/// Where a reset asks a partition to go, once anything that needs the broker (the offset
/// of a time) has been looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The log start offset (`--to-earliest`).
    Earliest,
    /// The log end offset (`--to-latest`).
    Latest,
    /// This offset (`--to-offset`).
    Offset(i64),
    /// The committed offset moved by this many records, back when negative (`--shift-by`).
    ShiftBy(i64),
    /// The first offset whose timestamp is at or after a time (`--to-datetime`,
    /// `--by-duration`): `Some` with the offset the broker found, `None` when no record is
    /// that recent (the partition goes to its end, as Kafka's tool does).
    AtTime(Option<i64>),
    /// Where the group is now (`--to-current`); a partition without a committed offset goes
    /// to its end, as Kafka's tool does.
    Current,
}

/// What a partition's log holds and where the group stands in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The group's committed offset, `None` when it has none.
    pub current: Option<i64>,
    /// The log start offset.
    pub earliest: i64,
    /// The log end offset.
    pub latest: i64,
}

/// Which end of the log a target past it was brought back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clamp {
    /// The target was before the log start offset.
    ToEarliest,
    /// The target was after the log end offset.
    ToLatest,
}

impl fmt::Display for Clamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Clamp::ToEarliest => "clamped to earliest",
            Clamp::ToLatest => "clamped to latest",
        })
    }
}

/// A partition's new offset, and whether it was clamped into the log's range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    /// The offset the group will have committed.
    pub new: i64,
    /// Set when the target lay outside `earliest..=latest` and was brought back to that end.
    pub clamped: Option<Clamp>,
}

/// Why a partition has no plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// `--shift-by` needs a committed offset to shift from.
    NoCommittedOffset,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::NoCommittedOffset => f.write_str("no committed offset to shift from"),
        }
    }
}

/// The new offset of one partition: the target, brought back into `earliest..=latest` when
/// it lies outside (and then marked clamped). A shift saturates instead of overflowing.
pub fn plan(position: Position, target: Target) -> Result<Planned, PlanError> {
    let Position {
        current,
        earliest,
        latest,
    } = position;
    let wanted = match target {
        Target::Earliest => earliest,
        Target::Latest => latest,
        Target::Offset(n) => n,
        Target::ShiftBy(by) => current
            .ok_or(PlanError::NoCommittedOffset)?
            .saturating_add(by),
        Target::AtTime(found) => found.unwrap_or(latest),
        Target::Current => current.unwrap_or(latest),
    };
    let (new, clamped) = if wanted < earliest {
        (earliest, Some(Clamp::ToEarliest))
    } else if wanted > latest {
        (latest, Some(Clamp::ToLatest))
    } else {
        (wanted, None)
    };
    Ok(Planned { new, clamped })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: Position = Position {
        current: Some(40),
        earliest: 10,
        latest: 100,
    };

    fn new(position: Position, target: Target) -> (i64, Option<Clamp>) {
        let p = plan(position, target).unwrap();
        (p.new, p.clamped)
    }

    #[test]
    fn earliest_and_latest_are_the_ends_of_the_log() {
        assert_eq!(new(LOG, Target::Earliest), (10, None));
        assert_eq!(new(LOG, Target::Latest), (100, None));
    }

    #[test]
    fn an_offset_inside_the_log_is_taken_as_it_is() {
        assert_eq!(new(LOG, Target::Offset(10)), (10, None));
        assert_eq!(new(LOG, Target::Offset(57)), (57, None));
        assert_eq!(new(LOG, Target::Offset(100)), (100, None));
    }

    #[test]
    fn an_offset_outside_the_log_is_clamped_to_the_nearer_end() {
        assert_eq!(new(LOG, Target::Offset(3)), (10, Some(Clamp::ToEarliest)));
        assert_eq!(new(LOG, Target::Offset(101)), (100, Some(Clamp::ToLatest)));
    }

    #[test]
    fn a_shift_moves_from_the_committed_offset() {
        assert_eq!(new(LOG, Target::ShiftBy(-5)), (35, None));
        assert_eq!(new(LOG, Target::ShiftBy(60)), (100, None));
        assert_eq!(new(LOG, Target::ShiftBy(0)), (40, None));
    }

    #[test]
    fn a_shift_past_either_end_is_clamped_and_says_so() {
        assert_eq!(
            new(LOG, Target::ShiftBy(-31)),
            (10, Some(Clamp::ToEarliest))
        );
        assert_eq!(new(LOG, Target::ShiftBy(61)), (100, Some(Clamp::ToLatest)));
        assert_eq!(
            new(LOG, Target::ShiftBy(i64::MIN)),
            (10, Some(Clamp::ToEarliest))
        );
        assert_eq!(
            new(LOG, Target::ShiftBy(i64::MAX)),
            (100, Some(Clamp::ToLatest))
        );
    }

    #[test]
    fn a_shift_without_a_committed_offset_has_no_plan() {
        let fresh = Position {
            current: None,
            ..LOG
        };
        assert_eq!(
            plan(fresh, Target::ShiftBy(1)),
            Err(PlanError::NoCommittedOffset)
        );
    }

    #[test]
    fn a_committed_offset_outside_the_log_is_clamped_even_when_kept() {
        // Records were deleted under the group, or the log was truncated.
        let behind = Position {
            current: Some(2),
            ..LOG
        };
        assert_eq!(new(behind, Target::Current), (10, Some(Clamp::ToEarliest)));
        let ahead = Position {
            current: Some(150),
            ..LOG
        };
        assert_eq!(new(ahead, Target::Current), (100, Some(Clamp::ToLatest)));
    }

    #[test]
    fn current_without_a_committed_offset_is_the_end_of_the_log() {
        let fresh = Position {
            current: None,
            ..LOG
        };
        assert_eq!(new(fresh, Target::Current), (100, None));
        assert_eq!(new(LOG, Target::Current), (40, None));
    }

    #[test]
    fn a_time_goes_to_the_offset_found_or_to_the_end_when_no_record_is_that_recent() {
        assert_eq!(new(LOG, Target::AtTime(Some(42))), (42, None));
        assert_eq!(new(LOG, Target::AtTime(None)), (100, None));
        assert_eq!(
            new(LOG, Target::AtTime(Some(0))),
            (10, Some(Clamp::ToEarliest))
        );
    }

    #[test]
    fn an_empty_log_has_one_place_to_go() {
        let empty = Position {
            current: None,
            earliest: 0,
            latest: 0,
        };
        assert_eq!(new(empty, Target::Earliest), (0, None));
        assert_eq!(new(empty, Target::Latest), (0, None));
        assert_eq!(new(empty, Target::Offset(5)), (0, Some(Clamp::ToLatest)));
    }
}

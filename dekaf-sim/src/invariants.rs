//! The promises a client makes, each with a name, checked by the drivers after every step and
//! by [`world`](crate::world) at the end of a run. One place, so that a violation found by any
//! seed reads the same, and so that the list is the specification.

use std::fmt;

/// A promise of dekaf's clients that a simulation checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Invariant {
    /// No partition is fetched by two members of one group at once (of one generation).
    PartitionOwnedOnce,
    /// No member commits a partition after it was revoked from it or lost.
    NoCommitAfterGivingUp,
    /// A group's committed offset of a partition never moves back (no run seeks).
    CommittedNeverBackwards,
    /// Every record written is handed to some member by the time the group settles
    /// (at-least-once: nothing is lost, whatever crashed).
    NoRecordLost,
    /// No record is handed out twice while no member crashed or lost partitions (Auto mode).
    NoRecordTwice,
    /// Within one assignment a member gets a partition's records in offset order, each once.
    PartitionOrder,
    /// Every record an idempotent producer was told is written is in the log exactly once.
    IdempotentNoDuplicate,
    /// An idempotent producer's records of one partition are in the log in the order sent.
    IdempotentOrder,
    /// Every command given to a client machine (a send, a flush, a transaction operation)
    /// gets exactly one outcome: never two, and none is missing once everything drained.
    AnsweredOnce,
    /// read_committed readers see a committed transaction's records all, an aborted one's
    /// none.
    TransactionAllOrNothing,
    /// The group settles (every partition owned once, every member stable) once faults stop.
    Settles,
    /// The client did not panic, spin, or send a request it cannot write.
    NoClientBug,
}

impl Invariant {
    /// The invariant's name, as printed with a violation.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::PartitionOwnedOnce => "partition-owned-once",
            Invariant::NoCommitAfterGivingUp => "no-commit-after-giving-up",
            Invariant::CommittedNeverBackwards => "committed-never-backwards",
            Invariant::NoRecordLost => "no-record-lost",
            Invariant::NoRecordTwice => "no-record-twice",
            Invariant::PartitionOrder => "partition-order",
            Invariant::IdempotentNoDuplicate => "idempotent-no-duplicate",
            Invariant::IdempotentOrder => "idempotent-order",
            Invariant::AnsweredOnce => "answered-once",
            Invariant::TransactionAllOrNothing => "transaction-all-or-nothing",
            Invariant::Settles => "settles",
            Invariant::NoClientBug => "no-client-bug",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken promise: which, and what was seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The promise broken.
    pub invariant: Invariant,
    /// What happened, for a person.
    pub detail: String,
}

impl Violation {
    /// A violation of `invariant`.
    pub fn new(invariant: Invariant, detail: impl Into<String>) -> Self {
        Violation {
            invariant,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

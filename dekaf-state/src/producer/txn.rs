//! The states of a transactional producer and which moves between them are allowed. Nothing
//! else lives here: no requests, no timers, no records.
//!
//! ```text
//!                init_transactions        answer
//!  Uninitialized ───────────────► Initializing ──► Ready ◄──────────────────────────┐
//!                                                    │ begin_transaction            │
//!                                                    ▼                              │
//!                          ┌──────────────────── InTransaction ──────┐              │
//!                          │ a record, an offset or a request failed │ commit        │
//!                          ▼                                         ▼              │
//!                   AbortableError ◄──────────────────────────── Committing ───────┤
//!                          │ abort_transaction                                      │
//!                          ▼                                                        │
//!                       Aborting ◄──── abort_transaction (from InTransaction) ──────┤
//!                          └────────────────────────────────────────────────────────┘
//!  any state ── fenced, not authorized, broker too old ──► FatalError (final)
//! ```

/// Where a transactional producer is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransactionState {
    /// `init_transactions` not called yet.
    Uninitialized,
    /// Getting a producer id and epoch from the transaction coordinator.
    Initializing,
    /// No transaction open; `begin_transaction` may be called.
    Ready,
    /// A transaction is open: records and offsets may be added.
    InTransaction,
    /// Sending the last records, then asking the coordinator to commit.
    Committing,
    /// Dropping unsent records, then asking the coordinator to abort.
    Aborting,
    /// The transaction cannot commit; only `abort_transaction` moves on.
    AbortableError,
    /// The producer cannot go on; close it.
    FatalError,
}

impl TransactionState {
    /// Whether the machine may move from `self` to `next`.
    pub fn can_move_to(self, next: TransactionState) -> bool {
        use TransactionState::*;
        match (self, next) {
            (FatalError, _) => false,
            (_, FatalError) => true,
            (Uninitialized, Initializing) => true,
            (Initializing, Ready) => true,
            (Ready, InTransaction) => true,
            (InTransaction, Committing | Aborting | AbortableError) => true,
            (Committing, Ready | AbortableError) => true,
            (Aborting, Ready) => true,
            (AbortableError, Aborting | AbortableError) => true,
            _ => false,
        }
    }

    /// Whether records may be sent.
    pub fn accepts_records(self) -> bool {
        self == TransactionState::InTransaction
    }

    /// Whether a transaction is open or being finished (records of it may be in flight).
    pub fn is_in_transaction(self) -> bool {
        matches!(
            self,
            TransactionState::InTransaction
                | TransactionState::Committing
                | TransactionState::Aborting
                | TransactionState::AbortableError
        )
    }
}

impl std::fmt::Display for TransactionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransactionState::Uninitialized => "not initialized (call init_transactions)",
            TransactionState::Initializing => "initializing",
            TransactionState::Ready => "ready, with no transaction open",
            TransactionState::InTransaction => "in a transaction",
            TransactionState::Committing => "committing a transaction",
            TransactionState::Aborting => "aborting a transaction",
            TransactionState::AbortableError => "in a transaction that can only be aborted",
            TransactionState::FatalError => "stopped by a fatal error",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TransactionState::{self, *};

    const ALL: [TransactionState; 8] = [
        Uninitialized,
        Initializing,
        Ready,
        InTransaction,
        Committing,
        Aborting,
        AbortableError,
        FatalError,
    ];

    #[test]
    fn fatal_is_final_and_reachable_from_anywhere() {
        for s in ALL {
            assert!(!FatalError.can_move_to(s));
            if s != FatalError {
                assert!(s.can_move_to(FatalError));
            }
        }
    }

    #[test]
    fn only_an_abort_leaves_an_abortable_error() {
        for s in ALL {
            let allowed = AbortableError.can_move_to(s);
            assert_eq!(
                allowed,
                matches!(s, Aborting | AbortableError | FatalError),
                "{s:?}"
            );
        }
        // A commit never completes from an abortable error.
        assert!(!AbortableError.can_move_to(Ready));
        assert!(!AbortableError.can_move_to(Committing));
    }

    #[test]
    fn the_happy_path_is_allowed() {
        let path = [
            Uninitialized,
            Initializing,
            Ready,
            InTransaction,
            Committing,
            Ready,
            InTransaction,
            Aborting,
            Ready,
        ];
        for w in path.windows(2) {
            assert!(w[0].can_move_to(w[1]), "{:?} -> {:?}", w[0], w[1]);
        }
    }
}

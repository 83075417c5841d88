//! EndTxn (key 26): commits or aborts a transaction.

use crate::{message, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks the transaction coordinator to commit or abort the ongoing transaction.
    pub struct EndTxnRequest [MessageSpec::request(ApiKey::EndTxn, 0, 5)] {
        /// The transactional id.
        transactional_id: String [since(0)],
        /// The producer id of the transactional id.
        producer_id: i64 [since(0)],
        /// The epoch of the producer id.
        producer_epoch: i16 [since(0)],
        /// `true` to commit, `false` to abort.
        committed: bool [since(0)],
    }
}

message! {
    /// The outcome of ending the transaction.
    pub struct EndTxnResponse [MessageSpec::response(ApiKey::EndTxn, 0, 5)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// Why the transaction could not be ended, or `NONE`.
        error_code: ErrorCode [since(0)],
        /// The producer id to use from now on (the coordinator may bump the epoch or hand
        /// out a new id); -1 when absent.
        producer_id: i64 [since(5).ignorable()] = -1,
        /// The epoch to use from now on; -1 when absent.
        producer_epoch: i16 [since(5).ignorable()] = -1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<EndTxnRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<EndTxnResponse>(64);
    }
}

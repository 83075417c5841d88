//! AddOffsetsToTxn (key 25): tells the transaction coordinator that the transaction will
//! commit offsets for a consumer group.

use crate::{message, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Ties a consumer group's offsets to the transaction, before `TxnOffsetCommit` is sent to
    /// the group coordinator.
    pub struct AddOffsetsToTxnRequest [MessageSpec::request(ApiKey::AddOffsetsToTxn, 0, 4)] {
        /// The transactional id.
        transactional_id: String [since(0)],
        /// The producer id of the transactional id.
        producer_id: i64 [since(0)],
        /// The epoch of the producer id.
        producer_epoch: i16 [since(0)],
        /// The consumer group whose offsets the transaction will commit.
        group_id: String [since(0)],
    }
}

message! {
    /// Whether the group was added to the transaction.
    pub struct AddOffsetsToTxnResponse [MessageSpec::response(ApiKey::AddOffsetsToTxn, 0, 4)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0)],
        /// Why the group was not added, or `NONE`.
        error_code: ErrorCode [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<AddOffsetsToTxnRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<AddOffsetsToTxnResponse>(64);
    }
}

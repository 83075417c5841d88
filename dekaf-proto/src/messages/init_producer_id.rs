//! InitProducerId (key 22): obtains a producer id and epoch, for idempotent or transactional
//! producing.

use crate::{message, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks for a producer id and epoch; a transactional producer sends it to its transaction
    /// coordinator, an idempotent one to any broker.
    pub struct InitProducerIdRequest [MessageSpec::request(ApiKey::InitProducerId, 0, 5)] {
        /// The transactional id, or `None` for an idempotent producer without transactions.
        transactional_id: Option<String> [since(0).null_since(0)],
        /// How long a transaction may stay idle before the coordinator aborts it, in
        /// milliseconds; only meaningful with a transactional id.
        transaction_timeout_ms: i32 [since(0)],
        /// The producer id already held, to bump its epoch instead of getting a new id; -1
        /// for none.
        producer_id: i64 [since(3)] = -1,
        /// The epoch that goes with `producer_id`; -1 for none.
        producer_epoch: i16 [since(3)] = -1,
    }
}

message! {
    /// The producer id and epoch to stamp on record batches.
    pub struct InitProducerIdResponse [MessageSpec::response(ApiKey::InitProducerId, 0, 5)] {
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(0).ignorable()],
        /// Why no producer id was given, or `NONE`.
        error_code: ErrorCode [since(0)],
        /// The producer id, -1 on error.
        producer_id: i64 [since(0)] = -1,
        /// The epoch of the producer id.
        producer_epoch: i16 [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<InitProducerIdRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<InitProducerIdResponse>(64);
    }
}

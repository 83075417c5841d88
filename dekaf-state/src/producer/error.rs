//! Typed errors of the producer, each saying whose fault it is.

use dekaf_proto::ErrorCode;

use super::txn::TransactionState;
use super::types::TxnOperation;
use crate::client::RequestFailed;
use crate::offset::{Fault, TopicPartition};

/// Why a record was not written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The delivery timeout passed before the record was acknowledged.
    #[error(
        "delivery timed out (last error: {last_error:?}; may have been written: {maybe_written})"
    )]
    TimedOut {
        /// Whether a request carrying the record may have reached the broker: if so the
        /// record may be in the log after all.
        maybe_written: bool,
        /// The last error met while retrying, if any.
        last_error: Option<ErrorCode>,
    },
    /// The broker refused the batch for good (too large, invalid, not authorized, ...).
    #[error("the broker refused the record: {0}")]
    Rejected(ErrorCode),
    /// The broker's sequence for this partition did not follow the producer's: records sent
    /// before this one may be missing from the log.
    #[error("out of order sequence number: earlier records may be lost")]
    OutOfOrderSequence,
    /// The partition chosen by the application does not exist.
    #[error("partition {partition} does not exist (the topic has {partitions})")]
    InvalidPartition {
        /// The partition asked for.
        partition: i32,
        /// How many partitions the topic has.
        partitions: usize,
    },
    /// The record belonged to a transaction that was aborted (or failed) before it was sent.
    #[error("the transaction was aborted before the record was sent")]
    TransactionAborted,
    /// The producer hit an error it cannot recover from.
    #[error("the producer failed: {0}")]
    Fatal(FatalError),
    /// The request could not be sent or answered for a reason retrying cannot fix.
    #[error("request failed: {0}")]
    Request(RequestFailed),
    /// The batch could not be written (e.g. its codec is compiled out).
    #[error("the batch could not be encoded: {0}")]
    Encode(String),
    /// Given to [`send_waiting`](super::Producer::send_waiting), the record never entered
    /// the buffer: no room came within `max_block`, or its wait was
    /// [cancelled](super::Producer::cancel). Nothing of it was sent; the same refusal as
    /// [`SendError::BufferFull`], only later.
    #[error("no room in the producer's buffer")]
    BufferFull,
}

impl DeliveryError {
    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            DeliveryError::TimedOut { .. } => Fault::Transient,
            DeliveryError::Rejected(_) | DeliveryError::OutOfOrderSequence => Fault::Broker,
            DeliveryError::InvalidPartition { .. } | DeliveryError::TransactionAborted => {
                Fault::Application
            }
            DeliveryError::Fatal(e) => e.fault(),
            DeliveryError::Request(_) => Fault::Broker,
            DeliveryError::Encode(_) => Fault::Application,
            DeliveryError::BufferFull => Fault::Transient,
        }
    }
}

/// An error after which the producer can do nothing more: close it (and, after a fencing,
/// let the newer producer with the same transactional id carry on).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FatalError {
    /// The broker said so: PRODUCER_FENCED or INVALID_PRODUCER_EPOCH (a newer producer took
    /// the transactional id over), TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    /// CLUSTER_AUTHORIZATION_FAILED, INVALID_TXN_STATE, ...
    #[error("{0}")]
    Broker(ErrorCode),
    /// A request the producer cannot do without failed for good (e.g. the broker does not
    /// support InitProducerId).
    #[error("{0}")]
    Request(RequestFailed),
}

impl FatalError {
    /// Whether another producer with the same transactional id took over.
    pub fn is_fenced(&self) -> bool {
        matches!(
            self,
            FatalError::Broker(ErrorCode::PRODUCER_FENCED | ErrorCode::INVALID_PRODUCER_EPOCH)
        )
    }

    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            FatalError::Broker(_) | FatalError::Request(_) => Fault::Broker,
        }
    }
}

/// An error that spoils the current transaction but not the producer: abort the transaction
/// and try again.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AbortableError {
    /// The transaction coordinator or a partition leader refused with this code.
    #[error("{0}")]
    Broker(ErrorCode),
    /// A record of the transaction was not written.
    #[error("a record for {partition} failed: {error}")]
    Delivery {
        /// Its partition.
        partition: TopicPartition,
        /// Why.
        error: DeliveryError,
    },
    /// The group coordinator refused an offset of the transaction (the consumer is no longer
    /// a current member, not authorized, ...).
    #[error("offset for {partition} refused: {code}")]
    Offsets {
        /// The partition of the offset.
        partition: TopicPartition,
        /// Why.
        code: ErrorCode,
    },
    /// A record of the transaction failed before it was given a partition: its topic was
    /// refused or never appeared in metadata within the delivery timeout, or it named a
    /// partition the topic does not have.
    #[error("a record for {topic} failed: {error}")]
    Unrouted {
        /// Its topic.
        topic: String,
        /// Why.
        error: DeliveryError,
    },
    /// A record sent in the transaction never entered the buffer (it waited for room longer
    /// than `max_block`, or its wait was cancelled): the transaction would miss it.
    #[error("a record for {topic} got no room in the producer's buffer")]
    BufferFull {
        /// Its topic.
        topic: String,
    },
    /// A record sent in the transaction was refused at once as larger than
    /// `max_request_size`: the transaction would miss it.
    #[error("a record for {topic} of {size} bytes was refused (at most {max})")]
    RecordTooLarge {
        /// Its topic.
        topic: String,
        /// Its size as it would be written.
        size: usize,
        /// The largest allowed.
        max: usize,
    },
    /// A record sent in the transaction was refused at once for a negative partition: the
    /// transaction would miss it.
    #[error("a record for {topic} was refused: partition {partition} is invalid")]
    InvalidPartition {
        /// Its topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
    },
    /// A request of the transaction failed for a reason retrying cannot fix.
    #[error("{0}")]
    Request(RequestFailed),
    /// The transaction was aborted while the operation was pending.
    #[error("the transaction was aborted")]
    Aborted,
}

/// Why a transaction operation failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// The producer has no transactional id.
    #[error("the producer is not transactional")]
    NotTransactional,
    /// The operation is not allowed in the transaction's current state (e.g. commit with no
    /// transaction begun); nothing changed.
    #[error("{operation} is not allowed while the producer is {state}")]
    InvalidState {
        /// The refused operation.
        operation: TxnOperation,
        /// The state it was refused in.
        state: TransactionState,
    },
    /// The transaction cannot commit: abort it, then begin another.
    #[error("abortable: {0}")]
    Abortable(AbortableError),
    /// The producer cannot go on: close it.
    #[error("fatal: {0}")]
    Fatal(FatalError),
}

impl TransactionError {
    /// Whether aborting the transaction lets the producer go on.
    pub fn is_abortable(&self) -> bool {
        matches!(self, TransactionError::Abortable(_))
    }

    /// Whether the producer must be closed.
    pub fn is_fatal(&self) -> bool {
        matches!(self, TransactionError::Fatal(_))
    }

    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            TransactionError::NotTransactional | TransactionError::InvalidState { .. } => {
                Fault::Application
            }
            TransactionError::Abortable(
                AbortableError::Delivery { error, .. } | AbortableError::Unrouted { error, .. },
            ) => error.fault(),
            TransactionError::Abortable(
                AbortableError::Aborted
                | AbortableError::RecordTooLarge { .. }
                | AbortableError::InvalidPartition { .. },
            ) => Fault::Application,
            TransactionError::Abortable(AbortableError::BufferFull { .. }) => Fault::Transient,
            TransactionError::Abortable(_) => Fault::Broker,
            TransactionError::Fatal(e) => e.fault(),
        }
    }
}

/// Why `send` refused a record at once; nothing was queued.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The record alone is larger than `max_request_size`.
    #[error("the record takes {size} bytes, more than the {max} allowed")]
    RecordTooLarge {
        /// Its estimated size on the wire.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The producer holds `buffer_memory` bytes of records already (or records wait for
    /// room): send it again once outcomes have freed room, or use
    /// [`send_waiting`](super::Producer::send_waiting) to wait for it
    /// ([`DeliveryError::BufferFull`] if none comes within `max_block`).
    #[error("the producer's buffer is full")]
    BufferFull,
    /// A partition number is never negative.
    #[error("partition {0} is negative")]
    InvalidPartition(i32),
    /// A transactional producer sends only inside a transaction that has not failed.
    #[error(transparent)]
    Transaction(TransactionError),
    /// The producer hit an error it cannot recover from.
    #[error("the producer failed: {0}")]
    Fatal(FatalError),
    /// The producer is closing.
    #[error("the producer is closed")]
    Closed,
}

impl SendError {
    /// Whose fault the error is.
    pub fn fault(&self) -> Fault {
        match self {
            SendError::BufferFull => Fault::Transient,
            SendError::Transaction(e) => e.fault(),
            SendError::Fatal(e) => e.fault(),
            _ => Fault::Application,
        }
    }
}

/// Codes after which a transactional producer must close.
pub(crate) fn is_fatal_txn_code(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::PRODUCER_FENCED
            | ErrorCode::INVALID_PRODUCER_EPOCH
            | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
            | ErrorCode::INVALID_TXN_STATE
            | ErrorCode::INVALID_PRODUCER_ID_MAPPING
            | ErrorCode::TRANSACTION_COORDINATOR_FENCED
            | ErrorCode::UNSUPPORTED_VERSION
            | ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
    )
}

/// What a coordinator's error code asks of a producer, in the order the checks apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CoordinatorAnswer {
    /// No error.
    Ok,
    /// The producer must close ([`is_fatal_txn_code`]).
    Fatal,
    /// The coordinator moved or is down: find it again, then retry.
    Moved,
    /// Retry the same request after a backoff.
    Retry,
    /// Refused for good: the operation fails (what that means depends on the request).
    Refused,
}

impl CoordinatorAnswer {
    pub(crate) fn of(code: ErrorCode) -> Self {
        if code.is_ok() {
            Self::Ok
        } else if is_fatal_txn_code(code) {
            Self::Fatal
        } else if matches!(
            code,
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE
        ) {
            Self::Moved
        } else if code.is_retriable()
            || matches!(
                code,
                ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
                    | ErrorCode::CONCURRENT_TRANSACTIONS
                    | ErrorCode::REQUEST_TIMED_OUT
                    | ErrorCode::NETWORK_EXCEPTION
                    | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    | ErrorCode::OPERATION_NOT_ATTEMPTED
            )
        {
            Self::Retry
        } else {
            Self::Refused
        }
    }
}

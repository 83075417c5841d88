//! The one error type of the crate.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use dekaf_proto::{DecodeError, ErrorCode};
use dekaf_state::admin::AdminError;
use dekaf_state::client::RequestFailed;
use dekaf_state::consumer::{FetchError, MetadataProblem, SubscribeError};
use dekaf_state::display::HumanDuration;
use dekaf_state::group::GroupError;
use dekaf_state::offset::{
    is_rebalance_code, CommitError, Fault, LookupError, OffsetError, PositionError, TopicPartition,
};
use dekaf_state::producer::{
    AbortableError, DeliveryError, FatalError, SendError, TransactionError, TxnOperation,
};
use dekaf_state::sasl::SaslError;
use thiserror::Error;

use crate::transport::TlsError;

/// Everything that can go wrong in dekaf-smol.
///
/// Match on the variant, or ask the questions that decide what to do next:
/// [`is_rebalance`](Self::is_rebalance) (the group is rebalancing or this member's generation
/// is stale), [`is_retriable`](Self::is_retriable) (trying again later may work),
/// [`is_fatal`](Self::is_fatal) (this client can no longer be used),
/// [`error_code`](Self::error_code) (the Kafka error code, when a broker sent one) and
/// [`fault`](Self::fault) (whose fault it is). Never match on the message text:
///
/// ```no_run
/// # async fn example(consumer: &dekaf_smol::Consumer) -> Result<(), dekaf_smol::Error> {
/// match consumer.commit().await {
///     Ok(()) => {}
///     // The offsets stay stored and are committed again once the group is stable.
///     Err(e) if e.is_rebalance() => eprintln!("commit failed due to a rebalance: {e}"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is invalid; nothing was started.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The client has shut down, or its driver task stopped.
    #[error("the client has shut down")]
    Shutdown,
    /// A socket operation with a broker failed.
    #[error("{op} {addr}: {source}")]
    Io {
        /// What was being done: `connect`, `read`, `write`.
        op: &'static str,
        /// The broker's `host:port`.
        addr: String,
        /// The operating system's error.
        #[source]
        source: Arc<io::Error>,
    },
    /// A TLS connection could not be set up: the broker's certificate was refused, the peer
    /// does not speak TLS (or speaks it to a plaintext client), the handshake was refused.
    /// A setting to fix, not a broker that is down: [`is_retriable`](Self::is_retriable) is
    /// false.
    #[error("TLS with {addr}: {error}")]
    Tls {
        /// The broker's `host:port`.
        addr: String,
        /// What went wrong.
        error: TlsError,
    },
    /// SASL authentication failed: credentials refused, a mechanism the broker does not
    /// enable (the error lists those it does), a token refused. Not retriable (but for a
    /// connection that broke during the exchange): [`is_auth`](Self::is_auth) is true.
    #[error("SASL with {addr}: {error}")]
    Sasl {
        /// The broker's `host:port`.
        addr: String,
        /// What went wrong.
        error: SaslError,
    },
    /// No connection could be opened within the connect timeout (the TCP connect, and with
    /// TLS the handshake: a TLS client at a plaintext listener waits here).
    #[error("connecting to {addr} timed out")]
    ConnectTimeout {
        /// The broker's `host:port`.
        addr: String,
    },
    /// The broker closed the connection.
    #[error("{addr} closed the connection")]
    Closed {
        /// The broker's `host:port`.
        addr: String,
    },
    /// A request got no answer within the request timeout; the connection was closed because
    /// a late answer could no longer be told apart.
    #[error("{addr} did not answer within the request timeout")]
    TimedOut {
        /// The broker's `host:port`.
        addr: String,
    },
    /// The broker sent bytes that are not a valid answer; the connection was closed. The
    /// broker's fault (or a protocol this crate does not understand), never the caller's.
    #[error("malformed answer from {addr}: {source}")]
    Malformed {
        /// The broker's `host:port`.
        addr: String,
        /// What could not be decoded.
        #[source]
        source: DecodeError,
    },
    /// The metadata now gives another address for a broker; the old connection was closed.
    #[error("broker moved from {old} to {new}")]
    AddressChanged {
        /// The address connected to.
        old: String,
        /// The address metadata gives now.
        new: String,
    },
    /// A broker answered with a Kafka error code that concerns the whole operation.
    #[error("{context}: broker error {code}")]
    Kafka {
        /// What was being done.
        context: &'static str,
        /// The broker's error code.
        code: ErrorCode,
    },
    /// A request failed without an answer (see [`RequestFailed`]).
    #[error(transparent)]
    Request(#[from] RequestFailed),
    /// No bootstrap server answered within the connect timeout; nothing was started.
    #[error(
        "no broker of {servers} answered within {}: {}",
        HumanDuration(*.waited),
        .last_error.as_ref().map_or("no connection attempt finished".to_owned(), |e| e.to_string())
    )]
    NoBrokerAvailable {
        /// The bootstrap servers tried, comma-separated.
        servers: String,
        /// How long the client tried.
        waited: Duration,
        /// The last connection failure seen, if any (also part of the message).
        last_error: Option<Box<Error>>,
    },
    /// The call was refused as it stands: a partition not assigned, a negative offset, an
    /// invalid topic name or partition, storing an offset beyond what was handed out, a
    /// closed consumer... The call changed nothing.
    #[error(transparent)]
    Offset(#[from] OffsetError),
    /// A commit did not commit everything it carried.
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// A committed-offsets, offsets-for-times or watermarks query failed.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// A partition could not get a position (no committed offset and `auto_offset_reset` is
    /// none, or the lookup failed for good); it is not fetched until a seek or reassignment.
    #[error("{partition}: {error}")]
    Position {
        /// The partition.
        partition: TopicPartition,
        /// Why.
        error: PositionError,
    },
    /// A partition could not be fetched for a reason retrying will not fix by itself; the
    /// consumer keeps retrying with a backoff.
    #[error("{partition}: {error}")]
    Fetch {
        /// The partition.
        partition: TopicPartition,
        /// Why.
        error: FetchError,
    },
    /// Metadata reports a problem with a topic or partition the client needs (unknown topic,
    /// no leader, not authorized); the client keeps refreshing.
    #[error(transparent)]
    Metadata(#[from] MetadataProblem),
    /// A subscription was refused: the consumer has no group id, or the pattern (or the
    /// group settings) are invalid.
    #[error(transparent)]
    Subscribe(#[from] SubscribeError),
    /// The group member stopped for good (another member took its static identity, the
    /// coordinator refused it, ...); its partitions were reported lost.
    #[error("group membership stopped: {0}")]
    Group(#[from] GroupError),
    /// No records were asked for within the max poll interval: the member left its group
    /// and its partitions were lost. It rejoins when records are asked for again.
    #[error(
        "no records were asked for within max_poll_interval ({}): the member left its group",
        HumanDuration(*.interval)
    )]
    MaxPollIntervalExceeded {
        /// The max poll interval.
        interval: Duration,
    },
    /// The call does not fit what the consumer is doing: receiving records inside a
    /// rebalance hook, assigning partitions by hand while subscribed, or subscribing while
    /// partitions are assigned by hand. The call changed nothing.
    #[error("{0}")]
    Usage(&'static str),
    /// The producer refused a record at once (too large, buffer full, outside a transaction,
    /// closed producer); nothing was sent.
    #[error(transparent)]
    Send(#[from] SendError),
    /// A record was not written, or may not have been (see [`DeliveryError`]).
    #[error("record for {topic}: {error}")]
    Delivery {
        /// The record's topic.
        topic: String,
        /// Why.
        error: DeliveryError,
    },
    /// A transaction operation failed: abort the transaction when
    /// [`is_abortable`](Self::is_abortable), close the producer when
    /// [`is_fatal`](Self::is_fatal).
    #[error(transparent)]
    Transaction(#[from] TransactionError),
    /// An admin call failed as a whole (its group has members, its broker lacks the API...),
    /// or one of its items did and was turned into an error with `?`.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A transaction operation did not finish within the producer's `max_block`. It goes on:
    /// calling it again waits for the same work (a broker that closes the connection instead
    /// of answering, as tansu does for a fenced producer's EndTxn, ends here too).
    #[error(
        "{operation} did not finish within {} (max_block); it goes on: call it again to wait for it",
        HumanDuration(*.timeout)
    )]
    TransactionTimeout {
        /// The operation.
        operation: TxnOperation,
        /// How long it was waited for.
        timeout: Duration,
    },
}

impl Error {
    /// Whether the operation failed because the group is rebalancing or this member is out of
    /// step with it (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, ...). A
    /// commit refused so keeps its offsets stored: they are committed again once the group is
    /// stable (Auto mode) or by the next `commit` (Manual mode).
    pub fn is_rebalance(&self) -> bool {
        match self {
            Error::Commit(e) => e.is_rebalance(),
            Error::Lookup(e) => e.is_rebalance(),
            Error::Admin(_) => false,
            _ => self.error_code().is_some_and(is_rebalance_code),
        }
    }

    /// Whether trying the same operation again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Sasl { error, .. } => error.is_retriable(),
            Error::Config(_)
            | Error::Tls { .. }
            | Error::Shutdown
            | Error::Offset(_)
            | Error::Subscribe(_)
            | Error::Usage(_) => false,
            Error::Group(e) => e.code().is_some_and(|c| c.is_retriable()),
            Error::MaxPollIntervalExceeded { .. } => true,
            Error::Io { .. }
            | Error::ConnectTimeout { .. }
            | Error::Closed { .. }
            | Error::TimedOut { .. }
            | Error::Malformed { .. }
            | Error::AddressChanged { .. }
            | Error::NoBrokerAvailable { .. }
            | Error::TransactionTimeout { .. } => true,
            Error::Kafka { code, .. } => code.is_retriable(),
            Error::Send(e) => matches!(e, SendError::BufferFull),
            Error::Delivery { error, .. } => match error {
                DeliveryError::TimedOut { .. } | DeliveryError::BufferFull => true,
                DeliveryError::Rejected(code) => code.is_retriable(),
                DeliveryError::Request(failed) => failed.is_retriable(),
                _ => false,
            },
            Error::Transaction(_) => false,
            Error::Admin(e) => e.is_retriable(),
            Error::Request(failed) => failed.is_retriable(),
            Error::Commit(e) => e.is_retriable(),
            Error::Lookup(e) => match e {
                LookupError::Broker(code) | LookupError::Partition { code, .. } => {
                    code.is_retriable()
                }
                LookupError::Timeout { .. } => true,
                LookupError::Closed => false,
                _ => false,
            },
            Error::Position { error, .. } => match error {
                PositionError::Broker(code) => code.is_retriable(),
                _ => false,
            },
            Error::Fetch { error, .. } => match error {
                FetchError::Broker(code) => code.is_retriable(),
                // The consumer fetches again from the same position.
                _ => true,
            },
            Error::Metadata(problem) => match problem {
                MetadataProblem::Topic { code, .. } | MetadataProblem::NoLeader { code, .. } => {
                    code.is_retriable()
                }
                _ => false,
            },
        }
    }

    /// Whether authentication failed for a reason a retry cannot fix (credentials,
    /// mechanism, token): fix the settings.
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Sasl { error, .. } if !error.is_retriable())
    }

    /// Whether the client can no longer be used (as opposed to one operation failing): a
    /// producer that was fenced or refused for good is one.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Config(_) | Error::Shutdown | Error::Send(SendError::Closed)
        ) || self.producer_fatal().is_some()
    }

    /// Whether the current transaction cannot commit but the producer can go on: abort the
    /// transaction, then begin another.
    pub fn is_abortable(&self) -> bool {
        match self {
            Error::Transaction(e) | Error::Send(SendError::Transaction(e)) => e.is_abortable(),
            _ => false,
        }
    }

    /// Whether a newer producer with the same transactional id took over: close this one.
    pub fn is_fenced(&self) -> bool {
        self.producer_fatal().is_some_and(FatalError::is_fenced)
    }

    /// The error that stopped a producer, if this is one.
    fn producer_fatal(&self) -> Option<&FatalError> {
        match self {
            Error::Transaction(TransactionError::Fatal(e))
            | Error::Send(SendError::Fatal(e))
            | Error::Send(SendError::Transaction(TransactionError::Fatal(e)))
            | Error::Delivery {
                error: DeliveryError::Fatal(e),
                ..
            } => Some(e),
            _ => None,
        }
    }

    /// The Kafka error code a broker sent, if this error is one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Error::Kafka { code, .. } | Error::Request(RequestFailed::Broker(code)) => Some(*code),
            Error::Delivery { error, .. } => match error {
                DeliveryError::Rejected(code) => Some(*code),
                DeliveryError::TimedOut { last_error, .. } => *last_error,
                DeliveryError::OutOfOrderSequence => Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
                DeliveryError::Request(RequestFailed::Broker(code)) => Some(*code),
                _ => self.producer_fatal().and_then(fatal_code),
            },
            Error::Transaction(e) | Error::Send(SendError::Transaction(e)) => match e {
                TransactionError::Abortable(
                    AbortableError::Broker(code) | AbortableError::Offsets { code, .. },
                ) => Some(*code),
                TransactionError::Abortable(
                    AbortableError::Delivery {
                        error: DeliveryError::Rejected(code),
                        ..
                    }
                    | AbortableError::Unrouted {
                        error: DeliveryError::Rejected(code),
                        ..
                    },
                ) => Some(*code),
                _ => self.producer_fatal().and_then(fatal_code),
            },
            Error::Send(SendError::Fatal(e)) => fatal_code(e),
            Error::Commit(e) => match e {
                CommitError::Rebalance(code) | CommitError::Group(code) => Some(*code),
                CommitError::Partitions(parts) => parts.first().map(|p| p.code),
                CommitError::Timeout { last_error } => *last_error,
                _ => None,
            },
            Error::Lookup(e) => match e {
                LookupError::Broker(code) | LookupError::Partition { code, .. } => Some(*code),
                LookupError::Timeout { last_error } => *last_error,
                _ => None,
            },
            Error::Position {
                error: PositionError::Broker(code),
                ..
            }
            | Error::Fetch {
                error: FetchError::Broker(code),
                ..
            } => Some(*code),
            Error::Metadata(
                MetadataProblem::Topic { code, .. } | MetadataProblem::NoLeader { code, .. },
            ) => Some(*code),
            Error::Group(e) => e.code(),
            Error::Admin(e) => e.code(),
            _ => None,
        }
    }

    /// Whose fault it is: the application's (fix the code or the settings), the broker's or
    /// cluster's (fix the cluster, or the data is gone), or nobody's (try again later).
    pub fn fault(&self) -> Fault {
        match self {
            Error::Config(_)
            | Error::Shutdown
            | Error::Offset(_)
            | Error::Subscribe(_)
            | Error::Usage(_)
            | Error::MaxPollIntervalExceeded { .. } => Fault::Application,
            Error::Group(e) => e.fault(),
            Error::Commit(e) => e.fault(),
            Error::Lookup(e) => e.fault(),
            Error::Position { error, .. } => error.fault(),
            Error::Send(e) => e.fault(),
            Error::Delivery { error, .. } => error.fault(),
            Error::Transaction(e) => e.fault(),
            Error::TransactionTimeout { .. } => Fault::Transient,
            Error::Admin(e) => e.fault(),
            Error::Malformed { .. } => Fault::Broker,
            _ if self.is_rebalance() => Fault::Transient,
            Error::Request(RequestFailed::Encode(_)) => Fault::Application,
            Error::Request(RequestFailed::Unsupported(_)) => Fault::Broker,
            _ if self.is_retriable() => Fault::Transient,
            _ => Fault::Broker,
        }
    }

    /// The error a record's failed delivery is reported as. A record that never got room in
    /// the buffer was refused, as a `send` is refused at once when the buffer is full.
    pub(crate) fn delivery(topic: &str, error: DeliveryError) -> Self {
        match error {
            DeliveryError::BufferFull => Error::Send(SendError::BufferFull),
            error => Error::Delivery {
                topic: topic.to_owned(),
                error,
            },
        }
    }

    pub(crate) fn io(op: &'static str, addr: &str, source: io::Error) -> Self {
        Error::Io {
            op,
            addr: addr.to_owned(),
            source: Arc::new(source),
        }
    }
}

/// The code a broker sent when it stopped a producer for good.
fn fatal_code(e: &FatalError) -> Option<ErrorCode> {
    match e {
        FatalError::Broker(code) | FatalError::Request(RequestFailed::Broker(code)) => Some(*code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dekaf_proto::DecodeErrorKind;

    #[test]
    fn kinds_answer_the_questions_callers_ask() {
        let timeout = Error::TimedOut { addr: "b:1".into() };
        assert!(timeout.is_retriable() && !timeout.is_fatal());
        assert_eq!(timeout.error_code(), None);

        let kafka = Error::Kafka {
            context: "ApiVersions",
            code: ErrorCode::UNSUPPORTED_VERSION,
        };
        assert!(!kafka.is_retriable() && !kafka.is_fatal());
        assert_eq!(kafka.error_code(), Some(ErrorCode::UNSUPPORTED_VERSION));

        let failed = Error::from(RequestFailed::Broker(ErrorCode::NETWORK_EXCEPTION));
        assert!(failed.is_retriable());
        assert_eq!(failed.error_code(), Some(ErrorCode::NETWORK_EXCEPTION));

        let malformed = Error::Malformed {
            addr: "b:1".into(),
            source: DecodeError::new("frame", 0, DecodeErrorKind::InvalidValue(1)),
        };
        assert!(malformed.is_retriable());
        assert!(malformed.to_string().contains("b:1"));

        assert!(Error::Shutdown.is_fatal() && !Error::Shutdown.is_retriable());
        assert!(Error::Config("x".into()).is_fatal());
    }

    #[test]
    fn rebalances_are_recognised_by_kind_not_text() {
        let commit = Error::from(CommitError::Rebalance(ErrorCode::REBALANCE_IN_PROGRESS));
        assert!(commit.is_rebalance() && !commit.is_fatal());
        assert_eq!(commit.error_code(), Some(ErrorCode::REBALANCE_IN_PROGRESS));
        assert_eq!(commit.fault(), Fault::Transient);

        let generation = Error::from(CommitError::Rebalance(ErrorCode::ILLEGAL_GENERATION));
        assert!(generation.is_rebalance());

        let lookup = Error::from(LookupError::Broker(ErrorCode::UNKNOWN_MEMBER_ID));
        assert!(lookup.is_rebalance());

        let raw = Error::Kafka {
            context: "OffsetCommit",
            code: ErrorCode::FENCED_INSTANCE_ID,
        };
        assert!(raw.is_rebalance());

        let timeout = Error::from(CommitError::Timeout {
            last_error: Some(ErrorCode::COORDINATOR_NOT_AVAILABLE),
        });
        assert!(!timeout.is_rebalance() && timeout.is_retriable());
        assert_eq!(
            timeout.error_code(),
            Some(ErrorCode::COORDINATOR_NOT_AVAILABLE)
        );
        assert!(!Error::Shutdown.is_rebalance());
    }

    #[test]
    fn each_kind_says_whose_fault_it_is() {
        let misuse = Error::from(OffsetError::NoGroup);
        assert_eq!(misuse.fault(), Fault::Application);
        assert!(!misuse.is_retriable() && !misuse.is_fatal());

        let refused = Error::from(CommitError::Group(ErrorCode::GROUP_AUTHORIZATION_FAILED));
        assert_eq!(refused.fault(), Fault::Broker);
        assert!(!refused.is_retriable());

        let position = Error::Position {
            partition: TopicPartition::new("t", 0),
            error: PositionError::NoCommittedOffset,
        };
        assert_eq!(position.fault(), Fault::Application);

        let unknown = Error::Metadata(MetadataProblem::Topic {
            topic: "t".into(),
            code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        });
        assert!(unknown.is_retriable());
        assert_eq!(unknown.fault(), Fault::Transient);
        assert_eq!(
            unknown.error_code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );

        let produce = Error::delivery(
            "t",
            DeliveryError::Rejected(ErrorCode::NOT_LEADER_OR_FOLLOWER),
        );
        assert!(produce.is_retriable() && !produce.is_fatal() && !produce.is_abortable());
        assert_eq!(
            produce.error_code(),
            Some(ErrorCode::NOT_LEADER_OR_FOLLOWER)
        );

        let nobody = Error::NoBrokerAvailable {
            servers: "a:1".into(),
            waited: Duration::from_secs(1),
            last_error: Some(Box::new(Error::Closed { addr: "a:1".into() })),
        };
        assert!(nobody.is_retriable() && !nobody.is_fatal());
        assert_eq!(
            nobody.to_string(),
            "no broker of a:1 answered within 1 s: a:1 closed the connection"
        );
    }

    #[test]
    fn producer_errors_say_what_to_do_next() {
        let fenced = Error::from(TransactionError::Fatal(FatalError::Broker(
            ErrorCode::PRODUCER_FENCED,
        )));
        assert!(fenced.is_fatal() && fenced.is_fenced() && !fenced.is_abortable());
        assert!(!fenced.is_retriable());
        assert_eq!(fenced.error_code(), Some(ErrorCode::PRODUCER_FENCED));
        assert_eq!(fenced.fault(), Fault::Broker);

        let refused_offsets = Error::from(TransactionError::Abortable(AbortableError::Offsets {
            partition: TopicPartition::new("in", 0),
            code: ErrorCode::GROUP_AUTHORIZATION_FAILED,
        }));
        assert!(refused_offsets.is_abortable() && !refused_offsets.is_fatal());
        assert!(!refused_offsets.is_fenced());
        assert_eq!(
            refused_offsets.error_code(),
            Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
        );

        let outside = Error::from(SendError::Transaction(TransactionError::InvalidState {
            operation: TxnOperation::Send,
            state: dekaf_state::producer::TransactionState::Ready,
        }));
        assert!(!outside.is_abortable() && !outside.is_fatal());
        assert_eq!(outside.fault(), Fault::Application);

        let full = Error::from(SendError::BufferFull);
        assert!(full.is_retriable() && !full.is_fatal());

        let timeout = Error::TransactionTimeout {
            operation: TxnOperation::Commit,
            timeout: Duration::from_secs(1),
        };
        assert!(timeout.is_retriable() && !timeout.is_fatal() && !timeout.is_fenced());
        assert!(timeout.to_string().contains("commit_transaction"));

        let lost = Error::delivery(
            "t",
            DeliveryError::TimedOut {
                maybe_written: true,
                last_error: Some(ErrorCode::REQUEST_TIMED_OUT),
            },
        );
        assert!(lost.is_retriable());
        assert_eq!(lost.error_code(), Some(ErrorCode::REQUEST_TIMED_OUT));

        let stopped = Error::delivery(
            "t",
            DeliveryError::Fatal(FatalError::Broker(ErrorCode::INVALID_PRODUCER_EPOCH)),
        );
        assert!(stopped.is_fatal() && stopped.is_fenced());
    }

    #[test]
    fn clients_and_their_futures_cross_threads() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        send_sync(&Error::Shutdown);
        let _ = |c: crate::Consumer, p: crate::Producer| {
            send_sync(&c);
            send_sync(&p);
            send(async move {
                let _ = c.recv().await;
                let _ = c.commit().await;
                let _ = c.recv_batch(10).await;
                let _ = c.subscribe(["t"]);
                let _ = c.unsubscribe().await;
                let _ = c.committed(&TopicPartition::new("t", 0)).await;
                let _ = p.send(crate::ProducerRecord::new("t")).await;
                let _ = p.flush().await;
                let _ = p.commit_transaction().await;
                let _ = c.close().await;
            });
        };
    }
}

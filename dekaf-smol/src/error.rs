//! The one error type of the crate.

use std::io;
use std::sync::Arc;

use dekaf_proto::{DecodeError, ErrorCode};
use dekaf_state::client::RequestFailed;
use thiserror::Error;

/// Everything that can go wrong in dekaf-smol.
///
/// Match on the variant, or ask the questions that decide what to do next:
/// [`is_retriable`](Self::is_retriable) (trying again later may work),
/// [`is_fatal`](Self::is_fatal) (this client can no longer be used) and
/// [`error_code`](Self::error_code) (the Kafka error code, when a broker sent one). Never match
/// on the message text.
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
    /// No TCP connection could be opened within the connect timeout.
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
}

impl Error {
    /// Whether trying the same operation again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Config(_) | Error::Shutdown => false,
            Error::Io { .. }
            | Error::ConnectTimeout { .. }
            | Error::Closed { .. }
            | Error::TimedOut { .. }
            | Error::Malformed { .. }
            | Error::AddressChanged { .. } => true,
            Error::Kafka { code, .. } => code.is_retriable(),
            Error::Request(failed) => failed.is_retriable(),
        }
    }

    /// Whether the client can no longer be used (as opposed to one operation failing).
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Config(_) | Error::Shutdown)
    }

    /// The Kafka error code a broker sent, if this error is one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Error::Kafka { code, .. } | Error::Request(RequestFailed::Broker(code)) => Some(*code),
            _ => None,
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
}

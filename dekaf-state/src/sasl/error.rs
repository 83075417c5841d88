//! Why authentication failed, each error naming the mechanism and saying whose fault it is.
//! No error carries a password or a token.

use dekaf_proto::{ApiKey, ErrorCode};

use super::Mechanism;
use crate::client::RequestFailed;
use crate::offset::Fault;

/// Why a SASL exchange failed. The connection cannot be used: the driver closes it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The broker does not offer the mechanism (UNSUPPORTED_SASL_MECHANISM, or a handshake
    /// that lists the enabled mechanisms without it).
    #[error("the broker does not offer SASL mechanism {wanted} (it offers: {})", list(.offered))]
    UnsupportedMechanism {
        /// The configured mechanism.
        wanted: Mechanism,
        /// The mechanisms the broker has enabled, as its handshake answer lists them.
        offered: Vec<String>,
    },
    /// The broker refused the credentials (SASL_AUTHENTICATION_FAILED).
    #[error("{mechanism} authentication failed{}", said(.message))]
    AuthenticationFailed {
        /// The mechanism.
        mechanism: Mechanism,
        /// The broker's explanation, if it gave one.
        message: Option<String>,
    },
    /// The broker rejected the OAUTHBEARER token with an RFC 7628 error (its JSON status).
    #[error("OAUTHBEARER authentication failed: the broker rejected the token with status {status}{}", said(.message))]
    TokenRejected {
        /// The error status, e.g. `invalid_token`.
        status: String,
        /// The scope the broker requires, if it said.
        scope: Option<String>,
        /// Where the OpenID configuration of the expected provider is, if the broker said.
        openid_configuration: Option<String>,
        /// The broker's explanation in its final answer, if any.
        message: Option<String>,
    },
    /// The SCRAM server ended the exchange with an error (`e=` in its final message).
    #[error("{mechanism} authentication failed: the broker reported `{error}`")]
    ServerError {
        /// The mechanism.
        mechanism: Mechanism,
        /// The server's error value, e.g. `invalid-proof`.
        error: String,
    },
    /// The broker did not expect this step of the exchange (ILLEGAL_SASL_STATE).
    #[error("{mechanism}: the broker did not expect this step of the exchange{}", said(.message))]
    IllegalState {
        /// The mechanism.
        mechanism: Mechanism,
        /// The broker's explanation, if it gave one.
        message: Option<String>,
    },
    /// The broker's message breaks the mechanism's rules: the broker's fault, or someone
    /// between client and broker.
    #[error("{mechanism}: the broker's message is refused: {problem}")]
    ServerMessage {
        /// The mechanism.
        mechanism: Mechanism,
        /// What is wrong with it.
        problem: ServerMessageError,
    },
    /// The broker answered with another error code.
    #[error("{mechanism} authentication failed with broker error {code}{}", said(.message))]
    Broker {
        /// The mechanism.
        mechanism: Mechanism,
        /// The code.
        code: ErrorCode,
        /// The broker's explanation, if it gave one.
        message: Option<String>,
    },
    /// The driver passed the answer of another API.
    #[error("{mechanism}: a {expected} request was answered with a {got} response")]
    UnexpectedResponse {
        /// The mechanism.
        mechanism: Mechanism,
        /// The API of the request in flight.
        expected: ApiKey,
        /// The API of the answer.
        got: ApiKey,
    },
    /// The configuration cannot be sent (see [`SaslConfig::check`](super::SaslConfig::check)).
    #[error("{mechanism}: invalid SASL configuration: {reason}")]
    InvalidConfig {
        /// The mechanism.
        mechanism: Mechanism,
        /// What is wrong, without the secret.
        reason: String,
    },
    /// The machine was used out of order, e.g. asked to re-authenticate before it had
    /// authenticated, or given an answer with no request in flight.
    #[error("{mechanism}: {reason}")]
    Misuse {
        /// The mechanism.
        mechanism: Mechanism,
        /// What was done out of order.
        reason: &'static str,
    },
    /// The broker closed the connection when asked for the mechanism, instead of answering
    /// the SaslHandshake (some brokers refuse a mechanism they do not enable so). Not
    /// retriable: a new connection gets the same.
    #[error(
        "the broker closed the connection when asked for SASL mechanism {mechanism}: it may not \
         enable it"
    )]
    ClosedOnHandshake {
        /// The mechanism asked for.
        mechanism: Mechanism,
    },
    /// A request of the exchange got no answer: the connection broke, timed out, or the
    /// broker speaks no version dekaf can write.
    #[error("{mechanism} authentication did not finish: {source}")]
    Transport {
        /// The mechanism.
        mechanism: Mechanism,
        /// Why the request got no answer.
        source: RequestFailed,
    },
}

impl SaslError {
    /// The mechanism the exchange used.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            SaslError::UnsupportedMechanism { wanted, .. } => *wanted,
            SaslError::TokenRejected { .. } => Mechanism::OAuthBearer,
            SaslError::AuthenticationFailed { mechanism, .. }
            | SaslError::ServerError { mechanism, .. }
            | SaslError::IllegalState { mechanism, .. }
            | SaslError::ServerMessage { mechanism, .. }
            | SaslError::Broker { mechanism, .. }
            | SaslError::UnexpectedResponse { mechanism, .. }
            | SaslError::InvalidConfig { mechanism, .. }
            | SaslError::Misuse { mechanism, .. }
            | SaslError::ClosedOnHandshake { mechanism }
            | SaslError::Transport { mechanism, .. } => *mechanism,
        }
    }

    /// Whether authenticating again on a new connection may succeed: only when the
    /// connection broke or timed out. Refused credentials stay refused.
    pub fn is_retriable(&self) -> bool {
        match self {
            SaslError::Transport { source, .. } => source.is_retriable(),
            _ => false,
        }
    }

    /// Whose fault it is: the application's for credentials, configuration and misuse, the
    /// broker's for answers that break the protocol, nobody's for a broken connection.
    pub fn fault(&self) -> Fault {
        match self {
            SaslError::UnsupportedMechanism { .. }
            | SaslError::ClosedOnHandshake { .. }
            | SaslError::AuthenticationFailed { .. }
            | SaslError::TokenRejected { .. }
            | SaslError::ServerError { .. }
            | SaslError::InvalidConfig { .. }
            | SaslError::Misuse { .. } => Fault::Application,
            SaslError::IllegalState { .. }
            | SaslError::ServerMessage { .. }
            | SaslError::Broker { .. }
            | SaslError::UnexpectedResponse { .. } => Fault::Broker,
            SaslError::Transport { source, .. } => match source {
                _ if source.is_retriable() => Fault::Transient,
                RequestFailed::Encode(_) => Fault::Application,
                _ => Fault::Broker,
            },
        }
    }
}

/// What is wrong with a message from the broker.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerMessageError {
    /// The SCRAM server nonce does not start with the client's nonce, or adds nothing to it.
    #[error("the server nonce does not extend the client nonce")]
    NonceMismatch,
    /// The SCRAM iteration count is outside what Kafka stores (4096 to 16384): too few makes
    /// the password easy to guess from the exchange, too many keeps the client hashing.
    #[error(
        "iteration count {iterations} is outside {}..={}",
        super::scram::MIN_ITERATIONS,
        super::scram::MAX_ITERATIONS
    )]
    IterationCount {
        /// The count the server sent (saturated at `u64::MAX`).
        iterations: u64,
    },
    /// The SCRAM server asks for an extension this client does not know (`m=`).
    #[error("the server requires an unknown extension")]
    MandatoryExtension,
    /// The SCRAM server signature is not the one the password gives: the server does not
    /// know the password.
    #[error("the server signature does not match")]
    ServerSignatureMismatch,
    /// The message cannot be read.
    #[error("malformed message: {0}")]
    Malformed(&'static str),
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none listed".to_string()
    } else {
        items.join(", ")
    }
}

fn said(message: &Option<String>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!(": {m}"),
        _ => String::new(),
    }
}

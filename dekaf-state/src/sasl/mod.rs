//! SASL authentication of a connection: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and
//! OAUTHBEARER, as a state machine without IO. See [`SaslClient`].
//!
//! # On a new connection
//!
//! After ApiVersions and before any other request, the driver runs a [`SaslClient`]:
//!
//! ```no_run
//! use std::time::Instant;
//! use dekaf_state::client::{RequestFailed, Response};
//! use dekaf_state::sasl::{scram_nonce, SaslClient, SaslConfig, SaslOutcome};
//!
//! # fn send(_: dekaf_state::client::ClientRequest) -> Result<Response, RequestFailed> { todo!() }
//! # fn os_random() -> [u8; 24] { [0; 24] }
//! let config = SaslConfig::scram_sha512("alice", "alice-secret");
//! let mut sasl = SaslClient::new(config, scram_nonce(&os_random()));
//! while let Some(request) = sasl.poll_request() {
//!     // Negotiate the version with the broker's ApiVersions, write, send, read the answer.
//!     let answer = send(request);
//!     sasl.handle_response(Instant::now(), answer);
//! }
//! match sasl.outcome() {
//!     Some(SaslOutcome::Authenticated { session_lifetime }) => {
//!         // The connection is ready. With a session lifetime, arm a timer for
//!         // `sasl.reauthenticate_at(random_u32)`.
//!     }
//!     Some(SaslOutcome::Failed(error)) => {
//!         // Close the connection; `error.is_retriable()` says whether a new one may do better.
//!     }
//!     None => unreachable!("the loop ends only with an outcome"),
//! }
//! ```
//!
//! # Re-authentication (KIP-368)
//!
//! A broker with `connections.max.reauth.ms` set gives each session a lifetime
//! ([`SaslOutcome::Authenticated`]'s `session_lifetime`) and closes a connection whose
//! session expired. Before that, at [`SaslClient::reauthenticate_at`], the driver calls
//! [`SaslClient::reauthenticate`] with the configuration (a fresh OAUTHBEARER token if it has
//! one) and a fresh nonce, and runs the same loop on the same connection: SaslHandshake, then
//! SaslAuthenticate. It sends no other request on the connection until the outcome.
//!
//! # Randomness and secrets
//!
//! The machine draws no random numbers: the SCRAM nonce ([`scram_nonce`]) and the point of
//! re-authentication ([`reauthentication_delay`]) come from the driver. Passwords and tokens
//! are [`Secret`]s, which print as `***`; no [`SaslError`] carries one. The credentials are
//! dropped when a run ends.

mod client;
mod config;
mod error;
mod oauthbearer;
mod plain;
pub(crate) mod scram;
mod session;

pub use client::{SaslClient, SaslOutcome};
pub use config::{Mechanism, SaslConfig, Secret};
pub use error::{SaslError, ServerMessageError};
pub use oauthbearer::unsecured_jwt;
pub use session::{reauthentication_delay, scram_nonce};

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use oauthbearer::parse_server_error as parse_oauthbearer_error;

#[cfg(test)]
mod tests;

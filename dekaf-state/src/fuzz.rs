//! The body of the `sasl` fuzz target in `fuzz/`, kept in the crate so that its committed
//! corpus also replays as an ordinary test on a stable toolchain. The bodies of the consumer
//! and producer targets, which need a broker model, live in dekaf-sim (its `fuzzing` feature).
//!
//! It panics only when the SASL code breaks a promise: a panic inside a parser or the
//! machine, a request while one is in flight or after the outcome, a run with no outcome or
//! two, a secret in an outcome's text.
//!
//! `Input`, the reading of fuzz input as a stream of choices, is shared with those bodies.

mod input;
pub(crate) mod sasl;

pub use input::Input;

/// Feeds the parsers of the broker's SCRAM and OAUTHBEARER messages with `data`, or drives a
/// [`SaslClient`](crate::sasl::SaslClient) through answers `data` chooses; panics when it
/// breaks a promise (a request while one is in flight or after the outcome, a run with no
/// outcome or two, a secret in an outcome's text).
pub fn fuzz_sasl(data: &[u8]) {
    sasl::run(data);
}

//! SaslHandshake (key 17): picks the SASL mechanism of a connection before authenticating.

use crate::{message, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Names the SASL mechanism the client wants. In version 0 the SASL tokens then follow as
    /// raw frames; in version 1 they travel in `SaslAuthenticate` requests.
    pub struct SaslHandshakeRequest [MessageSpec::request(ApiKey::SaslHandshake, 0, 1)] {
        /// The mechanism, e.g. `PLAIN` or `SCRAM-SHA-512`.
        mechanism: String [since(0)],
    }
}

message! {
    /// Whether the broker accepts the mechanism, and which ones it offers.
    pub struct SaslHandshakeResponse [MessageSpec::response(ApiKey::SaslHandshake, 0, 1)] {
        /// `UNSUPPORTED_SASL_MECHANISM` when the mechanism is not enabled, else `NONE`.
        error_code: ErrorCode [since(0)],
        /// The mechanisms the broker has enabled.
        mechanisms: Vec<String> [since(0)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<SaslHandshakeRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<SaslHandshakeResponse>(64);
    }
}

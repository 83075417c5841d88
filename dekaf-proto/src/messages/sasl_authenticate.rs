//! SaslAuthenticate (key 36): carries one SASL token each way, after `SaslHandshake` v1.

use bytes::Bytes;

use crate::{message, ApiKey, ErrorCode, MessageSpec};

message! {
    /// The client's next SASL token.
    pub struct SaslAuthenticateRequest [MessageSpec::request(ApiKey::SaslAuthenticate, 0, 2)] {
        /// The token, in the format of the chosen mechanism.
        auth_bytes: Bytes [since(0)],
    }
}

message! {
    /// The broker's next SASL token, or why authentication failed.
    pub struct SaslAuthenticateResponse [MessageSpec::response(ApiKey::SaslAuthenticate, 0, 2)] {
        /// Why authentication failed, or `NONE`.
        error_code: ErrorCode [since(0)],
        /// The broker's explanation of the failure, if any.
        error_message: Option<String> [since(0).null_since(0)],
        /// The token, in the format of the chosen mechanism.
        auth_bytes: Bytes [since(0)],
        /// How long the session lasts before the client must re-authenticate on this
        /// connection, in milliseconds; 0 for no limit.
        session_lifetime_ms: i64 [since(1).ignorable()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<SaslAuthenticateRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<SaslAuthenticateResponse>(64);
    }
}

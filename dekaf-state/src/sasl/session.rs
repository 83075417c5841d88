//! When an authenticated session must be renewed (KIP-368), and the random inputs a driver
//! supplies.

use std::time::Duration;

use base64::Engine;

/// How long after authenticating a client re-authenticates a session that lasts
/// `session_lifetime`: as Kafka's Java client, at a point between 85 % and 95 % of it, early
/// enough for network latency and clock drift, spread so that many connections do not
/// re-authenticate at once. `random` picks the point (uniform over `u32` gives a uniform
/// point); the driver draws it, the machine never does.
pub fn reauthentication_delay(session_lifetime: Duration, random: u32) -> Duration {
    // lifetime * (0.85 + 0.10 * random / 2^32), in integer milliseconds.
    let millis = session_lifetime.as_millis();
    let scale = 100u128 << 32;
    let factor = (85u128 << 32) + 10 * u128::from(random);
    let delay = millis.saturating_mul(factor) / scale;
    let secs = u64::try_from(delay / 1000).unwrap_or(u64::MAX);
    let nanos = u32::try_from(delay % 1000).unwrap_or(0) * 1_000_000;
    Duration::new(secs, nanos)
}

/// A SCRAM client nonce made of `random` bytes (base64), for
/// [`SaslClient::new`](super::SaslClient::new). The driver draws them fresh from the
/// operating system's random number generator for every exchange: at least 18 bytes.
pub fn scram_nonce(random: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(random)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reauthentication_comes_between_85_and_95_percent_of_the_session() {
        let hour = Duration::from_secs(3600);
        assert_eq!(reauthentication_delay(hour, 0), Duration::from_secs(3060));
        assert_eq!(
            reauthentication_delay(hour, u32::MAX),
            Duration::from_millis(3_419_999)
        );
        assert_eq!(
            reauthentication_delay(hour, 1 << 31),
            Duration::from_secs(3240)
        );
        assert_eq!(reauthentication_delay(Duration::ZERO, 7), Duration::ZERO);
        let huge = reauthentication_delay(Duration::MAX, u32::MAX);
        assert!(huge < Duration::MAX && huge.as_secs() > u64::MAX / 100 * 85);
    }

    #[test]
    fn a_scram_nonce_is_printable_without_commas() {
        let nonce = scram_nonce(&[0xff; 24]);
        assert_eq!(nonce.len(), 32);
        assert!(super::super::scram::is_valid_nonce(&nonce));
        assert!(!super::super::scram::is_valid_nonce(&scram_nonce(&[])));
    }
}

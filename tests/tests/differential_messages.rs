//! Differential tests: dekaf-proto and the `kafka-protocol` crate must write and read the same
//! bytes for every message and version both implement.
//!
//! For random dekaf values (valid for the version), dekaf's bytes are decoded by
//! kafka-protocol and re-encoded; the two encodings must be equal, and dekaf must decode
//! kafka-protocol's bytes back to the same value.

use dekaf_proto::messages::*;
use dekaf_tests::differential;

#[test]
fn api_versions() {
    differential::<ApiVersionsRequest, kafka_protocol::messages::ApiVersionsRequest>(0..=4, 64);
    differential::<ApiVersionsResponse, kafka_protocol::messages::ApiVersionsResponse>(0..=4, 64);
}

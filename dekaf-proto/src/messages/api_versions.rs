//! ApiVersions (key 18): which APIs, in which versions, a broker supports.

use crate::{message, structure, ApiKey, ErrorCode, MessageSpec};

message! {
    /// Asks a broker for the versions of each API it supports; the first request on a
    /// connection.
    pub struct ApiVersionsRequest [MessageSpec::request(ApiKey::ApiVersions, 0, 4)] {
        /// Name of the client library, for the broker's metrics.
        client_software_name: String [since(3).ignorable()],
        /// Version of the client library, for the broker's metrics.
        client_software_version: String [since(3).ignorable()],
    }
}

message! {
    /// The APIs a broker supports, with their version ranges.
    pub struct ApiVersionsResponse [MessageSpec::response(ApiKey::ApiVersions, 0, 4)] {
        /// Non-zero when the broker could not answer (e.g. UNSUPPORTED_VERSION).
        error_code: ErrorCode [since(0)],
        /// One entry per API the broker supports.
        api_keys: Vec<ApiVersion> [since(0)],
        /// How long the broker delayed the answer for a quota, in milliseconds.
        throttle_time_ms: i32 [since(1).ignorable()],
        /// Feature flags the broker can run with.
        supported_features: Vec<SupportedFeatureKey> [since(3).tag(0).ignorable()],
        /// Epoch of the finalized feature set, -1 when unknown.
        finalized_features_epoch: i64 [since(3).tag(1).ignorable()] = -1,
        /// Feature levels the whole cluster has agreed on.
        finalized_features: Vec<FinalizedFeatureKey> [since(3).tag(2).ignorable()],
        /// Set by a KRaft controller ready for a ZooKeeper migration.
        zk_migration_ready: bool [since(3).tag(3).ignorable()],
    }
}

structure! {
    /// The version range of one API.
    pub struct ApiVersion {
        /// The API's key.
        api_key: i16 [since(0)],
        /// Lowest supported version.
        min_version: i16 [since(0)],
        /// Highest supported version.
        max_version: i16 [since(0)],
    }
}

structure! {
    /// A feature the broker supports, with its version range.
    pub struct SupportedFeatureKey {
        /// Feature name.
        name: String [since(3)],
        /// Lowest supported level.
        min_version: i16 [since(3)],
        /// Highest supported level.
        max_version: i16 [since(3)],
    }
}

structure! {
    /// A feature level finalized for the cluster.
    pub struct FinalizedFeatureKey {
        /// Feature name.
        name: String [since(3)],
        /// Highest finalized level.
        max_version_level: i16 [since(3)],
        /// Lowest finalized level.
        min_version_level: i16 [since(3)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::check_round_trips;

    #[test]
    fn request_round_trips() {
        check_round_trips::<ApiVersionsRequest>(64);
    }

    #[test]
    fn response_round_trips() {
        check_round_trips::<ApiVersionsResponse>(64);
    }

    #[test]
    fn tagged_fields_holding_their_defaults_are_written_again() {
        use crate::Message;
        // v3 with no API key, and every tagged field present with its default value.
        let bytes = bytes::Bytes::from_static(&[
            0, 0, // error_code
            1, // api_keys: empty compact array
            0, 0, 0, 0, // throttle_time_ms
            4, // four tagged fields
            0, 1, 1, // supported_features: empty
            1, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, // finalized_features_epoch: -1
            2, 1, 1, // finalized_features: empty
            3, 1, 0, // zk_migration_ready: false
        ]);
        let decoded = ApiVersionsResponse::decode_exact(&bytes, 3).unwrap();
        assert_eq!(
            decoded,
            ApiVersionsResponse::default(),
            "the values are the defaults"
        );
        assert_eq!(decoded.to_bytes(3).unwrap(), bytes);
        // Built in code, the same values leave the tagged fields out.
        let built = ApiVersionsResponse::default().to_bytes(3).unwrap();
        assert_eq!(built.len(), bytes.len() - 19);
    }
}

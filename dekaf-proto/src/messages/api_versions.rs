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
}

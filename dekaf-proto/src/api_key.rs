//! Every API key of the Kafka protocol.

use std::fmt;

macro_rules! api_keys {
    ($($name:ident = $key:literal, flexible $flex:expr;)*) => {
        /// A Kafka API: the first field of every request header.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        #[allow(missing_docs)]
        pub enum ApiKey {
            $($name = $key,)*
        }

        impl ApiKey {
            /// Every API key, in key order.
            pub const ALL: &'static [ApiKey] = &[$(ApiKey::$name,)*];

            /// The key's number on the wire.
            pub const fn key(self) -> i16 {
                self as i16
            }

            /// The API's name, as Kafka spells it.
            pub const fn name(self) -> &'static str {
                match self {
                    $(ApiKey::$name => stringify!($name),)*
                }
            }

            /// The first version that uses the flexible encoding (compact strings and
            /// arrays, tagged fields, request header v2), if any does.
            pub const fn flexible_since(self) -> Option<i16> {
                match self {
                    $(ApiKey::$name => $flex,)*
                }
            }

            /// The API key with this number, if Kafka defines one.
            pub const fn from_key(key: i16) -> Option<ApiKey> {
                match key {
                    $($key => Some(ApiKey::$name),)*
                    _ => None,
                }
            }
        }
    };
}

api_keys! {
    Produce = 0, flexible Some(9);
    Fetch = 1, flexible Some(12);
    ListOffsets = 2, flexible Some(6);
    Metadata = 3, flexible Some(9);
    LeaderAndIsr = 4, flexible Some(4);
    StopReplica = 5, flexible Some(2);
    UpdateMetadata = 6, flexible Some(6);
    ControlledShutdown = 7, flexible Some(3);
    OffsetCommit = 8, flexible Some(8);
    OffsetFetch = 9, flexible Some(6);
    FindCoordinator = 10, flexible Some(3);
    JoinGroup = 11, flexible Some(6);
    Heartbeat = 12, flexible Some(4);
    LeaveGroup = 13, flexible Some(4);
    SyncGroup = 14, flexible Some(4);
    DescribeGroups = 15, flexible Some(5);
    ListGroups = 16, flexible Some(3);
    SaslHandshake = 17, flexible None;
    ApiVersions = 18, flexible Some(3);
    CreateTopics = 19, flexible Some(5);
    DeleteTopics = 20, flexible Some(4);
    DeleteRecords = 21, flexible Some(2);
    InitProducerId = 22, flexible Some(2);
    OffsetForLeaderEpoch = 23, flexible Some(4);
    AddPartitionsToTxn = 24, flexible Some(3);
    AddOffsetsToTxn = 25, flexible Some(3);
    EndTxn = 26, flexible Some(3);
    WriteTxnMarkers = 27, flexible Some(1);
    TxnOffsetCommit = 28, flexible Some(3);
    DescribeAcls = 29, flexible Some(2);
    CreateAcls = 30, flexible Some(2);
    DeleteAcls = 31, flexible Some(2);
    DescribeConfigs = 32, flexible Some(4);
    AlterConfigs = 33, flexible Some(2);
    AlterReplicaLogDirs = 34, flexible Some(2);
    DescribeLogDirs = 35, flexible Some(2);
    SaslAuthenticate = 36, flexible Some(2);
    CreatePartitions = 37, flexible Some(2);
    CreateDelegationToken = 38, flexible Some(2);
    RenewDelegationToken = 39, flexible Some(2);
    ExpireDelegationToken = 40, flexible Some(2);
    DescribeDelegationToken = 41, flexible Some(2);
    DeleteGroups = 42, flexible Some(2);
    ElectLeaders = 43, flexible Some(2);
    IncrementalAlterConfigs = 44, flexible Some(1);
    AlterPartitionReassignments = 45, flexible Some(0);
    ListPartitionReassignments = 46, flexible Some(0);
    OffsetDelete = 47, flexible None;
    DescribeClientQuotas = 48, flexible Some(1);
    AlterClientQuotas = 49, flexible Some(1);
    DescribeUserScramCredentials = 50, flexible Some(0);
    AlterUserScramCredentials = 51, flexible Some(0);
    Vote = 52, flexible Some(0);
    BeginQuorumEpoch = 53, flexible Some(1);
    EndQuorumEpoch = 54, flexible Some(1);
    DescribeQuorum = 55, flexible Some(0);
    AlterPartition = 56, flexible Some(0);
    UpdateFeatures = 57, flexible Some(0);
    Envelope = 58, flexible Some(0);
    FetchSnapshot = 59, flexible Some(0);
    DescribeCluster = 60, flexible Some(0);
    DescribeProducers = 61, flexible Some(0);
    BrokerRegistration = 62, flexible Some(0);
    BrokerHeartbeat = 63, flexible Some(0);
    UnregisterBroker = 64, flexible Some(0);
    DescribeTransactions = 65, flexible Some(0);
    ListTransactions = 66, flexible Some(0);
    AllocateProducerIds = 67, flexible Some(0);
    ConsumerGroupHeartbeat = 68, flexible Some(0);
    ConsumerGroupDescribe = 69, flexible Some(0);
    ControllerRegistration = 70, flexible Some(0);
    GetTelemetrySubscriptions = 71, flexible Some(0);
    PushTelemetry = 72, flexible Some(0);
    AssignReplicasToDirs = 73, flexible Some(0);
    ListClientMetricsResources = 74, flexible Some(0);
    DescribeTopicPartitions = 75, flexible Some(0);
    ShareGroupHeartbeat = 76, flexible Some(0);
    ShareGroupDescribe = 77, flexible Some(0);
    ShareFetch = 78, flexible Some(0);
    ShareAcknowledge = 79, flexible Some(0);
    AddRaftVoter = 80, flexible Some(0);
    RemoveRaftVoter = 81, flexible Some(0);
    UpdateRaftVoter = 82, flexible Some(0);
    InitializeShareGroupState = 83, flexible Some(0);
    ReadShareGroupState = 84, flexible Some(0);
    WriteShareGroupState = 85, flexible Some(0);
    DeleteShareGroupState = 86, flexible Some(0);
    ReadShareGroupStateSummary = 87, flexible Some(0);
}

impl ApiKey {
    /// Whether `version` of this API uses the flexible encoding.
    pub const fn is_flexible(self, version: i16) -> bool {
        match self.flexible_since() {
            Some(v) => version >= v,
            None => false,
        }
    }
}

impl TryFrom<i16> for ApiKey {
    type Error = i16;
    fn try_from(key: i16) -> Result<Self, i16> {
        ApiKey::from_key(key).ok_or(key)
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for &k in ApiKey::ALL {
            assert_eq!(ApiKey::from_key(k.key()), Some(k));
        }
        assert_eq!(ApiKey::from_key(18), Some(ApiKey::ApiVersions));
        assert_eq!(ApiKey::from_key(-1), None);
        assert!(ApiKey::Fetch.is_flexible(12));
        assert!(!ApiKey::Fetch.is_flexible(11));
        assert!(!ApiKey::SaslHandshake.is_flexible(1));
    }
}

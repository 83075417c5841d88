//! One module per Kafka API, each declaring its request and response for every version in
//! this crate's range, plus [`RequestBody`] and [`ResponseBody`] over all of them.

use bytes::BytesMut;

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::wire::Reader;
use crate::{ApiKey, Message, Request};

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod api_versions;
pub mod consumer_group_heartbeat;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod end_txn;
pub mod fetch;
pub mod find_coordinator;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod sasl_authenticate;
pub mod sasl_handshake;
pub mod sync_group;
pub mod txn_offset_commit;

macro_rules! apis {
    ($($api:ident => $module:ident :: { $req:ident, $resp:ident };)*) => {
        $(
            pub use $module::{$req, $resp};

            impl Request for $req {
                type Response = $resp;
            }

            impl From<$req> for RequestBody {
                fn from(body: $req) -> Self {
                    RequestBody::$api(body)
                }
            }

            impl From<$resp> for ResponseBody {
                fn from(body: $resp) -> Self {
                    ResponseBody::$api(body)
                }
            }
        )*

        /// The body of any request this crate implements.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        #[allow(missing_docs)]
        pub enum RequestBody {
            $($api($req),)*
        }

        /// The body of any response this crate implements.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        #[allow(missing_docs)]
        pub enum ResponseBody {
            $($api($resp),)*
        }

        impl RequestBody {
            /// The API of this request.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(RequestBody::$api(_) => ApiKey::$api,)*
                }
            }

            /// Appends the body encoded in `version`.
            pub fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
                match self {
                    $(RequestBody::$api(m) => m.encode(buf, version),)*
                }
            }

            /// Reads a request body of `api_key` at `version`.
            pub fn decode(api_key: ApiKey, version: i16, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                match api_key {
                    $(ApiKey::$api => $req::decode(r, version).map(RequestBody::$api),)*
                    #[allow(unreachable_patterns)]
                    other => Err(r.error("request body", DecodeErrorKind::UnknownApiKey(other.key()))),
                }
            }
        }

        impl ResponseBody {
            /// The API of this response.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(ResponseBody::$api(_) => ApiKey::$api,)*
                }
            }

            /// Appends the body encoded in `version`.
            pub fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
                match self {
                    $(ResponseBody::$api(m) => m.encode(buf, version),)*
                }
            }

            /// Reads a response body of `api_key` at `version`.
            pub fn decode(api_key: ApiKey, version: i16, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                match api_key {
                    $(ApiKey::$api => $resp::decode(r, version).map(ResponseBody::$api),)*
                    #[allow(unreachable_patterns)]
                    other => Err(r.error("response body", DecodeErrorKind::UnknownApiKey(other.key()))),
                }
            }
        }

        /// The versions of `api_key` this crate can encode and decode, if it implements the API.
        pub fn supported_versions(api_key: ApiKey) -> Option<(i16, i16)> {
            match api_key {
                $(ApiKey::$api => Some(($req::SPEC.min_version, $req::SPEC.max_version)),)*
                #[allow(unreachable_patterns)]
                _ => None,
            }
        }

        /// Every API this crate implements.
        pub const IMPLEMENTED: &[ApiKey] = &[$(ApiKey::$api,)*];
    };
}

apis! {
    Produce => produce::{ProduceRequest, ProduceResponse};
    Fetch => fetch::{FetchRequest, FetchResponse};
    ListOffsets => list_offsets::{ListOffsetsRequest, ListOffsetsResponse};
    Metadata => metadata::{MetadataRequest, MetadataResponse};
    OffsetCommit => offset_commit::{OffsetCommitRequest, OffsetCommitResponse};
    OffsetFetch => offset_fetch::{OffsetFetchRequest, OffsetFetchResponse};
    FindCoordinator => find_coordinator::{FindCoordinatorRequest, FindCoordinatorResponse};
    JoinGroup => join_group::{JoinGroupRequest, JoinGroupResponse};
    Heartbeat => heartbeat::{HeartbeatRequest, HeartbeatResponse};
    LeaveGroup => leave_group::{LeaveGroupRequest, LeaveGroupResponse};
    SyncGroup => sync_group::{SyncGroupRequest, SyncGroupResponse};
    DescribeGroups => describe_groups::{DescribeGroupsRequest, DescribeGroupsResponse};
    ListGroups => list_groups::{ListGroupsRequest, ListGroupsResponse};
    SaslHandshake => sasl_handshake::{SaslHandshakeRequest, SaslHandshakeResponse};
    ApiVersions => api_versions::{ApiVersionsRequest, ApiVersionsResponse};
    CreateTopics => create_topics::{CreateTopicsRequest, CreateTopicsResponse};
    DeleteTopics => delete_topics::{DeleteTopicsRequest, DeleteTopicsResponse};
    DeleteRecords => delete_records::{DeleteRecordsRequest, DeleteRecordsResponse};
    InitProducerId => init_producer_id::{InitProducerIdRequest, InitProducerIdResponse};
    OffsetForLeaderEpoch => offset_for_leader_epoch::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
    AddPartitionsToTxn => add_partitions_to_txn::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};
    AddOffsetsToTxn => add_offsets_to_txn::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
    EndTxn => end_txn::{EndTxnRequest, EndTxnResponse};
    TxnOffsetCommit => txn_offset_commit::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
    DescribeConfigs => describe_configs::{DescribeConfigsRequest, DescribeConfigsResponse};
    SaslAuthenticate => sasl_authenticate::{SaslAuthenticateRequest, SaslAuthenticateResponse};
    CreatePartitions => create_partitions::{CreatePartitionsRequest, CreatePartitionsResponse};
    DeleteGroups => delete_groups::{DeleteGroupsRequest, DeleteGroupsResponse};
    IncrementalAlterConfigs => incremental_alter_configs::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
    OffsetDelete => offset_delete::{OffsetDeleteRequest, OffsetDeleteResponse};
    DescribeCluster => describe_cluster::{DescribeClusterRequest, DescribeClusterResponse};
    ConsumerGroupHeartbeat => consumer_group_heartbeat::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_implemented_api_has_versions() {
        for &api in IMPLEMENTED {
            let (lo, hi) = supported_versions(api).unwrap();
            assert!(lo <= hi, "{api}");
        }
    }
}

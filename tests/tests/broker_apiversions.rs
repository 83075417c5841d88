//! ApiVersions against both tansu builds: what each advertises, the versions dekaf negotiates
//! from it, and where tansu's handling of versions differs from Apache Kafka.

use bytes::{BufMut, Bytes, BytesMut};
use dekaf_proto::frame::{begin_frame, end_frame};
use dekaf_proto::header::RequestHeader;
use dekaf_proto::messages::{
    supported_versions, ApiVersionsRequest, ApiVersionsResponse, IMPLEMENTED,
};
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::{ApiKey, ErrorCode, Message};
use dekaf_tests::{Broker, Build, CallError, Client, Engine};

/// The API ranges tansu 0.6.0 advertises, in key order; build W adds EndTxn.
fn advertised(build: Build) -> Vec<(ApiKey, i16, i16)> {
    use ApiKey::*;
    let mut table = vec![
        (Produce, 0, 11),
        (Fetch, 0, 17),
        (ListOffsets, 0, 9),
        (Metadata, 0, 12),
        (OffsetCommit, 0, 9),
        (OffsetFetch, 0, 9),
        (FindCoordinator, 0, 6),
        (JoinGroup, 0, 9),
        (Heartbeat, 0, 4),
        (LeaveGroup, 0, 5),
        (SyncGroup, 0, 5),
        (DescribeGroups, 0, 5),
        (ListGroups, 0, 5),
        (SaslHandshake, 0, 1),
        (ApiVersions, 0, 4),
        (CreateTopics, 0, 7),
        (DeleteTopics, 0, 6),
        (DeleteRecords, 0, 2),
        (InitProducerId, 0, 5),
        (AddPartitionsToTxn, 0, 5),
        (AddOffsetsToTxn, 0, 4),
        (EndTxn, 0, 4),
        (TxnOffsetCommit, 0, 4),
        (DescribeAcls, 0, 3),
        (CreateAcls, 0, 3),
        (DescribeConfigs, 0, 4),
        (SaslAuthenticate, 0, 2),
        (DeleteGroups, 0, 2),
        (IncrementalAlterConfigs, 0, 1),
        (ListPartitionReassignments, 0, 0),
        (DescribeUserScramCredentials, 0, 0),
        (AlterUserScramCredentials, 0, 0),
        (DescribeCluster, 0, 1),
        (ConsumerGroupDescribe, 0, 0),
        (GetTelemetrySubscriptions, 0, 0),
        (DescribeTopicPartitions, 0, 0),
    ];
    if build == Build::C {
        // Build C has no transactions.
        table.retain(|&(api, _, _)| api != EndTxn);
    }
    table
}

/// The advertised ranges in key order, with names for readable failures.
fn table(response: &ApiVersionsResponse) -> Vec<(ApiKey, i16, i16)> {
    let mut table: Vec<_> = response
        .api_keys
        .iter()
        .map(|k| {
            let api = ApiKey::from_key(k.api_key)
                .unwrap_or_else(|| panic!("unknown api key {} advertised", k.api_key));
            (api, k.min_version, k.max_version)
        })
        .collect();
    table.sort();
    table
}

fn api_versions_v0_and_v3(build: Build) {
    let Some(broker) = Broker::start(build, Engine::Memory) else {
        return;
    };
    let mut client = broker.client();
    let v0 = client.call(&ApiVersionsRequest::default(), 0);
    let v3 = client.call(
        &ApiVersionsRequest {
            client_software_name: "dekaf-tests".into(),
            client_software_version: "0.1.0".into(),
            ..Default::default()
        },
        3,
    );
    assert_eq!(v0.error_code, ErrorCode::NONE);
    assert_eq!(v3.error_code, ErrorCode::NONE);
    assert_eq!(table(&v0), advertised(build), "{build}, v0");
    assert_eq!(table(&v3), advertised(build), "{build}, v3");
    // The flexible-only fields: no quota delay, no feature flags.
    assert_eq!(v3.throttle_time_ms, 0);
    assert!(v3.supported_features.is_empty());
    assert!(v3.finalized_features.is_empty());
    assert_eq!(v3.finalized_features_epoch, -1);
    assert!(!v3.zk_migration_ready);
}

fn negotiated_versions(build: Build) {
    let Some(broker) = Broker::start(build, Engine::Memory) else {
        return;
    };
    let mut client = broker.client();
    let versions: BrokerVersions = client.broker_versions();
    for &api in IMPLEMENTED {
        let (lo, hi) = supported_versions(api).unwrap();
        match versions.range(api) {
            Some((blo, bhi)) if blo.max(lo) <= bhi.min(hi) => {
                assert_eq!(versions.pick(api), Ok(bhi.min(hi)), "{build}: {api}");
            }
            _ => assert!(versions.pick(api).is_err(), "{build}: {api}"),
        }
    }
    assert_eq!(versions.pick(ApiKey::ApiVersions), Ok(4));
    // The negotiated version is one the broker answers.
    let again: ApiVersionsResponse =
        client.call_negotiated(&versions, &ApiVersionsRequest::default());
    assert_eq!(again.error_code, ErrorCode::NONE);
    assert_eq!(table(&again), advertised(build));
    // Kafka offers these; tansu does not (KIP-848 groups, partition growth, leader epochs).
    for api in [
        ApiKey::ConsumerGroupHeartbeat,
        ApiKey::CreatePartitions,
        ApiKey::OffsetForLeaderEpoch,
    ] {
        assert_eq!(versions.range(api), None, "{build}: {api}");
        let e = versions.pick(api).unwrap_err();
        assert_eq!(e.broker, None);
    }
    assert_eq!(
        versions.range(ApiKey::EndTxn).is_some(),
        build == Build::W,
        "only build W has transactions"
    );
}

/// A request frame with any api key and version, which dekaf itself would refuse to encode.
fn raw_request(api_key: i16, version: i16, flexible: bool, body: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let at = begin_frame(&mut buf);
    RequestHeader {
        api_key,
        api_version: version,
        correlation_id: 7,
        client_id: Some("dekaf-tests".into()),
        ..Default::default()
    }
    .encode(&mut buf, if flexible { 2 } else { 1 })
    .unwrap();
    buf.put_slice(body);
    end_frame(&mut buf, at);
    buf.to_vec()
}

/// Sends one raw request on a new connection and returns the response body (after the
/// correlation id of response header v0), or why there is none.
fn raw_call(broker: &Broker, request: &[u8]) -> Result<Bytes, CallError> {
    let mut client: Client = broker.client();
    client.send_raw(request)?;
    let frame = client.read_frame()?;
    assert_eq!(
        frame.get(..4),
        Some(&7i32.to_be_bytes()[..]),
        "correlation id"
    );
    Ok(frame.slice(4..))
}

fn api_versions_above_max(build: Build) {
    let Some(broker) = Broker::start(build, Engine::Memory) else {
        return;
    };
    // Kafka answers a version it does not know with UNSUPPORTED_VERSION in a v0 body, so that
    // any client can read it. tansu answers v5 (and even v99) with error 0, in the flexible
    // format of v3/v4.
    let body = ApiVersionsRequest::default().to_bytes(4).unwrap();
    for version in [5, 99] {
        let answer = raw_call(&broker, &raw_request(18, version, true, &body))
            .unwrap_or_else(|e| panic!("{build}: ApiVersions v{version}: {e}"));
        let as_v4 = ApiVersionsResponse::decode_exact(&answer, 4)
            .unwrap_or_else(|e| panic!("{build}: v{version} answer is not in v4 format: {e}"));
        assert_eq!(as_v4.error_code, ErrorCode::NONE);
        assert_eq!(table(&as_v4), advertised(build));
        assert!(ApiVersionsResponse::decode_exact(&answer, 0).is_err());
    }
}

fn unknown_or_unadvertised_api_closes(build: Build) {
    let Some(broker) = Broker::start(build, Engine::Memory) else {
        return;
    };
    // An api key no Kafka version defines: tansu closes the connection.
    let unknown = raw_call(&broker, &raw_request(1000, 0, false, &[]));
    assert!(
        matches!(unknown, Err(CallError::Closed)),
        "{build}: {unknown:?}"
    );
    // CreatePartitions v0 with no topics, timeout 0, validate_only false: a valid request
    // of an API tansu does not advertise. Kafka would answer; tansu closes.
    let create_partitions = raw_request(37, 0, false, &[0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let answer = raw_call(&broker, &create_partitions);
    assert!(
        matches!(answer, Err(CallError::Closed)),
        "{build}: {answer:?}"
    );
    // The broker still serves new connections.
    assert_eq!(
        broker
            .client()
            .call(&ApiVersionsRequest::default(), 0)
            .error_code,
        ErrorCode::NONE
    );
}

fn metadata_above_max_is_answered(build: Build) {
    let Some(broker) = Broker::start(build, Engine::Memory) else {
        return;
    };
    // Metadata v13 (tansu advertises up to v12) with all topics, in v12's layout: Kafka
    // closes the connection on a version it does not support; tansu answers.
    let metadata_v13 = raw_request(3, 13, true, &[0, 0, 0, 0]);
    let answer = raw_call(&broker, &metadata_v13);
    assert!(answer.is_ok(), "{build}: {answer:?}");
}

#[test]
fn build_w_answers_api_versions_v0_and_v3() {
    api_versions_v0_and_v3(Build::W);
}

#[test]
fn build_c_answers_api_versions_v0_and_v3() {
    api_versions_v0_and_v3(Build::C);
}

#[test]
fn build_w_negotiated_versions() {
    negotiated_versions(Build::W);
}

#[test]
fn build_c_negotiated_versions() {
    negotiated_versions(Build::C);
}

#[test]
fn build_w_answers_api_versions_above_max_in_flexible_format() {
    api_versions_above_max(Build::W);
}

#[test]
fn build_c_answers_api_versions_above_max_in_flexible_format() {
    api_versions_above_max(Build::C);
}

#[test]
fn build_w_closes_on_unknown_or_unadvertised_api() {
    unknown_or_unadvertised_api_closes(Build::W);
}

#[test]
fn build_c_closes_on_unknown_or_unadvertised_api() {
    unknown_or_unadvertised_api_closes(Build::C);
}

#[test]
fn build_w_answers_metadata_above_max() {
    metadata_above_max_is_answered(Build::W);
}

#[test]
fn build_c_answers_metadata_above_max() {
    metadata_above_max_is_answered(Build::C);
}

//! The recording proxy in front of a real broker that advertises the proxy's address.

use dekaf_proto::messages::{ApiVersionsResponse, MetadataRequest, MetadataResponse};
use dekaf_proto::{ApiKey, ErrorCode, Message};
use dekaf_tests::proxy::{Direction, Proxy};
use dekaf_tests::{Broker, Build, Client, Engine};

#[test]
fn clients_are_sent_to_the_proxy_and_its_frames_are_recorded() {
    let listener = Proxy::bind().unwrap();
    let advertised = listener.local_addr().unwrap();
    let Some(broker) = Broker::start_advertising(Build::W, Engine::Memory, advertised) else {
        return;
    };
    assert_ne!(broker.addr(), advertised);
    let proxy = Proxy::start(listener, broker.addr(), &[ApiKey::Metadata]);
    assert_eq!(proxy.addr(), advertised);

    let mut client = Client::connect(proxy.addr()).unwrap();
    let versions = client.broker_versions();
    let version = versions.pick(ApiKey::Metadata).unwrap();
    let answer = client.call(&MetadataRequest::default(), version);
    let broker_entry = answer.brokers.first().expect("one broker");
    assert_eq!(broker_entry.host, advertised.ip().to_string());
    assert_eq!(broker_entry.port, i32::from(advertised.port()));

    // Only Metadata was asked for: its request and response, not ApiVersions.
    let frames = proxy.frames();
    let kinds: Vec<(ApiKey, Direction, i16)> = frames
        .iter()
        .map(|f| (f.api_key, f.direction, f.api_version))
        .collect();
    assert_eq!(
        kinds,
        [
            (ApiKey::Metadata, Direction::Request, version),
            (ApiKey::Metadata, Direction::Response, version),
        ]
    );
    assert_eq!(frames[0].correlation_id, frames[1].correlation_id);
    assert_eq!(frames[0].client_id.as_deref(), Some("dekaf-tests"));
    assert_eq!(frames[0].connection, 0);
    let request = MetadataRequest::decode_exact(&frames[0].body(), version).unwrap();
    assert_eq!(request, MetadataRequest::default());
    let response = MetadataResponse::decode_exact(&frames[1].body(), version).unwrap();
    assert_eq!(response, answer);
}

#[test]
fn each_connection_is_numbered_in_the_order_it_was_accepted() {
    let listener = Proxy::bind().unwrap();
    let advertised = listener.local_addr().unwrap();
    let Some(broker) = Broker::start_advertising(Build::W, Engine::Memory, advertised) else {
        return;
    };
    let proxy = Proxy::start(listener, broker.addr(), &[ApiKey::ApiVersions]);
    let mut first = Client::connect(proxy.addr()).unwrap();
    first.broker_versions();
    drop(first);
    let mut second = Client::connect(proxy.addr()).unwrap();
    second.broker_versions();
    let frames = proxy.frames();
    let connections: Vec<usize> = frames.iter().map(|f| f.connection).collect();
    assert_eq!(connections, [0, 0, 1, 1]);
    let body = frames[3].body();
    let answer = ApiVersionsResponse::decode_exact(&body, 3).unwrap();
    assert_eq!(answer.error_code, ErrorCode::NONE);
}

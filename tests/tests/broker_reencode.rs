//! Answers of both tansu builds decode and encode back to the very bytes the broker wrote,
//! tagged fields that hold their default value included (tansu writes some: ApiVersions'
//! features, Fetch v16's node endpoints), so that a proxy built on dekaf-proto passes frames
//! through unchanged.

use bytes::{Bytes, BytesMut};
use dekaf_proto::header::{response_header_version, ResponseHeader};
use dekaf_proto::messages::{ApiVersionsRequest, FetchRequest, MetadataRequest};
use dekaf_proto::records::RecordBatchBuilder;
use dekaf_proto::wire::Reader;
use dekaf_proto::{Message, Request};
use dekaf_tests::ops::{create_topic, produce, unique_name};
use dekaf_tests::{Broker, Build, Client, Engine};

/// Decodes `frame` as the answer to `R` in `version`, encodes it again and compares.
fn check_reencodes<R: Request>(frame: &Bytes, version: i16) -> R::Response {
    let api = R::SPEC.api_key;
    let header_version = response_header_version(api, version);
    let mut r = Reader::new(frame);
    let header = ResponseHeader::decode(&mut r, header_version).expect("the header decodes");
    let body = <R::Response as Message>::decode(&mut r, version).expect("the body decodes");
    r.finish(api.name()).expect("nothing left over");
    let mut again = BytesMut::new();
    header.encode(&mut again, header_version);
    body.encode(&mut again, version).expect("the body encodes");
    assert_eq!(
        again.as_ref(),
        frame.as_ref(),
        "{} v{version} re-encoded differs from the broker's bytes",
        api.name()
    );
    body
}

fn reencodes(build: Build) {
    let Some(broker) = Broker::start(build, Engine::Memory) else {
        return;
    };
    let mut client: Client = broker.client();
    for version in 0..=4 {
        let frame = client
            .call_raw(&ApiVersionsRequest::default(), version)
            .expect("ApiVersions");
        check_reencodes::<ApiVersionsRequest>(&frame, version);
    }
    let versions = client.broker_versions();
    let topic = unique_name("reencode");
    let topic_id = create_topic(&mut client, &versions, &topic, 1);
    let mut batch = RecordBatchBuilder::new();
    batch.append(0, None, Some(Bytes::from_static(b"v")), Vec::new());
    produce(
        &mut client,
        &versions,
        &topic,
        0,
        batch.build().expect("a batch"),
    );
    for version in [12, 13, 16] {
        let request = dekaf_tests::ops::fetch_request(&topic, topic_id, 0, 0, 100);
        let frame = client.call_raw(&request, version).expect("Fetch");
        let answer = check_reencodes::<FetchRequest>(&frame, version);
        assert_eq!(answer.responses.len(), 1, "{build} Fetch v{version}");
    }
    for version in [9, 12] {
        let frame = client
            .call_raw(&MetadataRequest::default(), version)
            .expect("Metadata");
        check_reencodes::<MetadataRequest>(&frame, version);
    }
}

#[test]
fn build_w_answers_reencode_byte_for_byte() {
    reencodes(Build::W);
}

#[test]
fn build_c_answers_reencode_byte_for_byte() {
    reencodes(Build::C);
}

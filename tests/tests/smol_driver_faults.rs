//! The dekaf-smol driver against scripted brokers on loopback sockets: malformed answers,
//! the ApiVersions fallback, the in-flight limit, requests without answers, versions the
//! broker lacks, a broker that moves, shutdown.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use dekaf_proto::frame::{begin_frame, end_frame};
use dekaf_proto::header::RequestHeader;
use dekaf_proto::messages::{ApiVersionsResponse, MetadataResponse, ResponseBody};
use dekaf_proto::{ApiKey, DecodeErrorKind, ErrorCode};
use dekaf_smol::{Config, ConnectionEvent, Driver, Endpoint, Error};
use dekaf_state::client::{BrokerAddress, Destination, RequestFailed};
use dekaf_tests::driver::{create_topic, metadata, outcome, within, Recorder, TestClient, WAIT};
use dekaf_tests::scripted::{fake, versions, Conn};

const ANY: Destination = Destination::AnyBroker;

/// What the scripted broker advertises unless a test says otherwise.
const TABLE: &[(ApiKey, i16, i16)] = &[(ApiKey::ApiVersions, 0, 4), (ApiKey::Metadata, 0, 12)];

fn config(addr: SocketAddr) -> Config {
    Config::new([addr.to_string()])
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
}

/// A frame with this correlation id and a body that is no Metadata answer.
fn garbage(correlation_id: i32) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let at = begin_frame(&mut buf);
    buf.put_i32(correlation_id);
    buf.put_slice(&[0xff, 0xff, 0xff]);
    end_frame(&mut buf, at);
    buf.to_vec()
}

async fn expect_connected(client: &TestClient) -> i16 {
    match client.event().await {
        ConnectionEvent::Connected {
            handshake_version, ..
        } => handshake_version,
        other => panic!("expected a connection, got {other:?}"),
    }
}

async fn expect_closed(client: &TestClient) -> (Error, bool) {
    match client.event().await {
        ConnectionEvent::Closed {
            reason,
            was_connected,
            ..
        } => (reason, was_connected),
        other => panic!("expected a closed connection, got {other:?}"),
    }
}

#[test]
fn a_malformed_answer_fails_everything_in_flight_and_the_next_request_reconnects() {
    let (addr, broker) = fake(|listener| {
        let mut first = Conn::accept(&listener);
        first.handshake(TABLE);
        let (a, _) = first.request().unwrap();
        let (_b, _) = first.request().unwrap();
        first.raw(&garbage(a.correlation_id));
        // The client hangs up on its own.
        assert_eq!(first.count_until_closed(), 0);

        let mut second = Conn::accept(&listener);
        second.handshake(TABLE);
        let (c, _) = second.request().unwrap();
        second.respond(&c, &MetadataResponse::default());
    });
    smol::block_on(async {
        let client = TestClient::start(config(addr));
        let (_, a) = client.submit(ANY, metadata(None)).await;
        let (_, b) = client.submit(ANY, metadata(None)).await;
        for rx in [a, b] {
            match outcome(&rx).await {
                Err(RequestFailed::Malformed(e)) => {
                    assert!(!matches!(e.kind, DecodeErrorKind::UnknownCorrelationId(_)))
                }
                other => panic!("expected a malformed answer, got {other:?}"),
            }
        }
        assert_eq!(expect_connected(&client).await, 3);
        let (reason, was_connected) = expect_closed(&client).await;
        assert!(was_connected);
        assert!(matches!(reason, Error::Malformed { .. }), "{reason}");
        assert!(reason.is_retriable());

        let response = client.request(ANY, metadata(None)).await.unwrap();
        assert!(matches!(response.body, ResponseBody::Metadata(_)));
        expect_connected(&client).await;
        client.stop().await;
    });
    broker.join().unwrap();
}

#[test]
fn an_oversized_frame_or_an_unknown_correlation_id_is_malformed() {
    let (addr, broker) = fake(|listener| {
        let mut first = Conn::accept(&listener);
        first.handshake(TABLE);
        first.request().unwrap();
        first.raw(&1_000_000i32.to_be_bytes());
        first.count_until_closed();

        let mut second = Conn::accept(&listener);
        second.handshake(TABLE);
        let (header, _) = second.request().unwrap();
        second.respond(
            &RequestHeader {
                correlation_id: header.correlation_id + 1000,
                ..header
            },
            &MetadataResponse::default(),
        );
        second.count_until_closed();
    });
    smol::block_on(async {
        let client = TestClient::start(config(addr).max_frame_size(64 * 1024));
        match client.request(ANY, metadata(None)).await {
            Err(RequestFailed::Malformed(e)) => assert!(
                matches!(
                    e.kind,
                    DecodeErrorKind::FrameTooLarge {
                        size: 1_000_000,
                        ..
                    }
                ),
                "{e}"
            ),
            other => panic!("expected an oversized frame, got {other:?}"),
        }
        match client.request(ANY, metadata(None)).await {
            Err(RequestFailed::Malformed(e)) => {
                assert!(
                    matches!(e.kind, DecodeErrorKind::UnknownCorrelationId(_)),
                    "{e}"
                )
            }
            other => panic!("expected an unknown correlation id, got {other:?}"),
        }
        client.stop().await;
    });
    broker.join().unwrap();
}

#[test]
fn garbage_in_the_handshake_fails_the_attempt() {
    let (addr, broker) = fake(|listener| {
        let mut conn = Conn::accept(&listener);
        let (header, _) = conn.request().unwrap();
        conn.raw(&garbage(header.correlation_id));
        conn.count_until_closed()
    });
    smol::block_on(async {
        let client = TestClient::start(config(addr));
        let failed = client.request(ANY, metadata(None)).await;
        assert_eq!(failed, Err(RequestFailed::Disconnected));
        let (reason, was_connected) = expect_closed(&client).await;
        assert!(!was_connected);
        assert!(matches!(reason, Error::Malformed { .. }), "{reason}");
        let machine = client.stop().await;
        assert_eq!(machine.disconnected, [ANY]);
    });
    assert_eq!(broker.join().unwrap(), 0);
}

#[test]
fn a_broker_that_refuses_api_versions_v3_is_asked_again_in_v0() {
    let (addr, broker) = fake(|listener| {
        let mut conn = Conn::accept(&listener);
        let (first, _) = conn.request().unwrap();
        assert_eq!(first.api_version, 3);
        // What an old broker sends for a version it does not know: a v0 body.
        let refusal = ApiVersionsResponse {
            error_code: ErrorCode::UNSUPPORTED_VERSION,
            ..versions(&[(ApiKey::ApiVersions, 0, 0)])
        };
        conn.respond(
            &RequestHeader {
                api_version: 0,
                ..first
            },
            &refusal,
        );
        let (second, _) = conn.request().unwrap();
        assert_eq!(second.api_key, ApiKey::ApiVersions.key());
        assert_eq!(second.api_version, 0);
        conn.respond(
            &second,
            &versions(&[(ApiKey::ApiVersions, 0, 0), (ApiKey::Metadata, 0, 4)]),
        );
        let (request, _) = conn.request().unwrap();
        conn.respond(&request, &MetadataResponse::default());
        request.api_version
    });
    smol::block_on(async {
        let client = TestClient::start(config(addr));
        let response = client.request(ANY, metadata(None)).await.unwrap();
        assert_eq!(response.version, 4);
        assert_eq!(expect_connected(&client).await, 0);
        client.stop().await;
    });
    assert_eq!(broker.join().unwrap(), 4);
}

#[test]
fn no_more_than_the_limit_is_in_flight_on_a_connection() {
    let (addr, broker) = fake(|listener| {
        let mut conn = Conn::accept(&listener);
        conn.handshake(TABLE);
        // Never answers: the client may only ever write its limit.
        conn.count_until_closed()
    });
    smol::block_on(async {
        let client = TestClient::start(
            config(addr)
                .max_in_flight_per_connection(2)
                .request_timeout(Duration::from_millis(500)),
        );
        let address = BrokerAddress {
            host: addr.ip().to_string(),
            port: addr.port(),
        };
        client.inspect(move |m| m.brokers.insert(7, address)).await;
        let receivers = client
            .inspect(|m| {
                (0..5)
                    .map(|_| m.submit(Destination::Broker(7), metadata(None)).1)
                    .collect::<Vec<_>>()
            })
            .await;
        for rx in receivers {
            let failed = outcome(&rx).await;
            assert!(
                matches!(
                    failed,
                    Err(RequestFailed::TimedOut | RequestFailed::Disconnected)
                ),
                "{failed:?}"
            );
        }
        let (reason, _) = loop {
            if let ConnectionEvent::Closed {
                endpoint: Endpoint::Broker(7),
                reason,
                was_connected,
                ..
            } = client.event().await
            {
                break (reason, was_connected);
            }
        };
        assert!(matches!(reason, Error::TimedOut { .. }), "{reason}");
        let machine = client.stop().await;
        assert_eq!(machine.disconnected, [Destination::Broker(7)]);
    });
    assert_eq!(broker.join().unwrap(), 2);
}

#[test]
fn a_request_without_answer_is_written_and_never_reported() {
    let (addr, broker) = fake(|listener| {
        let mut conn = Conn::accept(&listener);
        conn.handshake(TABLE);
        let (silent, _) = conn.request().unwrap();
        let (answered, _) = conn.request().unwrap();
        conn.respond(&answered, &MetadataResponse::default());
        conn.count_until_closed();
        (silent.correlation_id, answered.correlation_id)
    });
    smol::block_on(async {
        let client = TestClient::start(config(addr));
        let (silent, _) = client.submit(ANY, metadata(None).without_response()).await;
        let (answered, rx) = client.submit(ANY, metadata(None)).await;
        assert!(outcome(&rx).await.is_ok());
        let machine = client.stop().await;
        let ids: Vec<_> = machine.answered.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [answered]);
        assert_ne!(silent, answered);
    });
    let (silent, answered) = broker.join().unwrap();
    assert_eq!(answered, silent + 1, "both were written, in order");
}

#[test]
fn an_api_the_broker_lacks_fails_alone_and_the_connection_stays() {
    let (addr, broker) = fake(|listener| {
        let mut conn = Conn::accept(&listener);
        conn.handshake(TABLE);
        let (header, _) = conn.request().unwrap();
        conn.respond(&header, &MetadataResponse::default());
        conn.count_until_closed()
    });
    smol::block_on(async {
        let client = TestClient::start(config(addr));
        match client.request(ANY, create_topic("t", 1)).await {
            Err(RequestFailed::Unsupported(e)) => {
                assert_eq!(e.api, ApiKey::CreateTopics);
                assert_eq!(e.broker, None);
            }
            other => panic!("expected an unsupported API, got {other:?}"),
        }
        assert!(client.request(ANY, metadata(None)).await.is_ok());
        expect_connected(&client).await;
        assert!(client.try_event().is_none(), "the connection stayed open");
        client.stop().await;
    });
    // Only the Metadata request reached the broker.
    assert_eq!(broker.join().unwrap(), 0);
}

#[test]
fn a_broker_that_moves_is_reconnected_at_its_new_address() {
    let serve_one = |listener: TcpListener| {
        let mut conn = Conn::accept(&listener);
        conn.handshake(TABLE);
        let (header, _) = conn.request().unwrap();
        conn.respond(&header, &MetadataResponse::default());
        conn.count_until_closed()
    };
    let (old, old_broker) = fake(serve_one);
    let (new, new_broker) = fake(serve_one);
    let at = |addr: SocketAddr| BrokerAddress {
        host: addr.ip().to_string(),
        port: addr.port(),
    };
    smol::block_on(async {
        let client = TestClient::start(config(old));
        let (old_at, new_at) = (at(old), at(new));
        client.inspect(move |m| m.brokers.insert(3, old_at)).await;
        let to_3 = Destination::Broker(3);
        assert!(client.request(to_3, metadata(None)).await.is_ok());
        expect_connected(&client).await;

        client.inspect(move |m| m.brokers.insert(3, new_at)).await;
        assert!(client.request(to_3, metadata(None)).await.is_ok());
        let (reason, was_connected) = expect_closed(&client).await;
        assert!(was_connected);
        assert!(matches!(reason, Error::AddressChanged { .. }), "{reason}");
        match client.event().await {
            ConnectionEvent::Connected {
                endpoint, address, ..
            } => {
                assert_eq!(endpoint, Endpoint::Broker(3));
                assert_eq!(address, at(new));
            }
            other => panic!("expected a connection at the new address, got {other:?}"),
        }
        client.stop().await;
    });
    assert_eq!(old_broker.join().unwrap(), 0);
    assert_eq!(new_broker.join().unwrap(), 0);
}

#[test]
fn huge_timeouts_mean_no_timeout() {
    let (addr, broker) = fake(|listener| {
        let mut conn = Conn::accept(&listener);
        conn.handshake(TABLE);
        let (header, _) = conn.request().unwrap();
        conn.respond(&header, &MetadataResponse::default());
        conn.count_until_closed()
    });
    smol::block_on(async {
        let client = TestClient::start(
            config(addr)
                .request_timeout(Duration::MAX)
                .connect_timeout(Duration::MAX),
        );
        assert!(client.request(ANY, metadata(None)).await.is_ok());
        client.stop().await;
    });
    assert_eq!(broker.join().unwrap(), 0);
}

#[test]
fn the_machine_timer_fires_at_its_deadline_and_can_be_set_again() {
    smol::block_on(async {
        let (driver, handle) =
            Driver::new(Config::new(["127.0.0.1:9"]), Recorder::default()).unwrap();
        let task = smol::spawn(driver.run());
        for delay in [Duration::from_millis(150), Duration::from_millis(50)] {
            let at = std::time::Instant::now() + delay;
            let fired = handle
                .call(move |m: &mut Recorder, _| m.set_timer(at))
                .await
                .unwrap();
            let now = within(WAIT, fired.recv())
                .await
                .expect("timer fired")
                .unwrap();
            assert!(now >= at);
        }
        handle.shutdown();
        within(WAIT, task).await.expect("driver stopped");
    });
}

#[test]
fn after_shutdown_commands_fail_and_the_machine_comes_back() {
    smol::block_on(async {
        // Nothing listens here, and nothing is sent: no connection is opened.
        let (driver, handle) =
            Driver::new(Config::new(["127.0.0.1:9"]), Recorder::default()).unwrap();
        let task = smol::spawn(driver.run());
        assert_eq!(handle.call(|_, _| 1).await.unwrap(), 1);
        handle.shutdown();
        let machine = within(WAIT, task).await.expect("driver stopped");
        assert!(machine.answered.is_empty());
        assert!(handle.is_closed());
        let e = handle.call(|_, _| ()).await.unwrap_err();
        assert!(matches!(e, Error::Shutdown) && e.is_fatal());
        assert!(handle.execute(|_, _| ()).is_err());
    });
}

#[test]
fn dropping_every_handle_stops_the_driver() {
    let (driver, handle) = Driver::new(Config::new(["127.0.0.1:9"]), Recorder::default()).unwrap();
    drop(handle);
    let machine = smol::block_on(within(WAIT, driver.run())).expect("driver stopped");
    assert!(machine.answered.is_empty());
}

#[test]
fn invalid_settings_are_refused_before_anything_starts() {
    let e = Driver::new(Config::default(), Recorder::default()).unwrap_err();
    assert!(matches!(e, Error::Config(_)) && e.is_fatal() && !e.is_retriable());
    let e = Driver::new(Config::new(["no-port"]), Recorder::default()).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
}

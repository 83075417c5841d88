//! The dekaf-smol driver against a real broker (tansu build W): answers in the negotiated
//! version, pipelining, request timeouts, a broker killed and restarted, a dead bootstrap
//! address, requests routed by broker id.

use std::time::Duration;

use dekaf_proto::messages::ResponseBody;
use dekaf_proto::version::BrokerVersions;
use dekaf_proto::ErrorCode;
use dekaf_smol::{Config, ConnectionEvent, Endpoint, Error};
use dekaf_state::client::{ClientRequest, Destination, RequestFailed, Response};
use dekaf_tests::broker::free_port;
use dekaf_tests::driver::{
    api_versions, create_topic, delete_topic, fetch, metadata, outcome, TestClient,
};
use dekaf_tests::{Broker, Build, Engine};

const ANY: Destination = Destination::AnyBroker;

fn config(broker: &Broker) -> Config {
    Config::new([broker.addr().to_string()])
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
}

/// The versions the broker advertised on the connection that just opened.
async fn connected(client: &TestClient, expected: Endpoint) -> BrokerVersions {
    match client.event().await {
        ConnectionEvent::Connected {
            endpoint,
            versions,
            handshake_version,
            ..
        } => {
            assert_eq!(endpoint, expected);
            assert_eq!(handshake_version, 3, "tansu speaks ApiVersions v3");
            versions
        }
        other => panic!("expected a connection to {expected:?}, got {other:?}"),
    }
}

fn answer(outcome: Result<Response, RequestFailed>, what: &str) -> Response {
    outcome.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn expected_version(versions: &BrokerVersions, request: &ClientRequest) -> i16 {
    request.negotiate(versions).expect("a common version")
}

#[test]
fn answers_arrive_in_the_negotiated_version() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    smol::block_on(async {
        let client = TestClient::start(config(&broker));
        let topic = "driver-negotiated";

        let request = api_versions();
        let (_, rx) = client.submit(ANY, request.clone()).await;
        let versions = connected(&client, Endpoint::Bootstrap(0)).await;
        let response = answer(outcome(&rx).await, "ApiVersions");
        assert_eq!(response.version, expected_version(&versions, &request));
        assert_eq!(response.version, 4);
        let ResponseBody::ApiVersions(body) = response.body else {
            panic!("not an ApiVersions answer: {:?}", response.body);
        };
        assert_eq!(BrokerVersions::from_response(&body), versions);

        let request = create_topic(topic, 3);
        let response = answer(client.request(ANY, request.clone()).await, "CreateTopics");
        assert_eq!(response.version, expected_version(&versions, &request));
        assert_eq!(response.version, 7);
        let ResponseBody::CreateTopics(body) = response.body else {
            panic!("not a CreateTopics answer: {:?}", response.body);
        };
        assert_eq!(body.topics.len(), 1);
        assert_eq!(body.topics[0].name, topic);
        assert_eq!(body.topics[0].error_code, ErrorCode::NONE);

        let request = metadata(Some(vec![topic.to_owned()]));
        let response = answer(client.request(ANY, request.clone()).await, "Metadata");
        assert_eq!(response.version, expected_version(&versions, &request));
        assert_eq!(response.version, 12);
        let ResponseBody::Metadata(body) = response.body else {
            panic!("not a Metadata answer: {:?}", response.body);
        };
        assert_eq!(body.topics.len(), 1);
        assert_eq!(body.topics[0].name.as_deref(), Some(topic));
        assert_eq!(body.topics[0].partitions.len(), 3);
        assert!(!body.brokers.is_empty());

        let request = delete_topic(topic);
        let response = answer(client.request(ANY, request.clone()).await, "DeleteTopics");
        assert_eq!(response.version, expected_version(&versions, &request));
        assert_eq!(response.version, 6);
        let ResponseBody::DeleteTopics(body) = response.body else {
            panic!("not a DeleteTopics answer: {:?}", response.body);
        };
        assert_eq!(body.responses.len(), 1);
        assert_eq!(body.responses[0].error_code, ErrorCode::NONE);

        // Everything went over the one bootstrap connection.
        assert!(client.try_event().is_none());
        let machine = client.stop().await;
        assert_eq!(machine.answered.len(), 4);
        assert!(machine.disconnected.is_empty());
    });
}

#[test]
fn pipelined_answers_are_matched_to_their_requests() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    smol::block_on(async {
        let client = TestClient::start(config(&broker).max_in_flight_per_connection(8));
        // Submitted in one go, so that the driver has far more than it may keep in flight.
        let receivers = client
            .inspect(|m| {
                (0..300)
                    .map(|i| {
                        let request = if i % 5 == 0 {
                            api_versions()
                        } else {
                            metadata(Some(vec![format!("pipelined-{i}")]))
                        };
                        (i, m.submit(ANY, request).1)
                    })
                    .collect::<Vec<_>>()
            })
            .await;
        for (i, rx) in receivers {
            let response = answer(outcome(&rx).await, "pipelined request");
            match response.body {
                ResponseBody::ApiVersions(_) => assert_eq!(i % 5, 0, "request {i}"),
                ResponseBody::Metadata(body) => {
                    let names: Vec<_> = body.topics.iter().map(|t| t.name.clone()).collect();
                    assert_eq!(names, [Some(format!("pipelined-{i}"))], "request {i}");
                }
                other => panic!("request {i}: unexpected answer {other:?}"),
            }
        }
        connected(&client, Endpoint::Bootstrap(0)).await;
        assert!(
            client.try_event().is_none(),
            "one connection for everything"
        );
        client.stop().await;
    });
}

#[test]
fn a_request_timeout_fails_the_request_and_the_next_one_reconnects() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    smol::block_on(async {
        let client = TestClient::start(config(&broker).request_timeout(Duration::from_secs(2)));
        let topic = "driver-timeout";
        answer(
            client.request(ANY, create_topic(topic, 1)).await,
            "CreateTopics",
        );
        connected(&client, Endpoint::Bootstrap(0)).await;

        // The topic is empty: the broker holds the fetch for max_wait, longer than we wait.
        let failed = client
            .request(ANY, fetch(topic, 0, Duration::from_secs(8)))
            .await;
        assert_eq!(failed, Err(RequestFailed::TimedOut));
        match client.event().await {
            ConnectionEvent::Closed {
                endpoint: Endpoint::Bootstrap(0),
                reason: Error::TimedOut { .. },
                was_connected: true,
                ..
            } => {}
            other => panic!("expected the timed-out connection to close, got {other:?}"),
        }

        let response = answer(
            client
                .request(ANY, metadata(Some(vec![topic.into()])))
                .await,
            "Metadata after the timeout",
        );
        assert!(matches!(response.body, ResponseBody::Metadata(_)));
        connected(&client, Endpoint::Bootstrap(0)).await;
        let machine = client.stop().await;
        assert_eq!(machine.disconnected, [ANY]);
    });
}

#[test]
fn a_killed_broker_fails_in_flight_requests_and_its_successor_is_reconnected() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    let addr = broker.addr();
    smol::block_on(async {
        let client = TestClient::start(config(&broker));
        let topic = "driver-killed";
        answer(
            client.request(ANY, create_topic(topic, 1)).await,
            "CreateTopics",
        );
        connected(&client, Endpoint::Bootstrap(0)).await;

        let (_, rx) = client
            .submit(ANY, fetch(topic, 0, Duration::from_secs(20)))
            .await;
        client.barrier().await;
        broker.kill();
        assert_eq!(outcome(&rx).await, Err(RequestFailed::Disconnected));
        match client.event().await {
            ConnectionEvent::Closed {
                endpoint: Endpoint::Bootstrap(0),
                was_connected: true,
                reason,
                ..
            } => assert!(reason.is_retriable(), "{reason}"),
            other => panic!("expected the connection to close, got {other:?}"),
        }

        // While no broker listens, a request fails after one attempt.
        let failed = client.request(ANY, api_versions()).await;
        assert_eq!(failed, Err(RequestFailed::Disconnected));
        match client.event().await {
            ConnectionEvent::Closed {
                was_connected: false,
                reason,
                ..
            } => assert!(reason.is_retriable(), "{reason}"),
            other => panic!("expected a failed attempt, got {other:?}"),
        }

        let Some(_successor) = Broker::start_at(Build::W, Engine::Memory, addr) else {
            return;
        };
        let response = answer(
            client.request(ANY, api_versions()).await,
            "ApiVersions to the new broker",
        );
        assert!(matches!(response.body, ResponseBody::ApiVersions(_)));
        connected(&client, Endpoint::Bootstrap(0)).await;
        let machine = client.stop().await;
        assert_eq!(machine.disconnected, [ANY, ANY]);
    });
}

#[test]
fn a_dead_bootstrap_address_is_skipped() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    // Free a moment ago, so nothing listens there.
    let dead = free_port().unwrap();
    smol::block_on(async {
        let client = TestClient::start(
            Config::new([dead.to_string(), broker.addr().to_string()])
                .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200)),
        );
        let response = answer(client.request(ANY, metadata(None)).await, "Metadata");
        assert!(matches!(response.body, ResponseBody::Metadata(_)));
        match client.event().await {
            ConnectionEvent::Closed {
                endpoint: Endpoint::Bootstrap(0),
                was_connected: false,
                reason: Error::Io { op: "connect", .. },
                ..
            } => {}
            other => panic!("expected the dead address to fail, got {other:?}"),
        }
        connected(&client, Endpoint::Bootstrap(1)).await;
        client.stop().await;
    });
}

#[test]
fn requests_to_a_broker_id_go_to_its_metadata_address() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    smol::block_on(async {
        let client = TestClient::start(config(&broker));

        // Unknown until metadata names it: a retriable failure, nothing opened.
        let failed = client
            .request(Destination::Broker(111), api_versions())
            .await;
        assert_eq!(failed, Err(RequestFailed::Disconnected));
        assert!(failed.unwrap_err().is_retriable());
        assert!(client.try_event().is_none());

        let response = answer(client.request(ANY, metadata(None)).await, "Metadata");
        let ResponseBody::Metadata(body) = response.body else {
            panic!("not a Metadata answer");
        };
        let node = body.brokers.first().expect("one broker").node_id;
        connected(&client, Endpoint::Bootstrap(0)).await;

        let response = answer(
            client
                .request(Destination::Broker(node), api_versions())
                .await,
            "ApiVersions by broker id",
        );
        assert_eq!(response.version, 4);
        connected(&client, Endpoint::Broker(node)).await;
        assert_eq!(
            client.inspect(|m| m.brokers.len()).await,
            body.brokers.len()
        );
        client.stop().await;
    });
}

#[test]
fn coordinator_requests_never_wait_behind_a_fetch_to_the_same_broker() {
    let Some(broker) = Broker::start(Build::W, Engine::Memory) else {
        return;
    };
    smol::block_on(async {
        let client = TestClient::start(config(&broker));
        let topic = "driver-coordinator-lane";
        let created = answer(client.request(ANY, create_topic(topic, 1)).await, "create");
        let response = answer(
            client
                .request(ANY, metadata(Some(vec![topic.into()])))
                .await,
            "Metadata",
        );
        let ResponseBody::Metadata(body) = response.body else {
            panic!("not a Metadata answer: {created:?}");
        };
        let node = body.brokers.first().expect("one broker").node_id;
        connected(&client, Endpoint::Bootstrap(0)).await;

        // A long poll on the empty topic: the broker holds it for its max wait.
        let (_, long_poll) = client
            .submit(
                Destination::Broker(node),
                fetch(topic, 0, Duration::from_secs(10)),
            )
            .await;
        connected(&client, Endpoint::Broker(node)).await;
        // Behind it on the same connection: answered only after the fetch.
        let (_, behind) = client
            .submit(Destination::Broker(node), api_versions())
            .await;

        let coordinator = answer(
            client
                .request(Destination::Coordinator(node), api_versions())
                .await,
            "ApiVersions on the coordinator connection",
        );
        assert_eq!(coordinator.version, 4);
        connected(&client, Endpoint::Coordinator(node)).await;
        assert!(
            long_poll.is_empty() && behind.is_empty(),
            "the coordinator's answer came while the fetch was still held"
        );

        let fetched = answer(outcome(&long_poll).await, "the long poll");
        assert!(matches!(fetched.body, ResponseBody::Fetch(_)));
        assert!(long_poll.is_empty());
        answer(outcome(&behind).await, "the request behind the fetch");
        client.stop().await;
    });
}

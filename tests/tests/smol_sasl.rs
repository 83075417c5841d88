//! dekaf-smol over SASL against tansu build C with authentication on (SQLite engine, a user
//! made with `tansu user create`): the admin client, an idempotent producer and a consumer
//! group work with SCRAM-SHA-512; librdkafka with the same credentials proves the broker's
//! setup and reads what dekaf wrote. A wrong password, an unknown user, and the mechanisms
//! this broker refuses (SCRAM-SHA-256 fails authentication, PLAIN makes it close the
//! connection) each end in a typed, non-retriable error from `ready()`, and a client whose
//! credentials are refused backs off instead of reconnecting in a loop.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use dekaf_tests::ready::BuildReady;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{read_to_end, unique};
use dekaf_smol::transport::{ConnectFuture, Tcp};
use dekaf_smol::{
    Admin, AutoOffsetReset, Config, Consumer, Error, Mechanism, NewTopic, OffsetCommitMode,
    Producer, ProducerRecord, SaslError, SaslSettings, SecurityProtocol, TopicPartition, Transport,
};
use dekaf_state::client::BrokerAddress;
use dekaf_tests::broker::temp_dir;
use dekaf_tests::{librdkafka, Broker};

const USER: &str = "alice";
const PASSWORD: &str = "alice-secret-0b7f";
const SASL: SecurityProtocol = SecurityProtocol::SaslPlaintext;

fn scram() -> SaslSettings {
    SaslSettings::scram_sha512(USER, PASSWORD)
}

fn consumer(bootstrap: &str, sasl: SaslSettings) -> dekaf_smol::ConsumerBuilder {
    Consumer::builder()
        .bootstrap_servers(bootstrap)
        .security_protocol(SASL)
        .sasl(sasl)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .connect_timeout(Duration::from_secs(20))
}

fn broker() -> Option<Broker> {
    Broker::start_authenticating(temp_dir("sasl"), &[(USER, PASSWORD)], None)
}

#[test]
fn scram_sha512_admin_producer_and_consumer_group() {
    let Some(broker) = broker() else {
        return;
    };
    let bootstrap = broker.addr().to_string();
    let run = async {
        let topic = unique("sasl");
        let admin = Admin::connect_with(
            Config::new([bootstrap.as_str()])
                .security_protocol(SASL)
                .sasl(scram()),
        )
        .await?;
        admin
            .create_topic(NewTopic::new(topic.as_str(), 1).replication_factor(1))
            .await?;

        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .security_protocol(SASL)
            .sasl(scram())
            .build()
            .await?;
        for i in 0..10 {
            producer
                .send(
                    ProducerRecord::new(topic.as_str())
                        .partition(0)
                        .value(format!("dekaf-{i}")),
                )
                .await?;
        }
        // Idempotent by default: the producer has an id from the authenticated broker.
        check!(producer.producer_id_and_epoch().is_some(), "no producer id");
        producer.close().await?;

        let group = unique("sasl-group");
        let member = consumer(&bootstrap, scram())
            .group_id(group.as_str())
            .offset_commit_mode(OffsetCommitMode::Manual)
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_secs(1))
            .build()
            .await?;
        member.subscribe([topic.as_str()])?;
        let mut got = Vec::new();
        common::within(
            Duration::from_secs(60),
            "the group member to read 10 records",
            async {
                while got.len() < 10 {
                    for r in member.recv_batch(100).await? {
                        got.push(
                            String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned(),
                        );
                    }
                }
                Ok::<(), dekaf_smol::Error>(())
            },
        )
        .await??;
        member.commit().await?;
        let tp = TopicPartition::new(topic.as_str(), 0);
        let committed = member.committed(&tp).await?.map(|c| c.offset);
        check!(committed == Some(10), "committed {committed:?}");
        member.close().await?;
        let want: Vec<String> = (0..10).map(|i| format!("dekaf-{i}")).collect();
        check!(got == want, "read {got:?}");

        if librdkafka::available() {
            let args = |action: &'static str, n: &'static str| {
                vec![
                    action.to_owned(),
                    bootstrap.clone(),
                    "SCRAM-SHA-512".into(),
                    USER.into(),
                    PASSWORD.into(),
                    topic.clone(),
                    n.to_owned(),
                ]
            };
            let consume = args("consume", "10");
            let consume: Vec<&str> = consume.iter().map(String::as_str).collect();
            let theirs: Vec<String> =
                serde_json::from_str(&librdkafka::script("sasl_peer.py", &consume))?;
            check!(theirs == want, "librdkafka read {theirs:?}");
            let produce = args("produce", "3");
            let produce: Vec<&str> = produce.iter().map(String::as_str).collect();
            librdkafka::script("sasl_peer.py", &produce);
            let reader = consumer(&bootstrap, scram())
                .offset_commit_mode(OffsetCommitMode::Manual)
                .build()
                .await?;
            reader.assign([tp])?;
            let all = read_to_end(&reader, Duration::from_secs(30)).await?;
            reader.close().await?;
            check!(
                all.len() == 13,
                "read {} records after librdkafka wrote 3",
                all.len()
            );
        }
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    };
    if let Err(e) = smol::block_on(run) {
        panic!("{e}\n--- broker ---\n{}", broker.log());
    }
}

/// The error `build()` and `ready()` give with `sasl`, and how long it took.
fn refused(bootstrap: &str, sasl: SaslSettings) -> (Error, Duration) {
    let started = Instant::now();
    match smol::block_on(consumer(bootstrap, sasl).build_ready(Duration::from_secs(30))) {
        Ok(_) => panic!("a consumer was built with refused credentials"),
        Err(e) => (e, started.elapsed()),
    }
}

#[test]
fn refused_credentials_and_mechanisms_are_typed_and_final() {
    let Some(broker) = broker() else {
        return;
    };
    let bootstrap = broker.addr().to_string();
    for (what, sasl) in [
        (
            "wrong password",
            SaslSettings::scram_sha512(USER, "not-the-password"),
        ),
        (
            "unknown user",
            SaslSettings::scram_sha512("mallory", PASSWORD),
        ),
        ("SCRAM-SHA-256", SaslSettings::scram_sha256(USER, PASSWORD)),
    ] {
        let (e, took) = refused(&bootstrap, sasl);
        // Refused by the broker's error code, or by SCRAM's own `e=` in its final message
        // (tansu: `invalid-proof`, `unknown-user`).
        assert!(
            matches!(
                &e,
                Error::Sasl {
                    error: SaslError::AuthenticationFailed { .. } | SaslError::ServerError { .. },
                    ..
                }
            ),
            "{what}: {e:?}"
        );
        assert!(e.is_auth() && !e.is_retriable(), "{what}: {e}");
        // Returned as soon as the broker said no, not after the connect timeout.
        assert!(took < Duration::from_secs(20), "{what}: took {took:?}");
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains(PASSWORD) && !text.contains("not-the-password"),
            "{text}"
        );
    }
    let (e, _) = refused(&bootstrap, SaslSettings::plain(USER, PASSWORD));
    assert!(
        matches!(
            &e,
            Error::Sasl {
                error: SaslError::ClosedOnHandshake {
                    mechanism: Mechanism::Plain
                },
                ..
            }
        ),
        "PLAIN: {e:?}"
    );
    assert!(e.is_auth() && !e.is_retriable(), "{e}");
}

/// TCP, counting the connections opened.
#[derive(Debug, Default)]
struct Counting {
    opened: AtomicUsize,
}

impl Transport for Counting {
    fn connect(&self, address: &BrokerAddress) -> ConnectFuture {
        self.opened.fetch_add(1, Ordering::Relaxed);
        Tcp.connect(address)
    }
}

/// A producer whose credentials are refused keeps trying in the background as its records
/// wait, with the reconnect backoff: a bounded number of connections, not a storm (librdkafka
/// reconnects about every 50 ms against this broker, indefinitely).
#[test]
fn refused_credentials_back_off_instead_of_reconnecting_in_a_loop() {
    let Some(broker) = broker() else {
        return;
    };
    let counting = Arc::new(Counting::default());
    let config = Config::new([broker.addr().to_string()])
        .security_protocol(SASL)
        .sasl(SaslSettings::scram_sha512(USER, "wrong"))
        .reconnect_backoff(Duration::from_millis(50), Duration::from_secs(1))
        .transport(counting.clone());
    let client = dekaf_tests::driver::TestClient::start(config);
    let watched = Duration::from_secs(10);
    let started = Instant::now();
    smol::block_on(async {
        while started.elapsed() < watched {
            let _ = client
                .request(
                    dekaf_state::client::Destination::AnyBroker,
                    dekaf_tests::driver::api_versions(),
                )
                .await;
        }
        client.stop().await;
    });
    let opened = counting.opened.load(Ordering::Relaxed);
    // 50 ms doubling to 1 s: about 15 attempts in 10 s; a loop would open hundreds.
    assert!(
        opened >= 2,
        "only {opened} connection attempts: not retrying at all"
    );
    assert!(
        opened <= 30,
        "{opened} connections in {watched:?}: a reconnect storm"
    );
}

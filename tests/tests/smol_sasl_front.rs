//! dekaf-smol's SASL against an independent server implementation: a front (the Python
//! script `tests/scripts/sasl_front.py`, SCRAM by the `scramp` package, OAUTHBEARER as
//! Kafka's unsecured validator checks tokens) that authenticates clients and forwards the
//! rest to tansu. PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER work; a tampered server
//! signature, a server nonce that does not extend the client's, a low iteration count and a
//! refused token fail with typed errors; with a session lifetime of a few seconds (configured,
//! or the token's own expiry) a consumer and a producer keep working across several
//! re-authentications without one connection closed for an expired session (KIP-368), each
//! OAUTHBEARER re-authentication with a fresh token from the application's provider.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use dekaf_tests::ready::BuildReady;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::{read_to_end, unique};
use dekaf_smol::{
    Admin, AutoOffsetReset, Config, Consumer, Error, NewTopic, OAuthToken, OffsetCommitMode,
    Producer, ProducerRecord, SaslError, SaslSettings, SecurityProtocol, TokenFuture,
    TokenProvider, TopicPartition,
};
use dekaf_state::client::Destination;
use dekaf_state::sasl::{unsecured_jwt, ServerMessageError};
use dekaf_tests::sasl_front::SaslFront as Front;

type Result<T = ()> = common::Result<T>;

const USER: &str = "bob";
const PASSWORD: &str = "bob-secret-51c2";
const SASL: SecurityProtocol = SecurityProtocol::SaslPlaintext;

/// The front, knowing [`USER`] with [`PASSWORD`].
fn start(lifetime_ms: u64, tamper: Option<&str>) -> Option<Front> {
    Front::start(USER, PASSWORD, lifetime_ms, tamper)
}

/// The application's identity provider, as the tests play it: unsecured JWTs for `subject`,
/// valid for `lifetime`, each one different (its scope names the issuer and numbers the
/// token), every one remembered.
#[derive(Debug)]
struct Issuer {
    name: &'static str,
    subject: &'static str,
    lifetime: Duration,
    issued: Mutex<Vec<String>>,
}

impl Issuer {
    fn new(name: &'static str, subject: &'static str, lifetime: Duration) -> Arc<Issuer> {
        Arc::new(Issuer {
            name,
            subject,
            lifetime,
            issued: Mutex::new(Vec::new()),
        })
    }

    fn token(&self) -> std::result::Result<OAuthToken, String> {
        let mut issued = self.issued.lock().map_err(|e| e.to_string())?;
        let scope = format!("{}-{}", self.name, issued.len() + 1);
        let jwt = unsecured_jwt(self.subject, SystemTime::now(), self.lifetime, &[&scope]);
        issued.push(jwt.clone());
        Ok(OAuthToken::new(jwt, self.lifetime))
    }

    /// How many tokens it was asked for.
    fn calls(&self) -> usize {
        self.issued.lock().map(|i| i.len()).unwrap_or(0)
    }

    fn issued(&self) -> Vec<String> {
        self.issued.lock().map(|i| i.clone()).unwrap_or_default()
    }

    /// A provider that answers at once: a closure.
    fn sync_provider(self: &Arc<Self>) -> SaslSettings {
        let issuer = Arc::clone(self);
        SaslSettings::oauthbearer(move || issuer.token())
    }

    /// A provider that must wait for its identity provider: a `TokenProvider` whose future
    /// answers after a timer.
    fn async_provider(self: &Arc<Self>) -> SaslSettings {
        SaslSettings::oauthbearer(Slow(Arc::clone(self)))
    }
}

/// An [`Issuer`] behind a round trip to an identity provider.
struct Slow(Arc<Issuer>);

impl TokenProvider for Slow {
    fn token(&self) -> TokenFuture {
        let issuer = Arc::clone(&self.0);
        Box::pin(async move {
            async_io::Timer::after(Duration::from_millis(30)).await;
            issuer.token()
        })
    }
}

fn producer(front: &Front, sasl: SaslSettings) -> dekaf_smol::ProducerBuilder {
    Producer::builder()
        .bootstrap_servers(front.bootstrap())
        .security_protocol(SASL)
        .sasl(sasl)
}

fn consumer(front: &Front, sasl: SaslSettings) -> dekaf_smol::ConsumerBuilder {
    Consumer::builder()
        .bootstrap_servers(front.bootstrap())
        .security_protocol(SASL)
        .sasl(sasl)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
}

async fn create(front: &Front, topic: &str) -> Result {
    let admin = Admin::connect_with(
        Config::new([front.bootstrap()])
            .security_protocol(SASL)
            .sasl(SaslSettings::plain(USER, PASSWORD)),
    )
    .await?;
    admin
        .create_topic(NewTopic::new(topic, 1).replication_factor(1))
        .await?;
    Ok(())
}

#[test]
fn every_mechanism_against_an_independent_server() {
    let Some(front) = start(0, None) else {
        return;
    };
    let run = async {
        let topic = unique("front");
        create(&front, &topic).await?;
        let mechanisms = [
            SaslSettings::plain(USER, PASSWORD),
            SaslSettings::scram_sha256(USER, PASSWORD),
            SaslSettings::scram_sha512(USER, PASSWORD),
        ];
        for (i, sasl) in mechanisms.iter().enumerate() {
            let p = producer(&front, sasl.clone()).build().await?;
            p.send(
                ProducerRecord::new(topic.as_str())
                    .partition(0)
                    .value(format!("{i}")),
            )
            .await?;
            p.close().await?;
        }
        let c = consumer(&front, SaslSettings::scram_sha256(USER, PASSWORD))
            .build()
            .await?;
        c.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let n = read_to_end(&c, Duration::from_secs(30)).await?.len();
        c.close().await?;
        check!(n == 3, "read {n} records, not 3");
        for sasl in [
            SaslSettings::plain(USER, "wrong"),
            SaslSettings::scram_sha256(USER, "wrong"),
            SaslSettings::scram_sha512("eve", PASSWORD),
        ] {
            let e = consumer(&front, sasl)
                .build_ready(Duration::from_secs(30))
                .await
                .err()
                .ok_or("a consumer was built with wrong credentials")?;
            check!(
                matches!(
                    &e,
                    Error::Sasl {
                        error: SaslError::AuthenticationFailed { .. },
                        ..
                    }
                ),
                "{e:?}"
            );
            check!(e.is_auth() && !e.is_retriable(), "{e}");
        }
        Result::Ok(())
    };
    if let Err(e) = smol::block_on(run) {
        panic!("{e}\n--- broker ---\n{}", front.broker().log());
    }
}

#[test]
fn a_tampered_scram_exchange_is_refused_with_a_typed_error() {
    for (tamper, want) in [
        ("signature", ServerMessageError::ServerSignatureMismatch),
        ("nonce", ServerMessageError::NonceMismatch),
        (
            "iterations",
            ServerMessageError::IterationCount { iterations: 1024 },
        ),
    ] {
        let Some(front) = start(0, Some(tamper)) else {
            return;
        };
        let built = smol::block_on(
            consumer(&front, SaslSettings::scram_sha256(USER, PASSWORD))
                .build_ready(Duration::from_secs(30)),
        );
        let e = match built {
            Ok(_) => panic!("{tamper}: a consumer was built"),
            Err(e) => e,
        };
        match &e {
            Error::Sasl {
                error: SaslError::ServerMessage { problem, .. },
                ..
            } => assert_eq!(problem, &want, "{tamper}"),
            other => panic!("{tamper}: {other:?}"),
        }
        assert!(e.is_auth() && !e.is_retriable(), "{tamper}: {e}");
    }
}

/// Records sent one at a time through a producer and read back by a consumer assigned to
/// partition 0 of the topic: every request of both clients must succeed, and every record
/// must arrive once, in order.
struct Traffic<'a> {
    producer: &'a Producer,
    reader: &'a Consumer,
    topic: &'a str,
    sent: usize,
    read: Vec<String>,
}

impl<'a> Traffic<'a> {
    /// Once a first record went through both clients, every connection they need is open.
    async fn start(producer: &'a Producer, reader: &'a Consumer, topic: &'a str) -> Result<Self> {
        reader.assign([TopicPartition::new(topic, 0)])?;
        let mut traffic = Traffic {
            producer,
            reader,
            topic,
            sent: 0,
            read: Vec::new(),
        };
        traffic.send().await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while traffic.read.is_empty() {
            check!(Instant::now() < deadline, "the first record was not read");
            traffic.recv(Duration::from_millis(100)).await?;
        }
        Ok(traffic)
    }

    async fn send(&mut self) -> Result {
        let value = self.sent.to_string();
        self.producer
            .send(ProducerRecord::new(self.topic).partition(0).value(value))
            .await?;
        self.sent += 1;
        Ok(())
    }

    async fn recv(&mut self, wait: Duration) -> Result {
        let batch = common::recv_for(self.reader, 1000, wait).await?;
        self.read.extend(
            batch
                .iter()
                .map(|r| String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned()),
        );
        Ok(())
    }

    /// Keeps records going until `enough` holds; fails if it does not within `limit`.
    async fn until(&mut self, limit: Duration, mut enough: impl FnMut() -> bool) -> Result {
        let deadline = Instant::now() + limit;
        while !enough() {
            check!(
                Instant::now() < deadline,
                "still not done after {limit:?} ({} records sent)",
                self.sent
            );
            self.send().await?;
            self.recv(Duration::from_millis(100)).await?;
        }
        Ok(())
    }

    /// Reads what is left; fails unless every record sent was read once, in order.
    async fn finish(mut self) -> Result {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.read.len() < self.sent {
            check!(
                Instant::now() < deadline,
                "read {} of {} records",
                self.read.len(),
                self.sent
            );
            self.recv(Duration::from_millis(100)).await?;
        }
        let want: Vec<String> = (0..self.sent).map(|i| i.to_string()).collect();
        check!(
            self.read == want,
            "read {} records out of order or twice",
            self.read.len()
        );
        Ok(())
    }
}

#[test]
fn sessions_are_reauthenticated_before_they_expire_without_failing_a_request() {
    let lifetime = Duration::from_secs(3);
    let Some(front) = start(lifetime.as_millis() as u64, None) else {
        return;
    };
    let run = async {
        let topic = unique("reauth");
        create(&front, &topic).await?;
        let producer = producer(&front, SaslSettings::scram_sha512(USER, PASSWORD))
            .build()
            .await?;
        let reader = consumer(&front, SaslSettings::scram_sha256(USER, PASSWORD))
            .build()
            .await?;
        let mut traffic = Traffic::start(&producer, &reader, &topic).await?;
        let connections = front.count("connections");
        let reauthenticated = front.count("reauthenticated");
        // Traffic until the front has seen sessions renewed twice (each ends within 3 s).
        traffic
            .until(lifetime * 10, || {
                front.count("reauthenticated") >= reauthenticated + 2
            })
            .await?;
        traffic.finish().await?;
        let stats = front.stats();
        check!(front.count("expired") == 0, "a session expired: {stats}");
        check!(
            front.count("reauthenticated") >= reauthenticated + 2,
            "fewer than two re-authentications: {stats}"
        );
        check!(
            front.count("connections") == connections,
            "connections were opened again ({connections} before): {stats}"
        );
        producer.close().await?;
        reader.close().await?;
        Result::Ok(())
    };
    if let Err(e) = smol::block_on(run) {
        panic!("{e}\n--- broker ---\n{}", front.broker().log());
    }
}

/// A consumer (a closure for a provider) and a producer (a `TokenProvider` that waits) each
/// authenticate with their own tokens. The front accepted exactly tokens the providers made,
/// and, with no lifetime configured, gave each session the token's remaining lifetime, as
/// Kafka does.
#[test]
fn oauthbearer_clients_authenticate_with_tokens_from_their_provider() {
    let Some(front) = start(0, None) else {
        return;
    };
    let hour = Duration::from_secs(3600);
    let (for_consumer, for_producer) = (
        Issuer::new("consumer", USER, hour),
        Issuer::new("producer", USER, hour),
    );
    let run = async {
        let topic = unique("oauth");
        create(&front, &topic).await?;
        let p = producer(&front, for_producer.async_provider())
            .build()
            .await?;
        for i in 0..3 {
            p.send(
                ProducerRecord::new(topic.as_str())
                    .partition(0)
                    .value(format!("{i}")),
            )
            .await?;
        }
        p.close().await?;
        let c = consumer(&front, for_consumer.sync_provider())
            .build()
            .await?;
        c.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let n = read_to_end(&c, Duration::from_secs(30)).await?.len();
        c.close().await?;
        check!(n == 3, "read {n} records, not 3");
        let (consumer_calls, producer_calls) = (for_consumer.calls(), for_producer.calls());
        check!(
            consumer_calls >= 1 && producer_calls >= 1,
            "providers asked {consumer_calls} and {producer_calls} times"
        );
        let accepted = front.tokens();
        let issued: BTreeSet<String> = for_consumer
            .issued()
            .into_iter()
            .chain(for_producer.issued())
            .collect();
        check!(
            accepted.iter().all(|t| issued.contains(t)),
            "the front accepted a token no provider made"
        );
        for issuer in [&for_consumer, &for_producer] {
            check!(
                issuer.issued().iter().any(|t| accepted.contains(t)),
                "no token of a provider reached the front"
            );
        }
        let lifetimes = front.token_lifetimes();
        check!(
            lifetimes.len() == accepted.len()
                && lifetimes
                    .iter()
                    .all(|l| *l <= hour && *l > hour - Duration::from_secs(60)),
            "session lifetimes are not the tokens' remaining lifetimes: {lifetimes:?}"
        );
        Result::Ok(())
    };
    if let Err(e) = smol::block_on(run) {
        panic!("{e}\n--- broker ---\n{}", front.broker().log());
    }
}

/// Tokens valid for 5 s under a configured session lifetime of a minute: the front cuts each
/// session to the token's remaining lifetime, and every connection renews its session with a
/// fresh token from its provider before that, without a request failing or a connection
/// closing.
#[test]
fn oauthbearer_sessions_are_renewed_with_fresh_tokens_before_the_token_expires() {
    let configured = Duration::from_secs(60);
    let token_lifetime = Duration::from_secs(5);
    let Some(front) = start(configured.as_millis() as u64, None) else {
        return;
    };
    let (for_consumer, for_producer) = (
        Issuer::new("consumer", USER, token_lifetime),
        Issuer::new("producer", USER, token_lifetime),
    );
    let run = async {
        let topic = unique("oauth-reauth");
        create(&front, &topic).await?;
        let producer = producer(&front, for_producer.async_provider())
            .build()
            .await?;
        let reader = consumer(&front, for_consumer.sync_provider())
            .build()
            .await?;
        let mut traffic = Traffic::start(&producer, &reader, &topic).await?;
        let connections = front.count("connections");
        let reauthenticated = front.count("reauthenticated");
        let tokens = front.tokens().len();
        let (consumer_calls, producer_calls) = (for_consumer.calls(), for_producer.calls());
        // Each client's provider asked twice more, and the front saw the renewals through
        // (a provider is asked before its re-authentication completes).
        traffic
            .until(token_lifetime * 6, || {
                for_consumer.calls() >= consumer_calls + 2
                    && for_producer.calls() >= producer_calls + 2
                    && front.count("reauthenticated") >= reauthenticated + 4
                    && front.tokens().len() >= tokens + 4
            })
            .await?;
        traffic.finish().await?;
        producer.close().await?;
        reader.close().await?;
        let stats = front.stats();
        check!(front.count("expired") == 0, "a session expired: {stats}");
        check!(
            front.count("reauthenticated") >= reauthenticated + 4,
            "fewer than four re-authentications: {stats}"
        );
        check!(
            front.count("connections") == connections,
            "connections were opened again ({connections} before): {stats}"
        );
        let accepted = front.tokens();
        let distinct: BTreeSet<&String> = accepted.iter().collect();
        check!(
            distinct.len() == accepted.len() && accepted.len() >= tokens + 4,
            "the front saw {} tokens ({tokens} before), {} distinct",
            accepted.len(),
            distinct.len()
        );
        let lifetimes = front.token_lifetimes();
        check!(
            lifetimes.iter().all(|l| *l <= token_lifetime),
            "a session outlived its token: {lifetimes:?}"
        );
        Result::Ok(())
    };
    if let Err(e) = smol::block_on(run) {
        panic!("{e}\n--- broker ---\n{}", front.broker().log());
    }
}

/// A token the broker refuses (another subject; an expired one) ends `ready()` at once with
/// the broker's RFC 7628 status, not retriable; a client that keeps trying in the background
/// asks its provider once per connection attempt, with the reconnect backoff, not in a loop.
#[test]
fn a_refused_token_is_a_typed_error_and_the_provider_is_not_hammered() {
    let Some(front) = start(0, None) else {
        return;
    };
    for (what, issuer) in [
        (
            "another subject",
            Issuer::new("mallory", "mallory", Duration::from_secs(3600)),
        ),
        ("expired", Issuer::new("expired", USER, Duration::ZERO)),
    ] {
        let started = Instant::now();
        let built = smol::block_on(
            consumer(&front, issuer.sync_provider()).build_ready(Duration::from_secs(30)),
        );
        let e = built
            .err()
            .unwrap_or_else(|| panic!("{what}: a consumer was built"));
        match &e {
            Error::Sasl {
                error: SaslError::TokenRejected { status, .. },
                ..
            } => assert_eq!(status, "invalid_token", "{what}"),
            other => panic!("{what}: {other:?}"),
        }
        assert!(e.is_auth() && !e.is_retriable(), "{what}: {e}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: took {:?}",
            started.elapsed()
        );
        assert!(issuer.calls() <= 2, "{what}: {} tokens", issuer.calls());
    }
    assert!(front.tokens().is_empty(), "{}", front.stats());
    assert!(front.count("refused") >= 2, "{}", front.stats());

    let issuer = Issuer::new("mallory", "mallory", Duration::from_secs(3600));
    let config = Config::new([front.bootstrap()])
        .security_protocol(SASL)
        .sasl(issuer.sync_provider())
        .reconnect_backoff(Duration::from_millis(50), Duration::from_secs(1));
    let client = dekaf_tests::driver::TestClient::start(config);
    let watched = Duration::from_secs(5);
    let started = Instant::now();
    smol::block_on(async {
        while started.elapsed() < watched {
            let _ = client
                .request(Destination::AnyBroker, dekaf_tests::driver::api_versions())
                .await;
        }
        client.stop().await;
    });
    let calls = issuer.calls();
    // 50 ms doubling to 1 s: about 8 attempts in 5 s; a loop would ask hundreds of times.
    assert!(
        calls >= 2,
        "only {calls} tokens asked for: not retrying at all"
    );
    assert!(calls <= 20, "{calls} tokens asked for in {watched:?}");
    let refused = front.count("refused");
    assert!(
        refused as usize >= calls.min(2),
        "the front refused {refused} of {calls} tokens"
    );
}

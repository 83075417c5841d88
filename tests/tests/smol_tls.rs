//! dekaf-smol over TLS, with stunnel (an independent TLS terminator) in front of tansu and
//! certificates made by the test: records both ways (and with librdkafka through the same
//! terminator), every connection through TLS, mTLS, and each certificate problem as a typed
//! error from `build()` and `ready()`, never a hang.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use dekaf_tests::ready::BuildReady;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{create_topic, read_to_end, unique};
use dekaf_smol::transport::{ConnectFuture, Tls};
use dekaf_smol::{
    AutoOffsetReset, Consumer, Error, OffsetCommitMode, Producer, ProducerRecord, SecurityProtocol,
    TlsError, TlsSettings, TopicPartition, Transport,
};
use dekaf_state::client::BrokerAddress;
use dekaf_tests::tls::{tunnel_port, Certs, ClientAuth, Pair, Stunnel};
use dekaf_tests::{librdkafka, Broker, Build, Engine};

type Result<T = ()> = common::Result<T>;

/// How long a test waits for any one thing.
const WAIT: Duration = Duration::from_secs(30);

/// tansu advertising the terminator's address, and the terminator presenting `server`.
struct Setup {
    certs: Certs,
    broker: Broker,
    tunnel: Stunnel,
}

impl Setup {
    fn start(server: impl Fn(&Certs) -> Pair, auth: ClientAuth) -> Option<Setup> {
        let certs = Certs::make();
        let port = tunnel_port();
        let broker = Broker::start_advertising(Build::W, Engine::Memory, port)?;
        let tunnel = Stunnel::start(&certs, &server(&certs), port, broker.addr(), auth)?;
        Some(Setup {
            certs,
            broker,
            tunnel,
        })
    }

    fn tls_addr(&self) -> String {
        self.tunnel.addr().to_string()
    }

    fn trusted(&self) -> TlsSettings {
        TlsSettings::new().ca_file(&self.certs.ca)
    }

    fn fail(&self, what: &str, e: impl std::fmt::Display) -> ! {
        panic!(
            "{what}: {e}\n--- stunnel ---\n{}\n--- broker ---\n{}",
            self.tunnel.log(),
            self.broker.log()
        )
    }
}

/// TLS, remembering every address it connected to.
#[derive(Debug)]
struct Recording {
    tls: Tls,
    seen: Arc<Mutex<BTreeSet<String>>>,
}

impl Transport for Recording {
    fn connect(&self, address: &BrokerAddress) -> ConnectFuture {
        self.seen
            .lock()
            .unwrap()
            .insert(format!("{}:{}", address.host, address.port));
        self.tls.connect(address)
    }
}

fn consumer(bootstrap: &str) -> dekaf_smol::ConsumerBuilder {
    Consumer::builder()
        .bootstrap_servers(bootstrap)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .connect_timeout(Duration::from_secs(10))
}

async fn values(consumer: &Consumer) -> Result<Vec<String>> {
    Ok(read_to_end(consumer, WAIT)
        .await?
        .iter()
        .map(|r| String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned())
        .collect())
}

#[test]
fn records_go_both_ways_over_tls_and_no_connection_bypasses_it() {
    let Some(setup) = Setup::start(|c| c.server.clone(), ClientAuth::None) else {
        return;
    };
    let run = async {
        let topic = unique("tls");
        // Set-up only: plaintext, straight to the broker.
        create_topic(&setup.broker.addr().to_string(), &topic, 1).await?;
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let recording = Arc::new(Recording {
            tls: Tls::new(&setup.trusted())?,
            seen: seen.clone(),
        });
        let producer = Producer::builder()
            .bootstrap_servers(setup.tls_addr())
            .transport(recording.clone())
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
        producer.close().await?;

        // The security protocol alone picks the TLS transport.
        let reader = consumer(&setup.tls_addr())
            .security_protocol(SecurityProtocol::Ssl)
            .tls(setup.trusted())
            .build()
            .await?;
        reader.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let got = values(&reader).await?;
        reader.close().await?;
        let want: Vec<String> = (0..10).map(|i| format!("dekaf-{i}")).collect();
        check!(got == want, "read {got:?}");

        let recorded = consumer(&setup.tls_addr())
            .transport(recording)
            .build()
            .await?;
        recorded.assign([TopicPartition::new(topic.as_str(), 0)])?;
        check!(
            values(&recorded).await? == want,
            "read through the recording transport"
        );
        recorded.close().await?;
        let seen = seen.lock().unwrap().clone();
        let only = BTreeSet::from([setup.tls_addr()]);
        check!(
            seen == only,
            "connections went to {seen:?}, not only the terminator"
        );

        if librdkafka::available() {
            let ca = setup.certs.ca.display().to_string();
            let tls = setup.tls_addr();
            let theirs = librdkafka::script("tls_peer.py", &["consume", &tls, &ca, &topic, "10"]);
            let theirs: Vec<String> = serde_json::from_str(&theirs)?;
            check!(
                theirs == want,
                "librdkafka read {theirs:?} through the terminator"
            );
            librdkafka::script("tls_peer.py", &["produce", &tls, &ca, &topic, "5"]);
            let reader = consumer(&tls)
                .security_protocol(SecurityProtocol::Ssl)
                .tls(setup.trusted())
                .build()
                .await?;
            reader.assign([TopicPartition::new(topic.as_str(), 0)])?;
            let got = values(&reader).await?;
            reader.close().await?;
            let mut want = want.clone();
            want.extend((0..5).map(|i| format!("librdkafka-{i}")));
            check!(got == want, "dekaf read {got:?} after librdkafka wrote");
        }
        Result::Ok(())
    };
    if let Err(e) = smol::block_on(run) {
        setup.fail("over TLS", e);
    }
}

/// The TLS error `build()` gives for `tls` against `setup`'s terminator.
fn tls_failure(bootstrap: &str, protocol: SecurityProtocol, tls: TlsSettings) -> Error {
    let built = smol::block_on(
        consumer(bootstrap)
            .security_protocol(protocol)
            .tls(tls)
            .connect_timeout(Duration::from_secs(20))
            .build_ready(Duration::from_secs(20)),
    );
    match built {
        Ok(_) => panic!("a consumer was built with {bootstrap}"),
        Err(e) => e,
    }
}

fn assert_tls(e: &Error, want: &TlsError) {
    match e {
        Error::Tls { error, .. } if error == want => {}
        other => panic!("expected {want:?}, got {other:?} ({other})"),
    }
    assert!(!e.is_retriable(), "{e}");
}

#[test]
fn certificate_problems_are_typed_errors_from_build() {
    let Some(good) = Setup::start(|c| c.server.clone(), ClientAuth::None) else {
        return;
    };
    let ssl = SecurityProtocol::Ssl;
    let e = tls_failure(
        &good.tls_addr(),
        ssl,
        TlsSettings::new().ca_file(&good.certs.other_ca),
    );
    assert_tls(&e, &TlsError::UnknownIssuer);

    // A plaintext client to the TLS port: stunnel resets the connection without a word (a
    // listener that answers with a TLS alert is reported as PeerSpeaksTls), so it ends as a
    // broker that never answered, within the connect timeout.
    let started = std::time::Instant::now();
    let e = smol::block_on(
        consumer(&good.tls_addr())
            .connect_timeout(Duration::from_secs(2))
            .build_ready(Duration::from_secs(2)),
    )
    .err()
    .unwrap_or_else(|| panic!("a plaintext consumer was built against a TLS port"));
    assert!(
        matches!(
            &e,
            Error::Tls {
                error: TlsError::PeerSpeaksTls,
                ..
            } | Error::NoBrokerAvailable { .. }
        ),
        "{e:?}"
    );
    assert!(started.elapsed() < WAIT, "no hang: {e}");
    // A TLS client to the plaintext broker: tansu waits for the rest of a "frame" as large as
    // the TLS hello's first bytes say, so the handshake ends at the connect timeout, and says so.
    let e = smol::block_on(
        consumer(&good.broker.addr().to_string())
            .security_protocol(ssl)
            .tls(good.trusted())
            .connect_timeout(Duration::from_secs(2))
            .build_ready(Duration::from_secs(2)),
    )
    .err()
    .unwrap_or_else(|| panic!("a TLS consumer was built against a plaintext broker"));
    assert!(
        matches!(
            &e,
            Error::Tls {
                error: TlsError::NotTls(_),
                ..
            }
        ) || matches!(&e, Error::NoBrokerAvailable { last_error: Some(cause), .. }
                if matches!(**cause, Error::ConnectTimeout { .. })),
        "{e:?}"
    );

    // Configuration errors name the file.
    let junk = good.certs.dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let e = tls_failure(&good.tls_addr(), ssl, TlsSettings::new().ca_file(&junk));
    assert!(
        matches!(&e, Error::Config(m) if m.contains("junk.pem")),
        "{e:?}"
    );
    let e = tls_failure(
        &good.tls_addr(),
        ssl,
        good.trusted()
            .client_certificate_files(&good.certs.client.cert, &junk),
    );
    assert!(
        matches!(&e, Error::Config(m) if m.contains("junk.pem") && !m.contains("not a certificate")),
        "{e:?}"
    );
    let missing = good.certs.dir.join("missing.pem");
    let e = tls_failure(&good.tls_addr(), ssl, TlsSettings::new().ca_file(&missing));
    assert!(
        matches!(&e, Error::Config(m) if m.contains("missing.pem")),
        "{e:?}"
    );

    for (server, want) in [
        (
            (|c: &Certs| c.wrong_host.clone()) as fn(&Certs) -> Pair,
            TlsError::HostnameMismatch,
        ),
        (|c: &Certs| c.expired.clone(), TlsError::Expired),
        (|c: &Certs| c.untrusted.clone(), TlsError::UnknownIssuer),
    ] {
        let Some(bad) = Setup::start(server, ClientAuth::None) else {
            return;
        };
        let e = tls_failure(&bad.tls_addr(), ssl, bad.trusted());
        assert_tls(&e, &want);
    }

    // Hostname verification off: the wrong name passes, an unknown issuer still does not.
    let Some(wrong) = Setup::start(|c| c.wrong_host.clone(), ClientAuth::None) else {
        return;
    };
    let lenient = wrong.trusted().danger_skip_hostname_verification();
    let built = smol::block_on(
        consumer(&wrong.tls_addr())
            .security_protocol(ssl)
            .tls(lenient)
            .build_ready(WAIT),
    );
    if let Err(e) = built {
        wrong.fail("hostname verification off", e);
    }
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let Some(setup) = Setup::start(|c| c.server.clone(), ClientAuth::Required) else {
        return;
    };
    let ssl = SecurityProtocol::Ssl;
    let e = tls_failure(&setup.tls_addr(), ssl, setup.trusted());
    assert!(
        matches!(
            &e,
            Error::Tls { .. } | Error::Io { .. } | Error::Closed { .. }
        ),
        "{e:?}"
    );
    let run = async {
        let topic = unique("mtls");
        create_topic(&setup.broker.addr().to_string(), &topic, 1).await?;
        let with_cert = setup
            .trusted()
            .client_certificate_files(&setup.certs.client.cert, &setup.certs.client.key);
        let producer = Producer::builder()
            .bootstrap_servers(setup.tls_addr())
            .security_protocol(ssl)
            .tls(with_cert.clone())
            .build()
            .await?;
        producer
            .send(
                ProducerRecord::new(topic.as_str())
                    .partition(0)
                    .value("signed"),
            )
            .await?;
        producer.close().await?;
        let reader = consumer(&setup.tls_addr())
            .security_protocol(ssl)
            .tls(with_cert)
            .build()
            .await?;
        reader.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let got = values(&reader).await?;
        reader.close().await?;
        check!(got == ["signed"], "read {got:?}");
        Result::Ok(())
    };
    if let Err(e) = smol::block_on(run) {
        setup.fail("mTLS with the client certificate", e);
    }
}

/// SASL_SSL: SCRAM-SHA-512 over TLS, to tansu with authentication on behind the terminator.
#[test]
fn scram_over_tls_to_an_authenticating_broker() {
    let certs = Certs::make();
    let port = tunnel_port();
    let Some(broker) = Broker::start_authenticating(
        dekaf_tests::broker::temp_dir("sasl-ssl"),
        &[("carol", "carol-secret")],
        Some(port),
    ) else {
        return;
    };
    let Some(tunnel) = Stunnel::start(&certs, &certs.server, port, broker.addr(), ClientAuth::None)
    else {
        return;
    };
    let sasl = dekaf_smol::SaslSettings::scram_sha512("carol", "carol-secret");
    let tls = TlsSettings::new().ca_file(&certs.ca);
    let bootstrap = tunnel.addr().to_string();
    let run = async {
        let topic = unique("sasl-ssl");
        let admin = dekaf_smol::Admin::connect_with(
            dekaf_smol::Config::new([bootstrap.as_str()])
                .security_protocol(SecurityProtocol::SaslSsl)
                .tls(tls.clone())
                .sasl(sasl.clone()),
        )
        .await?;
        admin
            .create_topic(dekaf_smol::NewTopic::new(topic.as_str(), 1).replication_factor(1))
            .await?;
        let producer = Producer::builder()
            .bootstrap_servers(&bootstrap)
            .security_protocol(SecurityProtocol::SaslSsl)
            .tls(tls.clone())
            .sasl(sasl.clone())
            .build()
            .await?;
        producer
            .send(
                ProducerRecord::new(topic.as_str())
                    .partition(0)
                    .value("secret"),
            )
            .await?;
        producer.close().await?;
        let reader = consumer(&bootstrap)
            .security_protocol(SecurityProtocol::SaslSsl)
            .tls(tls.clone())
            .sasl(sasl.clone())
            .build()
            .await?;
        reader.assign([TopicPartition::new(topic.as_str(), 0)])?;
        let got = values(&reader).await?;
        reader.close().await?;
        check!(got == ["secret"], "read {got:?}");
        // A wrong password over TLS: refused, typed.
        let refused = consumer(&bootstrap)
            .security_protocol(SecurityProtocol::SaslSsl)
            .tls(tls)
            .sasl(dekaf_smol::SaslSettings::scram_sha512("carol", "wrong"))
            .build_ready(Duration::from_secs(30))
            .await;
        check!(
            matches!(&refused, Err(e) if e.is_auth()),
            "wrong password over TLS: {:?}",
            refused.err()
        );
        Result::Ok(())
    };
    if let Err(e) = smol::block_on(run) {
        panic!(
            "SASL_SSL: {e}\n--- stunnel ---\n{}\n--- broker ---\n{}",
            tunnel.log(),
            broker.log()
        );
    }
}

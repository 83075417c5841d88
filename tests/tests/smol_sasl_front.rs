//! dekaf-smol's SASL against an independent server implementation: a front (the Python
//! script `tests/scripts/sasl_front.py`, SCRAM by the `scramp` package) that authenticates
//! clients and forwards the rest to tansu. PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 work; a
//! tampered server signature, a server nonce that does not extend the client's and a low
//! iteration count fail with typed errors; with a session lifetime of a few seconds a
//! consumer and a producer keep working across several re-authentications without one
//! connection closed for an expired session (KIP-368).

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{read_to_end, unique};
use dekaf_smol::{
    Admin, AutoOffsetReset, Config, Consumer, Error, NewTopic, OffsetCommitMode, Producer,
    ProducerRecord, SaslError, SaslSettings, SecurityProtocol, TopicPartition,
};
use dekaf_state::sasl::ServerMessageError;
use dekaf_tests::broker::{free_port, temp_dir};
use dekaf_tests::{Broker, Build, Engine};

type Result<T = ()> = common::Result<T>;

const USER: &str = "bob";
const PASSWORD: &str = "bob-secret-51c2";
const SASL: SecurityProtocol = SecurityProtocol::SaslPlaintext;

/// The front and the broker behind it.
struct Front {
    child: Child,
    addr: SocketAddr,
    stats: PathBuf,
    broker: Broker,
}

impl Front {
    /// `None` (after printing why) when python3 with scramp is missing outside CI.
    fn start(lifetime_ms: u64, tamper: Option<&str>) -> Option<Front> {
        let found = Command::new("python3")
            .args(["-c", "import scramp"])
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            if std::env::var_os("CI").is_some() {
                panic!("the scramp package is not installed: run `cargo xtask install`");
            }
            println!("skipped: python3 with scramp not found");
            return None;
        }
        let addr = free_port().expect("a free port");
        let broker = Broker::start_advertising(Build::W, Engine::Memory, addr)?;
        let stats = temp_dir("sasl-front").join("stats.json");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/sasl_front.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .arg(addr.port().to_string())
            .arg(broker.addr().to_string())
            .args([USER, PASSWORD])
            .arg(lifetime_ms.to_string())
            .arg(&stats)
            .args(tamper)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start the SASL front");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the front");
        assert_eq!(line.trim(), "ready", "the SASL front did not start");
        Some(Front {
            child,
            addr,
            stats,
            broker,
        })
    }

    fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The front's counters: connections, authenticated, reauthenticated, refused, expired.
    fn stats(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(&self.stats).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    fn count(&self, what: &str) -> u64 {
        self.stats()[what].as_u64().unwrap_or(0)
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
    let Some(front) = Front::start(0, None) else {
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
                .build()
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
        panic!("{e}\n--- broker ---\n{}", front.broker.log());
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
        let Some(front) = Front::start(0, Some(tamper)) else {
            return;
        };
        let built =
            smol::block_on(consumer(&front, SaslSettings::scram_sha256(USER, PASSWORD)).build());
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

#[test]
fn sessions_are_reauthenticated_before_they_expire_without_failing_a_request() {
    let lifetime = Duration::from_secs(3);
    let Some(front) = Front::start(lifetime.as_millis() as u64, None) else {
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
        reader.assign([TopicPartition::new(topic.as_str(), 0)])?;
        // Once a record went through both clients, every connection they need is open.
        producer
            .send(ProducerRecord::new(topic.as_str()).partition(0).value("0"))
            .await?;
        let mut read = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while read.is_empty() {
            check!(Instant::now() < deadline, "the first record was not read");
            read.extend(common::recv_for(&reader, 100, Duration::from_millis(100)).await?);
        }
        let connections = front.count("connections");
        let reauthenticated = front.count("reauthenticated");
        let started = Instant::now();
        let mut sent = 1;
        // Long enough for each connection's session to be renewed at least twice.
        while started.elapsed() < lifetime * 3 {
            producer
                .send(
                    ProducerRecord::new(topic.as_str())
                        .partition(0)
                        .value(format!("{sent}")),
                )
                .await?;
            sent += 1;
            read.extend(common::recv_for(&reader, 100, Duration::from_millis(100)).await?);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while read.len() < sent {
            check!(
                Instant::now() < deadline,
                "read {} of {sent} records",
                read.len()
            );
            read.extend(common::recv_for(&reader, 1000, Duration::from_millis(100)).await?);
        }
        let values: Vec<String> = read
            .iter()
            .map(|r| String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned())
            .collect();
        let want: Vec<String> = (0..sent).map(|i| i.to_string()).collect();
        check!(
            values == want,
            "read {} records out of order or twice",
            values.len()
        );
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
        panic!("{e}\n--- broker ---\n{}", front.broker.log());
    }
}

//! No password, token or private key reaches a log line, an error message or the `Debug` form
//! of a setting. Every event dekaf writes through `tracing` (at TRACE, with its spans) and
//! every line rustls writes through `log` is captured while clients authenticate for real:
//! SCRAM-SHA-512 over mutual TLS to tansu with authentication on (the client's private key
//! given as PEM bytes), a wrong password there, a damaged private key, PLAIN and OAUTHBEARER
//! (an accepted token and a refused one) through the independent SASL front. Then the `Debug`
//! of every setting and the `Display` and `Debug` of every error are added, and the whole text
//! is searched for each secret: whole, in the forms a careless `Debug` would print it, and
//! the private key's PEM lines and raw bytes.
//!
//! One test in its own binary: the capture is the process-wide default subscriber and logger.

#[macro_use]
#[allow(unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/common/mod.rs"]
mod common;

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use common::{read_to_end, unique};
use dekaf_smol::transport::Tls;
use dekaf_smol::{
    Admin, AutoOffsetReset, Config, Consumer, Error, NewTopic, OAuthToken, OffsetCommitMode,
    Producer, ProducerRecord, SaslConfig, SaslSettings, Secret, SecurityProtocol, TlsSettings,
    TopicPartition,
};
use dekaf_state::sasl::{scram_nonce, unsecured_jwt, SaslClient};
use dekaf_tests::broker::temp_dir;
use dekaf_tests::sasl_front::SaslFront;
use dekaf_tests::tls::{tunnel_port, Certs, ClientAuth, Stunnel};
use dekaf_tests::Broker;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata};

type Result<T = ()> = common::Result<T>;

const USER: &str = "dora";
const PASSWORD: &str = "dora-pass-7Qm2xZ9wLk";
const WRONG_PASSWORD: &str = "not-doras-pass-4Hf8";

/// Everything logged, by `tracing` and by `log`.
static LOGGED: Mutex<String> = Mutex::new(String::new());

fn append(line: &str) {
    let mut logged = LOGGED.lock().unwrap_or_else(|e| e.into_inner());
    logged.push_str(line);
    logged.push('\n');
}

fn logged() -> String {
    LOGGED.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A `tracing` subscriber that takes every span and event at every level and writes all their
/// fields, as a formatting subscriber would.
struct Capture {
    spans: AtomicU64,
}

/// Writes each field as `name=value`: `Debug` for values recorded as such (and `Display`
/// values, whose `Debug` is their `Display`), the text itself for strings.
struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let _ = write!(self.0, " {}={value} ({value:?})", field.name());
    }
}

impl tracing::Subscriber for Capture {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::TRACE)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let meta = span.metadata();
        let mut line = format!("span {} {} {}:", meta.level(), meta.target(), meta.name());
        span.record(&mut Fields(&mut line));
        append(&line);
        Id::from_u64(self.spans.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut line = format!("span {}:", span.into_u64());
        values.record(&mut Fields(&mut line));
        append(&line);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut line = format!("{} {}:", meta.level(), meta.target());
        event.record(&mut Fields(&mut line));
        append(&line);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// rustls logs through `log`.
struct Logger;

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        append(&format!(
            "{} {}: {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }

    fn flush(&self) {}
}

fn install_capture() {
    tracing::subscriber::set_global_default(Capture {
        spans: AtomicU64::new(0),
    })
    .expect("the only subscriber of this test binary");
    static LOGGER: Logger = Logger;
    log::set_logger(&LOGGER).expect("the only logger of this test binary");
    log::set_max_level(log::LevelFilter::Trace);
}

/// What must never be printed, each with the forms it could be printed in.
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn new() -> Secrets {
        Secrets(Vec::new())
    }

    /// `text` as it is, as a `Debug` string would escape it, and its bytes as a `Debug` of
    /// `Vec<u8>` or `Bytes` would print them.
    fn add(&mut self, what: &str, text: &str) {
        self.0.push((what.into(), text.into()));
        self.0
            .push((format!("{what} (Debug)"), format!("{text:?}")));
        self.add_bytes(what, text.as_bytes());
    }

    /// Raw bytes: as a `Debug` list of numbers, and in hex.
    fn add_bytes(&mut self, what: &str, bytes: &[u8]) {
        let window = &bytes[..bytes.len().min(12)];
        let list = format!("{window:?}");
        let list = list.trim_start_matches('[').trim_end_matches(']');
        self.0.push((format!("{what} (bytes)"), list.to_string()));
        let hex: String = window.iter().map(|b| format!("{b:02x}")).collect();
        self.0.push((format!("{what} (hex)"), hex.clone()));
        self.0
            .push((format!("{what} (HEX)"), hex.to_ascii_uppercase()));
    }

    /// A PEM private key: each line of its body (as text and as bytes), and the secret scalar
    /// of a PKCS#8 EC key.
    fn add_private_key(&mut self, what: &str, pem: &str) {
        let body: Vec<&str> = pem
            .lines()
            .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
            .collect();
        for (i, line) in body.iter().enumerate() {
            let name = format!("{what} (PEM line {})", i + 1);
            self.0.push((name.clone(), line.to_string()));
            // The PEM text itself as bytes, as a `Debug` of `Vec<u8>` prints it.
            self.add_bytes(&name, line.as_bytes());
        }
        self.0.push((format!("{what} (PEM body)"), body.concat()));
        let der = base64_decode(&body.concat());
        // ECPrivateKey: version 1, then the private key as an OCTET STRING of 32 bytes.
        let scalar = der
            .windows(5)
            .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
            .map(|at| &der[at + 5..at + 37])
            .expect("a PKCS#8 EC private key");
        self.add_bytes(&format!("{what} (private scalar)"), scalar);
    }

    /// Every secret found in `text`, by name.
    fn found_in(&self, text: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(_, needle)| text.contains(needle.as_str()))
            .map(|(what, _)| what.as_str())
            .collect()
    }
}

/// Standard base64, as PEM bodies are written.
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else {
            continue;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// What the clients printed besides the logs: `Debug` of settings, `Display` and `Debug` of
/// errors.
#[derive(Default)]
struct Printed(String);

impl Printed {
    fn debug(&mut self, value: &dyn fmt::Debug) {
        let _ = writeln!(self.0, "{value:?}");
        let _ = writeln!(self.0, "{value:#?}");
    }

    fn error(&mut self, e: &Error) {
        let _ = writeln!(self.0, "{e}");
        let _ = writeln!(self.0, "{e:?}");
        let _ = writeln!(self.0, "{e:#?}");
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            let _ = writeln!(self.0, "{s}");
            source = s.source();
        }
    }
}

fn consumer(bootstrap: &str) -> dekaf_smol::ConsumerBuilder {
    Consumer::builder()
        .bootstrap_servers(bootstrap)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
}

/// SCRAM-SHA-512 over mutual TLS: a topic made, a record written and read; then a wrong
/// password, and a damaged private key.
async fn scram_over_mtls(
    bootstrap: &str,
    tls: &TlsSettings,
    damaged: &TlsSettings,
    printed: &mut Printed,
) -> Result {
    let sasl = SaslSettings::scram_sha512(USER, PASSWORD);
    let config = Config::new([bootstrap])
        .security_protocol(SecurityProtocol::SaslSsl)
        .tls(tls.clone())
        .sasl(sasl.clone());
    printed.debug(&config);
    let admin = Admin::connect_with(config).await?;
    let topic = unique("secrets");
    admin
        .create_topic(NewTopic::new(topic.as_str(), 1).replication_factor(1))
        .await?;
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .security_protocol(SecurityProtocol::SaslSsl)
        .tls(tls.clone())
        .sasl(sasl.clone());
    printed.debug(&producer);
    let producer = producer.build().await?;
    producer
        .send(ProducerRecord::new(topic.as_str()).partition(0).value("v"))
        .await?;
    producer.close().await?;
    let reader = consumer(bootstrap)
        .security_protocol(SecurityProtocol::SaslSsl)
        .tls(tls.clone())
        .sasl(sasl.clone());
    printed.debug(&reader);
    let reader = reader.build().await?;
    reader.assign([TopicPartition::new(topic.as_str(), 0)])?;
    let n = read_to_end(&reader, Duration::from_secs(30)).await?.len();
    reader.close().await?;
    check!(n == 1, "read {n} records, not 1");

    let wrong = consumer(bootstrap)
        .security_protocol(SecurityProtocol::SaslSsl)
        .tls(tls.clone())
        .sasl(SaslSettings::scram_sha512(USER, WRONG_PASSWORD));
    printed.debug(&wrong);
    // `build` does not contact the cluster: the refusal comes out of `recv`.
    let wrong = wrong.build().await?;
    wrong.assign([TopicPartition::new(topic.as_str(), 0)])?;
    let e = smol::future::or(async { wrong.recv().await.err() }, async {
        smol::Timer::after(Duration::from_secs(30)).await;
        None
    })
    .await
    .ok_or("a wrong password was accepted")?;
    check!(e.is_auth(), "wrong password: {e:?}");
    printed.error(&e);

    let damaged = consumer(bootstrap)
        .security_protocol(SecurityProtocol::SaslSsl)
        .tls(damaged.clone())
        .sasl(sasl);
    let e = match damaged.build().await {
        Err(e) => e,
        Ok(c) => c
            .ready(Duration::from_secs(30))
            .await
            .err()
            .ok_or("a damaged private key was accepted")?,
    };
    printed.error(&e);
    Ok(())
}

/// PLAIN, then OAUTHBEARER with an accepted token and a refused one, through the front.
async fn through_the_front(
    front: &SaslFront,
    token: &str,
    refused_token: &str,
    printed: &mut Printed,
) -> Result {
    let topic = unique("secrets-front");
    let plain = SaslSettings::plain(USER, PASSWORD);
    printed.debug(&plain);
    let admin = Admin::connect_with(
        Config::new([front.bootstrap()])
            .security_protocol(SecurityProtocol::SaslPlaintext)
            .sasl(plain.clone()),
    )
    .await?;
    admin
        .create_topic(NewTopic::new(topic.as_str(), 1).replication_factor(1))
        .await?;
    let producer = |sasl: SaslSettings| {
        Producer::builder()
            .bootstrap_servers(front.bootstrap())
            .security_protocol(SecurityProtocol::SaslPlaintext)
            .sasl(sasl)
    };
    let p = producer(plain).build().await?;
    p.send(
        ProducerRecord::new(topic.as_str())
            .partition(0)
            .value("plain"),
    )
    .await?;
    p.close().await?;

    let token = token.to_string();
    let oauth = SaslSettings::oauthbearer(move || {
        Ok(OAuthToken::new(token.clone(), Duration::from_secs(3600)))
    });
    printed.debug(&oauth);
    let p = producer(oauth).build().await?;
    p.send(
        ProducerRecord::new(topic.as_str())
            .partition(0)
            .value("oauth"),
    )
    .await?;
    p.close().await?;

    let refused_token = refused_token.to_string();
    let refused = SaslSettings::oauthbearer(move || {
        Ok(OAuthToken::new(
            refused_token.clone(),
            Duration::from_secs(3600),
        ))
    });
    let e = producer(refused)
        .build()
        .await?
        .ready(Duration::from_secs(30))
        .await
        .err()
        .ok_or("a refused token was accepted")?;
    check!(e.is_auth(), "refused token: {e:?}");
    printed.error(&e);
    Ok(())
}

#[test]
fn no_secret_reaches_a_log_line_an_error_or_a_debug_form() {
    install_capture();
    let certs = Certs::make();
    let cert_pem = std::fs::read_to_string(&certs.client.cert).expect("client certificate");
    let key_pem = std::fs::read_to_string(&certs.client.key).expect("client key");
    let now = SystemTime::now();
    let token = unsecured_jwt(USER, now, Duration::from_secs(3600), &["secrets"]);
    let refused_token = unsecured_jwt("mallory", now, Duration::from_secs(3600), &["secrets"]);

    let mut secrets = Secrets::new();
    secrets.add("the password", PASSWORD);
    secrets.add("the wrong password", WRONG_PASSWORD);
    for (what, t) in [("the token", &token), ("the refused token", &refused_token)] {
        secrets.add(what, t);
        // The claims alone (sub, exp) identify the token as well as the whole.
        let claims = t.split('.').nth(1).expect("a JWT");
        secrets.add(&format!("{what}'s claims"), claims);
    }
    secrets.add_private_key("the client's private key", &key_pem);
    // The search finds what it looks for.
    for probe in [
        format!("x{PASSWORD}x"),
        format!("{:?}", token.as_bytes()),
        key_pem.clone(),
    ] {
        assert!(
            !secrets.found_in(&probe).is_empty(),
            "the search misses {probe}"
        );
    }

    let tls = TlsSettings::new()
        .ca_file(&certs.ca)
        .client_certificate_pem(cert_pem.clone(), key_pem.clone());
    // The key's last body line dropped: a key that does not parse.
    let mut lines: Vec<&str> = key_pem.lines().collect();
    let end = lines.len() - 1;
    lines.remove(end - 1);
    let damaged_key = lines.join("\n");
    let damaged = TlsSettings::new()
        .ca_file(&certs.ca)
        .client_certificate_pem(cert_pem, damaged_key);

    let mut printed = Printed::default();
    let port = tunnel_port();
    let Some(broker) =
        Broker::start_authenticating(temp_dir("secrets"), &[(USER, PASSWORD)], Some(port))
    else {
        return;
    };
    let Some(tunnel) = Stunnel::start(
        &certs,
        &certs.server,
        port,
        broker.addr(),
        ClientAuth::Required,
    ) else {
        return;
    };
    let bootstrap = tunnel.addr().to_string();
    if let Err(e) = smol::block_on(scram_over_mtls(&bootstrap, &tls, &damaged, &mut printed)) {
        panic!(
            "SCRAM over mTLS: {e}\n--- stunnel ---\n{}\n--- broker ---\n{}",
            tunnel.log(),
            broker.log()
        );
    }
    drop(tunnel);
    drop(broker);

    let Some(front) = SaslFront::start(USER, PASSWORD, 0, None) else {
        return;
    };
    if let Err(e) = smol::block_on(through_the_front(
        &front,
        &token,
        &refused_token,
        &mut printed,
    )) {
        panic!(
            "through the front: {e}\n--- broker ---\n{}",
            front.broker().log()
        );
    }
    let accepted = front.tokens();
    assert!(
        !accepted.is_empty() && accepted.iter().all(|t| *t == token),
        "{}",
        front.stats()
    );

    // Every setting that holds a secret, in every form it comes in.
    printed.debug(&Secret::new(PASSWORD));
    printed.debug(&OAuthToken::new(token.as_str(), Duration::from_secs(60)));
    for sasl in [
        SaslSettings::plain(USER, PASSWORD),
        SaslSettings::scram_sha256(USER, PASSWORD),
        SaslSettings::scram_sha512(USER, PASSWORD),
        SaslSettings::from_config(
            SaslConfig::oauthbearer(token.as_str()).extension("traceId", "1"),
        ),
    ] {
        printed.debug(&sasl);
    }
    printed.debug(&SaslConfig::scram_sha512(USER, PASSWORD));
    // The SASL machines, holding the credentials, before and after their first request.
    for config in [
        SaslConfig::plain(USER, PASSWORD),
        SaslConfig::scram_sha512(USER, PASSWORD),
        SaslConfig::oauthbearer(token.as_str()),
    ] {
        let mut machine = SaslClient::new(config, scram_nonce(&[7; 24]));
        printed.debug(&machine);
        let _ = machine.poll_request();
        printed.debug(&machine);
    }
    printed.debug(&tls);
    printed
        .debug(&TlsSettings::new().client_certificate_files(&certs.client.cert, &certs.client.key));
    match Tls::new(&tls) {
        Ok(transport) => printed.debug(&transport),
        Err(e) => panic!("TLS settings with the client key: {e}"),
    }
    match Tls::new(&damaged) {
        Ok(_) => panic!("a damaged private key was accepted"),
        Err(e) => printed.error(&e),
    }

    let logs = logged();
    for wanted in [
        "mechanism=SCRAM-SHA-512",
        "mechanism=PLAIN",
        "mechanism=OAUTHBEARER",
    ] {
        assert!(logs.contains(wanted), "no log line names {wanted}:\n{logs}");
    }
    assert!(
        logs.lines().any(|l| l.contains(" rustls")),
        "rustls logged nothing: its `log` output is not captured:\n{logs}"
    );
    let all = format!("{logs}\n{}", printed.0);
    let leaks = secrets.found_in(&all);
    assert!(
        leaks.is_empty(),
        "secrets in the output: {leaks:?}\n--- logs ---\n{logs}\n--- printed ---\n{}",
        printed.0
    );
    println!(
        "{} log lines and {} printed lines searched for {} secret forms",
        logs.lines().count(),
        printed.0.lines().count(),
        secrets.0.len()
    );
}

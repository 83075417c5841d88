//! A secured cluster: SASL_SSL with SCRAM-SHA-512, the brokers' certificates signed by a
//! certificate authority of your own. Creates a topic, writes five records and reads them
//! back over TLS as an authenticated user, then shows that a wrong password is refused with
//! a typed error, at once.
//!
//! ```text
//! DEKAF_BOOTSTRAP=kafka-1.internal:9096 DEKAF_CA=/etc/kafka/ca.pem DEKAF_USER=alice \
//!   DEKAF_PASSWORD=alice-secret cargo run -p dekaf-smol --example secure
//! ```
//!
//! The bootstrap address, the CA file and the user can also be the arguments, in that order
//! (`cargo run -p dekaf-smol --example secure -- HOST:PORT CA.pem USER`); the password comes
//! from `DEKAF_PASSWORD` only, so that it shows in no process list. `DEKAF_MECHANISM` picks
//! another mechanism: `SCRAM-SHA-256` or `PLAIN`. (`cargo xtask demo` runs it against tansu
//! with authentication on, behind stunnel.)

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use common::{read_to_end, unique, Result, PATIENCE};
use dekaf_smol::{
    Admin, AutoOffsetReset, Config, Consumer, NewTopic, OffsetCommitMode, Producer, ProducerRecord,
    SaslSettings, Secret, SecurityProtocol, TlsSettings, TopicPartition,
};

/// Where the cluster is and who connects.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// `host:port` of a broker's SASL_SSL listener.
    pub bootstrap: String,
    /// The PEM file of the certificate authority that signed the brokers' certificates.
    pub ca: PathBuf,
    /// The SASL user.
    pub user: String,
    /// Its password (prints as `***`).
    pub password: Secret,
    /// `SCRAM-SHA-512` (the default), `SCRAM-SHA-256` or `PLAIN`.
    pub mechanism: String,
}

impl Cluster {
    /// From the arguments and `DEKAF_*` variables.
    fn from_env() -> std::result::Result<Cluster, String> {
        let mut args = std::env::args().skip(1);
        let mut setting = |var: &str| {
            args.next()
                .or_else(|| std::env::var(var).ok())
                .ok_or(format!(
                    "{var} is not set (see the example's documentation)"
                ))
        };
        Ok(Cluster {
            bootstrap: setting("DEKAF_BOOTSTRAP")?,
            ca: setting("DEKAF_CA")?.into(),
            user: setting("DEKAF_USER")?,
            password: std::env::var("DEKAF_PASSWORD")
                .map_err(|_| "DEKAF_PASSWORD is not set".to_string())?
                .into(),
            mechanism: std::env::var("DEKAF_MECHANISM").unwrap_or_else(|_| "SCRAM-SHA-512".into()),
        })
    }

    /// The SASL settings for `password`.
    fn sasl(&self, password: Secret) -> std::result::Result<SaslSettings, String> {
        let user = self.user.as_str();
        match self.mechanism.as_str() {
            "SCRAM-SHA-512" => Ok(SaslSettings::scram_sha512(user, password)),
            "SCRAM-SHA-256" => Ok(SaslSettings::scram_sha256(user, password)),
            "PLAIN" => Ok(SaslSettings::plain(user, password)),
            other => Err(format!("unknown SASL mechanism {other}")),
        }
    }

    /// TLS trusting the cluster's own certificate authority.
    fn tls(&self) -> TlsSettings {
        TlsSettings::new().ca_file(&self.ca)
    }
}

fn main() -> ExitCode {
    common::init_logging();
    let cluster = match Cluster::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("secure: {e}");
            return ExitCode::FAILURE;
        }
    };
    match smol::block_on(run(cluster)) {
        Ok(()) => {
            println!("secure: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("secure: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A consumer of the cluster, authenticating with `sasl`.
fn consumer(cluster: &Cluster, sasl: SaslSettings) -> dekaf_smol::ConsumerBuilder {
    Consumer::builder()
        .bootstrap_servers(&cluster.bootstrap)
        .security_protocol(SecurityProtocol::SaslSsl)
        .tls(cluster.tls())
        .sasl(sasl)
}

/// Runs the example against `cluster`.
pub async fn run(cluster: Cluster) -> Result {
    let sasl = cluster.sasl(cluster.password.clone())?;
    println!(
        "secure: {} to {} as {} ({}), trusting the CA in {}",
        SecurityProtocol::SaslSsl,
        cluster.bootstrap,
        cluster.user,
        cluster.mechanism,
        cluster.ca.display()
    );

    let admin = Admin::connect_with(
        Config::new([cluster.bootstrap.as_str()])
            .security_protocol(SecurityProtocol::SaslSsl)
            .tls(cluster.tls())
            .sasl(sasl.clone()),
    )
    .await?;
    let topic = unique("secure");
    admin
        .create_topic(NewTopic::new(topic.as_str(), 1).replication_factor(1))
        .await?;
    println!("  admin: created topic {topic}");

    let producer = Producer::builder()
        .bootstrap_servers(&cluster.bootstrap)
        .security_protocol(SecurityProtocol::SaslSsl)
        .tls(cluster.tls())
        .sasl(sasl.clone())
        .build()
        .await?;
    for i in 0..5 {
        let written = producer
            .send(
                ProducerRecord::new(topic.as_str())
                    .partition(0)
                    .value(format!("secret message {i}")),
            )
            .await?;
        check!(
            written.offset() == Some(i),
            "record {i} was written at offset {:?}",
            written.offset()
        );
    }
    producer.close().await?;
    println!("  producer: wrote 5 records at offsets 0..=4");

    let reader = consumer(&cluster, sasl)
        .offset_commit_mode(OffsetCommitMode::Manual)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .await?;
    reader.assign([TopicPartition::new(topic.as_str(), 0)])?;
    let read = read_to_end(&reader, PATIENCE).await?;
    reader.close().await?;
    let values: Vec<String> = read
        .iter()
        .map(|r| String::from_utf8_lossy(r.value().unwrap_or_default()).into_owned())
        .collect();
    let want: Vec<String> = (0..5).map(|i| format!("secret message {i}")).collect();
    check!(values == want, "read {values:?}");
    println!(
        "  consumer: read them back: {:?} .. {:?}",
        values[0], values[4]
    );

    // The same settings with a wrong password: `build` does not contact the cluster, and
    // `ready` fails at once, with a typed error that says it is about credentials, and that
    // trying again will not help.
    let wrong = cluster.sasl(Secret::new("not-the-password"))?;
    let refused = consumer(&cluster, wrong).build().await?;
    let Err(e) = refused.ready(PATIENCE).await else {
        return Err("a wrong password was accepted".into());
    };
    check!(
        e.is_auth() && !e.is_retriable(),
        "a wrong password gave another error: {e}"
    );
    println!("  a wrong password is refused: {e}");
    Ok(())
}

//! The connection settings every command shares, from the command line and the environment.

use std::time::Duration;

use dekaf_smol::{
    Admin, AdminBuilder, Config, ConsumerBuilder, ProducerBuilder, SaslSettings, SecurityProtocol,
    TlsSettings,
};

use crate::cli::{Connection, Protocol, SaslMechanism};
use crate::Failure;

/// Where the SASL password comes from: never the command line, where other users of the
/// machine could read it.
pub const PASSWORD_VAR: &str = "DEKAF_SASL_PASSWORD";

/// The settings a client is built with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The bootstrap servers, comma-separated.
    pub bootstrap: String,
    /// The client id.
    pub client_id: String,
    /// The request timeout.
    pub timeout: Duration,
    /// The security protocol.
    pub protocol: SecurityProtocol,
    /// TLS, used by SSL and SASL_SSL.
    pub tls: TlsSettings,
    /// SASL, used by SASL_PLAINTEXT and SASL_SSL.
    pub sasl: Option<SaslSettings>,
}

impl Settings {
    /// Reads the settings; fails when SASL is asked for without what it needs.
    pub fn from_args(c: &Connection) -> Result<Settings, Failure> {
        let protocol = match c.security_protocol {
            Protocol::Plaintext => SecurityProtocol::Plaintext,
            Protocol::Ssl => SecurityProtocol::Ssl,
            Protocol::SaslPlaintext => SecurityProtocol::SaslPlaintext,
            Protocol::SaslSsl => SecurityProtocol::SaslSsl,
        };
        let mut tls = TlsSettings::new();
        if let Some(ca) = &c.ssl_ca_file {
            tls = tls.ca_file(ca);
        }
        if let (Some(cert), Some(key)) = (&c.ssl_cert_file, &c.ssl_key_file) {
            tls = tls.client_certificate_files(cert, key);
        }
        let sasl = if protocol.uses_sasl() {
            let mechanism = c.sasl_mechanism.ok_or_else(|| {
                Failure::Usage(format!(
                    "{} needs --sasl-mechanism (or DEKAF_SASL_MECHANISM)",
                    protocol
                ))
            })?;
            let user = c.sasl_username.clone().ok_or_else(|| {
                Failure::Usage("SASL needs --sasl-username (or DEKAF_SASL_USERNAME)".into())
            })?;
            let password = std::env::var(PASSWORD_VAR).map_err(|_| {
                Failure::Usage(format!("SASL needs the password in {PASSWORD_VAR}"))
            })?;
            Some(match mechanism {
                SaslMechanism::Plain => SaslSettings::plain(user, password),
                SaslMechanism::ScramSha256 => SaslSettings::scram_sha256(user, password),
                SaslMechanism::ScramSha512 => SaslSettings::scram_sha512(user, password),
            })
        } else {
            None
        };
        Ok(Settings {
            bootstrap: c.bootstrap_server.clone(),
            client_id: c.client_id.clone(),
            timeout: Duration::from_secs(c.timeout.max(1)),
            protocol,
            tls,
            sasl,
        })
    }

    /// Connects an admin client.
    pub async fn admin(&self) -> Result<Admin, Failure> {
        let mut config = Config::new(
            self.bootstrap
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty()),
        )
        .client_id(Some(self.client_id.clone()))
        .request_timeout(self.timeout)
        .connect_timeout(self.timeout.min(Duration::from_secs(10)));
        config.security_protocol = self.protocol;
        config.tls = self.tls.clone();
        config.sasl = self.sasl.clone();
        let admin = AdminBuilder::from_config(config).build().await?;
        admin.ready(self.ready_timeout()).await?;
        Ok(admin)
    }

    /// How long a command waits for the cluster to answer before it gives up: a command line
    /// fails at once rather than retrying in the background as a service would.
    pub fn ready_timeout(&self) -> Duration {
        self.timeout.min(Duration::from_secs(10))
    }

    /// A consumer's builder with these settings.
    pub fn consumer(&self) -> ConsumerBuilder {
        let mut b = dekaf_smol::Consumer::builder()
            .bootstrap_servers(&self.bootstrap)
            .client_id(&self.client_id)
            .request_timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .security_protocol(self.protocol)
            .tls(self.tls.clone());
        if let Some(sasl) = &self.sasl {
            b = b.sasl(sasl.clone());
        }
        b
    }

    /// A producer's builder with these settings.
    pub fn producer(&self) -> ProducerBuilder {
        let mut b = dekaf_smol::Producer::builder()
            .bootstrap_servers(&self.bootstrap)
            .client_id(&self.client_id)
            .request_timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .security_protocol(self.protocol)
            .tls(self.tls.clone());
        if let Some(sasl) = &self.sasl {
            b = b.sasl(sasl.clone());
        }
        b
    }
}

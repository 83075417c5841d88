//! Settings of an admin client, checked by `build()`.

use std::sync::Arc;
use std::time::Duration;

use super::machine::{AdminHooks, AdminMachine};
use super::Admin;
use crate::glue::{self, Link};
use crate::{Config, Error, SecurityProtocol, Spawner, TlsSettings, Transport};

/// Builds an [`Admin`]: start from [`Admin::builder`], set what you need, then
/// [`build`](Self::build)`.await`.
///
/// ```no_run
/// use std::time::Duration;
/// use dekaf_smol::Admin;
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let admin = Admin::builder()
///     .bootstrap_servers("localhost:9092")
///     .client_id("ops-tool")
///     .request_timeout(Duration::from_secs(10))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until `build().await`"]
pub struct AdminBuilder {
    connection: Config,
    spawner: Spawner,
}

impl AdminBuilder {
    /// Starts from connection settings made elsewhere (shared with a consumer, say).
    pub fn from_config(config: Config) -> Self {
        AdminBuilder {
            connection: config,
            spawner: Spawner::default(),
        }
    }

    /// The brokers to start from: `host:port`, several separated by commas
    /// (`bootstrap.servers`). Tried in order until one answers.
    pub fn bootstrap_servers(mut self, servers: impl AsRef<str>) -> Self {
        self.connection.bootstrap_servers = servers
            .as_ref()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        self
    }

    /// Sent with every request, for the broker's logs and quotas (`client.id`, default
    /// `dekaf`).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.connection.client_id = Some(client_id.into());
        self
    }

    /// How long a request may wait for its answer (`request.timeout.ms`, default 30 s); also
    /// how long the broker may take to create or delete topics.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.connection.request_timeout = timeout;
        self
    }

    /// The most opening one connection may take, how long `build` waits for the bootstrap
    /// servers' names to resolve, and how long [`Admin::connect`] waits for a broker to
    /// answer (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connection.connect_timeout = timeout;
        self
    }

    /// How to talk to the brokers (`security.protocol`): plaintext (the default), TLS, SASL,
    /// or SASL over TLS.
    pub fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.connection.security_protocol = protocol;
        self
    }

    /// The TLS settings (`ssl.*`), used when the security protocol is `Ssl` or `SaslSsl`.
    pub fn tls(mut self, tls: TlsSettings) -> Self {
        self.connection.tls = tls;
        self
    }

    /// Opens connections with a transport of your own (see [`Transport`]).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.connection = self.connection.transport(transport);
        self
    }

    /// Where the driver runs (default: a thread of its own; see [`Spawner`]).
    pub fn spawner(mut self, spawner: Spawner) -> Self {
        self.spawner = spawner;
        self
    }

    /// Checks the settings and starts the driver, without waiting for the cluster: calls
    /// fail with their own timeouts while no broker is reachable, and work once one answers
    /// ([`Admin::ready`] waits for one). Fails with [`Error::Config`] for invalid settings and
    /// when the name of no bootstrap server resolves.
    pub async fn build(self) -> Result<Admin, Error> {
        self.connection.validate()?;
        let connect_timeout = self.connection.connect_timeout;
        let request_timeout = self.connection.request_timeout;
        let link = Arc::new(Link::new(self.connection.bootstrap_servers.clone()));
        let started = glue::start(
            "dekaf-admin",
            self.connection,
            &self.spawner,
            AdminMachine::default(),
            AdminHooks(link.clone()),
            (),
        )
        .await?;
        let handle = started.handle;
        Ok(Admin {
            handle,
            request_timeout,
            connect_timeout,
            link,
        })
    }
}

//! What the driver needs to know before it opens a connection.

use std::sync::Arc;
use std::time::Duration;

use dekaf_proto::frame::DEFAULT_MAX_FRAME_SIZE;
use dekaf_state::client::BrokerAddress;

use crate::sasl::SaslSettings;
use crate::security::{SecurityProtocol, TlsSettings};
use crate::transport::{Tcp, Tls, Transport};
use crate::Error;

/// Connection settings shared by every client (consumer, producer, admin).
///
/// Defaults follow the Java client where it has the same setting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// `host:port` addresses tried in order until one answers (`bootstrap.servers`).
    pub bootstrap_servers: Vec<String>,
    /// Sent in every request header, for the broker's logs and quotas (`client.id`).
    pub client_id: Option<String>,
    /// How long a request may wait, first for a free slot on its connection and then for its
    /// answer once written (each in turn; `request.timeout.ms`, default 30 s).
    pub request_timeout: Duration,
    /// How long opening a TCP connection may take (`socket.connection.setup.timeout.ms`,
    /// default 10 s). The ApiVersions handshake that follows has the request timeout.
    pub connect_timeout: Duration,
    /// Requests written to one connection before their answers arrive; the rest wait in order
    /// (`max.in.flight.requests.per.connection`, default 5).
    pub max_in_flight_per_connection: usize,
    /// Delay before reconnecting to a broker after a failure (`reconnect.backoff.ms`, default
    /// 50 ms); it doubles with each failed attempt in a row.
    pub reconnect_backoff_min: Duration,
    /// Largest delay between reconnection attempts (`reconnect.backoff.max.ms`, default 1 s).
    pub reconnect_backoff_max: Duration,
    /// Largest response accepted from a broker, in bytes; a larger one closes the connection
    /// (default 100 MiB).
    pub max_frame_size: usize,
    /// How to talk to the brokers (`security.protocol`, default plaintext).
    pub security_protocol: SecurityProtocol,
    /// TLS settings, used by `Ssl` and `SaslSsl`.
    pub tls: TlsSettings,
    /// SASL settings, needed by `SaslPlaintext` and `SaslSsl`.
    pub sasl: Option<SaslSettings>,
    /// A transport of your own, instead of the one the security protocol picks (TLS is then
    /// the transport's business).
    pub transport: Option<CustomTransport>,
}

/// A [`Transport`] of the application's own, as [`Config::transport`] holds it (compared by
/// identity).
#[derive(Clone, Debug)]
pub struct CustomTransport(pub Arc<dyn Transport>);

impl PartialEq for CustomTransport {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CustomTransport {}

impl Default for Config {
    fn default() -> Self {
        Config {
            bootstrap_servers: Vec::new(),
            client_id: Some("dekaf".to_owned()),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_in_flight_per_connection: 5,
            reconnect_backoff_min: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            security_protocol: SecurityProtocol::Plaintext,
            tls: TlsSettings::default(),
            sasl: None,
            transport: None,
        }
    }
}

impl Config {
    /// Default settings with these bootstrap servers (`"host:port"` each).
    pub fn new<I, S>(bootstrap_servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Config {
            bootstrap_servers: bootstrap_servers.into_iter().map(Into::into).collect(),
            ..Config::default()
        }
    }

    /// Sets the client id (`None` sends a null one).
    pub fn client_id(mut self, client_id: Option<String>) -> Self {
        self.client_id = client_id;
        self
    }

    /// Sets the request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how many requests may await their answers on one connection.
    pub fn max_in_flight_per_connection(mut self, max: usize) -> Self {
        self.max_in_flight_per_connection = max;
        self
    }

    /// Sets the smallest and largest reconnection delays.
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.reconnect_backoff_min = min;
        self.reconnect_backoff_max = max;
        self
    }

    /// Sets the largest response accepted, in bytes.
    pub fn max_frame_size(mut self, max: usize) -> Self {
        self.max_frame_size = max;
        self
    }

    /// Sets the security protocol.
    pub fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.security_protocol = protocol;
        self
    }

    /// Sets the TLS settings (used by `Ssl` and `SaslSsl`).
    pub fn tls(mut self, tls: TlsSettings) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the SASL settings (needed by `SaslPlaintext` and `SaslSsl`).
    pub fn sasl(mut self, sasl: SaslSettings) -> Self {
        self.sasl = Some(sasl);
        self
    }

    /// Opens connections with `transport` instead of the one the security protocol picks.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(CustomTransport(transport));
        self
    }

    /// The transport connections are opened with: the custom one, else TLS or TCP as the
    /// security protocol says. Reads the TLS files: a bad one is an [`Error::Config`].
    pub fn open_transport(&self) -> Result<Arc<dyn Transport>, Error> {
        if let Some(custom) = &self.transport {
            return Ok(custom.0.clone());
        }
        if self.security_protocol.uses_tls() {
            Ok(Arc::new(Tls::new(&self.tls)?))
        } else {
            Ok(Arc::new(Tcp))
        }
    }

    /// Checks the settings and parses the bootstrap addresses.
    pub fn validate(&self) -> Result<Vec<BrokerAddress>, Error> {
        if self.bootstrap_servers.is_empty() {
            return Err(Error::Config("no bootstrap servers".into()));
        }
        if self.max_in_flight_per_connection == 0 {
            return Err(Error::Config(
                "max_in_flight_per_connection must be at least 1".into(),
            ));
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be positive".into()));
        }
        if self.reconnect_backoff_min > self.reconnect_backoff_max {
            return Err(Error::Config(
                "reconnect_backoff_min is larger than reconnect_backoff_max".into(),
            ));
        }
        match (&self.sasl, self.security_protocol.uses_sasl()) {
            (None, true) => {
                return Err(Error::Config(format!(
                    "security protocol {} needs SASL settings",
                    self.security_protocol
                )))
            }
            (Some(_), false) => {
                return Err(Error::Config(format!(
                    "SASL settings are given but the security protocol is {}: use SaslPlaintext \
                     or SaslSsl",
                    self.security_protocol
                )))
            }
            (Some(sasl), true) => sasl.check()?,
            (None, false) => {}
        }
        // Kafka's own responses need a few bytes; anything smaller cannot work.
        if self.max_frame_size < 64 || self.max_frame_size > i32::MAX as usize {
            return Err(Error::Config(format!(
                "max_frame_size {} is outside 64..={}",
                self.max_frame_size,
                i32::MAX
            )));
        }
        self.bootstrap_servers
            .iter()
            .map(|s| parse_address(s))
            .collect()
    }
}

/// Parses `host:port` or `[v6]:port`; an IPv6 address without brackets is refused as ambiguous.
/// A seed for a machine's jitter (and a consumer-protocol member id) that differs between
/// processes and between clients of one process, so that a fleet of clients restarted
/// together does not retry in lockstep. The standard library's `RandomState` is seeded from
/// the operating system once per thread and moves on with every value it makes.
pub(crate) fn fresh_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new()
        .hash_one((std::process::id(), std::time::Instant::now()))
}

pub(crate) fn parse_address(s: &str) -> Result<BrokerAddress, Error> {
    let bad = |why: &str| Error::Config(format!("bootstrap server {s:?}: {why}"));
    let s = s.trim();
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port"))?;
    let host = match host.strip_prefix('[') {
        Some(rest) => rest
            .strip_suffix(']')
            .ok_or_else(|| bad("unclosed '[' in an IPv6 address"))?,
        None if host.contains(':') => return Err(bad("write IPv6 addresses as [addr]:port")),
        None => host,
    };
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    let port = port.parse::<u16>().map_err(|_| bad("invalid port"))?;
    if port == 0 {
        return Err(bad("port 0"));
    }
    Ok(BrokerAddress {
        host: host.to_owned(),
        port,
    })
}

/// `host:port` for logs and errors, with brackets around IPv6 hosts.
pub(crate) fn display_address(addr: &BrokerAddress) -> String {
    if addr.host.contains(':') {
        format!("[{}]:{}", addr.host, addr.port)
    } else {
        format!("{}:{}", addr.host, addr.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_or_explain() {
        let a = parse_address("localhost:9092").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("localhost", 9092));
        let a = parse_address("[::1]:19092").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("::1", 19092));
        assert_eq!(display_address(&a), "[::1]:19092");
        for bad in [
            "localhost",
            "::1:9092",
            ":9092",
            "h:0",
            "h:99999",
            "[::1:9092",
            "h:x",
        ] {
            assert!(matches!(parse_address(bad), Err(Error::Config(_))), "{bad}");
        }
    }

    #[test]
    fn validation_catches_unusable_settings() {
        assert!(Config::default().validate().is_err());
        let ok = Config::new(["a:1", "b:2"]);
        assert_eq!(ok.validate().unwrap().len(), 2);
        assert!(ok
            .clone()
            .max_in_flight_per_connection(0)
            .validate()
            .is_err());
        assert!(ok
            .clone()
            .reconnect_backoff(Duration::from_secs(2), Duration::from_secs(1))
            .validate()
            .is_err());
        assert!(ok.clone().max_frame_size(10).validate().is_err());
        assert!(ok.request_timeout(Duration::ZERO).validate().is_err());
    }
}

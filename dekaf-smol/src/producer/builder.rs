//! Settings of a producer, checked by `build()`.

use std::time::Duration;

use dekaf_proto::records::Compression;
use dekaf_state::offset::Backoff;
use dekaf_state::producer::{Acks, Producer as StateProducer, ProducerConfig};

use super::machine::{Inner, Shared};
use super::Producer;
use crate::{glue, Config, Error, SaslSettings, SecurityProtocol, Spawner, TlsSettings, Transport};

/// Builds a [`Producer`]: start from [`Producer::builder`], set what you need, then
/// [`build`](Self::build)`.await`. Defaults follow Kafka's Java producer: acks all,
/// idempotence on, linger 5 ms, batches of up to 1 MiB, no compression, 5 requests in flight.
///
/// ```no_run
/// use std::time::Duration;
/// use dekaf_smol::{Compression, Producer};
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let producer = Producer::builder()
///     .bootstrap_servers("localhost:9092")
///     .linger(Duration::from_millis(20))
///     .compression(Compression::Zstd)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build().await`"]
pub struct ProducerBuilder {
    connection: Config,
    connect_timeout: Duration,
    config: ProducerConfig,
    max_block: Duration,
    spawner: Spawner,
}

impl Default for ProducerBuilder {
    fn default() -> Self {
        ProducerBuilder {
            connection: Config::default(),
            connect_timeout: Duration::from_secs(10),
            config: ProducerConfig::default(),
            max_block: Duration::from_secs(60),
            spawner: Spawner::default(),
        }
    }
}

impl ProducerBuilder {
    /// The brokers to start from: `host:port`, several separated by commas.
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

    /// Sent with every request (`client.id`, default `dekaf`).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.connection.client_id = Some(client_id.into());
        self
    }

    /// How long a request may wait for its answer, and the broker for its replicas
    /// (`request.timeout.ms`, default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.connection.request_timeout = timeout;
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

    /// The SASL mechanism and credentials (`sasl.*`), used when the security protocol is
    /// `SaslPlaintext` or `SaslSsl`.
    pub fn sasl(mut self, sasl: SaslSettings) -> Self {
        self.connection.sasl = Some(sasl);
        self
    }

    /// Opens connections with a transport of your own (see [`Transport`]).
    pub fn transport(mut self, transport: std::sync::Arc<dyn Transport>) -> Self {
        self.connection = self.connection.transport(transport);
        self
    }

    /// The most opening one connection may take, and how long `build` waits for the
    /// bootstrap servers' names to resolve (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many replicas must have a record before it counts as written (`acks`, default
    /// [`Acks::All`]); [`Acks::Leader`] and [`Acks::None`] need idempotence off.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.config.acks = acks;
        self
    }

    /// Whether retries can never write a record twice or out of order
    /// (`enable.idempotence`, default on; needs acks all and at most 5 requests in flight).
    pub fn idempotence(mut self, on: bool) -> Self {
        self.config.enable_idempotence = on;
        self
    }

    /// How long a batch waits for more records before it is sent (`linger.ms`, default 5 ms).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.config.linger = linger;
        self
    }

    /// The most record bytes in one batch of a partition (`batch.size`, default 1 MiB, as librdkafka's; a
    /// larger record goes alone).
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.config.batch_size = bytes;
        self
    }

    /// The largest request, and so the largest record (`max.request.size`, default 1 MiB).
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.config.max_request_size = bytes;
        self
    }

    /// The most bytes of records the producer holds until they are written
    /// (`buffer.memory`, default 16 MiB). A record that does not fit waits for room, in send
    /// order, at most [`max_block`](Self::max_block) (see [`Producer`]'s "A full buffer");
    /// a record alone in an empty buffer always gets in.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.config.buffer_memory = bytes;
        self
    }

    /// Chooses the partitions of records sent without one (`partitioner.class`), in place of
    /// Java's murmur2 of the key (sticky for records without a key), which stays the
    /// default. It is given the topic's partition count.
    pub fn partitioner(mut self, partitioner: impl crate::producer::Partitioner) -> Self {
        self.config = self.config.partitioner(partitioner);
        self
    }

    /// The codec of every batch (`compression.type`, default none).
    pub fn compression(mut self, codec: Compression) -> Self {
        self.config.compression = codec;
        self
    }

    /// How many Produce requests may await their answers per broker
    /// (`max.in.flight.requests.per.connection`, default 5).
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.config.max_in_flight = max;
        self
    }

    /// The wait before a failed request is tried again: `initial`, doubling up to `max`,
    /// with 20 % jitter (`retry.backoff.ms`, `retry.backoff.max.ms`; default 100 ms, 1 s).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.backoff = Backoff {
            initial,
            max,
            ..Backoff::default()
        };
        self
    }

    /// How long a record may take to be written, retries included (`delivery.timeout.ms`,
    /// default 2 min). Retries go on until then.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.config.delivery_timeout = timeout;
        self
    }

    /// Makes the producer transactional under this id (`transactional.id`). Use one id per
    /// unit of work that must never run twice at once (e.g. per input partition): a new
    /// producer with the id fences the old one.
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        self.config.transactional_id = Some(id.into());
        self
    }

    /// How long a transaction may stay open before the coordinator aborts it
    /// (`transaction.timeout.ms`, default 60 s).
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.config.transaction_timeout = timeout;
        self
    }

    /// How long a record may wait for room in a full buffer, from its `send`, before it
    /// fails with [`Error::Send`]`(`[`SendError::BufferFull`](crate::producer::SendError::BufferFull)`)`;
    /// and how long each transaction operation (`init_transactions`,
    /// `send_offsets_to_transaction`, `commit_transaction`, `abort_transaction`) waits for its
    /// outcome before failing with [`Error::TransactionTimeout`] (`max.block.ms`, default
    /// 60 s).
    pub fn max_block(mut self, timeout: Duration) -> Self {
        self.max_block = timeout;
        self
    }

    /// Where the driver runs (default: a thread of its own; see [`Spawner`]).
    pub fn spawner(mut self, spawner: Spawner) -> Self {
        self.spawner = spawner;
        self
    }

    /// Checks the settings and starts the driver, without waiting for the cluster: records
    /// sent while no broker is reachable wait in the buffer (at most the delivery timeout) and
    /// go out once one answers ([`Producer::ready`] waits for one). Fails with
    /// [`Error::Config`] for invalid settings and when the name of no bootstrap server
    /// resolves.
    pub async fn build(mut self) -> Result<Producer, Error> {
        if self.connect_timeout.is_zero() || self.max_block.is_zero() {
            return Err(Error::Config(
                "connect_timeout and max_block must be positive".into(),
            ));
        }
        self.connection.connect_timeout = self.connect_timeout;
        self.config.produce_timeout = self.connection.request_timeout;
        self.config.max_block = self.max_block;
        // Validated here so that a bad setting fails before any connection is opened.
        let machine = StateProducer::new(self.config, crate::config::fresh_seed())
            .map_err(|e| Error::Config(e.to_string()))?;
        let shared = Shared::new(
            Inner::new(machine),
            self.connection.bootstrap_servers.clone(),
        );
        let started = glue::start(
            "dekaf-producer",
            self.connection,
            &self.spawner,
            glue::Machine(shared.clone()),
            glue::StateHooks,
            glue::StopGuard(shared.clone()),
        )
        .await?;
        let (handle, stopped) = (started.handle, started.stopped);
        Ok(Producer {
            shared,
            handle,
            stopped,
            max_block: self.max_block,
        })
    }
}

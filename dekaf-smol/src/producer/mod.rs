//! A basic producer: [`Producer`], built with [`ProducerBuilder`].
//!
//! Records are written with acks = all, in order per partition, to the partition given, else
//! the one of the key's murmur2 hash (as Java's client), else in turn. Records sent while a
//! partition's previous write is in flight go together in its next batch. There is no
//! idempotence and no transaction yet: a write retried after a lost answer may be stored
//! twice.

mod machine;
mod partitioner;
mod record;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_channel::Receiver;
use dekaf_state::client::Destination;
use dekaf_state::offset::Backoff;

pub use partitioner::{murmur2, partition_for_key};
pub use record::{ProducerRecord, RecordMetadata};

use machine::{Delivery, ProducerMachine, ProducerSettings};

use crate::side::{probe_request, wait_for_broker};
use crate::{Config, ConnectionEvent, Driver, Error, Handle, Hooks, Spawner};

/// Writes records to Kafka (see the [module documentation](self)).
///
/// ```no_run
/// use dekaf_smol::{Producer, ProducerRecord};
/// # async fn example() -> Result<(), dekaf_smol::Error> {
/// let producer = Producer::builder()
///     .bootstrap_servers("localhost:9092")
///     .build()
///     .await?;
/// let written = producer
///     .send(ProducerRecord::new("my-topic").key("k").value("v"))
///     .await?;
/// println!("partition {} offset {}", written.partition(), written.offset());
/// // Without waiting for each: send, then flush.
/// for i in 0..100 {
///     let _ = producer.send(ProducerRecord::new("my-topic").value(format!("{i}")));
/// }
/// producer.flush().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Producer {
    handle: Handle<ProducerMachine>,
    stopped: Receiver<()>,
}

/// The outcome of one [`Producer::send`]: where the record was written, or why it was not.
/// The record is sent whether or not this is awaited.
#[must_use = "the record is sent anyway; await this to learn where it was written"]
pub struct DeliveryFuture(Pin<Box<dyn Future<Output = Delivery> + Send>>);

impl std::fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeliveryFuture")
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl Producer {
    /// A builder with the default settings.
    pub fn builder() -> ProducerBuilder {
        ProducerBuilder::default()
    }

    /// Sends `record` and returns at once; the returned future resolves when the broker has
    /// written it (acks = all) or when it failed for good (after retries, at most the
    /// delivery timeout).
    pub fn send(&self, mut record: ProducerRecord) -> DeliveryFuture {
        if record.timestamp.is_none() {
            record.timestamp = Some(now_millis());
        }
        let (tx, rx) = async_channel::bounded(1);
        let queued = self
            .handle
            .execute(move |m: &mut ProducerMachine, now| m.send(now, record, tx));
        DeliveryFuture(Box::pin(async move {
            queued?;
            rx.recv().await.unwrap_or(Err(Error::Shutdown))
        }))
    }

    /// Waits until every record sent before has been written or has failed.
    pub async fn flush(&self) -> Result<(), Error> {
        let (tx, rx) = async_channel::bounded(1);
        self.handle
            .execute(move |m: &mut ProducerMachine, _| m.flush(tx))?;
        rx.recv().await.map_err(|_| Error::Shutdown)
    }

    /// Flushes, then stops the driver.
    pub async fn close(self) -> Result<(), Error> {
        let flushed = self.flush().await;
        self.handle.shutdown();
        let _ = self.stopped.recv().await;
        flushed
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Keeps the last connection failure, for the error `build` returns.
struct ProducerHooks {
    last_error: std::sync::Arc<std::sync::Mutex<Option<Error>>>,
}

impl Hooks<ProducerMachine> for ProducerHooks {
    fn connection_event(&mut self, _: &mut ProducerMachine, event: &ConnectionEvent) {
        if let ConnectionEvent::Closed { reason, .. } = event {
            if let Ok(mut last) = self.last_error.lock() {
                *last = Some(reason.clone());
            }
        }
    }
}

/// Builds a [`Producer`]: start from [`Producer::builder`], set what you need, then
/// [`build`](Self::build)`.await`.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build().await`"]
pub struct ProducerBuilder {
    connection: Config,
    connect_timeout: Duration,
    delivery_timeout: Duration,
    max_batch_bytes: usize,
    spawner: Spawner,
}

impl Default for ProducerBuilder {
    fn default() -> Self {
        ProducerBuilder {
            connection: Config::default(),
            connect_timeout: Duration::from_secs(10),
            delivery_timeout: Duration::from_secs(120),
            max_batch_bytes: 1024 * 1024,
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

    /// How long `build` waits for a bootstrap server to answer (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a record may take to be written, retries included (`delivery.timeout.ms`,
    /// default 2 min).
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }

    /// The most record bytes in one write to a partition (default 1 MiB; a larger record is
    /// written alone).
    pub fn max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes;
        self
    }

    /// Where the driver runs (default: a thread of its own; see [`Spawner`]).
    pub fn spawner(mut self, spawner: Spawner) -> Self {
        self.spawner = spawner;
        self
    }

    /// Checks the settings, starts the driver and waits until a bootstrap server answers.
    pub async fn build(mut self) -> Result<Producer, Error> {
        if self.connect_timeout.is_zero() || self.delivery_timeout.is_zero() {
            return Err(Error::Config(
                "connect_timeout and delivery_timeout must be positive".into(),
            ));
        }
        if self.max_batch_bytes == 0 {
            return Err(Error::Config("max_batch_bytes must be at least 1".into()));
        }
        self.connection.connect_timeout = self.connect_timeout;
        let settings = ProducerSettings {
            request_timeout: self.connection.request_timeout,
            max_batch_bytes: self.max_batch_bytes,
            delivery_timeout: self.delivery_timeout,
            retry_backoff: Backoff::default(),
            metadata_max_age: Duration::from_secs(300),
        };
        let servers = self.connection.bootstrap_servers.clone();
        let seed = now_millis() as u64;
        let (driver, handle) = Driver::new(self.connection, ProducerMachine::new(settings, seed))?;
        let last_error = std::sync::Arc::new(std::sync::Mutex::new(None));
        let driver = driver.with_hooks(ProducerHooks {
            last_error: last_error.clone(),
        });
        let (done, stopped) = async_channel::bounded::<()>(1);
        self.spawner.spawn(
            "dekaf-producer",
            Box::pin(async move {
                let _done = done;
                driver.run().await;
            }),
        )?;
        let producer = Producer { handle, stopped };
        let probe = wait_for_broker(
            &servers,
            self.connect_timeout,
            || {
                let (tx, rx) = async_channel::bounded(1);
                producer.handle.execute(move |m: &mut ProducerMachine, _| {
                    m.side
                        .submit_to(Destination::AnyBroker, probe_request(), tx);
                })?;
                Ok(rx)
            },
            || last_error.lock().ok().and_then(|l| l.clone()),
        )
        .await;
        match probe {
            Ok(()) => Ok(producer),
            Err(e) => {
                producer.handle.shutdown();
                Err(e)
            }
        }
    }
}

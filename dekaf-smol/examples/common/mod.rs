//! What the examples share: where the broker is, fresh names, topics filled with records, and
//! checks that make an example fail (exit non-zero) when what it shows does not hold.

#![allow(dead_code)]

pub mod supervisor;

use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dekaf_smol::{Admin, NewTopic, Producer, ProducerRecord};

/// What an example returns: any error, with a message saying what did not hold.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Fails the example with a message unless `cond` holds.
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+).into());
        }
    };
}

/// The broker: `DEKAF_BOOTSTRAP`, else `localhost:9092`.
pub fn bootstrap() -> String {
    std::env::var("DEKAF_BOOTSTRAP").unwrap_or_else(|_| "localhost:9092".into())
}

/// Prints the clients' log lines on standard error as `RUST_LOG` asks (`RUST_LOG=debug`
/// shows a line per request, with its API, broker, bytes and latency); nothing when unset.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
    // A second call (another example in the same test process) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs an example against [`bootstrap`] and turns its outcome into the exit code.
pub fn main<F, Fut>(name: &str, run: F) -> ExitCode
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result>,
{
    init_logging();
    match smol::block_on(run(bootstrap())) {
        Ok(()) => {
            println!("{name}: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A name no earlier run used (topics and groups outlive a run on durable brokers).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Creates `topic` with `partitions` partitions.
pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result {
    let admin = Admin::connect(bootstrap).await?;
    admin
        .create_topic(NewTopic::new(topic, partitions).replication_factor(1))
        .await?;
    Ok(())
}

/// The value of record `i` of a partition.
pub fn value(partition: i32, i: i64) -> String {
    format!("p{partition}-record-{i}")
}

/// Writes `n` records to `partition` of `topic` (values from [`value`]), sent together, and
/// checks they landed at offsets `first..first + n`.
pub async fn fill(bootstrap: &str, topic: &str, partition: i32, first: i64, n: i64) -> Result {
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .build()
        .await?;
    let sent: Vec<_> = (first..first + n)
        .map(|i| {
            producer.send(
                ProducerRecord::new(topic)
                    .partition(partition)
                    .value(value(partition, i)),
            )
        })
        .collect();
    for (i, delivery) in (first..).zip(sent) {
        let written = delivery.await?;
        check!(
            written.offset() == Some(i) && written.partition() == partition,
            "record {i} was written at {}:{:?}",
            written.partition(),
            written.offset()
        );
    }
    producer.close().await?;
    Ok(())
}

/// Writes records one at a time, each waiting for the previous, so that each is a batch of
/// its own (tansu's memory engine answers "latest" per batch), with the given timestamps.
pub async fn fill_one_by_one(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    first: i64,
    timestamps: &[i64],
) -> Result {
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap)
        .build()
        .await?;
    for (i, ts) in (first..).zip(timestamps) {
        let written = producer
            .send(
                ProducerRecord::new(topic)
                    .partition(partition)
                    .value(value(partition, i))
                    .timestamp(*ts),
            )
            .await?;
        check!(
            written.offset() == Some(i),
            "record {i} was written at {:?}",
            written.offset()
        );
    }
    producer.close().await?;
    Ok(())
}

/// The time now, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Fails with "timed out: `what`" unless `future` finishes within `limit`.
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> Result<T> {
    let timer = async {
        smol::Timer::after(limit).await;
        None
    };
    match smol::future::or(async { Some(future.await) }, timer).await {
        Some(t) => Ok(t),
        None => Err(format!("timed out after {limit:?}: {what}").into()),
    }
}

/// Asks `probe` until it gives a value (a short pause between tries); fails with "timed out:
/// `what`" after `limit`.
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(t) = probe().await? {
            return Ok(t);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {limit:?}: {what}").into());
        }
        smol::Timer::after(Duration::from_millis(20)).await;
    }
}

/// How long an example waits for any one thing before it fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Reads `consumer`'s assigned partitions until each is at its end (no lag as of the last
/// fetch answer: the high watermark, or the last stable offset under read_committed) and
/// returns what it read. The end is the one fetch answers give: tansu's ListOffsets "latest"
/// can be short of it (build W answers per batch).
pub async fn read_to_end(
    consumer: &dekaf_smol::Consumer,
    limit: Duration,
) -> Result<Vec<dekaf_smol::ConsumerRecord>> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    while !at_end(consumer) {
        if Instant::now() >= deadline {
            let lags: Vec<_> = consumer
                .assignment()
                .iter()
                .map(|tp| consumer.lag(tp))
                .collect();
            return Err(
                format!("timed out after {limit:?} reading to the end: lags {lags:?}").into(),
            );
        }
        // Asking again also moves positions past markers and aborted records at the end.
        out.extend(recv_for(consumer, 1_000, Duration::from_millis(200)).await?);
    }
    Ok(out)
}

/// Up to `max` records of `consumer`, or none if none came within `wait`.
pub async fn recv_for(
    consumer: &dekaf_smol::Consumer,
    max: usize,
    wait: Duration,
) -> Result<Vec<dekaf_smol::ConsumerRecord>> {
    let batch = async { Some(consumer.recv_batch(max).await) };
    let timer = async {
        smol::Timer::after(wait).await;
        None
    };
    match smol::future::or(batch, timer).await {
        Some(batch) => Ok(batch?),
        None => Ok(Vec::new()),
    }
}

/// Whether every assigned partition of `consumer` is at its end, as of the last fetch answer
/// (the high watermark, or the last stable offset under read_committed).
pub fn at_end(consumer: &dekaf_smol::Consumer) -> bool {
    consumer
        .assignment()
        .iter()
        .all(|tp| consumer.lag(tp) == Some(0))
}

//! End-to-end latency: in one process, a producer sends `rate` records per second for `secs`
//! seconds to a 1-partition topic, each value carrying its send time, while a consumer in a
//! group reads them; each record's latency is its consume time minus its send time (one
//! clock: the process's). The producer starts once the consumer has its assignment. Both
//! ends are the same client: dekaf-smol → dekaf-smol, or librdkafka → librdkafka.
//!
//! `Tuning::Default` is each client's defaults (dekaf: linger 5 ms, fetch max wait 500 ms;
//! librdkafka: linger.ms 5, fetch.wait.max.ms 500); `Tuning::Latency` sets linger 0 and a
//! fetch max wait of [`TUNED_FETCH_WAIT_MS`] unless `--fetch-wait` sets another.
//!
//! A dekaf-smol run also prints, to standard error, what its connections measured per request
//! (Produce and Fetch: from send to answer), which splits a record's latency into the
//! producer's part and the consumer's fetch (mostly the broker's hold of it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::VALUE_BYTES;

/// The fetch max wait of the latency-tuned settings.
/// The default fetch max wait of the latency-tuned settings (`--fetch-wait` sets another).
pub const TUNED_FETCH_WAIT_MS: u64 = 10;

/// Which settings both ends use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tuning {
    Default,
    Latency,
}

impl Tuning {
    pub fn parse(s: &str) -> Result<Tuning, String> {
        match s {
            "default" => Ok(Tuning::Default),
            "latency" => Ok(Tuning::Latency),
            other => Err(format!("unknown settings {other} (default or latency)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tuning::Default => "default",
            Tuning::Latency => "latency",
        }
    }
}

/// What one run measured: every record's latency (microseconds, sorted) and the records sent.
pub struct Run {
    pub latencies: Vec<u64>,
    pub sent: u64,
}

/// The clock of send and consume times.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    base().elapsed().as_nanos() as u64
}

/// A value of [`VALUE_BYTES`] that starts with the send time.
fn stamped(buf: &mut [u8; VALUE_BYTES]) -> &[u8] {
    buf[..8].copy_from_slice(&now_ns().to_le_bytes());
    &buf[..]
}

/// The latency of a record whose value is `value`, in microseconds (`None` for a foreign one).
fn latency_us(value: Option<&[u8]>, now: u64) -> Option<u64> {
    let sent = u64::from_le_bytes(value?.get(..8)?.try_into().ok()?);
    Some(now.saturating_sub(sent) / 1000)
}

/// Sends `rate` records per second for `secs` seconds through `send`, calling `idle` between
/// bursts (every millisecond); returns how many were sent.
fn pace(
    rate: u64,
    secs: u64,
    mut send: impl FnMut(&[u8]) -> Result<(), String>,
    mut idle: impl FnMut(),
) -> Result<u64, String> {
    let total = rate * secs;
    let started = Instant::now();
    let mut buf = [b'x'; VALUE_BYTES];
    let mut sent = 0;
    while sent < total {
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as u64 + 1).min(total);
        while sent < due {
            send(stamped(&mut buf))?;
            sent += 1;
        }
        idle();
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(sent)
}

/// How long the consumer may go on after the producer is done; what has not arrived by then
/// is reported as missing (the quantiles then only cover the records that arrived).
pub const DRAIN: Duration = Duration::from_secs(20);

/// dekaf-smol → dekaf-smol.
pub fn dekaf(
    addr: &str,
    topic: &str,
    tuning: Tuning,
    fetch_wait_ms: u64,
    rate: u64,
    secs: u64,
) -> Result<Run, String> {
    use dekaf_smol::{AutoOffsetReset, Consumer};

    base();
    let mut builder = Consumer::builder()
        .bootstrap_servers(addr)
        .group_id(format!("{topic}-group"))
        .auto_offset_reset(AutoOffsetReset::Earliest);
    if tuning == Tuning::Latency {
        builder = builder.fetch_max_wait(Duration::from_millis(fetch_wait_ms));
    }
    let consumer =
        futures_lite::future::block_on(builder.build()).map_err(|e| format!("consumer: {e}"))?;
    consumer
        .subscribe([topic])
        .map_err(|e| format!("subscribe: {e}"))?;
    let sent = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let producing = s.spawn(|| {
            let result = dekaf_producer(&consumer, addr, topic, tuning, rate, secs);
            if let Ok(n) = result {
                sent.store(n, Ordering::SeqCst);
            }
            done.store(true, Ordering::SeqCst);
            result
        });
        let mut latencies = Vec::with_capacity((rate * secs) as usize);
        let consumed: Result<(), String> = futures_lite::future::block_on(async {
            let mut done_at = None;
            loop {
                if done.load(Ordering::SeqCst) {
                    let at = *done_at.get_or_insert_with(Instant::now);
                    if latencies.len() as u64 >= sent.load(Ordering::SeqCst) {
                        return Ok(());
                    }
                    if at.elapsed() > DRAIN {
                        return Ok(());
                    }
                }
                // Woken at least every 100 ms to see whether the producer is done.
                let batch = futures_lite::future::or(
                    async { Some(consumer.recv_batch(1024).await) },
                    async {
                        async_io::Timer::after(Duration::from_millis(100)).await;
                        None
                    },
                )
                .await;
                let Some(batch) = batch else { continue };
                let batch = batch.map_err(|e| format!("recv_batch: {e}"))?;
                let now = now_ns();
                latencies.extend(batch.iter().filter_map(|r| latency_us(r.value(), now)));
            }
        });
        let produced = producing
            .join()
            .map_err(|_| "the producer thread panicked".to_string())?;
        consumed?;
        let sent = produced?;
        latencies.sort_unstable();
        Ok(Run { latencies, sent })
    })
}

/// The producer of a dekaf-smol run, once `consumer` has its assignment.
fn dekaf_producer(
    consumer: &dekaf_smol::Consumer,
    addr: &str,
    topic: &str,
    tuning: Tuning,
    rate: u64,
    secs: u64,
) -> Result<u64, String> {
    use dekaf_smol::{Producer, ProducerRecord};

    while consumer.assignment().is_empty() {
        std::thread::sleep(Duration::from_millis(5));
    }
    futures_lite::future::block_on(async {
        let mut builder = Producer::builder().bootstrap_servers(addr);
        if tuning == Tuning::Latency {
            builder = builder.linger(Duration::ZERO);
        }
        let producer = builder
            .build()
            .await
            .map_err(|e| format!("producer: {e}"))?;
        let n = pace(
            rate,
            secs,
            |value| {
                let record = ProducerRecord::new(topic).value(value.to_vec());
                drop(producer.send(record));
                Ok(())
            },
            || {},
        )?;
        producer.flush().await.map_err(|e| format!("flush: {e}"))?;
        report_requests(&producer, consumer).await;
        producer.close().await.map_err(|e| format!("close: {e}"))?;
        Ok(n)
    })
}

/// Prints the Produce and Fetch latencies (send to answer) the two clients measured.
async fn report_requests(producer: &dekaf_smol::Producer, consumer: &dekaf_smol::Consumer) {
    use dekaf_proto::ApiKey;

    let show = |side: &str, key: ApiKey, b: &dekaf_smol::metrics::BrokerMetrics| {
        if let Some(l) = b.latency.get(&key) {
            eprintln!(
                "  dekaf {side}: {} {key:?} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                l.count,
                l.p50.as_secs_f64() * 1e3,
                l.p99.as_secs_f64() * 1e3,
                l.max.as_secs_f64() * 1e3
            );
        }
    };
    if let Ok(m) = producer.metrics().await {
        m.brokers
            .iter()
            .for_each(|b| show("producer", ApiKey::Produce, b));
    }
    if let Ok(m) = consumer.metrics().await {
        m.brokers
            .iter()
            .for_each(|b| show("consumer", ApiKey::Fetch, b));
    }
}

/// librdkafka → librdkafka: `BaseProducer` (polled between bursts) and `BaseConsumer`.
pub fn rdkafka(
    addr: &str,
    topic: &str,
    tuning: Tuning,
    fetch_wait_ms: u64,
    rate: u64,
    secs: u64,
) -> Result<Run, String> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};

    base();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", addr)
        .set("group.id", format!("{topic}-group"))
        .set("auto.offset.reset", "earliest");
    if tuning == Tuning::Latency {
        config.set("fetch.wait.max.ms", fetch_wait_ms.to_string());
    }
    let consumer: BaseConsumer = config.create().map_err(|e| format!("consumer: {e}"))?;
    consumer
        .subscribe(&[topic])
        .map_err(|e| format!("subscribe: {e}"))?;
    let assigned = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let producing = s.spawn(|| {
            let result = rdkafka_producer(&assigned, addr, topic, tuning, rate, secs);
            if let Ok(n) = result {
                sent.store(n, Ordering::SeqCst);
            }
            // The consumer loop ends once everything sent is received.
            done.store(true, Ordering::SeqCst);
            result
        });
        let mut latencies = Vec::with_capacity((rate * secs) as usize);
        let consumed = rdkafka_consume(&consumer, &assigned, &done, &sent, &mut latencies);
        let produced = producing
            .join()
            .map_err(|_| "the producer thread panicked".to_string())?;
        consumed?;
        let sent = produced?;
        latencies.sort_unstable();
        Ok(Run { latencies, sent })
    })
}

/// The producer of a librdkafka run, once the consumer has its assignment.
fn rdkafka_producer(
    assigned: &AtomicBool,
    addr: &str,
    topic: &str,
    tuning: Tuning,
    rate: u64,
    secs: u64,
) -> Result<u64, String> {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    while !assigned.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", addr);
    if tuning == Tuning::Latency {
        config.set("linger.ms", "0");
    }
    let producer: BaseProducer = config.create().map_err(|e| format!("producer: {e}"))?;
    let n = pace(
        rate,
        secs,
        |value| loop {
            match producer.send(BaseRecord::<(), [u8]>::to(topic).payload(value)) {
                Ok(()) => return Ok(()),
                Err((e, _)) if e.to_string().contains("Queue full") => {
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(format!("send: {e}")),
            }
        },
        || {
            producer.poll(Duration::ZERO);
        },
    )?;
    producer
        .flush(Duration::from_secs(30))
        .map_err(|e| format!("flush: {e}"))?;
    Ok(n)
}

/// The consumer loop of a librdkafka run: until the producer is done and everything it sent
/// is received.
fn rdkafka_consume(
    consumer: &rdkafka::consumer::BaseConsumer,
    assigned: &AtomicBool,
    done: &AtomicBool,
    sent: &AtomicU64,
    latencies: &mut Vec<u64>,
) -> Result<(), String> {
    use rdkafka::consumer::Consumer;
    use rdkafka::Message;

    let mut done_at = None;
    loop {
        if !assigned.load(Ordering::Relaxed) {
            let ours = consumer.assignment().map_or(0, |a| a.count());
            if ours > 0 {
                assigned.store(true, Ordering::SeqCst);
            }
        }
        if done.load(Ordering::SeqCst) {
            let at = *done_at.get_or_insert_with(Instant::now);
            if latencies.len() as u64 >= sent.load(Ordering::SeqCst) {
                return Ok(());
            }
            if at.elapsed() > DRAIN {
                return Ok(());
            }
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => latencies.extend(latency_us(m.payload(), now_ns())),
            Some(Err(e)) => return Err(format!("poll: {e}")),
        }
    }
}

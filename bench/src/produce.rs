//! Producer throughput: dekaf-smol's `Producer` against rdkafka's `FutureProducer` and
//! `BaseProducer`.
//!
//! `dekaf-bench produce [--records N] [--rounds R] [--partitions 1,4,64] [--sizes 100,1024]
//! [--compression none,lz4]`: for each size, partition count and codec, each client in turn
//! (R rounds) runs in a process of its own against a fresh tansu build W (memory engine: the
//! records of earlier runs would otherwise pile up in the broker), sends N records of the
//! size round-robin over the partitions with acks=all and idempotence on, and waits until
//! every one is acknowledged (build W's ListOffsets does not give the log end of its memory
//! engine, so each client checks its own acknowledgements: a failed `flush`, or failures counted
//! in BaseProducer's delivery callback, fail the run). The parent prints the medians (records/s, CPU time per record of the client process, peak RSS) as a
//! table, also written to `target/bench/produce.json`.
//!
//! `dekaf-bench produce-one CLIENT ADDR TOPIC PARTITIONS RECORDS SIZE CODEC` is one such
//! process: it prints one `RESULT` line for the parent.
//!
//! The clients do the same work: dekaf-smol `send(r).buffered().await` per record (fire and
//! forget, waiting only for room in the buffer) then `flush`; rdkafka `FutureProducer`
//! `send_result` per record, its future dropped, sleeping 1 ms when the queue is full, then
//! `flush`; rdkafka `BaseProducer` `send` and `poll(0)` per record, `poll` until there is room
//! when the queue is full, then `flush`, counting failures in its delivery callback.
//! librdkafka keeps its defaults except the linger and batch size, set to dekaf's defaults.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::{self, median, Json};
use crate::{broker, consumers};

/// dekaf's default linger and batch size, given to librdkafka so that both batch alike.
const LINGER_MS: u64 = 5;
const BATCH_BYTES: usize = 1024 * 1024;

/// How long one producer may take before the run is called failed.
const DEADLINE: Duration = Duration::from_secs(300);

const USAGE: &str = "usage: dekaf-bench produce [--records N] [--rounds R] [--partitions 1,4,64] \
                     [--sizes 100,1024] [--compression none,lz4]";

const CLIENTS: [(&str, &str); 3] = [
    ("dekaf", "dekaf-smol Producer"),
    ("rdkafka-future", "rdkafka FutureProducer"),
    ("rdkafka-base", "rdkafka BaseProducer"),
];

struct Settings {
    records: u64,
    rounds: usize,
    partitions: Vec<i32>,
    sizes: Vec<usize>,
    codecs: Vec<String>,
}

fn list<T: std::str::FromStr>(name: &str, v: &str) -> Result<Vec<T>, String>
where
    T::Err: std::fmt::Display,
{
    v.split(',')
        .map(|x| x.trim().parse().map_err(|e| format!("{name}: {x}: {e}")))
        .collect()
}

fn parse(args: &[String]) -> Result<Settings, String> {
    let mut s = Settings {
        records: 1_000_000,
        rounds: 3,
        partitions: vec![1, 4, 64],
        sizes: vec![100, 1024],
        codecs: vec!["none".into(), "lz4".into()],
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--records" => s.records = value()?.parse().map_err(|e| format!("--records: {e}"))?,
            "--rounds" => s.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--partitions" => s.partitions = list("--partitions", value()?)?,
            "--sizes" => s.sizes = list("--sizes", value()?)?,
            "--compression" => s.codecs = list("--compression", value()?)?,
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if s.records == 0 || s.rounds == 0 || s.partitions.iter().any(|&p| p < 1) {
        return Err("records, rounds and partitions must be at least 1".into());
    }
    if let Some(c) = s
        .codecs
        .iter()
        .find(|c| !matches!(c.as_str(), "none" | "lz4"))
    {
        return Err(format!("--compression: {c} is not none or lz4"));
    }
    Ok(s)
}

/// One measured run.
#[derive(Clone, Copy)]
struct Sample {
    rate: f64,
    rss: u64,
    cpu_ns: f64,
}

/// The parent: every configuration, every client, every round.
pub fn run(args: &[String]) -> Result<(), String> {
    let settings = parse(args)?;
    let tansu = broker::tansu_w()?;
    let this = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let mut rows = Vec::new();
    for &size in &settings.sizes {
        for &partitions in &settings.partitions {
            for codec in &settings.codecs {
                let mut samples = vec![Vec::new(); CLIENTS.len()];
                for round in 1..=settings.rounds {
                    for (i, (client, label)) in CLIENTS.iter().enumerate() {
                        let sample = measure(
                            &this,
                            &tansu,
                            client,
                            partitions,
                            settings.records,
                            size,
                            codec,
                        )
                        .map_err(|e| {
                            format!("{label}, {partitions} partitions, {size} B, {codec}: {e}")
                        })?;
                        eprintln!(
                            "  {size} B, {partitions:>2} partitions, {codec:<4} round {round} \
                             {label:<24} {:>6.2} M records/s  CPU {:>6.0} ns/record  peak RSS {:>6.1} MB",
                            sample.rate / 1e6,
                            sample.cpu_ns,
                            sample.rss as f64 / 1e6
                        );
                        samples[i].push(sample);
                    }
                }
                rows.push((size, partitions, codec.clone(), samples));
            }
        }
    }
    print_table(&settings, &rows)
}

/// Runs one client against a broker of its own and checks what it wrote.
fn measure(
    exe: &Path,
    tansu: &Path,
    client: &str,
    partitions: i32,
    records: u64,
    size: usize,
    codec: &str,
) -> Result<Sample, String> {
    let broker = broker::Broker::start(tansu)?;
    let addr = broker.addr().to_string();
    let topic = format!("produce-{partitions}p");
    create_topic(&addr, &topic, partitions)?;
    let out = Command::new(exe)
        .args(["produce-one", client, &addr, &topic])
        .arg(partitions.to_string())
        .arg(records.to_string())
        .arg(size.to_string())
        .arg(codec)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("spawn {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "exited with {}: {stdout}\n{}",
            out.status,
            broker.log()
        ));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("no RESULT line in {stdout:?}"))?;
    let field = |name: &str| -> Result<f64, String> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .ok_or_else(|| format!("no {name} in {line:?}"))?
            .parse()
            .map_err(|e| format!("{name} in {line:?}: {e}"))
    };
    Ok(Sample {
        rate: records as f64 / field("secs")?,
        rss: field("rss")? as u64,
        cpu_ns: field("cpu")? * 1e9 / records as f64,
    })
}

fn create_topic(addr: &str, topic: &str, partitions: i32) -> Result<(), String> {
    futures_lite::future::block_on(async {
        let admin = dekaf_smol::Admin::connect(addr)
            .await
            .map_err(|e| format!("admin: {e}"))?;
        admin
            .create_topic(dekaf_smol::NewTopic::new(topic, partitions))
            .await
            .map_err(|e| format!("create topic: {e}"))
    })
}

fn print_table(
    settings: &Settings,
    rows: &[(usize, i32, String, Vec<Vec<Sample>>)],
) -> Result<(), String> {
    println!(
        "\nProducer throughput: {} records per run, round-robin over the partitions, acks=all, \
         idempotence on, linger {LINGER_MS} ms and batches of {} KiB for every client; tansu \
         build W (memory engine, fresh per run) on loopback; median of {} rounds, each client \
         in a process of its own\n",
        settings.records,
        BATCH_BYTES / 1024,
        settings.rounds
    );
    println!(
        "| size | partitions | codec | client | records/s | CPU per record | peak RSS | vs BaseProducer: records/s | CPU | RSS |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    let mut json = Vec::new();
    for (size, partitions, codec, samples) in rows {
        let medians: Vec<(f64, f64, f64)> = samples
            .iter()
            .map(|s| {
                (
                    median(s.iter().map(|x| x.rate).collect()),
                    median(s.iter().map(|x| x.cpu_ns).collect()),
                    median(s.iter().map(|x| x.rss as f64).collect()),
                )
            })
            .collect();
        let base = CLIENTS
            .iter()
            .position(|(c, _)| *c == "rdkafka-base")
            .map(|i| medians[i]);
        for ((client, label), (rate, cpu, rss)) in CLIENTS.iter().zip(&medians) {
            let (vr, vc, vm) =
                base.map_or((1.0, 1.0, 1.0), |(r, c, m)| (rate / r, cpu / c, rss / m));
            println!(
                "| {size} B | {partitions} | {codec} | {label} | {:.2} M/s | {cpu:.0} ns | {:.1} MB | {vr:.2}x | {vc:.2}x | {vm:.2}x |",
                rate / 1e6,
                rss / 1e6
            );
            json.push(Json::Obj(vec![
                ("size".into(), (*size as u64).into()),
                ("partitions".into(), f64::from(*partitions).into()),
                ("compression".into(), codec.clone().into()),
                ("client".into(), (*client).into()),
                ("records_per_second".into(), (*rate).into()),
                ("cpu_ns_per_record".into(), (*cpu).into()),
                ("peak_rss_bytes".into(), (*rss).into()),
            ]));
        }
    }
    let doc = Json::Obj(vec![
        ("benchmark".into(), "produce".into()),
        ("machine".into(), report::machine()),
        ("records".into(), settings.records.into()),
        ("rounds".into(), (settings.rounds as u64).into()),
        ("linger_ms".into(), (LINGER_MS as u64).into()),
        ("batch_bytes".into(), (BATCH_BYTES as u64).into()),
        ("rows".into(), Json::Arr(json)),
    ]);
    let path = report::write("produce", &doc)?;
    eprintln!("written to {}", path.display());
    Ok(())
}

/// The child: produces and prints one `RESULT` line.
pub fn one(args: &[String]) -> Result<(), String> {
    let [client, addr, topic, partitions, records, size, codec] = args else {
        return Err(
            "usage: dekaf-bench produce-one CLIENT ADDR TOPIC PARTITIONS RECORDS SIZE CODEC".into(),
        );
    };
    let partitions: i32 = partitions.parse().map_err(|e| format!("partitions: {e}"))?;
    let records: u64 = records.parse().map_err(|e| format!("records: {e}"))?;
    let size: usize = size.parse().map_err(|e| format!("size: {e}"))?;
    std::thread::spawn(|| {
        std::thread::sleep(DEADLINE);
        eprintln!("dekaf-bench: the producer did not finish within {DEADLINE:?}");
        std::process::exit(2);
    });
    let value: &'static [u8] = vec![b'x'; size].leak();
    let started = Instant::now();
    match client.as_str() {
        "dekaf" => dekaf(addr, topic, partitions, records, value, codec)?,
        "rdkafka-future" => rdkafka_future(addr, topic, partitions, records, value, codec)?,
        "rdkafka-base" => rdkafka_base(addr, topic, partitions, records, value, codec)?,
        other => return Err(format!("unknown client {other}")),
    }
    let elapsed = started.elapsed();
    println!(
        "RESULT secs={:.6} cpu={:.3} rss={}",
        elapsed.as_secs_f64(),
        consumers::cpu_time().as_secs_f64(),
        consumers::peak_rss()
    );
    Ok(())
}

fn dekaf(
    addr: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    value: &'static [u8],
    codec: &str,
) -> Result<(), String> {
    use dekaf_smol::{Compression, Producer, ProducerRecord};
    futures_lite::future::block_on(async {
        let compression = match codec {
            "lz4" => Compression::Lz4,
            _ => Compression::None,
        };
        // Defaults but the codec.
        let producer = Producer::builder()
            .bootstrap_servers(addr)
            .compression(compression)
            .build()
            .await
            .map_err(|e| format!("build: {e}"))?;
        let partitions = partitions as u64;
        for i in 0..records {
            let record = ProducerRecord::new(topic)
                .partition((i % partitions) as i32)
                .value(value);
            let _ = producer
                .send(record)
                .buffered()
                .await
                .map_err(|e| format!("send: {e}"))?;
        }
        producer.flush().await.map_err(|e| format!("flush: {e}"))?;
        producer.close().await.map_err(|e| format!("close: {e}"))
    })
}

fn rdkafka_config(addr: &str, codec: &str) -> rdkafka::ClientConfig {
    let mut config = rdkafka::ClientConfig::new();
    config
        .set("bootstrap.servers", addr)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("compression.codec", codec)
        .set("linger.ms", LINGER_MS.to_string())
        .set("batch.size", BATCH_BYTES.to_string());
    config
}

fn rdkafka_future(
    addr: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    value: &'static [u8],
    codec: &str,
) -> Result<(), String> {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
    let producer: FutureProducer = rdkafka_config(addr, codec)
        .create()
        .map_err(|e| format!("create: {e}"))?;
    let partitions = partitions as u64;
    for i in 0..records {
        let mut record = FutureRecord::<(), [u8]>::to(topic)
            .partition((i % partitions) as i32)
            .payload(value);
        loop {
            match producer.send_result(record) {
                // Fire and forget: the outcome is dropped; the flush below waits for all.
                Ok(delivery) => {
                    drop(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(format!("send: {e}")),
            }
        }
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| format!("flush: {e}"))
}

/// Counts the records librdkafka reports as failed.
struct Failures(std::sync::atomic::AtomicU64);

impl rdkafka::ClientContext for Failures {}

impl rdkafka::producer::ProducerContext for Failures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &rdkafka::message::DeliveryResult<'_>, _: ()) {
        if result.is_err() {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn rdkafka_base(
    addr: &str,
    topic: &str,
    partitions: i32,
    records: u64,
    value: &'static [u8],
    codec: &str,
) -> Result<(), String> {
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer<Failures> = rdkafka_config(addr, codec)
        .create_with_context(Failures(Default::default()))
        .map_err(|e| format!("create: {e}"))?;
    let partitions = partitions as u64;
    for i in 0..records {
        let mut record = BaseRecord::<(), [u8]>::to(topic)
            .partition((i % partitions) as i32)
            .payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(100));
                }
                Err((e, _)) => return Err(format!("send: {e}")),
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| format!("flush: {e}"))?;
    let failed = producer
        .context()
        .0
        .load(std::sync::atomic::Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} records failed"));
    }
    Ok(())
}

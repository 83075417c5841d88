//! Consumer throughput: dekaf-smol against librdkafka (the rdkafka crate), on a local tansu.
//!
//! `dekaf-bench [run] [--records N] [--rounds R] [--partitions 1,4] [--baseline [NAME=]EXE]...`
//! starts tansu build W (memory engine) on a free loopback port, fills one topic per partition
//! count with N records of 100 bytes using dekaf-smol's producer, then runs each consumer in a
//! process of its own, in turns, R rounds, and prints the median records/s, peak RSS and CPU
//! time per record of each. Each `--baseline` adds the dekaf consumers of another build of
//! this program (an older dekaf-smol) to the same rounds, for before/after comparisons.
//!
//! `dekaf-bench consume CLIENT ADDR TOPIC PARTITIONS RECORDS` is one such process: it prints
//! one `RESULT` line (records, bytes, gaps, seconds, CPU seconds, peak RSS) for the parent.
//!
//! `dekaf-bench serve [--records N] [--partitions 1,4]` starts and fills the broker as `run`
//! does, prints its address and keeps it until its standard input closes: to run `consume`
//! under a profiler.
//!
//! `dekaf-bench produce [--records N] [--rounds R] [--partitions 1,4,64] [--sizes 100,1024]
//! [--compression none,lz4]` measures producer throughput (see the `produce` module).
//!
//! `dekaf-bench commits [--commits N] [--rounds R] [--baseline [NAME=]EXE]...` measures commit
//! latency while fetching (see the `commits` module): each client in turn, R rounds, then the
//! p50, p90, p99 and largest latency of all its commits.
//!
//! `dekaf-bench latency [--rate N] [--secs S] [--rounds R] [--fetch-wait MS]` measures
//! end-to-end latency (see the `latency` module); `dekaf-bench commit-cost [--records N] [--rounds R]` what commits
//! cost a consumer in Manual mode (see the `commit_cost` module).
//!
//! Every benchmark prints its table and writes it as JSON under `target/bench/` (see the
//! `report` module).

mod broker;
mod commit_cost;
mod commits;
mod consumers;
mod fill;
mod latency;
mod limit;
mod produce;
mod report;
mod suite;

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use consumers::DekafMode;

/// The size of every record's value.
pub(crate) const VALUE_BYTES: usize = 100;

pub(crate) const USAGE: &str = "\
usage: dekaf-bench [run] [--records N] [--rounds R] [--partitions 1,4,16,256,1024] [--baseline [NAME=]EXE]...
       dekaf-bench consume dekaf|dekaf-batch|rdkafka|limit ADDR TOPIC PARTITIONS RECORDS
       dekaf-bench serve [--records N] [--partitions 1,4]
       dekaf-bench commits [--commits N] [--rounds R] [--baseline [NAME=]EXE]...
       dekaf-bench commit-one dekaf|rdkafka ADDR TOPIC RECORDS COMMITS
       dekaf-bench latency [--rate N] [--secs S] [--rounds R] [--fetch-wait MS]
       dekaf-bench latency-one dekaf|rdkafka default|latency ADDR TOPIC RATE SECS FETCH_WAIT_MS
       dekaf-bench commit-cost [--records N] [--rounds R]
       dekaf-bench commit-cost-one dekaf|rdkafka-sync|rdkafka-async ADDR TOPIC RECORDS EVERY
       dekaf-bench produce [--records N] [--rounds R] [--partitions 1,4,64] [--sizes 100,1024] [--compression none,lz4]
       dekaf-bench produce-one dekaf|rdkafka-future|rdkafka-base ADDR TOPIC PARTITIONS RECORDS SIZE none|lz4";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("consume") => consume(&args[1..]),
        Some("run") => run(&args[1..]),
        Some("serve") => serve(&args[1..]),
        Some("commits") => commit_latency(&args[1..]),
        Some("commit-one") => commit_one(&args[1..]),
        Some("latency") => suite::latency(&args[1..]),
        Some("latency-one") => suite::latency_one(&args[1..]),
        Some("commit-cost") => suite::commit_cost(&args[1..]),
        Some("commit-cost-one") => suite::commit_cost_one(&args[1..]),
        Some("produce") => produce::run(&args[1..]),
        Some("produce-one") => produce::one(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dekaf-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Settings {
    records: u64,
    rounds: usize,
    partitions: Vec<i32>,
    /// Other builds of this program: a name and the executable.
    baselines: Vec<(String, PathBuf)>,
}

fn parse(args: &[String]) -> Result<Settings, String> {
    let mut s = Settings {
        records: 1_000_000,
        rounds: 3,
        partitions: vec![1, 4, 16, 256, 1024],
        baselines: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--records" => s.records = value()?.parse().map_err(|e| format!("--records: {e}"))?,
            "--rounds" => s.rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--partitions" => {
                s.partitions = value()?
                    .split(',')
                    .map(|p| p.trim().parse().map_err(|e| format!("--partitions: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--baseline" => {
                let v = value()?;
                let (name, exe) = match v.split_once('=') {
                    Some((name, exe)) => (name.to_string(), exe),
                    None => (format!("baseline {}", s.baselines.len() + 1), v.as_str()),
                };
                s.baselines.push((name, PathBuf::from(exe)));
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if s.records == 0 || s.rounds == 0 || s.partitions.iter().any(|&p| p < 1) {
        return Err("records, rounds and partitions must be at least 1".into());
    }
    Ok(s)
}

/// A consumer to measure: which program runs it, and which of its clients.
struct Client {
    label: String,
    exe: PathBuf,
    client: &'static str,
}

/// The clients of each round, in the order they take turns; rdkafka last.
fn clients(settings: &Settings) -> Result<Vec<Client>, String> {
    let this = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let mut list = vec![
        Client {
            label: "dekaf-smol (Stream)".into(),
            exe: this.clone(),
            client: "dekaf",
        },
        Client {
            label: format!("dekaf-smol (recv_batch({}))", consumers::BATCH),
            exe: this.clone(),
            client: "dekaf-batch",
        },
    ];
    for (name, exe) in &settings.baselines {
        for (label, client) in [("Stream", "dekaf"), ("recv_batch", "dekaf-batch")] {
            list.push(Client {
                label: format!("{name} ({label})"),
                exe: exe.clone(),
                client,
            });
        }
    }
    list.push(Client {
        label: "rdkafka BaseConsumer".into(),
        exe: this.clone(),
        client: "rdkafka",
    });
    list.push(Client {
        label: "limit: bare fetch loop".into(),
        exe: this,
        client: "limit",
    });
    Ok(list)
}

/// One measured run of one client.
#[derive(Clone, Copy)]
struct Sample {
    rate: f64,
    rss: u64,
    /// CPU time per record (user and system, every thread of the process), nanoseconds.
    cpu_ns: f64,
    /// Seconds from the start until the first record.
    first: f64,
}

/// Starts the broker.
pub(crate) fn start_broker() -> Result<broker::Broker, String> {
    let tansu = broker::tansu_w()?;
    let broker = broker::Broker::start(&tansu)?;
    eprintln!("tansu build W (memory engine) on {}", broker.addr());
    Ok(broker)
}

/// Creates and fills the topic of `partitions` partitions; returns its name.
fn fill_topic(
    broker: &broker::Broker,
    partitions: i32,
    settings: &Settings,
) -> Result<String, String> {
    let topic = format!("bench-{partitions}p");
    let started = Instant::now();
    let addr = broker.addr().to_string();
    fill::fill(&addr, &topic, partitions, settings.records, VALUE_BYTES)
        .map_err(|e| format!("filling {topic}: {e}\n{}", broker.log()))?;
    eprintln!(
        "{topic}: {} records of {VALUE_BYTES} B written in {:.1?}",
        settings.records,
        started.elapsed()
    );
    Ok(topic)
}

fn serve(args: &[String]) -> Result<(), String> {
    let settings = parse(args)?;
    let broker = start_broker()?;
    for &partitions in &settings.partitions {
        fill_topic(&broker, partitions, &settings)?;
    }
    println!("{}", broker.addr());
    eprintln!("serving until standard input closes");
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    Ok(())
}

fn run(args: &[String]) -> Result<(), String> {
    let settings = parse(args)?;
    let clients = clients(&settings)?;
    let broker = start_broker()?;
    let addr = broker.addr().to_string();
    let mut table = Vec::new();
    for &partitions in &settings.partitions {
        let topic = fill_topic(&broker, partitions, &settings)?;
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); clients.len()];
        for round in 1..=settings.rounds {
            // Each round starts with another client, so that none always follows the fill.
            let n = clients.len();
            for i in (0..n).map(|k| (k + round - 1) % n) {
                let c = &clients[i];
                let sample = measure(c, &addr, &topic, partitions, settings.records)
                    .map_err(|e| format!("{} on {topic}: {e}", c.label))?;
                eprintln!(
                    "  round {round} {:<30} {:>6.2} M records/s  peak RSS {:>6.1} MB  \
                     CPU {:>5.0} ns/record  first record after {:>4.0} ms",
                    c.label,
                    sample.rate / 1e6,
                    sample.rss as f64 / 1e6,
                    sample.cpu_ns,
                    sample.first * 1e3
                );
                samples[i].push(sample);
            }
        }
        table.push((partitions, samples));
    }
    drop(broker);
    print_table(&settings, &clients, &table)
}

/// Runs one client in a child process and reads its `RESULT` line.
fn measure(
    c: &Client,
    addr: &str,
    topic: &str,
    partitions: i32,
    records: u64,
) -> Result<Sample, String> {
    let out = Command::new(&c.exe)
        .args(["consume", c.client, addr, topic])
        .arg(partitions.to_string())
        .arg(records.to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("spawn {}: {e}", c.exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("exited with {}: {stdout}", out.status));
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
    let got = field("records")? as u64;
    let bytes = field("bytes")? as u64;
    let gaps = field("gaps")? as u64;
    let expected = records * VALUE_BYTES as u64;
    // The bare loop counts records from batch headers and reads no value.
    let bytes_ok = bytes == expected || c.client == "limit";
    if got != records || !bytes_ok || gaps != 0 {
        return Err(format!(
            "read {got} records, {bytes} bytes, {gaps} gaps (expected {records}, {expected}, 0)"
        ));
    }
    Ok(Sample {
        rate: records as f64 / field("secs")?,
        rss: field("rss")? as u64,
        cpu_ns: field("cpu").unwrap_or(0.0) * 1e9 / records as f64,
        first: field("first").unwrap_or(0.0),
    })
}

fn print_table(
    settings: &Settings,
    clients: &[Client],
    table: &[(i32, Vec<Vec<Sample>>)],
) -> Result<(), String> {
    use report::{median, Cell};
    let mut t = report::Table::new(
        "consumer",
        format!(
            "Consumer throughput: {} records of {VALUE_BYTES} B from offset 0, tansu build W \
             (memory engine) on loopback, median of {} rounds, each consumer in a process of \
             its own",
            settings.records, settings.rounds
        ),
        &[
            "partitions",
            "client",
            "records/s",
            "peak RSS",
            "CPU per record",
            "vs rdkafka: records/s",
            "vs rdkafka: RSS",
            "vs limit: records/s",
            "first record",
        ],
    );
    t.setting("records", settings.records);
    t.setting("rounds", settings.rounds as u64);
    t.setting("value_bytes", VALUE_BYTES as u64);
    for (partitions, samples) in table {
        let medians: Vec<[f64; 4]> = samples
            .iter()
            .map(|s| {
                [
                    median(s.iter().map(|x| x.rate).collect()),
                    median(s.iter().map(|x| x.rss as f64).collect()),
                    median(s.iter().map(|x| x.cpu_ns).collect()),
                    median(s.iter().map(|x| x.first).collect()),
                ]
            })
            .collect();
        let of = |client: &str| {
            clients
                .iter()
                .position(|c| c.client == client)
                .map(|i| medians[i])
        };
        let (reference, limit) = (of("rdkafka"), of("limit"));
        for (c, &[rate, rss, cpu, first]) in clients.iter().zip(&medians) {
            let vs_rate = reference.map_or(f64::NAN, |r| rate / r[0]);
            let vs_rss = reference.map_or(f64::NAN, |r| rss / r[1]);
            let vs_limit = limit.map_or(f64::NAN, |l| rate / l[0]);
            t.row(vec![
                Cell::num(f64::from(*partitions), partitions.to_string()),
                Cell::text(c.label.clone()),
                Cell::num(rate, format!("{:.2} M/s", rate / 1e6)),
                Cell::num(rss, format!("{:.1} MB", rss / 1e6)),
                Cell::num(cpu, format!("{cpu:.0} ns")),
                Cell::num(vs_rate, format!("{vs_rate:.2}x")),
                Cell::num(vs_rss, format!("{vs_rss:.2}x")),
                Cell::num(vs_limit, format!("{vs_limit:.2}x")),
                Cell::num(first, format!("{:.0} ms", first * 1e3)),
            ]);
        }
    }
    t.finish()
}

/// The child: consumes and prints one `RESULT` line.
fn consume(args: &[String]) -> Result<(), String> {
    let [client, addr, topic, partitions, records] = args else {
        return Err(USAGE.into());
    };
    let partitions: i32 = partitions.parse().map_err(|e| format!("partitions: {e}"))?;
    let records: u64 = records.parse().map_err(|e| format!("records: {e}"))?;
    consumers::watchdog();
    let tally = match client.as_str() {
        "dekaf" => consumers::dekaf(addr, topic, partitions, records, DekafMode::Stream)?,
        "dekaf-batch" => consumers::dekaf(addr, topic, partitions, records, DekafMode::Batch)?,
        "rdkafka" => consumers::rdkafka(addr, topic, partitions, records)?,
        "limit" => limit::bare_fetch(addr, topic, partitions, records)?,
        other => return Err(format!("unknown client {other}")),
    };
    println!(
        "RESULT records={} bytes={} gaps={} secs={:.6} first={:.6} cpu={:.3} rss={}",
        tally.records,
        tally.bytes,
        tally.gaps,
        tally.elapsed.as_secs_f64(),
        tally.first.unwrap_or_default().as_secs_f64(),
        consumers::cpu_time().as_secs_f64(),
        consumers::peak_rss()
    );
    Ok(())
}

/// Records in the topic of the commit-latency benchmark, read before the commits start.
const COMMIT_RECORDS: u64 = 1000;

/// The parent of the commit-latency benchmark.
fn commit_latency(args: &[String]) -> Result<(), String> {
    let mut commits = 200usize;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--commits" {
            commits = it
                .next()
                .ok_or("--commits needs a value")?
                .parse()
                .map_err(|e| format!("--commits: {e}"))?;
        } else {
            rest.push(arg.clone());
        }
    }
    let settings = parse(&rest)?;
    if commits == 0 {
        return Err("commits must be at least 1".into());
    }
    let this = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let mut clients = vec![("dekaf-smol".to_string(), this.clone(), "dekaf")];
    for (name, exe) in &settings.baselines {
        clients.push((name.clone(), exe.clone(), "dekaf"));
    }
    clients.push(("rdkafka BaseConsumer".to_string(), this, "rdkafka"));

    let broker = start_broker()?;
    let addr = broker.addr().to_string();
    let topic = "commit-latency";
    fill::fill(&addr, topic, 1, COMMIT_RECORDS, VALUE_BYTES)
        .map_err(|e| format!("filling {topic}: {e}\n{}", broker.log()))?;
    let mut pooled: Vec<Vec<u64>> = vec![Vec::new(); clients.len()];
    for round in 1..=settings.rounds {
        for (i, (label, exe, client)) in clients.iter().enumerate() {
            let out = Command::new(exe)
                .args(["commit-one", client, &addr, topic])
                .arg(COMMIT_RECORDS.to_string())
                .arg(commits.to_string())
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| format!("spawn {}: {e}", exe.display()))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                return Err(format!("{label} exited with {}: {stdout}", out.status));
            }
            let mut latencies: Vec<u64> = stdout
                .lines()
                .find_map(|l| l.strip_prefix("LATENCIES "))
                .ok_or_else(|| format!("{label}: no LATENCIES line in {stdout:?}"))?
                .split_whitespace()
                .map(|v| v.parse().map_err(|e| format!("{label}: {v:?}: {e}")))
                .collect::<Result<_, String>>()?;
            if latencies.len() != commits {
                return Err(format!(
                    "{label}: {} latencies, not {commits}",
                    latencies.len()
                ));
            }
            latencies.sort_unstable();
            eprintln!(
                "  round {round} {label:<24} p50 {:>8.2} ms  p99 {:>8.2} ms",
                commits::quantile(&latencies, 0.5) as f64 / 1e3,
                commits::quantile(&latencies, 0.99) as f64 / 1e3,
            );
            pooled[i].extend(latencies);
        }
    }
    drop(broker);
    let mut t = report::Table::new(
        "commits",
        format!(
            "Commit latency while fetching: a consumer that has read its partition to the end \
             (so its fetch long-polls, 500 ms max wait) commits synchronously {commits} times; \
             {} rounds, each client in a process of its own, tansu build W (memory engine) on \
             loopback",
            settings.rounds
        ),
        &[
            "client",
            "commits",
            "p50",
            "p90",
            "p99",
            "max",
            "mean commits/s",
        ],
    );
    t.setting("commits", commits as u64);
    t.setting("rounds", settings.rounds as u64);
    for ((label, _, _), mut all) in clients.iter().zip(pooled) {
        all.sort_unstable();
        let ms = |q: f64| commits::quantile(&all, q) as f64 / 1e3;
        let cell = |q: f64| report::Cell::num(ms(q), format!("{:.2} ms", ms(q)));
        let mean = all.iter().sum::<u64>() as f64 / all.len() as f64;
        t.row(vec![
            report::Cell::text(label.clone()),
            report::Cell::num(all.len() as f64, all.len().to_string()),
            cell(0.5),
            cell(0.9),
            cell(0.99),
            cell(1.0),
            report::Cell::num(1e6 / mean, format!("{:.0}", 1e6 / mean)),
        ]);
    }
    t.finish()
}

/// The child of the commit-latency benchmark: prints one `LATENCIES` line (microseconds).
fn commit_one(args: &[String]) -> Result<(), String> {
    let [client, addr, topic, records, commits] = args else {
        return Err(USAGE.into());
    };
    let records: u64 = records.parse().map_err(|e| format!("records: {e}"))?;
    let commits: usize = commits.parse().map_err(|e| format!("commits: {e}"))?;
    consumers::watchdog();
    let latencies = match client.as_str() {
        "dekaf" => commits::dekaf(addr, topic, records, commits)?,
        "rdkafka" => commits::rdkafka(addr, topic, records, commits)?,
        other => return Err(format!("unknown client {other}")),
    };
    let text: Vec<String> = latencies.iter().map(u64::to_string).collect();
    println!("LATENCIES {}", text.join(" "));
    Ok(())
}

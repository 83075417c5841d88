//! The parents and children of the latency and commit-cost benchmarks: options, the broker,
//! one process per run in alternating turns, and the tables.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::commits::quantile;
use crate::latency::{self, Tuning};
use crate::report::{median, Cell, Table};
use crate::{commit_cost, consumers, fill, start_broker, VALUE_BYTES};

/// Options of the form `--name value`, each a number.
fn options(args: &[String], names: &mut [(&str, &mut u64)]) -> Result<(), String> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some((_, slot)) = names.iter_mut().find(|(n, _)| n == arg) else {
            return Err(format!("unknown argument {arg}\n{}", crate::USAGE));
        };
        let v = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
        **slot = v.parse().map_err(|e| format!("{arg}: {e}"))?;
        if **slot == 0 {
            return Err(format!("{arg} must be at least 1"));
        }
    }
    Ok(())
}

/// Runs this program with `args` and returns the fields of its `RESULT` line.
fn child(args: &[String]) -> Result<Vec<(String, f64)>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let out = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("spawn: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{args:?} exited with {}: {stdout}", out.status));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("no RESULT line in {stdout:?}"))?;
    line.split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').ok_or(format!("bad field {kv:?}"))?;
            let v = v.parse().map_err(|e| format!("{kv:?}: {e}"))?;
            Ok((k.to_string(), v))
        })
        .collect()
}

fn field(fields: &[(String, f64)], name: &str) -> Result<f64, String> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("no {name} in the result"))
}

/// Ends this process once `after` has passed (a run that hangs fails instead).
fn watchdog(after: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        eprintln!("dekaf-bench: the run did not finish within {after:?}");
        std::process::exit(2);
    });
}

/// `latency [--rate N] [--secs S] [--rounds R]`.
pub fn latency(args: &[String]) -> Result<(), String> {
    let (mut rate, mut secs, mut rounds) = (10_000, 30, 3);
    let mut fetch_wait = latency::TUNED_FETCH_WAIT_MS;
    options(
        args,
        &mut [
            ("--rate", &mut rate),
            ("--secs", &mut secs),
            ("--rounds", &mut rounds),
            ("--fetch-wait", &mut fetch_wait),
        ],
    )?;
    let broker = start_broker()?;
    let addr = broker.addr().to_string();
    let runs: Vec<(&str, Tuning)> = vec![
        ("dekaf", Tuning::Default),
        ("rdkafka", Tuning::Default),
        ("dekaf", Tuning::Latency),
        ("rdkafka", Tuning::Latency),
    ];
    // Per run: p50, p99, p99.9, max (ms), and the share of records that arrived, each round.
    let mut samples: Vec<Vec<[f64; 5]>> = vec![Vec::new(); runs.len()];
    for round in 1..=rounds as usize {
        let n = runs.len();
        for i in (0..n).map(|k| (k + round - 1) % n) {
            let (client, tuning) = runs[i];
            let topic = format!("latency-{client}-{}-{round}", tuning.name());
            fill::create_topic(&addr, &topic, 1)?;
            let fields = child(&[
                "latency-one".into(),
                client.into(),
                tuning.name().into(),
                addr.clone(),
                topic,
                rate.to_string(),
                secs.to_string(),
                fetch_wait.to_string(),
            ])
            .map_err(|e| format!("{client} {}: {e}\n{}", tuning.name(), broker.log()))?;
            let q = |name: &str| field(&fields, name).map(|us| us / 1e3);
            let arrived = field(&fields, "records")? / field(&fields, "sent")?.max(1.0);
            let s = [q("p50")?, q("p99")?, q("p999")?, q("max")?, arrived];
            eprintln!(
                "  round {round} {client:<8} {:<8} p50 {:>7.2} ms  p99 {:>7.2} ms  p99.9 {:>7.2} ms  max {:>7.2} ms  arrived {:.1}%",
                tuning.name(),
                s[0],
                s[1],
                s[2],
                s[3],
                s[4] * 100.0
            );
            samples[i].push(s);
        }
    }
    drop(broker);
    let mut t = Table::new(
        "latency",
        format!(
            "End-to-end latency: {rate} records/s of {VALUE_BYTES} B for {secs} s to a \
             1-partition topic, read by a consumer in a group in the same process; consume \
             time minus send time; median of {rounds} rounds; tansu build W (memory engine) \
             on loopback. default: each client's defaults; latency: linger 0, fetch max wait \
             {} ms. arrived: the records received within {:?} of the last send (the quantiles \
             cover those only)",
            fetch_wait,
            latency::DRAIN
        ),
        &[
            "settings", "client", "p50", "p99", "p99.9", "max", "arrived",
        ],
    );
    t.setting("rate", rate);
    t.setting("secs", secs);
    t.setting("rounds", rounds);
    t.setting("fetch_wait_ms", fetch_wait);
    for ((client, tuning), s) in runs.iter().zip(&samples) {
        let label = match *client {
            "dekaf" => "dekaf-smol → dekaf-smol",
            _ => "librdkafka → librdkafka",
        };
        let mut row = vec![Cell::text(tuning.name()), Cell::text(label)];
        for k in 0..4 {
            let m = median(s.iter().map(|x| x[k]).collect());
            row.push(Cell::num(m, format!("{m:.2} ms")));
        }
        let arrived = median(s.iter().map(|x| x[4]).collect());
        row.push(Cell::num(arrived, format!("{:.1}%", arrived * 100.0)));
        t.row(row);
    }
    t.finish()
}

/// `latency-one CLIENT SETTINGS ADDR TOPIC RATE SECS FETCH_WAIT_MS`: prints the quantiles in
/// microseconds.
pub fn latency_one(args: &[String]) -> Result<(), String> {
    let [client, tuning, addr, topic, rate, secs, fetch_wait] = args else {
        return Err(crate::USAGE.into());
    };
    let tuning = Tuning::parse(tuning)?;
    let rate: u64 = rate.parse().map_err(|e| format!("rate: {e}"))?;
    let secs: u64 = secs.parse().map_err(|e| format!("secs: {e}"))?;
    let fetch_wait: u64 = fetch_wait.parse().map_err(|e| format!("fetch wait: {e}"))?;
    watchdog(Duration::from_secs(secs + 90));
    let run = match client.as_str() {
        "dekaf" => latency::dekaf(addr, topic, tuning, fetch_wait, rate, secs)?,
        "rdkafka" => latency::rdkafka(addr, topic, tuning, fetch_wait, rate, secs)?,
        other => return Err(format!("unknown client {other}")),
    };
    let l = &run.latencies;
    if l.len() as u64 != run.sent {
        eprintln!(
            "dekaf-bench: {client}: {} of {} records arrived within {:?} after the last send",
            l.len(),
            run.sent,
            latency::DRAIN
        );
    }
    println!(
        "RESULT sent={} records={} p50={} p99={} p999={} max={}",
        run.sent,
        l.len(),
        quantile(l, 0.5),
        quantile(l, 0.99),
        quantile(l, 0.999),
        quantile(l, 1.0)
    );
    Ok(())
}

/// `commit-cost [--records N] [--rounds R]`.
pub fn commit_cost(args: &[String]) -> Result<(), String> {
    let (mut records, mut rounds) = (20_000, 3);
    options(
        args,
        &mut [("--records", &mut records), ("--rounds", &mut rounds)],
    )?;
    let broker = start_broker()?;
    let addr = broker.addr().to_string();
    let topic = "commit-cost";
    fill::fill(&addr, topic, 1, records, VALUE_BYTES)
        .map_err(|e| format!("filling {topic}: {e}\n{}", broker.log()))?;
    let clients = [
        ("dekaf", "dekaf-smol, commit().await"),
        ("rdkafka-sync", "rdkafka BaseConsumer, commit(Sync)"),
        ("rdkafka-async", "rdkafka BaseConsumer, commit(Async)"),
    ];
    let runs: Vec<(u64, usize)> = [1u64, 100]
        .into_iter()
        .flat_map(|every| (0..clients.len()).map(move |c| (every, c)))
        .collect();
    // records/s, commits/s.
    let mut samples: Vec<Vec<[f64; 2]>> = vec![Vec::new(); runs.len()];
    for round in 1..=rounds as usize {
        let n = runs.len();
        for i in (0..n).map(|k| (k + round - 1) % n) {
            let (every, c) = runs[i];
            let (client, label) = clients[c];
            let fields = child(&[
                "commit-cost-one".into(),
                client.into(),
                addr.clone(),
                topic.into(),
                records.to_string(),
                every.to_string(),
            ])
            .map_err(|e| format!("{label}: {e}\n{}", broker.log()))?;
            let secs = field(&fields, "secs")?;
            let s = [
                field(&fields, "records")? / secs,
                field(&fields, "commits")? / secs,
            ];
            eprintln!(
                "  round {round} every {every:<3} {label:<36} {:>9.0} records/s {:>7.0} commits/s",
                s[0], s[1]
            );
            samples[i].push(s);
        }
    }
    drop(broker);
    let mut t = Table::new(
        "commit-cost",
        format!(
            "Commit cost: a consumer in Manual mode reads {records} records of {VALUE_BYTES} B \
             of a 1-partition topic from offset 0 and commits after every record or every \
             100; median of {rounds} rounds, each run in a process of its own, tansu build W \
             (memory engine) on loopback"
        ),
        &["commit every", "client", "records/s", "commits/s"],
    );
    t.setting("records", records);
    t.setting("rounds", rounds);
    for ((every, c), s) in runs.iter().zip(&samples) {
        let r = median(s.iter().map(|x| x[0]).collect());
        let k = median(s.iter().map(|x| x[1]).collect());
        t.row(vec![
            Cell::num(*every as f64, every.to_string()),
            Cell::text(clients[*c].1),
            Cell::num(r, format!("{r:.0}")),
            Cell::num(k, format!("{k:.0}")),
        ]);
    }
    t.finish()
}

/// `commit-cost-one CLIENT ADDR TOPIC RECORDS EVERY`.
pub fn commit_cost_one(args: &[String]) -> Result<(), String> {
    let [client, addr, topic, records, every] = args else {
        return Err(crate::USAGE.into());
    };
    let records: u64 = records.parse().map_err(|e| format!("records: {e}"))?;
    let every: u64 = every.parse().map_err(|e| format!("every: {e}"))?;
    if every == 0 {
        return Err("every must be at least 1".into());
    }
    consumers::watchdog();
    let run = match client.as_str() {
        "dekaf" => commit_cost::dekaf(addr, topic, records, every)?,
        "rdkafka-sync" => commit_cost::rdkafka(addr, topic, records, every, true)?,
        "rdkafka-async" => commit_cost::rdkafka(addr, topic, records, every, false)?,
        other => return Err(format!("unknown client {other}")),
    };
    println!(
        "RESULT records={} commits={} secs={:.6}",
        run.records, run.commits, run.secs
    );
    Ok(())
}

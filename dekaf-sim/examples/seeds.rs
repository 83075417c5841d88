//! Runs seeded schedules of whole consumer groups against the simulated cluster on every core
//! (`dekaf_sim::world`), printing seeds per second and every violated invariant with its
//! seed; then replays the smallest failing seed with a trace of every request and answer.
//!
//! `cargo run --release -p dekaf-sim --example seeds -- --seeds N [--from S] [--threads T]
//! [--trace SEED]` (or `cargo xtask sim ...`); exits 1 on any violation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use dekaf_sim::world;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seeds = 1_000u64;
    let mut from = 0u64;
    let mut threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut trace = None;
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--seeds", Some(v)) => seeds = v,
            ("--from", Some(v)) => from = v,
            ("--threads", Some(v)) => threads = v.max(1) as usize,
            ("--trace", Some(v)) => trace = Some(v),
            _ => {
                eprintln!("usage: seeds --seeds N [--from S] [--threads T] [--trace SEED]");
                return std::process::ExitCode::from(2);
            }
        }
        i += 2;
    }
    if let Some(seed) = trace {
        let report = world::run_seed(seed, true);
        println!("{:#?}", world::Schedule::from_seed(seed));
        for line in report.trace.iter().flatten() {
            println!("{line}");
        }
        println!("{report}");
        return exit(report.violations.is_empty());
    }
    // Panics are reported as violations of their seed; the default hook would print each.
    std::panic::set_hook(Box::new(|_| {}));
    let next = AtomicU64::new(from);
    let end = from.saturating_add(seeds);
    let failed: Mutex<Vec<world::Report>> = Mutex::new(Vec::new());
    #[allow(clippy::disallowed_methods)] // wall time for the seeds/s report only
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= end {
                    break;
                }
                let report = world::run_seed(seed, false);
                if !report.violations.is_empty() {
                    print!("{report}");
                    if let Ok(mut f) = failed.lock() {
                        f.push(report);
                    }
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let failed = failed.into_inner().unwrap_or_default();
    println!(
        "{seeds} seeds from {from} on {threads} threads in {secs:.1} s: {:.0} seeds/s, {} failing",
        seeds as f64 / secs.max(1e-9),
        failed.len()
    );
    if let Some(first) = failed.iter().map(|r| r.seed).min() {
        println!("replay with a trace: cargo xtask sim --trace {first}");
    }
    exit(failed.is_empty())
}

fn exit(ok: bool) -> std::process::ExitCode {
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

//! Runs seeded schedules of whole consumer groups against the simulated cluster on every core
//! (`dekaf_sim::world`), printing seeds per second and every violated invariant with its
//! seed; then replays the smallest failing seed with a trace of every request and answer.
//!
//! `cargo run --release -p dekaf-sim --example seeds -- --seeds N [--from S] [--threads T]
//! [--trace SEED] [--mutant NAME]` (or `cargo xtask sim ...`); exits 1 on any violation.
//!
//! `--plain` runs the schedules of `world::Schedule::from_seed_plain` (without the faults
//! added later: delayed and duplicated answers, a slow coordinator, brokers down).
//!
//! With `--mutant NAME` (which `cargo xtask sim --mutant NAME` passes along with the build
//! flag `--cfg dekaf_mutant="NAME"` that removes one rule from dekaf-state) the run is a
//! mutation check: it stops at the first failing seed and reports how many seeds it took and
//! which invariants caught the mutant; it exits 1 if no seed did.

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
    let mut mutant = None;
    let mut plain = false;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--plain" {
            plain = true;
            i += 1;
            continue;
        }
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--seeds", Some(v)) => seeds = v,
            ("--from", Some(v)) => from = v,
            ("--threads", Some(v)) => threads = v.max(1) as usize,
            ("--trace", Some(v)) => trace = Some(v),
            ("--mutant", _) if i + 1 < args.len() => mutant = Some(args[i + 1].clone()),
            _ => {
                eprintln!(
                    "usage: seeds --seeds N [--from S] [--threads T] [--trace SEED] [--mutant NAME] [--plain]"
                );
                return std::process::ExitCode::from(2);
            }
        }
        i += 2;
    }
    let schedule = |seed: u64| {
        if plain {
            world::Schedule::from_seed_plain(seed)
        } else {
            world::Schedule::from_seed(seed)
        }
    };
    if let Some(seed) = trace {
        let report = world::run(&schedule(seed), true);
        println!("{:#?}", schedule(seed));
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
    // A mutation check stops at its first failing seed: seeds are taken in order, so once
    // seed s fails no seed after it is started, and those before it still finish.
    let stop = AtomicU64::new(end);
    let failed: Mutex<Vec<world::Report>> = Mutex::new(Vec::new());
    #[allow(clippy::disallowed_methods)] // wall time for the seeds/s report only
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= stop.load(Ordering::Relaxed) {
                    break;
                }
                let report = world::run(&schedule(seed), false);
                if !report.violations.is_empty() {
                    if mutant.is_some() {
                        stop.fetch_min(seed + 1, Ordering::Relaxed);
                    } else {
                        print!("{report}");
                    }
                    if let Ok(mut f) = failed.lock() {
                        f.push(report);
                    }
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let failed = failed.into_inner().unwrap_or_default();
    if let Some(name) = mutant {
        return mutation_report(&name, from, seeds, &failed);
    }
    println!(
        "{seeds} seeds from {from} on {threads} threads in {secs:.1} s: {:.0} seeds/s, {} failing",
        seeds as f64 / secs.max(1e-9),
        failed.len()
    );
    if let Some(first) = failed.iter().map(|r| r.seed).min() {
        let plain = if plain { " --plain" } else { "" };
        println!("replay with a trace: cargo xtask sim{plain} --trace {first}");
    }
    exit(failed.is_empty())
}

/// The outcome of a mutation check: the first failing seed, how many seeds it took, and the
/// invariants its report names.
fn mutation_report(
    name: &str,
    from: u64,
    seeds: u64,
    failed: &[world::Report],
) -> std::process::ExitCode {
    let Some(first) = failed.iter().min_by_key(|r| r.seed) else {
        println!("mutant {name}: not found in {seeds} seeds from {from}");
        return exit(false);
    };
    let mut caught: Vec<String> = first
        .violations
        .iter()
        .map(|v| v.invariant.to_string())
        .collect();
    caught.sort();
    caught.dedup();
    print!("{first}");
    println!(
        "mutant {name}: found by seed {} ({} seeds from {from}), caught by {}",
        first.seed,
        first.seed - from + 1,
        caught.join(", ")
    );
    exit(true)
}

fn exit(ok: bool) -> std::process::ExitCode {
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

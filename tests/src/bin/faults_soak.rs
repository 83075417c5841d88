//! The fault workloads of `dekaf_tests::faults`, again and again with new seeds, until the
//! time is up; each run prints what it injected (the proxy's faults, or the broker's kills
//! and restarts) and what it checked. Exits non-zero at the first broken invariant, with its
//! seed and the command that repeats it.
//!
//! `faults_soak --minutes N [--workload NAME]... [--build W|C] [--seed S] [--short]`
//!
//! `cargo xtask soak` runs it with the brokers found and `CI` set (a missing broker fails).
//! With `--seed`, each chosen workload runs once with that seed.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use dekaf_tests::cluster_proxy::Stats;
use dekaf_tests::faults::{self, Length, Workload};
use dekaf_tests::rng::Rng;
use dekaf_tests::Build;

const USAGE: &str =
    "usage: faults_soak --minutes N [--workload NAME]... [--build W|C] [--seed S] [--short]
workloads: group-manual, group-auto, idempotent, transactions, corruption, restart
(transactions on build W only, restart on build C only)";

struct Args {
    minutes: f64,
    workloads: Vec<Workload>,
    build: Option<Build>,
    seed: Option<u64>,
    length: Length,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        minutes: 5.0,
        workloads: Vec::new(),
        build: None,
        seed: None,
        length: Length::SOAK,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--minutes" => {
                let v = value("--minutes")?;
                args.minutes = v
                    .parse()
                    .map_err(|_| format!("not a number of minutes: {v}"))?;
            }
            "--workload" => {
                let v = value("--workload")?;
                args.workloads
                    .push(Workload::from_name(&v).ok_or(format!("unknown workload {v}"))?);
            }
            "--build" => {
                let v = value("--build")?;
                args.build = Some(match v.as_str() {
                    "W" | "w" => Build::W,
                    "C" | "c" => Build::C,
                    _ => return Err(format!("unknown build {v} (W or C)")),
                });
            }
            "--seed" => {
                let v = value("--seed")?;
                args.seed = Some(v.parse().map_err(|_| format!("not a seed: {v}"))?);
            }
            "--short" => args.length = Length::SHORT,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if args.workloads.is_empty() {
        args.workloads = Workload::ALL.to_vec();
    }
    Ok(args)
}

/// Totals over the runs of one workload on one build.
#[derive(Default)]
struct Totals {
    runs: u32,
    seconds: f64,
    stats: Stats,
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let plan: Vec<(Workload, Build)> = args
        .workloads
        .iter()
        .flat_map(|w| w.builds().iter().map(move |b| (*w, *b)))
        .filter(|(_, b)| args.build.is_none_or(|want| want == *b))
        .collect();
    if plan.is_empty() {
        eprintln!("nothing to run: no chosen workload runs on the chosen build");
        return ExitCode::FAILURE;
    }
    let deadline = Instant::now() + Duration::from_secs_f64(args.minutes * 60.0);
    let mut totals: BTreeMap<(Workload, String), Totals> = BTreeMap::new();
    let mut runs = 0u32;
    'soak: loop {
        for &(workload, build) in &plan {
            if args.seed.is_none() && Instant::now() >= deadline && runs > 0 {
                break 'soak;
            }
            let seed = args.seed.unwrap_or_else(Rng::fresh_seed);
            println!("==> run {}: {workload} on {build}, seed {seed}", runs + 1);
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                faults::run(workload, build, seed, args.length)
            }));
            runs += 1;
            let report = match outcome {
                Ok(Some(report)) => report,
                Ok(None) => {
                    println!("    skipped: {build} is not installed");
                    continue;
                }
                Err(_) => {
                    println!(
                        "FAILED: {workload} on {build}, seed {seed}: the run panicked\n  reproduce: cargo xtask soak --workload {workload} --build {} --seed {seed}",
                        if build == Build::W { "W" } else { "C" }
                    );
                    return ExitCode::FAILURE;
                }
            };
            print!("{report}");
            let t = totals.entry((workload, build.to_string())).or_default();
            t.runs += 1;
            t.seconds += report.elapsed.as_secs_f64();
            for (what, n) in report.stats.injected().0 {
                *t.stats.0.entry(what).or_default() += n;
            }
            if !report.passed() {
                println!("FAILED: seed {seed}; reproduce: {}", report.reproduce());
                return ExitCode::FAILURE;
            }
        }
        if args.seed.is_some() {
            break;
        }
    }
    println!("\n==> {runs} runs, every invariant held");
    for ((workload, build), t) in &totals {
        println!(
            "  {workload} on {build}: {} runs, {:.0} s; injected {}",
            t.runs, t.seconds, t.stats
        );
    }
    ExitCode::SUCCESS
}

//! `cargo xtask <command>`: the project's tasks, with nothing but the standard library.
//!
//! - `install` puts what the tests need on the machine (both tansu builds, confluent-kafka,
//!   cargo-fuzz), skipping whatever is already there.
//! - `test` installs, then runs formatting, lints, docs, every test, 10,000 seeds of the
//!   simulated cluster and a short fuzz run.
//! - `sim --seeds N [--from S]` runs seeded schedules of whole consumer groups, with an
//!   idempotent and a transactional producer writing to what they read, on the simulated
//!   cluster (dekaf-sim) on every core, printing seeds/s and every violation.
//! - `demo` starts a broker, runs the protocol demo and then dekaf-smol's examples against it
//!   (seek by timestamp against a second broker, build C with SQLite), then the `dekaf`
//!   command line on a real group (describe, reset, describe), then the `secure` example
//!   over SASL_SSL (build C requiring SCRAM-SHA-512, behind stunnel with a CA made at run
//!   time), and stops them; it installs what is missing first.
//! - `bench [records|consumer|commits|commit-cost|latency|produce]` runs the benchmarks (all
//!   without an argument; each writes its table as JSON under `target/bench/`); `fuzz [TARGET]
//!   [SECONDS]` runs the fuzzers.
//! - `soak --minutes N` runs the fault workloads (dekaf-smol clients on tansu behind the
//!   cluster proxy, under random faults, or on a broker killed and started again) again and
//!   again with new seeds until the time is up.
//! - `env` prints where the broker binaries are, as shell `export` lines.

mod broker;
mod install;
mod tls;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  install                 install the brokers and tools the tests need (skips what is there)
  test [--no-fuzz]        install, then fmt, clippy, doc, all tests, 10,000 simulated
                            seeds and a short fuzz run
  demo                    install what is missing, start tansu, run the demo, the
                            examples, the command line and (over TLS + SCRAM, behind
                            stunnel) the `secure` example, stop it
  bench [records|consumer|commits|commit-cost|latency|produce] [ARGS...]
                          no argument: every benchmark with its defaults
                          records: record decoding/encoding (criterion); ARGS go to
                            criterion (default: --warm-up-time 1 --measurement-time 3)
                          consumer: dekaf-smol vs rdkafka consumer throughput on tansu;
                            installs cmake and libcurl headers (apt) to build librdkafka;
                            ARGS: --records N --rounds R --partitions 1,4,16,256,1024
                          commits: commit latency while fetching, dekaf-smol vs
                            rdkafka; ARGS: --commits N --rounds R
                          commit-cost: Manual mode, a commit after every record and
                            after every 100; ARGS: --records N --rounds R
                          latency: end-to-end latency, producer to consumer in a
                            group; ARGS: --rate N --secs S --rounds R
                          each writes its table as JSON under target/bench/
  fuzz [TARGET] [SECS]    fuzz one target (or each in turn) for SECS seconds (default 60)
  soak --minutes N [--workload NAME]... [--build W|C] [--seed S] [--short]
                          run the fault workloads (group-manual, group-auto, idempotent,
                            transactions, corruption) on tansu behind the cluster proxy,
                            and restart (build C killed and started again on its SQLite
                            database, up to three times a run), with new seeds until N
                            minutes are up; prints what each run injected and checked;
                            fails at the first broken invariant with its seed (--seed S
                            repeats that run)
  sim --seeds N [--from S] [--threads T] [--trace SEED] [--mutant NAME] [--plain]
                          seeded runs of whole consumer groups (and an idempotent
                            and a transactional producer) on the simulated cluster
                            (dekaf-sim) on every core: prints seeds/s and every violated
                            invariant with its seed; --trace SEED replays one with every
                            request and answer; --mutant NAME builds dekaf-state without
                            one rule (target/mutant) and reports after how many seeds a
                            violation found it (names in dekaf-state/src/lib.rs);
                            --plain leaves out the faults added later (delayed
                            and duplicated answers, a slow coordinator, brokers
                            down)
  package                 cargo package for every published crate, each built from its
                            packaged sources
  env                     print DEKAF_TANSU_W / DEKAF_TANSU_C as shell exports";

/// How many seeds of the simulated cluster `cargo xtask test` runs: the plain schedules (on
/// which the mutation table of dekaf-sim's guide is measured). The schedules with every
/// fault still break invariants on a few seeds (listed in dekaf-sim's guide); they join the
/// test once those are fixed.
const TEST_SIM_SEEDS: &str = "10000";

/// How long each target runs in the smoke run of `cargo xtask test`.
const SMOKE_FUZZ_SECS: u32 = 10;

fn main() -> ExitCode {
    install::extend_path();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    let result = match args.first().map(String::as_str) {
        Some("install") => install::install(true).map(|tools| tools.print()),
        Some("test") => test(&args[1..]),
        Some("demo") => demo(),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        Some("soak") => soak(&args[1..]),
        Some("sim") => sim(&args[1..]),
        Some("package") => package(),
        Some("env") => install::Tools::find().map(|tools| tools.print()),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown or missing command\n\n{USAGE}")),
    };
    match result {
        Ok(()) => {
            eprintln!("xtask: done in {:.0?}", started.elapsed());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `cargo` run from the workspace root.
fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(root());
    cmd
}

/// Runs a command to completion as a named step; an error names the step.
fn step(name: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("\n==> {name}");
    let started = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("step `{name}`: cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        eprintln!("==> {name}: ok ({:.0?})", started.elapsed());
        Ok(())
    } else {
        Err(format!("step `{name}` failed ({status})"))
    }
}

fn test(args: &[String]) -> Result<(), String> {
    let mut fuzz = true;
    for arg in args {
        match arg.as_str() {
            "--no-fuzz" => fuzz = false,
            other => return Err(format!("test: unknown argument {other}")),
        }
    }
    let tools = install::install(fuzz)?;
    tools.print();
    step("format", &mut cargo(&["fmt", "--all", "--", "--check"]))?;
    step(
        "clippy",
        &mut cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "doc",
        cargo(&["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-Dwarnings"),
    )?;
    // Real-broker tests fail, rather than skip, when a broker is missing.
    step(
        "test (unit, property, differential, real broker, fuzz corpus replay)",
        tools
            .apply(&mut cargo(&["test", "--workspace"]))
            .env("CI", "true"),
    )?;
    step(
        &format!("simulated cluster: {TEST_SIM_SEEDS} plain seeds"),
        &mut sim_command(&["--seeds", TEST_SIM_SEEDS, "--plain"]),
    )?;
    if fuzz {
        step(
            "fuzz build (sanitizers on)",
            cargo(&["fuzz", "build"]).env("RUSTC_BOOTSTRAP", "1"),
        )?;
        for target in fuzz_targets()? {
            let corpus = scratch_dir(&format!("fuzz-{target}"))?;
            let seeds = root().join("fuzz/corpus").join(&target);
            let mut cmd = cargo(&["fuzz", "run", &target]);
            cmd.arg(&corpus)
                .arg(&seeds)
                .arg("--")
                .arg(format!("-max_total_time={SMOKE_FUZZ_SECS}"))
                .env("RUSTC_BOOTSTRAP", "1");
            let result = step(&format!("fuzz smoke run: {target}"), &mut cmd);
            let _ = std::fs::remove_dir_all(&corpus);
            result
                .map_err(|e| format!("{e}; the failing input is under fuzz/artifacts/{target}/"))?;
        }
    }
    Ok(())
}

/// The examples `demo` runs after the protocol demo, in order: the package, the example, what
/// it shows, and whether it needs build C (a per-record timestamp index).
const DEMO_EXAMPLES: &[(&str, &str, &str, bool)] = &[
    (
        "dekaf-smol",
        "auto_commit",
        "Auto mode: offsets are committed in the background, close() commits the rest",
        false,
    ),
    (
        "dekaf-smol",
        "manual_commit",
        "Manual mode: process, then commit; what was not committed is read again",
        false,
    ),
    (
        "dekaf-smol",
        "commit_specific_offsets",
        "commit_offsets: the group keeps exactly the offsets given, per partition",
        false,
    ),
    (
        "dekaf-smol",
        "commit_per_record",
        "strategy 1: a commit after each record",
        false,
    ),
    (
        "dekaf-smol",
        "commit_per_batch",
        "strategy 2: recv_batch(100), then one commit per batch",
        false,
    ),
    (
        "dekaf-smol",
        "commit_periodically",
        "strategy 3: at most one commit per interval",
        false,
    ),
    (
        "dekaf-smol",
        "committed_and_position",
        "committed offset (the group's) versus position (the next record here)",
        false,
    ),
    (
        "dekaf-smol",
        "seek",
        "seek to an offset, to the beginning, to the end",
        false,
    ),
    (
        "dekaf-smol",
        "rebalance",
        "two consumers of one group: the revoked hook commits, partitions move without loss or repeats",
        false,
    ),
    (
        "dekaf-smol",
        "exactly_once_transform",
        "exactly once, Kafka to Kafka: each transaction carries the output and the consumed offsets; workers die by SIGKILL",
        false,
    ),
    (
        "dekaf-smol",
        "exactly_once_sqlite",
        "exactly once, Kafka to SQLite: rows and offsets in one database transaction; workers die by SIGKILL",
        false,
    ),
    (
        "dekaf-smol",
        "seek_by_timestamp",
        "offsets_for_times, then seek: on build C, whose SQLite engine indexes record times",
        true,
    ),
    (
        "dekaf-smol",
        "lag_table",
        "a lag table every second from Consumer::metrics, while a slow consumer of a group catches up",
        false,
    ),
    (
        "dekaf-smol",
        "tokio",
        "under tokio: #[tokio::main], each client's driver a tokio task, the consumer on a spawned task",
        false,
    ),
    (
        "dekaf-state",
        "blocking_driver",
        "a driver of its own: the state machines over blocking std::net sockets, no async runtime",
        false,
    ),
];

fn demo() -> Result<(), String> {
    // The demo is the first command of a fresh machine: it installs what it needs (what
    // `cargo xtask install` would; what is there already is kept).
    let tools = install::install(false)?;
    let w = tools
        .tansu_w
        .ok_or("tansu build W is still missing after installing")?;
    let c = tools
        .tansu_c
        .ok_or("tansu build C is still missing after installing")?;
    // Build first, so that the brokers do not idle while the demo compiles. Each package on
    // its own, as `cargo run` builds it below: built together, their features would unify
    // differently and the first `cargo run` would build everything again.
    step(
        "build the demo",
        &mut cargo(&["build", "--quiet", "-p", "dekaf-tests", "--example", "demo"]),
    )?;
    step(
        "build the examples",
        &mut cargo(&["build", "--quiet", "-p", "dekaf-smol", "--examples"]),
    )?;
    step(
        "build the example driver of dekaf-state",
        &mut cargo(&["build", "--quiet", "-p", "dekaf-state", "--examples"]),
    )?;
    step(
        "build the command line",
        &mut cargo(&["build", "--quiet", "-p", "dekaf-cli"]),
    )?;
    let memory = broker::Broker::start(&w, broker::Engine::Memory)?;
    eprintln!(
        "tansu (build W, memory engine) listening on {}",
        memory.addr()
    );
    let mut result = step(
        "demo: the protocol over a plain socket (ApiVersions, negotiated versions)",
        cargo(&[
            "run",
            "--quiet",
            "-p",
            "dekaf-tests",
            "--example",
            "demo",
            "--",
        ])
        .arg(memory.addr().to_string()),
    );
    let mut sqlite = None;
    for (package, example, story, needs_c) in DEMO_EXAMPLES {
        if result.is_err() {
            break;
        }
        let broker = if *needs_c {
            if sqlite.is_none() {
                let b = broker::Broker::start(&c, broker::Engine::Sqlite)?;
                eprintln!("tansu (build C, SQLite engine) listening on {}", b.addr());
                sqlite = Some(b);
            }
            sqlite.as_ref().unwrap_or(&memory)
        } else {
            &memory
        };
        result = step(
            &format!("{example}: {story}"),
            cargo(&["run", "--quiet", "-p", package, "--example", example])
                .env("DEKAF_BOOTSTRAP", broker.addr().to_string()),
        );
        if result.is_err() {
            eprintln!("--- broker log ---\n{}", broker.log());
        }
    }
    if result.is_ok() {
        result = demo_cli(&memory.addr().to_string());
        if result.is_err() {
            eprintln!("--- broker log ---\n{}", memory.log());
        }
    }
    drop(sqlite);
    drop(memory);
    result?;
    secure_demo(&c)
}

/// The user the secured broker of the demo knows.
const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "demo-secret";

/// The `secure` example over SASL_SSL: build C requiring SCRAM-SHA-512 (a user created as
/// tansu allows: on a plain broker first), behind stunnel terminating TLS with a certificate
/// signed by a CA made for the run (the `openssl` command, so that xtask keeps to the
/// standard library); the example trusts only that CA.
fn secure_demo(tansu_c: &Path) -> Result<(), String> {
    let stunnel =
        tls::stunnel_binary().ok_or("stunnel4 is not installed: run `cargo xtask install`")?;
    let dir = scratch_dir("demo-tls")?;
    let run = || -> Result<(), String> {
        let certs = tls::Certs::make(&dir)?;
        let accept = broker::free_port()?;
        let broker =
            broker::Broker::start_authenticating(tansu_c, &[(DEMO_USER, DEMO_PASSWORD)], accept)?;
        let tunnel = tls::Stunnel::start(&stunnel, &certs, accept, broker.addr(), &dir)?;
        eprintln!(
            "tansu (build C, SQLite engine, SASL SCRAM-SHA-512 required) on {}, behind stunnel \
             (TLS, a certificate from a CA made for this run) on {accept}",
            broker.addr()
        );
        let result = step(
            "secure: SASL_SSL with SCRAM-SHA-512, trusting the cluster's own CA; a wrong password refused at once",
            cargo(&["run", "--quiet", "-p", "dekaf-smol", "--example", "secure"])
                .env("DEKAF_BOOTSTRAP", accept.to_string())
                .env("DEKAF_CA", &certs.ca)
                .env("DEKAF_USER", DEMO_USER)
                .env("DEKAF_PASSWORD", DEMO_PASSWORD),
        );
        if result.is_err() {
            eprintln!(
                "--- stunnel log ---\n{}\n--- broker log ---\n{}",
                tunnel.log(),
                broker.log()
            );
        }
        result
    };
    let result = run();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The `dekaf` command line on a real group: records written and read by a member of the
/// group, then describe → reset (dry run, then --execute) → describe.
fn demo_cli(bootstrap: &str) -> Result<(), String> {
    let dekaf = |args: &[&str]| {
        let mut cmd = cargo(&["run", "--quiet", "-p", "dekaf-cli", "--"]);
        cmd.args(args).env("DEKAF_BOOTSTRAP", bootstrap);
        cmd
    };
    step(
        "dekaf topics create demo-orders --partitions 2",
        &mut dekaf(&["topics", "create", "demo-orders", "--partitions", "2"]),
    )?;
    // One record per batch (--sync): tansu's memory engine tells a partition's end per batch.
    let lines: String = (0..12)
        .map(|i| format!("customer-{}:order-{i}\n", i % 3))
        .collect();
    eprintln!("\n==> dekaf produce demo-orders --key-separator : --sync (12 lines)");
    let mut produce = dekaf(&["produce", "demo-orders", "--key-separator", ":", "--sync"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("dekaf produce: {e}"))?;
    if let Some(mut stdin) = produce.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(lines.as_bytes())
            .map_err(|e| format!("dekaf produce: {e}"))?;
    }
    let status = produce.wait().map_err(|e| format!("dekaf produce: {e}"))?;
    if !status.success() {
        return Err(format!("step `dekaf produce` failed ({status})"));
    }
    let steps: [(&str, &[&str]); 6] = [
        (
            "dekaf consume demo-orders --group demo-billing -e (reads everything, commits it)",
            &[
                "consume",
                "demo-orders",
                "--group",
                "demo-billing",
                "-e",
                "--format",
                "%p %o %k %v",
            ],
        ),
        (
            "dekaf groups describe demo-billing",
            &["groups", "describe", "demo-billing"],
        ),
        (
            "dekaf groups reset-offsets demo-billing --topic demo-orders --shift-by -4 (dry run)",
            &[
                "groups",
                "reset-offsets",
                "demo-billing",
                "--topic",
                "demo-orders",
                "--shift-by",
                "-4",
            ],
        ),
        (
            "dekaf groups reset-offsets demo-billing --topic demo-orders --shift-by -4 --execute",
            &[
                "groups",
                "reset-offsets",
                "demo-billing",
                "--topic",
                "demo-orders",
                "--shift-by",
                "-4",
                "--execute",
            ],
        ),
        (
            "dekaf groups describe demo-billing (4 records behind on each partition)",
            &["groups", "describe", "demo-billing"],
        ),
        (
            "dekaf groups reset-offsets demo-billing --topic demo-orders:0 --shift-by -100 (clamped)",
            &[
                "groups",
                "reset-offsets",
                "demo-billing",
                "--topic",
                "demo-orders:0",
                "--shift-by",
                "-100",
            ],
        ),
    ];
    for (name, args) in steps {
        step(name, &mut dekaf(args))?;
    }
    Ok(())
}

/// Criterion settings of a plain `cargo xtask bench records`: short enough for the whole run
/// to take about a minute and a half, long enough for stable figures.
const BENCH_DEFAULTS: [&str; 4] = ["--warm-up-time", "1", "--measurement-time", "3"];

fn bench(args: &[String]) -> Result<(), String> {
    // `cargo xtask bench consumer -- --rounds 5` as well as without the `--`.
    let rest = |args: &[String]| -> Vec<String> {
        let tail = &args[1..];
        let tail = tail.strip_prefix(&["--".to_string()]).unwrap_or(tail);
        tail.to_vec()
    };
    match args.first().map(String::as_str) {
        Some("records") => bench_records(&rest(args)),
        Some("consumer") => bench_consumer("run", &rest(args)),
        Some("commits") => bench_consumer("commits", &rest(args)),
        Some("latency") => bench_consumer("latency", &rest(args)),
        Some("commit-cost") => bench_consumer("commit-cost", &rest(args)),
        Some("produce") => bench_consumer("produce", &rest(args)),
        // Both, each with its defaults.
        None => {
            bench_records(&[])?;
            bench_consumer("run", &[])?;
            bench_consumer("commits", &[])?;
            bench_consumer("commit-cost", &[])?;
            bench_consumer("latency", &[])?;
            bench_consumer("produce", &[])
        }
        // Arguments alone went to criterion before the consumer benchmark existed.
        Some(_) => bench_records(args),
    }
}

/// The record decoding and encoding benchmarks of dekaf-proto (criterion).
fn bench_records(args: &[String]) -> Result<(), String> {
    // Only the criterion target: the library's own test harness would reject criterion's
    // options.
    let mut cmd = cargo(&["bench", "-p", "dekaf-proto", "--bench", "records", "--"]);
    if args.is_empty() {
        cmd.args(BENCH_DEFAULTS);
    } else {
        cmd.args(args);
    }
    step("bench (records)", &mut cmd)
}

/// The benchmarks against librdkafka, `command` of the `bench/` crate (`run`: consumer
/// throughput, `commits`: commit latency while fetching): its own workspace (librdkafka is
/// compiled from source, too slow for `cargo xtask test`), built in this workspace's target
/// directory.
fn bench_consumer(command: &str, args: &[String]) -> Result<(), String> {
    install::ensure_bench_packages()?;
    install::install_wheel()?;
    let tools = install::Tools::find()?;
    let manifest = root().join("bench/Cargo.toml");
    let target = root().join("target");
    let manifest = manifest.to_string_lossy();
    let target = target.to_string_lossy();
    let common = [
        "--release",
        "--manifest-path",
        &manifest,
        "--target-dir",
        &target,
    ];
    step(
        "build the consumer benchmark (librdkafka from source the first time: minutes)",
        cargo(&["build"]).args(common),
    )?;
    step(
        &format!("bench ({command}: dekaf-smol vs rdkafka)"),
        tools
            .apply(
                cargo(&["run", "--quiet"])
                    .args(common)
                    .arg("--")
                    .arg(command),
            )
            .args(args),
    )
}

/// `cargo package` for every published crate, each built from its packaged sources (the
/// test and task packages, `publish = false`, are left out: their tests include the examples
/// of dekaf-smol by path, outside their own package).
///
/// The packaged crates are verified as registry crates of an unchanged version, which cargo
/// would otherwise take from an earlier run as they were then: it builds in a target
/// directory of its own, emptied first, and the sources an earlier run unpacked into
/// `$CARGO_HOME/registry/src` are removed.
fn package() -> Result<(), String> {
    let target = root().join("target/package-check");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut stale = vec![target.clone()];
    if let Some(src) = cargo_home.map(|h| h.join("registry/src")) {
        for registry in std::fs::read_dir(&src).into_iter().flatten().flatten() {
            for unpacked in std::fs::read_dir(registry.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = unpacked.file_name().to_string_lossy().into_owned();
                let ours = [
                    "dekaf-proto-",
                    "dekaf-state-",
                    "dekaf-smol-",
                    "dekaf-sim-",
                    "dekaf-cli-",
                ]
                .iter()
                .any(|p| name.starts_with(p));
                if ours {
                    stale.push(unpacked.path());
                }
            }
        }
    }
    for dir in stale.iter().filter(|d| d.exists()) {
        std::fs::remove_dir_all(dir)
            .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
    }
    step(
        "package the published crates",
        cargo(&[
            "package",
            "--workspace",
            "--exclude",
            "dekaf-tests",
            "--exclude",
            "xtask",
        ])
        .arg("--target-dir")
        .arg(&target),
    )
}

fn fuzz(args: &[String]) -> Result<(), String> {
    let (target, secs) = match args {
        [] => (None, 60),
        [t] => (Some(t.clone()), 60),
        [t, s] => (
            Some(t.clone()),
            s.parse()
                .map_err(|_| format!("fuzz: not a number of seconds: {s}"))?,
        ),
        _ => return Err("usage: cargo xtask fuzz [TARGET] [SECONDS]".into()),
    };
    install::ensure_cargo_fuzz()?;
    let targets = match target {
        Some(t) => vec![t],
        None => fuzz_targets()?,
    };
    for target in targets {
        // New inputs go to fuzz/corpus/<target>; minimise before committing any.
        step(
            &format!("fuzz {target} for {secs} s"),
            cargo(&["fuzz", "run", &target, "--"])
                .arg(format!("-max_total_time={secs}"))
                .env("RUSTC_BOOTSTRAP", "1"),
        )?;
    }
    Ok(())
}

/// The fault workloads under random faults, with new seeds until the time is up: the
/// `faults_soak` program of dekaf-tests, given the brokers and `CI` (a missing broker fails
/// rather than skips).
fn soak(args: &[String]) -> Result<(), String> {
    let args = args.strip_prefix(&["--".to_string()]).unwrap_or(args);
    if !args.iter().any(|a| a == "--minutes" || a == "--seed") {
        return Err("usage: cargo xtask soak --minutes N [--workload NAME]... [--build W|C] [--seed S] [--short]".into());
    }
    let tools = install::Tools::find()?;
    if tools.tansu_w.is_none() {
        return Err("tansu build W is not installed: run `cargo xtask install`".into());
    }
    let mut args = args.to_vec();
    if tools.tansu_c.is_none() && !args.iter().any(|a| a == "--build") {
        eprintln!("tansu build C is not installed: soaking on build W only");
        args.extend(["--build".to_string(), "W".to_string()]);
    }
    step(
        "build the soak",
        &mut cargo(&[
            "build",
            "--quiet",
            "-p",
            "dekaf-tests",
            "--bin",
            "faults_soak",
        ]),
    )?;
    step(
        "soak: fault workloads with new seeds until the time is up",
        tools
            .apply(&mut cargo(&[
                "run",
                "--quiet",
                "-p",
                "dekaf-tests",
                "--bin",
                "faults_soak",
                "--",
            ]))
            .args(&args)
            .env("CI", "true"),
    )
}

/// `cargo xtask sim`: the seeded runs of dekaf-sim's world, in release mode.
fn sim(args: &[String]) -> Result<(), String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = sim_command(&args);
    if let Some(i) = args.iter().position(|a| *a == "--mutant") {
        let name = args
            .get(i + 1)
            .filter(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .ok_or("--mutant takes a name: lower-case letters and underscores")?;
        // The mutant's own build flags and target directory: the ordinary build stays as is.
        cmd.env("RUSTFLAGS", format!("--cfg dekaf_mutant=\"{name}\""))
            .env("CARGO_TARGET_DIR", root().join("target").join("mutant"));
    }
    step("simulated cluster", &mut cmd)
}

fn sim_command(args: &[&str]) -> Command {
    let mut cmd = cargo(&[
        "run",
        "--release",
        "--quiet",
        "-p",
        "dekaf-sim",
        "--example",
        "seeds",
        "--",
    ]);
    cmd.args(args);
    cmd
}

/// The fuzz targets, as `cargo fuzz list` reports them.
fn fuzz_targets() -> Result<Vec<String>, String> {
    let out = cargo(&["fuzz", "list"])
        .output()
        .map_err(|e| format!("cargo fuzz list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let targets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if targets.is_empty() {
        return Err("cargo fuzz list found no targets".into());
    }
    Ok(targets)
}

/// A fresh directory under the system's temporary directory.
fn scratch_dir(name: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("dekaf-xtask-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}

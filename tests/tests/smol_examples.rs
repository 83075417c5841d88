//! dekaf-smol's examples as tests: each example's own checks, run against a broker started
//! for the test — both tansu builds where the broker does what the example shows.
//!
//! Seek by timestamp needs per-record time lookups, which only build C's SQLite engine has;
//! on build W (memory engine) the lookup compares the broker's write time per batch, and the
//! test pins that deviation.
//!
//! `secure` runs over SASL_SSL against build C requiring SCRAM-SHA-512 behind stunnel, with
//! a certificate authority made for the test.
//!
//! The exactly-once recipes run whole, as the programs they are (`src/bin/` of this package
//! includes them): each starts itself again as workers, kills them with SIGKILL and checks
//! the result itself.
//!
//! The `tokio` example runs in `smol_tokio.rs`, on tokio's multi-thread and current-thread
//! runtimes; dekaf-state's `blocking_driver` example in `state_blocking_driver.rs`.

// Each example brings its own copy of the shared helpers, as it does as a program.
#![allow(clippy::duplicate_mod)]

use dekaf_tests::broker::temp_dir;
use dekaf_tests::{Broker, Build, Engine};

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/auto_commit.rs"]
mod auto_commit;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/commit_per_batch.rs"]
mod commit_per_batch;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/commit_per_record.rs"]
mod commit_per_record;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/commit_periodically.rs"]
mod commit_periodically;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/commit_specific_offsets.rs"]
mod commit_specific_offsets;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/committed_and_position.rs"]
mod committed_and_position;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/lag_table.rs"]
mod lag_table;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/manual_commit.rs"]
mod manual_commit;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/rebalance.rs"]
mod rebalance;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/secure.rs"]
mod secure;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/seek.rs"]
mod seek;
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../dekaf-smol/examples/seek_by_timestamp.rs"]
mod seek_by_timestamp;

fn engine(build: Build) -> Engine {
    match build {
        Build::W => Engine::Memory,
        Build::C => Engine::Sqlite(temp_dir("examples")),
    }
}

/// Runs an example's `run` against a fresh broker of `build`; `None` if it is not installed.
fn run_on<F, Fut>(build: Build, run: F) -> Option<Result<(), String>>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>>,
{
    let broker = Broker::start(build, engine(build))?;
    let result = smol::block_on(run(broker.addr().to_string())).map_err(|e| e.to_string());
    if result.is_err() {
        eprintln!("--- {build} log ---\n{}", broker.log());
    }
    Some(result)
}

macro_rules! on_both_builds {
    ($($test:ident => $example:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                for build in Build::ALL {
                    if let Some(Err(e)) = run_on(build, $example::run) {
                        panic!("{} on {build}: {e}", stringify!($example));
                    }
                }
            }
        )*
    };
}

on_both_builds!(
    auto_commit_commits_in_the_background_and_on_close => auto_commit,
    manual_commit_resumes_after_the_last_commit => manual_commit,
    specific_offsets_are_what_the_group_keeps => commit_specific_offsets,
    a_commit_per_record => commit_per_record,
    a_commit_per_batch_of_100 => commit_per_batch,
    a_commit_per_interval => commit_periodically,
    committed_offset_and_position_differ_until_commit => committed_and_position,
    seek_to_offset_beginning_and_end => seek,
    two_consumers_hand_partitions_over_without_loss_or_duplicates => rebalance,
    a_lag_table_from_the_metrics_adds_up => lag_table,
);

#[test]
fn seek_by_timestamp_on_build_c() {
    if let Some(result) = run_on(Build::C, seek_by_timestamp::run) {
        result.unwrap_or_else(|e| panic!("seek_by_timestamp on build C: {e}"));
    }
}

/// Build W looks times up by the broker's write time of each batch, not by the records'
/// timestamps: records written an hour "ago" are all found as the first one. Kafka answers
/// as build C does; the example checks that.
#[test]
fn seek_by_timestamp_on_build_w_pins_its_lookup_by_write_time() {
    if let Some(result) = run_on(Build::W, seek_by_timestamp::run) {
        let e = result.expect_err("build W now looks timestamps up per record: drop this pin");
        assert!(e.contains("found offset 0"), "{e}");
    }
}

#[test]
fn secure_over_sasl_ssl_with_the_clusters_own_ca() {
    let certs = dekaf_tests::tls::Certs::make();
    let port = dekaf_tests::tls::tunnel_port();
    let (user, password) = ("erin", "erin-secret-5d1");
    let Some(broker) =
        Broker::start_authenticating(temp_dir("secure"), &[(user, password)], Some(port))
    else {
        return;
    };
    let Some(tunnel) = dekaf_tests::tls::Stunnel::start(
        &certs,
        &certs.server,
        port,
        broker.addr(),
        dekaf_tests::tls::ClientAuth::None,
    ) else {
        return;
    };
    let cluster = secure::Cluster {
        bootstrap: tunnel.addr().to_string(),
        ca: certs.ca.clone(),
        user: user.into(),
        password: password.into(),
        mechanism: "SCRAM-SHA-512".into(),
    };
    if let Err(e) = smol::block_on(secure::run(cluster)) {
        panic!(
            "secure: {e}\n--- stunnel ---\n{}\n--- broker ---\n{}",
            tunnel.log(),
            broker.log()
        );
    }
}

/// Runs an exactly-once example as the program it is (supervisor and killed workers) against
/// a fresh broker of `build`, with `kills` kills; its own checks decide.
fn run_program(build: Build, program: &str, kills: usize) {
    let Some(broker) = Broker::start(build, engine(build)) else {
        return;
    };
    let out = std::process::Command::new(program)
        .env("DEKAF_BOOTSTRAP", broker.addr().to_string())
        .env("DEKAF_KILLS", kills.to_string())
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "{program} on {build}: {}\n{stdout}\n{}\n--- broker log ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        broker.log()
    );
    // Kills landed while workers were at work. The last ones may come after a worker got
    // through what was left (on a loaded machine, quickly): at least one must be mid-way.
    let mid_way = stdout
        .lines()
        .find_map(|l| l.trim().strip_suffix(" finished before their kill"))
        .and_then(|l| l.split_once(" workers killed mid-way"))
        .and_then(|(n, _)| n.parse::<usize>().ok());
    assert!(
        matches!(mid_way, Some(n) if n >= 1),
        "no worker was killed mid-way ({mid_way:?} of {kills}):\n{stdout}"
    );
}

/// Transactions need build W (build C does not advertise EndTxn).
#[test]
fn exactly_once_transform_survives_workers_killed_mid_transaction() {
    run_program(Build::W, env!("CARGO_BIN_EXE_exactly_once_transform"), 4);
}

#[test]
fn exactly_once_sqlite_survives_workers_killed_mid_batch() {
    for build in Build::ALL {
        run_program(build, env!("CARGO_BIN_EXE_exactly_once_sqlite"), 4);
    }
}
